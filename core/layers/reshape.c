/* reshape.c — reshape: reinterprets a sample's numel(in) floats as another shape ([D] or [T, C])
 * with the same element count, in memory order (so [784] -> [28, 28] makes row t the 28 values
 * 28·t .. 28·t + 27, as torch.reshape of a row-major tensor). The data is copied unchanged; the
 * backward copies the gradient back. Key "shape": a list of one or two positive integers. */
#include <string.h>

#include "layer.h"

enum { K_SHAPE, N_KEYS };
static const st_key_t reshape_keys[N_KEYS] = {
    [K_SHAPE] = {"shape", ST_K_INTS, NULL, 1, 1e9, NULL,
                 "the new per-sample shape, [D] or [T, C], with as many elements as the input"},
};

static st_status_t reshape_setup(st_layer_t *L, st_error_t *err) {
    const st_val_t *v = &L->opt[K_SHAPE];
    char in[48], want[48];
    if (v->n < 1 || v->n > 2)
        return st_fail(err, ST_ERR_CONFIG, "%s.shape: expected [D] or [T, C] (1 or 2 integers), got %d integers",
                       L->path, v->n);
    st_shape_t s = v->n == 1 ? st_shape1((int)v->list[0]) : st_shape2((int)v->list[0], (int)v->list[1]);
    if (st_shape_numel(s) != st_shape_numel(L->in_shape)) {
        st_shape_str(s, want, sizeof want);
        st_shape_str(L->in_shape, in, sizeof in);
        return st_fail(err, ST_ERR_SHAPE, "%s.shape: %s has %.0f elements, the input %s has %ld", L->path, want,
                       v->list[0] * (v->n == 2 ? v->list[1] : 1), in, st_shape_numel(L->in_shape));
    }
    L->out_shape = s;
    return ST_OK;
}

static void copy_rows(float *dst, const float *src, int B, long n) {
    if (dst == src) return;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) memcpy(dst + (size_t)b * n, src + (size_t)b * n, sizeof(float) * (size_t)n);
}

static void reshape_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    copy_rows(out, in, B, st_shape_numel(L->in_shape));
}

static void reshape_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                             const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (din) copy_rows(din, dout, B, st_shape_numel(L->in_shape));
}

const st_layer_kind_t st_kind_reshape = {
    .type = "reshape",
    .help = "the same elements in memory order under a new shape [D] or [T, C] (torch.reshape per sample)",
    .keys = reshape_keys, .n_keys = N_KEYS, .setup = reshape_setup,
    .forward = reshape_forward, .backward = reshape_backward, .refuses_lengths = 1,
    .flops = st_layer_no_flops,
};
