/* export_quant.c — float16 rounding of the parameters and the fp32-vs-reduced accuracy tally of
 * `strata export --precision fp16` (export_quant.h). The rounding is onnx_graph.c's
 * st_f32_to_f16, the one the graph's initializers get, so strata's simulated forward reads the
 * very weights the file holds. The int8 activations: MinMax calibration of each Gemm/MatMul/Conv
 * input (uint8, asymmetric) and the fake-quantisation the model's input hook applies, computed as
 * ONNX's QuantizeLinear/DequantizeLinear do so strata's simulated forward is the file's. */
#include "jobs/export_quant.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "jobs/onnx_graph.h"
#include "layer_kinds.h"
#include "layers/rnn_layer.h"

void st_quant_round_f16(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = st_f16_to_f32(st_f32_to_f16(p[i]));
}

int st_quant_i8_axis(float *w, long outer, long ch, long inner) {
    long n = outer * ch * inner;
    int8_t *q = malloc((size_t)(n ? n : 1));
    float *scale = malloc(sizeof(float) * (size_t)(ch ? ch : 1));
    int failed = !q || !scale;
    if (!failed) {
        st_i8_quantize_axis(w, outer, ch, inner, q, scale);
        for (long k = 0; k < n; k++) w[k] = (float)q[k] * scale[(k / inner) % ch];
    }
    free(q), free(scale);
    return failed;
}

int st_quant_i8_rows(float *w, long rows, long n) { return st_quant_i8_axis(w, 1, rows, rows ? n / rows : 0); }

int st_quant_weight_only(const st_layer_t *L, int p, long *outer, long *ch, long *inner) {
    long n = (long)L->params[p].n, o = 1, cols; /* [o, n / (o · cols), cols] */
    if (L->kind == &st_kind_lstm || L->kind == &st_kind_gru) {
        int role = p % ST_RNN_TENSORS;
        if (role != ST_RNN_W_IH && role != ST_RNN_W_HH) return 0; /* biases */
        cols = role == ST_RNN_W_IH ? L->in_shape.d[1] : st_layer_opt(L, "units")->i;
    } else if (L->kind == &st_kind_conv_transpose1d && p == 0) {
        o = L->in_shape.d[1], cols = st_layer_opt(L, "kernel_size")->i;
    } else if ((L->kind == &st_kind_embedding || L->kind == &st_kind_embedding_bag) && p == 0) {
        cols = st_layer_opt(L, "dim")->i;
    } else {
        return 0;
    }
    *outer = o, *ch = n / (o * cols), *inner = cols;
    return 1;
}

int st_quant_tally_init(st_quant_tally_t *t, int K) {
    t->K = K;
    t->support = calloc((size_t)K, sizeof(int64_t));
    t->ok_full = calloc((size_t)K, sizeof(int64_t));
    t->ok_low = calloc((size_t)K, sizeof(int64_t));
    if (t->support && t->ok_full && t->ok_low) return 0;
    st_quant_tally_free(t);
    return 1;
}

void st_quant_tally_free(st_quant_tally_t *t) {
    free(t->support), free(t->ok_full), free(t->ok_low);
    t->support = t->ok_full = t->ok_low = NULL;
}

/* p[n, K]: the first largest score of each row, as the numpy evaluator's argmax. */
void st_quant_tally_add(st_quant_tally_t *t, const int32_t *y, const float *p, int64_t n, int low) {
    for (int64_t r = 0; r < n; r++) {
        const float *row = p + r * t->K;
        int best = 0;
        for (int k = 1; k < t->K; k++) best = row[k] > row[best] ? k : best;
        if (y[r] < 0 || y[r] >= t->K) continue;
        if (!low) t->support[y[r]]++;
        if (best == y[r]) (low ? t->ok_low : t->ok_full)[y[r]]++;
    }
}

