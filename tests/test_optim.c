/* test_optim.c — optimizers (SGD, Adam, AdamW) and gradient regularisation (clipping, L2)
 * against torch.optim / torch.nn.utils.clip_grad_norm_ (tests/fixtures/gen_optim.py), parameter
 * group assignment, checkpoint state round trips, thread-count independence, config errors. */
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "regularize.h"

#define FIX "optim.h5"
enum { N_ARENA = 21, N_STEPS = 5 };

/* The fixture's arena: layers.0.weight [3,4], layers.0.bias [3] (decay 0), layers.1.weight [2,3]. */
static void fixture_views(st_tensor_view_t v[3], float *params, float *grads) {
    static const struct { const char *name; size_t offset, n; int decay; } T[3] = {
        {"layers.0.weight", 0, 12, 1}, {"layers.0.bias", 12, 3, 0}, {"layers.1.weight", 15, 6, 1}};
    memset(v, 0, 3 * sizeof v[0]);
    for (int i = 0; i < 3; i++) {
        snprintf(v[i].name, sizeof v[i].name, "%s", T[i].name);
        v[i].offset = T[i].offset, v[i].n = T[i].n, v[i].decay = T[i].decay;
        v[i].data = params ? params + T[i].offset : NULL;
        v[i].grad = grads ? grads + T[i].offset : NULL;
    }
}

/* A JSON config stored in the fixture as character codes. */
static cJSON *fixture_json(const char *path) {
    size_t n;
    int32_t *codes = tu_read_i32(FIX, path, &n);
    char *txt = calloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) txt[i] = (char)codes[i];
    cJSON *obj = cJSON_Parse(txt);
    if (!obj) fail_msg("fixture %s: %s is not JSON: %s", FIX, path, txt);
    free(codes), free(txt);
    return obj;
}

static void parse_ok(const char *json, st_optim_config_t *cfg) {
    st_error_t err = {0};
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    if (st_optim_parse(obj, "optimizer", cfg, &err) != ST_OK) fail_msg("%s: %s", json, err.msg);
    cJSON_Delete(obj);
}

static st_optim_t *create_ok(const st_optim_config_t *cfg, const st_tensor_view_t *v, int n_views, size_t n_floats) {
    st_error_t err = {0};
    st_optim_t *opt = NULL;
    if (st_optim_create(cfg, v, n_views, n_floats, &opt, &err) != ST_OK) fail_msg("st_optim_create: %s", err.msg);
    return opt;
}

/* ---- against torch.optim ---- */

/* Parameters and state after each of 5 steps: atol 1e-7 + rtol 1e-6 (float32 arithmetic in
 * the same operation order as torch; the slack covers FMA contraction in torch's vector code). */
static void compare_case(const char *cas) {
    char path[128];
    size_t n;
#define FX(name) (snprintf(path, sizeof path, "optim/%s/%s", cas, name), path)
    cJSON *obj = fixture_json(FX("config"));
    st_optim_config_t cfg;
    st_error_t err = {0};
    if (st_optim_parse(obj, "optimizer", &cfg, &err) != ST_OK) fail_msg("%s: %s", cas, err.msg);
    cJSON_Delete(obj);
    float *params = tu_read_f32(FIX, "optim/init", &n);
    assert_int_equal(n, N_ARENA);
    float *grads = tu_read_f32(FIX, "optim/grads", &n);
    assert_int_equal(n, N_STEPS * N_ARENA);
    double *lr_base = tu_read_f64(FIX, FX("lr_base"), &n);
    float *ref = tu_read_f32(FIX, FX("params"), &n);
    st_tensor_view_t v[3];
    fixture_views(v, params, NULL);
    st_optim_t *opt = create_ok(&cfg, v, 3, N_ARENA);
    float *ref_state[ST_OPTIM_MAX_STATE] = {0};
    for (int k = 0; k < st_optim_n_state(opt); k++) {
        snprintf(path, sizeof path, "optim/%s/state%d", cas, k);
        ref_state[k] = tu_read_f32(FIX, path, &n);
    }
    assert_true(tu_fixture_has(FIX, FX("state0")) == (st_optim_n_state(opt) > 0));
    for (int s = 0; s < N_STEPS; s++) {
        st_optim_step(opt, params, grads + s * N_ARENA, lr_base[s]);
        assert_int_equal(st_optim_step_count(opt), s + 1);
        char what[160];
        snprintf(what, sizeof what, "%s params after step %d", cas, s + 1);
        tu_assert_close(what, params, ref + s * N_ARENA, N_ARENA, 1e-7, 1e-6);
        for (int k = 0; k < st_optim_n_state(opt); k++) {
            snprintf(what, sizeof what, "%s %s after step %d", cas, st_optim_state_name(opt, k), s + 1);
            tu_assert_close(what, st_optim_state(opt, k), ref_state[k] + s * N_ARENA, N_ARENA, 1e-7, 1e-6);
        }
    }
#undef FX
    for (int k = 0; k < ST_OPTIM_MAX_STATE; k++) free(ref_state[k]);
    st_optim_free(opt);
    free(params), free(grads), free(lr_base), free(ref);
}

