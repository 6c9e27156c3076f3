/* evaluate.c — every head's loss and metrics over the rows the ranks hold, pass by pass (each pass's
 * rows read on demand for a streamed split: st_data_eval_rows); see evaluate.h. */
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctc_decode.h"
#include "metrics.h"
#include "mpi/collectives.h"
#include "sharding/batch.h"
#include "sharding/loader.h"
#include "watchdog.h"

/* One evaluation in progress: where each head's values sit in the block records (reals) and in
 * the count array (int64), and the scratch a pass needs. */
typedef struct {
    st_eval_t *out;
    const st_loss_heads_t *losses;
    const st_data_t *d;
    const st_data_part_t *part;
    int rec_len, rec_off[ST_LOSS_MAX_HEADS];
    int cnt_len, cnt_off[ST_LOSS_MAX_HEADS];
    int64_t *cnt;                  /* [cnt_len + 1]: the last slot counts failed ranks */
    double *rec;                   /* [n_blocks, rec_len] */
    int64_t n_blocks, first_block;
    int32_t *lab;                  /* [chunk] */
    float *tgt;                    /* [chunk, max K] */
    float *x;                      /* variable lengths: [chunk, row_floats] a pass's rows at its own
                                      longest length; NULL without lengths (passes read the part) */
    int32_t *len;                  /* [chunk] their lengths */
    int64_t *pos;                  /* [chunk] their positions in the part */
    st_eval_seq_fn sink;           /* decoded rows go here too (may be NULL) */
    void *sink_ctx;
} ev_t;

/* The counts a sequence head keeps after its row count: words (edits, hits, reference tokens,
 * exact sequences), characters (edits, reference characters). */
enum { SEQ_W_EDITS, SEQ_W_HITS, SEQ_W_REF, SEQ_EXACT, SEQ_C_EDITS, SEQ_C_REF, SEQ_N };

static st_head_kind_t head_kind(const st_loss_config_t *l) {
    return st_loss_uses_labels(l) ? ST_HEAD_CLASS : st_loss_is_regression(l) ? ST_HEAD_REGRESSION
         : st_loss_is_sequence(l) ? ST_HEAD_SEQUENCE : ST_HEAD_MULTILABEL;
}

static void *zalloc(size_t n, size_t size, int *ok) {
    void *p = calloc(n ? n : 1, size);
    if (!p) *ok = 0;
    return p;
}

/* Layout and arrays of every head. */
static st_status_t setup(ev_t *ev, int chunk, st_error_t *err) {
    st_eval_t *out = ev->out;
    int ok = 1, max_k = 1;
    out->n_heads = ev->losses->n_heads;
    for (int h = 0; h < out->n_heads; h++) {
        const st_loss_config_t *l = &ev->losses->heads[h];
        st_head_eval_t *he = &out->heads[h];
        he->kind = head_kind(l), he->K = l->n_classes, he->top_k = l->top_k > 0 ? l->top_k : 3;
        int K = he->K, width = st_loss_target_width(l);
        max_k = width > max_k ? width : max_k;
        ev->rec_off[h] = ev->rec_len, ev->rec_len += 2 + (he->kind == ST_HEAD_REGRESSION ? 4 * K : 0);
        ev->cnt_off[h] = ev->cnt_len;
        ev->cnt_len += 1 + (he->kind == ST_HEAD_CLASS ? K * K : he->kind == ST_HEAD_MULTILABEL ? 3 * K + 2
                            : he->kind == ST_HEAD_SEQUENCE ? SEQ_N : K);
        if (he->kind == ST_HEAD_REGRESSION) {
            he->abs_err = zalloc((size_t)K, sizeof(double), &ok), he->sq_err = zalloc((size_t)K, sizeof(double), &ok);
            he->dev = zalloc((size_t)K, sizeof(double), &ok), he->dev_sq = zalloc((size_t)K, sizeof(double), &ok);
            he->ref = zalloc((size_t)K, sizeof(double), &ok);
            const st_target_stats_t *st = l->target_index >= 0 ? &ev->d->tgt_stats[l->target_index] : NULL;
            for (int k = 0; ok && st && st->mean && k < K; k++) he->ref[k] = st->mean[k];
        }
    }
    ev->cnt = zalloc((size_t)ev->cnt_len + 1, sizeof(int64_t), &ok);
    ev->rec = zalloc((size_t)(ev->n_blocks > 0 ? ev->n_blocks : 1) * (size_t)ev->rec_len, sizeof(double), &ok);
    ev->lab = zalloc((size_t)chunk, sizeof(int32_t), &ok);
    ev->tgt = zalloc((size_t)chunk * (size_t)max_k, sizeof(float), &ok);
    return ok ? ST_OK : st_fail(err, ST_ERR_NOMEM, "evaluation: out of memory for %d heads' metrics", out->n_heads);
}

