/* gru.c — the gru layer: PyTorch's nn.GRU (one layer, batch_first, zero initial state),
 * optionally bidirectional, returning every step's hidden state or the final ones.
 *
 * Same layout as lstm.c: batch-major buffers, the input projection of all B·T rows in one GEMM
 * (into a, activated in place step by step), the recurrent GEMM per step into hg (which starts
 * each row at b_hh), hprev kept for the one dW_hh GEMM. The backward pass writes two gradients
 * per step: dxg (w.r.t. x·W_ihᵀ + b_ih) and dhg (w.r.t. h·W_hhᵀ + b_hh; its n part is r·dn). */
/* The gate loops only vectorise when comparisons may be assumed not to trap (the selects in
 * st_rnn_expf / st_rnn_tanh); values are the same either way. */
#pragma GCC optimize("no-trapping-math")

#include "gru.h"

#include "gemm.h"
#include <string.h>

#include "bias.h"
#include "simd.h"

long st_gru_scratch_floats(int T, int H) { return 4L * T * 3 * H + (long)T * H + H; }

void st_gru_work_bind(st_gru_work_t *w, float *mem, int B, int T, int H) {
    const size_t BT = (size_t)B * T;
    w->a = mem;
    w->hg = w->a + BT * 3 * H;
    w->dxg = w->hg + BT * 3 * H;
    w->dhg = w->dxg + BT * 3 * H;
    w->hprev = w->dhg + BT * 3 * H;
    w->dh = w->hprev + BT * H;
}

/* One sample's cell: a [3H] holds xg in, r, z, n out; hg [3H]; h [H] from hp [H] (zeros at the
 * first step: hprev is cleared there). */
ST_CLONES static void cell_forward(float *restrict a, const float *restrict hg, float *restrict h,
                                   const float *restrict hp, int H) {
    for (int j = 0; j < H; j++) {
        float r = st_rnn_sigmoid(a[j] + hg[j]), z = st_rnn_sigmoid(a[H + j] + hg[H + j]);
        float n = st_rnn_tanh(a[2 * H + j] + r * hg[2 * H + j]);
        a[j] = r, a[H + j] = z, a[2 * H + j] = n;
        h[j] = (1.0f - z) * n + z * hp[j];
    }
}

/* A step past the row's length: h = h_prev, stored as r = 0, z = 1, n = 0, for which the cell's
 * backward gives zero gate gradients and carries dL/dh to h_prev unchanged. */
static void cell_carry(float *a, float *h, const float *hp, int H) {
    for (int j = 0; j < H; j++) {
        a[j] = 0.0f, a[H + j] = 1.0f, a[2 * H + j] = 0.0f;
        h[j] = hp[j];
    }
}

/* hg[:, t] rows = b_hh (+ hprev[:, t]·W_hhᵀ after the first step). */
static void recurrent_gemm(float *hg_t, const float *hp_t, const float *W_hh, const float *b_hh, int first,
                           const st_rnn_dims_t *d, int B) {
    const int T = d->T, H = d->H, G = 3 * H;
    float one = 1.0f;
    for (int b = 0; b < B; b++) memcpy(hg_t + (size_t)b * T * G, b_hh, sizeof(float) * G);
    if (!first)
        st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, B, G, H, &one, (float *)hp_t, (inc_t)T * H, 1, (float *)W_hh, H, 1,
                  &one, hg_t, (inc_t)T * G, 1);
}

