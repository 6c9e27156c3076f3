/* shards.c — stratified virtual shards (Philox order per class, dealt round-robin), rank
 * ownership of shard blocks, and shard-count planning; the rules are in shards.h and
 * docs/sharding.md. */
#include "shards.h"

#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "sharding/keyed_walk.h"

/* The walk's visitor: the k-th sample in (class, key) order goes to shard k mod S (ctx: &S). */
static uint32_t shard_of_position(void *ctx, int64_t item, int32_t cls, int64_t k, int64_t k_in_class) {
    (void)item, (void)cls, (void)k_in_class;
    return (uint32_t)(k % *(const int *)ctx);
}

static st_status_t check_counts(int64_t n_train, int K, int S, st_error_t *err) {
    if (S < 1 || S > (1 << 24)) return st_fail(err, ST_ERR_CONFIG, "shards: shard count %d is not in 1..16777216", S);
    if (K < 1 || K > (1 << 24)) return st_fail(err, ST_ERR_CONFIG, "shards: class count %d is not in 1..16777216", K);
    if (n_train < S)
        return st_fail(err, ST_ERR_DATA,
                       "shards: the training split has %lld samples, fewer than the %d virtual shards "
                       "(each shard needs at least one micro-batch)", (long long)n_train, S);
    return ST_OK;
}

