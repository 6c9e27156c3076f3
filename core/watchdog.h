/* watchdog.h — a thread that ends a process that has stopped making progress.
 *
 * Long-running work reports progress (st_watchdog_beat, with what it is doing). When a process
 * has reported none for `timeout` seconds — stuck in a collective waiting for a rank that died or
 * hangs, or in a library looping on a damaged file — the thread prints "[rank r] stalled: no
 * progress for N s in <phase>[ at step s][; <peers>]" and ends the process with status 4; under
 * MPI the launcher (mpirun, srun --kill-on-bad-exit) then ends the others. <peers> is what the
 * heartbeats say when `strata train` runs them (core/heartbeat.h): "no heartbeat from rank 1 on
 * h1 for 28 s" names the rank and host that stopped answering. A rank that has made no progress
 * for half the timeout while the heartbeats show a rank silent for as long ends then: a silent
 * rank is a failure, not a slow step, and the job then ends within the timeout. The thread makes no MPI calls.
 * Beats are two atomic stores and an increment, so the libraries beat whether or not a watchdog
 * runs: `strata train` starts it (train.stall_timeout), and so do `eval`, `inspect` and `convert`
 * (--stall-timeout). */
#ifndef ST_WATCHDOG_H
#define ST_WATCHDOG_H

#include <stdint.h>

/* The default of the commands' --stall-timeout (and of train.stall_timeout). */
#define ST_STALL_TIMEOUT_DEFAULT_S 600

/* Starts the watchdog for this process (`rank` names it in the message; timeout_s <= 0: none). */
void st_watchdog_start(int rank, double timeout_s);
/* Progress: `phase` must be a string literal (it is read by the watchdog thread); step < 0: none. */
void st_watchdog_beat(const char *phase, int64_t step);
void st_watchdog_stop(void);

#endif
