/* engine_totals.c — the step's weight totals from every row's keys and the pure sampler, on
 * every rank (see engine_totals.h). */
#include "engine_totals.h"

#include <stdlib.h>
#include <string.h>

static void *zalloc(size_t n, size_t size, st_error_t *err) {
    void *p = calloc(n ? n : 1, size);
    if (!p) st_fail(err, ST_ERR_NOMEM, "weight totals: cannot allocate %zu bytes", n * size);
    return p;
}

/* Weight totals computed here (no opening exchange) when every head can be keyed and lengths
 * fit the keys; st_engine_set_mix may still turn it off. */
st_status_t st_engine_totals_init(st_engine_t *e, st_error_t *err) {
    const st_data_t *d = e->data;
    int H = e->parts.losses->n_heads;
    e->wtot_epoch = -1;
    if (!st_weight_keys_possible(e->parts.losses) || !st_weight_keys_lengths_fit(d)) return ST_OK;
    if (d->stream && !st_weight_keys_streamable(e->parts.losses, d)) return ST_OK;
    ST_TRY(st_weight_keys_init(&e->keys, e->parts.losses, d, err));
    size_t per_epoch = (size_t)e->sampler.steps_per_epoch * (size_t)d->S * (size_t)H;
    if (!(e->wtot = zalloc(per_epoch, sizeof(double), err))) return err->code;
    if (!(e->tot_ids = zalloc((size_t)e->micro, sizeof(int64_t), err))) return err->code;
    if (!(e->tot_lab = zalloc((size_t)e->micro * (size_t)H, sizeof(int32_t), err))) return err->code;
    if (!(e->tot_plan = zalloc((size_t)e->micro, sizeof *e->tot_plan, err))) return err->code;
    if (!(e->tot_len = zalloc((size_t)e->micro, sizeof(int32_t), err))) return err->code;
    e->local_totals = 1;
    return ST_OK;
}

/* Head h's weight of one micro-batch from its rows' keys lab [micro] (plan: its mixing, or NULL):
 * what st_train_weight_total gives on the labels (class-id and sequence heads), or the count of
 * present values (value heads, never mixed here). */
static double keyed_weight(const st_loss_config_t *cfg, const int32_t *lab, const st_mix_row_t *plan, int B) {
    if (st_loss_uses_labels(cfg) || st_loss_is_sequence(cfg)) return st_train_weight_total(cfg, lab, NULL, plan, B);
    double w = 0;
    for (int i = 0; i < B; i++) w += lab[i];
    return w;
}

/* w [n_heads] ← shard s's weight totals at `step` (accumulation micro-batches in order, each the
 * sum st_train_weight_total makes): the sampler's ids, the rows' keys, and with mixing the plan
 * every rank draws alike (keyed by shard, global_step and ids; with lengths, from the lengths
 * augmentation will leave, as plan_micro_batch makes it). */
static st_status_t shard_step_totals(double *w, st_engine_t *e, const st_sampler_t *sp, int s, int64_t step,
                                     int64_t global_step, st_error_t *err) {
    int has_len = e->keys.n_cols > e->keys.n_heads;
    const st_loss_heads_t *losses = e->parts.losses;
    int H = losses->n_heads, T = e->data->shape.rank == 2 ? e->data->shape.d[0] : 1;
    for (int h = 0; h < H; h++) w[h] = 0;
    for (int a = 0; a < e->accum; a++) {
        ST_TRY(st_sampler_micro_batch(e->tot_ids, sp, s, step, a, err));
        for (int i = 0; i < e->micro; i++) {
            const int16_t *key = st_weight_keys_row(&e->keys, s, e->tot_ids[i] / sp->repeat);
            if (!key) return st_fail(err, ST_ERR_INTERNAL, "weight totals: row %lld is not in shard %d",
                                     (long long)(e->tot_ids[i] / sp->repeat), s);
            for (int h = 0; h < H; h++) e->tot_lab[(size_t)h * e->micro + i] = key[h];
            if (has_len) e->tot_len[i] = key[H];
        }
        if (e->mix && has_len)
            st_augment_lengths(e->tot_len, &e->aug, e->tot_len, e->tot_ids, e->seed, e->epoch, e->micro,
                               st_shape_positions(e->data->shape));
        if (e->mix)
            st_mix_plan(e->tot_plan, e->plan_order, e->mix, e->seed, (uint32_t)s, (uint32_t)global_step, e->tot_ids,
                        has_len ? e->tot_len : NULL, T, e->micro);
        for (int h = 0; h < H; h++)
            w[h] += keyed_weight(&losses->heads[h], e->tot_lab + (size_t)h * e->micro, e->mix ? e->tot_plan : NULL,
                                 e->micro);
    }
    return ST_OK;
}

/* Shard s's sampler as the engine's (st_data_sampler_init: repeat, and length bucketing from the
 * keys' lengths, lens [|shard s|] filled here; it must outlive the sampler). */
