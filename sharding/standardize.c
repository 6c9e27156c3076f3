/* standardize.c — per-feature mean/std from shard partials combined in shard order, and their
 * application; the rules are in standardize.h and docs/sharding.md. */
#include "standardize.h"

#include <math.h>
#include <string.h>

/* Pass 1 (Σx and the count) or pass 2 (Σ(x − mean)², mean already in the partial) of the
 * unmasked partial, added to it over more rows. */
static void accumulate(double *partial, const float *X, const int64_t *idx, int64_t n_rows, int T, int F, int pass) {
    double *mean = partial + 1, *m2 = partial + 1 + F;
    int64_t row_len = (int64_t)T * F;
    for (int64_t i = 0; i < n_rows; i++) {
        const float *row = X + (idx ? idx[i] : i) * row_len;
        for (int t = 0; t < T; t++)
            for (int f = 0; f < F; f++) {
                if (pass == 1) {
                    mean[f] += row[(int64_t)t * F + f];
                    continue;
                }
                double d = row[(int64_t)t * F + f] - mean[f];
                m2[f] += d * d;
            }
    }
    if (pass == 1) partial[0] += (double)n_rows * T;
}

static void accumulate_masked(double *partial, const float *X, const int32_t *len, const int64_t *idx, int64_t n_rows,
                              int T, int F, int C, int pass) {
    double *cnt = partial, *mean = partial + F, *m2 = partial + 2 * (int64_t)F;
    int64_t row_len = (int64_t)T * F;
    for (int64_t i = 0; i < n_rows; i++) { /* row order, value order */
        int64_t r = idx ? idx[i] : i, valid = (int64_t)len[r] * C;
        const float *row = X + r * row_len;
        for (int64_t k = 0; k < valid && k < row_len; k++) {
            if (pass == 1) {
                cnt[k % F] += 1, mean[k % F] += row[k];
                continue;
            }
            double d = row[k] - mean[k % F];
            m2[k % F] += d * d;
        }
    }
}

void st_standardize_accumulate(double *partial, const float *X, const int32_t *len, const int64_t *idx, int64_t n_rows,
                               int T, int F, int C, int pass) {
    if (len) accumulate_masked(partial, X, len, idx, n_rows, T, F, C, pass);
    else accumulate(partial, X, idx, n_rows, T, F, pass);
}

void st_standardize_means(double *partial, int F, int masked) {
    if (masked) {
        for (int f = 0; f < F; f++) partial[F + f] = partial[f] > 0 ? partial[F + f] / partial[f] : 0;
        return;
    }
    if (partial[0] == 0) return;
    for (int f = 0; f < F; f++) partial[1 + f] /= partial[0];
}

void st_standardize_partial(double *partial, const float *X, const int64_t *idx, int64_t n_rows, int T, int F) {
    memset(partial, 0, (size_t)st_std_partial_len(F) * sizeof(double));
    accumulate(partial, X, idx, n_rows, T, F, 1);
    if (n_rows == 0) return;
    st_standardize_means(partial, F, 0);
    accumulate(partial, X, idx, n_rows, T, F, 2);
}

st_status_t st_standardize_combine(double *mean, double *std, const double *partials, int S, int F, double floor,
                                   st_error_t *err) {
    if (floor <= 0) floor = ST_STD_FLOOR_DEFAULT;
    int64_t len = st_std_partial_len(F);
    double n = 0;
    for (int f = 0; f < F; f++) mean[f] = 0, std[f] = 0; /* std holds M2 until the end */
    for (int s = 0; s < S; s++) {
        const double *p = partials + s * len;
        double nb = p[0];
        if (nb <= 0) continue;
        double nt = n + nb;
        for (int f = 0; f < F; f++) {
            double delta = p[1 + f] - mean[f];
            mean[f] += delta * (nb / nt);
            std[f] += p[1 + F + f] + delta * delta * (n * nb / nt);
        }
        n = nt;
    }
    if (n <= 0) return st_fail(err, ST_ERR_DATA, "standardisation: the training split has no samples");
    for (int f = 0; f < F; f++) {
        double sd = sqrt(std[f] / n);
        if (!isfinite(mean[f]) || !isfinite(sd))
            return st_fail(err, ST_ERR_NUMERIC, "standardisation: feature %d has mean %g and std %g (non-finite input?)",
                           f, mean[f], sd);
        std[f] = sd <= floor * fmax(1.0, fabs(mean[f])) ? 1.0 : sd;
    }
    return ST_OK;
}

