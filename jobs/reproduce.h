/* reproduce.h — the library side of `strata reproduce RUN`: what a run folder recorded (its
 * dataset and fingerprint, reproducibility mode, rank count, how it ended), the check that the
 * dataset on disk is still the one the run saw, the choice of a fresh folder for the re-run, and
 * the comparison of the re-run's history.jsonl with the recorded one (st_history_compare: every
 * key but the timing ones). The re-run itself (mpirun -np P strata train) is started by
 * cli/cmd_reproduce.c. Nothing here prints except to the stream it is given. */
#ifndef ST_REPRODUCE_H
#define ST_REPRODUCE_H

#include <stdint.h>
#include <stdio.h>

#include "jobs/results.h"
#include "st_error.h"

typedef struct {
    char run_dir[ST_RESULTS_PATH_MAX];
    char dataset_path[ST_RESULTS_PATH_MAX]; /* run.json "dataset_path" */
    char fingerprint[64];                   /* run.json "dataset_fingerprint" */
    char status[256];                       /* run.json "status" */
    int ranks;                              /* run.json "ranks" (first launch) */
    int exact;                              /* config.json "reproducible" == "exact" */
    int64_t stop_after_steps;               /* N of a status "stopped after N steps", else 0 */
    int n_lines;                            /* lines of the recorded history.jsonl */
    int64_t last_step;                      /* "step" of its last line (0 when empty) */
} st_reproduce_run_t;

/* Reads <run_dir>/run.json, config.json and history.jsonl. ST_ERR_IO when one is missing,
 * ST_ERR_DATA naming the file and key when a key is missing or of the wrong type. */
st_status_t st_reproduce_read(st_reproduce_run_t *r, const char *run_dir, st_error_t *err);

/* The dataset at r->dataset_path must have the recorded fingerprint; otherwise ST_ERR_DATA:
 *   "data/x.h5 has dataset fingerprint 1a2b..., the run recorded 3c4d...: the dataset changed
 *    since the run (labels, split, shape or class names)" */
st_status_t st_reproduce_check_dataset(const st_reproduce_run_t *r, st_error_t *err);

/* name[size] := "reproduce-<n>", the smallest n >= 1 with no <run_dir>/reproduce-<n>. */
st_status_t st_reproduce_next_name(char *name /*[size]*/, size_t size, const char *run_dir, st_error_t *err);

/* Compares <rerun_dir>/history.jsonl with the recorded one. The re-run's lines after the
 * recorded last step are dropped first (a recorded run cut short is compared over the lines it
 * has). Prints to `out`: "identical: N history lines ..." or the first difference. In fast mode
 * (r->exact == 0) it first prints that bitwise equality is only expected with reproducible:
 * "exact", and after a difference the largest absolute difference of each numeric key (over the
 * lines both have, timing keys ignored); *differ is then 0 when both
 * have the same epochs and steps (the values may differ), 1 otherwise. In exact mode *differ is 1
 * on any difference. */
st_status_t st_reproduce_compare(int *differ, FILE *out, const st_reproduce_run_t *r, const char *rerun_dir,
                                 st_error_t *err);

#endif
