/* test_split.c — stratified train/val/test split: parts, largest-remainder counts (recomputed
 * here from the definition), Philox order within a class, determinism, predefined splits,
 * error messages; class counts. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "philox.h"
#include "sharding/split.h"

enum { N_BIG = 60000, K_BIG = 10 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Labels with uneven classes: class c drawn with weight c + 1, except that class 9 is made
 * small (5 samples). */
static int32_t *make_labels(int64_t N, int K, uint64_t seed) {
    int32_t *y = malloc(sizeof(int32_t) * (size_t)N);
    int total = K * (K + 1) / 2;
    for (int64_t i = 0; i < N; i++) {
        uint32_t w[4];
        st_rand_u32x4(seed, ST_RNG_TEST, 0, 0, (uint64_t)i, w);
        int r = (int)(w[0] % (uint32_t)total), c = 0;
        while (r >= c + 1) r -= c + 1, c++;
        y[i] = c == K - 1 ? 0 : c;
    }
    for (int j = 0; j < 5; j++) y[N / 7 * j + 3] = K - 1;
    return y;
}

/* Largest remainder from the definition, for fractions given in percent. */
static void reference_counts(int64_t out[3], int64_t n, const int pct[3]) {
    int64_t rem[3], given = 0;
    for (int p = 0; p < 3; p++) out[p] = n * pct[p] / 100, rem[p] = n * pct[p] % 100, given += out[p];
    int taken[3] = {0, 0, 0};
    for (int64_t left = n - given; left > 0; left--) {
        int best = -1;
        for (int p = 0; p < 3; p++)
            if (!taken[p] && (best < 0 || rem[p] > rem[best])) best = p;
        out[best]++, taken[best] = 1;
    }
    for (int p = 0; p < 3; p++) {
        if (pct[p] == 0 || out[p] > 0) continue;
        int big = 0;
        for (int q = 1; q < 3; q++)
            if (out[q] > out[big]) big = q;
        out[big]--, out[p]++;
    }
}

static uint64_t split_key(uint64_t seed, int c, int64_t i) {
    uint32_t w[4];
    st_rand_u32x4(seed, ST_RNG_SPLIT, (uint32_t)c, 0, (uint64_t)i, w);
    return (uint64_t)w[0] << 32 | w[1];
}

/* Within each class, every train key < every val key < every test key (keys ordered the rows). */
static void assert_philox_order(const uint8_t *split, const int32_t *y, const uint8_t *pool, int64_t N, int K,
                                uint64_t seed) {
    for (int c = 0; c < K; c++) {
        uint64_t max_key[3] = {0, 0, 0}, min_key[3] = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
        for (int64_t i = 0; i < N; i++) {
            if (y[i] != c || (pool && !pool[i])) continue;
            uint64_t k = split_key(seed, c, i);
            if (k > max_key[split[i]]) max_key[split[i]] = k;
            if (k < min_key[split[i]]) min_key[split[i]] = k;
        }
        assert_true(max_key[0] < min_key[1] || min_key[1] == UINT64_MAX);
        assert_true(max_key[1] < min_key[2] || min_key[2] == UINT64_MAX);
        assert_true(max_key[0] < min_key[2] || min_key[2] == UINT64_MAX);
    }
}

static void test_parts_and_largest_remainder_counts(void **s) {
    (void)s;
    int32_t *y = make_labels(N_BIG, K_BIG, 1);
    uint8_t *split = malloc(N_BIG);
    memset(split, 0xff, N_BIG);
    st_error_t err = {0};
    double t0 = now_s();
    assert_int_equal(st_split_make(split, y, NULL, NULL, NULL, 42, N_BIG, K_BIG, &err), ST_OK);
    double t1 = now_s();
    printf("# split of %d samples (%d classes): %.2f ms\n", N_BIG, K_BIG, 1e3 * (t1 - t0));
    /* Every row in exactly one part (split is one value per row: parts are disjoint, and the
     * union is complete when every value is a part). */
    for (int64_t i = 0; i < N_BIG; i++) assert_true(split[i] <= ST_SPLIT_TEST);
    st_split_counts_t sc;
    assert_int_equal(st_split_counts(&sc, y, split, N_BIG, K_BIG, &err), ST_OK);
    assert_int_equal(sc.part_total[0] + sc.part_total[1] + sc.part_total[2], N_BIG);
    int64_t n_class[K_BIG];
    assert_int_equal(st_class_counts(n_class, y, NULL, 0, N_BIG, K_BIG, &err), ST_OK);
    const int pct[3] = {81, 9, 10};
    for (int c = 0; c < K_BIG; c++) {
        int64_t want[3];
        reference_counts(want, n_class[c], pct);
        for (int p = 0; p < 3; p++) assert_int_equal(sc.count[p * K_BIG + c], want[p]);
    }
    /* The small class: 5 · (0.81, 0.09, 0.10) = (4.05, 0.45, 0.5) → (4, 0, 1) by largest
     * remainder → val empty → one moves from train: (3, 1, 1). */
    assert_int_equal(n_class[9], 5);
    assert_int_equal(sc.count[0 * K_BIG + 9], 3);
    assert_int_equal(sc.count[1 * K_BIG + 9], 1);
    assert_int_equal(sc.count[2 * K_BIG + 9], 1);
    int64_t train_counts[K_BIG];
    assert_int_equal(st_class_counts(train_counts, y, split, ST_SPLIT_TRAIN, N_BIG, K_BIG, &err), ST_OK);
    assert_memory_equal(train_counts, sc.count, sizeof train_counts);
    assert_philox_order(split, y, NULL, N_BIG, K_BIG, 42);
    st_split_counts_free(&sc);
    free(split), free(y);
}

