/* bench_util.h — what the benchmark programs share: ordering and the median of timings.
 * Seconds come from core/clock.h (st_clock_s). Header-only: each bench program is one .c file. */
#ifndef ST_BENCH_UTIL_H
#define ST_BENCH_UTIL_H

#include <stdlib.h>

/* qsort comparator for doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v [n] (sorts v; the mean of the middle two for an even n). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
