/* test_model.c — the model graph: JSON building, error messages that name the JSON path,
 * tensor naming, and whole-graph gradients (fan-out, concat, add, residual, heads) checked by
 * finite differences. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "model.h"

static st_model_t *build_ok(const char *json, st_shape_t in, int n_classes) {
    cJSON *obj = cJSON_Parse(json);
    if (!obj) fail_msg("bad JSON in test: %s", json);
    st_error_t err = {0};
    st_model_t *m = NULL;
    if (st_model_build(obj, "model", in, n_classes, &m, &err) != ST_OK) fail_msg("build failed: %s", err.msg);
    cJSON_Delete(obj);
    return m;
}

static void expect_error(const char *json, st_shape_t in, int n_classes, st_status_t code, const char *msg) {
    cJSON *obj = cJSON_Parse(json);
    if (!obj) fail_msg("bad JSON in test: %s", json);
    st_error_t err = {0};
    st_model_t *m = NULL;
    assert_int_equal(st_model_build(obj, "model", in, n_classes, &m, &err), code);
    assert_null(m);
    if (!strstr(err.msg, msg)) fail_msg("message \"%s\" does not contain \"%s\"", err.msg, msg);
    cJSON_Delete(obj);
}

/* ---- whole-model gradient check: L = Σ_h Σ out_h · r_h ---- */

typedef struct {
    st_model_t *m;
    st_run_ctx_t ctx;
    const float *x;
    float *r[ST_MAX_HEADS];
    int B;
} objective_t;

static size_t head_numel(st_model_t *m, int h, int B) { return (size_t)B * st_shape_numel(st_model_head(m, h)->shape); }

static double model_objective(void *p) {
    objective_t *o = p;
    st_model_forward(o->m, &o->ctx, o->x, o->B);
    double s = 0;
    for (int h = 0; h < st_model_head_count(o->m); h++)
        s += tu_dot(st_model_head_output(o->m, h), o->r[h], head_numel(o->m, h, o->B));
    return s;
}

static void gradcheck_model(const char *json, st_shape_t in, int B) {
    st_model_t *m = build_ok(json, in, 0);
    st_error_t err = {0};
    assert_int_equal(st_model_reserve(m, B, 1, &err), ST_OK);
    st_model_init(m, 7);
    size_t n_in = (size_t)B * st_shape_numel(in);
    float *x = malloc(n_in * sizeof(float));
    tu_fill_normal(x, n_in, 3);
    objective_t o = {.m = m, .ctx = {.training = 1, .seed = 1}, .x = x, .B = B};
    for (int h = 0; h < st_model_head_count(m); h++) {
        o.r[h] = malloc(head_numel(m, h, B) * sizeof(float));
        tu_fill_normal(o.r[h], head_numel(m, h, B), 10 + h);
    }
    st_model_zero_grads(m);
    model_objective(&o);
    for (int h = 0; h < st_model_head_count(m); h++)
        memcpy(st_model_head_grad(m, h), o.r[h], head_numel(m, h, B) * sizeof(float));
    st_model_backward(m, &o.ctx, B);
    float *dx = malloc(n_in * sizeof(float));
    memcpy(dx, st_model_input_grad(m), n_in * sizeof(float));
    size_t n_p = st_model_param_floats(m);
    float *dp = malloc(n_p * sizeof(float));
    memcpy(dp, st_model_grads(m), n_p * sizeof(float));
    tu_check_gradient("model d/d(input)", model_objective, &o, x, n_in, dx, 1e-2, 3e-3, 3e-3, 0);
    tu_check_gradient("model d/d(params)", model_objective, &o, st_model_params(m), n_p, dp, 1e-2, 3e-3, 3e-3, 0);
    for (int h = 0; h < st_model_head_count(m); h++) free(o.r[h]);
    free(x), free(dx), free(dp);
    st_model_free(m);
}

static void test_sequential_gradients(void **s) {
    (void)s;
    gradcheck_model("{\"layers\":[{\"type\":\"dense\",\"units\":5},{\"type\":\"dense\",\"units\":3}]}", st_shape1(4), 3);
}

