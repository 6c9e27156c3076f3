/* script.c — batch script text, sweeps and resource plans for Slurm jobs (see
 * script.h and docs/slurm-jobs.md). The script is written with open_memstream; every value
 * that reaches the shell is single-quoted, every value on an #SBATCH line is checked first. */
#include "script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sharding/dataset.h"
#include "sharding/shards.h"
#include "sharding/split.h"

/* ---- sweeps ------------------------------------------------------------------------------- */

st_status_t st_sweep_add(st_sweep_t *s, const char *arg, st_error_t *err) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return st_fail(err, ST_ERR_CONFIG, "--sweep %s: expected key.path=v1,v2,...", arg);
    if (s->n_axes == ST_SWEEP_MAX_AXES)
        return st_fail(err, ST_ERR_CONFIG, "--sweep %s: at most %d --sweep options", arg, ST_SWEEP_MAX_AXES);
    size_t klen = (size_t)(eq - arg);
    if ((klen == 4 && strncmp(arg, "name", 4) == 0) || (klen == 11 && strncmp(arg, "results_dir", 11) == 0))
        return st_fail(err, ST_ERR_CONFIG, "--sweep %s: the sweep sets name and results_dir for each task itself", arg);
    for (int a = 0; a < s->n_axes; a++)
        if (strlen(s->keys[a]) == klen && strncmp(s->keys[a], arg, klen) == 0)
            return st_fail(err, ST_ERR_CONFIG, "--sweep %s: %.*s is already swept", arg, (int)klen, arg);
    /* split at top-level commas */
    const char *v = eq + 1;
    size_t n_max = 1;
    for (const char *p = v; *p; p++) n_max += *p == ',';
    char **vals = calloc(n_max, sizeof *vals);
    char *key = strndup(arg, klen);
    if (!vals || !key) return free(vals), free(key), st_fail(err, ST_ERR_NOMEM, "--sweep %s", arg);
    int n = 0, depth = 0, quoted = 0;
    const char *start = v;
    for (const char *p = v;; p++) {
        if (*p == '"' && (p == v || p[-1] != '\\')) quoted = !quoted;
        else if (!quoted && (*p == '[' || *p == '{')) depth++;
        else if (!quoted && (*p == ']' || *p == '}')) depth--;
        if (*p == '\0' || (*p == ',' && depth <= 0 && !quoted)) {
            if (p == start) {
                for (int i = 0; i < n; i++) free(vals[i]);
                free(vals), free(key);
                return st_fail(err, ST_ERR_CONFIG, "--sweep %s: empty value (values are separated by commas)", arg);
            }
            vals[n++] = strndup(start, (size_t)(p - start));
            start = p + 1;
            if (*p == '\0') break;
        }
    }
    long tasks = (long)s->n_tasks * n;
    if (s->n_axes == 0) tasks = n;
    if (tasks > ST_SWEEP_MAX_TASKS) {
        for (int i = 0; i < n; i++) free(vals[i]);
        free(vals), free(key);
        return st_fail(err, ST_ERR_CONFIG, "--sweep %s: %ld tasks, more than %d (Slurm's default MaxArraySize)", arg,
                       tasks, ST_SWEEP_MAX_TASKS);
    }
    s->keys[s->n_axes] = key;
    s->values[s->n_axes] = vals;
    s->n_values[s->n_axes] = n;
    s->n_axes++;
    s->n_tasks = (int)tasks;
    return ST_OK;
}

const char *st_sweep_value(const st_sweep_t *s, int task, int axis) {
    int stride = 1;
    for (int a = s->n_axes - 1; a > axis; a--) stride *= s->n_values[a];
    return s->values[axis][(task / stride) % s->n_values[axis]];
}

void st_sweep_free(st_sweep_t *s) {
    for (int a = 0; a < s->n_axes; a++) {
        for (int i = 0; i < s->n_values[a]; i++) free(s->values[a][i]);
        free(s->values[a]);
        free(s->keys[a]);
    }
    memset(s, 0, sizeof *s);
}

