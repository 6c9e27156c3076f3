/* stream_prefetch.h — reads the next block of a streamed split while the current one trains.
 *
 * A background thread reads this rank's share of the block's /X rows (its st_loader_block of the
 * block's file rows: phase (a) of the two-phase read) into a buffer; when the block is needed the
 * main thread runs only the exchange (st_loader_options_t preread) and reads the small per-row
 * arrays (targets, /lengths) collectively. Neither MPI (initialised MPI_THREAD_FUNNELED) nor
 * HDF5 (not a thread-safe build here) is called from the thread: it reads the file with pread(2)
 * at the byte offsets of /X's storage, found once on the main thread with HDF5 (H5Dget_offset
 * for a contiguous dataset, H5Dget_chunk_info for a chunked one). So checkpoint writes and every
 * other HDF5 call go on undisturbed. That needs /X stored as little-endian float32 without
 * filters, each chunk holding whole rows (what strata convert and h5py write by default); any
 * other layout (compressed, say) is read synchronously instead (st_prefetch_t.usable = 0, with
 * the reason). */
#ifndef ST_STREAM_PREFETCH_H
#define ST_STREAM_PREFETCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

typedef struct {
    int usable;                /* 0: the layout is not one the thread can read (why says so) */
    char why[160];
    int fd;                    /* the dataset file, read-only */
    int64_t n_rows;            /* N */
    int64_t chunk_rows;        /* rows per chunk (N for a contiguous dataset) */
    int64_t n_chunks;
    uint64_t *chunk_addr;      /* [n_chunks] byte offset of chunk c (rows c·chunk_rows ..) */
    size_t row_bytes;
    float *buf;                /* [cap_rows, row_bytes / 4] the share read */
    int64_t cap_rows;
    /* the job in flight */
    pthread_t thread;
    int running;
    int64_t block, lo, hi;     /* the block and the rows [lo, hi) being read; block -1: none */
    int ok;                    /* the thread's result (1: every row read) */
    double read_s;             /* the thread's time reading, all jobs */
} st_prefetch_t;

/* Finds /X's storage in `path` (main thread, serial HDF5) and allocates a buffer of cap_rows
 * rows. An unsupported layout is not an error: usable = 0 and why say so. */
st_status_t st_prefetch_open(st_prefetch_t *p, const char *path, size_t row_bytes, int64_t cap_rows, st_error_t *err);

/* Starts reading rows [lo, hi) (<= cap_rows of them) of `block` in the background. */
void st_prefetch_start(st_prefetch_t *p, int64_t block, int64_t lo, int64_t hi);

/* Waits for the job in flight (if any); 1 when it read every row. */
int st_prefetch_wait(st_prefetch_t *p);

/* Reads rows [lo, hi) of /X into dst [hi − lo, row_bytes / 4] now, on the calling thread (the
 * evaluation's on-demand reads: sharding/stream_eval.h); safe while a background job runs (pread
 * keeps no file position). 1 when every row was read, 0 when not (or the layout is not usable). */
int st_prefetch_read(const st_prefetch_t *p, float *dst, int64_t lo, int64_t hi);

void st_prefetch_close(st_prefetch_t *p);

#endif
