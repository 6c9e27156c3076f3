/* split.h — the stratified train/val/test split of a dataset, and class counts per part.
 *
 * Pure library code (no MPI, no I/O): every rank reads the labels and computes the same split.
 * Rules (docs/sharding.md, "Split"):
 *   - Fractions are quantised to millionths: w_p = round(f_p · 10^6) for the parts p = train,
 *     val, test, W = Σ w_p.
 *   - Per class c with n_c samples, the counts come from the largest-remainder method in exact
 *     integer arithmetic: n_p = floor(n_c·w_p / W); the n_c − Σ n_p leftover rows go one each to
 *     the parts with the largest remainders (n_c·w_p mod W), ties to the earlier part in the
 *     order train, val, test.
 *   - Every part with w_p > 0 must receive at least one row of every class that has samples:
 *     a class with fewer samples than such parts is an error naming the class; when largest
 *     remainder leaves such a part at 0 rows, one row moves to it from the part with the most
 *     rows (ties: train, val, test), repeated until no part is empty. Classes with no samples at
 *     all are allowed and appear nowhere.
 *   - Within a class, samples are ordered by the 64-bit Philox key (seed, ST_RNG_SPLIT,
 *     stream = class, step 0, index = global sample index), ties by index; the first n_train go
 *     to train, the next n_val to val, the rest to test.
 *   - With a predefined split (the file's /split): test rows stay test and the fractions train/
 *     val/test are not used. If it has val rows, the split is taken as is. Otherwise val is
 *     carved from the predefined train rows by the same rules with the two parts
 *     (train 1 − val_fraction, val val_fraction) (val_fraction 0: no val part). */
#ifndef ST_SPLIT_H
#define ST_SPLIT_H

#include <stdint.h>

#include "sharding/dataset.h" /* ST_SPLIT_TRAIN, ST_SPLIT_VAL, ST_SPLIT_TEST */
#include "st_error.h"

#define ST_SPLIT_N_PARTS 3

typedef struct {
    double train, val, test; /* fractions of every class, summing to 1 (within 1e-6); train > 0 */
    double val_fraction;     /* predefined split without val rows: share of its train rows, [0, 1) */
} st_split_options_t;

/* 0.81 / 0.09 / 0.10, val_fraction 0.1. */
st_split_options_t st_split_options_default(void);

/* Fills split [N] with ST_SPLIT_* for every sample. predefined [N] (may be NULL) is the file's
 * /split; class_names [K] (may be NULL) are used in messages only. Fails (ST_ERR_CONFIG) on bad
 * fractions, (ST_ERR_DATA) on a label outside 0..K-1 or a predefined value other than 0, 1, 2
 * (naming the row), or on a class too small for the split (naming the class, its count and the
 * count it needs). split may alias predefined. */
st_status_t st_split_make(uint8_t *split /*[N]*/, const int32_t *y /*[N]*/,
                          const uint8_t *predefined /*[N] or NULL*/, const st_split_options_t *opt,
                          const char *const *class_names /*[K] or NULL*/, uint64_t seed, int64_t N,
                          int K, st_error_t *err);

/* ---- Grouped split (docs/sharding.md, "Grouped split") ----
 * Rows that share a group id (the file's /groups: a speaker, a user, a scenario and its
 * augmented variants) always land in the same part. Rules:
 *   - A group's majority class is its most frequent label (ties: the lowest class id).
 *   - Quotas q[c][p]: the largest-remainder counts above for the n_c rows of class c (with the
 *     move-one fix when n_c is at least the number of parts with w_p > 0, without it otherwise).
 *   - Groups are taken in the order of the 64-bit Philox key (seed, ST_RNG_GROUP_SPLIT,
 *     stream 0, step 0, index = (uint64_t) group id), ties by group id. Each goes to the part
 *     with w_p > 0 whose quota for the group's majority class is furthest below
 *     (largest q[c][p] − assigned[c][p]; ties train, val, test), with all its rows; assigned is
 *     updated for the class of every row.
 *   - Then a part with w_p > 0 and no rows is an error (too few groups); a class with rows but
 *     none in some part with w_p > 0 is a warning in the report.
 *   - Predefined split: a group whose rows have different /split values is an error (naming the
 *     group and two rows); test rows stay test; given val rows are taken as is; otherwise val
 *     is carved from the predefined train groups by the rules above with the parts
 *     (train 1 − val_fraction, val val_fraction).
 * Deterministic (a pure function of seed and the rows' (label, group id, predefined) multiset
 * per group: permuting the rows permutes the result), single-threaded, O(N log N) with radix
 * sorts; scratch memory at most 32 bytes per row plus 32 per group. */

