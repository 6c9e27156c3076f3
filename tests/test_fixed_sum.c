/* test_fixed_sum.c — the fixed-point kernels of reproducible mode "exact" (mpi/fixed_sum.h):
 * the integer conversion against llrint(ldexp(x, e)) on every kind of float (normal,
 * subnormal, zero, both signs, exact ties, random bit patterns) and every exponent range; the
 * largest magnitude and its NaN/Inf flag at every position of vector tails; sums over arrays
 * equal to adding them one by one, and the same for any grouping; the conversion back, bitwise
 * (float)((double)acc·2^−e) over the whole range |acc| <= 2^51. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/fixed_sum.h"
#include "philox.h"

/* Random float bit patterns (any sign, exponent, significand; NaN/Inf replaced), each kept
 * within the range an exponent e allows: |x·2^e| < 2^51. */
static void random_floats(float *x, size_t n, int e, uint64_t seed) {
    uint32_t w[4];
    for (size_t i = 0; i < n; i++) {
        if (i % 4 == 0) st_rand_u32x4(seed, ST_RNG_TEST, 1, 0, i / 4, w);
        memcpy(&x[i], &w[i % 4], sizeof(float));
        if (!isfinite(x[i]) || fabs(ldexp(x[i], e)) >= 0x1p51) x[i] = ldexpf((float)(w[i % 4] % 4096) - 2048.0f, -e - 3);
    }
}

static void expect_llrint(const float *x, size_t n, int e) {
    int64_t *acc = calloc(n, sizeof(int64_t));
    st_fixed_add(acc, x, n, e);
    for (size_t i = 0; i < n; i++) {
        int64_t want = llrint(ldexp(x[i], e));
        if (acc[i] != want) fail_msg("e %d, x[%zu] = %a: got %lld, llrint gives %lld", e, i, x[i], (long long)acc[i], (long long)want);
    }
    free(acc);
}

static void test_conversion_matches_llrint_on_random_bits(void **s) {
    (void)s;
    enum { N = 100003 }; /* odd: a vector tail */
    float *x = malloc(sizeof(float) * N);
    for (int e = -40; e <= 230; e += 9) {
        random_floats(x, N, e, (uint64_t)(e + 1000));
        expect_llrint(x, N, e);
    }
    free(x);
}

/* Exact ties (k + 1/2)·2^-e round to even; subnormals, zero and -0 convert like llrint. */
static void test_conversion_special_values(void **s) {
    (void)s;
    float x[64];
    int n = 0;
    for (int k = -6; k <= 6; k++) x[n++] = ldexpf((float)k + 0.5f, -20);    /* ties at e = 20 */
    for (int k = -3; k <= 3; k++) x[n++] = ldexpf((float)k + 0.25f, -20);   /* below half */
    for (int k = -3; k <= 3; k++) x[n++] = ldexpf((float)k + 0.75f, -20);   /* above half */
    x[n++] = 0.0f, x[n++] = -0.0f, x[n++] = 0x1p-149f, x[n++] = -0x1p-149f, x[n++] = 0x1.fffffcp-127f;
    x[n++] = 0x1p-24f, x[n++] = 0x1.8p-24f, x[n++] = 1.0f, x[n++] = -1.0f, x[n++] = 0x1.fffffep+10f;
    /* e = 60: large values; 150: subnormals become integers; 0: everything rounds to a few
     * integers. Only values the exponent allows (|x·2^e| < 2^51), as the engine ensures. */
    const int exponents[] = {20, 60, 150, 0};
    for (int j = 0; j < 4; j++) {
        float ok[64];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (fabs(ldexp(x[i], exponents[j])) < 0x1p51) ok[m++] = x[i];
        assert_true(m >= 5);
        expect_llrint(ok, (size_t)m, exponents[j]);
    }
}

static void test_max_abs_and_nonfinite_everywhere(void **s) {
    (void)s;
    enum { N = 53 };
    float x[N];
    for (int n = 1; n <= N; n++)
        for (int at = 0; at < n; at++) {
            for (int i = 0; i < n; i++) x[i] = (float)((i * 7) % 11) - 5.0f;
            x[at] = -100.0f - (float)at;
            assert_true(st_max_abs(x, (size_t)n) == 100.0 + at);
            x[at] = at % 2 ? NAN : -INFINITY;
            assert_true(isinf(st_max_abs(x, (size_t)n)));
        }
    assert_true(st_max_abs(x, 0) == 0.0);
}

