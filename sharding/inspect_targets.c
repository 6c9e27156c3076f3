/* inspect_targets.c — the part of `strata inspect` about targets and groups (issue 13): per
 * target, class counts (per split part too), multi-label frequencies and labels per row, or
 * regression mean/std/min/max and missing values, with the values training would refuse; the
 * number of groups and rows per group; as text and JSON. Sequence targets' figures are in
 * inspect_sequences.c. Targets are read in blocks of about
 * 4 MiB of rows, like /X in inspect.c. */
#include "inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define TARGET_BLOCK_BYTES (4u << 20)

static const char *part_names[3] = {"train", "val", "test"};

static st_status_t alloc_figures(const st_target_info_t *ti, st_inspect_target_t *f, int has_split, const char *path,
                                 st_error_t *err) {
    f->first_bad_row = -1;
    int w = ti->width, ok = 1;
    if (ti->kind == ST_TARGET_CLASS) {
        ok = (f->counts = calloc((size_t)ti->n_classes, sizeof *f->counts)) != NULL;
        if (ok && has_split) ok = (f->split_counts = calloc((size_t)ti->n_classes * 3, sizeof *f->split_counts)) != NULL;
    } else if (ti->kind == ST_TARGET_MULTILABEL) {
        ok = (f->counts = calloc((size_t)w, sizeof *f->counts)) != NULL;
    } else {
        f->mean = calloc((size_t)w, sizeof *f->mean), f->std = calloc((size_t)w, sizeof *f->std);
        f->min = malloc((size_t)w * sizeof *f->min), f->max = malloc((size_t)w * sizeof *f->max);
        f->col_missing = calloc((size_t)w, sizeof *f->col_missing);
        ok = f->mean && f->std && f->min && f->max && f->col_missing;
        for (int j = 0; ok && j < w; j++) f->min[j] = INFINITY, f->max[j] = -INFINITY;
    }
    return ok ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the figures of %s", path, ti->h5path);
}

/* Class ids of one block: counts, per-part counts, missing (−1 with allow_missing), bad. */
static void count_class_block(const st_target_info_t *ti, st_inspect_target_t *f, const float *v, int64_t row0,
                              int64_t n, const int8_t *split) {
    for (int64_t i = 0; i < n; i++) {
        float x = v[i];
        if (x == -1.0f && ti->allow_missing) {
            f->n_missing++;
            continue;
        }
        if (!(x >= 0 && x < (float)ti->n_classes && x == floorf(x))) {
            f->n_bad++;
            continue;
        }
        int c = (int)x, s = split ? split[row0 + i] : -1;
        f->counts[c]++;
        if (f->split_counts && s >= 0 && s <= 2) f->split_counts[c * 3 + s]++;
    }
}

/* Multi-label 0/1 of one block: rows per label, labels in all (for the mean), bad values. */
static void count_multilabel_block(const st_target_info_t *ti, st_inspect_target_t *f, const float *v, int64_t n) {
    for (int64_t i = 0; i < n * ti->width; i++) {
        if (v[i] == 1.0f) f->counts[i % ti->width]++;
        else if (v[i] != 0.0f) f->n_bad++;
    }
}

/* Regression values of one block: Welford's running mean and sum of squares per column (in
 * f->std until the end), min, max, NaN counts; a NaN without allow_missing or an Inf is bad. */
static void count_regression_block(const st_target_info_t *ti, st_inspect_target_t *f, const float *v, int64_t n,
                                   int64_t *seen) {
    int w = ti->width;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < w; j++) {
            double x = v[(size_t)i * (size_t)w + (size_t)j];
            if (isnan(x)) {
                f->col_missing[j]++;
                f->n_missing++;
                f->n_bad += !ti->allow_missing;
                continue;
            }
            if (isinf(x)) {
                f->n_bad++;
                continue;
            }
            double d = x - f->mean[j];
            f->mean[j] += d / (double)++seen[j];
            f->std[j] += d * (x - f->mean[j]);
            f->min[j] = x < f->min[j] ? x : f->min[j];
            f->max[j] = x > f->max[j] ? x : f->max[j];
        }
}

static void finish_figures(const st_target_info_t *ti, st_inspect_target_t *f, const int64_t *seen, int64_t n_rows) {
    if (ti->kind == ST_TARGET_MULTILABEL) {
        int64_t all = 0;
        for (int j = 0; j < ti->width; j++) all += f->counts[j];
        f->mean_labels = n_rows > 0 ? (double)all / (double)n_rows : 0.0;
    }
    if (ti->kind != ST_TARGET_REGRESSION) return;
    for (int j = 0; j < ti->width; j++) {
        if (seen[j] == 0) f->mean[j] = f->std[j] = f->min[j] = f->max[j] = NAN;
        else f->std[j] = sqrt(f->std[j] / (double)seen[j]);
    }
}

