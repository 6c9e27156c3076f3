/* ensemble_members.h — how an ensemble's members are made from a base config (docs/ensembles.md),
 * shared by `strata ensemble train` (members one after another) and `strata sbatch --ensemble N`
 * (members as a job array): the ensemble folder is <results_dir>/<name>/ and member i is the
 * ordinary run folder <results_dir>/<name>/member-<i>, trained with
 *     --set results_dir=<results_dir>/<name> --set name=member-<i>
 *     --set seed=<seed + i> --set data.split_seed=<the base's split_seed>
 * after the user's own --set options: every member has the base's split (and shards) and differs
 * in initialisation, shuffling, dropout (and augmentation) only. With --vary configs the members'
 * configs are the listed files (member i: configs[i]); their seeds and split_seed are still set
 * from the base config, so they share its split. */
#ifndef ST_ENSEMBLE_MEMBERS_H
#define ST_ENSEMBLE_MEMBERS_H

#include "jobs/config.h"

#define ST_ENSEMBLE_PREFIX "member"

typedef struct {
    char results_dir[ST_CONFIG_PATH_MAX + 96];
    char name[48];
    char seed[48];
    char split_seed[64];
    const char *sets[4]; /* the four "key=value" texts above, in that order */
} st_ens_member_sets_t;

/* The overrides of member i of an ensemble of `base` (a loaded config). */
void st_ensemble_member_sets(st_ens_member_sets_t *s, const st_run_config_t *base, int i);

/* "<results_dir>/<name>" of base, the ensemble folder. */
void st_ensemble_dir(char *out, size_t size, const st_run_config_t *base);

#endif
