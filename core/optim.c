/* optim.c — SGD, Adam and AdamW over the flat parameter arena, with glob-assigned parameter
 * groups. The tensor views are merged into contiguous segments of equal (lr_mult, weight decay);
 * a step is one OpenMP region looping over the segments, elementwise inside each, with the same
 * float32 operation order as torch.optim's single-tensor path (see optim.h). */
#include "optim.h"

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

typedef struct {
    size_t offset, n;
    double lr_mult, weight_decay;
} segment_t;

typedef struct {
    int group;
    double lr_mult, weight_decay;
} assignment_t;

struct st_optim {
    st_optim_config_t cfg;
    size_t n_floats;
    long step;
    int n_state;
    float *state[ST_OPTIM_MAX_STATE];
    int n_segments;
    segment_t *segments;
    int n_tensors;
    assignment_t *assign;
};

/* ---- key tables ---- */

/* Keys bound with FIELD / GROUP_FIELD fill that member (core/schema.h, ST_FIELD); "type" and
 * "betas" are read by hand (the type picks the defaults first; betas is a list of two). */
#define FIELD(member) ST_FIELD(st_optim_config_t, member)
#define GROUP_FIELD(member) ST_FIELD(st_optim_group_t, member)

enum { K_TYPE, K_LR, K_MOMENTUM, K_NESTEROV, K_BETAS, K_EPS, K_WD, K_DECAY_ALL, N_KEYS };
static const st_key_t optim_keys[N_KEYS] = {
    [K_TYPE] = {"type", ST_K_ENUM, NULL, 0, 0, "sgd|adam|adamw",
                "sgd (torch.optim.SGD, dampening 0), adam (coupled L2 weight decay) or adamw (decoupled weight decay)"},
    [K_LR] = {"lr", ST_K_NUM, "", 0, 1e300, NULL,
              "initial base learning rate (the schedule starts from it); required for sgd, default 0.001 for adam/adamw",
              FIELD(lr)},
    [K_MOMENTUM] = {"momentum", ST_K_NUM, "0", 0, 1, NULL, "sgd: momentum factor", FIELD(momentum)},
    [K_NESTEROV] = {"nesterov", ST_K_BOOL, "false", 0, 0, NULL, "sgd: Nesterov momentum (needs momentum > 0)",
                    FIELD(nesterov)},
    [K_BETAS] = {"betas", ST_K_NUMS, "[0.9, 0.999]", 0, 1, NULL,
                 "adam/adamw: [beta1, beta2], each in [0, 1), decay rates of the moment estimates"},
    [K_EPS] = {"eps", ST_K_NUM, "1e-8", 0, 1e300, NULL, "adam/adamw: added to sqrt(v_hat) in the denominator",
               FIELD(eps)},
    [K_WD] = {"weight_decay", ST_K_NUM, "", 0, 1e300, NULL,
              "weight decay: L2 added to the gradient (sgd, adam) or decoupled theta -= lr*wd*theta (adamw); "
              "default 0, 0.01 for adamw; not applied to biases and norm parameters unless decay_norm_and_bias",
              FIELD(weight_decay)},
    [K_DECAY_ALL] = {"decay_norm_and_bias", ST_K_BOOL, "false", 0, 0, NULL,
                     "apply the inherited weight decay to biases and norm parameters too",
                     FIELD(decay_norm_and_bias)},
};

enum { G_PARAMS, G_LR_MULT, G_WD, N_GROUP_KEYS };
static const st_key_t group_keys[N_GROUP_KEYS] = {
    [G_PARAMS] = {"params", ST_K_STR, NULL, 0, 0, NULL,
                  "glob(s) over tensor names (fnmatch, space separated), e.g. \"layers.0.* *.bias\"; "
                  "the first group that matches a tensor wins, unmatched tensors use the defaults",
                  GROUP_FIELD(params)},
    [G_LR_MULT] = {"lr_mult", ST_K_NUM, "1", 0, 1e300, NULL, "the group's learning rate is the base rate times this",
                   GROUP_FIELD(lr_mult)},
    [G_WD] = {"weight_decay", ST_K_NUM, "", 0, 1e300, NULL,
              "the group's weight decay, applied to all its tensors; default: the optimizer's rule",
              GROUP_FIELD(weight_decay)},
};

