/* split.c — stratified train/val/test split (largest remainder per class, Philox order within
 * a class, walked in bounded chunks by sharding/keyed_walk.h: 4 bytes a row of scratch), its
 * grouped variant (whole groups placed where their majority class is furthest below quota) and
 * class counts; the rules are in split.h and docs/sharding.md. */
#include "split.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "sharding/keyed_walk.h"

static const char *const part_names[ST_SPLIT_N_PARTS] = {"train", "val", "test"};

st_split_options_t st_split_options_default(void) {
    return (st_split_options_t){.train = 0.81, .val = 0.09, .test = 0.10, .val_fraction = 0.1};
}

/* Steps 1-2 of the rule: floor shares, then one leftover row each to the largest remainders
 * (ties to the earlier part). */
static void largest_remainder_plain(int64_t *counts, int64_t n, const int64_t *w, int n_parts) {
    int64_t W = 0, given = 0;
    for (int p = 0; p < n_parts; p++) W += w[p];
    int64_t rem[ST_SPLIT_N_PARTS + 1];
    for (int p = 0; p < n_parts; p++) {
        counts[p] = n * w[p] / W;
        rem[p] = n * w[p] % W;
        given += counts[p];
    }
    for (int64_t left = n - given; left > 0; left--) {
        int best = 0; /* strictly larger remainder wins, so ties go to the earlier part */
        for (int p = 1; p < n_parts; p++)
            if (rem[p] > rem[best]) best = p;
        counts[best]++;
        rem[best] = -1; /* each part gets at most one leftover row */
    }
}

int64_t st_split_largest_remainder(int64_t *counts, int64_t n, const int64_t *w, int n_parts) {
    int needed = 0;
    for (int p = 0; p < n_parts; p++) needed += w[p] > 0;
    if (n > 0 && n < needed) return needed;
    largest_remainder_plain(counts, n, w, n_parts);
    if (n == 0) return 0;
    for (int p = 0; p < n_parts; p++) {
        if (w[p] == 0 || counts[p] > 0) continue;
        int largest = 0;
        for (int q = 1; q < n_parts; q++)
            if (counts[q] > counts[largest]) largest = q;
        counts[largest]--;
        counts[p]++;
    }
    return 0;
}

/* The walk's visitor: a row's part from its rank within its class (the first n_train of the
 * class go to train, the next n_val to val, the rest to test). ctx: part counts [K, 3]. */
static uint32_t part_of_rank(void *ctx, int64_t row, int32_t cls, int64_t k, int64_t k_in_class) {
    const int64_t *pc = (const int64_t *)ctx + 3 * (int64_t)cls;
    (void)row, (void)k;
    return k_in_class < pc[0] ? 0u : k_in_class < pc[0] + pc[1] ? 1u : 2u;
}

static void class_label(char *buf, size_t size, int c, const char *const *class_names) {
    if (class_names && class_names[c]) st_format(buf, size, "class %d (\"%s\")", c, class_names[c]);
    else st_format(buf, size, "class %d", c);
}

static st_status_t check_fraction(double f, const char *what, int64_t *w, st_error_t *err) {
    if (!isfinite(f) || f < 0 || f > 1)
        return st_fail(err, ST_ERR_CONFIG, "split: %s fraction %g is not in [0, 1]", what, f);
    *w = llround(f * 1e6);
    if (f > 0 && *w == 0)
        return st_fail(err, ST_ERR_CONFIG, "split: %s fraction %g is below 1e-6 (use 0 for no %s part)", what, f, what);
    return ST_OK;
}

/* "train, val, test" and "0.81/0.09/0.1": the parts with w > 0, for messages. */
static void describe_parts(char *parts, size_t parts_size, char *fr, size_t fr_size, const int64_t w[3]) {
    parts[0] = fr[0] = 0;
    for (int p = 0, first = 1; p < 3; p++) {
        if (!w[p]) continue;
        size_t l = strlen(parts), lf = strlen(fr);
        st_format(parts + l, parts_size - l, "%s%s", first ? "" : ", ", part_names[p]);
        st_format(fr + lf, fr_size - lf, "%s%g", first ? "" : "/", (double)w[p] / 1e6);
        first = 0;
    }
}

