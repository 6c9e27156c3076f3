/* train.c — the training job (see train.h): set-up, resume, the epoch loop, rank 0's decisions
 * and files, and the final evaluation of the restored best model (test split, else val). */
#include "train.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "jobs/checkpoint.h"
#include "jobs/decide.h"
#include "jobs/engine.h"
#include "jobs/evaluate.h"
#include "jobs/head_report.h"
#include "jobs/heads.h"
#include "jobs/progress.h"
#include "jobs/results.h"
#include "memory.h"
#include "metrics.h"
#include "watchdog.h"
#include "jobs/fault.h"
#include "mpi/collectives.h"
#include "sharding/fingerprint.h"
#include "jobs/signals.h"

#define EVAL_CHUNK ST_DATA_EVAL_ROWS

typedef struct {
    st_run_config_t *cfg;
    const st_comm_t *c;
    const st_train_options_t *opt;
    st_data_t data;
    st_model_t *model;
    st_loss_heads_t losses;
    st_optim_t *optim;
    st_sched_t sched;
    st_engine_t engine;
    st_track_t track;
    st_train_sums_t epoch_sums;         /* every loss's training sums this epoch (not checkpointed) */
    st_fault_t fault;
    int64_t epoch, step_in_epoch, global_step, nonfinite; /* where training stands */
    int64_t steps_per_epoch;
    int K;
    char run_dir[4096], ckpt_dir[4200], last_ckpt[4300];
    char fingerprint[17];
    char *config_text;                  /* resolved config (rank 0) */
    const char **class_names;           /* [K] views into data.ds */
    st_run_record_t record;             /* rank 0 */
    int have_record;
    int startup_recorded;               /* run.json has this launch's "startup_s" */
    int health_warned;                  /* rank 0 printed these health warnings: 1 head share, 2 gap */
} trainer_t;

/* FNV-1a over the parameter arena, then the buffer arena (BatchNorm running statistics). */
static uint64_t model_hash(st_model_t *m) {
    uint64_t h = st_fnv1a64(ST_FNV1A64_STRATA_BASIS, st_model_params(m), st_model_param_floats(m) * sizeof(float));
    return st_fnv1a64(h, st_model_buffers(m), st_model_buffer_floats(m) * sizeof(float));
}

/* ---- set-up ---- */

/* The class count (or width) of the target the loss on `head` reads ("": the only loss). */
static int classes_of(const char *head, void *ctx) {
    const trainer_t *t = ctx;
    int k = st_heads_width(t->cfg->loss, head, &t->data.ds);
    return k > 0 ? k : t->K;
}

/* The model's memory (parameters, 2 optimizer arrays, gradients, the activations of B rows, the
 * exact mode's per-shard gradients) against what this rank may use: train.max_memory_mb, else
 * what the node can still allocate (after the data is loaded) divided by the ranks on it. */
static st_status_t check_memory(trainer_t *t, int B, st_error_t *err) {
    const char *where = "?";
    double part = 0, need = st_model_memory_bytes(t->model, B, 2, &where, &part);
    int n_owned = t->data.shard_end - t->data.shard_first;
    if (t->cfg->reproducible_exact) need += (double)st_model_param_floats(t->model) * (4.0 * n_owned + 8.0);
    double cap = (double)t->cfg->train.max_memory_mb * 1e6, avail = (double)st_memory_available();
    double share = t->c->local_size > 0 ? avail / t->c->local_size : avail;
    if (cap <= 0 && share <= 0) return ST_OK; /* nothing known: no check */
    double limit = cap > 0 ? cap : share;
    if (need <= limit) return ST_OK;
    char n[32], p[32], l[32], a[32];
    st_memory_format(n, sizeof n, need), st_memory_format(p, sizeof p, part);
    st_memory_format(l, sizeof l, limit), st_memory_format(a, sizeof a, avail);
    char why[200];
    if (cap > 0) st_format(why, sizeof why, "train.max_memory_mb (%ld MB)", t->cfg->train.max_memory_mb);
    else st_format(why, sizeof why, "this rank's share of the node: %s (%s available / %d rank%s)", l, a,
                   t->c->local_size, t->c->local_size == 1 ? "" : "s");
    return st_fail(err, ST_ERR_CONFIG, "model: needs about %s per rank for passes of %d rows, the most for %s (%s of "
                   "activations and scratch), more than %s; make that layer or train.batch_size smaller, run fewer "
                   "ranks per node, or raise train.max_memory_mb", n, B, where, p, why);
}

/* Every model output needs a loss: an output without one would never train. */
static st_status_t check_heads_trained(const trainer_t *t, st_error_t *err) {
    for (int h = 0; h < st_model_head_count(t->model); h++) {
        const st_head_t *hd = st_model_head(t->model, h);
        int found = 0;
        for (int i = 0; i < t->losses.n_heads; i++)
            found |= t->losses.heads[i].head[0] ? strcmp(t->losses.heads[i].head, hd->name) == 0 : h == 0;
        if (!found)
            return st_fail(err, ST_ERR_CONFIG, "%s: model output \"%s\" has no loss; add {\"head\": \"%s\", ...} to "
                           "\"loss\" or remove the head", hd->path, hd->name, hd->name);
    }
    return ST_OK;
}

/* The class table of the reports written for one head (per-class CSVs, collapse warnings): the
 * first loss's target when it is a class target, else the stratification key's. */
static st_status_t head0_classes(trainer_t *t, st_error_t *err) {
    const st_loss_config_t *l = &t->losses.heads[0];
    const st_target_info_t *ti = l->target_index >= 0 ? &t->data.ds.targets[l->target_index] : NULL;
    if (!ti || ti->kind != ST_TARGET_CLASS) return ST_OK;
    free(t->class_names);
    t->K = ti->n_classes;
    t->class_names = calloc((size_t)t->K, sizeof *t->class_names);
    if (!t->class_names) return st_fail(err, ST_ERR_NOMEM, "class names");
    for (int k = 0; k < t->K; k++) t->class_names[k] = ti->names[k];
    return ST_OK;
}

/* The monitors must name metrics this run records (the heads are known only now). */
static st_status_t check_monitors(const trainer_t *t, st_error_t *err) {
    static st_metric_table_t tab; /* names only; large for the stack */
    tab.n = 0;
    st_head_report_val(&tab, "val", NULL, &t->losses, &t->data.ds);
    const char *names[ST_METRICS_MAX];
    for (int i = 0; i < tab.n; i++) names[i] = tab.name[i];
    st_status_t rc = st_monitor_check(&t->cfg->early_stopping.monitor, "early_stopping.monitor", names, tab.n, err);
    if (rc == ST_OK) rc = st_monitor_check(&t->cfg->checkpoint.monitor, "checkpoint.monitor", names, tab.n, err);
    return rc == ST_OK ? ST_OK : (st_error_everywhere(err), rc);
}