const st_key_t *st_optim_keys(int *n_keys) {
    if (n_keys) *n_keys = N_KEYS;
    return optim_keys;
}

const st_key_t *st_optim_group_keys(int *n_keys) {
    if (n_keys) *n_keys = N_GROUP_KEYS;
    return group_keys;
}

/* ---- config ---- */

void st_optim_config_default(st_optim_config_t *cfg, st_optim_type_t type) {
    memset(cfg, 0, sizeof *cfg);
    cfg->type = type;
    cfg->lr = type == ST_OPTIM_SGD ? 0.01 : 1e-3;
    cfg->beta1 = 0.9, cfg->beta2 = 0.999, cfg->eps = 1e-8;
    cfg->weight_decay = type == ST_OPTIM_ADAMW ? 0.01 : 0.0;
    snprintf(cfg->path, sizeof cfg->path, "optimizer");
}

static int given(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v);
}

static st_status_t parse_group(const cJSON *obj, const char *path, st_optim_group_t *g, st_error_t *err) {
    st_val_t v[N_GROUP_KEYS];
    ST_TRY(st_schema_read(group_keys, N_GROUP_KEYS, obj, path, NULL, v, err));
    const char *s = v[G_PARAMS].s;
    if (strspn(s, " \t") == strlen(s))
        return st_fail(err, ST_ERR_CONFIG, "%s.params: expected at least one glob, got \"%s\"", path, s);
    memset(g, 0, sizeof *g);
    g->has_weight_decay = v[G_WD].is_set;
    return st_schema_fill(group_keys, N_GROUP_KEYS, v, path, g, err);
}

st_status_t st_optim_parse(const cJSON *obj, const char *path, st_optim_config_t *cfg, st_error_t *err) {
    static const char *const skip[] = {"groups", NULL};
    st_val_t v[N_KEYS];
    ST_TRY(st_schema_read(optim_keys, N_KEYS, obj, path, skip, v, err));
    st_optim_type_t type = strcmp(v[K_TYPE].s, "sgd") == 0    ? ST_OPTIM_SGD
                           : strcmp(v[K_TYPE].s, "adam") == 0 ? ST_OPTIM_ADAM
                                                              : ST_OPTIM_ADAMW;
    st_optim_config_default(cfg, type);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    static const int sgd_only[] = {K_MOMENTUM, K_NESTEROV}, adam_only[] = {K_BETAS, K_EPS};
    const int *unused = type == ST_OPTIM_SGD ? adam_only : sgd_only;
    for (int i = 0; i < 2; i++)
        if (given(obj, optim_keys[unused[i]].key))
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: not used by optimizer type \"%s\"", path,
                           optim_keys[unused[i]].key, v[K_TYPE].s);
    ST_TRY(st_schema_fill(optim_keys, N_KEYS, v, path, cfg, err)); /* lr and weight_decay when given */
    if (!v[K_LR].is_set && type == ST_OPTIM_SGD)
        return st_fail(err, ST_ERR_CONFIG, "%s.lr: required for optimizer type \"sgd\"", path);
    if (cfg->nesterov && cfg->momentum <= 0)
        return st_fail(err, ST_ERR_CONFIG, "%s.nesterov: Nesterov momentum needs momentum > 0", path);
    if (v[K_BETAS].n != 2 || v[K_BETAS].list[0] >= 1 || v[K_BETAS].list[1] >= 1)
        return st_fail(err, ST_ERR_CONFIG, "%s.betas: expected a list of 2 numbers in [0, 1)", path);
    cfg->beta1 = v[K_BETAS].list[0], cfg->beta2 = v[K_BETAS].list[1];

    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(obj, "groups");
    if (groups && !cJSON_IsNull(groups)) {
        if (!cJSON_IsArray(groups))
            return st_fail(err, ST_ERR_CONFIG, "%s.groups: expected a list of objects", path);
        int n = cJSON_GetArraySize(groups);
        if (n > ST_OPTIM_MAX_GROUPS)
            return st_fail(err, ST_ERR_CONFIG, "%s.groups: at most %d groups, got %d", path, ST_OPTIM_MAX_GROUPS, n);
        for (int i = 0; i < n; i++) {
            char gpath[160];
            snprintf(gpath, sizeof gpath, "%s.groups[%d]", path, i);
            ST_TRY(parse_group(cJSON_GetArrayItem(groups, i), gpath, &cfg->groups[i], err));
        }
        cfg->n_groups = n;
    }
    return ST_OK;
}

