/* commands.h — the command table's row, what a command is given, and every command's handler.
 *
 * cli/main.c holds the one table (name, usage, help, handler: like git's git.c) and dispatches
 * through it; `strata help` and `strata <command> --help` print from it, so each usage text
 * exists once. A handler parses its arguments with cli/options.h, calls the library and turns
 * the status into the exit status: 0 done, 1 a failure, 2 a usage error (a command may add
 * others: `strata train` returns 3 and 4). A new command is a row and a function. */
#ifndef ST_COMMANDS_H
#define ST_COMMANDS_H

#include <stdio.h>

#include "mpi/comm.h"

typedef struct st_cli st_cli_t;

typedef struct {
    const char *name; /* "train", or "convert idx": a command with a sub-command is one row per pair */
    const char *args; /* the usage after the name; '\n' starts a continuation line */
    const char *help; /* what it does, one line (or a few, split by '\n') */
    int (*run)(const st_cli_t *cli);
} st_command_t;

/* The work of a command on MPI ranks: every rank calls it; a failure's message is in err. */
typedef st_status_t (*st_rank_work_fn)(void *ctx, const st_comm_t *c, st_error_t *err);

/* Starts MPI (cli's argc/argv), selects the BLIS kernels and each rank's threads, runs the stall
 * watchdog (stall_s < 0: none), calls work, prints its error once (rank 0), finalizes MPI.
 * Returns the exit status: 0 done, 1 a failure (cli/mpi_command.c). */
int st_cli_run_on_ranks(const st_cli_t *cli, int stall_s, st_rank_work_fn work, void *ctx);

struct st_cli {
    int argc;
    char **argv;             /* the whole command line (MPI_Init is given it) */
    int first;               /* argv[first] is the first argument after the command's name */
    const st_command_t *cmd; /* the row being run: its name and usage for messages */
    double main_entry_s;     /* st_clock_s() at main entry: the origin of run.json's "startup_s" */
};

/* "usage: strata NAME ARGS" (continuation lines indented), and with `with_help` the help lines. */
void st_command_usage(FILE *out, const st_command_t *cmd, int with_help);

/* The whole table, as `strata help` prints it. */
void st_commands_usage(FILE *out);

int st_cmd_train(const st_cli_t *cli);        /* cli/cmd_train.c */
int st_cmd_eval(const st_cli_t *cli);         /* cli/cmd_eval.c */
int st_cmd_predict(const st_cli_t *cli);      /* cli/cmd_predict.c */
int st_cmd_export(const st_cli_t *cli);       /* cli/cmd_export.c */
int st_cmd_verify(const st_cli_t *cli);       /* cli/cmd_verify.c */
int st_cmd_ensemble_train(const st_cli_t *cli); /* cli/cmd_ensemble.c */
int st_cmd_ensemble_eval(const st_cli_t *cli);  /* cli/cmd_ensemble.c */
int st_cmd_reproduce(const st_cli_t *cli);    /* cli/cmd_reproduce.c */
int st_cmd_sbatch(const st_cli_t *cli);       /* cli/cmd_sbatch.c */
int st_cmd_plan(const st_cli_t *cli);         /* cli/cmd_sbatch.c */
int st_cmd_sweep_report(const st_cli_t *cli); /* cli/cmd_sweep_report.c */
int st_cmd_info(const st_cli_t *cli);         /* cli/cmd_help.c */
int st_cmd_help(const st_cli_t *cli);         /* cli/cmd_help.c */
int st_cmd_convert_idx(const st_cli_t *cli);  /* cli/cmd_data.c */
int st_cmd_convert_csv(const st_cli_t *cli);  /* cli/cmd_data.c */
int st_cmd_inspect(const st_cli_t *cli);      /* cli/cmd_data.c */
int st_cmd_synth(const st_cli_t *cli);        /* cli/cmd_synth.c */
int st_cmd_convert_audio(const st_cli_t *cli); /* cli/cmd_audio.c */
int st_cmd_summary(const st_cli_t *cli);      /* cli/cmd_summary.c */
int st_cmd_report(const st_cli_t *cli);       /* cli/cmd_report.c */

#endif
