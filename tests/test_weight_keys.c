/* test_weight_keys.c — the weight keys of a rank's own shards' training rows
 * (sharding/weight_keys.h), from which the rank computes its shards' weight totals for an epoch
 * ahead: class ids (from /y or a class target, −1 kept), present-value counts of value heads, and
 * with /lengths each row's length in one more column; only the rank's own shards are held (no
 * key of another rank's row); lookups by (shard, id); a row the rank does not hold is an error
 * naming it; a streamed run's keys, made block by block by the start-up scan's hook, are the
 * in-memory ones. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sharding/weight_keys.h"
#include "train_step.h"

enum { N = 40, S = 4, TF = 4 };

typedef struct {
    st_data_t d;
    int64_t ids[N];
    int32_t y[N];
    float T[N * TF];
    int32_t len[N];
    st_loss_heads_t losses;
} fixture_t;

/* Rows 0, 2, .., 78 with labels i mod 3 in 4 shards; this "rank" owns shards 1 and 2 and holds
 * their rows (part); targets: column 0 a class id (−1 every 7th row), columns 1..3 values with
 * row i's column j NaN when (i + j) % 4 == 0. Heads: cross-entropy on /y, cross-entropy on
 * target 0, mse on target 1 (3 values). */
static void make_fixture(fixture_t *f) {
    memset(f, 0, sizeof *f);
    int64_t all[N];
    int32_t lab[N];
    for (int i = 0; i < N; i++) all[i] = 2 * i, lab[i] = i % 3;
    st_error_t err = {0};
    assert_int_equal(st_shards_build(&f->d.shards, all, lab, 7, N, 3, S, &err), ST_OK);
    f->d.S = S, f->d.shard_first = 1, f->d.shard_end = 3, f->d.tgt_floats = TF;
    f->d.tgt_offset[0] = 0, f->d.tgt_offset[1] = 1;
    int n = 0;
    for (int i = 0; i < N; i++) { /* ascending ids of shards 1 and 2 */
        int s = st_shards_find(&f->d.shards, all[i]);
        if (s < 1 || s > 2) continue;
        f->ids[n] = all[i], f->y[n] = lab[i];
        f->T[n * TF] = i % 7 == 0 ? -1.0f : (float)(i % 5);
        for (int j = 1; j < TF; j++) f->T[n * TF + j] = (i + j) % 4 == 0 ? NAN : (float)j;
        f->len[n] = 3 + i;
        n++;
    }
    st_data_part_t *p = &f->d.part[ST_SPLIT_TRAIN];
    p->n = n, p->ids = f->ids, p->y = f->y, p->T = f->T, p->len = f->len;
    f->losses.n_heads = 3;
    f->losses.heads[0] = (st_loss_config_t){.type = ST_LOSS_CROSS_ENTROPY, .n_classes = 3, .target_index = -1};
    f->losses.heads[1] = (st_loss_config_t){.type = ST_LOSS_CROSS_ENTROPY, .n_classes = 5, .target_index = 0};
    f->losses.heads[2] = (st_loss_config_t){.type = ST_LOSS_MSE, .n_classes = 3, .target_index = 1};
}

static void test_keys_of_own_shards(void **state) {
    (void)state;
    fixture_t f;
    make_fixture(&f);
    st_weight_keys_t k;
    st_error_t err = {0};
    assert_true(st_weight_keys_possible(&f.losses));
    assert_int_equal(st_weight_keys_init(&k, &f.losses, &f.d, &err), ST_OK);
    assert_int_equal(st_weight_keys_fill(&k, &f.losses, &f.d, &f.d.part[ST_SPLIT_TRAIN], &err), ST_OK);
    int checked = 0;
    for (int i = 0; i < N; i++) {
        int64_t id = 2 * i;
        int s = st_shards_find(&f.d.shards, id);
        const int16_t *key = st_weight_keys_row(&k, s, id);
        assert_null(st_weight_keys_row(&k, (s + 1) % S, id)); /* not in another shard */
        assert_null(st_weight_keys_row(&k, s, id + 1));       /* not a row */
        assert_null(st_weight_keys_row(&k, s, id - 1));
        if (s < 1 || s > 2) { /* another rank's shard: not held */
            assert_null(key);
            continue;
        }
        assert_non_null(key);
        int present = 0; /* the mse head's 3 values: a mask, bit j - 1 for column j */
        for (int j = 1; j < TF; j++) present |= ((i + j) % 4 != 0) << (j - 1);
        assert_int_equal(key[0], i % 3);
        assert_int_equal(key[1], i % 7 == 0 ? -1 : i % 5);
        assert_int_equal(key[2], present);
        checked++;
    }
    assert_true(checked > N / 4);
    assert_int_equal(k.n, checked); /* memory: the rank's own rows only */
    st_weight_keys_free(&k);
    st_shards_free(&f.d.shards);
}

