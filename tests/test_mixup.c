/* test_mixup.c — mixup and cutmix (core/mixup.h, core/train_step.h, docs/mixup.md): the Beta
 * sampler's mean and variance for several α (and Gamma's mean), the partner order (one cycle
 * through a micro-batch, keyed by occurrence id, not by row position or another shard's key), the
 * share of mixed rows, the mixed inputs (mixup's longer length, cutmix's span), a pass of two
 * micro-batches mixing each within itself, p = 0 giving bitwise the plain pass, one mixed step
 * of a four-head model (cross_entropy with class weights, label smoothing and missing labels;
 * focal; bce_with_logits; mse with NaN targets) against PyTorch (tests/fixtures/gen_mixup.py, the
 * same λ and partners), and finite differences of the mixed loss. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixup.h"
#include "train_step.h"

#define FX "mixup.h5"
enum { B = 24, D = 12, N_HEADS = 4 };

/* ---- the Beta sampler ---- */

static void test_beta_mean_and_variance(void **s) {
    (void)s;
    const double alphas[] = {0.2, 0.4, 1.0, 2.0, 5.0};
    enum { N = 40000 };
    for (int a = 0; a < 5; a++) {
        double alpha = alphas[a], sum = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            st_mix_rng_t r;
            st_mix_rng_init(&r, 42, 3, 7, (uint64_t)i);
            double b = st_beta_draw(alpha, &r);
            assert_true(b >= 0 && b <= 1);
            sum += b, sq += b * b;
        }
        double mean = sum / N, var = sq / N - mean * mean, want_var = 1.0 / (4 * (2 * alpha + 1));
        print_message("# Beta(%g, %g): mean %.4f (0.5), variance %.5f (%.5f)\n", alpha, alpha, mean, var, want_var);
        assert_true(fabs(mean - 0.5) < 4 * sqrt(want_var / N));
        assert_true(fabs(var - want_var) < 0.03 * want_var);
    }
}

static void test_gamma_mean(void **s) {
    (void)s;
    const double shapes[] = {0.3, 1.0, 3.0};
    enum { N = 40000 };
    for (int k = 0; k < 3; k++) {
        double a = shapes[k], sum = 0;
        for (int i = 0; i < N; i++) {
            st_mix_rng_t r;
            st_mix_rng_init(&r, 5, 0, 1, (uint64_t)i);
            sum += exp(st_log_gamma_draw(a, &r));
        }
        print_message("# Gamma(%g): mean %.4f\n", a, sum / N);
        assert_true(fabs(sum / N - a) < 4 * sqrt(a / N)); /* variance of Gamma(a, 1) = a */
    }
}

/* ---- the plan ---- */

static const st_mix_config_t MIX_ALL = {.mixup = {0.4, 1.0}};

static void test_partners_form_one_cycle(void **s) {
    (void)s;
    const int sizes[] = {2, 3, 16, 64};
    for (int k = 0; k < 4; k++) {
        int n = sizes[k];
        st_mix_row_t plan[64];
        uint64_t order[64];
        int64_t occ[64];
        for (int i = 0; i < n; i++) occ[i] = 1000 + 7 * i;
        st_mix_plan(plan, order, &MIX_ALL, 9, 2, 11, occ, NULL, 1, n);
        int seen[64] = {0}, r = 0;
        for (int t = 0; t < n; t++) {
            assert_true(plan[r].partner >= 0 && plan[r].partner < n); /* inside the micro-batch */
            assert_int_not_equal(plan[r].partner, r);
            assert_int_equal(seen[r], 0);
            seen[r] = 1, r = plan[r].partner;
        }
        assert_int_equal(r, 0); /* back at the start after n steps: one cycle through every row */
    }
    st_mix_row_t one;
    uint64_t order;
    int64_t occ = 5;
    st_mix_plan(&one, &order, &MIX_ALL, 9, 2, 11, &occ, NULL, 1, 1);
    assert_int_equal(one.partner, 0);
    assert_true(one.lam == 1.0f); /* a micro-batch of one row is left as it is */
}

