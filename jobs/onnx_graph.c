/* onnx_graph.c — the ONNX graph builder of onnx_graph.h: protobuf-c messages allocated from a
 * pool the builder frees at once, unique value names, and the ModelProto written to a file. */
#include "jobs/onnx_graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

#define MAX_ATTRS 8 /* per node: LSTM has the most (hidden_size, direction, linear_before_reset) */

/* A growable array of pointers. */
typedef struct {
    void **p;
    size_t n, cap;
} vec_t;

struct st_onnx {
    vec_t pool;                     /* every block allocated, freed by st_onnx_free */
    vec_t nodes, inits, inputs, outputs, meta, names;
    vec_t memo;                     /* key, value name, key, value name, ... (st_onnx_memo) */
    vec_t i8marks;                  /* i8mark_t: weights the int8 pass quantises (st_onnx_i8_mark) */
    Onnx__NodeProto *last;          /* the node attributes go to */
    char *graph_name;
    int failed;
};

static int vec_push(vec_t *v, void *x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 32;
        void **p = realloc(v->p, cap * sizeof *p);
        if (!p) return 1;
        v->p = p, v->cap = cap;
    }
    v->p[v->n++] = x;
    return 0;
}

/* n zeroed bytes owned by the pool, or NULL (and g->failed) when memory ran out. */
static void *g_alloc(st_onnx_t *g, size_t n) {
    void *p = g->failed ? NULL : calloc(1, n ? n : 1);
    if (p && vec_push(&g->pool, p)) free(p), p = NULL;
    if (!p) g->failed = 1;
    return p;
}

static char *g_strdup(st_onnx_t *g, const char *s) {
    char *d = g_alloc(g, strlen(s) + 1);
    if (d) strcpy(d, s);
    return d ? d : "";
}

st_onnx_t *st_onnx_new(const char *graph_name) {
    st_onnx_t *g = calloc(1, sizeof *g);
    if (g) g->graph_name = g_strdup(g, graph_name);
    return g;
}

void st_onnx_free(st_onnx_t *g) {
    if (!g) return;
    for (size_t i = 0; i < g->pool.n; i++) free(g->pool.p[i]);
    free(g->pool.p), free(g->nodes.p), free(g->inits.p), free(g->inputs.p), free(g->outputs.p), free(g->meta.p);
    free(g->names.p), free(g->memo.p), free(g->i8marks.p);
    free(g);
}

int st_onnx_failed(const st_onnx_t *g) { return g->failed; }

static void g_push(st_onnx_t *g, vec_t *v, void *x) {
    if (!g->failed && (!x || vec_push(v, x))) g->failed = 1;
}

static int name_used(const st_onnx_t *g, const char *s) {
    for (size_t i = 0; i < g->names.n; i++)
        if (strcmp(g->names.p[i], s) == 0) return 1;
    return 0;
}

/* `hint`, or `hint_1`, `hint_2`, ... : the first not yet used; registered as used. */
static char *unique(st_onnx_t *g, const char *hint) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", hint);
    for (int k = 1; name_used(g, buf); k++) snprintf(buf, sizeof buf, "%s_%d", hint, k);
    char *s = g_strdup(g, buf);
    if (*s) g_push(g, &g->names, s);
    return s;
}

static Onnx__TensorProto *tensor(st_onnx_t *g, const char *hint, const int64_t *dims, int rank, int type) {
    Onnx__TensorProto *t = g_alloc(g, sizeof *t);
    int64_t *d = g_alloc(g, sizeof(int64_t) * (size_t)(rank ? rank : 1));
    if (!t || !d) return NULL;
    *t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    t->n_dims = (size_t)rank, t->dims = d, t->has_data_type = 1, t->data_type = type;
    t->name = unique(g, hint);
    return t;
}

const char *st_onnx_init_f32(st_onnx_t *g, const char *hint, const float *data, const int64_t *dims, int rank) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    Onnx__TensorProto *t = tensor(g, hint, dims, rank, ST_ONNX_FLOAT);
    float *v = g_alloc(g, sizeof(float) * n);
    if (!t || !v) return "";
    memcpy(v, data, sizeof(float) * n);
    t->n_float_data = n, t->float_data = v;
    g_push(g, &g->inits, t);
    return t->name;
}