/* Loss l's targets of rows [r0, r0 + B) of the part into ev->lab or ev->tgt (standardised as in
 * training when `standardised`). */
static void fetch(ev_t *ev, const st_loss_config_t *l, int64_t r0, int B, int standardised) {
    const st_data_t *d = ev->d;
    int t = l->target_index, K = st_loss_target_width(l);
    for (int i = 0; i < B; i++) {
        if (t < 0) {
            ev->lab[i] = ev->part->y[r0 + i];
            continue;
        }
        const float *v = ev->part->T + (size_t)(r0 + i) * (size_t)d->tgt_floats + d->tgt_offset[t];
        if (st_loss_uses_labels(l)) ev->lab[i] = (int32_t)v[0];
        else
            for (int k = 0; k < K; k++)
                ev->tgt[(size_t)i * K + k] = standardised && l->t_mean ? (float)(((double)v[k] - l->t_mean[k]) / l->t_std[k]) : v[k];
    }
}

static void class_counts(ev_t *ev, int h, const float *o, int B) {
    int K = ev->out->heads[h].K;
    int64_t *c = ev->cnt + ev->cnt_off[h];
    for (int i = 0; i < B; i++)
        if (ev->lab[i] >= 0) c[0]++, c[1 + (size_t)ev->lab[i] * K + st_argmax(o + (size_t)i * K, K)]++;
}

/* Rank of label k's logit in row o: the number of labels scored above it (ties: lower index first). */
static int label_rank(const float *o, int k, int K) {
    int r = 0;
    for (int j = 0; j < K; j++) r += o[j] > o[k] || (o[j] == o[k] && j < k);
    return r;
}

static void multilabel_counts(ev_t *ev, int h, const float *o, int B) {
    const st_head_eval_t *he = &ev->out->heads[h];
    int K = he->K;
    int64_t *c = ev->cnt + ev->cnt_off[h], *tp = c + 1, *fp = tp + K, *fn = fp + K, *exact = fn + K, *topk = exact + 1;
    for (int i = 0; i < B; i++) {
        const float *z = o + (size_t)i * K, *t = ev->tgt + (size_t)i * K;
        int all = 1, hit = 0;
        for (int k = 0; k < K; k++) {
            if (isnan(t[k])) continue;
            int pred = z[k] >= 0, truth = t[k] >= 0.5f; /* σ(z) >= 0.5 */
            tp[k] += pred && truth, fp[k] += pred && !truth, fn[k] += !pred && truth;
            all &= pred == truth;
            if (truth && label_rank(z, k, K) < he->top_k) hit = 1;
        }
        c[0]++, *exact += all, *topk += hit;
    }
}

/* Regression errors in target units: predictions de-standardised, targets as stored. */
static void regression_sums(ev_t *ev, int h, const st_loss_config_t *l, const float *o, int64_t r0, int B, double *rec) {
    const st_head_eval_t *he = &ev->out->heads[h];
    int K = he->K;
    fetch(ev, l, r0, B, 0);
    int64_t *cnt = ev->cnt + ev->cnt_off[h];
    double *abs_e = rec + 2, *sq = abs_e + K, *dev = sq + K, *dev_sq = dev + K;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++) {
            double t = ev->tgt[(size_t)i * K + k];
            if (isnan(t)) continue;
            double p = o[(size_t)i * K + k];
            if (l->t_mean) p = p * l->t_std[k] + l->t_mean[k];
            double e = p - t, m = t - he->ref[k];
            cnt[1 + k]++, abs_e[k] += fabs(e), sq[k] += e * e, dev[k] += m, dev_sq[k] += m * m;
        }
    cnt[0] += B;
}

