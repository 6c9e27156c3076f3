/* stream_eval.c — on-demand reads of a streamed split's validation and test rows (see
 * stream_eval.h): a pass's contiguous file range read in pieces, its part's rows kept. */
#include "sharding/stream_eval.h"

#include <stdlib.h>
#include <string.h>

#include "sharding/batch.h"
#include "sharding/standardize.h"

enum { WHAT_X = -1, WHAT_LEN = -2 }; /* else a target's index */

size_t st_stream_eval_bytes(long row_floats, long tgt_floats, int has_lengths, int64_t cap_rows) {
    size_t piece = (size_t)ST_STREAM_EVAL_PIECE_ROWS * (size_t)row_floats * sizeof(float);
    size_t pass = (size_t)cap_rows * ((size_t)(row_floats + tgt_floats) * sizeof(float) + (has_lengths ? 4 : 0));
    return piece + pass;
}

st_status_t st_stream_eval_open(st_stream_eval_t *e, const st_dataset_t *ds, const st_prefetch_t *pf,
                                long tgt_floats, const int *tgt_offset, int64_t cap_rows, st_error_t *err) {
    memset(e, 0, sizeof *e);
    e->ds = ds, e->pf = pf && pf->usable ? pf : NULL;
    e->row_floats = st_shape_numel(ds->shape), e->tgt_floats = tgt_floats;
    e->n_targets = ds->n_targets, e->C = st_shape_channels(ds->shape), e->has_lengths = ds->has_lengths;
    memcpy(e->tgt_offset, tgt_offset, sizeof(int) * (size_t)e->n_targets);
    e->cap_rows = cap_rows;
    e->piece_bytes = (size_t)ST_STREAM_EVAL_PIECE_ROWS * (size_t)e->row_floats * sizeof(float);
    e->piece = malloc(e->piece_bytes);
    e->X = malloc((size_t)cap_rows * (size_t)e->row_floats * sizeof(float));
    e->T = malloc((size_t)cap_rows * (size_t)(tgt_floats ? tgt_floats : 1) * sizeof(float));
    e->len = e->has_lengths ? malloc((size_t)cap_rows * sizeof(int32_t)) : NULL;
    if (!e->piece || !e->X || !e->T || (e->has_lengths && !e->len))
        return st_fail(err, ST_ERR_NOMEM, "data.stream: cannot allocate %.1f MiB for the evaluation's reads",
                       (double)st_stream_eval_bytes(e->row_floats, tgt_floats, e->has_lengths, cap_rows) / 1048576.0);
    return ST_OK;
}

void st_stream_eval_set_transform(st_stream_eval_t *e, int scale_pixels, const double *mean, const double *std,
                                  int T, int F) {
    e->scale_pixels = scale_pixels, e->mean = mean, e->std = std, e->std_T = T, e->std_F = F;
}

/* File rows [lo, lo + m) of `what` into e->piece. */
static st_status_t read_piece(st_stream_eval_t *e, int what, int64_t lo, int64_t m, st_error_t *err) {
    if (what == WHAT_LEN) return st_dataset_read_lengths(e->ds, lo, m, e->piece, MPI_COMM_NULL, err);
    if (what >= 0) return st_dataset_read_target_rows(e->ds, what, lo, m, e->piece, MPI_COMM_NULL, err);
    if (!e->pf) return st_dataset_read_rows(e->ds, lo, m, e->piece, MPI_COMM_NULL, err);
    if (!st_prefetch_read(e->pf, e->piece, lo, lo + m))
        return st_fail(err, ST_ERR_IO, "%s: cannot read /X rows %lld..%lld", e->ds->path, (long long)lo,
                       (long long)(lo + m - 1));
    return ST_OK;
}

/* /X with pread: each run of consecutive wanted rows read straight into out [n, row_floats], in
 * ascending file order (the kernel's read-ahead sees one forward sweep of the range); rows
 * between runs are not read. */
static st_status_t read_runs(st_stream_eval_t *e, float *out, const int64_t *ids, int64_t n, st_error_t *err) {
    for (int64_t j = 0, k; j < n; j = k) {
        for (k = j + 1; k < n && ids[k] == ids[k - 1] + 1; k++) {}
        if (!st_prefetch_read(e->pf, out + (size_t)j * (size_t)e->row_floats, ids[j], ids[k - 1] + 1))
            return st_fail(err, ST_ERR_IO, "%s: cannot read /X rows %lld..%lld", e->ds->path, (long long)ids[j],
                           (long long)ids[k - 1]);
    }
    return ST_OK;
}

/* Rows ids [n] of `what` (row_bytes each) into out, row i at out + i·stride: the range
 * [ids[0], ids[n − 1]] in pieces of as many rows as e->piece holds, each starting at the next
 * wanted row. */
static st_status_t gather(st_stream_eval_t *e, int what, size_t row_bytes, void *out, size_t stride,
                          const int64_t *ids, int64_t n, st_error_t *err) {
    int64_t cap = (int64_t)(e->piece_bytes / row_bytes), end = n > 0 ? ids[n - 1] + 1 : 0;
    if (cap < 1) return st_fail(err, ST_ERR_INTERNAL, "data.stream: an evaluation piece holds no row");
    if (what == WHAT_X && e->pf && stride == row_bytes) return read_runs(e, out, ids, n, err);
    for (int64_t j = 0; j < n;) {
        int64_t lo = ids[j], hi = lo + cap < end ? lo + cap : end;
        ST_TRY(read_piece(e, what, lo, hi - lo, err));
        for (; j < n && ids[j] < hi; j++)
            memcpy((char *)out + (size_t)j * stride, (const char *)e->piece + (size_t)(ids[j] - lo) * row_bytes, row_bytes);
    }
    return ST_OK;
}

st_status_t st_stream_eval_read(st_stream_eval_t *e, const int64_t *ids, int64_t n, int raw, st_error_t *err) {
    if (n > e->cap_rows)
        return st_fail(err, ST_ERR_INTERNAL, "data.stream: %lld evaluation rows for a pass of %lld", (long long)n,
                       (long long)e->cap_rows);
    size_t fb = sizeof(float);
    ST_TRY(gather(e, WHAT_X, (size_t)e->row_floats * fb, e->X, (size_t)e->row_floats * fb, ids, n, err));
    for (int t = 0; t < e->n_targets; t++)
        ST_TRY(gather(e, t, (size_t)e->ds->targets[t].width * fb, e->T + e->tgt_offset[t], (size_t)e->tgt_floats * fb,
                      ids, n, err));
    if (e->len) {
        ST_TRY(gather(e, WHAT_LEN, sizeof(int32_t), e->len, sizeof(int32_t), ids, n, err));
        st_data_zero_padding(e->X, e->len, n, e->row_floats, e->C);
    }
    if (!raw && e->scale_pixels) st_scale_pixels(e->X, n * e->row_floats);
    if (!raw && e->mean && e->len) st_standardize_apply_masked(e->X, e->mean, e->std, e->len, n, e->std_T, e->std_F, e->C);
    else if (!raw && e->mean) st_standardize_apply(e->X, e->mean, e->std, n, e->std_T, e->std_F);
    return ST_OK;
}

void st_stream_eval_free(st_stream_eval_t *e) {
    free(e->piece), free(e->X), free(e->T), free(e->len);
    memset(e, 0, sizeof *e);
}
