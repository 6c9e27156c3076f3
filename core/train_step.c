/* train_step.c — a training pass (plain or mixed), the update, and a single-process step (see
 * train_step.h). */
#include "train_step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "regularize.h"

static st_status_t head_index(const st_model_t *m, const st_loss_config_t *loss, int *h, st_error_t *err) {
    *h = loss->head[0] ? st_model_head_find(m, loss->head) : 0;
    if (*h < 0) return st_fail(err, ST_ERR_CONFIG, "loss: the model has no head named \"%s\"", loss->head);
    return ST_OK;
}

static int has_class_ids(const st_loss_config_t *loss) {
    return loss->type == ST_LOSS_CROSS_ENTROPY || loss->type == ST_LOSS_FOCAL;
}

/* The ctc loss of micro-batch rows [r0, r0 + rows) over head h's positions in the last forward
 * (each row's frames: the model's mapping of the input lengths). */
static st_status_t micro_ctc(const st_step_parts_t *p, int i, int h, const st_batch_targets_t *tg, int r0, int rows,
                             float grad_scale, st_micro_sums_t *sums, st_error_t *err) {
    const st_loss_config_t *cfg = &p->losses->heads[i];
    int T = 0;
    const int32_t *len = st_model_head_lengths(p->model, h, &T);
    size_t off = (size_t)r0 * (size_t)T * (size_t)cfg->n_classes;
    const float *targets = tg->targets[i] ? tg->targets[i] + (size_t)r0 * (size_t)st_loss_target_width(cfg) : NULL;
    return st_loss_eval_ctc(&sums->head[i], st_model_head_grad(p->model, h) + off, cfg,
                            st_model_head_output(p->model, h) + off, len ? len + r0 : NULL, T, targets, grad_scale,
                            rows, err);
}

/* Class-id losses: the argmax hits among the labelled rows. A mixed row (plan, may be NULL) counts
 * against the label of its larger share: its own when λ >= 1/2, else its partner's. */
static st_status_t count_hits(const st_loss_config_t *cfg, const int32_t *labels, const float *out /*[rows,width]*/,
                              const st_mix_row_t *plan /*[rows] or NULL*/, int width, int rows, int i,
                              st_micro_sums_t *sums) {
    if (!labels || !has_class_ids(cfg)) return ST_OK;
    for (int r = 0; r < rows; r++) {
        int y = plan && plan[r].lam < 0.5f ? labels[plan[r].partner] : labels[r];
        if (y >= 0) sums->labelled[i]++, sums->correct[i] += st_argmax(out + (size_t)r * width, width) == y;
    }
    return ST_OK;
}

/* Loss i of micro-batch rows [r0, r0 + rows): its value into *v, its gradient (scaled) into the
 * head's gradient rows, and for class-id losses the argmax hits among labelled rows. */
static st_status_t micro_loss(const st_step_parts_t *p, int i, const st_batch_targets_t *tg, int r0, int rows,
                              float grad_scale, st_micro_sums_t *sums, st_error_t *err) {
    const st_loss_config_t *cfg = &p->losses->heads[i];
    int h;
    ST_TRY(head_index(p->model, cfg, &h, err));
    if (st_loss_is_sequence(cfg)) return micro_ctc(p, i, h, tg, r0, rows, grad_scale, sums, err);
    size_t width = (size_t)st_shape_numel(st_model_head(p->model, h)->shape), off = (size_t)r0 * width;
    const int32_t *labels = tg->labels[i] ? tg->labels[i] + r0 : NULL;
    const float *out = st_model_head_output(p->model, h) + off;
    ST_TRY(st_loss_eval(&sums->head[i], st_model_head_grad(p->model, h) + off, cfg, out, labels,
                        tg->targets[i] ? tg->targets[i] + off : NULL, grad_scale, rows, err));
    return count_hits(cfg, labels, out, NULL, (int)width, rows, i, sums);
}

/* ---- mixed losses ---- */

/* Class-id loss i of rows [r0, r0 + rows) mixed by plan (partners within the micro-batch): row by
 * row, ℓ(y_i) with gradient scale s·λ plus, for a mixed row, ℓ(y_j) with s·(1 − λ) (its gradient
 * through `tmp` [K]); value and weight mixed alike. */
