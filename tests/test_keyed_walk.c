/* test_keyed_walk.c — st_keyed_walk visits a pool in exactly the order of one sort of all its
 * items by (class, Philox key, item), whatever the chunk size (1 item, a few, the default); the
 * split and the shard map built on it equal the whole-sort versions they replaced (reference
 * implementations below, the code as it was before issue 18's start-up work); the shard map
 * built from every row's label and part, with and without its lookup arrays, equals
 * st_shards_build's, and so do a rank's rows and the per-block shard lookup. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "sharding/keyed_walk.h"
#include "sharding/shards.h"
#include "sharding/split.h"

/* ---- the whole-sort reference ---- */
typedef struct {
    uint64_t key;
    int64_t item;
    int32_t cls;
} ref_t;

static int cmp_ref(const void *pa, const void *pb) {
    const ref_t *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->item > b->item) - (a->item < b->item);
}

static uint64_t ref_key(uint64_t seed, uint32_t purpose, int32_t cls, uint64_t index) {
    uint32_t w[4];
    st_rand_u32x4(seed, purpose, (uint32_t)cls, 0, index, w);
    return (uint64_t)w[0] << 32 | w[1];
}

/* The pool's items in (class, key, item) order: order [*m]. */
static int64_t *ref_order(const st_keyed_pool_t *p, int64_t *m) {
    ref_t *r = malloc(sizeof *r * (size_t)(p->n + 1));
    *m = 0;
    for (int64_t i = 0; i < p->n; i++)
        if (!p->pool || p->pool[i] == p->pool_value)
            r[(*m)++] = (ref_t){ref_key(p->seed, p->purpose, p->cls[i], p->index ? (uint64_t)p->index[i] : (uint64_t)i),
                                i, p->cls[i]};
    qsort(r, (size_t)*m, sizeof *r, cmp_ref);
    int64_t *order = malloc(sizeof *order * (size_t)(*m + 1));
    for (int64_t k = 0; k < *m; k++) order[k] = r[k].item;
    free(r);
    return order;
}

/* ---- the walk, recorded ---- */
typedef struct {
    int64_t *order;     /* [n] item at position k */
    int64_t *in_class;  /* [n] k_in_class at position k */
    int64_t n_seen, next_k;
    int ordered;        /* every call came with k = the number of calls so far */
} record_t;

static uint32_t record(void *ctx, int64_t item, int32_t cls, int64_t k, int64_t k_in_class) {
    record_t *r = ctx;
    (void)cls;
    if (k != r->next_k) r->ordered = 0;
    r->next_k = k + 1;
    r->order[k] = item, r->in_class[k] = k_in_class;
    r->n_seen++;
    return (uint32_t)(k * 7 % 1000); /* a tag that depends on the position */
}

/* n items of K classes (class weights uneven), a third outside the pool when pooled. */
static void make_items(int32_t *cls, uint8_t *pool, int64_t *index, int64_t n, int K, uint64_t salt) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        st_rand_u32x4(salt, ST_RNG_TEST, 2, 0, (uint64_t)i, w);
        cls[i] = (int32_t)(w[0] % (uint32_t)K);
        if (cls[i] % 3 == 1 && (w[1] & 1)) cls[i] = 0; /* class 0 larger */
        pool[i] = (uint8_t)(w[2] % 3);
        index[i] = 5 * i + (int64_t)(w[3] % 5); /* ascending ids with gaps */
    }
}

static void check_walk(int64_t n, int K, int pooled, int indexed, int64_t chunk) {
    int32_t *cls = malloc(sizeof *cls * ((size_t)n + 1));
    uint8_t *pool = malloc((size_t)n + 1);
    int64_t *index = malloc(sizeof *index * ((size_t)n + 1));
    make_items(cls, pool, index, n, K, (uint64_t)(n + K));
    st_keyed_pool_t p = {.n = n, .cls = cls, .pool = pooled ? pool : NULL, .pool_value = 0,
                         .index = indexed ? index : NULL, .K = K, .seed = 77, .purpose = ST_RNG_SHARD};
    int64_t m;
    int64_t *want = ref_order(&p, &m);
    record_t r = {.order = calloc((size_t)n + 1, sizeof(int64_t)), .in_class = calloc((size_t)n + 1, sizeof(int64_t)),
                  .ordered = 1};
    uint32_t *tags = malloc(sizeof *tags * ((size_t)n + 1));
    st_error_t err;
    assert_int_equal(st_keyed_walk(tags, &p, chunk, record, &r, &err), ST_OK);
    assert_int_equal(r.n_seen, m);
    assert_true(r.ordered);
    assert_memory_equal(r.order, want, sizeof(int64_t) * (size_t)m);
    int64_t *class_start = calloc((size_t)K + 1, sizeof(int64_t));
    for (int64_t k = 0; k < m; k++) class_start[cls[want[k]] + 1]++;
    for (int c = 0; c < K; c++) class_start[c + 1] += class_start[c];
    for (int64_t k = 0; k < m; k++) {
        assert_int_equal(r.in_class[k], k - class_start[cls[want[k]]]);
        assert_int_equal(tags[want[k]], (uint32_t)(k * 7 % 1000));
    }
    for (int64_t i = 0; i < n; i++)
        if (pooled && pool[i] != 0) assert_int_equal(tags[i], ST_KEYED_TAG_NONE);
    free(cls), free(pool), free(index), free(want), free(r.order), free(r.in_class), free(tags), free(class_start);
}

