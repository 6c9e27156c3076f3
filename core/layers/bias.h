/* bias.h — the gradient of a per-column bias, shared by the layers that add one to every row of
 * their output (dense, conv1d): db[n] += Σ_m dout[m, n]. One function so that both sum in the
 * same fixed order, which the PyTorch fixture tests and the rank/thread-count reproducibility
 * checks rely on. */
#ifndef ST_BIAS_H
#define ST_BIAS_H

/* db [N] += column sums of dout [M, N]: every column summed over the rows in order 0..M-1 into a
 * float accumulator, then added to db; threads split the columns (blocks of 64), so the result
 * has the same bits for any thread count. */
void st_bias_grad_add(float *db, const float *dout, long M, int N);

#endif
