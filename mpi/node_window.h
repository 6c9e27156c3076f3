/* node_window.h — memory every rank of one node can read: an MPI shared-memory window with one
 * segment per rank, and a barrier over it that makes no MPI call.
 *
 * When all ranks of a communicator run on one node (st_comm_t.local_size == size), each rank's
 * segment is mapped into every rank's address space (MPI_Win_allocate_shared): rank r writes its
 * own segment and, after a barrier, reads the others' with plain loads — no message, no copy
 * through the kernel. jobs/engine.c keeps its gradient, parameter and optimizer-state arenas in
 * one, so the ranks sum the gradient and update the parameters each for its own part of the
 * arena (docs/performance.md, "the node-local update").
 *
 * The barrier is a generation counter in rank 0's segment (C11 atomics, lock-free on every
 * platform MPI's shared windows run on): it spins a short while, then yields the core (a rank
 * waiting for an oversubscribed peer must not take its core). Its sequentially consistent
 * atomics order every rank's writes before the barrier against every rank's reads after it. A
 * rank that dies leaves the others spinning in st_node_barrier until the watchdog (core/watchdog.h)
 * ends them, as it ends a rank waiting in a collective. */
#ifndef ST_NODE_WINDOW_H
#define ST_NODE_WINDOW_H

#include <stddef.h>

#include "mpi/comm.h"

#define ST_NODE_MAX_RANKS 256

typedef struct {
    MPI_Win win;
    int rank, size;               /* in the communicator it was opened on */
    void *segment[ST_NODE_MAX_RANKS]; /* every rank's segment (bytes each, 64-byte aligned) */
    void *sync;                   /* the barrier's counters (rank 0's header) */
    unsigned long generation;     /* this rank's view of the barrier generation */
} st_node_window_t;

/* 1 when st_node_window_open can work on `c`: more than one rank, all on one node, at most
 * ST_NODE_MAX_RANKS. The same answer on every rank (no communication). */
int st_node_window_possible(const st_comm_t *c);

/* Opens a window with `bytes` a rank (the same on every rank), when st_node_window_possible and
 * the shared-memory file system (/dev/shm, or OMPI_MCA_osc_sm_backing_directory) has room for
 * every rank's segment on every rank; otherwise leaves it closed (st_node_window_is_open 0) and
 * returns ST_OK. Collective. */
st_status_t st_node_window_open(st_node_window_t *w, const st_comm_t *c, size_t bytes, st_error_t *err);

static inline int st_node_window_is_open(const st_node_window_t *w) { return w->win != MPI_WIN_NULL; }

/* Rank r's segment. */
static inline void *st_node_segment(const st_node_window_t *w, int r) { return w->segment[r]; }

/* Returns when every rank has called it (as often); orders memory as said above. */
void st_node_barrier(st_node_window_t *w);

/* Frees the window (collective); a window never opened (or closed) is left alone. */
void st_node_window_close(st_node_window_t *w);

#endif
