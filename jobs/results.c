/* results.c — the run folder and its files: config.json, run.json, history.jsonl, the
 * per-class/confusion CSVs and metrics.json (formats in results/README.md).
 *
 * Whole files are built in memory (cJSON, or open_memstream for the CSVs) and written with
 * st_write_file_atomic, so a crash leaves the previous version intact. history.jsonl is the one
 * file appended to: each line goes out in a single write() to an O_APPEND descriptor and is
 * fsynced, so at most the last line of a killed run is cut short; the readers drop such a line. */
#include "results.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ------------------------------------------------------------------------------ */

static st_status_t path_join(char *dst, size_t size, const char *dir, const char *name, st_error_t *err) {
    if (st_format(dst, size, "%s/%s", dir, name))
        return st_fail(err, ST_ERR_IO, "%s/%s: path too long", dir, name);
    return ST_OK;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_parent(const char *path) {
    char dir[ST_RESULTS_PATH_MAX];
    st_format(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

st_status_t st_write_file_atomic(const char *path, const void *data, size_t n, st_error_t *err) {
    char tmp[ST_RESULTS_PATH_MAX + 8];
    if (st_format(tmp, sizeof tmp, "%s.tmp", path)) return st_fail(err, ST_ERR_IO, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return st_fail(err, ST_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    const char *what = NULL;
    if (write_all(fd, data, n) != 0) what = "cannot write";
    else if (fsync(fd) != 0) what = "cannot sync";
    int e = errno;
    if (close(fd) != 0 && !what) what = "cannot close", e = errno;
    if (!what && rename(tmp, path) != 0) what = "cannot rename the temporary file over it", e = errno;
    if (what) {
        unlink(tmp);
        return st_fail(err, ST_ERR_IO, "%s: %s: %s", path, what, strerror(e));
    }
    fsync_parent(path);
    return ST_OK;
}

/* Reads a whole file; NUL-terminated. ENOENT is reported through *missing when non-NULL. */
static st_status_t read_text(char **out, size_t *n_out, const char *path, int *missing, st_error_t *err) {
    *out = NULL;
    if (missing) *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (missing && errno == ENOENT) {
            *missing = 1;
            return ST_OK;
        }
        return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading it", path);
        }
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        cap *= 2;
        char *b = realloc(buf, cap);
        if (!b) free(buf);
        buf = b;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return st_fail(err, ST_ERR_IO, "%s: cannot read", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (n_out) *n_out = n;
    return ST_OK;
}

static st_status_t write_json(const char *path, const cJSON *doc, int formatted, st_error_t *err) {
    char *text = formatted ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
    if (!text) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory printing JSON", path);
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    if (!withnl) {
        free(text);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory printing JSON", path);
    }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    st_status_t rc = st_write_file_atomic(path, withnl, n + 1, err);
    free(withnl);
    return rc;
}

/* ---- run folder ------------------------------------------------------------------------- */

st_status_t st_run_dir_prepare(char *run_dir, size_t size, const char *results_dir, const char *name,
                               int resume, st_error_t *err) {
    if (!name || !name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return st_fail(err, ST_ERR_CONFIG, "run name \"%s\" is not a plain folder name (set it with --set name=...)",
                       name ? name : "");
    if (!results_dir || !results_dir[0]) return st_fail(err, ST_ERR_CONFIG, "results_dir is empty");
    char base[ST_RESULTS_PATH_MAX];
    if (st_format(base, sizeof base, "%s", results_dir))
        return st_fail(err, ST_ERR_IO, "%s: path too long", results_dir);
    for (size_t n = strlen(base); n > 1 && base[n - 1] == '/'; n--) base[n - 1] = '\0';
    ST_TRY(st_mkdir_p(base, err));
    if (st_format(run_dir, size, "%s/%s", base, name))
        return st_fail(err, ST_ERR_IO, "%s/%s: path too long", base, name);

    if (!resume) {
        if (mkdir(run_dir, 0777) != 0) {
            if (errno == EEXIST)
                return st_fail(err, ST_ERR_CONFIG,
                               "%s already exists: pass --resume auto to continue it, or choose another name "
                               "(--set name=...)", run_dir);
            return st_fail(err, ST_ERR_IO, "%s: cannot create folder: %s", run_dir, strerror(errno));
        }
    } else {
        struct stat st;
        if (stat(run_dir, &st) != 0) {
            if (errno == ENOENT)
                return st_fail(err, ST_ERR_CONFIG,
                               "%s does not exist: there is no run to resume (drop --resume to start a new run)",
                               run_dir);
            return st_fail(err, ST_ERR_IO, "%s: %s", run_dir, strerror(errno));
        }
        if (!S_ISDIR(st.st_mode)) return st_fail(err, ST_ERR_CONFIG, "%s exists but is not a folder", run_dir);
    }
    char ck[ST_RESULTS_PATH_MAX];
    ST_TRY(path_join(ck, sizeof ck, run_dir, "checkpoints", err));
    if (mkdir(ck, 0777) != 0 && !(errno == EEXIST && st_is_dir(ck)))
        return st_fail(err, ST_ERR_IO, "%s: cannot create folder: %s", ck, errno == EEXIST ? "not a folder" : strerror(errno));
    return ST_OK;
}

st_status_t st_write_config(const char *run_dir, const char *config_text, st_error_t *err) {
    char p[ST_RESULTS_PATH_MAX];
    ST_TRY(path_join(p, sizeof p, run_dir, "config.json", err));
    return st_write_file_atomic(p, config_text, strlen(config_text), err);
}

void st_iso8601_utc(char *buf, time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- run.json --------------------------------------------------------------------------- */

static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

static cJSON *time_or_null(time_t t) {
    if (t == 0) return cJSON_CreateNull();
    char buf[32];
    st_iso8601_utc(buf, t);
    return cJSON_CreateString(buf);
}

static cJSON *hosts_array(const char *const *hosts, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, str_or_null(hosts[i]));
    return a;
}

static void set_item(cJSON *obj, const char *key, cJSON *item) {
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else cJSON_AddItemToObject(obj, key, item);
}

static st_status_t run_record_save(st_run_record_t *rec, st_error_t *err) {
    return write_json(rec->path, rec->doc, 1, err);
}

st_status_t st_run_record_create(st_run_record_t *rec, const char *run_dir, const st_run_info_t *info,
                                 time_t start, st_error_t *err) {
    rec->doc = NULL;
    ST_TRY(path_join(rec->path, sizeof rec->path, run_dir, "run.json", err));
    cJSON *d = cJSON_CreateObject();
    if (!d) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", rec->path);
    cJSON_AddItemToObject(d, "strata_version", str_or_null(info->strata_version));
    cJSON_AddItemToObject(d, "git_commit", str_or_null(info->git_commit));
    cJSON_AddNumberToObject(d, "ranks", info->ranks);
    cJSON_AddNumberToObject(d, "threads_per_rank", info->threads_per_rank);
    cJSON_AddItemToObject(d, "blis_kernels", str_or_null(info->blis_kernels));
    cJSON_AddItemToObject(d, "hosts", hosts_array(info->hosts, info->n_hosts));
    cJSON_AddItemToObject(d, "dataset_path", str_or_null(info->dataset_path));
    cJSON_AddItemToObject(d, "dataset_fingerprint", str_or_null(info->dataset_fingerprint));
    cJSON_AddItemToObject(d, "start_time", time_or_null(start));
    cJSON_AddItemToObject(d, "end_time", cJSON_CreateNull());
    cJSON_AddStringToObject(d, "status", "running");
    cJSON_AddItemToObject(d, "restarts", cJSON_CreateArray());
    rec->doc = d;
    return run_record_save(rec, err);
}

st_status_t st_run_record_open(st_run_record_t *rec, const char *run_dir, st_error_t *err) {
    rec->doc = NULL;
    ST_TRY(path_join(rec->path, sizeof rec->path, run_dir, "run.json", err));
    char *text = NULL;
    ST_TRY(read_text(&text, NULL, rec->path, NULL, err));
    cJSON *d = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        return st_fail(err, ST_ERR_DATA, "%s: not a JSON object", rec->path);
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "restarts"))) set_item(d, "restarts", cJSON_CreateArray());
    rec->doc = d;
    return ST_OK;
}

st_status_t st_run_record_add_restart(st_run_record_t *rec, time_t t, int ranks, const char *const *hosts,
                                      int n_hosts, int64_t resumed_from_step, st_error_t *err) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", rec->path);
    cJSON_AddItemToObject(r, "time", time_or_null(t));
    cJSON_AddNumberToObject(r, "ranks", ranks);
    cJSON_AddItemToObject(r, "hosts", hosts_array(hosts, n_hosts));
    cJSON_AddNumberToObject(r, "resumed_from_step", (double)resumed_from_step);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(rec->doc, "restarts"), r);
    set_item(rec->doc, "status", cJSON_CreateString("running"));
    set_item(rec->doc, "end_time", cJSON_CreateNull());
    return run_record_save(rec, err);
}

st_status_t st_run_record_set_status(st_run_record_t *rec, const char *status, time_t end, st_error_t *err) {
    set_item(rec->doc, "status", cJSON_CreateString(status));
    set_item(rec->doc, "end_time", time_or_null(end));
    return run_record_save(rec, err);
}

st_status_t st_run_record_set_item(st_run_record_t *rec, const char *key, cJSON *item, st_error_t *err) {
    if (!item) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", rec->path);
    set_item(rec->doc, key, item);
    return run_record_save(rec, err);
}

void st_run_record_free(st_run_record_t *rec) {
    cJSON_Delete(rec->doc);
    rec->doc = NULL;
}

/* ---- history.jsonl ---------------------------------------------------------------------- */

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static const char *const history_numeric_keys[] = {"epoch", "step", "lr", "train_loss", "train_accuracy",
                                                   "val_loss", "val_accuracy", "seconds", "samples_per_s"};
enum { N_HISTORY_NUMERIC = 9 };

static cJSON *history_to_json(const st_history_record_t *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const double v[N_HISTORY_NUMERIC] = {(double)r->epoch, (double)r->step, r->lr, r->train_loss,
                                         r->train_accuracy, r->val_loss, r->val_accuracy, r->seconds,
                                         r->samples_per_s};
    for (int i = 0; i < N_HISTORY_NUMERIC; i++) cJSON_AddItemToObject(o, history_numeric_keys[i], num_or_null(v[i]));
    if (r->has_diversity) {
        cJSON *d = cJSON_AddObjectToObject(o, "diversity");
        cJSON_AddNumberToObject(d, "n_distinct", r->diversity.n_distinct);
        cJSON_AddItemToObject(d, "top_share", num_or_null(r->diversity.top_share));
        cJSON_AddItemToObject(d, "norm_entropy", num_or_null(r->diversity.norm_entropy));
    }
    if (r->collapse_warning[0]) cJSON_AddStringToObject(o, "collapse_warning", r->collapse_warning);
    for (int i = 0; i < r->n_extra; i++) /* per-head metrics; the names above are not repeated */
        if (!cJSON_GetObjectItemCaseSensitive(o, r->extra_names[i]))
            cJSON_AddItemToObject(o, r->extra_names[i], num_or_null(r->extra_values[i]));
    if (r->health_warning[0]) cJSON_AddStringToObject(o, "health_warning", r->health_warning);
    if (r->param_hash[0]) cJSON_AddStringToObject(o, "param_hash", r->param_hash);
    return o;
}

st_status_t st_history_append(const char *run_dir, const st_history_record_t *rec, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX];
    ST_TRY(path_join(path, sizeof path, run_dir, ST_HISTORY_FILE, err));
    cJSON *o = history_to_json(rec);
    char *line = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!line) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    size_t n = strlen(line);
    char *l2 = realloc(line, n + 2);
    if (!l2) {
        free(line);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    line = l2;
    line[n++] = '\n';
    line[n] = '\0';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd < 0) {
        free(line);
        return st_fail(err, ST_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    }
    const char *what = NULL;
    if (write_all(fd, line, n) != 0) what = "cannot append";
    else if (fsync(fd) != 0) what = "cannot sync";
    int e = errno;
    if (close(fd) != 0 && !what) what = "cannot close", e = errno;
    free(line);
    if (what) return st_fail(err, ST_ERR_IO, "%s: %s: %s", path, what, strerror(e));
    return ST_OK;
}

