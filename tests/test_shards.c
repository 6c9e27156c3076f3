/* test_shards.c — stratified virtual shards, rank ownership, shard-count planning, per-epoch
 * sampling and reproducible standardisation (all independent of the rank count). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "philox.h"
#include "sharding/sampler.h"
#include "sharding/shards.h"
#include "sharding/split.h"
#include "sharding/standardize.h"

enum { N_BIG = 60000, K_BIG = 10, S_BIG = 8 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* A realistic training split: 60,000 labels of 10 uneven classes (weight c + 1), split
 * 0.81/0.09/0.10; the training ids (ascending) and their labels. */
typedef struct {
    int32_t *y;        /* [N_BIG] all labels */
    int64_t n_train;
    int64_t *ids;      /* [n_train] */
    int32_t *labels;   /* [n_train] */
} train_set_t;

static train_set_t make_train_set(void) {
    train_set_t t = {0};
    t.y = malloc(sizeof(int32_t) * N_BIG);
    for (int64_t i = 0; i < N_BIG; i++) {
        uint32_t w[4];
        st_rand_u32x4(9, ST_RNG_TEST, 1, 0, (uint64_t)i, w);
        int r = (int)(w[0] % 55u), c = 0;
        while (r >= c + 1) r -= c + 1, c++;
        t.y[i] = c;
    }
    uint8_t *split = malloc(N_BIG);
    st_error_t err = {0};
    assert_int_equal(st_split_make(split, t.y, NULL, NULL, NULL, 42, N_BIG, K_BIG, &err), ST_OK);
    t.ids = malloc(sizeof(int64_t) * N_BIG);
    t.labels = malloc(sizeof(int32_t) * N_BIG);
    for (int64_t i = 0; i < N_BIG; i++)
        if (split[i] == ST_SPLIT_TRAIN) t.ids[t.n_train] = i, t.labels[t.n_train++] = t.y[i];
    free(split);
    return t;
}

static void free_train_set(train_set_t *t) { free(t->y), free(t->ids), free(t->labels); }

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_shards_are_stratified_and_balanced(void **s) {
    (void)s;
    train_set_t t = make_train_set();
    st_shards_t sh;
    st_error_t err = {0};
    double t0 = now_s();
    assert_int_equal(st_shards_build(&sh, t.ids, t.labels, 42, t.n_train, K_BIG, S_BIG, &err), ST_OK);
    double t1 = now_s();
    printf("# shards of %lld training samples (%d classes, S = %d): %.2f ms\n", (long long)t.n_train, K_BIG, S_BIG,
           1e3 * (t1 - t0));
    /* Every training id in exactly one shard: the shards' rows, together, are the ids. */
    int64_t *all = malloc(sizeof(int64_t) * (size_t)t.n_train), m = 0;
    int64_t n_class[K_BIG] = {0};
    for (int64_t i = 0; i < t.n_train; i++) n_class[t.labels[i]]++;
    int64_t min_size = INT64_MAX, max_size = 0;
    for (int sd = 0; sd < S_BIG; sd++) {
        int64_t n;
        const int64_t *rows = st_shards_rows(&sh, sd, &n);
        min_size = n < min_size ? n : min_size, max_size = n > max_size ? n : max_size;
        int64_t per_class[K_BIG] = {0};
        for (int64_t j = 0; j < n; j++) {
            if (j > 0) assert_true(rows[j] > rows[j - 1]);
            assert_int_equal(st_shards_find(&sh, rows[j]), sd);
            per_class[t.y[rows[j]]]++;
            all[m++] = rows[j];
        }
        for (int c = 0; c < K_BIG; c++) /* within ±1 of n_c / S: floor or ceil */
            assert_true(per_class[c] == n_class[c] / S_BIG || per_class[c] == (n_class[c] + S_BIG - 1) / S_BIG);
    }
    assert_true(max_size - min_size <= 1);
    assert_int_equal(m, t.n_train);
    qsort(all, (size_t)m, sizeof(int64_t), cmp_i64);
    assert_memory_equal(all, t.ids, sizeof(int64_t) * (size_t)m);
    assert_int_equal(st_shards_find(&sh, -5), -1);
    /* The map is a pure function of (seed, labels, S); another seed gives another one. */
    st_shards_t again, other;
    assert_int_equal(st_shards_build(&again, t.ids, t.labels, 42, t.n_train, K_BIG, S_BIG, &err), ST_OK);
    assert_memory_equal(again.shard_of, sh.shard_of, sizeof(int32_t) * (size_t)t.n_train);
    assert_int_equal(st_shards_build(&other, t.ids, t.labels, 43, t.n_train, K_BIG, S_BIG, &err), ST_OK);
    assert_memory_not_equal(other.shard_of, sh.shard_of, sizeof(int32_t) * (size_t)t.n_train);
    st_shards_free(&again), st_shards_free(&other), st_shards_free(&sh);
    free(all);
    free_train_set(&t);
}

