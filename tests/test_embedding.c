/* test_embedding.c — the slice, embedding and embedding_bag layers: PyTorch fixtures
 * (tests/fixtures/gen_embedding.py), finite differences of embedding_bag, invalid ids (zero rows
 * unchecked, named errors through st_model_forward_checked), a parallel block reading column
 * ranges, embedding_reg as the table's L2 term, and option errors naming the JSON path. */
#include "testutil.h"
#include "layertest.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "optim.h"
#include "regularize.h"

#define FIX "embedding.h5"

static float *fx(const char *cas, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", cas, name);
    return tu_read_f32(FIX, path, n);
}

/* Forward and backward of the layer `json` on fixture case `cas` (B rows of shape `in`): out, dx
 * (din is filled with NaN first, so it must be written) and, for a layer with a table, dweight;
 * to 1e-5 + 1e-5·|ref|. */
static void check_against_torch(const char *cas, const char *json, st_shape_t in, int B) {
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 7);
    st_layer_t *L = &t->L;
    size_t n_x, n_dout, n_out, n_dx;
    float *x = fx(cas, "x", &n_x), *dout = fx(cas, "dout", &n_dout);
    float *out_ref = fx(cas, "out", &n_out), *dx_ref = fx(cas, "dx", &n_dx);
    assert_int_equal(n_x, (size_t)B * st_shape_numel(L->in_shape));
    assert_int_equal(n_out, (size_t)B * st_shape_numel(L->out_shape)); /* the output shape agrees with PyTorch */
    if (L->n_params > 0) {
        size_t n_w;
        float *W = fx(cas, "weight", &n_w);
        assert_int_equal(n_w, L->params[0].n);
        memcpy(L->params[0].data, W, n_w * sizeof(float));
        free(W);
    }
    float *out = malloc(n_out * sizeof(float)), *dx = malloc(n_x * sizeof(float));
    for (size_t i = 0; i < n_x; i++) dx[i] = NAN;
    L->kind->forward(L, &t->ctx, out, x, B);
    tu_assert_close("out", out, out_ref, n_out, 1e-5, 1e-5);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    tu_assert_close("dx", dx, dx_ref, n_x, 1e-5, 1e-5);
    if (L->n_params > 0) {
        size_t n_dw;
        float *dW_ref = fx(cas, "dweight", &n_dw);
        tu_assert_close("dweight", L->params[0].grad, dW_ref, n_dw, 1e-5, 1e-5);
        free(dW_ref);
    }
    free(x), free(dout), free(out_ref), free(dx_ref), free(out), free(dx);
    tu_layer_free(t);
}

static void test_slice_matches_torch(void **s) {
    (void)s;
    check_against_torch("slice_features", "{\"type\":\"slice\",\"from\":2,\"to\":6}", st_shape1(8), 5);
    check_against_torch("slice_sequence", "{\"type\":\"slice\",\"from\":1,\"to\":4}", st_shape2(4, 6), 3);
}

static void test_embedding_matches_torch(void **s) {
    (void)s;
    check_against_torch("embedding_features", "{\"type\":\"embedding\",\"n\":11,\"dim\":4}", st_shape1(3), 6);
    check_against_torch("embedding_sequence", "{\"type\":\"embedding\",\"n\":7,\"dim\":2}", st_shape2(5, 3), 2);
}

static void test_embedding_bag_matches_torch(void **s) {
    (void)s;
    check_against_torch("bag_sum", "{\"type\":\"embedding_bag\",\"dim\":5,\"mode\":\"sum\"}", st_shape1(7), 6);
    check_against_torch("bag_mean", "{\"type\":\"embedding_bag\",\"dim\":5,\"mode\":\"mean\"}", st_shape1(7), 6);
    check_against_torch("bag_wide", "{\"type\":\"embedding_bag\",\"dim\":20}", st_shape1(300), 40);
}

/* ---- finite differences of embedding_bag on non-negative rows (the mean divides by their sum) ---- */

typedef struct {
    tu_layer_t *t;
    const float *x, *r;
    float *out;
    int B;
} fd_t;

static double objective(void *p) {
    fd_t *c = p;
    c->t->L.kind->forward(&c->t->L, &c->t->ctx, c->out, c->x, c->B);
    return tu_dot(c->out, c->r, (size_t)c->B * st_shape_numel(c->t->L.out_shape));
}

