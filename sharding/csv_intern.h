/* csv_intern.h — each distinct string stored once: the label cells of `strata convert csv`, so
 * that a row costs a pointer (8 bytes) instead of its own copy of "3" (a 32-byte allocation),
 * which made label text the largest per-row cost of a CSV conversion once /X was streamed.
 * Open addressing over FNV-1a (core/hash.h), doubled at half full. */
#ifndef ST_CSV_INTERN_H
#define ST_CSV_INTERN_H

#include <stddef.h>

typedef struct {
    char **slots;   /* [cap]: the strings (NULL: empty) */
    size_t cap, n;
} st_csv_intern_t;

/* The stored copy of s (added when new); NULL when out of memory. The copy lives until
 * st_csv_intern_free. */
const char *st_csv_intern(st_csv_intern_t *t, const char *s);
void st_csv_intern_free(st_csv_intern_t *t);

#endif