uint16_t st_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xffu) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0)); /* inf, nan */
    int ee = (int)e - 127 + 15;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00u);
    if (ee <= 0) { /* subnormal half (or zero): m·2^(e−150) in units of 2^−24 */
        if (ee < -10) return (uint16_t)sign;
        m |= 0x800000u;
        int shift = 14 - ee;
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)ee << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0 && m == 0) x = sign;
    else if (e == 0) { /* subnormal */
        float f = (float)m / 16777216.0f;
        return sign ? -f : f;
    } else if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e - 15 + 127) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void st_onnx_inits_to_f16(st_onnx_t *g) {
    for (size_t i = 0; i < g->inits.n && !g->failed; i++) {
        Onnx__TensorProto *t = g->inits.p[i];
        if (t->data_type != ST_ONNX_FLOAT) continue;
        uint8_t *raw = g_alloc(g, 2 * t->n_float_data);
        if (!raw) return;
        for (size_t k = 0; k < t->n_float_data; k++) {
            uint16_t h = st_f32_to_f16(t->float_data[k]);
            raw[2 * k] = (uint8_t)(h & 0xff), raw[2 * k + 1] = (uint8_t)(h >> 8); /* little-endian */
        }
        t->has_raw_data = 1, t->raw_data.len = 2 * t->n_float_data, t->raw_data.data = raw;
        t->data_type = ST_ONNX_FLOAT16, t->n_float_data = 0, t->float_data = NULL;
    }
}

