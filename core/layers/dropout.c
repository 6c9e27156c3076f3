/* dropout.c — inverted dropout. Training draws the keep-mask from Philox keyed by (seed, layer,
 * step, sample id) (see dropout.h for the exact recipe), multiplies by it and keeps it, as scale
 * factors 0 or 1/(1-rate), in per-sample scratch for the backward pass. Evaluation is the
 * identity. */
#include "dropout.h"

#include <math.h>
#include <string.h>

#include "layer.h"
#include "philox.h"
#include "simd.h"

/* What one sample's mask is drawn from (see dropout.h). */
typedef struct {
    uint32_t k0, k1, step, top; /* Philox key and the counter words shared by all blocks */
    uint32_t threshold;         /* kept iff (word >> 8) >= threshold */
    float scale;                /* 1/(1-rate) */
} mask_recipe_t;

static mask_recipe_t recipe_of(uint64_t seed, uint32_t layer_index, uint32_t step, double rate) {
    /* u >= rate  <=>  (w >> 8) >= rate·2^24  <=>  (w >> 8) >= ceil(rate·2^24): exact, rate < 1 */
    return (mask_recipe_t){(uint32_t)seed, (uint32_t)(seed >> 32), step,
                           ((uint32_t)ST_RNG_DROPOUT << 24) | (layer_index & 0xFFFFFFu),
                           (uint32_t)ceil(rate * 16777216.0), (float)(1.0 / (1.0 - rate))};
}

/* The mask of one sample, mask[0..n): element j takes word j%4 of Philox block `first + j/4` and
 * is kept (value scale) when the word's top 24 bits are >= threshold, i.e. when the uniform
 * (w >> 8)·2^-24 is >= rate. Blocks are drawn ST_PHILOX_LANES at a time. With in and out
 * (both [n]) it also applies the mask in the same pass: out = in · mask. */
ST_CLONES static void mask_row(float *restrict mask, float *out, const float *in, long n,
                               uint64_t first, mask_recipe_t rc) {
    const uint32_t k0 = rc.k0, k1 = rc.k1, step = rc.step, top = rc.top, threshold = rc.threshold;
    const float scale = rc.scale;
    enum { L = ST_PHILOX_LANES };
    for (long j0 = 0; j0 < n; j0 += 4 * L) {
        uint32_t c0[L], c1[L], c2[L], c3[L];
        for (int i = 0; i < L; i++) {
            uint64_t idx = first + (uint64_t)(j0 / 4 + i);
            c0[i] = (uint32_t)idx, c1[i] = (uint32_t)(idx >> 32), c2[i] = step, c3[i] = top;
        }
        st_philox4x32_10_lanes(c0, c1, c2, c3, k0, k1);
        float m[4 * L];
        for (int i = 0; i < L; i++) {
            m[4 * i + 0] = (c0[i] >> 8) >= threshold ? scale : 0.0f;
            m[4 * i + 1] = (c1[i] >> 8) >= threshold ? scale : 0.0f;
            m[4 * i + 2] = (c2[i] >> 8) >= threshold ? scale : 0.0f;
            m[4 * i + 3] = (c3[i] >> 8) >= threshold ? scale : 0.0f;
        }
        long len = n - j0 < 4L * L ? n - j0 : 4L * L;
        memcpy(mask + j0, m, sizeof(float) * (size_t)len);
        if (in)
            for (long j = 0; j < len; j++) out[j0 + j] = in[j0 + j] * m[j];
    }
}

void st_dropout_mask(float *mask, const int64_t *sample_index, uint64_t seed, uint32_t layer_index,
                     uint32_t step, double rate, int B, long n) {
    st_dropout_forward_train(NULL, mask, NULL, sample_index, seed, layer_index, step, rate, B, n);
}

void st_dropout_forward_train(float *out, float *mask, const float *in, const int64_t *sample_index, uint64_t seed,
                              uint32_t layer_index, uint32_t step, double rate, int B, long n) {
    st_dropout_forward_train_keyed(out, mask, in, sample_index, seed, layer_index, step, rate, B, n, n);
}

void st_dropout_forward_train_keyed(float *out, float *mask, const float *in, const int64_t *sample_index,
                                    uint64_t seed, uint32_t layer_index, uint32_t step, double rate, int B, long n,
                                    long n_key) {
    uint64_t q = (uint64_t)(n_key + 3) / 4; /* Philox blocks per sample */
    mask_recipe_t rc = recipe_of(seed, layer_index, step, rate);
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        uint64_t s = sample_index ? (uint64_t)sample_index[b] : (uint64_t)b;
        size_t row = (size_t)b * (size_t)n;
        mask_row(mask + row, in ? out + row : NULL, in ? in + row : NULL, n, s * q, rc);
    }
}

ST_CLONES static void multiply_span(float *restrict out, const float *restrict in, const float *restrict mask, long n) {
    for (long i = 0; i < n; i++) out[i] = in[i] * mask[i];
}

void st_dropout_forward(float *restrict out, const float *restrict in, const float *restrict mask, long count) {
    ST_PARALLEL_SPANS(count, multiply_span(out + i0, in + i0, mask + i0, i1 - i0));
}

void st_dropout_backward(float *restrict din, const float *restrict dout, const float *restrict mask, long count) {
    ST_PARALLEL_SPANS(count, multiply_span(din + i0, dout + i0, mask + i0, i1 - i0));
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
    /* keyed by the built shape, so a sample's mask does not depend on its batch's positions */
    st_dropout_forward_train_keyed(out, L->scratch, in, ctx->sample_index, ctx->seed, (uint32_t)L->index, ctx->step,
                                   L->opt[K_RATE].num, B, n,
                                   st_shape_numel(L->in_max) > n ? st_shape_numel(L->in_max) : n);
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

/* One multiply per element forward (the mask; drawing it is not counted) and one for din. */
static void dropout_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double n = (double)st_shape_numel(L->in_max);
    f->forward = n, f->backward_input = n, f->backward_rest = 0;
}

const st_layer_kind_t st_kind_dropout = {
    .type = "dropout",
    .help = "inverted dropout: zeroes elements with probability rate in training (Philox masks keyed by seed, layer, step and sample); identity in evaluation",
    .keys = dropout_keys, .n_keys = N_KEYS, .setup = dropout_setup, .forward = dropout_layer_forward,
    .backward = dropout_layer_backward,
    .flops = dropout_flops,
};