static void test_largest_remainder_rule(void **s) {
    (void)s;
    int64_t c[3], w[3] = {810000, 90000, 100000};
    assert_int_equal(st_split_largest_remainder(c, 100, w, 3), 0);
    assert_true(c[0] == 81 && c[1] == 9 && c[2] == 10);
    /* 50 · (0.81, 0.09, 0.10) = (40.5, 4.5, 5): the tie on .5 goes to train. */
    assert_int_equal(st_split_largest_remainder(c, 50, w, 3), 0);
    assert_true(c[0] == 41 && c[1] == 4 && c[2] == 5);
    /* 3 rows: (2.43, 0.27, 0.3) → (3, 0, 0) → (2, 1, 0) → (1, 1, 1). */
    assert_int_equal(st_split_largest_remainder(c, 3, w, 3), 0);
    assert_true(c[0] == 1 && c[1] == 1 && c[2] == 1);
    assert_int_equal(st_split_largest_remainder(c, 2, w, 3), 3);
    assert_int_equal(st_split_largest_remainder(c, 0, w, 3), 0);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0);
    int64_t w2[3] = {700000, 0, 300000};
    assert_int_equal(st_split_largest_remainder(c, 1, w2, 3), 2);
    assert_int_equal(st_split_largest_remainder(c, 2, w2, 3), 0);
    assert_true(c[0] == 1 && c[1] == 0 && c[2] == 1);
}

static void test_deterministic_from_the_seed(void **s) {
    (void)s;
    const int64_t N = 20000;
    int32_t *y = make_labels(N, 6, 2);
    uint8_t *a = malloc(N), *b = malloc(N), *c = malloc(N);
    st_error_t err = {0};
    st_split_options_t o = st_split_options_default();
    assert_int_equal(st_split_make(a, y, NULL, &o, NULL, 7, N, 6, &err), ST_OK);
    assert_int_equal(st_split_make(b, y, NULL, &o, NULL, 7, N, 6, &err), ST_OK);
    assert_int_equal(st_split_make(c, y, NULL, &o, NULL, 8, N, 6, &err), ST_OK);
    assert_memory_equal(a, b, N);
    assert_memory_not_equal(a, c, N);
    /* Other fractions, same rules. */
    o = (st_split_options_t){.train = 0.7, .val = 0.0, .test = 0.3};
    assert_int_equal(st_split_make(a, y, NULL, &o, NULL, 7, N, 6, &err), ST_OK);
    int64_t n_class[6], n_val = 0;
    st_class_counts(n_class, y, NULL, 0, N, 6, &err);
    st_split_counts_t sc;
    st_split_counts(&sc, y, a, N, 6, &err);
    for (int k = 0; k < 6; k++) {
        int64_t want[3];
        reference_counts(want, n_class[k], (const int[3]){70, 0, 30});
        for (int p = 0; p < 3; p++) assert_int_equal(sc.count[p * 6 + k], want[p]);
        n_val += sc.count[6 + k];
    }
    assert_int_equal(n_val, 0);
    st_split_counts_free(&sc);
    free(a), free(b), free(c), free(y);
}

