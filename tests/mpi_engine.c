/* mpi_engine.c — the distributed training step (jobs/engine.h), run by tests/test_mpi_engine.sh
 * at P = 1, 2, 4 ranks:
 *   1. after one step (AdamW, clipping, dropout), the parameters are bitwise identical on every
 *      rank and equal (1e-6 relative) to a single-process step over the same global batch
 *      (core/train_step.h on the concatenated micro-batches);
 *   2. accumulation k = 2 with micro-batch m gives the parameters of k = 1 with micro-batch 2m
 *      (no dropout or BatchNorm: the same samples, the same gradient);
 *   3. with BatchNorm, running statistics are identical on every rank;
 *   4. fast mode's passes of several micro-batches (ghost batches) give the parameters and
 *      running statistics of one micro-batch per pass (1e-6 relative).
 *   mpirun -np P build/tests/mpi_engine WORKDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "jobs/engine.h"
#include "mpi/comm.h"
#include "philox.h"
#include "train_step.h"

enum { N = 1200, D = 10, K = 3, S = 4 };

static int failures = 0;
static int my_rank = 0;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "[rank %d] check failed (line %d): ", my_rank, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

static void make_dataset(const char *path) {
    float *X = malloc(sizeof(float) * N * D);
    int32_t *y = malloc(sizeof(int32_t) * N);
    st_rand_normal(X, N * D, 0.0f, 1.0f, 3, ST_RNG_TEST, 0, 0, 0);
    for (int i = 0; i < N; i++) y[i] = (X[i * D] + X[i * D + 1] > 0) + (X[i * D + 2] > 1.0f);
    st_dataset_spec_t spec = {.n = N, .shape = st_shape1(D), .X = X, .y = y, .n_classes = K};
    st_error_t err = {0};
    if (st_dataset_write(path, &spec, &err) != ST_OK) fprintf(stderr, "%s\n", err.msg), exit(1);
    free(X), free(y);
}

typedef struct {
    st_data_t data;
    st_model_t *model;
    st_loss_heads_t losses;
    st_optim_t *optim;
    st_engine_t engine;
} run_t;

static int classes_of(const char *h, void *ctx) { (void)h, (void)ctx; return K; }

/* reserve: rows the model holds (0 = the whole batch); it sets the engine's micro-batches per pass. */
static void run_open_reserving(run_t *r, const st_comm_t *c, const char *path, const char *model_json, int64_t batch,
                               int accum, int reserve) {
    st_error_t err = {0};
    st_data_config_t dc = {.path = path, .seed = 11, .split = st_split_options_default(), .batch_size = batch,
                           .accumulation = accum, .shards = S, .standardize = 1};
    if (st_data_load(&r->data, &dc, c, &err)) st_comm_abort(c, 1, "data: %s", err.msg);
    cJSON *mj = cJSON_Parse(model_json), *lj = cJSON_Parse("{\"type\":\"cross_entropy\",\"label_smoothing\":0.05}");
    cJSON *oj = cJSON_Parse("{\"type\":\"adamw\",\"lr\":0.01,\"weight_decay\":0.01}");
    if (st_model_build(mj, "model", r->data.shape, K, &r->model, &err) ||
        st_model_reserve(r->model, reserve > 0 ? reserve : (int)batch, 0, &err))
        st_comm_abort(c, 1, "model: %s", err.msg);
    st_model_init(r->model, 11);
    st_optim_config_t oc;
    int n_t;
    const st_tensor_view_t *t = st_model_tensors(r->model, &n_t);
    if (st_loss_heads_parse(&r->losses, lj, "loss", classes_of, NULL, &err) || st_optim_parse(oj, "optimizer", &oc, &err) ||
        st_optim_create(&oc, t, n_t, st_model_param_floats(r->model), &r->optim, &err))
        st_comm_abort(c, 1, "setup: %s", err.msg);
    st_step_parts_t parts = {r->model, &r->losses, r->optim, 0.5};
    if (st_engine_init(&r->engine, &parts, &r->data, c, accum, 11, &err))
        st_comm_abort(c, 1, "engine: %s", err.msg);
    cJSON_Delete(mj), cJSON_Delete(lj), cJSON_Delete(oj);
}

static void run_open(run_t *r, const st_comm_t *c, const char *path, const char *model_json, int64_t batch,
                     int accum) {
    run_open_reserving(r, c, path, model_json, batch, accum, 0);
}

static void run_close(run_t *r) {
    st_engine_free(&r->engine);
    st_optim_free(r->optim);
    st_loss_heads_free(&r->losses);
    st_model_free(r->model);
    st_data_free(&r->data);
}

