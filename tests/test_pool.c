/* test_pool.c — max_pool1d, avg_pool1d, global_avg_pool, global_max_pool and flatten: PyTorch
 * reference values (stride ≠ kernel, padding, default stride), finite differences, output
 * shapes, tie handling and the error messages. */
#include "testutil.h"
#include "layertest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/global_pool.h"
#include "layers/pool1d.h"

#define FIX "conv_pool.h5"

/* Runs the layer on the fixture's x and dout; compares out and dx with PyTorch
 * (|got − ref| <= 1e-6 + 1e-5·|ref| for max, which copies values; 1e-5 + 1e-5·|ref| for averages). */
static void compare_with_torch(const char *cas, const char *json, st_shape_t in, int B, double atol) {
    char path[128];
    size_t n;
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 1);
    st_layer_t *L = &t->L;
#define FX(name) (snprintf(path, sizeof path, "%s/%s", cas, name), tu_read_f32(FIX, path, &n))
    float *x = FX("x");
    assert_int_equal(n, (size_t)B * st_shape_numel(in));
    float *out_ref = FX("out");
    size_t n_out = (size_t)B * st_shape_numel(L->out_shape), n_in = (size_t)B * st_shape_numel(in);
    assert_int_equal(n, n_out); /* T_out agrees with PyTorch */
    float *dout = FX("dout"), *dx_ref = FX("dx");
#undef FX
    float *out = calloc(n_out, sizeof(float)), *dx = malloc(n_in * sizeof(float));
    for (size_t i = 0; i < n_in; i++) dx[i] = NAN; /* every element must be written */
    L->kind->forward(L, &t->ctx, out, x, B);
    tu_assert_close("out", out, out_ref, n_out, atol, 1e-5);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    tu_assert_close("dx", dx, dx_ref, n_in, atol, 1e-5);
    free(x), free(out_ref), free(dout), free(dx_ref), free(out), free(dx);
    tu_layer_free(t);
}

static void compare_pool_case(const char *cas, const char *type) {
    int k = (int)tu_read_attr(FIX, cas, "kernel_size"), s = (int)tu_read_attr(FIX, cas, "stride");
    int p = (int)tu_read_attr(FIX, cas, "padding"), B = (int)tu_read_attr(FIX, cas, "B");
    int T = (int)tu_read_attr(FIX, cas, "T"), C = (int)tu_read_attr(FIX, cas, "C");
    char json[256];
    if (strstr(cas, "default")) /* leave stride out: it defaults to kernel_size */
        snprintf(json, sizeof json, "{\"type\":\"%s\",\"kernel_size\":%d,\"padding\":%d}", type, k, p);
    else
        snprintf(json, sizeof json, "{\"type\":\"%s\",\"kernel_size\":%d,\"stride\":%d,\"padding\":%d}", type, k, s, p);
    compare_with_torch(cas, json, st_shape2(T, C), B, strcmp(type, "max_pool1d") == 0 ? 1e-6 : 1e-5);
}

static void test_torch_max_pool(void **st) {
    (void)st;
    compare_pool_case("max_k3_s2_p1", "max_pool1d");
    compare_pool_case("max_k4_s3_p2", "max_pool1d");
    compare_pool_case("max_k2_default", "max_pool1d");
    compare_pool_case("max_k5_s1_p2", "max_pool1d");
}

static void test_torch_avg_pool(void **st) {
    (void)st;
    compare_pool_case("avg_k3_s2_p1", "avg_pool1d");
    compare_pool_case("avg_k4_s1_p2", "avg_pool1d");
    compare_pool_case("avg_k2_default", "avg_pool1d");
    compare_pool_case("avg_k5_s3_p1", "avg_pool1d");
}

