/* train_step.c — a single-process training step (see train_step.h). */
#include "train_step.h"

#include <math.h>

#include "regularize.h"

static st_status_t head_index(const st_model_t *m, const st_loss_config_t *loss, int *h, st_error_t *err) {
    *h = loss->head[0] ? st_model_head_find(m, loss->head) : 0;
    if (*h < 0) return st_fail(err, ST_ERR_CONFIG, "loss: the model has no head named \"%s\"", loss->head);
    return ST_OK;
}

/* Loss values and head gradients for every head; returns the combined loss in *loss. */
static st_status_t heads_loss(const st_step_parts_t *p, const int32_t *labels, const float *targets,
                              int B, double *loss, st_error_t *err) {
    st_loss_value_t values[ST_LOSS_MAX_HEADS];
    for (int i = 0; i < p->losses->n_heads; i++) {
        const st_loss_config_t *cfg = &p->losses->heads[i];
        int h;
        ST_TRY(head_index(p->model, cfg, &h, err));
        float scale = st_loss_grad_scale(cfg, st_loss_weight_total(cfg, labels, B));
        ST_TRY(st_loss_eval(&values[i], st_model_head_grad(p->model, h), cfg, st_model_head_output(p->model, h),
                            labels, targets, scale, B, err));
    }
    *loss = st_loss_combine(NULL, p->losses->heads, values, p->losses->n_heads);
    return ST_OK;
}

st_status_t st_train_step_local(const st_step_parts_t *p, const st_run_ctx_t *ctx, const float *x,
                                const int32_t *labels, const float *targets, int B, double lr_base,
                                st_step_result_t *res, st_error_t *err) {
    st_model_t *m = p->model;
    st_model_zero_grads(m);
    st_model_forward(m, ctx, x, B);
    ST_TRY(heads_loss(p, labels, targets, B, &res->loss, err));
    st_model_backward(m, ctx, B);
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(m, &n_tensors);
    st_l2_apply(tensors, n_tensors);
    size_t n = st_model_param_floats(m);
    res->grad_norm = p->clip_norm > 0 ? st_clip_grad_norm(st_model_grads(m), n, p->clip_norm)
                                      : sqrt(st_sum_squares(st_model_grads(m), n));
    if (!isfinite(res->loss) || !isfinite(res->grad_norm))
        return st_fail(err, ST_ERR_NUMERIC, "training step %u: non-finite loss (%g) or gradient norm (%g)",
                       ctx->step, res->loss, res->grad_norm);
    st_optim_step(p->optim, st_model_params(m), st_model_grads(m), lr_base);
    return ST_OK;
}