static st_status_t mixed_class_loss(const st_loss_config_t *cfg, float *dz /*[rows,K]*/, const float *z /*[rows,K]*/,
                                    const int32_t *labels /*[rows]*/, const st_mix_row_t *plan /*[rows]*/,
                                    float grad_scale, float *tmp /*[K]*/, int rows, int K, st_loss_value_t *v,
                                    st_error_t *err) {
    st_loss_value_t a, b;
    for (int r = 0; r < rows; r++) /* named by its row in the micro-batch, as the plain loss does */
        if (labels[r] < -1 || labels[r] >= K) return st_fail(err, ST_ERR_DATA, "row %d: label %d outside [0, %d)", r, labels[r], K);
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * K;
        float *dr = dz + (size_t)r * K;
        double lam = plan[r].lam;
        if (plan[r].lam >= 1.0f) {
            ST_TRY(st_loss_eval(&a, dr, cfg, zr, labels + r, NULL, grad_scale, 1, err));
            v->sum += a.sum, v->weight += a.weight;
            continue;
        }
        ST_TRY(st_loss_eval(&a, dr, cfg, zr, labels + r, NULL, (float)(grad_scale * lam), 1, err));
        ST_TRY(st_loss_eval(&b, tmp, cfg, zr, labels + plan[r].partner, NULL, (float)(grad_scale * (1 - lam)), 1, err));
        for (int k = 0; k < K; k++) dr[k] += tmp[k];
        v->sum += lam * a.sum + (1 - lam) * b.sum;
        v->weight += lam * a.weight + (1 - lam) * b.weight;
    }
    return ST_OK;
}

/* The mixed targets of rows [0, rows): λ·t_i + (1 − λ)·t_j per element; a NaN side takes the
 * other side's value. */
static void mix_targets(float *out /*[rows,K]*/, const float *t /*[rows,K]*/, const st_mix_row_t *plan, int rows,
                        int K) {
    for (int r = 0; r < rows; r++) {
        const float *a = t + (size_t)r * K, *b = t + (size_t)plan[r].partner * K;
        float *o = out + (size_t)r * K, l = plan[r].lam, m = 1.0f - plan[r].lam;
        for (int k = 0; k < K; k++)
            o[k] = plan[r].lam >= 1.0f || isnan(b[k]) ? a[k] : isnan(a[k]) ? b[k] : l * a[k] + m * b[k];
    }
}

/* Loss i of micro-batch rows [r0, r0 + rows) with their plan (see the top of train_step.h). */
static st_status_t micro_loss_mixed(const st_step_parts_t *p, int i, const st_batch_targets_t *tg, int r0, int rows,
                                    const st_mix_row_t *plan /*[rows]*/, float grad_scale, float *work,
                                    st_micro_sums_t *sums, st_error_t *err) {
    const st_loss_config_t *cfg = &p->losses->heads[i];
    if (!st_mix_any(plan, rows) || st_loss_is_sequence(cfg)) return micro_loss(p, i, tg, r0, rows, grad_scale, sums, err);
    int h;
    ST_TRY(head_index(p->model, cfg, &h, err));
    int width = st_shape_numel(st_model_head(p->model, h)->shape);
    size_t off = (size_t)r0 * (size_t)width;
    const float *out = st_model_head_output(p->model, h) + off;
    float *dz = st_model_head_grad(p->model, h) + off;
    const int32_t *labels = tg->labels[i] ? tg->labels[i] + r0 : NULL;
    memset(&sums->head[i], 0, sizeof sums->head[i]);
    if (labels) {
        ST_TRY(mixed_class_loss(cfg, dz, out, labels, plan, grad_scale, work, rows, width, &sums->head[i], err));
        return count_hits(cfg, labels, out, plan, width, rows, i, sums);
    }
    if (!tg->targets[i]) return st_fail(err, ST_ERR_INTERNAL, "loss %d: targets missing", i);
    mix_targets(work, tg->targets[i] + off, plan, rows, width);
    return st_loss_eval(&sums->head[i], dz, cfg, out, NULL, work, grad_scale, rows, err);
}

