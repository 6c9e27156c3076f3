/* export_quant.c — float16 rounding of the parameters and the fp32-vs-reduced accuracy tally of
 * `strata export --precision fp16` (export_quant.h). The rounding is onnx_graph.c's
 * st_f32_to_f16, the one the graph's initializers get, so strata's simulated forward reads the
 * very weights the file holds. */
#include "jobs/export_quant.h"

#include <stdlib.h>

#include "jobs/onnx_graph.h"

void st_quant_round_f16(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = st_f16_to_f32(st_f32_to_f16(p[i]));
}

int st_quant_i8_rows(float *w, long rows, long n) {
    long cols = rows ? n / rows : 0;
    int8_t *q = malloc((size_t)(n ? n : 1));
    float *scale = malloc(sizeof(float) * (size_t)(rows ? rows : 1));
    int failed = !q || !scale;
    if (!failed) {
        st_i8_quantize_rows(w, rows, cols, q, scale);
        for (long k = 0; k < rows * cols; k++) w[k] = (float)q[k] * scale[k / cols];
    }
    free(q), free(scale);
    return failed;
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
