/* se.c — squeeze_excite: a sequence [T, C] -> [T, C] scaled per channel by a gate computed from
 * the sample's time average (Hu et al.'s squeeze-and-excitation, PyTorch reference
 * x * sigmoid(fc2(relu(fc1(x.mean(time)))))), hidden = max(1, C / reduction).
 *
 * Forward: s [B, C] = mean over t (t ascending) → h [B, H] = relu(s·W1ᵀ + b1) → gate [B, C] =
 * sigmoid(h·W2ᵀ + b2) → out = x·gate; s, h, gate stay in the layer's scratch for the backward:
 *   dgate[c] = Σ_t dout[t, c]·x[t, c]      dz = dgate·gate·(1 − gate)
 *   dW2 += dzᵀ·h, db2 += Σ_b dz            dh = (dz·W2)·[h > 0]
 *   dW1 += dhᵀ·s, db1 += Σ_b dh            ds = dh·W1
 *   din[t, c] = dout[t, c]·gate[c] + ds[c] / T.
 * The four products are BLIS sgemms over the batch; time sums run in order, threads split
 * samples, so results do not depend on the thread count. With variable lengths (len, or NULL)
 * the average runs over a row's first len[b] positions (T above becomes len[b]). */
#include "se.h"

#include "gemm.h"
#include <limits.h>
#include <math.h>

#include "bias.h"
#include "layer.h"

/* y [M, N] = x [M, K] · W [N, K]ᵀ + b [N]. */
static void linear(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    float one = 1.0f;
    for (long m = 0; m < M; m++)
        for (int n = 0; n < N; n++) y[(size_t)m * N + n] = b[n];
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, M, N, K, &one, (float *)x, K, 1, (float *)W, K, 1, &one, y, N, 1);
}

/* Valid positions of row b: len[b] clamped to 0 .. T (T without lengths). */
static inline int valid_of(const int32_t *len, int b, int T) {
    return !len ? T : len[b] < 0 ? 0 : len[b] > T ? T : len[b];
}

void st_se_forward(float *out, float *s, float *h, float *gate, const float *in, const int32_t *len,
                   const st_se_params_t *p, int B, int T, int C, int H) {
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const int n = valid_of(len, b, T);
        const float inv_n = n > 0 ? 1.0f / (float)n : 0.0f;
        const float *x = in + (size_t)b * T * C;
        float *sb = s + (size_t)b * C;
        for (int c = 0; c < C; c++) sb[c] = 0.0f;
        for (int t = 0; t < n; t++)
            for (int c = 0; c < C; c++) sb[c] += x[(size_t)t * C + c];
        for (int c = 0; c < C; c++) sb[c] *= inv_n;
    }
    linear(h, s, p->W1, p->b1, B, C, H);
    for (size_t i = 0; i < (size_t)B * H; i++) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
    linear(gate, h, p->W2, p->b2, B, H, C);
    for (size_t i = 0; i < (size_t)B * C; i++) gate[i] = 1.0f / (1.0f + expf(-gate[i]));
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *x = in + ((size_t)b * T + t) * C, *g = gate + (size_t)b * C;
            float *o = out + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) o[c] = x[c] * g[c];
        }
}

void st_se_backward(float *din, const st_se_grads_t *g, float *work, const float *dout, const float *in,
                    const int32_t *len, const float *s, const float *h, const float *gate, const st_se_params_t *p,
                    int B, int T, int C, int H) {
    float *dz = work, *ds = work + (size_t)B * C, *dh = work + (size_t)2 * B * C; /* [B,C] [B,C] [B,H] */
    float one = 1.0f, zero = 0.0f;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *d = dz + (size_t)b * C;
        const float *gb = gate + (size_t)b * C;
        for (int c = 0; c < C; c++) d[c] = 0.0f;
        for (int t = 0; t < T; t++) {
            const float *x = in + ((size_t)b * T + t) * C, *go = dout + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) d[c] += go[c] * x[c];
        }
        for (int c = 0; c < C; c++) d[c] *= gb[c] * (1.0f - gb[c]);
    }
    st_bias_grad_add(g->db2, dz, B, C);
    /* dW2 [C, H] += dzᵀ [C, B] · h [B, H];  dh [B, H] = dz [B, C] · W2 [C, H] */
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, C, H, B, &one, dz, C, 1, (float *)h, H, 1, &one, g->dW2, H, 1);
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, B, H, C, &one, dz, C, 1, (float *)p->W2, H, 1, &zero, dh, H, 1);
    for (size_t i = 0; i < (size_t)B * H; i++)
        if (!(h[i] > 0.0f)) dh[i] = 0.0f;
    st_bias_grad_add(g->db1, dh, B, H);
    /* dW1 [H, C] += dhᵀ [H, B] · s [B, C] */
    st_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, H, C, B, &one, dh, H, 1, (float *)s, C, 1, &one, g->dW1, C, 1);
    if (!din) return;
    /* ds [B, C] = dh [B, H] · W1 [H, C] */
    st_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, B, C, H, &one, dh, H, 1, (float *)p->W1, C, 1, &zero, ds, C, 1);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const int n = valid_of(len, b, T);
            const float inv_T = t < n ? 1.0f / (float)n : 0.0f;
            const float *go = dout + ((size_t)b * T + t) * C, *gb = gate + (size_t)b * C, *sb = ds + (size_t)b * C;
            float *dx = din + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) dx[c] = go[c] * gb[c] + sb[c] * inv_T;
        }
}

