/* mpitest.h — the TAP harness of the MPI test programs (tests/mpi_*.c, run under mpirun by the
 * tests/test_mpi_*.sh wrappers): every rank counts its failed checks; a case ends with one
 * MPI_Allreduce, and rank 0 prints one TAP line for it. A failed check prints one line on its
 * own rank ("[rank r] file:line: check failed: ..."), at most five per case. */
#ifndef ST_MPITEST_H
#define ST_MPITEST_H

#include "mpi/comm.h"

/* The communicator the cases are reduced over; call after st_comm_init. */
void mt_init(const st_comm_t *c);

#define MT_CHECK(cond, ...)                                         \
    do {                                                            \
        if (!(cond)) mt_check_failed(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

void mt_check_failed(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Ends a case: "ok N - name (P=size)" or "not ok ..." on rank 0, from every rank's checks. */
void mt_end_case(const char *name);

/* Cases that failed so far (the same on every rank). */
int mt_failed_cases(void);

#endif
