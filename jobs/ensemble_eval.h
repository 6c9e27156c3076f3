/* ensemble_eval.h — `strata ensemble eval RUN... --data D --split test [--weights val] [-o DIR]`:
 * soft voting over trained runs (docs/ensembles.md).
 *
 * Each member is a run folder (its checkpoints/best.h5) or a checkpoint file. Its model is
 * rebuilt as `strata eval` and `strata predict` rebuild it (jobs/ckpt_model.h) and run on the
 * rows of the requested part of D — the split each member's config makes of D (data.split_seed,
 * fractions, stratification, groups; the file's /split when it has one), which must be the same
 * for every member. Its record per row is what `strata predict` writes: softmax probabilities
 * (class heads), σ probabilities (multi-label), de-standardised values (regression). The
 * ensemble's record is the weighted mean of the members' records,
 *     p_ens(row) = Σ_m w_m p_m(row),  Σ_m w_m = 1,
 * with w_m = 1/M, or with --weights val w_m = s_m / Σ s, s_m the member's score on the val part
 * of the same split: head 0's accuracy (class), micro F1 (multi-label) or max(R², 0) (regression).
 *
 * Refused, naming the members: a different dataset fingerprint (recorded in the checkpoint),
 * a different split of D, different heads (kind, width, name); sequence (ctc) heads.
 *
 * Output (rank 0, in out_dir): metrics.json as a run's (the ensemble's metrics; the class
 * report of head 0 at the top when it is a class head) plus "ensemble" (members, weights, rule)
 * and "members" (each run, checkpoint, weight, val score, metrics); per_class.csv and
 * confusion.csv (or <head>_per_class.csv, <head>_confusion.csv per class head with several
 * heads); probabilities.csv: "row" (the row of D), then per head the ensemble's record with
 * `strata predict`'s column names (<h>_p_<class> for class and multi-label heads, <h>_<column>
 * for regression). Every rank computes the same records (no MPI work division); rank 0 writes. */
#ifndef ST_ENSEMBLE_EVAL_H
#define ST_ENSEMBLE_EVAL_H

#include <stdio.h>

#include "mpi/comm.h"
#include "st_error.h"

#define ST_ENSEMBLE_MAX_MEMBERS 64

typedef struct {
    const char *const *runs; /* [n_runs] run folders or checkpoint files */
    int n_runs;              /* 1..ST_ENSEMBLE_MAX_MEMBERS */
    const char *data;        /* a dataset in strata's format */
    const char *split;       /* "test", "val", "train" or "all" */
    int weights_val;         /* 1: members weighted by their val score */
    const char *out_dir;     /* NULL: <parent of the first run folder>/ensemble-<data stem>-<split> */
    FILE *out;               /* rank 0 prints the summary here (may be NULL) */
} st_ensemble_eval_request_t;

/* Collective over c; every rank returns the same status. */
st_status_t st_ensemble_eval(const st_ensemble_eval_request_t *req, const st_comm_t *c, st_error_t *err);

#endif
