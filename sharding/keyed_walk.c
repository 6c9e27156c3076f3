/* keyed_walk.c — a pool's items in (class, Philox key, item) order, one bounded chunk of cells at a
 * time (see keyed_walk.h). */
#include "keyed_walk.h"

#include <stdlib.h>

#include "philox.h"

#define TAG_VISITED 0x80000000u /* set on an item's tag once visited: no cell has this bit */

typedef struct {
    uint64_t key;
    int64_t item;
    int32_t cls;
} keyed_item_t;

static int cmp_keyed_item(const void *pa, const void *pb) {
    const keyed_item_t *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->item > b->item) - (a->item < b->item);
}

static uint64_t key_of(const st_keyed_pool_t *p, int64_t i) {
    uint32_t w[4];
    st_rand_u32x4(p->seed, p->purpose, (uint32_t)p->cls[i], 0, p->index ? (uint64_t)p->index[i] : (uint64_t)i, w);
    return (uint64_t)w[0] << 32 | w[1];
}

/* Key bits per cell: the largest b with K·2^b <= max(K, min(ST_KEYED_WALK_CELLS, n / 4)), so
 * about four items a cell on small pools and at most 2^20 cells (or K) on large ones. */
static int cell_bits(int64_t n, int K) {
    int64_t target = n / 4 < ST_KEYED_WALK_CELLS ? n / 4 : ST_KEYED_WALK_CELLS;
    int b = 0;
    while (b < 32 && ((int64_t)K << (b + 1)) <= target) b++;
    return b;
}

static uint32_t cell_of(int32_t cls, uint64_t key, int b) {
    return (uint32_t)cls << b | (b ? (uint32_t)(key >> (64 - b)) : 0);
}

/* The chunk starting at cell lo: cells [lo, *hi) with at most cap items (at least one cell). */
static int64_t chunk_end(const int64_t *start, int64_t lo, int64_t n_cells, int64_t cap) {
    int64_t hi = lo + 1;
    while (hi < n_cells && start[hi + 1] - start[lo] <= cap) hi++;
    return hi;
}

int64_t st_keyed_walk_scratch_bytes(int64_t n, int K, int64_t chunk_items) {
    int64_t cap = chunk_items > 0 ? chunk_items : ST_KEYED_WALK_CHUNK;
    int64_t cells = (int64_t)K << cell_bits(n, K);
    return (cells + 1) * (int64_t)sizeof(int64_t) + (n < cap ? n : cap) * (int64_t)sizeof(keyed_item_t);
}

/* Pass 1: every walked item's cell into tags, counts per cell into start (then their prefix sums:
 * start[c] = the position of cell c's first item). */
static void count_cells(uint32_t *tags, int64_t *start, const st_keyed_pool_t *p, int b, int64_t n_cells) {
    for (int64_t i = 0; i < p->n; i++) {
        if (p->pool && p->pool[i] != p->pool_value) {
            tags[i] = ST_KEYED_TAG_NONE;
            continue;
        }
        tags[i] = cell_of(p->cls[i], key_of(p, i), b);
        start[tags[i] + 1]++;
    }
    for (int64_t c = 0; c < n_cells; c++) start[c + 1] += start[c];
}

st_status_t st_keyed_walk(uint32_t *tags, const st_keyed_pool_t *p, int64_t chunk_items, st_keyed_visit_t visit,
                          void *ctx, st_error_t *err) {
    int64_t cap = chunk_items > 0 ? chunk_items : ST_KEYED_WALK_CHUNK;
    int b = cell_bits(p->n, p->K);
    int64_t n_cells = (int64_t)p->K << b;
    int64_t *start = st_alloc(((size_t)n_cells + 1) * sizeof *start, "keyed walk: items per cell", err);
    if (!start) return ST_ERR_NOMEM;
    count_cells(tags, start, p, b, n_cells);
    int64_t widest = 0; /* the largest chunk sizes the sort buffer */
    for (int64_t lo = 0, hi; lo < n_cells; lo = hi) {
        hi = chunk_end(start, lo, n_cells, cap);
        if (start[hi] - start[lo] > widest) widest = start[hi] - start[lo];
    }
    keyed_item_t *buf = st_alloc((size_t)(widest ? widest : 1) * sizeof *buf, "keyed walk: sort chunk", err);
    if (!buf) {
        st_free(start);
        return ST_ERR_NOMEM;
    }
    for (int64_t lo = 0, hi; lo < n_cells; lo = hi) {
        hi = chunk_end(start, lo, n_cells, cap);
        int64_t m = 0, k0 = start[lo];
        if (start[hi] == k0) continue;
        for (int64_t i = 0; i < p->n; i++) /* visited and outside tags have the top bit: never in range */
            if (tags[i] >= (uint64_t)lo && tags[i] < (uint64_t)hi) buf[m++] = (keyed_item_t){key_of(p, i), i, p->cls[i]};
        qsort(buf, (size_t)m, sizeof *buf, cmp_keyed_item);
        for (int64_t j = 0; j < m; j++) {
            int64_t k = k0 + j, in_class = k - start[(int64_t)buf[j].cls << b];
            tags[buf[j].item] = TAG_VISITED | (visit(ctx, buf[j].item, buf[j].cls, k, in_class) & ~TAG_VISITED);
        }
    }
    for (int64_t i = 0; i < p->n; i++)
        if (tags[i] != ST_KEYED_TAG_NONE) tags[i] &= ~TAG_VISITED;
    st_free(buf);
    st_free(start);
    return ST_OK;
}