static void test_parallel_concat_with_identity_gradients(void **s) {
    (void)s;
    gradcheck_model("{\"layers\":[{\"type\":\"dense\",\"units\":4},"
                    "{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":[[{\"type\":\"dense\",\"units\":3}],"
                    "[{\"type\":\"dense\",\"units\":2},{\"type\":\"dense\",\"units\":2}],[]]},"
                    "{\"type\":\"dense\",\"units\":2}]}",
                    st_shape1(3), 3);
}

static void test_parallel_add_and_residual_on_sequences(void **s) {
    (void)s;
    gradcheck_model("{\"layers\":[{\"type\":\"dense\",\"units\":4},"
                    "{\"type\":\"residual\",\"layers\":[{\"type\":\"dense\",\"units\":5},{\"type\":\"dense\",\"units\":4}]},"
                    "{\"type\":\"parallel\",\"merge\":\"add\",\"branches\":[[{\"type\":\"dense\",\"units\":3}],[{\"type\":\"dense\",\"units\":3}]]}]}",
                    st_shape2(3, 2), 2);
}

static void test_heads_gradients(void **s) {
    (void)s;
    gradcheck_model("{\"layers\":[{\"type\":\"dense\",\"units\":4}],"
                    "\"heads\":[{\"name\":\"gesture\",\"layers\":[{\"type\":\"dense\",\"units\":3}]},"
                    "{\"name\":\"hand\",\"layers\":[{\"type\":\"dense\",\"units\":2}]}]}",
                    st_shape1(5), 3);
}

static void test_shapes_names_and_arena(void **s) {
    (void)s;
    st_model_t *m = build_ok("{\"layers\":[{\"type\":\"dense\",\"units\":8},"
                             "{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":[[{\"type\":\"dense\",\"units\":3,\"name\":\"left\"}],[]]}],"
                             "\"heads\":[{\"name\":\"main\",\"layers\":[{\"type\":\"dense\",\"units\":\"classes\"}]}]}",
                             st_shape1(6), 10);
    assert_int_equal(st_model_head_count(m), 1);
    assert_string_equal(st_model_head(m, 0)->name, "main");
    assert_int_equal(st_model_head(m, 0)->shape.d[0], 10);
    int n;
    const st_tensor_view_t *t = st_model_tensors(m, &n);
    assert_int_equal(n, 6);
    assert_string_equal(t[0].name, "layers.0.weight");
    assert_string_equal(t[2].name, "left.weight");
    assert_string_equal(t[4].name, "heads.main.0.weight");
    /* The views tile the arena in order. */
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(t[i].offset, off);
        off += t[i].n;
    }
    assert_int_equal(off, st_model_param_floats(m));
    assert_int_equal(off, 6 * 8 + 8 + 8 * 3 + 3 + 11 * 10 + 10);
    st_model_free(m);
}

static void test_errors_name_the_json_path(void **s) {
    (void)s;
    st_shape_t in = st_shape1(4);
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":3},{\"type\":\"dense\",\"units\":3},{\"type\":\"dense\",\"units\":3},{\"type\":\"dense\",\"units\":\"abc\"}]}",
                 in, 0, ST_ERR_CONFIG, "model.layers[3].units: expected a positive integer or \"classes\", got \"abc\"");
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":3},{\"type\":\"parallel\",\"merge\":\"add\",\"branches\":[[{\"type\":\"dense\",\"units\":-2}],[]]}]}",
                 in, 0, ST_ERR_CONFIG, "model.layers[1].branches[0][0].units: expected a positive integer or \"classes\", got -2");
    expect_error("{\"layers\":[{\"type\":\"convolution\"}]}", in, 0, ST_ERR_CONFIG,
                 "model.layers[0].type: unknown layer type \"convolution\"; known types: dense, batchnorm, layernorm");
    expect_error("{\"layers\":[{\"units\":3}]}", in, 0, ST_ERR_CONFIG, "model.layers[0].type: required key is missing");
    expect_error("{\"layer\":[]}", in, 0, ST_ERR_CONFIG, "model: unknown key \"layer\" (did you mean \"layers\"?)");
    expect_error("{\"layers\":[]}", in, 0, ST_ERR_CONFIG, "model.layers: expected a non-empty list of layers");
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":3}],\"heads\":[{\"name\":\"a\",\"layers\":[]},{\"name\":\"a\",\"layers\":[]}]}",
                 in, 0, ST_ERR_CONFIG, "model.heads[1].name: head name \"a\" is used twice");
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":\"classes\"}]}", in, 0, ST_ERR_CONFIG,
                 "model.layers[0].units: \"classes\" needs the dataset's class count");
    expect_error("{\"layers\":[{\"type\":\"parallel\",\"merge\":\"sum\",\"branches\":[[],[]]}]}", in, 0, ST_ERR_CONFIG,
                 "model.layers[0].merge: expected \"concat\" or \"add\"");
}

static void test_shape_mismatches_are_explained(void **s) {
    (void)s;
    expect_error("{\"layers\":[{\"type\":\"parallel\",\"merge\":\"add\",\"branches\":[[{\"type\":\"dense\",\"units\":3}],[]]}]}",
                 st_shape1(4), 0, ST_ERR_SHAPE,
                 "model.layers[0]: an \"add\" merge needs equal shapes; branch 0 gives [3], branch 1 gives [4]");
    expect_error("{\"layers\":[{\"type\":\"residual\",\"layers\":[{\"type\":\"dense\",\"units\":6}]}]}",
                 st_shape2(5, 4), 0, ST_ERR_SHAPE,
                 "model.layers[0]: a residual block must keep its input's shape [5, 4], but its layers give [5, 6]");
}

static void test_duplicate_layer_names_are_refused(void **s) {
    (void)s;
    st_shape_t in = st_shape1(4);
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":3,\"name\":\"fc\"},{\"type\":\"relu\"},"
                 "{\"type\":\"dense\",\"units\":3,\"name\":\"fc\"}]}",
                 in, 0, ST_ERR_CONFIG, "model.layers[2]: layer name \"fc\" is also the name of model.layers[0]");
    /* a user's name that another layer gets by default */
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":3,\"name\":\"layers.1\"},{\"type\":\"dense\",\"units\":3}]}",
                 in, 0, ST_ERR_CONFIG, "model.layers[1]: layer name \"layers.1\" is also the name of model.layers[0]");
    /* across the trunk, branches and heads; the first repeat in model order is reported */
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":4,\"name\":\"a\"},{\"type\":\"dense\",\"units\":4,\"name\":\"b\"},"
                 "{\"type\":\"parallel\",\"merge\":\"add\",\"branches\":[[{\"type\":\"dense\",\"units\":4,\"name\":\"b\"}],[]]}],"
                 "\"heads\":[{\"name\":\"h\",\"layers\":[{\"type\":\"dense\",\"units\":2,\"name\":\"a\"}]}]}",
                 in, 0, ST_ERR_CONFIG, "model.layers[2].branches[0][0]: layer name \"b\" is also the name of model.layers[1]");
    expect_error("{\"layers\":[{\"type\":\"dense\",\"units\":4,\"name\":\"a\"}],"
                 "\"heads\":[{\"name\":\"h\",\"layers\":[{\"type\":\"dense\",\"units\":2,\"name\":\"a\"}]}]}",
                 in, 0, ST_ERR_CONFIG, "model.heads[0].layers[0]: layer name \"a\" is also the name of model.layers[0]");
    st_model_free(build_ok("{\"layers\":[{\"type\":\"dense\",\"units\":3,\"name\":\"fc\"},{\"type\":\"dense\",\"units\":3,\"name\":\"fc2\"}]}",
                           in, 0));
}

