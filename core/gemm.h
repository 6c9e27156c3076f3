/* gemm.h — the one door to BLIS's sgemm for every layer, so a benchmark can see each GEMM.
 *
 * st_sgemm takes bli_sgemm's arguments unchanged (C = alpha·op(A)·op(B) + beta·C with row and
 * column strides) and calls it. When a recorder is installed (st_gemm_set_recorder), it is
 * called first with the shape and the transpositions: bench/bench_seq.c records one training
 * step of a model this way and replays the same GEMMs alone, the model's GEMM-only ceiling.
 * The recorder is process-wide and meant for benchmarks and tests; training never sets it. */
#ifndef ST_GEMM_H
#define ST_GEMM_H

#include <blis.h>

/* One recorded call: op(A) is m×k, op(B) k×n, C m×n; trans_* 1 = transposed; beta_zero 1 when
 * C is overwritten (beta = 0). */
typedef struct {
    int m, n, k;
    int trans_a, trans_b;
    int beta_zero;
} st_gemm_call_t;

typedef void (*st_gemm_recorder_fn)(const st_gemm_call_t *call, void *ctx);

/* Installs (or, with fn = NULL, removes) the recorder. Not thread-safe: set it between steps. */
void st_gemm_set_recorder(st_gemm_recorder_fn fn, void *ctx);

void st_sgemm_recorded(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, const float *alpha, const float *a,
                       inc_t rsa, inc_t csa, const float *b, inc_t rsb, inc_t csb, const float *beta, float *c,
                       inc_t rsc, inc_t csc);

extern st_gemm_recorder_fn st_gemm_recorder_;

static inline void st_sgemm(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, const float *alpha, const float *a,
                            inc_t rsa, inc_t csa, const float *b, inc_t rsb, inc_t csb, const float *beta, float *c,
                            inc_t rsc, inc_t csc) {
    if (st_gemm_recorder_) {
        st_sgemm_recorded(ta, tb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
        return;
    }
    bli_sgemm(ta, tb, m, n, k, (float *)alpha, (float *)a, rsa, csa, (float *)b, rsb, csb, (float *)beta, c, rsc,
              csc);
}

#endif
