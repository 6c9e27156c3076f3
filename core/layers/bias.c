/* bias.c — the bias gradient as column sums in a fixed order (see bias.h). */
#include "bias.h"

#include <stddef.h>

void st_bias_grad_add(float *db, const float *dout, long M, int N) {
    enum { BLOCK = 64 };
    #pragma omp parallel for schedule(static)
    for (int n0 = 0; n0 < N; n0 += BLOCK) {
        int n1 = n0 + BLOCK < N ? n0 + BLOCK : N;
        float acc[BLOCK] = {0};
        for (long m = 0; m < M; m++)
            for (int n = n0; n < n1; n++) acc[n - n0] += dout[(size_t)m * N + n];
        for (int n = n0; n < n1; n++) db[n] += acc[n - n0];
    }
}
