/* ensemble_score.h — the metrics of predicted probabilities (or values): what `strata ensemble
 * eval` reports for every member and for the combined prediction, in the st_eval_t a run's
 * evaluation fills, so the same report code (jobs/head_report.h, st_write_metrics_json, the
 * per-class CSVs) writes them.
 *
 * Per head kind, from a record [width] per row (the one `strata predict` writes):
 *   class        softmax probabilities [K]: confusion of argmax (ties: the lowest class), loss
 *                = mean −log p[true] (p floored at 1e-12; unweighted: no class weights or label
 *                smoothing), rows with class −1 left out;
 *   multi-label  σ probabilities [K]: a label is predicted at p >= 0.5; TP/FP/FN, exact match,
 *                top-k hits (the loss's top_k, default 3) as jobs/evaluate.c counts them; loss =
 *                mean binary cross-entropy over the known labels;
 *   regression   values [K] in target units: MAE, RMSE, R² (around the training mean), loss = mean
 *                squared error in target units; NaN targets left out.
 * Sequence (ctc) heads are not scored here (an ensemble refuses them). */
#ifndef ST_ENSEMBLE_SCORE_H
#define ST_ENSEMBLE_SCORE_H

#include <stdint.h>

#include "jobs/evaluate.h"
#include "loss.h"

/* The rows' targets as the losses read them. */
typedef struct {
    int64_t n;
    const int32_t *y;        /* [n] class ids for a class head without a target (the /y path) */
    const float *T;          /* [n, tgt_floats] bound targets' values (as stored), or NULL */
    long tgt_floats;
    const int *tgt_offset;   /* [n_targets] column of target t in a row of T */
    const double *const *ref; /* [n_heads] regression reference (training mean) per head, or NULL entries */
} st_ens_targets_t;

/* The head kind of loss l (class, multi-label, regression, sequence). */
st_head_kind_t st_ens_head_kind(const st_loss_config_t *l);

/* out ← the metrics of rec [n, rec_floats] (head h's record at offset Σ widths of the heads before
 * it) against the targets; st_eval_free(out) releases it. Fails only when out of memory. */
st_status_t st_ens_score(st_eval_t *out, const st_loss_heads_t *losses, const double *rec /*[n, rec_floats]*/,
                         int rec_floats, const st_ens_targets_t *t, st_error_t *err);

#endif
