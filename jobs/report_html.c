/* report_html.c — the `strata report` document (report_html.h): the page, the runs table, the
 * warnings, config and environment sections, and the atomic write. The curves are in
 * report_curves.c, the per-class sections in report_classes.c. */
#include "jobs/report_html.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/report_internal.h"
#include "jobs/results.h"

static const char CSS[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1400px}"
    "h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}"
    "table{border-collapse:collapse;margin:.5em 1em .5em 0;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}caption{text-align:left;font-weight:bold;white-space:nowrap}"
    ".charts,.pair{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}"
    ".missing{color:#a40;font-style:italic}.caption,figcaption{font-size:12px;color:#555}"
    "pre{background:#f6f6f6;padding:.6em;font-size:12px;overflow:auto;tab-size:2}nav a{margin-right:1em}"
    "figure{margin:.3em 0}";

void st_report_missing(FILE *f, const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fputs("<p class=\"missing\">", f);
    st_html_escape(f, text);
    fputs("</p>\n", f);
}

void st_report_run_heading(FILE *f, const st_report_run_t *r, int n_runs) {
    if (n_runs < 2) return;
    fputs("<h3>", f);
    st_html_escape(f, r->name);
    fputs("</h3>\n", f);
}

/* ---- runs table ---- */

/* The best validation value: the highest val_accuracy, else the lowest val_wer or val_loss. */
static void best_val(const st_report_run_t *r, const char **key, double *best, double *epoch) {
    static const char *const keys[3] = {"val_accuracy", "val_wer", "val_loss"};
    *best = *epoch = NAN, *key = NULL;
    for (int k = 0; k < 3 && !*key; k++)
        for (int i = 0; i < r->n_hist; i++) {
            double v = st_report_num(r->hist[i], keys[k]);
            if (isfinite(v) && (!isfinite(*best) || (k == 0 ? v > *best : v < *best)))
                *best = v, *epoch = st_report_num(r->hist[i], "epoch"), *key = keys[k];
        }
}

static void cell_text(FILE *f, const char *s) {
    fputs("<td>", f);
    st_html_escape(f, s ? s : "—");
    fputs("</td>", f);
}

static void runs_table(FILE *f, const st_report_run_t *runs, int n_runs) {
    fputs("<section id=\"runs\">\n<h2>Runs</h2>\n<table><tr><th>run</th><th>best validation</th><th>at epoch</th>"
          "<th>epochs</th><th>test accuracy</th><th>test loss</th><th>status</th></tr>\n", f);
    for (int r = 0; r < n_runs; r++) {
        const char *key;
        double best, epoch;
        best_val(&runs[r], &key, &best, &epoch);
        char text[128];
        fputs("<tr>", f);
        cell_text(f, runs[r].name);
        snprintf(text, sizeof text, "%s %.4f", key ? key : "", best);
        cell_text(f, key ? text : NULL);
        fprintf(f, "<td>%.0f</td><td>%d</td>", epoch, runs[r].n_hist);
        double acc = st_report_num(runs[r].metrics, "accuracy"), loss = st_report_num(runs[r].metrics, "loss");
        snprintf(text, sizeof text, "%.4f", acc);
        cell_text(f, isfinite(acc) ? text : NULL);
        snprintf(text, sizeof text, "%.4f", loss);
        cell_text(f, isfinite(loss) ? text : NULL);
        cell_text(f, st_report_str(runs[r].run, "status"));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);
}

/* ---- warnings ---- */

/* history.jsonl's `key` messages, a run of consecutive epochs with one folded into "epochs a-b
 * (n epochs), key; the last: message" (the numbers in the message change from epoch to epoch). */
static int history_warnings(FILE *f, const st_report_run_t *r, const char *key) {
    int n = 0;
    for (int i = 0; i < r->n_hist;) {
        int j = i;
        while (j < r->n_hist && st_report_str(r->hist[j], key)) j++;
        if (j == i) {
            i++;
            continue;
        }
        double a = st_report_num(r->hist[i], "epoch"), b = st_report_num(r->hist[j - 1], "epoch");
        if (j - i == 1) fprintf(f, "<li>epoch %.0f, %s: ", a, key);
        else fprintf(f, "<li>epochs %.0f–%.0f (%d epochs), %s; the last: ", a, b, j - i, key);
        st_html_escape(f, st_report_str(r->hist[j - 1], key));
        fputs("</li>\n", f);
        n++, i = j;
    }
    return n;
}

static int other_warnings(FILE *f, const st_report_run_t *r) {
    int n = 0;
    const cJSON *w, *a = cJSON_GetObjectItemCaseSensitive(r->split, "warnings");
    cJSON_ArrayForEach(w, a) {
        if (!cJSON_IsString(w)) continue;
        fputs("<li>split.json: ", f);
        st_html_escape(f, w->valuestring);
        fputs("</li>\n", f), n++;
    }
    const char *status = st_report_str(r->run, "status");
    if (status && strncmp(status, "failed", 6) == 0) {
        fputs("<li>run.json status: ", f);
        st_html_escape(f, status);
        fputs("</li>\n", f), n++;
    }
    return n;
}

static void warnings(FILE *f, const st_report_run_t *runs, int n_runs) {
    fputs("<section id=\"warnings\">\n<h2>Warnings</h2>\n", f);
    for (int r = 0; r < n_runs; r++) {
        st_report_run_heading(f, &runs[r], n_runs);
        fputs("<ul>\n", f);
        int n = history_warnings(f, &runs[r], "collapse_warning") + history_warnings(f, &runs[r], "health_warning") +
                other_warnings(f, &runs[r]);
        fputs("</ul>\n", f);
        if (n == 0) fputs("<p class=\"none\">none</p>\n", f);
    }
    fputs("</section>\n", f);
}

