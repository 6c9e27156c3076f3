/* report_classes.c — the `per-class` and `per-class-history` sections of `strata report`
 * (report_html.h). per-class: the test metrics of metrics.json, then for every confusion CSV of
 * the run folder (confusion.csv: the final evaluation of the first head; val_confusion.csv /
 * val_<head>_confusion.csv: the latest validation) its per-class table and a heatmap.
 * per-class-history: val_per_class_history.csv (jobs/class_history.h) as one line per class
 * (recall over epochs), or for more than 20 classes the 5 worst and 5 best at the last
 * validation and the mean over all classes. */
#include "jobs/report_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/class_history.h"

#define MANY_CLASSES 20

/* ---- per-class ---- */

static void test_metrics(FILE *f, const st_report_run_t *r) {
    if (!r->metrics) {
        st_report_missing(f, "%s/metrics.json is missing: no final evaluation yet (the run is going, or stopped before it)",
                          r->dir);
        return;
    }
    const char *split = st_report_str(r->metrics, "split");
    fprintf(f, "<table class=\"metrics\"><caption>final evaluation on the %s split (%.0f samples)</caption>\n",
            split ? split : "?", st_report_num(r->metrics, "n_samples"));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->metrics, "metrics"), *c;
    cJSON_ArrayForEach(c, m) {
        fputs("<tr><th>", f);
        st_html_escape(f, c->string);
        fprintf(f, "</th><td>%.4f</td></tr>\n", cJSON_IsNumber(c) ? c->valuedouble : NAN);
    }
    if (!m) fprintf(f, "<tr><th>accuracy</th><td>%.4f</td></tr>\n", st_report_num(r->metrics, "accuracy"));
    fputs("</table>\n", f);
}

