/* model.c — building the layer graph from JSON and running it forward and backward.
 *
 * The JSON tree (sequential chains, parallel branches, residuals, heads) is flattened at build
 * time into ops over numbered values; value 0 is the input batch. Each value owns an activation
 * buffer and a gradient buffer [B_max, numel]. A value read by more than one op accumulates its
 * gradient (zeroed before backward); a value read once has its gradient written directly. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "memory.h"

#include "model_internal.h"

/* ---- growing arrays ---- */

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return 0;
    *arr = p;
    *cap = n;
    return 1;
}

static int new_value(st_model_t *m, st_shape_t shape, st_error_t *err) {
    if (!grow((void **)&m->values, &m->cap_values, m->n_values + 1, sizeof(value_t))) {
        st_fail(err, ST_ERR_NOMEM, "model: out of memory");
        return -1;
    }
    memset(&m->values[m->n_values], 0, sizeof(value_t));
    m->values[m->n_values].shape = shape;
    m->values[m->n_values].t_run = shape.rank == 2 ? shape.d[0] : 0;
    return m->n_values++;
}

static st_status_t add_op(st_model_t *m, op_t op, st_error_t *err) {
    if (!grow((void **)&m->ops, &m->cap_ops, m->n_ops + 1, sizeof(op_t)))
        return st_fail(err, ST_ERR_NOMEM, "model: out of memory");
    for (int i = 0; i < op.n_in; i++) m->values[op.in[i]].n_consumers++;
    m->ops[m->n_ops++] = op;
    return ST_OK;
}

/* ---- building ---- */

static st_status_t build_chain(st_model_t *m, const cJSON *arr, const char *path, const char *name,
                               int in_value, int *out_value, char *last_path, st_error_t *err);

static const char *type_of(const cJSON *item) {
    const cJSON *t = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "type") : NULL;
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static st_status_t check_keys(const cJSON *obj, const char *path, const char *const *known, int n_known,
                              st_error_t *err) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; i < n_known; i++) ok |= strcmp(it->string, known[i]) == 0;
        if (ok) continue;
        const char *near = st_closest_word(it->string, known, n_known);
        if (near)
            return st_fail(err, ST_ERR_CONFIG, "%s: unknown key \"%s\" (did you mean \"%s\"?)", path, it->string, near);
        return st_fail(err, ST_ERR_CONFIG, "%s: unknown key \"%s\"", path, it->string);
    }
    return ST_OK;
}

static st_status_t merge_shape(const st_model_t *m, int add, const int *in, int n_in, const char *path,
                               st_shape_t *out, st_error_t *err) {
    st_shape_t s0 = m->values[in[0]].shape;
    char a[48], b[48];
    int channels = 0;
    for (int i = 0; i < n_in; i++) {
        st_shape_t s = m->values[in[i]].shape;
        st_shape_str(s0, a, sizeof a);
        st_shape_str(s, b, sizeof b);
        if (add && !st_shape_equal(s, s0))
            return st_fail(err, ST_ERR_SHAPE, "%s: an \"add\" merge needs equal shapes; branch 0 gives %s, branch %d gives %s",
                           path, a, i, b);
        if (!add && (s.rank != s0.rank || (s.rank == 2 && s.d[0] != s0.d[0])))
            return st_fail(err, ST_ERR_SHAPE, "%s: a \"concat\" merge joins the last dimension, so the others must match; branch 0 gives %s, branch %d gives %s",
                           path, a, i, b);
        channels += st_shape_channels(s);
    }
    *out = add ? s0 : (s0.rank == 1 ? st_shape1(channels) : st_shape2(s0.d[0], channels));
    return ST_OK;
}

