/* test_rnn.c — the recurrent layers lstm and gru, every case run for both kinds: PyTorch
 * nn.LSTM / nn.GRU reference values (tests/fixtures/gen_rnn.py: unidirectional and
 * bidirectional, sequences and final states, and a B 8, T 28, C 28, H 32 case) for the output,
 * din and all eight parameter gradients; finite differences; parameter names and init bounds;
 * gradients that accumulate; bitwise equality at 1 and 2 threads; a stacked bidirectional model
 * that trains; the error messages; and the accuracy of the gate functions' exp, σ and tanh. */
#include "testutil.h"
#include "layertest.h"

#include <blis.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/gru.h"
#include "layers/lstm.h"
#include "train_step.h"

#define FIX "rnn.h5"

/* A kind under test: its JSON type, its gates per unit (G), its fixture cases' prefix. */
typedef struct {
    const char *type;
    int G;
    const char *prefix;
    long (*scratch_floats)(int T, int H);
} rnn_kind_t;

static const rnn_kind_t LSTM = {"lstm", 4, "", st_lstm_scratch_floats};
static const rnn_kind_t GRU = {"gru", 3, "gru_", st_gru_scratch_floats};

/* {"type": <kind>, <rest>} */
static const char *layer_json(char *buf, size_t size, const rnn_kind_t *k, const char *rest) {
    snprintf(buf, size, "{\"type\":\"%s\"%s%s}", k->type, rest[0] ? "," : "", rest);
    return buf;
}

static const char *const PNAMES[8] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                      "bias_hh_l0_reverse"};

static float *fx(const char *cas, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, name);
    return tu_read_f32(FIX, path, n);
}

/* Tolerance |got − ref| <= atol + rtol·|ref|, atol = rtol = 1e-5 for every tensor (float32 sums
 * over B·T ≤ 224 rows and 4H ≤ 128 gates, in another order than PyTorch's). */
static void compare_with_torch(const rnn_kind_t *k, const char *case_name) {
    char cas[64];
    snprintf(cas, sizeof cas, "%s%s", k->prefix, case_name);
#define A(name) ((long)tu_read_attr(FIX, cas, name))
    const int B = A("B"), T = A("T"), C = A("C"), H = A("H"), bidir = A("bidirectional"), seq = A("return_sequences");
#undef A
    char json[160];
    snprintf(json, sizeof json, "{\"type\":\"%s\",\"units\":%d,\"bidirectional\":%s,\"return_sequences\":%s}",
             k->type, H, bidir ? "true" : "false", seq ? "true" : "false");
    tu_layer_t *t = tu_layer_new(json, st_shape2(T, C), B, 0, 1);
    st_layer_t *L = &t->L;
    assert_int_equal(L->n_params, bidir ? 8 : 4);
    size_t n;
    for (int p = 0; p < L->n_params; p++) {
        float *v = fx(cas, PNAMES[p], &n);
        assert_int_equal(n, L->params[p].n);
        memcpy(L->params[p].data, v, n * sizeof(float));
        free(v);
    }
    size_t n_x, n_dout, n_out, n_dx;
    float *x = fx(cas, "x", &n_x), *dout = fx(cas, "dout", &n_dout);
    float *out_ref = fx(cas, "out", &n_out), *dx_ref = fx(cas, "dx", &n_dx);
    assert_int_equal(n_out, (size_t)B * st_shape_numel(L->out_shape));
    assert_int_equal(n_x, (size_t)B * T * C);
    float *out = calloc(n_out, sizeof(float)), *dx = calloc(n_x, sizeof(float));
    L->kind->forward(L, &t->ctx, out, x, B);
    tu_assert_close("out", out, out_ref, n_out, 1e-5, 1e-5);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    tu_assert_close("dx", dx, dx_ref, n_x, 1e-5, 1e-5);
    for (int p = 0; p < L->n_params; p++) {
        char dname[40];
        snprintf(dname, sizeof dname, "d_%s", PNAMES[p]);
        float *g = fx(cas, dname, &n);
        tu_assert_close(dname, L->params[p].grad, g, n, 1e-5, 1e-5);
        free(g);
    }
    free(x), free(dout), free(out_ref), free(dx_ref), free(out), free(dx);
    tu_layer_free(t);
}