/* The plan follows the rows' occurrence ids, not their positions; another shard (stream) or step
 * gives other partners. */
static void test_plan_keyed_by_occurrence(void **s) {
    (void)s;
    enum { n = 32 };
    st_mix_row_t a[n], b[n], c[n];
    uint64_t order[n];
    int64_t occ[n], rev[n];
    for (int i = 0; i < n; i++) occ[i] = 3 * i + 1, rev[n - 1 - i] = occ[i];
    st_mix_plan(a, order, &MIX_ALL, 1, 0, 4, occ, NULL, 1, n);
    st_mix_plan(b, order, &MIX_ALL, 1, 0, 4, rev, NULL, 1, n);
    for (int i = 0; i < n; i++) {
        int j = n - 1 - i; /* row i of a is row j of b */
        assert_int_equal(occ[a[i].partner], rev[b[j].partner]);
        assert_true(a[i].lam == b[j].lam);
    }
    int differ = 0;
    st_mix_plan(c, order, &MIX_ALL, 1, 1, 4, occ, NULL, 1, n);
    for (int i = 0; i < n; i++) differ += c[i].partner != a[i].partner;
    assert_true(differ > n / 2);
    st_mix_plan(c, order, &MIX_ALL, 1, 0, 5, occ, NULL, 1, n);
    differ = 0;
    for (int i = 0; i < n; i++) differ += c[i].partner != a[i].partner;
    assert_true(differ > n / 2);
}

static void test_share_of_mixed_rows(void **s) {
    (void)s;
    enum { n = 256, STEPS = 40 };
    st_mix_config_t c = {.mixup = {1.0, 0.3}};
    st_mix_row_t plan[n];
    uint64_t order[n];
    int64_t occ[n];
    for (int i = 0; i < n; i++) occ[i] = i;
    long mixed = 0;
    for (int step = 0; step < STEPS; step++) {
        st_mix_plan(plan, order, &c, 2, 0, (uint32_t)step, occ, NULL, 1, n);
        for (int i = 0; i < n; i++) mixed += plan[i].lam < 1.0f;
    }
    double share = (double)mixed / (n * STEPS);
    print_message("# p = 0.3: %.4f of the rows mixed\n", share);
    assert_true(fabs(share - 0.3) < 4 * sqrt(0.3 * 0.7 / (n * STEPS)));
    c.mixup.p = 0;
    st_mix_plan(plan, order, &c, 2, 0, 0, occ, NULL, 1, n);
    assert_false(st_mix_any(plan, n));
}

/* Mixup of sequences: the longer length, λ·a + (1 − λ)·b everywhere (0 past a row's length);
 * cutmix: the partner's positions of the span, the row's own length, λ = 1 − span / length. */
