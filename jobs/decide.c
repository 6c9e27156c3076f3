/* decide.c — rank 0's decisions after an evaluation (see decide.h). */
#include "decide.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mpi/collectives.h"

void st_track_init(st_track_t *t, const st_run_config_t *cfg) {
    memset(t, 0, sizeof *t);
    t->es_best = cfg->early_stopping.monitor.mode_max ? -INFINITY : INFINITY;
    t->ck_best = cfg->checkpoint.monitor.mode_max ? -INFINITY : INFINITY;
}

void st_track_save(const st_track_t *t, double out[ST_TRACK_LEN]) {
    double v[ST_TRACK_LEN] = {t->es_best, t->es_bad, t->es_best_epoch, t->ck_best,
                              t->loss_sum, t->weight, t->correct, t->count};
    memcpy(out, v, sizeof v);
}

void st_track_load(st_track_t *t, const double *in, int n) {
    double v[ST_TRACK_LEN] = {0};
    memcpy(v, in, sizeof(double) * (size_t)(n < ST_TRACK_LEN ? n : ST_TRACK_LEN));
    t->es_best = v[0], t->es_bad = v[1], t->es_best_epoch = v[2], t->ck_best = v[3];
    t->loss_sum = v[4], t->weight = v[5], t->correct = v[6], t->count = v[7];
}

/* The recorded value of one metric, NaN when the epoch did not record it. */
static double metric_value(const char *name, const st_epoch_outcome_t *o) {
    for (int i = 0; i < o->n_metrics; i++)
        if (strcmp(o->metric_names[i], name) == 0) return o->metric_values[i];
    if (strcmp(name, "val_loss") == 0) return o->val_loss;
    if (strcmp(name, "val_accuracy") == 0) return o->val_accuracy;
    if (strcmp(name, "val_macro_f1") == 0) return o->val_macro_f1;
    return NAN;
}

double st_monitor_value(const st_monitor_spec_t *m, const st_epoch_outcome_t *o) {
    double sum = 0;
    for (int i = 0; i < m->n_terms; i++) sum += m->weight[i] * metric_value(m->name[i], o);
    return m->n_terms ? sum : NAN;
}

static int improves(double value, double best, int mode_max, double min_delta) {
    if (!isfinite(value)) return 0;
    return mode_max ? value > best + min_delta : value < best - min_delta;
}

static void early_stopping(st_track_t *t, const st_run_config_t *cfg, const st_epoch_outcome_t *o, st_decision_t *d) {
    const st_monitor_spec_t *m = &cfg->early_stopping.monitor;
    double v = st_monitor_value(m, o);
    if (improves(v, t->es_best, m->mode_max, cfg->early_stopping.min_delta)) {
        t->es_best = v, t->es_bad = 0, t->es_best_epoch = o->epoch;
        return;
    }
    t->es_bad += 1;
    if (cfg->early_stopping.enabled && t->es_bad >= cfg->early_stopping.patience) {
        d->stop = 1;
        snprintf(d->reason, sizeof d->reason, "early stopping: no %s improvement in %.0f evaluations (best %.4f at epoch %.0f)",
                 m->text, t->es_bad, t->es_best, t->es_best_epoch);
    }
}

st_decision_t st_decide(st_track_t *t, st_sched_t *sched, const st_run_config_t *cfg, const st_epoch_outcome_t *o) {
    st_decision_t d;
    memset(&d, 0, sizeof d);
    d.lr_base = sched->state.lr;
    if (o->evaluated) {
        early_stopping(t, cfg, o, &d);
        double v = st_monitor_value(&cfg->checkpoint.monitor, o);
        if (improves(v, t->ck_best, cfg->checkpoint.monitor.mode_max, 0.0)) {
            t->ck_best = v;
            d.save_best = cfg->checkpoint.best;
        }
        if (sched->cfg.type == ST_SCHED_PLATEAU && st_sched_observe(sched, v)) {
            d.lr_changed = 1;
            d.lr_base = sched->state.lr;
        }
    }
    long every = cfg->checkpoint.every_epochs;
    d.save_last = cfg->checkpoint.last && (o->last_epoch || d.stop || (every > 0 && o->epoch % every == 0));
    return d;
}

st_status_t st_decision_bcast(st_decision_t *d, const st_comm_t *c, st_error_t *err) {
    ST_TRY(st_bcast_bytes(d, (int)sizeof *d, c, err));
    d->reason[sizeof d->reason - 1] = '\0';
    return ST_OK;
}
