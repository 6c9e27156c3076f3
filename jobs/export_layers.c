/* export_layers.c — the table of every layer kind's ONNX form (export_layers.h), the layout
 * helpers, and the forms of the kinds that do not run along T: dense as Gemm (or MatMul + Add
 * per position), batchnorm as BatchNormalization with the running statistics, layernorm, the
 * activations as their ONNX ops (gelu from Erf or Tanh: opset 17 has no Gelu), dropout as
 * nothing, slice, permute (a change of layout, no op), embedding (Cast + Gather) and
 * embedding_bag (MatMul). The kinds along T are in export_seq_layers.c. */
#include "jobs/export_kinds.h"
#include "jobs/export_lengths.h"

#include <stdlib.h>
#include <string.h>

#include "layer_kinds.h"

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

long st_export_opt_i(const st_layer_t *L, const char *key) { return st_layer_opt(L, key)->i; }

/* The value's per-sample shape after L: L's output shape, layout kept. */
st_onnx_val_t st_export_shaped(st_onnx_val_t x, const st_layer_t *L, const char *name) {
    x.name = name, x.rank = L->out_shape.rank;
    if (x.rank == 1) x.nct = 0, x.T = 0, x.C = L->out_shape.d[0], x.len = NULL;
    else x.T = L->out_shape.d[0], x.C = L->out_shape.d[1];
    return x;
}

