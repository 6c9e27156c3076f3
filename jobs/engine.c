/* engine.c — the distributed training step (see engine.h). */
#include "engine.h"
#include "engine_node.h"
#include "engine_totals.h"

#include "sharding/batch.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mpi/fixed_sum.h"

const char *const st_step_phase_names[ST_STEP_PHASES] = {"fetch", "passes", "fixed", "exchange", "close", "update"};

/* Adds the time since *t0 to phase p (and to this step's slot of the ring) and restarts *t0. */
static void lap(st_engine_t *e, st_step_phase_t p, double *t0) {
    double now = st_clock_s();
    e->phase_s[p] += now - *t0;
    e->phase_ring[e->timed_steps % ST_STEP_RING][p] += (float)(now - *t0);
    *t0 = now;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void st_engine_phase_ms(double *ms, const st_engine_t *e, int mean) {
    int64_t n = e->timed_steps < ST_STEP_RING ? e->timed_steps : ST_STEP_RING;
    float col[ST_STEP_RING];
    for (int p = 0; p < ST_STEP_PHASES; p++) {
        ms[p] = 0;
        if (n == 0) continue;
        if (mean) {
            ms[p] = 1e3 * e->phase_s[p] / (double)e->timed_steps;
            continue;
        }
        for (int64_t i = 0; i < n; i++) col[i] = e->phase_ring[i][p];
        qsort(col, (size_t)n, sizeof *col, cmp_float);
        ms[p] = 1e3 * (n % 2 ? col[n / 2] : 0.5 * (col[n / 2 - 1] + col[n / 2]));
    }
}

/* This step's work since the previous close, as the ranks arrive at the gradient exchange. */
static void arrive(st_engine_t *e) {
    e->work_ring[e->timed_steps % ST_STEP_RING] = e->close_end_s > 0 ? (float)(st_clock_s() - e->close_end_s) : 0.0f;
}

static double median_of(float *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

st_status_t st_engine_arrival_wait(double *wait_ms, double *spread_ms, const st_engine_t *e, st_error_t *err) {
    int P = e->comm->size;
    int64_t n = e->timed_steps < ST_STEP_RING ? e->timed_steps : ST_STEP_RING;
    float *all = e->comm->rank == 0 ? malloc(sizeof(float) * ST_STEP_RING * (size_t)P) : NULL;
    float *wait = e->comm->rank == 0 ? malloc(sizeof(float) * ST_STEP_RING * 2) : NULL;
    st_status_t rc = e->comm->rank == 0 && (!all || !wait) ? st_fail(err, ST_ERR_NOMEM, "arrival wait") : ST_OK;
    rc = st_comm_agree(e->comm, rc, err);
    if (rc == ST_OK) rc = st_gather_f32(all, e->work_ring, ST_STEP_RING, e->comm, err);
    *wait_ms = *spread_ms = 0;
    if (rc == ST_OK && e->comm->rank == 0 && P > 1) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            float hi = 0, lo = INFINITY, sum = 0;
            for (int r = 0; r < P; r++) {
                float w = all[(size_t)r * ST_STEP_RING + i];
                hi = w > hi ? w : hi, lo = w < lo ? w : lo, sum += w;
            }
            if (lo > 0) wait[m] = hi - sum / (float)P, wait[ST_STEP_RING + m++] = hi - lo;
        }
        *wait_ms = 1e3 * median_of(wait, m), *spread_ms = 1e3 * median_of(wait + ST_STEP_RING, m);
    }
    free(all), free(wait);
    return rc;
}

/* The closing record of a shard: its status word, step flags (both in a rank's first shard) and
 * row count, then per loss (sum, weight, argmax hits, labelled rows), then the batch statistics. */
enum { SUM_STATUS, SUM_FLAGS, SUM_COUNT, N_FIXED };
enum { H_SUM, H_WEIGHT, H_CORRECT, H_LABELLED, N_PER_HEAD };
#define N_SUMS(H) (N_FIXED + N_PER_HEAD * (H))

static void *zalloc(size_t n, size_t size, st_error_t *err) {
    void *p = calloc(n ? n : 1, size);
    if (!p) st_fail(err, ST_ERR_NOMEM, "training step: cannot allocate %zu bytes", n * size);
    return p;
}