/* Splits the rows with pool[row] = ST_SPLIT_TRAIN (all rows when pool is NULL) per class by
 * weights w, writing part ids into split (which may alias pool: it is written after the walk).
 * The order within a class comes from st_keyed_walk: 4 bytes a row of scratch plus a constant,
 * where one sort of every row took 24. `context` describes the pool for messages. */
static st_status_t split_pool(uint8_t *split, const int32_t *y, const uint8_t *pool, const int64_t w[3],
                              const char *const *class_names, uint64_t seed, int64_t N, int K,
                              const char *context, st_error_t *err) {
    int64_t *n_class = st_alloc(sizeof(int64_t) * (size_t)K * 4, "split class counts", err);
    if (!n_class) return ST_ERR_NOMEM;
    int64_t *part_count = n_class + K; /* [K, 3] */
    int64_t n_pool = 0;
    for (int64_t i = 0; i < N; i++)
        if (!pool || pool[i] == ST_SPLIT_TRAIN) n_class[y[i]]++, n_pool++;
    int bad = -1, n_bad = 0;
    int64_t needed = 0;
    for (int c = 0; c < K; c++) {
        int64_t need = st_split_largest_remainder(part_count + 3 * c, n_class[c], w, 3);
        if (need) {
            if (bad < 0) bad = c, needed = need;
            n_bad++;
        }
    }
    if (bad >= 0) {
        char cname[128], parts[64], fr[64];
        class_label(cname, sizeof cname, bad, class_names);
        describe_parts(parts, sizeof parts, fr, sizeof fr, w);
        char more[64] = "";
        long long have = (long long)n_class[bad];
        if (n_bad > 1) st_format(more, sizeof more, "; %d more class%s too small", n_bad - 1, n_bad > 2 ? "es are" : " is");
        st_free(n_class);
        return st_fail(err, ST_ERR_DATA,
                       "split: %s has %lld sample%s%s, too few for a stratified split into %s (fractions %s): "
                       "it needs at least %lld (one in each part)%s",
                       cname, have, have == 1 ? "" : "s", context, parts, fr,
                       (long long)needed, more);
    }
    uint32_t *tags = st_alloc(sizeof(uint32_t) * (size_t)(N ? N : 1), "split order", err);
    if (!tags) {
        st_free(n_class);
        return ST_ERR_NOMEM;
    }
    st_keyed_pool_t kp = {.n = N, .cls = y, .pool = pool, .pool_value = ST_SPLIT_TRAIN, .K = K, .seed = seed,
                          .purpose = ST_RNG_SPLIT};
    st_status_t rc = st_keyed_walk(tags, &kp, 0, part_of_rank, part_count, err);
    for (int64_t i = 0; rc == ST_OK && i < N; i++)
        if (tags[i] != ST_KEYED_TAG_NONE) split[i] = (uint8_t)tags[i];
    st_free(tags);
    st_free(n_class);
    return rc;
}

/* Labels in 0..K-1 and predefined values in 0..2, naming the first bad row. */
static st_status_t check_rows(const int32_t *y, const uint8_t *predefined, int64_t N, int K, st_error_t *err) {
    if (K < 1 || K > (1 << 24))
        return st_fail(err, ST_ERR_CONFIG, "split: class count %d is not in 1..16777216", K);
    if (N < 0) return st_fail(err, ST_ERR_INTERNAL, "split: negative sample count %lld", (long long)N);
    for (int64_t i = 0; i < N; i++) {
        if (y[i] < 0 || y[i] >= K)
            return st_fail(err, ST_ERR_DATA, "split: row %lld has label %d, outside 0..%d", (long long)i, y[i], K - 1);
        if (predefined && predefined[i] > ST_SPLIT_TEST)
            return st_fail(err, ST_ERR_DATA, "split: row %lld has predefined split value %d (expected 0 train, 1 val, 2 test)",
                           (long long)i, predefined[i]);
    }
    return ST_OK;
}