static void bag_gradcheck(const char *json, st_shape_t in, int B) {
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 3);
    st_layer_t *L = &t->L;
    size_t n_in = (size_t)B * st_shape_numel(in), n_out = (size_t)B * st_shape_numel(L->out_shape);
    float *x = malloc(n_in * sizeof(float)), *din = malloc(n_in * sizeof(float));
    float *r = malloc(n_out * sizeof(float)), *out = malloc(n_out * sizeof(float));
    tu_fill_uniform(x, n_in, 0.1f, 1.0f, 5);
    for (size_t i = 0; i < n_in; i += 3) x[i] = 0.0f; /* some items not hot */
    tu_fill_normal(r, n_out, 6);
    L->kind->forward(L, &t->ctx, out, x, B);
    L->kind->backward(L, &t->ctx, din, r, x, out, B);
    fd_t c = {t, x, r, out, B};
    tu_check_gradient("embedding_bag d/d(input)", objective, &c, x, n_in, din, 1e-3, 2e-3, 2e-3, 0);
    float *g = malloc(L->params[0].n * sizeof(float));
    memcpy(g, L->params[0].grad, L->params[0].n * sizeof(float));
    tu_check_gradient("embedding_bag d/d(weight)", objective, &c, L->params[0].data, L->params[0].n, g, 1e-2, 2e-3,
                      2e-3, 0);
    free(g), free(x), free(din), free(r), free(out);
    tu_layer_free(t);
}

static void test_embedding_bag_finite_differences(void **s) {
    (void)s;
    bag_gradcheck("{\"type\":\"embedding_bag\",\"dim\":4,\"mode\":\"mean\"}", st_shape1(6), 3);
    bag_gradcheck("{\"type\":\"embedding_bag\",\"dim\":4,\"mode\":\"sum\"}", st_shape1(6), 3);
    bag_gradcheck("{\"type\":\"embedding_bag\",\"dim\":3,\"mode\":\"mean\"}", st_shape2(4, 5), 2); /* per position */
    tu_layer_t *t = tu_layer_new("{\"type\":\"slice\",\"from\":1,\"to\":3}", st_shape1(5), 4, 0, 1);
    tu_layer_gradcheck(t, 4, 2, 1e-2, 1e-4, 1e-4);
    tu_layer_free(t);
}

/* An id that is not an integer in [0, n) gives a zero row and no gradient; mean of an empty row is 0. */
static void test_invalid_ids_are_zero_rows(void **s) {
    (void)s;
    tu_layer_t *t = tu_layer_new("{\"type\":\"embedding\",\"n\":4,\"dim\":3}", st_shape1(8), 1, 0, 2);
    const float ids[8] = {-1.0f, 2.5f, NAN, 4.0f, 1e30f, INFINITY, -0.0f, 3.0f};
    float out[24], dout[24], din[8];
    t->L.kind->forward(&t->L, &t->ctx, out, ids, 1);
    for (int j = 0; j < 6; j++)
        for (int k = 0; k < 3; k++) assert_true(out[j * 3 + k] == 0.0f);
    for (int k = 0; k < 3; k++) {
        assert_true(out[18 + k] == t->L.params[0].data[k]);     /* -0 is id 0 */
        assert_true(out[21 + k] == t->L.params[0].data[9 + k]); /* id 3 */
    }
    for (int i = 0; i < 24; i++) dout[i] = 1.0f + (float)i;
    t->L.kind->backward(&t->L, &t->ctx, din, dout, ids, out, 1);
    const float want[12] = {19, 20, 21, 0, 0, 0, 0, 0, 0, 22, 23, 24};
    assert_memory_equal(t->grads, want, sizeof want);
    for (int j = 0; j < 8; j++) assert_true(din[j] == 0.0f);
    tu_layer_free(t);

    t = tu_layer_new("{\"type\":\"embedding_bag\",\"dim\":2}", st_shape1(3), 2, 0, 2);
    const float x[6] = {0, 0, 0, 0, 1, 1};
    float o[4];
    t->L.kind->forward(&t->L, &t->ctx, o, x, 2);
    assert_true(o[0] == 0.0f && o[1] == 0.0f);
    assert_float_equal(o[2], 0.5f * (t->L.params[0].data[2] + t->L.params[0].data[4]), 1e-6);
    tu_layer_free(t);
}

/* The scatter-add gives each gradient row the same sum in the same order at any thread count:
 * bitwise equal to a serial loop over the ids in order. */
