/* csv_targets.c — the target and group columns of `strata convert csv` (issue 13): parsing the
 * "NAME:COLUMNS:KIND" specs, resolving COLUMNS (names joined by '+', ranges first..last) to
 * header positions, parsing each record's target and group cells, and turning class labels and
 * group values into ids once every row is read. The label column's ids come from here too
 * (st_csv_class_ids), so /y and class targets follow one rule. */
#include "csv_targets.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

/* ---- specs -------------------------------------------------------------------------------- */

st_status_t st_csv_target_parse(const char *spec, st_csv_target_spec_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    const char *a = strchr(spec, ':'), *b = strrchr(spec, ':');
    if (!a || a == b)
        return st_fail(err, ST_ERR_CONFIG, "--target \"%.80s\": expected NAME:COLUMNS:KIND (KIND class, multilabel or "
                       "regression)", spec);
    size_t len = (size_t)(a - spec);
    if (len == 0 || len >= ST_NAME_MAX || memchr(spec, '/', len) || memchr(spec, '.', len))
        return st_fail(err, ST_ERR_CONFIG, "--target \"%.80s\": the name must be 1 to %d bytes without '/' or '.'", spec,
                       ST_NAME_MAX - 1);
    memcpy(out->name, spec, len);
    if (!st_utf8_valid(out->name))
        return st_fail(err, ST_ERR_CONFIG, "--target \"%.80s\": the name is not valid UTF-8", spec);
    const char *kind = b + 1;
    if (strcmp(kind, "class") == 0) out->kind = ST_TARGET_CLASS;
    else if (strcmp(kind, "multilabel") == 0) out->kind = ST_TARGET_MULTILABEL;
    else if (strcmp(kind, "regression") == 0) out->kind = ST_TARGET_REGRESSION;
    else
        return st_fail(err, ST_ERR_CONFIG, "--target \"%.80s\": kind \"%.40s\" is not class, multilabel or regression",
                       spec, kind);
    out->columns = a + 1;
    out->columns_len = (size_t)(b - a - 1);
    if (out->columns_len == 0)
        return st_fail(err, ST_ERR_CONFIG, "--target \"%.80s\": no columns (NAME:COLUMNS:KIND)", spec);
    return ST_OK;
}

static int find_col(char **header, int n, const char *s, size_t len) {
    for (int i = 0; i < n; i++)
        if (strlen(header[i]) == len && memcmp(header[i], s, len) == 0) return i;
    return -1;
}

static st_status_t no_column(const char *path, const char *target, char **header, int n, const char *s, size_t len,
                             st_error_t *err) {
    char want[128], hint[160] = "";
    snprintf(want, sizeof want, "%.*s", (int)(len < 120 ? len : 120), s);
    const char *near = st_closest_word(want, (const char *const *)header, n);
    if (near) st_format(hint, sizeof hint, " (did you mean \"%s\"?)", near);
    return st_fail(err, ST_ERR_DATA, "%s: --target %s: no column \"%s\" in the header%s", path, target, want, hint);
}

/* One '+'-separated piece: a header name, or first..last by header position. */
static st_status_t piece_range(const char *path, const char *target, char **header, int n, const char *s, size_t len,
                               int *first, int *last, st_error_t *err) {
    if ((*first = *last = find_col(header, n, s, len)) >= 0) return ST_OK;
    const char *end = s + len;
    for (const char *d = s; (d = memmem(d, (size_t)(end - d), "..", 2)) != NULL; d++) {
        int lo = find_col(header, n, s, (size_t)(d - s));
        if (lo < 0) continue;
        int hi = find_col(header, n, d + 2, (size_t)(end - d - 2));
        if (hi < 0) return no_column(path, target, header, n, d + 2, (size_t)(end - d - 2), err);
        if (hi < lo)
            return st_fail(err, ST_ERR_DATA, "%s: --target %s: the range %.*s runs backwards (column %d is before "
                           "column %d)", path, target, (int)len, s, hi + 1, lo + 1);
        *first = lo, *last = hi;
        return ST_OK;
    }
    const char *d = memmem(s, len, "..", 2);
    return no_column(path, target, header, n, s, d ? (size_t)(d - s) : len, err);
}

