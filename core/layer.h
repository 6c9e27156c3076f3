/* layer.h — the interface every layer kind implements, and the layer registry.
 *
 * A layer kind is a small vtable (st_layer_kind_t) found by its JSON "type" in one registration
 * table (layer_registry.c). Each kind also exposes plain forward/backward functions over explicit
 * buffers (outputs first, dimensions last, shapes in comments), which its vtable entries call.
 *
 * Conventions, for every kind:
 * - Activations are float32, batch-major: in [B, numel(in_shape)], out [B, numel(out_shape)].
 * - forward() writes out; it may save what backward needs in L->scratch.
 * - backward() WRITES din (overwrite; din may be NULL: then skip computing it) and ADDS into the
 *   parameter gradients (L->params[i].grad), so gradients accumulate over micro-batches.
 * - Parameters and buffers are views into the model's flat arenas: setup() only declares their
 *   sizes (st_layer_add_param / st_layer_add_buffer); the model binds data/grad pointers before
 *   init() runs.
 * - Reductions that must be reproducible are done in a fixed order (never `omp reduction`):
 *   parallelise over the dimension that is not reduced.
 * - Randomness comes from philox.h keyed by (ctx->seed, purpose, L->index, ctx->step, sample).
 * - Variable-length sequences (docs/sequences.md, "Variable lengths"): during a forward or
 *   backward call L->in_shape.d[0] and L->out_shape.d[0] are the current batch's positions
 *   (the model sets them; the built, largest ones are L->in_max and L->out_max), so a batch runs
 *   at its own longest length. ctx->len_in / len_out give each row's valid positions (NULL: all).
 *   Positions at or past a row's length hold 0 in the input; the model writes 0 there in every
 *   output and in every output gradient before backward, so kinds that do not mix positions need
 *   nothing more. Kinds that mix positions honour len_in (recurrences stop, averages and batch
 *   statistics count valid positions only) and, when they change T, map lengths (out_length). */
#ifndef ST_LAYER_H
#define ST_LAYER_H

#include <stdint.h>

#include "schema.h"
#include "shape.h"
#include "st_error.h"

#define ST_MAX_KEYS 16
#define ST_MAX_PARAMS 8

typedef struct st_layer st_layer_t;

/* One parameter or buffer tensor: a view into an arena. */
typedef struct {
    char name[96];     /* full name: "<layer name>.<tensor>", e.g. "layers.0.weight" */
    size_t offset, n;  /* position and length in its arena (floats) */
    float *data;       /* arena + offset */
    float *grad;       /* gradient arena + offset (parameters only) */
    int decay;         /* 1: weight decay applies by default (weights); 0: biases, norm params */
    float l2;          /* per-layer L2 penalty coefficient (loss += l2/2 * ||w||^2) */
} st_tensor_view_t;

/* What a forward/backward call needs to know besides the buffers. */
typedef struct {
    int training;                 /* 1: training mode (dropout on, batchnorm uses batch statistics) */
    uint64_t seed;                /* run seed: keys every random draw */
    uint32_t step;                /* optimizer step: keys dropout masks */
    const int64_t *sample_index;  /* [B] global index of each row (keys dropout); NULL = row number */
    int update_running_stats;     /* batchnorm: update running statistics in a training forward */
    int ghost_batch;              /* batchnorm in training: samples per statistics group (ghost batch);
                                     groups are consecutive rows; 0 = the whole batch is one group */
    /* Variable lengths, set by the caller for the model's input (ignored by a model without
     * st_model_enable_lengths): */
    const int32_t *lengths;       /* [B] valid positions of each input row, or NULL (all) */
    int positions;                /* positions the input rows carry: x is [B, positions, C];
                                     0 = the input shape's T */
    /* Set by the model for each layer call: */
    const int32_t *len_in;        /* [B] valid positions of the layer's input rows, or NULL */
    const int32_t *len_out;       /* [B] of its output rows, or NULL */
} st_run_ctx_t;