static st_status_t build_model(trainer_t *t, st_error_t *err) {
    st_run_config_t *cfg = t->cfg;
    ST_TRY(st_model_build_heads(cfg->model, "model", t->data.shape, t->K, classes_of, t, &t->model, err));
    /* evaluation chunks and, in fast mode, the engine's passes of several micro-batches fit in it */
    int B = t->data.micro_batch > EVAL_CHUNK ? t->data.micro_batch : EVAL_CHUNK;
    ST_TRY(check_memory(t, B, err));
    ST_TRY(st_model_reserve(t->model, B, 0, err));
    st_model_init(t->model, cfg->seed);
    ST_TRY(st_loss_heads_parse(&t->losses, cfg->loss, "loss", classes_of, t, err));
    ST_TRY(st_model_check_losses(t->model, &t->losses, err));
    ST_TRY(check_heads_trained(t, err));
    ST_TRY(st_heads_bind(&t->losses, &t->data, t->c, err));
    ST_TRY(head0_classes(t, err));
    ST_TRY(check_monitors(t, err));
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(t->model, &n_tensors);
    return st_optim_create(&cfg->optim, tensors, n_tensors, st_model_param_floats(t->model), &t->optim, err);
}

static st_status_t build_engine(trainer_t *t, st_error_t *err) {
    st_step_parts_t parts = {t->model, &t->losses, t->optim, t->cfg->train.clip_norm};
    ST_TRY(st_engine_init(&t->engine, &parts, &t->data, t->c, t->cfg->train.accumulation_steps, t->cfg->seed, err));
    return t->cfg->reproducible_exact ? st_engine_set_exact(&t->engine, err) : ST_OK;
}

/* train.epochs × steps per epoch must stay <= ST_TRAIN_MAX_STEPS (the schedule's bound on
 * total_steps; 1e15 epochs of 25 steps made a negative count) and the epoch count must fit
 * the epoch line's and the progress bar's int. Checked before multiplying. */
static st_status_t check_run_length(const trainer_t *t, st_error_t *err) {
    int64_t most = t->steps_per_epoch > 0 ? ST_TRAIN_MAX_STEPS / t->steps_per_epoch : INT_MAX;
    if (most > INT_MAX) most = INT_MAX;
    if (t->cfg->train.epochs <= most) return ST_OK;
    return st_fail(err, ST_ERR_CONFIG, "train.epochs: %ld epochs of %lld optimizer steps do not fit; the largest that fits is "
                   "%lld (a run has at most 10^15 steps and 2^31 - 1 epochs)", t->cfg->train.epochs,
                   (long long)t->steps_per_epoch, (long long)most);
}

static st_status_t build_schedule(trainer_t *t, st_error_t *err) {
    t->steps_per_epoch = st_engine_steps_per_epoch(&t->engine);
    ST_TRY(check_run_length(t, err));
    ST_TRY(st_config_set_total_steps(t->cfg, t->cfg->train.epochs * t->steps_per_epoch, err));
    return st_sched_init(&t->sched, &t->cfg->sched, t->cfg->optim.lr, err);
}

static st_status_t build_everything(trainer_t *t, st_error_t *err) {
    st_data_config_t dc;
    st_config_data_options(t->cfg, &dc);
    ST_TRY(st_data_load(&t->data, &dc, t->c, err));
    st_startup_mark(t->opt->startup, ST_PHASE_DATA);
    const st_split_report_t *sr = &t->data.split_report;
    for (int i = 0; i < sr->n_warnings && i < ST_SPLIT_REPORT_WARNINGS; i++)
        st_comm_print(t->c, stderr, "strata: warning: %s: %s\n", t->data.ds.path, sr->warning[i]);
    if (sr->n_warnings > ST_SPLIT_REPORT_WARNINGS)
        st_comm_print(t->c, stderr, "strata: warning: %s: %d more split warnings\n", t->data.ds.path,
                      sr->n_warnings - ST_SPLIT_REPORT_WARNINGS);
    t->K = t->data.n_classes;
    t->class_names = calloc((size_t)t->K, sizeof *t->class_names);
    if (!t->class_names) return st_fail(err, ST_ERR_NOMEM, "class names");
    const st_target_info_t *key = t->data.strat_target >= 0 ? &t->data.ds.targets[t->data.strat_target] : NULL;
    for (int k = 0; k < t->K; k++)
        t->class_names[k] = key ? key->names[k] : t->data.ds.class_names ? t->data.ds.class_names[k] : "all";
    st_status_t rc = build_model(t, err);
    if (rc == ST_OK) rc = build_engine(t, err);
    if (rc == ST_OK) rc = build_schedule(t, err);
    if (rc == ST_OK && t->c->rank == 0) rc = st_dataset_fingerprint(&t->data.ds, t->fingerprint, err);
    st_track_init(&t->track, t->cfg);
    st_startup_mark(t->opt->startup, ST_PHASE_MODEL);
    return rc;
}

/* ---- state shared from rank 0 (resume, best model) ---- */

/* Rank 0's parameters and buffers to every rank. */
static st_status_t bcast_arenas(trainer_t *t, st_error_t *err) {
    ST_TRY(st_bcast_f32(st_model_params(t->model), st_model_param_floats(t->model), t->c, err));
    return st_bcast_f32(st_model_buffers(t->model), st_model_buffer_floats(t->model), t->c, err);
}

static st_status_t bcast_optimizer(trainer_t *t, st_error_t *err) {
    size_t n = st_optim_n_floats(t->optim);
    int n_state = st_optim_n_state(t->optim);
    int64_t step = st_optim_step_count(t->optim);
    ST_TRY(st_bcast_i64(&step, 1, t->c, err));
    const float *arrays[ST_OPTIM_MAX_STATE];
    for (int k = 0; k < n_state; k++) {
        ST_TRY(st_bcast_f32(st_optim_state(t->optim, k), n, t->c, err));
        arrays[k] = st_optim_state(t->optim, k);
    }
    if (t->c->rank == 0 || n_state == 0) return n_state == 0 ? st_optim_load_state(t->optim, step, arrays, 0, n, err) : ST_OK;
    /* Load the step count: the arrays are already in place, so hand over copies. */
    float *copy = malloc(sizeof(float) * n * (size_t)n_state);
    if (!copy) return st_fail(err, ST_ERR_NOMEM, "optimizer state");
    for (int k = 0; k < n_state; k++) memcpy(copy + n * (size_t)k, arrays[k], sizeof(float) * n), arrays[k] = copy + n * (size_t)k;
    st_status_t rc = st_optim_load_state(t->optim, step, arrays, n_state, n, err);
    free(copy);
    return rc;
}

/* The tracking state and the epoch's per-loss sums as one array (the checkpoint's /early_stop:
 * older checkpoints hold the tracking state only, and their per-loss sums start at 0), so a
 * resume mid-epoch continues the epoch's per-head training metrics exactly. */
