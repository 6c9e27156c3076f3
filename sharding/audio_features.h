/* audio_features.h — log-mel and MFCC features from mono float samples (issue 15, audio to HDF5).
 *
 * The pipeline, every step an option (defaults in brackets, docs/speech.md "Audio features"):
 *   1. pre-emphasis over the whole signal: y[0] = x[0], y[i] = x[i] − a·x[i−1]      [a 0.97]
 *   2. framing without centre padding: win = round(sample_rate·win_ms/1000) samples, hop likewise;
 *      frame t covers y[t·hop .. t·hop+win); frames = 1 + (n − win)/hop (integer division) when
 *      n ≥ win, else 0 (short audio is an error for the caller to report)   [16 kHz, 25 ms, 10 ms]
 *   3. a symmetric window w[i] (hamming 0.54 − 0.46·cos(2πi/(win−1)), hann 0.5 − 0.5·cos(…), or
 *      rectangular), the frame zero-padded to n_fft                               [hamming, 512]
 *   4. power spectrum |X[k]|², k = 0..n_fft/2, unscaled (FFTW3 r2c in double precision: in single,
 *      on a chirp over a −54 dB noise floor, bands ~80 dB below the frame's peak came out up to
 *      2.3e-4 off in the log, beyond the 1e-4; double costs little, see docs/speech.md)
 *   5. n_mels triangular filters, HTK mel scale m(f) = 2595·log10(1 + f/700): n_mels + 2 points
 *      evenly spaced in mel from m(fmin) to m(fmax), weights on the bin frequencies k·sr/n_fft
 *      rising 0→1 from the left point to the centre and 1→0 to the right one; peak 1, no area
 *      normalisation                                                 [40 mels, 20 to 7600 Hz]
 *   6. log(energy + log_floor)                                                      [1e-6]
 *   7. n_mfcc > 0: DCT-II with orthonormal scaling over the mel axis, first n_mfcc kept
 *      (scipy.fft.dct(type=2, norm='ortho')); 0 keeps the log-mels                     [0]
 *
 * A plan holds what is built once for a set of options (FFTW plan, window, filterbank, DCT
 * matrix); one plan may be executed by several threads at once (each call has its own buffers,
 * FFTW's new-array interface). Plans are created under an OpenMP critical section because
 * FFTW's planner is not thread-safe. */
#ifndef ST_AUDIO_FEATURES_H
#define ST_AUDIO_FEATURES_H

#include "st_error.h"

typedef enum { ST_AUDIO_WINDOW_HAMMING = 0, ST_AUDIO_WINDOW_HANN, ST_AUDIO_WINDOW_RECT } st_audio_window_t;

/* "hamming", "hann", "rectangular": indexed by st_audio_window_t (for a schema's choices). */
extern const char *const st_audio_window_names[];

typedef struct {
    int sample_rate;          /* Hz, of the samples given (resample before) */
    double preemphasis;       /* a in [0, 1); 0 = none */
    st_audio_window_t window;
    double win_ms, hop_ms;    /* frame length and step */
    int n_fft;                /* >= the window length, even */
    int n_mels;
    double fmin, fmax;        /* Hz, 0 <= fmin < fmax <= sample_rate/2 */
    double log_floor;         /* > 0, added before the log */
    int n_mfcc;               /* 0: log-mels; 1..n_mels: that many cepstral coefficients */
} st_audio_features_t;

typedef struct st_audio_plan st_audio_plan_t;

/* The defaults of the issue: 16 kHz, 0.97, hamming, 25/10 ms, 512, 40 mels 20–7600 Hz, 1e-6, 0. */
st_audio_features_t st_audio_features_default(void);

/* Checks the options alone and together (ST_ERR_CONFIG, naming the option and its value). */
st_status_t st_audio_features_check(const st_audio_features_t *o, st_error_t *err);

/* Window and hop in samples: round(sample_rate · ms / 1000). */
int st_audio_win_length(const st_audio_features_t *o);
int st_audio_hop_length(const st_audio_features_t *o);
/* Frames for n_samples: 1 + (n − win)/hop when n >= win, else 0. */
long st_audio_n_frames(long n_samples, const st_audio_features_t *o);
/* Values per frame: n_mfcc when > 0, else n_mels. */
int st_audio_n_features(const st_audio_features_t *o);

/* Builds a plan for `o` (checked first; also fails when a mel filter covers no FFT bin). */
st_status_t st_audio_plan_create(st_audio_plan_t **plan, const st_audio_features_t *o, st_error_t *err);
void st_audio_plan_free(st_audio_plan_t *plan);

/* Features of n samples: out [st_audio_n_frames(n), st_audio_n_features] row-major, frame-major.
 * Fewer samples than one window is ST_ERR_DATA. The plan's options are used (`o` must equal the
 * options the plan was made with; it is there so a call reads as a whole). */
st_status_t st_audio_log_mel(float *out /*[frames, n_features]*/, const float *samples /*[n]*/, long n,
                             const st_audio_features_t *o, st_audio_plan_t *plan, st_error_t *err);

#endif
