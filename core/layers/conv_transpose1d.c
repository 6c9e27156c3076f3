/* conv_transpose1d.c — transposed 1-D convolution on channels-last sequences, as PyTorch's
 * nn.ConvTranspose1d: input position ti feeds output positions to = ti·stride − padding + k,
 * out[to, f] = b[f] + Σ_(ti, k) Σ_ci x[ti, ci]·W[ci, f − g·F/G, k] over the group g of f.
 *
 * Forward: per group one sgemm col_g [B·T, F/G·K] = x_g [B·T, C_in/G] · W_g [C_in/G, F/G·K]
 * (col column f·K + k, W_g read row by row in PyTorch's layout), then col2im as a gather:
 * every output element sums its taps k ascending, so no two threads add into one place.
 * Backward: dcol = im2col(dout) (row (b, ti), column f·K + k holds dout[b, ti·stride − padding
 * + k, f], zero outside), then din_g = dcol_g·W_gᵀ and dW_g += x_gᵀ·dcol_g; db sums dout's rows
 * in order. Threads split rows or columns only, so the bits do not depend on the thread count. */
#include "conv_transpose1d.h"

#include "gemm.h"
#include <limits.h>
#include <math.h>
#include <string.h>

#include "bias.h"
#include "layer.h"

long st_convt1d_out_len(int T, int K, int stride, int padding, int output_padding) {
    return ((long)T - 1) * stride - 2L * padding + K + output_padding;
}

/* Input position that reaches output position `to` through tap k, or −1. */
static inline long tap_input(long to, int k, const st_convt1d_dims_t *d) {
    long num = to + d->padding - k;
    if (num < 0 || num % d->stride) return -1;
    long ti = num / d->stride;
    return ti < d->T ? ti : -1;
}

/* out [B, T_out, F] = bias + Σ_k col[(b, ti(to, k)), f·K + k], k ascending. */
static void col2im(float *out, const float *col, const float *bias, const st_convt1d_dims_t *d, int B) {
    const int T = d->T, F = d->F, K = d->K, T_out = d->T_out;
    const size_t FK = (size_t)F * K;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int to = 0; to < T_out; to++) {
            float *o = out + ((size_t)b * T_out + to) * F;
            for (int f = 0; f < F; f++) o[f] = bias ? bias[f] : 0.0f;
            for (int k = 0; k < K; k++) {
                long ti = tap_input(to, k, d);
                if (ti < 0) continue;
                const float *row = col + ((size_t)b * T + ti) * FK;
                for (int f = 0; f < F; f++) o[f] += row[(size_t)f * K + k];
            }
        }
}

/* dcol [B·T, F·K] from dout [B, T_out, F]. */
static void im2col(float *dcol, const float *dout, const st_convt1d_dims_t *d, int B) {
    const int T = d->T, F = d->F, K = d->K, T_out = d->T_out;
    const size_t FK = (size_t)F * K;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int ti = 0; ti < T; ti++) {
            float *row = dcol + ((size_t)b * T + ti) * FK;
            for (int k = 0; k < K; k++) {
                long to = (long)ti * d->stride - d->padding + k;
                if (to < 0 || to >= T_out) {
                    for (int f = 0; f < F; f++) row[(size_t)f * K + k] = 0.0f;
                } else {
                    const float *g = dout + ((size_t)b * T_out + to) * F;
                    for (int f = 0; f < F; f++) row[(size_t)f * K + k] = g[f];
                }
            }
        }
}

void st_convt1d_forward(float *out, float *col, const float *in, const float *W, const float *b,
                        const st_convt1d_dims_t *d, int B) {
    const long M = (long)B * d->T;
    const int G = d->groups, Cg = d->C_in / G, FgK = d->F / G * d->K, FK = d->F * d->K;
    float one = 1.0f, zero = 0.0f;
    for (int g = 0; g < G; g++)
        /* col[:, g·FgK : (g+1)·FgK] = in[:, g·Cg : (g+1)·Cg] · W_g [Cg, FgK] */
        st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, FgK, Cg, &one, (float *)in + (size_t)g * Cg, d->C_in, 1,
                  (float *)W + (size_t)g * Cg * FgK, FgK, 1, &zero, col + (size_t)g * FgK, FK, 1);
    col2im(out, col, b, d, B);
}

