/* schedule.c — learning-rate schedules (see schedule.h): closed forms of torch's schedulers
 * for the step-driven types, the ReduceLROnPlateau state machine for the metric-driven one, a
 * linear warmup in front of any of them, and the key table that parses and documents them. */
#include "schedule.h"

#include <math.h>
#include <string.h>

/* ---- key table ---- */

/* Keys bound with FIELD fill that member (core/schema.h, ST_FIELD). A key a schedule type does
 * not use cannot be given, so its member gets the table's default, which is also
 * st_sched_config_default's. mode and threshold_mode fill mode_max and threshold_abs with their
 * index in the choices (min 0, max 1; rel 0, abs 1). Read by hand: type (picks the defaults),
 * milestones (a list), T_max and total_steps (the cosine length is derived from either),
 * warmup_fraction (becomes warmup_steps once total_steps is known). warmup_epochs is documented
 * here but resolved by the run config (jobs/config.c), which knows the epoch's length. */
#define FIELD(member) ST_FIELD(st_sched_config_t, member)

enum {
    K_TYPE, K_WARMUP, K_WARMUP_FRACTION, K_WARMUP_EPOCHS, K_WARMUP_START, K_STEP_SIZE, K_GAMMA, K_MILESTONES, K_T_MAX, K_ETA_MIN,
    K_TOTAL, K_MAX_LR, K_PCT_START, K_DIV, K_FINAL_DIV, K_MODE, K_FACTOR, K_PATIENCE,
    K_THRESHOLD, K_THRESHOLD_MODE, K_COOLDOWN, K_MIN_LR, K_EPS, N_KEYS
};

