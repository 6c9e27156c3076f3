/* sampler.c — per-epoch shard orders (Philox keys sorted once per epoch) and micro-batches cut
 * from them; the rules are in sampler.h and docs/sharding.md. */
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

#include "philox.h"

static int cmp_keyed_id(const void *pa, const void *pb) {
    const st_keyed_id_t *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

void st_sampler_shard_order_repeat(int64_t *out, st_keyed_id_t *scratch, const int64_t *rows, uint64_t seed,
                                   int shard, int64_t epoch, int64_t n, int repeat) {
    for (int64_t i = 0; i < n; i++)
        for (int r = 0; r < repeat; r++) {
            int64_t o = rows[i] * repeat + r; /* the occurrence id; = the row id when repeat is 1 */
            uint32_t w[4];
            st_rand_u32x4(seed, ST_RNG_SHUFFLE, (uint32_t)shard, (uint32_t)epoch, (uint64_t)o, w);
            scratch[i * repeat + r] = (st_keyed_id_t){(uint64_t)w[0] << 32 | w[1], o};
        }
    qsort(scratch, (size_t)(n * repeat), sizeof *scratch, cmp_keyed_id);
    for (int64_t i = 0; i < n * repeat; i++) out[i] = scratch[i].id;
}

void st_sampler_shard_order(int64_t *out, st_keyed_id_t *scratch, const int64_t *rows, uint64_t seed, int shard,
                            int64_t epoch, int64_t n) {
    st_sampler_shard_order_repeat(out, scratch, rows, seed, shard, epoch, n, 1);
}

static uint64_t block_key(uint64_t seed, int64_t epoch, int64_t block) {
    uint32_t w[4];
    st_rand_u32x4(seed, ST_RNG_WINDOW, 0, (uint32_t)epoch, (uint64_t)block, w);
    return (uint64_t)w[0] << 32 | w[1];
}

void st_sampler_block_order(int64_t *blocks, st_keyed_id_t *scratch, uint64_t seed, int64_t epoch, int64_t n) {
    for (int64_t i = 0; i < n; i++) scratch[i] = (st_keyed_id_t){block_key(seed, epoch, blocks[i]), blocks[i]};
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_keyed_id);
    for (int64_t i = 0; i < n; i++) blocks[i] = scratch[i].id;
}

/* The shard's rows are ascending, so each block's rows are one run of them. The runs are sorted
 * by their block's key (ties by block = by run start); the sorted run starts are parked in the
 * last nb entries of out, which the front-to-back fill reaches only after reading them (every
 * run fills >= 1 entry, so after j runs at most n·k - (nb - j) entries are written). */
void st_sampler_shard_order_windowed(int64_t *out, st_keyed_id_t *scratch, const int64_t *rows, uint64_t seed,
                                     int shard, int64_t epoch, int64_t n, int repeat, int64_t W) {
    int64_t nb = 0, total = n * repeat;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || rows[i] / W != rows[i - 1] / W)
            scratch[nb++] = (st_keyed_id_t){block_key(seed, epoch, rows[i] / W), i};
    qsort(scratch, (size_t)nb, sizeof *scratch, cmp_keyed_id);
    int64_t *starts = out + total - nb;
    for (int64_t j = 0; j < nb; j++) starts[j] = scratch[j].id;
    for (int64_t j = 0, at = 0; j < nb; j++) {
        int64_t first = starts[j], end = first + 1, b = rows[first] / W;
        while (end < n && rows[end] / W == b) end++;
        st_sampler_shard_order_repeat(out + at, scratch, rows + first, seed, shard, epoch, end - first, repeat);
        at += (end - first) * repeat;
    }
}

int64_t st_sampler_steps_per_epoch(const st_shards_t *sh, int micro_batch, int accumulation) {
    if (micro_batch < 1 || accumulation < 1 || sh->n_shards < 1) return 0;
    int64_t smallest = INT64_MAX;
    for (int s = 0; s < sh->n_shards; s++) {
        int64_t n = sh->shard_start[s + 1] - sh->shard_start[s];
        if (n < smallest) smallest = n;
    }
    return smallest / ((int64_t)micro_batch * accumulation);
}

void st_sampler_free(st_sampler_t *sp) {
    st_free(sp->order);
    st_free(sp->scratch);
    st_free(sp->scratch_off);
    st_free(sp->bucket_len);
    st_free(sp->bucket_tmp);
    memset(sp, 0, sizeof *sp);
}

