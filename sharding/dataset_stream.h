/* dataset_stream.h — writing strata's dataset format (dataset.h) block of rows by block of rows,
 * for files too large to build in memory (strata synth, the IDX converter).
 *
 * st_dataset_write builds a whole file in memory and then commits it; this writer instead
 * creates "<path>.tmp" on disk with /X (float32 [N, D] or [N, T, C], chunked like
 * st_dataset_write: about 1 MiB of rows a chunk), /y (int32 [N]) and the optional /split
 * (uint8), /groups (int64) and /lengths (int32) at their final size, and the caller writes rows
 * [row0, row0 + n) of all of them at once, in any order, as often as it likes. The same
 * attributes as st_dataset_write (strata_format 1, 2 with /groups or /targets, 3 with
 * /lengths; n_classes, class_names, source, feature_names). Targets (/targets/<name>) are not
 * streamed: their values are given whole to st_stream_create. st_stream_finish closes the file, reads its metadata back
 * (st_dataset_open) and renames it over `path`; st_stream_abort removes the temporary.
 *
 * With comm != MPI_COMM_NULL the file is opened over MPI-IO (parallel HDF5) and every call is
 * collective: every rank of comm calls it, with its own rows (n may be 0), and the writes are
 * collective MPI-IO. The ranks agree on each call's status, so a failure on one rank fails the
 * call everywhere instead of leaving the others waiting. Memory: nothing per row; the caller's
 * blocks only. Unlike st_dataset_write, the file is written by HDF5 itself: a full disk makes
 * H5Fclose fail on a real file, which HDF5 1.10 may not survive (h5util.h); acceptable for files
 * that cannot be held in memory at all. */
#ifndef ST_DATASET_STREAM_H
#define ST_DATASET_STREAM_H

#include <stdint.h>

#include <hdf5.h>
#include <mpi.h>

#include "dataset.h"

/* What the file will hold (the rows come later). */
typedef struct {
    int64_t n;                      /* rows */
    st_shape_t shape;               /* [D] or [T, C] */
    int n_classes;                  /* K >= 1: /y and the root class table; 0: no /y (format 2 with
                                     * targets only; st_stream_write's y is then NULL) */
    const char *const *class_names; /* [K] or NULL: "0".."K-1" */
    const char *source;             /* or NULL */
    int n_feature_names;            /* 0, or numel/channels names: the attribute feature_names */
    const char *const *feature_names;
    int has_split, has_groups, has_lengths; /* /lengths needs shape [T, C] */
    int n_targets;                  /* /targets/<name>, written whole at creation (their values are
                                     * small next to /X: st_dataset_write's rules; no sequence targets) */
    const st_target_spec_t *targets;
} st_stream_spec_t;

typedef struct {
    char path[1024], tmp[1040];
    st_stream_spec_t spec;
    MPI_Comm comm;                  /* MPI_COMM_NULL: serial */
    int rank;
    hid_t f, x, y, split, groups, lengths;
} st_dataset_stream_t;

/* Creates "<path>.tmp" with every dataset at its final size and the attributes. Collective when
 * comm != MPI_COMM_NULL (the same spec on every rank). */
st_status_t st_stream_create(st_dataset_stream_t *w, const char *path, const st_stream_spec_t *spec, MPI_Comm comm,
                             st_error_t *err);

/* Writes rows [row0, row0 + n_rows): X [n_rows, numel(shape)], y [n_rows], and split, groups,
 * lengths [n_rows] when the spec has them (else NULL). Collective when the writer is. */
st_status_t st_stream_write(st_dataset_stream_t *w, int64_t row0, int64_t n_rows, const float *X, const int32_t *y,
                            const uint8_t *split, const int64_t *groups, const int32_t *lengths, st_error_t *err);

/* Closes the file, checks it opens as a dataset of n rows and renames it over `path` (rank 0).
 * On failure the temporary is removed. Collective when the writer is. */
st_status_t st_stream_finish(st_dataset_stream_t *w, st_error_t *err);

/* Closes what is open and removes the temporary (rank 0). Collective when the writer is. */
void st_stream_abort(st_dataset_stream_t *w);

#endif