static const st_key_t sched_keys[N_KEYS] = {
    [K_TYPE] = {"type", ST_K_ENUM, "\"constant\"", 0, 0,
                "constant|step|multistep|exponential|cosine|warmup_cosine|one_cycle|reduce_on_plateau",
                "schedule of the base learning rate (each parameter group scales it by its lr_mult)"},
    [K_WARMUP] = {"warmup_steps", ST_K_INT, "0", 0, 1e15, NULL,
                  "linear warmup over the first W steps (torch LinearLR), then the schedule runs on t - W; "
                  "not for one_cycle", FIELD(warmup_steps)},
    [K_WARMUP_FRACTION] = {"warmup_fraction", ST_K_NUM, "", 0, 1, NULL,
                           "instead of warmup_steps: warm up over this fraction of total_steps (rounded, at least 1 "
                           "step when > 0); the trainer fills total_steps with the run's length, so the warmup "
                           "fits any dataset size; not for one_cycle"},
    [K_WARMUP_EPOCHS] = {"warmup_epochs", ST_K_NUM, "", 0, 1e9, NULL,
                         "instead of warmup_steps: warm up over this many epochs (may be fractional; rounded to "
                         "steps, at least 1 when > 0); strata train turns it into warmup_steps from the epoch's "
                         "length, so raising train.epochs on a resume leaves it as it was; not for one_cycle"},
    [K_WARMUP_START] = {"warmup_start_factor", ST_K_NUM, "0.01", 0, 1, NULL,
                        "the first warmup step uses this times lr (torch LinearLR's default is 1/3)",
                        FIELD(warmup_start_factor)},
    [K_STEP_SIZE] = {"step_size", ST_K_INT, "", 1, 1e15, NULL, "step: multiply by gamma every step_size steps (required)",
                     FIELD(step_size)},
    [K_GAMMA] = {"gamma", ST_K_NUM, "", 0, 1e300, NULL,
                 "step, multistep, exponential: decay factor; default 0.1 (step, multistep), required for exponential",
                 FIELD(gamma)},
    [K_MILESTONES] = {"milestones", ST_K_INTS, "", 1, 1e15, NULL,
                      "multistep: increasing steps at which the rate is multiplied by gamma (required)"},
    [K_T_MAX] = {"T_max", ST_K_INT, "", 1, 1e15, NULL,
                 "cosine, warmup_cosine: steps of the cosine decay from lr to eta_min (after the warmup); "
                 "default total_steps - warmup_steps"},
    [K_ETA_MIN] = {"eta_min", ST_K_NUM, "0", 0, 1e300, NULL, "cosine, warmup_cosine: the floor, held after T_max steps",
                   FIELD(eta_min)},
    [K_TOTAL] = {"total_steps", ST_K_INT, "", 1, 1e15, NULL,
                 "one_cycle: length of the cycle (required); cosine, warmup_cosine: warmup plus decay, when T_max is not given"},
    [K_MAX_LR] = {"max_lr", ST_K_NUM, "", 0, 1e300, NULL, "one_cycle: peak rate; default the optimizer's lr",
                  FIELD(max_lr)},
    [K_PCT_START] = {"pct_start", ST_K_NUM, "0.3", 0, 1, NULL, "one_cycle: fraction of the cycle spent rising",
                     FIELD(pct_start)},
    [K_DIV] = {"div_factor", ST_K_NUM, "25", 0, 1e300, NULL, "one_cycle: the cycle starts at max_lr / div_factor",
               FIELD(div_factor)},
    [K_FINAL_DIV] = {"final_div_factor", ST_K_NUM, "1e4", 0, 1e300, NULL,
                     "one_cycle: it ends at max_lr / div_factor / final_div_factor", FIELD(final_div_factor)},
    [K_MODE] = {"mode", ST_K_ENUM, "\"min\"", 0, 0, "min|max", "reduce_on_plateau: whether a lower or a higher metric is better; "
                "left out in a run config: the checkpoint monitor's direction (docs/config.md)",
                FIELD(mode_max)},
    [K_FACTOR] = {"factor", ST_K_NUM, "0.1", 0, 1, NULL, "reduce_on_plateau: the rate is multiplied by this (< 1)",
                  FIELD(factor)},
    [K_PATIENCE] = {"patience", ST_K_INT, "10", 0, 1e15, NULL,
                    "reduce_on_plateau: evaluations (observe calls, not epochs) without improvement before reducing",
                    FIELD(patience)},
    [K_THRESHOLD] = {"threshold", ST_K_NUM, "1e-4", 0, 1e300, NULL, "reduce_on_plateau: least change that counts as improvement",
                     FIELD(threshold)},
    [K_THRESHOLD_MODE] = {"threshold_mode", ST_K_ENUM, "\"rel\"", 0, 0, "rel|abs",
                          "reduce_on_plateau: rel = better than best*(1 -+ threshold), abs = better than best -+ threshold (- for min, + for max)",
                          FIELD(threshold_abs)},
    [K_COOLDOWN] = {"cooldown", ST_K_INT, "0", 0, 1e15, NULL, "reduce_on_plateau: evaluations ignored after a reduction",
                    FIELD(cooldown)},
    [K_MIN_LR] = {"min_lr", ST_K_NUM, "0", 0, 1e300, NULL, "reduce_on_plateau: lower bound of the base rate",
                  FIELD(min_lr)},
    [K_EPS] = {"eps", ST_K_NUM, "1e-8", 0, 1e300, NULL, "reduce_on_plateau: reductions smaller than this are skipped",
               FIELD(eps)},
};

