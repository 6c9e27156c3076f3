/* fileio.h — reading a whole file into memory (configs, CSVs, run-folder JSON). */
#ifndef ST_FILEIO_H
#define ST_FILEIO_H

#include <stddef.h>

#include "st_error.h"

/* The bytes of `path`, NUL-terminated (free with free()); *n (may be NULL) gets the length
 * without the NUL. NULL on failure, with err naming the file: "<path>: cannot open: <reason>",
 * "<path>: read error", "<path>: out of memory reading the file". err may be NULL. */
char *st_read_file(const char *path, size_t *n, st_error_t *err);

#endif
