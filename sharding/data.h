/* data.h — a rank's share of a dataset, ready for training: the whole data pipeline of
 * docs/sharding.md and docs/parallel-io.md in one collective call.
 *
 *   open the file → read every stratification label (all ranks; 4 bytes a row: /y, the class
 *   target data.stratify names, or one class for "none") → stratified split, respecting a
 *   predefined /split and keeping /groups whole (fewer than 2 classes, or a class with val/test
 *   rows but none in train, is refused) → plan shards from the batch → stratified virtual shards
 *   → this rank's training rows (its contiguous block of shards) plus its contiguous block of the
 *   val and test rows (whole blocks of ST_DATA_EVAL_ROWS), read in two phases (block read +
 *   Alltoallv), and every target's values for the same rows the same way → target values
 *   checked (naming the target and row) → refuse non-finite features unless allowed → optional
 *   pixel scaling → standardisation statistics from the training split (categorical columns
 *   left out), combined in shard order (the same bits at any P) and applied to every part;
 *   regression targets' statistics the same way. With /lengths (issue 14) every row's length
 *   moves like its targets, the values past it are set to 0 right after the read (before any
 *   check), and standardisation counts and changes valid values only.
 *
 * Memory per rank: the labels and split of all N rows (5 bytes a row), its own rows (once: the
 * three parts are views into one buffer), and the loader's block of about N/P rows during the
 * read. With data.stream (docs/streaming.md) the training rows are not loaded: the training part
 * is a view of the stream's slots (sharding/stream.h) holding only the blocks the current step
 * reads, the statistics and checks come from scans over the blocks (sharding/stream_load.c), and
 * every row's label is kept (4 bytes a row) for the blocks read later; the val and test parts
 * keep only their ids and labels, their rows are read pass by pass when evaluated
 * (st_data_eval_rows, sharding/stream_eval.h). At start-up the split and the shard map take 4
 * bytes a row of scratch plus a constant (sharding/keyed_walk.h), and a streamed shard map is
 * built without its lookup arrays: the start-up stays within the bookkeeping's bound
 * (st_data_startup_peak_per_row, docs/streaming.md). */
#ifndef ST_DATA_H
#define ST_DATA_H

#include <stdint.h>

#include "mpi/comm.h"
#include "sharding/dataset.h"
#include "sharding/shards.h"
#include "sharding/split.h"
#include "sharding/stream.h"
#include "sharding/stream_eval.h"

/* data.order: each epoch's order of a shard's rows (sharding/sampler.h). */
typedef enum { ST_DATA_ORDER_SHUFFLE = 0, ST_DATA_ORDER_WINDOWED = 1 } st_data_order_t;
#define ST_DATA_WINDOW_ROWS_DEFAULT 65536 /* data.window_rows when not given */

/* Evaluation rows per forward pass. Val and test rows are dealt to ranks in whole blocks of this
 * many (st_loader_block_chunks) and evaluated one block per pass, so each pass holds the same
 * rows at any rank count and evaluation metrics have the same bits for any P. */
#define ST_DATA_EVAL_ROWS 512

typedef struct {
    const char *path;
    uint64_t seed;
    st_split_options_t split;   /* fractions and val_fraction */
    int64_t batch_size;         /* global batch = S × micro_batch × accumulation */
    int accumulation;
    int shards;                 /* S, or 0 = "auto" */
    int standardize;            /* st_std_mode_t: statistics from the training split per channel
                                 * (1 = true), globally, per position, or none (0) */
    int scale_pixels;           /* divide by 255 first */
    int allow_nonfinite;        /* accept NaN/Inf features (else an error naming the first row) */
    const char *stratify;       /* class target the split and shards stratify on: NULL or "" = /y
                                 * when the file has it, else its only class target; "none" */
    int ignore_groups;          /* 1: split row by row even when the file has /groups */
    const char (*categorical)[64]; /* [n_categorical] feature columns holding integer ids, by
                                 * index ("3") or feature name: not standardised; checked to be
                                 * integers in [0, 2^24) */
    int n_categorical;
    int bucket_by_length;       /* the sampler groups rows of similar length (needs /lengths) */
    int bucket_window;          /* micro-batches per sorting window (data.bucket_window) */
    int repeat;                 /* data.repeat: occurrences of each training row an epoch (0 or 1: once) */
    int order;                  /* st_data_order_t (data.order) */
    int64_t window_rows;        /* data.window_rows: file rows per block of the windowed order (0: default) */
    int stream;                 /* data.stream: keep only the blocks being trained on (needs "windowed") */
    int64_t memory_budget_mb;   /* data.memory_budget_mb: the streamed blocks' bound per rank */
    int epochs;                 /* train.epochs: the streamed schedule is sized for epochs 0..epochs-1 */
    uint64_t stream_seed;       /* the run's seed (the sampler's): keys the streamed block order */
} st_data_config_t;

