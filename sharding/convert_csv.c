/* convert_csv.c — reads a CSV file with a header row (RFC 4180 basics) into features, class ids
 * and names, and writes it as a strata dataset. The rules are in convert_csv.h and docs/data.md.
 * The whole file is read into memory; records are decoded one at a time into a scratch buffer. */
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
#include "dataset.h"
#include "schema.h"
#include "watchdog.h"

/* ---- records ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    const char *p, *end;  /* unread input */
    long line;            /* line number of *p, 1-based */
    char *buf;            /* decoded fields, each NUL-terminated */
    size_t buf_len, buf_cap;
    size_t *off;          /* field start offsets into buf */
    int n_fields, off_cap;
} csv_t;

static int put(csv_t *c, char ch) {
    if (c->buf_len == c->buf_cap) {
        size_t cap = c->buf_cap ? 2 * c->buf_cap : 256;
        char *b = realloc(c->buf, cap);
        if (!b) return 0;
        c->buf = b;
        c->buf_cap = cap;
    }
    c->buf[c->buf_len++] = ch;
    return 1;
}

static int start_field(csv_t *c) {
    if (c->n_fields == c->off_cap) {
        int cap = c->off_cap ? 2 * c->off_cap : 16;
        size_t *o = realloc(c->off, (size_t)cap * sizeof *o);
        if (!o) return 0;
        c->off = o;
        c->off_cap = cap;
    }
    c->off[c->n_fields++] = c->buf_len;
    return 1;
}

static const char *field(const csv_t *c, int i) { return c->buf + c->off[i]; }

/* A NUL byte would silently end the cell or name it is in: always an error. */
static int nul_byte(const csv_t *c, st_error_t *err) {
    st_fail(err, ST_ERR_DATA, "%s: line %ld, field %d: a NUL byte (a binary or UTF-16 file? strata reads UTF-8 CSV)",
            c->path, c->line, c->n_fields);
    return -1;
}

/* Decodes the next record. Returns 1 with *line = its first line, 0 at end of input, -1 on an
 * error (err filled). Blank lines are skipped. */
static int next_record(csv_t *c, long *line, st_error_t *err) {
    for (;;) {
        if (c->p >= c->end) return 0;
        if (*c->p == '\n' || (*c->p == '\r')) { /* blank line */
            if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') c->p++;
            c->p++;
            c->line++;
            continue;
        }
        break;
    }
    *line = c->line;
    c->buf_len = 0;
    c->n_fields = 0;
    for (;;) {
        if (!start_field(c)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
        if (c->p < c->end && *c->p == '"') {
            long quote_line = c->line;
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    st_fail(err, ST_ERR_DATA, "%s: line %ld: a quoted field is never closed", c->path, quote_line);
                    return -1;
                }
                char ch = *c->p++;
                if (ch == '\0') return nul_byte(c, err);
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') c->p++;
                    else break;
                } else if (ch == '\n') {
                    c->line++;
                }
                if (!put(c, ch)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
            }
            while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                st_fail(err, ST_ERR_DATA, "%s: line %ld: unexpected text after a closing quote in field %d", c->path,
                        c->line, c->n_fields);
                return -1;
            }
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (*c->p == '\0') return nul_byte(c, err);
                if (!put(c, *c->p++)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
            }
        }
        if (!put(c, '\0')) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end) { /* end of line */
            if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') c->p++;
            c->p++;
            c->line++;
        }
        return 1;
    }
}

