/* loss.c — cross-entropy (class weights, label smoothing), focal, BCE-with-logits and MSE over
 * [B, K] outputs, their key tables and parser, and the multi-head combination.
 *
 * Each loss computes one row at a time in double (log-sum-exp with max subtraction for the
 * softmax losses, the log1p form for BCE), writing that row's gradient and returning its loss and
 * weight. Rows run on OpenMP threads in blocks; the per-row values of a block are kept and added
 * in row order afterwards, so the sums are the same as a serial loop for any thread count. */
#include "loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reproducible row reduction ---- */

typedef struct {
    double loss, weight;
} row_value_t;

typedef row_value_t (*row_fn)(const void *ctx, int row);

enum { ROW_BLOCK = 1024 };

static st_loss_value_t sum_rows(row_fn f, const void *ctx, int B, int K) {
    st_loss_value_t v = {0, 0};
    row_value_t rows[ROW_BLOCK];
    for (int r0 = 0; r0 < B; r0 += ROW_BLOCK) {
        int n = B - r0 < ROW_BLOCK ? B - r0 : ROW_BLOCK;
        #pragma omp parallel for schedule(static) if ((long)n * K >= 16384)
        for (int i = 0; i < n; i++) rows[i] = f(ctx, r0 + i);
        for (int i = 0; i < n; i++) v.sum += rows[i].loss, v.weight += rows[i].weight;
    }
    return v;
}

/* log Σ_c exp(z_c), stable. */
static double log_sum_exp(const float *z, int K) {
    double m = z[0];
    for (int c = 1; c < K; c++)
        if (z[c] > m) m = z[c];
    if (isinf(m)) return m;
    double s = 0;
    for (int c = 0; c < K; c++) s += exp((double)z[c] - m);
    return m + log(s);
}

/* ---- softmax cross-entropy ---- */

typedef struct {
    float *d;
    const float *z, *w;
    const int32_t *y;
    double eps, scale, w_total; /* w_total = Σ_c w[c] */
    int K;
} xent_ctx_t;

/* A missing class label (−1, allowed by the target's allow_missing) adds nothing: no loss, no
 * weight, a zero gradient row. */
static row_value_t missing_row(float *d, int i, int K) {
    if (d) memset(d + (size_t)i * K, 0, sizeof(float) * (size_t)K);
    return (row_value_t){0, 0};
}

static row_value_t xent_row(const void *vctx, int i) {
    const xent_ctx_t *c = vctx;
    int K = c->K, y = c->y[i];
    if (y < 0) return missing_row(c->d, i, K);
    const float *z = c->z + (size_t)i * K;
    double lse = log_sum_exp(z, K);
    double wy = c->w ? c->w[y] : 1.0;
    double loss = (1.0 - c->eps) * wy * (lse - z[y]);
    if (c->eps > 0) {
        double smooth = 0;
        for (int k = 0; k < K; k++) smooth += (c->w ? c->w[k] : 1.0) * (lse - z[k]);
        loss += c->eps / K * smooth;
    }
    if (c->d) {
        /* ∂ℓ/∂z_j = p_j·((1−ε)·w_y + (ε/K)·Σw) − (ε/K)·w_j − (1−ε)·w_y·[j = y] */
        float *d = c->d + (size_t)i * K;
        double a = (1.0 - c->eps) * wy + c->eps / K * c->w_total;
        for (int k = 0; k < K; k++) {
            double g = exp((double)z[k] - lse) * a - c->eps / K * (c->w ? c->w[k] : 1.0);
            if (k == y) g -= (1.0 - c->eps) * wy;
            d[k] = (float)(c->scale * g);
        }
    }
    return (row_value_t){loss, wy};
}

st_loss_value_t st_softmax_xent(float *dlogits, const float *logits, const int32_t *labels,
                                const float *class_weight, float smoothing, float grad_scale, int B, int K) {
    double w_total = K;
    if (class_weight) {
        w_total = 0;
        for (int k = 0; k < K; k++) w_total += class_weight[k];
    }
    xent_ctx_t c = {dlogits, logits, class_weight, labels, smoothing, grad_scale, w_total, K};
    return sum_rows(xent_row, &c, B, K);
}

/* ---- focal ---- */

typedef struct {
    float *d;
    const float *z, *alpha, *w;
    const int32_t *y;
    double alpha_all, gamma, scale;
    int K;
} focal_ctx_t;