/* A history file split into lines: text[i] points into buf (NUL-terminated, without '\n'),
 * obj[i] is the parsed object, lineno[i] the 1-based line number in the file. */
typedef struct {
    char *buf;
    int n;
    char **text;
    cJSON **obj;
    int *lineno;
} hist_lines_t;

static void hist_lines_free(hist_lines_t *h) {
    for (int i = 0; i < h->n; i++) cJSON_Delete(h->obj[i]);
    free(h->buf);
    free(h->text);
    free(h->obj);
    free(h->lineno);
    memset(h, 0, sizeof *h);
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

static st_status_t hist_lines_load(hist_lines_t *h, const char *path, int *missing, st_error_t *err) {
    memset(h, 0, sizeof *h);
    size_t len = 0;
    ST_TRY(read_text(&h->buf, &len, path, missing, err));
    if (!h->buf) return ST_OK;
    int cap = 1;
    for (size_t i = 0; i < len; i++) cap += h->buf[i] == '\n';
    h->text = malloc(sizeof *h->text * (size_t)cap);
    h->obj = malloc(sizeof *h->obj * (size_t)cap);
    h->lineno = malloc(sizeof *h->lineno * (size_t)cap);
    if (!h->text || !h->obj || !h->lineno) {
        hist_lines_free(h);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    char *s = h->buf;
    for (int lineno = 1; *s; lineno++) {
        char *nl = strchr(s, '\n');
        int last_cut = nl == NULL;
        if (nl) *nl = '\0';
        char *next = nl ? nl + 1 : s + strlen(s);
        if (!is_blank(s)) {
            cJSON *o = cJSON_Parse(s);
            int ok = cJSON_IsObject(o) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "step"));
            if (!ok) {
                cJSON_Delete(o);
                if (last_cut) break; /* a write cut short: drop it */
                st_status_t rc = st_fail(err, ST_ERR_DATA, "%s line %d: not a JSON object with a numeric \"step\"",
                                         path, lineno);
                hist_lines_free(h);
                return rc;
            }
            h->text[h->n] = s;
            h->obj[h->n] = o;
            h->lineno[h->n] = lineno;
            h->n++;
        }
        s = next;
    }
    return ST_OK;
}

