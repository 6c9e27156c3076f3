/* test_augment.c — the augmentation operations (sharding/augment.h) over many draws: noise mean
 * and variance, scale and jitter ranges in raw units (through the standardisation), dropout
 * fractions, mask widths and shift/crop/stretch ranges within each row's valid length; p = 0 is
 * the identity, the gate's frequency is p, a row's draws do not depend on its micro-batch, the
 * epoch and the occurrence change them; st_augment_lengths gives exactly the lengths the apply
 * leaves, and cutmix spans planned from them lie within the augmented rows with λ the kept share;
 * config errors name augment[i].key; and data.repeat's sampler: each row k times an epoch as
 * occurrences id·k + r. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixup.h"
#include "sharding/augment.h"
#include "sharding/sampler.h"

#define D 64
#define NROWS 4000

/* A [D] list bound with mean m_f = 1 + f/8 and std s_f = 2 + f/16 for every feature. */
static double mean_[D], std_[D];

static st_augment_t make(const char *json, int protect_col) {
    for (int f = 0; f < D; f++) mean_[f] = 1 + f / 8.0, std_[f] = 2 + f / 16.0;
    cJSON *list = cJSON_Parse(json);
    assert_non_null(list);
    st_augment_t a;
    st_error_t err;
    st_status_t rc = st_augment_parse(&a, list, "augment", &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, ST_OK);
    cJSON_Delete(list);
    int prot[1] = {protect_col};
    rc = st_augment_bind(&a, "augment", 1, D, 0, 0, mean_, std_, D, prot, protect_col >= 0, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, ST_OK);
    return a;
}

/* x [n, D] standardised values of raw r(i, f) = 3 + i % 5 + f / 10; occurrences 0..n-1. */
static float *rows_of(int n, int64_t **occ) {
    float *x = malloc(sizeof(float) * (size_t)n * D);
    *occ = malloc(sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        (*occ)[i] = i;
        for (int f = 0; f < D; f++) x[i * D + f] = (float)((3 + i % 5 + f / 10.0 - mean_[f]) / std_[f]);
    }
    return x;
}

static double raw(const float *x, int i, int f) { return x[i * D + f] * std_[f] + mean_[f]; }

static void apply(const st_augment_t *a, float *x, const int64_t *occ, int n, int64_t epoch) {
    st_error_t err;
    assert_int_equal(st_augment_apply(a, x, NULL, occ, 7, epoch, n, 1, &err), ST_OK);
}

static void test_noise_mean_and_variance(void **s) {
    (void)s;
    const char *cases[] = {"[{\"op\":\"gaussian_noise\",\"sigma\":0.5}]", "[{\"op\":\"gaussian_noise\",\"sigma_fraction_of_std\":0.3}]"};
    for (int c = 0; c < 2; c++) {
        st_augment_t a = make(cases[c], -1);
        int64_t *occ;
        float *x = rows_of(NROWS, &occ), *x0 = malloc(sizeof(float) * NROWS * D);
        memcpy(x0, x, sizeof(float) * NROWS * D);
        apply(&a, x, occ, NROWS, 0);
        for (int f = 0; f < D; f += 9) { /* raw noise: σ 0.5, or 0.3·s_f */
            double sum = 0, sq = 0, want = c == 0 ? 0.5 : 0.3 * std_[f];
            int beyond2 = 0; /* a normal's tails: P(|z| > 2) = 4.55% */
            for (int i = 0; i < NROWS; i++) {
                double d = raw(x, i, f) - raw(x0, i, f);
                sum += d, sq += d * d, beyond2 += fabs(d) > 2 * want;
            }
            double m = sum / NROWS, sd = sqrt(sq / NROWS - m * m);
            assert_true(fabs(m) < 4 * want / sqrt(NROWS));
            assert_true(fabs(sd / want - 1) < 0.05);
            assert_true(fabs(beyond2 / (double)NROWS - 0.0455) < 0.015);
        }
        free(x), free(x0), free(occ), st_augment_free(&a);
    }
}

