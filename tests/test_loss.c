/* test_loss.c — losses: PyTorch reference values and gradients, finite differences, the
 * global-batch normalisation across micro-batches, multi-head combination, JSON parsing. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"

#define FIX "loss.h5"

/* ---- PyTorch fixtures ---- */

typedef struct {
    float *logits, *targets, *class_weights, *alpha, *pos_weight, *dlogits_ref;
    int32_t *labels;
    double mean, sum, weight;
    int B, K;
} fx_case_t;

static float *opt_f32(const char *cas, const char *what) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, what);
    return tu_fixture_has(FIX, path) ? tu_read_f32(FIX, path, NULL) : NULL;
}

static double scalar_f64(const char *cas, const char *what) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, what);
    size_t n;
    double *v = tu_read_f64(FIX, path, &n), x = v[0];
    assert_int_equal(n, 1);
    free(v);
    return x;
}

/* K = 0: class logits with labels (K from their count); else elementwise with targets [B, K]. */
static fx_case_t load_case(const char *cas, int K) {
    int with_labels = K == 0;
    fx_case_t c = {0};
    char path[128];
    size_t n_logits, n_ref;
    snprintf(path, sizeof path, "%s/logits", cas);
    c.logits = tu_read_f32(FIX, path, &n_logits);
    snprintf(path, sizeof path, "%s/dlogits", cas);
    c.dlogits_ref = tu_read_f32(FIX, path, &n_ref);
    assert_int_equal(n_ref, n_logits);
    if (with_labels) {
        size_t B;
        snprintf(path, sizeof path, "%s/labels", cas);
        c.labels = tu_read_i32(FIX, path, &B);
        c.B = (int)B;
    } else {
        c.targets = opt_f32(cas, "targets");
        assert_non_null(c.targets);
        c.B = (int)(n_logits / (size_t)K);
    }
    c.class_weights = opt_f32(cas, "class_weights");
    c.alpha = opt_f32(cas, "alpha");
    c.pos_weight = opt_f32(cas, "pos_weight");
    c.mean = scalar_f64(cas, "mean");
    c.sum = scalar_f64(cas, "sum");
    c.weight = scalar_f64(cas, "weight");
    c.K = with_labels ? (int)(n_logits / (size_t)c.B) : K;
    return c;
}

static void free_case(fx_case_t *c) {
    free(c->logits), free(c->targets), free(c->class_weights), free(c->alpha), free(c->pos_weight);
    free(c->dlogits_ref), free(c->labels);
}

/* Loss values: the C code and the reference both sum in double from the same float32 inputs, so
 * they agree to rounding (rtol 1e-10). Gradients are float32 roundings of double values:
 * atol 1e-8 + rtol 1e-5. The gradient is taken of the mean: grad_scale = 1 / weight. */
static void check_value(const char *cas, st_loss_value_t v, const fx_case_t *c) {
    double got_mean = v.sum / v.weight;
    print_message("# %s: mean %.12g (torch %.12g), weight %g\n", cas, got_mean, c->mean, v.weight);
    tu_assert_close_f64("weight", &v.weight, &c->weight, 1, 0, 1e-12);
    tu_assert_close_f64("sum", &v.sum, &c->sum, 1, 1e-12, 1e-10);
    tu_assert_close_f64("mean", &got_mean, &c->mean, 1, 1e-12, 1e-10);
}

static void xent_vs_torch(const char *cas) {
    fx_case_t c = load_case(cas, 0);
    char path[128];
    snprintf(path, sizeof path, "%s", cas);
    float smoothing = (float)tu_read_attr(FIX, path, "smoothing");
    float *d = calloc((size_t)c.B * c.K, sizeof(float));
    st_loss_value_t v = st_softmax_xent(d, c.logits, c.labels, c.class_weights, smoothing,
                                        (float)(1.0 / c.weight), c.B, c.K);
    check_value(cas, v, &c);
    tu_assert_close("dlogits", d, c.dlogits_ref, (size_t)c.B * c.K, 1e-8, 1e-5);
    /* no gradient requested: same value */
    st_loss_value_t v2 = st_softmax_xent(NULL, c.logits, c.labels, c.class_weights, smoothing, 1.0f, c.B, c.K);
    assert_true(v2.sum == v.sum && v2.weight == v.weight);
    free(d);
    free_case(&c);
}