/* The layers whose kind keeps batch statistics (kind->stats_floats), in execution order. */
static st_status_t find_stat_layers(st_engine_t *e, st_error_t *err) {
    st_model_t *m = e->parts.model;
    int n = st_model_layer_count(m);
    if (!(e->stat_layers = zalloc((size_t)n, sizeof *e->stat_layers, err))) return err->code;
    for (int i = 0; i < n; i++) {
        st_layer_t *L = st_model_layer(m, i);
        if (!L->kind->stats_floats) continue;
        e->stat_layers[e->n_stat_layers++] = L;
        e->stats_floats += L->kind->stats_floats(L);
    }
    return ST_OK;
}

/* Loss h's per-step buffer: class ids [slots] or target values [slots, K]. A class-id loss
 * without a resolved target reads the stratification labels (part.y). */
static st_status_t alloc_head(st_engine_t *e, int h, size_t slots, st_error_t *err) {
    const st_loss_config_t *cfg = &e->parts.losses->heads[h];
    int t = cfg->target_index;
    if (t < 0 && !st_loss_uses_labels(cfg))
        return st_fail(err, ST_ERR_INTERNAL, "training step: loss %d has no target", h);
    int width = st_loss_uses_labels(cfg) ? cfg->n_classes : st_loss_target_width(cfg);
    if (t >= 0 && width != (st_loss_uses_labels(cfg) ? e->data->ds.targets[t].n_classes : e->data->ds.targets[t].width))
        return st_fail(err, ST_ERR_INTERNAL, "training step: loss %d reads %d values a row, its target is not", h,
                       st_loss_target_width(cfg));
    if (st_loss_uses_labels(cfg)) e->lab[h] = zalloc(slots, sizeof(int32_t), err);
    else e->tgt[h] = zalloc(slots * (size_t)st_loss_target_width(cfg), sizeof(float), err);
    return e->lab[h] || e->tgt[h] ? ST_OK : err->code;
}

st_status_t st_engine_init(st_engine_t *e, const st_step_parts_t *parts, const st_data_t *data, const st_comm_t *c,
                           int accumulation, uint64_t seed, st_error_t *err) {
    memset(e, 0, sizeof *e);
    e->parts = *parts, e->data = data, e->comm = c, e->seed = seed;
    e->node.win = MPI_WIN_NULL;
    e->micro = data->micro_batch, e->accum = accumulation;
    e->n_owned = data->shard_end - data->shard_first;
    e->epochs = INT64_MAX;
    ST_TRY(st_data_sampler_init(&e->sampler, data, e->micro, e->accum, seed, err));
    if (data->stream && data->stream->seed != seed) /* the stream's block order is the sampler's */
        data->stream->seed = seed, data->stream->epoch = -1;
    ST_TRY(find_stat_layers(e, err));
    int reserved = st_model_reserved(parts->model);
    if (reserved < e->micro)
        return st_fail(err, ST_ERR_INTERNAL, "training step: the model holds %d rows, a micro-batch has %d", reserved,
                       e->micro);
    e->per_pass = reserved / e->micro;
    if (e->per_pass > e->n_owned) e->per_pass = e->n_owned;
    int H = parts->losses->n_heads;
    e->open_len = H;
    e->close_len = e->rec_len = N_SUMS(H) + e->accum * e->stats_floats;
    e->tail_len = (size_t)e->sampler.steps_per_epoch * (size_t)H; /* the next epoch's totals (engine_totals.h) */
    size_t S = (size_t)data->S, slots = (size_t)e->accum * (size_t)e->n_owned * (size_t)e->micro;
    size_t pass_rows = (size_t)e->per_pass * (size_t)e->micro;
    if (!(e->open = zalloc(S * (size_t)e->open_len, sizeof(double), err))) return err->code;
    if (!(e->close = zalloc(S * ((size_t)e->close_len + e->tail_len), sizeof(double), err))) return err->code;
    if (!(e->stats = zalloc(S * (size_t)e->accum * (size_t)e->stats_floats, sizeof(double), err))) return err->code;
    if (!(e->micro_sums = zalloc((size_t)e->per_pass, sizeof *e->micro_sums, err))) return err->code;
    if (!(e->x_mb = zalloc(pass_rows * (size_t)data->row_floats, sizeof(float), err))) return err->code;
    if (data->has_lengths && !(e->len_mb = zalloc(pass_rows, sizeof(int32_t), err))) return err->code;
    for (int h = 0; h < H; h++) ST_TRY(alloc_head(e, h, slots, err));
    if (!(e->ids = zalloc(slots, sizeof(int64_t), err))) return err->code;
    if (!(e->pos = zalloc(slots, sizeof(int64_t), err))) return err->code;
    if (!(e->row_ids = zalloc((size_t)e->micro, sizeof(int64_t), err))) return err->code;
    return st_engine_totals_init(e, err);
}

