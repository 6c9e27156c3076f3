/* gru.h — gated recurrent unit over sequences [T, C] -> [T, H·dirs] or [H·dirs], with PyTorch's
 * nn.GRU semantics (one layer, zero initial state): gates r, z, n in that order,
 *   xg = x_t·W_ihᵀ + b_ih,  hg = h_prev·W_hhᵀ + b_hh                 [3H] each
 *   r = σ(xg_r + hg_r),  z = σ(xg_z + hg_z),  n = tanh(xg_n + r ⊙ hg_n)
 *   h_t = (1 − z) ⊙ n + z ⊙ h_prev
 * (b_hn sits inside r ⊙ (W_hn h + b_hn), which is why hg is kept apart from xg).
 * GEMM structure as lstm.h: one [B·T, C]·[C, 3H] input projection per direction, one
 * [B, H]·[H, 3H] recurrent GEMM per step over the batch; backward one [B, 3H]·[3H, H] GEMM per
 * step, then dW_ih += dXGᵀ·x, dW_hh += dHGᵀ·h_prev over all B·T rows and din = dXG·W_ih. */
#ifndef ST_GRU_H
#define ST_GRU_H

#include "rnn_layer.h"

/* Working memory of one direction, batch-major. */
typedef struct {
    float *a;       /* [B, T, 3H]  activated r, z, n of each step */
    float *hg;      /* [B, T, 3H]  h_prev·W_hhᵀ + b_hh of each step */
    float *dxg;     /* [B, T, 3H]  gradient w.r.t. xg (backward) */
    float *dhg;     /* [B, T, 3H]  gradient w.r.t. hg (backward) */
    float *hprev;   /* [B, T, H]   h_prev of step t (zero at the direction's first step) */
    float *dh;      /* [B, H]      gradient carried to the previous step */
} st_gru_work_t;

/* Floats of working memory per sample for one direction: 4·T·3H + T·H + H. */
long st_gru_scratch_floats(int T, int H);
void st_gru_work_bind(st_gru_work_t *w, float *mem, int B, int T, int H);

/* One direction; arguments as st_lstm_forward, with [3H, ·] tensors. */
void st_gru_forward(float *hs, long hs_bstride, long hs_tstride, st_gru_work_t *w, const float *in,
                    const float *W_ih, const float *W_hh, const float *b_ih, const float *b_hh,
                    const st_rnn_dims_t *d, int B);

/* Backward of one direction after its st_gru_forward; arguments as st_lstm_backward. */
void st_gru_backward(float *din, int accumulate_din, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh,
                     st_gru_work_t *w, const float *dhs, long hs_bstride, long hs_tstride, const float *in,
                     const float *W_ih, const float *W_hh, const st_rnn_dims_t *d, int B);

#endif