/* shard_start [S + 1] from the sizes the rule gives (shard s holds the positions k = s mod S). */
static void shard_offsets(int64_t *shard_start, int64_t n_train, int S) {
    shard_start[0] = 0;
    for (int s = 0; s < S; s++) shard_start[s + 1] = shard_start[s] + (n_train - s + S - 1) / S;
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
    ST_TRY(check_counts(n_train, K, S, err));
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
    if (!sh->rows) {
        st_shards_free(sh);
        return ST_ERR_NOMEM;
    }
    sh->n_shards = S;
    sh->n_train = n_train;
    memcpy(sh->ids, train_ids, n * sizeof(int64_t));
    /* Positions in (class, key, position) order, ties by position = by id (ids ascend); the
     * shards straight into shard_of (the walk's tags). */
    st_keyed_pool_t kp = {.n = n_train, .cls = train_labels, .index = train_ids, .K = K, .seed = seed,
                          .purpose = ST_RNG_SHARD};
    st_status_t rc = st_keyed_walk((uint32_t *)sh->shard_of, &kp, 0, shard_of_position, &S, err);
    if (rc != ST_OK) {
        st_shards_free(sh);
        return rc;
    }
    shard_offsets(sh->shard_start, n_train, S);
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

/* rows (and, with the lookup, ids and shard_of) from every row's shard tag [N] (NONE: not
 * training), in ascending id. */
static st_status_t fill_from_tags(st_shards_t *sh, const uint32_t *tags, int64_t N, int lookup, st_error_t *err) {
    int S = sh->n_shards;
    int64_t *fill = st_alloc((size_t)S * sizeof(int64_t), "shard fill", err);
    if (!fill) return ST_ERR_NOMEM;
    memcpy(fill, sh->shard_start, (size_t)S * sizeof(int64_t));
    for (int64_t i = 0, j = 0; i < N; i++) {
        if (tags[i] == ST_KEYED_TAG_NONE) continue;
        sh->rows[fill[tags[i]]++] = i;
        if (lookup) sh->ids[j] = i, sh->shard_of[j++] = (int32_t)tags[i];
    }
    st_free(fill);
    return ST_OK;
}

st_status_t st_shards_build_split(st_shards_t *sh, const int32_t *y, const uint8_t *split, int part, uint64_t seed,
                                  int64_t N, int K, int S, int lookup, st_error_t *err) {
    memset(sh, 0, sizeof *sh);
    int64_t n_train = 0;
    for (int64_t i = 0; i < N; i++) {
        if (split[i] != part) continue;
        if (y[i] < 0 || y[i] >= K)
            return st_fail(err, ST_ERR_DATA, "shards: row %lld has label %d, outside 0..%d", (long long)i, y[i], K - 1);
        n_train++;
    }
    ST_TRY(check_counts(n_train, K, S, err));
    size_t n = (size_t)n_train;
    uint32_t *tags = st_alloc((size_t)(N ? N : 1) * sizeof *tags, "shard order", err);
    sh->shard_start = tags ? st_alloc(((size_t)S + 1) * sizeof(int64_t), "shard offsets", err) : NULL;
    sh->rows = sh->shard_start ? st_alloc(n * sizeof(int64_t), "shard rows", err) : NULL;
    if (lookup && sh->rows) {
        sh->ids = st_alloc(n * sizeof(int64_t), "shard ids", err);
        sh->shard_of = sh->ids ? st_alloc(n * sizeof(int32_t), "shard map", err) : NULL;
    }
    if (!sh->rows || (lookup && !sh->shard_of)) {
        st_free(tags), st_shards_free(sh);
        return ST_ERR_NOMEM;
    }
    sh->n_shards = S;
    sh->n_train = n_train;
    shard_offsets(sh->shard_start, n_train, S);
    /* every row of the part in (class, key, row) order: row ids are the positions' tie order */
    st_keyed_pool_t kp = {.n = N, .cls = y, .pool = split, .pool_value = part, .K = K, .seed = seed,
                          .purpose = ST_RNG_SHARD};
    st_status_t rc = st_keyed_walk(tags, &kp, 0, shard_of_position, &S, err);
    if (rc == ST_OK) rc = fill_from_tags(sh, tags, N, lookup, err);
    st_free(tags);
    if (rc != ST_OK) st_shards_free(sh);
    return rc;
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
    if (sh->ids) {
        for (int64_t i = 0; i < sh->n_train; i++)
            if (sh->shard_of[i] >= first && sh->shard_of[i] < end) rows[m++] = sh->ids[i];
        *n_rows = m;
        return ST_OK;
    }
    /* Without the lookup: the owned shards' rows marked in a bitmap over ids (1 bit a row), read
     * back in ascending order. */
    int64_t top = -1;
    for (int s = first; s < end; s++)
        if (sh->shard_start[s + 1] > sh->shard_start[s] && sh->rows[sh->shard_start[s + 1] - 1] > top)
            top = sh->rows[sh->shard_start[s + 1] - 1];
    uint64_t *bits = st_alloc(((size_t)(top + 1) / 64 + 1) * sizeof *bits, "a rank's rows (bitmap)", err);
    if (!bits) return ST_ERR_NOMEM;
    for (int64_t i = sh->shard_start[first]; i < sh->shard_start[end]; i++)
        bits[sh->rows[i] / 64] |= 1ull << (sh->rows[i] % 64);
    for (int64_t id = 0; id <= top; id++)
        if (bits[id / 64] >> (id % 64) & 1) rows[m++] = id;
    st_free(bits);
    *n_rows = m;
    return ST_OK;
}

st_status_t st_shards_of(int32_t *shard, const st_shards_t *sh, const int64_t *ids, int64_t n, st_error_t *err) {
    if (n == 0) return ST_OK;
    if (sh->ids) {
        for (int64_t i = 0; i < n; i++) shard[i] = st_shards_find(sh, ids[i]);
        return ST_OK;
    }
    /* Without the lookup: each shard's rows within [ids[0], ids[n-1]] mark a map over that span. */
    int64_t lo = ids[0], span = ids[n - 1] - ids[0] + 1;
    int32_t *map = st_alloc((size_t)span * sizeof *map, "shards of a block's rows", err);
    if (!map) return ST_ERR_NOMEM;
    for (int64_t j = 0; j < span; j++) map[j] = -1;
    for (int s = 0; s < sh->n_shards; s++) {
        int64_t m;
        const int64_t *r = st_shards_rows(sh, s, &m);
        for (int64_t j = st_ids_lower_bound(r, m, lo); j < m && r[j] < lo + span; j++) map[r[j] - lo] = s;
    }
    for (int64_t i = 0; i < n; i++) shard[i] = map[ids[i] - lo];
    st_free(map);
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