static void test_predefined_split_is_respected(void **s) {
    (void)s;
    const int64_t N = 30000;
    const int K = 5;
    int32_t *y = make_labels(N, K, 3);
    uint8_t *pre = malloc(N), *split = malloc(N), *pool = malloc(N);
    for (int64_t i = 0; i < N; i++) pre[i] = i >= N - 5000 ? ST_SPLIT_TEST : ST_SPLIT_TRAIN;
    st_error_t err = {0};
    st_split_options_t o = st_split_options_default(); /* val_fraction 0.1 */
    assert_int_equal(st_split_make(split, y, pre, &o, NULL, 11, N, K, &err), ST_OK);
    for (int64_t i = 0; i < N; i++) {
        if (pre[i] == ST_SPLIT_TEST) assert_int_equal(split[i], ST_SPLIT_TEST);
        else assert_true(split[i] == ST_SPLIT_TRAIN || split[i] == ST_SPLIT_VAL);
        pool[i] = pre[i] == ST_SPLIT_TRAIN;
    }
    /* val is carved stratified from the predefined train rows: per class 90 % / 10 %. */
    int64_t pool_counts[5];
    st_class_counts(pool_counts, y, pre, ST_SPLIT_TRAIN, N, K, &err);
    st_split_counts_t sc;
    st_split_counts(&sc, y, split, N, K, &err);
    for (int c = 0; c < K; c++) {
        int64_t want[3];
        reference_counts(want, pool_counts[c], (const int[3]){90, 10, 0});
        assert_int_equal(sc.count[0 * K + c], want[0]);
        assert_int_equal(sc.count[1 * K + c], want[1]);
    }
    assert_int_equal(sc.part_total[2], 5000);
    assert_philox_order(split, y, pool, N, K, 11);
    st_split_counts_free(&sc);

    /* In place (split aliasing predefined) gives the same. */
    uint8_t *inplace = malloc(N);
    memcpy(inplace, pre, N);
    assert_int_equal(st_split_make(inplace, y, inplace, &o, NULL, 11, N, K, &err), ST_OK);
    assert_memory_equal(inplace, split, N);

    /* Given val rows stay as they are: nothing is carved. */
    for (int64_t i = 0; i < 100; i++) pre[i] = ST_SPLIT_VAL;
    assert_int_equal(st_split_make(split, y, pre, &o, NULL, 11, N, K, &err), ST_OK);
    assert_memory_equal(split, pre, N);
    /* val_fraction 0: no val part. */
    for (int64_t i = 0; i < 100; i++) pre[i] = ST_SPLIT_TRAIN;
    o.val_fraction = 0;
    assert_int_equal(st_split_make(split, y, pre, &o, NULL, 11, N, K, &err), ST_OK);
    assert_memory_equal(split, pre, N);
    free(inplace), free(pre), free(split), free(pool), free(y);
}

