/* activations.c — the parameter-free elementwise layers: relu, leaky_relu, gelu, sigmoid, tanh,
 * hardswish. Each has a plain forward/backward pair over n floats (parallel over elements with
 * OpenMP) and a vtable. The functions are PyTorch's, including the gradients at kinks; where
 * PyTorch's float32 formulas cancel, equal forms that do not are used (see activations.h). */
#include "activations.h"

#include <math.h>
#include <string.h>

#include "layer.h"
#include "simd.h"

/* for (i < n) body, split over threads */
#define ELEMENTWISE(n, ...)                             \
    do {                                                \
        _Pragma("omp parallel for schedule(static)")    \
        for (long i = 0; i < (n); i++) { __VA_ARGS__; } \
    } while (0)

#define SQRT1_2 0.70710678118654752440f        /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794f   /* 1/sqrt(2π) */
#define SQRT_2_OVER_PI 0.79788456080286535588f /* sqrt(2/π) */
#define GELU_KAPPA 0.044715f

ST_CLONES static void relu_forward_span(float *restrict out, const float *restrict in, long n) {
    for (long i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void st_relu_forward(float *restrict out, const float *restrict in, long n) {
    ST_PARALLEL_SPANS(n, relu_forward_span(out + i0, in + i0, i1 - i0));
}

ST_CLONES static void relu_backward_span(float *restrict din, const float *restrict dout, const float *restrict in, long n) {
    for (long i = 0; i < n; i++) {
        float d = dout[i]; /* unconditional load: vectorises */
        din[i] = in[i] > 0.0f ? d : 0.0f;
    }
}

void st_relu_backward(float *restrict din, const float *restrict dout, const float *restrict in, long n) {
    ST_PARALLEL_SPANS(n, relu_backward_span(din + i0, dout + i0, in + i0, i1 - i0));
}

void st_leaky_relu_forward(float *restrict out, const float *restrict in, float negative_slope, long n) {
    ELEMENTWISE(n, out[i] = in[i] > 0.0f ? in[i] : in[i] * negative_slope);
}

void st_leaky_relu_backward(float *restrict din, const float *restrict dout, const float *restrict in, float negative_slope, long n) {
    ELEMENTWISE(n, din[i] = in[i] > 0.0f ? dout[i] : dout[i] * negative_slope);
}

/* σ(z) and σ(-z) from e = exp(-|z|) <= 1: no overflow, and neither 1 - σ nor 1 + tanh is ever
 * formed, so both keep their relative accuracy in the tails. */
static inline void sigmoid_pair(float z, float *s, float *s_neg) {
    float e = expf(-fabsf(z)), inv = 1.0f / (1.0f + e);
    *s = z >= 0 ? inv : e * inv;
    *s_neg = z >= 0 ? e * inv : inv;
}

/* Φ(x) = erfc(-x/√2)/2: unlike (1 + erf(x/√2))/2 it does not cancel for x << 0 (where PyTorch's
 * float32 gelu is off by up to ~2.5e-7 absolute). */
static inline float normal_cdf(float x) { return 0.5f * erfcf(-x * SQRT1_2); }

static inline float gelu_erf(float x) { return x * normal_cdf(x); }

static inline float gelu_erf_grad(float x) { return normal_cdf(x) + x * INV_SQRT_2PI * expf(-0.5f * x * x); }

/* The tanh form 0.5·x·(1 + tanh(u)), u = sqrt(2/π)(x + κx³), computed as x·σ(2u). */
static inline float gelu_tanh(float x) {
    float s, s_neg;
    sigmoid_pair(2.0f * SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x), &s, &s_neg);
    return x * s;
}

/* d/dx x·σ(2u) = σ(2u) + 2x·σ(2u)·σ(-2u)·u' */
static inline float gelu_tanh_grad(float x) {
    float s, s_neg;
    sigmoid_pair(2.0f * SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x), &s, &s_neg);
    return s + 2.0f * x * s * s_neg * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_KAPPA * x * x);
}

