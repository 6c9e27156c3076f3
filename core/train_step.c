/* train_step.c — a training pass, the update, and a single-process step (see train_step.h). */
#include "train_step.h"

#include <math.h>
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
    if (!labels || !has_class_ids(cfg)) return ST_OK;
    for (int r = 0; r < rows; r++)
        if (labels[r] >= 0)
            sums->labelled[i]++, sums->correct[i] += st_argmax(out + (size_t)r * width, (int)width) == labels[r];
    return ST_OK;
}

st_status_t st_train_pass(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                          const st_batch_targets_t *tg, int B, int n_micro, const float *grad_scale,
                          st_micro_sums_t *sums, st_error_t *err) {
    if (n_micro < 1 || B % n_micro != 0)
        return st_fail(err, ST_ERR_INTERNAL, "training pass: %d rows are not %d equal micro-batches", B, n_micro);
    int rows = B / n_micro;
    ST_TRY(st_model_forward_checked(p->model, ctx, x, B, err));
    for (int k = 0; k < n_micro; k++) {
        memset(&sums[k], 0, sizeof sums[k]);
        for (int i = 0; i < p->losses->n_heads; i++)
            ST_TRY(micro_loss(p, i, tg, k * rows, rows, grad_scale[i], &sums[k], err));
    }
    st_model_backward(p->model, ctx, B);
    return ST_OK;
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

st_status_t st_train_step_heads(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const st_batch_targets_t *tg, int B, double lr_base, st_step_result_t *res,
                                st_error_t *err) {
    float scale[ST_LOSS_MAX_HEADS];
    for (int i = 0; i < p->losses->n_heads; i++)
        scale[i] = st_loss_grad_scale(&p->losses->heads[i],
                                      st_loss_weight_total_of(&p->losses->heads[i], tg->labels[i], tg->targets[i], B));
    st_micro_sums_t sums;
    st_model_zero_grads(p->model);
    ST_TRY(st_train_pass(p, ctx, x, tg, B, 1, scale, &sums, err));
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
