/* ensemble_eval.c — see ensemble_eval.h: the members loaded and checked against the first one
 * (dataset fingerprint, heads, split of D), their records on the rows of the part, the weighted
 * mean, and the report (jobs/ensemble_report.c). */
#include "jobs/ensemble_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jobs/ckpt_heads.h"
#include "jobs/ckpt_model.h"
#include "jobs/ensemble_internal.h"
#include "sharding/batch.h"
#include "sharding/loader.h"

/* The checkpoint of run `run`: the file itself, or <run>/checkpoints/best.h5. */
static st_status_t checkpoint_of(char *out, size_t size, const char *run, st_error_t *err) {
    if (!st_is_dir(run)) {
        if (!st_exists(run)) return st_fail(err, ST_ERR_IO, "%s: no such run folder or checkpoint", run);
        return st_format(out, size, "%s", run) ? st_fail(err, ST_ERR_IO, "%s: path too long", run) : ST_OK;
    }
    if (st_format(out, size, "%s/checkpoints/best.h5", run)) return st_fail(err, ST_ERR_IO, "%s: path too long", run);
    if (!st_exists(out))
        return st_fail(err, ST_ERR_IO, "%s: no checkpoints/best.h5 (train it with checkpoint.best, or name a checkpoint "
                       "file)", run);
    return ST_OK;
}

static int classes_of(const char *head, void *ctx) { return st_ckpt_model_classes(head, ctx); }

/* Member m's checkpoint, config, losses bound to D's targets, and model. */
static st_status_t load_member(st_ens_t *e, st_ens_member_t *m, st_error_t *err) {
    ST_TRY(checkpoint_of(m->ckpt, sizeof m->ckpt, m->run, err));
    ST_TRY(st_ckpt_read(m->ckpt, &m->ck, err));
    ST_TRY(st_config_from_json(m->ck.config_json, m->ck.path, NULL, 0, &m->cfg, err));
    ST_TRY(st_loss_heads_parse(&m->losses, m->cfg.loss, "loss", classes_of, &m->ck, err));
    if (m->ck.n_heads > 0) ST_TRY(st_ckpt_heads_bind(&m->losses, m->tgt_stats, &m->ck, &e->ds, err));
    else if (e->ds.n_classes != m->ck.n_classes)
        return st_fail(err, ST_ERR_DATA, "%s has %d classes but %s was trained on %d", e->ds.path, e->ds.n_classes,
                       m->ckpt, m->ck.n_classes);
    ST_TRY(st_ckpt_model_build(&m->model, &m->ck, &m->cfg, e->ds.shape, e->ds.has_lengths, ST_DATA_EVAL_ROWS,
                               e->ds.path, err));
    ST_TRY(st_model_check_losses(m->model, &m->losses, err));
    if (m->ck.n_heads > 0) ST_TRY(st_ckpt_heads_check_names(&m->losses, &m->ck, &e->ds, err));
    for (int h = 0; h < m->losses.n_heads; h++) {
        const st_loss_config_t *l = &m->losses.heads[h];
        if (st_ens_head_kind(l) == ST_HEAD_SEQUENCE)
            return st_fail(err, ST_ERR_CONFIG, "%s: head %d is a sequence (ctc) head: an ensemble averages "
                           "probabilities per row and cannot combine decoded sequences", m->run, h);
        m->mh[h] = l->head[0] ? st_model_head_find(m->model, l->head) : 0;
        if (m->mh[h] < 0) return st_fail(err, ST_ERR_CONFIG, "%s: the model has no head named \"%s\"", m->ckpt, l->head);
    }
    return ST_OK;
}

/* Member m agrees with member 0: dataset fingerprint and heads. */
static st_status_t same_as_first(const st_ens_t *e, const st_ens_member_t *m, st_error_t *err) {
    const st_ens_member_t *a = &e->m[0];
    const char *fa = a->ck.dataset_fingerprint ? a->ck.dataset_fingerprint : "(none)";
    const char *fm = m->ck.dataset_fingerprint ? m->ck.dataset_fingerprint : "(none)";
    if (strcmp(fa, fm) != 0)
        return st_fail(err, ST_ERR_DATA, "members trained on different datasets: %s has dataset fingerprint %s, %s has "
                       "%s", m->run, fm, a->run, fa);
    if (m->losses.n_heads != a->losses.n_heads)
        return st_fail(err, ST_ERR_CONFIG, "members with different heads: %s has %d, %s has %d", m->run,
                       m->losses.n_heads, a->run, a->losses.n_heads);
    for (int h = 0; h < a->losses.n_heads; h++) {
        const st_loss_config_t *la = &a->losses.heads[h], *lm = &m->losses.heads[h];
        if (st_ens_head_kind(la) != st_ens_head_kind(lm) || la->n_classes != lm->n_classes ||
            la->target_index != lm->target_index || strcmp(la->head, lm->head) != 0)
            return st_fail(err, ST_ERR_CONFIG, "members with different heads: head %d of %s is not head %d of %s (kind, "
                           "width, output or target)", h, m->run, h, a->run);
    }
    return ST_OK;
}

