/* test_h5util.c — the HDF5 helpers the dataset writer and the checkpoints share
 * (sharding/h5util.h): string attributes (one string, a list of strings) and committing an
 * in-memory image — written, read back, renamed over the target — with its failure messages. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "sharding/h5util.h"

/* A file built in memory under the name `tmp` with a scalar string attribute "source" and a
 * list attribute "names"; *n gets the image's length. */
static void build(const char *tmp, st_h5_image_t *img, size_t *n) {
    memset(img, 0, sizeof *img);
    hid_t fapl = st_h5_image_fapl(img, 1 << 16);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    assert_true(f >= 0);
    const char *source = "über", *names[3] = {"cat", "", "dog"};
    assert_int_equal(st_h5_write_string_attr(f, "source", &source, -1), 1);
    assert_int_equal(st_h5_write_string_attr(f, "names", names, 3), 1);
    ssize_t size = H5Fget_file_image(f, NULL, 0);
    assert_true(size > 0);
    assert_true(H5Fclose(f) >= 0);
    assert_true(img->kept);
    *n = (size_t)size;
}

/* Reads attribute `name` of `path`: its rank (0 scalar, 1 list) and its strings. */
static int read_attr(const char *path, const char *name, char out[][16], int max) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT), sp = H5Aget_space(a), t = H5Aget_type(a);
    assert_true(H5Tis_variable_str(t) > 0);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
    int rank = H5Sget_simple_extent_ndims(sp);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    assert_true(n <= max);
    char *v[8] = {0};
    hid_t mt = st_h5_vlen_str_type();
    assert_true(H5Aread(a, mt, v) >= 0);
    for (hssize_t i = 0; i < n; i++) snprintf(out[i], 16, "%s", v[i]);
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
    H5Tclose(mt), H5Tclose(t), H5Sclose(sp), H5Aclose(a), H5Fclose(f);
    return rank;
}

static int reads(const char *tmp, const void *ctx, char *detail, size_t size) {
    (void)ctx;
    hid_t f = H5Fopen(tmp, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        st_h5_detail(detail, size);
        return 0;
    }
    H5Fclose(f);
    return 1;
}

static int never_reads(const char *tmp, const void *ctx, char *detail, size_t size) {
    (void)tmp;
    snprintf(detail, size, " (%s)", (const char *)ctx);
    return 0;
}

static void test_commit_and_string_attributes(void **state) {
    (void)state;
    const char *p = tu_tmp_path("ok.h5"), *tmp = tu_tmp_path("ok.h5.tmp");
    tu_write_marker(p); /* replaced */
    st_h5_image_t img;
    size_t n;
    build(tmp, &img, &n);
    char detail[256] = "";
    st_error_t err = {0};
    const st_h5_commit_t c = {p, tmp, 0, reads, NULL, 1};
    assert_int_equal(st_h5_image_commit(&c, &img, n, NULL, detail, sizeof detail, &err), ST_OK);
    assert_false(tu_exists(tmp));
    char s[8][16];
    assert_int_equal(read_attr(p, "source", s, 8), 0);
    assert_string_equal(s[0], "über");
    assert_int_equal(read_attr(p, "names", s, 8), 1);
    assert_string_equal(s[0], "cat");
    assert_string_equal(s[1], "");
    assert_string_equal(s[2], "dog");
}

/* A step that failed while building: nothing reaches the disk and the message carries it. */
static void test_build_failure_passes_through(void **state) {
    (void)state;
    const char *p = tu_tmp_path("built.h5"), *tmp = tu_tmp_path("built.h5.tmp");
    tu_write_marker(p);
    st_h5_image_t img;
    size_t n;
    build(tmp, &img, &n);
    char detail[256] = " (HDF5: no space)";
    st_error_t err = {0};
    const st_h5_commit_t c = {p, tmp, 0, reads, NULL, 1};
    assert_int_equal(st_h5_image_commit(&c, &img, 0, "cannot write /X", detail, sizeof detail, &err), ST_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot write /X (HDF5: no space); nothing was written", p);
    assert_string_equal(err.msg, want);
    tu_assert_marker(p);
    assert_false(tu_exists(tmp));
}

/* A temporary that does not read back never replaces the target. */
static void test_read_back_failure_keeps_the_target(void **state) {
    (void)state;
    const char *p = tu_tmp_path("bad.h5"), *tmp = tu_tmp_path("bad.h5.tmp");
    tu_write_marker(p);
    st_h5_image_t img;
    size_t n;
    build(tmp, &img, &n);
    char detail[256] = "";
    st_error_t err = {0};
    const st_h5_commit_t c = {p, tmp, 0, never_reads, "checksum mismatch", 1};
    assert_int_equal(st_h5_image_commit(&c, &img, n, NULL, detail, sizeof detail, &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "bad.h5: the written file does not read back (checksum mismatch); nothing was written");
    tu_assert_marker(p);
    assert_false(tu_exists(tmp));
}

static void test_missing_folder_and_rename_failure(void **state) {
    (void)state;
    st_h5_image_t img;
    size_t n;
    char detail[256] = "";
    st_error_t err = {0};
    /* The folder does not exist: the temporary cannot be created. */
    build(tu_tmp_path("x.h5.tmp"), &img, &n);
    const char *p = tu_tmp_path("no/such/x.h5"), *tmp = tu_tmp_path("no/such/x.h5.tmp");
    const st_h5_commit_t c = {p, tmp, 0, NULL, NULL, 1};
    assert_int_equal(st_h5_image_commit(&c, &img, n, NULL, detail, sizeof detail, &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "x.h5: cannot create the temporary file (");
    tu_assert_contains(err.msg, "No such file or directory); nothing was written");
    /* The target is a folder that is not empty: the rename fails (even for root). */
    const char *dir = tu_tmp_path("dir.h5"), *tmp2 = tu_tmp_path("dir.h5.tmp");
    assert_int_equal(mkdir(dir, 0777), 0);
    tu_write_marker(tu_tmp_path("dir.h5/inside"));
    build(tmp2, &img, &n);
    detail[0] = 0;
    const st_h5_commit_t c2 = {dir, tmp2, 0, reads, NULL, 1};
    assert_int_equal(st_h5_image_commit(&c2, &img, n, NULL, detail, sizeof detail, &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "dir.h5: cannot rename the temporary file over it (");
    tu_assert_contains(err.msg, "); nothing was written");
    assert_false(tu_exists(tmp2));
    tu_assert_marker(tu_tmp_path("dir.h5/inside"));
}

static int setup(void **state) {
    (void)state;
    st_h5_quiet();
    return tu_tmpdir_create("h5util");
}

static int teardown(void **state) {
    (void)state;
    return tu_tmpdir_remove();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_string_attributes),
        cmocka_unit_test(test_build_failure_passes_through),
        cmocka_unit_test(test_read_back_failure_keeps_the_target),
        cmocka_unit_test(test_missing_folder_and_rename_failure),
    };
    return cmocka_run_group_tests_name("h5util", tests, setup, teardown);
}
