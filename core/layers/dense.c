/* dense.c — fully connected layer. The three GEMMs go through BLIS; the bias is folded into the
 * forward GEMM (output rows start as b, beta = 1) and its gradient is a column sum done in row
 * order (reproducible for any thread count). No bias by default when a batchnorm follows: that
 * bias is cancelled by the normalisation and its gradient is pure rounding noise. */
#include "dense.h"

#include "gemm.h"
#include <math.h>
#include <string.h>

#include "bias.h"
#include "layer.h"

void st_dense_forward(float *out, const float *in, const float *W, const float *b, int M, int K, int N) {
    float one = 1.0f, beta = 0.0f;
    if (b) {
        #pragma omp parallel for schedule(static)
        for (int m = 0; m < M; m++) memcpy(out + (size_t)m * N, b, sizeof(float) * N);
        beta = 1.0f;
    }
    /* out[M,N] = in[M,K] · (W[N,K])ᵀ */
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, N, K, &one, (float *)in, K, 1, (float *)W, K, 1,
              &beta, out, N, 1);
}

void st_dense_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                       const float *W, int M, int K, int N) {
    float one = 1.0f, zero = 0.0f;
    /* dW[N,K] += (dout[M,N])ᵀ · in[M,K] */
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, N, K, M, &one, (float *)dout, N, 1, (float *)in, K, 1,
              &one, dW, K, 1);
    if (db) st_bias_grad_add(db, dout, M, N);
    /* din[M,K] = dout[M,N] · W[N,K] */
    if (din)
        st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, K, N, &one, (float *)dout, N, 1, (float *)W, K, 1,
                  &zero, din, K, 1);
}

/* ---- layer kind ---- */

enum { K_UNITS, K_BIAS, K_INIT, K_L2, N_KEYS };
static const st_key_t dense_keys[N_KEYS] = {
    [K_UNITS] = {"units", ST_K_UNITS, NULL, 1, 1e9, NULL, "output features; \"classes\" = the dataset's class count"},
    [K_BIAS] = {"bias", ST_K_BOOL, "", 0, 0, NULL, "add a bias; default: true, false when a batchnorm follows"},
    [K_INIT] = {"init", ST_K_ENUM, "\"default\"", 0, 0, "default|he|xavier",
                "weight init: default = PyTorch's U(+-1/sqrt(fan_in)); he = N(0, 2/fan_in); xavier = U(+-sqrt(6/(fan_in+fan_out)))"},
    [K_L2] = {"l2", ST_K_NUM, "0", 0, 1e300, NULL, "L2 penalty on the weight: loss += l2/2 * ||W||^2"},
};

typedef struct { int M_per_sample, K, N; } dense_dims_t;

static dense_dims_t dims_of(const st_layer_t *L) {
    return (dense_dims_t){st_shape_positions(L->in_shape), st_shape_channels(L->in_shape),
                          st_shape_channels(L->out_shape)};
}

static st_status_t dense_setup(st_layer_t *L, st_error_t *err) {
    long units = L->opt[K_UNITS].i;
    if (units == -1) {
        if (L->n_classes <= 0)
            return st_fail(err, ST_ERR_CONFIG, "%s.units: \"classes\" needs the dataset's class count, which is not known here", L->path);
        units = L->n_classes;
    }
    int K = st_shape_channels(L->in_shape);
    L->out_shape = L->in_shape.rank == 1 ? st_shape1((int)units) : st_shape2(L->in_shape.d[0], (int)units);
    int has_bias = L->opt[K_BIAS].is_set ? L->opt[K_BIAS].b
                                         : !(L->next_kind && L->next_kind->absorbs_bias);
    st_layer_add_param(L, "weight", (size_t)units * K, 1);
    if (has_bias) st_layer_add_param(L, "bias", (size_t)units, 0);
    L->params[0].l2 = (float)L->opt[K_L2].num;
    return ST_OK;
}

static void dense_init(st_layer_t *L, uint64_t seed) {
    dense_dims_t d = dims_of(L);
    st_init_weight(L, 0, L->opt[K_INIT].s, d.K, d.N, seed);
    if (L->n_params > 1) {
        if (strcmp(L->opt[K_INIT].s, "default") == 0) st_init_uniform(L, 1, 1.0f / sqrtf((float)d.K), seed);
        else st_init_const(L->params[1].data, L->params[1].n, 0.0f);
    }
}

static void dense_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    dense_dims_t d = dims_of(L);
    st_dense_forward(out, in, L->params[0].data, L->n_params > 1 ? L->params[1].data : NULL,
                     B * d.M_per_sample, d.K, d.N);
}

static void dense_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                 const float *in, const float *out, int B) {
    (void)ctx, (void)out;
    dense_dims_t d = dims_of(L);
    st_dense_backward(din, L->params[0].grad, L->n_params > 1 ? L->params[1].grad : NULL, dout, in,
                      L->params[0].data, B * d.M_per_sample, d.K, d.N);
}

/* P positions of [K] -> [N]: forward 2PKN (+ PN for the bias); din 2PKN; dW 2PKN (+ PN: db). */
static void dense_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double P = st_shape_positions(L->in_max), K = st_shape_channels(L->in_max), N = st_shape_channels(L->out_max);
    double bias = L->n_params > 1 ? P * N : 0;
    f->forward = 2 * P * K * N + bias, f->backward_input = 2 * P * K * N, f->backward_rest = 2 * P * K * N + bias;
}

const st_layer_kind_t st_kind_dense = {
    .type = "dense",
    .help = "fully connected layer over the last dimension (BLIS GEMM)",
    .keys = dense_keys, .n_keys = N_KEYS, .setup = dense_setup, .init = dense_init, .forward = dense_layer_forward,
    .backward = dense_layer_backward,
    .flops = dense_flops,
};
