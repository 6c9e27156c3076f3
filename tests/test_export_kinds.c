/* test_export_kinds.c — the ONNX export's table of layer kinds (jobs/export_layers.c): every
 * kind in the registry has an ONNX form or a refusal (a kind added later without either fails
 * here; today every kind has a form), a refused kind fails naming the layer and its kind, and the graph builder's names stay
 * unique, and an option without a form (upsample1d's linear mode) is refused. Numerical agreement of the exported graphs is tests/test_export.sh's. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "jobs/export_layers.h"
#include "jobs/onnx_graph.h"

static void every_registered_kind_is_handled(void **state) {
    (void)state;
    int exported = 0, refused = 0;
    for (int i = 0; i < st_layer_kind_count(); i++) {
        const st_layer_kind_t *k = st_layer_kind_at(i);
        const char *why = NULL;
        int s = st_export_kind_status(k, &why);
        if (s < 0) fail_msg("layer kind %s has neither an ONNX form nor a refusal in jobs/export_layers.c", k->type);
        if (s == 0) assert_non_null(why), refused++;
        else exported++;
    }
    assert_true(exported >= 26); /* every kind registered today */
    assert_int_equal(exported + refused, st_layer_kind_count());
}

static void refused_kind_names_the_layer(void **state) {
    (void)state;
    st_onnx_t *g = st_onnx_new("g");
    for (int i = 0; i < st_layer_kind_count(); i++) {
        const st_layer_kind_t *k = st_layer_kind_at(i);
        if (st_export_kind_status(k, NULL) != 0) continue;
        st_layer_t L = {.kind = k};
        snprintf(L.path, sizeof L.path, "model.layers[%d]", i);
        st_onnx_val_t in = {.name = "input", .rank = 2, .T = 4, .C = 3}, out;
        st_error_t err = {0};
        assert_int_equal(st_export_layer(g, &L, in, &out, &err), ST_ERR_CONFIG);
        char want[160];
        snprintf(want, sizeof want, "model.layers[%d] (%s): not exportable to ONNX yet", i, k->type);
        if (!strstr(err.msg, want)) fail_msg("%s: got \"%s\"", k->type, err.msg);
    }
    st_onnx_free(g);
}

/* A kind with a form can still refuse an option it has no form for: upsample1d's linear mode. */
static void linear_upsample_is_refused(void **state) {
    (void)state;
    cJSON *obj = cJSON_Parse("{\"type\": \"upsample1d\", \"scale\": 2, \"mode\": \"linear\"}");
    st_layer_t L = {0};
    st_error_t err = {0};
    assert_int_equal(st_layer_build(&L, obj, "model.layers[3]", "layers.3", 3, st_shape2(4, 3), 0, NULL, &err), ST_OK);
    st_onnx_t *g = st_onnx_new("g");
    st_onnx_val_t in = {.name = "input", .rank = 2, .T = 4, .C = 3}, out;
    assert_int_equal(st_export_layer(g, &L, in, &out, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "model.layers[3] (upsample1d): not exportable to ONNX yet: mode \"linear\""));
    st_onnx_free(g);
    cJSON_Delete(obj);
}

static void a_foreign_kind_is_unknown(void **state) {
    (void)state;
    static const st_layer_kind_t foreign = {.type = "foreign"};
    const char *why = NULL;
    assert_int_equal(st_export_kind_status(&foreign, &why), -1);
    assert_non_null(why);
}

static void names_are_unique(void **state) {
    (void)state;
    st_onnx_t *g = st_onnx_new("g");
    int64_t d[1] = {-1};
    st_onnx_input(g, "input", d, 1);
    const char *a = st_onnx_op1(g, "Relu", "input", "input");
    const char *b = st_onnx_op1(g, "Relu", a, "relu");
    const char *c = st_onnx_op1(g, "Relu", b, "relu");
    assert_string_equal(a, "input_1");
    assert_string_equal(b, "relu");
    assert_string_equal(c, "relu_1");
    assert_false(st_onnx_failed(g));
    st_onnx_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_registered_kind_is_handled),
        cmocka_unit_test(refused_kind_names_the_layer),
        cmocka_unit_test(linear_upsample_is_refused),
        cmocka_unit_test(a_foreign_kind_is_unknown),
        cmocka_unit_test(names_are_unique),
    };
    return cmocka_run_group_tests_name("export_kinds", tests, NULL, NULL);
}
