/* export_onnx.c — `strata export --format onnx` (export_onnx.h): the checkpoint's model rebuilt
 * for the dataset's sample shape, its graph walked op by op (layers through
 * jobs/export_layers.c, parallel blocks' Concat and residual Add here), the preprocessing in
 * front and each head's output function behind, the metadata, and optionally a reference CSV of
 * strata's own outputs on a few rows for checking an ONNX runtime against. A dataset with
 * /lengths adds the `sequence_lens` input (jobs/export_lengths.h) and per-position heads'
 * `<head>_lens` outputs; the reference rows then run strata's forward with their lengths. */
#include "jobs/export_onnx.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/checkpoint.h"
#include "jobs/ckpt_heads.h"
#include "jobs/ckpt_model.h"
#include "jobs/config.h"
#include "jobs/export_layers.h"
#include "jobs/export_lengths.h"
#include "jobs/export_quant.h"
#include "sharding/dataset.h"

typedef struct {
    const st_export_request_t *req;
    st_ckpt_t ck;
    st_run_config_t cfg;
    int have_cfg;
    st_dataset_t ds;
    int have_ds;
    st_model_t *model;
    st_onnx_t *g;
    int f16;                    /* --precision fp16: float16 inside, Cast at the input and outputs */
    int i8;                     /* --precision int8: Gemm/MatMul/Conv weights int8 per output channel,
                                   their inputs through calibrated uint8 QDQ pairs */
    st_quant_acts_t acts;       /* int8: the quantised layers' inputs (ranges, grids, the hook) */
    int n_qdq;                  /* int8: QDQ pairs written */
    int n_i8;                   /* int8: weights stored as int8 (with and without a QDQ pair) */
} export_t;

static int classes_of(const char *head, void *ctx) {
    const st_ckpt_t *ck = ctx;
    int k = st_ckpt_head_width(ck, head);
    return k > 0 ? k : ck->n_classes;
}

/* The checkpoint's table entry for model head h, or NULL (a checkpoint without tables: its one
 * head is a class head over the root class names). */
static const st_ckpt_head_t *head_entry(const export_t *e, int h) {
    const char *name = st_model_head(e->model, h)->name;
    for (int k = 0; k < e->ck.n_heads; k++)
        if (strcmp(e->ck.heads[k].head, name) == 0 || (!e->ck.heads[k].head[0] && st_model_head_count(e->model) == 1))
            return &e->ck.heads[k];
    return NULL;
}

/* ST_TARGET_* of head h; -1 when no loss reads it. */
static int head_kind(const export_t *e, int h) {
    const st_ckpt_head_t *t = head_entry(e, h);
    if (t) return (int)t->kind;
    return e->ck.n_heads == 0 ? ST_TARGET_CLASS : -1;
}

/* The checkpoint and the model for the dataset's sample shape, parameters restored. */
static st_status_t load(export_t *e, st_error_t *err) {
    ST_TRY(st_ckpt_read(e->req->checkpoint, &e->ck, err));
    ST_TRY(st_config_from_json(e->ck.config_json, e->ck.path, NULL, 0, &e->cfg, err));
    e->have_cfg = 1;
    const char *data = e->req->data ? e->req->data : e->cfg.data.path;
    st_status_t rc = st_dataset_open(data, &e->ds, err);
    if (rc != ST_OK) {
        if (!e->req->data) st_error_prefix(err, "the dataset named by %s's config (give another with --data)", e->ck.path);
        return rc;
    }
    e->have_ds = 1;
    ST_TRY(st_model_build_heads(e->cfg.model, "model", e->ds.shape, classes_of("", &e->ck), classes_of, &e->ck, &e->model,
                                err));
    if (e->ds.has_lengths && st_model_enable_lengths(e->model, err) != ST_OK) { /* names the layer that cannot */
        st_error_prefix(err, "%s has /lengths (exported with a sequence_lens input)", e->ds.path);
        return err->code;
    }
    if (e->i8 && st_quant_acts_init(&e->acts, e->model))
        return st_fail(err, ST_ERR_NOMEM, "int8 activation ranges");
    if (st_model_param_floats(e->model) != e->ck.n_params)
        return st_fail(err, ST_ERR_DATA, "%s: the model of %s has %zu parameters for its samples, but the checkpoint holds %zu",
                       e->ds.path, e->ck.path, st_model_param_floats(e->model), e->ck.n_params);
    return st_ckpt_restore(&e->ck, st_model_params(e->model), st_model_param_floats(e->model),
                           st_model_buffers(e->model), st_model_buffer_floats(e->model), NULL, NULL, err);
}

