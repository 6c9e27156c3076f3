/* export_quant.h — the reduced-precision parts of `strata export --precision fp16` (docs/export.md):
 * the parameters rounded to float16 in place (the simulated quantisation strata's report uses:
 * the same weights the graph holds), and the accuracy tally, fp32 against the reduced precision,
 * overall and per class, printed as a table; and the int8 weights' dequantised values. */
#ifndef ST_EXPORT_QUANT_H
#define ST_EXPORT_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* p[n] rounded to the nearest float16 (round to nearest even), kept as float. */
void st_quant_round_f16(float *p, size_t n);

/* w[n] as rows [rows, n/rows] quantised to int8 per row (st_i8_quantize_rows) and dequantised in
 * place: w = q · scale, the values DequantizeLinear gives. 1 when memory ran out (w untouched). */
int st_quant_i8_rows(float *w, long rows, long n);

/* Correct predictions per class, at full and at reduced precision. */
typedef struct {
    int K;
    int64_t *support, *ok_full, *ok_low; /* [K] */
} st_quant_tally_t;

int st_quant_tally_init(st_quant_tally_t *t, int K); /* 1 when memory ran out */
void st_quant_tally_free(st_quant_tally_t *t);
/* Adds n rows: y[n] the labels, p[n, K] the scores (argmax = the prediction); low picks the column. */
void st_quant_tally_add(st_quant_tally_t *t, const int32_t *y, const float *p, int64_t n, int low);
/* "accuracy fp32 0.9133, fp16 0.9133 (change +0.0000) on 600 rows (all rows)" and the per-class
 * table (class, support, accuracy at each precision, change); names[K] may be NULL. */
void st_quant_tally_print(const st_quant_tally_t *t, FILE *out, const char *low_name, const char *rows_what,
                          char *const *names);

#endif
