/* ckpt_model.h — a checkpoint's model rebuilt for use, and rows prepared for it as training
 * prepared them: what `strata eval` (jobs/eval_checkpoint.c) and `strata predict`
 * (jobs/predict.c) share, so both see the same model and the same inputs.
 *
 * The model: every head as wide as the checkpoint's per-head table says (without one: the root
 * class count), built for the data's per-sample shape, its parameter count and standardisation
 * width checked against the checkpoint (a mismatch names the data and the checkpoint: "trained
 * on samples of another shape"), variable lengths enabled when the data has them, parameters and
 * buffers restored. The rows: scaled to [0, 1] when the run scaled pixels, then standardised with
 * the checkpoint's mean and std (per channel, global or per position, as stored), steps past a
 * row's length left at 0. */
#ifndef ST_CKPT_MODEL_H
#define ST_CKPT_MODEL_H

#include <stdint.h>

#include "jobs/checkpoint.h"
#include "jobs/config.h"
#include "model.h"
#include "shape.h"

/* The width of ck's head on model output `head` ("" the only one): for st_model_build_heads and
 * st_loss_heads_parse (ctx is the st_ckpt_t). */
int st_ckpt_model_classes(const char *head, void *ctx);

/* *model ← ck's model (config cfg, parsed from ck->config_json) for samples of `shape`, reserved
 * for `rows` rows per forward pass, parameters and buffers restored. data_path names the data in
 * messages. On failure *model may hold a partly built model (st_model_free it). */
st_status_t st_ckpt_model_build(st_model_t **model, const st_ckpt_t *ck, const st_run_config_t *cfg, st_shape_t shape,
                                int has_lengths, int rows, const char *data_path, st_error_t *err);

/* X [n, numel(shape)] scaled and standardised as training did; len [n] (or NULL without
 * lengths): steps at or past a row's length are left out of the standardisation. */
void st_ckpt_prepare_rows(float *X /*[n, numel(shape)]*/, const int32_t *len /*[n]*/, int64_t n, const st_ckpt_t *ck,
                          const st_run_config_t *cfg, st_shape_t shape);

#endif
