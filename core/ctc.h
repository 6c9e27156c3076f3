/* ctc.h — the CTC loss (Graves et al. 2006) with PyTorch's F.ctc_loss semantics, as a plain
 * function over explicit buffers: per-sample losses and the gradient w.r.t. the logits that feed
 * log_softmax, plus the two reductions.
 *
 * Per sample i with input length T_i ≤ T and target y (length L_i ≤ L_max, no blanks):
 *   lp[t,k]  = log_softmax(logits[i,t,:])[k]                              (float64)
 *   ℓ_i      = −log Σ_{π ∈ B⁻¹(y)} Π_{t<T_i} exp(lp[t, π_t])
 * by the log-space forward-backward over the extended sequence l' = (∅ y1 ∅ y2 … ∅ yL ∅),
 * S = 2L+1 states; a state may skip the blank before it unless its label repeats the one two
 * states back ("1 1" needs a blank between the ones).
 *   dℓ_i/dlogits[t,k] = softmax[t,k] − Σ_{s: l'_s = k} exp(α_t(s) + β_t(s) − log p(y))
 * (what PyTorch's backward gives through log_softmax), per sample, unscaled; 0 at t ≥ T_i.
 *
 * Infinite loss (T_i shorter than L_i plus the repeats that need a blank between them):
 *   zero_infinity = 1: loss 0 and gradient 0 (PyTorch: torch.where(loss == inf, 0, loss) and a
 *                      zeroed gradient).
 *   zero_infinity = 0: loss +inf and gradient 0. PyTorch returns NaN gradients there (its
 *                      exp(−inf + inf)); strata writes zeros so that one bad row cannot poison a
 *                      whole update — the loss itself stays +inf, so a mean over the batch shows it.
 * T_i = 0: loss 0 when L_i = 0, else +inf (as above).
 *
 * Work memory (lp, α, β: (T_i·(K + 2S)) doubles) is allocated per sample inside the call;
 * samples run in parallel over OpenMP threads, each writes only its own row, so the results are
 * bitwise independent of the thread count. */
#ifndef ST_CTC_H
#define ST_CTC_H

#include <stdint.h>

#include "st_error.h"

/* Checks the lengths and labels of a batch: 0 ≤ input_len ≤ T, 0 ≤ target_len ≤ L_max, target
 * labels in [0, K) and ≠ blank (only the first target_len of each row are read), 0 ≤ blank < K.
 * The message names the row and position at fault. */
st_status_t st_ctc_check(const int32_t *input_len /*[B]*/, const int32_t *targets /*[B,L_max]*/,
                         const int32_t *target_len /*[B]*/, int B, int T, int K, int L_max,
                         int blank, st_error_t *err);

/* Per-sample CTC losses (see above). dlogits may be NULL (no gradient). Inputs must pass
 * st_ctc_check (not re-checked). Returns ST_OK, or ST_ERR_NOMEM when work memory cannot be
 * allocated (err names the row). */
st_status_t st_ctc_loss_forward(double *loss /*[B]*/, float *dlogits /*[B,T,K] or NULL*/,
                                const float *logits /*[B,T,K]*/, const int32_t *input_len /*[B]*/,
                                const int32_t *targets /*[B,L_max] padded*/,
                                const int32_t *target_len /*[B]*/, int B, int T, int K, int L_max,
                                int blank, int zero_infinity, st_error_t *err);

/* PyTorch's reduction='mean': (1/B) Σ_i ℓ_i / max(L_i, 1), summed in row order. 0 when B = 0.
 * The matching gradient scale of row i is 1 / (B · max(L_i, 1)). */
double st_ctc_reduce_mean(const double *loss /*[B]*/, const int32_t *target_len /*[B]*/, int B);

/* reduction='sum': Σ_i ℓ_i in row order. */
double st_ctc_reduce_sum(const double *loss /*[B]*/, int B);

#endif
