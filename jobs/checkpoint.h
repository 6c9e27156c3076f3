/* checkpoint.h — training checkpoints (docs/checkpoints.md): one HDF5 file holding everything a
 * run needs to continue bit for bit, written atomically by rank 0 and validated fully on read.
 * No MPI here: the trainer decides which rank writes (rank 0) and broadcasts what it reads.
 *
 * Naming, in a run's checkpoints/ folder:
 *   step-%09lld.h5   kinds "last" and "periodic", named by the optimizer steps taken
 *                    (step-000000120.h5 after 120 steps; a checkpoint may be taken mid-epoch)
 *   best.h5          kind "best": the best model by the monitored metric (replaced in place)
 *   <name>.tmp       a write in progress; one left behind by a killed process is stale and
 *                    st_ckpt_find_latest removes it
 * Retention: after a step-*.h5 file is durable, st_ckpt_save keeps it and the newest keep_last-1
 * step files with a smaller step, and deletes the rest: older ones, and any with a LARGER step
 * (left by a run that was resumed from an earlier checkpoint, so that "--resume auto" can never
 * jump to an abandoned future). best.h5 is never touched by retention.
 *
 * Write protocol (st_ckpt_write): the file is built in memory (HDF5 core driver), written to
 * "<path>.tmp", fsynced, read back and validated, renamed over <path>, and the folder is fsynced;
 * only then does retention delete anything. A process killed at any moment leaves the previous
 * set of checkpoints intact, or the new one complete: never a partial file under a final name.
 *
 * Integrity (format 2 on): the file starts with a 512-byte HDF5 user block holding a header
 * (sharding/h5util.h, "sealed files"): signature "\211STRATA\n", format version, file length and
 * a CRC-32 of every byte after the block, plus a CRC-32 of the block itself. Readers verify it
 * from the raw bytes BEFORE HDF5 opens the file, so a damaged checkpoint is refused as
 * "<path>: damaged (checksum mismatch ...)" and never reaches HDF5's parser (which loops forever
 * or crashes on some damaged files). Format 1 files (no user block: the HDF5 signature at byte 0)
 * still read, with HDF5's own checks and our per-dataset CRCs only. -DST_CKPT_NO_INTEGRITY skips
 * the header check (for fuzzing the HDF5 parsing behind it; see jobs/checkpoint.c).
 *
 * Layout (format ST_CKPT_FORMAT = 2; every numeric dataset 1-d, little-endian, with a uint32
 * attribute "crc32" = zlib crc32 of its bytes):
 *   /params float32 [P]        /buffers float32 [B]
 *   /optimizer/<name> float32 [P] per state array (attributes n_state, state_names)
 *   /schedule float64 [S]      /early_stop float64 [E]
 *   /config  string (JSON)     /class_names string [K]
 *   /class_weights float32 [K]            (optional)
 *   /feature_names string [D]             (optional: the training dataset's feature_names, D of
 *                                          [N, D] or C of [N, T, C]; `strata predict` matches CSV
 *                                          columns to them; older checkpoints have none)
 *   /standardize/mean, /standardize/std float64 [F]   (optional)
 *   /heads (optional; every checkpoint written since issue 13): attribute n_heads, and one
 *   group /heads/<h> per loss (h = 0..n_heads-1, the order of "loss") with attributes head,
 *   target, kind ("class", "multilabel", "regression"), width, standardize_targets and
 *   meta_crc32 (over those and the names), datasets names string [width] (class, label or
 *   column names), class_weights float32 [width] (optional), target_mean, target_std float64
 *   [width] (regression: the training split's statistics of the target)
 *   root attributes: strata_checkpoint_format, kind, created (ISO 8601 UTC), created_unix,
 *   epoch, step, step_in_epoch, nonfinite_steps, optimizer_step (int64), dataset_fingerprint,
 *   meta_crc32 (crc32 over the counters and strings, see docs/checkpoints.md).
 * Every error names the file: "<path>: not a strata checkpoint (no /params)",
 * "<path>: damaged (checksum mismatch: bytes 512..17920 have CRC-32 ..., its header says ...)",
 * "<path>: damaged: checksum mismatch in /optimizer/exp_avg" (format 1). */
#ifndef ST_CHECKPOINT_H
#define ST_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "optim.h"
#include "schedule.h"
#include "sharding/dataset.h" /* st_target_kind_t, ST_NAME_MAX */
#include "st_error.h"