st_status_t st_engine_set_mix(st_engine_t *e, const st_mix_config_t *mix, st_error_t *err) {
    size_t slots = (size_t)e->accum * (size_t)e->n_owned * (size_t)e->micro;
    if (!(e->plan = zalloc(slots, sizeof *e->plan, err))) return err->code;
    if (!(e->plan_order = zalloc((size_t)e->micro, sizeof *e->plan_order, err))) return err->code;
    if (!(e->plan_len = zalloc((size_t)e->micro, sizeof *e->plan_len, err))) return err->code;
    e->mix = mix;
    /* a value head of more values than a key's mask holds keeps the opening exchange (its mixed
     * weight needs each value's presence in both rows) */
    for (int h = 0; h < e->parts.losses->n_heads; h++) {
        const st_loss_config_t *cfg = &e->parts.losses->heads[h];
        if (!st_loss_uses_labels(cfg) && !st_loss_is_sequence(cfg) && st_loss_target_width(cfg) > ST_WEIGHT_KEYS_MASK_MAX)
            e->local_totals = 0;
    }
    return ST_OK;
}

st_status_t st_engine_set_exact(st_engine_t *e, st_error_t *err) {
    size_t n = st_model_param_floats(e->parts.model);
    if (e->n_owned > 64) return st_fail(err, ST_ERR_CONFIG, "reproducible \"exact\": at most 64 shards per rank");
    e->shard_grads = st_alloc_arena((size_t)e->n_owned * n * sizeof(float), "exact mode's shard gradients", err);
    e->fixed = e->shard_grads ? st_alloc_arena(n * sizeof(int64_t), "exact mode's fixed-point sum", err) : NULL;
    e->exact = e->fixed != NULL;
    return e->exact ? ST_OK : err->code;
}

void st_engine_free(st_engine_t *e) {
    st_engine_node_free(e);
    st_sampler_free(&e->sampler);
    free(e->stat_layers), free(e->open), free(e->close), free(e->stats), free(e->micro_sums);
    for (int h = 0; h < ST_LOSS_MAX_HEADS; h++) free(e->lab[h]), free(e->tgt[h]);
    free(e->x_mb), free(e->len_mb), free(e->ids), free(e->pos), free(e->shard_grads), free(e->fixed);
    free(e->plan), free(e->plan_order), free(e->plan_len);
    free(e->row_ids);
    st_weight_keys_free(&e->keys);
    free(e->wtot), free(e->tot_ids), free(e->tot_lab), free(e->tot_plan), free(e->tot_len);
    st_augment_free(&e->aug);
    memset(e, 0, sizeof *e);
}

int64_t st_engine_steps_per_epoch(const st_engine_t *e) { return e->sampler.steps_per_epoch; }

/* The columns that feed layers reading ids (kinds with check_input: embedding, embedding_bag):
 * data.categorical_columns, every column when such a layer takes the model's input itself, and
 * [from, to) of a layer taking the model's input shape with from/to keys (a slice) whose next
 * layer in its chain reads ids. Returns their count (cols [C]). */
