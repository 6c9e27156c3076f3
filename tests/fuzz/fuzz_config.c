/* fuzz_config.c — libFuzzer harness for the run config parser: the input is the JSON text of a
 * run config, given to st_config_from_json (the same call `strata train` makes after reading
 * the file); when it is accepted, its model is built for a fixed feature input [8] and a fixed
 * sequence input [16, 3] with 4 classes, as st_model_build does when training starts. Any
 * outcome is fine except a crash, a sanitizer report or a hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/config.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    st_run_config_t cfg;
    st_error_t err;
    memset(&cfg, 0, sizeof cfg);
    if (st_config_from_json(text, "fuzz.json", NULL, 0, &cfg, &err) == ST_OK && cfg.model) {
        const st_shape_t shapes[2] = {st_shape1(8), st_shape2(16, 3)};
        for (int i = 0; i < 2; i++) {
            st_model_t *m = NULL;
            if (st_model_build(cfg.model, "model", shapes[i], 4, &m, &err) == ST_OK) st_model_free(m);
        }
    }
    st_config_free(&cfg);
    free(text);
    return 0;
}
