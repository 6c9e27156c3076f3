/* fixed_sum.c — grouping-independent sums by 64-bit fixed point (see fixed_sum.h). */
#include "fixed_sum.h"

#include <math.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

/* round(x) half to even, as llrint in the default rounding mode, without a library call. */
static inline int64_t round_to_i64(double x) {
#if defined(__x86_64__)
    return _mm_cvtsd_si64(_mm_set_sd(x));
#else
    return llrint(x);
#endif
}

double st_max_abs(const float *x, size_t n) {
    enum { BLOCK = 4096 };
    size_t n_blocks = (n + BLOCK - 1) / BLOCK;
    double m = 0;
    int bad = 0;
    #pragma omp parallel for schedule(static) reduction(max : m) reduction(| : bad)
    for (size_t b = 0; b < n_blocks; b++) { /* max is exact in any order */
        size_t end = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
        for (size_t i = b * BLOCK; i < end; i++) {
            float a = fabsf(x[i]);
            if (!isfinite(a)) bad = 1;
            else if (a > m) m = a;
        }
    }
    return bad ? INFINITY : m;
}

int st_fixed_exponent(double max_abs, int n_terms) {
    if (!(max_abs > 0)) return 0;
    int k;
    frexp(max_abs * (double)(n_terms > 0 ? n_terms : 1), &k);
    return 62 - k;
}

void st_fixed_add(int64_t *acc, const float *x, size_t n, int e) {
    const double scale = ldexp(1.0, e); /* a power of two: x·scale is exact */
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) acc[i] += round_to_i64((double)x[i] * scale);
}

void st_fixed_sum_arrays(int64_t *acc, const float *const *xs, int n_arrays, size_t n, int e) {
    const double scale = ldexp(1.0, e);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        int64_t s = 0;
        for (int k = 0; k < n_arrays; k++) s += round_to_i64((double)xs[k][i] * scale);
        acc[i] = s;
    }
}

void st_fixed_to_float(float *x, const int64_t *acc, size_t n, int e) {
    const double inv = ldexp(1.0, -e);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)acc[i] * inv);
}

st_status_t st_allreduce_sum_i64_big(int64_t *x, size_t n, const st_comm_t *c, st_error_t *err) {
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        int count = (int)(n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30));
        ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x + off, count, MPI_INT64_T, MPI_SUM, c->comm), err);
    }
    return ST_OK;
}
