/* test_seq_layers.c — squeeze_excite, conv_transpose1d, upsample1d, reshape and permute:
 * forward, input gradient and every parameter gradient against PyTorch (tests/fixtures/
 * gen_seq_layers.py), finite differences, output shapes, parameter names and init bounds,
 * bitwise-equal results at 1 and 2 threads, the error messages, and a model made of them that
 * builds on a [784] input and trains (st_train_step_local). Prints forward+backward timings of
 * SE and conv_transpose1d at one thread as TAP comments. */
#include "testutil.h"
#include "layertest.h"

#include <blis.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loss.h"
#include "model.h"
#include "optim.h"
#include "train_step.h"

#define FIX "seq_layers.h5"
#define A(cas, name) ((long)tu_read_attr(FIX, cas, name))

/* Loads every parameter from "<cas>/<tensor>" (its name without "layers.0."), runs one forward
 * and backward on the fixture's x and dout and checks out, dx and each "<cas>/d<tensor>" to
 * 1e-5 + 1e-5·|ref| (float32 sums of at most a few hundred terms in another order than PyTorch). */
static void compare_with_torch(const char *json, const char *cas) {
    const int B = A(cas, "B"), T = A(cas, "T"), C = A(cas, "C");
    tu_layer_t *t = tu_layer_new(json, st_shape2(T, C), B, 0, 1);
    st_layer_t *L = &t->L;
    char path[160];
    size_t n, n_x, n_out;
    for (int p = 0; p < L->n_params; p++) {
        snprintf(path, sizeof path, "%s/%s", cas, L->params[p].name + strlen("layers.0."));
        float *v = tu_read_f32(FIX, path, &n);
        assert_int_equal(n, L->params[p].n);
        memcpy(L->params[p].data, v, n * sizeof(float));
        free(v);
    }
    snprintf(path, sizeof path, "%s/x", cas);
    float *x = tu_read_f32(FIX, path, &n_x);
    snprintf(path, sizeof path, "%s/dout", cas);
    float *dout = tu_read_f32(FIX, path, &n);
    snprintf(path, sizeof path, "%s/out", cas);
    float *out_ref = tu_read_f32(FIX, path, &n_out);
    snprintf(path, sizeof path, "%s/dx", cas);
    float *dx_ref = tu_read_f32(FIX, path, &n);
    assert_int_equal(n_x, (size_t)B * st_shape_numel(L->in_shape));
    assert_int_equal(n_out, (size_t)B * st_shape_numel(L->out_shape)); /* the output shape agrees */
    float *out = calloc(n_out, sizeof(float)), *dx = calloc(n_x, sizeof(float));
    L->kind->forward(L, &t->ctx, out, x, B);
    tu_assert_close("out", out, out_ref, n_out, 1e-5, 1e-5);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    tu_assert_close("dx", dx, dx_ref, n_x, 1e-5, 1e-5);
    for (int p = 0; p < L->n_params; p++) {
        snprintf(path, sizeof path, "%s/d%s", cas, L->params[p].name + strlen("layers.0."));
        float *g = tu_read_f32(FIX, path, &n);
        assert_int_equal(n, L->params[p].n);
        tu_assert_close(L->params[p].name, L->params[p].grad, g, n, 1e-5, 1e-5);
        free(g);
    }
    free(x), free(dout), free(out_ref), free(dx_ref), free(out), free(dx);
    tu_layer_free(t);
}

static void convt_case(const char *cas) {
    char json[320];
    snprintf(json, sizeof json,
             "{\"type\":\"conv_transpose1d\",\"filters\":%ld,\"kernel_size\":%ld,\"stride\":%ld,\"padding\":%ld,"
             "\"output_padding\":%ld,\"groups\":%ld,\"bias\":%s}",
             A(cas, "filters"), A(cas, "kernel_size"), A(cas, "stride"), A(cas, "padding"), A(cas, "output_padding"),
             A(cas, "groups"), A(cas, "bias") ? "true" : "false");
    compare_with_torch(json, cas);
}

