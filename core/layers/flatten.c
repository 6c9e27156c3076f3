/* flatten.c — flatten: a sequence [T, C] -> features [T·C] in memory order, i.e. T-major
 * (feature t·C + c is element (t, c)). Since activations are stored channels last, this is a
 * plain copy of the data. NOTE: PyTorch's nn.Flatten of a [B, C, T] tensor is C-major (feature
 * c·T + t), so a dense layer after flatten has its weight columns permuted relative to a PyTorch
 * model of the same architecture. On a rank-1 input [D] it is the identity. No keys. */
#include <string.h>

#include "layer.h"

static st_status_t flatten_setup(st_layer_t *L, st_error_t *err) {
    if (st_shape_numel(L->in_shape) > 0x7fffffffL)
        return st_fail(err, ST_ERR_SHAPE, "%s: flatten of %d x %d elements is too large", L->path,
                       L->in_shape.d[0], L->in_shape.d[1]);
    L->out_shape = st_shape1((int)st_shape_numel(L->in_shape));
    return ST_OK;
}

static void copy_rows(float *dst, const float *src, int B, long n) {
    if (dst == src) return;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) memcpy(dst + (size_t)b * n, src + (size_t)b * n, sizeof(float) * (size_t)n);
}

static void flatten_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    copy_rows(out, in, B, st_shape_numel(L->in_shape));
}

static void flatten_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                             const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (din) copy_rows(din, dout, B, st_shape_numel(L->in_shape));
}

const st_layer_kind_t st_kind_flatten = {
    .type = "flatten",
    .help = "a sequence [T, C] -> features [T*C], T-major (memory order; PyTorch's Flatten of [B, C, T] is C-major); identity on [D]",
    .setup = flatten_setup, .forward = flatten_forward, .backward = flatten_backward,
    .refuses_lengths = 1,
    .flops = st_layer_no_flops,
};