static row_value_t focal_row(const void *vctx, int i) {
    const focal_ctx_t *c = vctx;
    int K = c->K, y = c->y[i];
    if (y < 0) return missing_row(c->d, i, K);
    const float *z = c->z + (size_t)i * K;
    double lse = log_sum_exp(z, K);
    double nll = lse - z[y];                 /* −log p_y */
    double p = exp(-nll), q = -expm1(-nll);  /* p_y and 1 − p_y, accurate near p_y = 1 */
    double wy = c->w ? c->w[y] : 1.0;
    double a = wy * (c->alpha ? c->alpha[y] : c->alpha_all);
    double g = c->gamma;
    /* FL = a·q^γ·nll; ∂FL/∂z_j = a·(p_j − [j = y])·(q^γ + γ·p·q^(γ−1)·nll) */
    double mod, factor;
    if (g == 0) mod = 1, factor = 1;
    else if (q <= 0) mod = 0, factor = 0;    /* limit p_y → 1 for γ > 0 */
    else mod = pow(q, g), factor = mod + g * p * pow(q, g - 1) * nll;
    if (c->d) {
        float *d = c->d + (size_t)i * K;
        for (int k = 0; k < K; k++) {
            double dk = exp((double)z[k] - lse) - (k == y);
            d[k] = (float)(c->scale * a * factor * dk);
        }
    }
    return (row_value_t){a * mod * nll, wy};
}

st_loss_value_t st_focal(float *dlogits, const float *logits, const int32_t *labels, const float *alpha,
                         float alpha_all, const float *class_weight, float gamma, float grad_scale, int B, int K) {
    focal_ctx_t c = {dlogits, logits, alpha, class_weight, labels, alpha_all, gamma, grad_scale, K};
    return sum_rows(focal_row, &c, B, K);
}

/* ---- binary cross-entropy with logits ---- */

typedef struct {
    float *d;
    const float *z, *t, *pw;
    double scale;
    int K;
} bce_ctx_t;

static row_value_t bce_row(const void *vctx, int i) {
    const bce_ctx_t *c = vctx;
    int K = c->K;
    const float *z = c->z + (size_t)i * K, *t = c->t + (size_t)i * K;
    float *d = c->d ? c->d + (size_t)i * K : NULL;
    double loss = 0, weight = 0;
    for (int k = 0; k < K; k++) {
        if (isnan(t[k])) { /* a missing target: masked */
            if (d) d[k] = 0;
            continue;
        }
        weight += 1;
        double x = z[k], tk = t[k], pw = c->pw ? c->pw[k] : 1.0;
        /* −log σ(x) = log1p(exp(−|x|)) + max(−x, 0); −log(1−σ(x)) = −log σ(x) + x */
        double nls = log1p(exp(-fabs(x))) + (x < 0 ? -x : 0);
        loss += (1 - tk) * x + (1 + (pw - 1) * tk) * nls;
        if (d) {
            double e = exp(-fabs(x));
            double sig = x >= 0 ? 1 / (1 + e) : e / (1 + e);
            double one_minus_sig = x >= 0 ? e / (1 + e) : 1 / (1 + e);
            d[k] = (float)(c->scale * ((1 - tk) * sig - pw * tk * one_minus_sig));
        }
    }
    return (row_value_t){loss, weight};
}

st_loss_value_t st_bce_with_logits(float *dlogits, const float *logits, const float *targets,
                                   const float *pos_weight, float grad_scale, int B, int K) {
    bce_ctx_t c = {dlogits, logits, targets, pos_weight, grad_scale, K};
    return sum_rows(bce_row, &c, B, K);
}

/* ---- regression: mean squared error, mean absolute error, Huber ---- */

typedef enum { REG_MSE, REG_MAE, REG_HUBER } reg_kind_t;

typedef struct {
    float *d;
    const float *x, *t;
    double scale, delta;
    int K;
    reg_kind_t kind;
} reg_ctx_t;

/* Per element r = x − t: mse r² (∂ 2r); mae |r| (∂ sign r, 0 at 0 as PyTorch); huber 0.5·r² for
 * |r| <= δ, else δ·(|r| − 0.5·δ) (∂ r, or δ·sign r) — F.huber_loss. A NaN target is missing:
 * no loss, no weight, zero gradient. */
static row_value_t reg_row(const void *vctx, int i) {
    const reg_ctx_t *c = vctx;
    int K = c->K;
    const float *x = c->x + (size_t)i * K, *t = c->t + (size_t)i * K;
    double loss = 0, weight = 0;
    for (int k = 0; k < K; k++) {
        double r = (double)x[k] - t[k], l, g;
        if (isnan(t[k])) {
            if (c->d) c->d[(size_t)i * K + k] = 0;
            continue;
        }
        double sgn = r > 0 ? 1 : r < 0 ? -1 : 0;
        if (c->kind == REG_MSE) l = r * r, g = 2 * r;
        else if (c->kind == REG_MAE) l = fabs(r), g = sgn;
        else if (fabs(r) <= c->delta) l = 0.5 * r * r, g = r;
        else l = c->delta * (fabs(r) - 0.5 * c->delta), g = c->delta * sgn;
        loss += l, weight += 1;
        if (c->d) c->d[(size_t)i * K + k] = (float)(c->scale * g);
    }
    return (row_value_t){loss, weight};
}

