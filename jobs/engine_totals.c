/* engine_totals.c — the weight totals of a rank's own shards for a whole epoch, from their rows'
 * keys and the engine's sampler, and how every rank gets every shard's (see engine_totals.h). */
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
    if (!(e->wtot = zalloc((size_t)d->S * e->tail_len, sizeof(double), err))) return err->code;
    if (!(e->tot_ids = zalloc((size_t)e->micro, sizeof(int64_t), err))) return err->code;
    if (!(e->tot_lab = zalloc((size_t)e->micro * (size_t)H, sizeof(int32_t), err))) return err->code;
    if (!(e->tot_plan = zalloc((size_t)e->micro, sizeof *e->tot_plan, err))) return err->code;
    if (!(e->tot_len = zalloc((size_t)e->micro, sizeof(int32_t), err))) return err->code;
    e->local_totals = 1;
    return ST_OK;
}

int st_engine_totals_ready(const st_engine_t *e, int64_t epoch, int64_t base) {
    return e->wtot_epoch == epoch && e->wtot_base == base;
}

/* Head h's weight of one micro-batch from its rows' keys lab [micro] (plan: its mixing, or NULL):
 * what st_train_weight_total gives on the labels (class-id and sequence heads) or on the values
 * (value heads: from their presence masks or counts, st_weight_keys_value_weight). */
static double keyed_weight(const st_loss_config_t *cfg, const int32_t *lab, const st_mix_row_t *plan, int B) {
    if (st_loss_uses_labels(cfg) || st_loss_is_sequence(cfg)) return st_train_weight_total(cfg, lab, NULL, plan, B);
    return st_weight_keys_value_weight(lab, plan && st_mix_any(plan, B) ? plan : NULL, st_loss_target_width(cfg), B);
}

/* w [n_heads] ← shard s's weight totals at `step` of `epoch` (accumulation micro-batches in
 * order, each the sum st_train_weight_total makes): the sampler's ids, the rows' keys, and with
 * mixing the plan the engine draws (keyed by shard, global_step and ids; with lengths, from the
 * lengths augmentation will leave in that epoch, as plan_micro_batch makes it). */
static st_status_t shard_step_totals(double *w, st_engine_t *e, int s, int64_t epoch, int64_t step,
                                     int64_t global_step, st_error_t *err) {
    int has_len = e->keys.n_cols > e->keys.n_heads;
    const st_loss_heads_t *losses = e->parts.losses;
    const st_sampler_t *sp = &e->sampler;
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
            st_augment_lengths(e->tot_len, &e->aug, e->tot_len, e->tot_ids, e->seed, epoch, e->micro,
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

st_status_t st_engine_own_totals(st_engine_t *e, double *records, size_t stride, int64_t epoch, int64_t base,
                                 st_error_t *err) {
    int H = e->parts.losses->n_heads;
    int64_t steps = e->sampler.steps_per_epoch;
    ST_TRY(st_sampler_set_epoch(&e->sampler, epoch, err));
    for (int s = e->data->shard_first; s < e->data->shard_end; s++)
        for (int64_t t = 0; t < steps; t++)
            ST_TRY(shard_step_totals(records + (size_t)s * stride + (size_t)t * H, e, s, epoch, t, base + t, err));
    return ST_OK;
}

void st_engine_totals_received(st_engine_t *e, const double *records, size_t stride, int64_t epoch, int64_t base) {
    for (int s = 0; s < e->data->S; s++)
        memcpy(e->wtot + (size_t)s * e->tail_len, records + (size_t)s * stride, sizeof(double) * e->tail_len);
    e->wtot_epoch = epoch, e->wtot_base = base;
}

st_status_t st_engine_totals_exchange(st_engine_t *e, int64_t epoch, int64_t base, st_status_t status,
                                      st_error_t *err) {
    e->wtot_epoch = -1;
    if (status == ST_OK && !e->keys_filled) {
        status = st_weight_keys_fill(&e->keys, e->parts.losses, e->data, &e->data->part[ST_SPLIT_TRAIN], err);
        e->keys_filled = status == ST_OK;
    }
    if (status == ST_OK) status = st_engine_own_totals(e, e->wtot, e->tail_len, epoch, base, err);
    ST_TRY(st_comm_agree(e->comm, status, err));
    ST_TRY(st_allgather_shards(e->wtot, e->data->S, (int)e->tail_len, e->comm, err));
    e->wtot_epoch = epoch, e->wtot_base = base;
    return ST_OK;
}

void st_engine_local_scale(const st_engine_t *e, int64_t step, float *grad_scale) {
    const st_loss_heads_t *losses = e->parts.losses;
    int H = losses->n_heads, S = e->data->S;
    for (int h = 0; h < H; h++) {
        double total = 0;
        for (int s = 0; s < S; s++) total += e->wtot[(size_t)s * e->tail_len + (size_t)step * H + h];
        grad_scale[h] = st_loss_grad_scale(&losses->heads[h], total);
    }
}