/* The rows of one part held by this rank. */
typedef struct {
    int64_t n;        /* rows here */
    int64_t *ids;     /* [n] global row ids, ascending */
    float *X;         /* [n, row_floats] (a view into st_data_t.rows) */
    int32_t *y;       /* [n] stratification classes (a view into st_data_t.labels) */
    float *T;         /* [n, tgt_floats] every target's values (a view into st_data_t.tgt_rows) */
    int32_t *len;     /* [n] sequence lengths (a view into st_data_t.lens); NULL without /lengths */
} st_data_part_t;

/* Per-column statistics of a regression target over the training split (missing values left
 * out), combined in shard order: the same bits at any P. */
typedef struct {
    double *mean, *std;  /* [width] each */
} st_target_stats_t;

typedef struct {
    st_dataset_t ds;
    int n_classes;
    st_shape_t shape;
    long row_floats;
    int64_t n_part[3];          /* rows in train, val, test (whole dataset) */
    int64_t *train_class_counts;/* [K]: the train row of part_class_counts */
    int64_t *part_class_counts; /* [3, K] rows of each stratification class in train, val, test */
    st_shards_t shards;         /* the shard map (every rank has all of it; ids only) */
    int S, micro_batch, shard_first, shard_end;  /* this rank owns shards [first, end) */
    st_data_part_t part[3];     /* [ST_SPLIT_TRAIN]: the rows of its shards; val, test: its block */
    float *rows;                /* [n_train + n_val + n_test here, row_floats]: the parts' X are views */
    int32_t *labels;            /* the parts' y are views into it */
    int F;                      /* standardised features: D, or C for [T, C] */
    double *mean, *std;         /* [n_std]; NULL without standardisation */
    int n_std;                  /* statistics: F (per channel), 1 (global) or T·C (per position) */
    int strat_target;           /* the target stratified on, or -1 (/y when a target, or "none") */
    int strat_none;             /* data.stratify "none": every row's stratification class is 0 */
    int n_targets;              /* = ds.n_targets; their metadata is ds.targets */
    long tgt_floats;            /* Σ widths: one row of st_data_part_t.T */
    int tgt_offset[ST_MAX_TARGETS];  /* column of each target's first value in a T row */
    float *tgt_rows;            /* the parts' T are views into it */
    st_target_stats_t tgt_stats[ST_MAX_TARGETS]; /* regression targets: train-split statistics */
    int64_t n_groups;           /* distinct /groups values (0 without groups or ignore_groups) */
    int n_categorical;          /* the categorical columns, resolved to feature indices */
    int categorical[64];
    st_split_report_t split_report; /* the grouped split's warnings (a class missing from a part) */
    int has_lengths;            /* the file has /lengths: the parts' len are set, and every row's
                                 * values at steps >= its length are exactly 0 */
    int T_max;                  /* the longest length of any row of the dataset (the same on every
                                 * rank); T of [T, C] without lengths, 1 for [D] */
    int32_t *lens;              /* the parts' len are views into it */
    int bucket_by_length, bucket_window; /* from st_data_config_t, for st_data_sampler_init */
    int repeat;                 /* data.repeat (>= 1), for st_data_sampler_init */
    int order;                  /* st_data_order_t, for st_data_sampler_init */
    int64_t window_rows;        /* W of the windowed order (0 with "shuffle") */
    /* data.stream (docs/streaming.md): the training part is a view of the stream's slots with
     * n = 0 and ids = NULL (st_data_train_locate finds rows); its rows are stream_ids. */
    st_stream_t *stream;        /* NULL when the training rows are all in memory */
    int64_t *stream_ids;        /* [n_stream] this rank's training rows, ascending */
    int64_t n_stream;
    int32_t *y_all;             /* [N] every row's stratification class (kept when streaming) */
    int16_t *stream_keys;       /* [n_stream, n_targets (+1 with lengths)] each training row's weight
                                 * keys from the start-up scan (sharding/weight_keys.h), streamed only */
    double *stream_tgt_sums;    /* start-up only: the blocks' target sums (st_data_target_sums) */
    double *stream_std_partials;/* start-up only: the blocks' standardisation partials */
    int64_t *tgt_class_counts[ST_MAX_TARGETS]; /* streamed: this rank's training rows per class */
    int64_t tgt_present[ST_MAX_TARGETS];       /* streamed: ... with a value of the target */
    size_t stream_bytes;        /* the slots' bytes (within data.memory_budget_mb) */
    st_stream_eval_t *stream_eval; /* streamed: the val/test rows read on demand (their parts hold
                                 * ids and labels only: X, T, len NULL); NULL in memory */
    size_t eval_bytes;          /* its buffers' bytes (within data.memory_budget_mb) */
    int64_t budget_mb;
    double bookkeeping_per_row; /* bytes per row of the file of per-row arrays (labels, split, shard
                                 * map, sampler): what data.stream adds to the budget */
    double startup_peak_per_row;/* the most bytes per row of the file the load's per-row arrays take
                                 * at once (st_data_startup_peak_per_row) */
} st_data_t;

