/* model_summary.h — what a built model costs, layer by layer: the figures of `strata summary`
 * (docs/model.md, "strata summary").
 *
 * One row per op of the model in execution order (every layer, and the merge of every parallel
 * or residual block, kind "add" or "concat"), with:
 *   - the per-sample output shape (at the built, largest T);
 *   - parameters: floats the layer declares as parameters (= st_layer_param_floats, summing to
 *     st_model_param_floats); trainable: those in a tensor whose optimizer group has lr_mult > 0.
 *     Buffers (BatchNorm's running mean and variance) are not parameters: they are counted
 *     apart (buffers), not trained and not in the optimizer state;
 *   - FLOPs per sample by the kind's rule (layer.h, st_layer_flops_t): forward, and training =
 *     forward + backward, where backward leaves out the input gradient of a layer that reads the
 *     model's input (training never computes it); a kind without a rule has no figure ("?", and
 *     JSON null) and the totals say how many rows were left out. A merge: add costs (n − 1)
 *     per output element forward and 0 backward (the gradient is passed on), concat 0;
 *   - activation bytes for one micro-batch: what the forward keeps for backward, the op's output
 *     [B, numel] and the layer's scratch (saved gates, masks, im2col columns), in float32.
 * Totals add the rows, plus the optimizer state (n_state arrays as large as the parameters:
 * Adam/AdamW 2, SGD with momentum 1, without 0) and st_model_memory_bytes for the micro-batch
 * (parameters, gradients, buffers, optimizer state, activations and their gradients, scratch). */
#ifndef ST_MODEL_SUMMARY_H
#define ST_MODEL_SUMMARY_H

#include <stdio.h>

#include "model.h"
#include "optim.h"

typedef struct {
    int index;                   /* position in the execution order */
    char path[ST_PATH_MAX];      /* "model.layers[3]" */
    char name[80];               /* the layer's name ("layers.3"); "" for a merge */
    char kind[32];               /* the layer kind, or "add" / "concat" */
    st_shape_t out_shape;        /* per sample */
    size_t params, trainable, buffers; /* floats */
    int has_flops;               /* 0: the kind has no FLOP rule */
    double flops_forward, flops_train; /* per sample */
    double activation_bytes;     /* per micro-batch */
} st_summary_row_t;

typedef struct {
    char source[512];            /* what the model came from (the caller's words; "" = not said) */
    char shape_from[512];        /* where the input shape came from (the caller's words) */
    st_shape_t in_shape;
    int micro_batch;
    char optimizer[8];           /* "sgd", "adam", "adamw" */
    int n_state;                 /* optimizer arrays as large as the parameters */
    int n_rows;
    st_summary_row_t *rows;      /* [n_rows] */
    size_t params, trainable, buffers;
    double flops_forward, flops_train; /* over the rows with a rule */
    int flops_unknown;           /* rows without a FLOP rule */
    double activation_bytes, optimizer_bytes, training_bytes;
} st_summary_t;

/* Fills s for model m trained with optimizer `optim` (trainable tensors, state arrays) on
 * micro-batches of micro_batch rows. Free with st_summary_free. */
st_status_t st_summary_make(st_summary_t *s, st_model_t *m, const st_optim_config_t *optim, int micro_batch,
                            st_error_t *err);
void st_summary_free(st_summary_t *s);

/* The table: one line per row, then the totals. */
void st_summary_print(const st_summary_t *s, FILE *out);

/* The JSON object {input_shape, micro_batch, optimizer, layers: [...], totals: {...}}
 * (docs/model.md); NULL when out of memory. Free with free(). */
char *st_summary_json(const st_summary_t *s);

#endif
