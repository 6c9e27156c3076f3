/* batchnorm.c — batch normalisation (PyTorch's BatchNorm1d semantics) over [rows, C] arrays.
 *
 * Statistics and parameter gradients are per-channel sums over rows. They run in row order with
 * double accumulators, parallelised over blocks of channels, so the result does not depend on the
 * thread count. A training forward keeps the batch mean and biased variance in the layer's fixed
 * scratch: backward uses them, and a trainer can read them (st_batchnorm_batch_stats) to combine
 * several micro-batches' statistics before updating the running ones. */
#include "batchnorm.h"

#include <math.h>
#include <string.h>

#include "layer.h"
#include "simd.h"

enum { BLOCK = 16 }; /* channels per task: one cache line of floats */

static inline int block_len(int c0, int C) { return c0 + BLOCK < C ? BLOCK : C - c0; }

/* One block of nc <= BLOCK channels starting at c0: statistics over the rows, then the affine
 * normalisation. Inline with nc constant in the common full-block case. */
static inline __attribute__((always_inline)) void forward_train_block(float *out, float *mean, float *var_biased, const float *in, const float *gamma,
                                       const float *beta, long rows, long n_valid, int C, int c0, int nc, float eps) {
    double sum[BLOCK] = {0}, sq[BLOCK] = {0}, mu[BLOCK];
    float alpha[BLOCK], shift[BLOCK];
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C + c0;
        for (int c = 0; c < nc; c++) sum[c] += x[c];
    }
    for (int c = 0; c < nc; c++) mu[c] = sum[c] / (double)n_valid;
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C + c0;
        for (int c = 0; c < nc; c++) {
            double d = (double)x[c] - mu[c];
            sq[c] += d * d;
        }
    }
    /* the rows - n_valid padded rows are zeros: each added mu² to sq */
    for (int c = 0; c < nc; c++) {
        double v = (sq[c] - (double)(rows - n_valid) * mu[c] * mu[c]) / (double)n_valid;
        double invstd = 1.0 / sqrt(v + (double)eps);
        mean[c0 + c] = (float)mu[c];
        var_biased[c0 + c] = (float)v;
        alpha[c] = (float)(invstd * gamma[c0 + c]);
        shift[c] = (float)(beta[c0 + c] - mu[c] * invstd * gamma[c0 + c]);
    }
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C + c0;
        float *y = out + r * C + c0;
        for (int c = 0; c < nc; c++) y[c] = x[c] * alpha[c] + shift[c];
    }
}

ST_CLONES static void forward_train_blocks(float *out, float *mean, float *var_biased, const float *in,
                                           const float *gamma, const float *beta, long rows, long n_valid, int C,
                                           int c0, int c1, float eps) {
    for (; c0 < c1; c0 += BLOCK) {
        if (c0 + BLOCK <= C)
            forward_train_block(out, mean, var_biased, in, gamma, beta, rows, n_valid, C, c0, BLOCK, eps);
        else forward_train_block(out, mean, var_biased, in, gamma, beta, rows, n_valid, C, c0, C - c0, eps);
    }
}

void st_batchnorm_forward_train_masked(float *out, float *mean, float *var_biased, const float *in,
                                       const float *gamma, const float *beta, long rows, long n_valid, int C,
                                       float eps) {
    if (rows <= 0 || n_valid <= 0) return;
    ST_PARALLEL_SPANS_ALIGNED(C, BLOCK, forward_train_blocks(out, mean, var_biased, in, gamma, beta, rows, n_valid,
                                                             C, (int)i0, (int)i1, eps));
}

void st_batchnorm_forward_train(float *out, float *mean, float *var_biased, const float *in,
                                const float *gamma, const float *beta, long rows, int C, float eps) {
    st_batchnorm_forward_train_masked(out, mean, var_biased, in, gamma, beta, rows, rows, C, eps);
}

void st_batchnorm_forward_eval(float *out, const float *in, const float *mean, const float *var,
                               const float *gamma, const float *beta, long rows, int C, float eps) {
    enum { CHUNK = 512 };
    for (int c0 = 0; c0 < C; c0 += CHUNK) { /* per-channel scale and shift once per chunk of channels */
        const int nc = C - c0 < CHUNK ? C - c0 : CHUNK;
        float alpha[CHUNK], shift[CHUNK];
        for (int c = 0; c < nc; c++) {
            double invstd = 1.0 / sqrt((double)var[c0 + c] + (double)eps);
            alpha[c] = (float)(invstd * gamma[c0 + c]);
            shift[c] = (float)(beta[c0 + c] - mean[c0 + c] * invstd * gamma[c0 + c]);
        }
        #pragma omp parallel for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float *x = in + r * C + c0;
            float *y = out + r * C + c0;
            for (int c = 0; c < nc; c++) y[c] = x[c] * alpha[c] + shift[c];
        }
    }
}