static void csv_table(FILE *f, const st_report_table_t *t, const char *caption) {
    int fold = t->rows - 1 > 30;
    if (fold) fprintf(f, "<details><summary>%d classes: the table</summary>\n", t->rows - 1);
    fputs("<table class=\"per-class\"><caption>", f);
    st_html_escape(f, caption);
    fputs("</caption>\n", f);
    for (int i = 0; i < t->rows; i++) {
        fputs("<tr>", f);
        for (int j = 0; j < t->cols; j++) {
            fputs(i == 0 ? "<th>" : "<td>", f);
            st_html_escape(f, st_report_cell(t, i, j));
            fputs(i == 0 ? "</th>" : "</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (fold) fputs("</details>\n", f);
}

/* The confusion CSV (header "true\predicted,names...", rows "name,counts...") as a heatmap. */
static void heatmap_from(FILE *f, const st_report_table_t *t, const char *path) {
    int K = t->rows - 1;
    if (K < 1 || t->cols != K + 1) {
        st_report_missing(f, "%s: not a K x K confusion matrix (%d rows, %d columns)", path, t->rows, t->cols);
        return;
    }
    int64_t *conf = malloc((size_t)K * K * sizeof *conf);
    const char **names = malloc((size_t)K * sizeof *names);
    if (conf && names) {
        for (int k = 0; k < K; k++) names[k] = st_report_cell(t, 0, k + 1);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++) conf[(size_t)i * K + j] = strtoll(st_report_cell(t, i + 1, j + 1), NULL, 10);
        fprintf(f, "<figure>\n");
        st_svg_heatmap(f, conf, names, K);
        fprintf(f, "<figcaption>Rows: true class, columns: predicted; colour: the share of the row%s.</figcaption>"
                "</figure>\n", K <= 15 ? ", numbers: counts" : K <= 30 ? " (counts in the tooltips)" : "");
    }
    free(conf);
    free(names);
}

/* "" -> the final evaluation, "val_" -> validation, "val_<head>_" -> validation of <head>. */
static void prefix_title(char *out, size_t size, const char *prefix) {
    size_t n = strlen(prefix);
    if (n == 0) snprintf(out, size, "final evaluation (first head)");
    else if (strcmp(prefix, "val_") == 0) snprintf(out, size, "latest validation");
    else snprintf(out, size, "latest validation, head %.*s", (int)(n > 5 ? n - 5 : 0), prefix + 4);
}

static void one_confusion(FILE *f, const st_report_run_t *r, const char *prefix) {
    char path[4400], title[200];
    prefix_title(title, sizeof title, prefix);
    fputs("<h4>", f);
    st_html_escape(f, title);
    fputs("</h4>\n<div class=\"pair\">\n", f);
    st_report_table_t t;
    int missing;
    st_error_t err = {0};
    snprintf(path, sizeof path, "%s/%sper_class.csv", r->dir, prefix);
    if (st_report_table_read(&t, path, &missing, &err) != ST_OK) st_report_missing(f, "%s", err.msg);
    else if (missing) st_report_missing(f, "%s is missing", path);
    else csv_table(f, &t, "per class"), st_report_table_free(&t);
    snprintf(path, sizeof path, "%s/%sconfusion.csv", r->dir, prefix);
    if (st_report_table_read(&t, path, &missing, &err) != ST_OK) st_report_missing(f, "%s", err.msg);
    else heatmap_from(f, &t, path), st_report_table_free(&t);
    fputs("</div>\n", f);
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

/* The prefixes of the folder's *confusion.csv files, sorted ("" first). */
static int confusion_prefixes(char (*prefix)[128], int max, const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) && n < max;) {
        size_t len = strlen(e->d_name), tail = strlen("confusion.csv");
        if (len >= tail && len - tail < 128 && strcmp(e->d_name + len - tail, "confusion.csv") == 0)
            snprintf(prefix[n++], 128, "%.*s", (int)(len - tail), e->d_name);
    }
    if (d) closedir(d);
    qsort(prefix, (size_t)n, sizeof *prefix, by_name);
    return n;
}

void st_report_per_class(FILE *f, const st_report_run_t *runs, int n_runs) {
    fputs("<section id=\"per-class\">\n<h2>Per class</h2>\n", f);
    for (int r = 0; r < n_runs; r++) {
        st_report_run_heading(f, &runs[r], n_runs);
        test_metrics(f, &runs[r]);
        char prefix[64][128];
        int n = confusion_prefixes(prefix, 64, runs[r].dir);
        if (n == 0)
            st_report_missing(f, "%s: no confusion matrix (confusion.csv, val_confusion.csv): the run has no class head "
                              "or has not validated yet", runs[r].dir);
        for (int i = 0; i < n; i++) one_confusion(f, &runs[r], prefix[i]);
    }
    fputs("</section>\n", f);
}

/* ---- per-class history ---- */

typedef struct {
    char head[64];
    int n_epochs, K;
    double epoch[4096];
    double *recall;     /* [n_epochs, K], NaN where missing */
    const char **names; /* [K] into the table */
} head_history_t;

/* The rows of one head (in file order) gathered into h; 0 when it has none. */
static int gather(head_history_t *h, const st_report_table_t *t, const char *head) {
    h->n_epochs = h->K = 0;
    snprintf(h->head, sizeof h->head, "%s", head);
    for (int i = 1; i < t->rows; i++) {
        if (strcmp(st_report_cell(t, i, 1), head) != 0) continue;
        double e = atof(st_report_cell(t, i, 0));
        int k = atoi(st_report_cell(t, i, 2));
        if (h->n_epochs == 0 || h->epoch[h->n_epochs - 1] != e) {
            if (h->n_epochs == 4096) break;
            h->epoch[h->n_epochs++] = e;
        }
        if (k >= h->K && k < 100000) h->K = k + 1;
    }
    if (h->n_epochs == 0 || h->K == 0) return 0;
    h->recall = malloc((size_t)h->n_epochs * h->K * sizeof *h->recall);
    h->names = calloc((size_t)h->K, sizeof *h->names);
    if (!h->recall || !h->names) return 0;
    for (size_t i = 0; i < (size_t)h->n_epochs * h->K; i++) h->recall[i] = NAN;
    for (int i = 1, e = -1; i < t->rows; i++) {
        if (strcmp(st_report_cell(t, i, 1), head) != 0) continue;
        double ep = atof(st_report_cell(t, i, 0));
        while (e + 1 < h->n_epochs && (e < 0 || h->epoch[e] != ep)) e++;
        int k = atoi(st_report_cell(t, i, 2));
        if (k < 0 || k >= h->K) continue;
        h->recall[(size_t)e * h->K + k] = atof(st_report_cell(t, i, 5));
        h->names[k] = st_report_cell(t, i, 3);
    }
    return 1;
}

static const double *last_recall(const head_history_t *h) { return h->recall + (size_t)(h->n_epochs - 1) * h->K; }

static const head_history_t *sort_ctx;
static int by_last_recall(const void *a, const void *b) {
    const double *last = last_recall(sort_ctx);
    double x = last[*(const int *)a], y = last[*(const int *)b];
    x = isfinite(x) ? x : -1, y = isfinite(y) ? y : -1;
    return x < y ? -1 : x > y;
}

/* The classes drawn: all of them, or the 5 worst and 5 best at the last validation. */
static int chosen_classes(int *pick, const head_history_t *h) {
    int *order = malloc((size_t)h->K * sizeof *order);
    if (!order) return 0;
    for (int k = 0; k < h->K; k++) order[k] = k;
    int n = 0;
    if (h->K <= MANY_CLASSES) {
        for (int k = 0; k < h->K; k++) pick[n++] = k;
    } else {
        sort_ctx = h;
        qsort(order, (size_t)h->K, sizeof *order, by_last_recall);
        for (int i = 0; i < 5; i++) pick[n++] = order[i];
        for (int i = h->K - 5; i < h->K; i++) pick[n++] = order[i];
    }
    free(order);
    return n;
}

static void mean_over_classes(double *mean /*[n_epochs]*/, const head_history_t *h) {
    for (int e = 0; e < h->n_epochs; e++) {
        double s = 0;
        int n = 0;
        for (int k = 0; k < h->K; k++)
            if (isfinite(h->recall[(size_t)e * h->K + k])) s += h->recall[(size_t)e * h->K + k], n++;
        mean[e] = n ? s / n : NAN;
    }
}

static void history_chart(FILE *f, const head_history_t *h, const char *run_name) {
    int pick[MANY_CLASSES];
    int n = chosen_classes(pick, h);
    st_svg_series_t s[MANY_CLASSES + 1];
    char colours[MANY_CLASSES + 1][24], labels[MANY_CLASSES + 1][96], title[256];
    double *y = malloc((size_t)(n + 1) * h->n_epochs * sizeof *y);
    if (!y) return;
    for (int i = 0; i < n; i++) {
        for (int e = 0; e < h->n_epochs; e++) y[(size_t)i * h->n_epochs + e] = h->recall[(size_t)e * h->K + pick[i]];
        const char *nm = h->names[pick[i]];
        const char *rank = h->K <= MANY_CLASSES ? "" : i < 5 ? " (worst)" : " (best)";
        if (nm && nm[0]) snprintf(labels[i], sizeof labels[i], "%.80s%s", nm, rank);
        else snprintf(labels[i], sizeof labels[i], "class %d%s", pick[i], rank);
        s[i] = (st_svg_series_t){labels[i], h->epoch, y + (size_t)i * h->n_epochs, h->n_epochs, st_svg_colour(colours[i], i), 0};
    }
    int n_s = n;
    if (h->K > MANY_CLASSES) {
        mean_over_classes(y + (size_t)n * h->n_epochs, h);
        s[n_s++] = (st_svg_series_t){"mean of all classes", h->epoch, y + (size_t)n * h->n_epochs, h->n_epochs, "#000", 1};
    }
    snprintf(title, sizeof title, "%s%s%s", run_name, run_name[0] && h->head[0] ? ", head " : "", h->head);
    st_svg_chart_t c = {title, "epoch", "recall (per-class accuracy)", s, n_s, NULL, 0, 680, 380, 1};
    fputs("<figure>\n", f);
    st_svg_line_chart(f, &c);
    if (h->K > MANY_CLASSES)
        fprintf(f, "<figcaption>%d classes: the 5 worst and the 5 best at the last validation, and the mean over all "
                "classes (dashed).</figcaption>\n", h->K);
    else fprintf(f, "<figcaption>One line per class (%d classes).</figcaption>\n", h->K);
    fputs("</figure>\n", f);
    free(y);
}

/* Every head of one run's history file, one chart each. */
static void run_class_history(FILE *f, const st_report_run_t *r) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, ST_CLASS_HISTORY_FILE);
    st_report_table_t t;
    int missing;
    st_error_t err = {0};
    if (st_report_table_read(&t, path, &missing, &err) != ST_OK) {
        st_report_missing(f, "%s", err.msg);
        return;
    }
    if (missing || t.rows < 2) {
        st_report_missing(f, "%s is %s: the run has no class head, has not validated yet, or predates it", path,
                          missing ? "missing" : "empty");
        st_report_table_free(&t);
        return;
    }
    head_history_t *h = calloc(1, sizeof *h);
    if (!h) {
        st_report_missing(f, "%s: out of memory", path);
        st_report_table_free(&t);
        return;
    }
    const char *heads[16];
    int n_heads = 0;
    for (int i = 1; i < t.rows && n_heads < 16; i++) { /* the heads, in order of first appearance */
        int seen = 0;
        for (int j = 0; j < n_heads && !seen; j++) seen = strcmp(heads[j], st_report_cell(&t, i, 1)) == 0;
        if (!seen) heads[n_heads++] = st_report_cell(&t, i, 1);
    }
    for (int i = 0; i < n_heads; i++) {
        if (gather(h, &t, heads[i])) history_chart(f, h, "");
        free(h->recall), free(h->names), h->recall = NULL, h->names = NULL;
    }
    free(h);
    st_report_table_free(&t);
}

void st_report_class_history(FILE *f, const st_report_run_t *runs, int n_runs) {
    fputs("<section id=\"per-class-history\">\n<h2>Per-class validation accuracy over epochs</h2>\n", f);
    for (int r = 0; r < n_runs; r++) {
        st_report_run_heading(f, &runs[r], n_runs);
        run_class_history(f, &runs[r]);
    }
    fputs("</section>\n", f);
}