static void test_torch_global_pools(void **st) {
    (void)st;
    compare_with_torch("global_avg", "{\"type\":\"global_avg_pool\"}", st_shape2(7, 4), 3, 1e-5);
    compare_with_torch("global_max", "{\"type\":\"global_max_pool\"}", st_shape2(7, 4), 3, 1e-6);
    compare_with_torch("global_avg_long", "{\"type\":\"global_avg_pool\"}", st_shape2(50, 5), 2, 1e-5);
    compare_with_torch("global_max_long", "{\"type\":\"global_max_pool\"}", st_shape2(50, 5), 2, 1e-6);
}

/* Smallest gap between the largest and second-largest real value of any window, for the
 * inputs tu_layer_gradcheck(seed) draws: finite differences of a max are only valid when no
 * step of ±eps changes the winner. */
static double min_window_gap(int B, int T, int C, int K, int stride, int padding, int T_out, uint64_t seed) {
    size_t n = (size_t)B * T * C;
    float *x = malloc(n * sizeof(float));
    tu_fill_normal(x, n, seed);
    double gap = INFINITY;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++)
            for (int c = 0; c < C; c++) {
                double m1 = -INFINITY, m2 = -INFINITY;
                for (int ti = t * stride - padding; ti < t * stride - padding + K; ti++) {
                    if (ti < 0 || ti >= T) continue;
                    double v = x[((size_t)b * T + ti) * C + c];
                    if (v > m1) m2 = m1, m1 = v;
                    else if (v > m2) m2 = v;
                }
                if (m2 > -INFINITY && m1 - m2 < gap) gap = m1 - m2;
            }
    free(x);
    return gap;
}

static void gradcheck_max(const char *json, int B, int T, int C, int K, int stride, int padding, uint64_t seed) {
    const double eps = 1e-3;
    tu_layer_t *t = tu_layer_new(json, st_shape2(T, C), B, 0, 1);
    int T_out = t->L.out_shape.rank == 2 ? t->L.out_shape.d[0] : 1;
    double gap = min_window_gap(B, T, C, K, stride, padding, T_out, seed);
    if (!(gap > 4 * eps)) fail_msg("%s: seed %lu gives a near-tie (gap %g): pick another", json, (unsigned long)seed, gap);
    tu_layer_gradcheck(t, B, seed, eps, 1e-3, 1e-3);
    tu_layer_free(t);
}

static void test_finite_differences(void **st) {
    (void)st;
    gradcheck_max("{\"type\":\"max_pool1d\",\"kernel_size\":3,\"stride\":2,\"padding\":1}", 2, 11, 3, 3, 2, 1, 11);
    gradcheck_max("{\"type\":\"max_pool1d\",\"kernel_size\":4,\"stride\":3,\"padding\":2}", 3, 14, 2, 4, 3, 2, 12);
    gradcheck_max("{\"type\":\"max_pool1d\",\"kernel_size\":2}", 2, 9, 4, 2, 2, 0, 13);
    gradcheck_max("{\"type\":\"max_pool1d\",\"kernel_size\":5,\"stride\":1,\"padding\":2}", 2, 8, 3, 5, 1, 2, 14);
    gradcheck_max("{\"type\":\"global_max_pool\"}", 3, 7, 4, 7, 1, 0, 15);
    static const struct { const char *json; int T, C; } lin[] = {
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":3,\"stride\":2,\"padding\":1}", 11, 3},
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":4,\"stride\":1,\"padding\":2}", 7, 2},
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":2}", 9, 4},
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":5,\"stride\":3,\"padding\":1}", 16, 3},
        {"{\"type\":\"global_avg_pool\"}", 7, 4},
        {"{\"type\":\"flatten\"}", 5, 3},
    };
    for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++) {
        tu_layer_t *t = tu_layer_new(lin[i].json, st_shape2(lin[i].T, lin[i].C), 3, 0, 1);
        tu_layer_gradcheck(t, 3, 40 + i, 1e-2, 2e-3, 2e-3);
        tu_layer_free(t);
    }
    tu_layer_t *t = tu_layer_new("{\"type\":\"flatten\"}", st_shape1(6), 3, 0, 1);
    tu_layer_gradcheck(t, 3, 50, 1e-2, 2e-3, 2e-3);
    tu_layer_free(t);
}

