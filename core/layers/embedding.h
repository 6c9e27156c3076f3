/* embedding.h — lookup tables for categorical inputs.
 *
 * embedding:     each input value is an id (an integer stored as float32, exact below 2^24) that
 *                selects a row of one table W [n, dim]: PyTorch's nn.Embedding, then flatten.
 *                An id that is not an integer in [0, n) gives a zero row (never a read outside
 *                the table); st_model_forward_checked refuses such input instead.
 * embedding_bag: an input row is a multi-hot vector x [n] (0/1, or non-negative weights) and the
 *                output is Σ_j x_j·W[j] ("sum") or that over Σ_j x_j ("mean"; an empty row gives
 *                zeros): PyTorch's nn.EmbeddingBag on the hot indices (per_sample_weights for
 *                "sum"). Computed as one GEMM [M, n]·[n, dim] (BLIS). */
#ifndef ST_EMBEDDING_H
#define ST_EMBEDDING_H

/* out [M, dim] = W[ids[m]] for each of the M ids [M] (zeros for an invalid id); W [n, dim]. */
void st_embedding_forward(float *out, const float *ids, const float *W, int M, int n, int dim);

/* dW [n, dim] += scatter of dout [M, dim] into the rows ids [M] select (invalid ids skipped).
 * Every row of dW receives its additions in the order of m, whatever the thread count. */
void st_embedding_backward(float *dW, const float *dout, const float *ids, int M, int n, int dim);

/* out [M, dim] = x [M, n] · W [n, dim], each row divided by Σ_j x[m, j] when `mean`
 * (rows whose sum is not positive give zeros). */
void st_embedding_bag_forward(float *out, const float *x, const float *W, int mean, int M, int n, int dim);

/* dW [n, dim] += xᵀ · g and din [M, n] = g · Wᵀ (− (g·out) per row when `mean`; skipped when din
 * is NULL), where g [M, dim] = dout, or dout / Σ_j x[m, j] when `mean` (written to the scratch
 * g; out [M, dim] is the forward's output). */
void st_embedding_bag_backward(float *din, float *dW, float *g, const float *dout, const float *x,
                               const float *out, const float *W, int mean, int M, int n, int dim);

#endif
