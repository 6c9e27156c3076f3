/* fingerprint.c — see fingerprint.h. Every per-row dataset is hashed in blocks (labels, split,
 * lengths: 1M rows; targets: ~4 MiB), so the fingerprint of a file of any size takes a constant
 * memory (a streamed run's start-up computes it next to its bookkeeping). */
#include "fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "sharding/dataset_internal.h"
#include "sharding/h5guard.h"
#include "sharding/h5util.h"

#define FP_BLOCK ((int64_t)1 << 20) /* rows of /y, /split and /lengths hashed at a time */

/* Format 2: every /targets dataset (name, kind, width, values) and /groups. A format-1 file's
 * only target is /y, already hashed: its fingerprint is what it always was. */
static st_status_t hash_targets(const st_dataset_t *ds, uint64_t *h, st_error_t *err) {
    for (int t = 0; t < ds->n_targets; t++) {
        const st_target_info_t *ti = &ds->targets[t];
        if (strcmp(ti->h5path, "/y") == 0) continue;
        int meta[3] = {(int)ti->kind, ti->width, ti->n_classes};
        *h = st_fnv1a64(*h, ti->name, strlen(ti->name) + 1);
        *h = st_fnv1a64(*h, meta, sizeof meta);
        /* in blocks of about 4 MiB: memory stays constant for any N and width */
        int64_t block = (int64_t)((4u << 20) / (sizeof(float) * (size_t)ti->width)) + 1;
        float *v = malloc(sizeof(float) * (size_t)block * (size_t)ti->width);
        if (!v) return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %s for the fingerprint", ds->path, ti->h5path);
        st_status_t rc = ST_OK;
        for (int64_t r = 0; rc == ST_OK && r < ds->n; r += block) {
            int64_t n = ds->n - r < block ? ds->n - r : block;
            rc = st_dataset_read_target_rows(ds, t, r, n, v, MPI_COMM_NULL, err);
            if (rc == ST_OK) *h = st_fnv1a64(*h, v, sizeof(float) * (size_t)n * (size_t)ti->width);
        }
        free(v);
        ST_TRY(rc);
    }
    if (!ds->has_groups) return ST_OK;
    int64_t *g = malloc(sizeof(int64_t) * (size_t)ds->n);
    if (!g) return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate /groups for the fingerprint", ds->path);
    st_status_t rc = st_dataset_read_groups(ds, g, err);
    if (rc == ST_OK) *h = st_fnv1a64(*h, g, sizeof(int64_t) * (size_t)ds->n);
    free(g);
    return rc;
}

/* /lengths, when the file has one: a file without lengths keeps the fingerprint it always had.
 * Hashed in blocks of FP_BLOCK rows (FNV-1a runs over the bytes in order: the same hash). */
static st_status_t hash_lengths(const st_dataset_t *ds, uint64_t *h, st_error_t *err) {
    if (!ds->has_lengths) return ST_OK;
    int32_t *len = malloc(sizeof(int32_t) * FP_BLOCK);
    if (!len) return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate /lengths for the fingerprint", ds->path);
    *h = st_fnv1a64(*h, "/lengths", sizeof "/lengths");
    st_status_t rc = ST_OK;
    for (int64_t r = 0; rc == ST_OK && r < ds->n; r += FP_BLOCK) {
        int64_t n = ds->n - r < FP_BLOCK ? ds->n - r : FP_BLOCK;
        rc = st_dataset_read_lengths(ds, r, n, len, MPI_COMM_NULL, err);
        if (rc == ST_OK) *h = st_fnv1a64(*h, len, sizeof(int32_t) * (size_t)n);
    }
    free(len);
    return rc;
}

/* Rows [r0, r0 + n) of the 1-d integer dataset `name` of the open file f as int64 into v [n]. */
static st_status_t read_1d_rows(hid_t f, const char *path, const char *name, int64_t r0, int64_t n, int64_t *v,
                                st_error_t *err) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return st_h5_fail(err, ST_ERR_DATA, path, "cannot open a dataset");
    hid_t fs = H5Dget_space(d);
    hsize_t start[1] = {(hsize_t)r0}, count[1] = {(hsize_t)n};
    hid_t ms = H5Screate_simple(1, count, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0) r = H5Dread(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, v);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
    if (r < 0) {
        char what[96];
        st_format(what, sizeof what, "cannot read %s", name);
        return st_h5_fail(err, ST_ERR_IO, path, what);
    }
    return ST_OK;
}

