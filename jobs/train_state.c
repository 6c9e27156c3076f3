/* train_state.c — what a training job keeps and restores: checkpoints (rank 0), the run folder
 * and its split.json, resume from the newest checkpoint, and the state rank 0 broadcasts (see
 * trainer.h). */
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs/class_history.h"
#include "jobs/engine_node.h"

/* ---- state shared from rank 0 (resume, best model) ---- */

/* Rank 0's parameters and buffers to every rank. */
st_status_t st_trainer_bcast_arenas(trainer_t *t, st_error_t *err) {
    int shared = 0;
    ST_TRY(st_engine_node_params_to_all(&t->engine, &shared, err));
    if (!shared) ST_TRY(st_bcast_f32(st_model_params(t->model), st_model_param_floats(t->model), t->c, err));
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
    ST_TRY(st_trainer_bcast_arenas(t, err));
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

st_status_t st_trainer_save_checkpoint(trainer_t *t, st_ckpt_kind_t kind, st_error_t *err) {
    st_ckpt_write_t w;
    memset(&w, 0, sizeof w);
    double sched_buf[ST_SCHED_STATE_LEN], track[PROGRESS_LEN];
    w.kind = kind;
    w.params = st_model_params(t->model), w.n_params = st_model_param_floats(t->model);
    w.buffers = st_model_buffers(t->model), w.n_buffers = st_model_buffer_floats(t->model);
    st_engine_node_gather_state(&t->engine); /* the node-local update keeps only a range current */
    st_ckpt_fill_state(&w, t->optim, &t->sched, sched_buf);
    progress_save(t, track);
    w.early_stop = track, w.n_early_stop = PROGRESS_LEN;
    w.epoch = t->epoch, w.step = t->global_step, w.step_in_epoch = t->step_in_epoch, w.nonfinite_steps = t->nonfinite;
    w.config_json = t->config_text;
    w.std_mean = t->data.mean, w.std_std = t->data.std, w.n_features = t->data.mean ? t->data.n_std : 0;
    w.class_weights = t->losses.heads[0].class_weights, w.n_classes = t->K, w.class_names = t->class_names;
    st_ckpt_head_t heads[ST_LOSS_MAX_HEADS];
    w.n_heads = ckpt_heads(t, heads), w.heads = heads;
    w.dataset_fingerprint = t->fingerprint;
    int n_fn = t->data.ds.n_feature_names; /* the dataset's feature names, for `strata predict` on CSV */
    const char **fn = n_fn > 0 ? malloc(sizeof(char *) * (size_t)n_fn) : NULL;
    if (n_fn > 0 && !fn) return st_fail(err, ST_ERR_NOMEM, "checkpoint feature names");
    for (int i = 0; i < n_fn; i++) fn[i] = t->data.ds.feature_names[i];
    w.n_feature_names = n_fn, w.feature_names = fn;
    char path[4300];
    st_status_t rc = st_ckpt_save(t->ckpt_dir, &w, (int)t->cfg->checkpoint.keep_last, path, sizeof path, warn_rank0,
                                  NULL, err);
    free(fn);
    if (rc != ST_OK) return rc;
    if (kind != ST_CKPT_BEST) snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", path);
    return ST_OK;
}


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
        ST_TRY(st_class_history_truncate(t->run_dir, t->epoch, err)); /* epochs done */
        if (st_run_record_open(&t->record, t->run_dir, err) != ST_OK) return err->code;
        t->have_record = 1;
        ST_TRY(st_run_record_add_restart(&t->record, time(NULL), t->c->size, host_ptrs, n_hosts, t->global_step, err));
        printf("resuming %s from %s (epoch %lld, step %lld)\n", t->run_dir, path, (long long)t->epoch + 1,
               (long long)t->global_step);
        return ST_OK;
    }
    if (t->opt->resume) printf("no checkpoint in %s: starting from the beginning\n", t->ckpt_dir);
    ST_TRY(st_history_truncate(t->run_dir, -1, err));
    ST_TRY(st_class_history_truncate(t->run_dir, 0, err));
    ST_TRY(st_write_config(t->run_dir, t->config_text, err));
    ST_TRY(write_split(t, err));
    st_run_info_t info = {t->opt->version, t->opt->commit, t->c->size, st_threads_get(),
                          t->opt->blis ? t->opt->blis->kernels : "?", host_ptrs, n_hosts, cfg->data.path, t->fingerprint};
    ST_TRY(st_run_record_create(&t->record, t->run_dir, &info, time(NULL), err));
    t->have_record = 1;
    return ST_OK;
}

st_status_t st_trainer_open_run(trainer_t *t, st_error_t *err) {
    char hosts[64][64];
    int n_hosts = 0;
    ST_TRY(gather_hosts(t, hosts, &n_hosts, err));
    ST_TRY(RANK0(t, open_run_rank0(t, hosts, n_hosts, err), err));
    ST_TRY(st_bcast_bytes(t->run_dir, (int)sizeof t->run_dir, t->c, err));
    return bcast_state(t, err);
}