static void test_scale_range_in_raw_units(void **s) {
    (void)s;
    st_augment_t a = make("[{\"op\":\"scale\",\"min\":0.5,\"max\":1.5}]", 3);
    int64_t *occ;
    float *x = rows_of(NROWS, &occ), *x0 = malloc(sizeof(float) * NROWS * D);
    memcpy(x0, x, sizeof(float) * NROWS * D);
    apply(&a, x, occ, NROWS, 0);
    double lo = 9, hi = 0, sum = 0;
    for (int i = 0; i < NROWS; i++) {
        double u = raw(x, i, 0) / raw(x0, i, 0);
        for (int f = 1; f < D; f++) /* one factor a row, around raw 0; the protected column untouched */
            if (f == 3) assert_float_equal(x[i * D + f], x0[i * D + f], 0);
            else assert_float_equal(raw(x, i, f) / raw(x0, i, f), u, 1e-4);
        lo = fmin(lo, u), hi = fmax(hi, u), sum += u;
    }
    assert_true(lo >= 0.5 - 1e-5 && lo < 0.51 && hi <= 1.5 + 1e-5 && hi > 1.49);
    assert_true(fabs(sum / NROWS - 1) < 0.02);
    free(x), free(x0), free(occ), st_augment_free(&a);
}

/* Jitter ±5 raw units changes the standardised value by ±5/s_f, one draw per column. */
static void test_jitter_raw_units(void **s) {
    (void)s;
    st_augment_t a = make("[{\"op\":\"jitter\",\"columns\":[2,5],\"absolute\":5}]", -1);
    int64_t *occ;
    float *x = rows_of(NROWS, &occ), *x0 = malloc(sizeof(float) * NROWS * D);
    memcpy(x0, x, sizeof(float) * NROWS * D);
    apply(&a, x, occ, NROWS, 0);
    double hi = 0;
    for (int i = 0; i < NROWS; i++)
        for (int f = 0; f < D; f++) {
            double dz = (double)x[i * D + f] - x0[i * D + f];
            if (f < 2 || f >= 5) assert_float_equal(dz, 0, 0);
            else assert_true(fabs(dz) <= 5 / std_[f] + 1e-5), hi = fmax(hi, fabs(dz) * std_[f]);
        }
    assert_true(hi > 4.9);
    st_augment_free(&a);
    /* relative 25%: raw r·(1 + δ), |δ| <= 0.25 */
    a = make("[{\"op\":\"jitter\",\"columns\":[0,1],\"relative\":0.25}]", -1);
    memcpy(x, x0, sizeof(float) * NROWS * D);
    apply(&a, x, occ, NROWS, 0);
    double rlo = 9, rhi = 0;
    for (int i = 0; i < NROWS; i++) {
        double q = raw(x, i, 0) / raw(x0, i, 0);
        rlo = fmin(rlo, q), rhi = fmax(rhi, q);
    }
    assert_true(rlo >= 0.75 - 1e-5 && rlo < 0.76 && rhi <= 1.25 + 1e-5 && rhi > 1.24);
    free(x), free(x0), free(occ), st_augment_free(&a);
}

/* The share of values set to raw 0 (standardised −m/s), and the gate's frequency p. */
static double zeroed_share(const float *x, int f0, int f1) {
    long z = 0;
    for (int i = 0; i < NROWS; i++)
        for (int f = f0; f < f1; f++) z += fabs(raw(x, i, f)) < 1e-5;
    return (double)z / ((double)NROWS * (f1 - f0));
}

static void test_dropout_fractions_and_gate(void **s) {
    (void)s;
    int64_t *occ;
    float *x = rows_of(NROWS, &occ), *x0 = malloc(sizeof(float) * NROWS * D);
    memcpy(x0, x, sizeof(float) * NROWS * D);
    st_augment_t a = make("[{\"op\":\"feature_dropout\",\"rate\":0.2}]", -1);
    apply(&a, x, occ, NROWS, 0);
    assert_true(fabs(zeroed_share(x, 0, D) - 0.2) < 0.01);
    st_augment_free(&a);
    memcpy(x, x0, sizeof(float) * NROWS * D);
    a = make("[{\"op\":\"column_dropout\",\"columns\":[10,40],\"p_zero\":0.3,\"p\":0.5}]", -1);
    apply(&a, x, occ, NROWS, 0);
    assert_true(fabs(zeroed_share(x, 10, 40) - 0.15) < 0.01); /* gate 0.5 × 0.3 */
    assert_float_equal(zeroed_share(x, 0, 10) + zeroed_share(x, 40, D), 0, 0);
    st_augment_free(&a);
    /* p = 0: the identity, for every value operation */
    memcpy(x, x0, sizeof(float) * NROWS * D);
    a = make("[{\"op\":\"gaussian_noise\",\"sigma\":1,\"p\":0},{\"op\":\"scale\",\"min\":2,\"max\":3,\"p\":0},"
             "{\"op\":\"jitter\",\"absolute\":1,\"p\":0},{\"op\":\"feature_dropout\",\"rate\":1,\"p\":0},"
             "{\"op\":\"column_dropout\",\"columns\":[0,64],\"p_zero\":1,\"p\":0}]", -1);
    apply(&a, x, occ, NROWS, 0);
    assert_memory_equal(x, x0, sizeof(float) * NROWS * D);
    free(x), free(x0), free(occ), st_augment_free(&a);
}

