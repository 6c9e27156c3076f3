/* train_step.h — one optimizer step on one process over one batch: the numerics of a training
 * step without data movement or MPI (jobs/ builds the distributed loop from the same pieces).
 *
 *   zero gradients → forward (training mode) → every head's loss with grad_scale =
 *   head_weight / (that head's weight total over the batch) → backward → L2 penalties →
 *   global-norm clipping → optimizer step at lr_base. */
#ifndef ST_TRAIN_STEP_H
#define ST_TRAIN_STEP_H

#include "loss.h"
#include "model.h"
#include "optim.h"

typedef struct {
    st_model_t *model;
    const st_loss_heads_t *losses;  /* one loss per model head; head "" = the model's head 0 */
    st_optim_t *optim;
    double clip_norm;               /* global-norm clipping threshold; 0 = off */
} st_step_parts_t;

typedef struct {
    double loss;       /* Σ_h head_weight·mean loss of head h over the batch (no L2 term) */
    double grad_norm;  /* global gradient norm before clipping */
} st_step_result_t;

/* x [B, numel(input)], labels [B] (class ids, for cross_entropy/focal heads), targets [B, K] of
 * head 0 for bce/mse heads (or NULL). */
st_status_t st_train_step_local(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const int32_t *labels, const float *targets, int B, double lr_base,
                                st_step_result_t *res, st_error_t *err);

#endif
