/* sweep_report.c — see sweep_report.h: one table comparing runs, e.g. the tasks of a sweep
 * submitted with `strata sbatch --sweep` (what `strata sweep-report` prints; docs/slurm-jobs.md).
 *
 * An argument is a run folder or a sweep folder (one with sweep.json: its tasks' folders
 * task-<id>/ are taken in id order, with the overrides sweep.json records; a task that has not
 * started shows as "not started"). For each run it reads history.jsonl (the evaluation with the
 * best val_accuracy: its accuracy, loss and epoch, and the last epoch reached), metrics.json
 * (test accuracy) and run.json (status), tolerating missing files and a line cut short, since
 * runs may still be going. Rows are sorted by best validation accuracy, best first; runs without
 * one come last, in the order given. After the table: the runs' report.html files, if any. */
#include "slurm/sweep_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fileio.h"

#define PATH_CAP 4096

typedef struct {
    char dir[PATH_CAP];
    char task[128];
    char overrides[1024];
    double best_acc, best_loss, test_acc; /* NaN = none */
    long best_epoch, last_epoch;
    char status[256];
    int order;
} row_t;

static cJSON *read_json(const char *dir, const char *file) {
    char path[PATH_CAP + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = st_read_file(path, NULL, NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    return doc;
}

static double num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Fills the measured fields of r from r->dir. */
static void read_run(row_t *r) {
    r->best_acc = r->best_loss = r->test_acc = NAN;
    r->best_epoch = r->last_epoch = 0;
    if (!st_is_dir(r->dir)) {
        snprintf(r->status, sizeof r->status, "not started");
        return;
    }
    char path[PATH_CAP + 64];
    snprintf(path, sizeof path, "%s/history.jsonl", r->dir);
    char *hist = st_read_file(path, NULL, NULL);
    for (char *save = NULL, *ln = hist ? strtok_r(hist, "\n", &save) : NULL; ln; ln = strtok_r(NULL, "\n", &save)) {
        cJSON *rec = cJSON_Parse(ln); /* a line cut short by a crash does not parse: skipped */
        if (!rec) continue;
        double epoch = num(rec, "epoch"), acc = num(rec, "val_accuracy");
        if (!isnan(epoch) && (long)epoch > r->last_epoch) r->last_epoch = (long)epoch;
        if (!isnan(acc) && (isnan(r->best_acc) || acc > r->best_acc)) {
            r->best_acc = acc, r->best_loss = num(rec, "val_loss");
            r->best_epoch = isnan(epoch) ? 0 : (long)epoch;
        }
        cJSON_Delete(rec);
    }
    free(hist);
    cJSON *metrics = read_json(r->dir, "metrics.json");
    if (metrics) r->test_acc = num(metrics, "accuracy");
    cJSON_Delete(metrics);
    cJSON *run = read_json(r->dir, "run.json");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, "status");
    snprintf(r->status, sizeof r->status, "%s", cJSON_IsString(st) ? st->valuestring : run ? "?" : "no run.json");
    cJSON_Delete(run);
}

/* Space-separated overrides from a JSON list of strings. */
static void join(char *out, size_t size, const cJSON *list) {
    size_t n = 0;
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it) || n + 2 >= size) continue;
        n += (size_t)snprintf(out + n, size - n, "%s%s", n ? " " : "", it->valuestring);
        if (n >= size) n = size - 1;
    }
}

static int cmp_rows(const void *pa, const void *pb) {
    const row_t *a = pa, *b = pb;
    int ha = !isnan(a->best_acc), hb = !isnan(b->best_acc);
    if (ha != hb) return hb - ha;
    if (ha && a->best_acc != b->best_acc) return a->best_acc > b->best_acc ? -1 : 1;
    return a->order - b->order;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s && s[1] ? s + 1 : p;
}

static int add_row(row_t **rows, int *n, int *cap, const char *dir, const char *task, const char *overrides) {
    if (*n == *cap) {
        row_t *nr = realloc(*rows, (size_t)(*cap = *cap * 2 + 16) * sizeof **rows);
        if (!nr) return -1;
        *rows = nr;
    }
    row_t *r = &(*rows)[*n];
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snprintf(r->task, sizeof r->task, "%s", task);
    snprintf(r->overrides, sizeof r->overrides, "%s", overrides);
    r->order = (*n)++;
    read_run(r);
    return 0;
}

/* The overrides of `dir` when it is task-<id> of a sweep folder (its parent has sweep.json). */
static void task_overrides(char *out, size_t size, const char *dir) {
    snprintf(out, size, "-");
    char parent[PATH_CAP];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t l = strlen(parent);
    while (l > 1 && parent[l - 1] == '/') parent[--l] = '\0';
    const char *name = base_name(parent);
    if (strncmp(name, "task-", 5) != 0) return;
    char id[32];
    snprintf(id, sizeof id, "%s", name + 5);
    char *slash = strrchr(parent, '/');
    if (slash == parent) parent[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(parent, sizeof parent, ".");
    cJSON *sweep = read_json(parent, "sweep.json");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sweep, "tasks"), id);
    if (list) join(out, size, list);
    cJSON_Delete(sweep);
}

static void pct(char *out, size_t size, double v) {
    if (isnan(v)) snprintf(out, size, "-");
    else snprintf(out, size, "%.2f%%", 100.0 * v);
}

