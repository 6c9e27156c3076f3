/* test_class_weights.c — "balanced" class weights come from the training split's counts and are
 * stored by class id: with ids appearing out of order and one rare class, weight[c] must be
 * N_train / (K · n_c) of class c itself (the bug this guards against: weights listed in order
 * of first appearance, or by sorted count, and so mapped to the wrong class). */
#include "testutil.h"

#include <stdlib.h>

#include "loss.h"
#include "sharding/split.h"

enum { N = 3000, K = 4 };

/* Class 3 first and most common, class 0 next, class 2 rare (30 rows), class 1 last. */
static int32_t label_of(int i) {
    if (i < 1500) return 3;
    if (i < 2400) return 0;
    if (i % 20 == 0) return 2;
    return 1;
}

static void test_balanced_weights_belong_to_their_class(void **s) {
    (void)s;
    int32_t *y = malloc(sizeof(int32_t) * N);
    uint8_t *split = malloc(N);
    for (int i = 0; i < N; i++) y[i] = label_of(i);
    st_error_t err = {0};
    assert_int_equal(st_split_make(split, y, NULL, NULL, NULL, 9, N, K, &err), ST_OK);
    int64_t counts[K] = {0}, by_hand[K] = {0}, n_train = 0;
    assert_int_equal(st_class_counts(counts, y, split, ST_SPLIT_TRAIN, N, K, &err), ST_OK);
    for (int i = 0; i < N; i++)
        if (split[i] == ST_SPLIT_TRAIN) by_hand[y[i]]++, n_train++;
    for (int c = 0; c < K; c++) assert_int_equal(counts[c], by_hand[c]);
    assert_true(counts[2] < counts[1] && counts[1] < counts[0] && counts[0] < counts[3]);

    cJSON *obj = cJSON_Parse("{\"type\":\"cross_entropy\",\"class_weights\":\"balanced\"}");
    st_loss_config_t cfg;
    assert_int_equal(st_loss_parse(obj, "loss", K, &cfg, &err), ST_OK);
    assert_int_equal(st_loss_resolve_balanced(&cfg, counts, &err), ST_OK);
    for (int c = 0; c < K; c++)
        assert_float_equal(cfg.class_weights[c], (double)n_train / (K * (double)by_hand[c]), 1e-5);
    /* The rare class gets the largest weight, the most common the smallest. */
    assert_true(cfg.class_weights[2] > cfg.class_weights[1] && cfg.class_weights[1] > cfg.class_weights[0] &&
                cfg.class_weights[0] > cfg.class_weights[3]);
    /* And the loss uses them by label: a batch of one row of class 2 weighs weight[2]. */
    int32_t one = 2;
    assert_float_equal(st_loss_weight_total(&cfg, &one, 1), cfg.class_weights[2], 1e-6);
    st_loss_config_free(&cfg);
    cJSON_Delete(obj);
    free(y), free(split);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_balanced_weights_belong_to_their_class)};
    return cmocka_run_group_tests_name("class_weights", tests, NULL, NULL);
}
