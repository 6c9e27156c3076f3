/* test_convert_audio.c — st_convert_audio (sharding/convert_audio.h) on WAVs written by
 * tests/util/make_wavs.py in a temp folder, its output read back through st_dataset_open:
 * shapes and lengths; each row equal to st_audio_log_mel of the same samples (norm none: bitwise;
 * utterance: then normalised, and each row's features mean 0, std 1); global statistics from the
 * training rows only (attributes and values); 1 vs 2 threads bitwise equal; transcripts (sorted
 * vocabulary after the blank, --vocab order, padding, lengths), groups and splits; skipped files;
 * every manifest error naming its line, with no file left at -o (and an existing one untouched). */
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "sharding/audio_read.h"
#include "sharding/convert_audio.h"
#include "sharding/dataset.h"

static const char *write_text(const char *name, const char *text) {
    const char *p = tu_tmp_path(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static st_audio_convert_options_t options(const char *manifest, st_audio_norm_t norm, int threads) {
    return (st_audio_convert_options_t){.manifest = tu_tmp_path(manifest), .features = st_audio_features_default(),
                                        .norm = norm, .threads = threads};
}

/* Converts and opens the result; the dataset must be closed by the caller. */
static void convert_ok(const st_audio_convert_options_t *o, const char *out_name, st_dataset_t *ds,
                       st_audio_convert_summary_t *sum) {
    st_error_t err = {0};
    const char *out = tu_tmp_path(out_name);
    st_status_t rc = st_convert_audio(out, o, sum, &err);
    if (rc != ST_OK) fail_msg("st_convert_audio: %s", err.msg);
    assert_int_equal(st_dataset_open(out, ds, &err), ST_OK);
}

/* All rows of /X [n, T·F] and /lengths [n]. */
static float *read_x(const st_dataset_t *ds, int32_t **lengths) {
    st_error_t err = {0};
    float *X = malloc((size_t)ds->n * (size_t)st_shape_numel(ds->shape) * sizeof *X);
    *lengths = malloc((size_t)ds->n * sizeof **lengths);
    assert_int_equal(st_dataset_read_rows(ds, 0, ds->n, X, MPI_COMM_NULL, &err), ST_OK);
    assert_int_equal(st_dataset_read_lengths(ds, 0, ds->n, *lengths, MPI_COMM_NULL, &err), ST_OK);
    return X;
}

/* The raw log-mels of a file, as st_audio_log_mel computes them: [*frames, F]. */
static float *reference(const char *name, const st_audio_features_t *o, long *frames) {
    st_error_t err = {0};
    st_audio_t a;
    assert_int_equal(st_audio_read(&a, tu_tmp_path(name), o->sample_rate, &err), ST_OK);
    st_audio_plan_t *plan;
    assert_int_equal(st_audio_plan_create(&plan, o, &err), ST_OK);
    *frames = st_audio_n_frames(a.n, o);
    float *out = malloc((size_t)*frames * (size_t)st_audio_n_features(o) * sizeof *out);
    assert_int_equal(st_audio_log_mel(out, a.samples, a.n, o, plan, &err), ST_OK);
    st_audio_plan_free(plan);
    st_audio_free(&a);
    return out;
}

static const char *const labelled =
    "path,label,notes\ns0.wav,a,x\ns1.wav,b,x\ns2.wav,a,x\ns3.wav,b,x\ns4.wav,a,x\nst8k.wav,b,x\n";

static void test_shapes_and_raw_features(void **state) {
    (void)state;
    write_text("lab.csv", labelled);
    st_audio_convert_options_t o = options("lab.csv", ST_AUDIO_NORM_NONE, 2);
    st_dataset_t ds;
    st_audio_convert_summary_t sum;
    convert_ok(&o, "lab_none.h5", &ds, &sum);
    const char *names[6] = {"s0.wav", "s1.wav", "s2.wav", "s3.wav", "s4.wav", "st8k.wav"};
    assert_int_equal(ds.n, 6);
    assert_int_equal(ds.shape.rank, 2);
    assert_int_equal(ds.shape.d[1], 40);
    assert_int_equal(ds.n_classes, 2);
    assert_string_equal(ds.feature_names[0], "mel0");
    assert_string_equal(ds.feature_names[39], "mel39");
    assert_int_equal(sum.n_written, 6);
    assert_int_equal(sum.n_ignored, 1);
    tu_assert_contains(sum.ignored, "notes");
    int32_t *len;
    float *X = read_x(&ds, &len);
    int T = ds.shape.d[0], F = 40, T_max = 0;
    for (int i = 0; i < 6; i++) {
        long frames;
        float *ref = reference(names[i], &o.features, &frames);
        assert_int_equal(len[i], frames);
        if (frames > T_max) T_max = (int)frames;
        for (long k = 0; k < frames * F; k++)
            if (X[(size_t)i * T * F + k] != ref[k]) fail_msg("row %d value %ld: %g, st_audio_log_mel %g", i, k, X[(size_t)i * T * F + k], ref[k]);
        free(ref);
    }
    assert_int_equal(T, T_max);
    assert_int_equal(sum.max_frames, T_max);
    assert_true(fabs(sum.min_s - 0.30) < 1e-9 && fabs(sum.max_s - 0.58) < 1e-4);
    free(X);
    free(len);
    st_dataset_close(&ds);
}

static void test_utterance_norm(void **state) {
    (void)state;
    write_text("lab.csv", labelled);
    st_audio_convert_options_t o = options("lab.csv", ST_AUDIO_NORM_UTTERANCE, 2);
    st_dataset_t ds;
    convert_ok(&o, "lab_utt.h5", &ds, NULL);
    int32_t *len;
    float *X = read_x(&ds, &len);
    int T = ds.shape.d[0], F = 40;
    long frames;
    float *ref = reference("s2.wav", &o.features, &frames);
    for (int f = 0; f < F; f++) {
        double m = 0, v = 0, gm = 0, gv = 0;
        for (long t = 0; t < frames; t++) m += ref[t * F + f];
        m /= frames;
        for (long t = 0; t < frames; t++) v += (ref[t * F + f] - m) * (ref[t * F + f] - m);
        v /= frames;
        const float *row = X + (size_t)2 * T * F;
        for (long t = 0; t < frames; t++) {
            double want = (ref[t * F + f] - m) / sqrt(fmax(v, ST_AUDIO_VAR_FLOOR));
            if (fabs(row[t * F + f] - want) > 1e-5 + 1e-5 * fabs(want)) fail_msg("frame %ld mel %d: %g vs %g", t, f, row[t * F + f], want);
            gm += row[t * F + f];
        }
        gm /= frames;
        for (long t = 0; t < frames; t++) gv += (row[t * F + f] - gm) * (row[t * F + f] - gm);
        assert_true(fabs(gm) < 1e-5 && fabs(sqrt(gv / frames) - 1) < 1e-4);
    }
    free(ref);
    free(X);
    free(len);
    st_dataset_close(&ds);
}

/* A float64 attribute [n] of the file's root. */
static void read_attr(const char *path, const char *name, double *out) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0);
    H5Aclose(a);
    H5Fclose(f);
}

