/* cmd_ensemble.c — `strata ensemble train` and `strata ensemble eval` (docs/ensembles.md).
 *
 * train CONFIG --members N [--vary seed | --vary configs A.json,B.json,...] [--ranks P]
 * [--set key.path=value ...]: started as one plain process (like `strata reproduce`), it checks
 * every member's config first (jobs/ensemble_members.h: seed + i, the base's split_seed, run
 * folder <results_dir>/<name>/member-<i>; an existing one is kept when its run finished, continued
 * with --resume auto when it has checkpoints, else refused), then trains the members one after
 * another as children
 * (`strata train`, under `mpirun -np P` when P > 1; output in <ensemble>/member-<i>.log) and
 * finally runs `strata ensemble eval` on them with the base's dataset and its test split, into
 * <ensemble>/ensemble/ (the folder `strata sbatch --ensemble`'s combining job writes too).
 *
 * eval RUN... --data D [--split test] [--weights val] [-o DIR]: parses and calls
 * st_ensemble_eval (jobs/ensemble_eval.h) on MPI ranks.
 *
 * Exit status: 0 done, 1 a failure (a member's training, a refused member), 2 a usage error. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "fileio.h"
#include "jobs/ensemble_eval.h"
#include "jobs/ensemble_members.h"
#include "watchdog.h" /* ST_STALL_TIMEOUT_DEFAULT_S */

#define MAX_ARGS (2 * ST_OPT_LIST_MAX + 32)

/* ---- eval ---- */

static st_status_t eval_on_ranks(void *req, const st_comm_t *c, st_error_t *err) {
    return st_ensemble_eval(req, c, err);
}

