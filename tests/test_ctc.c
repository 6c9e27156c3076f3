/* test_ctc.c — the CTC loss against PyTorch (values and logits gradients, infinite losses both
 * ways, mixed lengths), finite differences, thread-count independence, input checks; greedy and
 * prefix beam search decoding (hand-made cases and an exhaustive search); edit distance, WER / CER,
 * token accuracy and exact match on known tables. */
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "ctc.h"
#include "ctc_decode.h"
#include "edit_distance.h"
#include "loss.h"

#define FIX "ctc.h5"

/* ---- CTC loss vs PyTorch (tests/fixtures/gen_ctc.py) ---- */

typedef struct {
    float *logits, *dlogits_ref;
    int32_t *input_len, *targets, *target_len, *nan_grad;
    double *loss_ref, mean_ref, sum_ref;
    size_t n_logits;
    int B, T, K, L_max, blank, zero_infinity;
} fx_ctc_t;

static void *read_any(const char *cas, const char *what, size_t *n, int kind) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, what);
    return kind == 0 ? (void *)tu_read_f32(FIX, path, n)
         : kind == 1 ? (void *)tu_read_i32(FIX, path, n) : (void *)tu_read_f64(FIX, path, n);
}

static double read_scalar(const char *cas, const char *what) {
    size_t n;
    double *v = read_any(cas, what, &n, 2), x = v[0];
    assert_int_equal(n, 1);
    free(v);
    return x;
}

static fx_ctc_t load_ctc(const char *cas) {
    fx_ctc_t c = {0};
    size_t n_logits, B, n_tgt, n_ref;
    c.logits = read_any(cas, "logits", &n_logits, 0);
    c.dlogits_ref = read_any(cas, "dlogits", &n_ref, 0);
    assert_int_equal(n_ref, n_logits);
    c.input_len = read_any(cas, "input_len", &B, 1);
    c.targets = read_any(cas, "targets", &n_tgt, 1);
    c.target_len = read_any(cas, "target_len", NULL, 1);
    c.nan_grad = read_any(cas, "nan_grad", NULL, 1);
    c.loss_ref = read_any(cas, "loss", NULL, 2);
    c.mean_ref = read_scalar(cas, "mean");
    c.sum_ref = read_scalar(cas, "sum");
    c.B = (int)B, c.L_max = (int)(n_tgt / B);
    c.blank = (int)tu_read_attr(FIX, cas, "blank");
    c.zero_infinity = (int)tu_read_attr(FIX, cas, "zero_infinity");
    c.n_logits = n_logits;
    return c;
}

static void free_ctc(fx_ctc_t *c) {
    free(c->logits), free(c->dlogits_ref), free(c->input_len), free(c->targets);
    free(c->target_len), free(c->nan_grad), free(c->loss_ref);
}

/* Losses agree with PyTorch's float64 run to 1e-9 relative (both float64 inside; PyTorch's own
 * float32 run was checked against it to 1e-4 by the generator); infinite losses must be infinite
 * here too. Gradients: float32 roundings, atol 1e-6 + rtol 1e-5. */