static void test_sgd_plain_matches_torch(void **s) { (void)s, compare_case("sgd_plain"); }
static void test_sgd_momentum_matches_torch(void **s) { (void)s, compare_case("sgd_momentum"); }
static void test_sgd_nesterov_wd_matches_torch(void **s) { (void)s, compare_case("sgd_nesterov_wd"); }
static void test_adam_wd_matches_torch(void **s) { (void)s, compare_case("adam_wd"); }
static void test_adamw_matches_torch(void **s) { (void)s, compare_case("adamw"); }
static void test_adamw_decay_all_matches_torch(void **s) { (void)s, compare_case("adamw_decay_all"); }

/* ---- parameter groups ---- */

static void test_group_assignment(void **s) {
    (void)s;
    static const struct { const char *name; int decay; } T[] = {
        {"layers.0.weight", 1}, {"layers.0.bias", 0}, {"norm.gamma", 0}, {"layers.1.weight", 1}, {"head.bias", 0},
        {"head.weight", 1}};
    enum { N = sizeof T / sizeof T[0] };
    st_tensor_view_t v[N];
    memset(v, 0, sizeof v);
    for (int i = 0; i < N; i++) {
        snprintf(v[i].name, sizeof v[i].name, "%s", T[i].name);
        v[i].offset = (size_t)i * 4, v[i].n = 4, v[i].decay = T[i].decay;
    }
    st_optim_config_t cfg;
    parse_ok("{\"type\":\"sgd\",\"lr\":0.1,\"weight_decay\":0.1,\"groups\":["
             "{\"params\":\"norm.*\",\"lr_mult\":0.5},"
             "{\"params\":\"layers.1.* layers.0.bias\",\"lr_mult\":2,\"weight_decay\":0.3},"
             "{\"params\":\"layers.*.weight\",\"lr_mult\":3}]}", &cfg);
    /* expected group, lr_mult, weight decay per tensor */
    const int want_group[N] = {3, 2, 1, 2, 0, 0};
    const double want_mult[N] = {3, 2, 0.5, 2, 1, 1}, want_wd[N] = {0.1, 0.3, 0.0, 0.3, 0.0, 0.1};
    st_optim_t *opt = create_ok(&cfg, v, N, N * 4);
    for (int i = 0; i < N; i++) {
        int g;
        double mult, wd;
        st_optim_tensor_group(opt, i, &g, &mult, &wd);
        if (g != want_group[i] || mult != want_mult[i] || wd != want_wd[i])
            fail_msg("%s: group %d lr_mult %g wd %g, want %d %g %g", T[i].name, g, mult, wd, want_group[i],
                     want_mult[i], want_wd[i]);
    }
    st_optim_free(opt);

    /* decay_norm_and_bias: inherited decay reaches biases and norm parameters too */
    cfg.decay_norm_and_bias = 1;
    opt = create_ok(&cfg, v, N, N * 4);
    double wd;
    st_optim_tensor_group(opt, 2, NULL, NULL, &wd);
    assert_true(wd == 0.1);
    st_optim_tensor_group(opt, 4, NULL, NULL, &wd);
    assert_true(wd == 0.1);
    st_optim_tensor_group(opt, 1, NULL, NULL, &wd); /* explicit group decay is unchanged */
    assert_true(wd == 0.3);
    st_optim_free(opt);

    /* a group that matches nothing is a config error naming the group */
    st_error_t err = {0};
    parse_ok("{\"type\":\"adam\",\"groups\":[{\"params\":\"*.bias\"},{\"params\":\"encoder.*\",\"lr_mult\":0.1}]}", &cfg);
    assert_int_equal(st_optim_create(&cfg, v, N, N * 4, &opt, &err), ST_ERR_CONFIG);
    assert_null(opt);
    assert_string_equal(err.msg, "optimizer.groups[1].params: \"encoder.*\" matches no parameter tensor "
                                 "(names look like \"layers.0.weight\")");
}

