/* test_dataset.c — the HDF5 dataset format (sharding/dataset.h): write/open/read round trips for
 * [N, D] and [N, T, C], chunking, the rules for K, every layout error with its message, labels
 * out of range, atomic writes (a failed write leaves no file and keeps an existing one),
 * collective reads over MPI-IO (a singleton MPI_COMM_WORLD, with 0 rows too), and format 2:
 * targets and groups written and read back, target layout errors, st_target_first_bad. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <hdf5.h>

#include "sharding/dataset.h"
#include "sharding/h5util.h"

/* ---- raw HDF5 files in layouts st_dataset_write would refuse to write ---- */

typedef struct {
    int x_rank;          /* 1, 2 or 3 dims for /X (0 = no /X) */
    hsize_t x_dims[3];
    int x_f64;
    int y_rows;          /* -1 = no /y */
    const int32_t *y;
    int n_classes;       /* 0 = no attribute */
    const char *const *class_names;
    int n_class_names;
    int fixed_len_names; /* store class_names as fixed-length strings */
    int strata_format;   /* 0 = no attribute */
    const char *const *feature_names;
    int n_feature_names;
    const int32_t *split; /* [x_dims[0]] or NULL */
} raw_t;

static void write_raw(const char *path, const raw_t *r) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    if (r->x_rank) {
        hsize_t n = 1;
        for (int i = 0; i < r->x_rank; i++) n *= r->x_dims[i];
        float *x = calloc(n + 1, sizeof *x);
        for (hsize_t i = 0; i < n; i++) x[i] = (float)i;
        hid_t s = H5Screate_simple(r->x_rank, r->x_dims, NULL);
        hid_t d = H5Dcreate2(f, "X", r->x_f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        H5Dclose(d);
        H5Sclose(s);
        free(x);
    }
    if (r->y_rows >= 0) {
        hsize_t n = (hsize_t)r->y_rows;
        hid_t s = H5Screate_simple(1, &n, NULL);
        hid_t d = H5Dcreate2(f, "y", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->y);
        H5Dclose(d);
        H5Sclose(s);
    }
    if (r->split) {
        hid_t s = H5Screate_simple(1, r->x_dims, NULL);
        hid_t d = H5Dcreate2(f, "split", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->split);
        H5Dclose(d);
        H5Sclose(s);
    }
    if (r->n_classes) {
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "n_classes", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
        long long v = r->n_classes;
        H5Awrite(a, H5T_NATIVE_LLONG, &v);
        H5Aclose(a);
        H5Sclose(s);
    }
    if (r->strata_format) {
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "strata_format", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &r->strata_format);
        H5Aclose(a);
        H5Sclose(s);
    }
    for (int which = 0; which < 2; which++) {
        const char *const *names = which ? r->feature_names : r->class_names;
        int n_names = which ? r->n_feature_names : r->n_class_names;
        if (!names) continue;
        hsize_t n = (hsize_t)n_names;
        hid_t s = H5Screate_simple(1, &n, NULL);
        hid_t t = H5Tcopy(H5T_C_S1);
        if (r->fixed_len_names && !which) {
            H5Tset_size(t, 16);
            H5Tset_strpad(t, H5T_STR_NULLPAD);
            char *buf = calloc(n, 16);
            for (hsize_t i = 0; i < n; i++) strncpy(buf + 16 * i, names[i], 16);
            hid_t a = H5Acreate2(f, "class_names", t, s, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, t, buf);
            H5Aclose(a);
            free(buf);
        } else {
            H5Tset_size(t, H5T_VARIABLE);
            hid_t a = H5Acreate2(f, which ? "feature_names" : "class_names", t, s, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, t, names);
            H5Aclose(a);
        }
        H5Tclose(t);
        H5Sclose(s);
    }
    H5Fclose(f);
}

/* ---- round trips ---- */

static void fill_spec(st_dataset_spec_t *s, int64_t n, st_shape_t shape, float *X, int32_t *y, int k) {
    long m = st_shape_numel(shape);
    for (int64_t i = 0; i < n * m; i++) X[i] = (float)i * 0.5f - 3.0f;
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)((i * 7) % k);
    *s = (st_dataset_spec_t){.n = n, .shape = shape, .X = X, .y = y};
}