char *st_seq_text(const char (*vocab)[64], int V, const int32_t *tokens, int n) {
    int single = 1;
    for (int k = 1; k < V && single; k++) single = strlen(vocab[k]) == 1;
    size_t size = 1;
    for (int j = 0; j < n; j++) size += strlen(vocab[tokens[j]]) + 1;
    char *s = malloc(size), *at = s;
    if (!s) return NULL;
    *at = '\0';
    for (int j = 0; j < n; j++) {
        if (j > 0 && !single) *at++ = ' ';
        size_t len = strlen(vocab[tokens[j]]);
        memcpy(at, vocab[tokens[j]], len + 1);
        at += len;
    }
    return s;
}

/* Row i's reference and decoded sequence into the head's counts (and the sink). */
static int seq_row(ev_t *ev, int h, int64_t row_id, const float *target, const int32_t *hyp, int n_hyp, int L) {
    int32_t ref[L > 0 ? L : 1];
    int n_ref = (int)target[0];
    for (int j = 0; j < n_ref; j++) ref[j] = (int32_t)target[1 + j];
    st_seqscore_t w = {0}, c = {0};
    const st_target_info_t *ti = &ev->d->ds.targets[ev->losses->heads[h].target_index];
    char *rs = st_seq_text((const char(*)[64])ti->names, ti->n_classes, ref, n_ref);
    char *hs = st_seq_text((const char(*)[64])ti->names, ti->n_classes, hyp, n_hyp);
    int ok = rs && hs && st_seqscore_add(&w, ref, n_ref, hyp, n_hyp) == 0 && st_seqscore_add_chars(&c, rs, hs) == 0;
    free(rs), free(hs);
    if (!ok) return -1;
    int64_t *cnt = ev->cnt + ev->cnt_off[h];
    cnt[0]++;
    cnt[1 + SEQ_W_EDITS] += w.edits, cnt[1 + SEQ_W_HITS] += w.hits, cnt[1 + SEQ_W_REF] += w.ref_tokens;
    cnt[1 + SEQ_EXACT] += w.n_exact, cnt[1 + SEQ_C_EDITS] += c.edits, cnt[1 + SEQ_C_REF] += c.ref_tokens;
    if (ev->sink) ev->sink(ev->sink_ctx, h, row_id, ref, n_ref, hyp, n_hyp);
    return 0;
}

/* A ctc head: its loss into hr, its rows decoded and scored. */
static st_status_t seq_pass(ev_t *ev, st_model_t *model, int h, int mh, int64_t r0, int B, double *hr,
                            st_error_t *err) {
    const st_loss_config_t *l = &ev->losses->heads[h];
    int T = 0, V = l->n_classes;
    const int32_t *len = st_model_head_lengths(model, mh, &T);
    const float *o = st_model_head_output(model, mh);
    fetch(ev, l, r0, B, 1);
    st_loss_value_t v;
    ST_TRY(st_loss_eval_ctc(&v, NULL, l, o, len, T, ev->tgt, 1.0f, B, err));
    hr[0] += v.sum, hr[1] += v.weight;
    int32_t *tok = malloc((size_t)B * (size_t)T * sizeof *tok), *n_tok = malloc((size_t)B * sizeof *n_tok);
    int32_t *ilen = malloc((size_t)B * sizeof *ilen);
    st_status_t rc = tok && n_tok && ilen ? ST_OK : st_fail(err, ST_ERR_NOMEM, "evaluation: out of memory decoding");
    for (int i = 0; rc == ST_OK && i < B; i++) ilen[i] = len ? len[i] : T;
    if (rc == ST_OK && l->beam_width > 1) rc = st_ctc_beam_decode(tok, n_tok, NULL, o, ilen, B, T, V, 0, l->beam_width, err);
    else if (rc == ST_OK) st_ctc_greedy_decode(tok, n_tok, o, ilen, B, T, V, 0);
    int W = st_loss_target_width(l);
    for (int i = 0; rc == ST_OK && i < B; i++)
        if (seq_row(ev, h, ev->part->ids[r0 + i], ev->tgt + (size_t)i * W, tok + (size_t)i * T, n_tok[i], W - 1) != 0)
            rc = st_fail(err, ST_ERR_NOMEM, "evaluation: out of memory scoring sequences");
    free(tok), free(n_tok), free(ilen);
    return rc;
}

