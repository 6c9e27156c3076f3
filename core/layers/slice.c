/* slice.c — the slice layer: columns from..to-1 of the last dimension (features of [D], channels
 * of [T, C]; rows are samples or sample positions). A pure copy: no parameters; backward puts
 * dout back in place and zeros the columns the slice did not read. */
#include "slice.h"

#include <string.h>

#include "layer.h"

void st_slice_forward(float *out, const float *in, int from, int to, int M, int C) {
    int w = to - from;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) memcpy(out + (size_t)m * w, in + (size_t)m * C + from, sizeof(float) * w);
}

void st_slice_backward(float *din, const float *dout, int from, int to, int M, int C) {
    int w = to - from;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        float *row = din + (size_t)m * C;
        memset(row, 0, sizeof(float) * C);
        memcpy(row + from, dout + (size_t)m * w, sizeof(float) * w);
    }
}

/* ---- layer kind ---- */

enum { K_FROM, K_TO, N_KEYS };
static const st_key_t slice_keys[N_KEYS] = {
    [K_FROM] = {"from", ST_K_INT, NULL, 0, 1e15, NULL, "first column taken (0-based)"},
    [K_TO] = {"to", ST_K_INT, NULL, 1, 1e15, NULL, "one past the last column taken (exclusive, like Python)"},
};

static st_status_t slice_setup(st_layer_t *L, st_error_t *err) {
    long from = L->opt[K_FROM].i, to = L->opt[K_TO].i;
    int C = st_shape_channels(L->in_shape);
    char s[48];
    st_shape_str(L->in_shape, s, sizeof s);
    if (from >= to)
        return st_fail(err, ST_ERR_CONFIG, "%s.to: %ld is not after from = %ld; a slice takes the columns from..to-1, "
                       "so from < to", L->path, to, from);
    if (to > C)
        return st_fail(err, ST_ERR_SHAPE, "%s.to: %ld is beyond the input's %d columns (input %s); expected from < to <= %d",
                       L->path, to, C, s, C);
    int w = (int)(to - from);
    L->out_shape = L->in_shape.rank == 1 ? st_shape1(w) : st_shape2(L->in_shape.d[0], w);
    return ST_OK;
}

static void slice_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    st_slice_forward(out, in, (int)L->opt[K_FROM].i, (int)L->opt[K_TO].i, B * st_shape_positions(L->in_shape),
                     st_shape_channels(L->in_shape));
}

static void slice_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                 const float *in, const float *out, int B) {
    (void)ctx, (void)in, (void)out;
    if (din)
        st_slice_backward(din, dout, (int)L->opt[K_FROM].i, (int)L->opt[K_TO].i, B * st_shape_positions(L->in_shape),
                          st_shape_channels(L->in_shape));
}

const st_layer_kind_t st_kind_slice = {
    .type = "slice",
    .help = "columns from..to-1 of [D] (0-based, to exclusive, like Python); of a sequence [T, C], the channels; "
            "lets parallel branches read different column ranges",
    .keys = slice_keys, .n_keys = N_KEYS, .setup = slice_setup, .forward = slice_layer_forward,
    .backward = slice_layer_backward,
    .flops = st_layer_no_flops,
};
