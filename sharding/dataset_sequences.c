/* dataset_sequences.c — sequence targets (format 4, docs/data-format.md): label sequences for CTC.
 *
 *   /targets/<name>         int32 [N, L_max]: row i's labels in its first len_i entries, each in
 *                           [1, V) (0 is the CTC blank); entries past len_i are padding
 *   /target_lengths/<name>  int32 [N]: len_i in [0, L_max]
 *   attribute vocabulary    V strings on /targets/<name>; index 0 names the blank
 *
 * A reader sees a sequence target as a float row of width 1 + L_max: [len, y_0 .. y_{L_max−1}],
 * padding set to 0 whatever the file holds, so the loader, the shards and the batches carry it
 * like any other target (token ids up to 2^24 are exact in float32). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "dataset_internal.h"
#include "h5util.h"

/* Shape, vocabulary and lengths dataset of the sequence target t (d is its open dataset). */
st_status_t st_ds_read_sequence_metadata(hid_t f, hid_t d, const char *path, st_target_info_t *t, int nd,
                                         const hsize_t dims[4], st_error_t *err) {
    if (nd != 2 || dims[1] < 1 || dims[1] > 65535)
        return st_fail(err, ST_ERR_DATA, "%s: %s is a sequence target: it must be int32 [N, L_max] with L_max in 1..65535",
                       path, t->h5path);
    t->max_len = (int)dims[1];
    t->width = 1 + t->max_len;
    if (H5Aexists(d, "vocabulary") <= 0)
        return st_fail(err, ST_ERR_DATA, "%s: %s has no attribute vocabulary (its tokens; index 0 names the CTC blank)",
                       path, t->h5path);
    char **v = NULL;
    int n = 0;
    ST_TRY(st_ds_read_str_attr(d, path, "vocabulary", &v, &n, err));
    st_status_t rc = st_ds_check_utf8(v, n, path, "vocabulary", err);
    if (rc == ST_OK && (n < 2 || n > ST_MAX_CLASSES))
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has a vocabulary of %d tokens; expected 2..%d (the blank and at least one token)",
                     path, t->h5path, n, ST_MAX_CLASSES);
    if (rc == ST_OK && !(t->names = calloc((size_t)n, sizeof *t->names)))
        rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the vocabulary of %s", path, t->h5path);
    for (int i = 0; rc == ST_OK && i < n; i++) st_ds_copy_name(t->names[i], v[i]);
    st_ds_free_strs(v, n);
    ST_TRY(rc);
    t->n_classes = n;
    st_format(t->lengths_path, sizeof t->lengths_path, "/target_lengths/%s", t->name);
    if (H5Lexists(f, "/target_lengths", H5P_DEFAULT) <= 0 || H5Lexists(f, t->lengths_path, H5P_DEFAULT) <= 0)
        return st_fail(err, ST_ERR_DATA, "%s: the sequence target %s has no %s (int32 [N], each row's label count)", path,
                       t->h5path, t->lengths_path);
    int lnd = 0;
    hsize_t ldims[4] = {0};
    ST_TRY(st_ds_check_dataset(f, path, t->lengths_path, H5T_INTEGER, 0, &lnd, ldims, err));
    if (lnd != 1 || ldims[0] != dims[0])
        return st_fail(err, ST_ERR_DATA, "%s: %s must have shape [N] = [%llu]", path, t->lengths_path,
                       (unsigned long long)dims[0]);
    return ST_OK;
}

