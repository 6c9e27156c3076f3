/* config.h — the run configuration of `strata train CONFIG.json [--set key.path=value ...]`.
 *
 * A config is one JSON object. Its scalar keys and its sections data, data.split, train,
 * early_stopping, checkpoint and monitors are declared once, in key tables (core/schema.h), which
 * validate them, fill their defaults, reject unknown keys with a suggestion and print the docs
 * (`strata help config`, docs/reference.md). The sub-objects optimizer and schedule are checked
 * at load by their own parsers (st_optim_parse, st_sched_parse) so mistakes surface before any
 * data is read; model and loss need the dataset's shape and classes, so here they are only
 * checked to be an object (model) or an object or list (loss) and the trainer validates them when
 * it builds them (st_model_build, st_loss_heads_parse).
 *
 * Loading: file → JSON (errors give line and column) → "extends" resolved (jobs/config_extends.h:
 * the base configs merged below it) → the --set overrides → validation →
 * st_run_config_t plus the RESOLVED tree: every key of the tables present with its value or
 * default (the sub-objects as written, loss and schedule defaulted), in a fixed key order. The
 * resolved tree written as config.json reproduces the run, and loading it gives the same tree.
 *
 * Every error message names the source and the JSON path:
 *   configs/x.json: train.batch_size: expected a positive integer, got "abc"
 * and says when the value came from --set:
 *   configs/x.json: train.batch_size (--set train.batch_size=abc): expected a positive integer, got "abc"
 *
 * Schedule length: cosine, warmup_cosine and one_cycle need the number of optimizer steps, and so
 * does a warmup_fraction (of any type). When the schedule gives neither T_max nor total_steps (a
 * warmup_fraction: no total_steps) it is the run's length: the config is loaded
 * with sched_needs_total_steps = 1 (and sched.T_max = sched.total_steps = 0, impossible values
 * for a parsed schedule), validated with a stand-in length, and the trainer, once it knows
 * epochs × steps_per_epoch, calls st_config_set_total_steps. The resolved tree keeps the
 * schedule as written: its length is derived from train.epochs and the data again on every load. */
#ifndef ST_CONFIG_H
#define ST_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "mixup.h"
#include "optim.h"
#include "schedule.h"
#include "sharding/augment.h"
#include "sharding/data.h"
#include "st_error.h"

#define ST_CONFIG_PATH_MAX 512

/* What early stopping, the best checkpoint and reduce-on-plateau watch: one recorded validation
 * metric ("val_loss", "val_r2.reward") or a weighted sum of up to ST_MONITOR_TERMS of them
 * ({"val_accuracy.category": 0.5, "val_f1.tools": 0.3}). A name is val_<metric> or
 * val_<metric>.<head>, <metric> one of ST_MONITOR_METRICS; whether the run records it is checked
 * by the job (st_monitor_check), since the heads are known only once the model is built. */
#define ST_MONITOR_TERMS 8
#define ST_MONITOR_METRICS "loss, accuracy, macro_f1, f1, exact_match, topk, mae, rmse, r2, wer, cer, token_accuracy"

typedef struct {
    int n_terms;                        /* 1 for a plain metric name */
    char name[ST_MONITOR_TERMS][64];    /* "val_accuracy.category" */
    double weight[ST_MONITOR_TERMS];    /* 1 for a plain name; finite, != 0 */
    int mode_max;                       /* 1 = a larger value is better (mode "auto" resolved) */
    char text[256];                     /* printable: "0.5*val_accuracy.category + 0.3*val_f1.tools" */
} st_monitor_spec_t;

/* Reads a monitor value at JSON path `key` ("early_stopping.monitor"): a metric name or an
 * object {name: weight}; mode_max is left 0 (see st_monitor_resolve_mode). Errors name `key`. */
st_status_t st_monitor_parse(st_monitor_spec_t *out, const cJSON *v, const char *key, st_error_t *err);