static void test_lengths_column(void **state) {
    (void)state;
    fixture_t f;
    make_fixture(&f);
    f.d.has_lengths = 1, f.d.T_max = 3 + N;
    st_weight_keys_t k;
    st_error_t err = {0};
    assert_true(st_weight_keys_lengths_fit(&f.d));
    assert_int_equal(st_weight_keys_init(&k, &f.losses, &f.d, &err), ST_OK);
    assert_int_equal(k.n_cols, 4);
    assert_int_equal(st_weight_keys_fill(&k, &f.losses, &f.d, &f.d.part[ST_SPLIT_TRAIN], &err), ST_OK);
    for (int i = 0; i < N; i++) {
        int s = st_shards_find(&f.d.shards, 2 * i);
        const int16_t *key = st_weight_keys_row(&k, s, 2 * i);
        if (s < 1 || s > 2) continue;
        assert_int_equal(key[3], 3 + i);
        assert_int_equal(key[0], i % 3);
    }
    st_weight_keys_free(&k);
    f.d.T_max = 40000;
    assert_false(st_weight_keys_lengths_fit(&f.d));
    st_shards_free(&f.d.shards);
}

static void test_missing_row_and_limits(void **state) {
    (void)state;
    fixture_t f;
    make_fixture(&f);
    st_weight_keys_t k;
    st_error_t err = {0};
    assert_int_equal(st_weight_keys_init(&k, &f.losses, &f.d, &err), ST_OK);
    int64_t dropped = f.ids[3];
    st_data_part_t short_part = f.d.part[ST_SPLIT_TRAIN];
    memmove(f.ids + 3, f.ids + 4, sizeof(int64_t) * (size_t)(short_part.n - 4)); /* row 3 gone */
    short_part.n--;
    assert_int_equal(st_weight_keys_fill(&k, &f.losses, &f.d, &short_part, &err), ST_ERR_INTERNAL);
    char want[64];
    snprintf(want, sizeof want, "training row %lld", (long long)dropped);
    assert_non_null(strstr(err.msg, want));
    st_weight_keys_free(&k);
    f.losses.heads[1].n_classes = 40000; /* a class id beyond 16 bits */
    assert_false(st_weight_keys_possible(&f.losses));
    f.losses.heads[1].n_classes = 5;
    f.losses.heads[2].target_index = -1; /* a value head without a target */
    assert_false(st_weight_keys_possible(&f.losses));
    st_shards_free(&f.d.shards);
}

/* A streamed run: the scan's hook sees the rank's rows block by block (two blocks here, in
 * ascending order, each with a row of another rank's shards the hook must skip); its keys equal
 * the in-memory ones, lengths included. A value head on a class target cannot be streamed. */
