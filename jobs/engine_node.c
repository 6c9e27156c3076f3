/* engine_node.c — the node-local gradient sum and update (see engine_node.h). */
#include "engine_node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "regularize.h"

/* A rank's segment: parameters (used in rank 0's only), gradients, then each optimizer state
 * array, each arena padded to a multiple of 16 floats (64 bytes); then the block sums of squares
 * and the closing records. */
static size_t padded(size_t n) { return (n + 15) / 16 * 16; }
enum { PARAMS, GRADS, STATE0 };

/* The sum goes a block of ST_SQ_BLOCK floats at a time (a stack buffer), and each block's Σ g² is
 * the one st_sum_squares makes of that block; ranges are cut at whole blocks, so the norm,
 * added block by block in arena order, has st_sum_squares' bits. */
enum { NODE_BLOCK = ST_SQ_BLOCK };
static size_t blocks_in(size_t n) { return (n + NODE_BLOCK - 1) / NODE_BLOCK; }

/* Rank r's arena `which`; the parameters are one array for all, in rank 0's segment. */
static float *arena_of(const st_engine_t *e, int rank, int which) {
    size_t n = padded(st_model_param_floats(e->parts.model));
    return (float *)st_node_segment(&e->node, which == PARAMS ? 0 : rank) + (size_t)which * n;
}

/* Rank r's Σ g² of each block of the arena (after its arenas; r writes those of its range). */
static double *block_sq_of(const st_engine_t *e, int r) {
    return (double *)arena_of(e, r, STATE0 + st_optim_n_state(e->parts.optim));
}

/* Rank r's closing records (after the block sums): its shards' records of the step. */
static double *records_of(const st_engine_t *e, int r) {
    return block_sq_of(e, r) + (blocks_in(st_model_param_floats(e->parts.model)) + 7) / 8 * 8;
}

void st_engine_node_close(st_engine_t *e) {
    int S = e->data->S, P = e->comm->size, me = e->comm->rank;
    size_t rec = (size_t)e->rec_len;
    memcpy(records_of(e, me), e->close + (size_t)e->data->shard_first * rec, sizeof(double) * (size_t)e->n_owned * rec);
    st_node_barrier(&e->node);
    for (int r = 0; r < P; r++) {
        int64_t first = (int64_t)S * r / P, end = (int64_t)S * (r + 1) / P;
        if (r != me) memcpy(e->close + (size_t)first * rec, records_of(e, r), sizeof(double) * (size_t)(end - first) * rec);
    }
}

