/* test_split.c — stratified train/val/test split: parts, largest-remainder counts (recomputed
 * here from the definition), Philox order within a class, determinism, predefined splits,
 * error messages; class counts. Grouped split: groups never divided, class shares within a
 * stated tolerance, the same split as a slow reimplementation of the documented rule,
 * determinism and row-order independence, predefined splits, errors and warnings. */
#include "testutil.h"

#include <math.h>
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


/* ---- Grouped split ---- */

typedef struct {
    int64_t N;
    int32_t *y;  /* [N] */
    int64_t *g;  /* [N] group ids */
    int64_t n_groups;
} grouped_t;

static uint32_t test_u32(uint64_t seed, uint32_t stream, uint64_t i) {
    uint32_t w[4];
    st_rand_u32x4(seed, ST_RNG_TEST, stream, 0, i, w);
    return w[0];
}

/* Groups of 1..max_size rows (uniform) until N rows. Group j has the id j · 0x9E3779B97F4A7C15
 * (a bijection of the 64-bit integers: distinct ids spread over negative and positive values), a
 * home class drawn with weight c + 1, and each of its rows keeps the home class with
 * probability 0.8 (else a uniform class). The rows are then shuffled (Fisher-Yates), so a
 * group's rows lie anywhere. */
static grouped_t make_grouped(int64_t N, int K, int max_size, uint64_t seed) {
    grouped_t d = {.N = N, .y = malloc(sizeof(int32_t) * (size_t)N), .g = malloc(sizeof(int64_t) * (size_t)N)};
    int total = K * (K + 1) / 2;
    for (int64_t i = 0, j = 0; i < N; j++) {
        int64_t size = 1 + test_u32(seed, 1, (uint64_t)j) % (uint32_t)max_size;
        int r = (int)(test_u32(seed, 2, (uint64_t)j) % (uint32_t)total), home = 0;
        while (r >= home + 1) r -= home + 1, home++;
        for (int64_t k = 0; k < size && i < N; k++, i++) {
            uint32_t u = test_u32(seed, 3, (uint64_t)i);
            d.y[i] = u % 10 < 8 ? home : (int32_t)((u >> 8) % (uint32_t)K);
            d.g[i] = (int64_t)((uint64_t)j * 0x9E3779B97F4A7C15ull);
        }
        d.n_groups = j + 1;
    }
    for (int64_t i = N - 1; i > 0; i--) {
        int64_t k = (int64_t)(test_u32(seed, 4, (uint64_t)i) % (uint64_t)(i + 1));
        int32_t ty = d.y[i];
        int64_t tg = d.g[i];
        d.y[i] = d.y[k], d.g[i] = d.g[k], d.y[k] = ty, d.g[k] = tg;
    }
    return d;
}

static void grouped_free(grouped_t *d) { free(d->y), free(d->g); }

typedef struct {
    int64_t g, row;
} id_row_t;