/* One block of nc <= BLOCK channels starting at c0 (see forward_train_block). */
static inline __attribute__((always_inline)) void backward_block(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                  const float *mean, const float *var_biased, const float *gamma, long rows,
                                  long n_valid, int C, int c0, int nc, float eps) {
    double sum_dy[BLOCK] = {0}, sum_dy_xhat[BLOCK] = {0}, invstd[BLOCK];
    for (int c = 0; c < nc; c++) invstd[c] = 1.0 / sqrt((double)var_biased[c0 + c] + (double)eps);
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C + c0, *dy = dout + r * C + c0;
        for (int c = 0; c < nc; c++) {
            double xhat = ((double)x[c] - mean[c0 + c]) * invstd[c];
            sum_dy[c] += dy[c];
            sum_dy_xhat[c] += dy[c] * xhat;
        }
    }
    for (int c = 0; c < nc; c++) {
        dbeta[c0 + c] += (float)sum_dy[c];
        dgamma[c0 + c] += (float)sum_dy_xhat[c];
    }
    if (!din) return;
    /* din = gamma·invstd · (dy - mean(dy) - xhat·mean(dy·xhat)) */
    float k[BLOCK], mean_dy[BLOCK], mean_dy_xhat[BLOCK], inv[BLOCK];
    for (int c = 0; c < nc; c++) {
        k[c] = (float)(gamma[c0 + c] * invstd[c]);
        inv[c] = (float)invstd[c];
        mean_dy[c] = (float)(sum_dy[c] / (double)n_valid);
        mean_dy_xhat[c] = (float)(sum_dy_xhat[c] / (double)n_valid);
    }
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C + c0, *dy = dout + r * C + c0;
        float *dx = din + r * C + c0;
        for (int c = 0; c < nc; c++) {
            float xhat = (x[c] - mean[c0 + c]) * inv[c];
            dx[c] = k[c] * (dy[c] - mean_dy[c] - xhat * mean_dy_xhat[c]);
        }
    }
}

ST_CLONES static void backward_blocks(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                      const float *mean, const float *var_biased, const float *gamma, long rows,
                                      long n_valid, int C, int c0, int c1, float eps) {
    for (; c0 < c1; c0 += BLOCK) {
        if (c0 + BLOCK <= C)
            backward_block(din, dgamma, dbeta, dout, in, mean, var_biased, gamma, rows, n_valid, C, c0, BLOCK, eps);
        else
            backward_block(din, dgamma, dbeta, dout, in, mean, var_biased, gamma, rows, n_valid, C, c0, C - c0, eps);
    }
}

void st_batchnorm_backward_masked(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                  const float *mean, const float *var_biased, const float *gamma, long rows,
                                  long n_valid, int C, float eps) {
    if (rows <= 0 || n_valid <= 0) return;
    ST_PARALLEL_SPANS_ALIGNED(C, BLOCK, backward_blocks(din, dgamma, dbeta, dout, in, mean, var_biased, gamma, rows,
                                                        n_valid, C, (int)i0, (int)i1, eps));
}

void st_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *var_biased,
                           const float *gamma, long rows, int C, float eps) {
    st_batchnorm_backward_masked(din, dgamma, dbeta, dout, in, mean, var_biased, gamma, rows, rows, C, eps);
}

void st_batchnorm_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *mean, const float *var,
                                const float *gamma, long rows, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += BLOCK) {
        int nc = block_len(c0, C);
        double sum_dy[BLOCK] = {0}, sum_dy_xhat[BLOCK] = {0}, invstd[BLOCK];
        float k[BLOCK];
        for (int c = 0; c < nc; c++) {
            invstd[c] = 1.0 / sqrt((double)var[c0 + c] + (double)eps);
            k[c] = (float)(gamma[c0 + c] * invstd[c]);
        }
        for (long r = 0; r < rows; r++) {
            const float *x = in + r * C + c0, *dy = dout + r * C + c0;
            for (int c = 0; c < nc; c++) {
                sum_dy[c] += dy[c];
                sum_dy_xhat[c] += dy[c] * (((double)x[c] - mean[c0 + c]) * invstd[c]);
                if (din) din[r * C + c0 + c] = dy[c] * k[c];
            }
        }
        for (int c = 0; c < nc; c++) {
            dbeta[c0 + c] += (float)sum_dy[c];
            dgamma[c0 + c] += (float)sum_dy_xhat[c];
        }
    }
}

