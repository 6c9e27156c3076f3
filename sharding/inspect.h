/* inspect.h — statistics of a dataset file and the problems that would make training fail.
 *
 * st_inspect opens a dataset (sharding/dataset.h), counts classes (overall and per split),
 * scans /X for NaN and Inf in blocks of rows (never the whole array at once), and places the
 * dataset in a training phase by sample count with a suggested number of ranks and nodes
 * (docs/data.md). Problems (training would fail or refuse) and warnings (it would run, but
 * look) are returned as sentences naming the file. */
#ifndef ST_INSPECT_H
#define ST_INSPECT_H

#include <stdint.h>
#include <stdio.h>

#include "dataset.h"
#include "st_error.h"

#define ST_INSPECT_MAX_NOTES 24
#define ST_SAMPLES_PER_RANK 12500

/* The training phase for a sample count, with the suggested ranks and nodes. */
typedef struct {
    int phase;                /* 1: < 2,500; 2: 2,500–24,999; 3: 25,000–100,000; 4: > 100,000 */
    int ranks_min, ranks_max; /* suggested ranks */
    int nodes_min, nodes_max; /* suggested nodes; nodes_max 0 = as many as the ranks need */
    const char *range;        /* "2,500–24,999 samples" */
    char reason[320];         /* one line of reasoning */
} st_phase_t;

/* Rule: at most one rank per ST_SAMPLES_PER_RANK samples (so every rank keeps enough batches
 * per epoch for the all-reduce of each step to stay small next to its compute), at least one;
 * ranks stay on one node until a phase needs more than fit comfortably (8+). */
void st_phase_for(int64_t n_samples, st_phase_t *out);

typedef struct {
    st_dataset_t ds;                /* metadata: path, n, shape, class names, ... */
    int64_t *class_counts;          /* [K], valid labels only */
    int64_t *class_split_counts;    /* [K * 3] (class, split) counts when ds.has_split, else NULL */
    int64_t split_counts[3];        /* train, val, test (all train when the file has no /split) */
    int64_t n_bad_labels, first_bad_label_row, first_bad_label;
    int64_t n_bad_split, first_bad_split_row, first_bad_split;
    double imbalance;               /* largest / smallest class count; INFINITY if a class is empty */
    /* The same within each part of /split (train, val, test), over the classes that have samples:
     * INFINITY when one of them has no rows in that part, NAN when the part is empty or the file has
     * no /split. A fixed test set can hide a long tail in train from the overall figure. */
    double split_imbalance[3];
    double train_imbalance;         /* what training sees: split_imbalance[0] with /split, else imbalance */
    int n_train_classes;            /* classes with training rows (all rows without /split) */
    int64_t n_nan, n_inf;           /* in /X */
    int64_t first_nonfinite_row;    /* -1 when none */
    long first_nonfinite_elem;      /* index within the sample */
    st_phase_t phase;
    int n_problems;                 /* would make training fail */
    char problems[ST_INSPECT_MAX_NOTES][320];
    int n_warnings;                 /* would train, but look */
    char warnings[ST_INSPECT_MAX_NOTES][320];
} st_inspect_t;

/* Inspects `path`. Fails (with a message) only when the file cannot be read as a dataset;
 * content problems are listed in out->problems. Free with st_inspect_free. */
st_status_t st_inspect(const char *path, st_inspect_t *out, st_error_t *err);
void st_inspect_free(st_inspect_t *r);

/* A human-readable report. */
void st_inspect_print(FILE *out, const st_inspect_t *r);
/* The report as JSON (malloc'd string; free with free()); NULL when out of memory. */
char *st_inspect_json(const st_inspect_t *r);

#endif
