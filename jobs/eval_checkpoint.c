/* eval_checkpoint.c — see eval_checkpoint.h: a checkpoint's model evaluated on a dataset.
 *
 * Steps: read the checkpoint and open the dataset (every rank), rebuild the model (every head
 * as wide as the checkpoint's table says) for the dataset's per-sample shape and restore its
 * parameters and buffers, rebuild the losses and bind them to the dataset's targets with the
 * checkpoint's tables (jobs/ckpt_heads.h; a checkpoint without tables: one class loss over /y,
 * balanced class weights from the root table), take this rank's block of the requested rows —
 * the split made as sharding/data.c makes it for training — read their features and the
 * targets the losses read, scale and standardise the features with the checkpoint's
 * statistics, evaluate (st_evaluate, blocks of ST_DATA_EVAL_ROWS so the sums have the same bits
 * at any rank count), and on rank 0 write metrics.json (every head's metrics in its "metrics"
 * table), the per-class CSVs (per_class.csv and confusion.csv with one head,
 * <head>_per_class.csv and <head>_confusion.csv per class head with several) and print the
 * summary (one line per head with several). The output folder is
 * created first (--out: before anything else; the default one in the checkpoint's run folder
 * once the checkpoint has been read), so a folder that cannot be made fails before the work. */
#include "jobs/eval_checkpoint.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/checkpoint.h"
#include "jobs/ckpt_heads.h"
#include "jobs/ckpt_model.h"
#include "jobs/config.h"
#include "jobs/eval_decoded.h"
#include "jobs/evaluate.h" /* st_evaluate */
#include "jobs/head_report.h"
#include "jobs/heads.h" /* st_heads_name */
#include "fileio.h"
#include "jobs/results.h"
#include "metrics.h"
#include "sharding/batch.h"
#include "sharding/loader.h"
#include "sharding/standardize.h"

int st_eval_split_valid(const char *split) {
    static const char *const ok[] = {"test", "val", "train", "all"};
    for (int k = 0; k < 4; k++)
        if (strcmp(split, ok[k]) == 0) return 1;
    return 0;
}

/* What one evaluation holds; eval_free releases it. */
typedef struct {
    st_ckpt_t ck;
    st_run_config_t cfg;
    st_dataset_t ds;
    st_model_t *model;
    st_loss_heads_t losses;
    st_data_part_t part;         /* this rank's rows; T [n, tgt_floats] the bound targets' values */
    int64_t part_total;          /* rows of the split over all ranks */
    long tgt_floats;             /* Σ widths of the targets the losses read (0: none, the /y path) */
    int tgt_offset[ST_MAX_TARGETS];
    st_target_stats_t tgt_stats[ST_MAX_TARGETS]; /* views into ck.heads */
    char out_dir[4096];
    int made_out_dir;      /* rank 0 created out_dir: removed again (when empty) if the evaluation fails */
} eval_t;

/* Each head as wide as the checkpoint's table says (without one: the root class count). */
static int classes_of(const char *head, void *ctx) { return st_ckpt_model_classes(head, &((eval_t *)ctx)->ck); }

/* A checkpoint without per-head tables (written before issue 13): one class loss over /y,
 * "balanced" class weights from the root table. */
static st_status_t bind_root(eval_t *e, st_error_t *err) {
    st_loss_config_t *l = &e->losses.heads[0];
    if (l->class_weights_mode == ST_CLASS_WEIGHTS_BALANCED && e->ck.class_weights) {
        l->class_weights = malloc(sizeof(float) * (size_t)e->ck.n_classes);
        if (!l->class_weights) return st_fail(err, ST_ERR_NOMEM, "class weights");
        memcpy(l->class_weights, e->ck.class_weights, sizeof(float) * (size_t)e->ck.n_classes);
        l->class_weights_mode = ST_CLASS_WEIGHTS_LIST;
    }
    return ST_OK;
}

/* The targets the losses read: their columns in a row of part.T. */
static void target_layout(eval_t *e) {
    e->tgt_floats = 0;
    for (int t = 0; t < e->ds.n_targets; t++) {
        int used = 0;
        for (int h = 0; h < e->losses.n_heads; h++) used |= e->losses.heads[h].target_index == t;
        e->tgt_offset[t] = (int)e->tgt_floats;
        if (used) e->tgt_floats += e->ds.targets[t].width;
    }
}

