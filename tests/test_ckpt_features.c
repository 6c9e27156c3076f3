/* test_ckpt_features.c — the feature names a checkpoint carries for `strata predict` (issue 16):
 * /feature_names written from st_ckpt_write_t and read back in order (UTF-8, commas and quotes
 * kept), absent when none are given (n_feature_names 0, feature_names NULL: what older
 * checkpoints read as), a NULL name refused before anything is written, and the whole-file
 * checksum covering them (a changed byte in a name is refused as damaged). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "jobs/checkpoint.h"

static const char *const CLASSES[2] = {"no", "yes"};
static const char *const FEATURES[3] = {"age", "income, \"net\"", "r\xc3\xa4tio"};

/* A minimal valid checkpoint: 5 parameters, no optimizer state, 2 classes. */
static void minimal(st_ckpt_write_t *w, const float *params) {
    memset(w, 0, sizeof *w);
    w->kind = ST_CKPT_BEST, w->params = params, w->n_params = 5;
    w->config_json = "{}", w->n_classes = 2, w->class_names = CLASSES, w->dataset_fingerprint = "fp";
}

static void test_round_trip(void **state) {
    (void)state;
    float params[5] = {1, 2, 3, 4, 5};
    st_ckpt_write_t w;
    minimal(&w, params);
    w.n_feature_names = 3, w.feature_names = FEATURES;
    st_error_t err = {0};
    const char *p = tu_tmp_path("features.h5");
    if (st_ckpt_write(p, &w, &err) != ST_OK) fail_msg("%s", err.msg);
    st_ckpt_t ck;
    if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(ck.n_feature_names, 3);
    for (int i = 0; i < 3; i++) assert_string_equal(ck.feature_names[i], FEATURES[i]);
    st_ckpt_free(&ck);
    assert_null(ck.feature_names);

    w.n_feature_names = 0, w.feature_names = NULL; /* none: no /feature_names */
    const char *q = tu_tmp_path("nofeatures.h5");
    assert_int_equal(st_ckpt_write(q, &w, &err), ST_OK);
    assert_int_equal(st_ckpt_read(q, &ck, &err), ST_OK);
    assert_int_equal(ck.n_feature_names, 0);
    assert_null(ck.feature_names);
    st_ckpt_free(&ck);
}

static void test_null_name_refused(void **state) {
    (void)state;
    float params[5] = {0};
    const char *names[2] = {"a", NULL};
    st_ckpt_write_t w;
    minimal(&w, params);
    w.n_feature_names = 2, w.feature_names = names;
    st_error_t err = {0};
    const char *p = tu_tmp_path("nullname.h5");
    assert_int_equal(st_ckpt_write(p, &w, &err), ST_ERR_INTERNAL);
    tu_assert_contains(err.msg, "feature name 1 is NULL");
    assert_int_equal(access(p, F_OK), -1);
}

/* A byte of a feature name changed in the file: the whole-file CRC refuses it. */
static void test_changed_name_detected(void **state) {
    (void)state;
    float params[5] = {1, 2, 3, 4, 5};
    st_ckpt_write_t w;
    minimal(&w, params);
    w.n_feature_names = 3, w.feature_names = FEATURES;
    st_error_t err = {0};
    const char *p = tu_tmp_path("changed.h5");
    assert_int_equal(st_ckpt_write(p, &w, &err), ST_OK);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    char *b = malloc((size_t)n);
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    char *at = memmem(b, (size_t)n, "income", 6);
    assert_non_null(at);
    fseek(f, at - b, SEEK_SET);
    fputc('I', f);
    fclose(f);
    free(b);
    st_ckpt_t ck;
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "damaged");
    st_ckpt_free(&ck);
}

static int setup(void **state) {
    (void)state;
    return tu_tmpdir_create("ckpt_features");
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tu_tmpdir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_null_name_refused),
        cmocka_unit_test(test_changed_name_detected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
