/* convert_idx.h — MNIST-style IDX files (gzip'ed or plain) to a strata dataset.
 *
 * IDX: 4 magic bytes 00 00 08 ndims (0x08 = unsigned bytes), ndims big-endian uint32 sizes, then
 * the data. Labels are 0x00000801 [N]; images 0x00000803 [N, rows, cols]. Images are stored as
 * float32 [N, rows·cols] holding the raw pixel values 0..255: scaling to [0, 1] is a training
 * option, not a conversion one. A test set (optional) is appended after the training set and
 * marked /split = 2; the rest get /split = 0. */
#ifndef ST_CONVERT_IDX_H
#define ST_CONVERT_IDX_H

#include <stdint.h>

#include "st_error.h"

#define ST_IDX_LABELS 0x00000801u
#define ST_IDX_IMAGES 0x00000803u

/* One IDX file held in memory. */
typedef struct {
    uint32_t magic;
    int ndims;
    int64_t dims[3];
    int64_t n_bytes;   /* product of dims */
    uint8_t *data;     /* [n_bytes] */
} st_idx_t;

/* Reads an IDX file (gzip'ed or not) whose magic must be `magic` (ST_IDX_LABELS or
 * ST_IDX_IMAGES). Errors name the file: wrong magic, sizes whose product exceeds 2^40 bytes
 * (checked before multiplying), a truncated or corrupt gzip stream, bytes after the gzip stream,
 * a file shorter (or longer) than its header says. Memory grows with the data actually read, not
 * with what the header claims. Free with st_idx_free. */
st_status_t st_idx_read(const char *path, uint32_t magic, st_idx_t *out, st_error_t *err);
void st_idx_free(st_idx_t *idx);

typedef struct {
    const char *images, *labels;            /* the training set (required) */
    const char *test_images, *test_labels;  /* the test set, both or neither */
    const char *class_names;                /* "a,b,c" or NULL: "0".."9" (or up to max label) */
    int as_sequence;                        /* 1: images as [rows, cols] sequences (rows steps of
                                             * cols features), else [rows·cols] features */
} st_idx_options_t;

typedef struct {
    int64_t n_train, n_test;
    int rows, cols;
    int n_classes;
} st_idx_summary_t;

/* Converts and writes `out_path` (atomically: nothing is left at out_path on failure). */
st_status_t st_convert_idx(const char *out_path, const st_idx_options_t *opt, st_idx_summary_t *sum, st_error_t *err);

/* Splits "a,b,c" into n malloc'd names (no empty names, each shorter than ST_NAME_MAX); `what`
 * names the option in messages. Free with st_names_free. */
st_status_t st_names_parse(const char *list, const char *what, char ***names, int *n, st_error_t *err);
void st_names_free(char **names, int n);

#endif