static void test_embedding_backward_is_deterministic(void **s) {
    (void)s;
    enum { B = 512, D = 8, N = 37, DIM = 8 };
    tu_layer_t *t = tu_layer_new("{\"type\":\"embedding\",\"n\":37,\"dim\":8}", st_shape1(D), B, 0, 4);
    float *ids = malloc(sizeof(float) * B * D), *dout = malloc(sizeof(float) * B * D * DIM);
    float *out = malloc(sizeof(float) * B * D * DIM), ref[N * DIM] = {0};
    tu_fill_uniform(ids, B * D, 0.0f, (float)N, 8);
    for (int i = 0; i < B * D; i++) ids[i] = floorf(ids[i]);
    tu_fill_normal(dout, (size_t)B * D * DIM, 9);
    for (int m = 0; m < B * D; m++)
        for (int k = 0; k < DIM; k++) ref[(int)ids[m] * DIM + k] += dout[m * DIM + k];
    int threads = omp_get_max_threads();
    for (int nt = 1; nt <= 3; nt++) {
        omp_set_num_threads(nt);
        memset(t->grads, 0, sizeof(float) * N * DIM);
        t->L.kind->forward(&t->L, &t->ctx, out, ids, B);
        t->L.kind->backward(&t->L, &t->ctx, NULL, dout, ids, out, B);
        assert_memory_equal(t->grads, ref, sizeof ref);
    }
    omp_set_num_threads(threads);
    free(ids), free(dout), free(out);
    tu_layer_free(t);
}

/* ---- the model: a parallel block reading column ranges ---- */

static const char *PARALLEL =
    "{\"layers\":[{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":["
    "[{\"type\":\"slice\",\"from\":0,\"to\":2},{\"type\":\"dense\",\"units\":4}],"
    "[{\"type\":\"slice\",\"from\":2,\"to\":3},{\"type\":\"embedding\",\"n\":5,\"dim\":3,\"embedding_reg\":0.5}],"
    "[{\"type\":\"slice\",\"from\":3,\"to\":8},{\"type\":\"embedding_bag\",\"dim\":3,\"mode\":\"mean\"}]]}]}";

static st_model_t *build(const char *json, st_shape_t in, st_error_t *err, st_status_t *rc) {
    cJSON *obj = cJSON_Parse(json);
    if (!obj) fail_msg("bad JSON in test: %s", json);
    st_model_t *m = NULL;
    *rc = st_model_build(obj, "model", in, 0, &m, err);
    cJSON_Delete(obj);
    return m;
}

static st_model_t *parallel_model(int B) {
    st_error_t err = {0};
    st_status_t rc;
    st_model_t *m = build(PARALLEL, st_shape1(8), &err, &rc);
    if (rc != ST_OK) fail_msg("build: %s", err.msg);
    st_model_init(m, 3);
    assert_int_equal(st_model_reserve(m, B, 1, &err), ST_OK);
    return m;
}

/* Row b: numbers, an id, a multi-hot row of 5. */
static void fill_rows(float *x, int B) {
    for (int b = 0; b < B; b++) {
        float row[8] = {0.5f * b, -1.0f, (float)(b % 5), 1, 0, (float)(b % 2), 1, 0};
        memcpy(x + 8 * b, row, sizeof row);
    }
}

static void test_parallel_block_reads_column_ranges(void **s) {
    (void)s;
    enum { B = 4 };
    st_model_t *m = parallel_model(B);
    assert_int_equal(st_model_head(m, 0)->shape.rank, 1);
    assert_int_equal(st_model_head(m, 0)->shape.d[0], 10); /* 4 + 1·3 + 3 */
    assert_int_equal(st_model_param_floats(m), 4 * 2 + 4 + 5 * 3 + 5 * 3);
    float x[8 * B];
    fill_rows(x, B);
    st_run_ctx_t ctx = {.training = 1, .seed = 1};
    st_error_t err = {0};
    assert_int_equal(st_model_forward_checked(m, &ctx, x, B, &err), ST_OK);
    /* columns 4..6 of the output are row (id) of the embedding's table; 7..9 the mean of the hot rows */
    const float *out = st_model_head_output(m, 0), *E = st_model_layer(m, 3)->params[0].data;
    const float *G = st_model_layer(m, 5)->params[0].data;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < 3; k++) {
            assert_true(out[b * 10 + 4 + k] == E[(b % 5) * 3 + k]);
            float hot = (G[0 * 3 + k] + G[3 * 3 + k] + (b % 2 ? G[2 * 3 + k] : 0.0f)) / (b % 2 ? 3.0f : 2.0f);
            assert_float_equal(out[b * 10 + 7 + k], hot, 1e-6);
        }
    /* backward: the input gradient of the id column is 0, of the numbers the dense's */
    float *g = st_model_head_grad(m, 0);
    for (int i = 0; i < B * 10; i++) g[i] = 1.0f;
    st_model_zero_grads(m);
    st_model_backward(m, &ctx, B);
    const float *dx = st_model_input_grad(m);
    for (int b = 0; b < B; b++) {
        assert_true(dx[b * 8 + 2] == 0.0f);
        assert_true(dx[b * 8] != 0.0f);
    }
    st_model_free(m);
}