static void test_sum_arrays_equals_one_by_one_any_grouping(void **s) {
    (void)s;
    enum { K = 6, N = 4099 };
    float *xs[K];
    int64_t *a = calloc(N, sizeof(int64_t)), *b = calloc(N, sizeof(int64_t)), *c = calloc(N, sizeof(int64_t));
    int e = st_fixed_exponent(8.0, K);
    for (int k = 0; k < K; k++) {
        xs[k] = malloc(sizeof(float) * N);
        tu_fill_uniform(xs[k], N, -8.0f, 8.0f, (uint64_t)(k + 1));
        st_fixed_add(a, xs[k], N, e);
    }
    st_fixed_sum_arrays(b, (const float *const *)xs, K, N, e);
    assert_memory_equal(a, b, sizeof(int64_t) * N);
    /* grouped as ranks would: (0,1,2) + (3,4,5) */
    st_fixed_sum_arrays(c, (const float *const *)xs, 3, N, e);
    st_fixed_sum_arrays(b, (const float *const *)xs + 3, 3, N, e);
    for (int i = 0; i < N; i++) c[i] += b[i];
    assert_memory_equal(a, c, sizeof(int64_t) * N);
    /* and with two threads instead of one */
    int threads = omp_get_max_threads();
    omp_set_num_threads(threads > 1 ? 1 : 2);
    st_fixed_sum_arrays(b, (const float *const *)xs, K, N, e);
    omp_set_num_threads(threads);
    assert_memory_equal(a, b, sizeof(int64_t) * N);
    /* back to float: the float sum to well within an ulp of the result */
    float *y = malloc(sizeof(float) * N);
    st_fixed_to_float(y, a, N, e);
    for (int i = 0; i < N; i++) {
        double ref = 0;
        for (int k = 0; k < K; k++) ref += xs[k][i];
        assert_true(fabs(y[i] - ref) <= 0x1p-23 * fabs(ref) + 0x1p-40);
    }
    for (int k = 0; k < K; k++) free(xs[k]);
    free(a), free(b), free(c), free(y);
}

/* The largest magnitude equals a scalar fabsf scan on random bit patterns (any exponent,
 * subnormals, -0), and both signs of every extreme. */
static void test_max_abs_matches_scalar_on_random_bits(void **s) {
    (void)s;
    enum { N = 10007 };
    float *x = malloc(sizeof(float) * N);
    for (int e = -100; e <= 200; e += 25) {
        random_floats(x, N, e, (uint64_t)(e + 77));
        for (int n = N - 40; n <= N; n += 13) {
            float want = 0;
            for (int i = 0; i < n; i++) want = fabsf(x[i]) > want ? fabsf(x[i]) : want;
            assert_true(st_max_abs(x, (size_t)n) == (double)want);
        }
    }
    const float extremes[] = {-0.0f, 0x1p-149f, -0x1p-149f, 0x1.fffffcp-127f, -FLT_MAX, FLT_MAX};
    for (int j = 0; j < 6; j++) {
        for (int i = 0; i < 40; i++) x[i] = j > 0 ? 0.0f : -0.0f;
        x[17] = extremes[j];
        assert_true(st_max_abs(x, 40) == fabs((double)extremes[j]));
    }
    free(x);
}

/* Back to float: bitwise the scalar (float)((double)a·2^−e) for random a in [−2^51, 2^51] and at
 * the ends of that range, at several exponents. */
static void test_to_float_bitwise_over_the_range(void **s) {
    (void)s;
    enum { N = 4099 };
    int64_t *a = malloc(sizeof(int64_t) * N);
    float *y = malloc(sizeof(float) * N);
    uint32_t w[4];
    for (int i = 0; i < N; i++) {
        st_rand_u32x4(9, ST_RNG_TEST, 2, 0, (uint64_t)i, w);
        int64_t v = (int64_t)((uint64_t)w[0] << 32 | w[1]) >> (12 + w[2] % 50); /* magnitudes 2^0 .. 2^51 */
        a[i] = v;
    }
    const int64_t ends[] = {INT64_C(1) << 51, -(INT64_C(1) << 51), (INT64_C(1) << 51) - 1, -(INT64_C(1) << 51) + 1,
                            0, 1, -1, 3};
    for (int j = 0; j < 8; j++) a[j * 11] = ends[j];
    const int exponents[] = {-20, 0, 30, 51, 120, 200};
    for (int k = 0; k < 6; k++) {
        st_fixed_to_float(y, a, N, exponents[k]);
        for (int i = 0; i < N; i++) {
            float want = (float)((double)a[i] * ldexp(1.0, -exponents[k]));
            if (memcmp(&y[i], &want, sizeof want) != 0)
                fail_msg("e %d, acc[%d] = %lld: got %a, want %a", exponents[k], i, (long long)a[i], y[i], want);
        }
    }
    free(a), free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversion_matches_llrint_on_random_bits),
        cmocka_unit_test(test_conversion_special_values),
        cmocka_unit_test(test_max_abs_and_nonfinite_everywhere),
        cmocka_unit_test(test_sum_arrays_equals_one_by_one_any_grouping),
        cmocka_unit_test(test_max_abs_matches_scalar_on_random_bits),
        cmocka_unit_test(test_to_float_bitwise_over_the_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