/* A row's result depends on (seed, op, epoch, occurrence) only: the same alone or in a batch;
 * another epoch, or another copy of the row under data.repeat 3 (occurrence 5·3 + 1 instead of
 * 5·3 + 0), draws again. */
static void test_draws_follow_the_occurrence(void **s) {
    (void)s;
    st_augment_t a = make("[{\"op\":\"gaussian_noise\",\"sigma\":1},{\"op\":\"scale\",\"min\":0.5,\"max\":2}]", -1);
    int64_t *occ;
    float *x = rows_of(8, &occ), one[D], other[D];
    int64_t occ5 = 5 * 3 + 0, occ6 = 5 * 3 + 1;
    for (int i = 0; i < 8; i++) occ[i] = i * 3; /* the first copy of rows 0..7 */
    memcpy(one, x + 5 * D, sizeof one), memcpy(other, x + 5 * D, sizeof other);
    apply(&a, x, occ, 8, 2);
    apply(&a, one, &occ5, 1, 2);
    assert_memory_equal(one, x + 5 * D, sizeof one);
    apply(&a, other, &occ6, 1, 2);
    assert_memory_not_equal(other, x + 5 * D, sizeof one);
    int64_t *unused;
    float *y = rows_of(8, &unused);
    free(unused);
    float *z = malloc(sizeof(float) * 8 * D);
    memcpy(z, y, sizeof(float) * 8 * D);
    apply(&a, y, occ, 8, 2); /* the same occurrences and epoch again: the same bits */
    assert_memory_equal(y, x, sizeof(float) * 8 * D);
    apply(&a, z, occ, 8, 3); /* another epoch */
    assert_memory_not_equal(z + 5 * D, x + 5 * D, sizeof one);
    free(x), free(y), free(z), free(occ), st_augment_free(&a);
}

/* ---- sequences: [T, C] rows with lengths ---- */

#define T 40
#define C 6

static st_augment_t make_seq(const char *json, int has_lengths) {
    static double m[C], sd[C];
    for (int c = 0; c < C; c++) m[c] = 0.5, sd[c] = 2;
    cJSON *list = cJSON_Parse(json);
    st_augment_t a;
    st_error_t err;
    assert_int_equal(st_augment_parse(&a, list, "augment", &err), ST_OK);
    cJSON_Delete(list);
    st_status_t rc = st_augment_bind(&a, "augment", T, C, 1, has_lengths, m, sd, C, NULL, 0, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, ST_OK);
    return a;
}

/* n rows: value (t, c) = 100 + t + c/10 (standardised as is) for t < len, len 10..39, 0 after. */
static float *seq_rows(int n, int32_t *len, int64_t *occ) {
    float *x = calloc((size_t)n * T * C, sizeof(float));
    for (int i = 0; i < n; i++) {
        occ[i] = i, len[i] = 10 + i % 30;
        for (int t = 0; t < len[i]; t++)
            for (int c = 0; c < C; c++) x[((size_t)i * T + t) * C + c] = 100 + t + c / 10.0f;
    }
    return x;
}

enum { NS = 3000 };
static const float ZERO = -0.25f; /* raw 0 standardised: −0.5 / 2 */

static void check_padding(const float *x, const int32_t *len, int n) {
    for (int i = 0; i < n; i++)
        for (int k = len[i] * C; k < T * C; k++) assert_float_equal(x[(size_t)i * T * C + k], 0, 0);
}

