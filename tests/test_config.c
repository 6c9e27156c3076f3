/* test_config.c — the run config (jobs/config.h): defaults, required keys, types, unknown keys
 * with suggestions, optimizer/schedule errors with their paths, --set overrides, data.shards,
 * the resume diff, resolved-JSON round trip, the schedule length filled by the run, the
 * monitors (metric names, weighted sums, their directions, st_monitor_check) and the shipped
 * configs. Error messages are asserted exactly. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/config.h"

/* The smallest valid config. */
static const char *MINIMAL =
    "{\"name\": \"t\", \"data\": {\"path\": \"d.h5\"}, \"train\": {\"epochs\": 2, \"batch_size\": 64},"
    " \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1}, \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 8},"
    " {\"type\": \"relu\"}, {\"type\": \"dense\", \"units\": \"classes\"}]}}";

static void load_ok(st_run_config_t *cfg, const char *json, const char *const *sets, int n_sets) {
    st_error_t err = {0};
    if (st_config_from_json(json, "t.json", sets, n_sets, cfg, &err) != ST_OK)
        fail_msg("st_config_from_json: %s", err.msg);
}

/* Loading fails with exactly `msg`. */
static void load_fails(const char *json, const char *const *sets, int n_sets, const char *msg) {
    st_run_config_t cfg;
    st_error_t err = {0};
    st_status_t rc = st_config_from_json(json, "t.json", sets, n_sets, &cfg, &err);
    if (rc == ST_OK) fail_msg("expected the error: %s", msg);
    assert_int_equal(rc, err.code);
    if (strcmp(err.msg, msg) != 0) fail_msg("error message\n  got:  %s\n  want: %s", err.msg, msg);
    assert_null(cfg.json);
    st_config_free(&cfg);
}

/* MINIMAL with one override fails with `msg`. */
static void set_fails(const char *set, const char *msg) { load_fails(MINIMAL, &set, 1, msg); }

static char *unformatted(const cJSON *j) { return cJSON_PrintUnformatted(j); }

static void test_defaults(void **state) {
    (void)state;
    st_run_config_t c;
    load_ok(&c, MINIMAL, NULL, 0);
    assert_string_equal(c.name, "t");
    assert_int_equal(c.seed, 0);
    assert_string_equal(c.results_dir, "results");
    assert_int_equal(c.reproducible_exact, 0);
    assert_string_equal(c.data.path, "d.h5");
    assert_int_equal(c.data.shards, 0);
    assert_true(c.data.split.train == 0.81 && c.data.split.val == 0.09 && c.data.split.test == 0.1);
    assert_true(c.data.split.val_fraction == 0.1);
    assert_int_equal(c.data.standardize, 1);
    assert_int_equal(c.data.scale_pixels, 0);
    assert_int_equal(c.data.allow_nonfinite, 0);
    assert_int_equal(c.train.epochs, 2);
    assert_int_equal(c.train.batch_size, 64);
    assert_int_equal(c.train.accumulation_steps, 1);
    assert_int_equal(c.train.eval_every, 1);
    assert_true(c.train.clip_norm == 0);
    assert_int_equal(c.train.threads, 0);
    assert_int_equal(c.train.allow_oversubscribe, 0);
    assert_int_equal(c.train.max_nonfinite_steps, 5);
    assert_int_equal(c.train.divergence_check_every, 100);
    assert_int_equal(c.train.log_every, 100);
    assert_int_equal(c.optim.type, ST_OPTIM_SGD);
    assert_true(c.optim.lr == 0.1);
    assert_int_equal(c.sched.type, ST_SCHED_CONSTANT);
    assert_int_equal(c.sched_needs_total_steps, 0);
    assert_int_equal(c.early_stopping.enabled, 0);
    assert_string_equal(c.early_stopping.monitor.text, "val_loss");
    assert_int_equal(c.early_stopping.monitor.mode_max, 0);
    assert_int_equal(c.early_stopping.patience, 10);
    assert_true(c.early_stopping.min_delta == 0);
    assert_int_equal(c.early_stopping.restore_best, 1);
    assert_int_equal(c.checkpoint.every_epochs, 1);
    assert_int_equal(c.checkpoint.keep_last, 3);
    assert_int_equal(c.checkpoint.best, 1);
    assert_int_equal(c.checkpoint.last, 1);
    assert_string_equal(c.checkpoint.monitor.text, "val_loss");
    assert_int_equal(c.checkpoint.monitor.mode_max, 0);
    assert_int_equal(c.monitors.diversity_every, 1);
    assert_true(c.monitors.collapse_top_share == 0.9);
    assert_true(c.monitors.collapse_min_entropy == 0.2);
    assert_int_equal(c.monitors.per_class_every, 5);
    assert_true(c.monitors.head_share_max == 0.9);
    assert_true(c.monitors.gap_max == 0.5);
    assert_true(cJSON_IsObject(c.model));
    assert_string_equal(cJSON_GetObjectItem(c.loss, "type")->valuestring, "cross_entropy");

    char *txt = unformatted(c.json);
    assert_string_equal(
        txt,
        "{\"name\":\"t\",\"seed\":0,\"results_dir\":\"results\",\"reproducible\":\"fast\","
        "\"data\":{\"path\":\"d.h5\",\"shards\":\"auto\",\"val_fraction\":0.1,\"standardize\":true,"
        "\"scale_pixels\":false,\"allow_nonfinite\":false,\"ignore_groups\":false,\"bucket_by_length\":false,\"bucket_window\":32,\"repeat\":1,\"order\":\"shuffle\",\"window_rows\":65536,\"stream\":false,\"memory_budget_mb\":1024,\"split\":{\"train\":0.81,\"val\":0.09,\"test\":0.1}},"
        "\"train\":{\"epochs\":2,\"batch_size\":64,\"accumulation_steps\":1,\"eval_every\":1,\"clip_norm\":0,"
        "\"threads\":0,\"allow_oversubscribe\":false,\"max_nonfinite_steps\":5,\"divergence_check_every\":100,\"log_every\":100,\"stall_timeout\":600,\"max_memory_mb\":0},"
        "\"optimizer\":{\"type\":\"sgd\",\"lr\":0.1},\"schedule\":{\"type\":\"constant\"},"
        "\"loss\":{\"type\":\"cross_entropy\"},"
        "\"model\":{\"layers\":[{\"type\":\"dense\",\"units\":8},{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":\"classes\"}]},"
        "\"early_stopping\":{\"enabled\":false,\"monitor\":\"val_loss\",\"mode\":\"auto\",\"patience\":10,"
        "\"min_delta\":0,\"restore_best\":true},"
        "\"checkpoint\":{\"every_epochs\":1,\"keep_last\":3,\"best\":true,\"last\":true,\"monitor\":\"val_loss\","
        "\"mode\":\"auto\"},"
        "\"monitors\":{\"diversity_every\":1,\"collapse_top_share\":0.9,\"collapse_min_entropy\":0.2,\"per_class_every\":5,"
        "\"head_share_max\":0.9,\"gap_max\":0.5}}");
    cJSON_free(txt);

    st_data_config_t d;
    st_config_data_options(&c, &d);
    assert_string_equal(d.path, "d.h5");
    assert_int_equal(d.batch_size, 64);
    assert_int_equal(d.accumulation, 1);
    assert_int_equal(d.shards, 0);
    assert_int_equal(d.standardize, 1);
    st_config_free(&c);
    assert_null(c.json);
}