static void test_xent_weights_and_smoothing_vs_torch(void **s) {
    (void)s;
    xent_vs_torch("xent_weights_smoothing");
}
static void test_xent_smoothing_vs_torch(void **s) {
    (void)s;
    xent_vs_torch("xent_smoothing");
}
static void test_xent_weights_vs_torch(void **s) {
    (void)s;
    xent_vs_torch("xent_weights");
}
static void test_xent_plain_vs_torch(void **s) {
    (void)s;
    xent_vs_torch("xent_plain");
}
/* logits of magnitude ~1e3: exp() would overflow without the max subtraction */
static void test_xent_large_logits_vs_torch(void **s) {
    (void)s;
    xent_vs_torch("xent_large_logits");
}

static void focal_vs_torch(const char *cas) {
    fx_case_t c = load_case(cas, 0);
    float gamma = (float)tu_read_attr(FIX, cas, "gamma");
    float alpha_all = (float)tu_read_attr(FIX, cas, "alpha_all");
    assert_true(c.alpha != NULL || alpha_all >= 0);
    float *d = calloc((size_t)c.B * c.K, sizeof(float));
    st_loss_value_t v = st_focal(d, c.logits, c.labels, c.alpha, alpha_all, c.class_weights, gamma,
                                 (float)(1.0 / c.weight), c.B, c.K);
    check_value(cas, v, &c);
    tu_assert_close("dlogits", d, c.dlogits_ref, (size_t)c.B * c.K, 1e-8, 1e-5);
    free(d);
    free_case(&c);
}

static void test_focal_scalar_alpha_vs_torch(void **s) {
    (void)s;
    focal_vs_torch("focal_scalar");
}
static void test_focal_per_class_alpha_and_weights_vs_torch(void **s) {
    (void)s;
    focal_vs_torch("focal_per_class");
}
static void test_focal_gamma_half_vs_torch(void **s) {
    (void)s;
    focal_vs_torch("focal_gamma_half");
}

static void elementwise_vs_torch(const char *cas, int is_bce, int K) {
    fx_case_t c = load_case(cas, K);
    float *d = calloc((size_t)c.B * c.K, sizeof(float));
    st_loss_value_t v = is_bce ? st_bce_with_logits(d, c.logits, c.targets, c.pos_weight, (float)(1.0 / c.weight), c.B, K)
                               : st_mse(d, c.logits, c.targets, (float)(1.0 / c.weight), c.B, K);
    check_value(cas, v, &c);
    tu_assert_close("dlogits", d, c.dlogits_ref, (size_t)c.B * c.K, 1e-8, 1e-5);
    free(d);
    free_case(&c);
}

static void test_bce_vs_torch(void **s) {
    (void)s;
    elementwise_vs_torch("bce", 1, 4);
}
static void test_bce_pos_weight_vs_torch(void **s) {
    (void)s;
    elementwise_vs_torch("bce_pos_weight", 1, 4);
}
static void test_mse_vs_torch(void **s) {
    (void)s;
    elementwise_vs_torch("mse", 0, 3);
}

/* ---- finite differences of the sum (grad_scale = 1) ---- */

typedef struct {
    st_loss_config_t cfg;
    float *logits, *targets;
    int32_t *labels;
    int B;
} fd_ctx_t;

static double fd_sum(void *vctx) {
    fd_ctx_t *c = vctx;
    st_loss_value_t v;
    st_error_t err = {0};
    assert_int_equal(st_loss_eval(&v, NULL, &c->cfg, c->logits, c->labels, c->targets, 1.0f, c->B, &err), ST_OK);
    return v.sum;
}