static void test_time_mask_widths_within_length(void **s) {
    (void)s;
    int32_t len[NS], len0[NS];
    int64_t occ[NS];
    float *x = seq_rows(NS, len, occ);
    memcpy(len0, len, sizeof len);
    st_augment_t a = make_seq("[{\"op\":\"time_mask\",\"count\":1,\"max_width\":6}]", 1);
    st_error_t err;
    assert_int_equal(st_augment_apply(&a, x, len, occ, 9, 0, NS, T, &err), ST_OK);
    assert_memory_equal(len, len0, sizeof len);
    long masked = 0, widths[7] = {0};
    for (int i = 0; i < NS; i++) {
        int w = 0, first = -1;
        for (int t = 0; t < len[i]; t++) {
            int m = x[((size_t)i * T + t) * C] == ZERO;
            for (int c = 1; c < C; c++) assert_int_equal(x[((size_t)i * T + t) * C + c] == ZERO, m); /* whole steps */
            if (m && first < 0) first = t;
            if (m) assert_int_equal(t, first + w), w++; /* one contiguous span */
        }
        assert_true(w <= 6);
        widths[w]++, masked += w;
    }
    check_padding(x, len, NS);
    for (int w = 0; w <= 6; w++) assert_true(fabs(widths[w] / (double)NS - 1 / 7.0) < 0.025); /* uniform 0..6 */
    assert_true(fabs(masked / (double)NS - 3) < 0.15);
    free(x), st_augment_free(&a);
}

static void test_feature_mask(void **s) {
    (void)s;
    int32_t len[NS];
    int64_t occ[NS];
    float *x = seq_rows(NS, len, occ);
    st_augment_t a = make_seq("[{\"op\":\"feature_mask\",\"count\":2,\"max_width\":2}]", 1);
    st_error_t err;
    assert_int_equal(st_augment_apply(&a, x, len, occ, 9, 0, NS, T, &err), ST_OK);
    long masked = 0;
    for (int i = 0; i < NS; i++)
        for (int c = 0; c < C; c++) {
            int m = x[(size_t)i * T * C + c] == ZERO;
            for (int t = 0; t < len[i]; t++) assert_int_equal(x[((size_t)i * T + t) * C + c] == ZERO, m); /* all steps */
            masked += m;
        }
    /* two spans of width uniform in 0..2 (mean 1, overlapping sometimes): 1..2 channels on average */
    assert_true(masked / (double)NS > 1.5 && masked / (double)NS < 2.0);
    check_padding(x, len, NS);
    free(x), st_augment_free(&a);
}

static void test_time_shift_range(void **s) {
    (void)s;
    for (int mode = 0; mode < 2; mode++) {
        int32_t len[NS];
        int64_t occ[NS];
        float *x = seq_rows(NS, len, occ);
        st_augment_t a = make_seq(mode ? "[{\"op\":\"time_shift\",\"max_steps\":3,\"mode\":\"pad\"}]"
                                       : "[{\"op\":\"time_shift\",\"max_steps\":3}]", 1);
        st_error_t err;
        assert_int_equal(st_augment_apply(&a, x, len, occ, 9, 0, NS, T, &err), ST_OK);
        long seen[7] = {0};
        for (int i = 0; i < NS; i++) {
            int L = len[i], sh = -99;
            for (int t = 0; t < L; t++) {
                float v = x[((size_t)i * T + t) * C];
                if (v == ZERO) continue; /* padded in */
                int src = (int)lroundf(v - 100), d = ((t - src) % L + L) % L;
                int sd = d > L / 2 ? d - L : d;
                if (sh == -99) sh = sd;
                assert_int_equal(sd, sh);
            }
            assert_true(sh >= -3 && sh <= 3);
            seen[sh + 3]++;
        }
        for (int k = 0; k < 7; k++) assert_true(fabs(seen[k] / (double)NS - 1 / 7.0) < 0.025);
        check_padding(x, len, NS);
        free(x), st_augment_free(&a);
    }
}

