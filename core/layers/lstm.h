/* lstm.h — long short-term memory over sequences [T, C] -> [T, H·dirs] or [H·dirs], with
 * PyTorch's nn.LSTM semantics (one layer, zero initial state): gates i, f, g, o in that order,
 *   pre = x_t·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh      [4H]
 *   c_t = σ(f)·c_prev + σ(i)·tanh(g),  h_t = σ(o)·tanh(c_t).
 * The reverse direction runs the same cell from t = T−1 down to 0 with its own parameters.
 * GEMM structure (BLIS, batch-major buffers, no per-sample loops):
 *   forward:  one [B·T, C]·[C, 4H] input projection per direction, then per step one
 *             [B, H]·[H, 4H] recurrent GEMM over the whole batch;
 *   backward: per step one [B, 4H]·[4H, H] GEMM for dh_prev; then dW_ih += dGᵀ·x and
 *             dW_hh += dGᵀ·h_prev as one GEMM each over all B·T rows, din = dG·W_ih (summed
 *             over directions in a fixed order). Elementwise gate math is split over batch rows. */
#ifndef ST_LSTM_H
#define ST_LSTM_H

#include "rnn_layer.h"

/* Working memory of one direction, each batch-major ([B, T, ·] rows; see st_lstm_scratch_floats). */
typedef struct {
    float *gates;   /* [B, T, 4H]  activated gates σ(i), σ(f), tanh(g), σ(o) of each step */
    float *dgates;  /* [B, T, 4H]  gradient w.r.t. the pre-activations (backward) */
    float *c;       /* [B, T, H]   cell state c_t */
    float *hprev;   /* [B, T, H]   h_prev of step t (zero at the direction's first step) */
    float *dh, *dc; /* [B, H]      gradients carried to the previous step (backward) */
} st_lstm_work_t;

/* Floats of working memory per sample for one direction: 2·T·4H + 2·T·H + 2·H. */
long st_lstm_scratch_floats(int T, int H);
/* Points w at the B-sample working memory starting at mem. */
void st_lstm_work_bind(st_lstm_work_t *w, float *mem, int B, int T, int H);

/* One direction. h_t [B, H] goes to hs (row b, step t at hs + b·hs_bstride + t·hs_tstride;
 * hs_tstride 0 keeps only the last step's state: the final one). W_ih [4H, C], W_hh [4H, H],
 * b_ih, b_hh [4H]; in [B, T, C]. */
void st_lstm_forward(float *hs, long hs_bstride, long hs_tstride, st_lstm_work_t *w, const float *in,
                     const float *W_ih, const float *W_hh, const float *b_ih, const float *b_hh,
                     const st_rnn_dims_t *d, int B);

/* Backward of one direction after its st_lstm_forward (w unchanged since). dhs holds dL/dh_t
 * with the strides of hs (hs_tstride 0: only the final state has a gradient). Writes w->dgates;
 * adds into dW_ih [4H, C], dW_hh [4H, H], db_ih, db_hh [4H]; din [B, T, C] = dG·W_ih, written
 * when accumulate_din is 0 and added to otherwise (skipped when din is NULL). */
void st_lstm_backward(float *din, int accumulate_din, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh,
                      st_lstm_work_t *w, const float *dhs, long hs_bstride, long hs_tstride, const float *in,
                      const float *W_ih, const float *W_hh, const st_rnn_dims_t *d, int B);

#endif
