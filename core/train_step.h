/* train_step.h — the numerics of a training step, without data movement or MPI. The distributed
 * engine (jobs/engine.c) and the single-process step below are built from the same two calls,
 * so the PyTorch fixtures that check st_train_step_local check the code that trains:
 *
 *   st_train_pass    forward (training mode) → every head's loss with a given gradient scale
 *                    → backward, over B rows that may be several micro-batches (ghost batches
 *                    for BatchNorm); parameter gradients are ADDED into the arena, so passes
 *                    accumulate;
 *   st_train_update  once the gradient is complete (summed over passes and ranks): L2
 *                    penalties → global-norm clipping → optimizer step at lr_base, unless the
 *                    gradient is non-finite or the caller asks to skip.
 *
 * st_train_step_local is one whole step on one process: zero gradients → one pass with each
 * head's grad_scale = head_weight / (that head's weight total over the batch) → update.
 *
 * Mixup and cutmix (core/mixup.h, docs/mixup.md): a pass given a plan mixes each
 * micro-batch's inputs within that micro-batch, and every loss becomes, per row i with partner j,
 *   class ids (cross_entropy, focal):  ℓ_i = λ_i·ℓ(z_i, y_i) + (1 − λ_i)·ℓ(z_i, y_j),
 *                                      weight λ_i·w(y_i) + (1 − λ_i)·w(y_j)
 *     (ℓ with the class weight and label smoothing as today, so λ = 1 is the plain loss);
 *   target values (bce, mse, mae, huber): the target λ_i·t_i + (1 − λ_i)·t_j, weight as today;
 *   normalised by the sum of weights over the global batch as today. A missing target on one
 *   side: a class label −1 adds no loss and no weight, so the row keeps the present side with its
 *   λ share (loss and weight); a missing (NaN) target value takes the present side's value, at
 *   full weight; missing on both sides stays missing. */
#ifndef ST_TRAIN_STEP_H
#define ST_TRAIN_STEP_H

#include <stdint.h>

#include "loss.h"
#include "mixup.h"
#include "model.h"
#include "optim.h"

typedef struct {
    st_model_t *model;
    const st_loss_heads_t *losses;  /* one loss per model head; head "" = the model's head 0 */
    st_optim_t *optim;
    double clip_norm;               /* global-norm clipping threshold; 0 = off */
} st_step_parts_t;

/* What one micro-batch of a pass contributed. */
typedef struct {
    st_loss_value_t head[ST_LOSS_MAX_HEADS]; /* each loss's sum and weight total */
    int64_t correct[ST_LOSS_MAX_HEADS];      /* class-id losses: argmax hits among labelled rows
                                                (a mixed row: the label of its larger share) */
    int64_t labelled[ST_LOSS_MAX_HEADS];     /* class-id losses: rows with a label (not −1) */
} st_micro_sums_t;

/* What each loss of a pass reads: labels [B] (class ids, −1 = missing) for cross_entropy and
 * focal, targets [B, K] (NaN = missing) for the others. Loss i reads entry i. */
typedef struct {
    const int32_t *labels[ST_LOSS_MAX_HEADS];
    const float *targets[ST_LOSS_MAX_HEADS];
} st_batch_targets_t;

/* x [B, numel(input)]; tg: every loss's labels or targets for the B rows. The B rows are n_micro
 * micro-batches of B / n_micro rows (n_micro divides B; ctx->ghost_batch should then be
 * B / n_micro so BatchNorm normalises each on its own). grad_scale [n_heads]: each loss's
 * gradient scale. sums [n_micro] are written. The forward checks layer inputs that have rules
 * (embedding ids: st_model_forward_checked) and fails naming the row (ctx->sample_index). */
st_status_t st_train_pass(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                          const st_batch_targets_t *tg, int B, int n_micro, const float *grad_scale,
                          st_micro_sums_t *sums, st_error_t *err);

/* The same with the mixing plan of its rows: plan [B] (partners counted within each micro-batch
 * of B / n_micro rows) or NULL (= st_train_pass). Inputs are mixed in a buffer of the pass (x is
 * not changed) and so are the sequence lengths (the mixed row takes the longer one). The labels
 * and targets in tg are the rows' own; each loss mixes them with the plan (see the top). */
st_status_t st_train_pass_mixed(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const st_batch_targets_t *tg, int B, int n_micro, const st_mix_row_t *plan,
                                const float *grad_scale, st_micro_sums_t *sums, st_error_t *err);

/* Loss cfg's weight total over the B rows of ONE micro-batch mixed by plan [B] (or NULL: the
 * plain st_loss_weight_total_of): Σ λ_i·w(y_i) + (1 − λ_i)·w(y_j) for class ids, the present
 * elements of the mixed targets for target values. */
double st_train_weight_total(const st_loss_config_t *cfg, const int32_t *labels /*[B] or NULL*/,
                             const float *targets /*[B, width] or NULL*/, const st_mix_row_t *plan /*[B] or NULL*/,
                             int B);

/* The positions T and the floats per position C of the rows of a batch x (a sequence [T, C]:
 * ctx->positions or the input's T; any other input: T = 1, C = its size). */
void st_train_row_layout(const st_step_parts_t *p, const st_run_ctx_t *ctx, int *T, int *C);

/* The mixing plan of a step on one process with settings `mix`: the B rows are one micro-batch of
 * shard 0, keyed by ctx->seed, ctx->step and ctx->sample_index (NULL: the row numbers).
 * order [B]: scratch. */
void st_train_plan_local(st_mix_row_t *plan /*[B]*/, uint64_t *order /*[B]*/, const st_mix_config_t *mix,
                         const st_step_parts_t *p, const st_run_ctx_t *ctx, int B);

typedef struct {
    double grad_norm;  /* global gradient norm before clipping */
    int skipped;       /* 1: no optimizer step (asked to skip, or a non-finite norm) */
} st_update_result_t;

/* L2 penalties into the gradient, the global norm (clipped when clip_norm > 0), and the optimizer
 * step at lr_base unless `skip` or the norm is not finite. */
void st_train_update(const st_step_parts_t *p, double lr_base, int skip, st_update_result_t *res);

typedef struct {
    double loss;       /* Σ_h head_weight·mean loss of head h over the batch (no L2 term) */
    double grad_norm;  /* global gradient norm before clipping */
} st_step_result_t;

/* One whole step on one process over a batch of B rows (see the top). Fails with ST_ERR_NUMERIC
 * (and no update) when the loss or the gradient norm is not finite. */
st_status_t st_train_step_heads(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const st_batch_targets_t *tg, int B, double lr_base, st_step_result_t *res,
                                st_error_t *err);

/* The same with a mixing plan [B] (st_train_plan_local's, or a test's; NULL: no mixing, exactly
 * st_train_step_heads). */
st_status_t st_train_step_plan(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                               const st_batch_targets_t *tg, int B, const st_mix_row_t *plan, double lr_base,
                               st_step_result_t *res, st_error_t *err);

/* The same when every class-id loss reads `labels` and every other loss reads `targets`. */
st_status_t st_train_step_local(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const int32_t *labels, const float *targets, int B, double lr_base,
                                st_step_result_t *res, st_error_t *err);

#endif
