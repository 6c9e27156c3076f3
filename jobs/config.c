/* config.c — the run configuration (see config.h): key tables for the top level and the
 * sections data, data.split, train, early_stopping, checkpoint and monitors; the --set
 * overrides; validation into st_run_config_t plus the resolved tree; the resume diff; the docs.
 *
 * Each key of the tables is bound to the st_run_config_t member it fills (FIELD, core/schema.h
 * ST_FIELD), so reading a section fills its members; validate() keeps only what no single key
 * decides: the name's form, the split's sum, the shard plan, the monitors' modes.
 *
 * Some keys do not fit the schema's fixed types and are read by hand before the table is applied
 * (the table still types, defaults and documents them; the value it sees is a stand-in):
 *   - data.shards: "auto" or a positive integer (declared ST_K_INT, default "auto");
 *   - data.path and results_dir: strings up to ST_CONFIG_PATH_MAX, longer than st_val_t holds;
 *   - early_stopping.monitor and checkpoint.monitor: a metric name or an object of weights
 *     (declared ST_K_STR; st_monitor_parse, jobs/monitor_spec.c). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jobs/config_extends.h"
#include "sharding/shards.h"
#include "sharding/standardize.h"

/* ---- key tables ---- */

/* A key bound with FIELD fills that member of st_run_config_t (core/schema.h, ST_FIELD). */
#define FIELD(member) ST_FIELD(st_run_config_t, member)
#define MAX_INT 9007199254740991.0 /* 2^53 - 1: integers JSON numbers hold exactly */
#define MAX_SHARDS (1 << 24)       /* st_shards_plan's limit */

enum { T_NAME, T_SEED, T_RESULTS, T_REPRO, T_EXTENDS, N_TOP };
static const st_key_t top_keys[N_TOP] = {
    [T_NAME] = {"name", ST_K_STR, NULL, 0, 0, NULL, "the run's name: names its folder under results_dir (no '/')",
                FIELD(name)},
    [T_SEED] = {"seed", ST_K_INT, "0", 0, MAX_INT, NULL,
                "keys every random draw: shuffling, initialisation, dropout, and the split and shards unless "
                "data.split_seed is given (core/philox.h)",
                FIELD(seed)},
    [T_RESULTS] = {"results_dir", ST_K_STR, "\"results\"", 0, 0, NULL,
                   "directory the run folder is created in (relative to the working directory)"},
    [T_REPRO] = {"reproducible", ST_K_ENUM, "\"fast\"", 0, 0, "fast|exact",
                 "exact: bitwise-identical results for a seed at any rank and thread count (fixed-order "
                 "reductions); fast: allows faster kernels whose last bits may vary between runs",
                 FIELD(reproducible_exact)},
    [T_EXTENDS] = {"extends", ST_K_STR, "", 0, 0, NULL,
                   "a config this one starts from (path relative to this file): merged key by key, objects "
                   "recursively, arrays and scalars replaced; chains allowed, cycles refused; config.json holds the "
                   "result (docs/recipes.md)"},
};
/* The top level's sub-objects, in the order of the resolved tree. */
static const char *const top_sections[] = {"data", "train", "optimizer", "schedule", "loss", "model",
                                           "early_stopping", "checkpoint", "monitors", "augment", "mixup", "cutmix", NULL};

enum { D_PATH, D_SHARDS, D_VAL_FRACTION, D_STANDARDIZE, D_SCALE, D_NONFINITE, D_STRATIFY, D_GROUPS, D_CATEGORICAL,
       D_BUCKET, D_BUCKET_WINDOW, D_REPEAT, D_ORDER, D_WINDOW_ROWS, D_STREAM, D_BUDGET, D_SPLIT_SEED, N_DATA };
static const st_key_t data_keys[N_DATA] = {
    [D_PATH] = {"path", ST_K_STR, NULL, 0, 0, NULL, "the HDF5 dataset (docs/data-format.md; strata convert makes one)"},
    [D_SHARDS] = {"shards", ST_K_INT, "\"auto\"", 1, 1e15, NULL,
                  "\"auto\" or a positive integer: virtual shards S, batch_size = S x micro_batch x "
                  "accumulation_steps; auto = the largest S <= 64 giving micro-batches >= 32 (docs/sharding.md)"},
    [D_VAL_FRACTION] = {"val_fraction", ST_K_NUM, "0.1", 0, 1, NULL,
                        "with a predefined split (/split) without val rows: share of its train rows that becomes "
                        "val, in [0, 1); 0 = no val part", FIELD(data.split.val_fraction)},
    [D_STANDARDIZE] = {"standardize", ST_K_BOOL, "true", 0, 0, NULL,
                       "mean/std from the training split, applied to every part: true or \"channel\" = per feature "
                       "of [D], per channel of [T, C]; \"global\" = one over every value; \"position\" = per (t, c); "
                       "false or \"none\" = off"},
    [D_SCALE] = {"scale_pixels", ST_K_BOOL, "false", 0, 0, NULL, "divide features by 255 first (images stored as 0..255)",
                 FIELD(data.scale_pixels)},
    [D_NONFINITE] = {"allow_nonfinite", ST_K_BOOL, "false", 0, 0, NULL,
                     "accept NaN/Inf features (else loading fails naming the first such row)",
                     FIELD(data.allow_nonfinite)},
    [D_STRATIFY] = {"stratify", ST_K_STR, "", 0, 0, NULL,
                    "class target the split and shards stratify on: default /y, or the file's only class target (none in a file without class targets, e.g. only a CTC sequence target); "
                    "\"none\" = no stratification", FIELD(data.stratify)},
    [D_GROUPS] = {"ignore_groups", ST_K_BOOL, "false", 0, 0, NULL,
                  "split row by row even when the file has /groups (default: groups stay whole)",
                  FIELD(data.ignore_groups)},
    [D_CATEGORICAL] = {"categorical_columns", ST_K_INTS, "", 0, 1e9, NULL,
                       "feature columns holding integer ids for embedding layers, by index or name: not "
                       "standardised, checked to be integers in [0, 2^24)"},
    [D_BUCKET] = {"bucket_by_length", ST_K_BOOL, "false", 0, 0, NULL,
                  "group each shard's rows into micro-batches of similar length (the file needs /lengths): every "
                  "micro-batch runs at its own longest length; independent of the rank count (docs/sharding.md)",
                  FIELD(data.bucket_by_length)},
    [D_BUCKET_WINDOW] = {"bucket_window", ST_K_INT, "32", 1, 1e6, NULL,
                         "with bucket_by_length: micro-batches per window of the shuffled order sorted by length "
                         "(larger: closer lengths, less randomness)", FIELD(data.bucket_window)},
    [D_REPEAT] = {"repeat", ST_K_INT, "1", 1, 1e6, NULL,
                  "an epoch shows each training row this many times (occurrence ids id x repeat + r keep their "
                  "shuffling, dropout and augmentation draws apart; docs/augmentation.md)", FIELD(data.repeat)},
    [D_ORDER] = {"order", ST_K_ENUM, "\"shuffle\"", 0, 0, "shuffle|windowed",
                 "each epoch's order of a shard's rows: \"shuffle\" = all of them shuffled; \"windowed\" = the "
                 "file's blocks of window_rows rows in a random order per epoch, each block's rows shuffled "
                 "(reads the file block by block; not with bucket_by_length; docs/streaming.md)", FIELD(data.order)},
    [D_WINDOW_ROWS] = {"window_rows", ST_K_INT, "65536", 1, 1e15, NULL,
                       "with order \"windowed\": rows of the file per block (from here only, never from the rank "
                       "count or a memory budget, so the order is the same for any P)", FIELD(data.window_rows)},
    [D_STREAM] = {"stream", ST_K_BOOL, "false", 0, 0, NULL,
                  "keep only the training rows of the blocks being trained on (and the next), read block by block "
                  "in parallel: for files larger than memory; needs order \"windowed\", gives the same bits as "
                  "in memory (docs/streaming.md)", FIELD(data.stream)},
    [D_BUDGET] = {"memory_budget_mb", ST_K_INT, "1024", 1, 1e9, NULL,
                  "with stream: MiB per rank for the blocks held (refused at start-up, naming the numbers, when "
                  "the window needs more)", FIELD(data.memory_budget_mb)},
    [D_SPLIT_SEED] = {"split_seed", ST_K_INT, "", 0, MAX_INT, NULL,
                      "keys the split and the shard assignment instead of seed (default: seed), so runs that vary "
                      "seed share one split (ensemble members, docs/ensembles.md)", FIELD(data.split_seed)},
};
static const char *const data_sections[] = {"split", NULL};

