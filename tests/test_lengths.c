/* test_lengths.c — variable-length sequences through whole models (core/model_run.c, layer.h).
 *
 * The central check: a padded batch of rows of mixed lengths gives the same outputs, input
 * gradients and parameter gradients as each row run alone, unpadded, at its own length (the
 * same parameters; the loss Σ_b <dout_b, out_b> is linear, so the batch's parameter gradient is
 * the sum of the rows'). It runs in eval mode for models with every sequence layer (conv1d,
 * strided conv, pooling, conv_transpose1d, upsampling, squeeze_excite, batchnorm, layernorm,
 * parallel and residual blocks, bidirectional lstm and gru returning sequences or final states)
 * and in training mode for a model without batchnorm (dropout keyed by the same sample ids; the
 * row alone then runs on a model built for the same T at its own positions), at
 * the batch's own positions (shorter than the built T) and at the built T. Tolerance: the norm of
 * the difference ≤ 1e-6 of the reference's norm (float sums in another order).
 * Also: output positions past a row's length are exactly 0; lengths map through strides;
 * flatten/reshape/permute and mismatched branches are refused naming the layer. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { C_IN = 3, T_MAX = 16, B = 5 };
static const int32_t LENGTHS[B] = {12, 7, 11, 9, 5};

static st_model_t *build(const char *layers_json, int T, int want_input_grad) {
    char json[4096];
    snprintf(json, sizeof json, "{\"layers\": %s}", layers_json);
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    st_model_t *m = NULL;
    st_error_t err = {0};
    if (st_model_build(obj, "model", st_shape2(T, C_IN), 4, &m, &err) != ST_OK) fail_msg("build: %s", err.msg);
    cJSON_Delete(obj);
    st_model_init(m, 7);
    if (st_model_reserve(m, B, want_input_grad, &err) != ST_OK) fail_msg("reserve: %s", err.msg);
    return m;
}

/* Norm-relative difference ||a − b|| / max(||b||, tiny). */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), r += (double)b[i] * b[i];
    return sqrt(d) / (sqrt(r) > 1e-30 ? sqrt(r) : 1e-30);
}

static void assert_rel(const char *what, const float *got, const float *ref, size_t n, double tol) {
    double e = rel_diff(got, ref, n);
    if (!(e <= tol)) fail_msg("%s: relative difference %.3g > %.3g", what, e, tol);
}

typedef struct {
    int training;
    int positions;  /* the padded batch's positions: max length, or T_MAX */
} run_mode_t;

