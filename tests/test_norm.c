/* test_norm.c — batchnorm and layernorm: PyTorch reference values (training and eval forward and
 * backward, running statistics), finite differences, the running-statistics update rule, the
 * exposed statistics functions, thread-count independence and option errors. */
#include "testutil.h"
#include "layertest.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers/batchnorm.h"
#include "layers/layernorm.h"

#define FIXTURE "norm_act.h5"

static float *fx(const char *cas, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, name);
    return tu_read_f32(FIXTURE, path, n);
}

/* Copies fixture tensor cas/name into dst, checking its length. */
static void load_into(float *dst, size_t n_expected, const char *cas, const char *name) {
    size_t n;
    float *v = fx(cas, name, &n);
    assert_int_equal(n, n_expected);
    memcpy(dst, v, n * sizeof(float));
    free(v);
}

/* Asserts that got [n] matches fixture tensor cas/name within atol + rtol·|ref|. */
static void check(const char *cas, const char *name, const float *got, size_t n, double atol, double rtol) {
    size_t n_ref;
    float *ref = fx(cas, name, &n_ref);
    assert_int_equal(n_ref, n);
    char what[128];
    snprintf(what, sizeof what, "%s/%s", cas, name);
    tu_assert_close(what, got, ref, n, atol, rtol);
    free(ref);
}

static void randomise_params(tu_layer_t *t, uint64_t seed) {
    /* gamma around 1, beta around 0: away from the trivial initial values */
    tu_fill_uniform(t->L.params[0].data, t->L.params[0].n, 0.5f, 1.5f, seed);
    tu_fill_uniform(t->L.params[1].data, t->L.params[1].n, -0.5f, 0.5f, seed + 1);
}

/* ---- batchnorm against PyTorch ---- */

static void batchnorm_vs_torch(const char *cas, st_shape_t in, int B, int B2) {
    char json[96];
    snprintf(json, sizeof json, "{\"type\":\"batchnorm\",\"momentum\":%g}", tu_read_attr(FIXTURE, cas, "momentum"));
    tu_layer_t *t = tu_layer_new(json, in, B > B2 ? B : B2, 0, 1);
    st_layer_t *L = &t->L;
    int C = st_shape_channels(in);
    size_t n = (size_t)B * st_shape_numel(in), n2;
    assert_int_equal(L->n_params, 2);
    assert_int_equal(L->n_buffers, 2);
    assert_string_equal(L->buffers[0].name, "layers.0.running_mean");
    assert_string_equal(L->buffers[1].name, "layers.0.running_var");
    for (int c = 0; c < C; c++) { /* PyTorch's initial running statistics */
        assert_true(L->buffers[0].data[c] == 0.0f);
        assert_true(L->buffers[1].data[c] == 1.0f);
    }
    load_into(L->params[0].data, C, cas, "weight");
    load_into(L->params[1].data, C, cas, "bias");
    float *x = fx(cas, "x", NULL), *dout = fx(cas, "dout", NULL), *x2 = fx(cas, "x2", &n2);
    float *out = calloc(n > n2 ? n : n2, sizeof(float)), *dx = calloc(n, sizeof(float));

    /* training forward + backward, running statistics updated */
    t->ctx.update_running_stats = 1;
    L->kind->forward(L, &t->ctx, out, x, B);
    check(cas, "out", out, n, 2e-6, 2e-6);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    check(cas, "dx", dx, n, 2e-6, 2e-5);
    check(cas, "dweight", L->params[0].grad, C, 4e-6, 4e-6);
    check(cas, "dbias", L->params[1].grad, C, 1e-6, 1e-6);
    check(cas, "running_mean_1", L->buffers[0].data, C, 1e-7, 1e-6);
    check(cas, "running_var_1", L->buffers[1].data, C, 1e-7, 1e-6);

    /* a second training forward with a smaller batch */
    assert_int_equal(n2, (size_t)B2 * st_shape_numel(in));
    L->kind->forward(L, &t->ctx, out, x2, B2);
    check(cas, "running_mean_2", L->buffers[0].data, C, 1e-7, 1e-6);
    check(cas, "running_var_2", L->buffers[1].data, C, 1e-7, 1e-6);
    float *running = malloc(2 * C * sizeof(float));
    memcpy(running, t->buffers, 2 * C * sizeof(float));

    /* eval forward + backward with the running statistics */
    float *x_eval = fx(cas, "x_eval", NULL), *dout_eval = fx(cas, "dout_eval", NULL);
    memset(t->grads, 0, t->n_params * sizeof(float));
    t->ctx.training = 0;
    L->kind->forward(L, &t->ctx, out, x_eval, B);
    check(cas, "out_eval", out, n, 1e-6, 1e-6);
    L->kind->backward(L, &t->ctx, dx, dout_eval, x_eval, out, B);
    check(cas, "dx_eval", dx, n, 1e-6, 1e-6);
    check(cas, "dweight_eval", L->params[0].grad, C, 4e-6, 4e-6);
    check(cas, "dbias_eval", L->params[1].grad, C, 1e-6, 1e-6);
    /* eval leaves the running statistics alone */
    assert_memory_equal(t->buffers, running, 2 * C * sizeof(float));

    free(x), free(dout), free(x2), free(x_eval), free(dout_eval), free(out), free(dx);
    free(running);
    tu_layer_free(t);
}

