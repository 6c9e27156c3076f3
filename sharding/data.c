/* data.c — from a dataset file to a rank's standardised share of it, its training rows in memory
 * or streamed (see data.h). */
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/collectives.h"
#include "sharding/batch.h"
#include "sharding/loader.h"
#include "sharding/sampler.h"
#include "sharding/standardize.h"
#include "sharding/stream_load.h"

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
    st_split_key_t key;
    ST_TRY(st_split_rows_of(&key, &d->ds, cfg, y, split, 1, err));
    d->n_classes = key.n_classes, d->strat_target = key.strat_target, d->strat_none = key.none;
    d->n_groups = key.report.n_groups, d->split_report = key.report;
    const char *names[4096];
    const st_target_info_t *kt = d->strat_target >= 0 ? &d->ds.targets[d->strat_target] : NULL;
    int n_names = !key.none && d->n_classes < 4096 ? d->n_classes : 0;
    for (int k = 0; k < n_names; k++) names[k] = kt ? kt->names[k] : d->ds.class_names[k];
    st_status_t rc = key.none ? ST_OK : st_split_check_train(split, y, n_names ? names : NULL, N, d->n_classes, err);
    if (rc != ST_OK) {
        st_error_prefix(err, "%s", d->ds.path);
        return rc;
    }
    for (int64_t i = 0; i < N; i++) d->n_part[split[i]]++;
    d->part_class_counts = xcalloc(3 * (size_t)d->n_classes, sizeof(int64_t), "class counts", err);
    if (!d->part_class_counts) return err->code;
    d->train_class_counts = d->part_class_counts + (size_t)ST_SPLIT_TRAIN * (size_t)d->n_classes;
    for (int p = 0; p < 3; p++)
        ST_TRY(st_class_counts(d->part_class_counts + (size_t)p * (size_t)d->n_classes, y, split, p, N, d->n_classes, err));
    return ST_OK;
}

/* The shard map straight from every row's label and part (no copies of the training ids and
 * labels); a streamed split builds it without the lookup arrays it would drop anyway. */
