/* philox.c — Philox4x32-10 and the keyed draws built on it. */
#include "philox.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void st_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k[0] += PHILOX_W0;
            k[1] += PHILOX_W1;
        }
        philox_round(c, k);
    }
    for (int i = 0; i < 4; i++) out[i] = c[i];
}

void st_rand_u32x4(uint64_t seed, uint32_t purpose, uint32_t stream, uint32_t step, uint64_t index,
                   uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), step,
                       (purpose << 24) | (stream & 0xFFFFFFu)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    st_philox4x32_10(ctr, key, out);
}

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