/* ---- config, environment ---- */

static void config(FILE *f, const st_report_run_t *runs, int n_runs) {
    fputs("<section id=\"config\">\n<h2>Config</h2>\n", f);
    for (int r = 0; r < n_runs; r++) {
        st_report_run_heading(f, &runs[r], n_runs);
        if (!runs[r].config) {
            st_report_missing(f, "%s/config.json is missing", runs[r].dir);
            continue;
        }
        cJSON *c = cJSON_Parse(runs[r].config);
        char *pretty = c ? cJSON_Print(c) : NULL;
        fputs("<pre>", f);
        st_html_escape(f, pretty ? pretty : runs[r].config);
        fputs("</pre>\n", f);
        free(pretty);
        cJSON_Delete(c);
    }
    fputs("</section>\n", f);
}

static void env_row(FILE *f, const char *name, const cJSON *v) {
    fputs("<tr><th>", f);
    st_html_escape(f, name);
    fputs("</th><td>", f);
    char *text = !v ? NULL : cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
    st_html_escape(f, !v ? "—" : cJSON_IsString(v) ? v->valuestring : text);
    free(text);
    fputs("</td></tr>\n", f);
}

static void startup(FILE *f, const cJSON *s) {
    const char *names[32];
    double values[32];
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, s) if (n < 32 && c->string && cJSON_IsNumber(c)) names[n] = c->string, values[n++] = c->valuedouble;
    if (n == 0) {
        st_report_missing(f, "run.json has no startup_s (start-up phases)");
        return;
    }
    fputs("<h4>start-up phases (run.json <code>startup_s</code>)</h4>\n", f);
    st_svg_bars(f, names, values, n, "s");
}

static void environment(FILE *f, const st_report_run_t *runs, int n_runs) {
    static const char *const keys[] = {"strata_version", "git_commit", "ranks", "threads_per_rank", "blis_kernels",
                                       "hosts", "dataset_path", "dataset_fingerprint", "start_time", "end_time",
                                       "status", "restarts"};
    fputs("<section id=\"environment\">\n<h2>Environment</h2>\n", f);
    for (int r = 0; r < n_runs; r++) {
        st_report_run_heading(f, &runs[r], n_runs);
        if (!runs[r].run) {
            st_report_missing(f, "%s/run.json is missing", runs[r].dir);
            continue;
        }
        fputs("<table>\n", f);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            env_row(f, keys[k], cJSON_GetObjectItemCaseSensitive(runs[r].run, keys[k]));
        fputs("</table>\n", f);
        startup(f, cJSON_GetObjectItemCaseSensitive(runs[r].run, "startup_s"));
    }
    fputs("</section>\n", f);
}

/* ---- the document ---- */

static void document(FILE *f, const st_report_run_t *runs, int n_runs) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>strata report: ", f);
    for (int r = 0; r < n_runs; r++) fprintf(f, "%s", r ? ", " : ""), st_html_escape(f, runs[r].name);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>strata report: ", CSS);
    for (int r = 0; r < n_runs; r++) fprintf(f, "%s", r ? ", " : ""), st_html_escape(f, runs[r].name);
    char now[21];
    st_iso8601_utc(now, time(NULL));
    fprintf(f, "</h1>\n<p class=\"caption\">written %s by <code>strata report</code></p>\n<nav>", now);
    static const char *const ids[] = {"runs", "curves", "per-class", "per-class-history", "warnings", "config", "environment"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) fprintf(f, "<a href=\"#%s\">%s</a>", ids[i], ids[i]);
    fputs("</nav>\n", f);
    runs_table(f, runs, n_runs);
    st_report_curves(f, runs, n_runs);
    st_report_per_class(f, runs, n_runs);
    st_report_class_history(f, runs, n_runs);
    warnings(f, runs, n_runs);
    config(f, runs, n_runs);
    environment(f, runs, n_runs);
    fputs("</body>\n</html>\n", f);
}

static st_status_t render(const char *path, const st_report_run_t *runs, int n_runs, st_error_t *err) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    document(f, runs, n_runs);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(buf);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory composing the report", path);
    }
    st_status_t rc = st_write_file_atomic(path, buf, n, err);
    free(buf);
    return rc;
}

st_status_t st_report_write(char *written, size_t size, const char *out_path, const char *const *run_dirs, int n_runs,
                            st_error_t *err) {
    if (n_runs < 1) return st_fail(err, ST_ERR_CONFIG, "strata report: no run folder given");
    if (n_runs > 1 && !out_path) return st_fail(err, ST_ERR_CONFIG, "strata report: several runs need -o report.html");
    if (out_path) snprintf(written, size, "%s", out_path);
    else if (st_format(written, size, "%s/%s", run_dirs[0], ST_REPORT_FILE))
        return st_fail(err, ST_ERR_IO, "%s: path too long", run_dirs[0]);
    st_report_run_t *runs = calloc((size_t)n_runs, sizeof *runs);
    if (!runs) return st_fail(err, ST_ERR_NOMEM, "strata report: out of memory");
    st_status_t rc = ST_OK;
    int loaded = 0;
    while (rc == ST_OK && loaded < n_runs) {
        rc = st_report_run_load(&runs[loaded], run_dirs[loaded], err);
        loaded += rc == ST_OK;
    }
    if (rc == ST_OK) rc = render(written, runs, n_runs, err);
    for (int r = 0; r < loaded; r++) st_report_run_free(&runs[r]);
    free(runs);
    return rc;
}