static int cmp_id_row(const void *pa, const void *pb) {
    const id_row_t *a = pa, *b = pb;
    if (a->g != b->g) return a->g < b->g ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* Asserts that every row has a part and no group has rows in two parts; returns the number of
 * groups. */
static int64_t assert_groups_whole(const uint8_t *split, const int64_t *g, int64_t N) {
    id_row_t *r = malloc(sizeof *r * (size_t)N);
    for (int64_t i = 0; i < N; i++) r[i] = (id_row_t){g[i], i}, assert_true(split[i] <= ST_SPLIT_TEST);
    qsort(r, (size_t)N, sizeof *r, cmp_id_row);
    int64_t n_groups = N > 0;
    for (int64_t i = 1; i < N; i++) {
        if (r[i].g != r[i - 1].g) n_groups++;
        else if (split[r[i].row] != split[r[i - 1].row])
            fail_msg("group %lld: row %lld in part %d, row %lld in part %d", (long long)r[i].g,
                     (long long)r[i - 1].row, split[r[i - 1].row], (long long)r[i].row, split[r[i].row]);
    }
    free(r);
    return n_groups;
}

/* The largest |rows of class c in part p − f_p · n_c| over classes and parts, in rows. */
static double max_deviation(const int32_t *y, const uint8_t *split, const double f[3], int64_t N, int K) {
    st_error_t err = {0};
    st_split_counts_t sc;
    int64_t *n = calloc((size_t)K, sizeof *n);
    assert_int_equal(st_split_counts(&sc, y, split, N, K, &err), ST_OK);
    st_class_counts(n, y, NULL, 0, N, K, &err);
    double worst = 0;
    for (int c = 0; c < K; c++)
        for (int p = 0; p < 3; p++) {
            double dev = fabs((double)sc.count[p * K + c] - f[p] * (double)n[c]);
            if (dev > worst) worst = dev;
        }
    st_split_counts_free(&sc);
    free(n);
    return worst;
}

static void test_grouped_groups_stay_together(void **s) {
    (void)s;
    const int K = 5;
    grouped_t d = make_grouped(5000, K, 12, 21);
    uint8_t *split = malloc((size_t)d.N);
    memset(split, 0xff, (size_t)d.N);
    st_split_report_t rep;
    st_error_t err = {0};
    assert_int_equal(st_split_make_grouped(split, d.y, d.g, NULL, NULL, NULL, 42, d.N, K, &rep, &err), ST_OK);
    assert_int_equal(assert_groups_whole(split, d.g, d.N), d.n_groups);
    assert_int_equal(rep.n_groups, d.n_groups);
    assert_int_equal(rep.n_groups_assigned, d.n_groups);
    assert_int_equal(rep.n_warnings, 0);
    const double f[3] = {0.81, 0.09, 0.10};
    double dev = max_deviation(d.y, split, f, d.N, K);
    printf("# %lld rows, %lld groups: largest |rows(c, p) - f_p n_c| = %.2f rows\n", (long long)d.N,
           (long long)d.n_groups, dev);
    /* Tolerance: 12 rows (the largest group) per (class, part), i.e. |share − f_p| ≤ 12 / n_c
     * (2.6 points for the smallest class, ~470 rows). Each group goes where its majority class is
     * furthest below quota, so a pure group overshoots by at most its size − 1; minority rows
     * are counted too and corrected by later groups. Over 200 generated datasets the largest
     * deviation was 8.0 rows; placing groups at random by the same fractions gave 19–109 rows
     * (mean 54), so a grouped split that ignores the classes fails here. */
    assert_true(dev <= 12.0);
    grouped_free(&d);
    free(split);
}

static void test_grouped_deterministic_and_row_order_free(void **s) {
    (void)s;
    const int K = 5;
    grouped_t d = make_grouped(5000, K, 12, 23);
    const int64_t N = d.N;
    uint8_t *a = malloc(N), *b = malloc(N), *c = malloc(N);
    st_error_t err = {0};
    assert_int_equal(st_split_make_grouped(a, d.y, d.g, NULL, NULL, NULL, 7, N, K, NULL, &err), ST_OK);
    assert_int_equal(st_split_make_grouped(b, d.y, d.g, NULL, NULL, NULL, 7, N, K, NULL, &err), ST_OK);
    assert_int_equal(st_split_make_grouped(c, d.y, d.g, NULL, NULL, NULL, 8, N, K, NULL, &err), ST_OK);
    assert_memory_equal(a, b, N);
    assert_memory_not_equal(a, c, N);
    /* The rows reversed: every row keeps its part (the rule sees groups, not row positions). */
    int32_t *ry = malloc(sizeof(int32_t) * N);
    int64_t *rg = malloc(sizeof(int64_t) * N);
    for (int64_t i = 0; i < N; i++) ry[i] = d.y[N - 1 - i], rg[i] = d.g[N - 1 - i];
    assert_int_equal(st_split_make_grouped(b, ry, rg, NULL, NULL, NULL, 7, N, K, NULL, &err), ST_OK);
    for (int64_t i = 0; i < N; i++) assert_int_equal(b[N - 1 - i], a[i]);
    free(ry), free(rg), free(a), free(b), free(c);
    grouped_free(&d);
}

/* Groups of one row: the split is as stratified as the ungrouped one. Each row goes to the part
 * where its class is furthest below quota; that gap is ≥ 1 while rows of the class remain (the
 * gaps are ≥ 0 and sum to the rows left), so the counts end exactly at the quotas (the brief
 * asks within ±1; this checks equality). */
static void test_grouped_singletons_meet_the_quotas(void **s) {
    (void)s;
    const int64_t N = 20000;
    int32_t *y = make_labels(N, K_BIG, 4);
    int64_t *g = malloc(sizeof(int64_t) * N);
    for (int64_t i = 0; i < N; i++) g[i] = -7 * i + 3;
    uint8_t *split = malloc(N);
    st_error_t err = {0};
    st_split_report_t rep;
    st_split_options_t opts[2] = {st_split_options_default(), {.train = 0.7, .val = 0.0, .test = 0.3}};
    const int pct[2][3] = {{81, 9, 10}, {70, 0, 30}};
    int64_t n_class[K_BIG];
    st_class_counts(n_class, y, NULL, 0, N, K_BIG, &err);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(st_split_make_grouped(split, y, g, NULL, &opts[k], NULL, 5, N, K_BIG, &rep, &err), ST_OK);
        assert_int_equal(rep.n_groups, N);
        assert_int_equal(rep.n_warnings, 0);
        st_split_counts_t sc;
        st_split_counts(&sc, y, split, N, K_BIG, &err);
        for (int c = 0; c < K_BIG; c++) {
            int64_t want[3];
            reference_counts(want, n_class[c], pct[k]); /* class 9 (5 rows): (3, 1, 1) with the defaults */
            for (int p = 0; p < 3; p++) assert_int_equal(sc.count[p * K_BIG + c], want[p]);
        }
        st_split_counts_free(&sc);
    }
    free(g), free(split), free(y);
}