/* Reads target t in blocks and fills r->targets[t]. */
static st_status_t target_figures(st_inspect_t *r, int t, const int8_t *split, st_error_t *err) {
    const st_dataset_t *ds = &r->ds;
    const st_target_info_t *ti = &ds->targets[t];
    st_inspect_target_t *f = &r->targets[t];
    if (ti->kind == ST_TARGET_SEQUENCE) ST_TRY(st_inspect_sequence_alloc(r, t, err));
    else ST_TRY(alloc_figures(ti, f, ds->has_split, ds->path, err));
    int64_t block = (int64_t)(TARGET_BLOCK_BYTES / ((size_t)ti->width * sizeof(float)));
    if (block < 1) block = 1;
    if (block > ds->n) block = ds->n;
    float *buf = malloc((size_t)(block * ti->width) * sizeof *buf);
    int64_t *seen = calloc((size_t)ti->width, sizeof *seen);
    st_status_t rc = buf && seen ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading %s", ds->path, ti->h5path);
    for (int64_t row0 = 0; rc == ST_OK && row0 < ds->n; row0 += block) {
        int64_t n = ds->n - row0 < block ? ds->n - row0 : block;
        rc = st_dataset_read_target_rows(ds, t, row0, n, buf, MPI_COMM_NULL, err);
        if (rc != ST_OK) break;
        if (f->first_bad_row < 0) {
            int64_t i = st_target_first_bad(ti, buf, n, f->first_bad, sizeof f->first_bad);
            if (i >= 0) f->first_bad_row = row0 + i;
        }
        if (ti->kind == ST_TARGET_CLASS) count_class_block(ti, f, buf, row0, n, split);
        else if (ti->kind == ST_TARGET_MULTILABEL) count_multilabel_block(ti, f, buf, n);
        else if (ti->kind == ST_TARGET_SEQUENCE) rc = st_inspect_sequence_block(r, t, buf, row0, n, err);
        else count_regression_block(ti, f, buf, n, seen);
    }
    if (rc == ST_OK && ti->kind == ST_TARGET_SEQUENCE) st_inspect_sequence_finish(ti, f);
    else if (rc == ST_OK) finish_figures(ti, f, seen, ds->n);
    free(buf);
    free(seen);
    return rc;
}

st_status_t st_inspect_targets(st_inspect_t *r, const int8_t *split, st_error_t *err) {
    for (int t = 0; t < r->ds.n_targets; t++) ST_TRY(target_figures(r, t, split, err));
    return ST_OK;
}

/* ---- groups ------------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_by_group(const void *a, const void *b, void *groups) {
    const int64_t *g = groups;
    return cmp_i64(&g[*(const int64_t *)a], &g[*(const int64_t *)b]);
}

/* Rows sorted by group: one run per group gives its size and whether its rows span parts. */
static void group_runs(st_inspect_t *r, const int64_t *g, const int64_t *order, const int8_t *split, int64_t *sizes) {
    int64_t n = r->ds.n, k = 0, start = 0;
    for (int64_t i = 1; i <= n; i++) {
        if (i < n && g[order[i]] == g[order[start]]) continue;
        int across = 0;
        for (int64_t j = start + 1; split && j < i && !across; j++) across = split[order[j]] != split[order[start]];
        if (across && r->n_groups_across_parts++ == 0) r->first_group_across = g[order[start]];
        sizes[k++] = i - start;
        start = i;
    }
    qsort(sizes, (size_t)k, sizeof *sizes, cmp_i64);
    r->n_groups = k;
    r->group_rows_min = sizes[0];
    r->group_rows_max = sizes[k - 1];
    r->group_rows_median = k % 2 ? (double)sizes[k / 2] : 0.5 * (double)(sizes[k / 2 - 1] + sizes[k / 2]);
}

st_status_t st_inspect_groups(st_inspect_t *r, const int8_t *split, st_error_t *err) {
    const st_dataset_t *ds = &r->ds;
    if (!ds->has_groups) return ST_OK;
    int64_t *g = malloc((size_t)ds->n * sizeof *g), *order = malloc((size_t)ds->n * sizeof *order);
    int64_t *sizes = malloc((size_t)ds->n * sizeof *sizes);
    st_status_t rc = g && order && sizes ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading /groups", ds->path);
    if (rc == ST_OK) rc = st_dataset_read_groups(ds, g, err);
    if (rc == ST_OK) {
        for (int64_t i = 0; i < ds->n; i++) order[i] = i;
        qsort_r(order, (size_t)ds->n, sizeof *order, cmp_by_group, g);
        group_runs(r, g, order, ds->has_split ? split : NULL, sizes);
    }
    free(g);
    free(order);
    free(sizes);
    return rc;
}