static void test_streamed_keys_equal_memory(void **state) {
    (void)state;
    fixture_t f;
    make_fixture(&f);
    f.d.has_lengths = 1, f.d.T_max = 3 + N, f.d.n_targets = 2;
    f.d.ds.targets[0] = (st_target_info_t){.kind = ST_TARGET_CLASS, .width = 1, .n_classes = 5};
    f.d.ds.targets[1] = (st_target_info_t){.kind = ST_TARGET_REGRESSION, .width = 3};
    st_weight_keys_t mem, str;
    st_error_t err = {0};
    assert_int_equal(st_weight_keys_init(&mem, &f.losses, &f.d, &err), ST_OK);
    assert_int_equal(st_weight_keys_fill(&mem, &f.losses, &f.d, &f.d.part[ST_SPLIT_TRAIN], &err), ST_OK);
    const st_data_part_t *p = &f.d.part[ST_SPLIT_TRAIN];
    int32_t y_all[2 * N];
    for (int i = 0; i < N; i++) y_all[2 * i] = i % 3, y_all[2 * i + 1] = -7;
    st_stream_t stream; /* only its presence is read */
    f.d.stream = &stream, f.d.y_all = y_all, f.d.stream_ids = f.ids, f.d.n_stream = p->n;
    assert_false(st_weight_keys_streamable(&f.losses, &f.d)); /* no scan yet */
    assert_int_equal(st_weight_keys_scan_begin(&f.d, &err), ST_OK);
    int64_t half = p->n / 2, other = 0; /* row 0 is in shard 0, not this rank's */
    float T_other[TF] = {1, 1, 1, 1};
    int32_t len_other = 9;
    st_weight_keys_scan_block(&f.d, &other, T_other, &len_other, 1);
    st_weight_keys_scan_block(&f.d, p->ids, p->T, p->len, half);
    st_weight_keys_scan_block(&f.d, p->ids + half, p->T + half * TF, p->len + half, p->n - half);
    assert_true(st_weight_keys_streamable(&f.losses, &f.d));
    assert_int_equal(st_weight_keys_init(&str, &f.losses, &f.d, &err), ST_OK);
    assert_int_equal(st_weight_keys_fill(&str, &f.losses, &f.d, NULL, &err), ST_OK);
    assert_int_equal(str.n, mem.n);
    assert_memory_equal(str.key, mem.key, sizeof(int16_t) * (size_t)mem.n * (size_t)mem.n_cols);
    f.d.ds.targets[1].kind = ST_TARGET_CLASS; /* the mse head would read class ids: not keyed alike */
    assert_false(st_weight_keys_streamable(&f.losses, &f.d));
    st_weight_keys_free(&mem), st_weight_keys_free(&str);
    free(f.d.stream_keys);
    st_shards_free(&f.d.shards);
}

/* A value head's weight from its rows' keys (made by the scan's hook) equals
 * st_train_weight_total on the values, unmixed and mixed (partners, λ < 1 and λ = 1 rows): 3
 * values (masks: each value's presence in the partner matters) and 20 values (counts, unmixed
 * only: st_engine_set_mix keeps the opening exchange for those). */
static void test_value_weight_from_keys(void **state) {
    (void)state;
    enum { B = 12, KM = 20 };
    float v[B * KM];
    int64_t ids[B];
    int32_t key[B];
    st_mix_row_t plan[B];
    for (int K = 3; K <= KM; K += KM - 3) {
        st_data_t d;
        memset(&d, 0, sizeof d);
        d.n_targets = 1, d.tgt_floats = K, d.stream_ids = ids, d.n_stream = B;
        d.ds.targets[0] = (st_target_info_t){.kind = ST_TARGET_REGRESSION, .width = K};
        for (int r = 0; r < B; r++) {
            ids[r] = 3 * r;
            for (int k = 0; k < K; k++) v[r * K + k] = (r * 7 + k * 3) % 5 == 0 ? NAN : (float)k;
            plan[r] = (st_mix_row_t){.partner = (r * 5 + 3) % B, .lam = r % 4 == 0 ? 1.0f : 0.25f};
        }
        st_error_t err = {0};
        assert_int_equal(st_weight_keys_scan_begin(&d, &err), ST_OK);
        st_weight_keys_scan_block(&d, ids, v, NULL, B);
        for (int r = 0; r < B; r++) key[r] = d.stream_keys[r];
        free(d.stream_keys);
        st_loss_config_t cfg = {.type = ST_LOSS_MSE, .n_classes = K, .target_index = 0};
        double want = st_train_weight_total(&cfg, NULL, v, NULL, B);
        assert_true(want > 0 && want < B * K);
        assert_true(st_weight_keys_value_weight(key, NULL, K, B) == want);
        if (K > ST_WEIGHT_KEYS_MASK_MAX) continue;
        want = st_train_weight_total(&cfg, NULL, v, plan, B);
        assert_true(st_weight_keys_value_weight(key, plan, K, B) == want);
        assert_true(want > st_train_weight_total(&cfg, NULL, v, NULL, B)); /* the partners' values count */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_of_own_shards),
        cmocka_unit_test(test_lengths_column),
        cmocka_unit_test(test_missing_row_and_limits),
        cmocka_unit_test(test_streamed_keys_equal_memory),
        cmocka_unit_test(test_value_weight_from_keys),
    };
    return cmocka_run_group_tests_name("weight_keys", tests, NULL, NULL);
}
