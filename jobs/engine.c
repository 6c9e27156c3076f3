/* engine.c — the distributed training step and evaluation (see engine.h). */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/batchnorm.h"
#include "metrics.h"
#include "mpi/collectives.h"
#include "regularize.h"
#include "sharding/loader.h"
#include "mpi/fixed_sum.h"

static void *zalloc(size_t n, size_t size, st_error_t *err) {
    void *p = calloc(n ? n : 1, size);
    if (!p) st_fail(err, ST_ERR_NOMEM, "training step: cannot allocate %zu bytes", n * size);
    return p;
}

static st_status_t find_batchnorms(st_engine_t *e, st_error_t *err) {
    int n = st_model_layer_count(e->model);
    if (!(e->bn = zalloc((size_t)n, sizeof *e->bn, err))) return err->code;
    for (int i = 0; i < n; i++) {
        st_layer_t *L = st_model_layer(e->model, i);
        if (strcmp(L->kind->type, "batchnorm") != 0) continue;
        e->bn[e->n_bn++] = L;
        e->bn_floats += 2 * st_shape_channels(L->in_shape);
    }
    return ST_OK;
}

st_status_t st_engine_init(st_engine_t *e, st_model_t *model, const st_loss_config_t *loss, st_optim_t *optim,
                           const st_data_t *data, const st_comm_t *c, int accumulation, double clip_norm,
                           uint64_t seed, st_error_t *err) {
    memset(e, 0, sizeof *e);
    e->model = model, e->loss = loss, e->optim = optim, e->data = data, e->comm = c;
    e->clip_norm = clip_norm, e->seed = seed;
    e->micro = data->micro_batch, e->accum = accumulation;
    e->n_owned = data->shard_end - data->shard_first;
    ST_TRY(st_sampler_init(&e->sampler, &data->shards, data->shard_first, data->shard_end, e->micro, e->accum, seed, err));
    ST_TRY(find_batchnorms(e, err));
    if (st_model_reserved(model) < e->micro)
        return st_fail(err, ST_ERR_INTERNAL, "training step: the model holds %d rows, a micro-batch has %d",
                       st_model_reserved(model), e->micro);
    e->per_pass = st_model_reserved(model) / e->micro;
    if (e->per_pass > e->n_owned) e->per_pass = e->n_owned;
    size_t slots = (size_t)e->accum * (size_t)e->n_owned * (size_t)e->micro;
    e->bn_stats = zalloc((size_t)data->S * (size_t)e->accum * (size_t)(e->bn_floats ? e->bn_floats : 1), sizeof(double), err);
    size_t pass_rows = (size_t)e->per_pass * (size_t)e->micro;
    e->x_mb = e->bn_stats ? zalloc(pass_rows * (size_t)data->row_floats, sizeof(float), err) : NULL;
    e->y_mb = e->x_mb ? zalloc(slots, sizeof(int32_t), err) : NULL;
    e->ids = e->y_mb ? zalloc(slots, sizeof(int64_t), err) : NULL;
    e->pos = e->ids ? zalloc(slots, sizeof(int64_t), err) : NULL;
    e->shard_sums = e->pos ? zalloc((size_t)data->S * 4, sizeof(double), err) : NULL;
    return e->shard_sums ? ST_OK : err->code;
}

st_status_t st_engine_set_exact(st_engine_t *e, st_error_t *err) {
    size_t n = st_model_param_floats(e->model);
    if (e->n_owned > 64) return st_fail(err, ST_ERR_CONFIG, "reproducible \"exact\": at most 64 shards per rank");
    e->shard_grads = zalloc((size_t)e->n_owned * n, sizeof(float), err);
    e->fixed = e->shard_grads ? zalloc(n, sizeof(int64_t), err) : NULL;
    e->exact = e->fixed != NULL;
    return e->exact ? ST_OK : err->code;
}

void st_engine_free(st_engine_t *e) {
    st_sampler_free(&e->sampler);
    free(e->bn), free(e->bn_stats), free(e->x_mb), free(e->y_mb), free(e->ids), free(e->pos);
    free(e->shard_sums), free(e->shard_grads), free(e->fixed);
    memset(e, 0, sizeof *e);
}

int64_t st_engine_steps_per_epoch(const st_engine_t *e) { return e->sampler.steps_per_epoch; }

