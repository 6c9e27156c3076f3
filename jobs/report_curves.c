/* report_curves.c — the `curves` section of `strata report` (report_html.h): for every head
 * found in history.jsonl, one chart per metric with its training (dashed) and validation
 * (solid) values over epochs, then the learning rate and samples/s; each run one colour when
 * several are overlaid. Restarts from run.json are vertical lines; a last chart shows the epochs
 * done against wall-clock time (history's time_unix_s), restarts at the time they happened.
 *
 * History keys are `train_<metric>` / `val_<metric>` for the whole model (the combined loss and
 * the first head's accuracy) and `train_<metric>.<head>` / `val_<metric>.<head>` per head, so
 * the heads and their metrics (accuracy, macro_f1, mae, rmse, r2, wer, cer, ...) are read from
 * the keys rather than listed here. */
#include "jobs/report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HEADS 16
#define MAX_METRICS 16
#define CHART_W 400
#define CHART_H 270

typedef struct {
    char name[64];
    char metric[MAX_METRICS][48];
    int n_metrics;
} head_keys_t;

typedef struct {
    head_keys_t head[MAX_HEADS];
    int n_heads;
} keys_t;

static void add_metric(head_keys_t *h, const char *metric, size_t len) {
    for (int m = 0; m < h->n_metrics; m++)
        if (strlen(h->metric[m]) == len && strncmp(h->metric[m], metric, len) == 0) return;
    if (h->n_metrics == MAX_METRICS || len >= sizeof h->metric[0]) return;
    snprintf(h->metric[h->n_metrics++], sizeof h->metric[0], "%.*s", (int)len, metric);
}

/* Files "val_accuracy.fine" under head "fine", metric "accuracy". */
static void add_key(keys_t *k, const char *key) {
    const char *rest = strncmp(key, "train_", 6) == 0 ? key + 6 : strncmp(key, "val_", 4) == 0 ? key + 4 : NULL;
    if (!rest || strcmp(rest, "seconds") == 0) return;
    const char *dot = strchr(rest, '.');
    const char *head = dot ? dot + 1 : "";
    size_t len = dot ? (size_t)(dot - rest) : strlen(rest);
    int h = 0;
    while (h < k->n_heads && strcmp(k->head[h].name, head) != 0) h++;
    if (h == k->n_heads) {
        if (h == MAX_HEADS || strlen(head) >= sizeof k->head[0].name) return;
        memset(&k->head[h], 0, sizeof k->head[h]);
        snprintf(k->head[k->n_heads++].name, sizeof k->head[0].name, "%s", head);
    }
    add_metric(&k->head[h], rest, len);
}

static void collect_keys(keys_t *k, const st_report_run_t *runs, int n_runs) {
    memset(k, 0, sizeof *k);
    for (int r = 0; r < n_runs; r++)
        for (int i = 0; i < runs[r].n_hist; i++)
            for (const cJSON *c = runs[r].hist[i]->child; c; c = c->next)
                if (c->string) add_key(k, c->string);
}

/* x [n_hist] := epochs, y [n_hist] := key's values (NaN where a line lacks it). */
static void series_values(double *x, double *y, const st_report_run_t *r, const char *key) {
    for (int i = 0; i < r->n_hist; i++) {
        x[i] = st_report_num(r->hist[i], "epoch");
        y[i] = st_report_num(r->hist[i], key);
    }
}

static int has_key(const st_report_run_t *r, const char *key) {
    for (int i = 0; i < r->n_hist; i++)
        if (isfinite(st_report_num(r->hist[i], key))) return 1;
    return 0;
}

/* Restarts of every run as markers at epoch resumed_from_step / steps-per-epoch. */
static int restart_lines(st_svg_vline_t *v, char (*label)[160], int max, const st_report_run_t *runs, int n_runs) {
    int n = 0;
    for (int r = 0; r < n_runs; r++) {
        if (runs[r].n_hist == 0) continue;
        double per_epoch = st_report_num(runs[r].hist[0], "step") / st_report_num(runs[r].hist[0], "epoch");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(runs[r].run, "restarts"), *e;
        cJSON_ArrayForEach(e, a) {
            if (n == max) return n;
            double ranks = st_report_num(e, "ranks");
            snprintf(label[n], sizeof label[0], "%s%srestart (%.0f ranks)", n_runs > 1 ? runs[r].name : "",
                     n_runs > 1 ? " " : "", ranks);
            v[n].x = st_report_num(e, "resumed_from_step") / per_epoch, v[n].label = label[n];
            n++;
        }
    }
    return n;
}

