/* predict_input.c — the rows `strata predict` reads (see predict_internal.h): a strata HDF5
 * dataset read block by block (independent reads, /lengths honoured), or a CSV file mapped into
 * memory and parsed record by record (a file with /X and no /y or /targets is read too: features
 * only), its columns matched BY NAME to the checkpoint's feature
 * names (any order; missing and extra columns are errors listing them). Every value must be
 * finite: a NaN or infinity is an error naming the row (and the column of a CSV). */
#include "jobs/predict_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sharding/batch.h" /* st_data_zero_padding */
#include "sharding/h5guard.h"
#include "sharding/h5util.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static st_status_t map_file(st_pred_src_t *s, st_error_t *err) {
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", s->path, strerror(errno));
    struct stat st;
    st_status_t rc = fstat(fd, &st) == 0 ? ST_OK : st_fail(err, ST_ERR_IO, "%s: cannot stat", s->path);
    s->size = rc == ST_OK ? (size_t)st.st_size : 0;
    if (rc == ST_OK && s->size == 0) rc = st_fail(err, ST_ERR_DATA, "%s: empty file (a header row is needed)", s->path);
    if (rc == ST_OK) {
        void *p = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) rc = st_fail(err, ST_ERR_IO, "%s: cannot map: %s", s->path, strerror(errno));
        else s->text = p;
    }
    close(fd);
    return rc;
}

/* Appends ", name" (or "name" first) to a list, cut short past its size. */
static void list_add(char *list, size_t size, const char *name) {
    size_t at = strlen(list);
    if (at + 8 >= size) return;
    snprintf(list + at, size - at, "%s%s", at ? ", " : "", name);
}

/* The header: every column a feature of ck, every feature a column. */
static st_status_t match_header(st_pred_src_t *s, const st_ckpt_t *ck, st_error_t *err) {
    long line = 0;
    int r = st_csv_rec_next(&s->rec, &line, err);
    if (r < 0) return ST_ERR_DATA;
    if (r == 0) return st_fail(err, ST_ERR_DATA, "%s: no header row", s->path);
    int D = ck->n_feature_names;
    s->n_cols = s->rec.n_fields;
    s->col_feature = malloc(sizeof(int) * (size_t)s->n_cols);
    int *seen = calloc((size_t)D, sizeof(int));
    if (!s->col_feature || !seen) return free(seen), st_fail(err, ST_ERR_NOMEM, "%s: header", s->path);
    char extra[1024] = "", missing[1024] = "";
    st_status_t rc = ST_OK;
    for (int j = 0; j < s->n_cols; j++) {
        const char *name = st_csv_trim(st_csv_rec_field(&s->rec, j));
        int f = -1;
        for (int k = 0; k < D && f < 0; k++)
            if (strcmp(ck->feature_names[k], name) == 0) f = k;
        s->col_feature[j] = f;
        if (f < 0) list_add(extra, sizeof extra, name);
        else if (seen[f]++ && rc == ST_OK) rc = st_fail(err, ST_ERR_DATA, "%s: column \"%s\" appears twice", s->path, name);
    }
    for (int k = 0; k < D; k++)
        if (!seen[k]) list_add(missing, sizeof missing, ck->feature_names[k]);
    free(seen);
    if (rc == ST_OK && (missing[0] || extra[0]))
        rc = st_fail(err, ST_ERR_DATA, "%s: the columns do not match the %d features the model of %s was trained on:%s%s%s%s%s",
                     s->path, D, ck->path, missing[0] ? " missing " : "", missing, missing[0] && extra[0] ? ";" : "",
                     extra[0] ? " not features: " : "", extra);
    return rc;
}

static st_status_t open_csv(st_pred_src_t *s, const st_ckpt_t *ck, st_error_t *err) {
    if (ck->n_feature_names < 1)
        return st_fail(err, ST_ERR_DATA, "%s has no feature names (written before they were recorded, or trained on a "
                       "dataset without feature_names), so the columns of %s cannot be matched by name: convert the CSV "
                       "with strata convert csv and predict on the HDF5 file", ck->path, s->path);
    s->is_csv = 1;
    s->feature_names = (const char *const *)ck->feature_names;
    s->shape = st_shape1(ck->n_feature_names);
    ST_TRY(map_file(s, err));
    st_csv_rec_init(&s->rec, s->path, s->text, s->size);
    return match_header(s, ck, err);
}

/* 1 when path is an HDF5 file with /X but neither /y nor /targets (features only); its rows,
 * shape and /lengths go into s->ds by hand (the dataset reader requires a target). */
