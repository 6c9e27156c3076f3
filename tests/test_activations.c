/* test_activations.c — relu, leaky_relu, gelu (erf and tanh), sigmoid, tanh, hardswish: PyTorch
 * float32 reference values and exact (float64) ones, including inputs exactly at the kinks 0 and
 * ±3 where PyTorch's gradient conventions are matched; finite differences on both ranks; option
 * errors. */
#include "testutil.h"
#include "layertest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activations.h"

#define FIXTURE "norm_act.h5"

typedef struct {
    const char *fixture;     /* group under act/ */
    const char *json;
    double atol, rtol;       /* out and dx against float32 PyTorch */
    double atol_x, rtol_x;   /* out and dx against the exact (float64) values */
    float kinks[2];          /* where the derivative jumps (FD inputs must stay away) */
    int n_kinks;
} act_case_t;

/* Tolerances. relu, leaky_relu, hardswish: the same one or two float operations as PyTorch, so
 * equal to it, and within 1-2 roundings of exact (hardswish's x/3 + 1/2 cancels near x = -1.5,
 * hence its atol against exact). gelu, sigmoid, tanh: strata is within a few ulp of the exact
 * values (x = -8 in gelu: the rounding of x/√2 is amplified ~x² times). Float32 PyTorch is not:
 * 1 + erf, 1 + tanh, 1 - y and 1 - y² cancel in its formulas, costing up to ~1.2e-7·|x| or
 * ~1.2e-7·|dout| absolute, which the atol against PyTorch allows (dout here is up to ~2.5). */
static const act_case_t cases[] = {
    {"relu", "{\"type\":\"relu\"}", 0, 0, 0, 0, {0}, 1},
    {"leaky_relu", "{\"type\":\"leaky_relu\"}", 0, 0, 0, 1.2e-7, {0}, 1},
    {"leaky_relu_0.2", "{\"type\":\"leaky_relu\",\"negative_slope\":0.2}", 0, 0, 0, 1.2e-7, {0}, 1},
    {"gelu", "{\"type\":\"gelu\"}", 3e-7, 1e-6, 1e-12, 2e-6, {0}, 0},
    {"gelu_tanh", "{\"type\":\"gelu\",\"approximate\":\"tanh\"}", 4e-7, 1e-6, 1e-12, 2e-6, {0}, 0},
    {"sigmoid", "{\"type\":\"sigmoid\"}", 1.5e-7, 1e-6, 1e-12, 4e-7, {0}, 0},
    {"tanh", "{\"type\":\"tanh\"}", 3e-7, 1e-6, 1e-12, 4e-7, {0}, 0},
    {"hardswish", "{\"type\":\"hardswish\"}", 0, 0, 1e-7, 2.4e-7, {-3, 3}, 2},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

static float *fx(const char *cas, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "act/%s/%s", cas, name);
    return tu_read_f32(FIXTURE, path, n);
}

/* The fixture's [4, 16] input, read as B = 4 samples of shape `in`. */
static void compare_with_torch(const act_case_t *c, st_shape_t in) {
    enum { B = 4 };
    size_t n;
    float *x = tu_read_f32(FIXTURE, "act/x", &n), *dout = tu_read_f32(FIXTURE, "act/dout", NULL);
    float *out_ref = fx(c->fixture, "out", NULL), *dx_ref = fx(c->fixture, "dx", NULL);
    float *out_exact = fx(c->fixture, "out_exact", NULL), *dx_exact = fx(c->fixture, "dx_exact", NULL);
    tu_layer_t *t = tu_layer_new(c->json, in, B, 0, 1);
    assert_int_equal(n, (size_t)B * st_shape_numel(in));
    assert_true(st_shape_equal(t->L.out_shape, in));
    assert_int_equal(t->L.n_params, 0);
    float *out = calloc(n, sizeof(float)), *dx = calloc(n, sizeof(float));
    char what[96];
    t->L.kind->forward(&t->L, &t->ctx, out, x, B);
    snprintf(what, sizeof what, "%s out vs PyTorch", c->fixture);
    tu_assert_close(what, out, out_ref, n, c->atol, c->rtol);
    snprintf(what, sizeof what, "%s out vs exact", c->fixture);
    tu_assert_close(what, out, out_exact, n, c->atol_x, c->rtol_x);
    t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, B);
    snprintf(what, sizeof what, "%s dx vs PyTorch", c->fixture);
    tu_assert_close(what, dx, dx_ref, n, c->atol, c->rtol);
    snprintf(what, sizeof what, "%s dx vs exact", c->fixture);
    tu_assert_close(what, dx, dx_exact, n, c->atol_x, c->rtol_x);
    /* din NULL: nothing to do, nothing written */
    t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, B);
    /* eval mode is the same function */
    t->ctx.training = 0;
    t->L.kind->forward(&t->L, &t->ctx, dx, x, B);
    assert_memory_equal(dx, out, n * sizeof(float));
    free(x), free(dout), free(out_ref), free(dx_ref), free(out_exact), free(dx_exact), free(out), free(dx);
    tu_layer_free(t);
}

static void test_matches_torch(void **s) {
    (void)s;
    for (int k = 0; k < N_CASES; k++) {
        compare_with_torch(&cases[k], st_shape1(16));
        compare_with_torch(&cases[k], st_shape2(2, 8));
    }
}

