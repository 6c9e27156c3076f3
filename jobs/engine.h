/* engine.h — one distributed optimizer step over the global batch.
 *
 * A step: every rank runs its shards' micro-batches (accumulation × owned shards) through
 * st_train_pass (core/train_step.h: forward, loss, backward), adding gradients into the arena;
 * in fast mode several micro-batches of one accumulation step go through one pass (as many as
 * the model's reserved batch holds, `per_pass`): the GEMMs see their rows at once, and
 * BatchNorm still normalises each micro-batch with its own statistics (ghost batches), so the
 * arithmetic is that of separate micro-batches up to the order of float sums in the GEMMs. The
 * loss of every micro-batch is scaled by 1 / (the weight total of the whole global batch),
 * known from the labels before any forward pass. Then st_train_update (L2, clipping, the
 * optimizer), identical on every rank.
 *
 * On one node, fast mode takes the node-local update (jobs/engine_node.h): the gradient sum, the
 * close's records and the update go through a shared-memory window, each rank summing and
 * updating its own part of the arena, and a step makes no MPI call (three barriers in shared
 * memory). Across nodes, in exact mode, or with STRATA_NODE_UPDATE=0:
 * two collectives a step in fast mode (three in exact mode), all through mpi/collectives.h:
 *   1. the gradient: one float MPI_Allreduce of the arena (fast), or, in exact mode, an
 *               all-reduce of the largest magnitude and one of the 64-bit fixed-point sums;
 *   2. close:   one Allgatherv of a record per shard: a status word and the step flags (in the
 *               rank's first shard: a failure found before the step or in a pass — an embedding
 *               id out of range — fails the step on every rank without a hang; ST_FLAG_STOP and
 *               ST_FLAG_NONFINITE OR-ed over ranks), its row count, every loss's sum, weight,
 *               argmax hits and labelled rows, and the batch statistics of every ghost batch of
 *               its micro-batches (for layers that keep running statistics:
 *               st_layer_kind_t.stats_*), combined in (shard, accumulation) order identically on
 *               every rank.
 * There is no opening exchange: the loss scale needs the weight total of the whole global batch
 * before any backward, and every rank knows it already (jobs/engine_totals.h). The sampler is a
 * pure function, so each rank computes its OWN shards' weight totals for every step of an epoch
 * ahead, from its rows' keys (sharding/weight_keys.h: per row each head's class id or missing
 * flag, a value head's present-value mask, and with /lengths the length for cutmix spans; 2
 * bytes a value, only for the rank's own rows; a streamed run keys them in its start-up scan)
 * and mixup/cutmix plans drawn as the step draws them. Every shard's totals reach every rank
 * inside traffic that exists anyway: the next epoch's ride on the closing Allgatherv of an
 * epoch's last step (each shard's record grows by steps_per_epoch · n_heads doubles), and the
 * first epoch of a launch (start or resume, mid-epoch too) comes with st_engine_start, one
 * Allgatherv outside any step. Where keys cannot work the step keeps an opening Allgatherv of
 * the per-shard weight totals (3 collectives fast, 4 exact): mixing with a value head of more
 * than 16 values (its mixed weight needs each value's presence in both rows; a key's mask holds
 * 16), a key that does not fit 16 bits (32,768
 * classes or values, or lengths), or a streamed head reading a target the scan keys otherwise.
 * A rank that failed before the step (status) runs no pass but joins the gradient exchange
 * (zeros in fast mode; an infinite largest magnitude in exact mode, so no rank makes the
 * fixed-point sum) and the close, where every rank learns the failure. A non-finite gradient on
 * any rank shows in the summed arena on every rank, and ST_FLAG_NONFINITE arrives with the close,
 * before the update: the skip decision needs no extra message.
 *
 * Reproducible mode "exact" (st_engine_set_exact): every shard's gradient is computed on its own
 * (its accumulation micro-batches in order), rounded to 64-bit fixed point with an exponent
 * shared by all ranks (from the all-reduce of the largest magnitude), and the integers are
 * summed over shards and ranks — integer addition does not depend on the grouping, so the summed
 * gradient has the same bits for any number of ranks. Scalars (loss sums, weight totals,
 * counts) are always combined per shard in shard order, in both modes.
 *
 * Occurrences and augmentation (docs/augmentation.md): the sampler hands out occurrence ids
 * (id·k + r with data.repeat k; the row ids when k = 1); the engine reads row o / k and keys
 * dropout (sample_index) and augmentation by o. With an augmentation list (st_engine_set_augment)
 * every training micro-batch, once gathered (standardised), goes through st_augment_apply with
 * the epoch, before the forward; evaluation is not touched. */