static void check_vs_torch(const char *cas, int T, int K) {
    fx_ctc_t c = load_ctc(cas);
    c.T = T, c.K = K;
    assert_int_equal(c.n_logits, (size_t)c.B * T * K);
    st_error_t err = {0};
    assert_int_equal(st_ctc_check(c.input_len, c.targets, c.target_len, c.B, T, K, c.L_max, c.blank, &err), ST_OK);
    double *loss = malloc(sizeof(double) * (size_t)c.B);
    float *g = malloc(sizeof(float) * (size_t)c.B * T * K);
    memset(g, 0x7f, sizeof(float) * (size_t)c.B * T * K);   /* garbage: every entry must be written */
    assert_int_equal(st_ctc_loss_forward(loss, g, c.logits, c.input_len, c.targets, c.target_len, c.B, T, K,
                                         c.L_max, c.blank, c.zero_infinity, &err), ST_OK);
    for (int i = 0; i < c.B; i++) {
        print_message("# %s row %d: loss %.12g (torch %.12g)%s\n", cas, i, loss[i], c.loss_ref[i],
                      c.nan_grad[i] ? " (torch grad NaN)" : "");
        if (isinf(c.loss_ref[i])) {
            assert_true(isinf(loss[i]) && loss[i] > 0);
        } else {
            assert_true(fabs(loss[i] - c.loss_ref[i]) <= 1e-9 * fabs(c.loss_ref[i]) + 1e-12);
        }
        for (long j = 0; j < (long)T * K; j++) {
            float v = g[(long)i * T * K + j];
            assert_true(isfinite(v));
            if (c.nan_grad[i] || isinf(loss[i]) || (j / K) >= c.input_len[i]) assert_true(v == 0.0f);
        }
    }
    tu_assert_close("dlogits", g, c.dlogits_ref, (size_t)c.B * T * K, 1e-6, 1e-5);
    double mean = st_ctc_reduce_mean(loss, c.target_len, c.B), sum = st_ctc_reduce_sum(loss, c.B);
    print_message("# %s: mean %.12g (torch %.12g), sum %.12g (torch %.12g)\n", cas, mean, c.mean_ref, sum, c.sum_ref);
    if (isinf(c.mean_ref)) {
        assert_true(isinf(mean) && isinf(sum));
    } else {
        assert_true(fabs(mean - c.mean_ref) <= 1e-9 * fabs(c.mean_ref));
        assert_true(fabs(sum - c.sum_ref) <= 1e-9 * fabs(c.sum_ref));
    }
    free(loss), free(g);
    free_ctc(&c);
}

static void test_mixed_lengths_repeats_empty_target(void **s) { (void)s; check_vs_torch("mixed", 20, 12); }
static void test_too_short_infinite(void **s) { (void)s; check_vs_torch("short_inf", 8, 7); }
static void test_too_short_zero_infinity(void **s) { (void)s; check_vs_torch("short_zero", 8, 7); }
static void test_blank_in_the_middle(void **s) { (void)s; check_vs_torch("blank_mid", 10, 5); }

/* ---- the ctc loss kind (loss.h) on the "mixed" fixture ---- */

static st_loss_config_t parse_ctc(const char *json, int V) {
    cJSON *obj = cJSON_Parse(json);
    st_loss_config_t cfg;
    st_error_t err = {0};
    assert_int_equal(st_loss_parse(obj, "loss", V, &cfg, &err), ST_OK);
    cJSON_Delete(obj);
    return cfg;
}

/* Target rows [len, labels] as the loader gives them. */
static float *target_rows(const fx_ctc_t *c) {
    float *t = calloc((size_t)c->B * (size_t)(c->L_max + 1), sizeof *t);
    for (int i = 0; i < c->B; i++) {
        t[i * (c->L_max + 1)] = (float)c->target_len[i];
        for (int j = 0; j < c->target_len[i]; j++) t[i * (c->L_max + 1) + 1 + j] = (float)c->targets[i * c->L_max + j];
    }
    return t;
}

/* reduction "mean": Σ row values / weight B is PyTorch's mean, and grad_scale = head_weight / B
 * gives its gradient (row i: its reduction='none' gradient / (B·max(L_i, 1))); "sum": the value
 * is PyTorch's sum, the gradient scale is not divided by the weight. */
