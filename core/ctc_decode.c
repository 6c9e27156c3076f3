/* ctc_decode.c — greedy and prefix beam search decoding of CTC outputs (see ctc_decode.h).
 *
 * Beam search bookkeeping: the kept prefixes are rows of a [W, T] token array. A frame's
 * candidates are the kept prefixes themselves (after a blank or a repeat) and their one-token
 * extensions; two extensions of different kept prefixes are never equal, so an extension only
 * needs merging with a kept prefix it equals (y + k = y'), found by comparing with the W kept
 * prefixes. The W best candidates are then copied into the next [W, T] array. */
#include "ctc_decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

void st_ctc_greedy_decode(int32_t *tokens, int32_t *len, const float *logits, const int32_t *input_len,
                          int B, int T, int K, int blank) {
    for (int i = 0; i < B; i++) {
        int32_t *out = tokens + (long)i * T;
        int n = 0, prev = -1;
        for (int t = 0; t < input_len[i]; t++) {
            int k = st_argmax(logits + ((long)i * T + t) * K, K);
            if (k != blank && k != prev) out[n++] = k;
            prev = k;
        }
        len[i] = n;
        for (int t = n; t < T; t++) out[t] = -1;
    }
}

typedef struct {
    int parent;       /* kept prefix it comes from */
    int32_t token;    /* appended token, −1: the parent itself */
    int len;
    double pb, pnb;   /* log P_b, log P_nb */
    double score;     /* P_b ⊕ P_nb, set before sorting */
} cand_t;

typedef struct {
    int W, T, K, blank, n_kept;
    int32_t *kept, *next;   /* [W, T] prefixes */
    int *kept_len, *next_len;  /* [W] */
    double *kept_pb, *kept_pnb; /* [W] */
    cand_t *cand;           /* [W·(K+1)] */
    int *order;             /* [W·(K+1)] */
    double *lp;             /* [K] one frame's log-probabilities */
} beam_t;

static int32_t cand_at(const beam_t *bm, const cand_t *c, int j) {
    int pl = bm->kept_len[c->parent];
    return j < pl ? bm->kept[(long)c->parent * bm->T + j] : c->token;
}

