/* stream_load.h — st_data_load's steps for a streamed training split (sharding/stream_load.c):
 * open the stream and check data.memory_budget_mb, scan the training blocks once (row checks,
 * target sums and counts, longest length, standardisation pass 1), and standardisation pass 2.
 * Collective over c; internal to sharding/data.c. */
#ifndef ST_STREAM_LOAD_H
#define ST_STREAM_LOAD_H

#include "sharding/data.h"

/* d->stream over d->stream_ids, sized for cfg's epochs; refuses (everywhere) when the largest
 * rank's slots plus the evaluation's read buffers (d->stream_eval) exceed cfg->memory_budget_mb,
 * naming the numbers. */
st_status_t st_data_stream_open(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err);

/* One on-demand read of this rank's val and test rows (raw, pass by pass): k += their row checks;
 * d->T_max = the longest length of those rows over all ranks (before st_data_stream_scan, which
 * raises it with the training rows'). */
st_status_t st_data_stream_eval_scan(st_data_t *d, st_row_checks_t *k, const st_comm_t *c, st_error_t *err);

/* One pass over the training blocks in ascending order: k += the row checks of the raw rows;
 * d->stream_tgt_sums, d->tgt_class_counts / tgt_present, d->T_max; with standardisation, pass 1
 * of the partials of this rank's shards (over [std_T, std_F] views) into d->stream_std_partials. */
st_status_t st_data_stream_scan(st_data_t *d, const st_data_config_t *cfg, st_row_checks_t *k, int std_T, int std_F,
                                const st_comm_t *c, st_error_t *err);

/* The means of this rank's partials, then pass 2 (Σ(x − mean)²) over the blocks again. */
st_status_t st_data_stream_std_pass2(st_data_t *d, int scale_pixels, int std_T, int std_F, const st_comm_t *c,
                                     st_error_t *err);

#endif