static int features_only(st_pred_src_t *s, const char *path) {
    st_h5_quiet();
    st_h5_guard_enter(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return st_h5_guard_leave(), 0;
    int only = H5Lexists(f, "/X", H5P_DEFAULT) > 0 && H5Lexists(f, "/y", H5P_DEFAULT) <= 0 &&
               H5Lexists(f, "/targets", H5P_DEFAULT) <= 0;
    hid_t d = only ? H5Dopen2(f, "/X", H5P_DEFAULT) : -1, sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[3] = {0};
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    only = only && (nd == 2 || nd == 3) && H5Sget_simple_extent_dims(sp, dims, NULL) == nd && dims[0] > 0 &&
           dims[1] <= INT32_MAX && dims[2] <= INT32_MAX;
    if (only) {
        snprintf(s->ds.path, sizeof s->ds.path, "%s", path);
        s->ds.n = (int64_t)dims[0];
        s->ds.shape = nd == 2 ? st_shape1((int)dims[1]) : st_shape2((int)dims[1], (int)dims[2]);
        s->ds.has_lengths = nd == 3 && H5Lexists(f, "/lengths", H5P_DEFAULT) > 0;
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    st_h5_guard_leave();
    return only;
}

/* An HDF5 file's columns are taken by position: when both it and the checkpoint name them, the
 * names must be the same, in the same order. */
static st_status_t same_names(const st_pred_src_t *s, const st_ckpt_t *ck, st_error_t *err) {
    int n = s->ds.n_feature_names;
    if (n == 0 || ck->n_feature_names == 0 || n != ck->n_feature_names) return ST_OK; /* other counts: the model check */
    for (int k = 0; k < n; k++)
        if (strcmp(s->ds.feature_names[k], ck->feature_names[k]) != 0)
            return st_fail(err, ST_ERR_DATA, "%s: feature %d is \"%s\" but the model of %s was trained with \"%s\" there "
                           "(HDF5 features are taken by position: reorder /X, or predict on a CSV, matched by name)",
                           s->path, k, s->ds.feature_names[k], ck->path, ck->feature_names[k]);
    return ST_OK;
}

st_status_t st_pred_src_open(st_pred_src_t *s, const char *path, const st_ckpt_t *ck, st_error_t *err) {
    memset(s, 0, sizeof *s);
    s->path = path;
    if (ends_with(path, ".csv")) return open_csv(s, ck, err);
    st_status_t rc = st_dataset_open(path, &s->ds, err); /* checks the file first */
    if (rc == ST_OK) rc = same_names(s, ck, err);
    if (rc != ST_OK) {
        st_dataset_close(&s->ds);
        memset(&s->ds, 0, sizeof s->ds);
        if (rc != ST_ERR_DATA || !features_only(s, path)) return rc; /* not /X alone either: the reader's message */
    }
    s->shape = s->ds.shape, s->has_lengths = s->ds.has_lengths;
    return ST_OK;
}

/* One CSV record into row x [D]: every field a finite number. */
static st_status_t parse_record(st_pred_src_t *s, float *x, int64_t row, long line, st_error_t *err) {
    if (s->rec.n_fields != s->n_cols)
        return st_fail(err, ST_ERR_DATA, "%s line %ld (row %lld): %d fields, the header has %d", s->path, line,
                       (long long)row, s->rec.n_fields, s->n_cols);
    for (int j = 0; j < s->n_cols; j++) {
        char *cell = st_csv_trim(st_csv_rec_field(&s->rec, j)), *end = NULL;
        float v = strtof(cell, &end);
        const char *col = s->feature_names[s->col_feature[j]];
        if (!cell[0] || *end)
            return st_fail(err, ST_ERR_DATA, "%s line %ld (row %lld): column %s is not a number: \"%.40s\"", s->path,
                           line, (long long)row, col, cell);
        if (!isfinite(v))
            return st_fail(err, ST_ERR_DATA, "%s line %ld (row %lld): column %s is %s (every feature must be finite)",
                           s->path, line, (long long)row, col, cell);
        x[s->col_feature[j]] = v;
    }
    return ST_OK;
}

static st_status_t read_csv(st_pred_src_t *s, int64_t row0, int n, float *X, int *got, st_error_t *err) {
    long D = st_shape_numel(s->shape), line = 0;
    *got = 0;
    while (!s->at_end && s->next_row < row0 + n) {
        int r = st_csv_rec_next(&s->rec, &line, err);
        if (r < 0) return ST_ERR_DATA;
        if (r == 0) {
            s->at_end = 1;
            break;
        }
        int64_t row = s->next_row++;
        if (row < row0) continue; /* another rank's rows */
        ST_TRY(parse_record(s, X + (size_t)(*got) * (size_t)D, row, line, err));
        ++*got;
    }
    return ST_OK;
}

/* The first non-finite value among the valid steps of rows X [n, T, C] (len may be NULL). */
static st_status_t check_finite(const st_pred_src_t *s, const float *X, const int32_t *len, int64_t row0, int n,
                                st_error_t *err) {
    long rf = st_shape_numel(s->shape);
    int C = st_shape_channels(s->shape);
    for (int i = 0; i < n; i++) {
        long valid = len ? (long)len[i] * C : rf;
        for (long k = 0; k < valid; k++)
            if (!isfinite(X[(size_t)i * (size_t)rf + (size_t)k]))
                return st_fail(err, ST_ERR_DATA, "%s: row %lld of /X holds %s at value %ld (every feature must be finite)",
                               s->path, (long long)(row0 + i), isnan(X[(size_t)i * (size_t)rf + (size_t)k]) ? "NaN"
                               : "an infinity", k);
    }
    return ST_OK;
}

st_status_t st_pred_src_read(st_pred_src_t *s, int64_t row0, int n, float *X, int32_t *len, int *got, st_error_t *err) {
    if (s->is_csv) return read_csv(s, row0, n, X, got, err);
    int64_t left = s->ds.n - row0;
    *got = left <= 0 ? 0 : left < n ? (int)left : n;
    if (*got == 0) return ST_OK;
    ST_TRY(st_dataset_read_rows(&s->ds, row0, *got, X, MPI_COMM_NULL, err));
    if (s->has_lengths) {
        ST_TRY(st_dataset_read_lengths(&s->ds, row0, *got, len, MPI_COMM_NULL, err));
        st_data_zero_padding(X, len, *got, st_shape_numel(s->shape), st_shape_channels(s->shape));
    }
    return check_finite(s, X, s->has_lengths ? len : NULL, row0, *got, err);
}

void st_pred_src_close(st_pred_src_t *s) {
    if (s->is_csv) st_csv_rec_free(&s->rec);
    else st_dataset_close(&s->ds);
    if (s->text) munmap(s->text, s->size);
    free(s->col_feature);
    memset(s, 0, sizeof *s);
}