/* Position of global id `id` in the rank's ascending training ids. */
static int64_t local_position(const st_data_part_t *train, int64_t id) {
    int64_t lo = 0, hi = train->n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (train->ids[mid] == id) return mid;
        if (train->ids[mid] < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* The ids and labels of every micro-batch of the step: slot (a, o) = accumulation a, owned shard o. */
static st_status_t fetch_step(st_engine_t *e, int64_t step, st_error_t *err) {
    const st_data_part_t *train = &e->data->part[ST_SPLIT_TRAIN];
    for (int a = 0; a < e->accum; a++)
        for (int o = 0; o < e->n_owned; o++) {
            size_t slot = ((size_t)a * e->n_owned + o) * e->micro;
            ST_TRY(st_sampler_micro_batch(e->ids + slot, &e->sampler, e->data->shard_first + o, step, a, err));
            for (int i = 0; i < e->micro; i++) {
                int64_t pos = local_position(train, e->ids[slot + i]);
                if (pos < 0) return st_fail(err, ST_ERR_INTERNAL, "training row %lld is not on this rank", (long long)e->ids[slot + i]);
                e->pos[slot + i] = pos;
                e->y_mb[slot + i] = train->y[pos];
            }
        }
    return ST_OK;
}

/* x_mb [rows, row_floats] = the training rows at positions pos [rows] (found by fetch_step). */
static void gather_inputs(st_engine_t *e, const int64_t *pos, int rows) {
    const st_data_part_t *train = &e->data->part[ST_SPLIT_TRAIN];
    long rf = e->data->row_floats;
    for (int i = 0; i < rows; i++)
        memcpy(e->x_mb + (size_t)i * rf, train->X + (size_t)pos[i] * rf, sizeof(float) * rf);
}

/* Copies every BatchNorm layer's statistics of ghost batch `group` of the last forward into slot
 * (shard, a). */
static void keep_bn_stats(st_engine_t *e, int group, int shard, int a) {
    double *dst = e->bn_stats + ((size_t)shard * e->accum + a) * e->bn_floats;
    for (int l = 0; l < e->n_bn; l++) {
        const float *mean, *var;
        int C = st_shape_channels(e->bn[l]->in_shape);
        st_batchnorm_batch_stats(e->bn[l], group, &mean, &var);
        for (int c = 0; c < C; c++) dst[c] = mean[c], dst[C + c] = var[c];
        dst += 2 * C;
    }
}

/* Pools the statistics of all S·accum micro-batches in (shard, a) order and updates every
 * BatchNorm layer's running statistics once, identically on every rank. */
static st_status_t update_running_stats(st_engine_t *e, st_error_t *err) {
    if (e->n_bn == 0) return ST_OK;
    ST_TRY(st_loader_allgather_partials(e->bn_stats, e->comm, e->data->S, e->accum * e->bn_floats, err));
    int M = e->data->S * e->accum, off = 0;
    for (int l = 0; l < e->n_bn; l++) {
        st_layer_t *L = e->bn[l];
        int C = st_shape_channels(L->in_shape);
        long rows = (long)e->micro * st_shape_positions(L->in_shape);
        float *mean = malloc(sizeof(float) * 2 * C), *var = mean ? mean + C : NULL;
        if (!mean) return st_fail(err, ST_ERR_NOMEM, "batchnorm statistics");
        for (int c = 0; c < C; c++) {
            double m = 0, v = 0;
            for (int i = 0; i < M; i++) m += e->bn_stats[(size_t)i * e->bn_floats + off + c];
            m /= M;
            for (int i = 0; i < M; i++) {
                const double *s = e->bn_stats + (size_t)i * e->bn_floats + off;
                v += s[C + c] + (s[c] - m) * (s[c] - m);
            }
            mean[c] = (float)m, var[c] = (float)(v / M);
        }
        st_batchnorm_update_running(L->buffers[0].data, L->buffers[1].data, mean, var, rows * M, C,
                                    st_layer_opt(L, "momentum")->num);
        free(mean);
        off += 2 * C;
    }
    return ST_OK;
}

/* Forward, loss and backward of the micro-batches of owned shards o0 .. o0+n_mb-1 at
 * accumulation step a, in one pass (ghost batches of e->micro rows); adds to each shard's sums
 * [4] and keeps each one's BatchNorm statistics. */
static st_status_t run_micro_batches(st_engine_t *e, int a, int o0, int n_mb, int64_t global_step, float grad_scale,
                                     st_error_t *err) {
    size_t slot = ((size_t)a * e->n_owned + o0) * e->micro;
    int rows = n_mb * e->micro;
    gather_inputs(e, e->pos + slot, rows);
    st_run_ctx_t ctx = {.training = 1, .seed = e->seed, .step = (uint32_t)global_step,
                        .sample_index = e->ids + slot, .update_running_stats = 0, .ghost_batch = e->micro};
    st_model_forward(e->model, &ctx, e->x_mb, rows);
    int K = st_shape_channels(st_model_head(e->model, 0)->shape);
    for (int k = 0; k < n_mb; k++) {
        size_t r0 = (size_t)k * e->micro;
        const float *logits = st_model_head_output(e->model, 0) + r0 * K;
        const int32_t *y = e->y_mb + slot + r0;
        st_loss_value_t v;
        ST_TRY(st_loss_eval(&v, st_model_head_grad(e->model, 0) + r0 * K, e->loss, logits, y, NULL, grad_scale,
                            e->micro, err));
        int64_t correct = 0;
        for (int i = 0; i < e->micro; i++) correct += st_argmax(logits + (size_t)i * K, K) == y[i];
        double *sums = e->shard_sums + (size_t)(e->data->shard_first + o0 + k) * 4;
        sums[0] += v.sum, sums[1] += v.weight, sums[2] += (double)correct, sums[3] += e->micro;
    }
    st_model_backward(e->model, &ctx, rows);
    for (int k = 0; k < n_mb; k++) keep_bn_stats(e, k, e->data->shard_first + o0 + k, a);
    return ST_OK;
}

/* The global batch's weight total: per-shard totals, combined in shard order. */
static st_status_t global_weight(st_engine_t *e, double *total, st_error_t *err) {
    double *w = e->shard_sums; /* [S, 4]; column 0 used as scratch here */
    for (int o = 0; o < e->n_owned; o++) {
        double s = 0;
        for (int a = 0; a < e->accum; a++)
            s += st_loss_weight_total(e->loss, e->y_mb + ((size_t)a * e->n_owned + o) * e->micro, e->micro);
        w[(size_t)(e->data->shard_first + o) * 4] = s;
    }
    ST_TRY(st_loader_allgather_partials(w, e->comm, e->data->S, 4, err));
    *total = 0;
    for (int s = 0; s < e->data->S; s++) *total += w[(size_t)s * 4];
    return ST_OK;
}

/* Step totals from every shard's sums, in shard order (the same bits for any P). */
static st_status_t reduce_sums(st_engine_t *e, st_step_stats_t *out, st_error_t *err) {
    ST_TRY(st_loader_allgather_partials(e->shard_sums, e->comm, e->data->S, 4, err));
    double t[4] = {0, 0, 0, 0};
    for (int s = 0; s < e->data->S; s++)
        for (int k = 0; k < 4; k++) t[k] += e->shard_sums[(size_t)s * 4 + k];
    out->loss_sum = t[0], out->weight = t[1], out->correct = (int64_t)t[2], out->count = (int64_t)t[3];
    return ST_OK;
}

/* Fast mode: all micro-batches add into the one gradient arena, per_pass of them per pass, then
 * one float all-reduce. */
static st_status_t gradients_fast(st_engine_t *e, int64_t global_step, float grad_scale, int *flags, st_error_t *err) {
    st_model_zero_grads(e->model);
    for (int a = 0; a < e->accum; a++)
        for (int o0 = 0; o0 < e->n_owned; o0 += e->per_pass) {
            int n_mb = e->n_owned - o0 < e->per_pass ? e->n_owned - o0 : e->per_pass;
            ST_TRY(run_micro_batches(e, a, o0, n_mb, global_step, grad_scale, err));
        }
    return st_allreduce_grads(st_model_grads(e->model), st_model_param_floats(e->model), flags, e->comm, err);
}

/* Exact mode: each shard's gradient alone (backward writes straight into that shard's buffer),
 * then a fixed-point sum over shards and ranks. */
static st_status_t gradients_exact(st_engine_t *e, int64_t global_step, float grad_scale, int *flags, st_error_t *err) {
    size_t n = st_model_param_floats(e->model);
    double max_abs = 0;
    const float *shard[64];
    float *arena = st_model_swap_grads(e->model, e->shard_grads);
    for (int o = 0; o < e->n_owned; o++) {
        float *g = e->shard_grads + (size_t)o * n;
        st_model_swap_grads(e->model, g);
        memset(g, 0, n * sizeof(float));
        st_status_t rc = ST_OK;
        for (int a = 0; rc == ST_OK && a < e->accum; a++) rc = run_micro_batches(e, a, o, 1, global_step, grad_scale, err);
        if (rc != ST_OK) return st_model_swap_grads(e->model, arena), rc;
        max_abs = fmax(max_abs, st_max_abs(g, n));
        shard[o] = g;
    }
    st_model_swap_grads(e->model, arena);
    if (*flags & ST_FLAG_NONFINITE) max_abs = INFINITY;
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, &max_abs, 1, MPI_DOUBLE, MPI_MAX, e->comm->comm), err);
    if (!isfinite(max_abs)) {
        arena[0] = NAN;
        *flags |= ST_FLAG_NONFINITE;
        return ST_OK;
    }
    int exponent = st_fixed_exponent(max_abs, e->data->S);
    st_fixed_sum_arrays(e->fixed, shard, e->n_owned, n, exponent);
    ST_TRY(st_allreduce_sum_i64_big(e->fixed, n, e->comm, err));
    st_fixed_to_float(arena, e->fixed, n, exponent);
    return ST_OK;
}

