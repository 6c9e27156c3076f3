/* ckpt_heads.h — a checkpoint's losses bound to the targets of a dataset (what `strata eval`
 * needs; training binds them with jobs/heads.h instead).
 *
 * Each loss h of the checkpoint's config reads the target its per-head table names
 * (st_ckpt_t.heads[h].target, the one it was trained on), which the dataset must have, of the
 * same kind, width and class / label / column names; anything else is an error naming the
 * dataset, the head, the target and the checkpoint, e.g.
 *   data/other.h5: target coarse (head coarse) has 3 classes but the model was trained on 4
 *   (checkpoint results/x/checkpoints/best.h5)
 * What training derived from its data comes from the checkpoint, never from the new file:
 * "balanced" class weights, and the training split's mean and std of regression targets (the
 * loss's standardisation, and the R² reference of jobs/evaluate.c), so the metrics of the same
 * rows have the bits training reported. */
#ifndef ST_CKPT_HEADS_H
#define ST_CKPT_HEADS_H

#include "jobs/checkpoint.h"
#include "loss.h"
#include "sharding/data.h"

/* The width of the head trained on model output `head` ("": the only one), from the
 * checkpoint's table: for st_model_build_heads and st_loss_heads_parse. 0 when the checkpoint
 * has no table or no loss on that output. */
int st_ckpt_head_width(const st_ckpt_t *ck, const char *head);

/* Binds every loss of `losses` (parsed from the checkpoint's config; st_ckpt_t.n_heads >= 1)
 * to its target in ds (target_index), checks its kind and width, and sets class weights and target
 * standardisation from the checkpoint. stats [ST_MAX_TARGETS] gets views of the checkpoint's
 * target statistics by target index (for st_data_t.tgt_stats; not to be freed). */
st_status_t st_ckpt_heads_bind(st_loss_heads_t *losses, st_target_stats_t *stats, const st_ckpt_t *ck,
                               const st_dataset_t *ds, st_error_t *err);

/* After st_ckpt_heads_bind: every bound target's class / label / column names are the
 * checkpoint's (checked apart so that a dataset of another shape is reported as that first). */
st_status_t st_ckpt_heads_check_names(const st_loss_heads_t *losses, const st_ckpt_t *ck, const st_dataset_t *ds,
                                      st_error_t *err);

#endif