/* Sets m->mode_max from `mode`: "min", "max", or "auto": min for loss, mae, rmse, wer, cer; max for
 * accuracy, macro_f1, f1, exact_match, topk, r2. "auto" fails (ST_ERR_CONFIG, naming `key` and
 * asking for an explicit `mode_key`) for terms that disagree or a negative weight. */
st_status_t st_monitor_resolve_mode(st_monitor_spec_t *m, const char *mode, const char *key, const char *mode_key,
                                    st_error_t *err);

/* ST_OK when every term of m is among recorded[0..n_recorded) (the metric names the run writes
 * to history.jsonl); else ST_ERR_CONFIG naming `key`, the missing name and the recorded ones. */
st_status_t st_monitor_check(const st_monitor_spec_t *m, const char *key, const char *const *recorded, int n_recorded,
                             st_error_t *err);

#define ST_CONFIG_MAX_CATEGORICAL 64

typedef struct {
    char name[64];                      /* the run's name (no '/'): names the run folder */
    uint64_t seed;                      /* every random draw is keyed by it (core/philox.h) */
    char results_dir[ST_CONFIG_PATH_MAX]; /* parent directory of run folders */
    int reproducible_exact;             /* reproducible: "exact" = 1, "fast" = 0 */

    struct {
        char path[ST_CONFIG_PATH_MAX];  /* the HDF5 dataset (docs/data-format.md) */
        uint64_t split_seed;            /* keys the split and shard assignment (default: seed) */
        int shards;                     /* virtual shard count S; 0 = "auto" */
        st_split_options_t split;       /* train/val/test fractions and val_fraction */
        int standardize, scale_pixels, allow_nonfinite;
        char stratify[64];              /* class target the split stratifies on; "" = /y or the only one; "none" */
        int ignore_groups;              /* 1: split row by row even with /groups */
        int n_categorical;              /* feature columns holding integer ids (by index or name) */
        char categorical[ST_CONFIG_MAX_CATEGORICAL][64];
        int bucket_by_length;           /* length-bucketed micro-batches (needs /lengths) */
        int bucket_window;              /* micro-batches per sorting window */
        int repeat;                     /* data.repeat: each training row this many times an epoch */
        int order;                      /* data.order: st_data_order_t ("shuffle", "windowed") */
        long window_rows;               /* data.window_rows: file rows per block of the windowed order */
        int stream;                     /* data.stream: training blocks read as they are needed */
        long memory_budget_mb;          /* data.memory_budget_mb: MiB of blocks per rank when streaming */
    } data;

    struct {
        long epochs;
        long batch_size;                /* global batch: shards × micro_batch × accumulation_steps */
        int accumulation_steps;
        long eval_every;                /* epochs between validation passes */
        double clip_norm;               /* global gradient norm clip; 0 = off */
        int threads;                    /* OpenMP/BLIS threads per rank; 0 = CPUs / ranks on the node */
        int allow_oversubscribe;        /* 1: threads above the rank's CPUs only warn */
        long max_nonfinite_steps;       /* consecutive skipped (non-finite) steps before stopping */
        long divergence_check_every;    /* steps between divergence checks; 0 = off */
        long log_every;                 /* steps between progress lines; 0 = once per epoch */
        double stall_timeout;           /* seconds without progress before a rank ends the job; 0 = off */
        long max_memory_mb;             /* a rank's model memory limit; 0 = the node's available memory / its ranks */
    } train;

    st_optim_config_t optim;            /* parsed "optimizer" */
    st_sched_config_t sched;            /* parsed "schedule" (see the top: T_max / total_steps 0) */
    int sched_needs_total_steps;        /* 1 until st_config_set_total_steps fills the length */

    st_mix_config_t mix;                /* "mixup" and "cutmix" (docs/mixup.md); alpha 0 = off */

    struct {
        int enabled;
        st_monitor_spec_t monitor;      /* monitor.mode_max: early_stopping.mode resolved */
        long patience;                  /* evaluations without improvement before stopping */
        double min_delta;               /* least change that counts as an improvement */
        int restore_best;               /* reload the best weights when stopping */
    } early_stopping;

    struct {
        long every_epochs;              /* 0 = no periodic checkpoints */
        long keep_last;                 /* periodic checkpoints kept; 0 = all */
        int best, last;                 /* keep best.ckpt (by monitor) / last.ckpt */
        st_monitor_spec_t monitor;      /* resolved: checkpoint.monitor, else early_stopping.monitor */
    } checkpoint;

    struct {
        long diversity_every;           /* epochs between prediction-diversity checks; 0 = off */
        double collapse_top_share;      /* warn when the most common prediction's share exceeds it */
        double collapse_min_entropy;    /* warn when the normalised prediction entropy falls below it */
        long per_class_every;           /* epochs between per-class reports; 0 = off */
        double head_share_max;          /* warn when one head's share of the weighted total loss exceeds it */
        double gap_max;                 /* warn when (val_loss - train_loss) / train_loss exceeds it; 0 = off */
    } monitors;

    st_augment_t augment;               /* parsed "augment" (not bound to the data: st_augment_bind) */
    const cJSON *model;                 /* the "model" object inside `json` */
    const cJSON *loss;                  /* the "loss" object or list inside `json` */
    cJSON *json;                        /* owned: the resolved tree */
    char source[256];                   /* file name (or source_name) for messages */
} st_run_config_t;