static st_loss_value_t regression(reg_kind_t kind, float *dpred, const float *pred, const float *targets,
                                  double delta, float grad_scale, int B, int K) {
    reg_ctx_t c = {dpred, pred, targets, grad_scale, delta, K, kind};
    return sum_rows(reg_row, &c, B, K);
}

st_loss_value_t st_mse(float *dpred, const float *pred, const float *targets, float grad_scale, int B, int K) {
    return regression(REG_MSE, dpred, pred, targets, 0, grad_scale, B, K);
}

st_loss_value_t st_mae(float *dpred, const float *pred, const float *targets, float grad_scale, int B, int K) {
    return regression(REG_MAE, dpred, pred, targets, 0, grad_scale, B, K);
}

st_loss_value_t st_huber(float *dpred, const float *pred, const float *targets, float delta, float grad_scale, int B,
                         int K) {
    return regression(REG_HUBER, dpred, pred, targets, delta, grad_scale, B, K);
}

/* ---- key tables ---- */

/* Every loss has the head keys first, then its own (LK_OWN, LK_OWN + 1, ...). Entries are indexed
 * like every key table, which also leaves their binding (st_key_t.field) empty without a warning. */
enum { LK_HEAD, LK_HEAD_WEIGHT, LK_TARGET, LK_OWN };

#define HEAD_KEYS                                                                                     \
    [LK_HEAD] = {"head", ST_K_STR, "", 0, 0, NULL, "model output this loss applies to; may be left out when the model has one output"}, \
    [LK_HEAD_WEIGHT] = {"head_weight", ST_K_NUM, "1", 0, 1e300, NULL, "factor of this head's mean loss in the total loss"}, \
    [LK_TARGET] = {"target", ST_K_STR, "", 0, 0, NULL, "dataset target this loss reads (/targets/<name>; y in a file without /targets); default: the target named like the head, else the dataset's only target"}

#define STANDARDIZE_KEY                                                                               \
    {"standardize_targets", ST_K_BOOL, "false", 0, 0, NULL, "train on (t - mean) / std of the training split's targets; metrics, predictions and exports undo it"}

#define CLASS_WEIGHTS_KEY                                                                             \
    {"class_weights", ST_K_NUMS, "", 0, 1e300, NULL,                                                  \
     "one weight per class (indexed by class id), the string \"balanced\": N/(K*count[c]) from the training set's class counts, or \"none\" (the default: every class weighs 1); the mean divides by the sum of the rows' label weights, as PyTorch"}

static const st_key_t xent_keys[] = {
    HEAD_KEYS,
    [LK_OWN] = {"label_smoothing", ST_K_NUM, "0", 0, 1, NULL, "epsilon: the target is (1-eps)*onehot + eps/K, as PyTorch's label_smoothing"},
    [LK_OWN + 1] = CLASS_WEIGHTS_KEY,
};

static const st_key_t focal_keys[] = {
    HEAD_KEYS,
    [LK_OWN] = {"gamma", ST_K_NUM, "2", 0, 1e300, NULL, "focusing exponent: loss = alpha[y]*(1-p_y)^gamma*(-log p_y); 0 = cross-entropy"},
    [LK_OWN + 1] = {"alpha", ST_K_NUM_OR_NUMS, "1", 0, 1e300, NULL, "class balance factor: one number for every class, or one per class"},
    [LK_OWN + 2] = CLASS_WEIGHTS_KEY,
};

static const st_key_t bce_keys[] = {
    HEAD_KEYS,
    [LK_OWN] = {"pos_weight", ST_K_NUM_OR_NUMS, "", 0, 1e300, NULL, "weight of the positive term, one number for every output or one per output (PyTorch's pos_weight); default 1"},
    [LK_OWN + 1] = {"top_k", ST_K_INT, "3", 1, 65536, NULL, "evaluation: top-k hit rate = share of rows whose k highest-scored labels include a true one"},
};