/* Member m's split of D (and the stratification classes into y when y is not NULL). */
static st_status_t split_of(const st_ens_t *e, const st_ens_member_t *m, int32_t *y, uint8_t *split,
                            st_error_t *err) {
    st_data_config_t dc;
    st_config_data_options(&m->cfg, &dc);
    st_split_key_t key;
    st_status_t rc = st_split_rows_of(&key, &e->ds, &dc, y, split, 1, err);
    if (rc != ST_OK) st_error_prefix(err, "the split %s was trained with", m->run);
    return rc;
}

/* Every member's split of D equals member 0's (kept in e->split, its classes in e->y). */
static st_status_t check_splits(st_ens_t *e, st_error_t *err) {
    int64_t N = e->ds.n;
    e->y = malloc(sizeof(int32_t) * (size_t)(N + 1)), e->split = calloc((size_t)N + 1, 1);
    int32_t *y2 = malloc(sizeof(int32_t) * (size_t)(N + 1));
    uint8_t *s2 = calloc((size_t)N + 1, 1);
    st_status_t rc = e->y && e->split && y2 && s2 ? ST_OK : st_fail(err, ST_ERR_NOMEM, "the split of %s", e->ds.path);
    if (rc == ST_OK) rc = split_of(e, &e->m[0], e->y, e->split, err);
    for (int i = 1; rc == ST_OK && i < e->n; i++) {
        rc = split_of(e, &e->m[i], y2, s2, err);
        int64_t differ = 0, first = -1;
        for (int64_t r = 0; rc == ST_OK && r < N; r++)
            if (s2[r] != e->split[r]) differ++, first = first < 0 ? r : first;
        if (rc == ST_OK && differ)
            rc = st_fail(err, ST_ERR_DATA, "members with different splits of %s: %s and %s put %lld rows in different "
                         "parts (the first: row %lld; give every member the same data.split_seed and fractions)",
                         e->ds.path, e->m[i].run, e->m[0].run, (long long)differ, (long long)first);
    }
    free(y2), free(s2);
    return rc;
}

/* The values of the targets the losses read, for the rows' ids, interleaved into rows->T. */
static st_status_t read_targets(st_ens_t *e, st_ens_rows_t *r, const st_comm_t *c, st_error_t *err) {
    const st_loss_heads_t *L = &e->m[0].losses;
    e->tgt_floats = 0;
    for (int t = 0; t < e->ds.n_targets; t++) {
        int used = 0;
        for (int h = 0; h < L->n_heads; h++) used |= L->heads[h].target_index == t;
        e->tgt_offset[t] = (int)e->tgt_floats;
        if (used) e->tgt_floats += e->ds.targets[t].width;
    }
    r->T = calloc((size_t)(r->n * e->tgt_floats + 1), sizeof(float));
    st_status_t rc = r->T ? ST_OK : st_fail(err, ST_ERR_NOMEM, "target values");
    for (int t = 0; rc == ST_OK && t < e->ds.n_targets; t++) {
        int used = 0, w = e->ds.targets[t].width;
        for (int h = 0; h < L->n_heads; h++) used |= L->heads[h].target_index == t;
        if (!used) continue;
        float *one = calloc((size_t)(r->n * w + 1), sizeof(float));
        rc = one ? st_loader_gather_target(&e->ds, t, c, r->ids, r->n, one, err)
                 : st_fail(err, ST_ERR_NOMEM, "target values");
        char why[200];
        int64_t bad = rc == ST_OK ? st_target_first_bad(&e->ds.targets[t], one, r->n, why, sizeof why) : -1;
        if (bad >= 0) rc = st_fail(err, ST_ERR_DATA, "%s: %s row %lld: %s", e->ds.path, e->ds.targets[t].h5path,
                                   (long long)r->ids[bad], why);
        for (int64_t i = 0; rc == ST_OK && i < r->n; i++)
            memcpy(r->T + (size_t)i * (size_t)e->tgt_floats + e->tgt_offset[t], one + (size_t)i * (size_t)w,
                   sizeof(float) * (size_t)w);
        free(one);
    }
    return rc;
}