static void gradcheck_json(const char *json, int B, int K, uint64_t seed) {
    fd_ctx_t c = {0};
    st_error_t err = {0};
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    assert_int_equal(st_loss_parse(obj, "loss", K, &c.cfg, &err), ST_OK);
    cJSON_Delete(obj);
    size_t n = (size_t)B * K;
    c.B = B;
    c.logits = malloc(n * sizeof(float));
    c.targets = malloc(n * sizeof(float));
    c.labels = malloc((size_t)B * sizeof(int32_t));
    tu_fill_normal(c.logits, n, seed);
    for (size_t i = 0; i < n; i++) c.logits[i] *= 2.0f;
    tu_fill_uniform(c.targets, n, 0.0f, 1.0f, seed + 1);
    for (int i = 0; i < B; i++) c.labels[i] = (int32_t)((i * 7 + 3) % K);
    float *d = malloc(n * sizeof(float));
    st_loss_value_t v;
    assert_int_equal(st_loss_eval(&v, d, &c.cfg, c.logits, c.labels, c.targets, 1.0f, B, &err), ST_OK);
    assert_true(isfinite(v.sum) && v.weight > 0);
    tu_check_gradient(json, fd_sum, &c, c.logits, n, d, 1e-2, 1e-4, 2e-3, 0);
    free(d), free(c.logits), free(c.targets), free(c.labels);
    st_loss_config_free(&c.cfg);
}

static void test_finite_differences(void **s) {
    (void)s;
    gradcheck_json("{\"type\":\"cross_entropy\"}", 4, 5, 1);
    gradcheck_json("{\"type\":\"cross_entropy\",\"label_smoothing\":0.25,\"class_weights\":[0.1,3,1,7,0.5]}", 6, 5, 2);
    gradcheck_json("{\"type\":\"focal\"}", 5, 4, 3);
    gradcheck_json("{\"type\":\"focal\",\"gamma\":0.5,\"alpha\":[0.2,1,3],\"class_weights\":[2,0.5,1]}", 6, 3, 4);
    gradcheck_json("{\"type\":\"focal\",\"gamma\":0}", 4, 4, 5);
    gradcheck_json("{\"type\":\"bce_with_logits\"}", 4, 3, 6);
    gradcheck_json("{\"type\":\"bce_with_logits\",\"pos_weight\":[0.5,2,9]}", 4, 3, 7);
    gradcheck_json("{\"type\":\"mse\"}", 4, 3, 8);
}

/* ---- global-batch normalisation ---- */

/* Two half-batches run with grad_scale = 1 / (weight total of the whole batch): their sums and
 * weights add up to the full batch's, sum/weight equals the full-batch mean, and the two halves'
 * gradients are the full batch's gradient. With strongly different class weights the mean of the
 * two half-batch means is NOT the full mean — why normalisation must use the global total. */
static void test_half_batches_add_up_to_the_full_batch(void **s) {
    (void)s;
    enum { B = 10, K = 4, H = B / 2 };
    float z[B * K], d_full[B * K], d_half[B * K];
    int32_t y[B] = {3, 0, 0, 1, 3, 2, 2, 2, 1, 2};
    const float cw[K] = {0.1f, 4.0f, 1.0f, 9.0f};
    tu_fill_normal(z, B * K, 21);
    st_loss_config_t cfg = {.type = ST_LOSS_CROSS_ENTROPY, .n_classes = K, .head_weight = 1,
                            .class_weights = (float *)cw, .class_weights_mode = ST_CLASS_WEIGHTS_LIST,
                            .label_smoothing = 0.1f};
    double W = st_loss_weight_total(&cfg, y, H) + st_loss_weight_total(&cfg, y + H, B - H);
    double W_expect = 0;
    for (int i = 0; i < B; i++) W_expect += cw[y[i]];
    assert_float_equal(W, W_expect, 1e-12);
    float scale = st_loss_grad_scale(&cfg, W);
    st_error_t err = {0};
    st_loss_value_t full, h1, h2;
    assert_int_equal(st_loss_eval(&full, d_full, &cfg, z, y, NULL, scale, B, &err), ST_OK);
    assert_int_equal(st_loss_eval(&h1, d_half, &cfg, z, y, NULL, scale, H, &err), ST_OK);
    assert_int_equal(st_loss_eval(&h2, d_half + H * K, &cfg, z + H * K, y + H, NULL, scale, B - H, &err), ST_OK);
    assert_float_equal(full.weight, W, 1e-12);
    assert_float_equal(h1.weight + h2.weight, full.weight, 1e-12);
    double mean_full = full.sum / full.weight, mean_split = (h1.sum + h2.sum) / (h1.weight + h2.weight);
    assert_float_equal(mean_split, mean_full, 1e-12 * fabs(mean_full));
    tu_assert_close("gradient of the global mean", d_half, d_full, B * K, 0, 1e-6);
    /* per-micro-batch means averaged: a different (wrong) number */
    double mean_of_means = 0.5 * (h1.sum / h1.weight + h2.sum / h2.weight);
    assert_true(fabs(mean_of_means - mean_full) > 1e-3 * fabs(mean_full));
    /* the gradient of the global mean, checked against the definition: d(sum)/W */
    float d_sum[B * K];
    st_loss_value_t v = st_softmax_xent(d_sum, z, y, cw, 0.1f, 1.0f, B, K);
    for (int i = 0; i < B * K; i++) d_sum[i] = (float)(d_sum[i] / v.weight);
    tu_assert_close("d(sum)/W", d_full, d_sum, B * K, 1e-9, 1e-6);
}

