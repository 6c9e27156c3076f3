/* philox.h — counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * Every random draw in strata is a pure function of (seed, purpose, stream, step, index): no
 * generator state exists anywhere, so a resumed run or a different rank count draws exactly the
 * same numbers. Layout of the 128-bit counter:
 *   ctr[0] = index low 32 bits, ctr[1] = index high 32 bits, ctr[2] = step,
 *   ctr[3] = purpose << 24 | stream (24 bits, e.g. a layer index);
 * the 64-bit key is the run seed. Each call yields four 32-bit words. */
#ifndef ST_PHILOX_H
#define ST_PHILOX_H

#include <stdint.h>

/* What a draw is for; part of the counter so that purposes never share numbers. */
typedef enum {
    ST_RNG_INIT = 1,     /* parameter initialisation: stream = layer index, index = element/4 */
    ST_RNG_DROPOUT = 2,  /* dropout masks: stream = layer index, step = optimizer step */
    ST_RNG_SPLIT = 3,    /* train/val/test split */
    ST_RNG_SHARD = 4,    /* assignment of samples to virtual shards */
    ST_RNG_SHUFFLE = 5,  /* per-epoch order within a shard: step = epoch */
    ST_RNG_AUGMENT = 6,
    ST_RNG_MIXUP = 7,
    ST_RNG_TEST = 15     /* test-data generation */
} st_rng_purpose_t;

/* The raw block function: out = Philox4x32-10(ctr, key). Inline: dropout masks call it once
 * per four elements. */
static inline void st_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0, c1 = (uint32_t)p1, c2 = n2, c3 = (uint32_t)p0;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* Four words for (seed, purpose, stream, step, index). */
static inline void st_rand_u32x4(uint64_t seed, uint32_t purpose, uint32_t stream, uint32_t step, uint64_t index,
                                 uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), step, (purpose << 24) | (stream & 0xFFFFFFu)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    st_philox4x32_10(ctr, key, out);
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* hi and lo 32 bits of a[i]·m for the four lanes (SSE2 multiplies lanes 0 and 2, then 1 and 3). */
static inline void st_philox_mulhilo4(__m128i a, __m128i m, __m128i *hi, __m128i *lo) {
    const __m128i low_half = _mm_set_epi32(0, -1, 0, -1);
    __m128i even = _mm_mul_epu32(a, m), odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), m);
    *lo = _mm_or_si128(_mm_and_si128(even, low_half), _mm_slli_epi64(odd, 32));
    *hi = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_andnot_si128(low_half, odd));
}

/* Four Philox4x32-10 blocks in SSE2 lanes: c0..c3 hold word w of the four counters. */
static inline void st_philox4x32_10_sse2(__m128i *c0, __m128i *c1, __m128i *c2, __m128i *c3, uint32_t k0, uint32_t k1) {
    const __m128i m0 = _mm_set1_epi32((int)0xD2511F53u), m1 = _mm_set1_epi32((int)0xCD9E8D57u);
    for (int r = 0; r < 10; r++) {
        if (r > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
        __m128i hi0, lo0, hi1, lo1;
        st_philox_mulhilo4(*c0, m0, &hi0, &lo0);
        st_philox_mulhilo4(*c2, m1, &hi1, &lo1);
        *c0 = _mm_xor_si128(_mm_xor_si128(hi1, *c1), _mm_set1_epi32((int)k0));
        *c2 = _mm_xor_si128(_mm_xor_si128(hi0, *c3), _mm_set1_epi32((int)k1));
        *c1 = lo1, *c3 = lo0;
    }
}
#endif

/* Eight blocks at once, for counters index0 .. index0+7 (same seed, purpose, stream, step):
 * out[4·j + w] = word w of block j — the same words as eight st_rand_u32x4 calls, computed four
 * lanes at a time in SSE2 (baseline x86-64), lane by lane elsewhere. */
static inline void st_rand_u32x4_x8(uint64_t seed, uint32_t purpose, uint32_t stream, uint32_t step, uint64_t index0,
                                    uint32_t out[32]) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32), top = (purpose << 24) | (stream & 0xFFFFFFu);
#if defined(__SSE2__)
    for (int g = 0; g < 2; g++) {
        uint32_t lo[4], hi[4];
        for (int j = 0; j < 4; j++) {
            uint64_t idx = index0 + (uint64_t)(4 * g + j);
            lo[j] = (uint32_t)idx, hi[j] = (uint32_t)(idx >> 32);
        }
        __m128i c0 = _mm_loadu_si128((const __m128i *)lo), c1 = _mm_loadu_si128((const __m128i *)hi);
        __m128i c2 = _mm_set1_epi32((int)step), c3 = _mm_set1_epi32((int)top);
        st_philox4x32_10_sse2(&c0, &c1, &c2, &c3, k0, k1);
        /* transpose: lanes are blocks, registers are words */
        __m128i t0 = _mm_unpacklo_epi32(c0, c1), t1 = _mm_unpacklo_epi32(c2, c3);
        __m128i t2 = _mm_unpackhi_epi32(c0, c1), t3 = _mm_unpackhi_epi32(c2, c3);
        uint32_t *o = out + 16 * g;
        _mm_storeu_si128((__m128i *)(o + 0), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(o + 4), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(o + 8), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128((__m128i *)(o + 12), _mm_unpackhi_epi64(t2, t3));
    }
#else
    for (int j = 0; j < 8; j++) {
        uint32_t ctr[4] = {(uint32_t)(index0 + (uint64_t)j), (uint32_t)((index0 + (uint64_t)j) >> 32), step, top};
        uint32_t key[2] = {k0, k1};
        st_philox4x32_10(ctr, key, out + 4 * j);
    }
#endif
}

/* A 32-bit word as a float uniform in [0, 1): the top 24 bits times 2^-24 (exact in float). */
static inline float st_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Fills out[0..n) with uniforms in [lo, hi) from consecutive counter indices starting at
 * index0 (four values per index). */
void st_rand_uniform(float *out, long n, float lo, float hi, uint64_t seed, uint32_t purpose,
                     uint32_t stream, uint32_t step, uint64_t index0);

/* Fills out[0..n) with normals N(mean, std^2) (Box-Muller on pairs of words). */
void st_rand_normal(float *out, long n, float mean, float std, uint64_t seed, uint32_t purpose,
                    uint32_t stream, uint32_t step, uint64_t index0);

#endif