static st_status_t build_parallel(st_model_t *m, const cJSON *obj, const char *path, const char *name,
                                  int in_value, int *out_value, st_error_t *err) {
    static const char *const known[] = {"type", "name", "merge", "branches"};
    ST_TRY(check_keys(obj, path, known, 4, err));
    const cJSON *merge = cJSON_GetObjectItemCaseSensitive(obj, "merge");
    const cJSON *branches = cJSON_GetObjectItemCaseSensitive(obj, "branches");
    if (!cJSON_IsString(merge) || (strcmp(merge->valuestring, "concat") && strcmp(merge->valuestring, "add")))
        return st_fail(err, ST_ERR_CONFIG, "%s.merge: expected \"concat\" or \"add\"", path);
    int n = cJSON_GetArraySize(branches);
    if (!cJSON_IsArray(branches) || n < 2 || n > MAX_MERGE)
        return st_fail(err, ST_ERR_CONFIG, "%s.branches: expected a list of 2 to %d branches (each a list of layers; [] = identity)",
                       path, MAX_MERGE);
    op_t op = {.kind = strcmp(merge->valuestring, "add") == 0 ? OP_ADD : OP_CONCAT, .n_in = n};
    snprintf(op.path, sizeof op.path, "%s", path);
    int j = 0;
    const cJSON *branch;
    cJSON_ArrayForEach(branch, branches) {
        char p[ST_PATH_MAX], nm[96];
        st_format(p, sizeof p, "%s.branches[%d]", path, j);
        st_format(nm, sizeof nm, "%s.branches.%d", name, j);
        ST_TRY(build_chain(m, branch, p, nm, in_value, &op.in[j], NULL, err));
        j++;
    }
    st_shape_t shape;
    ST_TRY(merge_shape(m, op.kind == OP_ADD, op.in, n, path, &shape, err));
    if ((op.out = new_value(m, shape, err)) < 0) return err->code;
    *out_value = op.out;
    return add_op(m, op, err);
}

static st_status_t build_residual(st_model_t *m, const cJSON *obj, const char *path, const char *name,
                                  int in_value, int *out_value, st_error_t *err) {
    static const char *const known[] = {"type", "name", "layers"};
    ST_TRY(check_keys(obj, path, known, 3, err));
    char p[ST_PATH_MAX], nm[96];
    st_format(p, sizeof p, "%s.layers", path);
    st_format(nm, sizeof nm, "%s.layers", name);
    op_t op = {.kind = OP_ADD, .n_in = 2, .in = {0, in_value}};
    snprintf(op.path, sizeof op.path, "%s", path);
    ST_TRY(build_chain(m, cJSON_GetObjectItemCaseSensitive(obj, "layers"), p, nm, in_value, &op.in[0], NULL, err));
    st_shape_t shape;
    if (merge_shape(m, 1, op.in, 2, path, &shape, err) != ST_OK) {
        char a[48], b[48];
        st_shape_str(m->values[in_value].shape, a, sizeof a);
        st_shape_str(m->values[op.in[0]].shape, b, sizeof b);
        return st_fail(err, ST_ERR_SHAPE, "%s: a residual block must keep its input's shape %s, but its layers give %s",
                       path, a, b);
    }
    if ((op.out = new_value(m, shape, err)) < 0) return err->code;
    *out_value = op.out;
    return add_op(m, op, err);
}

static st_status_t build_layer(st_model_t *m, const cJSON *obj, const char *path, const char *name,
                               const char *next_type, int in_value, int *out_value, st_error_t *err) {
    if (!grow((void **)&m->layers, &m->cap_layers, m->n_layers + 1, sizeof(st_layer_t *)))
        return st_fail(err, ST_ERR_NOMEM, "model: out of memory");
    st_layer_t *L = calloc(1, sizeof *L);
    if (!L) return st_fail(err, ST_ERR_NOMEM, "model: out of memory");
    m->layers[m->n_layers] = L;
    st_status_t rc = st_layer_build(L, obj, path, name, m->n_layers, m->values[in_value].shape,
                                    m->n_classes, next_type, err);
    if (rc != ST_OK) {
        free(L);
        return rc;
    }
    m->n_layers++;
    op_t op = {.kind = OP_LAYER, .layer = L, .n_in = 1, .in = {in_value}};
    if ((op.out = new_value(m, L->out_shape, err)) < 0) return err->code;
    *out_value = op.out;
    return add_op(m, op, err);
}

/* Builds the layers of list `arr` in order from value in_value. last_path (may be NULL) gets the
 * JSON path of the list's last element, the one that gives *out_value (unchanged for []). The
 * list is walked through its links: indexing it (cJSON_GetArrayItem) would cost O(n) per layer. */
