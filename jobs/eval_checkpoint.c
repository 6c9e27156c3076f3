/* eval_checkpoint.c — see eval_checkpoint.h: a checkpoint's model evaluated on a dataset.
 *
 * Steps: read the checkpoint and open the dataset (every rank), rebuild the model for the
 * dataset's per-sample shape and restore its parameters and buffers, rebuild the loss (balanced
 * class weights taken from the checkpoint), take this rank's block of the requested rows and
 * scale and standardise them with the checkpoint's statistics, evaluate (st_evaluate, blocks of
 * ST_DATA_EVAL_ROWS so the sums have the same bits at any rank count), and on rank 0 write
 * metrics.json, per_class.csv and confusion.csv and print the summary. The output folder is
 * created first (--out: before anything else; the default one in the checkpoint's run folder
 * once the checkpoint has been read), so a folder that cannot be made fails before the work. */
#include "jobs/eval_checkpoint.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/checkpoint.h"
#include "jobs/config.h"
#include "jobs/evaluate.h" /* st_evaluate */
#include "fileio.h"
#include "jobs/results.h"
#include "metrics.h"
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
    st_data_part_t part;
    int64_t part_total;          /* rows of the split over all ranks */
    char out_dir[4096];
    int made_out_dir;      /* rank 0 created out_dir: removed again (when empty) if the evaluation fails */
} eval_t;

static int classes_of(const char *head, void *ctx) {
    (void)head;
    return ((const eval_t *)ctx)->ck.n_classes;
}

/* The model and loss of the checkpoint, for the dataset's per-sample shape. */
static st_status_t build(eval_t *e, st_error_t *err) {
    ST_TRY(st_config_from_json(e->ck.config_json, e->ck.path, NULL, 0, &e->cfg, err));
    if (e->ds.n_classes != e->ck.n_classes)
        return st_fail(err, ST_ERR_DATA, "%s has %d classes but the model was trained on %d", e->ds.path, e->ds.n_classes,
                       e->ck.n_classes);
    char shape[48];
    st_shape_str(e->ds.shape, shape, sizeof shape);
    int F = st_shape_channels(e->ds.shape); /* what standardisation counts: D, or C of [T, C] */
    if (e->ck.std_mean && e->ck.n_features != F)
        return st_fail(err, ST_ERR_DATA, "%s has samples of shape %s (%d feature%s), but the model of %s was trained on %d "
                       "features", e->ds.path, shape, F, F == 1 ? "" : "s", e->ck.path, e->ck.n_features);
    ST_TRY(st_model_build(e->cfg.model, "model", e->ds.shape, e->ck.n_classes, &e->model, err));
    if (st_model_param_floats(e->model) != e->ck.n_params)
        return st_fail(err, ST_ERR_DATA, "%s has samples of shape %s, for which the model of %s has %zu parameters, but "
                       "the checkpoint holds %zu: the model was trained on samples of another shape", e->ds.path, shape,
                       e->ck.path, st_model_param_floats(e->model), e->ck.n_params);
    ST_TRY(st_model_reserve(e->model, ST_DATA_EVAL_ROWS, 0, err));
    ST_TRY(st_ckpt_restore(&e->ck, st_model_params(e->model), st_model_param_floats(e->model), st_model_buffers(e->model),
                           st_model_buffer_floats(e->model), NULL, NULL, err));
    ST_TRY(st_loss_heads_parse(&e->losses, e->cfg.loss, "loss", classes_of, e, err));
    ST_TRY(st_model_check_losses(e->model, &e->losses, err));
    st_loss_config_t *l = &e->losses.heads[0];
    if (l->class_weights_mode == ST_CLASS_WEIGHTS_BALANCED && e->ck.class_weights) {
        l->class_weights = malloc(sizeof(float) * (size_t)e->ck.n_classes);
        if (!l->class_weights) return st_fail(err, ST_ERR_NOMEM, "class weights");
        memcpy(l->class_weights, e->ck.class_weights, sizeof(float) * (size_t)e->ck.n_classes);
        l->class_weights_mode = ST_CLASS_WEIGHTS_LIST;
    }
    return ST_OK;
}

