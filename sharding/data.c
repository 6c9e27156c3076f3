/* data.c — from a dataset file to a rank's standardised share of it (see data.h). */
#include "data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/collectives.h"
#include "sharding/loader.h"
#include "sharding/standardize.h"

static void *xcalloc(size_t n, size_t size, const char *what, st_error_t *err) {
    void *p = calloc(n ? n : 1, size);
    if (!p) st_fail(err, ST_ERR_NOMEM, "cannot allocate %zu bytes for %s", n * size, what);
    return p;
}

/* Labels and the split of every row; the split comes from the file's /split when it has one. */
static st_status_t split_rows(st_data_t *d, const st_data_config_t *cfg, int32_t **y_out, uint8_t **split_out,
                              st_error_t *err) {
    int64_t N = d->ds.n;
    int32_t *y = xcalloc((size_t)N, sizeof *y, "labels", err);
    uint8_t *split = y ? xcalloc((size_t)N, 1, "the split", err) : NULL;
    *y_out = y, *split_out = split;
    if (!split) return err->code;
    ST_TRY(st_dataset_read_labels(&d->ds, y, split, err));
    const char *names[4096];
    int n_names = d->n_classes < 4096 ? d->n_classes : 0;
    for (int k = 0; k < n_names; k++) names[k] = d->ds.class_names[k];
    ST_TRY(st_split_make(split, y, d->ds.has_split ? split : NULL, &cfg->split, n_names ? names : NULL, cfg->seed,
                         N, d->n_classes, err));
    st_status_t rc = st_split_check_train(split, y, n_names ? names : NULL, N, d->n_classes, err);
    if (rc != ST_OK) {
        st_error_prefix(err, "%s", d->ds.path);
        return rc;
    }
    for (int64_t i = 0; i < N; i++) d->n_part[split[i]]++;
    d->train_class_counts = xcalloc((size_t)d->n_classes, sizeof(int64_t), "class counts", err);
    if (!d->train_class_counts) return err->code;
    return st_class_counts(d->train_class_counts, y, split, ST_SPLIT_TRAIN, N, d->n_classes, err);
}

static st_status_t build_shards(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, const int32_t *y,
                                const uint8_t *split, st_error_t *err) {
    int64_t n_train = d->n_part[ST_SPLIT_TRAIN], j = 0;
    ST_TRY(st_shards_plan(&d->S, &d->micro_batch, cfg->batch_size, cfg->accumulation, cfg->shards, n_train, err));
    ST_TRY(st_shards_owned(&d->shard_first, &d->shard_end, c->rank, c->size, d->S, err));
    int64_t *ids = xcalloc((size_t)n_train, sizeof *ids, "training ids", err);
    int32_t *labels = ids ? xcalloc((size_t)n_train, sizeof *labels, "training labels", err) : NULL;
    st_status_t rc = labels ? ST_OK : err->code;
    for (int64_t i = 0; rc == ST_OK && i < d->ds.n; i++)
        if (split[i] == ST_SPLIT_TRAIN) ids[j] = i, labels[j++] = y[i];
    if (rc == ST_OK) rc = st_shards_build(&d->shards, ids, labels, cfg->seed, n_train, d->n_classes, d->S, err);
    free(ids), free(labels);
    return rc;
}

/* The global ids of each part this rank holds: its shards' training rows, its blocks of val/test. */
static st_status_t choose_rows(st_data_t *d, const st_comm_t *c, const uint8_t *split, st_error_t *err) {
    st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    ST_TRY(st_shards_rank_rows(NULL, &train->n, &d->shards, c->rank, c->size, err));
    if (!(train->ids = xcalloc((size_t)train->n, sizeof(int64_t), "training ids", err))) return err->code;
    ST_TRY(st_shards_rank_rows(train->ids, &train->n, &d->shards, c->rank, c->size, err));
    for (int p = ST_SPLIT_VAL; p <= ST_SPLIT_TEST; p++) {
        int64_t lo, hi, k = 0;
        st_loader_block_chunks(&lo, &hi, d->n_part[p], ST_DATA_EVAL_ROWS, c->rank, c->size);
        d->part[p].n = hi - lo;
        if (!(d->part[p].ids = xcalloc((size_t)(hi - lo), sizeof(int64_t), "evaluation ids", err))) return err->code;
        for (int64_t i = 0, seen = 0; i < d->ds.n && k < hi - lo; i++)
            if (split[i] == p && seen++ >= lo) d->part[p].ids[k++] = i;
    }
    return ST_OK;
}

