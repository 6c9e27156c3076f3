/* augment.c — the augmentation operations as one table (name, keys, check, apply) and the loop
 * that applies a list of them to a micro-batch; the rules and the Philox scheme are in
 * augment.h, the keys in docs/augmentation.md.
 *
 * Every apply is a plain function over one row x [T_pad, C] with its valid length *len, its
 * per-value transforms (1/s, m/s) and a scratch row; rows are independent, so the loop over a
 * micro-batch's rows runs in parallel without changing a bit. */
#include "sharding/augment.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "schema.h"
#include "simd.h"

#define BLOCK_BITS 20   /* index = occurrence << 20 | block */
#define PPF_BITS 12       /* the normal table: 2^12 cells of the uniform */
#define PPF_CELLS (1u << PPF_BITS)
#define SCRATCH_MIN 2048 /* a row's scratch holds the masks' 2 draws each (count <= 1000) */

/* What one row's operation sees. */
typedef struct {
    const st_augment_t *a;
    const st_aug_op_t *op;
    float *x;            /* [T_pad, C] the row */
    int32_t *len;        /* its valid length (positions) */
    float *scratch;      /* [T_pad · C] */
    uint32_t w[4];       /* block 0: w[0] gate, w[1..3] per-row scalars */
    uint64_t seed;
    int64_t epoch, occ;
    int T_pad;
} row_t;

typedef struct st_aug_kind {
    const char *name;
    const st_key_t *keys;
    int n_keys;
    int sequence_only;   /* needs rows [T, C] */
    st_status_t (*check)(const st_aug_op_t *op, const char *at, st_error_t *err); /* parse-time checks */
    void (*apply)(const row_t *r);
    /* Operations that change a row's length (they need /lengths): the length the row gets from
     * length L in a row of T_pad positions, given its block-0 words w. apply uses it, and so does
     * st_augment_lengths, so the two cannot disagree. NULL: the length stays. */
    int (*new_length)(const st_aug_op_t *op, const uint32_t w[4], int L, int T_pad);
} st_aug_kind_t;

/* ---- draws ---- */

void st_augment_row_words(uint32_t w[4], uint64_t seed, int op, int64_t epoch, int64_t occ) {
    st_rand_u32x4(seed, ST_RNG_AUGMENT, (uint32_t)op, (uint32_t)epoch, (uint64_t)occ << BLOCK_BITS, w);
}

/* out[n] = the element words: word n % 4 of Philox block index0 + n / 4 (what st_rand_u32x4 gives
 * for (seed, ST_RNG_AUGMENT, op, epoch, that index)), ST_PHILOX_LANES blocks at a time. */
ST_CLONES static void words_span(uint32_t *restrict out, long n, uint64_t seed, uint32_t op, uint32_t epoch,
                                 uint64_t index0) {
    const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32), top = (uint32_t)ST_RNG_AUGMENT << 24 | (op & 0xFFFFFFu);
    enum { L = ST_PHILOX_LANES };
    for (long j0 = 0; j0 < n; j0 += 4 * L) {
        uint32_t c0[L], c1[L], c2[L], c3[L], w[4 * L];
        for (int i = 0; i < L; i++) {
            uint64_t idx = index0 + (uint64_t)(j0 / 4 + i);
            c0[i] = (uint32_t)idx, c1[i] = (uint32_t)(idx >> 32), c2[i] = epoch, c3[i] = top;
        }
        st_philox4x32_10_lanes(c0, c1, c2, c3, k0, k1);
        for (int i = 0; i < L; i++) w[4 * i] = c0[i], w[4 * i + 1] = c1[i], w[4 * i + 2] = c2[i], w[4 * i + 3] = c3[i];
        long len = n - j0 < 4L * L ? n - j0 : 4L * L;
        memcpy(out + j0, w, sizeof(uint32_t) * (size_t)len);
    }
}

/* The row's n element words (blocks 1..) into its scratch. */
static uint32_t *elem_words(const row_t *r, long n) {
    uint32_t *w = (uint32_t *)r->scratch;
    words_span(w, n, r->seed, (uint32_t)r->op->index, (uint32_t)r->epoch, ((uint64_t)r->occ << BLOCK_BITS) + 1);
    return w;
}

