/* global_pool.h — global average and max pooling over T: sequences [T, C] -> features [C]. */
#ifndef ST_GLOBAL_POOL_H
#define ST_GLOBAL_POOL_H

#include <stdint.h>

/* out [B, C] = mean over t of in [B, T, C] (sum in t order, then / T). */
void st_global_avg_pool_forward(float *out, const float *in, const int32_t *len, int B, int T, int C);
/* din [B, T, C] = dout [B, C] / T at every t. */
void st_global_avg_pool_backward(float *din, const float *dout, const int32_t *len, int B, int T, int C);

/* out [B, C] = max over t of in [B, T, C]; argmax [B, C] gets the first maximum's t (NaN wins). */
void st_global_max_pool_forward(float *out, int32_t *argmax, const float *in, const int32_t *len, int B, int T,
                                int C);
/* din [B, T, C] = dout [B, C] at t = argmax [B, C], 0 elsewhere. */
void st_global_max_pool_backward(float *din, const float *dout, const int32_t *argmax, int B, int T, int C);

#endif
