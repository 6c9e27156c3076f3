/* mpi_empty.c — MPI_Init then MPI_Finalize, nothing else: the start-up cost of MPI itself, the
 * reference bench/bench_startup.sh compares strata's start-up with. A helper, not a benchmark
 * (`make bench` runs only build/bench/bench_*):
 *
 *   mpirun -np 2 build/bench/mpi_empty */
#include <mpi.h>

int main(int argc, char **argv) {
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
    return MPI_Finalize() == MPI_SUCCESS ? 0 : 1;
}