static int embedding_columns(int *cols, const st_data_t *d, st_model_t *m) {
    int C = st_shape_channels(d->shape), n = 0;
    uint8_t *mark = calloc((size_t)C, 1);
    if (!mark) return 0;
    for (int k = 0; k < d->n_categorical; k++)
        if (d->categorical[k] >= 0 && d->categorical[k] < C) mark[d->categorical[k]] = 1;
    for (int i = 0; i < st_model_layer_count(m); i++) {
        const st_layer_t *L = st_model_layer(m, i);
        if (!st_shape_equal(L->in_max, d->shape)) continue;
        const st_val_t *from = st_layer_opt(L, "from"), *to = st_layer_opt(L, "to");
        if (L->kind->check_input) memset(mark, 1, (size_t)C);
        else if (from && to && L->next_kind && L->next_kind->check_input)
            for (long c = from->i; c < to->i && c < C; c++) mark[c] = 1;
    }
    for (int c = 0; c < C; c++)
        if (mark[c]) cols[n++] = c;
    free(mark);
    return n;
}

st_status_t st_engine_set_augment(st_engine_t *e, const st_augment_t *parsed, st_error_t *err) {
    st_augment_free(&e->aug);
    if (parsed->n_ops == 0) return ST_OK;
    const st_data_t *d = e->data;
    e->aug = *parsed;
    e->aug.inv_std = e->aug.mean_std = e->aug.open = e->aug.ppf = NULL, e->aug.protect = NULL;
    int *cols = calloc((size_t)st_shape_channels(d->shape), sizeof(int));
    if (!cols) return st_fail(err, ST_ERR_NOMEM, "augment: out of memory");
    int n = embedding_columns(cols, d, e->parts.model);
    st_status_t rc = st_augment_bind(&e->aug, "augment", st_shape_positions(d->shape), st_shape_channels(d->shape),
                                     d->shape.rank == 2, d->has_lengths, d->mean, d->std, d->n_std, cols, n, err);
    free(cols);
    return rc;
}

/* Loss h's labels or targets of the micro-batch at `slot` (positions e->pos + slot): class ids
 * (−1 missing) from its target's column, or its target's values, standardised when the loss
 * asks (t_mean, t_std; NaN stays NaN). */
static void fetch_targets(st_engine_t *e, int h, size_t slot) {
    const st_data_t *d = e->data;
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    const st_loss_config_t *cfg = &e->parts.losses->heads[h];
    int t = cfg->target_index, K = st_loss_target_width(cfg);
    for (int i = 0; i < e->micro; i++) {
        int64_t pos = e->pos[slot + i];
        if (t < 0) {
            e->lab[h][slot + i] = train->y[pos];
            continue;
        }
        const float *v = train->T + (size_t)pos * (size_t)d->tgt_floats + d->tgt_offset[t];
        if (e->lab[h]) {
            e->lab[h][slot + i] = (int32_t)v[0];
            continue;
        }
        float *out = e->tgt[h] + (slot + (size_t)i) * (size_t)K;
        for (int k = 0; k < K; k++)
            out[k] = cfg->t_mean ? (float)(((double)v[k] - cfg->t_mean[k]) / cfg->t_std[k]) : v[k];
    }
}

/* The positions a row is augmented in (st_augment_apply's T_pad): the data's T. gather_inputs
 * gives a list that can lengthen rows exactly that; any other list runs at the pass's longest
 * stored length, which no operation of it exceeds, so its lengths are the same at either. */
static int augment_T_pad(const st_engine_t *e) { return st_shape_positions(e->data->shape); }

/* The mixing plan of the micro-batch at `slot` of shard `shard` (within it, keyed by its ids),
 * made from the lengths its rows will have once gather_inputs has augmented them
 * (st_augment_lengths: the same draws, no data), so each cutmix span lies within its row and λ is
 * the share the row keeps. */
static void plan_micro_batch(st_engine_t *e, size_t slot, int shard, int64_t global_step) {
    const st_data_t *d = e->data;
    const st_data_part_t *train = &d->part[ST_SPLIT_TRAIN];
    if (train->len) {
        for (int i = 0; i < e->micro; i++) e->plan_len[i] = train->len[e->pos[slot + i]];
        st_augment_lengths(e->plan_len, &e->aug, e->plan_len, e->ids + slot, e->seed, e->epoch, e->micro,
                           augment_T_pad(e));
    }
    int T = d->shape.rank == 2 ? d->shape.d[0] : 1;
    st_mix_plan(e->plan + slot, e->plan_order, e->mix, e->seed, (uint32_t)shard, (uint32_t)global_step, e->ids + slot,
                train->len ? e->plan_len : NULL, T, e->micro);
}