/* The rows of part `part` (-1: all rows): ids, raw features, lengths, classes and targets. */
static st_status_t load_rows(st_ens_t *e, st_ens_rows_t *r, int part, const st_comm_t *c, st_error_t *err) {
    int64_t N = e->ds.n;
    long rf = st_shape_numel(e->ds.shape);
    r->ids = malloc(sizeof(int64_t) * (size_t)(N + 1));
    if (!r->ids) return st_fail(err, ST_ERR_NOMEM, "row ids");
    for (int64_t i = 0; i < N; i++)
        if (part < 0 || e->split[i] == part) r->ids[r->n++] = i;
    r->X = malloc(sizeof(float) * (size_t)(r->n * rf + 1));
    r->y = malloc(sizeof(int32_t) * (size_t)(r->n + 1));
    if (!r->X || !r->y) return st_fail(err, ST_ERR_NOMEM, "%lld rows of %s", (long long)r->n, e->ds.path);
    for (int64_t i = 0; i < r->n; i++) r->y[i] = e->y[r->ids[i]];
    ST_TRY(st_loader_gather_rows(&e->ds, c, r->ids, r->n, r->X, err));
    if (e->ds.has_lengths) {
        r->len = malloc(sizeof(int32_t) * (size_t)(r->n + 1));
        if (!r->len) return st_fail(err, ST_ERR_NOMEM, "sequence lengths");
        ST_TRY(st_loader_gather_lengths(&e->ds, c, r->ids, r->n, r->len, err));
        st_data_zero_padding(r->X, r->len, r->n, rf, st_shape_channels(e->ds.shape));
    }
    return read_targets(e, r, c, err);
}

/* Head h's outputs of B rows into their records, as `strata predict` computes them. */
static void head_record(const st_ens_member_t *m, int h, int off, int B, int rec_floats, double *rec) {
    const st_loss_config_t *l = &m->losses.heads[h];
    const float *o = st_model_head_output(m->model, m->mh[h]);
    int K = l->n_classes;
    const st_ckpt_head_t *ch = m->ck.n_heads > 0 ? &m->ck.heads[h] : NULL;
    const double *mean = ch && ch->standardize_targets ? ch->t_mean : NULL, *sd = mean ? ch->t_std : NULL;
    st_head_kind_t kind = st_ens_head_kind(l);
    for (int i = 0; i < B; i++) {
        const float *z = o + (size_t)i * (size_t)K;
        double *r = rec + (size_t)i * (size_t)rec_floats + off;
        if (kind == ST_HEAD_CLASS) { /* softmax in double, max subtracted, stored as float (predict.c) */
            double mx = z[0], s = 0;
            for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
            for (int k = 0; k < K; k++) r[k] = (float)(exp((double)z[k] - mx) / s);
        } else if (kind == ST_HEAD_MULTILABEL)
            for (int k = 0; k < K; k++) r[k] = (float)(1.0 / (1.0 + exp(-(double)z[k])));
        else
            for (int k = 0; k < K; k++) r[k] = mean ? (float)((double)z[k] * (float)sd[k] + (float)mean[k]) : z[k];
    }
}

