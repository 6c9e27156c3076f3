/* sbatch.c — see sbatch.h: `strata sbatch` (write a Slurm batch script for a run or a sweep and
 * submit it) and `strata plan` (nodes × ranks × threads for a config's dataset) as library calls;
 * the command line is cli/cmd_sbatch.c. docs/slurm-jobs.md.
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
 * each sweep task's overrides), the options, ranks <= shards, and the folder's state. */
#include "slurm/sbatch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "fileio.h"
#include "jobs/config.h"
#include "jobs/ensemble_eval.h"    /* ST_ENSEMBLE_MAX_MEMBERS */
#include "jobs/ensemble_members.h" /* ST_ENSEMBLE_PREFIX */
#include "jobs/results.h"
#include "slurm/script.h"
#include "sharding/shards.h"

#define MAX_SETS 256
#define PATH_CAP 4096

void st_sbatch_request_init(st_sbatch_request_t *req) {
    memset(req, 0, sizeof *req);
    req->time = "01:00:00", req->launcher = "srun", req->grace_s = 120, req->max_restarts = 3;
}

/* The sweep of req->sweeps; s is zeroed first and must be freed (st_sweep_free) either way. */
static st_status_t make_sweep(st_sweep_t *s, const st_sbatch_request_t *req, st_error_t *err) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < req->n_sweeps; i++) ST_TRY(st_sweep_add(s, req->sweeps[i], err));
    return ST_OK;
}

