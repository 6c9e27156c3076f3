/* testutil.h — shared helpers for the cmocka tests: PyTorch fixture loading, tolerance
 * comparison, random test data and finite-difference gradient checks.
 *
 * Fixtures are HDF5 files under tests/fixtures/ written by the tests/fixtures/gen_*.py scripts
 * (Debian's python3-torch, run once by a developer, output committed). Tests run from the
 * repository root. */
#ifndef ST_TESTUTIL_H
#define ST_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#define TU_FIXTURE_DIR "tests/fixtures"

/* Reads dataset `path` of fixture file `file` (name under tests/fixtures/) as float32.
 * Fails the test if it is missing. *n_out (may be NULL) gets the element count. Free with free(). */
float *tu_read_f32(const char *file, const char *path, size_t *n_out);
/* Same for integer datasets, converted to int32. */
int32_t *tu_read_i32(const char *file, const char *path, size_t *n_out);
/* Same for float64. */
double *tu_read_f64(const char *file, const char *path, size_t *n_out);
/* A numeric attribute of an object (dataset or group) in a fixture; fails the test if missing. */
double tu_read_attr(const char *file, const char *obj_path, const char *attr);
/* 1 when the object exists in the fixture file. */
int tu_fixture_has(const char *file, const char *path);

/* Asserts |got - ref| <= atol + rtol*|ref| elementwise; on failure prints the worst index. */
void tu_assert_close_impl(const char *what, const float *got, const float *ref, size_t n,
                          double atol, double rtol, const char *file, int line);
#define tu_assert_close(what, got, ref, n, atol, rtol) \
    tu_assert_close_impl(what, got, ref, n, atol, rtol, __FILE__, __LINE__)
void tu_assert_close_f64_impl(const char *what, const double *got, const double *ref, size_t n,
                              double atol, double rtol, const char *file, int line);
#define tu_assert_close_f64(what, got, ref, n, atol, rtol) \
    tu_assert_close_f64_impl(what, got, ref, n, atol, rtol, __FILE__, __LINE__)

/* Deterministic test data: uniform in [lo, hi) or standard normal, keyed by `seed`. */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);
void tu_fill_normal(float *x, size_t n, uint64_t seed);

/* Central finite differences of a scalar function f(x) (computed in double from float inputs)
 * compared with `analytic` = df/dx: asserts |fd - an| <= atol + rtol*max(|fd|, |an|).
 * f is evaluated with x[i] +/- eps; x is restored afterwards. Checks at most `max_checks`
 * entries (spread evenly; 0 = all). */
typedef double (*tu_scalar_fn)(void *ctx);
void tu_check_gradient_impl(const char *what, tu_scalar_fn f, void *ctx, float *x, size_t n,
                            const float *analytic, double eps, double atol, double rtol,
                            size_t max_checks, const char *file, int line);
#define tu_check_gradient(what, f, ctx, x, n, analytic, eps, atol, rtol, max_checks) \
    tu_check_gradient_impl(what, f, ctx, x, n, analytic, eps, atol, rtol, max_checks, __FILE__, __LINE__)

/* A temporary folder for one test program, /tmp/strata_test_<tag>.XXXXXX: create it in the
 * group setup, remove it (with everything in it) in the group teardown; both return 0 on
 * success, as cmocka's group hooks want. */
int tu_tmpdir_create(const char *tag);
int tu_tmpdir_remove(void);
const char *tu_tmpdir(void);
/* "<tmpdir>/<name>", from a ring of 8 buffers (several may be alive in one expression). */
const char *tu_tmp_path(const char *name);
int tu_exists(const char *path);

/* A file holding "precious", and the check that a failed write left it untouched. */
void tu_write_marker(const char *path);
void tu_assert_marker(const char *path);

/* Fails the test unless the message contains `text`. */
#define tu_assert_contains(msg, text)                                                          \
    do {                                                                                       \
        if (!strstr((msg), (text))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (text)); \
    } while (0)

/* Σ a[i]*b[i] in double: the usual "loss" for layer gradient checks (L = Σ out·r). */
double tu_dot(const float *a, const float *b, size_t n);

#endif