#ifndef ST_ENGINE_H
#define ST_ENGINE_H

#include "mpi/collectives.h"
#include "mpi/comm.h"
#include "mpi/node_window.h"
#include "sharding/augment.h"
#include "sharding/data.h"
#include "sharding/sampler.h"
#include "sharding/weight_keys.h"
#include "train_step.h"

#define ST_STEP_RING 1024 /* steps whose phase times st_engine_phase_ms takes the median of */

/* Where a rank's step time goes (st_engine_t.phase_s; st_engine_phases_json). */
typedef enum {
    ST_STEP_FETCH,     /* sampler, ids, targets, weight totals (and the opening exchange when kept) */
    ST_STEP_PASSES,    /* gradient zeroing, forward, loss and backward of every micro-batch */
    ST_STEP_FIXED,     /* exact mode: largest magnitudes, the fixed-point sums and back to float */
    ST_STEP_EXCHANGE,  /* the gradient collectives, with the wait for the slower rank (node-local
                        * update: the sum of the ranks' gradients over this rank's part) */
    ST_STEP_CLOSE,     /* the closing exchange and combining its records (node-local update: the
                        * first barrier, with the wait for the slower rank) */
    ST_STEP_UPDATE,    /* L2, gradient norm / clipping, the optimizer (node-local update: this
                        * rank's part, copied on to the others, and two barriers) */
    ST_STEP_PHASES
} st_step_phase_t;

