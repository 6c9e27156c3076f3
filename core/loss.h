/* loss.h — training losses over a model output [B, K] (float32, batch-major), their JSON key
 * tables, and the weighted sum of per-head losses of a multi-head model.
 *
 * Every loss is one plain function that returns the loss SUM over its rows and the WEIGHT TOTAL
 * of those rows separately, and optionally writes the gradient
 *     dlogits = grad_scale · ∂sum/∂logits.
 * The mean the user asked for is sum / weight over the WHOLE GLOBAL BATCH, not per micro-batch
 * or per rank: with class weights, averaging per-micro-batch means is wrong. So a training step
 *   1. computes each rank's weight total from the labels alone (st_loss_weight_total, no forward
 *      pass needed), sums it over micro-batches and allreduces it: W_global;
 *   2. runs every micro-batch with grad_scale = st_loss_grad_scale(cfg, W_global)
 *      (= head_weight / W_global), so the accumulated gradients are those of the global mean;
 *   3. for reporting, allreduces the (sum, weight) pairs and forms sum / weight
 *      (st_loss_combine for several heads).
 * Sums over rows are done in double, in row order (rows may be computed by OpenMP threads, their
 * values are added afterwards in row order), so results do not depend on the thread count.
 *
 * Semantics (all match PyTorch's reduction='mean' as sum / weight):
 *   cross_entropy  ℓ_i = (1−ε)·w[y_i]·(−log p_{y_i}) + (ε/K)·Σ_c w[c]·(−log p_c),
 *                  weight_i = w[y_i]  — exactly F.cross_entropy(weight=w, label_smoothing=ε);
 *                  w = 1 when no class weights are given.
 *   focal          ℓ_i = w[y_i]·α_{y_i}·(1−p_{y_i})^γ·(−log p_{y_i}), weight_i = w[y_i]
 *                  (multi-class softmax form; α does not enter the weight total).
 *   bce_with_logits ℓ_ik = −[pw_k·t_ik·log σ(z_ik) + (1−t_ik)·log(1−σ(z_ik))], weight = K per row
 *                  — F.binary_cross_entropy_with_logits(pos_weight=pw); targets in [0, 1].
 *   mse            ℓ_ik = (z_ik − t_ik)², weight = K per row — F.mse_loss.
 *   mae            ℓ_ik = |z_ik − t_ik| — F.l1_loss;  huber: F.huber_loss(delta).
 *   ctc            per row ℓ_i = CTC loss of its frames [T_i, V] against its label sequence (core/ctc.h),
 *                  reduction "mean": row value ℓ_i / max(L_i, 1), weight 1 per row — PyTorch's
 *                  F.ctc_loss(reduction='mean') over the global batch; "sum": row value ℓ_i,
 *                  weight 1, and the gradient of Σ_i ℓ_i (st_loss_grad_scale does not divide), so
 *                  the reported loss is the mean per row and training follows reduction='sum'.
 *                  The blank is class 0 (the format's vocabulary). See st_loss_eval_ctc.
 * Missing targets are masked: a class label −1 and a NaN target element add no loss, no weight
 * and no gradient (a target's allow_missing lets the data hold them).
 * Labels must lie in [0, K): the plain functions do not check them, st_loss_eval does. */
#ifndef ST_LOSS_H
#define ST_LOSS_H

#include <stdint.h>

#include <cJSON.h>

#include "schema.h"
#include "shape.h"
#include "st_error.h"

typedef struct {
    double sum;     /* Σ over rows of the per-row loss */
    double weight;  /* Σ over rows of the per-row weight (the mean's denominator) */
} st_loss_value_t;

/* ---- plain loss functions ---- */

/* Softmax cross-entropy with per-class weights (indexed by class id, NULL = all 1) and label
 * smoothing ε in [0, 1]. dlogits may be NULL (no gradient). */
st_loss_value_t st_softmax_xent(float *dlogits /*[B,K] or NULL*/, const float *logits /*[B,K]*/,
                                const int32_t *labels /*[B]*/, const float *class_weight /*[K] or NULL*/,
                                float smoothing, float grad_scale, int B, int K);

/* Focal loss, softmax form. alpha [K] per class, or NULL: alpha_all for every class.
 * class_weight [K] or NULL multiplies the loss and forms the weight total (else B). gamma >= 0. */
st_loss_value_t st_focal(float *dlogits /*[B,K] or NULL*/, const float *logits /*[B,K]*/,
                         const int32_t *labels /*[B]*/, const float *alpha /*[K] or NULL*/,
                         float alpha_all, const float *class_weight /*[K] or NULL*/, float gamma,
                         float grad_scale, int B, int K);

/* Binary cross-entropy on logits, elementwise; pos_weight [K] or NULL (= 1). Weight = B·K. */
st_loss_value_t st_bce_with_logits(float *dlogits /*[B,K] or NULL*/, const float *logits /*[B,K]*/,
                                   const float *targets /*[B,K]*/, const float *pos_weight /*[K] or NULL*/,
                                   float grad_scale, int B, int K);

