/* export_layers.c — the ONNX form of each layer kind in eval mode (export_layers.h): dense as
 * Gemm (or MatMul + Add per position), batchnorm as BatchNormalization with the running
 * statistics, the activations as their ONNX ops (gelu from Erf or Tanh, opset 17 has no Gelu),
 * dropout as nothing, conv1d and pooling along T in [N, C, T], the global pools, flatten, slice,
 * permute (a change of layout, no op), embedding (Cast + Gather), embedding_bag (MatMul),
 * squeeze_excite, conv_transpose1d (ConvTranspose), upsample1d nearest (Tile), reshape, and
 * lstm / gru as ONNX LSTM / GRU with PyTorch's gate blocks reordered:
 *   LSTM: strata (PyTorch) i,f,g,o  ->  ONNX i,o,f,c
 *   GRU:  strata (PyTorch) r,z,n    ->  ONNX z,r,h, with linear_before_reset = 1 (PyTorch's n). */
#include "jobs/export_layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/rnn_layer.h"

extern const st_layer_kind_t st_kind_dense, st_kind_batchnorm, st_kind_layernorm, st_kind_dropout,
    st_kind_relu, st_kind_leaky_relu, st_kind_gelu, st_kind_sigmoid, st_kind_tanh, st_kind_hardswish,
    st_kind_conv1d, st_kind_max_pool1d, st_kind_avg_pool1d, st_kind_global_avg_pool,
    st_kind_global_max_pool, st_kind_flatten, st_kind_slice, st_kind_embedding, st_kind_embedding_bag,
    st_kind_squeeze_excite, st_kind_conv_transpose1d, st_kind_upsample1d, st_kind_reshape, st_kind_permute,
    st_kind_lstm, st_kind_gru;

typedef st_status_t (*emit_fn)(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err);

static st_onnx_val_t transposed(st_onnx_t *g, st_onnx_val_t v, int nct) {
    static const int64_t perm[3] = {0, 2, 1};
    if (v.rank != 2 || v.nct == nct) return v;
    v.name = st_onnx_op1(g, "Transpose", v.name, nct ? "to_nct" : "to_ntc");
    st_onnx_attr_ints(g, "perm", perm, 3);
    v.nct = nct;
    return v;
}

st_onnx_val_t st_export_ntc(st_onnx_t *g, st_onnx_val_t v) { return transposed(g, v, 0); }
st_onnx_val_t st_export_nct(st_onnx_t *g, st_onnx_val_t v) { return transposed(g, v, 1); }

static long opt_i(const st_layer_t *L, const char *key) { return st_layer_opt(L, key)->i; }

/* The value's per-sample shape after L: L's output shape, layout kept. */
static st_onnx_val_t shaped(st_onnx_val_t x, const st_layer_t *L, const char *name) {
    x.name = name, x.rank = L->out_shape.rank;
    if (x.rank == 1) x.nct = 0, x.T = 0, x.C = L->out_shape.d[0];
    else x.T = L->out_shape.d[0], x.C = L->out_shape.d[1];
    return x;
}

static const char *vec_init(st_onnx_t *g, const st_layer_t *L, const char *what, const float *v, int64_t n) {
    char hint[128];
    snprintf(hint, sizeof hint, "%s.%s", L->name, what);
    return st_onnx_init_f32(g, hint, v, &n, 1);
}

