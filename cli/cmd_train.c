/* cmd_train.c — `strata train`: its options (cli/options.h), MPI start, config, the job, exit status.
 * Exit status: 0 done (also after --stop-after-steps), 1 a failure (message printed by the rank
 * that had it, and by rank 0), 2 a usage error, 3 stopped by SIGUSR1/SIGTERM after writing a
 * checkpoint (a batch script requeues on 3), 4 a stalled rank (the watchdog). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "jobs/config.h"
#include "jobs/signals.h"
#include "jobs/startup.h"
#include "jobs/train.h"
#include "cli/version.h"
#include "mpi/comm.h"
#include "threads.h"

typedef struct {
    const char *config;
    st_opt_list_t overrides; /* --set */
    const char *resume;
    int stop_after_steps;    /* 0 = run to the end */
} train_args_t;

static int parse(train_args_t *a, const st_cli_t *cli) {
    memset(a, 0, sizeof *a);
    const st_opt_t opts[] = {
        ST_OPTION_LIST("--set", &a->overrides, "--set needs key.path=value"),
        ST_OPTION_STRING("--resume", NULL, &a->resume, "--resume needs auto or a checkpoint path"),
        ST_OPTION_INT("--stop-after-steps", &a->stop_after_steps, 1, 0),
    };
    st_opts_t spec = {opts, 3, &a->config, 1, 1, 0};
    return st_opts_parse(&spec, cli);
}

/* Prints a failure once per cause: the rank that had it names itself; rank 0 always prints. */
static void report(const st_comm_t *c, const st_error_t *err) {
    int relayed = err->everywhere || (strncmp(err->msg, "rank ", 5) == 0 && strstr(err->msg, " failed (") != NULL);
    if (c->rank == 0) fprintf(stderr, "strata: %s\n", err->msg);
    else if (!relayed) fprintf(stderr, "[rank %d] strata: %s\n", c->rank, err->msg);
    fflush(stderr);
}

int st_cmd_train(const st_cli_t *cli) {
    st_startup_t startup;
    st_startup_begin(&startup, cli->main_entry_s);
    train_args_t a;
    int rc = parse(&a, cli);
    if (rc != ST_OPTS_RUN) return rc;
    int argc = cli->argc;
    char **argv = cli->argv;
    st_signals_install(); /* before MPI_Init, so a signal that arrives early is not lost */
    st_blis_info_t blis;
    st_blis_select(&blis); /* before any BLIS call */
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "strata: %s\n", err.msg), 1;
    st_startup_mark(&startup, ST_PHASE_MPI_INIT);
    if (c.rank == 0 && blis.warning[0]) fprintf(stderr, "strata: warning: %s\n", blis.warning);
    st_run_config_t cfg;
    st_status_t st = st_comm_agree(&c, st_config_load(a.config, a.overrides.items, a.overrides.n, &cfg, &err), &err);
    if (st != ST_OK) st_error_everywhere(&err); /* every rank read the same file: rank 0 alone says why */
    st_train_result_t res;
    if (st == ST_OK) {
        st_train_options_t opt = {a.resume, a.stop_after_steps, &blis, STRATA_VERSION, STRATA_COMMIT, &startup};
        st = st_train_run(&cfg, &c, &opt, &res, &err);
    }
    if (st != ST_OK) report(&c, &err);
    else if (c.rank == 0) {
        if (res.stopped_after_steps) printf("stopped after %d steps; continue with --resume auto\n", a.stop_after_steps);
        if (res.stopped_in_startup)
            printf("stopped during start-up (signal %d), before any step; start it again (--resume auto)\n",
                   st_signals_pending());
        else if (res.preempted) printf("preempted (signal %d): checkpointed; continue with --resume auto\n", st_signals_pending());
        printf("run folder: %s\n", res.run_dir[0] ? res.run_dir : "(not made yet)");
    }
    st_config_free(&cfg);
    st_error_t fin = {0};
    st_comm_finalize(&c, &fin);
    return st != ST_OK ? 1 : res.preempted ? 3 : 0;
}
