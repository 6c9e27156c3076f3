/* convert_csv.h — a CSV file with a header row to a strata dataset.
 *
 * Rules (docs/data.md): RFC 4180 basics (comma separator, double-quoted fields that may hold
 * commas, newlines and "" for a quote; LF or CRLF line ends; the last line may lack one; a UTF-8
 * byte-order mark is skipped; blank lines are skipped). The label column is chosen by name.
 * Labels: when every label is a non-negative integer (digits only) the labels are class ids and
 * class names are their decimal text "0".."max"; otherwise every distinct label is a class, ids
 * in sorted (strcmp) order, names kept. Every other column (except an optional split column)
 * must be numeric and becomes a feature, named by its header. Cells are trimmed of spaces and
 * tabs. A missing or non-numeric cell is an error naming the line (1-based, in the file) and
 * the column, unless drop_bad_rows is set: then such rows are dropped and counted (so is a
 * number beyond float32's range, 1e400 included, and a label that is not valid UTF-8). A row with
 * the wrong number of fields, a NUL byte anywhere, and a header whose names repeat, hold a line
 * break or are not valid UTF-8 are always errors naming the line and the column. */
#ifndef ST_CONVERT_CSV_H
#define ST_CONVERT_CSV_H

#include <stdint.h>

#include "st_error.h"

typedef struct {
    const char *path;
    const char *label;         /* the label column's header name */
    const char *split_column;  /* NULL, or a column holding train/val/test (or 0/1/2) */
    int drop_bad_rows;         /* drop rows with a missing or non-numeric cell instead of failing */
} st_csv_options_t;

typedef struct {
    int64_t n;                 /* rows kept */
    int d;                     /* features */
    float *X;                  /* [n, d] */
    int32_t *y;                /* [n] */
    uint8_t *split;            /* [n] when split_column was given, else NULL */
    int n_classes;
    char **class_names;        /* [n_classes] */
    char **feature_names;      /* [d] */
    int labels_are_ids;        /* 1: integer labels used as ids; 0: sorted distinct strings */
    int64_t n_dropped;         /* rows dropped (drop_bad_rows) */
    char first_dropped[256];   /* why the first dropped row was dropped */
} st_csv_data_t;

/* Parses the CSV file into memory. Free with st_csv_free (also after a failure). */
st_status_t st_csv_read(const st_csv_options_t *opt, st_csv_data_t *out, st_error_t *err);
void st_csv_free(st_csv_data_t *data);

typedef struct {
    int64_t n, n_dropped;
    int d, n_classes, labels_are_ids;
    char first_dropped[256];
} st_csv_summary_t;

/* st_csv_read, then st_dataset_write to out_path (nothing is left at out_path on failure). */
st_status_t st_convert_csv(const char *out_path, const st_csv_options_t *opt, st_csv_summary_t *sum, st_error_t *err);

#endif