static st_status_t build_chain(st_model_t *m, const cJSON *arr, const char *path, const char *name,
                               int in_value, int *out_value, char *last_path /*[ST_PATH_MAX] or NULL*/,
                               st_error_t *err) {
    if (!cJSON_IsArray(arr)) return st_fail(err, ST_ERR_CONFIG, "%s: expected a list of layers", path);
    int v = in_value, i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        char p[ST_PATH_MAX], nm[96];
        st_format(p, sizeof p, "%s[%d]", path, i);
        st_format(nm, sizeof nm, "%s.%d", name, i);
        const char *type = type_of(item);
        if (type && strcmp(type, "parallel") == 0) ST_TRY(build_parallel(m, item, p, nm, v, &v, err));
        else if (type && strcmp(type, "residual") == 0) ST_TRY(build_residual(m, item, p, nm, v, &v, err));
        else ST_TRY(build_layer(m, item, p, nm, type_of(item->next), v, &v, err));
        if (last_path) snprintf(last_path, ST_PATH_MAX, "%s", p);
        i++;
    }
    *out_value = v;
    return ST_OK;
}

static st_status_t add_head(st_model_t *m, const char *name, int value, const char *layer_path, const char *path,
                            st_error_t *err) {
    if (m->n_heads == ST_MAX_HEADS) return st_fail(err, ST_ERR_CONFIG, "%s: at most %d heads", path, ST_MAX_HEADS);
    for (int h = 0; h < m->n_heads; h++)
        if (strcmp(m->heads[h].name, name) == 0)
            return st_fail(err, ST_ERR_CONFIG, "%s.name: head name \"%s\" is used twice", path, name);
    st_head_t *hd = &m->heads[m->n_heads++];
    snprintf(hd->name, sizeof hd->name, "%s", name);
    snprintf(hd->path, sizeof hd->path, "%s", layer_path);
    hd->value = value;
    hd->shape = m->values[value].shape;
    return ST_OK;
}

/* trunk_path: the JSON path of the trunk's last layer (a head without layers outputs the trunk). */
static st_status_t build_heads(st_model_t *m, const cJSON *heads, const char *path, int trunk, const char *trunk_path,
                               st_error_t *err) {
    if (!cJSON_IsArray(heads) || cJSON_GetArraySize(heads) < 1)
        return st_fail(err, ST_ERR_CONFIG, "%s.heads: expected a list of heads {\"name\": ..., \"layers\": [...]}", path);
    int h = 0;
    const cJSON *obj;
    cJSON_ArrayForEach(obj, heads) {
        char p[ST_PATH_MAX], lp[ST_PATH_MAX], nm[96], last[ST_PATH_MAX];
        st_format(p, sizeof p, "%s.heads[%d]", path, h++);
        if (!cJSON_IsObject(obj)) return st_fail(err, ST_ERR_CONFIG, "%s: expected an object", p);
        static const char *const known[] = {"name", "layers"};
        ST_TRY(check_keys(obj, p, known, 2, err));
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= 64)
            return st_fail(err, ST_ERR_CONFIG, "%s.name: expected a head name (a non-empty string)", p);
        st_format(lp, sizeof lp, "%s.layers", p);
        st_format(nm, sizeof nm, "heads.%s", name->valuestring);
        snprintf(last, sizeof last, "%s", trunk_path);
        int out, trunk_classes = m->n_classes;
        if (m->head_classes) { /* "units": "classes" in a head: that head's target's classes or width */
            int k = m->head_classes(name->valuestring, m->head_classes_ctx);
            if (k > 0) m->n_classes = k;
        }
        st_status_t rc = build_chain(m, cJSON_GetObjectItemCaseSensitive(obj, "layers"), lp, nm, trunk, &out, last, err);
        m->n_classes = trunk_classes;
        ST_TRY(rc);
        ST_TRY(add_head(m, name->valuestring, out, last, p, err));
    }
    return ST_OK;
}

