/* model.h — a model built from JSON: a graph of layers with one flat parameter arena, one
 * gradient arena and one buffer arena (BatchNorm running statistics).
 *
 * JSON form (the "model" object of a config):
 *   { "layers": [ layer, ... ],                       the trunk, applied in order
 *     "heads":  [ {"name": "...", "layers": [...]} ] } optional named output heads on the trunk
 * where a layer is {"type": "<kind>", ...keys of that kind} or one of two structural forms:
 *   {"type": "parallel", "merge": "concat"|"add", "branches": [[layers], [layers], []]}
 *       every branch reads the same input; [] is the identity; concat joins the last dimension
 *   {"type": "residual", "layers": [...]}      = parallel add of [layers] and the identity
 * Without "heads" the trunk's output is the single head "output".
 *
 * Execution: the graph is flattened into a list of ops over numbered values (value 0 = input).
 * forward() fills every value; the caller writes d(loss)/d(head output) into each head's
 * gradient buffer and calls backward(), which ADDS parameter gradients into the gradient arena
 * (so micro-batches and accumulation steps sum up until the caller zeroes it). */
#ifndef ST_MODEL_H
#define ST_MODEL_H

#include "layer.h"
#include "loss.h"

typedef struct st_model st_model_t;

#define ST_MAX_HEADS 8
#define ST_PATH_MAX 192  /* JSON paths in messages: "model.heads[1].layers[2].branches[0][3]" */

typedef struct {
    char name[64];
    int value;           /* value id of the head's output */
    st_shape_t shape;    /* per-sample output shape */
    char path[ST_PATH_MAX]; /* JSON path of the layer or block giving it: "model.layers[4]" */
} st_head_t;

/* Builds the model described by `obj` (JSON path `path`, e.g. "model") for per-sample input
 * shape `in`; n_classes resolves units: "classes" (0 = unknown). Layer names (the "name" key,
 * else the generated "layers.3") must be unique: they name the parameters. Building is linear in
 * the number of layers. */
st_status_t st_model_build(const cJSON *obj, const char *path, st_shape_t in, int n_classes,
                           st_model_t **out, st_error_t *err);

/* The class count (or output width) of the target the head named `head` is trained on, or <= 0
 * when not known (then the trunk's n_classes is used). */
typedef int (*st_model_classes_fn)(const char *head, void *ctx);

/* st_model_build where "units": "classes" inside head `h` resolves to head_classes(h's name):
 * each head of a multi-task model is as wide as its own target. */
st_status_t st_model_build_heads(const cJSON *obj, const char *path, st_shape_t in, int n_classes,
                                 st_model_classes_fn head_classes, void *ctx, st_model_t **out, st_error_t *err);

/* Checks every loss of `losses` against the model output it applies to (its "head"; "" = the
 * only output) with st_loss_check_output: a training or evaluation job calls it after building
 * both, so an output the loss cannot read (a dense of 7 units on 10 classes, a per-position
 * [T, K]) fails naming the layer that gives it, e.g.
 *   model.layers[4]: gives [7] per sample, but loss "cross_entropy" needs [10], ... */
st_status_t st_model_check_losses(const st_model_t *m, const st_loss_heads_t *losses, st_error_t *err);
void st_model_free(st_model_t *m);

/* Initial values of every parameter and buffer from `seed` (PyTorch's defaults per layer). */
void st_model_init(st_model_t *m, uint64_t seed);

/* Allocates activation memory for batches of up to B_max samples. want_input_grad: also
 * compute d/d(input) in backward (tests). */
st_status_t st_model_reserve(st_model_t *m, int B_max, int want_input_grad, st_error_t *err);

/* Bytes st_model_reserve(m, B_max, 0) and training would use: the parameter, gradient and buffer
 * arenas, n_state optimizer arrays as large as the parameters, and per row the activations and
 * their gradients, the layers' scratch and the gradient scratch. *largest_path (may be NULL) gets
 * the JSON path of the layer whose activations and scratch take the most, *largest_bytes those
 * bytes. */
double st_model_memory_bytes(const st_model_t *m, int B_max, int n_state, const char **largest_path,
                             double *largest_bytes);

/* The largest batch the buffers hold (the last st_model_reserve's B_max; 0 before it). */
int st_model_reserved(const st_model_t *m);

/* x [B, numel(input shape)] -> every head's output. */
void st_model_forward(st_model_t *m, const st_run_ctx_t *ctx, const float *x, int B);
/* An optional transform of each layer's input in forward (`strata export --precision int8`'s
 * activation fake-quantisation and calibration, jobs/export_quant.h): before layer L reads its
 * input in[n] (n = B·numel of the input value), the hook returns what L reads instead — in itself
 * (L not concerned; the hook may record in), or a buffer the hook owns holding the transformed
 * values. The value itself is not changed (other readers see it as it is); backward ignores the
 * hook (eval only). NULL (the default) costs one pointer test per op. */
