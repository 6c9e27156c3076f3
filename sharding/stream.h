/* stream.h — a streamed training split (data.stream): a rank keeps only the rows of its shards in
 * the blocks of the windowed order (sharding/sampler.h) that the current step reads, plus the
 * next block of the epoch, each read with the two-phase parallel read restricted to the block
 * (st_loader_options_t range_lo/range_hi: every rank reads 1/P of the block's file rows, the
 * exchange hands each rank its shards' rows of it).
 *
 * The schedule is a pure function every rank computes alike, so the collective reads line up:
 * the training rows of shard s in block b, counts [n_blocks, S], come from the shard map; in
 * epoch e the blocks are visited in st_sampler_block_order; shard s's occurrences of the k-th
 * visited block occupy positions [start(s, k), end(s, k)) of its epoch order (repeat k copies a
 * row), so block k is read by optimizer steps first(k) = min_s floor(start / G) ..
 * last(k) = max_s floor((end − 1) / G), G = micro_batch × accumulation (steps past
 * steps_per_epoch excluded). Before step t the stream holds the blocks with first <= t <= last,
 * evicting the others; the next block in the visiting order is read in the background meanwhile
 * (this rank's share of its /X rows by a thread, exchanged when a step needs it), or into a spare
 * slot when the file's layout does not allow that. A resumed run at step t reads what step t
 * needs. A block's rows sit in a slot of slot_cap rows: slot-major arrays X, T, len,
 * y, so a row's position is slot·slot_cap + its index among the rank's rows of the block, and
 * the training part (st_data_part_t) is a view of the slots.
 *
 * Memory: n_slots × slot_cap rows × (row, targets, length, label), n_slots = the largest number
 * of blocks a step needs + 1 over the run's epochs (computed at start-up: st_stream_plan), and
 * the schedule (O(n_blocks · S)), and the prefetch buffer: this rank's share of a block's /X rows
 * (ceil(W / P) rows). Rows read are preprocessed as in memory: padding zeroed past
 * /lengths, pixel scaling, standardisation (st_stream_set_transform). */
#ifndef ST_STREAM_H
#define ST_STREAM_H

#include <stdint.h>

#include "mpi/comm.h"
#include "sharding/dataset.h"
#include "sharding/shards.h"
#include "sharding/stream_prefetch.h"
#include "st_error.h"

typedef struct {
    /* what is streamed */
    const st_dataset_t *ds;        /* borrowed */
    const st_comm_t *c;            /* borrowed */
    const st_shards_t *shards;     /* borrowed */
    const int32_t *y_all;          /* [N] borrowed: every row's stratification class */
    const int64_t *my_ids;         /* [n_mine] borrowed: this rank's training rows, ascending */
    int64_t n_mine;
    int64_t W, n_blocks;           /* rows of the file per block; blocks of the file */
    int shard_first, shard_end, S, repeat;
    int64_t G, steps_per_epoch;    /* occurrences per shard per optimizer step; steps an epoch */
    uint64_t seed;
    int64_t *my_start;             /* [n_blocks + 1] my_ids[my_start[b] ..] are block b's rows */
    int32_t *counts;               /* [n_blocks, S] training rows of shard s in block b */
    /* the current epoch's schedule */
    int64_t epoch;                 /* -1: none yet */
    int64_t n_visit;               /* blocks holding training rows (visited every epoch) */
    int64_t *visit;                /* [n_visit] block at visiting index k */
    int64_t *first, *last;         /* [n_visit] steps reading it; first > last: no step does */
    /* the slots */
    int n_slots;
    int64_t slot_cap;              /* the most rows of this rank's shards in one block */
    int64_t *slot_block;           /* [n_slots] block held, -1 when free */
    long row_floats, tgt_floats;
    int n_targets;
    int tgt_offset[ST_MAX_TARGETS];
    float *X;                      /* [n_slots·slot_cap, row_floats] */
    float *T;                      /* [n_slots·slot_cap, tgt_floats] */
    int32_t *len;                  /* [n_slots·slot_cap] or NULL without /lengths */
    int32_t *y;                    /* [n_slots·slot_cap] */
    /* preprocessing of rows read (st_stream_set_transform) */
    int scale_pixels;
    const double *mean, *std;      /* borrowed; NULL: not standardised */
    int std_T, std_F, C;
    /* the next block's share of /X read in the background (stream_prefetch.h) */
    st_prefetch_t pf;
    /* counters */
    int64_t blocks_read, blocks_prefetched;
    double read_s;                 /* the main thread's time making blocks resident (waits included) */
} st_stream_t;

/* The schedule's inputs; the slots are allocated by st_stream_plan. y_all, my_ids borrowed. */
st_status_t st_stream_init(st_stream_t *s, const st_dataset_t *ds, const st_comm_t *c, const st_shards_t *sh,
                           const int32_t *y_all /*[N]*/, const int64_t *my_ids /*[n_mine]*/, int64_t n_mine,
                           int shard_first, int shard_end, int64_t W, st_error_t *err);
void st_stream_free(st_stream_t *s);

/* Fixes the batch geometry (G = micro_batch × accumulation occurrences per shard a step, repeat,
 * steps_per_epoch, seed) and sizes the slots for epochs 0..n_epochs-1 (the largest number of
 * blocks any step of them needs, + 1 for the next block); allocates them. *bytes gets the
 * slots' bytes (for the budget check). Local (no MPI). */
st_status_t st_stream_plan(st_stream_t *s, int micro_batch, int accumulation, int repeat, int64_t steps_per_epoch,
                           uint64_t seed, int n_epochs, size_t *bytes, st_error_t *err);

/* Rows read from now on get pixel scaling and/or standardisation (mean, std borrowed, NULL =
 * none) over [T, F] views with C channels, as st_data_load applies them. */
void st_stream_set_transform(st_stream_t *s, int scale_pixels, const double *mean, const double *std, int T, int F,
                             int C);

/* Collective: the raw rows (padding zeroed, no scaling) of this rank's shards in block b into
 * slot `slot`; *n gets their count (my_ids[my_start[b] ..]). For the start-up passes. */
st_status_t st_stream_read_block(st_stream_t *s, int slot, int64_t b, int64_t *n, st_error_t *err);

/* Collective: makes the blocks step `step` of epoch `epoch` reads (and the next one) resident,
 * reading what is missing (preprocessed) and evicting what is no longer needed. */
st_status_t st_stream_step(st_stream_t *s, int64_t epoch, int64_t step, st_error_t *err);

/* pos [n] = the slot positions of rows ids [n] (all resident; else an error naming the row). */
st_status_t st_stream_locate(const st_stream_t *s, int64_t *pos /*[n]*/, const int64_t *ids /*[n]*/, int64_t n,
                             st_error_t *err);

#endif