#define PROGRESS_LEN (ST_TRACK_LEN + 4 * ST_LOSS_MAX_HEADS)

static void progress_save(const trainer_t *t, double out[PROGRESS_LEN]) {
    st_track_save(&t->track, out);
    for (int h = 0; h < ST_LOSS_MAX_HEADS; h++) {
        double *o = out + ST_TRACK_LEN + 4 * h;
        o[0] = t->epoch_sums.head[h].sum, o[1] = t->epoch_sums.head[h].weight;
        o[2] = (double)t->epoch_sums.correct[h], o[3] = (double)t->epoch_sums.labelled[h];
    }
}

static void progress_load(trainer_t *t, const double *in, int n) {
    st_track_load(&t->track, in, n);
    memset(&t->epoch_sums, 0, sizeof t->epoch_sums);
    for (int h = 0; n >= PROGRESS_LEN && h < ST_LOSS_MAX_HEADS; h++) {
        const double *v = in + ST_TRACK_LEN + 4 * h;
        t->epoch_sums.head[h].sum = v[0], t->epoch_sums.head[h].weight = v[1];
        t->epoch_sums.correct[h] = (int64_t)v[2], t->epoch_sums.labelled[h] = (int64_t)v[3];
    }
}

static st_status_t bcast_state(trainer_t *t, st_error_t *err) {
    ST_TRY(bcast_arenas(t, err));
    ST_TRY(bcast_optimizer(t, err));
    double sched[ST_SCHED_STATE_LEN], track[PROGRESS_LEN];
    st_sched_state_save(&t->sched, sched);
    progress_save(t, track);
    ST_TRY(st_bcast_f64(sched, ST_SCHED_STATE_LEN, t->c, err));
    ST_TRY(st_bcast_f64(track, PROGRESS_LEN, t->c, err));
    ST_TRY(st_sched_state_load(&t->sched, sched, ST_SCHED_STATE_LEN, err));
    progress_load(t, track, PROGRESS_LEN);
    int64_t pos[4] = {t->epoch, t->step_in_epoch, t->global_step, t->nonfinite};
    ST_TRY(st_bcast_i64(pos, 4, t->c, err));
    t->epoch = pos[0], t->step_in_epoch = pos[1], t->global_step = pos[2], t->nonfinite = pos[3];
    return ST_OK;
}

/* ---- checkpoints (rank 0) ---- */

static void warn_rank0(const char *msg, void *ctx) {
    (void)ctx;
    fprintf(stderr, "strata: warning: %s\n", msg);
}

/* The checkpoint's table of every loss and its target (views into the losses and the data);
 * returns how many (0 when a loss is not bound to a target). */
static int ckpt_heads(const trainer_t *t, st_ckpt_head_t *heads /*[n_heads]*/) {
    for (int h = 0; h < t->losses.n_heads; h++)
        if (t->losses.heads[h].target_index < 0) return 0;
    for (int h = 0; h < t->losses.n_heads; h++) {
        const st_loss_config_t *l = &t->losses.heads[h];
        const st_target_info_t *ti = &t->data.ds.targets[l->target_index];
        st_ckpt_head_t *o = &heads[h];
        memset(o, 0, sizeof *o);
        st_format(o->head, sizeof o->head, "%s", l->head);
        st_format(o->target, sizeof o->target, "%s", ti->name);
        o->kind = ti->kind, o->width = l->n_classes, o->names = ti->names;
        o->class_weights = l->class_weights;
        o->t_mean = t->data.tgt_stats[l->target_index].mean, o->t_std = t->data.tgt_stats[l->target_index].std;
        o->standardize_targets = l->standardize_targets;
    }
    return t->losses.n_heads;
}

static st_status_t save_checkpoint(trainer_t *t, st_ckpt_kind_t kind, st_error_t *err) {
    st_ckpt_write_t w;
    memset(&w, 0, sizeof w);
    double sched_buf[ST_SCHED_STATE_LEN], track[PROGRESS_LEN];
    w.kind = kind;
    w.params = st_model_params(t->model), w.n_params = st_model_param_floats(t->model);
    w.buffers = st_model_buffers(t->model), w.n_buffers = st_model_buffer_floats(t->model);
    st_ckpt_fill_state(&w, t->optim, &t->sched, sched_buf);
    progress_save(t, track);
    w.early_stop = track, w.n_early_stop = PROGRESS_LEN;
    w.epoch = t->epoch, w.step = t->global_step, w.step_in_epoch = t->step_in_epoch, w.nonfinite_steps = t->nonfinite;
    w.config_json = t->config_text;
    w.std_mean = t->data.mean, w.std_std = t->data.std, w.n_features = t->data.mean ? t->data.F : 0;
    w.class_weights = t->losses.heads[0].class_weights, w.n_classes = t->K, w.class_names = t->class_names;
    st_ckpt_head_t heads[ST_LOSS_MAX_HEADS];
    w.n_heads = ckpt_heads(t, heads), w.heads = heads;
    w.dataset_fingerprint = t->fingerprint;
    char path[4300];
    ST_TRY(st_ckpt_save(t->ckpt_dir, &w, (int)t->cfg->checkpoint.keep_last, path, sizeof path, warn_rank0, NULL, err));
    if (kind != ST_CKPT_BEST) snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", path);
    return ST_OK;
}

/* Runs `what` on rank 0 and makes every rank agree on its status. */
#define RANK0(t, call, err) st_comm_agree((t)->c, (t)->c->rank == 0 ? (call) : ST_OK, (err))

/* ---- the run folder and resume (rank 0 reads, everyone receives) ---- */

/* Rank 0: split.json, the achieved class proportions of every part (grouped or not). */
static st_status_t write_split(const trainer_t *t, st_error_t *err) {
    const st_data_t *d = &t->data;
    const char *key = d->strat_target >= 0 ? d->ds.targets[d->strat_target].name : d->n_classes == 1 && !d->ds.has_y ? "none" : "y";
    const char **names = calloc((size_t)d->n_classes, sizeof *names);
    if (!names) return st_fail(err, ST_ERR_NOMEM, "split.json");
    for (int k = 0; k < d->n_classes; k++)
        names[k] = d->strat_target >= 0 ? d->ds.targets[d->strat_target].names[k] : d->ds.class_names ? d->ds.class_names[k] : "all";
    st_split_summary_t s = {key, d->part_class_counts, names, d->n_classes, d->n_groups, d->split_report.n_warnings,
                            (const char (*)[256])d->split_report.warning};
    st_status_t rc = st_write_split_json(t->run_dir, &s, err);
    free(names);
    return rc;
}

