/* dataset_lengths.c — the sequence lengths of a strata dataset (docs/data-format.md, "Variable
 * lengths"): /lengths int32 [N] next to /X [N, T, C], row i's valid steps being 0..lengths[i]-1.
 * Checked at open (type, shape, /X a sequence), read by row blocks like /X (values checked: each
 * an integer in [1, T], the error naming the file and the row) and written by st_dataset_write
 * (format 3, so an older strata refuses the file instead of training on its padding). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "dataset_internal.h"

/* Lengths are moved as float (the loader's rows are floats): exact up to 2^24. */
#define ST_LENGTHS_T_MAX (1 << 24)

st_status_t st_ds_read_lengths_metadata(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err) {
    if (H5Lexists(f, "/lengths", H5P_DEFAULT) <= 0) return ST_OK;
    int nd = 0;
    hsize_t dims[4] = {0};
    ST_TRY(st_ds_check_dataset(f, path, "/lengths", H5T_INTEGER, 0, &nd, dims, err));
    if (ds->shape.rank != 2)
        return st_fail(err, ST_ERR_DATA, "%s: has /lengths but /X is [N, D] = [%lld, %d]; lengths need sequences, "
                       "/X [N, T, C]", path, (long long)ds->n, ds->shape.d[0]);
    if (nd != 1 || (int64_t)dims[0] != ds->n)
        return st_fail(err, ST_ERR_DATA, "%s: /lengths must have shape [N] = [%lld]%s", path, (long long)ds->n,
                       nd == 1 ? "" : " (it has more than one dimension)");
    if (ds->shape.d[0] > ST_LENGTHS_T_MAX)
        return st_fail(err, ST_ERR_DATA, "%s: /X has T = %d steps; with /lengths at most %d are supported", path,
                       ds->shape.d[0], ST_LENGTHS_T_MAX);
    ds->has_lengths = 1;
    return ST_OK;
}

int64_t st_lengths_first_bad(const int32_t *len, int64_t n, int T) {
    for (int64_t i = 0; i < n; i++)
        if (len[i] < 1 || len[i] > T) return i;
    return -1;
}

st_status_t st_dataset_read_lengths(const st_dataset_t *ds, int64_t row0, int64_t n_rows, int32_t *out, MPI_Comm comm,
                                    st_error_t *err) {
    if (!ds->has_lengths) return st_fail(err, ST_ERR_INTERNAL, "%s: has no /lengths", ds->path);
    float *v = malloc((size_t)(n_rows > 0 ? n_rows : 1) * sizeof *v);
    st_status_t rc = v ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading /lengths", ds->path);
    /* A failed allocation still enters the collective read, with no rows, so no rank waits. */
    if (comm != MPI_COMM_NULL || rc == ST_OK) {
        float none = 0;
        st_status_t r = st_ds_read_rows_float(ds, "/lengths", 1, row0, v ? n_rows : 0, v ? v : &none, comm, err);
        if (rc == ST_OK) rc = r;
    }
    int T = ds->shape.d[0];
    for (int64_t i = 0; rc == ST_OK && i < n_rows; i++) {
        float x = v[i];
        if (!(x >= 1 && x <= (float)T && x == floorf(x)))
            rc = st_fail(err, ST_ERR_DATA, "%s: /lengths[%lld] = %g is outside 1..%d (T of /X [N, T, C])", ds->path,
                         (long long)(row0 + i), (double)x, T);
        else
            out[i] = (int32_t)x;
    }
    free(v);
    return rc;
}

st_status_t st_ds_check_lengths_spec(const char *path, const st_dataset_spec_t *s, st_error_t *err) {
    if (!s->lengths) return ST_OK;
    if (s->shape.rank != 2)
        return st_fail(err, ST_ERR_DATA, "%s: lengths given for samples of shape [D]; they need [T, C]", path);
    int64_t bad = st_lengths_first_bad(s->lengths, s->n, s->shape.d[0]);
    if (bad >= 0)
        return st_fail(err, ST_ERR_DATA, "%s: lengths[%lld] = %d is outside 1..%d (T)", path, (long long)bad,
                       (int)s->lengths[bad], s->shape.d[0]);
    return ST_OK;
}

const char *st_ds_write_lengths(hid_t f, const st_dataset_spec_t *s) {
    if (!s->lengths) return NULL;
    return st_ds_write_1d(f, "/lengths", H5T_STD_I32LE, H5T_NATIVE_INT32, s->n, s->lengths) ? NULL
                                                                                            : "cannot write /lengths";
}
