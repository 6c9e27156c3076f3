/* ensemble_score.c — see ensemble_score.h: confusion, label counts and regression sums of
 * probability (or value) records, filled into an st_eval_t as jobs/evaluate.c fills it. */
#include "jobs/ensemble_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

st_head_kind_t st_ens_head_kind(const st_loss_config_t *l) {
    return st_loss_uses_labels(l) ? ST_HEAD_CLASS : st_loss_is_regression(l) ? ST_HEAD_REGRESSION
         : st_loss_is_sequence(l) ? ST_HEAD_SEQUENCE : ST_HEAD_MULTILABEL;
}

/* Row i's value k of loss l's target (as stored). */
static double target(const st_ens_targets_t *t, const st_loss_config_t *l, int64_t i, int k) {
    return t->T[(size_t)i * (size_t)t->tgt_floats + (size_t)t->tgt_offset[l->target_index] + (size_t)k];
}

static int argmax_d(const double *p, int K) {
    int best = 0;
    for (int k = 1; k < K; k++) best = p[k] > p[best] ? k : best;
    return best;
}

static void score_class(st_head_eval_t *he, const st_loss_config_t *l, const double *rec, int rf, int off,
                        const st_ens_targets_t *t) {
    int K = he->K;
    for (int64_t i = 0; i < t->n; i++) {
        int lab = l->target_index < 0 ? t->y[i] : (int)target(t, l, i, 0);
        if (lab < 0 || lab >= K) continue;
        const double *p = rec + (size_t)i * (size_t)rf + off;
        he->confusion[(size_t)lab * K + argmax_d(p, K)]++;
        he->n++, he->weight += 1, he->loss_sum += -log(p[lab] > 1e-12 ? p[lab] : 1e-12);
    }
}

/* Labels scored above label k in p (ties: lower index first), as jobs/evaluate.c ranks logits. */
static int label_rank(const double *p, int k, int K) {
    int r = 0;
    for (int j = 0; j < K; j++) r += p[j] > p[k] || (p[j] == p[k] && j < k);
    return r;
}

static void score_multilabel(st_head_eval_t *he, const st_loss_config_t *l, const double *rec, int rf, int off,
                             const st_ens_targets_t *t) {
    int K = he->K;
    for (int64_t i = 0; i < t->n; i++) {
        const double *p = rec + (size_t)i * (size_t)rf + off;
        int all = 1, hit = 0;
        for (int k = 0; k < K; k++) {
            double v = target(t, l, i, k);
            if (isnan(v)) continue;
            int pred = p[k] >= 0.5, truth = v >= 0.5;
            he->tp[k] += pred && truth, he->fp[k] += pred && !truth, he->fn[k] += !pred && truth;
            all &= pred == truth;
            if (truth && label_rank(p, k, K) < he->top_k) hit = 1;
            double q = p[k] < 1e-12 ? 1e-12 : p[k] > 1 - 1e-12 ? 1 - 1e-12 : p[k];
            he->loss_sum += -(truth ? log(q) : log(1 - q)), he->weight += 1;
        }
        he->n++, he->exact += all, he->topk += hit;
    }
}

static void score_regression(st_head_eval_t *he, const st_loss_config_t *l, const double *rec, int rf, int off,
                             const st_ens_targets_t *t) {
    int K = he->K;
    for (int64_t i = 0; i < t->n; i++) {
        const double *p = rec + (size_t)i * (size_t)rf + off;
        for (int k = 0; k < K; k++) {
            double v = target(t, l, i, k);
            if (isnan(v)) continue;
            double e = p[k] - v, m = v - he->ref[k];
            he->count[k]++, he->abs_err[k] += fabs(e), he->sq_err[k] += e * e, he->dev[k] += m, he->dev_sq[k] += m * m;
            he->loss_sum += e * e, he->weight += 1;
        }
        he->n++;
    }
}

/* Head h's arrays, as jobs/evaluate.c allocates them (st_eval_free frees them). */
static int alloc_head(st_head_eval_t *he, const double *ref) {
    int K = he->K;
    if (he->kind == ST_HEAD_CLASS) return (he->confusion = calloc((size_t)K * K, sizeof(int64_t))) != NULL;
    if (he->kind == ST_HEAD_MULTILABEL) {
        int64_t *c = calloc(3 * (size_t)K, sizeof(int64_t));
        if (!c) return 0;
        he->tp = c, he->fp = c + K, he->fn = c + 2 * K;
        return 1;
    }
    he->count = calloc((size_t)K, sizeof(int64_t));
    he->abs_err = calloc((size_t)K, sizeof(double)), he->sq_err = calloc((size_t)K, sizeof(double));
    he->dev = calloc((size_t)K, sizeof(double)), he->dev_sq = calloc((size_t)K, sizeof(double));
    he->ref = calloc((size_t)K, sizeof(double));
    if (!he->count || !he->abs_err || !he->sq_err || !he->dev || !he->dev_sq || !he->ref) return 0;
    for (int k = 0; ref && k < K; k++) he->ref[k] = ref[k];
    return 1;
}

st_status_t st_ens_score(st_eval_t *out, const st_loss_heads_t *losses, const double *rec, int rec_floats,
                         const st_ens_targets_t *t, st_error_t *err) {
    memset(out, 0, sizeof *out);
    out->n_heads = losses->n_heads;
    for (int h = 0, off = 0; h < losses->n_heads; off += losses->heads[h].n_classes, h++) {
        const st_loss_config_t *l = &losses->heads[h];
        st_head_eval_t *he = &out->heads[h];
        he->kind = st_ens_head_kind(l), he->K = l->n_classes, he->top_k = l->top_k > 0 ? l->top_k : 3;
        if (he->kind == ST_HEAD_SEQUENCE) continue;
        if (!alloc_head(he, t->ref ? t->ref[h] : NULL)) {
            st_eval_free(out);
            return st_fail(err, ST_ERR_NOMEM, "ensemble: out of memory for the metrics of %d heads", losses->n_heads);
        }
        if (he->kind == ST_HEAD_CLASS) score_class(he, l, rec, rec_floats, off, t);
        else if (he->kind == ST_HEAD_MULTILABEL) score_multilabel(he, l, rec, rec_floats, off, t);
        else score_regression(he, l, rec, rec_floats, off, t);
    }
    const st_head_eval_t *h0 = &out->heads[0];
    out->loss_sum = h0->loss_sum, out->weight = h0->weight, out->K = h0->K, out->n = h0->n;
    out->confusion = h0->confusion;
    return ST_OK;
}
