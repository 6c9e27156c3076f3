/* embedding.c — the embedding and embedding_bag layers (see embedding.h).
 *
 * Both tables are one parameter "weight" [n, dim], initialised N(0, 1) like PyTorch's, with
 * decay = 0: an optimizer's inherited weight decay would shrink every row at every step, also
 * the rows of ids a batch does not hold; "embedding_reg" is their L2 term instead
 * (loss += embedding_reg/2·||W||², core/regularize.c), and a parameter group with its own
 * weight_decay still applies. The id scatter-add of the embedding's backward is split over
 * ranges of table rows, each range scanning every id in order, so it needs no atomics and every
 * gradient row gets the same sum in the same order at any thread count. */
#include "embedding.h"

#include "gemm.h"
#include <float.h>
#include <omp.h>
#include <string.h>

#include "layer.h"

/* The table row of value v, or -1 when v is not an integer in [0, n) (NaN included). */
static int id_of(float v, int n) {
    return (v >= 0.0f && v < (float)n && v == (float)(int)v) ? (int)v : -1;
}

void st_embedding_forward(float *out, const float *ids, const float *W, int M, int n, int dim) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        int id = id_of(ids[m], n);
        float *row = out + (size_t)m * dim;
        if (id >= 0) memcpy(row, W + (size_t)id * dim, sizeof(float) * dim);
        else memset(row, 0, sizeof(float) * dim);
    }
}

void st_embedding_backward(float *dW, const float *dout, const float *ids, int M, int n, int dim) {
    int n_ranges = (long)M * dim < 16384 ? 1 : omp_get_max_threads();
    if (n_ranges > n) n_ranges = n;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < n_ranges; r++) {
        int lo = (int)((long)n * r / n_ranges), hi = (int)((long)n * (r + 1) / n_ranges);
        for (int m = 0; m < M; m++) {
            int id = id_of(ids[m], n);
            if (id < lo || id >= hi) continue; /* an invalid id (-1) is below every range */
            float *row = dW + (size_t)id * dim;
            const float *g = dout + (size_t)m * dim;
            for (int k = 0; k < dim; k++) row[k] += g[k];
        }
    }
}

/* 1 / Σ_j x[j] (summed in order, in double), or 0 when the sum is not a positive finite number. */
static float bag_scale(const float *x, int n) {
    double s = 0;
    for (int j = 0; j < n; j++) s += x[j];
    return s > 0 && s <= FLT_MAX ? (float)(1.0 / s) : 0.0f;
}

void st_embedding_bag_forward(float *out, const float *x, const float *W, int mean, int M, int n, int dim) {
    float one = 1.0f, zero = 0.0f;
    /* out[M,dim] = x[M,n] · W[n,dim] */
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, dim, n, &one, (float *)x, n, 1, (float *)W, dim, 1, &zero,
              out, dim, 1);
    if (!mean) return;
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        float c = bag_scale(x + (size_t)m * n, n), *row = out + (size_t)m * dim;
        if (c == 0.0f) memset(row, 0, sizeof(float) * dim);
        else for (int k = 0; k < dim; k++) row[k] *= c;
    }
}

/* din[m, :] -= Σ_k g[m, k]·out[m, k]: the mean's denominator depends on every x[m, j]. */
static void bag_mean_correction(float *din, const float *g, const float *out, int M, int n, int dim) {
    #pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        double c = 0;
        for (int k = 0; k < dim; k++) c += (double)g[(size_t)m * dim + k] * out[(size_t)m * dim + k];
        float *row = din + (size_t)m * n;
        for (int j = 0; j < n; j++) row[j] -= (float)c;
    }
}

void st_embedding_bag_backward(float *din, float *dW, float *g, const float *dout, const float *x,
                               const float *out, const float *W, int mean, int M, int n, int dim) {
    float one = 1.0f, zero = 0.0f;
    const float *gd = dout;
    if (mean) {
        #pragma omp parallel for schedule(static)
        for (int m = 0; m < M; m++) {
            float c = bag_scale(x + (size_t)m * n, n);
            for (int k = 0; k < dim; k++) g[(size_t)m * dim + k] = dout[(size_t)m * dim + k] * c;
        }
        gd = g;
    }
    /* dW[n,dim] += (x[M,n])ᵀ · g[M,dim] */
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, n, dim, M, &one, (float *)x, n, 1, (float *)gd, dim, 1, &one, dW,
              dim, 1);
    if (!din) return;
    /* din[M,n] = g[M,dim] · (W[n,dim])ᵀ */
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, n, dim, &one, (float *)gd, dim, 1, (float *)W, dim, 1, &zero, din,
              n, 1);
    if (mean) bag_mean_correction(din, gd, out, M, n, dim);
}