/* Reads the config file `path`, applies overrides[0..n_overrides) ("key.path=value", see
 * st_config_apply_set), validates. On error *cfg is left empty (st_config_free is safe). */
st_status_t st_config_load(const char *path, const char *const *overrides, int n_overrides,
                           st_run_config_t *cfg, st_error_t *err);

/* The same from JSON text; source_name (may be NULL: "config") names it in messages. */
st_status_t st_config_from_json(const char *json_text, const char *source_name, const char *const *overrides,
                                int n_overrides, st_run_config_t *cfg, st_error_t *err);

void st_config_free(st_run_config_t *cfg);

/* Applies one "key.path=value" override to a config tree (before validation). The value is
 * JSON when it parses as JSON (numbers, true/false, null = the default, arrays, objects,
 * "quoted strings"), else the text itself as a string. Objects are addressed by key, arrays by
 * index (model.layers[2].units); missing objects on the way are created. The path's keys are
 * checked against the key tables as far as they are known (every section; the first key inside
 * optimizer, optimizer.groups[i] and schedule); an unknown one gets the unknown-key error with a
 * suggestion. Errors begin with "--set <argument>: ". */
st_status_t st_config_apply_set(cJSON *root, const char *assignment, st_error_t *err);

/* The resolved tree, formatted (what goes into a run folder's config.json). Free with free(). */
char *st_config_to_json(const st_run_config_t *cfg);

/* Fills the run's length into a schedule that needs it (sched_needs_total_steps): the schedule
 * is parsed again with total_steps = total_steps (so T_max = total_steps - warmup_steps for
 * cosine). No-op when the schedule did not need it. Fails when the run is too short for the
 * warmup. */
st_status_t st_config_set_total_steps(st_run_config_t *cfg, long total_steps, st_error_t *err);

/* The data pipeline's settings (sharding/data.h); out->path points into cfg. */
void st_config_data_options(const st_run_config_t *cfg, st_data_config_t *out);

/* Compares two resolved config trees (e.g. a checkpoint's config.json and the config of a
 * resume). Returns ST_OK when they agree, else ST_ERR_CONFIG with the differing key paths in
 * `out`, comma separated ("train.batch_size, model.layers[2].units"; "..." when it does not
 * fit). A missing key and null are the same; numbers compare exactly. Keys that may differ on a
 * resume are not compared: train.epochs (raise it to train longer), train.threads,
 * train.allow_oversubscribe, train.log_every and train.stall_timeout (they do not change the
 * results). */
st_status_t st_config_diff(const cJSON *a, const cJSON *b, char *out, size_t size);

/* The config's key tables: markdown (docs/reference.md, "Run config") or a terminal listing. */
void st_config_print_help(FILE *out, int markdown);

#endif
