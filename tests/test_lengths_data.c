/* test_lengths_data.c — variable-length sequences, the data side (issue 14): /lengths written and
 * read back (format 3), its layout and value errors with their messages (float dtype, [N, D]
 * file, wrong N, a length of 0 or > T, naming the file and row), the fingerprint following the
 * lengths; st_data_load with lengths (every row's length, padding set to exactly 0 even when the
 * file holds NaN there, T_max; standardisation over valid positions only, against sums computed
 * here, and bitwise the unmasked statistics when no row is padded); data.bucket_by_length refused
 * on a file without lengths; the length-bucketed sampler (every row once per epoch, the same
 * micro-batches however the shards are split into blocks, a much smaller length spread per
 * micro-batch than without bucketing); st_data_gather_rows (compacted to the longest length). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "mpi/comm.h"
#include "sharding/batch.h"
#include "sharding/data.h"
#include "sharding/dataset.h"
#include "sharding/fingerprint.h"
#include "sharding/sampler.h"
#include "sharding/standardize.h"

static st_comm_t comm;

enum { N = 400, T = 12, C = 3, K = 4 };

/* x[i, t, c] = i + t/16 + c/64 at valid steps; padding `pad` (garbage by default). */
static float value_at(int i, int t, int c) { return (float)i + (float)t / 16.0f + (float)c / 64.0f; }
static int32_t length_of(int i) { return 1 + (int32_t)((i * 7u + 3u) % (unsigned)(T - 1)); } /* 1..T-1 */

static void write_set(const char *path, const int32_t *lengths, float pad) {
    float *X = malloc(sizeof(float) * N * T * C);
    int32_t *y = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                X[(i * T + t) * C + c] = lengths && t >= lengths[i] ? (t % 3 == 0 ? NAN : pad) : value_at(i, t, c);
    }
    st_dataset_spec_t spec = {.n = N, .shape = st_shape2(T, C), .X = X, .y = y, .n_classes = K, .lengths = lengths};
    st_error_t err = {0};
    assert_int_equal(st_dataset_write(path, &spec, &err), ST_OK);
    free(X), free(y);
}

static int32_t *default_lengths(void) {
    int32_t *len = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) len[i] = length_of(i);
    return len;
}

/* ---- format --------------------------------------------------------------------------------- */

