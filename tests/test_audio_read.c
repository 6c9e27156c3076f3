/* test_audio_read.c — sharding/audio_read on WAVs written by Python's `wave` module in a temp
 * folder: 16-bit mono read exactly (v/32768), 8- and 24-bit scaling, stereo averaged, an 8 kHz
 * sine resampled to 16 kHz (length and values), and the errors: missing file, not audio, empty. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sharding/audio_read.h"

/* Python writes the WAVs: name, sample width (bytes), channels, rate, and an expression for
 * the integer sample of frame i, channel c (n frames). */
static const char *write_wav(const char *name, int width, int channels, int rate, long n, const char *expr) {
    const char *p = tu_tmp_path(name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import wave, math\n"
             "w = wave.open(\"%s\", \"wb\"); w.setnchannels(%d); w.setsampwidth(%d); w.setframerate(%d)\n"
             "signed = %d > 1\n"
             "b = bytearray()\n"
             "for i in range(%ld):\n"
             "  for c in range(%d):\n"
             "    v = int(%s)\n"
             "    b += (v if signed else v + 128).to_bytes(%d, \"little\", signed=signed)\n"
             "w.writeframes(bytes(b)); w.close()'",
             p, channels, width, rate, width, n, channels, expr, width);
    assert_int_equal(system(cmd), 0);
    return p;
}

static void test_mono_16bit_exact(void **state) {
    (void)state;
    const char *p = write_wav("m16.wav", 2, 1, 16000, 1000, "(i * 97) % 65536 - 32768");
    st_audio_t a;
    st_error_t err = {0};
    assert_int_equal(st_audio_read(&a, p, 16000, &err), ST_OK);
    assert_int_equal(a.n, 1000);
    assert_int_equal(a.rate_in, 16000);
    assert_int_equal(a.channels_in, 1);
    for (long i = 0; i < a.n; i++) assert_true(a.samples[i] == (float)((i * 97) % 65536 - 32768) / 32768.0f);
    st_audio_free(&a);
}

static void test_8_and_24_bit_scaling(void **state) {
    (void)state;
    st_audio_t a;
    st_error_t err = {0};
    const char *p8 = write_wav("m8.wav", 1, 1, 16000, 256, "i - 128");
    assert_int_equal(st_audio_read(&a, p8, 16000, &err), ST_OK);
    for (long i = 0; i < 256; i++) assert_true(a.samples[i] == (float)(i - 128) / 128.0f);
    st_audio_free(&a);
    const char *p24 = write_wav("m24.wav", 3, 1, 16000, 500, "(i * 33331) % 16777216 - 8388608");
    assert_int_equal(st_audio_read(&a, p24, 16000, &err), ST_OK);
    for (long i = 0; i < 500; i++) assert_true(a.samples[i] == (float)((i * 33331) % 16777216 - 8388608) / 8388608.0f);
    st_audio_free(&a);
}

static void test_stereo_averaged(void **state) {
    (void)state;
    const char *p = write_wav("st.wav", 2, 2, 16000, 300, "(i * 50 if c == 0 else -i * 10)");
    st_audio_t a;
    st_error_t err = {0};
    assert_int_equal(st_audio_read(&a, p, 16000, &err), ST_OK);
    assert_int_equal(a.channels_in, 2);
    assert_int_equal(a.n, 300);
    for (long i = 0; i < a.n; i++) assert_true(fabsf(a.samples[i] - (float)(i * 20) / 32768.0f) < 1e-7f);
    st_audio_free(&a);
}

static void test_resampled_8k_to_16k(void **state) {
    (void)state;
    const char *p = write_wav("r8.wav", 2, 1, 8000, 8000, "round(16000 * math.sin(2 * math.pi * 440 * i / 8000))");
    st_audio_t a;
    st_error_t err = {0};
    assert_int_equal(st_audio_read(&a, p, 16000, &err), ST_OK);
    assert_int_equal(a.rate_in, 8000);
    assert_int_equal(a.sample_rate, 16000);
    assert_true(labs(a.n - 16000) <= 2);
    double worst = 0;  /* away from the ends, the sinc filter's transients */
    for (long i = 1000; i < 15000; i++)
        worst = fmax(worst, fabs(a.samples[i] - 16000.0 / 32768.0 * sin(2 * M_PI * 440 * i / 16000.0)));
    if (worst > 1e-3) fail_msg("resampled sine off by %g", worst);
    st_audio_free(&a);
}

static void expect_error(const char *p, st_status_t code, const char *text) {
    st_audio_t a;
    st_error_t err = {0};
    assert_int_equal(st_audio_read(&a, p, 16000, &err), code);
    tu_assert_contains(err.msg, p);
    tu_assert_contains(err.msg, text);
    assert_null(a.samples);
}

static void test_errors_name_the_file(void **state) {
    (void)state;
    expect_error(tu_tmp_path("absent.wav"), ST_ERR_IO, "No such file");
    const char *txt = tu_tmp_path("text.wav");
    FILE *f = fopen(txt, "w");
    fputs("path,label\nnot audio at all\n", f);
    fclose(f);
    expect_error(txt, ST_ERR_DATA, "not an audio file");
    expect_error(write_wav("empty.wav", 2, 1, 16000, 0, "0"), ST_ERR_DATA, "empty audio");
}

static int setup(void **state) {
    (void)state;
    return tu_tmpdir_create("audio_read");
}

static int teardown(void **state) {
    (void)state;
    return tu_tmpdir_remove();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_16bit_exact),
        cmocka_unit_test(test_8_and_24_bit_scaling),
        cmocka_unit_test(test_stereo_averaged),
        cmocka_unit_test(test_resampled_8k_to_16k),
        cmocka_unit_test(test_errors_name_the_file),
    };
    return cmocka_run_group_tests_name("audio_read", tests, setup, teardown);
}