/* The ids and labels of every micro-batch of the step: slot (a, o) = accumulation a, owned shard o;
 * with mixing, their plans. */
static st_status_t fetch_step(st_engine_t *e, int64_t step, int64_t global_step, st_error_t *err) {
    if (e->data->stream) /* collective: the blocks this step reads (and the next) are resident */
        ST_TRY(st_stream_step(e->data->stream, e->epoch, step, err));
    for (int a = 0; a < e->accum; a++)
        for (int o = 0; o < e->n_owned; o++) {
            size_t slot = ((size_t)a * e->n_owned + o) * e->micro;
            ST_TRY(st_sampler_micro_batch(e->ids + slot, &e->sampler, e->data->shard_first + o, step, a, err));
            const int64_t *rows = e->ids + slot; /* occurrence o reads row o / repeat */
            if (e->sampler.repeat > 1) {
                for (int i = 0; i < e->micro; i++) e->row_ids[i] = e->ids[slot + i] / e->sampler.repeat;
                rows = e->row_ids;
            }
            ST_TRY(st_data_train_locate(e->data, e->pos + slot, rows, e->micro, err));
            for (int h = 0; h < e->parts.losses->n_heads; h++) fetch_targets(e, h, slot);
            if (e->mix) plan_micro_batch(e, slot, e->data->shard_first + o, global_step);
        }
    return ST_OK;
}

/* x_mb = the training rows at positions pos [rows] (found by fetch_step), at the pass's own
 * longest length when the data has lengths (len_mb their lengths), augmented when the engine has
 * a list (occurrence ids occ [rows]; a list that may lengthen rows gets them at the data's T,
 * compacted after); *T_run = the positions a row carries. */
static st_status_t gather_inputs(st_engine_t *e, const int64_t *pos, const int64_t *occ, int rows, int *T_run,
                                 st_error_t *err) {
    const st_data_t *d = e->data;
    if (e->aug.can_lengthen) {
        *T_run = augment_T_pad(e);
        st_data_gather_rows_padded(e->x_mb, e->len_mb, d, &d->part[ST_SPLIT_TRAIN], pos, rows, *T_run);
    } else {
        st_data_gather_rows(e->x_mb, e->len_mb, T_run, d, &d->part[ST_SPLIT_TRAIN], pos, rows);
    }
    if (e->aug.n_ops == 0) return ST_OK;
    ST_TRY(st_augment_apply(&e->aug, e->x_mb, e->len_mb, occ, e->seed, e->epoch, rows, *T_run, err));
    if (e->len_mb) *T_run = st_data_compact_rows(e->x_mb, e->len_mb, rows, *T_run, st_shape_channels(d->shape));
    return ST_OK;
}

/* ---- 1. the weight totals: known ahead (engine_totals.c), or the opening exchange ---- */

st_status_t st_engine_start(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, int64_t epochs,
                            st_error_t *err) {
    e->epochs = epochs;
    return e->local_totals ? st_engine_totals_exchange(e, epoch, global_step - step, ST_OK, err) : ST_OK;
}

/* Without keys (see st_engine_set_mix, st_engine_totals_init): one Allgatherv of every shard's
 * weight total per head; grad_scale [n_heads] from the global totals (summed in shard order). A
 * rank that failed before the step sends what it has: the step fails at the close anyway. */
