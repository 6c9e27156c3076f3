/* cmd_verify.c — `strata verify CONFIG.json --steps N --ranks 1,2,4 [--set key=value ...]`:
 * runs the first N optimizer steps of a config at each rank count (mpirun, one thread per rank,
 * in a temporary results folder), with every rank-0 step traced as a hash of every tensor
 * (STRATA_TRACE), and reports the first step and tensor where a rank count differs from the
 * first one. Exit 0 when all agree bit for bit, 1 when they differ, 2 on a usage error. With
 * `reproducible: "exact"` they agree; in "fast" mode they usually differ after the first step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"

typedef struct {
    const char *config;
    int steps;
    int ranks[16], n_ranks;
    char sets[4096]; /* " --set 'k=v'" for each --set */
} verify_args_t;

/* "1,2,4" into a->ranks; -1 unless 2 to 16 counts, each >= 1. */
static int parse_ranks(verify_args_t *a, const char *text) {
    char list[256], *save = NULL;
    snprintf(list, sizeof list, "%s", text);
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long r = strtol(tok, &end, 10);
        if (*end || r < 1 || r > 1000000 || a->n_ranks == 16) return -1;
        a->ranks[a->n_ranks++] = (int)r;
    }
    return a->n_ranks >= 2 ? 0 : -1;
}

static int parse(verify_args_t *a, const st_cli_t *cli) {
    memset(a, 0, sizeof *a);
    const char *ranks = NULL;
    st_opt_list_t sets = {.n = 0};
    const st_opt_t opts[] = {
        ST_OPTION_INT("--steps", &a->steps, 1, 0),
        ST_OPTION_STRING("--ranks", NULL, &ranks, "--ranks needs a list of rank counts, 1,2,4"),
        ST_OPTION_LIST("--set", &sets, "--set needs key.path=value"),
    };
    st_opts_t spec = {opts, 3, &a->config, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (a->steps < 1) return st_usage_error(cli, "--steps N is required");
    if (!ranks || parse_ranks(a, ranks) != 0)
        return st_usage_error(cli, "--ranks needs 2 to 16 rank counts >= 1, like 1,2,4; got %s", ranks ? ranks : "nothing");
    for (int i = 0; i < sets.n; i++) {
        size_t len = strlen(a->sets);
        snprintf(a->sets + len, sizeof a->sets - len, " --set '%s'", sets.items[i]);
    }
    return ST_OPTS_RUN;
}

static int run_at(const verify_args_t *a, const char *dir, int P) {
    char exe[1024], cmd[8192];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    snprintf(cmd, sizeof cmd,
             "STRATA_TRACE=%s/trace-%d.txt STRATA_PROGRESS=never mpirun -np %d --oversubscribe --bind-to none '%s' train "
             "'%s' --set name=verify-%d --set 'results_dir=%s' --set train.threads=1%s --stop-after-steps %d > %s/log-%d.txt 2>&1",
             dir, P, P, exe, a->config, P, dir, a->sets, a->steps, dir, P);
    return system(cmd);
}

/* Compares trace lines; prints the first difference. Returns 1 when they differ. */
static int compare(const char *dir, int P0, int P1, int steps) {
    char p0[4200], p1[4200], l0[16384], l1[16384];
    snprintf(p0, sizeof p0, "%s/trace-%d.txt", dir, P0);
    snprintf(p1, sizeof p1, "%s/trace-%d.txt", dir, P1);
    FILE *f0 = fopen(p0, "r"), *f1 = fopen(p1, "r");
    int differ = 0;
    long line = 0;
    while (f0 && f1 && !differ && fgets(l0, sizeof l0, f0) && fgets(l1, sizeof l1, f1)) {
        line++;
        if (strcmp(l0, l1) == 0) continue;
        differ = 1;
        char *s0 = NULL, *s1 = NULL, *t0 = strtok_r(l0, " \n", &s0), *t1 = strtok_r(l1, " \n", &s1);
        t0 = strtok_r(NULL, " \n", &s0), t1 = strtok_r(NULL, " \n", &s1); /* the step number */
        const char *step = t0 ? t0 : "?";
        while ((t0 = strtok_r(NULL, " \n", &s0)) && (t1 = strtok_r(NULL, " \n", &s1)))
            if (strcmp(t0, t1) != 0) {
                char *eq = strchr(t0, '=');
                if (eq) *eq = '\0';
                printf("ranks %d and %d first differ after step %s, in %s\n", P0, P1, step, t0);
                break;
            }
    }
    if (!differ && line != steps) {
        printf("ranks %d and %d: traced %ld steps, expected %d\n", P0, P1, line, steps);
        differ = 1;
    }
    if (f0) fclose(f0);
    if (f1) fclose(f1);
    return differ;
}

int st_cmd_verify(const st_cli_t *cli) {
    verify_args_t a;
    int rc = parse(&a, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (geteuid() == 0) setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0), setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    char dir[] = "/tmp/strata-verify-XXXXXX";
    if (!mkdtemp(dir)) return perror("strata verify: mkdtemp"), 1;
    for (int k = 0; k < a.n_ranks; k++) {
        printf("running %d steps at %d rank%s...\n", a.steps, a.ranks[k], a.ranks[k] > 1 ? "s" : "");
        fflush(stdout);
        if (run_at(&a, dir, a.ranks[k]) != 0) {
            fprintf(stderr, "strata verify: the run at %d ranks failed; its output is in %s/log-%d.txt\n", a.ranks[k], dir, a.ranks[k]);
            return 1;
        }
    }
    int differ = 0;
    for (int k = 1; k < a.n_ranks; k++) differ |= compare(dir, a.ranks[0], a.ranks[k], a.steps);
    if (!differ) printf("identical: every tensor has the same bits after each of %d steps at ranks", a.steps);
    for (int k = 0; !differ && k < a.n_ranks; k++) printf(" %d", a.ranks[k]);
    printf("%s(traces and logs in %s)\n", differ ? "" : " ", dir);
    return differ;
}
