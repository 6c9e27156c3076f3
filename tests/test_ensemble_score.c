/* test_ensemble_score.c — the pieces of issue 17's ensembles and recipes that need no files:
 * st_ens_score's metrics of probability records against values worked out by hand (class:
 * confusion of the argmax and mean −log p; multi-label: TP/FP/FN at 0.5, exact match, top-k, BCE;
 * regression: MAE, RMSE, R² around the reference, MSE; a missing label or NaN target left out),
 * the "extends" merge rule (objects recursively, arrays and scalars replaced), and
 * data.split_seed (default seed; the data options carry it). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/config.h"
#include "jobs/config_extends.h"
#include "jobs/ensemble_score.h"

static void test_class(void **state) {
    (void)state;
    st_loss_heads_t L = {.n_heads = 1};
    L.heads[0] = (st_loss_config_t){.type = ST_LOSS_CROSS_ENTROPY, .n_classes = 3, .target_index = -1};
    /* rows: true 0 predicted 0 (p .7), true 1 predicted 2 (p[1] .3), true 2 predicted 2 (p .5), label −1 skipped */
    const double rec[4 * 3] = {0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.25, 0.25, 0.5, 0.9, 0.05, 0.05};
    const int32_t y[4] = {0, 1, 2, -1};
    st_ens_targets_t t = {.n = 4, .y = y};
    st_eval_t ev;
    st_error_t err = {0};
    assert_int_equal(st_ens_score(&ev, &L, rec, 3, &t, &err), ST_OK);
    const int64_t want[9] = {1, 0, 0, 0, 0, 1, 0, 0, 1};
    assert_memory_equal(ev.heads[0].confusion, want, sizeof want);
    assert_int_equal(ev.n, 3);
    st_head_metrics_t m;
    st_head_metrics(&m, &ev.heads[0]);
    assert_true(fabs(m.accuracy - 2.0 / 3) < 1e-15);
    assert_true(fabs(m.loss - (-(log(0.7) + log(0.3) + log(0.5)) / 3)) < 1e-12);
    st_eval_free(&ev);
}

static void test_multilabel_regression(void **state) {
    (void)state;
    st_loss_heads_t L = {.n_heads = 2};
    L.heads[0] = (st_loss_config_t){.type = ST_LOSS_BCE_WITH_LOGITS, .n_classes = 2, .target_index = 0, .top_k = 1};
    L.heads[1] = (st_loss_config_t){.type = ST_LOSS_MSE, .n_classes = 1, .target_index = 1};
    /* records: [p0, p1, value]; targets [t0, t1, v] */
    const double rec[2 * 3] = {0.8, 0.4, 2.0, 0.3, 0.6, 5.0};
    const float T[2 * 3] = {1, 0, 1.0f, 1, 1, NAN};
    const int off[2] = {0, 2};
    const double ref[1] = {0.5}, *refs[2] = {NULL, ref};
    st_ens_targets_t t = {.n = 2, .T = T, .tgt_floats = 3, .tgt_offset = off, .ref = refs};
    st_eval_t ev;
    st_error_t err = {0};
    assert_int_equal(st_ens_score(&ev, &L, rec, 3, &t, &err), ST_OK);
    const st_head_eval_t *ml = &ev.heads[0], *rg = &ev.heads[1];
    /* row 0: pred {1, 0} = truth: exact, top-1 label 0 is true; row 1: pred {0, 1}, truth {1, 1}: a FN */
    assert_int_equal(ml->tp[0], 1), assert_int_equal(ml->fn[0], 1), assert_int_equal(ml->fp[0], 0);
    assert_int_equal(ml->tp[1], 1), assert_int_equal(ml->fp[1], 0), assert_int_equal(ml->fn[1], 0);
    assert_int_equal(ml->exact, 1), assert_int_equal(ml->topk, 2);
    double bce = -(log(0.8) + log(0.6) + log(0.3) + log(0.6)) / 4;
    assert_true(fabs(ml->loss_sum / ml->weight - bce) < 1e-12);
    /* regression: one known value (row 1's is NaN): error 1, deviation from the reference 0.5 */
    assert_int_equal(rg->count[0], 1);
    assert_true(rg->abs_err[0] == 1.0 && rg->sq_err[0] == 1.0 && rg->dev[0] == 0.5 && rg->dev_sq[0] == 0.25);
    assert_true(rg->loss_sum == 1.0 && rg->weight == 1.0);
    st_eval_free(&ev);
}

static void test_merge(void **state) {
    (void)state;
    cJSON *base = cJSON_Parse("{\"a\": {\"x\": 1, \"y\": [1, 2], \"z\": {\"k\": 1}}, \"b\": 2, \"c\": 3}");
    cJSON *over = cJSON_Parse("{\"a\": {\"y\": [3], \"z\": {\"j\": 2}}, \"c\": null, \"d\": \"new\"}");
    st_config_merge(base, over);
    char *got = cJSON_PrintUnformatted(base);
    assert_string_equal(got, "{\"a\":{\"x\":1,\"y\":[3],\"z\":{\"k\":1,\"j\":2}},\"b\":2,\"c\":null,\"d\":\"new\"}");
    cJSON_free(got), cJSON_Delete(base), cJSON_Delete(over);
}

static const char *CFG =
    "{\"name\": \"t\", \"seed\": 7, \"data\": {\"path\": \"d.h5\"%s}, \"train\": {\"epochs\": 2, \"batch_size\": 64},"
    " \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1}, \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": \"classes\"}]}}";

static void test_split_seed(void **state) {
    (void)state;
    char json[1024];
    st_run_config_t cfg;
    st_error_t err = {0};
    st_data_config_t dc;
    snprintf(json, sizeof json, CFG, "");
    assert_int_equal(st_config_from_json(json, "t.json", NULL, 0, &cfg, &err), ST_OK);
    st_config_data_options(&cfg, &dc);
    assert_true(cfg.data.split_seed == 7 && dc.seed == 7);
    char *text = st_config_to_json(&cfg);
    assert_null(strstr(text, "split_seed")); /* the default stays out of config.json */
    free(text);
    st_config_free(&cfg);
    snprintf(json, sizeof json, CFG, ", \"split_seed\": 3");
    assert_int_equal(st_config_from_json(json, "t.json", NULL, 0, &cfg, &err), ST_OK);
    st_config_data_options(&cfg, &dc);
    assert_true(cfg.seed == 7 && cfg.data.split_seed == 3 && dc.seed == 3);
    st_config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class),
        cmocka_unit_test(test_multilabel_regression),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_split_seed),
    };
    return cmocka_run_group_tests_name("ensemble score, extends merge, split_seed", tests, NULL, NULL);
}
