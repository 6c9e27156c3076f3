/* regularize.c — reproducible sums of squares, global-norm gradient clipping and L2 penalties.
 * Blocks of ST_SQ_BLOCK floats are summed in double; the block sums of up to CHUNK_BLOCKS blocks
 * at a time sit in a stack array (no allocation) and are added in block order, so the sum is the
 * same left-to-right sequence of block sums whatever the thread count. */
#include "regularize.h"

#include <math.h>

#include "simd.h"

enum { CHUNK_BLOCKS = 256 };

/* Σ x[i]² of one block, in double: 16 lane accumulators (lane l takes i ≡ l mod 16, in order)
 * combined pairwise in a fixed tree, so every clone of this function gives the same bits. */
ST_CLONES static double block_sum_squares(const float *x, size_t n) {
    enum { L = 16 };
    double acc[L] = {0};
    size_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)x[i + l] * x[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += (double)x[i] * x[i];
    for (int w = L / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

double st_sum_squares_serial(const float *x, size_t n) { return block_sum_squares(x, n); }

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
