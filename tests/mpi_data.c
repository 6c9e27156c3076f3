/* mpi_data.c — the data pipeline under MPI (run by tests/test_mpi_data.sh at P = 1..4):
 * every training row lands on exactly one rank, in the shard block that rank owns; val and test
 * rows are spread with none twice; each rank's rows carry the right values and labels; a rank
 * count larger than the shard count is refused on every rank. Rank 0 prints digests of the
 * shard map and of the standardisation statistics, which the wrapper compares across P. With
 * sequence lengths (issue 14): every row's length and exactly-0 padding (the file holds NaN and
 * garbage there), and digests of the masked statistics (channel and position modes) and of the
 * length-bucketed micro-batches of the rank's shards (printed by every rank, shard by shard).
 *
 *   mpirun -np P build/tests/mpi_data WORKDIR      exits 0 when every check passed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "hash.h"
#include "mpi/comm.h"
#include "sharding/batch.h"
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

/* [NL, TL, CL] sequences: x[i, t, c] = i + t/16 + c/64 at steps < length(i), NaN or garbage after. */
enum { NL = 1200, TL = 10, CL = 2 };
static int32_t seq_length(int i) { return 1 + (int32_t)((i * 2654435761u) % (unsigned)TL); }

static void make_seq_dataset(const char *path) {
    float *X = malloc(sizeof(float) * NL * TL * CL);
    int32_t *y = malloc(sizeof(int32_t) * NL), *len = malloc(sizeof(int32_t) * NL);
    for (int i = 0; i < NL; i++) {
        y[i] = i % 3, len[i] = seq_length(i);
        for (int t = 0; t < TL; t++)
            for (int ch = 0; ch < CL; ch++)
                X[(i * TL + t) * CL + ch] = t < len[i] ? (float)i + (float)t / 16.0f + (float)ch / 64.0f
                                                       : (t % 2 ? 0.0f / 0.0f : 1e30f);
    }
    st_dataset_spec_t spec = {.n = NL, .shape = st_shape2(TL, CL), .X = X, .y = y, .n_classes = 3, .lengths = len};
    st_error_t err = {0};
    if (st_dataset_write(path, &spec, &err) != ST_OK) fprintf(stderr, "cannot write %s: %s\n", path, err.msg), exit(1);
    free(X), free(y), free(len);
}

/* Lengths and zero padding of every row this rank holds (values unstandardised when raw). */
static void check_seq_rows(const st_comm_t *cp, const st_data_t *d, int raw) {
    st_comm_t c = *cp;
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < d->part[p].n; i++) {
            int id = (int)d->part[p].ids[i];
            CHECK(d->part[p].len[i] == seq_length(id), "row %d: length %d, want %d", id, d->part[p].len[i], seq_length(id));
            for (int k = 0; k < TL * CL; k++) {
                float x = d->part[p].X[i * TL * CL + k];
                int t = k / CL, ch = k % CL;
                if (t >= seq_length(id)) CHECK(x == 0.0f && !signbit(x), "row %d step %d: padding holds %g", id, t, x);
                else if (raw) CHECK(x == (float)id + (float)t / 16.0f + (float)ch / 64.0f, "row %d step %d: %g", id, t, x);
            }
        }
}

/* Every rank prints a digest of each of its shards' bucketed epoch-1 micro-batches. */
static void print_bucket_digests(const st_comm_t *cp, const st_data_t *d) {
    st_comm_t c = *cp;
    st_sampler_t sp;
    st_error_t err = {0};
    int ok = st_data_sampler_init(&sp, d, d->micro_batch, 1, 5, &err) == ST_OK;
    CHECK(ok, "st_data_sampler_init: %s", err.msg);
    if (!ok) return;
    CHECK(st_sampler_set_epoch(&sp, 1, &err) == ST_OK, "set_epoch: %s", err.msg);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)d->micro_batch);
    for (int s = d->shard_first; s < d->shard_end; s++) {
        uint64_t h = ST_FNV1A64_STRATA_BASIS;
        for (int64_t st = 0; st < sp.steps_per_epoch; st++) {
            st_sampler_micro_batch(ids, &sp, s, st, 0, &err);
            h = fnv(h, ids, sizeof(int64_t) * (size_t)d->micro_batch);
        }
        printf("digest bucket shard %d %016llx\n", s, (unsigned long long)h);
    }
    free(ids);
    st_sampler_free(&sp);
}

static void check_lengths(const st_comm_t *cp, const char *dir) {
    st_comm_t c = *cp;
    char path[600];
    snprintf(path, sizeof path, "%s/mpi_data_seq.h5", dir);
    if (c.rank == 0) make_seq_dataset(path);
    MPI_Barrier(c.comm);
    st_data_config_t cfg = {.path = path, .seed = 5, .split = st_split_options_default(), .batch_size = 64,
                            .accumulation = 1, .shards = 8, .bucket_by_length = 1, .bucket_window = 3};
    st_error_t err = {0};
    st_data_t d;
    const char *names[3] = {"raw", "lenchannel", "lenposition"};
    const int modes[3] = {0, 1, 3};
    for (int m = 0; m < 3; m++) {
        cfg.standardize = modes[m];
        st_status_t rc = st_data_load(&d, &cfg, &c, &err);
        CHECK(rc == ST_OK, "st_data_load with lengths (%s): %s", names[m], err.msg);
        if (rc != ST_OK) continue;
        CHECK(d.has_lengths && d.T_max == TL, "has_lengths %d T_max %d", d.has_lengths, d.T_max);
        check_seq_rows(&c, &d, m == 0);
        if (m == 0) print_bucket_digests(&c, &d);
        else if (c.rank == 0)
            printf("digest %s %016llx\n", names[m],
                   (unsigned long long)fnv(fnv(ST_FNV1A64_STRATA_BASIS, d.mean, sizeof(double) * (size_t)d.n_std), d.std,
                                           sizeof(double) * (size_t)d.n_std));
        st_data_free(&d);
    }
    MPI_Barrier(c.comm);
    if (c.rank == 0) remove(path);
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

    check_lengths(&c, argc > 1 ? argv[1] : "/tmp");

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, c.comm);
    if (c.rank == 0) printf("%s: %d failed checks at P=%d\n", total ? "FAIL" : "PASS", total, c.size);
    if (c.rank == 0) remove(path);
    st_comm_finalize(&c, &err);
    return total ? 1 : 0;
}