static void test_batchnorm_matches_torch_features(void **s) {
    (void)s;
    batchnorm_vs_torch("bn_features", st_shape1(5), 6, 4);
}

static void test_batchnorm_matches_torch_sequence(void **s) {
    (void)s;
    batchnorm_vs_torch("bn_sequence", st_shape2(5, 3), 4, 3);
}

/* ---- the running-statistics rule and the exposed statistics ---- */

/* Per-channel mean and biased variance of x [rows, C], in double. */
static void reference_stats(double *mean, double *var, const float *x, long rows, int C) {
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (long r = 0; r < rows; r++) s += x[r * C + c];
        mean[c] = s / rows;
        for (long r = 0; r < rows; r++) q += (x[r * C + c] - mean[c]) * (x[r * C + c] - mean[c]);
        var[c] = q / rows;
    }
}

static void test_batchnorm_running_update_rule(void **s) {
    (void)s;
    const int B = 7, T = 3, C = 4;
    const long rows = (long)B * T;
    const double m = 0.3;
    tu_layer_t *t = tu_layer_new("{\"type\":\"batchnorm\",\"momentum\":0.3}", st_shape2(T, C), B, 0, 1);
    st_layer_t *L = &t->L;
    float x[7 * 3 * 4], out[7 * 3 * 4], rm0[4], rv0[4];
    tu_fill_normal(x, rows * C, 5);
    for (long i = 0; i < rows * C; i++) x[i] = 3.0f * x[i] + (float)(i % C); /* channel offsets */
    tu_fill_uniform(L->buffers[0].data, C, -1, 1, 6);
    tu_fill_uniform(L->buffers[1].data, C, 0.5f, 2, 7);
    memcpy(rm0, L->buffers[0].data, sizeof rm0);
    memcpy(rv0, L->buffers[1].data, sizeof rv0);
    double mean[4], var[4];
    reference_stats(mean, var, x, rows, C);

    /* update_running_stats off: the buffers stay, the batch statistics are still recorded */
    L->kind->forward(L, &t->ctx, out, x, B);
    assert_memory_equal(L->buffers[0].data, rm0, sizeof rm0);
    assert_memory_equal(L->buffers[1].data, rv0, sizeof rv0);
    const float *bm, *bv;
    st_batchnorm_batch_stats(L, 0, &bm, &bv);
    for (int c = 0; c < C; c++) {
        assert_float_equal(bm[c], mean[c], 1e-6 * (1 + fabs(mean[c])));
        assert_float_equal(bv[c], var[c], 1e-6 * var[c]);
    }

    /* on: running = (1-m)·running + m·batch, the unbiased variance into running_var */
    t->ctx.update_running_stats = 1;
    L->kind->forward(L, &t->ctx, out, x, B);
    for (int c = 0; c < C; c++) {
        double want_mean = (1 - m) * rm0[c] + m * mean[c];
        double want_var = (1 - m) * rv0[c] + m * var[c] * rows / (rows - 1);
        assert_float_equal(L->buffers[0].data[c], want_mean, 1e-6 * (1 + fabs(want_mean)));
        assert_float_equal(L->buffers[1].data[c], want_var, 1e-6 * want_var);
    }

    /* eval forward: normalised with the running statistics, which it does not change */
    float rm1[4], rv1[4];
    memcpy(rm1, L->buffers[0].data, sizeof rm1);
    memcpy(rv1, L->buffers[1].data, sizeof rv1);
    t->ctx.training = 0;
    L->kind->forward(L, &t->ctx, out, x, B);
    assert_memory_equal(L->buffers[0].data, rm1, sizeof rm1);
    assert_memory_equal(L->buffers[1].data, rv1, sizeof rv1);
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            double want = (x[r * C + c] - rm1[c]) / sqrt(rv1[c] + 1e-5);  /* gamma 1, beta 0 */
            assert_float_equal(out[r * C + c], want, 2e-6 * (1 + fabs(want)));
        }
    tu_layer_free(t);
}

