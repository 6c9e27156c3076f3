/* model_run.c — running the model's ops forward and backward, and variable-length sequences.
 *
 * Without lengths every value holds [B, numel(shape)]. With lengths (st_model_enable_lengths and
 * ctx->lengths), the input is [B, positions, C] and each row has a valid length; before each op
 * the model works out the op's output positions (t_run) and every row's output length (the
 * layer kind's out_length, or unchanged), runs the layer with its shapes' T set to the batch's,
 * and writes 0 at every position at or past a row's length in the output — and, in backward, in
 * the output gradient — so each layer sees zeros there (layer.h). A value whose T matches its
 * input's shares the input's length array; others keep their own (len_buf).
 *
 * An input hook (st_model_set_input_hook, NULL by default) may hand a layer a transformed copy
 * of its input in forward: the int8 export's activation fake-quantisation. */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* ---- lengths ---- */

/* x [B, T, C]: rows' positions len[b] .. T-1 set to 0. */
static void zero_tail(float *x, const int32_t *len, int B, int T, int C) {
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        int l = len[b] < 0 ? 0 : len[b] > T ? T : len[b];
        if (l < T) memset(x + ((size_t)b * T + l) * C, 0, sizeof(float) * (size_t)(T - l) * C);
    }
}

static void zero_tail_of(const value_t *v, float *x, int B) {
    if (v->len && v->shape.rank == 2) zero_tail(x, v->len, B, v->t_run, v->shape.d[1]);
}

/* Output positions of L for input positions t (its out_length, clamped to 0 .. the built T;
 * an empty input stays empty). */
static int mapped_length(const st_layer_t *L, int t) {
    if (t <= 0) return 0;
    int o = L->kind->out_length(L, t);
    return o < 0 ? 0 : o > L->out_max.d[0] ? L->out_max.d[0] : o;
}

/* The output value's t_run and lengths from the op's input (before the op's forward): a layer
 * with out_length maps them; other ops keep the input's (merges: the first input's, equal to
 * the others' by check_merges); an output without positions ends them. */
static void plan_lengths(st_model_t *m, const op_t *op, int B) {
    const value_t *in = &m->values[op->in[0]];
    value_t *out = &m->values[op->out];
    const st_layer_t *L = op->kind == OP_LAYER ? op->layer : NULL;
    out->len = NULL;
    if (out->shape.rank != 2) return;
    if (in->shape.rank != 2) {
        out->t_run = out->shape.d[0];
        return;
    }
    if (!L || !L->kind->out_length) {
        out->t_run = in->t_run, out->len = in->len;
        return;
    }
    int t = mapped_length(L, in->t_run);
    out->t_run = t < 1 ? 1 : t;
    if (!in->len) return;
    for (int b = 0; b < B; b++) out->len_buf[b] = mapped_length(L, in->len[b]);
    out->len = out->len_buf;
}

/* Resets every value to the built shapes (a call without lengths). */
static void plan_full(st_model_t *m) {
    for (int v = 0; v < m->n_values; v++) {
        value_t *val = &m->values[v];
        val->len = NULL;
        val->t_run = val->shape.rank == 2 ? val->shape.d[0] : 0;
    }
}

/* The input value for this call: its positions and lengths from ctx. */
static int plan_input(st_model_t *m, const st_run_ctx_t *ctx) {
    value_t *in = &m->values[0];
    if (!m->lengths_enabled || !ctx || !ctx->lengths || in->shape.rank != 2) {
        plan_full(m);
        return 0;
    }
    int T = ctx->positions > 0 && ctx->positions < in->shape.d[0] ? ctx->positions : in->shape.d[0];
    in->t_run = T;
    in->len = (int32_t *)ctx->lengths;
    return 1;
}

/* Checks that lengths can flow through every layer and merge, naming the first that cannot. */
static st_status_t check_lengths_path(const st_model_t *m, st_error_t *err) {
    for (int o = 0; o < m->n_ops; o++) {
        const op_t *op = &m->ops[o];
        const value_t *in = &m->values[op->in[0]], *out = &m->values[op->out];
        if (op->kind != OP_LAYER) continue;
        const st_layer_t *L = op->layer;
        if (in->shape.rank != 2) continue;
        if (L->kind->refuses_lengths)
            return st_fail(err, ST_ERR_CONFIG,
                           "%s (%s) cannot take variable-length sequences (the data has /lengths): reduce time first with global_avg_pool, global_max_pool or an lstm/gru with return_sequences false",
                           L->path, L->kind->type);
        if (out->shape.rank == 2 && !L->kind->out_length && out->shape.d[0] != in->shape.d[0])
            return st_fail(err, ST_ERR_CONFIG, "%s (%s) changes the number of positions but cannot map sequence lengths",
                           L->path, L->kind->type);
    }
    return ST_OK;
}

/* For every merge of sequences, the branches must give each input length the same output
 * length: the lengths of one row would otherwise disagree. Checked for every length 1 .. T. */