static st_status_t gather_hosts(trainer_t *t, char (*hosts)[64], int *n_hosts, st_error_t *err) {
    char *all = calloc((size_t)t->c->size, 64);
    if (!all) return st_fail(err, ST_ERR_NOMEM, "host names");
    char mine[64];
    st_format(mine, sizeof mine, "%s", t->c->host);
    if (st_allgather_records(all, mine, 64, t->c, err) != ST_OK) return free(all), err->code;
    *n_hosts = 0;
    for (int r = 0; r < t->c->size && *n_hosts < 64; r++) {
        int seen = 0;
        for (int h = 0; h < *n_hosts; h++) seen |= strcmp(hosts[h], all + 64 * r) == 0;
        if (!seen) snprintf(hosts[(*n_hosts)++], 64, "%s", all + 64 * r);
    }
    free(all);
    return ST_OK;
}

static st_status_t restore_checkpoint(trainer_t *t, const char *path, st_error_t *err) {
    st_ckpt_t ck;
    ST_TRY(st_ckpt_read(path, &ck, err));
    /* The saved config resolved again by this strata: keys added since (with their defaults) are
     * then filled in on both sides and do not count as a difference. */
    st_run_config_t again;
    st_error_t ignored = {0};
    int resolved = st_config_from_json(ck.config_json, path, NULL, 0, &again, &ignored) == ST_OK &&
                   st_config_set_total_steps(&again, again.train.epochs * t->steps_per_epoch, &ignored) == ST_OK;
    cJSON *saved = resolved ? cJSON_Duplicate(again.json, 1) : cJSON_Parse(ck.config_json);
    if (resolved) st_config_free(&again);
    char diff[1024] = "";
    st_status_t rc = saved ? st_config_diff(saved, t->cfg->json, diff, sizeof diff) : ST_ERR_DATA;
    if (!saved) st_fail(err, rc, "%s: the saved config is not valid JSON", path);
    else if (rc != ST_OK)
        st_fail(err, rc, "--resume: the config differs from the one %s was made with, in: %s (the checkpoint's config wins: "
                "use the run folder's config.json)", path, diff);
    if (rc == ST_OK && strcmp(ck.dataset_fingerprint, t->fingerprint) != 0)
        rc = st_fail(err, ST_ERR_DATA, "--resume: %s was made on another dataset (fingerprint %s, %s has %s)", path,
                     ck.dataset_fingerprint, t->cfg->data.path, t->fingerprint);
    if (rc == ST_OK)
        rc = st_ckpt_restore(&ck, st_model_params(t->model), st_model_param_floats(t->model), st_model_buffers(t->model),
                             st_model_buffer_floats(t->model), t->optim, &t->sched, err);
    if (rc == ST_OK) {
        progress_load(t, ck.early_stop, ck.n_early_stop);
        t->epoch = ck.epoch, t->step_in_epoch = ck.step_in_epoch, t->global_step = ck.step, t->nonfinite = ck.nonfinite_steps;
        snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", path);
    }
    cJSON_Delete(saved);
    st_ckpt_free(&ck);
    return rc;
}

/* Rank 0: the checkpoint to resume from ("" = none) — a path, or the newest valid one. */
static st_status_t choose_checkpoint(trainer_t *t, char *path, size_t size, st_error_t *err) {
    path[0] = '\0';
    if (!t->opt->resume) return ST_OK;
    if (strcmp(t->opt->resume, "auto") != 0) {
        snprintf(path, size, "%s", t->opt->resume);
        return ST_OK;
    }
    return st_ckpt_find_latest(t->ckpt_dir, path, size, warn_rank0, NULL, err);
}

static st_status_t open_run_rank0(trainer_t *t, char (*hosts)[64], int n_hosts, st_error_t *err) {
    st_run_config_t *cfg = t->cfg;
    ST_TRY(st_run_dir_prepare(t->run_dir, sizeof t->run_dir, cfg->results_dir, cfg->name, t->opt->resume != NULL, err));
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
    if (!(t->config_text = st_config_to_json(cfg))) return st_fail(err, ST_ERR_NOMEM, "config text");
    char path[4300];
    ST_TRY(choose_checkpoint(t, path, sizeof path, err));
    const char *host_ptrs[64];
    for (int h = 0; h < n_hosts; h++) host_ptrs[h] = hosts[h];
    if (path[0]) {
        ST_TRY(restore_checkpoint(t, path, err));
        ST_TRY(st_history_truncate(t->run_dir, t->global_step, err));
        if (st_run_record_open(&t->record, t->run_dir, err) != ST_OK) return err->code;
        t->have_record = 1;
        ST_TRY(st_run_record_add_restart(&t->record, time(NULL), t->c->size, host_ptrs, n_hosts, t->global_step, err));
        printf("resuming %s from %s (epoch %lld, step %lld)\n", t->run_dir, path, (long long)t->epoch + 1,
               (long long)t->global_step);
        return ST_OK;
    }
    if (t->opt->resume) printf("no checkpoint in %s: starting from the beginning\n", t->ckpt_dir);
    ST_TRY(st_history_truncate(t->run_dir, -1, err));
    ST_TRY(st_write_config(t->run_dir, t->config_text, err));
    ST_TRY(write_split(t, err));
    st_run_info_t info = {t->opt->version, t->opt->commit, t->c->size, st_threads_get(),
                          t->opt->blis ? t->opt->blis->kernels : "?", host_ptrs, n_hosts, cfg->data.path, t->fingerprint};
    ST_TRY(st_run_record_create(&t->record, t->run_dir, &info, time(NULL), err));
    t->have_record = 1;
    return ST_OK;
}

static st_status_t open_run(trainer_t *t, st_error_t *err) {
    char hosts[64][64];
    int n_hosts = 0;
    ST_TRY(gather_hosts(t, hosts, &n_hosts, err));
    ST_TRY(RANK0(t, open_run_rank0(t, hosts, n_hosts, err), err));
    ST_TRY(st_bcast_bytes(t->run_dir, (int)sizeof t->run_dir, t->c, err));
    return bcast_state(t, err);
}

/* ---- one epoch ---- */

typedef struct {
    double val_loss, val_accuracy, val_macro_f1;
    int evaluated;
    st_pred_diversity_t diversity;
    int64_t *confusion;   /* [K, K] of the first head's validation pass, when a class head (a view into r) */
    st_eval_t r;          /* every head's evaluation (owned) */
    st_metric_table_t val; /* every head's named validation metrics */
} epoch_eval_t;