enum { S_TRAIN, S_VAL, S_TEST, N_SPLIT };
static const st_key_t split_keys[N_SPLIT] = {
    [S_TRAIN] = {"train", ST_K_NUM, "0.81", 0, 1, NULL, "fraction of every class for training (> 0)",
                 FIELD(data.split.train)},
    [S_VAL] = {"val", ST_K_NUM, "0.09", 0, 1, NULL, "fraction for validation (early stopping, checkpoints)",
               FIELD(data.split.val)},
    [S_TEST] = {"test", ST_K_NUM, "0.1", 0, 1, NULL,
                "fraction for the final test; the three sum to 1; not used when the file has /split",
                FIELD(data.split.test)},
};

enum { TR_EPOCHS, TR_BATCH, TR_ACCUM, TR_EVAL, TR_CLIP, TR_THREADS, TR_OVERSUBSCRIBE, TR_NONFINITE, TR_DIVERGENCE, TR_LOG,
       TR_STALL, TR_MAX_MEMORY, N_TRAIN };
static const st_key_t train_keys[N_TRAIN] = {
    [TR_EPOCHS] = {"epochs", ST_K_INT, NULL, 1, 1e15, NULL, "passes over the training split", FIELD(train.epochs)},
    [TR_BATCH] = {"batch_size", ST_K_INT, NULL, 1, 1e15, NULL,
                  "global batch per optimizer step, over all ranks (independent of the rank count)",
                  FIELD(train.batch_size)},
    [TR_ACCUM] = {"accumulation_steps", ST_K_INT, "1", 1, 1e6, NULL,
                  "micro-batches per shard summed into one optimizer step (batch_size must be a multiple)",
                  FIELD(train.accumulation_steps)},
    [TR_EVAL] = {"eval_every", ST_K_INT, "1", 1, 1e15, NULL, "epochs between validation passes",
                 FIELD(train.eval_every)},
    [TR_CLIP] = {"clip_norm", ST_K_NUM, "0", 0, 1e300, NULL, "clip the global gradient norm to this; 0 = off",
                 FIELD(train.clip_norm)},
    [TR_THREADS] = {"threads", ST_K_INT, "0", 0, 4096, NULL,
                    "threads per rank; 0 = the node's CPUs / ranks on the node; more than the CPUs in the rank's "
                    "affinity mask is an error unless allow_oversubscribe", FIELD(train.threads)},
    [TR_OVERSUBSCRIBE] = {"allow_oversubscribe", ST_K_BOOL, "false", 0, 0, NULL,
                          "accept train.threads above the CPUs in the rank's affinity mask, with a warning "
                          "(threads then share cores and spin)", FIELD(train.allow_oversubscribe)},
    [TR_NONFINITE] = {"max_nonfinite_steps", ST_K_INT, "5", 1, 1e15, NULL,
                      "a step with a non-finite loss or gradient is skipped; this many in a row stop the run",
                      FIELD(train.max_nonfinite_steps)},
    [TR_DIVERGENCE] = {"divergence_check_every", ST_K_INT, "100", 0, 1e15, NULL,
                       "steps between replica-divergence checks (ranks compare a hash of their parameters and buffers); 0 = off",
                       FIELD(train.divergence_check_every)},
    [TR_LOG] = {"log_every", ST_K_INT, "100", 0, 1e15, NULL, "steps between progress lines; 0 = once per epoch",
                FIELD(train.log_every)},
    [TR_STALL] = {"stall_timeout", ST_K_NUM, "600", 0, 1e9, NULL,
                  "seconds without progress after which a rank reports where it is and ends the job; 0 = off",
                  FIELD(train.stall_timeout)},
    [TR_MAX_MEMORY] = {"max_memory_mb", ST_K_INT, "0", 0, 1e9, NULL,
                       "the most a rank's model may use (parameters, optimizer state, activations, scratch), in MB; "
                       "0 = what the node can still allocate divided by its ranks; a larger model is refused when "
                       "it is built, naming its largest layer", FIELD(train.max_memory_mb)},
};

enum { ES_ENABLED, ES_MONITOR, ES_MODE, ES_PATIENCE, ES_MIN_DELTA, ES_RESTORE, N_ES };
static const st_key_t es_keys[N_ES] = {
    [ES_ENABLED] = {"enabled", ST_K_BOOL, "false", 0, 0, NULL, "stop when the monitored metric stops improving",
                    FIELD(early_stopping.enabled)},
    [ES_MONITOR] = {"monitor", ST_K_STR, "\"val_loss\"", 0, 0, NULL,
                    "validation metric watched: a name val_<metric> or val_<metric>.<head> (<metric>: "
                    ST_MONITOR_METRICS "), or an object of up to 8 weights {\"val_accuracy.category\": 0.5, "
                    "\"val_r2.reward\": 0.5} watching their weighted sum"},
    [ES_MODE] = {"mode", ST_K_ENUM, "\"auto\"", 0, 0, "auto|min|max",
                 "whether lower or higher is better; auto = min for loss, mae, rmse, wer, cer and max for the others "
                 "(a weighted monitor mixing them, or with a negative weight, needs min or max)"},
    [ES_PATIENCE] = {"patience", ST_K_INT, "10", 1, 1e15, NULL,
                     "evaluations (not epochs) without improvement before stopping", FIELD(early_stopping.patience)},
    [ES_MIN_DELTA] = {"min_delta", ST_K_NUM, "0", 0, 1e300, NULL, "least change of the metric that counts as improvement",
                      FIELD(early_stopping.min_delta)},
    [ES_RESTORE] = {"restore_best", ST_K_BOOL, "true", 0, 0, NULL,
                    "on stopping, return to the weights of the best evaluation", FIELD(early_stopping.restore_best)},
};

enum { CK_EVERY, CK_KEEP, CK_BEST, CK_LAST, CK_MONITOR, CK_MODE, N_CK };
static const st_key_t ck_keys[N_CK] = {
    [CK_EVERY] = {"every_epochs", ST_K_INT, "1", 0, 1e15, NULL, "epochs between periodic checkpoints; 0 = none",
                  FIELD(checkpoint.every_epochs)},
    [CK_KEEP] = {"keep_last", ST_K_INT, "3", 0, 1e15, NULL, "periodic checkpoints kept (older ones deleted); 0 = keep all",
                 FIELD(checkpoint.keep_last)},
    [CK_BEST] = {"best", ST_K_BOOL, "true", 0, 0, NULL, "keep the checkpoint of the best evaluation (by monitor)",
                 FIELD(checkpoint.best)},
    [CK_LAST] = {"last", ST_K_BOOL, "true", 0, 0, NULL, "keep the checkpoint of the last epoch (to resume from)",
                 FIELD(checkpoint.last)},
    [CK_MONITOR] = {"monitor", ST_K_STR, "", 0, 0, NULL,
                    "metric (or object of weights, as early_stopping.monitor) that picks the best checkpoint; "
                    "default early_stopping.monitor"},
    [CK_MODE] = {"mode", ST_K_ENUM, "\"auto\"", 0, 0, "auto|min|max",
                 "whether lower or higher is better; auto = early_stopping.mode for the same monitor, else as "
                 "early_stopping.mode's auto"},
};

enum { MO_DIVERSITY, MO_TOP_SHARE, MO_ENTROPY, MO_PER_CLASS, MO_HEAD_SHARE, MO_GAP, N_MO };
static const st_key_t mo_keys[N_MO] = {
    [MO_DIVERSITY] = {"diversity_every", ST_K_INT, "1", 0, 1e15, NULL,
                      "epochs between prediction-diversity checks on the val split (collapse warnings); 0 = off",
                      FIELD(monitors.diversity_every)},
    [MO_TOP_SHARE] = {"collapse_top_share", ST_K_NUM, "0.9", 0, 1, NULL,
                      "warn when the most common predicted class has more than this share of predictions",
                      FIELD(monitors.collapse_top_share)},
    [MO_ENTROPY] = {"collapse_min_entropy", ST_K_NUM, "0.2", 0, 1, NULL,
                    "warn when the entropy of the predicted-class distribution, divided by log K, falls below this",
                    FIELD(monitors.collapse_min_entropy)},
    [MO_PER_CLASS] = {"per_class_every", ST_K_INT, "5", 0, 1e15, NULL,
                      "epochs between per-class precision/recall reports; 0 = off", FIELD(monitors.per_class_every)},
    [MO_HEAD_SHARE] = {"head_share_max", ST_K_NUM, "0.9", 0, 1, NULL,
                       "several heads: warn when one head's share of the weighted total loss exceeds this, in (0, 1]",
                       FIELD(monitors.head_share_max)},
    [MO_GAP] = {"gap_max", ST_K_NUM, "0.5", 0, 1e300, NULL,
                "warn when (val_loss - train_loss) / train_loss exceeds this (overfitting); 0 = off",
                FIELD(monitors.gap_max)},
};

