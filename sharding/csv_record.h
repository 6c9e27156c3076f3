/* csv_record.h — the CSV record reader shared by `strata convert csv` and the audio manifest
 * reader (sharding/manifest.c): RFC 4180 basics over a text held in memory, one record at a
 * time into a scratch buffer, and the cell helpers both use (trimming, split values).
 *
 * Rules: comma separator; double-quoted fields may hold commas, newlines and "" for a quote;
 * LF or CRLF line ends, the last line may lack one; a UTF-8 byte-order mark is skipped; blank
 * lines are skipped; a NUL byte anywhere is an error (a binary or UTF-16 file). Errors name the
 * file and the line (1-based, in the file). */
#ifndef ST_CSV_RECORD_H
#define ST_CSV_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

typedef struct {
    const char *path;     /* for messages */
    const char *p, *end;  /* unread input */
    long line;            /* line number of *p, 1-based */
    char *buf;            /* the current record's decoded fields, each NUL-terminated */
    size_t buf_len, buf_cap;
    size_t *off;          /* [n_fields] field start offsets into buf */
    int n_fields, off_cap;
} st_csv_rec_t;

/* Starts reading text [size] (kept by the caller until st_csv_rec_free); skips a BOM. */
void st_csv_rec_init(st_csv_rec_t *c, const char *path, const char *text, size_t size);
void st_csv_rec_free(st_csv_rec_t *c);

/* Decodes the next record. Returns 1 with *line = its first line, 0 at the end of the input,
 * -1 on an error (err filled). */
int st_csv_rec_next(st_csv_rec_t *c, long *line, st_error_t *err);

/* Field i (0 <= i < n_fields) of the current record; writable until the next record. */
static inline char *st_csv_rec_field(const st_csv_rec_t *c, int i) { return c->buf + c->off[i]; }

/* Trims spaces and tabs in place; returns the trimmed start. */
char *st_csv_trim(char *s);

/* A split cell: train/val/validation/test (any case) or 0/1/2 → ST_SPLIT_*; NULL, or why it is
 * bad (written into why). */
const char *st_csv_parse_split(const char *s, uint8_t *out, char *why, size_t size);

#endif
