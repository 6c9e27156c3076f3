/* test_philox.c — Philox4x32-10 known-answer vectors (Random123's kat_vectors) and the
 * statelessness of keyed draws. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "philox.h"

static void check_kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t want[4]) {
    uint32_t got[4];
    st_philox4x32_10(ctr, key, got);
    for (int i = 0; i < 4; i++) assert_int_equal(got[i], want[i]);
}

static void test_known_answers(void **state) {
    (void)state;
    const uint32_t z[4] = {0, 0, 0, 0}, zk[2] = {0, 0};
    const uint32_t w0[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    check_kat(z, zk, w0);
    const uint32_t f[4] = {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, fk[2] = {0xffffffff, 0xffffffff};
    const uint32_t w1[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
    check_kat(f, fk, w1);
    const uint32_t p[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, pk[2] = {0xa4093822, 0x299f31d0};
    const uint32_t w2[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
    check_kat(p, pk, w2);
}

/* A draw depends only on its key and counter: drawing a sub-range gives the same numbers. */
static void test_draws_are_pure_functions_of_the_counter(void **state) {
    (void)state;
    float all[64], part[16];
    st_rand_uniform(all, 64, 0.0f, 1.0f, 42, ST_RNG_DROPOUT, 3, 7, 100);
    st_rand_uniform(part, 16, 0.0f, 1.0f, 42, ST_RNG_DROPOUT, 3, 7, 100 + 8);
    assert_memory_equal(all + 32, part, sizeof part);
    /* Another purpose, stream, step or seed gives other numbers. */
    float other[64];
    st_rand_uniform(other, 64, 0.0f, 1.0f, 42, ST_RNG_INIT, 3, 7, 100);
    assert_memory_not_equal(all, other, sizeof all);
    st_rand_uniform(other, 64, 0.0f, 1.0f, 43, ST_RNG_DROPOUT, 3, 7, 100);
    assert_memory_not_equal(all, other, sizeof all);
}

static void test_uniform_and_normal_moments(void **state) {
    (void)state;
    enum { N = 200000 };
    static float u[N], g[N];
    st_rand_uniform(u, N, -1.0f, 3.0f, 1, ST_RNG_TEST, 0, 0, 0);
    st_rand_normal(g, N, 0.5f, 2.0f, 1, ST_RNG_TEST, 1, 0, 0);
    double su = 0, sg = 0, sg2 = 0, lo = 1e9, hi = -1e9;
    for (int i = 0; i < N; i++) {
        su += u[i];
        lo = fmin(lo, u[i]);
        hi = fmax(hi, u[i]);
        sg += g[i];
        sg2 += (double)g[i] * g[i];
    }
    double mg = sg / N, vg = sg2 / N - mg * mg;
    assert_true(fabs(su / N - 1.0) < 0.01);
    assert_true(lo >= -1.0 && hi < 3.0);
    assert_true(fabs(mg - 0.5) < 0.02);
    assert_true(fabs(sqrt(vg) - 2.0) < 0.02);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_draws_are_pure_functions_of_the_counter),
        cmocka_unit_test(test_uniform_and_normal_moments),
    };
    return cmocka_run_group_tests_name("philox", tests, NULL, NULL);
}