static float unit(uint32_t w) { return st_u32_to_unit(w); }

/* Φ^-1(p), p in (0, 1), by Acklam's rational approximation (relative error < 1.2e-9). */
static double inverse_normal_cdf(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p > 0.02425 && p < 0.97575) {
        double q = p - 0.5, t = q * q;
        return (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5]) * q /
               (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1);
    }
    double q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
    double z = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < 0.5 ? z : -z;
}

/* A standard normal from one word: Φ^-1 of its top 24 bits u = (w >> 8 + 1/2) / 2^24, linear
 * between the PPF_CELLS + 1 knots Φ^-1(i / PPF_CELLS) of the table (computed at bind), exact in
 * the two end cells where Φ^-1 runs off to ±∞. */
static float normal_of(const float *ppf, uint32_t w) {
    uint32_t i = w >> (32 - PPF_BITS), f = (w >> 8) & ((1u << (24 - PPF_BITS)) - 1);
    if (i == 0 || i == PPF_CELLS - 1) return (float)inverse_normal_cdf(((double)(w >> 8) + 0.5) * (1.0 / 16777216.0));
    float t = ((float)f + 0.5f) * (1.0f / (float)(1u << (24 - PPF_BITS)));
    return ppf[i] + t * (ppf[i + 1] - ppf[i]);
}

