/* head_report.h — the named metrics of a multi-task run: every head's train and validation
 * metrics as (name, value) pairs for history.jsonl, the monitors (early stopping, best
 * checkpoint, plateau) and the training-health warnings.
 *
 * Names: "<split>_<metric>" for a run with one head (the names single-head runs always had:
 * val_loss, val_accuracy, val_macro_f1, or val_mae, val_rmse, val_r2, or val_f1, val_exact_match,
 * val_topk, or val_wer, val_cer, val_token_accuracy, val_exact_match), and "<split>_<metric>.<head>" per head when there are several, plus the combined
 * "<split>_loss" = Σ_h head_weight_h · mean loss_h. Metrics by head kind:
 *   class        loss, accuracy, macro_f1
 *   multi-label  loss, f1 (micro, at 0.5), macro_f1 (over labels), exact_match, topk
 *   regression   loss, mae, rmse, r2 (means over the columns, in target units)
 *   sequence     loss, wer, cer, token_accuracy, exact_match (ctc; ratios, WER 0.05 = 5%)
 * Training metrics are the loss (and accuracy for class heads) over the epoch's batches. */
#ifndef ST_HEAD_REPORT_H
#define ST_HEAD_REPORT_H

#include <stdio.h>

#include "jobs/evaluate.h"
#include "loss.h"
#include "sharding/dataset.h"

#define ST_METRICS_MAX 128
#define ST_METRIC_NAME 64

typedef struct {
    int n;
    char name[ST_METRICS_MAX][ST_METRIC_NAME];
    double value[ST_METRICS_MAX];
} st_metric_table_t;

void st_metric_table_add(st_metric_table_t *t, const char *name, double value);
/* The value of `name`, or NaN when the table has no such metric. */
double st_metric_table_get(const st_metric_table_t *t, const char *name);
int st_metric_table_has(const st_metric_table_t *t, const char *name);

/* "val" metrics of every head from an evaluation (r NULL: the names only, values NaN — what a
 * run will record, for checking monitor names before training). */
void st_head_report_val(st_metric_table_t *t, const char *split, const st_eval_t *r, const st_loss_heads_t *l,
                        const st_dataset_t *ds);

/* One line per head of an evaluation (the end of `strata train`, `strata eval`), e.g.
 *   "  test fine         accuracy 47.17%  macro F1 0.4158  loss 2.1995  (600 rows)"
 *   "  test intensity    R2 0.9328  MAE 0.02336  RMSE 0.0333  loss 0.0719" */
void st_head_report_print(FILE *out, const char *split, const st_eval_t *r, const st_loss_heads_t *l,
                          const st_dataset_t *ds);

/* Epoch sums of the training batches: per loss (sum, weight), argmax hits and labelled rows. */
typedef struct {
    st_loss_value_t head[ST_LOSS_MAX_HEADS];
    int64_t correct[ST_LOSS_MAX_HEADS], labelled[ST_LOSS_MAX_HEADS];
} st_train_sums_t;

void st_head_report_train(st_metric_table_t *t, const st_train_sums_t *s, const st_loss_heads_t *l,
                          const st_dataset_t *ds);

/* Training health (monitors.head_share_max, monitors.gap_max): each head's share of the
 * combined training loss ("loss_share.<head>", several heads only) and the relative
 * train/validation gap ("gap" = (val_loss − train_loss) / train_loss) are added to t; warn[]
 * gets a warning when a share or the gap passes its threshold ("" otherwise). */
void st_head_report_health(st_metric_table_t *t, const st_train_sums_t *s, const st_loss_heads_t *l,
                           const st_dataset_t *ds, double val_loss, double train_loss, double share_max,
                           double gap_max, char *warn, size_t warn_size);

#endif