/* ---- the batch script ----------------------------------------------------------------------- */

/* st_slurm_check_path, with '%' allowed (the --output / --error patterns the script sets). */
static st_status_t check_chars(const char *path, const char *what, int allow_percent, st_error_t *err) {
    if (!path || !path[0]) return st_fail(err, ST_ERR_CONFIG, "%s: missing", what);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (isspace(*p) || iscntrl(*p) || *p == '"' || *p == '\'' || *p == '\\' || (*p == '%' && !allow_percent))
            return st_fail(err, ST_ERR_CONFIG,
                           "%s \"%s\" contains '%c', which an #SBATCH line cannot carry (white space, quotes, "
                           "backslash and %% are not allowed)", what, path, isprint(*p) ? *p : '?');
    return ST_OK;
}

st_status_t st_slurm_check_path(const char *path, const char *what, st_error_t *err) {
    return check_chars(path, what, 0, err);
}

long st_slurm_time_seconds(const char *t) {
    long f[4];
    int n = 0, days = 0;
    const char *p = t, *dash = strchr(t, '-');
    if (!*t) return -1;
    if (dash) {
        char *end;
        long d = strtol(t, &end, 10);
        if (end != dash || d < 0 || !isdigit((unsigned char)*t)) return -1;
        days = (int)d;
        p = dash + 1;
    }
    while (n < 4) {
        if (!isdigit((unsigned char)*p)) return -1;
        char *end;
        f[n++] = strtol(p, &end, 10);
        if (*end == '\0') break;
        if (*end != ':') return -1;
        p = end + 1;
    }
    if (n > 3) return -1;
    long s;
    if (dash) { /* D-H, D-H:M, D-H:M:S */
        s = f[0] * 3600 + (n > 1 ? f[1] * 60 : 0) + (n > 2 ? f[2] : 0);
    } else {    /* M, M:S, H:M:S */
        s = n == 1 ? f[0] * 60 : n == 2 ? f[0] * 60 + f[1] : f[0] * 3600 + f[1] * 60 + f[2];
    }
    return s + (long)days * 86400;
}

