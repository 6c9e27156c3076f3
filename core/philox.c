/* philox.c — Philox4x32-10 and the keyed draws built on it. */
#include "philox.h"

#include <math.h>

void st_rand_uniform(float *out, long n, float lo, float hi, uint64_t seed, uint32_t purpose,
                     uint32_t stream, uint32_t step, uint64_t index0) {
    for (long i = 0; i < n; i += 4) {
        uint32_t w[4];
        st_rand_u32x4(seed, purpose, stream, step, index0 + (uint64_t)(i / 4), w);
        for (long j = 0; j < 4 && i + j < n; j++) out[i + j] = lo + (hi - lo) * st_u32_to_unit(w[j]);
    }
}

void st_rand_normal(float *out, long n, float mean, float std, uint64_t seed, uint32_t purpose,
                    uint32_t stream, uint32_t step, uint64_t index0) {
    const double two_pi = 6.283185307179586;
    for (long i = 0; i < n; i += 4) {
        uint32_t w[4];
        st_rand_u32x4(seed, purpose, stream, step, index0 + (uint64_t)(i / 4), w);
        for (int pair = 0; pair < 2; pair++) {
            /* u1 in (0, 1] so that log(u1) is finite. */
            double u1 = ((double)(w[2 * pair] >> 8) + 1.0) / 16777216.0;
            double u2 = (double)(w[2 * pair + 1] >> 8) / 16777216.0;
            double r = sqrt(-2.0 * log(u1));
            long j = i + 2 * pair;
            if (j < n) out[j] = mean + std * (float)(r * cos(two_pi * u2));
            if (j + 1 < n) out[j + 1] = mean + std * (float)(r * sin(two_pi * u2));
        }
    }
}
