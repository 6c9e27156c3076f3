/* fileio.h — files and folders: reading a whole file into memory (configs, CSVs, run-folder
 * JSON), and the folder helpers the run folder, `strata sbatch` and `strata sweep-report` share. */
#ifndef ST_FILEIO_H
#define ST_FILEIO_H

#include <stddef.h>

#include "st_error.h"

/* The bytes of `path`, NUL-terminated (free with free()); *n (may be NULL) gets the length
 * without the NUL. NULL on failure, with err naming the file: "<path>: cannot open: <reason>",
 * "<path>: read error", "<path>: out of memory reading the file". err may be NULL. */
char *st_read_file(const char *path, size_t *n, st_error_t *err);

/* 1 when `path` is a folder (following symbolic links), else 0. */
int st_is_dir(const char *path);

/* 1 when something exists at `path` (following symbolic links), else 0. */
int st_exists(const char *path);

/* Creates the folder `path` and its missing parents (mode 0777 before the umask), like
 * `mkdir -p`. Fails with ST_ERR_IO naming the first component at fault: "<path>: path too long",
 * "<dir>: cannot create folder: <reason>", "<dir> exists but is not a folder". */
st_status_t st_mkdir_p(const char *path, st_error_t *err);

#endif
