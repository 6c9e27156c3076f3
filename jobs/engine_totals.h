/* engine_totals.h — the step's weight totals computed on every rank (issue 18): the part of
 * the training step (jobs/engine.h) that replaces the opening exchange. Internal to the engine.
 *
 * Every loss is scaled by 1 / (its weight total over the whole global batch) before backward.
 * With every training row's weight keys (sharding/weight_keys.h, gathered in the first step) and
 * the pure sampler, each rank orders every shard at each new epoch (one shard's memory at a
 * time: repeat, length buckets, mixup/cutmix plans as the engine's own) and keeps the totals of
 * every (step, shard) of the epoch in e->wtot [steps_per_epoch, S, n_heads]. */
#ifndef ST_ENGINE_TOTALS_H
#define ST_ENGINE_TOTALS_H

#include "jobs/engine.h"

/* Turns local totals on (e->local_totals) when every head can be keyed and lengths fit the keys,
 * allocating the keys and the epoch's totals; else leaves them off (the opening exchange). */
st_status_t st_engine_totals_init(st_engine_t *e, st_error_t *err);

/* The first step: fills this rank's block of keys (when *status is ST_OK; a failure goes to
 * *status) and gathers every rank's. Collective: a rank whose *status is not ST_OK still joins
 * (its message kept), and the step then fails at the close. */
st_status_t st_engine_share_keys(st_engine_t *e, st_status_t *status, st_error_t *err);

/* grad_scale [n_heads] ← each loss's scale from the global weight totals of `step` of `epoch`
 * (global step `global_step`; the epoch's totals are made on its first step), summed in shard
 * order: the same bits as the opening exchange gave. */
st_status_t st_engine_local_scale(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, float *grad_scale,
                                  st_error_t *err);

#endif