/* PyTorch's conventions at the kinks, stated directly (the fixture holds them too). */
static void test_gradient_at_kinks(void **s) {
    (void)s;
    const float x[5] = {-3.0f, 3.0f, 0.0f, -3.0001f, 3.0001f};
    const float ones[5] = {1, 1, 1, 1, 1};
    float din[5], out[5];
    st_hardswish_backward(din, ones, x, 5);
    assert_true(din[0] == -0.5f && din[1] == 1.5f && din[2] == 0.5f && din[3] == 0.0f && din[4] == 1.0f);
    st_hardswish_forward(out, x, 5);
    assert_true(out[0] == 0.0f && out[1] == 3.0f && out[2] == 0.0f && out[3] == 0.0f && out[4] == x[4]);
    st_relu_backward(din, ones, x, 5);
    assert_true(din[2] == 0.0f && din[1] == 1.0f && din[0] == 0.0f);
    st_leaky_relu_backward(din, ones, x, 0.25f, 5);
    assert_true(din[2] == 0.25f && din[1] == 1.0f && din[0] == 0.25f);
}

/* Fails unless every input tu_layer_gradcheck(seed) draws is at least `margin` from each kink,
 * so that the finite differences never straddle one. */
static void assert_inputs_avoid_kinks(const act_case_t *c, size_t n, uint64_t seed, double margin) {
    float *x = malloc(n * sizeof(float));
    tu_fill_normal(x, n, seed);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < c->n_kinks; k++)
            if (fabs(x[i] - c->kinks[k]) < margin)
                fail_msg("%s: gradcheck input %zu = %g is within %g of the kink at %g; pick another seed",
                         c->fixture, i, x[i], margin, c->kinks[k]);
    free(x);
}

static void gradcheck(const act_case_t *c, st_shape_t in, int B, uint64_t seed) {
    const double eps = 1e-3;
    tu_layer_t *t = tu_layer_new(c->json, in, B, 0, 1);
    assert_inputs_avoid_kinks(c, (size_t)B * st_shape_numel(in), seed, 2 * eps);
    tu_layer_gradcheck(t, B, seed, eps, 5e-4, 1e-3);
    tu_layer_free(t);
}

static void test_finite_differences(void **s) {
    (void)s;
    for (int k = 0; k < N_CASES; k++) {
        gradcheck(&cases[k], st_shape1(12), 5, 31);
        gradcheck(&cases[k], st_shape2(3, 7), 4, 32);
    }
    /* hardswish's curved part only on [-3, 3]: check it with wide inputs too (x ~ N(0, 4²)) */
    tu_layer_t *t = tu_layer_new("{\"type\":\"hardswish\"}", st_shape1(40), 2, 0, 1);
    float x[80], r[80], out[80], din[80];
    tu_fill_normal(x, 80, 33);
    tu_fill_normal(r, 80, 34);
    int below = 0, above = 0;
    for (int i = 0; i < 80; i++) {
        x[i] *= 4.0f;
        if (fabsf(fabsf(x[i]) - 3.0f) < 0.05f) x[i] += 0.1f;  /* keep off the ends */
        below += x[i] < -3, above += x[i] > 3;
    }
    assert_true(below > 0 && above > 0);
    t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
    t->L.kind->backward(&t->L, &t->ctx, din, r, x, out, 2);
    for (int i = 0; i < 80; i++) {
        float xp = x[i] + 1e-2f, xm = x[i] - 1e-2f, yp, ym;
        st_hardswish_forward(&yp, &xp, 1);
        st_hardswish_forward(&ym, &xm, 1);
        double fd = r[i] * ((double)yp - ym) / ((double)xp - xm);
        assert_float_equal(din[i], fd, 5e-4 + 1e-3 * fabs(fd));
    }
    tu_layer_free(t);
}

static void test_option_errors(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"gelu\",\"approximate\":\"fast\"}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].approximate: expected one of none|tanh, got \"fast\"");
    assert_int_equal(tu_layer_try("{\"type\":\"leaky_relu\",\"negative_slope\":-0.1}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].negative_slope: expected a number in [0, 1], got -0.1");
    assert_int_equal(tu_layer_try("{\"type\":\"leaky_relu\",\"slope\":0.1}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"slope\""));
    assert_int_equal(tu_layer_try("{\"type\":\"relu\",\"inplace\":true}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"inplace\""));
    assert_int_equal(tu_layer_try("{\"type\":\"hardswish\"}", st_shape2(3, 4), 0, &err), ST_OK);
    /* defaults */
    tu_layer_t *t = tu_layer_new("{\"type\":\"leaky_relu\"}", st_shape1(4), 1, 0, 1);
    assert_float_equal(st_layer_opt(&t->L, "negative_slope")->num, 0.01, 0);
    tu_layer_free(t);
    t = tu_layer_new("{\"type\":\"gelu\"}", st_shape1(4), 1, 0, 1);
    assert_string_equal(st_layer_opt(&t->L, "approximate")->s, "none");
    tu_layer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_torch),
        cmocka_unit_test(test_gradient_at_kinks),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_option_errors),
    };
    return cmocka_run_group_tests_name("activations", tests, NULL, NULL);
}