static int branch_length(const st_model_t *m, int v, int len);

static int producer_of(const st_model_t *m, int v) {
    for (int o = 0; o < m->n_ops; o++)
        if (m->ops[o].out == v) return o;
    return -1;
}

static int branch_length(const st_model_t *m, int v, int len) {
    if (v == 0) return len;
    const op_t *op = &m->ops[producer_of(m, v)];
    int l = branch_length(m, op->in[0], len);
    if (op->kind == OP_LAYER && op->layer->kind->out_length && m->values[v].shape.rank == 2)
        l = mapped_length(op->layer, l < 0 ? 0 : l);
    return l;
}

static st_status_t check_merges(const st_model_t *m, st_error_t *err) {
    int T = m->values[0].shape.d[0];
    for (int o = 0; o < m->n_ops; o++) {
        const op_t *op = &m->ops[o];
        if (op->kind == OP_LAYER || m->values[op->out].shape.rank != 2) continue;
        for (int len = 1; len <= T; len++)
            for (int i = 1; i < op->n_in; i++) {
                int a = branch_length(m, op->in[0], len), b = branch_length(m, op->in[i], len);
                if (a != b)
                    return st_fail(err, ST_ERR_CONFIG,
                                   "model: the branches merged into value %d give different lengths for an input of %d positions (%d and %d): with variable-length data every branch must keep or map lengths alike (same stride and padding)",
                                   op->out, len, a, b);
            }
    }
    return ST_OK;
}

st_status_t st_model_enable_lengths(st_model_t *m, st_error_t *err) {
    if (m->values[0].shape.rank != 2)
        return st_fail(err, ST_ERR_CONFIG, "model: variable lengths need a sequence input [T, C]");
    ST_TRY(check_lengths_path(m, err));
    ST_TRY(check_merges(m, err));
    m->lengths_enabled = 1;
    return ST_OK;
}

int st_model_lengths_enabled(const st_model_t *m) { return m->lengths_enabled; }

const int32_t *st_model_head_lengths(const st_model_t *m, int h, int *positions) {
    const value_t *v = &m->values[m->heads[h].value];
    if (positions) *positions = v->shape.rank == 2 ? v->t_run : 1;
    return v->len;
}

/* ---- forward ---- */

/* out [rows, sum of widths] = inputs side by side along the last dimension. */
static void concat_forward(st_model_t *m, const op_t *op, int B) {
    value_t *out = &m->values[op->out];
    int rows = B * (out->shape.rank == 2 ? out->t_run : 1), width = st_shape_channels(out->shape);
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        int col = 0;
        for (int i = 0; i < op->n_in; i++) {
            const value_t *in = &m->values[op->in[i]];
            int w = st_shape_channels(in->shape);
            memcpy(out->act + (size_t)r * width + col, in->act + (size_t)r * w, sizeof(float) * w);
            col += w;
        }
    }
}

static void add_forward(st_model_t *m, const op_t *op, int B) {
    value_t *out = &m->values[op->out];
    size_t n = (size_t)B * st_value_numel(out);
    const float *a = m->values[op->in[0]].act;
    #pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n; j++) {
        float s = a[j];
        for (int i = 1; i < op->n_in; i++) s += m->values[op->in[i]].act[j];
        out->act[j] = s;
    }
}

/* L's shapes' T set to the batch's for a call (layer.h); restore_shapes puts the built ones back. */
static void set_run_shapes(st_layer_t *L, const value_t *in, const value_t *out) {
    if (L->in_max.rank == 2) L->in_shape.d[0] = in->t_run;
    if (L->out_max.rank == 2) L->out_shape.d[0] = out->t_run;
}

static void restore_shapes(st_layer_t *L) { L->in_shape = L->in_max, L->out_shape = L->out_max; }

static st_run_ctx_t layer_ctx(const st_run_ctx_t *ctx, const value_t *in, const value_t *out) {
    st_run_ctx_t lc = ctx ? *ctx : (st_run_ctx_t){0};
    lc.len_in = in->len, lc.len_out = out->len;
    return lc;
}

static void op_forward(st_model_t *m, const op_t *op, const st_run_ctx_t *ctx, int B, int lengths) {
    value_t *out = &m->values[op->out];
    if (lengths) plan_lengths(m, op, B);
    if (op->kind == OP_LAYER) {
        const value_t *in = &m->values[op->in[0]];
        st_run_ctx_t lc = layer_ctx(ctx, in, out);
        const float *x = in->act;
        if (m->input_hook) x = m->input_hook(m->input_hook_user, op->layer, x, (size_t)B * (size_t)st_value_numel(in));
        set_run_shapes(op->layer, in, out);
        op->layer->kind->forward(op->layer, &lc, out->act, x, B);
        restore_shapes(op->layer);
    } else if (op->kind == OP_CONCAT) concat_forward(m, op, B);
    else add_forward(m, op, B);
    if (lengths) zero_tail_of(out, out->act, B);
}

