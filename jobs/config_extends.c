/* config_extends.c — see config_extends.h: a config's "extends" chain read, checked for cycles
 * and merged key by key, so recipes (configs/recipes/) can be starting points of a run config. */
#include "jobs/config_extends.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "schema.h" /* st_json_check_unique_keys */

typedef struct {
    int n;
    char shown[ST_EXTENDS_MAX_DEPTH + 1][512]; /* the paths as reached, for messages */
    char real[ST_EXTENDS_MAX_DEPTH + 1][PATH_MAX];
} chain_t;

void st_config_merge(cJSON *base, const cJSON *over) {
    const cJSON *v;
    cJSON_ArrayForEach(v, over) {
        cJSON *b = cJSON_GetObjectItemCaseSensitive(base, v->string);
        if (b && cJSON_IsObject(b) && cJSON_IsObject(v)) {
            st_config_merge(b, v);
            continue;
        }
        cJSON *copy = cJSON_Duplicate(v, 1);
        if (b) cJSON_ReplaceItemInObjectCaseSensitive(base, v->string, copy);
        else cJSON_AddItemToObject(base, v->string, copy);
    }
}

/* "a.json -> b.json -> a.json" */
static void chain_text(const chain_t *c, const char *last, char *out, size_t size) {
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < c->n && at < size; i++) at += (size_t)snprintf(out + at, size - at, "%s -> ", c->shown[i]);
    if (at < size) snprintf(out + at, size - at, "%s", last);
}

/* The base's path: `rel` relative to the folder of `from` (NULL: the working directory). */
static void base_path(char *out, size_t size, const char *from, const char *rel) {
    const char *slash = from ? strrchr(from, '/') : NULL;
    if (rel[0] == '/' || !slash) snprintf(out, size, "%s", rel);
    else snprintf(out, size, "%.*s/%s", (int)(slash - from), from, rel);
}

static st_status_t resolve(cJSON **root, const char *path, chain_t *c, st_error_t *err);

/* Reads the base file `file` (named by `from`'s "extends") with its own chain resolved. */
static st_status_t read_base(cJSON **out, const char *file, const char *from, chain_t *c, st_error_t *err) {
    char text[2048], real[PATH_MAX];
    *out = NULL;
    if (!realpath(file, real)) return st_fail(err, ST_ERR_IO, "%s: extends: %s does not exist", from, file);
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->real[i], real) == 0) {
            chain_text(c, file, text, sizeof text);
            return st_fail(err, ST_ERR_CONFIG, "%s: extends: a cycle: %s", from, text);
        }
    if (c->n >= ST_EXTENDS_MAX_DEPTH)
        return st_fail(err, ST_ERR_CONFIG, "%s: extends: more than %d configs in the chain", from, ST_EXTENDS_MAX_DEPTH);
    char *body = st_read_file(file, NULL, err);
    if (!body) return ST_ERR_IO;
    const char *end = NULL;
    cJSON *tree = cJSON_ParseWithOpts(body, &end, 1);
    free(body);
    if (!tree) return st_fail(err, ST_ERR_CONFIG, "%s: extends: %s is not valid JSON", from, file);
    st_status_t rc = ST_OK;
    if (!cJSON_IsObject(tree)) rc = st_fail(err, ST_ERR_CONFIG, "%s: extends: %s is not a JSON object", from, file);
    if (rc == ST_OK && st_json_check_unique_keys(tree, "", err) != ST_OK) {
        st_error_prefix(err, "%s", file);
        rc = ST_ERR_CONFIG;
    }
    if (rc == ST_OK) rc = resolve(&tree, file, c, err);
    if (rc != ST_OK) return cJSON_Delete(tree), rc;
    *out = tree;
    return ST_OK;
}

/* *root (read from `path`) with its chain: the bases merged below it. */
static st_status_t resolve(cJSON **root, const char *path, chain_t *c, st_error_t *err) {
    const char *shown = path ? path : "config";
    cJSON *ext = cJSON_GetObjectItemCaseSensitive(*root, "extends");
    if (!ext) return ST_OK;
    if (!cJSON_IsString(ext) || !ext->valuestring[0])
        return st_fail(err, ST_ERR_CONFIG, "%s: extends: expected the path of a config file (a string)", shown);
    char file[1024];
    base_path(file, sizeof file, path, ext->valuestring);
    int at = c->n++;
    snprintf(c->shown[at], sizeof c->shown[at], "%s", shown);
    if (!path || !realpath(path, c->real[at])) snprintf(c->real[at], sizeof c->real[at], "%s", shown);
    cJSON *base = NULL;
    st_status_t rc = read_base(&base, file, shown, c, err);
    c->n--;
    if (rc != ST_OK) return rc;
    cJSON_DeleteItemFromObjectCaseSensitive(*root, "extends");
    st_config_merge(base, *root);
    cJSON_Delete(*root);
    *root = base;
    return ST_OK;
}

st_status_t st_config_resolve_extends(cJSON **root, const char *path, st_error_t *err) {
    chain_t *c = calloc(1, sizeof *c);
    if (!c) return st_fail(err, ST_ERR_NOMEM, "extends: out of memory");
    st_status_t rc = resolve(root, path, c, err);
    free(c);
    return rc;
}