void st_convt1d_backward(float *din, float *dW, float *db, float *col, const float *dout, const float *in,
                         const float *W, const st_convt1d_dims_t *d, int B) {
    const long M = (long)B * d->T;
    const int G = d->groups, Cg = d->C_in / G, FgK = d->F / G * d->K, FK = d->F * d->K;
    float one = 1.0f, zero = 0.0f;
    if (db) st_bias_grad_add(db, dout, (long)B * d->T_out, d->F);
    im2col(col, dout, d, B);
    for (int g = 0; g < G; g++) {
        float *dcol_g = col + (size_t)g * FgK;
        const float *x_g = in + (size_t)g * Cg;
        float *W_g = (float *)W + (size_t)g * Cg * FgK;
        /* dW_g [Cg, FgK] += x_gᵀ [Cg, M] · dcol_g [M, FgK] */
        st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, Cg, FgK, M, &one, (float *)x_g, d->C_in, 1, dcol_g, FK, 1, &one,
                  dW + (size_t)g * Cg * FgK, FgK, 1);
        /* din_g [M, Cg] = dcol_g [M, FgK] · W_gᵀ [FgK, Cg] */
        if (din)
            st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, Cg, FgK, &one, dcol_g, FK, 1, W_g, FgK, 1, &zero,
                      din + (size_t)g * Cg, d->C_in, 1);
    }
}

/* ---- layer kind ---- */

enum { K_FILTERS, K_KERNEL, K_STRIDE, K_PADDING, K_OUTPUT_PADDING, K_GROUPS, K_BIAS, N_KEYS };
static const st_key_t convt_keys[N_KEYS] = {
    [K_FILTERS] = {"filters", ST_K_INT, NULL, 1, 1e15, NULL, "output channels"},
    [K_KERNEL] = {"kernel_size", ST_K_INT, NULL, 1, 1e15, NULL, "taps of each filter along T"},
    [K_STRIDE] = {"stride", ST_K_INT, "1", 1, 1e15, NULL, "output steps between consecutive input positions"},
    [K_PADDING] = {"padding", ST_K_INT, "0", 0, 1e15, NULL, "positions cropped from both ends of the output"},
    [K_OUTPUT_PADDING] = {"output_padding", ST_K_INT, "0", 0, 1e15, NULL,
                          "positions added at the end of the output; smaller than stride"},
    [K_GROUPS] = {"groups", ST_K_INT, "1", 1, 1e15, NULL,
                  "channel groups: input channels and filters must both be divisible by it"},
    [K_BIAS] = {"bias", ST_K_BOOL, "true", 0, 0, NULL, "add a bias per filter"},
};

static st_convt1d_dims_t dims_of(const st_layer_t *L) {
    return (st_convt1d_dims_t){
        .T = L->in_shape.d[0], .C_in = L->in_shape.d[1], .T_out = L->out_shape.d[0], .F = L->out_shape.d[1],
        .K = (int)L->opt[K_KERNEL].i, .stride = (int)L->opt[K_STRIDE].i, .padding = (int)L->opt[K_PADDING].i,
        .output_padding = (int)L->opt[K_OUTPUT_PADDING].i, .groups = (int)L->opt[K_GROUPS].i,
    };
}

