/* svg_plot.c — line charts, heatmaps and bar charts as inline SVG (svg_plot.h). */
#include "jobs/svg_plot.h"

#include <math.h>
#include <string.h>

#define FONT "font-family=\"sans-serif\" font-size=\"11\""

void st_html_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

const char *st_svg_colour(char *buf, int k) {
    static const char *const tab10[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    if (k >= 0 && k < 10) return snprintf(buf, 24, "%s", tab10[k]), buf;
    snprintf(buf, 24, "hsl(%d,65%%,45%%)", (k * 137) % 360); /* golden-angle hues */
    return buf;
}

/* 1, 2 or 5 times a power of ten, at least raw. */
static double nice_step(double raw) {
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

int st_svg_ticks(double *ticks, double *lo, double *hi, int max_ticks, double step_min) {
    if (!isfinite(*lo) || !isfinite(*hi) || *lo > *hi) *lo = 0, *hi = 1;
    if (*lo == *hi) {
        double pad = *lo == 0 ? 1 : fabs(*lo) * 0.1;
        *lo -= pad, *hi += pad;
    }
    double step = fmax(nice_step((*hi - *lo) / (max_ticks - 1)), step_min);
    double first = floor(*lo / step), last = ceil(*hi / step);
    while (last - first + 1 > max_ticks) step = nice_step(step * 1.01), first = floor(*lo / step), last = ceil(*hi / step);
    int n = 0;
    for (double k = first; k <= last && n < max_ticks; k++) ticks[n++] = k * step == 0 ? 0 : k * step;
    *lo = first * step, *hi = last * step;
    return n;
}

/* ---- line chart ---- */

typedef struct {
    double x0, x1, y0, y1;
    int left, top, pw, ph;
} frame_t;

static double px(const frame_t *fr, double x) { return fr->left + (x - fr->x0) / (fr->x1 - fr->x0) * fr->pw; }
static double py(const frame_t *fr, double y) { return fr->top + (1 - (y - fr->y0) / (fr->y1 - fr->y0)) * fr->ph; }

/* The finite x and y ranges of every series (x also over the markers); 0 when no point is finite. */
static int data_range(const st_svg_chart_t *c, double *x0, double *x1, double *y0, double *y1) {
    *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY;
    int any = 0;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            any = 1;
            *x0 = fmin(*x0, x), *x1 = fmax(*x1, x), *y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
        }
    for (int v = 0; any && v < c->n_vlines; v++)
        if (isfinite(c->vlines[v].x)) *x0 = fmin(*x0, c->vlines[v].x), *x1 = fmax(*x1, c->vlines[v].x);
    return any;
}

static void axes(FILE *f, const frame_t *fr, const double *xt, int nx, const double *yt, int ny) {
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" stroke=\"#888\"/>\n", fr->left,
            fr->top, fr->pw, fr->ph);
    for (int i = 0; i < ny; i++) {
        double y = py(fr, yt[i]);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" " FONT ">%.4g</text>\n",
                fr->left, y, fr->left + fr->pw, y, fr->left - 4, y + 4, yt[i]);
    }
    for (int i = 0; i < nx; i++) {
        double x = px(fr, xt[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" " FONT ">%.4g</text>\n",
                x, fr->top + fr->ph, x, fr->top + fr->ph + 4, x, fr->top + fr->ph + 16, xt[i]);
    }
}

/* One polyline per run of finite points; a lone point is a dot. */
static void series_path(FILE *f, const frame_t *fr, const st_svg_series_t *s) {
    for (int i = 0; i < s->n;) {
        while (i < s->n && (!isfinite(s->x[i]) || !isfinite(s->y[i]))) i++;
        int start = i;
        while (i < s->n && isfinite(s->x[i]) && isfinite(s->y[i])) i++;
        if (i - start == 1)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px(fr, s->x[start]),
                    py(fr, s->y[start]), s->colour);
        if (i - start < 2) continue;
        fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"", s->colour,
                s->dashed ? " stroke-dasharray=\"5,3\"" : "");
        for (int k = start; k < i; k++) fprintf(f, "%s%.1f,%.1f", k > start ? " " : "", px(fr, s->x[k]), py(fr, s->y[k]));
        fputs("\"><title>", f);
        st_html_escape(f, s->name);
        fputs("</title></polyline>\n", f);
    }
}

