/* test_conv1d.c — conv1d layer: PyTorch reference values (plain, stride+padding, dilation,
 * groups, depthwise, no bias, a mix of all, and a size that crosses BLIS's blocking), finite
 * differences for every configuration, output-length inference, initialisation bounds,
 * thread-count independence and the error messages. */
#include "testutil.h"
#include "layertest.h"

#include <blis.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv1d.h"

#define FIX "conv_pool.h5"

/* The layer JSON for a fixture case, from the case's attributes. */
static void case_json(const char *cas, char *json, size_t size) {
#define A(name) ((long)tu_read_attr(FIX, cas, name))
    snprintf(json, size,
             "{\"type\":\"conv1d\",\"filters\":%ld,\"kernel_size\":%ld,\"stride\":%ld,\"padding\":%ld,"
             "\"dilation\":%ld,\"groups\":%ld,\"bias\":%s}",
             A("filters"), A("kernel_size"), A("stride"), A("padding"), A("dilation"), A("groups"),
             A("bias") ? "true" : "false");
}

/* Tolerances |got − ref| <= atol + rtol·|ref|: 1e-5 and 1e-5 for out, dx, dweight and dbias
 * (float32 sums of at most B·T_out = 160 terms, in a different order than PyTorch's). */
static void compare_with_torch(const char *cas) {
    char json[512], path[128];
    case_json(cas, json, sizeof json);
    int B = A("B"), T = A("T"), C_in = A("C_in"), has_bias = A("bias");
    tu_layer_t *t = tu_layer_new(json, st_shape2(T, C_in), B, 0, 1);
    st_layer_t *L = &t->L;
    size_t n;
#define FX(name) (snprintf(path, sizeof path, "%s/%s", cas, name), tu_read_f32(FIX, path, &n))
    float *W = FX("weight");
    assert_int_equal(L->n_params, has_bias ? 2 : 1);
    assert_int_equal(L->params[0].n, (size_t)A("filters") * (C_in / A("groups")) * A("kernel_size"));
    memcpy(L->params[0].data, W, L->params[0].n * sizeof(float));
    if (has_bias) {
        float *b = FX("bias");
        assert_int_equal(n, L->params[1].n);
        memcpy(L->params[1].data, b, n * sizeof(float));
        free(b);
    }
#undef FX
    tu_layer_check_fixture(t, B, FIX, cas); /* T_out, out, dx, dweight, dbias against PyTorch */
    free(W);
    tu_layer_free(t);
}
#undef A

static void test_torch_plain(void **s) { (void)s; compare_with_torch("plain"); }
static void test_torch_stride2_pad1(void **s) { (void)s; compare_with_torch("stride2_pad1"); }
static void test_torch_dilation2(void **s) { (void)s; compare_with_torch("dilation2"); }
static void test_torch_groups2(void **s) { (void)s; compare_with_torch("groups2"); }
static void test_torch_depthwise(void **s) { (void)s; compare_with_torch("depthwise"); }
static void test_torch_depthwise_strided(void **s) { (void)s; compare_with_torch("depthwise_strided"); }
static void test_torch_nobias(void **s) { (void)s; compare_with_torch("nobias"); }
static void test_torch_mixed(void **s) { (void)s; compare_with_torch("mixed"); }
static void test_torch_wide(void **s) { (void)s; compare_with_torch("wide"); }

/* Finite differences of d(Σ out·r) w.r.t. input, weight and bias for every configuration. */
static void test_finite_differences(void **s) {
    (void)s;
    static const struct { const char *json; int T, C; } cases[] = {
        {"{\"type\":\"conv1d\",\"filters\":5,\"kernel_size\":3}", 10, 4},
        {"{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":4,\"stride\":2,\"padding\":1}", 11, 3},
        {"{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"dilation\":2,\"padding\":2}", 12, 3},
        {"{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":3,\"groups\":2,\"padding\":1,\"init\":\"he\"}", 9, 4},
        {"{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":3,\"groups\":3,\"padding\":1}", 10, 3},
        {"{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"groups\":4,\"stride\":2,\"padding\":2,\"dilation\":2}", 13, 4},
        {"{\"type\":\"conv1d\",\"filters\":3,\"kernel_size\":2,\"bias\":false,\"init\":\"xavier\"}", 8, 5},
        {"{\"type\":\"conv1d\",\"filters\":9,\"kernel_size\":5,\"stride\":3,\"padding\":2,\"dilation\":2,\"groups\":3}", 17, 6},
        {"{\"type\":\"conv1d\",\"filters\":3,\"kernel_size\":4,\"stride\":5}", 14, 1}, /* C_in = 1: depthwise path */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_layer_t *t = tu_layer_new(cases[i].json, st_shape2(cases[i].T, cases[i].C), 3, 0, 7 + i);
        tu_layer_gradcheck(t, 3, 20 + i, 1e-2, 2e-3, 2e-3);
        tu_layer_free(t);
    }
}

