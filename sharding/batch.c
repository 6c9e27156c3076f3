/* batch.c — a micro-batch's rows at their own longest length, and the sampler as the data config
 * asks (see batch.h). */
#include "sharding/batch.h"

#include <string.h>

void st_data_gather_rows(float *x, int32_t *len, int *T_run, const st_data_t *d, const st_data_part_t *p,
                         const int64_t *pos, int rows) {
    if (!d->has_lengths || !p->len) {
        *T_run = st_shape_positions(d->shape);
        for (int i = 0; i < rows; i++)
            memcpy(x + (size_t)i * (size_t)d->row_floats, p->X + (size_t)pos[i] * (size_t)d->row_floats,
                   (size_t)d->row_floats * sizeof(float));
        return;
    }
    int t_run = 1;
    for (int i = 0; i < rows; i++)
        if (p->len[pos[i]] > t_run) t_run = p->len[pos[i]];
    size_t C = (size_t)st_shape_channels(d->shape), run_floats = (size_t)t_run * C;
    for (int i = 0; i < rows; i++) { /* steps len..t_run-1 of a row are already 0 in p->X */
        memcpy(x + (size_t)i * run_floats, p->X + (size_t)pos[i] * (size_t)d->row_floats, run_floats * sizeof(float));
        if (len) len[i] = p->len[pos[i]];
    }
    *T_run = t_run;
}

void st_data_gather_rows_padded(float *x, int32_t *len, const st_data_t *d, const st_data_part_t *p,
                                const int64_t *pos, int rows, int T_pad) {
    size_t run_floats = (size_t)T_pad * (size_t)st_shape_channels(d->shape);
    for (int i = 0; i < rows; i++) {
        memcpy(x + (size_t)i * run_floats, p->X + (size_t)pos[i] * (size_t)d->row_floats, run_floats * sizeof(float));
        if (len) len[i] = p->len ? p->len[pos[i]] : T_pad;
    }
}

int st_data_compact_rows(float *x, const int32_t *len, int rows, int T_from, int C) {
    int t_run = 1;
    for (int i = 0; i < rows; i++)
        if (len[i] > t_run) t_run = len[i];
    if (t_run > T_from) t_run = T_from;
    size_t from = (size_t)T_from * (size_t)C, to = (size_t)t_run * (size_t)C;
    for (int i = 1; t_run < T_from && i < rows; i++) /* row i moves down: its source is after its target */
        memmove(x + (size_t)i * to, x + (size_t)i * from, to * sizeof(float));
    return t_run;
}

st_status_t st_data_sampler_init(st_sampler_t *sp, const st_data_t *d, int micro_batch, int accumulation,
                                 uint64_t seed, st_error_t *err) {
    ST_TRY(st_sampler_init(sp, &d->shards, d->shard_first, d->shard_end, micro_batch, accumulation, seed, err));
    st_status_t rc = d->repeat > 1 ? st_sampler_set_repeat(sp, d->repeat, err) : ST_OK;
    if (rc == ST_OK && d->window_rows > 0) rc = st_sampler_set_window(sp, d->window_rows, err);
    if (rc != ST_OK || !d->bucket_by_length) {
        if (rc != ST_OK) st_sampler_free(sp);
        return rc;
    }
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    rc = d->has_lengths ? st_sampler_set_buckets(sp, train->len, train->ids, train->n, d->bucket_window, err)
                                    : st_fail(err, ST_ERR_CONFIG, "data.bucket_by_length: %s has no /lengths",
                                              d->ds.path);
    if (rc != ST_OK) st_sampler_free(sp);
    return rc;
}

void st_data_zero_padding(float *X, const int32_t *len, int64_t n, long row_floats, int C) {
    for (int64_t i = 0; i < n; i++) {
        size_t valid = (size_t)len[i] * (size_t)C;
        memset(X + (size_t)i * (size_t)row_floats + valid, 0, ((size_t)row_floats - valid) * sizeof(float));
    }
}