/* With zero gradients only weight decay moves parameters: weights shrink, the bias (decay 0)
 * and floats outside every view (an arena gap) stay; a group's lr_mult scales the shrink. */
static void test_bias_excluded_from_decay_and_gaps_untouched(void **s) {
    (void)s;
    float params[24], grads[24] = {0};
    for (int i = 0; i < 24; i++) params[i] = 1.0f + 0.1f * (float)i;
    float before[24];
    memcpy(before, params, sizeof params);
    st_tensor_view_t v[3];
    fixture_views(v, params, grads);
    v[2].offset = 18, v[2].data = params + 18; /* floats 15..17 are a gap */
    st_optim_config_t cfg;
    parse_ok("{\"type\":\"sgd\",\"lr\":1,\"weight_decay\":0.5,\"groups\":[{\"params\":\"layers.1.*\",\"lr_mult\":0.5}]}", &cfg);
    st_optim_t *opt = create_ok(&cfg, v, 3, 24);
    st_optim_step(opt, params, grads, 1.0);
    for (int i = 0; i < 24; i++) {
        float want = i < 12 ? before[i] - 0.5f * before[i] : i >= 18 ? before[i] - 0.25f * before[i] : before[i];
        if (fabsf(params[i] - want) > 1e-6f) fail_msg("float %d: %g, want %g", i, params[i], want);
    }
    st_optim_free(opt);

    /* AdamW: the bias is not decayed either */
    memcpy(params, before, sizeof params);
    parse_ok("{\"type\":\"adamw\",\"lr\":0.1,\"weight_decay\":0.5}", &cfg);
    opt = create_ok(&cfg, v, 3, 24);
    st_optim_step(opt, params, grads, 0.1);
    assert_true(params[0] < before[0]);
    for (int i = 12; i < 18; i++) assert_true(params[i] == before[i]);
    st_optim_free(opt);
}

/* ---- checkpoint state ---- */

/* Steps 1-2 in one optimizer; its state is exported and imported into a fresh one; steps 3-5
 * must then give bitwise the same parameters and state as continuing the first. */