static void test_round_trip(void **s) {
    (void)s;
    int32_t *len = default_lengths();
    const char *path = tu_tmp_path("rt.h5");
    write_set(path, len, 1e6f);
    st_dataset_t ds;
    st_error_t err = {0};
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    assert_int_equal(ds.has_lengths, 1);
    assert_int_equal(ds.format_version, 3);
    int32_t got[N];
    assert_int_equal(st_dataset_read_lengths(&ds, 0, N, got, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(got, len, sizeof got);
    assert_int_equal(st_dataset_read_lengths(&ds, 37, 5, got, comm.comm, &err), ST_OK); /* collective */
    assert_memory_equal(got, len + 37, 5 * sizeof(int32_t));
    assert_int_equal(st_dataset_read_lengths(&ds, 0, 0, got, comm.comm, &err), ST_OK);
    st_dataset_close(&ds);
    /* A file without lengths: has_lengths 0, reading them is an internal error. */
    write_set(tu_tmp_path("plain.h5"), NULL, 0);
    assert_int_equal(st_dataset_open(tu_tmp_path("plain.h5"), &ds, &err), ST_OK);
    assert_int_equal(ds.has_lengths, 0);
    assert_int_equal(ds.format_version, 1);
    assert_int_equal(st_dataset_read_lengths(&ds, 0, 1, got, MPI_COMM_NULL, &err), ST_ERR_INTERNAL);
    st_dataset_close(&ds);
    free(len);
}

static void test_write_refuses(void **s) {
    (void)s;
    float X[4 * 6] = {0};
    int32_t y[4] = {0, 1, 0, 1}, len[4] = {3, 3, 0, 1}, over[4] = {1, 4, 1, 1};
    st_dataset_spec_t spec = {.n = 4, .shape = st_shape2(3, 2), .X = X, .y = y, .lengths = len};
    st_error_t err = {0};
    const char *path = tu_tmp_path("refused.h5");
    assert_int_equal(st_dataset_write(path, &spec, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "lengths[2] = 0 is outside 1..3");
    spec.lengths = over;
    assert_int_equal(st_dataset_write(path, &spec, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "lengths[1] = 4 is outside 1..3");
    spec.shape = st_shape1(6), spec.lengths = len;
    assert_int_equal(st_dataset_write(path, &spec, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "they need [T, C]");
    assert_false(tu_exists(path));
}

/* A valid [n, t, 2] (or [n, t] with flat) file plus a raw /lengths dataset of `type`. */
static void write_raw(const char *path, int n, int t, int flat, hid_t type, hsize_t len_rows, const int64_t *vals) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[3] = {(hsize_t)n, (hsize_t)t, 2}, dy = (hsize_t)n;
    float *X = calloc((size_t)n * t * 2, sizeof *X);
    int32_t *y = calloc((size_t)n, sizeof *y);
    hid_t sx = H5Screate_simple(flat ? 2 : 3, dx, NULL), sy = H5Screate_simple(1, &dy, NULL);
    hid_t d = H5Dcreate2(f, "X", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X), H5Dclose(d);
    d = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y), H5Dclose(d);
    hid_t sl = H5Screate_simple(1, &len_rows, NULL);
    d = H5Dcreate2(f, "lengths", type, sl, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals), H5Dclose(d);
    H5Sclose(sx), H5Sclose(sy), H5Sclose(sl), H5Fclose(f);
    free(X), free(y);
}

static void test_layout_errors(void **s) {
    (void)s;
    int64_t v[6] = {1, 2, 3, 4, 5, 5};
    st_dataset_t ds;
    st_error_t err = {0};
    const char *path = tu_tmp_path("bad.h5");
    write_raw(path, 6, 5, 0, H5T_IEEE_F32LE, 6, v);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, path);
    tu_assert_contains(err.msg, "/lengths has type float32, expected integers");
    write_raw(path, 6, 5, 1, H5T_STD_I32LE, 6, v);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "has /lengths but /X is [N, D] = [6, 5]");
    write_raw(path, 6, 5, 0, H5T_STD_I32LE, 5, v);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "/lengths must have shape [N] = [6]");
    /* Values are checked when read: int64 is accepted, 0 and > T name the row. */
    int64_t zero[6] = {1, 2, 3, 0, 5, 9};
    write_raw(path, 6, 5, 0, H5T_STD_I64LE, 6, zero);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    int32_t got[6];
    assert_int_equal(st_dataset_read_lengths(&ds, 0, 3, got, MPI_COMM_NULL, &err), ST_OK);
    assert_int_equal(st_dataset_read_lengths(&ds, 0, 6, got, MPI_COMM_NULL, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "/lengths[3] = 0 is outside 1..5");
    tu_assert_contains(err.msg, path);
    assert_int_equal(st_dataset_read_lengths(&ds, 4, 2, got, comm.comm, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "/lengths[5] = 9 is outside 1..5");
    st_dataset_close(&ds);
}

static void test_fingerprint(void **s) {
    (void)s;
    int32_t *len = default_lengths();
    char a[17], b[17], plain[17];
    st_dataset_t ds;
    st_error_t err = {0};
    const char *path = tu_tmp_path("fp.h5");
    write_set(path, len, 0);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    assert_int_equal(st_dataset_fingerprint(&ds, a, &err), ST_OK);
    st_dataset_close(&ds);
    len[17] = len[17] == 1 ? 2 : 1;
    write_set(path, len, 0);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    assert_int_equal(st_dataset_fingerprint(&ds, b, &err), ST_OK);
    st_dataset_close(&ds);
    write_set(path, NULL, 0);
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    assert_int_equal(st_dataset_fingerprint(&ds, plain, &err), ST_OK);
    st_dataset_close(&ds);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, plain);
    free(len);
}

/* ---- loading -------------------------------------------------------------------------------- */

static st_data_config_t config(const char *path, int standardize) {
    return (st_data_config_t){.path = path, .seed = 3, .split = st_split_options_default(), .batch_size = 16,
                              .accumulation = 1, .shards = 2, .standardize = standardize};
}

static void test_load_zeroes_padding(void **s) {
    (void)s;
    int32_t *len = default_lengths();
    const char *path = tu_tmp_path("load.h5");
    write_set(path, len, 1e6f); /* garbage and NaN in the padding */
    st_data_config_t cfg = config(path, 0);
    st_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_data_load(&d, &cfg, &comm, &err), ST_OK); /* the NaN padding is not refused */
    assert_int_equal(d.has_lengths, 1);
    assert_int_equal(d.T_max, T - 1);
    int64_t rows = 0;
    for (int p = 0; p < 3; p++) {
        const st_data_part_t *part = &d.part[p];
        assert_non_null(part->len);
        for (int64_t i = 0; i < part->n; i++, rows++) {
            int id = (int)part->ids[i];
            assert_int_equal(part->len[i], len[id]);
            for (int t = 0; t < T; t++)
                for (int c = 0; c < C; c++) {
                    float x = part->X[(i * T + t) * C + c], want = t < len[id] ? value_at(id, t, c) : 0.0f;
                    assert_memory_equal(&x, &want, sizeof x); /* exactly 0 (+0.0) in the padding */
                }
        }
    }
    assert_int_equal(rows, N);
    st_data_free(&d);
    /* Without lengths: no len views, T_max = T. */
    write_set(path, NULL, 0);
    assert_int_equal(st_data_load(&d, &cfg, &comm, &err), ST_OK);
    assert_int_equal(d.has_lengths, 0);
    assert_null(d.part[0].len);
    assert_int_equal(d.T_max, T);
    st_data_free(&d);
    /* data.bucket_by_length on it is refused naming the key and the file. */
    cfg.bucket_by_length = 1, cfg.bucket_window = 4;
    assert_int_equal(st_data_load(&d, &cfg, &comm, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "data.bucket_by_length");
    tu_assert_contains(err.msg, path);
    tu_assert_contains(err.msg, "has no /lengths");
    free(len);
}

/* Expected statistics, straight from the definition: over the training rows' valid values. */
static void expect_stats(double *mean, double *std, const st_data_t *d, const int32_t *len, st_std_mode_t mode, int F) {
    double *n = calloc((size_t)F, sizeof *n), *sum = calloc((size_t)F, sizeof *sum), *sq = calloc((size_t)F, sizeof *sq);
    const st_data_part_t *tr = &d->part[ST_SPLIT_TRAIN];
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < tr->n; i++) {
            int id = (int)tr->ids[i];
            for (int t = 0; t < len[id]; t++)
                for (int c = 0; c < C; c++) {
                    int f = mode == ST_STD_CHANNEL ? c : mode == ST_STD_GLOBAL ? 0 : t * C + c;
                    double x = value_at(id, t, c);
                    if (pass == 0) n[f] += 1, sum[f] += x;
                    else sq[f] += (x - sum[f] / n[f]) * (x - sum[f] / n[f]);
                }
        }
    for (int f = 0; f < F; f++) {
        mean[f] = n[f] > 0 ? sum[f] / n[f] : 0;
        std[f] = n[f] > 0 ? sqrt(sq[f] / n[f]) : 1;
    }
    free(n), free(sum), free(sq);
}