static st_status_t apply_fault(trainer_t *t, int *flags, st_error_t *err) {
    st_fault_kind_t f = st_fault_at(&t->fault, t->c->rank, t->global_step);
    *flags = (f == ST_FAULT_NAN ? ST_FLAG_NONFINITE : 0) | (st_signals_pending() ? ST_FLAG_STOP : 0);
    if (f == ST_FAULT_ABORT)
        return st_fail(err, ST_ERR_INTERNAL, "fault injected by STRATA_FAULT at step %lld", (long long)t->global_step);
    if (f == ST_FAULT_KILL) {
        fprintf(stderr, "[rank %d] STRATA_FAULT: killing this rank at step %lld\n", t->c->rank, (long long)t->global_step);
        fflush(stderr);
        raise(SIGKILL);
    }
    if (f == ST_FAULT_PERTURB) st_model_params(t->model)[0] += 1e-3f;
    if (f == ST_FAULT_HANG) {
        fprintf(stderr, "[rank %d] STRATA_FAULT: hanging at step %lld\n", t->c->rank, (long long)t->global_step);
        fflush(stderr);
        for (;;) pause();
    }
    return ST_OK;
}

/* The bar within an epoch: STRATA_PROGRESS=always|never overrides; by default it is drawn when
 * the output reaches a terminal (st_progress_output_is_terminal looks past the pseudo-terminal
 * mpirun hands every rank), never inside a Slurm job. */
static st_progress_mode_t progress_mode(void) {
    const char *v = getenv("STRATA_PROGRESS");
    if (v && strcmp(v, "always") == 0) return ST_PROGRESS_ALWAYS;
    if ((v && strcmp(v, "never") == 0) || getenv("SLURM_JOB_ID")) return ST_PROGRESS_NEVER;
    return ST_PROGRESS_AUTO;
}

static st_status_t note_step(trainer_t *t, const st_step_stats_t *s, st_error_t *err) {
    if (!s->skipped) {
        t->nonfinite = 0;
        return ST_OK;
    }
    t->nonfinite++;
    if (t->c->rank == 0 && isfinite(s->grad_norm)) /* the summed gradient is finite: a rank's flag said so */
        fprintf(stderr, "strata: warning: step %lld: non-finite gradient flagged by a rank (STRATA_FAULT nan): step "
                "skipped (%lld in a row)\n", (long long)t->global_step, (long long)t->nonfinite);
    else if (t->c->rank == 0)
        fprintf(stderr, "strata: warning: step %lld: non-finite gradient (norm %g): step skipped (%lld in a row)\n",
                (long long)t->global_step, s->grad_norm, (long long)t->nonfinite);
    if (t->nonfinite >= t->cfg->train.max_nonfinite_steps) {
        st_fail(err, ST_ERR_NUMERIC, "stopping: %lld consecutive non-finite steps (train.max_nonfinite_steps); "
                "the last good checkpoint is %s", (long long)t->nonfinite, t->last_ckpt[0] ? t->last_ckpt : "(none yet)");
        return st_error_everywhere(err); /* every rank decided the same from the same sums */
    }
    return ST_OK;
}

/* Every train.divergence_check_every steps the ranks compare a hash of their parameters and
 * buffers; a replica that differs stops the job on every rank, naming the ranks and the step. */
static st_status_t check_divergence(trainer_t *t, st_error_t *err) {
    long every = t->cfg->train.divergence_check_every;
    if (every <= 0 || t->c->size == 1 || t->global_step % every != 0) return ST_OK;
    unsigned long long mine = model_hash(t->model), *all = calloc((size_t)t->c->size, sizeof *all);
    if (!all) return st_fail(err, ST_ERR_NOMEM, "divergence check");
    if (st_allgather_records(all, &mine, (int)sizeof mine, t->c, err) != ST_OK) return free(all), err->code;
    char ranks[256] = "";
    for (int r = 1; r < t->c->size; r++)
        if (all[r] != all[0]) st_format(ranks + strlen(ranks), sizeof ranks - strlen(ranks), "%s%d", ranks[0] ? ", " : "", r);
    free(all);
    if (!ranks[0]) return ST_OK;
    st_fail(err, ST_ERR_NUMERIC, "replica divergence at step %lld: the parameters of rank %s differ from rank 0's "
            "(a corrupted replica; the last good checkpoint is %s)", (long long)t->global_step, ranks,
            t->last_ckpt[0] ? t->last_ckpt : "(none yet)");
    return st_error_everywhere(err); /* every rank compared the same hashes */
}

/* STRATA_TRACE=FILE: rank 0 appends one line per step with a hash of every tensor (for
 * `strata verify`, which compares these lines across rank counts). */
static void trace_step(trainer_t *t) {
    const char *path = getenv("STRATA_TRACE");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "step %lld", (long long)t->global_step);
    int n;
    const st_tensor_view_t *v = st_model_tensors(t->model, &n);
    for (int i = 0; i < n; i++)
        fprintf(f, " %s=%016llx", v[i].name, (unsigned long long)st_fnv1a64(ST_FNV1A64_STRATA_BASIS, v[i].data, v[i].n * sizeof(float)));
    fprintf(f, " buffers=%016llx\n", (unsigned long long)st_fnv1a64(ST_FNV1A64_STRATA_BASIS, st_model_buffers(t->model),
                                                                    st_model_buffer_floats(t->model) * sizeof(float)));
    fclose(f);
}

/* After the first step of this launch: the start-up phases (the latest rank's end of each) go
 * into run.json "startup_s". Collective. */
static st_status_t record_startup(trainer_t *t, st_error_t *err) {
    t->startup_recorded = 1;
    if (!t->opt->startup) return ST_OK;
    st_startup_mark(t->opt->startup, ST_PHASE_FIRST_STEP);
    st_startup_t latest;
    ST_TRY(st_startup_reduce(&latest, t->opt->startup, t->c, err));
    return RANK0(t, st_run_record_set_item(&t->record, "startup_s", st_startup_json(&latest), err), err);
}

/* Runs the epoch's remaining steps. *stop_now: --stop-after-steps was reached. */
static st_status_t train_steps(trainer_t *t, int *stop_now, st_error_t *err) {
    st_progress_t bar;
    if (t->c->rank == 0)
        st_progress_begin(&bar, stdout, progress_mode(), (int)t->epoch + 1, (int)t->cfg->train.epochs, t->steps_per_epoch);
    for (; t->step_in_epoch < t->steps_per_epoch; ) {
        int flags;
        st_watchdog_beat("a training step", t->global_step);
        st_status_t fault = apply_fault(t, &flags, err); /* agreed on in the step's first exchange */
        st_step_stats_t s;
        double lr = st_sched_lr(&t->sched, (long)t->global_step);
        ST_TRY(st_engine_step(&t->engine, t->epoch, t->step_in_epoch, t->global_step, lr, flags, fault, &s, err));
        t->track.loss_sum += s.loss_sum, t->track.weight += s.weight; /* global batch sums */
        t->track.correct += (double)s.correct, t->track.count += (double)s.count;
        for (int h = 0; h < t->losses.n_heads; h++) {
            t->epoch_sums.head[h].sum += s.head[h].sum, t->epoch_sums.head[h].weight += s.head[h].weight;
            t->epoch_sums.correct[h] += s.head_correct[h], t->epoch_sums.labelled[h] += s.head_labelled[h];
        }
        ST_TRY(note_step(t, &s, err));
        t->step_in_epoch++, t->global_step++;
        if (!t->startup_recorded) ST_TRY(record_startup(t, err));
        ST_TRY(check_divergence(t, err));
        if (t->c->rank == 0) trace_step(t);
        if (t->c->rank == 0)
            st_progress_update(&bar, t->step_in_epoch, (int64_t)t->track.count, t->track.loss_sum / t->track.weight);
        if (s.stop) {
            *stop_now = 2;
            break;
        }
        if (t->opt->stop_after_steps > 0 && t->global_step >= t->opt->stop_after_steps) {
            *stop_now = 1;
            break;
        }
    }
    if (t->c->rank == 0) st_progress_end(&bar);
    return ST_OK;
}