void st_standardize_apply(float *X, const double *mean, const double *std, int64_t n_rows, int T, int F) {
    int64_t row_len = (int64_t)T * F;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_rows; i++) {
        float *row = X + i * row_len;
        for (int t = 0; t < T; t++)
            for (int f = 0; f < F; f++) {
                float *x = row + (int64_t)t * F + f;
                *x = (float)((*x - mean[f]) / std[f]);
            }
    }
}

void st_scale_pixels(float *X, int64_t n_values) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_values; i++) X[i] /= 255.0f;
}

void st_std_layout(int *T, int *F, int numel, int channels, st_std_mode_t mode, int n_stats) {
    if (n_stats >= 0) mode = n_stats == channels ? ST_STD_CHANNEL : n_stats == 1 ? ST_STD_GLOBAL : ST_STD_POSITION;
    if (mode == ST_STD_GLOBAL) *T = numel, *F = 1;
    else if (mode == ST_STD_POSITION) *T = 1, *F = numel;
    else *T = numel / channels, *F = channels;
}

/* ---- with lengths: per-statistic counts, valid values only ----------------------------------- */

void st_standardize_partial_masked(double *partial, const float *X, const int32_t *len, const int64_t *idx,
                                   int64_t n_rows, int T, int F, int C) {
    memset(partial, 0, (size_t)st_std_partial_len_masked(F) * sizeof(double));
    accumulate_masked(partial, X, len, idx, n_rows, T, F, C, 1);
    st_standardize_means(partial, F, 1);
    accumulate_masked(partial, X, len, idx, n_rows, T, F, C, 2);
}

st_status_t st_standardize_combine_masked(double *mean, double *std, const double *partials, int S, int F, double floor,
                                          st_error_t *err) {
    if (floor <= 0) floor = ST_STD_FLOOR_DEFAULT;
    int64_t len = st_std_partial_len_masked(F);
    double total = 0;
    for (int f = 0; f < F; f++) {
        double n = 0, m = 0, m2 = 0;
        for (int s = 0; s < S; s++) {
            const double *p = partials + s * len;
            double nb = p[f];
            if (nb <= 0) continue;
            double nt = n + nb, delta = p[F + f] - m;
            m += delta * (nb / nt);
            m2 += p[2 * (int64_t)F + f] + delta * delta * (n * nb / nt);
            n = nt;
        }
        total += n;
        double sd = n > 0 ? sqrt(m2 / n) : 1.0;
        if (!isfinite(m) || !isfinite(sd))
            return st_fail(err, ST_ERR_NUMERIC, "standardisation: feature %d has mean %g and std %g (non-finite input?)",
                           f, m, sd);
        mean[f] = m;
        std[f] = n <= 0 || sd <= floor * fmax(1.0, fabs(m)) ? 1.0 : sd;
    }
    if (total <= 0) return st_fail(err, ST_ERR_DATA, "standardisation: the training split has no samples");
    return ST_OK;
}

void st_standardize_apply_masked(float *X, const double *mean, const double *std, const int32_t *len, int64_t n_rows,
                                 int T, int F, int C) {
    int64_t row_len = (int64_t)T * F;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_rows; i++) {
        float *row = X + i * row_len;
        int64_t valid = (int64_t)len[i] * C;
        for (int64_t k = 0; k < valid && k < row_len; k++) row[k] = (float)((row[k] - mean[k % F]) / std[k % F]);
    }
}
