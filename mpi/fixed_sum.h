/* fixed_sum.h — sums of float arrays over shards and ranks whose result does not depend on how
 * the terms are grouped (reproducible mode "exact").
 *
 * Float addition is not associative, so a gradient summed as (g0+g1)+(g2+g3) on 2 ranks differs
 * in its last bits from ((g0+g1)+g2)+g3 on 1. Here every shard's gradient is rounded once to a
 * 64-bit integer g·2^e (round half to even), with one exponent e for the whole step that every
 * rank uses: e = 51 − k where max|g|·S = m·2^k, m in [0.5, 1). The S integers of an element then
 * add up without overflow (|sum| ≤ 2^51) and integer addition is exact, so any grouping — any
 * number of ranks, any MPI reduction order — gives the same sum, converted back once as
 * (float)(sum·2^−e). An element as large as the largest keeps about 51 − log2(S) bits (far more
 * than float's 24); one 2^20 times smaller keeps about 30; elements below 2^−27 of the largest
 * are resolved to 2^−e absolute (with Adam's eps of 1e-8 in the denominator, an error of
 * 2^−e ≈ max|g|·S·2^−51 moves an update by less than lr·1e-6 of the largest gradient). The
 * limit of 2^51 (not 2^62) lets the rounding run in double arithmetic (fixed_sum.c). */
#ifndef ST_FIXED_SUM_H
#define ST_FIXED_SUM_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/comm.h"

/* max |x[i]| (INFINITY when any x[i] is NaN or Inf). x [n]. */
double st_max_abs(const float *x, size_t n);

/* The shared exponent for n_terms terms whose largest magnitude is max_abs (0 when max_abs is 0). */
int st_fixed_exponent(double max_abs, int n_terms);

/* acc[i] += round(x[i]·2^e). acc [n], x [n]. */
void st_fixed_add(int64_t *acc, const float *x, size_t n, int e);

/* acc[i] = Σ_k round(xs[k][i]·2^e) over n_arrays arrays, in one pass (acc is overwritten). */
void st_fixed_sum_arrays(int64_t *acc, const float *const *xs, int n_arrays, size_t n, int e);

/* x[i] = (float)(acc[i]·2^−e), for |acc[i]| <= 2^51 (what a sum made with st_fixed_exponent stays within). */
void st_fixed_to_float(float *x, const int64_t *acc, size_t n, int e);

/* x [n] ← Σ over ranks (int64, exact), in pieces of at most 2^30 elements. Collective. */
st_status_t st_allreduce_sum_i64_big(int64_t *x, size_t n, const st_comm_t *c, st_error_t *err);

#endif
