/* test_sampler_window.c — data.order "windowed" (sharding/sampler.h): each shard's epoch order is
 * a permutation of its rows (and of their occurrences with data.repeat), whose blocks of W file
 * rows come contiguously, in the epoch's block order (the same for every shard, changing with the
 * epoch), each block's rows in today's per-shard key order; the same bits whichever block of
 * shards a sampler holds; W >= N is today's "shuffle" order; bucketing is refused. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "sharding/sampler.h"
#include "sharding/shards.h"

enum { N_ROWS = 5000, K = 3, S = 6, W = 300, MICRO = 16, ACCUM = 2 };

/* Training rows: every row but each 7th (they are "val"), labels id mod K. */
static void make_shards(st_shards_t *sh) {
    int64_t *ids = malloc(sizeof(int64_t) * N_ROWS), n = 0;
    int32_t *y = malloc(sizeof(int32_t) * N_ROWS);
    for (int64_t i = 0; i < N_ROWS; i++)
        if (i % 7 != 3) ids[n] = i, y[n++] = (int32_t)(i % K);
    st_error_t err = {0};
    assert_int_equal(st_shards_build(sh, ids, y, 11, n, K, S, &err), ST_OK);
    free(ids), free(y);
}

/* The shard's order: a permutation of its occurrences; each block in one run; the runs in the
 * order of st_sampler_block_order over the shard's blocks; each run is the shuffle order of
 * the block's rows. Returns the shard's block sequence in *blocks (count *nb). */
static void check_shard(const int64_t *order, const st_shards_t *sh, int s, int64_t epoch, int repeat, int64_t *blocks,
                        int64_t *nb) {
    int64_t n;
    const int64_t *rows = st_shards_rows(sh, s, &n);
    int64_t total = n * repeat;
    char *seen = calloc((size_t)N_ROWS * repeat, 1);
    *nb = 0;
    for (int64_t i = 0; i < total; i++) {
        int64_t o = order[i], b = o / repeat / W;
        assert_true(o >= 0 && o < (int64_t)N_ROWS * repeat);
        assert_int_equal(st_shards_find(sh, o / repeat), s);
        assert_int_equal(seen[o], 0);
        seen[o] = 1;
        if (i == 0 || b != order[i - 1] / repeat / W) {
            for (int64_t j = 0; j < *nb; j++) assert_true(blocks[j] != b); /* a block comes once: contiguous */
            blocks[(*nb)++] = b;
        }
    }
    free(seen);
    /* The runs' order is the block order of these blocks. */
    int64_t *sorted = malloc(sizeof(int64_t) * (size_t)*nb);
    st_keyed_id_t *scratch = malloc(sizeof(st_keyed_id_t) * (size_t)(total > *nb ? total : *nb));
    memcpy(sorted, blocks, sizeof(int64_t) * (size_t)*nb);
    st_sampler_block_order(sorted, scratch, 42, epoch, *nb);
    assert_memory_equal(sorted, blocks, sizeof(int64_t) * (size_t)*nb);
    /* Each run is the shuffle key order of the block's rows. */
    int64_t *expect = malloc(sizeof(int64_t) * (size_t)total), at = 0;
    for (int64_t j = 0; j < *nb; j++) {
        int64_t first = 0;
        while (rows[first] / W != blocks[j]) first++;
        int64_t end = first;
        while (end < n && rows[end] / W == blocks[j]) end++;
        st_sampler_shard_order_repeat(expect + at, scratch, rows + first, 42, s, epoch, end - first, repeat);
        at += (end - first) * repeat;
    }
    assert_int_equal(at, total);
    assert_memory_equal(expect, order, sizeof(int64_t) * (size_t)total);
    free(sorted), free(scratch), free(expect);
}

static void orders_case(int repeat) {
    st_shards_t sh;
    make_shards(&sh);
    st_error_t err = {0};
    st_sampler_t sp;
    assert_int_equal(st_sampler_init(&sp, &sh, 0, S, MICRO, ACCUM, 42, &err), ST_OK);
    if (repeat > 1) assert_int_equal(st_sampler_set_repeat(&sp, repeat, &err), ST_OK);
    int64_t steps = sp.steps_per_epoch;
    assert_int_equal(st_sampler_set_window(&sp, W, &err), ST_OK);
    assert_int_equal(sp.steps_per_epoch, steps); /* the order does not change the step count */
    int64_t nb_all = (N_ROWS + W - 1) / W, blocks[2][64], nb[2];
    assert_true(nb_all <= 64);
    for (int64_t e = 0; e < 2; e++) {
        assert_int_equal(st_sampler_set_epoch(&sp, e, &err), ST_OK);
        for (int s = 0; s < S; s++) {
            int64_t off = (sh.shard_start[s] - sh.shard_start[0]) * repeat, b[64], n_b;
            check_shard(sp.order + off, &sh, s, e, repeat, b, &n_b);
            assert_int_equal(n_b, nb_all); /* these shards have rows in every block */
            if (s == 0) memcpy(blocks[e], b, sizeof b), nb[e] = n_b;
            else assert_memory_equal(b, blocks[e], sizeof(int64_t) * (size_t)n_b); /* the same block order */
        }
    }
    assert_int_equal(nb[0], nb[1]);
    assert_memory_not_equal(blocks[0], blocks[1], sizeof(int64_t) * (size_t)nb[0]); /* changes with the epoch */
    /* Micro-batches are positions of the order, carried over between blocks. */
    int64_t ids[MICRO];
    assert_int_equal(st_sampler_micro_batch(ids, &sp, 2, steps - 1, 1, &err), ST_OK);
    int64_t off = (sh.shard_start[2] - sh.shard_start[0]) * repeat + ((steps - 1) * ACCUM + 1) * MICRO;
    assert_memory_equal(ids, sp.order + off, sizeof ids);
    st_sampler_free(&sp);
    st_shards_free(&sh);
}