static void test_crop_and_stretch_lengths(void **s) {
    (void)s;
    int32_t len[NS], len0[NS];
    int64_t occ[NS];
    float *x = seq_rows(NS, len, occ);
    memcpy(len0, len, sizeof len);
    st_augment_t a = make_seq("[{\"op\":\"random_crop\",\"min_fraction\":0.5}]", 1);
    st_error_t err;
    assert_int_equal(st_augment_apply(&a, x, len, occ, 9, 0, NS, T, &err), ST_OK);
    double ratio = 0;
    for (int i = 0; i < NS; i++) {
        assert_true(len[i] >= (int)ceil(0.5 * len0[i]) && len[i] <= len0[i]);
        ratio += (double)len[i] / len0[i];
        float t0 = x[(size_t)i * T * C] - 100;
        for (int t = 0; t < len[i]; t++) assert_float_equal(x[((size_t)i * T + t) * C] - 100, t0 + t, 1e-4); /* a window */
        assert_true(t0 >= 0 && t0 + len[i] <= len0[i]);
    }
    assert_true(ratio / NS > 0.7 && ratio / NS < 0.8);
    check_padding(x, len, NS);
    free(x), st_augment_free(&a);

    x = seq_rows(NS, len, occ);
    a = make_seq("[{\"op\":\"time_stretch\",\"min\":0.8,\"max\":1.5}]", 1);
    assert_int_equal(st_augment_apply(&a, x, len, occ, 9, 0, NS, T, &err), ST_OK);
    assert_true(a.can_lengthen);
    for (int i = 0; i < NS; i++) {
        long want_lo = lround(len0[i] * 0.8), want_hi = lround(len0[i] * 1.5);
        if (want_hi > T) want_hi = T; /* clipped to the padded T */
        assert_true(len[i] >= want_lo && len[i] <= want_hi);
        /* linear resampling: first and last steps kept, steps increasing */
        assert_float_equal(x[(size_t)i * T * C], 100, 1e-4);
        assert_float_equal(x[((size_t)i * T + len[i] - 1) * C], 100 + len0[i] - 1, 1e-3);
    }
    check_padding(x, len, NS);
    free(x), st_augment_free(&a);
}

/* p = 0: every sequence operation leaves values and lengths alone. */
static void test_sequence_p0_identity(void **s) {
    (void)s;
    int32_t len[64], len0[64];
    int64_t occ[64];
    float *x = seq_rows(64, len, occ), *x0 = malloc(sizeof(float) * 64 * T * C);
    memcpy(x0, x, sizeof(float) * 64 * T * C), memcpy(len0, len, sizeof len);
    st_augment_t a = make_seq("[{\"op\":\"time_shift\",\"max_steps\":3,\"p\":0},{\"op\":\"time_mask\",\"max_width\":5,\"p\":0},"
                              "{\"op\":\"feature_mask\",\"max_width\":2,\"p\":0},{\"op\":\"time_stretch\",\"min\":0.5,\"max\":2,\"p\":0},"
                              "{\"op\":\"random_crop\",\"length\":4,\"p\":0}]", 1);
    st_error_t err;
    assert_int_equal(st_augment_apply(&a, x, len, occ, 9, 0, 64, T, &err), ST_OK);
    assert_memory_equal(x, x0, sizeof(float) * 64 * T * C);
    assert_memory_equal(len, len0, sizeof len);
    free(x), free(x0), st_augment_free(&a);
}

/* ---- lengths without the data: st_augment_lengths == what st_augment_apply leaves ---- */

enum { NL = 600 };

/* n rows [T_pad, C] of row-specific values 1000·i + t + c/10 within their lengths len [n], 0 after. */
static float *rows_with(int n, const int32_t *len, int T_pad) {
    float *x = calloc((size_t)n * T_pad * C, sizeof(float));
    for (int i = 0; i < n; i++)
        for (int t = 0; t < len[i]; t++)
            for (int c = 0; c < C; c++) x[((size_t)i * T_pad + t) * C + c] = 1000.0f * (float)i + (float)t + c / 10.0f;
    return x;
}

/* Lengths 1..T (every one), occurrence ids spread out (data.repeat-like: id·3 + r). */
static void varied_rows(int32_t *len, int64_t *occ, int n) {
    for (int i = 0; i < n; i++) len[i] = 1 + (i * 13) % T, occ[i] = (int64_t)(i * 7919 % 5003) * 3 + i % 3;
}

/* For each list, epochs 0..5: the predicted lengths equal the applied ones at the data's T; a
 * list that cannot lengthen rows also at T_pad = the micro-batch's longest length (what the
 * engine gathers it at). Returns how many rows changed length, summed. */
