/* test_schedule.c — learning-rate schedules against torch.optim.lr_scheduler
 * (tests/fixtures/gen_optim.py), plateau state machine, checkpoint state, warmup composition,
 * config errors. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

#define FIX "optim.h5"
enum { N_SCHED = 100 };

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

static void sched_from_json(st_sched_t *s, const cJSON *obj, double lr0) {
    st_sched_config_t cfg;
    st_error_t err = {0};
    if (st_sched_parse(obj, "schedule", &cfg, &err) != ST_OK) fail_msg("st_sched_parse: %s", err.msg);
    if (st_sched_init(s, &cfg, lr0, &err) != ST_OK) fail_msg("st_sched_init: %s", err.msg);
}

static void sched_from_text(st_sched_t *s, const char *json, double lr0) {
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    sched_from_json(s, obj, lr0);
    cJSON_Delete(obj);
}

/* The LR before each of 100 steps vs torch, relative 1e-6 (atol 1e-15 for exact zeros). torch
 * mostly updates recursively (lr ← lr·ratio); strata uses the closed forms. `n_compare` limits
 * the comparison to the first steps. Returns the schedule for further checks. */
static st_sched_t compare_case(const char *cas, int n_compare) {
    char path[128];
    size_t n;
#define FX(name) (snprintf(path, sizeof path, "sched/%s/%s", cas, name), path)
    cJSON *obj = fixture_json(FX("config"));
    double *lr0 = tu_read_f64(FIX, FX("lr0"), NULL);
    double *ref = tu_read_f64(FIX, FX("lr"), &n);
    assert_int_equal(n, N_SCHED);
    double *metrics = tu_fixture_has(FIX, FX("metrics")) ? tu_read_f64(FIX, path, NULL) : NULL;
#undef FX
    st_sched_t s;
    sched_from_json(&s, obj, *lr0);
    cJSON_Delete(obj);
    double got[N_SCHED];
    for (long t = 0; t < N_SCHED; t++) {
        if (metrics) st_sched_observe(&s, metrics[t]);
        got[t] = st_sched_lr(&s, t);
    }
    char what[96];
    snprintf(what, sizeof what, "%s: lr", cas);
    tu_assert_close_f64(what, got, ref, n_compare, 1e-15, 1e-6);
    free(lr0), free(ref), free(metrics);
    return s;
}

static void test_constant(void **st) { (void)st, compare_case("constant", N_SCHED); }
static void test_step(void **st) { (void)st, compare_case("step", N_SCHED); }
static void test_multistep(void **st) { (void)st, compare_case("multistep", N_SCHED); }
static void test_exponential(void **st) { (void)st, compare_case("exponential", N_SCHED); }
static void test_cosine(void **st) { (void)st, compare_case("cosine", N_SCHED); }
static void test_warmup_cosine_is_sequential_lr(void **st) { (void)st, compare_case("warmup_cosine", N_SCHED); }
static void test_warmup_step_is_sequential_lr(void **st) { (void)st, compare_case("warmup_step", N_SCHED); }
static void test_warmup_exponential_default_factor(void **st) { (void)st, compare_case("warmup_exponential", N_SCHED); }
static void test_one_cycle(void **st) { (void)st, compare_case("one_cycle", N_SCHED); }
static void test_one_cycle_defaults(void **st) { (void)st, compare_case("one_cycle_defaults", N_SCHED); }
static void test_plateau_min_rel(void **st) { (void)st, compare_case("plateau_min", N_SCHED); }
static void test_plateau_max_abs(void **st) { (void)st, compare_case("plateau_max_abs", N_SCHED); }
static void test_plateau_max_rel_eps(void **st) { (void)st, compare_case("plateau_max_rel", N_SCHED); }

/* Cosine matches torch up to T_max = 30, then holds eta_min where torch's rises again. */
static void test_cosine_holds_the_floor(void **st) {
    (void)st;
    st_sched_t s = compare_case("cosine_short", 31);
    double *ref = tu_read_f64(FIX, "sched/cosine_short/lr", NULL);
    assert_true(ref[45] > 0.002 * 1.5); /* torch: back up */
    for (long t = 30; t < 200; t++) assert_true(st_sched_lr(&s, t) == 0.002);
    free(ref);
}