st_status_t st_engine_step(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, double lr_base,
                           int flags, st_step_stats_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    ST_TRY(st_sampler_set_epoch(&e->sampler, epoch, err));
    ST_TRY(fetch_step(e, step, err));
    double weight;
    ST_TRY(global_weight(e, &weight, err));
    float grad_scale = st_loss_grad_scale(e->loss, weight);
    memset(e->shard_sums, 0, sizeof(double) * 4 * (size_t)e->data->S);
    int inject_nan = flags & ST_FLAG_NONFINITE;
    if (e->exact) {
        ST_TRY(gradients_exact(e, global_step, grad_scale, &flags, err));
        ST_MPI(MPI_Allreduce(MPI_IN_PLACE, &flags, 1, MPI_INT, MPI_BOR, e->comm->comm), err);
    } else {
        if (inject_nan) st_model_grads(e->model)[0] = NAN;
        ST_TRY(gradients_fast(e, global_step, grad_scale, &flags, err));
    }
    out->stop = (flags & ST_FLAG_STOP) != 0;
    ST_TRY(reduce_sums(e, out, err));
    ST_TRY(update_running_stats(e, err));
    size_t n = st_model_param_floats(e->model);
    float *grads = st_model_grads(e->model);
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(e->model, &n_tensors);
    st_l2_apply(tensors, n_tensors);
    out->grad_norm = e->clip_norm > 0 ? st_clip_grad_norm(grads, n, e->clip_norm) : sqrt(st_sum_squares(grads, n));
    out->skipped = !isfinite(out->grad_norm) || (flags & ST_FLAG_NONFINITE);
    if (!out->skipped) st_optim_step(e->optim, st_model_params(e->model), grads, lr_base);
    return ST_OK;
}