/* dense: [N, K] -> Gemm(x, W [N, K], b, transB); [N, T, K] -> MatMul(x, Wᵀ [K, N]) + b. */
static st_status_t emit_dense(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    const int K = st_shape_channels(L->in_shape), N = st_shape_channels(L->out_shape);
    const float *W = L->params[0].data;
    float *b = calloc((size_t)N, sizeof *b), *Wt = malloc(sizeof(float) * (size_t)N * K);
    if (!b || !Wt) return free(b), free(Wt), st_fail(err, ST_ERR_NOMEM, "%s: ONNX weights", L->path);
    if (L->n_params > 1) memcpy(b, L->params[1].data, sizeof(float) * (size_t)N);
    const char *bias = vec_init(g, L, "bias", b, N), *out;
    if (x.rank == 1) {
        int64_t dims[2] = {N, K};
        const char *in[3] = {x.name, st_onnx_init_f32(g, L->name, W, dims, 2), bias};
        out = st_onnx_node(g, "Gemm", in, 3, L->name, 1, NULL);
        st_onnx_attr_i(g, "transB", 1);
    } else {
        x = st_export_ntc(g, x);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) Wt[(size_t)k * N + n] = W[(size_t)n * K + k];
        int64_t dims[2] = {K, N};
        out = st_onnx_op2(g, "MatMul", x.name, st_onnx_init_f32(g, L->name, Wt, dims, 2), L->name);
        out = st_onnx_op2(g, "Add", out, bias, L->name);
    }
    free(b), free(Wt);
    *y = shaped(x, L, out);
    return ST_OK;
}

/* batchnorm: BatchNormalization over the channel axis (1) with the running statistics. */
static st_status_t emit_batchnorm(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_nct(g, x);
    const int C = st_shape_channels(L->in_shape);
    const char *in[5] = {x.name, vec_init(g, L, "weight", L->params[0].data, C), vec_init(g, L, "bias", L->params[1].data, C),
                         vec_init(g, L, "running_mean", L->buffers[0].data, C),
                         vec_init(g, L, "running_var", L->buffers[1].data, C)};
    const char *out = st_onnx_node(g, "BatchNormalization", in, 5, L->name, 1, NULL);
    st_onnx_attr_f(g, "epsilon", (float)st_layer_opt(L, "eps")->num);
    *y = shaped(x, L, out);
    return ST_OK;
}

/* layernorm: LayerNormalization over the last axis (opset 17). */
static st_status_t emit_layernorm(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    const int C = st_shape_channels(L->in_shape);
    const char *in[3] = {x.name, vec_init(g, L, "weight", L->params[0].data, C), vec_init(g, L, "bias", L->params[1].data, C)};
    const char *out = st_onnx_node(g, "LayerNormalization", in, 3, L->name, 1, NULL);
    st_onnx_attr_i(g, "axis", -1);
    st_onnx_attr_f(g, "epsilon", (float)st_layer_opt(L, "eps")->num);
    *y = shaped(x, L, out);
    return ST_OK;
}

static st_status_t emit_identity(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)g, (void)L, (void)err;
    *y = x; /* dropout: the identity in eval mode */
    return ST_OK;
}

/* An elementwise op named by the kind: Relu, Sigmoid, Tanh, HardSwish, LeakyRelu. */
static st_status_t emit_unary(st_onnx_t *g, const st_layer_t *L, const char *op, st_onnx_val_t x, st_onnx_val_t *y) {
    *y = shaped(x, L, st_onnx_op1(g, op, x.name, L->name));
    return ST_OK;
}
#define UNARY(fn, OP)                                                                                            \
    static st_status_t fn(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) { \
        (void)err;                                                                                               \
        return emit_unary(g, L, OP, x, y);                                                                       \
    }
UNARY(emit_relu, "Relu")
UNARY(emit_sigmoid, "Sigmoid")
UNARY(emit_tanh, "Tanh")
UNARY(emit_hardswish, "HardSwish")

static st_status_t emit_leaky_relu(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    emit_unary(g, L, "LeakyRelu", x, y);
    st_onnx_attr_f(g, "alpha", (float)st_layer_opt(L, "negative_slope")->num);
    (void)err;
    return ST_OK;
}

static const char *scalar(st_onnx_t *g, const st_layer_t *L, const char *what, float v) {
    int64_t one = 1;
    char hint[128];
    snprintf(hint, sizeof hint, "%s.%s", L->name, what);
    return st_onnx_init_f32(g, hint, &v, &one, 1);
}