void st_batchnorm_update_running(float *running_mean, float *running_var, const float *mean,
                                 const float *var_biased, long rows, int C, double momentum) {
    double m = momentum, unbias = rows > 1 ? (double)rows / (double)(rows - 1) : 1.0;
    for (int c = 0; c < C; c++) {
        running_mean[c] = (float)((1.0 - m) * running_mean[c] + m * mean[c]);
        running_var[c] = (float)((1.0 - m) * running_var[c] + m * var_biased[c] * unbias);
    }
}

/* ---- layer kind ---- */

enum { K_MOMENTUM, K_EPS, N_KEYS };
static const st_key_t batchnorm_keys[N_KEYS] = {
    [K_MOMENTUM] = {"momentum", ST_K_NUM, "0.1", 0, 1, NULL,
                    "running statistics update: running = (1-momentum)*running + momentum*batch (PyTorch semantics; the unbiased batch variance goes into running_var)"},
    [K_EPS] = {"eps", ST_K_NUM, "1e-5", 1e-12, 1, NULL, "added to the variance before the square root"},
};

enum { P_WEIGHT, P_BIAS };
enum { BUF_MEAN, BUF_VAR };

static st_status_t batchnorm_setup(st_layer_t *L, st_error_t *err) {
    (void)err;
    int C = st_shape_channels(L->in_shape);
    L->out_shape = L->in_shape;
    st_layer_add_param(L, "weight", (size_t)C, 0);
    st_layer_add_param(L, "bias", (size_t)C, 0);
    st_layer_add_buffer(L, "running_mean", (size_t)C);
    st_layer_add_buffer(L, "running_var", (size_t)C);
    /* the last training forward's record of each ghost batch (at most one per sample): mean [C],
       biased variance [C], valid positions [1] */
    L->scratch_per_sample = 2L * C + 1;
    return ST_OK;
}

static void batchnorm_init(st_layer_t *L, uint64_t seed) {
    (void)seed;
    st_init_const(L->params[P_WEIGHT].data, L->params[P_WEIGHT].n, 1.0f);
    st_init_const(L->params[P_BIAS].data, L->params[P_BIAS].n, 0.0f);
    st_init_const(L->buffers[BUF_MEAN].data, L->buffers[BUF_MEAN].n, 0.0f);
    st_init_const(L->buffers[BUF_VAR].data, L->buffers[BUF_VAR].n, 1.0f);
}

static float *group_record(const st_layer_t *L, int group) {
    return L->scratch + (2L * st_shape_channels(L->in_shape) + 1) * group;
}

void st_batchnorm_batch_stats(const st_layer_t *L, int group, const float **mean, const float **var_biased) {
    int C = st_shape_channels(L->in_shape);
    if (mean) *mean = group_record(L, group);
    if (var_biased) *var_biased = group_record(L, group) + C;
}

/* Samples per statistics group of a training pass over B samples (ctx->ghost_batch, or all). */
static int group_samples(const st_run_ctx_t *ctx, int B) {
    return ctx->ghost_batch > 0 && ctx->ghost_batch < B ? ctx->ghost_batch : B;
}

/* Valid positions of samples b0 .. b0+n-1 of T each (all of them without lengths). */
static long valid_positions(const st_run_ctx_t *ctx, int b0, int n, int T) {
    if (!ctx->len_in) return (long)n * T;
    long v = 0;
    for (int b = b0; b < b0 + n; b++) v += ctx->len_in[b] < T ? (ctx->len_in[b] > 0 ? ctx->len_in[b] : 0) : T;
    return v;
}

static void batchnorm_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    int C = st_shape_channels(L->in_shape), T = st_shape_positions(L->in_shape);
    float eps = (float)L->opt[K_EPS].num;
    const float *gamma = L->params[P_WEIGHT].data, *beta = L->params[P_BIAS].data;
    float *rmean = L->buffers[BUF_MEAN].data, *rvar = L->buffers[BUF_VAR].data;
    if (!ctx->training) {
        st_batchnorm_forward_eval(out, in, rmean, rvar, gamma, beta, (long)B * T, C, eps);
        return;
    }
    int G = group_samples(ctx, B);
    for (int b0 = 0, g = 0; b0 < B; b0 += G, g++) { /* ghost batch g: samples b0 .. b0+G-1 */
        int n = B - b0 < G ? B - b0 : G;
        long rows_g = (long)n * T, valid = valid_positions(ctx, b0, n, T);
        size_t off = (size_t)b0 * T * C;
        float *mean = group_record(L, g), *var = mean + C;
        mean[2 * C] = (float)valid;
        st_batchnorm_forward_train_masked(out + off, mean, var, in + off, gamma, beta, rows_g, valid, C, eps);
        if (ctx->update_running_stats && valid > 0)
            st_batchnorm_update_running(rmean, rvar, mean, var, valid, C, L->opt[K_MOMENTUM].num);
    }
}