/* input -> ÷255 (scale_pixels) -> (x − mean) / std (the checkpoint's statistics, broadcast over
 * [D], over C of [T, C], per position [T, C], or one value). */
static st_onnx_val_t preprocess(export_t *e) {
    st_shape_t s = e->ds.shape;
    int64_t dims[3] = {-1, s.d[0], s.d[1]};
    st_onnx_input(e->g, "input", dims, s.rank + 1);
    st_onnx_val_t v = {.name = "input", .rank = s.rank, .T = s.rank == 2 ? s.d[0] : 0, .C = st_shape_channels(s)};
    int64_t one = 1;
    if (s.rank == 2) { /* a no-op for [N, T, C]; lets a runtime hand in [N, T, C, 1] (OpenCV's Python binding makes a
                          3-d array an image with C channels, so its users pass a 4-d blob) */
        int64_t shape[3] = {-1, s.d[0], s.d[1]};
        v.name = st_onnx_op2(e->g, "Reshape", v.name, st_onnx_init_i64(e->g, "input_shape", shape, 3), "input_ntc");
    }
    if (e->f16) { /* callers feed float32; everything after is float16 */
        v.name = st_onnx_op1(e->g, "Cast", v.name, "input_f16");
        st_onnx_attr_i(e->g, "to", ST_ONNX_FLOAT16);
    }
    if (e->cfg.data.scale_pixels) {
        float k = 255.0f;
        v.name = st_onnx_op2(e->g, "Div", v.name, st_onnx_init_f32(e->g, "pixel_scale", &k, &one, 1), "scaled");
    }
    if (!e->ck.std_mean) return v;
    const int F = e->ck.n_features;
    float *mean = malloc(sizeof(float) * (size_t)F), *std = malloc(sizeof(float) * (size_t)F);
    if (!mean || !std) {
        free(mean), free(std);
        return (st_onnx_val_t){.name = NULL};
    }
    /* × 1/std rather than ÷ std: OpenCV 4.6's dnn cannot divide by a constant vector */
    for (int f = 0; f < F; f++) mean[f] = (float)e->ck.std_mean[f], std[f] = (float)(1.0 / e->ck.std_std[f]);
    int64_t sd[2] = {F, 0};
    int rank = 1;
    if (s.rank == 2 && F == s.d[0] * s.d[1] && F != s.d[1]) sd[0] = s.d[0], sd[1] = s.d[1], rank = 2;
    else if (s.rank == 2 && F == s.d[1] && F > 1) /* per channel: [C, 1] on [N, C, T] (what OpenCV's dnn broadcasts) */
        v = st_export_nct(e->g, v), sd[1] = 1, rank = 2;
    v.name = st_onnx_op2(e->g, "Sub", v.name, st_onnx_init_f32(e->g, "standardize_mean", mean, sd, rank), "centred");
    v.name = st_onnx_op2(e->g, "Mul", v.name, st_onnx_init_f32(e->g, "standardize_inv_std", std, sd, rank), "standardized");
    free(mean), free(std);
    return v;
}

/* The preprocessed input; with /lengths also the `sequence_lens` input, the value's lengths
 * and 0 past them (whatever the caller's padding holds, NaN included: a Where, not a Mul). */
static st_onnx_val_t input_value(export_t *e) {
    st_onnx_val_t v = preprocess(e);
    if (!v.name || !e->ds.has_lengths) return v;
    v.len = st_export_lengths_input(e->g, v.T);
    v.name = st_export_fill(e->g, v, 0.0f);
    st_onnx_meta(e->g, "sequence_lens", "int32 [N]: the valid steps of each input row (as /lengths, 1..T); the steps past "
                 "them are ignored");
    return v;
}