static void test_grouped_predefined(void **s) {
    (void)s;
    const int K = 5;
    grouped_t d = make_grouped(5000, K, 12, 24);
    const int64_t N = d.N;
    uint8_t *pre = calloc((size_t)N, 1), *split = malloc(N), *inplace = malloc(N);
    int64_t n_test = 0;
    for (int64_t i = 0; i < N; i++) { /* whole groups to test, about 1 in 5 */
        pre[i] = (uint64_t)d.g[i] % 5 == 0 ? ST_SPLIT_TEST : ST_SPLIT_TRAIN;
        n_test += pre[i] == ST_SPLIT_TEST;
    }
    st_error_t err = {0};
    st_split_report_t rep;
    assert_int_equal(st_split_make_grouped(split, d.y, d.g, pre, NULL, NULL, 9, N, K, &rep, &err), ST_OK);
    assert_int_equal(assert_groups_whole(split, d.g, N), d.n_groups);
    int64_t pool[5], n_val[5] = {0}, pool_groups = 0;
    st_class_counts(pool, d.y, pre, ST_SPLIT_TRAIN, N, K, &err);
    for (int64_t i = 0; i < N; i++) {
        assert_true((pre[i] == ST_SPLIT_TEST) == (split[i] == ST_SPLIT_TEST));
        n_val[d.y[i]] += split[i] == ST_SPLIT_VAL;
    }
    /* val is carved from the predefined train groups: 10 % per class within 12 rows (as above) */
    for (int c = 0; c < K; c++) assert_true(fabs((double)n_val[c] - 0.1 * (double)pool[c]) <= 12.0);
    int64_t *ids = malloc(sizeof(int64_t) * N), m = 0; /* the groups of the predefined train rows */
    for (int64_t i = 0; i < N; i++)
        if (pre[i] == ST_SPLIT_TRAIN) ids[m++] = d.g[i];
    memset(inplace, 0, N);
    pool_groups = assert_groups_whole(inplace, ids, m);
    free(ids);
    assert_int_equal(rep.n_groups, d.n_groups);
    assert_int_equal(rep.n_groups_assigned, pool_groups);
    printf("# predefined: %lld test rows, %lld train groups carved into train and val\n", (long long)n_test,
           (long long)pool_groups);
    /* In place gives the same. */
    memcpy(inplace, pre, N);
    assert_int_equal(st_split_make_grouped(inplace, d.y, d.g, inplace, NULL, NULL, 9, N, K, NULL, &err), ST_OK);
    assert_memory_equal(inplace, split, N);
    /* Given val rows (whole groups): taken as is. */
    for (int64_t i = 0; i < N; i++)
        if ((uint64_t)d.g[i] % 5 == 1) pre[i] = ST_SPLIT_VAL;
    assert_int_equal(st_split_make_grouped(split, d.y, d.g, pre, NULL, NULL, 9, N, K, &rep, &err), ST_OK);
    assert_memory_equal(split, pre, N);
    assert_int_equal(rep.n_groups_assigned, 0);
    /* val_fraction 0: no val part. */
    for (int64_t i = 0; i < N; i++)
        if (pre[i] == ST_SPLIT_VAL) pre[i] = ST_SPLIT_TRAIN;
    st_split_options_t o = st_split_options_default();
    o.val_fraction = 0;
    assert_int_equal(st_split_make_grouped(split, d.y, d.g, pre, &o, NULL, 9, N, K, NULL, &err), ST_OK);
    assert_memory_equal(split, pre, N);
    free(pre), free(split), free(inplace);
    grouped_free(&d);
}