/* The same for the elementwise losses, whose weight total is B·K. */
static void test_half_batches_bce(void **s) {
    (void)s;
    enum { B = 6, K = 3, H = 2 };
    float z[B * K], t[B * K], d_full[B * K], d_half[B * K];
    tu_fill_normal(z, B * K, 31);
    tu_fill_uniform(t, B * K, 0, 1, 32);
    const float pw[K] = {1, 2, 5};
    double W = B * K;
    st_loss_value_t full = st_bce_with_logits(d_full, z, t, pw, (float)(1 / W), B, K);
    st_loss_value_t h1 = st_bce_with_logits(d_half, z, t, pw, (float)(1 / W), H, K);
    st_loss_value_t h2 = st_bce_with_logits(d_half + H * K, z + H * K, t + H * K, pw, (float)(1 / W), B - H, K);
    assert_float_equal(h1.weight, H * K, 0);
    assert_float_equal(full.weight, W, 0);
    assert_float_equal((h1.sum + h2.sum) / W, full.sum / W, 1e-12);
    tu_assert_close("bce gradient", d_half, d_full, B * K, 0, 1e-6);
}

/* ---- several heads ---- */

static int two_outputs(const char *head, void *ctx) {
    (void)ctx;
    if (strcmp(head, "kind") == 0) return 3;
    if (strcmp(head, "level") == 0) return 2;
    return -1;
}