static st_status_t build_shards(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, const int32_t *y,
                                const uint8_t *split, st_error_t *err) {
    int64_t n_train = d->n_part[ST_SPLIT_TRAIN];
    ST_TRY(st_shards_plan(&d->S, &d->micro_batch, cfg->batch_size, cfg->accumulation, cfg->shards, n_train, err));
    ST_TRY(st_shards_owned(&d->shard_first, &d->shard_end, c->rank, c->size, d->S, err));
    return st_shards_build_split(&d->shards, y, split, ST_SPLIT_TRAIN, cfg->seed, d->ds.n, d->n_classes, d->S,
                                 !cfg->stream, err);
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

/* Moves row i of rows [n, row_bytes] to position dest[i], in place, following the permutation's
 * cycles with one spare row. */
static st_status_t permute_rows(void *rows_v, const int64_t *dest, int64_t n, size_t row_bytes, st_error_t *err) {
    unsigned char *rows = rows_v;
    uint8_t *done = xcalloc((size_t)n, 1, "a permutation map", err);
    unsigned char *carry = done ? xcalloc(2, row_bytes, "a spare row", err) : NULL, *spare = carry ? carry + row_bytes : NULL;
    if (!carry) return free(done), err->code;
    for (int64_t start = 0; start < n; start++) {
        if (done[start] || dest[start] == start) continue;
        memcpy(carry, rows + (size_t)start * row_bytes, row_bytes);
        for (int64_t i = start; !done[i]; i = dest[i]) { /* carry holds row i; place it at dest[i] */
            unsigned char *to = rows + (size_t)dest[i] * row_bytes;
            memcpy(spare, to, row_bytes);
            memcpy(to, carry, row_bytes);
            memcpy(carry, spare, row_bytes);
            done[i] = 1;
        }
    }
    free(done), free(carry);
    return ST_OK;
}

/* Every target's values for the rows `want` (in want's order), gathered like /X one target at a
 * time, interleaved into tgt_rows [n, tgt_floats] and permuted like the rows. */
static void target_layout(st_data_t *d) {
    d->n_targets = d->ds.n_targets;
    d->tgt_floats = 0;
    for (int t = 0; t < d->n_targets; t++) d->tgt_offset[t] = (int)d->tgt_floats, d->tgt_floats += d->ds.targets[t].width;
}

static st_status_t read_targets(st_data_t *d, const st_comm_t *c, const int64_t *want, const int64_t *dest, int64_t n,
                                st_error_t *err) {
    target_layout(d);
    d->tgt_rows = xcalloc((size_t)n * (size_t)d->tgt_floats, sizeof(float), "target values", err);
    st_status_t rc = st_comm_agree(c, d->tgt_rows ? ST_OK : err->code, err);
    for (int t = 0; rc == ST_OK && t < d->n_targets; t++) {
        int w = d->ds.targets[t].width;
        float *one = xcalloc((size_t)n * (size_t)w, sizeof(float), "target values", err);
        rc = st_comm_agree(c, one ? ST_OK : err->code, err);
        if (rc == ST_OK) rc = st_loader_gather_target(&d->ds, t, c, want, n, one, err);
        for (int64_t i = 0; rc == ST_OK && i < n; i++)
            memcpy(d->tgt_rows + (size_t)i * (size_t)d->tgt_floats + d->tgt_offset[t], one + (size_t)i * (size_t)w,
                   (size_t)w * sizeof(float));
        free(one);
    }
    if (rc == ST_OK) rc = permute_rows(d->tgt_rows, dest, n, (size_t)d->tgt_floats * sizeof(float), err);
    return rc;
}

/* /lengths for the rows `want` (gathered like /X, permuted like the rows), then every row's
 * values at steps >= its length set to 0 (a file may hold anything there), and T_max. */
static st_status_t read_lengths(st_data_t *d, const st_comm_t *c, const int64_t *want, const int64_t *dest, int64_t n,
                                st_error_t *err) {
    d->lens = xcalloc((size_t)n, sizeof(int32_t), "lengths", err);
    st_status_t rc = st_comm_agree(c, d->lens ? ST_OK : err->code, err);
    if (rc == ST_OK) rc = st_loader_gather_lengths(&d->ds, c, want, n, d->lens, err);
    if (rc == ST_OK) rc = permute_rows(d->lens, dest, n, sizeof(int32_t), err);
    rc = st_comm_agree(c, rc, err);
    if (rc != ST_OK) return rc;
    st_data_zero_padding(d->rows, d->lens, n, d->row_floats, st_shape_channels(d->shape));
    int longest = 0;
    for (int64_t i = 0; i < n; i++)
        if (d->lens[i] > longest) longest = d->lens[i];
    ST_MPI(MPI_Allreduce(&longest, &d->T_max, 1, MPI_INT, MPI_MAX, c->comm), err);
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
    if (rc == ST_OK) rc = permute_rows(d->rows, dest, n, (size_t)d->row_floats * sizeof(float), err);
    if (rc == ST_OK) rc = read_targets(d, c, want, dest, n, err);
    if (rc == ST_OK && d->has_lengths) rc = read_lengths(d, c, want, dest, n, err);
    d->labels = labels;
    for (int p = 0; rc == ST_OK && p < 3; p++) {
        d->part[p].X = d->rows + (size_t)start[p] * (size_t)d->row_floats;
        d->part[p].y = labels + start[p];
        d->part[p].T = d->tgt_rows + (size_t)start[p] * (size_t)d->tgt_floats;
        d->part[p].len = d->lens ? d->lens + start[p] : NULL;
    }
    free(want), free(dest);
    return rc;
}

/* A streamed split: the val and test parts keep their ids and labels; their rows are read when
 * evaluated (d->stream_eval, opened by st_data_stream_open). */
static st_status_t eval_labels(st_data_t *d, const int32_t *y, st_error_t *err) {
    target_layout(d);
    int64_t n = d->part[ST_SPLIT_VAL].n + d->part[ST_SPLIT_TEST].n, at = 0;
    if (!(d->labels = xcalloc((size_t)n, sizeof(int32_t), "labels", err))) return err->code;
    for (int p = ST_SPLIT_VAL; p <= ST_SPLIT_TEST; p++) {
        d->part[p].y = d->labels + at;
        for (int64_t i = 0; i < d->part[p].n; i++) d->labels[at++] = y[d->part[p].ids[i]];
    }
    return ST_OK;
}

st_status_t st_data_eval_rows(st_data_part_t *view, const st_data_t *d, int p, int64_t r0, int64_t n, st_error_t *err) {
    const st_data_part_t *part = &d->part[p];
    *view = (st_data_part_t){.n = n, .ids = part->ids + r0, .y = part->y + r0};
    if (!part->X && d->stream_eval) {
        st_stream_eval_t *e = d->stream_eval;
        ST_TRY(st_stream_eval_read(e, view->ids, n, 0, err));
        view->X = e->X, view->T = e->T, view->len = e->len;
        return ST_OK;
    }
    view->X = part->X + (size_t)r0 * (size_t)d->row_floats;
    view->T = part->T ? part->T + (size_t)r0 * (size_t)d->tgt_floats : NULL;
    view->len = part->len ? part->len + r0 : NULL;
    return ST_OK;
}

void st_data_checks_init(st_row_checks_t *k) {
    memset(k, 0, sizeof *k);
    k->first_nonfinite = k->first_bad_target = k->first_bad_cat = INT64_MAX;
    k->cat_col = -1;
}

/* One row set's share of the checks: non-finite features (count, lowest row), the lowest row with
 * a bad target value (st_target_first_bad: which target, why) and the lowest row with a
 * categorical column that is not an integer id in [0, 2^24) (column, value). */
void st_data_rows_check(st_row_checks_t *k, const st_data_t *d, const int64_t *ids, const float *X, const float *T,
                        int64_t n) {
    int Tn = st_shape_positions(d->shape), F = d->F;
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + (size_t)i * (size_t)d->row_floats;
        for (long j = 0; j < d->row_floats; j++)
            if (!isfinite(x[j])) {
                k->n_nonfinite++;
                if (ids[i] < k->first_nonfinite) k->first_nonfinite = ids[i];
            }
        for (int t = 0; t < d->n_targets && ids[i] < k->first_bad_target; t++) {
            char w[200];
            const float *v = T + (size_t)i * (size_t)d->tgt_floats + d->tgt_offset[t];
            if (st_target_first_bad(&d->ds.targets[t], v, 1, w, sizeof w) >= 0) {
                k->first_bad_target = ids[i];
                st_format(k->why, sizeof k->why, "%s", w);
                st_format(k->which, sizeof k->which, "%s", d->ds.targets[t].h5path);
            }
        }
        for (int c = 0; c < d->n_categorical && ids[i] < k->first_bad_cat; c++)
            for (int t = 0; t < Tn; t++) {
                float v = x[(size_t)t * (size_t)F + (size_t)d->categorical[c]];
                if (!(v >= 0 && v < 16777216.0f && v == floorf(v))) {
                    k->first_bad_cat = ids[i], k->cat_col = d->categorical[c], k->cat_val = v;
                    break;
                }
            }
    }
}