static void vline(FILE *f, const frame_t *fr, const st_svg_vline_t *v) {
    if (!isfinite(v->x)) return;
    double x = px(fr, v->x);
    fprintf(f, "<line class=\"restart\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" "
            "stroke-dasharray=\"2,2\"><title>", x, fr->top, x, fr->top + fr->ph);
    st_html_escape(f, v->label);
    fprintf(f, "</title></line><text x=\"%.1f\" y=\"%d\" fill=\"#c00\" " FONT ">", x + 2, fr->top + 10);
    st_html_escape(f, v->label);
    fputs("</text>\n", f);
}

/* Legend entries flowed left to right in rows of 16 px from y; returns the height used. */
static int legend(FILE *f, const st_svg_chart_t *c, int y, int draw) {
    int x = 8, rows = c->n_series > 0;
    for (int s = 0; s < c->n_series; s++) {
        int w = 30 + 6 * (int)strlen(c->series[s].name ? c->series[s].name : "");
        if (x + w > c->width && x > 8) x = 8, rows++;
        int ry = y + (rows - 1) * 16;
        if (draw) {
            fprintf(f, "<g class=\"legend\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                    "<text x=\"%d\" y=\"%d\" " FONT ">", x, ry + 8, x + 20, ry + 8, c->series[s].colour,
                    c->series[s].dashed ? " stroke-dasharray=\"5,3\"" : "", x + 24, ry + 12);
            st_html_escape(f, c->series[s].name);
            fputs("</text></g>\n", f);
        }
        x += w;
    }
    return rows * 16;
}

static void labels(FILE *f, const st_svg_chart_t *c, const frame_t *fr) {
    fprintf(f, "<text x=\"%d\" y=\"16\" font-family=\"sans-serif\" font-size=\"13\" font-weight=\"bold\">", fr->left);
    st_html_escape(f, c->title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" " FONT ">", fr->left + fr->pw / 2,
            fr->top + fr->ph + 30);
    st_html_escape(f, c->x_label);
    fprintf(f, "</text>\n<text transform=\"translate(12,%d) rotate(-90)\" text-anchor=\"middle\" " FONT ">",
            fr->top + fr->ph / 2);
    st_html_escape(f, c->y_label);
    fputs("</text>\n", f);
}

int st_svg_line_chart(FILE *f, const st_svg_chart_t *c) {
    frame_t fr = {0, 0, 0, 0, 58, 24, c->width - 58 - 12, 0};
    int legend_h = legend(f, c, 0, 0);
    fr.ph = c->height - fr.top - 36 - legend_h;
    fprintf(f, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            c->width, c->height, c->width, c->height);
    int any = data_range(c, &fr.x0, &fr.x1, &fr.y0, &fr.y1);
    labels(f, c, &fr);
    if (!any) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" " FONT " fill=\"#888\">no data</text>\n</svg>\n", fr.left + 10, fr.top + 30);
        return 0;
    }
    double xt[10], yt[8];
    int nx = st_svg_ticks(xt, &fr.x0, &fr.x1, 8, c->x_step_min), ny = st_svg_ticks(yt, &fr.y0, &fr.y1, 6, 0);
    axes(f, &fr, xt, nx, yt, ny);
    int drawn = 0;
    for (int s = 0; s < c->n_series; s++) {
        series_path(f, &fr, &c->series[s]);
        for (int i = 0; i < c->series[s].n; i++)
            if (isfinite(c->series[s].x[i]) && isfinite(c->series[s].y[i])) { drawn++; break; }
    }
    for (int v = 0; v < c->n_vlines; v++) vline(f, &fr, &c->vlines[v]);
    legend(f, c, fr.top + fr.ph + 38, 1);
    fputs("</svg>\n", f);
    return drawn;
}

/* ---- heatmap ---- */

