/* reproduce.c — reading what a run folder recorded, checking its dataset's fingerprint, naming
 * the re-run's folder and comparing the two history.jsonl files for `strata reproduce`
 * (jobs/reproduce.h). The comparison itself is st_history_compare (results.h); in fast mode
 * this file adds the size of the differences, key by key, over the lines both runs have. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "fileio.h"
#include "jobs/reproduce.h"
#include "sharding/dataset.h"
#include "sharding/fingerprint.h"

static st_status_t read_json(cJSON **doc, const char *run_dir, const char *file, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", run_dir, file);
    char *text = st_read_file(path, NULL, err);
    if (!text) return ST_ERR_IO;
    *doc = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(*doc)) {
        cJSON_Delete(*doc);
        return st_fail(err, ST_ERR_DATA, "%s: not a JSON object", path);
    }
    return ST_OK;
}

/* dst[size] := the string `key` of `doc` (in `file`); ST_ERR_DATA when absent. */
static st_status_t get_str(char *dst, size_t size, const cJSON *doc, const char *key, const char *file,
                           st_error_t *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!cJSON_IsString(v)) return st_fail(err, ST_ERR_DATA, "%s: \"%s\" is missing or not a string", file, key);
    snprintf(dst, size, "%s", v->valuestring);
    return ST_OK;
}

static st_status_t read_run_json(st_reproduce_run_t *r, st_error_t *err) {
    cJSON *doc;
    ST_TRY(read_json(&doc, r->run_dir, "run.json", err));
    st_status_t rc = get_str(r->dataset_path, sizeof r->dataset_path, doc, "dataset_path", "run.json", err);
    if (rc == ST_OK) rc = get_str(r->fingerprint, sizeof r->fingerprint, doc, "dataset_fingerprint", "run.json", err);
    if (rc == ST_OK) rc = get_str(r->status, sizeof r->status, doc, "status", "run.json", err);
    const cJSON *ranks = cJSON_GetObjectItemCaseSensitive(doc, "ranks");
    r->ranks = cJSON_IsNumber(ranks) ? ranks->valueint : 1;
    long long n;
    if (sscanf(r->status, "stopped after %lld steps", &n) == 1 && n > 0) r->stop_after_steps = n;
    cJSON_Delete(doc);
    return rc;
}

static st_status_t read_config_json(st_reproduce_run_t *r, st_error_t *err) {
    cJSON *doc;
    ST_TRY(read_json(&doc, r->run_dir, "config.json", err));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "reproducible");
    r->exact = cJSON_IsString(v) && strcmp(v->valuestring, "exact") == 0;
    cJSON_Delete(doc);
    return ST_OK;
}

st_status_t st_reproduce_read(st_reproduce_run_t *r, const char *run_dir, st_error_t *err) {
    memset(r, 0, sizeof *r);
    snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    ST_TRY(read_run_json(r, err));
    ST_TRY(read_config_json(r, err));
    char path[ST_RESULTS_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", run_dir, ST_HISTORY_FILE);
    st_history_record_t *recs = NULL;
    ST_TRY(st_history_read(&recs, &r->n_lines, path, err));
    r->last_step = r->n_lines ? recs[r->n_lines - 1].step : 0;
    free(recs);
    return ST_OK;
}

st_status_t st_reproduce_check_dataset(const st_reproduce_run_t *r, st_error_t *err) {
    st_dataset_t ds;
    ST_TRY(st_dataset_open(r->dataset_path, &ds, err));
    char fp[17];
    st_status_t rc = st_dataset_fingerprint(&ds, fp, err);
    st_dataset_close(&ds);
    if (rc != ST_OK) return rc;
    if (strcmp(fp, r->fingerprint) != 0)
        return st_fail(err, ST_ERR_DATA,
                       "%s has dataset fingerprint %s, the run recorded %s: the dataset changed since the run "
                       "(labels, split, shape or class names)",
                       r->dataset_path, fp, r->fingerprint);
    return ST_OK;
}

st_status_t st_reproduce_next_name(char *name, size_t size, const char *run_dir, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX + 64];
    struct stat sb;
    for (int n = 1; n < 100000; n++) {
        snprintf(name, size, "reproduce-%d", n);
        snprintf(path, sizeof path, "%s/%s", run_dir, name);
        if (stat(path, &sb) != 0 && errno == ENOENT) return ST_OK;
    }
    return st_fail(err, ST_ERR_IO, "%s: no free reproduce-<n> folder name", run_dir);
}

/* ---- fast mode: the size of the differences ------------------------------------------------ */

typedef struct {
    char key[64];
    double max_abs;
    int64_t epoch; /* where max_abs is reached */
} key_diff_t;

enum { MAX_KEYS = 64 };

static int timing_or_index(const char *k) {
    return st_history_is_timing_key(k) || !strcmp(k, "epoch") || !strcmp(k, "step");
}