/* Which schedule types use each key (bit per st_sched_type_t); "type" and warmup: all. */
#define B(t) (1u << (t))
#define ALL 0xFFFFu
static const unsigned key_users[N_KEYS] = {
    [K_TYPE] = ALL, [K_WARMUP] = ALL, [K_WARMUP_FRACTION] = ALL, [K_WARMUP_EPOCHS] = ALL, [K_WARMUP_START] = ALL,
    [K_STEP_SIZE] = B(ST_SCHED_STEP),
    [K_GAMMA] = B(ST_SCHED_STEP) | B(ST_SCHED_MULTISTEP) | B(ST_SCHED_EXPONENTIAL),
    [K_MILESTONES] = B(ST_SCHED_MULTISTEP),
    [K_T_MAX] = B(ST_SCHED_COSINE), [K_ETA_MIN] = B(ST_SCHED_COSINE),
    [K_TOTAL] = B(ST_SCHED_ONE_CYCLE) | B(ST_SCHED_COSINE),
    [K_MAX_LR] = B(ST_SCHED_ONE_CYCLE), [K_PCT_START] = B(ST_SCHED_ONE_CYCLE),
    [K_DIV] = B(ST_SCHED_ONE_CYCLE), [K_FINAL_DIV] = B(ST_SCHED_ONE_CYCLE),
    [K_MODE] = B(ST_SCHED_PLATEAU), [K_FACTOR] = B(ST_SCHED_PLATEAU), [K_PATIENCE] = B(ST_SCHED_PLATEAU),
    [K_THRESHOLD] = B(ST_SCHED_PLATEAU), [K_THRESHOLD_MODE] = B(ST_SCHED_PLATEAU),
    [K_COOLDOWN] = B(ST_SCHED_PLATEAU), [K_MIN_LR] = B(ST_SCHED_PLATEAU), [K_EPS] = B(ST_SCHED_PLATEAU),
};
#undef B
#undef ALL

const st_key_t *st_sched_keys(int *n_keys) {
    if (n_keys) *n_keys = N_KEYS;
    return sched_keys;
}

/* ---- config ---- */

void st_sched_config_default(st_sched_config_t *cfg, st_sched_type_t type) {
    memset(cfg, 0, sizeof *cfg);
    cfg->type = type;
    cfg->warmup_start_factor = 0.01;
    cfg->step_size = 1;
    cfg->gamma = 0.1;
    cfg->T_max = 1;
    cfg->total_steps = 1;
    cfg->pct_start = 0.3, cfg->div_factor = 25, cfg->final_div_factor = 1e4;
    cfg->factor = 0.1, cfg->patience = 10, cfg->threshold = 1e-4, cfg->eps = 1e-8;
}

static const char *const type_names[] = {"constant", "step", "multistep", "exponential", "cosine", "one_cycle",
                                         "reduce_on_plateau"};
enum { N_TYPES = sizeof type_names / sizeof type_names[0] };

static st_sched_type_t type_of(const char *name, int *warmup_cosine) {
    *warmup_cosine = strcmp(name, "warmup_cosine") == 0;
    if (*warmup_cosine) return ST_SCHED_COSINE;
    for (int i = 0; i < N_TYPES; i++)
        if (strcmp(name, type_names[i]) == 0) return (st_sched_type_t)i;
    return ST_SCHED_CONSTANT;
}

static st_status_t check_config(const st_sched_config_t *c, const char *path, st_error_t *err) {
    if (c->type == ST_SCHED_ONE_CYCLE) {
        if (c->warmup_steps > 0)
            return st_fail(err, ST_ERR_CONFIG, "%s.warmup_steps: one_cycle warms up by itself (pct_start); use 0", path);
        double end_rise = c->pct_start * (double)c->total_steps - 1;
        if (!(end_rise > 0) || !(end_rise < (double)c->total_steps - 1))
            return st_fail(err, ST_ERR_CONFIG,
                           "%s.pct_start: pct_start * total_steps must lie in (1, total_steps), got %g * %ld",
                           path, c->pct_start, c->total_steps);
        if (!(c->div_factor > 0))
            return st_fail(err, ST_ERR_CONFIG, "%s.div_factor: expected a number > 0, got %g", path, c->div_factor);
        if (!(c->final_div_factor > 0))
            return st_fail(err, ST_ERR_CONFIG, "%s.final_div_factor: expected a number > 0, got %g", path, c->final_div_factor);
    }
    if (c->type == ST_SCHED_PLATEAU && !(c->factor < 1))
        return st_fail(err, ST_ERR_CONFIG, "%s.factor: expected a number in [0, 1), got %g", path, c->factor);
    if (c->type == ST_SCHED_MULTISTEP)
        for (int i = 1; i < c->n_milestones; i++)
            if (c->milestones[i] <= c->milestones[i - 1])
                return st_fail(err, ST_ERR_CONFIG, "%s.milestones: expected increasing steps, got %ld after %ld",
                               path, c->milestones[i], c->milestones[i - 1]);
    return ST_OK;
}

