/* csv_intern.c — a set of strings by open addressing (csv_intern.h). */
#include "csv_intern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

static size_t slot_of(char *const *slots, size_t cap, const char *s) {
    size_t i = (size_t)st_fnv1a64(ST_FNV1A64_BASIS, s, strlen(s)) & (cap - 1);
    while (slots[i] && strcmp(slots[i], s) != 0) i = (i + 1) & (cap - 1);
    return i;
}

/* Doubles the table (cap a power of two, at least 64). */
static int grow(st_csv_intern_t *t) {
    size_t cap = t->cap ? 2 * t->cap : 64;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots) return 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) slots[slot_of(slots, cap, t->slots[i])] = t->slots[i];
    free(t->slots);
    t->slots = slots, t->cap = cap;
    return 1;
}

const char *st_csv_intern(st_csv_intern_t *t, const char *s) {
    if (2 * (t->n + 1) > t->cap && !grow(t)) return NULL;
    size_t i = slot_of(t->slots, t->cap, s);
    if (!t->slots[i]) {
        if (!(t->slots[i] = strdup(s))) return NULL;
        t->n++;
    }
    return t->slots[i];
}

void st_csv_intern_free(st_csv_intern_t *t) {
    for (size_t i = 0; i < t->cap; i++) free(t->slots[i]);
    free(t->slots);
    t->slots = NULL, t->cap = t->n = 0;
}