/* Concat (last axis) or Add of an op's inputs, all as [N, T, C]. */
static st_onnx_val_t merge(export_t *e, const st_model_op_t *op, const st_onnx_val_t *vals) {
    const char *in[ST_MODEL_MAX_MERGE];
    st_onnx_val_t v = vals[op->in[0]];
    for (int i = 0; i < op->n_in; i++) in[i] = st_export_ntc(e->g, vals[op->in[i]]).name;
    v.nct = 0;
    v.name = st_onnx_node(e->g, op->kind == ST_MODEL_OP_CONCAT ? "Concat" : "Add", in, op->n_in,
                          op->kind == ST_MODEL_OP_CONCAT ? "concat" : "add", 1, NULL);
    if (op->kind == ST_MODEL_OP_CONCAT) st_onnx_attr_i(e->g, "axis", -1);
    v.C = st_shape_channels(st_model_value_shape(e->model, op->out));
    return v;
}

/* Head h's output function (Softmax / Sigmoid / the target standardisation undone) and the
 * graph output named after the head. */
static void head_output(export_t *e, int h, st_onnx_val_t v) {
    const st_head_t *hd = st_model_head(e->model, h);
    const st_ckpt_head_t *t = head_entry(e, h);
    int kind = head_kind(e, h);
    v = st_export_ntc(e->g, v);
    const char *x = v.name;
    if (kind == ST_TARGET_CLASS) {
        x = st_onnx_op1(e->g, "Softmax", x, "probabilities");
        st_onnx_attr_i(e->g, "axis", -1);
    } else if (kind == ST_TARGET_MULTILABEL) {
        x = st_onnx_op1(e->g, "Sigmoid", x, "probabilities");
    } else if (kind == ST_TARGET_REGRESSION && t && t->standardize_targets && t->t_mean) {
        int64_t w = t->width;
        float *m = malloc(sizeof(float) * (size_t)w), *s = malloc(sizeof(float) * (size_t)w);
        if (m && s) {
            for (int k = 0; k < w; k++) m[k] = (float)t->t_mean[k], s[k] = (float)t->t_std[k];
            x = st_onnx_op2(e->g, "Mul", x, st_onnx_init_f32(e->g, "target_std", s, &w, 1), "unstandardized");
            x = st_onnx_op2(e->g, "Add", x, st_onnx_init_f32(e->g, "target_mean", m, &w, 1), "unstandardized");
        }
        free(m), free(s);
    }
    if (e->f16) { /* back to float32 for the caller */
        x = st_onnx_op1(e->g, "Cast", x, "output_f32");
        st_onnx_attr_i(e->g, "to", ST_ONNX_FLOAT);
    }
    const char *out = st_onnx_op1(e->g, "Identity", x, hd->name);
    int64_t dims[3] = {-1, hd->shape.d[0], hd->shape.d[1]};
    st_onnx_output(e->g, out, dims, hd->shape.rank + 1);
    if (v.rank == 2 && v.len) { /* a per-position head of a variable-length model: its rows' lengths */
        char name[160];
        snprintf(name, sizeof name, "%s_lens", hd->name);
        st_onnx_output_typed(e->g, st_onnx_op1(e->g, "Identity", st_export_lengths_i32(e->g, v.len), name), ST_ONNX_INT32,
                             dims, 1);
        char key[176];
        snprintf(key, sizeof key, "%s.lengths", hd->name);
        st_onnx_meta(e->g, key, name); /* the output holding its valid positions */
    }
}