/* Non-finite features: all ranks learn the total and the lowest row holding one. */
static st_status_t check_finite(const st_data_t *d, const st_data_config_t *cfg, const st_row_checks_t *k,
                                const st_comm_t *c, st_error_t *err) {
    long long sums[1], mins[1] = {k->first_nonfinite}, bad = k->n_nonfinite;
    MPI_Allreduce(&bad, sums, 1, MPI_LONG_LONG, MPI_SUM, c->comm);
    MPI_Allreduce(MPI_IN_PLACE, mins, 1, MPI_LONG_LONG, MPI_MIN, c->comm);
    if (sums[0] == 0 || cfg->allow_nonfinite) return ST_OK;
    return st_fail(err, ST_ERR_DATA, "%s: %lld non-finite feature values (NaN or Inf), the first in row %lld; "
                   "clean the data or set data.allow_nonfinite", d->ds.path, sums[0], mins[0]);
}

/* Target values: the rank holding the lowest bad row reports it, naming the target, the row and
 * the value. */
static st_status_t check_targets(const st_data_t *d, const st_row_checks_t *k, const st_comm_t *c, st_error_t *err) {
    long long first = k->first_bad_target, all = 0;
    MPI_Allreduce(&first, &all, 1, MPI_LONG_LONG, MPI_MIN, c->comm);
    if (all == INT64_MAX) return ST_OK;
    st_status_t rc = first == all ? st_fail(err, ST_ERR_DATA, "%s: %s row %lld: %s", d->ds.path, k->which, first, k->why)
                                  : ST_OK;
    return st_comm_agree(c, rc, err);
}

/* data.categorical_columns to feature indices: "3" is column 3, a name is looked up in the
 * file's feature names. The same on every rank (an error is everywhere). */