static void test_standardize_valid_only(void **s) {
    (void)s;
    int32_t *len = default_lengths();
    const char *path = tu_tmp_path("std.h5");
    write_set(path, len, 1e6f);
    const st_std_mode_t modes[3] = {ST_STD_CHANNEL, ST_STD_GLOBAL, ST_STD_POSITION};
    for (int m = 0; m < 3; m++) {
        st_data_config_t cfg = config(path, (int)modes[m]);
        st_data_t d;
        st_error_t err = {0};
        assert_int_equal(st_data_load(&d, &cfg, &comm, &err), ST_OK);
        int F = d.n_std;
        assert_int_equal(F, modes[m] == ST_STD_CHANNEL ? C : modes[m] == ST_STD_GLOBAL ? 1 : T * C);
        double mean[T * C], std[T * C];
        expect_stats(mean, std, &d, len, modes[m], F);
        tu_assert_close_f64("mean", d.mean, mean, (size_t)F, 1e-9, 1e-12);
        tu_assert_close_f64("std", d.std, std, (size_t)F, 1e-9, 1e-12);
        if (modes[m] == ST_STD_POSITION) /* no row reaches step T-1 (lengths are at most T-1) */
            for (int c = 0; c < C; c++) assert_true(d.mean[(T - 1) * C + c] == 0 && d.std[(T - 1) * C + c] == 1);
        for (int p = 0; p < 3; p++) /* valid values standardised, padding still 0 */
            for (int64_t i = 0; i < d.part[p].n; i++) {
                int id = (int)d.part[p].ids[i];
                for (int t = 0; t < T; t++)
                    for (int c = 0; c < C; c++) {
                        int f = modes[m] == ST_STD_CHANNEL ? c : modes[m] == ST_STD_GLOBAL ? 0 : t * C + c;
                        float x = d.part[p].X[(i * T + t) * C + c];
                        float want = t < len[id] ? (float)((value_at(id, t, c) - d.mean[f]) / d.std[f]) : 0.0f;
                        assert_memory_equal(&x, &want, sizeof x);
                    }
            }
        st_data_free(&d);
    }
    free(len);
}