/* One forward pass over rows [r0, r0 + B) of the part; every head's sums into rec (this block's
 * record) and ev->cnt. */
static st_status_t eval_pass(ev_t *ev, st_model_t *model, int64_t r0, int B, double *rec, st_error_t *err) {
    st_run_ctx_t ctx = {.training = 0, .sample_index = ev->part->ids + r0};
    const float *x = ev->part->X + (size_t)r0 * (size_t)ev->d->row_floats;
    if (ev->x) { /* variable lengths: the pass runs at its own longest length */
        for (int i = 0; i < B; i++) ev->pos[i] = r0 + i;
        st_data_gather_rows(ev->x, ev->len, &ctx.positions, ev->d, ev->part, ev->pos, B);
        x = ev->x, ctx.lengths = ev->len;
    }
    ST_TRY(st_model_forward_checked(model, &ctx, x, B, err));
    for (int h = 0; h < ev->out->n_heads; h++) {
        const st_loss_config_t *l = &ev->losses->heads[h];
        int mh = l->head[0] ? st_model_head_find(model, l->head) : 0;
        if (mh < 0) return st_fail(err, ST_ERR_CONFIG, "loss: the model has no head named \"%s\"", l->head);
        if (ev->out->heads[h].kind == ST_HEAD_SEQUENCE) {
            ST_TRY(seq_pass(ev, model, h, mh, r0, B, rec + ev->rec_off[h], err));
            continue;
        }
        const float *o = st_model_head_output(model, mh);
        fetch(ev, l, r0, B, 1);
        st_loss_value_t v;
        ST_TRY(st_loss_eval(&v, NULL, l, o, ev->lab, ev->tgt, 1.0f, B, err));
        double *hr = rec + ev->rec_off[h];
        hr[0] += v.sum, hr[1] += v.weight;
        st_head_kind_t kind = ev->out->heads[h].kind;
        if (kind == ST_HEAD_CLASS) class_counts(ev, h, o, B);
        else if (kind == ST_HEAD_MULTILABEL) multilabel_counts(ev, h, o, B);
        else regression_sums(ev, h, l, o, r0, B, hr);
    }
    return ST_OK;
}

/* Every pass over this rank's rows of part p, in id order: each pass's rows as a view (in memory)
 * or read now (a streamed split: st_data_eval_rows), evaluated as rows [0, B) of that view. */
static st_status_t eval_local(ev_t *ev, st_model_t *model, int p, int chunk, st_error_t *err) {
    const st_data_part_t *part = ev->part;
    st_data_part_t view;
    for (int64_t i = 0; i < part->n; i += chunk) {
        st_watchdog_beat("evaluation", -1);
        int B = (int)(part->n - i < chunk ? part->n - i : chunk);
        int64_t block = ev->first_block + i / ST_DATA_EVAL_ROWS;
        ST_TRY(st_data_eval_rows(&view, ev->d, p, i, B, err));
        ev->part = &view;
        st_status_t rc = eval_pass(ev, model, 0, B, ev->rec + (size_t)block * (size_t)ev->rec_len, err);
        ev->part = part;
        ST_TRY(rc);
    }
    return ST_OK;
}