static const st_key_t mse_keys[] = {HEAD_KEYS, [LK_OWN] = STANDARDIZE_KEY};
static const st_key_t mae_keys[] = {HEAD_KEYS, [LK_OWN] = STANDARDIZE_KEY};
static const st_key_t huber_keys[] = {
    HEAD_KEYS,
    [LK_OWN] = STANDARDIZE_KEY,
    [LK_OWN + 1] = {"delta", ST_K_NUM, "1", 1e-12, 1e300, NULL, "quadratic below |r| = delta, linear above (PyTorch's HuberLoss delta)"},
};

static const st_key_t ctc_keys[] = {
    HEAD_KEYS,
    [LK_OWN] = {"reduction", ST_K_ENUM, "\"mean\"", 0, 0, "mean|sum", "mean: the batch mean of each row's loss / max(its label count, 1), as PyTorch's ctc_loss; sum: the gradient of the sum over the batch (the reported loss stays a mean per row)"},
    [LK_OWN + 1] = {"zero_infinity", ST_K_BOOL, "true", 0, 0, NULL, "a row whose frames are too few for its labels adds loss 0 and no gradient (false: its loss is +inf, and the step is skipped)"},
    [LK_OWN + 2] = {"beam_width", ST_K_INT, "1", 1, 256, NULL, "decoding for metrics and predictions: 1 = greedy (best path), more = prefix beam search with that many prefixes"},
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const st_loss_kind_t kinds[] = {
    {"cross_entropy", ST_LOSS_CROSS_ENTROPY, "softmax cross-entropy over class logits, with class weights and label smoothing", xent_keys, N_OF(xent_keys)},
    {"focal", ST_LOSS_FOCAL, "softmax focal loss: cross-entropy down-weighted on well-classified rows", focal_keys, N_OF(focal_keys)},
    {"bce_with_logits", ST_LOSS_BCE_WITH_LOGITS, "binary cross-entropy on logits, per output, targets in [0, 1]; mean over all elements", bce_keys, N_OF(bce_keys)},
    {"bce", ST_LOSS_BCE_WITH_LOGITS, "the same as bce_with_logits (multi-label targets)", bce_keys, N_OF(bce_keys)},
    {"mse", ST_LOSS_MSE, "mean squared error, mean over all elements", mse_keys, N_OF(mse_keys)},
    {"mae", ST_LOSS_MAE, "mean absolute error (L1), mean over all elements", mae_keys, N_OF(mae_keys)},
    {"huber", ST_LOSS_HUBER, "Huber loss with threshold delta, mean over all elements", huber_keys, N_OF(huber_keys)},
    {"ctc", ST_LOSS_CTC, "connectionist temporal classification of a per-position output [T, V] against a sequence target (blank = class 0); metrics WER, CER, token accuracy, exact match", ctc_keys, N_OF(ctc_keys)},
};

int st_loss_kind_count(void) { return N_OF(kinds); }

const st_loss_kind_t *st_loss_kind_at(int i) { return &kinds[i]; }

const st_loss_kind_t *st_loss_kind_find(const char *type) {
    for (int i = 0; i < N_OF(kinds); i++)
        if (strcmp(kinds[i].type, type) == 0) return &kinds[i];
    return NULL;
}

/* ---- parsing ---- */

/* Keys read here rather than by the schema (a string or a list of any length). */
static int is_per_class_key(const char *key) {
    return strcmp(key, "class_weights") == 0 || strcmp(key, "alpha") == 0 || strcmp(key, "pos_weight") == 0;
}

static void describe_json(const cJSON *v, char *buf, int size) {
    char *txt = cJSON_PrintUnformatted(v);
    snprintf(buf, size, "%s", txt ? txt : "?");
    if (strlen(buf) > 60) strcpy(buf + 57, "...");
    cJSON_free(txt);
}

/* Reads a per-class list at path.key into a new [K] array (*out; NULL when absent or a number).
 * allow_number: a single number is accepted; it goes to *scalar when that is given, else it is
 * broadcast into a new [K] array. */
static st_status_t read_per_class(float **out, float *scalar, const cJSON *obj, const char *path,
                                  const char *key, int K, int allow_number, const char *want,
                                  st_error_t *err) {
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return ST_OK;
    char got[80];
    if (allow_number && cJSON_IsNumber(v)) {
        if (!(v->valuedouble >= 0) || !isfinite(v->valuedouble)) goto type_error;
        if (scalar) {
            *scalar = (float)v->valuedouble;
            return ST_OK;
        }
        if (K <= 0)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: needs the output count, which is not known here", path, key);
        *out = st_alloc(sizeof(float) * (size_t)K, key, err);
        if (!*out) return ST_ERR_NOMEM;
        for (int k = 0; k < K; k++) (*out)[k] = (float)v->valuedouble;
        return ST_OK;
    }
    if (!cJSON_IsArray(v)) goto type_error;
    int n = cJSON_GetArraySize(v);
    for (const cJSON *e = v->child; e; e = e->next)
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) || !isfinite(e->valuedouble)) goto type_error;
    if (K <= 0)
        return st_fail(err, ST_ERR_CONFIG, "%s.%s: a per-class list needs the class count, which is not known here",
                       path, key);
    if (n != K)
        return st_fail(err, ST_ERR_CONFIG, "%s.%s: expected %d values (one per class), got %d", path, key, K, n);
    *out = st_alloc(sizeof(float) * (size_t)K, key, err);
    if (!*out) return ST_ERR_NOMEM;
    int k = 0;
    for (const cJSON *e = v->child; e; e = e->next) (*out)[k++] = (float)e->valuedouble;
    return ST_OK;
