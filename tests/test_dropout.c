/* test_dropout.c — dropout: the Philox mask against the Python reproduction (and the result
 * against PyTorch applying it), mask identity across batch positions and sizes, dependence on
 * step / layer / seed, kept fraction, eval mode, finite differences and option errors. */
#include "testutil.h"
#include "layertest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/dropout.h"
#include "philox.h"

#define FIXTURE "norm_act.h5"

static float *fx(const char *cas, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, name);
    return tu_read_f32(FIXTURE, path, n);
}

static void dropout_vs_torch(const char *cas, st_shape_t in, int B) {
    double rate = tu_read_attr(FIXTURE, cas, "rate");
    char json[96];
    snprintf(json, sizeof json, "{\"type\":\"dropout\",\"rate\":%.17g}", rate);
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 1);
    st_layer_t *L = &t->L;
    L->index = (int)tu_read_attr(FIXTURE, cas, "layer_index");
    t->ctx.seed = (uint64_t)tu_read_attr(FIXTURE, cas, "seed");
    t->ctx.step = (uint32_t)tu_read_attr(FIXTURE, cas, "step");
    int64_t sample_index[16];
    char path[128];
    snprintf(path, sizeof path, "%s/sample_index", cas);
    if (tu_fixture_has(FIXTURE, path)) {
        size_t n_ids;
        double *ids = tu_read_f64(FIXTURE, path, &n_ids);
        assert_int_equal(n_ids, B);
        for (int b = 0; b < B; b++) sample_index[b] = (int64_t)ids[b];
        free(ids);
        t->ctx.sample_index = sample_index;
    }
    long n = st_shape_numel(in);
    size_t count = (size_t)B * n, n_ref;
    float *x = fx(cas, "x", &n_ref), *keep = fx(cas, "keep", NULL), *dout = fx(cas, "dout", NULL);
    float *out_ref = fx(cas, "out", NULL), *dx_ref = fx(cas, "dx", NULL);
    assert_int_equal(n_ref, count);
    float *out = calloc(count, sizeof(float)), *dx = calloc(count, sizeof(float)), *mask = calloc(count, sizeof(float));

    /* the mask itself: exactly the Python recipe's keep pattern, kept values 1/(1-rate) */
    st_dropout_mask(mask, t->ctx.sample_index, t->ctx.seed, (uint32_t)L->index, t->ctx.step, rate, B, n);
    float scale = (float)(1.0 / (1.0 - rate));
    for (size_t i = 0; i < count; i++) {
        if (keep[i] != 0.0f) assert_true(mask[i] == scale);
        else assert_true(mask[i] == 0.0f);
    }
    /* the layer: PyTorch's x·mask/(1-rate) to float rounding (one multiplication, <= 1 ulp) */
    L->kind->forward(L, &t->ctx, out, x, B);
    tu_assert_close("out", out, out_ref, count, 0, 2e-7);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    tu_assert_close("dx", dx, dx_ref, count, 0, 2e-7);
    free(x), free(keep), free(dout), free(out_ref), free(dx_ref), free(out), free(dx), free(mask);
    tu_layer_free(t);
}

static void test_matches_torch_sequence(void **s) {
    (void)s;
    dropout_vs_torch("dropout_sequence", st_shape2(3, 6), 5);
}

static void test_matches_torch_features(void **s) {
    (void)s;
    dropout_vs_torch("dropout_features", st_shape1(10), 4);
}

/* out = forward(ones) is the mask itself. */
static void mask_of(tu_layer_t *t, float *mask, int B) {
    long count = (long)B * st_shape_numel(t->L.in_shape);
    float *ones = malloc(sizeof(float) * count);
    for (long i = 0; i < count; i++) ones[i] = 1.0f;
    t->L.kind->forward(&t->L, &t->ctx, mask, ones, B);
    free(ones);
}

/* A sample's mask depends on (seed, step, layer, sample id), not on its row or the batch size. */
static void test_mask_follows_the_sample(void **s) {
    (void)s;
    enum { B = 6, T = 5, C = 7, N = T * C };
    tu_layer_t *t = tu_layer_new("{\"type\":\"dropout\",\"rate\":0.4}", st_shape2(T, C), B, 0, 1);
    t->ctx.step = 11;
    float batch[B * N], alone[N];
    int64_t ids[B] = {500, 17, 3, 123456789012LL, 9, 8};
    t->ctx.sample_index = ids;
    mask_of(t, batch, B);
    int64_t id3 = ids[3];
    t->ctx.sample_index = &id3;
    mask_of(t, alone, 1);
    assert_memory_equal(alone, batch + 3 * N, sizeof alone);
    /* row 0 of the batch: sample 500, not sample 0 (which NULL sample_index gives row 0) */
    t->ctx.sample_index = NULL;
    mask_of(t, alone, 1);
    assert_true(memcmp(alone, batch, sizeof alone) != 0);
    int64_t id0 = 0;
    t->ctx.sample_index = &id0;
    float again[N];
    mask_of(t, again, 1);
    assert_memory_equal(again, alone, sizeof again);
    tu_layer_free(t);
}

static int n_differences(const float *a, const float *b, long n) {
    int d = 0;
    for (long i = 0; i < n; i++) d += a[i] != b[i];
    return d;
}