/* Moves row i of rows [n, row_floats] to position dest[i], in place, following the permutation's
 * cycles with one spare row. */
static st_status_t permute_rows(float *rows, const int64_t *dest, int64_t n, long row_floats, st_error_t *err) {
    size_t row_bytes = (size_t)row_floats * sizeof(float);
    uint8_t *done = xcalloc((size_t)n, 1, "a permutation map", err);
    float *carry = done ? xcalloc(2, row_bytes, "a spare row", err) : NULL, *spare = carry ? carry + row_floats : NULL;
    if (!carry) return free(done), err->code;
    for (int64_t start = 0; start < n; start++) {
        if (done[start] || dest[start] == start) continue;
        memcpy(carry, rows + (size_t)start * (size_t)row_floats, row_bytes);
        for (int64_t i = start; !done[i]; i = dest[i]) { /* carry holds row i; place it at dest[i] */
            float *to = rows + (size_t)dest[i] * (size_t)row_floats;
            memcpy(spare, to, row_bytes);
            memcpy(to, carry, row_bytes);
            memcpy(carry, spare, row_bytes);
            done[i] = 1;
        }
    }
    free(done), free(carry);
    return ST_OK;
}

/* One two-phase read for all three parts: the union of their ids (disjoint, each ascending) in
 * id order, then rows are permuted in place so each part's rows are contiguous (train, val,
 * test): the parts are views into one buffer, and the rows exist once. */
static st_status_t read_rows(st_data_t *d, const st_comm_t *c, const int32_t *y, st_error_t *err) {
    int64_t n = d->part[0].n + d->part[1].n + d->part[2].n, at[3] = {0, 0, 0};
    int64_t start[3] = {0, d->part[0].n, d->part[0].n + d->part[1].n};
    int64_t *want = xcalloc((size_t)n, sizeof *want, "row ids", err);
    int64_t *dest = want ? xcalloc((size_t)n, sizeof *dest, "row positions", err) : NULL;
    d->rows = dest ? xcalloc((size_t)n * (size_t)d->row_floats, sizeof(float), "rows", err) : NULL;
    int32_t *labels = d->rows ? xcalloc((size_t)n, sizeof(int32_t), "labels", err) : NULL;
    st_status_t rc = labels ? ST_OK : err->code;
    for (int64_t i = 0; rc == ST_OK && i < n; i++) { /* three-way merge of ascending lists */
        int best = -1;
        for (int p = 0; p < 3; p++)
            if (at[p] < d->part[p].n && (best < 0 || d->part[p].ids[at[p]] < d->part[best].ids[at[best]])) best = p;
        want[i] = d->part[best].ids[at[best]];
        dest[i] = start[best] + at[best]++;
        labels[dest[i]] = y[want[i]];
    }
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = st_loader_gather_rows(&d->ds, c, want, n, d->rows, err);
    if (rc == ST_OK) rc = permute_rows(d->rows, dest, n, d->row_floats, err);
    d->labels = labels;
    for (int p = 0; rc == ST_OK && p < 3; p++) {
        d->part[p].X = d->rows + (size_t)start[p] * (size_t)d->row_floats;
        d->part[p].y = labels + start[p];
    }
    free(want), free(dest);
    return rc;
}

/* Counts non-finite values here; all ranks learn the total and the lowest row holding one. */
static st_status_t check_finite(const st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    long long bad[2] = {0, 0}; /* count; lowest bad row (as -row for MAX) */
    int64_t first = INT64_MAX;
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < d->part[p].n; i++)
            for (long j = 0; j < d->row_floats; j++)
                if (!isfinite(d->part[p].X[(size_t)i * (size_t)d->row_floats + (size_t)j])) {
                    bad[0]++;
                    if (d->part[p].ids[i] < first) first = d->part[p].ids[i];
                }
    long long sums[1], mins[1] = {first};
    MPI_Allreduce(&bad[0], sums, 1, MPI_LONG_LONG, MPI_SUM, c->comm);
    MPI_Allreduce(MPI_IN_PLACE, mins, 1, MPI_LONG_LONG, MPI_MIN, c->comm);
    if (sums[0] == 0 || cfg->allow_nonfinite) return ST_OK;
    return st_fail(err, ST_ERR_DATA, "%s: %lld non-finite feature values (NaN or Inf), the first in row %lld; "
                   "clean the data or set data.allow_nonfinite", d->ds.path, sums[0], mins[0]);
}

