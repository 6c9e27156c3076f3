/* eval_checkpoint.h — a trained model's metrics on a dataset (what `strata eval` runs): the
 * model and its losses rebuilt from a checkpoint and bound to the dataset's targets by the
 * checkpoint's per-head tables, the requested rows and their targets read, scaled and
 * standardised as in training, evaluated over the ranks (every head with the metrics of its
 * kind), and the report (metrics.json with every head's metrics, per-class CSVs per class head,
 * a printed summary with one line per head) written by rank 0. */
#ifndef ST_EVAL_CHECKPOINT_H
#define ST_EVAL_CHECKPOINT_H

#include <stdio.h>

#include "mpi/comm.h"
#include "st_error.h"

typedef struct {
    const char *checkpoint; /* a checkpoint file (<run>/checkpoints/best.h5, ...) */
    const char *data;       /* a dataset in strata's format */
    const char *split;      /* "test", "val", "train" or "all" */
    const char *out_dir;    /* NULL: <run folder>/eval-<data name>-<split>; created with its parents */
    FILE *out;              /* rank 0 prints the summary and the per-class table here */
    int beam_width;         /* > 0: ctc heads decode with this beam width instead of their loss's */
} st_eval_request_t;

/* 1 when `split` is one of test, val, train, all. */
int st_eval_split_valid(const char *split);

/* Collective over c. The split: "all" is every row; test/val/train are the parts the training run
 * used — the file's /split when it has one, else the split recomputed from the checkpoint's seed
 * and fractions. Each rank evaluates a block of the rows. On failure every rank returns an error
 * (the checkpoint or dataset at fault named, or a class or parameter count that does not fit; for
 * a multi-task checkpoint a missing target, or one of another kind, width or names, named with
 * its head). */
st_status_t st_eval_checkpoint(const st_eval_request_t *req, const st_comm_t *c, st_error_t *err);

#endif