/* With every row at full length the masked statistics are the unmasked ones, bit for bit. */
static void test_masked_equals_unmasked_when_full(void **s) {
    (void)s;
    enum { R = 37, TT = 9, CC = 4 };
    float X[R * TT * CC];
    tu_fill_normal(X, R * TT * CC, 8);
    int32_t full[R];
    for (int i = 0; i < R; i++) full[i] = TT;
    int64_t idx[R];
    for (int i = 0; i < R; i++) idx[i] = (i * 5) % R;
    double pa[2][1 + 2 * CC], pm[2][3 * CC], ma[CC], sa[CC], mm[CC], sm[CC];
    st_standardize_partial(pa[0], X, idx, 20, TT, CC);
    st_standardize_partial(pa[1], X, idx + 20, R - 20, TT, CC);
    st_standardize_partial_masked(pm[0], X, full, idx, 20, TT, CC, CC);
    st_standardize_partial_masked(pm[1], X, full, idx + 20, R - 20, TT, CC, CC);
    st_error_t err = {0};
    assert_int_equal(st_standardize_combine(ma, sa, &pa[0][0], 2, CC, 0, &err), ST_OK);
    assert_int_equal(st_standardize_combine_masked(mm, sm, &pm[0][0], 2, CC, 0, &err), ST_OK);
    assert_memory_equal(ma, mm, sizeof ma);
    assert_memory_equal(sa, sm, sizeof sa);
}

/* ---- sampler -------------------------------------------------------------------------------- */

enum { NS = 6000, SS = 6, MB = 16, WIN = 8 };

typedef struct {
    st_shards_t sh;
    int64_t ids[NS];
    int32_t len[NS];
} bucket_set_t;

static bucket_set_t *make_bucket_set(void) {
    bucket_set_t *b = calloc(1, sizeof *b);
    int32_t labels[NS];
    for (int i = 0; i < NS; i++) b->ids[i] = 3 * i + 1, labels[i] = i % 3, b->len[i] = 1 + (int32_t)((i * 2654435761u) % 64u);
    st_error_t err = {0};
    assert_int_equal(st_shards_build(&b->sh, b->ids, labels, 9, NS, 3, SS, &err), ST_OK);
    return b;
}

static int32_t len_of(const bucket_set_t *b, int64_t id) { return b->len[(id - 1) / 3]; }

/* Mean over the epoch's micro-batches of (longest − shortest length). */
static double mean_spread(const st_sampler_t *sp, const bucket_set_t *b) {
    double total = 0;
    int count = 0;
    int64_t ids[MB];
    st_error_t err = {0};
    for (int sd = sp->shard_first; sd < sp->shard_end; sd++)
        for (int64_t st = 0; st < sp->steps_per_epoch; st++) {
            assert_int_equal(st_sampler_micro_batch(ids, sp, sd, st, 0, &err), ST_OK);
            int lo = 1 << 30, hi = 0;
            for (int k = 0; k < MB; k++) {
                int l = len_of(b, ids[k]);
                lo = l < lo ? l : lo, hi = l > hi ? l : hi;
            }
            total += hi - lo, count++;
        }
    return total / count;
}

