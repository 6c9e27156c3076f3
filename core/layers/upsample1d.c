/* upsample1d.c — upsample1d: repeats (nearest) or interpolates (linear) a sequence [T, C] along
 * T by an integer scale, matching PyTorch's nn.Upsample with align_corners=False: output
 * position to reads src = (to + 0.5)·(1/scale) − 0.5 clamped at 0, i0 = floor(src),
 * i1 = min(i0 + 1, T − 1), out = (1 − λ)·x[i0] + λ·x[i1] with λ = src − i0 (float math as
 * PyTorch's CPU kernel); nearest reads x[floor(to / scale)]. The backward scatters each output's
 * gradient back to its one or two sources, output positions in order, one sample per thread.
 * Variable lengths: a row of len positions gives len·scale, and linear clamps at its own last
 * position (len − 1), as the row alone would. */
#include "upsample1d.h"

#include <limits.h>
#include <string.h>

#include "layer.h"

/* The positions row b interpolates within: its length (variable lengths), else T. */
static inline int row_positions(const int32_t *len, int b, int T) {
    return !len || len[b] > T ? T : len[b] < 1 ? 1 : len[b];
}

/* Sources and weights of output position `to` (linear mode). */
static void linear_taps(int to, int T, int scale, int *i0, int *i1, float *l0, float *l1) {
    const float inv = (float)(1.0 / scale);
    float src = inv * ((float)to + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int)src;
    if (*i0 > T - 1) *i0 = T - 1;
    *i1 = *i0 < T - 1 ? *i0 + 1 : *i0;
    *l1 = src - (float)*i0;
    *l0 = 1.0f - *l1;
}

void st_upsample1d_forward(float *out, const float *in, const int32_t *len, int linear, int B, int T, int C,
                           int scale) {
    const int T_out = T * scale;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int to = 0; to < T_out; to++) {
            float *o = out + ((size_t)b * T_out + to) * C;
            if (!linear) {
                memcpy(o, in + ((size_t)b * T + to / scale) * C, sizeof(float) * C);
                continue;
            }
            int i0, i1;
            float l0, l1;
            linear_taps(to, row_positions(len, b, T), scale, &i0, &i1, &l0, &l1);
            const float *x0 = in + ((size_t)b * T + i0) * C, *x1 = in + ((size_t)b * T + i1) * C;
            for (int c = 0; c < C; c++) o[c] = l0 * x0[c] + l1 * x1[c];
        }
}

void st_upsample1d_backward(float *din, const float *dout, const int32_t *len, int linear, int B, int T, int C,
                            int scale) {
    const int T_out = T * scale;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *dx = din + (size_t)b * T * C;
        memset(dx, 0, sizeof(float) * (size_t)T * C);
        for (int to = 0; to < T_out; to++) {
            const float *g = dout + ((size_t)b * T_out + to) * C;
            if (!linear) {
                float *d = dx + (size_t)(to / scale) * C;
                for (int c = 0; c < C; c++) d[c] += g[c];
                continue;
            }
            int i0, i1;
            float l0, l1;
            linear_taps(to, row_positions(len, b, T), scale, &i0, &i1, &l0, &l1);
            float *d0 = dx + (size_t)i0 * C, *d1 = dx + (size_t)i1 * C;
            for (int c = 0; c < C; c++) d0[c] += l0 * g[c];
            for (int c = 0; c < C; c++) d1[c] += l1 * g[c];
        }
    }
}

/* ---- layer kind ---- */

enum { K_SCALE, K_MODE, N_KEYS };
static const st_key_t upsample_keys[N_KEYS] = {
    [K_SCALE] = {"scale", ST_K_INT, NULL, 1, 1e15, NULL, "integer factor: T -> T * scale"},
    [K_MODE] = {"mode", ST_K_ENUM, "\"nearest\"", 0, 0, "nearest|linear",
                "nearest repeats each position; linear interpolates (PyTorch's align_corners=False)"},
};

static st_status_t upsample_setup(st_layer_t *L, st_error_t *err) {
    char got[48];
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: upsample1d needs a sequence input [T, C], got %s", L->path, got);
    }
    const double T_out = (double)L->in_shape.d[0] * (double)L->opt[K_SCALE].i;
    if (T_out * L->in_shape.d[1] > INT_MAX)
        return st_fail(err, ST_ERR_SHAPE, "%s: upsample1d output [%.0f, %d] is too large", L->path, T_out,
                       L->in_shape.d[1]);
    L->out_shape = st_shape2((int)T_out, L->in_shape.d[1]);
    return ST_OK;
}

static int is_linear(const st_layer_t *L) { return strcmp(L->opt[K_MODE].s, "linear") == 0; }

static void upsample_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    st_upsample1d_forward(out, in, ctx->len_in, is_linear(L), B, L->in_shape.d[0], L->in_shape.d[1], (int)L->opt[K_SCALE].i);
}

static void upsample_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                    const float *in, const float *out, int B) {
    (void)in, (void)out;
    if (din)
        st_upsample1d_backward(din, dout, ctx->len_in, is_linear(L), B, L->in_shape.d[0], L->in_shape.d[1],
                               (int)L->opt[K_SCALE].i);
}

static int upsample_out_length(const st_layer_t *L, int len) { return (int)(len * L->opt[K_SCALE].i); }

/* [T, C] -> [T_out, C]: nearest copies forward (0) and sums the copies for din (T_out·C);
 * linear blends two positions (3 per output) both ways (3·T_out·C). */
static void upsample_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double n = (double)st_shape_numel(L->out_max);
    f->forward = is_linear(L) ? 3 * n : 0, f->backward_input = is_linear(L) ? 3 * n : n, f->backward_rest = 0;
}

const st_layer_kind_t st_kind_upsample1d = {
    .type = "upsample1d",
    .help = "upsampling along T of a sequence [T, C] -> [T*scale, C], nearest or linear (PyTorch's Upsample, align_corners=False)",
    .keys = upsample_keys, .n_keys = N_KEYS, .setup = upsample_setup,
    .forward = upsample_layer_forward, .backward = upsample_layer_backward, .out_length = upsample_out_length,
    .flops = upsample_flops,
};
