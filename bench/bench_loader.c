/* bench_loader.c — memory and time of the two-phase parallel read (sharding/loader.c): every rank
 * gathers 1/P of the rows of a dataset, scattered over the whole file as stratified shards are
 * (row i goes to rank hash(i) mod P), and reports its peak resident memory and the time of the
 * two phases (collective block read, MPI_Alltoallv exchange).
 *
 *   mpirun -np P build/bench/bench_loader [file.h5] [repeats] [staging MiB]
 *                      (defaults: data/fashion-mnist.h5, 3 repeats, the loader's staging budget)
 *   build/bench/bench_loader --synthetic out.h5 [N D]   writes an N x D float32 dataset
 *                                                      (default 70000 x 784, Fashion-MNIST's size)
 *
 * Without the default file it prints a skip message and exits 0 (`make bench` runs it with no
 * arguments). Memory is VmHWM from /proc/self/status (peak resident set) before the gather and
 * after it: the difference is what the loader and the output cost, next to what the loader
 * should hold (block unless read straight into the output, wanted rows, staging). Times are the
 * median over the repeats of the slowest rank (the first repeat also pays for first-touching the
 * output). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mpi/comm.h"
#include "sharding/dataset.h"
#include "sharding/loader.h"
#include "bench_util.h"

#define DEFAULT_FILE "data/fashion-mnist.h5"

static long vm_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int synthetic(const char *path, int64_t n, int d) {
    float *X = malloc(sizeof(float) * (size_t)n * (size_t)d);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    if (!X || !y) {
        fprintf(stderr, "bench_loader: out of memory for %lld x %d\n", (long long)n, d);
        return 1;
    }
    for (int64_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % 10);
        for (int j = 0; j < d; j++) X[i * d + j] = (float)((mix((uint64_t)(i * d + j)) >> 40) & 255) / 255.0f;
    }
    st_dataset_spec_t spec = {.n = n, .shape = st_shape1(d), .X = X, .y = y, .n_classes = 10, .source = "bench_loader synthetic"};
    st_error_t err = {0};
    st_status_t s = st_dataset_write(path, &spec, &err);
    free(X), free(y);
    if (s != ST_OK) {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        return 1;
    }
    printf("bench_loader: wrote %s (%lld x %d float32, %.1f MB)\n", path, (long long)n, d, (double)n * d * 4 / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--synthetic") == 0) {
        if (argc < 3) {
            fprintf(stderr, "usage: bench_loader --synthetic out.h5 [N D]\n");
            return 2;
        }
        return synthetic(argv[2], argc > 3 ? atoll(argv[3]) : 70000, argc > 4 ? atoi(argv[4]) : 784);
    }
    const char *path = argc > 1 ? argv[1] : DEFAULT_FILE;
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    if (repeats < 1) repeats = 1;
    st_loader_options_t opt = {.staging_bytes = argc > 3 ? (size_t)(atof(argv[3]) * 1048576.0) : 0};
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (argc > 1) {
            fprintf(stderr, "bench_loader: %s not found\n", path);
            return 1;
        }
        printf("bench_loader: skipped: %s not found (convert Fashion-MNIST with 'strata convert', or run\n"
               "  build/bench/bench_loader --synthetic /tmp/f.h5 && mpirun -np 4 build/bench/bench_loader /tmp/f.h5)\n",
               DEFAULT_FILE);
        return 0;
    }

    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        return 1;
    }
    st_dataset_t ds;
    if (st_dataset_open(path, &ds, &err) != ST_OK) st_comm_abort(&c, 1, "bench_loader: %s", err.msg);
    const long rf = st_shape_numel(ds.shape);
    const double row_mb = (double)rf * sizeof(float) / 1048576.0;

    /* Rank r wants the rows i with hash(i) mod P = r: 1/P of the rows, scattered. */
    int64_t n_want = 0;
    for (int64_t i = 0; i < ds.n; i++) n_want += (int)(mix((uint64_t)i) % (uint64_t)c.size) == c.rank;
    int64_t *want = malloc(sizeof(int64_t) * (size_t)(n_want + 1));
    n_want = 0;
    for (int64_t i = 0; i < ds.n; i++)
        if ((int)(mix((uint64_t)i) % (uint64_t)c.size) == c.rank) want[n_want++] = i;

    long hwm_before = vm_kib("VmHWM");
    float *out = malloc(sizeof(float) * (size_t)(n_want * rf + 1));
    double *t_read = malloc(sizeof(double) * (size_t)repeats), *t_exch = malloc(sizeof(double) * (size_t)repeats);
    st_loader_info_t info = {0};
    for (int k = 0; k < repeats; k++) {
        MPI_Barrier(c.comm);
        if (st_loader_gather_rows_ex(&ds, &c, want, n_want, out, &opt, &info, &err) != ST_OK)
            st_comm_abort(&c, 1, "bench_loader: %s", err.msg);
        double mine[2] = {info.read_s, info.exchange_s}, slowest[2];
        MPI_Allreduce(mine, slowest, 2, MPI_DOUBLE, MPI_MAX, c.comm);
        t_read[k] = slowest[0], t_exch[k] = slowest[1];
    }
    long hwm_after = vm_kib("VmHWM");
    /* A check that the rows arrived: three of them against an independent read. */
    int bad = 0;
    if (n_want > 0) {
        float *row = malloc(sizeof(float) * (size_t)rf);
        int64_t probe[3] = {0, n_want / 2, n_want - 1};
        for (int p = 0; p < 3; p++) {
            if (st_dataset_read_rows(&ds, want[probe[p]], 1, row, MPI_COMM_NULL, &err) != ST_OK)
                st_comm_abort(&c, 1, "bench_loader: %s", err.msg);
            bad |= memcmp(row, out + probe[p] * rf, sizeof(float) * (size_t)rf) != 0;
        }
        free(row);
    }

    /* What the loader should hold at its peak: the read window (one piece of the block; none
     * when read straight into out), the wanted rows, staging. */
    double expect_mib = (double)n_want * row_mb + (double)(info.window_bytes + info.staging_bytes) / 1048576.0;
    double mine[9] = {(double)hwm_before, (double)hwm_after, expect_mib, (double)n_want, (double)info.block_rows,
                      (double)info.staging_bytes, (double)info.n_rounds, (double)info.rows_sent, (double)bad};
    double *all = c.rank == 0 ? malloc(sizeof(double) * 9 * (size_t)c.size) : NULL;
    MPI_Gather(mine, 9, MPI_DOUBLE, all, 9, MPI_DOUBLE, 0, c.comm);
    if (c.rank == 0) {
        qsort(t_read, (size_t)repeats, sizeof(double), bench_cmp_double);
        qsort(t_exch, (size_t)repeats, sizeof(double), bench_cmp_double);
        printf("bench_loader: %s: %lld rows x %ld floats (%.1f MB), P = %d, each rank gathers 1/P of the rows, scattered\n",
               path, (long long)ds.n, rf, (double)ds.n * (double)rf * 4 / 1e6, c.size);
        printf("  phase (a) collective block read: %.3f s   phase (b) alltoallv exchange: %.3f s   (median of %d, slowest rank)\n"
               "  staging budget %.1f MiB\n",
               t_read[repeats / 2], t_exch[repeats / 2], repeats,
               (double)(opt.staging_bytes ? opt.staging_bytes : ST_LOADER_STAGING_BYTES) / 1048576.0);
        printf("  rank  wanted  block  staging MiB  rounds  rows sent  HWM before MiB  HWM after MiB  growth MiB  window+wanted+staging MiB  rows ok\n");
        int any_bad = 0;
        for (int r = 0; r < c.size; r++) {
            const double *a = all + 9 * r;
            printf("  %4d  %6.0f  %5.0f  %11.1f  %6.0f  %9.0f  %14.1f  %13.1f  %10.1f  %25.1f  %s\n", r, a[3], a[4],
                   a[5] / 1048576.0, a[6], a[7], a[0] / 1024.0, a[1] / 1024.0, (a[1] - a[0]) / 1024.0, a[2],
                   a[8] ? "NO" : "yes");
            any_bad |= a[8] != 0;
        }
        if (any_bad) fprintf(stderr, "bench_loader: rows differ from a direct read\n");
        free(all);
    }
    int any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, c.comm);
    free(out), free(want), free(t_read), free(t_exch);
    st_dataset_close(&ds);
    st_comm_finalize(&c, &err);
    return any_bad ? 1 : 0;
}