static st_status_t resolve_categorical(st_data_t *d, const st_data_config_t *cfg, st_error_t *err) {
    d->n_categorical = 0;
    for (int k = 0; k < cfg->n_categorical && k < 64; k++) {
        const char *c = cfg->categorical[k];
        int j = -1;
        if (strspn(c, "0123456789") == strlen(c)) j = atoi(c);
        else
            for (int f = 0; f < d->ds.n_feature_names && j < 0; f++)
                if (strcmp(d->ds.feature_names[f], c) == 0) j = f;
        if (j < 0 || j >= d->F)
            return st_fail(err, ST_ERR_CONFIG, "data.categorical_columns[%d]: %s \"%s\" is not a feature of %s (%d "
                           "features%s)", k, j < 0 ? "name" : "column", c, d->ds.path, d->F,
                           d->ds.n_feature_names ? ", see strata inspect" : ", no feature names: give indices"),
                   st_error_everywhere(err);
        d->categorical[d->n_categorical++] = j;
    }
    return ST_OK;
}

/* Categorical columns (data.categorical_columns) must hold integer ids in [0, 2^24): exact in
 * float32, usable as embedding rows. The rank with the lowest bad row reports it. */
static st_status_t check_categorical(st_data_t *d, const st_row_checks_t *k, const st_comm_t *c, st_error_t *err) {
    long long first = k->first_bad_cat, all = 0;
    MPI_Allreduce(&first, &all, 1, MPI_LONG_LONG, MPI_MIN, c->comm);
    if (all == INT64_MAX) return ST_OK;
    int col = k->cat_col;
    const char *name = col >= 0 && col < d->ds.n_feature_names ? d->ds.feature_names[col] : "";
    st_status_t rc = first == all ? st_fail(err, ST_ERR_DATA, "%s: row %lld, column %d%s%s%s: %g is not an integer id in "
                                            "[0, 2^24) (data.categorical_columns)", d->ds.path, first, col,
                                            name[0] ? " (" : "", name, name[0] ? ")" : "", k->cat_val)
                                  : ST_OK;
    return st_comm_agree(c, rc, err);
}

/* The three checks in order, from this rank's accumulated row checks. */
static st_status_t check_rows(st_data_t *d, const st_data_config_t *cfg, const st_row_checks_t *k, const st_comm_t *c,
                              st_error_t *err) {
    ST_TRY(check_finite(d, cfg, k, c, err));
    ST_TRY(check_targets(d, k, c, err));
    return check_categorical(d, k, c, err);
}

void st_data_target_sums(double *partials, const st_data_t *d, const int64_t *ids, const int32_t *shard, const float *T,
                         int64_t n) {
    int len = 3 * (int)d->tgt_floats; /* per column: count, sum, sum of squares */
    for (int64_t i = 0; i < n; i++) {
        double *ps = partials + (size_t)(shard ? shard[i] : st_shards_find(&d->shards, ids[i])) * (size_t)len;
        for (long j = 0; j < d->tgt_floats; j++) {
            double x = T[(size_t)i * (size_t)d->tgt_floats + (size_t)j];
            if (isnan(x)) continue;
            ps[3 * j] += 1, ps[3 * j + 1] += x, ps[3 * j + 2] += x * x;
        }
    }
}

/* Mean and std of every regression target's columns over the training rows (missing values left
 * out), per shard (rows in ascending id: the train part's order, or the blocks' one after the
 * other) then combined in shard order: the same bits at any P. A streamed split has summed its
 * blocks into d->stream_tgt_sums already. */
static st_status_t target_stats(st_data_t *d, const st_comm_t *c, st_error_t *err) {
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    int len = 3 * (int)d->tgt_floats;
    double *partials = d->stream_tgt_sums;
    d->stream_tgt_sums = NULL;
    if (!partials && (partials = xcalloc((size_t)d->S * (size_t)len, sizeof(double), "target statistics", err)))
        st_data_target_sums(partials, d, train->ids, NULL, train->T, train->n);
    st_status_t rc = partials ? ST_OK : err->code;
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = st_allgather_shards(partials, d->S, len, c, err);
    for (int t = 0; rc == ST_OK && t < d->n_targets; t++) {
        const st_target_info_t *ti = &d->ds.targets[t];
        if (ti->kind != ST_TARGET_REGRESSION) continue;
        st_target_stats_t *st = &d->tgt_stats[t];
        st->mean = xcalloc((size_t)ti->width, sizeof(double), "target means", err);
        st->std = xcalloc((size_t)ti->width, sizeof(double), "target deviations", err);
        if (!st->mean || !st->std) { rc = err->code; break; }
        for (int j = 0; j < ti->width; j++) {
            double n = 0, sum = 0, sq = 0;
            for (int s = 0; s < d->S; s++) {
                const double *ps = partials + (size_t)s * (size_t)len + 3 * (size_t)(d->tgt_offset[t] + j);
                n += ps[0], sum += ps[1], sq += ps[2];
            }
            double mean = n > 0 ? sum / n : 0, var = n > 0 ? sq / n - mean * mean : 0;
            st->mean[j] = mean;
            st->std[j] = var > 1e-24 ? sqrt(var) : 1.0; /* a constant column is left unscaled */
        }
    }
    free(partials);
    return rc;
}

