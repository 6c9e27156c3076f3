/* dropout.h — inverted dropout with counter-based masks.
 *
 * The keep-mask of a sample is a pure function of (seed, layer index, optimizer step, sample id),
 * so it does not depend on the sample's row in the batch, the batch size, the rank count or the
 * thread count. Recipe (reproduced bit for bit by tests/fixtures/fixlib.py): with n elements per
 * sample and q = (n+3)/4, element j of sample s uses word j%4 of
 *   st_rand_u32x4(seed, ST_RNG_DROPOUT, layer_index, step, s·q + j/4);
 * it is kept iff st_u32_to_unit(word) >= rate (compared in double), and kept values are scaled by
 * (float)(1/(1-rate)). */
#ifndef ST_DROPOUT_H
#define ST_DROPOUT_H

#include <stdint.h>

/* mask [B, n]: 0 for dropped elements, 1/(1-rate) for kept ones. Row b is sample
 * sample_index[b] (sample_index [B]; NULL: sample b). rate in [0, 1). */
void st_dropout_mask(float *mask, const int64_t *sample_index, uint64_t seed, uint32_t layer_index,
                     uint32_t step, double rate, int B, long n);

/* The training forward in one pass per sample: draws mask [B, n] as st_dropout_mask does and
 * writes out [B, n] = in [B, n] · mask. out and in may be the same array. */
void st_dropout_forward_train(float *out, float *mask, const float *in, const int64_t *sample_index, uint64_t seed,
                              uint32_t layer_index, uint32_t step, double rate, int B, long n);

/* out [count] = in · mask (elementwise). */
void st_dropout_forward(float *out, const float *in, const float *mask, long count);

/* din [count] = dout · mask (elementwise). */
void st_dropout_backward(float *din, const float *dout, const float *mask, long count);

/* st_dropout_forward_train with samples n_key >= n values apart in the key space: element j of
 * a sample has the same draw for any n (a sequence run at fewer positions than it was built for). */
void st_dropout_forward_train_keyed(float *out, float *mask, const float *in, const int64_t *sample_index,
                                    uint64_t seed, uint32_t layer_index, uint32_t step, double rate, int B, long n,
                                    long n_key);

#endif
