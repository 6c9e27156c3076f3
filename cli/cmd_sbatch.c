/* cmd_sbatch.c — `strata sbatch` and `strata plan` on the command line: their option tables
 * (cli/options.h) fill an st_sbatch_request_t, and slurm/sbatch.h does the work. Exit status:
 * 0 submitted (or printed: --dry-run, plan), 1 a failure, 2 a usage error (an option's value
 * refused by st_sbatch_check included). docs/slurm-jobs.md. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "slurm/sbatch.h"

/* The options both commands take. */
#define COMMON_OPTIONS(r, sets)                                            \
    ST_OPTION_LIST("--set", &(sets), "--set needs key.path=value"),        \
    ST_OPTION_INT("--cpus-per-node", &(r).cpus_per_node, 1, 1000000)

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
        COMMON_OPTIONS(r, sets),
        ST_OPTION_LIST("--sweep", &sweeps, "--sweep needs key=v1,v2,..."),
        ST_OPTION_INT("--nodes", &r.nodes, 1, 1000000),
        ST_OPTION_INT("--ranks-per-node", &r.ranks_per_node, 1, 1000000),
        ST_OPTION_INT("--threads", &r.threads, 1, 1000000),
        ST_OPTION_INT("--grace", &r.grace_s, 1, 1000000),
        ST_OPTION_INT("--max-restarts", &r.max_restarts, 0, 1000000),
        ST_OPTION_STRING("--time", NULL, &r.time, NULL),
        ST_OPTION_STRING("--partition", NULL, &r.partition, NULL),
        ST_OPTION_STRING("--account", NULL, &r.account, NULL),
        ST_OPTION_STRING("--mem", NULL, &r.mem, NULL),
        ST_OPTION_STRING("--after", NULL, &r.after, NULL),
        ST_OPTION_STRING("--launcher", NULL, &r.launcher, NULL),
        ST_OPTION_FLAG("--dry-run", &r.dry_run),
        ST_OPTION_FLAG("--auto", &r.auto_plan),
        ST_OPTION_INT("--ensemble", &r.ensemble, 1, 1000000),
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
    const st_opt_t opts[] = {COMMON_OPTIONS(r, sets)};
    st_opts_t spec = {opts, 2, &r.config, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    r.overrides = sets.items, r.n_overrides = sets.n;
    st_error_t err = {0};
    return done(st_plan_run(&r, stdout, &err), &err);
}