/* Runs the padded batch and each row alone; compares outputs, input and parameter gradients. */
static void check_against_rows(const char *layers, run_mode_t mode) {
    st_model_t *mb = build(layers, T_MAX, 1);
    st_error_t err = {0};
    if (st_model_enable_lengths(mb, &err) != ST_OK) fail_msg("enable: %s", err.msg);
    const int P = mode.positions;
    float *x = calloc((size_t)B * P * C_IN, sizeof(float));
    tu_fill_normal(x, (size_t)B * P * C_IN, 11);
    for (int b = 0; b < B; b++) /* zeros past each length: the input invariant */
        for (int t = LENGTHS[b]; t < P; t++)
            for (int c = 0; c < C_IN; c++) x[((size_t)b * P + t) * C_IN + c] = 0.0f;
    int64_t ids[B] = {40, 41, 42, 43, 44};
    st_run_ctx_t ctx = {.training = mode.training, .seed = 3, .step = 2, .sample_index = ids, .lengths = LENGTHS,
                        .positions = P};
    st_model_forward(mb, &ctx, x, B);
    int positions_out = 0;
    const st_head_t *head = st_model_head(mb, 0);
    const int32_t *len_out = st_model_head_lengths(mb, 0, &positions_out);
    const int width = st_shape_channels(head->shape);
    const size_t row_out = (size_t)positions_out * width;
    float *out_b = malloc((size_t)B * row_out * sizeof(float));
    memcpy(out_b, st_model_head_output(mb, 0), (size_t)B * row_out * sizeof(float));
    float *dout = malloc((size_t)B * row_out * sizeof(float));
    tu_fill_normal(dout, (size_t)B * row_out, 12);
    if (len_out) /* outputs past a row's length are exactly 0 */
        for (int b = 0; b < B; b++)
            for (size_t j = (size_t)len_out[b] * width; j < row_out; j++)
                assert_true(out_b[(size_t)b * row_out + j] == 0.0f);
    memcpy(st_model_head_grad(mb, 0), dout, (size_t)B * row_out * sizeof(float));
    st_model_zero_grads(mb);
    st_model_backward(mb, &ctx, B);
    size_t n_par = st_model_param_floats(mb);
    float *dx_b = malloc((size_t)B * P * C_IN * sizeof(float));
    memcpy(dx_b, st_model_input_grad(mb), (size_t)B * P * C_IN * sizeof(float));
    float *grad_sum = calloc(n_par, sizeof(float));

    for (int b = 0; b < B; b++) {
        const int L = LENGTHS[b];
        /* eval: a model built for length L; training: the same T as the batch's model (dropout keys
           its draws by the built shape), run at L positions with no padding */
        st_model_t *m1 = build(layers, mode.training ? T_MAX : L, 1);
        if (mode.training) assert_int_equal(st_model_enable_lengths(m1, &err), ST_OK);
        assert_int_equal(st_model_param_floats(m1), n_par);
        memcpy(st_model_params(m1), st_model_params(mb), n_par * sizeof(float));
        memcpy(st_model_buffers(m1), st_model_buffers(mb), st_model_buffer_floats(mb) * sizeof(float));
        st_run_ctx_t c1 = {.training = mode.training, .seed = 3, .step = 2, .sample_index = ids + b,
                           .lengths = mode.training ? LENGTHS + b : NULL, .positions = mode.training ? L : 0};
        st_model_forward(m1, &c1, x + (size_t)b * P * C_IN, 1);
        const st_head_t *h1 = st_model_head(m1, 0);
        size_t n1 = (size_t)st_shape_numel(h1->shape); /* rank 1 in training mode (final states) */
        char what[64];
        snprintf(what, sizeof what, "row %d (length %d): output", b, L);
        if (len_out) assert_int_equal(h1->shape.d[0], len_out[b]);
        assert_rel(what, out_b + (size_t)b * row_out, st_model_head_output(m1, 0), n1, 1e-6);
        memcpy(st_model_head_grad(m1, 0), dout + (size_t)b * row_out, n1 * sizeof(float));
        st_model_zero_grads(m1);
        st_model_backward(m1, &c1, 1);
        snprintf(what, sizeof what, "row %d (length %d): input gradient", b, L);
        assert_rel(what, dx_b + (size_t)b * P * C_IN, st_model_input_grad(m1), (size_t)L * C_IN, 1e-6);
        for (size_t j = (size_t)L * C_IN; j < (size_t)P * C_IN; j++) assert_true(dx_b[(size_t)b * P * C_IN + j] == 0.0f);
        for (size_t i = 0; i < n_par; i++) grad_sum[i] += st_model_grads(m1)[i];
        st_model_free(m1);
    }
    assert_rel("parameter gradients (batch vs the sum of the rows')", st_model_grads(mb), grad_sum, n_par, 1e-6);
    free(x), free(out_b), free(dout), free(dx_b), free(grad_sum);
    st_model_free(mb);
}

static const char *CONV_RNN =
    "[{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":3,\"padding\":1},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},"
    "{\"type\":\"squeeze_excite\",\"reduction\":2},{\"type\":\"max_pool1d\",\"kernel_size\":2},"
    "{\"type\":\"lstm\",\"units\":4,\"bidirectional\":true},"
    "{\"type\":\"gru\",\"units\":3,\"bidirectional\":true,\"return_sequences\":false},{\"type\":\"dense\",\"units\":2}]";

static const char *STRIDES =
    "[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":5,\"stride\":2,\"padding\":2},"
    "{\"type\":\"avg_pool1d\",\"kernel_size\":3,\"stride\":1,\"padding\":1},"
    "{\"type\":\"conv_transpose1d\",\"filters\":5,\"kernel_size\":4,\"stride\":2,\"padding\":1},"
    "{\"type\":\"upsample1d\",\"scale\":2,\"mode\":\"linear\"},{\"type\":\"sigmoid\"},{\"type\":\"global_avg_pool\"}]";

