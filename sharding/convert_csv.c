/* convert_csv.c — reads a CSV file with a header row (RFC 4180 basics) into features, class ids
 * and names (and, through csv_targets.c, targets and groups), and writes it as a strata dataset.
 * The rules are in convert_csv.h and docs/data.md. The file is mapped (csv_text.h: the pages
 * already read are dropped) and its records decoded one at a time into a scratch buffer. A
 * conversion reads it twice: first every cell is checked and the labels, split, groups and target
 * values kept (the lines of the kept rows too), then the features are parsed again and streamed
 * to the output a block at a time (sharding/dataset_stream.h), so /X is never held whole.
 * st_csv_read (the tests') keeps /X in memory instead. */
#include "fileio.h"
#include "convert_csv.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert_paths.h"
#include "csv_record.h"
#include "csv_intern.h"
#include "csv_targets.h"
#include "csv_text.h"
#include "dataset.h"
#include "dataset_stream.h"
#include "schema.h"
#include "watchdog.h"

#define CSV_BLOCK_BYTES (4ll << 20) /* float32 rows parsed and written at a time (second reading) */

/* Parses one numeric cell; returns NULL or a reason (written into why). */
const char *st_csv_parse_number(const char *s, float *out, char *why, size_t size) {
    if (!*s) return st_format(why, size, "missing value"), why;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end) return st_format(why, size, "\"%.40s\" is not a number", s), why;
    if (errno == ERANGE && isinf(v)) /* 1e400: strtod gives ±HUGE_VAL, which is not an "inf" cell */
        return st_format(why, size, "%.40s is outside the float32 range", s), why;
    if (isfinite(v) && fabs(v) > FLT_MAX)
        return st_format(why, size, "%.40s is outside the float32 range", s), why;
    *out = (float)v;
    return NULL;
}

/* Why a name (header or label) cannot be used, or NULL: names end up in HDF5 attributes, in
 * reports and in `inspect --json`, which must stay valid UTF-8 and one line. */
const char *st_csv_bad_name(const char *s) {
    if (strpbrk(s, "\n\r")) return "contains a line break";
    if (!st_utf8_valid(s)) return "is not valid UTF-8";
    return NULL;
}

static int cmp_name_index(const void *a, const void *b, void *names) {
    char **n = names;
    int ia = *(const int *)a, ib = *(const int *)b, c = strcmp(n[ia], n[ib]);
    return c ? c : (ia > ib) - (ia < ib);
}

/* Header names must be usable (st_csv_bad_name) and unique: a duplicate would make two features (or a
 * label and a feature) indistinguishable. Sorted, so 100,000 columns cost no more than a sort. */
static st_status_t check_header(char **header, int n, const char *path, long line, st_error_t *err) {
    for (int i = 0; i < n; i++) {
        const char *why = st_csv_bad_name(header[i]);
        if (why) return st_fail(err, ST_ERR_DATA, "%s: line %ld, column %d: the column name %s", path, line, i + 1, why);
    }
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, cmp_name_index, header);
    st_status_t rc = ST_OK;
    for (int i = 1; i < n && rc == ST_OK; i++)
        if (strcmp(header[order[i - 1]], header[order[i]]) == 0)
            rc = st_fail(err, ST_ERR_DATA, "%s: line %ld: columns %d and %d are both named \"%.80s\"; column names must "
                         "be unique", path, line, order[i - 1] + 1, order[i] + 1, header[order[i]]);
    free(order);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

void st_csv_free(st_csv_data_t *d) {
    if (!d) return;
    free(d->X);
    free(d->y);
    free(d->split);
    free(d->groups);
    if (d->class_names)
        for (int i = 0; i < d->n_classes; i++) free(d->class_names[i]);
    if (d->feature_names)
        for (int i = 0; i < d->d; i++) free(d->feature_names[i]);
    for (int t = 0; t < d->n_targets; t++) {
        st_csv_target_t *tg = &d->targets[t];
        int n_names = tg->kind == ST_TARGET_CLASS ? tg->n_classes : tg->width;
        if (tg->names)
            for (int i = 0; i < n_names; i++) free(tg->names[i]);
        free(tg->names);
        free(tg->values);
    }
    free(d->class_names);
    free(d->feature_names);
    memset(d, 0, sizeof *d);
}

