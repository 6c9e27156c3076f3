/* test_schema.c — keys bound to struct members (core/schema.h ST_FIELD, st_schema_fill): each C
 * type filled from JSON and from the key's default, unbound and unset keys leaving the struct
 * alone, and the bindings a key cannot fill. */
#include "testutil.h"

#include <cJSON.h>

#include "schema.h"

typedef enum { COLOUR_RED, COLOUR_GREEN, COLOUR_BLUE } colour_t;

typedef struct {
    int count;        /* offset 0: an unbound key must not be mistaken for it */
    long steps;
    uint64_t seed;
    double rate;
    int flag;         /* bool as int */
    colour_t colour;  /* enum from its index in the choices */
    char name[8];
    char mode[8];     /* enum kept as its string */
    struct {
        double inner;
    } nested;
    double optional;  /* optional key without a default */
} bound_t;

enum { K_COUNT, K_STEPS, K_SEED, K_RATE, K_FLAG, K_COLOUR, K_NAME, K_MODE, K_INNER, K_OPTIONAL, K_FREE, N_KEYS };
static const st_key_t keys[N_KEYS] = {
    [K_COUNT] = {"count", ST_K_INT, "3", 0, 100, NULL, "int", ST_FIELD(bound_t, count)},
    [K_STEPS] = {"steps", ST_K_INT, "1000000000000", 0, 1e15, NULL, "long", ST_FIELD(bound_t, steps)},
    [K_SEED] = {"seed", ST_K_INT, "42", 0, 9007199254740991.0, NULL, "uint64_t", ST_FIELD(bound_t, seed)},
    [K_RATE] = {"rate", ST_K_NUM, "0.25", 0, 1, NULL, "double", ST_FIELD(bound_t, rate)},
    [K_FLAG] = {"flag", ST_K_BOOL, "true", 0, 0, NULL, "bool", ST_FIELD(bound_t, flag)},
    [K_COLOUR] = {"colour", ST_K_ENUM, "\"green\"", 0, 0, "red|green|blue", "enum", ST_FIELD(bound_t, colour)},
    [K_NAME] = {"name", ST_K_STR, "\"anon\"", 0, 0, NULL, "chars", ST_FIELD(bound_t, name)},
    [K_MODE] = {"mode", ST_K_ENUM, "\"fast\"", 0, 0, "fast|exact", "enum string", ST_FIELD(bound_t, mode)},
    [K_INNER] = {"inner", ST_K_NUM, "1.5", 0, 10, NULL, "nested member", ST_FIELD(bound_t, nested.inner)},
    [K_OPTIONAL] = {"optional", ST_K_NUM, "", 0, 10, NULL, "no default", ST_FIELD(bound_t, optional)},
    [K_FREE] = {"free", ST_K_INT, "7", 0, 100, NULL, "not bound: read from st_val_t"},
};

static st_status_t read_into(const char *json, bound_t *out, st_val_t *vals, st_error_t *err) {
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    st_status_t rc = st_schema_read(keys, N_KEYS, obj, "t", NULL, vals, err);
    if (rc == ST_OK) rc = st_schema_fill(keys, N_KEYS, vals, "t", out, err);
    cJSON_Delete(obj);
    return rc;
}

static void test_binding_kinds(void **state) {
    (void)state;
    assert_int_equal(keys[K_COUNT].field.kind, ST_F_INT);
    assert_int_equal(keys[K_COUNT].field.offset, 0);
    assert_int_equal(keys[K_STEPS].field.kind, ST_F_LONG);
    assert_int_equal(keys[K_SEED].field.kind, ST_F_U64);
    assert_int_equal(keys[K_RATE].field.kind, ST_F_DOUBLE);
    assert_int_equal(keys[K_FLAG].field.kind, ST_F_INT);
    assert_int_equal(keys[K_COLOUR].field.kind, ST_F_INT);
    assert_int_equal(keys[K_NAME].field.kind, ST_F_CHARS);
    assert_int_equal(keys[K_NAME].field.size, 8);
    assert_int_equal(keys[K_INNER].field.offset, offsetof(bound_t, nested.inner));
    assert_int_equal(keys[K_FREE].field.kind, ST_F_NONE); /* unbound, though its offset is 0 too */
}