st_status_t st_history_truncate(const char *run_dir, int64_t step, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX];
    ST_TRY(path_join(path, sizeof path, run_dir, ST_HISTORY_FILE, err));
    hist_lines_t h;
    int missing = 0;
    ST_TRY(hist_lines_load(&h, path, &missing, err));
    if (missing) return ST_OK;
    size_t total = 1;
    for (int i = 0; i < h.n; i++) total += strlen(h.text[i]) + 1;
    char *out = malloc(total);
    if (!out) {
        hist_lines_free(&h);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = 0;
    for (int i = 0; i < h.n; i++) {
        double s = cJSON_GetObjectItemCaseSensitive(h.obj[i], "step")->valuedouble;
        if (!(s <= (double)step)) continue;
        size_t l = strlen(h.text[i]);
        memcpy(out + n, h.text[i], l);
        n += l;
        out[n++] = '\n';
    }
    hist_lines_free(&h);
    st_status_t rc = st_write_file_atomic(path, out, n, err);
    free(out);
    return rc;
}

static double json_num(const cJSON *o, const char *key, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsNull(v)) return NAN;
    *ok = 0;
    return NAN;
}

static void copy_str(char *dst, size_t size, const cJSON *v) {
    dst[0] = '\0';
    if (cJSON_IsString(v)) st_format(dst, size, "%s", v->valuestring);
}