/* Lists the header's columns for an error message. */
static void list_columns(char **names, int n, char *out, size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len + 8 < size; i++) {
        int w = snprintf(out + len, size - len, "%s\"%s\"", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= size - len) {
            snprintf(out + (size > 5 ? size - 5 : 0), 5, "...");
            return;
        }
        len += (size_t)w;
    }
}

/* The state of one st_csv_read. */
typedef struct {
    const st_csv_options_t *opt;
    const char *path;
    st_csv_rec_t c;
    char **header;
    int n_cols, label_col, split_col, group_col;
    char *is_feature;        /* [n_cols] */
    char **labels;           /* [cap_rows] kept labels (with a label column), pointers into names */
    st_csv_intern_t names;   /* each distinct label once */
    long *lines;             /* [cap_rows] their lines */
    int64_t cap_rows;
    float *row;              /* [d] the current record's features */
    st_csvt_t w;             /* target and group columns */
    int keep_x;              /* 0: rows are checked, their features not kept (read again when written) */
    st_csv_text_t *text;
} reader_t;

/* The index of the column named `want` (NULL: none wanted, -1), or an error listing the columns. */
static st_status_t find_column(const reader_t *r, const char *want, const char *what, int *col, st_error_t *err) {
    *col = -1;
    if (!want) return ST_OK;
    for (int i = 0; i < r->n_cols && *col < 0; i++)
        if (strcmp(r->header[i], want) == 0) *col = i;
    if (*col >= 0) return ST_OK;
    char cols[600], hint[128] = "";
    list_columns(r->header, r->n_cols, cols, sizeof cols);
    const char *near = st_closest_word(want, (const char *const *)r->header, r->n_cols);
    if (near) st_format(hint, sizeof hint, " (did you mean \"%s\"?)", near);
    return st_fail(err, ST_ERR_DATA, "%s: no %s column \"%s\" in the header%s; the columns are: %s", r->path, what, want,
                   hint, cols);
}

/* Which columns are features (not the label, split, group or a target column); out->d and names. */
static st_status_t pick_features(reader_t *r, st_csv_data_t *out, st_error_t *err) {
    if (!(r->is_feature = calloc((size_t)r->n_cols, 1))) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", r->path);
    int d = 0;
    for (int i = 0; i < r->n_cols; i++)
        d += r->is_feature[i] = i != r->label_col && i != r->split_col && !st_csvt_owns(&r->w, i);
    if (d < 1 && out->n_targets == 0 && r->group_col < 0)
        return st_fail(err, ST_ERR_DATA, "%s: no feature columns besides the label column \"%s\"", r->path, r->opt->label);
    if (d < 1)
        return st_fail(err, ST_ERR_DATA, "%s: no feature columns besides the label, split, group and target columns",
                       r->path);
    out->d = d;
    out->feature_names = calloc((size_t)d, sizeof *out->feature_names);
    if (!out->feature_names || !(r->row = malloc((size_t)d * sizeof *r->row)))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", r->path);
    for (int i = 0, j = 0; i < r->n_cols; i++)
        if (r->is_feature[i] && !(out->feature_names[j++] = strdup(r->header[i])))
            return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", r->path);
    return ST_OK;
}