/* One-cycle holds its final rate past total_steps (torch raises an error there). */
static void test_one_cycle_after_the_end(void **st) {
    (void)st;
    st_sched_t s;
    sched_from_text(&s, "{\"type\":\"one_cycle\",\"max_lr\":1,\"total_steps\":50}", 0.1);
    double final = st_sched_lr(&s, 49);
    assert_true(fabs(final - 1.0 / 25 / 1e4) < 1e-15);
    for (long t = 50; t < 80; t++) assert_true(st_sched_lr(&s, t) == final);
    assert_true(fabs(st_sched_lr(&s, 0) - 1.0 / 25) < 1e-15);
}

/* st_sched_lr is a pure function of t for the step-driven types. */
static void test_lr_is_pure(void **st) {
    (void)st;
    st_sched_t s;
    sched_from_text(&s, "{\"type\":\"warmup_cosine\",\"warmup_steps\":7,\"total_steps\":60,\"eta_min\":0.01}", 0.5);
    double fwd[60];
    for (long t = 0; t < 60; t++) fwd[t] = st_sched_lr(&s, t);
    for (long t = 59; t >= 0; t--) assert_true(st_sched_lr(&s, t) == fwd[t]);
    assert_true(st_sched_lr(&s, -5) == fwd[0]);
    st_sched_observe(&s, 1.0); /* no effect on a step-driven type */
    for (long t = 0; t < 60; t++) assert_true(st_sched_lr(&s, t) == fwd[t]);
}

/* ---- warmup ---- */

/* For every type: t < W rises linearly from s·lr0 to lr0 (reaching lr0 at t = W), t >= W is
 * the same schedule without warmup at t - W. */
static void test_warmup_composes_with_every_type(void **st) {
    (void)st;
    static const char *const bodies[] = {
        "\"type\":\"constant\"", "\"type\":\"step\",\"step_size\":4,\"gamma\":0.5",
        "\"type\":\"multistep\",\"milestones\":[3,9],\"gamma\":0.2", "\"type\":\"exponential\",\"gamma\":0.9",
        "\"type\":\"cosine\",\"T_max\":20,\"eta_min\":0.001", "\"type\":\"reduce_on_plateau\""};
    const long W = 6;
    const double lr0 = 0.3, start = 0.2;
    for (int b = 0; b < (int)(sizeof bodies / sizeof bodies[0]); b++) {
        char with[256], without[256];
        snprintf(with, sizeof with, "{%s,\"warmup_steps\":%ld,\"warmup_start_factor\":%g}", bodies[b], W, start);
        snprintf(without, sizeof without, "{%s}", bodies[b]);
        st_sched_t sw, s0;
        sched_from_text(&sw, with, lr0);
        sched_from_text(&s0, without, lr0);
        for (long t = 0; t < W; t++) {
            double want = lr0 * (start + (1 - start) * (double)t / (double)W);
            if (fabs(st_sched_lr(&sw, t) - want) > 1e-15) fail_msg("%s: t=%ld lr %.17g, want %.17g", with, t, st_sched_lr(&sw, t), want);
        }
        assert_true(st_sched_lr(&sw, 0) < st_sched_lr(&sw, 1));
        for (long t = W; t < W + 40; t++)
            if (st_sched_lr(&sw, t) != st_sched_lr(&s0, t - W))
                fail_msg("%s: t=%ld lr %.17g, want %.17g", with, t, st_sched_lr(&sw, t), st_sched_lr(&s0, t - W));
    }
}

/* ---- reduce on plateau ---- */

