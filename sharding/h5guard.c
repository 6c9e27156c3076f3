/* h5guard.c — turning a crash inside libhdf5 into "<file>: damaged" (see h5guard.h). The state
 * is two statics because a signal handler can reach nothing else; it is written only by the
 * thread that calls HDF5 (strata reads files from one thread). */
#include "h5guard.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char guarded_path[1024];
static volatile sig_atomic_t guarded;

static void write_all(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

static void on_crash(int sig) {
    if (!guarded) { /* not in HDF5: strata's own crash, with its default action */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    write_all("strata: ");
    write_all(guarded_path);
    write_all(sig == SIGSEGV ? ": damaged (HDF5 failed reading it: SIGSEGV)\n"
              : sig == SIGBUS ? ": damaged (HDF5 failed reading it: SIGBUS)\n"
                              : ": damaged (HDF5 failed reading it: SIGFPE)\n");
    _exit(1);
}

static void install(void) {
    static int installed;
    if (installed) return;
    installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
}

void st_h5_guard_enter(const char *path) {
    install();
    guarded = 0;
    snprintf(guarded_path, sizeof guarded_path, "%s", path ? path : "(unnamed file)");
    guarded = 1;
}

void st_h5_guard_leave(void) { guarded = 0; }