static void test_monitors_resolved(void **state) {
    (void)state;
    st_run_config_t c;
    const char *es[] = {"early_stopping.monitor=val_accuracy", "early_stopping.enabled=true"};
    load_ok(&c, MINIMAL, es, 2);
    assert_int_equal(c.early_stopping.enabled, 1);
    assert_string_equal(c.early_stopping.monitor.text, "val_accuracy");
    assert_int_equal(c.early_stopping.monitor.mode_max, 1);
    assert_string_equal(c.checkpoint.monitor.text, "val_accuracy"); /* follows early_stopping.monitor */
    assert_int_equal(c.checkpoint.monitor.mode_max, 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c.json, "checkpoint"), "monitor")->valuestring,
                        "val_accuracy");
    st_config_free(&c);

    const char *ck[] = {"early_stopping.monitor=val_macro_f1", "early_stopping.mode=min", "checkpoint.monitor=val_loss"};
    load_ok(&c, MINIMAL, ck, 3);
    assert_string_equal(c.early_stopping.monitor.text, "val_macro_f1");
    assert_int_equal(c.early_stopping.monitor.mode_max, 0); /* explicit mode wins over auto */
    assert_string_equal(c.checkpoint.monitor.text, "val_loss");
    assert_int_equal(c.checkpoint.monitor.mode_max, 0);
    st_config_free(&c);
}

/* A monitor is any metric name of the form val_<metric>[.<head>]; its direction comes from the
 * metric; the resolved tree keeps the name and checkpoint.monitor follows it. */
