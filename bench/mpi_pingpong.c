/* mpi_pingpong.c — the base latency of a transport: half the round trip of an 8-byte message
 * between ranks 0 and 1 (the others wait), and an 8-byte MPI_Allreduce over every rank, each the
 * median of 2,000 repetitions after 200 of warm-up. A helper of bench/bench_net.sh, which runs it
 * on the namespace network (docs/scaling.md); `make bench` runs only build/bench/bench_*:
 *
 *   mpirun -np 2 build/bench/mpi_pingpong [json]      (prints one line; JSON when a path is given) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench_util.h"

enum { REPS = 2000, WARM = 200 };

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double *t = malloc(sizeof(double) * REPS), x[1] = {1.0}, y[1];
    if (!t || size < 2) {
        if (rank == 0) fprintf(stderr, "mpi_pingpong: needs 2+ ranks\n");
        MPI_Finalize();
        return 1;
    }
    for (int r = -WARM; r < REPS; r++) { /* ping-pong, rank 0 <-> 1: one-way = round trip / 2 */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(x, 1, MPI_DOUBLE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(y, 1, MPI_DOUBLE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(y, 1, MPI_DOUBLE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(x, 1, MPI_DOUBLE, 0, 0, MPI_COMM_WORLD);
        }
        if (r >= 0) t[r] = (MPI_Wtime() - t0) / 2;
    }
    double one_way = bench_median(t, REPS);
    for (int r = -WARM; r < REPS; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(x, y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (r >= 0) t[r] = MPI_Wtime() - t0;
    }
    double ar = bench_median(t, REPS), ar_avg = 0;
    MPI_Reduce(&ar, &ar_avg, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        ar_avg /= size;
        printf("%d ranks: one-way latency (8 B ping-pong, ranks 0-1) %.1f us, 8-byte MPI_Allreduce %.1f us (medians)\n",
               size, one_way * 1e6, ar_avg * 1e6);
        if (argc > 1) {
            FILE *f = fopen(argv[1], "w");
            if (f) {
                fprintf(f, "{\"ranks\": %d, \"one_way_us\": %.2f, \"allreduce_8B_us\": %.2f}\n", size, one_way * 1e6, ar_avg * 1e6);
                fclose(f);
            }
        }
    }
    free(t);
    MPI_Finalize();
    return 0;
}
