/* results.h — what a training run leaves in its run folder `<results_dir>/<name>/`: the folder
 * itself (with checkpoints/), config.json, run.json, history.jsonl, the per-class and confusion
 * CSVs and metrics.json. results/README.md describes every file and its format.
 *
 * Only rank 0 calls these (no MPI here). Every file that is rewritten (config.json, run.json,
 * the CSVs, metrics.json, a truncated history.jsonl) is written atomically: a temporary
 * `<file>.tmp` in the same folder, fsync, rename over the old one, fsync of the folder. So a
 * reader (or a run killed mid-write) sees the old or the new file, never half of one.
 * history.jsonl is appended to, one line per epoch, fsynced after each line.
 *
 * JSON is written with cJSON. Numbers that are not finite (a NaN loss, no validation split) are
 * written as null and read back as NaN. */
#ifndef ST_RESULTS_H
#define ST_RESULTS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "metrics.h"
#include "st_error.h"

#define ST_RESULTS_PATH_MAX 4096

/* ---- run folder ------------------------------------------------------------------------- */

/* Prepares `<results_dir>/<name>` (written to run_dir[size]) and its checkpoints/ folder,
 * creating results_dir (and its parents) when missing. `name` must be a plain folder name
 * (not empty, no '/', not "." or ".."). Without `resume` the run folder must not exist yet:
 *   "results/fashion_mlp already exists: pass --resume auto to continue it, or choose another
 *    name (--set name=...)"  (ST_ERR_CONFIG)
 * With `resume` it must exist:
 *   "results/fashion_mlp does not exist: there is no run to resume (drop --resume to start a new
 *    run)"  (ST_ERR_CONFIG) */
st_status_t st_run_dir_prepare(char *run_dir /*[size]*/, size_t size, const char *results_dir,
                               const char *name, int resume, st_error_t *err);

/* Writes n bytes to `path` atomically (path.tmp, fsync, rename, fsync of the folder). */
st_status_t st_write_file_atomic(const char *path, const void *data, size_t n, st_error_t *err);

/* Writes s as one CSV field (RFC 4180): as is, or in double quotes (a quote doubled) when it
 * holds a comma, a quote or a line end. */
void st_csv_put_field(FILE *f, const char *s);

/* `<run_dir>/config.json` := the resolved config text (atomically). */
st_status_t st_write_config(const char *run_dir, const char *config_text, st_error_t *err);

/* "2025-03-01T14:05:09Z" (ISO 8601, UTC, whole seconds); buf needs 21 bytes. */
void st_iso8601_utc(char *buf /*[21]*/, time_t t);

/* ---- run.json --------------------------------------------------------------------------- */

typedef struct {
    const char *strata_version, *git_commit;
    int ranks, threads_per_rank;
    const char *blis_kernels;         /* e.g. "skx", as `strata info` reports it */
    const char *const *hosts;         /* distinct host names, in rank order of first appearance */
    int n_hosts;
    const char *dataset_path, *dataset_fingerprint;
} st_run_info_t;

/* The in-memory run.json; every change below rewrites the file atomically. */
typedef struct {
    char path[ST_RESULTS_PATH_MAX];   /* <run_dir>/run.json */
    cJSON *doc;
} st_run_record_t;

/* A new run: run.json with the info, start_time = start, end_time null, status "running" and
 * an empty restarts list. */
st_status_t st_run_record_create(st_run_record_t *rec, const char *run_dir, const st_run_info_t *info,
                                 time_t start, st_error_t *err);

/* Loads the run.json of an existing run (for --resume); ST_ERR_IO when missing, ST_ERR_DATA
 * when it is not a JSON object. */
st_status_t st_run_record_open(st_run_record_t *rec, const char *run_dir, st_error_t *err);

/* Appends {time, ranks, hosts, resumed_from_step} to "restarts" and sets status back to
 * "running", end_time null. */
st_status_t st_run_record_add_restart(st_run_record_t *rec, time_t t, int ranks,
                                      const char *const *hosts /*[n_hosts]*/, int n_hosts,
                                      int64_t resumed_from_step, st_error_t *err);

/* Sets "status" ("running", "completed", "stopped early", "failed: <message>", "stopped after N
 * steps") and "end_time" (t = 0 writes null: the run goes on). */
st_status_t st_run_record_set_status(st_run_record_t *rec, const char *status, time_t end,
                                     st_error_t *err);

/* Sets `key` to `item` (replacing an existing value; the record takes ownership of item, which
 * may be NULL: then ST_ERR_NOMEM) and rewrites run.json. Used for "startup_s". */
st_status_t st_run_record_set_item(st_run_record_t *rec, const char *key, cJSON *item, st_error_t *err);

void st_run_record_free(st_run_record_t *rec);

/* ---- history.jsonl ---------------------------------------------------------------------- */

#define ST_HISTORY_FILE "history.jsonl"

