/* test_metrics.c — confusion counts, accuracy and top-k, per-class scores, prediction diversity:
 * small cases worked out from the definitions, and a PyTorch cross-check (tests/fixtures/loss.h5,
 * written by gen_loss.py: scores from label/prediction masks, not from a confusion matrix). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define FIX "loss.h5"

/* Six rows over three classes, with ties and a NaN. Predictions by the documented ranking
 * (larger first, ties -> lower index, NaN last) and the rank of each label are noted per row. */
enum { HB = 6, HK = 3 };
static const float hand_logits[HB * HK] = {
    1, 3, 2,     /* label 1: pred 1; label rank 0 */
    5, 5, 0,     /* label 1: tie with class 0 -> pred 0; label rank 1 */
    0, 0, 0,     /* label 2: all tied -> pred 0; label rank 2 */
    -1, 2, 2,    /* label 2: tie 1/2 -> pred 1; label rank 1 */
    NAN, 1, 0,   /* label 0: NaN ranks last -> pred 1; label rank 2 */
    0, 1, 7,     /* label 2: pred 2; label rank 0 */
};
static const int32_t hand_labels[HB] = {1, 1, 2, 2, 0, 2};
static const int hand_pred[HB] = {1, 0, 0, 1, 1, 2};
static const int hand_rank[HB] = {0, 1, 2, 1, 2, 0};

static void test_argmax_ties_and_nan(void **s) {
    (void)s;
    for (int i = 0; i < HB; i++) assert_int_equal(st_argmax(hand_logits + i * HK, HK), hand_pred[i]);
    const float all_nan[3] = {NAN, NAN, NAN}, last_max[4] = {-INFINITY, -2, -1, 0};
    assert_int_equal(st_argmax(all_nan, 3), 0);
    assert_int_equal(st_argmax(last_max, 4), 3);
}

static void test_confusion_accumulates(void **s) {
    (void)s;
    int64_t conf[HK * HK] = {0}, expect[HK * HK] = {0};
    for (int i = 0; i < HB; i++) expect[hand_labels[i] * HK + hand_pred[i]]++;
    st_confusion_add(conf, hand_logits, hand_labels, HB, HK);
    for (int i = 0; i < HK * HK; i++) assert_int_equal(conf[i], expect[i]);
    /* a second batch adds on top (two batches, or two ranks' matrices summed) */
    st_confusion_add(conf, hand_logits, hand_labels, 3, HK);
    st_confusion_add(conf, hand_logits + 3 * HK, hand_labels + 3, HB - 3, HK);
    for (int i = 0; i < HK * HK; i++) assert_int_equal(conf[i], 2 * expect[i]);
    int correct = 0;
    for (int i = 0; i < HB; i++) correct += hand_pred[i] == hand_labels[i];
    assert_float_equal(st_confusion_accuracy(conf, HK), (double)correct / HB, 1e-15);
    /* a label outside [0, K) is not counted */
    int32_t bad[1] = {3};
    st_confusion_add(conf, hand_logits, bad, 1, HK);
    int64_t total = 0;
    for (int i = 0; i < HK * HK; i++) total += conf[i];
    assert_int_equal(total, 2 * HB);
    int64_t empty[4] = {0};
    assert_float_equal(st_confusion_accuracy(empty, 2), 0.0, 0);
}

static void test_topk_ranks(void **s) {
    (void)s;
    for (int k = 1; k <= HK + 1; k++) {
        int64_t expect = 0;
        for (int i = 0; i < HB; i++) expect += hand_rank[i] < k;
        assert_int_equal(st_topk_correct(hand_logits, hand_labels, k, HB, HK), expect);
    }
    /* top-1 agrees with argmax, ties included */
    int64_t conf[HK * HK] = {0};
    st_confusion_add(conf, hand_logits, hand_labels, HB, HK);
    assert_int_equal(st_topk_correct(hand_logits, hand_labels, 1, HB, HK), conf[0] + conf[4] + conf[8]);
}

