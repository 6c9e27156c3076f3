/* bench_seq.c — speed of issue 14's sequence models (A, B, C: configs/fashion_seq_*.json) against
 * their GEMM-only ceiling, with a per-layer profile, on random in-memory data shaped like
 * Fashion-MNIST read as sequences ([28, 28] per sample, 10 classes, batch 128).
 *
 *   build/bench/bench_seq MODEL [threads] [steps] [json | --train-only]
 *       MODEL: A, B, C or the path of a config whose "model", "loss" and "optimizer" are used
 *       threads: default all CPUs available; steps: timed steps (default 20, after 3 warm-up)
 *       json: where the figures go (default build/bench/bench_seq_<MODEL>_<threads>.json)
 *       --train-only: only the training steps, no ceiling, profile or JSON (for perf record)
 *   Run from the repository's top folder (the configs are read from configs/).
 *
 * It measures, with the same threads throughout:
 * 1. the median training step (st_train_step_local: zero gradients, forward in training mode,
 *    loss, backward, norm and optimizer update — the calls the engine makes) and the median
 *    inference forward (eval mode), as samples/s;
 * 2. the GEMM-only ceiling: every st_sgemm call of one training step (and of one inference
 *    forward) is recorded through st_gemm_set_recorder, then the same GEMMs (m, n, k,
 *    transpositions, beta) run alone on preallocated contiguous row-major buffers;
 *    strata / ceiling is the fraction of it reached (issue 14's target: >= 75%);
 * 3. a per-layer profile: each layer's forward and backward run on buffers of its shapes
 *    (st_model_layer + the kind's vtable; core/model.c is not touched), timed one by one, next to
 *    the time of that layer's own GEMMs replayed alone (the recorder's context names the layer
 *    that issued each call), plus gradient zeroing and the update; what is left of the step is
 *    the loss and the model's concat copies.
 * bench/bench_seq.sh runs it for A, B, C at 1 and 2 threads next to PyTorch (bench/torch_seq.py). */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fileio.h"
#include "gemm.h"
#include "philox.h"
#include "threads.h"
#include "train_step.h"
#include "bench_util.h"

enum { BATCH = 128, WARMUP = 3, SEQ_T = 28, SEQ_C = 28, CLASSES = 10, PROFILE_REPS = 5 };
#define TARGET_FRACTION 0.75

static const struct {
    const char *name, *config;
} known_models[] = {
    {"A", "configs/fashion_seq_cnn.json"},
    {"B", "configs/fashion_seq_optimized.json"},
    {"C", "configs/fashion_seq_bilstm.json"},
};

/* ---- timing helpers ---- */

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench_seq: %s: %s\n", what, msg);
    exit(1);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) die("memory", "out of memory");
    return p;
}

/* ---- the GEMM recorder: every st_sgemm call with the layer and phase that issued it ---- */

enum { PHASE_FORWARD = 0, PHASE_BACKWARD = 1, PHASE_EVAL = 2, PHASE_STEP = 3 };

typedef struct {
    st_gemm_call_t call;
    int layer, phase; /* layer index (-1 = not attributed) and PHASE_* */
} rec_call_t;

typedef struct {
    rec_call_t *calls;
    int n, cap;
    int layer, phase; /* set by the benchmark before each layer call */
} recorder_t;

static void record(const st_gemm_call_t *call, void *ctx) {
    recorder_t *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->calls = realloc(r->calls, sizeof *r->calls * (size_t)r->cap);
        if (!r->calls) die("memory", "out of memory recording GEMMs");
    }
    r->calls[r->n++] = (rec_call_t){*call, r->layer, r->phase};
}

static void recorder_start(recorder_t *r, int layer, int phase) {
    r->layer = layer, r->phase = phase;
    st_gemm_set_recorder(record, r);
}

static void recorder_stop(void) { st_gemm_set_recorder(NULL, NULL); }

