/* collectives.h — the few collectives a training step needs, each over whole arrays:
 *
 *   - the gradient arena summed over ranks with one MPI_Allreduce (no slower than that by
 *     construction), together with a word of step flags (non-finite seen, stop requested) that
 *     all ranks agree on;
 *   - small sums (loss sums, weight totals, counts) in double or int64;
 *   - the decision record that rank 0 makes and every rank applies (MPI_Bcast). */
#ifndef ST_COLLECTIVES_H
#define ST_COLLECTIVES_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/comm.h"

/* Step flags, OR-ed over ranks. */
enum { ST_FLAG_NONFINITE = 1, ST_FLAG_STOP = 2 };

/* grads [n] ← Σ over ranks (in place); *flags ← OR of every rank's flags. Collective. */
st_status_t st_allreduce_grads(float *grads, size_t n, int *flags, const st_comm_t *c, st_error_t *err);

/* x [n] ← Σ over ranks (double / int64), in place, every rank gets the result. */
st_status_t st_allreduce_sum_f64(double *x, int n, const st_comm_t *c, st_error_t *err);
st_status_t st_allreduce_sum_i64(int64_t *x, int n, const st_comm_t *c, st_error_t *err);

/* What rank 0 decided after an evaluation or at a step; every rank applies it. */
typedef struct {
    int32_t stop;           /* 1: end training after this point (early stopping, stop request) */
    int32_t save_last;      /* 1: write a step checkpoint now */
    int32_t save_best;      /* 1: this is the best model so far: write best.h5 */
    int32_t lr_changed;     /* 1: reduce-on-plateau changed the base rate to lr_base */
    double lr_base;         /* the base learning rate from now on (plateau schedules) */
    char reason[96];        /* why stop ("early stopping: no val_accuracy improvement in 8 evaluations") */
} st_decision_t;

/* Rank 0's *d goes to every rank. Collective. */
st_status_t st_decision_bcast(st_decision_t *d, const st_comm_t *c, st_error_t *err);

#endif
