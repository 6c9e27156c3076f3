/* layertest.c — single-layer harness for tests. */
#include "layertest.h"

#include <blis.h>
#include <omp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static tu_layer_t *build(const char *json, st_shape_t in, int B_max, int n_classes, st_error_t *err,
                         st_status_t *rc) {
    tu_layer_t *t = calloc(1, sizeof *t);
    cJSON *obj = cJSON_Parse(json);
    if (!obj) fail_msg("bad JSON in test: %s", json);
    *rc = st_layer_build(&t->L, obj, "model.layers[0]", "layers.0", 0, in, n_classes, NULL, err);
    cJSON_Delete(obj);
    if (*rc != ST_OK) {
        free(t);
        return NULL;
    }
    t->n_params = st_layer_param_floats(&t->L);
    t->n_buffers = st_layer_buffer_floats(&t->L);
    t->params = calloc(t->n_params + 1, sizeof(float));
    t->grads = calloc(t->n_params + 1, sizeof(float));
    t->buffers = calloc(t->n_buffers + 1, sizeof(float));
    st_layer_bind(&t->L, t->params, t->grads, t->buffers, 0, 0);
    t->B_max = B_max;
    t->L.scratch = calloc((size_t)B_max * t->L.scratch_per_sample + t->L.scratch_fixed + 1, sizeof(float));
    t->ctx = (st_run_ctx_t){.training = 1, .seed = 1, .step = 0, .sample_index = NULL, .update_running_stats = 0};
    return t;
}

tu_layer_t *tu_layer_new(const char *json, st_shape_t in, int B_max, int n_classes, uint64_t seed) {
    st_error_t err = {0};
    st_status_t rc;
    tu_layer_t *t = build(json, in, B_max, n_classes, &err, &rc);
    if (!t) fail_msg("building %s: %s", json, err.msg);
    if (t->L.kind->init) t->L.kind->init(&t->L, seed);
    return t;
}

st_status_t tu_layer_try(const char *json, st_shape_t in, int n_classes, st_error_t *err) {
    st_status_t rc;
    tu_layer_t *t = build(json, in, 1, n_classes, err, &rc);
    if (t) tu_layer_free(t);
    return rc;
}

void tu_layer_free(tu_layer_t *t) {
    if (!t) return;
    free(t->params);
    free(t->grads);
    free(t->buffers);
    free(t->L.scratch);
    free(t);
}

typedef struct {
    tu_layer_t *t;
    const float *x, *r;
    float *out;
    int B;
} fd_ctx_t;

/* f = Σ forward(x) · r, in double. */
static double layer_objective(void *p) {
    fd_ctx_t *c = p;
    c->t->L.kind->forward(&c->t->L, &c->t->ctx, c->out, c->x, c->B);
    return tu_dot(c->out, c->r, (size_t)c->B * st_shape_numel(c->t->L.out_shape));
}

void tu_layer_gradcheck(tu_layer_t *t, int B, uint64_t seed, double eps, double atol, double rtol) {
    st_layer_t *L = &t->L;
    size_t n_in = (size_t)B * st_shape_numel(L->in_shape), n_out = (size_t)B * st_shape_numel(L->out_shape);
    float *x = malloc(n_in * sizeof(float)), *din = malloc(n_in * sizeof(float));
    float *r = malloc(n_out * sizeof(float)), *out = malloc(n_out * sizeof(float));
    tu_fill_normal(x, n_in, seed);
    tu_fill_normal(r, n_out, seed + 1);
    memset(t->grads, 0, t->n_params * sizeof(float));
    L->kind->forward(L, &t->ctx, out, x, B);
    L->kind->backward(L, &t->ctx, din, r, x, out, B);
    fd_ctx_t c = {t, x, r, out, B};
    char what[160];
    snprintf(what, sizeof what, "%s d/d(input)", L->kind->type);
    tu_check_gradient(what, layer_objective, &c, x, n_in, din, eps, atol, rtol, 400);
    for (int p = 0; p < L->n_params; p++) {
        snprintf(what, sizeof what, "%s d/d(%s)", L->kind->type, L->params[p].name);
        float *g = malloc(L->params[p].n * sizeof(float));
        memcpy(g, L->params[p].grad, L->params[p].n * sizeof(float));
        tu_check_gradient(what, layer_objective, &c, L->params[p].data, L->params[p].n, g, eps, atol, rtol, 400);
        free(g);
    }
    free(x), free(din), free(r), free(out);
}

