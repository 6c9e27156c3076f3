/* predict_internal.h — the pieces of `strata predict` (jobs/predict.h) shared by its files: the
 * input rows (jobs/predict_input.c: HDF5 dataset or CSV by feature name) and the output
 * (jobs/predict_output.c: CSV or HDF5 from per-row float records). */
#ifndef ST_PREDICT_INTERNAL_H
#define ST_PREDICT_INTERNAL_H

#include <hdf5.h>
#include <stdio.h>

#include "jobs/checkpoint.h"
#include "jobs/evaluate.h" /* st_head_kind_t */
#include "sharding/csv_record.h"
#include "sharding/dataset.h"

/* Where the rows come from. */
typedef struct {
    int is_csv;
    st_shape_t shape;            /* per-sample shape: the dataset's, or [D] of the CSV */
    int has_lengths;             /* the dataset has /lengths */
    st_dataset_t ds;             /* HDF5 input */
    const char *path;
    char *text;                  /* CSV: the file mapped (pages come from the file, not the heap) */
    size_t size;
    st_csv_rec_t rec;
    int n_cols;
    int *col_feature;            /* CSV: [n_cols] the feature each column holds */
    const char *const *feature_names; /* CSV: the checkpoint's [D] */
    int64_t next_row;            /* CSV: data rows consumed so far */
    int at_end;
} st_pred_src_t;

/* Opens the input; a CSV's header is matched to ck's feature names (which must exist). */
st_status_t st_pred_src_open(st_pred_src_t *s, const char *path, const st_ckpt_t *ck, st_error_t *err);
/* X [n, numel(shape)] ← rows [row0, row0 + n) (fewer at the end: *got), len [n] their lengths
 * (with /lengths; steps past a length set to 0). Every value read must be finite. For a CSV,
 * row0 must not go back. Independent (no MPI). */
st_status_t st_pred_src_read(st_pred_src_t *s, int64_t row0, int n, float *X, int32_t *len, int *got, st_error_t *err);
void st_pred_src_close(st_pred_src_t *s);

/* One head's output: its record holds `width` floats per row. */
typedef struct {
    st_head_kind_t kind;
    int K;                      /* classes, labels, columns; ctc: the vocabulary V */
    int width;                  /* floats per row: K, or ctc the longest decoded sequence L */
    char label[ST_NAME_MAX];    /* column / dataset name */
    const char *const *names;   /* [K] class / label / column names, ctc vocabulary */
    int top_k;                  /* class heads in CSV: 0 = every probability */
} st_pred_head_t;

typedef struct {
    int h5;
    char path[4096], tmp[4200];
    FILE *f;                    /* CSV */
    hid_t file, dset[ST_CKPT_MAX_HEADS]; /* HDF5 */
    int64_t rows;               /* rows written */
    const st_pred_head_t *heads;
    int n_heads, rec_floats;
} st_pred_out_t;

/* Rank 0 only: opens <path>.tmp and writes the CSV header / creates the datasets. */
st_status_t st_pred_out_open(st_pred_out_t *o, const char *path, int h5, const st_pred_head_t *heads, int n_heads,
                             st_error_t *err);
/* Appends n rows of records rec [n, rec_floats] (the heads' widths, in order). */
st_status_t st_pred_out_append(st_pred_out_t *o, const float *rec, int64_t n, st_error_t *err);
/* commit: closes and renames the temporary over path; else closes and removes it. */
st_status_t st_pred_out_close(st_pred_out_t *o, int commit, st_error_t *err);

#endif
