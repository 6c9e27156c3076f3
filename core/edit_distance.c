/* edit_distance.c — Levenshtein distance with a match count, over tokens or UTF-8 characters, and
 * the WER / CER / token accuracy / exact-match aggregates (see edit_distance.h). One DP row of
 * (cost, hits) pairs: cost minimal first, then hits maximal. */
#include "edit_distance.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t cost, hits;
} cell_t;

/* The better of two cells: lower cost, then more hits. */
static cell_t best(cell_t a, cell_t b) {
    if (a.cost != b.cost) return a.cost < b.cost ? a : b;
    return a.hits >= b.hits ? a : b;
}

int64_t st_edit_distance(int64_t *hits, const int32_t *ref, int n_ref, const int32_t *hyp, int n_hyp) {
    cell_t *row = malloc(sizeof(cell_t) * (size_t)(n_hyp + 1));
    if (!row) return -1;
    for (int j = 0; j <= n_hyp; j++) row[j] = (cell_t){j, 0};   /* ref empty: j insertions */
    for (int i = 1; i <= n_ref; i++) {
        cell_t diag = row[0];
        row[0] = (cell_t){i, 0};                                /* hyp empty: i deletions */
        for (int j = 1; j <= n_hyp; j++) {
            int same = ref[i - 1] == hyp[j - 1];
            cell_t sub = {diag.cost + !same, diag.hits + same};
            cell_t del = {row[j].cost + 1, row[j].hits};
            cell_t ins = {row[j - 1].cost + 1, row[j - 1].hits};
            diag = row[j];
            row[j] = best(sub, best(del, ins));
        }
    }
    cell_t r = row[n_hyp];
    free(row);
    if (hits) *hits = r.hits;
    return r.cost;
}

/* Decodes UTF-8 into code points cp [strlen(s)]; returns their count. Invalid or truncated
 * sequences: the lead byte alone is one character. */
static int utf8_decode(int32_t *cp, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    while (*p) {
        int extra = *p >= 0xF0 && *p < 0xF8 ? 3 : *p >= 0xE0 ? 2 : *p >= 0xC0 ? 1 : 0;
        if (*p >= 0xF8) extra = 0;
        int32_t c = extra ? (*p & (0x3F >> extra)) : *p;
        int ok = 1;
        for (int k = 1; k <= extra && ok; k++)   /* stops at the first non-continuation (NUL too) */
            if ((p[k] & 0xC0) != 0x80) ok = 0;
        if (!ok) extra = 0, c = *p;
        for (int k = 1; k <= extra; k++) c = (c << 6) | (p[k] & 0x3F);
        cp[n++] = c;
        p += 1 + extra;
    }
    return n;
}

int64_t st_edit_distance_utf8(int64_t *hits, int64_t *n_ref, const char *ref, const char *hyp) {
    size_t lr = strlen(ref), lh = strlen(hyp);
    int32_t *a = malloc(sizeof(int32_t) * (lr + lh + 1));
    if (!a) return -1;
    int na = utf8_decode(a, ref), nb = utf8_decode(a + na, hyp);
    int64_t d = st_edit_distance(hits, a, na, a + na, nb);
    free(a);
    if (n_ref) *n_ref = na;
    return d;
}

static void add_pair(st_seqscore_t *acc, int64_t d, int64_t hits, int64_t n_ref, int exact) {
    acc->edits += d;
    acc->hits += hits;
    acc->ref_tokens += n_ref;
    acc->n_seqs += 1;
    acc->n_exact += exact;
}

int st_seqscore_add(st_seqscore_t *acc, const int32_t *ref, int n_ref, const int32_t *hyp, int n_hyp) {
    int64_t hits, d = st_edit_distance(&hits, ref, n_ref, hyp, n_hyp);
    if (d < 0) return -1;
    add_pair(acc, d, hits, n_ref, d == 0);
    return 0;
}

int st_seqscore_add_chars(st_seqscore_t *acc, const char *ref, const char *hyp) {
    int64_t hits, n_ref, d = st_edit_distance_utf8(&hits, &n_ref, ref, hyp);
    if (d < 0) return -1;
    add_pair(acc, d, hits, n_ref, d == 0);
    return 0;
}

static double ratio(int64_t num, int64_t den) { return den > 0 ? (double)num / (double)den : 0.0; }

double st_seqscore_error_rate(const st_seqscore_t *s) { return ratio(s->edits, s->ref_tokens); }
double st_seqscore_token_accuracy(const st_seqscore_t *s) { return ratio(s->hits, s->ref_tokens); }
double st_seqscore_exact_match(const st_seqscore_t *s) { return ratio(s->n_exact, s->n_seqs); }
