/* evaluate.h — the metrics of a model on the rows of a split that the ranks hold between them:
 * the loss sum and weight total, and the confusion counts, identical on every rank.
 *
 * Each rank runs its rows in eval mode, ST_DATA_EVAL_ROWS rows per forward pass (its block of a
 * part starts at a multiple of that, sharding/data.h, so every pass holds the same rows at any
 * rank count). Row losses are summed in 2^-28 fixed point and the confusion counts in int64, so
 * the totals have the same bits whichever rank evaluated which rows. One all-reduce of the sums
 * and one of the confusion matrix; the training job calls it for val and test, `strata eval` for
 * any dataset. */
#ifndef ST_EVALUATE_H
#define ST_EVALUATE_H

#include <stdint.h>

#include "loss.h"
#include "model.h"
#include "mpi/comm.h"
#include "sharding/data.h"

typedef struct {
    double loss_sum, weight;       /* Σ w·ℓ and Σ w over all rows (all ranks) */
    int64_t *confusion;            /* [K, K], row = true class; owned (st_eval_free) */
    int K;
    int64_t n;                     /* rows evaluated over all ranks */
} st_eval_t;

/* Evaluates this rank's rows of `part` (X [n, row_floats], y [n]) with head 0 of the model and
 * `loss`, `chunk` rows per forward pass (the model must be reserved for that many), and reduces
 * over ranks. Collective: on failure every rank returns an error. */
st_status_t st_evaluate(st_eval_t *out, st_model_t *model, const st_loss_config_t *loss, const st_data_part_t *part,
                        long row_floats, int chunk, const st_comm_t *c, st_error_t *err);
void st_eval_free(st_eval_t *ev);

#endif
