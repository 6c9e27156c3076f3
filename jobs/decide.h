/* decide.h — what rank 0 decides after an evaluation: early stopping, the best checkpoint,
 * reduce-on-plateau, and when to write a step checkpoint; plus the small training state that a
 * checkpoint carries besides the arenas (early-stopping counters, the epoch's running sums).
 *
 * Rules:
 *   - a monitor (st_monitor_spec_t, jobs/config.h) is one recorded validation metric or a
 *     weighted sum of them, read from the epoch's outcome by st_monitor_value;
 *   - a value improves on the best when it is better by more than min_delta in the monitor's
 *     direction (mode_max); a NaN (a term the run did not record) never improves;
 *   - early stopping stops after `patience` evaluations in a row without improvement;
 *   - best.h5 is written when the checkpoint monitor improves (min_delta 0);
 *   - reduce_on_plateau observes the checkpoint monitor (which defaults to the early-stopping
 *     monitor) once per evaluation;
 *   - a step checkpoint is written every checkpoint.every_epochs epochs, at the last epoch and
 *     when training stops (when checkpoint.last). */
#ifndef ST_DECIDE_H
#define ST_DECIDE_H

#include "jobs/config.h"
#include "mpi/comm.h"
#include "schedule.h"

/* What rank 0 decided after an evaluation or at a step; every rank applies it. */
typedef struct {
    int32_t stop;           /* 1: end training after this point (early stopping, stop request) */
    int32_t save_last;      /* 1: write a step checkpoint now */
    int32_t save_best;      /* 1: this is the best model so far: write best.h5 */
    int32_t lr_changed;     /* 1: reduce-on-plateau changed the base rate to lr_base */
    double lr_base;         /* the base learning rate from now on (plateau schedules) */
    char reason[384];       /* why stop ("early stopping: no val_accuracy improvement in 8 evaluations") */
} st_decision_t;

/* Rank 0's *d goes to every rank (one broadcast). Collective. */
st_status_t st_decision_bcast(st_decision_t *d, const st_comm_t *c, st_error_t *err);

typedef struct {
    double es_best;          /* best early-stopping monitor value (±inf before the first) */
    double es_bad;           /* evaluations in a row without improvement */
    double es_best_epoch;    /* 1-based epoch of es_best (0: none) */
    double ck_best;          /* best checkpoint monitor value */
    double loss_sum, weight; /* this epoch's training sums so far (all ranks, reduced) */
    double correct, count;
} st_track_t;

#define ST_TRACK_LEN 8

void st_track_init(st_track_t *t, const st_run_config_t *cfg);
void st_track_save(const st_track_t *t, double out[ST_TRACK_LEN]);
void st_track_load(st_track_t *t, const double *in, int n);

typedef struct {
    int evaluated;           /* a validation pass ran this epoch */
    double val_loss, val_accuracy, val_macro_f1;
    int epoch, last_epoch;   /* 1-based epoch; 1 when it is the run's last */
    int n_metrics;           /* the validation metrics recorded this epoch (history.jsonl's names): */
    const char (*metric_names)[64]; /* [n_metrics] "val_loss", "val_accuracy.category", "val_r2.reward" */
    const double *metric_values;    /* [n_metrics] */
} st_epoch_outcome_t;

/* Rank 0: updates the tracking state and the schedule, returns the decision to broadcast. */
st_decision_t st_decide(st_track_t *t, st_sched_t *sched, const st_run_config_t *cfg, const st_epoch_outcome_t *o);

/* Σ weight·value over m's terms; a term's value is looked up in o->metric_names, then (val_loss,
 * val_accuracy, val_macro_f1) in the fields of the same name; NaN when a term is missing. */
double st_monitor_value(const st_monitor_spec_t *m, const st_epoch_outcome_t *o);

#endif
