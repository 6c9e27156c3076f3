/* sampler.h — per-epoch order of every virtual shard and the micro-batches cut from it.
 *
 * Rules (docs/sharding.md, "Sampling"):
 *   - In epoch e, shard s's rows are ordered by the 64-bit Philox key (seed, ST_RNG_SHUFFLE,
 *     stream = s, step = e, index = global id), ties by id: a pure function of (seed, e, s and
 *     the shard's rows), independent of P and of which rank holds the shard.
 *   - steps_per_epoch = floor(min over all shards of |shard| / (micro_batch × accumulation)).
 *     Optimizer step t consumes micro-batches j = 0..accumulation-1 of every shard; micro-batch
 *     j of step t of shard s is positions [(t·accumulation + j)·micro_batch, +micro_batch) of
 *     the shard's epoch order. The rows past steps_per_epoch·micro_batch·accumulation are skipped
 *     this epoch (others are skipped in other epochs): no padding, no duplicates, and every rank
 *     runs the same number of steps.
 *   - With length bucketing (data.bucket_by_length, st_sampler_set_buckets), each shard's epoch
 *     order above is then cut into windows of window × micro_batch positions; the rows of each
 *     window are sorted by (length, position in the epoch order); the shard's order is cut into
 *     micro-batches, and its m = floor(n / micro_batch) whole micro-batches are put in the order
 *     of the Philox keys (seed, ST_RNG_BUCKET, stream = 0, step = epoch, index = micro-batch
 *     number j), ties by j; the n mod micro_batch rows left stay last. The keys leave the shard
 *     out, so every shard takes (window, place in window) in the same order and the shards'
 *     micro-batches of one step come from the same length quantile: a pass over several of them
 *     (the micro-batches of a rank's shards run together) pads little. Still a pure function of
 *     (seed, e, s, the shard's rows and their lengths): independent of P. Micro-batches then
 *     hold rows of similar length (each runs at its own longest length), in a random order.
 *   - With data.repeat k (st_sampler_set_repeat), each row id appears k times an epoch as the
 *     occurrence ids o = id·k + r (r = 0..k-1): the shard's occurrences are ordered as above by
 *     the key with index = o (ties by o), steps_per_epoch counts occurrences (floor(min |shard|·k
 *     / (micro_batch × accumulation))), and micro-batches hand out occurrence ids: the row read
 *     is o / k, while dropout, augmentation and mixup are keyed by o, so the k copies of a row
 *     get independent draws. With k = 1, o = id: the orders are those without repeat, bit for bit.
 *   - With data.order "windowed" (st_sampler_set_window, W = data.window_rows): the FILE's rows
 *     are cut into blocks [bW, (b+1)W). In epoch e the blocks are visited in the order of the
 *     Philox keys (seed, ST_RNG_WINDOW, stream 0, step = e, index = b), ties by b; within a block,
 *     the shard's occurrences of that block's rows are ordered by the key above (ST_RNG_SHUFFLE,
 *     stream = s, step = e, index = o); the shard's epoch order is the concatenation over its
 *     blocks in block order. Micro-batches are cut from it as above (they carry over between
 *     blocks; steps_per_epoch is unchanged); the k occurrences of a row stay in its block. Every
 *     shard sees the blocks in the same relative order, so at any step the shards read from the
 *     same few blocks. Still a pure function of (seed, e, s, the shard's rows, W). Length
 *     bucketing is refused with this order (st_sampler_set_buckets).
 * A sampler holds the orders of a block of shards (a rank's); st_sampler_set_epoch computes
 * them once per epoch (O(n log n)); reading a micro-batch is a copy. */
#ifndef ST_SAMPLER_H
#define ST_SAMPLER_H

#include <stdint.h>

#include "sharding/shards.h"
#include "st_error.h"

/* A row and its sort key (scratch for the orders). */
typedef struct {
    uint64_t key;
    int64_t id;
} st_keyed_id_t;

typedef struct {
    const st_shards_t *shards; /* borrowed; must outlive the sampler */
    uint64_t seed;
    int shard_first, shard_end;  /* the shards this sampler orders, e.g. a rank's block */
    int micro_batch, accumulation;
    int64_t steps_per_epoch;
    int64_t epoch;               /* epoch of the current orders; -1 before st_sampler_set_epoch */
    int repeat;                  /* data.repeat k: occurrences of each row an epoch (1 by default) */
    int64_t window_rows;         /* data.order "windowed": W rows of the file per block; 0 = "shuffle" */
    int64_t *scratch_off;        /* windowed: [shards + 1] each shard's scratch (its largest block) */
    int64_t *order;              /* occurrence ids of shards first..end-1 in epoch order, concatenated */
    st_keyed_id_t *scratch;      /* [occurrences of the sampler's shards] for sorting */
    /* Length bucketing (st_sampler_set_buckets); bucket_window 0 = off. */
    int bucket_window;           /* micro-batches per sorting window */
    const int32_t *len;          /* [n_len] borrowed: the length of row len_ids[i] */
    const int64_t *len_ids;      /* [n_len] borrowed, ascending global ids */
    int64_t n_len;
    int32_t *bucket_len;         /* [rows of the sampler's shards] scratch: lengths in epoch order */
    int64_t *bucket_tmp;         /* [rows of the sampler's shards] scratch */
} st_sampler_t;