/* Classes continue where the previous one stopped: with 3 shards and classes of sizes 4, 4, 4
 * every shard gets 4 rows (a restart at shard 0 per class would give 6, 3, 3). */
static void test_round_robin_continues_across_classes(void **s) {
    (void)s;
    int64_t ids[12];
    int32_t labels[12];
    for (int i = 0; i < 12; i++) ids[i] = 10 * i, labels[i] = i / 4;
    st_shards_t sh;
    st_error_t err = {0};
    assert_int_equal(st_shards_build(&sh, ids, labels, 1, 12, 3, 3, &err), ST_OK);
    for (int sd = 0; sd < 3; sd++) assert_int_equal(sh.shard_start[sd + 1] - sh.shard_start[sd], 4);
    st_shards_free(&sh);
    assert_int_equal(st_shards_build(&sh, ids, labels, 1, 12, 3, 13, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "shards: the training split has 12 samples, fewer than the 13 virtual shards (each "
                                 "shard needs at least one micro-batch)");
    ids[5] = ids[4];
    assert_int_equal(st_shards_build(&sh, ids, labels, 1, 12, 3, 3, &err), ST_ERR_INTERNAL);
}

static void test_ownership_for_any_rank_count(void **s) {
    (void)s;
    train_set_t t = make_train_set();
    st_shards_t sh;
    st_error_t err = {0};
    assert_int_equal(st_shards_build(&sh, t.ids, t.labels, 42, t.n_train, K_BIG, S_BIG, &err), ST_OK);
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)t.n_train), *all = malloc(sizeof(int64_t) * (size_t)t.n_train);
    for (int P = 1; P <= S_BIG; P++) {
        /* Each P computes the same map (it never enters it). */
        st_shards_t mine;
        assert_int_equal(st_shards_build(&mine, t.ids, t.labels, 42, t.n_train, K_BIG, S_BIG, &err), ST_OK);
        assert_memory_equal(mine.shard_of, sh.shard_of, sizeof(int32_t) * (size_t)t.n_train);
        int next = 0;
        int64_t m = 0;
        for (int r = 0; r < P; r++) {
            int first, end;
            assert_int_equal(st_shards_owned(&first, &end, r, P, S_BIG, &err), ST_OK);
            assert_int_equal(first, next); /* blocks partition 0..S-1, each non-empty */
            assert_true(end > first);
            next = end;
            int64_t n;
            assert_int_equal(st_shards_rank_rows(NULL, &n, &mine, r, P, &err), ST_OK);
            assert_int_equal(st_shards_rank_rows(rows, &n, &mine, r, P, &err), ST_OK);
            int64_t want = mine.shard_start[end] - mine.shard_start[first];
            assert_int_equal(n, want);
            for (int64_t j = 0; j < n; j++) {
                if (j > 0) assert_true(rows[j] > rows[j - 1]);
                int sd = st_shards_find(&mine, rows[j]);
                assert_true(sd >= first && sd < end);
            }
            memcpy(all + m, rows, sizeof(int64_t) * (size_t)n);
            m += n;
        }
        assert_int_equal(next, S_BIG);
        /* Union of the ranks' rows = the training set, disjoint. */
        assert_int_equal(m, t.n_train);
        qsort(all, (size_t)m, sizeof(int64_t), cmp_i64);
        assert_memory_equal(all, t.ids, sizeof(int64_t) * (size_t)m);
        st_shards_free(&mine);
    }
    /* P need not divide S: 8 shards on 3 ranks → 2, 3, 3. */
    int f, e;
    st_shards_owned(&f, &e, 0, 3, 8, &err), assert_true(f == 0 && e == 2);
    st_shards_owned(&f, &e, 1, 3, 8, &err), assert_true(f == 2 && e == 5);
    st_shards_owned(&f, &e, 2, 3, 8, &err), assert_true(f == 5 && e == 8);
    /* P > S. */
    assert_int_equal(st_shards_owned(&f, &e, 0, 4, 2, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "4 ranks but only 2 virtual shards: every rank needs at least one shard. Run on at "
                                 "most 2 ranks, or use a larger batch_size or an explicit shard count (batch_size = "
                                 "shards x micro_batch x accumulation_steps; the automatic shard count is the largest "
                                 "S <= 64 with micro-batches of at least 32 samples: e.g. batch_size 128 with "
                                 "accumulation_steps 1 gives 4 shards)");
    int64_t n;
    assert_int_equal(st_shards_rank_rows(NULL, &n, &sh, 0, 9, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "9 ranks but only 8 virtual shards"));
    free(rows), free(all);
    st_shards_free(&sh);
    free_train_set(&t);
}

