/* inspect.h — statistics of a dataset file and the problems that would make training fail.
 *
 * st_inspect opens a dataset (sharding/dataset.h), counts classes (overall and per split),
 * scans /X for NaN and Inf in blocks of rows (never the whole array at once), and places the
 * dataset in a training phase by sample count with a suggested number of ranks and nodes
 * (docs/data.md). Every target (format 2, /targets) gets its own figures: class counts (per
 * split part too), multi-label frequencies, regression mean/std/min/max, a sequence (CTC)
 * target its tokens, labels per row and rows too short for their labels; /groups its group
 * count and rows per group. Problems (training would fail or refuse) and warnings (it would run, but
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

/* Figures of one target (issue 13), read in blocks like /X. */
typedef struct {
    int64_t *counts;                /* class: [K] rows per class; multilabel: [width] rows with each label */
    int64_t *split_counts;          /* class: [K * 3] (class, part) counts when the file has /split, else NULL */
    int64_t n_missing;              /* class: rows with id −1; regression: NaN values (allow_missing) */
    int64_t n_bad, first_bad_row;   /* values training refuses (st_target_first_bad); first_bad_row -1: none */
    char first_bad[160];            /* why the first one is bad */
    double mean_labels;             /* multilabel: labels per row, averaged over the rows */
    double *mean, *std, *min, *max; /* regression: [width] over each column's finite values (population std;
                                       NAN when a column has none) */
    int64_t *col_missing;           /* regression: [width] NaN values per column */
    /* sequence (inspect_sequences.c), over the rows without bad values; counts is then [V] labels
     * per token id (the blank, id 0, is never a label: count 0) */
    int64_t *len_hist;              /* [L_max + 1] rows per label count */
    int64_t n_seq_rows, n_labels, n_empty; /* good rows, their labels, rows with none */
    int64_t len_min, len_max;       /* labels per row */
    double len_median, len_mean;    /* (median: the mean of the middle two for an even count) */
    int frames_known;               /* /X is [N, T, C]: frames from /lengths, else T */
    int64_t n_too_short;            /* rows with fewer frames than len + adjacent repeats */
    int64_t first_short_row;        /* -1: none */
    int first_short_frames, first_short_labels, first_short_repeats;
} st_inspect_target_t;

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
    st_inspect_target_t targets[ST_MAX_TARGETS]; /* [ds.n_targets] */
    int64_t n_groups;               /* distinct /groups values (0 without /groups) */
    int64_t group_rows_min, group_rows_max;
    double group_rows_median;       /* of the rows per group (the mean of the middle two for an even count) */
    int64_t n_groups_across_parts;  /* groups with rows in more than one /split part */
    int64_t first_group_across;     /* the first such group's value */
    int64_t len_min, len_max;       /* /lengths (ds.has_lengths), over the valid lengths */
    double len_median;              /* (the mean of the middle two for an even count) */
    double pad_fraction;            /* share of /X's N·T steps past their row's length */
    int64_t n_bad_lengths;          /* lengths outside [1, T] (training refuses the file) */
    int64_t first_bad_length_row;   /* -1: none */
    double first_bad_length;
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

/* Used by st_inspect (sharding/inspect_targets.c): the figures of every target and of /groups
 * (split: [N] /split values, one byte a row, −1 for a value other than 0, 1, 2; NULL without
 * /split), the report's targets part as text and as
 * the "targets" and "groups" keys of a JSON object, and freeing the figures. */
struct cJSON;
st_status_t st_inspect_targets(st_inspect_t *r, const int8_t *split, st_error_t *err);
st_status_t st_inspect_groups(st_inspect_t *r, const int8_t *split, st_error_t *err);
void st_inspect_targets_print(FILE *out, const st_inspect_t *r);
void st_inspect_targets_json(struct cJSON *j, const st_inspect_t *r);
void st_inspect_targets_free(st_inspect_t *r);

/* sharding/inspect_lengths.c: the figures of /lengths (nothing without it), as text and as the
 * "lengths" key of a JSON object (null without /lengths); and each row's valid values of /X
 * (len·C; row_floats when the length is bad or there are no lengths) for the NaN/Inf scan, which
 * skips padding since training sets it to 0. */
st_status_t st_inspect_lengths(st_inspect_t *r, st_error_t *err);
void st_inspect_lengths_print(FILE *out, const st_inspect_t *r);
void st_inspect_lengths_json(struct cJSON *j, const st_inspect_t *r);
st_status_t st_inspect_valid_floats(long *valid /*[n_rows]*/, float *scratch /*[n_rows]*/, const st_dataset_t *ds,
                                    int64_t row0, int64_t n_rows, st_error_t *err);

/* sharding/inspect_sequences.c: the figures of a sequence target (kind ST_TARGET_SEQUENCE):
 * labels per token, labels per row, empty rows, bad rows, and the rows whose frames cannot hold
 * their labels for CTC (fewer than len + adjacent repeats; frames from /lengths, else T). The
 * block function takes rows as st_dataset_read_target_rows gives them ([n, 1 + L_max]). */
st_status_t st_inspect_sequence_alloc(st_inspect_t *r, int t, st_error_t *err);
st_status_t st_inspect_sequence_block(st_inspect_t *r, int t, const float *v /*[n, 1 + L_max]*/, int64_t row0,
                                      int64_t n, st_error_t *err);
void st_inspect_sequence_finish(const st_target_info_t *ti, st_inspect_target_t *f);
void st_inspect_sequence_print(FILE *out, const st_inspect_t *r, int t);  /* after "    <name>: sequence, " */
void st_inspect_sequence_json(struct cJSON *o, const st_inspect_t *r, int t); /* into the target's object */
void st_inspect_sequence_note(char *buf, size_t size, const st_inspect_t *r, int t); /* the too-short problem */

/* A human-readable report. */
void st_inspect_print(FILE *out, const st_inspect_t *r);
/* The report as JSON (malloc'd string; free with free()); NULL when out of memory. */
char *st_inspect_json(const st_inspect_t *r);

#endif
