/* mixup.c — the Beta sampler, the partner order, the plan of a micro-batch and the mixing of its
 * inputs (see mixup.h; the definition is docs/mixup.md). */
#include "mixup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"

#define BLOCK_SHIFT 56 /* block j of a row's draws sits at counter index occ + j·2^56 */

int st_mix_enabled(const st_mix_config_t *c) { return c && (c->mixup.alpha > 0 || c->cutmix.alpha > 0); }

/* ---- a row's uniforms ---- */

void st_mix_rng_init(st_mix_rng_t *r, uint64_t seed, uint32_t stream, uint32_t step, uint64_t occ) {
    memset(r, 0, sizeof *r);
    r->seed = seed, r->stream = stream, r->step = step, r->index = occ;
    r->used = 4; /* block 0 is the plan's; the first call moves to block 1 */
}

static uint32_t next_word(st_mix_rng_t *r) {
    if (r->used == 4) {
        r->block++;
        st_rand_u32x4(r->seed, ST_RNG_MIXUP, r->stream, r->step, r->index + ((uint64_t)r->block << BLOCK_SHIFT),
                      r->words);
        r->used = 0;
    }
    return r->words[r->used++];
}

static double word_to_open_unit(uint32_t w) { return ((double)w + 0.5) * (1.0 / 4294967296.0); }

double st_mix_uniform(st_mix_rng_t *r) { return word_to_open_unit(next_word(r)); }

