/* heads.h — which dataset target each loss reads, and what that makes of the model's heads.
 *
 * A loss reads one target of the dataset (sharding/dataset.h: /targets/<name>, or "y"):
 *   1. its "target" key when given;
 *   2. else the target named like its head ("head": "category" reads /targets/category);
 *   3. else the dataset's only target.
 * Anything else is an error naming the loss (loss[1].target) and listing the targets. The loss
 * kind must suit the target kind: cross_entropy and focal read class targets; bce reads
 * multi-label (or regression values in [0, 1]); mse, mae and huber read regression targets. Its
 * width K is the target's class count (class) or column count (others), which is also what
 * "units": "classes" means in the head it trains (st_model_build_heads).
 *
 * st_heads_bind then completes each loss for a job: target_index, "balanced" class weights from
 * that target's training-split counts (all ranks: one all-reduce), and the training split's
 * mean/std when standardize_targets is set. */
#ifndef ST_HEADS_H
#define ST_HEADS_H

#include <cJSON.h>

#include "loss.h"
#include "mpi/comm.h"
#include "sharding/data.h"

/* The target index loss `path` (its "head" and "target" values) reads, or -1 with why[]. */
int st_heads_target_of(const st_dataset_t *ds, const char *head, const char *target, const char *path, char *why,
                       size_t why_size);

/* The width of the target the loss trained on model head `head` reads, from the "loss" JSON
 * (one object or a list): the class count or column count, or 0 when no loss names that head
 * or its target cannot be resolved (the loss parse reports that). For st_model_build_heads and
 * st_loss_heads_parse. */
int st_heads_width(const cJSON *loss_json, const char *head, const st_dataset_t *ds);

/* Resolves every loss's target, checks kinds and widths, resolves "balanced" class weights and
 * target standardisation (see the top). Collective over c. */
st_status_t st_heads_bind(st_loss_heads_t *losses, const st_data_t *d, const st_comm_t *c, st_error_t *err);

/* The name a loss's metrics carry in history.jsonl: its head ("category"), else its target. */
const char *st_heads_name(const st_loss_config_t *loss, const st_dataset_t *ds);

#endif
