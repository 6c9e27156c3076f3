/* gemm.c — the GEMM recorder behind st_sgemm (gemm.h). */
#include "gemm.h"

st_gemm_recorder_fn st_gemm_recorder_ = NULL;
static void *recorder_ctx;

void st_gemm_set_recorder(st_gemm_recorder_fn fn, void *ctx) {
    st_gemm_recorder_ = fn;
    recorder_ctx = ctx;
}

void st_sgemm_recorded(trans_t ta, trans_t tb, dim_t m, dim_t n, dim_t k, const float *alpha, const float *a,
                       inc_t rsa, inc_t csa, const float *b, inc_t rsb, inc_t csb, const float *beta, float *c,
                       inc_t rsc, inc_t csc) {
    st_gemm_call_t call = {(int)m, (int)n, (int)k, ta == BLIS_TRANSPOSE, tb == BLIS_TRANSPOSE, *beta == 0.0f};
    st_gemm_recorder_(&call, recorder_ctx);
    bli_sgemm(ta, tb, m, n, k, (float *)alpha, (float *)a, rsa, csa, (float *)b, rsb, csb, (float *)beta, c, rsc,
              csc);
}
