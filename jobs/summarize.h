/* summarize.h — `strata summary CONFIG|CKPT`: the model of a config or of a checkpoint built for
 * its input shape and summarised (core/model_summary.h) as a table or as JSON.
 *
 * A config's model is built for its dataset (data.path, opened with st_dataset_open: only the
 * metadata is read), every head as wide as its loss's target, as training builds it; a
 * checkpoint's model is rebuilt from the config inside it, as `strata eval` does, each head as
 * wide as the checkpoint's table says, and its parameter count checked against the file. When
 * the dataset cannot be opened the request's input shape (and class count) stand in for it; a
 * given input shape always wins. The micro-batch is the config's (train.batch_size over the
 * shards and accumulation steps, st_shards_plan). */
#ifndef ST_SUMMARIZE_H
#define ST_SUMMARIZE_H

#include <stdio.h>

#include "shape.h"
#include "st_error.h"

typedef struct {
    const char *path;    /* a config (JSON) or a checkpoint (told apart by the first byte) */
    st_shape_t in_shape; /* rank 0: from the dataset */
    int n_classes;       /* > 0: every head's "units": "classes" (without a dataset); 0: unknown */
    int json;            /* 1: the JSON object, else the table */
    FILE *out;
} st_summary_request_t;

/* Builds and prints the summary. Errors name the file at fault; a dataset that cannot be opened
 * without a given input shape says that --input-shape and --classes can stand in for it. */
st_status_t st_summarize(const st_summary_request_t *req, st_error_t *err);

#endif