static void test_monitor_names(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int mode_max;
    } cases[] = {{"val_r2.reward", 1},     {"val_mae.reward", 0},   {"val_rmse.reward", 0}, {"val_loss.category", 0},
                 {"val_f1.tools", 1},      {"val_topk.tools", 1},   {"val_exact_match.tools", 1},
                 {"val_macro_f1.category", 1}, {"val_accuracy", 1}, {"val_loss", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char set[96];
        snprintf(set, sizeof set, "early_stopping.monitor=%s", cases[i].name);
        const char *sets[] = {set};
        st_run_config_t c;
        load_ok(&c, MINIMAL, sets, 1);
        assert_int_equal(c.early_stopping.monitor.n_terms, 1);
        assert_string_equal(c.early_stopping.monitor.name[0], cases[i].name);
        assert_true(c.early_stopping.monitor.weight[0] == 1);
        assert_string_equal(c.early_stopping.monitor.text, cases[i].name);
        if (c.early_stopping.monitor.mode_max != cases[i].mode_max) fail_msg("%s: wrong direction", cases[i].name);
        assert_int_equal(c.checkpoint.monitor.mode_max, cases[i].mode_max);
        assert_string_equal(c.checkpoint.monitor.text, cases[i].name);
        const cJSON *es = cJSON_GetObjectItem(c.json, "early_stopping"), *ck = cJSON_GetObjectItem(c.json, "checkpoint");
        assert_string_equal(cJSON_GetObjectItem(es, "monitor")->valuestring, cases[i].name);
        assert_string_equal(cJSON_GetObjectItem(ck, "monitor")->valuestring, cases[i].name);
        st_config_free(&c);
    }
    const char *list = "val_<metric> or val_<metric>.<head> with <metric> one of loss, accuracy, macro_f1, f1, "
                       "exact_match, topk, mae, rmse, r2, wer, cer, token_accuracy";
    const char *bad[][2] = {
        {"early_stopping.monitor=loss", "\"loss\""},         {"early_stopping.monitor=val_auc", "\"val_auc\""},
        {"early_stopping.monitor=val_loss.", "\"val_loss.\""}, {"early_stopping.monitor=val_.reward", "\"val_.reward\""},
        {"early_stopping.monitor=train_loss", "\"train_loss\""}, {"checkpoint.monitor=val_accuracyy", "\"val_accuracyy\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char key[64], msg[512];
        snprintf(key, sizeof key, "%.*s", (int)(strchr(bad[i][0], '=') - bad[i][0]), bad[i][0]);
        snprintf(msg, sizeof msg, "t.json: %s (--set %s): unknown metric %s: expected %s", key, bad[i][0], bad[i][1], list);
        set_fails(bad[i][0], msg);
    }
    set_fails("early_stopping.monitor=3", "t.json: early_stopping.monitor (--set early_stopping.monitor=3): expected a "
              "metric name (\"val_loss\", \"val_r2.reward\") or an object of weights ({\"val_accuracy.category\": 0.5, "
              "\"val_r2.reward\": 0.5}), got 3");
    set_fails("early_stopping.monitor=val_loss.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              "t.json: early_stopping.monitor (--set early_stopping.monitor=val_loss.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaaaaaaaaaaaaaaaaaaaaaa): metric name \"val_loss.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is longer than 63 "
              "characters");
}

#define COMPOSITE "{\"val_accuracy.category\": 0.5, \"val_f1.tools\": 0.3, \"val_r2.reward\": 0.2}"

/* A weighted monitor: its terms, its printable form, the resolved tree, the round trip. */
static void test_monitor_composite(void **state) {
    (void)state;
    const char *sets[] = {"early_stopping.monitor=" COMPOSITE};
    st_run_config_t c, d;
    load_ok(&c, MINIMAL, sets, 1);
    const st_monitor_spec_t *m = &c.early_stopping.monitor;
    assert_int_equal(m->n_terms, 3);
    assert_string_equal(m->name[0], "val_accuracy.category");
    assert_string_equal(m->name[1], "val_f1.tools");
    assert_string_equal(m->name[2], "val_r2.reward");
    assert_true(m->weight[0] == 0.5 && m->weight[1] == 0.3 && m->weight[2] == 0.2);
    assert_int_equal(m->mode_max, 1); /* all three: higher is better */
    assert_string_equal(m->text, "0.5*val_accuracy.category + 0.3*val_f1.tools + 0.2*val_r2.reward");
    assert_string_equal(c.checkpoint.monitor.text, m->text);
    assert_int_equal(c.checkpoint.monitor.mode_max, 1);
    char *es = unformatted(cJSON_GetObjectItem(c.json, "early_stopping"));
    assert_string_equal(es, "{\"enabled\":false,\"monitor\":{\"val_accuracy.category\":0.5,\"val_f1.tools\":0.3,"
                            "\"val_r2.reward\":0.2},\"mode\":\"auto\",\"patience\":10,\"min_delta\":0,\"restore_best\":true}");
    char *ck = unformatted(cJSON_GetObjectItem(c.json, "checkpoint"));
    assert_string_equal(ck, "{\"every_epochs\":1,\"keep_last\":3,\"best\":true,\"last\":true,\"monitor\":{"
                            "\"val_accuracy.category\":0.5,\"val_f1.tools\":0.3,\"val_r2.reward\":0.2},\"mode\":\"auto\"}");
    cJSON_free(es), cJSON_free(ck);
    char *txt = st_config_to_json(&c), out[128];
    load_ok(&d, txt, NULL, 0);
    assert_string_equal(d.early_stopping.monitor.text, m->text);
    assert_int_equal(st_config_diff(c.json, d.json, out, sizeof out), ST_OK);
    free(txt);
    st_config_free(&c), st_config_free(&d);

    /* weights other than the usual: 1 is left out, a negative one subtracts (mode given) */
    const char *neg[] = {"early_stopping.monitor={\"val_accuracy\": 1, \"val_loss\": -0.25}", "early_stopping.mode=max"};
    load_ok(&c, MINIMAL, neg, 2);
    assert_string_equal(c.early_stopping.monitor.text, "val_accuracy - 0.25*val_loss");
    assert_int_equal(c.early_stopping.monitor.mode_max, 1);
    st_config_free(&c);

    const char *pre = "t.json: early_stopping.monitor (--set early_stopping.monitor=";
    struct { const char *value, *msg; } bad[] = {
        {"{}", "an object of weights needs at least one metric"},
        {"{\"val_f1.tools\": 0}", "the weight of \"val_f1.tools\" must be a finite number other than 0, got 0"},
        {"{\"val_f1.tools\": \"x\"}", "the weight of \"val_f1.tools\" must be a finite number other than 0, got \"x\""},
        {"{\"val_f1.tools\": true}", "the weight of \"val_f1.tools\" must be a finite number other than 0, got true"},
        {"{\"val_f1.tools\": 1e999}", "the weight of \"val_f1.tools\" must be a finite number other than 0, got null"},
        {"{\"val_acc.tools\": 1}", "unknown metric \"val_acc.tools\": expected val_<metric> or val_<metric>.<head> with "
                                   "<metric> one of loss, accuracy, macro_f1, f1, exact_match, topk, mae, rmse, r2, wer, cer, token_accuracy"},
        {"{\"val_r2.a\":1,\"val_r2.b\":1,\"val_r2.c\":1,\"val_r2.d\":1,\"val_r2.e\":1,\"val_r2.f\":1,\"val_r2.g\":1,"
         "\"val_r2.h\":1,\"val_r2.i\":1}", "at most 8 metrics in a weighted monitor, got 9"},
        {"[\"val_loss\"]", "expected a metric name (\"val_loss\", \"val_r2.reward\") or an object of weights "
                           "({\"val_accuracy.category\": 0.5, \"val_r2.reward\": 0.5}), got [\"val_loss\"]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char set[256], msg[700];
        snprintf(set, sizeof set, "early_stopping.monitor=%s", bad[i].value);
        snprintf(msg, sizeof msg, "%s%s): %s", pre, bad[i].value, bad[i].msg);
        set_fails(set, msg);
    }
    /* eight terms are fine */
    const char *eight = "early_stopping.monitor={\"val_r2.a\":1,\"val_r2.b\":1,\"val_r2.c\":1,\"val_r2.d\":1,"
                        "\"val_r2.e\":1,\"val_r2.f\":1,\"val_r2.g\":1,\"val_r2.h\":1}";
    load_ok(&c, MINIMAL, &eight, 1);
    assert_int_equal(c.early_stopping.monitor.n_terms, 8);
    st_config_free(&c);
}

/* mode "auto" on a weighted monitor: one direction, or an error asking for min / max. */
static void test_monitor_modes(void **state) {
    (void)state;
    st_run_config_t c;
    const char *mixed = "{\"val_accuracy.category\": 0.5, \"val_loss.tools\": 0.5}";
    char set[128];
    snprintf(set, sizeof set, "early_stopping.monitor=%s", mixed);
    const char *s1[] = {set};
    load_fails(MINIMAL, s1, 1, "t.json: early_stopping.monitor (--set early_stopping.monitor={\"val_accuracy.category\": "
               "0.5, \"val_loss.tools\": 0.5}): mode \"auto\" cannot tell the direction of 0.5*val_accuracy.category + "
               "0.5*val_loss.tools (lower is better for val_loss.tools, higher for val_accuracy.category): set "
               "early_stopping.mode to \"min\" or \"max\"");
    const char *s2[] = {set, "early_stopping.mode=min"};
    load_ok(&c, MINIMAL, s2, 2);
    assert_int_equal(c.early_stopping.monitor.mode_max, 0);
    assert_int_equal(c.checkpoint.monitor.mode_max, 0); /* follows with early_stopping's mode */
    st_config_free(&c);
    const char *s3[] = {"early_stopping.monitor={\"val_mae.reward\": 1, \"val_rmse.reward\": 2, \"val_loss\": 1}"};
    load_ok(&c, MINIMAL, s3, 1);
    assert_int_equal(c.early_stopping.monitor.mode_max, 0); /* all lower-is-better */
    st_config_free(&c);
    set_fails("early_stopping.monitor={\"val_loss\": -1}",
              "t.json: early_stopping.monitor (--set early_stopping.monitor={\"val_loss\": -1}): mode \"auto\" cannot "
              "tell the direction of -val_loss (the weight of val_loss is negative): set early_stopping.mode to \"min\" "
              "or \"max\"");

    /* checkpoint.monitor of its own: its own mode */
    char ck[128];
    snprintf(ck, sizeof ck, "checkpoint.monitor=%s", mixed);
    const char *s4[] = {ck};
    load_fails(MINIMAL, s4, 1, "t.json: checkpoint.monitor (--set checkpoint.monitor={\"val_accuracy.category\": 0.5, "
               "\"val_loss.tools\": 0.5}): mode \"auto\" cannot tell the direction of 0.5*val_accuracy.category + "
               "0.5*val_loss.tools (lower is better for val_loss.tools, higher for val_accuracy.category): set "
               "checkpoint.mode to \"min\" or \"max\"");
    const char *s5[] = {ck, "checkpoint.mode=max"};
    load_ok(&c, MINIMAL, s5, 2);
    assert_int_equal(c.checkpoint.monitor.mode_max, 1);
    assert_string_equal(c.early_stopping.monitor.text, "val_loss");
    assert_int_equal(c.early_stopping.monitor.mode_max, 0);
    st_config_free(&c);
    const char *s6[] = {"checkpoint.monitor=val_r2.reward"}; /* auto, another metric than early stopping's */
    load_ok(&c, MINIMAL, s6, 1);
    assert_int_equal(c.checkpoint.monitor.mode_max, 1);
    st_config_free(&c);
    const char *s7[] = {"early_stopping.mode=max", "checkpoint.mode=min"}; /* same metric, its own mode */
    load_ok(&c, MINIMAL, s7, 2);
    assert_int_equal(c.early_stopping.monitor.mode_max, 1);
    assert_int_equal(c.checkpoint.monitor.mode_max, 0);
    st_config_free(&c);
}

/* reduce_on_plateau takes the checkpoint monitor's direction unless the schedule gives a mode. */
static void test_plateau_direction(void **state) {
    (void)state;
    st_run_config_t c;
    const char *a[] = {"schedule={\"type\": \"reduce_on_plateau\"}", "early_stopping.monitor=" COMPOSITE};
    load_ok(&c, MINIMAL, a, 2);
    assert_int_equal(c.sched.type, ST_SCHED_PLATEAU);
    assert_int_equal(c.sched.mode_max, 1);
    st_config_free(&c);
    const char *b[] = {"schedule={\"type\": \"reduce_on_plateau\", \"mode\": \"min\"}", "early_stopping.monitor=" COMPOSITE};
    load_ok(&c, MINIMAL, b, 2);
    assert_int_equal(c.sched.mode_max, 0);
    st_config_free(&c);
    const char *d[] = {"schedule={\"type\": \"reduce_on_plateau\", \"warmup_fraction\": 0.1}",
                       "checkpoint.monitor=val_accuracy"};
    load_ok(&c, MINIMAL, d, 2);
    assert_int_equal(c.sched.mode_max, 1);
    st_error_t err = {0};
    assert_int_equal(st_config_set_total_steps(&c, 100, &err), ST_OK); /* parsed again: still follows */
    assert_int_equal(c.sched.mode_max, 1);
    st_config_free(&c);
    load_ok(&c, MINIMAL, a, 1); /* val_loss */
    assert_int_equal(c.sched.mode_max, 0);
    st_config_free(&c);
}

/* The two training-health keys for several heads. */
static void test_monitors_health_keys(void **state) {
    (void)state;
    st_run_config_t c;
    const char *sets[] = {"monitors.head_share_max=1", "monitors.gap_max=0"};
    load_ok(&c, MINIMAL, sets, 2);
    assert_true(c.monitors.head_share_max == 1 && c.monitors.gap_max == 0);
    st_config_free(&c);
    set_fails("monitors.head_share_max=0",
              "t.json: monitors.head_share_max (--set monitors.head_share_max=0): expected a number in (0, 1], got 0");
    set_fails("monitors.head_share_max=1.5",
              "t.json: monitors.head_share_max (--set monitors.head_share_max=1.5): expected a number in [0, 1], got 1.5");
    set_fails("monitors.gap_max=-1", "t.json: monitors.gap_max (--set monitors.gap_max=-1): expected a number >= 0, got -1");
}

/* st_monitor_check: the job's check that the run records every name the monitor needs. */
static void test_monitor_check(void **state) {
    (void)state;
    st_run_config_t c;
    const char *sets[] = {"early_stopping.monitor=" COMPOSITE};
    load_ok(&c, MINIMAL, sets, 1);
    const char *all[] = {"val_loss", "val_loss.category", "val_accuracy.category", "val_f1.tools", "val_r2.reward"};
    st_error_t err = {0};
    assert_int_equal(st_monitor_check(&c.early_stopping.monitor, "early_stopping.monitor", all, 5, &err), ST_OK);
    const char *no_reward[] = {"val_loss", "val_accuracy.category", "val_f1.tools", "val_mae.rewards"};
    assert_int_equal(st_monitor_check(&c.early_stopping.monitor, "early_stopping.monitor", no_reward, 4, &err),
                     ST_ERR_CONFIG);
    assert_string_equal(err.msg, "early_stopping.monitor: \"val_r2.reward\" is not recorded by this run; it records "
                                 "val_loss, val_accuracy.category, val_f1.tools, val_mae.rewards");
    assert_int_equal(st_monitor_check(&c.checkpoint.monitor, "checkpoint.monitor", NULL, 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "checkpoint.monitor: \"val_accuracy.category\" is not recorded by this run; it "
                                 "records no validation metrics");
    st_config_free(&c);
}

static void test_required(void **state) {
    (void)state;
    set_fails("name=null", "t.json: name (--set name=null): required key is missing");
    set_fails("data=null", "t.json: data (--set data=null): required key is missing");
    set_fails("data.path=null", "t.json: data.path (--set data.path=null): required key is missing");
    set_fails("train=null", "t.json: train (--set train=null): required key is missing");
    set_fails("train.epochs=null", "t.json: train.epochs (--set train.epochs=null): required key is missing");
    set_fails("train.batch_size=null", "t.json: train.batch_size (--set train.batch_size=null): required key is missing");
    set_fails("optimizer=null", "t.json: optimizer (--set optimizer=null): required key is missing");
    set_fails("optimizer.type=null", "t.json: optimizer.type (--set optimizer.type=null): required key is missing");
    set_fails("optimizer.lr=null", "t.json: optimizer.lr (--set optimizer.lr=null): required for optimizer type \"sgd\"");
    set_fails("model=null", "t.json: model (--set model=null): required key is missing");
    load_fails("{\"data\": {\"path\": \"x\"}}", NULL, 0, "t.json: name: required key is missing");
    load_fails("{\"name\": \"a\", \"data\": {}}", NULL, 0, "t.json: data.path: required key is missing");
}

static void test_types(void **state) {
    (void)state;
    load_fails("{\"name\": \"a\", \"data\": {\"path\": \"x\"}, \"train\": {\"epochs\": 1, \"batch_size\": \"abc\"}}", NULL, 0,
               "t.json: train.batch_size: expected a positive integer, got \"abc\"");
    set_fails("train.batch_size=abc",
              "t.json: train.batch_size (--set train.batch_size=abc): expected a positive integer, got \"abc\"");
    set_fails("train.epochs=2.5", "t.json: train.epochs (--set train.epochs=2.5): expected a positive integer, got 2.5");
    set_fails("seed=-1", "t.json: seed (--set seed=-1): expected a non-negative integer, got -1");
    set_fails("name=3", "t.json: name (--set name=3): expected a string, got 3");
    set_fails("name=a/b", "t.json: name (--set name=a/b): expected a folder name (not empty, no '/'), got \"a/b\"");
    set_fails("reproducible=slow",
              "t.json: reproducible (--set reproducible=slow): expected one of fast|exact, got \"slow\"");
    set_fails("data.standardize=1", "t.json: data.standardize (--set data.standardize=1): expected true, false, \"channel\", \"global\", \"position\" or \"none\", got 1");
    set_fails("data.path=3", "t.json: data.path (--set data.path=3): expected a string, got 3");
    set_fails("data.split.train=x",
              "t.json: data.split.train (--set data.split.train=x): expected a number in [0, 1], got \"x\"");
    set_fails("data=[1]", "t.json: data (--set data=[1]): expected an object, got [1]");
    set_fails("early_stopping.patience=0",
              "t.json: early_stopping.patience (--set early_stopping.patience=0): expected a positive integer, got 0");
    set_fails("early_stopping.monitor=val_acc",
              "t.json: early_stopping.monitor (--set early_stopping.monitor=val_acc): unknown metric \"val_acc\": "
              "expected val_<metric> or val_<metric>.<head> with <metric> one of loss, accuracy, macro_f1, f1, "
              "exact_match, topk, mae, rmse, r2, wer, cer, token_accuracy");
    set_fails("monitors.collapse_top_share=2",
              "t.json: monitors.collapse_top_share (--set monitors.collapse_top_share=2): expected a number in [0, 1], got 2");
    set_fails("model=3", "t.json: model (--set model=3): expected an object (docs/model.md), got 3");
    set_fails("loss=\"ce\"", "t.json: loss (--set loss=\"ce\"): expected an object or a non-empty list of objects, got \"ce\"");
    set_fails("loss=[]", "t.json: loss (--set loss=[]): expected an object or a non-empty list of objects, got []");
    set_fails("data.split={\"train\": 0.8, \"val\": 0.1, \"test\": 0.2}",
              "t.json: data.split (--set data.split={\"train\": 0.8, \"val\": 0.1, \"test\": 0.2}): train + val + test "
              "must be 1, got 0.8 + 0.1 + 0.2 = 1.1");
    set_fails("data.val_fraction=1",
              "t.json: data.val_fraction (--set data.val_fraction=1): expected a number in [0, 1), got 1");
    set_fails("train.accumulation_steps=3",
              "t.json: train.batch_size: batch_size 64 is not a multiple of accumulation_steps 3 (batch_size = shards x "
              "micro_batch x accumulation_steps); batch sizes that would fit: 63 or 66");
    load_fails("[1, 2]", NULL, 0, "t.json: expected a JSON object at the top level, got [1,2]");
}

static void test_unknown_keys(void **state) {
    (void)state;
    load_fails("{\"name\": \"a\", \"optimiser\": {}}", NULL, 0,
               "t.json: unknown key \"optimiser\" (did you mean \"optimizer\"?); known keys: name, seed, results_dir, "
               "reproducible, extends, data, train, optimizer, schedule, loss, model, early_stopping, checkpoint, monitors, augment, mixup, cutmix");
    load_fails("{\"name\": \"a\", \"data\": {\"path\": \"x\"}, \"train\": {\"epochs\": 1, \"bach_size\": 4}}", NULL, 0,
               "t.json: train: unknown key \"bach_size\" (did you mean \"batch_size\"?); known keys: epochs, batch_size, "
               "accumulation_steps, eval_every, clip_norm, threads, allow_oversubscribe, max_nonfinite_steps, divergence_check_every, log_every, "
               "stall_timeout, max_memory_mb");
    load_fails("{\"name\": \"a\", \"data\": {\"path\": \"x\", \"split\": {\"trian\": 1}}}", NULL, 0,
               "t.json: data.split: unknown key \"trian\" (did you mean \"train\"?); known keys: train, val, test");
    load_fails("{\"name\": \"a\", \"data\": {\"path\": \"x\", \"colour\": 1}}", NULL, 0,
               "t.json: data: unknown key \"colour\"; known keys: path, shards, val_fraction, standardize, scale_pixels, "
               "allow_nonfinite, stratify, ignore_groups, categorical_columns, bucket_by_length, bucket_window, repeat, order, window_rows, stream, memory_budget_mb, split_seed, split");
    /* the same through --set: checked before anything is applied */
    set_fails("optimiser.lr=1",
              "--set optimiser.lr=1: unknown key \"optimiser\" (did you mean \"optimizer\"?); known keys: name, seed, "
              "results_dir, reproducible, extends, data, train, optimizer, schedule, loss, model, early_stopping, checkpoint, monitors, augment, mixup, cutmix");
    set_fails("train.bach_size=3",
              "--set train.bach_size=3: train: unknown key \"bach_size\" (did you mean \"batch_size\"?); known keys: epochs, "
              "batch_size, accumulation_steps, eval_every, clip_norm, threads, allow_oversubscribe, max_nonfinite_steps, divergence_check_every, "
              "log_every, stall_timeout, max_memory_mb");
    set_fails("early_stoping.enabled=true",
              "--set early_stoping.enabled=true: unknown key \"early_stoping\" (did you mean \"early_stopping\"?); known "
              "keys: name, seed, results_dir, reproducible, extends, data, train, optimizer, schedule, loss, model, early_stopping, "
              "checkpoint, monitors, augment, mixup, cutmix");
    set_fails("optimizer.weight_decy=0.1",
              "--set optimizer.weight_decy=0.1: optimizer: unknown key \"weight_decy\" (did you mean \"weight_decay\"?); "
              "known keys: type, lr, momentum, nesterov, betas, eps, weight_decay, decay_norm_and_bias, groups");
    set_fails("schedule.warmup=10",
              "--set schedule.warmup=10: schedule: unknown key \"warmup\"; known keys: type, warmup_steps, warmup_fraction, warmup_epochs, "
              "warmup_start_factor, step_size, gamma, milestones, T_max, eta_min, total_steps, max_lr, pct_start, "
              "div_factor, final_div_factor, mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps");
}

static void test_optimizer_schedule_errors(void **state) {
    (void)state;
    set_fails("optimizer.type=adamm",
              "t.json: optimizer.type (--set optimizer.type=adamm): expected one of sgd|adam|adamw, got \"adamm\"");
    set_fails("optimizer.momentum=2",
              "t.json: optimizer.momentum (--set optimizer.momentum=2): expected a number in [0, 1], got 2");
    const char *groups[] = {"optimizer.groups=[{\"params\": \"*.bias\"}]", "optimizer.groups[0].lr_mult=x"};
    load_fails(MINIMAL, groups, 2,
               "t.json: optimizer.groups[0].lr_mult (--set optimizer.groups[0].lr_mult=x): expected a number >= 0, got \"x\"");
    set_fails("schedule={\"type\": \"step\"}",
              "t.json: schedule.step_size (--set schedule={\"type\": \"step\"}): required for schedule type \"step\"");
    set_fails("schedule.gamma=0.5", "t.json: schedule.gamma (--set schedule.gamma=0.5): not used by schedule type \"constant\"");
    set_fails("schedule.type=warmup_cosine",
              "t.json: schedule.warmup_steps: required (>= 1) for schedule type \"warmup_cosine\"");
    load_fails("{\"name\": \"a\", \"data\": {\"path\": \"x\"}, \"train\": {\"epochs\": 1, \"batch_size\": 4}, "
               "\"optimizer\": {\"type\": \"adam\", \"betas\": [0.9]}}",
               NULL, 0, "t.json: optimizer.betas: expected a list of 2 numbers in [0, 1)");
}

static void test_set_values(void **state) {
    (void)state;
    const char *sets[] = {
        "optimizer.lr=3e-4",                 /* number */
        "name=run2",                         /* bare string */
        "results_dir=\"out/1\"",             /* quoted string */
        "seed=42",
        "data.scale_pixels=true",            /* bool */
        "data.split.val=0.1",                /* nested section */
        "data.split.test=0.09",
        "model.layers[0].units=256",         /* array index */
        "model.layers[3]={\"type\": \"dropout\", \"rate\": 0.1}", /* append (index = length) */
        "early_stopping.enabled=true",       /* a section the file does not have */
        "schedule={\"type\": \"step\", \"step_size\": 10}",      /* an object */
        "optimizer.lr=1e-3",                 /* the last override wins */
    };
    st_run_config_t c;
    load_ok(&c, MINIMAL, sets, (int)(sizeof sets / sizeof sets[0]));
    assert_true(c.optim.lr == 1e-3);
    assert_string_equal(c.name, "run2");
    assert_string_equal(c.results_dir, "out/1");
    assert_int_equal(c.seed, 42);
    assert_int_equal(c.data.scale_pixels, 1);
    assert_true(c.data.split.val == 0.1 && c.data.split.test == 0.09);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c.model, "layers"), 0), "units")->valueint, 256);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c.model, "layers")), 4);
    assert_int_equal(c.early_stopping.enabled, 1);
    assert_int_equal(c.sched.type, ST_SCHED_STEP);
    assert_int_equal(c.sched.step_size, 10);
    st_config_free(&c);

    /* creating missing intermediate objects */
    cJSON *root = cJSON_Parse("{}");
    st_error_t err = {0};
    assert_int_equal(st_config_apply_set(root, "data.split.train=0.5", &err), ST_OK);
    assert_int_equal(st_config_apply_set(root, "optimizer.groups[0]={}", &err), ST_OK);
    assert_int_equal(st_config_apply_set(root, "optimizer.groups[0].params=*.bias", &err), ST_OK);
    assert_int_equal(st_config_apply_set(root, "name=", &err), ST_OK); /* empty: the empty string */
    char *txt = unformatted(root);
    assert_string_equal(txt, "{\"data\":{\"split\":{\"train\":0.5}},\"optimizer\":{\"groups\":[{\"params\":\"*.bias\"}]},\"name\":\"\"}");
    cJSON_free(txt);
    cJSON_Delete(root);
}

