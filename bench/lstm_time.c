/* lstm_time.c — forward + backward time of one lstm (or gru) layer next to the time of its GEMMs alone
 * (the same BLIS calls at the same shapes and strides, on the same buffers' sizes), measured in
 * the same run with the same threads. A helper, not part of `make bench` (which runs only
 * build/bench/bench_*):
 *
 *   build/bench/lstm_time [threads] [B T C H bidirectional [lstm|gru]]   (default 1, 128 28 28 128 1 lstm)
 *
 * Prints the median and minimum over 20 timed repetitions after 3 warm-ups. */
#include <blis.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "layer.h"
#include "bench_util.h"
#include "clock.h"

enum { WARMUP = 3, REPS = 20 };

static float *filled(size_t n) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    return p;
}

/* The layer's GEMMs for one direction (G = 4H for lstm, 3H for gru): forward input projection
 * and T−1 recurrent steps, backward T−1 dh steps, dW_ih, dW_hh and din. */
static void gemms(float *gates, float *dgates, float *hprev, float *dh, float *x, float *din, float *Wih, float *Whh,
                  float *dWih, float *dWhh, int B, int T, int C, int H, int G, int dir) {
    const long M = (long)B * T;
    float one = 1.0f, zero = 0.0f;
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, G, C, &one, x, C, 1, Wih, C, 1, &one, gates, G, 1);
    for (int t = 1; t < T; t++)
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, B, G, H, &one, hprev + (size_t)t * H, (inc_t)T * H, 1, Whh, H, 1,
                  &one, gates + (size_t)t * G, (inc_t)T * G, 1);
    for (int t = T - 1; t > 0; t--)
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, B, H, G, &one, dgates + (size_t)t * G, (inc_t)T * G, 1, Whh, H, 1,
                  &zero, dh, H, 1);
    bli_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, G, C, M, &one, dgates, G, 1, x, C, 1, &one, dWih, C, 1);
    bli_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, G, H, M, &one, dgates, G, 1, hprev, H, 1, &one, dWhh, H, 1);
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, M, C, G, &one, dgates, G, 1, Wih, C, 1, dir ? &one : &zero, din, C, 1);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int B = argc > 2 ? atoi(argv[2]) : 128, T = argc > 3 ? atoi(argv[3]) : 28, C = argc > 4 ? atoi(argv[4]) : 28;
    int H = argc > 5 ? atoi(argv[5]) : 128, bidir = argc > 6 ? atoi(argv[6]) : 1, D = bidir ? 2 : 1;
    const char *type = argc > 7 ? argv[7] : "lstm";
    const int G = (type[0] == 'g' ? 3 : 4) * H;
    omp_set_num_threads(threads);
    bli_thread_set_num_threads(threads);
    char json[160];
    snprintf(json, sizeof json, "{\"type\":\"%s\",\"units\":%d,\"bidirectional\":%s}", type, H, bidir ? "true" : "false");
    cJSON *obj = cJSON_Parse(json);
    st_layer_t L = {0};
    st_error_t err = {0};
    if (st_layer_build(&L, obj, "model.layers[0]", "layers.0", 0, st_shape2(T, C), 0, NULL, &err) != ST_OK) {
        fprintf(stderr, "lstm_time: %s\n", err.msg);
        return 1;
    }
    cJSON_Delete(obj);
    size_t np = st_layer_param_floats(&L), n_in = (size_t)B * T * C, n_out = (size_t)B * st_shape_numel(L.out_shape);
    float *params = calloc(np, sizeof(float)), *grads = calloc(np, sizeof(float));
    st_layer_bind(&L, params, grads, NULL, 0, 0);
    L.kind->init(&L, 1);
    L.scratch = calloc((size_t)B * L.scratch_per_sample + L.scratch_fixed + 1, sizeof(float));
    float *x = filled(n_in), *dout = filled(n_out), *out = calloc(n_out, sizeof(float)), *din = calloc(n_in, sizeof(float));
    st_run_ctx_t ctx = {.training = 1, .seed = 1};
    /* GEMM-only buffers of the layer's sizes */
    const size_t BTG = (size_t)B * T * G, BTH = (size_t)B * T * H;
    float *gates = filled(BTG), *dgates = filled(BTG), *hprev = filled(BTH), *dh = filled((size_t)B * H);
    float *Wih = filled((size_t)G * C), *Whh = filled((size_t)G * H);
    float *dWih = calloc((size_t)G * C, 4), *dWhh = calloc((size_t)G * H, 4);
    double t_layer[REPS], t_gemm[REPS];
    for (int r = -WARMUP; r < REPS; r++) {
        double t0 = st_clock_s();
        L.kind->forward(&L, &ctx, out, x, B);
        L.kind->backward(&L, &ctx, din, dout, x, out, B);
        double t1 = st_clock_s();
        for (int dir = 0; dir < D; dir++) gemms(gates, dgates, hprev, dh, x, din, Wih, Whh, dWih, dWhh, B, T, C, H, G, dir);
        double t2 = st_clock_s();
        if (r >= 0) t_layer[r] = t1 - t0, t_gemm[r] = t2 - t1;
    }
    qsort(t_layer, REPS, sizeof(double), bench_cmp_double);
    qsort(t_gemm, REPS, sizeof(double), bench_cmp_double);
    printf("%s units %d bidirectional %d, B %d T %d C %d, %d thread(s)\n", type, H, bidir, B, T, C, threads);
    printf("forward+backward: median %.2f ms, min %.2f ms (%.0f samples/s)\n", 1e3 * t_layer[REPS / 2],
           1e3 * t_layer[0], B / t_layer[REPS / 2]);
    printf("GEMMs alone:      median %.2f ms, min %.2f ms; GEMM share %.0f%%\n", 1e3 * t_gemm[REPS / 2],
           1e3 * t_gemm[0], 100 * t_gemm[REPS / 2] / t_layer[REPS / 2]);
    return 0;
}
