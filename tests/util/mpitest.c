/* mpitest.c — see mpitest.h. */
#include "mpitest.h"

#include <stdarg.h>
#include <stdio.h>

static const st_comm_t *mt_c;
static int local_fail, n_case, n_failed_cases;

void mt_init(const st_comm_t *c) { mt_c = c; }

void mt_check_failed(const char *file, int line, const char *fmt, ...) {
    if (local_fail++ >= 5) return;
    char msg[4096]; /* one write per failed check: lines from different ranks do not interleave */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[rank %d] %s:%d: check failed: %s\n", mt_c ? mt_c->rank : -1, file, line, msg);
}

void mt_end_case(const char *name) {
    int any = 0;
    MPI_Allreduce(&local_fail, &any, 1, MPI_INT, MPI_SUM, mt_c->comm);
    n_case++;
    if (any) n_failed_cases++;
    if (mt_c->rank == 0) printf("%s %d - %s (P=%d)\n", any ? "not ok" : "ok", n_case, name, mt_c->size);
    fflush(stdout);
    local_fail = 0;
}

int mt_failed_cases(void) { return n_failed_cases; }
