/* mpi_augment.c — augmentation happens after the split (run by tests/test_augment_runs.sh at
 * P = 1 and 2): on a grouped dataset with data.repeat 3, the rows the training path hands out
 * (sampler occurrences → row o / 3 → located in the rank's training part → gathered → augmented)
 * are training rows only: never a val or test row, never a row of a group that has rows in val
 * or test; and over an epoch a training row is handed out at most 3 times over all ranks (the
 * occurrences past the epoch's last whole step wait for another epoch), and nearly all 3 times.
 *
 *   mpirun -np P build/tests/mpi_augment WORKDIR      prints PASS/FAIL, exits 0 when all passed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "sharding/augment.h"
#include "sharding/batch.h"
#include "sharding/data.h"

enum { N = 1200, D = 4, K = 3, GROUP = 4, REPEAT = 3 };

static int failures = 0;
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            if (failures++ < 10) {                                        \
                fprintf(stderr, "[rank %d] check failed: ", c.rank);      \
                fprintf(stderr, __VA_ARGS__);                             \
                fprintf(stderr, "\n");                                    \
            }                                                             \
        }                                                                 \
    } while (0)

/* Row i: X = (i, 1, 2, 3), class i % K, group i / GROUP (groups of 4 rows of mixed classes). */
static void make_dataset(const char *path) {
    float *X = malloc(sizeof(float) * N * D);
    int32_t *y = malloc(sizeof(int32_t) * N);
    int64_t *g = malloc(sizeof(int64_t) * N);
    for (int i = 0; i < N; i++) {
        y[i] = i % K, g[i] = i / GROUP;
        for (int j = 0; j < D; j++) X[i * D + j] = j == 0 ? (float)i : (float)j;
    }
    const char *names[K] = {"a", "b", "c"};
    st_dataset_spec_t spec = {.n = N, .shape = st_shape1(D), .X = X, .y = y, .n_classes = K, .class_names = names,
                              .groups = g, .source = "mpi_augment test"};
    st_error_t err = {0};
    if (st_dataset_write(path, &spec, &err) != ST_OK) fprintf(stderr, "cannot write %s: %s\n", path, err.msg), exit(1);
    free(X), free(y), free(g);
}

