/* edit_distance.h — sequence metrics for decoded outputs: Levenshtein distance over int32 token
 * sequences or over the characters (UTF-8 code points) of strings, and the aggregates WER / CER,
 * token accuracy and sequence exact match.
 *
 * Counts are int64 that callers add over batches and ranks (st_seqscore_add / a plain sum of the
 * fields); ratios are formed once from the global counts:
 *   error rate     = Σ edits / Σ reference tokens        (WER over words/tokens, CER over chars;
 *                    can exceed 1 with many insertions)
 *   token accuracy = Σ hits / Σ reference tokens, hits = reference tokens matched by an alignment
 *                    of minimal edits that matches the most (N − substitutions − deletions)
 *   exact match    = sequences equal to their reference / sequences.
 * Ratios with an empty denominator are 0. */
#ifndef ST_EDIT_DISTANCE_H
#define ST_EDIT_DISTANCE_H

#include <stdint.h>

typedef struct {
    int64_t edits;      /* substitutions + insertions + deletions */
    int64_t hits;       /* matched reference tokens (see above) */
    int64_t ref_tokens; /* reference length */
    int64_t n_seqs;     /* sequences compared */
    int64_t n_exact;    /* sequences equal to their reference */
} st_seqscore_t;

/* Levenshtein distance between ref [n_ref] and hyp [n_hyp] (unit costs); hits (may be NULL) gets
 * the matches of a minimal alignment that matches the most. Returns −1 when work memory
 * ((n_hyp + 1) pairs of int64) cannot be allocated. */
int64_t st_edit_distance(int64_t *hits, const int32_t *ref /*[n_ref]*/, int n_ref,
                         const int32_t *hyp /*[n_hyp]*/, int n_hyp);

/* The same over the UTF-8 code points of two NUL-terminated strings (an invalid byte counts as one
 * character). n_ref (may be NULL) gets the reference's character count. −1 on allocation failure. */
int64_t st_edit_distance_utf8(int64_t *hits, int64_t *n_ref, const char *ref, const char *hyp);

/* acc += one pair of token sequences. Returns 0, or −1 on allocation failure (acc unchanged). */
int st_seqscore_add(st_seqscore_t *acc, const int32_t *ref /*[n_ref]*/, int n_ref,
                    const int32_t *hyp /*[n_hyp]*/, int n_hyp);

/* acc += one pair of strings compared by characters (for CER). Returns 0 or −1 as above. */
int st_seqscore_add_chars(st_seqscore_t *acc, const char *ref, const char *hyp);

double st_seqscore_error_rate(const st_seqscore_t *s);     /* WER or CER */
double st_seqscore_token_accuracy(const st_seqscore_t *s);
double st_seqscore_exact_match(const st_seqscore_t *s);

#endif
