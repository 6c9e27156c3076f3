/* augment.h — on-the-fly augmentation of training rows (docs/augmentation.md).
 *
 * The config's "augment" list is an ordered list of operations {"op": NAME, "p": prob, ...}; each
 * is a row of one table (augment.c: name, keys, check, apply). They run on a training
 * micro-batch after it is gathered (already standardised), before the forward; evaluation never
 * sees them. Parameters are given in raw units (after pixel scaling, before standardisation):
 * with the training split's mean m and std s of a value, raw r = x·s + m, so an operation on r
 * becomes one on the standardised x with transformed parameters (noise σ → σ/s, "zero" →
 * −m/s, r·u → u·x + (u − 1)·m/s). Without standardisation m = 0, s = 1.
 *
 * Randomness (core/philox.h): every draw of operation i (its place in the list) for the row with
 * occurrence id o (id·k + r, data.repeat k) in epoch e is Philox (seed, ST_RNG_AUGMENT,
 * stream = i, step = e, index = o·2^20 + j): block j = 0 holds the gate (word 0: the operation
 * runs when u < p) and the operation's per-row scalars (words 1..3: a factor, a shift, a crop
 * start); blocks j = 1.. hold its per-element draws (noise, dropout, jitter, masks), four words
 * each: element n takes word n % 4 of block 1 + n/4. A word w gives the uniform u = (w >> 8)·2^-24
 * (st_u32_to_unit) and the normal Φ^-1((w >> 8 + 1/2)·2^-24) (a 4096-cell table of Acklam's
 * approximation, linear within a cell, exact in the two end cells). So a row's draws depend only
 * on (seed, op, epoch, o): the same in any micro-batch, at any rank count, after a resume; the k
 * copies of a row differ. o < 2^44 and at most 2^22 per-element words per row and operation.
 *
 * Columns feeding embedding layers (data.categorical_columns: integer ids, not standardised) are
 * never changed; an operation whose columns name one is an error. Sequence operations (rows
 * [T, C] with lengths) act within each row's valid length and update it (crop, stretch); the
 * values past a row's length stay 0. */
#ifndef ST_AUGMENT_H
#define ST_AUGMENT_H

#include <stdint.h>

#include <cJSON.h>

#include "st_error.h"

#define ST_AUGMENT_MAX_OPS 16

struct st_aug_kind;

/* One operation of the list, its keys as the config gives them (raw units). */
typedef struct {
    const struct st_aug_kind *kind;
    int index;                  /* its place in the list: the Philox stream */
    double p;                   /* probability the row gets the operation */
    double sigma, sigma_fraction;    /* gaussian_noise: raw σ, or σ as a fraction of the std */
    double min, max;            /* scale, time_stretch: the factor's range */
    double absolute, relative;  /* jitter: ±a raw units, or ×(1 ± r) */
    double p_zero, rate;        /* column_dropout, feature_dropout */
    double min_fraction;        /* random_crop: shortest crop as a fraction of the length */
    long length;                /* random_crop: a fixed crop length (0 = use min_fraction) */
    long max_steps;             /* time_shift */
    int mode;                   /* time_shift: 0 wrap, 1 pad */
    long count, max_width;      /* time_mask, feature_mask */
    int from, to;               /* columns [from, to) (jitter, column_dropout); -1 = not given */
} st_aug_op_t;

/* An operation list bound to a dataset (st_augment_bind). */
typedef struct {
    int n_ops;
    st_aug_op_t op[ST_AUGMENT_MAX_OPS];
    int T, C;                   /* a row: [T, C] (T = 1 for [D] rows, C = D) */
    int has_lengths;            /* rows carry lengths (sequence rows without: all T valid) */
    int standardized;           /* mean/std given (sigma_fraction_of_std needs them) */
    int can_lengthen;           /* some operation may make a row longer (time_stretch max > 1) */
    float *inv_std, *mean_std;  /* [T·C] 1/s and m/s of every value of a row */
    float *open;                /* [T·C] 0 for a value of a protected column, else 1 */
    float *ppf;                 /* [4097] Φ^-1 at i / 4096: normals from one word each */
    uint8_t *protect;           /* [C] 1: a column feeding an embedding, never changed */
} st_augment_t;

/* Parses the "augment" list at JSON path `path` (NULL list: no operation): every element an
 * object with a known "op", its keys within bounds. Errors name path[i].key. No dataset needed. */
st_status_t st_augment_parse(st_augment_t *a, const cJSON *list, const char *path, st_error_t *err);

/* Binds a parsed list to a dataset: rows [T, C] (is_sequence 0 for [D] rows: T = 1), lengths or
 * not, the standardisation mean/std [n_std] (NULL: none; n_std 1, C or T·C), and the protected
 * columns protect_cols [n_protect]. Checks what needs the data (column ranges inside the row,
 * sequence operations on sequences, crop and stretch need lengths, no protected column
 * targeted), naming path[i].key. */
st_status_t st_augment_bind(st_augment_t *a, const char *path, int T, int C, int is_sequence, int has_lengths,
                            const double *mean, const double *std, int n_std, const int *protect_cols,
                            int n_protect, st_error_t *err);
void st_augment_free(st_augment_t *a);

/* Applies the operations in order to x [B, T_pad, C] in place: row b has occurrence id occ[b]
 * and length len[b] (NULL: T_pad). Rows stay within T_pad positions (time_stretch clips there:
 * pass the dataset's T so the result does not depend on the batch). len is updated.
 * Fails only on an allocation. */
st_status_t st_augment_apply(const st_augment_t *a, float *x /*[B, T_pad, C]*/, int32_t *len /*[B] or NULL*/,
                             const int64_t *occ /*[B]*/, uint64_t seed, int64_t epoch, int B, int T_pad,
                             st_error_t *err);

/* len_out [B] ← the lengths st_augment_apply would leave on rows of lengths len [B] (NULL:
 * T_pad), occurrence ids occ [B], in a micro-batch of T_pad positions — the same gates and the
 * same length rule (each length-changing operation's new_length), without any row data. Pure;
 * len_out may be len. The mixing plan is made from these (jobs/engine.c), so a cutmix span lies
 * within the row it will cut. */
void st_augment_lengths(int32_t *len_out /*[B]*/, const st_augment_t *a, const int32_t *len /*[B] or NULL*/,
                        const int64_t *occ /*[B]*/, uint64_t seed, int64_t epoch, int B, int T_pad);

/* The per-row scalar words of operation `op` for occurrence o (block 0): w[0] the gate. */
void st_augment_row_words(uint32_t w[4], uint64_t seed, int op, int64_t epoch, int64_t occ);

/* The operation names, "a, b, c" (for messages and docs). */
const char *st_augment_names(void);

#endif