/* White to dark blue by share in [0, 1]. */
static void cell_colour(char *buf /*[24]*/, double share) {
    double s = isfinite(share) ? fmin(fmax(share, 0), 1) : 0;
    snprintf(buf, 24, "#%02x%02x%02x", (int)(255 - s * (255 - 8)), (int)(255 - s * (255 - 48)), (int)(255 - s * (255 - 107)));
}

static void heat_labels(FILE *f, const char *const *names, int K, int off, int cell) {
    for (int k = 0; k < K; k++) {
        char num[16];
        snprintf(num, sizeof num, "%d", k);
        const char *t = names && names[k] && names[k][0] ? names[k] : num;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" " FONT ">", off - 4, off + k * cell + cell / 2 + 4);
        st_html_escape(f, t);
        fprintf(f, "</text><text transform=\"translate(%d,%d) rotate(-60)\" " FONT ">", off + k * cell + cell / 2 + 3, off - 4);
        st_html_escape(f, t);
        fputs("</text>\n", f);
    }
}

/* The colour scale: 11 steps from 0 to 100 % of the row, at (x, y). */
static void heat_scale(FILE *f, int x, int y) {
    for (int i = 0; i <= 10; i++) {
        char col[24];
        cell_colour(col, i / 10.0);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"10\" fill=\"%s\" stroke=\"#ccc\"/>", x + 12 * i, y, col);
    }
    fprintf(f, "\n<text x=\"%d\" y=\"%d\" " FONT ">0</text><text x=\"%d\" y=\"%d\" " FONT ">100%% of the true class</text>\n",
            x, y + 22, x + 120, y + 22);
}

void st_svg_heatmap(FILE *f, const int64_t *conf, const char *const *names, int K) {
    int labelled = K <= 30, numbers = K <= 15;
    int cell = K <= 15 ? 36 : K <= 30 ? 18 : K <= 300 ? 600 / K : 2;
    if (cell < 2) cell = 2;
    int off = labelled ? 110 : 10, size = off + K * cell + 10, width = size > 290 ? size : 290;
    fprintf(f, "<svg class=\"heatmap\" data-classes=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n", K, width, size + 30, width, size + 30);
    heat_scale(f, off, size);
    if (labelled) heat_labels(f, names, K, off, cell);
    for (int i = 0; i < K; i++) {
        int64_t row = 0;
        for (int j = 0; j < K; j++) row += conf[(size_t)i * K + j];
        for (int j = 0; j < K; j++) {
            int64_t v = conf[(size_t)i * K + j];
            double share = row > 0 ? (double)v / (double)row : 0;
            char col[24];
            cell_colour(col, share);
            fprintf(f, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">", off + j * cell,
                    off + i * cell, cell, cell, col);
            if (labelled) fprintf(f, "<title>true %d, predicted %d: %lld (%.1f%%)</title>", i, j, (long long)v, 100 * share);
            fputs("</rect>", f);
            if (numbers && v > 0)
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"10\" "
                        "fill=\"%s\">%lld</text>", off + j * cell + cell / 2, off + i * cell + cell / 2 + 4,
                        share > 0.5 ? "#fff" : "#000", (long long)v);
        }
        fputc('\n', f);
    }
    fputs("</svg>\n", f);
}

/* ---- bars ---- */

void st_svg_bars(FILE *f, const char *const *names, const double *values, int n, const char *unit) {
    double top = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(values[i])) top = fmax(top, values[i]);
    int row = 20, label_w = 150, bar_w = 300;
    fprintf(f, "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n",
            label_w + bar_w + 90, n * row + 4);
    for (int i = 0; i < n; i++) {
        double v = values[i], w = isfinite(v) && top > 0 ? v / top * bar_w : 0;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" " FONT ">", label_w - 6, i * row + 14);
        st_html_escape(f, names[i]);
        fprintf(f, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#4c78a8\"/>"
                "<text x=\"%.1f\" y=\"%d\" " FONT ">%.3g ", label_w, i * row + 3, w, row - 6, label_w + w + 4, i * row + 14, v);
        st_html_escape(f, unit);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}