/* ---- replaying recorded GEMMs alone ---- */

typedef struct {
    float *a, *b, *c; /* large enough for every call's op(A) [m,k], op(B) [k,n], C [m,n] */
} replay_buf_t;

static replay_buf_t replay_alloc(const rec_call_t *calls, int n) {
    size_t na = 1, nb = 1, nc = 1;
    for (int i = 0; i < n; i++) {
        const st_gemm_call_t *g = &calls[i].call;
        size_t a = (size_t)g->m * g->k, b = (size_t)g->k * g->n, c = (size_t)g->m * g->n;
        na = a > na ? a : na, nb = b > nb ? b : nb, nc = c > nc ? c : nc;
    }
    replay_buf_t buf = {xcalloc(na, sizeof(float)), xcalloc(nb, sizeof(float)), xcalloc(nc, sizeof(float))};
    st_rand_uniform(buf.a, (long)na, -0.5f, 0.5f, 3, ST_RNG_TEST, 0, 0, 0);
    st_rand_uniform(buf.b, (long)nb, -0.5f, 0.5f, 3, ST_RNG_TEST, 1, 0, 0);
    return buf;
}

static void replay_free(replay_buf_t *buf) { free(buf->a), free(buf->b), free(buf->c); }

/* The calls, in order, contiguous row-major: op(A) m×k (stored k×m when transposed), etc. */
static double replay_once(const rec_call_t *calls, int n, const replay_buf_t *buf) {
    float one = 1.0f, zero = 0.0f;
    double t0 = st_clock_s();
    for (int i = 0; i < n; i++) {
        const st_gemm_call_t *g = &calls[i].call;
        inc_t lda = g->trans_a ? g->m : g->k, ldb = g->trans_b ? g->k : g->n;
        bli_sgemm(g->trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, g->trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                  g->m, g->n, g->k, &one, buf->a, lda, 1, buf->b, ldb, 1, g->beta_zero ? &zero : &one, buf->c, g->n, 1);
    }
    return st_clock_s() - t0;
}

static double replay_median(const rec_call_t *calls, int n, const replay_buf_t *buf, int reps) {
    if (n == 0) return 0.0;
    double *t = xcalloc((size_t)reps, sizeof(double));
    for (int r = -1; r < reps; r++) {
        double s = replay_once(calls, n, buf);
        if (r >= 0) t[r] = s;
    }
    double med = bench_median(t, reps);
    free(t);
    return med;
}

/* The calls of one layer and phase, replayed alone (0 when it issued none). */
static double replay_layer(const recorder_t *r, int layer, int phase, const replay_buf_t *buf, int reps,
                           int *n_calls) {
    rec_call_t *sub = xcalloc((size_t)r->n, sizeof *sub);
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (r->calls[i].layer == layer && r->calls[i].phase == phase) sub[n++] = r->calls[i];
    double t = replay_median(sub, n, buf, reps);
    free(sub);
    *n_calls += n;
    return t;
}

static double gemm_gflop(const rec_call_t *calls, int n) {
    double f = 0;
    for (int i = 0; i < n; i++) f += 2.0 * calls[i].call.m * calls[i].call.n * calls[i].call.k;
    return f * 1e-9;
}

/* ---- the model, its loss and optimizer, from the config ---- */

typedef struct {
    const char *name, *config;
    cJSON *json;
    st_model_t *m;
    st_loss_heads_t losses;
    st_optim_t *opt;
    float *x;      /* [BATCH, SEQ_T * SEQ_C], N(0, 1): globally standardised data */
    int32_t *y;    /* [BATCH] */
    st_step_parts_t parts;
    double lr;
} bench_model_t;

static int classes_of(const char *head, void *ctx) {
    (void)head, (void)ctx;
    return CLASSES;
}

