/* mpi_count.c — an MPI profiling-interface (PMPI) shim that counts collective calls, for tests
 * and benchmarks: LD_PRELOAD=build/tests/libmpi_count.so mpirun ... and every rank appends
 * "rank R: <call> N ... total N" for the collectives it made to the file named by
 * STRATA_MPI_COUNT at MPI_Finalize, then "rank R steps: N fewest A most B first C" — the
 * collectives made inside each training step, between the marks the engine sets with
 * MPI_Pcontrol(1) / MPI_Pcontrol(0) (mpi/collectives.h st_mark_step): how many steps, the
 * fewest and most in one step, and the launch's first step's. tests/test_collectives.sh uses
 * both (the difference of two runs' totals divided by the extra steps, and the most in a step). */
#include <stdio.h>
#include <stdlib.h>

#include <mpi.h>

enum { C_ALLREDUCE, C_ALLGATHER, C_ALLGATHERV, C_BCAST, C_REDUCE, C_ALLTOALL, C_ALLTOALLV, C_BARRIER, C_N };
static const char *const names[C_N] = {"MPI_Allreduce", "MPI_Allgather", "MPI_Allgatherv", "MPI_Bcast",
                                       "MPI_Reduce",    "MPI_Alltoall",  "MPI_Alltoallv",  "MPI_Barrier"};
static long counts[C_N];
static long step_begin = -1, n_steps, fewest = -1, most, first = -1; /* collectives inside steps */

static long total_calls(void) {
    long t = 0;
    for (int i = 0; i < C_N; i++) t += counts[i];
    return t;
}

int MPI_Pcontrol(const int level, ...) {
    if (level == 1) step_begin = total_calls();
    if (level == 0 && step_begin >= 0) {
        long n = total_calls() - step_begin;
        if (first < 0) first = n;
        if (fewest < 0 || n < fewest) fewest = n;
        if (n > most) most = n;
        n_steps++, step_begin = -1;
    }
    return MPI_SUCCESS;
}

int MPI_Allreduce(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c) {
    counts[C_ALLREDUCE]++;
    return PMPI_Allreduce(s, r, n, t, op, c);
}

int MPI_Allgather(const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, MPI_Comm c) {
    counts[C_ALLGATHER]++;
    return PMPI_Allgather(s, sn, st, r, rn, rt, c);
}

int MPI_Allgatherv(const void *s, int sn, MPI_Datatype st, void *r, const int rn[], const int d[], MPI_Datatype rt,
                   MPI_Comm c) {
    counts[C_ALLGATHERV]++;
    return PMPI_Allgatherv(s, sn, st, r, rn, d, rt, c);
}

int MPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm c) {
    counts[C_BCAST]++;
    return PMPI_Bcast(b, n, t, root, c);
}

int MPI_Reduce(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, int root, MPI_Comm c) {
    counts[C_REDUCE]++;
    return PMPI_Reduce(s, r, n, t, op, root, c);
}

int MPI_Alltoall(const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, MPI_Comm c) {
    counts[C_ALLTOALL]++;
    return PMPI_Alltoall(s, sn, st, r, rn, rt, c);
}

int MPI_Alltoallv(const void *s, const int sn[], const int sd[], MPI_Datatype st, void *r, const int rn[],
                  const int rd[], MPI_Datatype rt, MPI_Comm c) {
    counts[C_ALLTOALLV]++;
    return PMPI_Alltoallv(s, sn, sd, st, r, rn, rd, rt, c);
}

int MPI_Barrier(MPI_Comm c) {
    counts[C_BARRIER]++;
    return PMPI_Barrier(c);
}

int MPI_Finalize(void) {
    const char *path = getenv("STRATA_MPI_COUNT");
    int rank = 0;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (f) {
        long total = 0;
        fprintf(f, "rank %d:", rank);
        for (int i = 0; i < C_N; i++) fprintf(f, " %s %ld", names[i], counts[i]), total += counts[i];
        fprintf(f, " total %ld\n", total);
        fprintf(f, "rank %d steps: %ld fewest %ld most %ld first %ld\n", rank, n_steps, fewest, most, first);
        fclose(f);
    }
    return PMPI_Finalize();
}