static void test_bucket_sampler(void **s) {
    (void)s;
    bucket_set_t *b = make_bucket_set();
    st_error_t err = {0};
    st_sampler_t plain, all;
    assert_int_equal(st_sampler_init(&plain, &b->sh, 0, SS, MB, 1, 42, &err), ST_OK);
    assert_int_equal(st_sampler_init(&all, &b->sh, 0, SS, MB, 1, 42, &err), ST_OK);
    assert_int_equal(st_sampler_set_buckets(&all, b->len, b->ids, NS, WIN, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&plain, 0, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&all, 0, &err), ST_OK);
    /* Every row of every shard exactly once in the epoch's order. */
    char *seen = calloc(3 * NS + 1, 1);
    for (int64_t i = 0; i < NS; i++) {
        assert_int_equal(seen[all.order[i]], 0);
        seen[all.order[i]] = 1;
    }
    for (int sd = 0; sd < SS; sd++)
        for (int64_t i = b->sh.shard_start[sd]; i < b->sh.shard_start[sd + 1]; i++)
            assert_int_equal(st_shards_find(&b->sh, all.order[i]), sd);
    free(seen);
    double spread_plain = mean_spread(&plain, b), spread_bucket = mean_spread(&all, b);
    printf("# mean length spread per micro-batch of %d (lengths 1..64): %.2f without bucketing, %.2f with (window %d)\n",
           MB, spread_plain, spread_bucket, WIN);
    assert_true(spread_bucket < spread_plain / 4);
    /* The same micro-batches when the shards are split into other blocks (other rank counts). */
    const int blocks[3][2] = {{0, 2}, {2, 5}, {5, 6}};
    for (int k = 0; k < 3; k++) {
        st_sampler_t part;
        assert_int_equal(st_sampler_init(&part, &b->sh, blocks[k][0], blocks[k][1], MB, 1, 42, &err), ST_OK);
        /* lengths of only this block's rows are enough */
        int64_t n = b->sh.shard_start[blocks[k][1]] - b->sh.shard_start[blocks[k][0]];
        int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
        int32_t *len = malloc(sizeof(int32_t) * (size_t)n);
        memcpy(ids, b->sh.rows + b->sh.shard_start[blocks[k][0]], sizeof(int64_t) * (size_t)n);
        for (int64_t i = 1; i < n; i++) /* ascending */
            for (int64_t j = i; j > 0 && ids[j] < ids[j - 1]; j--) {
                int64_t t = ids[j];
                ids[j] = ids[j - 1], ids[j - 1] = t;
            }
        for (int64_t i = 0; i < n; i++) len[i] = len_of(b, ids[i]);
        assert_int_equal(st_sampler_set_buckets(&part, len, ids, n, WIN, &err), ST_OK);
        assert_int_equal(st_sampler_set_epoch(&part, 0, &err), ST_OK);
        int64_t off = b->sh.shard_start[blocks[k][0]];
        assert_memory_equal(part.order, all.order + off, sizeof(int64_t) * (size_t)n);
        st_sampler_free(&part);
        free(ids), free(len);
    }
    /* Another epoch: another order; without bucketing the order differs. */
    int64_t *epoch0 = malloc(sizeof(int64_t) * NS);
    memcpy(epoch0, all.order, sizeof(int64_t) * NS);
    assert_memory_not_equal(epoch0, plain.order, sizeof(int64_t) * NS);
    assert_int_equal(st_sampler_set_epoch(&all, 1, &err), ST_OK);
    assert_memory_not_equal(epoch0, all.order, sizeof(int64_t) * NS);
    /* A row without a length is refused. */
    st_sampler_t miss;
    assert_int_equal(st_sampler_init(&miss, &b->sh, 0, SS, MB, 1, 42, &err), ST_OK);
    assert_int_equal(st_sampler_set_buckets(&miss, b->len, b->ids, NS - 1, WIN, &err), ST_ERR_INTERNAL);
    tu_assert_contains(err.msg, "no length for row");
    assert_int_equal(st_sampler_set_buckets(&miss, b->len, b->ids, NS, 0, &err), ST_ERR_CONFIG);
    st_sampler_free(&miss);
    free(epoch0);
    st_sampler_free(&plain), st_sampler_free(&all);
    st_shards_free(&b->sh);
    free(b);
}