int main(int argc, char **argv) {
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    char path[512];
    snprintf(path, sizeof path, "%s/mpi_augment.h5", argc > 1 ? argv[1] : "/tmp");
    if (c.rank == 0) make_dataset(path);
    MPI_Barrier(c.comm);

    st_data_config_t cfg = {.path = path, .seed = 5, .split = st_split_options_default(), .batch_size = 40,
                            .accumulation = 1, .shards = 4, .repeat = REPEAT};
    st_data_t d;
    st_status_t rc = st_data_load(&d, &cfg, &c, &err);
    CHECK(rc == ST_OK, "st_data_load: %s", err.msg);
    if (rc != ST_OK) return MPI_Finalize(), 1;
    CHECK(d.n_groups == N / GROUP, "groups: %lld", (long long)d.n_groups);

    /* Every group with a row in val or test, from all ranks' val and test parts. */
    int *held_out = calloc(N / GROUP, sizeof(int)), *count = calloc(N, sizeof(int));
    for (int p = 1; p < 3; p++)
        for (int64_t i = 0; i < d.part[p].n; i++) held_out[d.part[p].ids[i] / GROUP] = 1;
    MPI_Allreduce(MPI_IN_PLACE, held_out, N / GROUP, MPI_INT, MPI_MAX, c.comm);
    int n_held = 0;
    for (int g = 0; g < N / GROUP; g++) n_held += held_out[g];
    CHECK(n_held > 0, "no group in val or test");

    /* The augmentation the engine would apply: jitter of columns 1..3 (column 0 names the row). */
    cJSON *list = cJSON_Parse("[{\"op\":\"jitter\",\"columns\":[1,4],\"absolute\":0.5},"
                              "{\"op\":\"feature_dropout\",\"rate\":0.3}]");
    st_augment_t aug;
    rc = st_augment_parse(&aug, list, "augment", &err);
    int protect[1] = {0}; /* column 0 as if it fed an embedding: never augmented */
    if (rc == ST_OK) rc = st_augment_bind(&aug, "augment", 1, D, 0, 0, NULL, NULL, 0, protect, 1, &err);
    CHECK(rc == ST_OK, "augment: %s", err.msg);
    cJSON_Delete(list);

    st_sampler_t sp;
    rc = st_data_sampler_init(&sp, &d, d.micro_batch, 1, 5, &err);
    CHECK(rc == ST_OK, "sampler: %s", err.msg);
    int64_t *occ = malloc(sizeof(int64_t) * (size_t)d.micro_batch), *rows = malloc(sizeof(int64_t) * (size_t)d.micro_batch);
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)d.micro_batch);
    float *x = malloc(sizeof(float) * (size_t)d.micro_batch * D);
    int64_t handed = 0;
    for (int64_t epoch = 0; rc == ST_OK && epoch < 2; epoch++) {
        st_sampler_set_epoch(&sp, epoch, &err);
        for (int s = d.shard_first; s < d.shard_end; s++)
            for (int64_t st = 0; st < sp.steps_per_epoch; st++) {
                st_sampler_micro_batch(occ, &sp, s, st, 0, &err);
                for (int i = 0; i < d.micro_batch; i++) rows[i] = occ[i] / REPEAT;
                rc = st_shards_locate(pos, rows, d.part[ST_SPLIT_TRAIN].ids, d.micro_batch, d.part[ST_SPLIT_TRAIN].n, &err);
                CHECK(rc == ST_OK, "locate: %s", err.msg);
                if (rc != ST_OK) break;
                int T_run;
                st_data_gather_rows(x, NULL, &T_run, &d, &d.part[ST_SPLIT_TRAIN], pos, d.micro_batch);
                st_augment_apply(&aug, x, NULL, occ, 5, epoch, d.micro_batch, 1, &err);
                for (int i = 0; i < d.micro_batch; i++) {
                    int64_t id = (int64_t)x[i * D]; /* the augmented row's own id */
                    CHECK(id == rows[i], "occurrence %lld: gathered row %lld", (long long)occ[i], (long long)id);
                    CHECK(!held_out[id / GROUP], "row %lld of group %lld (in val/test) was handed to training",
                          (long long)id, (long long)(id / GROUP));
                    if (epoch == 0) count[id]++;
                    handed++;
                }
            }
    }
    MPI_Allreduce(MPI_IN_PLACE, count, N, MPI_INT, MPI_SUM, c.comm);
    int64_t n_train = 0, wrong = 0;
    for (int i = 0; i < N; i++) {
        int train = !held_out[i / GROUP];
        n_train += train;
        /* a training row at most 3 times (the occurrences past the last whole step are skipped), others never */
        wrong += train ? count[i] > REPEAT : count[i] != 0;
    }
    int64_t total = 0;
    for (int i = 0; i < N; i++) total += count[i];
    CHECK(wrong == 0, "%lld rows handed out a wrong number of times", (long long)wrong);
    CHECK(total == sp.steps_per_epoch * d.micro_batch * d.S, "occurrences in an epoch: %lld", (long long)total);
    CHECK(total > (int64_t)(0.9 * REPEAT * n_train), "an epoch showed %lld occurrences of %lld training rows",
          (long long)total, (long long)n_train);
    int all = failures;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_SUM, c.comm);
    if (c.rank == 0)
        printf("%s: %lld training rows (%d of %d groups held out), %lld occurrences an epoch, %lld checked on rank 0\n",
               all ? "FAIL" : "PASS", (long long)n_train, n_held, N / GROUP, (long long)total, (long long)handed);
    free(held_out), free(count), free(occ), free(rows), free(pos), free(x);
    st_sampler_free(&sp), st_augment_free(&aug), st_data_free(&d);
    MPI_Finalize();
    return all ? 1 : 0;
}