/* A trainer can combine micro-batch statistics itself: pooling the halves' means and biased
 * variances reproduces the whole batch's, and the update from them equals the layer's own. */
static void test_batchnorm_combined_micro_batch_stats(void **s) {
    (void)s;
    enum { R1 = 9, R2 = 14, C = 37 };
    const long R = R1 + R2;
    float *x = malloc(sizeof(float) * R * C), *out = malloc(sizeof(float) * R * C);
    float gamma[C], beta[C], m_all[C], v_all[C], m1[C], v1[C], m2[C], v2[C], m[C], v[C];
    tu_fill_normal(x, R * C, 8);
    tu_fill_uniform(gamma, C, 0.5f, 1.5f, 9);
    tu_fill_uniform(beta, C, -1, 1, 10);
    st_batchnorm_forward_train(out, m_all, v_all, x, gamma, beta, R, C, 1e-5f);
    st_batchnorm_forward_train(out, m1, v1, x, gamma, beta, R1, C, 1e-5f);
    st_batchnorm_forward_train(out, m2, v2, x + R1 * C, gamma, beta, R2, C, 1e-5f);
    for (int c = 0; c < C; c++) {
        double mu = (R1 * (double)m1[c] + R2 * (double)m2[c]) / R;
        double var = (R1 * (v1[c] + (m1[c] - mu) * (m1[c] - mu)) + R2 * (v2[c] + (m2[c] - mu) * (m2[c] - mu))) / R;
        m[c] = (float)mu, v[c] = (float)var;
    }
    tu_assert_close("pooled mean", m, m_all, C, 1e-6, 1e-6);
    tu_assert_close("pooled var", v, v_all, C, 1e-6, 1e-6);
    float rm_a[C], rv_a[C], rm_b[C], rv_b[C];
    for (int c = 0; c < C; c++) rm_a[c] = rm_b[c] = 0.0f, rv_a[c] = rv_b[c] = 1.0f;
    st_batchnorm_update_running(rm_a, rv_a, m, v, R, C, 0.1);
    st_batchnorm_update_running(rm_b, rv_b, m_all, v_all, R, C, 0.1);
    tu_assert_close("running mean", rm_a, rm_b, C, 1e-6, 1e-6);
    tu_assert_close("running var", rv_a, rv_b, C, 1e-6, 1e-6);
    free(x), free(out);
}

/* Eval mode: every sample is normalised on its own (a batch gives the rows of single samples);
 * training mode: the batch statistics couple them. */
/* Ghost batches: one training pass over B = 3·G samples with ctx.ghost_batch = G gives the
 * bits of three separate passes over G samples each (outputs, each group's statistics, input
 * gradients), and parameter gradients equal to the three passes' added in order; running
 * statistics are updated once per group, in order. On a [T, C] input: groups are of samples. */