static void test_torch_uni_seq(void **s) { compare_with_torch(*s, "uni_seq"); }
static void test_torch_bi_seq(void **s) { compare_with_torch(*s, "bi_seq"); }
static void test_torch_bi_final(void **s) { compare_with_torch(*s, "bi_final"); }
static void test_torch_uni_final(void **s) { compare_with_torch(*s, "uni_final"); }
static void test_torch_bi_large(void **s) { compare_with_torch(*s, "bi_large"); }

/* The gate functions of rnn_layer.h against double precision over [−100, 100] (2·10^6 points
 * plus the edges): exp within 4e-7 relative on [−87, 88]; σ and tanh within 3e-7 absolute and
 * 1e-6 relative where |value| > 1e-3 (measured: exp 8.3e-8, σ 8.9e-8 abs, tanh 1.8e-7 abs). */
static void test_gate_functions(void **s) {
    (void)s;
    double e_exp = 0, e_sig = 0, e_tanh = 0, r_sig = 0, r_tanh = 0;
    for (long k = -1000000; k <= 1000000; k++) {
        float x = (float)k * 1e-4f;
        double ex = exp((double)x), sg = 1.0 / (1.0 + exp(-(double)x)), th = tanh((double)x);
        if (x >= -87.0f && x <= 88.0f) e_exp = fmax(e_exp, fabs(st_rnn_expf(x) - ex) / ex);
        e_sig = fmax(e_sig, fabs(st_rnn_sigmoid(x) - sg));
        e_tanh = fmax(e_tanh, fabs(st_rnn_tanh(x) - th));
        if (fabs(sg) > 1e-3) r_sig = fmax(r_sig, fabs(st_rnn_sigmoid(x) - sg) / sg);
        if (fabs(th) > 1e-3) r_tanh = fmax(r_tanh, fabs(st_rnn_tanh(x) - th) / fabs(th));
    }
    printf("# max error: exp %.2g rel, sigmoid %.2g abs %.2g rel, tanh %.2g abs %.2g rel\n", e_exp, e_sig, r_sig,
           e_tanh, r_tanh);
    assert_true(e_exp < 4e-7);
    assert_true(e_sig < 3e-7 && r_sig < 1e-6);
    assert_true(e_tanh < 3e-7 && r_tanh < 1e-6);
    assert_true(st_rnn_tanh(1e-6f) == 1e-6f && st_rnn_tanh(-30.0f) == -1.0f && st_rnn_tanh(30.0f) == 1.0f);
    assert_true(st_rnn_sigmoid(-200.0f) >= 0.0f && st_rnn_sigmoid(-200.0f) < 1e-37f && st_rnn_sigmoid(200.0f) == 1.0f);
    assert_true(isfinite(st_rnn_expf(1000.0f)) && st_rnn_expf(-1000.0f) >= 0.0f);
}

/* Finite differences of d(Σ out·r) w.r.t. input and every parameter. */
static void test_finite_differences(void **s) {
    const rnn_kind_t *k = *s;
    static const char *const rests[] = {
        "\"units\":3",
        "\"units\":3,\"bidirectional\":true",
        "\"units\":4,\"bidirectional\":true,\"return_sequences\":false",
        "\"units\":2,\"return_sequences\":false",
    };
    char json[160];
    for (size_t i = 0; i < sizeof rests / sizeof rests[0]; i++) {
        tu_layer_t *t = tu_layer_new(layer_json(json, sizeof json, k, rests[i]), st_shape2(4, 3), 2, 0, 11 + i);
        tu_layer_gradcheck(t, 2, 40 + i, 1e-2, 2e-3, 2e-3);
        tu_layer_free(t);
    }
    /* T = 1: a single step */
    tu_layer_t *t = tu_layer_new(layer_json(json, sizeof json, k, "\"units\":3,\"bidirectional\":true"), st_shape2(1, 2), 2, 0, 5);
    tu_layer_gradcheck(t, 2, 50, 1e-2, 2e-3, 2e-3);
    tu_layer_free(t);
}