typedef struct {
    st_svg_series_t s[64];
    char name[64][320];
    char colour[64][24];
    int n;
} series_set_t;

/* Adds run r's series for key (skipped when no line has it); kind 0 val, 1 train, 2 plain. */
static void add_series(series_set_t *set, const st_report_run_t *runs, int n_runs, int r, const char *key, int kind) {
    if (set->n == 64 || !has_key(&runs[r], key)) return;
    int n = runs[r].n_hist, i = set->n;
    double *x = malloc(2 * (size_t)n * sizeof *x);
    if (!x) return;
    series_values(x, x + n, &runs[r], key);
    const char *what = kind == 0 ? "val" : kind == 1 ? "train" : key;
    if (n_runs > 1) snprintf(set->name[i], sizeof set->name[0], "%s %s", runs[r].name, what);
    else snprintf(set->name[i], sizeof set->name[0], "%s", what);
    st_svg_colour(set->colour[i], n_runs > 1 ? r : kind == 1 ? 0 : 1);
    set->s[i] = (st_svg_series_t){set->name[i], x, x + n, n, set->colour[i], kind == 1};
    set->n++;
}

static void free_series(series_set_t *set) {
    for (int i = 0; i < set->n; i++) free((void *)set->s[i].x);
    set->n = 0;
}

static void chart(FILE *f, series_set_t *set, const char *title, const char *y_label, const st_svg_vline_t *v, int n_v) {
    st_svg_chart_t c = {title, "epoch", y_label, set->s, set->n, v, n_v, CHART_W, CHART_H, 1};
    st_svg_line_chart(f, &c);
    free_series(set);
}

static void head_charts(FILE *f, const head_keys_t *h, int n_heads, const st_report_run_t *runs, int n_runs,
                        const st_svg_vline_t *v, int n_v) {
    series_set_t set = {.n = 0};
    fputs("<h3>", f);
    st_html_escape(f, h->name[0] ? h->name : n_heads > 1 ? "whole model (combined loss; first head's accuracy)" : "model");
    fputs("</h3>\n<div class=\"charts\">\n", f);
    for (int m = 0; m < h->n_metrics; m++) {
        char key[2][128], title[160];
        for (int r = 0; r < n_runs; r++)
            for (int kind = 0; kind < 2; kind++) {
                snprintf(key[kind], sizeof key[0], "%s_%s%s%s", kind ? "train" : "val", h->metric[m], h->name[0] ? "." : "",
                         h->name);
                add_series(&set, runs, n_runs, r, key[kind], kind);
            }
        snprintf(title, sizeof title, "%s%s%s", h->name, h->name[0] ? ": " : "", h->metric[m]);
        chart(f, &set, title, h->metric[m], v, n_v);
    }
    fputs("</div>\n", f);
}

static void run_charts(FILE *f, const st_report_run_t *runs, int n_runs, const st_svg_vline_t *v, int n_v) {
    series_set_t set = {.n = 0};
    fputs("<h3>learning rate and throughput</h3>\n<div class=\"charts\">\n", f);
    for (int r = 0; r < n_runs; r++) add_series(&set, runs, n_runs, r, "lr", 2);
    chart(f, &set, "learning rate (end of epoch)", "lr", v, n_v);
    for (int r = 0; r < n_runs; r++) add_series(&set, runs, n_runs, r, "samples_per_s", 2);
    chart(f, &set, "training samples/s", "samples/s", v, n_v);
    fputs("</div>\n", f);
}

/* Seconds since 1970 of an ISO 8601 UTC time ("2026-12-04T21:01:43Z"); NaN when s is not one. */
static double iso_unix_s(const char *s) {
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    return end && !*end ? (double)timegm(&tm) : NAN;
}

/* Where run r's wall-clock axis starts: run.json start_time, else its first history line's time
 * less that epoch's seconds; NaN when its lines carry no time_unix_s (runs before it was kept). */
