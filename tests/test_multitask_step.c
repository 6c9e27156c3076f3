/* test_multitask_step.c — multi-task training steps against PyTorch (tests/fixtures/
 * gen_multitask.py): a shared trunk with three heads (cross_entropy with class weights, label
 * smoothing and missing labels; bce_with_logits with pos_weight; mse with NaN targets), run
 * through st_train_step_heads for two SGD steps and compared on the combined loss, every
 * parameter gradient and the updated parameters; the same batch with other head weights (each
 * head's own parameters' gradients scale by the ratio of its weights); mae and huber heads;
 * finite-difference checks of the mae and huber gradients; and a head too narrow for its
 * target, refused by st_model_check_losses naming the head's layer. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_step.h"

#define FX "multitask.h5"
enum { B = 24, D = 12 };

/* One fixture block: a model with named heads and one loss per head. */
typedef struct {
    const char *block;      /* "mt" or "reg": the fixture group */
    const char *model_json;
    const char *optim_json;
    int n_heads;
    const char *head[3];    /* head names, in the order of the losses */
    int width[3];           /* each head's target width (classes for class ids) */
} block_t;

static const char *TRUNK = "\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"relu\"}]";
#define HEAD(name) "{\"name\":\"" name "\",\"layers\":[{\"type\":\"dense\",\"units\":\"classes\"}]}"

static const block_t MT = {
    "mt", NULL, "{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9,\"weight_decay\":0.01}", 3, {"cls", "tags", "value"},
    {5, 4, 2}};
static const block_t REG = {"reg", NULL, "{\"type\":\"sgd\",\"lr\":0.1}", 2, {"abs", "rob"}, {3, 2}};

static const char *MT_HEADS = "\"heads\":[" HEAD("cls") "," HEAD("tags") "," HEAD("value") "]";
static const char *REG_HEADS = "\"heads\":[" HEAD("abs") "," HEAD("rob") "]";

static const char *mt_loss_json(double w_cls, double w_tags, double w_value, char *buf, size_t size) {
    snprintf(buf, size,
             "[{\"head\":\"cls\",\"type\":\"cross_entropy\",\"class_weights\":[1,2,0.5,1.5,0.8],"
             "\"label_smoothing\":0.1,\"head_weight\":%g},"
             "{\"head\":\"tags\",\"type\":\"bce_with_logits\",\"pos_weight\":[1,3,0.5,2],\"head_weight\":%g},"
             "{\"head\":\"value\",\"type\":\"mse\",\"head_weight\":%g}]",
             w_cls, w_tags, w_value);
    return buf;
}

static const char *REG_LOSS = "[{\"head\":\"abs\",\"type\":\"mae\",\"head_weight\":0.7},"
                              "{\"head\":\"rob\",\"type\":\"huber\",\"delta\":0.5,\"head_weight\":1.0}]";

typedef struct {
    const block_t *b;
    st_model_t *model;
    st_loss_heads_t losses;
    st_optim_t *optim;
    float *x;
    int32_t *labels[3];
    float *targets[3];
    st_batch_targets_t tg;
    st_run_ctx_t ctx;
} run_t;

static cJSON *parse(const char *json) {
    cJSON *c = cJSON_Parse(json);
    if (!c) fail_msg("bad JSON in test: %s", json);
    return c;
}

static int width_of(const char *head, void *ctx) {
    const block_t *b = ctx;
    for (int h = 0; h < b->n_heads; h++)
        if (strcmp(b->head[h], head) == 0) return b->width[h];
    return -1;
}

static char *fx_path(char *buf, size_t size, const block_t *b, const char *what) {
    snprintf(buf, size, "%s/%s", b->block, what);
    return buf;
}

/* Builds the block's model ("units": "classes" in each head resolves to its target's width),
 * its losses from loss_json, the optimizer; loads params0, x and every head's labels or targets. */