static st_status_t validate(trainer_t *t, epoch_eval_t *ev, st_error_t *err) {
    memset(ev, 0, sizeof *ev);
    ev->val_loss = ev->val_accuracy = ev->val_macro_f1 = NAN;
    int64_t e = t->epoch + 1;
    if (t->data.n_part[ST_SPLIT_VAL] == 0 || (e % t->cfg->train.eval_every != 0 && e != t->cfg->train.epochs)) return ST_OK;
    ST_TRY(st_evaluate(&ev->r, t->model, &t->losses, &t->data, ST_SPLIT_VAL, EVAL_CHUNK, t->c, err));
    ev->evaluated = 1;
    st_head_report_val(&ev->val, "val", &ev->r, &t->losses, &t->data.ds);
    ev->val_loss = st_metric_table_get(&ev->val, "val_loss");
    ev->confusion = ev->r.heads[0].kind == ST_HEAD_CLASS ? ev->r.heads[0].confusion : NULL;
    if (!ev->confusion) return ST_OK;
    st_head_metrics_t m;
    st_head_metrics(&m, &ev->r.heads[0]);
    ev->val_accuracy = m.accuracy, ev->val_macro_f1 = m.macro_f1;
    int64_t *hist = calloc((size_t)t->K, sizeof *hist);
    if (hist) st_confusion_pred_hist(hist, ev->confusion, t->K), ev->diversity = st_pred_diversity(hist, t->K);
    free(hist);
    return ST_OK;
}

/* Validation per-class CSVs: the first head's as val_per_class.csv (one head) and every class
 * head's as val_<head>_per_class.csv (several heads). */
static st_status_t write_val_csvs(const trainer_t *t, const epoch_eval_t *ev, st_error_t *err) {
    if (t->losses.n_heads == 1)
        return ev->confusion ? st_write_class_csvs(t->run_dir, ST_VAL_PREFIX, ev->confusion, t->class_names, t->K, err) : ST_OK;
    for (int h = 0; h < t->losses.n_heads; h++) {
        const st_loss_config_t *l = &t->losses.heads[h];
        if (ev->r.heads[h].kind != ST_HEAD_CLASS || l->target_index < 0) continue;
        const st_target_info_t *ti = &t->data.ds.targets[l->target_index];
        const char *names[ST_MAX_CLASSES > 4096 ? 4096 : ST_MAX_CLASSES];
        int K = ti->n_classes;
        if (K > 4096) continue;
        for (int k = 0; k < K; k++) names[k] = ti->names[k];
        char prefix[96];
        st_format(prefix, sizeof prefix, "val_%s_", st_heads_name(l, &t->data.ds));
        ST_TRY(st_write_class_csvs(t->run_dir, prefix, ev->r.heads[h].confusion, names, K, err));
    }
    return ST_OK;
}

static void collapse_warning(const trainer_t *t, const epoch_eval_t *ev, char *out, size_t size) {
    out[0] = '\0';
    const st_pred_diversity_t *d = &ev->diversity;
    if (d->top_share > t->cfg->monitors.collapse_top_share || d->norm_entropy < t->cfg->monitors.collapse_min_entropy)
        snprintf(out, size, "predictions collapsing: %d of %d classes predicted, the most common takes %.0f%% "
                 "(normalised entropy %.2f)", d->n_distinct, t->K, 100 * d->top_share, d->norm_entropy);
}

/* Rank 0: history line, validation reports, checkpoints, the epoch line. */
static st_status_t epoch_files(trainer_t *t, const epoch_eval_t *ev, const st_decision_t *d, double seconds, st_error_t *err) {
    int64_t e = t->epoch + 1;
    st_history_record_t h;
    memset(&h, 0, sizeof h);
    h.epoch = e, h.step = t->global_step, h.lr = st_sched_lr(&t->sched, (long)t->global_step - 1);
    h.train_loss = t->track.loss_sum / t->track.weight, h.train_accuracy = t->track.correct / t->track.count;
    h.val_loss = ev->val_loss, h.val_accuracy = ev->val_accuracy;
    st_metric_table_t extra = ev->val;
    st_head_report_train(&extra, &t->epoch_sums, &t->losses, &t->data.ds);
    if (t->losses.n_heads > 1) h.train_loss = st_metric_table_get(&extra, "train_loss"); /* the combined loss */
    if (!st_loss_uses_labels(&t->losses.heads[0])) h.train_accuracy = NAN;
    st_head_report_health(&extra, &t->epoch_sums, &t->losses, &t->data.ds, ev->val_loss, h.train_loss,
                          t->cfg->monitors.head_share_max, t->cfg->monitors.gap_max, h.health_warning,
                          sizeof h.health_warning);
    h.n_extra = extra.n, h.extra_names = (const char (*)[64])extra.name, h.extra_values = extra.value;
    h.seconds = seconds, h.samples_per_s = t->track.count / seconds;
    long every = t->cfg->monitors.diversity_every;
    if (ev->evaluated && every > 0 && e % every == 0) {
        h.has_diversity = 1, h.diversity = ev->diversity;
        collapse_warning(t, ev, h.collapse_warning, sizeof h.collapse_warning);
    }
    snprintf(h.param_hash, sizeof h.param_hash, "%016llx",
             (unsigned long long)model_hash(t->model));
    ST_TRY(st_history_append(t->run_dir, &h, err));
    long pc = t->cfg->monitors.per_class_every;
    if (ev->evaluated && pc > 0 && (e % pc == 0 || d->stop || e == t->cfg->train.epochs)) ST_TRY(write_val_csvs(t, ev, err));
    t->epoch = e, t->step_in_epoch = 0; /* the checkpoints below are "after epoch e": */
    memset(&t->track.loss_sum, 0, 4 * sizeof(double)); /* with the next epoch's sums empty */
    if (d->save_best) ST_TRY(save_checkpoint(t, ST_CKPT_BEST, err));
    if (d->save_last) ST_TRY(save_checkpoint(t, ST_CKPT_LAST, err));
    st_epoch_line_t line = {(int)e, (int)t->cfg->train.epochs, h.train_loss, h.train_accuracy, h.val_loss, h.val_accuracy,
                            h.lr, seconds, h.samples_per_s, d->save_best, d->save_last || d->save_best, h.collapse_warning};
    st_epoch_line_print(stdout, &line);
    int kind = !h.health_warning[0] ? 0 : strncmp(h.health_warning, "head ", 5) == 0 ? 1 : 2; /* share, gap */
    if (kind & ~t->health_warned) /* each kind printed once; history.jsonl has it every epoch */
        printf("warning: %s (history.jsonl records it while it lasts)\n", h.health_warning);
    t->health_warned |= kind;
    if (d->stop) printf("%s\n", d->reason);
    return ST_OK;
}

