/* model_summary.c — see model_summary.h: the rows of a model's summary from its ops, the kinds'
 * FLOP rules and the optimizer's groups, printed as a table or as JSON. */
#include "model_summary.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "memory.h"
#include "model_internal.h"

/* Row of a layer op: its counts, FLOPs (training leaves out din when it reads the model's
 * input, value 0) and activation bytes. lr_mult [n_params] of its tensors. */
static void layer_row(st_summary_row_t *r, const op_t *op, const double *lr_mult, int B) {
    const st_layer_t *L = op->layer;
    snprintf(r->path, sizeof r->path, "%s", L->path);
    snprintf(r->name, sizeof r->name, "%s", L->name);
    snprintf(r->kind, sizeof r->kind, "%s", L->kind->type);
    r->out_shape = L->out_max;
    r->params = st_layer_param_floats(L), r->buffers = st_layer_buffer_floats(L);
    for (int p = 0; p < L->n_params; p++)
        if (lr_mult[p] > 0) r->trainable += L->params[p].n;
    r->has_flops = L->kind->flops != NULL;
    if (r->has_flops) {
        st_layer_flops_t f = {0, 0, 0};
        L->kind->flops(L, &f);
        r->flops_forward = f.forward;
        r->flops_train = f.forward + f.backward_rest + (op->in[0] != 0 ? f.backward_input : 0);
    }
    /* output [B, numel] + scratch [B, per sample] + the fixed scratch, float32 */
    r->activation_bytes = 4.0 * ((double)B * ((double)st_shape_numel(L->out_max) + (double)L->scratch_per_sample) +
                                 (double)L->scratch_fixed);
}

/* Row of a merge: add sums n inputs ((n − 1) per output element), concat copies (0). */
static void merge_row(st_summary_row_t *r, const st_model_t *m, const op_t *op, int B) {
    snprintf(r->path, sizeof r->path, "%s", op->path);
    snprintf(r->kind, sizeof r->kind, "%s", op->kind == OP_ADD ? "add" : "concat");
    r->out_shape = m->values[op->out].shape;
    double n = (double)st_shape_numel(r->out_shape);
    r->has_flops = 1;
    r->flops_forward = r->flops_train = op->kind == OP_ADD ? (op->n_in - 1) * n : 0;
    r->activation_bytes = 4.0 * B * n;
}

static void add_totals(st_summary_t *s, const st_summary_row_t *r) {
    s->params += r->params, s->trainable += r->trainable, s->buffers += r->buffers;
    s->activation_bytes += r->activation_bytes;
    if (!r->has_flops) s->flops_unknown++;
    else s->flops_forward += r->flops_forward, s->flops_train += r->flops_train;
}

st_status_t st_summary_make(st_summary_t *s, st_model_t *m, const st_optim_config_t *optim, int micro_batch,
                            st_error_t *err) {
    memset(s, 0, sizeof *s);
    st_optim_t *opt = NULL;
    ST_TRY(st_optim_create(optim, m->tensors, m->n_tensors, m->n_param_floats, &opt, err));
    s->rows = calloc((size_t)m->n_ops + 1, sizeof *s->rows);
    double *lr_mult = calloc((size_t)m->n_tensors + 1, sizeof *lr_mult);
    if (!s->rows || !lr_mult) {
        free(lr_mult), st_optim_free(opt), st_summary_free(s);
        return st_fail(err, ST_ERR_NOMEM, "model summary: out of memory");
    }
    for (int t = 0; t < m->n_tensors; t++) {
        int group;
        double wd;
        st_optim_tensor_group(opt, t, &group, &lr_mult[t], &wd);
    }
    static const char *const names[] = {[ST_OPTIM_SGD] = "sgd", [ST_OPTIM_ADAM] = "adam", [ST_OPTIM_ADAMW] = "adamw"};
    snprintf(s->optimizer, sizeof s->optimizer, "%s", names[optim->type]);
    s->n_state = st_optim_n_state(opt);
    st_optim_free(opt);
    s->in_shape = m->in_shape, s->micro_batch = micro_batch;
    int t = 0; /* the first tensor of the next layer (tensors are in layer order) */
    for (int o = 0; o < m->n_ops; o++) {
        st_summary_row_t *r = &s->rows[s->n_rows];
        r->index = s->n_rows++;
        if (m->ops[o].kind == OP_LAYER) {
            layer_row(r, &m->ops[o], lr_mult + t, micro_batch);
            t += m->ops[o].layer->n_params;
        } else {
            merge_row(r, m, &m->ops[o], micro_batch);
        }
        add_totals(s, r);
    }
    free(lr_mult);
    s->optimizer_bytes = 4.0 * s->n_state * (double)s->params;
    s->training_bytes = st_model_memory_bytes(m, micro_batch, s->n_state, NULL, NULL);
    return ST_OK;
}

void st_summary_free(st_summary_t *s) {
    free(s->rows);
    s->rows = NULL, s->n_rows = 0;
}

/* ---- text ---- */

/* "1.23 M" (K, M, G, T: powers of 1000); "?" without a rule. */
static void flops_str(char *buf, int size, int known, double v) {
    static const char *const unit[] = {"", " K", " M", " G", " T"};
    int k = 0;
    while (k < 4 && v >= 1000) v /= 1000, k++;
    if (!known) snprintf(buf, size, "?");
    else if (k == 0) snprintf(buf, size, "%.0f", v);
    else snprintf(buf, size, "%.3g%s", v, unit[k]);
}

