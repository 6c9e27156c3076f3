/* batch.h — what the engine needs to cut batches from a rank's rows when sequences have lengths
 * (docs/sequences.md, "Variable lengths: the data side"): the sampler set up as the data config
 * says (length bucketing or not), and a micro-batch's rows copied at their own longest length.
 *
 * Each micro-batch runs at T_run = the longest length among its rows, not the dataset's T: its
 * rows are copied compacted to [rows, T_run, C] (steps T_run.. of a row are padding, 0, and are
 * dropped). Without lengths the copy is plain and T_run is T ([T, C]) or 1 ([D]). */
#ifndef ST_BATCH_H
#define ST_BATCH_H

#include <stdint.h>

#include "sharding/data.h"
#include "sharding/sampler.h"
#include "st_error.h"

/* Every row of X [n, row_floats] (sequences [T, C]) set to exactly 0 at steps >= len [n]: a file
 * may hold anything there, and the model relies on zeros. */
void st_data_zero_padding(float *X, const int32_t *len, int64_t n, long row_floats, int C);

/* x [rows, T_run, C] ← the rows at positions pos [rows] of part p (indices into p->X, not
 * global ids), compacted to *T_run = max over them of p->len (or T / 1 without lengths);
 * len [rows] ← their lengths when d->has_lengths (len may be NULL without lengths, and is then
 * untouched). x must hold rows × d->row_floats floats. */
void st_data_gather_rows(float *x /*[rows, T_run, C]*/, int32_t *len /*[rows] or NULL*/, int *T_run,
                         const st_data_t *d, const st_data_part_t *p, const int64_t *pos /*[rows]*/, int rows);

/* x [rows, T_pad, C] ← the first T_pad positions (<= the data's T) of the rows at positions pos
 * [rows] of part p, len [rows] their lengths (NULL without lengths): the rows uncompacted, for
 * operations that may lengthen a row (augmentation's time_stretch) before st_data_compact_rows. */
void st_data_gather_rows_padded(float *x /*[rows, T_pad, C]*/, int32_t *len /*[rows] or NULL*/, const st_data_t *d,
                                const st_data_part_t *p, const int64_t *pos /*[rows]*/, int rows, int T_pad);

/* Compacts x [rows, T_from, C] in place to [rows, T_run, C], T_run = max(1, max len [rows]) <=
 * T_from (positions past a row's length are 0 and are dropped); returns T_run. */
int st_data_compact_rows(float *x /*[rows, T_from, C]*/, const int32_t *len /*[rows]*/, int rows, int T_from, int C);

/* st_sampler_init over this rank's shards of d, then d->repeat occurrences of each row
 * (st_sampler_set_repeat), the windowed order when d->window_rows > 0
 * (st_sampler_set_window) and, when d->bucket_by_length, length bucketing with the training
 * part's lengths and d->bucket_window (st_sampler_set_buckets). */
st_status_t st_data_sampler_init(st_sampler_t *sp, const st_data_t *d, int micro_batch, int accumulation,
                                 uint64_t seed, st_error_t *err);

#endif