static st_status_t end_epoch(trainer_t *t, double seconds, int *stop, st_error_t *err) {
    epoch_eval_t ev;
    ST_TRY(validate(t, &ev, err));
    st_decision_t d;
    memset(&d, 0, sizeof d);
    st_epoch_outcome_t o = {ev.evaluated, ev.val_loss, ev.val_accuracy, ev.val_macro_f1, (int)t->epoch + 1,
                            t->epoch + 1 == t->cfg->train.epochs, ev.val.n, (const char (*)[64])ev.val.name,
                            ev.val.value};
    if (t->c->rank == 0) d = st_decide(&t->track, &t->sched, t->cfg, &o);
    st_status_t rc = st_decision_bcast(&d, t->c, err);
    if (rc == ST_OK && d.lr_changed) t->sched.state.lr = d.lr_base;
    if (rc == ST_OK) rc = RANK0(t, epoch_files(t, &ev, &d, seconds, err), err);
    t->epoch += t->c->rank != 0, t->step_in_epoch = 0; /* rank 0 moved on in epoch_files */
    memset(&t->track.loss_sum, 0, 4 * sizeof(double));
    memset(&t->epoch_sums, 0, sizeof t->epoch_sums);
    st_eval_free(&ev.r);
    *stop = d.stop;
    return rc;
}

/* ---- the end: best model, test split ---- */

static st_status_t restore_best(trainer_t *t, char *used, size_t size, st_error_t *err) {
    char best[4300];
    snprintf(best, sizeof best, "%s/best.h5", t->ckpt_dir);
    snprintf(used, size, "%s", t->last_ckpt);
    int have = 0;
    if (t->c->rank == 0) have = t->cfg->checkpoint.best && t->cfg->early_stopping.restore_best && access(best, R_OK) == 0;
    ST_TRY(st_bcast_bytes(&have, (int)sizeof have, t->c, err));
    if (!have) return ST_OK;
    st_status_t rc = ST_OK;
    if (t->c->rank == 0) {
        st_ckpt_t ck;
        rc = st_ckpt_read(best, &ck, err);
        if (rc == ST_OK)
            rc = st_ckpt_restore(&ck, st_model_params(t->model), st_model_param_floats(t->model), st_model_buffers(t->model),
                                 st_model_buffer_floats(t->model), NULL, NULL, err);
        if (rc == ST_OK) snprintf(used, size, "%s", best);
        st_ckpt_free(&ck);
    }
    ST_TRY(st_comm_agree(t->c, rc, err));
    return bcast_arenas(t, err);
}

/* Rank 0: metrics.json, per_class.csv and confusion.csv of the final evaluation, and its line. */
static st_status_t final_rank0(trainer_t *t, const st_eval_t *r, const char *split, const char *ckpt,
                               const st_train_result_t *res, st_error_t *err) {
    st_metric_table_t tab = {0};
    st_head_report_val(&tab, split, r, &t->losses, &t->data.ds);
    const int64_t *conf = r->heads[0].kind == ST_HEAD_CLASS ? r->heads[0].confusion : NULL;
    st_final_metrics_t m = {split, res->final_loss, ckpt[0] ? ckpt : NULL, conf, t->class_names, t->K,
                            tab.n, (const char (*)[64])tab.name, tab.value};
    ST_TRY(st_write_metrics_json(t->run_dir, &m, err));
    if (conf) ST_TRY(st_write_class_csvs(t->run_dir, ST_TEST_PREFIX, conf, t->class_names, t->K, err));
    char model[4400];
    if (ckpt[0]) snprintf(model, sizeof model, "model %s", ckpt);
    else snprintf(model, sizeof model, "the final model: no checkpoint kept");
    if (t->losses.n_heads == 1 && conf)
        printf("%s accuracy %.2f%%  loss %.4f  macro F1 %.4f  (%lld samples, %s)\n", split, 100 * res->final_accuracy,
               res->final_loss, res->final_macro_f1, (long long)r->n, model);
    else {
        printf("%s loss %.4f  (%s)\n", split, res->final_loss, model);
        st_head_report_print(stdout, split, r, &t->losses, &t->data.ds);
    }
    return ST_OK;
}

/* The restored best model on the test split, or on the val split when there is no test split
 * (results/README.md, metrics.json "split"); nothing when there is neither. */
static st_status_t final_eval(trainer_t *t, st_train_result_t *res, st_error_t *err) {
    char used[4300];
    ST_TRY(restore_best(t, used, sizeof used, err));
    int part = t->data.n_part[ST_SPLIT_TEST] > 0 ? ST_SPLIT_TEST : ST_SPLIT_VAL;
    if (t->data.n_part[part] == 0) {
        st_comm_print(t->c, stdout, "no test or val split: no final metrics (metrics.json is not written)\n");
        return ST_OK;
    }
    const char *split = part == ST_SPLIT_TEST ? "test" : "val";
    st_eval_t r;
    ST_TRY(st_evaluate(&r, t->model, &t->losses, &t->data, part, EVAL_CHUNK, t->c, err));
    snprintf(res->final_split, sizeof res->final_split, "%s", split);
    st_metric_table_t tab = {0};
    st_head_report_val(&tab, split, &r, &t->losses, &t->data.ds);
    char key[64];
    st_format(key, sizeof key, "%s_loss", split);
    res->final_loss = st_metric_table_get(&tab, key);
    st_head_metrics_t m0;
    st_head_metrics(&m0, &r.heads[0]);
    res->final_accuracy = m0.accuracy, res->final_macro_f1 = m0.macro_f1;
    st_status_t rc = RANK0(t, final_rank0(t, &r, split, used, res, err), err);
    st_eval_free(&r);
    return rc;
}

/* ---- the job ---- */