void st_inspect_targets_free(st_inspect_t *r) {
    for (int t = 0; t < ST_MAX_TARGETS; t++) {
        st_inspect_target_t *f = &r->targets[t];
        free(f->counts);
        free(f->split_counts);
        free(f->mean);
        free(f->std);
        free(f->min);
        free(f->max);
        free(f->col_missing);
        free(f->len_hist);
        memset(f, 0, sizeof *f);
    }
}

/* ---- text --------------------------------------------------------------------------------- */

static int name_width(char (*names)[ST_NAME_MAX], int n, int at_least) {
    int w = at_least;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(names[i]);
        w = l > w ? l : w;
    }
    return w;
}

static void print_class(FILE *out, const st_inspect_t *r, const st_target_info_t *ti, const st_inspect_target_t *f) {
    int w = name_width(ti->names, ti->n_classes, 5), has_split = f->split_counts != NULL;
    fprintf(out, "      %3s  %-*s %10s %7s", "id", w, "class", "count", "share");
    for (int s = 0; has_split && s < 3; s++) fprintf(out, " %9s", part_names[s]);
    fprintf(out, "\n");
    int64_t valid = r->ds.n - f->n_missing - f->n_bad;
    for (int c = 0; c < ti->n_classes; c++) {
        fprintf(out, "      %3d  %-*s %10lld %6.2f%%", c, w, ti->names[c], (long long)f->counts[c],
                valid > 0 ? 100.0 * (double)f->counts[c] / (double)valid : 0.0);
        for (int s = 0; has_split && s < 3; s++) fprintf(out, " %9lld", (long long)f->split_counts[c * 3 + s]);
        fprintf(out, "\n");
    }
}

static void print_multilabel(FILE *out, const st_inspect_t *r, const st_target_info_t *ti, const st_inspect_target_t *f) {
    int w = name_width(ti->names, ti->width, 5);
    fprintf(out, "      %-*s %10s %7s\n", w, "label", "count", "share");
    for (int j = 0; j < ti->width; j++)
        fprintf(out, "      %-*s %10lld %6.2f%%\n", w, ti->names[j], (long long)f->counts[j],
                100.0 * (double)f->counts[j] / (double)r->ds.n);
}

static void print_number(FILE *out, double v) {
    if (isnan(v)) fprintf(out, " %11s", "-");
    else fprintf(out, " %11.4g", v);
}

static void print_regression(FILE *out, const st_target_info_t *ti, const st_inspect_target_t *f) {
    int w = name_width(ti->names, ti->width, 6);
    fprintf(out, "      %-*s %11s %11s %11s %11s %9s\n", w, "column", "mean", "std", "min", "max", "missing");
    for (int j = 0; j < ti->width; j++) {
        fprintf(out, "      %-*s", w, ti->names[j]);
        print_number(out, f->mean[j]);
        print_number(out, f->std[j]);
        print_number(out, f->min[j]);
        print_number(out, f->max[j]);
        fprintf(out, " %9lld\n", (long long)f->col_missing[j]);
    }
}