static double frac(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

void st_quant_tally_print(const st_quant_tally_t *t, FILE *out, const char *low_name, const char *rows_what,
                          char *const *names) {
    int64_t n = 0, full = 0, low = 0;
    for (int k = 0; k < t->K; k++) n += t->support[k], full += t->ok_full[k], low += t->ok_low[k];
    fprintf(out, "accuracy fp32 %.4f, %s %.4f (change %+.4f) on %lld rows (%s)\n", frac(full, n), low_name,
            frac(low, n), frac(low, n) - frac(full, n), (long long)n, rows_what);
    fprintf(out, "%-24s %9s %9s %9s %9s\n", "class", "support", "fp32", low_name, "change");
    for (int k = 0; k < t->K; k++) {
        double a = frac(t->ok_full[k], t->support[k]), b = frac(t->ok_low[k], t->support[k]);
        char buf[32];
        if (!names) snprintf(buf, sizeof buf, "%d", k);
        fprintf(out, "%-24s %9lld %9.4f %9.4f %+9.4f\n", names ? names[k] : buf, (long long)t->support[k], a, b, b - a);
    }
}

/* ---- int8 activations ---- */

void st_quant_u8_params(float lo, float hi, float *scale, uint8_t *zero) {
    lo = lo < 0 ? lo : 0, hi = hi > 0 ? hi : 0;
    float s = (float)(((double)hi - (double)lo) / 255.0); /* as onnxruntime: float64 range, float32 scale */
    if (!(s >= FLT_MIN)) s = 1.0f;                         /* hi == lo == 0 (or a NaN range) */
    double z = rint(-(double)lo / s);
    *scale = s;
    *zero = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
}

void st_quant_fake_u8(float *dst, const float *src, size_t n, float scale, uint8_t zero) {
    const float z = zero;
    for (size_t i = 0; i < n; i++) {
        float q = rintf(src[i] / scale) + z;
        q = q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q;
        dst[i] = (q - z) * scale;
    }
}

const char *st_quant_weight_op(const st_layer_t *L) {
    if (L->n_params == 0) return NULL;
    if (L->kind == &st_kind_dense) return L->in_shape.rank == 1 ? "Gemm" : "MatMul";
    return L->kind == &st_kind_conv1d ? "Conv" : NULL;
}

int st_quant_acts_init(st_quant_acts_t *a, st_model_t *m) {
    int n_layers = st_model_layer_count(m);
    *a = (st_quant_acts_t){0};
    a->acts = calloc((size_t)(n_layers ? n_layers : 1), sizeof *a->acts);
    if (!a->acts) return 1;
    for (int l = 0; l < n_layers; l++) {
        st_layer_t *L = st_model_layer(m, l);
        const char *op = st_quant_weight_op(L);
        if (op) a->acts[a->n++] = (st_quant_act_t){.layer = L, .op = op, .lo = INFINITY, .hi = -INFINITY};
    }
    return 0;
}

void st_quant_acts_free(st_quant_acts_t *a) {
    free(a->acts), free(a->scratch);
    *a = (st_quant_acts_t){0};
}

void st_quant_acts_finish(st_quant_acts_t *a) {
    for (int i = 0; i < a->n; i++) {
        st_quant_act_t *q = &a->acts[i];
        if (q->lo > q->hi) q->lo = q->hi = 0; /* never seen */
        st_quant_u8_params(q->lo, q->hi, &q->scale, &q->zero);
    }
}

const st_quant_act_t *st_quant_acts_find(const st_quant_acts_t *a, const st_layer_t *L) {
    for (int i = 0; i < a->n; i++)
        if (a->acts[i].layer == L) return &a->acts[i];
    return NULL;
}

const float *st_quant_acts_hook(void *user, const st_layer_t *L, const float *in, size_t n) {
    st_quant_acts_t *a = user;
    st_quant_act_t *q = (st_quant_act_t *)st_quant_acts_find(a, L);
    if (!q || a->mode == ST_QUANT_OFF) return in;
    if (a->mode == ST_QUANT_CALIBRATE) {
        for (size_t i = 0; i < n; i++) q->lo = in[i] < q->lo ? in[i] : q->lo, q->hi = in[i] > q->hi ? in[i] : q->hi;
        return in;
    }
    if (n > a->cap) {
        float *p = realloc(a->scratch, sizeof(float) * n);
        if (!p) return a->failed = 1, in;
        a->scratch = p, a->cap = n;
    }
    st_quant_fake_u8(a->scratch, in, n, q->scale, q->zero);
    return a->scratch;
}