/* Marks the columns of target t (spec sp) in w->target_of / pos_of; *width gets their count. */
static st_status_t resolve_columns(st_csvt_t *w, int t, const st_csv_target_spec_t *sp, char **header,
                                   const char *path, const st_csv_data_t *out, int *width, st_error_t *err) {
    *width = 0;
    const char *s = sp->columns, *end = s + sp->columns_len;
    int whole = find_col(header, w->n_cols, s, sp->columns_len) >= 0; /* a name holding '+' */
    while (s <= end) {
        const char *plus = whole ? NULL : memchr(s, '+', (size_t)(end - s));
        size_t len = plus ? (size_t)(plus - s) : (size_t)(end - s);
        int lo, hi;
        ST_TRY(piece_range(path, sp->name, header, w->n_cols, s, len, &lo, &hi, err));
        for (int c = lo; c <= hi; c++) {
            if (w->target_of[c] >= 0)
                return st_fail(err, ST_ERR_DATA, "%s: column \"%s\" is in target %s and in target %s; a column "
                               "belongs to one target", path, header[c], out->targets[w->target_of[c]].name, sp->name);
            w->target_of[c] = t, w->pos_of[c] = (*width)++;
        }
        if (!plus) break;
        s = plus + 1;
    }
    return ST_OK;
}

