/* sweep_report.h — one table comparing runs (what `strata sweep-report` prints; the command line
 * is cli/cmd_sweep_report.c), e.g. the tasks of a sweep submitted with `strata sbatch --sweep`.
 * docs/slurm-jobs.md. */
#ifndef ST_SWEEP_REPORT_H
#define ST_SWEEP_REPORT_H

#include <stdio.h>

#include "st_error.h"

/* Prints to `out` one row per run of `dirs` (a run folder, or a sweep folder: all its tasks),
 * best validation accuracy first: task, overrides, best val accuracy, its loss and epoch, epochs
 * reached, test accuracy, status. Fails, printing nothing, on a folder that does not exist or
 * is neither a run nor a sweep folder (the message names it). When some run has a report.html,
 * its path follows the table, with the `strata report DIR... -o report.html` line overlaying them. */
st_status_t st_sweep_report(FILE *out, const char *const *dirs, int n_dirs, st_error_t *err);

#endif
