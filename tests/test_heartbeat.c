/* test_heartbeat.c — the UDP heartbeats of core/heartbeat.h between two processes on loopback
 * (this process is rank 0, a forked child rank 1): while the child beats, rank 0 hears every
 * rank; once it is killed, within ST_HEARTBEAT_SILENT_S plus a period rank 0 names rank 1 and its
 * host as silent. (tests/test_netns.sh checks the same through the watchdog on a cut link.) */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heartbeat.h"

static void test_rank0_names_the_rank_that_went_silent(void **state) {
    (void)state;
    st_heartbeat_peer_t peers[2];
    st_error_t err = {0};
    assert_int_equal(st_heartbeat_open(&peers[0], "hostA", &err), ST_OK);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* rank 1, on "hostA" as well so it sends to loopback */
        st_heartbeat_peer_t me;
        if (st_heartbeat_open(&me, "hostA", &err) != ST_OK) _exit(1);
        if (write(fds[1], &me.port, sizeof me.port) != (ssize_t)sizeof me.port) _exit(1);
        peers[1] = me;
        if (st_heartbeat_start(1, 2, peers, &err) != ST_OK) _exit(1);
        sleep(60);
        _exit(0);
    }
    uint32_t port1 = 0;
    assert_int_equal(read(fds[0], &port1, sizeof port1), (ssize_t)sizeof port1);
    snprintf(peers[1].host, sizeof peers[1].host, "hostB"); /* the name rank 0 reports */
    peers[1].port = port1;
    assert_int_equal(st_heartbeat_start(0, 2, peers, &err), ST_OK);

    char what[256];
    usleep(1500000);
    st_heartbeat_describe(what, sizeof what);
    assert_non_null(strstr(what, "hears every rank"));
    assert_true(st_heartbeat_silent_s() < ST_HEARTBEAT_SILENT_S);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    usleep((useconds_t)((ST_HEARTBEAT_SILENT_S + 2 * ST_HEARTBEAT_PERIOD_S) * 1e6));
    st_heartbeat_describe(what, sizeof what);
    assert_non_null(strstr(what, "no heartbeat from rank 1 on hostB for "));
    assert_true(st_heartbeat_silent_s() >= ST_HEARTBEAT_SILENT_S);
    st_heartbeat_stop();
    st_heartbeat_describe(what, sizeof what);
    assert_string_equal(what, "");
    close(fds[0]), close(fds[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank0_names_the_rank_that_went_silent),
    };
    return cmocka_run_group_tests_name("heartbeat", tests, NULL, NULL);
}
