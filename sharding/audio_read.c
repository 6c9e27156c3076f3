/* audio_read.c — libsndfile decoding, channel averaging and libsamplerate resampling for
 * audio_read.h. The whole file is decoded at once (utterances are seconds long). */
#include "sharding/audio_read.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <samplerate.h>
#include <sndfile.h>

/* Decodes every frame of an open file and averages its channels: mono [frames]. */
static st_status_t decode_mono(float *mono, SNDFILE *f, const SF_INFO *info, const char *path, st_error_t *err) {
    float *inter = st_alloc(sizeof(float) * (size_t)info->frames * (size_t)info->channels, "decoded audio", err);
    if (!inter) return err ? err->code : ST_ERR_NOMEM;
    sf_count_t got = sf_readf_float(f, inter, info->frames);
    if (got != info->frames) {
        st_free(inter);
        return st_fail(err, ST_ERR_DATA, "%s: read %lld of %lld audio frames (%s)", path, (long long)got,
                       (long long)info->frames, sf_strerror(f));
    }
    for (sf_count_t t = 0; t < info->frames; t++) {
        double s = 0;
        for (int c = 0; c < info->channels; c++) s += inter[t * info->channels + c];
        mono[t] = (float)(s / info->channels);
    }
    st_free(inter);
    return ST_OK;
}

/* Resamples a->samples [a->n] at a->rate_in to a->sample_rate, replacing them. */
static st_status_t resample(st_audio_t *a, const char *path, st_error_t *err) {
    double ratio = (double)a->sample_rate / a->rate_in;
    long cap = (long)ceil(a->n * ratio) + 16;
    float *out = st_alloc(sizeof(float) * (size_t)cap, "resampled audio", err);
    if (!out) return err ? err->code : ST_ERR_NOMEM;
    SRC_DATA d = {.data_in = a->samples, .data_out = out, .input_frames = a->n, .output_frames = cap,
                  .src_ratio = ratio, .end_of_input = 1};
    int rc = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
    if (rc) {
        st_free(out);
        return st_fail(err, ST_ERR_DATA, "%s: resampling %d Hz to %d Hz failed: %s", path, a->rate_in, a->sample_rate,
                       src_strerror(rc));
    }
    st_free(a->samples);
    a->samples = out;
    a->n = d.output_frames_gen;
    return ST_OK;
}

st_status_t st_audio_read(st_audio_t *out, const char *path, int sample_rate, st_error_t *err) {
    memset(out, 0, sizeof *out);
    if (sample_rate <= 0) return st_fail(err, ST_ERR_CONFIG, "%s: sample rate %d must be > 0", path, sample_rate);
    if (access(path, R_OK) != 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) return st_fail(err, ST_ERR_DATA, "%s: not an audio file libsndfile reads: %s", path, sf_strerror(NULL));
    st_status_t rc = ST_OK;
    if (info.frames <= 0 || info.channels <= 0)
        rc = st_fail(err, ST_ERR_DATA, "%s: empty audio (no samples)", path);
    if (rc == ST_OK) {
        *out = (st_audio_t){.n = (long)info.frames, .sample_rate = sample_rate, .rate_in = info.samplerate,
                            .channels_in = info.channels};
        out->samples = st_alloc(sizeof(float) * (size_t)info.frames, "audio samples", err);
        rc = out->samples ? decode_mono(out->samples, f, &info, path, err) : (err ? err->code : ST_ERR_NOMEM);
    }
    sf_close(f);
    if (rc == ST_OK && out->rate_in != sample_rate) rc = resample(out, path, err);
    if (rc != ST_OK) st_audio_free(out);
    return rc;
}

void st_audio_free(st_audio_t *a) {
    st_free(a->samples);
    memset(a, 0, sizeof *a);
}
