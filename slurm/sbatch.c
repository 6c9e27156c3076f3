/* cmd_sbatch.c — `strata sbatch` (write a Slurm batch script for a run or a sweep and submit it)
 * and `strata plan` (nodes × ranks × threads for a config's dataset). docs/slurm-jobs.md.
 *
 * Where things go. A single run's script is written NEXT TO its run folder, as
 * <results_dir>/<name>.sbatch (job output in <name>.out / <name>.err), so that submitting never
 * creates the run folder: `strata train` refuses to start a new run in an existing folder, and
 * the first job must be able to start one. The job passes --resume auto itself when the folder
 * exists and the job was requeued or the folder has checkpoints. A sweep's folder
 * <results_dir>/<name>/ is not a run folder: it holds job.sbatch, sweep.json, task-<id>.out/.err
 * and the task runs task-<id>/.
 *
 * Everything is checked before anything is written: the config (with the --set overrides, and
 * each sweep task's overrides), the options, ranks <= shards, and the folder's state. Exit
 * status: 0 submitted (or printed, --dry-run), 1 a failure, 2 a usage error. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "fileio.h"
#include "cli/commands.h"
#include "jobs/config.h"
#include "jobs/results.h"
#include "slurm/script.h"
#include "sharding/shards.h"

#define MAX_SETS 256
#define PATH_CAP 4096

typedef struct {
    const char *config;
    const char *overrides[MAX_SETS];
    int n_overrides;
    st_sweep_t sweep;
    int nodes, ranks_per_node, threads; /* 0 = not given */
    const char *time, *partition, *account, *mem, *after, *launcher;
    int grace_s, max_restarts, cpus_per_node;
    int dry_run, auto_plan;
} sbatch_args_t;

static const char sbatch_usage[] =
    "usage: strata sbatch CONFIG.json [--nodes N] [--ranks-per-node R] [--threads T] [--time HH:MM:SS]\n"
    "         [--partition P] [--account A] [--mem M] [--grace SECONDS] [--after JOBID] [--launcher srun|mpirun]\n"
    "         [--max-restarts K] [--dry-run] [--set key.path=value ...] [--sweep key=v1,v2,... ...] [--auto]\n"
    "         [--cpus-per-node C]\n";
static const char plan_usage[] = "usage: strata plan CONFIG.json [--set key.path=value ...] [--cpus-per-node C]\n";

static int usage_error(const char *cmd, const char *use, const char *msg, const char *arg) {
    fprintf(stderr, "strata %s: %s%s%s\n%s", cmd, msg, arg ? " " : "", arg ? arg : "", use);
    return 2;
}

/* Accepts "--opt value" and "--opt=value" (as strata train does). */
static const char *option_value(const char *name, int argc, char **argv, int *i) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    return *i + 1 < argc ? argv[++*i] : "";
}

static int parse_int(int *out, const char *v, int min) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > 1000000) return -1;
    *out = (int)x;
    return 0;
}