static long lengths_agree(const char *json, int *lengthened) {
    st_augment_t a = make_seq(json, 1);
    int32_t len0[NL], len[NL], pred[NL];
    int64_t occ[NL];
    varied_rows(len0, occ, NL);
    long changed = 0;
    for (int64_t epoch = 0; epoch < 6; epoch++) {
        int T_pad = T;
        if (!a.can_lengthen)
            for (int i = 0, m = T_pad = 1; i < NL; i++) T_pad = m = len0[i] > m ? len0[i] : m;
        float *x = rows_with(NL, len0, T_pad);
        memcpy(len, len0, sizeof len);
        st_error_t err;
        assert_int_equal(st_augment_apply(&a, x, len, occ, 11, epoch, NL, T_pad, &err), ST_OK);
        st_augment_lengths(pred, &a, len0, occ, 11, epoch, NL, T);
        for (int i = 0; i < NL; i++) {
            if (pred[i] != len[i]) fail_msg("%s epoch %ld row %d: predicted %d, applied %d", json, (long)epoch, i, pred[i], len[i]);
            changed += len[i] != len0[i], *lengthened += len[i] > len0[i];
        }
        memcpy(pred, len0, sizeof pred); /* in place (len_out = len) gives the same */
        st_augment_lengths(pred, &a, pred, occ, 11, epoch, NL, T);
        assert_memory_equal(pred, len, sizeof pred);
        free(x);
    }
    st_augment_free(&a);
    return changed;
}

static void test_lengths_match_apply(void **s) {
    (void)s;
    static const char *lists[] = {
        "[{\"op\":\"random_crop\",\"min_fraction\":0.3}]",
        "[{\"op\":\"random_crop\",\"length\":7,\"p\":0.6}]",
        "[{\"op\":\"time_stretch\",\"min\":0.5,\"max\":0.95}]",
        "[{\"op\":\"time_stretch\",\"min\":0.7,\"max\":1.8,\"p\":0.7}]",
        "[{\"op\":\"time_stretch\",\"min\":0.8,\"max\":1.25,\"p\":0.5},{\"op\":\"random_crop\",\"min_fraction\":0.7,\"p\":0.3}]",
        "[{\"op\":\"random_crop\",\"min_fraction\":0.5,\"p\":0.5},{\"op\":\"time_stretch\",\"min\":1.1,\"max\":2.5}]",
        "[{\"op\":\"time_shift\",\"max_steps\":2,\"mode\":\"pad\"},{\"op\":\"time_mask\",\"count\":2,\"max_width\":3},"
        "{\"op\":\"time_stretch\",\"min\":0.6,\"max\":1.4,\"p\":0.5},{\"op\":\"feature_mask\",\"max_width\":1},"
        "{\"op\":\"random_crop\",\"length\":12,\"p\":0.4},{\"op\":\"gaussian_noise\",\"sigma\":0.1},"
        "{\"op\":\"time_stretch\",\"min\":0.9,\"max\":1.3,\"p\":0.5}]",
        "[{\"op\":\"time_shift\",\"max_steps\":3},{\"op\":\"scale\",\"min\":0.9,\"max\":1.1},{\"op\":\"time_mask\",\"max_width\":4}]",
    };
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        int lengthened = 0;
        long changed = lengths_agree(lists[k], &lengthened);
        if (k < 7) assert_true(changed > 6 * NL / 10); /* the length ops did act (a test that can fail) */
        else assert_int_equal(changed, 0);
        if (k == 3 || k == 5 || k == 6) assert_true(lengthened > 0);
    }
}

/* Cutmix planned as the engine plans it (st_augment_lengths before the rows exist) over
 * micro-batches of crop/stretch-augmented rows: every span lies within its augmented row, and
 * st_mix_inputs takes exactly span_len positions from the partner, so λ = 1 − (positions taken) /
 * length. The plan from the stored lengths would not (checked: some of its spans reach past). */
