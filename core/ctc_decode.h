/* ctc_decode.h — turning per-frame CTC outputs into token sequences: greedy (best path) and
 * prefix beam search without a language model, for a batch of rows [B, T, K] (float32, batch-major,
 * logits or log-probabilities: both apply log_softmax per frame, which leaves log-probabilities
 * unchanged), each row read up to its input length.
 *
 * Output: tokens [B, T] (row i's first len[i] entries; the rest set to −1) and len [B]. A decoded
 * sequence is never longer than its input length.
 *
 * Greedy: the argmax of each frame (st_argmax: the lowest class index on equal logits), repeats
 * collapsed, blanks dropped.
 * Prefix beam search: every prefix y keeps log P_b(y) (paths ending in a blank) and log P_nb(y)
 * (ending in y's last token); at each frame, for every kept prefix and every class k:
 *   k = blank              P_b(y)    ⊕= (P_b(y) ⊕ P_nb(y)) + lp[k]
 *   k = last token of y    P_nb(y)   ⊕= P_nb(y) + lp[k];   P_nb(y+k) ⊕= P_b(y) + lp[k]
 *   otherwise              P_nb(y+k) ⊕= (P_b(y) ⊕ P_nb(y)) + lp[k]
 * (⊕ = log-sum-exp), then the W prefixes with the largest P_b ⊕ P_nb are kept. Ties are broken
 * deterministically: larger score first, then the shorter prefix, then the lexicographically
 * smaller one. The result is the best kept prefix after the last frame. */
#ifndef ST_CTC_DECODE_H
#define ST_CTC_DECODE_H

#include <stdint.h>

#include "st_error.h"

void st_ctc_greedy_decode(int32_t *tokens /*[B,T]*/, int32_t *len /*[B]*/,
                          const float *logits /*[B,T,K]*/, const int32_t *input_len /*[B]*/,
                          int B, int T, int K, int blank);

/* Prefix beam search with beam width W ≥ 1; score [B] (may be NULL) gets the best prefix's
 * log P(y | x) summed over the paths the search kept. Rows run over OpenMP threads (each writes its
 * own row only). ST_ERR_NOMEM when work memory cannot be allocated, ST_ERR_CONFIG when W < 1. */
st_status_t st_ctc_beam_decode(int32_t *tokens /*[B,T]*/, int32_t *len /*[B]*/, double *score /*[B]*/,
                               const float *logits /*[B,T,K]*/, const int32_t *input_len /*[B]*/,
                               int B, int T, int K, int blank, int W, st_error_t *err);

#endif