static void se_case(const char *cas) {
    char json[128];
    snprintf(json, sizeof json, "{\"type\":\"squeeze_excite\",\"reduction\":%ld}", A(cas, "reduction"));
    compare_with_torch(json, cas);
}

static void upsample_case(const char *cas) {
    char json[128];
    snprintf(json, sizeof json, "{\"type\":\"upsample1d\",\"scale\":%ld,\"mode\":\"%s\"}", A(cas, "scale"),
             A(cas, "linear") ? "linear" : "nearest");
    compare_with_torch(json, cas);
}

static void test_torch_conv_transpose1d(void **s) {
    (void)s;
    static const char *const cases[] = {"ct_plain", "ct_s2_p1_op1_g2", "ct_s3_nobias", "ct_k5_s2_p2_g3", "ct_wide"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) convt_case(cases[i]);
}

static void test_torch_squeeze_excite(void **s) {
    (void)s;
    se_case("se_r4");
    se_case("se_r4_wide");
    se_case("se_r16_hidden1");
}

static void test_torch_upsample1d(void **s) {
    (void)s;
    static const char *const cases[] = {"up_nearest2", "up_nearest3", "up_linear2", "up_linear3", "up_linear3_t1"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) upsample_case(cases[i]);
}

/* Finite differences of d(Σ out·r) w.r.t. the input and every parameter. */
static void test_finite_differences(void **s) {
    (void)s;
    /* SE: fc1.bias is raised by 3 so no hidden unit sits near the relu's kink, where a central
     * difference is wrong (the PyTorch cases cover units that the relu cuts). */
    static const struct { const char *json; int T, C; } cases[] = {
        {"{\"type\":\"squeeze_excite\",\"reduction\":2}", 5, 6},
        {"{\"type\":\"squeeze_excite\"}", 4, 3},
        {"{\"type\":\"conv_transpose1d\",\"filters\":4,\"kernel_size\":3}", 5, 3},
        {"{\"type\":\"conv_transpose1d\",\"filters\":6,\"kernel_size\":3,\"stride\":2,\"padding\":1,\"output_padding\":1,\"groups\":2}", 6, 4},
        {"{\"type\":\"conv_transpose1d\",\"filters\":3,\"kernel_size\":2,\"stride\":3,\"bias\":false}", 4, 2},
        {"{\"type\":\"upsample1d\",\"scale\":2}", 5, 3},
        {"{\"type\":\"upsample1d\",\"scale\":3,\"mode\":\"linear\"}", 6, 2},
        {"{\"type\":\"reshape\",\"shape\":[30]}", 5, 6},
        {"{\"type\":\"permute\"}", 5, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_layer_t *t = tu_layer_new(cases[i].json, st_shape2(cases[i].T, cases[i].C), 3, 0, 7 + i);
        if (strcmp(t->L.kind->type, "squeeze_excite") == 0)
            for (size_t j = 0; j < t->L.params[1].n; j++) t->L.params[1].data[j] += 3.0f;
        tu_layer_gradcheck(t, 3, 40 + i, 1e-2, 2e-3, 2e-3);
        tu_layer_free(t);
    }
}

/* Output shapes, parameter names and sizes, and PyTorch's default init bounds. */
static void test_shapes_and_parameters(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"squeeze_excite\",\"reduction\":4}", st_shape2(7, 12), 2, 0, 3);
    st_layer_t *L = &t->L;
    static const char *const names[] = {"layers.0.fc1.weight", "layers.0.fc1.bias", "layers.0.fc2.weight",
                                        "layers.0.fc2.bias"};
    static const size_t sizes[] = {3 * 12, 3, 12 * 3, 12};
    const float bounds[] = {1 / sqrtf(12), 1 / sqrtf(12), 1 / sqrtf(3), 1 / sqrtf(3)};
    assert_int_equal(L->n_params, 4);
    assert_true(st_shape_equal(L->out_shape, st_shape2(7, 12)));
    for (int p = 0; p < 4; p++) {
        assert_string_equal(L->params[p].name, names[p]);
        assert_int_equal(L->params[p].n, sizes[p]);
        assert_int_equal(L->params[p].decay, p % 2 == 0);
        float m = 0;
        for (size_t i = 0; i < L->params[p].n; i++) m = fmaxf(m, fabsf(L->params[p].data[i]));
        assert_true(m <= bounds[p] && m > 0.3f * bounds[p]);
    }
    tu_layer_free(t);
    /* conv_transpose1d: weight [C_in, F/G, K] = [4, 3, 3], fan_in = F/G·K = 9 */
    t = tu_layer_new("{\"type\":\"conv_transpose1d\",\"filters\":6,\"kernel_size\":3,\"stride\":2,\"padding\":1,"
                     "\"output_padding\":1,\"groups\":2}", st_shape2(10, 4), 2, 0, 3);
    L = &t->L;
    assert_true(st_shape_equal(L->out_shape, st_shape2(20, 6))); /* 9·2 − 2 + 3 + 1 */
    assert_string_equal(L->params[0].name, "layers.0.weight");
    assert_int_equal(L->params[0].n, 4 * 3 * 3);
    assert_int_equal(L->params[1].n, 6);
    for (int p = 0; p < 2; p++) {
        float m = 0;
        for (size_t i = 0; i < L->params[p].n; i++) m = fmaxf(m, fabsf(L->params[p].data[i]));
        assert_true(m <= 1 / 3.0f && m > 0.1f);
    }
    tu_layer_free(t);
    static const struct { const char *json; st_shape_t in, out; } shapes[] = {
        {"{\"type\":\"upsample1d\",\"scale\":3,\"mode\":\"linear\"}", {2, {5, 4}}, {2, {15, 4}}},
        {"{\"type\":\"upsample1d\",\"scale\":1}", {2, {5, 4}}, {2, {5, 4}}},
        {"{\"type\":\"reshape\",\"shape\":[28,28]}", {1, {784}}, {2, {28, 28}}},
        {"{\"type\":\"reshape\",\"shape\":[392,1]}", {2, {28, 14}}, {2, {392, 1}}},
        {"{\"type\":\"reshape\",\"shape\":[784]}", {2, {28, 28}}, {1, {784}}},
        {"{\"type\":\"permute\"}", {2, {5, 3}}, {2, {3, 5}}},
        {"{\"type\":\"conv_transpose1d\",\"filters\":8,\"kernel_size\":2,\"stride\":2}", {2, {14, 16}}, {2, {28, 8}}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        t = tu_layer_new(shapes[i].json, shapes[i].in, 1, 0, 1);
        assert_true(st_shape_equal(t->L.out_shape, shapes[i].out));
        assert_int_equal(t->L.n_params, i < 6 ? 0 : 2);
        tu_layer_free(t);
    }
}

/* permute and reshape move elements where they should (hand-checked on [2, 3]). */
static void test_permute_and_reshape_values(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"permute\"}", st_shape2(2, 3), 2, 0, 1);
    const float x[12] = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
    const float want[12] = {0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15};
    float out[12], back[12];
    t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
    assert_memory_equal(out, want, sizeof want);
    t->L.kind->backward(&t->L, &t->ctx, back, out, x, out, 2);
    assert_memory_equal(back, x, sizeof x);
    tu_layer_free(t);
    t = tu_layer_new("{\"type\":\"reshape\",\"shape\":[3,2]}", st_shape2(2, 3), 2, 0, 1);
    t->L.kind->forward(&t->L, &t->ctx, out, x, 2);
    assert_memory_equal(out, x, sizeof x); /* memory order is unchanged */
    tu_layer_free(t);
}

