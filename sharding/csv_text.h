/* csv_text.h — the text of a CSV input for csv_record.h, in bounded memory when it can be: a
 * regular file is mapped read-only and the pages the reader has passed are dropped from the
 * process (madvise MADV_DONTNEED; they come back from the page cache if read again), so a 5 GB
 * CSV does not stay resident; anything that cannot be mapped (a pipe, an empty file) is read
 * whole, as before. Used by `strata convert csv`, which reads its input twice. */
#ifndef ST_CSV_TEXT_H
#define ST_CSV_TEXT_H

#include <stddef.h>

#include "st_error.h"

typedef struct {
    char *text;   /* [size] */
    size_t size;
    int mapped;   /* 1: mmap'ed, else malloc'ed */
    size_t dropped; /* bytes from the start already dropped */
} st_csv_text_t;

/* Opens `path` (errors name it, as st_read_file's do). */
st_status_t st_csv_text_open(const char *path, st_csv_text_t *t, st_error_t *err);

/* Drops the mapped pages before `p` (a position in the text) from memory once at least
 * ST_CSV_TEXT_DROP_BYTES more have been read (call it after every record; `all` drops them now);
 * nothing when read whole. Reading the text again from the start works: the pages come back. */
#define ST_CSV_TEXT_DROP_BYTES ((size_t)4 << 20)
void st_csv_text_drop_before(st_csv_text_t *t, const char *p, int all);

void st_csv_text_close(st_csv_text_t *t);

#endif
