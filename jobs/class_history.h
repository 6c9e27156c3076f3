/* class_history.h — `RUN/val_per_class_history.csv`: the per-class validation recall and F1 of
 * every class head at every validation, kept over the whole run (val_per_class.csv only holds
 * the latest). `strata report` draws it as per-class accuracy over epochs.
 *
 * Columns `epoch,head,class,name,support,recall,f1`, one row per (validation, head, class). Rank
 * 0 appends after each validation (fsynced); the file is never rewritten except on a resume,
 * where rows past the resumed epoch are dropped (atomically) so a resumed run does not repeat
 * them. */
#ifndef ST_CLASS_HISTORY_H
#define ST_CLASS_HISTORY_H

#include <stdint.h>

#include "st_error.h"

#define ST_CLASS_HISTORY_FILE "val_per_class_history.csv"

/* Appends the K rows of one head's validation confusion conf [K,K] (rows: true class) after
 * epoch `epoch`; writes the header first when the file is new. names [K] may be NULL. */
st_status_t st_class_history_append(const char *run_dir, int64_t epoch, const char *head,
                                    const int64_t *conf /*[K,K]*/, const char *const *names /*[K]*/, int K,
                                    st_error_t *err);

/* Keeps the header and the rows with epoch <= `epoch` (epoch 0: the header only); a missing
 * file is not an error. */
st_status_t st_class_history_truncate(const char *run_dir, int64_t epoch, st_error_t *err);

#endif