st_status_t st_history_read(st_history_record_t **recs, int *n_recs, const char *path, st_error_t *err) {
    *recs = NULL;
    *n_recs = 0;
    hist_lines_t h;
    ST_TRY(hist_lines_load(&h, path, NULL, err));
    st_history_record_t *r = calloc((size_t)(h.n > 0 ? h.n : 1), sizeof *r);
    if (!r) {
        hist_lines_free(&h);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < h.n; i++) {
        const cJSON *o = h.obj[i];
        double v[N_HISTORY_NUMERIC];
        for (int k = 0; k < N_HISTORY_NUMERIC; k++) {
            int ok = 1;
            v[k] = json_num(o, history_numeric_keys[k], &ok);
            if (!ok) {
                st_status_t rc = st_fail(err, ST_ERR_DATA, "%s line %d: \"%s\" is missing or not a number", path,
                                         h.lineno[i], history_numeric_keys[k]);
                free(r);
                hist_lines_free(&h);
                return rc;
            }
        }
        r[i].epoch = (int64_t)v[0];
        r[i].step = (int64_t)v[1];
        r[i].lr = v[2];
        r[i].train_loss = v[3];
        r[i].train_accuracy = v[4];
        r[i].val_loss = v[5];
        r[i].val_accuracy = v[6];
        r[i].seconds = v[7];
        r[i].samples_per_s = v[8];
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "diversity");
        if (cJSON_IsObject(d)) {
            int ok = 1;
            r[i].has_diversity = 1;
            r[i].diversity.n_distinct = (int)json_num(d, "n_distinct", &ok);
            r[i].diversity.top_share = json_num(d, "top_share", &ok);
            r[i].diversity.norm_entropy = json_num(d, "norm_entropy", &ok);
        }
        copy_str(r[i].collapse_warning, sizeof r[i].collapse_warning,
                 cJSON_GetObjectItemCaseSensitive(o, "collapse_warning"));
        copy_str(r[i].param_hash, sizeof r[i].param_hash, cJSON_GetObjectItemCaseSensitive(o, "param_hash"));
    }
    *recs = r;
    *n_recs = h.n;
    hist_lines_free(&h);
    return ST_OK;
}