static void run_setup(run_t *t, const block_t *b, const char *heads_json, const char *loss_json) {
    memset(t, 0, sizeof *t);
    t->b = b;
    char json[1024], path[96];
    snprintf(json, sizeof json, "{%s,%s}", TRUNK, heads_json);
    st_error_t err = {0};
    cJSON *m = parse(json), *l = parse(loss_json), *o = parse(b->optim_json);
    if (st_model_build_heads(m, "model", st_shape1(D), 0, width_of, (void *)b, &t->model, &err) != ST_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(st_model_head_count(t->model), b->n_heads);
    assert_int_equal(st_model_reserve(t->model, B, 0, &err), ST_OK);
    if (st_loss_heads_parse(&t->losses, l, "loss", width_of, (void *)b, &err) != ST_OK) fail_msg("%s", err.msg);
    if (st_model_check_losses(t->model, &t->losses, &err) != ST_OK) fail_msg("%s", err.msg);
    st_optim_config_t oc;
    if (st_optim_parse(o, "optimizer", &oc, &err) != ST_OK) fail_msg("%s", err.msg);
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(t->model, &n_tensors);
    if (st_optim_create(&oc, tensors, n_tensors, st_model_param_floats(t->model), &t->optim, &err) != ST_OK)
        fail_msg("%s", err.msg);
    cJSON_Delete(m), cJSON_Delete(l), cJSON_Delete(o);

    size_t n;
    float *p0 = tu_read_f32(FX, fx_path(path, sizeof path, b, "params0"), &n);
    assert_int_equal(n, st_model_param_floats(t->model));
    memcpy(st_model_params(t->model), p0, n * sizeof(float));
    free(p0);
    t->x = tu_read_f32(FX, fx_path(path, sizeof path, b, "x"), &n);
    assert_int_equal(n, (size_t)B * D);
    for (int i = 0; i < t->losses.n_heads; i++) {
        const st_loss_config_t *cfg = &t->losses.heads[i];
        char what[64];
        if (st_loss_uses_labels(cfg)) {
            snprintf(what, sizeof what, "labels/%s", cfg->head);
            t->tg.labels[i] = t->labels[i] = tu_read_i32(FX, fx_path(path, sizeof path, b, what), &n);
            assert_int_equal(n, B);
        } else {
            snprintf(what, sizeof what, "targets/%s", cfg->head);
            t->tg.targets[i] = t->targets[i] = tu_read_f32(FX, fx_path(path, sizeof path, b, what), &n);
            assert_int_equal(n, (size_t)B * (size_t)cfg->n_classes);
        }
    }
    t->ctx = (st_run_ctx_t){.training = 1, .seed = 1, .step = 0};
}

static void run_teardown(run_t *t) {
    st_model_free(t->model);
    st_loss_heads_free(&t->losses);
    st_optim_free(t->optim);
    free(t->x);
    for (int i = 0; i < 3; i++) free(t->labels[i]), free(t->targets[i]);
}

static double *read_f64(const block_t *b, const char *what, size_t *n) {
    char path[96];
    return tu_read_f64(FX, fx_path(path, sizeof path, b, what), n);
}

static float *read_f32(const block_t *b, const char *what, size_t *n) {
    char path[96];
    return tu_read_f32(FX, fx_path(path, sizeof path, b, what), n);
}

/* One st_train_step_heads at step `step`, compared with "<block>/step<step>/{loss,grads,params}". */
static void step_and_compare(run_t *t, int step) {
    st_step_parts_t parts = {t->model, &t->losses, t->optim, 0};
    st_step_result_t res;
    st_error_t err = {0};
    t->ctx.step = (uint32_t)step;
    if (st_train_step_heads(&parts, &t->ctx, t->x, &t->tg, B, 0.1, &res, &err) != ST_OK) fail_msg("%s", err.msg);
    char what[64];
    size_t n;
    snprintf(what, sizeof what, "step%d/loss", step);
    double *loss = read_f64(t->b, what, &n);
    tu_assert_close_f64("combined loss", &res.loss, loss, 1, 0, 1e-5);
    snprintf(what, sizeof what, "step%d/grads", step);
    float *grads = read_f32(t->b, what, &n);
    assert_int_equal(n, st_model_param_floats(t->model));
    /* measured: within 3e-8 of PyTorch */
    tu_assert_close("parameter gradients", st_model_grads(t->model), grads, n, 1e-6, 1e-5);
    snprintf(what, sizeof what, "step%d/params", step);
    float *params = read_f32(t->b, what, &n);
    tu_assert_close("parameters after the step", st_model_params(t->model), params, n, 1e-6, 1e-5);
    free(loss), free(grads), free(params);
}

/* Each head's mean loss (sum / weight of one pass over the batch at the current parameters),
 * against "<block>/step0/head_means"; the gradients of that pass stay in the arena. */
static void pass_and_compare_means(run_t *t) {
    st_step_parts_t parts = {t->model, &t->losses, t->optim, 0};
    float scale[ST_LOSS_MAX_HEADS];
    for (int i = 0; i < t->losses.n_heads; i++)
        scale[i] = st_loss_grad_scale(&t->losses.heads[i],
                                      st_loss_weight_total_of(&t->losses.heads[i], t->tg.labels[i], t->tg.targets[i], B));
    st_micro_sums_t sums;
    st_error_t err = {0};
    st_model_zero_grads(t->model);
    if (st_train_pass(&parts, &t->ctx, t->x, &t->tg, B, 1, scale, &sums, &err) != ST_OK) fail_msg("%s", err.msg);
    double means[ST_LOSS_MAX_HEADS];
    st_loss_combine(means, t->losses.heads, sums.head, t->losses.n_heads);
    size_t n;
    double *ref = read_f64(t->b, "step0/head_means", &n);
    assert_int_equal(n, (size_t)t->losses.n_heads);
    tu_assert_close_f64("each head's mean loss", means, ref, n, 0, 1e-5);
    free(ref);
}

static void test_three_heads_two_sgd_steps(void **s) {
    (void)s;
    char loss[512];
    run_t t;
    run_setup(&t, &MT, MT_HEADS, mt_loss_json(1.0, 0.3, 0.5, loss, sizeof loss));
    pass_and_compare_means(&t);
    step_and_compare(&t, 0);
    step_and_compare(&t, 1); /* momentum: the second step moves by 0.9·the first's + the new gradient */
    run_teardown(&t);
}

/* Floats [begin, end) of the parameter arena held by tensors whose name starts with `prefix`. */
static void tensor_span(const st_model_t *m, const char *prefix, size_t *begin, size_t *end) {
    int n_tensors;
    const st_tensor_view_t *tv = st_model_tensors(m, &n_tensors);
    *begin = (size_t)-1, *end = 0;
    for (int i = 0; i < n_tensors; i++)
        if (strncmp(tv[i].name, prefix, strlen(prefix)) == 0) {
            if (tv[i].offset < *begin) *begin = tv[i].offset;
            if (tv[i].offset + tv[i].n > *end) *end = tv[i].offset + tv[i].n;
        }
    if (*end == 0) fail_msg("no parameter named %s*", prefix);
}

/* The gradient of one pass at params0 with head weights w into g [n_params] (each head's mean
 * loss checked against PyTorch on the way). */
static void grads_with(const double w[3], float *g) {
    char loss[512];
    run_t t;
    run_setup(&t, &MT, MT_HEADS, mt_loss_json(w[0], w[1], w[2], loss, sizeof loss));
    pass_and_compare_means(&t);
    memcpy(g, st_model_grads(t.model), st_model_param_floats(t.model) * sizeof(float));
    run_teardown(&t);
}

/* With head weights (2.0, 0.6, 0.25) instead of (1.0, 0.3, 0.5): PyTorch's gradients; each head's
 * own parameters' gradients are those of the first weights times 2, 2 and 0.5; and the whole
 * gradient, the trunk's included, is Σ_h w_h·G_h where G_h is the gradient with weight 1 on head
 * h alone (head_weight 0 on the others). */
static void test_head_weights_scale_gradients(void **s) {
    (void)s;
    size_t n;
    float *ref = read_f32(&MT, "reweighted/grads", &n);
    float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float)), *G[3], *sum = malloc(n * sizeof(float));
    const double w1[3] = {1.0, 0.3, 0.5}, w2[3] = {2.0, 0.6, 0.25};
    grads_with(w1, g1);
    grads_with(w2, g2);
    tu_assert_close("gradients with head weights 2, 0.6, 0.25", g2, ref, n, 1e-6, 1e-5);

    run_t t; /* for the parameter names */
    char loss[512];
    run_setup(&t, &MT, MT_HEADS, mt_loss_json(1, 1, 1, loss, sizeof loss));
    const double ratio[3] = {2.0, 2.0, 0.5};
    for (int h = 0; h < 3; h++) {
        char prefix[32];
        size_t b0, b1;
        snprintf(prefix, sizeof prefix, "heads.%s.", MT.head[h]);
        tensor_span(t.model, prefix, &b0, &b1);
        float *scaled = malloc((b1 - b0) * sizeof(float));
        for (size_t i = b0; i < b1; i++) scaled[i - b0] = (float)(ratio[h] * g1[i]);
        tu_assert_close(prefix, g2 + b0, scaled, b1 - b0, 1e-7, 1e-6);
        free(scaled);
    }
    run_teardown(&t);

    for (int h = 0; h < 3; h++) {
        double one[3] = {0, 0, 0};
        one[h] = 1;
        G[h] = malloc(n * sizeof(float));
        grads_with(one, G[h]);
    }
    for (size_t i = 0; i < n; i++) sum[i] = (float)(w2[0] * G[0][i] + w2[1] * G[1][i] + w2[2] * G[2][i]);
    tu_assert_close("gradient = sum over heads of head_weight x that head's gradient", g2, sum, n, 1e-7, 1e-5);
    free(g1), free(g2), free(ref), free(sum), free(G[0]), free(G[1]), free(G[2]);
}