void st_gru_forward(float *hs, long hs_bstride, long hs_tstride, st_gru_work_t *w, const float *in,
                    const float *W_ih, const float *W_hh, const float *b_ih, const float *b_hh,
                    const st_rnn_dims_t *d, int B) {
    const int T = d->T, C = d->C, H = d->H, G = 3 * H;
    const long M = (long)B * T;
    float one = 1.0f;
    /* a [B·T, 3H] = b_ih + in [B·T, C] · W_ihᵀ */
    #pragma omp parallel for schedule(static)
    for (long m = 0; m < M; m++) memcpy(w->a + (size_t)m * G, b_ih, sizeof(float) * G);
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, G, C, &one, (float *)in, C, 1, (float *)W_ih, C, 1, &one, w->a, G, 1);
    for (int s = 0; s < T; s++) {
        const int t = d->reverse ? T - 1 - s : s, step = d->reverse ? -1 : 1;
        float *hp_t = w->hprev + (size_t)t * H;
        if (s == 0)
            for (int b = 0; b < B; b++) memset(hp_t + (size_t)b * T * H, 0, sizeof(float) * H);
        recurrent_gemm(w->hg + (size_t)t * G, hp_t, W_hh, b_hh, s == 0, d, B);
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            const size_t row = (size_t)b * T + t;
            float *h = hs + b * hs_bstride + t * hs_tstride;
            if (st_rnn_frozen(d, b, t)) cell_carry(w->a + row * G, h, w->hprev + row * H, H);
            else cell_forward(w->a + row * G, w->hg + row * G, h, w->hprev + row * H, H);
            if (s + 1 < T) memcpy(w->hprev + (row + step) * H, h, sizeof(float) * H);
        }
    }
}

/* One sample's cell backward: dh_carry [H] (in: carried dL/dh_t; out: the direct part z·dh of
 * dL/dh_prev), dh [H] the output's gradient (has_dh 0: none); dxg, dhg [3H] out. Inlined with a
 * constant has_dh, so the loop has no branch and vectorises. */
static inline __attribute__((always_inline)) void cell_backward_impl(
    float *restrict dxg, float *restrict dhg, float *restrict dh_carry, const float *restrict dh, int has_dh,
    const float *restrict a, const float *restrict hg, const float *restrict hp, int H) {
    for (int j = 0; j < H; j++) {
        float r = a[j], z = a[H + j], n = a[2 * H + j], hpj = hp[j];
        float dhj = dh_carry[j] + (has_dh ? dh[j] : 0.0f);
        float dn = dhj * (1.0f - z) * (1.0f - n * n);
        float dr = dn * hg[2 * H + j] * r * (1.0f - r);
        float dz = dhj * (hpj - n) * z * (1.0f - z);
        dxg[j] = dr, dxg[H + j] = dz, dxg[2 * H + j] = dn;
        dhg[j] = dr, dhg[H + j] = dz, dhg[2 * H + j] = dn * r;
        dh_carry[j] = dhj * z;
    }
}

ST_CLONES static void cell_backward(float *dxg, float *dhg, float *dh_carry, const float *dh, const float *a,
                                    const float *hg, const float *hp, int H) {
    if (dh) cell_backward_impl(dxg, dhg, dh_carry, dh, 1, a, hg, hp, H);
    else cell_backward_impl(dxg, dhg, dh_carry, NULL, 0, a, hg, hp, H);
}