static void expect_refused(st_model_t *m, const float *x, int B, const int64_t *index, const char *msg) {
    st_run_ctx_t ctx = {.training = 0, .seed = 1, .sample_index = index};
    st_error_t err = {0};
    assert_int_equal(st_model_forward_checked(m, &ctx, x, B, &err), ST_ERR_DATA);
    assert_string_equal(err.msg, msg);
    st_model_forward(m, &ctx, x, B); /* unchecked: runs, the bad id is a zero row */
    const float *out = st_model_head_output(m, 0);
    for (int i = 0; i < B * 10; i++) assert_true(isfinite(out[i]));
}

static void test_forward_checked_names_bad_ids(void **s) {
    (void)s;
    enum { B = 3 };
    st_model_t *m = parallel_model(B);
    float x[8 * B];
    const int64_t index[B] = {1232, 1233, 1234};
    const float bad[4] = {5.0f, 2.5f, NAN, -1.0f};
    const char *want[4] = {
        "model.layers[0].branches[1][1] (embedding, n = 5): row 1234, column 0: id 5 is not an integer in [0, 5)",
        "model.layers[0].branches[1][1] (embedding, n = 5): batch row 2, column 0: id 2.5 is not an integer in [0, 5)",
        "model.layers[0].branches[1][1] (embedding, n = 5): row 1234, column 0: id nan is not an integer in [0, 5)",
        "model.layers[0].branches[1][1] (embedding, n = 5): batch row 2, column 0: id -1 is not an integer in [0, 5)",
    };
    for (int i = 0; i < 4; i++) {
        fill_rows(x, B);
        x[2 * 8 + 2] = bad[i];
        expect_refused(m, x, B, i % 2 ? NULL : index, want[i]);
    }
    fill_rows(x, B);
    x[1 * 8 + 5] = -1.0f; /* a negative weight in the multi-hot part */
    expect_refused(m, x, B, NULL,
                   "model.layers[0].branches[2][1] (embedding_bag, n = 5, mode = mean): batch row 1, column 2: weight -1 "
                   "is not a finite number >= 0 (a multi-hot row holds 0/1 or weights >= 0)");
    st_model_free(m);
}

/* embedding_reg is the table's L2 coefficient: the update adds embedding_reg·W to its gradient
 * and embedding_reg/2·||W||² to the penalty; an inherited weight decay (adamw's 0.01) skips it. */
static void test_embedding_reg_is_the_tables_l2(void **s) {
    (void)s;
    st_model_t *m = parallel_model(2);
    int n_tensors;
    const st_tensor_view_t *v = st_model_tensors(m, &n_tensors);
    assert_int_equal(n_tensors, 4); /* dense weight, bias; the two tables */
    const st_tensor_view_t *E = &v[2], *G = &v[3];
    assert_string_equal(E->name, "layers.0.branches.1.1.weight");
    assert_true(E->l2 == 0.5f && G->l2 == 0.0f && E->decay == 0 && G->decay == 0);
    st_model_zero_grads(m);
    st_l2_apply(v, n_tensors);
    for (size_t i = 0; i < E->n; i++) assert_true(E->grad[i] == 0.5f * E->data[i]);
    for (size_t i = 0; i < G->n; i++) assert_true(G->grad[i] == 0.0f);
    double want = 0.25 * st_sum_squares(E->data, E->n);
    assert_true(fabs(st_l2_penalty(v, n_tensors) - want) <= 1e-12 * want);
    st_optim_config_t cfg;
    st_optim_config_default(&cfg, ST_OPTIM_ADAMW);
    st_optim_t *opt = NULL;
    st_error_t err = {0};
    assert_int_equal(st_optim_create(&cfg, v, n_tensors, st_model_param_floats(m), &opt, &err), ST_OK);
    double wd_dense, wd_table;
    st_optim_tensor_group(opt, 0, NULL, NULL, &wd_dense);
    st_optim_tensor_group(opt, 2, NULL, NULL, &wd_table);
    assert_true(wd_dense == 0.01 && wd_table == 0.0);
    st_optim_free(opt);
    st_model_free(m);
}

