/* simd.h — hot loops compiled for the CPU they run on, from one portable build.
 *
 * strata is built for baseline x86-64 (SSE2): a binary built on a login node must run on every
 * compute node. The memory-bound loops outside BLIS (BatchNorm, activations, dropout and its
 * Philox masks, the optimizer update, sums of squares) are marked ST_CLONES: GCC compiles each
 * for AVX-512, AVX2 and the baseline, and the dynamic loader picks one at start-up (ifunc).
 *
 * The clones give bitwise-identical results: -std=c17 turns floating-point contraction off (no
 * FMA is formed), and no loop is reassociated (no -ffast-math), so wider vectors only run the
 * same per-element operations side by side. tests/test_simd.sh checks this on the machine it runs
 * on: the kernels built without clones (-DST_NO_CLONES) and for AVX2 only (-DST_CLONES_TARGET)
 * must give the same bits as the clone the CPU picks.
 *
 * A cloned function must not contain an OpenMP construct (the outlined body would not be
 * cloned): the parallel region calls it once per thread on its span (st_thread_span). */
#ifndef ST_SIMD_H
#define ST_SIMD_H

#include <omp.h>

#if defined(ST_CLONES_TARGET) /* one target only, e.g. -DST_CLONES_TARGET='"avx2"' (tests) */
#define ST_CLONES __attribute__((target(ST_CLONES_TARGET), noinline))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ST_NO_CLONES)
#define ST_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), noinline))
#else
#define ST_CLONES
#endif

/* The part [*i0, *i1) of [0, n) that OpenMP thread `thread` of `threads` works on: equal static
 * spans rounded to multiples of `align` elements (so vector loops stay aligned), the remainder
 * to the last thread. */
static inline void st_thread_span(long n, long align, int thread, int threads, long *i0, long *i1) {
    long units = (n + align - 1) / align, per = units / threads, extra = units % threads;
    long u0 = thread * per + (thread < extra ? thread : extra);
    long u1 = u0 + per + (thread < extra ? 1 : 0);
    *i0 = u0 * align < n ? u0 * align : n;
    *i1 = u1 * align < n ? u1 * align : n;
}

/* Runs `call` once per thread of a parallel region with long i0, i1 bound to its span of [0, n)
 * (spans are multiples of `align` elements). */
#define ST_PARALLEL_SPANS_ALIGNED(n, align, call)                                                \
    do {                                                                                         \
        _Pragma("omp parallel") {                                                                \
            long i0, i1;                                                                         \
            st_thread_span((n), (align), omp_get_thread_num(), omp_get_num_threads(), &i0, &i1); \
            if (i1 > i0) { call; }                                                               \
        }                                                                                        \
    } while (0)

/* The same with spans of whole 16-float vectors (64 bytes). */
#define ST_PARALLEL_SPANS(n, call) ST_PARALLEL_SPANS_ALIGNED(n, 16, call)

#endif
