/* fingerprint.c — see fingerprint.h. */
#include "fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

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

/* /lengths, when the file has one: a file without lengths keeps the fingerprint it always had. */
static st_status_t hash_lengths(const st_dataset_t *ds, uint64_t *h, st_error_t *err) {
    if (!ds->has_lengths) return ST_OK;
    int32_t *len = malloc(sizeof(int32_t) * (size_t)ds->n);
    if (!len) return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate /lengths for the fingerprint", ds->path);
    st_status_t rc = st_dataset_read_lengths(ds, 0, ds->n, len, MPI_COMM_NULL, err);
    if (rc == ST_OK) {
        *h = st_fnv1a64(*h, "/lengths", sizeof "/lengths");
        *h = st_fnv1a64(*h, len, sizeof(int32_t) * (size_t)ds->n);
    }
    free(len);
    return rc;
}

st_status_t st_dataset_fingerprint(const st_dataset_t *ds, char out[17], st_error_t *err) {
    int32_t *y = malloc(sizeof(int32_t) * (size_t)(ds->n ? ds->n : 1));
    uint8_t *split = calloc((size_t)(ds->n ? ds->n : 1), 1);
    if (!y || !split) {
        free(y), free(split);
        return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate labels for the fingerprint", ds->path);
    }
    st_status_t rc = ds->has_y ? st_dataset_read_labels(ds, y, ds->has_split ? split : NULL, err) : ST_OK;
    if (rc == ST_OK && !ds->has_y) memset(y, 0, sizeof(int32_t) * (size_t)ds->n);
    if (rc == ST_OK && !ds->has_y && ds->has_split) rc = st_dataset_read_split(ds, split, err);
    if (rc == ST_OK) {
        uint64_t h = ST_FNV1A64_STRATA_BASIS;
        int64_t dims[4] = {ds->n, ds->shape.rank, ds->shape.d[0], ds->shape.d[1]};
        h = st_fnv1a64(h, dims, sizeof dims);
        h = st_fnv1a64(h, &ds->n_classes, sizeof ds->n_classes);
        for (int k = 0; k < ds->n_classes; k++)
            h = st_fnv1a64(h, ds->class_names[k], strlen(ds->class_names[k]) + 1);
        h = st_fnv1a64(h, y, sizeof(int32_t) * (size_t)ds->n);
        if (ds->has_split) h = st_fnv1a64(h, split, (size_t)ds->n);
        rc = hash_targets(ds, &h, err);
        if (rc == ST_OK) rc = hash_lengths(ds, &h, err);
        snprintf(out, 17, "%016llx", (unsigned long long)h);
    }
    free(y), free(split);
    return rc;
}
