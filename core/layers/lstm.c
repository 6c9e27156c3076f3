/* lstm.c — the lstm layer: PyTorch's nn.LSTM (one layer, batch_first, zero initial state),
 * optionally bidirectional, returning every step's hidden state or the final ones.
 *
 * Buffers are batch-major so that the input projection of all B·T rows is one GEMM and the
 * step-t slices ([B, ·] rows at stride T·width) feed the per-step recurrent GEMM directly.
 * hprev keeps the state each step read, so dW_hh is one GEMM over all rows in the backward
 * pass. The output of a direction is written with strides: out[b, t, dir·H + j] for sequences,
 * out[b, dir·H + j] (forward's final state, then the reverse one's) for final states. */
/* The gate loops only vectorise when comparisons may be assumed not to trap (the selects in
 * st_rnn_expf / st_rnn_tanh); values are the same either way. */
#pragma GCC optimize("no-trapping-math")

#include "lstm.h"

#include "gemm.h"
#include <string.h>

#include "bias.h"
#include "rnn_layer.h"
#include "simd.h"

long st_lstm_scratch_floats(int T, int H) { return 2L * T * 4 * H + 2L * T * H + 2L * H; }

void st_lstm_work_bind(st_lstm_work_t *w, float *mem, int B, int T, int H) {
    const size_t BT = (size_t)B * T;
    w->gates = mem;
    w->dgates = w->gates + BT * 4 * H;
    w->c = w->dgates + BT * 4 * H;
    w->hprev = w->c + BT * H;
    w->dh = w->hprev + BT * H;
    w->dc = w->dh + (size_t)B * H;
}

/* One sample's cell at one step: g [4H] the GEMMs' pre-activations in (the biases b [4H] = b_ih
 * + b_hh are added here, saving a pass over all gates), activated gates out;
 * c [H] = f·c_prev + i·g (has_prev 0: zero state), h [H] = o·tanh(c). Inlined with a constant
 * has_prev, so the loop has no branch and vectorises. */
static inline __attribute__((always_inline)) void cell_forward_impl(float *restrict g, float *restrict c,
                                                                    float *restrict h, const float *restrict c_prev,
                                                                    int has_prev, const float *restrict b_ih,
                                                                    const float *restrict b_hh, int H) {
#define PRE(k) (g[k] + (b_ih[k] + b_hh[k]))
    for (int j = 0; j < H; j++) {
        float i = st_rnn_sigmoid(PRE(j)), f = st_rnn_sigmoid(PRE(H + j));
        float gg = st_rnn_tanh(PRE(2 * H + j)), o = st_rnn_sigmoid(PRE(3 * H + j));
#undef PRE
        g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
        c[j] = f * (has_prev ? c_prev[j] : 0.0f) + i * gg;
        h[j] = o * st_rnn_tanh(c[j]);
    }
}

ST_CLONES static void cell_forward(float *g, float *c, float *h, const float *c_prev, const float *b_ih,
                                   const float *b_hh, int H) {
    if (c_prev) cell_forward_impl(g, c, h, c_prev, 1, b_ih, b_hh, H);
    else cell_forward_impl(g, c, h, NULL, 0, b_ih, b_hh, H);
}

/* A step past the row's length: the state is carried (c = c_prev, h = h_prev) and the gates
 * stored as i = 0, f = 1, g = 0, o = 0, so the cell's backward gives zero gate gradients and
 * passes dc through unchanged (dh is carried by st_lstm_backward). */
static void cell_carry(float *g, float *c, float *h, const float *c_prev, const float *h_prev, int H) {
    for (int j = 0; j < H; j++) {
        g[j] = 0.0f, g[H + j] = 1.0f, g[2 * H + j] = 0.0f, g[3 * H + j] = 0.0f;
        c[j] = c_prev ? c_prev[j] : 0.0f;
        h[j] = h_prev[j];
    }
}

