/* export_onnx.h — `strata export CKPT --format onnx -o model.onnx` (docs/export.md): the
 * eval-mode model of a checkpoint as an ONNX graph (opset 17), written with protobuf-c.
 *
 * The graph reads `input` [N, D] or [N, T, C] (a dataset's raw rows, strata's layout) and does
 * what `strata eval` does to them: the pixel scaling (÷255) and the standardisation as leading
 * Div / Sub / Mul (× 1/std) ops, every layer (jobs/export_layers.h; dropout removed, batchnorm with its
 * running statistics), then per head: Softmax on class heads, Sigmoid on multi-label heads, the
 * target standardisation undone on regression heads, nothing on CTC heads (their logits). One
 * graph output per head, named after the head ("output" for a single-head model). Class,
 * label and column names go to metadata_props as JSON arrays ("<output>.names"; the first class
 * head's also as "class_names"), with each output's kind ("<output>.kind").
 *
 * Precision: fp32, or fp16: a pass over the finished graph makes every float initializer float16,
 * with Cast nodes after the input and before each output (float32 I/O), and the accuracy fp32 vs
 * fp16 (the parameters rounded as the file holds them; jobs/export_quant.h) is printed first.
 * int8: the Gemm, MatMul (dense) and Conv weights int8 per output channel behind DequantizeLinear,
 * and a QuantizeLinear -> DequantizeLinear pair (uint8, per tensor) before each of those ops' data
 * input, its grid calibrated on training rows (jobs/export_quant.h); reported the same way, with
 * strata's forward fake-quantising those inputs through the model's input hook. The weights of
 * LSTM/GRU (W, R: one scale per direction and gate row, stored [dirs·G·H, ·] and reshaped),
 * ConvTranspose (per output channel, axis 1) and embedding tables (per id) are int8 too, their
 * inputs float (weight-only). */
#ifndef ST_EXPORT_ONNX_H
#define ST_EXPORT_ONNX_H

#include <stdio.h>

#include "st_error.h"

typedef struct {
    const char *checkpoint;     /* <run>/checkpoints/best.h5, ... */
    const char *out_path;       /* model.onnx */
    const char *data;           /* a dataset whose per-sample shape the model takes; NULL: the
                                   checkpoint config's data.path */
    const char *precision;      /* "fp32", "fp16" or "int8" */
    const char *reference;      /* NULL, or a CSV to write: the first reference_rows rows of
                                   `data` as read (x0..) and strata's outputs for them (<head>_k),
                                   computed by the engine's own forward, to check a runtime */
    int reference_rows;
    int calibration_rows;       /* int8: training rows the activation ranges come from (0: 512) */
    const char *version;        /* producer_version */
    FILE *out;                  /* a summary line goes here */
} st_export_request_t;

/* Writes the ONNX file. Fails naming the checkpoint, the dataset, or the layer that has no ONNX
 * form yet ("model.layers[2] (embedding): not exportable to ONNX yet: ..."); a model with
 * variable-length input and a precision other than fp32, fp16 and int8 are refused too. */
st_status_t st_export_onnx(const st_export_request_t *req, st_error_t *err);

#endif