void st_model_set_input_hook(st_model_t *m, st_model_input_hook_fn fn, void *user) {
    m->input_hook = fn, m->input_hook_user = user;
}

void st_model_forward(st_model_t *m, const st_run_ctx_t *ctx, const float *x, int B) {
    m->values[0].act = (float *)x;
    int lengths = plan_input(m, ctx);
    for (int o = 0; o < m->n_ops; o++) op_forward(m, &m->ops[o], ctx, B, lengths);
}

/* The layer's check_input on its input batch in [B, numel(in_shape)]; ST_ERR_DATA naming the
 * layer, the row (its global index when ctx has one), the column and the rule when it fails. */
static st_status_t check_layer_input(const st_layer_t *L, const st_run_ctx_t *ctx, const float *in, int B,
                                     st_error_t *err) {
    int row, col;
    float value;
    if (!L->kind->check_input(L, in, B, &row, &col, &value)) return ST_OK;
    char params[96] = "", rule[256] = "rejected", where[48];
    if (L->kind->input_rule) L->kind->input_rule(L, value, params, sizeof params, rule, sizeof rule);
    if (ctx && ctx->sample_index) st_format(where, sizeof where, "row %lld", (long long)ctx->sample_index[row]);
    else st_format(where, sizeof where, "batch row %d", row);
    return st_fail(err, ST_ERR_DATA, "%s (%s%s%s): %s, column %d: %s", L->path, L->kind->type, params[0] ? ", " : "",
                   params, where, col, rule);
}

st_status_t st_model_forward_checked(st_model_t *m, const st_run_ctx_t *ctx, const float *x, int B, st_error_t *err) {
    m->values[0].act = (float *)x;
    int lengths = plan_input(m, ctx);
    for (int o = 0; o < m->n_ops; o++) {
        const op_t *op = &m->ops[o];
        if (op->kind == OP_LAYER && op->layer->kind->check_input)
            ST_TRY(check_layer_input(op->layer, ctx, m->values[op->in[0]].act, B, err));
        op_forward(m, op, ctx, B, lengths);
    }
    return ST_OK;
}

/* ---- backward ---- */

/* The gradient of value v receives g [n]: written if v has one reader, added otherwise. */
static void give_grad(value_t *v, const float *g, size_t n) {
    if (!v->grad) return;
    if (v->n_consumers > 1) {
        #pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) v->grad[j] += g[j];
    } else if (v->grad != g) {
        memcpy(v->grad, g, n * sizeof(float));
    }
}

static void layer_backward(st_model_t *m, const op_t *op, const st_run_ctx_t *ctx, int B) {
    value_t *in = &m->values[op->in[0]], *out = &m->values[op->out];
    float *din = NULL;
    if (in->grad) din = in->n_consumers > 1 ? m->tmp_grad : in->grad;
    st_run_ctx_t lc = layer_ctx(ctx, in, out);
    set_run_shapes(op->layer, in, out);
    op->layer->kind->backward(op->layer, &lc, din, out->grad, in->act, out->act, B);
    restore_shapes(op->layer);
    if (din == m->tmp_grad) give_grad(in, din, (size_t)B * st_value_numel(in));
}

static void concat_backward(st_model_t *m, const op_t *op, int B) {
    const value_t *out = &m->values[op->out];
    int rows = B * (out->shape.rank == 2 ? out->t_run : 1), width = st_shape_channels(out->shape), col = 0;
    for (int i = 0; i < op->n_in; i++) {
        value_t *in = &m->values[op->in[i]];
        int w = st_shape_channels(in->shape);
        if (in->grad) {
            float *dst = in->n_consumers > 1 ? m->tmp_grad : in->grad;
            #pragma omp parallel for schedule(static)
            for (int r = 0; r < rows; r++)
                memcpy(dst + (size_t)r * w, out->grad + (size_t)r * width + col, sizeof(float) * w);
            if (dst == m->tmp_grad) give_grad(in, dst, (size_t)rows * w);
        }
        col += w;
    }
}

void st_model_backward(st_model_t *m, const st_run_ctx_t *ctx, int B) {
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].n_consumers > 1 && m->values[v].grad)
            memset(m->values[v].grad, 0, (size_t)B * st_value_numel(&m->values[v]) * sizeof(float));
    for (int o = m->n_ops - 1; o >= 0; o--) {
        const op_t *op = &m->ops[o];
        value_t *out = &m->values[op->out];
        zero_tail_of(out, out->grad, B);
        if (op->kind == OP_LAYER) layer_backward(m, op, ctx, B);
        else if (op->kind == OP_CONCAT) concat_backward(m, op, B);
        else
            for (int i = 0; i < op->n_in; i++) give_grad(&m->values[op->in[i]], out->grad, (size_t)B * st_value_numel(out));
    }
    if (m->values[0].grad) zero_tail_of(&m->values[0], m->values[0].grad, B);
}