static const char *const split_manifest = "path,label,split\ns4.wav,a,val\ns0.wav,a,train\ns5.wav,b,test\n"
                                          "s1.wav,b,train\ns6.wav,a,val\ns2.wav,a,train\ns7.wav,b,2\n";

static void test_global_norm_from_train_rows(void **state) {
    (void)state;
    write_text("split.csv", split_manifest);
    st_audio_convert_options_t o = options("split.csv", ST_AUDIO_NORM_NONE, 2);
    st_dataset_t raw, glob;
    st_audio_convert_summary_t sum;
    convert_ok(&o, "split_none.h5", &raw, &sum);
    assert_int_equal(sum.split_counts[0], 3);
    assert_int_equal(sum.split_counts[1], 2);
    assert_int_equal(sum.split_counts[2], 2);
    o.norm = ST_AUDIO_NORM_GLOBAL;
    convert_ok(&o, "split_global.h5", &glob, NULL);
    int32_t *len, *len2;
    float *R = read_x(&raw, &len), *G = read_x(&glob, &len2);
    int T = raw.shape.d[0], F = 40;
    double mean[40] = {0}, var[40] = {0}, got_mean[40], got_std[40], n = 0, all_mean0 = 0, all_n = 0;
    const int train[3] = {1, 3, 5};
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < len[train[k]]; t++, n++)
            for (int f = 0; f < F; f++) mean[f] += R[((size_t)train[k] * T + t) * F + f];
    for (int f = 0; f < F; f++) mean[f] /= n;
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < len[train[k]]; t++)
            for (int f = 0; f < F; f++) var[f] += pow(R[((size_t)train[k] * T + t) * F + f] - mean[f], 2);
    for (int i = 0; i < 7; i++)
        for (int t = 0; t < len[i]; t++, all_n++) all_mean0 += R[((size_t)i * T + t) * F];
    read_attr(tu_tmp_path("split_global.h5"), "audio_norm_mean", got_mean);
    read_attr(tu_tmp_path("split_global.h5"), "audio_norm_std", got_std);
    for (int f = 0; f < F; f++) {
        double sd = sqrt(var[f] / n);
        if (fabs(got_mean[f] - mean[f]) > 1e-9 * (1 + fabs(mean[f])) || fabs(got_std[f] - sd) > 1e-9 * (1 + sd))
            fail_msg("mel %d: mean %g std %g stored, %g %g over the training rows", f, got_mean[f], got_std[f], mean[f], sd);
    }
    /* the quiet s4..s7 outside train move the all-rows mean: train-only statistics are not those */
    assert_true(fabs(all_mean0 / all_n - mean[0]) > 0.1);
    for (int i = 0; i < 7; i++)
        for (int t = 0; t < len[i]; t++)
            for (int f = 0; f < F; f++) {
                double want = (R[((size_t)i * T + t) * F + f] - mean[f]) / got_std[f];
                double got = G[((size_t)i * T + t) * F + f];
                if (fabs(got - want) > 1e-5 * (1 + fabs(want))) fail_msg("row %d frame %d mel %d: %g vs %g", i, t, f, got, want);
            }
    free(R), free(G), free(len), free(len2);
    st_dataset_close(&raw);
    st_dataset_close(&glob);
}