static const char *BLOCKS =
    "[{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":[[{\"type\":\"conv1d\",\"filters\":3,\"kernel_size\":3,\"padding\":1}],"
    "[{\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":5,\"padding\":2}]]},"
    "{\"type\":\"residual\",\"layers\":[{\"type\":\"conv1d\",\"filters\":5,\"kernel_size\":3,\"padding\":1},{\"type\":\"tanh\"}]},"
    "{\"type\":\"layernorm\"},{\"type\":\"dense\",\"units\":4},{\"type\":\"global_max_pool\"}]";

static const char *SEQ_OUT =
    "[{\"type\":\"lstm\",\"units\":4},{\"type\":\"batchnorm\"},{\"type\":\"gru\",\"units\":3,\"bidirectional\":true}]";

static const char *TRAINING =
    "[{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":3,\"padding\":1},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.3},"
    "{\"type\":\"squeeze_excite\",\"reduction\":3},{\"type\":\"lstm\",\"units\":5,\"bidirectional\":true,\"return_sequences\":false},"
    "{\"type\":\"dense\",\"units\":2}]";

static void test_conv_rnn_eval(void **s) {
    (void)s;
    check_against_rows(CONV_RNN, (run_mode_t){0, 12});
    check_against_rows(CONV_RNN, (run_mode_t){0, T_MAX});
}
static void test_strides_eval(void **s) {
    (void)s;
    check_against_rows(STRIDES, (run_mode_t){0, 12});
}
static void test_blocks_eval(void **s) {
    (void)s;
    check_against_rows(BLOCKS, (run_mode_t){0, 12});
}
static void test_sequence_output_eval(void **s) {
    (void)s;
    check_against_rows(SEQ_OUT, (run_mode_t){0, 12});
}
static void test_training_without_batchnorm(void **s) {
    (void)s;
    check_against_rows(TRAINING, (run_mode_t){1, 12});
}

/* A batch whose longest row is shorter than the built T runs at its own positions. */
static void test_shorter_batch(void **s) {
    (void)s;
    st_model_t *m = build(CONV_RNN, 32, 0);
    st_error_t err = {0};
    assert_int_equal(st_model_enable_lengths(m, &err), ST_OK);
    float x[2 * 10 * C_IN];
    tu_fill_normal(x, sizeof x / sizeof *x, 5);
    int32_t len[2] = {10, 6};
    for (int t = 6; t < 10; t++)
        for (int c = 0; c < C_IN; c++) x[(10 + t) * C_IN + c] = 0.0f;
    st_run_ctx_t ctx = {.lengths = len, .positions = 10};
    st_model_forward(m, &ctx, x, 2);
    for (int i = 0; i < 2 * 2; i++) assert_true(isfinite(st_model_head_output(m, 0)[i]));
    st_model_free(m);
}

/* ---- masked batchnorm against PyTorch (tests/fixtures/gen_masked_bn.py) ---- */

#define BN_FIX "masked_bn.h5"

static st_model_t *bn_model(int T, int C) {
    cJSON *obj = cJSON_Parse("{\"layers\": [{\"type\": \"batchnorm\"}]}");
    st_model_t *m = NULL;
    st_error_t err = {0};
    if (st_model_build(obj, "model", st_shape2(T, C), 0, &m, &err) != ST_OK) fail_msg("%s", err.msg);
    cJSON_Delete(obj);
    st_model_init(m, 1);
    assert_int_equal(st_model_reserve(m, 8, 1, &err), ST_OK);
    assert_int_equal(st_model_enable_lengths(m, &err), ST_OK);
    return m;
}

/* The padded batch's valid positions, in row order, out of y [B, T, C]. */
static float *valid_rows(const float *y, const int32_t *len, int B_, int T, int C, size_t *n) {
    float *v = malloc((size_t)B_ * T * C * sizeof(float));
    *n = 0;
    for (int b = 0; b < B_; b++)
        for (int t = 0; t < len[b]; t++)
            for (int c = 0; c < C; c++) v[(*n)++] = y[((size_t)b * T + t) * C + c];
    return v;
}

static void test_masked_batchnorm_matches_torch(void **s) {
    (void)s;
    size_t n_x, n_len, n_c;
    float *x = tu_read_f32(BN_FIX, "x", &n_x), *dout = tu_read_f32(BN_FIX, "dout", &n_x);
    int32_t *len = tu_read_i32(BN_FIX, "lengths", &n_len);
    float *gamma = tu_read_f32(BN_FIX, "gamma", &n_c), *beta = tu_read_f32(BN_FIX, "beta", &n_c);
    const int B_ = (int)n_len, C = (int)n_c, T = (int)(n_x / n_len / n_c);
    st_model_t *m = bn_model(T, C);
    memcpy(st_model_params(m), gamma, C * sizeof(float));
    memcpy(st_model_params(m) + C, beta, C * sizeof(float));
    st_run_ctx_t ctx = {.training = 1, .update_running_stats = 1, .lengths = len, .positions = T};
    st_model_forward(m, &ctx, x, B_);
    size_t n_v, n_ref;
    float *y = valid_rows(st_model_head_output(m, 0), len, B_, T, C, &n_v);
    float *y_ref = tu_read_f32(BN_FIX, "y_valid", &n_ref);
    assert_int_equal(n_v, n_ref);
    tu_assert_close("y (valid positions)", y, y_ref, n_v, 1e-5, 1e-5);
    memcpy(st_model_head_grad(m, 0), dout, n_x * sizeof(float));
    st_model_zero_grads(m);
    st_model_backward(m, &ctx, B_);
    float *dx = valid_rows(st_model_input_grad(m), len, B_, T, C, &n_v);
    float *dx_ref = tu_read_f32(BN_FIX, "dx_valid", &n_ref);
    tu_assert_close("dx (valid positions)", dx, dx_ref, n_v, 1e-5, 1e-5);
    float *dg = tu_read_f32(BN_FIX, "dgamma", &n_ref), *db = tu_read_f32(BN_FIX, "dbeta", &n_ref);
    tu_assert_close("dgamma", st_model_grads(m), dg, C, 1e-5, 1e-5);
    tu_assert_close("dbeta", st_model_grads(m) + C, db, C, 1e-5, 1e-5);
    float *rm = tu_read_f32(BN_FIX, "running_mean", &n_ref), *rv = tu_read_f32(BN_FIX, "running_var", &n_ref);
    tu_assert_close("running_mean", st_model_buffers(m), rm, C, 1e-6, 1e-5);
    tu_assert_close("running_var", st_model_buffers(m) + C, rv, C, 1e-6, 1e-5);

    /* The trainer's path: two ghost batches of 2 rows (valid positions 9 and 6), their records
       pooled weighted by valid positions = the one update over all valid positions. */
    st_model_t *g = bn_model(T, C);
    memcpy(st_model_params(g), gamma, C * sizeof(float));
    memcpy(st_model_params(g) + C, beta, C * sizeof(float));
    st_run_ctx_t gctx = {.training = 1, .ghost_batch = 2, .lengths = len, .positions = T};
    st_model_forward(g, &gctx, x, B_);
    st_layer_t *L = st_model_layer(g, 0);
    int F = L->kind->stats_floats(L);
    double rec[2][64];
    assert_true(F <= 64);
    L->kind->stats_save(L, 0, rec[0]);
    L->kind->stats_save(L, 1, rec[1]);
    assert_true(rec[0][F - 1] == 9.0 && rec[1][F - 1] == 6.0);
    L->kind->stats_pool(L, &rec[0][0], 2, 64, 2);
    tu_assert_close("pooled running_mean", st_model_buffers(g), rm, C, 1e-6, 1e-5);
    tu_assert_close("pooled running_var", st_model_buffers(g) + C, rv, C, 1e-6, 1e-5);
    st_model_free(g);
    free(x), free(dout), free(len), free(gamma), free(beta), free(y), free(y_ref), free(dx), free(dx_ref);
    free(dg), free(db), free(rm), free(rv);
    st_model_free(m);
}

static void assert_refused(const char *layers, const char *needle) {
    st_model_t *m = build(layers, T_MAX, 0);
    st_error_t err = {0};
    assert_int_not_equal(st_model_enable_lengths(m, &err), ST_OK);
    if (!strstr(err.msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    st_model_free(m);
}

static void test_refusals(void **s) {
    (void)s;
    assert_refused("[{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2}]", "model.layers[0] (flatten) cannot take variable-length");
    assert_refused("[{\"type\":\"permute\"}]", "(permute) cannot take");
    assert_refused("[{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":[[{\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":3,\"padding\":1,\"stride\":2}],"
                   "[{\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":4,\"padding\":1,\"stride\":2}]]}]",
                   "different lengths");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_rnn_eval),        cmocka_unit_test(test_strides_eval),
        cmocka_unit_test(test_blocks_eval),          cmocka_unit_test(test_sequence_output_eval),
        cmocka_unit_test(test_training_without_batchnorm), cmocka_unit_test(test_shorter_batch),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_masked_batchnorm_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