void st_i8_quantize_axis(const float *w, long outer, long ch, long inner, int8_t *q, float *scale) {
    for (long c = 0; c < ch; c++) {
        float mx = 0;
        for (long o = 0; o < outer; o++)
            for (long k = 0; k < inner; k++) {
                float a = fabsf(w[(o * ch + c) * inner + k]);
                mx = a > mx ? a : mx;
            }
        scale[c] = mx > 0 ? mx / 127.0f : 1.0f;
    }
    for (long o = 0; q && o < outer; o++)
        for (long c = 0; c < ch; c++)
            for (long k = 0; k < inner; k++) {
                long at = (o * ch + c) * inner + k;
                float v = nearbyintf(w[at] / scale[c]);
                q[at] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
}

void st_i8_quantize_rows(const float *w, long rows, long cols, int8_t *q, float *scale) {
    st_i8_quantize_axis(w, 1, rows, cols, q, scale);
}

static Onnx__TensorProto *init_named(const st_onnx_t *g, const char *name) {
    for (size_t i = 0; i < g->inits.n; i++)
        if (strcmp(((Onnx__TensorProto *)g->inits.p[i])->name, name) == 0) return g->inits.p[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *nd, const char *name, int64_t dflt) {
    for (size_t a = 0; a < nd->n_attribute; a++)
        if (strcmp(nd->attribute[a]->name, name) == 0) return nd->attribute[a]->i;
    return dflt;
}

/* Initializer t as int8 + a float32 scale and an int8 zero point (0) per index of `axis`, and a
 * DequantizeLinear (appended) into its name; 1 when done (0: no such axis, or out of memory). axis ST_ONNX_I8_FLAT_ROWS: t [d0, d1, ...] is stored
 * as [d0·d1, ...], quantised per row (axis 0), and a Reshape after the DequantizeLinear gives the
 * old shape under the old name (an LSTM/GRU's W and R: one scale per direction and gate row). */
static int quantize_init(st_onnx_t *g, Onnx__TensorProto *t, int axis) {
    int flat = axis == ST_ONNX_I8_FLAT_ROWS, a = flat ? 1 : axis;
    if (t->n_dims < (size_t)(flat ? 2 : 1) || (size_t)a >= t->n_dims) return 0;
    long outer = 1, ch = (long)t->dims[a], inner = 1;
    for (int d = 0; d < a; d++) outer *= (long)t->dims[d];
    for (size_t d = (size_t)a + 1; d < t->n_dims; d++) inner *= (long)t->dims[d];
    if (flat) ch *= outer, outer = 1; /* [d0·d1, rest] by rows */
    int8_t *q = g_alloc(g, t->n_float_data), *zp = g_alloc(g, (size_t)(ch ? ch : 1));
    float *scale = g_alloc(g, sizeof(float) * (size_t)(ch ? ch : 1));
    int64_t *shape = g_alloc(g, sizeof(int64_t) * t->n_dims);
    if (!q || !scale || !zp || !shape) return 0;
    st_i8_quantize_axis(t->float_data, outer, ch, inner, q, scale);
    const char *weight = t->name;
    int64_t dim = ch;
    char hint[300];
    snprintf(hint, sizeof hint, "%s_scale", weight);
    const char *sc = st_onnx_init_f32(g, hint, scale, &dim, 1);
    snprintf(hint, sizeof hint, "%s_zero_point", weight);
    Onnx__TensorProto *z = tensor(g, hint, &dim, 1, ST_ONNX_INT8);
    snprintf(hint, sizeof hint, "%s_int8", weight);
    char *qname = unique(g, hint);
    if (!z || !*qname) return 0;
    z->has_raw_data = 1, z->raw_data.len = (size_t)ch, z->raw_data.data = (uint8_t *)zp;
    g_push(g, &g->inits, z);
    memcpy(shape, t->dims, sizeof(int64_t) * t->n_dims);
    if (flat) { /* [d0·d1, d2, ...] */
        t->dims[0] = ch;
        for (size_t d = 1; d + 1 < t->n_dims; d++) t->dims[d] = t->dims[d + 1];
        t->n_dims--;
    }
    t->name = qname, t->data_type = ST_ONNX_INT8, t->has_raw_data = 1, t->raw_data.len = t->n_float_data;
    t->raw_data.data = (uint8_t *)q, t->n_float_data = 0, t->float_data = NULL;
    const char *in[3] = {qname, sc, z->name};
    snprintf(hint, sizeof hint, "%s_dequantized", weight);
    const char *dq = st_onnx_node(g, "DequantizeLinear", in, 3, hint, 1, NULL);
    st_onnx_attr_i(g, "axis", flat ? 0 : axis);
    if (!flat) {
        if (g->last) g->last->output[0] = (char *)weight;
        return !g->failed;
    }
    snprintf(hint, sizeof hint, "%s_shape", weight);
    st_onnx_op2(g, "Reshape", dq, st_onnx_init_i64(g, hint, shape, (int)(t->n_dims + 1)), hint);
    if (g->last) g->last->output[0] = (char *)weight;
    return !g->failed;
}

/* 1 when value `name` is the output of a DequantizeLinear node. */
static int dequantized(const st_onnx_t *g, const char *name) {
    for (size_t i = 0; i < g->nodes.n; i++) {
        const Onnx__NodeProto *nd = g->nodes.p[i];
        if (strcmp(nd->op_type, "DequantizeLinear") == 0 && strcmp(nd->output[0], name) == 0) return 1;
    }
    return 0;
}

typedef struct {
    const char *name;
    int axis;
} i8mark_t;

void st_onnx_i8_mark(st_onnx_t *g, const char *init, int axis) {
    i8mark_t *m = g_alloc(g, sizeof *m);
    if (!m) return;
    m->name = g_strdup(g, init), m->axis = axis;
    g_push(g, &g->i8marks, m);
}

int st_onnx_weights_to_i8(st_onnx_t *g) {
    size_t n0 = g->nodes.n;
    int done = 0;
    for (size_t i = 0; i < n0 && !g->failed; i++) {
        Onnx__NodeProto *nd = g->nodes.p[i];
        int gemm = strcmp(nd->op_type, "Gemm") == 0, conv = strcmp(nd->op_type, "Conv") == 0;
        int matmul = strcmp(nd->op_type, "MatMul") == 0 && nd->n_input == 2 && dequantized(g, nd->input[0]);
        if (!(gemm && attr_int(nd, "transB", 0) == 1) && !conv && !matmul) continue;
        Onnx__TensorProto *t = nd->n_input > 1 ? init_named(g, nd->input[1]) : NULL;
        if (t && t->data_type == ST_ONNX_FLOAT && t->n_dims >= 2 && (!matmul || t->n_dims == 2))
            done += quantize_init(g, t, matmul);
    }
    for (size_t i = 0; i < g->i8marks.n && !g->failed; i++) { /* the weights of ops whose inputs stay float */
        const i8mark_t *m = g->i8marks.p[i];
        Onnx__TensorProto *t = init_named(g, m->name);
        if (t && t->data_type == ST_ONNX_FLOAT) done += quantize_init(g, t, m->axis);
    }
    if (g->failed || g->nodes.n == n0) return done;
    /* the DequantizeLinear (and Reshape) nodes read only initializers: to the front, so the order
       stays topological */
    size_t k = g->nodes.n - n0;
    void **tmp = malloc(sizeof(void *) * k);
    if (!tmp) {
        g->failed = 1;
        return done;
    }
    memcpy(tmp, g->nodes.p + n0, sizeof(void *) * k);
    memmove(g->nodes.p + k, g->nodes.p, sizeof(void *) * n0);
    memcpy(g->nodes.p, tmp, sizeof(void *) * k);
    free(tmp);
    return done;
}

const char *st_onnx_init_i64(st_onnx_t *g, const char *hint, const int64_t *data, int n) {
    int64_t dim = n;
    Onnx__TensorProto *t = tensor(g, hint, &dim, 1, ST_ONNX_INT64);
    int64_t *v = g_alloc(g, sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!t || !v) return "";
    memcpy(v, data, sizeof(int64_t) * (size_t)n);
    t->n_int64_data = (size_t)n, t->int64_data = v;
    g_push(g, &g->inits, t);
    return t->name;
}

const char *st_onnx_node(st_onnx_t *g, const char *op, const char *const *in, int n_in, const char *hint, int n_out,
                         const char **outs) {
    Onnx__NodeProto *nd = g_alloc(g, sizeof *nd);
    char **ins = g_alloc(g, sizeof(char *) * (size_t)(n_in ? n_in : 1));
    char **os = g_alloc(g, sizeof(char *) * (size_t)n_out);
    Onnx__AttributeProto **at = g_alloc(g, sizeof(*at) * MAX_ATTRS);
    if (!nd || !ins || !os || !at) return "";
    *nd = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
    for (int i = 0; i < n_in; i++) ins[i] = g_strdup(g, in[i]);
    for (int i = 0; i < n_out; i++) {
        os[i] = unique(g, hint);
        if (outs) outs[i] = os[i];
    }
    nd->n_input = (size_t)n_in, nd->input = ins, nd->n_output = (size_t)n_out, nd->output = os;
    nd->op_type = g_strdup(g, op), nd->name = os[0], nd->attribute = at;
    g_push(g, &g->nodes, nd);
    g->last = nd;
    return os[0];
}

const char *st_onnx_op1(st_onnx_t *g, const char *op, const char *in, const char *hint) {
    return st_onnx_node(g, op, &in, 1, hint, 1, NULL);
}

const char *st_onnx_op2(st_onnx_t *g, const char *op, const char *a, const char *b, const char *hint) {
    const char *in[2] = {a, b};
    return st_onnx_node(g, op, in, 2, hint, 1, NULL);
}

/* A new attribute of the last node, or NULL. */
static Onnx__AttributeProto *attr(st_onnx_t *g, const char *name, Onnx__AttributeProto__AttributeType type) {
    if (g->failed || !g->last || g->last->n_attribute == MAX_ATTRS) return g->failed = 1, NULL;
    Onnx__AttributeProto *a = g_alloc(g, sizeof *a);
    if (!a) return NULL;
    *a = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
    a->name = g_strdup(g, name), a->has_type = 1, a->type = type;
    g->last->attribute[g->last->n_attribute++] = a;
    return a;
}

void st_onnx_attr_i(st_onnx_t *g, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}

void st_onnx_attr_f(st_onnx_t *g, const char *name, float v) {
    Onnx__AttributeProto *a = attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
}

void st_onnx_attr_s(st_onnx_t *g, const char *name, const char *v) {
    Onnx__AttributeProto *a = attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = g_strdup(g, v);
    if (a) a->has_s = 1, a->s.data = (uint8_t *)s, a->s.len = strlen(s);
}

void st_onnx_attr_ints(st_onnx_t *g, const char *name, const int64_t *v, int n) {
    Onnx__AttributeProto *a = attr(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *d = g_alloc(g, sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!a || !d) return;
    memcpy(d, v, sizeof(int64_t) * (size_t)n);
    a->n_ints = (size_t)n, a->ints = d;
}

/* A tensor value description of element type `type`; dims[0] is the symbolic batch "N". */
static Onnx__ValueInfoProto *value_info(st_onnx_t *g, const char *name, int type, const int64_t *dims, int rank) {
    Onnx__ValueInfoProto *v = g_alloc(g, sizeof *v);
    Onnx__TypeProto *tp = g_alloc(g, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = g_alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *sh = g_alloc(g, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dd = g_alloc(g, sizeof(*dd) * (size_t)rank);
    if (!v || !tp || !tt || !sh || !dd) return NULL;
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = g_alloc(g, sizeof *d);
        if (!d) return NULL;
        *d = (Onnx__TensorShapeProto__Dimension)ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        if (i == 0) d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM, d->dim_param = g_strdup(g, "N");
        else d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, d->dim_value = dims[i];
        dd[i] = d;
    }
    *sh = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
    sh->n_dim = (size_t)rank, sh->dim = dd;
    *tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
    tt->has_elem_type = 1, tt->elem_type = type, tt->shape = sh;
    *tp = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, tp->tensor_type = tt;
    *v = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
    v->name = g_strdup(g, name), v->type = tp;
    return v;
}

void st_onnx_input_typed(st_onnx_t *g, const char *name, int type, const int64_t *dims, int rank) {
    if (!name_used(g, name)) g_push(g, &g->names, g_strdup(g, name));
    g_push(g, &g->inputs, value_info(g, name, type, dims, rank));
}

void st_onnx_output_typed(st_onnx_t *g, const char *name, int type, const int64_t *dims, int rank) {
    g_push(g, &g->outputs, value_info(g, name, type, dims, rank));
}

void st_onnx_input(st_onnx_t *g, const char *name, const int64_t *dims, int rank) {
    st_onnx_input_typed(g, name, ST_ONNX_FLOAT, dims, rank);
}

void st_onnx_output(st_onnx_t *g, const char *name, const int64_t *dims, int rank) {
    st_onnx_output_typed(g, name, ST_ONNX_FLOAT, dims, rank);
}

const char *st_onnx_memo(const st_onnx_t *g, const char *key) {
    for (size_t i = 0; i + 1 < g->memo.n; i += 2)
        if (strcmp(g->memo.p[i], key) == 0) return g->memo.p[i + 1];
    return NULL;
}

const char *st_onnx_memo_put(st_onnx_t *g, const char *key, const char *name) {
    char *k = g_strdup(g, key), *v = g_strdup(g, name);
    if (*k) g_push(g, &g->memo, k), g_push(g, &g->memo, v);
    return name;
}

void st_onnx_meta(st_onnx_t *g, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = g_alloc(g, sizeof *e);
    if (!e) return;
    *e = (Onnx__StringStringEntryProto)ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    e->key = g_strdup(g, key), e->value = g_strdup(g, value);
    g_push(g, &g->meta, e);
}

st_status_t st_onnx_write(st_onnx_t *g, const char *path, const char *version, size_t *bytes, st_error_t *err) {
    if (g->failed) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory building the ONNX graph", path);
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = g->graph_name;
    graph.n_node = g->nodes.n, graph.node = (Onnx__NodeProto **)g->nodes.p;
    graph.n_initializer = g->inits.n, graph.initializer = (Onnx__TensorProto **)g->inits.p;
    graph.n_input = g->inputs.n, graph.input = (Onnx__ValueInfoProto **)g->inputs.p;
    graph.n_output = g->outputs.n, graph.output = (Onnx__ValueInfoProto **)g->outputs.p;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = {&opset};
    opset.domain = "", opset.has_version = 1, opset.version = ST_ONNX_OPSET;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1, model.ir_version = ST_ONNX_IR_VERSION;
    model.n_opset_import = 1, model.opset_import = opsets;
    model.producer_name = "strata", model.producer_version = (char *)version, model.graph = &graph;
    model.n_metadata_props = g->meta.n, model.metadata_props = (Onnx__StringStringEntryProto **)g->meta.p;
    size_t n = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return st_fail(err, ST_ERR_NOMEM, "%s: %zu bytes for the ONNX model", path, n);
    onnx__model_proto__pack(&model, buf);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(buf, 1, n, f) != n;
    bad |= f && fclose(f) != 0;
    free(buf);
    if (bad) return st_fail(err, ST_ERR_IO, "%s: cannot write the ONNX model", path);
    if (bytes) *bytes = n;
    return ST_OK;
}

const char *st_onnx_init_raw(st_onnx_t *g, const char *hint, int type, const void *data, size_t bytes, const int64_t *dims,
                             int rank) {
    Onnx__TensorProto *t = tensor(g, hint, dims, rank, type);
    uint8_t *v = g_alloc(g, bytes);
    if (!t || !v) return "";
    memcpy(v, data, bytes);
    t->has_raw_data = 1, t->raw_data.len = bytes, t->raw_data.data = v;
    g_push(g, &g->inits, t);
    return t->name;
}