static void test_loss_kind_vs_torch(void **s) {
    (void)s;
    enum { T = 20, V = 12 };
    fx_ctc_t c = load_ctc("mixed");
    float *tg = target_rows(&c), *g = malloc(sizeof(float) * c.n_logits);
    st_loss_config_t cfg = parse_ctc("{\"type\": \"ctc\"}", V);
    assert_int_equal(cfg.type, ST_LOSS_CTC);
    assert_int_equal(cfg.zero_infinity, 1);
    assert_int_equal(cfg.beam_width, 1);
    assert_int_equal(cfg.ctc_sum, 0);
    cfg.seq_max_len = c.L_max;
    assert_int_equal(st_loss_target_width(&cfg), c.L_max + 1);
    assert_float_equal(st_loss_weight_total_of(&cfg, NULL, tg, c.B), c.B, 0);
    float scale = st_loss_grad_scale(&cfg, c.B);
    st_loss_value_t v;
    st_error_t err = {0};
    assert_int_equal(st_loss_eval_ctc(&v, g, &cfg, c.logits, c.input_len, T, tg, scale, c.B, &err), ST_OK);
    assert_float_equal(v.weight, c.B, 0);
    assert_true(fabs(v.sum / v.weight - c.mean_ref) <= 1e-9 * fabs(c.mean_ref));
    for (int i = 0; i < c.B; i++) {
        float f = scale / (float)(c.target_len[i] > 1 ? c.target_len[i] : 1);
        for (int k = 0; k < T * V; k++) c.dlogits_ref[(size_t)i * T * V + k] *= f;
    }
    tu_assert_close("mean dlogits", g, c.dlogits_ref, c.n_logits, 1e-7, 1e-5);
    st_loss_config_t sum = parse_ctc("{\"type\": \"ctc\", \"reduction\": \"sum\", \"head_weight\": 2}", V);
    sum.seq_max_len = c.L_max;
    assert_float_equal(st_loss_grad_scale(&sum, c.B), 2.0, 0);
    assert_int_equal(st_loss_eval_ctc(&v, NULL, &sum, c.logits, c.input_len, T, tg, 2.0f, c.B, &err), ST_OK);
    assert_true(fabs(v.sum - c.sum_ref) <= 1e-9 * fabs(c.sum_ref));
    /* a bad row is named: a label past the vocabulary */
    tg[3 * (c.L_max + 1) + 2] = V;
    assert_int_equal(st_loss_eval_ctc(&v, NULL, &cfg, c.logits, c.input_len, T, tg, 1.0f, c.B, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "row 3, target position 1: label 12 is outside [0, K)");
    free(tg), free(g);
    free_ctc(&c);
    st_loss_config_free(&cfg), st_loss_config_free(&sum);
}

/* The output a ctc loss takes: [T, V]; pooled rows and another width are named. */
static void test_loss_kind_output(void **s) {
    (void)s;
    st_loss_config_t cfg = parse_ctc("{\"type\": \"ctc\", \"beam_width\": 8, \"zero_infinity\": false}", 6);
    assert_int_equal(cfg.beam_width, 8);
    assert_int_equal(cfg.zero_infinity, 0);
    st_error_t err = {0};
    assert_int_equal(st_loss_check_output(&cfg, st_shape2(40, 6), "model.layers[5]", &err), ST_OK);
    assert_int_equal(st_loss_check_output(&cfg, st_shape1(6), "model.layers[5]", &err), ST_ERR_SHAPE);
    tu_assert_contains(err.msg, "model.layers[5]: gives [6] per sample, but loss \"ctc\" needs a row per position [T, 6]");
    assert_int_equal(st_loss_check_output(&cfg, st_shape2(40, 5), "model.layers[5]", &err), ST_ERR_SHAPE);
    tu_assert_contains(err.msg, "needs [T, 6], one logit per token of the vocabulary and the blank");
    cJSON *obj = cJSON_Parse("{\"type\": \"ctc\", \"reduction\": \"avg\"}");
    st_loss_config_t bad;
    assert_int_equal(st_loss_parse(obj, "loss", 6, &bad, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "loss.reduction");
    cJSON_Delete(obj);
    st_loss_config_free(&cfg);
}

/* ---- finite differences, threads, checks ---- */

typedef struct {
    float *x;
    const int32_t *il, *tg, *tl;
    int B, T, K, L;
} fd_ctx_t;

static double fd_loss(void *p) {
    fd_ctx_t *c = p;
    double loss[4];
    assert_int_equal(st_ctc_loss_forward(loss, NULL, c->x, c->il, c->tg, c->tl, c->B, c->T, c->K, c->L, 0, 0, NULL), ST_OK);
    return st_ctc_reduce_sum(loss, c->B);
}

static void test_finite_differences(void **s) {
    (void)s;
    enum { B = 3, T = 6, K = 4, L = 3 };
    float x[B * T * K], g[B * T * K];
    tu_fill_normal(x, B * T * K, 11);
    const int32_t il[B] = {6, 5, 4}, tl[B] = {3, 2, 0}, tg[B * L] = {1, 1, 2, 3, 2, 0, 0, 0, 0};
    double loss[B];
    assert_int_equal(st_ctc_loss_forward(loss, g, x, il, tg, tl, B, T, K, L, 0, 0, NULL), ST_OK);
    fd_ctx_t c = {x, il, tg, tl, B, T, K, L};
    tu_check_gradient("ctc dlogits", fd_loss, &c, x, B * T * K, g, 1e-3, 2e-4, 2e-3, 0);
}

static void test_thread_count_bitwise(void **s) {
    (void)s;
    enum { B = 16, T = 50, K = 12, L = 10 };
    float *x = malloc(sizeof(float) * B * T * K), *g1 = malloc(sizeof(float) * B * T * K),
          *g2 = malloc(sizeof(float) * B * T * K);
    tu_fill_normal(x, (size_t)B * T * K, 5);
    int32_t il[B], tl[B], tg[B * L];
    for (int i = 0; i < B; i++) {
        il[i] = T - 2 * i, tl[i] = (i * 3) % (L + 1);
        for (int j = 0; j < L; j++) tg[i * L + j] = 1 + (i * 7 + j * (j % 3 ? 5 : 0)) % (K - 1);
    }
    double l1[B], l2[B];
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(st_ctc_loss_forward(l1, g1, x, il, tg, tl, B, T, K, L, 0, 1, NULL), ST_OK);
    omp_set_num_threads(2);
    assert_int_equal(st_ctc_loss_forward(l2, g2, x, il, tg, tl, B, T, K, L, 0, 1, NULL), ST_OK);
    omp_set_num_threads(saved);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(g1, g2, sizeof(float) * B * T * K);
    free(x), free(g1), free(g2);
}

static void test_check_names_the_row(void **s) {
    (void)s;
    const int32_t il[2] = {5, 6}, tl[2] = {2, 2}, tg[4] = {1, 2, 3, 0};
    st_error_t err = {0};
    assert_int_equal(st_ctc_check(il, tg, tl, 2, 6, 4, 2, 0, &err), ST_ERR_DATA);
    assert_non_null(strstr(err.msg, "row 1, target position 1"));
    assert_non_null(strstr(err.msg, "blank"));
    const int32_t il_bad[2] = {5, 7};
    assert_int_equal(st_ctc_check(il_bad, tg, tl, 2, 6, 4, 2, 3, &err), ST_ERR_DATA);
    assert_non_null(strstr(err.msg, "row 1: input length 7"));
    assert_int_equal(st_ctc_check(il, tg, tl, 2, 6, 4, 2, 4, &err), ST_ERR_CONFIG);
    const int32_t tg_ok[4] = {1, 2, 3, 1};
    assert_int_equal(st_ctc_check(il, tg_ok, tl, 2, 6, 4, 2, 0, &err), ST_OK);
}

/* ---- decoding ---- */

/* x [T, K] from per-frame probabilities p (log taken, so log_softmax gives them back). */
static void from_probs(float *x, const double *p, int n) {
    for (int i = 0; i < n; i++) x[i] = (float)log(p[i]);
}

static void test_greedy_hand_made(void **s) {
    (void)s;
    /* K = 4, blank 0. Row 0 argmax: 1 1 0 1 2 2 0 3 -> "1 1 2 3"; row 1 (length 4): 0 2 2 0 -> "2". */
    enum { B = 2, T = 8, K = 4 };
    const int best[B][T] = {{1, 1, 0, 1, 2, 2, 0, 3}, {0, 2, 2, 0, 3, 3, 3, 3}};
    float x[B * T * K];
    for (int i = 0; i < B; i++)
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K; k++) x[(i * T + t) * K + k] = k == best[i][t] ? 2.0f : (float)k * 0.1f;
    int32_t tok[B * T], len[B];
    const int32_t il[B] = {8, 4};
    st_ctc_greedy_decode(tok, len, x, il, B, T, K, 0);
    assert_int_equal(len[0], 4);
    assert_int_equal(len[1], 1);
    const int32_t want0[4] = {1, 1, 2, 3};
    assert_memory_equal(tok, want0, sizeof want0);
    assert_int_equal(tok[T], 2);
    assert_int_equal(tok[T + 1], -1);
    /* ties: all-equal frames pick class 0 = blank -> empty */
    memset(x, 0, sizeof x);
    st_ctc_greedy_decode(tok, len, x, il, B, T, K, 0);
    assert_int_equal(len[0], 0);
    /* same with blank 3: class 0 wins every frame, collapsed to one token */
    st_ctc_greedy_decode(tok, len, x, il, B, T, K, 3);
    assert_int_equal(len[0], 1);
    assert_int_equal(tok[0], 0);
}

/* T = 2, K = 2 (blank 0): each frame P(blank) = 0.6, P(a) = 0.4. Greedy decodes "" (0.36), but
 * P("a") = 0.4·0.4 + 0.4·0.6 + 0.6·0.4 = 0.64: beam search with W ≥ 2 finds it. */
static void test_beam_beats_greedy(void **s) {
    (void)s;
    const double p[4] = {0.6, 0.4, 0.6, 0.4};
    float x[4];
    from_probs(x, p, 4);
    const int32_t il[1] = {2};
    int32_t tok[2], len[1];
    double score[1];
    st_ctc_greedy_decode(tok, len, x, il, 1, 2, 2, 0);
    assert_int_equal(len[0], 0);
    assert_int_equal(st_ctc_beam_decode(tok, len, score, x, il, 1, 2, 2, 0, 2, NULL), ST_OK);
    assert_int_equal(len[0], 1);
    assert_int_equal(tok[0], 1);
    assert_true(fabs(score[0] - log(0.64)) < 1e-6);
    /* W = 1 keeps only "" (0.6) after the first frame, so "a" can then only come from it
     * (0.6·0.4 = 0.24) and loses to "" (0.36): W = 1 agrees with greedy here. */
    assert_int_equal(st_ctc_beam_decode(tok, len, score, x, il, 1, 2, 2, 0, 1, NULL), ST_OK);
    assert_int_equal(len[0], 0);
    assert_true(fabs(score[0] - log(0.36)) < 1e-6);
}

/* Peaked frames (one class well above the rest): beam search with W = 1 and W = 4 decode what
 * greedy decodes. */
static void test_beam_w1_equals_greedy_when_peaked(void **s) {
    (void)s;
    enum { B = 5, T = 30, K = 9 };
    float x[B * T * K];
    tu_fill_normal(x, B * T * K, 3);
    for (int r = 0; r < B * T; r++) x[r * K + (r * 7 / 3) % K] += 12.0f;   /* one peak per frame */
    const int32_t il[B] = {30, 25, 1, 0, 17};
    int32_t tg[B * T], lg[B], tb[B * T], lb[B];
    st_ctc_greedy_decode(tg, lg, x, il, B, T, K, 0);
    for (int W = 1; W <= 4; W += 3) {
        assert_int_equal(st_ctc_beam_decode(tb, lb, NULL, x, il, B, T, K, 0, W, NULL), ST_OK);
        assert_memory_equal(lg, lb, sizeof lg);
        assert_memory_equal(tg, tb, sizeof tg);
    }
    assert_int_equal(lg[3], 0);
}

/* Exhaustive: on small random rows, beam search with a beam wide enough to keep every prefix
 * returns the label sequence of highest total probability (summed over all of its paths, by
 * enumerating all K^T paths) and that probability. */
static void test_beam_wide_is_exact(void **s) {
    (void)s;
    enum { T = 5, K = 3, NP = 243, MAXSEQ = 64 };
    for (int seed = 0; seed < 6; seed++) {
        float x[T * K];
        tu_fill_normal(x, T * K, 100 + seed);
        for (int i = 0; i < T * K; i++) x[i] *= 1.5f;
        double lp[T * K];
        for (int t = 0; t < T; t++) {
            double z = 0;
            for (int k = 0; k < K; k++) z += exp(x[t * K + k]);
            for (int k = 0; k < K; k++) lp[t * K + k] = x[t * K + k] - log(z);
        }
        /* collapsed sequences as base-3 codes with their length; probability sums */
        int32_t seqs[MAXSEQ][T], lens[MAXSEQ];
        double prob[MAXSEQ];
        int n_seq = 0;
        for (int code = 0; code < NP; code++) {
            int path[T], c = code, n = 0, prev = -1;
            int32_t y[T];
            double lpp = 0;
            for (int t = 0; t < T; t++) path[t] = c % K, c /= K;
            for (int t = 0; t < T; t++) {
                lpp += lp[t * K + path[t]];
                if (path[t] != 0 && path[t] != prev) y[n++] = path[t];
                prev = path[t];
            }
            int f = 0;
            while (f < n_seq && !(lens[f] == n && memcmp(seqs[f], y, sizeof(int32_t) * (size_t)n) == 0)) f++;
            if (f == n_seq) {
                assert_true(n_seq < MAXSEQ);
                memcpy(seqs[f], y, sizeof(int32_t) * (size_t)n), lens[f] = n, prob[f] = 0, n_seq++;
            }
            prob[f] += exp(lpp);
        }
        int b = 0;
        for (int f = 1; f < n_seq; f++) if (prob[f] > prob[b]) b = f;
        int32_t tok[T], len[1];
        double score[1];
        const int32_t il[1] = {T};
        assert_int_equal(st_ctc_beam_decode(tok, len, score, x, il, 1, T, K, 0, 64, NULL), ST_OK);
        print_message("# seed %d: best %d tokens p %.6f, beam %d tokens p %.6f\n", seed, lens[b], prob[b],
                      len[0], exp(score[0]));
        assert_int_equal(len[0], lens[b]);
        assert_memory_equal(tok, seqs[b], sizeof(int32_t) * (size_t)lens[b]);
        assert_true(fabs(exp(score[0]) - prob[b]) < 1e-9);
    }
}

static void test_beam_rejects_zero_width(void **s) {
    (void)s;
    float x[2] = {0, 0};
    int32_t tok[1], len[1];
    const int32_t il[1] = {1};
    st_error_t err = {0};
    assert_int_equal(st_ctc_beam_decode(tok, len, NULL, x, il, 1, 1, 2, 0, 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "beam width 0"));
}

/* ---- edit distance and sequence metrics ---- */

static void test_edit_distance_table(void **s) {
    (void)s;
    static const struct {
        const char *ref, *hyp;
        int64_t dist, hits;
    } rows[] = {
        {"kitten", "sitting", 3, 4}, {"", "", 0, 0},      {"abc", "", 3, 0},
        {"", "abc", 3, 0},           {"flaw", "lawn", 2, 3}, {"abc", "abc", 0, 3},
        {"intention", "execution", 5, 5}, {"ab", "ba", 2, 1},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        int32_t a[16], b[16];
        int na = (int)strlen(rows[r].ref), nb = (int)strlen(rows[r].hyp);
        for (int i = 0; i < na; i++) a[i] = rows[r].ref[i];
        for (int i = 0; i < nb; i++) b[i] = rows[r].hyp[i];
        int64_t hits;
        assert_int_equal(st_edit_distance(&hits, a, na, b, nb), rows[r].dist);
        assert_int_equal(hits, rows[r].hits);
        assert_int_equal(st_edit_distance_utf8(NULL, NULL, rows[r].ref, rows[r].hyp), rows[r].dist);
    }
}

/* WER over words as token ids: ref "the cat sat on the mat", hyp "the cat sit on mat":
 * one substitution (sat -> sit), one deletion (the) = 2 / 6; hits 4. A second pair "a b" vs
 * "a b" is exact; one "x" vs "y z" adds 2 edits on 1 reference token. */
static void test_wer_aggregate(void **s) {
    (void)s;
    enum { THE = 1, CAT, SAT, ON, MAT, SIT, A, B, X, Y, Z };
    const int32_t r1[] = {THE, CAT, SAT, ON, THE, MAT}, h1[] = {THE, CAT, SIT, ON, MAT};
    const int32_t r2[] = {A, B}, r3[] = {X}, h3[] = {Y, Z};
    st_seqscore_t acc = {0};
    assert_int_equal(st_seqscore_add(&acc, r1, 6, h1, 5), 0);
    assert_true(fabs(st_seqscore_error_rate(&acc) - 2.0 / 6.0) < 1e-15);
    assert_true(fabs(st_seqscore_token_accuracy(&acc) - 4.0 / 6.0) < 1e-15);
    assert_true(st_seqscore_exact_match(&acc) == 0.0);
    assert_int_equal(st_seqscore_add(&acc, r2, 2, r2, 2), 0);
    assert_int_equal(st_seqscore_add(&acc, r3, 1, h3, 2), 0);
    assert_int_equal(acc.edits, 4);
    assert_int_equal(acc.ref_tokens, 9);
    assert_int_equal(acc.hits, 6);
    assert_int_equal(acc.n_seqs, 3);
    assert_int_equal(acc.n_exact, 1);
    assert_true(fabs(st_seqscore_error_rate(&acc) - 4.0 / 9.0) < 1e-15);
    assert_true(fabs(st_seqscore_exact_match(&acc) - 1.0 / 3.0) < 1e-15);
    st_seqscore_t empty = {0};
    assert_true(st_seqscore_error_rate(&empty) == 0.0);
}

/* CER over UTF-8 characters: "héllo wörld" vs "hello world" is 2 edits over 11 characters (bytes
 * would count 13 and 4 edits). */
static void test_cer_utf8(void **s) {
    (void)s;
    int64_t hits, n;
    assert_int_equal(st_edit_distance_utf8(&hits, &n, "h\xc3\xa9llo w\xc3\xb6rld", "hello world"), 2);
    assert_int_equal(n, 11);
    assert_int_equal(hits, 9);
    st_seqscore_t acc = {0};
    assert_int_equal(st_seqscore_add_chars(&acc, "h\xc3\xa9llo w\xc3\xb6rld", "hello world"), 0);
    assert_int_equal(st_seqscore_add_chars(&acc, "\xe2\x82\xac", "\xe2\x82\xac"), 0);  /* € = € */
    assert_int_equal(acc.ref_tokens, 12);
    assert_true(fabs(st_seqscore_error_rate(&acc) - 2.0 / 12.0) < 1e-15);
    assert_true(fabs(st_seqscore_exact_match(&acc) - 0.5) < 1e-15);
    /* a truncated sequence: the lone lead byte is one character, nothing read past the end */
    assert_int_equal(st_edit_distance_utf8(NULL, &n, "a\xc3", "a"), 1);
    assert_int_equal(n, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_lengths_repeats_empty_target),
        cmocka_unit_test(test_too_short_infinite),
        cmocka_unit_test(test_too_short_zero_infinity),
        cmocka_unit_test(test_blank_in_the_middle),
        cmocka_unit_test(test_loss_kind_vs_torch),
        cmocka_unit_test(test_loss_kind_output),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_thread_count_bitwise),
        cmocka_unit_test(test_check_names_the_row),
        cmocka_unit_test(test_greedy_hand_made),
        cmocka_unit_test(test_beam_beats_greedy),
        cmocka_unit_test(test_beam_w1_equals_greedy_when_peaked),
        cmocka_unit_test(test_beam_wide_is_exact),
        cmocka_unit_test(test_beam_rejects_zero_width),
        cmocka_unit_test(test_edit_distance_table),
        cmocka_unit_test(test_wer_aggregate),
        cmocka_unit_test(test_cer_utf8),
    };
    return cmocka_run_group_tests_name("ctc", tests, NULL, NULL);
}
