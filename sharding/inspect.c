/* inspect.c — dataset statistics (class counts and shares, splits, imbalance, NaN/Inf), the
 * training phase with a suggested rank and node count, and the problems that would make training
 * fail; as text or JSON (cJSON). /X is scanned in blocks of about 4 MiB of rows (padding past a
 * row's length left out). The figures of targets and groups (format 2) are in inspect_targets.c,
 * those of /lengths in inspect_lengths.c; a file without /y has no class table. /y and /split
 * are read in blocks too, so memory stays bounded for any N: a few MiB of blocks, plus one byte
 * a row with /split (kept for the per-part counts of the targets) and 24 bytes a row with /groups
 * (sorted to find each group's rows). */
#include "inspect.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "dataset_internal.h"
#include "h5guard.h"
#include "h5util.h"

#define SCAN_BLOCK_BYTES (4u << 20)
#define LABEL_BLOCK_ROWS ((int64_t)1 << 19) /* 4 MiB of int64 */

void st_phase_for(int64_t n, st_phase_t *p) {
    memset(p, 0, sizeof *p);
    int64_t by_size = n / ST_SAMPLES_PER_RANK; /* at most one rank per 12,500 samples */
    if (by_size < 1) by_size = 1;
    if (n < 2500) {
        *p = (st_phase_t){1, 1, 1, 1, 1, "fewer than 2,500 samples", ""};
        st_format(p->reason, sizeof p->reason,
                  "an epoch is a few dozen batches: one rank finishes it in about a second, and a second rank "
                  "would add an all-reduce to every step and leave each with too few batches");
    } else if (n < 25000) {
        *p = (st_phase_t){2, 1, 2, 1, 1, "2,500-24,999 samples", ""};
        st_format(p->reason, sizeof p->reason,
                  "a second rank on the same node (shared-memory all-reduce, tens of microseconds) pays off once the "
                  "model is large; more ranks would hold fewer than %d samples each", ST_SAMPLES_PER_RANK);
    } else if (n <= 100000) {
        int hi = (int)(by_size > 8 ? 8 : by_size < 2 ? 2 : by_size);
        *p = (st_phase_t){3, 2, hi, 1, 2, "25,000-100,000 samples", ""};
        st_format(p->reason, sizeof p->reason,
                  "keep at least %d samples per rank (%lld / %d = %d ranks at most here); fill one node's cores "
                  "first, add a second node only when they are used up", ST_SAMPLES_PER_RANK, (long long)n,
                  ST_SAMPLES_PER_RANK, hi);
    } else {
        int hi = (int)(by_size > 1 << 20 ? 1 << 20 : by_size);
        if (hi < 8) hi = 8;
        *p = (st_phase_t){4, 8, hi, 2, 0, "more than 100,000 samples", ""};
        st_format(p->reason, sizeof p->reason,
                  "about one rank per %d samples (%d here) keeps every rank busy between all-reduces; "
                  "that many ranks need two or more nodes", ST_SAMPLES_PER_RANK, hi);
    }
}