/* −1 when candidate a ranks before b: larger score, shorter, lexicographically smaller. */
static int cand_cmp(const beam_t *bm, const cand_t *a, const cand_t *b) {
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    for (int j = 0; j < a->len; j++) {
        int32_t x = cand_at(bm, a, j), y = cand_at(bm, b, j);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* Index of the kept prefix equal to kept prefix p + token k, or −1. */
static int find_extension(const beam_t *bm, int p, int32_t k) {
    int L = bm->kept_len[p];
    const int32_t *y = bm->kept + (long)p * bm->T;
    for (int q = 0; q < bm->n_kept; q++) {
        const int32_t *z = bm->kept + (long)q * bm->T;
        if (bm->kept_len[q] == L + 1 && z[L] == k && memcmp(z, y, sizeof(int32_t) * (size_t)L) == 0)
            return q;
    }
    return -1;
}

/* Fills bm->cand from the kept prefixes and one frame lp [K]; returns the candidate count. */
static int beam_expand(beam_t *bm, const double *lp) {
    int n = bm->n_kept;
    for (int p = 0; p < bm->n_kept; p++) {
        double pb = bm->kept_pb[p], pnb = bm->kept_pnb[p], tot = lse2(pb, pnb);
        int L = bm->kept_len[p];
        int32_t last = L ? bm->kept[(long)p * bm->T + L - 1] : -1;
        cand_t *self = &bm->cand[p];
        self->pb = lse2(self->pb, tot + lp[bm->blank]);
        if (L) self->pnb = lse2(self->pnb, pnb + lp[last]);
        for (int k = 0; k < bm->K; k++) {
            if (k == bm->blank) continue;
            double add = (k == last ? pb : tot) + lp[k];
            int q = find_extension(bm, p, k);
            if (q >= 0) {
                bm->cand[q].pnb = lse2(bm->cand[q].pnb, add);
            } else {
                bm->cand[n++] = (cand_t){p, k, L + 1, -INFINITY, add, 0.0};
            }
        }
    }
    return n;
}

/* Keeps the W best of n candidates (sorted by cand_cmp) as the new kept prefixes. */
static void beam_prune(beam_t *bm, int n) {
    for (int c = 0; c < n; c++) bm->order[c] = c, bm->cand[c].score = lse2(bm->cand[c].pb, bm->cand[c].pnb);
    /* insertion sort (stable, no shared comparator state between threads); n ≤ W·(K+1) */
    for (int c = 1; c < n; c++) {
        int v = bm->order[c], j = c - 1;
        while (j >= 0 && cand_cmp(bm, &bm->cand[bm->order[j]], &bm->cand[v]) > 0) {
            bm->order[j + 1] = bm->order[j];
            j--;
        }
        bm->order[j + 1] = v;
    }
    int keep = n < bm->W ? n : bm->W;
    for (int r = 0; r < keep; r++) {
        const cand_t *c = &bm->cand[bm->order[r]];
        int32_t *dst = bm->next + (long)r * bm->T;
        for (int j = 0; j < c->len; j++) dst[j] = cand_at(bm, c, j);
        bm->next_len[r] = c->len;
        bm->kept_pb[r] = c->pb, bm->kept_pnb[r] = c->pnb;
    }
    int32_t *t = bm->kept; bm->kept = bm->next; bm->next = t;
    int *l = bm->kept_len; bm->kept_len = bm->next_len; bm->next_len = l;
    bm->n_kept = keep;
}

/* Decodes one row x [Ti, K]; writes out [len] and returns the best score. */
static double beam_row(beam_t *bm, int32_t *out, int32_t *len, const float *x, int Ti) {
    double *lp = bm->lp;
    bm->n_kept = 1, bm->kept_len[0] = 0, bm->kept_pb[0] = 0.0, bm->kept_pnb[0] = -INFINITY;
    for (int t = 0; t < Ti; t++) {
        const float *r = x + (long)t * bm->K;
        double m = -INFINITY, z = 0.0;
        for (int k = 0; k < bm->K; k++) m = r[k] > m ? r[k] : m;
        for (int k = 0; k < bm->K; k++) z += exp(r[k] - m);
        for (int k = 0; k < bm->K; k++) lp[k] = r[k] - m - log(z);
        for (int p = 0; p < bm->n_kept; p++)
            bm->cand[p] = (cand_t){p, -1, bm->kept_len[p], -INFINITY, -INFINITY, 0.0};
        beam_prune(bm, beam_expand(bm, lp));
    }
    *len = bm->kept_len[0];
    memcpy(out, bm->kept, sizeof(int32_t) * (size_t)*len);
    for (int t = *len; t < bm->T; t++) out[t] = -1;
    return lse2(bm->kept_pb[0], bm->kept_pnb[0]);
}

/* One block for a row's beam: both prefix arrays, lengths, scores, candidates, lp [K]. */
static void *beam_alloc(beam_t *bm, int W, int T, int K, int blank) {
    size_t nc = (size_t)W * (size_t)(K + 1);
    size_t bytes = sizeof(int32_t) * 2 * (size_t)W * (size_t)(T > 0 ? T : 1) + sizeof(int) * (2 * (size_t)W + nc)
                 + sizeof(double) * (2 * (size_t)W + (size_t)K) + sizeof(cand_t) * nc;
    char *m = malloc(bytes + 64);
    if (!m) return NULL;
    char *p = m;
    bm->cand = (cand_t *)p, p += sizeof(cand_t) * nc;
    bm->kept_pb = (double *)p, p += sizeof(double) * (size_t)W;
    bm->kept_pnb = (double *)p, p += sizeof(double) * (size_t)W;
    bm->lp = (double *)p, p += sizeof(double) * (size_t)K;
    bm->kept = (int32_t *)p, p += sizeof(int32_t) * (size_t)W * (size_t)(T > 0 ? T : 1);
    bm->next = (int32_t *)p, p += sizeof(int32_t) * (size_t)W * (size_t)(T > 0 ? T : 1);
    bm->kept_len = (int *)p, p += sizeof(int) * (size_t)W;
    bm->next_len = (int *)p, p += sizeof(int) * (size_t)W;
    bm->order = (int *)p;
    bm->W = W, bm->T = T, bm->K = K, bm->blank = blank;
    return m;
}

st_status_t st_ctc_beam_decode(int32_t *tokens, int32_t *len, double *score, const float *logits,
                               const int32_t *input_len, int B, int T, int K, int blank, int W,
                               st_error_t *err) {
    if (W < 1) return st_fail(err, ST_ERR_CONFIG, "ctc beam search: beam width %d < 1", W);
    int failed_row = -1;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < B; i++) {
        beam_t bm;
        char *m = beam_alloc(&bm, W, T, K, blank);
        if (!m) {
#pragma omp critical(st_ctc_beam_fail)
            if (failed_row < 0 || i < failed_row) failed_row = i;
            continue;
        }
        double s = beam_row(&bm, tokens + (long)i * T, &len[i], logits + (long)i * T * K, input_len[i]);
        if (score) score[i] = s;
        free(m);
    }
    if (failed_row >= 0)
        return st_fail(err, ST_ERR_NOMEM, "ctc beam search: row %d: no memory for a beam of %d", failed_row, W);
    return ST_OK;
}
