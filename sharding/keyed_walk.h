/* keyed_walk.h — the items of a pool visited in (class, 64-bit Philox key, item) order with
 * scratch of 4 bytes an item plus a constant, for the split (sharding/split.c) and the shard map
 * (sharding/shards.c).
 *
 * Both only need each item's position in that order: the split its rank within its class (the
 * first n_train of a class go to train, ...), the shard map its global position k (shard
 * k mod S). Sorting every item at once takes 24 bytes an item (key, item, class); the walk
 * instead
 *   1. computes every item's key once and keeps its cell: (class, top b bits of the key), a
 *      uint32 in the caller's tags [n] (b chosen so there are at most ST_KEYED_WALK_CELLS cells,
 *      or K when K is larger), counting the items of each cell;
 *   2. groups consecutive cells into chunks of at most chunk_items items (a cell larger than
 *      that is a chunk of its own);
 *   3. per chunk, recomputes the keys of the items whose cell is in it (Philox is pure), sorts
 *      them by (class, key, item) and visits them in that order, with their global position and
 *      rank within their class; the visitor's result goes into tags[item].
 * The order is exactly that of one sort of all items by (class, key, item): a cell's items all
 * precede the next cell's. Cost: two keys an item, one pass over tags per chunk, and the sorts
 * (n log chunk_items). Deterministic and single-threaded. Pure library code (no MPI, no I/O). */
#ifndef ST_KEYED_WALK_H
#define ST_KEYED_WALK_H

#include <stdint.h>

#include "st_error.h"

#define ST_KEYED_WALK_CELLS (1 << 20)  /* cells at most (when K <= this): 8 MiB of counts */
#define ST_KEYED_WALK_CHUNK (1 << 20)  /* default items sorted at once: 24 MiB */
#define ST_KEYED_TAG_NONE 0xFFFFFFFFu  /* tags[i] of an item outside the pool */
#define ST_KEYED_TAG_MAX 0x7FFFFFFEu   /* the largest result a visitor may return */

typedef struct {
    int64_t n;             /* items */
    const int32_t *cls;    /* [n] class of each item, 0..K-1 (checked by the caller) */
    const uint8_t *pool;   /* [n] or NULL: only items with pool[i] == pool_value are walked */
    int pool_value;
    const int64_t *index;  /* [n] or NULL: item i's Philox index (NULL: i itself) */
    int K;
    uint64_t seed;
    uint32_t purpose;      /* ST_RNG_SPLIT, ST_RNG_SHARD: key = Philox(seed, purpose, stream = class,
                            * step 0, index) words 0, 1 as (w0 << 32 | w1) */
} st_keyed_pool_t;

/* Called once per walked item, in order: k its position among the walked items, k_in_class its
 * position among those of its class. Returns the item's tag (<= ST_KEYED_TAG_MAX). */
typedef uint32_t (*st_keyed_visit_t)(void *ctx, int64_t item, int32_t cls, int64_t k, int64_t k_in_class);

/* Walks the pool p in (class, key, item) order, sorting at most chunk_items items at a time
 * (<= 0: ST_KEYED_WALK_CHUNK). tags [p->n] is scratch during the walk; on return it holds the
 * visitor's result for each walked item and ST_KEYED_TAG_NONE for the others. Fails only when
 * out of memory (naming what). */
st_status_t st_keyed_walk(uint32_t *tags /*[n]*/, const st_keyed_pool_t *p, int64_t chunk_items,
                          st_keyed_visit_t visit, void *ctx, st_error_t *err);

/* Bytes of scratch st_keyed_walk allocates besides tags for n items of K classes (the counts per
 * cell and the largest chunk's sort buffer, at most), for the memory reports. */
int64_t st_keyed_walk_scratch_bytes(int64_t n, int K, int64_t chunk_items);

#endif