static void test_grouped_errors(void **s) {
    (void)s;
    /* Any int64 ids; group 7 spans predefined train and test. */
    const int32_t y[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    const int64_t g[8] = {INT64_MIN, INT64_MIN, 7, INT64_MAX, -1, 7, 0, INT64_MAX};
    uint8_t pre[8] = {0, 0, 0, 2, 0, 2, 0, 2}, split[8];
    st_error_t err = {0};
    assert_int_equal(st_split_make_grouped(split, y, g, pre, NULL, NULL, 1, 8, 2, NULL, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: group 7 has rows in two parts of the file's /split: row 2 is train and row 5 "
                                 "is test; the rows of a group must share one part");
    /* Too few groups: 2 groups cannot fill train, val and test. */
    const int64_t g2[8] = {-5, -5, 6, 6, -5, 6, 6, -5};
    assert_int_equal(st_split_make_grouped(split, y, g2, NULL, NULL, NULL, 1, 8, 2, NULL, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: too few groups: 2 groups (8 rows), and none went to test in a grouped split "
                                 "into train, val, test (fractions 0.81/0.09/0.1); every part needs at least one group");
    /* Carving val from a single predefined train group. */
    pre[5] = 0, pre[3] = pre[7] = 2, pre[4] = pre[6] = 2;
    const int64_t g1[8] = {4, 4, 4, 9, 8, 4, 8, 9};
    assert_int_equal(st_split_make_grouped(split, y, g1, pre, NULL, NULL, 1, 8, 2, NULL, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: too few groups: 1 group (4 rows) in the file's predefined training part (val "
                                 "is carved from it), and none went to val in a grouped split into train, val "
                                 "(fractions 0.9/0.1); every part needs at least one group");
    /* The checks of st_split_make. */
    const int32_t bad_y[3] = {0, 2, 1};
    assert_int_equal(st_split_make_grouped(split, bad_y, g, NULL, NULL, NULL, 1, 3, 2, NULL, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "split: row 1 has label 2, outside 0..1");
    st_split_options_t o = {.train = 0.8, .val = 0.1, .test = 0.2};
    assert_int_equal(st_split_make_grouped(split, y, g, NULL, &o, NULL, 1, 8, 2, NULL, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "split: fractions train 0.8 + val 0.1 + test 0.2 = 1.1, expected 1");
}

/* A class whose rows all lie in one group reaches one part only: warnings, not an error. */
static void test_grouped_warnings(void **s) {
    (void)s;
    enum { N = 316 };
    int32_t y[N];
    int64_t g[N];
    for (int i = 0; i < 300; i++) y[i] = (i / 5) % 2, g[i] = 1000 + i / 5; /* 60 groups of 5, classes 0, 1 */
    for (int i = 300; i < N; i++) y[i] = 2 + (i - 300) / 4, g[i] = 50 + (i - 300) / 4; /* classes 2..5: one group each */
    uint8_t split[N];
    const char *names[] = {"walk", "run", "sit", "jump", "swim", "fly"};
    st_split_report_t rep;
    st_error_t err = {0};
    assert_int_equal(st_split_make_grouped(split, y, g, NULL, NULL, names, 3, N, 6, &rep, &err), ST_OK);
    assert_int_equal(rep.n_groups, 64);
    assert_int_equal(rep.n_warnings, 8); /* classes 2..5 each miss two parts; the first 4 are kept */
    assert_string_equal(rep.warning[0], "split: class 2 (\"sit\") has 4 rows in 1 group but none in val (a group is "
                                        "never divided)");
    assert_string_equal(rep.warning[1], "split: class 2 (\"sit\") has 4 rows in 1 group but none in test (a group is "
                                        "never divided)");
    tu_assert_contains(rep.warning[3], "class 3 (\"jump\")");
    for (int i = 300; i < N; i++) assert_int_equal(split[i], ST_SPLIT_TRAIN); /* quota (2, 1, 1): train is furthest below */
}

/* ---- The grouped rule recomputed from its definition (docs/sharding.md), slowly ---- */

typedef struct {
    uint64_t key;
    int64_t id;
    int majority;
} ref_group_t;

static int cmp_ref_group(const void *pa, const void *pb) {
    const ref_group_t *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Returns the number of groups whose majority was a tie. Classes need ≥ 3 rows (quotas from
 * reference_counts, which applies the move-one fix). */
static int reference_grouped(uint8_t *split, const int32_t *y, const int64_t *g, int64_t N, int K, const int pct[3],
                             uint64_t seed) {
    id_row_t *r = malloc(sizeof *r * (size_t)N);
    for (int64_t i = 0; i < N; i++) r[i] = (id_row_t){g[i], i};
    qsort(r, (size_t)N, sizeof *r, cmp_id_row);
    ref_group_t *grp = malloc(sizeof *grp * (size_t)N);
    int64_t G = 0, *tally = calloc((size_t)K, sizeof *tally), *n_class = calloc((size_t)K, sizeof *n_class);
    int ties = 0;
    for (int64_t i = 0; i < N; i++) {
        n_class[y[i]]++;
        if (i > 0 && r[i].g == r[i - 1].g) continue;
        memset(tally, 0, sizeof *tally * (size_t)K);
        for (int64_t j = i; j < N && r[j].g == r[i].g; j++) tally[y[r[j].row]]++;
        int maj = 0, n_max = 0;
        for (int c = 0; c < K; c++)
            if (tally[c] > tally[maj]) maj = c;
        for (int c = 0; c < K; c++) n_max += tally[c] == tally[maj];
        ties += n_max > 1;
        uint32_t w[4];
        st_rand_u32x4(seed, ST_RNG_GROUP_SPLIT, 0, 0, (uint64_t)r[i].g, w);
        grp[G++] = (ref_group_t){(uint64_t)w[0] << 32 | w[1], r[i].g, maj};
    }
    qsort(grp, (size_t)G, sizeof *grp, cmp_ref_group);
    int64_t *quota = calloc(3 * (size_t)K, sizeof *quota), *given = calloc(3 * (size_t)K, sizeof *given);
    for (int c = 0; c < K; c++) reference_counts(quota + 3 * c, n_class[c], pct);
    for (int64_t k = 0; k < G; k++) {
        int c = grp[k].majority, best = -1;
        for (int p = 0; p < 3; p++)
            if (pct[p] && (best < 0 || quota[3 * c + p] - given[3 * c + p] > quota[3 * c + best] - given[3 * c + best]))
                best = p;
        for (int64_t i = 0; i < N; i++) /* O(N G): fine for a test */
            if (g[i] == grp[k].id) split[i] = (uint8_t)best, given[3 * y[i] + best]++;
    }
    free(r), free(grp), free(tally), free(n_class), free(quota), free(given);
    return ties;
}

static void test_grouped_matches_the_definition(void **s) {
    (void)s;
    const int K = 4;
    const int pct[2][3] = {{81, 9, 10}, {60, 25, 15}};
    for (int k = 0; k < 2; k++) {
        grouped_t d = make_grouped(3000, K, 4, 26 + k); /* small groups: many majority ties */
        uint8_t *got = malloc(d.N), *want = malloc(d.N);
        st_split_options_t o = {.train = pct[k][0] / 100.0, .val = pct[k][1] / 100.0, .test = pct[k][2] / 100.0};
        st_error_t err = {0};
        assert_int_equal(st_split_make_grouped(got, d.y, d.g, NULL, &o, NULL, 99, d.N, K, NULL, &err), ST_OK);
        int ties = reference_grouped(want, d.y, d.g, d.N, K, pct[k], 99);
        printf("# %lld groups, %d with a tied majority: same split as the reference\n", (long long)d.n_groups, ties);
        assert_true(ties > 50);
        assert_memory_equal(got, want, d.N);
        free(got), free(want);
        grouped_free(&d);
    }
}

/* Scale: 10^6 rows in groups of 1..20 with sparse ids. */
static void test_grouped_timing(void **s) {
    (void)s;
    grouped_t d = make_grouped(1000000, 10, 20, 25);
    uint8_t *split = malloc((size_t)d.N);
    st_error_t err = {0};
    double t0 = now_s();
    assert_int_equal(st_split_make_grouped(split, d.y, d.g, NULL, NULL, NULL, 1, d.N, 10, NULL, &err), ST_OK);
    double t1 = now_s();
    printf("# grouped split of %lld rows (%lld groups, 10 classes): %.1f ms\n", (long long)d.N, (long long)d.n_groups,
           1e3 * (t1 - t0));
    assert_int_equal(assert_groups_whole(split, d.g, d.N), d.n_groups);
    free(split);
    grouped_free(&d);
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
        cmocka_unit_test(test_grouped_groups_stay_together),
        cmocka_unit_test(test_grouped_deterministic_and_row_order_free),
        cmocka_unit_test(test_grouped_singletons_meet_the_quotas),
        cmocka_unit_test(test_grouped_predefined),
        cmocka_unit_test(test_grouped_errors),
        cmocka_unit_test(test_grouped_warnings),
        cmocka_unit_test(test_grouped_matches_the_definition),
        cmocka_unit_test(test_grouped_timing),
    };
    return cmocka_run_group_tests_name("split", tests, NULL, NULL);
}
