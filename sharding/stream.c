/* stream.c — the streamed training split's schedule, slots and block reads (see stream.h). */
#include "sharding/stream.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "sharding/batch.h"
#include "sharding/loader.h"
#include "sharding/sampler.h"
#include "sharding/standardize.h"

static void *zalloc(size_t n, size_t size, const char *what, st_error_t *err) {
    void *p = calloc(n ? n : 1, size);
    if (!p) st_fail(err, ST_ERR_NOMEM, "data.stream: cannot allocate %zu bytes for %s", n * size, what);
    return p;
}

st_status_t st_stream_init(st_stream_t *s, const st_dataset_t *ds, const st_comm_t *c, const st_shards_t *sh,
                           const int32_t *y_all, const int64_t *my_ids, int64_t n_mine, int shard_first, int shard_end,
                           int64_t W, st_error_t *err) {
    memset(s, 0, sizeof *s);
    if (W < 1) return st_fail(err, ST_ERR_CONFIG, "data.window_rows: expected a positive integer, got %lld", (long long)W);
    s->ds = ds, s->c = c, s->shards = sh, s->y_all = y_all, s->my_ids = my_ids, s->n_mine = n_mine;
    s->W = W, s->n_blocks = (ds->n + W - 1) / W, s->S = sh->n_shards;
    s->shard_first = shard_first, s->shard_end = shard_end, s->epoch = -1;
    int64_t nb = s->n_blocks;
    if (!(s->my_start = zalloc((size_t)nb + 1, sizeof(int64_t), "block starts", err))) return err->code;
    if (!(s->counts = zalloc((size_t)nb * (size_t)s->S, sizeof(int32_t), "block counts", err))) return err->code;
    if (!(s->visit = zalloc((size_t)nb, sizeof(int64_t), "the block order", err))) return err->code;
    if (!(s->first = zalloc((size_t)nb, sizeof(int64_t), "the schedule", err))) return err->code;
    if (!(s->last = zalloc((size_t)nb, sizeof(int64_t), "the schedule", err))) return err->code;
    for (int64_t b = 0; b <= nb; b++) s->my_start[b] = st_ids_lower_bound(my_ids, n_mine, b * W);
    for (int sd = 0; sd < s->S; sd++)
        for (int64_t i = sh->shard_start[sd]; i < sh->shard_start[sd + 1]; i++) s->counts[sh->rows[i] / W * s->S + sd]++;
    for (int64_t b = 0; b < nb; b++)
        if (s->my_start[b + 1] - s->my_start[b] > s->slot_cap) s->slot_cap = s->my_start[b + 1] - s->my_start[b];
    return ST_OK;
}

void st_stream_free(st_stream_t *s) {
    st_prefetch_close(&s->pf);
    free(s->my_start), free(s->counts), free(s->visit), free(s->first), free(s->last), free(s->slot_block);
    free(s->X), free(s->T), free(s->len), free(s->y);
    memset(s, 0, sizeof *s);
}

/* Epoch e's visiting order and the steps reading each visited block (see stream.h). */
static st_status_t schedule(st_stream_t *s, int64_t epoch, st_error_t *err) {
    int64_t nv = 0;
    for (int64_t b = 0; b < s->n_blocks; b++) {
        int64_t rows = 0;
        for (int sd = 0; sd < s->S; sd++) rows += s->counts[b * s->S + sd];
        if (rows > 0) s->visit[nv++] = b;
    }
    st_keyed_id_t *scratch = zalloc((size_t)nv, sizeof *scratch, "the block order", err);
    if (!scratch) return err->code;
    st_sampler_block_order(s->visit, scratch, s->seed, epoch, nv);
    free(scratch);
    for (int64_t k = 0; k < nv; k++) s->first[k] = INT64_MAX, s->last[k] = -1;
    for (int sd = 0; sd < s->S; sd++) {
        int64_t at = 0;
        for (int64_t k = 0; k < nv; k++) {
            int64_t n = (int64_t)s->counts[s->visit[k] * s->S + sd] * s->repeat;
            if (n > 0 && at / s->G < s->steps_per_epoch) {
                int64_t f = at / s->G, l = (at + n - 1) / s->G;
                if (l >= s->steps_per_epoch) l = s->steps_per_epoch - 1;
                if (f < s->first[k]) s->first[k] = f;
                if (l > s->last[k]) s->last[k] = l;
            }
            at += n;
        }
    }
    s->n_visit = nv;
    s->epoch = epoch;
    return ST_OK;
}