/* The weights w [3] (millionths) of the fractions train/val/test, checked. */
static st_status_t part_weights(int64_t w[3], const st_split_options_t *o, st_error_t *err) {
    ST_TRY(check_fraction(o->train, "train", &w[0], err));
    ST_TRY(check_fraction(o->val, "val", &w[1], err));
    ST_TRY(check_fraction(o->test, "test", &w[2], err));
    if (fabs(o->train + o->val + o->test - 1.0) > 1e-6)
        return st_fail(err, ST_ERR_CONFIG, "split: fractions train %g + val %g + test %g = %g, expected 1",
                       o->train, o->val, o->test, o->train + o->val + o->test);
    if (w[0] == 0) return st_fail(err, ST_ERR_CONFIG, "split: train fraction must be positive");
    return ST_OK;
}

static st_status_t check_val_fraction(double f, st_error_t *err) {
    if (!isfinite(f) || f < 0 || f >= 1)
        return st_fail(err, ST_ERR_CONFIG, "split: val_fraction %g is not in [0, 1)", f);
    return ST_OK;
}

st_status_t st_split_make(uint8_t *split, const int32_t *y, const uint8_t *predefined,
                          const st_split_options_t *opt, const char *const *class_names, uint64_t seed,
                          int64_t N, int K, st_error_t *err) {
    st_split_options_t o = opt ? *opt : st_split_options_default();
    ST_TRY(check_rows(y, predefined, N, K, err));
    int64_t w[3];
    if (!predefined) {
        ST_TRY(part_weights(w, &o, err));
        return split_pool(split, y, NULL, w, class_names, seed, N, K, "", err);
    }
    int64_t n_val = 0;
    for (int64_t i = 0; i < N; i++) n_val += predefined[i] == ST_SPLIT_VAL;
    ST_TRY(check_val_fraction(o.val_fraction, err));
    if (split != predefined) memcpy(split, predefined, (size_t)N);
    if (n_val > 0 || o.val_fraction == 0) return ST_OK;
    ST_TRY(check_fraction(o.val_fraction, "val", &w[1], err));
    w[0] = 1000000 - w[1], w[2] = 0;
    /* the pool is the predefined training rows, read from split itself (written after the walk) */
    return split_pool(split, y, split, w, class_names, seed, N, K,
                      " in the file's predefined training part (val is carved from it)", err);
}

st_status_t st_split_check_train(const uint8_t *split, const int32_t *y, const char *const *class_names, int64_t N,
                                 int K, st_error_t *err) {
    int64_t *count = st_alloc(sizeof(int64_t) * 3 * (size_t)K, "split check counts", err); /* [K, 3] */
    if (!count) return ST_ERR_NOMEM;
    for (int64_t i = 0; i < N; i++)
        if (y[i] >= 0 && y[i] < K && split[i] <= ST_SPLIT_TEST) count[3 * (int64_t)y[i] + split[i]]++;
    int n_train_classes = 0, first_unseen = -1;
    for (int c = 0; c < K; c++) {
        const int64_t *n = count + 3 * c;
        n_train_classes += n[ST_SPLIT_TRAIN] > 0;
        if (first_unseen < 0 && n[ST_SPLIT_TRAIN] == 0 && n[ST_SPLIT_VAL] + n[ST_SPLIT_TEST] > 0) first_unseen = c;
    }
    st_status_t rc = ST_OK;
    if (first_unseen >= 0) {
        char cname[128];
        const int64_t *n = count + 3 * first_unseen;
        class_label(cname, sizeof cname, first_unseen, class_names);
        rc = st_fail(err, ST_ERR_DATA,
                     "split: %s has no training rows but %lld in val and %lld in test (the file's /split puts it "
                     "only outside train): the model could never predict it; give it rows with /split = 0",
                     cname, (long long)n[ST_SPLIT_VAL], (long long)n[ST_SPLIT_TEST]);
    } else if (n_train_classes < 2) {
        rc = st_fail(err, ST_ERR_DATA, "split: %d of the %d class%s %s training rows; a classifier needs at least 2",
                     n_train_classes, K, K == 1 ? "" : "es", n_train_classes == 1 ? "has" : "have");
    }
    st_free(count);
    return rc;
}