/* The rows of one argument: a sweep folder's tasks, or one run folder. */
static st_status_t add_dir(row_t **rows, int *n, int *cap, const char *dir, st_error_t *err) {
    if (!st_is_dir(dir))
        return st_fail(err, ST_ERR_IO, st_exists(dir) ? "%s: a file, expected a run folder or a sweep folder"
                                                      : "%s: no such folder", dir);
    cJSON *sweep = read_json(dir, "sweep.json");
    if (sweep) {
        const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(sweep, "tasks"), *t;
        st_status_t rc = cJSON_IsObject(tasks) ? ST_OK : st_fail(err, ST_ERR_DATA, "%s/sweep.json: no \"tasks\" object", dir);
        cJSON_ArrayForEach(t, tasks) {
            char sub[PATH_CAP + 64], task[128], ov[1024];
            snprintf(sub, sizeof sub, "%s/task-%s", dir, t->string);
            snprintf(task, sizeof task, "task-%s", t->string);
            join(ov, sizeof ov, t);
            if (rc == ST_OK && add_row(rows, n, cap, sub, task, ov) != 0) rc = st_fail(err, ST_ERR_NOMEM, "sweep-report rows");
        }
        cJSON_Delete(sweep);
        return rc;
    }
    char probe[PATH_CAP + 64];
    int is_run = 0;
    const char *files[] = {"config.json", "run.json", "history.jsonl"};
    for (int f = 0; f < 3; f++) {
        snprintf(probe, sizeof probe, "%s/%s", dir, files[f]);
        is_run |= st_exists(probe);
    }
    if (!is_run)
        return st_fail(err, ST_ERR_DATA, "%s: neither a run folder (no config.json, run.json or history.jsonl) "
                                         "nor a sweep folder (no sweep.json)", dir);
    char ov[1024], name[PATH_CAP];
    task_overrides(ov, sizeof ov, dir);
    snprintf(name, sizeof name, "%s", dir);
    for (size_t l = strlen(name); l > 1 && name[l - 1] == '/';) name[--l] = '\0';
    if (add_row(rows, n, cap, dir, base_name(name), ov) != 0) return st_fail(err, ST_ERR_NOMEM, "sweep-report rows");
    return ST_OK;
}

enum { NC = 8 }; /* columns: task, overrides, best val acc, val loss, at epoch, epochs, test acc, status */

static void cells(char cell[NC][256], const row_t *r) {
    snprintf(cell[0], 256, "%s", r->task);
    snprintf(cell[1], 256, "%.255s", r->overrides[0] ? r->overrides : "-"); /* a long list is cut */
    pct(cell[2], 256, r->best_acc);
    if (isnan(r->best_loss)) snprintf(cell[3], 256, "-");
    else snprintf(cell[3], 256, "%.4f", r->best_loss);
    if (isnan(r->best_acc)) snprintf(cell[4], 256, "-");
    else snprintf(cell[4], 256, "%ld", r->best_epoch);
    snprintf(cell[5], 256, "%ld", r->last_epoch);
    pct(cell[6], 256, r->test_acc);
    snprintf(cell[7], 256, "%s", r->status);
}

/* The table, columns as wide as their widest cell; numbers right-aligned. */
static st_status_t print_table(FILE *out, const row_t *rows, int n, st_error_t *err) {
    static const char *head[NC] = {"task", "overrides", "best val acc", "val loss", "at epoch", "epochs", "test acc", "status"};
    char (*cell)[NC][256] = calloc((size_t)n + 1, sizeof *cell);
    if (!cell) return st_fail(err, ST_ERR_NOMEM, "sweep-report: out of memory");
    int width[NC];
    for (int c = 0; c < NC; c++) width[c] = (int)strlen(head[c]);
    for (int i = 0; i < n; i++) {
        cells(cell[i], &rows[i]);
        for (int c = 0; c < NC - 1; c++)
            if ((int)strlen(cell[i][c]) > width[c]) width[c] = (int)strlen(cell[i][c]);
    }
    for (int i = -1; i < n; i++)
        for (int c = 0; c < NC; c++) {
            const char *v = i < 0 ? head[c] : cell[i][c];
            if (c == NC - 1) fprintf(out, "%s\n", v);
            else if (c >= 2 && c <= 6) fprintf(out, "%*s  ", width[c], v);
            else fprintf(out, "%-*s  ", width[c], v);
        }
    free(cell);
    return ST_OK;
}

/* After the table, when some run has one: each run's report.html (jobs/report_html.h) and the
 * command that overlays them all. Nothing when no run has a report (older runs). */
static void print_reports(FILE *out, const row_t *rows, int n) {
    char path[PATH_CAP + 16];
    int any = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/report.html", rows[i].dir);
        if (!st_exists(path)) continue;
        fprintf(out, "%sreport %s: %s\n", any ? "" : "\n", rows[i].task, path);
        any = 1;
    }
    if (!any || n < 2) return;
    fputs("overlay: strata report", out);
    for (int i = 0; i < n; i++) fprintf(out, " %s", rows[i].dir);
    fputs(" -o report.html\n", out);
}

st_status_t st_sweep_report(FILE *out, const char *const *dirs, int n_dirs, st_error_t *err) {
    row_t *rows = NULL;
    int n = 0, cap = 0;
    st_status_t rc = ST_OK;
    for (int i = 0; i < n_dirs && rc == ST_OK; i++) rc = add_dir(&rows, &n, &cap, dirs[i], err);
    if (rc == ST_OK) {
        qsort(rows, (size_t)n, sizeof *rows, cmp_rows);
        rc = print_table(out, rows, n, err);
        if (rc == ST_OK) print_reports(out, rows, n);
    }
    free(rows);
    return rc;
}