double st_train_weight_total(const st_loss_config_t *cfg, const int32_t *labels, const float *targets,
                             const st_mix_row_t *plan, int B) {
    if (!plan || !st_mix_any(plan, B) || st_loss_is_sequence(cfg))
        return st_loss_weight_total_of(cfg, labels, targets, B);
    double w = 0;
    if (st_loss_uses_labels(cfg)) {
        const float *cw = cfg->class_weights;
        for (int r = 0; r < B; r++) {
            int a = labels[r], b = labels[plan[r].partner];
            double wa = a < 0 ? 0 : cw ? cw[a] : 1.0, wb = b < 0 ? 0 : cw ? cw[b] : 1.0;
            w += plan[r].lam >= 1.0f ? wa : (double)plan[r].lam * wa + (1 - (double)plan[r].lam) * wb;
        }
        return w;
    }
    int K = st_loss_target_width(cfg);
    for (int r = 0; r < B; r++) {
        const float *a = targets + (size_t)r * K, *b = targets + (size_t)plan[r].partner * K;
        for (int k = 0; k < K; k++) w += !isnan(a[k]) || (plan[r].lam < 1.0f && !isnan(b[k]));
    }
    return w;
}

st_status_t st_train_pass(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                          const st_batch_targets_t *tg, int B, int n_micro, const float *grad_scale,
                          st_micro_sums_t *sums, st_error_t *err) {
    return st_train_pass_mixed(p, ctx, x, tg, B, n_micro, NULL, grad_scale, sums, err);
}

void st_train_row_layout(const st_step_parts_t *p, const st_run_ctx_t *ctx, int *T, int *C) {
    st_shape_t in = st_model_input_shape(p->model);
    *T = 1, *C = st_shape_numel(in);
    if (in.rank != 2) return;
    *T = ctx->lengths && ctx->positions > 0 ? ctx->positions : in.d[0];
    *C = in.d[1];
}

/* The widest row of any loss's output (scratch of the mixed losses). */
static int widest_head(const st_step_parts_t *p) {
    int K = 1;
    for (int i = 0; i < p->losses->n_heads; i++) {
        int h = 0;
        const st_loss_config_t *cfg = &p->losses->heads[i];
        if (cfg->head[0] && (h = st_model_head_find(p->model, cfg->head)) < 0) continue;
        int w = st_shape_numel(st_model_head(p->model, h)->shape);
        if (w > K) K = w;
    }
    return K;
}

/* The forward of a mixed pass: x mixed micro-batch by micro-batch into xm (lengths into lm),
 * then the model on xm with a context whose lengths are lm. */
static st_status_t mixed_forward(const st_step_parts_t *p, st_run_ctx_t *mctx, const float *x, int B, int n_micro,
                                 const st_mix_row_t *plan, float *xm, int32_t *lm, st_error_t *err) {
    int T, C, rows = B / n_micro;
    st_train_row_layout(p, mctx, &T, &C);
    size_t row = (size_t)T * (size_t)C;
    for (int k = 0; k < n_micro; k++) {
        size_t r0 = (size_t)k * (size_t)rows;
        st_mix_inputs(xm + r0 * row, mctx->lengths ? lm + r0 : NULL, x + r0 * row, mctx->lengths ? mctx->lengths + r0 : NULL,
                      plan + r0, rows, T, C);
    }
    if (mctx->lengths) mctx->lengths = lm;
    return st_model_forward_checked(p->model, mctx, xm, B, err);
}

st_status_t st_train_pass_mixed(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const st_batch_targets_t *tg, int B, int n_micro, const st_mix_row_t *plan,
                                const float *grad_scale, st_micro_sums_t *sums, st_error_t *err) {
    if (n_micro < 1 || B % n_micro != 0)
        return st_fail(err, ST_ERR_INTERNAL, "training pass: %d rows are not %d equal micro-batches", B, n_micro);
    int rows = B / n_micro;
    if (plan && !st_mix_any(plan, B)) plan = NULL; /* nothing mixed: exactly the plain pass */
    st_run_ctx_t mctx = *ctx;
    float *xm = NULL, *work = NULL;
    int32_t *lm = NULL;
    st_status_t rc = ST_OK;
    if (plan) {
        int T, C;
        st_train_row_layout(p, ctx, &T, &C);
        xm = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)C);
        lm = malloc(sizeof(int32_t) * (size_t)B);
        work = malloc(sizeof(float) * (size_t)rows * (size_t)widest_head(p));
        if (!xm || !lm || !work) rc = st_fail(err, ST_ERR_NOMEM, "training pass: no memory for the mixed inputs");
        if (rc == ST_OK) rc = mixed_forward(p, &mctx, x, B, n_micro, plan, xm, lm, err);
    } else {
        rc = st_model_forward_checked(p->model, ctx, x, B, err);
    }
    for (int k = 0; rc == ST_OK && k < n_micro; k++) {
        memset(&sums[k], 0, sizeof sums[k]);
        for (int i = 0; rc == ST_OK && i < p->losses->n_heads; i++)
            rc = plan ? micro_loss_mixed(p, i, tg, k * rows, rows, plan + (size_t)k * rows, grad_scale[i], work, &sums[k], err)
                      : micro_loss(p, i, tg, k * rows, rows, grad_scale[i], &sums[k], err);
    }
    if (rc == ST_OK) st_model_backward(p->model, &mctx, B);
    free(xm), free(lm), free(work);
    return rc;
}

