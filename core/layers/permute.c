/* permute.c — permute: swaps time and channels of a sequence, [T, C] -> [C, T]
 * (out[c, t] = in[t, c]), so a following conv1d or pool runs along the former channel axis; the
 * backward is the inverse transpose. No keys; a rank-1 input is an error. */
#include <limits.h>

#include "layer.h"

/* out [B, C, T] = in [B, T, C] transposed per sample. */
static void transpose(float *out, const float *in, int B, int T, int C) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *x = in + (size_t)b * T * C + c;
            float *o = out + ((size_t)b * C + c) * T;
            for (int t = 0; t < T; t++) o[t] = x[(size_t)t * C];
        }
}

static st_status_t permute_setup(st_layer_t *L, st_error_t *err) {
    char got[48];
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: permute needs a sequence input [T, C], got %s", L->path, got);
    }
    L->out_shape = st_shape2(L->in_shape.d[1], L->in_shape.d[0]);
    return ST_OK;
}

static void permute_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    transpose(out, in, B, L->in_shape.d[0], L->in_shape.d[1]);
}

static void permute_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                             const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (din) transpose(din, dout, B, L->in_shape.d[1], L->in_shape.d[0]);
}

const st_layer_kind_t st_kind_permute = {
    .type = "permute",
    .help = "swaps time and channels of a sequence: [T, C] -> [C, T]",
    .setup = permute_setup, .forward = permute_forward, .backward = permute_backward,
    .refuses_lengths = 1,
    .flops = st_layer_no_flops,
};
