#pragma GCC optimize("no-trapping-math")
/* pool1d.c — max_pool1d and avg_pool1d along T of channels-last sequences [T, C].
 *
 * Semantics are PyTorch's MaxPool1d / AvgPool1d (dilation 1, ceil_mode off): window t covers
 * input positions t·stride − padding .. + kernel_size − 1; padding is at most kernel_size/2, so
 * every window holds at least one real position. Max ignores padded positions and keeps the
 * first maximum (a NaN wins); the forward pass saves each window's argmax in the layer's
 * scratch for the backward pass. Avg counts padded positions as zeros and divides by
 * kernel_size (count_include_pad=True). Backward passes are gathers: each din element sums the
 * windows that hold it in ascending order, so results do not depend on the thread count.
 * Variable lengths: a row's output length is the same formula on its length; max treats the
 * positions past the length as padding; avg needs nothing (they hold zeros, as padding does). */
#include "pool1d.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "layer.h"
#include "simd.h"

int st_pool1d_out_len(int T, int K, int stride, int padding) {
    long padded = (long)T + 2L * padding;
    if (padded < K) return 0;
    long n = (padded - K) / stride + 1;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Windows [*t_lo, *t_hi] that hold input position ti (empty when t_lo > t_hi). */
static inline void windows_of(int ti, int T_out, int K, int stride, int padding, int *t_lo, int *t_hi) {
    long first = (long)ti + padding - K + 1, last = (long)ti + padding;
    long lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    long hi = last / stride;
    *t_lo = (int)lo;
    *t_hi = hi < T_out - 1 ? (int)hi : T_out - 1;
}

/* One output row: o [C], a [C] = max and argmax over rows t0 .. t1-1 of x [T, C]; branch-free
 * (the select keeps the first maximum, a NaN wins), so it vectorises over c. */
ST_CLONES static void max_row(float *restrict o, int32_t *restrict a, const float *restrict x, int t0, int t1, int C) {
    for (int c = 0; c < C; c++) o[c] = x[(size_t)t0 * C + c], a[c] = t0;
    for (int ti = t0 + 1; ti < t1; ti++) {
        const float *xr = x + (size_t)ti * C;
        for (int c = 0; c < C; c++) {
            float v = xr[c];
            int take = v > o[c] || v != v;
            o[c] = take ? v : o[c];
            a[c] = take ? ti : a[c];
        }
    }
}

void st_max_pool1d_forward(float *out, int32_t *argmax, const float *in, const int32_t *len, int B, int T, int C,
                           int T_out, int K, int stride, int padding) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++) {
            const int T_b = !len || len[b] > T ? T : len[b] < 1 ? 1 : len[b]; /* positions past it are padding */
            long start = (long)t * stride - padding;
            int t0 = start < 0 ? 0 : (int)start;
            int t1 = start + K < T_b ? (int)(start + K) : T_b;
            if (t0 >= T) t0 = T - 1; /* a window past the row's length: its output is zeroed */
            size_t o = (size_t)b * T_out + t;
            max_row(out + o * C, argmax + o * C, in + (size_t)b * T * C, t0, t1, C);
        }
}

/* dx [C] += g [C] where a [C] == ti: branch-free (adding +0 leaves a sum that starts at +0 unchanged). */
ST_CLONES static void gather_row(float *restrict dx, const float *restrict g, const int32_t *restrict a, int ti, int C) {
    for (int c = 0; c < C; c++) dx[c] += a[c] == ti ? g[c] : 0.0f;
}

void st_max_pool1d_backward(float *din, const float *dout, const int32_t *argmax, int B, int T, int C,
                            int T_out, int K, int stride, int padding) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int ti = 0; ti < T; ti++) {
            int t_lo, t_hi;
            windows_of(ti, T_out, K, stride, padding, &t_lo, &t_hi);
            float *dx = din + ((size_t)b * T + ti) * C;
            for (int c = 0; c < C; c++) dx[c] = 0.0f;
            for (int t = t_lo; t <= t_hi; t++)
                gather_row(dx, dout + ((size_t)b * T_out + t) * C, argmax + ((size_t)b * T_out + t) * C, ti, C);
        }
}

void st_avg_pool1d_forward(float *out, const float *in, int B, int T, int C, int T_out, int K, int stride,
                           int padding) {
    const float inv_K = 1.0f / (float)K;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T_out; t++) {
            long start = (long)t * stride - padding;
            int t0 = start < 0 ? 0 : (int)start;
            int t1 = start + K < T ? (int)(start + K) : T;
            const float *x = in + (size_t)b * T * C;
            float *o = out + ((size_t)b * T_out + t) * C;
            for (int c = 0; c < C; c++) o[c] = 0.0f;
            for (int ti = t0; ti < t1; ti++)
                for (int c = 0; c < C; c++) o[c] += x[(size_t)ti * C + c];
            for (int c = 0; c < C; c++) o[c] *= inv_K;
        }
}

void st_avg_pool1d_backward(float *din, const float *dout, int B, int T, int C, int T_out, int K, int stride,
                            int padding) {
    const float inv_K = 1.0f / (float)K;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int ti = 0; ti < T; ti++) {
            int t_lo, t_hi;
            windows_of(ti, T_out, K, stride, padding, &t_lo, &t_hi);
            float *dx = din + ((size_t)b * T + ti) * C;
            for (int c = 0; c < C; c++) dx[c] = 0.0f;
            for (int t = t_lo; t <= t_hi; t++) {
                const float *g = dout + ((size_t)b * T_out + t) * C;
                for (int c = 0; c < C; c++) dx[c] += g[c];
            }
            for (int c = 0; c < C; c++) dx[c] *= inv_K;
        }
}

