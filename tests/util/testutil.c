/* testutil.c — fixture loading, tolerance comparison and finite differences for the tests. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <hdf5.h>

#include "philox.h"

static hid_t open_fixture(const char *file) {
    char full[512];
    snprintf(full, sizeof full, "%s/%s", TU_FIXTURE_DIR, file);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(full, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("cannot open fixture %s (regenerate with tests/fixtures/gen_*.py)", full);
    return f;
}

static void *read_any(const char *file, const char *path, size_t *n_out, hid_t mem_type, size_t size) {
    hid_t f = open_fixture(file);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) {
        H5Fclose(f);
        fail_msg("fixture %s has no dataset %s", file, path);
    }
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    void *buf = malloc((n > 0 ? (size_t)n : 1) * size);
    if (H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        fail_msg("cannot read %s from fixture %s", path, file);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    if (n_out) *n_out = (size_t)n;
    return buf;
}

float *tu_read_f32(const char *file, const char *path, size_t *n_out) {
    return read_any(file, path, n_out, H5T_NATIVE_FLOAT, sizeof(float));
}

int32_t *tu_read_i32(const char *file, const char *path, size_t *n_out) {
    return read_any(file, path, n_out, H5T_NATIVE_INT32, sizeof(int32_t));
}

double *tu_read_f64(const char *file, const char *path, size_t *n_out) {
    return read_any(file, path, n_out, H5T_NATIVE_DOUBLE, sizeof(double));
}

double tu_read_attr(const char *file, const char *obj_path, const char *attr) {
    hid_t f = open_fixture(file);
    hid_t a = H5Aopen_by_name(f, obj_path, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) fail_msg("fixture %s: %s has no attribute %s", file, obj_path, attr);
    double v = 0;
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Fclose(f);
    return v;
}

int tu_fixture_has(const char *file, const char *path) {
    hid_t f = open_fixture(file);
    htri_t ok = H5Lexists(f, path, H5P_DEFAULT);
    H5Fclose(f);
    return ok > 0;
}

void tu_assert_close_impl(const char *what, const float *got, const float *ref, size_t n,
                          double atol, double rtol, const char *file, int line) {
    size_t worst = 0, n_bad = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)ref[i]);
        double allowed = atol + rtol * fabs((double)ref[i]);
        if (!(diff <= allowed)) {
            n_bad++;
            double excess = isnan(diff) ? INFINITY : diff - allowed;
            if (excess > worst_excess) worst_excess = excess, worst = i;
        }
    }
    if (n_bad) {
        print_error("%s: %zu of %zu values differ beyond atol %g + rtol %g; worst [%zu]: got %.9g, want %.9g\n",
                    what, n_bad, n, atol, rtol, worst, got[worst], ref[worst]);
        _fail(file, line);
    }
}

void tu_assert_close_f64_impl(const char *what, const double *got, const double *ref, size_t n,
                              double atol, double rtol, const char *file, int line) {
    for (size_t i = 0; i < n; i++) {
        double diff = fabs(got[i] - ref[i]);
        if (!(diff <= atol + rtol * fabs(ref[i]))) {
            print_error("%s: [%zu] got %.12g, want %.12g (atol %g, rtol %g)\n", what, i, got[i],
                        ref[i], atol, rtol);
            _fail(file, line);
        }
    }
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed) {
    st_rand_uniform(x, (long)n, lo, hi, seed, ST_RNG_TEST, 0, 0, 0);
}

void tu_fill_normal(float *x, size_t n, uint64_t seed) {
    st_rand_normal(x, (long)n, 0.0f, 1.0f, seed, ST_RNG_TEST, 1, 0, 0);
}

double tu_dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

void tu_check_gradient_impl(const char *what, tu_scalar_fn f, void *ctx, float *x, size_t n,
                            const float *analytic, double eps, double atol, double rtol,
                            size_t max_checks, const char *file, int line) {
    size_t stride = (max_checks == 0 || n <= max_checks) ? 1 : n / max_checks;
    for (size_t i = 0; i < n; i += stride) {
        float keep = x[i];
        x[i] = keep + (float)eps;
        double fp = f(ctx);
        x[i] = keep - (float)eps;
        double fm = f(ctx);
        x[i] = keep;
        /* Use the step actually taken in float, not the nominal eps. */
        double h = (double)(keep + (float)eps) - (double)(keep - (float)eps);
        double fd = (fp - fm) / h;
        double an = analytic[i];
        double allowed = atol + rtol * fmax(fabs(fd), fabs(an));
        if (!(fabs(fd - an) <= allowed)) {
            print_error("%s: gradient [%zu]: finite difference %.7g, analytic %.7g (atol %g, rtol %g)\n",
                        what, i, fd, an, atol, rtol);
            _fail(file, line);
        }
    }
}

static char tmpdir[128];

int tu_tmpdir_create(const char *tag) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/strata_test_%s.XXXXXX", tag);
    return mkdtemp(tmpdir) ? 0 : -1;
}

int tu_tmpdir_remove(void) {
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

const char *tu_tmpdir(void) { return tmpdir; }

const char *tu_tmp_path(const char *name) {
    static char buf[8][512];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

int tu_exists(const char *path) { return access(path, F_OK) == 0; }

void tu_write_marker(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("precious", f);
    fclose(f);
}

void tu_assert_marker(const char *path) {
    char buf[32] = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_true(fread(buf, 1, sizeof buf - 1, f) == 8);
    fclose(f);
    assert_string_equal(buf, "precious");
}