static void model_open(bench_model_t *b, const char *arg) {
    memset(b, 0, sizeof *b);
    b->name = b->config = arg;
    for (size_t i = 0; i < sizeof known_models / sizeof known_models[0]; i++)
        if (strcmp(arg, known_models[i].name) == 0) b->config = known_models[i].config;
    st_error_t err = {0};
    char *text = st_read_file(b->config, NULL, &err);
    if (!text) die(b->config, err.msg);
    b->json = cJSON_Parse(text);
    free(text);
    if (!b->json) die(b->config, "not valid JSON");
    const cJSON *opt_json = cJSON_GetObjectItemCaseSensitive(b->json, "optimizer");
    st_optim_config_t oc;
    int n_tensors;
    if (st_model_build(cJSON_GetObjectItemCaseSensitive(b->json, "model"), "model", st_shape2(SEQ_T, SEQ_C), CLASSES,
                       &b->m, &err) ||
        st_model_reserve(b->m, BATCH, 0, &err) ||
        st_loss_heads_parse(&b->losses, cJSON_GetObjectItemCaseSensitive(b->json, "loss"), "loss", classes_of, NULL,
                            &err) ||
        st_optim_parse(opt_json, "optimizer", &oc, &err))
        die(b->config, err.msg);
    st_model_init(b->m, 1);
    const st_tensor_view_t *tensors = st_model_tensors(b->m, &n_tensors);
    if (st_optim_create(&oc, tensors, n_tensors, st_model_param_floats(b->m), &b->opt, &err)) die(b->config, err.msg);
    b->lr = oc.lr;
    b->x = xcalloc((size_t)BATCH * SEQ_T * SEQ_C, sizeof(float));
    b->y = xcalloc(BATCH, sizeof(int32_t));
    st_rand_normal(b->x, (long)BATCH * SEQ_T * SEQ_C, 0.0f, 1.0f, 7, ST_RNG_TEST, 0, 0, 0);
    for (int i = 0; i < BATCH; i++) b->y[i] = i % CLASSES;
    b->parts = (st_step_parts_t){b->m, &b->losses, b->opt, 0.0};
}

static void model_close(bench_model_t *b) {
    st_optim_free(b->opt), st_loss_heads_free(&b->losses), st_model_free(b->m);
    cJSON_Delete(b->json);
    free(b->x), free(b->y);
}

static uint32_t step_no;

static void train_step(bench_model_t *b) {
    st_run_ctx_t ctx = {.training = 1, .seed = 1, .step = step_no++, .update_running_stats = 1};
    st_step_result_t res;
    st_error_t err = {0};
    if (st_train_step_local(&b->parts, &ctx, b->x, b->y, NULL, BATCH, b->lr, &res, &err)) die("step", err.msg);
}

static void infer(bench_model_t *b) {
    st_run_ctx_t ctx = {.training = 0, .seed = 1};
    st_model_forward(b->m, &ctx, b->x, BATCH);
}

static double time_median(void (*fn)(bench_model_t *), bench_model_t *b, int steps) {
    double *t = xcalloc((size_t)steps, sizeof(double));
    for (int s = -WARMUP; s < steps; s++) {
        double t0 = st_clock_s();
        fn(b);
        if (s >= 0) t[s] = st_clock_s() - t0;
    }
    double med = bench_median(t, steps);
    free(t);
    return med;
}

/* ---- the whole-step figures and their ceiling ---- */

typedef struct {
    double ms, gemm_ms, gflop;
    int gemm_calls;
} phase_figures_t;

static phase_figures_t measure_phase(void (*fn)(bench_model_t *), bench_model_t *b, int steps) {
    phase_figures_t f = {0};
    f.ms = 1e3 * time_median(fn, b, steps);
    recorder_t rec = {0};
    recorder_start(&rec, -1, PHASE_STEP);
    fn(b);
    recorder_stop();
    replay_buf_t buf = replay_alloc(rec.calls, rec.n);
    f.gemm_ms = 1e3 * replay_median(rec.calls, rec.n, &buf, steps);
    f.gemm_calls = rec.n;
    f.gflop = gemm_gflop(rec.calls, rec.n);
    replay_free(&buf);
    free(rec.calls);
    return f;
}