static void test_round_trip_features(void **state) {
    (void)state;
    enum { N = 50, D = 4, K = 3 };
    float X[N * D], back[N * D];
    int32_t y[N], yb[N];
    uint8_t split[N], sb[N];
    st_dataset_spec_t s;
    fill_spec(&s, N, st_shape1(D), X, y, K);
    for (int i = 0; i < N; i++) split[i] = (uint8_t)(i % 3);
    const char *names[K] = {"cat", "dog", "bird, blue"};
    const char *features[D] = {"a", "b", "c", "δ"};
    s.split = split;
    s.n_classes = K;
    s.class_names = names;
    s.n_feature_names = D;
    s.feature_names = features;
    s.source = "unit test";
    const char *p = tu_tmp_path("features.h5");
    st_error_t err = {0};
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    assert_false(tu_exists(tu_tmp_path("features.h5.tmp")));

    st_dataset_t ds;
    assert_int_equal(st_dataset_open(p, &ds, &err), ST_OK);
    assert_int_equal(ds.n, N);
    assert_true(st_shape_equal(ds.shape, st_shape1(D)));
    assert_int_equal(ds.n_classes, K);
    assert_string_equal(ds.class_names[2], "bird, blue");
    assert_int_equal(ds.n_feature_names, D);
    assert_string_equal(ds.feature_names[3], "δ");
    assert_int_equal(ds.has_split, 1);
    assert_string_equal(ds.source, "unit test");
    assert_int_equal(ds.format_version, 1); /* format 2 only with targets or groups */
    assert_int_equal(ds.n_targets, 1);     /* the "y" shorthand */
    assert_string_equal(ds.targets[0].name, "y");
    assert_int_equal(ds.targets[0].n_classes, K);
    assert_string_equal(ds.targets[0].names[2], "bird, blue");

    assert_int_equal(st_dataset_read_labels(&ds, yb, sb, &err), ST_OK);
    assert_memory_equal(y, yb, sizeof y);
    assert_memory_equal(split, sb, sizeof split);
    assert_int_equal(st_dataset_read_rows(&ds, 0, N, back, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(X, back, sizeof X);
    /* A block in the middle, and an empty one. */
    memset(back, 0, sizeof back);
    assert_int_equal(st_dataset_read_rows(&ds, 17, 9, back, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(X + 17 * D, back, 9 * D * sizeof(float));
    assert_int_equal(st_dataset_read_rows(&ds, N, 0, back, MPI_COMM_NULL, &err), ST_OK);
    /* Rows outside /X. */
    assert_int_not_equal(st_dataset_read_rows(&ds, 45, 6, back, MPI_COMM_NULL, &err), ST_OK);
    tu_assert_contains(err.msg, "lie outside /X");
    st_dataset_close(&ds);
}

static void test_round_trip_sequences_defaults(void **state) {
    (void)state;
    enum { N = 7, T = 5, C = 3 };
    float X[N * T * C], back[N * T * C];
    int32_t y[N], yb[N];
    st_dataset_spec_t s;
    fill_spec(&s, N, st_shape2(T, C), X, y, 4); /* labels 0..3; K = max(y) + 1 = 4 */
    const char *p = tu_tmp_path("seq.h5");
    st_error_t err = {0};
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(p, &ds, &err), ST_OK);
    assert_true(st_shape_equal(ds.shape, st_shape2(T, C)));
    assert_int_equal(ds.n_classes, 4);
    assert_string_equal(ds.class_names[0], "0");
    assert_string_equal(ds.class_names[3], "3");
    assert_int_equal(ds.n_feature_names, 0);
    assert_int_equal(ds.has_split, 0);
    assert_string_equal(ds.source, "");
    uint8_t untouched[N];
    memset(untouched, 77, sizeof untouched);
    assert_int_equal(st_dataset_read_labels(&ds, yb, untouched, &err), ST_OK);
    assert_memory_equal(y, yb, sizeof y);
    assert_int_equal(untouched[0], 77);
    assert_int_equal(st_dataset_read_rows(&ds, 2, 3, back, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(X + 2 * T * C, back, 3 * T * C * sizeof(float));
    st_dataset_close(&ds);
}

/* /X is chunked by whole rows, about 1 MiB per chunk, with no filter. */
static void check_chunk(const char *p, hsize_t want_rows) {
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "X", H5P_DEFAULT);
    hid_t pl = H5Dget_create_plist(d);
    hsize_t chunk[3] = {0};
    assert_int_equal(H5Pget_layout(pl), H5D_CHUNKED);
    int nd = H5Pget_chunk(pl, 3, chunk);
    assert_int_equal(H5Pget_nfilters(pl), 0);
    hid_t s = H5Dget_space(d);
    hsize_t dims[3] = {0};
    H5Sget_simple_extent_dims(s, dims, NULL);
    assert_int_equal(chunk[0], want_rows);
    for (int i = 1; i < nd; i++) assert_int_equal(chunk[i], dims[i]);
    H5Sclose(s);
    H5Pclose(pl);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_chunks_are_rows_of_about_1mib(void **state) {
    (void)state;
    st_error_t err = {0};
    st_dataset_spec_t s;
    /* 784 floats a row: 1 MiB / 3136 B = 334 rows. */
    int64_t n = 1000;
    float *X = calloc(1000000, sizeof *X); /* the largest spec below: 3 x 300 x 1000 */
    int32_t *y = calloc((size_t)n, sizeof *y);
    fill_spec(&s, n, st_shape1(784), X, y, 2);
    assert_int_equal(st_dataset_write(tu_tmp_path("c1.h5"), &s, &err), ST_OK);
    check_chunk(tu_tmp_path("c1.h5"), 334);
    /* A row larger than 1 MiB: one row per chunk. */
    fill_spec(&s, 3, st_shape2(300, 1000), X, y, 2);
    assert_int_equal(st_dataset_write(tu_tmp_path("c2.h5"), &s, &err), ST_OK);
    check_chunk(tu_tmp_path("c2.h5"), 1);
    /* Fewer rows than a chunk holds: one chunk of all rows. */
    fill_spec(&s, 5, st_shape1(3), X, y, 2);
    assert_int_equal(st_dataset_write(tu_tmp_path("c3.h5"), &s, &err), ST_OK);
    check_chunk(tu_tmp_path("c3.h5"), 5);
    free(X);
    free(y);
}

/* ---- the rules for K ---- */

static void test_k_rules(void **state) {
    (void)state;
    const int32_t y[6] = {0, 1, 2, 1, 0, 2};
    const char *names3[3] = {"a", "b", "c"}, *names4[4] = {"a", "b", "c", "d"};
    st_dataset_t ds;
    st_error_t err = {0};
    raw_t r = {.x_rank = 2, .x_dims = {6, 2}, .y_rows = 6, .y = y};
    /* Neither attribute: K = max(y) + 1. */
    write_raw(tu_tmp_path("k1.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("k1.h5"), &ds, &err), ST_OK);
    assert_int_equal(ds.n_classes, 3);
    assert_string_equal(ds.class_names[2], "2");
    assert_int_equal(ds.format_version, 1);
    st_dataset_close(&ds);
    /* n_classes alone (above max(y) + 1: an empty class is allowed here). */
    r.n_classes = 5;
    write_raw(tu_tmp_path("k2.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("k2.h5"), &ds, &err), ST_OK);
    assert_int_equal(ds.n_classes, 5);
    assert_string_equal(ds.class_names[4], "4");
    st_dataset_close(&ds);
    /* class_names alone, as fixed-length strings. */
    r.n_classes = 0;
    r.class_names = names4;
    r.n_class_names = 4;
    r.fixed_len_names = 1;
    write_raw(tu_tmp_path("k3.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("k3.h5"), &ds, &err), ST_OK);
    assert_int_equal(ds.n_classes, 4);
    assert_string_equal(ds.class_names[3], "d");
    st_dataset_close(&ds);
    /* Both, agreeing. */
    r.n_classes = 3;
    r.class_names = names3;
    r.n_class_names = 3;
    r.fixed_len_names = 0;
    write_raw(tu_tmp_path("k4.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("k4.h5"), &ds, &err), ST_OK);
    assert_int_equal(ds.n_classes, 3);
    st_dataset_close(&ds);
    /* Both, disagreeing. */
    r.n_classes = 4;
    write_raw(tu_tmp_path("k5.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("k5.h5"), &ds, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "k5.h5: n_classes = 4 but class_names has 3 names");
    /* K from n_classes below max(y) + 1: opening works, reading labels names the row. */
    r.n_classes = 2;
    r.class_names = NULL;
    r.n_class_names = 0;
    write_raw(tu_tmp_path("k6.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("k6.h5"), &ds, &err), ST_OK);
    int32_t yb[6];
    assert_int_equal(st_dataset_read_labels(&ds, yb, NULL, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "k6.h5: /y[2] = 2 is outside 0..1");
    st_dataset_close(&ds);
}

static void test_label_and_split_out_of_range(void **state) {
    (void)state;
    int32_t y[5] = {0, 1, 2, -1, 1};
    int32_t split[5] = {0, 0, 2, 1, 0};
    st_dataset_t ds;
    st_error_t err = {0};
    raw_t r = {.x_rank = 2, .x_dims = {5, 2}, .y_rows = 5, .y = y, .n_classes = 3, .split = split};
    write_raw(tu_tmp_path("neg.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("neg.h5"), &ds, &err), ST_OK);
    int32_t yb[5];
    uint8_t sb[5];
    assert_int_equal(st_dataset_read_labels(&ds, yb, sb, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "/y[3] = -1 is outside 0..2");
    /* The raw reader keeps the value for reports. */
    int64_t y64[5];
    int32_t s32[5];
    assert_int_equal(st_dataset_read_labels_raw(&ds, y64, s32, &err), ST_OK);
    assert_int_equal(y64[3], -1);
    assert_int_equal(s32[2], 2);
    st_dataset_close(&ds);

    y[3] = 0;
    split[4] = 5;
    write_raw(tu_tmp_path("split5.h5"), &r);
    assert_int_equal(st_dataset_open(tu_tmp_path("split5.h5"), &ds, &err), ST_OK);
    assert_int_equal(st_dataset_read_labels(&ds, yb, sb, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "/split[4] = 5 is not 0 (train), 1 (val) or 2 (test)");
    /* Without asking for split, labels alone are fine. */
    assert_int_equal(st_dataset_read_labels(&ds, yb, NULL, &err), ST_OK);
    st_dataset_close(&ds);
}

/* ---- layout errors ---- */

static void expect_open_error(const char *name, const char *text) {
    st_dataset_t ds;
    st_error_t err = {0};
    assert_int_not_equal(st_dataset_open(tu_tmp_path(name), &ds, &err), ST_OK);
    tu_assert_contains(err.msg, name);
    tu_assert_contains(err.msg, text);
}

static void test_layout_errors(void **state) {
    (void)state;
    const int32_t y[6] = {0, 1, 0, 1, 0, 1};
    FILE *f = fopen(tu_tmp_path("text.h5"), "w");
    fputs("label,a\n1,2\n", f);
    fclose(f);
    expect_open_error("text.h5", "not an HDF5 file");
    expect_open_error("missing.h5", "cannot open: No such file or directory");

    raw_t r = {.x_rank = 0, .y_rows = 6, .y = y};
    write_raw(tu_tmp_path("nox.h5"), &r);
    expect_open_error("nox.h5", "nox.h5: not a strata dataset: no /X dataset");

    r = (raw_t){.x_rank = 2, .x_dims = {6, 2}, .y_rows = -1};
    write_raw(tu_tmp_path("noy.h5"), &r);
    expect_open_error("noy.h5", "not a strata dataset: no /y dataset");

    r = (raw_t){.x_rank = 3, .x_dims = {6, 2, 2}, .y_rows = 5, .y = y};
    write_raw(tu_tmp_path("rows.h5"), &r);
    expect_open_error("rows.h5", "rows.h5: /X has 3 dimensions [N, T, C] but /y has 5 rows, /X 6");

    r = (raw_t){.x_rank = 2, .x_dims = {6, 2}, .x_f64 = 1, .y_rows = 6, .y = y};
    write_raw(tu_tmp_path("f64.h5"), &r);
    expect_open_error("f64.h5", "/X has type float64, expected float32");

    r = (raw_t){.x_rank = 1, .x_dims = {6}, .y_rows = 6, .y = y};
    write_raw(tu_tmp_path("x1.h5"), &r);
    expect_open_error("x1.h5", "/X has 1 dimension; expected [N, D] or [N, T, C]");

    const char *fn[3] = {"a", "b", "c"};
    r = (raw_t){.x_rank = 2, .x_dims = {6, 2}, .y_rows = 6, .y = y, .feature_names = fn, .n_feature_names = 3};
    write_raw(tu_tmp_path("fn.h5"), &r);
    expect_open_error("fn.h5", "feature_names has 3 names but /X has 2 features");

    r = (raw_t){.x_rank = 2, .x_dims = {6, 2}, .y_rows = 6, .y = y, .strata_format = 5};
    write_raw(tu_tmp_path("v5.h5"), &r);
    expect_open_error("v5.h5", "strata_format = 5, but this strata reads format 4 (written by a newer strata)");

    /* Issue 12: names that are not UTF-8 (Latin-1 from another tool) made `inspect --json` write
     * invalid JSON; they are refused, naming the attribute and the index. */
    const char *latin1[2] = {"caf\xe9", "ok"}, *fn2[2] = {"ok", "\xc3("};
    r = (raw_t){.x_rank = 2, .x_dims = {6, 2}, .y_rows = 6, .y = y, .class_names = latin1, .n_class_names = 2};
    write_raw(tu_tmp_path("latin1.h5"), &r);
    expect_open_error("latin1.h5", "latin1.h5: class_names[0] is not valid UTF-8");
    r = (raw_t){.x_rank = 2, .x_dims = {6, 2}, .y_rows = 6, .y = y, .feature_names = fn2, .n_feature_names = 2};
    write_raw(tu_tmp_path("fnutf8.h5"), &r);
    expect_open_error("fnutf8.h5", "fnutf8.h5: feature_names[1] is not valid UTF-8");
}

/* A feature name longer than 63 bytes is cut before a UTF-8 character, never inside one. */
static void test_long_utf8_name_is_cut_whole(void **state) {
    (void)state;
    const int32_t y[6] = {0, 1, 0, 1, 0, 1};
    char longname[80];
    memset(longname, 'a', 62);
    strcpy(longname + 62, "\xc3\xa9\xc3\xa9"); /* bytes 62..65: two 2-byte characters across the cut */
    const char *fn[2] = {longname, "b"};
    raw_t r = {.x_rank = 2, .x_dims = {6, 2}, .y_rows = 6, .y = y, .feature_names = fn, .n_feature_names = 2};
    write_raw(tu_tmp_path("longname.h5"), &r);
    st_dataset_t ds;
    st_error_t err = {0};
    assert_int_equal(st_dataset_open(tu_tmp_path("longname.h5"), &ds, &err), ST_OK);
    assert_int_equal(strlen(ds.feature_names[0]), 62);
    assert_true(st_utf8_valid(ds.feature_names[0]));
    st_dataset_close(&ds);
}

/* ---- writing ---- */

static void test_write_refuses_bad_specs(void **state) {
    (void)state;
    enum { N = 6 };
    float X[N * 3]; /* room for the [1, 3] rows below */
    int32_t y[N];
    st_dataset_spec_t s;
    fill_spec(&s, N, st_shape1(2), X, y, 3);
    st_error_t err = {0};
    const char *p = tu_tmp_path("refused.h5");
    tu_write_marker(p);
    y[4] = 3;
    s.n_classes = 3;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "refused.h5: y[4] = 3 is outside 0..2");
    tu_assert_marker(p);
    assert_false(tu_exists(tu_tmp_path("refused.h5.tmp")));
    y[4] = 1;
    const char *too_few[2] = {"a", "b"};
    s.n_feature_names = 2;
    s.feature_names = too_few;
    fill_spec(&s, N, st_shape2(1, 3), X, y, 3);
    s.n_feature_names = 2;
    s.feature_names = too_few;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "2 feature names for 3 channels");
    tu_assert_marker(p);
    /* Names that are not UTF-8 (issue 12: they would be refused when read back). */
    const char *bad_fn[3] = {"a", "b", "\xff"}, *bad_cn[3] = {"x", "caf\xe9", "z"};
    s.feature_names = bad_fn, s.n_feature_names = 3;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "refused.h5: feature name 2 is not valid UTF-8");
    s.feature_names = NULL, s.n_feature_names = 0, s.class_names = bad_cn;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "refused.h5: class name 1 is not valid UTF-8");
    s.class_names = NULL;
    tu_assert_marker(p);
    /* A folder that does not exist. */
    fill_spec(&s, N, st_shape1(2), X, y, 3);
    assert_int_equal(st_dataset_write(tu_tmp_path("no/such/dir.h5"), &s, &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "No such file or directory");
}

/* A write that fails half-way (the file size limit stops it) leaves neither the temporary nor
 * a partial file, and an existing file at the path keeps its content. */
static void test_failed_write_leaves_nothing(void **state) {
    (void)state;
    int64_t n = 2000;
    float *X = calloc((size_t)n * 1024, sizeof *X);
    int32_t *y = calloc((size_t)n, sizeof *y);
    st_dataset_spec_t s;
    fill_spec(&s, n, st_shape1(1024), X, y, 2); /* 8 MiB */
    const char *p = tu_tmp_path("limited.h5"), *fresh = tu_tmp_path("fresh.h5");
    tu_write_marker(p);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1 << 20;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    st_error_t err = {0};
    st_status_t rc1 = st_dataset_write(p, &s, &err);
    st_error_t err2 = {0};
    st_status_t rc2 = st_dataset_write(fresh, &s, &err2);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc1, ST_ERR_IO);
    tu_assert_contains(err.msg, "limited.h5: ");
    tu_assert_contains(err.msg, "nothing was written");
    tu_assert_marker(p);
    assert_false(tu_exists(tu_tmp_path("limited.h5.tmp")));
    assert_int_equal(rc2, ST_ERR_IO);
    assert_false(tu_exists(fresh));
    assert_false(tu_exists(tu_tmp_path("fresh.h5.tmp")));
    /* Without the limit the same write succeeds, replacing the file. */
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(p, &ds, &err), ST_OK);
    assert_int_equal(ds.n, n);
    st_dataset_close(&ds);
    free(X);
    free(y);
}

/* ---- collective reads ---- */

/* Issue 12: names were compact attributes of the root group (64 KiB): 5,000 feature or class
 * names failed with "cannot write attribute feature_names". Dense attribute storage takes
 * 100,000 feature names and 65,536 class names. */
static void test_many_names(void **state) {
    (void)state;
    enum { D = 100000, K = ST_MAX_CLASSES, N = 4 };
    float *X = calloc((size_t)N * D, sizeof *X);
    char (*fbuf)[16] = calloc(D, sizeof *fbuf), (*cbuf)[16] = calloc(K, sizeof *cbuf);
    const char **fn = calloc(D, sizeof *fn), **cn = calloc(K, sizeof *cn);
    for (int i = 0; i < D; i++) snprintf(fbuf[i], sizeof fbuf[i], "f%06d", i), fn[i] = fbuf[i];
    for (int i = 0; i < K; i++) snprintf(cbuf[i], sizeof cbuf[i], "class %05d", i), cn[i] = cbuf[i];
    int32_t y[N] = {0, K - 1, 7, 7};
    st_dataset_spec_t s = {.n = N, .shape = st_shape1(D), .X = X, .y = y, .n_classes = K, .class_names = cn,
                           .n_feature_names = D, .feature_names = fn, .source = "many names"};
    st_error_t err = {0};
    const char *p = tu_tmp_path("names.h5");
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(p, &ds, &err), ST_OK);
    assert_int_equal(ds.n_classes, K);
    assert_int_equal(ds.n_feature_names, D);
    assert_string_equal(ds.feature_names[D - 1], "f099999");
    assert_string_equal(ds.class_names[K - 1], "class 65535");
    assert_string_equal(ds.source, "many names");
    int32_t yb[N];
    assert_int_equal(st_dataset_read_labels(&ds, yb, NULL, &err), ST_OK);
    assert_memory_equal(yb, y, sizeof y);
    st_dataset_close(&ds);
    free(X), free(fbuf), free(cbuf), free(fn), free(cn);
}

static void test_collective_read(void **state) {
    (void)state;
    enum { N = 40, T = 3, C = 2 };
    float X[N * T * C], a[N * T * C], b[N * T * C];
    int32_t y[N];
    st_dataset_spec_t s;
    fill_spec(&s, N, st_shape2(T, C), X, y, 2);
    st_error_t err = {0};
    const char *p = tu_tmp_path("coll.h5");
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(p, &ds, &err), ST_OK);
    assert_int_equal(st_dataset_read_rows(&ds, 11, 20, a, MPI_COMM_WORLD, &err), ST_OK);
    assert_int_equal(st_dataset_read_rows(&ds, 11, 20, b, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(a, b, 20 * T * C * sizeof(float));
    assert_memory_equal(a, X + 11 * T * C, 20 * T * C * sizeof(float));
    /* A rank with no rows still takes part. */
    assert_int_equal(st_dataset_read_rows(&ds, 0, 0, NULL, MPI_COMM_WORLD, &err), ST_OK);
    /* A bad range fails on every rank instead of leaving the others waiting. */
    assert_int_equal(st_dataset_read_rows(&ds, 39, 2, a, MPI_COMM_WORLD, &err), ST_ERR_INTERNAL);
    tu_assert_contains(err.msg, "coll.h5: rows 39..+2 lie outside /X (40 rows)");
    st_dataset_close(&ds);
}

/* ---- targets and groups (format 2, issue 13) ---- */

/* Three targets and groups, no /y: written, opened, and read back by rows, ids and groups. */
static void test_targets_round_trip(void **state) {
    (void)state;
    enum { N = 6 };
    float X[N * 2];
    for (int i = 0; i < N * 2; i++) X[i] = (float)i;
    const int32_t c[N] = {0, 2, -1, 1, 2, 0};
    const uint8_t m[N * 3] = {1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0};
    const float r[N] = {0.5f, -2, 3.25f, 4, 1e6f, -7};
    const int64_t g[N] = {4, 4, -9, 1LL << 40, -9, 4};
    const char *cn[3] = {"cold", "warm", "hot"}, *rn[1] = {"score"};
    const st_target_spec_t ts[3] = {
        {.name = "temp", .kind = ST_TARGET_CLASS, .width = 1, .n_classes = 3, .names = cn, .allow_missing = 1, .values = c},
        {.name = "tags", .kind = ST_TARGET_MULTILABEL, .width = 3, .values = m},
        {.name = "r", .kind = ST_TARGET_REGRESSION, .width = 1, .names = rn, .values = r},
    };
    st_dataset_spec_t s = {.n = N, .shape = st_shape1(2), .X = X, .n_targets = 3, .targets = ts, .groups = g};
    st_error_t err = {0};
    const char *p = tu_tmp_path("targets.h5");
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(p, &ds, &err), ST_OK);
    assert_int_equal(ds.format_version, 2);
    assert_false(ds.has_y);
    assert_true(ds.has_groups);
    assert_int_equal(ds.n_targets, 3);
    int ti = st_dataset_target_find(&ds, "temp"), mi = st_dataset_target_find(&ds, "tags"),
        ri = st_dataset_target_find(&ds, "r");
    assert_true(ti >= 0 && mi >= 0 && ri >= 0);
    assert_int_equal(st_dataset_target_find(&ds, "y"), -1);
    const st_target_info_t *T = &ds.targets[ti], *M = &ds.targets[mi], *R = &ds.targets[ri];
    assert_int_equal(T->kind, ST_TARGET_CLASS);
    assert_int_equal(T->width, 1);
    assert_int_equal(T->n_classes, 3);
    assert_string_equal(T->names[2], "hot");
    assert_int_equal(T->allow_missing, 1);
    assert_string_equal(T->h5path, "/targets/temp");
    assert_int_equal(M->kind, ST_TARGET_MULTILABEL);
    assert_int_equal(M->width, 3);
    assert_string_equal(M->names[2], "tags[2]"); /* no label_names: "<target>[i]" */
    assert_int_equal(M->allow_missing, 0);
    assert_int_equal(R->kind, ST_TARGET_REGRESSION);
    assert_int_equal(R->width, 1);
    assert_string_equal(R->names[0], "score");
    float v[N * 3];
    assert_int_equal(st_dataset_read_target_rows(&ds, mi, 2, 3, v, MPI_COMM_NULL, &err), ST_OK);
    for (int i = 0; i < 9; i++) assert_true(v[i] == (float)m[6 + i]);
    assert_int_equal(st_dataset_read_target_rows(&ds, ri, 0, N, v, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(v, r, sizeof r);
    int64_t ids[N], groups[N];
    assert_int_equal(st_dataset_read_target_ids(&ds, ti, ids, &err), ST_OK);
    for (int i = 0; i < N; i++) assert_int_equal(ids[i], c[i]);
    assert_int_equal(st_dataset_read_target_ids(&ds, mi, ids, &err), ST_ERR_INTERNAL);
    assert_int_equal(st_dataset_read_groups(&ds, groups, &err), ST_OK);
    assert_memory_equal(groups, g, sizeof g);
    /* No /y: reading labels says so and points at data.stratify. */
    int32_t y[N];
    assert_int_equal(st_dataset_read_labels(&ds, y, NULL, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "targets.h5: has no /y");
    tu_assert_contains(err.msg, "data.stratify");
    st_dataset_close(&ds);
    /* A class id outside 0..K-1 (or −1 without allow_missing) is refused when written. */
    st_target_spec_t bad[1] = {ts[0]};
    bad[0].allow_missing = 0;
    s.targets = bad, s.n_targets = 1;
    assert_int_equal(st_dataset_write(tu_tmp_path("badclass.h5"), &s, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "badclass.h5: target temp row 2: class id -1 is outside 0..2");
}

/* A raw file with /X [6, 2] and one target dataset /targets/x ([rows] int32) whose kind
 * attribute is `kind` (NULL: none). */
static void write_raw_target(const char *path, hsize_t rows, const char *kind) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[2] = {6, 2};
    float X[12] = {0};
    hid_t s = H5Screate_simple(2, dx, NULL);
    hid_t d = H5Dcreate2(f, "X", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X);
    H5Dclose(d);
    H5Sclose(s);
    hid_t g = H5Gcreate2(f, "targets", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int32_t v[6] = {0, 1, 0, 1, 0, 1};
    s = H5Screate_simple(1, &rows, NULL);
    d = H5Dcreate2(g, "x", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (kind) st_h5_write_string_attr(d, "kind", &kind, -1);
    H5Dclose(d);
    H5Sclose(s);
    H5Gclose(g);
    H5Fclose(f);
}

static void test_target_layout_errors(void **state) {
    (void)state;
    write_raw_target(tu_tmp_path("short_target.h5"), 5, "class");
    expect_open_error("short_target.h5", "short_target.h5: /targets/x has 5 rows but /X has 6");
    write_raw_target(tu_tmp_path("bad_kind.h5"), 6, "banana");
    expect_open_error("bad_kind.h5",
                      "bad_kind.h5: /targets/x has kind \"banana\"; expected \"class\", \"multilabel\", \"regression\" or \"sequence\"");
    write_raw_target(tu_tmp_path("no_kind.h5"), 6, NULL);
    expect_open_error("no_kind.h5", "no_kind.h5: /targets/x has no attribute kind");
    /* The same file with a right kind opens: class count max + 1, default names. */
    write_raw_target(tu_tmp_path("ok_target.h5"), 6, "class");
    st_dataset_t ds;
    st_error_t err = {0};
    assert_int_equal(st_dataset_open(tu_tmp_path("ok_target.h5"), &ds, &err), ST_OK);
    assert_int_equal(ds.n_targets, 1);
    assert_int_equal(ds.targets[0].n_classes, 2);
    assert_string_equal(ds.targets[0].names[1], "1");
    assert_false(ds.has_y);
    st_dataset_close(&ds);
}

/* st_target_first_bad for each kind, with and without allow_missing. */
static void test_target_first_bad(void **state) {
    (void)state;
    char names[2][ST_NAME_MAX] = {"a", "b"}, why[160];
    st_target_info_t t = {.kind = ST_TARGET_CLASS, .width = 1, .n_classes = 3, .names = names};
    const float cls[4] = {0, 2, -1, 3};
    assert_int_equal(st_target_first_bad(&t, cls, 2, why, sizeof why), -1);
    assert_int_equal(st_target_first_bad(&t, cls, 4, why, sizeof why), 2);
    tu_assert_contains(why, "class id -1 (a missing value) needs the target's allow_missing attribute");
    t.allow_missing = 1;
    assert_int_equal(st_target_first_bad(&t, cls, 4, why, sizeof why), 3);
    tu_assert_contains(why, "class id 3 is outside 0..2 (or -1: missing)");
    const float frac[1] = {1.5f};
    assert_int_equal(st_target_first_bad(&t, frac, 1, why, sizeof why), 0);

    t = (st_target_info_t){.kind = ST_TARGET_MULTILABEL, .width = 2, .names = names};
    const float ml[6] = {0, 1, 1, 0, 1, 0.5f};
    assert_int_equal(st_target_first_bad(&t, ml, 2, why, sizeof why), -1);
    assert_int_equal(st_target_first_bad(&t, ml, 3, why, sizeof why), 2);
    tu_assert_contains(why, "column 1 (b) is 0.5, not 0 or 1");

    t = (st_target_info_t){.kind = ST_TARGET_REGRESSION, .width = 1, .names = names};
    const float reg[3] = {-1e30f, NAN, INFINITY};
    assert_int_equal(st_target_first_bad(&t, reg, 1, why, sizeof why), -1);
    assert_int_equal(st_target_first_bad(&t, reg, 3, why, sizeof why), 1);
    tu_assert_contains(why, "column 0 (a) is nan (a missing value needs allow_missing)");
    t.allow_missing = 1;
    assert_int_equal(st_target_first_bad(&t, reg, 3, why, sizeof why), 2);
    tu_assert_contains(why, "column 0 (a) is inf, not a finite number");
}

static int setup(void **state) {
    (void)state;
    return tu_tmpdir_create("dataset");
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tu_tmpdir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_features),
        cmocka_unit_test(test_round_trip_sequences_defaults),
        cmocka_unit_test(test_chunks_are_rows_of_about_1mib),
        cmocka_unit_test(test_k_rules),
        cmocka_unit_test(test_label_and_split_out_of_range),
        cmocka_unit_test(test_layout_errors),
        cmocka_unit_test(test_write_refuses_bad_specs),
        cmocka_unit_test(test_failed_write_leaves_nothing),
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_long_utf8_name_is_cut_whole),
        cmocka_unit_test(test_collective_read),
        cmocka_unit_test(test_targets_round_trip),
        cmocka_unit_test(test_target_layout_errors),
        cmocka_unit_test(test_target_first_bad),
    };
    int rc = cmocka_run_group_tests_name("dataset", tests, setup, teardown);
    MPI_Finalize();
    return rc;
}
