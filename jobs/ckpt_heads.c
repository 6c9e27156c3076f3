/* ckpt_heads.c — a checkpoint's losses bound to a dataset's targets (see ckpt_heads.h). */
#include "jobs/ckpt_heads.h"

#include <stdlib.h>
#include <string.h>

int st_ckpt_head_width(const st_ckpt_t *ck, const char *head) {
    if (ck->n_heads == 1) return ck->heads[0].width; /* the only loss trains whatever output there is */
    for (int h = 0; h < ck->n_heads; h++)
        if (strcmp(ck->heads[h].head, head ? head : "") == 0) return ck->heads[h].width;
    return 0;
}

static const char *label(const st_ckpt_head_t *hd) { return hd->head[0] ? hd->head : "output"; }

static const char *unit(st_target_kind_t k) {
    return k == ST_TARGET_CLASS ? "classes" : k == ST_TARGET_MULTILABEL ? "labels"
         : k == ST_TARGET_SEQUENCE ? "tokens (with the blank)" : "columns";
}

/* The dataset's target for head hd: present, of the same kind and width. */
static st_status_t check_target(int *t_out, const st_ckpt_head_t *hd, const st_ckpt_t *ck, const st_dataset_t *ds,
                                st_error_t *err) {
    int t = st_dataset_target_find(ds, hd->target);
    if (t < 0) {
        char names[512] = "";
        for (int i = 0, at = 0; i < ds->n_targets && at + 2 < (int)sizeof names; i++)
            at += snprintf(names + at, sizeof names - (size_t)at, "%s%s", i ? ", " : "", ds->targets[i].name);
        return st_fail(err, ST_ERR_DATA, "%s: no target %s (head %s) to evaluate: the model of %s was trained on it; the "
                       "file's targets: %s", ds->path, hd->target, label(hd), ck->path, names);
    }
    const st_target_info_t *ti = &ds->targets[t];
    int width = ti->kind == ST_TARGET_CLASS || ti->kind == ST_TARGET_SEQUENCE ? ti->n_classes : ti->width;
    if (ti->kind != hd->kind)
        return st_fail(err, ST_ERR_DATA, "%s: target %s (head %s) is a %s target but the model was trained on a %s target "
                       "(checkpoint %s)", ds->path, hd->target, label(hd), st_target_kind_name(ti->kind),
                       st_target_kind_name(hd->kind), ck->path);
    if (width != hd->width)
        return st_fail(err, ST_ERR_DATA, "%s: target %s (head %s) has %d %s but the model was trained on %d (checkpoint %s)",
                       ds->path, hd->target, label(hd), width, unit(ti->kind), hd->width, ck->path);
    *t_out = t;
    return ST_OK;
}

/* "balanced" class weights and target standardisation from the checkpoint's table. */
static st_status_t complete(st_loss_config_t *l, const st_ckpt_head_t *hd, const st_ckpt_t *ck, st_error_t *err) {
    size_t K = (size_t)hd->width;
    if (l->class_weights_mode == ST_CLASS_WEIGHTS_BALANCED) {
        if (!hd->class_weights)
            return st_fail(err, ST_ERR_DATA, "%s: head %s has class_weights \"balanced\" but the checkpoint holds none",
                           ck->path, label(hd));
        st_free(l->class_weights);
        if (!(l->class_weights = st_alloc(sizeof(float) * K, "class weights", err))) return ST_ERR_NOMEM;
        memcpy(l->class_weights, hd->class_weights, sizeof(float) * K);
        l->class_weights_mode = ST_CLASS_WEIGHTS_LIST;
    }
    if (!l->standardize_targets) return ST_OK;
    if (!hd->t_mean)
        return st_fail(err, ST_ERR_DATA, "%s: head %s trained on standardised targets but the checkpoint holds no "
                       "target_mean", ck->path, label(hd));
    l->t_mean = st_alloc(sizeof(float) * K, "target means", err);
    l->t_std = l->t_mean ? st_alloc(sizeof(float) * K, "target deviations", err) : NULL;
    if (!l->t_std) return ST_ERR_NOMEM;
    for (size_t k = 0; k < K; k++) l->t_mean[k] = (float)hd->t_mean[k], l->t_std[k] = (float)hd->t_std[k]; /* as heads.c */
    return ST_OK;
}

st_status_t st_ckpt_heads_check_names(const st_loss_heads_t *losses, const st_ckpt_t *ck, const st_dataset_t *ds,
                                      st_error_t *err) {
    for (int h = 0; h < ck->n_heads && h < losses->n_heads; h++) {
        const st_ckpt_head_t *hd = &ck->heads[h];
        const st_target_info_t *ti = &ds->targets[losses->heads[h].target_index];
        for (int k = 0; k < hd->width; k++)
            if (strcmp(ti->names[k], hd->names[k]) != 0)
                return st_fail(err, ST_ERR_DATA, "%s: target %s (head %s): %s %d is \"%s\" but the model was trained with "
                               "\"%s\" (checkpoint %s)", ds->path, hd->target, label(hd),
                               ti->kind == ST_TARGET_CLASS ? "class" : ti->kind == ST_TARGET_MULTILABEL ? "label"
                               : ti->kind == ST_TARGET_SEQUENCE ? "token" : "column",
                               k, ti->names[k], hd->names[k], ck->path);
    }
    return ST_OK;
}

st_status_t st_ckpt_heads_bind(st_loss_heads_t *losses, st_target_stats_t *stats, const st_ckpt_t *ck,
                               const st_dataset_t *ds, st_error_t *err) {
    if (losses->n_heads != ck->n_heads)
        return st_fail(err, ST_ERR_DATA, "%s: damaged: its config has %d losses but its table %d heads", ck->path,
                       losses->n_heads, ck->n_heads);
    memset(stats, 0, sizeof *stats * ST_MAX_TARGETS);
    for (int h = 0; h < ck->n_heads; h++) {
        const st_ckpt_head_t *hd = &ck->heads[h];
        st_loss_config_t *l = &losses->heads[h];
        if (strcmp(l->head, hd->head) != 0 || l->n_classes != hd->width)
            return st_fail(err, ST_ERR_DATA, "%s: damaged: loss[%d] trains head \"%s\" of width %d, its table says \"%s\" "
                           "of width %d", ck->path, h, l->head, l->n_classes, hd->head, hd->width);
        int t = -1;
        ST_TRY(check_target(&t, hd, ck, ds, err));
        ST_TRY(complete(l, hd, ck, err));
        l->target_index = t;
        l->seq_max_len = ds->targets[t].kind == ST_TARGET_SEQUENCE ? ds->targets[t].max_len : 0;
        stats[t].mean = hd->t_mean, stats[t].std = hd->t_std;
    }
    return ST_OK;
}