/* ---- the per-layer profile ---- */

typedef struct {
    double fwd_ms, bwd_ms, gemm_fwd_ms, gemm_bwd_ms; /* training mode */
    double eval_ms, gemm_eval_ms;                    /* an inference forward (eval mode) */
    int gemm_calls;                                  /* of the training forward + backward */
} layer_figures_t;

typedef struct {
    layer_figures_t *layer; /* [n_layers] */
    double zero_ms, update_ms;
} profile_t;

typedef struct {
    float *in, *out, *dout, *din; /* [BATCH, widest numel] each */
} layer_buf_t;

/* The leading layers whose input is the model's input (same shape as it, before any layer
 * changes the shape: the three parallel convs of model B) get no input gradient, as in the
 * model (which computes none for its input). */
static int reads_model_input(st_model_t *m, int i) {
    for (int j = 0; j <= i; j++)
        if (!st_shape_equal(st_model_layer(m, j)->in_shape, st_model_input_shape(m))) return 0;
    return 1;
}

static layer_buf_t layer_buf_alloc(st_model_t *m) {
    long widest = 0;
    for (int i = 0; i < st_model_layer_count(m); i++) {
        const st_layer_t *L = st_model_layer(m, i);
        long a = st_shape_numel(L->in_shape), b = st_shape_numel(L->out_shape);
        widest = a > widest ? a : widest, widest = b > widest ? b : widest;
    }
    size_t n = (size_t)BATCH * (size_t)widest;
    layer_buf_t buf = {xcalloc(n, sizeof(float)), xcalloc(n, sizeof(float)), xcalloc(n, sizeof(float)),
                       xcalloc(n, sizeof(float))};
    st_rand_normal(buf.in, (long)n, 0.0f, 1.0f, 5, ST_RNG_TEST, 0, 0, 0);
    st_rand_normal(buf.dout, (long)n, 0.0f, 1e-3f, 5, ST_RNG_TEST, 1, 0, 0);
    return buf;
}

/* One forward and backward of layer i on buf; times into fwd/bwd (may be NULL). */
static void layer_pass(st_model_t *m, int i, const layer_buf_t *buf, recorder_t *rec, double *fwd, double *bwd) {
    st_layer_t *L = st_model_layer(m, i);
    st_run_ctx_t ctx = {.training = 1, .seed = 1, .step = step_no++, .update_running_stats = 1};
    float *din = reads_model_input(m, i) ? NULL : buf->din;
    if (rec) recorder_start(rec, i, PHASE_FORWARD);
    double t0 = st_clock_s();
    L->kind->forward(L, &ctx, buf->out, buf->in, BATCH);
    double t1 = st_clock_s();
    if (rec) recorder_start(rec, i, PHASE_BACKWARD);
    if (L->kind->backward) L->kind->backward(L, &ctx, din, buf->dout, buf->in, buf->out, BATCH);
    double t2 = st_clock_s();
    if (rec) recorder_stop();
    if (fwd) *fwd = t1 - t0;
    if (bwd) *bwd = t2 - t1;
}

/* One eval-mode forward of layer i on buf; returns its time. */
static double layer_eval(st_model_t *m, int i, const layer_buf_t *buf, recorder_t *rec) {
    st_layer_t *L = st_model_layer(m, i);
    st_run_ctx_t ctx = {.training = 0, .seed = 1};
    if (rec) recorder_start(rec, i, PHASE_EVAL);
    double t0 = st_clock_s();
    L->kind->forward(L, &ctx, buf->out, buf->in, BATCH);
    double t = st_clock_s() - t0;
    if (rec) recorder_stop();
    return t;
}