/* mixup and cutmix (docs/mixup.md): present = on; alpha > 0 is checked in validate(). */
enum { MX_ALPHA, MX_P, N_MX };
static const st_key_t mixup_keys[N_MX] = {
    [MX_ALPHA] = {"alpha", ST_K_NUM, NULL, 0, 1e6, NULL, "> 0: each mixed row's share lambda ~ Beta(alpha, alpha)",
                  FIELD(mix.mixup.alpha)},
    [MX_P] = {"p", ST_K_NUM, "1", 0, 1, NULL, "probability that a row is mixed (else lambda = 1)", FIELD(mix.mixup.p)},
};
static const st_key_t cutmix_keys[N_MX] = {
    [MX_ALPHA] = {"alpha", ST_K_NUM, NULL, 0, 1e6, NULL,
                  "> 0: a span of round((1 - b) x length) positions comes from the partner, b ~ Beta(alpha, alpha); "
                  "lambda = 1 - span / length", FIELD(mix.cutmix.alpha)},
    [MX_P] = {"p", ST_K_NUM, "1", 0, 1, NULL, "probability that a row is cut-mixed (a row that is not may be mixed up)",
              FIELD(mix.cutmix.p)},
};

typedef struct {
    const char *path;                  /* "" for the top level */
    const char *help;
    const st_key_t *keys;
    int n_keys;
    const char *const *sections;       /* sub-object keys read separately */
} section_t;

enum { MAX_SECTION_KEYS = 24 };
enum { SEC_TOP, SEC_DATA, SEC_SPLIT, SEC_TRAIN, SEC_ES, SEC_CK, SEC_MO, SEC_MIXUP, SEC_CUTMIX, N_SEC };
static const section_t sections[N_SEC] = {
    [SEC_TOP] = {"", "the top level of a config", top_keys, N_TOP, top_sections},
    [SEC_DATA] = {"data", "the dataset, its split and preprocessing (docs/sharding.md)", data_keys, N_DATA, data_sections},
    [SEC_SPLIT] = {"data.split", "stratified train/val/test fractions (docs/sharding.md, \"Split\")", split_keys, N_SPLIT, NULL},
    [SEC_TRAIN] = {"train", "the training loop", train_keys, N_TRAIN, NULL},
    [SEC_ES] = {"early_stopping", "stop when a validation metric stops improving", es_keys, N_ES, NULL},
    [SEC_CK] = {"checkpoint", "checkpoints written into the run folder", ck_keys, N_CK, NULL},
    [SEC_MO] = {"monitors", "training-health checks on the validation predictions", mo_keys, N_MO, NULL},
    [SEC_MIXUP] = {"mixup", "mix pairs of training rows within each shard's micro-batch (docs/mixup.md); absent = off",
                   mixup_keys, N_MX, NULL},
    [SEC_CUTMIX] = {"cutmix", "sequences: a span of positions from a partner row (docs/mixup.md); absent = off",
                    cutmix_keys, N_MX, NULL},
};

/* The sub-objects that are not key tables of this file. */
static const struct {
    const char *key, *type, *def, *help;
} sub_objects[] = {
    {"data", "object", "required", "see `data` below"},
    {"train", "object", "required", "see `train` below"},
    {"optimizer", "object", "required", "see Optimizer; checked when the config is loaded"},
    {"schedule", "object", "{\"type\": \"constant\"}",
     "see LR schedule; cosine, warmup_cosine and one_cycle without T_max / total_steps run over the whole run"},
    {"loss", "object or list", "{\"type\": \"cross_entropy\"}", "see Losses; checked when the trainer builds it"},
    {"model", "object", "required", "see Layers and docs/model.md; checked when the trainer builds it (needs the data's shape)"},
    {"early_stopping", "object", "{}", "see `early_stopping` below"},
    {"checkpoint", "object", "{}", "see `checkpoint` below"},
    {"monitors", "object", "{}", "see `monitors` below"},
    {"augment", "list", "[]", "on-the-fly augmentation of training rows: [{\"op\": ..., \"p\": ...}, ...]; see "
     "docs/augmentation.md; checked when the config is loaded, against the data when the trainer starts"},
    {"mixup", "object", "absent (off)", "see `mixup` below"},
    {"cutmix", "object", "absent (off)", "see `cutmix` below"},
};

/* ---- small helpers ---- */

static const cJSON *item(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static void describe_got(const cJSON *v, char *buf, size_t size) {
    char *txt = cJSON_PrintUnformatted(v);
    snprintf(buf, size, "%s", txt ? txt : "?");
    if (strlen(buf) > 60) strcpy(buf + 57, "...");
    cJSON_free(txt);
}

/* The schema formats top-level paths as ".name: ..." and ": unknown key ..."; drop the stub. */
static void fix_top_path(st_error_t *err) {
    if (!err) return;
    size_t skip = err->msg[0] == '.' ? 1 : strncmp(err->msg, ": ", 2) == 0 ? 2 : 0;
    if (skip) memmove(err->msg, err->msg + skip, strlen(err->msg + skip) + 1);
}

static const char *section_path(const section_t *s, const char *key, char *buf, size_t size) {
    if (s->path[0]) snprintf(buf, size, "%s.%s", s->path, key);
    else snprintf(buf, size, "%s", key);
    return buf;
}

/* ---- reading one section ---- */

/* The keys of a section read by hand, before the table: checks them and puts a stand-in the
 * table accepts into `work`. */
/* data.standardize: true/false, or "channel", "global", "position", "none" (st_std_mode_t). */
static st_status_t read_standardize(const cJSON *v, cJSON *work, st_run_config_t *cfg, st_error_t *err) {
    static const char *const modes[] = {"none", "channel", "global", "position"};
    cfg->data.standardize = ST_STD_CHANNEL;
    if (!v || cJSON_IsBool(v)) {
        cfg->data.standardize = !v || cJSON_IsTrue(v) ? ST_STD_CHANNEL : ST_STD_NONE;
        return ST_OK;
    }
    for (int m = 0; cJSON_IsString(v) && m < 4; m++)
        if (strcmp(v->valuestring, modes[m]) == 0) {
            cfg->data.standardize = m;
            /* the schema sees a stand-in; the resolved config keeps the user's string */
            cJSON_ReplaceItemInObjectCaseSensitive(work, "standardize", cJSON_CreateBool(m != ST_STD_NONE));
            return ST_OK;
        }
    char got[80];
    describe_got(v, got, sizeof got);
    return st_fail(err, ST_ERR_CONFIG, "data.standardize: expected true, false, \"channel\", \"global\", \"position\" "
                   "or \"none\", got %s", got);
}

/* data.categorical_columns: a list of column indices (integers >= 0) or feature names, kept as
 * text; sharding/data.c resolves names against the dataset. */
static st_status_t read_categorical(const cJSON *v, cJSON *work, st_run_config_t *cfg, st_error_t *err) {
    if (!v) return ST_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > ST_CONFIG_MAX_CATEGORICAL)
        return st_fail(err, ST_ERR_CONFIG, "data.categorical_columns: expected a list of at most %d column indices or "
                       "feature names", ST_CONFIG_MAX_CATEGORICAL);
    const cJSON *e;
    cfg->data.n_categorical = 0;
    cJSON_ArrayForEach(e, v) {
        char *dst = cfg->data.categorical[cfg->data.n_categorical++];
        if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < 1e9 && e->valuedouble == floor(e->valuedouble))
            st_format(dst, 64, "%d", (int)e->valuedouble);
        else if (cJSON_IsString(e) && e->valuestring[0] && strlen(e->valuestring) < 64 &&
                 strspn(e->valuestring, "0123456789") != strlen(e->valuestring))
            st_format(dst, 64, "%s", e->valuestring);
        else
            return st_fail(err, ST_ERR_CONFIG, "data.categorical_columns[%d]: expected a column index (an integer >= 0) "
                           "or a feature name", cfg->data.n_categorical - 1);
    }
    /* read here; the schema sees a stand-in, so the resolved config keeps the user's list */
    cJSON_ReplaceItemInObjectCaseSensitive(work, "categorical_columns", cJSON_CreateIntArray((const int[]){0}, 1));
    return ST_OK;
}

