/* predict.c — see predict.h: a checkpoint's predictions for the rows of a file.
 *
 * Steps: read the checkpoint (every rank), parse its config and losses (each loss is a head: its
 * kind, width, names and decoding come from it and the checkpoint's per-head table), open the
 * input (HDF5, or a CSV matched to the feature names), rebuild the model for the input's sample
 * shape (jobs/ckpt_model.h, as `strata eval` does), rank 0 opens the output, then rounds: each
 * rank reads its chunk, prepares it as training did, runs it through the model in passes of
 * ST_DATA_EVAL_ROWS rows and turns every head's outputs into a float record per row
 * (probabilities, values or token ids); the records are gathered to rank 0 in rank order and
 * appended. The rounds end once a round was not full. */
#include "jobs/predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctc_decode.h"
#include "jobs/ckpt_model.h"
#include "jobs/predict_internal.h"
#include "mpi/collectives.h"
#include "sharding/batch.h"
#include "watchdog.h"

typedef struct {
    const st_predict_request_t *req;
    st_ckpt_t ck;
    st_run_config_t cfg;
    st_loss_heads_t losses;
    st_model_t *model;
    st_pred_src_t src;
    st_pred_out_t out;
    int n_heads, rec_floats, chunk;
    st_pred_head_t heads[ST_LOSS_MAX_HEADS];
    int mh[ST_LOSS_MAX_HEADS];           /* the model output of each head */
    const double *t_mean[ST_LOSS_MAX_HEADS], *t_std[ST_LOSS_MAX_HEADS]; /* regression de-standardisation */
    int beam[ST_LOSS_MAX_HEADS];
    const char **root_names;             /* a checkpoint without per-head tables: its class names */
    float *X, *x, *rec;                  /* [chunk, row_floats], [pass, row_floats], [chunk, rec_floats] */
    int32_t *len, *xlen, *tok, *ntok, *ilen;
    int64_t *pos;
} pred_t;

static st_head_kind_t kind_of(const st_loss_config_t *l) {
    return st_loss_uses_labels(l) ? ST_HEAD_CLASS : st_loss_is_regression(l) ? ST_HEAD_REGRESSION
         : st_loss_is_sequence(l) ? ST_HEAD_SEQUENCE : ST_HEAD_MULTILABEL;
}

/* Head h: kind, width, label and names from the loss and the checkpoint's table. */
static st_status_t describe_head(pred_t *p, int h, st_error_t *err) {
    const st_loss_config_t *l = &p->losses.heads[h];
    st_pred_head_t *hd = &p->heads[h];
    hd->kind = kind_of(l), hd->K = l->n_classes, hd->width = hd->K, hd->top_k = p->req->top_k;
    p->mh[h] = l->head[0] ? st_model_head_find(p->model, l->head) : 0;
    if (p->mh[h] < 0) return st_fail(err, ST_ERR_CONFIG, "%s: the model has no head named \"%s\"", p->ck.path, l->head);
    if (p->ck.n_heads > 0) {
        const st_ckpt_head_t *c = &p->ck.heads[h];
        snprintf(hd->label, sizeof hd->label, "%s", c->head[0] ? c->head : c->target);
        if (c->standardize_targets && c->t_mean) p->t_mean[h] = c->t_mean, p->t_std[h] = c->t_std;
    } else snprintf(hd->label, sizeof hd->label, "class");
    if (hd->kind == ST_HEAD_CLASS && hd->top_k > hd->K) hd->top_k = hd->K;
    if (hd->kind == ST_HEAD_SEQUENCE) hd->width = st_shape_positions(p->src.shape);
    p->beam[h] = p->req->beam_width > 0 ? p->req->beam_width : l->beam_width;
    return ST_OK;
}

/* The names as an array of strings: the per-head tables hold char [width][64] rows. */
static st_status_t name_tables(pred_t *p, st_error_t *err) {
    for (int h = 0; h < p->n_heads; h++) {
        st_pred_head_t *hd = &p->heads[h];
        const char **v = malloc(sizeof(char *) * (size_t)hd->K);
        if (!v) return st_fail(err, ST_ERR_NOMEM, "names");
        for (int k = 0; k < hd->K; k++)
            v[k] = p->ck.n_heads > 0 ? p->ck.heads[h].names[k] : p->ck.class_names[k];
        hd->names = v;
    }
    return ST_OK;
}

