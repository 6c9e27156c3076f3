/* dataset.h — strata's HDF5 dataset format (docs/data-format.md): reading its metadata and
 * labels, reading blocks of rows (collectively over MPI-IO or independently), and writing it.
 *
 * Layout (format version 1; 2 with targets or groups; 3 with lengths; 4 with sequence targets):
 *   /X       float32 [N, D] or [N, T, C], chunked by rows, uncompressed (ranks read row blocks)
 *   /y       int32 [N], class ids 0..K-1: the stratification key and the single-target
 *            shorthand; optional in format 2 (data.stratify then names a class target, or none)
 *   /split   uint8 [N], optional: 0 train, 1 val, 2 test (a dataset's fixed test set)
 *   /targets/<name>, optional (format 2): one dataset per target, string attribute kind =
 *            "class" (int32 [N], attrs n_classes, class_names), "multilabel" (uint8 [N, k] 0/1,
 *            attr label_names) or "regression" (float32 [N, k] or [N], attr column_names);
 *            optional int attribute allow_missing = 1: class −1 / regression NaN mark a
 *            missing value (masked out of that head's loss and metrics)
 *            kind = "sequence" (format 4): int32 [N, L_max], L_max >= 1, row i's label sequence
 *            in its first target_lengths[i] entries (each in [1, V); the rest is padding, read as
 *            0), attribute vocabulary (V strings; index 0 is the CTC blank, e.g. "<blank>"), and
 *            /target_lengths/<name> int32 [N] with each length in [0, L_max]
 *   /groups  int64 [N], optional (format 2): rows with one value stay in one split part
 *   /lengths int32 [N], optional, only when /X is [N, T, C]: row i's valid steps are
 *            0..lengths[i]-1, each length in [1, T]; the steps past it are padding (a reader
 *            sets them to 0, whatever the file holds there). Any integer type is read.
 *   root attributes: strata_format (int 1, 2 or 3), n_classes (int K), class_names (K strings),
 *   feature_names (optional: D strings for [N, D], C for [N, T, C]), source (string).
 * A reader ignores objects it does not know.
 *
 * Without /targets the file has one target, "y" (/y with the root class names). K is n_classes
 * when present, else the number of class_names, else max(y)+1; when several are present they
 * must agree. Every error names the file (and the row or attribute at fault). */
#ifndef ST_DATASET_H
#define ST_DATASET_H

#include <stdint.h>

#include <mpi.h>

#include "shape.h"
#include "st_error.h"

#define ST_DATASET_FORMAT 4
#define ST_NAME_MAX 64
#define ST_MAX_TARGETS 8

typedef enum { ST_TARGET_CLASS, ST_TARGET_MULTILABEL, ST_TARGET_REGRESSION, ST_TARGET_SEQUENCE } st_target_kind_t;

/* One target of a dataset (its metadata; values are read with st_dataset_read_target_rows). */
typedef struct {
    char name[ST_NAME_MAX];         /* "y" for the /y shorthand, else the name under /targets */
    char h5path[ST_NAME_MAX + 16];  /* "/y" or "/targets/<name>" */
    st_target_kind_t kind;
    int width;                      /* values per row: 1 (class), k (multilabel, regression),
                                     * 1 + L_max (sequence: the length, then L_max token ids) */
    int n_classes;                  /* class: K; sequence: V, the vocabulary with the blank */
    int max_len;                    /* sequence: L_max */
    char lengths_path[ST_NAME_MAX + 24]; /* sequence: "/target_lengths/<name>" */
    char (*names)[ST_NAME_MAX];     /* class: [K] class names; sequence: [V] vocabulary;
                                     * else [width] label/column names */
    int allow_missing;              /* class −1 / regression NaN allowed (masked) */
} st_target_info_t;

