/* schema.c — validation of JSON objects against key tables, the values written into the struct
 * members keys are bound to, and the tables' documentation. */
#include "schema.h"

#include <limits.h>
#include <math.h>
#include <string.h>

int st_schema_find(const st_key_t *keys, int n_keys, const char *key) {
    for (int i = 0; i < n_keys; i++)
        if (strcmp(keys[i].key, key) == 0) return i;
    return -1;
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

const char *st_closest_word(const char *word, const char *const *candidates, int n) {
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, candidates[i]);
        if (d < best_d) best_d = d, best = candidates[i];
    }
    int limit = (int)strlen(word) / 3 + 1;
    return best_d <= (limit > 3 ? 3 : limit) ? best : NULL;
}

void st_schema_describe_type(const st_key_t *k, char *buf, int size) {
    switch (k->type) {
    case ST_K_INT:
        if (k->min >= 1 && k->max >= 1e15) snprintf(buf, size, "a positive integer");
        else if (k->min >= 0 && k->max >= 1e15) snprintf(buf, size, "a non-negative integer");
        else snprintf(buf, size, "an integer in [%g, %g]", k->min, k->max);
        break;
    case ST_K_NUM:
        if (k->max >= 1e300) snprintf(buf, size, "a number >= %g", k->min);
        else snprintf(buf, size, "a number in [%g, %g]", k->min, k->max);
        break;
    case ST_K_BOOL: snprintf(buf, size, "true or false"); break;
    case ST_K_ENUM: snprintf(buf, size, "one of %s", k->choices); break;
    case ST_K_STR: snprintf(buf, size, "a string"); break;
    case ST_K_INTS: snprintf(buf, size, "a list of integers in [%g, %g]", k->min, k->max); break;
    case ST_K_NUMS: snprintf(buf, size, "a list of numbers in [%g, %g]", k->min, k->max); break;
    case ST_K_NUM_OR_NUMS:
        snprintf(buf, size, "a number or a list of numbers in [%g, %g]", k->min, k->max);
        break;
    case ST_K_UNITS: snprintf(buf, size, "a positive integer or \"classes\""); break;
    }
}

/* What the user wrote, for error messages: strings quoted, others printed as JSON. */
static void describe_got(const cJSON *v, char *buf, int size) {
    char *txt = cJSON_PrintUnformatted(v);
    snprintf(buf, size, "%s", txt ? txt : "?");
    if (strlen(buf) > 60) strcpy(buf + 57, "...");
    cJSON_free(txt);
}

static st_status_t type_error(const st_key_t *k, const cJSON *v, const char *path, st_error_t *err) {
    char want[160], got[80];
    st_schema_describe_type(k, want, sizeof want);
    describe_got(v, got, sizeof got);
    return st_fail(err, ST_ERR_CONFIG, "%s.%s: expected %s, got %s", path, k->key, want, got);
}

static int is_integer(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static int in_bounds(const st_key_t *k, double x) { return x >= k->min && x <= k->max; }

static st_status_t read_list(const st_key_t *k, const cJSON *v, const char *path, st_val_t *out,
                             int integers, st_error_t *err) {
    if (!cJSON_IsArray(v)) return type_error(k, v, path, err);
    int n = cJSON_GetArraySize(v);
    if (n > ST_LIST_MAX)
        return st_fail(err, ST_ERR_CONFIG, "%s.%s: at most %d values, got %d", path, k->key,
                       ST_LIST_MAX, n);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (integers ? !is_integer(e) : !cJSON_IsNumber(e)) return type_error(k, v, path, err);
        if (!in_bounds(k, e->valuedouble)) return type_error(k, v, path, err);
        out->list[i] = e->valuedouble;
    }
    out->n = n;
    return ST_OK;
}