static void test_batchnorm_ghost_batches_equal_separate_passes(void **s) {
    (void)s;
    enum { G = 5, B = 3 * G, T = 2, C = 19, N = B * T * C, NG = G * T * C };
    const char *json = "{\"type\":\"batchnorm\",\"momentum\":0.2}";
    tu_layer_t *whole = tu_layer_new(json, st_shape2(T, C), B, 0, 1), *part = tu_layer_new(json, st_shape2(T, C), G, 0, 1);
    float x[N], dy[N], out_w[N], din_w[N], out_p[N], din_p[N];
    tu_fill_normal(x, N, 8), tu_fill_normal(dy, N, 9);
    tu_fill_uniform(whole->L.params[0].data, C, 0.5f, 1.5f, 10);
    memcpy(part->L.params[0].data, whole->L.params[0].data, sizeof(float) * C);
    whole->ctx.ghost_batch = G, whole->ctx.update_running_stats = part->ctx.update_running_stats = 1;
    whole->L.kind->forward(&whole->L, &whole->ctx, out_w, x, B);
    whole->L.kind->backward(&whole->L, &whole->ctx, din_w, dy, x, out_w, B);
    for (int g = 0; g < 3; g++) {
        part->L.kind->forward(&part->L, &part->ctx, out_p + g * NG, x + g * NG, G);
        part->L.kind->backward(&part->L, &part->ctx, din_p + g * NG, dy + g * NG, x + g * NG, out_p + g * NG, G);
        const float *mw, *vw, *mp, *vp;
        st_batchnorm_batch_stats(&whole->L, g, &mw, &vw);
        st_batchnorm_batch_stats(&part->L, 0, &mp, &vp);
        assert_memory_equal(mw, mp, sizeof(float) * C);
        assert_memory_equal(vw, vp, sizeof(float) * C);
    }
    assert_memory_equal(out_w, out_p, sizeof out_w);
    assert_memory_equal(din_w, din_p, sizeof din_w);
    for (int k = 0; k < 2; k++) { /* dgamma, dbeta; running mean, running var */
        assert_memory_equal(whole->L.params[k].grad, part->L.params[k].grad, sizeof(float) * C);
        assert_memory_equal(whole->L.buffers[k].data, part->L.buffers[k].data, sizeof(float) * C);
    }
    /* and the groups really are normalised apart: not the one-group result */
    whole->ctx.ghost_batch = 0;
    whole->L.kind->forward(&whole->L, &whole->ctx, out_p, x, B);
    assert_true(memcmp(out_w, out_p, sizeof out_w) != 0);
    tu_layer_free(whole), tu_layer_free(part);
}

static void test_batchnorm_eval_is_per_sample(void **s) {
    (void)s;
    enum { B = 5, T = 2, C = 3, N = T * C };
    tu_layer_t *t = tu_layer_new("{\"type\":\"batchnorm\"}", st_shape2(T, C), B, 0, 1);
    st_layer_t *L = &t->L;
    randomise_params(t, 11);
    tu_fill_uniform(L->buffers[0].data, C, -1, 1, 12);
    tu_fill_uniform(L->buffers[1].data, C, 0.5f, 2, 13);
    float x[B * N], out[B * N], one[N], two[2 * N];
    tu_fill_normal(x, B * N, 14);
    t->ctx.training = 0;
    L->kind->forward(L, &t->ctx, out, x, B);
    for (int b = 0; b < B; b++) {
        L->kind->forward(L, &t->ctx, one, x + b * N, 1);
        assert_memory_equal(one, out + b * N, sizeof one);
    }
    t->ctx.training = 1;
    L->kind->forward(L, &t->ctx, out, x, B);
    L->kind->forward(L, &t->ctx, two, x, 2); /* a different batch: different statistics */
    assert_true(memcmp(two, out, sizeof two) != 0);
    tu_layer_free(t);
}

/* ---- layernorm against PyTorch ---- */

