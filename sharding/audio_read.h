/* audio_read.h — one audio file (WAV, FLAC, anything libsndfile reads) to mono float samples at
 * a given rate, for the audio converter (issue 15).
 *
 * Integer samples (8, 16, 24, 32 bit) come out divided by 2^(bits−1) (libsndfile's normalisation:
 * int16 v → v/32768), float samples as stored. Several channels are averaged to one. When the
 * file's rate differs from the rate asked for, the samples are resampled with libsamplerate's
 * SRC_SINC_BEST_QUALITY (whole file at once, end of input flushed), so n ≈ n_in·rate/rate_in.
 * Errors (ST_ERR_IO for a file that cannot be opened, ST_ERR_DATA for one that is not audio or
 * holds no samples) name the file. */
#ifndef ST_AUDIO_READ_H
#define ST_AUDIO_READ_H

#include "st_error.h"

typedef struct {
    float *samples;   /* [n], mono, at sample_rate; free with st_audio_free */
    long n;
    int sample_rate;  /* the rate asked for */
    int rate_in;      /* the file's own rate */
    int channels_in;  /* the file's channel count */
} st_audio_t;

/* Reads `path`, mixes down to mono and resamples to `sample_rate` (> 0) when needed. */
st_status_t st_audio_read(st_audio_t *out, const char *path, int sample_rate, st_error_t *err);
void st_audio_free(st_audio_t *a);

#endif