/* Checks a target's columns against the label, split and group columns; fills its names. */
static st_status_t finish_target(st_csvt_t *w, int t, char **header, int label_col, int split_col, const char *path,
                                 st_csv_data_t *out, st_error_t *err) {
    st_csv_target_t *tg = &out->targets[t];
    if (tg->kind == ST_TARGET_CLASS && tg->width != 1)
        return st_fail(err, ST_ERR_DATA, "%s: --target %s: a class target takes one column, not %d", path, tg->name,
                       tg->width);
    if (tg->kind != ST_TARGET_CLASS && !(tg->names = calloc((size_t)tg->width, sizeof *tg->names)))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (int c = 0; c < w->n_cols; c++) {
        if (w->target_of[c] != t) continue;
        if (c == split_col || c == w->group_col)
            return st_fail(err, ST_ERR_DATA, "%s: column \"%s\" is the %s column and in target %s", path, header[c],
                           c == split_col ? "split" : "group", tg->name);
        if (c == label_col && tg->kind != ST_TARGET_CLASS)
            return st_fail(err, ST_ERR_DATA, "%s: the label column \"%s\" is in %s target %s; only a class target may "
                           "share it", path, header[c], st_target_kind_name(tg->kind), tg->name);
        if (tg->kind == ST_TARGET_CLASS) w->class_col[t] = c;
        else if (!(tg->names[w->pos_of[c]] = strdup(header[c]))) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    if (tg->kind == ST_TARGET_MULTILABEL && !(w->row_bits[t] = malloc((size_t)tg->width)))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    if (tg->kind == ST_TARGET_REGRESSION && !(w->row_reals[t] = malloc((size_t)tg->width * sizeof(float))))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    return ST_OK;
}

st_status_t st_csvt_init(st_csvt_t *w, const st_csv_options_t *opt, char **header, int n_cols, int label_col,
                         int split_col, int group_col, st_csv_data_t *out, st_error_t *err) {
    memset(w, 0, sizeof *w);
    w->n_cols = n_cols, w->group_col = group_col, w->allow_missing = opt->allow_missing;
    w->target_of = malloc((size_t)n_cols * sizeof *w->target_of);
    w->pos_of = malloc((size_t)n_cols * sizeof *w->pos_of);
    if (!w->target_of || !w->pos_of) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", opt->path);
    for (int i = 0; i < n_cols; i++) w->target_of[i] = w->pos_of[i] = -1;
    if (opt->n_targets < 0 || opt->n_targets > ST_MAX_TARGETS)
        return st_fail(err, ST_ERR_CONFIG, "%s: %d targets; at most %d", opt->path, opt->n_targets, ST_MAX_TARGETS);
    if (group_col >= 0 && (group_col == label_col || group_col == split_col))
        return st_fail(err, ST_ERR_CONFIG, "%s: the group column \"%s\" is also the %s column", opt->path,
                       header[group_col], group_col == label_col ? "label" : "split");
    for (int t = 0; t < opt->n_targets; t++) {
        st_csv_target_spec_t sp;
        ST_TRY(st_csv_target_parse(opt->targets[t], &sp, err));
        for (int u = 0; u < t; u++)
            if (strcmp(out->targets[u].name, sp.name) == 0)
                return st_fail(err, ST_ERR_CONFIG, "%s: two targets are named %s", opt->path, sp.name);
        st_csv_target_t *tg = &out->targets[t];
        out->n_targets = t + 1;
        st_format(tg->name, sizeof tg->name, "%s", sp.name);
        tg->kind = sp.kind;
        tg->allow_missing = opt->allow_missing && sp.kind != ST_TARGET_MULTILABEL;
        ST_TRY(resolve_columns(w, t, &sp, header, opt->path, out, &tg->width, err));
    }
    for (int t = 0; t < out->n_targets; t++)
        ST_TRY(finish_target(w, t, header, label_col, split_col, opt->path, out, err));
    return ST_OK;
}

int st_csvt_owns(const st_csvt_t *w, int i) { return w->target_of[i] >= 0 || i == w->group_col; }

/* ---- cells -------------------------------------------------------------------------------- */

static const char *missing(const st_csv_target_t *tg, char *why, size_t size) {
    st_format(why, size, "missing value (target %s; --allow-missing reads an empty cell as missing)", tg->name);
    return why;
}

static const char *class_cell(st_csvt_t *w, const st_csv_target_t *tg, int t, const char *s, char *why, size_t size) {
    w->class_cell[t] = NULL;
    if (!*s) return tg->allow_missing ? NULL : missing(tg, why, size);
    if (strlen(s) >= ST_NAME_MAX)
        return st_format(why, size, "label \"%.20s...\" is longer than %d bytes", s, ST_NAME_MAX - 1), why;
    if (st_csv_bad_name(s)) return st_format(why, size, "the label %s", st_csv_bad_name(s)), why;
    w->class_cell[t] = s;
    return NULL;
}

static const char *number_cell(st_csvt_t *w, const st_csv_target_t *tg, int t, int j, const char *s, char *why,
                               size_t size) {
    float v = 0;
    if (tg->kind == ST_TARGET_MULTILABEL) {
        if (!*s || st_csv_parse_number(s, &v, why, size) || (v != 0.0f && v != 1.0f))
            return st_format(why, size, "\"%.40s\" is not 0 or 1 (target %s is multilabel)", s, tg->name), why;
        w->row_bits[t][j] = v == 1.0f;
        return NULL;
    }
    if (!*s) {
        if (!tg->allow_missing) return missing(tg, why, size);
        w->row_reals[t][j] = NAN;
        return NULL;
    }
    const char *bad = st_csv_parse_number(s, &v, why, size);
    if (bad) return bad;
    if (isnan(v) && !tg->allow_missing)
        return st_format(why, size, "%.40s in target %s (--allow-missing reads nan and empty cells as missing)", s,
                         tg->name), why;
    if (isinf(v)) return st_format(why, size, "%.40s is not a finite number (target %s)", s, tg->name), why;
    w->row_reals[t][j] = v;
    return NULL;
}

const char *st_csvt_cell(st_csvt_t *w, const st_csv_data_t *out, int i, const char *s, char *why, size_t size) {
    if (i == w->group_col) {
        w->group_cell = s;
        return *s ? NULL : (st_format(why, size, "missing group"), why);
    }
    int t = w->target_of[i];
    const st_csv_target_t *tg = &out->targets[t];
    if (tg->kind == ST_TARGET_CLASS) return class_cell(w, tg, t, s, why, size);
    return number_cell(w, tg, t, w->pos_of[i], s, why, size);
}

/* ---- rows --------------------------------------------------------------------------------- */

static int grow(st_csvt_t *w, st_csv_data_t *out) {
    int64_t cap = w->cap ? 2 * w->cap : 1024;
    long *L = realloc(w->lines, (size_t)cap * sizeof *L);
    if (!L) return 0;
    w->lines = L;
    if (w->group_col >= 0) {
        char **g = realloc(w->group_cells, (size_t)cap * sizeof *g);
        if (!g) return 0;
        w->group_cells = g;
    }
    for (int t = 0; t < out->n_targets; t++) {
        st_csv_target_t *tg = &out->targets[t];
        size_t each = tg->kind == ST_TARGET_CLASS ? sizeof(char *)
                      : tg->kind == ST_TARGET_MULTILABEL ? (size_t)tg->width : (size_t)tg->width * sizeof(float);
        void *p = realloc(tg->kind == ST_TARGET_CLASS ? (void *)w->class_cells[t] : tg->values, (size_t)cap * each);
        if (!p) return 0;
        if (tg->kind == ST_TARGET_CLASS) w->class_cells[t] = p;
        else tg->values = p;
    }
    w->cap = cap;
    return 1;
}

int st_csvt_keep(st_csvt_t *w, st_csv_data_t *out, long line) {
    int64_t r = out->n;
    if (r == w->cap && !grow(w, out)) return 0;
    w->lines[r] = line;
    if (w->group_col >= 0 && !(w->group_cells[r] = strdup(w->group_cell))) return 0;
    for (int t = 0; t < out->n_targets; t++) {
        st_csv_target_t *tg = &out->targets[t];
        size_t width = (size_t)tg->width;
        if (tg->kind == ST_TARGET_MULTILABEL) memcpy((uint8_t *)tg->values + (size_t)r * width, w->row_bits[t], width);
        else if (tg->kind == ST_TARGET_REGRESSION)
            memcpy((float *)tg->values + (size_t)r * width, w->row_reals[t], width * sizeof(float));
        else if (!w->class_cell[t]) w->class_cells[t][r] = NULL;
        else if (!(w->class_cells[t][r] = strdup(w->class_cell[t]))) {
            for (int u = 0; u < t; u++)
                if (out->targets[u].kind == ST_TARGET_CLASS) free(w->class_cells[u][r]);
            if (w->group_col >= 0) free(w->group_cells[r]);
            return 0;
        }
    }
    return 1;
}

/* ---- ids ---------------------------------------------------------------------------------- */

static int is_id(const char *s, long *v) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    errno = 0;
    long x = strtol(s, NULL, 10);
    if (errno == ERANGE) x = -1;
    *v = x;
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every present label is a class id: names "0".."max". */
static st_status_t integer_classes(char *const *labels, int64_t n, long max_id, const char *path, int32_t *ids,
                                   int *n_classes, char ***names, st_error_t *err) {
    *n_classes = (int)max_id + 1;
    if (!(*names = calloc((size_t)*n_classes, sizeof **names))) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (int k = 0; k < *n_classes; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "%d", k);
        if (!((*names)[k] = strdup(nm))) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < n; i++) ids[i] = labels[i] ? (int32_t)strtol(labels[i], NULL, 10) : -1;
    return ST_OK;
}