/* Writes s single-quoted for bash. */
static void sq(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

/* --set arguments for bash: " --set 'k=v'" each. */
static void sets(FILE *f, const char *const *ov, int n) {
    for (int i = 0; i < n; i++) {
        fputs(" --set ", f);
        sq(f, ov[i]);
    }
}

/* --job-name: the run's name with anything but [A-Za-z0-9._+-] replaced by '_'. */
static void job_name(char *out, size_t size, const char *name) {
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        out[i] = isalnum((unsigned char)name[i]) || strchr("._+-", name[i]) ? name[i] : '_';
    out[i] = '\0';
    if (!out[0]) snprintf(out, size, "strata");
}

static st_status_t check_word(const char *v, const char *opt, st_error_t *err) {
    if (!v) return ST_OK;
    if (!v[0]) return st_fail(err, ST_ERR_CONFIG, "%s: empty value", opt);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (isspace(*p) || iscntrl(*p) || *p == '"' || *p == '\'' || *p == '\\')
            return st_fail(err, ST_ERR_CONFIG, "%s \"%s\": white space, quotes and backslashes are not allowed", opt, v);
    return ST_OK;
}

/* The #SBATCH values both scripts share, checked before anything is written: the submission
 * directory, --output/--error, --partition/--account/--mem, the job waited for (`after_what`
 * names it in the message) and --time. */
typedef struct {
    const char *workdir, *output, *error, *partition, *account, *mem, *after, *after_what, *time;
} sbatch_fields_t;

static st_status_t check_fields(const sbatch_fields_t *f, st_error_t *err) {
    ST_TRY(st_slurm_check_path(f->workdir, "the submission directory", err));
    ST_TRY(check_chars(f->output, "--output", 1, err));
    ST_TRY(check_chars(f->error, "--error", 1, err));
    ST_TRY(check_word(f->partition, "--partition", err));
    ST_TRY(check_word(f->account, "--account", err));
    ST_TRY(check_word(f->mem, "--mem", err));
    ST_TRY(check_word(f->after, f->after_what, err));
    if (!f->time || st_slurm_time_seconds(f->time) < 0)
        return st_fail(err, ST_ERR_CONFIG, "--time \"%s\": expected minutes, M:S, H:M:S or D-H[:M[:S]]", f->time ? f->time : "");
    return ST_OK;
}

st_status_t st_slurm_script(char **text, const st_slurm_job_t *j, st_error_t *err) {
    *text = NULL;
    if (j->nodes < 1 || j->ranks_per_node < 1 || j->threads < 1)
        return st_fail(err, ST_ERR_CONFIG, "nodes, ranks per node and threads must be at least 1");
    if (j->grace_s < 1 || j->max_restarts < 0)
        return st_fail(err, ST_ERR_CONFIG, "the grace period must be positive and max restarts not negative");
    ST_TRY(check_fields(&(sbatch_fields_t){j->workdir, j->output, j->error, j->partition, j->account, j->mem, j->after,
                                            "--after", j->time}, err));
    if (!j->strata_bin || j->strata_bin[0] != '/' || !j->config || j->config[0] != '/' ||
        !j->script_path || j->script_path[0] != '/')
        return st_fail(err, ST_ERR_INTERNAL, "st_slurm_script: the binary, config and script paths must be absolute");
    int is_sweep = j->sweep && j->sweep->n_axes > 0;
    if (is_sweep ? !j->sweep_dir || j->sweep_dir[0] != '/' : !j->run_dir || j->run_dir[0] != '/')
        return st_fail(err, ST_ERR_INTERNAL, "st_slurm_script: the run or sweep folder must be absolute");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return st_fail(err, ST_ERR_NOMEM, "the batch script");
    char name[64];
    job_name(name, sizeof name, j->job_name ? j->job_name : "strata");
    int T = j->threads;

    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# Written by `strata sbatch` (docs/slurm-jobs.md). Submit again with: sbatch %s\n", j->script_path);
    fprintf(f, "# Runs `strata train` as one MPI step in the background; Slurm's warning signal (USR1, %d s\n"
               "# before the time limit) and SIGTERM are forwarded to it as SIGUSR1, the trainer then writes a\n"
               "# checkpoint and exits 3, and the job requeues itself (at most %d restarts).\n",
            j->grace_s, j->max_restarts);
    fprintf(f, "#SBATCH --job-name=%s\n", name);
    fprintf(f, "#SBATCH --nodes=%d\n", j->nodes);
    fprintf(f, "#SBATCH --ntasks-per-node=%d\n", j->ranks_per_node);
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", T);
    fprintf(f, "#SBATCH --time=%s\n", j->time);
    if (j->partition) fprintf(f, "#SBATCH --partition=%s\n", j->partition);
    if (j->account) fprintf(f, "#SBATCH --account=%s\n", j->account);
    if (j->mem) fprintf(f, "#SBATCH --mem=%s\n", j->mem);
    fprintf(f, "#SBATCH --chdir=%s\n", j->workdir);
    fprintf(f, "#SBATCH --output=%s\n", j->output);
    fprintf(f, "#SBATCH --error=%s\n", j->error);
    fprintf(f, "#SBATCH --open-mode=append\n");
    fprintf(f, "#SBATCH --requeue\n");
    fprintf(f, "#SBATCH --signal=B:USR1@%d\n", j->grace_s);
    if (j->after) fprintf(f, "#SBATCH --dependency=afterok:%s\n", j->after);
    if (is_sweep) fprintf(f, "#SBATCH --array=0-%d\n", j->sweep->n_tasks - 1);
    fprintf(f, "\nset -u\n");
    fprintf(f, "strata=");
    sq(f, j->strata_bin);
    fprintf(f, "\nconfig=");
    sq(f, j->config);
    fprintf(f, "\nthreads=%d\nmax_restarts=%d\n", T, j->max_restarts);
    fprintf(f, "args=(train \"$config\"");
    sets(f, j->overrides, j->n_overrides);
    fprintf(f, " --set \"train.threads=$threads\")\n");
    if (is_sweep) {
        const st_sweep_t *s = j->sweep;
        fprintf(f, "\n# Sweep: %d tasks, the cartesian product of", s->n_tasks);
        for (int a = 0; a < s->n_axes; a++) fprintf(f, "%s %s (%d values)", a ? " ×" : "", s->keys[a], s->n_values[a]);
        fprintf(f, "; sweep.json lists them.\nsweep_dir=");
        sq(f, j->sweep_dir);
        fprintf(f, "\ntask=${SLURM_ARRAY_TASK_ID:?not set: this script is a job array, submit it with sbatch}\n");
        fprintf(f, "case $task in\n");
        for (int t = 0; t < s->n_tasks; t++) {
            fprintf(f, "  %d) args+=(", t);
            for (int a = 0; a < s->n_axes; a++) {
                char *kv = NULL;
                if (asprintf(&kv, "%s=%s", s->keys[a], st_sweep_value(s, t, a)) < 0) kv = NULL;
                fprintf(f, "%s--set ", a ? " " : "");
                sq(f, kv ? kv : "");
                free(kv);
            }
            fprintf(f, ") ;;\n");
        }
        fprintf(f, "  *) echo \"strata job: no task $task in this sweep (0-%d)\" >&2; exit 2 ;;\n", s->n_tasks - 1);
        fprintf(f, "esac\n");
        const char *prefix = j->task_prefix ? j->task_prefix : "task";
        fprintf(f, "args+=(--set \"results_dir=$sweep_dir\" --set \"name=%s-$task\")\n", prefix);
        fprintf(f, "run_dir=$sweep_dir/%s-$task\n", prefix);
    } else {
        fprintf(f, "run_dir=");
        sq(f, j->run_dir);
        fprintf(f, "\n");
    }
    fprintf(f, "\n# One thread count everywhere: --cpus-per-task, OpenMP, BLIS and the trainer (train.threads).\n");
    fprintf(f, "export OMP_NUM_THREADS=$threads BLIS_NUM_THREADS=$threads STRATA_PROGRESS=never\n");
    fprintf(f, "\n# Continue the run when an earlier attempt left it: after a requeue, or when it has checkpoints\n"
               "# (--resume auto starts from the beginning when it finds none).\n");
    fprintf(f, "restarts=${SLURM_RESTART_COUNT:-0}\n");
    fprintf(f, "if [ -d \"$run_dir\" ] && { [ \"$restarts\" -gt 0 ] || compgen -G \"$run_dir/checkpoints/*.h5\" > /dev/null; }; then\n"
               "  args+=(--resume auto)\n"
               "fi\n");
    fprintf(f, "echo \"strata job ${SLURM_JOB_ID:-?}%s: $(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ), restart $restarts (at most "
               "$max_restarts), ${SLURM_NTASKS:-?} ranks x $threads threads, run folder $run_dir\"\n",
            is_sweep ? " task $task" : "");
    fprintf(f, "\n# Forward Slurm's warning (USR1) and SIGTERM to the step as SIGUSR1: %s\n",
            j->launcher == ST_LAUNCH_SRUN ? "srun passes SIGUSR1 on to every task."
                                          : "mpirun passes SIGUSR1 on to every rank\n# (a SIGTERM to mpirun would kill the ranks instead).");
    fprintf(f, "step=\n"
               "interrupted=0\n"
               "# shellcheck disable=SC2317  # called from the traps\n"
               "forward() {\n"
               "  echo \"strata job: got SIG$1: asking strata train to checkpoint and stop\"\n"
               "  [ -n \"$step\" ] && kill -USR1 \"$step\" 2> /dev/null\n"
               "  interrupted=1\n"
               "}\n"
               "trap 'forward USR1' USR1\n"
               "trap 'forward TERM' TERM\n\n");
    if (j->launcher == ST_LAUNCH_SRUN) {
        /* Slurm 22.05's srun does not inherit --cpus-per-task from the batch job: pass it again. */
        fprintf(f, "srun --mpi=pmix --cpus-per-task=\"$threads\" --kill-on-bad-exit=1 \"$strata\" \"${args[@]}\" &\n");
    } else {
        fprintf(f, "mpirun -np \"$SLURM_NTASKS\" --map-by ppr:%d:node --bind-to none -x OMP_NUM_THREADS -x BLIS_NUM_THREADS "
                   "-x STRATA_PROGRESS \"$strata\" \"${args[@]}\" &\n",
                j->ranks_per_node);
    }
    fprintf(f, "step=$!\n"
               "while :; do  # a trapped signal interrupts wait: wait again until the step has ended\n"
               "  interrupted=0\n"
               "  wait \"$step\"; status=$?\n"
               "  [ \"$interrupted\" = 1 ] || break\n"
               "done\n"
               "trap '' USR1 TERM  # scontrol requeue sends this script SIGTERM at once\n\n");
    fprintf(f, "case $status in\n"
               "  0) echo \"strata job: training finished\"; exit 0 ;;\n"
               "  3) if [ \"$restarts\" -lt \"$max_restarts\" ]; then\n"
               "       echo \"strata job: checkpointed and stopped (exit 3): requeueing, restart $((restarts + 1)) of $max_restarts\"\n"
               "       scontrol requeue \"$SLURM_JOB_ID\" && exit 0\n"
               "       echo \"strata job: scontrol requeue failed; continue the run with: sbatch %s\" >&2\n"
               "       exit 3\n"
               "     fi\n"
               "     echo \"strata job: checkpointed and stopped (exit 3); the restart limit ($max_restarts) is reached, not "
               "requeueing; continue the run with: sbatch %s\" >&2\n"
               "     exit 3 ;;\n"
               "  *) echo \"strata job: strata train failed (exit $status); not requeueing\" >&2; exit \"$status\" ;;\n"
               "esac\n",
            j->script_path, j->script_path);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return st_fail(err, ST_ERR_NOMEM, "the batch script");
    }
    *text = buf;
    return ST_OK;
}

