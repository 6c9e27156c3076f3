/* test_h5guard.c — sharding/h5guard.h: a crash inside a guarded section (what libhdf5 does on some
 * damaged files) ends the process with exit 1 and "<path>: damaged"; outside a section a crash
 * stays a crash. Each case runs in a forked child. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sharding/h5guard.h"

/* Runs fn in a child with stderr to a pipe; returns its wait status and what it wrote. */
static int run_child(void (*fn)(void), char *out, size_t size) {
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], STDERR_FILENO);
        close(fd[0]), close(fd[1]);
        signal(SIGSEGV, SIG_DFL);
        fn();
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    for (ssize_t r; n + 1 < size && (r = read(fd[0], out + n, size - 1 - n)) > 0;) n += (size_t)r;
    out[n] = 0;
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return status;
}

static void crash_guarded(void) {
    st_h5_guard_enter("data/broken.h5");
    raise(SIGSEGV);
}

static void crash_after_leave(void) {
    st_h5_guard_enter("data/broken.h5");
    st_h5_guard_leave();
    raise(SIGSEGV);
}

static void bus_error_guarded(void) {
    st_h5_guard_enter("ckpt/step-1.h5");
    raise(SIGBUS);
}

static void test_guarded_crash_is_a_damaged_file(void **state) {
    (void)state;
    char out[512];
    int status = run_child(crash_guarded, out, sizeof out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    assert_string_equal(out, "strata: data/broken.h5: damaged (HDF5 failed reading it: SIGSEGV)\n");
    status = run_child(bus_error_guarded, out, sizeof out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    tu_assert_contains(out, "ckpt/step-1.h5: damaged (HDF5 failed reading it: SIGBUS)");
}

static void test_unguarded_crash_stays_a_crash(void **state) {
    (void)state;
    char out[512];
    int status = run_child(crash_after_leave, out, sizeof out);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    assert_string_equal(out, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guarded_crash_is_a_damaged_file),
        cmocka_unit_test(test_unguarded_crash_stays_a_crash),
    };
    return cmocka_run_group_tests_name("h5guard", tests, NULL, NULL);
}