/* Rank r's range: P near-equal parts of n's blocks (the last one short). */
static void range_of(size_t n, int r, int P, size_t *lo, size_t *hi) {
    size_t blocks = blocks_in(n);
    *lo = blocks * (size_t)r / (size_t)P * NODE_BLOCK;
    *hi = r == P - 1 ? n : blocks * (size_t)(r + 1) / (size_t)P * NODE_BLOCK;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

/* STRATA_NODE_UPDATE: unset or "1" on, "0" off, anything else an error (every rank reads the
 * same environment, so every rank fails alike). */
static st_status_t wanted(int *on, st_error_t *err) {
    const char *v = getenv("STRATA_NODE_UPDATE");
    *on = !v || !*v || !strcmp(v, "1");
    if (v && *v && strcmp(v, "0") && strcmp(v, "1"))
        return st_fail(err, ST_ERR_CONFIG, "STRATA_NODE_UPDATE: expected 0 (the all-reduce) or 1 (the node-local update), got \"%s\"", v);
    return ST_OK;
}

/* 1 when a tensor with an L2 term has floats in [lo, hi). */
static int has_l2(st_model_t *m, size_t lo, size_t hi) {
    int n_tensors;
    const st_tensor_view_t *t = st_model_tensors(m, &n_tensors);
    for (int k = 0; k < n_tensors; k++)
        if (t[k].l2 > 0 && t[k].offset < hi && t[k].offset + t[k].n > lo) return 1;
    return 0;
}

st_status_t st_engine_node_init(st_engine_t *e, st_error_t *err) {
    int on;
    ST_TRY(wanted(&on, err));
    if (e->exact || !st_node_window_possible(e->comm) || !on) return ST_OK;
    st_model_t *m = e->parts.model;
    st_optim_t *o = e->parts.optim;
    size_t n = st_model_param_floats(m);
    int n_state = st_optim_n_state(o);
    int P = e->comm->size, most_owned = (e->data->S + P - 1) / P;
    size_t records = (size_t)most_owned * ((size_t)e->close_len + e->tail_len);
    size_t bytes = sizeof(float) * padded(n) * (size_t)(2 + n_state) + sizeof(double) * ((blocks_in(n) + 7) / 8 * 8 + records);
    ST_TRY(st_node_window_open(&e->node, e->comm, bytes, err));
    if (!st_node_window_is_open(&e->node)) return ST_OK; /* no room in /dev/shm: the all-reduce */
    e->node_update = 1;
    range_of(n, e->comm->rank, e->comm->size, &e->node_lo, &e->node_hi);
    e->node_fused_sq = !has_l2(m, e->node_lo, e->node_hi);
    float *params = arena_of(e, e->comm->rank, PARAMS), *grads = arena_of(e, e->comm->rank, GRADS);
    if (e->comm->rank == 0) memcpy(params, st_model_params(m), sizeof(float) * n); /* every rank's are equal */
    ST_TRY(st_barrier(e->comm, err)); /* no rank reads them before */
    e->own_params = st_model_swap_params(m, params);
    e->own_grads = st_model_swap_grads(m, grads);
    for (int k = 0; k < n_state; k++) {
        float *state = arena_of(e, e->comm->rank, STATE0 + k);
        memcpy(state, st_optim_state(o, k), sizeof(float) * n);
        e->own_state[k] = st_optim_swap_state(o, k, state);
        st_release_pages(e->own_state[k], sizeof(float) * n);
    }
    /* the model's own arenas wait for st_engine_node_free without their pages */
    st_release_pages(e->own_params, sizeof(float) * n), st_release_pages(e->own_grads, sizeof(float) * n);
    return ST_OK;
}

/* dst[lo, hi) = Σ over ranks r of src[r][lo, hi), added in rank order, a block at a time (dst
 * may be one of the sources; lo at a block's start); sq[b] (when not NULL) = Σ of the squares of
 * the sums of the arena's block b. */
static void sum_ranks(float *dst, float *const *src, int P, size_t lo, size_t hi, double *sq) {
    long n_blocks = (long)((hi - lo + NODE_BLOCK - 1) / NODE_BLOCK);
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < n_blocks; b++) {
        float acc[NODE_BLOCK];
        size_t i0 = lo + (size_t)b * NODE_BLOCK, len = hi - i0 < NODE_BLOCK ? hi - i0 : NODE_BLOCK;
        const float *restrict a = src[0] + i0, *restrict c = src[1] + i0;
        for (size_t i = 0; i < len; i++) acc[i] = a[i] + c[i];
        for (int r = 2; r < P; r++) {
            const float *restrict s = src[r] + i0;
            for (size_t i = 0; i < len; i++) acc[i] += s[i];
        }
        memcpy(dst + i0, acc, sizeof(float) * len);
        if (sq) sq[i0 / NODE_BLOCK] = st_sum_squares_serial(acc, len);
    }
}

/* The L2 terms g += l2·w of the tensors' parts inside [lo, hi). */
static void l2_range(const st_model_t *m, size_t lo, size_t hi) {
    int n_tensors;
    const st_tensor_view_t *t = st_model_tensors((st_model_t *)m, &n_tensors);
    for (int k = 0; k < n_tensors; k++) {
        if (!(t[k].l2 > 0)) continue;
        size_t a = t[k].offset > lo ? t[k].offset : lo, b = t[k].offset + t[k].n < hi ? t[k].offset + t[k].n : hi;
        if (b <= a) continue;
        st_tensor_view_t part = t[k];
        part.data += a - t[k].offset, part.grad += a - t[k].offset, part.n = b - a;
        st_l2_apply(&part, 1);
    }
}