/* T_out = floor((T + 2·padding − dilation·(K−1) − 1)/stride) + 1, checked on hand-computed cases. */
static void test_output_length(void **s) {
    (void)s;
    static const struct { const char *json; int T, C, T_out, F; } cases[] = {
        {"{\"type\":\"conv1d\",\"filters\":5,\"kernel_size\":3}", 10, 4, 8, 5},
        {"{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":4,\"stride\":2,\"padding\":1}", 11, 3, 5, 4},
        {"{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"dilation\":2,\"padding\":2}", 12, 3, 12, 4},
        {"{\"type\":\"conv1d\",\"filters\":9,\"kernel_size\":5,\"stride\":3,\"padding\":2,\"dilation\":2,\"groups\":3}", 17, 6, 5, 9},
        {"{\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":5}", 5, 1, 1, 2},
        {"{\"type\":\"conv1d\",\"filters\":8,\"kernel_size\":7,\"stride\":4,\"padding\":3}", 100, 2, 25, 8},
        {"{\"type\":\"conv1d\",\"filters\":8,\"kernel_size\":1,\"stride\":3}", 10, 2, 4, 8},
        {"{\"type\":\"conv1d\",\"filters\":1,\"kernel_size\":3,\"padding\":1,\"dilation\":3,\"stride\":2}", 9, 2, 3, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_layer_t *t = tu_layer_new(cases[i].json, st_shape2(cases[i].T, cases[i].C), 1, 0, 1);
        assert_int_equal(t->L.out_shape.rank, 2);
        assert_int_equal(t->L.out_shape.d[0], cases[i].T_out);
        assert_int_equal(t->L.out_shape.d[1], cases[i].F);
        tu_layer_free(t);
    }
    assert_int_equal(st_conv1d_out_len(10, 3, 1, 0, 1), 8);
    assert_int_equal(st_conv1d_out_len(4, 3, 1, 0, 2), 0);
}

/* Parameter names, sizes, decay flags, defaults and the init bounds. */
static void test_parameters_and_init(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":3,\"groups\":2,\"l2\":0.5}",
                                 st_shape2(9, 4), 2, 0, 3);
    st_layer_t *L = &t->L;
    assert_int_equal(L->n_params, 2);
    assert_string_equal(L->params[0].name, "layers.0.weight");
    assert_string_equal(L->params[1].name, "layers.0.bias");
    assert_int_equal(L->params[0].n, 6 * 2 * 3);
    assert_int_equal(L->params[1].n, 6);
    assert_int_equal(L->params[0].decay, 1);
    assert_int_equal(L->params[1].decay, 0);
    assert_float_equal(L->params[0].l2, 0.5, 0);
    assert_int_equal(L->scratch_per_sample, 7 * 4 * 3);
    /* default: U(±1/sqrt(fan_in)), fan_in = C_in/groups·K = 6, for weight and bias */
    float bound = 1.0f / sqrtf(6.0f), wmax = 0, bmax = 0;
    for (size_t i = 0; i < L->params[0].n; i++) wmax = fmaxf(wmax, fabsf(L->params[0].data[i]));
    for (size_t i = 0; i < L->params[1].n; i++) bmax = fmaxf(bmax, fabsf(L->params[1].data[i]));
    assert_true(wmax <= bound && wmax > 0.5f * bound);
    assert_true(bmax <= bound && bmax > 0);
    tu_layer_free(t);
    t = tu_layer_new("{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":3,\"init\":\"he\"}", st_shape2(9, 4), 2, 0, 3);
    for (size_t i = 0; i < t->L.params[1].n; i++) assert_float_equal(t->L.params[1].data[i], 0, 0);
    assert_int_equal(t->L.params[0].n, 6 * 4 * 3);
    tu_layer_free(t);
    /* depthwise needs no column buffer */
    t = tu_layer_new("{\"type\":\"conv1d\",\"filters\":8,\"kernel_size\":3,\"groups\":4}", st_shape2(9, 4), 2, 0, 3);
    assert_int_equal(t->L.scratch_per_sample, 0);
    assert_int_equal(t->L.params[0].n, 8 * 1 * 3);
    tu_layer_free(t);
}

