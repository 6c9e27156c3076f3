/* manifest.h — the manifest of `strata convert audio` (issue 15): a CSV file (csv_record.h's
 * rules) with a header row naming its columns, one audio file a row.
 *
 * Columns (by exact header name; any other column is ignored and listed in ignored[]):
 *   path        required: the audio file; a relative path is relative to the manifest's folder
 *   label       classification: integer labels are class ids "0".."max", else every distinct
 *               label is a class, ids in sorted (strcmp) order (st_csv_class_ids, as convert csv)
 *   transcript  space-separated tokens → a label sequence. Vocabulary: index 0 = "<blank>" (the
 *               CTC blank), then the tokens sorted by strcmp; with a vocabulary file (one token a
 *               line, blank lines skipped) its order, from index 1. A token not in the file, an
 *               empty transcript, "<blank>" used as a token are errors naming the line.
 *   group       speaker/signer: any strings, ids in order of first appearance (→ /groups)
 *   split       train/val/validation/test or 0/1/2 (→ /split)
 * At least one of label and transcript is required (both may be present). Every error names the
 * manifest and its line (1-based, in the file), and the column or token at fault. */
#ifndef ST_MANIFEST_H
#define ST_MANIFEST_H

#include <stdint.h>

#include "st_error.h"

#define ST_MANIFEST_BLANK "<blank>"

typedef struct {
    int64_t n;                 /* rows */
    char **paths;              /* [n] the audio files, relative ones joined to the manifest's folder */
    long *lines;               /* [n] each row's line in the manifest */
    /* label column (class_names NULL without one) */
    int32_t *y;                /* [n] class ids */
    int n_classes;
    char **class_names;        /* [n_classes] */
    int labels_are_ids;
    /* transcript column (vocab NULL without one) */
    int n_vocab;               /* V, with the blank */
    char **vocab;              /* [V], vocab[0] = "<blank>" */
    int max_len;               /* L_max, the longest transcript in tokens */
    int32_t *tokens;           /* [n, max_len] token ids in [1, V), padded with 0 */
    int32_t *token_lengths;    /* [n] */
    /* optional columns */
    int64_t *groups;           /* [n] or NULL */
    int64_t n_groups;
    uint8_t *split;            /* [n] or NULL */
    char ignored[256];         /* the ignored columns, quoted and comma-separated ("" when none) */
    int n_ignored;
} st_manifest_t;

/* Reads the manifest at `path`; vocab_path (or NULL) is a vocabulary file for the transcripts.
 * Free with st_manifest_free (also after a failure). */
st_status_t st_manifest_read(st_manifest_t *m, const char *path, const char *vocab_path, st_error_t *err);
void st_manifest_free(st_manifest_t *m);

/* Keeps the rows with keep[i] != 0, in order (the arrays are compacted; n shrinks). */
void st_manifest_keep(st_manifest_t *m, const uint8_t *keep /*[n]*/);

#endif
