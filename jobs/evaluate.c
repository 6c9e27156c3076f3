/* evaluate.c — a model's loss and confusion counts over the rows the ranks hold (see evaluate.h). */
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "mpi/collectives.h"
#include "watchdog.h"

/* Row losses are summed in 2^-28 fixed point: integer sums, so the total has the same bits
 * whichever rank evaluated which rows. */
#define EVAL_FIXED_BITS 28

static st_status_t eval_rows(int64_t q[2], int64_t *confusion, st_model_t *model, const st_loss_config_t *loss,
                             const float *X, const int32_t *y, int B, int K, st_error_t *err) {
    st_run_ctx_t ctx = {.training = 0};
    st_model_forward(model, &ctx, X, B);
    const float *logits = st_model_head_output(model, 0);
    for (int i = 0; i < B; i++) {
        st_loss_value_t v;
        ST_TRY(st_loss_eval(&v, NULL, loss, logits + (size_t)i * K, y + i, NULL, 1.0f, 1, err));
        q[0] += llrint(ldexp(v.sum, EVAL_FIXED_BITS)), q[1] += llrint(ldexp(v.weight, EVAL_FIXED_BITS));
    }
    st_confusion_add(confusion, logits, y, B, K);
    return ST_OK;
}

st_status_t st_evaluate(st_eval_t *out, st_model_t *model, const st_loss_config_t *loss, const st_data_part_t *part,
                        long row_floats, int chunk, const st_comm_t *c, st_error_t *err) {
    memset(out, 0, sizeof *out);
    int K = st_shape_channels(st_model_head(model, 0)->shape);
    out->K = K;
    /* confusion [K, K] and, after it, the fixed-point loss and weight sums: one all-reduce */
    out->confusion = calloc((size_t)K * K + 2, sizeof(int64_t));
    st_status_t rc = out->confusion ? ST_OK : st_fail(err, ST_ERR_NOMEM, "evaluation: cannot allocate a %d x %d confusion matrix", K, K);
    int64_t *q = out->confusion ? out->confusion + (size_t)K * K : NULL;
    for (int64_t i = 0; rc == ST_OK && i < part->n; i += chunk) {
        st_watchdog_beat("evaluation", -1);
        int B = (int)(part->n - i < chunk ? part->n - i : chunk);
        rc = eval_rows(q, out->confusion, model, loss, part->X + (size_t)i * row_floats, part->y + i, B, K, err);
    }
    rc = st_comm_agree(c, rc, err);
    if (rc != ST_OK) return rc;
    ST_TRY(st_allreduce_sum_i64(out->confusion, K * K + 2, c, err));
    out->loss_sum = ldexp((double)q[0], -EVAL_FIXED_BITS), out->weight = ldexp((double)q[1], -EVAL_FIXED_BITS);
    for (int k = 0; k < K * K; k++) out->n += out->confusion[k];
    return ST_OK;
}

void st_eval_free(st_eval_t *ev) {
    free(ev->confusion);
    ev->confusion = NULL;
}
