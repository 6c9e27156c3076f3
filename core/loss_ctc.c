/* loss_ctc.c — the ctc loss kind (loss.h): a batch's target rows [len, labels] unpacked for
 * core/ctc.c, checked, and its per-row losses and gradients reduced by the engine's rules (a row
 * value and a weight of 1 per row; "mean" divides each row by max(L_i, 1)). */
#include <math.h>
#include <stdlib.h>

#include "ctc.h"
#include "loss.h"

/* Work buffers of one call: the unpacked targets and the per-row losses. */
typedef struct {
    int32_t *labels;  /* [B, L] */
    int32_t *tlen;    /* [B] */
    int32_t *ilen;    /* [B] */
    double *loss;     /* [B] */
} ctc_work_t;

static void work_free(ctc_work_t *w) { free(w->labels), free(w->tlen), free(w->ilen), free(w->loss); }

static st_status_t work_alloc(ctc_work_t *w, int B, int L, st_error_t *err) {
    size_t b = (size_t)(B > 0 ? B : 1);
    w->labels = malloc(b * (size_t)(L > 0 ? L : 1) * sizeof *w->labels);
    w->tlen = malloc(b * sizeof *w->tlen), w->ilen = malloc(b * sizeof *w->ilen);
    w->loss = malloc(b * sizeof *w->loss);
    if (w->labels && w->tlen && w->ilen && w->loss) return ST_OK;
    work_free(w);
    return st_fail(err, ST_ERR_NOMEM, "loss ctc: out of memory for %d rows", B);
}

/* targets [B, 1 + L] → labels [B, L], tlen [B]; input lengths (all T when NULL). A length that is
 * not an integer in [0, L] is reported by st_ctc_check (as −1). */
static void unpack(ctc_work_t *w, const float *targets, const int32_t *input_len, int T, int L, int B) {
    for (int i = 0; i < B; i++) {
        const float *row = targets + (size_t)i * (size_t)(L + 1);
        w->tlen[i] = row[0] >= 0 && row[0] <= (float)L && row[0] == floorf(row[0]) ? (int32_t)row[0] : -1;
        for (int j = 0; j < L; j++) w->labels[(size_t)i * L + j] = (int32_t)row[1 + j];
        w->ilen[i] = input_len ? input_len[i] : T;
    }
}

st_status_t st_loss_eval_ctc(st_loss_value_t *value, float *dlogits, const st_loss_config_t *cfg, const float *logits,
                             const int32_t *input_len, int T, const float *targets, float grad_scale, int B,
                             st_error_t *err) {
    int V = cfg->n_classes, L = cfg->seq_max_len;
    if (!targets) return st_fail(err, ST_ERR_INTERNAL, "loss ctc: targets missing");
    ctc_work_t w = {0};
    ST_TRY(work_alloc(&w, B, L, err));
    unpack(&w, targets, input_len, T, L, B);
    st_status_t rc = st_ctc_check(w.ilen, w.labels, w.tlen, B, T, V, L, 0, err);
    if (rc == ST_OK)
        rc = st_ctc_loss_forward(w.loss, dlogits, logits, w.ilen, w.labels, w.tlen, B, T, V, L, 0, cfg->zero_infinity,
                                 err);
    value->sum = 0, value->weight = B;
    for (int i = 0; rc == ST_OK && i < B; i++) {
        double per = cfg->ctc_sum ? 1.0 : 1.0 / (w.tlen[i] > 1 ? w.tlen[i] : 1);
        value->sum += w.loss[i] * per;
        if (!dlogits) continue;
        float s = (float)(grad_scale * per), *g = dlogits + (size_t)i * (size_t)T * (size_t)V;
        for (size_t k = 0; k < (size_t)T * (size_t)V; k++) g[k] *= s;
    }
    work_free(&w);
    return rc;
}