/* T_out = floor((T + 2·padding − K)/stride) + 1, hand-computed; stride defaults to K. */
static void test_output_shapes(void **st) {
    (void)st;
    static const struct { const char *json; int T, C; st_shape_t out; } cases[] = {
        {"{\"type\":\"max_pool1d\",\"kernel_size\":2}", 10, 3, {2, {5, 3}}},
        {"{\"type\":\"max_pool1d\",\"kernel_size\":2}", 11, 3, {2, {5, 3}}},
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":3,\"stride\":2,\"padding\":1}", 11, 2, {2, {6, 2}}},
        {"{\"type\":\"max_pool1d\",\"kernel_size\":4,\"stride\":3,\"padding\":2}", 14, 2, {2, {5, 2}}},
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":4,\"stride\":1,\"padding\":2}", 7, 2, {2, {8, 2}}},
        {"{\"type\":\"max_pool1d\",\"kernel_size\":5}", 5, 1, {2, {1, 1}}},
        {"{\"type\":\"avg_pool1d\",\"kernel_size\":3,\"stride\":1}", 3, 7, {2, {1, 7}}},
        {"{\"type\":\"global_avg_pool\"}", 9, 6, {1, {6, 0}}},
        {"{\"type\":\"global_max_pool\"}", 1, 5, {1, {5, 0}}},
        {"{\"type\":\"flatten\"}", 4, 5, {1, {20, 0}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_layer_t *t = tu_layer_new(cases[i].json, st_shape2(cases[i].T, cases[i].C), 1, 0, 1);
        if (!st_shape_equal(t->L.out_shape, cases[i].out)) {
            char got[48], want[48];
            st_shape_str(t->L.out_shape, got, sizeof got);
            st_shape_str(cases[i].out, want, sizeof want);
            fail_msg("%s on [%d, %d]: out shape %s, expected %s", cases[i].json, cases[i].T, cases[i].C, got, want);
        }
        assert_int_equal(t->L.n_params, 0);
        tu_layer_free(t);
    }
    tu_layer_t *t = tu_layer_new("{\"type\":\"flatten\"}", st_shape1(13), 1, 0, 1);
    assert_true(st_shape_equal(t->L.out_shape, st_shape1(13)));
    tu_layer_free(t);
    assert_int_equal(st_pool1d_out_len(11, 3, 2, 1), 6);
    assert_int_equal(st_pool1d_out_len(3, 5, 1, 0), 0);
}

/* Ties: the first maximum wins and takes the whole gradient (PyTorch); NaN propagates. */
static void test_max_ties_and_nan(void **st) {
    (void)st;
    /* one channel, T = 6, windows of 3 with stride 3: [2, 5, 5] and [1, 1, 1] */
    float x[6] = {2, 5, 5, 1, 1, 1}, out[2], dout[2] = {10, 20}, dx[6];
    tu_layer_t *t = tu_layer_new("{\"type\":\"max_pool1d\",\"kernel_size\":3}", st_shape2(6, 1), 1, 0, 1);
    t->L.kind->forward(&t->L, &t->ctx, out, x, 1);
    t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, 1);
    float want_dx[6] = {0, 10, 0, 20, 0, 0};
    assert_float_equal(out[0], 5, 0);
    assert_float_equal(out[1], 1, 0);
    assert_memory_equal(dx, want_dx, sizeof dx);
    x[4] = NAN;
    t->L.kind->forward(&t->L, &t->ctx, out, x, 1);
    assert_true(isnan(out[1]));
    tu_layer_free(t);
    /* global max over T = 4, two channels */
    float g[8] = {3, -1, 7, -1, 7, -2, 0, -1}, gout[2], gdout[2] = {1, 2}, gdx[8];
    t = tu_layer_new("{\"type\":\"global_max_pool\"}", st_shape2(4, 2), 1, 0, 1);
    t->L.kind->forward(&t->L, &t->ctx, gout, g, 1);
    t->L.kind->backward(&t->L, &t->ctx, gdx, gdout, g, gout, 1);
    float want_gdx[8] = {0, 2, 1, 0, 0, 0, 0, 0};
    assert_float_equal(gout[0], 7, 0);
    assert_float_equal(gout[1], -1, 0);
    assert_memory_equal(gdx, want_gdx, sizeof gdx);
    tu_layer_free(t);
}