/* Mean squared error, elementwise. Weight = B·K (NaN targets left out). */
st_loss_value_t st_mse(float *dpred /*[B,K] or NULL*/, const float *pred /*[B,K]*/,
                       const float *targets /*[B,K]*/, float grad_scale, int B, int K);
/* Mean absolute error, elementwise. */
st_loss_value_t st_mae(float *dpred /*[B,K] or NULL*/, const float *pred /*[B,K]*/,
                       const float *targets /*[B,K]*/, float grad_scale, int B, int K);
/* Huber loss with threshold delta > 0, elementwise. */
st_loss_value_t st_huber(float *dpred /*[B,K] or NULL*/, const float *pred /*[B,K]*/,
                         const float *targets /*[B,K]*/, float delta, float grad_scale, int B, int K);

/* ---- configuration ---- */

typedef enum {
    ST_LOSS_CROSS_ENTROPY, ST_LOSS_FOCAL, ST_LOSS_BCE_WITH_LOGITS, ST_LOSS_MSE, ST_LOSS_MAE, ST_LOSS_HUBER, ST_LOSS_CTC
} st_loss_type_t;


typedef enum {
    ST_CLASS_WEIGHTS_NONE,      /* all classes weigh 1 */
    ST_CLASS_WEIGHTS_LIST,      /* class_weights holds the user's list */
    ST_CLASS_WEIGHTS_BALANCED   /* "balanced": class_weights is NULL until st_loss_resolve_balanced */
} st_class_weights_mode_t;

/* One parsed loss (one head of the model). Owns its per-class arrays: st_loss_config_free. */
typedef struct {
    st_loss_type_t type;
    char head[64];               /* model output it applies to; "" = the only output */
    double head_weight;          /* factor of this head's mean in the total loss (default 1) */
    int n_classes;               /* K: classes (cross_entropy, focal) or outputs (bce, mse) */
    float label_smoothing;       /* cross_entropy: ε in [0, 1] */
    float gamma;                 /* focal: focusing exponent >= 0 (default 2) */
    float alpha_all;             /* focal: α for every class when alpha is NULL (default 1) */
    float *alpha;                /* focal: [K] per-class α, or NULL */
    st_class_weights_mode_t class_weights_mode;  /* cross_entropy, focal */
    float *class_weights;        /* [K] or NULL */
    float *pos_weight;           /* bce_with_logits: [K] or NULL (a number is broadcast to [K]) */
    char target[64];             /* dataset target it reads ("" = resolved by the job) */
    int target_index;            /* the job's resolved target index (-1 before) */
    float huber_delta;           /* huber: δ (default 1) */
    int top_k;                   /* bce: k of the top-k hit rate metric (default 3) */
    int standardize_targets;     /* regression: train on (t − mean) / std */
    float *t_mean, *t_std;       /* [K] when standardize_targets is resolved (the training split's) */
    int ctc_sum;                 /* ctc: reduction "sum" (else "mean") */
    int zero_infinity;           /* ctc: an impossible alignment adds loss 0 (else +inf) */
    int beam_width;              /* ctc decoding: 1 = greedy, > 1 = prefix beam search */
    int seq_max_len;             /* ctc: L_max of its target (a target row is [len, L_max labels]) */
} st_loss_config_t;

/* 1 for the losses over class ids (cross_entropy, focal); 0 for those over target values. */
int st_loss_uses_labels(const st_loss_config_t *cfg);
/* 1 for mse, mae, huber. */
int st_loss_is_regression(const st_loss_config_t *cfg);
/* 1 for ctc (a per-position output [T, V] against a label sequence). */
int st_loss_is_sequence(const st_loss_config_t *cfg);
/* Floats of one row of the loss's targets: K (target values), 1 + L_max (ctc), 1 (class ids). */
int st_loss_target_width(const st_loss_config_t *cfg);

/* A loss kind: its JSON "type", one line of help and its key table (for the docs generator). */
typedef struct {
    const char *type;
    st_loss_type_t id;
    const char *help;
    const st_key_t *keys;  /* keys besides "type" */
    int n_keys;
} st_loss_kind_t;

int st_loss_kind_count(void);
const st_loss_kind_t *st_loss_kind_at(int i);
const st_loss_kind_t *st_loss_kind_find(const char *type);  /* NULL when unknown */

/* Parses the loss object `obj` at JSON `path` ("loss", "loss[1]") for a head with n_classes
 * classes/outputs (needed to check per-class lists; <= 0 = unknown, then per-class lists are an
 * error). Errors name the JSON path, e.g.
 *   loss.class_weights: expected 10 values (one per class), got 3
 * The per-class keys class_weights ("balanced", "none" or a list), alpha (number or list) and pos_weight
 * (number or list) are read here; the other keys go through the schema table. On error *out is
 * left empty (nothing to free). */
st_status_t st_loss_parse(const cJSON *obj, const char *path, int n_classes, st_loss_config_t *out,
                          st_error_t *err);
void st_loss_config_free(st_loss_config_t *cfg);