/* ---- layer kinds ---- */

enum { MAX_ID_ROWS = 1 << 24 };

#define REG_HELP "L2 penalty on the table: loss += embedding_reg/2 * ||W||^2 (the table has no inherited weight decay)"

enum { E_N, E_DIM, E_REG, N_EMB_KEYS };
static const st_key_t embedding_keys[N_EMB_KEYS] = {
    [E_N] = {"n", ST_K_INT, NULL, 1, 1e15, NULL, "table rows: ids are integers in [0, n) (n <= 2^24: exact in float32)"},
    [E_DIM] = {"dim", ST_K_INT, NULL, 1, 1e6, NULL, "values per id (table columns)"},
    [E_REG] = {"embedding_reg", ST_K_NUM, "0", 0, 1e300, NULL, REG_HELP},
};

enum { G_DIM, G_MODE, G_REG, N_BAG_KEYS };
static const st_key_t bag_keys[N_BAG_KEYS] = {
    [G_DIM] = {"dim", ST_K_INT, NULL, 1, 1e6, NULL, "values per item (table columns)"},
    [G_MODE] = {"mode", ST_K_ENUM, "\"mean\"", 0, 0, "mean|sum",
                "sum = sum over j of x_j * W[j]; mean = that over sum of x_j (an empty row gives zeros)"},
    [G_REG] = {"embedding_reg", ST_K_NUM, "0", 0, 1e300, NULL, REG_HELP},
};

/* Declares the table W [rows, dim] and sets the output shape: `per_position` values per position. */
static st_status_t add_table(st_layer_t *L, int rows, int dim, long per_position, double reg, st_error_t *err) {
    int T = st_shape_positions(L->in_shape);
    if (per_position * T > 0x7fffffffL)
        return st_fail(err, ST_ERR_SHAPE, "%s.dim: %ld outputs per position x %d positions are too many", L->path,
                       per_position, T);
    L->out_shape = L->in_shape.rank == 1 ? st_shape1((int)per_position) : st_shape2(T, (int)per_position);
    st_layer_add_param(L, "weight", (size_t)rows * dim, 0);
    L->params[0].l2 = (float)reg;
    return ST_OK;
}

static st_status_t embedding_setup(st_layer_t *L, st_error_t *err) {
    if (L->opt[E_N].i > MAX_ID_ROWS)
        return st_fail(err, ST_ERR_CONFIG, "%s.n: %ld rows are more than 2^24 = %d: ids are stored as float32, exact only "
                       "below 2^24", L->path, L->opt[E_N].i, MAX_ID_ROWS);
    int dim = (int)L->opt[E_DIM].i;
    return add_table(L, (int)L->opt[E_N].i, dim, (long)st_shape_channels(L->in_shape) * dim, L->opt[E_REG].num, err);
}

static st_status_t bag_setup(st_layer_t *L, st_error_t *err) {
    int dim = (int)L->opt[G_DIM].i;
    L->scratch_per_sample = (long)st_shape_positions(L->in_shape) * dim; /* g of the mean's backward */
    return add_table(L, st_shape_channels(L->in_shape), dim, dim, L->opt[G_REG].num, err);
}

static void table_init(st_layer_t *L, uint64_t seed) { st_init_normal(L, 0, 1.0f, seed); }

static void embedding_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    st_embedding_forward(out, in, L->params[0].data, (int)(B * st_shape_numel(L->in_shape)), (int)L->opt[E_N].i,
                         (int)L->opt[E_DIM].i);
}

static void embedding_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                                     const float *in, const float *out, int B) {
    (void)ctx, (void)out;
    size_t M = (size_t)B * st_shape_numel(L->in_shape);
    st_embedding_backward(L->params[0].grad, dout, in, (int)M, (int)L->opt[E_N].i, (int)L->opt[E_DIM].i);
    if (din) memset(din, 0, M * sizeof(float)); /* ids get no gradient */
}

static int is_mean(const st_layer_t *L) { return strcmp(L->opt[G_MODE].s, "mean") == 0; }

static void bag_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    (void)ctx;
    st_embedding_bag_forward(out, in, L->params[0].data, is_mean(L), B * st_shape_positions(L->in_shape),
                             st_shape_channels(L->in_shape), (int)L->opt[G_DIM].i);
}

