/* train.c — the training job (see train.h): the epoch loop, validation, rank 0's decisions and
 * files, and the final evaluation of the restored best model (test split, else val). The set-up
 * is in train_setup.c, checkpoints, the run folder and resume in train_state.c (trainer.h). */
#include "trainer.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heartbeat.h"
#include "jobs/class_history.h"
#include "jobs/report_html.h"

/* FNV-1a over the parameter arena, then the buffer arena (BatchNorm running statistics). */
static uint64_t model_hash(st_model_t *m) {
    uint64_t h = st_fnv1a64(ST_FNV1A64_STRATA_BASIS, st_model_params(m), st_model_param_floats(m) * sizeof(float));
    return st_fnv1a64(h, st_model_buffers(m), st_model_buffer_floats(m) * sizeof(float));
}

/* ---- one epoch ---- */

typedef struct {
    double val_loss, val_accuracy, val_macro_f1, val_wer; /* val_wer: a ctc first head's WER */
    double seconds;       /* the evaluation's wall time */
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
    if (f == ST_FAULT_SLOW) nanosleep(&(struct timespec){0, ST_FAULT_SLOW_MS * 1000000L}, NULL);
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

/* run.json "data_memory": the order, whether the training split streams, the blocks' bytes
 * against the budget and the bookkeeping bytes per row of the file (sharding/data.h). */
static cJSON *data_memory_json(const st_data_t *d, const char *order) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "order", order);
    cJSON_AddBoolToObject(o, "stream", d->stream != NULL);
    cJSON_AddNumberToObject(o, "stream_bytes", (double)d->stream_bytes);
    cJSON_AddNumberToObject(o, "budget_mb", (double)d->budget_mb);
    cJSON_AddNumberToObject(o, "bookkeeping_bytes_per_row", d->bookkeeping_per_row);
    cJSON_AddNumberToObject(o, "startup_peak_bytes_per_row", d->startup_peak_per_row);
    return o;
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
    ev->val_loss = ev->val_accuracy = ev->val_macro_f1 = ev->val_wer = NAN;
    int64_t e = t->epoch + 1;
    if (t->data.n_part[ST_SPLIT_VAL] == 0 || (e % t->cfg->train.eval_every != 0 && e != t->cfg->train.epochs)) return ST_OK;
    ST_TRY(st_evaluate(&ev->r, t->model, &t->losses, &t->data, ST_SPLIT_VAL, EVAL_CHUNK, t->c, err));
    ev->evaluated = 1;
    st_head_report_val(&ev->val, "val", &ev->r, &t->losses, &t->data.ds);
    ev->val_loss = st_metric_table_get(&ev->val, "val_loss");
    ev->confusion = ev->r.heads[0].kind == ST_HEAD_CLASS ? ev->r.heads[0].confusion : NULL;
    st_head_metrics_t m;
    st_head_metrics(&m, &ev->r.heads[0]);
    if (ev->r.heads[0].kind == ST_HEAD_SEQUENCE) ev->val_wer = m.wer; /* the epoch line's metric */
    if (!ev->confusion) return ST_OK;
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

/* Every class head's per-class validation recall and F1, appended to val_per_class_history.csv. */
static st_status_t append_class_history(const trainer_t *t, const epoch_eval_t *ev, int64_t e, st_error_t *err) {
    for (int h = 0; h < t->losses.n_heads; h++) {
        const st_loss_config_t *l = &t->losses.heads[h];
        if (ev->r.heads[h].kind != ST_HEAD_CLASS) continue;
        const st_target_info_t *ti = l->target_index >= 0 ? &t->data.ds.targets[l->target_index] : NULL;
        int K = t->losses.n_heads == 1 ? t->K : ti ? ti->n_classes : 0;
        if (K <= 0 || K > 4096) continue;
        const char *names[4096];
        for (int k = 0; k < K; k++) names[k] = t->losses.n_heads == 1 ? (t->class_names ? t->class_names[k] : NULL) : ti->names[k];
        ST_TRY(st_class_history_append(t->run_dir, e, st_heads_name(l, &t->data.ds), ev->r.heads[h].confusion, names, K, err));
    }
    return ST_OK;
}