static st_status_t read_value(const st_key_t *k, const cJSON *v, const char *path, st_val_t *out,
                              st_error_t *err) {
    switch (k->type) {
    case ST_K_INT:
        if (!is_integer(v) || !in_bounds(k, v->valuedouble)) return type_error(k, v, path, err);
        out->i = (long)v->valuedouble;
        break;
    case ST_K_NUM:
        if (!cJSON_IsNumber(v) || !in_bounds(k, v->valuedouble)) return type_error(k, v, path, err);
        out->num = v->valuedouble;
        break;
    case ST_K_BOOL:
        if (!cJSON_IsBool(v)) return type_error(k, v, path, err);
        out->b = cJSON_IsTrue(v);
        break;
    case ST_K_ENUM: {
        if (!cJSON_IsString(v)) return type_error(k, v, path, err);
        char pat[256];
        snprintf(pat, sizeof pat, "|%s|", k->choices);
        char needle[80];
        snprintf(needle, sizeof needle, "|%s|", v->valuestring);
        if (strlen(v->valuestring) == 0 || !strstr(pat, needle)) return type_error(k, v, path, err);
        snprintf(out->s, sizeof out->s, "%s", v->valuestring);
        break;
    }
    case ST_K_STR:
        if (!cJSON_IsString(v)) return type_error(k, v, path, err);
        if (strlen(v->valuestring) >= sizeof out->s)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: longer than %zu characters", path, k->key,
                           sizeof out->s - 1);
        snprintf(out->s, sizeof out->s, "%s", v->valuestring);
        break;
    case ST_K_INTS: return read_list(k, v, path, out, 1, err);
    case ST_K_NUMS: return read_list(k, v, path, out, 0, err);
    case ST_K_NUM_OR_NUMS:
        if (cJSON_IsArray(v)) return read_list(k, v, path, out, 0, err);
        if (!cJSON_IsNumber(v) || !in_bounds(k, v->valuedouble)) return type_error(k, v, path, err);
        out->num = v->valuedouble;
        out->n = 0;
        break;
    case ST_K_UNITS:
        if (cJSON_IsString(v) && strcmp(v->valuestring, "classes") == 0) {
            out->i = -1;
            break;
        }
        if (!is_integer(v) || v->valuedouble < 1 || v->valuedouble > 1e9)
            return type_error(k, v, path, err);
        out->i = (long)v->valuedouble;
        break;
    }
    return ST_OK;
}

static st_status_t unknown_key(const st_key_t *keys, int n_keys, const char *key, const char *path,
                               const char *const *skip, st_error_t *err) {
    const char *names[96];
    int n = 0;
    char known[1024] = "";
    for (int i = 0; i < n_keys && n < 96; i++) names[n++] = keys[i].key;
    for (int i = 0; skip && skip[i] && n < 96; i++) names[n++] = skip[i];
    for (int i = 0; i < n; i++) {
        if (strlen(known) + strlen(names[i]) + 3 >= sizeof known) break;
        if (i) strcat(known, ", ");
        strcat(known, names[i]);
    }
    const char *near = st_closest_word(key, names, n);
    if (near)
        return st_fail(err, ST_ERR_CONFIG, "%s: unknown key \"%s\" (did you mean \"%s\"?); known keys: %s",
                       path, key, near, known);
    return st_fail(err, ST_ERR_CONFIG, "%s: unknown key \"%s\"; known keys: %s", path, key, known);
}

static int is_skipped(const char *key, const char *const *skip) {
    for (int i = 0; skip && skip[i]; i++)
        if (strcmp(skip[i], key) == 0) return 1;
    return 0;
}

st_status_t st_schema_read(const st_key_t *keys, int n_keys, const cJSON *obj, const char *path,
                           const char *const *skip, st_val_t *vals, st_error_t *err) {
    if (!cJSON_IsObject(obj)) {
        char got[80];
        describe_got(obj, got, sizeof got);
        return st_fail(err, ST_ERR_CONFIG, "%s: expected an object, got %s", path, got);
    }
    for (const cJSON *it = obj->child; it; it = it->next)
        if (st_schema_find(keys, n_keys, it->string) < 0 && !is_skipped(it->string, skip))
            return unknown_key(keys, n_keys, it->string, path, skip, err);
    for (int i = 0; i < n_keys; i++) {
        const st_key_t *k = &keys[i];
        memset(&vals[i], 0, sizeof vals[i]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, k->key);
        cJSON *def = NULL;
        if (!v || cJSON_IsNull(v)) {
            if (!k->def) return st_fail(err, ST_ERR_CONFIG, "%s.%s: required key is missing", path, k->key);
            if (!k->def[0]) continue;
            def = cJSON_Parse(k->def);
            if (!def) return st_fail(err, ST_ERR_INTERNAL, "%s.%s: bad default %s", path, k->key, k->def);
            v = def;
        }
        st_status_t rc = read_value(k, v, path, &vals[i], err);
        cJSON_Delete(def);
        if (rc != ST_OK) return rc;
        vals[i].is_set = 1;
    }
    return ST_OK;
}

/* ---- filling bound members ---- */