static st_status_t setup(pred_t *p, const st_comm_t *c, st_error_t *err) {
    const st_predict_request_t *r = p->req;
    ST_TRY(st_comm_agree(c, st_ckpt_read(r->checkpoint, &p->ck, err), err));
    st_status_t rc = st_config_from_json(p->ck.config_json, p->ck.path, NULL, 0, &p->cfg, err);
    if (rc == ST_OK) rc = st_loss_heads_parse(&p->losses, p->cfg.loss, "loss", st_ckpt_model_classes, &p->ck, err);
    ST_TRY(st_comm_agree(c, rc, err));
    ST_TRY(st_comm_agree(c, st_pred_src_open(&p->src, r->input, &p->ck, err), err));
    rc = st_ckpt_model_build(&p->model, &p->ck, &p->cfg, p->src.shape, p->src.has_lengths, ST_DATA_EVAL_ROWS, r->input,
                             err);
    p->n_heads = p->losses.n_heads;
    for (int h = 0; rc == ST_OK && h < p->n_heads; h++) rc = describe_head(p, h, err);
    if (rc == ST_OK) rc = name_tables(p, err);
    for (int h = 0; h < p->n_heads; h++) p->rec_floats += p->heads[h].width;
    long rf = st_shape_numel(p->src.shape);
    int pass = ST_DATA_EVAL_ROWS, T = st_shape_positions(p->src.shape);
    p->X = malloc(sizeof(float) * ((size_t)p->chunk * (size_t)rf + 1));
    p->x = malloc(sizeof(float) * ((size_t)pass * (size_t)rf + 1));
    p->rec = malloc(sizeof(float) * ((size_t)p->chunk * (size_t)p->rec_floats + 1));
    p->len = malloc(sizeof(int32_t) * (size_t)p->chunk), p->xlen = malloc(sizeof(int32_t) * (size_t)pass);
    p->tok = malloc(sizeof(int32_t) * (size_t)pass * (size_t)T), p->ntok = malloc(sizeof(int32_t) * (size_t)pass);
    p->ilen = malloc(sizeof(int32_t) * (size_t)pass), p->pos = malloc(sizeof(int64_t) * (size_t)pass);
    if (rc == ST_OK && (!p->X || !p->x || !p->rec || !p->len || !p->xlen || !p->tok || !p->ntok || !p->ilen || !p->pos))
        rc = st_fail(err, ST_ERR_NOMEM, "prediction buffers (%d rows per chunk)", p->chunk);
    return st_comm_agree(c, rc, err);
}

/* A ctc head's rows decoded into their records (token ids, −1 past the end). */
static st_status_t decode(pred_t *p, int h, int B, float *rec, st_error_t *err) {
    const st_pred_head_t *hd = &p->heads[h];
    int T = 0;
    const int32_t *len = st_model_head_lengths(p->model, p->mh[h], &T);
    const float *o = st_model_head_output(p->model, p->mh[h]);
    if (T > hd->width)
        return st_fail(err, ST_ERR_INTERNAL, "%s: head %s has %d positions, more than the input's %d", p->ck.path,
                       hd->label, T, hd->width);
    for (int i = 0; i < B; i++) p->ilen[i] = len ? len[i] : T;
    if (p->beam[h] > 1) ST_TRY(st_ctc_beam_decode(p->tok, p->ntok, NULL, o, p->ilen, B, T, hd->K, 0, p->beam[h], err));
    else st_ctc_greedy_decode(p->tok, p->ntok, o, p->ilen, B, T, hd->K, 0);
    for (int i = 0; i < B; i++) {
        float *r = rec + (size_t)i * (size_t)p->rec_floats;
        for (int j = 0; j < hd->width; j++) r[j] = j < p->ntok[i] ? (float)p->tok[(size_t)i * (size_t)T + (size_t)j] : -1.0f;
    }
    return ST_OK;
}

