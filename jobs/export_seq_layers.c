/* export_seq_layers.c — the ONNX forms of the kinds that run along T of a sequence (table in
 * export_layers.c): conv1d and conv_transpose1d as Conv / ConvTranspose and the pools on
 * [N, C, T], global pools, flatten, squeeze_excite, upsample1d (nearest), reshape, and lstm / gru
 * as ONNX LSTM / GRU with PyTorch's gate blocks reordered:
 *   LSTM: strata (PyTorch) i,f,g,o  ->  ONNX i,o,f,c
 *   GRU:  strata (PyTorch) r,z,n    ->  ONNX z,r,h, with linear_before_reset = 1 (PyTorch's n). */
#include <stdlib.h>
#include <string.h>

#include <float.h>

#include "jobs/export_kinds.h"
#include "jobs/export_lengths.h"
#include "layers/rnn_layer.h"

/* conv1d: Conv on [N, C, T] with W [F, C/groups, K] as it is. */
st_status_t st_export_emit_conv1d(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_nct(g, x);
    const int C = L->in_shape.d[1], F = L->out_shape.d[1];
    const int K = (int)st_export_opt_i(L, "kernel_size"), G = (int)st_export_opt_i(L, "groups");
    int64_t dims[3] = {F, C / G, K};
    const char *in[3] = {x.name, st_onnx_init_f32(g, L->name, L->params[0].data, dims, 3),
                         L->n_params > 1 ? st_export_vec(g, L, "bias", L->params[1].data, F) : ""};
    const char *out = st_onnx_node(g, "Conv", in, L->n_params > 1 ? 3 : 2, L->name, 1, NULL);
    int64_t k = K, s = st_export_opt_i(L, "stride"), d = st_export_opt_i(L, "dilation"), pad = st_export_opt_i(L, "padding");
    int64_t p[2] = {pad, pad};
    st_onnx_attr_ints(g, "kernel_shape", &k, 1);
    st_onnx_attr_ints(g, "strides", &s, 1);
    st_onnx_attr_ints(g, "dilations", &d, 1);
    st_onnx_attr_ints(g, "pads", p, 2);
    st_onnx_attr_i(g, "group", G);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* max_pool1d / avg_pool1d: MaxPool / AveragePool along T (stride defaults to kernel_size; avg
 * counts padding, as PyTorch's count_include_pad=True). */
static st_status_t emit_pool(st_onnx_t *g, const st_layer_t *L, const char *op, st_onnx_val_t x, st_onnx_val_t *y) {
    x = st_export_nct(g, x);
    const st_val_t *stride = st_layer_opt(L, "stride");
    int64_t k = st_export_opt_i(L, "kernel_size"), s = stride->is_set && stride->i > 0 ? stride->i : k;
    int64_t p[2] = {st_export_opt_i(L, "padding"), st_export_opt_i(L, "padding")};
    const char *in = x.name;
    if (x.len && strcmp(op, "MaxPool") == 0) in = st_export_fill(g, x, -FLT_MAX); /* strata: past the length is padding */
    if (strcmp(op, "AveragePool") == 0 && p[0] > 0) {
        /* zeros padded by a Pad node: OpenCV 4.6's dnn ignores count_include_pad */
        int64_t pads[6] = {0, 0, p[0], 0, 0, p[1]};
        in = st_onnx_op2(g, "Pad", in, st_onnx_init_i64(g, "pads", pads, 6), L->name);
        p[0] = p[1] = 0;
    }
    const char *out = st_onnx_op1(g, op, in, L->name);
    st_onnx_attr_ints(g, "kernel_shape", &k, 1);
    st_onnx_attr_ints(g, "strides", &s, 1);
    st_onnx_attr_ints(g, "pads", p, 2);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

st_status_t st_export_emit_max_pool(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_pool(g, L, "MaxPool", x, y);
}

st_status_t st_export_emit_avg_pool(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_pool(g, L, "AveragePool", x, y);
}

/* Variable lengths: [N, C, T] (0 past each length) -> [N, C] over the valid positions only:
 * ReduceSum ÷ max(count, 1), or ReduceMax of the value with the lowest float past the length
 * (0 for a row without valid positions, as strata). */
static st_status_t emit_global_masked(st_onnx_t *g, const st_layer_t *L, int max, st_onnx_val_t x, st_onnx_val_t *y) {
    int64_t axis = 2;
    const char *out;
    if (max) {
        out = st_onnx_op1(g, "ReduceMax", st_export_fill(g, x, -FLT_MAX), L->name);
        st_onnx_attr_ints(g, "axes", &axis, 1); /* an attribute up to opset 17 */
        st_onnx_attr_i(g, "keepdims", 0);
        const char *in[3] = {st_export_nonempty(g, x), out, st_export_scalar(g, L, "zero", 0.0f)};
        out = st_onnx_node(g, "Where", in, 3, L->name, 1, NULL);
    } else {
        out = st_onnx_op2(g, "ReduceSum", x.name, st_onnx_init_i64(g, "axes", &axis, 1), L->name);
        st_onnx_attr_i(g, "keepdims", 1);
        out = st_onnx_op2(g, "Div", out, st_export_valid_count(g, x), L->name);
        out = st_onnx_op1(g, "Flatten", out, L->name);
        st_onnx_attr_i(g, "axis", 1);
    }
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* global pools: [N, C, T] -> Global{Average,Max}Pool [N, C, 1] -> Flatten [N, C]. */
static st_status_t emit_global(st_onnx_t *g, const st_layer_t *L, const char *op, st_onnx_val_t x, st_onnx_val_t *y) {
    x = st_export_nct(g, x);
    if (x.len) return emit_global_masked(g, L, strcmp(op, "GlobalMaxPool") == 0, x, y);
    const char *out = st_onnx_op1(g, "Flatten", st_onnx_op1(g, op, x.name, L->name), L->name);
    st_onnx_attr_i(g, "axis", 1);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

st_status_t st_export_emit_global_avg(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_global(g, L, "GlobalAveragePool", x, y);
}

st_status_t st_export_emit_global_max(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_global(g, L, "GlobalMaxPool", x, y);
}

/* flatten: [N, T, C] -> [N, T·C] (t-major, as strata's rows). */
st_status_t st_export_emit_flatten(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    const char *out = st_onnx_op1(g, "Flatten", x.name, L->name);
    st_onnx_attr_i(g, "axis", 1);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* Wᵀ of a [rows, cols] weight, as an initializer [cols, rows] (a MatMul's right operand). */
static const char *transposed_init(st_onnx_t *g, const st_layer_t *L, int p, int rows, int cols) {
    float *t = malloc(sizeof(float) * (size_t)rows * cols);
    if (!t) return "";
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) t[(size_t)c * rows + r] = L->params[p].data[(size_t)r * cols + c];
    int64_t dims[2] = {cols, rows};
    const char *name = st_onnx_init_f32(g, L->params[p].name, t, dims, 2);
    free(t);
    return name;
}

/* squeeze_excite: s = ReduceMean over T [N, 1, C] -> Relu(s·W1ᵀ + b1) -> Sigmoid(h·W2ᵀ + b2) -> x·gate. */
st_status_t st_export_emit_squeeze_excite(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    const int C = L->in_shape.d[1], H = (int)(L->params[1].n);
    int64_t axis = 1;
    const char *s;
    if (x.len) { /* the mean over each row's valid positions (x is 0 past them) */
        s = st_onnx_op2(g, "ReduceSum", x.name, st_onnx_init_i64(g, "axes", &axis, 1), L->name);
        st_onnx_attr_i(g, "keepdims", 1);
        s = st_onnx_op2(g, "Div", s, st_export_valid_count(g, x), L->name);
    } else {
        s = st_onnx_op1(g, "ReduceMean", x.name, L->name);
        st_onnx_attr_ints(g, "axes", &axis, 1); /* an attribute up to opset 17 */
        st_onnx_attr_i(g, "keepdims", 1);
    }
    const char *h = st_onnx_op2(g, "MatMul", s, transposed_init(g, L, 0, H, C), L->name);
    h = st_onnx_op1(g, "Relu", st_onnx_op2(g, "Add", h, st_export_vec(g, L, "fc1.bias", L->params[1].data, H), L->name), L->name);
    const char *z = st_onnx_op2(g, "MatMul", h, transposed_init(g, L, 2, C, H), L->name);
    z = st_onnx_op1(g, "Sigmoid", st_onnx_op2(g, "Add", z, st_export_vec(g, L, "fc2.bias", L->params[3].data, C), L->name), L->name);
    *y = st_export_shaped(x, L, st_onnx_op2(g, "Mul", x.name, z, L->name));
    return ST_OK;
}

/* reshape: the sample's values in memory order ([N, T, C] row-major, as strata's rows) -> Reshape. */
st_status_t st_export_emit_reshape(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    int64_t shape[3] = {-1, L->out_shape.d[0], L->out_shape.d[1]};
    *y = st_export_shaped(x, L, st_onnx_op2(g, "Reshape", x.name, st_onnx_init_i64(g, "shape", shape, L->out_shape.rank + 1), L->name));
    y->nct = 0;
    return ST_OK;
}

/* upsample1d, nearest: [N, T, C] -> [N, T, 1, C] -> Tile ×scale -> [N, T·scale, C] (each position
 * repeated scale times: x[floor(t/scale)]). Linear is refused (ONNX Resize's edge handling would
 * need its own check). */
st_status_t st_export_emit_upsample1d(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    if (strcmp(st_layer_opt(L, "mode")->s, "nearest") != 0)
        return st_fail(err, ST_ERR_CONFIG, "%s (upsample1d): not exportable to ONNX yet: mode \"%s\" (only \"nearest\")",
                       L->path, st_layer_opt(L, "mode")->s);
    x = st_export_ntc(g, x);
    int64_t s4[4] = {-1, x.T, 1, x.C}, reps[4] = {1, 1, st_export_opt_i(L, "scale"), 1}, s3[3] = {-1, L->out_shape.d[0], x.C};
    const char *r = st_onnx_op2(g, "Reshape", x.name, st_onnx_init_i64(g, "shape", s4, 4), L->name);
    r = st_onnx_op2(g, "Tile", r, st_onnx_init_i64(g, "repeats", reps, 4), L->name);
    *y = st_export_shaped(x, L, st_onnx_op2(g, "Reshape", r, st_onnx_init_i64(g, "shape", s3, 3), L->name));
    return ST_OK;
}

/* conv_transpose1d: ConvTranspose on [N, C, T], W [C_in, F/groups, K] as it is (PyTorch's and
 * ONNX's layout); int8 quantises W per index of axis 1 (ONNX's per-axis DequantizeLinear: one
 * scale per output channel within a group, shared by the groups when groups > 1). */
st_status_t st_export_emit_conv_transpose1d(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_nct(g, x);
    const int C = L->in_shape.d[1], F = L->out_shape.d[1];
    const int K = (int)st_export_opt_i(L, "kernel_size"), G = (int)st_export_opt_i(L, "groups");
    int64_t dims[3] = {C, F / G, K};
    const char *w = st_onnx_init_f32(g, L->name, L->params[0].data, dims, 3);
    st_onnx_i8_mark(g, w, 1); /* int8: per index of axis 1 (F/groups), export_quant.h */
    const char *in[3] = {x.name, w, L->n_params > 1 ? st_export_vec(g, L, "bias", L->params[1].data, F) : ""};
    const char *out = st_onnx_node(g, "ConvTranspose", in, L->n_params > 1 ? 3 : 2, L->name, 1, NULL);
    int64_t k = K, s = st_export_opt_i(L, "stride"), op = st_export_opt_i(L, "output_padding"), pad = st_export_opt_i(L, "padding");
    int64_t p[2] = {pad, pad};
    st_onnx_attr_ints(g, "kernel_shape", &k, 1);
    st_onnx_attr_ints(g, "strides", &s, 1);
    st_onnx_attr_ints(g, "pads", p, 2);
    st_onnx_attr_ints(g, "output_padding", &op, 1);
    st_onnx_attr_i(g, "group", G);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* W [dirs, G·H, cols] from each direction's tensor `p` (rows in PyTorch's gate order), the gate
 * blocks in ONNX's order: block j of ONNX is block perm[j] of PyTorch. */
static void gates_reordered(float *dst, const st_layer_t *L, int p, const int *perm, int G, int H, long cols, int dirs) {
    for (int d = 0; d < dirs; d++) {
        const float *src = L->params[ST_RNN_TENSORS * d + p].data;
        for (int j = 0; j < G; j++)
            memcpy(dst + ((size_t)d * G + j) * H * cols, src + (size_t)perm[j] * H * cols, sizeof(float) * H * cols);
    }
}

/* lstm / gru: [N, T, C] -> [T, N, C] -> LSTM/GRU (W [dirs, G·H, C], R [dirs, G·H, H],
 * B [dirs, 2·G·H] = bias_ih then bias_hh) -> Y [T, dirs, N, H] -> [N, T, dirs·H] (every step,
 * forward direction first), or Y_h [dirs, N, H] -> [N, dirs·H] (the final states). int8: W and R
 * per (direction, gate row), held as [dirs·G·H, ·] (st_onnx_i8_mark); the rows are only permuted
 * here, so quantising strata's own rows (export_quant.h) gives the same values. B stays float. */
static st_status_t emit_rnn(st_onnx_t *g, const st_layer_t *L, const char *op, int G, const int *perm, st_onnx_val_t x,
                            st_onnx_val_t *y, st_error_t *err) {
    const int T = L->in_shape.d[0], C = L->in_shape.d[1], H = (int)st_export_opt_i(L, "units");
    const int dirs = st_layer_opt(L, "bidirectional")->b ? 2 : 1, seq = st_layer_opt(L, "return_sequences")->b;
    const size_t GH = (size_t)G * H;
    float *W = malloc(sizeof(float) * dirs * GH * C), *R = malloc(sizeof(float) * dirs * GH * H);
    float *B = malloc(sizeof(float) * dirs * 2 * GH), *bias = malloc(sizeof(float) * dirs * GH);
    if (!W || !R || !B || !bias) return free(W), free(R), free(B), free(bias), st_fail(err, ST_ERR_NOMEM, "%s: ONNX weights", L->path);
    gates_reordered(W, L, ST_RNN_W_IH, perm, G, H, C, dirs);
    gates_reordered(R, L, ST_RNN_W_HH, perm, G, H, H, dirs);
    for (int p = 0; p < 2; p++) { /* B[d] = [bias_ih; bias_hh] */
        gates_reordered(bias, L, ST_RNN_B_IH + p, perm, G, H, 1, dirs);
        for (int d = 0; d < dirs; d++) memcpy(B + ((size_t)d * 2 + p) * GH, bias + (size_t)d * GH, sizeof(float) * GH);
    }
    char hint[128];
    int64_t wd[3] = {dirs, (int64_t)GH, C}, rd[3] = {dirs, (int64_t)GH, H}, bd[2] = {dirs, 2 * (int64_t)GH};
    snprintf(hint, sizeof hint, "%s.W", L->name);
    const char *w_name = st_onnx_init_f32(g, hint, W, wd, 3);
    snprintf(hint, sizeof hint, "%s.R", L->name);
    const char *r_name = st_onnx_init_f32(g, hint, R, rd, 3);
    st_onnx_i8_mark(g, w_name, ST_ONNX_I8_FLAT_ROWS); /* int8: per (direction, gate row) */
    st_onnx_i8_mark(g, r_name, ST_ONNX_I8_FLAT_ROWS);
    snprintf(hint, sizeof hint, "%s.B", L->name);
    const char *b_name = st_onnx_init_f32(g, hint, B, bd, 2);
    free(W), free(R), free(B), free(bias);
    static const int64_t to_tnc[3] = {1, 0, 2}, from_tnc[3] = {1, 0, 2}, from_y[4] = {2, 0, 1, 3};
    x = st_export_ntc(g, x);
    const char *xt = st_onnx_op1(g, "Transpose", x.name, "to_tnc");
    st_onnx_attr_ints(g, "perm", to_tnc, 3);
    /* variable lengths: sequence_lens (int32); ONNX then stops each row at its length, gives 0
     * past it and starts the reverse direction at the last valid step, as strata */
    const char *in[5] = {xt, w_name, r_name, b_name, x.len ? st_export_lengths_i32(g, x.len) : ""}, *outs[2];
    st_onnx_node(g, op, in, x.len ? 5 : 4, L->name, 2, outs);
    st_onnx_attr_i(g, "hidden_size", H);
    st_onnx_attr_s(g, "direction", dirs == 2 ? "bidirectional" : "forward");
    if (G == 3) st_onnx_attr_i(g, "linear_before_reset", 1);
    const char *out;
    if (seq) {
        out = st_onnx_op1(g, "Transpose", outs[0], L->name);
        st_onnx_attr_ints(g, "perm", from_y, 4);
        int64_t shape[3] = {-1, T, (int64_t)dirs * H};
        out = st_onnx_op2(g, "Reshape", out, st_onnx_init_i64(g, "shape", shape, 3), L->name);
    } else {
        out = st_onnx_op1(g, "Transpose", outs[1], L->name);
        st_onnx_attr_ints(g, "perm", from_tnc, 3);
        int64_t shape[2] = {-1, (int64_t)dirs * H};
        out = st_onnx_op2(g, "Reshape", out, st_onnx_init_i64(g, "shape", shape, 2), L->name);
    }
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

st_status_t st_export_emit_lstm(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    static const int perm[4] = {0, 3, 1, 2}; /* ONNX i,o,f,c from PyTorch i,f,g,o */
    return emit_rnn(g, L, "LSTM", 4, perm, x, y, err);
}

st_status_t st_export_emit_gru(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    static const int perm[3] = {1, 0, 2}; /* ONNX z,r,h from PyTorch r,z,n */
    return emit_rnn(g, L, "GRU", 3, perm, x, y, err);
}

