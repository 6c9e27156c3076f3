/* dataset.h — strata's HDF5 dataset format (docs/data-format.md): reading its metadata and
 * labels, reading blocks of rows (collectively over MPI-IO or independently), and writing it.
 *
 * Layout (format version 1):
 *   /X       float32 [N, D] or [N, T, C], chunked by rows, uncompressed (ranks read row blocks)
 *   /y       int32 [N], class ids 0..K-1
 *   /split   uint8 [N], optional: 0 train, 1 val, 2 test (a dataset's fixed test set)
 *   root attributes: strata_format (int 1), n_classes (int K), class_names (K strings),
 *   feature_names (optional: D strings for [N, D], C for [N, T, C]), source (string).
 * Reserved for later versions: /lengths (sequence lengths), /targets/<head> (multi-head),
 * /ctc_labels. A reader ignores objects it does not know.
 *
 * K is n_classes when present, else the number of class_names, else max(y)+1; when several are
 * present they must agree. Every error names the file (and the row or attribute at fault). */
#ifndef ST_DATASET_H
#define ST_DATASET_H

#include <stdint.h>

#include <mpi.h>

#include "shape.h"
#include "st_error.h"

#define ST_DATASET_FORMAT 1
#define ST_NAME_MAX 64

enum { ST_SPLIT_TRAIN = 0, ST_SPLIT_VAL = 1, ST_SPLIT_TEST = 2 };

typedef struct {
    char path[512];
    int64_t n;                      /* samples */
    st_shape_t shape;               /* per-sample shape: [D] or [T, C] */
    int n_classes;                  /* K */
    char (*class_names)[ST_NAME_MAX];   /* [K]; "0".."K-1" when the file has none */
    int n_feature_names;            /* 0 when the file has none */
    char (*feature_names)[ST_NAME_MAX]; /* [n_feature_names] */
    int has_split;                  /* the file has /split */
    char source[256];               /* what it was converted from ("" when unknown) */
    int format_version;
} st_dataset_t;

/* Opens `path` and reads its metadata; checks the layout (datasets, types, shapes, attributes).
 * Reads no rows. Any process may call it; it uses no MPI. */
st_status_t st_dataset_open(const char *path, st_dataset_t *ds, st_error_t *err);
void st_dataset_close(st_dataset_t *ds);

/* Reads all labels y [N] (and split [N] when non-NULL and the file has one; else split is left
 * untouched). Fails naming the first row whose label lies outside 0..K-1, or whose split value
 * is not 0, 1 or 2. */
st_status_t st_dataset_read_labels(const st_dataset_t *ds, int32_t *y, uint8_t *split, st_error_t *err);

/* Reads rows [row0, row0 + n_rows) of /X into X [n_rows, numel(shape)]. With comm !=
 * MPI_COMM_NULL every rank of comm must call it (collective MPI-IO read; n_rows may differ and
 * be 0); with MPI_COMM_NULL it is an independent read. */
st_status_t st_dataset_read_rows(const st_dataset_t *ds, int64_t row0, int64_t n_rows, float *X,
                                 MPI_Comm comm, st_error_t *err);

/* What st_dataset_write stores. */
typedef struct {
    int64_t n;
    st_shape_t shape;
    const float *X;                  /* [n, numel(shape)] */
    const int32_t *y;                /* [n] */
    const uint8_t *split;            /* [n] or NULL */
    int n_classes;
    const char *const *class_names;  /* [n_classes] or NULL */
    int n_feature_names;
    const char *const *feature_names;
    const char *source;              /* or NULL */
} st_dataset_spec_t;

/* Writes a dataset: to "<path>.tmp", flushed and fsync'ed, then renamed over `path`, so a
 * failure never leaves a partial file at `path` (the temporary is removed). Serial (no MPI). */
st_status_t st_dataset_write(const char *path, const st_dataset_spec_t *spec, st_error_t *err);

/* Reads /y [N] widened to int64 (and /split [N] widened to int32 when split != NULL and the file
 * has one) without range checks, so that out-of-range values survive for reporting
 * (st_inspect). Added for issue 3. */
st_status_t st_dataset_read_labels_raw(const st_dataset_t *ds, int64_t *y, int32_t *split, st_error_t *err);

/* 1 when s is valid UTF-8 (no overlong forms, surrogates or code points beyond U+10FFFF). Names
 * must be: they go to reports and to `strata inspect --json`. */
int st_utf8_valid(const char *s);

/* Largest number of classes a dataset may declare (a guard against integer labels that are not
 * class ids, such as a sample id column). */
#define ST_MAX_CLASSES 65536

#endif