static st_status_t read_by_hand(const section_t *s, const cJSON *obj, cJSON *work, st_run_config_t *cfg,
                                st_error_t *err) {
    char p[128];
    for (int i = 0; i < s->n_keys; i++) {
        const st_key_t *k = &s->keys[i];
        const cJSON *v = item(obj, k->key);
        char *dst = s->keys == data_keys && i == D_PATH      ? cfg->data.path
                    : s->keys == top_keys && i == T_RESULTS ? cfg->results_dir
                                                            : NULL; /* a long string */
        int shards = s->keys == data_keys && i == D_SHARDS;
        if (s->keys == data_keys && i == D_CATEGORICAL) ST_TRY(read_categorical(v, work, cfg, err));
        if (s->keys == data_keys && i == D_STANDARDIZE) ST_TRY(read_standardize(v, work, cfg, err));
        st_monitor_spec_t *monitor = s->keys == es_keys && i == ES_MONITOR  ? &cfg->early_stopping.monitor
                                     : s->keys == ck_keys && i == CK_MONITOR ? &cfg->checkpoint.monitor
                                                                             : NULL;
        if (monitor && (v || k->def[0])) { /* a name or an object, else the default name */
            cJSON *def = v ? NULL : cJSON_Parse(k->def);
            st_status_t rc = st_monitor_parse(monitor, v ? v : def, section_path(s, k->key, p, sizeof p), err);
            cJSON_Delete(def);
            if (rc != ST_OK) return rc;
            if (v) cJSON_ReplaceItemInObjectCaseSensitive(work, k->key, cJSON_CreateString("-"));
        }
        if (dst && cJSON_IsString(v)) {
            size_t n = strlen(v->valuestring);
            if (n == 0)
                return st_fail(err, ST_ERR_CONFIG, "%s: expected a non-empty string", section_path(s, k->key, p, sizeof p));
            if (n >= ST_CONFIG_PATH_MAX)
                return st_fail(err, ST_ERR_CONFIG, "%s: longer than %d characters", section_path(s, k->key, p, sizeof p),
                               ST_CONFIG_PATH_MAX - 1);
            memcpy(dst, v->valuestring, n + 1);
            cJSON_ReplaceItemInObjectCaseSensitive(work, k->key, cJSON_CreateString("-"));
        }
        if (shards) {
            if (!v || (cJSON_IsString(v) && strcmp(v->valuestring, "auto") == 0)) cfg->data.shards = 0;
            else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= 1 &&
                     v->valuedouble <= MAX_SHARDS)
                cfg->data.shards = (int)v->valuedouble;
            else {
                char got[80];
                describe_got(v, got, sizeof got);
                return st_fail(err, ST_ERR_CONFIG, "data.shards: expected \"auto\" or an integer in [1, %d], got %s",
                               MAX_SHARDS, got);
            }
            cJSON_DeleteItemFromObjectCaseSensitive(work, k->key);
            cJSON_AddItemToObject(work, k->key, cJSON_CreateNumber(1));
        }
    }
    return ST_OK;
}

/* Validates section s of the config (obj may be NULL: all defaults), fills the members its keys
 * are bound to, copies the values into vals (may be NULL) for the keys validate() resolves by
 * hand, and builds the section's resolved object: the table's keys in table order, each as
 * given or as its default. */
static st_status_t read_section(const section_t *s, const cJSON *obj, st_val_t *vals, cJSON **resolved,
                                st_run_config_t *cfg, st_error_t *err) {
    *resolved = NULL;
    st_val_t read_vals[MAX_SECTION_KEYS];
    if (s->n_keys > MAX_SECTION_KEYS)
        return st_fail(err, ST_ERR_INTERNAL, "%s: more than %d keys in its table", s->path, MAX_SECTION_KEYS);
    if (obj && !cJSON_IsObject(obj)) {
        char got[80];
        describe_got(obj, got, sizeof got);
        return st_fail(err, ST_ERR_CONFIG, "%s: expected an object, got %s", s->path, got);
    }
    cJSON *work = obj ? cJSON_Duplicate(obj, 1) : cJSON_CreateObject();
    if (!work) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", s->path);
    st_status_t rc = read_by_hand(s, obj, work, cfg, err);
    if (rc == ST_OK) rc = st_schema_read(s->keys, s->n_keys, work, s->path, s->sections, read_vals, err);
    if (rc == ST_OK) rc = st_schema_fill(s->keys, s->n_keys, read_vals, s->path, cfg, err);
    cJSON_Delete(work);
    if (rc != ST_OK) {
        if (!s->path[0]) fix_top_path(err);
        return rc;
    }
    if (vals) memcpy(vals, read_vals, sizeof read_vals[0] * (size_t)s->n_keys);
    cJSON *out = cJSON_CreateObject();
    for (int i = 0; i < s->n_keys; i++) {
        if (!read_vals[i].is_set) continue;
        const cJSON *v = item(obj, s->keys[i].key);
        cJSON_AddItemToObject(out, s->keys[i].key, v ? cJSON_Duplicate(v, 1) : cJSON_Parse(s->keys[i].def));
    }
    *resolved = out;
    return ST_OK;
}

/* ---- schedule ---- */

/* warmup_epochs E in the schedule copy becomes warmup_steps round(E × steps per epoch), at least 1
 * when E > 0; steps_per_epoch 0 (not known yet) uses a stand-in that validates the rest. */
static st_status_t warmup_epochs_to_steps(cJSON *copy, long steps_per_epoch, st_error_t *err) {
    const cJSON *e = item(copy, "warmup_epochs");
    if (!e) return ST_OK;
    if (item(copy, "warmup_steps") || item(copy, "warmup_fraction"))
        return st_fail(err, ST_ERR_CONFIG, "schedule.warmup_epochs: give one of warmup_steps, warmup_fraction and "
                       "warmup_epochs");
    if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) || e->valuedouble > 1e9) {
        char got[80];
        describe_got(e, got, sizeof got);
        return st_fail(err, ST_ERR_CONFIG, "schedule.warmup_epochs: expected a number >= 0, got %s", got);
    }
    double steps = e->valuedouble * (double)(steps_per_epoch > 0 ? steps_per_epoch : 1);
    long w = e->valuedouble > 0 && steps < 1 ? 1 : (long)llround(steps);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "warmup_epochs");
    cJSON_AddItemToObject(copy, "warmup_steps", cJSON_CreateNumber((double)w));
    return ST_OK;
}

/* Parses the schedule for a run of total_steps optimizer steps (0: not known yet). The run's
 * length is added as total_steps when the schedule needs a length and gives none (cosine,
 * one_cycle, warmup_fraction), and warmup_epochs becomes warmup_steps. Without the length, a
 * stand-in validates the schedule and the config is marked (sched_needs_total_steps; when the
 * length itself was missing, T_max = total_steps = 0). */
static st_status_t parse_schedule(st_run_config_t *cfg, const cJSON *obj, long total_steps, st_error_t *err) {
    cfg->sched_needs_total_steps = 0;
    const cJSON *type = item(obj, "type");
    int cosine = cJSON_IsString(type) &&
                 (strcmp(type->valuestring, "cosine") == 0 || strcmp(type->valuestring, "warmup_cosine") == 0);
    int one_cycle = cJSON_IsString(type) && strcmp(type->valuestring, "one_cycle") == 0;
    int needs_length = cJSON_IsObject(obj) && !item(obj, "total_steps") &&
                       (((cosine || one_cycle) && !(cosine && item(obj, "T_max"))) || item(obj, "warmup_fraction"));
    int needs_epoch = cJSON_IsObject(obj) && item(obj, "warmup_epochs");
    if (!needs_length && !needs_epoch) return st_sched_parse(obj, "schedule", &cfg->sched, err);

    cJSON *copy = cJSON_Duplicate(obj, 1);
    if (!copy) return st_fail(err, ST_ERR_NOMEM, "schedule: out of memory");
    st_status_t rc = warmup_epochs_to_steps(copy, total_steps > 0 ? total_steps / cfg->train.epochs : 0, err);
    if (rc == ST_OK && needs_length) {
        long length = total_steps;
        if (length <= 0) { /* stand-in: long enough for any warmup the parser accepts */
            const cJSON *w = item(copy, "warmup_steps");
            length = 1000000 + (cJSON_IsNumber(w) && w->valuedouble > 0 && w->valuedouble < 1e15 ? (long)w->valuedouble : 0);
        }
        cJSON_AddItemToObject(copy, "total_steps", cJSON_CreateNumber((double)length));
    }
    if (rc == ST_OK) rc = st_sched_parse(copy, "schedule", &cfg->sched, err);
    cJSON_Delete(copy);
    if (rc != ST_OK) return rc;
    if (total_steps <= 0) {
        cfg->sched_needs_total_steps = 1;
        if (needs_length) cfg->sched.T_max = 0, cfg->sched.total_steps = 0;
    }
    return ST_OK;
}

/* reduce_on_plateau watches the checkpoint monitor (jobs/decide.c); a schedule that does not
 * give its "mode" takes that monitor's direction (the schedule parser's own default is min). */
static void plateau_follows_monitor(st_run_config_t *cfg, const cJSON *sched) {
    if (cfg->sched.type == ST_SCHED_PLATEAU && !item(sched, "mode")) cfg->sched.mode_max = cfg->checkpoint.monitor.mode_max;
}

/* The warmup the schedule asks for, in steps, for a run of total_steps (before parsing it). */
static long warmup_wanted(const st_run_config_t *cfg, const cJSON *obj, long total_steps) {
    const cJSON *w = item(obj, "warmup_steps"), *e = item(obj, "warmup_epochs"), *f = item(obj, "warmup_fraction");
    if (cJSON_IsNumber(w)) return (long)w->valuedouble;
    if (cJSON_IsNumber(e)) return (long)llround(e->valuedouble * (double)(total_steps / cfg->train.epochs));
    if (cJSON_IsNumber(f)) return (long)llround(f->valuedouble * (double)total_steps);
    return 0;
}