static void collapse_warning(const trainer_t *t, const epoch_eval_t *ev, char *out, size_t size) {
    out[0] = '\0';
    const st_pred_diversity_t *d = &ev->diversity;
    if (!ev->confusion) return; /* a class head's predictions only */
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
    if (ev->evaluated) st_metric_table_add(&extra, "eval_seconds", ev->seconds); /* wall time = seconds + this */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* the report's wall-clock axis, to the millisecond */
    st_metric_table_add(&extra, "time_unix_s", (double)now.tv_sec + (double)(now.tv_nsec / 1000000) / 1e3);
    h.n_extra = extra.n, h.extra_names = (const char (*)[64])extra.name, h.extra_values = extra.value;
    h.seconds = seconds, h.samples_per_s = t->track.count / seconds;
    long every = t->cfg->monitors.diversity_every;
    if (ev->evaluated && ev->confusion && every > 0 && e % every == 0) { /* a class head's predictions */
        h.has_diversity = 1, h.diversity = ev->diversity;
        collapse_warning(t, ev, h.collapse_warning, sizeof h.collapse_warning);
    }
    snprintf(h.param_hash, sizeof h.param_hash, "%016llx",
             (unsigned long long)model_hash(t->model));
    ST_TRY(st_history_append(t->run_dir, &h, err));
    long pc = t->cfg->monitors.per_class_every;
    if (ev->evaluated && pc > 0 && (e % pc == 0 || d->stop || e == t->cfg->train.epochs)) ST_TRY(write_val_csvs(t, ev, err));
    if (ev->evaluated) ST_TRY(append_class_history(t, ev, e, err));
    t->epoch = e, t->step_in_epoch = 0; /* the checkpoints below are "after epoch e": */
    memset(&t->track.loss_sum, 0, 4 * sizeof(double)); /* with the next epoch's sums empty */
    if (d->save_best) ST_TRY(st_trainer_save_checkpoint(t, ST_CKPT_BEST, err));
    if (d->save_last) ST_TRY(st_trainer_save_checkpoint(t, ST_CKPT_LAST, err));
    int wer = t->losses.n_heads == 1 && st_loss_is_sequence(&t->losses.heads[0]);
    st_epoch_line_t line = {(int)e, (int)t->cfg->train.epochs, h.train_loss, h.train_accuracy, h.val_loss,
                            wer ? ev->val_wer : h.val_accuracy, h.lr, seconds, h.samples_per_s, d->save_best,
                            d->save_last || d->save_best, h.collapse_warning, wer ? "wer" : NULL};
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
    double t_eval = st_clock_s();
    ST_TRY(validate(t, &ev, err));
    ev.seconds = st_clock_s() - t_eval;
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
    return st_trainer_bcast_arenas(t, err);
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

/* run.json "step_ms": milliseconds a step in each phase of the engine (jobs/engine.h,
 * st_step_phase_t): rank 0's median over its last steps, the largest such median over ranks,
 * and rank 0's mean over this launch's steps (docs/performance.md, section 3). Collective. */
static st_status_t record_step_phases(trainer_t *t, st_error_t *err) {
    double med[ST_STEP_PHASES], most[ST_STEP_PHASES], mean[ST_STEP_PHASES];
    st_engine_phase_ms(med, &t->engine, 0);
    st_engine_phase_ms(mean, &t->engine, 1);
    ST_TRY(st_reduce_max_f64(most, med, ST_STEP_PHASES, t->c, err));
    double wait_ms, spread_ms;
    ST_TRY(st_engine_arrival_wait(&wait_ms, &spread_ms, &t->engine, err));
    if (t->c->rank != 0 || !t->have_record) return RANK0(t, ST_OK, err);
    const char *names[3] = {"rank0_median", "max_over_ranks_median", "rank0_mean"};
    const double *values[3] = {med, most, mean};
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < 3; k++) {
        cJSON *v = cJSON_AddObjectToObject(o, names[k]);
        for (int p = 0; p < ST_STEP_PHASES; p++)
            cJSON_AddNumberToObject(v, st_step_phase_names[p], round(values[k][p] * 1e3) / 1e3);
    }
    cJSON *w = cJSON_AddObjectToObject(o, "arrival");
    cJSON_AddNumberToObject(w, "wait_median", round(wait_ms * 1e3) / 1e3);
    cJSON_AddNumberToObject(w, "spread_median", round(spread_ms * 1e3) / 1e3);
    cJSON_AddNumberToObject(o, "steps", (double)t->engine.timed_steps);
    /* how the gradient was summed and applied: jobs/engine_node.h, or the all-reduce and an
     * update every rank makes in full */
    cJSON_AddStringToObject(o, "update", t->engine.node_update ? "node-local" : "replicated");
    return RANK0(t, st_run_record_set_item(&t->record, "step_ms", o, err), err);
}