static void bag_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                               const float *in, const float *out, int B) {
    (void)ctx;
    st_embedding_bag_backward(din, L->params[0].grad, L->scratch, dout, in, out, L->params[0].data, is_mean(L),
                              B * st_shape_positions(L->in_shape), st_shape_channels(L->in_shape),
                              (int)L->opt[G_DIM].i);
}

/* The first element of in [B, numel(in_shape)] that `ok` refuses, in row-major order. */
static int first_bad(const st_layer_t *L, const float *in, int B, int (*ok)(const st_layer_t *, float), int *bad_row,
                     int *bad_col, float *bad_value) {
    long D = st_shape_numel(L->in_shape);
    for (int b = 0; b < B; b++)
        for (long j = 0; j < D; j++) {
            float v = in[(size_t)b * D + j];
            if (ok(L, v)) continue;
            *bad_row = b, *bad_col = (int)j, *bad_value = v;
            return 1;
        }
    return 0;
}

static int id_ok(const st_layer_t *L, float v) { return id_of(v, (int)L->opt[E_N].i) >= 0; }
static int weight_ok(const st_layer_t *L, float v) { (void)L; return v >= 0.0f && v <= FLT_MAX; }

static int embedding_check(const st_layer_t *L, const float *in, int B, int *bad_row, int *bad_col, float *bad_value) {
    return first_bad(L, in, B, id_ok, bad_row, bad_col, bad_value);
}

static int bag_check(const st_layer_t *L, const float *in, int B, int *bad_row, int *bad_col, float *bad_value) {
    return first_bad(L, in, B, weight_ok, bad_row, bad_col, bad_value);
}

static void embedding_rule(const st_layer_t *L, float value, char *params, size_t params_size, char *rule,
                           size_t rule_size) {
    int n = (int)L->opt[E_N].i;
    st_format(params, params_size, "n = %d", n);
    st_format(rule, rule_size, "id %.9g is not an integer in [0, %d)", value, n);
}

static void bag_rule(const st_layer_t *L, float value, char *params, size_t params_size, char *rule, size_t rule_size) {
    st_format(params, params_size, "n = %d, mode = %s", st_shape_channels(L->in_shape), L->opt[G_MODE].s);
    st_format(rule, rule_size, "weight %.9g is not a finite number >= 0 (a multi-hot row holds 0/1 or weights >= 0)",
              value);
}

/* A gather forward (0); ids get no gradient (din 0); dW adds each looked-up row: P·C·dim. */
static void embedding_flops(const st_layer_t *L, st_layer_flops_t *f) {
    f->forward = 0, f->backward_input = 0, f->backward_rest = (double)st_shape_numel(L->out_max);
}

const st_layer_kind_t st_kind_embedding = {
    .type = "embedding",
    .help = "each input value is an id in [0, n) selecting a row of one table [n, dim]: [D] -> [D*dim] "
            "(nn.Embedding then flatten; [T, C] -> [T, C*dim]); init N(0, 1); ids get no gradient",
    .keys = embedding_keys, .n_keys = N_EMB_KEYS, .setup = embedding_setup, .init = table_init,
    .forward = embedding_layer_forward, .backward = embedding_layer_backward, .check_input = embedding_check,
    .input_rule = embedding_rule,
    .flops = embedding_flops,
};

/* Per position x [n] · W [n, dim]: forward 2·n·dim (mean: + n for the weights' sum and dim for
 * the division); din 2·n·dim; dW 2·n·dim. */
static void bag_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double P = st_shape_positions(L->in_max), n = st_shape_channels(L->in_max), dim = (double)L->opt[G_DIM].i;
    double mean = strcmp(L->opt[G_MODE].s, "mean") == 0 ? P * (n + dim) : 0;
    f->forward = 2 * P * n * dim + mean, f->backward_input = 2 * P * n * dim, f->backward_rest = 2 * P * n * dim;
}

const st_layer_kind_t st_kind_embedding_bag = {
    .type = "embedding_bag",
    .help = "a multi-hot row x [n] (0/1 or weights >= 0) -> [dim] = sum of x_j * W[j], or its mean (nn.EmbeddingBag; "
            "per position on [T, n]); one GEMM; init N(0, 1)",
    .keys = bag_keys, .n_keys = N_BAG_KEYS, .setup = bag_setup, .init = table_init, .forward = bag_layer_forward,
    .backward = bag_layer_backward, .check_input = bag_check, .input_rule = bag_rule,
    .flops = bag_flops,
};