/* FLOPs per sample of one layer at its built shapes (L->in_max, L->out_max), for `strata summary`
 * (core/model_summary.h). A multiply-add counts 2; any other arithmetic operation, comparison or
 * elementary function (exp, tanh, erf) counts 1; moving data (copies, gathers, im2col) counts 0.
 * Normalisations count their training form (batch statistics). */
typedef struct {
    double forward;        /* the forward pass */
    double backward_input; /* the part of backward that only computes din (skipped when din is NULL:
                              a layer reading the model's input in training) */
    double backward_rest;  /* the rest of backward: parameter gradients, recurrences, shared terms */
} st_layer_flops_t;

typedef struct st_layer_kind {
    const char *type;              /* JSON "type" */
    const char *help;              /* one line for docs */
    const st_key_t *keys;          /* JSON keys besides "type" and "name" */
    int n_keys;
    /* Checks L->in_shape and L->opt, sets L->out_shape, declares parameters, buffers, scratch. */
    st_status_t (*setup)(st_layer_t *L, st_error_t *err);
    /* Initial parameter and buffer values (PyTorch's defaults unless the "init" key says otherwise). */
    void (*init)(st_layer_t *L, uint64_t seed);
    /* out [B, numel(out_shape)] from in [B, numel(in_shape)]. */
    void (*forward)(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B);
    /* din [B, numel(in_shape)] (written; may be NULL) and parameter gradients (added) from
     * dout [B, numel(out_shape)]; in and out are the forward's buffers. */
    void (*backward)(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                     const float *in, const float *out, int B);
    /* Batch statistics, for kinds that keep running statistics from training batches (batchnorm);
     * NULL for the others. A trainer that splits a batch over micro-batches and ranks runs the
     * forward with update_running_stats = 0, saves every ghost batch's statistics, gathers them
     * and pools them in a fixed order, so the running statistics do not depend on the split.
     *   stats_floats: values in one ghost batch's statistics;
     *   stats_save:   out [stats_floats] = the statistics of ghost batch `group` of the last
     *                 training forward;
     *   stats_pool:   updates the running statistics once from M ghost batches' statistics
     *                 (stats [M, stride], the first stats_floats of each record), combined in
     *                 record order; each ghost batch had `samples` samples. */
    int (*stats_floats)(const st_layer_t *L);
    /* 1: the layer subtracts each channel's batch mean, so a bias just before it has no effect
     * (a dense layer before it then defaults to no bias). */
    int absorbs_bias;
    void (*stats_save)(const st_layer_t *L, int group, double *out);
    void (*stats_pool)(st_layer_t *L, const double *stats, int M, size_t stride, long samples);
    /* Input validity, for kinds whose input must hold ids or weights (embedding, embedding_bag);
     * NULL for the others. Their forward stays memory-safe on any input (an invalid id gives a
     * zero row); st_model_forward_checked calls these first to name the bad value instead.
     *   check_input: 1 when some element of in [B, numel(in_shape)] is invalid; the first one in
     *                row-major order goes to *bad_row (batch row), *bad_col (column within the
     *                row) and *bad_value;
     *   input_rule:  describes the layer (params, e.g. "n = 11") and the rule `value` breaks
     *                (rule, e.g. "id 12 is not an integer in [0, 11)"). */
    int (*check_input)(const st_layer_t *L, const float *in, int B, int *bad_row, int *bad_col, float *bad_value);
    void (*input_rule)(const st_layer_t *L, float value, char *params, size_t params_size, char *rule,
                       size_t rule_size);
    /* Variable lengths. out_length: the output positions of an input with len_in valid ones, for
     * kinds whose output T differs from the input's (conv, pooling, upsampling; may return
     * <= 0: no valid output); NULL keeps the length (same T) or ends it (an output without
     * positions). refuses_lengths: the kind cannot honour lengths (flatten, reshape, permute),
     * so a model holding it refuses variable-length input. */
    int (*out_length)(const st_layer_t *L, int len_in);
    int refuses_lengths;
    /* The cost rule of the kind (see st_layer_flops_t); NULL: no rule, reported as unknown ("?"). */
    void (*flops)(const st_layer_t *L, st_layer_flops_t *out);
} st_layer_kind_t;