static st_status_t convt_setup(st_layer_t *L, st_error_t *err) {
    char got[48];
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: conv_transpose1d needs a sequence input [T, C], got %s", L->path, got);
    }
    for (int k = K_FILTERS; k <= K_GROUPS; k++)
        if (L->opt[k].i > INT_MAX / 4)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: at most %d, got %ld", L->path, convt_keys[k].key, INT_MAX / 4,
                           L->opt[k].i);
    const int T = L->in_shape.d[0], C = L->in_shape.d[1];
    const long F = L->opt[K_FILTERS].i, K = L->opt[K_KERNEL].i, S = L->opt[K_STRIDE].i, G = L->opt[K_GROUPS].i;
    const long pad = L->opt[K_PADDING].i, opad = L->opt[K_OUTPUT_PADDING].i;
    if (C % G != 0 || F % G != 0)
        return st_fail(err, ST_ERR_CONFIG,
                       "%s.groups: input channels (%d) and filters (%ld) must both be divisible by groups (%ld)",
                       L->path, C, F, G);
    if (opad >= S)
        return st_fail(err, ST_ERR_CONFIG, "%s.output_padding: must be smaller than stride (%ld), got %ld", L->path,
                       S, opad);
    long T_out = st_convt1d_out_len(T, (int)K, (int)S, (int)pad, (int)opad);
    if (T_out < 1)
        return st_fail(err, ST_ERR_SHAPE,
                       "%s: conv_transpose1d output length (T %d - 1)*stride %ld - 2*padding %ld + kernel_size %ld + output_padding %ld = %ld is not positive",
                       L->path, T, S, pad, K, opad, T_out);
    if ((double)T_out * F > INT_MAX || (double)F * K * C > INT_MAX || (double)T * F * K > INT_MAX)
        return st_fail(err, ST_ERR_CONFIG, "%s: conv_transpose1d too large (output [%ld, %ld], kernel_size %ld)",
                       L->path, T_out, F, K);
    L->out_shape = st_shape2((int)T_out, (int)F);
    st_layer_add_param(L, "weight", (size_t)C * (F / G) * K, 1);
    if (L->opt[K_BIAS].b) st_layer_add_param(L, "bias", (size_t)F, 0);
    L->scratch_per_sample = (long)T * F * K;
    return ST_OK;
}

/* PyTorch's default: fan_in of a [C_in, F/G, K] weight is (F/G)·K; weight and bias U(±1/sqrt(fan_in)). */
static void convt_init(st_layer_t *L, uint64_t seed) {
    st_convt1d_dims_t d = dims_of(L);
    int fan_in = d.F / d.groups * d.K;
    st_init_weight(L, 0, "default", fan_in, d.C_in / d.groups * d.K, seed);
    if (L->n_params > 1) st_init_uniform(L, 1, 1.0f / sqrtf((float)fan_in), seed);
}

static void convt_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    st_convt1d_dims_t d = dims_of(L);
    st_convt1d_forward(out, L->scratch, in, L->params[0].data, L->n_params > 1 ? L->params[1].data : NULL, &d, B);
}

static void convt_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                 const float *in, const float *out, int B) {
    (void)ctx, (void)out;
    st_convt1d_dims_t d = dims_of(L);
    st_convt1d_backward(din, L->params[0].grad, L->n_params > 1 ? L->params[1].grad : NULL, L->scratch, dout, in,
                        L->params[0].data, &d, B);
}

static int convt_out_length(const st_layer_t *L, int len) {
    long n = st_convt1d_out_len(len, (int)L->opt[K_KERNEL].i, (int)L->opt[K_STRIDE].i, (int)L->opt[K_PADDING].i,
                                (int)L->opt[K_OUTPUT_PADDING].i);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* The GEMM of T·C inputs spread over (F/G)·K taps: forward 2·T·C·(F/G)·K (+ T_out·F for the
 * bias); din the same GEMM; dW the same GEMM (+ T_out·F: db). col2im moves data (0). */
static void convt_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double T = L->in_max.d[0], C = L->in_max.d[1], taps = (double)(L->out_max.d[1] / L->opt[K_GROUPS].i) * L->opt[K_KERNEL].i;
    double gemm = 2 * T * C * taps, bias = L->n_params > 1 ? (double)L->out_max.d[0] * L->out_max.d[1] : 0;
    f->forward = gemm + bias, f->backward_input = gemm, f->backward_rest = gemm + bias;
}

const st_layer_kind_t st_kind_conv_transpose1d = {
    .type = "conv_transpose1d",
    .help = "transposed 1-D convolution along T of a sequence [T, C] -> [(T-1)*stride - 2*padding + kernel_size + output_padding, filters] (BLIS GEMM + col2im)",
    .keys = convt_keys, .n_keys = N_KEYS, .setup = convt_setup, .init = convt_init,
    .forward = convt_layer_forward, .backward = convt_layer_backward, .out_length = convt_out_length,
    .flops = convt_flops,
};
