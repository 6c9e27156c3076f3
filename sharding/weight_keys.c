/* weight_keys.c — every training row's weight key per loss head, built from each rank's shards
 * and shared (see weight_keys.h). */
#include "weight_keys.h"

#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "mpi/collectives.h"

#define KEY_MAX 32767

int st_weight_keys_possible(const st_loss_heads_t *losses) {
    for (int h = 0; h < losses->n_heads; h++) {
        const st_loss_config_t *cfg = &losses->heads[h];
        if (st_loss_is_sequence(cfg)) continue;
        int range = st_loss_uses_labels(cfg) ? cfg->n_classes : st_loss_target_width(cfg);
        if (range > KEY_MAX) return 0;
        if (!st_loss_uses_labels(cfg) && cfg->target_index < 0) return 0;
    }
    return 1;
}

int st_weight_keys_lengths_fit(const st_data_t *d) { return !d->has_lengths || d->T_max <= KEY_MAX; }

st_status_t st_weight_keys_init(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                st_error_t *err) {
    k->n_heads = losses->n_heads, k->shards = &d->shards, k->n = d->shards.n_train;
    k->n_cols = k->n_heads + (d->has_lengths != 0);
    k->key = calloc((size_t)(k->n > 0 ? k->n : 1) * (size_t)k->n_cols, sizeof(int16_t));
    if (!k->key)
        return st_fail(err, ST_ERR_NOMEM, "weight keys: cannot allocate %lld rows x %d heads",
                       (long long)k->n, k->n_heads);
    return ST_OK;
}

void st_weight_keys_free(st_weight_keys_t *k) {
    free(k->key);
    k->key = NULL;
}

/* Head cfg's key for the row at `pos` of part: its class id, the count of its present values,
 * or 0 (a sequence head). */
static int16_t key_of(const st_loss_config_t *cfg, const st_data_t *d, const st_data_part_t *part, int64_t pos) {
    if (st_loss_is_sequence(cfg)) return 0;
    int t = cfg->target_index;
    if (t < 0) return (int16_t)part->y[pos];
    const float *v = part->T + (size_t)pos * (size_t)d->tgt_floats + d->tgt_offset[t];
    if (st_loss_uses_labels(cfg)) return (int16_t)(int32_t)v[0];
    int K = st_loss_target_width(cfg), present = 0;
    for (int j = 0; j < K; j++) present += !isnan(v[j]);
    return (int16_t)present;
}

/* 1 when head cfg's class ids are the stratification classes d->y_all holds: the stratification
 * labels themselves, the target stratified on, or /y when that is what the split stratified on. */
static int reads_strat_labels(const st_loss_config_t *cfg, const st_data_t *d) {
    int t = cfg->target_index;
    if (t < 0) return 1;
    if (!st_loss_uses_labels(cfg) || d->strat_none) return 0;
    return t == d->strat_target || (d->strat_target < 0 && strcmp(d->ds.targets[t].h5path, "/y") == 0);
}

int st_weight_keys_streamable(const st_loss_heads_t *losses, const st_data_t *d) {
    if (d->has_lengths || !d->y_all) return 0;
    for (int h = 0; h < losses->n_heads; h++)
        if (!st_loss_is_sequence(&losses->heads[h]) && !reads_strat_labels(&losses->heads[h], d)) return 0;
    return 1;
}

/* A streamed run holds no training rows outside the step's blocks, but every row's
 * stratification class (d->y_all): the keys of heads that read it. */
static void fill_from_labels(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d) {
    const st_shards_t *sh = k->shards;
    for (int64_t r = sh->shard_start[d->shard_first]; r < sh->shard_start[d->shard_end]; r++)
        for (int h = 0; h < k->n_heads; h++)
            k->key[(size_t)r * k->n_cols + h] =
                st_loss_is_sequence(&losses->heads[h]) ? 0 : (int16_t)d->y_all[sh->rows[r]];
}

st_status_t st_weight_keys_fill(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                const st_data_part_t *part, st_error_t *err) {
    const st_shards_t *sh = k->shards;
    if (d->stream) {
        if (!st_weight_keys_streamable(losses, d))
            return st_fail(err, ST_ERR_INTERNAL, "weight keys: a streamed run keys only heads reading the labels");
        fill_from_labels(k, losses, d);
        return ST_OK;
    }
    for (int64_t r = sh->shard_start[d->shard_first]; r < sh->shard_start[d->shard_end]; r++) {
        int64_t pos = st_ids_lower_bound(part->ids, part->n, sh->rows[r]);
        if (pos == part->n || part->ids[pos] != sh->rows[r])
            return st_fail(err, ST_ERR_INTERNAL, "weight keys: training row %lld of this rank's shards is not held",
                           (long long)sh->rows[r]);
        int16_t *row = k->key + (size_t)r * k->n_cols;
        for (int h = 0; h < k->n_heads; h++) row[h] = key_of(&losses->heads[h], d, part, pos);
        if (k->n_cols > k->n_heads) row[k->n_heads] = (int16_t)part->len[pos];
    }
    return ST_OK;
}

st_status_t st_weight_keys_share(st_weight_keys_t *k, const st_data_t *d, const st_comm_t *c, st_error_t *err) {
    int64_t *offsets = malloc(sizeof(int64_t) * ((size_t)c->size + 1));
    if (!offsets) return st_fail(err, ST_ERR_NOMEM, "weight keys: out of memory");
    for (int r = 0; r <= c->size; r++) /* rank r's block: the rows of shards [S·r/P, S·(r+1)/P) */
        offsets[r] = d->shards.shard_start[(int64_t)d->S * r / c->size];
    st_status_t rc = st_allgather_blocks(k->key, offsets, (int)sizeof(int16_t) * k->n_cols, c, err);
    free(offsets);
    return rc;
}

const int16_t *st_weight_keys_row(const st_weight_keys_t *k, int s, int64_t id) {
    const st_shards_t *sh = k->shards;
    int64_t first = sh->shard_start[s], n = sh->shard_start[s + 1] - first;
    int64_t i = st_ids_lower_bound(sh->rows + first, n, id);
    return i < n && sh->rows[first + i] == id ? k->key + (size_t)(first + i) * k->n_cols : NULL;
}
