/* weight_keys.c — the weight key per loss head of every training row of a rank's own shards,
 * from the rows in memory or from the streamed start-up scan's table (see weight_keys.h). */
#include "weight_keys.h"

#include <math.h>
#include <string.h>
#include <stdlib.h>

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

int st_weight_keys_streamable(const st_loss_heads_t *losses, const st_data_t *d) {
    if (!d->stream_keys || !d->y_all) return 0;
    for (int h = 0; h < losses->n_heads; h++) {
        const st_loss_config_t *cfg = &losses->heads[h];
        int t = cfg->target_index;
        if (st_loss_is_sequence(cfg) || t < 0) continue;
        if (st_loss_uses_labels(cfg) != (d->ds.targets[t].kind == ST_TARGET_CLASS)) return 0;
    }
    return 1;
}

st_status_t st_weight_keys_init(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                st_error_t *err) {
    k->n_heads = losses->n_heads, k->shards = &d->shards;
    k->first = d->shards.shard_start[d->shard_first];
    k->n = d->shards.shard_start[d->shard_end] - k->first;
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

/* The key of K values v [K]: the mask of the present ones (K <= ST_WEIGHT_KEYS_MASK_MAX), or
 * their count. */
static int16_t presence_key(const float *v, int K) {
    int key = 0;
    for (int j = 0; j < K; j++)
        if (!isnan(v[j])) key += K <= ST_WEIGHT_KEYS_MASK_MAX ? 1 << j : 1;
    return (int16_t)(uint16_t)(key < 65536 ? key : KEY_MAX);
}

double st_weight_keys_value_weight(const int32_t *key, const st_mix_row_t *plan, int K, int B) {
    double w = 0;
    for (int r = 0; r < B; r++) {
        unsigned a = (uint16_t)key[r];
        if (K > ST_WEIGHT_KEYS_MASK_MAX) {
            w += a;
            continue;
        }
        if (plan && plan[r].lam < 1.0f) a |= (uint16_t)key[plan[r].partner];
        w += __builtin_popcount(a);
    }
    return w;
}

/* Head cfg's key for the row at `pos` of part: its class id, its present values' key
 * (presence_key), or 0 (a sequence head). */
static int16_t key_of(const st_loss_config_t *cfg, const st_data_t *d, const st_data_part_t *part, int64_t pos) {
    if (st_loss_is_sequence(cfg)) return 0;
    int t = cfg->target_index;
    if (t < 0) return (int16_t)part->y[pos];
    const float *v = part->T + (size_t)pos * (size_t)d->tgt_floats + d->tgt_offset[t];
    if (st_loss_uses_labels(cfg)) return (int16_t)(int32_t)v[0];
    return presence_key(v, st_loss_target_width(cfg));
}

/* The index of id in ids r [n] (ascending), or -1. A shard's ids spread evenly over the file, so
 * id's place between the first and last id is a close guess; a window around it, doubled until
 * it holds id, is then searched (a few probes instead of log2 n cache misses: the totals look up
 * every row of the rank's shards an epoch, in random order). */
static int64_t find_id(const int64_t *r, int64_t n, int64_t id) {
    if (n == 0 || id < r[0] || id > r[n - 1]) return -1;
    int64_t g = (int64_t)((double)(id - r[0]) / (double)(r[n - 1] - r[0] + 1) * (double)n), lo, hi, step = 8;
    if (g >= n) g = n - 1;
    if (r[g] <= id) { /* r[lo] <= id < r[hi] (or hi = n) */
        for (lo = g; lo + step < n && r[lo + step] <= id; step *= 2) lo += step;
        hi = lo + step < n ? lo + step : n;
    } else { /* r[hi] > id >= r[lo] (or lo = 0) */
        for (hi = g; hi - step > 0 && r[hi - step] > id; step *= 2) hi -= step;
        lo = hi - step > 0 ? hi - step : 0;
    }
    int64_t i = lo + st_ids_lower_bound(r + lo, hi - lo, id);
    return i < n && r[i] == id ? i : -1;
}

/* A streamed row's keys (the row with id at `pos` of d->stream_ids): each head's from the scan's
 * table (its target's column, or the label d->y_all for a head without one), and the length. */
static void keys_from_scan(int16_t *row, const st_weight_keys_t *k, const st_loss_heads_t *losses,
                           const st_data_t *d, int64_t id, int64_t pos) {
    int cols = d->n_targets + (d->has_lengths != 0);
    const int16_t *scan = d->stream_keys + (size_t)pos * (size_t)cols;
    for (int h = 0; h < k->n_heads; h++) {
        const st_loss_config_t *cfg = &losses->heads[h];
        int t = cfg->target_index;
        row[h] = st_loss_is_sequence(cfg) ? 0 : t < 0 ? (int16_t)d->y_all[id] : scan[t];
    }
    if (k->n_cols > k->n_heads) row[k->n_heads] = scan[d->n_targets];
}

st_status_t st_weight_keys_fill(st_weight_keys_t *k, const st_loss_heads_t *losses, const st_data_t *d,
                                const st_data_part_t *part, st_error_t *err) {
    const st_shards_t *sh = k->shards;
    if (d->stream && !st_weight_keys_streamable(losses, d))
        return st_fail(err, ST_ERR_INTERNAL, "weight keys: the streamed scan kept no keys these heads can read");
    const int64_t *ids = d->stream ? d->stream_ids : part->ids;
    int64_t n_ids = d->stream ? d->n_stream : part->n;
    for (int64_t r = k->first; r < k->first + k->n; r++) {
        int64_t pos = find_id(ids, n_ids, sh->rows[r]);
        if (pos < 0)
            return st_fail(err, ST_ERR_INTERNAL, "weight keys: training row %lld of this rank's shards is not held",
                           (long long)sh->rows[r]);
        int16_t *row = k->key + (size_t)(r - k->first) * k->n_cols;
        if (d->stream) {
            keys_from_scan(row, k, losses, d, sh->rows[r], pos);
            continue;
        }
        for (int h = 0; h < k->n_heads; h++) row[h] = key_of(&losses->heads[h], d, part, pos);
        if (k->n_cols > k->n_heads) row[k->n_heads] = (int16_t)part->len[pos];
    }
    return ST_OK;
}

const int16_t *st_weight_keys_row(const st_weight_keys_t *k, int s, int64_t id) {
    const st_shards_t *sh = k->shards;
    int64_t first = sh->shard_start[s], n = sh->shard_start[s + 1] - first;
    if (first < k->first || first + n > k->first + k->n) return NULL;
    int64_t i = find_id(sh->rows + first, n, id);
    return i >= 0 ? k->key + (size_t)(first + i - k->first) * k->n_cols : NULL;
}

st_status_t st_weight_keys_scan_begin(st_data_t *d, st_error_t *err) {
    size_t cols = (size_t)d->n_targets + (d->has_lengths != 0);
    size_t n = cols && d->n_stream > 0 ? (size_t)d->n_stream * cols : 1; /* non-NULL: the scan ran */
    if (!(d->stream_keys = calloc(n, sizeof(int16_t))))
        return st_fail(err, ST_ERR_NOMEM, "data.stream: cannot allocate the weight keys of %lld rows",
                       (long long)d->n_stream);
    return ST_OK;
}

/* Target t's key of the row with raw targets v [tgt_floats]: a class id, or its present values'
 * key (presence_key). */
static int16_t target_key(const st_data_t *d, int t, const float *v) {
    const st_target_info_t *ti = &d->ds.targets[t];
    v += d->tgt_offset[t];
    if (ti->kind == ST_TARGET_CLASS) return (int16_t)(int32_t)v[0];
    return presence_key(v, ti->width);
}

void st_weight_keys_scan_block(st_data_t *d, const int64_t *ids, const float *T, const int32_t *len, int64_t n) {
    int cols = d->n_targets + (d->has_lengths != 0);
    if (!d->stream_keys || cols == 0) return;
    for (int64_t i = 0; i < n; i++) {
        int64_t pos = find_id(d->stream_ids, d->n_stream, ids[i]);
        if (pos < 0) continue; /* not a training row here */
        int16_t *row = d->stream_keys + (size_t)pos * (size_t)cols;
        for (int t = 0; t < d->n_targets; t++) row[t] = target_key(d, t, T + (size_t)i * (size_t)d->tgt_floats);
        if (d->has_lengths) row[d->n_targets] = (int16_t)(len[i] < KEY_MAX ? len[i] : KEY_MAX);
    }
}
