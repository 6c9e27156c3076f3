/* test_export_i8w.c — the int8 export's weight-only quantisation (jobs/export_quant.h
 * st_quant_weight_only, jobs/onnx_graph.h st_i8_quantize_axis): the per-channel quantiser on a
 * hand-worked [outer, ch, inner] tensor (one scale per index of the middle axis, round half to
 * even, an all-zero channel), and the claim strata's simulated forward rests on: quantising an
 * LSTM's / GRU's own weight rows (strata's PyTorch gate order, per direction) gives, after the
 * export's gate reordering, exactly the int8 values and scales the graph holds for W / R as
 * [dirs·G·H, ·] per row — checked bitwise on a bidirectional LSTM and GRU built by the model
 * builder, against a quantisation of the reordered rows that would differ if the scales were per
 * gate block or per column. Also the layouts given for conv_transpose1d (axis 1 of
 * [C_in, F/groups, K]) and the embedding tables (per id), and that biases are left float. The
 * graph itself is checked by tests/test_export_quant.sh and tests/test_export_varlen.sh. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/export_quant.h"
#include "jobs/onnx_graph.h"
#include "layers/rnn_layer.h"
#include "model.h"

static void quantizer_per_middle_axis(void **state) {
    (void)state;
    /* w [outer 2, ch 3, inner 2]; channel c holds w[o][c][k] for all o, k. Maxima 127/64 and
     * 127/32 make the scales 1/64 and 1/32 exactly, so w / scale is exact: halves round to even */
    const float w[12] = {1.984375f, -0.5f, 0.0f, 0.0f, 3.96875f, 0.046875f,          /* o = 0: c0, c1, c2 */
                         0.0078125f, -0.0234375f, 0.0f, 0.0f, -3.96875f, 0.078125f}; /* o = 1 */
    int8_t q[12];
    float s[3];
    st_i8_quantize_axis(w, 2, 3, 2, q, s);
    assert_float_equal(s[0], 1.0f / 64, 0.0f);
    assert_float_equal(s[1], 1.0f, 0.0f); /* an all-zero channel */
    assert_float_equal(s[2], 1.0f / 32, 0.0f);
    /* c0 ×64: 127, -32, 0.5 -> 0, -1.5 -> -2; c2 ×32: 127, 1.5 -> 2, -127, 2.5 -> 2 */
    const int8_t want[12] = {127, -32, 0, 0, 127, 2, 0, -2, 0, 0, -127, 2};
    for (int i = 0; i < 12; i++) assert_int_equal(q[i], want[i]);
    /* outer = 1 is st_i8_quantize_rows */
    float s2[3];
    int8_t q2[12];
    st_i8_quantize_rows(w, 3, 4, q2, s2);
    assert_float_equal(s2[0], 1.0f / 64, 0.0f); /* row 0: c0 of o = 0, then c1 */
    assert_int_equal(q2[0], 127);
}

/* A model of one recurrent layer ("lstm" / "gru", bidirectional, H units) on [T, C], initialised. */
static st_model_t *rnn_model(const char *type, int T, int C, int H) {
    char json[256];
    snprintf(json, sizeof json, "{\"layers\": [{\"type\": \"%s\", \"units\": %d, \"bidirectional\": true}]}", type, H);
    cJSON *obj = cJSON_Parse(json);
    st_error_t err = {0};
    st_model_t *m = NULL;
    if (st_model_build(obj, "model", st_shape2(T, C), 3, &m, &err) != ST_OK) fail_msg("build failed: %s", err.msg);
    cJSON_Delete(obj);
    st_model_init(m, 5);
    return m;
}

/* The export's W (role ST_RNN_W_IH, cols C) or R (ST_RNN_W_HH, cols H) as [dirs·G·H, cols]: each
 * direction's gate blocks in ONNX's order (block j of ONNX = block perm[j] of strata), as
 * jobs/export_seq_layers.c's gates_reordered. */
static void onnx_rows(float *dst, const st_layer_t *L, int role, const int *perm, int G, int H, int cols) {
    for (int d = 0; d < 2; d++)
        for (int j = 0; j < G; j++)
            memcpy(dst + ((size_t)d * G + j) * H * cols, L->params[ST_RNN_TENSORS * d + role].data + (size_t)perm[j] * H * cols,
                   sizeof(float) * (size_t)H * cols);
}

/* Quantise strata's rows in place through st_quant_weight_only (round_model's path), reorder,
 * and compare bitwise with the graph's quantisation of the reordered fp32 rows; a per-gate-block
 * scale (the wrong layout) must differ somewhere. */
