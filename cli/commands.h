/* commands.h — the CLI commands that run under MPI (`train`, `eval`); main.c dispatches. */
#ifndef ST_COMMANDS_H
#define ST_COMMANDS_H

/* strata train CONFIG.json [--set key.path=value ...] [--resume auto|PATH] [--stop-after-steps N]
 * main_entry_s: st_clock_s() at main entry, the origin of run.json's "startup_s" (jobs/startup.h). */
int st_cmd_train(int argc, char **argv, double main_entry_s);

/* strata eval CHECKPOINT DATA.h5 [--split test|val|train|all] [--out DIR] */
int st_cmd_eval(int argc, char **argv);

/* strata verify CONFIG.json --steps N --ranks 1,2,4 [--set key.path=value ...] */
int st_cmd_verify(int argc, char **argv);

/* strata sbatch CONFIG.json [--nodes N] [--ranks-per-node R] [--threads T] [--time T] [--partition P]
 *   [--account A] [--mem M] [--grace S] [--after JOBID] [--launcher srun|mpirun] [--max-restarts K]
 *   [--dry-run] [--set key.path=value ...] [--sweep key=v1,v2,... ...] [--auto] [--cpus-per-node C]
 * (slurm/sbatch.c, docs/slurm-jobs.md) */
int st_cmd_sbatch(int argc, char **argv);

/* strata plan CONFIG.json [--set key.path=value ...] [--cpus-per-node C] (slurm/sbatch.c) */
int st_cmd_plan(int argc, char **argv);

/* strata sweep-report RUN_DIR|SWEEP_DIR ... (slurm/sweep_report.c) */
int st_cmd_sweep_report(int argc, char **argv);

#endif
