/* summarize.c — see summarize.h: the model of a config or checkpoint, built for its input shape
 * and summarised. */
#include "jobs/summarize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/checkpoint.h"
#include "jobs/ckpt_heads.h"
#include "jobs/config.h"
#include "jobs/heads.h"
#include "model_summary.h"
#include "sharding/shards.h"

typedef struct {
    st_run_config_t cfg;
    st_ckpt_t ck;
    int is_ckpt;
    st_dataset_t ds;
    int has_ds;
    int n_classes;       /* the request's, for every head when there is no dataset */
    st_model_t *model;
} job_t;

/* Each head as wide as training (or the checkpoint's table) makes it; 0: the trunk's count. */
static int classes_of(const char *head, void *ctx) {
    const job_t *j = ctx;
    if (j->is_ckpt) {
        int k = st_ckpt_head_width(&j->ck, head);
        return k > 0 ? k : j->ck.n_classes;
    }
    if (j->has_ds) return st_heads_width(j->cfg.loss, head, &j->ds);
    return j->n_classes;
}

/* 1: a checkpoint (HDF5 files and strata's sealed ones start with byte 0x89), 0: a config. */
static st_status_t is_checkpoint(const char *path, int *yes, st_error_t *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return st_fail(err, ST_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    int c = fgetc(f);
    fclose(f);
    *yes = c == 0x89;
    return ST_OK;
}

static st_status_t load(job_t *j, const char *path, st_error_t *err) {
    ST_TRY(is_checkpoint(path, &j->is_ckpt, err));
    if (!j->is_ckpt) return st_config_load(path, NULL, 0, &j->cfg, err);
    ST_TRY(st_ckpt_read(path, &j->ck, err));
    return st_config_from_json(j->ck.config_json, j->ck.path, NULL, 0, &j->cfg, err);
}

/* The input shape: the request's, else the dataset's (a dataset that cannot be opened fails
 * with the hint). */
static st_status_t input_shape(job_t *j, const st_summary_request_t *req, st_shape_t *in, char *from, size_t size,
                               st_error_t *err) {
    if (req->in_shape.rank > 0) {
        *in = req->in_shape;
        snprintf(from, size, "--input-shape");
        return ST_OK;
    }
    st_status_t rc = st_dataset_open(j->cfg.data.path, &j->ds, err);
    if (rc != ST_OK) {
        st_error_prefix(err, "%s: data.path", req->path);
        char hint[96];
        st_format(hint, sizeof hint, "; give --input-shape T,C (or D)%s", j->is_ckpt ? "" : " and --classes K");
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, "%s", hint);
        return rc;
    }
    j->has_ds = 1;
    *in = j->ds.shape;
    snprintf(from, size, "%s", j->ds.path);
    return ST_OK;
}

static st_status_t build(job_t *j, const st_summary_request_t *req, st_shape_t in, st_error_t *err) {
    int K = j->is_ckpt ? classes_of("", j) : j->has_ds ? j->ds.n_classes : req->n_classes;
    if (req->n_classes > 0 && !j->is_ckpt) K = req->n_classes;
    st_status_t rc = st_model_build_heads(j->cfg.model, "model", in, K, classes_of, j, &j->model, err);
    if (rc != ST_OK && K <= 0 && strstr(err->msg, "class count")) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (without the dataset: give --classes K)");
    }
    if (rc != ST_OK) st_error_prefix(err, "%s", req->path);
    ST_TRY(rc);
    if (j->is_ckpt && st_model_param_floats(j->model) != j->ck.n_params) {
        char s[48];
        st_shape_str(in, s, sizeof s);
        return st_fail(err, ST_ERR_DATA, "%s: for input %s the model has %zu parameters, but the checkpoint holds %zu: "
                       "it was trained on samples of another shape", j->ck.path, s, st_model_param_floats(j->model),
                       j->ck.n_params);
    }
    return ST_OK;
}

static st_status_t print(const job_t *j, const st_summary_request_t *req, const char *from, st_error_t *err) {
    int S, micro;
    ST_TRY(st_shards_plan(&S, &micro, j->cfg.train.batch_size, j->cfg.train.accumulation_steps, j->cfg.data.shards, -1,
                          err));
    st_summary_t s;
    ST_TRY(st_summary_make(&s, j->model, &j->cfg.optim, micro, err));
    if (j->is_ckpt)
        snprintf(s.source, sizeof s.source, "%s: checkpoint (%s) after %lld steps", req->path,
                 st_ckpt_kind_name(j->ck.kind), (long long)j->ck.step);
    else snprintf(s.source, sizeof s.source, "%s: config", req->path);
    snprintf(s.shape_from, sizeof s.shape_from, "%s", from);
    st_status_t rc = ST_OK;
    if (req->json) {
        char *text = st_summary_json(&s);
        if (text) fprintf(req->out, "%s\n", text);
        else rc = st_fail(err, ST_ERR_NOMEM, "model summary: out of memory");
        free(text);
    } else {
        st_summary_print(&s, req->out);
    }
    st_summary_free(&s);
    return rc;
}

st_status_t st_summarize(const st_summary_request_t *req, st_error_t *err) {
    job_t j;
    memset(&j, 0, sizeof j);
    j.n_classes = req->n_classes;
    st_shape_t in;
    char from[512];
    st_status_t rc = load(&j, req->path, err);
    if (rc == ST_OK) rc = input_shape(&j, req, &in, from, sizeof from, err);
    if (rc == ST_OK) rc = build(&j, req, in, err);
    if (rc == ST_OK) rc = print(&j, req, from, err);
    st_model_free(j.model);
    if (j.has_ds) st_dataset_close(&j.ds);
    if (j.is_ckpt) st_ckpt_free(&j.ck);
    st_config_free(&j.cfg);
    return rc;
}
