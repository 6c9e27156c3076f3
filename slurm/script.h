/* script.h — what `strata sbatch`, `strata plan` and the tests share about Slurm jobs:
 * the batch script's text, parameter sweeps (the cartesian product of --sweep options, one job
 * array task each) and the choice of nodes × ranks × threads for a dataset (docs/slurm-jobs.md).
 *
 * The script (st_slurm_script) is self-contained: every path in it is absolute, computed at
 * submission; it never builds anything and never refers to $HOME. It runs `strata train` as one
 * MPI step (srun --mpi=pmix, or mpirun) in the background, forwards SIGUSR1/SIGTERM to that step
 * as SIGUSR1 (the trainer then checkpoints and exits 3), and afterwards: exit 0 → done; exit 3 →
 * `scontrol requeue` while SLURM_RESTART_COUNT < max_restarts; anything else → that status, never
 * requeued. It passes `--resume auto` when the run folder exists and the job was requeued or the
 * folder holds checkpoints.
 *
 * No MPI and no printing here; only st_slurm_plan reads a file (the dataset's labels). */
#ifndef ST_SLURM_SCRIPT_H
#define ST_SLURM_SCRIPT_H

#include <stdint.h>

#include "jobs/config.h"
#include "sharding/inspect.h"
#include "st_error.h"

#define ST_SWEEP_MAX_AXES 16
#define ST_SWEEP_MAX_TASKS 1000 /* Slurm's default MaxArraySize is 1001: array indices 0..1000 */

/* ---- sweeps ------------------------------------------------------------------------------- */

/* Axes of a sweep; task ids enumerate the cartesian product with the FIRST axis varying slowest
 * (like nested loops in the order of the --sweep options). */
typedef struct {
    int n_axes;
    char *keys[ST_SWEEP_MAX_AXES];      /* "optimizer.lr" */
    char **values[ST_SWEEP_MAX_AXES];   /* [n_values[a]] value texts as given ("1e-3") */
    int n_values[ST_SWEEP_MAX_AXES];
    int n_tasks;                        /* product of n_values; 1 with no axes */
} st_sweep_t;

/* Adds the axis "key=v1,v2,...". Values are split at commas outside brackets, braces and double
 * quotes, so `--sweep 'model.layers[0]={"type": "dense", "units": 64},{...}'` works. Fails on a
 * missing '=' or key, an empty value, a key already swept, the keys "name" and "results_dir"
 * (the sweep sets them per task), or more than ST_SWEEP_MAX_TASKS tasks. */
st_status_t st_sweep_add(st_sweep_t *s, const char *arg, st_error_t *err);

/* The value text of axis `axis` in task `task` (0 <= task < n_tasks). */
const char *st_sweep_value(const st_sweep_t *s, int task, int axis);

void st_sweep_free(st_sweep_t *s);

/* ---- the batch script ----------------------------------------------------------------------- */

typedef enum { ST_LAUNCH_SRUN = 0, ST_LAUNCH_MPIRUN = 1 } st_launcher_t;

typedef struct {
    const char *job_name;               /* --job-name (characters Slurm dislikes are replaced) */
    int nodes, ranks_per_node, threads; /* threads = --cpus-per-task = OMP/BLIS_NUM_THREADS */
    const char *time;                   /* --time, Slurm's format */
    const char *partition, *account, *mem; /* NULL = line left out */
    int grace_s;                        /* --signal=B:USR1@grace_s */
    const char *after;                  /* --dependency=afterok:<after>; NULL = none */
    st_launcher_t launcher;
    int max_restarts;                   /* requeues allowed (SLURM_RESTART_COUNT < this) */
    /* absolute paths */
    const char *script_path;            /* where the script is written (named in its messages) */
    const char *workdir;                /* --chdir: the submission directory */
    const char *strata_bin;             /* bin/strata */
    const char *config;                 /* CONFIG.json */
    const char *output, *error;         /* --output / --error (Slurm filename patterns allowed) */
    const char *run_dir;                /* single run: <results_dir>/<name> */
    const char *sweep_dir;              /* sweep: task t runs in <sweep_dir>/<task_prefix>-<t> */
    const char *task_prefix;            /* NULL: "task"; an ensemble's array: "member" */
    /* the train command's overrides: all tasks, then (sweep) the task's own */
    const char *const *overrides;       /* [n_overrides] "key.path=value" */
    int n_overrides;
    const st_sweep_t *sweep;            /* NULL = a single run; else a job array of n_tasks */
} st_slurm_job_t;

