/* fingerprint.c — see fingerprint.h. */
#include "fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

st_status_t st_dataset_fingerprint(const st_dataset_t *ds, char out[17], st_error_t *err) {
    int32_t *y = malloc(sizeof(int32_t) * (size_t)(ds->n ? ds->n : 1));
    uint8_t *split = calloc((size_t)(ds->n ? ds->n : 1), 1);
    if (!y || !split) {
        free(y), free(split);
        return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate labels for the fingerprint", ds->path);
    }
    st_status_t rc = st_dataset_read_labels(ds, y, ds->has_split ? split : NULL, err);
    if (rc == ST_OK) {
        uint64_t h = ST_FNV1A64_STRATA_BASIS;
        int64_t dims[4] = {ds->n, ds->shape.rank, ds->shape.d[0], ds->shape.d[1]};
        h = st_fnv1a64(h, dims, sizeof dims);
        h = st_fnv1a64(h, &ds->n_classes, sizeof ds->n_classes);
        for (int k = 0; k < ds->n_classes; k++)
            h = st_fnv1a64(h, ds->class_names[k], strlen(ds->class_names[k]) + 1);
        h = st_fnv1a64(h, y, sizeof(int32_t) * (size_t)ds->n);
        if (ds->has_split) h = st_fnv1a64(h, split, (size_t)ds->n);
        snprintf(out, 17, "%016llx", (unsigned long long)h);
    }
    free(y), free(split);
    return rc;
}