/* Exact equality of two JSON values (numbers as the same double, objects key by key). */
static int json_equal(const cJSON *a, const cJSON *b) {
    if ((a->type & 0xFF) != (b->type & 0xFF)) return 0;
    if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next)
            if (!json_equal(x, y)) return 0;
        return 1;
    }
    if (cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (!y || !json_equal(x, y)) return 0;
        }
        return 1;
    }
    return 1; /* null, true, false: the type says it all */
}

int st_history_is_timing_key(const char *k) {
    return !strcmp(k, "seconds") || !strcmp(k, "samples_per_s") || !strcmp(k, "eval_seconds") ||
           !strcmp(k, "time_unix_s");
}

static void describe_value(char *dst, size_t size, const cJSON *v) {
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    st_format(dst, size, "%s", v ? (s ? s : "?") : "(absent)");
    free(s);
}

/* 1 and `where` filled when the lines differ apart from timing keys. */
static int compare_line(char *where, size_t size, const cJSON *a, const cJSON *b, int lineno) {
    char epoch[48] = "";
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(a, "epoch");
    if (cJSON_IsNumber(e)) st_format(epoch, sizeof epoch, " (epoch %.0f)", e->valuedouble);
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *x = pass == 0 ? a : b, *other = pass == 0 ? b : a;
        for (const cJSON *k = x->child; k; k = k->next) {
            if (st_history_is_timing_key(k->string)) continue;
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(other, k->string);
            if (y && json_equal(k, y)) continue;
            char va[200], vb[200];
            describe_value(va, sizeof va, pass == 0 ? k : y);
            describe_value(vb, sizeof vb, pass == 0 ? y : k);
            st_format(where, size, "line %d%s: %s: %s vs %s", lineno, epoch, k->string, va, vb);
            return 1;
        }
    }
    return 0;
}

st_status_t st_history_compare(int *differ, char *where, size_t where_size, const char *path_a,
                               const char *path_b, st_error_t *err) {
    *differ = 0;
    if (where_size) where[0] = '\0';
    hist_lines_t a, b;
    ST_TRY(hist_lines_load(&a, path_a, NULL, err));
    st_status_t rc = hist_lines_load(&b, path_b, NULL, err);
    if (rc != ST_OK) {
        hist_lines_free(&a);
        return rc;
    }
    int n = a.n < b.n ? a.n : b.n;
    for (int i = 0; i < n && !*differ; i++) *differ = compare_line(where, where_size, a.obj[i], b.obj[i], a.lineno[i]);
    if (!*differ && a.n != b.n) {
        *differ = 1;
        st_format(where, where_size, "a has %d lines, b has %d", a.n, b.n);
    }
    hist_lines_free(&a);
    hist_lines_free(&b);
    return ST_OK;
}

/* ---- per-class scores, confusion matrix, metrics.json ----------------------------------- */

void st_csv_put_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static const char *class_name(char *buf, size_t size, const char *const *names, int c) {
    if (names && names[c]) return names[c];
    st_format(buf, size, "%d", c);
    return buf;
}