typedef const float *(*st_model_input_hook_fn)(void *user, const st_layer_t *L, const float *in, size_t n);
void st_model_set_input_hook(st_model_t *m, st_model_input_hook_fn fn, void *user);
/* st_model_forward, but each layer whose kind has check_input (embedding ids, embedding_bag
 * weights) first checks its input; the first invalid value fails with ST_ERR_DATA naming the
 * layer, the row (ctx->sample_index[row] when given: "row <global id>", else "batch row <r>"),
 * the column of the layer's input and the rule, e.g.
 *   model.layers[0].branches[1][1] (embedding, n = 11): row 1234, column 0: id 12 is not an
 *   integer in [0, 11)
 * The layers before it have run; the outputs are not usable after a failure. */
st_status_t st_model_forward_checked(st_model_t *m, const st_run_ctx_t *ctx, const float *x, int B, st_error_t *err);
/* Back-propagates the head gradients the caller wrote (st_model_head_grad); adds parameter
 * gradients into the gradient arena. */
void st_model_backward(st_model_t *m, const st_run_ctx_t *ctx, int B);

int st_model_head_count(const st_model_t *m);
const st_head_t *st_model_head(const st_model_t *m, int h);
int st_model_head_find(const st_model_t *m, const char *name);
const float *st_model_head_output(const st_model_t *m, int h); /* [B, numel(head shape)] */
float *st_model_head_grad(st_model_t *m, int h);               /* [B, numel(head shape)] */
const float *st_model_input_grad(const st_model_t *m);          /* [B, numel(in)] or NULL */

/* The arenas. Parameters and gradients have st_model_param_floats() floats each. */
float *st_model_params(st_model_t *m);
float *st_model_grads(st_model_t *m);
float *st_model_buffers(st_model_t *m);
size_t st_model_param_floats(const st_model_t *m);
size_t st_model_buffer_floats(const st_model_t *m);
void st_model_zero_grads(st_model_t *m);
/* Points every parameter's gradient view at `grads` (an arena of st_model_param_floats()
 * floats: backward then adds there) and returns the arena used until now. */
float *st_model_swap_grads(st_model_t *m, float *grads);
/* The same for the parameters: every view's data points into `params` (the caller copies the
 * values) and the arena used until now is returned (hand it back before st_model_free). */
float *st_model_swap_params(st_model_t *m, float *params);

/* Every parameter tensor (views in arena order, covering the whole parameter arena). */
const st_tensor_view_t *st_model_tensors(const st_model_t *m, int *n_tensors);
/* Layers in execution order. */
int st_model_layer_count(const st_model_t *m);
st_layer_t *st_model_layer(st_model_t *m, int i);
st_shape_t st_model_input_shape(const st_model_t *m);

/* The graph, for code that rewrites it (the ONNX export): its steps in execution order, each a
 * layer or the Concat / Add joining a parallel or residual block, over value ids (0 = the
 * input; a head's output is st_model_head(m, h)->value). */
#define ST_MODEL_MAX_MERGE 16 /* inputs of one Concat / Add */
typedef enum { ST_MODEL_OP_LAYER, ST_MODEL_OP_CONCAT, ST_MODEL_OP_ADD } st_model_op_kind_t;
typedef struct {
    st_model_op_kind_t kind;
    st_layer_t *layer; /* ST_MODEL_OP_LAYER, else NULL */
    const int *in;     /* [n_in] input value ids (one for a layer) */
    int n_in;
    int out;           /* output value id */
} st_model_op_t;
int st_model_op_count(const st_model_t *m);
st_model_op_t st_model_op(const st_model_t *m, int i);
int st_model_value_count(const st_model_t *m);
st_shape_t st_model_value_shape(const st_model_t *m, int v); /* per row: [F] or [T, C] */

/* Variable-length sequences (docs/sequences.md). After st_model_enable_lengths, a forward
 * whose ctx has `lengths` runs the batch x [B, ctx->positions, C] at its own positions, and every
 * layer honours each row's length (layer.h); without ctx->lengths it runs as before. Fails,
 * naming the layer, when a layer cannot honour lengths (flatten, reshape, permute on a
 * sequence) or when merged branches would map a length differently. */
st_status_t st_model_enable_lengths(st_model_t *m, st_error_t *err);
int st_model_lengths_enabled(const st_model_t *m);
/* Head h's valid positions per row in the last forward ([B], or NULL when all are valid or the
 * head has no positions); *positions (may be NULL) = the positions its rows carry. */
const int32_t *st_model_head_lengths(const st_model_t *m, int h, int *positions);

/* A readable summary (shapes, parameters, FLOPs, memory per layer): core/model_summary.h. */

#endif