/* The gathered counts and block sums into the heads. */
static st_status_t finish(ev_t *ev, st_error_t *err) {
    st_eval_t *out = ev->out;
    int ok = 1;
    for (int h = 0; h < out->n_heads; h++) {
        st_head_eval_t *he = &out->heads[h];
        const int64_t *c = ev->cnt + ev->cnt_off[h];
        int K = he->K;
        he->n = c[0];
        for (int64_t b = 0; b < ev->n_blocks; b++) {
            const double *r = ev->rec + (size_t)b * (size_t)ev->rec_len + ev->rec_off[h];
            he->loss_sum += r[0], he->weight += r[1];
            for (int k = 0; he->kind == ST_HEAD_REGRESSION && k < K; k++)
                he->abs_err[k] += r[2 + k], he->sq_err[k] += r[2 + K + k], he->dev[k] += r[2 + 2 * K + k],
                    he->dev_sq[k] += r[2 + 3 * K + k];
        }
        if (he->kind == ST_HEAD_SEQUENCE) {
            const int64_t *q = c + 1;
            he->words = (st_seqscore_t){q[SEQ_W_EDITS], q[SEQ_W_HITS], q[SEQ_W_REF], c[0], q[SEQ_EXACT]};
            he->chars = (st_seqscore_t){q[SEQ_C_EDITS], 0, q[SEQ_C_REF], c[0], q[SEQ_EXACT]};
            continue;
        }
        size_t n_copy = he->kind == ST_HEAD_CLASS ? (size_t)K * K : he->kind == ST_HEAD_MULTILABEL ? 3 * (size_t)K : (size_t)K;
        int64_t *copy = zalloc(n_copy, sizeof(int64_t), &ok);
        if (!ok) break;
        memcpy(copy, c + 1, n_copy * sizeof(int64_t));
        if (he->kind == ST_HEAD_CLASS) he->confusion = copy;
        else if (he->kind == ST_HEAD_REGRESSION) he->count = copy;
        else he->tp = copy, he->fp = copy + K, he->fn = copy + 2 * K, he->exact = c[1 + 3 * K], he->topk = c[2 + 3 * K];
    }
    if (!ok) return st_fail(err, ST_ERR_NOMEM, "evaluation: out of memory");
    const st_head_eval_t *h0 = &out->heads[0];
    out->loss_sum = h0->loss_sum, out->weight = h0->weight, out->K = h0->K, out->n = h0->n;
    out->confusion = h0->confusion;
    return ST_OK;
}

st_status_t st_evaluate(st_eval_t *out, st_model_t *model, const st_loss_heads_t *losses, const st_data_t *d,
                        int part, int chunk, const st_comm_t *c, st_error_t *err) {
    return st_evaluate_rows(out, model, losses, d, part, chunk, c, NULL, NULL, err);
}

st_status_t st_evaluate_rows(st_eval_t *out, st_model_t *model, const st_loss_heads_t *losses, const st_data_t *d,
                             int part, int chunk, const st_comm_t *c, st_eval_seq_fn sink, void *sink_ctx,
                             st_error_t *err) {
    memset(out, 0, sizeof *out);
    ev_t ev = {.out = out, .losses = losses, .d = d, .part = &d->part[part], .sink = sink, .sink_ctx = sink_ctx};
    int64_t lo, hi;
    st_loader_block_chunks(&lo, &hi, d->n_part[part], ST_DATA_EVAL_ROWS, c->rank, c->size);
    ev.n_blocks = (d->n_part[part] + ST_DATA_EVAL_ROWS - 1) / ST_DATA_EVAL_ROWS;
    ev.first_block = lo / ST_DATA_EVAL_ROWS;
    if (chunk > ST_DATA_EVAL_ROWS || ST_DATA_EVAL_ROWS % chunk != 0) chunk = ST_DATA_EVAL_ROWS;
    st_status_t rc = setup(&ev, chunk, err);
    if (rc == ST_OK && d->has_lengths && (ev.part->len || d->stream_eval)) {
        ev.x = malloc((size_t)chunk * (size_t)d->row_floats * sizeof(float));
        ev.len = malloc((size_t)chunk * sizeof(int32_t)), ev.pos = malloc((size_t)chunk * sizeof(int64_t));
        if (!ev.x || !ev.len || !ev.pos) rc = st_fail(err, ST_ERR_NOMEM, "evaluation: out of memory for a pass's rows");
    }
    if (rc == ST_OK) rc = eval_local(&ev, model, part, chunk, err);
    st_status_t mine = rc;
    if (ev.cnt) {
        ev.cnt[ev.cnt_len] = mine != ST_OK;
        st_status_t r2 = st_allreduce_sum_i64(ev.cnt, ev.cnt_len + 1, c, err);
        if (rc == ST_OK && r2 != ST_OK) rc = r2;
        if (rc == ST_OK && ev.cnt[ev.cnt_len] > 0)
            rc = st_fail(err, ST_ERR_MPI, "evaluation failed on %lld other rank(s) (see their message)",
                         (long long)ev.cnt[ev.cnt_len]);
    }
    if (rc == ST_OK && ev.n_blocks > 0) rc = st_allgather_shards(ev.rec, (int)ev.n_blocks, ev.rec_len, c, err);
    if (rc == ST_OK) rc = finish(&ev, err);
    free(ev.cnt), free(ev.rec), free(ev.lab), free(ev.tgt), free(ev.x), free(ev.len), free(ev.pos);
    if (rc != ST_OK) st_eval_free(out);
    return rc;
}