static double time_update(bench_model_t *b, int reps, double *zero_ms) {
    double *tz = xcalloc((size_t)reps, sizeof(double)), *tu = xcalloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) {
        st_update_result_t res;
        double t0 = st_clock_s();
        st_model_zero_grads(b->m);
        double t1 = st_clock_s();
        st_train_update(&b->parts, b->lr, 0, &res);
        tz[r] = t1 - t0, tu[r] = st_clock_s() - t1;
    }
    *zero_ms = 1e3 * bench_median(tz, reps);
    double u = 1e3 * bench_median(tu, reps);
    free(tz), free(tu);
    return u;
}

static profile_t profile_layers(bench_model_t *b, int replay_reps) {
    int n = st_model_layer_count(b->m);
    profile_t p = {xcalloc((size_t)n, sizeof(layer_figures_t)), 0, 0};
    layer_buf_t buf = layer_buf_alloc(b->m);
    recorder_t rec = {0};
    double tf[PROFILE_REPS], tb[PROFILE_REPS], te[PROFILE_REPS];
    for (int i = 0; i < n; i++) {
        layer_pass(b->m, i, &buf, &rec, NULL, NULL); /* warm-up, recording its GEMMs */
        layer_eval(b->m, i, &buf, &rec);
        for (int r = 0; r < PROFILE_REPS; r++) {
            layer_pass(b->m, i, &buf, NULL, &tf[r], &tb[r]);
            te[r] = layer_eval(b->m, i, &buf, NULL);
        }
        p.layer[i].fwd_ms = 1e3 * bench_median(tf, PROFILE_REPS);
        p.layer[i].bwd_ms = 1e3 * bench_median(tb, PROFILE_REPS);
        p.layer[i].eval_ms = 1e3 * bench_median(te, PROFILE_REPS);
    }
    replay_buf_t rb = replay_alloc(rec.calls, rec.n);
    for (int i = 0; i < n; i++) {
        layer_figures_t *f = &p.layer[i];
        f->gemm_fwd_ms = 1e3 * replay_layer(&rec, i, PHASE_FORWARD, &rb, replay_reps, &f->gemm_calls);
        f->gemm_bwd_ms = 1e3 * replay_layer(&rec, i, PHASE_BACKWARD, &rb, replay_reps, &f->gemm_calls);
        int eval_calls = 0;
        f->gemm_eval_ms = 1e3 * replay_layer(&rec, i, PHASE_EVAL, &rb, replay_reps, &eval_calls);
    }
    p.update_ms = time_update(b, PROFILE_REPS, &p.zero_ms);
    replay_free(&rb);
    free(rec.calls);
    free(buf.in), free(buf.out), free(buf.dout), free(buf.din);
    return p;
}

/* ---- output ---- */

typedef struct {
    const char *model, *config;
    int threads, steps;
    size_t params;
    st_blis_info_t blis;
    const char *own_loops;
    phase_figures_t train, infer;
    profile_t prof;
} result_t;

static const char *own_loop_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    return __builtin_cpu_supports("avx2") ? "avx2" : "baseline x86-64";
}

static void print_phase(const char *what, const phase_figures_t *f) {
    printf("%-26s %9.2f %10.0f %10.2f %10.0f %5d %7.2f %9.1f%%  %s\n", what, f->ms, BATCH * 1e3 / f->ms, f->gemm_ms,
           BATCH * 1e3 / f->gemm_ms, f->gemm_calls, f->gflop, 100.0 * f->gemm_ms / f->ms,
           f->gemm_ms / f->ms >= TARGET_FRACTION ? "met" : "NOT met");
}