static void test_thread_count_independent(void **s) {
    (void)s;
    static const struct { const char *json; int T, C; } cases[] = {
        {"{\"type\":\"squeeze_excite\",\"reduction\":4}", 14, 192},
        {"{\"type\":\"conv_transpose1d\",\"filters\":32,\"kernel_size\":4,\"stride\":2,\"padding\":1,\"groups\":2}", 14, 64},
        {"{\"type\":\"upsample1d\",\"scale\":3,\"mode\":\"linear\"}", 14, 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tu_layer_assert_threads_agree(cases[i].json, st_shape2(cases[i].T, cases[i].C), 64, 2);
}

static void test_errors_name_the_path(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(tu_layer_try("{\"type\":\"squeeze_excite\",\"reduction\":0}", st_shape2(5, 8), 0, &err),
                     ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].reduction: expected a positive integer, got 0");
    assert_int_equal(tu_layer_try("{\"type\":\"squeeze_excite\"}", st_shape1(8), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: squeeze_excite needs a sequence input [T, C], got [8]");
    assert_int_equal(tu_layer_try("{\"type\":\"reshape\",\"shape\":[28,27]}", st_shape1(784), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0].shape: [28, 27] has 756 elements, the input [784] has 784");
    assert_int_equal(tu_layer_try("{\"type\":\"reshape\",\"shape\":[2,2,196]}", st_shape1(784), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].shape: expected [D] or [T, C] (1 or 2 integers), got 3 integers");
    assert_int_equal(tu_layer_try("{\"type\":\"reshape\"}", st_shape1(784), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].shape: required key is missing");
    assert_int_equal(tu_layer_try("{\"type\":\"conv_transpose1d\",\"filters\":4,\"kernel_size\":3,\"stride\":2,"
                                  "\"output_padding\":2}", st_shape2(5, 4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].output_padding: must be smaller than stride (2), got 2");
    assert_int_equal(tu_layer_try("{\"type\":\"conv_transpose1d\",\"filters\":5,\"kernel_size\":3,\"groups\":2}",
                                  st_shape2(5, 4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg,
                        "model.layers[0].groups: input channels (4) and filters (5) must both be divisible by groups (2)");
    assert_int_equal(tu_layer_try("{\"type\":\"conv_transpose1d\",\"filters\":4,\"kernel_size\":1,\"padding\":1}",
                                  st_shape2(1, 4), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: conv_transpose1d output length (T 1 - 1)*stride 1 - 2*padding 1 + "
                                 "kernel_size 1 + output_padding 0 = -1 is not positive");
    assert_int_equal(tu_layer_try("{\"type\":\"upsample1d\",\"scale\":0}", st_shape2(5, 4), 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "model.layers[0].scale: expected a positive integer, got 0");
    assert_int_equal(tu_layer_try("{\"type\":\"upsample1d\",\"scale\":2,\"mode\":\"cubic\"}", st_shape2(5, 4), 0, &err),
                     ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[0].mode"));
    assert_int_equal(tu_layer_try("{\"type\":\"permute\"}", st_shape1(784), 0, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[0]: permute needs a sequence input [T, C], got [784]");
}

/* The example model on a [784] input builds with the expected shapes and its loss falls
 * over a few Adam steps on one fixed batch. */
static int three_classes(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return 3;
}

static void test_model_builds_and_trains(void **s) {
    (void)s;
    enum { B = 16, D = 784, K = 3, STEPS = 8 };
    static const char *model_json =
        "{\"layers\":[{\"type\":\"reshape\",\"shape\":[28,28]},"
        "{\"type\":\"conv1d\",\"filters\":16,\"kernel_size\":3,\"padding\":1},"
        "{\"type\":\"squeeze_excite\",\"reduction\":4},{\"type\":\"max_pool1d\",\"kernel_size\":2},"
        "{\"type\":\"conv_transpose1d\",\"filters\":8,\"kernel_size\":2,\"stride\":2},"
        "{\"type\":\"global_avg_pool\"},{\"type\":\"dense\",\"units\":\"classes\"}]}";
    st_error_t err = {0};
    cJSON *m = cJSON_Parse(model_json), *l = cJSON_Parse("{\"type\":\"cross_entropy\"}");
    cJSON *o = cJSON_Parse("{\"type\":\"adam\",\"lr\":0.01}");
    st_model_t *model;
    if (st_model_build(m, "model", st_shape1(D), K, &model, &err) != ST_OK) fail_msg("%s", err.msg);
    static const st_shape_t want[] = {{2, {28, 28}}, {2, {28, 16}}, {2, {28, 16}}, {2, {14, 16}},
                                      {2, {28, 8}},  {1, {8}},      {1, {3}}};
    assert_int_equal(st_model_layer_count(model), 7);
    for (int i = 0; i < 7; i++) assert_true(st_shape_equal(st_model_layer(model, i)->out_shape, want[i]));
    st_model_init(model, 5);
    assert_int_equal(st_model_reserve(model, B, 0, &err), ST_OK);
    st_loss_heads_t losses;
    if (st_loss_heads_parse(&losses, l, "loss", three_classes, NULL, &err) != ST_OK) fail_msg("%s", err.msg);
    st_optim_config_t oc;
    if (st_optim_parse(o, "optimizer", &oc, &err) != ST_OK) fail_msg("%s", err.msg);
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(model, &n_tensors);
    st_optim_t *optim;
    if (st_optim_create(&oc, tensors, n_tensors, st_model_param_floats(model), &optim, &err) != ST_OK)
        fail_msg("%s", err.msg);
    float *x = malloc((size_t)B * D * sizeof(float));
    int32_t y[B];
    tu_fill_normal(x, (size_t)B * D, 77);
    for (int i = 0; i < B; i++) y[i] = i % K;
    st_run_ctx_t ctx = {.training = 1, .seed = 1, .update_running_stats = 1};
    st_step_parts_t parts = {model, &losses, optim, 0};
    double first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        st_step_result_t res;
        ctx.step = (uint32_t)step;
        if (st_train_step_local(&parts, &ctx, x, y, NULL, B, 0.01, &res, &err) != ST_OK) fail_msg("%s", err.msg);
        if (step == 0) first = res.loss;
        last = res.loss;
        assert_true(isfinite(res.loss) && res.grad_norm > 0);
    }
    printf("# model loss %.4f -> %.4f after %d Adam steps\n", first, last, STEPS);
    assert_true(last < 0.9 * first);
    free(x);
    st_optim_free(optim);
    st_loss_heads_free(&losses);
    st_model_free(model);
    cJSON_Delete(m), cJSON_Delete(l), cJSON_Delete(o);
}

/* Forward + backward time at one thread (best of 5), printed as TAP comments; asserts only that
 * the layer ran (a finite, non-zero output). */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void time_layer(const char *what, const char *json, st_shape_t in, int B) {
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 2);
    size_t n_in = (size_t)B * st_shape_numel(in), n_out = (size_t)B * st_shape_numel(t->L.out_shape);
    float *x = malloc(n_in * 4), *dx = malloc(n_in * 4), *out = malloc(n_out * 4), *dout = malloc(n_out * 4);
    tu_fill_normal(x, n_in, 1);
    tu_fill_normal(dout, n_out, 2);
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now_s();
        t->L.kind->forward(&t->L, &t->ctx, out, x, B);
        t->L.kind->backward(&t->L, &t->ctx, dx, dout, x, out, B);
        double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    printf("# %s: forward+backward %.3f ms (B %d, 1 thread, best of 5)\n", what, best * 1e3, B);
    assert_true(isfinite(out[n_out - 1]) && isfinite(dx[0]) && tu_dot(out, out, n_out) > 0);
    free(x), free(dx), free(out), free(dout);
    tu_layer_free(t);
}

static void test_timing(void **s) {
    (void)s;
    omp_set_num_threads(1);
    bli_thread_set_num_threads(1);
    time_layer("squeeze_excite C 192, T 14, r 16", "{\"type\":\"squeeze_excite\"}", st_shape2(14, 192), 128);
    time_layer("conv_transpose1d C 64->32, K 4, stride 2, T 14",
               "{\"type\":\"conv_transpose1d\",\"filters\":32,\"kernel_size\":4,\"stride\":2}", st_shape2(14, 64), 128);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_conv_transpose1d),
        cmocka_unit_test(test_torch_squeeze_excite),
        cmocka_unit_test(test_torch_upsample1d),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_shapes_and_parameters),
        cmocka_unit_test(test_permute_and_reshape_values),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_errors_name_the_path),
        cmocka_unit_test(test_model_builds_and_trains),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests_name("seq_layers", tests, NULL, NULL);
}