static void test_set_syntax(void **state) {
    (void)state;
    set_fails("train.epochs", "--set train.epochs: expected key.path=value (no equals sign)");
    set_fails("=3", "--set =3: expected key.path=value (empty key path)");
    set_fails("train..epochs=3", "--set train..epochs=3: bad key path \"train..epochs\" (expected key.key[index]...)");
    set_fails("model.layers[x].units=3",
              "--set model.layers[x].units=3: bad key path \"model.layers[x].units\" (expected key.key[index]...)");
    set_fails("model.layers[9].units=3", "--set model.layers[9].units=3: model.layers has 3 elements, no index 9");
    set_fails("model.layers.units=3", "--set model.layers.units=3: model.layers is not an object");
    set_fails("model.layers[0][1]=3", "--set model.layers[0][1]=3: model.layers[0] is not a list");
    set_fails("seed.x=1", "--set seed.x=1: seed is not an object");
    set_fails("train[0]=1", "--set train[0]=1: train is an object, not a list");
    set_fails("train.epochs.x=1", "--set train.epochs.x=1: train.epochs is not an object");
}

static void test_shards(void **state) {
    (void)state;
    st_run_config_t c;
    const char *a = "data.shards=auto", *i = "data.shards=4", *q = "data.shards=\"auto\"";
    load_ok(&c, MINIMAL, &a, 1);
    assert_int_equal(c.data.shards, 0);
    st_config_free(&c);
    load_ok(&c, MINIMAL, &q, 1);
    assert_int_equal(c.data.shards, 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c.json, "data"), "shards")->valuestring, "auto");
    st_config_free(&c);
    load_ok(&c, MINIMAL, &i, 1);
    assert_int_equal(c.data.shards, 4);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c.json, "data"), "shards")->valueint, 4);
    st_config_free(&c);
    set_fails("data.shards=0",
              "t.json: data.shards (--set data.shards=0): expected \"auto\" or an integer in [1, 16777216], got 0");
    set_fails("data.shards=many",
              "t.json: data.shards (--set data.shards=many): expected \"auto\" or an integer in [1, 16777216], got \"many\"");
    set_fails("data.shards=2.5",
              "t.json: data.shards (--set data.shards=2.5): expected \"auto\" or an integer in [1, 16777216], got 2.5");
    set_fails("data.shards=5",
              "t.json: data.shards (--set data.shards=5): batch_size 64 with accumulation_steps 1 cannot be cut into 5 "
              "shards (batch_size = shards x micro_batch x accumulation_steps); batch sizes that would fit: 60 or 65; "
              "shard counts that would "
              "fit (<= 64): 1, 2, 4, 8, 16, 32, 64");
}

