/* regularize.c — reproducible sums of squares, global-norm gradient clipping and L2 penalties.
 * Blocks of ST_SQ_BLOCK floats are summed in double; the block sums of up to CHUNK_BLOCKS blocks
 * at a time sit in a stack array (no allocation) and are added in block order, so the sum is the
 * same left-to-right sequence of block sums whatever the thread count. */
#include "regularize.h"

#include <math.h>

enum { CHUNK_BLOCKS = 256 };

/* Σ x[i]² of one block, in double, with four interleaved accumulators combined in a fixed order. */
static double block_sum_squares(const float *x, size_t n) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        double x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        a0 += x0 * x0, a1 += x1 * x1, a2 += x2 * x2, a3 += x3 * x3;
    }
    for (; i < n; i++) a0 += (double)x[i] * x[i];
    return (a0 + a1) + (a2 + a3);
}

double st_sum_squares(const float *x, size_t n) {
    double total = 0;
    size_t n_blocks = (n + ST_SQ_BLOCK - 1) / ST_SQ_BLOCK;
    for (size_t b0 = 0; b0 < n_blocks; b0 += CHUNK_BLOCKS) {
        int nb = n_blocks - b0 < CHUNK_BLOCKS ? (int)(n_blocks - b0) : CHUNK_BLOCKS;
        double partial[CHUNK_BLOCKS];
        #pragma omp parallel for schedule(static) if (nb > 1)
        for (int b = 0; b < nb; b++) {
            size_t start = (b0 + b) * ST_SQ_BLOCK;
            size_t len = n - start < ST_SQ_BLOCK ? n - start : ST_SQ_BLOCK;
            partial[b] = block_sum_squares(x + start, len);
        }
        for (int b = 0; b < nb; b++) total += partial[b];
    }
    return total;
}

double st_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double total = sqrt(st_sum_squares(grads, n));
    double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= c;
    }
    return total;
}

void st_l2_apply(const st_tensor_view_t *tensors, int n_tensors) {
    for (int t = 0; t < n_tensors; t++) {
        const st_tensor_view_t *v = &tensors[t];
        if (!(v->l2 > 0)) continue;
        const float l2 = v->l2;
        float *g = v->grad;
        const float *w = v->data;
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < v->n; i++) g[i] += l2 * w[i];
    }
}

double st_l2_penalty(const st_tensor_view_t *tensors, int n_tensors) {
    double total = 0;
    for (int t = 0; t < n_tensors; t++)
        if (tensors[t].l2 > 0) total += 0.5 * (double)tensors[t].l2 * st_sum_squares(tensors[t].data, tensors[t].n);
    return total;
}