static st_status_t open_step(st_engine_t *e, float *grad_scale, st_error_t *err) {
    const st_loss_heads_t *losses = e->parts.losses;
    int H = losses->n_heads, S = e->data->S;
    for (int o = 0; o < e->n_owned; o++) {
        double *rec = e->open + (size_t)(e->data->shard_first + o) * e->open_len;
        for (int h = 0; h < H; h++) {
            double w = 0;
            for (int a = 0; a < e->accum; a++) {
                size_t slot = ((size_t)a * e->n_owned + o) * e->micro;
                w += st_train_weight_total(&losses->heads[h], e->lab[h] ? e->lab[h] + slot : NULL,
                                           e->tgt[h] ? e->tgt[h] + slot * (size_t)st_loss_target_width(&losses->heads[h]) : NULL,
                                           e->mix ? e->plan + slot : NULL, e->micro);
            }
            rec[h] = w;
        }
    }
    ST_TRY(st_allgather_shards(e->open, S, e->open_len, e->comm, err));
    for (int h = 0; h < H; h++) {
        double total = 0;
        for (int s = 0; s < S; s++) total += e->open[(size_t)s * e->open_len + h];
        grad_scale[h] = st_loss_grad_scale(&losses->heads[h], total);
    }
    return ST_OK;
}

/* ---- the passes ---- */

/* Forward, loss and backward of the micro-batches of owned shards o0 .. o0+n_mb-1 at
 * accumulation step a, in one pass (ghost batches of e->micro rows); adds to each shard's
 * closing sums and keeps each one's batch statistics in its closing record. */
static st_status_t run_micro_batches(st_engine_t *e, int a, int o0, int n_mb, int64_t global_step,
                                     const float *grad_scale, st_error_t *err) {
    size_t slot = ((size_t)a * e->n_owned + o0) * e->micro;
    int rows = n_mb * e->micro;
    int T_run = 0;
    ST_TRY(gather_inputs(e, e->pos + slot, e->ids + slot, rows, &T_run, err));
    st_run_ctx_t ctx = {.training = 1, .seed = e->seed, .step = (uint32_t)global_step,
                        .sample_index = e->ids + slot, .update_running_stats = 0, .ghost_batch = e->micro,
                        .lengths = e->len_mb, .positions = T_run};
    const st_loss_heads_t *losses = e->parts.losses;
    int H = losses->n_heads;
    st_batch_targets_t tg;
    memset(&tg, 0, sizeof tg);
    for (int h = 0; h < H; h++) {
        if (e->lab[h]) tg.labels[h] = e->lab[h] + slot;
        if (e->tgt[h]) tg.targets[h] = e->tgt[h] + slot * (size_t)st_loss_target_width(&losses->heads[h]);
    }
    ST_TRY(st_train_pass_mixed(&e->parts, &ctx, e->x_mb, &tg, rows, n_mb, e->mix ? e->plan + slot : NULL, grad_scale,
                               e->micro_sums, err));
    for (int k = 0; k < n_mb; k++) {
        double *rec = e->close + (size_t)(e->data->shard_first + o0 + k) * e->rec_len;
        const st_micro_sums_t *m = &e->micro_sums[k];
        rec[SUM_COUNT] += e->micro;
        for (int h = 0; h < H; h++) {
            double *hr = rec + N_FIXED + N_PER_HEAD * h;
            hr[H_SUM] += m->head[h].sum, hr[H_WEIGHT] += m->head[h].weight;
            hr[H_CORRECT] += (double)m->correct[h], hr[H_LABELLED] += (double)m->labelled[h];
        }
        double *stats = rec + N_SUMS(H) + (size_t)a * e->stats_floats;
        for (int l = 0; l < e->n_stat_layers; l++) {
            const st_layer_t *L = e->stat_layers[l];
            L->kind->stats_save(L, k, stats);
            stats += L->kind->stats_floats(L);
        }
    }
    return ST_OK;
}

/* ---- 2. the gradient ---- */

/* Fast mode: all micro-batches add into the one gradient arena, per_pass of them per pass, then
 * one float all-reduce. */
static st_status_t gradients_fast(st_engine_t *e, int64_t global_step, const float *grad_scale, double *t0,
                                  st_error_t *err) {
    st_model_t *m = e->parts.model;
    st_model_zero_grads(m);
    for (int a = 0; a < e->accum; a++)
        for (int o0 = 0; o0 < e->n_owned; o0 += e->per_pass) {
            int n_mb = e->n_owned - o0 < e->per_pass ? e->n_owned - o0 : e->per_pass;
            if (e->pass_status == ST_OK) e->pass_status = run_micro_batches(e, a, o0, n_mb, global_step, grad_scale, err);
        }
    lap(e, ST_STEP_PASSES, t0);
    arrive(e);
    if (e->node_update) return ST_OK; /* summed after the close (engine_node.h) */
    ST_TRY(st_allreduce_sum_f32(st_model_grads(m), st_model_param_floats(m), e->comm, err));
    lap(e, ST_STEP_EXCHANGE, t0);
    return ST_OK;
}

