/* test_dense.c — dense layer: finite differences, PyTorch reference values, option handling. */
#include "testutil.h"
#include "layertest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void compare_with_torch(const char *cas, const char *json, st_shape_t in, int B, int has_bias) {
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 1);
    st_layer_t *L = &t->L;
    char path[128];
    size_t n;
#define FX(name) (snprintf(path, sizeof path, "%s/%s", cas, name), tu_read_f32("dense.h5", path, &n))
    float *W = FX("weight");
    assert_int_equal(n, L->params[0].n);
    memcpy(L->params[0].data, W, n * sizeof(float));
    assert_int_equal(L->n_params, has_bias ? 2 : 1);
    if (has_bias) {
        float *b = FX("bias");
        memcpy(L->params[1].data, b, n * sizeof(float));
        free(b);
    }
#undef FX
    tu_layer_check_fixture(t, B, "dense.h5", cas);
    free(W);
    tu_layer_free(t);
}

static void test_matches_torch_features(void **s) {
    (void)s;
    compare_with_torch("features", "{\"type\":\"dense\",\"units\":4}", st_shape1(7), 5, 1);
}

static void test_matches_torch_sequence(void **s) {
    (void)s;
    compare_with_torch("sequence", "{\"type\":\"dense\",\"units\":6,\"bias\":false}", st_shape2(4, 5), 3, 0);
}

static void test_matches_torch_wide(void **s) {
    (void)s;
    compare_with_torch("wide", "{\"type\":\"dense\",\"units\":129}", st_shape1(300), 64, 1);
}

static void test_finite_differences(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"dense\",\"units\":5}", st_shape1(6), 4, 0, 3);
    tu_layer_gradcheck(t, 4, 11, 1e-2, 2e-3, 2e-3);
    tu_layer_free(t);
    t = tu_layer_new("{\"type\":\"dense\",\"units\":3,\"init\":\"he\"}", st_shape2(5, 4), 3, 0, 3);
    tu_layer_gradcheck(t, 3, 12, 1e-2, 2e-3, 2e-3);
    tu_layer_free(t);
}

/* Gradients add up across calls (micro-batches accumulate). */
static void test_parameter_gradients_accumulate(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"dense\",\"units\":3}", st_shape1(4), 2, 0, 5);
    float x[8], dout[6], out[6], g1[15];
    tu_fill_normal(x, 8, 1);
    tu_fill_normal(dout, 6, 2);
    t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
    t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, 2);
    memcpy(g1, t->grads, sizeof g1);
    t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, 2);
    for (int i = 0; i < 15; i++) assert_float_equal(t->grads[i], 2 * g1[i], 1e-6);
    tu_layer_free(t);
}

static void test_bias_off_before_batchnorm_and_classes(void **s) {
    (void)s;
    st_error_t err = {0};
    cJSON *obj = cJSON_Parse("{\"type\":\"dense\",\"units\":\"classes\"}");
    st_layer_t L;
    assert_int_equal(st_layer_build(&L, obj, "model.layers[2]", "layers.2", 2, st_shape1(8), 10, "batchnorm", &err), ST_OK);
    assert_int_equal(L.n_params, 1);
    assert_int_equal(L.out_shape.d[0], 10);
    assert_int_equal(st_layer_build(&L, obj, "model.layers[2]", "layers.2", 2, st_shape1(8), 10, "relu", &err), ST_OK);
    assert_int_equal(L.n_params, 2);
    assert_string_equal(L.params[1].name, "layers.2.bias");
    assert_int_equal(st_layer_build(&L, obj, "model.layers[2]", "layers.2", 2, st_shape1(8), 0, NULL, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[2].units: \"classes\" needs the dataset's class count"));
    cJSON_Delete(obj);
}

