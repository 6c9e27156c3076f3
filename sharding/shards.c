/* shards.c — stratified virtual shards (Philox order per class, dealt round-robin), rank
 * ownership of shard blocks, and shard-count planning; the rules are in shards.h and
 * docs/sharding.md. */
#include "shards.h"

#include <stdlib.h>
#include <string.h>

#include "philox.h"

typedef struct {
    uint64_t key;
    int64_t pos; /* position in the (ascending) training ids, so ties break by id */
    int32_t cls;
} keyed_pos_t;

static int cmp_keyed_pos(const void *pa, const void *pb) {
    const keyed_pos_t *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

void st_shards_free(st_shards_t *sh) {
    st_free(sh->ids);
    st_free(sh->shard_of);
    st_free(sh->shard_start);
    st_free(sh->rows);
    memset(sh, 0, sizeof *sh);
}

st_status_t st_shards_build(st_shards_t *sh, const int64_t *train_ids, const int32_t *train_labels, uint64_t seed,
                            int64_t n_train, int K, int S, st_error_t *err) {
    memset(sh, 0, sizeof *sh);
    if (S < 1 || S > (1 << 24)) return st_fail(err, ST_ERR_CONFIG, "shards: shard count %d is not in 1..16777216", S);
    if (K < 1 || K > (1 << 24)) return st_fail(err, ST_ERR_CONFIG, "shards: class count %d is not in 1..16777216", K);
    if (n_train < S)
        return st_fail(err, ST_ERR_DATA,
                       "shards: the training split has %lld samples, fewer than the %d virtual shards "
                       "(each shard needs at least one micro-batch)", (long long)n_train, S);
    for (int64_t i = 0; i < n_train; i++) {
        if (train_ids[i] < 0 || (i > 0 && train_ids[i] <= train_ids[i - 1]))
            return st_fail(err, ST_ERR_INTERNAL, "shards: training ids must be ascending and non-negative "
                           "(position %lld has id %lld)", (long long)i, (long long)train_ids[i]);
        if (train_labels[i] < 0 || train_labels[i] >= K)
            return st_fail(err, ST_ERR_DATA, "shards: row %lld has label %d, outside 0..%d", (long long)train_ids[i],
                           train_labels[i], K - 1);
    }
    size_t n = (size_t)n_train;
    sh->ids = st_alloc(n * sizeof(int64_t), "shard ids", err);
    sh->shard_of = sh->ids ? st_alloc(n * sizeof(int32_t), "shard map", err) : NULL;
    sh->shard_start = sh->shard_of ? st_alloc(((size_t)S + 1) * sizeof(int64_t), "shard offsets", err) : NULL;
    sh->rows = sh->shard_start ? st_alloc(n * sizeof(int64_t), "shard rows", err) : NULL;
    keyed_pos_t *order = sh->rows ? st_alloc(n * sizeof(keyed_pos_t), "shard order", err) : NULL;
    if (!order) {
        st_shards_free(sh);
        return ST_ERR_NOMEM;
    }
    sh->n_shards = S;
    sh->n_train = n_train;
    memcpy(sh->ids, train_ids, n * sizeof(int64_t));
    for (int64_t i = 0; i < n_train; i++) {
        uint32_t w[4];
        st_rand_u32x4(seed, ST_RNG_SHARD, (uint32_t)train_labels[i], 0, (uint64_t)train_ids[i], w);
        order[i] = (keyed_pos_t){(uint64_t)w[0] << 32 | w[1], i, train_labels[i]};
    }
    qsort(order, n, sizeof *order, cmp_keyed_pos);
    /* The k-th sample in (class, key) order goes to shard k mod S: round-robin within a class,
     * each class continuing at the shard after the previous class's last one. */
    for (int64_t k = 0; k < n_train; k++) sh->shard_of[order[k].pos] = (int32_t)(k % S);
    st_free(order);
    for (int64_t i = 0; i < n_train; i++) sh->shard_start[sh->shard_of[i] + 1]++;
    for (int s = 0; s < S; s++) sh->shard_start[s + 1] += sh->shard_start[s];
    int64_t *fill = st_alloc((size_t)S * sizeof(int64_t), "shard fill", err);
    if (!fill) {
        st_shards_free(sh);
        return ST_ERR_NOMEM;
    }
    memcpy(fill, sh->shard_start, (size_t)S * sizeof(int64_t));
    for (int64_t i = 0; i < n_train; i++) sh->rows[fill[sh->shard_of[i]]++] = train_ids[i];
    st_free(fill);
    return ST_OK;
}

const int64_t *st_shards_rows(const st_shards_t *sh, int s, int64_t *n_rows) {
    *n_rows = sh->shard_start[s + 1] - sh->shard_start[s];
    return sh->rows + sh->shard_start[s];
}

int64_t st_ids_lower_bound(const int64_t *ids, int64_t n, int64_t id) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int st_shards_find(const st_shards_t *sh, int64_t id) {
    if (!sh->ids) { /* the lookup arrays were dropped: each shard's rows are ascending */
        for (int s = 0; s < sh->n_shards; s++) {
            int64_t n = sh->shard_start[s + 1] - sh->shard_start[s];
            int64_t i = st_ids_lower_bound(sh->rows + sh->shard_start[s], n, id);
            if (i < n && sh->rows[sh->shard_start[s] + i] == id) return s;
        }
        return -1;
    }
    int64_t i = st_ids_lower_bound(sh->ids, sh->n_train, id);
    return i < sh->n_train && sh->ids[i] == id ? sh->shard_of[i] : -1;
}

void st_shards_drop_lookup(st_shards_t *sh) {
    st_free(sh->ids);
    st_free(sh->shard_of);
    sh->ids = NULL, sh->shard_of = NULL;
}

st_status_t st_shards_owned(int *first, int *end, int rank, int n_ranks, int S, st_error_t *err) {
    if (n_ranks < 1 || rank < 0 || rank >= n_ranks)
        return st_fail(err, ST_ERR_INTERNAL, "shards: rank %d of %d ranks", rank, n_ranks);
    if (n_ranks > S) {
        char hint[160];
        if (n_ranks <= ST_SHARDS_AUTO_MAX)
            st_format(hint, sizeof hint, "e.g. batch_size %d with accumulation_steps 1 gives %d shards",
                      n_ranks * ST_SHARDS_AUTO_MIN_MICRO, n_ranks);
        else
            st_format(hint, sizeof hint, "the automatic count stops at %d, so set shards explicitly", ST_SHARDS_AUTO_MAX);
        return st_fail(err, ST_ERR_CONFIG,
                       "%d ranks but only %d virtual shard%s: every rank needs at least one shard. Run on at most %d "
                       "rank%s, or use a larger batch_size or an explicit shard count (batch_size = shards x "
                       "micro_batch x accumulation_steps; the automatic shard count is the largest S <= %d with "
                       "micro-batches of at least %d samples: %s)",
                       n_ranks, S, S == 1 ? "" : "s", S, S == 1 ? "" : "s", ST_SHARDS_AUTO_MAX, ST_SHARDS_AUTO_MIN_MICRO,
                       hint);
    }
    *first = (int)((int64_t)rank * S / n_ranks);
    *end = (int)((int64_t)(rank + 1) * S / n_ranks);
    return ST_OK;
}

st_status_t st_shards_rank_rows(int64_t *rows, int64_t *n_rows, const st_shards_t *sh, int rank, int n_ranks,
                                st_error_t *err) {
    int first = 0, end = 0;
    ST_TRY(st_shards_owned(&first, &end, rank, n_ranks, sh->n_shards, err));
    if (!rows) {
        *n_rows = sh->shard_start[end] - sh->shard_start[first];
        return ST_OK;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < sh->n_train; i++)
        if (sh->shard_of[i] >= first && sh->shard_of[i] < end) rows[m++] = sh->ids[i];
    *n_rows = m;
    return ST_OK;
}

st_status_t st_shards_locate(int64_t *pos, const int64_t *ids, const int64_t *sorted, int64_t n, int64_t n_sorted,
                             st_error_t *err) {
    for (int64_t i = 0; i < n; i++) {
        int64_t j = st_ids_lower_bound(sorted, n_sorted, ids[i]);
        if (j == n_sorted || sorted[j] != ids[i])
            return st_fail(err, ST_ERR_INTERNAL, "shards: sample %lld is not among this rank's rows", (long long)ids[i]);
        pos[i] = j;
    }
    return ST_OK;
}

/* "batch sizes that fit": the multiples of S·accumulation around batch_size. */
static void fitting_batches(char *buf, size_t size, int64_t batch_size, int64_t unit) {
    int64_t below = batch_size / unit * unit, above = below + unit;
    if (below > 0) st_format(buf, size, "%lld or %lld", (long long)below, (long long)above);
    else st_format(buf, size, "%lld", (long long)above);
}

/* Shard counts <= 64 dividing per_step, listed for messages. */
static void fitting_shards(char *buf, size_t size, int64_t per_step) {
    buf[0] = '\0';
    for (int s = 1, first = 1; s <= ST_SHARDS_AUTO_MAX && s <= per_step; s++) {
        if (per_step % s) continue;
        size_t l = strlen(buf);
        st_format(buf + l, size - l, "%s%d", first ? "" : ", ", s);
        first = 0;
    }
}

st_status_t st_shards_plan(int *S, int *micro_batch, int64_t batch_size, int accumulation_steps, int requested_S,
                           int64_t n_train, st_error_t *err) {
    if (batch_size < 1) return st_fail(err, ST_ERR_CONFIG, "batch_size %lld must be positive", (long long)batch_size);
    if (accumulation_steps < 1)
        return st_fail(err, ST_ERR_CONFIG, "accumulation_steps %d must be positive", accumulation_steps);
    if (requested_S < 0 || requested_S > (1 << 24))
        return st_fail(err, ST_ERR_CONFIG, "shards %d must be 0 (auto) or in 1..16777216", requested_S);
    char fit[128], shards[256];
    if (batch_size % accumulation_steps) {
        fitting_batches(fit, sizeof fit, batch_size, accumulation_steps);
        return st_fail(err, ST_ERR_CONFIG,
                       "batch_size %lld is not a multiple of accumulation_steps %d (batch_size = shards x micro_batch x "
                       "accumulation_steps); batch sizes that would fit: %s",
                       (long long)batch_size, accumulation_steps, fit);
    }
    int64_t per_step = batch_size / accumulation_steps; /* samples per micro-step, all shards */
    int64_t s = requested_S;
    if (s > 0 && per_step % s) {
        fitting_batches(fit, sizeof fit, batch_size, s * accumulation_steps);
        fitting_shards(shards, sizeof shards, per_step);
        return st_fail(err, ST_ERR_CONFIG,
                       "batch_size %lld with accumulation_steps %d cannot be cut into %lld shards (batch_size = shards x "
                       "micro_batch x accumulation_steps); batch sizes that would fit: %s; shard counts that would "
                       "fit (<= %d): %s",
                       (long long)batch_size, accumulation_steps, (long long)s, fit, ST_SHARDS_AUTO_MAX, shards);
    }
    if (s == 0) {
        s = 1; /* per_step < 32: one shard holding the whole micro-step (one rank) */
        for (int c = ST_SHARDS_AUTO_MAX; c >= 1; c--)
            if (per_step % c == 0 && per_step / c >= ST_SHARDS_AUTO_MIN_MICRO) {
                s = c;
                break;
            }
    }
    if (per_step / s > 0x7fffffff)
        return st_fail(err, ST_ERR_CONFIG, "micro-batch of %lld samples is too large", (long long)(per_step / s));
    if (n_train >= 0 && n_train < batch_size) {
        /* the largest batch that fits: a multiple of accumulation_steps (× the shards, when given) */
        int64_t unit = (int64_t)accumulation_steps * (requested_S > 0 ? requested_S : 1), fit = n_train / unit * unit;
        char hint[160];
        if (fit > 0) st_format(hint, sizeof hint, "the largest batch_size that fits is %lld (--set train.batch_size=%lld)",
                               (long long)fit, (long long)fit);
        else st_format(hint, sizeof hint, "even one row per shard and accumulation step (%lld) does not fit: use fewer "
                       "shards or accumulation steps", (long long)unit);
        return st_fail(err, ST_ERR_DATA,
                       "the training split has %lld samples, fewer than one global batch of %lld (%lld shards x "
                       "micro_batch %lld x accumulation_steps %d): every shard needs at least one optimizer step per "
                       "epoch; %s",
                       (long long)n_train, (long long)batch_size, (long long)s, (long long)(per_step / s),
                       accumulation_steps, hint);
    }
    *S = (int)s;
    *micro_batch = (int)(per_step / s);
    return ST_OK;
}