st_status_t st_config_set_total_steps(st_run_config_t *cfg, long total_steps, st_error_t *err) {
    if (total_steps < 1)
        return st_fail(err, ST_ERR_CONFIG, "schedule: the run has %ld optimizer steps; a schedule needs at least 1",
                       total_steps);
    const cJSON *obj = item(cfg->json, "schedule");
    long warmup = warmup_wanted(cfg, obj, total_steps);
    if (warmup >= total_steps)
        return st_fail(err, ST_ERR_CONFIG, "schedule: a warmup of %ld steps does not fit this run of %ld optimizer steps "
                       "(train.epochs %ld x %ld steps per epoch): give warmup_fraction or warmup_epochs (they scale with "
                       "the data), fewer warmup steps, or more epochs", warmup, total_steps, cfg->train.epochs,
                       total_steps / cfg->train.epochs);
    if (!cfg->sched_needs_total_steps) return ST_OK;
    st_status_t rc = parse_schedule(cfg, obj, total_steps, err);
    if (rc != ST_OK) {
        cfg->sched_needs_total_steps = 1;
        st_error_prefix(err, "the run's length (%ld optimizer steps) as schedule.total_steps", total_steps);
    }
    if (rc == ST_OK) plateau_follows_monitor(cfg, obj);
    return rc;
}

/* ---- validation of a whole tree ---- */

static st_status_t check_name(const char *name, st_error_t *err) {
    if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return st_fail(err, ST_ERR_CONFIG, "name: expected a folder name (not empty, no '/'), got \"%s\"", name);
    return ST_OK;
}

/* The monitors' directions (st_monitor_resolve_mode). checkpoint.monitor defaults to
 * early_stopping.monitor, which the resolved tree then states; with mode "auto" a checkpoint
 * watching the same as early stopping takes early_stopping's direction. */
static st_status_t resolve_monitors(st_run_config_t *cfg, const st_val_t *es, const st_val_t *ck, const cJSON *r_es,
                                    cJSON *r_ck, st_error_t *err) {
    st_monitor_spec_t *e = &cfg->early_stopping.monitor, *c = &cfg->checkpoint.monitor;
    ST_TRY(st_monitor_resolve_mode(e, es[ES_MODE].s, "early_stopping.monitor", "early_stopping.mode", err));
    if (!ck[CK_MONITOR].is_set) {
        *c = *e;
        cJSON_AddItemToObject(r_ck, "monitor", cJSON_Duplicate(item(r_es, "monitor"), 1));
        cJSON_AddItemToObject(r_ck, "mode", cJSON_DetachItemFromObjectCaseSensitive(r_ck, "mode")); /* table order */
    }
    if (strcmp(ck[CK_MODE].s, "auto") == 0 && strcmp(c->text, e->text) == 0) {
        c->mode_max = e->mode_max;
        return ST_OK;
    }
    return st_monitor_resolve_mode(c, ck[CK_MODE].s, "checkpoint.monitor", "checkpoint.mode", err);
}

/* What the monitors section's bounds cannot say: head_share_max > 0. */
static st_status_t check_monitors_section(const st_run_config_t *cfg, st_error_t *err) {
    if (!(cfg->monitors.head_share_max > 0))
        return st_fail(err, ST_ERR_CONFIG, "monitors.head_share_max: expected a number in (0, 1], got %g",
                       cfg->monitors.head_share_max);
    return ST_OK;
}

/* "mixup" and "cutmix", each read only when given (absent = off, and the resolved tree of a
 * config without them does not change); alpha must be > 0. What needs the data and the losses
 * (cutmix on sequences, no ctc head) is st_mix_check's, when the trainer builds them. */
static st_status_t read_mix(const cJSON *root, st_run_config_t *cfg, cJSON *resolved[2], st_error_t *err) {
    const int sec[2] = {SEC_MIXUP, SEC_CUTMIX};
    for (int k = 0; k < 2; k++) {
        const section_t *s = &sections[sec[k]];
        const cJSON *obj = item(root, s->path);
        if (!obj) continue;
        ST_TRY(read_section(s, obj, NULL, &resolved[k], cfg, err));
        const st_mix_opts_t *o = k == 0 ? &cfg->mix.mixup : &cfg->mix.cutmix;
        if (!(o->alpha > 0))
            return st_fail(err, ST_ERR_CONFIG, "%s.alpha: expected a number > 0 (lambda ~ Beta(alpha, alpha)), got %g",
                           s->path, o->alpha);
    }
    return ST_OK;
}

/* Reads the tree into cfg: the key tables fill the members their keys are bound to; what is left
 * here is what no single key decides (name, results_dir's default, the split's sum, the shard
 * plan, the monitors' modes, the plateau's direction) and the sub-objects with parsers of their own. */