type_error:
    describe_json(v, got, sizeof got);
    return st_fail(err, ST_ERR_CONFIG, "%s.%s: expected %s, got %s", path, key, want, got);
}

static st_status_t read_class_weights(st_loss_config_t *cfg, const cJSON *obj, const char *path, int K,
                                      st_error_t *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "class_weights");
    if (cJSON_IsString(v) && strcmp(v->valuestring, "balanced") == 0) {
        cfg->class_weights_mode = ST_CLASS_WEIGHTS_BALANCED;
        return ST_OK;
    }
    if (cJSON_IsString(v) && strcmp(v->valuestring, "none") == 0) { /* the default, said explicitly */
        cfg->class_weights_mode = ST_CLASS_WEIGHTS_NONE;
        return ST_OK;
    }
    ST_TRY(read_per_class(&cfg->class_weights, NULL, obj, path, "class_weights", K, 0,
                          "\"balanced\", \"none\" or a list of numbers >= 0, one per class", err));
    if (!cfg->class_weights) return ST_OK;
    cfg->class_weights_mode = ST_CLASS_WEIGHTS_LIST;
    double total = 0;
    for (int k = 0; k < K; k++) total += cfg->class_weights[k];
    if (!(total > 0))
        return st_fail(err, ST_ERR_CONFIG, "%s.class_weights: at least one weight must be positive", path);
    return ST_OK;
}

static st_status_t unknown_loss_type(const char *type, const char *path, st_error_t *err) {
    const char *names[8];
    char known[256] = "";
    for (int i = 0; i < N_OF(kinds); i++) {
        names[i] = kinds[i].type;
        if (i) strcat(known, ", ");
        strcat(known, names[i]);
    }
    const char *near = st_closest_word(type, names, N_OF(kinds));
    if (near)
        return st_fail(err, ST_ERR_CONFIG, "%s.type: unknown loss type \"%s\" (did you mean \"%s\"?); known types: %s",
                       path, type, near, known);
    return st_fail(err, ST_ERR_CONFIG, "%s.type: unknown loss type \"%s\"; known types: %s", path, type, known);
}

static const st_val_t *val_of(const st_key_t *keys, int n, const st_val_t *vals, const char *key) {
    int i = st_schema_find(keys, n, key);
    return i >= 0 ? &vals[i] : NULL;
}