static int by_name_then_index(const void *a, const void *b) {
    const st_layer_t *x = *(const st_layer_t *const *)a, *y = *(const st_layer_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Layer names name the parameters (checkpoints, optimizer groups, traces), so two layers may not
 * share one, whether the user gave it ("name") or it is the generated "layers.3". Sorting finds
 * duplicates in O(n log n); the pair reported is the one whose later layer comes first. */
static st_status_t check_unique_names(const st_model_t *m, st_error_t *err) {
    if (m->n_layers < 2) return ST_OK;
    const st_layer_t **sorted = malloc(sizeof *sorted * (size_t)m->n_layers);
    if (!sorted) return st_fail(err, ST_ERR_NOMEM, "model: out of memory");
    for (int i = 0; i < m->n_layers; i++) sorted[i] = m->layers[i];
    qsort(sorted, (size_t)m->n_layers, sizeof *sorted, by_name_then_index);
    const st_layer_t *first = NULL, *again = NULL;
    for (int i = 1; i < m->n_layers; i++)
        if (strcmp(sorted[i]->name, sorted[i - 1]->name) == 0 && (!again || sorted[i]->index < again->index))
            first = sorted[i - 1], again = sorted[i];
    free(sorted);
    if (!again) return ST_OK;
    return st_fail(err, ST_ERR_CONFIG, "%s: layer name \"%s\" is also the name of %s; layer names must be unique "
                   "(they name the layers' parameters)", again->path, again->name, first->path);
}

/* The arenas (parameters, gradients, buffers) must fit in what the machine can still allocate:
 * zeroing an arena larger than that gets the process killed without a message. The layer with
 * the most parameters is named. */
static st_status_t check_arena_size(const st_model_t *m, st_error_t *err) {
    double bytes = 4.0 * (2.0 * (double)m->n_param_floats + (double)m->n_buffer_floats), avail = (double)st_memory_available();
    if (avail <= 0 || bytes <= avail) return ST_OK;
    const st_layer_t *big = m->layers[0];
    for (int i = 1; i < m->n_layers; i++)
        if (st_layer_param_floats(m->layers[i]) > st_layer_param_floats(big)) big = m->layers[i];
    char need[32], have[32];
    st_memory_format(need, sizeof need, bytes), st_memory_format(have, sizeof have, avail);
    return st_fail(err, ST_ERR_CONFIG, "%s: the model's %zu parameters need %s with their gradients (%s has %zu), more "
                   "than the %s this machine can still allocate", big->path, m->n_param_floats, need, big->path,
                   st_layer_param_floats(big), have);
}

static st_status_t bind_arenas(st_model_t *m, st_error_t *err) {
    for (int i = 0; i < m->n_layers; i++) {
        m->n_param_floats += st_layer_param_floats(m->layers[i]);
        m->n_buffer_floats += st_layer_buffer_floats(m->layers[i]);
        m->n_tensors += m->layers[i]->n_params;
    }
    if (m->n_layers > 0) ST_TRY(check_arena_size(m, err));
    m->params = st_alloc_arena(m->n_param_floats * sizeof(float), "the parameter arena", err);
    m->grads = st_alloc_arena(m->n_param_floats * sizeof(float), "the gradient arena", err);
    m->buffers = st_alloc(m->n_buffer_floats * sizeof(float), "the buffer arena", err);
    m->tensors = calloc((size_t)m->n_tensors + 1, sizeof(st_tensor_view_t));
    if (!m->params || !m->grads || !m->buffers || !m->tensors)
        return st_fail(err, ST_ERR_NOMEM, "model: cannot allocate %zu parameters", m->n_param_floats);
    size_t po = 0, bo = 0;
    int t = 0;
    for (int i = 0; i < m->n_layers; i++) {
        st_layer_t *L = m->layers[i];
        st_layer_bind(L, m->params, m->grads, m->buffers, po, bo);
        po += st_layer_param_floats(L);
        bo += st_layer_buffer_floats(L);
        for (int p = 0; p < L->n_params; p++) m->tensors[t++] = L->params[p];
    }
    return ST_OK;
}

st_status_t st_model_build(const cJSON *obj, const char *path, st_shape_t in, int n_classes,
                           st_model_t **out, st_error_t *err) {
    return st_model_build_heads(obj, path, in, n_classes, NULL, NULL, out, err);
}

st_status_t st_model_build_heads(const cJSON *obj, const char *path, st_shape_t in, int n_classes,
                                 st_model_classes_fn head_classes, void *ctx, st_model_t **out, st_error_t *err) {
    *out = NULL;
    if (!cJSON_IsObject(obj)) return st_fail(err, ST_ERR_CONFIG, "%s: expected an object with \"layers\"", path);
    static const char *const known[] = {"layers", "heads"};
    ST_TRY(check_keys(obj, path, known, 2, err));
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(obj, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1)
        return st_fail(err, ST_ERR_CONFIG, "%s.layers: expected a non-empty list of layers", path);
    st_model_t *m = calloc(1, sizeof *m);
    if (!m) return st_fail(err, ST_ERR_NOMEM, "model: out of memory");
    m->in_shape = in;
    m->n_classes = n_classes;
    m->head_classes = head_classes, m->head_classes_ctx = ctx;
    char p[ST_PATH_MAX], last[ST_PATH_MAX] = "";
    st_format(p, sizeof p, "%s.layers", path);
    int trunk;
    st_status_t rc = new_value(m, in, err) < 0 ? err->code : ST_OK;
    if (rc == ST_OK) rc = build_chain(m, layers, p, "layers", 0, &trunk, last, err);
    const cJSON *heads = cJSON_GetObjectItemCaseSensitive(obj, "heads");
    if (rc == ST_OK) rc = heads ? build_heads(m, heads, path, trunk, last, err) : add_head(m, "output", trunk, last, path, err);
    if (rc == ST_OK) rc = check_unique_names(m, err);
    if (rc == ST_OK) rc = bind_arenas(m, err);
    if (rc != ST_OK) {
        st_model_free(m);
        return rc;
    }
    *out = m;
    return ST_OK;
}

st_status_t st_model_check_losses(const st_model_t *m, const st_loss_heads_t *losses, st_error_t *err) {
    for (int i = 0; i < losses->n_heads; i++) {
        const st_loss_config_t *l = &losses->heads[i];
        int h = l->head[0] ? st_model_head_find(m, l->head) : m->n_heads == 1 ? 0 : -1;
        if (h < 0) {
            char names[ST_MAX_HEADS * 66] = "";
            for (int k = 0; k < m->n_heads; k++)
                st_format(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", m->heads[k].name);
            if (!l->head[0])
                return st_fail(err, ST_ERR_CONFIG, "loss.head: the model has %d outputs (%s): name the one this loss applies to",
                               m->n_heads, names);
            char p[32];
            if (losses->n_heads > 1) snprintf(p, sizeof p, "loss[%d]", i);
            else snprintf(p, sizeof p, "loss");
            return st_fail(err, ST_ERR_CONFIG, "%s.head: the model has no output named \"%s\" (its outputs: %s)", p, l->head,
                           names);
        }
        ST_TRY(st_loss_check_output(l, m->heads[h].shape, m->heads[h].path, err));
    }
    return ST_OK;
}

void st_model_free(st_model_t *m) {
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) {
        free(m->layers[i]->scratch);
        free(m->layers[i]);
    }
    for (int v = 1; v < m->n_values; v++) free(m->values[v].act);
    for (int v = 0; v < m->n_values; v++) free(m->values[v].grad), free(m->values[v].len_buf);
    free(m->layers), free(m->ops), free(m->values), free(m->tensors), free(m->tmp_grad);
    st_free(m->params), st_free(m->grads), st_free(m->buffers);
    free(m);
}

void st_model_init(st_model_t *m, uint64_t seed) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->kind->init) m->layers[i]->kind->init(m->layers[i], seed);
}

