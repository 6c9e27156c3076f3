/* export_lengths.h — the variable-length parts of the ONNX export (docs/export.md,
 * "Variable-length inputs"), for jobs/export_onnx.c and the layer emitters.
 *
 * A model trained on /lengths exports with a second input `sequence_lens` int32 [N] (each row's
 * valid steps, as /lengths). Inside the graph every sequence value carries its rows' lengths
 * (st_onnx_val_t.len, int64 [N]) and is kept at 0 past them, as strata's forward keeps it
 * (core/model_run.c): the input after preprocessing and every layer's output pass through a
 * Where with the value's mask, so padding values never reach a result. A layer that maps T
 * (conv, pooling, upsampling) maps the lengths with its kind's own out_length, tabulated for
 * every input length 0..T and looked up with a Gather; layers that pool over T use the mask. */
#ifndef ST_EXPORT_LENGTHS_H
#define ST_EXPORT_LENGTHS_H

#include "jobs/export_layers.h"

/* The graph input `sequence_lens` int32 [N] and its int64 form clamped to 0..T (returned). */
const char *st_export_lengths_input(st_onnx_t *g, int T);

/* BOOL [N, T, 1] (v held as [N, T, C]) or [N, 1, T] ([N, C, T]): position t < v.len. */
const char *st_export_mask(st_onnx_t *g, st_onnx_val_t v);

/* v with `fill` at the positions past each row's length (Where; 0 keeps strata's padding). */
const char *st_export_fill(st_onnx_t *g, st_onnx_val_t v, float fill);

/* float [N, 1, 1]: max(valid positions of v, 1), in v's float type (a masked mean's divisor). */
const char *st_export_valid_count(st_onnx_t *g, st_onnx_val_t v);

/* BOOL [N, 1]: the row has at least one valid position (a max over none gives 0 in strata). */
const char *st_export_nonempty(st_onnx_t *g, st_onnx_val_t v);

/* int64 [N]: L's output lengths for input lengths `len` (L's kind has out_length). */
const char *st_export_map_lengths(st_onnx_t *g, const st_layer_t *L, const char *len);

/* int32 [N] of the int64 lengths `len` (ONNX LSTM/GRU sequence_lens, output_lens). */
const char *st_export_lengths_i32(st_onnx_t *g, const char *len);

#endif