st_status_t st_ds_read_sequence_rows(const st_dataset_t *ds, const st_target_info_t *t, int64_t row0, int64_t n_rows,
                                     float *out, MPI_Comm comm, st_error_t *err) {
    int L = t->max_len;
    size_t n = (size_t)(n_rows > 0 ? n_rows : 1);
    float *tok = malloc(n * (size_t)L * sizeof *tok), *len = malloc(n * sizeof *len), none = 0;
    st_status_t rc = tok && len ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading %s", ds->path, t->h5path);
    int ok = rc == ST_OK;
    /* A failed allocation still enters both collective reads, with no rows, so no rank waits. */
    if (comm != MPI_COMM_NULL || ok) {
        st_status_t r = st_ds_read_rows_float(ds, t->h5path, L, row0, ok ? n_rows : 0, ok ? tok : &none, comm, err);
        if (rc == ST_OK) rc = r;
        r = st_ds_read_rows_float(ds, t->lengths_path, 1, row0, ok && rc == ST_OK ? n_rows : 0,
                                  ok && rc == ST_OK ? len : &none, comm, err);
        if (rc == ST_OK) rc = r;
    }
    for (int64_t i = 0; rc == ST_OK && i < n_rows; i++) {
        float *row = out + (size_t)i * (size_t)(L + 1);
        row[0] = len[i];
        /* an invalid length is left for st_target_first_bad, which names the row */
        int li = len[i] >= 0 && len[i] <= (float)L ? (int)len[i] : L;
        for (int j = 0; j < L; j++) row[1 + j] = j < li ? tok[(size_t)i * (size_t)L + (size_t)j] : 0.0f;
    }
    free(tok);
    free(len);
    return rc;
}

int64_t st_ds_sequence_first_bad(const st_target_info_t *t, const float *v, int64_t n, char *why, size_t why_size) {
    for (int64_t i = 0; i < n; i++) {
        const float *row = v + (size_t)i * (size_t)t->width;
        float len = row[0];
        if (!(len >= 0 && len <= (float)t->max_len && len == floorf(len))) {
            st_format(why, why_size, "sequence length %g is outside 0..%d", (double)len, t->max_len);
            return i;
        }
        for (int j = 0; j < (int)len; j++) {
            float x = row[1 + j];
            if (x >= 1 && x < (float)t->n_classes && x == floorf(x)) continue;
            st_format(why, why_size, "label %d of the sequence is %g; expected a token id in 1..%d (0 is the blank)", j,
                      (double)x, t->n_classes - 1);
            return i;
        }
    }
    return -1;
}

/* ---- writing ------------------------------------------------------------------------------ */

st_status_t st_ds_check_sequence_spec(const char *path, const st_target_spec_t *ts, int64_t n, st_error_t *err) {
    if (!ts->lengths || !ts->names || ts->width < 1 || ts->n_classes < 2 || ts->n_classes > ST_MAX_CLASSES)
        return st_fail(err, ST_ERR_DATA, "%s: sequence target %s needs lengths, a vocabulary of 2..%d tokens and L_max >= 1",
                       path, ts->name, ST_MAX_CLASSES);
    const int32_t *tok = ts->values;
    for (int64_t i = 0; i < n; i++) {
        int32_t len = ts->lengths[i];
        if (len < 0 || len > ts->width)
            return st_fail(err, ST_ERR_DATA, "%s: target %s row %lld: length %d is outside 0..%d", path, ts->name,
                           (long long)i, (int)len, ts->width);
        for (int j = 0; j < len; j++) {
            int32_t x = tok[(size_t)i * (size_t)ts->width + (size_t)j];
            if (x < 1 || x >= ts->n_classes)
                return st_fail(err, ST_ERR_DATA, "%s: target %s row %lld: label %d is %d, outside 1..%d (0 is the blank)",
                               path, ts->name, (long long)i, j, (int)x, ts->n_classes - 1);
        }
    }
    return ST_OK;
}

/* /target_lengths/<name> and the vocabulary attribute of a written sequence target d. */
const char *st_ds_write_sequence_extras(hid_t f, hid_t d, const st_target_spec_t *ts, int64_t n) {
    if (!st_h5_write_string_attr(d, "vocabulary", ts->names, ts->n_classes)) return "cannot write a vocabulary";
    if (H5Lexists(f, "/target_lengths", H5P_DEFAULT) <= 0) {
        hid_t g = H5Gcreate2(f, "/target_lengths", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0 || H5Gclose(g) < 0) return "cannot create /target_lengths";
    }
    char name[ST_NAME_MAX + 24];
    st_format(name, sizeof name, "/target_lengths/%s", ts->name);
    return st_ds_write_1d(f, name, H5T_STD_I32LE, H5T_NATIVE_INT32, n, ts->lengths) ? NULL
                                                                                    : "cannot write target lengths";
}

int st_ds_spec_has_sequences(const st_dataset_spec_t *s) {
    for (int t = 0; t < s->n_targets; t++)
        if (s->targets[t].kind == ST_TARGET_SEQUENCE) return 1;
    return 0;
}
