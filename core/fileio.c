/* fileio.c — see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *st_read_file(const char *path, size_t *n, st_error_t *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno)), NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1) break;
        char *b = realloc(buf, cap * 2);
        if (!b) free(buf);
        buf = b, cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading the file", path), NULL;
    if (bad) return free(buf), st_fail(err, ST_ERR_IO, "%s: read error", path), NULL;
    buf[len] = '\0';
    if (n) *n = len;
    return buf;
}
