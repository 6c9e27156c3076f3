/* rnn_layer.h — what the recurrent layer kinds (lstm, gru) share: their JSON keys, the checks and
 * parameter declarations of setup (PyTorch's names: weight_ih_l0, weight_hh_l0, bias_ih_l0,
 * bias_hh_l0, then the _reverse ones), PyTorch's U(±1/sqrt(H)) init, and where each direction's
 * output, parameters and working memory are. */
#ifndef ST_RNN_LAYER_H
#define ST_RNN_LAYER_H

#include <stdint.h>
#include <string.h>

#include "layer.h"

typedef struct {
    int T, C, H;          /* input [T, C], H units per direction */
    int reverse;          /* 0: t = 0 .. T−1; 1: t = T−1 .. 0 */
    const int32_t *len;   /* [B] valid steps of each row, or NULL (all T): a row's steps at or past
                             its length leave the state as it was (PyTorch's packed sequences: the
                             forward direction's final state is the one at len − 1, the reverse
                             direction starts at len − 1 from zeros) */
} st_rnn_dims_t;

/* 1 when step t of row b is past the row's length (its state is carried, not updated). */
static inline int st_rnn_frozen(const st_rnn_dims_t *d, int b, int t) { return d->len && t >= d->len[b]; }

/* One direction of a layer for a batch of B (the rows' lengths from ctx->len_in): dims, where its hidden states go in the output
 * (out + dir·H, rows bstride apart, steps tstride apart; tstride 0 = only the final state), its
 * four tensors (weight_ih, weight_hh, bias_ih, bias_hh) and its working memory. */
typedef struct {
    st_rnn_dims_t d;
    long out_offset, bstride, tstride;
    st_tensor_view_t *P;
    float *work;
} st_rnn_dir_t;

enum { ST_RNN_W_IH, ST_RNN_W_HH, ST_RNN_B_IH, ST_RNN_B_HH, ST_RNN_TENSORS };

extern const st_key_t st_rnn_keys[3];
#define ST_RNN_N_KEYS 3

/* Checks the input is [T, C], sets out_shape, declares the tensors of `gates`·H rows per
 * direction and scratch_floats(T, H) floats of scratch per sample and direction. */
st_status_t st_rnn_setup(st_layer_t *L, const char *type, int gates, long (*scratch_floats)(int T, int H),
                         st_error_t *err);
void st_rnn_init(st_layer_t *L, uint64_t seed);
int st_rnn_dirs(const st_layer_t *L);
/* The cost rule of a recurrent kind with `gates`·H gate rows and a cell of `cell` FLOPs per unit
 * and step, per direction over T steps of [T, C]: forward 2·T·G·(C + H) + cell·T·H; din 2·T·G·C;
 * the rest 2·T·G·(C + 2H) (dW_ih, dW_hh, dh_prev) + 2·T·G (both bias gradients) + 2·cell·T·H
 * (the cell's backward), G = gates·H. */
void st_rnn_flops(const st_layer_t *L, int gates, int cell, st_layer_flops_t *f);
st_rnn_dir_t st_rnn_dir(st_layer_t *L, const st_run_ctx_t *ctx, int dir, int B,
                        long (*scratch_floats)(int T, int H));

/* exp, σ and tanh for the gate math, in plain arithmetic that GCC vectorises (libm's expf and
 * tanhf are scalar calls and took half the non-GEMM time). exp: Cephes' expf (range reduction by
 * ln 2 in two parts, degree-6 polynomial; within 2 ulp on [−87, 88], input clamped there);
 * tanh: Cephes' odd polynomial for |x| < 0.625, 1 − 2/(e^{2x} + 1) beyond (within a few ulp).
 * The same operations on every element, so results do not depend on the vector width. */
static inline float st_rnn_expf(float x) {
    x = x > 88.3f ? 88.3f : x;
    x = x < -87.3f ? -87.3f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n in [−126, 128) */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float st_rnn_sigmoid(float x) { return 1.0f / (1.0f + st_rnn_expf(-x)); }

static inline float st_rnn_tanh(float x) {
    float z = x * x, p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x, large = 1.0f - 2.0f / (st_rnn_expf(2.0f * x) + 1.0f);
    return __builtin_fabsf(x) < 0.625f ? small : large;
}

#endif
