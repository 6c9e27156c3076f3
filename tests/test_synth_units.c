/* test_synth_units.c — the pieces under `strata synth` and the streamed converters (issue 18):
 * synthetic rows are a function of (seed, row) only (any piece boundaries give the same bits, a
 * different seed other bits), labels cover the classes, and the class means are `separation`
 * apart on average; the streaming writer round-trips rows written out of order and removes its
 * temporary on abort; the CSV label interning keeps one copy per distinct string through
 * growth; a mapped CSV text reads the same after its pages were dropped. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sharding/csv_intern.h"
#include "sharding/csv_text.h"
#include "sharding/dataset_stream.h"
#include "sharding/synth.h"

enum { N = 600, D = 12, K = 4 };

static st_synth_options_t options(uint64_t seed) {
    return (st_synth_options_t){.n_rows = N, .shape = st_shape1(D), .n_classes = K, .seed = seed,
                                .separation = 4.0, .piece_mb = 1, .format = ST_SYNTH_H5};
}

static void test_rows_do_not_depend_on_pieces(void **state) {
    (void)state;
    st_synth_options_t o = options(11);
    static float mu[K * D], a[N * D], b[N * D], c[N * D];
    static int32_t ya[N], yb[N], yc[N];
    st_synth_means(mu, &o);
    st_synth_rows(a, ya, NULL, NULL, mu, &o, 0, N);
    for (int64_t r0 = 0; r0 < N; r0 += 77) { /* uneven pieces */
        int64_t n = N - r0 < 77 ? N - r0 : 77;
        st_synth_rows(b + r0 * D, yb + r0, NULL, NULL, mu, &o, r0, n);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(ya, yb, sizeof ya);
    st_synth_options_t o2 = options(12);
    st_synth_means(mu, &o2);
    st_synth_rows(c, yc, NULL, NULL, mu, &o2, 0, N);
    assert_memory_not_equal(a, c, sizeof a);
    int count[K] = {0};
    for (int i = 0; i < N; i++) count[ya[i]]++;
    for (int k = 0; k < K; k++) assert_true(count[k] > N / K / 2);
}

static void test_means_are_separation_apart(void **state) {
    (void)state;
    st_synth_options_t o = options(3);
    o.n_classes = 64, o.shape = st_shape1(256);
    float *mu = malloc(64 * 256 * sizeof *mu);
    st_synth_means(mu, &o);
    double sum = 0;
    int pairs = 0;
    for (int a = 0; a < 64; a++)
        for (int b = a + 1; b < 64; b++, pairs++) {
            double d2 = 0;
            for (int j = 0; j < 256; j++) d2 += pow(mu[a * 256 + j] - mu[b * 256 + j], 2);
            sum += sqrt(d2);
        }
    free(mu);
    assert_true(fabs(sum / pairs - 4.0) < 0.1); /* E|mu_a - mu_b| = separation (up to chi's bias) */
}

static void test_stream_writer_out_of_order_and_abort(void **state) {
    (void)state;
    const char *path = tu_tmp_path("stream.h5");
    static float X[10 * 3];
    static int32_t y[10];
    for (int i = 0; i < 30; i++) X[i] = (float)i;
    for (int i = 0; i < 10; i++) y[i] = i % 3;
    st_stream_spec_t spec = {.n = 10, .shape = st_shape1(3), .n_classes = 3, .source = "unit"};
    st_dataset_stream_t w;
    st_error_t err = {0};
    assert_int_equal(st_stream_create(&w, path, &spec, MPI_COMM_NULL, &err), ST_OK);
    assert_int_equal(st_stream_write(&w, 6, 4, X + 18, y + 6, NULL, NULL, NULL, &err), ST_OK);
    assert_int_equal(st_stream_write(&w, 0, 6, X, y, NULL, NULL, NULL, &err), ST_OK);
    assert_int_not_equal(st_stream_write(&w, 8, 4, X, y, NULL, NULL, NULL, &err), ST_OK); /* past the end */
    tu_assert_contains(err.msg, "lie outside its 10 rows");
    assert_int_equal(st_stream_finish(&w, &err), ST_OK);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    assert_int_equal(ds.n, 10);
    assert_int_equal(ds.n_classes, 3);
    float back[30];
    assert_int_equal(st_dataset_read_rows(&ds, 0, 10, back, MPI_COMM_NULL, &err), ST_OK);
    assert_memory_equal(back, X, sizeof back);
    st_dataset_close(&ds);

    const char *gone = tu_tmp_path("aborted.h5");
    assert_int_equal(st_stream_create(&w, gone, &spec, MPI_COMM_NULL, &err), ST_OK);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", gone);
    assert_true(tu_exists(tmp));
    st_stream_abort(&w);
    assert_false(tu_exists(tmp));
    assert_false(tu_exists(gone));
}

static void test_intern(void **state) {
    (void)state;
    st_csv_intern_t t = {0};
    const char *a = st_csv_intern(&t, "cat"), *b = st_csv_intern(&t, "dog");
    char name[32];
    for (int i = 0; i < 5000; i++) snprintf(name, sizeof name, "label-%d", i), assert_non_null(st_csv_intern(&t, name));
    assert_ptr_equal(st_csv_intern(&t, "cat"), a); /* the same copy after many growths */
    assert_ptr_equal(st_csv_intern(&t, "dog"), b);
    assert_ptr_not_equal(a, b);
    assert_string_equal(a, "cat");
    assert_int_equal(t.n, 5002);
    st_csv_intern_free(&t);
}

static void test_csv_text_drop_and_reread(void **state) {
    (void)state;
    const char *path = tu_tmp_path("text.csv");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200000; i++) fprintf(f, "%d,%d\n", i, i % 7); /* ~2 MB: several pages */
    fclose(f);
    st_csv_text_t t;
    st_error_t err = {0};
    assert_int_equal(st_csv_text_open(path, &t, &err), ST_OK);
    assert_true(t.mapped);
    unsigned long sum1 = 0, sum2 = 0;
    for (size_t i = 0; i < t.size; i++) sum1 += (unsigned char)t.text[i] * (i % 13 + 1);
    st_csv_text_drop_before(&t, t.text + t.size, 1);
    for (size_t i = 0; i < t.size; i++) sum2 += (unsigned char)t.text[i] * (i % 13 + 1);
    assert_true(sum1 == sum2);
    st_csv_text_close(&t);
    assert_int_not_equal(st_csv_text_open(tu_tmp_path("missing.csv"), &t, &err), ST_OK);
    tu_assert_contains(err.msg, "missing.csv: cannot open");
}

static int setup(void **state) {
    (void)state;
    return tu_tmpdir_create("synth_units");
}

static int teardown(void **state) {
    (void)state;
    return tu_tmpdir_remove();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_do_not_depend_on_pieces),
        cmocka_unit_test(test_means_are_separation_apart),
        cmocka_unit_test(test_stream_writer_out_of_order_and_abort),
        cmocka_unit_test(test_intern),
        cmocka_unit_test(test_csv_text_drop_and_reread),
    };
    return cmocka_run_group_tests_name("synth_units", tests, setup, teardown);
}