int st_cmd_ensemble_eval(const st_cli_t *cli) {
    const char *pos[ST_ENSEMBLE_MAX_MEMBERS + 1];
    const char *weights = NULL;
    st_ensemble_eval_request_t req = {.split = "test", .out = stdout};
    int stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    const st_opt_t opts[] = {
        ST_OPTION_STRING("--data", NULL, &req.data, "--data needs a dataset (.h5)"),
        ST_OPTION_STRING("--split", NULL, &req.split, "--split needs test, val, train or all"),
        ST_OPTION_STRING("--weights", NULL, &weights, "--weights needs val"),
        ST_OPTION_STRING("-o", "--out", &req.out_dir, "-o needs an output folder"),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
    };
    st_opts_t spec = {opts, 5, pos, 1, ST_ENSEMBLE_MAX_MEMBERS + 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (spec.n_pos > ST_ENSEMBLE_MAX_MEMBERS) return st_usage_error(cli, "at most %d runs", ST_ENSEMBLE_MAX_MEMBERS);
    if (!req.data) return st_usage_error(cli, "--data D is required (the dataset to evaluate on)");
    if (weights && strcmp(weights, "val") != 0) return st_usage_error(cli, "--weights is val, got %s", weights);
    if (strcmp(req.split, "test") && strcmp(req.split, "val") && strcmp(req.split, "train") && strcmp(req.split, "all"))
        return st_usage_error(cli, "--split is test, val, train or all, got %s", req.split);
    req.weights_val = weights != NULL;
    req.runs = pos, req.n_runs = spec.n_pos;
    return st_cli_run_on_ranks(cli, stall_s, eval_on_ranks, &req);
}

/* ---- train ---- */

/* Runs argv (a child; stdout and stderr into `log`, or ours when NULL); its exit status. */
static int run_child(char *const *argv, const char *log) {
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0666) : -1; /* a continued member appends */
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

typedef struct {
    const char *config;          /* the base */
    const st_opt_list_t *sets;   /* the user's --set options */
    char configs[ST_ENSEMBLE_MAX_MEMBERS][1024]; /* each member's config file */
    int members, ranks;
    int state[ST_ENSEMBLE_MAX_MEMBERS]; /* member_state_t of each member */
    st_run_config_t base;
    char dir[ST_CONFIG_PATH_MAX + 72], exe[1024];
} ens_train_t;

/* The member's --set list: the user's, then the member's own (ensemble_members.h). */
static int member_sets(const ens_train_t *t, int i, st_ens_member_sets_t *ms, const char **ov) {
    int n = 0;
    for (int k = 0; k < t->sets->n; k++) ov[n++] = t->sets->items[k];
    st_ensemble_member_sets(ms, &t->base, i);
    for (int k = 0; k < 4; k++) ov[n++] = ms->sets[k];
    return n;
}

typedef enum { MEMBER_NEW, MEMBER_DONE, MEMBER_RESUME } member_state_t;

/* 1 when run.json's status says the run ended by itself ("completed", "stopped early"). */
static int run_finished(const char *run) {
    char path[ST_CONFIG_PATH_MAX * 2 + 32];
    snprintf(path, sizeof path, "%s/run.json", run);
    char *text = st_read_file(path, NULL, NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "status");
    int done = cJSON_IsString(st) && (strcmp(st->valuestring, "completed") == 0 || strcmp(st->valuestring, "stopped early") == 0);
    cJSON_Delete(doc), free(text);
    return done;
}

static int has_checkpoint(const char *run) {
    char path[ST_CONFIG_PATH_MAX * 2 + 32];
    snprintf(path, sizeof path, "%s/checkpoints", run);
    DIR *d = opendir(path);
    int found = 0;
    for (struct dirent *e; d && !found && (e = readdir(d));) found = strstr(e->d_name, ".h5") != NULL;
    if (d) closedir(d);
    return found;
}

/* Every member's config loads with its overrides; an existing member folder is kept when its run
 * finished, continued (--resume auto) when it has checkpoints, else refused. */
static int check_members(ens_train_t *t) {
    for (int i = 0; i < t->members; i++) {
        st_ens_member_sets_t ms;
        const char *ov[ST_OPT_LIST_MAX + 4];
        int n = member_sets(t, i, &ms, ov);
        st_run_config_t cfg;
        st_error_t err = {0};
        if (st_config_load(t->configs[i], ov, n, &cfg, &err) != ST_OK) {
            fprintf(stderr, "strata: ensemble member %d: %s\n", i, err.msg);
            return 1;
        }
        char run[ST_CONFIG_PATH_MAX * 2 + 8];
        snprintf(run, sizeof run, "%s/%s", cfg.results_dir, cfg.name);
        st_config_free(&cfg);
        t->state[i] = !st_exists(run) ? MEMBER_NEW : run_finished(run) ? MEMBER_DONE
                    : has_checkpoint(run) ? MEMBER_RESUME : -1;
        if (t->state[i] < 0) {
            fprintf(stderr, "strata: ensemble member %d: %s already exists without a finished run or a checkpoint: "
                            "choose another name (--set name=...) or remove the folder\n", i, run);
            return 1;
        }
    }
    return 0;
}

/* Member i: `[mpirun -np P ...] strata train CONFIG_i --set ...` into <dir>/member-<i>.log. */
static int train_member(const ens_train_t *t, int i) {
    st_ens_member_sets_t ms;
    const char *ov[ST_OPT_LIST_MAX + 4];
    int n_ov = member_sets(t, i, &ms, ov);
    char np[16], log[sizeof t->dir + 32];
    snprintf(np, sizeof np, "%d", t->ranks);
    snprintf(log, sizeof log, "%s/" ST_ENSEMBLE_PREFIX "-%d.log", t->dir, i);
    const char *argv[MAX_ARGS];
    int a = 0;
    if (t->ranks > 1) argv[a++] = "mpirun", argv[a++] = "-np", argv[a++] = np, argv[a++] = "--oversubscribe",
                      argv[a++] = "--bind-to", argv[a++] = "none";
    argv[a++] = t->exe, argv[a++] = "train", argv[a++] = t->configs[i];
    for (int k = 0; k < n_ov; k++) argv[a++] = "--set", argv[a++] = ov[k];
    if (t->state[i] == MEMBER_RESUME) argv[a++] = "--resume", argv[a++] = "auto";
    argv[a] = NULL;
    printf("member %d/%d: %s, %s, %s -> %s/" ST_ENSEMBLE_PREFIX "-%d%s\n", i + 1, t->members, t->configs[i], ms.seed,
           ms.split_seed, t->dir, i, t->state[i] == MEMBER_DONE ? ": finished before, kept" : "");
    if (t->state[i] == MEMBER_DONE) return 0;
    if (t->state[i] == MEMBER_RESUME) printf("  continuing it (--resume auto)\n");
    printf("  log %s\n", log);
    int st = run_child((char *const *)argv, log);
    if (st != 0) fprintf(stderr, "strata: ensemble member %d failed (exit %d): see %s\n", i, st, log);
    return st;
}

/* `strata ensemble eval <dir>/member-0 ... --data <data.path> --split test -o <dir>/ensemble`. */
static int combine(const ens_train_t *t) {
    char runs[ST_ENSEMBLE_MAX_MEMBERS][sizeof t->dir + 32], out[sizeof t->dir + 32];
    snprintf(out, sizeof out, "%s/ensemble", t->dir);
    const char *argv[ST_ENSEMBLE_MAX_MEMBERS + 16];
    int a = 0;
    argv[a++] = t->exe, argv[a++] = "ensemble", argv[a++] = "eval";
    for (int i = 0; i < t->members; i++) {
        snprintf(runs[i], sizeof runs[i], "%s/" ST_ENSEMBLE_PREFIX "-%d", t->dir, i);
        argv[a++] = runs[i];
    }
    argv[a++] = "--data", argv[a++] = t->base.data.path, argv[a++] = "--split", argv[a++] = "test";
    argv[a++] = "-o", argv[a++] = out;
    argv[a] = NULL;
    return run_child((char *const *)argv, NULL) == 0 ? 0 : 1;
}

/* --vary seed (every member the base config) or configs with the list "A.json,B.json". */
static int member_configs(ens_train_t *t, const st_cli_t *cli, const char *vary, const char *list) {
    if (!vary || strcmp(vary, "seed") == 0) {
        if (list) return st_usage_error(cli, "unexpected argument %s", list);
        for (int i = 0; i < t->members; i++) snprintf(t->configs[i], sizeof t->configs[i], "%s", t->config);
        return 0;
    }
    if (strncmp(vary, "configs=", 8) == 0) list = vary + 8;
    else if (strcmp(vary, "configs") != 0) return st_usage_error(cli, "--vary is seed or configs, got %s", vary);
    if (!list || !list[0]) return st_usage_error(cli, "--vary configs needs a list A.json,B.json,...");
    int n = 0;
    for (const char *p = list; *p && n < ST_ENSEMBLE_MAX_MEMBERS; n++) {
        size_t len = strcspn(p, ",");
        snprintf(t->configs[n], sizeof t->configs[n], "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    if (t->members && t->members != n)
        return st_usage_error(cli, "--members %d but --vary configs lists %d configs", t->members, n);
    t->members = n;
    return 0;
}

int st_cmd_ensemble_train(const st_cli_t *cli) {
    static ens_train_t t;
    const char *pos[2] = {NULL, NULL}, *vary = NULL;
    st_opt_list_t sets = {.n = 0};
    t.ranks = 1;
    const st_opt_t opts[] = {
        ST_OPTION_INT("--members", &t.members, 1, ST_ENSEMBLE_MAX_MEMBERS),
        ST_OPTION_STRING("--vary", NULL, &vary, "--vary needs seed or configs A.json,B.json,..."),
        ST_OPTION_INT("--ranks", &t.ranks, 1, 1000000),
        ST_OPTION_LIST("--set", &sets, "--set needs key.path=value"),
    };
    st_opts_t spec = {opts, 4, pos, 1, 2, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    t.config = pos[0], t.sets = &sets;
    if ((rc = member_configs(&t, cli, vary, pos[1])) != 0) return rc;
    if (t.members < 1) return st_usage_error(cli, "--members N is required (or --vary configs with a list)");
    if (geteuid() == 0) setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0), setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    ssize_t n = readlink("/proc/self/exe", t.exe, sizeof t.exe - 1);
    if (n <= 0) return fprintf(stderr, "strata: cannot find the strata binary (/proc/self/exe)\n"), 1;
    t.exe[n] = '\0';
    st_error_t err = {0};
    if (st_config_load(t.config, sets.items, sets.n, &t.base, &err) != ST_OK)
        return fprintf(stderr, "strata: %s\n", err.msg), 1;
    st_ensemble_dir(t.dir, sizeof t.dir, &t.base);
    if (check_members(&t) != 0 || st_mkdir_p(t.dir, &err) != ST_OK) {
        if (err.msg[0]) fprintf(stderr, "strata: %s\n", err.msg);
        return st_config_free(&t.base), 1;
    }
    for (int i = 0; i < t.members; i++)
        if (train_member(&t, i) != 0) return st_config_free(&t.base), 1;
    rc = combine(&t);
    st_config_free(&t.base);
    return rc;
}