void st_gelu_forward(float *restrict out, const float *restrict in, int tanh_approx, long n) {
    if (tanh_approx) ELEMENTWISE(n, out[i] = gelu_tanh(in[i]));
    else ELEMENTWISE(n, out[i] = gelu_erf(in[i]));
}

void st_gelu_backward(float *restrict din, const float *restrict dout, const float *restrict in, int tanh_approx, long n) {
    if (tanh_approx) ELEMENTWISE(n, din[i] = dout[i] * gelu_tanh_grad(in[i]));
    else ELEMENTWISE(n, din[i] = dout[i] * gelu_erf_grad(in[i]));
}

void st_sigmoid_forward(float *restrict out, const float *restrict in, long n) {
    ELEMENTWISE(n, out[i] = 1.0f / (1.0f + expf(-in[i])));
}

/* σ'(x) = σ(x)·σ(-x), both from the input: 1 - y would cancel for x >> 0. */
static inline float sigmoid_grad(float x) {
    float s, s_neg;
    sigmoid_pair(x, &s, &s_neg);
    return s * s_neg;
}

void st_sigmoid_backward(float *restrict din, const float *restrict dout, const float *restrict in, long n) {
    ELEMENTWISE(n, din[i] = dout[i] * sigmoid_grad(in[i]));
}

void st_tanh_forward(float *restrict out, const float *restrict in, long n) {
    ELEMENTWISE(n, out[i] = tanhf(in[i]));
}

/* tanh'(x) = 1 - tanh² = 4e/(1+e)² with e = exp(-2|x|): no cancellation for |x| >> 0. */
static inline float tanh_grad(float x) {
    float e = expf(-2.0f * fabsf(x)), d = 1.0f + e;
    return 4.0f * e / (d * d);
}

void st_tanh_backward(float *restrict din, const float *restrict dout, const float *restrict in, long n) {
    ELEMENTWISE(n, din[i] = dout[i] * tanh_grad(in[i]));
}

void st_hardswish_forward(float *restrict out, const float *restrict in, long n) {
    ELEMENTWISE(n, out[i] = in[i] * fminf(fmaxf(in[i] + 3.0f, 0.0f), 6.0f) / 6.0f);
}

/* PyTorch: 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3, 1 for x > 3. */
void st_hardswish_backward(float *restrict din, const float *restrict dout, const float *restrict in, long n) {
    ELEMENTWISE(n, din[i] = in[i] < -3.0f ? 0.0f : in[i] <= 3.0f ? dout[i] * (in[i] / 3.0f + 0.5f) : dout[i]);
}

/* ---- layer kinds ---- */

enum { K_SLOPE, N_LEAKY_KEYS };
static const st_key_t leaky_relu_keys[N_LEAKY_KEYS] = {
    [K_SLOPE] = {"negative_slope", ST_K_NUM, "0.01", 0, 1, NULL, "slope for negative inputs"},
};

enum { K_APPROXIMATE, N_GELU_KEYS };
static const st_key_t gelu_keys[N_GELU_KEYS] = {
    [K_APPROXIMATE] = {"approximate", ST_K_ENUM, "\"none\"", 0, 0, "none|tanh",
                       "none = exact x*Phi(x) with erf (PyTorch's default); tanh = the tanh approximation"},
};

static st_status_t same_shape_setup(st_layer_t *L, st_error_t *err) {
    (void)err;
    L->out_shape = L->in_shape;
    return ST_OK;
}

static long count_of(const st_layer_t *L, int B) { return (long)B * st_shape_numel(L->in_shape); }
static float slope_of(const st_layer_t *L) { return (float)L->opt[K_SLOPE].num; }
static int tanh_approx_of(const st_layer_t *L) { return strcmp(L->opt[K_APPROXIMATE].s, "tanh") == 0; }