enum { ST_SPLIT_REPORT_WARNINGS = 4, ST_SPLIT_WARNING_LEN = 256 };

typedef struct {
    int64_t n_groups;          /* distinct group ids among the N rows */
    int64_t n_groups_assigned; /* groups placed by the rule (0 when a predefined split is taken as is) */
    int n_warnings;            /* all warnings, one per (class, part) left without rows */
    char warning[ST_SPLIT_REPORT_WARNINGS][ST_SPLIT_WARNING_LEN]; /* the first n_warnings (at most 4) */
} st_split_report_t;

/* Fills split [N] with ST_SPLIT_* by the grouped rules. groups [N] are any int64 ids (not
 * dense); predefined, class_names and err as for st_split_make; report (may be NULL) is
 * cleared, then filled. Fails like st_split_make on bad fractions, labels and predefined values,
 * and (ST_ERR_DATA) on a group spanning predefined parts or a part left empty (split's content
 * is then unspecified). split may alias predefined. */
st_status_t st_split_make_grouped(uint8_t *split /*[N]*/, const int32_t *y /*[N]*/, const int64_t *groups /*[N]*/,
                                  const uint8_t *predefined /*[N] or NULL*/, const st_split_options_t *opt,
                                  const char *const *class_names /*[K] or NULL*/, uint64_t seed, int64_t N,
                                  int K, st_split_report_t *report /* or NULL */, st_error_t *err);

/* Checks that training can see every class the split evaluates: fails (ST_ERR_DATA) naming the
 * first class that has rows in val or test but none in train (only a predefined /split can do
 * that: the model would never predict it and score 0 on it), with its counts per part, and when
 * fewer than 2 classes have training rows (a classifier needs at least 2). Messages start with
 * "split: "; the caller adds the file. */
st_status_t st_split_check_train(const uint8_t *split /*[N]*/, const int32_t *y /*[N]*/,
                                 const char *const *class_names /*[K] or NULL*/, int64_t N, int K,
                                 st_error_t *err);

/* Rows per class of one part (ST_SPLIT_TRAIN, ...), or of all rows when split is NULL (part
 * ignored). Fails naming the first row with a label outside 0..K-1. */
st_status_t st_class_counts(int64_t *counts /*[K]*/, const int32_t *y /*[N]*/,
                            const uint8_t *split /*[N] or NULL*/, int part, int64_t N, int K,
                            st_error_t *err);

/* Per-part per-class counts, for reporting. Free with st_split_counts_free. */
typedef struct {
    int n_classes;                        /* K */
    int64_t *count;                       /* [3, K]: count[part * K + c], part = ST_SPLIT_* */
    int64_t part_total[ST_SPLIT_N_PARTS]; /* rows per part */
} st_split_counts_t;

st_status_t st_split_counts(st_split_counts_t *out, const int32_t *y /*[N]*/,
                            const uint8_t *split /*[N]*/, int64_t N, int K, st_error_t *err);
void st_split_counts_free(st_split_counts_t *c);

/* The largest-remainder rule above for one class: counts[p] rows to part p out of n, given
 * part weights w [n_parts] (millionths, W = Σ w > 0), including the move-one-from-the-largest
 * fix. Returns 0, or the number of rows needed when n (> 0) is smaller than the number of parts
 * with w > 0 (counts are then not set). Exposed for tests and reports. */
int64_t st_split_largest_remainder(int64_t *counts /*[n_parts]*/, int64_t n, const int64_t *w /*[n_parts]*/,
                                   int n_parts);

#endif
