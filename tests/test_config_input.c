/* test_config_input.c — config input a user gets wrong (issue 12): duplicate JSON keys anywhere in
 * the tree, JSON nested too deep, a --set value that starts like JSON but is not, and a folder
 * given as the config file. Each must fail with a message naming the place. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/config.h"

static const char *MINIMAL =
    "{\"name\": \"t\", \"data\": {\"path\": \"d.h5\"}, \"train\": {\"epochs\": 2, \"batch_size\": 64},"
    " \"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1}, \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 8},"
    " {\"type\": \"relu\"}, {\"type\": \"dense\", \"units\": \"classes\"}]}}";

static void fails(const char *json, const char *set, const char *msg) {
    st_run_config_t cfg;
    st_error_t err = {0};
    st_status_t rc = st_config_from_json(json, "t.json", set ? &set : NULL, set ? 1 : 0, &cfg, &err);
    if (rc == ST_OK) fail_msg("expected the error: %s", msg);
    if (strcmp(err.msg, msg) != 0) fail_msg("error message\n  got:  %s\n  want: %s", err.msg, msg);
    st_config_free(&cfg);
}

static void test_duplicate_keys(void **state) {
    (void)state;
    fails("{\"name\": \"t\", \"seed\": 1, \"name\": \"u\"}", NULL, "t.json: the key \"name\" appears twice");
    fails("{\"name\": \"t\", \"data\": {\"path\": \"d.h5\"}, \"train\": {\"epochs\": 2, \"batch_size\": 64}, "
          "\"optimizer\": {\"type\": \"sgd\", \"lr\": 0.1}, \"model\": {\"layers\": [{\"type\": \"dense\", "
          "\"units\": 4, \"units\": 8}]}}",
          NULL, "t.json: model.layers[0]: the key \"units\" appears twice");
}

static void test_nested_too_deep(void **state) {
    (void)state;
    enum { DEPTH = 1100 };
    char *json = malloc(2 * DEPTH + 16);
    size_t n = 0;
    n += (size_t)sprintf(json, "{\"a\": ");
    for (int i = 0; i < DEPTH; i++) json[n++] = '[';
    for (int i = 0; i < DEPTH; i++) json[n++] = ']';
    json[n++] = '}', json[n] = 0;
    st_run_config_t cfg;
    st_error_t err = {0};
    assert_int_equal(st_config_from_json(json, "t.json", NULL, 0, &cfg, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "t.json: JSON nested deeper than 1000 levels at line 1, column");
    free(json);
}

static void test_set_value_not_json(void **state) {
    (void)state;
    fails(MINIMAL, "model={\"layers\": [", "--set model={\"layers\": [: the value starts like JSON but is not valid "
          "JSON (at character 13)");
    fails(MINIMAL, "name=\"abc", "--set name=\"abc: the value starts like JSON but is not valid JSON (at character 2)");
    st_run_config_t cfg;
    st_error_t err = {0};
    const char *plain = "name=abc";
    assert_int_equal(st_config_from_json(MINIMAL, "t.json", &plain, 1, &cfg, &err), ST_OK); /* plain text: a string */
    assert_string_equal(cfg.name, "abc");
    st_config_free(&cfg);
}

static void test_folder_as_config(void **state) {
    (void)state;
    st_run_config_t cfg;
    st_error_t err = {0};
    assert_int_equal(st_config_load("tests/data", NULL, 0, &cfg, &err), ST_ERR_IO);
    assert_string_equal(err.msg, "tests/data: is a folder, expected a config file (JSON)");
}

/* Schedule lengths that fit any dataset: warmup_epochs becomes warmup_steps from the epoch's length
 * (here 2 epochs of 50 steps), and a warmup longer than the run is an error saying how to fix it,
 * for every schedule type. */
static void test_warmup_epochs_and_fit(void **state) {
    (void)state;
    st_run_config_t cfg;
    st_error_t err = {0};
    const char *epochs = "schedule={\"type\": \"warmup_cosine\", \"warmup_epochs\": 0.5}";
    assert_int_equal(st_config_from_json(MINIMAL, "t.json", &epochs, 1, &cfg, &err), ST_OK);
    assert_int_equal(cfg.sched_needs_total_steps, 1);
    assert_int_equal(st_config_set_total_steps(&cfg, 100, &err), ST_OK);
    assert_true(cfg.sched.warmup_steps == 25 && cfg.sched.T_max == 75);
    st_config_free(&cfg);
    const char *both = "schedule={\"type\": \"constant\", \"warmup_epochs\": 1, \"warmup_steps\": 3}";
    fails(MINIMAL, both, "t.json: schedule.warmup_epochs (--set schedule={\"type\": \"constant\", \"warmup_epochs\": 1, "
          "\"warmup_steps\": 3}): give one of warmup_steps, warmup_fraction and warmup_epochs");
    const char *steps = "schedule={\"type\": \"constant\", \"warmup_steps\": 100}";
    assert_int_equal(st_config_from_json(MINIMAL, "t.json", &steps, 1, &cfg, &err), ST_OK);
    assert_int_equal(st_config_set_total_steps(&cfg, 100, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "schedule: a warmup of 100 steps does not fit this run of 100 optimizer steps "
                                 "(train.epochs 2 x 50 steps per epoch): give warmup_fraction or warmup_epochs (they "
                                 "scale with the data), fewer warmup steps, or more epochs");
    st_config_free(&cfg);
}

/* --set loss.x=... on a config without "loss" starts from the default loss, so the result is the
 * default plus x (it was {"x": ...} alone: "loss.type: required key is missing"). */
static void test_set_into_default_section(void **state) {
    (void)state;
    st_run_config_t cfg;
    st_error_t err = {0};
    const char *set = "loss.label_smoothing=0.1";
    assert_int_equal(st_config_from_json(MINIMAL, "t.json", &set, 1, &cfg, &err), ST_OK);
    char *loss = cJSON_PrintUnformatted(cfg.loss);
    assert_string_equal(loss, "{\"type\":\"cross_entropy\",\"label_smoothing\":0.1}");
    cJSON_free(loss);
    st_config_free(&cfg);
    set = "schedule.warmup_steps=3";
    assert_int_equal(st_config_from_json(MINIMAL, "t.json", &set, 1, &cfg, &err), ST_OK);
    assert_true(cfg.sched.type == ST_SCHED_CONSTANT && cfg.sched.warmup_steps == 3);
    st_config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_nested_too_deep),
        cmocka_unit_test(test_set_value_not_json),
        cmocka_unit_test(test_folder_as_config),
        cmocka_unit_test(test_warmup_epochs_and_fit),
        cmocka_unit_test(test_set_into_default_section),
    };
    return cmocka_run_group_tests_name("config input", tests, NULL, NULL);
}