/* An integer uniform in [lo, hi] from a [0, 1) uniform. */
static long pick(float u, long lo, long hi) {
    long v = lo + (long)floor((double)u * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

static int row_len(const row_t *r) { return *r->len; }

/* The standardised value of raw 0 at value k. */
static float raw_zero(const row_t *r, long k) { return -r->a->mean_std[k]; }

/* ---- value operations ([D] rows or every valid value of a sequence) ---- */

static void apply_noise(const row_t *r) {
    const st_augment_t *a = r->a;
    long n = (long)row_len(r) * a->C;
    const uint32_t *w = elem_words(r, n);
    int frac = r->op->sigma_fraction >= 0;
    float sf = (float)r->op->sigma_fraction, s = (float)r->op->sigma;
    if (frac)
        for (long k = 0; k < n; k++) r->x[k] += sf * a->open[k] * normal_of(a->ppf, w[k]);
    else
        for (long k = 0; k < n; k++) r->x[k] += s * a->open[k] * a->inv_std[k] * normal_of(a->ppf, w[k]);
}

static void apply_scale(const row_t *r) { /* raw r·u: x·u + (u − 1)·m/s = x + (u − 1)·(x + m/s) */
    const st_augment_t *a = r->a;
    float u = (float)(r->op->min + (r->op->max - r->op->min) * unit(r->w[1]));
    long n = (long)row_len(r) * a->C;
    for (long k = 0; k < n; k++) /* protected values: + 0 */
        r->x[k] += a->open[k] * (u - 1.0f) * (r->x[k] + a->mean_std[k]);
}

/* The op's column range, all columns when not given. */
static void columns(const row_t *r, int *from, int *to) {
    *from = r->op->from >= 0 ? r->op->from : 0;
    *to = r->op->from >= 0 ? r->op->to : r->a->C;
}

static void apply_jitter(const row_t *r) { /* one draw per column: raw r + δ, or r·(1 + δ) */
    const st_augment_t *a = r->a;
    int c0, c1, L = row_len(r);
    columns(r, &c0, &c1);
    const uint32_t *w = elem_words(r, c1 - c0);
    int rel = r->op->relative >= 0;
    double amount = rel ? r->op->relative : r->op->absolute;
    for (int c = c0; c < c1; c++) {
        if (a->protect[c]) continue;
        float d = (float)(amount * (2.0 * unit(w[c - c0]) - 1.0));
        for (int t = 0; t < L; t++) {
            long k = (long)t * a->C + c;
            r->x[k] = rel ? (1.0f + d) * r->x[k] + d * a->mean_std[k] : r->x[k] + d * a->inv_std[k];
        }
    }
}

static void apply_column_dropout(const row_t *r) {
    const st_augment_t *a = r->a;
    int c0, c1, L = row_len(r);
    columns(r, &c0, &c1);
    const uint32_t *w = elem_words(r, c1 - c0);
    for (int c = c0; c < c1; c++)
        if (!a->protect[c] && unit(w[c - c0]) < (float)r->op->p_zero)
            for (int t = 0; t < L; t++) r->x[(long)t * a->C + c] = raw_zero(r, (long)t * a->C + c);
}

static void apply_feature_dropout(const row_t *r) {
    const st_augment_t *a = r->a;
    long n = (long)row_len(r) * a->C;
    const uint32_t *w = elem_words(r, n);
    float rate = (float)r->op->rate;
    for (long k = 0; k < n; k++)
        if (a->open[k] != 0.0f && unit(w[k]) < rate) r->x[k] = raw_zero(r, k);
}

/* ---- sequence operations (within the valid length; values past it stay 0) ---- */

static void apply_time_shift(const row_t *r) {
    const st_augment_t *a = r->a;
    int L = row_len(r), C = a->C;
    long M = r->op->max_steps, s = pick(unit(r->w[1]), -M, M);
    if (s == 0 || L < 2) return;
    memcpy(r->scratch, r->x, sizeof(float) * (size_t)L * (size_t)C);
    for (int t = 0; t < L; t++) {
        long src = t - s;
        if (r->op->mode == 0) src = ((src % L) + L) % L;
        for (int c = 0; c < C; c++) {
            long k = (long)t * C + c;
            r->x[k] = src >= 0 && src < L ? r->scratch[src * C + c] : raw_zero(r, k);
        }
    }
}

static void apply_time_mask(const row_t *r) {
    const st_augment_t *a = r->a;
    int L = row_len(r), C = a->C;
    const uint32_t *u = elem_words(r, 2 * r->op->count);
    for (long m = 0; m < r->op->count; m++) {
        long w = pick(unit(u[2 * m]), 0, r->op->max_width);
        if (w > L) w = L;
        long t0 = pick(unit(u[2 * m + 1]), 0, L - w);
        for (long t = t0; t < t0 + w; t++)
            for (int c = 0; c < C; c++)
                if (!a->protect[c]) r->x[t * C + c] = raw_zero(r, t * C + c);
    }
}

static void apply_feature_mask(const row_t *r) {
    const st_augment_t *a = r->a;
    int L = row_len(r), C = a->C;
    const uint32_t *u = elem_words(r, 2 * r->op->count);
    for (long m = 0; m < r->op->count; m++) {
        long w = pick(unit(u[2 * m]), 0, r->op->max_width);
        if (w > C) w = C;
        long c0 = pick(unit(u[2 * m + 1]), 0, C - w);
        for (int t = 0; t < L; t++)
            for (long c = c0; c < c0 + w; c++)
                if (!a->protect[c]) r->x[(long)t * C + c] = raw_zero(r, (long)t * C + c);
    }
}

/* Steps new_len..T_pad-1 of the row set to 0 (padding). */
static void zero_tail(const row_t *r, int new_len) {
    size_t C = (size_t)r->a->C;
    memset(r->x + (size_t)new_len * C, 0, sizeof(float) * ((size_t)r->T_pad - (size_t)new_len) * C);
    *r->len = new_len;
}

/* time_stretch's new length: round(L·f), f uniform in [min, max] (word 1), clipped to [1, T_pad];
 * an empty row stays empty. */
static int stretch_length(const st_aug_op_t *op, const uint32_t w[4], int L, int T_pad) {
    double f = op->min + (op->max - op->min) * unit(w[1]);
    long L2 = lround(L * f);
    if (L2 < 1) L2 = 1;
    if (L2 > T_pad) L2 = T_pad;
    return L < 1 ? L : (int)L2;
}

/* Linear resampling of the valid steps to round(L·f) steps (clipped to [1, T_pad]): step t reads
 * position t·(L − 1)/(L' − 1) of the original; protected columns take the nearest step. */
static void apply_time_stretch(const row_t *r) {
    const st_augment_t *a = r->a;
    int L = row_len(r), C = a->C;
    long L2 = stretch_length(r->op, r->w, L, r->T_pad);
    if (L < 1) return;
    memcpy(r->scratch, r->x, sizeof(float) * (size_t)L * (size_t)C);
    for (long t = 0; t < L2; t++) {
        double src = L2 > 1 ? (double)t * (L - 1) / (double)(L2 - 1) : 0;
        long i0 = (long)floor(src), i1 = i0 + 1 < L ? i0 + 1 : L - 1;
        float fr = (float)(src - (double)i0);
        for (int c = 0; c < C; c++)
            r->x[t * C + c] = a->protect[c] ? r->scratch[(fr < 0.5f ? i0 : i1) * C + c]
                                            : (1.0f - fr) * r->scratch[i0 * C + c] + fr * r->scratch[i1 * C + c];
    }
    zero_tail(r, (int)L2);
}

/* random_crop's new length: the fixed length, or uniform in [ceil(min_fraction·L), L] (word 1);
 * never longer than L. */
static int crop_length(const st_aug_op_t *op, const uint32_t w[4], int L, int T_pad) {
    (void)T_pad;
    long shortest = op->length > 0 ? (op->length < L ? op->length : L) : (long)ceil(op->min_fraction * L);
    if (shortest < 1) shortest = 1;
    long L2 = op->length > 0 ? shortest : pick(unit(w[1]), shortest, L);
    return L2 < L ? (int)L2 : L;
}

static void apply_random_crop(const row_t *r) {
    int L = row_len(r), C = r->a->C;
    long L2 = crop_length(r->op, r->w, L, r->T_pad);
    if (L2 >= L) return;
    long t0 = pick(unit(r->w[2]), 0, L - L2);
    memmove(r->x, r->x + t0 * C, sizeof(float) * (size_t)L2 * (size_t)C);
    zero_tail(r, (int)L2);
}

/* ---- parse-time checks ---- */

static st_status_t check_noise(const st_aug_op_t *op, const char *at, st_error_t *err) {
    if ((op->sigma >= 0) == (op->sigma_fraction >= 0))
        return st_fail(err, ST_ERR_CONFIG, "%s.sigma: give exactly one of sigma (raw units) and sigma_fraction_of_std", at);
    return ST_OK;
}

static st_status_t check_range(const st_aug_op_t *op, const char *at, st_error_t *err) {
    if (op->min > op->max)
        return st_fail(err, ST_ERR_CONFIG, "%s.min: %g is larger than max %g", at, op->min, op->max);
    return ST_OK;
}

static st_status_t check_jitter(const st_aug_op_t *op, const char *at, st_error_t *err) {
    if ((op->absolute >= 0) == (op->relative >= 0))
        return st_fail(err, ST_ERR_CONFIG, "%s.absolute: give exactly one of absolute (raw units) and relative (a fraction)",
                       at);
    return ST_OK;
}

static st_status_t check_columns_given(const st_aug_op_t *op, const char *at, st_error_t *err) {
    if (op->from < 0) return st_fail(err, ST_ERR_CONFIG, "%s.columns: required: [from, to) of the multi-hot range", at);
    return ST_OK;
}

static st_status_t check_crop(const st_aug_op_t *op, const char *at, st_error_t *err) {
    if ((op->min_fraction > 0) == (op->length > 0))
        return st_fail(err, ST_ERR_CONFIG, "%s.min_fraction: give exactly one of min_fraction (in (0, 1]) and length", at);
    return ST_OK;
}

/* ---- the table ---- */

#define FIELD(member) ST_FIELD(st_aug_op_t, member)
#define KEY_P {"p", ST_K_NUM, "1", 0, 1, NULL, "probability that a row gets the operation", FIELD(p)}
#define KEY_COLUMNS(req) {"columns", ST_K_INTS, req, 0, 1e9, NULL, "feature columns [from, to) (to exclusive)", {ST_F_NONE, 0, 0}}

static const st_key_t noise_keys[] = {
    KEY_P,
    {"sigma", ST_K_NUM, "", 0, 1e30, NULL, "noise std in raw units", FIELD(sigma)},
    {"sigma_fraction_of_std", ST_K_NUM, "", 0, 1e30, NULL, "noise std as a fraction of each feature's std",
     FIELD(sigma_fraction)},
};
static const st_key_t scale_keys[] = {
    KEY_P,
    {"min", ST_K_NUM, NULL, 0, 1e30, NULL, "smallest factor (raw x·u, around raw 0)", FIELD(min)},
    {"max", ST_K_NUM, NULL, 0, 1e30, NULL, "largest factor", FIELD(max)},
};
static const st_key_t jitter_keys[] = {
    KEY_P, KEY_COLUMNS(""),
    {"absolute", ST_K_NUM, "", 0, 1e30, NULL, "± this many raw units, one uniform draw per column", FIELD(absolute)},
    {"relative", ST_K_NUM, "", 0, 1, NULL, "× (1 ± this), one uniform draw per column", FIELD(relative)},
};
static const st_key_t column_dropout_keys[] = {
    KEY_P, KEY_COLUMNS(NULL),
    {"p_zero", ST_K_NUM, NULL, 0, 1, NULL, "probability each column of the range is zeroed (raw 0)", FIELD(p_zero)},
};
static const st_key_t feature_dropout_keys[] = {
    KEY_P, {"rate", ST_K_NUM, NULL, 0, 1, NULL, "probability each value is zeroed (raw 0)", FIELD(rate)},
};
static const st_key_t shift_keys[] = {
    KEY_P,
    {"max_steps", ST_K_INT, NULL, 0, 1e9, NULL, "shift by a uniform integer in [-max_steps, max_steps]",
     FIELD(max_steps)},
    {"mode", ST_K_ENUM, "\"wrap\"", 0, 0, "wrap|pad", "wrap: rotate within the length; pad: raw 0 comes in",
     FIELD(mode)},
};
static const st_key_t mask_keys[] = {
    KEY_P,
    {"count", ST_K_INT, "1", 0, 1000, NULL, "masks per row", FIELD(count)},
    {"max_width", ST_K_INT, NULL, 0, 1e9, NULL, "each mask's width is uniform in [0, max_width]", FIELD(max_width)},
};
static const st_key_t stretch_keys[] = {
    KEY_P,
    {"min", ST_K_NUM, NULL, 1e-3, 1e3, NULL, "smallest length factor", FIELD(min)},
    {"max", ST_K_NUM, NULL, 1e-3, 1e3, NULL, "largest length factor (the result is clipped to the data's T)",
     FIELD(max)},
};
static const st_key_t crop_keys[] = {
    KEY_P,
    {"min_fraction", ST_K_NUM, "", 1e-9, 1, NULL, "crop length uniform in [ceil(min_fraction·L), L]",
     FIELD(min_fraction)},
    {"length", ST_K_INT, "", 1, 1e9, NULL, "a fixed crop length (rows shorter stay whole)", FIELD(length)},
};
#undef FIELD

#define N(keys) (int)(sizeof keys / sizeof keys[0])
static const st_aug_kind_t kinds[] = {
    {"gaussian_noise", noise_keys, N(noise_keys), 0, check_noise, apply_noise, NULL},
    {"scale", scale_keys, N(scale_keys), 0, check_range, apply_scale, NULL},
    {"jitter", jitter_keys, N(jitter_keys), 0, check_jitter, apply_jitter, NULL},
    {"column_dropout", column_dropout_keys, N(column_dropout_keys), 0, check_columns_given, apply_column_dropout, NULL},
    {"feature_dropout", feature_dropout_keys, N(feature_dropout_keys), 0, NULL, apply_feature_dropout, NULL},
    {"time_shift", shift_keys, N(shift_keys), 1, NULL, apply_time_shift, NULL},
    {"time_mask", mask_keys, N(mask_keys), 1, NULL, apply_time_mask, NULL},
    {"feature_mask", mask_keys, N(mask_keys), 1, NULL, apply_feature_mask, NULL},
    {"time_stretch", stretch_keys, N(stretch_keys), 1, check_range, apply_time_stretch, stretch_length},
    {"random_crop", crop_keys, N(crop_keys), 1, check_crop, apply_random_crop, crop_length},
};
enum { N_KINDS = (int)(sizeof kinds / sizeof kinds[0]) };

const char *st_augment_names(void) {
    return "gaussian_noise, scale, jitter, column_dropout, feature_dropout, time_shift, time_mask, feature_mask, "
           "time_stretch, random_crop";
}

/* ---- parsing ---- */

static st_status_t parse_op(st_aug_op_t *op, const cJSON *obj, const char *at, st_error_t *err) {
    if (!cJSON_IsObject(obj)) return st_fail(err, ST_ERR_CONFIG, "%s: expected an object {\"op\": ..., \"p\": ...}", at);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "op");
    if (!cJSON_IsString(name)) return st_fail(err, ST_ERR_CONFIG, "%s.op: required: one of %s", at, st_augment_names());
    const st_aug_kind_t *kind = NULL;
    const char *names[N_KINDS];
    for (int k = 0; k < N_KINDS; k++) {
        names[k] = kinds[k].name;
        if (strcmp(kinds[k].name, name->valuestring) == 0) kind = &kinds[k];
    }
    if (!kind) {
        const char *near = st_closest_word(name->valuestring, names, N_KINDS);
        return st_fail(err, ST_ERR_CONFIG, "%s.op: unknown operation \"%s\"%s%s%s; known: %s", at, name->valuestring,
                       near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "", st_augment_names());
    }
    int index = op->index;
    memset(op, 0, sizeof *op);
    *op = (st_aug_op_t){.kind = kind, .index = index, .sigma = -1, .sigma_fraction = -1, .absolute = -1,
                        .relative = -1, .from = -1, .to = -1};
    static const char *const skip[] = {"op", NULL};
    st_val_t vals[8];
    ST_TRY(st_schema_read(kind->keys, kind->n_keys, obj, at, skip, vals, err));
    ST_TRY(st_schema_fill(kind->keys, kind->n_keys, vals, at, op, err));
    int c = st_schema_find(kind->keys, kind->n_keys, "columns");
    if (c >= 0 && vals[c].is_set) {
        if (vals[c].n != 2 || vals[c].list[0] >= vals[c].list[1])
            return st_fail(err, ST_ERR_CONFIG, "%s.columns: expected [from, to) with from < to (to exclusive)", at);
        op->from = (int)vals[c].list[0], op->to = (int)vals[c].list[1];
    }
    return kind->check ? kind->check(op, at, err) : ST_OK;
}

st_status_t st_augment_parse(st_augment_t *a, const cJSON *list, const char *path, st_error_t *err) {
    memset(a, 0, sizeof *a);
    if (!list || cJSON_IsNull(list)) return ST_OK;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > ST_AUGMENT_MAX_OPS)
        return st_fail(err, ST_ERR_CONFIG, "%s: expected a list of at most %d operations {\"op\": ..., \"p\": ...}", path,
                       ST_AUGMENT_MAX_OPS);
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        char at[64];
        st_format(at, sizeof at, "%s[%d]", path, a->n_ops);
        a->op[a->n_ops].index = a->n_ops;
        ST_TRY(parse_op(&a->op[a->n_ops], e, at, err));
        a->n_ops++;
    }
    return ST_OK;
}