/* One epoch. val_loss / val_accuracy are NaN without a validation split (written as null). */
typedef struct {
    int64_t epoch;                 /* 1-based */
    int64_t step;                  /* optimizer steps done at the end of this epoch (global) */
    double lr;                     /* learning rate of the epoch's last step */
    double train_loss, train_accuracy, val_loss, val_accuracy;
    double seconds, samples_per_s; /* timing: ignored by st_history_compare */
    int has_diversity;             /* 1: write "diversity" (every N epochs) */
    st_pred_diversity_t diversity; /* of the validation predictions */
    char collapse_warning[256];    /* "" = absent */
    char param_hash[72];           /* hex; "" = absent */
    int n_extra;                   /* more numeric keys (per-head metrics, loss shares, gap) */
    const char (*extra_names)[64];
    const double *extra_values;
    char health_warning[320];      /* "" = absent: a head dominating the loss, a train/val gap */
} st_history_record_t;

/* The history keys that measure time rather than training (seconds, samples_per_s,
 * eval_seconds, time_unix_s: the wall-clock time the line was written): comparisons of runs
 * (st_history_compare, `strata reproduce`) skip them. */
int st_history_is_timing_key(const char *key);

/* Appends one line to <run_dir>/history.jsonl (created when missing) and fsyncs it. */
st_status_t st_history_append(const char *run_dir, const st_history_record_t *rec, st_error_t *err);

/* Keeps only the lines of <run_dir>/history.jsonl with step <= `step` (used on resume from
 * that step), atomically; kept lines are copied byte for byte. A missing file is fine (nothing
 * to keep). A last line without its newline that does not parse (a write cut short by a crash)
 * is dropped; any other line that does not parse, or lacks "step", is an error (ST_ERR_DATA)
 * naming the line. Blank lines are skipped. */
st_status_t st_history_truncate(const char *run_dir, int64_t step, st_error_t *err);

/* Reads a history file (a path, e.g. <run_dir>/history.jsonl) into *recs (free with free()),
 * *n_recs lines; same rules for a cut-short last line as st_history_truncate. Every line must
 * have the nine numeric keys; a missing key is ST_ERR_DATA naming the line and key. */
st_status_t st_history_read(st_history_record_t **recs, int *n_recs, const char *path, st_error_t *err);

/* Compares two history files line by line and key by key, ignoring the timing fields
 * (st_history_is_timing_key). *differ = 0 when equal; otherwise 1 and `where` gets the first
 * difference, e.g. "line 3 (epoch 3): val_loss: 0.4125 vs 0.4126" or "a has 5 lines, b has 4".
 * Numbers must be equal as written (same doubles). Errors only for unreadable files. */
st_status_t st_history_compare(int *differ, char *where /*[where_size]*/, size_t where_size,
                               const char *path_a, const char *path_b, st_error_t *err);

/* ---- per-class scores, confusion matrix, metrics.json ----------------------------------- */

/* Names used for the per-class and confusion CSVs: the validation versions (rewritten every N
 * epochs) carry the prefix "val_", the final test versions none. */
#define ST_VAL_PREFIX "val_"
#define ST_TEST_PREFIX ""

/* Writes <run_dir>/<prefix>per_class.csv and <run_dir>/<prefix>confusion.csv from a confusion
 * matrix (row = true class, column = predicted class). class_names may be NULL (the class index
 * is used as its name).
 *   per_class.csv: class,name,support,precision,recall,f1,accuracy — one row per class; accuracy
 *     of a class is the share of its samples predicted correctly (= recall, kept as a
 *     convenience); scores as in st_class_scores (0 when undefined), 6 decimals.
 *   confusion.csv: header "true\predicted,<name 0>,...,<name K-1>", then one row per true
 *     class: its name and K counts. */
st_status_t st_write_class_csvs(const char *run_dir, const char *prefix, const int64_t *conf /*[K,K]*/,
                                const char *const *class_names /*[K] or NULL*/, int K, st_error_t *err);

typedef struct {
    const char *split;               /* "test" (or "val" when evaluating on validation) */
    double loss;                     /* mean loss over the split */
    const char *checkpoint;          /* path of the restored (best) checkpoint */
    const int64_t *conf;             /* [K, K] of the first head, or NULL when it is not a class head */
    const char *const *class_names;  /* [K] or NULL */
    int K;
    int n_metrics;                   /* every head's metrics by name ("metrics" object), or 0 */
    const char (*metric_names)[64];
    const double *metric_values;
} st_final_metrics_t;

/* Writes <run_dir>/metrics.json: accuracy, loss, macro_f1, per_class (list of {class, name,
 * support, precision, recall, f1}), split, n_samples (= sum of conf), checkpoint, class_names
 * and confusion (K lists of K counts) of the first head when it is a class head; and "metrics",
 * every head's metrics by name (head_report.h: test_accuracy.category, test_r2.reward, ...). */
st_status_t st_write_metrics_json(const char *run_dir, const st_final_metrics_t *m, st_error_t *err);

/* ---- split.json ------------------------------------------------------------------------- */

typedef struct {
    const char *stratify;            /* the key's name ("y", a target, or "none") */
    const int64_t *counts;           /* [3, K] rows of each class in train, val, test */
    const char *const *class_names;  /* [K] */
    int K;
    int64_t n_groups;                /* 0: the split was made row by row */
    int n_warnings;
    const char (*warnings)[256];     /* [min(n_warnings, 4)] */
} st_split_summary_t;

/* Writes <run_dir>/split.json: the achieved split — rows per part, and per class its rows and
 * share in each part — the group count and the grouped split's warnings. */
st_status_t st_write_split_json(const char *run_dir, const st_split_summary_t *s, st_error_t *err);

#endif
