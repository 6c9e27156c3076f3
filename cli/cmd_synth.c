/* cmd_synth.c — `strata synth OUT --rows N --features D --classes K ...` (docs/data.md): a
 * synthetic, learnable classification dataset of any size (sharding/synth.h), written in
 * parallel when run under mpirun; `--ranks P` starts itself under `mpirun -np P`. Exit status:
 * 0 done, 1 a failure, 2 a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "sharding/synth.h"
#include "watchdog.h"

static st_status_t synth_on_ranks(void *ctx, const st_comm_t *c, st_error_t *err) {
    const st_synth_options_t *o = ctx;
    st_synth_summary_t sum;
    ST_TRY(st_synth_write(o, c->size > 1 ? c->comm : MPI_COMM_NULL, &sum, err));
    double mb = (double)sum.bytes / 1e6, s = sum.seconds > 0 ? sum.seconds : 1e-9;
    char shape[48];
    st_shape_str(o->shape, shape, sizeof shape);
    st_comm_print(c, stdout, "wrote %s: %lld rows of shape %s, %d classes (seed %llu)%s%s\n", o->out,
                  (long long)o->n_rows, shape, o->n_classes, (unsigned long long)o->seed,
                  o->lengths ? ", /lengths" : "", o->n_groups ? ", groups" : "");
    st_comm_print(c, stdout, "  %.1f MB %s in %.2f s on %d rank%s: %.0f rows/s, %.0f MB/s\n", mb,
                  o->format == ST_SYNTH_H5 ? "of /X" : "written", sum.seconds, sum.ranks, sum.ranks == 1 ? "" : "s",
                  (double)sum.n_rows / s, mb / s);
    return ST_OK;
}

/* Re-runs this command line, without --ranks, as `mpirun -np P ...`; returns its exit status. */
static int run_under_mpirun(const st_cli_t *cli, int P) {
    char exe[4096], np[16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return fprintf(stderr, "strata: cannot find the strata binary (/proc/self/exe)\n"), 1;
    exe[n] = '\0';
    snprintf(np, sizeof np, "%d", P);
    char **argv = calloc((size_t)cli->argc + 8, sizeof *argv);
    if (!argv) return fprintf(stderr, "strata: out of memory\n"), 1;
    int a = 0;
    argv[a++] = "mpirun", argv[a++] = "-np", argv[a++] = np, argv[a++] = "--oversubscribe", argv[a++] = "--bind-to",
    argv[a++] = "none", argv[a++] = exe;
    for (int i = 1; i < cli->argc; i++) {
        if (strcmp(cli->argv[i], "--ranks") == 0) i++;
        else if (strncmp(cli->argv[i], "--ranks=", 8) != 0) argv[a++] = cli->argv[i];
    }
    argv[a] = NULL;
    fflush(stdout);
    execvp("mpirun", argv);
    fprintf(stderr, "strata: cannot start mpirun for --ranks %d\n", P);
    free(argv);
    return 1;
}

/* --shape T,C or --features D (one of them) into o->shape. */
static int parse_shape(const st_cli_t *cli, const char *shape, int features, st_synth_options_t *o) {
    int T = 0, C = 0;
    char tail = 0;
    if (shape && features) return st_usage_error(cli, "give --features D or --shape T,C, not both");
    if (!shape && !features) return st_usage_error(cli, "--features D (or --shape T,C) is required");
    if (!shape) return o->shape = st_shape1(features), 0;
    if (sscanf(shape, "%d,%d%c", &T, &C, &tail) != 2 || T < 1 || C < 1)
        return st_usage_error(cli, "--shape %s: expected T,C (two positive integers, e.g. 28,28)", shape);
    o->shape = st_shape2(T, C);
    return 0;
}

int st_cmd_synth(const st_cli_t *cli) {
    const char *pos[1], *shape = NULL, *sep = NULL, *format = "h5";
    int rows = 0, features = 0, classes = 10, seed = 1, groups = 0, ranks = 1, stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    static st_synth_options_t o = {.separation = 4.0, .piece_mb = 16};
    const st_opt_t opts[] = {
        ST_OPTION_INT("--rows", &rows, 1, 0),
        ST_OPTION_INT("--features", &features, 1, 1 << 24),
        ST_OPTION_STRING("--shape", NULL, &shape, NULL),
        ST_OPTION_INT("--classes", &classes, 2, 65536),
        ST_OPTION_INT("--seed", &seed, 0, 0),
        ST_OPTION_STRING("--separation", NULL, &sep, NULL),
        ST_OPTION_FLAG("--lengths", &o.lengths),
        ST_OPTION_INT("--groups", &groups, 1, 0),
        ST_OPTION_STRING("--format", NULL, &format, NULL),
        ST_OPTION_INT("--piece-mb", &o.piece_mb, 1, 4096),
        ST_OPTION_INT("--ranks", &ranks, 1, 4096),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
    };
    st_opts_t spec = {opts, 12, pos, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (rows < 1) return st_usage_error(cli, "--rows N is required");
    if ((rc = parse_shape(cli, shape, features, &o)) != 0) return rc;
    char *end = NULL;
    if (sep && ((o.separation = strtod(sep, &end)), end == sep || *end))
        return st_usage_error(cli, "--separation %s: expected a number (class-mean distance in noise std units)", sep);
    int f = st_synth_format_parse(format);
    if (f < 0) return st_usage_error(cli, "--format %s: expected h5, csv or idx", format);
    o.out = pos[0], o.n_rows = rows, o.n_classes = classes, o.seed = (uint64_t)seed, o.n_groups = groups;
    o.format = (st_synth_format_t)f;
    st_error_t err = {0};
    if (st_synth_check(&o, &err) != ST_OK) return st_usage_error(cli, "%s", err.msg);
    if (ranks > 1 && !getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE")) return run_under_mpirun(cli, ranks);
    return st_cli_run_on_ranks(cli, stall_s, synth_on_ranks, &o);
}