/* ---- binding to a dataset ---- */

static st_status_t check_bound(const st_augment_t *a, const st_aug_op_t *op, const char *at, int is_sequence,
                               st_error_t *err) {
    if (op->kind->sequence_only && !is_sequence)
        return st_fail(err, ST_ERR_CONFIG, "%s.op: %s works on sequence rows [T, C]; the data's rows are [%d]", at,
                       op->kind->name, a->C);
    if (op->kind->new_length && !a->has_lengths)
        return st_fail(err, ST_ERR_CONFIG, "%s.op: %s changes row lengths; the data has no /lengths", at, op->kind->name);
    if (op->sigma_fraction >= 0 && op->kind->apply == apply_noise && !a->standardized)
        return st_fail(err, ST_ERR_CONFIG, "%s.sigma_fraction_of_std: needs data.standardize", at);
    if (op->from < 0) return ST_OK;
    if (op->to > a->C)
        return st_fail(err, ST_ERR_CONFIG, "%s.columns: [%d, %d) is outside the data's %d %s", at, op->from, op->to, a->C,
                       is_sequence ? "channels" : "features");
    for (int c = op->from; c < op->to; c++)
        if (a->protect[c])
            return st_fail(err, ST_ERR_CONFIG, "%s.columns: column %d feeds an embedding (data.categorical_columns, or a slice read by one) and "
                           "is never augmented", at, c);
    return ST_OK;
}