#define ST_CKPT_FORMAT 2          /* 2: with the user-block header; 1 (read only): without */
#define ST_CKPT_MAX_STATE 4        /* optimizer state arrays */
#define ST_CKPT_STATE_NAME_MAX 32  /* bytes, with the terminating NUL */
#define ST_CKPT_MAX_DOUBLES 64     /* schedule and early-stopping arrays */
#define ST_CKPT_MAX_CLASSES 65536

typedef enum { ST_CKPT_LAST = 0, ST_CKPT_BEST = 1, ST_CKPT_PERIODIC = 2 } st_ckpt_kind_t;

#define ST_CKPT_MAX_HEADS 8        /* = ST_LOSS_MAX_HEADS */

/* One loss (head) of the run and the dataset target it was trained on: what `strata eval` needs
 * to bind the loss to a new file's target and report it as training did. In st_ckpt_write_t the
 * pointers are the trainer's (not copied); in st_ckpt_t they are owned. */
typedef struct {
    char head[ST_NAME_MAX];          /* the loss's "head" (model output); "" = the only output */
    char target[ST_NAME_MAX];        /* the dataset target it reads ("y" for /y) */
    st_target_kind_t kind;
    int width;                       /* K: class count, label count or column count */
    char (*names)[ST_NAME_MAX];      /* [width] class / label / column names */
    float *class_weights;            /* [width] or NULL (cross_entropy, focal) */
    double *t_mean, *t_std;          /* [width] or NULL: regression, the training split's statistics */
    int standardize_targets;         /* the loss trained on (t − t_mean) / t_std */
} st_ckpt_head_t;

/* What to write: pointers into the trainer's own state (nothing is copied until the write). */
typedef struct {
    st_ckpt_kind_t kind;
    const float *params;                 /* [n_params] */
    size_t n_params;
    const float *buffers;                /* [n_buffers] (BatchNorm running statistics) */
    size_t n_buffers;
    int n_optim_state;                   /* 0..ST_CKPT_MAX_STATE (st_optim_n_state) */
    const char *optim_state_names[ST_CKPT_MAX_STATE];  /* st_optim_state_name */
    const float *optim_state[ST_CKPT_MAX_STATE];       /* each [n_params] */
    int64_t optim_step;                  /* st_optim_step_count */
    const double *sched_state;           /* [n_sched_state] (st_sched_state_save) */
    int n_sched_state;                   /* 0..ST_CKPT_MAX_DOUBLES */
    const double *early_stop;            /* [n_early_stop]: best value, evaluations without improvement, ... */
    int n_early_stop;                    /* 0..ST_CKPT_MAX_DOUBLES */
    int64_t epoch;                       /* epochs completed */
    int64_t step;                        /* optimizer steps taken (names step-*.h5) */
    int64_t step_in_epoch;               /* steps taken within the current epoch */
    int64_t nonfinite_steps;             /* consecutive non-finite steps */
    const char *config_json;             /* the resolved config */
    const double *std_mean, *std_std;    /* [n_features] each, or both NULL */
    int n_features;
    const float *class_weights;          /* [n_classes] or NULL */
    int n_classes;                       /* K >= 1 */
    const char *const *class_names;      /* [n_classes] */
    int n_feature_names;                 /* 0: no /feature_names */
    const char *const *feature_names;    /* [n_feature_names] */
    int n_heads;                         /* 0 (no /heads) .. ST_CKPT_MAX_HEADS */
    const st_ckpt_head_t *heads;         /* [n_heads] */
    const char *dataset_fingerprint;
    int64_t created_unix;                /* 0: now */
} st_ckpt_write_t;

/* A checkpoint read back; owns its arrays (st_ckpt_free). Absent optional arrays are NULL. */
typedef struct {
    char path[4096];
    int format_version;
    st_ckpt_kind_t kind;
    float *params;
    size_t n_params;
    float *buffers;
    size_t n_buffers;
    int n_optim_state;
    char optim_state_names[ST_CKPT_MAX_STATE][ST_CKPT_STATE_NAME_MAX];
    float *optim_state[ST_CKPT_MAX_STATE];   /* each [n_params] */
    int64_t optim_step;
    double sched_state[ST_CKPT_MAX_DOUBLES];
    int n_sched_state;
    double early_stop[ST_CKPT_MAX_DOUBLES];
    int n_early_stop;
    int64_t epoch, step, step_in_epoch, nonfinite_steps;
    char *config_json;
    double *std_mean, *std_std;              /* [n_features] or NULL */
    int n_features;
    float *class_weights;                    /* [n_classes] or NULL */
    int n_classes;
    char **class_names;                      /* [n_classes] */
    int n_feature_names;                     /* 0: the file has no /feature_names */
    char **feature_names;                    /* [n_feature_names] or NULL */
    int n_heads;                             /* 0: a file without /heads (written before issue 13) */
    st_ckpt_head_t heads[ST_CKPT_MAX_HEADS];
    char *dataset_fingerprint;
    int64_t created_unix;
    char created[32];                        /* "2025-01-31T12:00:00Z" */
} st_ckpt_t;