/* Statistics from every shard's training rows, combined in shard order; applied to all parts. */
static st_status_t standardize(st_data_t *d, st_std_mode_t mode, int scale_pixels, const st_comm_t *c, st_error_t *err) {
    int T, F;
    st_std_layout(&T, &F, (int)d->row_floats, d->F, mode, -1);
    if (d->n_categorical > 0 && mode != ST_STD_CHANNEL)
        return st_fail(err, ST_ERR_CONFIG, "data.categorical_columns needs data.standardize true (\"channel\") or "
                       "false, not \"%s\": the id columns must keep their values", mode == ST_STD_GLOBAL ? "global" : "position"),
               st_error_everywhere(err);
    d->n_std = F;
    int C = st_shape_channels(d->shape);
    int64_t len = d->has_lengths ? st_std_partial_len_masked(F) : st_std_partial_len(F);
    double *partials = xcalloc((size_t)d->S * (size_t)len, sizeof(double), "statistics", err);
    d->mean = xcalloc((size_t)F, sizeof(double), "means", err);
    d->std = xcalloc((size_t)F, sizeof(double), "standard deviations", err);
    st_status_t rc = partials && d->mean && d->std ? ST_OK : ST_ERR_NOMEM;
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    if (rc == ST_OK && d->stream) { /* pass 1 ran in the scan; pass 2 over the blocks again */
        rc = st_data_stream_std_pass2(d, scale_pixels, T, F, c, err);
        if (rc == ST_OK) memcpy(partials, d->stream_std_partials, (size_t)d->S * (size_t)len * sizeof(double));
    }
    for (int s = d->shard_first; rc == ST_OK && !d->stream && s < d->shard_end; s++) {
        int64_t n_rows;
        const int64_t *ids = st_shards_rows(&d->shards, s, &n_rows);
        int64_t *pos = xcalloc((size_t)n_rows, sizeof *pos, "row positions", err);
        rc = pos ? st_shards_locate(pos, ids, train->ids, n_rows, train->n, err) : err->code;
        if (rc == ST_OK && d->has_lengths)
            st_standardize_partial_masked(partials + (size_t)s * (size_t)len, train->X, train->len, pos, n_rows, T, F, C);
        else if (rc == ST_OK)
            st_standardize_partial(partials + (size_t)s * (size_t)len, train->X, pos, n_rows, T, F);
        free(pos);
    }
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = st_allgather_shards(partials, d->S, len, c, err);
    if (rc == ST_OK)
        rc = d->has_lengths ? st_standardize_combine_masked(d->mean, d->std, partials, d->S, F, 0, err)
                            : st_standardize_combine(d->mean, d->std, partials, d->S, F, 0, err);
    for (int k = 0; rc == ST_OK && k < d->n_categorical; k++) /* ids stay ids */
        d->mean[d->categorical[k]] = 0, d->std[d->categorical[k]] = 1;
    for (int p = 0; rc == ST_OK && p < 3; p++)
        if (!d->part[p].X) continue; /* streamed: standardised as read */
        else if (d->has_lengths) st_standardize_apply_masked(d->part[p].X, d->mean, d->std, d->part[p].len, d->part[p].n, T, F, C);
        else st_standardize_apply(d->part[p].X, d->mean, d->std, d->part[p].n, T, F);
    free(partials);
    return rc;
}

