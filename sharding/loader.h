/* loader.h — the two-phase parallel read: every rank gets the rows of /X it asks for, wherever
 * they lie in the file (docs/parallel-io.md).
 *
 * Stratified shards scatter a rank's rows over the whole file, and HDF5 1.10 is slow at
 * scattered selections (selecting ~30K random rows of Fashion-MNIST took 6.7 s against 0.19 s to
 * read the whole 188 MB file). So:
 *   (a) read: rank r reads the contiguous block of rows [N·r/P, N·(r+1)/P) with collective
 *       MPI-IO reads (st_dataset_read_rows), one piece of at most 32 MiB at a time;
 *   (b) exchange, after each piece: every rank sends the ids it wants from the ranks' current
 *       pieces to their owners, and the owners send the rows back with MPI_Alltoallv, straight
 *       into the caller's output. Rows a rank owns itself are copied locally.
 * The exchange runs in rounds: in each round at most B rows go from one rank to another, with B
 * chosen so one round's send staging stays within a budget (16 MiB by default). Counts and
 * displacements are in rows (an MPI datatype of one contiguous row), so none of them overflows
 * an int for any dataset with fewer than 2^31 rows.
 *
 * Memory per rank at the peak: the caller's output, n_want rows; one read piece (the window,
 * at most 32 MiB, none when the rank wants exactly its block: that is read straight into the
 * output); send staging, at most min(budget, rows it sends in a round); the ids being served
 * (at most staging/row size int64) and O(P) counts; during a read, Open MPI's OMPIO gives each
 * aggregator rank a 32 MiB collective buffer. So the data memory of a rank follows its share
 * n_want, plus a constant. Measured for Fashion-MNIST's size in docs/parallel-io.md.
 *
 * A row range (st_loader_options_t range_lo/range_hi) restricts (a) to rows [range_lo, range_hi)
 * of the file, split among the ranks the same way: a streamed dataset reads one block at a time.
 *
 * Labels are left to the caller: stratified sharding needs every label on every rank before it
 * can decide which rows a rank wants, so y [N] (4 bytes a row) is already in memory everywhere;
 * st_loader_pick_labels selects the wanted ones. */
#ifndef ST_LOADER_H
#define ST_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/comm.h"
#include "sharding/dataset.h"
#include "st_error.h"

#define ST_LOADER_STAGING_BYTES ((size_t)16 << 20)
#define ST_LOADER_READ_PIECE_BYTES ((size_t)32 << 20)

/* The contiguous block of n items (rows, shards) that rank `rank` of `size` owns:
 * [n·rank/size, n·(rank+1)/size). Blocks differ in size by at most one; with n < size some are
 * empty. */
void st_loader_block(int64_t *lo, int64_t *hi, int64_t n, int rank, int size);

/* The same over whole chunks of `chunk` items: rank `rank` owns the items of chunks
 * [n_chunks·rank/size, n_chunks·(rank+1)/size), the last chunk possibly short. A chunk is never
 * split between ranks, so evaluating chunk by chunk runs the same rows in the same forward
 * passes at any rank count (BLIS picks its kernels by the row count, so a row's bits depend on
 * the size of the pass it is in). */
void st_loader_block_chunks(int64_t *lo, int64_t *hi, int64_t n, int64_t chunk, int rank, int size);

/* Fills out [n_want, numel(shape)] with rows want[0..n_want) of /X, in the order of want.
 * want holds global row ids in 0..N-1, sorted ascending (repeats allowed); n_want may be 0 (want
 * may then be NULL). Collective over c->comm: every rank calls it with the same dataset. When a
 * rank's want is invalid or any step fails on any rank, every rank returns an error (the failing
 * rank names the position and row; the others name the failing rank), so none hangs. */
st_status_t st_loader_gather_rows(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want,
                                  int64_t n_want, float *out, st_error_t *err);

/* Tuning and diagnostics for st_loader_gather_rows_ex. */
typedef struct {
    size_t staging_bytes;    /* send staging per round; 0: ST_LOADER_STAGING_BYTES. Sets B */
    size_t read_piece_bytes; /* rows read (and held) at a time; 0: ST_LOADER_READ_PIECE_BYTES */
    int64_t range_lo, range_hi; /* read only rows [range_lo, range_hi) of the file, split among the
                              * ranks like the whole file otherwise (a block of a streamed dataset);
                              * want must lie inside it. Both 0: the whole file */
    const float *preread;    /* /X gathers only: this rank's share of the rows (its block
                              * st_loader_block of the range, [hi − lo, row_floats]) already read —
                              * by a prefetch thread, say: phase (a) is skipped, only the exchange
                              * runs. Every rank passes one or none */
} st_loader_options_t;

typedef struct {
    double read_s, exchange_s;  /* wall time of phase (a) and phase (b) on this rank */
    int64_t block_rows;         /* rows this rank read */
    int64_t rows_local;         /* wanted rows it owned itself (copied) */
    int64_t rows_sent, rows_received;
    int64_t rows_per_round;     /* B: at most this many rows from one rank to another a round */
    int n_rounds, n_reads;      /* exchange rounds (all pieces) and collective reads (pieces) */
    int direct;                 /* it wanted exactly its block and read it straight into out */
    size_t staging_bytes;       /* the largest send staging it allocated */
    size_t window_bytes;        /* the read window it allocated (0 when direct) */
} st_loader_info_t;

/* st_loader_gather_rows with options (NULL: defaults) and diagnostics (info may be NULL).
 * All ranks must pass the same options. */
st_status_t st_loader_gather_rows_ex(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want,
                                     int64_t n_want, float *out, const st_loader_options_t *opt,
                                     st_loader_info_t *info, st_error_t *err);

/* The same two-phase gather for the values of target t (ds->targets[t]): out [n_want, width]
 * floats (class ids and 0/1 labels converted), so every per-row array of a rank's rows moves
 * like /X and its memory follows the rank's share. */
st_status_t st_loader_gather_target(const st_dataset_t *ds, int t, const st_comm_t *c, const int64_t *want,
                                    int64_t n_want, float *out, st_error_t *err);

/* st_loader_gather_target with options (NULL: defaults; a row range, say). */
st_status_t st_loader_gather_target_ex(const st_dataset_t *ds, int t, const st_comm_t *c, const int64_t *want,
                                       int64_t n_want, float *out, const st_loader_options_t *opt, st_error_t *err);

/* The same gather for /lengths (the file must have it): out [n_want] int32. Each value is checked
 * to be in [1, T]; the lowest failing rank names the file and its first bad row, and every rank
 * fails. */
st_status_t st_loader_gather_lengths(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want,
                                     int64_t n_want, int32_t *out, st_error_t *err);

/* st_loader_gather_lengths with options (NULL: defaults). */
st_status_t st_loader_gather_lengths_ex(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want,
                                        int64_t n_want, int32_t *out, const st_loader_options_t *opt, st_error_t *err);

/* y_out[i] = y_all[want[i]]. */
void st_loader_pick_labels(int32_t *y_out /*[n_want]*/, const int32_t *y_all /*[N]*/,
                           const int64_t *want /*[n_want]*/, int64_t n_want);

#endif