static st_status_t shard_sampler(st_sampler_t *sp, int32_t **lens, const st_engine_t *e, int s, st_error_t *err) {
    const st_data_t *d = e->data;
    const st_shards_t *sh = &d->shards;
    *lens = NULL;
    ST_TRY(st_sampler_init(sp, sh, s, s + 1, e->micro, e->accum, e->seed, err));
    st_status_t rc = e->sampler.repeat > 1 ? st_sampler_set_repeat(sp, e->sampler.repeat, err) : ST_OK;
    if (rc == ST_OK && d->window_rows > 0) rc = st_sampler_set_window(sp, d->window_rows, err);
    if (rc == ST_OK && e->sampler.bucket_window > 0) {
        int64_t first = sh->shard_start[s], n = sh->shard_start[s + 1] - first;
        if (!(*lens = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1))))
            rc = st_fail(err, ST_ERR_NOMEM, "weight totals: out of memory");
        for (int64_t i = 0; rc == ST_OK && i < n; i++) (*lens)[i] = e->keys.key[(size_t)(first + i) * e->keys.n_cols + e->keys.n_heads];
        if (rc == ST_OK) rc = st_sampler_set_buckets(sp, *lens, sh->rows + first, n, e->sampler.bucket_window, err);
    }
    if (rc != ST_OK) st_sampler_free(sp), free(*lens), *lens = NULL;
    return rc;
}

/* Shard s (owned here) orders its rows in sp as in the engine's own sampler (at the same epoch):
 * a sampler option st_data_sampler_init sets but shard_sampler does not would make wrong totals,
 * so it fails loudly instead. Compares step 0's micro-batches. */
static st_status_t check_same_order(st_engine_t *e, const st_sampler_t *sp, int s, st_error_t *err) {
    for (int a = 0; a < e->accum; a++) {
        ST_TRY(st_sampler_micro_batch(e->tot_ids, sp, s, 0, a, err));
        ST_TRY(st_sampler_micro_batch(e->row_ids, &e->sampler, s, 0, a, err));
        if (memcmp(e->tot_ids, e->row_ids, sizeof(int64_t) * (size_t)e->micro) != 0)
            return st_fail(err, ST_ERR_INTERNAL, "weight totals: shard %d's order differs from the engine's sampler "
                           "(jobs/engine.c shard_sampler must set up what st_data_sampler_init does)", s);
    }
    return ST_OK;
}

/* e->wtot ← every shard's weight totals for every step of `epoch` whose step 0 is global step
 * `base`: each shard's epoch order made here (one shard's memory at a time). */
static st_status_t epoch_totals(st_engine_t *e, int64_t epoch, int64_t base, st_error_t *err) {
    const st_data_t *d = e->data;
    int H = e->parts.losses->n_heads, S = d->S;
    int64_t steps = e->sampler.steps_per_epoch;
    e->wtot_epoch = -1;
    for (int s = 0; s < S; s++) {
        st_sampler_t sp;
        int32_t *lens;
        ST_TRY(shard_sampler(&sp, &lens, e, s, err));
        st_status_t rc = st_sampler_set_epoch(&sp, epoch, err);
        if (rc == ST_OK && s == d->shard_first) rc = check_same_order(e, &sp, s, err);
        for (int64_t t = 0; rc == ST_OK && t < steps; t++)
            rc = shard_step_totals(e->wtot + ((size_t)t * S + s) * H, e, &sp, s, t, base + t, err);
        st_sampler_free(&sp);
        free(lens);
        ST_TRY(rc);
    }
    e->wtot_epoch = epoch, e->wtot_base = base;
    return ST_OK;
}

/* The first step gathers every shard's weight keys (once a run; collective: a rank whose
 * status is not ST_OK joins with whatever its block holds, the step fails at the close). */
st_status_t st_engine_share_keys(st_engine_t *e, st_status_t *status, st_error_t *err) {
    if (*status == ST_OK)
        *status = st_weight_keys_fill(&e->keys, e->parts.losses, e->data, &e->data->part[ST_SPLIT_TRAIN], err);
    if (*status != ST_OK) { /* keep this rank's message: the share below must not overwrite it */
        st_error_t ignored = {0};
        st_weight_keys_share(&e->keys, e->data, e->comm, &ignored);
        return ST_OK;
    }
    ST_TRY(st_weight_keys_share(&e->keys, e->data, e->comm, err));
    e->keys_shared = 1;
    return ST_OK;
}

/* grad_scale [n_heads] from the global totals of `step` (summed in shard order), made here. */
st_status_t st_engine_local_scale(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, float *grad_scale,
                                  st_error_t *err) {
    if (e->wtot_epoch != epoch || e->wtot_base != global_step - step)
        ST_TRY(epoch_totals(e, epoch, global_step - step, err));
    const st_loss_heads_t *losses = e->parts.losses;
    int H = losses->n_heads, S = e->data->S;
    for (int h = 0; h < H; h++) {
        double total = 0;
        for (int s = 0; s < S; s++) total += e->wtot[((size_t)step * S + s) * H + h];
        grad_scale[h] = st_loss_grad_scale(&losses->heads[h], total);
    }
    return ST_OK;
}