static st_status_t parse_into(const cJSON *obj, const char *path, int K, st_loss_config_t *out,
                              st_error_t *err) {
    if (!cJSON_IsObject(obj)) {
        char got[80];
        describe_json(obj, got, sizeof got);
        return st_fail(err, ST_ERR_CONFIG, "%s: expected a loss object, got %s", path, got);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (type && !cJSON_IsNull(type) && !cJSON_IsString(type)) {
        char got[80];
        describe_json(type, got, sizeof got);
        return st_fail(err, ST_ERR_CONFIG, "%s.type: expected a loss type string, got %s", path, got);
    }
    if (!cJSON_IsString(type))
        return st_fail(err, ST_ERR_CONFIG, "%s.type: required key is missing (a loss type string)", path);
    const st_loss_kind_t *kind = st_loss_kind_find(type->valuestring);
    if (!kind) return unknown_loss_type(type->valuestring, path, err);

    /* The schema reads the plain keys; the per-class ones are allowed through `skip`. */
    st_key_t plain[16];
    const char *skip[8] = {"type"};
    int n_plain = 0, n_skip = 1;
    for (int i = 0; i < kind->n_keys; i++) {
        if (is_per_class_key(kind->keys[i].key)) skip[n_skip++] = kind->keys[i].key;
        else plain[n_plain++] = kind->keys[i];
    }
    skip[n_skip] = NULL;
    st_val_t vals[16];
    ST_TRY(st_schema_read(plain, n_plain, obj, path, skip, vals, err));

    out->type = kind->id;
    out->n_classes = K;
    out->head_weight = val_of(plain, n_plain, vals, "head_weight")->num;
    const st_val_t *head = val_of(plain, n_plain, vals, "head");
    if (head->is_set) snprintf(out->head, sizeof out->head, "%s", head->s);
    const st_val_t *v;
    if ((v = val_of(plain, n_plain, vals, "label_smoothing"))) out->label_smoothing = (float)v->num;
    if ((v = val_of(plain, n_plain, vals, "gamma"))) out->gamma = (float)v->num;
    if ((v = val_of(plain, n_plain, vals, "delta"))) out->huber_delta = (float)v->num;
    if ((v = val_of(plain, n_plain, vals, "top_k"))) out->top_k = (int)v->i;
    if ((v = val_of(plain, n_plain, vals, "standardize_targets"))) out->standardize_targets = v->b;
    if ((v = val_of(plain, n_plain, vals, "reduction"))) out->ctc_sum = strcmp(v->s, "sum") == 0;
    if ((v = val_of(plain, n_plain, vals, "zero_infinity"))) out->zero_infinity = v->b;
    if ((v = val_of(plain, n_plain, vals, "beam_width"))) out->beam_width = (int)v->i;
    const st_val_t *target = val_of(plain, n_plain, vals, "target");
    if (target->is_set) snprintf(out->target, sizeof out->target, "%s", target->s);
    out->alpha_all = 1.0f;
    out->target_index = -1;
    for (int i = 0; i < n_skip; i++) {
        const char *key = skip[i];
        if (strcmp(key, "class_weights") == 0) ST_TRY(read_class_weights(out, obj, path, K, err));
        else if (strcmp(key, "alpha") == 0) {
            ST_TRY(read_per_class(&out->alpha, &out->alpha_all, obj, path, "alpha", K, 1,
                                  "a number >= 0 or a list of numbers >= 0, one per class", err));
        } else if (strcmp(key, "pos_weight") == 0) {
            ST_TRY(read_per_class(&out->pos_weight, NULL, obj, path, "pos_weight", K, 1,
                                  "a number >= 0 or a list of numbers >= 0, one per output", err));
        }
    }
    return ST_OK;
}

st_status_t st_loss_parse(const cJSON *obj, const char *path, int n_classes, st_loss_config_t *out,
                          st_error_t *err) {
    memset(out, 0, sizeof *out);
    st_status_t rc = parse_into(obj, path, n_classes, out, err);
    if (rc != ST_OK) st_loss_config_free(out);
    return rc;
}

void st_loss_config_free(st_loss_config_t *cfg) {
    st_free(cfg->alpha);
    st_free(cfg->class_weights);
    st_free(cfg->pos_weight);
    st_free(cfg->t_mean);
    st_free(cfg->t_std);
    memset(cfg, 0, sizeof *cfg);
}

st_status_t st_loss_resolve_balanced(st_loss_config_t *cfg, const int64_t *class_counts, st_error_t *err) {
    if (cfg->class_weights_mode != ST_CLASS_WEIGHTS_BALANCED) return ST_OK;
    int K = cfg->n_classes;
    if (K <= 0) return st_fail(err, ST_ERR_CONFIG, "class_weights \"balanced\": the class count is not known");
    int64_t N = 0;
    for (int k = 0; k < K; k++) N += class_counts[k];
    if (N <= 0)
        return st_fail(err, ST_ERR_DATA, "class_weights \"balanced\": the training set has no labelled rows");
    if (!cfg->class_weights) {
        cfg->class_weights = st_alloc(sizeof(float) * (size_t)K, "class_weights", err);
        if (!cfg->class_weights) return ST_ERR_NOMEM;
    }
    for (int k = 0; k < K; k++)
        cfg->class_weights[k] = class_counts[k] > 0 ? (float)((double)N / ((double)K * (double)class_counts[k])) : 0.0f;
    return ST_OK;
}

/* ---- evaluation through a config ---- */

static int uses_labels(const st_loss_config_t *cfg) {
    return cfg->type == ST_LOSS_CROSS_ENTROPY || cfg->type == ST_LOSS_FOCAL;
}

int st_loss_uses_labels(const st_loss_config_t *cfg) { return uses_labels(cfg); }

int st_loss_is_sequence(const st_loss_config_t *cfg) { return cfg->type == ST_LOSS_CTC; }

int st_loss_target_width(const st_loss_config_t *cfg) {
    return cfg->type == ST_LOSS_CTC ? 1 + cfg->seq_max_len : uses_labels(cfg) ? 1 : cfg->n_classes;
}

int st_loss_is_regression(const st_loss_config_t *cfg) {
    return cfg->type == ST_LOSS_MSE || cfg->type == ST_LOSS_MAE || cfg->type == ST_LOSS_HUBER;
}

double st_loss_weight_total(const st_loss_config_t *cfg, const int32_t *labels, int B) {
    return st_loss_weight_total_of(cfg, labels, NULL, B);
}

double st_loss_weight_total_of(const st_loss_config_t *cfg, const int32_t *labels, const float *targets, int B) {
    double w = 0;
    if (cfg->type == ST_LOSS_CTC) return B; /* every row weighs 1 (see the top of loss.h) */
    if (!uses_labels(cfg)) {
        if (!targets) return (double)B * cfg->n_classes;
        for (size_t i = 0; i < (size_t)B * (size_t)cfg->n_classes; i++) w += !isnan(targets[i]);
        return w;
    }
    for (int i = 0; i < B; i++)
        if (labels[i] >= 0) w += cfg->class_weights ? cfg->class_weights[labels[i]] : 1.0;
    return w;
}

float st_loss_grad_scale(const st_loss_config_t *cfg, double global_weight) {
    if (global_weight <= 0) return 0.0f;
    return (float)(cfg->type == ST_LOSS_CTC && cfg->ctc_sum ? cfg->head_weight : cfg->head_weight / global_weight);
}

st_status_t st_loss_eval(st_loss_value_t *value, float *dlogits, const st_loss_config_t *cfg,
                         const float *logits, const int32_t *labels, const float *targets,
                         float grad_scale, int B, st_error_t *err) {
    int K = cfg->n_classes;
    if (uses_labels(cfg)) {
        if (!labels) return st_fail(err, ST_ERR_INTERNAL, "loss: labels missing");
        if (cfg->class_weights_mode == ST_CLASS_WEIGHTS_BALANCED && !cfg->class_weights)
            return st_fail(err, ST_ERR_CONFIG, "loss.class_weights: \"balanced\" was not resolved from the class counts");
        for (int i = 0; i < B; i++)
            if (labels[i] < -1 || labels[i] >= K) /* −1: a missing label, masked */
                return st_fail(err, ST_ERR_DATA, "row %d: label %d outside [0, %d)", i, labels[i], K);
    } else if (!targets) {
        return st_fail(err, ST_ERR_INTERNAL, "loss: targets missing");
    } else if (cfg->type == ST_LOSS_CTC) {
        return st_fail(err, ST_ERR_INTERNAL, "loss: ctc is evaluated by st_loss_eval_ctc");
    }
    switch (cfg->type) {
    case ST_LOSS_CROSS_ENTROPY:
        *value = st_softmax_xent(dlogits, logits, labels, cfg->class_weights, cfg->label_smoothing, grad_scale, B, K);
        break;
    case ST_LOSS_FOCAL:
        *value = st_focal(dlogits, logits, labels, cfg->alpha, cfg->alpha_all, cfg->class_weights, cfg->gamma,
                          grad_scale, B, K);
        break;
    case ST_LOSS_BCE_WITH_LOGITS:
        *value = st_bce_with_logits(dlogits, logits, targets, cfg->pos_weight, grad_scale, B, K);
        break;
    case ST_LOSS_MSE:
        *value = st_mse(dlogits, logits, targets, grad_scale, B, K);
        break;
    case ST_LOSS_MAE:
        *value = st_mae(dlogits, logits, targets, grad_scale, B, K);
        break;
    case ST_LOSS_HUBER:
        *value = st_huber(dlogits, logits, targets, cfg->huber_delta, grad_scale, B, K);
        break;
    case ST_LOSS_CTC:
        break;
    }
    return ST_OK;
}

/* ---- the output a loss accepts ---- */

static st_status_t check_ctc_output(int V, st_shape_t shape, const char *where, st_error_t *err) {
    if (shape.rank == 2 && (V <= 0 || shape.d[1] == V)) return ST_OK;
    char got[48];
    st_shape_str(shape, got, sizeof got);
    if (shape.rank != 2)
        return st_fail(err, ST_ERR_SHAPE, "%s: gives %s per sample, but loss \"ctc\" needs a row per position [T, %d]: "
                       "keep the positions (no global pooling or flatten before the last dense layer)", where, got, V);
    return st_fail(err, ST_ERR_SHAPE, "%s: gives %s per sample, but loss \"ctc\" needs [T, %d], one logit per token of "
                   "the vocabulary and the blank (a last dense layer takes \"units\": \"classes\")", where, got, V);
}

st_status_t st_loss_check_output(const st_loss_config_t *cfg, st_shape_t shape, const char *where, st_error_t *err) {
    int K = cfg->n_classes;
    if (cfg->type == ST_LOSS_CTC) return check_ctc_output(K, shape, where, err);
    if (shape.rank == 1 && (K <= 0 || shape.d[0] == K)) return ST_OK;
    const char *type = "?";
    for (int i = N_OF(kinds) - 1; i >= 0; i--) /* the first name of the kind (bce_with_logits, not bce) */
        if (kinds[i].id == cfg->type) type = kinds[i].type;
    char got[48], want[48];
    st_shape_str(shape, got, sizeof got);
    if (K > 0) st_shape_str(st_shape1(K), want, sizeof want);
    else snprintf(want, sizeof want, "[K]");
    const char *per = uses_labels(cfg) ? "one logit per class of the dataset" : "one output per target";
    if (shape.rank != 1)
        return st_fail(err, ST_ERR_SHAPE, "%s: gives %s per sample (a row per position), but loss \"%s\" needs %s, %s: "
                       "pool or flatten the positions first (global_avg_pool, global_max_pool or flatten)",
                       where, got, type, want, per);
    return st_fail(err, ST_ERR_SHAPE, "%s: gives %s per sample, but loss \"%s\" needs %s, %s%s", where, got, type, want,
                   per, uses_labels(cfg) ? " (a last dense layer takes \"units\": \"classes\")" : "");
}

/* ---- several heads ---- */

st_status_t st_loss_heads_parse(st_loss_heads_t *out, const cJSON *json, const char *path,
                                st_loss_classes_fn n_classes_of, void *ctx, st_error_t *err) {
    memset(out, 0, sizeof *out);
    int is_list = cJSON_IsArray(json);
    int n = is_list ? cJSON_GetArraySize(json) : 1;
    if (is_list && n == 0) return st_fail(err, ST_ERR_CONFIG, "%s: expected at least one loss", path);
    if (n > ST_LOSS_MAX_HEADS)
        return st_fail(err, ST_ERR_CONFIG, "%s: at most %d heads, got %d", path, ST_LOSS_MAX_HEADS, n);
    const cJSON *obj = is_list ? json->child : json; /* walked by its links, not indexed */
    for (int h = 0; h < n; h++, obj = is_list ? obj->next : obj) {
        char p[160];
        if (is_list) snprintf(p, sizeof p, "%s[%d]", path, h);
        else snprintf(p, sizeof p, "%s", path);
        const cJSON *head = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "head") : NULL;
        const char *name = cJSON_IsString(head) ? head->valuestring : "";
        st_status_t rc = ST_OK;
        if (head && !cJSON_IsString(head) && !cJSON_IsNull(head)) {
            char got[80];
            describe_json(head, got, sizeof got);
            rc = st_fail(err, ST_ERR_CONFIG, "%s.head: expected a string, got %s", p, got);
        } else if (n > 1 && !name[0]) {
            rc = st_fail(err, ST_ERR_CONFIG, "%s.head: required with several losses (the model output it applies to)", p);
        } else {
            int K = cJSON_IsObject(obj) && n_classes_of ? n_classes_of(name, ctx) : 0;
            if (K < 0) rc = st_fail(err, ST_ERR_CONFIG, "%s.head: the model has no output named \"%s\"", p, name);
            else rc = st_loss_parse(obj, p, K, &out->heads[h], err);
        }
        for (int g = 0; rc == ST_OK && g < h; g++)
            if (strcmp(out->heads[g].head, name) == 0)
                rc = st_fail(err, ST_ERR_CONFIG, "%s.head: \"%s\" already has a loss (%s[%d])", p, name, path, g);
        if (rc != ST_OK) {
            out->n_heads = h + 1;
            st_loss_heads_free(out);
            return rc;
        }
        out->n_heads = h + 1;
    }
    return ST_OK;
}

void st_loss_heads_free(st_loss_heads_t *h) {
    for (int i = 0; i < h->n_heads; i++) st_loss_config_free(&h->heads[i]);
    h->n_heads = 0;
}

double st_loss_combine(double *head_mean, const st_loss_config_t *heads, const st_loss_value_t *values, int n_heads) {
    double total = 0;
    for (int h = 0; h < n_heads; h++) {
        double mean = values[h].weight > 0 ? values[h].sum / values[h].weight : 0.0;
        if (head_mean) head_mean[h] = mean;
        total += heads[h].head_weight * mean;
    }
    return total;
}