/* This rank's block of the requested rows, read, scaled and standardised as in training. */
static st_status_t load_rows(eval_t *e, const char *split_name, const st_comm_t *c, st_error_t *err) {
    int64_t N = e->ds.n, n = 0;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)N);
    uint8_t *split = calloc((size_t)N, 1);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)N);
    if (!y || !split || !ids) return free(y), free(split), free(ids), st_fail(err, ST_ERR_NOMEM, "labels");
    st_status_t rc = st_dataset_read_labels(&e->ds, y, e->ds.has_split ? split : NULL, err);
    int part = strcmp(split_name, "train") == 0 ? ST_SPLIT_TRAIN : strcmp(split_name, "val") == 0 ? ST_SPLIT_VAL : ST_SPLIT_TEST;
    int all = strcmp(split_name, "all") == 0;
    if (rc == ST_OK && !all)
        rc = st_split_make(split, y, e->ds.has_split ? split : NULL, &e->cfg.data.split, NULL, e->cfg.seed, N, e->ds.n_classes, err);
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
    if (rc == ST_OK && e->cfg.data.scale_pixels) st_scale_pixels(e->part.X, e->part.n * rf);
    if (rc == ST_OK && e->ck.std_mean)
        st_standardize_apply(e->part.X, e->ck.std_mean, e->ck.std_std, e->part.n, st_shape_positions(e->ds.shape),
                             st_shape_channels(e->ds.shape));
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

static st_status_t write_report(eval_t *e, const st_eval_request_t *a, const st_eval_t *r, st_error_t *err) {
    const char **names = malloc(sizeof(char *) * (size_t)e->ck.n_classes);
    if (!names) return st_fail(err, ST_ERR_NOMEM, "names");
    for (int k = 0; k < e->ck.n_classes; k++) names[k] = e->ds.class_names[k];
    int K = e->ck.n_classes;
    st_final_metrics_t m = {a->split, r->loss_sum / r->weight, a->checkpoint, r->confusion, names, K, 0, NULL, NULL};
    st_status_t rc = st_write_metrics_json(e->out_dir, &m, err);
    if (rc == ST_OK) rc = st_write_class_csvs(e->out_dir, "", r->confusion, names, K, err);
    if (rc == ST_OK) {
        double *p = calloc((size_t)K * 3, sizeof(double));
        int64_t *support = calloc((size_t)K, sizeof(int64_t));
        double f1 = p && support ? st_class_scores(p, p + K, p + 2 * K, support, r->confusion, K) : 0;
        fprintf(a->out, "%s on %s (%s split, %lld samples): accuracy %.2f%%  loss %.4f  macro F1 %.4f\n", a->checkpoint,
                a->data, a->split, (long long)r->n, 100 * st_confusion_accuracy(r->confusion, K), m.loss, f1);
        fprintf(a->out, "%-24s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
        for (int k = 0; p && support && k < K; k++)
            fprintf(a->out, "%-24s %9.4f %9.4f %9.4f %9lld\n", names[k], p[k], p[K + k], p[2 * K + k],
                    (long long)support[k]);
        fprintf(a->out, "written to %s (metrics.json, per_class.csv, confusion.csv)\n", e->out_dir);
        free(p), free(support);
    }
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
    d.n_part[ST_SPLIT_TEST] = e->part_total;
    ST_TRY(st_evaluate(&r, e->model, &e->losses, &d, ST_SPLIT_TEST, ST_DATA_EVAL_ROWS, c, err));
    st_status_t rc = st_comm_agree(c, c->rank == 0 ? write_report(e, a, &r, err) : ST_OK, err);
    st_eval_free(&r);
    return rc;
}

static void eval_free(eval_t *e) {
    free(e->part.ids), free(e->part.X), free(e->part.y);
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