/* Head h's outputs of B rows into their records: softmax, σ, de-standardised values. */
static void head_record(pred_t *p, int h, int B, float *rec) {
    const st_pred_head_t *hd = &p->heads[h];
    const float *o = st_model_head_output(p->model, p->mh[h]);
    int K = hd->K;
    for (int i = 0; i < B; i++) {
        const float *z = o + (size_t)i * (size_t)K;
        float *r = rec + (size_t)i * (size_t)p->rec_floats;
        if (hd->kind == ST_HEAD_CLASS) { /* softmax in double, max subtracted */
            double m = z[0], s = 0;
            for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
            for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
            for (int k = 0; k < K; k++) r[k] = (float)(exp((double)z[k] - m) / s);
        } else if (hd->kind == ST_HEAD_MULTILABEL)
            for (int k = 0; k < K; k++) r[k] = (float)(1.0 / (1.0 + exp(-(double)z[k])));
        else
            for (int k = 0; k < K; k++)
                r[k] = p->t_mean[h] ? (float)((double)z[k] * (float)p->t_std[h][k] + (float)p->t_mean[h][k]) : z[k]; /* as evaluate.c */
    }
}

/* Rows [r0, r0 + B) of the chunk through the model; their records. */
static st_status_t run_pass(pred_t *p, const int64_t *ids, int r0, int B, st_error_t *err) {
    st_data_t d;
    memset(&d, 0, sizeof d);
    d.row_floats = st_shape_numel(p->src.shape), d.shape = p->src.shape, d.has_lengths = p->src.has_lengths;
    st_data_part_t part = {0};
    part.X = p->X, part.len = p->src.has_lengths ? p->len : NULL;
    for (int i = 0; i < B; i++) p->pos[i] = r0 + i;
    st_run_ctx_t ctx = {.training = 0, .sample_index = ids};
    st_data_gather_rows(p->x, p->xlen, &ctx.positions, &d, &part, p->pos, B);
    if (p->src.has_lengths) ctx.lengths = p->xlen;
    ST_TRY(st_model_forward_checked(p->model, &ctx, p->x, B, err));
    float *rec = p->rec + (size_t)r0 * (size_t)p->rec_floats;
    for (int h = 0, off = 0; h < p->n_heads; off += p->heads[h].width, h++) {
        if (p->heads[h].kind == ST_HEAD_SEQUENCE) ST_TRY(decode(p, h, B, rec + off, err));
        else head_record(p, h, B, rec + off);
    }
    return ST_OK;
}

/* This rank's chunk of the round: read, prepared, predicted; *got rows. */
static st_status_t run_chunk(pred_t *p, int64_t row0, int *got, st_error_t *err) {
    ST_TRY(st_pred_src_read(&p->src, row0, p->chunk, p->X, p->len, got, err));
    st_ckpt_prepare_rows(p->X, p->src.has_lengths ? p->len : NULL, *got, &p->ck, &p->cfg, p->src.shape);
    int64_t ids[ST_DATA_EVAL_ROWS];
    for (int r0 = 0; r0 < *got; r0 += ST_DATA_EVAL_ROWS) {
        int B = *got - r0 < ST_DATA_EVAL_ROWS ? *got - r0 : ST_DATA_EVAL_ROWS;
        for (int i = 0; i < B; i++) ids[i] = row0 + r0 + i;
        ST_TRY(run_pass(p, ids, r0, B, err));
    }
    return ST_OK;
}

/* st_comm_agree that also hands rank 0 the message of the lowest failing rank (a NaN in a row
 * another rank read is reported as itself, not as "rank r failed"). Collective. */
static st_status_t agree_message(const st_comm_t *c, st_status_t rc, st_error_t *err) {
    char *all = NULL;
    st_error_t e2 = {0};
    size_t n = rc != ST_OK ? strlen(err->msg) + 1 : 0; /* with the NUL: the first message ends there */
    st_status_t g = st_gather_text(&all, rc != ST_OK ? err->msg : "", n, c, &e2);
    st_status_t agreed = st_comm_agree(c, rc, err);
    if (g == ST_OK && agreed != ST_OK && c->rank == 0 && all && all[0])
        snprintf(err->msg, sizeof err->msg, "%s", all);
    free(all);
    return agreed;
}