static st_status_t load(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    int32_t *y = NULL;
    uint8_t *split = NULL;
    st_status_t rc = split_rows(d, cfg, &y, &split, err);
    if (rc == ST_OK) rc = build_shards(d, cfg, c, y, split, err);
    if (rc == ST_OK) rc = choose_rows(d, c, split, err);
    free(split), split = NULL; /* the parts' ids say it all from here */
    rc = st_comm_agree(c, rc, err);
    st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    if (rc == ST_OK && cfg->stream) { /* the training rows come block by block (sharding/stream.h) */
        d->stream_ids = train->ids, d->n_stream = train->n;
        train->ids = NULL, train->n = 0;
    }
    if (rc == ST_OK) rc = cfg->stream ? eval_labels(d, y, err) : read_rows(d, c, y, err);
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK && cfg->stream) d->y_all = y, y = NULL;
    free(y), free(split);
    if (rc == ST_OK && cfg->stream) rc = st_data_stream_open(d, cfg, c, err);
    return rc;
}

/* The checks of every row this rank holds, and of its streamed training rows (one block at a
 * time, with the scan's sums: sharding/stream_load.c). */
static st_status_t check_all_rows(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    st_row_checks_t k;
    st_data_checks_init(&k);
    st_status_t rc = resolve_categorical(d, cfg, err);
    for (int p = 0; rc == ST_OK && p < 3; p++)
        if (d->part[p].X) st_data_rows_check(&k, d, d->part[p].ids, d->part[p].X, d->part[p].T, d->part[p].n);
    if (rc == ST_OK && d->stream) rc = st_data_stream_eval_scan(d, &k, c, err); /* sets T_max first */
    if (rc == ST_OK && d->stream) {
        int T, F;
        st_std_layout(&T, &F, (int)d->row_floats, d->F, cfg->standardize ? (st_std_mode_t)cfg->standardize : ST_STD_CHANNEL, -1);
        rc = st_data_stream_scan(d, cfg, &k, T, F, c, err);
    }
    return rc == ST_OK ? check_rows(d, cfg, &k, c, err) : rc;
}

/* The training part as a view of the stream's slots (n = 0: only st_data_train_locate finds rows);
 * blocks read for training get the scaling and standardisation the other parts got. */
static void stream_views(st_data_t *d, const st_data_config_t *cfg) {
    st_stream_t *s = d->stream;
    int T = 1, F = 1;
    if (cfg->standardize) st_std_layout(&T, &F, (int)d->row_floats, d->F, (st_std_mode_t)cfg->standardize, -1);
    st_stream_set_transform(s, cfg->scale_pixels, cfg->standardize ? d->mean : NULL, d->std, T, F,
                            st_shape_channels(d->shape));
    st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    train->X = s->X, train->T = s->T, train->y = s->y, train->len = s->len;
    st_stream_eval_set_transform(d->stream_eval, cfg->scale_pixels, cfg->standardize ? d->mean : NULL, d->std, T, F);
}

/* Settings that involve several keys, refused on every rank alike. */
static st_status_t check_options(const st_data_t *d, const st_data_config_t *cfg, st_error_t *err) {
    if (cfg->bucket_by_length && d->order == ST_DATA_ORDER_WINDOWED)
        return st_fail(err, ST_ERR_CONFIG, "data.bucket_by_length cannot be combined with data.order \"windowed\" "
                       "(length buckets span the whole epoch, a window's rows are one block of the file); set one of "
                       "them off");
    if (cfg->bucket_by_length && !d->has_lengths)
        return st_fail(err, ST_ERR_CONFIG, "data.bucket_by_length: %s has no /lengths to bucket by (it needs "
                       "variable-length sequences, docs/data-format.md); set data.bucket_by_length false", d->ds.path);
    if (cfg->stream && d->order != ST_DATA_ORDER_WINDOWED)
        return st_fail(err, ST_ERR_CONFIG, "data.stream needs data.order \"windowed\" (the shuffle order visits a "
                       "shard's rows all over the file every epoch); set data.order \"windowed\"");
    if (cfg->stream && cfg->memory_budget_mb < 1)
        return st_fail(err, ST_ERR_CONFIG, "data.memory_budget_mb: expected a positive number of MiB with data.stream, "
                       "got %lld", (long long)cfg->memory_budget_mb);
    return ST_OK;
}