static st_status_t loop(trainer_t *t, st_train_result_t *res, st_error_t *err) {
    while (t->epoch < t->cfg->train.epochs) {
        double t0 = st_clock_s();
        int stop_now = 0, stop = 0;
        ST_TRY(train_steps(t, &stop_now, err));
        if (stop_now) res->stopped_after_steps = stop_now == 1, res->preempted = stop_now == 2;
        if (stop_now && t->step_in_epoch < t->steps_per_epoch) { /* mid-epoch: checkpoint where we are */
            st_watchdog_beat("a checkpoint", t->global_step);
            return RANK0(t, save_checkpoint(t, ST_CKPT_LAST, err), err);
        }
        st_watchdog_beat("evaluation", t->global_step);
        ST_TRY(end_epoch(t, st_clock_s() - t0, &stop, err));
        if (stop_now) {
            if (t->c->rank == 0 && !t->cfg->checkpoint.last) ST_TRY(save_checkpoint(t, ST_CKPT_LAST, err));
            return ST_OK;
        }
        if (stop) {
            res->early_stopped = 1;
            break;
        }
    }
    return final_eval(t, res, err);
}

/* A stop signal before the first step: the ranks agree at each start-up phase boundary (one small
 * all-reduce) and end the run there, with nothing to checkpoint (exit 3: a batch script requeues
 * it). A second signal meanwhile ends the process at once (jobs/signals.h). */
static st_status_t startup_boundary(trainer_t *t, st_train_result_t *res, st_error_t *err) {
    int64_t stop = st_signals_pending() != 0;
    ST_TRY(st_allreduce_sum_i64(&stop, 1, t->c, err));
    if (stop > 0) res->stopped_in_startup = res->preempted = 1;
    return ST_OK;
}

static void finish_record(trainer_t *t, const st_train_result_t *res, st_status_t rc, const st_error_t *err) {
    if (t->c->rank != 0 || !t->have_record) return;
    char status[1100];
    if (rc != ST_OK) snprintf(status, sizeof status, "failed: %s", err->msg);
    else if (res->stopped_in_startup)
        snprintf(status, sizeof status, "stopped during start-up by a signal, before step %lld (nothing new to save; "
                 "start it again with --resume auto)", (long long)t->global_step);
    else if (res->stopped_after_steps) snprintf(status, sizeof status, "stopped after %lld steps", (long long)t->global_step);
    else if (res->preempted)
        snprintf(status, sizeof status, "preempted at step %lld (checkpointed; continue with --resume auto)", (long long)t->global_step);
    else snprintf(status, sizeof status, "%s", res->early_stopped ? "stopped early" : "completed");
    st_error_t e2 = {0};
    if (st_run_record_set_status(&t->record, status, res->stopped_after_steps || res->preempted ? 0 : time(NULL), &e2) != ST_OK)
        fprintf(stderr, "strata: warning: %s\n", e2.msg);
}

static void teardown(trainer_t *t) {
    st_engine_free(&t->engine);
    st_optim_free(t->optim);
    st_loss_heads_free(&t->losses);
    st_model_free(t->model);
    st_data_free(&t->data);
    if (t->have_record) st_run_record_free(&t->record);
    free(t->config_text);
    free(t->class_names);
}

/* Sets the threads per rank: train.threads, or 0 = this rank's CPUs / ranks on the node. More
 * threads than the CPUs in the rank's affinity mask spin on shared cores (train.threads=4096 on
 * 2 cores started thousands): an error naming the CPU count, a warning with
 * train.allow_oversubscribe. More ranks x threads than the node's CPUs (4 ranks on 2 cores in
 * the tests) only gets a warning from rank 0. */
static st_status_t set_threads(const st_run_config_t *cfg, const st_comm_t *c, st_error_t *err) {
    int cpus = st_cpus_available(), node = st_cpus_online();
    int n = cfg->train.threads > 0 ? cfg->train.threads : st_comm_threads_default(c);
    char warning[256] = "";
    if (n > cpus) {
        if (!cfg->train.allow_oversubscribe)
            return st_fail(err, ST_ERR_CONFIG, "train.threads: %d threads per rank, but this rank may run on %d CPU%s "
                           "(its affinity mask): at most %d, or set train.allow_oversubscribe=true", n, cpus,
                           cpus == 1 ? "" : "s", cpus);
        snprintf(warning, sizeof warning, "train.threads: %d threads per rank on %d CPU%s (train.allow_oversubscribe): "
                 "threads share cores", n, cpus, cpus == 1 ? "" : "s");
    } else if ((long)n * c->local_size > node) {
        snprintf(warning, sizeof warning, "%d ranks x %d thread%s on a node with %d CPU%s: ranks share cores", c->local_size,
                 n, n == 1 ? "" : "s", node, node == 1 ? "" : "s");
    }
    if (warning[0] && c->rank == 0) fprintf(stderr, "strata: warning: %s\n", warning);
    st_threads_set(n);
    return ST_OK;
}

st_status_t st_train_run(st_run_config_t *cfg, const st_comm_t *c, const st_train_options_t *opt,
                         st_train_result_t *res, st_error_t *err) {
    trainer_t t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    res->final_accuracy = res->final_loss = res->final_macro_f1 = NAN;
    t.cfg = cfg, t.c = c, t.opt = opt;
    st_watchdog_start(c->rank, cfg->train.stall_timeout);
    st_status_t rc = st_comm_agree(c, set_threads(cfg, c, err), err);
    if (rc == ST_OK) rc = st_comm_agree(c, st_fault_from_env(&t.fault, err), err);
    st_startup_mark(opt->startup, ST_PHASE_CONFIG);
    if (rc == ST_OK) rc = startup_boundary(&t, res, err);
    if (rc == ST_OK && !res->stopped_in_startup) rc = st_comm_agree(c, build_everything(&t, err), err);
    if (rc == ST_OK && !res->stopped_in_startup) rc = startup_boundary(&t, res, err);
    if (rc == ST_OK && !res->stopped_in_startup) rc = open_run(&t, err);
    st_startup_mark(opt->startup, ST_PHASE_RUN_FOLDER);
    if (rc == ST_OK && !res->stopped_in_startup) rc = startup_boundary(&t, res, err);
    st_signals_startup(0); /* from here a signal stops after a step, with a checkpoint */
    if (rc == ST_OK && !res->stopped_in_startup) {
        st_comm_print(c, stdout, "training %s: %lld samples (train %lld, val %lld, test %lld), %d classes; %d ranks x %d threads; "
                      "%d shards x micro-batch %d x accumulation %d = batch %ld; %lld steps per epoch\n",
                      cfg->name, (long long)t.data.ds.n, (long long)t.data.n_part[0], (long long)t.data.n_part[1],
                      (long long)t.data.n_part[2], t.K, c->size, st_threads_get(), t.data.S, t.data.micro_batch,
                      cfg->train.accumulation_steps, cfg->train.batch_size, (long long)t.steps_per_epoch);
        fflush(stdout);
        rc = loop(&t, res, err);
    }
    snprintf(res->run_dir, sizeof res->run_dir, "%s", t.run_dir);
    finish_record(&t, res, rc, err);
    st_watchdog_stop();
    teardown(&t);
    return rc;
}