/* ---- groups ---- */

/* 1 when one of the space-separated globs in `patterns` matches `name`. */
static int glob_match(const char *patterns, const char *name) {
    char buf[sizeof ((st_optim_group_t *)0)->params];
    snprintf(buf, sizeof buf, "%s", patterns);
    char *save = NULL;
    for (char *p = strtok_r(buf, " \t", &save); p; p = strtok_r(NULL, " \t", &save))
        if (fnmatch(p, name, 0) == 0) return 1;
    return 0;
}

static assignment_t assign_tensor(const st_optim_config_t *cfg, const st_tensor_view_t *t) {
    double inherited = (t->decay || cfg->decay_norm_and_bias) ? cfg->weight_decay : 0.0;
    for (int g = 0; g < cfg->n_groups; g++)
        if (glob_match(cfg->groups[g].params, t->name))
            return (assignment_t){g + 1, cfg->groups[g].lr_mult,
                                  cfg->groups[g].has_weight_decay ? cfg->groups[g].weight_decay : inherited};
    return (assignment_t){0, 1.0, inherited};
}

static int by_offset(const void *a, const void *b) {
    const segment_t *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

st_status_t st_optim_create(const st_optim_config_t *cfg, const st_tensor_view_t *tensors, int n_tensors,
                            size_t n_floats, st_optim_t **out, st_error_t *err) {
    *out = NULL;
    st_optim_t *o = st_alloc(sizeof *o, "optimizer", err);
    if (!o) return err ? err->code : ST_ERR_NOMEM;
    o->cfg = *cfg;
    o->n_floats = n_floats;
    o->n_tensors = n_tensors;
    o->n_state = cfg->type == ST_OPTIM_SGD ? (cfg->momentum > 0) : 2;
    st_status_t rc = ST_OK;
    o->assign = st_alloc(sizeof(assignment_t) * (n_tensors > 0 ? n_tensors : 1), "optimizer groups", err);
    o->segments = st_alloc(sizeof(segment_t) * (n_tensors > 0 ? n_tensors : 1), "optimizer segments", err);
    if (!o->assign || !o->segments) {
        rc = ST_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < o->n_state; k++)
        if (!(o->state[k] = st_alloc_arena(sizeof(float) * (n_floats > 0 ? n_floats : 1), "optimizer state", err))) {
            rc = ST_ERR_NOMEM;
            goto fail;
        }
    int used[ST_OPTIM_MAX_GROUPS] = {0};
    for (int i = 0; i < n_tensors; i++) {
        const st_tensor_view_t *t = &tensors[i];
        if (t->offset > n_floats || t->n > n_floats - t->offset) {
            rc = st_fail(err, ST_ERR_INTERNAL, "%s: tensor %s [%zu, +%zu) lies outside the parameter arena of %zu floats",
                         cfg->path, t->name, t->offset, t->n, n_floats);
            goto fail;
        }
        o->assign[i] = assign_tensor(cfg, t);
        if (o->assign[i].group > 0) used[o->assign[i].group - 1] = 1;
        o->segments[i] = (segment_t){t->offset, t->n, o->assign[i].lr_mult, o->assign[i].weight_decay};
    }
    for (int g = 0; g < cfg->n_groups; g++)
        if (!used[g]) {
            rc = st_fail(err, ST_ERR_CONFIG, "%s.groups[%d].params: \"%s\" matches no parameter tensor (names look like \"%s\")",
                         cfg->path, g, cfg->groups[g].params, n_tensors > 0 ? tensors[0].name : "layers.0.weight");
            goto fail;
        }
    qsort(o->segments, n_tensors, sizeof(segment_t), by_offset);
    int n_seg = 0;
    for (int i = 0; i < n_tensors; i++) {
        segment_t s = o->segments[i];
        if (s.n == 0) continue;
        if (n_seg > 0) {
            segment_t *last = &o->segments[n_seg - 1];
            if (s.offset < last->offset + last->n) {
                rc = st_fail(err, ST_ERR_INTERNAL, "%s: parameter tensors overlap at arena offset %zu", cfg->path, s.offset);
                goto fail;
            }
            if (s.offset == last->offset + last->n && s.lr_mult == last->lr_mult && s.weight_decay == last->weight_decay) {
                last->n += s.n;
                continue;
            }
        }
        o->segments[n_seg++] = s;
    }
    o->n_segments = n_seg;
    *out = o;
    return ST_OK;
fail:
    st_optim_free(o);
    return rc;
}

void st_optim_free(st_optim_t *o) {
    if (!o) return;
    for (int k = 0; k < ST_OPTIM_MAX_STATE; k++) st_free(o->state[k]);
    st_free(o->assign);
    st_free(o->segments);
    st_free(o);
}

void st_optim_tensor_group(const st_optim_t *o, int tensor, int *group, double *lr_mult, double *weight_decay) {
    const assignment_t *a = &o->assign[tensor];
    if (group) *group = a->group;
    if (lr_mult) *lr_mult = a->lr_mult;
    if (weight_decay) *weight_decay = a->weight_decay;
}

/* ---- updates (operation order as torch.optim's _single_tensor_* functions) ---- */

/* The part of segment seg inside [lo, hi): *a..*b (a == b: none). */
static void clip_segment(const segment_t *seg, size_t lo, size_t hi, size_t *a, size_t *b) {
    *a = seg->offset > lo ? seg->offset : lo;
    *b = seg->offset + seg->n < hi ? seg->offset + seg->n : hi;
    if (*b < *a) *b = *a;
}

static void sgd_step(st_optim_t *o, float *p, const float *g, double lr_base, size_t lo, size_t hi) {
    const float mu = (float)o->cfg.momentum;
    const int nesterov = o->cfg.nesterov;
    float *buf = o->n_state ? o->state[0] : NULL;
    #pragma omp parallel
    for (int s = 0; s < o->n_segments; s++) {
        const segment_t *seg = &o->segments[s];
        const float wd = (float)seg->weight_decay, neg_lr = (float)-(lr_base * seg->lr_mult);
        size_t start, end;
        clip_segment(seg, lo, hi, &start, &end);
        #pragma omp for schedule(static) nowait
        for (size_t i = start; i < end; i++) {
            float d = g[i];
            if (wd != 0.0f) d = d + wd * p[i];
            if (buf) {
                buf[i] = buf[i] * mu + d; /* first step: buf = 0·μ + d = d, as torch's clone */
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] = p[i] + neg_lr * d;
        }
    }
}

/* One Adam/AdamW update of n elements (restrict: the arrays never overlap, so the loop vectorises;
 * the arithmetic is element by element as torch's, in the same order, except that sqrt(v) is
 * multiplied by inv_bc2 = 1 / sqrt(1 − β2^t) (computed in double) where torch divides by its
 * float: one division an element fewer — the loop is bound by the divider (0.31 → 0.24 ms on
 * the default MLP's 567k floats, one thread) — for a difference in the last bit of the
 * denominator, within the tests' 1e-6 relative tolerance against torch). */
ST_CLONES static void adam_span(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                                long n, int decoupled, float wd, float shrink, float b1f, float b2f, float one_m_b1,
                                float one_m_b2, float inv_bc2, float epsf, float neg_step) {
    if (decoupled) {
        for (long i = 0; i < n; i++) {
            float pi = p[i] * shrink, gi = g[i];
            float mi = m[i] * b1f + one_m_b1 * gi, vi = v[i] * b2f + one_m_b2 * gi * gi;
            m[i] = mi, v[i] = vi;
            p[i] = pi + neg_step * mi / (sqrtf(vi) * inv_bc2 + epsf);
        }
    } else {
        for (long i = 0; i < n; i++) {
            float pi = p[i], gi = wd != 0.0f ? g[i] + wd * pi : g[i];
            float mi = m[i] * b1f + one_m_b1 * gi, vi = v[i] * b2f + one_m_b2 * gi * gi;
            m[i] = mi, v[i] = vi;
            p[i] = pi + neg_step * mi / (sqrtf(vi) * inv_bc2 + epsf);
        }
    }
}

static void adam_step(st_optim_t *o, float *p, const float *g, double lr_base, size_t lo, size_t hi) {
    const int decoupled = o->cfg.type == ST_OPTIM_ADAMW;
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    const double bc1 = 1.0 - pow(b1, (double)o->step), bc2_sqrt = sqrt(1.0 - pow(b2, (double)o->step));
    const float b1f = (float)b1, b2f = (float)b2, one_m_b1 = (float)(1.0 - b1), one_m_b2 = (float)(1.0 - b2);
    const float inv_bc2 = (float)(1.0 / bc2_sqrt), epsf = (float)o->cfg.eps;
    float *m = o->state[0], *v = o->state[1];
    #pragma omp parallel
    for (int s = 0; s < o->n_segments; s++) {
        const segment_t *seg = &o->segments[s];
        const double lr = lr_base * seg->lr_mult;
        const float wd = (float)seg->weight_decay, shrink = (float)(1.0 - lr * seg->weight_decay);
        const float neg_step = (float)-(lr / bc1);
        size_t a, b;
        clip_segment(seg, lo, hi, &a, &b);
        long i0, i1, off = (long)a;
        st_thread_span((long)(b - a), 16, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
        if (i1 > i0)
            adam_span(p + off + i0, g + off + i0, m + off + i0, v + off + i0, i1 - i0, decoupled, wd, shrink, b1f, b2f,
                      one_m_b1, one_m_b2, inv_bc2, epsf, neg_step);
    }
}

void st_optim_step_range(st_optim_t *o, float *params, const float *grads, double lr_base, size_t lo, size_t hi) {
    o->step++;
    if (hi > o->n_floats) hi = o->n_floats;
    if (o->cfg.type == ST_OPTIM_SGD) sgd_step(o, params, grads, lr_base, lo, hi);
    else adam_step(o, params, grads, lr_base, lo, hi);
}

void st_optim_step(st_optim_t *o, float *params, const float *grads, double lr_base) {
    st_optim_step_range(o, params, grads, lr_base, 0, o->n_floats);
}

/* ---- state ---- */

int st_optim_n_state(const st_optim_t *o) { return o->n_state; }

const char *st_optim_state_name(const st_optim_t *o, int k) {
    if (k < 0 || k >= o->n_state) return NULL;
    if (o->cfg.type == ST_OPTIM_SGD) return "momentum_buffer";
    return k == 0 ? "exp_avg" : "exp_avg_sq";
}

float *st_optim_state(st_optim_t *o, int k) { return k >= 0 && k < o->n_state ? o->state[k] : NULL; }

float *st_optim_swap_state(st_optim_t *o, int k, float *state) {
    float *old = o->state[k];
    o->state[k] = state;
    return old;
}

size_t st_optim_n_floats(const st_optim_t *o) { return o->n_floats; }

long st_optim_step_count(const st_optim_t *o) { return o->step; }

st_status_t st_optim_load_state(st_optim_t *o, long step, const float *const *arrays, int n_arrays,
                                size_t n_floats, st_error_t *err) {
    if (n_arrays != o->n_state)
        return st_fail(err, ST_ERR_DATA, "optimizer state: expected %d arrays, got %d", o->n_state, n_arrays);
    if (n_floats != o->n_floats)
        return st_fail(err, ST_ERR_DATA, "optimizer state: expected arrays of %zu floats, got %zu", o->n_floats, n_floats);
    if (step < 0) return st_fail(err, ST_ERR_DATA, "optimizer state: negative step count %ld", step);
    for (int k = 0; k < n_arrays; k++) memcpy(o->state[k], arrays[k], sizeof(float) * n_floats);
    o->step = step;
    return ST_OK;
}