double st_mix_normal(st_mix_rng_t *r) {
    double u1 = st_mix_uniform(r), u2 = st_mix_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- Gamma and Beta ---- */

/* log of a Gamma(a) draw for a >= 1 (Marsaglia–Tsang; acceptance >= 95%). */
static double log_gamma_mt(double a, st_mix_rng_t *r) {
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = st_mix_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = st_mix_uniform(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return log(d) + log(v);
    }
}

double st_log_gamma_draw(double a, st_mix_rng_t *r) {
    if (a >= 1) return log_gamma_mt(a, r);
    double g = log_gamma_mt(a + 1.0, r);
    return g + log(st_mix_uniform(r)) / a; /* Gamma(a) = Gamma(a + 1)·U^(1/a) */
}

double st_beta_draw(double alpha, st_mix_rng_t *r) {
    double lx = st_log_gamma_draw(alpha, r), ly = st_log_gamma_draw(alpha, r);
    return 1.0 / (1.0 + exp(ly - lx)); /* X / (X + Y); exp overflow gives 0, underflow 1 */
}

/* ---- the plan ---- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Row i's cutmix span within its T_valid positions: span of round((1 − β)·T_valid) positions from a
 * uniform start; λ = 1 − span / T_valid. */
static void plan_cutmix(st_mix_row_t *row, double beta, uint32_t start_word, int T_valid) {
    if (T_valid < 1) return;
    long span = lround((1.0 - beta) * T_valid);
    if (span < 0) span = 0;
    if (span > T_valid) span = T_valid;
    if (span == 0) return;
    long start = (long)(word_to_open_unit(start_word) * (double)(T_valid - span + 1));
    if (start > T_valid - span) start = T_valid - span;
    row->span0 = (int32_t)start, row->span_len = (int32_t)span;
    row->lam = (float)(1.0 - (double)span / T_valid);
}

void st_mix_plan(st_mix_row_t *plan, uint64_t *order, const st_mix_config_t *c, uint64_t seed, uint32_t shard,
                 uint32_t step, const int64_t *occ, const int32_t *lengths, int T, int n) {
    for (int i = 0; i < n; i++) {
        uint32_t b0[4];
        st_rand_u32x4(seed, ST_RNG_MIXUP, shard, step, (uint64_t)occ[i], b0);
        order[i] = (uint64_t)b0[0] << 32 | (uint32_t)i;
        plan[i] = (st_mix_row_t){.partner = i, .lam = 1.0f};
        if (n < 2) continue;
        st_mix_rng_t r;
        st_mix_rng_init(&r, seed, shard, step, (uint64_t)occ[i]);
        if (c->cutmix.alpha > 0 && T > 1 && word_to_open_unit(b0[1]) < c->cutmix.p)
            plan_cutmix(&plan[i], st_beta_draw(c->cutmix.alpha, &r), b0[3], lengths ? lengths[i] : T);
        else if (c->mixup.alpha > 0 && word_to_open_unit(b0[2]) < c->mixup.p)
            plan[i].lam = (float)st_beta_draw(c->mixup.alpha, &r);
    }
    if (n < 2) return;
    qsort(order, (size_t)n, sizeof *order, cmp_u64);
    for (int t = 0; t < n; t++) {
        int i = (int)(uint32_t)order[t], j = (int)(uint32_t)order[(t + 1) % n];
        plan[i].partner = plan[i].lam < 1.0f ? j : i;
        if (plan[i].lam >= 1.0f) plan[i].span0 = plan[i].span_len = 0;
    }
}

int st_mix_any(const st_mix_row_t *plan, int n) {
    for (int i = 0; i < n; i++)
        if (plan[i].lam < 1.0f) return 1;
    return 0;
}

/* ---- the inputs ---- */

void st_mix_inputs(float *out, int32_t *len_out, const float *x, const int32_t *len, const st_mix_row_t *plan, int n,
                   int T, int C) {
    size_t row = (size_t)T * (size_t)C;
    #pragma omp parallel for schedule(static) if ((long)n * (long)row >= 65536)
    for (int i = 0; i < n; i++) {
        const st_mix_row_t *p = &plan[i];
        const float *a = x + (size_t)i * row, *b = x + (size_t)p->partner * row;
        float *o = out + (size_t)i * row;
        if (len_out && len) len_out[i] = len[i];
        if (p->lam >= 1.0f) {
            memcpy(o, a, sizeof(float) * row);
        } else if (p->span_len > 0) { /* cutmix: the partner's positions of the span, within the row */
            memcpy(o, a, sizeof(float) * row);
            int32_t lim = len && len[i] < T ? len[i] : T, end = p->span0 + p->span_len < lim ? p->span0 + p->span_len : lim;
            if (end > p->span0)
                memcpy(o + (size_t)p->span0 * C, b + (size_t)p->span0 * C, sizeof(float) * (size_t)(end - p->span0) * C);
        } else { /* mixup: positions past a row's length are 0, so the longer length covers both */
            float l = p->lam, m = 1.0f - p->lam;
            for (size_t k = 0; k < row; k++) o[k] = l * a[k] + m * b[k];
            if (len_out && len && len[p->partner] > len[i]) len_out[i] = len[p->partner];
        }
    }
}

/* ---- what the settings need ---- */

st_status_t st_mix_check(const st_mix_config_t *c, const st_loss_heads_t *losses, st_shape_t input, int n_categorical,
                         st_error_t *err) {
    if (!st_mix_enabled(c)) return ST_OK;
    const char *key = c->cutmix.alpha > 0 ? "cutmix" : "mixup";
    if (c->cutmix.alpha > 0 && input.rank != 2) {
        char got[48];
        st_shape_str(input, got, sizeof got);
        return st_fail(err, ST_ERR_CONFIG, "cutmix: needs sequence inputs [T, C] (it swaps a span of positions), "
                       "the data's rows are %s; use mixup", got);
    }
    for (int h = 0; h < losses->n_heads; h++) {
        const st_loss_config_t *l = &losses->heads[h];
        if (!st_loss_is_sequence(l)) continue;
        char where[32] = "loss";
        if (losses->n_heads > 1) snprintf(where, sizeof where, "loss[%d]", h);
        return st_fail(err, ST_ERR_CONFIG, "%s: refused with the ctc head \"%s\" (%s): a label sequence cannot be "
                       "mixed", key, l->head[0] ? l->head : "the model's output", where);
    }
    if (n_categorical > 0)
        return st_fail(err, ST_ERR_CONFIG, "%s: refused with data.categorical (%d id columns): mixed ids are not ids",
                       key, n_categorical);
    return ST_OK;
}
