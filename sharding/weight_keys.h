/* weight_keys.h — what every rank needs of every training row to compute a step's weight totals
 * itself (issue 18, "A leaner step"): per row and per loss head one 16-bit key, the class id
 * (−1 missing) of a class-id head, or the number of present (non-NaN) values of a value head;
 * with /lengths, one more: the row's length (what length bucketing and cutmix plans need).
 *
 * Why: a loss is scaled by 1 / (its weight total over the whole global batch) before backward.
 * The sampler is a pure function (sharding/sampler.h), so every rank knows the ids of every
 * shard's micro-batches; with these keys it knows their weight totals too, and the step needs no
 * opening exchange (jobs/engine.h). Other target data stays sharded.
 *
 * Layout: key [n_train, n_cols] (n_cols = n_heads, + 1 with lengths) in the shard map's order (st_shards_t.rows: shard 0's ids
 * ascending, then shard 1's, ...), so a rank's block of shards is one contiguous block of rows.
 * Built in two steps: each rank fills the rows of its own shards from the rows it holds
 * (st_weight_keys_fill, callable once per block of rows, e.g. by a streaming loader), then one
 * MPI_Allgatherv of the blocks (st_weight_keys_share). Memory: 2 bytes a row per column.
 *
 * A head is keyable when its key fits 16 bits: class-id heads with fewer than 32,768 classes,
 * value heads of fewer than 32,768 values, and sequence (ctc) heads (every row weighs 1: no key
 * needed, stored as 0); lengths when every length fits 16 bits (T_max < 32,768). */
#ifndef ST_WEIGHT_KEYS_H
#define ST_WEIGHT_KEYS_H

#include <stdint.h>

#include "loss.h"
#include "mpi/comm.h"
#include "sharding/data.h"

typedef struct {
    int n_heads;
    int n_cols;          /* n_heads, + 1 when the keys hold lengths (column n_heads) */
    int64_t n;           /* training rows of all shards */
    const st_shards_t *shards; /* borrowed (the data's shard map) */
    int16_t *key;        /* [n, n_cols] in shard-map order */
} st_weight_keys_t;

/* 1 when every head of `losses` can be keyed (see the top). */
int st_weight_keys_possible(const st_loss_heads_t *losses);

/* 1 when d's lengths fit the keys (no /lengths, or T_max < 32,768). */
int st_weight_keys_lengths_fit(const st_data_t *d);

/* 1 when a streamed run (data.stream) can fill the keys: it holds every row's stratification
 * class (d->y_all) and nothing else of rows outside the step's blocks, so every head must read
 * those labels (no target of its own) and the data must have no /lengths. Otherwise the engine
 * keeps the opening exchange. */
int st_weight_keys_streamable(const st_loss_heads_t *losses, const st_data_t *d);

/* Allocates keys for every training row of d's shard map (all set to 0), with a length column
 * when d has /lengths. */
st_status_t st_weight_keys_init(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                st_error_t *err);
void st_weight_keys_free(st_weight_keys_t *k);

/* Sets the keys of the rows of `part` (ids ascending, with y and T) that lie in shards
 * [d->shard_first, d->shard_end); every row of those shards must be in part (else an error
 * naming the row). Class ids come from the head's target column (or part.y for a head without
 * a target), exactly as the engine reads them. */
st_status_t st_weight_keys_fill(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                const st_data_part_t *part, st_error_t *err);

/* Every rank ends with every shard's keys (one Allgatherv of the ranks' blocks). Collective. */
st_status_t st_weight_keys_share(st_weight_keys_t *k, const st_data_t *d, const st_comm_t *c, st_error_t *err);

/* The keys of shard s's row `id` ([n_cols] values), or NULL when id is not in shard s. */
const int16_t *st_weight_keys_row(const st_weight_keys_t *k, int s, int64_t id);

#endif
