/* h5util.h — HDF5 helpers shared by the dataset writer/reader (sharding/dataset.c) and the
 * checkpoints (jobs/checkpoint.c): turning HDF5's error stack into st_error_t messages, string
 * attributes, and writing an HDF5 file through an in-memory image.
 *
 * Why in memory: HDF5 1.10.8 cannot recover from a failed H5Fclose on a real file (disk full,
 * file size limit): the file stays half-closed and the library crashes when it shuts down. So a
 * file is built in memory by HDF5's core driver (no backing store), whose buffer is handed to us
 * at close instead of being freed; we write those bytes to a temporary file with our own write()
 * (which reports errno), fsync it, read it back, rename it over the target and fsync the folder
 * (st_h5_image_commit).
 *
 * Sealed files (used by the checkpoints): an HDF5 file created with a 512-byte user block, into
 * which we write, after HDF5 has closed the image, a header with our own signature, a format
 * version, the file's length and a CRC-32 of everything after the block. A reader verifies the
 * header from the raw bytes before HDF5 parses anything, so a damaged file is refused by a
 * checksum instead of reaching HDF5's parser (which can loop forever or crash on some damage). */
#ifndef ST_H5UTIL_H
#define ST_H5UTIL_H

#include <stddef.h>
#include <stdint.h>

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

/* ---- strings ------------------------------------------------------------------------------ */

/* The type of variable-length UTF-8 strings (close it with H5Tclose). */
hid_t st_h5_vlen_str_type(void);

/* Creates the attribute `name` of obj holding variable-length UTF-8 strings: strs[0..n) as a 1-d
 * array, or the one string strs[0] as a scalar when n < 0. Returns 1 on success, 0 on failure
 * (st_h5_detail then says why). */
int st_h5_write_string_attr(hid_t obj, const char *name, const char *const *strs, int n);

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

/* How st_h5_image_commit puts a file in place. */
typedef struct {
    const char *path;            /* the file written (replaced when it exists) */
    const char *tmp;             /* its temporary, next to it (path + ".tmp"): the name HDF5 built it under */
    int oflags;                  /* extra flags for opening the temporary and the folder (O_CLOEXEC or 0) */
    /* Reads the written temporary back before it replaces anything (NULL: no check): returns 1 when
     * it reads, else 0 with the reason in detail[size] (" (...)"). */
    int (*read_back)(const char *tmp, const void *ctx, char *detail, size_t size);
    const void *ctx;
    int folder_sync_required;    /* 1: a folder that cannot be synced fails the write (after the rename) */
} st_h5_commit_t;

/* Finishes a file built in memory through st_h5_image_fapl and closed: writes the image's first n
 * bytes to c->tmp (st_h5_write_image), frees the image (st_h5_image_release), reads the temporary
 * back, renames it over c->path and fsyncs the folder. `failed` (NULL when the file was built)
 * names a step that already failed while building it, with detail (" (HDF5: ...)" or "") in
 * detail[detail_size], which is also the buffer for the details of later steps. Any failure
 * removes the temporary and fails with "<path>: <failed><detail>; nothing was written", e.g.
 *   "x.h5: cannot rename the temporary file over it (Permission denied); nothing was written";
 * a folder that cannot be synced, when c->folder_sync_required, with "<path>: written, but its
 * folder cannot be synced (<reason>): it may not survive a power loss". */
st_status_t st_h5_image_commit(const st_h5_commit_t *c, st_h5_image_t *img, size_t n, const char *failed,
                               char *detail, size_t detail_size, st_error_t *err);

/* The length of a closed image: the end-of-file address of its version 2 superblock, found at
 * byte `userblock` (0, or the user block size it was created with; HDF5 then uses `userblock` as
 * its base address and stores the end of file as an absolute address). 0 when there is no such
 * superblock or the address lies beyond the buffer. */
size_t st_h5_image_length(const st_h5_image_t *img, size_t userblock);

/* ---- sealed files ------------------------------------------------------------------------- */

/* The header in the first bytes of the user block (all integers little-endian):
 *     0  8  signature (the caller's, e.g. "\211STRATA\n" for checkpoints)
 *     8  4  format version (the caller's)
 *    12  4  user block size (ST_H5_SEAL_SIZE)
 *    16  8  file length in bytes, the user block included
 *    24  4  CRC-32 (zlib) of bytes [ST_H5_SEAL_SIZE, file length)
 *    28 .. 507  zero
 *   508  4  CRC-32 of bytes [0, 508) of the block
 * Every byte of a sealed file is covered by exactly one of the two CRCs. */
#define ST_H5_SEAL_SIZE 512

/* Fills image[0, ST_H5_SEAL_SIZE) of a closed image of n bytes (n > ST_H5_SEAL_SIZE, created with
 * H5Pset_userblock(fcpl, ST_H5_SEAL_SIZE)) with the header. */
void st_h5_seal(void *image, size_t n, const char magic[8], uint32_t version);

typedef enum {
    ST_H5_SEAL_OK = 0,     /* the header and both CRCs verify; *version is the header's */
    ST_H5_SEAL_NONE = 1,   /* no seal: the HDF5 signature at byte 0 (a file written before seals) */
    ST_H5_SEAL_FOREIGN = 2,/* neither our signature nor HDF5's at byte 0 (nor one bit or two from them) */
    ST_H5_SEAL_DAMAGED = 3,/* ours, but it does not verify: why[] says what, e.g. "checksum mismatch ..." */
    ST_H5_SEAL_IO = 4,     /* the file cannot be read: why[] has strerror */
    ST_H5_SEAL_TRUNCATED = 5 /* ours, but shorter than its header says (or than the header itself) */
} st_h5_seal_state_t;

/* Checks the seal of the file at `path` from its raw bytes (reading all of it once), without
 * HDF5. why[] gets a reason without the path for DAMAGED ("checksum mismatch: ..."), TRUNCATED
 * ("the file has 100 bytes, its header says 200") and IO, "" otherwise. A signature one or two bits away from `magic` or from HDF5's (at
 * byte 0) counts as DAMAGED, not FOREIGN. */
st_h5_seal_state_t st_h5_seal_check(const char *path, const char magic[8], uint32_t *version, char *why,
                                    size_t why_size);

/* fsyncs the folder holding `path` (opened with O_RDONLY | O_DIRECTORY | oflags), making a rename
 * or unlink in it durable; returns errno (0 also on file systems that cannot sync folders). */
int st_h5_fsync_parent(const char *path, int oflags);

#endif