typedef struct {
    st_step_parts_t parts;         /* model, losses (head 0's sums are reported), optimizer, clipping */
    const st_data_t *data;
    const st_comm_t *comm;
    st_sampler_t sampler;
    uint64_t seed;
    int micro, accum, n_owned;
    int per_pass;                  /* fast mode: micro-batches per forward/backward pass */
    int n_stat_layers;             /* layers with batch statistics (kind->stats_floats) */
    st_layer_t **stat_layers;
    int stats_floats;              /* Σ over them: one micro-batch's statistics */
    int open_len, close_len;       /* values per shard in the opening (when kept) and closing records */
    double *open;                  /* [S, open_len]: weight per head */
    double *close;                 /* [S, rec_len]: status, flags, count, per head (sum, weight, correct,
                                    * labelled), [accum, stats_floats] (, the next epoch's totals) */
    int local_totals;              /* 1: weight totals computed here (no opening exchange) */
    int keys_filled;               /* the keys were set (the first totals exchange does it) */
    st_weight_keys_t keys;         /* local_totals: the weight keys of the rows of this rank's shards */
    size_t tail_len;               /* steps_per_epoch · n_heads: one shard's totals of an epoch */
    int rec_len;                   /* this step's closing record per shard: close_len (+ tail_len on an
                                    * epoch's last step with local totals: the next epoch's totals) */
    double *wtot;                  /* local_totals: [S, steps_per_epoch, n_heads] this epoch's totals */
    int64_t wtot_epoch, wtot_base; /* the epoch wtot holds (-1: none) and the global step of its step 0 */
    int64_t epochs;                /* the run's epochs (st_engine_start; INT64_MAX: not told) */
    int64_t *tot_ids;              /* [micro] scratch of the totals: a micro-batch's occurrence ids */
    int32_t *tot_lab;              /* [n_heads, micro] scratch: their keys */
    st_mix_row_t *tot_plan;        /* [micro] scratch: their mixing plan */
    int32_t *tot_len;              /* [micro] scratch: their lengths (with /lengths) */
    double *stats;                 /* [S·accum, stats_floats]: the gathered statistics in pooling order */
    st_micro_sums_t *micro_sums;   /* [per_pass] */
    float *x_mb;                   /* [per_pass · micro, row_floats] (a pass at T_run: [rows, T_run, C]) */
    int32_t *len_mb;               /* [per_pass · micro] the pass's sequence lengths, or NULL (no /lengths) */
    int32_t *lab[ST_LOSS_MAX_HEADS];  /* class-id losses: [accum, n_owned, micro] labels of the step */
    float *tgt[ST_LOSS_MAX_HEADS];    /* other losses: [accum, n_owned, micro, K] targets of the step */
    int64_t *ids;                  /* [accum, n_owned, micro] occurrence ids of the step (= global ids at repeat 1) */
    int64_t *row_ids;              /* [micro] scratch: a micro-batch's global row ids (occurrence / repeat) */
    st_augment_t aug;              /* bound augmentation list (n_ops 0: none) */
    int64_t epoch;                 /* the current step's epoch (keys augmentation) */
    int64_t *pos;                  /* [accum, n_owned, micro] their rows in this rank's training part */
    const st_mix_config_t *mix;    /* mixup / cutmix, or NULL (st_engine_set_mix) */
    st_mix_row_t *plan;            /* mix: [accum, n_owned, micro] each row's partner (within its micro-batch) and λ */
    uint64_t *plan_order;          /* mix: [micro] scratch of st_mix_plan */
    int32_t *plan_len;             /* mix: [micro] the micro-batch's lengths (cutmix spans), with /lengths */
    int exact;                     /* reproducible "exact" */
    st_status_t pass_status;       /* this step's first pass failure here (agreed at the close) */
    float *shard_grads;            /* exact: [n_owned, n_params] */
    int64_t *fixed;                /* exact: [n_params] fixed-point sum */
    int node_update;               /* fast mode, every rank on one node: the node-local update
                                    * (jobs/engine_node.h); 0: the gradient all-reduce */
    st_node_window_t node;         /* node_update: every rank's params, grads and optimizer state */
    size_t node_lo, node_hi;       /* node_update: the arena range this rank sums and updates */
    int node_fused_sq;             /* node_update: no L2 term in the range, so the sum gives Σ g² */
    float *own_params, *own_grads, *own_state[ST_OPTIM_MAX_STATE]; /* node_update: the arenas the window stands in for */
    double phase_s[ST_STEP_PHASES];/* this rank's seconds in each phase, summed over timed_steps */
    int64_t timed_steps;
    float phase_ring[ST_STEP_RING][ST_STEP_PHASES]; /* the last ST_STEP_RING steps' seconds per phase */
    double close_end_s;            /* clock at the end of the previous step's close (0: none this launch) */
    float work_ring[ST_STEP_RING]; /* seconds from there to this step's gradient exchange (the update, the
                                    * trainer's own work, fetch, passes); 0: not timed */
} st_engine_t;

typedef struct {
    double loss_sum, weight;       /* Σ w·ℓ and Σ w over the global batch (all ranks), loss 0 */
    int64_t correct, count;        /* loss 0's argmax hits among its labelled rows; rows of the batch */
    st_loss_value_t head[ST_LOSS_MAX_HEADS]; /* every loss's sum and weight over the global batch */
    int64_t head_correct[ST_LOSS_MAX_HEADS], head_labelled[ST_LOSS_MAX_HEADS]; /* class-id losses */
    double grad_norm;              /* global norm before clipping (same on every rank) */
    int skipped;                   /* 1: non-finite gradient somewhere: no update this step */
    int stop;                      /* 1: some rank asked to stop (ST_FLAG_STOP): all ranks see it */
} st_step_stats_t;