static double run_start_s(const st_report_run_t *r) {
    double t0 = r->n_hist ? st_report_num(r->hist[0], "time_unix_s") : NAN;
    if (!isfinite(t0)) return NAN;
    double start = iso_unix_s(st_report_str(r->run, "start_time"));
    return isfinite(start) && start <= t0 ? start : t0 - st_report_num(r->hist[0], "seconds");
}

/* Epochs done against wall-clock time since each run's start (minutes, or hours past two), with
 * each restart at the time it happened: a preemption shows as a flat stretch ending in a line. */
static void timeline_chart(FILE *f, const st_report_run_t *runs, int n_runs) {
    series_set_t set = {.n = 0};
    st_svg_vline_t v[32];
    char labels[32][160];
    int n_v = 0;
    double span = 0;
    for (int r = 0; r < n_runs; r++)
        for (int i = 0; isfinite(run_start_s(&runs[r])) && i < runs[r].n_hist; i++)
            span = fmax(span, st_report_num(runs[r].hist[i], "time_unix_s") - run_start_s(&runs[r]));
    if (!(span > 0)) return;
    double unit = span > 7200 ? 3600 : 60;
    for (int r = 0; r < n_runs && set.n < 64; r++) {
        double t0 = run_start_s(&runs[r]);
        int n = runs[r].n_hist, i = set.n;
        double *x = isfinite(t0) ? malloc(2 * (size_t)n * sizeof *x) : NULL;
        if (!x) continue;
        for (int k = 0; k < n; k++)
            x[k] = (st_report_num(runs[r].hist[k], "time_unix_s") - t0) / unit, x[n + k] = st_report_num(runs[r].hist[k], "epoch");
        snprintf(set.name[i], sizeof set.name[0], "%s", n_runs > 1 ? runs[r].name : "epochs done");
        st_svg_colour(set.colour[i], n_runs > 1 ? r : 1);
        set.s[i] = (st_svg_series_t){set.name[i], x, x + n, n, set.colour[i], 0};
        set.n++;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(runs[r].run, "restarts"), *e;
        cJSON_ArrayForEach(e, a) {
            if (n_v == 32) break;
            snprintf(labels[n_v], sizeof labels[0], "%s%srestart (%.0f ranks)", n_runs > 1 ? runs[r].name : "",
                     n_runs > 1 ? " " : "", st_report_num(e, "ranks"));
            v[n_v].x = (iso_unix_s(st_report_str(e, "time")) - t0) / unit, v[n_v].label = labels[n_v];
            n_v++;
        }
    }
    st_svg_chart_t c = {"epochs over wall-clock time", unit == 3600 ? "hours since the start" : "minutes since the start",
                        "epoch", set.s, set.n, v, n_v, CHART_W, CHART_H, 0};
    fputs("<h3>progress over time</h3>\n<div class=\"charts\">\n", f);
    st_svg_line_chart(f, &c);
    fputs("</div>\n", f);
    free_series(&set);
}

void st_report_curves(FILE *f, const st_report_run_t *runs, int n_runs) {
    keys_t k;
    fputs("<section id=\"curves\">\n<h2>Training curves</h2>\n", f);
    for (int r = 0; r < n_runs; r++)
        if (runs[r].n_hist == 0)
            st_report_missing(f, "%s: history.jsonl is missing or empty (no epoch finished yet)", runs[r].dir);
    collect_keys(&k, runs, n_runs);
    st_svg_vline_t v[32];
    char labels[32][160];
    int n_v = restart_lines(v, labels, 32, runs, n_runs);
    if (k.n_heads > 0)
        fputs("<p class=\"caption\">Dashed: training (the epoch's running value), solid: validation. "
              "Red dotted lines: restarts (run.json <code>restarts</code>).</p>\n", f);
    for (int h = 0; h < k.n_heads; h++) head_charts(f, &k.head[h], k.n_heads, runs, n_runs, v, n_v);
    if (k.n_heads > 0) run_charts(f, runs, n_runs, v, n_v);
    if (k.n_heads > 0) timeline_chart(f, runs, n_runs);
    fputs("</section>\n", f);
}