st_status_t st_sbatch_check(const st_sbatch_request_t *req, st_error_t *err) {
    if (!req->config) return st_fail(err, ST_ERR_CONFIG, "missing CONFIG.json");
    if (req->n_overrides > MAX_SETS) return st_fail(err, ST_ERR_CONFIG, "too many --set options");
    if (strcmp(req->launcher, "srun") != 0 && strcmp(req->launcher, "mpirun") != 0)
        return st_fail(err, ST_ERR_CONFIG, "--launcher is srun or mpirun, got %s", req->launcher);
    long limit = st_slurm_time_seconds(req->time);
    if (limit < 0) return st_fail(err, ST_ERR_CONFIG, "--time needs minutes, M:S, H:M:S or D-H[:M[:S]], got %s", req->time);
    if (req->grace_s >= limit)
        return st_fail(err, ST_ERR_CONFIG, "--grace %d s must be shorter than the time limit (%ld s), got --time %s",
                       req->grace_s, limit, req->time);
    if (req->after && strspn(req->after, "0123456789_:") != strlen(req->after))
        return st_fail(err, ST_ERR_CONFIG, "--after needs a job id (digits; id:id for several), got %s", req->after);
    if (req->ensemble && req->n_sweeps)
        return st_fail(err, ST_ERR_CONFIG, "--ensemble and --sweep cannot be combined (the members' array varies seed)");
    if (req->ensemble > ST_ENSEMBLE_MAX_MEMBERS)
        return st_fail(err, ST_ERR_CONFIG, "--ensemble: at most %d members, got %d", ST_ENSEMBLE_MAX_MEMBERS, req->ensemble);
    st_sweep_t sweep;
    st_status_t rc = make_sweep(&sweep, req, err);
    st_sweep_free(&sweep);
    return rc;
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
static st_status_t check_config(const st_sbatch_request_t *a, const char *const *ov, int n_ov, int ranks, const char *what,
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
static int run_sbatch(const char *script, char *out, size_t size, FILE *log) {
    int fd[2];
    if (pipe(fd) != 0) return 127;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return close(fd[0]), close(fd[1]), 127;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]), close(fd[1]);
        execlp("sbatch", "sbatch", script, (char *)NULL);
        fprintf(log, "strata sbatch: cannot run sbatch: %s\n", strerror(errno));
        fflush(log);
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

static cJSON *sweep_json(const st_run_config_t *cfg, const char *config_abs, const st_sbatch_request_t *a,
                         const char *const *ovs, int n_ov, const st_sweep_t *sweep) {
    cJSON *doc = cJSON_CreateObject(), *ov = cJSON_AddArrayToObject(doc, "overrides");
    cJSON_AddStringToObject(doc, "name", cfg->name);
    cJSON_AddStringToObject(doc, "config", config_abs);
    if (a->ensemble) cJSON_AddNumberToObject(doc, "ensemble", a->ensemble);
    for (int i = 0; i < n_ov; i++) cJSON_AddItemToArray(ov, cJSON_CreateString(ovs[i]));
    cJSON *axes = cJSON_AddObjectToObject(doc, "axes"), *tasks = cJSON_AddObjectToObject(doc, "tasks");
    for (int x = 0; x < sweep->n_axes; x++) {
        cJSON *vals = cJSON_AddArrayToObject(axes, sweep->keys[x]);
        for (int v = 0; v < sweep->n_values[x]; v++) cJSON_AddItemToArray(vals, cJSON_CreateString(sweep->values[x][v]));
    }
    for (int t = 0; t < sweep->n_tasks; t++) {
        char id[16], kv[2048];
        snprintf(id, sizeof id, "%d", t);
        cJSON *list = cJSON_AddArrayToObject(tasks, id);
        for (int x = 0; x < sweep->n_axes; x++) {
            snprintf(kv, sizeof kv, "%s=%s", sweep->keys[x], st_sweep_value(sweep, t, x));
            cJSON_AddItemToArray(list, cJSON_CreateString(kv));
        }
    }
    return doc;
}

/* ---- the job ------------------------------------------------------------------------------------- */

/* What st_sbatch_run works out, step by step. */
typedef struct {
    const st_sbatch_request_t *req;
    st_sweep_t sweep;
    int is_sweep;
    st_run_config_t cfg;
    FILE *info; /* stdout, or on a dry run the log: the script alone goes to out */
    int nodes, ranks_per_node, threads;
    char cwd[PATH_CAP], config_abs[PATH_CAP], bin[PATH_CAP], results_abs[PATH_CAP], run_dir[PATH_CAP];
    char script[PATH_CAP + 16], out_path[PATH_CAP + 16], err_path[PATH_CAP + 16], sweep_path[PATH_CAP + 16];
    cJSON *sweep_doc;
    const char *note; /* about an existing folder the job continues */
    char *text;       /* the script */
    const char *ov[MAX_SETS + 1]; /* the train command's overrides: the request's (+ data.split_seed) */
    int n_ov;
    const char *prefix; /* the array tasks' run folders: <prefix>-<t> */
    char split_set[64], data_abs[PATH_CAP], combine_script[PATH_CAP + 32], combine_out[PATH_CAP + 32],
        combine_err[PATH_CAP + 32];
    char *combine_text; /* --ensemble: the combining job's script */
} job_t;

/* Resources: the request's, else the plan's (auto_plan), else 1 x 1 x 1. */
static st_status_t resources(job_t *j, st_error_t *err) {
    const st_sbatch_request_t *a = j->req;
    j->nodes = a->nodes, j->ranks_per_node = a->ranks_per_node, j->threads = a->threads;
    if (a->auto_plan) {
        st_slurm_plan_t plan;
        ST_TRY(st_slurm_plan(&plan, &j->cfg, a->cpus_per_node, err));
        for (int i = 0; i < plan.n_lines; i++) fprintf(j->info, "plan: %s\n", plan.lines[i]);
        if (!j->nodes) j->nodes = plan.nodes;
        if (!j->ranks_per_node) j->ranks_per_node = plan.ranks_per_node;
        if (!j->threads) j->threads = plan.threads;
    }
    if (!j->nodes) j->nodes = 1;
    if (!j->ranks_per_node) j->ranks_per_node = 1;
    if (!j->threads) j->threads = 1;
    return ST_OK;
}

/* Absolute paths: the working folder, the config, the strata binary, the results and run folders. */
static st_status_t paths(job_t *j, st_error_t *err) {
    const char *config = j->req->config;
    if (!getcwd(j->cwd, sizeof j->cwd)) return st_fail(err, ST_ERR_IO, "cannot read the current directory: %s", strerror(errno));
    if (!realpath(config, j->config_abs)) return st_fail(err, ST_ERR_IO, "%s: %s", config, strerror(errno));
    ssize_t bl = readlink("/proc/self/exe", j->bin, sizeof j->bin - 1);
    if (bl <= 0) return st_fail(err, ST_ERR_IO, "cannot find the strata binary (/proc/self/exe): %s", strerror(errno));
    j->bin[bl] = '\0';
    if (abs_path(j->results_abs, sizeof j->results_abs, j->cwd, j->cfg.results_dir) != 0 ||
        snprintf(j->run_dir, sizeof j->run_dir, "%s/%s", strcmp(j->results_abs, "/") ? j->results_abs : "", j->cfg.name) >=
            (int)sizeof j->run_dir)
        return st_fail(err, ST_ERR_CONFIG, "%s: results_dir: path too long", config);
    ST_TRY(st_slurm_check_path(j->run_dir, j->is_sweep ? "the sweep folder" : "the run folder", err));
    snprintf(j->script, sizeof j->script, j->is_sweep ? "%s/job.sbatch" : "%s.sbatch", j->run_dir);
    if (j->is_sweep) {
        snprintf(j->out_path, sizeof j->out_path, "%s/%s-%%a.out", j->run_dir, j->prefix);
        snprintf(j->err_path, sizeof j->err_path, "%s/%s-%%a.err", j->run_dir, j->prefix);
    } else {
        snprintf(j->out_path, sizeof j->out_path, "%s.out", j->run_dir);
        snprintf(j->err_path, sizeof j->err_path, "%s.err", j->run_dir);
    }
    snprintf(j->combine_script, sizeof j->combine_script, "%s/combine.sbatch", j->run_dir);
    snprintf(j->combine_out, sizeof j->combine_out, "%s/combine.out", j->run_dir);
    snprintf(j->combine_err, sizeof j->combine_err, "%s/combine.err", j->run_dir);
    if (abs_path(j->data_abs, sizeof j->data_abs, j->cwd, j->cfg.data.path) != 0)
        return st_fail(err, ST_ERR_CONFIG, "%s: data.path: path too long", config);
    snprintf(j->sweep_path, sizeof j->sweep_path, "%s/sweep.json", j->run_dir);
    return ST_OK;
}

/* The exact overrides every task's train command gets (+ "train.threads=T"), validated. */
static st_status_t check_tasks(const job_t *j, st_error_t *err) {
    const st_sbatch_request_t *a = j->req;
    int ranks = j->nodes * j->ranks_per_node;
    char threads_set[48];
    snprintf(threads_set, sizeof threads_set, "train.threads=%d", j->threads);
    const char *ov[MAX_SETS + ST_SWEEP_MAX_AXES + 4];
    int n_base = 0;
    for (int i = 0; i < j->n_ov; i++) ov[n_base++] = j->ov[i];
    ov[n_base++] = threads_set;
    if (!j->is_sweep) return check_config(a, ov, n_base, ranks, "", err);
    for (int t = 0; t < j->sweep.n_tasks; t++) {
        char what[1024] = "", task_rd[PATH_CAP + 16], task_name[32], kv[ST_SWEEP_MAX_AXES][1024];
        int n = n_base;
        int w = snprintf(what, sizeof what, "sweep task %d (", t);
        for (int x = 0; x < j->sweep.n_axes; x++) {
            snprintf(kv[x], sizeof kv[x], "%s=%s", j->sweep.keys[x], st_sweep_value(&j->sweep, t, x));
            ov[n++] = kv[x];
            if (w < (int)sizeof what) w += snprintf(what + w, sizeof what - (size_t)w, "%s%s", x ? " " : "", kv[x]);
        }
        if (w < (int)sizeof what) snprintf(what + w, sizeof what - (size_t)w, ")");
        snprintf(task_rd, sizeof task_rd, "results_dir=%s", j->run_dir);
        snprintf(task_name, sizeof task_name, "name=%s-%d", j->prefix, t);
        ov[n++] = task_rd, ov[n++] = task_name;
        ST_TRY(check_config(a, ov, n, ranks, what, err));
    }
    return ST_OK;
}

/* A single run's folder: absent, or with checkpoints the job continues; never a sweep's. */
static st_status_t run_folder_state(job_t *j, st_error_t *err) {
    const char *rd = j->run_dir;
    if (st_exists(j->sweep_path))
        return st_fail(err, ST_ERR_CONFIG, "%s is a sweep's folder (it has sweep.json): choose another name (--set name=...)", rd);
    if (st_is_dir(rd) && has_checkpoints(rd)) j->note = "exists: the job continues it (--resume auto)";
    else if (st_is_dir(rd) && !j->req->after)
        return st_fail(err, ST_ERR_CONFIG,
                       "%s already exists and has no checkpoint: strata train would refuse to start a new run there; "
                       "choose another name (--set name=...) or remove the folder", rd);
    else if (st_exists(rd) && !st_is_dir(rd))
        return st_fail(err, ST_ERR_CONFIG, "%s exists and is not a folder", rd);
    return ST_OK;
}

/* A sweep's folder: absent, or the same sweep (its sweep.json lists the same tasks). */
static st_status_t sweep_folder_state(job_t *j, st_error_t *err) {
    if (!st_exists(j->run_dir)) return ST_OK;
    char *old = st_read_file(j->sweep_path, NULL, NULL);
    cJSON *old_doc = old ? cJSON_Parse(old) : NULL;
    free(old);
    st_status_t rc = ST_OK;
    if (old_doc && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old_doc, "tasks"),
                                 cJSON_GetObjectItemCaseSensitive(j->sweep_doc, "tasks"), 1))
        j->note = "exists with the same tasks: each task continues its run (--resume auto when it has checkpoints)";
    else
        rc = st_fail(err, ST_ERR_CONFIG, "%s already exists and is not this sweep (%s): choose another name (--set name=...)",
                     j->run_dir, old_doc ? "its sweep.json lists other tasks" : "no sweep.json");
    cJSON_Delete(old_doc);
    return rc;
}

