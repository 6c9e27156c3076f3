/* sbatch.h — `strata sbatch` and `strata plan` as library calls (the command line is
 * cli/cmd_sbatch.c): write a Slurm batch script for a run or a sweep and submit it, or print the
 * plan (nodes x ranks x threads for a config's dataset). docs/slurm-jobs.md.
 *
 * The request holds already-parsed values; messages go to the FILE streams given (`out`: the
 * script of a dry run, what was written and submitted; `log`: warnings, notes, and the plan's
 * reasoning on a dry run), errors come back as a status with a message. */
#ifndef ST_SBATCH_H
#define ST_SBATCH_H

#include <stdio.h>

#include "st_error.h"

typedef struct {
    const char *config;                   /* CONFIG.json */
    const char *const *overrides;         /* --set key.path=value, as strata train takes them */
    int n_overrides;
    const char *const *sweeps;            /* --sweep key=v1,v2,...: one axis each (a job array) */
    int n_sweeps;
    int nodes, ranks_per_node, threads;   /* 0: from the plan with auto_plan, else 1 */
    const char *time;                     /* Slurm's format; default "01:00:00" */
    const char *partition, *account, *mem; /* NULL: not set */
    const char *after;                    /* a job id to start after (afterok), or NULL */
    const char *launcher;                 /* "srun" (default) or "mpirun" */
    int grace_s;                          /* seconds between USR1 and the time limit; default 120 */
    int max_restarts;                     /* requeues after checkpointed preemptions; default 3 */
    int cpus_per_node;                    /* for the plan; 0: ST_PLAN_DEFAULT_CPUS_PER_NODE assumed */
    int dry_run;                          /* print the script to `out`, write and submit nothing */
    int auto_plan;                        /* nodes, ranks, threads not given come from the plan */
    int ensemble;                         /* > 0: --ensemble N: N members (seed + i, the config's split_seed) as a
                                           * job array, and a combining job afterok on it (docs/ensembles.md) */
} st_sbatch_request_t;

/* Zeroes the request and sets the defaults above. */
void st_sbatch_request_init(st_sbatch_request_t *req);

/* Checks the request's own values without reading a file: a config is named, the launcher, the
 * time limit's format, grace shorter than the time limit, the job id of `after`, the --sweep
 * axes (st_sweep_add). A failure here is a usage error; the message names the option. */
st_status_t st_sbatch_check(const st_sbatch_request_t *req, st_error_t *err);

/* Checks the request (st_sbatch_check), the config with its overrides (and each sweep task's),
 * ranks <= shards and the run or sweep folder's state before anything is written; then writes
 * the script (and sweep.json) next to or in the run folder, submits it with `sbatch` and prints
 * the job id and the folder to `out`. On a dry run prints the script to `out` instead. */
st_status_t st_sbatch_run(const st_sbatch_request_t *req, FILE *out, FILE *log, st_error_t *err);

/* Loads the config (with req->overrides) and prints the plan's reasoning and its options line
 * to `out`; uses req->config, overrides and cpus_per_node only. */
st_status_t st_plan_run(const st_sbatch_request_t *req, FILE *out, st_error_t *err);

#endif