/* Reads the header record and sorts its columns into label, split, group, targets, features. */
static st_status_t read_header(reader_t *r, st_csv_data_t *out, st_error_t *err) {
    const char *path = r->path;
    long line;
    int got = st_csv_rec_next(&r->c, &line, err);
    if (got < 0) return err && err->code != ST_OK ? err->code : ST_ERR_DATA;
    if (got == 0 && r->c.line > 1)
        return st_fail(err, ST_ERR_DATA, "%s: no header row: the file holds only %ld blank line%s (expected a header "
                       "row naming the columns)", path, r->c.line - 1, r->c.line == 2 ? "" : "s");
    if (got == 0) return st_fail(err, ST_ERR_DATA, "%s: empty file (expected a header row naming the columns)", path);
    r->n_cols = r->c.n_fields;
    if (!(r->header = calloc((size_t)r->n_cols, sizeof *r->header)))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < r->n_cols; i++) {
        char *h = st_csv_trim(st_csv_rec_field(&r->c, i)), tmp[32];
        if (!*h) snprintf(tmp, sizeof tmp, "column_%d", i + 1), h = tmp;
        if (!(r->header[i] = strdup(h))) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    ST_TRY(check_header(r->header, r->n_cols, path, line, err));
    ST_TRY(find_column(r, r->opt->label, "label", &r->label_col, err));
    ST_TRY(find_column(r, r->opt->split_column, "split", &r->split_col, err));
    ST_TRY(find_column(r, r->opt->group_column, "group", &r->group_col, err));
    if (r->label_col >= 0 && r->label_col == r->split_col)
        return st_fail(err, ST_ERR_CONFIG, "%s: the label column and the split column are both \"%s\"", path,
                       r->opt->label);
    ST_TRY(st_csvt_init(&r->w, r->opt, r->header, r->n_cols, r->label_col, r->split_col, r->group_col, out, err));
    return pick_features(r, out, err);
}

static const char *label_cell(const char *s, char *why, size_t size) {
    if (!*s) return st_format(why, size, "missing label"), why;
    if (strlen(s) >= ST_NAME_MAX)
        return st_format(why, size, "label \"%.20s...\" is longer than %d bytes", s, ST_NAME_MAX - 1), why;
    if (st_csv_bad_name(s)) return st_format(why, size, "the label %s", st_csv_bad_name(s)), why;
    return NULL;
}

/* Parses the current record's cells; NULL, or why it is bad with *bad_col its column. */
static const char *parse_cells(reader_t *r, const st_csv_data_t *out, uint8_t *sp, int *bad_col, char *why,
                               size_t size) {
    const char *bad = NULL;
    for (int i = 0, j = 0; i < r->n_cols && !bad; i++) {
        const char *s = st_csv_trim(st_csv_rec_field(&r->c, i));
        if (i == r->label_col) bad = label_cell(s, why, size);
        if (!bad && st_csvt_owns(&r->w, i)) bad = st_csvt_cell(&r->w, out, i, s, why, size);
        if (!bad && i == r->split_col) bad = st_csv_parse_split(s, sp, why, size);
        if (!bad && r->is_feature[i]) bad = st_csv_parse_number(s, &r->row[j++], why, size);
        if (bad) *bad_col = i;
    }
    return bad;
}

