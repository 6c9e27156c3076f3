/* weight_keys.h — what a rank needs of its own shards' training rows to compute their weight
 * totals for a whole epoch ahead (issue 18, "A leaner step"): per row and per loss head one
 * 16-bit key, the class id (−1 missing) of a class-id head; for a value head of at most 16
 * values the mask of its present (non-NaN) values (bit k: value k; what a mixed row's weight
 * needs, st_weight_keys_value_weight), of more values their count; with /lengths, one more: the
 * row's length (what cutmix plans need).
 *
 * Why: a loss is scaled by 1 / (its weight total over the whole global batch) before backward.
 * The sampler is a pure function (sharding/sampler.h), so a rank knows its shards' micro-batches
 * of every step of an epoch; with these keys it knows their weight totals too, before the rows
 * are read (a streamed run holds only the blocks it trains on), and the totals of every shard
 * reach every rank with traffic the step makes anyway (jobs/engine_totals.h). Other target data
 * stays sharded, and no rank holds keys of another rank's rows.
 *
 * Layout: key [n, n_cols] (n_cols = n_heads, + 1 with lengths) over the rank's shards
 * [shard_first, shard_end) in the shard map's order (st_shards_t.rows: shard_first's ids
 * ascending, then the next shard's, ...), row r of the map at key[(r − first) · n_cols].
 * Memory: 2 bytes a column per row of the rank's shards. Filled once (st_weight_keys_fill): in
 * memory from the training part; streamed from the table the start-up scan keeps
 * (st_weight_keys_scan_*: per row of the rank's training rows one key per target and the
 * length, d->stream_keys) and the labels d->y_all.
 *
 * A head is keyable when its key fits 16 bits: class-id heads with fewer than 32,768 classes,
 * value heads of fewer than 32,768 values, and sequence (ctc) heads (every row weighs 1: no key
 * needed, stored as 0); lengths when every length fits 16 bits (T_max < 32,768). */
#ifndef ST_WEIGHT_KEYS_H
#define ST_WEIGHT_KEYS_H

#include <stdint.h>

#include "loss.h"
#include "mixup.h"
#include "sharding/data.h"

typedef struct {
    int n_heads;
    int n_cols;          /* n_heads, + 1 when the keys hold lengths (column n_heads) */
    int64_t first, n;    /* the rank's rows of the shard map: [first, first + n) */
    const st_shards_t *shards; /* borrowed (the data's shard map) */
    int16_t *key;        /* [n, n_cols] in shard-map order */
} st_weight_keys_t;

#define ST_WEIGHT_KEYS_MASK_MAX 16 /* value heads of up to this many values are keyed by a mask */

/* A value head of K values: its weight in a micro-batch from its rows' keys key [B] (plan: each
 * row's partner and λ, or NULL unmixed): Σ over rows and values of "present in the row, or λ < 1
 * and present in its partner" — what st_train_weight_total gives on the values. With mixing it
 * needs masks (K <= ST_WEIGHT_KEYS_MASK_MAX). */
double st_weight_keys_value_weight(const int32_t *key /*[B]*/, const st_mix_row_t *plan /*[B] or NULL*/, int K, int B);

/* 1 when every head of `losses` can be keyed (see the top). */
int st_weight_keys_possible(const st_loss_heads_t *losses);

/* 1 when d's lengths fit the keys (no /lengths, or T_max < 32,768). */
int st_weight_keys_lengths_fit(const st_data_t *d);

/* 1 when a streamed run (data.stream) can fill the keys from the start-up scan's table: it was
 * made (d->stream_keys), and each head reads its target the way the table keys it (a class-id
 * head a class target, a value head a multilabel or regression target). Otherwise the engine
 * keeps the opening exchange. */
int st_weight_keys_streamable(const st_loss_heads_t *losses, const st_data_t *d);

/* Allocates keys for the training rows of d's shards [shard_first, shard_end) (all set to 0),
 * with a length column when d has /lengths. */
st_status_t st_weight_keys_init(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                st_error_t *err);
void st_weight_keys_free(st_weight_keys_t *k);

/* Sets every key: in memory from the rows of `part` (ids ascending, with y and T), which must
 * hold every row of the rank's shards (else an error naming the row); class ids from the head's
 * target column (or part.y for a head without a target), exactly as the engine reads them.
 * Streamed (d->stream), from d->stream_keys and d->y_all (part is not read). */
st_status_t st_weight_keys_fill(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                const st_data_part_t *part, st_error_t *err);

/* The keys of shard s's row `id` ([n_cols] values), or NULL when id is not in shard s or s is
 * not one of the rank's shards. */
const int16_t *st_weight_keys_row(const st_weight_keys_t *k, int s, int64_t id);

/* The streamed start-up scan's hook (sharding/stream_load.c). begin: allocates d->stream_keys
 * [n_stream, n_targets + has_lengths] (in d->stream_ids' order); block: for the rows ids [n] of
 * one block (raw targets T [n, tgt_floats], lengths len [n] or NULL), each target's key (a class
 * target: its class id; another: its non-NaN values' mask, or count beyond 16 values) and the
 * length. Every training row
 * of the rank passes through block once. */
st_status_t st_weight_keys_scan_begin(st_data_t *d, st_error_t *err);
void st_weight_keys_scan_block(st_data_t *d, const int64_t *ids /*[n]*/, const float *T /*[n, tgt_floats]*/,
                               const int32_t *len /*[n] or NULL*/, int64_t n);

#endif
