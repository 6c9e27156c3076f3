/* ckpt_model.c — see ckpt_model.h: a checkpoint's model rebuilt, and rows prepared for it. */
#include "jobs/ckpt_model.h"

#include "jobs/ckpt_heads.h"
#include "sharding/standardize.h"

int st_ckpt_model_classes(const char *head, void *ctx) {
    const st_ckpt_t *ck = ctx;
    int k = st_ckpt_head_width(ck, head);
    return k > 0 ? k : ck->n_classes;
}

st_status_t st_ckpt_model_build(st_model_t **model, const st_ckpt_t *ck, const st_run_config_t *cfg, st_shape_t shape,
                                int has_lengths, int rows, const char *data_path, st_error_t *err) {
    char sh[48];
    st_shape_str(shape, sh, sizeof sh);
    /* what standardisation counted: D or C of [T, C] (per channel), 1 (global), T·C (per position) */
    int F = st_shape_channels(shape), mode = (int)cfg->data.standardize;
    if (mode == ST_STD_GLOBAL) F = 1;
    else if (mode == ST_STD_POSITION) F = st_shape_numel(shape);
    if (ck->std_mean && ck->n_features != F)
        return st_fail(err, ST_ERR_DATA, "%s has samples of shape %s (%d feature%s), but the model of %s was trained on %d "
                       "features", data_path, sh, F, F == 1 ? "" : "s", ck->path, ck->n_features);
    st_ckpt_t *ctx = (st_ckpt_t *)ck; /* read only: the callback's context is not const */
    ST_TRY(st_model_build_heads(cfg->model, "model", shape, st_ckpt_model_classes("", ctx), st_ckpt_model_classes, ctx,
                                model, err));
    if (st_model_param_floats(*model) != ck->n_params)
        return st_fail(err, ST_ERR_DATA, "%s has samples of shape %s, for which the model of %s has %zu parameters, but "
                       "the checkpoint holds %zu: the model was trained on samples of another shape", data_path, sh,
                       ck->path, st_model_param_floats(*model), ck->n_params);
    if (has_lengths) ST_TRY(st_model_enable_lengths(*model, err));
    ST_TRY(st_model_reserve(*model, rows, 0, err));
    return st_ckpt_restore(ck, st_model_params(*model), st_model_param_floats(*model), st_model_buffers(*model),
                           st_model_buffer_floats(*model), NULL, NULL, err);
}

void st_ckpt_prepare_rows(float *X, const int32_t *len, int64_t n, const st_ckpt_t *ck, const st_run_config_t *cfg,
                          st_shape_t shape) {
    long rf = st_shape_numel(shape);
    if (cfg->data.scale_pixels) st_scale_pixels(X, n * rf);
    if (!ck->std_mean) return;
    int T = 0, F = 0, C = st_shape_channels(shape);
    st_std_layout(&T, &F, (int)rf, C, ST_STD_CHANNEL, ck->n_features);
    if (len) st_standardize_apply_masked(X, ck->std_mean, ck->std_std, len, n, T, F, C);
    else st_standardize_apply(X, ck->std_mean, ck->std_std, n, T, F);
}