static void roundtrip_case(const char *cas) {
    char path[128];
    size_t n;
    snprintf(path, sizeof path, "optim/%s/config", cas);
    cJSON *obj = fixture_json(path);
    st_optim_config_t cfg;
    st_error_t err = {0};
    assert_int_equal(st_optim_parse(obj, "optimizer", &cfg, &err), ST_OK);
    cJSON_Delete(obj);
    float *p1 = tu_read_f32(FIX, "optim/init", &n);
    float *grads = tu_read_f32(FIX, "optim/grads", &n);
    float p2[N_ARENA], p3[N_ARENA];
    st_tensor_view_t v[3];
    fixture_views(v, p1, NULL);
    st_optim_t *a = create_ok(&cfg, v, 3, N_ARENA);
    for (int s = 0; s < 2; s++) st_optim_step(a, p1, grads + s * N_ARENA, 0.01 * (s + 1));
    /* export: copies, as a checkpoint would write them */
    int n_state = st_optim_n_state(a);
    float saved[ST_OPTIM_MAX_STATE][N_ARENA];
    const float *arrays[ST_OPTIM_MAX_STATE];
    for (int k = 0; k < n_state; k++) memcpy(saved[k], st_optim_state(a, k), sizeof saved[k]), arrays[k] = saved[k];
    long step = st_optim_step_count(a);
    memcpy(p2, p1, sizeof p2);
    memcpy(p3, p1, sizeof p3);

    st_optim_t *b = create_ok(&cfg, v, 3, N_ARENA);
    assert_int_equal(st_optim_load_state(b, step, arrays, n_state, N_ARENA, &err), ST_OK);
    for (int s = 2; s < N_STEPS; s++) {
        st_optim_step(a, p1, grads + s * N_ARENA, 0.01 * (s + 1));
        st_optim_step(b, p2, grads + s * N_ARENA, 0.01 * (s + 1));
    }
    assert_memory_equal(p1, p2, sizeof p2);
    for (int k = 0; k < n_state; k++) assert_memory_equal(st_optim_state(a, k), st_optim_state(b, k), sizeof saved[k]);
    assert_int_equal(st_optim_step_count(b), N_STEPS);

    /* a fresh optimizer (state not restored) continues differently: the state matters */
    st_optim_t *c = create_ok(&cfg, v, 3, N_ARENA);
    for (int s = 2; s < N_STEPS; s++) st_optim_step(c, p3, grads + s * N_ARENA, 0.01 * (s + 1));
    assert_true(memcmp(p1, p3, sizeof p3) != 0);
    st_optim_free(c);

    /* mismatched arrays are rejected */
    assert_int_equal(st_optim_load_state(b, step, arrays, n_state + 1, N_ARENA, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, n_state == 2 ? "optimizer state: expected 2 arrays, got 3"
                                              : "optimizer state: expected 1 arrays, got 2");
    assert_int_equal(st_optim_load_state(b, step, arrays, n_state, N_ARENA - 1, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "optimizer state: expected arrays of 21 floats, got 20");
    st_optim_free(a), st_optim_free(b);
    free(p1), free(grads);
}

static void test_state_roundtrip_adam(void **s) { (void)s, roundtrip_case("adam_wd"); }
static void test_state_roundtrip_sgd(void **s) { (void)s, roundtrip_case("sgd_nesterov_wd"); }

/* Adam's bias correction depends on the restored step count: restoring with the wrong count
 * changes the next update. */
static void test_step_count_matters(void **s) {
    (void)s;
    st_optim_config_t cfg;
    parse_ok("{\"type\":\"adam\",\"lr\":0.1}", &cfg);
    float p[4] = {1, 2, 3, 4}, g[4] = {0.5f, -1, 2, 0.1f}, q[4];
    st_tensor_view_t v = {.name = "w", .offset = 0, .n = 4, .decay = 1};
    st_optim_t *a = create_ok(&cfg, &v, 1, 4), *b = create_ok(&cfg, &v, 1, 4);
    st_optim_step(a, p, g, 0.1);
    const float *arrays[2] = {st_optim_state(a, 0), st_optim_state(a, 1)};
    st_error_t err = {0};
    assert_int_equal(st_optim_load_state(b, 7, arrays, 2, 4, &err), ST_OK);
    memcpy(q, p, sizeof q);
    st_optim_step(a, p, g, 0.1);
    st_optim_step(b, q, g, 0.1);
    assert_true(memcmp(p, q, sizeof p) != 0);
    st_optim_free(a), st_optim_free(b);
}

/* st_optim_step_range: ranks updating disjoint ranges (cut inside a tensor and across tensors
 * with different decay and lr_mult) give every element st_optim_step's bits, and leave the rest
 * of the arena and of the state untouched. Three steps of SGD + Nesterov with a group, and AdamW. */
static void test_ranges_give_the_full_steps_bits(void **s) {
    (void)s;
    const char *configs[2] = {
        "{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9,\"nesterov\":true,\"weight_decay\":0.01,"
        "\"groups\":[{\"params\":\"*.bias\",\"lr_mult\":3}]}",
        "{\"type\":\"adamw\",\"lr\":0.05,\"weight_decay\":0.1}"};
    const size_t cuts[4] = {0, 7, 13, N_ARENA}; /* inside layers.0.weight, inside the bias */
    for (int c = 0; c < 2; c++) {
        st_optim_config_t cfg;
        parse_ok(configs[c], &cfg);
        float full[N_ARENA], part[3][N_ARENA], g[N_ARENA];
        for (int i = 0; i < N_ARENA; i++) full[i] = 0.1f * (float)(i - 10), g[i] = 0.03f * (float)((i * 7) % 11 - 5);
        st_tensor_view_t v[3];
        fixture_views(v, NULL, NULL);
        st_optim_t *whole = create_ok(&cfg, v, 3, N_ARENA), *r[3];
        for (int k = 0; k < 3; k++) r[k] = create_ok(&cfg, v, 3, N_ARENA), memcpy(part[k], full, sizeof full);
        for (int step = 0; step < 3; step++) {
            st_optim_step(whole, full, g, 1.0);
            for (int k = 0; k < 3; k++) st_optim_step_range(r[k], part[k], g, 1.0, cuts[k], cuts[k + 1]);
        }
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < N_ARENA; i++) {
                int inside = i >= cuts[k] && i < cuts[k + 1];
                float want = inside ? full[i] : 0.1f * (float)((int)i - 10);
                if (memcmp(&part[k][i], &want, sizeof want) != 0)
                    fail_msg("%s, range %d, element %zu: %.9g, want %.9g", configs[c], k, i, part[k][i], want);
                for (int j = 0; j < st_optim_n_state(whole); j++) {
                    float got = st_optim_state(r[k], j)[i], w = inside ? st_optim_state(whole, j)[i] : 0.0f;
                    if (memcmp(&got, &w, sizeof w) != 0) fail_msg("state %d, range %d, element %zu", j, k, i);
                }
            }
        assert_int_equal(st_optim_step_count(r[0]), 3);
        st_optim_free(whole);
        for (int k = 0; k < 3; k++) st_optim_free(r[k]);
    }
}

/* ---- clipping and L2 ---- */

static void test_clip_matches_torch(void **s) {
    (void)s;
    static const char *const cases[] = {"small", "large"};
    for (int c = 0; c < 2; c++) {
        char path[64];
        size_t n;
        float *g = tu_read_f32(FIX, "clip/grads", &n);
        snprintf(path, sizeof path, "clip/%s/max_norm", cases[c]);
        double *max_norm = tu_read_f64(FIX, path, NULL);
        snprintf(path, sizeof path, "clip/%s/norm", cases[c]);
        double *norm_ref = tu_read_f64(FIX, path, NULL);
        snprintf(path, sizeof path, "clip/%s/clipped", cases[c]);
        float *ref = tu_read_f32(FIX, path, NULL);
        double norm = st_clip_grad_norm(g, n, *max_norm);
        /* torch sums in float32 per tensor; strata in double: rtol 1e-6 */
        tu_assert_close_f64("pre-clip norm", &norm, norm_ref, 1, 0, 1e-6);
        tu_assert_close("clipped gradients", g, ref, n, 1e-7, 1e-6);
        if (norm > *max_norm) assert_true(fabs(sqrt(st_sum_squares(g, n)) - *max_norm) < 1e-5 * *max_norm);
        free(g), free(max_norm), free(norm_ref), free(ref);
    }
    /* max_norm slightly above the norm (1 <= coef): the gradients are left exactly as they are */
    size_t n;
    float *g = tu_read_f32(FIX, "clip/grads", &n), *g0 = malloc(n * sizeof(float));
    memcpy(g0, g, n * sizeof(float));
    double norm = sqrt(st_sum_squares(g, n));
    assert_true(st_clip_grad_norm(g, n, 1.5 * norm) == norm);
    assert_memory_equal(g, g0, n * sizeof(float));
    free(g), free(g0);
}

static void test_sums_independent_of_thread_count(void **s) {
    (void)s;
    const size_t n = 3 * 256 * ST_SQ_BLOCK + 12345; /* several chunks, a partial last block */
    float *x = malloc(n * sizeof(float)), *c1 = malloc(n * sizeof(float)), *c2 = malloc(n * sizeof(float));
    tu_fill_normal(x, n, 42);
    int saved = omp_get_max_threads();
    double sums[3];
    const int threads[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        omp_set_num_threads(threads[i]);
        sums[i] = st_sum_squares(x, n);
        memcpy(i == 0 ? c1 : c2, x, n * sizeof(float));
        double norm = st_clip_grad_norm(i == 0 ? c1 : c2, n, 10.0);
        assert_true(norm == sqrt(sums[i]));
        if (i > 0) assert_memory_equal(c1, c2, n * sizeof(float));
    }
    omp_set_num_threads(saved);
    assert_memory_equal(&sums[0], &sums[1], sizeof(double));
    assert_memory_equal(&sums[0], &sums[2], sizeof(double));
    /* and it is the sum of squares */
    long double ref = 0;
    for (size_t i = 0; i < n; i++) ref += (long double)x[i] * x[i];
    assert_true(fabs(sums[0] - (double)ref) <= 1e-12 * (double)ref);
    free(x), free(c1), free(c2);
}

typedef struct { st_tensor_view_t *v; int n; } l2_ctx_t;
static double l2_penalty_fn(void *ctx) {
    l2_ctx_t *c = ctx;
    return st_l2_penalty(c->v, c->n);
}

static void test_l2_penalty_and_gradient(void **s) {
    (void)s;
    float params[N_ARENA], grads[N_ARENA], g0[N_ARENA];
    tu_fill_normal(params, N_ARENA, 7);
    tu_fill_normal(grads, N_ARENA, 8);
    memcpy(g0, grads, sizeof g0);
    st_tensor_view_t v[3];
    fixture_views(v, params, grads);
    v[0].l2 = 0.3f, v[2].l2 = 0.05f; /* the bias has none */
    double want = 0;
    for (int i = 0; i < 12; i++) want += 0.5 * 0.3f * (double)params[i] * params[i];
    for (int i = 15; i < 21; i++) want += 0.5 * 0.05f * (double)params[i] * params[i];
    assert_true(fabs(st_l2_penalty(v, 3) - want) <= 1e-12 * want);
    st_l2_apply(v, 3);
    for (int i = 0; i < N_ARENA; i++) {
        float l2 = i < 12 ? 0.3f : i < 15 ? 0.0f : 0.05f;
        assert_true(grads[i] == g0[i] + l2 * params[i]);
    }
    /* the added gradient is the derivative of the penalty */
    float added[N_ARENA];
    for (int i = 0; i < N_ARENA; i++) added[i] = grads[i] - g0[i];
    l2_ctx_t ctx = {v, 3};
    tu_check_gradient("l2 penalty", l2_penalty_fn, &ctx, params, N_ARENA, added, 1e-2, 1e-5, 1e-4, 0);
}

/* ---- config ---- */

static void expect_error(const char *json, const char *msg) {
    st_error_t err = {0};
    st_optim_config_t cfg;
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    assert_int_equal(st_optim_parse(obj, "optimizer", &cfg, &err), ST_ERR_CONFIG);
    if (!strstr(err.msg, msg)) fail_msg("%s\n  got:  %s\n  want: %s", json, err.msg, msg);
    cJSON_Delete(obj);
}

static void test_parse_errors_name_the_path(void **s) {
    (void)s;
    expect_error("{\"type\":\"adam\",\"groups\":[{\"params\":\"*.bias\"},{\"params\":\"x\",\"lr_mult\":\"x\"}]}",
                 "optimizer.groups[1].lr_mult: expected a number >= 0, got \"x\"");
    expect_error("{\"type\":\"adam\",\"lr\":0.1,\"beta\":[0.9,0.99]}",
                 "optimizer: unknown key \"beta\" (did you mean \"betas\"?)");
    expect_error("{\"type\":\"adamax\"}", "optimizer.type: expected one of sgd|adam|adamw, got \"adamax\"");
    expect_error("{\"lr\":0.1}", "optimizer.type: required key is missing");
    expect_error("{\"type\":\"sgd\"}", "optimizer.lr: required for optimizer type \"sgd\"");
    expect_error("{\"type\":\"sgd\",\"lr\":0.1,\"betas\":[0.9,0.99]}", "optimizer.betas: not used by optimizer type \"sgd\"");
    expect_error("{\"type\":\"adamw\",\"momentum\":0.9}", "optimizer.momentum: not used by optimizer type \"adamw\"");
    expect_error("{\"type\":\"sgd\",\"lr\":0.1,\"nesterov\":true}", "optimizer.nesterov: Nesterov momentum needs momentum > 0");
    expect_error("{\"type\":\"adam\",\"betas\":[0.9]}", "optimizer.betas: expected a list of 2 numbers in [0, 1)");
    expect_error("{\"type\":\"adam\",\"betas\":[0.9, 1]}", "optimizer.betas: expected a list of 2 numbers in [0, 1)");
    expect_error("{\"type\":\"adam\",\"lr\":-1}", "optimizer.lr: expected a number >= 0, got -1");
    expect_error("{\"type\":\"adam\",\"groups\":{\"params\":\"x\"}}", "optimizer.groups: expected a list of objects");
    expect_error("{\"type\":\"adam\",\"groups\":[{\"lr_mult\":2}]}", "optimizer.groups[0].params: required key is missing");
    expect_error("{\"type\":\"adam\",\"groups\":[{\"params\":\"a\",\"weight_decy\":2}]}",
                 "optimizer.groups[0]: unknown key \"weight_decy\" (did you mean \"weight_decay\"?)");
    expect_error("{\"type\":\"adam\",\"groups\":[{\"params\":\"  \"}]}",
                 "optimizer.groups[0].params: expected at least one glob, got \"  \"");
    expect_error("{\"type\":\"adam\",\"groups\":[3]}", "optimizer.groups[0]: expected an object, got 3");
}

static void test_parse_defaults(void **s) {
    (void)s;
    st_optim_config_t cfg;
    parse_ok("{\"type\":\"adamw\"}", &cfg);
    assert_int_equal(cfg.type, ST_OPTIM_ADAMW);
    assert_true(cfg.lr == 1e-3 && cfg.weight_decay == 0.01 && cfg.beta1 == 0.9 && cfg.beta2 == 0.999 && cfg.eps == 1e-8);
    assert_int_equal(cfg.n_groups, 0);
    assert_int_equal(cfg.decay_norm_and_bias, 0);
    parse_ok("{\"type\":\"adam\",\"groups\":[{\"params\":\"*.bias\"}]}", &cfg);
    assert_true(cfg.weight_decay == 0 && cfg.groups[0].lr_mult == 1 && !cfg.groups[0].has_weight_decay);
    parse_ok("{\"type\":\"sgd\",\"lr\":0.5,\"momentum\":0.9,\"nesterov\":true}", &cfg);
    assert_true(cfg.lr == 0.5 && cfg.momentum == 0.9 && cfg.nesterov == 1 && cfg.weight_decay == 0);
    int n_keys, n_group_keys;
    assert_non_null(st_optim_keys(&n_keys));
    assert_non_null(st_optim_group_keys(&n_group_keys));
    assert_true(n_keys == 8 && n_group_keys == 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain_matches_torch),
        cmocka_unit_test(test_sgd_momentum_matches_torch),
        cmocka_unit_test(test_sgd_nesterov_wd_matches_torch),
        cmocka_unit_test(test_adam_wd_matches_torch),
        cmocka_unit_test(test_adamw_matches_torch),
        cmocka_unit_test(test_adamw_decay_all_matches_torch),
        cmocka_unit_test(test_group_assignment),
        cmocka_unit_test(test_bias_excluded_from_decay_and_gaps_untouched),
        cmocka_unit_test(test_state_roundtrip_adam),
        cmocka_unit_test(test_state_roundtrip_sgd),
        cmocka_unit_test(test_step_count_matters),
        cmocka_unit_test(test_ranges_give_the_full_steps_bits),
        cmocka_unit_test(test_clip_matches_torch),
        cmocka_unit_test(test_sums_independent_of_thread_count),
        cmocka_unit_test(test_l2_penalty_and_gradient),
        cmocka_unit_test(test_parse_errors_name_the_path),
        cmocka_unit_test(test_parse_defaults),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