st_status_t st_data_load(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    memset(d, 0, sizeof *d);
    st_status_t rc = st_dataset_open(cfg->path, &d->ds, err);
    rc = st_comm_agree(c, rc, err);
    if (rc != ST_OK) return rc;
    d->shape = d->ds.shape;
    d->row_floats = st_shape_numel(d->shape);
    d->F = st_shape_channels(d->shape);
    d->has_lengths = d->ds.has_lengths;
    d->T_max = st_shape_positions(d->shape);
    d->bucket_by_length = cfg->bucket_by_length, d->bucket_window = cfg->bucket_window;
    d->repeat = cfg->repeat > 1 ? cfg->repeat : 1;
    d->order = cfg->order;
    d->window_rows = cfg->order == ST_DATA_ORDER_WINDOWED
                         ? (cfg->window_rows > 0 ? cfg->window_rows : ST_DATA_WINDOW_ROWS_DEFAULT) : 0;
    if (check_options(d, cfg, err) != ST_OK) {
        st_error_everywhere(err);
        st_data_free(d);
        return ST_ERR_CONFIG;
    }
    rc = st_comm_agree(c, load(d, cfg, c, err), err);
    if (rc == ST_OK) rc = check_all_rows(d, cfg, c, err);
    if (rc == ST_OK) rc = target_stats(d, c, err);
    if (rc == ST_OK && cfg->scale_pixels)
        for (int p = 0; p < 3; p++)
            if (d->part[p].X) st_scale_pixels(d->part[p].X, d->part[p].n * d->row_floats);
    if (rc == ST_OK && cfg->standardize) rc = standardize(d, (st_std_mode_t)cfg->standardize, cfg->scale_pixels, c, err);
    if (rc == ST_OK && d->stream) stream_views(d, cfg), st_shards_drop_lookup(&d->shards);
    d->bookkeeping_per_row = st_data_bookkeeping_per_row(d);
    d->startup_peak_per_row = st_data_startup_peak_per_row(d);
    free(d->stream_std_partials), free(d->stream_tgt_sums);
    d->stream_std_partials = d->stream_tgt_sums = NULL;
    if (rc != ST_OK) st_data_free(d);
    return rc;
}

double st_data_bookkeeping_per_row(const st_data_t *d) {
    double N = (double)d->ds.n, n_train = (double)d->shards.n_train;
    double mine = (double)(d->stream ? d->n_stream : d->part[ST_SPLIT_TRAIN].n);
    double held = (double)(d->part[ST_SPLIT_VAL].n + d->part[ST_SPLIT_TEST].n);
    double scratch = d->window_rows > 0 ? (double)st_sampler_window_scratch(NULL, &d->shards, d->shard_first, d->shard_end,
                                                                            d->window_rows, d->repeat)
                                        : mine * d->repeat;
    double bytes = (d->y_all ? 4 * N : 0)                   /* every row's label (streamed) */
                   + (d->shards.ids ? 20 : 8) * n_train      /* shard map: rows 8 (+ ids 8, shard_of 4) */
                   + 8 * mine                               /* this rank's training ids */
                   + (d->stream_keys ? 2.0 * (d->n_targets + (d->has_lengths != 0)) * mine : 0) /* weight keys */
                   + 8 * mine * d->repeat + 16 * scratch     /* sampler: order, sort scratch */
                   + 12 * held;                             /* val/test ids 8 + labels 4 */
    return N > 0 ? bytes / N : 0;
}

double st_data_startup_peak_per_row(const st_data_t *d) {
    double N = (double)d->ds.n, n_train = (double)d->shards.n_train, lookup = d->stream ? 0 : 12 * n_train;
    double mine = (double)(d->stream ? d->n_stream : d->part[ST_SPLIT_TRAIN].n);
    double held = (double)(d->part[ST_SPLIT_VAL].n + d->part[ST_SPLIT_TEST].n);
    double labels = 5 * N; /* y 4 + split 1, every row, until the parts are chosen */
    /* reading them: /y as int64 (+ /split as int32), or a target's ids as int64 */
    double read = labels + 8 * N + (d->strat_target < 0 && !d->strat_none && d->ds.has_split ? 4 * N : 0);
    /* the split: the walk's tags; grouped: /groups and its index (8 each: ids, keys, rows, 2 scratch) */
    double split = labels + (d->n_groups > 0 ? 40 * N : 4 * N);
    double shards = labels + 4 * N + 8 * n_train + lookup;     /* the walk's tags, the map */
    double choose = labels + 8 * n_train + lookup + 8 * mine + 8 * held + N / 8; /* + a rank's rows bitmap */
    double steady = d->bookkeeping_per_row * N;
    double peak = read;
    const double phase[] = {split, shards, choose, steady};
    for (int i = 0; i < 4; i++)
        if (phase[i] > peak) peak = phase[i];
    return N > 0 ? peak / N : 0;
}

