/* comm.c — MPI start-up and shutdown, rank/node identity, MPI error messages and the printing
 * conventions (see comm.h). */
#include "comm.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

st_status_t st_mpi_fail(st_error_t *err, int mpi_rc, const char *call, const char *file, int line) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error code %d", mpi_rc);
    /* Keep the call short in the message: its text up to the first '(' names the MPI function. */
    const char *paren = strchr(call, '(');
    int call_len = paren ? (int)(paren - call) : (int)strlen(call);
    return st_fail(err, ST_ERR_MPI, "%.*s failed at %s:%d: %s", call_len, call, file, line, text);
}

st_status_t st_comm_from(MPI_Comm comm, st_comm_t *c, st_error_t *err) {
    st_status_t status = ST_OK;
    MPI_Comm local = MPI_COMM_NULL;
    c->comm = MPI_COMM_NULL;
    ST_MPI_GOTO(MPI_Comm_dup(comm, &c->comm), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_rank(c->comm, &c->rank), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_size(c->comm, &c->size), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &local), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_rank(local, &c->local_rank), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_size(local, &c->local_size), err, status, fail);
    ST_MPI_GOTO(MPI_Comm_free(&local), err, status, fail);
    int len = 0;
    ST_MPI_GOTO(MPI_Get_processor_name(c->host, &len), err, status, fail);
    c->host[len < (int)sizeof c->host ? len : (int)sizeof c->host - 1] = '\0';
    return ST_OK;
fail:
    if (local != MPI_COMM_NULL) MPI_Comm_free(&local);
    if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
    return status;
}

st_status_t st_comm_init(int *argc, char ***argv, st_comm_t *c, st_error_t *err) {
    memset(c, 0, sizeof *c);
    c->comm = MPI_COMM_NULL;
    int running = 0;
    MPI_Initialized(&running);
    if (!running) {
        int provided = 0;
        /* Before MPI runs, errors are fatal whatever the handler; a failure here rarely returns. */
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return st_mpi_fail(err, rc, "MPI_Init_thread", __FILE__, __LINE__);
        c->owns_mpi = 1;
        if (provided < MPI_THREAD_FUNNELED) {
            MPI_Finalize();
            c->owns_mpi = 0;
            return st_fail(err, ST_ERR_MPI, "MPI_Init_thread provides thread level %d, strata needs MPI_THREAD_FUNNELED (%d)",
                           provided, MPI_THREAD_FUNNELED);
        }
    }
    st_status_t status = ST_OK;
    ST_MPI_GOTO(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), err, status, fail);
    status = st_comm_from(MPI_COMM_WORLD, c, err);
    if (status != ST_OK) goto fail;
    c->owns_mpi = !running;
    return ST_OK;
fail:
    if (!running) MPI_Finalize();
    c->owns_mpi = 0;
    return status;
}

st_status_t st_comm_finalize(st_comm_t *c, st_error_t *err) {
    if (c->comm != MPI_COMM_NULL) ST_MPI(MPI_Comm_free(&c->comm), err);
    c->comm = MPI_COMM_NULL;
    if (c->owns_mpi) {
        c->owns_mpi = 0;
        ST_MPI(MPI_Finalize(), err);
    }
    return ST_OK;
}

void st_comm_abort(const st_comm_t *c, int code, const char *fmt, ...) {
    int rank = 0, running = 0;
    MPI_Initialized(&running);
    if (c) rank = c->rank;
    else if (running) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[rank %d] %s\n", rank, msg);
    fflush(stderr);
    if (running) MPI_Abort(c && c->comm != MPI_COMM_NULL ? c->comm : MPI_COMM_WORLD, code);
    exit(code ? code : 1);
}

void st_comm_print(const st_comm_t *c, FILE *stream, const char *fmt, ...) {
    if (c->rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stream, fmt, ap);
    va_end(ap);
}

void st_comm_print_any(const st_comm_t *c, FILE *stream, const char *fmt, ...) {
    /* One buffer, one write: lines from different ranks then do not interleave mid-line. */
    char line[2048];
    int n = 0;
    if (c->rank != 0) n = snprintf(line, sizeof line, "[rank %d] ", c->rank);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fputs(line, stream);
}

int st_comm_threads_default(const st_comm_t *c) { return st_threads_default(c->local_size); }

/* rank·32 + status for a failure, INT_MAX for ST_OK: the minimum over ranks names the lowest
 * failing rank and its status (statuses are < 32). */
int st_comm_status_word(const st_comm_t *c, st_status_t status) {
    return status != ST_OK ? c->rank * 32 + (int)status : INT_MAX;
}

st_status_t st_comm_agreed(st_status_t mine, int first, st_error_t *err) {
    if (mine != ST_OK) return mine;
    if (first == INT_MAX) return ST_OK;
    st_status_t first_status = (st_status_t)(first % 32);
    return st_fail(err, first_status, "rank %d failed (%s)", first / 32, st_status_name(first_status));
}

st_status_t st_comm_agree(const st_comm_t *c, st_status_t status, st_error_t *err) {
    int mine = st_comm_status_word(c, status), first = INT_MAX;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->comm);
    if (status != ST_OK) return status;
    if (rc != MPI_SUCCESS) return st_mpi_fail(err, rc, "MPI_Allreduce", __FILE__, __LINE__);
    return st_comm_agreed(status, first, err);
}
