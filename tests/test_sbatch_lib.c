/* test_sbatch_lib.c — the library side of `strata sbatch`, `strata plan` and `strata
 * sweep-report`, called without the command line: the request's defaults and st_sbatch_check's
 * messages (each naming the option at fault), st_sweep_report's table and errors written to a
 * memory stream, and the folder helpers of core/fileio.h they use. The end-to-end behaviour is
 * tests/test_sbatch.sh. Files go to a temporary folder removed at the end. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "slurm/sbatch.h"
#include "slurm/sweep_report.h"

static int setup(void **s) {
    (void)s;
    return tu_tmpdir_create("sbatch_lib");
}

static int teardown(void **s) {
    (void)s;
    return tu_tmpdir_remove();
}

static void expect_check_error(st_sbatch_request_t *r, const char *text) {
    st_error_t err = {0};
    assert_int_not_equal(st_sbatch_check(r, &err), ST_OK);
    tu_assert_contains(err.msg, text);
    st_sbatch_request_init(r);
    r->config = "c.json";
}

static void test_request_check(void **s) {
    (void)s;
    st_sbatch_request_t r;
    st_sbatch_request_init(&r);
    assert_string_equal(r.time, "01:00:00");
    assert_string_equal(r.launcher, "srun");
    assert_int_equal(r.grace_s, 120);
    assert_int_equal(r.max_restarts, 3);
    assert_int_equal(r.nodes, 0);
    expect_check_error(&r, "missing CONFIG.json");
    st_error_t err = {0};
    assert_int_equal(st_sbatch_check(&r, &err), ST_OK);
    r.launcher = "pbs";
    expect_check_error(&r, "--launcher is srun or mpirun, got pbs");
    r.time = "abc";
    expect_check_error(&r, "--time needs minutes");
    r.time = "1:00"; /* 60 s: not longer than the 120 s of grace */
    expect_check_error(&r, "--grace 120 s must be shorter than the time limit (60 s)");
    r.after = "12ab";
    expect_check_error(&r, "--after needs a job id");
    const char *name_sweep[] = {"name=a,b"};
    r.sweeps = name_sweep, r.n_sweeps = 1;
    expect_check_error(&r, "sets name and results_dir");
    const char *ok_sweeps[] = {"optimizer.lr=1e-3,3e-4", "seed=1,2,3"};
    r.sweeps = ok_sweeps, r.n_sweeps = 2;
    assert_int_equal(st_sbatch_check(&r, &err), ST_OK);
}

/* A run folder with a history of val accuracies and a status. */
static void make_run(const char *dir, const char *status, double acc1, double acc2) {
    st_error_t err = {0};
    assert_int_equal(st_mkdir_p(dir, &err), ST_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/run.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"status\": \"%s\"}\n", status);
    fclose(f);
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"epoch\": 1, \"val_loss\": 0.9, \"val_accuracy\": %g}\n{\"epoch\": 2, \"val_loss\": 0.8, \"val_accuracy\": %g}\n",
            acc1, acc2);
    fclose(f);
}

static void test_sweep_report(void **s) {
    (void)s;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s", tu_tmp_path("runs/a"));
    snprintf(b, sizeof b, "%s", tu_tmp_path("runs/b"));
    make_run(a, "completed", 0.5, 0.6);
    make_run(b, "preempted", 0.9, 0.7);
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    const char *dirs[] = {a, b};
    st_error_t err = {0};
    assert_int_equal(st_sweep_report(out, dirs, 2, &err), ST_OK);
    fclose(out);
    char *l1 = strchr(text, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
    assert_int_equal(strncmp(text, "task ", 5), 0);
    assert_int_equal(strncmp(l1, "b ", 2), 0); /* best val accuracy first: 90% */
    tu_assert_contains(l1, "90.00%");
    tu_assert_contains(l1, "preempted");
    assert_int_equal(strncmp(l2, "a ", 2), 0);
    free(text);

    out = open_memstream(&text, &n);
    const char *bad[] = {a, tu_tmp_path("runs")};
    assert_int_not_equal(st_sweep_report(out, bad, 2, &err), ST_OK);
    fclose(out);
    tu_assert_contains(err.msg, "neither a run folder");
    assert_int_equal(n, 0); /* nothing printed on failure */
    free(text);
    const char *missing[] = {tu_tmp_path("no-such")};
    assert_int_not_equal(st_sweep_report(stdout, missing, 1, &err), ST_OK);
    tu_assert_contains(err.msg, "no-such: no such folder");
    const char *file[] = {"configs/tiny_test.json"};
    assert_int_not_equal(st_sweep_report(stdout, file, 1, &err), ST_OK);
    assert_string_equal(err.msg, "configs/tiny_test.json: a file, expected a run folder or a sweep folder");
}

static void test_folder_helpers(void **s) {
    (void)s;
    st_error_t err = {0};
    assert_int_equal(st_mkdir_p(tu_tmp_path("x/y/z"), &err), ST_OK);
    assert_int_equal(st_mkdir_p(tu_tmp_path("x/y/z"), &err), ST_OK); /* already there: fine */
    assert_true(st_is_dir(tu_tmp_path("x/y/z")));
    FILE *f = fopen(tu_tmp_path("x/file"), "w");
    assert_non_null(f);
    fclose(f);
    assert_true(st_exists(tu_tmp_path("x/file")));
    assert_false(st_is_dir(tu_tmp_path("x/file")));
    assert_false(st_exists(tu_tmp_path("x/none")));
    assert_int_equal(st_mkdir_p(tu_tmp_path("x/file/sub"), &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "x/file exists but is not a folder");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_check),
        cmocka_unit_test(test_sweep_report),
        cmocka_unit_test(test_folder_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