/* Member m's records rec [rows->n, rec_floats] on the rows, in passes of ST_DATA_EVAL_ROWS. */
st_status_t st_ens_member_records(const st_ens_t *e, st_ens_member_t *m, const st_ens_rows_t *rows, double *rec,
                                  st_error_t *err) {
    long rf = st_shape_numel(e->ds.shape);
    int pass = ST_DATA_EVAL_ROWS;
    float *X = malloc(sizeof(float) * (size_t)(rows->n * rf + 1)), *x = malloc(sizeof(float) * (size_t)(pass * rf + 1));
    int32_t *len = rows->len ? malloc(sizeof(int32_t) * (size_t)(rows->n + 1)) : NULL, xlen[ST_DATA_EVAL_ROWS];
    int64_t pos[ST_DATA_EVAL_ROWS];
    st_status_t rc = X && x && (len || !rows->len) ? ST_OK : st_fail(err, ST_ERR_NOMEM, "the rows of %s", m->run);
    if (rc == ST_OK) {
        memcpy(X, rows->X, sizeof(float) * (size_t)(rows->n * rf));
        if (len) memcpy(len, rows->len, sizeof(int32_t) * (size_t)rows->n);
        st_ckpt_prepare_rows(X, len, rows->n, &m->ck, &m->cfg, e->ds.shape);
    }
    st_data_t d;
    memset(&d, 0, sizeof d);
    d.row_floats = rf, d.shape = e->ds.shape, d.has_lengths = e->ds.has_lengths;
    st_data_part_t part = {0};
    part.X = X, part.len = len;
    for (int64_t r0 = 0; rc == ST_OK && r0 < rows->n; r0 += pass) {
        int B = rows->n - r0 < pass ? (int)(rows->n - r0) : pass;
        for (int i = 0; i < B; i++) pos[i] = r0 + i;
        st_run_ctx_t ctx = {.training = 0, .sample_index = rows->ids + r0};
        st_data_gather_rows(x, xlen, &ctx.positions, &d, &part, pos, B);
        if (len) ctx.lengths = xlen;
        rc = st_model_forward_checked(m->model, &ctx, x, B, err);
        for (int h = 0, off = 0; rc == ST_OK && h < m->losses.n_heads; off += m->losses.heads[h].n_classes, h++)
            head_record(m, h, off, B, e->rec_floats, rec + (size_t)r0 * (size_t)e->rec_floats);
    }
    free(X), free(x), free(len);
    return rc;
}

/* rec_ens = Σ_m w_m rec_m, members in order. */
static void combine(const st_ens_t *e, double *ens, double *const *recs, int64_t n) {
    size_t total = (size_t)n * (size_t)e->rec_floats;
    for (size_t j = 0; j < total; j++) {
        double s = 0;
        for (int i = 0; i < e->n; i++) s += e->m[i].weight * recs[i][j];
        ens[j] = s;
    }
}

/* The targets of rows as st_ens_score reads them. */
void st_ens_targets_of(const st_ens_t *e, const st_ens_rows_t *r, st_ens_targets_t *t, const double **refs) {
    const st_ens_member_t *a = &e->m[0];
    for (int h = 0; h < a->losses.n_heads; h++) {
        int ti = a->losses.heads[h].target_index;
        refs[h] = ti >= 0 ? a->tgt_stats[ti].mean : NULL;
    }
    *t = (st_ens_targets_t){r->n, r->y, r->T, e->tgt_floats, e->tgt_offset, refs};
}

/* Member weights: 1/M, or their val scores normalised (see ensemble_eval.h). */
static st_status_t weigh(st_ens_t *e, const st_comm_t *c, st_error_t *err) {
    for (int i = 0; i < e->n; i++) e->m[i].weight = 1.0 / e->n, e->m[i].score = NAN;
    if (!e->req->weights_val) return ST_OK;
    st_ens_rows_t val = {0};
    st_status_t rc = load_rows(e, &val, ST_SPLIT_VAL, c, err);
    if (rc == ST_OK && val.n == 0)
        rc = st_fail(err, ST_ERR_CONFIG, "--weights val: the split of %s has no val rows", e->ds.path);
    double *rec = rc == ST_OK ? malloc(sizeof(double) * (size_t)(val.n * e->rec_floats + 1)) : NULL;
    if (rc == ST_OK && !rec) rc = st_fail(err, ST_ERR_NOMEM, "val records");
    double sum = 0;
    for (int i = 0; rc == ST_OK && i < e->n; i++) {
        rc = st_ens_member_records(e, &e->m[i], &val, rec, err);
        if (rc == ST_OK) e->m[i].score = st_ens_val_score(e, &val, rec, err, &rc);
        sum += rc == ST_OK ? e->m[i].score : 0;
    }
    if (rc == ST_OK && !(sum > 0))
        rc = st_fail(err, ST_ERR_DATA, "--weights val: every member scores 0 on the val part");
    for (int i = 0; rc == ST_OK && i < e->n; i++) e->m[i].weight = e->m[i].score / sum;
    free(rec);
    st_ens_rows_free(&val);
    return rc;
}