static st_status_t script_text(job_t *j, st_error_t *err) {
    const st_sbatch_request_t *a = j->req;
    st_slurm_job_t job = {
        .job_name = j->cfg.name, .nodes = j->nodes, .ranks_per_node = j->ranks_per_node, .threads = j->threads,
        .time = a->time, .partition = a->partition, .account = a->account, .mem = a->mem, .grace_s = a->grace_s,
        .after = a->after, .launcher = strcmp(a->launcher, "mpirun") == 0 ? ST_LAUNCH_MPIRUN : ST_LAUNCH_SRUN,
        .max_restarts = a->max_restarts, .script_path = j->script, .workdir = j->cwd, .strata_bin = j->bin,
        .config = j->config_abs, .output = j->out_path, .error = j->err_path, .run_dir = j->is_sweep ? NULL : j->run_dir,
        .sweep_dir = j->is_sweep ? j->run_dir : NULL, .task_prefix = j->prefix, .overrides = j->ov,
        .n_overrides = j->n_ov, .sweep = j->is_sweep ? &j->sweep : NULL};
    return st_slurm_script(&j->text, &job, err);
}

/* --ensemble: the combining job's script, afterok on `array_id` (a placeholder on a dry run). */
static st_status_t combine_text(job_t *j, const char *array_id, st_error_t *err) {
    const st_sbatch_request_t *a = j->req;
    st_slurm_combine_t c = {
        .job_name = j->cfg.name, .threads = j->threads, .time = a->time, .partition = a->partition,
        .account = a->account, .mem = a->mem, .after = array_id,
        .launcher = strcmp(a->launcher, "mpirun") == 0 ? ST_LAUNCH_MPIRUN : ST_LAUNCH_SRUN,
        .script_path = j->combine_script, .workdir = j->cwd, .strata_bin = j->bin, .output = j->combine_out,
        .error = j->combine_err, .ensemble_dir = j->run_dir, .members = a->ensemble, .data = j->data_abs};
    free(j->combine_text), j->combine_text = NULL;
    return st_slurm_combine_script(&j->combine_text, &c, err);
}