static void test_sequence_inputs(void **s) {
    (void)s;
    enum { T = 6, C = 2 };
    float x[2 * T * C], out[2 * T * C];
    int32_t len[2] = {3, 5}, len_out[2];
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) x[(i * T + t) * C + c] = t < len[i] ? (float)(10 * i + t + 1) : 0.0f;
    st_mix_row_t plan[2] = {{.partner = 1, .lam = 0.25f}, {.partner = 1, .lam = 1.0f}};
    st_mix_inputs(out, len_out, x, len, plan, 2, T, C);
    assert_int_equal(len_out[0], 5);
    assert_int_equal(len_out[1], 5);
    for (int t = 0; t < T; t++)
        assert_float_equal(out[t * C], 0.25f * x[t * C] + 0.75f * x[(T + t) * C], 1e-6);
    assert_memory_equal(out + T * C, x + T * C, sizeof(float) * T * C);

    st_mix_config_t cut = {.cutmix = {1.0, 1.0}};
    int32_t lens[16];
    int64_t occ[16];
    st_mix_row_t p[16];
    uint64_t order[16];
    for (int i = 0; i < 16; i++) lens[i] = 4 + i, occ[i] = i;
    st_mix_plan(p, order, &cut, 3, 0, 0, occ, lens, 24, 16);
    int cut_rows = 0;
    for (int i = 0; i < 16; i++) {
        if (p[i].span_len == 0) continue;
        cut_rows++;
        assert_true(p[i].span0 >= 0 && p[i].span0 + p[i].span_len <= lens[i]);
        assert_float_equal(p[i].lam, 1.0 - (double)p[i].span_len / lens[i], 1e-6);
    }
    assert_true(cut_rows > 8);
    float xs[2 * 8], os[2 * 8];
    for (int k = 0; k < 16; k++) xs[k] = (float)k;
    st_mix_row_t cp[2] = {{.partner = 1, .lam = 0.5f, .span0 = 2, .span_len = 4}, {.partner = 1, .lam = 1.0f}};
    int32_t l2[2] = {8, 8}, lo[2];
    st_mix_inputs(os, lo, xs, l2, cp, 2, 8, 1);
    for (int t = 0; t < 8; t++) assert_float_equal(os[t], t >= 2 && t < 6 ? xs[8 + t] : xs[t], 0);
    assert_int_equal(lo[0], 8);
}

/* ---- the four-head model of the fixture ---- */

static const char *HEADS[N_HEADS] = {"cls", "foc", "tags", "value"};
static const int WIDTH[N_HEADS] = {5, 3, 4, 2};

static int width_of(const char *head, void *ctx) {
    (void)ctx;
    for (int h = 0; h < N_HEADS; h++)
        if (strcmp(HEADS[h], head) == 0) return WIDTH[h];
    return -1;
}

static int width_of_w(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return 5;
}

#define HEAD(name) "{\"name\":\"" name "\",\"layers\":[{\"type\":\"dense\",\"units\":\"classes\"}]}"
static const char *LOSS_JSON =
    "[{\"head\":\"cls\",\"type\":\"cross_entropy\",\"class_weights\":[1,2,0.5,1.5,0.8],\"label_smoothing\":0.1},"
    "{\"head\":\"foc\",\"type\":\"focal\",\"gamma\":2,\"alpha\":0.25,\"class_weights\":[1,0.5,2],\"head_weight\":0.7},"
    "{\"head\":\"tags\",\"type\":\"bce_with_logits\",\"pos_weight\":[1,3,0.5,2],\"head_weight\":0.3},"
    "{\"head\":\"value\",\"type\":\"mse\",\"head_weight\":0.5}]";

typedef struct {
    st_model_t *model;
    st_loss_heads_t losses;
    float *x, *lam;
    int32_t *partner, *labels[N_HEADS];
    float *targets[N_HEADS];
    st_batch_targets_t tg;
    st_mix_row_t plan[B];
    st_run_ctx_t ctx;
} fx_t;

