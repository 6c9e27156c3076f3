/* stream_load.c — st_data_load's part for a streamed training split (data.stream): the stream
 * sized and checked against data.memory_budget_mb, then the start-up scans over the training
 * blocks in ascending order, one block in memory at a time — the same row checks, target sums,
 * class counts, longest length and two-pass standardisation partials as the in-memory load
 * computes over its whole part, with the same bits (each shard's rows still come in ascending id,
 * and st_standardize_accumulate splits the two passes over blocks), and each of the rank's rows'
 * weight keys (sharding/weight_keys.h: the engine's loss weight totals an epoch ahead) — and the
 * val/test rows' checks and longest length over one on-demand read of them
 * (sharding/stream_eval.h). */
#include "sharding/stream_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sharding/standardize.h"
#include "sharding/weight_keys.h"

static void *zalloc(size_t n, size_t size, const char *what, st_error_t *err) {
    void *p = calloc(n ? n : 1, size);
    if (!p) st_fail(err, ST_ERR_NOMEM, "data.stream: cannot allocate %zu bytes for %s", n * size, what);
    return p;
}

st_status_t st_data_stream_open(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    d->stream = zalloc(1, sizeof *d->stream, "the stream", err);
    st_status_t rc = d->stream ? ST_OK : err->code;
    if (rc == ST_OK)
        rc = st_stream_init(d->stream, &d->ds, c, &d->shards, d->y_all, d->stream_ids, d->n_stream, d->shard_first,
                            d->shard_end, d->window_rows, err);
    int64_t smallest = INT64_MAX;
    for (int s = 0; s < d->S; s++)
        if (d->shards.shard_start[s + 1] - d->shards.shard_start[s] < smallest)
            smallest = d->shards.shard_start[s + 1] - d->shards.shard_start[s];
    int accum = cfg->accumulation > 0 ? cfg->accumulation : 1;
    int64_t steps = smallest * d->repeat / ((int64_t)d->micro_batch * accum);
    if (rc == ST_OK)
        rc = st_stream_plan(d->stream, d->micro_batch, accum, d->repeat, steps, cfg->stream_seed, cfg->epochs,
                            &d->stream_bytes, err);
    /* The val/test rows: read pass by pass when evaluated, with a fixed reserve of the budget. */
    d->eval_bytes = st_stream_eval_bytes(d->row_floats, d->tgt_floats, d->has_lengths, ST_DATA_EVAL_ROWS);
    if (rc == ST_OK) d->stream_eval = zalloc(1, sizeof *d->stream_eval, "the evaluation reads", err);
    if (rc == ST_OK && !d->stream_eval) rc = err->code;
    if (rc == ST_OK)
        rc = st_stream_eval_open(d->stream_eval, &d->ds, &d->stream->pf, d->tgt_floats, d->tgt_offset,
                                 ST_DATA_EVAL_ROWS, err);
    rc = st_comm_agree(c, rc, err);
    if (rc != ST_OK) return rc;
    d->budget_mb = cfg->memory_budget_mb;
    /* The largest need over the ranks decides (every rank refuses alike): the training blocks get
     * what the evaluation's reserve leaves. */
    unsigned long long need = d->stream_bytes + d->eval_bytes, most = 0;
    MPI_Allreduce(&need, &most, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, c->comm);
    const st_stream_t *s = d->stream;
    size_t row_bytes = (size_t)(s->row_floats + s->tgt_floats) * sizeof(float) + 2 * sizeof(int32_t);
    if ((double)most > (double)cfg->memory_budget_mb * 1048576.0) {
        st_fail(err, ST_ERR_CONFIG, "data.memory_budget_mb %lld: a rank holds up to %.1f MiB of blocks and "
                "evaluation reads (rank %d: %d blocks x %lld rows of its shards in the fullest block x %zu bytes a row "
                "+ %.1f MiB to read val/test rows; data.window_rows %lld, %d ranks); raise data.memory_budget_mb, "
                "lower data.window_rows or use more ranks",
                (long long)cfg->memory_budget_mb, (double)most / 1048576.0, c->rank, s->n_slots,
                (long long)s->slot_cap, row_bytes, (double)d->eval_bytes / 1048576.0, (long long)d->window_rows,
                c->size);
        return st_error_everywhere(err), ST_ERR_CONFIG;
    }
    return ST_OK;
}

