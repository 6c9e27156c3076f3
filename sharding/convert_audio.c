/* convert_audio.c — the audio converter of convert_audio.h: the manifest, the per-file feature
 * work over OpenMP threads (results by row), skipping or failing on bad files, normalisation,
 * and the dataset spec handed to st_dataset_write. The report is in convert_audio_report.c. */
#include "convert_audio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio_read.h"
#include "clock.h"
#include "convert_paths.h"
#include "manifest.h"
#include "threads.h"
#include "watchdog.h"

const char *const st_audio_norm_names[] = {"utterance", "global", "none"};

/* One row's features, or why its file is bad. */
typedef struct {
    float *feat;        /* [frames, F] */
    int frames;
    double seconds;     /* audio duration */
    st_status_t rc;
    char why[400];
} utt_t;

/* Per-feature mean and variance over frames [frames, F] (two passes, double, frame order). */
static void frame_stats(double *mean /*[F]*/, double *var /*[F]*/, const float *x /*[frames, F]*/, int64_t frames, int F) {
    for (int f = 0; f < F; f++) mean[f] = var[f] = 0;
    for (int64_t t = 0; t < frames; t++)
        for (int f = 0; f < F; f++) mean[f] += x[t * F + f];
    for (int f = 0; f < F; f++) mean[f] /= (double)frames;
    for (int64_t t = 0; t < frames; t++)
        for (int f = 0; f < F; f++) var[f] += (x[t * F + f] - mean[f]) * (x[t * F + f] - mean[f]);
    for (int f = 0; f < F; f++) var[f] /= (double)frames;
}

/* Variances to standard deviations with the floor: v_f ← sqrt(max(v_f, ST_AUDIO_VAR_FLOOR)). */
static void floored_std(double *v /*[F]*/, int F) {
    for (int f = 0; f < F; f++) v[f] = sqrt(fmax(v[f], ST_AUDIO_VAR_FLOOR));
}

/* x ← (x − m_f) / s_f over x [frames, F], in double. */
static void normalise(float *x /*[frames, F]*/, const double *mean /*[F]*/, const double *std /*[F]*/, int64_t frames,
                      int F) {
    for (int64_t t = 0; t < frames; t++)
        for (int f = 0; f < F; f++) x[t * F + f] = (float)((x[t * F + f] - mean[f]) / std[f]);
}

/* Reads one file and computes its features (normalised by its own frames for `utterance`). */
static void extract_one(utt_t *u, const char *path, const st_audio_features_t *o, st_audio_plan_t *plan,
                        st_audio_norm_t norm) {
    st_error_t e = {0};
    st_audio_t a;
    u->rc = st_audio_read(&a, path, o->sample_rate, &e);
    if (u->rc != ST_OK) {
        st_format(u->why, sizeof u->why, "%s", e.msg);
        return;
    }
    int F = st_audio_n_features(o);
    long frames = st_audio_n_frames(a.n, o);
    u->seconds = (double)a.n / o->sample_rate;
    if (frames < 1) {
        u->rc = ST_ERR_DATA;
        st_format(u->why, sizeof u->why, "%s: %.3f s (%ld samples at %d Hz) is shorter than one window (%d samples, "
                  "%g ms)", path, u->seconds, a.n, o->sample_rate, st_audio_win_length(o), o->win_ms);
    } else if (!(u->feat = malloc((size_t)frames * (size_t)F * sizeof *u->feat))) {
        u->rc = ST_ERR_NOMEM;
        st_format(u->why, sizeof u->why, "%s: out of memory for %ld frames of features", path, frames);
    } else if ((u->rc = st_audio_log_mel(u->feat, a.samples, a.n, o, plan, &e)) != ST_OK) {
        st_format(u->why, sizeof u->why, "%s: %s", path, e.msg);
    }
    st_audio_free(&a);
    if (u->rc != ST_OK) {
        free(u->feat);
        u->feat = NULL;
        return;
    }
    u->frames = (int)frames;
    double *stats = norm == ST_AUDIO_NORM_UTTERANCE ? malloc(2 * (size_t)F * sizeof *stats) : NULL;
    if (norm == ST_AUDIO_NORM_UTTERANCE && !stats) {
        u->rc = ST_ERR_NOMEM;
        st_format(u->why, sizeof u->why, "%s: out of memory", path);
        free(u->feat);
        u->feat = NULL;
    } else if (stats) {
        frame_stats(stats, stats + F, u->feat, frames, F);
        floored_std(stats + F, F);
        normalise(u->feat, stats, stats + F, frames, F);
    }
    free(stats);
}

/* Every row's features over `threads` threads. Without skip, rows after the first bad one are
 * left undone (rows are handed out in order, so every row before it is done): *first_bad gets
 * its index, or -1. */