static void test_heads_combine_with_per_head_global_totals(void **s) {
    (void)s;
    cJSON *json = cJSON_Parse("[{\"type\":\"cross_entropy\",\"head\":\"kind\",\"class_weights\":[1,2,5]},"
                              " {\"type\":\"mse\",\"head\":\"level\",\"head_weight\":0.5}]");
    st_loss_heads_t heads;
    st_error_t err = {0};
    assert_int_equal(st_loss_heads_parse(&heads, json, "loss", two_outputs, NULL, &err), ST_OK);
    cJSON_Delete(json);
    assert_int_equal(heads.n_heads, 2);
    assert_string_equal(heads.heads[0].head, "kind");
    assert_int_equal(heads.heads[0].n_classes, 3);
    assert_int_equal(heads.heads[1].n_classes, 2);
    assert_float_equal(heads.heads[0].head_weight, 1.0, 0);
    assert_float_equal(heads.heads[1].head_weight, 0.5, 0);

    enum { B = 8, R = 2, BR = B / R };  /* two "ranks" of 4 rows */
    float z0[B * 3], z1[B * 2], t1[B * 2];
    int32_t y[B] = {0, 2, 1, 1, 2, 2, 0, 1};
    tu_fill_normal(z0, B * 3, 41);
    tu_fill_normal(z1, B * 2, 42);
    tu_fill_normal(t1, B * 2, 43);
    /* step 1: weight totals per head, summed over ranks (the allreduce) */
    double W[2] = {0, 0};
    for (int r = 0; r < R; r++) {
        W[0] += st_loss_weight_total(&heads.heads[0], y + r * BR, BR);
        W[1] += st_loss_weight_total(&heads.heads[1], NULL, BR);
    }
    assert_float_equal(W[1], B * 2, 0);
    /* step 2: each rank evaluates with the global scales; values are then summed */
    st_loss_value_t glob[2] = {{0, 0}, {0, 0}};
    float d0[B * 3], d1[B * 2];
    for (int r = 0; r < R; r++) {
        st_loss_value_t v0, v1;
        assert_int_equal(st_loss_eval(&v0, d0 + r * BR * 3, &heads.heads[0], z0 + r * BR * 3, y + r * BR, NULL,
                                      st_loss_grad_scale(&heads.heads[0], W[0]), BR, &err), ST_OK);
        assert_int_equal(st_loss_eval(&v1, d1 + r * BR * 2, &heads.heads[1], z1 + r * BR * 2, NULL, t1 + r * BR * 2,
                                      st_loss_grad_scale(&heads.heads[1], W[1]), BR, &err), ST_OK);
        glob[0].sum += v0.sum, glob[0].weight += v0.weight;
        glob[1].sum += v1.sum, glob[1].weight += v1.weight;
    }
    double means[2];
    double total = st_loss_combine(means, heads.heads, glob, 2);
    /* the same from whole-batch calls of the plain functions */
    st_loss_value_t f0 = st_softmax_xent(NULL, z0, y, heads.heads[0].class_weights, 0, 1, B, 3);
    st_loss_value_t f1 = st_mse(NULL, z1, t1, 1, B, 2);
    assert_float_equal(means[0], f0.sum / f0.weight, 1e-12);
    assert_float_equal(means[1], f1.sum / f1.weight, 1e-12);
    assert_float_equal(total, f0.sum / f0.weight + 0.5 * f1.sum / f1.weight, 1e-12);
    /* the gradients are those of `total` */
    float g0[B * 3], g1[B * 2];
    st_softmax_xent(g0, z0, y, heads.heads[0].class_weights, 0, (float)(1 / f0.weight), B, 3);
    st_mse(g1, z1, t1, (float)(0.5 / f1.weight), B, 2);
    tu_assert_close("head 0 gradient", d0, g0, B * 3, 1e-9, 1e-6);
    tu_assert_close("head 1 gradient", d1, g1, B * 2, 1e-9, 1e-6);
    st_loss_heads_free(&heads);
}

