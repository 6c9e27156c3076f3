/* heads.c — binding losses to dataset targets (see heads.h). */
#include "heads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/collectives.h"

static void list_targets(const st_dataset_t *ds, char *buf, size_t size) {
    size_t at = 0;
    buf[0] = '\0';
    for (int t = 0; t < ds->n_targets && at + 2 < size; t++)
        at += (size_t)snprintf(buf + at, size - at, "%s%s (%s)", t ? ", " : "", ds->targets[t].name,
                               st_target_kind_name(ds->targets[t].kind));
}

int st_heads_target_of(const st_dataset_t *ds, const char *head, const char *target, const char *path, char *why,
                       size_t why_size) {
    char names[512];
    list_targets(ds, names, sizeof names);
    if (target && target[0]) {
        int t = st_dataset_target_find(ds, target);
        if (t < 0) st_format(why, why_size, "%s.target: %s has no target \"%s\"; its targets: %s", path, ds->path, target, names);
        return t;
    }
    int t = head && head[0] ? st_dataset_target_find(ds, head) : -1;
    if (t >= 0) return t;
    if (ds->n_targets == 1) return 0;
    st_format(why, why_size, "%s.target: %s has %d targets and none is named like the head \"%s\": name the one this "
              "loss reads (its targets: %s)", path, ds->path, ds->n_targets, head ? head : "", names);
    return -1;
}

/* The width of the output a loss on target t trains: its classes (class), its vocabulary with
 * the blank (sequence), else its columns. */
static int target_width(const st_target_info_t *t) {
    return t->kind == ST_TARGET_CLASS || t->kind == ST_TARGET_SEQUENCE ? t->n_classes : t->width;
}

/* The loss object of the "loss" JSON that trains `head` ("" or "output": the only loss). */
static const cJSON *loss_for_head(const cJSON *loss_json, const char *head) {
    if (cJSON_IsObject(loss_json)) return loss_json;
    const cJSON *obj;
    cJSON_ArrayForEach(obj, loss_json) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(obj, "head");
        if (cJSON_IsString(h) && strcmp(h->valuestring, head) == 0) return obj;
    }
    return NULL;
}

int st_heads_width(const cJSON *loss_json, const char *head, const st_dataset_t *ds) {
    const cJSON *obj = loss_for_head(loss_json, head ? head : "");
    if (!obj) return 0;
    const cJSON *tg = cJSON_GetObjectItemCaseSensitive(obj, "target");
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(obj, "head");
    char why[64];
    int t = st_heads_target_of(ds, cJSON_IsString(hd) ? hd->valuestring : head, cJSON_IsString(tg) ? tg->valuestring : NULL,
                               "loss", why, sizeof why);
    return t >= 0 ? target_width(&ds->targets[t]) : 0;
}

/* The loss kind must suit the target kind. */
static st_status_t check_kind(const st_loss_config_t *l, const st_target_info_t *t, const char *path, st_error_t *err) {
    int ok = st_loss_uses_labels(l) ? t->kind == ST_TARGET_CLASS
             : st_loss_is_regression(l) ? t->kind == ST_TARGET_REGRESSION
             : st_loss_is_sequence(l)   ? t->kind == ST_TARGET_SEQUENCE
                                        : t->kind == ST_TARGET_MULTILABEL;
    if (ok) return ST_OK;
    const char *want = t->kind == ST_TARGET_CLASS ? "cross_entropy or focal"
                       : t->kind == ST_TARGET_MULTILABEL ? "bce"
                       : t->kind == ST_TARGET_SEQUENCE   ? "ctc" : "mse, mae or huber";
    return st_fail(err, ST_ERR_CONFIG, "%s.type: target %s is a %s target; its loss is %s", path, t->name,
                   st_target_kind_name(t->kind), want);
}

/* Training-split class counts of class target t (all ranks: the training rows are partitioned). */
static st_status_t class_counts(int64_t *counts, const st_data_t *d, int t, const st_comm_t *c, st_error_t *err) {
    st_data_train_class_counts(counts, d, t);
    return st_allreduce_sum_i64(counts, d->ds.targets[t].n_classes, c, err);
}

/* A target the file allows to be missing may be missing in every training row: its head would
 * never train and its mean loss would be 0/0. Refused (all ranks: one all-reduce). */
