/* test_export_qdq.c — the int8 export's activation quantisation (jobs/export_quant.h): the
 * fake-quantisation strata's forward applies is ONNX's QuantizeLinear -> DequantizeLinear (round
 * half to even, the zero point, saturation at 0 and 255; hand-worked values, the same as
 * tests/util/onnx_numpy.py --self-test), the MinMax grid of a range (0 always inside, the zero
 * point rounded half to even), and the model's input hook (core/model.h): off by default (outputs
 * bitwise those of the layers called one by one), on it hands only the chosen layer a
 * fake-quantised copy of its input (a residual's other reader sees the value as it is, the
 * caller's input is untouched), calibration records the exact range and changes nothing. The
 * exported graph itself is checked by tests/test_export_quant.sh. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "jobs/export_quant.h"
#include "model.h"

static void fake_quant_rounds_half_to_even_and_saturates(void **state) {
    (void)state;
    /* scale 0.5, zero point 128: x / s = .5 1.5 -.5 2.5 200 -200 0 -> q 128 130 128 130 255 0 128 */
    const float x[7] = {0.25f, 0.75f, -0.25f, 1.25f, 100.0f, -100.0f, 0.0f};
    const float want[7] = {0.0f, 1.0f, 0.0f, 1.0f, 63.5f, -64.0f, 0.0f};
    float y[7];
    st_quant_fake_u8(y, x, 7, 0.5f, 128);
    for (int i = 0; i < 7; i++) assert_float_equal(y[i], want[i], 0.0f);
    /* zero point 0 (a non-negative input after relu): negatives saturate to 0, in place */
    float z[4] = {-1.0f, 0.3f, 0.5f, 300.0f};
    st_quant_fake_u8(z, z, 4, 1.0f, 0);
    assert_float_equal(z[0], 0.0f, 0.0f);
    assert_float_equal(z[1], 0.0f, 0.0f);
    assert_float_equal(z[2], 0.0f, 0.0f); /* 0.5 -> 0, not 1 */
    assert_float_equal(z[3], 255.0f, 0.0f);
    /* a value on the grid stays exactly itself */
    float g = 37 * 0.0625f;
    st_quant_fake_u8(&g, &g, 1, 0.0625f, 12);
    assert_float_equal(g, 37 * 0.0625f, 0.0f);
}

static void grid_of_a_range(void **state) {
    (void)state;
    float s;
    uint8_t z;
    st_quant_u8_params(-1.0f, 3.0f, &s, &z); /* 4 / 255; 1 / s = 63.75 -> 64 */
    assert_float_equal(s, (float)(4.0 / 255.0), 0.0f);
    assert_int_equal(z, 64);
    st_quant_u8_params(2.0f, 5.0f, &s, &z); /* widened to [0, 5] */
    assert_float_equal(s, (float)(5.0 / 255.0), 0.0f);
    assert_int_equal(z, 0);
    st_quant_u8_params(-3.0f, -1.0f, &s, &z); /* widened to [-3, 0] */
    assert_float_equal(s, (float)(3.0 / 255.0), 0.0f);
    assert_int_equal(z, 255);
    st_quant_u8_params(-2.5f, 252.5f, &s, &z); /* scale 1, zero point round-half-even(2.5) = 2 */
    assert_float_equal(s, 1.0f, 0.0f);
    assert_int_equal(z, 2);
    st_quant_u8_params(0.0f, 0.0f, &s, &z); /* an input that is always 0 */
    assert_float_equal(s, 1.0f, 0.0f);
    assert_int_equal(z, 0);
}

enum { B = 9, D = 5 };

/* dense(6) -> residual[dense(6), tanh] -> dense(3) on [5]: layers 0, 1, 2 (tanh), 3. */
static st_model_t *small_model(void) {
    cJSON *obj = cJSON_Parse("{\"layers\": [{\"type\": \"dense\", \"units\": 6}, {\"type\": \"residual\", \"layers\": "
                             "[{\"type\": \"dense\", \"units\": 6}, {\"type\": \"tanh\"}]}, {\"type\": \"dense\", \"units\": 3}]}");
    st_error_t err = {0};
    st_model_t *m = NULL;
    if (st_model_build(obj, "model", st_shape1(D), 3, &m, &err) != ST_OK) fail_msg("build failed: %s", err.msg);
    cJSON_Delete(obj);
    assert_int_equal(st_model_reserve(m, B, 0, &err), ST_OK);
    st_model_init(m, 11);
    assert_int_equal(st_model_layer_count(m), 4);
    return m;
}

