/* comm.h — the communicator layer: starting and ending MPI, who this rank is (globally and on
 * its node), turning MPI failures into st_error_t messages, and the printing conventions.
 *
 * strata runs one process per rank, each with its own OpenMP/BLIS threads. Only the main thread
 * calls MPI (OpenMP workers never do), so MPI_THREAD_FUNNELED is all st_comm_init asks for; it
 * fails when the library provides less.
 *
 * MPI errors come back as codes: st_comm_init sets MPI_ERRORS_RETURN on MPI_COMM_WORLD, and the
 * communicator it hands out (a duplicate of MPI_COMM_WORLD, so strata's messages never mix with
 * another library's) inherits it. Wrap MPI calls in ST_MPI / ST_MPI_GOTO, which fill an
 * st_error_t with the call, MPI_Error_string, __FILE__ and __LINE__.
 *
 * Printing (main-level code only; the library never prints): rank 0 prints what the run reports
 * (st_comm_print); a line another rank has to print carries "[rank r] " (st_comm_print_any,
 * st_comm_abort). */
#ifndef ST_COMM_H
#define ST_COMM_H

#include <stdio.h>

#include <mpi.h>

#include "st_error.h"

typedef struct {
    MPI_Comm comm;                     /* strata's communicator (a duplicate of MPI_COMM_WORLD) */
    int rank, size;                    /* in comm */
    int local_rank, local_size;        /* among the ranks on this node (MPI_COMM_TYPE_SHARED) */
    char host[MPI_MAX_PROCESSOR_NAME]; /* MPI_Get_processor_name */
    int owns_mpi;                      /* st_comm_init called MPI_Init_thread (finalize ends MPI) */
} st_comm_t;

/* Initialises MPI with MPI_THREAD_FUNNELED (unless it already runs), sets MPI_ERRORS_RETURN on
 * MPI_COMM_WORLD and fills `c` from a duplicate of it. */
st_status_t st_comm_init(int *argc, char ***argv, st_comm_t *c, st_error_t *err);

/* Fills `c` from an existing communicator (duplicated; its error handler is set to
 * MPI_ERRORS_RETURN). MPI must run. */
st_status_t st_comm_from(MPI_Comm comm, st_comm_t *c, st_error_t *err);

/* Frees the duplicated communicator and, when st_comm_init started MPI, finalises it. */
st_status_t st_comm_finalize(st_comm_t *c, st_error_t *err);

/* Prints "[rank r] message" to stderr and calls MPI_Abort(comm, code): ends every rank. For
 * main-level code only. `c` may be NULL (MPI_COMM_WORLD is used). */
void st_comm_abort(const st_comm_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* Rank 0 prints (fprintf to `stream`); other ranks print nothing. */
void st_comm_print(const st_comm_t *c, FILE *stream, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Any rank prints; a line from a rank other than 0 starts with "[rank r] ". */
void st_comm_print_any(const st_comm_t *c, FILE *stream, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Threads per rank: st_threads_default(local_size), the CPUs this process may use divided by the
 * ranks sharing the node. */
int st_comm_threads_default(const st_comm_t *c);

/* Combines every rank's status so all ranks agree before the next collective: returns ST_OK when
 * every rank passed `status` == ST_OK; otherwise each failing rank keeps its own message and
 * every other rank gets "rank r failed (<status>)" (r the lowest failing rank). Collective. */
st_status_t st_comm_agree(const st_comm_t *c, st_status_t status, st_error_t *err);

/* The same agreement carried inside another collective: each rank contributes
 * st_comm_status_word(c, its status); with `first` the smallest word over all ranks,
 * st_comm_agreed returns what st_comm_agree would have. */
int st_comm_status_word(const st_comm_t *c, st_status_t status);
st_status_t st_comm_agreed(st_status_t mine, int first, st_error_t *err);

/* Fills `err` with "<call> failed at <file>:<line>: <MPI_Error_string>" and returns ST_ERR_MPI. */
st_status_t st_mpi_fail(st_error_t *err, int mpi_rc, const char *call, const char *file, int line);

/* Runs an MPI call; on failure fills `err` and returns ST_ERR_MPI from the enclosing function. */
#define ST_MPI(call, err)                                                            \
    do {                                                                             \
        int st_mpi_rc_ = (call);                                                     \
        if (st_mpi_rc_ != MPI_SUCCESS)                                               \
            return st_mpi_fail((err), st_mpi_rc_, #call, __FILE__, __LINE__);        \
    } while (0)

/* Same, but stores the status in `status_var` and jumps to `label` (for cleanup). */
#define ST_MPI_GOTO(call, err, status_var, label)                                    \
    do {                                                                             \
        int st_mpi_rc_ = (call);                                                     \
        if (st_mpi_rc_ != MPI_SUCCESS) {                                             \
            (status_var) = st_mpi_fail((err), st_mpi_rc_, #call, __FILE__, __LINE__); \
            goto label;                                                              \
        }                                                                            \
    } while (0)

#endif
