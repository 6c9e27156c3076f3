/* dropout.c — inverted dropout. Training draws the keep-mask from Philox keyed by (seed, layer,
 * step, sample id) (see dropout.h for the exact recipe), multiplies by it and keeps it, as scale
 * factors 0 or 1/(1-rate), in per-sample scratch for the backward pass. Evaluation is the
 * identity. */
#include "dropout.h"

#include <string.h>

#include "layer.h"
#include "philox.h"

void st_dropout_mask(float *mask, const int64_t *sample_index, uint64_t seed, uint32_t layer_index,
                     uint32_t step, double rate, int B, long n) {
    long q = (n + 3) / 4, chunks = (q + 7) / 8; /* blocks of four elements, eight blocks a chunk */
    float scale = (float)(1.0 / (1.0 - rate));
    #pragma omp parallel for schedule(static)
    for (long t = 0; t < (long)B * chunks; t++) {
        long b = t / chunks, k0 = 8 * (t % chunks);
        uint64_t s = sample_index ? (uint64_t)sample_index[b] : (uint64_t)b;
        uint32_t w[32];
        st_rand_u32x4_x8(seed, ST_RNG_DROPOUT, layer_index, step, s * (uint64_t)q + (uint64_t)k0, w);
        long j0 = 4 * k0, j1 = j0 + 32 < n ? j0 + 32 : n;
        for (long j = j0; j < j1; j++) mask[b * n + j] = (double)st_u32_to_unit(w[j - j0]) >= rate ? scale : 0.0f;
    }
}

void st_dropout_forward(float *restrict out, const float *restrict in, const float *restrict mask, long count) {
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < count; i++) out[i] = in[i] * mask[i];
}

void st_dropout_backward(float *restrict din, const float *restrict dout, const float *restrict mask, long count) {
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < count; i++) din[i] = dout[i] * mask[i];
}

/* ---- layer kind ---- */

enum { K_RATE, N_KEYS };
static const st_key_t dropout_keys[N_KEYS] = {
    [K_RATE] = {"rate", ST_K_NUM, "0.5", 0, 1, NULL,
                "probability of zeroing an element in training, in [0, 1); kept elements are scaled by 1/(1-rate)"},
};

static st_status_t dropout_setup(st_layer_t *L, st_error_t *err) {
    double rate = L->opt[K_RATE].num;
    if (!(rate < 1.0))
        return st_fail(err, ST_ERR_CONFIG, "%s.rate: expected a number in [0, 1), got %g", L->path, rate);
    L->out_shape = L->in_shape;
    L->scratch_per_sample = st_shape_numel(L->in_shape); /* the mask */
    return ST_OK;
}

static void dropout_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    long n = st_shape_numel(L->in_shape);
    if (!ctx->training) {
        if (out != in) memcpy(out, in, sizeof(float) * (size_t)B * n);
        return;
    }
    st_dropout_mask(L->scratch, ctx->sample_index, ctx->seed, (uint32_t)L->index, ctx->step,
                    L->opt[K_RATE].num, B, n);
    st_dropout_forward(out, in, L->scratch, (long)B * n);
}

static void dropout_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                   const float *in, const float *out, int B) {
    (void)in, (void)out;
    long n = st_shape_numel(L->in_shape);
    if (!din) return;
    if (!ctx->training) {
        if (din != dout) memcpy(din, dout, sizeof(float) * (size_t)B * n);
        return;
    }
    st_dropout_backward(din, dout, L->scratch, (long)B * n);
}

const st_layer_kind_t st_kind_dropout = {
    "dropout", "inverted dropout: zeroes elements with probability rate in training (Philox masks keyed by seed, layer, step and sample); identity in evaluation",
    dropout_keys, N_KEYS, dropout_setup, NULL, dropout_layer_forward, dropout_layer_backward,
};