/* X and lengths of a conversion at `threads` threads. */
static float *convert_x(const char *manifest, st_audio_norm_t norm, int threads, int mfcc, const char *out, int64_t *numel) {
    st_audio_convert_options_t o = options(manifest, norm, threads);
    o.features.n_mfcc = mfcc;
    st_dataset_t ds;
    convert_ok(&o, out, &ds, NULL);
    int32_t *len;
    float *X = read_x(&ds, &len);
    *numel = ds.n * st_shape_numel(ds.shape);
    free(len);
    st_dataset_close(&ds);
    return X;
}

static void test_threads_bitwise(void **state) {
    (void)state;
    write_text("split.csv", split_manifest);
    for (int norm = 0; norm < 3; norm++) {
        int64_t n1, n2;
        float *a = convert_x("split.csv", (st_audio_norm_t)norm, 1, norm == 1 ? 13 : 0, "t1.h5", &n1);
        float *b = convert_x("split.csv", (st_audio_norm_t)norm, 2, norm == 1 ? 13 : 0, "t2.h5", &n2);
        assert_int_equal(n1, n2);
        if (memcmp(a, b, (size_t)n1 * sizeof *a) != 0) fail_msg("norm %s: 1 and 2 threads differ", st_audio_norm_names[norm]);
        free(a);
        free(b);
    }
}

/* Row i of sequence target t: length, then tokens. */
static void expect_sequence(const st_dataset_t *ds, int t, int64_t row, int len, const int *tokens) {
    st_error_t err = {0};
    int w = ds->targets[t].width;
    float v[16];
    assert_true(w <= 16);
    assert_int_equal(st_dataset_read_target_rows(ds, t, row, 1, v, MPI_COMM_NULL, &err), ST_OK);
    assert_int_equal((int)v[0], len);
    for (int k = 0; k < w - 1; k++) assert_int_equal((int)v[1 + k], k < len ? tokens[k] : 0);
}