static int parse_sbatch(sbatch_args_t *a, int argc, char **argv, int is_plan) {
    const char *cmd = is_plan ? "plan" : "sbatch", *use = is_plan ? plan_usage : sbatch_usage;
    memset(a, 0, sizeof *a);
    a->time = "01:00:00", a->launcher = "srun", a->grace_s = 120, a->max_restarts = 3;
    static const struct { const char *name; int min; size_t off; } ints[] = {
        {"--nodes", 1, offsetof(sbatch_args_t, nodes)},
        {"--ranks-per-node", 1, offsetof(sbatch_args_t, ranks_per_node)},
        {"--threads", 1, offsetof(sbatch_args_t, threads)},
        {"--grace", 1, offsetof(sbatch_args_t, grace_s)},
        {"--max-restarts", 0, offsetof(sbatch_args_t, max_restarts)},
        {"--cpus-per-node", 1, offsetof(sbatch_args_t, cpus_per_node)},
    };
    static const struct { const char *name; size_t off; } strs[] = {
        {"--time", offsetof(sbatch_args_t, time)},         {"--partition", offsetof(sbatch_args_t, partition)},
        {"--account", offsetof(sbatch_args_t, account)},   {"--mem", offsetof(sbatch_args_t, mem)},
        {"--after", offsetof(sbatch_args_t, after)},       {"--launcher", offsetof(sbatch_args_t, launcher)},
    };
    for (int i = 2; i < argc; i++) {
        const char *v;
        int done = 0;
        if ((v = option_value("--set", argc, argv, &i))) {
            if (!*v) return usage_error(cmd, use, "--set needs key.path=value", NULL);
            if (a->n_overrides == MAX_SETS) return usage_error(cmd, use, "too many --set options", NULL);
            a->overrides[a->n_overrides++] = v;
            continue;
        }
        if (!is_plan && (v = option_value("--sweep", argc, argv, &i))) {
            st_error_t err = {0};
            if (st_sweep_add(&a->sweep, v, &err) != ST_OK) return usage_error(cmd, use, err.msg, NULL);
            continue;
        }
        for (size_t k = 0; k < sizeof ints / sizeof ints[0] && !done; k++) {
            if (is_plan && strcmp(ints[k].name, "--cpus-per-node") != 0) continue;
            if ((v = option_value(ints[k].name, argc, argv, &i))) {
                int *dst = (int *)((char *)a + ints[k].off);
                if (parse_int(dst, v, ints[k].min) != 0) {
                    char msg[96];
                    snprintf(msg, sizeof msg, "%s needs an integer >= %d, got", ints[k].name, ints[k].min);
                    return usage_error(cmd, use, msg, *v ? v : "nothing");
                }
                done = 1;
            }
        }
        for (size_t k = 0; k < sizeof strs / sizeof strs[0] && !done && !is_plan; k++) {
            if ((v = option_value(strs[k].name, argc, argv, &i))) {
                if (!*v) return usage_error(cmd, use, "missing value for", strs[k].name);
                *(const char **)((char *)a + strs[k].off) = v;
                done = 1;
            }
        }
        if (done) continue;
        if (!is_plan && strcmp(argv[i], "--dry-run") == 0) a->dry_run = 1;
        else if (!is_plan && strcmp(argv[i], "--auto") == 0) a->auto_plan = 1;
        else if (argv[i][0] == '-') return usage_error(cmd, use, "unknown option", argv[i]);
        else if (!a->config) a->config = argv[i];
        else return usage_error(cmd, use, "unexpected argument", argv[i]);
    }
    if (!a->config) return usage_error(cmd, use, "missing CONFIG.json", NULL);
    if (is_plan) return 0;
    if (strcmp(a->launcher, "srun") != 0 && strcmp(a->launcher, "mpirun") != 0)
        return usage_error(cmd, use, "--launcher is srun or mpirun, got", a->launcher);
    long limit = st_slurm_time_seconds(a->time);
    if (limit < 0) return usage_error(cmd, use, "--time needs minutes, M:S, H:M:S or D-H[:M[:S]], got", a->time);
    if (a->grace_s >= limit) {
        char msg[160];
        snprintf(msg, sizeof msg, "--grace %d s must be shorter than the time limit (%ld s), got --time", a->grace_s, limit);
        return usage_error(cmd, use, msg, a->time);
    }
    if (a->after && strspn(a->after, "0123456789_:") != strlen(a->after))
        return usage_error(cmd, use, "--after needs a job id (digits; id:id for several), got", a->after);
    return 0;
}

/* ---- paths ---------------------------------------------------------------------------------- */

/* `rel` made absolute against `base`, with "." and ".." components and repeated '/' removed. */
static int abs_path(char *out, size_t size, const char *base, const char *rel) {
    char tmp[PATH_CAP * 2];
    if (snprintf(tmp, sizeof tmp, "%s/%s", rel[0] == '/' ? "" : base, rel) >= (int)sizeof tmp) return -1;
    size_t n = 0;
    out[0] = '\0';
    for (char *save = NULL, *tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0) continue;
        if (strcmp(tok, "..") == 0) {
            char *slash = strrchr(out, '/');
            n = slash ? (size_t)(slash - out) : 0;
            out[n] = '\0';
            continue;
        }
        size_t l = strlen(tok);
        if (n + l + 2 > size) return -1;
        out[n++] = '/';
        memcpy(out + n, tok, l + 1);
        n += l;
    }
    if (n == 0) snprintf(out, size, "/");
    return 0;
}