/* The quick look of st_ckpt_peek: root attributes only, no per-dataset checksums verified. */
typedef struct {
    int format_version;
    st_ckpt_kind_t kind;
    int64_t epoch, step, step_in_epoch;
    int64_t created_unix;
} st_ckpt_info_t;

/* Receives one warning or note (a damaged checkpoint skipped, a stale temporary removed, an old
 * checkpoint that could not be deleted); the message names the file. */
typedef void (*st_ckpt_warn_fn)(const char *msg, void *ctx);

const char *st_ckpt_kind_name(st_ckpt_kind_t kind); /* "last", "best", "periodic" */

/* The file name for a checkpoint of `kind` after `step` optimizer steps: "best.h5" or
 * "step-%09lld.h5". Returns 1 when out was too small. */
int st_ckpt_file_name(char *out, size_t size, st_ckpt_kind_t kind, int64_t step);

/* Writes `w` atomically to `path` (see the write protocol above). On failure nothing at `path`
 * has changed and no temporary is left; the message names the file and the step that failed. */
st_status_t st_ckpt_write(const char *path, const st_ckpt_write_t *w, st_error_t *err);

/* Writes `w` into folder `dir` (created if missing, its parent must exist) under its name by
 * kind, then for step files applies retention with keep_last (0 = keep every step file).
 * path_out (may be NULL) gets the file written. A file retention cannot delete is reported
 * through warn (may be NULL) and does not fail the call. */
st_status_t st_ckpt_save(const char *dir, const st_ckpt_write_t *w, int keep_last, char *path_out,
                         size_t path_size, st_ckpt_warn_fn warn, void *warn_ctx, st_error_t *err);

/* Retention on its own: keeps step-<keep_step>.h5 and the newest keep_last-1 step files with a
 * smaller step; deletes every other step-*.h5 (older, or newer than keep_step). keep_last <= 0
 * keeps everything. Unlink failures go to warn; a folder that cannot be listed is an error. */
st_status_t st_ckpt_retain(const char *dir, int keep_last, int64_t keep_step, st_ckpt_warn_fn warn,
                           void *warn_ctx, st_error_t *err);

/* Reads and validates the whole file: the user-block header and the CRC-32 of the whole file
 * (before HDF5 opens it), format version, every dataset present with the expected type and
 * consistent sizes, every checksum. On failure *ck is empty (safe to st_ckpt_free). */
st_status_t st_ckpt_read(const char *path, st_ckpt_t *ck, st_error_t *err);
void st_ckpt_free(st_ckpt_t *ck);

/* Root attributes only (kind, counters), without reading or verifying the arrays through HDF5;
 * the user-block header and the whole-file CRC are verified first, as by st_ckpt_read. */
st_status_t st_ckpt_peek(const char *path, st_ckpt_info_t *info, st_error_t *err);

/* The newest VALID step-*.h5 in `dir` by the step in its name (not by mtime): damaged or foreign
 * files are skipped with a warning naming the file and why; stale *.tmp files of ours are
 * removed with a note. path_out gets "" when there is none (also when `dir` does not exist);
 * that is ST_OK. best.h5 is not considered. */
st_status_t st_ckpt_find_latest(const char *dir, char *path_out, size_t path_size, st_ckpt_warn_fn warn,
                                void *warn_ctx, st_error_t *err);

/* Restores a checkpoint into the trainer's state, checking every size against it (messages name
 * the checkpoint): params [n_params], buffers [n_buffers], the optimizer (state arrays by name
 * and step count) and the schedule (sched may be NULL to skip it). */
st_status_t st_ckpt_restore(const st_ckpt_t *ck, float *params, size_t n_params, float *buffers,
                            size_t n_buffers, st_optim_t *opt, st_sched_t *sched, st_error_t *err);

/* Fills the optimizer and schedule fields of `w` from live objects; sched_buf holds the saved
 * schedule state and must outlive the write. */
void st_ckpt_fill_state(st_ckpt_write_t *w, st_optim_t *opt, const st_sched_t *sched,
                        double sched_buf[ST_SCHED_STATE_LEN]);

#endif
