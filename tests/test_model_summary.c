/* test_model_summary.c — `strata summary`'s figures (core/model_summary.h) against hand-computed
 * values: an MLP (dense, batchnorm, relu, dropout, dense; an optimizer group with lr_mult 0) and
 * a conv1d + LSTM model, a residual's merge row, every registered kind having a FLOP rule, a kind
 * without one reported as unknown (never 0), and the JSON keys. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "layers/lstm.h"
#include "model.h"
#include "model_summary.h"

static st_model_t *build_ok(const char *json, st_shape_t in, int n_classes) {
    cJSON *obj = cJSON_Parse(json);
    if (!obj) fail_msg("bad JSON in test: %s", json);
    st_error_t err = {0};
    st_model_t *m = NULL;
    if (st_model_build(obj, "model", in, n_classes, &m, &err) != ST_OK) fail_msg("build failed: %s", err.msg);
    cJSON_Delete(obj);
    return m;
}

static void summarize(st_summary_t *s, st_model_t *m, const st_optim_config_t *o, int B) {
    st_error_t err = {0};
    if (st_summary_make(s, m, o, B, &err) != ST_OK) fail_msg("summary failed: %s", err.msg);
    assert_int_equal(s->params, st_model_param_floats(m));
    assert_int_equal(s->buffers, st_model_buffer_floats(m));
}

/* in [20], micro-batch 8, SGD with momentum (1 state array), layers.4.* frozen (lr_mult 0). */
static void test_mlp(void **state) {
    (void)state;
    st_model_t *m = build_ok("{\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},"
                             "{\"type\":\"dropout\",\"rate\":0.5},{\"type\":\"dense\",\"units\":\"classes\"}]}",
                             st_shape1(20), 4);
    st_optim_config_t o;
    st_optim_config_default(&o, ST_OPTIM_SGD);
    o.momentum = 0.9, o.n_groups = 1;
    snprintf(o.groups[0].params, sizeof o.groups[0].params, "layers.4.*");
    o.groups[0].lr_mult = 0;
    st_summary_t s;
    summarize(&s, m, &o, 8);
    assert_int_equal(s.n_rows, 5);
    const st_summary_row_t *r = s.rows;
    /* dense 20 -> 16, no bias (a batchnorm follows): 320 params; forward 2·20·16 = 640; it reads the
     * model's input, so training = forward + dW (640) = 1280, no din; output 8·16 floats = 512 bytes */
    assert_string_equal(r[0].path, "model.layers[0]");
    assert_string_equal(r[0].kind, "dense");
    assert_int_equal(r[0].params, 320);
    assert_int_equal(r[0].trainable, 320);
    assert_true(r[0].flops_forward == 640 && r[0].flops_train == 1280);
    assert_true(r[0].activation_bytes == 512);
    /* batchnorm [16]: 32 params (γ, β), 32 buffers; forward 7·16 = 112; training 112 + din 8·16 +
     * dγ,dβ 3·16 = 288; output 16 + scratch 2·16 + 1 = 49 floats per sample: 4·8·49 = 1568 bytes */
    assert_int_equal(r[1].params, 32);
    assert_int_equal(r[1].buffers, 32);
    assert_true(r[1].flops_forward == 112 && r[1].flops_train == 288);
    assert_true(r[1].activation_bytes == 1568);
    /* relu: 16 forward, + 16 din = 32; 4·8·16 = 512 bytes */
    assert_true(r[2].flops_forward == 16 && r[2].flops_train == 32 && r[2].activation_bytes == 512);
    /* dropout: 16, 32; output and mask: 4·8·32 = 1024 bytes */
    assert_true(r[3].flops_forward == 16 && r[3].flops_train == 32 && r[3].activation_bytes == 1024);
    /* dense 16 -> 4 with bias: 68 params, frozen; forward 2·16·4 + 4 = 132; training 132 + din 128
     * + dW, db 132 = 392; 4·8·4 = 128 bytes */
    assert_int_equal(r[4].params, 68);
    assert_int_equal(r[4].trainable, 0);
    assert_true(r[4].flops_forward == 132 && r[4].flops_train == 392 && r[4].activation_bytes == 128);
    /* totals: 420 params, 352 trainable; forward 640+112+16+16+132 = 916; training
     * 1280+288+32+32+392 = 2024; activations 512+1568+512+1024+128 = 3744; momentum 4·420 = 1680 */
    assert_int_equal(s.params, 420);
    assert_int_equal(s.trainable, 352);
    assert_true(s.flops_forward == 916 && s.flops_train == 2024 && s.flops_unknown == 0);
    assert_true(s.activation_bytes == 3744);
    assert_int_equal(s.n_state, 1);
    assert_true(s.optimizer_bytes == 1680);
    assert_true(s.training_bytes == st_model_memory_bytes(m, 8, 1, NULL, NULL));
    st_summary_free(&s);
    st_model_free(m);
}