typedef struct {
    double *precision, *recall, *f1;
    int64_t *support;
    double macro_f1;
} scores_t;

static st_status_t scores_compute(scores_t *s, const int64_t *conf, int K, st_error_t *err) {
    s->precision = calloc((size_t)K, sizeof(double));
    s->recall = calloc((size_t)K, sizeof(double));
    s->f1 = calloc((size_t)K, sizeof(double));
    s->support = calloc((size_t)K, sizeof(int64_t));
    if (!s->precision || !s->recall || !s->f1 || !s->support) {
        free(s->precision), free(s->recall), free(s->f1), free(s->support);
        return st_fail(err, ST_ERR_NOMEM, "out of memory for per-class scores");
    }
    s->macro_f1 = st_class_scores(s->precision, s->recall, s->f1, s->support, conf, K);
    return ST_OK;
}

static void scores_free(scores_t *s) { free(s->precision), free(s->recall), free(s->f1), free(s->support); }

/* Finishes a memstream and writes its bytes atomically. */
static st_status_t memstream_commit(FILE *f, char **buf, size_t *n, const char *path, st_error_t *err) {
    int bad = ferror(f);
    fclose(f);
    st_status_t rc = bad || !*buf ? st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path)
                                  : st_write_file_atomic(path, *buf, *n, err);
    free(*buf);
    *buf = NULL;
    return rc;
}

st_status_t st_write_class_csvs(const char *run_dir, const char *prefix, const int64_t *conf, const char *const *class_names,
                                int K, st_error_t *err) {
    if (K < 1) return st_fail(err, ST_ERR_INTERNAL, "st_write_class_csvs: K = %d", K);
    char path[ST_RESULTS_PATH_MAX], file[256], nb[24];
    scores_t s;
    ST_TRY(scores_compute(&s, conf, K, err));

    st_format(file, sizeof file, "%sper_class.csv", prefix);
    st_status_t rc = path_join(path, sizeof path, run_dir, file, err);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = rc == ST_OK ? open_memstream(&buf, &n) : NULL;
    if (rc == ST_OK && !f) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    if (rc == ST_OK) {
        fputs("class,name,support,precision,recall,f1,accuracy\n", f);
        for (int c = 0; c < K; c++) {
            fprintf(f, "%d,", c);
            st_csv_put_field(f, class_name(nb, sizeof nb, class_names, c));
            fprintf(f, ",%lld,%.6f,%.6f,%.6f,%.6f\n", (long long)s.support[c], s.precision[c], s.recall[c],
                    s.f1[c], s.recall[c]);
        }
        rc = memstream_commit(f, &buf, &n, path, err);
    }
    scores_free(&s);
    ST_TRY(rc);

    st_format(file, sizeof file, "%sconfusion.csv", prefix);
    ST_TRY(path_join(path, sizeof path, run_dir, file, err));
    f = open_memstream(&buf, &n);
    if (!f) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    fputs("true\\predicted", f);
    for (int c = 0; c < K; c++) {
        fputc(',', f);
        st_csv_put_field(f, class_name(nb, sizeof nb, class_names, c));
    }
    fputc('\n', f);
    for (int r = 0; r < K; r++) {
        st_csv_put_field(f, class_name(nb, sizeof nb, class_names, r));
        for (int c = 0; c < K; c++) fprintf(f, ",%lld", (long long)conf[(size_t)r * K + c]);
        fputc('\n', f);
    }
    return memstream_commit(f, &buf, &n, path, err);
}

static void add_metric_table(cJSON *d, const st_final_metrics_t *m) {
    if (m->n_metrics <= 0) return;
    cJSON *o = cJSON_AddObjectToObject(d, "metrics");
    for (int i = 0; i < m->n_metrics; i++) cJSON_AddItemToObject(o, m->metric_names[i], num_or_null(m->metric_values[i]));
}

/* metrics.json of a run whose first head is not a class head: loss, split, checkpoint, metrics. */
static st_status_t write_metrics_only(const char *path, const st_final_metrics_t *m, st_error_t *err) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "loss", num_or_null(m->loss));
    cJSON_AddItemToObject(d, "split", str_or_null(m->split));
    cJSON_AddItemToObject(d, "checkpoint", str_or_null(m->checkpoint));
    add_metric_table(d, m);
    st_status_t rc = write_json(path, d, 1, err);
    cJSON_Delete(d);
    return rc;
}

