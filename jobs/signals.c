/* signals.c — the stop flag (see signals.h). */
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

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