static float *fixture_array(const char *file, const char *cas, const char *name, size_t *n) {
    char path[160];
    snprintf(path, sizeof path, "%s/%s", cas, name);
    return tu_read_f32(file, path, n);
}

void tu_layer_check_fixture(tu_layer_t *t, int B, const char *file, const char *cas) {
    st_layer_t *L = &t->L;
    size_t n_x, n_dout, n_out, n_dx, n_dw;
    float *x = fixture_array(file, cas, "x", &n_x), *dout = fixture_array(file, cas, "dout", &n_dout);
    float *out_ref = fixture_array(file, cas, "out", &n_out), *dx_ref = fixture_array(file, cas, "dx", &n_dx);
    float *dW_ref = fixture_array(file, cas, "dweight", &n_dw);
    assert_int_equal(n_out, (size_t)B * st_shape_numel(L->out_shape)); /* the output shape agrees with PyTorch */
    assert_int_equal(n_x, (size_t)B * st_shape_numel(L->in_shape));
    float *out = calloc(n_out, sizeof(float)), *dx = calloc(n_x, sizeof(float));
    L->kind->forward(L, &t->ctx, out, x, B);
    tu_assert_close("out", out, out_ref, n_out, 1e-5, 1e-5);
    L->kind->backward(L, &t->ctx, dx, dout, x, out, B);
    tu_assert_close("dx", dx, dx_ref, n_x, 1e-5, 1e-5);
    tu_assert_close("dweight", L->params[0].grad, dW_ref, L->params[0].n, 1e-5, 1e-5);
    if (L->n_params > 1) {
        size_t n_db;
        float *db_ref = fixture_array(file, cas, "dbias", &n_db);
        tu_assert_close("dbias", L->params[1].grad, db_ref, L->params[1].n, 1e-5, 1e-5);
        free(db_ref);
    }
    free(x), free(dout), free(out_ref), free(dx_ref), free(dW_ref), free(out), free(dx);
}

/* out, dx and grads (allocated here) of one forward and backward at `threads` threads. */
static size_t run_at(const char *json, st_shape_t in, int B, int threads, float **out, float **dx, float **grads,
                     size_t *n_out) {
    omp_set_num_threads(threads);
    bli_thread_set_num_threads(threads);
    tu_layer_t *t = tu_layer_new(json, in, B, 0, 9);
    size_t n_in = (size_t)B * st_shape_numel(in);
    *n_out = (size_t)B * st_shape_numel(t->L.out_shape);
    float *x = malloc(n_in * sizeof(float)), *dout = malloc(*n_out * sizeof(float));
    *out = malloc(*n_out * sizeof(float)), *dx = malloc(n_in * sizeof(float));
    *grads = malloc((t->n_params + 1) * sizeof(float));
    tu_fill_normal(x, n_in, 31);
    tu_fill_normal(dout, *n_out, 32);
    t->L.kind->forward(&t->L, &t->ctx, *out, x, B);
    t->L.kind->backward(&t->L, &t->ctx, *dx, dout, x, *out, B);
    size_t n_params = t->n_params;
    memcpy(*grads, t->grads, n_params * sizeof(float));
    free(x), free(dout);
    tu_layer_free(t);
    return n_params;
}

void tu_layer_assert_threads_agree(const char *json, st_shape_t in, int B, int threads) {
    float *o1, *d1, *g1, *o2, *d2, *g2;
    size_t n_out, n_in = (size_t)B * st_shape_numel(in);
    size_t n_p = run_at(json, in, B, 1, &o1, &d1, &g1, &n_out);
    run_at(json, in, B, threads, &o2, &d2, &g2, &n_out);
    assert_memory_equal(o1, o2, n_out * sizeof(float));
    assert_memory_equal(d1, d2, n_in * sizeof(float));
    if (n_p) assert_memory_equal(g1, g2, n_p * sizeof(float));
    free(o1), free(d1), free(g1), free(o2), free(d2), free(g2);
    omp_set_num_threads(1);
    bli_thread_set_num_threads(1);
}
