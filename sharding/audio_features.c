/* audio_features.c — the log-mel / MFCC pipeline of audio_features.h: a plan (FFTW r2c plan,
 * window, sparse mel filterbank, DCT-II matrix) built once, then per-call buffers so threads can
 * share one plan. Sums over bins and mels are in double, in a fixed order. */
#include "sharding/audio_features.h"

#include <math.h>
#include <string.h>

#include <fftw3.h>

const char *const st_audio_window_names[] = {"hamming", "hann", "rectangular"};

/* One triangular filter: weights for bins first .. first+count−1. */
typedef struct {
    int first, count;
    double *w; /* [count] */
} st_mel_filter_t;

struct st_audio_plan {
    st_audio_features_t o;
    int win, hop, n_bins;     /* n_bins = n_fft/2 + 1 */
    fftw_plan fft;
    double *window;            /* [win] */
    st_mel_filter_t *mels;    /* [n_mels] */
    double *dct;              /* [n_mfcc, n_mels], NULL when n_mfcc == 0 */
};

st_audio_features_t st_audio_features_default(void) {
    return (st_audio_features_t){.sample_rate = 16000, .preemphasis = 0.97, .window = ST_AUDIO_WINDOW_HAMMING,
                                 .win_ms = 25, .hop_ms = 10, .n_fft = 512, .n_mels = 40, .fmin = 20,
                                 .fmax = 7600, .log_floor = 1e-6, .n_mfcc = 0};
}

int st_audio_win_length(const st_audio_features_t *o) { return (int)lround(o->sample_rate * o->win_ms / 1000.0); }
int st_audio_hop_length(const st_audio_features_t *o) { return (int)lround(o->sample_rate * o->hop_ms / 1000.0); }

long st_audio_n_frames(long n_samples, const st_audio_features_t *o) {
    long win = st_audio_win_length(o), hop = st_audio_hop_length(o);
    if (win <= 0 || hop <= 0 || n_samples < win) return 0;
    return 1 + (n_samples - win) / hop;
}

int st_audio_n_features(const st_audio_features_t *o) { return o->n_mfcc > 0 ? o->n_mfcc : o->n_mels; }

st_status_t st_audio_features_check(const st_audio_features_t *o, st_error_t *err) {
    const char *w = "audio features";
    if (o->sample_rate < 1000 || o->sample_rate > 384000)
        return st_fail(err, ST_ERR_CONFIG, "%s: sample_rate %d outside [1000, 384000]", w, o->sample_rate);
    if (!(o->preemphasis >= 0 && o->preemphasis < 1))
        return st_fail(err, ST_ERR_CONFIG, "%s: preemphasis %g outside [0, 1)", w, o->preemphasis);
    if ((int)o->window < 0 || o->window > ST_AUDIO_WINDOW_RECT)
        return st_fail(err, ST_ERR_CONFIG, "%s: window %d is not hamming, hann or rectangular", w, (int)o->window);
    if (!(o->win_ms > 0) || st_audio_win_length(o) < 2)
        return st_fail(err, ST_ERR_CONFIG, "%s: win_ms %g gives fewer than 2 samples", w, o->win_ms);
    if (!(o->hop_ms > 0) || st_audio_hop_length(o) < 1)
        return st_fail(err, ST_ERR_CONFIG, "%s: hop_ms %g gives no sample", w, o->hop_ms);
    if (o->n_fft < 2 || o->n_fft % 2 || o->n_fft > (1 << 20))
        return st_fail(err, ST_ERR_CONFIG, "%s: n_fft %d is not an even number in [2, 2^20]", w, o->n_fft);
    if (st_audio_win_length(o) > o->n_fft)
        return st_fail(err, ST_ERR_CONFIG, "%s: win_ms %g gives %d samples, more than n_fft %d", w, o->win_ms,
                       st_audio_win_length(o), o->n_fft);
    if (o->n_mels < 1 || o->n_mels > o->n_fft / 2 + 1)
        return st_fail(err, ST_ERR_CONFIG, "%s: n_mels %d outside [1, n_fft/2 + 1 = %d]", w, o->n_mels, o->n_fft / 2 + 1);
    if (!(o->fmin >= 0 && o->fmin < o->fmax && o->fmax <= o->sample_rate / 2.0))
        return st_fail(err, ST_ERR_CONFIG, "%s: fmin %g and fmax %g must satisfy 0 <= fmin < fmax <= sample_rate/2 = %g",
                       w, o->fmin, o->fmax, o->sample_rate / 2.0);
    if (!(o->log_floor > 0))
        return st_fail(err, ST_ERR_CONFIG, "%s: log_floor %g must be > 0", w, o->log_floor);
    if (o->n_mfcc < 0 || o->n_mfcc > o->n_mels)
        return st_fail(err, ST_ERR_CONFIG, "%s: n_mfcc %d outside [0, n_mels %d]", w, o->n_mfcc, o->n_mels);
    return ST_OK;
}

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

