/* conv1d.c — 1-D convolution on channels-last sequences [T, C_in] -> [T_out, filters].
 *
 * General case: an im2col buffer col [B·T_out, C_in·K] (row (b, t), column g·K·Cg + k·Cg + cl
 * holds in[b, t·stride − padding + k·dilation, g·Cg + cl] for group g of Cg = C_in/G channels,
 * zero outside the input: each tap of a group is one contiguous copy of Cg channels) makes each
 * group one BLIS sgemm against its weight block reordered to the same column order, W_r
 * [F/G, K·Cg] (PyTorch's [filters, C_in/groups, K] read tap-major; the layer's fixed scratch).
 * The backward pass reuses the buffer: dW_r = doutᵀ·col per group, added into dW in PyTorch's
 * order, then the buffer is overwritten with dcol = dout·W_r and gathered back to din (col2im as
 * a gather, so every din element is summed over k in a fixed order). Depthwise convolutions (groups == C_in:
 * one input channel per group) are direct loops — G tiny GEMMs would cost more than the work.
 * Parameter-gradient sums are over fixed row orders, threads split filters or columns only. */
#include "conv1d.h"

#include "gemm.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "bias.h"
#include "layer.h"

int st_conv1d_out_len(int T, int K, int stride, int padding, int dilation) {
    long span = (long)dilation * (K - 1) + 1;
    long padded = (long)T + 2L * padding;
    if (padded < span) return 0;
    long n = (padded - span) / stride + 1;
    return n > INT_MAX ? INT_MAX : (int)n;
}

static int is_depthwise(const st_conv1d_dims_t *d) { return d->groups == d->C_in; }

long st_conv1d_col_per_sample(const st_conv1d_dims_t *d) {
    return is_depthwise(d) ? 0 : (long)d->T_out * d->C_in * d->K;
}

long st_conv1d_work_fixed(const st_conv1d_dims_t *d) {
    return is_depthwise(d) ? 0 : 2L * d->F * (d->C_in / d->groups) * d->K;
}

/* W_r [F, K·Cg] (W_r[f, k·Cg + cl] = W[f, cl·K + k]) from W [F, Cg, K]; filters split over
 * threads. */
static void reorder_weights(float *Wr, const float *W, int F, int Cg, int K) {
    #pragma omp parallel for schedule(static)
    for (int f = 0; f < F; f++)
        for (int k = 0; k < K; k++) {
            float *dst = Wr + ((size_t)f * K + k) * Cg;
            const float *src = W + (size_t)f * Cg * K + k;
            for (int cl = 0; cl < Cg; cl++) dst[cl] = src[(size_t)cl * K];
        }
}

/* dW [F, Cg, K] += dW_r [F, K·Cg] (the inverse reordering); filters split over threads. */
static void add_weight_grad(float *dW, const float *dWr, int F, int Cg, int K) {
    #pragma omp parallel for schedule(static)
    for (int f = 0; f < F; f++)
        for (int cl = 0; cl < Cg; cl++)
            for (int k = 0; k < K; k++) dW[((size_t)f * Cg + cl) * K + k] += dWr[((size_t)f * K + k) * Cg + cl];
}

/* col [B·T_out, C_in·K] from in [B, T, C_in], in the group-tap-channel column order. */
static void im2col(float *col, const float *in, const st_conv1d_dims_t *d, int B) {
    const int T = d->T, C = d->C_in, K = d->K, T_out = d->T_out, G = d->groups, Cg = C / G;
    const size_t CK = (size_t)C * K;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++) {
            float *row = col + ((size_t)b * T_out + t) * CK;
            for (int k = 0; k < K; k++) {
                long ti = (long)t * d->stride - d->padding + (long)k * d->dilation;
                const float *x = in + ((size_t)b * T + ti) * C;
                for (int g = 0; g < G; g++) {
                    float *dst = row + ((size_t)g * K + k) * Cg;
                    if (ti < 0 || ti >= T) memset(dst, 0, sizeof(float) * Cg);
                    else memcpy(dst, x + (size_t)g * Cg, sizeof(float) * Cg);
                }
            }
        }
}

/* Output position t that reads input position ti through tap k, or -1. */
static inline long tap_source(long ti, int k, const st_conv1d_dims_t *d) {
    long num = ti + d->padding - (long)k * d->dilation;
    if (num < 0 || num % d->stride) return -1;
    long t = num / d->stride;
    return t < d->T_out ? t : -1;
}