st_status_t st_augment_bind(st_augment_t *a, const char *path, int T, int C, int is_sequence, int has_lengths,
                            const double *mean, const double *std, int n_std, const int *protect_cols, int n_protect,
                            st_error_t *err) {
    a->T = is_sequence ? T : 1, a->C = C, a->has_lengths = has_lengths, a->standardized = mean != NULL;
    size_t n = (size_t)a->T * (size_t)C;
    a->inv_std = calloc(n, sizeof(float));
    a->mean_std = calloc(n, sizeof(float));
    a->open = calloc(n, sizeof(float));
    a->ppf = calloc(PPF_CELLS + 1, sizeof(float));
    if (!a->ppf) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (uint32_t i = 1; i < PPF_CELLS; i++) a->ppf[i] = (float)inverse_normal_cdf((double)i / PPF_CELLS);
    a->protect = calloc((size_t)C, 1);
    if (!a->inv_std || !a->mean_std || !a->open || !a->protect) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    for (size_t k = 0; k < n; k++) {
        size_t s = n_std == 1 ? 0 : (size_t)n_std == n ? k : k % (size_t)C;
        a->inv_std[k] = mean ? (float)(1.0 / std[s]) : 1.0f;
        a->mean_std[k] = mean ? (float)(mean[s] / std[s]) : 0.0f;
    }
    for (int i = 0; i < n_protect; i++)
        if (protect_cols[i] >= 0 && protect_cols[i] < C) a->protect[protect_cols[i]] = 1;
    for (size_t k = 0; k < n; k++) a->open[k] = a->protect[k % (size_t)C] ? 0.0f : 1.0f;
    for (int i = 0; i < a->n_ops; i++) {
        char at[64];
        st_format(at, sizeof at, "%s[%d]", path, i);
        ST_TRY(check_bound(a, &a->op[i], at, is_sequence, err));
        if (a->op[i].kind->apply == apply_time_stretch && a->op[i].max > 1) a->can_lengthen = 1;
    }
    return ST_OK;
}