/* Exact mode: each shard's gradient alone (backward writes straight into that shard's buffer),
 * then a fixed-point sum over shards and ranks. A rank whose step failed sends an infinite
 * largest magnitude: no rank makes the sums, the arena is marked non-finite, and the close
 * agrees on the failure. */
static st_status_t gradients_exact(st_engine_t *e, int64_t global_step, const float *grad_scale, double *t0,
                                   st_error_t *err) {
    st_model_t *m = e->parts.model;
    size_t n = st_model_param_floats(m);
    double max_abs = 0;
    const float *shard[64];
    float *arena = st_model_swap_grads(m, e->shard_grads);
    for (int o = 0; o < e->n_owned; o++) {
        float *g = e->shard_grads + (size_t)o * n;
        st_model_swap_grads(m, g);
        memset(g, 0, n * sizeof(float));
        for (int a = 0; e->pass_status == ST_OK && a < e->accum; a++)
            e->pass_status = run_micro_batches(e, a, o, 1, global_step, grad_scale, err);
        lap(e, ST_STEP_PASSES, t0);
        max_abs = fmax(max_abs, st_max_abs(g, n));
        shard[o] = g;
        lap(e, ST_STEP_FIXED, t0);
    }
    st_model_swap_grads(m, arena);
    if (e->pass_status != ST_OK) max_abs = INFINITY;
    arrive(e);
    ST_TRY(st_allreduce_max_f64(&max_abs, e->comm, err));
    lap(e, ST_STEP_EXCHANGE, t0);
    if (!isfinite(max_abs)) {
        arena[0] = NAN;
        return ST_OK;
    }
    int exponent = st_fixed_exponent(max_abs, e->data->S);
    st_fixed_sum_arrays(e->fixed, shard, e->n_owned, n, exponent);
    lap(e, ST_STEP_FIXED, t0);
    ST_TRY(st_allreduce_sum_i64_big(e->fixed, n, e->comm, err));
    lap(e, ST_STEP_EXCHANGE, t0);
    st_fixed_to_float(arena, e->fixed, n, exponent);
    lap(e, ST_STEP_FIXED, t0);
    return ST_OK;
}

/* ---- 3. the closing exchange ---- */

/* Step totals from every shard's sums, in shard order (the same bits for any P), and the
 * running statistics pooled over all S·accum micro-batches in (shard, accumulation) order. The
 * shards' status words agree a failure before or during the step (st_comm_agreed's rule), and
 * the ranks' flags are OR-ed into *flags. */
static st_status_t close_step(st_engine_t *e, st_status_t pass_status, int *flags, st_step_stats_t *out,
                              st_error_t *err) {
    int S = e->data->S, H = e->parts.losses->n_heads, first = INT_MAX;
    for (int o = 0; o < e->n_owned; o++) {
        double *rec = e->close + (size_t)(e->data->shard_first + o) * e->rec_len;
        rec[SUM_STATUS] = o == 0 ? st_comm_status_word(e->comm, pass_status) : INT_MAX;
        rec[SUM_FLAGS] = o == 0 ? *flags : 0;
    }
    if (e->node_update) st_engine_node_close(e);
    else ST_TRY(st_allgather_shards(e->close, S, e->rec_len, e->comm, err));
    for (int s = 0; s < S; s++) {
        const double *rec = e->close + (size_t)s * e->rec_len;
        if (rec[SUM_STATUS] < first) first = (int)rec[SUM_STATUS];
        *flags |= (int)rec[SUM_FLAGS];
        out->count += (int64_t)rec[SUM_COUNT];
        for (int h = 0; h < H; h++) {
            const double *hr = rec + N_FIXED + N_PER_HEAD * h;
            out->head[h].sum += hr[H_SUM], out->head[h].weight += hr[H_WEIGHT];
            out->head_correct[h] += (int64_t)hr[H_CORRECT], out->head_labelled[h] += (int64_t)hr[H_LABELLED];
        }
    }
    ST_TRY(st_comm_agreed(pass_status, first, err));
    out->loss_sum = out->head[0].sum, out->weight = out->head[0].weight, out->correct = out->head_correct[0];
    if (e->n_stat_layers == 0) return ST_OK;
    size_t block = (size_t)e->accum * e->stats_floats;
    for (int s = 0; s < S; s++)
        memcpy(e->stats + (size_t)s * block, e->close + (size_t)s * e->rec_len + N_SUMS(H), sizeof(double) * block);
    const double *stats = e->stats;
    for (int l = 0; l < e->n_stat_layers; l++) {
        st_layer_t *L = e->stat_layers[l];
        L->kind->stats_pool(L, stats, S * e->accum, (size_t)e->stats_floats, e->micro);
        stats += L->kind->stats_floats(L);
    }
    return ST_OK;
}