static void note(char (*list)[320], int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char (*list)[320], int *n, const char *fmt, ...) {
    if (*n >= ST_INSPECT_MAX_NOTES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(list[*n], 320, fmt, ap);
    va_end(ap);
    (*n)++;
}

/* "row 5, feature \"x\"" / "row 5, position 3, channel \"ax\"" for the first non-finite value. */
static void element_name(const st_inspect_t *r, char *buf, size_t size) {
    const st_dataset_t *ds = &r->ds;
    long e = r->first_nonfinite_elem;
    if (ds->shape.rank == 1) {
        if (ds->n_feature_names > 0)
            st_format(buf, size, "row %lld, feature %ld \"%s\"", (long long)r->first_nonfinite_row, e, ds->feature_names[e]);
        else
            st_format(buf, size, "row %lld, feature %ld", (long long)r->first_nonfinite_row, e);
    } else {
        int c = ds->shape.d[1];
        if (ds->n_feature_names > 0)
            st_format(buf, size, "row %lld, position %ld, channel %ld \"%s\"", (long long)r->first_nonfinite_row,
                      e / c, e % c, ds->feature_names[e % c]);
        else
            st_format(buf, size, "row %lld, position %ld, channel %ld", (long long)r->first_nonfinite_row, e / c, e % c);
    }
}

static st_status_t scan_features(st_inspect_t *r, st_error_t *err) {
    const st_dataset_t *ds = &r->ds;
    long row_floats = st_shape_numel(ds->shape);
    int64_t block = (int64_t)(SCAN_BLOCK_BYTES / ((size_t)row_floats * sizeof(float)));
    if (block < 1) block = 1;
    if (block > ds->n) block = ds->n;
    float *buf = st_alloc((size_t)(block * row_floats) * sizeof(float), "a block of /X rows", err);
    long *valid = buf ? st_alloc((size_t)block * sizeof(long), "a block of lengths", err) : NULL;
    float *scratch = valid ? st_alloc((size_t)block * sizeof(float), "a block of lengths", err) : NULL;
    if (!scratch) return st_free(buf), st_free(valid), ST_ERR_NOMEM;
    r->first_nonfinite_row = -1;
    for (int64_t row0 = 0; row0 < ds->n; row0 += block) {
        int64_t n_rows = ds->n - row0 < block ? ds->n - row0 : block;
        st_status_t rc = st_dataset_read_rows(ds, row0, n_rows, buf, MPI_COMM_NULL, err);
        if (rc == ST_OK) rc = st_inspect_valid_floats(valid, scratch, ds, row0, n_rows, err);
        if (rc != ST_OK) {
            st_free(buf), st_free(valid), st_free(scratch);
            return rc;
        }
        int64_t n_el = n_rows * row_floats;
        for (int64_t i = 0; i < n_el; i++) {
            if (i % row_floats >= valid[i / row_floats]) continue; /* padding: training zeroes it */
            float v = buf[i];
            if (isfinite(v)) continue;
            if (isnan(v)) r->n_nan++;
            else r->n_inf++;
            if (r->first_nonfinite_row < 0) {
                r->first_nonfinite_row = row0 + i / row_floats;
                r->first_nonfinite_elem = (long)(i % row_floats);
            }
        }
    }
    st_free(buf), st_free(valid), st_free(scratch);
    return ST_OK;
}

/* Rows [row0, row0 + n) of the 1-d dataset `name` of the open file f, as mem_type, into buf. */
static st_status_t read_block_1d(const st_dataset_t *ds, hid_t f, const char *name, hid_t mem_type, int64_t row0,
                                 int64_t n, void *buf, st_error_t *err) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return st_h5_fail(err, ST_ERR_DATA, ds->path, name);
    hid_t fs = H5Dget_space(d);
    hsize_t start = (hsize_t)row0, count = (hsize_t)n;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    herr_t r = H5Dread(d, mem_type, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
    if (r < 0) {
        char what[96];
        st_format(what, sizeof what, "cannot read %s rows %lld..%lld", name, (long long)row0, (long long)(row0 + n - 1));
        return st_h5_fail(err, ST_ERR_IO, ds->path, what);
    }
    return ST_OK;
}

/* One block of /split: part counts, bad values, and the block as bytes (−1: bad) into split. */
static void split_block(st_inspect_t *r, const int32_t *v, int64_t row0, int64_t n, int8_t *split) {
    for (int64_t i = 0; i < n; i++) {
        int s = v[i];
        if (s < 0 || s > 2) {
            if (r->n_bad_split++ == 0) r->first_bad_split_row = row0 + i, r->first_bad_split = s;
            s = -1;
        } else {
            r->split_counts[s]++;
        }
        if (split) split[row0 + i] = (int8_t)s;
    }
}

/* One block of /y: class counts (per part with /split), out-of-range labels. */
static void label_block(st_inspect_t *r, const int64_t *y, int64_t row0, int64_t n, const int8_t *split) {
    int k = r->ds.n_classes;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= k) {
            if (r->n_bad_labels++ == 0) r->first_bad_label_row = row0 + i, r->first_bad_label = y[i];
            continue;
        }
        r->class_counts[y[i]]++;
        int s = split ? split[row0 + i] : -1;
        if (s >= 0) r->class_split_counts[y[i] * 3 + s]++;
    }
}