/* ---- bad JSON ---- */

static void expect_layer_error(const char *json, st_shape_t in, const char *msg) {
    st_error_t err = {0};
    assert_int_not_equal(tu_layer_try(json, in, 0, &err), ST_OK);
    assert_string_equal(err.msg, msg);
}

static void test_option_errors_name_the_path(void **s) {
    (void)s;
    expect_layer_error("{\"type\":\"embedding\",\"n\":0,\"dim\":3}", st_shape1(2),
                       "model.layers[0].n: expected a positive integer, got 0");
    expect_layer_error("{\"type\":\"embedding\",\"n\":5}", st_shape1(2), "model.layers[0].dim: required key is missing");
    expect_layer_error("{\"type\":\"embedding\",\"n\":16777217,\"dim\":2}", st_shape1(2),
                       "model.layers[0].n: 16777217 rows are more than 2^24 = 16777216: ids are stored as float32, "
                       "exact only below 2^24");
    expect_layer_error("{\"type\":\"embedding\",\"n\":5,\"dim\":2,\"embedding_reg\":-1}", st_shape1(2),
                       "model.layers[0].embedding_reg: expected a number >= 0, got -1");
    expect_layer_error("{\"type\":\"embedding_bag\",\"mode\":\"max\"}", st_shape1(2),
                       "model.layers[0].dim: required key is missing");
    expect_layer_error("{\"type\":\"embedding_bag\",\"dim\":2,\"mode\":\"max\"}", st_shape1(2),
                       "model.layers[0].mode: expected one of mean|sum, got \"max\"");
    expect_layer_error("{\"type\":\"slice\",\"from\":3,\"to\":3}", st_shape1(8),
                       "model.layers[0].to: 3 is not after from = 3; a slice takes the columns from..to-1, so from < to");
    expect_layer_error("{\"type\":\"slice\",\"from\":2,\"to\":9}", st_shape1(8),
                       "model.layers[0].to: 9 is beyond the input's 8 columns (input [8]); expected from < to <= 8");
    expect_layer_error("{\"type\":\"slice\",\"from\":-1,\"to\":2}", st_shape1(8),
                       "model.layers[0].from: expected a non-negative integer, got -1");
    expect_layer_error("{\"type\":\"slice\",\"to\":2}", st_shape1(8), "model.layers[0].from: required key is missing");
    /* inside a parallel block, the path names the branch */
    st_error_t err = {0};
    st_status_t rc;
    st_model_t *m = build("{\"layers\":[{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":["
                          "[{\"type\":\"slice\",\"from\":0,\"to\":2}],[{\"type\":\"slice\",\"from\":2,\"to\":4,\"step\":1}]]}]}",
                          st_shape1(3), &err, &rc);
    assert_null(m);
    assert_int_not_equal(rc, ST_OK);
    tu_assert_contains(err.msg, "model.layers[0].branches[1][0]: unknown key \"step\"");
    m = build("{\"layers\":[{\"type\":\"parallel\",\"merge\":\"concat\",\"branches\":["
              "[{\"type\":\"slice\",\"from\":0,\"to\":2}],[{\"type\":\"slice\",\"from\":2,\"to\":4}]]}]}",
              st_shape1(3), &err, &rc);
    assert_null(m);
    assert_string_equal(err.msg, "model.layers[0].branches[1][0].to: 4 is beyond the input's 3 columns (input [3]); "
                                 "expected from < to <= 3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_matches_torch),
        cmocka_unit_test(test_embedding_matches_torch),
        cmocka_unit_test(test_embedding_bag_matches_torch),
        cmocka_unit_test(test_embedding_bag_finite_differences),
        cmocka_unit_test(test_invalid_ids_are_zero_rows),
        cmocka_unit_test(test_embedding_backward_is_deterministic),
        cmocka_unit_test(test_parallel_block_reads_column_ranges),
        cmocka_unit_test(test_forward_checked_names_bad_ids),
        cmocka_unit_test(test_embedding_reg_is_the_tables_l2),
        cmocka_unit_test(test_option_errors_name_the_path),
    };
    return cmocka_run_group_tests_name("embedding", tests, NULL, NULL);
}
