/* engine_node.h — the node-local update: the step's gradient sum and optimizer update when every
 * rank runs on one node (fast mode). Internal to the engine (jobs/engine.h).
 *
 * The ranks' gradient and optimizer-state arenas live in their segments of a shared window
 * (mpi/node_window.h), so a rank can read the others' with plain loads, and the parameters are
 * one array every rank of the node uses (in rank 0's segment). Rank r of P owns
 * the range [lo_r, hi_r) of the arena (P near-equal parts, cut at multiples of 16 floats). After
 * the passes, the step's close (an MPI_Allgatherv every rank enters after its backward) is the
 * point from which every rank's gradient is complete. Then each rank
 *   1. sums the P gradients over its own range, in rank order, into its own arena (the sum of two
 *      ranks has the bits of the all-reduce's), adds the L2 terms there and posts the range's Σ g²;
 *   2. waits at a barrier without MPI (st_node_barrier), adds the P partial sums in rank order
 *      (the same norm on every rank), clips its range and skips or not as every rank does;
 *   3. updates its range of the shared parameters and of its optimizer state
 *      (st_optim_step_range);
 *   4. waits at a second barrier: every rank then sees the whole updated model.
 * What it replaces: the all-reduce, which on one node copies the whole arena through the kernel
 * (Open MPI's single-copy transport pins every page it reads), and an update every rank repeats
 * in full. The step makes one MPI collective (the close) and two barriers through shared memory.
 * Only a rank's own range of its optimizer state is current; st_engine_node_gather_state brings
 * the rest from the other ranks' segments before rank 0 writes a checkpoint, and
 * st_engine_node_free before the arenas go back to the model. STRATA_NODE_UPDATE=0 turns it off
 * (the all-reduce path). */
#ifndef ST_ENGINE_NODE_H
#define ST_ENGINE_NODE_H

#include "jobs/engine.h"

/* Turns the node-local update on when it can run (fast mode, more than one rank, all on one
 * node, not turned off by STRATA_NODE_UPDATE=0): opens the window and moves the model's
 * parameters and gradients and the optimizer's state into it. Collective. */
st_status_t st_engine_node_init(st_engine_t *e, st_error_t *err);

/* The close's gather without MPI: this rank's shards' records (e->close, e->rec_len a shard)
 * into its segment, a barrier, then every other rank's into e->close — what st_allgather_shards
 * gives. From the barrier on, every rank's gradient is complete. */
void st_engine_node_close(st_engine_t *e);

/* Step 1's sum, after the close. */
void st_engine_node_sum(st_engine_t *e);

/* The rest of step 1 and steps 2–4; skip: the close's ST_FLAG_NONFINITE. Every rank calls it. */
void st_engine_node_update(st_engine_t *e, double lr_base, int skip, st_update_result_t *res);

/* This rank's copy of the whole optimizer state made current from every rank's segment (between
 * steps). No communication. */
void st_engine_node_gather_state(st_engine_t *e);

/* Rank 0's parameters to every rank (after rank 0 wrote them: a resume, the best model): with
 * the node-local update they are already every rank's, and a barrier orders the write before
 * any read (*done = 1); otherwise *done = 0 and the caller broadcasts them. Collective. */
st_status_t st_engine_node_params_to_all(const st_engine_t *e, int *done, st_error_t *err);

/* Hands the arenas back to the model and optimizer with current contents, and closes the
 * window. Collective; nothing when the node-local update is off. */
void st_engine_node_free(st_engine_t *e);

#endif
