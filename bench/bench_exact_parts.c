/* bench_exact_parts.c — where reproducible: "exact" spends its extra time against "fast", part by
 * part, for one rank of bench/bench_exact.sh's micro-batch-64 case (the Fashion-MNIST MLP, 8
 * shards × 64 rows over 2 ranks: 4 shards, 256 rows a rank a step):
 *
 *   fast:  one forward/backward pass over the 4 micro-batches (ghost batches of 64) adding into
 *          one gradient arena, then one float all-reduce of the arena;
 *   exact: one 64-row pass per shard, each writing its own arena; the largest magnitude of each;
 *          the fixed-point sum of the 4 arenas into int64; the int64 all-reduce (twice the
 *          bytes) plus the all-reduce of the largest magnitude; back to float.
 *
 *   build/bench/bench_exact_parts [threads] [reps]                 (one process: no all-reduce)
 *   mpirun -np 2 --map-by core --bind-to core build/bench/bench_exact_parts 1 200
 *
 * Medians over reps after 10 warm-ups (all-reduces: each rank's median, rank 0's printed).
 * Writes build/bench/bench_exact_parts.json (rank 0). See docs/reproducibility.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clock.h"
#include "mpi/collectives.h"
#include "mpi/fixed_sum.h"
#include "philox.h"
#include "threads.h"
#include "train_step.h"

enum { MICRO = 64, SHARDS = 4, ROWS = MICRO * SHARDS, WARMUP = 10 };

static const char *MODEL =
    "{\"layers\":[{\"type\":\"dense\",\"units\":512},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.2},"
    "{\"type\":\"dense\",\"units\":256},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.2},"
    "{\"type\":\"dense\",\"units\":128},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.2},"
    "{\"type\":\"dense\",\"units\":\"classes\"}]}";

enum { P_FAST_PASS, P_FAST_AR, P_EXACT_PASSES, P_MAX_ABS, P_FIXED_SUM, P_EXACT_AR, P_TO_FLOAT, N_PARTS };
static const char *const part_names[N_PARTS] = {
    "fast: one pass of 4 x 64 rows",  "fast: float all-reduce",        "exact: 4 passes of 64 rows",
    "exact: largest magnitudes",      "exact: fixed-point sum of 4",   "exact: max + int64 all-reduce",
    "exact: back to float"};

static void die(const char *what, const st_error_t *err) {
    fprintf(stderr, "bench_exact_parts: %s: %s\n", what, err->msg);
    exit(1);
}

static int classes_of(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return 10;
}

int main(int argc, char **argv) {
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err)) die("MPI", &err);
    st_blis_info_t blis;
    st_blis_select(&blis);
    int threads = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 100;
    st_threads_set(threads);
    st_model_t *m;
    cJSON *mj = cJSON_Parse(MODEL), *lj = cJSON_Parse("{\"type\":\"cross_entropy\"}");
    if (st_model_build(mj, "model", st_shape1(784), 10, &m, &err) || st_model_reserve(m, ROWS, 0, &err)) die("model", &err);
    st_model_init(m, 1);
    st_loss_heads_t losses;
    if (st_loss_heads_parse(&losses, lj, "loss", classes_of, NULL, &err)) die("loss", &err);
    st_step_parts_t parts = {m, &losses, NULL, 0.0};
    size_t n = st_model_param_floats(m);
    float *x = malloc(sizeof(float) * ROWS * 784), *shard = malloc(sizeof(float) * SHARDS * n);
    int64_t *fixed = malloc(sizeof(int64_t) * n);
    int32_t *y = malloc(sizeof(int32_t) * ROWS);
    double *t[N_PARTS];
    for (int p = 0; p < N_PARTS; p++) t[p] = calloc((size_t)reps, sizeof(double));
    st_rand_uniform(x, ROWS * 784, 0.0f, 1.0f, 7, ST_RNG_TEST, 0, 0, 0);
    for (int i = 0; i < ROWS; i++) y[i] = i % 10;
    st_batch_targets_t tg;
    memset(&tg, 0, sizeof tg);
    float scale[1] = {1.0f / ROWS};
    st_micro_sums_t sums[SHARDS];
    for (int r = -WARMUP; r < reps; r++) {
        double lap[N_PARTS + 1];
        st_run_ctx_t ctx = {.training = 1, .seed = 1, .step = (uint32_t)(r + WARMUP), .ghost_batch = MICRO};
        lap[0] = st_clock_s();
        st_model_zero_grads(m); /* fast */
        tg.labels[0] = y;
        if (st_train_pass(&parts, &ctx, x, &tg, ROWS, SHARDS, scale, sums, &err)) die("pass", &err);
        lap[1] = st_clock_s();
        if (st_allreduce_sum_f32(st_model_grads(m), n, &c, &err)) die("all-reduce", &err);
        lap[2] = st_clock_s();
        float *arena = st_model_swap_grads(m, shard); /* exact */
        for (int o = 0; o < SHARDS; o++) {
            float *g = shard + (size_t)o * n;
            st_model_swap_grads(m, g);
            memset(g, 0, n * sizeof(float));
            tg.labels[0] = y + o * MICRO;
            if (st_train_pass(&parts, &ctx, x + (size_t)o * MICRO * 784, &tg, MICRO, 1, scale, sums, &err)) die("pass", &err);
        }
        st_model_swap_grads(m, arena);
        lap[3] = st_clock_s();
        double max_abs = 0;
        const float *shards[SHARDS];
        for (int o = 0; o < SHARDS; o++) {
            shards[o] = shard + (size_t)o * n;
            double a = st_max_abs(shards[o], n);
            max_abs = a > max_abs ? a : max_abs;
        }
        lap[4] = st_clock_s();
        int e = st_fixed_exponent(max_abs, 8);
        st_fixed_sum_arrays(fixed, shards, SHARDS, n, e);
        lap[5] = st_clock_s();
        if (st_allreduce_max_f64(&max_abs, &c, &err) || st_allreduce_sum_i64_big(fixed, n, &c, &err)) die("all-reduce", &err);
        lap[6] = st_clock_s();
        st_fixed_to_float(arena, fixed, n, e);
        lap[7] = st_clock_s();
        for (int p = 0; r >= 0 && p < N_PARTS; p++) t[p][r] = lap[p + 1] - lap[p];
    }
    double med[N_PARTS];
    for (int p = 0; p < N_PARTS; p++) med[p] = bench_median(t[p], reps) * 1e3;
    double fast = med[P_FAST_PASS] + med[P_FAST_AR], exact = 0;
    for (int p = P_EXACT_PASSES; p < N_PARTS; p++) exact += med[p];
    if (c.rank == 0) {
        printf("MLP 784-512-256-128-10, %d shards x %d rows on this rank, %zu parameters, %d rank(s) x %d thread(s), "
               "BLIS %s; medians of %d reps, ms\n", SHARDS, MICRO, n, c.size, threads, blis.kernels, reps);
        for (int p = 0; p < N_PARTS; p++) printf("  %-34s %8.3f\n", part_names[p], med[p]);
        printf("  %-34s %8.3f\n  %-34s %8.3f\n", "fast total (without update)", fast, "exact total (without update)", exact);
        FILE *f = fopen("build/bench/bench_exact_parts.json", "w");
        if (f) {
            fprintf(f, "{\"ranks\": %d, \"threads\": %d, \"fast_ms\": %.4f, \"exact_ms\": %.4f", c.size, threads, fast, exact);
            for (int p = 0; p < N_PARTS; p++) fprintf(f, ", \"part_%d_ms\": %.4f", p, med[p]);
            fprintf(f, "}\n");
            fclose(f);
        }
    }
    for (int p = 0; p < N_PARTS; p++) free(t[p]);
    free(x), free(shard), free(fixed), free(y);
    st_loss_heads_free(&losses), st_model_free(m);
    cJSON_Delete(mj), cJSON_Delete(lj);
    st_comm_finalize(&c, &err);
    return 0;
}
