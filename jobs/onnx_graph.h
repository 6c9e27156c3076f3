/* onnx_graph.h — a small builder of ONNX graphs over the protobuf-c messages generated from
 * Debian's onnx.proto (build/gen/onnx.pb-c.h): nodes with attributes, float32 and int64
 * initializers, graph inputs and outputs with a symbolic batch dimension, metadata, and the
 * serialised ModelProto written to a file. jobs/export_onnx.c says what to build; this file only
 * owns the memory (every string and array lives until st_onnx_free) and the encoding.
 *
 * Value names are made unique by the builder ("dense_3", "dense_3_1", ...), so callers pass a
 * hint and use the name returned. Element types are ONNX's TensorProto.DataType codes; fp16 and
 * int8 export add initializers of other types here (st_onnx_init_raw takes any type). */
#ifndef ST_ONNX_GRAPH_H
#define ST_ONNX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

#define ST_ONNX_FLOAT 1  /* TensorProto.DataType */
#define ST_ONNX_INT64 7
#define ST_ONNX_INT32 6
#define ST_ONNX_BOOL 9
#define ST_ONNX_FLOAT16 10
#define ST_ONNX_UINT8 2
#define ST_ONNX_INT8 3
#define ST_ONNX_OPSET 17
#define ST_ONNX_IR_VERSION 8 /* the IR version of opset 17 */

typedef struct st_onnx st_onnx_t;

st_onnx_t *st_onnx_new(const char *graph_name);
void st_onnx_free(st_onnx_t *g);

/* 1 once an allocation failed: every later call is a no-op returning "" and st_onnx_write fails. */
int st_onnx_failed(const st_onnx_t *g);

/* A float32 initializer of shape dims[rank] (copied); returns its unique name. */
const char *st_onnx_init_f32(st_onnx_t *g, const char *hint, const float *data, const int64_t *dims, int rank);
/* An initializer of any element type: `bytes` of raw_data (little-endian) copied, shape
 * dims[rank] (rank 0: a scalar); returns its unique name. */
const char *st_onnx_init_raw(st_onnx_t *g, const char *hint, int type, const void *data, size_t bytes, const int64_t *dims,
                             int rank);
/* Every float32 initializer rewritten as float16 (raw_data, 2 bytes a value, round to nearest
 * even): the pass behind `--precision fp16` (jobs/export_quant.c). */
void st_onnx_inits_to_f16(st_onnx_t *g);
/* int8 weights: the weight initializer (input 1) of every Gemm with transB = 1 and every Conv,
 * [rows, ...] with its output channels along axis 0, replaced by int8 values, a float32 scale
 * per row and an int8 zero point of 0, dequantised by a DequantizeLinear (axis 0) at the front of
 * the graph into the weight's old name. Quantisation is st_i8_quantize_axis'. A MatMul whose data
 * input comes from a DequantizeLinear (the int8 export's activation QDQ pair) gets its 2-d weight
 * [K, N] quantised per column (axis 1, its output channels) the same way. Then every initializer
 * named by st_onnx_i8_mark, per index of its axis (weight-only: those ops' inputs stay float).
 * Other weights (squeeze_excite's MatMuls, ...) stay float32. Returns the weights quantised. */
int st_onnx_weights_to_i8(st_onnx_t *g);
/* Asks st_onnx_weights_to_i8 (if it runs: --precision int8) to quantise float32 initializer
 * `init` per index of `axis` (ConvTranspose's W [C_in, F/groups, K]: 1; a Gather table or
 * embedding_bag's MatMul weight [n, dim]: 0, per id), or with ST_ONNX_I8_FLAT_ROWS: [d0, d1, ...]
 * held as int8 [d0·d1, ...] per row (axis 0), then DequantizeLinear and a Reshape back to
 * [d0, d1, ...] under the old name (an LSTM/GRU's W [dirs, G·H, C] and R [dirs, G·H, H]: one
 * scale per direction and gate row; per-axis DequantizeLinear takes one axis, hence the Reshape). */
#define ST_ONNX_I8_FLAT_ROWS (-1)
void st_onnx_i8_mark(st_onnx_t *g, const char *init, int axis);
/* Symmetric int8 per channel c of w [outer, ch, inner]: scale[c] = max |w[:, c, :]| / 127 (1 for
 * an all-zero channel), q = round-half-even(w / scale[c]) in -127..127. q may be NULL. */
void st_i8_quantize_axis(const float *w, long outer, long ch, long inner, int8_t *q, float *scale);
/* The same per row of w [rows, cols] (outer = 1). */
void st_i8_quantize_rows(const float *w, long rows, long cols, int8_t *q, float *scale);
/* IEEE half of f, round to nearest even (overflow -> inf), and back. */
uint16_t st_f32_to_f16(float f);
float st_f16_to_f32(uint16_t h);
/* A 1-d int64 initializer [n] (shapes, axes, permutations). */
const char *st_onnx_init_i64(st_onnx_t *g, const char *hint, const int64_t *data, int n);

/* A node `op` reading in[n_in] ("" = an omitted optional input), with n_out outputs named from
 * `hint`; returns the first output's name, the others through outs (may be NULL). Attributes
 * added next go to this node. */
const char *st_onnx_node(st_onnx_t *g, const char *op, const char *const *in, int n_in, const char *hint, int n_out,
                         const char **outs);
/* One-input, one-output shorthand. */
const char *st_onnx_op1(st_onnx_t *g, const char *op, const char *in, const char *hint);
/* Two inputs, one output. */
const char *st_onnx_op2(st_onnx_t *g, const char *op, const char *a, const char *b, const char *hint);

/* Attributes of the last node. */
void st_onnx_attr_i(st_onnx_t *g, const char *name, int64_t v);
void st_onnx_attr_f(st_onnx_t *g, const char *name, float v);
void st_onnx_attr_s(st_onnx_t *g, const char *name, const char *v);
void st_onnx_attr_ints(st_onnx_t *g, const char *name, const int64_t *v, int n);

/* A float32 graph input / output: dims[rank], dims[0] the symbolic "N". */
void st_onnx_input(st_onnx_t *g, const char *name, const int64_t *dims, int rank);
void st_onnx_output(st_onnx_t *g, const char *name, const int64_t *dims, int rank);
/* The same with another element type (ST_ONNX_INT32: sequence_lens, output_lens). */
void st_onnx_input_typed(st_onnx_t *g, const char *name, int type, const int64_t *dims, int rank);
void st_onnx_output_typed(st_onnx_t *g, const char *name, int type, const int64_t *dims, int rank);

/* A value built once and reused (a length mask, a constant): st_onnx_memo gives the name put
 * under `key` by st_onnx_memo_put (which returns `name`), or NULL. */
const char *st_onnx_memo(const st_onnx_t *g, const char *key);
const char *st_onnx_memo_put(st_onnx_t *g, const char *key, const char *name);

/* metadata_props[key] = value. */
void st_onnx_meta(st_onnx_t *g, const char *key, const char *value);

/* Serialises the ModelProto (opset ST_ONNX_OPSET, producer "strata" `version`) to `path`;
 * *bytes (may be NULL) gets the file size. Errors name the file. */
st_status_t st_onnx_write(st_onnx_t *g, const char *path, const char *version, size_t *bytes, st_error_t *err);

#endif