void st_summary_print(const st_summary_t *s, FILE *out) {
    char a[48], b[48], c[48], d[48];
    st_shape_str(s->in_shape, a, sizeof a);
    if (s->source[0]) fprintf(out, "%s\n", s->source);
    if (s->shape_from[0]) fprintf(out, "input shape from %s\n", s->shape_from);
    fprintf(out, "input %s per sample; micro-batch %d; optimizer %s (%d state array%s per parameter)\n\n", a,
            s->micro_batch, s->optimizer, s->n_state, s->n_state == 1 ? "" : "s");
    fprintf(out, "%3s  %-34s %-16s %-12s %10s %10s %11s %11s %10s\n", "#", "layer", "kind", "output", "params",
            "trainable", "fwd FLOPs", "train FLOPs", "act/batch");
    for (int i = 0; i < s->n_rows; i++) {
        const st_summary_row_t *r = &s->rows[i];
        st_shape_str(r->out_shape, a, sizeof a);
        flops_str(b, sizeof b, r->has_flops, r->flops_forward);
        flops_str(c, sizeof c, r->has_flops, r->flops_train);
        st_memory_format(d, sizeof d, r->activation_bytes);
        fprintf(out, "%3d  %-34s %-16s %-12s %10zu %10zu %11s %11s %10s\n", r->index, r->path, r->kind, a, r->params,
                r->trainable, b, c, d);
    }
    flops_str(b, sizeof b, 1, s->flops_forward);
    flops_str(c, sizeof c, 1, s->flops_train);
    st_memory_format(d, sizeof d, s->activation_bytes);
    fprintf(out, "%3s  %-34s %-16s %-12s %10zu %10zu %11s %11s %10s\n", "", "total", "", "", s->params, s->trainable, b,
            c, d);
    if (s->flops_unknown)
        fprintf(out, "FLOPs: %d layer%s without a FLOP rule (\"?\") left out of the totals\n", s->flops_unknown,
                s->flops_unknown == 1 ? "" : "s");
    st_memory_format(a, sizeof a, 4.0 * (double)s->params);
    st_memory_format(b, sizeof b, s->optimizer_bytes);
    st_memory_format(c, sizeof c, s->training_bytes);
    fprintf(out, "\nparameters %zu (%s), trainable %zu; buffers %zu (running statistics: not parameters)\n", s->params,
            a, s->trainable, s->buffers);
    fprintf(out, "optimizer state %s (%d x parameters); training memory per rank for a micro-batch: %s\n", b,
            s->n_state, c);
}

/* ---- JSON ---- */

static cJSON *shape_json(st_shape_t s) {
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < s.rank; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s.d[k]));
    return a;
}

static void add_flops(cJSON *o, const char *key, int known, double v) {
    if (known) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *row_json(const st_summary_row_t *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "index", r->index);
    cJSON_AddStringToObject(o, "path", r->path);
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "kind", r->kind);
    cJSON_AddItemToObject(o, "output_shape", shape_json(r->out_shape));
    cJSON_AddNumberToObject(o, "params", (double)r->params);
    cJSON_AddNumberToObject(o, "trainable", (double)r->trainable);
    cJSON_AddNumberToObject(o, "buffers", (double)r->buffers);
    add_flops(o, "flops_forward", r->has_flops, r->flops_forward);
    add_flops(o, "flops_train", r->has_flops, r->flops_train);
    cJSON_AddNumberToObject(o, "activation_bytes", r->activation_bytes);
    return o;
}

static cJSON *totals_json(const st_summary_t *s) {
    cJSON *t = cJSON_CreateObject();
    if (!t) return NULL;
    cJSON_AddNumberToObject(t, "params", (double)s->params);
    cJSON_AddNumberToObject(t, "trainable", (double)s->trainable);
    cJSON_AddNumberToObject(t, "buffers", (double)s->buffers);
    cJSON_AddNumberToObject(t, "flops_forward", s->flops_forward);
    cJSON_AddNumberToObject(t, "flops_train", s->flops_train);
    cJSON_AddNumberToObject(t, "flops_unknown_layers", s->flops_unknown);
    cJSON_AddNumberToObject(t, "activation_bytes", s->activation_bytes);
    cJSON_AddNumberToObject(t, "param_bytes", 4.0 * (double)s->params);
    cJSON_AddNumberToObject(t, "optimizer_bytes", s->optimizer_bytes);
    cJSON_AddNumberToObject(t, "training_bytes", s->training_bytes);
    return t;
}

char *st_summary_json(const st_summary_t *s) {
    cJSON *root = cJSON_CreateObject(), *layers = cJSON_CreateArray(), *opt = cJSON_CreateObject();
    if (!root || !layers || !opt) {
        cJSON_Delete(root), cJSON_Delete(layers), cJSON_Delete(opt);
        return NULL;
    }
    cJSON_AddStringToObject(root, "source", s->source);
    cJSON_AddStringToObject(root, "shape_from", s->shape_from);
    cJSON_AddItemToObject(root, "input_shape", shape_json(s->in_shape));
    cJSON_AddNumberToObject(root, "micro_batch", s->micro_batch);
    cJSON_AddStringToObject(opt, "type", s->optimizer);
    cJSON_AddNumberToObject(opt, "state_arrays", s->n_state);
    cJSON_AddNumberToObject(opt, "state_bytes", s->optimizer_bytes);
    cJSON_AddItemToObject(root, "optimizer", opt);
    for (int i = 0; i < s->n_rows; i++) cJSON_AddItemToArray(layers, row_json(&s->rows[i]));
    cJSON_AddItemToObject(root, "layers", layers);
    cJSON_AddItemToObject(root, "totals", totals_json(s));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}
