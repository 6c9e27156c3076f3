/* ensemble_report.c — the files `strata ensemble eval` writes (see ensemble_eval.h): the
 * ensemble's metrics.json, per-class CSVs and confusion written by the code a run uses
 * (jobs/results.h, jobs/head_report.h), metrics.json then extended with "ensemble" and
 * "members", probabilities.csv, and the printed summary (one block per member, then the
 * ensemble). */
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fileio.h"
#include "jobs/ensemble_internal.h"
#include "jobs/head_report.h"
#include "jobs/heads.h"
#include "jobs/results.h"

/* Head h's label (predict's column prefix) and class / label / column names, from member 0. */
static const char *head_label(const st_ens_t *e, int h) {
    const st_ckpt_t *ck = &e->m[0].ck;
    if (ck->n_heads == 0) return "class";
    return ck->heads[h].head[0] ? ck->heads[h].head : ck->heads[h].target;
}

static const char *name_of(const st_ens_t *e, int h, int k) {
    const st_ckpt_t *ck = &e->m[0].ck;
    return ck->n_heads > 0 ? ck->heads[h].names[k] : ck->class_names[k];
}

static void out_dir_of(const st_ens_t *e, char *out, size_t size) {
    if (e->req->out_dir) {
        snprintf(out, size, "%s", e->req->out_dir);
        return;
    }
    char run[4096], data[4096];
    snprintf(run, sizeof run, "%s", e->req->runs[0]);
    snprintf(data, sizeof data, "%s", e->req->data);
    size_t n = strlen(run);
    while (n > 1 && run[n - 1] == '/') run[--n] = '\0';
    char *parent = st_is_dir(run) ? dirname(run) : dirname(dirname(dirname(run))); /* <run>/checkpoints/x.h5 */
    char *stem = basename(data), *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';
    st_format(out, size, "%s/ensemble-%s-%s", parent, stem, e->req->split);
}

/* probabilities.csv: row, then every head's ensemble record under predict's column names. */
static st_status_t write_probabilities(const st_ens_t *e, const char *dir, st_error_t *err) {
    char path[4200];
    st_format(path, sizeof path, "%s/probabilities.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return st_fail(err, ST_ERR_IO, "%s: cannot create", path);
    const st_loss_heads_t *L = &e->m[0].losses;
    fprintf(f, "row");
    for (int h = 0; h < L->n_heads; h++)
        for (int k = 0; k < L->heads[h].n_classes; k++) {
            char col[256];
            st_format(col, sizeof col, "%s_%s%s", head_label(e, h),
                      st_ens_head_kind(&L->heads[h]) == ST_HEAD_REGRESSION ? "" : "p_", name_of(e, h, k));
            fputc(',', f), st_csv_put_field(f, col);
        }
    fputc('\n', f);
    for (int64_t i = 0; i < e->rows.n; i++) {
        fprintf(f, "%lld", (long long)e->rows.ids[i]);
        for (int j = 0; j < e->rec_floats; j++) fprintf(f, ",%.9g", e->ens[(size_t)i * (size_t)e->rec_floats + j]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return st_fail(err, ST_ERR_IO, "%s: write error", path);
    return ST_OK;
}

/* {name: value} of a metric table. */
static cJSON *table_json(const st_metric_table_t *t) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < t->n; i++)
        cJSON_AddItemToObject(o, t->name[i], isfinite(t->value[i]) ? cJSON_CreateNumber(t->value[i]) : cJSON_CreateNull());
    return o;
}

static double combined_loss(const st_ens_t *e, const st_eval_t *ev, const st_metric_table_t *tab) {
    char key[64];
    st_format(key, sizeof key, "%s_loss", e->req->split);
    return e->m[0].losses.n_heads > 1 ? st_metric_table_get(tab, key) : ev->weight > 0 ? ev->loss_sum / ev->weight : NAN;
}

/* Scores rec into ev and its named metrics into tab. */
static st_status_t score(const st_ens_t *e, const double *rec, st_eval_t *ev, st_metric_table_t *tab, st_error_t *err) {
    const double *refs[ST_LOSS_MAX_HEADS];
    st_ens_targets_t t;
    st_ens_targets_of(e, &e->rows, &t, refs);
    ST_TRY(st_ens_score(ev, &e->m[0].losses, rec, e->rec_floats, &t, err));
    memset(tab, 0, sizeof *tab);
    st_head_report_val(tab, e->req->split, ev, &e->m[0].losses, &e->ds);
    return ST_OK;
}

/* metrics.json as a run writes it, and the class CSVs (prefix "<head>_" with several heads). */
static st_status_t write_run_files(const st_ens_t *e, const char *dir, const st_eval_t *ev,
                                   const st_metric_table_t *tab, st_error_t *err) {
    const st_head_eval_t *h0 = &ev->heads[0];
    const char **names = malloc(sizeof(char *) * (size_t)(h0->K + 1));
    if (!names) return st_fail(err, ST_ERR_NOMEM, "names");
    for (int k = 0; k < h0->K; k++) names[k] = name_of(e, 0, k);
    const int64_t *conf = h0->kind == ST_HEAD_CLASS ? h0->confusion : NULL;
    st_final_metrics_t fm = {e->req->split, combined_loss(e, ev, tab), "ensemble", conf, names, h0->K, tab->n,
                             (const char (*)[64])tab->name, tab->value};
    st_status_t rc = st_write_metrics_json(dir, &fm, err);
    free(names);
    const st_loss_heads_t *L = &e->m[0].losses;
    for (int h = 0; rc == ST_OK && h < L->n_heads; h++) {
        if (ev->heads[h].kind != ST_HEAD_CLASS) continue;
        const char **nm = malloc(sizeof(char *) * (size_t)ev->heads[h].K);
        if (!nm) return st_fail(err, ST_ERR_NOMEM, "names");
        for (int k = 0; k < ev->heads[h].K; k++) nm[k] = name_of(e, h, k);
        char prefix[ST_METRIC_NAME + 2] = "";
        if (L->n_heads > 1) st_format(prefix, sizeof prefix, "%s_", st_heads_name(&L->heads[h], &e->ds));
        rc = st_write_class_csvs(dir, prefix, ev->heads[h].confusion, nm, ev->heads[h].K, err);
        free(nm);
    }
    return rc;
}

/* metrics.json gains "ensemble" and "members". */
static st_status_t extend_metrics(const st_ens_t *e, const char *dir, cJSON *members, st_error_t *err) {
    char path[4200];
    st_format(path, sizeof path, "%s/metrics.json", dir);
    char *text = st_read_file(path, NULL, err);
    if (!text) return ST_ERR_IO;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc) return st_fail(err, ST_ERR_DATA, "%s: not JSON", path);
    cJSON *ens = cJSON_CreateObject();
    cJSON_AddNumberToObject(ens, "members", e->n);
    cJSON_AddStringToObject(ens, "weights", e->req->weights_val ? "val" : "equal");
    cJSON_AddStringToObject(ens, "rule", "soft voting: sum over members of weight x record (class: softmax "
                            "probabilities, multi-label: sigmoid probabilities, regression: values)");
    cJSON_AddStringToObject(ens, "data", e->req->data);
    cJSON_AddNumberToObject(ens, "rows", (double)e->rows.n);
    cJSON_AddItemToObject(doc, "ensemble", ens);
    cJSON_AddItemToObject(doc, "members", members);
    char *out = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!out) return st_fail(err, ST_ERR_NOMEM, "metrics.json");
    st_status_t rc = st_write_file_atomic(path, out, strlen(out), err);
    cJSON_free(out);
    return rc;
}

