/* report_internal.h — the section writers of `strata report`, shared by report_html.c (the
 * document, runs, warnings, config, environment), report_curves.c (curves) and
 * report_classes.c (per-class, per-class-history). Each writes one <section> for all runs. */
#ifndef ST_REPORT_INTERNAL_H
#define ST_REPORT_INTERNAL_H

#include <stdio.h>

#include "jobs/report_run.h"
#include "jobs/svg_plot.h"

/* <p class="missing">text</p>, the text escaped. */
void st_report_missing(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* <h3>name</h3> before a run's part of a section, when there are several runs. */
void st_report_run_heading(FILE *f, const st_report_run_t *r, int n_runs);

void st_report_curves(FILE *f, const st_report_run_t *runs, int n_runs);
void st_report_per_class(FILE *f, const st_report_run_t *runs, int n_runs);
void st_report_class_history(FILE *f, const st_report_run_t *runs, int n_runs);

#endif