st_status_t st_sampler_init(st_sampler_t *sp, const st_shards_t *sh, int shard_first, int shard_end, int micro_batch,
                            int accumulation, uint64_t seed, st_error_t *err) {
    memset(sp, 0, sizeof *sp);
    if (shard_first < 0 || shard_end > sh->n_shards || shard_first > shard_end)
        return st_fail(err, ST_ERR_INTERNAL, "sampler: shards [%d, %d) outside 0..%d", shard_first, shard_end,
                       sh->n_shards);
    if (micro_batch < 1 || accumulation < 1)
        return st_fail(err, ST_ERR_CONFIG, "sampler: micro_batch %d and accumulation_steps %d must be positive",
                       micro_batch, accumulation);
    int64_t steps = st_sampler_steps_per_epoch(sh, micro_batch, accumulation);
    if (steps < 1) {
        int64_t smallest = INT64_MAX;
        for (int s = 0; s < sh->n_shards; s++)
            if (sh->shard_start[s + 1] - sh->shard_start[s] < smallest) smallest = sh->shard_start[s + 1] - sh->shard_start[s];
        return st_fail(err, ST_ERR_DATA,
                       "sampler: the smallest of the %d shards has %lld samples, fewer than one optimizer step's "
                       "micro_batch %d x accumulation_steps %d = %lld; an epoch would have no step (the training split "
                       "of %lld samples needs at least %lld = one global batch)",
                       sh->n_shards, (long long)smallest, micro_batch, accumulation,
                       (long long)micro_batch * accumulation, (long long)sh->n_train,
                       (long long)micro_batch * accumulation * sh->n_shards);
    }
    int64_t n = sh->shard_start[shard_end] - sh->shard_start[shard_first];
    /* The sort scratch comes with the first epoch (full size) or st_sampler_set_window (one block
     * per shard): a windowed sampler never holds 16 bytes per row of its shards. */
    sp->order = st_alloc((size_t)(n ? n : 1) * sizeof(int64_t), "sampler order", err);
    if (!sp->order) {
        st_sampler_free(sp);
        return ST_ERR_NOMEM;
    }
    sp->shards = sh;
    sp->seed = seed;
    sp->shard_first = shard_first;
    sp->shard_end = shard_end;
    sp->micro_batch = micro_batch;
    sp->accumulation = accumulation;
    sp->steps_per_epoch = steps;
    sp->epoch = -1;
    sp->repeat = 1;
    return ST_OK;
}

st_status_t st_sampler_set_repeat(st_sampler_t *sp, int repeat, st_error_t *err) {
    if (repeat < 1) return st_fail(err, ST_ERR_CONFIG, "data.repeat: expected an integer >= 1, got %d", repeat);
    if (sp->bucket_window > 0 || sp->window_rows > 0)
        return st_fail(err, ST_ERR_INTERNAL, "sampler: st_sampler_set_repeat comes before st_sampler_set_buckets and "
                       "st_sampler_set_window");
    const st_shards_t *sh = sp->shards;
    int64_t n = (sh->shard_start[sp->shard_end] - sh->shard_start[sp->shard_first]) * repeat;
    int64_t smallest = INT64_MAX;
    for (int s = 0; s < sh->n_shards; s++)
        if (sh->shard_start[s + 1] - sh->shard_start[s] < smallest) smallest = sh->shard_start[s + 1] - sh->shard_start[s];
    if (smallest > INT64_MAX / 4 / repeat)
        return st_fail(err, ST_ERR_CONFIG, "data.repeat: %d occurrences of %lld rows do not fit", repeat, (long long)smallest);
    st_free(sp->order);
    st_free(sp->scratch);
    sp->scratch = NULL;
    sp->order = st_alloc((size_t)(n ? n : 1) * sizeof(int64_t), "sampler order", err);
    if (!sp->order) return ST_ERR_NOMEM;
    sp->repeat = repeat;
    sp->steps_per_epoch = smallest * repeat / ((int64_t)sp->micro_batch * sp->accumulation);
    sp->epoch = -1;
    return ST_OK;
}

int64_t st_sampler_window_scratch(int64_t *offsets, const st_shards_t *sh, int shard_first, int shard_end, int64_t W,
                                  int repeat) {
    int64_t total = 0;
    for (int s = shard_first; s < shard_end; s++) {
        int64_t nb = 0, run = 0, longest = 0;
        for (int64_t i = sh->shard_start[s]; i < sh->shard_start[s + 1]; i++) {
            int new_block = i == sh->shard_start[s] || sh->rows[i] / W != sh->rows[i - 1] / W;
            nb += new_block, run = new_block ? 1 : run + 1;
            if (run > longest) longest = run;
        }
        if (offsets) offsets[s - shard_first] = total;
        total += nb > longest * repeat ? nb : longest * repeat;
    }
    if (offsets) offsets[shard_end - shard_first] = total;
    return total;
}