/* The model computed layer by layer; `fake` (a layer index, or -1) reads its input fake-quantised. */
static void by_hand(st_model_t *m, const float *x, int fake, float scale, uint8_t zero, float *y /*[B, 3]*/) {
    static float a[B * 6], b[B * 6], c[B * 6], d[B * 6], q[B * 6];
    st_run_ctx_t ctx = {0};
    st_layer_t *L[4];
    for (int i = 0; i < 4; i++) L[i] = st_model_layer(m, i);
    const float *in = x;
    if (fake == 0) st_quant_fake_u8(q, x, B * D, scale, zero), in = q;
    L[0]->kind->forward(L[0], &ctx, a, in, B);
    in = a;
    if (fake == 1) st_quant_fake_u8(q, a, B * 6, scale, zero), in = q;
    L[1]->kind->forward(L[1], &ctx, b, in, B);
    L[2]->kind->forward(L[2], &ctx, c, b, B);
    for (int k = 0; k < B * 6; k++) d[k] = a[k] + c[k];
    L[3]->kind->forward(L[3], &ctx, y, d, B);
}

static void input_hook_is_off_by_default_and_touches_only_its_layer(void **state) {
    (void)state;
    st_model_t *m = small_model();
    float x[B * D], x0[B * D], y0[B * 3], want[B * 3];
    for (int k = 0; k < B * D; k++) x[k] = x0[k] = sinf(0.7f * (float)k) * 2.0f + 0.3f;
    st_run_ctx_t ctx = {0};

    /* no hook: bitwise the layers one by one */
    st_model_forward(m, &ctx, x, B);
    memcpy(y0, st_model_head_output(m, 0), sizeof y0);
    by_hand(m, x, -1, 0, 0, want);
    assert_memory_equal(y0, want, sizeof y0);

    st_quant_acts_t acts;
    assert_int_equal(st_model_layer_count(m), 4);
    assert_int_equal(st_quant_acts_init(&acts, m), 0);
    assert_int_equal(acts.n, 3); /* the three dense layers (Gemm), not tanh */
    st_model_set_input_hook(m, st_quant_acts_hook, &acts);

    /* calibration: the exact range of layer 0's input (x), outputs unchanged */
    acts.mode = ST_QUANT_CALIBRATE;
    st_model_forward(m, &ctx, x, B);
    assert_memory_equal(st_model_head_output(m, 0), y0, sizeof y0);
    float lo = x[0], hi = x[0];
    for (int k = 0; k < B * D; k++) lo = fminf(lo, x[k]), hi = fmaxf(hi, x[k]);
    assert_float_equal(acts.acts[0].lo, lo, 0.0f);
    assert_float_equal(acts.acts[0].hi, hi, 0.0f);
    st_quant_acts_finish(&acts);

    /* fake-quantised: only layer 1 (inside the residual) quantised, with a coarse grid */
    acts.mode = ST_QUANT_FAKE;
    acts.acts[0] = acts.acts[1], acts.n = 1;
    acts.acts[0].scale = 0.25f, acts.acts[0].zero = 100;
    st_model_forward(m, &ctx, x, B);
    by_hand(m, x, 1, 0.25f, 100, want);
    assert_memory_equal(st_model_head_output(m, 0), want, sizeof want);
    assert_true(memcmp(want, y0, sizeof y0) != 0); /* the grid made a difference */
    assert_memory_equal(x, x0, sizeof x);          /* the caller's input untouched */

    /* the hook removed: bitwise the first outputs again */
    st_model_set_input_hook(m, NULL, NULL);
    st_model_forward(m, &ctx, x, B);
    assert_memory_equal(st_model_head_output(m, 0), y0, sizeof y0);
    st_quant_acts_free(&acts);
    st_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fake_quant_rounds_half_to_even_and_saturates),
        cmocka_unit_test(grid_of_a_range),
        cmocka_unit_test(input_hook_is_off_by_default_and_touches_only_its_layer),
    };
    return cmocka_run_group_tests_name("export_qdq", tests, NULL, NULL);
}