/* metadata_props: the checkpoint, the input layout, each output's kind and names (JSON). */
static void metadata(export_t *e) {
    static const char *const kinds[] = {"class", "multilabel", "regression", "sequence"};
    int first_class = 1;
    st_onnx_meta(e->g, "strata_checkpoint", e->ck.path);
    st_onnx_meta(e->g, "input_layout", e->ds.shape.rank == 2 ? "[N, T, C] raw rows (strata's layout)" : "[N, D] raw rows");
    for (int h = 0; h < st_model_head_count(e->model); h++) {
        const st_head_t *hd = st_model_head(e->model, h);
        const st_ckpt_head_t *t = head_entry(e, h);
        int kind = head_kind(e, h);
        char key[96];
        snprintf(key, sizeof key, "%s.kind", hd->name);
        st_onnx_meta(e->g, key, kind >= 0 ? kinds[kind] : "none");
        cJSON *names = cJSON_CreateArray();
        int n = t ? t->width : e->ck.n_classes;
        for (int k = 0; names && kind >= 0 && k < n; k++)
            cJSON_AddItemToArray(names, cJSON_CreateString(t ? t->names[k] : e->ck.class_names[k]));
        char *txt = names ? cJSON_PrintUnformatted(names) : NULL;
        snprintf(key, sizeof key, "%s.names", hd->name);
        if (txt) st_onnx_meta(e->g, key, txt);
        if (txt && kind == ST_TARGET_CLASS && first_class) st_onnx_meta(e->g, "class_names", txt), first_class = 0;
        free(txt);
        cJSON_Delete(names);
    }
}

/* x -> QuantizeLinear -> DequantizeLinear with layer a's calibrated grid (a scalar float32 scale,
 * a scalar uint8 zero point), in the layout its op reads (Conv: [N, C, T]; MatMul: [N, T, C]), so
 * the DequantizeLinear feeds the op directly (the QDQ pattern runtimes fuse into integer ops). */
static st_onnx_val_t qdq(export_t *e, const st_quant_act_t *a, st_onnx_val_t x) {
    if (x.rank == 2) x = strcmp(a->op, "Conv") == 0 ? st_export_nct(e->g, x) : st_export_ntc(e->g, x);
    int64_t scalar = 0;
    char hint[128];
    snprintf(hint, sizeof hint, "%s.input_scale", a->layer->name);
    const char *scale = st_onnx_init_f32(e->g, hint, &a->scale, &scalar, 0);
    snprintf(hint, sizeof hint, "%s.input_zero_point", a->layer->name);
    const char *in[3] = {x.name, scale, st_onnx_init_raw(e->g, hint, ST_ONNX_UINT8, &a->zero, 1, &scalar, 0)};
    snprintf(hint, sizeof hint, "%s.input_quantized", a->layer->name);
    in[0] = st_onnx_node(e->g, "QuantizeLinear", in, 3, hint, 1, NULL);
    snprintf(hint, sizeof hint, "%s.input_dequantized", a->layer->name);
    x.name = st_onnx_node(e->g, "DequantizeLinear", in, 3, hint, 1, NULL);
    e->n_qdq++;
    return x;
}

static st_status_t build_graph(export_t *e, st_error_t *err) {
    st_model_t *m = e->model;
    st_onnx_val_t *vals = calloc((size_t)st_model_value_count(m), sizeof *vals);
    if (!vals || !(e->g = st_onnx_new(st_model_head(m, 0)->name))) return free(vals), st_fail(err, ST_ERR_NOMEM, "the ONNX graph");
    vals[0] = input_value(e);
    st_status_t rc = vals[0].name ? ST_OK : st_fail(err, ST_ERR_NOMEM, "the ONNX graph");
    for (int i = 0; rc == ST_OK && i < st_model_op_count(m); i++) {
        const st_model_op_t op = st_model_op(m, i);
        const st_quant_act_t *a = e->i8 && op.layer ? st_quant_acts_find(&e->acts, op.layer) : NULL;
        if (op.layer) rc = st_export_layer(e->g, op.layer, a ? qdq(e, a, vals[op.in[0]]) : vals[op.in[0]], &vals[op.out], err);
        else vals[op.out] = merge(e, &op, vals);
    }
    for (int h = 0; rc == ST_OK && h < st_model_head_count(m); h++) head_output(e, h, vals[st_model_head(m, h)->value]);
    if (rc == ST_OK) metadata(e);
    if (rc == ST_OK && e->f16) st_onnx_inits_to_f16(e->g), st_onnx_meta(e->g, "precision", "fp16");
    if (rc == ST_OK && e->i8) {
        char rows[32];
        snprintf(rows, sizeof rows, "%lld", (long long)e->acts.rows);
        e->n_i8 = st_onnx_weights_to_i8(e->g);
        st_onnx_meta(e->g, "precision", "int8 QDQ (Gemm, MatMul, Conv: weights int8 per output channel, inputs uint8 per tensor; "
                     "LSTM/GRU W and R per gate row, ConvTranspose per output channel, embedding tables per id: weights only)");
        st_onnx_meta(e->g, "calibration_rows", rows);
    }
    free(vals);
    return rc;
}