static void fx_setup(fx_t *t, const char *activation) {
    memset(t, 0, sizeof *t);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"%s\"}],\"heads\":[" HEAD("cls") "," HEAD(
                 "foc") "," HEAD("tags") "," HEAD("value") "]}",
             activation);
    st_error_t err = {0};
    cJSON *m = cJSON_Parse(json), *l = cJSON_Parse(LOSS_JSON);
    if (st_model_build_heads(m, "model", st_shape1(D), 0, width_of, NULL, &t->model, &err) != ST_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(st_model_reserve(t->model, B, 0, &err), ST_OK);
    if (st_loss_heads_parse(&t->losses, l, "loss", width_of, NULL, &err) != ST_OK) fail_msg("%s", err.msg);
    cJSON_Delete(m), cJSON_Delete(l);
    size_t n;
    float *p0 = tu_read_f32(FX, "params0", &n);
    assert_int_equal(n, st_model_param_floats(t->model));
    memcpy(st_model_params(t->model), p0, n * sizeof(float));
    free(p0);
    t->x = tu_read_f32(FX, "x", &n);
    assert_int_equal(n, (size_t)B * D);
    for (int i = 0; i < N_HEADS; i++) {
        char path[64];
        if (st_loss_uses_labels(&t->losses.heads[i])) {
            snprintf(path, sizeof path, "labels/%s", HEADS[i]);
            t->tg.labels[i] = t->labels[i] = tu_read_i32(FX, path, &n);
        } else {
            snprintf(path, sizeof path, "targets/%s", HEADS[i]);
            t->tg.targets[i] = t->targets[i] = tu_read_f32(FX, path, &n);
        }
    }
    t->lam = tu_read_f32(FX, "lam", &n);
    t->partner = tu_read_i32(FX, "partner", &n);
    for (int i = 0; i < B; i++) t->plan[i] = (st_mix_row_t){.partner = t->partner[i], .lam = t->lam[i]};
    t->ctx = (st_run_ctx_t){.training = 1, .seed = 1, .step = 0};
}

static void fx_teardown(fx_t *t) {
    st_model_free(t->model);
    st_loss_heads_free(&t->losses);
    free(t->x), free(t->lam), free(t->partner);
    for (int i = 0; i < N_HEADS; i++) free(t->labels[i]), free(t->targets[i]);
}

/* Zero gradients, one pass with plan (NULL: plain) at the global-mean scales; the total loss. */
static double mixed_pass(fx_t *t, const st_mix_row_t *plan, double *head_mean, st_micro_sums_t *sums) {
    float scale[N_HEADS];
    for (int i = 0; i < N_HEADS; i++)
        scale[i] = st_loss_grad_scale(&t->losses.heads[i],
                                      st_train_weight_total(&t->losses.heads[i], t->tg.labels[i], t->tg.targets[i], plan, B));
    st_step_parts_t parts = {t->model, &t->losses, NULL, 0};
    st_error_t err = {0};
    st_model_zero_grads(t->model);
    if (st_train_pass_mixed(&parts, &t->ctx, t->x, &t->tg, B, 1, plan, scale, sums, &err) != ST_OK)
        fail_msg("%s", err.msg);
    return st_loss_combine(head_mean, t->losses.heads, sums->head, N_HEADS);
}

/* The guard: a cutmix span past the row's current length (a plan made from other lengths than the
 * rows have; the engine's, from st_augment_lengths, never is — test_augment.c) or past T: clipped,
 * nothing written past the row, positions after it unchanged. */
static void test_cutmix_span_clipped(void **s) {
    (void)s;
    enum { T = 8, C = 2, N = 2 };
    float x[N * T * C], out[N * T * C + 4];
    for (int k = 0; k < N * T * C; k++) x[k] = (float)(k + 1);
    for (int k = 0; k < N * T * C + 4; k++) out[k] = -7.0f;
    int32_t len[N] = {6, 8}, len_out[N];
    st_mix_row_t plan[N] = {{.partner = 1, .lam = 0.5f, .span0 = 4, .span_len = 10},
                            {.partner = 0, .lam = 0.5f, .span0 = 7, .span_len = 9}};
    st_mix_inputs(out, len_out, x, len, plan, N, T, C);
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            int k0 = t * C + c, k1 = T * C + t * C + c;
            assert_true(out[k0] == (t >= 4 && t < 6 ? x[k1] : x[k0])); /* row 0: [4, 6) from row 1 */
            assert_true(out[k1] == (t == 7 ? x[k0] : x[k1]));          /* row 1: [7, 8) from row 0 */
        }
    for (int k = N * T * C; k < N * T * C + 4; k++) assert_true(out[k] == -7.0f);
    assert_int_equal(len_out[0], 6), assert_int_equal(len_out[1], 8);
}