/* din [B, T, C_in] = Σ_k dcol[(b, t(ti, k)), column of (ci, k)], k ascending. */
static void col2im(float *din, const float *dcol, const st_conv1d_dims_t *d, int B) {
    const int T = d->T, C = d->C_in, K = d->K, T_out = d->T_out, G = d->groups, Cg = C / G;
    const size_t CK = (size_t)C * K;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int ti = 0; ti < T; ti++) {
            float *dx = din + ((size_t)b * T + ti) * C;
            for (int c = 0; c < C; c++) dx[c] = 0.0f;
            for (int k = 0; k < K; k++) {
                long t = tap_source(ti, k, d);
                if (t < 0) continue;
                const float *row = dcol + ((size_t)b * T_out + t) * CK;
                for (int g = 0; g < G; g++) {
                    const float *src = row + ((size_t)g * K + k) * Cg;
                    float *dst = dx + (size_t)g * Cg;
                    for (int cl = 0; cl < Cg; cl++) dst[cl] += src[cl];
                }
            }
        }
}

/* ---- depthwise (groups == C_in): filter f reads channel f / (F / C_in) ---- */

static void depthwise_forward(float *out, const float *in, const float *W, const float *bias,
                              const st_conv1d_dims_t *d, int B) {
    const int T = d->T, C = d->C_in, K = d->K, T_out = d->T_out, F = d->F, mult = F / C;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++) {
            float *o = out + ((size_t)b * T_out + t) * F;
            for (int f = 0; f < F; f++) o[f] = bias ? bias[f] : 0.0f;
            for (int k = 0; k < K; k++) {
                long ti = (long)t * d->stride - d->padding + (long)k * d->dilation;
                if (ti < 0 || ti >= T) continue;
                const float *x = in + ((size_t)b * T + ti) * C;
                for (int f = 0; f < F; f++) o[f] += W[(size_t)f * K + k] * x[f / mult];
            }
        }
}

static void depthwise_backward(float *din, float *dW, const float *dout, const float *in,
                               const float *W, const st_conv1d_dims_t *d, int B) {
    const int T = d->T, C = d->C_in, K = d->K, T_out = d->T_out, F = d->F, mult = F / C;
    enum { BLOCK = 32 };
    /* dW[f, k] += Σ_(b, t) dout[b, t, f] · in[b, ti(t, k), f / mult]; threads split filters. */
    #pragma omp parallel for schedule(static)
    for (int f0 = 0; f0 < F; f0 += BLOCK) {
        int f1 = f0 + BLOCK < F ? f0 + BLOCK : F;
        for (int k = 0; k < K; k++) {
            float acc[BLOCK] = {0};
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T_out; t++) {
                    long ti = (long)t * d->stride - d->padding + (long)k * d->dilation;
                    if (ti < 0 || ti >= T) continue;
                    const float *x = in + ((size_t)b * T + ti) * C;
                    const float *g = dout + ((size_t)b * T_out + t) * F;
                    for (int f = f0; f < f1; f++) acc[f - f0] += g[f] * x[f / mult];
                }
            for (int f = f0; f < f1; f++) dW[(size_t)f * K + k] += acc[f - f0];
        }
    }
    if (!din) return;
    /* din[b, ti, c] = Σ_k Σ_j dout[b, t(ti, k), c·mult + j] · W[c·mult + j, k]. */
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int ti = 0; ti < T; ti++) {
            float *dx = din + ((size_t)b * T + ti) * C;
            for (int c = 0; c < C; c++) dx[c] = 0.0f;
            for (int k = 0; k < K; k++) {
                long t = tap_source(ti, k, d);
                if (t < 0) continue;
                const float *g = dout + ((size_t)b * T_out + t) * F;
                for (int f = 0; f < F; f++) dx[f / mult] += g[f] * W[(size_t)f * K + k];
            }
        }
}

/* ---- public entry points ---- */

void st_conv1d_forward(float *out, float *work, const float *in, const float *W, const float *b,
                       const st_conv1d_dims_t *d, int B) {
    if (is_depthwise(d)) {
        depthwise_forward(out, in, W, b, d, B);
        return;
    }
    const long M = (long)B * d->T_out;
    const int F = d->F, G = d->groups, Fg = F / G, CgK = d->C_in / G * d->K, CK = d->C_in * d->K;
    float *Wr = work, *col = work + st_conv1d_work_fixed(d);
    float one = 1.0f, beta = 0.0f;
    reorder_weights(Wr, W, F, d->C_in / G, d->K);
    W = Wr;
    if (b) {
        #pragma omp parallel for schedule(static)
        for (long m = 0; m < M; m++) memcpy(out + (size_t)m * F, b, sizeof(float) * F);
        beta = 1.0f;
    }
    im2col(col, in, d, B);
    for (int g = 0; g < G; g++)
        /* out[:, g·Fg : (g+1)·Fg] (+)= col[:, g·CgK : (g+1)·CgK] · (W_g [Fg, CgK])ᵀ */
        st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, Fg, CgK, &one, col + (size_t)g * CgK, CK, 1,
                  (float *)W + (size_t)g * Fg * CgK, CgK, 1, &beta, out + (size_t)g * Fg, F, 1);
}