struct st_layer {
    const st_layer_kind_t *kind;
    int index;                    /* position in the model's execution order (keys randomness) */
    char name[80];                /* "layers.3" or the user's "name" */
    char path[128];               /* JSON path for messages: "model.layers[3]" */
    st_val_t opt[ST_MAX_KEYS];    /* option values, indexed like kind->keys */
    int n_classes;                /* dataset's class count (for units: "classes"); 0 = unknown */
    const char *next_type;        /* type of the layer that follows in the same chain, or NULL */
    const struct st_layer_kind *next_kind; /* its kind (NULL when none or unknown) */
    st_shape_t in_shape, out_shape; /* per sample; T is the current batch's during a call */
    st_shape_t in_max, out_max;   /* the shapes the layer was built for (largest T) */
    int n_params;
    st_tensor_view_t params[ST_MAX_PARAMS];
    int n_buffers;
    st_tensor_view_t buffers[ST_MAX_PARAMS];
    long scratch_per_sample;      /* floats of scratch per sample */
    long scratch_fixed;           /* floats of scratch independent of B */
    float *scratch;               /* [B_max * scratch_per_sample + scratch_fixed], set by the model */
};

/* Declares a parameter/buffer of n floats named "<L->name>.<tensor>"; returns its index. */
int st_layer_add_param(st_layer_t *L, const char *tensor, size_t n, int decay);
int st_layer_add_buffer(st_layer_t *L, const char *tensor, size_t n);

/* Option value by key name (aborts nothing: returns NULL if the kind has no such key). */
const st_val_t *st_layer_opt(const st_layer_t *L, const char *key);

/* PyTorch-style initialisation helpers, keyed by (seed, ST_RNG_INIT, L->index, param index). */
void st_init_uniform(st_layer_t *L, int param, float bound, uint64_t seed);
void st_init_normal(st_layer_t *L, int param, float std, uint64_t seed);
void st_init_const(float *x, size_t n, float value);
/* Weight init by the layer's "init" key: "default" = U(+-1/sqrt(fan_in)) (PyTorch's
 * kaiming_uniform(a=sqrt(5))), "he" = N(0, 2/fan_in), "xavier" = U(+-sqrt(6/(fan_in+fan_out))). */
void st_init_weight(st_layer_t *L, int param, const char *scheme, int fan_in, int fan_out, uint64_t seed);

/* Parses `obj` (a layer object at JSON `path`) and runs the kind's setup for input shape `in`.
 * `name` names its tensors ("layers.3"; the user's "name" key wins), `index` keys its random
 * draws, `next_type` is the type of the layer after it in its chain (or NULL). */
st_status_t st_layer_build(st_layer_t *L, const cJSON *obj, const char *path, const char *name,
                           int index, st_shape_t in, int n_classes, const char *next_type,
                           st_error_t *err);

/* Floats of parameters and of buffers the layer declared. */
size_t st_layer_param_floats(const st_layer_t *L);
size_t st_layer_buffer_floats(const st_layer_t *L);

/* Points the layer's tensors at consecutive places from params/grads/buffers (each the spot in
 * its arena where this layer's first tensor goes; offsets are relative to arena_* bases). */
void st_layer_bind(st_layer_t *L, float *arena_params, float *arena_grads, float *arena_buffers,
                   size_t param_offset, size_t buffer_offset);

/* The cost rule of kinds that only move data (flatten, reshape, permute, slice): 0 FLOPs. */
void st_layer_no_flops(const st_layer_t *L, st_layer_flops_t *out);

/* The registry. */
const st_layer_kind_t *st_layer_kind_find(const char *type);
int st_layer_kind_count(void);
const st_layer_kind_t *st_layer_kind_at(int i);

#endif