const char *st_export_vec(st_onnx_t *g, const st_layer_t *L, const char *what, const float *v, int64_t n) {
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
    const char *bias = st_export_vec(g, L, "bias", b, N), *out;
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
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* batchnorm: BatchNormalization over the channel axis (1) with the running statistics. */
static st_status_t emit_batchnorm(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_nct(g, x);
    const int C = st_shape_channels(L->in_shape);
    const char *in[5] = {x.name, st_export_vec(g, L, "weight", L->params[0].data, C), st_export_vec(g, L, "bias", L->params[1].data, C),
                         st_export_vec(g, L, "running_mean", L->buffers[0].data, C),
                         st_export_vec(g, L, "running_var", L->buffers[1].data, C)};
    const char *out = st_onnx_node(g, "BatchNormalization", in, 5, L->name, 1, NULL);
    st_onnx_attr_f(g, "epsilon", (float)st_layer_opt(L, "eps")->num);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* layernorm: LayerNormalization over the last axis (opset 17). */
static st_status_t emit_layernorm(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    const int C = st_shape_channels(L->in_shape);
    const char *in[3] = {x.name, st_export_vec(g, L, "weight", L->params[0].data, C), st_export_vec(g, L, "bias", L->params[1].data, C)};
    const char *out = st_onnx_node(g, "LayerNormalization", in, 3, L->name, 1, NULL);
    st_onnx_attr_i(g, "axis", -1);
    st_onnx_attr_f(g, "epsilon", (float)st_layer_opt(L, "eps")->num);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

static st_status_t emit_identity(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)g, (void)L, (void)err;
    *y = x; /* dropout: the identity in eval mode */
    return ST_OK;
}

/* An elementwise op named by the kind: Relu, Sigmoid, Tanh, HardSwish, LeakyRelu. */
static st_status_t emit_unary(st_onnx_t *g, const st_layer_t *L, const char *op, st_onnx_val_t x, st_onnx_val_t *y) {
    *y = st_export_shaped(x, L, st_onnx_op1(g, op, x.name, L->name));
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

const char *st_export_scalar(st_onnx_t *g, const st_layer_t *L, const char *what, float v) {
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
        u = st_onnx_op2(g, "Add", x.name, st_onnx_op2(g, "Mul", x3, st_export_scalar(g, L, "kappa", 0.044715f), L->name), L->name);
        u = st_onnx_op1(g, "Tanh", st_onnx_op2(g, "Mul", u, st_export_scalar(g, L, "sqrt_2_over_pi", 0.7978845608f), L->name), L->name);
    } else {
        u = st_onnx_op1(g, "Erf", st_onnx_op2(g, "Mul", x.name, st_export_scalar(g, L, "inv_sqrt2", 0.70710678f), L->name), L->name);
    }
    const char *h = st_onnx_op2(g, "Mul", st_onnx_op2(g, "Add", u, st_export_scalar(g, L, "one", 1.0f), L->name),
                                st_export_scalar(g, L, "half", 0.5f), L->name);
    *y = st_export_shaped(x, L, st_onnx_op2(g, "Mul", x.name, h, L->name));
    return ST_OK;
}
/* permute: [T, C] -> [C, T] is the same tensor held the other way: no op, the layout flips
 * ([N, T, C] held as [N, T, C] is the permuted value held as [N, C', T']). */
static st_status_t emit_permute(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)g, (void)err;
    *y = st_export_shaped(x, L, x.name);
    y->nct = !x.nct;
    return ST_OK;
}

/* slice: columns from..to-1 of the channel axis (the last of [N, D] and [N, T, C], 1 of [N, C, T]). */
static st_status_t emit_slice(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    int64_t from = st_export_opt_i(L, "from"), to = st_export_opt_i(L, "to"), axis = x.rank == 2 && x.nct ? 1 : -1;
    const char *in[4] = {x.name, st_onnx_init_i64(g, "starts", &from, 1), st_onnx_init_i64(g, "ends", &to, 1),
                         st_onnx_init_i64(g, "axes", &axis, 1)};
    *y = st_export_shaped(x, L, st_onnx_node(g, "Slice", in, 4, L->name, 1, NULL));
    return ST_OK;
}

/* embedding: ids [N, k] (or [N, T, k]) as float -> Cast int64 -> Gather of W [n, dim] -> [N, k·dim]
 * (int8: W per row, one scale per id).
 * An id outside [0, n) is an error for ONNX's Gather (strata's forward gives zeros; `strata eval`
 * refuses such rows, naming them). */
static st_status_t emit_embedding(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    int64_t dims[2] = {st_export_opt_i(L, "n"), st_export_opt_i(L, "dim")};
    const char *ids = st_onnx_op1(g, "Cast", x.name, L->name);
    st_onnx_attr_i(g, "to", ST_ONNX_INT64);
    const char *table = st_onnx_init_f32(g, L->name, L->params[0].data, dims, 2);
    st_onnx_i8_mark(g, table, 0); /* int8: per row (id) */
    const char *out = st_onnx_op2(g, "Gather", table, ids, L->name);
    int64_t shape[3] = {-1, L->out_shape.d[0], L->out_shape.d[1]};
    out = st_onnx_op2(g, "Reshape", out, st_onnx_init_i64(g, "shape", shape, L->out_shape.rank + 1), L->name);
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* embedding_bag: x [N, n] (weights) -> MatMul(x, W [n, dim]); mean: ÷ max(Σ_j x_j, tiny) (an
 * empty row stays 0). int8: W per row (per id, as embedding's table), x stays float. */
static st_status_t emit_embedding_bag(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y, st_error_t *err) {
    (void)err;
    x = st_export_ntc(g, x);
    int64_t dims[2] = {st_shape_channels(L->in_shape), st_export_opt_i(L, "dim")}, axis = -1;
    const char *table = st_onnx_init_f32(g, L->name, L->params[0].data, dims, 2);
    st_onnx_i8_mark(g, table, 0); /* int8: per row (id), as embedding's table */
    const char *out = st_onnx_op2(g, "MatMul", x.name, table, L->name);
    if (strcmp(st_layer_opt(L, "mode")->s, "mean") == 0) {
        const char *sum = st_onnx_op2(g, "ReduceSum", x.name, st_onnx_init_i64(g, "axes", &axis, 1), L->name);
        st_onnx_attr_i(g, "keepdims", 1);
        sum = st_onnx_op2(g, "Max", sum, st_export_scalar(g, L, "tiny", 1e-30f), L->name);
        out = st_onnx_op2(g, "Div", out, sum, L->name);
    }
    *y = st_export_shaped(x, L, out);
    return ST_OK;
}

/* Every registered kind: its emitter, or NULL and the reason it is refused. */
static const struct {
    const st_layer_kind_t *kind;
    st_export_emit_fn emit;
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
    {&st_kind_conv1d, st_export_emit_conv1d, NULL},
    {&st_kind_max_pool1d, st_export_emit_max_pool, NULL},
    {&st_kind_avg_pool1d, st_export_emit_avg_pool, NULL},
    {&st_kind_global_avg_pool, st_export_emit_global_avg, NULL},
    {&st_kind_global_max_pool, st_export_emit_global_max, NULL},
    {&st_kind_flatten, st_export_emit_flatten, NULL},
    {&st_kind_lstm, st_export_emit_lstm, NULL},
    {&st_kind_gru, st_export_emit_gru, NULL},
    {&st_kind_slice, emit_slice, NULL},
    {&st_kind_embedding, emit_embedding, NULL},
    {&st_kind_embedding_bag, emit_embedding_bag, NULL},
    {&st_kind_squeeze_excite, st_export_emit_squeeze_excite, NULL},
    {&st_kind_conv_transpose1d, st_export_emit_conv_transpose1d, NULL},
    {&st_kind_upsample1d, st_export_emit_upsample1d, NULL},
    {&st_kind_reshape, st_export_emit_reshape, NULL},
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
    int i = 0;
    while (i < N_TABLE && table[i].kind != L->kind) i++;
    if (i == N_TABLE) return ST_ERR_INTERNAL;
    ST_TRY(table[i].emit(g, L, in, out, err));
    /* variable lengths: the output's lengths (mapped when L changes T) and 0 past them, as strata */
    if (in.rank != 2 || !in.len || out->rank != 2) return ST_OK;
    out->len = L->kind->out_length ? st_export_map_lengths(g, L, in.len) : in.len;
    out->name = st_export_fill(g, *out, 0.0f);
    return ST_OK;
}