st_status_t st_write_metrics_json(const char *run_dir, const st_final_metrics_t *m, st_error_t *err) {
    const int K = m->conf ? m->K : 0;
    if (m->conf && K < 1) return st_fail(err, ST_ERR_INTERNAL, "st_write_metrics_json: K = %d", K);
    char path[ST_RESULTS_PATH_MAX], nb[24];
    ST_TRY(path_join(path, sizeof path, run_dir, "metrics.json", err));
    if (!m->conf) return write_metrics_only(path, m, err);
    scores_t s;
    ST_TRY(scores_compute(&s, m->conf, K, err));
    int64_t n_samples = 0;
    for (int c = 0; c < K; c++) n_samples += s.support[c];

    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "accuracy", num_or_null(st_confusion_accuracy(m->conf, K)));
    cJSON_AddItemToObject(d, "loss", num_or_null(m->loss));
    cJSON_AddItemToObject(d, "macro_f1", num_or_null(s.macro_f1));
    cJSON *pc = cJSON_AddArrayToObject(d, "per_class");
    for (int c = 0; c < K; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddStringToObject(o, "name", class_name(nb, sizeof nb, m->class_names, c));
        cJSON_AddNumberToObject(o, "support", (double)s.support[c]);
        cJSON_AddNumberToObject(o, "precision", s.precision[c]);
        cJSON_AddNumberToObject(o, "recall", s.recall[c]);
        cJSON_AddNumberToObject(o, "f1", s.f1[c]);
        cJSON_AddItemToArray(pc, o);
    }
    cJSON_AddItemToObject(d, "split", str_or_null(m->split));
    cJSON_AddNumberToObject(d, "n_samples", (double)n_samples);
    cJSON_AddItemToObject(d, "checkpoint", str_or_null(m->checkpoint));
    cJSON *names = cJSON_AddArrayToObject(d, "class_names");
    for (int c = 0; c < K; c++) cJSON_AddItemToArray(names, cJSON_CreateString(class_name(nb, sizeof nb, m->class_names, c)));
    cJSON *cm = cJSON_AddArrayToObject(d, "confusion");
    for (int r = 0; r < K; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int c = 0; c < K; c++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->conf[(size_t)r * K + c]));
        cJSON_AddItemToArray(cm, row);
    }
    scores_free(&s);
    add_metric_table(d, m);
    st_status_t rc = write_json(path, d, 1, err);
    cJSON_Delete(d);
    return rc;
}

st_status_t st_write_split_json(const char *run_dir, const st_split_summary_t *s, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX];
    ST_TRY(path_join(path, sizeof path, run_dir, "split.json", err));
    static const char *const parts[3] = {"train", "val", "test"};
    int64_t total[3] = {0, 0, 0};
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < s->K; k++) total[p] += s->counts[(size_t)p * (size_t)s->K + (size_t)k];
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "stratify", s->stratify);
    cJSON *rows = cJSON_AddObjectToObject(d, "rows");
    for (int p = 0; p < 3; p++) cJSON_AddNumberToObject(rows, parts[p], (double)total[p]);
    cJSON *classes = cJSON_AddArrayToObject(d, "classes");
    for (int k = 0; k < s->K; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->class_names ? s->class_names[k] : "");
        for (int p = 0; p < 3; p++) {
            int64_t c = s->counts[(size_t)p * (size_t)s->K + (size_t)k];
            char key[32];
            cJSON_AddNumberToObject(o, parts[p], (double)c);
            snprintf(key, sizeof key, "%s_share", parts[p]);
            cJSON_AddItemToObject(o, key, num_or_null(total[p] > 0 ? (double)c / (double)total[p] : NAN));
        }
        cJSON_AddItemToArray(classes, o);
    }
    cJSON_AddNumberToObject(d, "groups", (double)s->n_groups);
    cJSON *w = cJSON_AddArrayToObject(d, "warnings");
    for (int i = 0; i < s->n_warnings && i < 4; i++) cJSON_AddItemToArray(w, cJSON_CreateString(s->warnings[i]));
    cJSON_AddNumberToObject(d, "n_warnings", s->n_warnings);
    st_status_t rc = write_json(path, d, 1, err);
    cJSON_Delete(d);
    return rc;
}