int st_model_reserved(const st_model_t *m) { return m->B_max; }

double st_model_memory_bytes(const st_model_t *m, int B_max, int n_state, const char **largest_path,
                             double *largest_bytes) {
    double B = B_max, f = sizeof(float);
    double total = f * ((double)m->n_param_floats * (2.0 + n_state) + (double)m->n_buffer_floats);
    double widest = 0, most = -1;
    for (int v = 0; v < m->n_values; v++) {
        double numel = (double)st_shape_numel(m->values[v].shape);
        total += f * B * numel * (v > 0 ? 2 : 0); /* activations and their gradients */
        if (numel > widest) widest = numel;
    }
    total += f * B * widest; /* the gradient scratch */
    for (int o = 0; o < m->n_ops; o++) {
        const op_t *op = &m->ops[o];
        if (op->kind != OP_LAYER) continue;
        const st_layer_t *L = op->layer;
        double scratch = f * (B * (double)L->scratch_per_sample + (double)L->scratch_fixed);
        double own = scratch + 2 * f * B * (double)st_shape_numel(m->values[op->out].shape);
        total += scratch;
        if (own > most) {
            most = own;
            if (largest_path) *largest_path = L->path;
            if (largest_bytes) *largest_bytes = own;
        }
    }
    return total;
}

