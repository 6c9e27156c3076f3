/* fixed_sum.c — grouping-independent sums by 64-bit fixed point (see fixed_sum.h). */
#include "fixed_sum.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "simd.h"

/* round(x·2^e) half to even — what llrint(ldexp(x, e)) gives in the default rounding mode — for
 * |x·2^e| < 2^51 (the shared exponent guarantees it): v = x·2^e is exact in double (24
 * significant bits), and v + 1.5·2^52 lies in [2^52, 2^53), where doubles are the integers, so
 * the addition rounds v half to even and the low bits of the sum are the integer (minus the
 * constant's). A multiply, an add and an integer subtract: it vectorises on any x86-64 (there
 * is no vector double→int64 conversion before AVX-512DQ); 3.5x faster than the integer-shift
 * rounding it replaced, which allowed |x·2^e| up to 2^62. */
static inline int64_t fixed_of_float(float x, double scale) {
    double v = (double)x * scale + 0x1.8p52;
    int64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits - INT64_C(0x4338000000000000);
}

/* max |x[i]| of one span in 16 float lanes, and whether any x[i] is NaN or Inf (|x| <= FLT_MAX
 * is false for both). Branch-free, so it vectorises; max is exact in any order. */
ST_CLONES static float span_max_abs(const float *restrict x, long n, int *bad) {
    enum { L = 16 };
    float m[L] = {0};
    int nonfinite[L] = {0};
    long i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) {
            float a = fabsf(x[i + l]);
            nonfinite[l] |= !(a <= FLT_MAX);
            m[l] = a > m[l] ? a : m[l];
        }
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        nonfinite[0] |= !(a <= FLT_MAX);
        m[0] = a > m[0] ? a : m[0];
    }
    float best = 0;
    for (int l = 0; l < L; l++) {
        best = m[l] > best ? m[l] : best;
        *bad |= nonfinite[l];
    }
    return best;
}

double st_max_abs(const float *x, size_t n) {
    float m = 0;
    int bad = 0;
    #pragma omp parallel reduction(max : m) reduction(| : bad)
    {
        long i0, i1;
        st_thread_span((long)n, 16, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
        if (i1 > i0) m = span_max_abs(x + i0, i1 - i0, &bad);
    }
    return bad ? INFINITY : (double)m;
}

int st_fixed_exponent(double max_abs, int n_terms) {
    if (!(max_abs > 0)) return 0;
    int k;
    frexp(max_abs * (double)(n_terms > 0 ? n_terms : 1), &k);
    return 51 - k;
}

ST_CLONES static void add_fixed_span(int64_t *restrict acc, const float *restrict x, long n, int e, int overwrite) {
    const double scale = ldexp(1.0, e);
    for (long i = 0; i < n; i++) {
        int64_t v = fixed_of_float(x[i], scale);
        acc[i] = overwrite ? v : acc[i] + v;
    }
}

void st_fixed_add(int64_t *acc, const float *x, size_t n, int e) {
    ST_PARALLEL_SPANS((long)n, add_fixed_span(acc + i0, x + i0, i1 - i0, e, 0));
}

void st_fixed_sum_arrays(int64_t *acc, const float *const *xs, int n_arrays, size_t n, int e) {
    if (n_arrays <= 0) {
        memset(acc, 0, n * sizeof *acc);
        return;
    }
    /* array by array over each thread's span: the span of acc stays in cache between arrays */
    ST_PARALLEL_SPANS((long)n, for (int k = 0; k < n_arrays; k++) add_fixed_span(acc + i0, xs[k] + i0, i1 - i0, e, k == 0));
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