/* Resolves class_weights "balanced" from the training set's class counts, like scikit-learn:
 * w[c] = N / (K · count[c]), N = Σ count. Classes with count 0 get weight 0 (they never occur as
 * labels; with label smoothing they then take no share of the smoothing term). No-op unless the
 * mode is ST_CLASS_WEIGHTS_BALANCED. Fails when N = 0. */
st_status_t st_loss_resolve_balanced(st_loss_config_t *cfg, const int64_t *class_counts /*[K]*/,
                                     st_error_t *err);

/* ---- evaluation through a config ---- */

/* Weight total of B rows from the labels alone: Σ w[y_i] (cross_entropy, focal; B without class
 * weights) or B·K (bce_with_logits, mse; labels unused, may be NULL). */
double st_loss_weight_total(const st_loss_config_t *cfg, const int32_t *labels /*[B] or NULL*/, int B);
/* The same with the rows' targets: labels −1 and NaN target elements weigh 0. targets may be
 * NULL (then B·K for target losses). */
double st_loss_weight_total_of(const st_loss_config_t *cfg, const int32_t *labels /*[B] or NULL*/,
                               const float *targets /*[B,K] or NULL*/, int B);

/* The gradient scale for a head given its global weight total: head_weight / global_weight
 * (0 when the total is 0: a batch without weight contributes no gradient). */
float st_loss_grad_scale(const st_loss_config_t *cfg, double global_weight);

/* Evaluates the configured loss. Uses labels (cross_entropy, focal; checked to lie in [0, K):
 * ST_ERR_DATA naming the row otherwise) or targets (bce_with_logits, mse). Fails with
 * ST_ERR_CONFIG when class_weights "balanced" was not resolved. */
st_status_t st_loss_eval(st_loss_value_t *value, float *dlogits /*[B,K] or NULL*/,
                         const st_loss_config_t *cfg, const float *logits /*[B,K]*/,
                         const int32_t *labels /*[B] or NULL*/, const float *targets /*[B,K] or NULL*/,
                         float grad_scale, int B, st_error_t *err);

/* The ctc loss of B rows: logits [B, T, V] (V = cfg->n_classes), input_len [B] the frames of
 * each row (NULL: all T), targets [B, 1 + L_max] rows [len, labels] (cfg->seq_max_len = L_max).
 * Rows are checked (ST_ERR_DATA naming the row: an input length outside 0..T, a label that is
 * the blank or outside the vocabulary). dlogits [B, T, V] (or NULL) = grad_scale · the row's
 * gradient (divided by max(L_i, 1) for "mean"), 0 past each row's input length. */
st_status_t st_loss_eval_ctc(st_loss_value_t *value, float *dlogits, const st_loss_config_t *cfg, const float *logits,
                             const int32_t *input_len, int T, const float *targets, float grad_scale, int B,
                             st_error_t *err);

/* ---- the output a loss accepts ---- */

/* Checks a model output of per-sample shape `shape` against the loss: ctc takes [T, V] (V the
 * vocabulary with the blank); every other loss takes one row [K] per sample, K = cfg->n_classes (the dataset's classes for cross_entropy and focal, the
 * target width for bce_with_logits and mse; any K when n_classes <= 0). A per-position output
 * [T, C] or another width is ST_ERR_SHAPE naming `where` (the layer giving the output, e.g.
 * "model.layers[4]"), its shape and the one needed:
 *   model.layers[4]: gives [7] per sample, but loss "cross_entropy" needs [10], one logit per
 *   class of the dataset (a last dense layer takes "units": "classes") */
st_status_t st_loss_check_output(const st_loss_config_t *cfg, st_shape_t shape, const char *where, st_error_t *err);

/* ---- several heads ---- */

#define ST_LOSS_MAX_HEADS 8

typedef struct {
    int n_heads;
    st_loss_config_t heads[ST_LOSS_MAX_HEADS];
} st_loss_heads_t;

/* Class/output count of the model output named `head` ("" when the model has one output), or
 * -1 when there is no such output. */
typedef int (*st_loss_classes_fn)(const char *head, void *ctx);

/* Parses "loss": one loss object (one head), or a list of them (one per model output; each then
 * needs a distinct "head"). Paths in errors: "loss" or "loss[i]". */
st_status_t st_loss_heads_parse(st_loss_heads_t *out, const cJSON *json, const char *path,
                                st_loss_classes_fn n_classes_of, void *ctx, st_error_t *err);
void st_loss_heads_free(st_loss_heads_t *h);

/* Total loss Σ_h head_weight_h · sum_h / weight_h from each head's (sum, weight) over the SAME
 * set of rows (normally the global batch, after the allreduce); a head with weight 0 contributes
 * 0. head_mean [H] (may be NULL) gets each head's sum / weight, without head_weight. The
 * gradient that matches it is each head's loss run with grad_scale = st_loss_grad_scale(head,
 * weight_h of the global batch). */
double st_loss_combine(double *head_mean /*[H] or NULL*/, const st_loss_config_t *heads /*[H]*/,
                       const st_loss_value_t *values /*[H]*/, int n_heads);

#endif