static void extract_all(utt_t *u /*[n]*/, char *const *paths /*[n]*/, int64_t n, const st_audio_features_t *o,
                        st_audio_plan_t *plan, st_audio_norm_t norm, int threads, int skip, int64_t *first_bad) {
    int64_t bad = INT64_MAX;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        int64_t b;
#pragma omp critical(st_audio_first_bad)
        b = bad;
        if (i > b) continue;
        extract_one(&u[i], paths[i], o, plan, norm);
        st_watchdog_beat("converting audio files", -1);
        if (u[i].rc != ST_OK && !skip) {
#pragma omp critical(st_audio_first_bad)
            if (i < bad) bad = i;
        }
    }
    *first_bad = bad == INT64_MAX ? -1 : bad;
}

/* Drops the bad rows (recording the first ST_AUDIO_SKIPS_KEPT in sum) from m and u. */
static st_status_t drop_bad(st_manifest_t *m, utt_t *u, st_audio_convert_summary_t *sum, const char *path,
                            st_error_t *err) {
    uint8_t *keep = malloc((size_t)m->n);
    if (!keep) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", path);
    int64_t k = 0;
    for (int64_t i = 0; i < m->n; i++) {
        keep[i] = u[i].rc == ST_OK;
        if (keep[i]) {
            u[k++] = u[i];
        } else if (sum->n_skipped++ < ST_AUDIO_SKIPS_KEPT) {
            sum->skipped[sum->n_skipped - 1].line = m->lines[i];
            st_format(sum->skipped[sum->n_skipped - 1].why, sizeof sum->skipped[0].why, "%s", u[i].why);
        }
    }
    for (int64_t i = k; i < m->n; i++) u[i] = (utt_t){0}; /* moved or bad: nothing of its own to free */
    st_manifest_keep(m, keep);
    free(keep);
    if (k == 0)
        return st_fail(err, ST_ERR_DATA, "%s: none of the %lld files could be used (line %ld: %s)", path,
                       (long long)sum->n_rows, sum->skipped[0].line, sum->skipped[0].why);
    return ST_OK;
}

/* Global normalisation: statistics over every frame of the training rows, in row order. */
static st_status_t normalise_global(utt_t *u, const st_manifest_t *m, int F, double *mean, double *std, int threads,
                                    const char *path, st_error_t *err) {
    int64_t frames = 0;
    for (int64_t i = 0; i < m->n; i++) frames += (!m->split || m->split[i] == ST_SPLIT_TRAIN) ? u[i].frames : 0;
    if (frames == 0) return st_fail(err, ST_ERR_DATA, "%s: --norm global needs training rows; no row has split train", path);
    for (int f = 0; f < F; f++) mean[f] = std[f] = 0;
    for (int64_t i = 0; i < m->n; i++)
        for (int64_t t = 0; (!m->split || m->split[i] == ST_SPLIT_TRAIN) && t < u[i].frames; t++)
            for (int f = 0; f < F; f++) mean[f] += u[i].feat[t * F + f];
    for (int f = 0; f < F; f++) mean[f] /= (double)frames;
    for (int64_t i = 0; i < m->n; i++)
        for (int64_t t = 0; (!m->split || m->split[i] == ST_SPLIT_TRAIN) && t < u[i].frames; t++)
            for (int f = 0; f < F; f++) std[f] += (u[i].feat[t * F + f] - mean[f]) * (u[i].feat[t * F + f] - mean[f]);
    for (int f = 0; f < F; f++) std[f] = std[f] / (double)frames;
    floored_std(std, F);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < m->n; i++) normalise(u[i].feat, mean, std, u[i].frames, F);
    return ST_OK;
}

/* The padded /X [n, T_max, F] and /lengths [n]; frees each row's features as it is copied. */
static st_status_t pack(float **X, int32_t **lengths, int *T_max, utt_t *u, int64_t n, int F, const char *path,
                        st_error_t *err) {
    *T_max = 0;
    for (int64_t i = 0; i < n; i++)
        if (u[i].frames > *T_max) *T_max = u[i].frames;
    *X = calloc((size_t)n * (size_t)*T_max * (size_t)F, sizeof **X);
    *lengths = malloc((size_t)n * sizeof **lengths);
    if (!*X || !*lengths)
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for /X [%lld, %d, %d]", path, (long long)n, *T_max, F);
    for (int64_t i = 0; i < n; i++) {
        memcpy(*X + i * (int64_t)*T_max * F, u[i].feat, (size_t)u[i].frames * (size_t)F * sizeof **X);
        (*lengths)[i] = u[i].frames;
        free(u[i].feat);
        u[i].feat = NULL;
    }
    return ST_OK;
}