/* --ensemble N: the array varies seed over seed .. seed + N - 1 (one axis), every task gets the
 * config's split_seed, and the tasks' run folders are member-<i> (jobs/ensemble_members.h). */
static st_status_t ensemble_axis(job_t *j, st_error_t *err) {
    char *axis = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&axis, &len);
    if (!f) return st_fail(err, ST_ERR_NOMEM, "--ensemble");
    fprintf(f, "seed=");
    for (int i = 0; i < j->req->ensemble; i++)
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)(j->cfg.seed + (uint64_t)i));
    fclose(f);
    st_status_t rc = axis ? st_sweep_add(&j->sweep, axis, err) : st_fail(err, ST_ERR_NOMEM, "--ensemble");
    free(axis);
    snprintf(j->split_set, sizeof j->split_set, "data.split_seed=%llu", (unsigned long long)j->cfg.data.split_seed);
    j->ov[j->n_ov++] = j->split_set;
    j->prefix = ST_ENSEMBLE_PREFIX;
    return rc;
}

/* Everything before writing: the config, resources, paths, every task's config, the folder, the text. */
static st_status_t prepare(job_t *j, st_error_t *err) {
    const st_sbatch_request_t *a = j->req;
    ST_TRY(st_sbatch_check(a, err));
    ST_TRY(make_sweep(&j->sweep, a, err));
    j->is_sweep = j->sweep.n_axes > 0;
    ST_TRY(st_config_load(a->config, a->overrides, a->n_overrides, &j->cfg, err));
    for (int i = 0; i < a->n_overrides; i++) j->ov[j->n_ov++] = a->overrides[i];
    j->prefix = "task";
    if (a->ensemble) ST_TRY(ensemble_axis(j, err));
    j->is_sweep = j->sweep.n_axes > 0;
    ST_TRY(resources(j, err));
    ST_TRY(paths(j, err));
    ST_TRY(check_tasks(j, err));
    if (j->is_sweep) {
        j->sweep_doc = sweep_json(&j->cfg, j->config_abs, a, j->ov, j->n_ov, &j->sweep);
        if (!j->sweep_doc) return st_fail(err, ST_ERR_NOMEM, "sweep.json");
    }
    ST_TRY(j->is_sweep ? sweep_folder_state(j, err) : run_folder_state(j, err));
    if (a->ensemble) ST_TRY(combine_text(j, "ARRAY_JOB_ID", err));
    return script_text(j, err);
}

