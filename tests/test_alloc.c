/* test_alloc.c — st_alloc and st_alloc_arena (core/st_error.h): alignment, zeroed memory usable
 * to its last byte, the out-of-memory error naming what was asked for, and an arena of 1 MiB or
 * more advised as transparent huge pages (its mapping is THP-eligible in /proc/self/smaps when
 * the kernel's THP mode is "always" or "madvise"). */
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_error.h"


static void expect_zeroed_and_writable(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) fail_msg("byte %zu of %zu is %d, not zero", i, n, p[i]);
    memset(p, 0xab, n);
}

static void test_small_blocks_are_64_byte_aligned(void **s) {
    (void)s;
    st_error_t err = {0};
    const size_t sizes[] = {1, 63, 64, 4096, ((size_t)1 << 20) - 1};
    for (int k = 0; k < 5; k++) {
        unsigned char *a = st_alloc(sizes[k], "a", &err), *b = st_alloc_arena(sizes[k], "b", &err);
        assert_non_null(a), assert_non_null(b);
        assert_int_equal((uintptr_t)a % 64, 0);
        assert_int_equal((uintptr_t)b % 64, 0);
        expect_zeroed_and_writable(a, sizes[k]), expect_zeroed_and_writable(b, sizes[k]);
        st_free(a), st_free(b);
    }
}

/* The mapping holding p in /proc/self/smaps: 1 THP-eligible, 0 not, -1 not found. */
static int thp_eligible(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int inside = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') == line + strcspn(line, "-")) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        int v;
        if (inside && sscanf(line, "THPeligible: %d", &v) == 1) found = v;
    }
    fclose(f);
    return found;
}

static int thp_mode_allows_madvise(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char mode[128] = "";
    if (f && !fgets(mode, sizeof mode, f)) mode[0] = 0;
    if (f) fclose(f);
    return strstr(mode, "[always]") || strstr(mode, "[madvise]");
}

static void test_arenas_are_2mib_aligned_zeroed_and_huge_page_eligible(void **s) {
    (void)s;
    st_error_t err = {0};
    const size_t sizes[] = {(size_t)1 << 20, 2273320, (size_t)5 << 21};
    for (int k = 0; k < 3; k++) {
        unsigned char *p = st_alloc_arena(sizes[k], "an arena", &err);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ((size_t)2 << 20), 0);
        expect_zeroed_and_writable(p, sizes[k]);
        if (thp_mode_allows_madvise()) assert_int_equal(thp_eligible(p), 1);
        st_free(p);
    }
    if (!thp_mode_allows_madvise()) printf("# transparent huge pages are off here: eligibility not checked\n");
}

/* Not built under AddressSanitizer (make test-asan): it aborts on an impossible request, or with
 * allocator_may_return_null=1 still writes a warning into the report folder. (cmocka's skip()
 * prints "not ok # SKIP", which prove counts as a failure.) */
#ifndef __SANITIZE_ADDRESS__
static void test_out_of_memory_names_what(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_null(st_alloc_arena(SIZE_MAX / 2, "the gradient arena", &err));
    assert_int_equal(err.code, ST_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "the gradient arena"));
}
#endif

/* st_release_pages drops only the whole pages inside the range: they read as zeros after, the
 * bytes around them keep their values, and the arena stays usable. */
static void test_release_pages_zeroes_whole_pages_only(void **s) {
    (void)s;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (size_t)1 << 20; /* an arena: 2 MiB aligned */
    unsigned char *p = st_alloc_arena(n, "test", NULL);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % page, 0);
    memset(p, 7, n);
    st_release_pages(p + 100, 2 * page); /* the whole pages inside: [page, 2·page) */
    for (size_t i = 0; i < n; i++) {
        int inside = i >= page && i < 2 * page;
        if (p[i] != (inside ? 0 : 7)) fail_msg("byte %zu is %d after the release", i, p[i]);
    }
    st_release_pages(p, n);
    for (size_t i = 0; i < n; i += 64) assert_int_equal(p[i], 0);
    memset(p, 3, n); /* written again: pages come back */
    assert_int_equal(p[n - 1], 3);
    st_release_pages(NULL, n); /* no-op */
    st_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_blocks_are_64_byte_aligned),
        cmocka_unit_test(test_arenas_are_2mib_aligned_zeroed_and_huge_page_eligible),
#ifndef __SANITIZE_ADDRESS__
        cmocka_unit_test(test_out_of_memory_names_what),
#endif
        cmocka_unit_test(test_release_pages_zeroes_whole_pages_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
