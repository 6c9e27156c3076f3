/* convert_audio.h — `strata convert audio`: a manifest of audio files (manifest.h) to a strata
 * dataset of feature sequences (issue 15, docs/speech.md "strata convert audio").
 *
 * Each row's file is read (audio_read.h: mono, resampled to the features' rate) and turned into
 * log-mels or MFCCs (audio_features.h) over OpenMP threads, one file per iteration, results kept
 * by row, so the output is bitwise the same for any thread count. Then:
 *   normalisation, per feature f over frames (mean m_f, population variance v_f, in double):
 *     utterance  each row by its own frames' m_f, v_f
 *     global     every row by the m_f, v_f of all frames of the training rows (split train, or all
 *                rows without a split column), summed in row order; stored as root attributes
 *                audio_norm_mean [F] and audio_norm_std [F]
 *     none
 *   x ← (x − m_f) / sqrt(max(v_f, ST_AUDIO_VAR_FLOOR)), so a constant feature maps to 0.
 * Written: /X float32 [N, T_max, F] (zero past each row's frames), /lengths int32 [N] (frames),
 * feature_names mel0.. or mfcc0.., /y with class_names (label column), the sequence target
 * /targets/<target_name> with its vocabulary (transcript column), /groups, /split, and root
 * attributes audio_* recording every feature option and the normalisation.
 * A bad file (missing, not audio, empty, shorter than one window) is an error naming the manifest
 * line and the file, or with skip_bad_files a skipped row (its reason kept for the report).
 * Nothing is left at the output path on failure (st_dataset_write: temporary + rename). */
#ifndef ST_CONVERT_AUDIO_H
#define ST_CONVERT_AUDIO_H

#include <stdint.h>
#include <stdio.h>

#include "audio_features.h"
#include "dataset.h"
#include "st_error.h"

typedef enum { ST_AUDIO_NORM_UTTERANCE = 0, ST_AUDIO_NORM_GLOBAL, ST_AUDIO_NORM_NONE } st_audio_norm_t;

/* "utterance", "global", "none": indexed by st_audio_norm_t. */
extern const char *const st_audio_norm_names[];

/* The variance below which a feature counts as constant (its standard deviation is then 1e-4). */
#define ST_AUDIO_VAR_FLOOR 1e-8

typedef struct {
    const char *manifest;
    const char *vocab;              /* a vocabulary file for the transcripts, or NULL */
    const char *target_name;        /* the sequence target's name; NULL: "transcript" */
    st_audio_features_t features;
    st_audio_norm_t norm;
    int skip_bad_files;             /* skip (and report) bad files instead of failing */
    int threads;                    /* <= 0: the CPUs this process may use (st_threads_default) */
} st_audio_convert_options_t;

#define ST_AUDIO_SKIPS_KEPT 20

typedef struct {
    int64_t n_rows, n_written, n_skipped;
    struct {
        long line;
        char why[400];
    } skipped[ST_AUDIO_SKIPS_KEPT]; /* the first ST_AUDIO_SKIPS_KEPT skipped rows */
    double total_s, min_s, median_s, max_s;   /* audio durations of the written rows */
    int64_t n_frames;
    int max_frames, n_features, n_mfcc;
    st_audio_norm_t norm;
    int n_classes, labels_are_ids;  /* 0: no label column */
    int n_vocab, max_len;           /* 0: no transcript column */
    char target_name[ST_NAME_MAX];
    int has_groups;
    int64_t n_groups;               /* among the written rows */
    int has_split;
    int64_t split_counts[3];        /* train, val, test */
    int n_ignored;
    char ignored[256];              /* the manifest's ignored columns */
    int threads;
    double seconds;                 /* wall time of the whole conversion */
    double features_s;              /* of which reading and feature extraction (the threaded part) */
} st_audio_convert_summary_t;

/* Converts o->manifest to out_path; sum (may be NULL) gets the figures of the report. */
st_status_t st_convert_audio(const char *out_path, const st_audio_convert_options_t *o, st_audio_convert_summary_t *sum,
                             st_error_t *err);

/* The report: utterances, durations, frames, features, targets, groups, splits, speed, skips. */
void st_convert_audio_print(FILE *f, const char *out_path, const st_audio_convert_summary_t *s);

#endif