/* From the definitions: precision = tp / column sum, recall = tp / row sum, F1 = 2PR/(P+R);
 * zero when undefined; macro F1 over classes that occur as a label or as a prediction. */
static void test_class_scores_by_hand(void **s) {
    (void)s;
    enum { K = 5 };
    const int64_t conf[K * K] = {
        3, 1, 0, 0, 0,  /* class 0 */
        2, 4, 1, 0, 0,  /* class 1 */
        0, 0, 0, 0, 0,  /* class 2: no support, predicted once */
        1, 1, 0, 0, 0,  /* class 3: support 2, never predicted */
        0, 0, 0, 0, 0,  /* class 4: neither -> left out of the macro mean */
    };
    double P[K], R[K], F[K];
    int64_t sup[K];
    double macro = st_class_scores(P, R, F, sup, conf, K);
    double p0 = 3.0 / (3 + 2 + 0 + 1), r0 = 3.0 / (3 + 1), p1 = 4.0 / (1 + 4 + 0 + 1), r1 = 4.0 / (2 + 4 + 1);
    double f0 = 2 * p0 * r0 / (p0 + r0), f1 = 2 * p1 * r1 / (p1 + r1);
    const double P_ref[K] = {p0, p1, 0, 0, 0}, R_ref[K] = {r0, r1, 0, 0, 0}, F_ref[K] = {f0, f1, 0, 0, 0};
    tu_assert_close_f64("precision", P, P_ref, K, 1e-15, 0);
    tu_assert_close_f64("recall", R, R_ref, K, 1e-15, 0);
    tu_assert_close_f64("f1", F, F_ref, K, 1e-15, 0);
    const int64_t sup_ref[K] = {4, 7, 0, 2, 0};
    for (int c = 0; c < K; c++) assert_int_equal(sup[c], sup_ref[c]);
    assert_float_equal(macro, (f0 + f1 + 0 + 0) / 4, 1e-15);
    /* outputs may be NULL */
    assert_float_equal(st_class_scores(NULL, NULL, NULL, NULL, conf, K), macro, 0);
    const int64_t none[4] = {0};
    assert_float_equal(st_class_scores(P, R, F, NULL, none, 2), 0.0, 0);
}

static void test_against_torch(void **s) {
    (void)s;
    size_t n, B, nk;
    float *z = tu_read_f32(FIX, "metrics/logits", &n);
    int32_t *y = tu_read_i32(FIX, "metrics/labels", &B);
    int K = (int)(n / B);
    int32_t *conf_ref = tu_read_i32(FIX, "metrics/confusion", NULL);
    double *P_ref = tu_read_f64(FIX, "metrics/precision", NULL), *R_ref = tu_read_f64(FIX, "metrics/recall", NULL);
    double *F_ref = tu_read_f64(FIX, "metrics/f1", NULL), *macro_ref = tu_read_f64(FIX, "metrics/macro_f1", NULL);
    int32_t *ks = tu_read_i32(FIX, "metrics/topk_k", &nk), *hits = tu_read_i32(FIX, "metrics/topk_hits", NULL);
    int64_t *conf = calloc((size_t)K * K, sizeof(int64_t));
    st_confusion_add(conf, z, y, (int)B, K);
    for (int i = 0; i < K * K; i++) assert_int_equal(conf[i], conf_ref[i]);
    double *P = malloc(K * sizeof(double)), *R = malloc(K * sizeof(double)), *F = malloc(K * sizeof(double));
    double macro = st_class_scores(P, R, F, NULL, conf, K);
    /* the fixture makes some of the zero_division cases happen */
    int n_zero_support = 0, n_never_predicted = 0;
    int64_t hist[16] = {0};
    assert_true(K <= 16);
    st_confusion_pred_hist(hist, conf, K);
    for (int c = 0; c < K; c++) {
        int64_t support = 0;
        for (int j = 0; j < K; j++) support += conf[c * K + j];
        n_zero_support += support == 0;
        n_never_predicted += hist[c] == 0 && support > 0;
    }
    assert_true(n_zero_support >= 1 && n_never_predicted >= 1);
    tu_assert_close_f64("precision", P, P_ref, K, 1e-15, 1e-14);
    tu_assert_close_f64("recall", R, R_ref, K, 1e-15, 1e-14);
    tu_assert_close_f64("f1", F, F_ref, K, 1e-15, 1e-14);
    tu_assert_close_f64("macro f1", &macro, macro_ref, 1, 1e-15, 1e-14);
    for (size_t i = 0; i < nk; i++) assert_int_equal(st_topk_correct(z, y, ks[i], (int)B, K), hits[i]);
    /* histogram from the logits = the confusion matrix's column sums */
    int64_t hist2[16] = {0};
    st_prediction_hist_add(hist2, z, (int)B, K);
    for (int c = 0; c < K; c++) assert_int_equal(hist2[c], hist[c]);
    free(z), free(y), free(conf_ref), free(P_ref), free(R_ref), free(F_ref), free(macro_ref), free(ks), free(hits);
    free(conf), free(P), free(R), free(F);
}