/* Head 0's val score of records rec: accuracy, micro F1, or max(R², 0). */
double st_ens_val_score(const st_ens_t *e, const st_ens_rows_t *rows, const double *rec, st_error_t *err,
                        st_status_t *rc) {
    const double *refs[ST_LOSS_MAX_HEADS];
    st_ens_targets_t t;
    st_ens_targets_of(e, rows, &t, refs);
    st_eval_t ev;
    *rc = st_ens_score(&ev, &e->m[0].losses, rec, e->rec_floats, &t, err);
    if (*rc != ST_OK) return NAN;
    st_head_metrics_t hm;
    st_head_metrics(&hm, &ev.heads[0]);
    st_head_kind_t k = ev.heads[0].kind;
    st_eval_free(&ev);
    double s = k == ST_HEAD_CLASS ? hm.accuracy : k == ST_HEAD_MULTILABEL ? hm.micro_f1 : hm.r2;
    return isfinite(s) && s > 0 ? s : 0;
}

void st_ens_rows_free(st_ens_rows_t *r) {
    free(r->ids), free(r->X), free(r->len), free(r->y), free(r->T);
    memset(r, 0, sizeof *r);
}

static st_status_t setup(st_ens_t *e, const st_comm_t *c, st_error_t *err) {
    ST_TRY(st_comm_agree(c, st_dataset_open(e->req->data, &e->ds, err), err));
    for (int i = 0; i < e->n; i++) {
        e->m[i].run = e->req->runs[i];
        ST_TRY(st_comm_agree(c, load_member(e, &e->m[i], err), err));
        if (i > 0) ST_TRY(st_comm_agree(c, same_as_first(e, &e->m[i], err), err));
    }
    for (int h = 0; h < e->m[0].losses.n_heads; h++) e->rec_floats += e->m[0].losses.heads[h].n_classes;
    return st_comm_agree(c, check_splits(e, err), err);
}

static int part_of(const char *split) {
    return strcmp(split, "train") == 0 ? ST_SPLIT_TRAIN : strcmp(split, "val") == 0 ? ST_SPLIT_VAL
         : strcmp(split, "test") == 0 ? ST_SPLIT_TEST : -1;
}

/* Every member's records on the part, the weighted mean, and the report. */
static st_status_t run(st_ens_t *e, const st_comm_t *c, st_error_t *err) {
    ST_TRY(setup(e, c, err));
    ST_TRY(st_comm_agree(c, weigh(e, c, err), err));
    ST_TRY(st_comm_agree(c, load_rows(e, &e->rows, part_of(e->req->split), c, err), err));
    size_t total = (size_t)e->rows.n * (size_t)e->rec_floats + 1;
    e->ens = malloc(sizeof(double) * total);
    st_status_t rc = e->ens ? ST_OK : st_fail(err, ST_ERR_NOMEM, "ensemble records");
    for (int i = 0; rc == ST_OK && i < e->n; i++) {
        e->recs[i] = malloc(sizeof(double) * total);
        rc = e->recs[i] ? st_ens_member_records(e, &e->m[i], &e->rows, e->recs[i], err)
                        : st_fail(err, ST_ERR_NOMEM, "member records");
    }
    ST_TRY(st_comm_agree(c, rc, err));
    combine(e, e->ens, e->recs, e->rows.n);
    return st_comm_agree(c, c->rank == 0 ? st_ens_report(e, err) : ST_OK, err);
}

static void ens_free(st_ens_t *e) {
    for (int i = 0; e->m && i < e->n; i++) {
        st_ens_member_t *m = &e->m[i];
        st_loss_heads_free(&m->losses), st_model_free(m->model), st_config_free(&m->cfg), st_ckpt_free(&m->ck);
        free(e->recs[i]);
    }
    st_ens_rows_free(&e->rows);
    free(e->ens), free(e->y), free(e->split), free(e->m);
    st_dataset_close(&e->ds);
}

st_status_t st_ensemble_eval(const st_ensemble_eval_request_t *req, const st_comm_t *c, st_error_t *err) {
    if (req->n_runs < 1 || req->n_runs > ST_ENSEMBLE_MAX_MEMBERS)
        return st_fail(err, ST_ERR_CONFIG, "an ensemble needs 1 to %d runs, got %d", ST_ENSEMBLE_MAX_MEMBERS, req->n_runs);
    if (part_of(req->split) < 0 && strcmp(req->split, "all") != 0)
        return st_fail(err, ST_ERR_CONFIG, "split \"%s\" is not test, val, train or all", req->split);
    st_ens_t e;
    memset(&e, 0, sizeof e);
    e.req = req, e.n = req->n_runs;
    e.m = calloc((size_t)e.n, sizeof *e.m);
    st_status_t rc = e.m ? run(&e, c, err) : st_fail(err, ST_ERR_NOMEM, "ensemble members");
    ens_free(&e);
    return rc;
}