/* The vtable entries of kind NAME; each body calls the plain function on the whole batch. */
#define UNUSED __attribute__((unused))
#define FORWARD(NAME)                                                                                 \
    static void NAME##_layer_forward(st_layer_t *L, UNUSED const st_run_ctx_t *ctx, float *out,      \
                                     const float *in, int B)
#define BACKWARD(NAME)                                                                                \
    static void NAME##_layer_backward(st_layer_t *L, UNUSED const st_run_ctx_t *ctx, float *din,     \
                                      const float *dout, const float *in,                             \
                                      UNUSED const float *out, int B)
/* FWD and DIN: FLOPs per element of the forward and of din (layer.h, st_layer_flops_t): relu 1
 * (a comparison) and 1; leaky_relu 2 and 2; gelu 8 (erf or tanh, and the products) and 12; sigmoid 4
 * (negate, exp, add, divide) and 3 (dy·s·(1 − s)); tanh 1 and 3 (dy·(1 − t²)); hardswish 5 (add,
 * two clamps, multiply, divide) and 4. */
#define KIND(NAME, HELP, KEYS, N_KEYS, FWD, DIN)                                                      \
    static void NAME##_flops(const st_layer_t *L, st_layer_flops_t *f) {                              \
        double n = (double)st_shape_numel(L->in_max);                                                 \
        *f = (st_layer_flops_t){FWD * n, DIN * n, 0};                                                 \
    }                                                                                                 \
    const st_layer_kind_t st_kind_##NAME = {.type = #NAME, .help = HELP, .keys = KEYS, .n_keys = N_KEYS,     \
                                            .setup = same_shape_setup, .forward = NAME##_layer_forward,   \
                                            .backward = NAME##_layer_backward, .flops = NAME##_flops}

FORWARD(relu) { st_relu_forward(out, in, count_of(L, B)); }
BACKWARD(relu) { if (din) st_relu_backward(din, dout, in, count_of(L, B)); }
KIND(relu, "max(x, 0) elementwise", NULL, 0, 1, 1);

FORWARD(leaky_relu) { st_leaky_relu_forward(out, in, slope_of(L), count_of(L, B)); }
BACKWARD(leaky_relu) { if (din) st_leaky_relu_backward(din, dout, in, slope_of(L), count_of(L, B)); }
KIND(leaky_relu, "x for x > 0, negative_slope*x otherwise, elementwise", leaky_relu_keys, N_LEAKY_KEYS, 2, 2);

FORWARD(gelu) { st_gelu_forward(out, in, tanh_approx_of(L), count_of(L, B)); }
BACKWARD(gelu) { if (din) st_gelu_backward(din, dout, in, tanh_approx_of(L), count_of(L, B)); }
KIND(gelu, "Gaussian error linear unit x*Phi(x) elementwise (erf form or tanh approximation)", gelu_keys, N_GELU_KEYS, 8, 12);

FORWARD(sigmoid) { st_sigmoid_forward(out, in, count_of(L, B)); }
BACKWARD(sigmoid) { if (din) st_sigmoid_backward(din, dout, in, count_of(L, B)); }
KIND(sigmoid, "logistic function 1/(1+exp(-x)) elementwise", NULL, 0, 4, 3);

FORWARD(tanh) { st_tanh_forward(out, in, count_of(L, B)); }
BACKWARD(tanh) { if (din) st_tanh_backward(din, dout, in, count_of(L, B)); }
KIND(tanh, "hyperbolic tangent elementwise", NULL, 0, 1, 3);

FORWARD(hardswish) { st_hardswish_forward(out, in, count_of(L, B)); }
BACKWARD(hardswish) { if (din) st_hardswish_backward(din, dout, in, count_of(L, B)); }
KIND(hardswish, "x*relu6(x+3)/6 elementwise (PyTorch's Hardswish)", NULL, 0, 5, 4);
