/* metrics.h — classification metrics over logits [B, K] (float32, batch-major) and labels [B]:
 * confusion counts, accuracy and top-k counts, per-class precision / recall / F1 and macro F1,
 * and how diverse the predictions are (to spot a model that collapsed onto one class).
 *
 * Everything that is summed over rows is an int64 COUNT that callers add up over batches and
 * ranks (confusion matrix, correct counts, prediction histogram); the ratios are computed once
 * from the global counts, so they do not depend on how the rows were split.
 *
 * Ranking of the classes of a row (used by argmax and top-k): a larger logit ranks higher; equal
 * logits rank the lower class index higher; NaN ranks below every number (NaNs among themselves
 * by index). So the prediction is the first maximal class, and top-1 agrees with argmax. */
#ifndef ST_METRICS_H
#define ST_METRICS_H

#include <stdint.h>

/* The predicted class of one row: the largest logit, lowest index on ties (see ranking above). */
int st_argmax(const float *row /*[K]*/, int K);

/* conf [K, K] += counts of (true class = row, predicted class = column). Labels outside [0, K)
 * are skipped (callers validate labels when loading data). */
void st_confusion_add(int64_t *conf /*[K,K]*/, const float *logits /*[B,K]*/,
                      const int32_t *labels /*[B]*/, int B, int K);

/* Rows whose label is among the k highest-ranked classes (see ranking above): rank(y) = number of
 * classes ranked above y, hit when rank(y) < k. k = 1 counts argmax hits; k >= K counts every row
 * with a valid label. */
int64_t st_topk_correct(const float *logits /*[B,K]*/, const int32_t *labels /*[B]*/, int k, int B, int K);

/* hist [K] += number of rows predicted as each class. */
void st_prediction_hist_add(int64_t *hist /*[K]*/, const float *logits /*[B,K]*/, int B, int K);

/* Accuracy from a confusion matrix: trace / total (0 when empty). */
double st_confusion_accuracy(const int64_t *conf /*[K,K]*/, int K);

/* Column sums of a confusion matrix: the histogram of predicted classes. */
void st_confusion_pred_hist(int64_t *hist /*[K]*/, const int64_t *conf /*[K,K]*/, int K);

/* Per-class scores from a confusion matrix, like scikit-learn with zero_division=0:
 *   precision[c] = conf[c,c] / Σ_r conf[r,c]   (0 when class c was never predicted)
 *   recall[c]    = conf[c,c] / Σ_j conf[c,j]   (0 when class c has no support)
 *   f1[c]        = 2·P·R / (P + R)             (0 when P + R = 0)
 * support [K] (may be NULL) gets Σ_j conf[c,j]. Any output may be NULL. Returns the macro F1:
 * the mean of f1 over the classes that occur as a label or as a prediction (scikit-learn's
 * f1_score(average='macro') over the labels present in y_true ∪ y_pred); 0 when conf is empty. */
double st_class_scores(double *precision /*[K]*/, double *recall /*[K]*/, double *f1 /*[K]*/,
                       int64_t *support /*[K]*/, const int64_t *conf /*[K,K]*/, int K);

typedef struct {
    int n_distinct;       /* classes predicted at least once */
    double top_share;     /* share of the rows given the most common prediction */
    double norm_entropy;  /* H / log K, H = −Σ q_c log q_c over the prediction shares q:
                           * 1 = uniform over all K classes, 0 = one class only. K = 1: 0 (a
                           * single class cannot spread). No rows: all fields 0. */
} st_pred_diversity_t;

/* Diversity of the predictions from their histogram (st_prediction_hist_add or the confusion
 * matrix's column sums). */
st_pred_diversity_t st_pred_diversity(const int64_t *hist /*[K]*/, int K);

#endif
