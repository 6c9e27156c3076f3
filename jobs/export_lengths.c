/* export_lengths.c — lengths, masks and length mapping of a variable-length ONNX export
 * (export_lengths.h). Masks and constants are built once per graph (st_onnx_memo): every layer
 * of one length and layout shares one mask. Everything stays in integer and boolean ops up to
 * the Where that applies it, so fp16 graphs need no extra Cast (the float constants become
 * float16 with the other initializers). */
#include "jobs/export_lengths.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>

/* A float32 constant [1] shared by the graph. */
static const char *f32_const(st_onnx_t *g, const char *hint, float v) {
    char key[96];
    snprintf(key, sizeof key, "f32:%s:%a", hint, (double)v);
    const char *name = st_onnx_memo(g, key);
    int64_t one = 1;
    return name ? name : st_onnx_memo_put(g, key, st_onnx_init_f32(g, hint, &v, &one, 1));
}

const char *st_export_lengths_input(st_onnx_t *g, int T) {
    int64_t dims[1] = {-1}, zero = 0, t = T;
    st_onnx_input_typed(g, "sequence_lens", ST_ONNX_INT32, dims, 1);
    const char *len = st_onnx_op1(g, "Cast", "sequence_lens", "lengths");
    st_onnx_attr_i(g, "to", ST_ONNX_INT64);
    len = st_onnx_op2(g, "Max", len, st_onnx_init_i64(g, "lengths_min", &zero, 1), "lengths");
    return st_onnx_op2(g, "Min", len, st_onnx_init_i64(g, "lengths_max", &t, 1), "lengths");
}

/* len [N] -> [N, 1, 1] (once per lengths value). */
static const char *len3(st_onnx_t *g, const char *len) {
    char key[300];
    snprintf(key, sizeof key, "len3:%s", len);
    const char *name = st_onnx_memo(g, key);
    if (name) return name;
    static const int64_t axes[2] = {1, 2};
    return st_onnx_memo_put(g, key, st_onnx_op2(g, "Unsqueeze", len, st_onnx_init_i64(g, "axes", axes, 2), "lengths"));
}

const char *st_export_mask(st_onnx_t *g, st_onnx_val_t v) {
    char key[300];
    snprintf(key, sizeof key, "mask:%s:%d:%d", v.len, v.T, v.nct);
    const char *name = st_onnx_memo(g, key);
    if (name) return name;
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(v.T > 0 ? v.T : 1));
    if (!pos) return "";
    for (int t = 0; t < v.T; t++) pos[t] = t;
    int64_t shape[3] = {1, v.nct ? 1 : v.T, v.nct ? v.T : 1};
    const char *p = st_onnx_init_i64(g, "positions", pos, v.T);
    free(pos);
    p = st_onnx_op2(g, "Reshape", p, st_onnx_init_i64(g, "shape", shape, 3), "positions");
    return st_onnx_memo_put(g, key, st_onnx_op2(g, "Less", p, len3(g, v.len), "mask"));
}

const char *st_export_fill(st_onnx_t *g, st_onnx_val_t v, float fill) {
    const char *in[3] = {st_export_mask(g, v), v.name, fill == 0 ? f32_const(g, "zero", 0.0f) : f32_const(g, "lowest", fill)};
    return st_onnx_node(g, "Where", in, 3, "masked", 1, NULL);
}

const char *st_export_valid_count(st_onnx_t *g, st_onnx_val_t v) {
    char key[300];
    snprintf(key, sizeof key, "count:%s:%d:%d", v.len, v.T, v.nct);
    const char *name = st_onnx_memo(g, key);
    if (name) return name;
    int64_t axis = v.nct ? 2 : 1;
    const char *in[3] = {st_export_mask(g, v), f32_const(g, "one", 1.0f), f32_const(g, "zero", 0.0f)};
    const char *n = st_onnx_op2(g, "ReduceSum", st_onnx_node(g, "Where", in, 3, "valid", 1, NULL),
                                st_onnx_init_i64(g, "axes", &axis, 1), "valid_count");
    st_onnx_attr_i(g, "keepdims", 1);
    return st_onnx_memo_put(g, key, st_onnx_op2(g, "Max", n, f32_const(g, "one", 1.0f), "valid_count"));
}

const char *st_export_nonempty(st_onnx_t *g, st_onnx_val_t v) {
    int64_t zero = 0, axis = 1;
    const char *l = st_onnx_op2(g, "Unsqueeze", v.len, st_onnx_init_i64(g, "axes", &axis, 1), "lengths");
    return st_onnx_op2(g, "Greater", l, st_onnx_init_i64(g, "zero", &zero, 1), "nonempty");
}

const char *st_export_map_lengths(st_onnx_t *g, const st_layer_t *L, const char *len) {
    const int T = L->in_max.d[0], T_out = L->out_max.d[0];
    int64_t *map = malloc(sizeof(int64_t) * (size_t)(T + 1));
    if (!map) return "";
    for (int t = 0; t <= T; t++) { /* core/model_run.c's mapped_length */
        int o = t <= 0 ? 0 : L->kind->out_length(L, t);
        map[t] = o < 0 ? 0 : o > T_out ? T_out : o;
    }
    char hint[128];
    snprintf(hint, sizeof hint, "%s.lengths_map", L->name);
    const char *table = st_onnx_init_i64(g, hint, map, T + 1);
    free(map);
    return st_onnx_op2(g, "Gather", table, len, "lengths");
}

const char *st_export_lengths_i32(st_onnx_t *g, const char *len) {
    char key[300];
    snprintf(key, sizeof key, "i32:%s", len);
    const char *name = st_onnx_memo(g, key);
    if (name) return name;
    name = st_onnx_op1(g, "Cast", len, "lengths_i32");
    st_onnx_attr_i(g, "to", ST_ONNX_INT32);
    return st_onnx_memo_put(g, key, name);
}