static void test_diff(void **state) {
    (void)state;
    st_run_config_t a, b;
    load_ok(&a, MINIMAL, NULL, 0);
    const char *sets[] = {"train.epochs=50", "train.threads=4", "train.log_every=10", "train.stall_timeout=5", "train.batch_size=128",
                          "model.layers[0].units=16", "optimizer.momentum=0.9", "seed=1"};
    load_ok(&b, MINIMAL, sets, (int)(sizeof sets / sizeof sets[0]));
    char out[256];
    assert_int_equal(st_config_diff(a.json, a.json, out, sizeof out), ST_OK);
    assert_string_equal(out, "");
    assert_int_equal(st_config_diff(a.json, b.json, out, sizeof out), ST_ERR_CONFIG);
    assert_string_equal(out, "seed, train.batch_size, optimizer.momentum, model.layers[0].units");
    /* only the keys that may differ on resume: no difference */
    st_config_free(&b);
    load_ok(&b, MINIMAL, sets, 3);
    assert_int_equal(st_config_diff(a.json, b.json, out, sizeof out), ST_OK);
    /* lists of different length, a missing key, null = missing, a short buffer */
    cJSON *x = cJSON_Parse("{\"a\": [1, 2], \"b\": {\"c\": 1}, \"n\": null, \"s\": \"x\"}");
    cJSON *y = cJSON_Parse("{\"a\": [1, 2, 3], \"b\": {}, \"s\": \"x\", \"t\": true}");
    assert_int_equal(st_config_diff(x, y, out, sizeof out), ST_ERR_CONFIG);
    assert_string_equal(out, "a, b.c, t");
    char small[12];
    assert_int_equal(st_config_diff(x, y, small, sizeof small), ST_ERR_CONFIG);
    assert_string_equal(small, "a, b.c, ...");
    cJSON_Delete(x), cJSON_Delete(y);
    st_config_free(&a), st_config_free(&b);
}