static void layernorm_vs_torch(const char *cas, st_shape_t in, int B) {
    tu_layer_t *t = tu_layer_new("{\"type\":\"layernorm\"}", in, B, 0, 1);
    st_layer_t *L = &t->L;
    int C = st_shape_channels(in);
    size_t n = (size_t)B * st_shape_numel(in);
    assert_int_equal(L->n_params, 2);
    assert_int_equal(L->n_buffers, 0);
    for (int c = 0; c < C; c++) assert_true(L->params[0].data[c] == 1.0f && L->params[1].data[c] == 0.0f);
    load_into(L->params[0].data, C, cas, "weight");
    load_into(L->params[1].data, C, cas, "bias");
    float *x = fx(cas, "x", NULL), *dout = fx(cas, "dout", NULL);
    float *out = calloc(n, sizeof(float)), *dx = calloc(n, sizeof(float));
    L->kind->forward(L, &t->ctx, out, x, B);
    check(cas, "out", out, n, 1e-6, 1e-6);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    check(cas, "dx", dx, n, 2e-6, 1e-5);
    check(cas, "dweight", L->params[0].grad, C, 2e-6, 1e-5);
    check(cas, "dbias", L->params[1].grad, C, 1e-6, 1e-6);
    /* training and eval are the same */
    float *out_eval = calloc(n, sizeof(float));
    t->ctx.training = 0;
    L->kind->forward(L, &t->ctx, out_eval, x, B);
    assert_memory_equal(out_eval, out, n * sizeof(float));
    free(x), free(dout), free(out), free(dx), free(out_eval);
    tu_layer_free(t);
}

static void test_layernorm_matches_torch_features(void **s) {
    (void)s;
    layernorm_vs_torch("ln_features", st_shape1(7), 5);
}

static void test_layernorm_matches_torch_sequence(void **s) {
    (void)s;
    layernorm_vs_torch("ln_sequence", st_shape2(4, 6), 3);
}

/* ---- finite differences ---- */

static void gradcheck(const char *json, st_shape_t in, int B, int training, uint64_t seed) {
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 1);
    randomise_params(t, seed);
    if (t->L.n_buffers) {
        tu_fill_uniform(t->L.buffers[0].data, t->L.buffers[0].n, -0.5f, 0.5f, seed + 2);
        tu_fill_uniform(t->L.buffers[1].data, t->L.buffers[1].n, 0.5f, 2.0f, seed + 3);
    }
    t->ctx.training = training;
    tu_layer_gradcheck(t, B, seed + 4, 1e-2, 1e-3, 1e-3);
    tu_layer_free(t);
}

static void test_finite_differences(void **s) {
    (void)s;
    gradcheck("{\"type\":\"batchnorm\"}", st_shape1(6), 5, 1, 20);
    gradcheck("{\"type\":\"batchnorm\"}", st_shape2(4, 3), 3, 1, 30);
    gradcheck("{\"type\":\"batchnorm\"}", st_shape1(6), 5, 0, 40);
    gradcheck("{\"type\":\"batchnorm\"}", st_shape2(4, 3), 3, 0, 50);
    gradcheck("{\"type\":\"layernorm\"}", st_shape1(6), 4, 1, 60);
    gradcheck("{\"type\":\"layernorm\"}", st_shape2(4, 5), 3, 1, 70);
}

/* Parameter gradients add up over calls (micro-batches); din may be NULL. */
static void test_parameter_gradients_accumulate(void **s) {
    (void)s;
    const char *jsons[] = {"{\"type\":\"batchnorm\"}", "{\"type\":\"layernorm\"}"};
    for (int k = 0; k < 2; k++) {
        tu_layer_t *t = tu_layer_new(jsons[k], st_shape2(3, 4), 2, 0, 1);
        randomise_params(t, 80);
        float x[24], dout[24], out[24], g1[8];
        tu_fill_normal(x, 24, 81);
        tu_fill_normal(dout, 24, 82);
        t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
        t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, 2);
        memcpy(g1, t->grads, sizeof g1);
        t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, 2);
        for (int i = 0; i < 8; i++) assert_float_equal(t->grads[i], 2 * g1[i], 1e-6 * (1 + fabs(g1[i])));
        tu_layer_free(t);
    }
}