/* Every round: each rank's chunk, gathered to rank 0 in row order and appended. */
static st_status_t rounds(pred_t *p, const st_comm_t *c, int64_t *n_rows, st_error_t *err) {
    size_t rec_bytes = sizeof(float) * (size_t)p->rec_floats;
    for (int64_t k = 0;; k++) {
        st_watchdog_beat("prediction", -1);
        int got = 0;
        int64_t row0 = (k * c->size + c->rank) * (int64_t)p->chunk;
        ST_TRY(agree_message(c, run_chunk(p, row0, &got, err), err));
        char *all = NULL;
        ST_TRY(st_gather_text(&all, (const char *)p->rec, (size_t)got * rec_bytes, c, err));
        int64_t total = got;
        st_status_t rc = st_allreduce_sum_i64(&total, 1, c, err);
        if (rc == ST_OK && c->rank == 0) rc = st_pred_out_append(&p->out, (const float *)all, total, err);
        free(all);
        ST_TRY(st_comm_agree(c, rc, err));
        *n_rows += total;
        if (total < (int64_t)c->size * p->chunk) return ST_OK;
    }
}

static int output_h5(const st_predict_request_t *r) {
    if (r->format) return strcmp(r->format, "h5") == 0 || strcmp(r->format, "hdf5") == 0;
    size_t n = strlen(r->output);
    return (n > 3 && strcasecmp(r->output + n - 3, ".h5") == 0) || (n > 5 && strcasecmp(r->output + n - 5, ".hdf5") == 0);
}

static void pred_free(pred_t *p) {
    for (int h = 0; h < p->n_heads; h++) free((void *)p->heads[h].names);
    free(p->X), free(p->x), free(p->rec), free(p->len), free(p->xlen), free(p->tok), free(p->ntok), free(p->ilen);
    free(p->pos);
    st_pred_src_close(&p->src);
    st_loss_heads_free(&p->losses);
    st_model_free(p->model);
    st_config_free(&p->cfg);
    st_ckpt_free(&p->ck);
}

st_status_t st_predict(const st_predict_request_t *req, const st_comm_t *c, st_error_t *err) {
    if (req->format && strcmp(req->format, "csv") && strcmp(req->format, "h5") && strcmp(req->format, "hdf5"))
        return st_fail(err, ST_ERR_CONFIG, "format \"%s\" is not csv or h5", req->format);
    pred_t p;
    memset(&p, 0, sizeof p);
    p.req = req, p.chunk = req->chunk_rows > 0 ? req->chunk_rows : ST_PREDICT_CHUNK_ROWS;
    p.chunk = (p.chunk + ST_DATA_EVAL_ROWS - 1) / ST_DATA_EVAL_ROWS * ST_DATA_EVAL_ROWS; /* passes on eval's blocks */
    int64_t n_rows = 0;
    st_status_t rc = setup(&p, c, err);
    if (rc == ST_OK) {
        int h5 = output_h5(req);
        rc = st_comm_agree(c, c->rank == 0 ? st_pred_out_open(&p.out, req->output, h5, p.heads, p.n_heads, err) : ST_OK,
                           err);
        if (rc == ST_OK) rc = rounds(&p, c, &n_rows, err);
        st_error_t e2 = {0};
        st_status_t done = c->rank == 0 ? st_pred_out_close(&p.out, rc == ST_OK, rc == ST_OK ? err : &e2) : ST_OK;
        if (rc == ST_OK) rc = st_comm_agree(c, done, err);
        if (rc == ST_OK && c->rank == 0 && req->out)
            fprintf(req->out, "%s: %lld rows of %s predicted (%d head%s) into %s\n", req->checkpoint, (long long)n_rows,
                    req->input, p.n_heads, p.n_heads == 1 ? "" : "s", req->output);
    }
    pred_free(&p);
    return rc;
}