/* Statistics from every shard's training rows, combined in shard order; applied to all parts. */
static st_status_t standardize(st_data_t *d, const st_comm_t *c, st_error_t *err) {
    int T = st_shape_positions(d->shape), F = d->F;
    int64_t len = st_std_partial_len(F);
    double *partials = xcalloc((size_t)d->S * (size_t)len, sizeof(double), "statistics", err);
    d->mean = xcalloc((size_t)F, sizeof(double), "means", err);
    d->std = xcalloc((size_t)F, sizeof(double), "standard deviations", err);
    st_status_t rc = partials && d->mean && d->std ? ST_OK : ST_ERR_NOMEM;
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    for (int s = d->shard_first; rc == ST_OK && s < d->shard_end; s++) {
        int64_t n_rows;
        const int64_t *ids = st_shards_rows(&d->shards, s, &n_rows);
        int64_t *pos = xcalloc((size_t)n_rows, sizeof *pos, "row positions", err);
        rc = pos ? st_shards_locate(pos, ids, train->ids, n_rows, train->n, err) : err->code;
        if (rc == ST_OK) st_standardize_partial(partials + (size_t)s * (size_t)len, train->X, pos, n_rows, T, F);
        free(pos);
    }
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = st_allgather_shards(partials, d->S, len, c, err);
    if (rc == ST_OK) rc = st_standardize_combine(d->mean, d->std, partials, d->S, F, 0, err);
    for (int p = 0; rc == ST_OK && p < 3; p++) st_standardize_apply(d->part[p].X, d->mean, d->std, d->part[p].n, T, F);
    free(partials);
    return rc;
}

static st_status_t load(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    int32_t *y = NULL;
    uint8_t *split = NULL;
    st_status_t rc = split_rows(d, cfg, &y, &split, err);
    if (rc == ST_OK) rc = build_shards(d, cfg, c, y, split, err);
    if (rc == ST_OK) rc = choose_rows(d, c, split, err);
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = read_rows(d, c, y, err);
    free(y), free(split);
    return rc;
}

st_status_t st_data_load(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    memset(d, 0, sizeof *d);
    st_status_t rc = st_dataset_open(cfg->path, &d->ds, err);
    rc = st_comm_agree(c, rc, err);
    if (rc != ST_OK) return rc;
    d->n_classes = d->ds.n_classes;
    if (d->n_classes < 2) {
        rc = st_fail(err, ST_ERR_DATA, "%s: only %d class (n_classes); a classifier needs at least 2", cfg->path,
                     d->n_classes);
        st_data_free(d);
        return rc;
    }
    d->shape = d->ds.shape;
    d->row_floats = st_shape_numel(d->shape);
    d->F = st_shape_channels(d->shape);
    rc = st_comm_agree(c, load(d, cfg, c, err), err);
    if (rc == ST_OK) rc = check_finite(d, cfg, c, err);
    if (rc == ST_OK && cfg->scale_pixels)
        for (int p = 0; p < 3; p++) st_scale_pixels(d->part[p].X, d->part[p].n * d->row_floats);
    if (rc == ST_OK && cfg->standardize) rc = standardize(d, c, err);
    if (rc != ST_OK) st_data_free(d);
    return rc;
}

void st_data_free(st_data_t *d) {
    for (int p = 0; p < 3; p++) free(d->part[p].ids);
    free(d->rows), free(d->labels);
    free(d->train_class_counts), free(d->mean), free(d->std);
    if (d->shards.ids) st_shards_free(&d->shards);
    st_dataset_close(&d->ds);
    memset(d, 0, sizeof *d);
}
