/* signals.c — stop flag and watchdog (see signals.h). */
#include "signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static volatile sig_atomic_t pending_signal = 0;
static volatile sig_atomic_t in_startup = 0;

/* The first signal asks to stop; a second one during start-up (when there is nothing to save)
 * ends the process at once, as the signal's default action would. */
static void on_signal(int sig) {
    if (pending_signal && in_startup) _exit(128 + sig);
    pending_signal = sig;
}

void st_signals_startup(int on) { in_startup = on; }

void st_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    in_startup = 1;
}

int st_signals_pending(void) { return pending_signal; }

/* ---- watchdog ---- */

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
        double idle = st_clock_s() - since;
        if (idle < wd.timeout_s) continue;
        char msg[256];
        int n = snprintf(msg, sizeof msg, "[rank %d] stalled: no progress for %.0f s in %s at step %lld; ending this rank\n",
                         wd.rank, idle, atomic_load(&wd.phase), (long long)atomic_load(&wd.step));
        if (n > 0) (void)!write(2, msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1));
        _exit(4);
    }
    return NULL;
}

void st_watchdog_start(int rank, double timeout_s) {
    if (timeout_s <= 0 || wd.running) return;
    wd.rank = rank, wd.timeout_s = timeout_s;
    atomic_store(&wd.phase, "start-up");
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