st_status_t st_data_stream_eval_scan(st_data_t *d, st_row_checks_t *k, const st_comm_t *c, st_error_t *err) {
    st_status_t rc = ST_OK;
    int longest = 0;
    for (int p = ST_SPLIT_VAL; p <= ST_SPLIT_TEST && rc == ST_OK; p++) {
        const st_data_part_t *part = &d->part[p];
        for (int64_t r0 = 0; rc == ST_OK && r0 < part->n; r0 += ST_DATA_EVAL_ROWS) {
            int64_t n = part->n - r0 < ST_DATA_EVAL_ROWS ? part->n - r0 : ST_DATA_EVAL_ROWS;
            st_stream_eval_t *e = d->stream_eval;
            rc = st_stream_eval_read(e, part->ids + r0, n, 1, err);
            if (rc != ST_OK) break;
            st_data_rows_check(k, d, part->ids + r0, e->X, e->T, n);
            for (int64_t i = 0; e->len && i < n; i++)
                if (e->len[i] > longest) longest = e->len[i];
        }
    }
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK && d->has_lengths) ST_MPI(MPI_Allreduce(&longest, &d->T_max, 1, MPI_INT, MPI_MAX, c->comm), err);
    return rc;
}

/* Class counts and presence of every target over rows T [n] (this rank's, streamed). */
static st_status_t count_targets(st_data_t *d, const float *T, int64_t n, st_error_t *err) {
    for (int t = 0; t < d->n_targets; t++) {
        const st_target_info_t *ti = &d->ds.targets[t];
        if (ti->n_classes > 0 && !d->tgt_class_counts[t] &&
            !(d->tgt_class_counts[t] = zalloc((size_t)ti->n_classes, sizeof(int64_t), "class counts", err)))
            return err->code;
        for (int64_t i = 0; i < n; i++) {
            const float *v = T + (size_t)i * (size_t)d->tgt_floats + d->tgt_offset[t];
            int y = (int)v[0], has = 0;
            if (d->tgt_class_counts[t] && y >= 0 && y < ti->n_classes) d->tgt_class_counts[t][y]++;
            for (int j = 0; j < ti->width && !has; j++) has = ti->kind == ST_TARGET_CLASS ? v[j] >= 0 : !isnan(v[j]);
            d->tgt_present[t] += has;
        }
    }
    return ST_OK;
}

/* partials += pass `pass` of the standardisation partial of each of this rank's shards over its
 * rows of block rows X [n] (their shards shard [n], lengths len [n] or NULL). */
static st_status_t std_accumulate(st_data_t *d, const int32_t *shard, const float *X, const int32_t *len, int64_t n,
                                  int T, int F, int pass, st_error_t *err) {
    int C = st_shape_channels(d->shape);
    int64_t plen = d->has_lengths ? st_std_partial_len_masked(F) : st_std_partial_len(F);
    int64_t *idx = zalloc((size_t)n, sizeof *idx, "row positions", err);
    if (!idx) return err->code;
    for (int s = d->shard_first; s < d->shard_end; s++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (shard[i] == s) idx[m++] = i;
        st_standardize_accumulate(d->stream_std_partials + (size_t)s * (size_t)plen, X, d->has_lengths ? len : NULL,
                                  idx, m, T, F, C, pass);
    }
    free(idx);
    return ST_OK;
}

/* Block b read raw into slot 0 (*n rows: my_ids[my_start[b] ..]) and the shards of its rows
 * into *shard (freed by the caller; a block's worth: the shard map has no lookup arrays). */
static st_status_t read_block(st_data_t *d, int64_t b, int64_t *n, int32_t **shard, st_error_t *err) {
    st_stream_t *s = d->stream;
    ST_TRY(st_stream_read_block(s, 0, b, n, err));
    if (!(*shard = zalloc((size_t)*n, sizeof **shard, "the shards of a block's rows", err))) return err->code;
    return st_shards_of(*shard, &d->shards, s->my_ids + s->my_start[b], *n, err);
}

