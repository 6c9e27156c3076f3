/* layernorm.h — layer normalisation over the last dimension (PyTorch's LayerNorm(C)).
 *
 * Rows are the B samples of a [D] input or the B·T positions of a [T, C] input; each row of the
 * [rows, C] array is normalised with its own mean and biased variance, then scaled by gamma [C]
 * and shifted by beta [C]. */
#ifndef ST_LAYERNORM_H
#define ST_LAYERNORM_H

/* out [rows, C] = (in - mean_r)·rstd_r·gamma + beta; also returns mean [rows] and
 * rstd [rows] = 1/sqrt(var_r + eps) for the backward pass. */
void st_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, long rows, int C, float eps);

/* din [rows, C] written (skipped when NULL); dgamma [C], dbeta [C] added (column sums in row
 * order). mean [rows], rstd [rows] are the forward's. */
void st_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, long rows, int C);

#endif