/* Adds line a vs line b's numeric differences into d[*n]; 1 when their param_hash differ. */
static int diff_line(key_diff_t *d, int *n, const cJSON *a, const cJSON *b) {
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(a, "epoch");
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(a, "param_hash"), *hb = cJSON_GetObjectItemCaseSensitive(b, "param_hash");
    int hash_differs = cJSON_IsString(ha) && cJSON_IsString(hb) && strcmp(ha->valuestring, hb->valuestring) != 0;
    const cJSON *va;
    cJSON_ArrayForEach(va, a) {
        const cJSON *vb = cJSON_GetObjectItemCaseSensitive(b, va->string);
        if (!cJSON_IsNumber(va) || !cJSON_IsNumber(vb) || timing_or_index(va->string)) continue;
        int k = 0;
        while (k < *n && strcmp(d[k].key, va->string) != 0) k++;
        if (k == *n) {
            if (*n == MAX_KEYS) continue;
            snprintf(d[k].key, sizeof d[k].key, "%s", va->string), d[k].max_abs = -1, (*n)++;
        }
        double x = fabs(va->valuedouble - vb->valuedouble);
        if (x > d[k].max_abs) d[k].max_abs = x, d[k].epoch = cJSON_IsNumber(ep) ? (int64_t)ep->valuedouble : 0;
    }
    return hash_differs;
}

/* Parses the first n_max lines of a history file into o[] (cJSON objects); *n lines read. */
static void load_lines(cJSON **o, int *n, int n_max, const char *path) {
    *n = 0;
    FILE *f = fopen(path, "r");
    char line[65536];
    while (f && *n < n_max && fgets(line, sizeof line, f))
        if ((o[*n] = cJSON_Parse(line))) (*n)++;
    if (f) fclose(f);
}

static void print_sizes(FILE *out, const char *path_a, const char *path_b, int n_lines) {
    cJSON **a = calloc((size_t)n_lines + 1, sizeof *a), **b = calloc((size_t)n_lines + 1, sizeof *b);
    key_diff_t d[MAX_KEYS];
    int na = 0, nb = 0, nd = 0, n_hash = 0;
    if (a && b) load_lines(a, &na, n_lines, path_a), load_lines(b, &nb, n_lines, path_b);
    for (int i = 0; i < na && i < nb; i++) n_hash += diff_line(d, &nd, a[i], b[i]);
    fprintf(out, "largest differences over %d lines (|recorded - re-run|; param_hash differs on %d):\n",
            na < nb ? na : nb, n_hash);
    for (int k = 0; k < nd; k++)
        fprintf(out, "  %-24s %.3g (epoch %lld)\n", d[k].key, d[k].max_abs, (long long)d[k].epoch);
    for (int i = 0; i < na; i++) cJSON_Delete(a[i]);
    for (int i = 0; i < nb; i++) cJSON_Delete(b[i]);
    free(a), free(b);
}

/* 1 when both files have the same (epoch, step) sequence. */
static int same_steps(const char *path_a, const char *path_b, st_error_t *err) {
    st_history_record_t *a = NULL, *b = NULL;
    int na = 0, nb = 0, same = 0;
    if (st_history_read(&a, &na, path_a, err) == ST_OK && st_history_read(&b, &nb, path_b, err) == ST_OK) {
        same = na == nb;
        for (int i = 0; same && i < na; i++) same = a[i].epoch == b[i].epoch && a[i].step == b[i].step;
    }
    free(a), free(b);
    return same;
}

/* " at step S" for st_history_compare's "line L (epoch E): ..." (the recorded line's step), or "". */
static const char *step_of(const char *path, const char *where) {
    static char buf[48];
    st_history_record_t *recs = NULL;
    int n = 0, line = 0;
    st_error_t ignored;
    buf[0] = '\0';
    if (sscanf(where, "line %d", &line) == 1 && st_history_read(&recs, &n, path, &ignored) == ST_OK && line >= 1 &&
        line <= n)
        snprintf(buf, sizeof buf, " at step %lld", (long long)recs[line - 1].step);
    free(recs);
    return buf;
}

st_status_t st_reproduce_compare(int *differ, FILE *out, const st_reproduce_run_t *r, const char *rerun_dir,
                                 st_error_t *err) {
    char rec[ST_RESULTS_PATH_MAX + 32], re[ST_RESULTS_PATH_MAX + 32], where[512];
    snprintf(rec, sizeof rec, "%s/%s", r->run_dir, ST_HISTORY_FILE);
    snprintf(re, sizeof re, "%s/%s", rerun_dir, ST_HISTORY_FILE);
    ST_TRY(st_history_truncate(rerun_dir, r->last_step, err)); /* compare over the recorded lines */
    ST_TRY(st_history_compare(differ, where, sizeof where, rec, re, err));
    if (!r->exact)
        fprintf(out, "the run used reproducible: \"fast\": bitwise equality is only expected with reproducible: "
                     "\"exact\"\n");
    if (!*differ) {
        fprintf(out, "identical: %d history lines (param_hash, losses, metrics; timing ignored), up to step %lld\n",
                r->n_lines, (long long)r->last_step);
        return ST_OK;
    }
    fprintf(out, "differs%s: %s (recorded vs re-run; the re-run is in %s)\n", step_of(rec, where), where, rerun_dir);
    if (r->exact) return ST_OK;
    print_sizes(out, rec, re, r->n_lines);
    *differ = !same_steps(rec, re, err);
    return ST_OK;
}