/* Index of `word` in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *word) {
    size_t n = strlen(word);
    const char *c = choices;
    for (int i = 0;; i++) {
        if (strncmp(c, word, n) == 0 && (c[n] == '|' || c[n] == 0)) return i;
        if (!(c = strchr(c, '|'))) return -1;
        c++;
    }
}

static st_status_t bad_binding(const st_key_t *k, const char *path, const char *why, st_error_t *err) {
    return st_fail(err, ST_ERR_INTERNAL, "%s.%s: the key table binds it to a member %s", path, k->key, why);
}

/* The value of key k, converted to the C type of its member, into `at`. */
static st_status_t fill_one(const st_key_t *k, const st_val_t *v, const char *path, char *at, st_error_t *err) {
    const st_field_t *f = &k->field;
    int kind = f->kind, is_int = k->type == ST_K_INT;
    if (kind == ST_F_INT && is_int && (k->min < INT_MIN || k->max > INT_MAX))
        return bad_binding(k, path, "of type int, which cannot hold its bounds", err);
    if (kind == ST_F_U64 && is_int && k->min < 0)
        return bad_binding(k, path, "of type uint64_t, but its bounds allow negative values", err);
    if (kind == ST_F_INT && (is_int || k->type == ST_K_BOOL || k->type == ST_K_ENUM)) {
        int x = is_int ? (int)v->i : k->type == ST_K_BOOL ? v->b : choice_index(k->choices, v->s);
        memcpy(at, &x, sizeof x);
    } else if (kind == ST_F_LONG && is_int) {
        long x = v->i;
        memcpy(at, &x, sizeof x);
    } else if (kind == ST_F_U64 && is_int) {
        uint64_t x = (uint64_t)v->i;
        memcpy(at, &x, sizeof x);
    } else if (kind == ST_F_DOUBLE && k->type == ST_K_NUM) {
        memcpy(at, &v->num, sizeof v->num);
    } else if (kind == ST_F_CHARS && (k->type == ST_K_STR || k->type == ST_K_ENUM)) {
        size_t n = strlen(v->s);
        if (n >= f->size)
            return st_fail(err, ST_ERR_CONFIG, "%s.%s: longer than %zu characters", path, k->key, f->size - 1);
        memcpy(at, v->s, n + 1);
    } else
        return bad_binding(k, path, "whose C type its key type does not convert to", err);
    return ST_OK;
}

st_status_t st_schema_fill(const st_key_t *keys, int n_keys, const st_val_t *vals, const char *path, void *dst,
                           st_error_t *err) {
    for (int i = 0; i < n_keys; i++)
        if (keys[i].field.kind != ST_F_NONE && vals[i].is_set)
            ST_TRY(fill_one(&keys[i], &vals[i], path, (char *)dst + keys[i].field.offset, err));
    return ST_OK;
}

/* ---- documentation ---- */

void st_schema_markdown(FILE *out, const st_key_t *keys, int n_keys) {
    fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (int i = 0; i < n_keys; i++) {
        char type[160];
        st_schema_describe_type(&keys[i], type, sizeof type);
        const char *def = keys[i].def ? (keys[i].def[0] ? keys[i].def : "(see meaning)") : "required";
        fprintf(out, "| `%s` | %s | `%s` | %s |\n", keys[i].key, type, def, keys[i].help);
    }
}

/* ---- duplicate keys ---- */

static void child_path(char *out, size_t size, const char *path, const cJSON *parent, const cJSON *child, int index) {
    if (cJSON_IsArray(parent)) snprintf(out, size, "%s[%d]", path, index);
    else if (path[0]) snprintf(out, size, "%s.%s", path, child->string);
    else snprintf(out, size, "%s", child->string);
}

st_status_t st_json_check_unique_keys(const cJSON *root, const char *path, st_error_t *err) {
    if (cJSON_IsObject(root))
        for (const cJSON *a = root->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (a->string && b->string && strcmp(a->string, b->string) == 0)
                    return st_fail(err, ST_ERR_CONFIG, "%s%sthe key \"%s\" appears twice", path, path[0] ? ": " : "",
                                   a->string);
    int i = 0;
    for (const cJSON *c = root->child; c && (cJSON_IsObject(root) || cJSON_IsArray(root)); c = c->next, i++) {
        if (!cJSON_IsObject(c) && !cJSON_IsArray(c)) continue;
        char sub[512];
        child_path(sub, sizeof sub, path, root, c, i);
        ST_TRY(st_json_check_unique_keys(c, sub, err));
    }
    return ST_OK;
}