static st_status_t engine_step(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, double lr_base,
                               int flags, st_status_t status, st_step_stats_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    e->epoch = epoch;
    double t0 = st_clock_s();
    memset(e->phase_ring[e->timed_steps % ST_STEP_RING], 0, sizeof e->phase_ring[0]);
    float grad_scale[ST_LOSS_MAX_HEADS];
    /* an epoch's last step carries the next epoch's totals of this rank's shards in its close */
    int carry = e->local_totals && step == e->sampler.steps_per_epoch - 1 && epoch + 1 < e->epochs;
    e->rec_len = e->close_len + (carry ? (int)e->tail_len : 0);
    memset(e->close, 0, sizeof(double) * (size_t)e->rec_len * (size_t)e->data->S);
    if (e->local_totals && !st_engine_totals_ready(e, epoch, global_step - step)) /* no st_engine_start */
        ST_TRY(st_engine_totals_exchange(e, epoch, global_step - step, status, err));
    if (status == ST_OK) status = st_sampler_set_epoch(&e->sampler, epoch, err);
    if (status == ST_OK) status = fetch_step(e, step, global_step, err);
    if (!e->local_totals) ST_TRY(open_step(e, grad_scale, err));
    else if (status == ST_OK) st_engine_local_scale(e, step, grad_scale);
    if (carry && status == ST_OK) /* after fetch_step: the sampler moves to the next epoch */
        status = st_engine_own_totals(e, e->close + e->close_len, (size_t)e->rec_len, epoch + 1, global_step + 1, err);
    e->pass_status = status; /* a failure before the step: no passes here, agreed at the close */
    lap(e, ST_STEP_FETCH, &t0);
    if (e->exact) ST_TRY(gradients_exact(e, global_step, grad_scale, &t0, err));
    else ST_TRY(gradients_fast(e, global_step, grad_scale, &t0, err));
    ST_TRY(close_step(e, e->pass_status, &flags, out, err));
    if (carry) st_engine_totals_received(e, e->close + e->close_len, (size_t)e->rec_len, epoch + 1, global_step + 1);
    lap(e, ST_STEP_CLOSE, &t0);
    e->close_end_s = t0;
    out->stop = (flags & ST_FLAG_STOP) != 0;
    st_update_result_t u;
    if (e->node_update) {
        st_engine_node_sum(e);
        lap(e, ST_STEP_EXCHANGE, &t0);
        st_engine_node_update(e, lr_base, (flags & ST_FLAG_NONFINITE) != 0, &u);
    } else {
        st_train_update(&e->parts, lr_base, (flags & ST_FLAG_NONFINITE) != 0, &u);
    }
    out->grad_norm = u.grad_norm, out->skipped = u.skipped;
    lap(e, ST_STEP_UPDATE, &t0);
    e->timed_steps++;
    return ST_OK;
}

/* The step between marks a profiling library sees (st_mark_step: the collectives of each step). */
st_status_t st_engine_step(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, double lr_base,
                           int flags, st_status_t status, st_step_stats_t *out, st_error_t *err) {
    st_mark_step(1);
    st_status_t rc = engine_step(e, epoch, step, global_step, lr_base, flags, status, out, err);
    st_mark_step(0);
    return rc;
}