void st_lstm_forward(float *hs, long hs_bstride, long hs_tstride, st_lstm_work_t *w, const float *in,
                     const float *W_ih, const float *W_hh, const float *b_ih, const float *b_hh,
                     const st_rnn_dims_t *d, int B) {
    const int T = d->T, C = d->C, H = d->H, G = 4 * H;
    const long M = (long)B * T;
    float one = 1.0f, zero = 0.0f;
    /* gates [B·T, 4H] = in [B·T, C] · W_ihᵀ (the biases are added in the cell) */
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, G, C, &one, (float *)in, C, 1, (float *)W_ih, C, 1, &zero,
              w->gates, G, 1);
    for (int s = 0; s < T; s++) {
        const int t = d->reverse ? T - 1 - s : s, step = d->reverse ? -1 : 1;
        float *g_t = w->gates + (size_t)t * G, *hp_t = w->hprev + (size_t)t * H;
        if (s == 0) {
            for (int b = 0; b < B; b++) memset(hp_t + (size_t)b * T * H, 0, sizeof(float) * H);
        } else {
            /* gates[:, t] [B, 4H] += hprev[:, t] [B, H] · W_hhᵀ (rows T·4H and T·H apart) */
            st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, B, G, H, &one, hp_t, (inc_t)T * H, 1, (float *)W_hh, H, 1,
                      &one, g_t, (inc_t)T * G, 1);
        }
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            float *c_b = w->c + (size_t)b * T * H, *h = hs + b * hs_bstride + t * hs_tstride;
            const float *c_prev = s ? c_b + (size_t)(t - step) * H : NULL;
            if (st_rnn_frozen(d, b, t)) cell_carry(g_t + (size_t)b * T * G, c_b + (size_t)t * H, h, c_prev,
                                                   hp_t + (size_t)b * T * H, H);
            else cell_forward(g_t + (size_t)b * T * G, c_b + (size_t)t * H, h, c_prev, b_ih, b_hh, H);
            if (s + 1 < T) memcpy(w->hprev + ((size_t)b * T + t + step) * H, h, sizeof(float) * H);
        }
    }
}

/* One sample's cell backward at one step: dh [H] (dL/dh_t, without the carried part, which is in
 * dh_carry) and the carried dc [H] in, pre-activation gradients dg [4H] out; dc becomes
 * dL/dc_prev. a [4H] activated gates, c [H], c_prev [H] or NULL. Inlined with constant flags
 * for dh and c_prev (a branch-free loop). */
static inline __attribute__((always_inline)) void cell_backward_impl(
    float *restrict dg, float *restrict dc, const float *restrict dh_carry, const float *restrict dh, int has_dh,
    const float *restrict a, const float *restrict c, const float *restrict c_prev, int has_prev, int H) {
    for (int j = 0; j < H; j++) {
        float i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j];
        float dhj = dh_carry[j] + (has_dh ? dh[j] : 0.0f), tc = st_rnn_tanh(c[j]);
        float dcj = dc[j] + dhj * o * (1.0f - tc * tc);
        dg[j] = dcj * gg * i * (1.0f - i);
        dg[H + j] = dcj * (has_prev ? c_prev[j] : 0.0f) * f * (1.0f - f);
        dg[2 * H + j] = dcj * i * (1.0f - gg * gg);
        dg[3 * H + j] = dhj * tc * o * (1.0f - o);
        dc[j] = dcj * f;
    }
}

ST_CLONES static void cell_backward(float *dg, float *dc, const float *dh_carry, const float *dh, const float *a,
                                    const float *c, const float *c_prev, int H) {
    if (dh && c_prev) cell_backward_impl(dg, dc, dh_carry, dh, 1, a, c, c_prev, 1, H);
    else if (dh) cell_backward_impl(dg, dc, dh_carry, dh, 1, a, c, NULL, 0, H);
    else if (c_prev) cell_backward_impl(dg, dc, dh_carry, NULL, 0, a, c, c_prev, 1, H);
    else cell_backward_impl(dg, dc, dh_carry, NULL, 0, a, c, NULL, 0, H);
}