/* The distinct labels, sorted by strcmp, are the classes. */
static st_status_t string_classes(char *const *labels, int64_t n, const char *path, const char *column, int32_t *ids,
                                  int *n_classes, char ***names, st_error_t *err) {
    char **sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted);
    if (!sorted) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    int64_t m = 0, k = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i]) sorted[m++] = labels[i];
    qsort(sorted, (size_t)m, sizeof *sorted, cmp_str);
    for (int64_t i = 0; i < m; i++)
        if (i == 0 || strcmp(sorted[i], sorted[k - 1]) != 0) sorted[k++] = sorted[i];
    st_status_t rc = ST_OK;
    if (k > ST_MAX_CLASSES)
        rc = st_fail(err, ST_ERR_DATA, "%s: column \"%s\" has %lld distinct labels; at most %d classes", path, column,
                     (long long)k, ST_MAX_CLASSES);
    else if (!(*names = calloc((size_t)k, sizeof **names)))
        rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    else *n_classes = (int)k;
    for (int64_t i = 0; rc == ST_OK && i < k; i++)
        if (!((*names)[i] = strdup(sorted[i]))) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; rc == ST_OK && i < n; i++) {
        char **hit = labels[i] ? bsearch(&labels[i], sorted, (size_t)k, sizeof *sorted, cmp_str) : NULL;
        ids[i] = hit ? (int32_t)(hit - sorted) : -1;
    }
    free(sorted);
    return rc;
}

st_status_t st_csv_class_ids(char *const *labels, const long *lines, int64_t n, const char *path, const char *column,
                             int32_t *ids, int *n_classes, char ***names, int *are_ids, st_error_t *err) {
    *n_classes = 0, *names = NULL, *are_ids = 0;
    int all_ids = 1, any = 0;
    long max_id = -1;
    for (int64_t i = 0; i < n && all_ids; i++) {
        long v;
        if (!labels[i]) continue;
        any = 1;
        if (!is_id(labels[i], &v)) all_ids = 0;
        else if (v < 0 || v >= ST_MAX_CLASSES)
            return st_fail(err, ST_ERR_DATA, "%s: line %ld: label %s is too large for a class id (integer labels are ids "
                           "0..%d)", path, lines[i], labels[i], ST_MAX_CLASSES - 1);
        else if (v > max_id) max_id = v;
    }
    if (!any) return st_fail(err, ST_ERR_DATA, "%s: column \"%s\" has no labels: every cell is empty", path, column);
    if (!all_ids) return string_classes(labels, n, path, column, ids, n_classes, names, err);
    *are_ids = 1;
    return integer_classes(labels, n, max_id, path, ids, n_classes, names, err);
}