static void test_mixed_step_matches_pytorch(void **s) {
    (void)s;
    fx_t t;
    fx_setup(&t, "relu");
    st_micro_sums_t sums;
    double means[N_HEADS], loss = mixed_pass(&t, t.plan, means, &sums);
    size_t n;
    double *ref_loss = tu_read_f64(FX, "loss", &n), *ref_means = tu_read_f64(FX, "head_means", &n);
    print_message("# loss %.8f (PyTorch %.8f)\n", loss, ref_loss[0]);
    tu_assert_close_f64("head means", means, ref_means, N_HEADS, 1e-6, 1e-5);
    tu_assert_close_f64("loss", &loss, ref_loss, 1, 1e-6, 1e-5);
    float *grads = tu_read_f32(FX, "grads", &n);
    assert_int_equal(n, st_model_param_floats(t.model));
    tu_assert_close("parameter gradients", st_model_grads(t.model), grads, n, 1e-6, 1e-4);
    /* training accuracy: a mixed row counts against the label of its larger share */
    int64_t hits = 0, labelled = 0;
    const float *z = st_model_head_output(t.model, 0);
    for (int r = 0; r < B; r++) {
        int y = t.lam[r] < 0.5f ? t.labels[0][t.partner[r]] : t.labels[0][r];
        if (y < 0) continue;
        int best = 0;
        for (int k = 1; k < WIDTH[0]; k++) best = z[r * WIDTH[0] + k] > z[r * WIDTH[0] + best] ? k : best;
        labelled++, hits += best == y;
    }
    assert_int_equal(sums.labelled[0], labelled);
    assert_int_equal(sums.correct[0], hits);
    assert_true(labelled < B); /* rows whose label of the larger share is missing are left out */
    /* the mixing matters: the plain pass is far from the fixture */
    double plain = mixed_pass(&t, NULL, NULL, &sums);
    assert_true(fabs(plain - ref_loss[0]) > 1e-2);
    free(ref_loss), free(ref_means), free(grads);
    fx_teardown(&t);
}

/* A plan that mixes nothing (p = 0) is bitwise the plain pass. */
static void test_p0_is_bitwise_plain(void **s) {
    (void)s;
    fx_t t;
    fx_setup(&t, "relu");
    st_mix_config_t off = {.mixup = {0.4, 0.0}};
    st_step_parts_t parts = {t.model, &t.losses, NULL, 0};
    st_mix_row_t plan[B];
    uint64_t order[B];
    st_train_plan_local(plan, order, &off, &parts, &t.ctx, B);
    assert_false(st_mix_any(plan, B));
    size_t n = st_model_param_floats(t.model);
    st_micro_sums_t a, b;
    double la = mixed_pass(&t, NULL, NULL, &a);
    float *ga = malloc(n * sizeof(float));
    memcpy(ga, st_model_grads(t.model), n * sizeof(float));
    double lb = mixed_pass(&t, plan, NULL, &b);
    assert_memory_equal(&la, &lb, sizeof la);
    assert_memory_equal(ga, st_model_grads(t.model), n * sizeof(float));
    assert_memory_equal(&a, &b, sizeof a);
    free(ga);
    fx_teardown(&t);
}

/* ∂(mixed loss)/∂θ by central differences (tanh trunk: no kinks). */
static double fd_loss(void *ctx) {
    st_micro_sums_t sums;
    return mixed_pass(ctx, ((fx_t *)ctx)->plan, NULL, &sums);
}

static void test_mixed_gradient_finite_differences(void **s) {
    (void)s;
    fx_t t;
    fx_setup(&t, "tanh");
    st_micro_sums_t sums;
    mixed_pass(&t, t.plan, NULL, &sums);
    size_t n = st_model_param_floats(t.model);
    float *analytic = malloc(n * sizeof(float));
    memcpy(analytic, st_model_grads(t.model), n * sizeof(float));
    tu_check_gradient("mixed loss", fd_loss, &t, st_model_params(t.model), n, analytic, 1e-2, 2e-4, 2e-2, 0);
    free(analytic);
    fx_teardown(&t);
}