void st_conv1d_backward(float *din, float *dW, float *db, float *work, const float *dout,
                        const float *in, const float *W, const st_conv1d_dims_t *d, int B) {
    const long M = (long)B * d->T_out;
    if (db) st_bias_grad_add(db, dout, M, d->F);
    if (is_depthwise(d)) {
        depthwise_backward(din, dW, dout, in, W, d, B);
        return;
    }
    const int F = d->F, G = d->groups, Fg = F / G, CgK = d->C_in / G * d->K, CK = d->C_in * d->K;
    /* W_r as the forward reordered it (the weights do not change between the two) */
    float *dWr = work + st_conv1d_work_fixed(d) / 2, *col = work + st_conv1d_work_fixed(d);
    float one = 1.0f, zero = 0.0f;
    W = work;
    im2col(col, in, d, B);
    for (int g = 0; g < G; g++) {
        float *col_g = col + (size_t)g * CgK;
        const float *dout_g = dout + (size_t)g * Fg;
        /* dW_r,g [Fg, CgK] = (dout_g [M, Fg])ᵀ · col_g [M, CgK] */
        st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, Fg, CgK, M, &one, (float *)dout_g, F, 1, col_g, CK, 1,
                  &zero, dWr + (size_t)g * Fg * CgK, CgK, 1);
        /* dcol_g [M, CgK] = dout_g [M, Fg] · W_g [Fg, CgK] (overwrites this group's columns) */
        if (din)
            st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, CgK, Fg, &one, (float *)dout_g, F, 1,
                      (float *)W + (size_t)g * Fg * CgK, CgK, 1, &zero, col_g, CK, 1);
    }
    add_weight_grad(dW, dWr, F, d->C_in / G, d->K);
    if (din) col2im(din, col, d, B);
}

/* ---- layer kind ---- */

enum { K_FILTERS, K_KERNEL, K_STRIDE, K_PADDING, K_DILATION, K_GROUPS, K_BIAS, K_INIT, K_L2, N_KEYS };
static const st_key_t conv1d_keys[N_KEYS] = {
    [K_FILTERS] = {"filters", ST_K_INT, NULL, 1, 1e15, NULL, "output channels"},
    [K_KERNEL] = {"kernel_size", ST_K_INT, NULL, 1, 1e15, NULL, "taps of each filter along T"},
    [K_STRIDE] = {"stride", ST_K_INT, "1", 1, 1e15, NULL, "step between output positions along T"},
    [K_PADDING] = {"padding", ST_K_INT, "0", 0, 1e15, NULL, "zeros added at both ends of T"},
    [K_DILATION] = {"dilation", ST_K_INT, "1", 1, 1e15, NULL, "spacing between the kernel's taps"},
    [K_GROUPS] = {"groups", ST_K_INT, "1", 1, 1e15, NULL,
                  "channel groups: input channels and filters must both be divisible by it; groups = input channels is a depthwise convolution"},
    [K_BIAS] = {"bias", ST_K_BOOL, "true", 0, 0, NULL, "add a bias per filter"},
    [K_INIT] = {"init", ST_K_ENUM, "\"default\"", 0, 0, "default|he|xavier",
                "weight init, fan_in = C_in/groups*kernel_size: default = PyTorch's U(+-1/sqrt(fan_in)) (bias too); he = N(0, 2/fan_in); xavier = U(+-sqrt(6/(fan_in+fan_out))), fan_out = filters*kernel_size; bias 0 unless default"},
    [K_L2] = {"l2", ST_K_NUM, "0", 0, 1e300, NULL, "L2 penalty on the weight: loss += l2/2 * ||W||^2"},
};

static st_conv1d_dims_t dims_of(const st_layer_t *L) {
    return (st_conv1d_dims_t){
        .T = L->in_shape.d[0], .C_in = L->in_shape.d[1], .T_out = L->out_shape.d[0], .F = L->out_shape.d[1],
        .K = (int)L->opt[K_KERNEL].i, .stride = (int)L->opt[K_STRIDE].i, .padding = (int)L->opt[K_PADDING].i,
        .dilation = (int)L->opt[K_DILATION].i, .groups = (int)L->opt[K_GROUPS].i,
    };
}

