/* layer_registry.c — the one table of layer kinds. A config's "type" is looked up here; an
 * unknown type is an error that lists these names. */
#include <string.h>

#include "layer.h"
#include "layer_kinds.h"

static const st_layer_kind_t *const kinds[] = {
    &st_kind_dense, &st_kind_batchnorm, &st_kind_layernorm, &st_kind_dropout,
    &st_kind_relu, &st_kind_leaky_relu, &st_kind_gelu, &st_kind_sigmoid, &st_kind_tanh,
    &st_kind_hardswish, &st_kind_conv1d, &st_kind_max_pool1d, &st_kind_avg_pool1d,
    &st_kind_global_avg_pool, &st_kind_global_max_pool, &st_kind_flatten, &st_kind_slice,
    &st_kind_embedding, &st_kind_embedding_bag, &st_kind_squeeze_excite, &st_kind_conv_transpose1d,
    &st_kind_upsample1d, &st_kind_reshape, &st_kind_permute, &st_kind_lstm, &st_kind_gru,
};

int st_layer_kind_count(void) { return (int)(sizeof kinds / sizeof kinds[0]); }

const st_layer_kind_t *st_layer_kind_at(int i) { return kinds[i]; }

const st_layer_kind_t *st_layer_kind_find(const char *type) {
    for (int i = 0; i < st_layer_kind_count(); i++)
        if (strcmp(kinds[i]->type, type) == 0) return kinds[i];
    return NULL;
}