st_status_t st_class_counts(int64_t *counts, const int32_t *y, const uint8_t *split, int part, int64_t N, int K,
                            st_error_t *err) {
    memset(counts, 0, sizeof(int64_t) * (size_t)K);
    for (int64_t i = 0; i < N; i++) {
        if (y[i] < 0 || y[i] >= K)
            return st_fail(err, ST_ERR_DATA, "class counts: row %lld has label %d, outside 0..%d", (long long)i, y[i], K - 1);
        if (!split || split[i] == part) counts[y[i]]++;
    }
    return ST_OK;
}

st_status_t st_split_counts(st_split_counts_t *out, const int32_t *y, const uint8_t *split, int64_t N, int K,
                            st_error_t *err) {
    memset(out, 0, sizeof *out);
    if (K < 1) return st_fail(err, ST_ERR_CONFIG, "split counts: class count %d is not positive", K);
    out->count = st_alloc(sizeof(int64_t) * 3 * (size_t)K, "split counts", err);
    if (!out->count) return ST_ERR_NOMEM;
    out->n_classes = K;
    for (int64_t i = 0; i < N; i++) {
        if (y[i] < 0 || y[i] >= K || split[i] > ST_SPLIT_TEST) {
            st_split_counts_free(out);
            return st_fail(err, ST_ERR_DATA, "split counts: row %lld has label %d and split %d (expected 0..%d and 0..2)",
                           (long long)i, y[i], split[i], K - 1);
        }
        out->count[(int64_t)split[i] * K + y[i]]++;
        out->part_total[split[i]]++;
    }
    return ST_OK;
}

void st_split_counts_free(st_split_counts_t *c) {
    st_free(c->count);
    memset(c, 0, sizeof *c);
}

/* ---- Grouped split (rules in split.h and docs/sharding.md, "Grouped split") ---- */

#define GID_SIGN 0x8000000000000000ull /* id ^ GID_SIGN: unsigned order = signed order of int64 ids */

/* Stable LSD radix sort of the pairs (key[i], val[i]) by key, one byte per pass; passes where
 * every key has the same byte are skipped. kt, vt [n] are scratch. O(n) per pass, 8 passes. */
static void radix_sort_pairs(uint64_t *key, int64_t *val, uint64_t *kt, int64_t *vt, int64_t n) {
    if (n < 2) return;
    enum { n_passes = 8 };
    int64_t hist[n_passes][256] = {{0}}; /* 16 KiB */
    int skip[n_passes];
    for (int64_t i = 0; i < n; i++)
        for (int b = 0; b < n_passes; b++) hist[b][(key[i] >> (8 * b)) & 255]++;
    for (int b = 0; b < n_passes; b++) skip[b] = hist[b][(key[0] >> (8 * b)) & 255] == n;
    uint64_t *ks = key, *kd = kt;
    int64_t *vs = val, *vd = vt;
    for (int b = 0; b < n_passes; b++) {
        if (skip[b]) continue;
        int64_t pos[256], sum = 0;
        for (int d = 0; d < 256; d++) pos[d] = sum, sum += hist[b][d];
        for (int64_t i = 0; i < n; i++) {
            int64_t j = pos[(ks[i] >> (8 * b)) & 255]++;
            kd[j] = ks[i], vd[j] = vs[i];
        }
        uint64_t *kx = ks;
        int64_t *vx = vs;
        ks = kd, vs = vd, kd = kx, vd = vx;
    }
    if (ks != key) memcpy(key, ks, sizeof *key * (size_t)n), memcpy(val, vs, sizeof *val * (size_t)n);
}

/* The rows ordered by (group id, row): a group is a run of equal gkey. */
typedef struct {
    uint64_t *gkey;   /* [N] group id ^ GID_SIGN, ascending */
    int64_t *row;     /* [N] the row at each position; ascending within a group */
    int64_t n_groups; /* runs */
} group_index_t;