static const char *const transcribed = "path,transcript,group\ns0.wav,two one,ann\ns1.wav,three,bob\n"
                                       "s2.wav,one one two,ann\ns3.wav,  two\t three ,cy\n";

static void test_transcripts_groups(void **state) {
    (void)state;
    write_text("tr.csv", transcribed);
    st_audio_convert_options_t o = options("tr.csv", ST_AUDIO_NORM_UTTERANCE, 2);
    st_dataset_t ds;
    st_audio_convert_summary_t sum;
    convert_ok(&o, "tr.h5", &ds, &sum);
    assert_false(ds.has_y);
    int t = st_dataset_target_find(&ds, "transcript");
    assert_true(t >= 0);
    assert_int_equal(ds.targets[t].kind, ST_TARGET_SEQUENCE);
    assert_int_equal(ds.targets[t].n_classes, 4);
    assert_int_equal(ds.targets[t].max_len, 3);
    const char *vocab[4] = {"<blank>", "one", "three", "two"};
    for (int k = 0; k < 4; k++) assert_string_equal(ds.targets[t].names[k], vocab[k]);
    expect_sequence(&ds, t, 0, 2, (int[]){3, 1});
    expect_sequence(&ds, t, 1, 1, (int[]){2});
    expect_sequence(&ds, t, 2, 3, (int[]){1, 1, 3});
    expect_sequence(&ds, t, 3, 2, (int[]){3, 2});
    int64_t g[4];
    st_error_t err = {0};
    assert_int_equal(st_dataset_read_groups(&ds, g, &err), ST_OK);
    assert_true(g[0] == 0 && g[1] == 1 && g[2] == 0 && g[3] == 2);
    assert_int_equal(sum.n_groups, 3);
    st_dataset_close(&ds);

    /* --vocab: the file's order after the blank, and another target name */
    o.vocab = write_text("v.txt", "three\n\ntwo\r\none\nfour\n");
    o.target_name = "words";
    convert_ok(&o, "tr_v.h5", &ds, NULL);
    t = st_dataset_target_find(&ds, "words");
    assert_true(t >= 0);
    const char *vocab2[5] = {"<blank>", "three", "two", "one", "four"};
    assert_int_equal(ds.targets[t].n_classes, 5);
    for (int k = 0; k < 5; k++) assert_string_equal(ds.targets[t].names[k], vocab2[k]);
    expect_sequence(&ds, t, 0, 2, (int[]){2, 3});
    expect_sequence(&ds, t, 2, 3, (int[]){3, 3, 2});
    st_dataset_close(&ds);
}

static void test_skip_bad_files(void **state) {
    (void)state;
    write_text("skip.csv", "path,label\ns0.wav,a\nmissing.wav,b\ns1.wav,b\nshort.wav,a\ns2.wav,a\n");
    st_audio_convert_options_t o = options("skip.csv", ST_AUDIO_NORM_UTTERANCE, 2);
    o.skip_bad_files = 1;
    st_dataset_t ds;
    st_audio_convert_summary_t sum;
    convert_ok(&o, "skip.h5", &ds, &sum);
    assert_int_equal(ds.n, 3);
    assert_int_equal(sum.n_rows, 5);
    assert_int_equal(sum.n_skipped, 2);
    assert_int_equal(sum.skipped[0].line, 3);
    tu_assert_contains(sum.skipped[0].why, "missing.wav: cannot open");
    assert_int_equal(sum.skipped[1].line, 5);
    tu_assert_contains(sum.skipped[1].why, "shorter than one window");
    int32_t *y = malloc(3 * sizeof *y);
    st_error_t err = {0};
    assert_int_equal(st_dataset_read_labels(&ds, y, NULL, &err), ST_OK);
    assert_true(y[0] == 0 && y[1] == 1 && y[2] == 0);
    free(y);
    st_dataset_close(&ds);
}

