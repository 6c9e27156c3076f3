/* fileio.c — see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *st_read_file(const char *path, size_t *n, st_error_t *err) {
    if (st_is_dir(path)) return st_fail(err, ST_ERR_IO, "%s: is a folder, not a file", path), NULL;
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

int st_is_dir(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

int st_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

st_status_t st_mkdir_p(const char *path, st_error_t *err) {
    char p[4096];
    if (st_format(p, sizeof p, "%s", path)) return st_fail(err, ST_ERR_IO, "%s: path too long", path);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char keep = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return st_fail(err, ST_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
        if (!st_is_dir(p)) return st_fail(err, ST_ERR_IO, "%s exists but is not a folder", p);
        *s = keep;
        if (keep == '\0') break;
    }
    return ST_OK;
}
