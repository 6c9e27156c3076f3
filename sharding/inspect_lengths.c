/* inspect_lengths.c — the part of `strata inspect` about sequence lengths (/lengths, issue 14):
 * min / median / max of the lengths, the share of /X that is padding, and the lengths training
 * would refuse (outside [1, T]); and each row's valid values, so the NaN/Inf scan of /X skips
 * padding (training sets it to 0). /lengths is read in blocks; the median comes from a histogram
 * of the T possible lengths, so memory is O(T) for any N. */
#include "inspect.h"

#include <math.h>
#include <stdlib.h>

#include <cJSON.h>

#include "dataset_internal.h"

#define LEN_BLOCK_ROWS ((int64_t)1 << 20)

/* The length of rank k (0-based) among the valid ones, from the histogram hist [T + 1]. */
static int64_t kth_length(const int64_t *hist, int T, int64_t k) {
    for (int t = 1; t <= T; t++)
        if ((k -= hist[t]) < 0) return t;
    return T;
}

st_status_t st_inspect_lengths(st_inspect_t *r, st_error_t *err) {
    const st_dataset_t *ds = &r->ds;
    r->first_bad_length_row = -1;
    if (!ds->has_lengths) return ST_OK;
    int T = ds->shape.d[0];
    int64_t block = ds->n < LEN_BLOCK_ROWS ? ds->n : LEN_BLOCK_ROWS, n_valid = 0;
    float *v = st_alloc((size_t)block * sizeof(float), "a block of /lengths", err);
    int64_t *hist = v ? calloc((size_t)T + 1, sizeof *hist) : NULL;
    if (!hist) return st_free(v), st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the lengths' histogram", ds->path);
    double steps = 0;
    st_status_t rc = ST_OK;
    for (int64_t row0 = 0; rc == ST_OK && row0 < ds->n; row0 += block) {
        int64_t n = ds->n - row0 < block ? ds->n - row0 : block;
        rc = st_ds_read_rows_float(ds, "/lengths", 1, row0, n, v, MPI_COMM_NULL, err);
        for (int64_t i = 0; rc == ST_OK && i < n; i++) {
            if (!(v[i] >= 1 && v[i] <= (float)T && v[i] == floorf(v[i]))) {
                if (r->n_bad_lengths++ == 0) r->first_bad_length_row = row0 + i, r->first_bad_length = v[i];
                continue;
            }
            hist[(int)v[i]]++, n_valid++, steps += v[i];
        }
    }
    if (rc == ST_OK && n_valid > 0) {
        r->len_min = kth_length(hist, T, 0), r->len_max = kth_length(hist, T, n_valid - 1);
        r->len_median = n_valid % 2 ? (double)kth_length(hist, T, n_valid / 2)
                                    : 0.5 * (double)(kth_length(hist, T, n_valid / 2 - 1) + kth_length(hist, T, n_valid / 2));
        r->pad_fraction = 1.0 - steps / ((double)n_valid * T);
    }
    st_free(v), free(hist);
    return rc;
}

st_status_t st_inspect_valid_floats(long *valid, float *scratch, const st_dataset_t *ds, int64_t row0, int64_t n_rows,
                                    st_error_t *err) {
    long row_floats = st_shape_numel(ds->shape);
    for (int64_t i = 0; i < n_rows; i++) valid[i] = row_floats;
    if (!ds->has_lengths) return ST_OK;
    ST_TRY(st_ds_read_rows_float(ds, "/lengths", 1, row0, n_rows, scratch, MPI_COMM_NULL, err));
    int T = ds->shape.d[0], C = ds->shape.d[1];
    for (int64_t i = 0; i < n_rows; i++)
        if (scratch[i] >= 1 && scratch[i] <= (float)T && scratch[i] == floorf(scratch[i])) valid[i] = (long)scratch[i] * C;
    return ST_OK;
}

void st_inspect_lengths_print(FILE *out, const st_inspect_t *r) {
    if (!r->ds.has_lengths) return;
    fprintf(out, "  lengths       min %lld, median %g, max %lld of T = %d; padding %.1f%% of /X\n", (long long)r->len_min,
            r->len_median, (long long)r->len_max, r->ds.shape.d[0], 100.0 * r->pad_fraction);
    if (r->n_bad_lengths) fprintf(out, "                %lld outside 1..%d\n", (long long)r->n_bad_lengths, r->ds.shape.d[0]);
}

void st_inspect_lengths_json(cJSON *j, const st_inspect_t *r) {
    if (!r->ds.has_lengths) {
        cJSON_AddNullToObject(j, "lengths");
        return;
    }
    cJSON *o = cJSON_AddObjectToObject(j, "lengths");
    cJSON_AddNumberToObject(o, "min", (double)r->len_min);
    cJSON_AddNumberToObject(o, "median", r->len_median);
    cJSON_AddNumberToObject(o, "max", (double)r->len_max);
    cJSON_AddNumberToObject(o, "T", r->ds.shape.d[0]);
    cJSON_AddNumberToObject(o, "pad_fraction", r->pad_fraction);
    cJSON_AddNumberToObject(o, "bad", (double)r->n_bad_lengths);
}