/* ---- the report's figures ----------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Durations, frames, groups and splits of the n written rows (u still holds frames and seconds). */
static void summarize(st_audio_convert_summary_t *s, const utt_t *u, const st_manifest_t *m) {
    int64_t n = m->n;
    s->n_written = n;
    double *d = malloc((size_t)n * sizeof *d);
    int64_t *g = m->groups ? malloc((size_t)n * sizeof *g) : NULL;
    for (int64_t i = 0; i < n; i++) {
        s->total_s += u[i].seconds;
        s->n_frames += u[i].frames;
        if (u[i].frames > s->max_frames) s->max_frames = u[i].frames;
        if (d) d[i] = u[i].seconds;
        if (m->split) s->split_counts[m->split[i]]++;
    }
    if (d) {
        qsort(d, (size_t)n, sizeof *d, cmp_double);
        s->min_s = d[0], s->max_s = d[n - 1];
        s->median_s = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
    }
    s->has_groups = m->groups != NULL;
    if (g) {
        memcpy(g, m->groups, (size_t)n * sizeof *g);
        qsort(g, (size_t)n, sizeof *g, cmp_i64);
        for (int64_t i = 0; i < n; i++) s->n_groups += i == 0 || g[i] != g[i - 1];
    }
    s->has_split = m->split != NULL;
    s->n_classes = m->class_names ? m->n_classes : 0;
    s->labels_are_ids = m->labels_are_ids;
    s->n_vocab = m->vocab ? m->n_vocab : 0;
    s->max_len = m->max_len;
    free(d);
    free(g);
}

/* ---- writing ------------------------------------------------------------------------------ */

enum { N_SCALAR_ATTRS = 9, MAX_ATTRS = N_SCALAR_ATTRS + 5 };

/* The root attributes recording how the features were made. */
static int feature_attrs(st_dataset_attr_t *a, double *v /*[N_SCALAR_ATTRS]*/, const st_audio_convert_options_t *o,
                         const double *mean, const double *std, int F) {
    const st_audio_features_t *f = &o->features;
    static const char *const names[N_SCALAR_ATTRS] = {"audio_sample_rate", "audio_preemphasis", "audio_win_ms",
                                                      "audio_hop_ms", "audio_n_fft", "audio_n_mels", "audio_fmin",
                                                      "audio_fmax", "audio_log_floor"};
    const double values[N_SCALAR_ATTRS] = {f->sample_rate, f->preemphasis, f->win_ms, f->hop_ms, f->n_fft,
                                           f->n_mels, f->fmin, f->fmax, f->log_floor};
    int k = 0;
    for (; k < N_SCALAR_ATTRS; k++) {
        v[k] = values[k];
        a[k] = (st_dataset_attr_t){.name = names[k], .values = &v[k], .n_values = 1};
    }
    a[k++] = (st_dataset_attr_t){.name = "audio_window", .text = st_audio_window_names[f->window]};
    a[k++] = (st_dataset_attr_t){.name = "audio_features", .text = f->n_mfcc > 0 ? "mfcc" : "log-mel"};
    a[k++] = (st_dataset_attr_t){.name = "audio_norm", .text = st_audio_norm_names[o->norm]};
    if (o->norm == ST_AUDIO_NORM_GLOBAL) {
        a[k++] = (st_dataset_attr_t){.name = "audio_norm_mean", .values = mean, .n_values = F};
        a[k++] = (st_dataset_attr_t){.name = "audio_norm_std", .values = std, .n_values = F};
    }
    return k;
}

/* Writes the dataset from the manifest's targets and the packed features. */
static st_status_t write_out(const char *out_path, const st_audio_convert_options_t *o, const st_manifest_t *m,
                             const float *X, const int32_t *lengths, int T_max, const double *mean, const double *std,
                             st_error_t *err) {
    int F = st_audio_n_features(&o->features);
    char (*fnames)[16] = malloc((size_t)F * sizeof *fnames);
    const char **fptr = malloc((size_t)F * sizeof *fptr);
    if (!fnames || !fptr) {
        free(fnames);
        free(fptr);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", out_path);
    }
    for (int f = 0; f < F; f++) {
        snprintf(fnames[f], sizeof fnames[f], "%s%d", o->features.n_mfcc > 0 ? "mfcc" : "mel", f);
        fptr[f] = fnames[f];
    }
    st_target_spec_t seq = {.name = o->target_name ? o->target_name : "transcript", .kind = ST_TARGET_SEQUENCE,
                            .width = m->max_len, .n_classes = m->n_vocab, .names = (const char *const *)m->vocab,
                            .values = m->tokens, .lengths = m->token_lengths};
    st_dataset_attr_t attrs[MAX_ATTRS];
    double v[N_SCALAR_ATTRS];
    char source[600];
    st_format(source, sizeof source, "audio: %s, %d %s, norm %s", o->manifest, F,
              o->features.n_mfcc > 0 ? "MFCCs" : "log-mels", st_audio_norm_names[o->norm]);
    st_dataset_spec_t spec = {
        .n = m->n, .shape = st_shape2(T_max, F), .X = X, .y = m->y, .split = m->split,
        .n_classes = m->class_names ? m->n_classes : 0, .class_names = (const char *const *)m->class_names,
        .n_feature_names = F, .feature_names = fptr, .source = source,
        .n_targets = m->vocab ? 1 : 0, .targets = &seq, .groups = m->groups, .lengths = lengths,
        .n_attrs = feature_attrs(attrs, v, o, mean, std, F), .attrs = attrs,
    };
    st_status_t rc = st_dataset_write(out_path, &spec, err);
    free(fnames);
    free(fptr);
    return rc;
}