static void print_profile(bench_model_t *b, const result_t *r) {
    double step = r->train.ms, sum = 0, gemm = 0, eval = 0;
    printf("per-layer profile (median of %d passes of each layer alone; GEMM = its recorded GEMMs replayed alone):\n",
           PROFILE_REPS);
    printf("  %-22s %-16s %8s %8s %7s %9s %9s %6s | %8s %9s\n", "layer", "type", "fwd ms", "bwd ms", "% step",
           "GEMM fwd", "GEMM bwd", "GEMM%", "eval ms", "GEMM eval");
    for (int i = 0; i < st_model_layer_count(b->m); i++) {
        const st_layer_t *L = st_model_layer(b->m, i);
        const layer_figures_t *f = &r->prof.layer[i];
        double t = f->fwd_ms + f->bwd_ms, g = f->gemm_fwd_ms + f->gemm_bwd_ms;
        sum += t, gemm += g, eval += f->eval_ms;
        printf("  %-22s %-16s %8.3f %8.3f %6.1f%% %9.3f %9.3f %5.0f%% | %8.3f %9.3f\n", L->name, L->kind->type,
               f->fwd_ms, f->bwd_ms, 100 * t / step, f->gemm_fwd_ms, f->gemm_bwd_ms, t > 0 ? 100 * g / t : 0.0,
               f->eval_ms, f->gemm_eval_ms);
    }
    double other = step - sum - r->prof.zero_ms - r->prof.update_ms;
    printf("  %-39s %17.3f %6.1f%%\n", "zeroing the gradient arena", r->prof.zero_ms, 100 * r->prof.zero_ms / step);
    printf("  %-39s %17.3f %6.1f%%\n", "update (gradient norm + optimizer)", r->prof.update_ms,
           100 * r->prof.update_ms / step);
    printf("  %-39s %17.3f %6.1f%%\n", "rest of the step (loss, concat copies)", other, 100 * other / step);
    printf("  layers: %.2f ms (%.2f ms of it GEMM) + zero + update = %.2f ms of the %.2f ms step\n", sum, gemm,
           sum + r->prof.zero_ms + r->prof.update_ms, step);
    printf("  eval forwards of the layers: %.2f ms of the %.2f ms inference forward\n", eval, r->infer.ms);
    if (other > 0.1 * step)
        printf("warning: %.0f%% of the step is outside the layers, the update and zeroing (usually a few %%): the "
               "step was likely slowed by another process; rerun on a quiet machine\n", 100 * other / step);
}

static void json_phase(FILE *f, const char *key, const phase_figures_t *p) {
    fprintf(f, "  \"%s\": {\"ms\": %.4f, \"samples_per_s\": %.1f, \"gemm_ms\": %.4f, \"gemm_calls\": %d, "
               "\"gemm_gflop\": %.4f, \"ceiling_samples_per_s\": %.1f, \"fraction_of_ceiling\": %.4f, "
               "\"target_met\": %s},\n",
            key, p->ms, BATCH * 1e3 / p->ms, p->gemm_ms, p->gemm_calls, p->gflop, BATCH * 1e3 / p->gemm_ms,
            p->gemm_ms / p->ms, p->gemm_ms / p->ms >= TARGET_FRACTION ? "true" : "false");
}