/* ---- evaluation ---- */

/* Row losses are summed in 2^-28 fixed point: integer sums, so the total has the same bits
 * whichever rank evaluated which rows. */
#define EVAL_FIXED_BITS 28

static st_status_t eval_rows(int64_t q[2], int64_t *confusion, st_model_t *model, const st_loss_config_t *loss,
                             const float *X, const int32_t *y, int B, int K, st_error_t *err) {
    st_run_ctx_t ctx = {.training = 0};
    st_model_forward(model, &ctx, X, B);
    const float *logits = st_model_head_output(model, 0);
    for (int i = 0; i < B; i++) {
        st_loss_value_t v;
        ST_TRY(st_loss_eval(&v, NULL, loss, logits + (size_t)i * K, y + i, NULL, 1.0f, 1, err));
        q[0] += llrint(ldexp(v.sum, EVAL_FIXED_BITS)), q[1] += llrint(ldexp(v.weight, EVAL_FIXED_BITS));
    }
    st_confusion_add(confusion, logits, y, B, K);
    return ST_OK;
}

st_status_t st_evaluate(st_eval_t *out, st_model_t *model, const st_loss_config_t *loss, const st_data_part_t *part,
                        long row_floats, int chunk, const st_comm_t *c, st_error_t *err) {
    memset(out, 0, sizeof *out);
    int K = st_shape_channels(st_model_head(model, 0)->shape);
    out->K = K;
    if (!(out->confusion = zalloc((size_t)K * K, sizeof(int64_t), err))) return err->code;
    int64_t q[2] = {0, 0};
    st_status_t rc = ST_OK;
    for (int64_t i = 0; rc == ST_OK && i < part->n; i += chunk) {
        int B = (int)(part->n - i < chunk ? part->n - i : chunk);
        rc = eval_rows(q, out->confusion, model, loss, part->X + (size_t)i * row_floats, part->y + i, B, K, err);
    }
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = st_allreduce_sum_i64(q, 2, c, err);
    if (rc == ST_OK) rc = st_allreduce_sum_i64(out->confusion, K * K, c, err);
    out->loss_sum = ldexp((double)q[0], -EVAL_FIXED_BITS), out->weight = ldexp((double)q[1], -EVAL_FIXED_BITS);
    for (int k = 0; k < K * K; k++) out->n += out->confusion[k];
    return rc;
}

void st_eval_free(st_eval_t *ev) {
    free(ev->confusion);
    ev->confusion = NULL;
}