void st_inspect_targets_print(FILE *out, const st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    int in_file = strcmp(ds->targets[0].h5path, "/y") != 0; /* the "y" shorthand is the class table above */
    if (in_file) fprintf(out, "  targets       %d in /targets\n", ds->n_targets);
    for (int t = 0; in_file && t < ds->n_targets; t++) {
        const st_target_info_t *ti = &ds->targets[t];
        const st_inspect_target_t *f = &r->targets[t];
        fprintf(out, "    %s: %s, ", ti->name, st_target_kind_name(ti->kind));
        if (ti->kind == ST_TARGET_SEQUENCE) {
            st_inspect_sequence_print(out, r, t);
            continue;
        }
        if (ti->kind == ST_TARGET_CLASS) fprintf(out, "%d classes", ti->n_classes);
        else fprintf(out, "%d %s%s", ti->width, ti->kind == ST_TARGET_MULTILABEL ? "label" : "column", ti->width == 1 ? "" : "s");
        if (ti->kind == ST_TARGET_MULTILABEL) fprintf(out, ", %.2f labels per row on average", f->mean_labels);
        if (ti->allow_missing) fprintf(out, ", %lld missing", (long long)f->n_missing);
        if (f->n_bad) fprintf(out, ", %lld bad", (long long)f->n_bad);
        fprintf(out, "\n");
        if (ti->kind == ST_TARGET_CLASS) print_class(out, r, ti, f);
        else if (ti->kind == ST_TARGET_MULTILABEL) print_multilabel(out, r, ti, f);
        else print_regression(out, ti, f);
    }
    if (ds->has_groups)
        fprintf(out, "  groups        %lld (rows per group: min %lld, median %g, max %lld)\n", (long long)r->n_groups,
                (long long)r->group_rows_min, r->group_rows_median, (long long)r->group_rows_max);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void json_number(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void json_target_values(cJSON *o, const st_inspect_t *r, const st_target_info_t *ti, const st_inspect_target_t *f) {
    if (ti->kind == ST_TARGET_CLASS) {
        cJSON *a = cJSON_AddArrayToObject(o, "classes");
        int64_t valid = r->ds.n - f->n_missing - f->n_bad;
        for (int c = 0; c < ti->n_classes; c++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "id", c);
            cJSON_AddStringToObject(e, "name", ti->names[c]);
            cJSON_AddNumberToObject(e, "count", (double)f->counts[c]);
            cJSON_AddNumberToObject(e, "share", valid > 0 ? (double)f->counts[c] / (double)valid : 0.0);
            for (int s = 0; f->split_counts && s < 3; s++)
                cJSON_AddNumberToObject(e, part_names[s], (double)f->split_counts[c * 3 + s]);
            cJSON_AddItemToArray(a, e);
        }
        return;
    }
    cJSON *a = cJSON_AddArrayToObject(o, ti->kind == ST_TARGET_MULTILABEL ? "labels" : "columns");
    for (int j = 0; j < ti->width; j++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", ti->names[j]);
        if (ti->kind == ST_TARGET_MULTILABEL) {
            cJSON_AddNumberToObject(e, "count", (double)f->counts[j]);
            cJSON_AddNumberToObject(e, "share", (double)f->counts[j] / (double)r->ds.n);
        } else {
            json_number(e, "mean", f->mean[j]);
            json_number(e, "std", f->std[j]);
            json_number(e, "min", f->min[j]);
            json_number(e, "max", f->max[j]);
            cJSON_AddNumberToObject(e, "missing", (double)f->col_missing[j]);
        }
        cJSON_AddItemToArray(a, e);
    }
    if (ti->kind == ST_TARGET_MULTILABEL) cJSON_AddNumberToObject(o, "mean_labels", f->mean_labels);
}

void st_inspect_targets_json(cJSON *j, const st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    cJSON *targets = cJSON_AddArrayToObject(j, "targets");
    for (int t = 0; t < ds->n_targets; t++) {
        const st_target_info_t *ti = &ds->targets[t];
        const st_inspect_target_t *f = &r->targets[t];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", ti->name);
        cJSON_AddStringToObject(o, "path", ti->h5path);
        cJSON_AddStringToObject(o, "kind", st_target_kind_name(ti->kind));
        cJSON_AddNumberToObject(o, "width", ti->width);
        if (ti->kind == ST_TARGET_CLASS) cJSON_AddNumberToObject(o, "n_classes", ti->n_classes);
        if (ti->kind == ST_TARGET_SEQUENCE) cJSON_AddNumberToObject(o, "max_len", ti->max_len);
        if (ti->kind == ST_TARGET_SEQUENCE) cJSON_AddNumberToObject(o, "n_tokens", ti->n_classes);
        cJSON_AddBoolToObject(o, "allow_missing", ti->allow_missing);
        cJSON_AddNumberToObject(o, "missing", (double)f->n_missing);
        cJSON_AddNumberToObject(o, "bad", (double)f->n_bad);
        if (ti->kind == ST_TARGET_SEQUENCE) st_inspect_sequence_json(o, r, t);
        else json_target_values(o, r, ti, f);
        cJSON_AddItemToArray(targets, o);
    }
    if (!ds->has_groups) {
        cJSON_AddNullToObject(j, "groups");
        return;
    }
    cJSON *g = cJSON_AddObjectToObject(j, "groups");
    cJSON_AddNumberToObject(g, "n_groups", (double)r->n_groups);
    cJSON_AddNumberToObject(g, "rows_min", (double)r->group_rows_min);
    cJSON_AddNumberToObject(g, "rows_median", r->group_rows_median);
    cJSON_AddNumberToObject(g, "rows_max", (double)r->group_rows_max);
    cJSON_AddNumberToObject(g, "across_parts", (double)r->n_groups_across_parts);
}
