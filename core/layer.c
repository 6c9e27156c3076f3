/* layer.c — helpers shared by layer kinds: declaring tensors and initialising them. */
#include "layer.h"

#include <math.h>
#include <string.h>

#include "philox.h"

static int add_view(st_tensor_view_t *views, int *count, const char *layer, const char *tensor,
                    size_t n, int decay) {
    st_tensor_view_t *v = &views[*count];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s.%s", layer, tensor);
    v->n = n;
    v->decay = decay;
    return (*count)++;
}

int st_layer_add_param(st_layer_t *L, const char *tensor, size_t n, int decay) {
    return add_view(L->params, &L->n_params, L->name, tensor, n, decay);
}

int st_layer_add_buffer(st_layer_t *L, const char *tensor, size_t n) {
    return add_view(L->buffers, &L->n_buffers, L->name, tensor, n, 0);
}

const st_val_t *st_layer_opt(const st_layer_t *L, const char *key) {
    int i = st_schema_find(L->kind->keys, L->kind->n_keys, key);
    return i < 0 ? NULL : &L->opt[i];
}

void st_init_uniform(st_layer_t *L, int param, float bound, uint64_t seed) {
    st_tensor_view_t *p = &L->params[param];
    st_rand_uniform(p->data, (long)p->n, -bound, bound, seed, ST_RNG_INIT, (uint32_t)L->index,
                    (uint32_t)param, 0);
}

void st_init_normal(st_layer_t *L, int param, float std, uint64_t seed) {
    st_tensor_view_t *p = &L->params[param];
    st_rand_normal(p->data, (long)p->n, 0.0f, std, seed, ST_RNG_INIT, (uint32_t)L->index,
                   (uint32_t)param, 0);
}

void st_init_const(float *x, size_t n, float value) {
    for (size_t i = 0; i < n; i++) x[i] = value;
}

void st_init_weight(st_layer_t *L, int param, const char *scheme, int fan_in, int fan_out, uint64_t seed) {
    if (scheme && strcmp(scheme, "he") == 0)
        st_init_normal(L, param, sqrtf(2.0f / (float)fan_in), seed);
    else if (scheme && strcmp(scheme, "xavier") == 0)
        st_init_uniform(L, param, sqrtf(6.0f / (float)(fan_in + fan_out)), seed);
    else
        st_init_uniform(L, param, 1.0f / sqrtf((float)fan_in), seed);
}

static st_status_t unknown_type(const char *type, const char *path, st_error_t *err) {
    const char *names[64];
    char known[1024] = "";
    int n = st_layer_kind_count();
    for (int i = 0; i < n; i++) {
        names[i] = st_layer_kind_at(i)->type;
        if (i) strcat(known, ", ");
        strcat(known, names[i]);
    }
    const char *near = st_closest_word(type, names, n);
    if (near)
        return st_fail(err, ST_ERR_CONFIG, "%s.type: unknown layer type \"%s\" (did you mean \"%s\"?); known types: %s",
                       path, type, near, known);
    return st_fail(err, ST_ERR_CONFIG, "%s.type: unknown layer type \"%s\"; known types: %s", path, type, known);
}

st_status_t st_layer_build(st_layer_t *L, const cJSON *obj, const char *path, const char *name,
                           int index, st_shape_t in, int n_classes, const char *next_type,
                           st_error_t *err) {
    memset(L, 0, sizeof *L);
    if (!cJSON_IsObject(obj)) return st_fail(err, ST_ERR_CONFIG, "%s: expected a layer object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(type)) return st_fail(err, ST_ERR_CONFIG, "%s.type: required key is missing (a layer type string)", path);
    L->kind = st_layer_kind_find(type->valuestring);
    if (!L->kind) return unknown_type(type->valuestring, path, err);
    const cJSON *user_name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (user_name && !cJSON_IsString(user_name))
        return st_fail(err, ST_ERR_CONFIG, "%s.name: expected a string", path);
    snprintf(L->name, sizeof L->name, "%s", user_name ? user_name->valuestring : name);
    snprintf(L->path, sizeof L->path, "%s", path);
    L->index = index;
    L->in_shape = in;
    L->n_classes = n_classes;
    L->next_type = next_type;
    L->next_kind = next_type ? st_layer_kind_find(next_type) : NULL;
    static const char *const skip[] = {"type", "name", NULL};
    ST_TRY(st_schema_read(L->kind->keys, L->kind->n_keys, obj, path, skip, L->opt, err));
    ST_TRY(L->kind->setup(L, err));
    L->in_max = L->in_shape, L->out_max = L->out_shape;
    return ST_OK;
}

size_t st_layer_param_floats(const st_layer_t *L) {
    size_t n = 0;
    for (int i = 0; i < L->n_params; i++) n += L->params[i].n;
    return n;
}

size_t st_layer_buffer_floats(const st_layer_t *L) {
    size_t n = 0;
    for (int i = 0; i < L->n_buffers; i++) n += L->buffers[i].n;
    return n;
}

void st_layer_bind(st_layer_t *L, float *arena_params, float *arena_grads, float *arena_buffers,
                   size_t param_offset, size_t buffer_offset) {
    for (int i = 0; i < L->n_params; i++) {
        L->params[i].offset = param_offset;
        L->params[i].data = arena_params + param_offset;
        L->params[i].grad = arena_grads ? arena_grads + param_offset : NULL;
        param_offset += L->params[i].n;
    }
    for (int i = 0; i < L->n_buffers; i++) {
        L->buffers[i].offset = buffer_offset;
        L->buffers[i].data = arena_buffers + buffer_offset;
        buffer_offset += L->buffers[i].n;
    }
}

void st_layer_no_flops(const st_layer_t *L, st_layer_flops_t *out) {
    (void)L;
    *out = (st_layer_flops_t){0, 0, 0};
}
