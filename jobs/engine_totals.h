/* engine_totals.h — the step's weight totals without an opening exchange (issue 18): the part
 * of the training step (jobs/engine.h) that knows, before any pass, every loss's weight total
 * over the whole global batch. Internal to the engine.
 *
 * Every loss is scaled by 1 / (its weight total over the whole global batch) before backward.
 * Each rank computes the totals of its OWN shards for a whole epoch ahead, from its own sampler
 * (the engine's: repeat, windows, length buckets) and its rows' weight keys
 * (sharding/weight_keys.h; mixup/cutmix plans drawn as the engine draws them), into per-shard
 * records [steps_per_epoch, n_heads]. Every rank receives every shard's records:
 *   - for the next epoch, appended to the closing Allgatherv of an epoch's last step (the
 *     record of each shard grows by steps_per_epoch · n_heads doubles on that step only);
 *   - at set-up (st_engine_start: the launch's first epoch, from scratch or resumed mid-epoch),
 *     by one Allgatherv outside any step.
 * and keeps them in e->wtot [S, steps_per_epoch, n_heads]; a step's scale sums them over shards
 * in shard order, the bits the opening exchange gave at any rank count. The work at an epoch's
 * end is O(rows of the rank's shards), not O(every row), and shrinks with P. */
#ifndef ST_ENGINE_TOTALS_H
#define ST_ENGINE_TOTALS_H

#include "jobs/engine.h"

/* Turns local totals on (e->local_totals) when every head can be keyed and lengths fit the keys
 * (a streamed run: when its start-up scan kept keys the heads can read), allocating the keys and
 * the epoch's totals; else leaves them off (the opening exchange). */
st_status_t st_engine_totals_init(st_engine_t *e, st_error_t *err);

/* 1 when e->wtot holds the totals of `epoch` whose step 0 is global step `base`. The same on
 * every rank (it changes only through collectives every rank makes). */
int st_engine_totals_ready(const st_engine_t *e, int64_t epoch, int64_t base);

/* The set-up exchange: this rank's keys (once), its shards' totals of `epoch` (step 0 = global
 * step `base`), then one Allgatherv of every shard's. status: this rank's state so far (a rank
 * that failed joins and every rank returns the agreed failure). Collective (st_comm_agree +
 * the Allgatherv). */
st_status_t st_engine_totals_exchange(st_engine_t *e, int64_t epoch, int64_t base, st_status_t status,
                                      st_error_t *err);

/* records: each of this rank's shards s gets its totals of `epoch` (step 0 = global step `base`)
 * at records + s·stride, [steps_per_epoch, n_heads] (the sampler moves to `epoch`). */
st_status_t st_engine_own_totals(st_engine_t *e, double *records, size_t stride, int64_t epoch, int64_t base,
                                 st_error_t *err);

/* e->wtot ← every shard's records at records + s·stride (after the close's gather), now those of
 * `epoch` whose step 0 is global step `base`. */
void st_engine_totals_received(st_engine_t *e, const double *records, size_t stride, int64_t epoch, int64_t base);

/* grad_scale [n_heads] ← each loss's scale from the global weight totals of `step` of the epoch
 * e->wtot holds, summed in shard order: the same bits as the opening exchange gave. */
void st_engine_local_scale(const st_engine_t *e, int64_t step, float *grad_scale);

#endif