static st_status_t validate(cJSON *root, st_run_config_t *cfg, st_error_t *err) {
    st_val_t es[N_ES], ck[N_CK];
    cJSON *r_top = NULL, *r_data = NULL, *r_split = NULL, *r_train = NULL, *r_es = NULL, *r_ck = NULL, *r_mo = NULL;
    cJSON *r_mix[2] = {NULL, NULL};
    cJSON *resolved = NULL;
    st_status_t rc;
#define TRY(call)                    \
    do {                             \
        if ((rc = (call)) != ST_OK) goto fail; \
    } while (0)

    if (!cJSON_IsObject(root)) {
        char got[80];
        describe_got(root, got, sizeof got);
        rc = st_fail(err, ST_ERR_CONFIG, "expected a JSON object at the top level, got %s", got);
        goto fail;
    }
    TRY(read_section(&sections[SEC_TOP], root, NULL, &r_top, cfg, err));
    TRY(check_name(cfg->name, err));
    if (!item(root, "results_dir")) snprintf(cfg->results_dir, sizeof cfg->results_dir, "results");

    /* data */
    const cJSON *data = item(root, "data");
    if (!data) {
        rc = st_fail(err, ST_ERR_CONFIG, "data: required key is missing");
        goto fail;
    }
    TRY(read_section(&sections[SEC_DATA], data, NULL, &r_data, cfg, err));
    if (!item(data, "split_seed")) cfg->data.split_seed = cfg->seed; /* left out of the resolved tree */
    TRY(read_section(&sections[SEC_SPLIT], item(data, "split"), NULL, &r_split, cfg, err));
    cJSON_AddItemToObject(r_data, "split", r_split);
    r_split = NULL;
    const st_split_options_t *so = &cfg->data.split;
    if (!(so->train > 0)) {
        rc = st_fail(err, ST_ERR_CONFIG, "data.split.train: expected a number in (0, 1], got 0");
        goto fail;
    }
    if (fabs(so->train + so->val + so->test - 1) > 1e-6) {
        rc = st_fail(err, ST_ERR_CONFIG, "data.split: train + val + test must be 1, got %g + %g + %g = %g", so->train,
                     so->val, so->test, so->train + so->val + so->test);
        goto fail;
    }
    if (!(so->val_fraction < 1)) {
        rc = st_fail(err, ST_ERR_CONFIG, "data.val_fraction: expected a number in [0, 1), got %g", so->val_fraction);
        goto fail;
    }

    /* train */
    const cJSON *train = item(root, "train");
    if (!train) {
        rc = st_fail(err, ST_ERR_CONFIG, "train: required key is missing");
        goto fail;
    }
    TRY(read_section(&sections[SEC_TRAIN], train, NULL, &r_train, cfg, err));
    {
        int S, micro;
        if ((rc = st_shards_plan(&S, &micro, cfg->train.batch_size, cfg->train.accumulation_steps, cfg->data.shards, -1,
                                 err)) != ST_OK) {
            st_error_prefix(err, cfg->train.batch_size % cfg->train.accumulation_steps ? "train.batch_size" : "data.shards");
            goto fail;
        }
    }

    /* optimizer, schedule, loss, model */
    const cJSON *optim = item(root, "optimizer");
    if (!optim) {
        rc = st_fail(err, ST_ERR_CONFIG, "optimizer: required key is missing");
        goto fail;
    }
    TRY(st_optim_parse(optim, "optimizer", &cfg->optim, err));
    if (!(cfg->optim.lr > 0) || !isfinite(cfg->optim.lr)) { /* the schedule starts from it */
        rc = st_fail(err, ST_ERR_CONFIG, "optimizer.lr: expected a finite number > 0 (the schedule's initial learning rate), "
                     "got %g", cfg->optim.lr);
        goto fail;
    }
    const cJSON *sched = item(root, "schedule");
    cJSON *sched_default = sched ? NULL : cJSON_Parse("{\"type\": \"constant\"}");
    rc = parse_schedule(cfg, sched ? sched : sched_default, 0, err);
    if (rc != ST_OK) {
        cJSON_Delete(sched_default);
        goto fail;
    }
    const cJSON *loss = item(root, "loss");
    if (loss && !(cJSON_IsObject(loss) || (cJSON_IsArray(loss) && cJSON_GetArraySize(loss) > 0))) {
        char got[80];
        describe_got(loss, got, sizeof got);
        rc = st_fail(err, ST_ERR_CONFIG, "loss: expected an object or a non-empty list of objects, got %s", got);
        cJSON_Delete(sched_default);
        goto fail;
    }
    const cJSON *model = item(root, "model");
    if (!model || !cJSON_IsObject(model)) {
        char got[80];
        if (model) describe_got(model, got, sizeof got);
        rc = model ? st_fail(err, ST_ERR_CONFIG, "model: expected an object (docs/model.md), got %s", got)
                   : st_fail(err, ST_ERR_CONFIG, "model: required key is missing");
        cJSON_Delete(sched_default);
        goto fail;
    }

    /* early stopping, checkpoint, monitors */
    rc = read_section(&sections[SEC_ES], item(root, "early_stopping"), es, &r_es, cfg, err);
    if (rc == ST_OK) rc = read_section(&sections[SEC_CK], item(root, "checkpoint"), ck, &r_ck, cfg, err);
    if (rc == ST_OK) rc = read_section(&sections[SEC_MO], item(root, "monitors"), NULL, &r_mo, cfg, err);
    if (rc != ST_OK) {
        cJSON_Delete(sched_default);
        goto fail;
    }
    rc = resolve_monitors(cfg, es, ck, r_es, r_ck, err);
    if (rc == ST_OK) rc = check_monitors_section(cfg, err);
    if (rc != ST_OK) {
        cJSON_Delete(sched_default);
        goto fail;
    }
    plateau_follows_monitor(cfg, sched ? sched : sched_default);
    const cJSON *augment = item(root, "augment");
    if ((rc = st_augment_parse(&cfg->augment, augment, "augment", err)) != ST_OK) {
        cJSON_Delete(sched_default);
        goto fail;
    }
    if ((rc = read_mix(root, cfg, r_mix, err)) != ST_OK) {
        cJSON_Delete(sched_default);
        goto fail;
    }

    /* the resolved tree, in a fixed order */
    resolved = r_top;
    r_top = NULL;
    cJSON_AddItemToObject(resolved, "data", r_data);
    cJSON_AddItemToObject(resolved, "train", r_train);
    cJSON_AddItemToObject(resolved, "optimizer", cJSON_Duplicate(optim, 1));
    cJSON_AddItemToObject(resolved, "schedule", sched ? cJSON_Duplicate(sched, 1) : sched_default);
    cJSON_AddItemToObject(resolved, "loss", loss ? cJSON_Duplicate(loss, 1) : cJSON_Parse("{\"type\": \"cross_entropy\"}"));
    cJSON_AddItemToObject(resolved, "model", cJSON_Duplicate(model, 1));
    cJSON_AddItemToObject(resolved, "early_stopping", r_es);
    cJSON_AddItemToObject(resolved, "checkpoint", r_ck);
    cJSON_AddItemToObject(resolved, "monitors", r_mo);
    if (augment) cJSON_AddItemToObject(resolved, "augment", cJSON_Duplicate(augment, 1)); /* absent: none */
    if (r_mix[0]) cJSON_AddItemToObject(resolved, "mixup", r_mix[0]);
    if (r_mix[1]) cJSON_AddItemToObject(resolved, "cutmix", r_mix[1]);
    cfg->json = resolved;
    cfg->model = item(resolved, "model");
    cfg->loss = item(resolved, "loss");
    return ST_OK;

fail:
    cJSON_Delete(r_top), cJSON_Delete(r_data), cJSON_Delete(r_split), cJSON_Delete(r_train);
    cJSON_Delete(r_es), cJSON_Delete(r_ck), cJSON_Delete(r_mo), cJSON_Delete(r_mix[0]), cJSON_Delete(r_mix[1]);
    return rc;
#undef TRY
}

/* ---- --set ---- */

enum { MAX_TOKENS = 32 };
typedef struct {
    char key[128]; /* "" for an index */
    long index;
} token_t;

static st_status_t parse_path(token_t *tok, int *n_tok, const char *path, const char *arg, st_error_t *err) {
    int n = 0;
    const char *p = path;
    for (;;) {
        if (n == MAX_TOKENS) return st_fail(err, ST_ERR_CONFIG, "--set %s: key path too deep", arg);
        size_t len = strcspn(p, ".[]");
        if (len == 0 || len >= sizeof tok[n].key)
            return st_fail(err, ST_ERR_CONFIG, "--set %s: bad key path \"%s\" (expected key.key[index]...)", arg, path);
        memcpy(tok[n].key, p, len);
        tok[n].key[len] = 0;
        n++;
        p += len;
        while (*p == '[') {
            char *end;
            errno = 0;
            long i = strtol(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || i < 0 || errno || n == MAX_TOKENS)
                return st_fail(err, ST_ERR_CONFIG, "--set %s: bad key path \"%s\" (expected key.key[index]...)", arg, path);
            tok[n].key[0] = 0;
            tok[n].index = i;
            n++;
            p = end + 1;
        }
        if (*p == 0) break;
        if (*p != '.')
            return st_fail(err, ST_ERR_CONFIG, "--set %s: bad key path \"%s\" (expected key.key[index]...)", arg, path);
        p++;
    }
    *n_tok = n;
    return ST_OK;
}

static int in_list(const char *key, const char *const *list) {
    for (int i = 0; list && list[i]; i++)
        if (strcmp(list[i], key) == 0) return 1;
    return 0;
}

/* ST_OK when `key` is in the table (or `extra`); else the schema's own unknown-key error. */
static st_status_t check_known(const st_key_t *keys, int n_keys, const char *const *extra, const char *path,
                               const char *key, st_error_t *err) {
    if (st_schema_find(keys, n_keys, key) >= 0 || in_list(key, extra)) return ST_OK;
    cJSON *probe = cJSON_CreateObject();
    cJSON_AddItemToObject(probe, key, cJSON_CreateNull());
    st_val_t vals[64];
    st_status_t rc = st_schema_read(keys, n_keys, probe, path, extra, vals, err);
    cJSON_Delete(probe);
    if (rc == ST_OK) rc = st_fail(err, ST_ERR_CONFIG, "%s: unknown key \"%s\"", path, key);
    if (!path[0]) fix_top_path(err);
    return rc;
}

/* The key path of tokens [0, n). */
static const char *path_of(const token_t *tok, int n, char *p, size_t size) {
    p[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(p);
        if (tok[i].key[0]) st_format(p + l, size - l, "%s%s", i ? "." : "", tok[i].key);
        else st_format(p + l, size - l, "[%ld]", tok[i].index);
    }
    return p;
}

static st_status_t not_object(const char *arg, const token_t *tok, int n, st_error_t *err) {
    char p[256];
    return st_fail(err, ST_ERR_CONFIG, "--set %s: %s is not an object", arg, path_of(tok, n, p, sizeof p));
}

/* Checks the path's keys against the tables, as deep as they are known. */
static st_status_t check_path(const token_t *tok, int n, const char *arg, st_error_t *err) {
    const char *k0 = tok[0].key;
    if (!k0[0]) return st_fail(err, ST_ERR_CONFIG, "--set %s: a key path starts with a key", arg);
    st_status_t rc = check_known(top_keys, N_TOP, top_sections, "", k0, err);
    if (rc != ST_OK) goto fail;
    if (st_schema_find(top_keys, N_TOP, k0) >= 0) return n > 1 ? not_object(arg, tok, 1, err) : ST_OK;
    if (n < 2) return ST_OK;
    if (!tok[1].key[0] && strcmp(k0, "loss") != 0 && strcmp(k0, "augment") != 0)
        return st_fail(err, ST_ERR_CONFIG, "--set %s: %s is an object, not a list", arg, k0);
    for (int s = SEC_DATA; s < N_SEC; s++) {
        const section_t *sec = &sections[s];
        if (strchr(sec->path, '.') || strcmp(sec->path, k0) != 0) continue;
        if ((rc = check_known(sec->keys, sec->n_keys, sec->sections, sec->path, tok[1].key, err)) != ST_OK) goto fail;
        if (s == SEC_DATA && strcmp(tok[1].key, "split") == 0) {
            if (n < 3) return ST_OK;
            if (!tok[2].key[0]) return st_fail(err, ST_ERR_CONFIG, "--set %s: data.split is an object, not a list", arg);
            if ((rc = check_known(split_keys, N_SPLIT, NULL, "data.split", tok[2].key, err)) != ST_OK) goto fail;
            return n > 3 ? not_object(arg, tok, 3, err) : ST_OK;
        }
        return n > 2 ? not_object(arg, tok, 2, err) : ST_OK;
    }
    int n_keys;
    if (strcmp(k0, "optimizer") == 0) {
        static const char *const groups[] = {"groups", NULL};
        const st_key_t *keys = st_optim_keys(&n_keys);
        if ((rc = check_known(keys, n_keys, groups, "optimizer", tok[1].key, err)) != ST_OK) goto fail;
        if (strcmp(tok[1].key, "groups") == 0 && n >= 4 && !tok[2].key[0] && tok[3].key[0]) {
            char gp[64];
            snprintf(gp, sizeof gp, "optimizer.groups[%ld]", tok[2].index);
            keys = st_optim_group_keys(&n_keys);
            if ((rc = check_known(keys, n_keys, NULL, gp, tok[3].key, err)) != ST_OK) goto fail;
        }
    } else if (strcmp(k0, "schedule") == 0) {
        const st_key_t *keys = st_sched_keys(&n_keys);
        if ((rc = check_known(keys, n_keys, NULL, "schedule", tok[1].key, err)) != ST_OK) goto fail;
    }
    return ST_OK;
fail:
    st_error_prefix(err, "--set %s", arg);
    return rc;
}