static void check_plan(int64_t batch, int accum, int requested, int want_S, int want_micro) {
    int S = -1, micro = -1;
    st_error_t err = {0};
    assert_int_equal(st_shards_plan(&S, &micro, batch, accum, requested, -1, &err), ST_OK);
    assert_int_equal(S, want_S);
    assert_int_equal(micro, want_micro);
    assert_int_equal((int64_t)S * micro * accum, batch);
}

static void test_plan(void **s) {
    (void)s;
    check_plan(256, 1, 0, 8, 32);
    check_plan(1024, 1, 0, 32, 32);
    check_plan(100, 1, 0, 2, 50);  /* 100 = 2 × 50; 4 × 25 is below 32 */
    check_plan(96, 1, 0, 3, 32);
    check_plan(4096, 1, 0, 64, 64);
    check_plan(8192, 4, 0, 64, 32);
    check_plan(256, 2, 0, 4, 32);
    check_plan(97, 1, 0, 1, 97);   /* prime: one shard */
    check_plan(16, 1, 0, 1, 16);   /* below 32: one shard, one rank */
    check_plan(16, 1, 16, 16, 1);  /* explicit counts are taken as they are */
    check_plan(100, 1, 5, 5, 20);
    int S, micro;
    st_error_t err = {0};
    assert_int_equal(st_shards_plan(&S, &micro, 100, 1, 8, -1, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "batch_size 100 with accumulation_steps 1 cannot be cut into 8 shards (batch_size = "
                                 "shards x micro_batch x accumulation_steps); batch sizes that would fit: 96 or 104; "
                                 "shard counts that would fit (<= 64): 1, 2, 4, 5, 10, 20, 25, 50");
    assert_int_equal(st_shards_plan(&S, &micro, 100, 3, 0, -1, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "batch_size 100 is not a multiple of accumulation_steps 3 (batch_size = shards x "
                                 "micro_batch x accumulation_steps); batch sizes that would fit: 99 or 102");
    assert_int_equal(st_shards_plan(&S, &micro, 256, 1, 0, 200, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "the training split has 200 samples, fewer than one global batch of 256 (8 shards x "
                                 "micro_batch 32 x accumulation_steps 1): every shard needs at least one optimizer "
                                 "step per epoch; the largest batch_size that fits is 200 (--set "
                                 "train.batch_size=200)");
    assert_int_equal(st_shards_plan(&S, &micro, 256, 2, 4, 200, &err), ST_ERR_DATA); /* multiples of 4 x 2 */
    tu_assert_contains(err.msg, "the largest batch_size that fits is 200 (--set train.batch_size=200)");
    assert_int_equal(st_shards_plan(&S, &micro, 256, 2, 8, 199, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "the largest batch_size that fits is 192 (");
    assert_int_equal(st_shards_plan(&S, &micro, 256, 4, 64, 100, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "even one row per shard and accumulation step (256) does not fit");
    assert_int_equal(st_shards_plan(&S, &micro, 256, 1, 0, 256, &err), ST_OK);
    assert_int_equal(st_shards_plan(&S, &micro, 0, 1, 0, -1, &err), ST_ERR_CONFIG);
}

static void test_sampler(void **s) {
    (void)s;
    train_set_t t = make_train_set();
    st_shards_t sh;
    st_error_t err = {0};
    assert_int_equal(st_shards_build(&sh, t.ids, t.labels, 42, t.n_train, K_BIG, S_BIG, &err), ST_OK);
    const int micro = 32, accum = 2;
    st_sampler_t all;
    assert_int_equal(st_sampler_init(&all, &sh, 0, S_BIG, micro, accum, 42, &err), ST_OK);
    int64_t min_size = INT64_MAX;
    for (int sd = 0; sd < S_BIG; sd++)
        if (sh.shard_start[sd + 1] - sh.shard_start[sd] < min_size) min_size = sh.shard_start[sd + 1] - sh.shard_start[sd];
    int64_t steps = all.steps_per_epoch;
    assert_int_equal(steps, min_size / (micro * accum));
    assert_int_equal(steps, st_sampler_steps_per_epoch(&sh, micro, accum));
    double t0 = now_s();
    assert_int_equal(st_sampler_set_epoch(&all, 0, &err), ST_OK);
    double t1 = now_s();
    printf("# one epoch's order of %lld training samples (%d shards): %.2f ms\n", (long long)t.n_train, S_BIG,
           1e3 * (t1 - t0));
    int64_t *epoch0 = malloc(sizeof(int64_t) * (size_t)t.n_train);
    memcpy(epoch0, all.order, sizeof(int64_t) * (size_t)t.n_train);
    int64_t ids[32];
    char *seen = calloc(N_BIG, 1);
    for (int sd = 0; sd < S_BIG; sd++) {
        int64_t taken = 0;
        for (int64_t st = 0; st < steps; st++)
            for (int j = 0; j < accum; j++) {
                assert_int_equal(st_sampler_micro_batch(ids, &all, sd, st, j, &err), ST_OK);
                for (int k = 0; k < micro; k++) {
                    assert_int_equal(st_shards_find(&sh, ids[k]), sd); /* from this shard */
                    assert_int_equal(seen[ids[k]], 0);                 /* no duplicates in the epoch */
                    seen[ids[k]] = 1;
                    taken++;
                }
            }
        assert_int_equal(taken, steps * accum * micro); /* every shard gives the same number of steps */
    }
    assert_int_equal(st_sampler_micro_batch(ids, &all, 0, steps, 0, &err), ST_ERR_INTERNAL);
    assert_int_equal(st_sampler_micro_batch(ids, &all, 0, 0, accum, &err), ST_ERR_INTERNAL);
    /* Another epoch: other orders, and other rows skipped. */
    assert_int_equal(st_sampler_set_epoch(&all, 1, &err), ST_OK);
    assert_memory_not_equal(all.order, epoch0, sizeof(int64_t) * (size_t)t.n_train);
    for (int sd = 0; sd < S_BIG; sd++) {
        int64_t off = sh.shard_start[sd], n = sh.shard_start[sd + 1] - off;
        assert_memory_not_equal(all.order + off, epoch0 + off, sizeof(int64_t) * (size_t)n);
    }
    /* The same (seed, epoch, shard) gives the same order whichever rank holds the shard: a
     * sampler per rank for P = 3, and the direct computation. */
    for (int r = 0; r < 3; r++) {
        int first, end;
        st_shards_owned(&first, &end, r, 3, S_BIG, &err);
        st_sampler_t part;
        assert_int_equal(st_sampler_init(&part, &sh, first, end, micro, accum, 42, &err), ST_OK);
        assert_int_equal(part.steps_per_epoch, steps);
        assert_int_equal(st_sampler_set_epoch(&part, 0, &err), ST_OK);
        for (int sd = first; sd < end; sd++) {
            int64_t a[32], b[32];
            for (int64_t st = 0; st < steps; st += 7) {
                st_sampler_micro_batch(a, &part, sd, st, 1, &err);
                memcpy(b, epoch0 + sh.shard_start[sd] + (st * accum + 1) * micro, sizeof b);
                assert_memory_equal(a, b, sizeof a);
            }
        }
        int64_t off = sh.shard_start[first] - sh.shard_start[0], n = sh.shard_start[end] - sh.shard_start[first];
        assert_memory_equal(part.order, epoch0 + off, sizeof(int64_t) * (size_t)n);
        st_sampler_free(&part);
    }
    int64_t n3;
    const int64_t *rows3 = st_shards_rows(&sh, 3, &n3);
    int64_t *direct = malloc(sizeof(int64_t) * (size_t)n3);
    st_keyed_id_t *scratch = malloc(sizeof(st_keyed_id_t) * (size_t)n3);
    st_sampler_shard_order(direct, scratch, rows3, 42, 3, 0, n3);
    assert_memory_equal(direct, epoch0 + sh.shard_start[3], sizeof(int64_t) * (size_t)n3);
    st_sampler_shard_order(direct, scratch, rows3, 43, 3, 0, n3); /* another seed */
    assert_memory_not_equal(direct, epoch0 + sh.shard_start[3], sizeof(int64_t) * (size_t)n3);
    /* An epoch without a step is an error. */
    st_sampler_t big;
    assert_int_equal(st_sampler_init(&big, &sh, 0, S_BIG, 4096, 2, 42, &err), ST_ERR_DATA);
    assert_non_null(strstr(err.msg, "fewer than one optimizer step's micro_batch 4096 x accumulation_steps 2 = 8192"));
    free(direct), free(scratch), free(seen), free(epoch0);
    st_sampler_free(&all);
    st_shards_free(&sh);
    free_train_set(&t);
}

/* Standardisation: shard partials combined in shard order equal a direct double computation,
 * bitwise the same for every grouping of shards into ranks. */
static void standardize_case(int T, int F) {
    train_set_t t = make_train_set();
    st_shards_t sh;
    st_error_t err = {0};
    assert_int_equal(st_shards_build(&sh, t.ids, t.labels, 42, t.n_train, K_BIG, S_BIG, &err), ST_OK);
    int64_t row_len = (int64_t)T * F;
    float *X = malloc(sizeof(float) * (size_t)(N_BIG * row_len)); /* the whole file */
    tu_fill_normal(X, (size_t)(N_BIG * row_len), 5);
    for (int64_t i = 0; i < N_BIG * row_len; i++) {
        int f = (int)(i % F);
        X[i] = f == 0 ? 7.25f : 1000.0f + (float)f + (1.0f + f) * X[i]; /* feature 0 constant, large means */
    }
    /* Direct: two-pass in double over all training rows. */
    double *mean_ref = calloc(F, sizeof(double)), *std_ref = calloc(F, sizeof(double));
    for (int64_t i = 0; i < t.n_train; i++)
        for (int64_t k = 0; k < row_len; k++) mean_ref[k % F] += X[t.ids[i] * row_len + k];
    for (int f = 0; f < F; f++) mean_ref[f] /= (double)t.n_train * T;
    for (int64_t i = 0; i < t.n_train; i++)
        for (int64_t k = 0; k < row_len; k++) {
            double d = X[t.ids[i] * row_len + k] - mean_ref[k % F];
            std_ref[k % F] += d * d;
        }
    for (int f = 0; f < F; f++) std_ref[f] = sqrt(std_ref[f] / ((double)t.n_train * T));

    int64_t len = st_std_partial_len(F);
    double *partials = malloc(sizeof(double) * (size_t)(S_BIG * len));
    double *mean = malloc(sizeof(double) * F), *std = malloc(sizeof(double) * F);
    double *mean1 = malloc(sizeof(double) * F), *std1 = malloc(sizeof(double) * F);
    int64_t *rank_rows = malloc(sizeof(int64_t) * (size_t)t.n_train), *pos = malloc(sizeof(int64_t) * (size_t)t.n_train);
    float *local = malloc(sizeof(float) * (size_t)(t.n_train * row_len));
    for (int P = 1; P <= 4; P++) {
        memset(partials, 0xff, sizeof(double) * (size_t)(S_BIG * len));
        for (int r = 0; r < P; r++) {
            /* Rank r holds only its rows (ascending); it computes its shards' partials from them,
             * and the S partials are then "allgathered" in shard order. */
            int first, end;
            int64_t n;
            st_shards_owned(&first, &end, r, P, S_BIG, &err);
            st_shards_rank_rows(rank_rows, &n, &sh, r, P, &err);
            for (int64_t j = 0; j < n; j++) memcpy(local + j * row_len, X + rank_rows[j] * row_len, sizeof(float) * row_len);
            for (int sd = first; sd < end; sd++) {
                int64_t ns;
                const int64_t *rows = st_shards_rows(&sh, sd, &ns);
                assert_int_equal(st_shards_locate(pos, rows, rank_rows, ns, n, &err), ST_OK);
                st_standardize_partial(partials + sd * len, local, pos, ns, T, F);
            }
        }
        assert_int_equal(st_standardize_combine(mean, std, partials, S_BIG, F, 0, &err), ST_OK);
        if (P == 1) {
            memcpy(mean1, mean, sizeof(double) * F), memcpy(std1, std, sizeof(double) * F);
        } else {
            assert_memory_equal(mean, mean1, sizeof(double) * F);
            assert_memory_equal(std, std1, sizeof(double) * F);
        }
    }
    assert_true(mean[0] == 7.25 && std[0] == 1.0); /* constant feature: std 1 */
    std_ref[0] = 1.0;
    tu_assert_close_f64("mean", mean, mean_ref, F, 0, 1e-12);
    tu_assert_close_f64("std", std, std_ref, F, 0, 1e-12);
    /* Applied to the training rows, the result has mean 0 and std 1 per feature (feature 0: 0). */
    float *Xt = malloc(sizeof(float) * (size_t)(t.n_train * row_len));
    for (int64_t i = 0; i < t.n_train; i++) memcpy(Xt + i * row_len, X + t.ids[i] * row_len, sizeof(float) * row_len);
    st_standardize_apply(Xt, mean, std, t.n_train, T, F);
    double p[64];
    st_standardize_partial(p, Xt, NULL, t.n_train, T, F);
    assert_true(p[0] == (double)t.n_train * T);
    for (int f = 0; f < F; f++) {
        assert_true(fabs(p[1 + f]) < 1e-5);
        double sd = sqrt(p[1 + F + f] / p[0]);
        assert_true(f == 0 ? sd == 0 : fabs(sd - 1) < 1e-5);
    }
    assert_true(Xt[0] == (float)((X[t.ids[0] * row_len] - mean[0]) / std[0]));
    free(Xt), free(local), free(pos), free(rank_rows), free(mean), free(std), free(mean1), free(std1), free(partials);
    free(mean_ref), free(std_ref), free(X);
    st_shards_free(&sh);
    free_train_set(&t);
}

static void test_standardize_features(void **s) {
    (void)s;
    standardize_case(1, 12);
}

static void test_standardize_channels(void **s) {
    (void)s;
    standardize_case(6, 3); /* [T, C]: per channel over all positions */
}

/* A partial built block by block (a streamed split: pass 1 over every block, the means, pass 2
 * over every block) has the bits of one st_standardize_partial[_masked] call over all rows. */
static void test_standardize_by_blocks(void **s) {
    (void)s;
    enum { N = 300, T = 5, F = 3 };
    float *X = malloc(sizeof(float) * N * T * F);
    int32_t len[N];
    int64_t idx[N], m = 0;
    for (int i = 0; i < N * T * F; i++) {
        uint32_t w[4];
        st_rand_u32x4(5, ST_RNG_TEST, 2, 0, (uint64_t)i, w);
        X[i] = (float)(w[0] % 100000) / 997.0f - 30.0f;
    }
    for (int i = 0; i < N; i++) {
        len[i] = 1 + i % T;
        if (i % 3 != 1) idx[m++] = i; /* a shard's rows, ascending */
    }
    for (int masked = 0; masked < 2; masked++) {
        double whole[3 * F + 1], blocks[3 * F + 1];
        memset(blocks, 0, sizeof blocks);
        if (masked) st_standardize_partial_masked(whole, X, len, idx, m, T, F, F);
        else st_standardize_partial(whole, X, idx, m, T, F);
        for (int pass = 1; pass <= 2; pass++) {
            if (pass == 2) st_standardize_means(blocks, F, masked);
            for (int64_t a = 0; a < m; a += 37) /* blocks of 37 rows */
                st_standardize_accumulate(blocks, X, masked ? len : NULL, idx + a, m - a < 37 ? m - a : 37, T, F, F, pass);
        }
        int64_t n = masked ? st_std_partial_len_masked(F) : st_std_partial_len(F);
        assert_memory_equal(whole, blocks, sizeof(double) * (size_t)n);
        blocks[1] += 1e-9; /* and the comparison can fail */
        assert_memory_not_equal(whole, blocks, sizeof(double) * (size_t)n);
    }
    free(X);
}

static void test_standardize_edges_and_pixels(void **s) {
    (void)s;
    st_error_t err = {0};
    double partials[2 * 5] = {0}, mean[2], std[2];
    assert_int_equal(st_standardize_combine(mean, std, partials, 2, 2, 0, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "standardisation: the training split has no samples");
    float X[4] = {1.0f, NAN, 3.0f, 4.0f};
    st_standardize_partial(partials, X, NULL, 2, 1, 2);
    assert_int_equal(st_standardize_combine(mean, std, partials, 2, 2, 0, &err), ST_ERR_NUMERIC);
    assert_non_null(strstr(err.msg, "feature 1 has mean nan"));
    float px[3] = {0.0f, 255.0f, 51.0f};
    st_scale_pixels(px, 3);
    assert_true(px[0] == 0.0f && px[1] == 1.0f && px[2] == 0.2f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards_are_stratified_and_balanced),
        cmocka_unit_test(test_round_robin_continues_across_classes),
        cmocka_unit_test(test_ownership_for_any_rank_count),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_standardize_features),
        cmocka_unit_test(test_standardize_channels),
        cmocka_unit_test(test_standardize_edges_and_pixels),
        cmocka_unit_test(test_standardize_by_blocks),
    };
    return cmocka_run_group_tests_name("shards", tests, NULL, NULL);
}