/* Shapes, parameter names, sizes, decay flags and PyTorch's U(±1/sqrt(H)) init. */
static void test_parameters_and_init(void **s) {
    const rnn_kind_t *k = *s;
    char json[160];
    tu_layer_t *t = tu_layer_new(layer_json(json, sizeof json, k, "\"units\":6,\"bidirectional\":true"), st_shape2(5, 4), 2, 0, 3);
    st_layer_t *L = &t->L;
    assert_int_equal(L->out_shape.rank, 2);
    assert_int_equal(L->out_shape.d[0], 5);
    assert_int_equal(L->out_shape.d[1], 12);
    assert_int_equal(L->n_params, 8);
    const size_t GH = (size_t)k->G * 6, sizes[4] = {GH * 4, GH * 6, GH, GH};
    float bound = 1.0f / sqrtf(6.0f);
    for (int p = 0; p < 8; p++) {
        char name[64];
        snprintf(name, sizeof name, "layers.0.%s", PNAMES[p]);
        assert_string_equal(L->params[p].name, name);
        assert_int_equal(L->params[p].n, sizes[p % 4]);
        assert_int_equal(L->params[p].decay, p % 4 < 2);
        float vmax = 0;
        for (size_t i = 0; i < L->params[p].n; i++) vmax = fmaxf(vmax, fabsf(L->params[p].data[i]));
        assert_true(vmax <= bound && vmax > 0.5f * bound);
    }
    assert_int_equal(L->scratch_per_sample, 2 * k->scratch_floats(5, 6));
    tu_layer_free(t);
    t = tu_layer_new(layer_json(json, sizeof json, k, "\"units\":7,\"return_sequences\":false"), st_shape2(5, 4), 2, 0, 3);
    assert_int_equal(t->L.out_shape.rank, 1);
    assert_int_equal(t->L.out_shape.d[0], 7);
    assert_int_equal(t->L.n_params, 4);
    tu_layer_free(t);
}

/* Parameter gradients add up over calls; din == NULL leaves them right. */
static void test_gradients_accumulate(void **s) {
    char json[160];
    tu_layer_t *t = tu_layer_new(layer_json(json, sizeof json, *s, "\"units\":4,\"bidirectional\":true"), st_shape2(6, 3), 2, 0, 5);
    float x[36], dout[96], out[96], dx[36];
    size_t np = t->n_params;
    float *g1 = malloc(np * sizeof(float));
    tu_fill_normal(x, 36, 1);
    tu_fill_normal(dout, 96, 2);
    t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
    t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, 2);
    memcpy(g1, t->grads, np * sizeof(float));
    t->L.kind->backward(&t->L, &t->ctx, NULL, dout, x, out, 2);
    for (size_t i = 0; i < np; i++) assert_float_equal(t->grads[i], 2 * g1[i], 1e-5);
    free(g1);
    tu_layer_free(t);
}

/* Outputs and all gradients are bitwise the same for 1 and 2 threads (OpenMP and BLIS). */
static void test_thread_count_independent(void **s) {
    const rnn_kind_t *k = *s;
    static const char *const rests[] = {
        "\"units\":64,\"bidirectional\":true",
        "\"units\":64,\"bidirectional\":true,\"return_sequences\":false",
    };
    char json[160];
    for (int j = 0; j < 2; j++)
        tu_layer_assert_threads_agree(layer_json(json, sizeof json, k, rests[j]), st_shape2(12, 28), 32, 2);
}

static int ten_classes(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return 10;
}

/* Two stacked BiLSTMs and a dense head on [28, 28] inputs: a few Adam steps on one batch lower
 * the loss at every step. */