/* The blocks holding training rows, ascending: the same list on every rank. */
static int has_train_rows(const st_stream_t *s, int64_t b) {
    for (int sd = 0; sd < s->S; sd++)
        if (s->counts[b * s->S + sd] > 0) return 1;
    return 0;
}

st_status_t st_data_stream_scan(st_data_t *d, const st_data_config_t *cfg, st_row_checks_t *k, int std_T, int std_F,
                                const st_comm_t *c, st_error_t *err) {
    st_stream_t *s = d->stream;
    int64_t plen = d->has_lengths ? st_std_partial_len_masked(std_F) : st_std_partial_len(std_F);
    d->stream_tgt_sums = zalloc((size_t)d->S * 3 * (size_t)(d->tgt_floats ? d->tgt_floats : 1), sizeof(double),
                                "target statistics", err);
    st_status_t rc = d->stream_tgt_sums ? ST_OK : err->code;
    if (rc == ST_OK && cfg->standardize &&
        !(d->stream_std_partials = zalloc((size_t)d->S * (size_t)plen, sizeof(double), "statistics", err)))
        rc = err->code;
    if (rc == ST_OK) rc = st_weight_keys_scan_begin(d, err); /* the weight keys of this rank's rows */
    rc = st_comm_agree(c, rc, err);
    int longest = 0;
    for (int64_t b = 0; rc == ST_OK && b < s->n_blocks; b++) {
        if (!has_train_rows(s, b)) continue;
        int64_t n = 0;
        int32_t *shard = NULL;
        rc = read_block(d, b, &n, &shard, err);
        const int64_t *ids = s->my_ids + s->my_start[b];
        if (rc == ST_OK) {
            st_data_rows_check(k, d, ids, s->X, s->T, n);
            st_data_target_sums(d->stream_tgt_sums, d, ids, shard, s->T, n);
            rc = count_targets(d, s->T, n, err);
            st_weight_keys_scan_block(d, ids, s->T, s->len, n);
        }
        for (int64_t i = 0; rc == ST_OK && s->len && i < n; i++)
            if (s->len[i] > longest) longest = s->len[i];
        if (rc == ST_OK && cfg->scale_pixels) st_scale_pixels(s->X, n * d->row_floats);
        if (rc == ST_OK && cfg->standardize) rc = std_accumulate(d, shard, s->X, s->len, n, std_T, std_F, 1, err);
        free(shard);
        rc = st_comm_agree(c, rc, err);
    }
    s->slot_block[0] = -1;
    if (rc == ST_OK && d->has_lengths) {
        int all = 0;
        ST_MPI(MPI_Allreduce(&longest, &all, 1, MPI_INT, MPI_MAX, c->comm), err);
        if (all > d->T_max) d->T_max = all; /* read_lengths took the val and test rows' longest */
    }
    return rc;
}

st_status_t st_data_stream_std_pass2(st_data_t *d, int scale_pixels, int std_T, int std_F, const st_comm_t *c,
                                     st_error_t *err) {
    st_stream_t *s = d->stream;
    int64_t plen = d->has_lengths ? st_std_partial_len_masked(std_F) : st_std_partial_len(std_F);
    for (int sd = d->shard_first; sd < d->shard_end; sd++)
        st_standardize_means(d->stream_std_partials + (size_t)sd * (size_t)plen, std_F, d->has_lengths);
    st_status_t rc = ST_OK;
    for (int64_t b = 0; rc == ST_OK && b < s->n_blocks; b++) {
        if (!has_train_rows(s, b)) continue;
        int64_t n = 0;
        int32_t *shard = NULL;
        rc = read_block(d, b, &n, &shard, err);
        if (rc == ST_OK && scale_pixels) st_scale_pixels(s->X, n * d->row_floats);
        if (rc == ST_OK) rc = std_accumulate(d, shard, s->X, s->len, n, std_T, std_F, 2, err);
        free(shard);
        rc = st_comm_agree(c, rc, err);
    }
    s->slot_block[0] = -1;
    return rc;
}
