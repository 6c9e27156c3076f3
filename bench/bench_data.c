/* bench_data.c — the whole data pipeline (sharding/data.h) on a dataset: time and peak memory
 * per rank. Run under mpirun to compare rank counts:
 *
 *   mpirun -np P build/bench/bench_data [FILE.h5] [batch_size]    (default data/fashion-mnist.h5, 256)
 *
 * Prints, per rank, the rows it holds, its peak resident memory (VmHWM; before loading, and its
 * resident memory once loaded: VmRSS) and the load time. bench/bench_memory.sh runs it at P = 1,
 * 2, 4 and parses these lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/comm.h"
#include "sharding/data.h"

/* A "Vm...:" line of /proc/self/status in KiB: VmHWM (peak resident), VmRSS (resident now). */
static long vm_status_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) kib = atol(line + n);
    if (f) fclose(f);
    return kib;
}

int main(int argc, char **argv) {
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    const char *path = argc > 1 ? argv[1] : "data/fashion-mnist.h5";
    if (access(path, R_OK) != 0) {
        st_comm_print(&c, stdout, "bench_data: %s not found (scripts/setup.sh makes it); skipped\n", path);
        st_comm_finalize(&c, &err);
        return 0;
    }
    long before = vm_status_kib("VmHWM:");
    st_data_config_t cfg = {.path = path, .seed = 1, .split = st_split_options_default(),
                            .batch_size = argc > 2 ? atol(argv[2]) : 256, .accumulation = 1, .standardize = 1,
                            .scale_pixels = 1};
    MPI_Barrier(c.comm);
    double t0 = MPI_Wtime();
    st_data_t d;
    if (st_data_load(&d, &cfg, &c, &err) != ST_OK) st_comm_abort(&c, 1, "%s", err.msg);
    double seconds = MPI_Wtime() - t0, slowest;
    MPI_Reduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, c.comm);
    long hwm = vm_status_kib("VmHWM:"), now = vm_status_kib("VmRSS:");
    st_comm_print(&c, stdout, "%s: N %lld, P %d, S %d shards x micro-batch %d; load %.3f s (slowest rank)\n", path,
                  (long long)d.ds.n, c.size, d.S, d.micro_batch, slowest);
    for (int r = 0; r < c.size; r++) {
        if (r == c.rank)
            printf("rank %d: train %lld + val %lld + test %lld rows, data %.1f MiB, peak RSS %.1f MiB (%.1f MiB before "
                   "loading, %.1f MiB after)\n",
                   c.rank, (long long)d.part[0].n, (long long)d.part[1].n, (long long)d.part[2].n,
                   (double)(d.part[0].n + d.part[1].n + d.part[2].n) * (double)d.row_floats * 4 / 1048576.0,
                   hwm / 1024.0, before / 1024.0, now / 1024.0);
        fflush(stdout);
        MPI_Barrier(c.comm);
    }
    st_data_free(&d);
    st_comm_finalize(&c, &err);
    return 0;
}
