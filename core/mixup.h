/* mixup.h — mixup and cutmix inside one shard's micro-batch: the Beta sampler, the partner order,
 * the per-row plan and the mixing of inputs, as plain functions over explicit buffers
 * (docs/mixup.md). The loss side (each head's loss mixed with the row's λ) is core/train_step.c.
 *
 * Every draw is keyed by (seed, ST_RNG_MIXUP, stream = shard, step = global step, index =
 * the row's occurrence id), so a row's partner, λ and span do not depend on the rank count, the
 * thread count or the pass a micro-batch runs in. A row's draws are Philox blocks j = 0, 1, ...
 * at counter index occ + j·2^56 (occurrence ids stay below 2^56):
 *   block 0: word 0 = the row's sort key (partner order), word 1 = cutmix or not, word 2 = mixup
 *            or not, word 3 = the cutmix span's start;
 *   blocks 1, 2, ...: the uniforms of the Beta draw (a rejection sampler takes as many as it needs).
 * Partners: the rows of a micro-batch sorted by (key, row); each row's partner is the
 * next one in that order, the last row's is the first — one cycle through every row, so no row
 * is its own partner (when the micro-batch has 2 rows or more) and no partner comes from
 * another micro-batch. */
#ifndef ST_MIXUP_H
#define ST_MIXUP_H

#include <stdint.h>

#include "loss.h"
#include "shape.h"
#include "st_error.h"

/* One method's settings: alpha > 0 (Beta(α, α) for λ), p in [0, 1] (share of rows mixed).
 * alpha = 0: the method is off. */
typedef struct {
    double alpha, p;
} st_mix_opts_t;

/* The config's "mixup" and "cutmix". A row is cut-mixed with probability cutmix.p; a row that
 * is not is mixed up with probability mixup.p. */
typedef struct {
    st_mix_opts_t mixup, cutmix;
} st_mix_config_t;

/* 1 when either method is on. */
int st_mix_enabled(const st_mix_config_t *c);

/* One row's plan. lam = 1: the row is left as it is. */
typedef struct {
    int32_t partner;   /* row of the same micro-batch it is mixed with (its own when unmixed) */
    float lam;         /* λ: the row's own share of the input and of the loss */
    int32_t span0;     /* cutmix: first position taken from the partner */
    int32_t span_len;  /* cutmix: positions taken from the partner; 0 = mixup or unmixed */
} st_mix_row_t;

/* A row's stream of uniforms (blocks j >= 1 of its key, see the top). */
typedef struct {
    uint64_t seed, index;
    uint32_t stream, step, block;
    uint32_t words[4];
    int used;              /* words of `words` already handed out */
} st_mix_rng_t;

void st_mix_rng_init(st_mix_rng_t *r, uint64_t seed, uint32_t stream, uint32_t step, uint64_t occ);
/* A uniform in (0, 1), open at both ends: (w + 0.5)·2^-32 of the next word. */
double st_mix_uniform(st_mix_rng_t *r);
/* N(0, 1) by Box–Muller (the cosine branch) from two uniforms. */
double st_mix_normal(st_mix_rng_t *r);

/* log of a Gamma(a, 1) draw, a > 0. Marsaglia–Tsang (2000) for a >= 1: d = a − 1/3,
 * c = 1/√(9d); repeat x ~ N(0,1), v = (1 + c·x)³ until v > 0 and log u < x²/2 + d − d·v + d·log v;
 * the draw is d·v. For a < 1: Gamma(a) = Gamma(a + 1)·U^(1/a), kept in logs (U^(1/a) underflows
 * for small a). */
double st_log_gamma_draw(double a, st_mix_rng_t *r);
/* Beta(α, α) = X / (X + Y), X, Y ~ Gamma(α), formed as 1 / (1 + exp(log Y − log X)); in [0, 1].
 * Mean 1/2, variance 1 / (4(2α + 1)). */
double st_beta_draw(double alpha, st_mix_rng_t *r);

/* The plan of one micro-batch of n rows (see the top). occ [n]: each row's occurrence id;
 * lengths [n] or NULL (every row has T valid positions): the lengths the rows will have when they
 * are mixed, i.e. after augmentation (the engine passes st_augment_lengths'), since a cutmix span
 * lies within [0, lengths[i]) and λ = 1 − span / lengths[i]; T: positions of a sequence row (1
 * for a row without positions: cutmix then stays off). order [n]: scratch (key << 32 | row,
 * sorted). */
void st_mix_plan(st_mix_row_t *plan /*[n]*/, uint64_t *order /*[n]*/, const st_mix_config_t *c, uint64_t seed,
                 uint32_t shard, uint32_t step, const int64_t *occ /*[n]*/, const int32_t *lengths /*[n] or NULL*/,
                 int T, int n);

/* 1 when some row of the plan is mixed (lam < 1). */
int st_mix_any(const st_mix_row_t *plan /*[n]*/, int n);

/* The mixed inputs of one micro-batch: row i = λ_i·x_i + (1 − λ_i)·x_partner (mixup; its length
 * the longer of the two), or x_i with positions [span0, span0 + span_len) of the partner (cutmix;
 * its own length). A plan made from the lengths the rows have here (after augmentation) keeps
 * every span within its row, so λ is exactly the share the row keeps; a span reaching past the
 * row's length or T (a plan made from other lengths) is clipped as a guard against writing out
 * of the row, and λ then overstates the partner's share. Rows with lam = 1 are copied. x rows
 * are T·C floats, position-major. */
void st_mix_inputs(float *out /*[n, T*C]*/, int32_t *len_out /*[n] or NULL*/, const float *x /*[n, T*C]*/,
                   const int32_t *len /*[n] or NULL*/, const st_mix_row_t *plan /*[n]*/, int n, int T, int C);

/* What the settings need, checked once the data and the losses are known: cutmix needs a
 * sequence input [T, C]; neither works with a ctc head (named); mixed ids are not ids, so
 * neither works with categorical columns (n_categorical > 0). Errors name the key. */
st_status_t st_mix_check(const st_mix_config_t *c, const st_loss_heads_t *losses, st_shape_t input, int n_categorical,
                         st_error_t *err);

#endif