/* The model and loss of the checkpoint, for the dataset's per-sample shape. */
static st_status_t build(eval_t *e, st_error_t *err) {
    ST_TRY(st_config_from_json(e->ck.config_json, e->ck.path, NULL, 0, &e->cfg, err));
    ST_TRY(st_loss_heads_parse(&e->losses, e->cfg.loss, "loss", classes_of, e, err));
    if (e->ck.n_heads > 0) ST_TRY(st_ckpt_heads_bind(&e->losses, e->tgt_stats, &e->ck, &e->ds, err));
    else if (e->ds.n_classes != e->ck.n_classes)
        return st_fail(err, ST_ERR_DATA, "%s has %d classes but the model was trained on %d", e->ds.path, e->ds.n_classes,
                       e->ck.n_classes);
    ST_TRY(st_ckpt_model_build(&e->model, &e->ck, &e->cfg, e->ds.shape, e->ds.has_lengths, ST_DATA_EVAL_ROWS, e->ds.path,
                               err));
    ST_TRY(st_model_check_losses(e->model, &e->losses, err));
    if (e->ck.n_heads > 0) ST_TRY(st_ckpt_heads_check_names(&e->losses, &e->ck, &e->ds, err));
    else ST_TRY(bind_root(e, err));
    target_layout(e);
    return ST_OK;
}

/* The training run's split of every row (st_split_rows_of, as sharding/data.c makes it): the
 * file's /split, else recomputed from the checkpoint's seed and fractions, stratified on its
 * key, groups kept whole. y [N] gets every row's stratification class. */
static st_status_t make_split(const eval_t *e, int32_t *y, uint8_t *split, int all, st_error_t *err) {
    st_data_config_t dc;
    st_config_data_options(&e->cfg, &dc);
    st_split_key_t key;
    st_status_t rc = st_split_rows_of(&key, &e->ds, &dc, y, split, !all, err);
    if (rc == ST_ERR_CONFIG) st_error_prefix(err, "the split the model of %s was trained with", e->ck.path);
    return rc;
}

/* The values of every target a loss reads for this rank's rows, interleaved into part.T and
 * checked (a class id out of range, a NaN not allowed: the target, the file and the row named). */
static st_status_t read_targets(eval_t *e, const st_comm_t *c, st_error_t *err) {
    int64_t n = e->part.n;
    e->part.T = calloc((size_t)(n * e->tgt_floats + 1), sizeof(float));
    st_status_t rc = st_comm_agree(c, e->part.T ? ST_OK : st_fail(err, ST_ERR_NOMEM, "target values"), err);
    for (int t = 0; rc == ST_OK && t < e->ds.n_targets; t++) {
        const st_target_info_t *ti = &e->ds.targets[t];
        int used = 0, w = ti->width;
        for (int h = 0; h < e->losses.n_heads; h++) used |= e->losses.heads[h].target_index == t;
        if (!used) continue;
        float *one = calloc((size_t)(n * w + 1), sizeof(float));
        rc = st_comm_agree(c, one ? ST_OK : st_fail(err, ST_ERR_NOMEM, "target values"), err);
        if (rc == ST_OK) rc = st_loader_gather_target(&e->ds, t, c, e->part.ids, n, one, err);
        char why[200];
        int64_t bad = rc == ST_OK ? st_target_first_bad(ti, one, n, why, sizeof why) : -1;
        if (bad >= 0) rc = st_fail(err, ST_ERR_DATA, "%s: %s row %lld: %s", e->ds.path, ti->h5path,
                                   (long long)e->part.ids[bad], why);
        for (int64_t i = 0; rc == ST_OK && i < n; i++)
            memcpy(e->part.T + (size_t)i * (size_t)e->tgt_floats + e->tgt_offset[t], one + (size_t)i * (size_t)w,
                   sizeof(float) * (size_t)w);
        free(one);
        rc = st_comm_agree(c, rc, err);
    }
    return rc;
}

/* /lengths of this rank's rows (the same two-phase read), and every row's values past its length
 * set to 0 (a file may hold anything there; the model relies on zeros). */
