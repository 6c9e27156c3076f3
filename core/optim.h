/* optim.h — optimizers over the flat parameter arena: SGD (momentum, Nesterov), Adam, AdamW.
 *
 * The updates follow torch.optim (PyTorch 1.13, single-tensor path) operation for operation, in
 * float32 with scalar coefficients computed in double (one exception: Adam multiplies sqrt(v) by
 * 1/sqrt(1-β2^t) where torch divides, see adam_span in optim.c):
 *   SGD:   d = g + wd·θ;  buf = μ·buf + d (dampening 0; buf starts as d);
 *          d = nesterov ? d + μ·buf : buf (when μ > 0);  θ -= lr·d
 *   Adam:  g += wd·θ (coupled L2);  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
 *          θ -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
 *   AdamW: θ *= 1 - lr·wd (decoupled), then the Adam update without the L2 term.
 * Optimizer state (momentum buffer, or m and v) lives in arrays shaped like the parameter arena,
 * so a checkpoint can store it next to the parameters and a step is one pass over the arena.
 *
 * Parameter groups: every tensor view gets a learning-rate multiplier and a weight decay. The
 * config's groups are tried in order and the first whose "params" glob (fnmatch; several globs
 * separated by spaces) matches the tensor's name wins. Tensors no group matches go to the
 * default group (lr_mult 1, the optimizer's weight_decay). Where a weight decay is inherited (the
 * default group, or a group without its own "weight_decay"), tensors whose view has decay == 0
 * (biases, norm parameters) get 0 unless "decay_norm_and_bias" is true; a group's explicit
 * "weight_decay" applies to every tensor it matches. A step's learning rate for a tensor is
 * lr_base · lr_mult, lr_base coming from the LR schedule (core/schedule.h). */
#ifndef ST_OPTIM_H
#define ST_OPTIM_H

#include <stddef.h>

#include <cJSON.h>

#include "layer.h"
#include "schema.h"
#include "st_error.h"

#define ST_OPTIM_MAX_GROUPS 16
#define ST_OPTIM_MAX_STATE 2

typedef enum { ST_OPTIM_SGD, ST_OPTIM_ADAM, ST_OPTIM_ADAMW } st_optim_type_t;

typedef struct {
    char params[64];         /* glob(s) over tensor names, space separated: "*.bias *.gamma" */
    double lr_mult;          /* lr = lr_base · lr_mult */
    int has_weight_decay;    /* 0: inherit the optimizer's rule (see above) */
    double weight_decay;
} st_optim_group_t;

typedef struct {
    st_optim_type_t type;
    double lr;                /* initial base rate (the schedule starts from it) */
    double momentum;          /* SGD */
    int nesterov;             /* SGD; needs momentum > 0 */
    double beta1, beta2, eps; /* Adam, AdamW */
    double weight_decay;      /* coupled L2 for SGD/Adam, decoupled for AdamW */
    int decay_norm_and_bias;  /* 1: inherited weight decay also applies to views with decay == 0 */
    int n_groups;
    st_optim_group_t groups[ST_OPTIM_MAX_GROUPS];
    char path[64];            /* JSON path, for messages ("optimizer") */
} st_optim_config_t;

typedef struct st_optim st_optim_t;

/* Defaults of `type` as documented in the key table (lr 0.01 for SGD, 1e-3 for Adam/AdamW). */
void st_optim_config_default(st_optim_config_t *cfg, st_optim_type_t type);

/* Reads the "optimizer" object at JSON `path` into cfg, with defaults filled in. Errors name
 * the path: "optimizer.groups[1].lr_mult: expected a number >= 0, got \"x\"". */
st_status_t st_optim_parse(const cJSON *obj, const char *path, st_optim_config_t *cfg, st_error_t *err);

/* An optimizer over tensors[0..n_tensors) (views into an arena of n_floats parameters), with
 * zeroed state and step count 0. Fails when a group's glob matches no tensor or a view lies
 * outside the arena. */
st_status_t st_optim_create(const st_optim_config_t *cfg, const st_tensor_view_t *tensors, int n_tensors,
                            size_t n_floats, st_optim_t **out, st_error_t *err);
void st_optim_free(st_optim_t *opt);

/* One update of params [n_floats] from grads [n_floats]; each group's rate is lr_base · lr_mult.
 * Only floats covered by a tensor view change. Increments the step count. */
void st_optim_step(st_optim_t *opt, float *params, const float *grads, double lr_base);

/* The same update of the floats in [lo, hi) only (params, grads and the state elsewhere are not
 * read or written; the step count still increments): each of P ranks updating its own range
 * gives every element the bits st_optim_step gives it (jobs/engine_node.c, the node-local update). */
void st_optim_step_range(st_optim_t *opt, float *params, const float *grads, double lr_base, size_t lo, size_t hi);

/* The group a tensor landed in (0 = default group, g + 1 = config group g), its lr multiplier
 * and its weight decay. */
void st_optim_tensor_group(const st_optim_t *opt, int tensor, int *group, double *lr_mult,
                           double *weight_decay);

/* ---- state, for checkpoints ---- */

/* Number of arena-shaped state arrays: SGD 0 (no momentum) or 1 (momentum_buffer);
 * Adam/AdamW 2 (exp_avg, exp_avg_sq). */
int st_optim_n_state(const st_optim_t *opt);
/* Name (torch's state key) and contents [n_floats] of state array k. */
const char *st_optim_state_name(const st_optim_t *opt, int k);
float *st_optim_state(st_optim_t *opt, int k);
/* Makes `state` [n_floats] state array k (the caller copies the contents) and returns the one it
 * replaces, which the caller must hand back before st_optim_free. k < st_optim_n_state. */
float *st_optim_swap_state(st_optim_t *opt, int k, float *state);
size_t st_optim_n_floats(const st_optim_t *opt);
long st_optim_step_count(const st_optim_t *opt);
/* Restores the step count and the state arrays (arrays[k] [n_floats], k < n_arrays). Fails when
 * the number of arrays or their length does not match this optimizer. */
st_status_t st_optim_load_state(st_optim_t *opt, long step, const float *const *arrays, int n_arrays,
                                size_t n_floats, st_error_t *err);

/* Key tables, for the docs generator: the "optimizer" object and each entry of its "groups". */
const st_key_t *st_optim_keys(int *n_keys);
const st_key_t *st_optim_group_keys(int *n_keys);

#endif