st_status_t st_sampler_set_window(st_sampler_t *sp, int64_t window_rows, st_error_t *err) {
    if (window_rows < 0)
        return st_fail(err, ST_ERR_CONFIG, "data.window_rows: expected a positive integer, got %lld", (long long)window_rows);
    if (window_rows > 0 && sp->bucket_window > 0)
        return st_fail(err, ST_ERR_CONFIG, "data.order \"windowed\" cannot be combined with data.bucket_by_length; "
                       "set one of them off");
    /* The windowed order sorts one block at a time: scratch for each shard's largest block. */
    int64_t n_sh = sp->shard_end - sp->shard_first, n_occ = 0;
    int64_t *off = window_rows > 0 ? st_alloc((size_t)(n_sh + 1) * sizeof *off, "sampler scratch", err) : NULL;
    if (window_rows > 0 && !off) return ST_ERR_NOMEM;
    if (off) n_occ = st_sampler_window_scratch(off, sp->shards, sp->shard_first, sp->shard_end, window_rows, sp->repeat);
    else n_occ = (sp->shards->shard_start[sp->shard_end] - sp->shards->shard_start[sp->shard_first]) * sp->repeat;
    st_keyed_id_t *scratch = st_alloc((size_t)(n_occ ? n_occ : 1) * sizeof *scratch, "sampler scratch", err);
    if (!scratch) return st_free(off), ST_ERR_NOMEM;
    st_free(sp->scratch), st_free(sp->scratch_off);
    sp->scratch = scratch, sp->scratch_off = off;
    sp->window_rows = window_rows;
    sp->epoch = -1;
    return ST_OK;
}

st_status_t st_sampler_set_epoch(st_sampler_t *sp, int64_t epoch, st_error_t *err) {
    if (epoch < 0 || epoch > (int64_t)UINT32_MAX)
        return st_fail(err, ST_ERR_CONFIG, "sampler: epoch %lld is not in 0..%u", (long long)epoch, UINT32_MAX);
    if (epoch == sp->epoch) return ST_OK;
    const st_shards_t *sh = sp->shards;
    int64_t base = sh->shard_start[sp->shard_first];
    if (!sp->scratch) { /* the shuffle order's scratch: every occurrence of the sampler's shards */
        int64_t n = (sh->shard_start[sp->shard_end] - base) * sp->repeat;
        if (!(sp->scratch = st_alloc((size_t)(n ? n : 1) * sizeof(st_keyed_id_t), "sampler scratch", err)))
            return ST_ERR_NOMEM;
    }
    /* Shards are independent, so their orders do not depend on the thread count. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = sp->shard_first; s < sp->shard_end; s++) {
        int64_t k = sp->repeat, n_rows = sh->shard_start[s + 1] - sh->shard_start[s], n = n_rows * k;
        int64_t off = (sh->shard_start[s] - base) * k;
        if (sp->window_rows > 0)
            st_sampler_shard_order_windowed(sp->order + off, sp->scratch + sp->scratch_off[s - sp->shard_first],
                                            sh->rows + sh->shard_start[s], sp->seed, s, epoch, n_rows, sp->repeat,
                                            sp->window_rows);
        else
            st_sampler_shard_order_repeat(sp->order + off, sp->scratch + off, sh->rows + sh->shard_start[s], sp->seed,
                                          s, epoch, n_rows, sp->repeat);
        if (sp->bucket_window > 0) {
            for (int64_t i = 0; i < n; i++) /* set_buckets checked that every row is there */
                sp->bucket_len[off + i] = sp->len[st_ids_lower_bound(sp->len_ids, sp->n_len, sp->order[off + i] / k)];
            st_sampler_bucket_order(sp->order + off, sp->bucket_len + off, sp->scratch + off, sp->bucket_tmp + off,
                                    sp->seed, s, epoch, n, sp->micro_batch, sp->bucket_window);
        }
    }
    sp->epoch = epoch;
    return ST_OK;
}