/* /y as int32 (every value checked in 0..n_classes-1, zeros without /y), then /split as uint8
 * (checked in 0..2), hashed FP_BLOCK rows at a time with the messages and bytes of the
 * whole-array reads they replace (st_dataset_read_labels, st_dataset_read_split): the hash needs
 * 16 bytes a block row, not 17 bytes a row of the file. */
static st_status_t hash_labels(const st_dataset_t *ds, hid_t f, uint64_t *h, st_error_t *err) {
    int64_t *v = malloc(sizeof(int64_t) * FP_BLOCK);
    int32_t *y = malloc(sizeof(int32_t) * FP_BLOCK);
    st_status_t rc = v && y ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate labels for the fingerprint",
                                              ds->path);
    for (int64_t r = 0; rc == ST_OK && r < ds->n; r += FP_BLOCK) {
        int64_t n = ds->n - r < FP_BLOCK ? ds->n - r : FP_BLOCK;
        if (ds->has_y) rc = read_1d_rows(f, ds->path, "/y", r, n, v, err);
        for (int64_t i = 0; rc == ST_OK && i < n; i++) {
            if (ds->has_y && (v[i] < 0 || v[i] >= ds->n_classes))
                rc = st_fail(err, ST_ERR_DATA, "%s: /y[%lld] = %lld is outside 0..%d", ds->path, (long long)(r + i),
                             (long long)v[i], ds->n_classes - 1);
            y[i] = ds->has_y ? (int32_t)v[i] : 0;
        }
        if (rc == ST_OK) *h = st_fnv1a64(*h, y, sizeof(int32_t) * (size_t)n);
    }
    uint8_t *split = (uint8_t *)y;
    for (int64_t r = 0; rc == ST_OK && ds->has_split && r < ds->n; r += FP_BLOCK) {
        int64_t n = ds->n - r < FP_BLOCK ? ds->n - r : FP_BLOCK;
        rc = read_1d_rows(f, ds->path, "/split", r, n, v, err);
        for (int64_t i = 0; rc == ST_OK && i < n; i++) {
            if (v[i] < 0 || v[i] > 2)
                rc = st_fail(err, ST_ERR_DATA, "%s: /split[%lld] = %lld is not 0 (train), 1 (val) or 2 (test)",
                             ds->path, (long long)(r + i), (long long)v[i]);
            split[i] = (uint8_t)v[i];
        }
        if (rc == ST_OK) *h = st_fnv1a64(*h, split, (size_t)n);
    }
    free(v), free(y);
    return rc;
}

st_status_t st_dataset_fingerprint(const st_dataset_t *ds, char out[17], st_error_t *err) {
    uint64_t h = ST_FNV1A64_STRATA_BASIS;
    int64_t dims[4] = {ds->n, ds->shape.rank, ds->shape.d[0], ds->shape.d[1]};
    h = st_fnv1a64(h, dims, sizeof dims);
    h = st_fnv1a64(h, &ds->n_classes, sizeof ds->n_classes);
    for (int k = 0; k < ds->n_classes; k++) h = st_fnv1a64(h, ds->class_names[k], strlen(ds->class_names[k]) + 1);
    hid_t f = -1;
    st_h5_guard_enter(ds->path);
    st_h5_quiet();
    st_status_t rc = st_ds_open_file(ds->path, H5P_DEFAULT, &f, err);
    if (rc == ST_OK) rc = hash_labels(ds, f, &h, err), H5Fclose(f);
    st_h5_guard_leave();
    if (rc == ST_OK) rc = hash_targets(ds, &h, err);
    if (rc == ST_OK) rc = hash_lengths(ds, &h, err);
    if (rc == ST_OK) snprintf(out, 17, "%016llx", (unsigned long long)h);
    return rc;
}