static void group_index_free(group_index_t *gi) {
    st_free(gi->gkey), st_free(gi->row);
    memset(gi, 0, sizeof *gi);
}

static st_status_t group_index_build(group_index_t *gi, const int64_t *groups, int64_t N, st_error_t *err) {
    size_t n = (size_t)(N ? N : 1);
    memset(gi, 0, sizeof *gi);
    gi->gkey = st_alloc(n * sizeof *gi->gkey, "grouped split: group ids", err);
    gi->row = gi->gkey ? st_alloc(n * sizeof *gi->row, "grouped split: rows by group", err) : NULL;
    uint64_t *kt = gi->row ? st_alloc(n * sizeof *kt, "grouped split: sort scratch", err) : NULL;
    int64_t *vt = kt ? st_alloc(n * sizeof *vt, "grouped split: sort scratch", err) : NULL;
    if (!vt) {
        st_free(kt), group_index_free(gi);
        return ST_ERR_NOMEM;
    }
    for (int64_t i = 0; i < N; i++) gi->gkey[i] = (uint64_t)groups[i] ^ GID_SIGN, gi->row[i] = i;
    radix_sort_pairs(gi->gkey, gi->row, kt, vt, N); /* stable: rows stay ascending within a group */
    st_free(kt), st_free(vt);
    for (int64_t i = 0; i < N; i++) gi->n_groups += i == 0 || gi->gkey[i] != gi->gkey[i - 1];
    return ST_OK;
}

/* One past the last position of the group starting at position s. */
static int64_t group_end(const group_index_t *gi, int64_t s, int64_t N) {
    int64_t e = s + 1;
    while (e < N && gi->gkey[e] == gi->gkey[s]) e++;
    return e;
}

static long long group_id(const group_index_t *gi, int64_t s) { return (long long)(int64_t)(gi->gkey[s] ^ GID_SIGN); }

/* Every group lies in one predefined part; fails naming the group and two of its rows. */
static st_status_t check_group_parts(const group_index_t *gi, const uint8_t *pre, int64_t N, st_error_t *err) {
    for (int64_t s = 0, e; s < N; s = e) {
        e = group_end(gi, s, N);
        int64_t r0 = gi->row[s];
        for (int64_t j = s + 1; j < e; j++) {
            int64_t r = gi->row[j];
            if (pre[r] == pre[r0]) continue;
            return st_fail(err, ST_ERR_DATA,
                           "split: group %lld has rows in two parts of the file's /split: row %lld is %s and row %lld "
                           "is %s; the rows of a group must share one part",
                           group_id(gi, s), (long long)r0, part_names[pre[r0]], (long long)r, part_names[pre[r]]);
        }
    }
    return ST_OK;
}

static uint64_t group_key(uint64_t seed, long long id) {
    uint32_t w[4];
    st_rand_u32x4(seed, ST_RNG_GROUP_SPLIT, 0, 0, (uint64_t)id, w);
    return (uint64_t)w[0] << 32 | w[1];
}

/* Per-class tallies of one grouped assignment. */
typedef struct {
    int64_t *n_class;  /* [K] rows of class c in the pool */
    int64_t *quota;    /* [K, 3] q[c][p] */
    int64_t *assigned; /* [K, 3] rows of class c placed in part p */
    int64_t *n_groups; /* [K] groups holding a row of class c */
    int64_t *tally;    /* [K] scratch: rows of class c in the current group (zero between groups) */
} class_tally_t;

/* The group's majority class (ties: lowest id); counts it in t->n_groups per class present. */
static int group_majority(class_tally_t *t, const group_index_t *gi, const int32_t *y, int64_t s, int64_t e) {
    int best = -1;
    int64_t best_n = 0;
    for (int64_t j = s; j < e; j++) {
        int c = y[gi->row[j]];
        if (t->tally[c]++ == 0) t->n_groups[c]++;
        if (t->tally[c] > best_n || (t->tally[c] == best_n && c < best)) best = c, best_n = t->tally[c];
    }
    for (int64_t j = s; j < e; j++) t->tally[y[gi->row[j]]] = 0;
    return best;
}