static void make_window(double *w /*[n]*/, int n, st_audio_window_t kind) {
    for (int i = 0; i < n; i++) {
        double c = cos(2.0 * M_PI * i / (n - 1));
        w[i] = (kind == ST_AUDIO_WINDOW_HAMMING ? 0.54 - 0.46 * c : kind == ST_AUDIO_WINDOW_HANN ? 0.5 - 0.5 * c : 1.0);
    }
}

/* Triangle m over bin frequencies: points p[m], p[m+1] (centre), p[m+2] in Hz. */
static st_status_t make_filters(st_audio_plan_t *p, st_error_t *err) {
    const st_audio_features_t *o = &p->o;
    double lo = hz_to_mel(o->fmin), hi = hz_to_mel(o->fmax), pts[o->n_mels + 2];
    for (int i = 0; i < o->n_mels + 2; i++) pts[i] = mel_to_hz(lo + (hi - lo) * i / (o->n_mels + 1));
    p->mels = st_alloc(sizeof *p->mels * (size_t)o->n_mels, "mel filterbank", err);
    if (!p->mels) return err ? err->code : ST_ERR_NOMEM;
    for (int m = 0; m < o->n_mels; m++) {
        double l = pts[m], c = pts[m + 1], r = pts[m + 2];
        double w[p->n_bins];
        int first = -1, count = 0;
        for (int k = 0; k < p->n_bins; k++) {
            double f = (double)k * o->sample_rate / o->n_fft;
            double v = fmin((f - l) / (c - l), (r - f) / (r - c));
            if (v <= 0) continue;
            if (first < 0) first = k;
            w[count++] = v;  /* bins with v > 0 are contiguous */
        }
        if (count == 0)
            return st_fail(err, ST_ERR_CONFIG, "audio features: mel filter %d (%.1f to %.1f Hz) covers no FFT bin "
                           "(bins are %.2f Hz apart): fewer n_mels or a larger n_fft", m, l, r,
                           (double)o->sample_rate / o->n_fft);
        p->mels[m] = (st_mel_filter_t){.first = first, .count = count,
                                       .w = st_alloc(sizeof(double) * (size_t)count, "mel filter", err)};
        if (!p->mels[m].w) return err ? err->code : ST_ERR_NOMEM;
        memcpy(p->mels[m].w, w, sizeof(double) * (size_t)count);
    }
    return ST_OK;
}

/* DCT-II, orthonormal: C[j][m] = s_j·cos(π·j·(m + 1/2)/M), s_0 = √(1/M), s_j = √(2/M). */
static st_status_t make_dct(st_audio_plan_t *p, st_error_t *err) {
    int M = p->o.n_mels, J = p->o.n_mfcc;
    if (J == 0) return ST_OK;
    p->dct = st_alloc(sizeof(double) * (size_t)J * (size_t)M, "DCT matrix", err);
    if (!p->dct) return err ? err->code : ST_ERR_NOMEM;
    for (int j = 0; j < J; j++)
        for (int m = 0; m < M; m++)
            p->dct[j * M + m] = sqrt((j ? 2.0 : 1.0) / M) * cos(M_PI * j * (m + 0.5) / M);
    return ST_OK;
}

st_status_t st_audio_plan_create(st_audio_plan_t **plan, const st_audio_features_t *o, st_error_t *err) {
    *plan = NULL;
    ST_TRY(st_audio_features_check(o, err));
    st_audio_plan_t *p = st_alloc(sizeof *p, "audio plan", err);
    if (!p) return err ? err->code : ST_ERR_NOMEM;
    p->o = *o;
    p->win = st_audio_win_length(o);
    p->hop = st_audio_hop_length(o);
    p->n_bins = o->n_fft / 2 + 1;
    st_status_t rc = ST_OK;
    p->window = st_alloc(sizeof(double) * (size_t)p->win, "audio window", err);
    if (!p->window) rc = err ? err->code : ST_ERR_NOMEM;
    if (rc == ST_OK) make_window(p->window, p->win, o->window);
    if (rc == ST_OK) rc = make_filters(p, err);
    if (rc == ST_OK) rc = make_dct(p, err);
    if (rc == ST_OK) {
        double *in = fftw_malloc(sizeof(double) * (size_t)o->n_fft);
        fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)p->n_bins);