void st_gru_backward(float *din, int accumulate_din, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh,
                     st_gru_work_t *w, const float *dhs, long hs_bstride, long hs_tstride, const float *in,
                     const float *W_ih, const float *W_hh, const st_rnn_dims_t *d, int B) {
    const int T = d->T, C = d->C, H = d->H, G = 3 * H;
    const long M = (long)B * T;
    float one = 1.0f, zero = 0.0f;
    memset(w->dh, 0, sizeof(float) * B * H);
    for (int s = T - 1; s >= 0; s--) {
        const int t = d->reverse ? T - 1 - s : s;
        const int has_dout = hs_tstride != 0 || s == T - 1;
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            const size_t row = (size_t)b * T + t;
            cell_backward(w->dxg + row * G, w->dhg + row * G, w->dh + (size_t)b * H,
                          has_dout ? dhs + b * hs_bstride + t * hs_tstride : NULL, w->a + row * G, w->hg + row * G,
                          w->hprev + row * H, H);
        }
        /* dh [B, H] += dhg[:, t] [B, 3H] · W_hh [3H, H]: the rest of dL/dh_prev */
        if (s > 0)
            st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, B, H, G, &one, w->dhg + (size_t)t * G, (inc_t)T * G, 1,
                      (float *)W_hh, H, 1, &one, w->dh, H, 1);
    }
    /* dW_ih [3H, C] += dXGᵀ [3H, B·T] · in [B·T, C];  dW_hh [3H, H] += dHGᵀ · hprev [B·T, H] */
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, G, C, M, &one, w->dxg, G, 1, (float *)in, C, 1, &one, dW_ih, C, 1);
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, G, H, M, &one, w->dhg, G, 1, w->hprev, H, 1, &one, dW_hh, H, 1);
    st_bias_grad_add(db_ih, w->dxg, M, G);
    st_bias_grad_add(db_hh, w->dhg, M, G);
    /* din [B·T, C] (+)= dXG [B·T, 3H] · W_ih [3H, C] */
    if (din)
        st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, C, G, &one, w->dxg, G, 1, (float *)W_ih, C, 1,
                  accumulate_din ? &one : &zero, din, C, 1);
}

/* ---- layer kind (keys, setup and init shared with lstm: rnn_layer.c) ---- */

static void gru_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    for (int dir = 0; dir < st_rnn_dirs(L); dir++) {
        st_rnn_dir_t r = st_rnn_dir(L, ctx, dir, B, st_gru_scratch_floats);
        st_gru_work_t w;
        st_gru_work_bind(&w, r.work, B, r.d.T, r.d.H);
        st_gru_forward(out + r.out_offset, r.bstride, r.tstride, &w, in, r.P[ST_RNN_W_IH].data, r.P[ST_RNN_W_HH].data,
                       r.P[ST_RNN_B_IH].data, r.P[ST_RNN_B_HH].data, &r.d, B);
    }
}

static void gru_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                               const float *in, const float *out, int B) {
    (void)out;
    for (int dir = 0; dir < st_rnn_dirs(L); dir++) {
        st_rnn_dir_t r = st_rnn_dir(L, ctx, dir, B, st_gru_scratch_floats);
        st_gru_work_t w;
        st_gru_work_bind(&w, r.work, B, r.d.T, r.d.H);
        st_gru_backward(din, dir > 0, r.P[ST_RNN_W_IH].grad, r.P[ST_RNN_W_HH].grad, r.P[ST_RNN_B_IH].grad,
                        r.P[ST_RNN_B_HH].grad, &w, dout + r.out_offset, r.bstride, r.tstride, in,
                        r.P[ST_RNN_W_IH].data, r.P[ST_RNN_W_HH].data, &r.d, B);
    }
}

static st_status_t gru_setup(st_layer_t *L, st_error_t *err) {
    return st_rnn_setup(L, "gru", 3, st_gru_scratch_floats, err);
}

/* As lstm's rule with 3H gates and a cell of 17 per unit and step (6 bias adds, r and z 2 each,
 * n 3, h 4): forward 2·T·3H·(C + H) + 17·T·H; din 2·T·3H·C; the rest 2·T·3H·(C + 2H) + 6·T·H
 * + 34·T·H, per direction. */
static void gru_flops(const st_layer_t *L, st_layer_flops_t *f) {
    st_rnn_flops(L, 3, 17, f);
}

const st_layer_kind_t st_kind_gru = {
    .type = "gru",
    .help = "GRU over a sequence [T, C] -> [T, units*dirs] or final states [units*dirs] (PyTorch's nn.GRU; BLIS GEMMs per step over the batch)",
    .keys = st_rnn_keys, .n_keys = ST_RNN_N_KEYS, .setup = gru_setup, .init = st_rnn_init,
    .forward = gru_layer_forward, .backward = gru_layer_backward,
    .flops = gru_flops,
};
