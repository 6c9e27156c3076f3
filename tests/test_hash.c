/* test_hash.c — 64-bit FNV-1a (core/hash.h): the published test vectors from the standard
 * basis, chaining, and the start value of strata's stored fingerprints. */
#include "testutil.h"

#include "hash.h"

static uint64_t of(const char *s) { return st_fnv1a64(ST_FNV1A64_BASIS, s, strlen(s)); }

static void test_known_vectors(void **state) {
    (void)state;
    assert_true(of("") == 0xcbf29ce484222325ull);
    assert_true(of("a") == 0xaf63dc4c8601ec8cull);
    assert_true(of("foobar") == 0x85944171f73967e8ull);
    assert_true(st_fnv1a64(ST_FNV1A64_BASIS, NULL, 0) == ST_FNV1A64_BASIS);
}

/* Hashing in pieces is hashing the concatenation. */
static void test_chaining(void **state) {
    (void)state;
    uint64_t h = st_fnv1a64(ST_FNV1A64_BASIS, "foo", 3);
    assert_true(st_fnv1a64(h, "bar", 3) == of("foobar"));
}

/* Fingerprints in run.json files and checkpoints start from this value; it must not change. */
static void test_strata_basis(void **state) {
    (void)state;
    assert_true(ST_FNV1A64_STRATA_BASIS == 1469598103934665603ull);
    assert_true(st_fnv1a64(ST_FNV1A64_STRATA_BASIS, "a", 1) == ((ST_FNV1A64_STRATA_BASIS ^ 'a') * 0x100000001b3ull));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_strata_basis),
    };
    return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