static void test_filled_from_json(void **state) {
    (void)state;
    bound_t b;
    memset(&b, 0, sizeof b);
    st_val_t vals[N_KEYS];
    st_error_t err = {0};
    const char *json = "{\"count\": 9, \"steps\": 123456789012, \"seed\": 9007199254740991, \"rate\": 0.5,"
                       " \"flag\": false, \"colour\": \"blue\", \"name\": \"bob\", \"mode\": \"exact\","
                       " \"inner\": 2.5, \"optional\": 4, \"free\": 11}";
    assert_int_equal(read_into(json, &b, vals, &err), ST_OK);
    assert_int_equal(b.count, 9);
    assert_true(b.steps == 123456789012L);
    assert_true(b.seed == 9007199254740991ull);
    assert_true(b.rate == 0.5);
    assert_int_equal(b.flag, 0);
    assert_int_equal(b.colour, COLOUR_BLUE);
    assert_string_equal(b.name, "bob");
    assert_string_equal(b.mode, "exact");
    assert_true(b.nested.inner == 2.5);
    assert_true(b.optional == 4);
    assert_int_equal(vals[K_FREE].i, 11); /* the unbound key is only in its st_val_t */
    assert_int_equal(b.count, 9);         /* ... and did not write offset 0 */
}

static void test_filled_from_defaults(void **state) {
    (void)state;
    bound_t b;
    memset(&b, 0, sizeof b);
    b.optional = -1; /* an optional key without a default leaves its member alone */
    st_val_t vals[N_KEYS];
    st_error_t err = {0};
    assert_int_equal(read_into("{}", &b, vals, &err), ST_OK);
    assert_int_equal(b.count, 3);
    assert_true(b.steps == 1000000000000L);
    assert_true(b.seed == 42);
    assert_true(b.rate == 0.25);
    assert_int_equal(b.flag, 1);
    assert_int_equal(b.colour, COLOUR_GREEN);
    assert_string_equal(b.name, "anon");
    assert_string_equal(b.mode, "fast");
    assert_true(b.nested.inner == 1.5);
    assert_true(b.optional == -1);
    assert_false(vals[K_OPTIONAL].is_set);
}

/* A string that fits st_val_t but not its char array. */
static void test_string_longer_than_member(void **state) {
    (void)state;
    bound_t b;
    memset(&b, 0, sizeof b);
    st_val_t vals[N_KEYS];
    st_error_t err = {0};
    assert_int_equal(read_into("{\"name\": \"12345678\"}", &b, vals, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "t.name: longer than 7 characters");
    assert_int_equal(read_into("{\"name\": \"1234567\"}", &b, vals, &err), ST_OK);
    assert_string_equal(b.name, "1234567");
}

/* Bindings a key cannot fill are errors of the table, found on the first read. */
static void test_bad_bindings(void **state) {
    (void)state;
    bound_t b;
    st_val_t v = {.is_set = 1, .i = 5, .num = 5};
    st_error_t err = {0};
    const st_key_t too_wide = {"count", ST_K_INT, "1", 0, 1e15, NULL, "int member, long bounds", ST_FIELD(bound_t, count)};
    assert_int_equal(st_schema_fill(&too_wide, 1, &v, "t", &b, &err), ST_ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "t.count: "));
    const st_key_t negative = {"seed", ST_K_INT, "1", -1, 10, NULL, "uint64_t member, negative bounds",
                               ST_FIELD(bound_t, seed)};
    assert_int_equal(st_schema_fill(&negative, 1, &v, "t", &b, &err), ST_ERR_INTERNAL);
    const st_key_t num_to_long = {"steps", ST_K_NUM, "1", 0, 10, NULL, "number into a long", ST_FIELD(bound_t, steps)};
    assert_int_equal(st_schema_fill(&num_to_long, 1, &v, "t", &b, &err), ST_ERR_INTERNAL);
    const st_key_t list = {"rate", ST_K_NUMS, "", 0, 10, NULL, "a list into a double", ST_FIELD(bound_t, rate)};
    assert_int_equal(st_schema_fill(&list, 1, &v, "t", &b, &err), ST_ERR_INTERNAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binding_kinds),
        cmocka_unit_test(test_filled_from_json),
        cmocka_unit_test(test_filled_from_defaults),
        cmocka_unit_test(test_string_longer_than_member),
        cmocka_unit_test(test_bad_bindings),
    };
    return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