/* The per-channel sums run in a fixed order: any thread count gives the same bits. */
static void test_thread_count_independent(void **s) {
    (void)s;
    enum { B = 9, T = 5, C = 70, N = B * T * C };
    const char *jsons[] = {"{\"type\":\"batchnorm\"}", "{\"type\":\"layernorm\"}"};
    float *x = malloc(sizeof(float) * N), *dout = malloc(sizeof(float) * N);
    tu_fill_normal(x, N, 90);
    tu_fill_normal(dout, N, 91);
    int threads_before = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        float *out[2], *dx[2], *grads[2];
        int threads[2] = {1, 3};
        for (int run = 0; run < 2; run++) {
            omp_set_num_threads(threads[run]);
            tu_layer_t *t = tu_layer_new(jsons[k], st_shape2(T, C), B, 0, 1);
            randomise_params(t, 92);
            out[run] = malloc(sizeof(float) * N), dx[run] = malloc(sizeof(float) * N);
            t->L.kind->forward(&t->L, &t->ctx, out[run], x, B);
            t->L.kind->backward(&t->L, &t->ctx, dx[run], dout, x, out[run], B);
            grads[run] = malloc(sizeof(float) * t->n_params);
            memcpy(grads[run], t->grads, sizeof(float) * t->n_params);
            tu_layer_free(t);
        }
        assert_memory_equal(out[0], out[1], sizeof(float) * N);
        assert_memory_equal(dx[0], dx[1], sizeof(float) * N);
        assert_memory_equal(grads[0], grads[1], sizeof(float) * 2 * C);
        for (int run = 0; run < 2; run++) free(out[run]), free(dx[run]), free(grads[run]);
    }
    omp_set_num_threads(threads_before);
    free(x), free(dout);
}

/* ---- options ---- */

static void test_option_errors(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"batchnorm\",\"momentum\":-0.1}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].momentum: expected a number in [0, 1], got -0.1");
    assert_int_equal(tu_layer_try("{\"type\":\"batchnorm\",\"momentum\":1.5}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].momentum: expected a number in [0, 1], got 1.5");
    assert_int_equal(tu_layer_try("{\"type\":\"batchnorm\",\"eps\":0}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].eps: expected a number in [1e-12, 1], got 0");
    assert_int_equal(tu_layer_try("{\"type\":\"batchnorm\",\"momentun\":0.2}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"momentun\" (did you mean \"momentum\"?)"));
    assert_int_equal(tu_layer_try("{\"type\":\"layernorm\",\"eps\":\"small\"}", st_shape2(3, 4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].eps: expected a number in [1e-12, 1], got \"small\"");
    assert_int_equal(tu_layer_try("{\"type\":\"layernorm\",\"momentum\":0.1}", st_shape1(4), 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0]: unknown key \"momentum\""));
    /* defaults */
    tu_layer_t *t = tu_layer_new("{\"type\":\"batchnorm\"}", st_shape2(3, 4), 1, 0, 1);
    assert_float_equal(st_layer_opt(&t->L, "momentum")->num, 0.1, 0);
    assert_float_equal(st_layer_opt(&t->L, "eps")->num, 1e-5, 0);
    assert_int_equal(t->L.params[0].n, 4);
    assert_int_equal(t->L.params[0].decay, 0);
    assert_int_equal(t->L.params[1].decay, 0);
    assert_true(st_shape_equal(t->L.out_shape, t->L.in_shape));
    tu_layer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm_matches_torch_features),
        cmocka_unit_test(test_batchnorm_matches_torch_sequence),
        cmocka_unit_test(test_batchnorm_running_update_rule),
        cmocka_unit_test(test_batchnorm_combined_micro_batch_stats),
        cmocka_unit_test(test_batchnorm_ghost_batches_equal_separate_passes),
        cmocka_unit_test(test_batchnorm_eval_is_per_sample),
        cmocka_unit_test(test_layernorm_matches_torch_features),
        cmocka_unit_test(test_layernorm_matches_torch_sequence),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_parameter_gradients_accumulate),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_option_errors),
    };
    return cmocka_run_group_tests_name("norm", tests, NULL, NULL);
}
