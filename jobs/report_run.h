/* report_run.h — what `strata report` reads from a run folder (results/README.md): run.json,
 * config.json, metrics.json, split.json, history.jsonl and the CSVs, each optional (a run still
 * going has no metrics.json; a regression run no confusion matrix). Only a folder that has
 * neither run.json nor config.json is refused: it is not a run.
 *
 * history.jsonl lines that do not parse (a line cut short by a killed run) are skipped. CSVs
 * are read whole into a table of strings (sharding/csv_record.h rules). */
#ifndef ST_REPORT_RUN_H
#define ST_REPORT_RUN_H

#include <cJSON.h>

#include "st_error.h"

typedef struct {
    int rows, cols; /* row 0 is the header */
    char **cell;    /* [rows, cols], each NUL-terminated ("" for a short row) */
} st_report_table_t;

/* Reads the CSV at path. A missing file sets *missing = 1 and returns ST_OK with an empty table. */
st_status_t st_report_table_read(st_report_table_t *t, const char *path, int *missing, st_error_t *err);
void st_report_table_free(st_report_table_t *t);
static inline const char *st_report_cell(const st_report_table_t *t, int r, int c) {
    return r < t->rows && c < t->cols ? t->cell[(size_t)r * t->cols + c] : "";
}

typedef struct {
    char dir[4096];
    char name[256];   /* the folder's last component: the run's name in legends */
    cJSON **hist;     /* [n_hist] history.jsonl lines */
    int n_hist;
    cJSON *run, *metrics, *split; /* run.json, metrics.json, split.json; NULL when missing */
    char *config;     /* config.json's text; NULL when missing */
} st_report_run_t;

/* Loads the run folder dir. "<dir>: not a folder" / "<dir> is not a strata run folder (no
 * run.json or config.json)" (ST_ERR_IO / ST_ERR_CONFIG); a file that exists but cannot be read
 * or a JSON file that does not parse is an error naming it. */
st_status_t st_report_run_load(st_report_run_t *r, const char *dir, st_error_t *err);
void st_report_run_free(st_report_run_t *r);

/* o[key] as a number; NaN when missing, null or not a number. */
double st_report_num(const cJSON *o, const char *key);

/* o[key] as a string; NULL when missing or not a string. */
const char *st_report_str(const cJSON *o, const char *key);

#endif