void st_engine_node_sum(st_engine_t *e) {
    int P = e->comm->size, me = e->comm->rank;
    float *grads[ST_NODE_MAX_RANKS];
    for (int r = 0; r < P; r++) grads[r] = arena_of(e, r, GRADS);
    sum_ranks(grads[me], grads, P, e->node_lo, e->node_hi, e->node_fused_sq ? block_sq_of(e, me) : NULL);
}

void st_engine_node_update(st_engine_t *e, double lr_base, int skip, st_update_result_t *res) {
    st_model_t *m = e->parts.model;
    int P = e->comm->size, me = e->comm->rank;
    size_t lo = e->node_lo, hi = e->node_hi;
    float *g = arena_of(e, me, GRADS), *params = arena_of(e, me, PARAMS);
    if (!e->node_fused_sq) {
        l2_range(m, lo, hi);
        double *sq = block_sq_of(e, me);
        for (size_t a = lo; a < hi; a += NODE_BLOCK)
            sq[a / NODE_BLOCK] = st_sum_squares_serial(g + a, hi - a < NODE_BLOCK ? hi - a : NODE_BLOCK);
    }
    st_node_barrier(&e->node);
    double total = 0; /* block by block in arena order: st_sum_squares' sequence */
    for (int r = 0; r < P; r++) {
        size_t a, b;
        range_of(st_model_param_floats(m), r, P, &a, &b);
        if (a == b) continue;
        const double *sq = block_sq_of(e, r);
        for (size_t k = a / NODE_BLOCK; k < blocks_in(b); k++) total += sq[k];
    }
    res->grad_norm = sqrt(total);
    res->skipped = skip || !isfinite(res->grad_norm);
    double clip = e->parts.clip_norm, coef = clip > 0 ? clip / (res->grad_norm + 1e-6) : 1.0;
    if (!res->skipped && coef < 1.0) {
        const float c = (float)coef;
        #pragma omp parallel for schedule(static)
        for (size_t i = lo; i < hi; i++) g[i] *= c;
    }
    if (!res->skipped) st_optim_step_range(e->parts.optim, params, g, lr_base, lo, hi);
    st_node_barrier(&e->node);
}

/* dst [n] ← every rank's own range of its state array k. */
static void gather_state(st_engine_t *e, int k, float *dst) {
    size_t n = st_model_param_floats(e->parts.model);
    for (int r = 0; r < e->comm->size; r++) {
        size_t a, b;
        range_of(n, r, e->comm->size, &a, &b);
        float *src = arena_of(e, r, STATE0 + k) + a;
        if (dst + a != src) memcpy(dst + a, src, sizeof(float) * (b - a));
    }
}

void st_engine_node_gather_state(st_engine_t *e) {
    if (!e->node_update) return;
    for (int k = 0; k < st_optim_n_state(e->parts.optim); k++) gather_state(e, k, arena_of(e, e->comm->rank, STATE0 + k));
}

st_status_t st_engine_node_params_to_all(const st_engine_t *e, int *done, st_error_t *err) {
    *done = e->node_update;
    if (e->node_update) ST_TRY(st_barrier(e->comm, err));
    return ST_OK;
}

void st_engine_node_free(st_engine_t *e) {
    if (!e->node_update) return;
    st_model_t *m = e->parts.model;
    st_optim_t *o = e->parts.optim;
    size_t n = st_model_param_floats(m);
    /* every other rank is past its last update (this rank passed its last step's second
     * barrier); the barrier below keeps every segment until every rank has copied */
    memcpy(e->own_params, arena_of(e, e->comm->rank, PARAMS), sizeof(float) * n);
    st_model_swap_params(m, e->own_params);
    st_model_swap_grads(m, e->own_grads); /* scratch: zeroed before every step's passes */
    for (int k = 0; k < st_optim_n_state(o); k++) {
        gather_state(e, k, e->own_state[k]);
        st_optim_swap_state(o, k, e->own_state[k]);
    }
    st_node_barrier(&e->node);
    st_node_window_close(&e->node);
    e->node_update = 0;
}
