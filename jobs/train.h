/* train.h — `strata train`: the distributed training job from a resolved config to a run folder.
 *
 * Every rank builds the same replica from the seed, trains on its shards (jobs/engine.h), and
 * applies what rank 0 decides after each evaluation (jobs/decide.h): LR changes, early stopping,
 * checkpoints. Rank 0 writes the run folder (jobs/results.h) and checkpoints
 * (jobs/checkpoint.h); on resume it reads the newest valid checkpoint and every rank receives its
 * state, so the run continues bit for bit (same P). */
#ifndef ST_TRAIN_H
#define ST_TRAIN_H

#include "jobs/config.h"
#include "jobs/startup.h"
#include "mpi/comm.h"
#include "threads.h"

typedef struct {
    const char *resume;          /* NULL: a new run; "auto": newest valid checkpoint; else a path */
    int64_t stop_after_steps;    /* > 0: checkpoint and stop after this many optimizer steps */
    const st_blis_info_t *blis;  /* kernels in use, for run.json */
    const char *version, *commit;
    st_startup_t *startup;       /* phase ends so far (origin: main entry), completed here and written
                                    to run.json "startup_s" after the first step; NULL: not recorded */
} st_train_options_t;

typedef struct {
    char run_dir[4096];
    int stopped_after_steps;     /* 1: --stop-after-steps ended the run */
    int preempted;               /* 1: a stop signal (SIGUSR1/SIGTERM) ended it, checkpointed (exit 3) */
    int stopped_in_startup;      /* 1: the signal came before the first step: nothing to save (also preempted) */
    int early_stopped;
    char final_split[8];         /* split of the final metrics: "test", "val" (no test split) or "" (neither) */
    double final_accuracy, final_loss, final_macro_f1;  /* the restored best model on final_split; NaN on "" */
} st_train_result_t;

/* Limits of a run's length: train.epochs × steps per epoch <= ST_TRAIN_MAX_STEPS (the
 * schedule's bound on total_steps) and train.epochs <= INT_MAX (the epoch line counts in int);
 * a longer run is refused at start naming train.epochs and the largest count that fits. */
#define ST_TRAIN_MAX_STEPS 1000000000000000LL

/* Collective. On failure every rank returns an error; rank 0's names the cause (and the rank). */
st_status_t st_train_run(st_run_config_t *cfg, const st_comm_t *c, const st_train_options_t *opt,
                         st_train_result_t *res, st_error_t *err);

#endif