static int has_checkpoints(const char *run_dir) {
    char dir[PATH_CAP + 16];
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        found = l > 3 && strcmp(e->d_name + l - 3, ".h5") == 0;
    }
    closedir(d);
    return found;
}

/* ---- config checks ---------------------------------------------------------------------------- */

/* Loads CONFIG with overrides (+ "train.threads=T") and checks ranks <= shards. `what` ("" or
 * "sweep task 3 (optimizer.lr=1e-3 seed=1)") prefixes errors. */
static st_status_t check_config(const sbatch_args_t *a, const char *const *ov, int n_ov, int ranks, const char *what,
                                st_error_t *err) {
    st_run_config_t cfg;
    st_status_t rc = st_config_load(a->config, ov, n_ov, &cfg, err);
    int S = 0, micro = 0;
    if (rc == ST_OK)
        rc = st_shards_plan(&S, &micro, cfg.train.batch_size, cfg.train.accumulation_steps, cfg.data.shards, -1, err);
    if (rc == ST_OK && ranks > S)
        rc = st_fail(err, ST_ERR_CONFIG,
                     "%s: %d ranks (nodes x ranks per node) but the batch is cut into %d shard%s: every rank needs a "
                     "shard; use at most %d ranks, or raise data.shards / train.batch_size", a->config, ranks, S,
                     S == 1 ? "" : "s", S);
    st_config_free(&cfg);
    if (rc != ST_OK && what[0]) st_error_prefix(err, "%s", what);
    return rc;
}

/* ---- submission -------------------------------------------------------------------------------- */

/* Runs `sbatch SCRIPT`; its standard output goes to out, its errors to ours. Returns sbatch's
 * exit status (127: could not run it). */