static st_status_t read_lengths(eval_t *e, const st_comm_t *c, st_error_t *err) {
    int64_t n = e->part.n;
    e->part.len = malloc(sizeof(int32_t) * (size_t)(n + 1));
    st_status_t rc = st_comm_agree(c, e->part.len ? ST_OK : st_fail(err, ST_ERR_NOMEM, "sequence lengths"), err);
    if (rc == ST_OK) rc = st_loader_gather_lengths(&e->ds, c, e->part.ids, n, e->part.len, err);
    if (rc != ST_OK) return rc;
    st_data_zero_padding(e->part.X, e->part.len, n, st_shape_numel(e->ds.shape), st_shape_channels(e->ds.shape));
    return ST_OK;
}

/* This rank's block of the requested rows, read, scaled and standardised as in training, with
 * the values of the targets the losses read. */
static st_status_t load_rows(eval_t *e, const char *split_name, const st_comm_t *c, st_error_t *err) {
    int64_t N = e->ds.n, n = 0;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)N);
    uint8_t *split = calloc((size_t)N, 1);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)N);
    if (!y || !split || !ids) return free(y), free(split), free(ids), st_fail(err, ST_ERR_NOMEM, "labels");
    int part = strcmp(split_name, "train") == 0 ? ST_SPLIT_TRAIN : strcmp(split_name, "val") == 0 ? ST_SPLIT_VAL : ST_SPLIT_TEST;
    int all = strcmp(split_name, "all") == 0;
    st_status_t rc = make_split(e, y, split, all, err);
    for (int64_t i = 0; rc == ST_OK && i < N; i++)
        if (all || split[i] == part) ids[n++] = i;
    int64_t lo, hi;
    st_loader_block_chunks(&lo, &hi, n, ST_DATA_EVAL_ROWS, c->rank, c->size);
    e->part.n = hi - lo;
    e->part_total = n;
    long rf = st_shape_numel(e->ds.shape);
    e->part.ids = malloc(sizeof(int64_t) * (size_t)(e->part.n + 1));
    e->part.X = malloc(sizeof(float) * (size_t)(e->part.n * rf + 1));
    e->part.y = malloc(sizeof(int32_t) * (size_t)(e->part.n + 1));
    if (rc == ST_OK && (!e->part.ids || !e->part.X || !e->part.y)) rc = st_fail(err, ST_ERR_NOMEM, "rows");
    for (int64_t i = 0; rc == ST_OK && i < e->part.n; i++) e->part.ids[i] = ids[lo + i], e->part.y[i] = y[ids[lo + i]];
    rc = st_comm_agree(c, rc, err);
    if (rc == ST_OK) rc = st_loader_gather_rows(&e->ds, c, e->part.ids, e->part.n, e->part.X, err);
    if (rc == ST_OK && e->ds.has_lengths) rc = read_lengths(e, c, err);
    if (rc == ST_OK && e->tgt_floats > 0) rc = read_targets(e, c, err);
    if (rc == ST_OK) st_ckpt_prepare_rows(e->part.X, e->part.len, e->part.n, &e->ck, &e->cfg, e->ds.shape);
    free(y), free(split), free(ids);
    return rc;
}

/* The report's folder (out_dir, else <run folder>/eval-<data name>-<split>), created with its
 * parents by rank 0 before the evaluation, so a folder that cannot be made fails early. */
static st_status_t prepare_out_dir(eval_t *e, const st_eval_request_t *a, const st_comm_t *c, st_error_t *err) {
    if (a->out_dir) snprintf(e->out_dir, sizeof e->out_dir, "%s", a->out_dir);
    else {
        char ck[4096], data[4096];
        snprintf(ck, sizeof ck, "%s", a->checkpoint);
        snprintf(data, sizeof data, "%s", a->data);
        char *run = dirname(dirname(ck)), *stem = basename(data), *dot = strrchr(stem, '.');
        if (dot) *dot = '\0';
        st_format(e->out_dir, sizeof e->out_dir, "%s/eval-%s-%s", run, stem, a->split);
    }
    e->made_out_dir = c->rank == 0 && !st_exists(e->out_dir);
    st_status_t rc = c->rank == 0 ? st_mkdir_p(e->out_dir, err) : ST_OK;
    if (rc != ST_OK) st_error_prefix(err, "the output folder %s", e->out_dir), e->made_out_dir = 0;
    return st_comm_agree(c, rc, err);
}