static void test_stacked_model_trains(void **s) {
    const rnn_kind_t *k = *s;
    enum { B = 8, T = 28, C = 28, K = 10 };
    st_error_t err = {0};
    char model[320];
    snprintf(model, sizeof model,
             "{\"layers\":[{\"type\":\"%s\",\"units\":16,\"bidirectional\":true},"
             "{\"type\":\"%s\",\"units\":8,\"bidirectional\":true,\"return_sequences\":false},"
             "{\"type\":\"dense\",\"units\":\"classes\"}]}", k->type, k->type);
    cJSON *mj = cJSON_Parse(model);
    cJSON *lj = cJSON_Parse("{\"type\":\"cross_entropy\"}"), *oj = cJSON_Parse("{\"type\":\"adam\",\"lr\":0.01}");
    st_model_t *m = NULL;
    if (st_model_build(mj, "model", st_shape2(T, C), K, &m, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(st_model_reserve(m, B, 0, &err), ST_OK);
    st_loss_heads_t losses;
    if (st_loss_heads_parse(&losses, lj, "loss", ten_classes, NULL, &err) != ST_OK) fail_msg("%s", err.msg);
    st_optim_config_t oc;
    if (st_optim_parse(oj, "optimizer", &oc, &err) != ST_OK) fail_msg("%s", err.msg);
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(m, &n_tensors);
    assert_int_equal(n_tensors, 8 + 8 + 2);
    st_optim_t *opt = NULL;
    if (st_optim_create(&oc, tensors, n_tensors, st_model_param_floats(m), &opt, &err) != ST_OK) fail_msg("%s", err.msg);
    st_model_init(m, 7);
    float *x = malloc(sizeof(float) * B * T * C);
    int32_t y[B];
    tu_fill_normal(x, (size_t)B * T * C, 3);
    for (int i = 0; i < B; i++) y[i] = (i * 3) % K;
    st_step_parts_t parts = {m, &losses, opt, 0};
    st_run_ctx_t ctx = {.training = 1, .seed = 1};
    double first = 0, last = 0;
    for (int step = 0; step < 8; step++) {
        st_step_result_t res;
        ctx.step = (uint32_t)step;
        if (st_train_step_local(&parts, &ctx, x, y, NULL, B, 0.01, &res, &err) != ST_OK) fail_msg("%s", err.msg);
        assert_true(isfinite(res.loss));
        if (step == 0) first = res.loss;
        else assert_true(res.loss < last); /* measured (lstm): 2.37, 2.30, ... 1.81 at step 7 */
        last = res.loss;
    }
    assert_true(last < 0.85 * first);
    free(x);
    st_optim_free(opt);
    st_loss_heads_free(&losses);
    st_model_free(m);
    cJSON_Delete(mj), cJSON_Delete(lj), cJSON_Delete(oj);
}

static void test_errors_name_the_path(void **s) {
    const rnn_kind_t *k = *s;
    st_error_t err = {0};
    char json[160], want[160];
    assert_int_equal(tu_layer_try(layer_json(json, sizeof json, k, "\"units\":4"), st_shape1(784), 0, &err), ST_ERR_SHAPE);
    snprintf(want, sizeof want, "model.layers[0]: %s needs a sequence input [T, C], got [784]", k->type);
    assert_string_equal(err.msg, want);
    assert_int_equal(tu_layer_try(layer_json(json, sizeof json, k, "\"units\":0"), st_shape2(5, 4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].units: expected a positive integer, got 0");
    assert_int_equal(tu_layer_try(layer_json(json, sizeof json, k, ""), st_shape2(5, 4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].units: required key is missing");
    assert_int_equal(tu_layer_try(layer_json(json, sizeof json, k, "\"units\":4,\"bidirectional\":1"), st_shape2(5, 4), 0,
                                  &err),
                     ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0].bidirectional"));
    assert_int_equal(tu_layer_try(layer_json(json, sizeof json, k, "\"units\":4,\"return_sequence\":false"), st_shape2(5, 4),
                                  0, &err),
                     ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "unknown key \"return_sequence\""));
}

/* Every case for one kind: its name says which ("lstm: torch_uni_seq"). */
#define FOR_KIND(k, tag)                                                                    \
    {tag ": torch_uni_seq", test_torch_uni_seq, NULL, NULL, (void *)&k},                     \
    {tag ": torch_bi_seq", test_torch_bi_seq, NULL, NULL, (void *)&k},                       \
    {tag ": torch_bi_final", test_torch_bi_final, NULL, NULL, (void *)&k},                   \
    {tag ": torch_uni_final", test_torch_uni_final, NULL, NULL, (void *)&k},                 \
    {tag ": torch_bi_large", test_torch_bi_large, NULL, NULL, (void *)&k},                   \
    {tag ": finite_differences", test_finite_differences, NULL, NULL, (void *)&k},           \
    {tag ": parameters_and_init", test_parameters_and_init, NULL, NULL, (void *)&k},         \
    {tag ": gradients_accumulate", test_gradients_accumulate, NULL, NULL, (void *)&k},       \
    {tag ": thread_count_independent", test_thread_count_independent, NULL, NULL, (void *)&k}, \
    {tag ": stacked_model_trains", test_stacked_model_trains, NULL, NULL, (void *)&k},       \
    {tag ": errors_name_the_path", test_errors_name_the_path, NULL, NULL, (void *)&k}

int main(void) {
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        FOR_KIND(LSTM, "lstm"),
        FOR_KIND(GRU, "gru"),
        cmocka_unit_test(test_gate_functions),
    };
    return cmocka_run_group_tests_name("rnn", tests, NULL, NULL);
}
