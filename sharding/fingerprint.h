/* fingerprint.h — a short identity of a dataset's content, stored in run.json and checkpoints so
 * that a resume or an evaluation on a different dataset is noticed. FNV-1a (64-bit) over N, the
 * per-sample shape, K, the class names, every label and the split (when present); the features
 * are not read (too large), so a file whose features alone changed keeps its fingerprint. */
#ifndef ST_FINGERPRINT_H
#define ST_FINGERPRINT_H

#include "sharding/dataset.h"

/* out: 16 hex digits and a NUL. Reads the labels (and split) of the file: any process. */
st_status_t st_dataset_fingerprint(const st_dataset_t *ds, char out[17], st_error_t *err);

#endif
