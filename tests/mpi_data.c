/* mpi_data.c — the data pipeline under MPI (run by tests/test_mpi_data.sh at P = 1..4):
 * every training row lands on exactly one rank, in the shard block that rank owns; val and test
 * rows are spread with none twice; each rank's rows carry the right values and labels; a rank
 * count larger than the shard count is refused on every rank. Rank 0 prints digests of the
 * shard map and of the standardisation statistics, which the wrapper compares across P.
 *
 *   mpirun -np P build/tests/mpi_data WORKDIR      exits 0 when every check passed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mpi/comm.h"
#include "sharding/data.h"

enum { N = 2000, D = 6, K = 5 };

static int failures = 0;
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "[rank %d] check failed: ", c.rank);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
        }                                                                 \
    } while (0)

static uint64_t fnv(uint64_t h, const void *p, size_t n) { return st_fnv1a64(h, p, n); }

/* Class c has weight c+1 (imbalanced), X[i][j] = i + j/10 so a row names its id; with
 * nan_row >= 0 that row's feature 2 is NaN. */
static void make_dataset(const char *path, int nan_row) {
    float *X = malloc(sizeof(float) * N * D);
    int32_t *y = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) {
        int r = (int)((i * 2654435761u) % 15u), cls = 0, acc = 0;
        while (acc + cls + 1 <= r) acc += cls + 1, cls++;
        y[i] = cls;
        for (int j = 0; j < D; j++) X[i * D + j] = (float)i + (float)j / 10.0f;
    }
    if (nan_row >= 0) X[nan_row * D + 2] = 0.0f / 0.0f;
    const char *names[K] = {"a", "b", "c", "d", "e"};
    st_dataset_spec_t spec = {.n = N, .shape = st_shape1(D), .X = X, .y = y, .n_classes = K, .class_names = names, .source = "mpi_data test"};
    st_error_t err = {0};
    if (st_dataset_write(path, &spec, &err) != ST_OK) fprintf(stderr, "cannot write %s: %s\n", path, err.msg), exit(1);
    free(X), free(y);
}

/* Gathers every rank's ids of part p on all ranks; checks they are disjoint and complete. */
static void check_part_cover(const st_comm_t *cp, const st_data_t *d, int p) {
    st_comm_t c = *cp;
    int n_local = (int)d->part[p].n, *counts = malloc(sizeof(int) * c.size), *displs = malloc(sizeof(int) * c.size);
    MPI_Allgather(&n_local, 1, MPI_INT, counts, 1, MPI_INT, c.comm);
    int total = 0;
    for (int r = 0; r < c.size; r++) displs[r] = total, total += counts[r];
    int64_t *all = malloc(sizeof(int64_t) * (total + 1));
    MPI_Allgatherv(d->part[p].ids, n_local, MPI_INT64_T, all, counts, displs, MPI_INT64_T, c.comm);
    CHECK(total == d->n_part[p], "part %d: ranks hold %d rows, the split has %lld", p, total, (long long)d->n_part[p]);
    char *seen = calloc(N, 1);
    for (int i = 0; i < total; i++) {
        CHECK(!seen[all[i]], "part %d: row %lld held twice", p, (long long)all[i]);
        seen[all[i]] = 1;
    }
    free(seen), free(all), free(counts), free(displs);
}

static void check_rows(const st_comm_t *cp, const st_data_t *d) {
    st_comm_t c = *cp;
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < d->part[p].n; i++) {
            int64_t id = d->part[p].ids[i];
            CHECK(d->part[p].X[i * D] == (float)id && d->part[p].X[i * D + 5] == (float)id + 0.5f,
                  "part %d row %lld: wrong values %g", p, (long long)id, d->part[p].X[i * D]);
        }
    for (int64_t i = 0; i < d->part[0].n; i++) {
        int s = st_shards_find(&d->shards, d->part[0].ids[i]);
        CHECK(s >= d->shard_first && s < d->shard_end, "training row %lld is in shard %d, not in this rank's [%d, %d)",
              (long long)d->part[0].ids[i], s, d->shard_first, d->shard_end);
    }
}

int main(int argc, char **argv) {
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    char path[512];
    snprintf(path, sizeof path, "%s/mpi_data.h5", argc > 1 ? argv[1] : "/tmp");
    if (c.rank == 0) make_dataset(path, -1);
    MPI_Barrier(c.comm);

    st_data_config_t cfg = {.path = path, .seed = 5, .split = st_split_options_default(), .batch_size = 80,
                            .accumulation = 1, .shards = 8};
    st_data_t d;
    st_status_t rc = st_data_load(&d, &cfg, &c, &err);
    CHECK(rc == ST_OK, "st_data_load: %s", err.msg);
    if (rc == ST_OK) {
        CHECK(d.S == 8 && d.micro_batch == 10, "S %d micro %d", d.S, d.micro_batch);
        for (int p = 0; p < 3; p++) check_part_cover(&c, &d, p);
        check_rows(&c, &d);
        uint64_t h = fnv(ST_FNV1A64_STRATA_BASIS, d.shards.shard_of, sizeof(int32_t) * (size_t)d.shards.n_train);
        if (c.rank == 0) printf("digest shardmap %016llx\n", (unsigned long long)h);
        st_data_free(&d);
    }

    cfg.standardize = 1;
    rc = st_data_load(&d, &cfg, &c, &err);
    CHECK(rc == ST_OK, "st_data_load with standardisation: %s", err.msg);
    if (rc == ST_OK) {
        uint64_t h = fnv(fnv(ST_FNV1A64_STRATA_BASIS, d.mean, sizeof(double) * D), d.std, sizeof(double) * D);
        if (c.rank == 0) printf("digest stats %016llx mean0 %.17g std0 %.17g\n", (unsigned long long)h, d.mean[0], d.std[0]);
        st_data_free(&d);
    }

    if (c.size > 2) { /* more ranks than shards is refused everywhere */
        cfg.shards = 2, cfg.batch_size = 20;
        rc = st_data_load(&d, &cfg, &c, &err);
        CHECK(rc == ST_ERR_CONFIG, "P > S: got status %d (%s)", rc, err.msg);
        if (c.rank == 0) printf("P>S message: %s\n", err.msg);
    }

    /* NaN features are refused, naming the row, unless allowed. */
    char nan_path[600];
    snprintf(nan_path, sizeof nan_path, "%s.nan.h5", path);
    if (c.rank == 0) make_dataset(nan_path, 777);
    MPI_Barrier(c.comm);
    st_data_config_t ncfg = {.path = nan_path, .seed = 5, .split = st_split_options_default(), .batch_size = 80,
                             .accumulation = 1, .shards = 8};
    rc = st_data_load(&d, &ncfg, &c, &err);
    CHECK(rc == ST_ERR_DATA && strstr(err.msg, "1 non-finite feature values (NaN or Inf), the first in row 777"),
          "NaN refused: got %d (%s)", rc, err.msg);
    ncfg.allow_nonfinite = 1;
    rc = st_data_load(&d, &ncfg, &c, &err);
    CHECK(rc == ST_OK, "NaN allowed: %s", err.msg);
    if (rc == ST_OK) st_data_free(&d);
    if (c.rank == 0) remove(nan_path);

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, c.comm);
    if (c.rank == 0) printf("%s: %d failed checks at P=%d\n", total ? "FAIL" : "PASS", total, c.size);
    if (c.rank == 0) remove(path);
    st_comm_finalize(&c, &err);
    return total ? 1 : 0;
}