/* A manifest that must fail: its message names the manifest's line and `text`; nothing at -o. */
static void expect_failure(const char *manifest_text, const char *vocab, const char *line, const char *text) {
    const char *m = write_text("bad.csv", manifest_text);
    st_audio_convert_options_t o = options("bad.csv", ST_AUDIO_NORM_UTTERANCE, 2);
    o.vocab = vocab ? write_text("bad_vocab.txt", vocab) : NULL;
    const char *out = tu_tmp_path("bad.h5");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    st_error_t err = {0};
    assert_int_not_equal(st_convert_audio(out, &o, NULL, &err), ST_OK);
    tu_assert_contains(err.msg, m);
    if (line) tu_assert_contains(err.msg, line);
    tu_assert_contains(err.msg, text);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    assert_int_not_equal(stat(tmp, &st), 0);
}

static void test_manifest_errors(void **state) {
    (void)state;
    expect_failure("file,label\ns0.wav,a\n", NULL, "line 1", "no \"path\" column");
    expect_failure("path,group\ns0.wav,a\n", NULL, "line 1", "neither a \"label\" column");
    expect_failure("path,label\ns0.wav,a\nnope.wav,b\n", NULL, "line 3: ", "nope.wav: cannot open");
    expect_failure("path,label\ns0.wav,a\ntext.wav,b\n", NULL, "line 3: ", "text.wav: not an audio file");
    expect_failure("path,label\nempty.wav,a\ns0.wav,b\n", NULL, "line 2: ", "empty.wav: empty audio");
    expect_failure("path,label\ns0.wav,a\n\ns1.wav,a\nshort.wav,b\n", NULL, "line 5: ",
                   "short.wav: 0.019 s (300 samples at 16000 Hz) is shorter than one window (400 samples");
    expect_failure("path,transcript\ns0.wav,one two\ns1.wav,one seven\n", "one\ntwo\n", "line 3: ",
                   "token \"seven\" is not in the vocabulary");
    expect_failure("path,transcript\ns0.wav,one two\ns1.wav,  \n", NULL, "line 3: ", "empty transcript");
    expect_failure("path,label,split\ns0.wav,a,train\ns1.wav,a,holdout\n", NULL, "line 3, column \"split\"",
                   "\"holdout\" is not train, val or test");
    expect_failure("path,label\ns0.wav,a\ns1.wav\n", NULL, "line 3 ", "has 1 field but the header has 2");
    expect_failure("path,transcript\ns0.wav,one <blank>\n", NULL, "line 2: ", "is the blank's name");
}

/* --norm global with no training row. */
static void test_global_without_train_rows(void **state) {
    (void)state;
    write_text("nt.csv", "path,label,split\ns0.wav,a,val\ns1.wav,a,test\n");
    st_audio_convert_options_t o = options("nt.csv", ST_AUDIO_NORM_GLOBAL, 1);
    st_error_t err = {0};
    assert_int_not_equal(st_convert_audio(tu_tmp_path("nt.h5"), &o, NULL, &err), ST_OK);
    tu_assert_contains(err.msg, "--norm global needs training rows");
}

static void test_existing_output_untouched(void **state) {
    (void)state;
    const char *out = write_text("keep.h5", "an earlier file\n");
    write_text("fail.csv", "path,label\ns0.wav,a\nnope.wav,b\n");
    st_audio_convert_options_t o = options("fail.csv", ST_AUDIO_NORM_UTTERANCE, 2);
    st_error_t err = {0};
    assert_int_not_equal(st_convert_audio(out, &o, NULL, &err), ST_OK);
    char buf[64] = {0};
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "an earlier file\n");
}

static int setup(void **state) {
    (void)state;
    if (tu_tmpdir_create("convert_audio")) return 1;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/util/make_wavs.py %s", tu_tmp_path(""));
    return system(cmd) != 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_tmpdir_remove();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_and_raw_features),
        cmocka_unit_test(test_utterance_norm),
        cmocka_unit_test(test_global_norm_from_train_rows),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_transcripts_groups),
        cmocka_unit_test(test_skip_bad_files),
        cmocka_unit_test(test_manifest_errors),
        cmocka_unit_test(test_global_without_train_rows),
        cmocka_unit_test(test_existing_output_untouched),
    };
    return cmocka_run_group_tests_name("convert_audio", tests, setup, teardown);
}