/* /split into one byte a row (*split, NULL without /split) and the part counts, then the class
 * counts of /y, both read in blocks of LABEL_BLOCK_ROWS: memory is N bytes with /split, else
 * constant. */
static st_status_t count_labels(st_inspect_t *r, int8_t **split, st_error_t *err) {
    const st_dataset_t *ds = &r->ds;
    r->first_bad_label_row = r->first_bad_split_row = -1;
    *split = NULL;
    if (!ds->has_split) r->split_counts[ST_SPLIT_TRAIN] = ds->n;
    int64_t block = ds->n < LABEL_BLOCK_ROWS ? ds->n : LABEL_BLOCK_ROWS;
    int64_t *buf = malloc((size_t)block * sizeof *buf);
    if (ds->has_split) *split = malloc((size_t)ds->n);
    if (ds->has_y) {
        r->class_counts = calloc((size_t)ds->n_classes, sizeof *r->class_counts);
        r->class_split_counts = ds->has_split ? calloc((size_t)ds->n_classes * 3, sizeof *r->class_split_counts) : NULL;
    }
    if (!buf || (ds->has_split && !*split) || (ds->has_y && (!r->class_counts || (ds->has_split && !r->class_split_counts))))
        return free(buf), st_fail(err, ST_ERR_NOMEM, "%s: out of memory counting labels", ds->path);
    st_h5_quiet();
    st_h5_guard_enter(ds->path);
    hid_t f = -1;
    st_status_t rc = st_ds_open_file(ds->path, H5P_DEFAULT, &f, err);
    for (int64_t row0 = 0; rc == ST_OK && ds->has_split && row0 < ds->n; row0 += block) {
        int64_t n = ds->n - row0 < block ? ds->n - row0 : block;
        if ((rc = read_block_1d(ds, f, "/split", H5T_NATIVE_INT32, row0, n, buf, err)) == ST_OK)
            split_block(r, (const int32_t *)buf, row0, n, *split);
    }
    for (int64_t row0 = 0; rc == ST_OK && ds->has_y && row0 < ds->n; row0 += block) {
        int64_t n = ds->n - row0 < block ? ds->n - row0 : block;
        if ((rc = read_block_1d(ds, f, "/y", H5T_NATIVE_INT64, row0, n, buf, err)) == ST_OK)
            label_block(r, buf, row0, n, *split);
    }
    if (f >= 0) H5Fclose(f);
    st_h5_guard_leave();
    free(buf);
    return rc;
}

/* Largest / smallest of counts[c * stride] over the classes with samples (class_counts > 0):
 * INFINITY when one of them has none here, NAN when none has any. */