st_status_t st_sampler_micro_batch(int64_t *ids, const st_sampler_t *sp, int shard, int64_t step, int micro,
                                   st_error_t *err) {
    if (sp->epoch < 0) return st_fail(err, ST_ERR_INTERNAL, "sampler: no epoch set (call st_sampler_set_epoch)");
    if (shard < sp->shard_first || shard >= sp->shard_end)
        return st_fail(err, ST_ERR_INTERNAL, "sampler: shard %d is not one of this sampler's shards [%d, %d)", shard,
                       sp->shard_first, sp->shard_end);
    if (step < 0 || step >= sp->steps_per_epoch || micro < 0 || micro >= sp->accumulation)
        return st_fail(err, ST_ERR_INTERNAL, "sampler: step %lld micro-batch %d outside %lld steps x %d micro-batches",
                       (long long)step, micro, (long long)sp->steps_per_epoch, sp->accumulation);
    const st_shards_t *sh = sp->shards;
    int64_t off = (sh->shard_start[shard] - sh->shard_start[sp->shard_first]) * sp->repeat;
    off += (step * sp->accumulation + micro) * (int64_t)sp->micro_batch;
    memcpy(ids, sp->order + off, (size_t)sp->micro_batch * sizeof(int64_t));
    return ST_OK;
}

/* ---- length bucketing ---------------------------------------------------------------------- */

void st_sampler_bucket_order(int64_t *order, const int32_t *len_of_order, st_keyed_id_t *scratch, int64_t *tmp,
                             uint64_t seed, int shard, int64_t epoch, int64_t n, int micro_batch, int window) {
    int64_t w_rows = (int64_t)window * micro_batch;
    /* Each window sorted by (length, position): key = length << 40 | position (positions < 2^40,
     * lengths < 2^24), so the id never breaks a tie. */
    for (int64_t w0 = 0; w0 < n; w0 += w_rows) {
        int64_t m = n - w0 < w_rows ? n - w0 : w_rows;
        for (int64_t i = 0; i < m; i++)
            scratch[i] = (st_keyed_id_t){(uint64_t)len_of_order[w0 + i] << 40 | (uint64_t)(w0 + i), order[w0 + i]};
        qsort(scratch, (size_t)m, sizeof *scratch, cmp_keyed_id);
        for (int64_t i = 0; i < m; i++) tmp[w0 + i] = scratch[i].id;
    }
    /* The whole micro-batches in the order of their Philox keys, ties by number; the rest last.
     * The keys do not depend on the shard: every shard takes its micro-batches in the same order
     * of (window, place in the window), so at each step the shards' micro-batches come from the
     * same length quantile and a pass over several of them pads little. */
    (void)shard;
    int64_t n_mb = n / micro_batch;
    for (int64_t j = 0; j < n_mb; j++) {
        uint32_t w[4];
        st_rand_u32x4(seed, ST_RNG_BUCKET, 0, (uint32_t)epoch, (uint64_t)j, w);
        scratch[j] = (st_keyed_id_t){(uint64_t)w[0] << 32 | w[1], j};
    }
    qsort(scratch, (size_t)n_mb, sizeof *scratch, cmp_keyed_id);
    for (int64_t j = 0; j < n_mb; j++)
        memcpy(order + j * micro_batch, tmp + scratch[j].id * micro_batch, (size_t)micro_batch * sizeof *order);
    memcpy(order + n_mb * micro_batch, tmp + n_mb * micro_batch, (size_t)(n - n_mb * micro_batch) * sizeof *order);
}

st_status_t st_sampler_set_buckets(st_sampler_t *sp, const int32_t *len, const int64_t *ids, int64_t n, int window,
                                   st_error_t *err) {
    if (window < 1) return st_fail(err, ST_ERR_CONFIG, "data.bucket_window: expected a positive integer, got %d", window);
    if (sp->window_rows > 0)
        return st_fail(err, ST_ERR_CONFIG, "data.bucket_by_length cannot be combined with data.order \"windowed\"; "
                       "set one of them off");
    const st_shards_t *sh = sp->shards;
    int64_t lo = sh->shard_start[sp->shard_first], hi = sh->shard_start[sp->shard_end];
    for (int64_t i = lo; i < hi; i++) {
        int64_t at = st_ids_lower_bound(ids, n, sh->rows[i]);
        if (at >= n || ids[at] != sh->rows[i])
            return st_fail(err, ST_ERR_INTERNAL, "sampler: no length for row %lld of shard block [%d, %d)",
                           (long long)sh->rows[i], sp->shard_first, sp->shard_end);
    }
    size_t rows = (size_t)(hi - lo > 0 ? (hi - lo) * sp->repeat : 1);
    st_free(sp->bucket_len);
    st_free(sp->bucket_tmp);
    sp->bucket_tmp = NULL;
    sp->bucket_len = st_alloc(rows * sizeof(int32_t), "sampler lengths", err);
    if (sp->bucket_len) sp->bucket_tmp = st_alloc(rows * sizeof(int64_t), "sampler scratch", err);
    if (!sp->bucket_tmp) return ST_ERR_NOMEM;
    sp->len = len, sp->len_ids = ids, sp->n_len = n, sp->bucket_window = window;
    sp->epoch = -1;
    return ST_OK;
}