/* The visiting indices step t needs, in order, plus the next visited block (the prefetch, last;
 * *n_required excludes it): want [*n]. */
static void needed(const st_stream_t *s, int64_t t, int64_t *want, int *n, int *n_required, int cap) {
    int64_t top = -1;
    *n = 0;
    for (int64_t k = 0; k < s->n_visit; k++)
        if (s->first[k] <= t && t <= s->last[k]) {
            if (*n < cap) want[(*n)++] = k;
            top = k;
        }
    *n_required = *n;
    for (int64_t k = top + 1; top >= 0 && k < s->n_visit; k++)
        if (s->first[k] <= s->last[k]) { /* the next block some step reads */
            if (*n < cap) want[(*n)++] = k;
            break;
        }
}

st_status_t st_stream_plan(st_stream_t *s, int micro_batch, int accumulation, int repeat, int64_t steps_per_epoch,
                           uint64_t seed, int n_epochs, size_t *bytes, st_error_t *err) {
    s->G = (int64_t)micro_batch * accumulation, s->repeat = repeat > 1 ? repeat : 1;
    s->steps_per_epoch = steps_per_epoch, s->seed = seed;
    int64_t *depth = zalloc((size_t)steps_per_epoch + 1, sizeof(int64_t), "the schedule", err);
    if (!depth) return err->code;
    int peak = 1;
    for (int e = 0; e < (n_epochs > 0 ? n_epochs : 1); e++) { /* blocks per step: a sweep over the intervals */
        st_status_t rc = schedule(s, e, err);
        if (rc != ST_OK) return free(depth), rc;
        memset(depth, 0, sizeof(int64_t) * ((size_t)steps_per_epoch + 1));
        for (int64_t k = 0; k < s->n_visit; k++)
            if (s->first[k] <= s->last[k]) depth[s->first[k]]++, depth[s->last[k] + 1]--;
        int64_t run = 0;
        for (int64_t t = 0; t < steps_per_epoch; t++)
            if ((run += depth[t]) > peak) peak = (int)run;
    }
    free(depth);
    s->epoch = -1;
    s->n_slots = peak + 1;
    s->row_floats = st_shape_numel(s->ds->shape);
    s->n_targets = s->ds->n_targets, s->tgt_floats = 0;
    for (int t = 0; t < s->n_targets; t++) s->tgt_offset[t] = (int)s->tgt_floats, s->tgt_floats += s->ds->targets[t].width;
    size_t rows = (size_t)s->n_slots * (size_t)s->slot_cap;
    *bytes = rows * ((size_t)(s->row_floats + s->tgt_floats) * sizeof(float) + 2 * sizeof(int32_t));
    if (!(s->slot_block = zalloc((size_t)s->n_slots, sizeof(int64_t), "slots", err))) return err->code;
    for (int i = 0; i < s->n_slots; i++) s->slot_block[i] = -1;
    if (!(s->X = zalloc(rows, (size_t)s->row_floats * sizeof(float), "block rows", err))) return err->code;
    if (!(s->T = zalloc(rows, (size_t)(s->tgt_floats ? s->tgt_floats : 1) * sizeof(float), "block targets", err)))
        return err->code;
    if (!(s->y = zalloc(rows, sizeof(int32_t), "block labels", err))) return err->code;
    if (s->ds->has_lengths && !(s->len = zalloc(rows, sizeof(int32_t), "block lengths", err))) return err->code;
    int P = s->c->size;
    int64_t span = s->W < s->ds->n ? s->W : s->ds->n, share = (span + P - 1) / P;
    ST_TRY(st_prefetch_open(&s->pf, s->ds->path, (size_t)s->row_floats * sizeof(float), share, err));
    if (s->pf.usable) *bytes += (size_t)share * (size_t)s->row_floats * sizeof(float);
    return ST_OK;
}

