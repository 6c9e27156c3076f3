/* layertest.h — one layer built from JSON with its own small arenas, for layer tests:
 * finite-difference checks of every input and parameter gradient, and PyTorch comparisons. */
#ifndef ST_LAYERTEST_H
#define ST_LAYERTEST_H

#include "layer.h"

typedef struct {
    st_layer_t L;
    float *params, *grads, *buffers;  /* the layer's arenas */
    size_t n_params, n_buffers;
    int B_max;
    st_run_ctx_t ctx;                 /* training mode, seed 1, step 0 */
} tu_layer_t;

/* Builds the layer described by `json` (e.g. "{\"type\":\"dense\",\"units\":3}") for input
 * shape `in` and batches up to B_max; initialises it with `seed`. Fails the test on error. */
tu_layer_t *tu_layer_new(const char *json, st_shape_t in, int B_max, int n_classes, uint64_t seed);
/* Like tu_layer_new but returns the build error instead (NULL layer); for message tests. */
st_status_t tu_layer_try(const char *json, st_shape_t in, int n_classes, st_error_t *err);
void tu_layer_free(tu_layer_t *t);

/* Finite-difference check of d(Σ out·r)/d(input) and /d(every parameter) for a batch of B
 * random inputs (normal, seeded). eps is the FD step; tolerances as tu_check_gradient. */
void tu_layer_gradcheck(tu_layer_t *t, int B, uint64_t seed, double eps, double atol, double rtol);

/* One forward and backward of the layer (its parameters already set) on the fixture arrays
 * "<cas>/x" and "<cas>/dout" of tests/fixtures/<file>, checked against "<cas>/out", "dx",
 * "dweight" (params[0]) and, when the layer has a second parameter, "dbias", to
 * 1e-5 + 1e-5·|ref|; the output's size must be the fixture's. */
void tu_layer_check_fixture(tu_layer_t *t, int B, const char *file, const char *cas);

/* One forward and backward of the layer `json` (input `in`, B random rows, seeded) at 1 and at
 * `threads` OpenMP and BLIS threads: the output, din and every parameter gradient must have the
 * same bits. Leaves 1 thread set. */
void tu_layer_assert_threads_agree(const char *json, st_shape_t in, int B, int threads);

#endif
