/* report_html.h — `strata report RUN [RUN...] [-o report.html]`: one self-contained HTML file
 * about one or several training runs (docs/report.md). Inline SVG drawn here (jobs/svg_plot.h),
 * inline CSS, no JavaScript and nothing fetched from the network. Sections, each a
 * `<section id="...">`: runs (a table: best validation metric and its epoch, test accuracy,
 * status), curves (per head: loss and metrics, train and val, over epochs; learning rate;
 * samples/s; restarts as vertical lines; several runs overlaid), per-class (test metrics, the
 * per-class tables and confusion heatmaps), per-class-history (per-class validation recall over
 * epochs), warnings, config, environment (run.json and the start-up phases).
 *
 * A file a section needs that is missing (a run still going, no test split, no class head)
 * makes that section say what is missing. The file is written atomically (tmp + rename); on an
 * error nothing is written. Also called by the training job at the end of each run (rank 0). */
#ifndef ST_REPORT_HTML_H
#define ST_REPORT_HTML_H

#include <stddef.h>

#include "st_error.h"

#define ST_REPORT_FILE "report.html"

/* Writes the report of run_dirs [n_runs] to out_path, or (out_path NULL, one run) to
 * `<run>/report.html`; several runs need out_path ("strata report: several runs need -o
 * report.html", ST_ERR_CONFIG). The path written goes to written [size]. A folder that is not a
 * run is an error naming it (report_run.h). */
st_status_t st_report_write(char *written /*[size]*/, size_t size, const char *out_path,
                            const char *const *run_dirs /*[n_runs]*/, int n_runs, st_error_t *err);

#endif
