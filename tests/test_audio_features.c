/* test_audio_features.c — sharding/audio_features: log-mels and MFCCs of a chirp, noise and a
 * sine mix (1 s and 0.3 s at 16 kHz) against the numpy/scipy reference of
 * tests/fixtures/gen_audio_features.py (1e-4 absolute); the framing rule at its edges; audio
 * shorter than a window; one plan shared by threads gives the same bits; each bad option is
 * rejected with a message naming it. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sharding/audio_features.h"

#define FIX "audio_features.h5"

static const char *const signals[] = {"chirp_1s", "chirp_300ms", "noise_1s", "noise_300ms", "sines_1s", "sines_300ms"};
#define N_SIGNALS (int)(sizeof signals / sizeof signals[0])

/* Features of fixture signal `name` with options `o`; *n_out gets the value count. */
static float *features_of(const char *name, const st_audio_features_t *o, size_t *n_out) {
    char path[64];
    size_t n;
    snprintf(path, sizeof path, "/%s/x", name);
    float *x = tu_read_f32(FIX, path, &n);
    st_audio_plan_t *plan;
    st_error_t err = {0};
    assert_int_equal(st_audio_plan_create(&plan, o, &err), ST_OK);
    *n_out = (size_t)st_audio_n_frames((long)n, o) * (size_t)st_audio_n_features(o);
    float *out = malloc(*n_out * sizeof *out);
    assert_int_equal(st_audio_log_mel(out, x, (long)n, o, plan, &err), ST_OK);
    st_audio_plan_free(plan);
    free(x);
    return out;
}

static void compare(const char *what, const st_audio_features_t *o) {
    for (int s = 0; s < N_SIGNALS; s++) {
        char path[64];
        size_t n_ref, n_got;
        snprintf(path, sizeof path, "/%s/%s", signals[s], what);
        float *ref = tu_read_f32(FIX, path, &n_ref);
        float *got = features_of(signals[s], o, &n_got);
        assert_int_equal(n_got, n_ref);  /* same frame count as the reference's framing */
        tu_assert_close(path, got, ref, n_ref, 1e-4, 0);
        free(ref);
        free(got);
    }
}

static void test_log_mel_matches_reference(void **state) {
    (void)state;
    st_audio_features_t o = st_audio_features_default();
    compare("logmel", &o);
}

static void test_mfcc_matches_scipy_dct(void **state) {
    (void)state;
    st_audio_features_t o = st_audio_features_default();
    o.n_mfcc = 13;
    compare("mfcc13", &o);
}

static void test_frame_count_rule(void **state) {
    (void)state;
    st_audio_features_t o = st_audio_features_default();  /* win 400, hop 160 */
    assert_int_equal(st_audio_win_length(&o), 400);
    assert_int_equal(st_audio_hop_length(&o), 160);
    const long n[] = {0, 399, 400, 559, 560, 4800, 16000}, frames[] = {0, 0, 1, 1, 2, 28, 98};
    for (int i = 0; i < 7; i++) assert_int_equal(st_audio_n_frames(n[i], &o), frames[i]);
    o.win_ms = 32;  /* 512 samples, hop 160 */
    assert_int_equal(st_audio_n_frames(512 + 3 * 160, &o), 4);
}

static void test_short_audio_is_an_error(void **state) {
    (void)state;
    st_audio_features_t o = st_audio_features_default();
    st_audio_plan_t *plan;
    st_error_t err = {0};
    assert_int_equal(st_audio_plan_create(&plan, &o, &err), ST_OK);
    float x[400] = {0}, out[40]; /* 400 samples: the second call reads them all */
    assert_int_equal(st_audio_log_mel(out, x, 399, &o, plan, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "399 samples");
    tu_assert_contains(err.msg, "400 samples");
    assert_int_equal(st_audio_log_mel(out, x, 400, &o, plan, &err), ST_OK);  /* silence: log(1e-6) */
    assert_true(fabsf(out[0] - logf(1e-6f)) < 1e-5f);
    st_audio_plan_free(plan);
}

static void test_one_plan_many_threads(void **state) {
    (void)state;
    st_audio_features_t o = st_audio_features_default();
    size_t n;
    float *x = tu_read_f32(FIX, "/noise_1s/x", &n);
    st_audio_plan_t *plan;
    st_error_t err = {0};
    assert_int_equal(st_audio_plan_create(&plan, &o, &err), ST_OK);
    size_t n_out = (size_t)st_audio_n_frames((long)n, &o) * 40;
    float *serial = malloc(n_out * sizeof *serial), *par = malloc(8 * n_out * sizeof *par);
    assert_int_equal(st_audio_log_mel(serial, x, (long)n, &o, plan, &err), ST_OK);
    int bad = 0;
#pragma omp parallel for num_threads(2) reduction(+ : bad)
    for (int r = 0; r < 8; r++) {
        st_error_t e = {0};
        bad += st_audio_log_mel(par + r * n_out, x, (long)n, &o, plan, &e) != ST_OK;
    }
    assert_int_equal(bad, 0);
    for (int r = 0; r < 8; r++) assert_memory_equal(par + r * n_out, serial, n_out * sizeof *serial);
    st_audio_plan_free(plan);
    free(serial);
    free(par);
    free(x);
}

/* Options with one field changed must fail with ST_ERR_CONFIG and a message naming `field`. */
static void expect_bad(st_audio_features_t o, const char *field) {
    st_audio_plan_t *plan = (st_audio_plan_t *)1;
    st_error_t err = {0};
    assert_int_equal(st_audio_plan_create(&plan, &o, &err), ST_ERR_CONFIG);
    assert_null(plan);
    tu_assert_contains(err.msg, field);
}

static void test_bad_options(void **state) {
    (void)state;
    const st_audio_features_t d = st_audio_features_default();
    st_error_t err = {0};
    assert_int_equal(st_audio_features_check(&d, &err), ST_OK);
    st_audio_features_t o;
    o = d, o.sample_rate = 0, expect_bad(o, "sample_rate 0");
    o = d, o.preemphasis = 1.0, expect_bad(o, "preemphasis 1");
    o = d, o.preemphasis = -0.1, expect_bad(o, "preemphasis -0.1");
    o = d, o.window = (st_audio_window_t)7, expect_bad(o, "window 7");
    o = d, o.win_ms = 0, expect_bad(o, "win_ms 0");
    o = d, o.win_ms = 40, expect_bad(o, "more than n_fft 512");
    o = d, o.hop_ms = 0, expect_bad(o, "hop_ms 0");
    o = d, o.n_fft = 511, expect_bad(o, "n_fft 511");
    o = d, o.n_mels = 0, expect_bad(o, "n_mels 0");
    o = d, o.fmax = 8001, expect_bad(o, "fmax 8001");
    o = d, o.fmin = 7600, expect_bad(o, "fmin 7600");
    o = d, o.log_floor = 0, expect_bad(o, "log_floor 0");
    o = d, o.n_mfcc = 41, expect_bad(o, "n_mfcc 41");
    o = d, o.n_mels = 200, expect_bad(o, "covers no FFT bin");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_mel_matches_reference),
        cmocka_unit_test(test_mfcc_matches_scipy_dct),
        cmocka_unit_test(test_frame_count_rule),
        cmocka_unit_test(test_short_audio_is_an_error),
        cmocka_unit_test(test_one_plan_many_threads),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests_name("audio_features", tests, NULL, NULL);
}