static void test_windowed_orders(void **s) {
    (void)s;
    orders_case(1);
}

/* With repeat, a row's occurrences stay in its block (check_shard: blocks contiguous by o/k). */
static void test_windowed_repeat(void **s) {
    (void)s;
    orders_case(3);
}

/* The same bits whichever block of shards a sampler holds (P = 1, 2, 4), and W >= N gives
 * today's shuffle order. */
static void test_windowed_any_rank_count(void **s) {
    (void)s;
    st_shards_t sh;
    make_shards(&sh);
    st_error_t err = {0};
    st_sampler_t all;
    assert_int_equal(st_sampler_init(&all, &sh, 0, S, MICRO, ACCUM, 42, &err), ST_OK);
    assert_int_equal(st_sampler_set_window(&all, W, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&all, 5, &err), ST_OK);
    for (int P = 2; P <= 4; P += 2)
        for (int r = 0; r < P; r++) {
            int first, end;
            assert_int_equal(st_shards_owned(&first, &end, r, P, S, &err), ST_OK);
            st_sampler_t part;
            assert_int_equal(st_sampler_init(&part, &sh, first, end, MICRO, ACCUM, 42, &err), ST_OK);
            assert_int_equal(st_sampler_set_window(&part, W, &err), ST_OK);
            assert_int_equal(st_sampler_set_epoch(&part, 5, &err), ST_OK);
            int64_t off = sh.shard_start[first] - sh.shard_start[0], n = sh.shard_start[end] - sh.shard_start[first];
            assert_memory_equal(part.order, all.order + off, sizeof(int64_t) * (size_t)n);
            st_sampler_free(&part);
        }
    /* One block holding every row: the shuffle order, bit for bit; a smaller W differs. */
    int64_t n_all = sh.shard_start[S] - sh.shard_start[0];
    int64_t *windowed = malloc(sizeof(int64_t) * (size_t)n_all);
    memcpy(windowed, all.order, sizeof(int64_t) * (size_t)n_all);
    assert_int_equal(st_sampler_set_window(&all, N_ROWS, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&all, 5, &err), ST_OK);
    int64_t *one_block = malloc(sizeof(int64_t) * (size_t)n_all);
    memcpy(one_block, all.order, sizeof(int64_t) * (size_t)n_all);
    assert_int_equal(st_sampler_set_window(&all, 0, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&all, 5, &err), ST_OK);
    assert_memory_equal(one_block, all.order, sizeof(int64_t) * (size_t)n_all);
    assert_memory_not_equal(windowed, all.order, sizeof(int64_t) * (size_t)n_all);
    free(windowed), free(one_block);
    st_sampler_free(&all);
    st_shards_free(&sh);
}

/* Bookkeeping of a streamed split: the windowed sampler's scratch is one block per shard, and the
 * shard map without its lookup arrays still finds every row's shard. */
static void test_windowed_bookkeeping(void **s) {
    (void)s;
    st_shards_t sh;
    make_shards(&sh);
    st_error_t err = {0};
    st_sampler_t sp;
    assert_int_equal(st_sampler_init(&sp, &sh, 0, S, MICRO, ACCUM, 42, &err), ST_OK);
    assert_int_equal(st_sampler_set_repeat(&sp, 2, &err), ST_OK);
    assert_int_equal(st_sampler_set_window(&sp, W, &err), ST_OK);
    int64_t entries = st_sampler_window_scratch(NULL, &sh, 0, S, W, 2), n_all = sh.shard_start[S];
    assert_true(entries > 0 && entries * 5 < n_all * 2); /* a block per shard, not the epoch */
    assert_int_equal(st_sampler_set_repeat(&sp, 3, &err), ST_ERR_INTERNAL); /* repeat comes first */
    st_sampler_free(&sp);
    int *before = malloc(sizeof(int) * N_ROWS);
    for (int64_t i = 0; i < N_ROWS; i++) before[i] = st_shards_find(&sh, i);
    st_shards_drop_lookup(&sh);
    assert_null(sh.ids);
    for (int64_t i = 0; i < N_ROWS; i++) assert_int_equal(st_shards_find(&sh, i), before[i]);
    free(before);
    st_shards_free(&sh);
}

static void test_windowed_refuses_bucketing(void **s) {
    (void)s;
    st_shards_t sh;
    make_shards(&sh);
    st_error_t err = {0};
    st_sampler_t sp;
    int32_t len[1] = {1};
    int64_t ids[1] = {0};
    assert_int_equal(st_sampler_init(&sp, &sh, 0, S, MICRO, ACCUM, 42, &err), ST_OK);
    assert_int_equal(st_sampler_set_window(&sp, W, &err), ST_OK);
    assert_int_equal(st_sampler_set_buckets(&sp, len, ids, 1, 4, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "data.order \"windowed\""));
    assert_int_equal(st_sampler_set_window(&sp, -1, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "data.window_rows"));
    st_sampler_free(&sp);
    st_shards_free(&sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windowed_orders),
        cmocka_unit_test(test_windowed_repeat),
        cmocka_unit_test(test_windowed_any_rank_count),
        cmocka_unit_test(test_windowed_bookkeeping),
        cmocka_unit_test(test_windowed_refuses_bucketing),
    };
    return cmocka_run_group_tests_name("sampler_window", tests, NULL, NULL);
}
