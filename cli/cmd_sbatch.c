/* cmd_sbatch.c — `strata sbatch` and `strata plan` on the command line: their option tables
 * (cli/options.h) fill an st_sbatch_request_t, and slurm/sbatch.h does the work. Exit status:
 * 0 submitted (or printed: --dry-run, plan), 1 a failure, 2 a usage error (an option's value
 * refused by st_sbatch_check included). docs/slurm-jobs.md. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "slurm/sbatch.h"

/* The options both commands take. */
#define COMMON_OPTS(r, sets)                                                                   \
    {"--set", NULL, ST_OPT_LIST, &(sets), "--set needs key.path=value", 0, 0},                \
    {"--cpus-per-node", NULL, ST_OPT_INT, &(r).cpus_per_node, NULL, 1, 1000000}

static int done(st_status_t st, const st_error_t *err) {
    if (st == ST_OK) return 0;
    fprintf(stderr, "strata: %s\n", err->msg);
    return 1;
}

int st_cmd_sbatch(const st_cli_t *cli) {
    st_sbatch_request_t r;
    st_sbatch_request_init(&r);
    st_opt_list_t sets = {.n = 0}, sweeps = {.n = 0};
    const st_opt_t opts[] = {
        COMMON_OPTS(r, sets),
        {"--sweep", NULL, ST_OPT_LIST, &sweeps, "--sweep needs key=v1,v2,...", 0, 0},
        {"--nodes", NULL, ST_OPT_INT, &r.nodes, NULL, 1, 1000000},
        {"--ranks-per-node", NULL, ST_OPT_INT, &r.ranks_per_node, NULL, 1, 1000000},
        {"--threads", NULL, ST_OPT_INT, &r.threads, NULL, 1, 1000000},
        {"--grace", NULL, ST_OPT_INT, &r.grace_s, NULL, 1, 1000000},
        {"--max-restarts", NULL, ST_OPT_INT, &r.max_restarts, NULL, 0, 1000000},
        {"--time", NULL, ST_OPT_STRING, &r.time, "missing value for --time", 0, 0},
        {"--partition", NULL, ST_OPT_STRING, &r.partition, "missing value for --partition", 0, 0},
        {"--account", NULL, ST_OPT_STRING, &r.account, "missing value for --account", 0, 0},
        {"--mem", NULL, ST_OPT_STRING, &r.mem, "missing value for --mem", 0, 0},
        {"--after", NULL, ST_OPT_STRING, &r.after, "missing value for --after", 0, 0},
        {"--launcher", NULL, ST_OPT_STRING, &r.launcher, "missing value for --launcher", 0, 0},
        {"--dry-run", NULL, ST_OPT_FLAG, &r.dry_run, NULL, 0, 0},
        {"--auto", NULL, ST_OPT_FLAG, &r.auto_plan, NULL, 0, 0},
    };
    st_opts_t spec = {opts, (int)(sizeof opts / sizeof opts[0]), &r.config, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    r.overrides = sets.items, r.n_overrides = sets.n;
    r.sweeps = sweeps.items, r.n_sweeps = sweeps.n;
    st_error_t err = {0};
    if (st_sbatch_check(&r, &err) != ST_OK) return st_usage_error(cli, "%s", err.msg);
    return done(st_sbatch_run(&r, stdout, stderr, &err), &err);
}

int st_cmd_plan(const st_cli_t *cli) {
    st_sbatch_request_t r;
    st_sbatch_request_init(&r);
    st_opt_list_t sets = {.n = 0};
    const st_opt_t opts[] = {COMMON_OPTS(r, sets)};
    st_opts_t spec = {opts, 2, &r.config, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    r.overrides = sets.items, r.n_overrides = sets.n;
    st_error_t err = {0};
    return done(st_plan_run(&r, stdout, &err), &err);
}
