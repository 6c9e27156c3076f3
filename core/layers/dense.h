/* dense.h — fully connected layer: out = in · Wᵀ + b over the last dimension (BLIS sgemm).
 * Rows are samples ([D] input) or sample positions ([T, C] input: applied at every position). */
#ifndef ST_DENSE_H
#define ST_DENSE_H

/* out [M, N] = in [M, K] · W[N, K]ᵀ + b [N] (b may be NULL). */
void st_dense_forward(float *out, const float *in, const float *W, const float *b, int M, int K, int N);

/* din [M, K] = dout · W (skipped when din is NULL); dW [N, K] += doutᵀ · in;
 * db [N] += column sums of dout (skipped when db is NULL). */
void st_dense_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                       const float *W, int M, int K, int N);

#endif
