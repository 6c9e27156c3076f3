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
    ST_RNG_GROUP_SPLIT = 8, /* grouped split: stream 0, index = the group id (sharding/split.h) */
    ST_RNG_BUCKET = 9,   /* order of length-bucketed micro-batches: stream = shard, step = epoch */
    ST_RNG_SYNTH = 10,   /* strata synth: stream = what is drawn (sharding/synth.c), index = row or class */
    ST_RNG_WINDOW = 11,  /* data.order "windowed": order of the file's row blocks, stream 0, step = epoch,
                          * index = block */
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

/* ST_PHILOX_LANES Philox4x32-10 blocks side by side: c0..c3 hold word w of each block's counter
 * on entry and of its output on return. Plain lane loops: the compiler turns them into vector
 * multiplies (vpmuludq) for the target of the function they are inlined into (see simd.h). */
enum { ST_PHILOX_LANES = 16 };
static inline void st_philox4x32_10_lanes(uint32_t *restrict c0, uint32_t *restrict c1, uint32_t *restrict c2,
                                          uint32_t *restrict c3, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        if (r > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
        for (int i = 0; i < ST_PHILOX_LANES; i++) {
            uint64_t p0 = (uint64_t)0xD2511F53u * c0[i], p1 = (uint64_t)0xCD9E8D57u * c2[i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1;
            c0[i] = n0, c1[i] = (uint32_t)p1, c2[i] = n2, c3[i] = (uint32_t)p0;
        }
    }
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
