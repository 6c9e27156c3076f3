/* class_history.c — appends to and trims `RUN/val_per_class_history.csv` (class_history.h). */
#include "jobs/class_history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "jobs/results.h"
#include "metrics.h"

#define HEADER "epoch,head,class,name,support,recall,f1\n"

static st_status_t history_path(char *path, size_t size, const char *run_dir, st_error_t *err) {
    if (st_format(path, size, "%s/%s", run_dir, ST_CLASS_HISTORY_FILE))
        return st_fail(err, ST_ERR_IO, "%s: path too long", run_dir);
    return ST_OK;
}

/* One row per class: recall and F1 from the confusion's rows and columns (core/metrics.h). */
static void write_rows(FILE *f, int64_t epoch, const char *head, const int64_t *conf, const char *const *names,
                       int K, double *recall, double *f1, int64_t *support) {
    st_class_scores(NULL, recall, f1, support, conf, K);
    for (int k = 0; k < K; k++) {
        fprintf(f, "%lld,", (long long)epoch);
        st_csv_put_field(f, head);
        fprintf(f, ",%d,", k);
        st_csv_put_field(f, names && names[k] ? names[k] : "");
        fprintf(f, ",%lld,%.6f,%.6f\n", (long long)support[k], recall[k], f1[k]);
    }
}

st_status_t st_class_history_append(const char *run_dir, int64_t epoch, const char *head, const int64_t *conf,
                                    const char *const *names, int K, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX];
    ST_TRY(history_path(path, sizeof path, run_dir, err));
    double *scores = malloc(2 * (size_t)K * sizeof *scores);
    int64_t *support = malloc((size_t)K * sizeof *support);
    FILE *f = scores && support ? fopen(path, "a") : NULL;
    st_status_t rc = ST_OK;
    if (!scores || !support) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    else if (!f) rc = st_fail(err, ST_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    else {
        if (ftell(f) == 0) fputs(HEADER, f);
        write_rows(f, epoch, head, conf, names, K, scores, scores + K, support);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = st_fail(err, ST_ERR_IO, "%s: write error: %s", path, strerror(errno));
    }
    if (f && fclose(f) != 0 && rc == ST_OK) rc = st_fail(err, ST_ERR_IO, "%s: write error", path);
    free(scores);
    free(support);
    return rc;
}

st_status_t st_class_history_truncate(const char *run_dir, int64_t epoch, st_error_t *err) {
    char path[ST_RESULTS_PATH_MAX];
    ST_TRY(history_path(path, sizeof path, run_dir, err));
    if (!st_exists(path)) return ST_OK;
    size_t n = 0;
    char *text = st_read_file(path, &n, err);
    if (!text) return err->code;
    size_t kept = 0;
    for (size_t at = 0; at < n;) { /* keep the header (not a number) and rows of epochs <= epoch */
        size_t len = strcspn(text + at, "\n");
        size_t line = len + (at + len < n);
        char *end;
        long long e = strtoll(text + at, &end, 10);
        if (end == text + at || e <= epoch) memmove(text + kept, text + at, line), kept += line;
        at += line;
    }
    st_status_t rc = kept == n ? ST_OK : st_write_file_atomic(path, text, kept, err);
    free(text);
    return rc;
}