static void test_diversity(void **s) {
    (void)s;
    /* collapsed: every row predicted as class 1 */
    const int64_t collapsed[4] = {0, 10, 0, 0};
    st_pred_diversity_t d = st_pred_diversity(collapsed, 4);
    assert_int_equal(d.n_distinct, 1);
    assert_float_equal(d.top_share, 1.0, 0);
    assert_float_equal(d.norm_entropy, 0.0, 0);
    /* uniform over all classes */
    const int64_t uniform[4] = {5, 5, 5, 5};
    d = st_pred_diversity(uniform, 4);
    assert_int_equal(d.n_distinct, 4);
    assert_float_equal(d.top_share, 0.25, 1e-15);
    assert_float_equal(d.norm_entropy, 1.0, 1e-12);
    /* shares 1/2, 1/4, 1/4, 0: H = (1/2)ln2 + 2·(1/4)ln4 = 1.5 ln2, over ln4 = 2 ln2 -> 0.75 */
    const int64_t mixed[4] = {2, 1, 0, 1};
    d = st_pred_diversity(mixed, 4);
    assert_int_equal(d.n_distinct, 3);
    assert_float_equal(d.top_share, 0.5, 1e-15);
    assert_float_equal(d.norm_entropy, (0.5 * log(2.0) + 2 * 0.25 * log(4.0)) / log(4.0), 1e-12);
    assert_float_equal(d.norm_entropy, 0.75, 1e-12);
    /* K = 1: defined as 0 */
    const int64_t one[1] = {7};
    d = st_pred_diversity(one, 1);
    assert_int_equal(d.n_distinct, 1);
    assert_float_equal(d.top_share, 1.0, 0);
    assert_float_equal(d.norm_entropy, 0.0, 0);
    /* no rows */
    const int64_t none[3] = {0, 0, 0};
    d = st_pred_diversity(none, 3);
    assert_int_equal(d.n_distinct, 0);
    assert_float_equal(d.top_share, 0.0, 0);
    assert_float_equal(d.norm_entropy, 0.0, 0);
    /* from logits: the hand rows predict 0, 0, 1, 1, 1, 2 (sorted) */
    int64_t hist[HK] = {0};
    st_prediction_hist_add(hist, hand_logits, HB, HK);
    assert_int_equal(hist[0], 2);
    assert_int_equal(hist[1], 3);
    assert_int_equal(hist[2], 1);
    d = st_pred_diversity(hist, HK);
    assert_float_equal(d.top_share, 3.0 / 6.0, 1e-15);
    double H = -(2.0 / 6 * log(2.0 / 6) + 3.0 / 6 * log(3.0 / 6) + 1.0 / 6 * log(1.0 / 6));
    assert_float_equal(d.norm_entropy, H / log(3.0), 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax_ties_and_nan),
        cmocka_unit_test(test_confusion_accumulates),
        cmocka_unit_test(test_topk_ranks),
        cmocka_unit_test(test_class_scores_by_hand),
        cmocka_unit_test(test_against_torch),
        cmocka_unit_test(test_diversity),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