/* in [10, 3], micro-batch 4, Adam: conv1d 4 filters of 3 taps -> [8, 4], lstm 5 units (final
 * state) -> [5], dense 2. */
static void test_conv_lstm(void **state) {
    (void)state;
    st_model_t *m = build_ok("{\"layers\":[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3},"
                             "{\"type\":\"lstm\",\"units\":5,\"return_sequences\":false},{\"type\":\"dense\",\"units\":2}]}",
                             st_shape2(10, 3), 2);
    st_optim_config_t o;
    st_optim_config_default(&o, ST_OPTIM_ADAM);
    st_summary_t s;
    summarize(&s, m, &o, 4);
    assert_int_equal(s.n_rows, 3);
    const st_summary_row_t *r = s.rows;
    const st_layer_t *conv = st_model_layer(m, 0);
    /* conv1d: 4·3·3 + 4 = 40 params; GEMM 2·T_out 8·F 4·taps 9 = 576, bias 32: forward 608;
     * training (reads the input: no din) 608 + dW, db 608 = 1216 */
    assert_int_equal(r[0].params, 40);
    assert_int_equal(r[0].out_shape.rank, 2);
    assert_int_equal(r[0].out_shape.d[0], 8);
    assert_true(r[0].flops_forward == 608 && r[0].flops_train == 1216);
    assert_true(r[0].activation_bytes == 4.0 * (4 * (32 + conv->scratch_per_sample) + conv->scratch_fixed));
    /* lstm C 4, H 5, T 8, G 20: 20·4 + 20·5 + 20 + 20 = 220 params; forward 2·8·20·(4+5) = 2880 +
     * cell 17·8·5 = 680 -> 3560; din 2·8·20·4 = 1280; rest 2·8·20·(4+10) = 4480 + biases 2·8·20 =
     * 320 + cell 2·680 = 1360 -> 6160; training 3560 + 1280 + 6160 = 11000; output [5] + scratch
     * 2·8·20 + 2·8·5 + 2·5 = 410 floats per sample: 4·4·415 = 6640 bytes */
    assert_int_equal(r[1].params, 220);
    assert_int_equal(st_lstm_scratch_floats(8, 5), 410);
    assert_true(r[1].flops_forward == 3560 && r[1].flops_train == 11000);
    assert_true(r[1].activation_bytes == 6640);
    /* dense 5 -> 2: 12 params; forward 2·5·2 + 2 = 22; training 22 + 20 + 22 = 64 */
    assert_int_equal(r[2].params, 12);
    assert_true(r[2].flops_forward == 22 && r[2].flops_train == 64);
    /* totals: 272 params; forward 608 + 3560 + 22 = 4190; training 1216 + 11000 + 64 = 12280;
     * Adam: 2·4·272 = 2176 bytes of state */
    assert_int_equal(s.params, 272);
    assert_int_equal(s.trainable, 272);
    assert_true(s.flops_forward == 4190 && s.flops_train == 12280);
    assert_int_equal(s.n_state, 2);
    assert_true(s.optimizer_bytes == 2176);
    assert_string_equal(s.optimizer, "adam");
    st_summary_free(&s);
    st_model_free(m);
}