/* Row r of head h's output after its output function (as the graph's head_output). */
static void head_post(const export_t *e, int h, float *y, long n) {
    int kind = head_kind(e, h);
    const st_ckpt_head_t *t = head_entry(e, h);
    if (kind == ST_TARGET_CLASS) {
        long K = st_shape_channels(st_model_head(e->model, h)->shape);
        for (long p = 0; p < n; p += K) {
            double mx = y[p], s = 0;
            for (long k = 1; k < K; k++) mx = y[p + k] > mx ? y[p + k] : mx;
            for (long k = 0; k < K; k++) s += exp(y[p + k] - mx);
            for (long k = 0; k < K; k++) y[p + k] = (float)(exp(y[p + k] - mx) / s);
        }
    } else if (kind == ST_TARGET_MULTILABEL) {
        for (long k = 0; k < n; k++) y[k] = (float)(1.0 / (1.0 + exp(-(double)y[k])));
    } else if (kind == ST_TARGET_REGRESSION && t && t->standardize_targets && t->t_mean) {
        for (long k = 0; k < n; k++) y[k] = (float)(y[k] * t->t_std[k % t->width] + t->t_mean[k % t->width]);
    }
}

/* x[n, rf] (raw rows, overwritten) through the scaling, standardisation and forward of
 * `strata eval` (st_ckpt_prepare_rows); len [n] the rows' lengths, or NULL without /lengths
 * (with them, each row's steps past its length are set to 0 first, as eval's and predict's
 * readers do). The heads' raw outputs are then st_model_head_output's. */
static void forward(export_t *e, float *x, const int32_t *len, int64_t n) {
    long rf = st_shape_numel(e->ds.shape);
    int T = e->ds.shape.d[0], C = st_shape_channels(e->ds.shape);
    for (int64_t r = 0; len && r < n; r++)
        for (long k = (long)len[r] * C; k < (long)T * C; k++) x[r * rf + k] = 0.0f;
    st_ckpt_prepare_rows(x, len, n, &e->ck, &e->cfg, e->ds.shape);
    st_run_ctx_t ctx = {.lengths = len, .positions = len ? T : 0};
    st_model_forward(e->model, &ctx, x, (int)n);
}

/* The parameters as the graph holds them: fp16, all of them and the buffers (batchnorm's running
 * statistics) rounded to float16; int8, the weights that become Gemm / MatMul (a dense layer) and
 * Conv (conv1d) weights, [out channels, ...], quantised per row and dequantised (q · scale), and
 * from now on those layers' inputs fake-quantised on their calibrated grids (the QDQ pairs); and
 * the weight-only ones (LSTM/GRU W and R, ConvTranspose, embedding tables) quantised in the
 * layout the graph uses (st_quant_weight_only), their inputs left float. */
static st_status_t round_model(export_t *e, st_error_t *err) {
    if (e->f16) {
        st_quant_round_f16(st_model_params(e->model), st_model_param_floats(e->model));
        st_quant_round_f16(st_model_buffers(e->model), st_model_buffer_floats(e->model));
        return ST_OK;
    }
    for (int i = 0; i < e->acts.n; i++) {
        st_layer_t *L = (st_layer_t *)e->acts.acts[i].layer;
        if (st_quant_i8_rows(L->params[0].data, st_shape_channels(L->out_shape), (long)L->params[0].n))
            return st_fail(err, ST_ERR_NOMEM, "%s: int8 weights", L->path);
    }
    for (int l = 0; l < st_model_layer_count(e->model); l++) {
        st_layer_t *L = st_model_layer(e->model, l);
        long outer, ch, inner;
        for (int p = 0; p < L->n_params; p++)
            if (st_quant_weight_only(L, p, &outer, &ch, &inner) && st_quant_i8_axis(L->params[p].data, outer, ch, inner))
                return st_fail(err, ST_ERR_NOMEM, "%s: int8 weights", L->path);
    }
    e->acts.mode = ST_QUANT_FAKE;
    return ST_OK;
}

