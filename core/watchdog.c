/* watchdog.c — the stall watchdog thread (see watchdog.h). */
#include "watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "heartbeat.h"

static struct {
    pthread_t thread;
    int running, rank;
    double timeout_s;
    _Atomic int64_t beats, step;
    _Atomic(const char *) phase;
    atomic_int stop;
} wd;

static void *watch(void *arg) {
    (void)arg;
    int64_t last = atomic_load(&wd.beats);
    double since = st_clock_s();
    while (!atomic_load(&wd.stop)) {
        usleep(200000);
        int64_t b = atomic_load(&wd.beats);
        if (b != last) {
            last = b, since = st_clock_s();
            continue;
        }
        /* A silent peer is evidence of a failure, not of slowness: then half the timeout will do. */
        double idle = st_clock_s() - since, half = 0.5 * wd.timeout_s;
        if (idle < wd.timeout_s && (idle < half || st_heartbeat_silent_s() < half)) continue;
        char msg[768], at[48] = "", peers[512] = "";
        int64_t step = atomic_load(&wd.step);
        if (step >= 0) snprintf(at, sizeof at, " at step %lld", (long long)step);
        st_heartbeat_describe(peers, sizeof peers);
        int n = snprintf(msg, sizeof msg, "[rank %d] stalled: no progress for %.0f s in %s%s%s%s; ending this rank\n",
                         wd.rank, idle, atomic_load(&wd.phase), at, peers[0] ? "; " : "", peers);
        if (n > 0) (void)!write(2, msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1));
        _exit(4);
    }
    return NULL;
}

void st_watchdog_start(int rank, double timeout_s) {
    if (timeout_s <= 0 || wd.running) return;
    wd.rank = rank, wd.timeout_s = timeout_s;
    atomic_store(&wd.phase, "start-up");
    atomic_store(&wd.step, -1);
    atomic_store(&wd.stop, 0);
    if (pthread_create(&wd.thread, NULL, watch, NULL) == 0) wd.running = 1;
}

void st_watchdog_beat(const char *phase, int64_t step) {
    atomic_store(&wd.phase, phase);
    atomic_store(&wd.step, step);
    atomic_fetch_add(&wd.beats, 1);
}

void st_watchdog_stop(void) {
    if (!wd.running) return;
    atomic_store(&wd.stop, 1);
    pthread_join(wd.thread, NULL);
    wd.running = 0;
}
