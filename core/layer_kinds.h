/* layer_kinds.h — every layer kind strata has, one st_layer_kind_t each (core/layers/). The
 * registry (layer_registry.c) lists them by name; code that treats a kind specially (the ONNX
 * export, int8 quantisation) compares a layer's kind with these. */
#ifndef ST_LAYER_KINDS_H
#define ST_LAYER_KINDS_H

#include "layer.h"

extern const st_layer_kind_t st_kind_dense, st_kind_batchnorm, st_kind_layernorm, st_kind_dropout,
    st_kind_relu, st_kind_leaky_relu, st_kind_gelu, st_kind_sigmoid, st_kind_tanh, st_kind_hardswish,
    st_kind_conv1d, st_kind_max_pool1d, st_kind_avg_pool1d, st_kind_global_avg_pool,
    st_kind_global_max_pool, st_kind_flatten, st_kind_slice, st_kind_embedding, st_kind_embedding_bag,
    st_kind_squeeze_excite, st_kind_conv_transpose1d, st_kind_upsample1d, st_kind_reshape, st_kind_permute,
    st_kind_lstm, st_kind_gru;

#endif
