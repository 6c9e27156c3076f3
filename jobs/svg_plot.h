/* svg_plot.h — inline SVG drawn from explicit arrays, for `strata report` (jobs/report_html.c):
 * a line chart (several series, axes with ticks and labels, a legend, vertical markers), a
 * heatmap (a confusion matrix coloured by row-normalised count) and a horizontal bar chart. No
 * JavaScript, no external fonts or CSS: every element is plain SVG 1.1 inside HTML5, so any
 * browser (or none) renders it.
 *
 * NaN values are gaps: a series is drawn as polylines over its finite runs, a lone finite point
 * as a dot. A chart with no finite value at all says "no data" instead of axes. All text goes
 * through st_html_escape. The writers print to a FILE * and cannot fail (a stream error is
 * found by the caller's fflush/fclose). */
#ifndef ST_SVG_PLOT_H
#define ST_SVG_PLOT_H

#include <stdint.h>
#include <stdio.h>

/* Writes s with &, <, >, " and ' escaped (HTML text and attribute values). NULL writes nothing. */
void st_html_escape(FILE *f, const char *s);

/* The k-th colour of the palette ("#1f77b4" ...; 10 distinct, then hues around the wheel);
 * buf needs 24 bytes. */
const char *st_svg_colour(char *buf /*[24]*/, int k);

/* "Nice" axis ticks over [*lo, *hi] (1, 2 or 5 times a power of ten apart, and at least
 * step_min apart: 1 for epochs; 0 for any), at most max_ticks (>= 2) of them. Widens *lo and *hi
 * to whole steps; an empty range (lo == hi) is widened around the value; non-finite bounds become
 * [0, 1]. Writes the ticks to ticks [max_ticks] and returns how many. */
int st_svg_ticks(double *ticks /*[max_ticks]*/, double *lo, double *hi, int max_ticks, double step_min);

typedef struct {
    const char *name;   /* for the legend */
    const double *x, *y; /* [n]; NaN in either: no point */
    int n;
    const char *colour; /* "#rrggbb" */
    int dashed;
} st_svg_series_t;

typedef struct {
    double x;
    const char *label; /* shown at the top of the line and as its tooltip */
} st_svg_vline_t;

typedef struct {
    const char *title, *x_label, *y_label;
    const st_svg_series_t *series;
    int n_series;
    const st_svg_vline_t *vlines;
    int n_vlines;
    int width, height; /* pixels; the legend is drawn below the plot area */
    double x_step_min;  /* the x ticks' smallest spacing (1: whole epochs; 0: any) */
} st_svg_chart_t;

/* <svg class="chart"> with one <polyline class="series"> per finite run of each series. Returns
 * the number of series that had at least one finite point. */
int st_svg_line_chart(FILE *f, const st_svg_chart_t *c);

/* <svg class="heatmap" data-classes="K">: K×K <rect class="cell">, rows true classes, columns
 * predictions, coloured by conf[i,j] / Σ_j conf[i,j]. K <= 30: class names on both axes (names
 * may be NULL: the class numbers) and counts in the cells when K <= 15; larger K: no labels,
 * cells at least 2 px. */
void st_svg_heatmap(FILE *f, const int64_t *conf /*[K,K]*/, const char *const *names /*[K]*/, int K);

/* <svg class="bars">: one labelled horizontal bar per value (values >= 0; NaN drawn empty),
 * with the value and `unit` after it. */
void st_svg_bars(FILE *f, const char *const *names /*[n]*/, const double *values /*[n]*/, int n, const char *unit);

#endif