/* ---- layer kinds ---- */

enum { K_KERNEL, K_STRIDE, K_PADDING, N_KEYS };
static const st_key_t pool1d_keys[N_KEYS] = {
    [K_KERNEL] = {"kernel_size", ST_K_INT, NULL, 1, 1e15, NULL, "window length along T"},
    [K_STRIDE] = {"stride", ST_K_INT, "", 1, 1e15, NULL, "step between windows; default: kernel_size"},
    [K_PADDING] = {"padding", ST_K_INT, "0", 0, 1e15, NULL,
                   "positions added at both ends of T, at most kernel_size/2 (as in PyTorch); max ignores them, avg counts them as zeros"},
};

typedef struct { int T, C, T_out, K, stride, padding; } pool_dims_t;

static pool_dims_t dims_of(const st_layer_t *L) {
    int K = (int)L->opt[K_KERNEL].i;
    return (pool_dims_t){L->in_shape.d[0], L->in_shape.d[1], L->out_shape.d[0], K,
                         L->opt[K_STRIDE].is_set ? (int)L->opt[K_STRIDE].i : K, (int)L->opt[K_PADDING].i};
}

static st_status_t pool1d_setup(st_layer_t *L, st_error_t *err) {
    char got[48];
    const char *type = L->kind->type;
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: %s needs a sequence input [T, C], got %s", L->path, type, got);
    }
    for (int k = 0; k < N_KEYS; k++)
        if (L->opt[k].is_set && L->opt[k].i > INT_MAX / 4)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: at most %d, got %ld", L->path, pool1d_keys[k].key,
                           INT_MAX / 4, L->opt[k].i);
    const long K = L->opt[K_KERNEL].i, pad = L->opt[K_PADDING].i;
    const int T = L->in_shape.d[0], C = L->in_shape.d[1];
    if (pad > K / 2)
        return st_fail(err, ST_ERR_CONFIG, "%s.padding: at most kernel_size/2 = %ld (as in PyTorch), got %ld",
                       L->path, K / 2, pad);
    int stride = L->opt[K_STRIDE].is_set ? (int)L->opt[K_STRIDE].i : (int)K;
    int T_out = st_pool1d_out_len(T, (int)K, stride, (int)pad);
    if (T_out < 1)
        return st_fail(err, ST_ERR_SHAPE,
                       "%s: %s window (kernel_size %ld) is longer than the padded input (T %d + 2*padding %ld = %ld)",
                       L->path, type, K, T, pad, T + 2 * pad);
    L->out_shape = st_shape2(T_out, C);
    /* max: the argmax of every output element, as int32 in float-sized slots */
    if (strcmp(type, "max_pool1d") == 0) L->scratch_per_sample = (long)T_out * C;
    return ST_OK;
}

static void max_pool1d_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    pool_dims_t d = dims_of(L);
    st_max_pool1d_forward(out, (int32_t *)L->scratch, in, ctx->len_in, B, d.T, d.C, d.T_out, d.K, d.stride, d.padding);
}

static void max_pool1d_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                      const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (!din) return;
    pool_dims_t d = dims_of(L);
    st_max_pool1d_backward(din, dout, (const int32_t *)L->scratch, B, d.T, d.C, d.T_out, d.K, d.stride, d.padding);
}

static void avg_pool1d_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    pool_dims_t d = dims_of(L);
    st_avg_pool1d_forward(out, in, B, d.T, d.C, d.T_out, d.K, d.stride, d.padding);
}

static void avg_pool1d_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                      const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (!din) return;
    pool_dims_t d = dims_of(L);
    st_avg_pool1d_backward(din, dout, B, d.T, d.C, d.T_out, d.K, d.stride, d.padding);
}

static int pool1d_out_length(const st_layer_t *L, int len) {
    pool_dims_t d = dims_of(L);
    return st_pool1d_out_len(len, d.K, d.stride, d.padding);
}

/* T_out·C windows of K: max forward T_out·C·K comparisons, din routes to the argmax (0); avg
 * forward T_out·C·(K + 1) (sum and division), din T_out·C·(K + 1). */
static void max_pool_flops(const st_layer_t *L, st_layer_flops_t *f) {
    f->forward = (double)st_shape_numel(L->out_max) * L->opt[K_KERNEL].i, f->backward_input = 0, f->backward_rest = 0;
}

static void avg_pool_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double n = (double)st_shape_numel(L->out_max) * (L->opt[K_KERNEL].i + 1);
    f->forward = n, f->backward_input = n, f->backward_rest = 0;
}

const st_layer_kind_t st_kind_max_pool1d = {
    .type = "max_pool1d",
    .help = "max over windows along T of a sequence [T, C] -> [T_out, C] (PyTorch's MaxPool1d)",
    .keys = pool1d_keys, .n_keys = N_KEYS, .setup = pool1d_setup, .forward = max_pool1d_layer_forward,
    .backward = max_pool1d_layer_backward, .out_length = pool1d_out_length,
    .flops = max_pool_flops,
};

const st_layer_kind_t st_kind_avg_pool1d = {
    .type = "avg_pool1d",
    .help = "mean over windows along T of a sequence [T, C] -> [T_out, C] (PyTorch's AvgPool1d, count_include_pad)",
    .keys = pool1d_keys, .n_keys = N_KEYS, .setup = pool1d_setup, .forward = avg_pool1d_layer_forward,
    .backward = avg_pool1d_layer_backward, .out_length = pool1d_out_length,
    .flops = avg_pool_flops,
};