/* The folder, sweep.json and the script, written. */
static st_status_t write_files(const job_t *j, st_error_t *err) {
    ST_TRY(st_mkdir_p(j->is_sweep ? j->run_dir : j->results_abs, err));
    if (j->is_sweep) {
        char *s = cJSON_Print(j->sweep_doc), *line = NULL;
        st_status_t rc;
        if (!s || asprintf(&line, "%s\n", s) < 0) line = NULL, rc = st_fail(err, ST_ERR_NOMEM, "sweep.json");
        else rc = st_write_file_atomic(j->sweep_path, line, strlen(line), err);
        free(s), free(line);
        ST_TRY(rc);
    }
    ST_TRY(st_write_file_atomic(j->script, j->text, strlen(j->text), err));
    chmod(j->script, 0755);
    return ST_OK;
}

/* --ensemble, once the members' array `array_id` is submitted: combine.sbatch, afterok on it. */
static st_status_t submit_combine(job_t *j, const char *array_id, FILE *out, FILE *log, st_error_t *err) {
    int n = j->sweep.n_tasks;
    fprintf(out, "submitted batch job %s (array of %d members: %s_0 .. %s_%d)\n", array_id, n, array_id, array_id, n - 1);
    ST_TRY(combine_text(j, array_id, err));
    ST_TRY(st_write_file_atomic(j->combine_script, j->combine_text, strlen(j->combine_text), err));
    chmod(j->combine_script, 0755);
    char text[4096], id[64];
    int st = run_sbatch(j->combine_script, text, sizeof text, log);
    if (st != 0 || job_id_of(text, id, sizeof id) != 0) {
        if (text[0]) fprintf(log, "%s", text);
        return st_fail(err, ST_ERR_IO, "sbatch %s: %s; the members' array %s runs; submit the combining job with sbatch "
                       "%s", j->combine_script, st == 127 ? "could not run sbatch" : "submission failed", array_id,
                       j->combine_script);
    }
    fprintf(out, "submitted batch job %s (combines the members once array %s has succeeded: afterok)\n", id, array_id);
    fprintf(out, "ensemble folder: %s (members member-0 .. member-%d; the ensemble's metrics in %s/ensemble)\n",
            j->run_dir, n - 1, j->run_dir);
    return ST_OK;
}

