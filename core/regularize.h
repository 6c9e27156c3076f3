/* regularize.h — gradient-side regularisation: per-tensor L2 penalties and global-norm gradient
 * clipping, over the flat parameter and gradient arenas.
 *
 * Order in a training step: backward (gradients summed over ranks) → st_l2_apply (the penalty's
 * gradient joins the data gradient) → st_clip_grad_norm (clips the total) → optimizer step.
 *
 * Sums of squares are reproducible: the arena is cut into fixed blocks of ST_SQ_BLOCK floats,
 * each block is summed in double in a fixed order (16 interleaved accumulators, combined in a fixed
 * tree), and the block sums are added in block order.
 * Threads only decide who computes which block, so the result is bitwise the same for any
 * OpenMP thread count (no `omp reduction`). */
#ifndef ST_REGULARIZE_H
#define ST_REGULARIZE_H

#include <stddef.h>

#include "layer.h"

#define ST_SQ_BLOCK 4096

/* Σ x[i]² in double, in the fixed block order described above. x [n]. */
double st_sum_squares(const float *x, size_t n);
/* The same sum of n <= ST_SQ_BLOCK floats on the calling thread (one block's sum). */
double st_sum_squares_serial(const float *x, size_t n);

/* torch.nn.utils.clip_grad_norm_(norm_type=2): total = sqrt(Σ g²) over grads [n] (the whole
 * gradient arena); coef = max_norm / (total + 1e-6); when coef < 1 every gradient is multiplied
 * by coef. Returns the norm before clipping. A non-finite norm leaves the gradients untouched
 * (coef < 1 is false) and is returned so the caller can report it. */
double st_clip_grad_norm(float *grads, size_t n, double max_norm);

/* For every view with l2 > 0: grad += l2 · w, the gradient of the penalty l2/2 · ||w||² that
 * the loss gains. Views need data and grad bound. Runs before clipping. */
void st_l2_apply(const st_tensor_view_t *tensors, int n_tensors);

/* The penalty Σ over views with l2 > 0 of l2/2 · ||w||² (for reporting the regularised loss). */
double st_l2_penalty(const st_tensor_view_t *tensors, int n_tensors);

#endif