/* The batch script's text (malloc'd, free with free()). Fails (ST_ERR_CONFIG) on a missing path,
 * a value that cannot go on an #SBATCH line (see st_slurm_check_path), or counts < 1. */
st_status_t st_slurm_script(char **text, const st_slurm_job_t *job, st_error_t *err);

/* The combining job of `strata sbatch --ensemble N` (docs/ensembles.md): one task that runs
 * `strata ensemble eval <ensemble_dir>/member-0 ... --data DATA --split test -o <ensemble_dir>/ensemble`
 * once every task of the members' job array has succeeded (--dependency=afterok:<array id>). */
typedef struct {
    const char *job_name;               /* the ensemble's name; the job is "<name>-combine" */
    int threads;
    const char *time, *partition, *account, *mem; /* as the members' job */
    const char *after;                  /* the members' array job id (or a placeholder on a dry run) */
    st_launcher_t launcher;
    const char *script_path, *workdir, *strata_bin, *output, *error; /* absolute */
    const char *ensemble_dir;           /* absolute: holds member-<i>/ */
    int members;
    const char *data;                   /* the dataset evaluated (its test split) */
} st_slurm_combine_t;

/* The combining job's script (malloc'd). Fails like st_slurm_script on values an #SBATCH line
 * cannot carry. */
st_status_t st_slurm_combine_script(char **text, const st_slurm_combine_t *job, st_error_t *err);

/* Fails when `path` holds a character an #SBATCH line cannot carry unquoted or that Slurm would
 * read as a filename pattern: white space, control characters, quotes, backslash, '%'. `what`
 * names it in the message. (st_slurm_script checks the submission directory so, and --output /
 * --error with '%' allowed: the caller checks the folder they are in.) */
st_status_t st_slurm_check_path(const char *path, const char *what, st_error_t *err);

/* Seconds of a Slurm time limit: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S"; -1 when the
 * text is not one of these. */
long st_slurm_time_seconds(const char *text);

/* ---- resources for a dataset -------------------------------------------------------------- */

#define ST_PLAN_MAX_LINES 8
#define ST_PLAN_DEFAULT_CPUS_PER_NODE 2

typedef struct {
    int64_t n_samples, n_train;
    int n_classes;
    st_phase_t phase;
    int n_shards, micro_batch, accumulation;
    int64_t batch_size;
    int cpus_per_node;
    int cpus_assumed;                   /* 1: cpus_per_node is the default, not given */
    int nodes, ranks_per_node, threads; /* the choice */
    int n_lines;
    char lines[ST_PLAN_MAX_LINES][480]; /* the reasoning, one line each */
} st_slurm_plan_t;

/* Reads the dataset of `cfg` (its sample count, labels and split), plans the shards from the
 * config's batch and picks nodes × ranks per node × threads:
 *   ranks: the largest count <= min(the phase's suggested maximum, the shard count) that divides
 *          the shards evenly and fits the node rule;
 *   nodes: phases 1–2 one node; phase 3 one node, two when the ranks exceed one node's CPUs;
 *          phase 4 at least two, more when the ranks need them (ranks per node <= CPUs per node);
 *   threads: max(1, cpus_per_node / ranks_per_node).
 * cpus_per_node <= 0 assumes ST_PLAN_DEFAULT_CPUS_PER_NODE. */
st_status_t st_slurm_plan(st_slurm_plan_t *plan, const st_run_config_t *cfg, int cpus_per_node, st_error_t *err);

/* The choice alone, from the fields n_samples.. cpus_per_node of `plan` (phase filled); fills
 * nodes, ranks_per_node, threads and the lines. Exposed for tests. */
void st_slurm_plan_choose(st_slurm_plan_t *plan);

#endif
