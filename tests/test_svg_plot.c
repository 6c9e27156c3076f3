/* test_svg_plot.c — the SVG helpers of `strata report` (jobs/svg_plot.h) and the per-class
 * history file (jobs/class_history.h): tick choice (nice steps, whole epochs, an empty or
 * non-finite range), a series with NaN gaps drawn as one polyline per finite run (a lone point
 * as a dot), an all-NaN chart saying "no data", restart markers, a K×K heatmap with K² cells
 * (labels only up to 30 classes), HTML escaping, and val_per_class_history.csv appended with
 * the recall and F1 of a known confusion matrix, then trimmed to the resumed epoch. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "jobs/class_history.h"
#include "jobs/svg_plot.h"

/* The number of non-overlapping occurrences of needle in hay. */
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_ticks(void **s) {
    (void)s;
    double t[8], lo = 0.03, hi = 0.97;
    int n = st_svg_ticks(t, &lo, &hi, 6, 0);
    assert_int_equal(n, 6); /* 0, 0.2, ..., 1 */
    assert_true(fabs(t[0]) < 1e-12 && fabs(t[5] - 1) < 1e-12 && fabs(t[1] - 0.2) < 1e-12);
    assert_true(lo == 0 && fabs(hi - 1) < 1e-12);
    lo = 1, hi = 3; /* three epochs: whole numbers, not 1.5 */
    n = st_svg_ticks(t, &lo, &hi, 8, 1);
    assert_int_equal(n, 3);
    assert_true(t[0] == 1 && t[1] == 2 && t[2] == 3);
    lo = hi = 5; /* one value: widened around it */
    n = st_svg_ticks(t, &lo, &hi, 6, 0);
    assert_true(n >= 2 && lo < 5 && hi > 5);
    lo = NAN, hi = INFINITY;
    n = st_svg_ticks(t, &lo, &hi, 6, 0);
    assert_true(n >= 2 && lo == 0 && hi == 1);
    lo = 0, hi = 35000; /* samples/s: at most 6 ticks, 1/2/5 steps */
    n = st_svg_ticks(t, &lo, &hi, 6, 0);
    assert_true(n <= 6 && t[1] - t[0] == 10000);
}

static char *chart_text(const st_svg_chart_t *c, int *drawn) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    *drawn = st_svg_line_chart(f, c);
    fclose(f);
    return buf;
}

static void test_line_chart(void **s) {
    (void)s;
    double x[7] = {1, 2, 3, 4, 5, 6, 7}, y[7] = {0.5, 0.4, NAN, 0.3, NAN, 0.2, 0.1}, none[7];
    for (int i = 0; i < 7; i++) none[i] = NAN;
    st_svg_series_t ser[2] = {{"val <a&b>", x, y, 7, "#1f77b4", 0}, {"empty", x, none, 7, "#ff7f0e", 1}};
    st_svg_vline_t v = {3.5, "restart (2 ranks)"};
    st_svg_chart_t c = {"loss", "epoch", "loss", ser, 2, &v, 1, 400, 260, 1};
    int drawn;
    char *t = chart_text(&c, &drawn);
    assert_int_equal(drawn, 1);
    assert_int_equal(count(t, "<polyline"), 2); /* [1,2] and [6,7]; 4 alone is a dot */
    assert_int_equal(count(t, "<circle"), 1);
    assert_int_equal(count(t, "class=\"restart\""), 1);
    assert_non_null(strstr(t, "val &lt;a&amp;b&gt;"));
    assert_null(strstr(t, "<a&b>"));
    free(t);
    c.n_series = 1, c.series = &ser[1];
    t = chart_text(&c, &drawn);
    assert_int_equal(drawn, 0);
    assert_non_null(strstr(t, "no data"));
    assert_int_equal(count(t, "<polyline"), 0);
    free(t);
}

static char *heatmap_text(int K) {
    int64_t *conf = calloc((size_t)K * K, sizeof *conf);
    for (int i = 0; i < K; i++) conf[(size_t)i * K + i] = 9, conf[(size_t)i * K + (i + 1) % K] = 1;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    st_svg_heatmap(f, conf, NULL, K);
    fclose(f);
    free(conf);
    return buf;
}

static void test_heatmap(void **s) {
    (void)s;
    char *t = heatmap_text(4);
    assert_int_equal(count(t, "class=\"cell\""), 16);
    assert_non_null(strstr(t, "true 0, predicted 0: 9 (90.0%)"));
    assert_non_null(strstr(t, ">9</text>")); /* numbers in the cells of a small matrix */
    free(t);
    t = heatmap_text(197);
    assert_int_equal(count(t, "class=\"cell\""), 197 * 197);
    assert_int_equal(count(t, "<text"), 2); /* only the colour scale's: no labels or numbers at 197 classes */
    assert_int_equal(count(t, "<title>"), 0);
    free(t);
}

static void test_class_history(void **s) {
    (void)s;
    char dir[] = "/tmp/strata_class_history_XXXXXX";
    assert_non_null(mkdtemp(dir));
    int64_t conf[4] = {3, 1, 0, 2}; /* class 0: recall 3/4, precision 1; class 1: recall 1, precision 2/3 */
    const char *names[2] = {"cat", "a,b"};
    st_error_t err = {0};
    for (int e = 1; e <= 3; e++) assert_int_equal(st_class_history_append(dir, e, "kind", conf, names, 2, &err), ST_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, ST_CLASS_HISTORY_FILE);
    char *text = st_read_file(path, NULL, &err);
    assert_non_null(text);
    assert_int_equal(count(text, "epoch,head,class,name,support,recall,f1\n"), 1);
    assert_non_null(strstr(text, "1,kind,0,cat,4,0.750000,0.857143\n"));
    assert_non_null(strstr(text, "3,kind,1,\"a,b\",2,1.000000,0.800000\n"));
    free(text);
    assert_int_equal(st_class_history_truncate(dir, 2, &err), ST_OK); /* resumed after epoch 2 */
    text = st_read_file(path, NULL, &err);
    assert_int_equal(count(text, "\n"), 1 + 4);
    assert_null(strstr(text, "\n3,"));
    free(text);
    assert_int_equal(st_class_history_truncate(dir, 0, &err), ST_OK); /* a fresh start */
    text = st_read_file(path, NULL, &err);
    assert_string_equal(text, "epoch,head,class,name,support,recall,f1\n");
    free(text);
    unlink(path);
    assert_int_equal(st_class_history_truncate(dir, 0, &err), ST_OK); /* missing: fine */
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_line_chart),
        cmocka_unit_test(test_heatmap),
        cmocka_unit_test(test_class_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
