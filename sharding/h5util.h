/* h5util.h — HDF5 helpers shared by the dataset writer/reader (sharding/dataset.c) and the
 * checkpoints (jobs/checkpoint.c): turning HDF5's error stack into st_error_t messages, and
 * writing an HDF5 file through an in-memory image.
 *
 * Why in memory: HDF5 1.10.8 cannot recover from a failed H5Fclose on a real file (disk full,
 * file size limit): the file stays half-closed and the library crashes when it shuts down. So a
 * file is built in memory by HDF5's core driver (no backing store), whose buffer is handed to us
 * at close instead of being freed; we write those bytes to a temporary file with our own write()
 * (which reports errno), fsync it, rename it over the target and fsync the folder. */
#ifndef ST_H5UTIL_H
#define ST_H5UTIL_H

#include <stddef.h>

#include <hdf5.h>

#include "st_error.h"

/* ---- error stack -------------------------------------------------------------------------- */

/* Stops HDF5 printing its error stack to stderr (every entry point calls it). */
void st_h5_quiet(void);

/* HDF5's innermost error message as " (HDF5: …)", or "" when the stack is empty; clears the
 * stack. */
void st_h5_detail(char *buf, size_t size);

/* Fails with "<path>: <what>" followed by st_h5_detail's text; returns code. */
st_status_t st_h5_fail(st_error_t *err, st_status_t code, const char *path, const char *what);

/* Closes *id with fn when it is valid and sets it to -1. */
void st_h5_close_id(hid_t *id, herr_t (*fn)(hid_t));

/* ---- in-memory file images ---------------------------------------------------------------- */

/* The core driver's buffer: mem and the bytes allocated at it; kept is set when the driver hands
 * it over at file close (the caller then owns mem: st_h5_image_release frees it). */
typedef struct {
    void *mem;
    size_t size;
    int kept;
} st_h5_image_t;

/* A new file access list for the core driver (growing in steps of `increment` bytes, no backing
 * store) whose image callbacks keep the buffer in *img at close. *img must be zeroed and must
 * outlive the file. The caller closes the list (H5Pclose). */
hid_t st_h5_image_fapl(st_h5_image_t *img, size_t increment);

/* Frees the buffer handed over at close, if any. */
void st_h5_image_release(st_h5_image_t *img);

/* Writes n bytes to a new file at `tmp` (opened with O_WRONLY | O_CREAT | O_TRUNC | oflags, mode
 * 0666) and fsyncs it; returns errno (0 on success). */
int st_h5_write_image(const char *tmp, const void *buf, size_t n, int oflags);

/* What to say when st_h5_write_image failed with errno e: "cannot create the temporary file" or
 * "cannot write the file". */
const char *st_h5_write_failure(int e);

/* fsyncs the folder holding `path` (opened with O_RDONLY | O_DIRECTORY | oflags), making a rename
 * or unlink in it durable; returns errno (0 also on file systems that cannot sync folders). */
int st_h5_fsync_parent(const char *path, int oflags);

#endif
