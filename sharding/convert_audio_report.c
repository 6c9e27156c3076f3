/* convert_audio_report.c — the report `strata convert audio` prints (convert_audio.h): what was
 * written, the durations, the speed as a multiple of real time, and the skipped files with their
 * reasons. Kept apart from the converter so its figures can be tested without parsing text. */
#include "convert_audio.h"

static void print_targets(FILE *f, const st_audio_convert_summary_t *s) {
    if (s->n_classes > 0)
        fprintf(f, "  label: %d class%s (%s)\n", s->n_classes, s->n_classes == 1 ? "" : "es",
                s->labels_are_ids ? "integer labels used as class ids" : "string labels, ids in sorted order");
    if (s->n_vocab > 0)
        fprintf(f, "  target %s: sequence, vocabulary %d (index 0 = <blank>), longest %d token%s\n", s->target_name,
                s->n_vocab, s->max_len, s->max_len == 1 ? "" : "s");
    if (s->has_groups) fprintf(f, "  groups: %lld\n", (long long)s->n_groups);
    if (s->has_split)
        fprintf(f, "  splits: train %lld, val %lld, test %lld\n", (long long)s->split_counts[0],
                (long long)s->split_counts[1], (long long)s->split_counts[2]);
    if (s->n_ignored) fprintf(f, "  ignored column%s: %s\n", s->n_ignored == 1 ? "" : "s", s->ignored);
}

void st_convert_audio_print(FILE *f, const char *out_path, const st_audio_convert_summary_t *s) {
    fprintf(f, "wrote %s: %lld utterance%s", out_path, (long long)s->n_written, s->n_written == 1 ? "" : "s");
    if (s->n_skipped) fprintf(f, " (%lld of %lld skipped)", (long long)s->n_skipped, (long long)s->n_rows);
    fprintf(f, ", %d %s a frame (norm %s)\n", s->n_features, s->n_mfcc > 0 ? "MFCCs" : "log-mels",
            st_audio_norm_names[s->norm]);
    fprintf(f, "  audio: %.1f s in all; per file min %.2f s, median %.2f s, max %.2f s\n", s->total_s, s->min_s,
            s->median_s, s->max_s);
    fprintf(f, "  frames: %lld in all, longest %d (/X padded to it)\n", (long long)s->n_frames, s->max_frames);
    print_targets(f, s);
    double x_rt = s->seconds > 0 ? s->total_s / s->seconds : 0;
    double x_feat = s->features_s > 0 ? s->total_s / s->features_s : 0;
    fprintf(f, "  time: %.2f s on %d thread%s, %.0fx real time (%.0fx per thread); reading and features %.2f s, "
            "%.0fx real time per thread\n", s->seconds, s->threads, s->threads == 1 ? "" : "s", x_rt, x_rt / s->threads,
            s->features_s, x_feat / s->threads);
    for (int64_t i = 0; i < s->n_skipped && i < ST_AUDIO_SKIPS_KEPT; i++)
        fprintf(f, "skipped line %ld: %s\n", s->skipped[i].line, s->skipped[i].why);
    if (s->n_skipped > ST_AUDIO_SKIPS_KEPT)
        fprintf(f, "skipped %lld more (only the first %d are listed)\n", (long long)(s->n_skipped - ST_AUDIO_SKIPS_KEPT),
                ST_AUDIO_SKIPS_KEPT);
}
