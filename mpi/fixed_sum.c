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

/* max |x[i]| of one span as the bits of the largest |x[i]|, from 16 integer lanes: the sign bit
 * cleared, non-negative floats order as their bit patterns, so an unsigned integer max gives the
 * largest magnitude exactly (max is exact in any order), and NaN or Inf shows as bits >=
 * 0x7f800000. One AND and one unsigned max per element: 5x faster than the float compare with a
 * separate non-finite flag it replaced (2.0 -> 0.36 ms for 4 x 568,330 floats, one thread). */
ST_CLONES static uint32_t span_max_abs_bits(const float *restrict x, long n) {
    enum { L = 16 };
    uint32_t m[L] = {0};
    long i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) {
            uint32_t a;
            memcpy(&a, &x[i + l], sizeof a);
            a &= UINT32_C(0x7fffffff);
            m[l] = a > m[l] ? a : m[l];
        }
    for (; i < n; i++) {
        uint32_t a;
        memcpy(&a, &x[i], sizeof a);
        a &= UINT32_C(0x7fffffff);
        m[0] = a > m[0] ? a : m[0];
    }
    uint32_t best = 0;
    for (int l = 0; l < L; l++) best = m[l] > best ? m[l] : best;
    return best;
}

double st_max_abs(const float *x, size_t n) {
    uint32_t bits = 0;
    #pragma omp parallel reduction(max : bits)
    {
        long i0, i1;
        st_thread_span((long)n, 16, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
        if (i1 > i0) bits = span_max_abs_bits(x + i0, i1 - i0);
    }
    if (bits >= UINT32_C(0x7f800000)) return INFINITY; /* NaN or Inf */
    float m;
    memcpy(&m, &bits, sizeof m);
    return (double)m;
}

int st_fixed_exponent(double max_abs, int n_terms) {
    if (!(max_abs > 0)) return 0;
    int k;
    frexp(max_abs * (double)(n_terms > 0 ? n_terms : 1), &k);
    return 51 - k;
}

/* acc[i] (= or +=) round(x[i]·2^e), and the same for four arrays at once: each element's four
 * terms add in a register and acc is read and written once for them. Fixed arrays (not a loop
 * over k) so the loop vectorises; integer sums are exact, so the grouping is free. 4 x 568,330
 * floats: 0.8 ms array by array -> 0.5 ms (bound by the 13.6 MB it moves). */
ST_CLONES static void add_fixed_span(int64_t *restrict acc, const float *restrict x, long n, int e, int overwrite) {
    const double scale = ldexp(1.0, e);
    for (long i = 0; i < n; i++) {
        int64_t v = fixed_of_float(x[i], scale);
        acc[i] = overwrite ? v : acc[i] + v;
    }
}

ST_CLONES static void add_fixed_span4(int64_t *restrict acc, const float *restrict x0, const float *restrict x1,
                                      const float *restrict x2, const float *restrict x3, long n, int e,
                                      int overwrite) {
    const double scale = ldexp(1.0, e);
    for (long i = 0; i < n; i++) {
        int64_t v = fixed_of_float(x0[i], scale) + fixed_of_float(x1[i], scale) + fixed_of_float(x2[i], scale) +
                    fixed_of_float(x3[i], scale);
        acc[i] = overwrite ? v : acc[i] + v;
    }
}

void st_fixed_add(int64_t *acc, const float *x, size_t n, int e) {
    ST_PARALLEL_SPANS((long)n, add_fixed_span(acc + i0, x + i0, i1 - i0, e, 0));
}

/* One thread's span [i0, i0 + n): the arrays four at a time, then one at a time. */
static void sum_fixed_span(int64_t *acc, const float *const *xs, int n_arrays, long i0, long n, int e) {
    int k = 0;
    for (; k + 4 <= n_arrays; k += 4)
        add_fixed_span4(acc, xs[k] + i0, xs[k + 1] + i0, xs[k + 2] + i0, xs[k + 3] + i0, n, e, k == 0);
    for (; k < n_arrays; k++) add_fixed_span(acc, xs[k] + i0, n, e, k == 0);
}

void st_fixed_sum_arrays(int64_t *acc, const float *const *xs, int n_arrays, size_t n, int e) {
    if (n_arrays <= 0) {
        memset(acc, 0, n * sizeof *acc);
        return;
    }
    ST_PARALLEL_SPANS((long)n, sum_fixed_span(acc + i0, xs, n_arrays, i0, i1 - i0, e));
}

/* (double)a for |a| <= 2^51 without a scalar conversion (AVX2 has no vector int64 -> double):
 * the bits of 1.5·2^52 plus a are the double 1.5·2^52 + a (doubles in [2^52, 2^53] are the
 * integers; a = 2^51 carries into the exponent and gives 2^53, still right), minus 1.5·2^52 is a
 * exactly — fixed_of_float's trick backwards. */
static inline double double_of_fixed(int64_t a) {
    int64_t bits = a + INT64_C(0x4338000000000000);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v - 0x1.8p52;
}

ST_CLONES static void fixed_to_float_span(float *restrict x, const int64_t *restrict acc, long n, double inv) {
    for (long i = 0; i < n; i++) x[i] = (float)(double_of_fixed(acc[i]) * inv);
}

void st_fixed_to_float(float *x, const int64_t *acc, size_t n, int e) {
    const double inv = ldexp(1.0, -e);
    ST_PARALLEL_SPANS((long)n, fixed_to_float_span(x + i0, acc + i0, i1 - i0, inv));
}

st_status_t st_allreduce_sum_i64_big(int64_t *x, size_t n, const st_comm_t *c, st_error_t *err) {
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        int count = (int)(n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30));
        ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x + off, count, MPI_INT64_T, MPI_SUM, c->comm), err);
    }
    return ST_OK;
}
