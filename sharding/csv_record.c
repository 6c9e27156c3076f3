/* csv_record.c — the RFC 4180 record reader of csv_record.h (moved out of convert_csv.c so the
 * audio manifest reader uses the same rules): fields are decoded into one growing buffer with
 * an offset table, so a record costs no allocation once the buffers have grown. */
#include "csv_record.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataset.h"

void st_csv_rec_init(st_csv_rec_t *c, const char *path, const char *text, size_t size) {
    *c = (st_csv_rec_t){.path = path, .p = text, .end = text + size, .line = 1};
    if (size >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb && (unsigned char)text[2] == 0xbf)
        c->p += 3;
}

void st_csv_rec_free(st_csv_rec_t *c) {
    free(c->buf);
    free(c->off);
    c->buf = NULL;
    c->off = NULL;
}


static int put(st_csv_rec_t *c, char ch) {
    if (c->buf_len == c->buf_cap) {
        size_t cap = c->buf_cap ? 2 * c->buf_cap : 256;
        char *b = realloc(c->buf, cap);
        if (!b) return 0;
        c->buf = b;
        c->buf_cap = cap;
    }
    c->buf[c->buf_len++] = ch;
    return 1;
}

static int start_field(st_csv_rec_t *c) {
    if (c->n_fields == c->off_cap) {
        int cap = c->off_cap ? 2 * c->off_cap : 16;
        size_t *o = realloc(c->off, (size_t)cap * sizeof *o);
        if (!o) return 0;
        c->off = o;
        c->off_cap = cap;
    }
    c->off[c->n_fields++] = c->buf_len;
    return 1;
}

/* A NUL byte would silently end the cell or name it is in: always an error. */
static int nul_byte(const st_csv_rec_t *c, st_error_t *err) {
    st_fail(err, ST_ERR_DATA, "%s: line %ld, field %d: a NUL byte (a binary or UTF-16 file? strata reads UTF-8 CSV)",
            c->path, c->line, c->n_fields);
    return -1;
}

int st_csv_rec_next(st_csv_rec_t *c, long *line, st_error_t *err) {
    for (;;) {
        if (c->p >= c->end) return 0;
        if (*c->p == '\n' || (*c->p == '\r')) { /* blank line */
            if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') c->p++;
            c->p++;
            c->line++;
            continue;
        }
        break;
    }
    *line = c->line;
    c->buf_len = 0;
    c->n_fields = 0;
    for (;;) {
        if (!start_field(c)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
        if (c->p < c->end && *c->p == '"') {
            long quote_line = c->line;
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    st_fail(err, ST_ERR_DATA, "%s: line %ld: a quoted field is never closed", c->path, quote_line);
                    return -1;
                }
                char ch = *c->p++;
                if (ch == '\0') return nul_byte(c, err);
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') c->p++;
                    else break;
                } else if (ch == '\n') {
                    c->line++;
                }
                if (!put(c, ch)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
            }
            while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                st_fail(err, ST_ERR_DATA, "%s: line %ld: unexpected text after a closing quote in field %d", c->path,
                        c->line, c->n_fields);
                return -1;
            }
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (*c->p == '\0') return nul_byte(c, err);
                if (!put(c, *c->p++)) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
            }
        }
        if (!put(c, '\0')) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", c->path), -1;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end) { /* end of line */
            if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') c->p++;
            c->p++;
            c->line++;
        }
        return 1;
    }
}

/* Trims spaces and tabs in place. */
char *st_csv_trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

const char *st_csv_parse_split(const char *s, uint8_t *out, char *why, size_t size) {
    if (!strcasecmp(s, "train") || !strcmp(s, "0")) *out = ST_SPLIT_TRAIN;
    else if (!strcasecmp(s, "val") || !strcasecmp(s, "validation") || !strcmp(s, "1")) *out = ST_SPLIT_VAL;
    else if (!strcasecmp(s, "test") || !strcmp(s, "2")) *out = ST_SPLIT_TEST;
    else return st_format(why, size, "\"%.40s\" is not train, val or test", s), why;
    return NULL;
}