/* The steps after the manifest: features, bad rows, normalisation, packing, writing. */
static st_status_t convert(const char *out_path, const st_audio_convert_options_t *o, st_manifest_t *m, utt_t *u,
                           st_audio_convert_summary_t *sum, st_error_t *err) {
    const st_audio_features_t *fo = &o->features;
    int F = st_audio_n_features(fo);
    st_audio_plan_t *plan = NULL;
    ST_TRY(st_audio_plan_create(&plan, fo, err));
    int64_t first_bad;
    double t0 = st_clock_s();
    extract_all(u, m->paths, m->n, fo, plan, o->norm, sum->threads, o->skip_bad_files, &first_bad);
    sum->features_s = st_clock_s() - t0;
    st_audio_plan_free(plan);
    if (first_bad >= 0)
        return st_fail(err, u[first_bad].rc, "%s: line %ld: %s (--skip-bad-files skips such files)", o->manifest,
                       m->lines[first_bad], u[first_bad].why);
    ST_TRY(drop_bad(m, u, sum, o->manifest, err));
    double *mean = calloc((size_t)F, sizeof *mean), *std = calloc((size_t)F, sizeof *std);
    float *X = NULL;
    int32_t *lengths = NULL;
    int T_max = 0;
    st_status_t rc = mean && std ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory", o->manifest);
    if (rc == ST_OK && o->norm == ST_AUDIO_NORM_GLOBAL)
        rc = normalise_global(u, m, F, mean, std, sum->threads, o->manifest, err);
    if (rc == ST_OK) summarize(sum, u, m);
    if (rc == ST_OK) rc = pack(&X, &lengths, &T_max, u, m->n, F, o->manifest, err);
    if (rc == ST_OK) rc = write_out(out_path, o, m, X, lengths, T_max, mean, std, err);
    free(mean);
    free(std);
    free(X);
    free(lengths);
    return rc;
}

st_status_t st_convert_audio(const char *out_path, const st_audio_convert_options_t *o, st_audio_convert_summary_t *sum,
                             st_error_t *err) {
    double t0 = st_clock_s();
    st_audio_convert_summary_t local;
    if (!sum) sum = &local;
    memset(sum, 0, sizeof *sum);
    const char *inputs[2] = {o->manifest, o->vocab};
    ST_TRY(st_convert_check_output(out_path, inputs, 2, err));
    ST_TRY(st_audio_features_check(&o->features, err));
    if ((int)o->norm < 0 || o->norm > ST_AUDIO_NORM_NONE)
        return st_fail(err, ST_ERR_CONFIG, "normalisation %d is not utterance, global or none", (int)o->norm);
    sum->threads = o->threads > 0 ? o->threads : st_threads_default(1);
    sum->norm = o->norm;
    sum->n_features = st_audio_n_features(&o->features);
    sum->n_mfcc = o->features.n_mfcc;
    st_format(sum->target_name, sizeof sum->target_name, "%s", o->target_name ? o->target_name : "transcript");
    st_manifest_t m;
    st_status_t rc = st_manifest_read(&m, o->manifest, o->vocab, err);
    utt_t *u = NULL;
    if (rc == ST_OK) {
        sum->n_rows = m.n;
        sum->n_ignored = m.n_ignored;
        st_format(sum->ignored, sizeof sum->ignored, "%s", m.ignored);
        if (!(u = calloc((size_t)m.n, sizeof *u))) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", o->manifest);
    }
    if (rc == ST_OK) rc = convert(out_path, o, &m, u, sum, err);
    for (int64_t i = 0; u && i < sum->n_rows; i++) free(u[i].feat);
    free(u);
    st_manifest_free(&m);
    sum->seconds = st_clock_s() - t0;
    return rc;
}