/* The checks st_data_load runs on every row a rank holds (or streams), accumulated over row sets
 * then reduced over ranks in order: non-finite features, bad target values, categorical ids. */
typedef struct {
    long long n_nonfinite;
    int64_t first_nonfinite, first_bad_target, first_bad_cat;
    char why[200], which[ST_NAME_MAX + 16];
    int cat_col;
    float cat_val;
} st_row_checks_t;
void st_data_checks_init(st_row_checks_t *k);
void st_data_rows_check(st_row_checks_t *k, const st_data_t *d, const int64_t *ids /*[n]*/, const float *X,
                        const float *T, int64_t n);
/* partials [S, 3·tgt_floats] += each row's target values (count, sum, square) in its shard's
 * partial (shard [n], or NULL: st_shards_find); rows in ascending id within a shard. */
void st_data_target_sums(double *partials, const st_data_t *d, const int64_t *ids /*[n]*/,
                         const int32_t *shard /*[n] or NULL*/, const float *T, int64_t n);

/* View [n rows] of rows [r0, r0 + n) of part p (n <= ST_DATA_EVAL_ROWS): views into the part in
 * memory; with a streamed split, its val/test rows read now (st_stream_eval_read), valid until the
 * next call. ids and y always point into the part. Local (no MPI). */
st_status_t st_data_eval_rows(st_data_part_t *view, const st_data_t *d, int p, int64_t r0, int64_t n, st_error_t *err);

/* Bytes per row of the file this rank keeps in per-row arrays besides the rows themselves:
 * labels of every row (streamed only: in memory they are dropped after the split), the shard
 * map, its training ids, the sampler's order and scratch, its val/test ids and labels. */
double st_data_bookkeeping_per_row(const st_data_t *d);

/* The peak of the per-row arrays over st_data_load's phases, in bytes per row of the file,
 * computed (not measured): reading the labels (int64 buffers), the split (the keyed walk's 4
 * bytes a row; a grouped split's index, 40), the shard map (4 of walk tags + 8 a training row, +
 * 12 with the lookup an in-memory split keeps), choosing this rank's rows, and the bookkeeping
 * kept after (st_data_bookkeeping_per_row). Constants (the walk's cell counts and sort chunk,
 * at most 32 MiB) are left out. */
double st_data_startup_peak_per_row(const st_data_t *d);

/* pos [n] = positions in the training part of rows ids [n] (the in-memory part, or the stream's
 * slots, which must hold them: st_stream_step). */
st_status_t st_data_train_locate(const st_data_t *d, int64_t *pos /*[n]*/, const int64_t *ids /*[n]*/, int64_t n,
                                 st_error_t *err);

/* This rank's training rows of class target t per class (counts [n_classes], zeroed first), and
 * how many have a value of target t (a class id >= 0, or a non-NaN value): local, in memory or
 * streamed; the caller sums over ranks. */
void st_data_train_class_counts(int64_t *counts, const st_data_t *d, int t);
int64_t st_data_train_present(const st_data_t *d, int t);

/* The stratification key of a dataset and the split of all its rows, as st_data_load makes
 * them (sharding/split_key.c; no MPI): y [N] every row's stratification class (/y, the class
 * target data.stratify names — or the file's only one —, or 0 for "none"); split [N] the file's
 * /split and, with make_split_too, the stratified split (groups kept whole). */
typedef struct {
    int n_classes;              /* K of the key (1 for "none") */
    int strat_target;           /* the key's target, or -1 (/y, or none) */
    int none;                   /* data.stratify "none" */
    st_split_report_t report;   /* the grouped split's group count and warnings */
} st_split_key_t;

/* "order shuffle" or "order windowed (blocks of W rows of the file)" and, with data.stream,
 * "; streamed within B MiB a rank": the run log's and strata plan's words for data.order
 * (order st_data_order_t, W data.window_rows, B data.memory_budget_mb). */
void st_data_describe_order(char *out, size_t n, int order, int64_t window_rows, int stream, int64_t budget_mb);

/* The run log's line on a streamed split (empty without one): the blocks a rank holds, their
 * bytes against the budget, and the bookkeeping bytes per row of the file. */
void st_data_describe_stream(char *out, size_t n, const st_data_t *d);

st_status_t st_split_rows_of(st_split_key_t *k, const st_dataset_t *ds, const st_data_config_t *cfg, int32_t *y,
                             uint8_t *split, int make_split_too, st_error_t *err);

/* Collective over c. On failure every rank returns an error (the failing rank's message names
 * the file, row or setting; the others say which rank failed). */
st_status_t st_data_load(st_data_t *d, const st_data_config_t *cfg, const st_comm_t *c, st_error_t *err);
void st_data_free(st_data_t *d);

#endif