/* --set loss.x=... or schedule.x=... on a config without that section starts from the section's
 * default ({"type": "cross_entropy"}, {"type": "constant"}), as loading would. */
static void seed_default_section(cJSON *root, const token_t *tok, int n) {
    if (n < 2 || !tok[1].key[0] || !cJSON_IsObject(root)) return;
    const char *def = strcmp(tok[0].key, "loss") == 0       ? "{\"type\": \"cross_entropy\"}"
                      : strcmp(tok[0].key, "schedule") == 0 ? "{\"type\": \"constant\"}"
                                                            : NULL;
    if (def && !item(root, tok[0].key)) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, tok[0].key); /* a null */
        cJSON_AddItemToObject(root, tok[0].key, cJSON_Parse(def));
    }
}

/* A value meant as JSON (an object, a list or a quoted string) rather than plain text. */
static int looks_like_json(const char *value) {
    char c = value[strspn(value, " \t")];
    return c == '{' || c == '[' || c == '"';
}

st_status_t st_config_apply_set(cJSON *root, const char *arg, st_error_t *err) {
    const char *eq = strchr(arg, '=');
    if (!eq) return st_fail(err, ST_ERR_CONFIG, "--set %s: expected key.path=value (no equals sign)", arg);
    char path[512];
    if ((size_t)(eq - arg) >= sizeof path) return st_fail(err, ST_ERR_CONFIG, "--set %s: key path too long", arg);
    memcpy(path, arg, (size_t)(eq - arg));
    path[eq - arg] = 0;
    if (!path[0]) return st_fail(err, ST_ERR_CONFIG, "--set %s: expected key.path=value (empty key path)", arg);
    token_t tok[MAX_TOKENS];
    int n = 0;
    ST_TRY(parse_path(tok, &n, path, arg, err));
    ST_TRY(check_path(tok, n, arg, err));
    seed_default_section(root, tok, n);

    cJSON *node = root;
    for (int i = 0; i < n; i++) {
        int last = i == n - 1;
        cJSON *child;
        if (tok[i].key[0]) {
            if (!cJSON_IsObject(node)) return not_object(arg, tok, i, err);
            child = cJSON_GetObjectItemCaseSensitive(node, tok[i].key);
            if (child && cJSON_IsNull(child) && !last) { /* null = absent: replace it by a container */
                cJSON_DeleteItemFromObjectCaseSensitive(node, tok[i].key);
                child = NULL;
            }
        } else {
            if (!cJSON_IsArray(node)) {
                char p[256];
                return st_fail(err, ST_ERR_CONFIG, "--set %s: %s is not a list", arg, path_of(tok, i, p, sizeof p));
            }
            int size = cJSON_GetArraySize(node);
            if (tok[i].index > size || (tok[i].index == size && !last))
            {
                char p[256];
                return st_fail(err, ST_ERR_CONFIG, "--set %s: %s has %d element%s, no index %ld", arg,
                               path_of(tok, i, p, sizeof p), size, size == 1 ? "" : "s", tok[i].index);
            }
            child = tok[i].index < size ? cJSON_GetArrayItem(node, (int)tok[i].index) : NULL;
        }
        if (last) {
            const char *value = eq + 1, *end = NULL;
            cJSON *v = cJSON_ParseWithOpts(value, &end, 1);
            if (!v && looks_like_json(value))
                return st_fail(err, ST_ERR_CONFIG, "--set %s: the value starts like JSON but is not valid JSON (at "
                               "character %ld)", arg, (long)(end ? end - value : 0) + 1);
            if (!v) v = cJSON_CreateString(value);
            if (!v) return st_fail(err, ST_ERR_NOMEM, "--set %s: out of memory", arg);
            if (tok[i].key[0]) {
                if (child) cJSON_ReplaceItemInObjectCaseSensitive(node, tok[i].key, v);
                else cJSON_AddItemToObject(node, tok[i].key, v);
            } else if (child) cJSON_ReplaceItemInArray(node, (int)tok[i].index, v);
            else cJSON_AddItemToArray(node, v);
            return ST_OK;
        }
        if (!child) { /* a missing container: an object, or a list when an index follows */
            child = tok[i + 1].key[0] ? cJSON_CreateObject() : cJSON_CreateArray();
            if (tok[i].key[0]) cJSON_AddItemToObject(node, tok[i].key, child);
            else cJSON_AddItemToArray(node, child);
        }
        node = child;
    }
    return ST_OK;
}

/* When the failing path (the message up to ": ") was set by an override, say so:
 *   "train.batch_size: expected ..." -> "train.batch_size (--set train.batch_size=abc): expected ..." */
static void blame_override(st_error_t *err, const char *const *overrides, int n_overrides) {
    if (!err) return;
    const char *colon = strstr(err->msg, ": ");
    if (!colon) return;
    size_t n_path = (size_t)(colon - err->msg);
    for (int o = n_overrides - 1; o >= 0; o--) {
        const char *arg = overrides[o], *eq = strchr(arg, '=');
        if (!eq) continue;
        size_t n_set = (size_t)(eq - arg), n = n_set < n_path ? n_set : n_path;
        if (strncmp(arg, err->msg, n) != 0) continue;
        char next = n_set < n_path ? err->msg[n] : n_set > n_path ? arg[n] : 0;
        if (next != 0 && next != '.' && next != '[') continue;
        char tail[sizeof err->msg];
        snprintf(tail, sizeof tail, "%s", colon);
        st_format(err->msg + n_path, sizeof err->msg - n_path, " (--set %s)%s", arg, tail);
        return;
    }
}

/* ---- loading ---- */

void st_config_free(st_run_config_t *cfg) {
    if (!cfg) return;
    cJSON_Delete(cfg->json);
    memset(cfg, 0, sizeof *cfg);
}

static void parse_error(const char *text, const char *pos, const char *source, st_error_t *err) {
    int line = 1, col = 1, depth = 0, in_string = 0;
    for (const char *p = text; pos && *p && p < pos; p++) {
        if (*p == '\n') line++, col = 1;
        else col++;
        if (in_string) in_string = !(*p == '"' && p[-1] != '\\');
        else if (*p == '"') in_string = 1;
        else depth += (*p == '{' || *p == '[') - (*p == '}' || *p == ']');
    }
    if (depth >= CJSON_NESTING_LIMIT)
        st_fail(err, ST_ERR_CONFIG, "%s: JSON nested deeper than %d levels at line %d, column %d", source,
                CJSON_NESTING_LIMIT, line, col);
    else st_fail(err, ST_ERR_CONFIG, "%s: not valid JSON at line %d, column %d", source, line, col);
}

/* The text of a config read from `file` (NULL: not a file; "extends" is then relative to the
 * working directory): parsed, its "extends" resolved, the overrides applied, validated. */
