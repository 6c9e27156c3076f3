/* ctc.c — the CTC loss and its logits gradient by the log-space forward-backward (see ctc.h for
 * the semantics). Everything after the float32 logits is float64: log_softmax, α, β and the
 * occupancies, so the loss matches PyTorch's (float32) to its own rounding. */
#include "ctc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

static double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

st_status_t st_ctc_check(const int32_t *input_len, const int32_t *targets, const int32_t *target_len,
                         int B, int T, int K, int L_max, int blank, st_error_t *err) {
    if (blank < 0 || blank >= K)
        return st_fail(err, ST_ERR_CONFIG, "ctc: blank %d outside [0, %d)", blank, K);
    for (int i = 0; i < B; i++) {
        if (input_len[i] < 0 || input_len[i] > T)
            return st_fail(err, ST_ERR_DATA, "ctc: row %d: input length %d outside [0, %d]", i,
                           input_len[i], T);
        if (target_len[i] < 0 || target_len[i] > L_max)
            return st_fail(err, ST_ERR_DATA, "ctc: row %d: target length %d outside [0, %d]", i,
                           target_len[i], L_max);
        for (int j = 0; j < target_len[i]; j++) {
            int32_t y = targets[(long)i * L_max + j];
            if (y < 0 || y >= K || y == blank)
                return st_fail(err, ST_ERR_DATA,
                               "ctc: row %d, target position %d: label %d is %s", i, j, y,
                               y == blank ? "the blank" : "outside [0, K)");
        }
    }
    return ST_OK;
}

/* lp [Ti, K] = log_softmax of each row of x [Ti, K], in double. */
static void log_softmax_rows(double *lp, const float *x, int Ti, int K) {
    for (int t = 0; t < Ti; t++) {
        const float *r = x + (long)t * K;
        double m = -INFINITY, z = 0.0;
        for (int k = 0; k < K; k++) m = r[k] > m ? r[k] : m;
        for (int k = 0; k < K; k++) z += exp(r[k] - m);
        double lz = m + log(z);
        for (int k = 0; k < K; k++) lp[(long)t * K + k] = r[k] - lz;
    }
}

/* Label of extended state s: blank at even s, y[(s−1)/2] at odd s. */
static int ext_label(const int32_t *y, int s, int blank) { return s % 2 ? y[s / 2] : blank; }

/* State s may be entered from s − 2: a label that differs from the label two states back. */
static int can_skip(const int32_t *y, int s, int blank) {
    return s >= 2 && s % 2 && ext_label(y, s - 2, blank) != ext_label(y, s, blank);
}

/* alpha [Ti, S]: log-probability of the prefixes ending in state s at step t. */
static void ctc_alpha(double *alpha, const double *lp, const int32_t *y, int Ti, int S, int K, int blank) {
    for (int s = 0; s < S; s++) alpha[s] = -INFINITY;
    alpha[0] = lp[blank];
    if (S > 1) alpha[1] = lp[y[0]];
    for (int t = 1; t < Ti; t++) {
        const double *prev = alpha + (long)(t - 1) * S;
        double *cur = alpha + (long)t * S;
        for (int s = 0; s < S; s++) {
            double a = prev[s];
            if (s >= 1) a = lse2(a, prev[s - 1]);
            if (can_skip(y, s, blank)) a = lse2(a, prev[s - 2]);
            cur[s] = a + lp[(long)t * K + ext_label(y, s, blank)];
        }
    }
}

/* beta [Ti, S]: log-probability of the suffixes after step t given state s at t (the emission at
 * t is NOT included, so α_t(s) + β_t(s) is the log-probability of all paths through (t, s)). */
static void ctc_beta(double *beta, const double *lp, const int32_t *y, int Ti, int S, int K, int blank) {
    double *last = beta + (long)(Ti - 1) * S;
    for (int s = 0; s < S; s++) last[s] = s >= S - 2 ? 0.0 : -INFINITY;
    for (int t = Ti - 2; t >= 0; t--) {
        const double *nxt = beta + (long)(t + 1) * S, *lpn = lp + (long)(t + 1) * K;
        double *cur = beta + (long)t * S;
        for (int s = 0; s < S; s++) {
            double b = nxt[s] + lpn[ext_label(y, s, blank)];
            if (s + 1 < S) b = lse2(b, nxt[s + 1] + lpn[ext_label(y, s + 1, blank)]);
            if (s + 2 < S && can_skip(y, s + 2, blank)) b = lse2(b, nxt[s + 2] + lpn[ext_label(y, s + 2, blank)]);
            cur[s] = b;
        }
    }
}

