/* config_extends.h — `"extends": "PATH"` in a run config: the config starts from another one.
 *
 * The base (PATH relative to the folder of the config that names it; absolute paths as they are)
 * is read, its own "extends" resolved first (recursively, at most ST_EXTENDS_MAX_DEPTH files; a
 * file met twice on the way is a cycle, refused naming every file of the chain), and the config
 * is merged onto it key by key: objects are merged recursively, anything else (arrays, scalars,
 * null) replaces the base's value. The result has no "extends" key; it is what --set applies to
 * and what is validated, so the run folder's config.json is the resolved config. */
#ifndef ST_CONFIG_EXTENDS_H
#define ST_CONFIG_EXTENDS_H

#include <cJSON.h>

#include "st_error.h"

#define ST_EXTENDS_MAX_DEPTH 16

/* Resolves *root's "extends" in place (*root may be replaced by the merged tree; it stays owned by
 * the caller). `path` is the file *root was read from (NULL: bases are relative to the working
 * directory). Errors (ST_ERR_CONFIG, ST_ERR_IO) name the file at fault and the chain. */
st_status_t st_config_resolve_extends(cJSON **root, const char *path, st_error_t *err);

/* Merges `over` onto `base` (both objects): objects recursively, other values replace. */
void st_config_merge(cJSON *base, const cJSON *over);

#endif