static int run_sbatch(const char *script, char *out, size_t size) {
    int fd[2];
    if (pipe(fd) != 0) return 127;
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return close(fd[0]), close(fd[1]), 127;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]), close(fd[1]);
        execlp("sbatch", "sbatch", script, (char *)NULL);
        fprintf(stderr, "strata sbatch: cannot run sbatch: %s\n", strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    for (ssize_t r; (r = read(fd[0], out + n, size - 1 - n)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        n += (size_t)r;
        if (n == size - 1) break;
    }
    out[n] = '\0';
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}

/* The job id in sbatch's output: "Submitted batch job 42" or, with --parsable, "42[;cluster]". */
static int job_id_of(const char *out, char *id, size_t size) {
    const char *p = strstr(out, "Submitted batch job ");
    p = p ? p + strlen("Submitted batch job ") : out;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n >= size) return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

static cJSON *sweep_json(const st_run_config_t *cfg, const char *config_abs, const sbatch_args_t *a) {
    cJSON *doc = cJSON_CreateObject(), *ov = cJSON_AddArrayToObject(doc, "overrides");
    cJSON_AddStringToObject(doc, "name", cfg->name);
    cJSON_AddStringToObject(doc, "config", config_abs);
    for (int i = 0; i < a->n_overrides; i++) cJSON_AddItemToArray(ov, cJSON_CreateString(a->overrides[i]));
    cJSON *axes = cJSON_AddObjectToObject(doc, "axes"), *tasks = cJSON_AddObjectToObject(doc, "tasks");
    for (int x = 0; x < a->sweep.n_axes; x++) {
        cJSON *vals = cJSON_AddArrayToObject(axes, a->sweep.keys[x]);
        for (int v = 0; v < a->sweep.n_values[x]; v++) cJSON_AddItemToArray(vals, cJSON_CreateString(a->sweep.values[x][v]));
    }
    for (int t = 0; t < a->sweep.n_tasks; t++) {
        char id[16], kv[2048];
        snprintf(id, sizeof id, "%d", t);
        cJSON *list = cJSON_AddArrayToObject(tasks, id);
        for (int x = 0; x < a->sweep.n_axes; x++) {
            snprintf(kv, sizeof kv, "%s=%s", a->sweep.keys[x], st_sweep_value(&a->sweep, t, x));
            cJSON_AddItemToArray(list, cJSON_CreateString(kv));
        }
    }
    return doc;
}

static int fail_msg(const st_error_t *err) {
    fprintf(stderr, "strata: %s\n", err->msg);
    return 1;
}

static int sbatch_main(sbatch_args_t *a) {
    st_error_t err = {0};
    int is_sweep = a->sweep.n_axes > 0;
    /* 1. the config as given */
    st_run_config_t cfg;
    if (st_config_load(a->config, a->overrides, a->n_overrides, &cfg, &err) != ST_OK) return fail_msg(&err);
    FILE *info = a->dry_run ? stderr : stdout;

    /* 2. resources: options, else the plan (--auto), else 1 x 1 x 1 */
    if (a->auto_plan) {
        st_slurm_plan_t plan;
        if (st_slurm_plan(&plan, &cfg, a->cpus_per_node, &err) != ST_OK) return st_config_free(&cfg), fail_msg(&err);
        for (int i = 0; i < plan.n_lines; i++) fprintf(info, "plan: %s\n", plan.lines[i]);
        if (!a->nodes) a->nodes = plan.nodes;
        if (!a->ranks_per_node) a->ranks_per_node = plan.ranks_per_node;
        if (!a->threads) a->threads = plan.threads;
    }
    if (!a->nodes) a->nodes = 1;
    if (!a->ranks_per_node) a->ranks_per_node = 1;
    if (!a->threads) a->threads = 1;
    int ranks = a->nodes * a->ranks_per_node;

    /* 3. the exact overrides every task's train command gets, validated */
    char threads_set[48];
    snprintf(threads_set, sizeof threads_set, "train.threads=%d", a->threads);
    const char *ov[MAX_SETS + ST_SWEEP_MAX_AXES + 4];
    int n_base = 0;
    for (int i = 0; i < a->n_overrides; i++) ov[n_base++] = a->overrides[i];
    ov[n_base++] = threads_set;

    char cwd[PATH_CAP], config_abs[PATH_CAP], bin[PATH_CAP], results_abs[PATH_CAP], run_dir[PATH_CAP];
    st_status_t rc = ST_OK;
    if (!getcwd(cwd, sizeof cwd)) rc = st_fail(&err, ST_ERR_IO, "cannot read the current directory: %s", strerror(errno));
    if (rc == ST_OK && !realpath(a->config, config_abs)) rc = st_fail(&err, ST_ERR_IO, "%s: %s", a->config, strerror(errno));
    ssize_t bl = rc == ST_OK ? readlink("/proc/self/exe", bin, sizeof bin - 1) : -1;
    if (rc == ST_OK && bl <= 0) rc = st_fail(&err, ST_ERR_IO, "cannot find the strata binary (/proc/self/exe): %s", strerror(errno));
    if (rc == ST_OK) bin[bl] = '\0';
    if (rc == ST_OK && (abs_path(results_abs, sizeof results_abs, cwd, cfg.results_dir) != 0 ||
                        snprintf(run_dir, sizeof run_dir, "%s/%s", strcmp(results_abs, "/") ? results_abs : "", cfg.name) >=
                            (int)sizeof run_dir))
        rc = st_fail(&err, ST_ERR_CONFIG, "%s: results_dir: path too long", a->config);
    if (rc == ST_OK) rc = st_slurm_check_path(run_dir, is_sweep ? "the sweep folder" : "the run folder", &err);

    if (rc == ST_OK && !is_sweep) rc = check_config(a, ov, n_base, ranks, "", &err);
    for (int t = 0; rc == ST_OK && t < (is_sweep ? a->sweep.n_tasks : 0); t++) {
        char what[1024] = "", task_rd[PATH_CAP + 16], task_name[32], kv[ST_SWEEP_MAX_AXES][1024];
        int n = n_base;
        int w = snprintf(what, sizeof what, "sweep task %d (", t);
        for (int x = 0; x < a->sweep.n_axes; x++) {
            snprintf(kv[x], sizeof kv[x], "%s=%s", a->sweep.keys[x], st_sweep_value(&a->sweep, t, x));
            ov[n++] = kv[x];
            if (w < (int)sizeof what) w += snprintf(what + w, sizeof what - (size_t)w, "%s%s", x ? " " : "", kv[x]);
        }
        if (w < (int)sizeof what) snprintf(what + w, sizeof what - (size_t)w, ")");
        snprintf(task_rd, sizeof task_rd, "results_dir=%s", run_dir);
        snprintf(task_name, sizeof task_name, "name=task-%d", t);
        ov[n++] = task_rd, ov[n++] = task_name;
        rc = check_config(a, ov, n, ranks, what, &err);
    }

    /* 4. where things go, and the folder's state */
    char script[PATH_CAP + 16], out_path[PATH_CAP + 16], err_path[PATH_CAP + 16], sweep_path[PATH_CAP + 16];
    snprintf(script, sizeof script, is_sweep ? "%s/job.sbatch" : "%s.sbatch", run_dir);
    snprintf(out_path, sizeof out_path, is_sweep ? "%s/task-%%a.out" : "%s.out", run_dir);
    snprintf(err_path, sizeof err_path, is_sweep ? "%s/task-%%a.err" : "%s.err", run_dir);
    snprintf(sweep_path, sizeof sweep_path, "%s/sweep.json", run_dir);
    cJSON *sweep_doc = rc == ST_OK && is_sweep ? sweep_json(&cfg, config_abs, a) : NULL;
    const char *note = NULL;
    if (rc == ST_OK && !is_sweep) {
        if (st_exists(sweep_path))
            rc = st_fail(&err, ST_ERR_CONFIG, "%s is a sweep's folder (it has sweep.json): choose another name (--set name=...)",
                         run_dir);
        else if (st_is_dir(run_dir) && has_checkpoints(run_dir))
            note = "exists: the job continues it (--resume auto)";
        else if (st_is_dir(run_dir) && !a->after)
            rc = st_fail(&err, ST_ERR_CONFIG,
                         "%s already exists and has no checkpoint: strata train would refuse to start a new run there; "
                         "choose another name (--set name=...) or remove the folder", run_dir);
        else if (st_exists(run_dir) && !st_is_dir(run_dir))
            rc = st_fail(&err, ST_ERR_CONFIG, "%s exists and is not a folder", run_dir);
    } else if (rc == ST_OK && st_exists(run_dir)) {
        char *old = st_read_file(sweep_path, NULL, NULL);
        cJSON *old_doc = old ? cJSON_Parse(old) : NULL;
        free(old);
        if (old_doc && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old_doc, "tasks"),
                                     cJSON_GetObjectItemCaseSensitive(sweep_doc, "tasks"), 1))
            note = "exists with the same tasks: each task continues its run (--resume auto when it has checkpoints)";
        else
            rc = st_fail(&err, ST_ERR_CONFIG,
                         "%s already exists and is not this sweep (%s): choose another name (--set name=...)", run_dir,
                         old_doc ? "its sweep.json lists other tasks" : "no sweep.json");
        cJSON_Delete(old_doc);
    }

    /* 5. the script */
    char *text = NULL;
    if (rc == ST_OK) {
        st_slurm_job_t job = {
            .job_name = cfg.name, .nodes = a->nodes, .ranks_per_node = a->ranks_per_node, .threads = a->threads,
            .time = a->time, .partition = a->partition, .account = a->account, .mem = a->mem, .grace_s = a->grace_s,
            .after = a->after, .launcher = strcmp(a->launcher, "mpirun") == 0 ? ST_LAUNCH_MPIRUN : ST_LAUNCH_SRUN,
            .max_restarts = a->max_restarts, .script_path = script, .workdir = cwd, .strata_bin = bin,
            .config = config_abs, .output = out_path, .error = err_path, .run_dir = is_sweep ? NULL : run_dir,
            .sweep_dir = is_sweep ? run_dir : NULL, .overrides = a->overrides, .n_overrides = a->n_overrides,
            .sweep = is_sweep ? &a->sweep : NULL};
        rc = st_slurm_script(&text, &job, &err);
    }
    st_config_free(&cfg);
    if (rc != ST_OK) return cJSON_Delete(sweep_doc), fail_msg(&err);
    if (note) fprintf(info, "note: %s %s %s\n", is_sweep ? "sweep folder" : "run folder", run_dir, note);
    if (a->grace_s < 60)
        fprintf(stderr, "strata sbatch: warning: --grace %d s is short: Slurm checks time limits every 30 s, so the signal "
                        "may come up to 30 s off (docs/slurm-jobs.md)\n", a->grace_s);

    if (a->dry_run) {
        fputs(text, stdout);
        fprintf(stderr, "strata sbatch: dry run: would write %s%s; nothing written or submitted\n", script,
                is_sweep ? " and sweep.json" : "");
        free(text), cJSON_Delete(sweep_doc);
        return 0;
    }

    /* 6. write and submit */
    rc = st_mkdir_p(is_sweep ? run_dir : results_abs, &err);
    if (rc == ST_OK && is_sweep) {
        char *s = cJSON_Print(sweep_doc), *line = NULL;
        if (!s || asprintf(&line, "%s\n", s) < 0) line = NULL, rc = st_fail(&err, ST_ERR_NOMEM, "sweep.json");
        else rc = st_write_file_atomic(sweep_path, line, strlen(line), &err);
        free(s), free(line);
    }
    if (rc == ST_OK) rc = st_write_file_atomic(script, text, strlen(text), &err);
    if (rc == ST_OK) chmod(script, 0755);
    free(text), cJSON_Delete(sweep_doc);
    if (rc != ST_OK) return fail_msg(&err);
    if (is_sweep) printf("wrote %s and %s (%d tasks)\n", script, sweep_path, a->sweep.n_tasks);
    else printf("wrote %s\n", script);

    char out[4096], id[64];
    int st = run_sbatch(script, out, sizeof out);
    if (st != 0 || job_id_of(out, id, sizeof id) != 0) {
        if (out[0]) fprintf(stderr, "%s", out);
        fprintf(stderr, "strata: sbatch %s: %s; the script stays there (submit it with sbatch)\n", script,
                st == 127 ? "could not run sbatch" : st ? "submission failed" : "no job id in its output");
        return 1;
    }
    if (is_sweep) {
        printf("submitted batch job %s (array of %d tasks: %s_0 .. %s_%d)\n", id, a->sweep.n_tasks, id, id, a->sweep.n_tasks - 1);
        printf("sweep folder: %s (runs task-0 .. task-%d; compare them with: strata sweep-report %s)\n", run_dir,
               a->sweep.n_tasks - 1, run_dir);
    } else {
        printf("submitted batch job %s\n", id);
        printf("run folder: %s (job output: %s)\n", run_dir, out_path);
    }
    return 0;
}

int st_cmd_sbatch(int argc, char **argv) {
    sbatch_args_t a;
    int rc = parse_sbatch(&a, argc, argv, 0);
    if (rc == 0) rc = sbatch_main(&a);
    st_sweep_free(&a.sweep);
    return rc;
}

int st_cmd_plan(int argc, char **argv) {
    sbatch_args_t a;
    int rc = parse_sbatch(&a, argc, argv, 1);
    if (rc) return rc;
    st_error_t err = {0};
    st_run_config_t cfg;
    if (st_config_load(a.config, a.overrides, a.n_overrides, &cfg, &err) != ST_OK) return fail_msg(&err);
    st_slurm_plan_t plan;
    st_status_t st = st_slurm_plan(&plan, &cfg, a.cpus_per_node, &err);
    st_config_free(&cfg);
    if (st != ST_OK) return fail_msg(&err);
    for (int i = 0; i < plan.n_lines; i++) printf("%s\n", plan.lines[i]);
    printf("plan: --nodes %d --ranks-per-node %d --threads %d  (strata sbatch %s --auto uses it)\n", plan.nodes,
           plan.ranks_per_node, plan.threads, a.config);
    return 0;
}