/* Through st_data_load and st_data_sampler_init, as the engine calls them. */
static void test_data_sampler_init(void **s) {
    (void)s;
    int32_t *len = default_lengths();
    const char *path = tu_tmp_path("dsi.h5");
    write_set(path, len, 0);
    st_data_config_t cfg = config(path, 1);
    cfg.bucket_by_length = 1, cfg.bucket_window = 2;
    st_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_data_load(&d, &cfg, &comm, &err), ST_OK);
    st_sampler_t sp;
    assert_int_equal(st_data_sampler_init(&sp, &d, d.micro_batch, 1, 3, &err), ST_OK);
    assert_int_equal(sp.bucket_window, 2);
    assert_int_equal(st_sampler_set_epoch(&sp, 0, &err), ST_OK);
    /* Inside a window of 2 micro-batches lengths ascend: each micro-batch is sorted. */
    int64_t ids[64], pos[64];
    assert_true(d.micro_batch <= 64);
    assert_int_equal(st_sampler_micro_batch(ids, &sp, d.shard_first, 0, 0, &err), ST_OK);
    assert_int_equal(st_shards_locate(pos, ids, d.part[0].ids, d.micro_batch, d.part[0].n, &err), ST_OK);
    for (int k = 1; k < d.micro_batch; k++) assert_true(d.part[0].len[pos[k]] >= d.part[0].len[pos[k - 1]]);
    st_sampler_free(&sp);
    st_data_free(&d);
    free(len);
}

/* ---- st_data_gather_rows -------------------------------------------------------------------- */

static void test_gather_rows(void **s) {
    (void)s;
    enum { R = 5, TT = 6, CC = 2 };
    float X[R * TT * CC];
    int32_t lens[R] = {2, 6, 1, 3, 4};
    for (int i = 0; i < R; i++)
        for (int k = 0; k < TT * CC; k++) X[i * TT * CC + k] = k < lens[i] * CC ? (float)(100 * i + k + 1) : 0.0f;
    st_data_t d = {.shape = st_shape2(TT, CC), .row_floats = TT * CC, .has_lengths = 1};
    st_data_part_t p = {.n = R, .X = X, .len = lens};
    const int64_t pos[3] = {3, 0, 2};
    float x[3 * TT * CC];
    int32_t len[3];
    int T_run = 0;
    for (size_t k = 0; k < sizeof x / sizeof *x; k++) x[k] = -1;
    st_data_gather_rows(x, len, &T_run, &d, &p, pos, 3);
    assert_int_equal(T_run, 3);
    assert_int_equal(len[0], 3), assert_int_equal(len[1], 2), assert_int_equal(len[2], 1);
    for (int i = 0; i < 3; i++) /* [3, T_run, C]: the first T_run steps of each row */
        assert_memory_equal(x + i * T_run * CC, X + pos[i] * TT * CC, sizeof(float) * T_run * CC);
    assert_true(x[1 * T_run * CC + 2 * CC] == 0.0f); /* row 0 (length 2) is 0 at step 2 */
    assert_true(x[3 * T_run * CC] == -1);             /* nothing written past [3, T_run, C] */
    const int64_t one[1] = {1};
    st_data_gather_rows(x, len, &T_run, &d, &p, one, 1);
    assert_int_equal(T_run, 6);
    /* Without lengths: a plain copy at T (len may be NULL). */
    d.has_lengths = 0, p.len = NULL;
    st_data_gather_rows(x, NULL, &T_run, &d, &p, pos, 3);
    assert_int_equal(T_run, TT);
    for (int i = 0; i < 3; i++) assert_memory_equal(x + i * TT * CC, X + pos[i] * TT * CC, sizeof(float) * TT * CC);
    st_data_t flat = {.shape = st_shape1(TT * CC), .row_floats = TT * CC};
    st_data_gather_rows(x, NULL, &T_run, &flat, &p, pos, 3);
    assert_int_equal(T_run, 1);
}

static int setup(void **s) {
    (void)s;
    return tu_tmpdir_create("lengths_data");
}
static int teardown(void **s) {
    (void)s;
    return tu_tmpdir_remove();
}

int main(int argc, char **argv) {
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &comm, &err) != ST_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_layout_errors),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_load_zeroes_padding),
        cmocka_unit_test(test_standardize_valid_only),
        cmocka_unit_test(test_masked_equals_unmasked_when_full),
        cmocka_unit_test(test_bucket_sampler),
        cmocka_unit_test(test_data_sampler_init),
        cmocka_unit_test(test_gather_rows),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    st_comm_finalize(&comm, &err);
    return rc;
}