/* The part with w > 0 whose quota for class c is furthest below (ties: the earlier part). */
static int furthest_below(const class_tally_t *t, int c, const int64_t w[3]) {
    int best = -1;
    for (int p = 0; p < 3; p++) {
        if (!w[p]) continue;
        int64_t d = t->quota[3 * c + p] - t->assigned[3 * c + p];
        if (best < 0 || d > t->quota[3 * c + best] - t->assigned[3 * c + best]) best = p;
    }
    return best;
}

/* The groups of the pool (all, or those whose rows are predefined train when pre is set), in
 * placing order: key [G] their Philox keys ascending, start [G] their first positions in gi
 * (ties stay in id order: the sort is stable and gi is ordered by id). */
static st_status_t order_groups(uint64_t **key, int64_t **start, int64_t *G, const group_index_t *gi,
                                const uint8_t *pre, uint64_t seed, int64_t N, st_error_t *err) {
    size_t n = (size_t)(gi->n_groups ? gi->n_groups : 1);
    *key = st_alloc(n * sizeof **key, "grouped split: group keys", err);
    *start = *key ? st_alloc(n * sizeof **start, "grouped split: group order", err) : NULL;
    uint64_t *kt = *start ? st_alloc(n * sizeof *kt, "grouped split: sort scratch", err) : NULL;
    int64_t *vt = kt ? st_alloc(n * sizeof *vt, "grouped split: sort scratch", err) : NULL;
    if (!vt) {
        st_free(*key), st_free(*start), st_free(kt);
        *key = NULL, *start = NULL;
        return ST_ERR_NOMEM;
    }
    *G = 0;
    for (int64_t s = 0; s < N; s = group_end(gi, s, N)) {
        if (pre && pre[gi->row[s]] != ST_SPLIT_TRAIN) continue;
        (*key)[*G] = group_key(seed, group_id(gi, s));
        (*start)[(*G)++] = s;
    }
    radix_sort_pairs(*key, *start, kt, vt, *G);
    st_free(kt), st_free(vt);
    return ST_OK;
}

static void add_warning(st_split_report_t *report, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(st_split_report_t *report, const char *fmt, ...) {
    if (!report) return;
    if (report->n_warnings < ST_SPLIT_REPORT_WARNINGS) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(report->warning[report->n_warnings], ST_SPLIT_WARNING_LEN, fmt, ap);
        va_end(ap);
    }
    report->n_warnings++;
}

/* After placing: a part with w > 0 and no rows is an error; a class with rows but none in such a
 * part is a warning. part_rows [3] rows per part, G groups placed. */
static st_status_t check_placed(const class_tally_t *t, const int64_t part_rows[3], const int64_t w[3], int64_t G,
                                const char *const *class_names, int K, const char *context,
                                st_split_report_t *report, st_error_t *err) {
    char parts[64], fr[64], cname[128];
    describe_parts(parts, sizeof parts, fr, sizeof fr, w);
    for (int p = 0; p < 3; p++) {
        if (!w[p] || part_rows[p]) continue;
        long long rows = (long long)(part_rows[0] + part_rows[1] + part_rows[2]);
        return st_fail(err, ST_ERR_DATA,
                       "split: too few groups: %lld group%s (%lld row%s)%s, and none went to %s in a grouped split "
                       "into %s (fractions %s); every part needs at least one group",
                       (long long)G, G == 1 ? "" : "s", rows, rows == 1 ? "" : "s", context, part_names[p], parts, fr);
    }
    for (int c = 0; c < K; c++)
        for (int p = 0; p < 3; p++) {
            if (!w[p] || !t->n_class[c] || t->assigned[3 * c + p]) continue;
            class_label(cname, sizeof cname, c, class_names);
            long long n = (long long)t->n_class[c], g = (long long)t->n_groups[c];
            add_warning(report, "split: %s has %lld row%s in %lld group%s%s but none in %s (a group is never divided)",
                        cname, n, n == 1 ? "" : "s", g, g == 1 ? "" : "s", context, part_names[p]);
        }
    return ST_OK;
}