static void test_mask_changes_with_step_layer_and_seed(void **s) {
    (void)s;
    enum { B = 4, D = 64, N = B * D };
    tu_layer_t *t = tu_layer_new("{\"type\":\"dropout\"}", st_shape1(D), B, 0, 1);
    float m0[N], m1[N];
    t->ctx.step = 5;
    mask_of(t, m0, B);
    mask_of(t, m1, B);
    assert_memory_equal(m0, m1, sizeof m0); /* same key, same mask */
    /* at rate 0.5 two independent masks differ in about half the places */
    t->ctx.step = 6;
    mask_of(t, m1, B);
    assert_true(n_differences(m0, m1, N) > N / 4);
    t->ctx.step = 5;
    t->L.index = 1;
    mask_of(t, m1, B);
    assert_true(n_differences(m0, m1, N) > N / 4);
    t->L.index = 0;
    t->ctx.seed = 2;
    mask_of(t, m1, B);
    assert_true(n_differences(m0, m1, N) > N / 4);
    tu_layer_free(t);
}

static void test_kept_fraction(void **s) {
    (void)s;
    const double rates[] = {0.1, 0.3, 0.5, 0.9};
    enum { B = 64, D = 1000, N = B * D };
    float *mask = malloc(sizeof(float) * N);
    for (int k = 0; k < 4; k++) {
        st_dropout_mask(mask, NULL, 7, 2, 3, rates[k], B, D);
        long kept = 0;
        double sum = 0;
        for (long i = 0; i < N; i++) kept += mask[i] != 0.0f, sum += mask[i];
        double frac = (double)kept / N, sd = sqrt(rates[k] * (1 - rates[k]) / N);
        if (fabs(frac - (1 - rates[k])) > 5 * sd)
            fail_msg("rate %g: kept fraction %g, expected %g +- %g", rates[k], frac, 1 - rates[k], 5 * sd);
        /* inverted dropout keeps the mean: E[mask] = 1 */
        assert_float_equal(sum / N, 1.0, 5 * sd / (1 - rates[k]));
    }
    /* rate 0 keeps everything, unscaled */
    st_dropout_mask(mask, NULL, 7, 2, 3, 0.0, B, D);
    for (long i = 0; i < N; i++) assert_true(mask[i] == 1.0f);
    free(mask);
}

/* Kept iff unit >= rate, compared in double: a rate equal to the unit keeps the element, the next
 * double above it drops it (a float comparison would round that rate back onto the unit). */
static void test_keep_threshold(void **s) {
    (void)s;
    uint32_t w[4];
    st_rand_u32x4(5, ST_RNG_DROPOUT, 2, 9, 0, w); /* sample 0, elements 0..3 */
    double u = st_u32_to_unit(w[1]);
    float mask[4];
    st_dropout_mask(mask, NULL, 5, 2, 9, u, 1, 4);
    assert_true(mask[1] == (float)(1.0 / (1.0 - u)));
    st_dropout_mask(mask, NULL, 5, 2, 9, nextafter(u, 1.0), 1, 4);
    assert_true(mask[1] == 0.0f);
}

static void test_eval_is_identity(void **s) {
    (void)s;
    enum { B = 3, T = 4, C = 5, N = B * T * C };
    tu_layer_t *t = tu_layer_new("{\"type\":\"dropout\",\"rate\":0.7}", st_shape2(T, C), B, 0, 1);
    float x[N], out[N], dout[N], dx[N];
    tu_fill_normal(x, N, 1);
    tu_fill_normal(dout, N, 2);
    t->ctx.training = 0;
    t->L.kind->forward(&t->L, &t->ctx, out, x, B);
    assert_memory_equal(out, x, sizeof x);
    t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, B);
    assert_memory_equal(dx, dout, sizeof dout);
    /* in training the same input is changed */
    t->ctx.training = 1;
    t->L.kind->forward(&t->L, &t->ctx, out, x, B);
    assert_true(n_differences(out, x, N) > 0);
    tu_layer_free(t);
}

static void test_finite_differences(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"dropout\",\"rate\":0.3}", st_shape1(9), 4, 0, 1);
    t->ctx.step = 3;
    tu_layer_gradcheck(t, 4, 21, 1e-2, 1e-4, 1e-4);
    tu_layer_free(t);
    t = tu_layer_new("{\"type\":\"dropout\"}", st_shape2(3, 5), 3, 0, 1);
    int64_t ids[3] = {40, 41, 7};
    t->ctx.sample_index = ids;
    tu_layer_gradcheck(t, 3, 22, 1e-2, 1e-4, 1e-4);
    tu_layer_free(t);
}

static void test_option_errors(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"dropout\",\"rate\":1.0}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].rate: expected a number in [0, 1), got 1");
    assert_int_equal(tu_layer_try("{\"type\":\"dropout\",\"rate\":-0.1}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].rate: expected a number in [0, 1], got -0.1");
    assert_int_equal(tu_layer_try("{\"type\":\"dropout\",\"rate\":\"half\"}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].rate: expected a number in [0, 1], got \"half\"");
    assert_int_equal(tu_layer_try("{\"type\":\"dropout\",\"p\":0.2}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"p\""));
    tu_layer_t *t = tu_layer_new("{\"type\":\"dropout\"}", st_shape2(2, 3), 1, 0, 1);
    assert_float_equal(st_layer_opt(&t->L, "rate")->num, 0.5, 0);
    assert_int_equal(t->L.n_params, 0);
    assert_true(st_shape_equal(t->L.out_shape, t->L.in_shape));
    tu_layer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_torch_sequence),
        cmocka_unit_test(test_matches_torch_features),
        cmocka_unit_test(test_mask_follows_the_sample),
        cmocka_unit_test(test_mask_changes_with_step_layer_and_seed),
        cmocka_unit_test(test_kept_fraction),
        cmocka_unit_test(test_keep_threshold),
        cmocka_unit_test(test_eval_is_identity),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_option_errors),
    };
    return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