static void batchnorm_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                     const float *in, const float *out, int B) {
    (void)out;
    int C = st_shape_channels(L->in_shape), T = st_shape_positions(L->in_shape);
    float eps = (float)L->opt[K_EPS].num;
    float *dgamma = L->params[P_WEIGHT].grad, *dbeta = L->params[P_BIAS].grad;
    const float *gamma = L->params[P_WEIGHT].data;
    if (!ctx->training) {
        st_batchnorm_backward_eval(din, dgamma, dbeta, dout, in, L->buffers[BUF_MEAN].data,
                                   L->buffers[BUF_VAR].data, gamma, (long)B * T, C, eps);
        return;
    }
    int G = group_samples(ctx, B);
    for (int b0 = 0, g = 0; b0 < B; b0 += G, g++) {
        int n = B - b0 < G ? B - b0 : G;
        size_t off = (size_t)b0 * T * C;
        const float *mean = group_record(L, g), *var = mean + C;
        long valid = (long)mean[2 * C];
        if (valid == 0 && din) memset(din + off, 0, sizeof(float) * (size_t)n * T * C);
        st_batchnorm_backward_masked(din ? din + off : NULL, dgamma, dbeta, dout + off, in + off, mean, var, gamma,
                                     (long)n * T, valid, C, eps);
    }
}

/* ---- batch statistics (st_layer_kind_t.stats_*): [mean [C], biased var [C], valid positions]
 * per ghost batch ---- */

static int batchnorm_stats_floats(const st_layer_t *L) { return 2 * st_shape_channels(L->in_shape) + 1; }

static void batchnorm_stats_save(const st_layer_t *L, int group, double *out) {
    int C = st_shape_channels(L->in_shape);
    const float *rec = group_record(L, group);
    for (int c = 0; c < 2 * C + 1; c++) out[c] = rec[c];
}

/* The M groups pooled as one batch, in double, in record order: the mean of the means, and the
 * mean of the variances plus the variance of the means, each group weighted by its valid
 * positions (variable lengths; with equal counts the plain means, as before lengths existed). */
static void batchnorm_stats_pool(st_layer_t *L, const double *stats, int M, size_t stride, long samples) {
    (void)samples;
    int C = st_shape_channels(L->in_shape);
    float *rmean = L->buffers[BUF_MEAN].data, *rvar = L->buffers[BUF_VAR].data;
    double total = 0;
    int equal = 1;
    for (int i = 0; i < M; i++) {
        double n = stats[(size_t)i * stride + 2 * C];
        total += n;
        equal &= n == stats[2 * C];
    }
    if (total <= 0) return;
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < M; i++) {
            const double *s = stats + (size_t)i * stride;
            m += equal ? s[c] : s[2 * C] * s[c];
        }
        m = equal ? m / M : m / total;
        for (int i = 0; i < M; i++) {
            const double *s = stats + (size_t)i * stride;
            double dv = s[C + c] + (s[c] - m) * (s[c] - m);
            v += equal ? dv : s[2 * C] * dv;
        }
        float mean = (float)m, var = (float)(equal ? v / M : v / total);
        st_batchnorm_update_running(rmean + c, rvar + c, &mean, &var, (long)total, 1, L->opt[K_MOMENTUM].num);
    }
}

/* Per element of the input (training form): forward 7 (mean 1, variance 2, normalise 2, scale and
 * shift 2); din 8 (dx̂ = γ·dy, two column sums, the combination); dγ, dβ 3. */
static void batchnorm_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double n = (double)st_shape_numel(L->in_max);
    f->forward = 7 * n, f->backward_input = 8 * n, f->backward_rest = 3 * n;
}

const st_layer_kind_t st_kind_batchnorm = {
    .type = "batchnorm",
    .help = "batch normalisation per feature ([D]) or per channel over all positions ([T, C]); batch statistics in training, running statistics in evaluation",
    .keys = batchnorm_keys, .n_keys = N_KEYS, .setup = batchnorm_setup, .init = batchnorm_init,
    .forward = batchnorm_layer_forward, .backward = batchnorm_layer_backward,
    .stats_floats = batchnorm_stats_floats, .stats_save = batchnorm_stats_save, .stats_pool = batchnorm_stats_pool,
    .absorbs_bias = 1,
    .flops = batchnorm_flops,
};