/* Places the groups of the pool (see order_groups) by the grouped rule with weights w, writing
 * split for their rows. `context` describes the pool for messages. */
static st_status_t place_groups(uint8_t *split, const int32_t *y, const uint8_t *pre, const group_index_t *gi,
                                const int64_t w[3], const char *const *class_names, uint64_t seed, int64_t N, int K,
                                const char *context, st_split_report_t *report, st_error_t *err) {
    class_tally_t t;
    t.n_class = st_alloc(sizeof(int64_t) * 9 * (size_t)K, "grouped split: class tallies", err);
    if (!t.n_class) return ST_ERR_NOMEM;
    t.quota = t.n_class + K, t.assigned = t.quota + 3 * K, t.n_groups = t.assigned + 3 * K, t.tally = t.n_groups + K;
    uint64_t *key;
    int64_t *start, G;
    st_status_t rc = order_groups(&key, &start, &G, gi, pre, seed, N, err);
    if (rc) {
        st_free(t.n_class);
        return rc;
    }
    for (int64_t i = 0; i < N; i++)
        if (!pre || pre[i] == ST_SPLIT_TRAIN) t.n_class[y[i]]++;
    for (int c = 0; c < K; c++) /* a class smaller than the parts: quotas without the move-one fix */
        if (st_split_largest_remainder(t.quota + 3 * c, t.n_class[c], w, 3))
            largest_remainder_plain(t.quota + 3 * c, t.n_class[c], w, 3);
    int64_t part_rows[3] = {0, 0, 0};
    for (int64_t g = 0; g < G; g++) {
        int64_t s = start[g], e = group_end(gi, s, N);
        int p = furthest_below(&t, group_majority(&t, gi, y, s, e), w);
        for (int64_t j = s; j < e; j++) split[gi->row[j]] = (uint8_t)p, t.assigned[3 * y[gi->row[j]] + p]++;
        part_rows[p] += e - s;
    }
    if (report) report->n_groups_assigned = G;
    rc = check_placed(&t, part_rows, w, G, class_names, K, context, report, err);
    st_free(key), st_free(start), st_free(t.n_class);
    return rc;
}

st_status_t st_split_make_grouped(uint8_t *split, const int32_t *y, const int64_t *groups, const uint8_t *predefined,
                                  const st_split_options_t *opt, const char *const *class_names, uint64_t seed,
                                  int64_t N, int K, st_split_report_t *report, st_error_t *err) {
    st_split_options_t o = opt ? *opt : st_split_options_default();
    if (report) memset(report, 0, sizeof *report);
    ST_TRY(check_rows(y, predefined, N, K, err));
    int64_t w[3];
    if (predefined) ST_TRY(check_val_fraction(o.val_fraction, err));
    else ST_TRY(part_weights(w, &o, err));
    group_index_t gi;
    ST_TRY(group_index_build(&gi, groups, N, err));
    if (report) report->n_groups = gi.n_groups;
    st_status_t rc = ST_OK;
    if (!predefined) {
        rc = place_groups(split, y, NULL, &gi, w, class_names, seed, N, K, "", report, err);
    } else if ((rc = check_group_parts(&gi, predefined, N, err)) == ST_OK) {
        int64_t n_val = 0;
        for (int64_t i = 0; i < N; i++) n_val += predefined[i] == ST_SPLIT_VAL;
        if (n_val == 0 && o.val_fraction > 0 && (rc = check_fraction(o.val_fraction, "val", &w[1], err)) == ST_OK) {
            w[0] = 1000000 - w[1], w[2] = 0;
            /* place_groups reads predefined only before it writes split: the two may alias */
            rc = place_groups(split, y, predefined, &gi, w, class_names, seed, N, K,
                              " in the file's predefined training part (val is carved from it)", report, err);
        }
        if (rc == ST_OK && split != predefined)
            for (int64_t i = 0; i < N; i++)
                if (n_val > 0 || o.val_fraction == 0 || predefined[i] != ST_SPLIT_TRAIN) split[i] = predefined[i];
    }
    group_index_free(&gi);
    return rc;
}
