/* test_decide.c — rank 0's decisions (jobs/decide.h) over recorded metrics: st_monitor_value on a
 * name and on a weighted sum (a missing term is NaN; the outcome's val_loss / val_accuracy /
 * val_macro_f1 fields still answer), early stopping, the best checkpoint and reduce-on-plateau
 * driven epoch by epoch by given values, where the weighted sum and its terms disagree. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jobs/config.h"
#include "jobs/decide.h"

static const char *MINIMAL =
    "{\"name\": \"t\", \"data\": {\"path\": \"d.h5\"}, \"train\": {\"epochs\": 20, \"batch_size\": 64},"
    " \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1}, \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 2}]}}";

#define COMPOSITE "{\"val_accuracy.category\": 0.5, \"val_f1.tools\": 0.3, \"val_r2.reward\": 0.2}"

/* The metric names a two-head run records (the lead's jobs/train.c writes these to history.jsonl). */
static const char NAMES[5][64] = {"val_loss", "val_loss.category", "val_accuracy.category", "val_f1.tools",
                                  "val_r2.reward"};

static void load(st_run_config_t *cfg, const char *const *sets, int n_sets) {
    st_error_t err = {0};
    if (st_config_from_json(MINIMAL, "t.json", sets, n_sets, cfg, &err) != ST_OK) fail_msg("config: %s", err.msg);
}

static void start(st_track_t *t, st_sched_t *s, const st_run_config_t *cfg) {
    st_error_t err = {0};
    if (st_sched_init(s, &cfg->sched, cfg->optim.lr, &err) != ST_OK) fail_msg("st_sched_init: %s", err.msg);
    st_track_init(t, cfg);
}

/* An evaluated epoch whose recorded metrics are NAMES with values v[5]. */
static st_epoch_outcome_t outcome(int epoch, const double *v, int n_metrics) {
    return (st_epoch_outcome_t){.evaluated = 1, .val_loss = v[0], .val_accuracy = NAN, .val_macro_f1 = NAN,
                                .epoch = epoch, .last_epoch = epoch == 20, .n_metrics = n_metrics,
                                .metric_names = NAMES, .metric_values = v};
}

static void test_monitor_value(void **state) {
    (void)state;
    st_run_config_t cfg;
    const char *sets[] = {"early_stopping.monitor=" COMPOSITE};
    load(&cfg, sets, 1);
    const st_monitor_spec_t *m = &cfg.early_stopping.monitor;
    double v[5] = {0.9, 0.7, 0.8, 0.6, 0.5};
    st_epoch_outcome_t o = outcome(1, v, 5);
    assert_true(fabs(st_monitor_value(m, &o) - (0.5 * 0.8 + 0.3 * 0.6 + 0.2 * 0.5)) < 1e-15);
    o.n_metrics = 4; /* val_r2.reward not recorded: NaN, not the sum of the others */
    assert_true(isnan(st_monitor_value(m, &o)));
    st_config_free(&cfg);

    /* a plain name: the recorded list first, then the outcome's own fields */
    const char *acc[] = {"early_stopping.monitor=val_accuracy"};
    load(&cfg, acc, 1);
    st_epoch_outcome_t legacy = {.evaluated = 1, .val_loss = 0.4, .val_accuracy = 0.85, .val_macro_f1 = 0.8, .epoch = 1};
    assert_true(st_monitor_value(&cfg.early_stopping.monitor, &legacy) == 0.85);
    static const char one[1][64] = {"val_accuracy"};
    double recorded = 0.9;
    legacy.n_metrics = 1, legacy.metric_names = one, legacy.metric_values = &recorded;
    assert_true(st_monitor_value(&cfg.early_stopping.monitor, &legacy) == 0.9);
    st_config_free(&cfg);
    const char *head[] = {"early_stopping.monitor=val_mae.reward"};
    load(&cfg, head, 1);
    assert_true(isnan(st_monitor_value(&cfg.early_stopping.monitor, &legacy)));
    st_config_free(&cfg);
}

/* Accuracy, F1 and R² of epochs 1..6: the weighted sum peaks at epoch 3 (0.635) while accuracy
 * alone keeps rising. */
static const double RUN[6][3] = {{0.60, 0.50, 0.20}, {0.70, 0.55, 0.30}, {0.75, 0.60, 0.40},
                                 {0.80, 0.40, 0.30}, {0.85, 0.35, 0.35}, {0.90, 0.30, 0.30}};

/* Runs the epochs of RUN until a stop; returns the epoch it stopped at (0: none) and marks the
 * epochs that saved best.h5 in saved[]. */
static int run(const st_run_config_t *cfg, int saved[6], char *reason, size_t size, double *lr_out) {
    st_track_t t;
    st_sched_t s;
    start(&t, &s, cfg);
    for (int e = 1; e <= 6; e++) {
        double v[5] = {1.0 - RUN[e - 1][0], 1.0 - RUN[e - 1][0], RUN[e - 1][0], RUN[e - 1][1], RUN[e - 1][2]};
        st_epoch_outcome_t o = outcome(e, v, 5);
        st_decision_t d = st_decide(&t, &s, cfg, &o);
        saved[e - 1] = d.save_best;
        if (d.lr_changed) s.state.lr = d.lr_base;
        if (lr_out) lr_out[e - 1] = s.state.lr;
        if (d.stop) {
            snprintf(reason, size, "%s", d.reason);
            return e;
        }
    }
    return 0;
}