/* Trims spaces and tabs in place. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

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

/* Parses one numeric cell; returns NULL or a reason (written into why). */
static const char *parse_number(const char *s, float *out, char *why, size_t size) {
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

static const char *parse_split(const char *s, uint8_t *out, char *why, size_t size) {
    if (!strcasecmp(s, "train") || !strcmp(s, "0")) *out = ST_SPLIT_TRAIN;
    else if (!strcasecmp(s, "val") || !strcasecmp(s, "validation") || !strcmp(s, "1")) *out = ST_SPLIT_VAL;
    else if (!strcasecmp(s, "test") || !strcmp(s, "2")) *out = ST_SPLIT_TEST;
    else return st_format(why, size, "\"%.40s\" is not train, val or test", s), why;
    return NULL;
}

/* Why a name (header or label) cannot be used, or NULL: names end up in HDF5 attributes, in
 * reports and in `inspect --json`, which must stay valid UTF-8 and one line. */
static const char *bad_name(const char *s) {
    if (strpbrk(s, "\n\r")) return "contains a line break";
    if (!st_utf8_valid(s)) return "is not valid UTF-8";
    return NULL;
}

static int cmp_name_index(const void *a, const void *b, void *names) {
    char **n = names;
    int ia = *(const int *)a, ib = *(const int *)b, c = strcmp(n[ia], n[ib]);
    return c ? c : (ia > ib) - (ia < ib);
}

/* Header names must be usable (bad_name) and unique: a duplicate would make two features (or a
 * label and a feature) indistinguishable. Sorted, so 100,000 columns cost no more than a sort. */
static st_status_t check_header(char **header, int n, const char *path, long line, st_error_t *err) {
    for (int i = 0; i < n; i++) {
        const char *why = bad_name(header[i]);
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
    if (d->class_names)
        for (int i = 0; i < d->n_classes; i++) free(d->class_names[i]);
    if (d->feature_names)
        for (int i = 0; i < d->d; i++) free(d->feature_names[i]);
    free(d->class_names);
    free(d->feature_names);
    memset(d, 0, sizeof *d);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

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

st_status_t st_csv_read(const st_csv_options_t *opt, st_csv_data_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    const char *path = opt->path;
    size_t size = 0;
    char *text = st_read_file(path, &size, err);
    if (!text) return err ? err->code : ST_ERR_IO;
    st_status_t rc = ST_OK;
    csv_t c = {.path = path, .p = text, .end = text + size, .line = 1};
    if (size >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb && (unsigned char)text[2] == 0xbf)
        c.p += 3;
    char **header = NULL, **labels = NULL;
    long *label_lines = NULL;
    int n_cols = 0, label_col = -1, split_col = -1;
    int64_t cap_rows = 0, n_rows_seen = 0;

    long line;
    int r = next_record(&c, &line, err);
    if (r < 0) goto fail_rc;
    if (r == 0) {
        if (c.line > 1)
            rc = st_fail(err, ST_ERR_DATA, "%s: no header row: the file holds only %ld blank line%s (expected a header "
                         "row naming the columns)", path, c.line - 1, c.line == 2 ? "" : "s");
        else
            rc = st_fail(err, ST_ERR_DATA, "%s: empty file (expected a header row naming the columns)", path);
        goto done;
    }
    long header_line = line;
    n_cols = c.n_fields;
    header = calloc((size_t)n_cols, sizeof *header);
    if (!header) goto nomem;
    for (int i = 0; i < n_cols; i++) {
        char *h = trim((char *)field(&c, i));
        char tmp[32];
        if (!*h) {
            snprintf(tmp, sizeof tmp, "column_%d", i + 1);
            h = tmp;
        }
        if (!(header[i] = strdup(h))) goto nomem;
        if (strcmp(header[i], opt->label) == 0 && label_col < 0) label_col = i;
        if (opt->split_column && strcmp(header[i], opt->split_column) == 0 && split_col < 0) split_col = i;
    }
    if ((rc = check_header(header, n_cols, path, header_line, err)) != ST_OK) goto done;
    char cols[600];
    if (label_col < 0 || (opt->split_column && split_col < 0)) {
        const char *want = label_col < 0 ? opt->label : opt->split_column;
        list_columns(header, n_cols, cols, sizeof cols);
        const char *near = st_closest_word(want, (const char *const *)header, n_cols);
        char hint[128] = "";
        if (near) st_format(hint, sizeof hint, " (did you mean \"%s\"?)", near);
        rc = st_fail(err, ST_ERR_DATA, "%s: no %s column \"%s\" in the header%s; the columns are: %s", path,
                     label_col < 0 ? "label" : "split", want, hint, cols);
        goto done;
    }
    if (label_col == split_col) {
        rc = st_fail(err, ST_ERR_CONFIG, "%s: the label column and the split column are both \"%s\"", path, opt->label);
        goto done;
    }
    int d = n_cols - 1 - (split_col >= 0);
    if (d < 1) {
        rc = st_fail(err, ST_ERR_DATA, "%s: no feature columns besides the label column \"%s\"", path, opt->label);
        goto done;
    }
    out->d = d;
    out->feature_names = calloc((size_t)d, sizeof *out->feature_names);
    if (!out->feature_names) goto nomem;
    for (int i = 0, j = 0; i < n_cols; i++)
        if (i != label_col && i != split_col && !(out->feature_names[j++] = strdup(header[i]))) goto nomem;

    float *row = malloc((size_t)d * sizeof *row);
    if (!row) goto nomem;
    while ((r = next_record(&c, &line, err)) > 0) {
        if (++n_rows_seen % 65536 == 0) st_watchdog_beat("converting CSV rows", -1);
        if (c.n_fields != n_cols) {
            rc = st_fail(err, ST_ERR_DATA, "%s: line %ld has %d field%s but the header has %d", path, line, c.n_fields,
                         c.n_fields == 1 ? "" : "s", n_cols);
            free(row);
            goto done;
        }
        char why[160];
        const char *bad = NULL;
        int bad_col = -1;
        uint8_t sp = 0;
        for (int i = 0, j = 0; i < n_cols && !bad; i++) {
            char *s = trim((char *)field(&c, i));
            if (i == label_col) {
                if (!*s) bad = (st_format(why, sizeof why, "missing label"), why);
                else if (strlen(s) >= ST_NAME_MAX)
                    bad = (st_format(why, sizeof why, "label \"%.20s...\" is longer than %d bytes", s, ST_NAME_MAX - 1), why);
                else if (bad_name(s))
                    bad = (st_format(why, sizeof why, "the label %s", bad_name(s)), why);
            } else if (i == split_col) {
                bad = parse_split(s, &sp, why, sizeof why);
            } else {
                bad = parse_number(s, &row[j++], why, sizeof why);
            }
            if (bad) bad_col = i;
        }
        if (bad) {
            char msg[256];
            st_format(msg, sizeof msg, "line %ld, column \"%s\": %s", line, header[bad_col], bad);
            if (!opt->drop_bad_rows) {
                rc = st_fail(err, ST_ERR_DATA, "%s: %s (--drop-bad-rows drops such rows)", path, msg);
                free(row);
                goto done;
            }
            if (out->n_dropped++ == 0) st_format(out->first_dropped, sizeof out->first_dropped, "%s", msg);
            continue;
        }
        if (out->n == cap_rows) {
            int64_t cap = cap_rows ? 2 * cap_rows : 1024;
            float *X = realloc(out->X, (size_t)(cap * d) * sizeof *X);
            if (X) out->X = X;
            char **L = realloc(labels, (size_t)cap * sizeof *L);
            if (L) labels = L;
            long *LL = realloc(label_lines, (size_t)cap * sizeof *LL);
            if (LL) label_lines = LL;
            uint8_t *S = split_col >= 0 ? realloc(out->split, (size_t)cap) : NULL;
            if (S) out->split = S;
            if (!X || !L || !LL || (split_col >= 0 && !S)) {
                free(row);
                goto nomem;
            }
            cap_rows = cap;
        }
        memcpy(out->X + out->n * d, row, (size_t)d * sizeof *row);
        if (split_col >= 0) out->split[out->n] = sp;
        label_lines[out->n] = line;
        if (!(labels[out->n] = strdup(trim((char *)field(&c, label_col))))) {
            free(row);
            goto nomem;
        }
        out->n++;
    }
    free(row);
    if (r < 0) goto fail_rc;
    if (n_rows_seen == 0) {
        rc = st_fail(err, ST_ERR_DATA, "%s: no rows after the header", path);
        goto done;
    }
    if (out->n == 0) {
        rc = st_fail(err, ST_ERR_DATA, "%s: all %lld rows were dropped (first: %s)", path, (long long)out->n_dropped,
                     out->first_dropped);
        goto done;
    }

    /* Labels to ids. */
    out->y = malloc((size_t)out->n * sizeof *out->y);
    if (!out->y) goto nomem;
    int all_ids = 1;
    long max_id = -1;
    for (int64_t i = 0; i < out->n && all_ids; i++) {
        long v;
        if (!is_id(labels[i], &v)) all_ids = 0;
        else if (v < 0 || v >= ST_MAX_CLASSES) {
            rc = st_fail(err, ST_ERR_DATA,
                         "%s: line %ld: label %s is too large for a class id (integer labels are ids 0..%d)", path,
                         label_lines[i], labels[i], ST_MAX_CLASSES - 1);
            goto done;
        } else if (v > max_id) max_id = v;
    }
    if (all_ids) {
        out->labels_are_ids = 1;
        out->n_classes = (int)max_id + 1;
        out->class_names = calloc((size_t)out->n_classes, sizeof *out->class_names);
        if (!out->class_names) goto nomem;
        for (int k = 0; k < out->n_classes; k++) {
            char nm[16];
            snprintf(nm, sizeof nm, "%d", k);
            if (!(out->class_names[k] = strdup(nm))) goto nomem;
        }
        for (int64_t i = 0; i < out->n; i++) out->y[i] = (int32_t)strtol(labels[i], NULL, 10);
    } else {
        char **sorted = malloc((size_t)out->n * sizeof *sorted);
        if (!sorted) goto nomem;
        memcpy(sorted, labels, (size_t)out->n * sizeof *sorted);
        qsort(sorted, (size_t)out->n, sizeof *sorted, cmp_str);
        int64_t k = 0;
        for (int64_t i = 0; i < out->n; i++)
            if (i == 0 || strcmp(sorted[i], sorted[k - 1]) != 0) sorted[k++] = sorted[i];
        if (k > ST_MAX_CLASSES) {
            free(sorted);
            rc = st_fail(err, ST_ERR_DATA, "%s: column \"%s\" has %lld distinct labels; at most %d classes", path,
                         opt->label, (long long)k, ST_MAX_CLASSES);
            goto done;
        }
        out->n_classes = (int)k;
        out->class_names = calloc((size_t)k, sizeof *out->class_names);
        if (!out->class_names) {
            free(sorted);
            goto nomem;
        }
        for (int64_t i = 0; i < k; i++)
            if (!(out->class_names[i] = strdup(sorted[i]))) {
                free(sorted);
                goto nomem;
            }
        for (int64_t i = 0; i < out->n; i++) {
            char **hit = bsearch(&labels[i], sorted, (size_t)k, sizeof *sorted, cmp_str);
            out->y[i] = (int32_t)(hit - sorted);
        }
        free(sorted);
    }
    goto done;

nomem:
    rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    goto done;
fail_rc:
    rc = err ? err->code : ST_ERR_DATA;
    if (rc == ST_OK) rc = ST_ERR_DATA;
done:
    if (labels)
        for (int64_t i = 0; i < out->n; i++) free(labels[i]);
    free(labels);
    free(label_lines);
    if (header)
        for (int i = 0; i < n_cols; i++) free(header[i]);
    free(header);
    free(c.buf);
    free(c.off);
    free(text);
    return rc;
}

st_status_t st_convert_csv(const char *out_path, const st_csv_options_t *opt, st_csv_summary_t *sum, st_error_t *err) {
    if (sum) memset(sum, 0, sizeof *sum);
    const char *inputs[1] = {opt->path};
    ST_TRY(st_convert_check_output(out_path, inputs, 1, err));
    st_csv_data_t data;
    st_status_t rc = st_csv_read(opt, &data, err);
    if (rc == ST_OK) {
        char source[1024];
        st_format(source, sizeof source, "csv: %s, label column \"%s\"%s", opt->path, opt->label,
                  data.n_dropped ? " (bad rows dropped)" : "");
        st_dataset_spec_t spec = {
            .n = data.n,
            .shape = st_shape1(data.d),
            .X = data.X,
            .y = data.y,
            .split = data.split,
            .n_classes = data.n_classes,
            .class_names = (const char *const *)data.class_names,
            .n_feature_names = data.d,
            .feature_names = (const char *const *)data.feature_names,
            .source = source,
        };
        rc = st_dataset_write(out_path, &spec, err);
    }
    if (rc == ST_OK && sum) {
        sum->n = data.n;
        sum->n_dropped = data.n_dropped;
        sum->d = data.d;
        sum->n_classes = data.n_classes;
        sum->labels_are_ids = data.labels_are_ids;
        st_format(sum->first_dropped, sizeof sum->first_dropped, "%s", data.first_dropped);
    }
    st_csv_free(&data);
    return rc;
}