st_status_t st_data_train_locate(const st_data_t *d, int64_t *pos, const int64_t *ids, int64_t n, st_error_t *err) {
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    if (d->stream) return st_stream_locate(d->stream, pos, ids, n, err);
    return st_shards_locate(pos, ids, train->ids, n, train->n, err);
}

void st_data_train_class_counts(int64_t *counts, const st_data_t *d, int t) {
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    int K = d->ds.targets[t].n_classes;
    memset(counts, 0, sizeof(int64_t) * (size_t)K);
    if (d->stream) {
        if (d->tgt_class_counts[t]) memcpy(counts, d->tgt_class_counts[t], sizeof(int64_t) * (size_t)K);
        return;
    }
    for (int64_t i = 0; i < train->n; i++) {
        int y = (int)train->T[(size_t)i * (size_t)d->tgt_floats + d->tgt_offset[t]];
        if (y >= 0 && y < K) counts[y]++;
    }
}

int64_t st_data_train_present(const st_data_t *d, int t) {
    if (d->stream) return d->tgt_present[t];
    const st_target_info_t *ti = &d->ds.targets[t];
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    int64_t present = 0;
    for (int64_t i = 0; i < train->n; i++) {
        const float *v = train->T + (size_t)i * (size_t)d->tgt_floats + d->tgt_offset[t];
        for (int j = 0; j < ti->width; j++)
            if (ti->kind == ST_TARGET_CLASS ? v[j] >= 0 : !isnan(v[j])) {
                present++;
                break;
            }
    }
    return present;
}

void st_data_describe_order(char *out, size_t n, int order, int64_t window_rows, int stream, int64_t budget_mb) {
    if (order != ST_DATA_ORDER_WINDOWED) snprintf(out, n, "order shuffle");
    else
        snprintf(out, n, "order windowed (blocks of %lld rows of the file)%s",
                 (long long)(window_rows > 0 ? window_rows : ST_DATA_WINDOW_ROWS_DEFAULT),
                 stream ? "; streamed" : "");
    if (order == ST_DATA_ORDER_WINDOWED && stream) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, " within data.memory_budget_mb %lld MiB a rank", (long long)budget_mb);
    }
}

void st_data_describe_stream(char *out, size_t n, const st_data_t *d) {
    if (!d->stream) {
        if (n) out[0] = 0;
        return;
    }
    const st_stream_t *s = d->stream;
    char next[256];
    if (s->pf.usable) snprintf(next, sizeof next, "the next block's share read in the background");
    else snprintf(next, sizeof next, "the next block read ahead into a spare slot (no background read: %s)", s->pf.why);
    snprintf(out, n, "streamed: up to %d blocks x %lld rows of this rank's shards = %.1f MiB of the %lld MiB budget; "
             "val/test rows read when evaluated, %.1f MiB (%s); bookkeeping %.1f bytes per row of the file; %s",
             s->n_slots, (long long)s->slot_cap, (double)d->stream_bytes / 1048576.0, (long long)d->budget_mb,
             (double)d->eval_bytes / 1048576.0, s->pf.usable ? "pread" : "HDF5 reads", d->bookkeeping_per_row, next);
}

void st_data_free(st_data_t *d) {
    if (d->stream) st_stream_free(d->stream);
    if (d->stream_eval) st_stream_eval_free(d->stream_eval);
    free(d->stream_eval);
    free(d->stream), free(d->stream_ids), free(d->y_all), free(d->stream_std_partials), free(d->stream_tgt_sums);
    free(d->stream_keys);
    for (int t = 0; t < ST_MAX_TARGETS; t++) free(d->tgt_class_counts[t]);
    for (int p = 0; p < 3; p++) free(d->part[p].ids);
    free(d->rows), free(d->labels), free(d->tgt_rows), free(d->lens);
    for (int t = 0; t < ST_MAX_TARGETS; t++) free(d->tgt_stats[t].mean), free(d->tgt_stats[t].std);
    free(d->part_class_counts), free(d->mean), free(d->std);
    if (d->shards.rows) st_shards_free(&d->shards);
    st_dataset_close(&d->ds);
    memset(d, 0, sizeof *d);
}