void st_train_update(const st_step_parts_t *p, double lr_base, int skip, st_update_result_t *res) {
    st_model_t *m = p->model;
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(m, &n_tensors);
    st_l2_apply(tensors, n_tensors);
    size_t n = st_model_param_floats(m);
    float *grads = st_model_grads(m);
    res->grad_norm = p->clip_norm > 0 ? st_clip_grad_norm(grads, n, p->clip_norm) : sqrt(st_sum_squares(grads, n));
    res->skipped = skip || !isfinite(res->grad_norm);
    if (!res->skipped) st_optim_step(p->optim, st_model_params(m), grads, lr_base);
}

void st_train_plan_local(st_mix_row_t *plan, uint64_t *order, const st_mix_config_t *mix, const st_step_parts_t *p,
                         const st_run_ctx_t *ctx, int B) {
    int T, C;
    st_train_row_layout(p, ctx, &T, &C);
    const int64_t *occ = ctx->sample_index;
    int64_t *numbers = NULL;
    if (!occ && (numbers = malloc(sizeof(int64_t) * (size_t)B)))
        for (int i = 0; i < B; i++) numbers[i] = i;
    if (!occ && !(occ = numbers)) { /* no memory: no mixing this step */
        for (int i = 0; i < B; i++) plan[i] = (st_mix_row_t){.partner = i, .lam = 1.0f};
        return;
    }
    st_mix_plan(plan, order, mix, ctx->seed, 0, ctx->step, occ, ctx->lengths, T, B);
    free(numbers);
}

st_status_t st_train_step_plan(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                               const st_batch_targets_t *tg, int B, const st_mix_row_t *plan, double lr_base,
                               st_step_result_t *res, st_error_t *err) {
    float scale[ST_LOSS_MAX_HEADS];
    for (int i = 0; i < p->losses->n_heads; i++)
        scale[i] = st_loss_grad_scale(&p->losses->heads[i],
                                      st_train_weight_total(&p->losses->heads[i], tg->labels[i], tg->targets[i], plan, B));
    st_micro_sums_t sums;
    st_model_zero_grads(p->model);
    ST_TRY(st_train_pass_mixed(p, ctx, x, tg, B, 1, plan, scale, &sums, err));
    res->loss = st_loss_combine(NULL, p->losses->heads, sums.head, p->losses->n_heads);
    /* a non-finite loss fails the step even when the gradient stayed finite */
    st_update_result_t u;
    st_train_update(p, lr_base, !isfinite(res->loss), &u);
    res->grad_norm = u.grad_norm;
    if (u.skipped)
        return st_fail(err, ST_ERR_NUMERIC, "training step %u: non-finite loss (%g) or gradient norm (%g)", ctx->step,
                       res->loss, res->grad_norm);
    return ST_OK;
}

st_status_t st_train_step_heads(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const st_batch_targets_t *tg, int B, double lr_base, st_step_result_t *res,
                                st_error_t *err) {
    return st_train_step_plan(p, ctx, x, tg, B, NULL, lr_base, res, err);
}

st_status_t st_train_step_local(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const int32_t *labels, const float *targets, int B, double lr_base,
                                st_step_result_t *res, st_error_t *err) {
    st_batch_targets_t tg;
    memset(&tg, 0, sizeof tg);
    for (int i = 0; i < p->losses->n_heads; i++) {
        if (has_class_ids(&p->losses->heads[i])) tg.labels[i] = labels;
        else tg.targets[i] = targets;
    }
    return st_train_step_heads(p, ctx, x, &tg, B, lr_base, res, err);
}