/* warmup_fraction f of total_steps N: warmup_steps = round(f·N), at least 1 when f > 0. */
static st_status_t warmup_from_fraction(st_sched_config_t *cfg, const st_val_t *v, const cJSON *obj, const char *path,
                                        st_error_t *err) {
    if (v[K_WARMUP_EPOCHS].is_set)
        return st_fail(err, ST_ERR_CONFIG, "%s.warmup_epochs: needs the epoch's length (strata train turns it into "
                       "warmup_steps)", path);
    if (!v[K_WARMUP_FRACTION].is_set) return ST_OK;
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(obj, "warmup_steps");
    if (steps && !cJSON_IsNull(steps))
        return st_fail(err, ST_ERR_CONFIG, "%s.warmup_fraction: give warmup_steps or warmup_fraction, not both", path);
    double f = v[K_WARMUP_FRACTION].num;
    if (!(f < 1)) return st_fail(err, ST_ERR_CONFIG, "%s.warmup_fraction: expected a number in [0, 1), got %g", path, f);
    if (!v[K_TOTAL].is_set)
        return st_fail(err, ST_ERR_CONFIG, "%s.warmup_fraction: needs total_steps (strata train fills it with the run's "
                       "length)", path);
    long n = (long)llround(f * (double)v[K_TOTAL].i);
    cfg->warmup_steps = f > 0 && n < 1 ? 1 : n;
    return ST_OK;
}

st_status_t st_sched_parse(const cJSON *obj, const char *path, st_sched_config_t *cfg, st_error_t *err) {
    st_val_t v[N_KEYS];
    ST_TRY(st_schema_read(sched_keys, N_KEYS, obj, path, NULL, v, err));
    int warmup_cosine;
    st_sched_type_t type = type_of(v[K_TYPE].s, &warmup_cosine);
    for (int k = 0; k < N_KEYS; k++) {
        const cJSON *given = cJSON_GetObjectItemCaseSensitive(obj, sched_keys[k].key);
        int warmup_length = k == K_TOTAL && v[K_WARMUP_FRACTION].is_set; /* total_steps sizes the warmup */
        if (given && !cJSON_IsNull(given) && !(key_users[k] & (1u << type)) && !warmup_length)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: not used by schedule type \"%s\"", path, sched_keys[k].key,
                           v[K_TYPE].s);
    }
    st_sched_config_default(cfg, type);
    ST_TRY(st_schema_fill(sched_keys, N_KEYS, v, path, cfg, err));
    ST_TRY(warmup_from_fraction(cfg, v, obj, path, err));
    const char *t = v[K_TYPE].s;
    switch (type) {
    case ST_SCHED_CONSTANT: break;
    case ST_SCHED_STEP:
        if (!v[K_STEP_SIZE].is_set)
            return st_fail(err, ST_ERR_CONFIG, "%s.step_size: required for schedule type \"%s\"", path, t);
        break;
    case ST_SCHED_MULTISTEP:
        if (!v[K_MILESTONES].is_set || v[K_MILESTONES].n == 0)
            return st_fail(err, ST_ERR_CONFIG, "%s.milestones: required for schedule type \"%s\"", path, t);
        cfg->n_milestones = v[K_MILESTONES].n;
        for (int i = 0; i < cfg->n_milestones; i++) cfg->milestones[i] = (long)v[K_MILESTONES].list[i];
        break;
    case ST_SCHED_EXPONENTIAL:
        if (!v[K_GAMMA].is_set)
            return st_fail(err, ST_ERR_CONFIG, "%s.gamma: required for schedule type \"%s\"", path, t);
        break;
    case ST_SCHED_COSINE:
        if (warmup_cosine && cfg->warmup_steps < 1)
            return st_fail(err, ST_ERR_CONFIG, "%s.warmup_steps: required (>= 1) for schedule type \"%s\"", path, t);
        if (v[K_T_MAX].is_set) cfg->T_max = v[K_T_MAX].i;
        else if (v[K_TOTAL].is_set) {
            cfg->T_max = v[K_TOTAL].i - cfg->warmup_steps;
            if (cfg->T_max < 1)
                return st_fail(err, ST_ERR_CONFIG, "%s.total_steps: must exceed warmup_steps (%ld), got %ld", path,
                               cfg->warmup_steps, v[K_TOTAL].i);
        } else
            return st_fail(err, ST_ERR_CONFIG, "%s.T_max: required for schedule type \"%s\" (or give total_steps)", path, t);
        break;
    case ST_SCHED_ONE_CYCLE:
        if (!v[K_TOTAL].is_set)
            return st_fail(err, ST_ERR_CONFIG, "%s.total_steps: required for schedule type \"%s\"", path, t);
        cfg->total_steps = v[K_TOTAL].i;
        if (v[K_MAX_LR].is_set && !(cfg->max_lr > 0))
            return st_fail(err, ST_ERR_CONFIG, "%s.max_lr: expected a number > 0, got %g", path, cfg->max_lr);
        break;
    case ST_SCHED_PLATEAU: break;
    }
    return check_config(cfg, path, err);
}