void st_augment_free(st_augment_t *a) {
    free(a->inv_std), free(a->mean_std), free(a->open), free(a->protect), free(a->ppf);
    memset(a, 0, sizeof *a);
}

/* ---- applying ---- */

/* Whether operation op runs on the row with occurrence occ in this epoch; w ← its block-0 words. */
static int gate(uint32_t w[4], const st_aug_op_t *op, uint64_t seed, int64_t epoch, int64_t occ) {
    st_augment_row_words(w, seed, op->index, epoch, occ);
    return unit(w[0]) < (float)op->p;
}

st_status_t st_augment_apply(const st_augment_t *a, float *x, int32_t *len, const int64_t *occ, uint64_t seed,
                             int64_t epoch, int B, int T_pad, st_error_t *err) {
    if (a->n_ops == 0 || B <= 0) return ST_OK;
    size_t row = (size_t)T_pad * (size_t)a->C, rs = row > SCRATCH_MIN ? row : SCRATCH_MIN;
    float *scratch = malloc((size_t)B * rs * sizeof(float));
    if (!scratch) return st_fail(err, ST_ERR_NOMEM, "augment: cannot allocate a micro-batch of scratch");
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        int32_t L = len ? len[b] : T_pad;
        row_t r = {.a = a, .x = x + (size_t)b * row, .len = &L, .scratch = scratch + (size_t)b * rs,
                   .seed = seed, .epoch = epoch, .occ = occ[b], .T_pad = T_pad};
        for (int i = 0; i < a->n_ops; i++) {
            r.op = &a->op[i];
            if (gate(r.w, r.op, seed, epoch, occ[b])) r.op->kind->apply(&r);
        }
        if (len) len[b] = L;
    }
    free(scratch);
    return ST_OK;
}

void st_augment_lengths(int32_t *len_out, const st_augment_t *a, const int32_t *len, const int64_t *occ, uint64_t seed,
                        int64_t epoch, int B, int T_pad) {
    for (int b = 0; b < B; b++) {
        int L = len ? len[b] : T_pad;
        for (int i = 0; i < a->n_ops; i++) {
            const st_aug_op_t *op = &a->op[i];
            uint32_t w[4];
            if (op->kind->new_length && gate(w, op, seed, epoch, occ[b])) L = op->kind->new_length(op, w, L, T_pad);
        }
        len_out[b] = L;
    }
}
