/* collectives.c — gradient all-reduce, small sums and the decision broadcast. */
#include "collectives.h"

#include <limits.h>

st_status_t st_allreduce_grads(float *grads, size_t n, int *flags, const st_comm_t *c, st_error_t *err) {
    /* Counts are ints: arenas beyond 2^31 floats go in pieces (never in practice). */
    for (size_t off = 0; off < n; off += (size_t)INT_MAX) {
        int count = (int)(n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX);
        ST_MPI(MPI_Allreduce(MPI_IN_PLACE, grads + off, count, MPI_FLOAT, MPI_SUM, c->comm), err);
    }
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, flags, 1, MPI_INT, MPI_BOR, c->comm), err);
    return ST_OK;
}

st_status_t st_allreduce_sum_f64(double *x, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, c->comm), err);
    return ST_OK;
}

st_status_t st_allreduce_sum_i64(int64_t *x, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_INT64_T, MPI_SUM, c->comm), err);
    return ST_OK;
}

st_status_t st_decision_bcast(st_decision_t *d, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Bcast(d, (int)sizeof *d, MPI_BYTE, 0, c->comm), err);
    d->reason[sizeof d->reason - 1] = '\0';
    return ST_OK;
}
