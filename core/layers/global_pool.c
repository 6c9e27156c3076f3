/* STUB: replaced by the real implementation. */
#include "layer.h"

static st_status_t stub_setup(st_layer_t *L, st_error_t *err) {
    return st_fail(err, ST_ERR_CONFIG, "%s: layer type \"%s\" is not implemented yet", L->path, L->kind->type);
}

const st_layer_kind_t st_kind_global_avg_pool = {"global_avg_pool", "(not implemented yet)", NULL, 0, stub_setup, NULL, NULL, NULL};
const st_layer_kind_t st_kind_global_max_pool = {"global_max_pool", "(not implemented yet)", NULL, 0, stub_setup, NULL, NULL, NULL};