/* Patience counts observe calls; reductions stop at min_lr, which bounds the base rate. */
static void test_plateau_patience_and_min_lr(void **st) {
    (void)st;
    st_sched_t s;
    sched_from_text(&s, "{\"type\":\"reduce_on_plateau\",\"patience\":2,\"factor\":0.5,\"min_lr\":0.3}", 1.0);
    assert_int_equal(st_sched_observe(&s, 5.0), 0); /* first value is an improvement */
    assert_int_equal(st_sched_observe(&s, 5.0), 0); /* bad 1 */
    assert_int_equal(st_sched_observe(&s, 6.0), 0); /* bad 2 */
    assert_true(st_sched_lr(&s, 1000) == 1.0);
    assert_int_equal(st_sched_observe(&s, 5.0), 1); /* bad 3 > patience */
    assert_true(st_sched_lr(&s, 0) == 0.5);
    assert_int_equal(st_sched_observe(&s, 4.0), 0); /* improvement resets */
    for (int i = 0; i < 2; i++) assert_int_equal(st_sched_observe(&s, 4.0), 0);
    assert_int_equal(st_sched_observe(&s, 4.0), 1);
    assert_true(st_sched_lr(&s, 0) == 0.3); /* max(0.25, min_lr) */
    for (int i = 0; i < 10; i++) assert_int_equal(st_sched_observe(&s, 9.0), 0); /* at min_lr: no change */
    assert_true(st_sched_lr(&s, 0) == 0.3);
    assert_int_equal(s.state.n_observed, 18);
}