const char *st_target_kind_name(st_target_kind_t k); /* "class", "multilabel", "regression", "sequence" */

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
    int has_y;                      /* the file has /y (format 2 may not) */
    int has_groups;                 /* the file has /groups */
    int has_lengths;                /* the file has /lengths ([N, T, C] only; values checked on read) */
    int n_targets;                  /* >= 1: /targets/<name>, or the one target "y" */
    st_target_info_t targets[ST_MAX_TARGETS];
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

/* Reads rows [row0, row0 + n_rows) of target t (class ids and 0/1 labels converted to float;
 * a class id is exact in float32) into out [n_rows, width]; collective like st_dataset_read_rows.
 * A sequence target's row is [length, token_0 .. token_{L_max−1}], tokens past the length 0. */
st_status_t st_dataset_read_target_rows(const st_dataset_t *ds, int t, int64_t row0, int64_t n_rows, float *out,
                                        MPI_Comm comm, st_error_t *err);

/* Reads all N values of class target t into y [N] (independent read; no range check) — the
 * stratification key when the file has no /y. */
st_status_t st_dataset_read_target_ids(const st_dataset_t *ds, int t, int64_t *y, st_error_t *err);

/* Reads /split [N] (the file must have it), refusing values other than 0, 1, 2 (naming the row). */
st_status_t st_dataset_read_split(const st_dataset_t *ds, uint8_t *split, st_error_t *err);

/* Reads rows [row0, row0 + n_rows) of /lengths (the file must have it) into out [n_rows];
 * collective like st_dataset_read_rows. Fails naming the file and the first row (of those read)
 * whose length is not an integer in [1, T]. */
st_status_t st_dataset_read_lengths(const st_dataset_t *ds, int64_t row0, int64_t n_rows, int32_t *out, MPI_Comm comm,
                                    st_error_t *err);

/* Index of the first of n lengths outside [1, T], or -1. */
int64_t st_lengths_first_bad(const int32_t *len /*[n]*/, int64_t n, int T);

/* Reads /groups [N] (the file must have it). */
st_status_t st_dataset_read_groups(const st_dataset_t *ds, int64_t *groups, st_error_t *err);

/* Index of the target named `name`, or -1. */
int st_dataset_target_find(const st_dataset_t *ds, const char *name);

/* Checks n rows of target t's values (as read by st_dataset_read_target_rows): class ids in
 * [0, K) (or −1 when allow_missing), multilabel 0 or 1, regression finite (NaN when
 * allow_missing). Returns the index of the first bad row, or -1; *why describes it. */
int64_t st_target_first_bad(const st_target_info_t *t, const float *v /*[n, width]*/, int64_t n, char *why,
                            size_t why_size);

/* What st_dataset_write stores for one target. */
typedef struct {
    const char *name;
    st_target_kind_t kind;
    int width;                       /* 1 for class */
    int n_classes;                   /* class */
    const char *const *names;        /* class names [n_classes] / label or column names [width], or NULL */
    int allow_missing;
    const void *values;              /* class: int32 [n]; multilabel: uint8 [n, width]; regression: float [n, width];
                                      * sequence: int32 [n, width] (width = L_max, names = vocabulary [n_classes]) */
    const int32_t *lengths;          /* sequence: [n] label counts, each in [0, width] */
} st_target_spec_t;

/* An extra root attribute st_dataset_write stores (a converter's settings, such as the audio
 * feature options): a string when text != NULL, else float64 values [n_values] (1: a scalar). */
typedef struct {
    const char *name;
    const char *text;
    const double *values;
    int n_values;
} st_dataset_attr_t;

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
    int n_targets;                   /* format 2: /targets/<name> (y may then be NULL: no /y) */
    const st_target_spec_t *targets;
    const int64_t *groups;           /* [n] or NULL */
    const int32_t *lengths;          /* [n] each in [1, T] (shape [T, C] only), or NULL: /lengths */
    int n_attrs;                     /* extra root attributes (names must not be the format's own) */
    const st_dataset_attr_t *attrs;
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