static double ratio(const int64_t *counts, int stride, const int64_t *class_counts, int k) {
    int64_t lo = INT64_MAX, hi = 0;
    for (int c = 0; c < k; c++) {
        if (class_counts[c] == 0) continue;
        int64_t n = counts[(size_t)c * (size_t)stride];
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    if (hi == 0) return NAN;
    return lo == 0 ? INFINITY : (double)hi / (double)lo;
}

/* Per-part imbalance and the classes training would see. */
static void part_statistics(st_inspect_t *r) {
    int k = r->ds.n_classes;
    for (int s = 0; s < 3; s++)
        r->split_imbalance[s] = r->ds.has_split ? ratio(r->class_split_counts + s, 3, r->class_counts, k) : NAN;
    r->train_imbalance = r->ds.has_split ? r->split_imbalance[ST_SPLIT_TRAIN] : r->imbalance;
    r->n_train_classes = 0;
    for (int c = 0; c < k; c++)
        r->n_train_classes += (r->ds.has_split ? r->class_split_counts[c * 3 + ST_SPLIT_TRAIN] : r->class_counts[c]) > 0;
}

/* A class that /split keeps out of train entirely: evaluated, never learnt (training refuses). */
static void unseen_classes(st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    if (!ds->has_split) return;
    for (int c = 0; c < ds->n_classes; c++) {
        const int64_t *n = r->class_split_counts + c * 3;
        if (n[ST_SPLIT_TRAIN] == 0 && n[ST_SPLIT_VAL] + n[ST_SPLIT_TEST] > 0)
            note(r->problems, &r->n_problems,
                 "%s: class \"%s\" (id %d) has no training rows (/split puts its %lld val and %lld test rows outside "
                 "train): the model could never predict it; training refuses", ds->path, ds->class_names[c], c,
                 (long long)n[ST_SPLIT_VAL], (long long)n[ST_SPLIT_TEST]);
    }
}

/* /y's classes: too few, empty or tiny classes, classes /split keeps out of train. */
static void class_problems(st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    const char *p = ds->path;
    int k = ds->n_classes;
    if (k < 2)
        note(r->problems, &r->n_problems, "%s: only %d class; a classifier needs at least 2", p, k);
    int64_t lo = INT64_MAX, hi = 0;
    for (int c = 0; c < k; c++) {
        int64_t n = r->class_counts[c];
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
        if (n == 0)
            note(r->problems, &r->n_problems, "%s: class \"%s\" (id %d) has no samples", p, ds->class_names[c], c);
        else if (n < 3)
            note(r->problems, &r->n_problems,
                 "%s: class \"%s\" (id %d) has %lld sample%s; a stratified train/val/test split needs at least 3",
                 p, ds->class_names[c], c, (long long)n, n == 1 ? "" : "s");
    }
    r->imbalance = lo == 0 ? INFINITY : (double)hi / (double)lo;
    part_statistics(r);
    unseen_classes(r);
    if (k >= 2 && r->n_train_classes < 2)
        note(r->problems, &r->n_problems, "%s: %d of the %d classes %s training rows; a classifier needs at least 2", p,
             r->n_train_classes, k, r->n_train_classes == 1 ? "has" : "have");
}

/* The training part decides: a balanced fixed test set can hide a long tail in train. */
static void imbalance_warning(st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    const char *p = ds->path;
    double worst = r->imbalance;
    if (ds->has_split && isfinite(r->train_imbalance) && !(r->train_imbalance <= worst)) worst = r->train_imbalance;
    if (ds->n_classes >= 2 && isfinite(worst) && worst >= 10) {
        if (ds->has_split && isfinite(r->train_imbalance))
            note(r->warnings, &r->n_warnings,
                 "%s: classes are imbalanced (largest / smallest = %.1f), in the training part %.1f: "
                 "consider class weights or a focal loss", p, r->imbalance, r->train_imbalance);
        else
            note(r->warnings, &r->n_warnings,
                 "%s: classes are imbalanced (largest / smallest = %.1f): consider class weights or a focal loss", p,
                 r->imbalance);
    }
}

/* Target values training refuses; groups that /split cuts apart. */
static void target_notes(st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    for (int t = 0; t < ds->n_targets; t++) {
        const st_inspect_target_t *f = &r->targets[t];
        int seq = ds->targets[t].kind == ST_TARGET_SEQUENCE; /* its n_bad counts rows */
        if (f->n_bad > 0 && strcmp(ds->targets[t].h5path, "/y") != 0)
            note(r->problems, &r->n_problems, "%s: %s row %lld: %s (%lld bad %s%s); training refuses them", ds->path,
                 ds->targets[t].h5path, (long long)f->first_bad_row, f->first_bad, (long long)f->n_bad,
                 seq ? "row" : "value", f->n_bad == 1 ? "" : "s");
        /* a warning: with loss.zero_infinity (the default) such rows train as loss 0, no gradient */
        if (seq && f->n_too_short > 0 && r->n_warnings < ST_INSPECT_MAX_NOTES)
            st_inspect_sequence_note(r->warnings[r->n_warnings++], 320, r, t);
    }
    if (r->n_groups_across_parts > 0)
        note(r->warnings, &r->n_warnings, "%s: %lld group%s %s rows in more than one /split part (first: group %lld): "
             "/split does not keep a group together", ds->path, (long long)r->n_groups_across_parts,
             r->n_groups_across_parts == 1 ? "" : "s", r->n_groups_across_parts == 1 ? "has" : "have",
             (long long)r->first_group_across);
}

static void find_problems(st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    const char *p = ds->path;
    if (r->n_bad_labels > 0)
        note(r->problems, &r->n_problems, "%s: /y[%lld] = %lld is outside 0..%d (%lld label%s out of range)", p,
             (long long)r->first_bad_label_row, (long long)r->first_bad_label, ds->n_classes - 1,
             (long long)r->n_bad_labels, r->n_bad_labels == 1 ? "" : "s");
    if (r->n_bad_split > 0)
        note(r->problems, &r->n_problems, "%s: /split[%lld] = %lld is not 0 (train), 1 (val) or 2 (test) (%lld such rows)",
             p, (long long)r->first_bad_split_row, (long long)r->first_bad_split, (long long)r->n_bad_split);
    if (ds->has_y) class_problems(r);
    else r->imbalance = r->train_imbalance = r->split_imbalance[0] = r->split_imbalance[1] = r->split_imbalance[2] = NAN;
    if (r->n_nan + r->n_inf > 0) {
        char where[200];
        element_name(r, where, sizeof where);
        note(r->problems, &r->n_problems,
             "%s: /X has %lld NaN and %lld Inf values (first at %s); training refuses non-finite features unless "
             "allowed", p, (long long)r->n_nan, (long long)r->n_inf, where);
    }
    if (ds->has_split && r->split_counts[ST_SPLIT_TRAIN] == 0)
        note(r->problems, &r->n_problems, "%s: /split marks no sample as train (0)", p);
    target_notes(r);
    if (r->n_bad_lengths > 0)
        note(r->problems, &r->n_problems, "%s: /lengths[%lld] = %g is outside 1..%d (%lld bad length%s); training "
             "refuses them", p, (long long)r->first_bad_length_row, r->first_bad_length, ds->shape.d[0],
             (long long)r->n_bad_lengths, r->n_bad_lengths == 1 ? "" : "s");
    if (r->n_problems == ST_INSPECT_MAX_NOTES)
        snprintf(r->problems[ST_INSPECT_MAX_NOTES - 1], 320, "%s: ... and more problems (only the first %d are listed)",
                 p, ST_INSPECT_MAX_NOTES - 1);
    if (ds->has_y) imbalance_warning(r);
}

st_status_t st_inspect(const char *path, st_inspect_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    ST_TRY(st_dataset_open(path, &out->ds, err));
    int8_t *split = NULL;
    st_status_t rc = count_labels(out, &split, err);
    if (rc == ST_OK) rc = st_inspect_targets(out, split, err);
    if (rc == ST_OK) rc = st_inspect_groups(out, split, err);
    if (rc == ST_OK) rc = st_inspect_lengths(out, err);
    if (rc == ST_OK) rc = scan_features(out, err);
    free(split);
    if (rc != ST_OK) {
        st_inspect_free(out);
        return rc;
    }
    find_problems(out);
    st_phase_for(out->ds.n, &out->phase);
    return ST_OK;
}

void st_inspect_free(st_inspect_t *r) {
    if (!r) return;
    st_dataset_close(&r->ds);
    st_inspect_targets_free(r);
    free(r->class_counts);
    free(r->class_split_counts);
    r->class_counts = r->class_split_counts = NULL;
}

/* ---- reports ------------------------------------------------------------------------------ */

static const char *split_names[3] = {"train", "val", "test"};

static void ranks_text(const st_phase_t *p, char *buf, size_t size) {
    char r[32], n[32];
    if (p->ranks_min == p->ranks_max) st_format(r, sizeof r, "%d rank%s", p->ranks_min, p->ranks_min == 1 ? "" : "s");
    else st_format(r, sizeof r, "%d-%d ranks", p->ranks_min, p->ranks_max);
    if (p->nodes_max == 0) st_format(n, sizeof n, "%d or more nodes", p->nodes_min);
    else if (p->nodes_min == p->nodes_max) st_format(n, sizeof n, "%d node%s", p->nodes_min, p->nodes_min == 1 ? "" : "s");
    else st_format(n, sizeof n, "%d-%d nodes", p->nodes_min, p->nodes_max);
    st_format(buf, size, "%s on %s", r, n);
}

/* /y's class table, imbalance and imbalance by split part. */
static void print_classes(FILE *out, const st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    fprintf(out, "  classes       %d\n", ds->n_classes);
    int w = 5;
    for (int c = 0; c < ds->n_classes; c++) {
        int l = (int)strlen(ds->class_names[c]);
        w = l > w ? l : w;
    }
    fprintf(out, "    %3s  %-*s %10s %7s", "id", w, "class", "count", "share");
    if (ds->has_split)
        for (int s = 0; s < 3; s++) fprintf(out, " %9s", split_names[s]);
    fprintf(out, "\n");
    int64_t valid = ds->n - r->n_bad_labels;
    for (int c = 0; c < ds->n_classes; c++) {
        fprintf(out, "    %3d  %-*s %10lld %6.2f%%", c, w, ds->class_names[c], (long long)r->class_counts[c],
                valid > 0 ? 100.0 * (double)r->class_counts[c] / (double)valid : 0.0);
        if (ds->has_split)
            for (int s = 0; s < 3; s++) fprintf(out, " %9lld", (long long)r->class_split_counts[c * 3 + s]);
        fprintf(out, "\n");
    }
    if (isfinite(r->imbalance)) fprintf(out, "  imbalance     %.2f (largest / smallest class)\n", r->imbalance);
    else fprintf(out, "  imbalance     inf (a class has no samples)\n");
    if (ds->has_split) {
        fprintf(out, "  by split     ");
        for (int s = 0; s < 3; s++) {
            double v = r->split_imbalance[s];
            if (isnan(v)) fprintf(out, "%s %s -", s ? "," : "", split_names[s]);
            else fprintf(out, "%s %s %.2f", s ? "," : "", split_names[s], v);
        }
        fprintf(out, " (imbalance within each part; training sees train)\n");
    }
}

void st_inspect_print(FILE *out, const st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    char shape[48];
    st_shape_str(ds->shape, shape, sizeof shape);
    fprintf(out, "%s\n", ds->path);
    if (ds->source[0]) fprintf(out, "  source        %s\n", ds->source);
    fprintf(out, "  samples       %lld\n", (long long)ds->n);
    fprintf(out, "  sample shape  %s%s\n", shape, ds->shape.rank == 1 ? " (features)" : " (positions, channels)");
    if (ds->n_feature_names > 0) {
        fprintf(out, "  %-13s ", ds->shape.rank == 1 ? "features" : "channels");
        for (int i = 0; i < ds->n_feature_names && i < 8; i++) fprintf(out, "%s%s", i ? ", " : "", ds->feature_names[i]);
        if (ds->n_feature_names > 8) fprintf(out, ", ... (%d in all)", ds->n_feature_names);
        fprintf(out, "\n");
    }
    if (ds->has_split)
        fprintf(out, "  splits        train %lld, val %lld, test %lld\n", (long long)r->split_counts[0],
                (long long)r->split_counts[1], (long long)r->split_counts[2]);
    if (ds->has_y) print_classes(out, r);
    else fprintf(out, "  classes       no /y (data.stratify names the class target to stratify on, if any)\n");
    st_inspect_targets_print(out, r);
    st_inspect_lengths_print(out, r);
    fprintf(out, "  NaN / Inf     %lld / %lld in /X\n", (long long)r->n_nan, (long long)r->n_inf);
    char ranks[96];
    ranks_text(&r->phase, ranks, sizeof ranks);
    fprintf(out, "  phase         %d (%s): %s\n", r->phase.phase, r->phase.range, ranks);
    fprintf(out, "  why           %s\n", r->phase.reason);
    for (int i = 0; i < r->n_warnings; i++) fprintf(out, "  warning: %s\n", r->warnings[i]);
    if (r->n_problems == 0) fprintf(out, "  problems      none: ready to train\n");
    for (int i = 0; i < r->n_problems; i++) fprintf(out, "  problem: %s\n", r->problems[i]);
}

char *st_inspect_json(const st_inspect_t *r) {
    const st_dataset_t *ds = &r->ds;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "path", ds->path);
    cJSON_AddStringToObject(j, "source", ds->source);
    cJSON_AddNumberToObject(j, "format_version", ds->format_version);
    cJSON_AddNumberToObject(j, "n", (double)ds->n);
    cJSON *shape = cJSON_AddArrayToObject(j, "shape");
    for (int i = 0; i < ds->shape.rank; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(ds->shape.d[i]));
    if (ds->n_feature_names > 0) {
        cJSON *fn = cJSON_AddArrayToObject(j, "feature_names");
        for (int i = 0; i < ds->n_feature_names; i++) cJSON_AddItemToArray(fn, cJSON_CreateString(ds->feature_names[i]));
    }
    cJSON_AddNumberToObject(j, "n_classes", ds->n_classes);
    cJSON *classes = cJSON_AddArrayToObject(j, "classes");
    int64_t valid = ds->n - r->n_bad_labels;
    for (int c = 0; c < ds->n_classes; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", c);
        cJSON_AddStringToObject(o, "name", ds->class_names[c]);
        cJSON_AddNumberToObject(o, "count", (double)r->class_counts[c]);
        cJSON_AddNumberToObject(o, "share", valid > 0 ? (double)r->class_counts[c] / (double)valid : 0.0);
        if (ds->has_split)
            for (int s = 0; s < 3; s++) cJSON_AddNumberToObject(o, split_names[s], (double)r->class_split_counts[c * 3 + s]);
        cJSON_AddItemToArray(classes, o);
    }
    if (ds->has_split) {
        cJSON *s = cJSON_AddObjectToObject(j, "splits");
        for (int i = 0; i < 3; i++) cJSON_AddNumberToObject(s, split_names[i], (double)r->split_counts[i]);
    } else {
        cJSON_AddNullToObject(j, "splits");
    }
    /* JSON has no infinity: an empty class gives null. */
    if (isfinite(r->imbalance)) cJSON_AddNumberToObject(j, "imbalance", r->imbalance);
    else cJSON_AddNullToObject(j, "imbalance");
    /* Per part: null when the part is empty, has no row of a class, or the file has no /split. */
    cJSON *si = cJSON_AddObjectToObject(j, "split_imbalance");
    for (int s = 0; s < 3; s++)
        if (isfinite(r->split_imbalance[s])) cJSON_AddNumberToObject(si, split_names[s], r->split_imbalance[s]);
        else cJSON_AddNullToObject(si, split_names[s]);
    if (isfinite(r->train_imbalance)) cJSON_AddNumberToObject(j, "train_imbalance", r->train_imbalance);
    else cJSON_AddNullToObject(j, "train_imbalance");
    cJSON_AddBoolToObject(j, "has_y", ds->has_y);
    st_inspect_targets_json(j, r);
    st_inspect_lengths_json(j, r);
    cJSON_AddNumberToObject(j, "bad_labels", (double)r->n_bad_labels);
    cJSON_AddNumberToObject(j, "nan", (double)r->n_nan);
    cJSON_AddNumberToObject(j, "inf", (double)r->n_inf);
    cJSON *ph = cJSON_AddObjectToObject(j, "phase");
    cJSON_AddNumberToObject(ph, "phase", r->phase.phase);
    cJSON_AddStringToObject(ph, "range", r->phase.range);
    cJSON_AddNumberToObject(ph, "ranks_min", r->phase.ranks_min);
    cJSON_AddNumberToObject(ph, "ranks_max", r->phase.ranks_max);
    cJSON_AddNumberToObject(ph, "nodes_min", r->phase.nodes_min);
    if (r->phase.nodes_max > 0) cJSON_AddNumberToObject(ph, "nodes_max", r->phase.nodes_max);
    else cJSON_AddNullToObject(ph, "nodes_max");
    cJSON_AddStringToObject(ph, "reason", r->phase.reason);
    cJSON *pr = cJSON_AddArrayToObject(j, "problems");
    for (int i = 0; i < r->n_problems; i++) cJSON_AddItemToArray(pr, cJSON_CreateString(r->problems[i]));
    cJSON *wa = cJSON_AddArrayToObject(j, "warnings");
    for (int i = 0; i < r->n_warnings; i++) cJSON_AddItemToArray(wa, cJSON_CreateString(r->warnings[i]));
    cJSON_AddBoolToObject(j, "ok", r->n_problems == 0);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}
