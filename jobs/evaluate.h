/* evaluate.h — the metrics of a model on the rows of a split that the ranks hold between them,
 * every loss (head) with the metrics of its kind, identical on every rank:
 *   class (cross_entropy, focal):  loss, confusion counts → accuracy, macro F1, per-class table;
 *   multi-label (bce):             loss, per-label TP/FP/FN → micro and macro F1 at 0.5, exact
 *                                  match, top-k hit rate (rows whose k best-scored labels hold
 *                                  at least one true label);
 *   regression (mse, mae, huber):  loss (in training units, standardised when the loss is),
 *                                  and on de-standardised predictions per column MAE, RMSE, R²;
 *   sequence (ctc):                loss, and on the decoded sequences (greedy, or prefix beam
 *                                  search with the loss's beam_width) WER (token edits / reference
 *                                  tokens), CER (the same over the characters of the tokens joined
 *                                  by a space — without one when every token is one character),
 *                                  token accuracy and sequence exact match.
 * Rows with a missing target (class −1, NaN) are left out of that head's loss and metrics.
 *
 * Each rank runs its rows in eval mode, ST_DATA_EVAL_ROWS rows per forward pass (its block of a
 * part starts at a multiple of that, sharding/data.h, so every pass holds the same rows at any
 * rank count). Counts are int64 sums; the sums of reals (losses, errors) are kept per block of
 * ST_DATA_EVAL_ROWS rows and added in block order on every rank, so the totals have the same
 * bits whichever rank evaluated which rows. Two collectives: one all-reduce of the counts (with
 * a failure count: a rank that fails makes every rank fail), one all-gather of the block sums.
 * The training job calls it for val and test, `strata eval` for any dataset. */
#ifndef ST_EVALUATE_H
#define ST_EVALUATE_H

#include <stdint.h>

#include "edit_distance.h"
#include "loss.h"
#include "model.h"
#include "mpi/comm.h"
#include "sharding/data.h"

typedef enum { ST_HEAD_CLASS, ST_HEAD_MULTILABEL, ST_HEAD_REGRESSION, ST_HEAD_SEQUENCE } st_head_kind_t;

/* One loss's evaluation. Arrays are owned (st_eval_free). */
typedef struct {
    st_head_kind_t kind;
    int K;                         /* classes, labels or columns */
    double loss_sum, weight;       /* Σ w·ℓ and Σ w over all rows (training units) */
    int64_t n;                     /* rows with a target (class: labelled rows) */
    int64_t *confusion;            /* class: [K, K], row = true class */
    int64_t *tp, *fp, *fn;         /* multi-label: [K] each */
    int64_t exact, topk;           /* multi-label: exact-match rows, top-k hit rows */
    int top_k;
    int64_t *count;                /* regression: [K] values per column */
    double *abs_err, *sq_err;      /* regression: [K] Σ|e|, Σe² (target units) */
    double *dev, *dev_sq;          /* regression: [K] Σ(t − m0), Σ(t − m0)² around m0 = ref[k] */
    double *ref;                   /* regression: [K] the reference m0 (training mean, or 0) */
    st_seqscore_t words, chars;    /* sequence: token and character edit counts */
} st_head_eval_t;

/* Derived metrics of one head (NaN where they do not apply or have no rows). */
typedef struct {
    double loss, accuracy, macro_f1;      /* class (loss: every kind) */
    double micro_f1, label_macro_f1, exact_match, topk_rate; /* multi-label */
    double mae, rmse, r2;                 /* regression: means over the columns */
    double wer, cer, token_accuracy;      /* sequence (exact_match: sequences equal to their reference) */
} st_head_metrics_t;

typedef struct {
    double loss_sum, weight;       /* loss 0's sums (kept for single-head callers) */
    int64_t *confusion;            /* loss 0's confusion when it is a class loss (a view), else NULL */
    int K;                         /* loss 0's K */
    int64_t n;                     /* loss 0's rows */
    int n_heads;
    st_head_eval_t heads[ST_LOSS_MAX_HEADS];
} st_eval_t;

/* Evaluates this rank's rows of part `part` of d with every loss of `losses` (each bound to its
 * target, jobs/heads.h; a class loss without one reads part.y), `chunk` rows per forward pass
 * (the model must be reserved for that many), and reduces over ranks. Collective: on failure
 * every rank returns an error. */
st_status_t st_evaluate(st_eval_t *out, st_model_t *model, const st_loss_heads_t *losses, const st_data_t *d,
                        int part, int chunk, const st_comm_t *c, st_error_t *err);
void st_eval_free(st_eval_t *ev);

/* Called for every row of a sequence head as it is decoded (on the rank that evaluates it, rows in
 * ascending order per rank): loss index h, the row's id in the dataset, its reference and its
 * decoded tokens. */
typedef void (*st_eval_seq_fn)(void *ctx, int h, int64_t row_id, const int32_t *ref, int n_ref, const int32_t *hyp,
                               int n_hyp);

/* st_evaluate that also hands every decoded sequence to `sink` (may be NULL). */
st_status_t st_evaluate_rows(st_eval_t *out, st_model_t *model, const st_loss_heads_t *losses, const st_data_t *d,
                             int part, int chunk, const st_comm_t *c, st_eval_seq_fn sink, void *sink_ctx,
                             st_error_t *err);

/* The characters CER compares for a token sequence: the tokens' names joined by a space, or
 * without one when every name in the vocabulary [V] is one character. Returns a malloc'd
 * string (NULL when out of memory). */
char *st_seq_text(const char (*vocab)[64], int V, const int32_t *tokens, int n);

void st_head_metrics(st_head_metrics_t *m, const st_head_eval_t *h);
/* Per-column regression metrics of column k. */
void st_head_column_metrics(const st_head_eval_t *h, int k, double *mae, double *rmse, double *r2);

#endif
