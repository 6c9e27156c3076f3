/* split_key.c — the stratification key and the split of every row of a dataset, as a training
 * run makes them (see st_split_rows_of in data.h): the training job (sharding/data.c) and
 * `strata eval` (jobs/eval_checkpoint.c, which must evaluate the run's own val/test rows) call
 * the same code. */
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* The class target data.stratify names (or the file's only class target when it has no /y);
 * strat_target -1 for /y; none for "none", and by default for a file without any class target
 * (only sequence, regression or multi-label targets). */
static st_status_t choose_key(st_split_key_t *k, const st_dataset_t *ds, const st_data_config_t *cfg,
                              st_error_t *err) {
    const char *want = cfg->stratify && cfg->stratify[0] ? cfg->stratify : NULL;
    k->none = want && strcmp(want, "none") == 0;
    k->strat_target = -1;
    if (k->none) return k->n_classes = 1, ST_OK;
    if (!want && ds->has_y) return k->n_classes = ds->n_classes, ST_OK;
    int t = want ? st_dataset_target_find(ds, want) : -1, n_class_targets = 0;
    for (int i = 0; !want && i < ds->n_targets; i++)
        if (ds->targets[i].kind == ST_TARGET_CLASS) n_class_targets++, t = i;
    if (!want && n_class_targets == 0) return k->none = 1, k->n_classes = 1, ST_OK; /* nothing to stratify on */
    if (!want && n_class_targets != 1)
        return st_fail(err, ST_ERR_CONFIG, "data.stratify: %s has no /y and %d class targets; name the one to "
                       "stratify on, or \"none\"", ds->path, n_class_targets);
    if (t < 0) return st_fail(err, ST_ERR_CONFIG, "data.stratify: %s has no target \"%s\"", ds->path, want);
    if (ds->targets[t].kind != ST_TARGET_CLASS)
        return st_fail(err, ST_ERR_CONFIG, "data.stratify: target %s of %s is a %s target; stratify on a class target "
                       "or \"none\"", want, ds->path, st_target_kind_name(ds->targets[t].kind));
    if (strcmp(ds->targets[t].h5path, "/y") != 0) k->strat_target = t;
    k->n_classes = ds->targets[t].n_classes;
    return ST_OK;
}

/* y [N]: the stratification classes of every row (and the file's split into split). */
static st_status_t read_key(const st_split_key_t *k, const st_dataset_t *ds, int32_t *y, uint8_t *split,
                            st_error_t *err) {
    if (k->strat_target < 0 && !k->none) return st_dataset_read_labels(ds, y, ds->has_split ? split : NULL, err);
    if (ds->has_split) ST_TRY(st_dataset_read_split(ds, split, err));
    if (k->none) return memset(y, 0, (size_t)ds->n * sizeof *y), ST_OK;
    int64_t *y64 = malloc((size_t)ds->n * sizeof *y64);
    if (!y64) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the labels", ds->path);
    st_status_t rc = st_dataset_read_target_ids(ds, k->strat_target, y64, err);
    const st_target_info_t *t = &ds->targets[k->strat_target];
    for (int64_t i = 0; rc == ST_OK && i < ds->n; i++) {
        if (y64[i] < 0 || y64[i] >= t->n_classes)
            rc = st_fail(err, ST_ERR_DATA, "%s: %s[%lld] = %lld: the stratification key needs a class id in 0..%d "
                         "(stratify on a target without missing values, or \"none\")", ds->path, t->h5path,
                         (long long)i, (long long)y64[i], t->n_classes - 1);
        y[i] = (int32_t)y64[i];
    }
    free(y64);
    return rc;
}

/* The split: grouped when the file has /groups (unless data.ignore_groups), else row by row. */
static st_status_t make_split(st_split_key_t *k, const st_dataset_t *ds, const st_data_config_t *cfg,
                              const int32_t *y, uint8_t *split, st_error_t *err) {
    const char *names[4096];
    const st_target_info_t *kt = k->strat_target >= 0 ? &ds->targets[k->strat_target] : NULL;
    int n_names = !k->none && k->n_classes < 4096 ? k->n_classes : 0;
    for (int c = 0; c < n_names; c++) names[c] = kt ? kt->names[c] : ds->class_names[c];
    const char *const *nm = n_names ? names : NULL;
    const uint8_t *predefined = ds->has_split ? split : NULL;
    if (!ds->has_groups || cfg->ignore_groups)
        return st_split_make(split, y, predefined, &cfg->split, nm, cfg->seed, ds->n, k->n_classes, err);
    int64_t *groups = malloc((size_t)ds->n * sizeof *groups);
    if (!groups) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for /groups", ds->path);
    st_status_t rc = st_dataset_read_groups(ds, groups, err);
    if (rc == ST_OK)
        rc = st_split_make_grouped(split, y, groups, predefined, &cfg->split, nm, cfg->seed, ds->n, k->n_classes,
                                   &k->report, err);
    free(groups);
    return rc;
}

st_status_t st_split_rows_of(st_split_key_t *k, const st_dataset_t *ds, const st_data_config_t *cfg, int32_t *y,
                             uint8_t *split, int make_split_too, st_error_t *err) {
    memset(k, 0, sizeof *k);
    ST_TRY(choose_key(k, ds, cfg, err));
    if (!k->none && k->n_classes < 2)
        return st_fail(err, ST_ERR_DATA, "%s: only %d class (n_classes); a classifier needs at least 2", ds->path,
                       k->n_classes);
    ST_TRY(read_key(k, ds, y, split, err));
    return make_split_too ? make_split(k, ds, cfg, y, split, err) : ST_OK;
}