static void test_mae_and_huber_heads(void **s) {
    (void)s;
    run_t t;
    run_setup(&t, &REG, REG_HEADS, REG_LOSS);
    pass_and_compare_means(&t);
    step_and_compare(&t, 0);
    run_teardown(&t);
}

/* ---- finite differences of the mae and huber losses ---- */

enum { FD_B = 6, FD_K = 3 };

typedef struct {
    float *pred, *t;
    int huber;
    float delta;
} fd_ctx_t;

static double fd_loss(void *vctx) {
    fd_ctx_t *c = vctx;
    st_loss_value_t v = c->huber ? st_huber(NULL, c->pred, c->t, c->delta, 1.0f, FD_B, FD_K)
                                 : st_mae(NULL, c->pred, c->t, 1.0f, FD_B, FD_K);
    return v.sum;
}

/* Residuals kept at least 0.05 away from 0 (mae's kink) and from ±delta (huber's switch), so a
 * step of 1e-3 never crosses them. */
static void fd_data(float *pred, float *t, float delta) {
    tu_fill_normal(pred, FD_B * FD_K, 7);
    tu_fill_normal(t, FD_B * FD_K, 8);
    for (int i = 0; i < FD_B * FD_K; i++) {
        float r = pred[i] - t[i];
        if (fabsf(r) < 0.05f) pred[i] += 0.1f;
        r = pred[i] - t[i];
        if (fabsf(fabsf(r) - delta) < 0.05f) pred[i] += r > 0 ? 0.1f : -0.1f;
    }
    t[4] = NAN; /* masked: no loss and a zero gradient */
}

