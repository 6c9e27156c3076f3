/* ensemble_members.c — see ensemble_members.h: the --set overrides of an ensemble's members. */
#include "jobs/ensemble_members.h"

#include <stdio.h>

void st_ensemble_dir(char *out, size_t size, const st_run_config_t *base) {
    snprintf(out, size, "%s/%s", base->results_dir, base->name);
}

void st_ensemble_member_sets(st_ens_member_sets_t *s, const st_run_config_t *base, int i) {
    char dir[ST_CONFIG_PATH_MAX + 72];
    st_ensemble_dir(dir, sizeof dir, base);
    snprintf(s->results_dir, sizeof s->results_dir, "results_dir=%s", dir);
    snprintf(s->name, sizeof s->name, "name=" ST_ENSEMBLE_PREFIX "-%d", i);
    snprintf(s->seed, sizeof s->seed, "seed=%llu", (unsigned long long)(base->seed + (uint64_t)i));
    snprintf(s->split_seed, sizeof s->split_seed, "data.split_seed=%llu", (unsigned long long)base->data.split_seed);
    s->sets[0] = s->results_dir, s->sets[1] = s->name, s->sets[2] = s->seed, s->sets[3] = s->split_seed;
}