/* Checkpoint mid-way: a schedule restored from the saved numbers continues identically. */
static void test_state_save_restore(void **st) {
    (void)st;
    cJSON *obj = fixture_json("sched/plateau_min/config");
    double *metrics = tu_read_f64(FIX, "sched/plateau_min/metrics", NULL);
    st_sched_t a, b, fresh;
    sched_from_json(&a, obj, 0.1);
    sched_from_json(&b, obj, 0.1);
    sched_from_json(&fresh, obj, 0.1);
    for (int t = 0; t < 50; t++) st_sched_observe(&a, metrics[t]);
    double saved[ST_SCHED_STATE_LEN];
    st_sched_state_save(&a, saved);
    st_error_t err = {0};
    assert_int_equal(st_sched_state_load(&b, saved, ST_SCHED_STATE_LEN, &err), ST_OK);
    assert_memory_equal(&a.state, &b.state, sizeof a.state);
    int differs_from_fresh = 0;
    for (int t = 50; t < N_SCHED; t++) {
        st_sched_observe(&a, metrics[t]);
        st_sched_observe(&b, metrics[t]);
        st_sched_observe(&fresh, metrics[t]);
        assert_true(st_sched_lr(&a, t) == st_sched_lr(&b, t));
        differs_from_fresh |= st_sched_lr(&fresh, t) != st_sched_lr(&a, t);
    }
    assert_true(differs_from_fresh); /* the state carries information */

    /* wrong type or length */
    st_sched_t other;
    sched_from_text(&other, "{\"type\":\"cosine\",\"T_max\":10}", 0.1);
    assert_int_equal(st_sched_state_load(&other, saved, ST_SCHED_STATE_LEN, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "schedule state: saved by a \"reduce_on_plateau\" schedule, this run uses \"cosine\"");
    assert_int_equal(st_sched_state_load(&b, saved, 5, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, "schedule state: expected 6 numbers, got 5");
    cJSON_Delete(obj);
    free(metrics);
}

/* Warmup in front of plateau scales the current plateau rate. */
static void test_plateau_with_warmup(void **st) {
    (void)st;
    st_sched_t s;
    sched_from_text(&s, "{\"type\":\"reduce_on_plateau\",\"patience\":0,\"factor\":0.5,\"warmup_steps\":4,"
                        "\"warmup_start_factor\":0.5}", 0.2);
    assert_true(fabs(st_sched_lr(&s, 0) - 0.1) < 1e-16);
    st_sched_observe(&s, 1.0);
    st_sched_observe(&s, 1.0); /* reduced to 0.1 */
    assert_true(fabs(st_sched_lr(&s, 2) - 0.1 * 0.75) < 1e-16);
    assert_true(st_sched_lr(&s, 4) == 0.1);
}

/* ---- config ---- */

static void expect_error(const char *json, const char *msg) {
    st_error_t err = {0};
    st_sched_config_t cfg;
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    assert_int_equal(st_sched_parse(obj, "schedule", &cfg, &err), ST_ERR_CONFIG);
    if (!strstr(err.msg, msg)) fail_msg("%s\n  got:  %s\n  want: %s", json, err.msg, msg);
    cJSON_Delete(obj);
}

static void test_parse_errors_name_the_path(void **st) {
    (void)st;
    expect_error("{\"type\":\"step\",\"step_size\":10,\"gamma\":\"x\"}", "schedule.gamma: expected a number >= 0, got \"x\"");
    expect_error("{\"type\":\"cosin\"}", "schedule.type: expected one of constant|step|multistep|exponential|cosine|"
                                         "warmup_cosine|one_cycle|reduce_on_plateau, got \"cosin\"");
    expect_error("{\"type\":\"step\",\"step_sise\":3}", "schedule: unknown key \"step_sise\" (did you mean \"step_size\"?)");
    expect_error("{\"type\":\"step\"}", "schedule.step_size: required for schedule type \"step\"");
    expect_error("{\"type\":\"step\",\"step_size\":0}", "schedule.step_size: expected a positive integer, got 0");
    expect_error("{\"type\":\"exponential\"}", "schedule.gamma: required for schedule type \"exponential\"");
    expect_error("{\"type\":\"multistep\"}", "schedule.milestones: required for schedule type \"multistep\"");
    expect_error("{\"type\":\"multistep\",\"milestones\":[5,3]}", "schedule.milestones: expected increasing steps, got 3 after 5");
    expect_error("{\"type\":\"cosine\"}", "schedule.T_max: required for schedule type \"cosine\" (or give total_steps)");
    expect_error("{\"type\":\"warmup_cosine\",\"T_max\":10}", "schedule.warmup_steps: required (>= 1) for schedule type \"warmup_cosine\"");
    expect_error("{\"type\":\"cosine\",\"warmup_steps\":10,\"total_steps\":10}", "schedule.total_steps: must exceed warmup_steps (10), got 10");
    expect_error("{\"type\":\"cosine\",\"T_max\":10,\"gamma\":0.5}", "schedule.gamma: not used by schedule type \"cosine\"");
    expect_error("{\"type\":\"one_cycle\"}", "schedule.total_steps: required for schedule type \"one_cycle\"");
    expect_error("{\"type\":\"one_cycle\",\"total_steps\":100,\"warmup_steps\":5}",
                 "schedule.warmup_steps: one_cycle warms up by itself (pct_start); use 0");
    expect_error("{\"type\":\"one_cycle\",\"total_steps\":3,\"pct_start\":0.1}",
                 "schedule.pct_start: pct_start * total_steps must lie in (1, total_steps), got 0.1 * 3");
    expect_error("{\"type\":\"reduce_on_plateau\",\"factor\":1}", "schedule.factor: expected a number in [0, 1), got 1");
    expect_error("{\"type\":\"reduce_on_plateau\",\"mode\":\"maximum\"}", "schedule.mode: expected one of min|max, got \"maximum\"");
    expect_error("{\"type\":\"reduce_on_plateau\",\"patience\":-1}", "schedule.patience: expected a non-negative integer, got -1");
    expect_error("{\"warmup_start_factor\":2}", "schedule.warmup_start_factor: expected a number in [0, 1], got 2");
    st_sched_t s;
    st_sched_config_t cfg;
    st_error_t err = {0};
    st_sched_config_default(&cfg, ST_SCHED_CONSTANT);
    assert_int_equal(st_sched_init(&s, &cfg, 0.0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "schedule: the initial learning rate must be a finite number > 0, got 0");
}

static void test_parse_defaults(void **st) {
    (void)st;
    st_sched_t s;
    sched_from_text(&s, "{}", 0.1);
    assert_int_equal(s.cfg.type, ST_SCHED_CONSTANT);
    assert_int_equal(s.cfg.warmup_steps, 0);
    sched_from_text(&s, "{\"type\":\"reduce_on_plateau\"}", 0.1);
    assert_true(s.cfg.factor == 0.1 && s.cfg.patience == 10 && s.cfg.threshold == 1e-4 && !s.cfg.threshold_abs &&
                !s.cfg.mode_max && s.cfg.cooldown == 0 && s.cfg.min_lr == 0 && s.cfg.eps == 1e-8);
    assert_true(isinf(s.state.best) && s.state.best > 0);
    sched_from_text(&s, "{\"type\":\"step\",\"step_size\":3}", 0.1);
    assert_true(s.cfg.gamma == 0.1);
    sched_from_text(&s, "{\"type\":\"warmup_cosine\",\"warmup_steps\":5,\"total_steps\":50}", 0.1);
    assert_true(s.cfg.type == ST_SCHED_COSINE && s.cfg.T_max == 45 && s.cfg.warmup_start_factor == 0.01);
    int n_keys;
    assert_non_null(st_sched_keys(&n_keys));
    assert_int_equal(n_keys, 23);
}

/* warmup_fraction f of total_steps N is warmup_steps round(f·N), at least 1 when f > 0, for any
 * type; with warmup_cosine the cosine then runs over N - W steps. */
static void test_warmup_fraction(void **st) {
    (void)st;
    st_sched_t s;
    sched_from_text(&s, "{\"type\":\"warmup_cosine\",\"warmup_fraction\":0.0318,\"total_steps\":6300}", 0.1);
    assert_true(s.cfg.warmup_steps == 200 && s.cfg.T_max == 6100);
    sched_from_text(&s, "{\"type\":\"warmup_cosine\",\"warmup_fraction\":0.0318,\"total_steps\":150}", 0.1);
    assert_true(s.cfg.warmup_steps == 5 && s.cfg.T_max == 145);
    sched_from_text(&s, "{\"type\":\"step\",\"step_size\":10,\"warmup_fraction\":0.001,\"total_steps\":20}", 0.1);
    assert_int_equal(s.cfg.warmup_steps, 1);
    sched_from_text(&s, "{\"type\":\"constant\",\"warmup_fraction\":0,\"total_steps\":20}", 0.1);
    assert_int_equal(s.cfg.warmup_steps, 0);
    /* the same rates as warmup_steps = 200 */
    st_sched_t a, b;
    sched_from_text(&a, "{\"type\":\"warmup_cosine\",\"warmup_fraction\":0.0318,\"total_steps\":6300}", 0.1);
    sched_from_text(&b, "{\"type\":\"warmup_cosine\",\"warmup_steps\":200,\"total_steps\":6300}", 0.1);
    for (long t = 0; t < 6300; t += 7) assert_true(st_sched_lr(&a, t) == st_sched_lr(&b, t));
    expect_error("{\"type\":\"warmup_cosine\",\"warmup_fraction\":0.1,\"warmup_steps\":5,\"total_steps\":50}",
                 "schedule.warmup_fraction: give warmup_steps or warmup_fraction, not both");
    expect_error("{\"type\":\"step\",\"step_size\":3,\"warmup_fraction\":0.1}",
                 "schedule.warmup_fraction: needs total_steps (strata train fills it with the run's length)");
    expect_error("{\"warmup_fraction\":1,\"total_steps\":50}", "schedule.warmup_fraction: expected a number in [0, 1), got 1");
    expect_error("{\"type\":\"step\",\"step_size\":3,\"total_steps\":50}", "schedule.total_steps: not used by schedule type \"step\"");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_multistep),
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_cosine),
        cmocka_unit_test(test_warmup_cosine_is_sequential_lr),
        cmocka_unit_test(test_warmup_step_is_sequential_lr),
        cmocka_unit_test(test_warmup_exponential_default_factor),
        cmocka_unit_test(test_one_cycle),
        cmocka_unit_test(test_one_cycle_defaults),
        cmocka_unit_test(test_plateau_min_rel),
        cmocka_unit_test(test_plateau_max_abs),
        cmocka_unit_test(test_plateau_max_rel_eps),
        cmocka_unit_test(test_cosine_holds_the_floor),
        cmocka_unit_test(test_one_cycle_after_the_end),
        cmocka_unit_test(test_lr_is_pure),
        cmocka_unit_test(test_warmup_composes_with_every_type),
        cmocka_unit_test(test_plateau_patience_and_min_lr),
        cmocka_unit_test(test_state_save_restore),
        cmocka_unit_test(test_plateau_with_warmup),
        cmocka_unit_test(test_parse_errors_name_the_path),
        cmocka_unit_test(test_warmup_fraction),
        cmocka_unit_test(test_parse_defaults),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