/* int8: the range of each quantised layer's input over the first req->calibration_rows rows of
 * the training split (/split == 0; every row when the file has no /split), through the eval-mode
 * forward of the fp32 model; asking for more rows than there are takes them all (said in the
 * report). Then each input's uint8 grid, and the hook stays on the model (off until round_model). */
static st_status_t calibrate(export_t *e, st_error_t *err) {
    const int64_t N = e->ds.n, B = 256, want = e->req->calibration_rows > 0 ? e->req->calibration_rows : 512;
    long rf = st_shape_numel(e->ds.shape);
    uint8_t *split = calloc((size_t)N, 1);
    float *x = malloc(sizeof(float) * (size_t)(B * rf));
    int32_t *len = e->ds.has_lengths ? malloc(sizeof(int32_t) * (size_t)B) : NULL; /* the chosen rows' lengths */
    st_status_t rc = split && x && (len || !e->ds.has_lengths) ? ST_OK : st_fail(err, ST_ERR_NOMEM, "calibration rows");
    if (rc == ST_OK && e->ds.has_split) rc = st_dataset_read_split(&e->ds, split, err);
    if (rc == ST_OK) rc = st_model_reserve(e->model, (int)B, 0, err);
    st_model_set_input_hook(e->model, st_quant_acts_hook, &e->acts);
    e->acts.mode = ST_QUANT_CALIBRATE;
    for (int64_t r0 = 0; rc == ST_OK && r0 < N && e->acts.rows < want; r0 += B) {
        int64_t n = N - r0 < B ? N - r0 : B, m = 0;
        rc = st_dataset_read_rows(&e->ds, r0, n, x, MPI_COMM_NULL, err);
        if (rc == ST_OK && len) rc = st_dataset_read_lengths(&e->ds, r0, n, len, MPI_COMM_NULL, err);
        for (int64_t r = 0; rc == ST_OK && r < n && e->acts.rows + m < want; r++) /* training rows, packed to the front */
            if (split[r0 + r] == ST_SPLIT_TRAIN) {
                memmove(x + m * rf, x + r * rf, sizeof(float) * (size_t)rf);
                if (len) len[m] = len[r];
                m++;
            }
        if (rc == ST_OK && m) forward(e, x, len, m), e->acts.rows += m;
    }
    e->acts.mode = ST_QUANT_OFF;
    if (rc == ST_OK && e->acts.rows == 0)
        rc = st_fail(err, ST_ERR_DATA, "%s: no training rows (/split == 0) to calibrate the int8 activations on", e->ds.path);
    if (rc == ST_OK) st_quant_acts_finish(&e->acts);
    int gemm = 0, matmul = 0, conv = 0;
    for (int i = 0; i < e->acts.n; i++)
        *(strcmp(e->acts.acts[i].op, "Gemm") == 0 ? &gemm : strcmp(e->acts.acts[i].op, "MatMul") == 0 ? &matmul : &conv) += 1;
    if (rc == ST_OK && e->req->out)
        fprintf(e->req->out, "int8 calibration: %lld rows of %s (%s%s); the inputs of %d Gemm, %d MatMul, %d Conv\n",
                (long long)e->acts.rows, e->ds.path, e->ds.has_split ? "the training split" : "all rows: no /split",
                e->acts.rows < want ? ", all there are" : "", gemm, matmul, conv);
    free(split), free(x), free(len);
    return rc;
}

/* The accuracy of the first head (a class head over the dataset's /y) on the test split (every
 * row when the file has no /split), fp32, then with the parameters as the graph holds them (left
 * so, for the reference CSV); printed with the per-class change. Nothing for other heads. */
