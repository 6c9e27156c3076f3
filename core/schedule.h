/* schedule.h — learning-rate schedules with serialisable state, matching
 * torch.optim.lr_scheduler (PyTorch 1.13).
 *
 * A schedule gives the BASE learning rate for optimizer step t (t = 0 is the first step: the
 * number of steps already taken); each parameter group's rate is that times its lr_mult
 * (core/optim.h). Every bound (eta_min, min_lr) applies to the base rate, so a group with
 * lr_mult 0.1 goes down to 0.1·min_lr, where torch would give each group its own min_lr.
 *
 *   constant            lr0
 *   step                lr0 · gamma^floor(t / step_size)                         (StepLR)
 *   multistep           lr0 · gamma^(number of milestones <= t)                  (MultiStepLR)
 *   exponential         lr0 · gamma^t                                            (ExponentialLR)
 *   cosine              eta_min + (lr0 - eta_min)(1 + cos(π t / T_max))/2 for t < T_max, then
 *                       eta_min: the floor is held (torch's CosineAnnealingLR would rise again)
 *   warmup_cosine       cosine with warmup_steps >= 1; T_max defaults to total_steps - warmup_steps
 *   one_cycle           OneCycleLR(anneal "cos", three_phase false, cycle_momentum false: strata
 *                       does not cycle momentum): max_lr/div_factor rises to max_lr by step
 *                       pct_start·total_steps - 1, then falls to max_lr/div_factor/final_div_factor
 *                       at total_steps - 1, where it stays (torch raises past total_steps)
 *   reduce_on_plateau   ReduceLROnPlateau: st_sched_observe(metric) after each evaluation; after
 *                       more than `patience` evaluations without improvement (beyond threshold,
 *                       rel or abs) the rate becomes max(rate·factor, min_lr), unless that changes
 *                       it by eps or less; then `cooldown` evaluations are not counted. Patience
 *                       counts observe calls, not epochs. The rate is state, saved in checkpoints.
 *
 * Warmup (warmup_steps W > 0, any type but one_cycle, which has its own; or warmup_fraction f of
 * total_steps N: W = round(f·N), at least 1 when f > 0): for t < W the rate is
 * lr0 · (s + (1 - s)·t/W) with s = warmup_start_factor (LinearLR(s, 1, W)); from t = W on the
 * schedule runs on t - W (SequentialLR([LinearLR, X], milestones=[W])). For reduce_on_plateau the
 * ramp scales the current plateau rate instead of lr0. */
#ifndef ST_SCHEDULE_H
#define ST_SCHEDULE_H

#include <stddef.h>

#include <cJSON.h>

#include "schema.h"
#include "st_error.h"

typedef enum {
    ST_SCHED_CONSTANT,
    ST_SCHED_STEP,
    ST_SCHED_MULTISTEP,
    ST_SCHED_EXPONENTIAL,
    ST_SCHED_COSINE,
    ST_SCHED_ONE_CYCLE,
    ST_SCHED_PLATEAU,
} st_sched_type_t;

typedef struct {
    st_sched_type_t type;
    long warmup_steps;            /* 0 = no warmup */
    double warmup_start_factor;   /* first warmup rate = this · lr0 */
    long step_size;               /* step */
    double gamma;                 /* step, multistep, exponential */
    int n_milestones;             /* multistep: increasing steps */
    long milestones[ST_LIST_MAX];
    long T_max;                   /* cosine: steps from lr0 to eta_min */
    double eta_min;
    double max_lr;                /* one_cycle: peak rate; 0 = lr0 */
    long total_steps;             /* one_cycle */
    double pct_start, div_factor, final_div_factor;
    int mode_max;                 /* plateau: 1 = a larger metric is better */
    int threshold_abs;            /* plateau: 1 = threshold_mode "abs" */
    double factor, threshold, min_lr, eps;
    long patience, cooldown;
} st_sched_config_t;

/* Everything that changes while training (only reduce_on_plateau has any). */
typedef struct {
    double lr;               /* plateau: current base rate */
    double best;             /* plateau: best metric so far (±inf before the first) */
    long num_bad;            /* plateau: evaluations without improvement */
    long cooldown_counter;   /* plateau: evaluations left in cooldown */
    long n_observed;         /* observe calls so far */
} st_sched_state_t;

typedef struct {
    st_sched_config_t cfg;
    double lr0;              /* the optimizer's initial base rate */
    st_sched_state_t state;
} st_sched_t;

/* Number of doubles in a saved state: a type tag and the fields of st_sched_state_t. */
#define ST_SCHED_STATE_LEN 6

/* Defaults of the key table for `type` (step: step_size 1, gamma 0.1; cosine: T_max 1). */
void st_sched_config_default(st_sched_config_t *cfg, st_sched_type_t type);

/* Reads the "schedule" object at JSON `path`. Errors name the path:
 * "schedule.gamma: expected a number >= 0, got \"x\"". */
st_status_t st_sched_parse(const cJSON *obj, const char *path, st_sched_config_t *cfg, st_error_t *err);

/* A schedule starting from base rate lr0 (> 0), in its initial state. */
st_status_t st_sched_init(st_sched_t *s, const st_sched_config_t *cfg, double lr0, st_error_t *err);

/* The base learning rate for step t (t < 0 counts as 0). Pure except for reduce_on_plateau,
 * whose rate is the current state. */
double st_sched_lr(const st_sched_t *s, long t);

/* Feeds one evaluation's metric (reduce_on_plateau; other types only count the call). Returns 1
 * when the rate was reduced. */
int st_sched_observe(st_sched_t *s, double metric);

/* State to/from ST_SCHED_STATE_LEN doubles, for checkpoints. Loading fails when the array was
 * saved by another schedule type or has the wrong length. */
void st_sched_state_save(const st_sched_t *s, double out[ST_SCHED_STATE_LEN]);
st_status_t st_sched_state_load(st_sched_t *s, const double *in, size_t n, st_error_t *err);

/* The "schedule" key table, for the docs generator. */
const st_key_t *st_sched_keys(int *n_keys);

#endif