/* Building walks the JSON lists by their links: 40,000 layers took about 9 s when every layer
 * indexed its list (O(n²)), well under a second now. */
static void test_build_is_linear_in_the_layer_count(void **s) {
    (void)s;
    enum { N = 40000 };
    cJSON *obj = cJSON_CreateObject(), *layers = cJSON_AddArrayToObject(obj, "layers");
    for (int i = 0; i < N; i++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "type", "relu");
        cJSON_AddItemToArray(layers, l);
    }
    st_error_t err = {0};
    st_model_t *m = NULL;
    double t0 = st_clock_s();
    assert_int_equal(st_model_build(obj, "model", st_shape1(4), 0, &m, &err), ST_OK);
    double seconds = st_clock_s() - t0;
    assert_int_equal(st_model_layer_count(m), N);
    assert_string_equal(st_model_head(m, 0)->path, "model.layers[39999]");
    if (!(seconds < 4.0)) fail_msg("building %d layers took %.2f s (limit 4 s)", N, seconds);
    st_model_free(m);
    cJSON_Delete(obj);
}

static void test_head_paths_name_the_last_layer(void **s) {
    (void)s;
    st_model_t *m = build_ok("{\"layers\":[{\"type\":\"dense\",\"units\":4},"
                             "{\"type\":\"parallel\",\"merge\":\"add\",\"branches\":[[{\"type\":\"dense\",\"units\":4}],[]]}],"
                             "\"heads\":[{\"name\":\"a\",\"layers\":[{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":2}]},"
                             "{\"name\":\"b\",\"layers\":[]}]}",
                             st_shape1(3), 0);
    assert_string_equal(st_model_head(m, 0)->path, "model.heads[0].layers[1]");
    assert_string_equal(st_model_head(m, 1)->path, "model.layers[1]");
    st_model_free(m);
}