static void test_cutmix_spans_within_augmented_lengths(void **s) {
    (void)s;
    enum { MB = 16, STEPS = 60 };
    st_augment_t a = make_seq("[{\"op\":\"time_stretch\",\"min\":0.6,\"max\":1.5,\"p\":0.6},"
                              "{\"op\":\"time_shift\",\"max_steps\":2},{\"op\":\"random_crop\",\"min_fraction\":0.3,\"p\":0.7}]", 1);
    st_mix_config_t mix = {.cutmix = {.alpha = 1.0, .p = 1.0}};
    long cut = 0, stored_past = 0;
    for (int step = 0; step < STEPS; step++) {
        int32_t len0[MB], len[MB], plan_len[MB], stored[MB], len_out[MB];
        int64_t occ[MB];
        for (int i = 0; i < MB; i++) len0[i] = 2 + (step * 5 + i * 11) % (T - 1), occ[i] = step * 97 + i * 31;
        int64_t epoch = step / 20;
        st_augment_lengths(plan_len, &a, len0, occ, 13, epoch, MB, T);
        st_mix_row_t plan[MB], old[MB];
        uint64_t order[MB];
        st_mix_plan(plan, order, &mix, 13, 2, (uint32_t)step, occ, plan_len, T, MB);
        memcpy(stored, len0, sizeof stored);
        st_mix_plan(old, order, &mix, 13, 2, (uint32_t)step, occ, stored, T, MB);
        float *x = rows_with(MB, len0, T), *out = malloc(sizeof(float) * MB * T * C);
        memcpy(len, len0, sizeof len);
        st_error_t err;
        assert_int_equal(st_augment_apply(&a, x, len, occ, 13, epoch, MB, T, &err), ST_OK);
        st_mix_inputs(out, len_out, x, len, plan, MB, T, C);
        for (int i = 0; i < MB; i++) {
            stored_past += old[i].span_len > 0 && old[i].span0 + old[i].span_len > len[i];
            if (plan[i].span_len == 0) continue;
            cut++;
            assert_true(plan[i].span0 >= 0 && plan[i].span0 + plan[i].span_len <= len[i]);
            int taken = 0;
            for (int t = 0; t < T; t++) {
                const float *o = out + ((size_t)i * T + t) * C, *own = x + ((size_t)i * T + t) * C;
                const float *other = x + ((size_t)plan[i].partner * T + t) * C;
                if (memcmp(o, own, sizeof(float) * C) == 0) continue;
                assert_memory_equal(o, other, sizeof(float) * C);
                assert_true(t >= plan[i].span0 && t < plan[i].span0 + plan[i].span_len && t < len[i]);
                taken++;
            }
            assert_int_equal(taken, plan[i].span_len);
            assert_float_equal(plan[i].lam, 1.0 - (double)taken / len[i], 1e-6);
            assert_int_equal(len_out[i], len[i]);
        }
        free(x), free(out);
    }
    assert_true(cut > STEPS * MB / 2);
    assert_true(stored_past > 0); /* the old plan's spans did reach past cropped rows */
    st_augment_free(&a);
}

/* ---- errors ---- */

static void expect_error(const char *json, int seq, int has_len, const char *fragment) {
    cJSON *list = cJSON_Parse(json);
    assert_non_null(list);
    st_augment_t a;
    st_error_t err = {0};
    int prot[1] = {7};
    st_status_t rc = st_augment_parse(&a, list, "augment", &err);
    if (rc == ST_OK) rc = st_augment_bind(&a, "augment", seq ? T : 1, seq ? C : D, seq, has_len, NULL, NULL, 0, prot, 1, &err);
    cJSON_Delete(list);
    st_augment_free(&a);
    if (rc == ST_OK || !strstr(err.msg, fragment)) fprintf(stderr, "%s: got \"%s\"\n", json, err.msg);
    assert_int_equal(rc, ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, fragment));
}

static void test_config_errors(void **s) {
    (void)s;
    expect_error("[{\"op\":\"gausian_noise\",\"sigma\":1}]", 0, 0, "augment[0].op: unknown operation \"gausian_noise\" (did you mean \"gaussian_noise\"?)");
    expect_error("[{\"op\":\"scale\",\"min\":1,\"max\":1}, {\"op\":\"scale\",\"min\":2,\"max\":1}]", 0, 0, "augment[1].min: 2 is larger than max 1");
    expect_error("[{\"op\":\"scale\",\"min\":1,\"max\":2,\"p\":1.5}]", 0, 0, "augment[0].p");
    expect_error("[{\"op\":\"scale\",\"min\":1,\"max\":2,\"sigma\":1}]", 0, 0, "augment[0]: unknown key \"sigma\"");
    expect_error("[{\"op\":\"gaussian_noise\"}]", 0, 0, "augment[0].sigma: give exactly one");
    expect_error("[{\"op\":\"jitter\",\"columns\":[60,70],\"absolute\":1}]", 0, 0, "augment[0].columns: [60, 70) is outside the data's 64 features");
    expect_error("[{\"op\":\"jitter\",\"columns\":[5,3],\"absolute\":1}]", 0, 0, "augment[0].columns: expected [from, to)");
    expect_error("[{\"op\":\"column_dropout\",\"columns\":[5,9],\"p_zero\":0.5}]", 0, 0, "augment[0].columns: column 7 feeds an embedding");
    expect_error("[{\"op\":\"column_dropout\",\"p_zero\":0.5}]", 0, 0, "augment[0].columns: required");
    expect_error("[{\"op\":\"time_mask\",\"max_width\":3}]", 0, 0, "augment[0].op: time_mask works on sequence rows [T, C]; the data's rows are [64]");
    expect_error("[{\"op\":\"random_crop\",\"length\":3}]", 1, 0, "augment[0].op: random_crop changes row lengths; the data has no /lengths");
    expect_error("[{\"op\":\"gaussian_noise\",\"sigma_fraction_of_std\":0.1}]", 0, 0, "augment[0].sigma_fraction_of_std: needs data.standardize");
    expect_error("{\"op\":\"scale\"}", 0, 0, "augment: expected a list");
}