static void step(run_t *r, const st_comm_t *c, int64_t t) {
    st_error_t err = {0};
    st_step_stats_t s;
    if (st_engine_step(&r->engine, 0, t, t, 0.01, 0, ST_OK, &s, &err)) st_comm_abort(c, 1, "step: %s", err.msg);
}

/* Every rank has the same bits: compare with rank 0's copy. */
static void check_identical_across_ranks(const st_comm_t *c, const float *x, size_t n, const char *what) {
    float *root = malloc(sizeof(float) * n);
    memcpy(root, x, sizeof(float) * n);
    MPI_Bcast(root, (int)n, MPI_FLOAT, 0, c->comm);
    CHECK(memcmp(root, x, sizeof(float) * n) == 0, "%s differ from rank 0's", what);
    free(root);
}

/* The global batch of step 0 as one process sees it: every shard's micro-batch, shard order. */
static void check_against_single_process(const st_comm_t *c, run_t *r, const char *model_json, int64_t batch) {
    st_error_t err = {0};
    const st_data_t *d = &r->data;
    int micro = d->micro_batch, rf = (int)d->row_floats;
    /* Collect ids of step 0 of every shard (all ranks compute them: the sampler is pure). */
    st_sampler_t sp;
    if (st_sampler_init(&sp, &d->shards, 0, d->S, micro, 1, 11, &err) || st_sampler_set_epoch(&sp, 0, &err))
        st_comm_abort(c, 1, "%s", err.msg);
    int64_t *ids = malloc(sizeof(int64_t) * batch);
    for (int s = 0; s < d->S; s++) st_sampler_micro_batch(ids + (size_t)s * micro, &sp, s, 0, 0, &err);
    st_sampler_free(&sp);
    /* Gather those rows from whichever rank holds them: every rank contributes the ones it has. */
    float *X = calloc((size_t)batch * rf, sizeof(float));
    int32_t *y = calloc((size_t)batch, sizeof(int32_t));
    const st_data_part_t *tr = &d->part[ST_SPLIT_TRAIN];
    for (int64_t i = 0; i < batch; i++)
        for (int64_t j = 0; j < tr->n; j++)
            if (tr->ids[j] == ids[i]) memcpy(X + i * rf, tr->X + j * rf, sizeof(float) * rf), y[i] = tr->y[j];
    MPI_Allreduce(MPI_IN_PLACE, X, (int)(batch * rf), MPI_FLOAT, MPI_SUM, c->comm);
    MPI_Allreduce(MPI_IN_PLACE, y, (int)batch, MPI_INT32_T, MPI_SUM, c->comm);

    run_t ref;
    memset(&ref, 0, sizeof ref);
    cJSON *mj = cJSON_Parse(model_json), *lj = cJSON_Parse("{\"type\":\"cross_entropy\",\"label_smoothing\":0.05}");
    cJSON *oj = cJSON_Parse("{\"type\":\"adamw\",\"lr\":0.01,\"weight_decay\":0.01}");
    st_optim_config_t oc;
    int n_t;
    st_model_build(mj, "model", d->shape, K, &ref.model, &err);
    st_model_reserve(ref.model, (int)batch, 0, &err);
    st_model_init(ref.model, 11);
    const st_tensor_view_t *t = st_model_tensors(ref.model, &n_t);
    st_loss_heads_parse(&ref.losses, lj, "loss", classes_of, NULL, &err);
    st_optim_parse(oj, "optimizer", &oc, &err);
    st_optim_create(&oc, t, n_t, st_model_param_floats(ref.model), &ref.optim, &err);
    st_step_parts_t parts = {ref.model, &ref.losses, ref.optim, 0.5};
    st_run_ctx_t ctx = {.training = 1, .seed = 11, .step = 0, .sample_index = ids};
    st_step_result_t res;
    if (st_train_step_local(&parts, &ctx, X, y, NULL, (int)batch, 0.01, &res, &err)) st_comm_abort(c, 1, "%s", err.msg);
    size_t n = st_model_param_floats(ref.model), bad = 0;
    const float *a = st_model_params(r->model), *b = st_model_params(ref.model);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - b[i]), tol = 1e-7 + 1e-6 * fabs(b[i]);
        if (diff > tol) bad++;
        if (diff > worst) worst = diff;
    }
    CHECK(bad == 0, "%zu of %zu parameters differ from the single-process step (worst %g)", bad, n, worst);
    if (c->rank == 0) printf("single-process step: worst parameter difference %.3g\n", worst);
    st_optim_free(ref.optim), st_loss_heads_free(&ref.losses), st_model_free(ref.model);
    cJSON_Delete(mj), cJSON_Delete(lj), cJSON_Delete(oj);
    free(ids), free(X), free(y);
}

