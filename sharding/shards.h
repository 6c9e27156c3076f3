/* shards.h — stratified virtual shards of the training split, their ownership by ranks, and the
 * planning of the shard count from the batch size.
 *
 * The training split is cut into S virtual shards, S independent of the number of ranks P; a
 * global batch is the union of one micro-batch from every shard, so it does not depend on P.
 * Rules (docs/sharding.md, "Virtual shards"):
 *   - Assignment: classes are taken in id order; within a class, samples are ordered by the
 *     64-bit Philox key (seed, ST_RNG_SHARD, stream = class, step 0, index = global id), ties by
 *     id, and dealt round-robin to shards, each class starting at the shard after the one where
 *     the previous class stopped: the k-th sample overall in this order goes to shard k mod S.
 *     Hence every shard holds floor or ceil of n_c / S samples of class c, and shard sizes
 *     differ by at most 1. The map depends only on (seed, training ids and labels, S).
 *   - Ownership: rank r of P owns shards [floor(r·S/P), floor((r+1)·S/P)); needs 1 <= P <= S.
 *   - Planning: global batch = S × micro_batch × accumulation_steps. "auto" (S = 0) picks the
 *     largest S <= 64 dividing batch/accumulation with micro-batches of at least 32; when the
 *     per-step batch is below 32 it picks S = 1 (the micro-batch is the whole batch: one rank).
 *
 * The (class, key) order comes from st_keyed_walk (sharding/keyed_walk.h): bounded chunks, not one
 * sort of every sample. Pure library code (no MPI, no I/O): every rank computes the same shards
 * from the labels. */
#ifndef ST_SHARDS_H
#define ST_SHARDS_H

#include <stdint.h>

#include "st_error.h"

#define ST_SHARDS_AUTO_MAX 64       /* "auto" never picks more shards than this */
#define ST_SHARDS_AUTO_MIN_MICRO 32 /* ... nor micro-batches smaller than this (unless it must) */

typedef struct {
    int n_shards;          /* S */
    int64_t n_train;       /* training samples */
    int64_t *ids;          /* [n_train] the training ids, ascending (a copy of the input); NULL
                            * after st_shards_drop_lookup or st_shards_build_split without lookup */
    int32_t *shard_of;     /* [n_train] shard of ids[i] (NULL likewise) */
    int64_t *shard_start;  /* [S + 1] shard s holds rows[shard_start[s] .. shard_start[s+1]) */
    int64_t *rows;         /* [n_train] global ids per shard, ascending within each shard */
} st_shards_t;

/* Assigns the training samples to S shards. train_ids [n_train] are global sample ids,
 * strictly ascending; train_labels [n_train] their classes 0..K-1. Fails when n_train < S,
 * when the ids are not ascending, or on a label out of range. Free with st_shards_free. */
st_status_t st_shards_build(st_shards_t *sh, const int64_t *train_ids /*[n_train]*/,
                            const int32_t *train_labels /*[n_train]*/, uint64_t seed, int64_t n_train,
                            int K, int S, st_error_t *err);
void st_shards_free(st_shards_t *sh);

/* The same shards from every row's class y [N] and part split [N]: the training samples are the
 * rows with split[i] == part (ids ascending by construction). With lookup 0 the map is built
 * without ids and shard_of (as after st_shards_drop_lookup): 8 bytes a training row + 4 a row of
 * scratch during the build + a constant (the (class, key) order comes from st_keyed_walk, one
 * bounded chunk at a time), where st_shards_build's callers hold 44 bytes a training row + their
 * id and label copies. Fails like st_shards_build. */
st_status_t st_shards_build_split(st_shards_t *sh, const int32_t *y /*[N]*/, const uint8_t *split /*[N]*/, int part,
                                  uint64_t seed, int64_t N, int K, int S, int lookup, st_error_t *err);

/* Rows of shard s: *n_rows ids, ascending (a view into sh). */
const int64_t *st_shards_rows(const st_shards_t *sh, int s, int64_t *n_rows);

/* Shard of a training id (binary search); -1 when `id` is not a training id. */
int st_shards_find(const st_shards_t *sh, int64_t id);

/* shard [n] = the shard of each of ids [n] (ascending), -1 for an id that is not a training
 * sample: st_shards_find with the lookup; without it one map over the span ids[0] .. ids[n-1]
 * (4 bytes an id of the span: a block of the file) filled from each shard's rows. */
st_status_t st_shards_of(int32_t *shard /*[n]*/, const st_shards_t *sh, const int64_t *ids /*[n]*/, int64_t n,
                         st_error_t *err);

/* Frees ids and shard_of (12 bytes a training row; a streamed split keeps 32 bytes a row at
 * most): st_shards_find then searches each shard's rows (S binary searches). */
void st_shards_drop_lookup(st_shards_t *sh);

/* The first index i of ids [n] (ascending) with ids[i] >= id, n when there is none: the one
 * binary search over sorted global ids (the shard map, the loader's wanted rows, a rank's rows
 * through st_shards_locate). */
int64_t st_ids_lower_bound(const int64_t *ids, int64_t n, int64_t id);

/* Shards [*first, *end) owned by rank `rank` of n_ranks: floor(r·S/P) .. floor((r+1)·S/P).
 * Fails when n_ranks > S (every rank needs a shard), saying what would fit. */
st_status_t st_shards_owned(int *first, int *end, int rank, int n_ranks, int S, st_error_t *err);

/* The training ids held by rank `rank` of n_ranks (the rows of its shards), ascending. With
 * rows == NULL only *n_rows is set; otherwise rows must hold *n_rows entries (count first).
 * Without the lookup arrays, a bitmap over the ids (1 bit a row) orders them. */
st_status_t st_shards_rank_rows(int64_t *rows /*[*n_rows] or NULL*/, int64_t *n_rows, const st_shards_t *sh,
                                int rank, int n_ranks, st_error_t *err);

/* pos[i] = position of ids[i] in `sorted` (ascending, e.g. a rank's rows), for gathering rows
 * from a rank-local buffer. Fails naming the first id that is not there. */
st_status_t st_shards_locate(int64_t *pos /*[n]*/, const int64_t *ids /*[n]*/, const int64_t *sorted /*[n_sorted]*/,
                             int64_t n, int64_t n_sorted, st_error_t *err);

/* Shard count and micro-batch for a global batch: batch_size = S × micro_batch ×
 * accumulation_steps. requested_S > 0 is checked (an error says which batch sizes or shard
 * counts would fit); 0 means "auto" (rule above). n_train (> 0, or -1 to skip the check) is the
 * training split's size: each shard needs at least one optimizer step per epoch, so
 * n_train >= batch_size (= S × micro_batch × accumulation_steps) is required. */
st_status_t st_shards_plan(int *S, int *micro_batch, int64_t batch_size, int accumulation_steps, int requested_S,
                           int64_t n_train, st_error_t *err);

#endif