st_status_t st_model_reserve(st_model_t *m, int B_max, int want_input_grad, st_error_t *err) {
    if (B_max <= m->B_max && (!want_input_grad || m->want_input_grad)) return ST_OK;
    m->B_max = B_max;
    m->want_input_grad = want_input_grad;
    long widest = 0;
    for (int v = 0; v < m->n_values; v++) {
        size_t n = (size_t)B_max * (size_t)st_shape_numel(m->values[v].shape);
        if (st_shape_numel(m->values[v].shape) > widest) widest = st_shape_numel(m->values[v].shape);
        if (v > 0) {
            free(m->values[v].act);
            m->values[v].act = st_alloc(n * sizeof(float), "activations", err);
            if (!m->values[v].act) return err->code;
        }
        free(m->values[v].grad);
        m->values[v].grad = NULL;
        free(m->values[v].len_buf);
        m->values[v].len_buf = NULL;
        if (m->values[v].shape.rank == 2) {
            m->values[v].len_buf = st_alloc((size_t)B_max * sizeof(int32_t), "sequence lengths", err);
            if (!m->values[v].len_buf) return err->code;
        }
        if (v > 0 || want_input_grad) {
            m->values[v].grad = st_alloc(n * sizeof(float), "activation gradients", err);
            if (!m->values[v].grad) return err->code;
        }
    }
    for (int i = 0; i < m->n_layers; i++) {
        st_layer_t *L = m->layers[i];
        free(L->scratch);
        size_t n = (size_t)B_max * (size_t)L->scratch_per_sample + (size_t)L->scratch_fixed;
        L->scratch = st_alloc(n * sizeof(float), "layer scratch", err);
        if (!L->scratch) return err->code;
    }
    free(m->tmp_grad);
    m->tmp_grad = st_alloc((size_t)B_max * (size_t)widest * sizeof(float), "gradient scratch", err);
    return m->tmp_grad ? ST_OK : err->code;
}

/* ---- accessors ---- */

int st_model_head_count(const st_model_t *m) { return m->n_heads; }
const st_head_t *st_model_head(const st_model_t *m, int h) { return &m->heads[h]; }
int st_model_head_find(const st_model_t *m, const char *name) {
    for (int h = 0; h < m->n_heads; h++)
        if (strcmp(m->heads[h].name, name) == 0) return h;
    return -1;
}
const float *st_model_head_output(const st_model_t *m, int h) { return m->values[m->heads[h].value].act; }
float *st_model_head_grad(st_model_t *m, int h) { return m->values[m->heads[h].value].grad; }
const float *st_model_input_grad(const st_model_t *m) { return m->values[0].grad; }
float *st_model_params(st_model_t *m) { return m->params; }
float *st_model_grads(st_model_t *m) { return m->grads; }
float *st_model_buffers(st_model_t *m) { return m->buffers; }
size_t st_model_param_floats(const st_model_t *m) { return m->n_param_floats; }
size_t st_model_buffer_floats(const st_model_t *m) { return m->n_buffer_floats; }
void st_model_zero_grads(st_model_t *m) { memset(m->grads, 0, m->n_param_floats * sizeof(float)); }

/* Points every parameter view (each layer's and the model's tensor list) into m->params and
 * m->grads at its offset. */
static void rebind_views(st_model_t *m) {
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i]->n_params; p++) {
            st_tensor_view_t *v = &m->layers[i]->params[p];
            v->data = m->params + v->offset, v->grad = m->grads + v->offset;
        }
    for (int t = 0; t < m->n_tensors; t++)
        m->tensors[t].data = m->params + m->tensors[t].offset, m->tensors[t].grad = m->grads + m->tensors[t].offset;
}

float *st_model_swap_params(st_model_t *m, float *params) {
    float *old = m->params;
    m->params = params;
    rebind_views(m);
    return old;
}

float *st_model_swap_grads(st_model_t *m, float *grads) {
    float *old = m->grads;
    m->grads = grads;
    rebind_views(m);
    return old;
}

const st_tensor_view_t *st_model_tensors(const st_model_t *m, int *n_tensors) {
    *n_tensors = m->n_tensors;
    return m->tensors;
}
int st_model_layer_count(const st_model_t *m) { return m->n_layers; }
st_layer_t *st_model_layer(st_model_t *m, int i) { return m->layers[i]; }
st_shape_t st_model_input_shape(const st_model_t *m) { return m->in_shape; }
int st_model_op_count(const st_model_t *m) { return m->n_ops; }
int st_model_value_count(const st_model_t *m) { return m->n_values; }
st_shape_t st_model_value_shape(const st_model_t *m, int v) { return m->values[v].shape; }

st_model_op_t st_model_op(const st_model_t *m, int i) {
    const op_t *op = &m->ops[i];
    st_model_op_kind_t kind = op->kind == OP_LAYER ? ST_MODEL_OP_LAYER
                              : op->kind == OP_CONCAT ? ST_MODEL_OP_CONCAT : ST_MODEL_OP_ADD;
    return (st_model_op_t){.kind = kind, .layer = op->layer, .in = op->in, .n_in = op->n_in, .out = op->out};
}