static st_status_t submit(job_t *j, FILE *out, FILE *log, st_error_t *err) {
    char text[4096], id[64];
    int st = run_sbatch(j->script, text, sizeof text, log);
    if (st != 0 || job_id_of(text, id, sizeof id) != 0) {
        if (text[0]) fprintf(log, "%s", text);
        return st_fail(err, ST_ERR_IO, "sbatch %s: %s; the script stays there (submit it with sbatch)", j->script,
                       st == 127 ? "could not run sbatch" : st ? "submission failed" : "no job id in its output");
    }
    int n = j->sweep.n_tasks;
    if (j->req->ensemble) return submit_combine(j, id, out, log, err);
    if (j->is_sweep) {
        fprintf(out, "submitted batch job %s (array of %d tasks: %s_0 .. %s_%d)\n", id, n, id, id, n - 1);
        fprintf(out, "sweep folder: %s (runs task-0 .. task-%d; compare them with: strata sweep-report %s)\n", j->run_dir,
                n - 1, j->run_dir);
    } else {
        fprintf(out, "submitted batch job %s\n", id);
        fprintf(out, "run folder: %s (job output: %s)\n", j->run_dir, j->out_path);
    }
    return ST_OK;
}

/* After prepare: the note and warning, then the dry run's text or the files and the submission. */
static st_status_t finish(job_t *j, FILE *out, FILE *log, st_error_t *err) {
    const st_sbatch_request_t *a = j->req;
    if (j->note) fprintf(j->info, "note: %s %s %s\n", j->is_sweep ? "sweep folder" : "run folder", j->run_dir, j->note);
    if (!st_exists(j->cfg.data.path))
        fprintf(log, "strata sbatch: warning: data.path %s does not exist here (fine when the job's nodes see it there, or a "
                     "job this one waits for makes it)\n", j->cfg.data.path);
    if (a->grace_s < 60)
        fprintf(log, "strata sbatch: warning: --grace %d s is short: Slurm checks time limits every 30 s, so the signal "
                     "may come up to 30 s off (docs/slurm-jobs.md)\n", a->grace_s);
    if (a->dry_run) {
        fputs(j->text, out);
        if (j->combine_text) fputs(j->combine_text, out);
        fprintf(log, "strata sbatch: dry run: would write %s%s%s; nothing written or submitted\n", j->script,
                j->is_sweep ? " and sweep.json" : "", j->combine_text ? " and combine.sbatch (afterok on the array's job id)" : "");
        return ST_OK;
    }
    ST_TRY(write_files(j, err));
    if (j->is_sweep) fprintf(out, "wrote %s and %s (%d tasks)\n", j->script, j->sweep_path, j->sweep.n_tasks);
    else fprintf(out, "wrote %s\n", j->script);
    return submit(j, out, log, err);
}

st_status_t st_sbatch_run(const st_sbatch_request_t *req, FILE *out, FILE *log, st_error_t *err) {
    job_t *j = calloc(1, sizeof *j);
    if (!j) return st_fail(err, ST_ERR_NOMEM, "sbatch");
    j->req = req;
    j->info = req->dry_run ? log : out;
    st_status_t rc = prepare(j, err);
    if (rc == ST_OK) rc = finish(j, out, log, err);
    st_config_free(&j->cfg);
    st_sweep_free(&j->sweep);
    cJSON_Delete(j->sweep_doc);
    free(j->text), free(j->combine_text);
    free(j);
    return rc;
}

st_status_t st_plan_run(const st_sbatch_request_t *req, FILE *out, st_error_t *err) {
    st_run_config_t cfg;
    ST_TRY(st_config_load(req->config, req->overrides, req->n_overrides, &cfg, err));
    st_slurm_plan_t plan;
    st_status_t rc = st_slurm_plan(&plan, &cfg, req->cpus_per_node, err);
    st_config_free(&cfg);
    ST_TRY(rc);
    for (int i = 0; i < plan.n_lines; i++) fprintf(out, "%s\n", plan.lines[i]);
    fprintf(out, "plan: --nodes %d --ranks-per-node %d --threads %d  (strata sbatch %s --auto uses it)\n", plan.nodes,
            plan.ranks_per_node, plan.threads, req->config);
    return ST_OK;
}