void st_lstm_backward(float *din, int accumulate_din, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh,
                      st_lstm_work_t *w, const float *dhs, long hs_bstride, long hs_tstride, const float *in,
                      const float *W_ih, const float *W_hh, const st_rnn_dims_t *d, int B) {
    const int T = d->T, C = d->C, H = d->H, G = 4 * H;
    const long M = (long)B * T;
    float one = 1.0f, zero = 0.0f;
    memset(w->dh, 0, sizeof(float) * B * H);
    memset(w->dc, 0, sizeof(float) * B * H);
    for (int s = T - 1; s >= 0; s--) {
        const int t = d->reverse ? T - 1 - s : s, step = d->reverse ? -1 : 1;
        const int has_dout = hs_tstride != 0 || s == T - 1;
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            const size_t row = (size_t)b * T + t;
            const float *c_b = w->c + (size_t)b * T * H;
            const float *dh_out = has_dout ? dhs + b * hs_bstride + t * hs_tstride : NULL;
            float *dh_b = w->dh + (size_t)b * H;
            cell_backward(w->dgates + row * G, w->dc + (size_t)b * H, dh_b, dh_out, w->gates + row * G,
                          c_b + (size_t)t * H, s ? c_b + (size_t)(t - step) * H : NULL, H);
            /* with lengths the GEMM below adds into dh: a carried step keeps dL/dh_t for h_prev,
               an updated one starts from 0 */
            if (st_rnn_frozen(d, b, t)) {
                if (dh_out)
                    for (int j = 0; j < H; j++) dh_b[j] += dh_out[j];
            } else if (d->len) memset(dh_b, 0, sizeof(float) * H);
        }
        /* dh [B, H] (+)= dgates[:, t] [B, 4H] · W_hh [4H, H]: dL/dh_prev */
        if (s > 0)
            st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, B, H, G, &one, w->dgates + (size_t)t * G, (inc_t)T * G, 1,
                      (float *)W_hh, H, 1, d->len ? &one : &zero, w->dh, H, 1);
    }
    /* dW_ih [4H, C] += dGᵀ [4H, B·T] · in [B·T, C];  dW_hh [4H, H] += dGᵀ · hprev [B·T, H] */
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, G, C, M, &one, w->dgates, G, 1, (float *)in, C, 1, &one, dW_ih, C, 1);
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, G, H, M, &one, w->dgates, G, 1, w->hprev, H, 1, &one, dW_hh, H, 1);
    st_bias_grad_add(db_ih, w->dgates, M, G);
    st_bias_grad_add(db_hh, w->dgates, M, G);
    /* din [B·T, C] (+)= dG [B·T, 4H] · W_ih [4H, C] */
    if (din)
        st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, C, G, &one, w->dgates, G, 1, (float *)W_ih, C, 1,
                  accumulate_din ? &one : &zero, din, C, 1);
}

/* ---- layer kind (keys, setup and init shared with gru: rnn_layer.c) ---- */

static void lstm_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    for (int dir = 0; dir < st_rnn_dirs(L); dir++) {
        st_rnn_dir_t r = st_rnn_dir(L, ctx, dir, B, st_lstm_scratch_floats);
        st_lstm_work_t w;
        st_lstm_work_bind(&w, r.work, B, r.d.T, r.d.H);
        st_lstm_forward(out + r.out_offset, r.bstride, r.tstride, &w, in, r.P[ST_RNN_W_IH].data, r.P[ST_RNN_W_HH].data,
                        r.P[ST_RNN_B_IH].data, r.P[ST_RNN_B_HH].data, &r.d, B);
    }
}

static void lstm_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                const float *in, const float *out, int B) {
    (void)out;
    for (int dir = 0; dir < st_rnn_dirs(L); dir++) {
        st_rnn_dir_t r = st_rnn_dir(L, ctx, dir, B, st_lstm_scratch_floats);
        st_lstm_work_t w;
        st_lstm_work_bind(&w, r.work, B, r.d.T, r.d.H);
        st_lstm_backward(din, dir > 0, r.P[ST_RNN_W_IH].grad, r.P[ST_RNN_W_HH].grad, r.P[ST_RNN_B_IH].grad,
                         r.P[ST_RNN_B_HH].grad, &w, dout + r.out_offset, r.bstride, r.tstride, in,
                         r.P[ST_RNN_W_IH].data, r.P[ST_RNN_W_HH].data, &r.d, B);
    }
}

static st_status_t lstm_setup(st_layer_t *L, st_error_t *err) {
    return st_rnn_setup(L, "lstm", 4, st_lstm_scratch_floats, err);
}

/* Per direction, T steps, 4H gates: forward 2·T·4H·C (input GEMM) + 2·T·4H·H (recurrent GEMMs)
 * + 17·T·H (the cell: 8 bias adds, 4 activations, 5 for c and h, per unit); din 2·T·4H·C; the
 * rest 2·T·4H·(C + 2H) (dW_ih, dW_hh, dh_prev) + 8·T·H (bias gradients) + 34·T·H (the cell's
 * backward, twice its forward). */
static void lstm_flops(const st_layer_t *L, st_layer_flops_t *f) {
    st_rnn_flops(L, 4, 17, f);
}

const st_layer_kind_t st_kind_lstm = {
    .type = "lstm",
    .help = "LSTM over a sequence [T, C] -> [T, units*dirs] or final states [units*dirs] (PyTorch's nn.LSTM; BLIS GEMMs per step over the batch)",
    .keys = st_rnn_keys, .n_keys = ST_RNN_N_KEYS, .setup = lstm_setup, .init = st_rnn_init,
    .forward = lstm_layer_forward, .backward = lstm_layer_backward,
    .flops = lstm_flops,
};