static void test_early_stopping_composite(void **state) {
    (void)state;
    st_run_config_t cfg;
    const char *sets[] = {"early_stopping.monitor=" COMPOSITE, "early_stopping.enabled=true", "early_stopping.patience=2"};
    load(&cfg, sets, 3);
    int saved[6];
    char reason[400] = "";
    assert_int_equal(run(&cfg, saved, reason, sizeof reason, NULL), 5); /* epochs 4 and 5 below 0.635 */
    int want[5] = {1, 1, 1, 0, 0};
    for (int e = 0; e < 5; e++)
        if (saved[e] != want[e]) fail_msg("epoch %d: save_best %d, want %d", e + 1, saved[e], want[e]);
    assert_string_equal(reason, "early stopping: no 0.5*val_accuracy.category + 0.3*val_f1.tools + 0.2*val_r2.reward "
                                "improvement in 2 evaluations (best 0.6350 at epoch 3)");
    st_config_free(&cfg);

    /* the same run watched by accuracy alone does not stop */
    const char *acc[] = {"early_stopping.monitor=val_accuracy.category", "early_stopping.enabled=true",
                         "early_stopping.patience=2"};
    load(&cfg, acc, 3);
    assert_int_equal(run(&cfg, saved, reason, sizeof reason, NULL), 0);
    st_config_free(&cfg);

    /* a lower-is-better sum: val_loss.category is 1 - accuracy, so it keeps falling: no stop */
    const char *loss[] = {"early_stopping.monitor={\"val_loss.category\": 2, \"val_loss\": 1}", "early_stopping.enabled=true",
                          "early_stopping.patience=2"};
    load(&cfg, loss, 3);
    assert_int_equal(cfg.early_stopping.monitor.mode_max, 0);
    assert_int_equal(run(&cfg, saved, reason, sizeof reason, NULL), 0);
    for (int e = 0; e < 6; e++) assert_int_equal(saved[e], 1);
    st_config_free(&cfg);
}

/* A term the run does not record: the sum is NaN, never an improvement. */
static void test_missing_term(void **state) {
    (void)state;
    st_run_config_t cfg;
    const char *sets[] = {"early_stopping.monitor={\"val_accuracy.category\": 1, \"val_r2.rewards\": 1}",
                          "early_stopping.enabled=true", "early_stopping.patience=2"};
    load(&cfg, sets, 3);
    int saved[6];
    char reason[400] = "";
    assert_int_equal(run(&cfg, saved, reason, sizeof reason, NULL), 2);
    assert_int_equal(saved[0] + saved[1], 0);
    st_config_free(&cfg);
}

/* The best checkpoint follows its own monitor; reduce-on-plateau follows the checkpoint monitor
 * and its direction (max here; the schedule gives no mode). */
static void test_checkpoint_and_plateau(void **state) {
    (void)state;
    st_run_config_t cfg;
    const char *sets[] = {"checkpoint.monitor=" COMPOSITE,
                          "schedule={\"type\": \"reduce_on_plateau\", \"patience\": 1, \"factor\": 0.5, \"threshold\": 0}"};
    load(&cfg, sets, 2);
    assert_string_equal(cfg.early_stopping.monitor.text, "val_loss");
    int saved[6];
    double lr[6];
    char reason[400] = "";
    assert_int_equal(run(&cfg, saved, reason, sizeof reason, lr), 0); /* early stopping off */
    int want[6] = {1, 1, 1, 0, 0, 0};
    for (int e = 0; e < 6; e++)
        if (saved[e] != want[e]) fail_msg("epoch %d: save_best %d, want %d", e + 1, saved[e], want[e]);
    /* sums 0.49 0.575 0.635 0.58 0.60 0.60: two evaluations without improvement (4, 5) -> halved
     * after epoch 5 (patience 1: the second bad one reduces) */
    double want_lr[6] = {0.1, 0.1, 0.1, 0.1, 0.05, 0.05};
    for (int e = 0; e < 6; e++)
        if (fabs(lr[e] - want_lr[e]) > 1e-15) fail_msg("epoch %d: lr %g, want %g", e + 1, lr[e], want_lr[e]);
    st_config_free(&cfg);
}

/* An epoch without a validation pass decides nothing about monitors. */
static void test_not_evaluated(void **state) {
    (void)state;
    st_run_config_t cfg;
    const char *sets[] = {"early_stopping.monitor=" COMPOSITE, "early_stopping.enabled=true", "early_stopping.patience=1"};
    load(&cfg, sets, 3);
    st_track_t t;
    st_sched_t s;
    start(&t, &s, &cfg);
    double v[5] = {0.5, 0.5, 0.6, 0.6, 0.6};
    st_epoch_outcome_t o = outcome(1, v, 5);
    o.evaluated = 0;
    for (int e = 1; e <= 3; e++) {
        o.epoch = e;
        st_decision_t d = st_decide(&t, &s, &cfg, &o);
        assert_int_equal(d.stop + d.save_best, 0);
    }
    assert_true(t.es_bad == 0 && isinf(t.es_best) && t.es_best < 0);
    st_config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor_value),
        cmocka_unit_test(test_early_stopping_composite),
        cmocka_unit_test(test_missing_term),
        cmocka_unit_test(test_checkpoint_and_plateau),
        cmocka_unit_test(test_not_evaluated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