static void check_fd(int huber) {
    float pred[FD_B * FD_K], t[FD_B * FD_K], d[FD_B * FD_K];
    const float delta = 0.6f;
    fd_data(pred, t, delta);
    fd_ctx_t c = {pred, t, huber, delta};
    st_loss_value_t v = huber ? st_huber(d, pred, t, delta, 1.0f, FD_B, FD_K) : st_mae(d, pred, t, 1.0f, FD_B, FD_K);
    assert_true(v.weight == FD_B * FD_K - 1);
    assert_true(d[4] == 0.0f);
    if (huber) { /* both branches are exercised */
        int below = 0;
        for (int i = 0; i < FD_B * FD_K; i++) below += i != 4 && fabsf(pred[i] - t[i]) <= delta;
        assert_true(below > 0 && below < FD_B * FD_K - 1);
    }
    tu_check_gradient(huber ? "huber" : "mae", fd_loss, &c, pred, FD_B * FD_K, d, 1e-3, 1e-4, 1e-3, 0);
}

static void test_mae_and_huber_finite_differences(void **s) {
    (void)s;
    check_fd(0);
    check_fd(1);
}

/* ---- a head too narrow for its target ---- */

static void test_head_narrower_than_its_target_is_refused(void **s) {
    (void)s;
    char json[1024], loss[512];
    snprintf(json, sizeof json,
             "{%s,\"heads\":[" HEAD("cls") ",{\"name\":\"tags\",\"layers\":[{\"type\":\"dense\",\"units\":8},"
             "{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":3}]}," HEAD("value") "]}",
             TRUNK);
    st_error_t err = {0};
    st_model_t *m;
    st_loss_heads_t losses;
    cJSON *mj = parse(json), *lj = parse(mt_loss_json(1.0, 0.3, 0.5, loss, sizeof loss));
    if (st_model_build_heads(mj, "model", st_shape1(D), 0, width_of, (void *)&MT, &m, &err) != ST_OK)
        fail_msg("%s", err.msg);
    if (st_loss_heads_parse(&losses, lj, "loss", width_of, (void *)&MT, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(st_model_check_losses(m, &losses, &err), ST_ERR_SHAPE);
    print_message("# %s\n", err.msg);
    assert_non_null(strstr(err.msg, "model.heads[1].layers[2]"));
    assert_non_null(strstr(err.msg, "gives [3] per sample"));
    assert_non_null(strstr(err.msg, "needs [4]"));
    st_loss_heads_free(&losses);
    st_model_free(m);
    cJSON_Delete(mj), cJSON_Delete(lj);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_heads_two_sgd_steps),
        cmocka_unit_test(test_head_weights_scale_gradients),
        cmocka_unit_test(test_mae_and_huber_heads),
        cmocka_unit_test(test_mae_and_huber_finite_differences),
        cmocka_unit_test(test_head_narrower_than_its_target_is_refused),
    };
    return cmocka_run_group_tests_name("multitask_step", tests, NULL, NULL);
}
