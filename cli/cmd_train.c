/* cmd_train.c — `strata train`: arguments, MPI start, config, the job, exit status.
 * Exit status: 0 done (also after --stop-after-steps), 1 a failure (message printed by the rank
 * that had it, and by rank 0), 2 a usage error, 3 stopped by SIGUSR1/SIGTERM after writing a
 * checkpoint (a batch script requeues on 3), 4 a stalled rank (the watchdog). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "jobs/config.h"
#include "jobs/signals.h"
#include "jobs/startup.h"
#include "jobs/train.h"
#include "cli/version.h"
#include "mpi/comm.h"
#include "threads.h"

typedef struct {
    const char *config;
    const char *overrides[256];
    int n_overrides;
    const char *resume;
    long long stop_after_steps;
} train_args_t;

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "strata train: %s%s%s\nusage: strata train CONFIG.json [--set key.path=value ...] "
            "[--resume auto|PATH] [--stop-after-steps N]\n", msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

/* Accepts "--opt value" and "--opt=value". */
static const char *option_value(const char *name, int argc, char **argv, int *i) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    return *i + 1 < argc ? argv[++*i] : "";
}

static int parse(train_args_t *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = option_value("--set", argc, argv, &i))) {
            if (!*v) return usage_error("--set needs key.path=value", NULL);
            if (a->n_overrides == 256) return usage_error("too many --set options", NULL);
            a->overrides[a->n_overrides++] = v;
        } else if ((v = option_value("--resume", argc, argv, &i))) {
            if (!*v) return usage_error("--resume needs auto or a checkpoint path", NULL);
            a->resume = v;
        } else if ((v = option_value("--stop-after-steps", argc, argv, &i))) {
            char *end;
            a->stop_after_steps = strtoll(v, &end, 10);
            if (!*v || *end || a->stop_after_steps < 1) return usage_error("--stop-after-steps needs a positive integer, got", v);
        } else if (argv[i][0] == '-') {
            return usage_error("unknown option", argv[i]);
        } else if (!a->config) {
            a->config = argv[i];
        } else {
            return usage_error("unexpected argument", argv[i]);
        }
    }
    return a->config ? 0 : usage_error("missing CONFIG.json", NULL);
}

/* Prints a failure once per cause: the rank that had it names itself; rank 0 always prints. */
static void report(const st_comm_t *c, const st_error_t *err) {
    int relayed = strncmp(err->msg, "rank ", 5) == 0 && strstr(err->msg, " failed (") != NULL;
    if (c->rank == 0) fprintf(stderr, "strata: %s\n", err->msg);
    else if (!relayed) fprintf(stderr, "[rank %d] strata: %s\n", c->rank, err->msg);
    fflush(stderr);
}

int st_cmd_train(int argc, char **argv, double main_entry_s) {
    st_startup_t startup;
    st_startup_begin(&startup, main_entry_s);
    train_args_t a;
    int rc = parse(&a, argc, argv);
    if (rc) return rc;
    st_signals_install(); /* before MPI_Init, so a signal that arrives early is not lost */
    st_blis_info_t blis;
    st_blis_select(&blis); /* before any BLIS call */
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "strata: %s\n", err.msg), 1;
    st_startup_mark(&startup, ST_PHASE_MPI_INIT);
    if (c.rank == 0 && blis.warning[0]) fprintf(stderr, "strata: warning: %s\n", blis.warning);
    st_run_config_t cfg;
    st_status_t st = st_comm_agree(&c, st_config_load(a.config, a.overrides, a.n_overrides, &cfg, &err), &err);
    st_train_result_t res;
    if (st == ST_OK) {
        st_train_options_t opt = {a.resume, a.stop_after_steps, &blis, STRATA_VERSION, STRATA_COMMIT, &startup};
        st = st_train_run(&cfg, &c, &opt, &res, &err);
    }
    if (st != ST_OK) report(&c, &err);
    else if (c.rank == 0) {
        if (res.stopped_after_steps) printf("stopped after %lld steps; continue with --resume auto\n", a.stop_after_steps);
        if (res.preempted) printf("preempted (signal %d): checkpointed; continue with --resume auto\n", st_signals_pending());
        printf("run folder: %s\n", res.run_dir);
    }
    st_config_free(&cfg);
    st_error_t fin = {0};
    st_comm_finalize(&c, &fin);
    return st != ST_OK ? 1 : res.preempted ? 3 : 0;
}
