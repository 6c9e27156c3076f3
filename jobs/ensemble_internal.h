/* ensemble_internal.h — what jobs/ensemble_eval.c (members, rows, records) and
 * jobs/ensemble_report.c (metrics.json, CSVs, summary) share. Not a public interface. */
#ifndef ST_ENSEMBLE_INTERNAL_H
#define ST_ENSEMBLE_INTERNAL_H

#include <stdint.h>

#include "jobs/checkpoint.h"
#include "jobs/config.h"
#include "jobs/ensemble_eval.h"
#include "jobs/ensemble_score.h"
#include "model.h"
#include "sharding/data.h"

typedef struct {
    const char *run;                        /* as given */
    char ckpt[4096];                        /* the checkpoint read */
    st_ckpt_t ck;
    st_run_config_t cfg;
    st_loss_heads_t losses;                 /* bound to D's targets */
    st_model_t *model;
    st_target_stats_t tgt_stats[ST_MAX_TARGETS]; /* views into ck.heads */
    int mh[ST_LOSS_MAX_HEADS];              /* each head's model output */
    double score, weight;                   /* val score (NaN without --weights val), weight */
} st_ens_member_t;

/* Rows of D: ids, raw features [n, numel(shape)], lengths, stratification classes, targets. */
typedef struct {
    int64_t n;
    int64_t *ids;
    float *X;
    int32_t *len;       /* [n] or NULL */
    int32_t *y;         /* [n] */
    float *T;           /* [n, tgt_floats] */
} st_ens_rows_t;

typedef struct {
    const st_ensemble_eval_request_t *req;
    st_dataset_t ds;
    int n;                                  /* members */
    st_ens_member_t *m;                     /* [n] */
    int32_t *y;                             /* [N] member 0's stratification classes */
    uint8_t *split;                         /* [N] the members' split of D */
    long tgt_floats;
    int tgt_offset[ST_MAX_TARGETS];
    int rec_floats;                         /* Σ heads' widths */
    st_ens_rows_t rows;                     /* the requested part */
    double *recs[ST_ENSEMBLE_MAX_MEMBERS];  /* [n][rows.n, rec_floats] */
    double *ens;                            /* [rows.n, rec_floats] */
} st_ens_t;

st_status_t st_ens_member_records(const st_ens_t *e, st_ens_member_t *m, const st_ens_rows_t *rows, double *rec,
                                  st_error_t *err);
void st_ens_targets_of(const st_ens_t *e, const st_ens_rows_t *r, st_ens_targets_t *t, const double **refs);
double st_ens_val_score(const st_ens_t *e, const st_ens_rows_t *rows, const double *rec, st_error_t *err,
                        st_status_t *rc);
void st_ens_rows_free(st_ens_rows_t *r);

/* Rank 0: the output folder's files and the printed summary (jobs/ensemble_report.c). */
st_status_t st_ens_report(const st_ens_t *e, st_error_t *err);

#endif