static st_status_t accuracy(export_t *e, st_error_t *err) {
    if (head_kind(e, 0) != ST_TARGET_CLASS || !e->ds.has_y || st_model_head_count(e->model) != 1) {
        if (e->req->out) fprintf(e->req->out, "accuracy: not reported (the model's one head is not a class head over /y)\n");
        return round_model(e, err);
    }
    const int64_t N = e->ds.n, B = 256;
    long rf = st_shape_numel(e->ds.shape);
    int K = (int)st_shape_channels(st_model_head(e->model, 0)->shape);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)N), *ys = malloc(sizeof(int32_t) * (size_t)B);
    int32_t *len = e->ds.has_lengths ? malloc(sizeof(int32_t) * (size_t)B) : NULL; /* the chosen rows' lengths */
    uint8_t *split = calloc((size_t)N, 1);
    float *x = malloc(sizeof(float) * (size_t)(B * rf));
    st_quant_tally_t t = {0};
    st_status_t rc = y && ys && split && x && (len || !e->ds.has_lengths) && !st_quant_tally_init(&t, K)
                         ? ST_OK : st_fail(err, ST_ERR_NOMEM, "accuracy rows");
    if (rc == ST_OK) rc = st_dataset_read_labels(&e->ds, y, split, err);
    if (rc == ST_OK) rc = st_model_reserve(e->model, (int)B, 0, err);
    uint8_t want = e->ds.has_split ? ST_SPLIT_TEST : 0;
    for (int low = 0; rc == ST_OK && low < 2; low++) {
        if (low) rc = round_model(e, err);
        for (int64_t r0 = 0; rc == ST_OK && r0 < N; r0 += B) {
            int64_t n = N - r0 < B ? N - r0 : B, m = 0;
            rc = st_dataset_read_rows(&e->ds, r0, n, x, MPI_COMM_NULL, err);
            if (rc == ST_OK && len) rc = st_dataset_read_lengths(&e->ds, r0, n, len, MPI_COMM_NULL, err);
            if (rc != ST_OK) break;
            for (int64_t r = 0; r < n; r++) /* the chosen rows, packed to the front */
                if (split[r0 + r] == want) {
                    memmove(x + m * rf, x + r * rf, sizeof(float) * (size_t)rf), ys[m] = y[r0 + r];
                    if (len) len[m] = len[r];
                    m++;
                }
            if (!m) continue;
            forward(e, x, len, m);
            head_post(e, 0, (float *)st_model_head_output(e->model, 0), m * K);
            st_quant_tally_add(&t, ys, st_model_head_output(e->model, 0), m, low);
        }
    }
    if (rc == ST_OK && e->req->out)
        st_quant_tally_print(&t, e->req->out, e->req->precision, e->ds.has_split ? "the test split" : "all rows",
                             e->ck.n_classes == K ? e->ck.class_names : NULL);
    st_quant_tally_free(&t);
    free(y), free(ys), free(split), free(x), free(len);
    return rc;
}

/* The reference CSV: rows 0..n-1 of the dataset as read (with /lengths: 0 past each row's
 * length, then its length as `sequence_lens`), and strata's outputs for them through the same
 * scaling, standardisation and forward as `strata eval` (a per-position head of a
 * variable-length model: then its rows' lengths as `<head>_lens`), in the graph's output order. */
