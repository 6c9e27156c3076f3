/* layernorm.c — layer normalisation over the last dimension. Each row (a sample, or a position
 * of a sequence) is independent, so the forward pass and the input gradient run in parallel over
 * rows, each row's sums in channel order (double). The parameter gradients are column sums over
 * rows, done in row order and parallelised over channel blocks, so results do not depend on the
 * thread count. The forward keeps each row's mean and 1/std in per-sample scratch. */
#include "layernorm.h"

#include <math.h>

#include "layer.h"

enum { BLOCK = 16 }; /* channels per task in the column sums */

void st_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, long rows, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C;
        float *y = out + r * C;
        double sum = 0, sq = 0;
        for (int c = 0; c < C; c++) sum += x[c];
        double mu = sum / C;
        for (int c = 0; c < C; c++) sq += ((double)x[c] - mu) * ((double)x[c] - mu);
        double inv = 1.0 / sqrt(sq / C + (double)eps);
        mean[r] = (float)mu;
        rstd[r] = (float)inv;
        for (int c = 0; c < C; c++) y[c] = (float)(((double)x[c] - mu) * inv) * gamma[c] + beta[c];
    }
}

void st_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, long rows, int C) {
    #pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += BLOCK) {
        int nc = c0 + BLOCK < C ? BLOCK : C - c0;
        double sum_dy[BLOCK] = {0}, sum_dy_xhat[BLOCK] = {0};
        for (long r = 0; r < rows; r++) {
            const float *x = in + r * C + c0, *dy = dout + r * C + c0;
            for (int c = 0; c < nc; c++) {
                sum_dy[c] += dy[c];
                sum_dy_xhat[c] += dy[c] * (((double)x[c] - mean[r]) * rstd[r]);
            }
        }
        for (int c = 0; c < nc; c++) {
            dbeta[c0 + c] += (float)sum_dy[c];
            dgamma[c0 + c] += (float)sum_dy_xhat[c];
        }
    }
    if (!din) return;
    /* din = rstd · (g - mean(g) - xhat·mean(g·xhat)) with g = dout·gamma, per row */
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C, *dy = dout + r * C;
        float *dx = din + r * C;
        double sum_g = 0, sum_g_xhat = 0;
        for (int c = 0; c < C; c++) {
            double g = (double)dy[c] * gamma[c];
            sum_g += g;
            sum_g_xhat += g * (((double)x[c] - mean[r]) * rstd[r]);
        }
        float mean_g = (float)(sum_g / C), mean_g_xhat = (float)(sum_g_xhat / C);
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - mean[r]) * rstd[r];
            dx[c] = rstd[r] * (dy[c] * gamma[c] - mean_g - xhat * mean_g_xhat);
        }
    }
}

/* ---- layer kind ---- */

enum { K_EPS, N_KEYS };
static const st_key_t layernorm_keys[N_KEYS] = {
    [K_EPS] = {"eps", ST_K_NUM, "1e-5", 1e-12, 1, NULL, "added to the variance before the square root"},
};

enum { P_WEIGHT, P_BIAS };

static st_status_t layernorm_setup(st_layer_t *L, st_error_t *err) {
    (void)err;
    int C = st_shape_channels(L->in_shape);
    L->out_shape = L->in_shape;
    st_layer_add_param(L, "weight", (size_t)C, 0);
    st_layer_add_param(L, "bias", (size_t)C, 0);
    L->scratch_per_sample = 2L * st_shape_positions(L->in_shape); /* mean and rstd per row */
    return ST_OK;
}

static void layernorm_init(st_layer_t *L, uint64_t seed) {
    (void)seed;
    st_init_const(L->params[P_WEIGHT].data, L->params[P_WEIGHT].n, 1.0f);
    st_init_const(L->params[P_BIAS].data, L->params[P_BIAS].n, 0.0f);
}

static void layernorm_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    long rows = (long)B * st_shape_positions(L->in_shape);
    st_layernorm_forward(out, L->scratch, L->scratch + rows, in, L->params[P_WEIGHT].data,
                         L->params[P_BIAS].data, rows, st_shape_channels(L->in_shape),
                         (float)L->opt[K_EPS].num);
}

static void layernorm_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                     const float *in, const float *out, int B) {
    (void)ctx, (void)out;
    long rows = (long)B * st_shape_positions(L->in_shape);
    st_layernorm_backward(din, L->params[P_WEIGHT].grad, L->params[P_BIAS].grad, dout, in, L->scratch,
                          L->scratch + rows, L->params[P_WEIGHT].data, rows, st_shape_channels(L->in_shape));
}

/* Per element of the input, as batchnorm's rule: forward 7, din 8, dγ and dβ 3. */
static void layernorm_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double n = (double)st_shape_numel(L->in_max);
    f->forward = 7 * n, f->backward_input = 8 * n, f->backward_rest = 3 * n;
}

const st_layer_kind_t st_kind_layernorm = {
    .type = "layernorm",
    .help = "layer normalisation over the last dimension (D for [D], C at every position of [T, C])",
    .keys = layernorm_keys, .n_keys = N_KEYS, .setup = layernorm_setup, .init = layernorm_init,
    .forward = layernorm_layer_forward, .backward = layernorm_layer_backward,
    .flops = layernorm_flops,
};