/* This rank's share of block b's file rows: phase (a) of the two-phase read. */
static void share_of(const st_stream_t *s, int64_t b, int64_t *lo, int64_t *hi) {
    int64_t r0 = b * s->W, r1 = (b + 1) * s->W < s->ds->n ? (b + 1) * s->W : s->ds->n;
    st_loader_block(lo, hi, r1 - r0, s->c->rank, s->c->size);
    *lo += r0, *hi += r0;
}

void st_stream_set_transform(st_stream_t *s, int scale_pixels, const double *mean, const double *std, int T, int F,
                             int C) {
    s->scale_pixels = scale_pixels, s->mean = mean, s->std = std, s->std_T = T, s->std_F = F, s->C = C;
}

/* Every target's values of the block's rows, interleaved into the slot's T rows. */
static st_status_t read_targets(st_stream_t *s, float *T, const int64_t *want, int64_t n,
                                const st_loader_options_t *opt, st_error_t *err) {
    int widest = 1;
    for (int t = 0; t < s->n_targets; t++)
        if (s->ds->targets[t].width > widest) widest = s->ds->targets[t].width;
    float *one = zalloc((size_t)n * (size_t)widest, sizeof(float), "target values", err);
    st_status_t rc = st_comm_agree(s->c, one ? ST_OK : err->code, err);
    for (int t = 0; rc == ST_OK && t < s->n_targets; t++) {
        int w = s->ds->targets[t].width;
        rc = st_loader_gather_target_ex(s->ds, t, s->c, want, n, one, opt, err);
        for (int64_t i = 0; rc == ST_OK && i < n; i++)
            memcpy(T + (size_t)i * (size_t)s->tgt_floats + s->tgt_offset[t], one + (size_t)i * (size_t)w,
                   (size_t)w * sizeof(float));
    }
    free(one);
    return rc;
}

st_status_t st_stream_read_block(st_stream_t *s, int slot, int64_t b, int64_t *n, st_error_t *err) {
    double t0 = st_clock_s();
    const int64_t *want = s->my_ids + s->my_start[b];
    *n = s->my_start[b + 1] - s->my_start[b];
    int64_t hi = (b + 1) * s->W < s->ds->n ? (b + 1) * s->W : s->ds->n;
    st_loader_options_t opt = {.range_lo = b * s->W, .range_hi = hi};
    size_t at = (size_t)slot * (size_t)s->slot_cap;
    float *X = s->X + at * (size_t)s->row_floats;
    /* The prefetched share, when every rank has its share of this block. */
    int mine = s->pf.block == b && st_prefetch_wait(&s->pf), all = 0;
    ST_MPI(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, s->c->comm), err);
    s->pf.block = all ? s->pf.block : -1;
    st_loader_options_t x_opt = opt;
    if (all) x_opt.preread = s->pf.buf, s->blocks_prefetched++;
    st_status_t rc = st_loader_gather_rows_ex(s->ds, s->c, want, *n, X, &x_opt, NULL, err);
    if (all) s->pf.block = -1;
    if (rc == ST_OK) rc = read_targets(s, s->T + at * (size_t)s->tgt_floats, want, *n, &opt, err);
    if (rc == ST_OK && s->len) rc = st_loader_gather_lengths_ex(s->ds, s->c, want, *n, s->len + at, &opt, err);
    if (rc != ST_OK) return rc;
    if (s->len) st_data_zero_padding(X, s->len + at, *n, s->row_floats, st_shape_channels(s->ds->shape));
    for (int64_t i = 0; i < *n; i++) s->y[at + (size_t)i] = s->y_all[want[i]];
    s->slot_block[slot] = b;
    s->blocks_read++;
    s->read_s += st_clock_s() - t0;
    return ST_OK;
}