/* g [Ti, K] = softmax − occupancy, the gradient of −log p(y) w.r.t. the logits. */
static void ctc_grad(float *g, const double *lp, const double *alpha, const double *beta,
                     const int32_t *y, double loglik, int Ti, int S, int K, int blank) {
    for (int t = 0; t < Ti; t++) {
        double occ[K];
        for (int k = 0; k < K; k++) occ[k] = 0.0;
        for (int s = 0; s < S; s++) {
            double v = alpha[(long)t * S + s] + beta[(long)t * S + s];
            if (v > -INFINITY) occ[ext_label(y, s, blank)] += exp(v - loglik);
        }
        for (int k = 0; k < K; k++) g[(long)t * K + k] = (float)(exp(lp[(long)t * K + k]) - occ[k]);
    }
}

/* One sample: returns ℓ_i (+inf when no alignment exists), writes g [T, K] when non-NULL.
 * Returns −1 (NaN-free, nothing written) when work memory is missing. */
static int ctc_one(double *loss, float *g, const float *x, const int32_t *y, int Ti, int L,
                   int T, int K, int blank, int zero_infinity) {
    int S = 2 * L + 1;
    if (g) memset(g, 0, sizeof(float) * (size_t)T * (size_t)K);
    if (Ti == 0) {
        *loss = L == 0 ? 0.0 : (zero_infinity ? 0.0 : INFINITY);
        return 0;
    }
    double *lp = malloc(sizeof(double) * (size_t)Ti * (size_t)(K + 2 * S));
    if (!lp) return -1;
    double *alpha = lp + (size_t)Ti * K, *beta = alpha + (size_t)Ti * S;
    log_softmax_rows(lp, x, Ti, K);
    ctc_alpha(alpha, lp, y, Ti, S, K, blank);
    const double *aT = alpha + (long)(Ti - 1) * S;
    double loglik = S > 1 ? lse2(aT[S - 1], aT[S - 2]) : aT[0];
    if (loglik == -INFINITY) {
        *loss = zero_infinity ? 0.0 : INFINITY;
    } else {
        *loss = -loglik;
        if (g) {
            ctc_beta(beta, lp, y, Ti, S, K, blank);
            ctc_grad(g, lp, alpha, beta, y, loglik, Ti, S, K, blank);
        }
    }
    free(lp);
    return 0;
}

st_status_t st_ctc_loss_forward(double *loss, float *dlogits, const float *logits,
                                const int32_t *input_len, const int32_t *targets,
                                const int32_t *target_len, int B, int T, int K, int L_max,
                                int blank, int zero_infinity, st_error_t *err) {
    int failed_row = -1;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < B; i++) {
        long off = (long)i * T * K;
        int rc = ctc_one(&loss[i], dlogits ? dlogits + off : NULL, logits + off,
                         targets + (long)i * L_max, input_len[i], target_len[i], T, K, blank,
                         zero_infinity);
        if (rc) {
#pragma omp critical(st_ctc_fail)
            if (failed_row < 0 || i < failed_row) failed_row = i;
        }
    }
    if (failed_row >= 0)
        return st_fail(err, ST_ERR_NOMEM, "ctc: row %d: no memory for the forward-backward (T %d, L %d, K %d)",
                       failed_row, input_len[failed_row], target_len[failed_row], K);
    return ST_OK;
}

double st_ctc_reduce_mean(const double *loss, const int32_t *target_len, int B) {
    if (B <= 0) return 0.0;
    double s = 0.0;
    for (int i = 0; i < B; i++) s += loss[i] / (target_len[i] > 1 ? target_len[i] : 1);
    return s / B;
}

double st_ctc_reduce_sum(const double *loss, int B) {
    double s = 0.0;
    for (int i = 0; i < B; i++) s += loss[i];
    return s;
}