/* Optimizer steps per epoch for these shards (same on every rank): floor(min_s |shard s| /
 * (micro_batch × accumulation)). */
int64_t st_sampler_steps_per_epoch(const st_shards_t *sh, int micro_batch, int accumulation);

/* A sampler for shards [shard_first, shard_end) of sh. Fails when an epoch would have no step
 * (the smallest shard is smaller than micro_batch × accumulation), naming the numbers. */
st_status_t st_sampler_init(st_sampler_t *sp, const st_shards_t *sh, int shard_first, int shard_end,
                            int micro_batch, int accumulation, uint64_t seed, st_error_t *err);
void st_sampler_free(st_sampler_t *sp);

/* Each row appears `repeat` times an epoch (occurrence ids id·repeat + r, see the top);
 * recomputes steps_per_epoch. Call before st_sampler_set_buckets. */
st_status_t st_sampler_set_repeat(st_sampler_t *sp, int repeat, st_error_t *err);

/* data.order "windowed" with blocks of window_rows (>= 1) rows of the file (see the top); 0 turns
 * it off (today's "shuffle" order). Fails when length bucketing is on. The scratch shrinks to
 * each shard's largest block (its occurrences) — call after st_sampler_set_repeat. */
st_status_t st_sampler_set_window(st_sampler_t *sp, int64_t window_rows, st_error_t *err);

/* Turns length bucketing on: len [n] gives the length of global row ids [n] (ascending, e.g. a
 * rank's training part: st_data_part_t ids and len; borrowed, must outlive the sampler), window
 * micro-batches per sorting window (>= 1). Every row of the sampler's shards must be in ids
 * (else an error naming the row). The next st_sampler_set_epoch recomputes the orders. */
st_status_t st_sampler_set_buckets(st_sampler_t *sp, const int32_t *len /*[n]*/, const int64_t *ids /*[n]*/,
                                   int64_t n, int window, st_error_t *err);

/* Bucketing of one shard's epoch order in place (what st_sampler_set_epoch does after
 * st_sampler_shard_order when bucketing is on): order [n] global ids, their lengths
 * len_of_order [n]; scratch [n]; tmp [n]. */
void st_sampler_bucket_order(int64_t *order /*[n]*/, const int32_t *len_of_order /*[n]*/,
                             st_keyed_id_t *scratch /*[n]*/, int64_t *tmp /*[n]*/, uint64_t seed, int shard,
                             int64_t epoch, int64_t n, int micro_batch, int window);

/* Computes the epoch order of every shard of the sampler (no-op when already at `epoch`). */
st_status_t st_sampler_set_epoch(st_sampler_t *sp, int64_t epoch, st_error_t *err);

/* The occurrence ids (the global row ids when repeat is 1) of micro-batch `micro` (0..accumulation-1) of optimizer step `step`
 * (0..steps_per_epoch-1) of shard `shard` (one of the sampler's), in epoch order. */
st_status_t st_sampler_micro_batch(int64_t *ids /*[micro_batch]*/, const st_sampler_t *sp, int shard, int64_t step,
                                   int micro, st_error_t *err);

/* The epoch order of one shard's rows, computed directly (what st_sampler_set_epoch stores):
 * out [n] = rows [n] sorted by (key, id); scratch [n]. epoch must be in 0..2^32-1. */
void st_sampler_shard_order(int64_t *out /*[n]*/, st_keyed_id_t *scratch /*[n]*/, const int64_t *rows /*[n]*/,
                            uint64_t seed, int shard, int64_t epoch, int64_t n);

/* The same with `repeat` occurrences of each row: out [n·repeat] occurrence ids, scratch [n·repeat]. */
void st_sampler_shard_order_repeat(int64_t *out /*[n*repeat]*/, st_keyed_id_t *scratch /*[n*repeat]*/,
                                   const int64_t *rows /*[n]*/, uint64_t seed, int shard, int64_t epoch, int64_t n,
                                   int repeat);

/* Scratch entries the windowed order needs for shards [first, end): per shard the larger of its
 * block count and its largest block's occurrences; offsets [end - first + 1] (or NULL) gets
 * each shard's start. */
int64_t st_sampler_window_scratch(int64_t *offsets, const st_shards_t *sh, int shard_first, int shard_end, int64_t W,
                                  int repeat);

/* The epoch order of one shard's rows with data.order "windowed" (blocks of W rows of the file):
 * out [n·repeat] occurrence ids, scratch [n·repeat]; rows [n] ascending. */
void st_sampler_shard_order_windowed(int64_t *out /*[n*repeat]*/, st_keyed_id_t *scratch /*[n*repeat]*/,
                                     const int64_t *rows /*[n]*/, uint64_t seed, int shard, int64_t epoch, int64_t n,
                                     int repeat, int64_t W);

/* Blocks [n] (distinct block numbers) sorted in place into epoch `epoch`'s visiting order: by
 * the key (seed, ST_RNG_WINDOW, 0, epoch, block), ties by block; scratch [n]. */
void st_sampler_block_order(int64_t *blocks /*[n]*/, st_keyed_id_t *scratch /*[n]*/, uint64_t seed, int64_t epoch,
                            int64_t n);

#endif