static int is_int64(const char *s, int64_t *v) {
    const char *p = s + (*s == '-');
    if (!*p) return 0;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    *v = (int64_t)x;
    return errno != ERANGE;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_cell_row(const void *a, const void *b, void *cells) {
    char **c = cells;
    int64_t ia = *(const int64_t *)a, ib = *(const int64_t *)b;
    int r = strcmp(c[ia], c[ib]);
    return r ? r : (ia > ib) - (ia < ib);
}

typedef struct { int64_t first_row, start, end; } run_t;

static int cmp_run(const void *a, const void *b) { return cmp_i64(&((const run_t *)a)->first_row, &((const run_t *)b)->first_row); }

/* Strings to ids in order of first appearance: rows sorted by (cell, row) form one run per
 * distinct cell whose first element is the cell's first row; runs sorted by that row get ids. */
int st_csv_string_groups(char *const *cells, int64_t n, int64_t *ids, int64_t *n_groups) {
    int64_t *order = malloc((size_t)n * sizeof *order);
    run_t *runs = malloc((size_t)n * sizeof *runs);
    if (!order || !runs) {
        free(order);
        free(runs);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, cmp_cell_row, (void *)cells);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || strcmp(cells[order[i]], cells[order[i - 1]]) != 0) {
            if (k) runs[k - 1].end = i;
            runs[k++] = (run_t){order[i], i, n};
        }
    qsort(runs, (size_t)k, sizeof *runs, cmp_run);
    for (int64_t g = 0; g < k; g++)
        for (int64_t i = runs[g].start; i < runs[g].end; i++) ids[order[i]] = g;
    *n_groups = k;
    free(order);
    free(runs);
    return 1;
}

static int integer_groups(char **cells, int64_t n, int64_t *ids, int64_t *n_groups, int *are_ids) {
    for (int64_t i = 0; i < n; i++)
        if (!is_int64(cells[i], &ids[i])) return 1;
    int64_t *s = malloc((size_t)n * sizeof *s);
    if (!s) return 0;
    memcpy(s, ids, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_i64);
    *n_groups = 0;
    for (int64_t i = 0; i < n; i++) *n_groups += i == 0 || s[i] != s[i - 1];
    free(s);
    *are_ids = 1;
    return 1;
}

st_status_t st_csvt_finish(st_csvt_t *w, st_csv_data_t *out, const char *path, char **header, st_error_t *err) {
    for (int t = 0; t < out->n_targets; t++) {
        st_csv_target_t *tg = &out->targets[t];
        if (tg->kind == ST_TARGET_CLASS) {
            int32_t *ids = malloc((size_t)out->n * sizeof *ids);
            if (!ids) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
            tg->values = ids;
            ST_TRY(st_csv_class_ids(w->class_cells[t], w->lines, out->n, path, header[w->class_col[t]], ids,
                                    &tg->n_classes, &tg->names, &tg->labels_are_ids, err));
            for (int64_t i = 0; i < out->n; i++) tg->n_missing += ids[i] < 0;
        } else if (tg->kind == ST_TARGET_REGRESSION) {
            const float *v = tg->values;
            for (int64_t i = 0; i < out->n * tg->width; i++) tg->n_missing += isnan(v[i]);
        }
    }
    if (w->group_col < 0) return ST_OK;
    if (!(out->groups = malloc((size_t)out->n * sizeof *out->groups)) ||
        !integer_groups(w->group_cells, out->n, out->groups, &out->n_groups, &out->groups_are_ids) ||
        (!out->groups_are_ids && !st_csv_string_groups(w->group_cells, out->n, out->groups, &out->n_groups)))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the groups", path);
    return ST_OK;
}

void st_csvt_free(st_csvt_t *w, int64_t n_rows) {
    for (int t = 0; t < ST_MAX_TARGETS; t++) {
        if (w->class_cells[t])
            for (int64_t r = 0; r < n_rows; r++) free(w->class_cells[t][r]);
        free(w->class_cells[t]);
        free(w->row_bits[t]);
        free(w->row_reals[t]);
    }
    if (w->group_cells)
        for (int64_t r = 0; r < n_rows; r++) free(w->group_cells[r]);
    free(w->group_cells);
    free(w->lines);
    free(w->target_of);
    free(w->pos_of);
    memset(w, 0, sizeof *w);
}