/* The class names of head h: its table's, or the root table's (a checkpoint without tables). */
static const char *const *head_names(const eval_t *e, int h, const char **buf /*[K]*/) {
    int K = e->losses.heads[h].n_classes;
    for (int k = 0; k < K; k++) buf[k] = e->ck.n_heads > 0 ? e->ck.heads[h].names[k] : e->ds.class_names[k];
    return buf;
}

/* One head: its summary line (and class table) as `strata eval` always printed them. */
static void print_one(eval_t *e, const st_eval_request_t *a, const st_eval_t *r, double loss, const char *const *names) {
    const st_head_eval_t *h0 = &r->heads[0];
    if (h0->kind != ST_HEAD_CLASS) {
        fprintf(a->out, "%s on %s (%s split, %lld samples): loss %.4f\n", a->checkpoint, a->data, a->split,
                (long long)e->part_total, loss);
        st_head_report_print(a->out, a->split, r, &e->losses, &e->ds);
        fprintf(a->out, "written to %s (metrics.json)\n", e->out_dir);
        return;
    }
    int K = h0->K;
    double *p = calloc((size_t)K * 3, sizeof(double));
    int64_t *support = calloc((size_t)K, sizeof(int64_t));
    double f1 = p && support ? st_class_scores(p, p + K, p + 2 * K, support, h0->confusion, K) : 0;
    fprintf(a->out, "%s on %s (%s split, %lld samples): accuracy %.2f%%  loss %.4f  macro F1 %.4f\n", a->checkpoint,
            a->data, a->split, (long long)r->n, 100 * st_confusion_accuracy(h0->confusion, K), loss, f1);
    fprintf(a->out, "%-24s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; p && support && k < K; k++)
        fprintf(a->out, "%-24s %9.4f %9.4f %9.4f %9lld\n", names[k], p[k], p[K + k], p[2 * K + k], (long long)support[k]);
    fprintf(a->out, "written to %s (metrics.json, per_class.csv, confusion.csv)\n", e->out_dir);
    free(p), free(support);
}

/* Several heads: <head>_per_class.csv and <head>_confusion.csv per class head, one line each. */
static st_status_t write_heads(eval_t *e, const st_eval_request_t *a, const st_eval_t *r, double loss, st_error_t *err) {
    const char **buf = malloc(sizeof(char *) * ST_CKPT_MAX_CLASSES);
    if (!buf) return st_fail(err, ST_ERR_NOMEM, "names");
    char files[1024] = "metrics.json";
    st_status_t rc = ST_OK;
    for (int h = 0; rc == ST_OK && h < e->losses.n_heads; h++) {
        if (r->heads[h].kind != ST_HEAD_CLASS) continue;
        char prefix[ST_METRIC_NAME + 2];
        const char *name = st_heads_name(&e->losses.heads[h], &e->ds);
        st_format(prefix, sizeof prefix, "%s_", name);
        rc = st_write_class_csvs(e->out_dir, prefix, r->heads[h].confusion, head_names(e, h, buf), r->heads[h].K, err);
        size_t at = strlen(files);
        snprintf(files + at, sizeof files - at, ", %sper_class.csv, %sconfusion.csv", prefix, prefix);
    }
    free(buf);
    if (rc != ST_OK) return rc;
    fprintf(a->out, "%s on %s (%s split, %lld samples): loss %.4f\n", a->checkpoint, a->data, a->split,
            (long long)e->part_total, loss);
    st_head_report_print(a->out, a->split, r, &e->losses, &e->ds);
    fprintf(a->out, "written to %s (%s)\n", e->out_dir, files);
    return ST_OK;
}

/* Rank 0: metrics.json (head 0's class report at the top when it is a class head, every head's
 * metrics in "metrics"), the per-class CSVs and the printed summary. */
static st_status_t write_report(eval_t *e, const st_eval_request_t *a, const st_eval_t *r, st_error_t *err) {
    st_metric_table_t tab = {0};
    st_head_report_val(&tab, a->split, r, &e->losses, &e->ds);
    int several = e->losses.n_heads > 1;
    char key[64];
    st_format(key, sizeof key, "%s_loss", a->split);
    double loss = several ? st_metric_table_get(&tab, key) : r->loss_sum / r->weight; /* the combined loss */
    const st_head_eval_t *h0 = &r->heads[0];
    const int64_t *conf = h0->kind == ST_HEAD_CLASS ? h0->confusion : NULL;
    const char **names = malloc(sizeof(char *) * (size_t)(h0->K + 1));
    if (!names) return st_fail(err, ST_ERR_NOMEM, "names");
    head_names(e, 0, names);
    st_final_metrics_t m = {a->split, loss, a->checkpoint, conf, names, h0->K, tab.n, (const char (*)[64])tab.name,
                            tab.value};
    st_status_t rc = st_write_metrics_json(e->out_dir, &m, err);
    if (rc == ST_OK && !several && conf) rc = st_write_class_csvs(e->out_dir, "", conf, names, h0->K, err);
    if (rc == ST_OK && !several) print_one(e, a, r, loss, names);
    if (rc == ST_OK && several) rc = write_heads(e, a, r, loss, err);
    free(names);
    return rc;
}

static st_status_t run(eval_t *e, const st_eval_request_t *a, const st_comm_t *c, st_error_t *err) {
    if (a->out_dir) ST_TRY(prepare_out_dir(e, a, c, err)); /* the user's folder: before any work */
    ST_TRY(st_comm_agree(c, st_ckpt_read(a->checkpoint, &e->ck, err), err));
    if (!a->out_dir) ST_TRY(prepare_out_dir(e, a, c, err)); /* in the run folder of a checkpoint that exists */
    ST_TRY(st_comm_agree(c, st_dataset_open(a->data, &e->ds, err), err));
    ST_TRY(st_comm_agree(c, build(e, err), err));
    ST_TRY(load_rows(e, a->split, c, err));
    st_eval_t r;
    st_data_t d; /* the rows as a one-part dataset for st_evaluate */
    memset(&d, 0, sizeof d);
    d.ds = e->ds, d.row_floats = st_shape_numel(e->ds.shape), d.part[ST_SPLIT_TEST] = e->part;
    d.shape = e->ds.shape, d.has_lengths = e->ds.has_lengths;
    d.n_part[ST_SPLIT_TEST] = e->part_total;
    d.n_targets = e->ds.n_targets, d.tgt_floats = e->tgt_floats;
    memcpy(d.tgt_offset, e->tgt_offset, sizeof d.tgt_offset);
    memcpy(d.tgt_stats, e->tgt_stats, sizeof d.tgt_stats);
    int sequences = 0;
    for (int h = 0; h < e->losses.n_heads; h++) {
        st_loss_config_t *l = &e->losses.heads[h];
        sequences |= st_loss_is_sequence(l);
        if (a->beam_width > 0 && st_loss_is_sequence(l)) l->beam_width = a->beam_width;
    }
    st_decoded_t dc;
    st_decoded_init(&dc, &e->losses, &e->ds);
    st_status_t rc = st_evaluate_rows(&r, e->model, &e->losses, &d, ST_SPLIT_TEST, ST_DATA_EVAL_ROWS, c,
                                      sequences ? st_decoded_sink : NULL, &dc, err);
    if (rc == ST_OK) rc = st_comm_agree(c, c->rank == 0 ? write_report(e, a, &r, err) : ST_OK, err);
    if (rc == ST_OK && sequences) rc = st_comm_agree(c, st_decoded_write(&dc, e->out_dir, a->out, c, err), err);
    st_eval_free(&r);
    st_decoded_free(&dc);
    return rc;
}

static void eval_free(eval_t *e) {
    free(e->part.ids), free(e->part.X), free(e->part.y), free(e->part.T), free(e->part.len);
    st_loss_heads_free(&e->losses);
    st_model_free(e->model);
    st_config_free(&e->cfg);
    st_dataset_close(&e->ds);
    st_ckpt_free(&e->ck);
}

st_status_t st_eval_checkpoint(const st_eval_request_t *req, const st_comm_t *c, st_error_t *err) {
    if (!st_eval_split_valid(req->split))
        return st_fail(err, ST_ERR_CONFIG, "split \"%s\" is not test, val, train or all", req->split);
    eval_t e;
    memset(&e, 0, sizeof e);
    st_status_t rc = run(&e, req, c, err);
    if (rc != ST_OK && e.made_out_dir) rmdir(e.out_dir); /* nothing left behind (only an empty folder goes) */
    eval_free(&e);
    return rc;
}