/* Appends the parsed record as row out->n. */
static st_status_t keep_row(reader_t *r, st_csv_data_t *out, uint8_t sp, long line, st_error_t *err) {
    int d = out->d;
    if (out->n == r->cap_rows) {
        int64_t cap = r->cap_rows ? 2 * r->cap_rows : 1024;
        float *X = r->keep_x ? realloc(out->X, (size_t)(cap * d) * sizeof *X) : NULL;
        if (X) out->X = X;
        char **L = r->label_col >= 0 ? realloc(r->labels, (size_t)cap * sizeof *L) : NULL;
        if (L) r->labels = L;
        long *LL = realloc(r->lines, (size_t)cap * sizeof *LL);
        if (LL) r->lines = LL;
        uint8_t *S = r->split_col >= 0 ? realloc(out->split, (size_t)cap) : NULL;
        if (S) out->split = S;
        if ((r->keep_x && !X) || (r->label_col >= 0 && !L) || !LL || (r->split_col >= 0 && !S))
            return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", r->path);
        r->cap_rows = cap;
    }
    if (r->keep_x) memcpy(out->X + out->n * d, r->row, (size_t)d * sizeof *r->row);
    if (r->split_col >= 0) out->split[out->n] = sp;
    r->lines[out->n] = line;
    if (r->label_col >= 0 &&
        !(r->labels[out->n] = (char *)st_csv_intern(&r->names, st_csv_trim(st_csv_rec_field(&r->c, r->label_col)))))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", r->path);
    if (!st_csvt_keep(&r->w, out, line)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", r->path);
    out->n++;
    return ST_OK;
}

static st_status_t read_rows(reader_t *r, st_csv_data_t *out, st_error_t *err) {
    const char *path = r->path;
    int64_t n_rows_seen = 0;
    long line;
    int got;
    while ((got = st_csv_rec_next(&r->c, &line, err)) > 0) {
        if (++n_rows_seen % 65536 == 0) st_watchdog_beat("converting CSV rows", -1);
        st_csv_text_drop_before(r->text, r->c.p, 0);
        if (r->c.n_fields != r->n_cols)
            return st_fail(err, ST_ERR_DATA, "%s: line %ld has %d field%s but the header has %d", path, line,
                           r->c.n_fields, r->c.n_fields == 1 ? "" : "s", r->n_cols);
        char why[160], msg[256];
        int bad_col = -1;
        uint8_t sp = 0;
        const char *bad = parse_cells(r, out, &sp, &bad_col, why, sizeof why);
        if (!bad) {
            ST_TRY(keep_row(r, out, sp, line, err));
            continue;
        }
        st_format(msg, sizeof msg, "line %ld, column \"%s\": %s", line, r->header[bad_col], bad);
        if (!r->opt->drop_bad_rows) return st_fail(err, ST_ERR_DATA, "%s: %s (--drop-bad-rows drops such rows)", path, msg);
        if (out->n_dropped++ == 0) st_format(out->first_dropped, sizeof out->first_dropped, "%s", msg);
    }
    if (got < 0) return err && err->code != ST_OK ? err->code : ST_ERR_DATA;
    if (n_rows_seen == 0) return st_fail(err, ST_ERR_DATA, "%s: no rows after the header", path);
    if (out->n == 0)
        return st_fail(err, ST_ERR_DATA, "%s: all %lld rows were dropped (first: %s)", path, (long long)out->n_dropped,
                       out->first_dropped);
    return ST_OK;
}

/* Parses `text` (the file opt->path) into out; with keep_x 0 the features are checked but not
 * kept. *lines (when lines != NULL) gets the line of each kept row and *is_feature the feature
 * columns ([n_cols]), both malloc'd: what the second reading needs. */
static st_status_t csv_parse(const st_csv_options_t *opt, st_csv_text_t *text, int keep_x, st_csv_data_t *out,
                             long **lines, char **is_feature, st_error_t *err) {
    memset(out, 0, sizeof *out);
    if (!opt->label && opt->n_targets <= 0)
        return st_fail(err, ST_ERR_CONFIG, "%s: no label column and no target (--label COLUMN or --target "
                       "NAME:COLUMNS:KIND)", opt->path);
    reader_t r = {.opt = opt, .path = opt->path, .label_col = -1, .split_col = -1, .group_col = -1, .keep_x = keep_x,
                  .text = text};
    st_csv_rec_init(&r.c, opt->path, text->text, text->size);
    st_status_t rc = read_header(&r, out, err);
    if (rc == ST_OK) rc = read_rows(&r, out, err);
    if (rc == ST_OK && r.label_col >= 0 && !(out->y = malloc((size_t)out->n * sizeof *out->y)))
        rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", opt->path);
    if (rc == ST_OK && r.label_col >= 0)
        rc = st_csv_class_ids(r.labels, r.lines, out->n, opt->path, opt->label, out->y, &out->n_classes,
                              &out->class_names, &out->labels_are_ids, err);
    if (rc == ST_OK) rc = st_csvt_finish(&r.w, out, opt->path, r.header, err);
    st_csv_intern_free(&r.names);
    free(r.labels);
    if (lines && rc == ST_OK) *lines = r.lines, *is_feature = r.is_feature, r.lines = NULL, r.is_feature = NULL;
    free(r.lines);
    st_csvt_free(&r.w, out->n);
    if (r.header)
        for (int i = 0; i < r.n_cols; i++) free(r.header[i]);
    free(r.header);
    free(r.is_feature);
    free(r.row);
    st_csv_rec_free(&r.c);
    st_csv_text_drop_before(text, text->text + text->size, 1);
    text->dropped = 0; /* read again from the start */
    return rc;
}

st_status_t st_csv_read(const st_csv_options_t *opt, st_csv_data_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    if (!opt->label && opt->n_targets <= 0)
        return st_fail(err, ST_ERR_CONFIG, "%s: no label column and no target (--label COLUMN or --target "
                       "NAME:COLUMNS:KIND)", opt->path);
    st_csv_text_t text;
    ST_TRY(st_csv_text_open(opt->path, &text, err));
    st_status_t rc = csv_parse(opt, &text, 1, out, NULL, NULL, err);
    st_csv_text_close(&text);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

static void describe_source(const st_csv_options_t *opt, const st_csv_data_t *data, char *buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "csv: %s", opt->path);
    if (opt->label && len < size) len += (size_t)snprintf(buf + len, size - len, ", label column \"%s\"", opt->label);
    for (int t = 0; t < data->n_targets && len < size; t++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", t ? ", " : ", targets ", opt->targets[t]);
    if (opt->group_column && len < size)
        len += (size_t)snprintf(buf + len, size - len, ", group column \"%s\"", opt->group_column);
    if (data->n_dropped && len < size) snprintf(buf + len, size - len, " (bad rows dropped)");
}

static void summarize(const st_csv_data_t *data, st_csv_summary_t *sum) {
    sum->n = data->n;
    sum->n_dropped = data->n_dropped;
    sum->d = data->d;
    sum->n_classes = data->n_classes;
    sum->labels_are_ids = data->labels_are_ids;
    st_format(sum->first_dropped, sizeof sum->first_dropped, "%s", data->first_dropped);
    sum->n_targets = data->n_targets;
    for (int t = 0; t < data->n_targets; t++) {
        const st_csv_target_t *tg = &data->targets[t];
        memcpy(sum->targets[t].name, tg->name, sizeof tg->name);
        sum->targets[t].kind = tg->kind;
        sum->targets[t].width = tg->width;
        sum->targets[t].n_classes = tg->n_classes;
        sum->targets[t].labels_are_ids = tg->labels_are_ids;
        sum->targets[t].n_missing = tg->n_missing;
    }
    sum->has_groups = data->groups != NULL;
    sum->n_groups = data->n_groups;
}

/* The second reading (no targets): the kept rows' features (lines [n] says which records they
 * are), a block of CSV_BLOCK_BYTES at a time, into the streaming writer with their labels, split
 * and groups from the first reading. */
static st_status_t stream_rows(const st_csv_options_t *opt, st_csv_text_t *text, const st_csv_data_t *data,
                               const long *lines, const char *is_feature, st_dataset_stream_t *w, st_error_t *err) {
    int64_t d = data->d, block = CSV_BLOCK_BYTES / (d * (int64_t)sizeof(float)), k = 0, nb = 0;
    block = block < 1 ? 1 : block > data->n ? data->n : block;
    float *X = st_alloc((size_t)(block * d) * sizeof *X, "a block of CSV rows", err);
    if (!X) return ST_ERR_NOMEM;
    st_csv_rec_t c;
    st_csv_rec_init(&c, opt->path, text->text, text->size);
    long line;
    int got = st_csv_rec_next(&c, &line, err); /* the header */
    st_status_t rc = got > 0 ? ST_OK : st_fail(err, ST_ERR_IO, "%s: changed while it was converted", opt->path);
    while (rc == ST_OK && k < data->n && (got = st_csv_rec_next(&c, &line, err)) > 0) {
        st_csv_text_drop_before(text, c.p, 0);
        if (line != lines[k]) continue; /* a dropped row */
        char why[160];
        for (int i = 0, j = 0; rc == ST_OK && i < c.n_fields; i++)
            if (is_feature[i] && st_csv_parse_number(st_csv_trim(st_csv_rec_field(&c, i)), &X[nb * d + j++], why, sizeof why))
                rc = st_fail(err, ST_ERR_IO, "%s: line %ld changed while it was converted (%s)", opt->path, line, why);
        k++;
        if (rc != ST_OK || (++nb < block && k < data->n)) continue;
        int64_t row0 = k - nb;
        rc = st_stream_write(w, row0, nb, X, data->y ? data->y + row0 : NULL, data->split ? data->split + row0 : NULL,
                             data->groups ? data->groups + row0 : NULL, NULL, err);
        nb = 0;
        st_watchdog_beat("writing CSV rows", -1);
    }
    if (rc == ST_OK && k < data->n)
        rc = got < 0 ? (err && err->code ? err->code : ST_ERR_DATA)
                     : st_fail(err, ST_ERR_IO, "%s: changed while it was converted (%lld of %lld rows found again)",
                               opt->path, (long long)k, (long long)data->n);
    st_csv_rec_free(&c);
    st_free(X);
    return rc;
}

/* /X streamed (st_dataset_stream_t), so memory holds the labels, split, groups and target values
 * of the rows (and their lines), not their features. */
static st_status_t write_streamed(const char *out_path, const st_csv_options_t *opt, st_csv_text_t *text,
                                  const st_csv_data_t *data, const long *lines, const char *is_feature,
                                  const char *source, st_error_t *err) {
    st_target_spec_t ts[ST_MAX_TARGETS];
    for (int t = 0; t < data->n_targets; t++) {
        const st_csv_target_t *tg = &data->targets[t];
        ts[t] = (st_target_spec_t){.name = tg->name, .kind = tg->kind, .width = tg->width,
                                   .n_classes = tg->n_classes, .names = (const char *const *)tg->names,
                                   .allow_missing = tg->allow_missing, .values = tg->values};
    }
    int seq = opt->shape_t > 0 && opt->shape_c > 0;
    st_stream_spec_t spec = {
        .n = data->n,
        .shape = seq ? st_shape2(opt->shape_t, opt->shape_c) : st_shape1(data->d),
        .n_classes = data->n_classes,
        .class_names = (const char *const *)data->class_names,
        .source = source,
        .n_feature_names = seq ? 0 : data->d, /* column names do not name the C channels */
        .feature_names = (const char *const *)data->feature_names,
        .has_split = data->split != NULL,
        .has_groups = data->groups != NULL,
        .n_targets = data->n_targets,
        .targets = ts,
    };
    st_dataset_stream_t w;
    ST_TRY(st_stream_create(&w, out_path, &spec, MPI_COMM_NULL, err));
    st_status_t rc = stream_rows(opt, text, data, lines, is_feature, &w, err);
    if (rc != ST_OK) return st_stream_abort(&w), rc;
    return st_stream_finish(&w, err);
}

st_status_t st_convert_csv(const char *out_path, const st_csv_options_t *opt, st_csv_summary_t *sum, st_error_t *err) {
    if (sum) memset(sum, 0, sizeof *sum);
    const char *inputs[1] = {opt->path};
    ST_TRY(st_convert_check_output(out_path, inputs, 1, err));
    if (!opt->label && opt->n_targets <= 0)
        return st_fail(err, ST_ERR_CONFIG, "%s: no label column and no target (--label COLUMN or --target "
                       "NAME:COLUMNS:KIND)", opt->path);
    st_csv_text_t text;
    ST_TRY(st_csv_text_open(opt->path, &text, err));
    st_csv_data_t data;
    long *lines = NULL;
    char *is_feature = NULL;
    st_status_t rc = csv_parse(opt, &text, 0, &data, &lines, &is_feature, err);
    int seq = opt->shape_t > 0 && opt->shape_c > 0;
    if (rc == ST_OK && seq && (int64_t)opt->shape_t * opt->shape_c != data.d)
        rc = st_fail(err, ST_ERR_DATA, "%s: --shape %d,%d needs %lld feature columns (T x C), the file has %d", opt->path,
                     opt->shape_t, opt->shape_c, (long long)opt->shape_t * opt->shape_c, data.d);
    char source[2048];
    if (rc == ST_OK) describe_source(opt, &data, source, sizeof source);
    if (rc == ST_OK) rc = write_streamed(out_path, opt, &text, &data, lines, is_feature, source, err);
    if (rc == ST_OK && sum) summarize(&data, sum);
    free(lines);
    free(is_feature);
    st_csv_free(&data);
    st_csv_text_close(&text);
    return rc;
}