#pragma omp critical(st_fftw_planner)
        if (in && spec) p->fft = fftw_plan_dft_r2c_1d(o->n_fft, in, spec, FFTW_ESTIMATE);
        fftw_free(in);
        fftw_free(spec);
        if (!p->fft) rc = st_fail(err, ST_ERR_NOMEM, "audio features: FFTW could not plan an r2c FFT of %d points", o->n_fft);
    }
    if (rc != ST_OK) {
        st_audio_plan_free(p);
        return rc;
    }
    *plan = p;
    return ST_OK;
}

void st_audio_plan_free(st_audio_plan_t *p) {
    if (!p) return;
    if (p->fft) {
#pragma omp critical(st_fftw_planner)
        fftw_destroy_plan(p->fft);
    }
    if (p->mels)
        for (int m = 0; m < p->o.n_mels; m++) st_free(p->mels[m].w);
    st_free(p->mels);
    st_free(p->window);
    st_free(p->dct);
    st_free(p);
}

/* One frame: samples x[0..win) (raw), x_prev the sample before (for pre-emphasis, 0 at t = 0
 * with keep_first), → out[n_features]. buf [n_fft] and spec [n_bins] are the caller's scratch. */
static void frame_features(float *out, const float *x, float x_prev, int first_frame, const st_audio_plan_t *p,
                           double *buf, fftw_complex *spec, double *mel) {
    const st_audio_features_t *o = &p->o;
    double a = o->preemphasis;
    buf[0] = (first_frame ? x[0] : x[0] - a * x_prev) * p->window[0];
    for (int i = 1; i < p->win; i++) buf[i] = (x[i] - a * x[i - 1]) * p->window[i];
    for (int i = p->win; i < o->n_fft; i++) buf[i] = 0.0;
    fftw_execute_dft_r2c(p->fft, buf, spec);
    double *power = buf;  /* reused: [n_bins] <= n_fft */
    for (int k = 0; k < p->n_bins; k++) power[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
    for (int m = 0; m < o->n_mels; m++) {
        const st_mel_filter_t *f = &p->mels[m];
        double s = 0;
        for (int i = 0; i < f->count; i++) s += f->w[i] * power[f->first + i];
        mel[m] = log(s + o->log_floor);
    }
    if (o->n_mfcc == 0) {
        for (int m = 0; m < o->n_mels; m++) out[m] = (float)mel[m];
        return;
    }
    for (int j = 0; j < o->n_mfcc; j++) {
        double s = 0;
        for (int m = 0; m < o->n_mels; m++) s += p->dct[j * o->n_mels + m] * mel[m];
        out[j] = (float)s;
    }
}

st_status_t st_audio_log_mel(float *out /*[frames, n_features]*/, const float *samples /*[n]*/, long n,
                             const st_audio_features_t *o, st_audio_plan_t *plan, st_error_t *err) {
    (void)o;
    const st_audio_plan_t *p = plan;
    long frames = st_audio_n_frames(n, &p->o);
    if (frames == 0)
        return st_fail(err, ST_ERR_DATA, "audio of %ld samples is shorter than one window (%d samples, %g ms at %d Hz)",
                       n, p->win, p->o.win_ms, p->o.sample_rate);
    double *buf = fftw_malloc(sizeof(double) * (size_t)p->o.n_fft);
    fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)p->n_bins);
    double *mel = st_alloc(sizeof(double) * (size_t)p->o.n_mels, "mel energies", err);
    st_status_t rc = ST_OK;
    if (!buf || !spec || !mel) rc = mel ? st_fail(err, ST_ERR_NOMEM, "audio features: FFT buffers of %d points", p->o.n_fft)
                                         : (err ? err->code : ST_ERR_NOMEM);
    int nf = st_audio_n_features(&p->o);
    for (long t = 0; rc == ST_OK && t < frames; t++) {
        long s0 = t * p->hop;
        frame_features(out + t * nf, samples + s0, s0 > 0 ? samples[s0 - 1] : 0.0f, s0 == 0, p, buf, spec, mel);
    }
    fftw_free(buf);
    fftw_free(spec);
    st_free(mel);
    return rc;
}
