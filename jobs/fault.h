/* fault.h — fault injection for tests: STRATA_FAULT=rank:step:kind makes one rank fail in a
 * chosen way when it starts optimizer step `step` (global step count, 0-based):
 *   abort  the rank reports an error and the job ends through MPI_Abort
 *   kill   the rank sends itself SIGKILL (a crashed node); the launcher ends the rest
 *   hang   the rank sleeps forever (the others block in the next collective; see issue 6's
 *          watchdog for ending such a job)
 *   nan    the rank's gradient becomes NaN for that step (the non-finite guard must skip it)
 *   nan+   like nan, at every step from `step` on (exercises the consecutive-skip limit)
 *   perturb the rank adds 1e-3 to its first parameter (a corrupted replica, which the
 *          divergence check must catch)
 *   slow+  the rank sleeps ST_FAULT_SLOW_MS before every step from `step` on (a straggler: the
 *          others wait for it at the gradient exchange, run.json step_ms.arrival shows it)
 * Unset or empty: no fault. A malformed value is an error naming the variable. */
#ifndef ST_FAULT_H
#define ST_FAULT_H

#include <stdint.h>

#include "st_error.h"

typedef enum { ST_FAULT_NONE, ST_FAULT_ABORT, ST_FAULT_KILL, ST_FAULT_HANG, ST_FAULT_NAN, ST_FAULT_NAN_FROM, ST_FAULT_PERTURB,
               ST_FAULT_SLOW, ST_FAULT_SLOW_FROM } st_fault_kind_t;

#define ST_FAULT_SLOW_MS 20

typedef struct {
    st_fault_kind_t kind;
    int rank;
    int64_t step;
} st_fault_t;

/* Reads STRATA_FAULT. */
st_status_t st_fault_from_env(st_fault_t *f, st_error_t *err);

/* The fault that fires on `rank` at global step `step` (ST_FAULT_NONE mostly). */
st_fault_kind_t st_fault_at(const st_fault_t *f, int rank, int64_t step);

#endif
