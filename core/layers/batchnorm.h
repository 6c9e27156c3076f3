/* batchnorm.h — batch normalisation over the channel dimension (PyTorch's BatchNorm1d).
 *
 * Rows are the B samples of a [D] input, or the B·T positions of a [T, C] input (BatchNorm1d on
 * [B, C, T]); every function sees a [rows, C] array. Training normalises with the batch's mean
 * and biased variance; evaluation with the running statistics. The pieces are separate functions
 * so that a trainer can combine the statistics of several micro-batches (or ranks) itself and
 * update the running statistics from the combination. */
#ifndef ST_BATCHNORM_H
#define ST_BATCHNORM_H

#include "layer.h"

/* out [rows, C] = (in - mean) / sqrt(var + eps) · gamma + beta with the batch's statistics, which
 * are returned: mean [C] and biased var [C]. Per-channel sums run in row order (in double). */
void st_batchnorm_forward_train(float *out, float *mean, float *var_biased, const float *in,
                                const float *gamma, const float *beta, long rows, int C, float eps);

/* Variable lengths: the same over rows of which only n_valid are real positions and the others
 * (rows − n_valid) hold zeros: statistics over the n_valid (sums skip nothing: a zero row adds
 * nothing to the sum, and its mu² is taken back out of the sum of squares); the output at the
 * padded rows is left for the caller to zero. With n_valid = rows: st_batchnorm_forward_train. */
void st_batchnorm_forward_train_masked(float *out, float *mean, float *var_biased, const float *in,
                                       const float *gamma, const float *beta, long rows, long n_valid, int C,
                                       float eps);
/* Backward of the masked forward; dout must be 0 at the padded rows. */
void st_batchnorm_backward_masked(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                  const float *mean, const float *var_biased, const float *gamma, long rows,
                                  long n_valid, int C, float eps);

/* out [rows, C] with given (running) statistics mean [C], var [C]. */
void st_batchnorm_forward_eval(float *out, const float *in, const float *mean, const float *var,
                               const float *gamma, const float *beta, long rows, int C, float eps);

/* Backward of st_batchnorm_forward_train (the statistics depend on the input): din [rows, C]
 * written (skipped when NULL); dgamma [C], dbeta [C] added. mean/var_biased are the forward's. */
void st_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *var_biased,
                           const float *gamma, long rows, int C, float eps);

/* Backward of st_batchnorm_forward_eval (the statistics are constants). */
void st_batchnorm_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *mean, const float *var,
                                const float *gamma, long rows, int C, float eps);

/* PyTorch's update: running = (1 - momentum)·running + momentum·batch, with the unbiased
 * variance var_biased·rows/(rows-1) going into running_var (var_biased itself when rows < 2).
 * running_mean [C], running_var [C] updated; mean [C], var_biased [C] over `rows` values. */
void st_batchnorm_update_running(float *running_mean, float *running_var, const float *mean,
                                 const float *var_biased, long rows, int C, double momentum);

/* The mean [C] and biased variance [C] of ghost batch `group` (0 when the batch was one group) in
 * the layer's last training forward (in its scratch). */
void st_batchnorm_batch_stats(const st_layer_t *L, int group, const float **mean, const float **var_biased);

#endif