/* A residual's merge is a row of its own: kind "add", the block's path, 1 add per element. */
static void test_residual_merge_row(void **state) {
    (void)state;
    st_model_t *m = build_ok("{\"layers\":[{\"type\":\"dense\",\"units\":6},{\"type\":\"residual\",\"layers\":["
                             "{\"type\":\"dense\",\"units\":6},{\"type\":\"relu\"}]},{\"type\":\"parallel\",\"merge\":"
                             "\"concat\",\"branches\":[[],[{\"type\":\"tanh\"}]]}]}",
                             st_shape1(6), 2);
    st_optim_config_t o;
    st_optim_config_default(&o, ST_OPTIM_ADAMW);
    st_summary_t s;
    summarize(&s, m, &o, 2);
    assert_int_equal(s.n_rows, 6); /* dense, dense, relu, add, tanh, concat */
    assert_string_equal(s.rows[3].kind, "add");
    assert_string_equal(s.rows[3].path, "model.layers[1]");
    assert_true(s.rows[3].flops_forward == 6 && s.rows[3].flops_train == 6);
    assert_true(s.rows[3].activation_bytes == 4.0 * 2 * 6);
    assert_string_equal(s.rows[5].kind, "concat");
    assert_string_equal(s.rows[5].path, "model.layers[2]");
    assert_int_equal(s.rows[5].out_shape.d[0], 12);
    assert_true(s.rows[5].flops_forward == 0);
    /* dense 6 -> 6 with bias: forward 2·6·6 + 6 = 78, din 72, dW and db 78. The first reads the
     * model's input: training 78 + 78 = 156; the second reads its output, so din counts: 228 */
    assert_true(s.rows[0].flops_forward == 78 && s.rows[0].flops_train == 156);
    assert_true(s.rows[1].flops_forward == 78 && s.rows[1].flops_train == 228);
    st_summary_free(&s);
    st_model_free(m);
}

/* Every registered kind has a FLOP rule; a layer whose kind has none is reported as unknown. */
static void test_every_kind_has_a_flop_rule(void **state) {
    (void)state;
    for (int i = 0; i < st_layer_kind_count(); i++)
        if (!st_layer_kind_at(i)->flops) fail_msg("layer kind \"%s\" has no FLOP rule (.flops)", st_layer_kind_at(i)->type);
    st_model_t *m = build_ok("{\"layers\":[{\"type\":\"dense\",\"units\":3},{\"type\":\"relu\"}]}", st_shape1(2), 2);
    st_layer_kind_t no_rule = *st_model_layer(m, 1)->kind;
    no_rule.flops = NULL;
    st_model_layer(m, 1)->kind = &no_rule;
    st_optim_config_t o;
    st_optim_config_default(&o, ST_OPTIM_SGD);
    st_summary_t s;
    summarize(&s, m, &o, 1);
    assert_int_equal(s.rows[1].has_flops, 0);
    assert_int_equal(s.flops_unknown, 1);
    assert_true(s.flops_forward == 2 * 2 * 3 + 3); /* the dense only */
    char *text = st_summary_json(&s);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    cJSON *layers = cJSON_GetObjectItem(root, "layers");
    assert_int_equal(cJSON_GetArraySize(layers), 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(layers, 1), "flops_forward")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(layers, 1), "flops_train")));
    cJSON *l0 = cJSON_GetArrayItem(layers, 0);
    static const char *const keys[] = {"index", "path", "kind", "output_shape", "params", "trainable", "flops_forward",
                                       "flops_train", "activation_bytes"};
    for (int k = 0; k < 9; k++)
        if (!cJSON_GetObjectItem(l0, keys[k])) fail_msg("layers[0] has no \"%s\"", keys[k]);
    assert_string_equal(cJSON_GetObjectItem(l0, "path")->valuestring, "model.layers[0]");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l0, "output_shape")), 1);
    cJSON *totals = cJSON_GetObjectItem(root, "totals");
    assert_int_equal(cJSON_GetObjectItem(totals, "params")->valuedouble, 9);
    assert_int_equal(cJSON_GetObjectItem(totals, "flops_unknown_layers")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(root, "micro_batch")->valuedouble, 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "optimizer"), "type")->valuestring, "sgd");
    cJSON_Delete(root);
    free(text);
    char buf[4096] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");
    st_summary_print(&s, f);
    fclose(f);
    if (!strstr(buf, " ? ")) fail_msg("the table does not show \"?\" for the layer without a rule:\n%s", buf);
    if (!strstr(buf, "1 layer without a FLOP rule")) fail_msg("the table does not count the unknown layer:\n%s", buf);
    st_summary_free(&s);
    st_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_conv_lstm),
        cmocka_unit_test(test_residual_merge_row),
        cmocka_unit_test(test_every_kind_has_a_flop_rule),
    };
    return cmocka_run_group_tests_name("model_summary", tests, NULL, NULL);
}
