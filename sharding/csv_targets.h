/* csv_targets.h — the target and group columns of a CSV conversion, internal to
 * sharding/convert_csv.c: the --target specs resolved against the header, each record's target
 * and group cells parsed into a scratch row and kept with the row, and at the end class labels
 * and group values turned into ids (the rules are in convert_csv.h). Also the cell helpers both
 * files use. */
#ifndef ST_CSV_TARGETS_H
#define ST_CSV_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "convert_csv.h"

/* Work state of the target and group columns while the rows are read. */
typedef struct {
    int n_cols;
    int *target_of, *pos_of;     /* [n_cols]: the target a column feeds and its position, or -1 */
    int group_col;               /* -1 without a group column */
    int class_col[ST_MAX_TARGETS];       /* a class target's column */
    int allow_missing;
    int64_t cap;                 /* rows the arrays below (and out->targets[].values) hold */
    char **class_cells[ST_MAX_TARGETS];  /* class: [cap] kept labels, NULL = missing */
    long *lines;                 /* [cap] line of each kept row */
    char **group_cells;          /* [cap] kept group cells */
    /* The current record's parsed cells (pointers into the record's buffer). */
    const char *class_cell[ST_MAX_TARGETS];
    uint8_t *row_bits[ST_MAX_TARGETS];
    float *row_reals[ST_MAX_TARGETS];
    const char *group_cell;
} st_csvt_t;

/* Resolves opt's targets against the header and checks them against the label, split and group
 * columns (-1 when absent); fills out->targets' name, kind, width, column names and allow_missing. Errors name the
 * file and the spec or column at fault. */
st_status_t st_csvt_init(st_csvt_t *w, const st_csv_options_t *opt, char **header, int n_cols, int label_col,
                         int split_col, int group_col, st_csv_data_t *out, st_error_t *err);
/* 1 when column i is a target or the group column. */
int st_csvt_owns(const st_csvt_t *w, int i);
/* Parses cell s of column i (st_csvt_owns) into the scratch row; NULL, or why it is bad. */
const char *st_csvt_cell(st_csvt_t *w, const st_csv_data_t *out, int i, const char *s, char *why, size_t size);
/* Keeps the scratch row as row out->n (read at `line`); 0 when out of memory. */
int st_csvt_keep(st_csvt_t *w, st_csv_data_t *out, long line);
/* Class labels to ids, group cells to ids, missing counts. */
st_status_t st_csvt_finish(st_csvt_t *w, st_csv_data_t *out, const char *path, char **header, st_error_t *err);
void st_csvt_free(st_csvt_t *w, int64_t n_rows);

/* Class labels to ids (convert_csv.h): when every present label is a non-negative integer the
 * labels are the ids, else the distinct labels sorted by strcmp. labels [n] (NULL: missing, id
 * −1), lines [n] for errors; *names gets [*n_classes] malloc'd names. */
st_status_t st_csv_class_ids(char *const *labels, const long *lines, int64_t n, const char *path, const char *column,
                             int32_t *ids, int *n_classes, char ***names, int *are_ids, st_error_t *err);

/* Group cells to ids in order of first appearance: ids [n], *n_groups distinct cells; 0 when out
 * of memory. */
int st_csv_string_groups(char *const *cells, int64_t n, int64_t *ids, int64_t *n_groups);

/* One numeric cell; NULL or why it is bad (written into why). Defined in convert_csv.c. */
const char *st_csv_parse_number(const char *s, float *out, char *why, size_t size);
/* Why a name or label cannot be used (a line break, not UTF-8), or NULL. In convert_csv.c. */
const char *st_csv_bad_name(const char *s);

#endif
