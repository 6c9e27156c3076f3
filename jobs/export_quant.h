/* export_quant.h — the reduced-precision parts of `strata export --precision fp16` (docs/export.md):
 * the parameters rounded to float16 in place (the simulated quantisation strata's report uses:
 * the same weights the graph holds), and the accuracy tally, fp32 against the reduced precision,
 * overall and per class, printed as a table; the int8 weights' dequantised values; and the int8
 * activations' calibration and fake-quantisation (the QDQ pairs' grids, applied in strata's
 * forward through the model's input hook so the reported accuracy is the file's); and which
 * parameters are int8 weight-only (LSTM/GRU, ConvTranspose, embedding tables: their inputs stay
 * float), in the layout the graph quantises them. */
#ifndef ST_EXPORT_QUANT_H
#define ST_EXPORT_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "layer.h"
#include "model.h"

/* p[n] rounded to the nearest float16 (round to nearest even), kept as float. */
void st_quant_round_f16(float *p, size_t n);

/* w[n] as rows [rows, n/rows] quantised to int8 per row (st_i8_quantize_rows) and dequantised in
 * place: w = q · scale, the values DequantizeLinear gives. 1 when memory ran out (w untouched). */
int st_quant_i8_rows(float *w, long rows, long n);
/* w [outer, ch, inner] quantised to int8 per channel c (st_i8_quantize_axis) and dequantised in
 * place. 1 when memory ran out (w untouched). */
int st_quant_i8_axis(float *w, long outer, long ch, long inner);

/* Weight-only int8 (the op's input stays float): when parameter p of layer L becomes an int8
 * initializer behind a DequantizeLinear without a QDQ pair on the op's input, 1 and its layout
 * as the graph quantises it, [outer, ch, inner] per channel of ch, in strata's parameter order:
 *   lstm / gru: each direction's weight_ih [G·H, C] and weight_hh [G·H, H] per row (outer 1,
 *     ch G·H): the graph's W / R rows per (direction, gate row) are these rows permuted (gate
 *     blocks reordered), and per-row quantisation commutes with a permutation of rows;
 *   conv_transpose1d: W [C_in, F/groups, K] per index of axis 1 (ONNX's ConvTranspose layout);
 *   embedding, embedding_bag: the table [n, dim] per row (per id).
 * 0 (outputs untouched) for every other parameter, biases included. The values DequantizeLinear gives are
 * st_quant_i8_axis' of the same layout. */
int st_quant_weight_only(const st_layer_t *L, int p, long *outer, long *ch, long *inner);

/* Correct predictions per class, at full and at reduced precision. */
typedef struct {
    int K;
    int64_t *support, *ok_full, *ok_low; /* [K] */
} st_quant_tally_t;

int st_quant_tally_init(st_quant_tally_t *t, int K); /* 1 when memory ran out */
void st_quant_tally_free(st_quant_tally_t *t);
/* Adds n rows: y[n] the labels, p[n, K] the scores (argmax = the prediction); low picks the column. */
void st_quant_tally_add(st_quant_tally_t *t, const int32_t *y, const float *p, int64_t n, int low);
/* "accuracy fp32 0.9133, fp16 0.9133 (change +0.0000) on 600 rows (all rows)" and the per-class
 * table (class, support, accuracy at each precision, change); names[K] may be NULL. */
void st_quant_tally_print(const st_quant_tally_t *t, FILE *out, const char *low_name, const char *rows_what,
                          char *const *names);

/* ---- int8 activations: QuantizeLinear -> DequantizeLinear pairs (QDQ) ----
 * uint8, asymmetric with a zero point, per tensor: onnxruntime's default for activations and its
 * MinMax calibrator's rule. An input after a relu is non-negative; a symmetric int8 grid would
 * spend half its 256 steps on values that never occur. */

/* The grid of a calibrated range: lo, hi widened to hold 0 (lo <= 0 <= hi),
 * scale = (hi − lo) / 255 (1 when hi == lo == 0), zero = round-half-even(−lo / scale) in 0..255. */
void st_quant_u8_params(float lo, float hi, float *scale, uint8_t *zero);
/* dst[n] = (q − zero) · scale with q = clamp(round-half-even(src / scale) + zero, 0, 255): what
 * QuantizeLinear then DequantizeLinear compute (float32 division, rintf under the default
 * rounding mode = ONNX's round half to even, saturation at 0 and 255). dst may be src. */
void st_quant_fake_u8(float *dst, const float *src, size_t n, float scale, uint8_t zero);

/* The ONNX op whose weight int8 export quantises when L is exported (its data input then gets a
 * QDQ pair): "Gemm" (dense on [D]), "MatMul" (dense on [T, C]), "Conv" (conv1d); NULL for the
 * other layers (their weights and inputs stay float32). */
const char *st_quant_weight_op(const st_layer_t *L);

/* One quantised layer's input. */
typedef struct {
    const st_layer_t *layer;
    const char *op;      /* st_quant_weight_op(layer) */
    float lo, hi;        /* the input's range over the calibration rows */
    float scale;         /* st_quant_u8_params(lo, hi) */
    uint8_t zero;
} st_quant_act_t;

enum { ST_QUANT_OFF, ST_QUANT_CALIBRATE, ST_QUANT_FAKE };

/* Every quantised layer of a model, and the model input hook (core/model.h) that records their
 * inputs' ranges (ST_QUANT_CALIBRATE) or hands them their inputs fake-quantised (ST_QUANT_FAKE). */
typedef struct {
    st_quant_act_t *acts; /* [n] */
    int n;
    int mode;             /* ST_QUANT_* */
    float *scratch;       /* the fake-quantised input handed to the layer */
    size_t cap;
    int failed;           /* the scratch could not grow: the layer read its input as is */
    int64_t rows;         /* rows the ranges were recorded on */
} st_quant_acts_t;

/* The quantised layers of model m, in execution order (ranges empty, mode OFF). 1 when memory
 * ran out. */
int st_quant_acts_init(st_quant_acts_t *a, st_model_t *m);
void st_quant_acts_free(st_quant_acts_t *a);
/* Each layer's scale and zero point from its recorded range (a range never recorded: [0, 0]). */
void st_quant_acts_finish(st_quant_acts_t *a);
const st_quant_act_t *st_quant_acts_find(const st_quant_acts_t *a, const st_layer_t *L); /* or NULL */
/* The st_model_input_hook_fn; user is the st_quant_acts_t. */
const float *st_quant_acts_hook(void *user, const st_layer_t *L, const float *in, size_t n);

#endif