static void test_round_trip(void **state) {
    (void)state;
    const char *files[] = {"configs/fashion_mlp.json", "configs/tiny_test.json"};
    for (int f = 0; f < 2; f++) {
        st_run_config_t a, b;
        st_error_t err = {0};
        if (st_config_load(files[f], NULL, 0, &a, &err) != ST_OK) fail_msg("%s", err.msg);
        char *txt = st_config_to_json(&a);
        assert_non_null(txt);
        if (st_config_from_json(txt, "config.json", NULL, 0, &b, &err) != ST_OK) fail_msg("%s", err.msg);
        char *txt2 = st_config_to_json(&b);
        assert_string_equal(txt, txt2);
        char out[256];
        assert_int_equal(st_config_diff(a.json, b.json, out, sizeof out), ST_OK);
        free(txt), free(txt2);
        st_config_free(&a), st_config_free(&b);
    }
}

static void test_shipped_configs(void **state) {
    (void)state;
    st_run_config_t c;
    st_error_t err = {0};
    if (st_config_load("configs/fashion_mlp.json", NULL, 0, &c, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_string_equal(c.name, "fashion_mlp");
    assert_string_equal(c.data.path, "data/fashion-mnist.h5");
    assert_int_equal(c.data.scale_pixels, 1);
    assert_int_equal(c.data.standardize, 1);
    assert_int_equal(c.optim.type, ST_OPTIM_ADAMW);
    assert_true(c.optim.lr == 1e-3 && c.optim.weight_decay == 0.01);
    assert_int_equal(c.sched.type, ST_SCHED_COSINE);
    assert_int_equal(c.sched_needs_total_steps, 1); /* warmup_epochs and the cosine need the run's length */
    assert_int_equal(c.sched.T_max, 0);
    assert_int_equal(c.train.epochs, 30);
    assert_int_equal(c.train.batch_size, 256);
    assert_int_equal(c.early_stopping.enabled, 1);
    assert_string_equal(c.early_stopping.monitor.text, "val_accuracy");
    assert_int_equal(c.early_stopping.monitor.mode_max, 1);
    assert_int_equal(c.early_stopping.patience, 8);
    assert_string_equal(c.checkpoint.monitor.text, "val_accuracy");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c.model, "layers")), 13);

    /* the trainer fills the run's length: 30 epochs x 210 steps */
    assert_int_equal(st_config_set_total_steps(&c, 6300, &err), ST_OK);
    assert_int_equal(c.sched_needs_total_steps, 0);
    assert_int_equal(c.sched.warmup_steps, 200); /* 0.952 epochs x 210 steps */
    assert_int_equal(c.sched.T_max, 6100);
    assert_int_equal(st_config_set_total_steps(&c, 100, &err), ST_OK); /* no-op now */
    assert_int_equal(c.sched.T_max, 6100);
    st_config_free(&c);

    /* its warmup is a fraction of the run, so it fits a small dataset's 150 steps too */
    if (st_config_load("configs/fashion_mlp.json", NULL, 0, &c, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(st_config_set_total_steps(&c, 150, &err), ST_OK);
    assert_true(c.sched.warmup_steps == 5 && c.sched.T_max == 145);
    st_config_free(&c);
    /* a warmup in steps does not */
    const char *steps = "schedule={\"type\": \"warmup_cosine\", \"warmup_steps\": 200}";
    if (st_config_load("configs/fashion_mlp.json", &steps, 1, &c, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(st_config_set_total_steps(&c, 150, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "schedule: a warmup of 200 steps does not fit this run of 150 optimizer steps "
                                 "(train.epochs 30 x 5 steps per epoch): give warmup_fraction or warmup_epochs (they "
                                 "scale with the data), fewer warmup steps, or more epochs");
    st_config_free(&c);

    const char *set = "data.path=build/tests/other.h5";
    if (st_config_load("configs/tiny_test.json", &set, 1, &c, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_string_equal(c.data.path, "build/tests/other.h5");
    assert_int_equal(c.reproducible_exact, 1);
    assert_int_equal(c.data.shards, 2);
    st_config_free(&c);
}

static void test_schedule_length(void **state) {
    (void)state;
    st_run_config_t c;
    st_error_t err = {0};
    const char *oc = "schedule={\"type\": \"one_cycle\"}";
    load_ok(&c, MINIMAL, &oc, 1);
    assert_int_equal(c.sched_needs_total_steps, 1);
    assert_int_equal(c.sched.total_steps, 0);
    assert_int_equal(st_config_set_total_steps(&c, 1000, &err), ST_OK);
    assert_int_equal(c.sched.total_steps, 1000);
    st_config_free(&c);
    const char *given = "schedule={\"type\": \"cosine\", \"T_max\": 50}";
    load_ok(&c, MINIMAL, &given, 1);
    assert_int_equal(c.sched_needs_total_steps, 0);
    assert_int_equal(c.sched.T_max, 50);
    assert_int_equal(st_config_set_total_steps(&c, 1000, &err), ST_OK);
    assert_int_equal(c.sched.T_max, 50);
    st_config_free(&c);
    const char *fraction = "schedule={\"type\": \"step\", \"step_size\": 10, \"warmup_fraction\": 0.1}";
    load_ok(&c, MINIMAL, &fraction, 1);
    assert_int_equal(c.sched_needs_total_steps, 1);
    assert_int_equal(st_config_set_total_steps(&c, 1000, &err), ST_OK);
    assert_int_equal(c.sched.warmup_steps, 100);
    st_config_free(&c);
}

/* optimizer.lr = 0 is refused when the config is loaded, naming the key (it was the schedule's
 * "schedule: the initial learning rate must be ..." once the data had been read);
 * train.allow_oversubscribe is a bool that may change on a resume. */
static void test_lr_and_oversubscribe(void **state) {
    (void)state;
    set_fails("optimizer.lr=0", "t.json: optimizer.lr (--set optimizer.lr=0): expected a finite number > 0 "
                                "(the schedule's initial learning rate), got 0");
    set_fails("train.allow_oversubscribe=1", "t.json: train.allow_oversubscribe (--set train.allow_oversubscribe=1): "
                                             "expected true or false, got 1");
    st_run_config_t a, b;
    load_ok(&a, MINIMAL, NULL, 0);
    const char *sets[] = {"train.allow_oversubscribe=true", "train.threads=4096"};
    load_ok(&b, MINIMAL, sets, 2);
    assert_int_equal(b.train.allow_oversubscribe, 1);
    assert_int_equal(b.train.threads, 4096);
    char out[64];
    assert_int_equal(st_config_diff(a.json, b.json, out, sizeof out), ST_OK);
    st_config_free(&a), st_config_free(&b);
}

static void test_files(void **state) {
    (void)state;
    st_run_config_t c;
    st_error_t err = {0};
    assert_int_equal(st_config_load("configs/no_such.json", NULL, 0, &c, &err), ST_ERR_IO);
    assert_string_equal(err.msg, "configs/no_such.json: cannot read: No such file or directory");
    load_fails("{\n  \"name\": \"a\",\n  \"seed\": 1,,\n}", NULL, 0, "t.json: not valid JSON at line 3, column 14");
    load_fails("", NULL, 0, "t.json: not valid JSON at line 1, column 1");
    load_fails("{\"name\": \"a\"} x", NULL, 0, "t.json: not valid JSON at line 1, column 15");
}

static void test_help(void **state) {
    (void)state;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    st_config_print_help(f, 1);
    fclose(f);
    assert_non_null(strstr(buf, "## Run config"));
    assert_non_null(strstr(buf, "### `data.split`"));
    assert_non_null(strstr(buf, "| `shards` | a positive integer | `\"auto\"` |"));
    assert_non_null(strstr(buf, "| `batch_size` | a positive integer | `required` |"));
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_monitors_resolved),
        cmocka_unit_test(test_monitor_names),
        cmocka_unit_test(test_monitor_composite),
        cmocka_unit_test(test_monitor_modes),
        cmocka_unit_test(test_plateau_direction),
        cmocka_unit_test(test_monitors_health_keys),
        cmocka_unit_test(test_monitor_check),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_optimizer_schedule_errors),
        cmocka_unit_test(test_set_values),
        cmocka_unit_test(test_set_syntax),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_schedule_length),
        cmocka_unit_test(test_lr_and_oversubscribe),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