/* ---- data.repeat: each row k times an epoch, occurrences id·k + r ---- */

static void test_repeat_sampler(void **s) {
    (void)s;
    enum { N = 240, K = 3, S = 4, MB = 12 };
    int64_t ids[N];
    int32_t labels[N];
    for (int i = 0; i < N; i++) ids[i] = 1000 + 2 * i, labels[i] = i % 3;
    st_shards_t sh;
    st_error_t err;
    assert_int_equal(st_shards_build(&sh, ids, labels, 1, N, 3, S, &err), ST_OK);
    st_sampler_t plain, rep;
    assert_int_equal(st_sampler_init(&plain, &sh, 0, S, MB, 1, 5, &err), ST_OK);
    assert_int_equal(st_sampler_init(&rep, &sh, 0, S, MB, 1, 5, &err), ST_OK);
    assert_int_equal(st_sampler_set_repeat(&rep, K, &err), ST_OK);
    assert_int_equal(rep.steps_per_epoch, plain.steps_per_epoch * K);
    assert_int_equal(st_sampler_set_repeat(&plain, 1, &err), ST_OK); /* k = 1: the old orders */
    st_sampler_t old;
    assert_int_equal(st_sampler_init(&old, &sh, 0, S, MB, 1, 5, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&plain, 1, &err), ST_OK);
    assert_int_equal(st_sampler_set_epoch(&old, 1, &err), ST_OK);
    assert_memory_equal(plain.order, old.order, sizeof(int64_t) * N);
    assert_int_equal(st_sampler_set_epoch(&rep, 1, &err), ST_OK);
    int count[N] = {0}, seen_r[N][K];
    memset(seen_r, 0, sizeof seen_r);
    int64_t mb[MB];
    for (int sd = 0; sd < S; sd++)
        for (int64_t st = 0; st < rep.steps_per_epoch; st++) {
            assert_int_equal(st_sampler_micro_batch(mb, &rep, sd, st, 0, &err), ST_OK);
            for (int i = 0; i < MB; i++) {
                int64_t row = mb[i] / K, r = mb[i] % K;
                assert_int_equal(st_shards_find(&sh, row), sd);
                count[(row - 1000) / 2]++, seen_r[(row - 1000) / 2][r]++;
            }
        }
    /* 60 rows a shard × 3 = 180 occurrences = 15 micro-batches: every occurrence once */
    for (int i = 0; i < N; i++) {
        assert_int_equal(count[i], K);
        for (int r = 0; r < K; r++) assert_int_equal(seen_r[i][r], 1);
    }
    /* copies of a row are spread through the epoch, not adjacent */
    int adjacent = 0;
    for (int64_t i = 1; i < (int64_t)N * K; i++) adjacent += rep.order[i] / K == rep.order[i - 1] / K;
    assert_true(adjacent < 25); /* about 720 · 2/179 = 8 by chance; 480 if copies were adjacent */
    st_sampler_free(&plain), st_sampler_free(&rep), st_sampler_free(&old), st_shards_free(&sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noise_mean_and_variance),
        cmocka_unit_test(test_scale_range_in_raw_units),
        cmocka_unit_test(test_jitter_raw_units),
        cmocka_unit_test(test_dropout_fractions_and_gate),
        cmocka_unit_test(test_draws_follow_the_occurrence),
        cmocka_unit_test(test_time_mask_widths_within_length),
        cmocka_unit_test(test_feature_mask),
        cmocka_unit_test(test_time_shift_range),
        cmocka_unit_test(test_crop_and_stretch_lengths),
        cmocka_unit_test(test_sequence_p0_identity),
        cmocka_unit_test(test_lengths_match_apply),
        cmocka_unit_test(test_cutmix_spans_within_augmented_lengths),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_repeat_sampler),
    };
    return cmocka_run_group_tests_name("augment", tests, NULL, NULL);
}
