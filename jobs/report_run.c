/* report_run.c — loads a run folder's files for `strata report` (report_run.h). */
#include "jobs/report_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "sharding/csv_record.h"

double st_report_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *st_report_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void st_report_table_free(st_report_table_t *t) {
    for (size_t i = 0; t->cell && i < (size_t)t->rows * t->cols; i++) free(t->cell[i]);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

/* Appends the current record as a row (cut or padded to t->cols). */
static st_status_t add_row(st_report_table_t *t, int *cap, const st_csv_rec_t *c, const char *path, st_error_t *err) {
    if (t->rows == *cap) {
        int n = *cap ? 2 * *cap : 64;
        char **grown = realloc(t->cell, (size_t)n * t->cols * sizeof *grown);
        if (!grown) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
        t->cell = grown, *cap = n;
    }
    for (int i = 0; i < t->cols; i++) {
        char *s = strdup(i < c->n_fields ? st_csv_rec_field(c, i) : "");
        if (!s) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
        t->cell[(size_t)t->rows * t->cols + i] = s;
    }
    t->rows++;
    return ST_OK;
}

st_status_t st_report_table_read(st_report_table_t *t, const char *path, int *missing, st_error_t *err) {
    memset(t, 0, sizeof *t);
    *missing = !st_exists(path);
    if (*missing) return ST_OK;
    size_t n = 0;
    char *text = st_read_file(path, &n, err);
    if (!text) return err->code;
    st_csv_rec_t c;
    st_csv_rec_init(&c, path, text, n);
    st_status_t rc = ST_OK;
    int cap = 0, more;
    long line;
    while (rc == ST_OK && (more = st_csv_rec_next(&c, &line, err)) == 1) {
        if (t->rows == 0) t->cols = c.n_fields;
        rc = add_row(t, &cap, &c, path, err);
    }
    if (rc == ST_OK && more < 0) rc = err->code;
    st_csv_rec_free(&c);
    free(text);
    if (rc != ST_OK) st_report_table_free(t);
    return rc;
}

/* dir/name parsed as JSON; NULL (not an error) when missing. */
static st_status_t load_json(cJSON **out, const char *dir, const char *name, st_error_t *err) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *out = NULL;
    if (!st_exists(path)) return ST_OK;
    char *text = st_read_file(path, NULL, err);
    if (!text) return err->code;
    *out = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out), *out = NULL;
        return st_fail(err, ST_ERR_DATA, "%s: not a JSON object", path);
    }
    return ST_OK;
}

/* history.jsonl's lines that parse as JSON objects. */
static st_status_t load_history(st_report_run_t *r, st_error_t *err) {
    char path[4400];
    snprintf(path, sizeof path, "%s/history.jsonl", r->dir);
    if (!st_exists(path)) return ST_OK;
    char *text = st_read_file(path, NULL, err);
    if (!text) return err->code;
    int cap = 0;
    st_status_t rc = ST_OK;
    for (char *line = strtok(text, "\n"); line && rc == ST_OK; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            continue;
        }
        if (r->n_hist == cap) {
            cJSON **grown = realloc(r->hist, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *grown);
            if (!grown) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
            else r->hist = grown;
        }
        if (rc == ST_OK) r->hist[r->n_hist++] = o;
        else cJSON_Delete(o);
    }
    free(text);
    return rc;
}

static void run_name(char *name, size_t size, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(name, size, "%.*s", (int)(n - start), dir + start);
}

st_status_t st_report_run_load(st_report_run_t *r, const char *dir, st_error_t *err) {
    memset(r, 0, sizeof *r);
    if (!st_is_dir(dir)) return st_fail(err, ST_ERR_IO, "%s: not a folder (strata report takes run folders)", dir);
    if (st_format(r->dir, sizeof r->dir, "%s", dir)) return st_fail(err, ST_ERR_IO, "%s: path too long", dir);
    run_name(r->name, sizeof r->name, dir);
    char run_json[4400], config[4400];
    snprintf(run_json, sizeof run_json, "%s/run.json", dir);
    snprintf(config, sizeof config, "%s/config.json", dir);
    if (!st_exists(run_json) && !st_exists(config))
        return st_fail(err, ST_ERR_CONFIG, "%s is not a strata run folder (no run.json or config.json)", dir);
    st_status_t rc = load_json(&r->run, dir, "run.json", err);
    if (rc == ST_OK) rc = load_json(&r->metrics, dir, "metrics.json", err);
    if (rc == ST_OK) rc = load_json(&r->split, dir, "split.json", err);
    if (rc == ST_OK && st_exists(config) && !(r->config = st_read_file(config, NULL, err))) rc = err->code;
    if (rc == ST_OK) rc = load_history(r, err);
    if (rc != ST_OK) st_report_run_free(r);
    return rc;
}

void st_report_run_free(st_report_run_t *r) {
    for (int i = 0; i < r->n_hist; i++) cJSON_Delete(r->hist[i]);
    free(r->hist);
    cJSON_Delete(r->run);
    cJSON_Delete(r->metrics);
    cJSON_Delete(r->split);
    free(r->config);
    memset(r, 0, sizeof *r);
}
