/* bench_allreduce.c — latency of MPI_Allreduce (MPI_SUM of floats) at the sizes data-parallel
 * training of strata's models reduces each step: 64 KiB, 1 MiB, the Fashion-MNIST MLP's
 * parameter arena (568,330 floats = 2.27 MB) and an arena 10x larger (22.7 MB).
 *
 *   mpirun -np 2 --bind-to none build/bench/bench_allreduce [json]     (default build/bench/bench_allreduce.json)
 *   mpirun -np 2 --bind-to none --mca pml ob1 --mca btl tcp,self build/bench/bench_allreduce    (TCP)
 *
 * OSU style: warm-up, then repetitions each preceded by a barrier; each rank takes the median
 * of its own repetitions, and the table shows the min/avg/max of those medians across ranks,
 * the algorithm bandwidth (bytes / time) and the bus bandwidth (2(p-1)/p · bytes / time, what a
 * ring all-reduce moves through each rank's link). A last row times the MLP arena through
 * MPI_Iallreduce + MPI_Wait, the call an all-reduce overlapped with backward would use (see
 * docs/performance.md, "Overlapping the all-reduce"). Run as one process it still works (so
 * `make bench` passes) but says the number is meaningless and writes no JSON. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"

#define MLP_PARAMS 568330 /* 784-512-256-128-10 with BatchNorm: the arena bench_step reports */

typedef struct {
    const char *label;
    size_t floats;
} size_case_t;

static const size_case_t cases[] = {
    {"64 KiB", 64 * 1024 / 4},
    {"1 MiB", 1024 * 1024 / 4},
    {"MLP arena", MLP_PARAMS},
    {"MLP arena x10", 10 * (size_t)MLP_PARAMS},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* Enough repetitions for a stable median while keeping the whole run to about a second on a
 * slow (TCP) transport. */
static int reps_for(size_t bytes) {
    if (bytes <= 256 * 1024) return 400;
    if (bytes <= 4 * 1024 * 1024) return 100;
    return 25;
}

/* This rank's median time of `reps` reductions of n floats (after warm-up), blocking or not. */
static double time_reduction(const float *send, float *recv, int n, int reps, int nonblocking, double *t) {
    int warm = reps / 10 + 2;
    for (int r = -warm; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (nonblocking) {
            MPI_Request q;
            MPI_Iallreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &q);
            MPI_Wait(&q, MPI_STATUS_IGNORE);
        } else {
            MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        }
        double dt = MPI_Wtime() - t0;
        if (r >= 0) t[r] = dt;
    }
    return bench_median(t, reps);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *json_path = argc > 1 ? argv[1] : "build/bench/bench_allreduce.json";

    size_t max_floats = 0;
    for (int c = 0; c < N_CASES; c++)
        if (cases[c].floats > max_floats) max_floats = cases[c].floats;
    float *send = malloc(max_floats * sizeof(float)), *recv = malloc(max_floats * sizeof(float));
    double *t = malloc(sizeof(double) * 400);
    if (!send || !recv || !t) {
        fprintf(stderr, "bench_allreduce: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (size_t i = 0; i < max_floats; i++) send[i] = (float)((i + (size_t)rank) % 17) * 0.125f;
    memset(recv, 0, max_floats * sizeof(float));

    double med_min[N_CASES], med_avg[N_CASES], med_max[N_CASES];
    int reps_used[N_CASES];
    for (int c = 0; c < N_CASES; c++) {
        int n = (int)cases[c].floats, reps = reps_for(cases[c].floats * sizeof(float));
        double med = time_reduction(send, recv, n, reps, 0, t), sum;
        MPI_Reduce(&med, &med_min[c], 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
        MPI_Reduce(&med, &med_max[c], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(&med, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        med_avg[c] = sum / size;
        reps_used[c] = reps;
    }

    double nb = time_reduction(send, recv, MLP_PARAMS, 100, 1, t), nb_avg;
    MPI_Reduce(&nb, &nb_avg, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    nb_avg /= size;

    if (rank == 0) {
        printf("MPI_Allreduce (MPI_SUM, float), %d rank%s; median per rank over repetitions after warm-up,\n"
               "barrier between repetitions; min/avg/max across ranks\n",
               size, size == 1 ? "" : "s");
        printf("%-14s %12s %6s %11s %11s %11s %10s %10s\n", "size", "bytes", "reps", "min us", "avg us", "max us",
               "alg GB/s", "bus GB/s");
        double bus_factor = size > 1 ? 2.0 * (size - 1) / size : 0.0;
        for (int c = 0; c < N_CASES; c++) {
            double bytes = (double)cases[c].floats * sizeof(float);
            printf("%-14s %12.0f %6d %11.1f %11.1f %11.1f %10.2f %10.2f\n", cases[c].label, bytes, reps_used[c],
                   med_min[c] * 1e6, med_avg[c] * 1e6, med_max[c] * 1e6, bytes / med_avg[c] * 1e-9,
                   bus_factor * bytes / med_avg[c] * 1e-9);
        }
        printf("%-14s %12.0f %6d %11s %11.1f %11s %10.2f   (MPI_Iallreduce + MPI_Wait)\n", "MLP arena, nb",
               MLP_PARAMS * 4.0, 100, "", nb_avg * 1e6, "", MLP_PARAMS * 4.0 / nb_avg * 1e-9);
        if (size < 2) {
            printf("note: 1 process, nothing is communicated: run with 2+ ranks for a meaningful number, e.g.\n"
                   "  mpirun -np 2 --bind-to none build/bench/bench_allreduce   (no JSON written with 1 rank)\n");
        } else {
            FILE *f = fopen(json_path, "w");
            if (!f) {
                fprintf(stderr, "bench_allreduce: cannot write %s\n", json_path);
            } else {
                fprintf(f, "{\"ranks\": %d, \"op\": \"MPI_SUM float\", \"statistic\": \"median per rank\", \"sizes\": [", size);
                for (int c = 0; c < N_CASES; c++)
                    fprintf(f, "%s\n {\"label\": \"%s\", \"bytes\": %zu, \"reps\": %d, \"min_us\": %.2f, \"avg_us\": %.2f, "
                               "\"max_us\": %.2f, \"alg_gb_per_s\": %.4f}",
                            c ? "," : "", cases[c].label, cases[c].floats * sizeof(float), reps_used[c], med_min[c] * 1e6,
                            med_avg[c] * 1e6, med_max[c] * 1e6,
                            (double)cases[c].floats * sizeof(float) / med_avg[c] * 1e-9);
                fprintf(f, "],\n \"iallreduce_mlp_arena_avg_us\": %.2f}\n", nb_avg * 1e6);
                fclose(f);
            }
        }
    }
    free(send), free(recv), free(t);
    MPI_Finalize();
    return 0;
}