static void test_walk_equals_one_sort(void **s) {
    (void)s;
    const int64_t chunks[] = {1, 7, 1000, 0};
    for (int c = 0; c < 4; c++) {
        check_walk(5000, 3, 0, 0, chunks[c]);
        check_walk(5000, 37, 1, 1, chunks[c]);
        check_walk(5000, 1, 1, 0, chunks[c]);
    }
    check_walk(200000, 10, 1, 1, 4096); /* 2^14 cells of ~4 items: many chunks of many cells */
    check_walk(0, 2, 0, 0, 0);
    check_walk(1, 4, 0, 0, 0);
}

/* ---- the split: the whole-sort version it replaced ---- */
static void ref_split(uint8_t *split, const int32_t *y, const uint8_t *pool, const int64_t w[3], uint64_t seed,
                      int64_t N, int K) {
    int64_t *n_class = calloc((size_t)K, sizeof(int64_t)), *pc = calloc(3 * (size_t)K, sizeof(int64_t)), n_pool = 0;
    for (int64_t i = 0; i < N; i++)
        if (!pool || pool[i]) n_class[y[i]]++, n_pool++;
    for (int c = 0; c < K; c++) assert_int_equal(st_split_largest_remainder(pc + 3 * c, n_class[c], w, 3), 0);
    ref_t *rows = malloc(sizeof *rows * (size_t)(n_pool + 1));
    int64_t m = 0;
    for (int64_t i = 0; i < N; i++)
        if (!pool || pool[i]) rows[m++] = (ref_t){ref_key(seed, ST_RNG_SPLIT, y[i], (uint64_t)i), i, y[i]};
    qsort(rows, (size_t)n_pool, sizeof *rows, cmp_ref);
    for (int64_t j = 0; j < n_pool;) {
        const int64_t *p = pc + 3 * rows[j].cls;
        for (int q = 0; q < 3; q++)
            for (int64_t k = 0; k < p[q]; k++) split[rows[j++].item] = (uint8_t)q;
    }
    free(rows), free(n_class), free(pc);
}

static void test_split_equals_whole_sort(void **s) {
    (void)s;
    enum { N = 100000, K = 7 };
    int32_t *y = malloc(sizeof *y * N);
    uint8_t *pool = malloc(N), *pre = malloc(N), *got = malloc(N), *want = malloc(N);
    int64_t *index = malloc(sizeof *index * N);
    make_items(y, pre, index, N, K, 3);
    st_error_t err;
    st_split_options_t o = st_split_options_default();
    int64_t w[3] = {810000, 90000, 100000};
    assert_int_equal(st_split_make(got, y, NULL, &o, NULL, 42, N, K, &err), ST_OK);
    ref_split(want, y, NULL, w, 42, N, K);
    assert_memory_equal(got, want, N);
    /* a predefined split without val rows: val carved from its train rows (in place, too) */
    for (int64_t i = 0; i < N; i++) pre[i] = pre[i] == ST_SPLIT_VAL ? ST_SPLIT_TRAIN : pre[i];
    for (int64_t i = 0; i < N; i++) pool[i] = pre[i] == ST_SPLIT_TRAIN;
    memcpy(want, pre, N);
    int64_t wv[3] = {900000, 100000, 0};
    ref_split(want, y, pool, wv, 5, N, K);
    assert_int_equal(st_split_make(got, y, pre, &o, NULL, 5, N, K, &err), ST_OK);
    assert_memory_equal(got, want, N);
    assert_int_equal(st_split_make(pre, y, pre, &o, NULL, 5, N, K, &err), ST_OK);
    assert_memory_equal(pre, want, N);
    free(y), free(pool), free(pre), free(got), free(want), free(index);
}