/* gelu: x·Φ(x) = 0.5·x·(1 + erf(x/√2)); approximate "tanh": 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
static st_status_t emit_gelu(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    const char *u;
    if (strcmp(st_layer_opt(L, "approximate")->s, "tanh") == 0) {
        const char *x3 = st_onnx_op2(g, "Mul", st_onnx_op2(g, "Mul", x.name, x.name, L->name), x.name, L->name);
        u = st_onnx_op2(g, "Add", x.name, st_onnx_op2(g, "Mul", x3, scalar(g, L, "kappa", 0.044715f), L->name), L->name);
        u = st_onnx_op1(g, "Tanh", st_onnx_op2(g, "Mul", u, scalar(g, L, "sqrt_2_over_pi", 0.7978845608f), L->name), L->name);
    } else {
        u = st_onnx_op1(g, "Erf", st_onnx_op2(g, "Mul", x.name, scalar(g, L, "inv_sqrt2", 0.70710678f), L->name), L->name);
    }
    const char *h = st_onnx_op2(g, "Mul", st_onnx_op2(g, "Add", u, scalar(g, L, "one", 1.0f), L->name),
                                scalar(g, L, "half", 0.5f), L->name);
    *y = shaped(x, L, st_onnx_op2(g, "Mul", x.name, h, L->name));
    return ST_OK;
}

/* conv1d: Conv on [N, C, T] with W [F, C/groups, K] as it is. */
static st_status_t emit_conv1d(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_nct(g, x);
    const int C = L->in_shape.d[1], F = L->out_shape.d[1], K = (int)opt_i(L, "kernel_size"), G = (int)opt_i(L, "groups");
    int64_t dims[3] = {F, C / G, K};
    const char *in[3] = {x.name, st_onnx_init_f32(g, L->name, L->params[0].data, dims, 3),
                         L->n_params > 1 ? vec_init(g, L, "bias", L->params[1].data, F) : ""};
    const char *out = st_onnx_node(g, "Conv", in, L->n_params > 1 ? 3 : 2, L->name, 1, NULL);
    int64_t k = K, s = opt_i(L, "stride"), d = opt_i(L, "dilation"), p[2] = {opt_i(L, "padding"), opt_i(L, "padding")};
    st_onnx_attr_ints(g, "kernel_shape", &k, 1);
    st_onnx_attr_ints(g, "strides", &s, 1);
    st_onnx_attr_ints(g, "dilations", &d, 1);
    st_onnx_attr_ints(g, "pads", p, 2);
    st_onnx_attr_i(g, "group", G);
    *y = shaped(x, L, out);
    return ST_OK;
}

/* max_pool1d / avg_pool1d: MaxPool / AveragePool along T (stride defaults to kernel_size; avg
 * counts padding, as PyTorch's count_include_pad=True). */
static st_status_t emit_pool(st_onnx_t *g, const st_layer_t *L, const char *op, st_onnx_val_t x, st_onnx_val_t *y) {
    x = st_export_nct(g, x);
    const st_val_t *stride = st_layer_opt(L, "stride");
    int64_t k = opt_i(L, "kernel_size"), s = stride->is_set && stride->i > 0 ? stride->i : k;
    int64_t p[2] = {opt_i(L, "padding"), opt_i(L, "padding")};
    const char *in = x.name;
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
    *y = shaped(x, L, out);
    return ST_OK;
}

static st_status_t emit_max_pool(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_pool(g, L, "MaxPool", x, y);
}

static st_status_t emit_avg_pool(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_pool(g, L, "AveragePool", x, y);
}

/* global pools: [N, C, T] -> Global{Average,Max}Pool [N, C, 1] -> Flatten [N, C]. */
static st_status_t emit_global(st_onnx_t *g, const st_layer_t *L, const char *op, st_onnx_val_t x, st_onnx_val_t *y) {
    x = st_export_nct(g, x);
    const char *out = st_onnx_op1(g, "Flatten", st_onnx_op1(g, op, x.name, L->name), L->name);
    st_onnx_attr_i(g, "axis", 1);
    *y = shaped(x, L, out);
    return ST_OK;
}

static st_status_t emit_global_avg(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_global(g, L, "GlobalAveragePool", x, y);
}

static st_status_t emit_global_max(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    return emit_global(g, L, "GlobalMaxPool", x, y);
}