void st_eval_free(st_eval_t *ev) {
    for (int h = 0; h < ST_LOSS_MAX_HEADS; h++) {
        st_head_eval_t *he = &ev->heads[h];
        free(he->confusion), free(he->tp), free(he->count);
        free(he->abs_err), free(he->sq_err), free(he->dev), free(he->dev_sq), free(he->ref);
        memset(he, 0, sizeof *he);
    }
    ev->confusion = NULL;
}

void st_head_column_metrics(const st_head_eval_t *h, int k, double *mae, double *rmse, double *r2) {
    double n = (double)h->count[k];
    *mae = n > 0 ? h->abs_err[k] / n : NAN;
    *rmse = n > 0 ? sqrt(h->sq_err[k] / n) : NAN;
    /* SST = Σ(t − t̄)² = Σ(t − m0)² − (Σ(t − m0))² / n: around a reference near the mean, no cancellation */
    double sst = n > 0 ? h->dev_sq[k] - h->dev[k] * h->dev[k] / n : 0;
    *r2 = n > 1 && sst > 0 ? 1.0 - h->sq_err[k] / sst : NAN;
}

void st_head_metrics(st_head_metrics_t *m, const st_head_eval_t *h) {
    m->loss = h->weight > 0 ? h->loss_sum / h->weight : NAN;
    m->accuracy = m->macro_f1 = m->micro_f1 = m->label_macro_f1 = m->exact_match = m->topk_rate = NAN;
    m->mae = m->rmse = m->r2 = NAN;
    m->wer = m->cer = m->token_accuracy = NAN;
    int K = h->K;
    if (h->kind == ST_HEAD_SEQUENCE && h->n > 0) {
        m->wer = st_seqscore_error_rate(&h->words), m->cer = st_seqscore_error_rate(&h->chars);
        m->token_accuracy = st_seqscore_token_accuracy(&h->words), m->exact_match = st_seqscore_exact_match(&h->words);
        return;
    }
    if (h->kind == ST_HEAD_CLASS && h->n > 0) {
        m->accuracy = st_confusion_accuracy(h->confusion, K);
        m->macro_f1 = st_class_scores(NULL, NULL, NULL, NULL, h->confusion, K);
    } else if (h->kind == ST_HEAD_MULTILABEL && h->n > 0) {
        int64_t tp = 0, fp = 0, fn = 0;
        double f1_sum = 0;
        for (int k = 0; k < K; k++) {
            tp += h->tp[k], fp += h->fp[k], fn += h->fn[k];
            int64_t d = 2 * h->tp[k] + h->fp[k] + h->fn[k];
            f1_sum += d > 0 ? 2.0 * (double)h->tp[k] / (double)d : 0.0; /* zero_division = 0 */
        }
        m->micro_f1 = 2 * tp + fp + fn > 0 ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
        m->label_macro_f1 = f1_sum / K;
        m->exact_match = (double)h->exact / (double)h->n;
        m->topk_rate = (double)h->topk / (double)h->n;
    } else if (h->kind == ST_HEAD_REGRESSION) {
        double s_mae = 0, s_rmse = 0, s_r2 = 0;
        for (int k = 0; k < K; k++) {
            double a, b, c;
            st_head_column_metrics(h, k, &a, &b, &c);
            s_mae += a, s_rmse += b, s_r2 += c;
        }
        m->mae = s_mae / K, m->rmse = s_rmse / K, m->r2 = s_r2 / K;
    }
}