/* flatten is T-major: feature t·C + c is element (t, c), i.e. a copy of the channels-last data. */
static void test_flatten_is_t_major_copy(void **st) {
    (void)st;
    enum { B = 2, T = 3, C = 4, N = B * T * C };
    float x[N], out[N], dout[N], dx[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i * 7 % 11) - 5.0f, dout[i] = (float)i;
    tu_layer_t *t = tu_layer_new("{\"type\":\"flatten\"}", st_shape2(T, C), B, 0, 1);
    t->L.kind->forward(&t->L, &t->ctx, out, x, B);
    for (int b = 0; b < B; b++)
        for (int ti = 0; ti < T; ti++)
            for (int c = 0; c < C; c++)
                assert_float_equal(out[b * T * C + ti * C + c], x[(b * T + ti) * C + c], 0);
    t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, B);
    assert_memory_equal(dx, dout, sizeof dx);
    t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, B); /* din NULL: nothing to do */
    tu_layer_free(t);
}

static void test_errors_name_the_path(void **st) {
    (void)st;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"max_pool1d\",\"kernel_size\":2}", st_shape1(784), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: max_pool1d needs a sequence input [T, C], got [784]");
    assert_int_equal(tu_layer_try("{\"type\":\"avg_pool1d\",\"kernel_size\":2}", st_shape1(10), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: avg_pool1d needs a sequence input [T, C], got [10]");
    assert_int_equal(tu_layer_try("{\"type\":\"global_avg_pool\"}", st_shape1(10), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: global_avg_pool needs a sequence input [T, C], got [10]");
    assert_int_equal(tu_layer_try("{\"type\":\"global_max_pool\"}", st_shape1(10), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: global_max_pool needs a sequence input [T, C], got [10]");
    assert_int_equal(tu_layer_try("{\"type\":\"max_pool1d\",\"kernel_size\":3,\"padding\":2}", st_shape2(10, 2), 0, &err),
                     ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].padding: at most kernel_size/2 = 1 (as in PyTorch), got 2");
    assert_int_equal(tu_layer_try("{\"type\":\"avg_pool1d\",\"kernel_size\":4,\"padding\":2}", st_shape2(10, 2), 0, &err), ST_OK);
    assert_int_equal(tu_layer_try("{\"type\":\"avg_pool1d\",\"kernel_size\":6,\"padding\":1}", st_shape2(3, 2), 0, &err),
                     ST_ERR_SHAPE);
    assert_string_equal(err.msg,
                        "model.layers[0]: avg_pool1d window (kernel_size 6) is longer than the padded input (T 3 + 2*padding 1 = 5)");
    assert_int_equal(tu_layer_try("{\"type\":\"max_pool1d\",\"kernel_size\":2,\"stride\":0}", st_shape2(10, 2), 0, &err),
                     ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].stride: expected a positive integer, got 0");
    assert_int_equal(tu_layer_try("{\"type\":\"max_pool1d\"}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].kernel_size: required key is missing");
    assert_int_equal(tu_layer_try("{\"type\":\"flatten\",\"start_dim\":1}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"start_dim\""));
    assert_int_equal(tu_layer_try("{\"type\":\"global_avg_pool\",\"keepdim\":true}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"keepdim\""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_max_pool),
        cmocka_unit_test(test_torch_avg_pool),
        cmocka_unit_test(test_torch_global_pools),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_output_shapes),
        cmocka_unit_test(test_max_ties_and_nan),
        cmocka_unit_test(test_flatten_is_t_major_copy),
        cmocka_unit_test(test_errors_name_the_path),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