/* ---- the shard map from every row's label and part ---- */
static void test_shards_from_split(void **s) {
    (void)s;
    enum { N = 50000, K = 5, S = 6 };
    int32_t *y = malloc(sizeof *y * N);
    uint8_t *split = malloc(N);
    int64_t *index = malloc(sizeof *index * N), *ids = malloc(sizeof *ids * N);
    int32_t *labels = malloc(sizeof *labels * N);
    make_items(y, split, index, N, K, 11);
    int64_t n_train = 0;
    for (int64_t i = 0; i < N; i++)
        if (split[i] == ST_SPLIT_TRAIN) ids[n_train] = i, labels[n_train++] = y[i];
    st_error_t err;
    st_shards_t a, b, c;
    assert_int_equal(st_shards_build(&a, ids, labels, 9, n_train, K, S, &err), ST_OK);
    assert_int_equal(st_shards_build_split(&b, y, split, ST_SPLIT_TRAIN, 9, N, K, S, 1, &err), ST_OK);
    assert_int_equal(st_shards_build_split(&c, y, split, ST_SPLIT_TRAIN, 9, N, K, S, 0, &err), ST_OK);
    assert_int_equal(b.n_train, n_train);
    assert_memory_equal(a.shard_start, b.shard_start, sizeof(int64_t) * (S + 1));
    assert_memory_equal(a.shard_start, c.shard_start, sizeof(int64_t) * (S + 1));
    assert_memory_equal(a.rows, b.rows, sizeof(int64_t) * (size_t)n_train);
    assert_memory_equal(a.rows, c.rows, sizeof(int64_t) * (size_t)n_train);
    assert_memory_equal(a.ids, b.ids, sizeof(int64_t) * (size_t)n_train);
    assert_memory_equal(a.shard_of, b.shard_of, sizeof(int32_t) * (size_t)n_train);
    assert_null(c.ids);
    assert_null(c.shard_of);
    /* a rank's rows and the per-block lookup agree with and without the lookup arrays */
    int64_t *ra = malloc(sizeof *ra * (size_t)n_train), *rc = malloc(sizeof *rc * (size_t)n_train), na, nc;
    for (int P = 1; P <= 4; P++)
        for (int r = 0; r < P; r++) {
            assert_int_equal(st_shards_rank_rows(NULL, &na, &a, r, P, &err), ST_OK);
            assert_int_equal(st_shards_rank_rows(ra, &na, &a, r, P, &err), ST_OK);
            assert_int_equal(st_shards_rank_rows(rc, &nc, &c, r, P, &err), ST_OK);
            assert_int_equal(na, nc);
            assert_memory_equal(ra, rc, sizeof(int64_t) * (size_t)na);
            int32_t *sa = malloc(sizeof *sa * (size_t)(na + 1)), *sc = malloc(sizeof *sc * (size_t)(na + 1));
            int64_t from = na / 3, n = na / 3; /* a stretch of the rank's rows, like a block's */
            assert_int_equal(st_shards_of(sa, &a, ra + from, n, &err), ST_OK);
            assert_int_equal(st_shards_of(sc, &c, ra + from, n, &err), ST_OK);
            assert_memory_equal(sa, sc, sizeof(int32_t) * (size_t)n);
            for (int64_t i = 0; i < n; i++) assert_true(sc[i] >= S * r / P && sc[i] < S * (r + 1) / P);
            free(sa), free(sc);
        }
    int64_t not_train = 0;
    while (split[not_train] == ST_SPLIT_TRAIN) not_train++;
    int32_t one;
    assert_int_equal(st_shards_of(&one, &c, &not_train, 1, &err), ST_OK);
    assert_int_equal(one, -1);
    /* the refusals of st_shards_build */
    st_shards_free(&b);
    assert_int_equal(st_shards_build_split(&b, y, split, ST_SPLIT_TRAIN, 9, 4, K, 5, 0, &err), ST_ERR_DATA);
    y[3] = K;
    split[3] = ST_SPLIT_TRAIN;
    assert_int_equal(st_shards_build_split(&b, y, split, ST_SPLIT_TRAIN, 9, N, K, S, 0, &err), ST_ERR_DATA);
    assert_non_null(strstr(err.msg, "row 3 has label 5"));
    st_shards_free(&a), st_shards_free(&c);
    free(y), free(split), free(index), free(ids), free(labels), free(ra), free(rc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_equals_one_sort),
        cmocka_unit_test(test_split_equals_whole_sort),
        cmocka_unit_test(test_shards_from_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
