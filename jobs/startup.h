/* startup.h — how long a launch of `strata train` takes to reach its first training step, phase
 * by phase (run.json "startup_s", results/README.md; the start-up benchmark, docs/performance.md).
 *
 * Every rank takes its own clock origin at main entry (st_startup_begin) and marks the end of
 * each phase as seconds since that origin (st_startup_mark). After the first step the ranks
 * combine their marks by taking, for each phase end, the latest rank (st_startup_reduce); the
 * phase durations are the differences of consecutive ends, so they never go negative and they
 * add up to the time to the first step of the slowest rank. */
#ifndef ST_STARTUP_H
#define ST_STARTUP_H

#include <cJSON.h>

#include "clock.h"
#include "mpi/comm.h"
#include "st_error.h"

typedef enum {
    ST_PHASE_MPI_INIT,   /* main entry → MPI_Init done (signal handlers and BLIS kernel choice included) */
    ST_PHASE_CONFIG,     /* → config read and checked, threads set */
    ST_PHASE_DATA,       /* → the data pipeline: labels, split, shards, feature reads, standardisation */
    ST_PHASE_MODEL,      /* → model, loss, optimizer, step engine, LR schedule, dataset fingerprint */
    ST_PHASE_RUN_FOLDER, /* → run folder, config.json, run.json (or the resumed checkpoint) shared */
    ST_PHASE_FIRST_STEP, /* → the first training step of this launch done */
    ST_PHASE_COUNT
} st_startup_phase_t;

typedef struct {
    double origin;                 /* CLOCK_MONOTONIC seconds at main entry */
    double end[ST_PHASE_COUNT];    /* seconds since origin at the end of each phase; 0 = not reached */
} st_startup_t;

/* The clock origin: call first thing in main. */
void st_startup_begin(st_startup_t *s, double origin);

/* Marks the end of `phase` now. s may be NULL (nothing recorded). */
void st_startup_mark(st_startup_t *s, st_startup_phase_t phase);

/* Collective: on rank 0, *out (not mine) gets the latest end of each phase over the ranks;
 * other ranks get a copy of their own. */
st_status_t st_startup_reduce(st_startup_t *out, const st_startup_t *mine, const st_comm_t *c, st_error_t *err);

/* {"mpi_init", "config", "data", "model", "run_folder", "first_step": durations in seconds,
 *  "total_to_first_step": main entry → first step, "own_to_first_step": MPI_Init done → first
 *  step}; NULL when out of memory. */
cJSON *st_startup_json(const st_startup_t *s);

#endif
