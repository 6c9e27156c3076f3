/* train_setup.c — a training job's set-up: the data, the model and its heads, the losses bound
 * to their targets, the monitors checked against what the run records, the optimizer, the
 * engine and the schedule (see trainer.h). */
#include "trainer.h"
#include "jobs/engine_node.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

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
    ST_TRY(st_model_build_heads(cfg->model, "model", t->data.shape, classes_of("", t), classes_of, t, &t->model, err));
    if (t->data.has_lengths) ST_TRY(st_model_enable_lengths(t->model, err));
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
    ST_TRY(st_engine_set_augment(&t->engine, &t->cfg->augment, err));
    if (st_mix_enabled(&t->cfg->mix)) {
        if (st_mix_check(&t->cfg->mix, &t->losses, t->data.shape, t->data.n_categorical, err) != ST_OK)
            return st_error_everywhere(err);
        ST_TRY(st_engine_set_mix(&t->engine, &t->cfg->mix, err));
    }
    if (t->cfg->reproducible_exact) return st_engine_set_exact(&t->engine, err);
    return st_engine_node_init(&t->engine, err);
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

st_status_t st_trainer_build(trainer_t *t, st_error_t *err) {
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