/* Parameter gradients add up over calls; din == NULL leaves them unchanged. */
static void test_gradients_accumulate(void **s) {
    (void)s;
    static const char *const jsons[] = {
        "{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"padding\":1,\"groups\":2}",
        "{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"padding\":1,\"groups\":4}",
    };
    for (int j = 0; j < 2; j++) {
        tu_layer_t *t = tu_layer_new(jsons[j], st_shape2(6, 4), 2, 0, 5);
        float x[48], dout[48], out[48], dx[48], g1[64];
        size_t np = t->n_params;
        assert_true(np <= 64);
        tu_fill_normal(x, 48, 1);
        tu_fill_normal(dout, 48, 2);
        t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
        t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, 2);
        memcpy(g1, t->grads, np * sizeof(float));
        t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, 2);
        for (size_t i = 0; i < np; i++) assert_float_equal(t->grads[i], 2 * g1[i], 1e-5);
        tu_layer_free(t);
    }
}

/* Outputs and all gradients are bitwise the same for 1 and 4 threads (OpenMP and BLIS). */
static void test_thread_count_independent(void **s) {
    (void)s;
    static const char *const jsons[] = {
        "{\"type\":\"conv1d\",\"filters\":300,\"kernel_size\":5,\"padding\":2,\"groups\":2}",
        "{\"type\":\"conv1d\",\"filters\":200,\"kernel_size\":5,\"padding\":2,\"groups\":100}",
    };
    for (int j = 0; j < 2; j++) tu_layer_assert_threads_agree(jsons[j], st_shape2(64, 100), 16, 4);
    omp_set_num_threads(omp_get_num_procs());
    bli_thread_set_num_threads(1);
}

static void test_errors_name_the_path(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3}", st_shape1(784), 0, &err),
                     ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: conv1d needs a sequence input [T, C], got [784]");
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"groups\":3}", st_shape2(10, 6), 0, &err),
                     ST_ERR_CONFIG);
    assert_string_equal(err.msg,
                        "model.layers[0].groups: input channels (6) and filters (4) must both be divisible by groups (3)");
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":2,\"groups\":4}", st_shape2(10, 6), 0, &err),
                     ST_ERR_CONFIG);
    assert_string_equal(err.msg,
                        "model.layers[0].groups: input channels (6) and filters (4) must both be divisible by groups (4)");
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":5,\"dilation\":2,\"padding\":1}", st_shape2(6, 2), 0, &err),
                     ST_ERR_SHAPE);
    assert_string_equal(err.msg,
                        "model.layers[0]: conv1d kernel spans 9 steps (kernel_size 5, dilation 2), longer than the padded input (T 6 + 2*padding 1 = 8)");
    /* the kernel exactly fits: T_out = 1 */
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":5,\"dilation\":2,\"padding\":1}", st_shape2(7, 2), 0, &err),
                     ST_OK);
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"kernel_size\":3}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].filters: required key is missing");
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":0,\"kernel_size\":3}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].filters: expected a positive integer, got 0");
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":3,\"padding\":-1}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].padding: expected a non-negative integer, got -1");
    assert_int_equal(tu_layer_try("{\"type\":\"conv1d\",\"filters\":2,\"kernel\":3}", st_shape2(10, 2), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "unknown key \"kernel\""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_plain),
        cmocka_unit_test(test_torch_stride2_pad1),
        cmocka_unit_test(test_torch_dilation2),
        cmocka_unit_test(test_torch_groups2),
        cmocka_unit_test(test_torch_depthwise),
        cmocka_unit_test(test_torch_depthwise_strided),
        cmocka_unit_test(test_torch_nobias),
        cmocka_unit_test(test_torch_mixed),
        cmocka_unit_test(test_torch_wide),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_output_length),
        cmocka_unit_test(test_parameters_and_init),
        cmocka_unit_test(test_gradients_accumulate),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_errors_name_the_path),
    };
    return cmocka_run_group_tests_name("conv1d", tests, NULL, NULL);
}
