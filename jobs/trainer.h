/* trainer.h — the state of one training job, shared by the files that make it up (private to
 * jobs/): train.c (the epoch loop, validation, the end), train_setup.c (data, model, losses,
 * engine, schedule) and train_state.c (checkpoints, the run folder, resume, what rank 0
 * broadcasts). */
#ifndef ST_TRAINER_H
#define ST_TRAINER_H

#include "train.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "hash.h"
#include "jobs/checkpoint.h"
#include "jobs/decide.h"
#include "jobs/engine.h"
#include "jobs/evaluate.h"
#include "jobs/head_report.h"
#include "jobs/heads.h"
#include "jobs/progress.h"
#include "jobs/results.h"
#include "memory.h"
#include "metrics.h"
#include "watchdog.h"
#include "jobs/fault.h"
#include "mpi/collectives.h"
#include "sharding/fingerprint.h"
#include "jobs/signals.h"

#define EVAL_CHUNK ST_DATA_EVAL_ROWS

typedef struct {
    st_run_config_t *cfg;
    const st_comm_t *c;
    const st_train_options_t *opt;
    st_data_t data;
    st_model_t *model;
    st_loss_heads_t losses;
    st_optim_t *optim;
    st_sched_t sched;
    st_engine_t engine;
    st_track_t track;
    st_train_sums_t epoch_sums;         /* every loss's training sums this epoch (not checkpointed) */
    st_fault_t fault;
    int64_t epoch, step_in_epoch, global_step, nonfinite; /* where training stands */
    int64_t steps_per_epoch;
    int K;
    char run_dir[4096], ckpt_dir[4200], last_ckpt[4300];
    char fingerprint[17];
    char *config_text;                  /* resolved config (rank 0) */
    const char **class_names;           /* [K] views into data.ds */
    st_run_record_t record;             /* rank 0 */
    int have_record;
    int startup_recorded;               /* run.json has this launch's "startup_s" */
    int health_warned;                  /* rank 0 printed these health warnings: 1 head share, 2 gap */
} trainer_t;

/* Runs `what` on rank 0 and makes every rank agree on its status. */
#define RANK0(t, call, err) st_comm_agree((t)->c, (t)->c->rank == 0 ? (call) : ST_OK, (err))

/* train_setup.c: loads the data, builds and checks the model, losses (bound to their targets),
 * optimizer, engine and schedule. Collective. */
st_status_t st_trainer_build(trainer_t *t, st_error_t *err);

/* train_state.c: the run folder (new, or resumed from its newest checkpoint, which rank 0
 * reads and every rank receives). Collective. */
st_status_t st_trainer_open_run(trainer_t *t, st_error_t *err);
/* Rank 0: writes a checkpoint of kind `kind`. */
st_status_t st_trainer_save_checkpoint(trainer_t *t, st_ckpt_kind_t kind, st_error_t *err);
/* Rank 0's parameters and buffers to every rank. Collective. */
st_status_t st_trainer_bcast_arenas(trainer_t *t, st_error_t *err);

#endif
