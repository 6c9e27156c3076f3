/* cmd_audio.c — `strata convert audio` (docs/speech.md): a manifest of WAV/FLAC files to a
 * dataset of log-mel or MFCC sequences with their labels or transcripts. The handler parses the
 * flags (every feature option has one), checks the feature options naming the flag at fault,
 * calls st_convert_audio and prints its report. Exit status: 0 done, 1 a failure, 2 a usage
 * error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "sharding/convert_audio.h"
#include "watchdog.h"

/* A flag holding a real number, and the option field it fills. */
typedef struct {
    const char *flag;
    const char *text;    /* from argv, or NULL when not given */
    double *dst;
} real_opt_t;

/* The field names st_audio_features_check's messages use, and their flags. */
static const char *const field_flags[][2] = {
    {"sample_rate", "--sample-rate"}, {"preemphasis", "--preemphasis"}, {"window", "--window"},
    {"win_ms", "--win-ms"},           {"hop_ms", "--hop-ms"},           {"n_fft", "--n-fft"},
    {"n_mels", "--n-mels"},           {"fmin", "--fmin"},               {"fmax", "--fmax"},
    {"log_floor", "--log-floor"},     {"n_mfcc", "--mfcc"},
};

/* The check's message with each field name (a whole word) replaced by its flag. */
static void name_flags(char *out, size_t size, const char *msg) {
    const char *p = strstr(msg, "audio features: ");
    p = p ? p + strlen("audio features: ") : msg;
    size_t len = 0;
    out[0] = '\0';
    while (*p && len + 1 < size) {
        size_t k = 0, n = 0;
        int word_start = p == msg || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z'));
        for (; word_start && k < sizeof field_flags / sizeof field_flags[0]; k++) {
            n = strlen(field_flags[k][0]);
            char after = p[n];
            if (strncmp(p, field_flags[k][0], n) == 0 && !(after == '_' || (after >= 'a' && after <= 'z'))) break;
        }
        if (word_start && k < sizeof field_flags / sizeof field_flags[0]) {
            len += (size_t)snprintf(out + len, size - len, "%s", field_flags[k][1]);
            p += n;
        } else {
            out[len++] = *p++;
            out[len] = '\0';
        }
        if (len >= size) len = size - 1;
    }
}

/* The real-valued flags and the named choices into the options; 2 after a usage error. */
static int parse_values(const st_cli_t *cli, real_opt_t *reals, int n_reals, const char *window, const char *norm,
                        st_audio_convert_options_t *o) {
    for (int k = 0; k < n_reals; k++) {
        if (!reals[k].text) continue;
        char *end;
        double v = strtod(reals[k].text, &end);
        if (end == reals[k].text || *end) return st_usage_error(cli, "%s %s: expected a number", reals[k].flag, reals[k].text);
        *reals[k].dst = v;
    }
    int w = 0;
    while (window && w <= ST_AUDIO_WINDOW_RECT && strcmp(window, st_audio_window_names[w]) != 0) w++;
    if (w > ST_AUDIO_WINDOW_RECT) return st_usage_error(cli, "--window %s: expected hamming, hann or rectangular", window);
    if (window) o->features.window = (st_audio_window_t)w;
    int m = 0;
    while (norm && m <= ST_AUDIO_NORM_NONE && strcmp(norm, st_audio_norm_names[m]) != 0) m++;
    if (m > ST_AUDIO_NORM_NONE) return st_usage_error(cli, "--norm %s: expected utterance, global or none", norm);
    if (norm) o->norm = (st_audio_norm_t)m;
    st_error_t err = {0};
    if (st_audio_features_check(&o->features, &err) != ST_OK) {
        char msg[1100];
        name_flags(msg, sizeof msg, err.msg);
        return st_usage_error(cli, "%s", msg);
    }
    return ST_OPTS_RUN;
}

int st_cmd_convert_audio(const st_cli_t *cli) {
    const char *pos[1], *out = NULL, *window = NULL, *norm = NULL;
    int stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    st_audio_convert_options_t o = {.features = st_audio_features_default(), .norm = ST_AUDIO_NORM_UTTERANCE};
    st_audio_features_t *f = &o.features;
    real_opt_t reals[] = {{"--preemphasis", NULL, &f->preemphasis}, {"--win-ms", NULL, &f->win_ms},
                          {"--hop-ms", NULL, &f->hop_ms},           {"--fmin", NULL, &f->fmin},
                          {"--fmax", NULL, &f->fmax},               {"--log-floor", NULL, &f->log_floor}};
    const st_opt_t opts[] = {
        ST_OPTION_STRING("--output", "-o", &out, NULL),
        ST_OPTION_INT("--sample-rate", &f->sample_rate, 1, 0),
        ST_OPTION_STRING("--preemphasis", NULL, &reals[0].text, NULL),
        ST_OPTION_STRING("--window", NULL, &window, NULL),
        ST_OPTION_STRING("--win-ms", NULL, &reals[1].text, NULL),
        ST_OPTION_STRING("--hop-ms", NULL, &reals[2].text, NULL),
        ST_OPTION_INT("--n-fft", &f->n_fft, 2, 0),
        ST_OPTION_INT("--n-mels", &f->n_mels, 1, 0),
        ST_OPTION_STRING("--fmin", NULL, &reals[3].text, NULL),
        ST_OPTION_STRING("--fmax", NULL, &reals[4].text, NULL),
        ST_OPTION_STRING("--log-floor", NULL, &reals[5].text, NULL),
        ST_OPTION_INT("--mfcc", &f->n_mfcc, 0, 0),
        ST_OPTION_STRING("--norm", NULL, &norm, NULL),
        ST_OPTION_STRING("--vocab", NULL, &o.vocab, NULL),
        ST_OPTION_STRING("--target-name", NULL, &o.target_name, NULL),
        ST_OPTION_FLAG("--skip-bad-files", &o.skip_bad_files),
        ST_OPTION_INT("--threads", &o.threads, 1, 0),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
    };
    st_opts_t spec = {opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (!out) return st_usage_error(cli, "-o OUT.h5 is required");
    rc = parse_values(cli, reals, (int)(sizeof reals / sizeof reals[0]), window, norm, &o);
    if (rc != ST_OPTS_RUN) return rc;
    o.manifest = pos[0];
    st_audio_convert_summary_t sum;
    st_error_t err = {0};
    st_watchdog_start(0, stall_s);
    st_status_t st = st_convert_audio(out, &o, &sum, &err);
    st_watchdog_stop();
    if (st != ST_OK) {
        fprintf(stderr, "strata: %s\n", err.msg);
        return 1;
    }
    st_convert_audio_print(stdout, out, &sum);
    return 0;
}