static void test_too_small_class_is_an_error(void **s) {
    (void)s;
    int32_t y[40];
    for (int i = 0; i < 40; i++) y[i] = i % 3 == 0 ? 0 : 1;
    y[5] = 2, y[17] = 2; /* class 2 has 2 samples */
    uint8_t split[40];
    st_error_t err = {0};
    const char *names[] = {"walk", "run", "sit"};
    assert_int_equal(st_split_make(split, y, NULL, NULL, names, 1, 40, 3, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: class 2 (\"sit\") has 2 samples, too few for a stratified split into "
                                 "train, val, test (fractions 0.81/0.09/0.1): it needs at least 3 (one in each part)");
    /* Without names; a fourth class (1 sample) is also too small. */
    int32_t y4[41];
    memcpy(y4, y, sizeof y);
    y4[40] = 3;
    uint8_t split4[41];
    assert_int_equal(st_split_make(split4, y4, NULL, NULL, NULL, 1, 41, 4, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: class 2 has 2 samples, too few for a stratified split into train, val, test "
                                 "(fractions 0.81/0.09/0.1): it needs at least 3 (one in each part); 1 more class is "
                                 "too small");
    /* Without val, 2 are enough. */
    st_split_options_t o = {.train = 0.9, .val = 0, .test = 0.1};
    assert_int_equal(st_split_make(split, y, NULL, &o, names, 1, 40, 3, &err), ST_OK);
    assert_true((split[5] == ST_SPLIT_TRAIN) != (split[17] == ST_SPLIT_TRAIN));
    /* A predefined split: carving val needs 2 predefined train rows per class. */
    uint8_t pre[40];
    for (int i = 0; i < 40; i++) pre[i] = i >= 30 ? ST_SPLIT_TEST : ST_SPLIT_TRAIN;
    y[35] = 2, y[17] = 1; /* class 2: one train row (5), one test row (35) */
    assert_int_equal(st_split_make(split, y, pre, NULL, names, 1, 40, 3, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: class 2 (\"sit\") has 1 sample in the file's predefined training part (val "
                                 "is carved from it), too few for a stratified split into train, val (fractions "
                                 "0.9/0.1): it needs at least 2 (one in each part)");
}

static void test_argument_errors(void **s) {
    (void)s;
    int32_t y[10] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    uint8_t split[10], pre[10] = {0};
    st_error_t err = {0};
    st_split_options_t o = {.train = 0.8, .val = 0.1, .test = 0.2};
    assert_int_equal(st_split_make(split, y, NULL, &o, NULL, 1, 10, 2, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "split: fractions train 0.8 + val 0.1 + test 0.2 = 1.1, expected 1");
    o = (st_split_options_t){.train = 1.2, .val = -0.1, .test = -0.1};
    assert_int_equal(st_split_make(split, y, NULL, &o, NULL, 1, 10, 2, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "split: train fraction 1.2 is not in [0, 1]");
    y[4] = 2;
    assert_int_equal(st_split_make(split, y, NULL, NULL, NULL, 1, 10, 2, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: row 4 has label 2, outside 0..1");
    y[4] = 0, pre[6] = 3;
    assert_int_equal(st_split_make(split, y, pre, NULL, NULL, 1, 10, 2, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: row 6 has predefined split value 3 (expected 0 train, 1 val, 2 test)");
    pre[6] = 0;
    o = st_split_options_default();
    o.val_fraction = 1;
    assert_int_equal(st_split_make(split, y, pre, &o, NULL, 1, 10, 2, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "split: val_fraction 1 is not in [0, 1)");
}

/* A class with no samples at all is allowed and appears nowhere. */
static void test_absent_class(void **s) {
    (void)s;
    int32_t y[30];
    for (int i = 0; i < 30; i++) y[i] = i % 2 ? 2 : 0;
    uint8_t split[30];
    st_error_t err = {0};
    assert_int_equal(st_split_make(split, y, NULL, NULL, NULL, 5, 30, 3, &err), ST_OK);
    int64_t counts[3];
    assert_int_equal(st_class_counts(counts, y, split, ST_SPLIT_TRAIN, 30, 3, &err), ST_OK);
    assert_true(counts[0] == 12 && counts[1] == 0 && counts[2] == 12); /* 15 → 12.15, 1.35, 1.5 → 12, 1, 2 */
}

/* Issue 12: a predefined /split can keep a class out of train (it then scored 0 % on it), or
 * leave fewer than 2 classes with training rows; st_split_check_train refuses both. */
static void test_check_train(void **s) {
    (void)s;
    const int32_t y[8] = {0, 0, 1, 1, 2, 2, 2, 0};
    uint8_t split[8] = {0, 0, 0, 0, 2, 1, 2, 2};
    const char *names[3] = {"walk", "run", "sit"};
    st_error_t err = {0};
    assert_int_equal(st_split_check_train(split, y, names, 8, 3, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: class 2 (\"sit\") has no training rows but 1 in val and 2 in test (the file's "
                                 "/split puts it only outside train): the model could never predict it; give it rows "
                                 "with /split = 0");
    split[4] = 0;
    assert_int_equal(st_split_check_train(split, y, names, 8, 3, &err), ST_OK);
    /* A class with no rows at all is not this check's business (inspect reports it). */
    assert_int_equal(st_split_check_train(split, y, names, 8, 4, &err), ST_OK);
    /* One class with training rows. */
    const int32_t y1[4] = {0, 0, 0, 0};
    const uint8_t s1[4] = {0, 0, 1, 2};
    assert_int_equal(st_split_check_train(s1, y1, NULL, 4, 2, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: 1 of the 2 classes has training rows; a classifier needs at least 2");
    assert_int_equal(st_split_check_train(s1, y1, NULL, 4, 1, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "1 of the 1 class has training rows");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_and_largest_remainder_counts),
        cmocka_unit_test(test_largest_remainder_rule),
        cmocka_unit_test(test_deterministic_from_the_seed),
        cmocka_unit_test(test_predefined_split_is_respected),
        cmocka_unit_test(test_too_small_class_is_an_error),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_absent_class),
        cmocka_unit_test(test_check_train),
    };
    return cmocka_run_group_tests_name("split", tests, NULL, NULL);
}