/* A pass of two micro-batches mixes each within itself: a dense layer set to the identity shows
 * the mixed inputs, and row i of micro-batch k is λ·x_i + (1 − λ)·x_partner of that micro-batch. */
static void test_pass_mixes_within_each_micro_batch(void **s) {
    (void)s;
    enum { ROWS = 6, MB = 2, W = 5 };
    st_error_t err = {0};
    st_model_t *m;
    cJSON *mj = cJSON_Parse("{\"layers\":[{\"type\":\"dense\",\"units\":\"classes\"}]}");
    cJSON *lj = cJSON_Parse("{\"type\":\"mse\"}");
    if (st_model_build(mj, "model", st_shape1(W), W, &m, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(st_model_reserve(m, ROWS * MB, 0, &err), ST_OK);
    st_loss_heads_t losses;
    if (st_loss_heads_parse(&losses, lj, "loss", width_of_w, NULL, &err) != ST_OK) fail_msg("%s", err.msg);
    float *params = st_model_params(m); /* weight [W, W] = identity, bias [W] = 0 */
    memset(params, 0, sizeof(float) * st_model_param_floats(m));
    for (int k = 0; k < W; k++) params[k * W + k] = 1.0f;
    float x[ROWS * MB * W], t[ROWS * MB * W];
    tu_fill_normal(x, ROWS * MB * W, 4);
    memset(t, 0, sizeof t);
    st_mix_row_t plan[ROWS * MB];
    uint64_t order[ROWS];
    int64_t occ[ROWS * MB];
    for (int i = 0; i < ROWS * MB; i++) occ[i] = 100 + i;
    for (int k = 0; k < MB; k++)
        st_mix_plan(plan + k * ROWS, order, &MIX_ALL, 6, (uint32_t)k, 0, occ + k * ROWS, NULL, 1, ROWS);
    st_batch_targets_t tg = {.targets = {t}};
    st_step_parts_t parts = {m, &losses, NULL, 0};
    st_run_ctx_t ctx = {.training = 1, .seed = 6, .sample_index = occ};
    float scale = 1.0f;
    st_micro_sums_t sums[MB];
    st_model_zero_grads(m);
    if (st_train_pass_mixed(&parts, &ctx, x, &tg, ROWS * MB, MB, plan, &scale, sums, &err) != ST_OK) fail_msg("%s", err.msg);
    const float *out = st_model_head_output(m, 0);
    for (int k = 0; k < MB; k++)
        for (int r = 0; r < ROWS; r++) {
            const st_mix_row_t *p = &plan[k * ROWS + r];
            assert_true(p->partner >= 0 && p->partner < ROWS && p->partner != r);
            const float *a = x + (size_t)(k * ROWS + r) * W, *b = x + (size_t)(k * ROWS + p->partner) * W;
            for (int c = 0; c < W; c++)
                assert_float_equal(out[(k * ROWS + r) * W + c], p->lam * a[c] + (1 - p->lam) * b[c], 1e-5);
        }
    st_loss_heads_free(&losses);
    st_model_free(m);
    cJSON_Delete(mj), cJSON_Delete(lj);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beta_mean_and_variance),
        cmocka_unit_test(test_gamma_mean),
        cmocka_unit_test(test_partners_form_one_cycle),
        cmocka_unit_test(test_plan_keyed_by_occurrence),
        cmocka_unit_test(test_share_of_mixed_rows),
        cmocka_unit_test(test_sequence_inputs),
        cmocka_unit_test(test_cutmix_span_clipped),
        cmocka_unit_test(test_pass_mixes_within_each_micro_batch),
        cmocka_unit_test(test_mixed_step_matches_pytorch),
        cmocka_unit_test(test_p0_is_bitwise_plain),
        cmocka_unit_test(test_mixed_gradient_finite_differences),
    };
    return cmocka_run_group_tests_name("mixup", tests, NULL, NULL);
}