static st_status_t conv1d_setup(st_layer_t *L, st_error_t *err) {
    char got[48];
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: conv1d needs a sequence input [T, C], got %s", L->path, got);
    }
    for (int k = K_FILTERS; k <= K_GROUPS; k++)
        if (L->opt[k].i > INT_MAX / 4)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: at most %d, got %ld", L->path, conv1d_keys[k].key,
                           INT_MAX / 4, L->opt[k].i);
    const int T = L->in_shape.d[0], C = L->in_shape.d[1];
    const long F = L->opt[K_FILTERS].i, K = L->opt[K_KERNEL].i, pad = L->opt[K_PADDING].i;
    const long dil = L->opt[K_DILATION].i, G = L->opt[K_GROUPS].i;
    if (C % G != 0 || F % G != 0)
        return st_fail(err, ST_ERR_CONFIG,
                       "%s.groups: input channels (%d) and filters (%ld) must both be divisible by groups (%ld)",
                       L->path, C, F, G);
    int T_out = st_conv1d_out_len(T, (int)K, (int)L->opt[K_STRIDE].i, (int)pad, (int)dil);
    if (T_out < 1)
        return st_fail(err, ST_ERR_SHAPE,
                       "%s: conv1d kernel spans %ld steps (kernel_size %ld, dilation %ld), longer than the padded input (T %d + 2*padding %ld = %ld)",
                       L->path, dil * (K - 1) + 1, K, dil, T, pad, T + 2 * pad);
    if ((double)T_out * F > INT_MAX || (double)F * (C / G) * K > INT_MAX || (double)C * K > INT_MAX)
        return st_fail(err, ST_ERR_CONFIG, "%s: conv1d too large (output [%d, %ld], %ld taps of %d channels)",
                       L->path, T_out, F, K, C);
    L->out_shape = st_shape2(T_out, (int)F);
    st_layer_add_param(L, "weight", (size_t)F * (C / G) * K, 1);
    if (L->opt[K_BIAS].b) st_layer_add_param(L, "bias", (size_t)F, 0);
    L->params[0].l2 = (float)L->opt[K_L2].num;
    st_conv1d_dims_t d = dims_of(L);
    L->scratch_per_sample = st_conv1d_col_per_sample(&d);
    L->scratch_fixed = st_conv1d_work_fixed(&d);
    return ST_OK;
}

static void conv1d_init(st_layer_t *L, uint64_t seed) {
    st_conv1d_dims_t d = dims_of(L);
    int fan_in = d.C_in / d.groups * d.K, fan_out = d.F * d.K;
    st_init_weight(L, 0, L->opt[K_INIT].s, fan_in, fan_out, seed);
    if (L->n_params > 1) {
        if (strcmp(L->opt[K_INIT].s, "default") == 0) st_init_uniform(L, 1, 1.0f / sqrtf((float)fan_in), seed);
        else st_init_const(L->params[1].data, L->params[1].n, 0.0f);
    }
}

static void conv1d_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    st_conv1d_dims_t d = dims_of(L);
    st_conv1d_forward(out, L->scratch, in, L->params[0].data, L->n_params > 1 ? L->params[1].data : NULL, &d, B);
}

static void conv1d_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                  const float *in, const float *out, int B) {
    (void)ctx, (void)out;
    st_conv1d_dims_t d = dims_of(L);
    st_conv1d_backward(din, L->params[0].grad, L->n_params > 1 ? L->params[1].grad : NULL, L->scratch, dout,
                       in, L->params[0].data, &d, B);
}

static int conv1d_out_length(const st_layer_t *L, int len) {
    return st_conv1d_out_len(len, (int)L->opt[K_KERNEL].i, (int)L->opt[K_STRIDE].i, (int)L->opt[K_PADDING].i,
                             (int)L->opt[K_DILATION].i);
}

/* The GEMM of T_out·F outputs of (C/G)·K taps: forward 2·T_out·F·(C/G)·K (+ T_out·F for the
 * bias); din the same GEMM; dW the same GEMM (+ T_out·F: db). im2col/col2im move data (0). */
static void conv1d_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double T_out = L->out_max.d[0], F = L->out_max.d[1], taps = (double)(L->in_max.d[1] / L->opt[K_GROUPS].i) * L->opt[K_KERNEL].i;
    double gemm = 2 * T_out * F * taps, bias = L->n_params > 1 ? T_out * F : 0;
    f->forward = gemm + bias, f->backward_input = gemm, f->backward_rest = gemm + bias;
}

const st_layer_kind_t st_kind_conv1d = {
    .type = "conv1d",
    .help = "1-D convolution along T of a sequence [T, C] -> [T_out, filters] (im2col + BLIS GEMM)",
    .keys = conv1d_keys, .n_keys = N_KEYS, .setup = conv1d_setup, .init = conv1d_init,
    .forward = conv1d_layer_forward, .backward = conv1d_layer_backward, .out_length = conv1d_out_length,
    .flops = conv1d_flops,
};
