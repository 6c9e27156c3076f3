/* global_pool.c — global_avg_pool and global_max_pool: a sequence [T, C] -> features [C], the
 * usual bridge from convolutional blocks to dense heads. Sums run over t in order; max keeps the
 * first maximum (a NaN wins, as torch.max / AdaptiveMaxPool1d) and saves its position in the
 * layer's scratch for the backward pass. Threads split samples and channels, never t. With
 * variable lengths (len, or NULL) a row pools its first len[b] positions only (an empty row
 * gives 0). */
#include "global_pool.h"

#include <math.h>
#include <string.h>

#include "layer.h"

/* Valid positions of row b: len[b] clamped to 0 .. T (T without lengths). */
static inline int valid_of(const int32_t *len, int b, int T) {
    return !len ? T : len[b] < 0 ? 0 : len[b] > T ? T : len[b];
}

void st_global_avg_pool_forward(float *out, const float *in, const int32_t *len, int B, int T, int C) {
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const int n = valid_of(len, b, T);
        const float inv_n = n > 0 ? 1.0f / (float)n : 0.0f;
        const float *x = in + (size_t)b * T * C;
        float *o = out + (size_t)b * C;
        for (int c = 0; c < C; c++) o[c] = 0.0f;
        for (int t = 0; t < n; t++)
            for (int c = 0; c < C; c++) o[c] += x[(size_t)t * C + c];
        for (int c = 0; c < C; c++) o[c] *= inv_n;
    }
}

void st_global_avg_pool_backward(float *din, const float *dout, const int32_t *len, int B, int T, int C) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const int n = valid_of(len, b, T);
            const float inv_n = t < n ? 1.0f / (float)n : 0.0f;
            const float *g = dout + (size_t)b * C;
            float *dx = din + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) dx[c] = g[c] * inv_n;
        }
}

void st_global_max_pool_forward(float *out, int32_t *argmax, const float *in, const int32_t *len, int B, int T,
                                int C) {
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const int n = valid_of(len, b, T);
        const float *x = in + (size_t)b * T * C;
        float *o = out + (size_t)b * C;
        int32_t *a = argmax + (size_t)b * C;
        for (int c = 0; c < C; c++) o[c] = n > 0 ? x[c] : 0.0f, a[c] = n > 0 ? 0 : -1;
        for (int t = 1; t < n; t++)
            for (int c = 0; c < C; c++) {
                float v = x[(size_t)t * C + c];
                if (v > o[c] || isnan(v)) o[c] = v, a[c] = t;
            }
    }
}

void st_global_max_pool_backward(float *din, const float *dout, const int32_t *argmax, int B, int T, int C) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *g = dout + (size_t)b * C;
            const int32_t *a = argmax + (size_t)b * C;
            float *dx = din + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) dx[c] = a[c] == t ? g[c] : 0.0f;
        }
}

/* ---- layer kinds (no keys) ---- */

static st_status_t global_pool_setup(st_layer_t *L, st_error_t *err) {
    if (L->in_shape.rank != 2) {
        char got[48];
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: %s needs a sequence input [T, C], got %s", L->path,
                       L->kind->type, got);
    }
    L->out_shape = st_shape1(L->in_shape.d[1]);
    if (strcmp(L->kind->type, "global_max_pool") == 0) L->scratch_per_sample = L->in_shape.d[1];
    return ST_OK;
}

static void gavg_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    st_global_avg_pool_forward(out, in, ctx->len_in, B, L->in_shape.d[0], L->in_shape.d[1]);
}

static void gavg_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                          const float *in, const float *out, int B) {
    (void)in, (void)out;
    if (din) st_global_avg_pool_backward(din, dout, ctx->len_in, B, L->in_shape.d[0], L->in_shape.d[1]);
}

static void gmax_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    st_global_max_pool_forward(out, (int32_t *)L->scratch, in, ctx->len_in, B, L->in_shape.d[0], L->in_shape.d[1]);
}

static void gmax_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                          const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (din)
        st_global_max_pool_backward(din, dout, (const int32_t *)L->scratch, B, L->in_shape.d[0], L->in_shape.d[1]);
}

/* [T, C] -> [C]: forward T·C adds + C divisions; din T·C (dy/T to every position). */
static void gavg_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double n = (double)st_shape_numel(L->in_max);
    f->forward = n + L->in_max.d[1], f->backward_input = n, f->backward_rest = 0;
}

/* [T, C] -> [C]: forward T·C comparisons; din routes dy to the argmax (0). */
static void gmax_flops(const st_layer_t *L, st_layer_flops_t *f) {
    f->forward = (double)st_shape_numel(L->in_max), f->backward_input = 0, f->backward_rest = 0;
}

const st_layer_kind_t st_kind_global_avg_pool = {
    .type = "global_avg_pool",
    .help = "mean over T: a sequence [T, C] -> features [C]",
    .setup = global_pool_setup, .forward = gavg_forward, .backward = gavg_backward,
    .flops = gavg_flops,
};

const st_layer_kind_t st_kind_global_max_pool = {
    .type = "global_max_pool",
    .help = "max over T: a sequence [T, C] -> features [C]",
    .setup = global_pool_setup, .forward = gmax_forward, .backward = gmax_backward,
    .flops = gmax_flops,
};
