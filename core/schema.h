/* schema.h — tables of JSON keys (type, bounds, default, help) over cJSON.
 *
 * A key table is written once per object kind (each layer kind, each loss, optimizer and
 * schedule, later the run config). The same table validates an object read from JSON, fills in
 * defaults, rejects unknown keys with a suggestion, and prints the documentation, so docs and
 * parser cannot disagree. Error messages name the JSON path:
 *   model.layers[3].units: expected a positive integer, got "abc"
 *
 * A key may also be bound to the struct member it fills (Redis's config.c does the same): its
 * entry ends with ST_FIELD(struct type, member), and st_schema_fill writes the value read into
 * that member, converted to the member's C type. So a setting is written once — name, type,
 * bounds, default, help and destination — and nothing copies values by hand afterwards. Keys
 * without ST_FIELD (field.kind == ST_F_NONE) are left to the caller, which reads their st_val_t:
 *   [TR_EPOCHS] = {"epochs", ST_K_INT, NULL, 1, 1e15, NULL, "passes over the training split",
 *                  ST_FIELD(st_run_config_t, train.epochs)}, */
#ifndef ST_SCHEMA_H
#define ST_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
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

/* The C type of the member a key is bound to, and the key types that can fill it. */
typedef enum {
    ST_F_NONE,   /* not bound: the caller reads the key's st_val_t */
    ST_F_INT,    /* int or an enum type: ST_K_INT; ST_K_BOOL (0 or 1); ST_K_ENUM (the index of the
                  * value in `choices`, so "a|b|c" fills an enum declared in the same order) */
    ST_F_LONG,   /* long: ST_K_INT */
    ST_F_U64,    /* uint64_t: ST_K_INT with min >= 0 */
    ST_F_DOUBLE, /* double: ST_K_NUM */
    ST_F_CHARS   /* char[size]: ST_K_STR, ST_K_ENUM (the string itself) */
} st_field_kind_t;

typedef struct {
    st_field_kind_t kind;
    size_t offset;       /* offsetof(struct, member) */
    size_t size;         /* sizeof(member) */
} st_field_t;

/* The kind of member x, from its C type; any other type does not compile. */
#define ST_FIELD_KIND(x)                                                                            \
    _Generic((x), int: ST_F_INT, unsigned: ST_F_INT, long: ST_F_LONG, uint64_t: ST_F_U64,             \
             double: ST_F_DOUBLE, char *: ST_F_CHARS)

/* The binding of a key to `member` (a member designator: "train.epochs") of struct `type`. */
#define ST_FIELD(type, member)                                                                      \
    { ST_FIELD_KIND(((type *)0)->member), offsetof(type, member), sizeof(((type *)0)->member) }

typedef struct {
    const char *key;
    st_key_type_t type;
    const char *def;     /* default as JSON text; NULL = required; "" = optional, no default */
    double min, max;     /* bounds for numbers and integers (inclusive) */
    const char *choices; /* for ST_K_ENUM: "a|b|c" */
    const char *help;
    st_field_t field;    /* the member the key fills (ST_FIELD); left out = not bound */
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

/* Writes every bound key that is set in vals (as st_schema_read left them) into its member of
 * the struct at `dst`; unbound keys and keys not set (optional, no default, not given) leave the
 * struct alone. Fails (ST_ERR_CONFIG) on a string longer than its char array and
 * (ST_ERR_INTERNAL) on a binding the key cannot fill: a kind its type does not convert to
 * (see st_field_kind_t), or integer bounds the member cannot hold. Messages name `path`. */
st_status_t st_schema_fill(const st_key_t *keys, int n_keys, const st_val_t *vals, const char *path, void *dst,
                           st_error_t *err);

/* Fails (ST_ERR_CONFIG) when an object in the tree under `root` has a key twice (cJSON keeps both
 * and reads the first): "model.layers[2]: the key \"units\" appears twice". `path` names root
 * ("" for a document). */
st_status_t st_json_check_unique_keys(const cJSON *root, const char *path, st_error_t *err);

/* Index of `key` in the table, or -1. */
int st_schema_find(const st_key_t *keys, int n_keys, const char *key);

/* The candidate closest to `word` by edit distance, or NULL when none is close. */
const char *st_closest_word(const char *word, const char *const *candidates, int n);

/* Writes a markdown table of the keys. */
void st_schema_markdown(FILE *out, const st_key_t *keys, int n_keys);

/* A short type description ("integer in [1, 65536]", "one of relu|gelu", ...). */
void st_schema_describe_type(const st_key_t *k, char *buf, int size);

#endif
