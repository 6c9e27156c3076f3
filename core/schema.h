/* schema.h — tables of JSON keys (type, bounds, default, help) over cJSON.
 *
 * A key table is written once per object kind (each layer kind, each loss, optimizer and
 * schedule, later the run config). The same table validates an object read from JSON, fills in
 * defaults, rejects unknown keys with a suggestion, and prints the documentation, so docs and
 * parser cannot disagree. Error messages name the JSON path:
 *   model.layers[3].units: expected a positive integer, got "abc" */
#ifndef ST_SCHEMA_H
#define ST_SCHEMA_H

#include <stdio.h>

#include <cJSON.h>

#include "st_error.h"

#define ST_LIST_MAX 32

typedef enum {
    ST_K_INT,     /* integer within [min, max] */
    ST_K_NUM,     /* number within [min, max] */
    ST_K_BOOL,    /* true / false */
    ST_K_ENUM,    /* one of the strings in `choices` ("a|b|c") */
    ST_K_STR,     /* any string */
    ST_K_INTS,    /* list of integers within [min, max] */
    ST_K_NUMS,    /* list of numbers within [min, max] */
    ST_K_NUM_OR_NUMS, /* a number, or a list of numbers (e.g. one per class) */
    ST_K_UNITS    /* positive integer, or the string "classes" (stored as -1) */
} st_key_type_t;

typedef struct {
    const char *key;
    st_key_type_t type;
    const char *def;     /* default as JSON text; NULL = required; "" = optional, no default */
    double min, max;     /* bounds for numbers and integers (inclusive) */
    const char *choices; /* for ST_K_ENUM: "a|b|c" */
    const char *help;
} st_key_t;

typedef struct {
    int is_set;           /* given in the JSON, or filled from a default */
    long i;               /* ST_K_INT, ST_K_UNITS (-1 = "classes") */
    double num;           /* ST_K_NUM, ST_K_NUM_OR_NUMS with a single number */
    int b;                /* ST_K_BOOL */
    char s[64];           /* ST_K_ENUM, ST_K_STR */
    int n;                /* list length (0 for a scalar) */
    double list[ST_LIST_MAX];
} st_val_t;

/* Reads the keys of `obj` (a JSON object at `path`) into vals[0..n_keys) following `keys`.
 * Keys named in `skip` (NULL-terminated, may be NULL) are allowed and left to the caller. */
st_status_t st_schema_read(const st_key_t *keys, int n_keys, const cJSON *obj, const char *path,
                           const char *const *skip, st_val_t *vals, st_error_t *err);

/* Index of `key` in the table, or -1. */
int st_schema_find(const st_key_t *keys, int n_keys, const char *key);

/* The candidate closest to `word` by edit distance, or NULL when none is close. */
const char *st_closest_word(const char *word, const char *const *candidates, int n);

/* Writes a markdown table of the keys. */
void st_schema_markdown(FILE *out, const st_key_t *keys, int n_keys);

/* A short type description ("integer in [1, 65536]", "one of relu|gelu", ...). */
void st_schema_describe_type(const st_key_t *k, char *buf, int size);

#endif
