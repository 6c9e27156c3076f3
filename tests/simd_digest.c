/* simd_digest.c — prints a hash of what every ST_CLONES kernel computes (see core/simd.h), on
 * odd sizes (vector tails) and in three steps of a small MLP with BatchNorm, ReLU, dropout and
 * AdamW. The Makefile links it twice: build/tests/simd_digest runs the clones the CPU selects
 * (AVX-512 or AVX2), build/tests/simd_digest_baseline the same kernels built without clones
 * (SSE2). tests/test_simd.sh checks that both print the same hashes, i.e. that the wide clones
 * are bitwise identical to the portable code.
 *
 *   build/tests/simd_digest          one line per kernel: "<name> <64-bit FNV-1a hex>" */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"
#include "layers/activations.h"
#include "layers/batchnorm.h"
#include "layers/dropout.h"
#include "mpi/fixed_sum.h"
#include "philox.h"
#include "regularize.h"
#include "threads.h"
#include "train_step.h"

static uint64_t fnv1a(const void *p, size_t n_bytes) {
    return st_fnv1a64(ST_FNV1A64_STRATA_BASIS, p, n_bytes);
}

static void print_hash(const char *name, const float *x, size_t n) {
    printf("%s %016llx\n", name, (unsigned long long)fnv1a(x, n * sizeof(float)));
}

static float *uniform(long n, uint32_t stream) {
    float *x = malloc(sizeof(float) * (size_t)n);
    st_rand_uniform(x, n, -2.0f, 2.0f, 11, ST_RNG_TEST, stream, 0, 0);
    return x;
}

/* BatchNorm forward and backward on [29, 37]: 37 channels = two full blocks of 16 and a tail. */
static void batchnorm_kernels(void) {
    enum { ROWS = 29, C = 37 };
    float *x = uniform(ROWS * C, 1), *dy = uniform(ROWS * C, 2), *gamma = uniform(C, 3), *beta = uniform(C, 4);
    float out[ROWS * C], din[ROWS * C], mean[C], var[C], dgamma[C] = {0}, dbeta[C] = {0};
    st_batchnorm_forward_train(out, mean, var, x, gamma, beta, ROWS, C, 1e-5f);
    st_batchnorm_backward(din, dgamma, dbeta, dy, x, mean, var, gamma, ROWS, C, 1e-5f);
    print_hash("batchnorm_forward", out, ROWS * C);
    print_hash("batchnorm_stats", mean, C), print_hash("batchnorm_var", var, C);
    print_hash("batchnorm_backward", din, ROWS * C);
    print_hash("batchnorm_dgamma", dgamma, C), print_hash("batchnorm_dbeta", dbeta, C);
    free(x), free(dy), free(gamma), free(beta);
}

/* relu, dropout (mask and fused forward) and the sum of squares on lengths that leave tails. */
static void elementwise_kernels(void) {
    enum { B = 5, N = 203 };
    float *x = uniform(B * N, 5), *dy = uniform(B * N, 6);
    float out[B * N], din[B * N], mask[B * N], mask2[B * N];
    st_relu_forward(out, x, B * N), print_hash("relu_forward", out, B * N);
    st_relu_backward(din, dy, x, B * N), print_hash("relu_backward", din, B * N);
    int64_t ids[B] = {7, 3, 1000000007, 0, 42};
    st_dropout_mask(mask, ids, 99, 3, 17, 0.3, B, N), print_hash("dropout_mask", mask, B * N);
    st_dropout_forward_train(out, mask2, x, ids, 99, 3, 17, 0.3, B, N), print_hash("dropout_forward", out, B * N);
    st_dropout_backward(din, dy, mask2, B * N), print_hash("dropout_backward", din, B * N);
    double ss = st_sum_squares(x, B * N), mx = st_max_abs(x, B * N);
    printf("sum_squares %016llx\n", (unsigned long long)fnv1a(&ss, sizeof ss));
    printf("max_abs %016llx\n", (unsigned long long)fnv1a(&mx, sizeof mx));
    const float *arrays[2] = {x, dy};
    int64_t fixed[B * N];
    st_fixed_sum_arrays(fixed, arrays, 2, B * N, st_fixed_exponent(mx, 2));
    printf("fixed_sum %016llx\n", (unsigned long long)fnv1a(fixed, sizeof fixed));
    free(x), free(dy);
}

static const char *MODEL =
    "{\"layers\":[{\"type\":\"dense\",\"units\":37},{\"type\":\"batchnorm\"},{\"type\":\"relu\"},"
    "{\"type\":\"dropout\",\"rate\":0.25},{\"type\":\"dense\",\"units\":\"classes\"}]}";

static int three_classes(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return 3;
}

/* Three AdamW steps of a 19-37-3 MLP on 23 rows: every kernel in its real setting. */
static int training_steps(void) {
    enum { B = 23, D = 19 };
    st_error_t err = {0};
    st_model_t *m = NULL;
    cJSON *mj = cJSON_Parse(MODEL), *lj = cJSON_Parse("{\"type\":\"cross_entropy\"}");
    cJSON *oj = cJSON_Parse("{\"type\":\"adamw\",\"lr\":0.01,\"weight_decay\":0.1}");
    st_loss_heads_t losses;
    st_optim_config_t oc;
    st_optim_t *opt = NULL;
    int n_tensors, rc = 1;
    if (st_model_build(mj, "model", st_shape1(D), 3, &m, &err) || st_model_reserve(m, B, 0, &err)) goto done;
    st_model_init(m, 5);
    const st_tensor_view_t *tensors = st_model_tensors(m, &n_tensors);
    if (st_loss_heads_parse(&losses, lj, "loss", three_classes, NULL, &err)) goto done;
    if (st_optim_parse(oj, "optimizer", &oc, &err) ||
        st_optim_create(&oc, tensors, n_tensors, st_model_param_floats(m), &opt, &err)) goto free_losses;
    float *x = uniform(B * D, 7);
    int32_t y[B];
    for (int i = 0; i < B; i++) y[i] = (i * 7) % 3;
    st_step_parts_t parts = {m, &losses, opt, 0.5};
    for (uint32_t s = 0; s < 3; s++) {
        st_run_ctx_t ctx = {.training = 1, .seed = 3, .step = s, .update_running_stats = 1};
        st_step_result_t res;
        if (st_train_step_local(&parts, &ctx, x, y, NULL, B, 1e-2, &res, &err)) goto free_x;
    }
    print_hash("mlp_params", st_model_params(m), st_model_param_floats(m));
    print_hash("mlp_grads", st_model_grads(m), st_model_param_floats(m));
    print_hash("mlp_buffers", st_model_buffers(m), st_model_buffer_floats(m));
    rc = 0;
free_x:
    free(x);
    st_optim_free(opt);
free_losses:
    st_loss_heads_free(&losses);
done:
    if (rc) fprintf(stderr, "simd_digest: %s\n", err.msg);
    st_model_free(m);
    cJSON_Delete(mj), cJSON_Delete(lj), cJSON_Delete(oj);
    return rc;
}

int main(void) {
    st_threads_set(1);
#if defined(__x86_64__) && defined(__GNUC__)
    printf("# cpu: avx512f %d, avx2 %d\n", __builtin_cpu_supports("avx512f") != 0, __builtin_cpu_supports("avx2") != 0);
#endif
    batchnorm_kernels();
    elementwise_kernels();
    return training_steps();
}