/* accumulation: micro-batches per shard per optimizer step (data->micro_batch each). The model
 * must be reserved (st_model_reserve) for at least one micro-batch; a larger reservation lets
 * fast mode run several micro-batches per pass. Each loss reads its target (target_index, see
 * jobs/heads.h); a class-id loss without one reads the stratification labels (part.y). */
st_status_t st_engine_init(st_engine_t *e, const st_step_parts_t *parts, const st_data_t *data, const st_comm_t *c,
                           int accumulation, uint64_t seed, st_error_t *err);
void st_engine_free(st_engine_t *e);

/* Turns mixup / cutmix on (docs/mixup.md): each shard's micro-batch is mixed within itself, keyed
 * by (seed, ST_RNG_MIXUP, shard, global step, occurrence id), so the step does not depend on P.
 * `mix` must outlive the engine. */
st_status_t st_engine_set_mix(st_engine_t *e, const st_mix_config_t *mix, st_error_t *err);

/* Switches to reproducible mode "exact" (allocates the per-shard gradient buffers). */
st_status_t st_engine_set_exact(st_engine_t *e, st_error_t *err);

/* Before the first step of a launch (from scratch or resumed, mid-epoch too), at the step it
 * will take (epoch, step, global_step): every rank gets every shard's weight totals of that
 * epoch (one Allgatherv, and one agreement of the ranks' status; nothing without local totals),
 * so that no step makes an extra collective. epochs: the run's epoch count (the last epoch's
 * last step makes no totals for the epoch after it). A step whose epoch's totals are missing (no
 * st_engine_start, or steps out of order) makes this exchange itself. Collective. */
st_status_t st_engine_start(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, int64_t epochs,
                            st_error_t *err);

/* Optimizer step `step` (0..steps_per_epoch-1) of `epoch` (the sampler is moved to it);
 * global_step keys dropout. lr_base: this step's base rate. flags: this rank's
 * ST_FLAG_NONFINITE (fault injection: skip the update) and ST_FLAG_STOP (a stop request),
 * OR-ed over ranks in the closing exchange. status: this rank's status before the step (a
 * failure its caller found); when any rank's is not ST_OK that rank computes nothing, the others'
 * work is not applied, and each returns what st_comm_agree would. Collective. */
st_status_t st_engine_step(st_engine_t *e, int64_t epoch, int64_t step, int64_t global_step, double lr_base,
                           int flags, st_status_t status, st_step_stats_t *out, st_error_t *err);

int64_t st_engine_steps_per_epoch(const st_engine_t *e);

/* ms [ST_STEP_PHASES] ← this rank's milliseconds a step in each phase: the median over the last
 * ST_STEP_RING steps (robust to a busy spell on a shared core), or with mean = 1 the mean over
 * every step of the launch. 0 before any step. */
void st_engine_phase_ms(double *ms /*[ST_STEP_PHASES]*/, const st_engine_t *e, int mean);

/* The wait at the gradient exchange, from when the ranks arrive there: per step, the latest
 * rank's work since the previous close minus the ranks' mean (wait_ms, what a rank waits on
 * average) and minus the earliest (spread_ms); the medians over the last ST_STEP_RING steps, on
 * rank 0 (0 with one rank or no steps). Collective. */
st_status_t st_engine_arrival_wait(double *wait_ms, double *spread_ms, const st_engine_t *e, st_error_t *err);

/* The phase names of st_step_phase_t ("fetch", "passes", "fixed", "exchange", "close", "update"). */
extern const char *const st_step_phase_names[ST_STEP_PHASES];

/* Augments every training micro-batch with the parsed list `parsed` (config "augment"), bound to
 * the engine's data: its row shape, lengths and standardisation. The columns feeding embeddings
 * are never augmented: data.categorical_columns and the [from, to) of a slice of the model's
 * input followed by a layer that reads ids (kind->check_input). Errors name augment[i].key.
 * No-op for an empty list. */
st_status_t st_engine_set_augment(st_engine_t *e, const st_augment_t *parsed, st_error_t *err);

#endif
