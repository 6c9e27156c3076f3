/* export_layers.h — each layer kind's ONNX form, for jobs/export_onnx.c.
 *
 * A value of the graph is an ONNX tensor name plus, for sequences, its layout: strata keeps a
 * sample's sequence as [T, C] (batch [N, T, C]) while ONNX's Conv, pooling and
 * BatchNormalization want channels second ([N, C, T]). Each emitter asks for the layout it needs
 * (st_export_ntc / st_export_nct insert a Transpose only when the value has the other one), so
 * a run of conv/pool/batchnorm layers stays in [N, C, T] with no Transpose between them.
 *
 * Every registered kind is in one table here (matched by its vtable, not its name): either with
 * an emitter or with the reason it is refused, so a model holding it fails naming the layer. */
#ifndef ST_EXPORT_LAYERS_H
#define ST_EXPORT_LAYERS_H

#include "jobs/onnx_graph.h"
#include "layer.h"

typedef struct {
    const char *name; /* ONNX tensor */
    int rank;         /* per sample: 1 = [N, D], 2 = a sequence */
    int nct;          /* rank 2: 1 = held as [N, C, T], 0 = as [N, T, C] */
    int T, C;         /* rank 2: the per-sample shape [T, C]; rank 1: C = D */
    const char *len;  /* rank 2 of a variable-length model: int64 [N] valid positions of each row
                         (the value is 0 past them; jobs/export_lengths.h); NULL: all T */
} st_onnx_val_t;

/* The same value as [N, T, C] / as [N, C, T] (a Transpose when it is held the other way). */
st_onnx_val_t st_export_ntc(st_onnx_t *g, st_onnx_val_t v);
st_onnx_val_t st_export_nct(st_onnx_t *g, st_onnx_val_t v);

/* 1: the kind has an ONNX form; 0: it is refused (*why, may be NULL, says why); -1: the kind is
 * not in the table (a kind registered after this file was written). */
int st_export_kind_status(const st_layer_kind_t *kind, const char **why);

/* Appends layer L (eval mode) reading `in`; *out gets its output. A refused kind fails with
 * ST_ERR_CONFIG naming the layer: "model.layers[2] (embedding): not exportable to ONNX yet: ...".
 * A sequence with lengths (in.len): *out carries its own (mapped by L's out_length when L changes
 * T) and is 0 past them (jobs/export_lengths.h). */
st_status_t st_export_layer(st_onnx_t *g, const st_layer_t *L, st_onnx_val_t in, st_onnx_val_t *out, st_error_t *err);

#endif