/* ---- layer kind ---- */

enum { K_REDUCTION, N_KEYS };
static const st_key_t se_keys[N_KEYS] = {
    [K_REDUCTION] = {"reduction", ST_K_INT, "16", 1, 1e15, NULL,
                     "channel reduction r of the gate's bottleneck: hidden = max(1, C / r)"},
};

enum { P_W1, P_B1, P_W2, P_B2 };

static int hidden_of(const st_layer_t *L) {
    long H = L->in_shape.d[1] / L->opt[K_REDUCTION].i;
    return H < 1 ? 1 : (int)H;
}

static st_status_t se_setup(st_layer_t *L, st_error_t *err) {
    char got[48];
    if (L->in_shape.rank != 2) {
        st_shape_str(L->in_shape, got, sizeof got);
        return st_fail(err, ST_ERR_SHAPE, "%s: squeeze_excite needs a sequence input [T, C], got %s", L->path, got);
    }
    const int T = L->in_shape.d[0], C = L->in_shape.d[1], H = hidden_of(L);
    if ((double)T * C > INT_MAX)
        return st_fail(err, ST_ERR_SHAPE, "%s: squeeze_excite of %d x %d elements is too large", L->path, T, C);
    L->out_shape = L->in_shape;
    st_layer_add_param(L, "fc1.weight", (size_t)H * C, 1);
    st_layer_add_param(L, "fc1.bias", (size_t)H, 0);
    st_layer_add_param(L, "fc2.weight", (size_t)C * H, 1);
    st_layer_add_param(L, "fc2.bias", (size_t)C, 0);
    /* saved: s [C], h [H], gate [C]; backward work: dz [C], ds [C], dh [H] */
    L->scratch_per_sample = 4L * C + 2L * H;
    return ST_OK;
}

/* nn.Linear's defaults: weight and bias U(±1/sqrt(fan_in)). */
static void se_init(st_layer_t *L, uint64_t seed) {
    const int C = L->in_shape.d[1], H = hidden_of(L);
    st_init_uniform(L, P_W1, 1.0f / sqrtf((float)C), seed);
    st_init_uniform(L, P_B1, 1.0f / sqrtf((float)C), seed);
    st_init_uniform(L, P_W2, 1.0f / sqrtf((float)H), seed);
    st_init_uniform(L, P_B2, 1.0f / sqrtf((float)H), seed);
}

static st_se_params_t params_of(const st_layer_t *L) {
    return (st_se_params_t){L->params[P_W1].data, L->params[P_B1].data, L->params[P_W2].data, L->params[P_B2].data};
}

static void se_layer_forward(st_layer_t *L, const st_run_ctx_t *ctx, float *out, const float *in, int B) {
    const int T = L->in_shape.d[0], C = L->in_shape.d[1], H = hidden_of(L);
    st_se_params_t p = params_of(L);
    float *s = L->scratch, *h = s + (size_t)B * C, *gate = h + (size_t)B * H;
    st_se_forward(out, s, h, gate, in, ctx->len_in, &p, B, T, C, H);
}

static void se_layer_backward(st_layer_t *L, const st_run_ctx_t *ctx, float *din, const float *dout,
                              const float *in, const float *out, int B) {
    (void)out;
    const int T = L->in_shape.d[0], C = L->in_shape.d[1], H = hidden_of(L);
    st_se_params_t p = params_of(L);
    st_se_grads_t g = {L->params[P_W1].grad, L->params[P_B1].grad, L->params[P_W2].grad, L->params[P_B2].grad};
    float *s = L->scratch, *h = s + (size_t)B * C, *gate = h + (size_t)B * H, *work = gate + (size_t)B * C;
    st_se_backward(din, &g, work, dout, in, ctx->len_in, s, h, gate, &p, B, T, C, H);
}

/* [T, C], hidden H: forward 2TC (mean, scale) + 4CH (fc1, fc2) + 6C + 2H (biases, mean's
 * division, relu, sigmoid 4); din 2TC (gate·dy, the mean's spread) + 2CH (fc1's input
 * gradient); the rest 2TC (Σ_t dy·x) + 6CH (fc2's input gradient, both weight gradients) + 4C + 2H. */
static void se_flops(const st_layer_t *L, st_layer_flops_t *f) {
    double T = L->in_max.d[0], C = L->in_max.d[1], H = hidden_of(L);
    f->forward = 2 * T * C + 4 * C * H + 6 * C + 2 * H;
    f->backward_input = 2 * T * C + 2 * C * H;
    f->backward_rest = 2 * T * C + 6 * C * H + 4 * C + 2 * H;
}

const st_layer_kind_t st_kind_squeeze_excite = {
    .type = "squeeze_excite",
    .help = "squeeze-and-excitation on [T, C]: x * sigmoid(fc2(relu(fc1(mean over T of x)))), hidden = max(1, C / reduction)",
    .keys = se_keys, .n_keys = N_KEYS, .setup = se_setup, .init = se_init,
    .forward = se_layer_forward, .backward = se_layer_backward,
    .flops = se_flops,
};
