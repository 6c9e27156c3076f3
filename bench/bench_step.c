/* bench_step.c — time of one training step of the Fashion-MNIST MLP 784-512-256-128-10
 * (BatchNorm, ReLU, dropout 0.2, AdamW, batch 256) next to the time of the same step's 11 GEMMs
 * alone through BLIS, measured in the same run with the same threads.
 *
 *   build/bench/bench_step [threads] [steps]     (default: all CPUs available, 60 steps)
 *
 * Prints medians over the timed steps (after 10 warm-up steps) and the ratio GEMM/step: the
 * share of the step spent in GEMMs, i.e. the fraction of the GEMM-only ceiling reached. Writes
 * build/bench/bench_step.json. */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "philox.h"
#include "threads.h"
#include "train_step.h"
#include "bench_util.h"
#include "clock.h"

enum { BATCH = 256, WARMUP = 10 };
static const int widths[] = {784, 512, 256, 128, 10};

static void die(const char *what, const st_error_t *err) {
    fprintf(stderr, "bench_step: %s: %s\n", what, err->msg);
    exit(1);
}

/* The step's GEMMs: per layer forward out = in·Wᵀ, dW += doutᵀ·in, and din = dout·W (not for
 * the first layer, whose input needs no gradient). */
static double time_gemms(int steps) {
    float *a = calloc((size_t)BATCH * 784, sizeof(float)), *w = calloc(784 * 512, sizeof(float));
    float *c = calloc((size_t)BATCH * 784, sizeof(float)), *dw = calloc(784 * 512, sizeof(float));
    for (size_t i = 0; i < (size_t)BATCH * 784; i++) a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < 784 * 512; i++) w[i] = (float)(i % 7) * 0.01f;
    float one = 1, zero = 0;
    double *t = malloc(sizeof(double) * (size_t)steps);
    for (int s = -WARMUP; s < steps; s++) {
        double t0 = st_clock_s();
        for (int l = 0; l < 4; l++) {
            int K = widths[l], N = widths[l + 1];
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, BATCH, N, K, &one, a, K, 1, w, K, 1, &zero, c, N, 1);
            bli_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, N, K, BATCH, &one, c, N, 1, a, K, 1, &one, dw, K, 1);
            if (l > 0) bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, BATCH, K, N, &one, c, N, 1, w, K, 1, &zero, a, K, 1);
        }
        if (s >= 0) t[s] = st_clock_s() - t0;
    }
    double med = bench_median(t, steps);
    free(a), free(w), free(c), free(dw), free(t);
    return med;
}

static const char *MODEL =
    "{\"layers\":[{\"type\":\"dense\",\"units\":512},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.2},"
    "{\"type\":\"dense\",\"units\":256},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.2},"
    "{\"type\":\"dense\",\"units\":128},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":0.2},"
    "{\"type\":\"dense\",\"units\":\"classes\"}]}";

static int classes_of(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return 10;
}

static double time_steps(int steps, size_t *n_params) {
    st_error_t err = {0};
    st_model_t *m;
    cJSON *mj = cJSON_Parse(MODEL), *lj = cJSON_Parse("{\"type\":\"cross_entropy\"}");
    cJSON *oj = cJSON_Parse("{\"type\":\"adamw\",\"lr\":0.001,\"weight_decay\":0.01}");
    if (st_model_build(mj, "model", st_shape1(784), 10, &m, &err) || st_model_reserve(m, BATCH, 0, &err)) die("model", &err);
    st_model_init(m, 1);
    st_loss_heads_t losses;
    if (st_loss_heads_parse(&losses, lj, "loss", classes_of, NULL, &err)) die("loss", &err);
    st_optim_config_t oc;
    st_optim_t *opt;
    int n_tensors;
    const st_tensor_view_t *tensors = st_model_tensors(m, &n_tensors);
    if (st_optim_parse(oj, "optimizer", &oc, &err) ||
        st_optim_create(&oc, tensors, n_tensors, st_model_param_floats(m), &opt, &err)) die("optimizer", &err);
    float *x = malloc(sizeof(float) * BATCH * 784);
    int32_t *y = malloc(sizeof(int32_t) * BATCH);
    st_rand_uniform(x, BATCH * 784, 0.0f, 1.0f, 7, ST_RNG_TEST, 0, 0, 0);
    for (int i = 0; i < BATCH; i++) y[i] = i % 10;
    st_step_parts_t parts = {m, &losses, opt, 0.0};
    double *t = malloc(sizeof(double) * (size_t)steps);
    for (int s = -WARMUP; s < steps; s++) {
        st_run_ctx_t ctx = {.training = 1, .seed = 1, .step = (uint32_t)(s + WARMUP), .update_running_stats = 1};
        st_step_result_t res;
        double t0 = st_clock_s();
        if (st_train_step_local(&parts, &ctx, x, y, NULL, BATCH, 1e-3, &res, &err)) die("step", &err);
        if (s >= 0) t[s] = st_clock_s() - t0;
    }
    double med = bench_median(t, steps);
    *n_params = st_model_param_floats(m);
    free(t), free(x), free(y);
    st_optim_free(opt), st_loss_heads_free(&losses), st_model_free(m);
    cJSON_Delete(mj), cJSON_Delete(lj), cJSON_Delete(oj);
    return med;
}

int main(int argc, char **argv) {
    st_blis_info_t blis;
    st_blis_select(&blis);
    int threads = argc > 1 ? atoi(argv[1]) : st_threads_default(1);
    int steps = argc > 2 ? atoi(argv[2]) : 60;
    st_threads_set(threads);
    size_t n_params;
    double step = time_steps(steps, &n_params);
    double gemm = time_gemms(steps);
    printf("MLP 784-512-256-128-10 (BatchNorm, ReLU, dropout 0.2, AdamW), batch %d, %zu parameters\n", BATCH, n_params);
    printf("threads %d, BLIS kernels %s, median of %d steps after %d warm-up\n", threads, blis.kernels, steps, WARMUP);
    printf("%-34s %9s %12s\n", "", "ms/step", "samples/s");
    printf("%-34s %9.3f %12.0f\n", "training step (strata)", step * 1e3, BATCH / step);
    printf("%-34s %9.3f %12.0f\n", "its 11 GEMMs alone (BLIS)", gemm * 1e3, BATCH / gemm);
    printf("GEMM share of the step: %.1f%% (fraction of the GEMM-only ceiling reached)\n", 100.0 * gemm / step);
    FILE *f = fopen("build/bench/bench_step.json", "w");
    if (f) {
        fprintf(f, "{\"threads\": %d, \"blis_kernels\": \"%s\", \"batch\": %d, \"step_ms\": %.4f, \"gemm_ms\": %.4f, "
                   "\"samples_per_s\": %.1f, \"gemm_ceiling_samples_per_s\": %.1f, \"fraction_of_ceiling\": %.4f}\n",
                threads, blis.kernels, BATCH, step * 1e3, gemm * 1e3, BATCH / step, BATCH / gemm, gemm / step);
        fclose(f);
    }
    return 0;
}