static st_status_t check_losses(const char *model_json, st_shape_t in, int K, const char *loss_json, st_error_t *err) {
    st_model_t *m = build_ok(model_json, in, K);
    cJSON *loss = cJSON_Parse(loss_json);
    st_loss_heads_t heads;
    if (st_loss_heads_parse(&heads, loss, "loss", NULL, NULL, err) != ST_OK) fail_msg("loss: %s", err->msg);
    for (int h = 0; h < heads.n_heads; h++) heads.heads[h].n_classes = K;
    st_status_t rc = st_model_check_losses(m, &heads, err);
    st_loss_heads_free(&heads);
    cJSON_Delete(loss);
    st_model_free(m);
    return rc;
}

static void test_outputs_are_checked_against_the_loss(void **s) {
    (void)s;
    st_error_t err = {0};
    const char *xent = "{\"type\":\"cross_entropy\"}";
    /* a last dense of 7 units on 10 classes */
    assert_int_equal(check_losses("{\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":7}]}",
                                  st_shape1(5), 10, xent, &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[2]: gives [7] per sample, but loss \"cross_entropy\" needs [10], one logit per "
                                 "class of the dataset (a last dense layer takes \"units\": \"classes\")");
    /* a sequence model without pooling: one row of logits per position */
    assert_int_equal(check_losses("{\"layers\":[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"padding\":1},"
                                  "{\"type\":\"dense\",\"units\":\"classes\"}]}",
                                  st_shape2(16, 3), 3, "{\"type\":\"focal\"}", &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[1]: gives [16, 3] per sample (a row per position), but loss \"focal\" needs [3], "
                                 "one logit per class of the dataset: pool or flatten the positions first "
                                 "(global_avg_pool, global_max_pool or flatten)");
    /* the output of a block */
    assert_int_equal(check_losses("{\"layers\":[{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":[[{\"type\":\"dense\",\"units\":2}],[]]}]}",
                                  st_shape1(3), 3, xent, &err), ST_ERR_SHAPE);
    assert_non_null(strstr(err.msg, "model.layers[0]: gives [5] per sample, but loss \"cross_entropy\" needs [3]"));
    /* heads: the loss names its output */
    const char *two = "{\"layers\":[{\"type\":\"dense\",\"units\":4}],\"heads\":[{\"name\":\"a\",\"layers\":[{\"type\":\"dense\",\"units\":3}]},"
                      "{\"name\":\"b\",\"layers\":[{\"type\":\"dense\",\"units\":2}]}]}";
    assert_int_equal(check_losses(two, st_shape1(3), 3, "[{\"type\":\"cross_entropy\",\"head\":\"a\"},{\"type\":\"mse\",\"head\":\"b\"}]",
                                  &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.heads[1].layers[0]: gives [2] per sample, but loss \"mse\" needs [3], one output per target");
    assert_int_equal(check_losses(two, st_shape1(3), 3, "{\"type\":\"cross_entropy\",\"head\":\"c\"}", &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.head: the model has no output named \"c\" (its outputs: a, b)");
    assert_int_equal(check_losses(two, st_shape1(3), 3, xent, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.head: the model has 2 outputs (a, b): name the one this loss applies to");
    /* what fits */
    assert_int_equal(check_losses(two, st_shape1(3), 3, "{\"type\":\"cross_entropy\",\"head\":\"a\"}", &err), ST_OK);
    assert_int_equal(check_losses("{\"layers\":[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3},{\"type\":\"global_avg_pool\"},"
                                  "{\"type\":\"dense\",\"units\":\"classes\"}]}",
                                  st_shape2(16, 3), 3, xent, &err), ST_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_gradients),
        cmocka_unit_test(test_parallel_concat_with_identity_gradients),
        cmocka_unit_test(test_parallel_add_and_residual_on_sequences),
        cmocka_unit_test(test_heads_gradients),
        cmocka_unit_test(test_shapes_names_and_arena),
        cmocka_unit_test(test_errors_name_the_json_path),
        cmocka_unit_test(test_shape_mismatches_are_explained),
        cmocka_unit_test(test_duplicate_layer_names_are_refused),
        cmocka_unit_test(test_build_is_linear_in_the_layer_count),
        cmocka_unit_test(test_head_paths_name_the_last_layer),
        cmocka_unit_test(test_outputs_are_checked_against_the_loss),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