static st_status_t check_has_values(const st_data_t *d, int t, const char *path, const st_comm_t *c, st_error_t *err) {
    const st_target_info_t *ti = &d->ds.targets[t];
    if (!ti->allow_missing) return ST_OK; /* file metadata: the same on every rank */
    int64_t present = st_data_train_present(d, t);
    ST_TRY(st_allreduce_sum_i64(&present, 1, c, err));
    if (present > 0) return ST_OK;
    return st_fail(err, ST_ERR_DATA, "%s: target %s of %s is missing in all %lld rows of the training split: its head "
                   "would never train", path, ti->name, d->ds.path, (long long)d->n_part[ST_SPLIT_TRAIN]);
}

static st_status_t standardise(st_loss_config_t *l, const st_data_t *d, int t, const char *path, st_error_t *err) {
    if (!l->standardize_targets) return ST_OK;
    if (!st_loss_is_regression(l))
        return st_fail(err, ST_ERR_CONFIG, "%s.standardize_targets: only for regression losses (mse, mae, huber)", path);
    const st_target_stats_t *st = &d->tgt_stats[t];
    int K = l->n_classes;
    l->t_mean = st_alloc(sizeof(float) * (size_t)K, "target means", err);
    l->t_std = l->t_mean ? st_alloc(sizeof(float) * (size_t)K, "target deviations", err) : NULL;
    if (!l->t_std) return ST_ERR_NOMEM;
    for (int k = 0; k < K; k++) l->t_mean[k] = (float)st->mean[k], l->t_std[k] = (float)st->std[k];
    return ST_OK;
}

static st_status_t bind_one(st_loss_config_t *l, int i, int n, const st_data_t *d, const st_comm_t *c,
                            st_error_t *err) {
    char path[32], why[1024];
    if (n > 1) st_format(path, sizeof path, "loss[%d]", i);
    else st_format(path, sizeof path, "loss");
    int t = st_heads_target_of(&d->ds, l->head, l->target, path, why, sizeof why);
    if (t < 0) return st_fail(err, ST_ERR_CONFIG, "%s", why);
    const st_target_info_t *ti = &d->ds.targets[t];
    ST_TRY(check_kind(l, ti, path, err));
    if (l->n_classes > 0 && l->n_classes != target_width(ti))
        return st_fail(err, ST_ERR_CONFIG, "%s: target %s has %d %s, the loss was read for %d", path, ti->name,
                       target_width(ti), ti->kind == ST_TARGET_CLASS ? "classes"
                                         : ti->kind == ST_TARGET_SEQUENCE ? "tokens with the blank" : "columns",
                       l->n_classes);
    l->n_classes = target_width(ti);
    l->seq_max_len = ti->kind == ST_TARGET_SEQUENCE ? ti->max_len : 0;
    l->target_index = t;
    ST_TRY(check_has_values(d, t, path, c, err));
    if (l->class_weights_mode == ST_CLASS_WEIGHTS_BALANCED) {
        int64_t *counts = calloc((size_t)l->n_classes, sizeof *counts);
        if (!counts) return st_fail(err, ST_ERR_NOMEM, "%s: class counts", path);
        st_status_t rc = class_counts(counts, d, t, c, err);
        if (rc == ST_OK) rc = st_loss_resolve_balanced(l, counts, err);
        if (rc != ST_OK) st_error_prefix(err, "%s (target %s)", path, ti->name);
        free(counts);
        ST_TRY(rc);
    }
    return standardise(l, d, t, path, err);
}

st_status_t st_heads_bind(st_loss_heads_t *losses, const st_data_t *d, const st_comm_t *c, st_error_t *err) {
    for (int i = 0; i < losses->n_heads; i++) {
        st_status_t rc = bind_one(&losses->heads[i], i, losses->n_heads, d, c, err);
        if (rc != ST_OK) return st_error_everywhere(err), rc;
    }
    return ST_OK;
}

const char *st_heads_name(const st_loss_config_t *loss, const st_dataset_t *ds) {
    if (loss->head[0]) return loss->head;
    if (loss->target_index >= 0) return ds->targets[loss->target_index].name;
    return "output";
}