static void write_json(const char *path, bench_model_t *b, const result_t *r) {
    FILE *f = fopen(path, "w");
    if (!f) die(path, "cannot write");
    fprintf(f, "{\n  \"model\": \"%s\", \"config\": \"%s\", \"threads\": %d, \"steps\": %d, \"warmup\": %d, "
               "\"batch\": %d, \"parameters\": %zu,\n  \"blis_kernels\": \"%s\", \"own_loops\": \"%s\", "
               "\"target_fraction\": %.2f,\n",
            r->model, r->config, r->threads, r->steps, WARMUP, BATCH, r->params, r->blis.kernels, r->own_loops,
            TARGET_FRACTION);
    json_phase(f, "train", &r->train);
    json_phase(f, "infer", &r->infer);
    fprintf(f, "  \"zero_ms\": %.4f, \"update_ms\": %.4f,\n  \"layers\": [\n", r->prof.zero_ms, r->prof.update_ms);
    for (int i = 0; i < st_model_layer_count(b->m); i++) {
        const st_layer_t *L = st_model_layer(b->m, i);
        const layer_figures_t *l = &r->prof.layer[i];
        fprintf(f, "   {\"name\": \"%s\", \"type\": \"%s\", \"fwd_ms\": %.4f, \"bwd_ms\": %.4f, \"gemm_fwd_ms\": %.4f, "
                   "\"gemm_bwd_ms\": %.4f, \"gemm_calls\": %d, \"eval_ms\": %.4f, \"gemm_eval_ms\": %.4f}%s\n",
                L->name, L->kind->type, l->fwd_ms, l->bwd_ms, l->gemm_fwd_ms, l->gemm_bwd_ms, l->gemm_calls, l->eval_ms,
                l->gemm_eval_ms,
                i + 1 < st_model_layer_count(b->m) ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
}

static void print_report(bench_model_t *b, const result_t *r) {
    printf("model %s (%s): %zu parameters, input [%d, %d], %d classes, batch %d\n", r->model, r->config, r->params,
           SEQ_T, SEQ_C, CLASSES, BATCH);
    printf("threads %d; GEMMs: BLIS %s kernels (%s); own loops: OpenMP, ST_CLONES kernels as %s; median of %d "
           "steps after %d warm-up\n", r->threads, r->blis.kernels, r->blis.how, r->own_loops, r->steps, WARMUP);
    printf("%-26s %9s %10s %10s %10s %5s %7s %10s\n", "", "ms", "samples/s", "GEMM ms", "ceiling/s", "GEMMs",
           "GFLOP", "%ceiling");
    print_phase("training step", &r->train);
    print_phase("inference forward (eval)", &r->infer);
    printf("(GEMM ms: the same GEMMs alone, contiguous buffers, same threads; target >= %.0f%% of the ceiling)\n",
           100 * TARGET_FRACTION);
    print_profile(b, r);
}

/* --train-only: training steps and nothing else (no ceiling, profile or JSON), for perf record. */
static int train_only(bench_model_t *b, result_t *r) {
    double ms = 1e3 * time_median(train_step, b, r->steps);
    printf("model %s, threads %d: training step %.2f ms (%.0f samples/s), median of %d steps\n", r->model, r->threads,
           ms, BATCH * 1e3 / ms, r->steps);
    model_close(b);
    return 0;
}

int main(int argc, char **argv) {
    int only_train = argc > 2 && strcmp(argv[argc - 1], "--train-only") == 0;
    argc -= only_train;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_seq MODEL (A, B, C or a config path) [threads] [steps] [json | --train-only]\n");
        return 2;
    }
    result_t r = {.model = argv[1], .own_loops = own_loop_isa()};
    st_blis_select(&r.blis);
    r.threads = argc > 2 ? atoi(argv[2]) : st_threads_default(1);
    r.steps = argc > 3 ? atoi(argv[3]) : 20;
    if (r.threads < 1 || r.steps < 1) die("arguments", "threads and steps must be >= 1");
    st_threads_set(r.threads);
    bench_model_t b;
    model_open(&b, argv[1]);
    r.config = b.config, r.params = st_model_param_floats(b.m);
    if (only_train) return train_only(&b, &r);
    r.train = measure_phase(train_step, &b, r.steps);
    r.infer = measure_phase(infer, &b, r.steps);
    r.prof = profile_layers(&b, r.steps);
    print_report(&b, &r);

    char path[256];
    if (argc > 4) snprintf(path, sizeof path, "%s", argv[4]);
    else snprintf(path, sizeof path, "build/bench/bench_seq_%s_%d.json", r.model, r.threads);
    for (char *c = path + strlen("build/bench/"); argc <= 4 && *c; c++) *c = *c == '/' ? '_' : *c;
    write_json(path, &b, &r);
    free(r.prof.layer);
    model_close(&b);
    return 0;
}