/* A block read for training: raw rows, then scaled and standardised as in memory. */
static st_status_t load_block(st_stream_t *s, int slot, int64_t b, st_error_t *err) {
    int64_t n;
    ST_TRY(st_stream_read_block(s, slot, b, &n, err));
    size_t at = (size_t)slot * (size_t)s->slot_cap;
    float *X = s->X + at * (size_t)s->row_floats;
    if (s->scale_pixels) st_scale_pixels(X, n * s->row_floats);
    if (s->mean && s->len) st_standardize_apply_masked(X, s->mean, s->std, s->len + at, n, s->std_T, s->std_F, s->C);
    else if (s->mean) st_standardize_apply(X, s->mean, s->std, n, s->std_T, s->std_F);
    return ST_OK;
}

st_status_t st_stream_step(st_stream_t *s, int64_t epoch, int64_t step, st_error_t *err) {
    if (epoch != s->epoch) ST_TRY(schedule(s, epoch, err));
    int64_t want[64];
    int n_want = 0, n_required = 0, cap = s->n_slots < 64 ? s->n_slots : 64;
    needed(s, step, want, &n_want, &n_required, cap);
    for (int i = 0; i < s->n_slots; i++) { /* evict what this step no longer needs */
        int keep = 0;
        for (int j = 0; j < n_want && !keep; j++) keep = s->slot_block[i] == s->visit[want[j]];
        if (!keep) s->slot_block[i] = -1;
    }
    for (int j = 0; j < n_want; j++) {
        int64_t b = s->visit[want[j]];
        int free_slot = -1, have = 0;
        for (int i = 0; i < s->n_slots; i++) {
            have |= s->slot_block[i] == b;
            if (s->slot_block[i] < 0 && free_slot < 0) free_slot = i;
        }
        if (have) continue;
        if (j >= n_required && s->pf.usable) { /* the next block: its share read in the background */
            if (s->pf.block != b) {
                int64_t lo, hi;
                share_of(s, b, &lo, &hi);
                st_prefetch_start(&s->pf, b, lo, hi);
            }
            continue;
        }
        if (free_slot < 0 && j >= n_required) continue; /* no room for the next block: later */
        if (free_slot < 0) /* the plan covers every step of the planned epochs */
            return st_fail(err, ST_ERR_INTERNAL, "data.stream: step %lld of epoch %lld needs more than %d blocks",
                           (long long)step, (long long)epoch, s->n_slots);
        ST_TRY(load_block(s, free_slot, b, err));
    }
    return ST_OK;
}

st_status_t st_stream_locate(const st_stream_t *s, int64_t *pos, const int64_t *ids, int64_t n, st_error_t *err) {
    for (int64_t i = 0; i < n; i++) {
        int64_t b = ids[i] / s->W, slot = -1;
        for (int k = 0; k < s->n_slots && slot < 0; k++)
            if (s->slot_block[k] == b) slot = k;
        const int64_t *rows = s->my_ids + (b < s->n_blocks ? s->my_start[b] : 0);
        int64_t cnt = b < s->n_blocks ? s->my_start[b + 1] - s->my_start[b] : 0;
        int64_t at = st_ids_lower_bound(rows, cnt, ids[i]);
        if (slot < 0 || at >= cnt || rows[at] != ids[i])
            return st_fail(err, ST_ERR_INTERNAL, "data.stream: row %lld (block %lld) is not resident", (long long)ids[i],
                           (long long)b);
        pos[i] = slot * s->slot_cap + at;
    }
    return ST_OK;
}