/* ---- resources for a dataset -------------------------------------------------------------- */

static void line(st_slurm_plan_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(st_slurm_plan_t *p, const char *fmt, ...) {
    if (p->n_lines >= ST_PLAN_MAX_LINES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->lines[p->n_lines++], sizeof p->lines[0], fmt, ap);
    va_end(ap);
}

static int nodes_for(const st_slurm_plan_t *p, int ranks) {
    int C = p->cpus_per_node, n;
    if (p->phase.phase <= 2) n = 1;
    else if (p->phase.phase == 3) n = ranks > C ? 2 : 1;
    else n = (ranks + C - 1) / C < 2 ? 2 : (ranks + C - 1) / C;
    return n > ranks ? ranks : n;
}

void st_slurm_plan_choose(st_slurm_plan_t *p) {
    int C = p->cpus_per_node, S = p->n_shards;
    int cap = p->phase.ranks_max < S ? p->phase.ranks_max : S;
    if (cap < 1) cap = 1;
    int P = 1, nodes = 1;
    for (int r = cap; r >= 1; r--) {
        int n = nodes_for(p, r);
        if (S % r || r % n || r / n > C) continue;
        P = r, nodes = n;
        break;
    }
    p->nodes = nodes;
    p->ranks_per_node = P / nodes;
    p->threads = C / p->ranks_per_node > 1 ? C / p->ranks_per_node : 1;

    char nodes_txt[48];
    if (p->phase.nodes_max == 0) snprintf(nodes_txt, sizeof nodes_txt, "%d or more nodes", p->phase.nodes_min);
    else if (p->phase.nodes_min == p->phase.nodes_max) snprintf(nodes_txt, sizeof nodes_txt, "%d node%s", p->phase.nodes_min, p->phase.nodes_min > 1 ? "s" : "");
    else snprintf(nodes_txt, sizeof nodes_txt, "%d-%d nodes", p->phase.nodes_min, p->phase.nodes_max);
    char ranks_txt[48];
    if (p->phase.ranks_min == p->phase.ranks_max)
        snprintf(ranks_txt, sizeof ranks_txt, "%d rank%s", p->phase.ranks_min, p->phase.ranks_min > 1 ? "s" : "");
    else snprintf(ranks_txt, sizeof ranks_txt, "%d-%d ranks", p->phase.ranks_min, p->phase.ranks_max);
    line(p, "phase %d (%s): %s on %s suggested; %s", p->phase.phase, p->phase.range, ranks_txt, nodes_txt,
         p->phase.reason);
    line(p, "recipe: configs/recipes/phase%d.json is this phase's starting point (\"extends\" it; docs/recipes.md)",
         p->phase.phase);
    line(p, "shards: batch %lld = %d shards x micro-batch %d x %d accumulation; every rank needs a shard, so at most %d ranks",
         (long long)p->batch_size, S, p->micro_batch, p->accumulation, S);
    if (P < cap)
        line(p, "ranks: %d (the largest count up to %d that divides the %d shards evenly, with at most %d per node)", P, cap,
             S, C);
    else line(p, "ranks: %d (min of the phase's %d and the %d shards; each rank holds %d shard%s)", P,
              p->phase.ranks_max, S, S / P, S / P > 1 ? "s" : "");
    if (P < p->phase.ranks_min)
        line(p, "note: fewer ranks than the phase suggests: raise data.shards (or the batch) to allow more");
    line(p, "nodes: %d x %d rank%s per node (%s)", nodes, P / nodes, P / nodes > 1 ? "s" : "",
         p->phase.phase <= 2 ? "this phase stays on one node"
         : p->phase.phase == 3 ? (nodes > 1 ? "more ranks than one node's CPUs: a second node" : "one node's CPUs suffice")
                               : "this phase spreads over two or more nodes");
    line(p, "threads: %d per rank = %d CPUs per node%s / %d rank%s per node (--cpus-per-task, OMP_NUM_THREADS, BLIS_NUM_THREADS)",
         p->threads, C, p->cpus_assumed ? " (assumed: give --cpus-per-node)" : "", p->ranks_per_node,
         p->ranks_per_node > 1 ? "s" : "");
}

st_status_t st_slurm_plan(st_slurm_plan_t *p, const st_run_config_t *cfg, int cpus_per_node, st_error_t *err) {
    memset(p, 0, sizeof *p);
    p->cpus_assumed = cpus_per_node <= 0;
    p->cpus_per_node = cpus_per_node > 0 ? cpus_per_node : ST_PLAN_DEFAULT_CPUS_PER_NODE;
    st_dataset_t ds;
    ST_TRY(st_dataset_open(cfg->data.path, &ds, err));
    int64_t N = ds.n;
    int32_t *y = calloc((size_t)(N ? N : 1), sizeof *y);
    uint8_t *split = calloc((size_t)(N ? N : 1), 1);
    st_status_t rc = y && split ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: labels of %lld samples", cfg->data.path, (long long)N);
    st_data_config_t dc; /* the split exactly as the run will make it (stratification key, groups) */
    st_config_data_options(cfg, &dc);
    st_split_key_t key = {.n_classes = ds.n_classes};
    if (rc == ST_OK) rc = st_split_rows_of(&key, &ds, &dc, y, split, 1, err);
    int K = key.n_classes;
    int64_t n_train = 0;
    for (int64_t i = 0; rc == ST_OK && i < N; i++) n_train += split[i] == ST_SPLIT_TRAIN;
    free(y), free(split);
    p->n_samples = N, p->n_train = n_train, p->n_classes = K;
    p->batch_size = cfg->train.batch_size;
    p->accumulation = cfg->train.accumulation_steps;
    if (rc == ST_OK)
        rc = st_shards_plan(&p->n_shards, &p->micro_batch, cfg->train.batch_size, cfg->train.accumulation_steps,
                            cfg->data.shards, n_train, err);
    if (rc != ST_OK) {
        st_dataset_close(&ds);
        return rc;
    }
    st_phase_for(N, &p->phase);
    if (key.none) /* data.stratify "none", or a file without class targets (a CTC transcript) */
        line(p, "dataset: %s: %lld samples (%lld in the training split), not stratified", cfg->data.path, (long long)N,
             (long long)n_train);
    else
        line(p, "dataset: %s: %lld samples (%lld in the training split), %d classes", cfg->data.path, (long long)N,
             (long long)n_train, K);
    char order[160];
    st_data_describe_order(order, sizeof order, cfg->data.order, cfg->data.window_rows, cfg->data.stream,
                           cfg->data.memory_budget_mb);
    line(p, "data: %s", order);
    st_dataset_close(&ds);
    st_slurm_plan_choose(p);
    return ST_OK;
}

st_status_t st_slurm_combine_script(char **text, const st_slurm_combine_t *j, st_error_t *err) {
    *text = NULL;
    if (j->threads < 1 || j->members < 1) return st_fail(err, ST_ERR_CONFIG, "threads and members must be at least 1");
    ST_TRY(check_fields(&(sbatch_fields_t){j->workdir, j->output, j->error, j->partition, j->account, j->mem, j->after,
                                            "the members' job id", j->time}, err));
    if (!j->strata_bin || j->strata_bin[0] != '/' || !j->ensemble_dir || j->ensemble_dir[0] != '/' || !j->data)
        return st_fail(err, ST_ERR_INTERNAL, "st_slurm_combine_script: the binary and ensemble paths must be absolute");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return st_fail(err, ST_ERR_NOMEM, "the combining script");
    char name[64];
    job_name(name, sizeof name, j->job_name ? j->job_name : "strata");
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# Written by `strata sbatch --ensemble` (docs/ensembles.md). Submit again with: sbatch %s\n",
            j->script_path);
    fprintf(f, "# Combines the %d members (soft voting on the test split) once every task of the members' job\n"
               "# array has succeeded (afterok).\n", j->members);
    fprintf(f, "#SBATCH --job-name=%s-combine\n", name);
    fprintf(f, "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%d\n", j->threads);
    fprintf(f, "#SBATCH --time=%s\n", j->time);
    if (j->partition) fprintf(f, "#SBATCH --partition=%s\n", j->partition);
    if (j->account) fprintf(f, "#SBATCH --account=%s\n", j->account);
    if (j->mem) fprintf(f, "#SBATCH --mem=%s\n", j->mem);
    fprintf(f, "#SBATCH --chdir=%s\n#SBATCH --output=%s\n#SBATCH --error=%s\n", j->workdir, j->output, j->error);
    fprintf(f, "#SBATCH --dependency=afterok:%s\n", j->after);
    fprintf(f, "\nset -u\nexport OMP_NUM_THREADS=%d BLIS_NUM_THREADS=%d STRATA_PROGRESS=never\ndir=", j->threads,
            j->threads);
    sq(f, j->ensemble_dir);
    fprintf(f, "\nmembers=()\nfor i in $(seq 0 %d); do members+=(\"$dir/member-$i\"); done\n", j->members - 1);
    if (j->launcher == ST_LAUNCH_SRUN) fprintf(f, "srun --mpi=pmix --ntasks=1 --cpus-per-task=%d ", j->threads);
    else fprintf(f, "mpirun -np 1 --bind-to none -x OMP_NUM_THREADS -x BLIS_NUM_THREADS -x STRATA_PROGRESS ");
    sq(f, j->strata_bin);
    fprintf(f, " ensemble eval \"${members[@]}\" --data ");
    sq(f, j->data);
    fprintf(f, " --split test -o \"$dir/ensemble\"\n");
    if (fclose(f) != 0 || !buf) return free(buf), st_fail(err, ST_ERR_NOMEM, "the combining script");
    *text = buf;
    return ST_OK;
}