/* flatten: [N, T, C] -> [N, T·C] (t-major, as strata's rows). */
static st_status_t emit_flatten(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    const char *out = st_onnx_op1(g, "Flatten", x.name, L->name);
    st_onnx_attr_i(g, "axis", 1);
    *y = shaped(x, L, out);
    return ST_OK;
}

/* permute: [T, C] -> [C, T] is the same tensor held the other way: no op, the layout flips
 * ([N, T, C] held as [N, T, C] is the permuted value held as [N, C', T']). */
static st_status_t emit_permute(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)g, (void)err;
    *y = shaped(x, L, x.name);
    y->nct = !x.nct;
    return ST_OK;
}

/* slice: columns from..to-1 of the channel axis (the last of [N, D] and [N, T, C], 1 of [N, C, T]). */
static st_status_t emit_slice(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    int64_t from = opt_i(L, "from"), to = opt_i(L, "to"), axis = x.rank == 2 && x.nct ? 1 : -1;
    const char *in[4] = {x.name, st_onnx_init_i64(g, "starts", &from, 1), st_onnx_init_i64(g, "ends", &to, 1),
                         st_onnx_init_i64(g, "axes", &axis, 1)};
    *y = shaped(x, L, st_onnx_node(g, "Slice", in, 4, L->name, 1, NULL));
    return ST_OK;
}

/* embedding: ids [N, k] (or [N, T, k]) as float -> Cast int64 -> Gather of W [n, dim] -> [N, k·dim].
 * An id outside [0, n) is an error for ONNX's Gather (strata's forward gives zeros; `strata eval`
 * refuses such rows, naming them). */
static st_status_t emit_embedding(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    int64_t dims[2] = {opt_i(L, "n"), opt_i(L, "dim")};
    const char *ids = st_onnx_op1(g, "Cast", x.name, L->name);
    st_onnx_attr_i(g, "to", ST_ONNX_INT64);
    const char *out = st_onnx_op2(g, "Gather", st_onnx_init_f32(g, L->name, L->params[0].data, dims, 2), ids, L->name);
    int64_t shape[3] = {-1, L->out_shape.d[0], L->out_shape.d[1]};
    out = st_onnx_op2(g, "Reshape", out, st_onnx_init_i64(g, "shape", shape, L->out_shape.rank + 1), L->name);
    *y = shaped(x, L, out);
    return ST_OK;
}

/* embedding_bag: x [N, n] (weights) -> MatMul(x, W [n, dim]); mean: ÷ max(Σ_j x_j, tiny) (an
 * empty row stays 0). */