/* ---- rates ---- */

static void reset_state(st_sched_t *s) {
    s->state = (st_sched_state_t){.lr = s->lr0, .best = s->cfg.mode_max ? -INFINITY : INFINITY};
}

st_status_t st_sched_init(st_sched_t *s, const st_sched_config_t *cfg, double lr0, st_error_t *err) {
    if (!(lr0 > 0) || !isfinite(lr0))
        return st_fail(err, ST_ERR_CONFIG, "schedule: the initial learning rate must be a finite number > 0, got %g", lr0);
    if ((int)cfg->type < 0 || (int)cfg->type >= N_TYPES)
        return st_fail(err, ST_ERR_INTERNAL, "schedule: unknown type %d", (int)cfg->type);
    ST_TRY(check_config(cfg, "schedule", err));
    s->cfg = *cfg;
    s->lr0 = lr0;
    reset_state(s);
    return ST_OK;
}

/* torch's _annealing_cos: from `start` (pct 0) to `end` (pct 1). */
static double anneal_cos(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1);
}

static double one_cycle_lr(const st_sched_config_t *c, double lr0, long t) {
    double max_lr = c->max_lr > 0 ? c->max_lr : lr0;
    double initial = max_lr / c->div_factor, final = initial / c->final_div_factor;
    double end_rise = c->pct_start * (double)c->total_steps - 1, end = (double)(c->total_steps - 1);
    double step = t < c->total_steps - 1 ? (double)t : end;
    if (step <= end_rise) return anneal_cos(initial, max_lr, step / end_rise);
    return anneal_cos(max_lr, final, (step - end_rise) / (end - end_rise));
}

