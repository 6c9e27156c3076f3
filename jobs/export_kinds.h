/* export_kinds.h — what the two files of layer emitters share (not for use outside them):
 * jobs/export_layers.c (the table, dense, normalisation, activations, slice, permute,
 * embeddings) and jobs/export_seq_layers.c (the kinds that run along T: convolutions, pooling,
 * squeeze_excite, upsampling, reshape, lstm, gru). An emitter appends layer L reading x and
 * sets *y to its output (export_layers.h). */
#ifndef ST_EXPORT_KINDS_H
#define ST_EXPORT_KINDS_H

#include "jobs/export_layers.h"

typedef st_status_t (*st_export_emit_fn)(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t x, st_onnx_val_t *y,
                                         st_error_t *err);

long st_export_opt_i(const st_layer_t *L, const char *key);  /* an integer key of L */
/* x after L: L's output shape, `name`, x's layout kept. */
st_onnx_val_t st_export_shaped(st_onnx_val_t x, const st_layer_t *L, const char *name);
/* A float32 initializer [n] / [1] named "<layer>.<what>". */
const char *st_export_vec(st_onnx_t *g, const st_layer_t *L, const char *what, const float *v, int64_t n);
const char *st_export_scalar(st_onnx_t *g, const st_layer_t *L, const char *what, float v);

/* jobs/export_seq_layers.c */
st_status_t st_export_emit_conv1d(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_max_pool(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_avg_pool(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_global_avg(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_global_max(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_flatten(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_squeeze_excite(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_reshape(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_upsample1d(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_conv_transpose1d(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_lstm(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);
st_status_t st_export_emit_gru(st_onnx_t *, const st_layer_t *, st_onnx_val_t, st_onnx_val_t *, st_error_t *);

#endif