static const char *MLP_DROPOUT =
    "{\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.3},{\"type\":\"dense\",\"units\":\"classes\"}]}";
static const char *MLP_PLAIN =
    "{\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"tanh\"},{\"type\":\"dense\",\"units\":\"classes\"}]}";
static const char *MLP_BN =
    "{\"layers\":[{\"type\":\"dense\",\"units\":16},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dense\",\"units\":\"classes\"}]}";

int main(int argc, char **argv) {
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    my_rank = c.rank;
    char path[512];
    snprintf(path, sizeof path, "%s/mpi_engine.h5", argc > 1 ? argv[1] : "/tmp");
    if (c.rank == 0) make_dataset(path);
    MPI_Barrier(c.comm);

    run_t r; /* 1: one step, dropout + AdamW + clipping */
    run_open(&r, &c, path, MLP_DROPOUT, 64, 1);
    step(&r, &c, 0);
    check_identical_across_ranks(&c, st_model_params(r.model), st_model_param_floats(r.model), "parameters");
    check_against_single_process(&c, &r, MLP_DROPOUT, 64);
    run_close(&r);

    run_t a, b; /* 2: k = 2 × m = 8 against k = 1 × m = 16, two steps */
    run_open(&a, &c, path, MLP_PLAIN, 64, 2);
    run_open(&b, &c, path, MLP_PLAIN, 64, 1);
    CHECK(a.data.micro_batch == 8 && b.data.micro_batch == 16, "micro-batches %d and %d", a.data.micro_batch, b.data.micro_batch);
    for (int t = 0; t < 2; t++) step(&a, &c, t), step(&b, &c, t);
    size_t n = st_model_param_floats(a.model), bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x = st_model_params(a.model)[i], y = st_model_params(b.model)[i];
        if (fabs(x - y) > 1e-7 + 1e-6 * fabs(y)) bad++;
    }
    CHECK(bad == 0, "accumulation: %zu of %zu parameters differ between k=2 m=8 and k=1 m=16", bad, n);
    run_close(&a), run_close(&b);

    run_open(&r, &c, path, MLP_BN, 64, 2); /* 3: BatchNorm running statistics */
    for (int t = 0; t < 3; t++) step(&r, &c, t);
    check_identical_across_ranks(&c, st_model_buffers(r.model), st_model_buffer_floats(r.model), "batchnorm buffers");
    check_identical_across_ranks(&c, st_model_params(r.model), st_model_param_floats(r.model), "parameters with batchnorm");
    uint64_t h = st_fnv1a64(ST_FNV1A64_STRATA_BASIS, st_model_params(r.model), st_model_param_floats(r.model) * sizeof(float));
    if (c.rank == 0) printf("digest bn-params %016llx\n", (unsigned long long)h);
    run_close(&r);

    run_open(&a, &c, path, MLP_BN, 64, 2); /* 4: ghost-batch passes against one micro-batch per pass */
    run_open_reserving(&b, &c, path, MLP_BN, 64, 2, 8);
    CHECK(b.engine.per_pass == 1 && a.engine.per_pass == a.engine.n_owned, "micro-batches per pass %d and %d (owned %d)",
          a.engine.per_pass, b.engine.per_pass, a.engine.n_owned);
    for (int t = 0; t < 3; t++) step(&a, &c, t), step(&b, &c, t);
    size_t bad_p = 0, bad_b = 0;
    for (size_t i = 0; i < st_model_param_floats(a.model); i++) {
        double x = st_model_params(a.model)[i], y = st_model_params(b.model)[i];
        bad_p += fabs(x - y) > 1e-7 + 1e-6 * fabs(y);
    }
    for (size_t i = 0; i < st_model_buffer_floats(a.model); i++) {
        double x = st_model_buffers(a.model)[i], y = st_model_buffers(b.model)[i];
        bad_b += fabs(x - y) > 1e-7 + 1e-6 * fabs(y);
    }
    CHECK(bad_p == 0 && bad_b == 0, "ghost batches: %zu parameters and %zu running statistics differ from one micro-batch per pass",
          bad_p, bad_b);
    run_close(&a), run_close(&b);

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, c.comm);
    if (c.rank == 0) printf("%s: %d failed checks at P=%d\n", total ? "FAIL" : "PASS", total, c.size), remove(path);
    st_comm_finalize(&c, &err);
    return total ? 1 : 0;
}