static void test_option_errors_name_the_path(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"dense\",\"units\":\"abc\"}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].units: expected a positive integer or \"classes\", got \"abc\"");
    assert_int_equal(tu_layer_try("{\"type\":\"dense\",\"unit\":3}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "unknown key \"unit\" (did you mean \"units\"?)"));
    assert_int_equal(tu_layer_try("{\"type\":\"dense\"}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].units: required key is missing");
    assert_int_equal(tu_layer_try("{\"type\":\"dense\",\"units\":2,\"init\":\"glorot\"}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].init: expected one of default|he|xavier, got \"glorot\"");
    assert_int_equal(tu_layer_try("{\"type\":\"dens\",\"units\":2}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0].type: unknown layer type \"dens\" (did you mean \"dense\"?); known types: dense, batchnorm"));
}

/* Initialisation: PyTorch's default U(±1/sqrt(fan_in)) for weight and bias, He and Xavier on
 * request; checked by bounds and moments over a large layer, and keyed by the seed. */
static void moments(const float *x, size_t n, double *mean, double *std, double *max_abs) {
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i], m = fmax(m, fabs(x[i]));
    *mean = s / n, *std = sqrt(s2 / n - (s / n) * (s / n)), *max_abs = m;
}

static void test_initialisation(void **s) {
    (void)s;
    const int K = 400, N = 300;
    double mean, std, max_abs, bound = 1.0 / sqrt(K);
    tu_layer_t *t = tu_layer_new("{\"type\":\"dense\",\"units\":300}", st_shape1(K), 1, 0, 42);
    moments(t->L.params[0].data, (size_t)K * N, &mean, &std, &max_abs);
    assert_true(max_abs <= bound && max_abs > 0.99 * bound);
    assert_true(fabs(std - bound / sqrt(3.0)) < 0.01 * bound && fabs(mean) < 0.01 * bound);
    moments(t->L.params[1].data, N, &mean, &std, &max_abs);
    assert_true(max_abs <= bound && max_abs > 0.9 * bound);
    tu_layer_t *same = tu_layer_new("{\"type\":\"dense\",\"units\":300}", st_shape1(K), 1, 0, 42);
    tu_layer_t *other = tu_layer_new("{\"type\":\"dense\",\"units\":300}", st_shape1(K), 1, 0, 43);
    assert_memory_equal(t->params, same->params, t->n_params * sizeof(float));
    assert_memory_not_equal(t->params, other->params, t->n_params * sizeof(float));
    tu_layer_free(t), tu_layer_free(same), tu_layer_free(other);

    t = tu_layer_new("{\"type\":\"dense\",\"units\":300,\"init\":\"he\"}", st_shape1(K), 1, 0, 42);
    moments(t->L.params[0].data, (size_t)K * N, &mean, &std, &max_abs);
    assert_true(fabs(std - sqrt(2.0 / K)) < 0.01 * sqrt(2.0 / K) && fabs(mean) < 0.01 * std);
    moments(t->L.params[1].data, N, &mean, &std, &max_abs);
    assert_true(max_abs == 0.0);
    tu_layer_free(t);

    t = tu_layer_new("{\"type\":\"dense\",\"units\":300,\"init\":\"xavier\"}", st_shape1(K), 1, 0, 42);
    moments(t->L.params[0].data, (size_t)K * N, &mean, &std, &max_abs);
    double xb = sqrt(6.0 / (K + N));
    assert_true(max_abs <= xb && max_abs > 0.99 * xb && fabs(std - xb / sqrt(3.0)) < 0.01 * xb);
    tu_layer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_torch_features),
        cmocka_unit_test(test_matches_torch_sequence),
        cmocka_unit_test(test_matches_torch_wide),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_parameter_gradients_accumulate),
        cmocka_unit_test(test_bias_off_before_batchnorm_and_classes),
        cmocka_unit_test(test_option_errors_name_the_path),
        cmocka_unit_test(test_initialisation),
    };
    return cmocka_run_group_tests_name("dense", tests, NULL, NULL);
}