/* Every member's metrics (as JSON objects) and printed lines. */
static st_status_t members_json(const st_ens_t *e, cJSON *list, st_error_t *err) {
    FILE *o = e->req->out;
    for (int i = 0; i < e->n; i++) {
        st_eval_t ev;
        st_metric_table_t *tab = malloc(sizeof *tab);
        if (!tab) return st_fail(err, ST_ERR_NOMEM, "metrics");
        st_status_t rc = score(e, e->recs[i], &ev, tab, err);
        if (rc != ST_OK) return free(tab), rc;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "run", e->m[i].run);
        cJSON_AddStringToObject(m, "checkpoint", e->m[i].ckpt);
        cJSON_AddNumberToObject(m, "seed", (double)e->m[i].cfg.seed);
        cJSON_AddNumberToObject(m, "weight", e->m[i].weight);
        cJSON_AddItemToObject(m, "val_score", isfinite(e->m[i].score) ? cJSON_CreateNumber(e->m[i].score) : cJSON_CreateNull());
        cJSON_AddItemToObject(m, "metrics", table_json(tab));
        cJSON_AddItemToArray(list, m);
        if (o) {
            fprintf(o, "member %d %s (weight %.4f):\n", i, e->m[i].run, e->m[i].weight);
            st_head_report_print(o, e->req->split, &ev, &e->m[0].losses, &e->ds);
        }
        st_eval_free(&ev);
        free(tab);
    }
    return ST_OK;
}

st_status_t st_ens_report(const st_ens_t *e, st_error_t *err) {
    char dir[4096];
    out_dir_of(e, dir, sizeof dir);
    ST_TRY(st_mkdir_p(dir, err));
    cJSON *members = cJSON_CreateArray();
    st_metric_table_t *tab = malloc(sizeof *tab);
    st_status_t rc = members && tab ? members_json(e, members, err) : st_fail(err, ST_ERR_NOMEM, "metrics");
    st_eval_t ev;
    memset(&ev, 0, sizeof ev);
    if (rc == ST_OK) rc = score(e, e->ens, &ev, tab, err);
    if (rc == ST_OK) rc = write_run_files(e, dir, &ev, tab, err);
    if (rc == ST_OK) rc = extend_metrics(e, dir, members, err), members = NULL;
    if (rc == ST_OK) rc = write_probabilities(e, dir, err);
    if (rc == ST_OK && e->req->out) {
        fprintf(e->req->out, "ensemble of %d (%s weights) on %s (%s split, %lld rows):\n", e->n,
                e->req->weights_val ? "val" : "equal", e->req->data, e->req->split, (long long)e->rows.n);
        st_head_report_print(e->req->out, e->req->split, &ev, &e->m[0].losses, &e->ds);
        fprintf(e->req->out, "written to %s (metrics.json, probabilities.csv%s)\n", dir,
                ev.heads[0].kind == ST_HEAD_CLASS ? ", per_class.csv, confusion.csv" : "");
    }
    st_eval_free(&ev);
    cJSON_Delete(members);
    free(tab);
    return rc;
}