static st_status_t from_text(const char *json_text, const char *source_name, const char *file,
                             const char *const *overrides, int n_overrides, st_run_config_t *cfg, st_error_t *err) {
    memset(cfg, 0, sizeof *cfg);
    const char *source = source_name ? source_name : "config";
    snprintf(cfg->source, sizeof cfg->source, "%s", source);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json_text, &end, 1);
    if (!root) {
        parse_error(json_text, end, source, err);
        return ST_ERR_CONFIG;
    }
    if (st_json_check_unique_keys(root, "", err) != ST_OK) {
        cJSON_Delete(root);
        st_error_prefix(err, "%s", source);
        return ST_ERR_CONFIG;
    }
    st_status_t ext = st_config_resolve_extends(&root, file, err);
    if (ext != ST_OK) {
        cJSON_Delete(root);
        return ext;
    }
    for (int o = 0; o < n_overrides; o++) {
        st_status_t rc = st_config_apply_set(root, overrides[o], err);
        if (rc != ST_OK) {
            cJSON_Delete(root);
            return rc;
        }
    }
    if (item(root, "extends")) { /* only --set can bring it back */
        cJSON_Delete(root);
        return st_fail(err, ST_ERR_CONFIG, "%s: extends: --set cannot change it (write it in the file)", source);
    }
    st_status_t rc = validate(root, cfg, err);
    cJSON_Delete(root);
    if (rc != ST_OK) {
        blame_override(err, overrides, n_overrides);
        st_error_prefix(err, "%s", source);
        char keep[sizeof cfg->source];
        memcpy(keep, cfg->source, sizeof keep);
        st_config_free(cfg);
        memcpy(cfg->source, keep, sizeof keep);
    }
    return rc;
}

st_status_t st_config_from_json(const char *json_text, const char *source_name, const char *const *overrides,
                                int n_overrides, st_run_config_t *cfg, st_error_t *err) {
    return from_text(json_text, source_name, NULL, overrides, n_overrides, cfg, err);
}

st_status_t st_config_load(const char *path, const char *const *overrides, int n_overrides, st_run_config_t *cfg,
                           st_error_t *err) {
    memset(cfg, 0, sizeof *cfg);
    if (st_is_dir(path)) return st_fail(err, ST_ERR_IO, "%s: is a folder, expected a config file (JSON)", path);
    FILE *f = fopen(path, "rb");
    if (!f) return st_fail(err, ST_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > ((size_t)64 << 20)) {
                fclose(f), free(text);
                return st_fail(err, ST_ERR_CONFIG, "%s: larger than 64 MiB: not a config", path);
            }
            char *t = realloc(text, cap);
            if (!t) {
                fclose(f), free(text);
                return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
            }
            text = t;
        }
        size_t got = fread(text + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return st_fail(err, ST_ERR_IO, "%s: read error", path);
    }
    text[n] = 0;
    if (strlen(text) != n) {
        free(text);
        return st_fail(err, ST_ERR_CONFIG, "%s: not valid JSON (contains a NUL byte)", path);
    }
    st_status_t rc = from_text(text, path, path, overrides, n_overrides, cfg, err);
    free(text);
    return rc;
}

char *st_config_to_json(const st_run_config_t *cfg) {
    if (!cfg->json) return NULL;
    char *txt = cJSON_Print(cfg->json);
    if (!txt) return NULL;
    size_t n = strlen(txt);
    char *out = malloc(n + 2);
    if (out) memcpy(out, txt, n), out[n] = '\n', out[n + 1] = 0;
    cJSON_free(txt);
    return out;
}

void st_config_data_options(const st_run_config_t *cfg, st_data_config_t *out) {
    *out = (st_data_config_t){
        .path = cfg->data.path,
        .seed = cfg->data.split_seed, /* the split and the shards; shuffling follows cfg->seed */
        .split = cfg->data.split,
        .batch_size = cfg->train.batch_size,
        .accumulation = cfg->train.accumulation_steps,
        .shards = cfg->data.shards,
        .standardize = cfg->data.standardize,
        .scale_pixels = cfg->data.scale_pixels,
        .allow_nonfinite = cfg->data.allow_nonfinite,
        .stratify = cfg->data.stratify,
        .ignore_groups = cfg->data.ignore_groups,
        .categorical = (const char (*)[64])cfg->data.categorical,
        .n_categorical = cfg->data.n_categorical,
        .bucket_by_length = cfg->data.bucket_by_length,
        .bucket_window = cfg->data.bucket_window,
        .repeat = cfg->data.repeat,
        .order = cfg->data.order,
        .window_rows = cfg->data.window_rows,
        .stream = cfg->data.stream,
        .memory_budget_mb = cfg->data.memory_budget_mb,
        .epochs = (int)cfg->train.epochs,
        .stream_seed = cfg->seed,
    };
}

/* ---- diff ---- */

static const char *const resume_may_differ[] = {"train.epochs", "train.threads", "train.allow_oversubscribe", "train.max_memory_mb", "train.log_every",
                                                "train.stall_timeout", NULL};

typedef struct {
    char *out;
    size_t size;
    int n;
    int full;
} diff_out_t;

static void diff_add(diff_out_t *d, const char *path) {
    d->n++;
    if (d->full || !d->size) return;
    size_t l = strlen(d->out);
    const char *sep = l ? ", " : "";
    if (l + strlen(sep) + strlen(path) + 5 > d->size) { /* leave room for ", ..." */
        if (l + 5 <= d->size) strcat(d->out, ", ...");
        d->full = 1;
        return;
    }
    strcat(d->out, sep);
    strcat(d->out, path);
}

static int is_absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

static void diff_rec(const cJSON *a, const cJSON *b, char *path, size_t cap, diff_out_t *d) {
    if (in_list(path, resume_may_differ)) return;
    if (is_absent(a) && is_absent(b)) return;
    size_t l = strlen(path);
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (int pass = 0; pass < 2; pass++) {
            const cJSON *x = pass ? b : a, *y = pass ? a : b;
            for (const cJSON *it = x->child; it; it = it->next) {
                if (pass && cJSON_GetObjectItemCaseSensitive(y, it->string)) continue; /* done in pass 0 */
                st_format(path + l, cap - l, "%s%s", l ? "." : "", it->string);
                const cJSON *other = cJSON_GetObjectItemCaseSensitive(y, it->string);
                if (pass) diff_rec(other, it, path, cap, d);
                else diff_rec(it, other, path, cap, d);
                path[l] = 0;
            }
        }
        return;
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        int i = 0;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next, i++) {
            st_format(path + l, cap - l, "[%d]", i);
            diff_rec(x, y, path, cap, d);
            path[l] = 0;
        }
        return;
    }
    if (!is_absent(a) && !is_absent(b) && !cJSON_IsObject(a) && !cJSON_IsArray(a) && cJSON_Compare(a, b, 1)) {
        if (!cJSON_IsNumber(a) || a->valuedouble == b->valuedouble) return;
    }
    diff_add(d, l ? path : "(top level)");
}

st_status_t st_config_diff(const cJSON *a, const cJSON *b, char *out, size_t size) {
    if (size) out[0] = 0;
    diff_out_t d = {out, size, 0, 0};
    char path[1024] = "";
    diff_rec(a, b, path, sizeof path, &d);
    return d.n ? ST_ERR_CONFIG : ST_OK;
}

/* ---- docs ---- */

static void print_table(FILE *out, const section_t *s, int markdown) {
    const char *title = s->path[0] ? s->path : "top level";
    if (markdown) {
        if (s->path[0]) fprintf(out, "### `%s`\n\n%s\n\n", title, s->help);
        else fprintf(out, "### Top level\n\n");
        st_schema_markdown(out, s->keys, s->n_keys);
        fprintf(out, "\n");
        return;
    }
    fprintf(out, "%s — %s\n", title, s->help);
    for (int i = 0; i < s->n_keys; i++) {
        char type[160];
        st_schema_describe_type(&s->keys[i], type, sizeof type);
        const char *def = s->keys[i].def ? (s->keys[i].def[0] ? s->keys[i].def : "(see meaning)") : "required";
        fprintf(out, "    %-24s %-40s default %-10s %s\n", s->keys[i].key, type, def, s->keys[i].help);
    }
}

void st_config_print_help(FILE *out, int markdown) {
    int n_sub = (int)(sizeof sub_objects / sizeof sub_objects[0]);
    if (markdown)
        fprintf(out, "## Run config\n\n"
                     "`strata train CONFIG.json [--set key.path=value ...]` reads one JSON object (docs/config.md).\n"
                     "Unknown keys are errors; a key left out takes its default; the run folder's `config.json` is\n"
                     "the config with every default filled in. `--set` overrides a key before validation, e.g.\n"
                     "`--set optimizer.lr=3e-4 --set model.layers[2].units=256`.\n\n");
    print_table(out, &sections[SEC_TOP], markdown);
    if (markdown) {
        fprintf(out, "Sub-objects of the top level:\n\n| key | type | default | meaning |\n|---|---|---|---|\n");
        for (int i = 0; i < n_sub; i++)
            fprintf(out, "| `%s` | %s | `%s` | %s |\n", sub_objects[i].key, sub_objects[i].type, sub_objects[i].def,
                    sub_objects[i].help);
        fprintf(out, "\n");
    } else
        for (int i = 0; i < n_sub; i++)
            fprintf(out, "    %-24s %-40s default %-10s %s\n", sub_objects[i].key, sub_objects[i].type,
                    sub_objects[i].def, sub_objects[i].help);
    for (int s = SEC_DATA; s < N_SEC; s++) print_table(out, &sections[s], markdown);
}
