/* split.c — stratified train/val/test split (largest remainder per class, Philox order within
 * a class) and class counts; the rules are in split.h and docs/sharding.md. */
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"

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

typedef struct {
    uint64_t key;
    int64_t row;
    int32_t cls;
} keyed_row_t;

static int cmp_keyed_row(const void *pa, const void *pb) {
    const keyed_row_t *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

static uint64_t split_key(uint64_t seed, int cls, int64_t row) {
    uint32_t w[4];
    st_rand_u32x4(seed, ST_RNG_SPLIT, (uint32_t)cls, 0, (uint64_t)row, w);
    return (uint64_t)w[0] << 32 | w[1];
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

/* Splits the rows with pool[row] = 1 (all rows when pool is NULL) per class by weights w,
 * writing part ids into split. `context` describes the pool for messages. */
static st_status_t split_pool(uint8_t *split, const int32_t *y, const uint8_t *pool, const int64_t w[3],
                              const char *const *class_names, uint64_t seed, int64_t N, int K,
                              const char *context, st_error_t *err) {
    int64_t *n_class = st_alloc(sizeof(int64_t) * (size_t)K * 4, "split class counts", err);
    if (!n_class) return ST_ERR_NOMEM;
    int64_t *part_count = n_class + K; /* [K, 3] */
    int64_t n_pool = 0;
    for (int64_t i = 0; i < N; i++)
        if (!pool || pool[i]) n_class[y[i]]++, n_pool++;
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
    keyed_row_t *rows = st_alloc(sizeof(keyed_row_t) * (size_t)(n_pool ? n_pool : 1), "split order", err);
    if (!rows) {
        st_free(n_class);
        return ST_ERR_NOMEM;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < N; i++)
        if (!pool || pool[i]) rows[m++] = (keyed_row_t){split_key(seed, y[i], i), i, y[i]};
    qsort(rows, (size_t)n_pool, sizeof *rows, cmp_keyed_row);
    for (int64_t j = 0; j < n_pool;) {
        int c = rows[j].cls;
        const int64_t *pc = part_count + 3 * c;
        for (int p = 0; p < 3; p++)
            for (int64_t k = 0; k < pc[p]; k++) split[rows[j++].row] = (uint8_t)p;
    }
    st_free(rows);
    st_free(n_class);
    return ST_OK;
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
    uint8_t *pool = st_alloc((size_t)(N ? N : 1), "split pool", err);
    if (!pool) return ST_ERR_NOMEM;
    for (int64_t i = 0; i < N; i++) pool[i] = split[i] == ST_SPLIT_TRAIN;
    st_status_t rc = split_pool(split, y, pool, w, class_names, seed, N, K,
                                " in the file's predefined training part (val is carved from it)", err);
    st_free(pool);
    return rc;
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
