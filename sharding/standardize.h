/* standardize.h — per-feature mean and standard deviation of the training split, reproducible
 * for any rank count, and their application; plus [0, 1] pixel scaling.
 *
 * Rules (docs/sharding.md, "Standardisation"):
 *   - F is the number of features of a [D] sample (F = D) or of channels of a [T, C] sample
 *     (F = C, statistics over all T positions of all rows).
 *   - Each virtual shard computes a partial over its rows in row order (ascending global id),
 *     two-pass in double: count n, mean m_f = Σx / n, M2_f = Σ(x − m_f)².
 *   - The S partials are combined in shard order 0..S-1 (Chan et al.): for the running (n_a,
 *     m_a, M2_a) and the next (n_b, m_b, M2_b), δ = m_b − m_a, n = n_a + n_b,
 *     m = m_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n. So the result is a pure function of
 *     the S partials, bitwise the same however shards are spread over ranks.
 *   - std_f = sqrt(M2_f / n) (population); a feature with std_f <= floor·max(1, |m_f|)
 *     (floor 1e-8 by default) counts as constant and gets std_f = 1 (it maps to 0).
 *   - Application: x ← (float)((x − m_f) / std_f), computed in double.
 *   - Pixel scaling, when asked for, is x ← x / 255 and comes before standardisation.
 * A partial is a flat double array [1 + 2F] = {n, m_0..m_{F-1}, M2_0..M2_{F-1}}, so S of them
 * are one contiguous [S, 1 + 2F] array (what a loader allgathers). */
#ifndef ST_STANDARDIZE_H
#define ST_STANDARDIZE_H

#include <stdint.h>

#include "st_error.h"

#define ST_STD_FLOOR_DEFAULT 1e-8

/* What data.standardize computes statistics over (docs/sharding.md, "Standardisation"). */
typedef enum {
    ST_STD_NONE = 0,
    ST_STD_CHANNEL = 1,   /* per feature of [D], per channel of [T, C] over all positions (true) */
    ST_STD_GLOBAL = 2,    /* one mean and std over every value */
    ST_STD_POSITION = 3   /* per element: per (t, c) of [T, C] (= per feature of [D]) */
} st_std_mode_t;

/* The statistics' view of a sample of `numel` values with `channels` channels: X as [*, T, F]
 * with *T positions and *F statistics, for a mode (n_stats < 0) or, reading a checkpoint, for
 * its number of statistics n_stats (1: global, numel: per position, else per channel). */
void st_std_layout(int *T, int *F, int numel, int channels, st_std_mode_t mode, int n_stats);

/* Doubles in one partial: 1 + 2F. */
static inline int64_t st_std_partial_len(int F) { return 1 + 2 * (int64_t)F; }

/* The partial of n_rows rows of X [*, T, F] (T = 1 for [D] samples): the rows X[idx[i]] for
 * i = 0..n_rows-1 in that order, or rows 0..n_rows-1 when idx is NULL (a shard's rows gathered
 * from a rank's buffer with st_shards_locate). n_rows may be 0 (an empty partial). */
void st_standardize_partial(double *partial /*[1 + 2F]*/, const float *X /*[*, T, F]*/,
                            const int64_t *idx /*[n_rows] or NULL*/, int64_t n_rows, int T, int F);

/* mean [F] and std [F] from S partials in shard order. floor <= 0 means ST_STD_FLOOR_DEFAULT.
 * Fails when there are no samples or a result is not finite (naming the feature). */
st_status_t st_standardize_combine(double *mean /*[F]*/, double *std /*[F]*/, const double *partials /*[S, 1 + 2F]*/,
                                   int S, int F, double floor, st_error_t *err);

/* x ← (x − mean_f) / std_f in place for n_rows rows of X [n_rows, T, F]. */
void st_standardize_apply(float *X /*[n_rows, T, F]*/, const double *mean /*[F]*/, const double *std /*[F]*/,
                          int64_t n_rows, int T, int F);

/* With sequence lengths (docs/sharding.md, "Standardisation with lengths"), only valid values
 * count and change: value k (0..T·F-1, k = t·F + f in any mode's view [T, F]) of row i is valid
 * when k < len_i·C, C the channels of the [T_max, C] sample (true in all three views, since k is
 * the value's index in the row). Counts then differ per statistic (per position: rows shorter
 * than a position leave it out), so a masked partial is [3F] = {n_f.., m_f.., M2_f..}, each
 * statistic computed and combined (Chan, shard order) as above on its own count; a statistic
 * no valid value reaches gets mean 0, std 1. Padding stays what it is (0). len [*] is aligned
 * with X's rows. */
static inline int64_t st_std_partial_len_masked(int F) { return 3 * (int64_t)F; }
void st_standardize_partial_masked(double *partial /*[3F]*/, const float *X /*[*, T, F]*/,
                                   const int32_t *len /*[*]*/, const int64_t *idx /*[n_rows] or NULL*/,
                                   int64_t n_rows, int T, int F, int C);
st_status_t st_standardize_combine_masked(double *mean /*[F]*/, double *std /*[F]*/,
                                          const double *partials /*[S, 3F]*/, int S, int F, double floor,
                                          st_error_t *err);
void st_standardize_apply_masked(float *X /*[n_rows, T, F]*/, const double *mean /*[F]*/,
                                 const double *std /*[F]*/, const int32_t *len /*[n_rows]*/, int64_t n_rows,
                                 int T, int F, int C);

/* A partial built over row groups one at a time (a streamed dataset's blocks): zero it, call
 * st_standardize_accumulate with pass 1 over every group in row order, st_standardize_means once,
 * then pass 2 over the same groups in the same order — the bits of one st_standardize_partial
 * (len NULL) or st_standardize_partial_masked (len [*] aligned with X's rows) call over all the
 * rows, which are built from the same three steps. */
void st_standardize_accumulate(double *partial /*[1 + 2F] or [3F]*/, const float *X /*[*, T, F]*/,
                               const int32_t *len /*[*] or NULL*/, const int64_t *idx /*[n_rows] or NULL*/,
                               int64_t n_rows, int T, int F, int C, int pass);
void st_standardize_means(double *partial, int F, int masked);

/* x ← x / 255 in place (n_values values): 8-bit pixel values to [0, 1]. */
void st_scale_pixels(float *X /*[n_values]*/, int64_t n_values);

#endif
