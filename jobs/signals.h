/* signals.h — stop requests from the scheduler, and a watchdog for stalls.
 *
 * Signals: SIGUSR1 (Slurm's warning before a time limit or preemption, forwarded by the batch
 * script) and SIGTERM set a flag and nothing else (async-signal-safe); during start-up a second
 * one ends the process at once (st_signals_startup). The trainer reads it
 * before each step and the ranks agree on it through that step's all-reduce, so every rank stops
 * after the same step, writes a checkpoint and exits with status 3. Installed before MPI_Init.
 *
 * Watchdog: a thread per rank that makes no MPI calls. The training loop reports progress
 * (st_watchdog_beat, with the phase and step); when a rank has made none for `timeout` seconds —
 * stuck in a collective waiting for a rank that died or hangs, or hung itself — the thread
 * prints "[rank r] stalled: no progress for N s in <phase> at step s" and ends the process with
 * status 4; the launcher (mpirun, srun --kill-on-bad-exit) then ends the others. */
#ifndef ST_SIGNALS_H
#define ST_SIGNALS_H

#include <stdint.h>

void st_signals_install(void);
/* The signal that asked to stop (SIGUSR1, SIGTERM), or 0. */
int st_signals_pending(void);

/* Start-up (on = 1, from st_signals_install until the first step): the trainer ends at the next
 * start-up phase boundary on a first signal (exit 3, run.json "stopped during start-up"), and a
 * second signal ends the process at once with status 128 + signal. */
void st_signals_startup(int on);

/* Starts the watchdog for this rank (timeout_s <= 0: none). */
void st_watchdog_start(int rank, double timeout_s);
/* Progress: `phase` must be a string literal (it is read by the watchdog thread). */
void st_watchdog_beat(const char *phase, int64_t step);
void st_watchdog_stop(void);

#endif
