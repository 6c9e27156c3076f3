/* engine.h — one distributed optimizer step over the global batch, and evaluation of a split.
 *
 * A step: every rank runs its shards' micro-batches (accumulation × owned shards) through
 * forward, loss and backward, summing gradients in the arena. In fast mode several micro-batches
 * of one accumulation step go through the model together (as many as the model's reserved batch
 * holds, `per_pass`): the GEMMs see their rows at once, and BatchNorm still normalises each
 * micro-batch with its own statistics (ghost batches, st_run_ctx_t.ghost_batch), so the
 * arithmetic is that of separate micro-batches up to the order of float sums in the GEMMs.
 * The loss of every micro-batch is
 * scaled by 1 / (the weight total of the whole global batch), known from the labels before any
 * forward pass; one MPI_Allreduce of the gradient arena; BatchNorm running statistics are
 * updated once from the pooled statistics of all micro-batches of the step, combined in
 * (shard, micro-batch) order identically on every rank; then L2 penalties, global-norm
 * clipping and the optimizer step, identical on every rank. A non-finite gradient on any rank
 * shows in the summed arena on every rank, so the skip decision needs no extra message.
 *
 * Reproducible mode "exact" (st_engine_set_exact): every shard's gradient is computed on its own
 * (its accumulation micro-batches in order), rounded to 64-bit fixed point with an exponent
 * shared by all ranks (from an all-reduce of the largest magnitude), and the integers are summed
 * over shards and ranks — integer addition does not depend on the grouping, so the summed
 * gradient has the same bits for any number of ranks. Scalars (loss sums, weight totals,
 * counts) are always combined per shard in shard order, in both modes. */
#ifndef ST_ENGINE_H
#define ST_ENGINE_H

#include "loss.h"
#include "model.h"
#include "mpi/comm.h"
#include "optim.h"
#include "sharding/data.h"
#include "sharding/sampler.h"

typedef struct {
    st_model_t *model;
    const st_loss_config_t *loss;  /* the (single) head's loss */
    st_optim_t *optim;
    const st_data_t *data;
    const st_comm_t *comm;
    st_sampler_t sampler;
    double clip_norm;              /* 0 = no clipping */
    uint64_t seed;
    int micro, accum, n_owned;
    int per_pass;                  /* fast mode: micro-batches per forward/backward pass */
    int n_bn;                      /* BatchNorm layers */
    st_layer_t **bn;
    int bn_floats;                 /* Σ 2·C over BatchNorm layers: one micro-batch's statistics */
    double *bn_stats;              /* [S, accum, bn_floats] */
    float *x_mb;                   /* [per_pass · micro, row_floats] */
    int32_t *y_mb;                 /* [accum, n_owned, micro] labels of the step */
    int64_t *ids;                  /* [accum, n_owned, micro] global ids of the step */
    int64_t *pos;                  /* [accum, n_owned, micro] their rows in this rank's training part */
    double *shard_sums;            /* [S, 4]: loss sum, weight, correct, count per shard */
    int exact;                     /* reproducible "exact" */
    float *shard_grads;            /* exact: [n_owned, n_params] */
    int64_t *fixed;                /* exact: [n_params] fixed-point sum */
} st_engine_t;

typedef struct {
    double loss_sum, weight;       /* Σ w·ℓ and Σ w over the global batch (all ranks) */
    int64_t correct, count;        /* argmax hits and rows of the global batch */
    double grad_norm;              /* global norm before clipping (same on every rank) */
    int skipped;                   /* 1: non-finite gradient somewhere: no update this step */
    int stop;                      /* 1: some rank asked to stop (ST_FLAG_STOP): all ranks see it */
} st_step_stats_t;

/* accumulation: micro-batches per shard per optimizer step (data->micro_batch each). The model
 * must be reserved (st_model_reserve) for at least one micro-batch; a larger reservation lets
 * fast mode run several micro-batches per pass. */
st_status_t st_engine_init(st_engine_t *e, st_model_t *model, const st_loss_config_t *loss, st_optim_t *optim,
                           const st_data_t *data, const st_comm_t *c, int accumulation, double clip_norm,
                           uint64_t seed, st_error_t *err);
void st_engine_free(st_engine_t *e);

/* Switches to reproducible mode "exact" (allocates the per-shard gradient buffers). */
st_status_t st_engine_set_exact(st_engine_t *e, st_error_t *err);

/* Optimizer step `step` (0..steps_per_epoch-1) of `epoch` (the sampler is moved to it);
 * global_step keys dropout. lr_base: this step's base rate. flags: this rank's
 * ST_FLAG_NONFINITE (fault injection: poison its gradient) and ST_FLAG_STOP (a stop request),
 * OR-ed over ranks with the step's all-reduce. */
st_status_t st_engine_step(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, double lr_base,
                           int flags, st_step_stats_t *out, st_error_t *err);

int64_t st_engine_steps_per_epoch(const st_engine_t *e);

/* Evaluation of this rank's rows of a part (eval mode, chunks of up to `chunk` rows), reduced
 * over ranks: every rank gets the loss sums and the confusion counts [K, K]. */
typedef struct {
    double loss_sum, weight;
    int64_t *confusion;            /* [K, K], row = true class; owned, free() */
    int K;
    int64_t n;                     /* rows evaluated over all ranks */
} st_eval_t;

st_status_t st_evaluate(st_eval_t *out, st_model_t *model, const st_loss_config_t *loss, const st_data_part_t *part,
                        long row_floats, int chunk, const st_comm_t *c, st_error_t *err);
void st_eval_free(st_eval_t *ev);

#endif
