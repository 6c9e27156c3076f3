/* mpi_count.c — an MPI profiling-interface (PMPI) shim that counts collective calls, for tests
 * and benchmarks: LD_PRELOAD=build/tests/libmpi_count.so mpirun ... and every rank appends
 * "rank R: <call> N ..." for the collectives it made to the file named by STRATA_MPI_COUNT at
 * MPI_Finalize. tests/test_collectives.sh uses it to check how many collectives a training step
 * makes (two runs of different lengths; the difference divided by the extra steps). */
#include <stdio.h>
#include <stdlib.h>

#include <mpi.h>

enum { C_ALLREDUCE, C_ALLGATHER, C_ALLGATHERV, C_BCAST, C_REDUCE, C_ALLTOALL, C_ALLTOALLV, C_BARRIER, C_N };
static const char *const names[C_N] = {"MPI_Allreduce", "MPI_Allgather", "MPI_Allgatherv", "MPI_Bcast",
                                       "MPI_Reduce",    "MPI_Alltoall",  "MPI_Alltoallv",  "MPI_Barrier"};
static long counts[C_N];

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
        fclose(f);
    }
    return PMPI_Finalize();
}
