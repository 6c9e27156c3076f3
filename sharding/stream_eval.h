/* stream_eval.h — the validation and test rows of a streamed split (data.stream), read on demand.
 *
 * Evaluation runs passes of at most ST_DATA_EVAL_ROWS rows of a part in id order, and a rank owns
 * a contiguous block of them (st_loader_block_chunks), so a pass's rows lie in one contiguous
 * range of file rows [ids[0], ids[n − 1]] (about n / the part's fraction rows), swept forward
 * once: /X with pread(2) at the byte offsets the prefetch found (st_prefetch_read: contiguous or
 * whole-row-chunk float32 /X), one read per run of consecutive wanted rows, straight into the
 * pass's rows; otherwise with independent HDF5 hyperslab reads of bounded pieces (each starting at
 * the next wanted row, so longer gaps are skipped) from which the part's rows are kept; every
 * target and /lengths the same way, as many rows a piece as it holds. No collective: each rank reads its own range when it needs it. Rows are then
 * preprocessed as st_data_load preprocesses a part in memory (padding past /lengths zeroed, pixel
 * scaling, standardisation with the training statistics), elementwise, so they have its bits.
 *
 * Memory (a constant, st_stream_eval_bytes): a piece of ST_STREAM_EVAL_PIECE_ROWS rows of /X
 * (targets and lengths reuse it, as many rows as fit), and one pass's rows (X, targets, lengths).
 * Only the ids and labels of the rows a rank evaluates stay in memory (12 bytes a row). */
#ifndef ST_STREAM_EVAL_H
#define ST_STREAM_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "sharding/dataset.h"
#include "sharding/stream_prefetch.h"
#include "st_error.h"

#define ST_STREAM_EVAL_PIECE_ROWS 512 /* file rows of /X per read */

typedef struct {
    const st_dataset_t *ds;        /* borrowed */
    const st_prefetch_t *pf;       /* borrowed: /X's byte layout (pf->usable: pread), or NULL */
    long row_floats, tgt_floats;
    int n_targets, tgt_offset[ST_MAX_TARGETS], C, has_lengths;
    int64_t cap_rows;              /* rows of one pass */
    size_t piece_bytes;
    void *piece;                   /* [piece_bytes] one read */
    float *X;                      /* [cap_rows, row_floats] the pass's rows */
    float *T;                      /* [cap_rows, tgt_floats] */
    int32_t *len;                  /* [cap_rows] or NULL without /lengths */
    /* preprocessing (st_stream_eval_set_transform) */
    int scale_pixels;
    const double *mean, *std;      /* borrowed; NULL: not standardised */
    int std_T, std_F;
} st_stream_eval_t;

/* Bytes st_stream_eval_open allocates for passes of cap_rows rows. */
size_t st_stream_eval_bytes(long row_floats, long tgt_floats, int has_lengths, int64_t cap_rows);

/* Buffers for passes of up to cap_rows rows of ds (targets laid out like st_data_t.T). Local. */
st_status_t st_stream_eval_open(st_stream_eval_t *e, const st_dataset_t *ds, const st_prefetch_t *pf,
                                long tgt_floats, const int *tgt_offset /*[n_targets]*/, int64_t cap_rows,
                                st_error_t *err);

/* Rows read from now on get pixel scaling and/or standardisation as in st_stream_set_transform. */
void st_stream_eval_set_transform(st_stream_eval_t *e, int scale_pixels, const double *mean, const double *std,
                                  int T, int F);

/* Rows ids [n] (ascending, n <= cap_rows) into e->X, e->T, e->len; raw = 1: padding zeroed only
 * (the start-up checks), else preprocessed. Local (no MPI); errors name the file and rows. */
st_status_t st_stream_eval_read(st_stream_eval_t *e, const int64_t *ids /*[n]*/, int64_t n, int raw, st_error_t *err);

void st_stream_eval_free(st_stream_eval_t *e);

#endif
