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
 * break or are not valid UTF-8 are always errors naming the line and the column.
 *
 * Targets (format 2, issue 13): each "NAME:COLUMNS:KIND" spec makes /targets/NAME from COLUMNS —
 * one header name, names joined by '+' ("a+b+c") and ranges of header positions "first..last"
 * (a COLUMNS string that is itself a header name is that column). KIND class: one column of
 * labels, turned into ids like the label column's (an empty cell is missing, id −1, only with
 * allow_missing); multilabel: cells 0 or 1; regression: numbers (an empty or nan cell is
 * missing, NaN, only with allow_missing). A column belongs to at most one target (the label
 * column may also be a class target's); target, group and split columns are not features. The
 * group column holds integers (used as int64 ids) or any strings (ids in order of first
 * appearance). Without a label column no /y is written. */
#ifndef ST_CONVERT_CSV_H
#define ST_CONVERT_CSV_H

#include <stdint.h>

#include "st_error.h"

#include "dataset.h"

typedef struct {
    const char *path;
    const char *label;         /* the label column's header name, or NULL (then n_targets >= 1) */
    const char *split_column;  /* NULL, or a column holding train/val/test (or 0/1/2) */
    int drop_bad_rows;         /* drop rows with a missing or non-numeric cell instead of failing */
    int n_targets;             /* 0..ST_MAX_TARGETS */
    const char *targets[ST_MAX_TARGETS]; /* "NAME:COLUMNS:KIND" */
    const char *group_column;  /* NULL, or the column of group ids (becomes /groups) */
    int allow_missing;         /* class and regression targets may have empty cells (−1 / NaN) */
    int shape_t, shape_c;      /* > 0: the feature columns are one [T, C] sequence a row, time-major
                                * (column t·C + c is step t, channel c); they must number T·C.
                                * 0: [D] rows */
} st_csv_options_t;

/* One "NAME:COLUMNS:KIND" spec, split: NAME is before the first ':', KIND after the last (so
 * column names may hold ':'); columns points into the spec. */
typedef struct {
    char name[ST_NAME_MAX];
    const char *columns;
    size_t columns_len;
    st_target_kind_t kind;
} st_csv_target_spec_t;

/* Splits and checks a spec (a name usable under /targets, a known kind, columns not empty);
 * on failure returns ST_ERR_CONFIG with a message quoting the spec. */
st_status_t st_csv_target_parse(const char *spec, st_csv_target_spec_t *out, st_error_t *err);

/* A target read from the CSV file. */
typedef struct {
    char name[ST_NAME_MAX];
    st_target_kind_t kind;
    int width;                 /* 1 (class), else the number of columns */
    int n_classes;             /* class */
    char **names;              /* class: [n_classes] class names; else [width] the column headers */
    int labels_are_ids;        /* class: integer labels used as ids */
    int allow_missing;         /* class and regression, when allow_missing was given */
    int64_t n_missing;         /* class: rows with id −1; regression: NaN values */
    void *values;              /* class int32 [n]; multilabel uint8 [n, width]; regression float [n, width] */
} st_csv_target_t;

typedef struct {
    int64_t n;                 /* rows kept */
    int d;                     /* features */
    float *X;                  /* [n, d] */
    int32_t *y;                /* [n], or NULL without a label column */
    uint8_t *split;            /* [n] when split_column was given, else NULL */
    int n_classes;
    char **class_names;        /* [n_classes] */
    char **feature_names;      /* [d] */
    int labels_are_ids;        /* 1: integer labels used as ids; 0: sorted distinct strings */
    int64_t n_dropped;         /* rows dropped (drop_bad_rows) */
    char first_dropped[256];   /* why the first dropped row was dropped */
    int n_targets;
    st_csv_target_t targets[ST_MAX_TARGETS];
    int64_t *groups;           /* [n] when group_column was given, else NULL */
    int64_t n_groups;          /* distinct group ids */
    int groups_are_ids;        /* 1: integer cells used as ids; 0: strings, ids by first appearance */
} st_csv_data_t;

/* Parses the CSV file into memory. Free with st_csv_free (also after a failure). */
st_status_t st_csv_read(const st_csv_options_t *opt, st_csv_data_t *out, st_error_t *err);
void st_csv_free(st_csv_data_t *data);

typedef struct {
    int64_t n, n_dropped;
    int d, n_classes, labels_are_ids; /* n_classes 0: no label column, no /y */
    char first_dropped[256];
    int n_targets;
    struct {
        char name[ST_NAME_MAX];
        st_target_kind_t kind;
        int width, n_classes, labels_are_ids;
        int64_t n_missing;
    } targets[ST_MAX_TARGETS];
    int has_groups;
    int64_t n_groups;
} st_csv_summary_t;

/* st_csv_read, then st_dataset_write to out_path (nothing is left at out_path on failure). */
st_status_t st_convert_csv(const char *out_path, const st_csv_options_t *opt, st_csv_summary_t *sum, st_error_t *err);

#endif