static st_status_t emit_embedding_bag(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    int64_t dims[2] = {st_shape_channels(L->in_shape), opt_i(L, "dim")}, axis = -1;
    const char *out = st_onnx_op2(g, "MatMul", x.name, st_onnx_init_f32(g, L->name, L->params[0].data, dims, 2), L->name);
    if (strcmp(st_layer_opt(L, "mode")->s, "mean") == 0) {
        const char *sum = st_onnx_op2(g, "ReduceSum", x.name, st_onnx_init_i64(g, "axes", &axis, 1), L->name);
        st_onnx_attr_i(g, "keepdims", 1);
        sum = st_onnx_op2(g, "Max", sum, scalar(g, L, "tiny", 1e-30f), L->name);
        out = st_onnx_op2(g, "Div", out, sum, L->name);
    }
    *y = shaped(x, L, out);
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
static st_status_t emit_squeeze_excite(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    const int C = L->in_shape.d[1], H = (int)(L->params[1].n);
    int64_t axis = 1;
    const char *s = st_onnx_op1(g, "ReduceMean", x.name, L->name);
    st_onnx_attr_ints(g, "axes", &axis, 1); /* an attribute up to opset 17 */
    st_onnx_attr_i(g, "keepdims", 1);
    const char *h = st_onnx_op2(g, "MatMul", s, transposed_init(g, L, 0, H, C), L->name);
    h = st_onnx_op1(g, "Relu", st_onnx_op2(g, "Add", h, vec_init(g, L, "fc1.bias", L->params[1].data, H), L->name), L->name);
    const char *z = st_onnx_op2(g, "MatMul", h, transposed_init(g, L, 2, C, H), L->name);
    z = st_onnx_op1(g, "Sigmoid", st_onnx_op2(g, "Add", z, vec_init(g, L, "fc2.bias", L->params[3].data, C), L->name), L->name);
    *y = shaped(x, L, st_onnx_op2(g, "Mul", x.name, z, L->name));
    return ST_OK;
}

/* reshape: the sample's values in memory order ([N, T, C] row-major, as strata's rows) -> Reshape. */
static st_status_t emit_reshape(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    int64_t shape[3] = {-1, L->out_shape.d[0], L->out_shape.d[1]};
    *y = shaped(x, L, st_onnx_op2(g, "Reshape", x.name, st_onnx_init_i64(g, "shape", shape, L->out_shape.rank + 1), L->name));
    y->nct = 0;
    return ST_OK;
}

/* upsample1d, nearest: [N, T, C] -> [N, T, 1, C] -> Tile ×scale -> [N, T·scale, C] (each position
 * repeated scale times: x[floor(t/scale)]). Linear is refused (ONNX Resize's edge handling would
 * need its own check). */
static st_status_t emit_upsample1d(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    if (strcmp(st_layer_opt(L, "mode")->s, "nearest") != 0)
        return st_fail(err, ST_ERR_CONFIG, "%s (upsample1d): not exportable to ONNX yet: mode \"%s\" (only \"nearest\")",
                       L->path, st_layer_opt(L, "mode")->s);
    x = st_export_ntc(g, x);
    int64_t s4[4] = {-1, x.T, 1, x.C}, reps[4] = {1, 1, opt_i(L, "scale"), 1}, s3[3] = {-1, L->out_shape.d[0], x.C};
    const char *r = st_onnx_op2(g, "Reshape", x.name, st_onnx_init_i64(g, "shape", s4, 4), L->name);
    r = st_onnx_op2(g, "Tile", r, st_onnx_init_i64(g, "repeats", reps, 4), L->name);
    *y = shaped(x, L, st_onnx_op2(g, "Reshape", r, st_onnx_init_i64(g, "shape", s3, 3), L->name));
    return ST_OK;
}

/* conv_transpose1d: ConvTranspose on [N, C, T], W [C_in, F/groups, K] as it is (PyTorch's and
 * ONNX's layout). */
static st_status_t emit_conv_transpose1d(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_nct(g, x);
    const int C = L->in_shape.d[1], F = L->out_shape.d[1], K = (int)opt_i(L, "kernel_size"), G = (int)opt_i(L, "groups");
    int64_t dims[3] = {C, F / G, K};
    const char *in[3] = {x.name, st_onnx_init_f32(g, L->name, L->params[0].data, dims, 3),
                         L->n_params > 1 ? vec_init(g, L, "bias", L->params[1].data, F) : ""};
    const char *out = st_onnx_node(g, "ConvTranspose", in, L->n_params > 1 ? 3 : 2, L->name, 1, NULL);
    int64_t k = K, s = opt_i(L, "stride"), op = opt_i(L, "output_padding"), p[2] = {opt_i(L, "padding"), opt_i(L, "padding")};
    st_onnx_attr_ints(g, "kernel_shape", &k, 1);
    st_onnx_attr_ints(g, "strides", &s, 1);
    st_onnx_attr_ints(g, "pads", p, 2);
    st_onnx_attr_ints(g, "output_padding", &op, 1);
    st_onnx_attr_i(g, "group", G);
    *y = shaped(x, L, out);
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
 * forward direction first), or Y_h [dirs, N, H] -> [N, dirs·H] (the final states). */
static st_status_t emit_rnn(st_onnx_t *g, const st_layer_t *L, const char *op, int G, const int *perm, st_onnx_val_t x,
                            st_onnx_val_t *y, st_error_t *err) {
    const int T = L->in_shape.d[0], C = L->in_shape.d[1], H = (int)opt_i(L, "units");
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
    snprintf(hint, sizeof hint, "%s.B", L->name);
    const char *b_name = st_onnx_init_f32(g, hint, B, bd, 2);
    free(W), free(R), free(B), free(bias);
    static const int64_t to_tnc[3] = {1, 0, 2}, from_tnc[3] = {1, 0, 2}, from_y[4] = {2, 0, 1, 3};
    x = st_export_ntc(g, x);
    const char *xt = st_onnx_op1(g, "Transpose", x.name, "to_tnc");
    st_onnx_attr_ints(g, "perm", to_tnc, 3);
    const char *in[4] = {xt, w_name, r_name, b_name}, *outs[2];
    st_onnx_node(g, op, in, 4, L->name, 2, outs);
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
    *y = shaped(x, L, out);
    return ST_OK;
}

static st_status_t emit_lstm(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    static const int perm[4] = {0, 3, 1, 2}; /* ONNX i,o,f,c from PyTorch i,f,g,o */
    return emit_rnn(g, L, "LSTM", 4, perm, x, y, err);
}

static st_status_t emit_gru(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    static const int perm[3] = {1, 0, 2}; /* ONNX z,r,h from PyTorch r,z,n */
    return emit_rnn(g, L, "GRU", 3, perm, x, y, err);
}

/* Every registered kind: its emitter, or NULL and the reason it is refused. */
static const struct {
    const st_layer_kind_t *kind;
    emit_fn emit;
    const char *refused;
} table[] = {
    {&st_kind_dense, emit_dense, NULL},
    {&st_kind_batchnorm, emit_batchnorm, NULL},
    {&st_kind_layernorm, emit_layernorm, NULL},
    {&st_kind_dropout, emit_identity, NULL},
    {&st_kind_relu, emit_relu, NULL},
    {&st_kind_leaky_relu, emit_leaky_relu, NULL},
    {&st_kind_gelu, emit_gelu, NULL},
    {&st_kind_sigmoid, emit_sigmoid, NULL},
    {&st_kind_tanh, emit_tanh, NULL},
    {&st_kind_hardswish, emit_hardswish, NULL},
    {&st_kind_conv1d, emit_conv1d, NULL},
    {&st_kind_max_pool1d, emit_max_pool, NULL},
    {&st_kind_avg_pool1d, emit_avg_pool, NULL},
    {&st_kind_global_avg_pool, emit_global_avg, NULL},
    {&st_kind_global_max_pool, emit_global_max, NULL},
    {&st_kind_flatten, emit_flatten, NULL},
    {&st_kind_lstm, emit_lstm, NULL},
    {&st_kind_gru, emit_gru, NULL},
    {&st_kind_slice, emit_slice, NULL},
    {&st_kind_embedding, emit_embedding, NULL},
    {&st_kind_embedding_bag, emit_embedding_bag, NULL},
    {&st_kind_squeeze_excite, emit_squeeze_excite, NULL},
    {&st_kind_conv_transpose1d, emit_conv_transpose1d, NULL},
    {&st_kind_upsample1d, emit_upsample1d, NULL},
    {&st_kind_reshape, emit_reshape, NULL},
    {&st_kind_permute, emit_permute, NULL},
};
enum { N_TABLE = sizeof table / sizeof table[0] };

int st_export_kind_status(const st_layer_kind_t *kind, const char **why) {
    for (int i = 0; i < N_TABLE; i++)
        if (table[i].kind == kind) {
            if (why) *why = table[i].refused;
            return table[i].emit ? 1 : 0;
        }
    if (why) *why = "the ONNX export does not know this layer kind";
    return -1;
}

st_status_t st_export_layer(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t in, st_onnx_val_t *out, st_error_t *err) {
    const char *why = NULL;
    if (st_export_kind_status(L->kind, &why) != 1)
        return st_fail(err, ST_ERR_CONFIG, "%s (%s): not exportable to ONNX yet: %s", L->path, L->kind->type, why);
    for (int i = 0; i < N_TABLE; i++)
        if (table[i].kind == L->kind) return table[i].emit(g, L, in, out, err);
    return ST_ERR_INTERNAL;
}