static st_status_t reference(export_t *e, st_error_t *err) {
    int64_t n = e->req->reference_rows < e->ds.n ? e->req->reference_rows : e->ds.n;
    long rf = st_shape_numel(e->ds.shape);
    const int H = st_model_head_count(e->model), C = st_shape_channels(e->ds.shape);
    float *raw = malloc(sizeof(float) * (size_t)(n * rf)), *x = malloc(sizeof(float) * (size_t)(n * rf));
    int32_t *len = e->ds.has_lengths ? malloc(sizeof(int32_t) * (size_t)(n ? n : 1)) : NULL;
    FILE *f = NULL;
    st_status_t rc = raw && x && (len || !e->ds.has_lengths) ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%lld reference rows", (long long)n);
    if (rc == ST_OK) rc = st_dataset_read_rows(&e->ds, 0, n, raw, MPI_COMM_NULL, err);
    if (rc == ST_OK && len) rc = st_dataset_read_lengths(&e->ds, 0, n, len, MPI_COMM_NULL, err);
    if (rc == ST_OK) rc = st_model_reserve(e->model, (int)n, 0, err);
    if (rc == ST_OK) {
        for (int64_t r = 0; len && r < n; r++) /* the padding as the readers leave it */
            for (long k = (long)len[r] * C; k < rf; k++) raw[r * rf + k] = 0.0f;
        memcpy(x, raw, sizeof(float) * (size_t)(n * rf));
        forward(e, x, len, n);
        if (!(f = fopen(e->req->reference, "w"))) rc = st_fail(err, ST_ERR_IO, "%s: cannot write", e->req->reference);
    }
    for (long k = 0; rc == ST_OK && k < rf; k++) fprintf(f, "%sx%ld", k ? "," : "", k);
    if (rc == ST_OK && len) fprintf(f, ",sequence_lens");
    for (int h = 0; rc == ST_OK && h < H; h++) {
        const st_head_t *hd = st_model_head(e->model, h);
        long w = st_shape_numel(hd->shape);
        head_post(e, h, (float *)st_model_head_output(e->model, h), n * w);
        for (long k = 0; k < w; k++) fprintf(f, ",%s_%ld", hd->name, k);
        if (st_model_head_lengths(e->model, h, NULL)) fprintf(f, ",%s_lens", hd->name);
    }
    for (int64_t r = 0; rc == ST_OK && r < n; r++) {
        fprintf(f, "\n");
        for (long k = 0; k < rf; k++) fprintf(f, "%s%.9g", k ? "," : "", raw[r * rf + k]);
        if (len) fprintf(f, ",%d", len[r]);
        for (int h = 0; h < H; h++) {
            long w = st_shape_numel(st_model_head(e->model, h)->shape);
            const float *y = st_model_head_output(e->model, h) + r * w;
            const int32_t *hl = st_model_head_lengths(e->model, h, NULL);
            for (long k = 0; k < w; k++) fprintf(f, ",%.9g", y[k]);
            if (hl) fprintf(f, ",%d", hl[r]);
        }
    }
    if (f && (fprintf(f, "\n") < 0 || fclose(f) != 0) && rc == ST_OK) rc = st_fail(err, ST_ERR_IO, "%s: cannot write", e->req->reference);
    free(raw), free(x), free(len);
    return rc;
}

st_status_t st_export_onnx(const st_export_request_t *req, st_error_t *err) {
    if (strcmp(req->precision, "fp32") != 0 && strcmp(req->precision, "fp16") != 0 && strcmp(req->precision, "int8") != 0)
        return st_fail(err, ST_ERR_CONFIG, "--precision %s: one of fp32, fp16, int8", req->precision);
    export_t e = {.req = req, .f16 = strcmp(req->precision, "fp16") == 0, .i8 = strcmp(req->precision, "int8") == 0};
    size_t bytes = 0;
    st_status_t rc = load(&e, err);
    if (rc == ST_OK && e.i8) rc = calibrate(&e, err);
    if (rc == ST_OK && (e.f16 || e.i8)) rc = accuracy(&e, err); /* leaves the parameters as the graph holds them */
    if (rc == ST_OK) rc = build_graph(&e, err);
    if (rc == ST_OK) rc = st_onnx_write(e.g, req->out_path, req->version, &bytes, err);
    if (rc == ST_OK && req->reference) rc = reference(&e, err);
    if (rc == ST_OK && e.acts.failed) rc = st_fail(err, ST_ERR_NOMEM, "the fake-quantised int8 activations");
    if (rc == ST_OK && e.i8 && req->out)
        fprintf(req->out, "int8: %d QuantizeLinear/DequantizeLinear pairs (uint8 activations, calibrated on %lld rows), "
                "weights int8 per output channel; %d int8 weights (%d weight-only: LSTM/GRU, ConvTranspose, embeddings)\n",
                e.n_qdq, (long long)e.acts.rows, e.n_i8, e.n_i8 - e.n_qdq);
    if (rc == ST_OK && req->out)
        fprintf(req->out, "%s: ONNX opset %d, %s, %d layer%s, %zu bytes (from %s)\n", req->out_path, ST_ONNX_OPSET,
                req->precision, st_model_layer_count(e.model), st_model_layer_count(e.model) == 1 ? "" : "s", bytes, e.ck.path);
    st_onnx_free(e.g);
    if (e.model) st_model_free(e.model);
    st_quant_acts_free(&e.acts);
    if (e.have_ds) st_dataset_close(&e.ds);
    if (e.have_cfg) st_config_free(&e.cfg);
    st_ckpt_free(&e.ck);
    return rc;
}