static void test_heads_errors(void **s) {
    (void)s;
    st_loss_heads_t heads;
    st_error_t err = {0};
    cJSON *json = cJSON_Parse("[{\"type\":\"cross_entropy\",\"head\":\"kind\"},{\"type\":\"mse\"}]");
    assert_int_equal(st_loss_heads_parse(&heads, json, "loss", two_outputs, NULL, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss[1].head: required with several losses (the model output it applies to)");
    assert_int_equal(heads.n_heads, 0);
    cJSON_Delete(json);
    json = cJSON_Parse("[{\"type\":\"cross_entropy\",\"head\":\"kind\"},{\"type\":\"mse\",\"head\":\"levle\"}]");
    assert_int_equal(st_loss_heads_parse(&heads, json, "loss", two_outputs, NULL, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss[1].head: the model has no output named \"levle\"");
    cJSON_Delete(json);
    json = cJSON_Parse("[{\"type\":\"cross_entropy\",\"head\":\"kind\"},{\"type\":\"focal\",\"head\":\"kind\"}]");
    assert_int_equal(st_loss_heads_parse(&heads, json, "loss", two_outputs, NULL, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss[1].head: \"kind\" already has a loss (loss[0])");
    cJSON_Delete(json);
    json = cJSON_Parse("[{\"type\":\"cross_entropy\",\"head\":\"kind\",\"class_weights\":[1,2]}]");
    assert_int_equal(st_loss_heads_parse(&heads, json, "loss", two_outputs, NULL, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss[0].class_weights: expected 3 values (one per class), got 2");
    cJSON_Delete(json);
}

/* ---- parsing ---- */

static st_status_t parse(const char *json, int K, st_loss_config_t *cfg, st_error_t *err) {
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    st_status_t rc = st_loss_parse(obj, "loss", K, cfg, err);
    cJSON_Delete(obj);
    return rc;
}

static void test_parse_defaults_and_values(void **s) {
    (void)s;
    st_loss_config_t c;
    st_error_t err = {0};
    assert_int_equal(parse("{\"type\":\"focal\"}", 4, &c, &err), ST_OK);
    assert_int_equal(c.type, ST_LOSS_FOCAL);
    assert_float_equal(c.gamma, 2.0, 0);
    assert_float_equal(c.alpha_all, 1.0, 0);
    assert_null(c.alpha);
    assert_float_equal(c.head_weight, 1.0, 0);
    assert_int_equal(c.class_weights_mode, ST_CLASS_WEIGHTS_NONE);
    st_loss_config_free(&c);

    assert_int_equal(parse("{\"type\":\"focal\",\"alpha\":0.25,\"gamma\":1}", 4, &c, &err), ST_OK);
    assert_float_equal(c.alpha_all, 0.25, 0);
    assert_null(c.alpha);
    st_loss_config_free(&c);

    assert_int_equal(parse("{\"type\":\"focal\",\"alpha\":[1,2,3,4],\"class_weights\":[4,3,2,1]}", 4, &c, &err), ST_OK);
    assert_non_null(c.alpha);
    assert_float_equal(c.alpha[2], 3.0, 0);
    assert_int_equal(c.class_weights_mode, ST_CLASS_WEIGHTS_LIST);
    assert_float_equal(c.class_weights[0], 4.0, 0);
    st_loss_config_free(&c);

    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"label_smoothing\":0.1,\"class_weights\":\"balanced\",\"head_weight\":2}", 3, &c, &err), ST_OK);
    assert_int_equal(c.class_weights_mode, ST_CLASS_WEIGHTS_BALANCED);
    assert_null(c.class_weights);
    assert_float_equal(c.label_smoothing, 0.1f, 0);
    assert_float_equal(c.head_weight, 2.0, 0);
    /* unresolved "balanced" cannot be evaluated */
    float z[3] = {0, 1, 2};
    int32_t y[1] = {1};
    st_loss_value_t v;
    assert_int_equal(st_loss_eval(&v, NULL, &c, z, y, NULL, 1, 1, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.class_weights: \"balanced\" was not resolved from the class counts");
    /* N/(K·count): 12 rows over 3 classes, counts 6, 4, 2 -> 2/3, 1, 2 */
    const int64_t counts[3] = {6, 4, 2};
    assert_int_equal(st_loss_resolve_balanced(&c, counts, &err), ST_OK);
    for (int k = 0; k < 3; k++) assert_float_equal(c.class_weights[k], 12.0 / (3.0 * (double)counts[k]), 1e-7);
    assert_int_equal(st_loss_eval(&v, NULL, &c, z, y, NULL, 1, 1, &err), ST_OK);
    assert_float_equal(v.weight, c.class_weights[1], 0);
    st_loss_config_free(&c);

    assert_int_equal(parse("{\"type\":\"bce_with_logits\",\"pos_weight\":3}", 2, &c, &err), ST_OK);
    assert_non_null(c.pos_weight);
    assert_float_equal(c.pos_weight[0], 3.0, 0);
    assert_float_equal(c.pos_weight[1], 3.0, 0);
    st_loss_config_free(&c);
}

/* "none" is the default said explicitly: every class weighs 1, as when the key is left out. */
static void test_class_weights_none(void **s) {
    (void)s;
    st_loss_config_t c;
    st_error_t err = {0};
    for (int t = 0; t < 2; t++) {
        const char *json = t ? "{\"type\":\"focal\",\"class_weights\":\"none\"}" : "{\"type\":\"cross_entropy\",\"class_weights\":\"none\"}";
        assert_int_equal(parse(json, 3, &c, &err), ST_OK);
        assert_int_equal(c.class_weights_mode, ST_CLASS_WEIGHTS_NONE);
        assert_null(c.class_weights);
        const int64_t counts[3] = {6, 4, 2};
        assert_int_equal(st_loss_resolve_balanced(&c, counts, &err), ST_OK);
        assert_null(c.class_weights);
        int32_t y[2] = {0, 2};
        assert_float_equal(st_loss_weight_total(&c, y, 2), 2.0, 0);
        st_loss_config_free(&c);
    }
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"class_weights\":\"None\"}", 3, &c, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "loss.class_weights: expected \"balanced\", \"none\" or a list"));
}

/* Every loss reads one row [K] per sample: other widths and per-position outputs are refused. */
static void test_check_output(void **s) {
    (void)s;
    st_loss_config_t c;
    st_error_t err = {0};
    assert_int_equal(parse("{\"type\":\"bce_with_logits\"}", 4, &c, &err), ST_OK);
    assert_int_equal(st_loss_check_output(&c, st_shape1(4), "model.layers[2]", &err), ST_OK);
    assert_int_equal(st_loss_check_output(&c, st_shape1(5), "model.layers[2]", &err), ST_ERR_SHAPE);
    assert_string_equal(err.msg, "model.layers[2]: gives [5] per sample, but loss \"bce_with_logits\" needs [4], one output per target");
    assert_int_equal(st_loss_check_output(&c, st_shape2(6, 4), "model.layers[2]", &err), ST_ERR_SHAPE);
    assert_non_null(strstr(err.msg, "model.layers[2]: gives [6, 4] per sample (a row per position), but loss \"bce_with_logits\" needs [4]"));
    st_loss_config_free(&c);
    assert_int_equal(parse("{\"type\":\"cross_entropy\"}", 10, &c, &err), ST_OK);
    assert_int_equal(st_loss_check_output(&c, st_shape1(10), "x", &err), ST_OK);
    assert_int_equal(st_loss_check_output(&c, st_shape1(7), "model.layers[4]", &err), ST_ERR_SHAPE);
    assert_non_null(strstr(err.msg, "model.layers[4]: gives [7] per sample, but loss \"cross_entropy\" needs [10], one logit per class"));
    st_loss_config_free(&c);
}

static void test_parse_errors_name_the_path(void **s) {
    (void)s;
    st_loss_config_t c;
    st_error_t err = {0};
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"class_weights\":[1,2,3]}", 10, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.class_weights: expected 10 values (one per class), got 3");
    assert_null(c.class_weights);
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"class_weights\":\"balance\"}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.class_weights: expected \"balanced\", \"none\" or a list of numbers >= 0, one per class, got \"balance\"");
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"class_weights\":[1,-2,3]}", 3, &c, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "loss.class_weights: expected \"balanced\", \"none\" or a list"));
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"class_weights\":[0,0]}", 2, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.class_weights: at least one weight must be positive");
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"label_smothing\":0.1}", 3, &c, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "loss: unknown key \"label_smothing\" (did you mean \"label_smoothing\"?)"));
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"clas_weights\":[1,1,1]}", 3, &c, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "loss: unknown key \"clas_weights\" (did you mean \"class_weights\"?)"));
    assert_int_equal(parse("{\"type\":\"focal\",\"gamma\":\"two\"}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.gamma: expected a number >= 0, got \"two\"");
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"label_smoothing\":1.5}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.label_smoothing: expected a number in [0, 1], got 1.5");
    assert_int_equal(parse("{\"type\":\"focal\",\"alpha\":[1,2]}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.alpha: expected 3 values (one per class), got 2");
    assert_int_equal(parse("{\"type\":\"focal\",\"alpha\":\"high\"}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.alpha: expected a number >= 0 or a list of numbers >= 0, one per class, got \"high\"");
    assert_int_equal(parse("{\"type\":\"mse\",\"gamma\":2}", 3, &c, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "loss: unknown key \"gamma\"; known keys: head, head_weight"));
    assert_int_equal(parse("{\"type\":\"cross_entropy\",\"class_weights\":[1,2,3]}", 0, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.class_weights: a per-class list needs the class count, which is not known here");
    assert_int_equal(parse("{\"type\":\"crossentropy\"}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.type: unknown loss type \"crossentropy\" (did you mean \"cross_entropy\"?); "
                                 "known types: cross_entropy, focal, bce_with_logits, bce, mse, mae, huber, ctc");
    assert_int_equal(parse("{\"label_smoothing\":0.1}", 3, &c, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "loss.type: required key is missing (a loss type string)");
    assert_int_equal(parse("{\"type\":3}", 3, &c, &err), ST_ERR_CONFIG); /* present, but not a string */
    assert_string_equal(err.msg, "loss.type: expected a loss type string, got 3");
}

static void test_eval_checks_labels(void **s) {
    (void)s;
    st_loss_config_t c;
    st_error_t err = {0};
    assert_int_equal(parse("{\"type\":\"cross_entropy\"}", 3, &c, &err), ST_OK);
    float z[9] = {0};
    int32_t y[3] = {0, 2, 3};
    st_loss_value_t v;
    assert_int_equal(st_loss_eval(&v, NULL, &c, z, y, NULL, 1, 3, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "row 2: label 3 outside [0, 3)");
    /* uniform logits: −log(1/3) per row, from the definition */
    assert_int_equal(st_loss_eval(&v, NULL, &c, z, y, NULL, 1, 2, &err), ST_OK);
    assert_float_equal(v.sum, 2 * log(3.0), 1e-12);
    assert_float_equal(v.weight, 2, 0);
    st_loss_config_free(&c);
}

/* The kind tables the docs generator lists: every kind, with its keys. */
static void test_kind_tables(void **s) {
    (void)s;
    assert_int_equal(st_loss_kind_count(), 8);
    const char *names[] = {"cross_entropy", "focal", "bce_with_logits", "bce", "mse", "mae", "huber", "ctc"};
    for (int i = 0; i < 8; i++) {
        const st_loss_kind_t *k = st_loss_kind_at(i);
        assert_string_equal(k->type, names[i]);
        assert_ptr_equal(st_loss_kind_find(names[i]), k);
        assert_true(st_schema_find(k->keys, k->n_keys, "head_weight") >= 0);
        assert_true(st_schema_find(k->keys, k->n_keys, "target") >= 0);
        for (int j = 0; j < k->n_keys; j++) assert_true(strlen(k->keys[j].help) > 10);
    }
    assert_true(st_schema_find(st_loss_kind_find("cross_entropy")->keys, st_loss_kind_find("cross_entropy")->n_keys, "class_weights") >= 0);
    assert_true(st_schema_find(st_loss_kind_find("focal")->keys, st_loss_kind_find("focal")->n_keys, "alpha") >= 0);
    assert_null(st_loss_kind_find("hinge"));
}

/* Many rows (several blocks of the row reduction, OpenMP on): equals a serial double loop. */
static void test_large_batch_equals_serial_sum(void **s) {
    (void)s;
    enum { B = 3000, K = 7 };
    float *z = malloc(sizeof(float) * B * K);
    int32_t *y = malloc(sizeof(int32_t) * B);
    tu_fill_normal(z, (size_t)B * K, 51);
    for (int i = 0; i < B; i++) y[i] = (i * 13) % K;
    st_loss_value_t v = st_softmax_xent(NULL, z, y, NULL, 0, 1, B, K);
    double serial = 0;
    for (int i = 0; i < B; i++) {
        st_loss_value_t r = st_softmax_xent(NULL, z + (size_t)i * K, y + i, NULL, 0, 1, 1, K);
        serial += r.sum;
    }
    assert_true(v.sum == serial);
    assert_float_equal(v.weight, B, 0);
    free(z), free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xent_weights_and_smoothing_vs_torch),
        cmocka_unit_test(test_xent_smoothing_vs_torch),
        cmocka_unit_test(test_xent_weights_vs_torch),
        cmocka_unit_test(test_xent_plain_vs_torch),
        cmocka_unit_test(test_xent_large_logits_vs_torch),
        cmocka_unit_test(test_focal_scalar_alpha_vs_torch),
        cmocka_unit_test(test_focal_per_class_alpha_and_weights_vs_torch),
        cmocka_unit_test(test_focal_gamma_half_vs_torch),
        cmocka_unit_test(test_bce_vs_torch),
        cmocka_unit_test(test_bce_pos_weight_vs_torch),
        cmocka_unit_test(test_mse_vs_torch),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_half_batches_add_up_to_the_full_batch),
        cmocka_unit_test(test_half_batches_bce),
        cmocka_unit_test(test_heads_combine_with_per_head_global_totals),
        cmocka_unit_test(test_heads_errors),
        cmocka_unit_test(test_parse_defaults_and_values),
        cmocka_unit_test(test_parse_errors_name_the_path),
        cmocka_unit_test(test_class_weights_none),
        cmocka_unit_test(test_check_output),
        cmocka_unit_test(test_eval_checks_labels),
        cmocka_unit_test(test_kind_tables),
        cmocka_unit_test(test_large_batch_equals_serial_sum),
    };
    return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
