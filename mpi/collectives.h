/* collectives.h — every collective the training job makes, over whole arrays, so that the
 * engine, the loop and the loader never call MPI themselves:
 *
 *   - sums over ranks: the gradient arena (float, one MPI_Allreduce however long), small double
 *     and int64 arrays, and a largest magnitude;
 *   - per-shard records gathered to every rank in shard order (one MPI_Allgatherv): how a step
 *     combines its per-shard loss sums, weight totals and BatchNorm statistics, and how the
 *     loader combines standardisation partials, in the same order at any rank count;
 *   - rank 0's state to everyone (MPI_Bcast): arrays of floats, doubles, int64, and raw records
 *     (the decision record of jobs/decide.h, the run folder's path);
 *   - one fixed-size record per rank gathered to every rank (host names, replica hashes).
 *
 * Shards are owned in contiguous blocks: rank r of P owns [S·r/P, S·(r+1)/P) (the rule of
 * st_shards_owned), which is what st_allgather_shards assumes. */
#ifndef ST_COLLECTIVES_H
#define ST_COLLECTIVES_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/comm.h"

/* Step flags, OR-ed over ranks (jobs/engine.h carries them in the step's first exchange). */
enum { ST_FLAG_NONFINITE = 1, ST_FLAG_STOP = 2 };

/* x [n] ← Σ over ranks, in place; every rank gets the result. The float version takes any n
 * (arenas beyond 2^31 floats go in pieces). Collective. */
st_status_t st_allreduce_sum_f32(float *x, size_t n, const st_comm_t *c, st_error_t *err);
st_status_t st_allreduce_sum_f64(double *x, int n, const st_comm_t *c, st_error_t *err);
st_status_t st_allreduce_sum_i64(int64_t *x, int n, const st_comm_t *c, st_error_t *err);

/* Returns when every rank has called it (MPI_Barrier): orders one rank's writes to memory the
 * ranks share (mpi/node_window.h) before the others' reads. Collective. */
st_status_t st_barrier(const st_comm_t *c, st_error_t *err);

/* *x ← the largest *x over ranks. Collective. */
st_status_t st_allreduce_max_f64(double *x, const st_comm_t *c, st_error_t *err);

/* Rank 0: out [n] ← the element-wise largest of every rank's in [n] (other ranks' out is left as
 * it is). Collective. */
st_status_t st_reduce_max_f64(double *out, const double *in, int n, const st_comm_t *c, st_error_t *err);

/* all [size · n] on rank 0 ← every rank's in [n], in rank order (all is not read elsewhere).
 * Collective. */
st_status_t st_gather_f32(float *all, const float *in, int n, const st_comm_t *c, st_error_t *err);

/* Every rank ends with all shards' records, in shard order: shard s's record is
 * records[s·n_per_shard .. (s+1)·n_per_shard). On entry each rank has filled the records of the
 * shards it owns (see the top); the others are overwritten. Counts are in shards. Collective. */
st_status_t st_allgather_shards(double *records /*[n_shards, n_per_shard]*/, int n_shards, int n_per_shard,
                                const st_comm_t *c, st_error_t *err);

/* data: rank r's block is elements [offsets[r], offsets[r+1]) (offsets [size + 1], element
 * counts, each block < 2^31 elements) of elem_bytes bytes each; on entry each rank has filled its
 * own block, and every rank ends with all of them (one MPI_Allgatherv). Collective. */
st_status_t st_allgather_blocks(void *data, const int64_t *offsets /*[size + 1]*/, int elem_bytes, const st_comm_t *c,
                                st_error_t *err);

/* all [size, record_bytes] ← every rank's `mine` [record_bytes], in rank order. Collective. */
st_status_t st_allgather_records(void *all, const void *mine, int record_bytes, const st_comm_t *c, st_error_t *err);

/* Rank 0 gets every rank's text (`mine`, n_mine bytes, any length per rank) joined in rank order
 * as one malloc'd NUL-terminated string *all (the caller frees it; NULL on other ranks). Each
 * rank's text must be under 2 GiB. Collective; fails everywhere when rank 0 cannot allocate. */
st_status_t st_gather_text(char **all, const char *mine, size_t n_mine, const st_comm_t *c, st_error_t *err);

/* Rank 0's array to every rank (floats: any n, in pieces). Collective. */
st_status_t st_bcast_f32(float *x, size_t n, const st_comm_t *c, st_error_t *err);
st_status_t st_bcast_f64(double *x, int n, const st_comm_t *c, st_error_t *err);
st_status_t st_bcast_i64(int64_t *x, int n, const st_comm_t *c, st_error_t *err);
st_status_t st_bcast_bytes(void *p, int n_bytes, const st_comm_t *c, st_error_t *err);

/* Marks where a training step begins (level 1) and ends (level 0) for a profiling library:
 * MPI_Pcontrol, which MPI itself ignores; tests/util/mpi_count.c counts each step's collectives
 * with it (tests/test_collectives.sh). Not a collective. */
void st_mark_step(int level);

#endif