static st_status_t loop(trainer_t *t, st_train_result_t *res, st_error_t *err) {
    if (t->epoch < t->cfg->train.epochs && t->step_in_epoch < t->steps_per_epoch) /* weight totals, outside a step */
        ST_TRY(st_engine_start(&t->engine, t->epoch, t->step_in_epoch, t->global_step, t->cfg->train.epochs, err));
    while (t->epoch < t->cfg->train.epochs) {
        double t0 = st_clock_s();
        int stop_now = 0, stop = 0;
        ST_TRY(train_steps(t, &stop_now, err));
        if (stop_now) res->stopped_after_steps = stop_now == 1, res->preempted = stop_now == 2;
        if (stop_now && t->step_in_epoch < t->steps_per_epoch) { /* mid-epoch: checkpoint where we are */
            st_watchdog_beat("a checkpoint", t->global_step);
            return RANK0(t, st_trainer_save_checkpoint(t, ST_CKPT_LAST, err), err);
        }
        st_watchdog_beat("evaluation", t->global_step);
        ST_TRY(end_epoch(t, st_clock_s() - t0, &stop, err));
        if (stop_now) {
            if (t->c->rank == 0 && !t->cfg->checkpoint.last) ST_TRY(st_trainer_save_checkpoint(t, ST_CKPT_LAST, err));
            return ST_OK;
        }
        if (stop) {
            res->early_stopped = 1;
            break;
        }
    }
    ST_TRY(record_step_phases(t, err));
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

/* Rank 0: RUN/report.html (jobs/report_html.h) once run.json has its final status; a failure
 * to write it is only a warning. */
static void end_report(const trainer_t *t) {
    if (t->c->rank != 0 || !t->have_record) return;
    const char *dir = t->run_dir;
    char written[ST_RESULTS_PATH_MAX + 32];
    st_error_t e2 = {0};
    if (st_report_write(written, sizeof written, NULL, &dir, 1, &e2) != ST_OK)
        fprintf(stderr, "strata: warning: no report.html: %s\n", e2.msg);
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

/* What the model predicts, for the first line: "10 classes", "a vocabulary of 12 (with the
 * blank)", "3 outputs" or "4 heads". */
static void describe_heads(const trainer_t *t, char *out, size_t size) {
    const st_loss_config_t *l = &t->losses.heads[0];
    if (t->losses.n_heads > 1) st_format(out, size, "%d heads", t->losses.n_heads);
    else if (st_loss_is_sequence(l)) st_format(out, size, "a vocabulary of %d (with the blank)", l->n_classes);
    else if (!st_loss_uses_labels(l)) st_format(out, size, "%d output%s", l->n_classes, l->n_classes == 1 ? "" : "s");
    else st_format(out, size, "%d classes", t->K);
}

/* Heartbeats (core/heartbeat.h) beside the stall watchdog: every rank's host and UDP port,
 * exchanged once, so a stalled rank's message names the rank and host that stopped answering. A
 * rank whose socket cannot open sends port 0 (rank 0's port 0 turns heartbeats off everywhere). */
static st_status_t start_heartbeat(const st_comm_t *c, double stall_timeout_s, st_error_t *err) {
    if (c->size < 2 || stall_timeout_s <= 0) return ST_OK;
    st_heartbeat_peer_t me, *all = calloc((size_t)c->size, sizeof *all);
    if (!all) return st_fail(err, ST_ERR_NOMEM, "heartbeat: host table for %d ranks", c->size);
    st_error_t ignored = {0};
    if (st_heartbeat_open(&me, c->host, &ignored) != ST_OK) me.port = 0;
    st_status_t rc = st_allgather_records(all, &me, (int)sizeof me, c, err);
    if (rc == ST_OK) rc = st_heartbeat_start(c->rank, c->size, all, err);
    free(all);
    return rc;
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
    if (rc == ST_OK) rc = st_comm_agree(c, start_heartbeat(c, cfg->train.stall_timeout, err), err);
    if (rc == ST_OK) rc = st_comm_agree(c, st_fault_from_env(&t.fault, err), err);
    st_startup_mark(opt->startup, ST_PHASE_CONFIG);
    if (rc == ST_OK) rc = startup_boundary(&t, res, err);
    if (rc == ST_OK && !res->stopped_in_startup) rc = st_comm_agree(c, st_trainer_build(&t, err), err);
    if (rc == ST_OK && !res->stopped_in_startup) rc = startup_boundary(&t, res, err);
    if (rc == ST_OK && !res->stopped_in_startup) rc = st_trainer_open_run(&t, err);
    st_startup_mark(opt->startup, ST_PHASE_RUN_FOLDER);
    if (rc == ST_OK && !res->stopped_in_startup) rc = startup_boundary(&t, res, err);
    st_signals_startup(0); /* from here a signal stops after a step, with a checkpoint */
    if (rc == ST_OK && !res->stopped_in_startup) {
        char what[64], order[160], streamed[512];
        describe_heads(&t, what, sizeof what);
        st_data_describe_order(order, sizeof order, t.data.order, t.data.window_rows, t.data.stream != NULL,
                               t.data.budget_mb);
        st_data_describe_stream(streamed, sizeof streamed, &t.data);
        st_comm_print(c, stdout, "training %s: %lld samples (train %lld, val %lld, test %lld), %s; %d ranks x %d threads; "
                      "%d shards x micro-batch %d x accumulation %d = batch %ld; %lld steps per epoch; %s\n",
                      cfg->name, (long long)t.data.ds.n, (long long)t.data.n_part[0], (long long)t.data.n_part[1],
                      (long long)t.data.n_part[2], what, c->size, st_threads_get(), t.data.S, t.data.micro_batch,
                      cfg->train.accumulation_steps, cfg->train.batch_size, (long long)t.steps_per_epoch, order);
        if (streamed[0]) st_comm_print(c, stdout, "%s\n", streamed);
        rc = RANK0(&t, st_run_record_set_item(&t.record, "data_memory", data_memory_json(&t.data, order), err), err);
        fflush(stdout);
        if (rc == ST_OK) rc = loop(&t, res, err);
    }
    snprintf(res->run_dir, sizeof res->run_dir, "%s", t.run_dir);
    finish_record(&t, res, rc, err);
    end_report(&t);
    st_watchdog_stop();
    st_heartbeat_stop();
    teardown(&t);
    return rc;
}