static void check_rnn(const char *type, const int *perm, int G) {
    enum { T = 5, C = 7, H = 6 };
    st_model_t *m = rnn_model(type, T, C, H);
    st_layer_t *L = st_model_layer(m, 0);
    assert_int_equal(L->n_params, 2 * ST_RNN_TENSORS);
    for (int role = ST_RNN_W_IH; role <= ST_RNN_W_HH; role++) {
        const int cols = role == ST_RNN_W_IH ? C : H;
        const long rows = 2L * G * H, n = rows * cols;
        float *full = malloc(sizeof(float) * n), *sim = malloc(sizeof(float) * n);
        float *scale = malloc(sizeof(float) * rows), *bscale = malloc(sizeof(float) * 2 * G);
        int8_t *q = malloc(n), *bq = malloc(n);
        onnx_rows(full, L, role, perm, G, H, cols); /* fp32, ONNX order */
        st_i8_quantize_rows(full, rows, cols, q, scale); /* what the graph stores */
        for (int d = 0; d < 2; d++) {                 /* strata's simulated weights */
            long outer, ch, inner;
            const int p = ST_RNN_TENSORS * d + role;
            assert_true(st_quant_weight_only(L, p, &outer, &ch, &inner));
            assert_int_equal(outer, 1), assert_int_equal(ch, G * H), assert_int_equal(inner, cols);
            assert_int_equal(st_quant_i8_axis(L->params[p].data, outer, ch, inner), 0);
        }
        onnx_rows(sim, L, role, perm, G, H, cols);
        for (long k = 0; k < n; k++) assert_true(sim[k] == (float)q[k] * scale[k / cols]); /* bitwise */
        /* the wrong layout, one scale per gate block: not what the graph holds */
        st_i8_quantize_axis(full, 2 * G, 1, (long)H * cols, bq, bscale);
        int differ = 0;
        for (long k = 0; k < n; k++) differ |= (float)bq[k] * bscale[k / ((long)H * cols)] != sim[k];
        assert_true(differ);
        free(full), free(sim), free(scale), free(bscale), free(q), free(bq);
    }
    long outer, ch, inner;
    assert_false(st_quant_weight_only(L, ST_RNN_B_IH, &outer, &ch, &inner)); /* biases stay float */
    assert_false(st_quant_weight_only(L, ST_RNN_TENSORS + ST_RNN_B_HH, &outer, &ch, &inner));
    st_model_free(m);
}

static void lstm_rows_commute_with_the_gate_order(void **state) {
    (void)state;
    static const int perm[4] = {0, 3, 1, 2}; /* ONNX i,o,f,c from strata's i,f,g,o */
    check_rnn("lstm", perm, 4);
}

static void gru_rows_commute_with_the_gate_order(void **state) {
    (void)state;
    static const int perm[3] = {1, 0, 2}; /* ONNX z,r,h from strata's r,z,n */
    check_rnn("gru", perm, 3);
}

static st_model_t *build(const char *json, st_shape_t in) {
    cJSON *obj = cJSON_Parse(json);
    st_error_t err = {0};
    st_model_t *m = NULL;
    if (st_model_build(obj, "model", in, 3, &m, &err) != ST_OK) fail_msg("build failed: %s", err.msg);
    cJSON_Delete(obj);
    st_model_init(m, 3);
    return m;
}

static void conv_transpose_and_embedding_layouts(void **state) {
    (void)state;
    long outer, ch, inner;
    /* conv_transpose1d on [9, 4], 6 filters, groups 2, k 3: W [4, 3, 3] per index of axis 1 */
    st_model_t *m = build("{\"layers\": [{\"type\": \"conv_transpose1d\", \"filters\": 6, \"kernel_size\": 3, \"groups\": 2}, "
                          "{\"type\": \"global_avg_pool\"}, {\"type\": \"dense\", \"units\": 3}]}",
                          st_shape2(9, 4));
    st_layer_t *L = st_model_layer(m, 0);
    assert_true(st_quant_weight_only(L, 0, &outer, &ch, &inner));
    assert_int_equal(outer, 4), assert_int_equal(ch, 3), assert_int_equal(inner, 3);
    assert_false(st_quant_weight_only(L, 1, &outer, &ch, &inner));                   /* bias */
    assert_false(st_quant_weight_only(st_model_layer(m, 2), 0, &outer, &ch, &inner)); /* dense: a QDQ op */
    float w[36], want[36], s[3];
    int8_t q[36];
    memcpy(w, L->params[0].data, sizeof w);
    st_i8_quantize_axis(w, 4, 3, 3, q, s);
    for (int c = 0; c < 3; c++) { /* scale = max over [:, c, :] */
        float mx = 0;
        for (int o = 0; o < 4; o++)
            for (int k = 0; k < 3; k++) mx = fmaxf(mx, fabsf(w[(o * 3 + c) * 3 + k]));
        assert_float_equal(s[c], mx / 127.0f, 0.0f);
    }
    for (int i = 0; i < 36; i++) want[i] = (float)q[i] * s[(i / 3) % 3];
    assert_int_equal(st_quant_i8_axis(L->params[0].data, outer, ch, inner), 0);
    assert_memory_equal(L->params[0].data, want, sizeof want);
    st_model_free(m);
    /* embedding (n 6, dim 4) and embedding_bag (4 items, dim 5): per id */
    m = build("{\"layers\": [{\"type\": \"parallel\", \"merge\": \"concat\", \"branches\": ["
              "[{\"type\": \"slice\", \"from\": 0, \"to\": 1}, {\"type\": \"embedding\", \"n\": 6, \"dim\": 4}],"
              "[{\"type\": \"slice\", \"from\": 1, \"to\": 5}, {\"type\": \"embedding_bag\", \"dim\": 5}]]}]}",
              st_shape1(5));
    int seen = 0;
    for (int l = 0; l < st_model_layer_count(m); l++) {
        st_layer_t *E = st_model_layer(m, l);
        if (!st_quant_weight_only(E, 0, &outer, &ch, &inner)) continue;
        assert_int_equal(outer, 1);
        assert_true((ch == 6 && inner == 4) || (ch == 4 && inner == 5));
        seen++;
    }
    assert_int_equal(seen, 2);
    st_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantizer_per_middle_axis),
        cmocka_unit_test(lstm_rows_commute_with_the_gate_order),
        cmocka_unit_test(gru_rows_commute_with_the_gate_order),
        cmocka_unit_test(conv_transpose_and_embedding_layouts),
    };
    return cmocka_run_group_tests_name("export_i8w", tests, NULL, NULL);
}
