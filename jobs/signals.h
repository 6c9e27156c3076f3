/* signals.h — stop requests from the scheduler (the stall watchdog is core/watchdog.h).
 *
 * Signals: SIGUSR1 (Slurm's warning before a time limit or preemption, forwarded by the batch
 * script) and SIGTERM set a flag and nothing else (async-signal-safe); during start-up a second
 * one ends the process at once (st_signals_startup). The trainer reads the flag before each step
 * and the ranks agree on it through that step's first exchange, so every rank stops after the
 * same step, writes a checkpoint and exits with status 3. Installed before MPI_Init. */
#ifndef ST_SIGNALS_H
#define ST_SIGNALS_H

void st_signals_install(void);
/* The signal that asked to stop (SIGUSR1, SIGTERM), or 0. */
int st_signals_pending(void);

/* Start-up (on = 1, from st_signals_install until the first step): the trainer ends at the next
 * start-up phase boundary on a first signal (exit 3, run.json "stopped during start-up"), and a
 * second signal ends the process at once with status 128 + signal. */
void st_signals_startup(int on);

#endif