/* The schedule without warmup, at step t >= 0 of its own clock. */
static double inner_lr(const st_sched_t *s, long t) {
    const st_sched_config_t *c = &s->cfg;
    switch (c->type) {
    case ST_SCHED_CONSTANT: return s->lr0;
    case ST_SCHED_STEP: return s->lr0 * pow(c->gamma, (double)(t / c->step_size));
    case ST_SCHED_MULTISTEP: {
        int n = 0;
        while (n < c->n_milestones && c->milestones[n] <= t) n++;
        return s->lr0 * pow(c->gamma, n);
    }
    case ST_SCHED_EXPONENTIAL: return s->lr0 * pow(c->gamma, (double)t);
    case ST_SCHED_COSINE:
        if (t >= c->T_max) return c->eta_min;
        return c->eta_min + (s->lr0 - c->eta_min) * (1 + cos(M_PI * (double)t / (double)c->T_max)) / 2;
    case ST_SCHED_ONE_CYCLE: return one_cycle_lr(c, s->lr0, t);
    case ST_SCHED_PLATEAU: return s->state.lr;
    }
    return s->lr0;
}

double st_sched_lr(const st_sched_t *s, long t) {
    if (t < 0) t = 0;
    long W = s->cfg.warmup_steps;
    if (t < W) {
        double f = s->cfg.warmup_start_factor;
        double base = s->cfg.type == ST_SCHED_PLATEAU ? s->state.lr : s->lr0;
        return base * (f + (1.0 - f) * (double)t / (double)W);
    }
    return inner_lr(s, t - W);
}

/* ReduceLROnPlateau.is_better */
static int is_better(const st_sched_config_t *c, double a, double best) {
    if (!c->mode_max) return c->threshold_abs ? a < best - c->threshold : a < best * (1.0 - c->threshold);
    return c->threshold_abs ? a > best + c->threshold : a > best * (c->threshold + 1.0);
}

int st_sched_observe(st_sched_t *s, double metric) {
    st_sched_state_t *st = &s->state;
    const st_sched_config_t *c = &s->cfg;
    st->n_observed++;
    if (c->type != ST_SCHED_PLATEAU) return 0;
    if (is_better(c, metric, st->best)) st->best = metric, st->num_bad = 0;
    else st->num_bad++;
    if (st->cooldown_counter > 0) {
        st->cooldown_counter--;
        st->num_bad = 0; /* bad evaluations during cooldown do not count */
    }
    if (st->num_bad <= c->patience) return 0;
    st->cooldown_counter = c->cooldown;
    st->num_bad = 0;
    double new_lr = fmax(st->lr * c->factor, c->min_lr);
    if (st->lr - new_lr > c->eps) {
        st->lr = new_lr;
        return 1;
    }
    return 0;
}

/* ---- state ---- */

void st_sched_state_save(const st_sched_t *s, double out[ST_SCHED_STATE_LEN]) {
    out[0] = (double)s->cfg.type;
    out[1] = s->state.lr;
    out[2] = s->state.best;
    out[3] = (double)s->state.num_bad;
    out[4] = (double)s->state.cooldown_counter;
    out[5] = (double)s->state.n_observed;
}

st_status_t st_sched_state_load(st_sched_t *s, const double *in, size_t n, st_error_t *err) {
    if (n != ST_SCHED_STATE_LEN)
        return st_fail(err, ST_ERR_DATA, "schedule state: expected %d numbers, got %zu", ST_SCHED_STATE_LEN, n);
    if (in[0] != (double)s->cfg.type) {
        int saved = in[0] >= 0 && in[0] < N_TYPES ? (int)in[0] : -1;
        return st_fail(err, ST_ERR_DATA, "schedule state: saved by a \"%s\" schedule, this run uses \"%s\"",
                       saved >= 0 ? type_names[saved] : "unknown", type_names[s->cfg.type]);
    }
    if (!(in[1] >= 0) || !isfinite(in[1]) || in[3] < 0 || in[4] < 0 || in[5] < 0)
        return st_fail(err, ST_ERR_DATA, "schedule state: invalid values (rate %g, counters %g %g %g)", in[1], in[3],
                       in[4], in[5]);
    s->state = (st_sched_state_t){in[1], in[2], (long)in[3], (long)in[4], (long)in[5]};
    return ST_OK;
}
