/* h5util.c — HDF5 helpers shared by sharding/dataset.c and jobs/checkpoint.c (sharding/h5util.h):
 * error-stack messages, string attributes, the in-memory file image that we write to disk
 * ourselves because HDF5 1.10.8 crashes at shutdown after a failed H5Fclose on a real file, and
 * sealed files: a checksummed header in the HDF5 user block, verified before HDF5 parses a byte. */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

/* ---- error stack -------------------------------------------------------------------------- */

void st_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t walk_innermost(unsigned n, const H5E_error2_t *e, void *data) {
    if (n == 0 && e->desc) st_format((char *)data, 200, "%s", e->desc);
    return 0;
}

void st_h5_detail(char *buf, size_t size) {
    char desc[200] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_innermost, desc);
    if (desc[0]) st_format(buf, size, " (HDF5: %s)", desc);
    else buf[0] = '\0';
    H5Eclear2(H5E_DEFAULT);
}

st_status_t st_h5_fail(st_error_t *err, st_status_t code, const char *path, const char *what) {
    char detail[256];
    st_h5_detail(detail, sizeof detail);
    return st_fail(err, code, "%s: %s%s", path, what, detail);
}

void st_h5_close_id(hid_t *id, herr_t (*fn)(hid_t)) {
    if (*id >= 0) fn(*id);
    *id = -1;
}

/* ---- strings ------------------------------------------------------------------------------ */

hid_t st_h5_vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int st_h5_write_string_attr(hid_t obj, const char *name, const char *const *strs, int n) {
    hid_t t = st_h5_vlen_str_type();
    hsize_t dim = (hsize_t)(n < 0 ? 1 : n);
    hid_t s = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, t, strs) >= 0;
    if (a >= 0) ok = H5Aclose(a) >= 0 && ok;
    H5Sclose(s);
    H5Tclose(t);
    return ok;
}

/* ---- in-memory file images ---------------------------------------------------------------- */

/* The core driver's image callbacks: they track the buffer in the st_h5_image_t and, at file
 * close, keep it instead of freeing it, so the bytes we write are those of a cleanly closed file. */
static void *image_malloc(size_t n, H5FD_file_image_op_t op, void *u) {
    (void)op;
    void *p = malloc(n);
    if (p) ((st_h5_image_t *)u)->mem = p, ((st_h5_image_t *)u)->size = n;
    return p;
}

static void *image_memcpy(void *dst, const void *src, size_t n, H5FD_file_image_op_t op, void *u) {
    (void)op;
    (void)u;
    return memcpy(dst, src, n);
}

static void *image_realloc(void *ptr, size_t n, H5FD_file_image_op_t op, void *u) {
    (void)op;
    void *p = realloc(ptr, n);
    if (p) ((st_h5_image_t *)u)->mem = p, ((st_h5_image_t *)u)->size = n;
    return p;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *u) {
    st_h5_image_t *img = u;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr == img->mem) {
        img->kept = 1;
        return 0;
    }
    if (ptr == img->mem) img->mem = NULL;
    free(ptr);
    return 0;
}

static void *image_udata_copy(void *u) { return u; }
static herr_t image_udata_free(void *u) {
    (void)u;
    return 0;
}

hid_t st_h5_image_fapl(st_h5_image_t *img, size_t increment) {
    H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free,
                                      image_udata_copy, image_udata_free, img};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, increment, 0);
    H5Pset_file_image_callbacks(fapl, &cb);
    return fapl;
}

void st_h5_image_release(st_h5_image_t *img) {
    if (img->kept) free(img->mem);
}

int st_h5_write_image(const char *tmp, const void *buf, size_t n, int oflags) {
    const char *b = buf;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | oflags, 0666);
    if (fd < 0) return errno;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, b + done, n - done > (1u << 30) ? (1u << 30) : n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            return e;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    return close(fd) == 0 ? 0 : errno;
}

const char *st_h5_write_failure(int e) {
    return e == ENOENT || e == EACCES || e == EROFS ? "cannot create the temporary file" : "cannot write the file";
}

/* A closed image is the bytes of a cleanly closed file (the core driver hands its buffer over at
 * close, see image_free), but the buffer is larger than the file: it grows in whole increments.
 * The file's length is the "end of file address" of its version 2 superblock (HDF5 file format
 * specification: signature 8 bytes, version, sizes of offsets and lengths, flags, then base,
 * extension and end-of-file addresses of 8 bytes each, at 12, 20 and 28). With a user block the
 * superblock follows it, the base address is the block's size, and the end of file is stored as
 * base + relative end, i.e. absolute (checked: a 512-byte block gives base 512, end = file size). */
size_t st_h5_image_length(const st_h5_image_t *img, size_t userblock) {
    const unsigned char *b = img->mem;
    if (!b || img->size < userblock + 48) return 0;
    b += userblock;
    if (memcmp(b, "\211HDF\r\n\032\n", 8) != 0 || b[8] != 2 || b[9] != 8) return 0;
    uint64_t base = 0, eof = 0;
    for (int i = 7; i >= 0; i--) base = base << 8 | b[12 + i], eof = eof << 8 | b[28 + i];
    if (base != userblock) return 0;
    return eof >= userblock + 48 && eof <= img->size ? (size_t)eof : 0;
}

/* ---- sealed files ------------------------------------------------------------------------- */

static const unsigned char HDF5_SIGNATURE[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void st_h5_seal(void *image, size_t n, const char magic[8], uint32_t version) {
    unsigned char *b = image;
    memset(b, 0, ST_H5_SEAL_SIZE);
    memcpy(b, magic, 8);
    put_le(b + 8, version, 4);
    put_le(b + 12, ST_H5_SEAL_SIZE, 4);
    put_le(b + 16, n, 8);
    put_le(b + 24, crc32_z(0, b + ST_H5_SEAL_SIZE, n - ST_H5_SEAL_SIZE), 4);
    put_le(b + 508, crc32_z(0, b, 508), 4);
}

/* Bits in which the 8 bytes at a and b differ. */
static int bit_distance(const unsigned char *a, const unsigned char *b) {
    int d = 0;
    for (int i = 0; i < 8; i++) d += __builtin_popcount((unsigned)(a[i] ^ b[i]));
    return d;
}

/* CRC-32 of bytes [from, to) of fd; returns errno (EIO for a short file). */
static int crc_range(int fd, uint64_t from, uint64_t to, uint32_t *crc) {
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) return ENOMEM;
    uLong c = crc32_z(0, NULL, 0);
    int e = 0;
    while (from < to) {
        size_t want = to - from < CHUNK ? (size_t)(to - from) : CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)from);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            e = got < 0 ? errno : EIO;
            break;
        }
        c = crc32_z(c, buf, (size_t)got);
        from += (uint64_t)got;
    }
    free(buf);
    *crc = (uint32_t)c;
    return e;
}

/* The header of a sealed file of `size` bytes whose first bytes are in b[0, have). */
static st_h5_seal_state_t check_header(int fd, const unsigned char *b, size_t have, uint64_t size, uint32_t *version,
                                       char *why, size_t why_size) {
    if (have < ST_H5_SEAL_SIZE) {
        st_format(why, why_size, "the file has %llu bytes, fewer than its %d-byte header", (unsigned long long)size,
                  ST_H5_SEAL_SIZE);
        return ST_H5_SEAL_TRUNCATED;
    }
    uint32_t block_crc = (uint32_t)crc32_z(0, b, 508);
    if (block_crc != (uint32_t)get_le(b + 508, 4)) {
        st_format(why, why_size, "checksum mismatch in its %d-byte header", ST_H5_SEAL_SIZE);
        return ST_H5_SEAL_DAMAGED;
    }
    uint64_t length = get_le(b + 16, 8);
    if (get_le(b + 12, 4) != ST_H5_SEAL_SIZE || length < ST_H5_SEAL_SIZE) {
        st_format(why, why_size, "its header has a user block of %llu bytes and a length of %llu (expected %d and more)",
                  (unsigned long long)get_le(b + 12, 4), (unsigned long long)length, ST_H5_SEAL_SIZE);
        return ST_H5_SEAL_DAMAGED;
    }
    if (length != size) {
        st_format(why, why_size, "the file has %llu bytes, its header says %llu", (unsigned long long)size,
                  (unsigned long long)length);
        return length > size ? ST_H5_SEAL_TRUNCATED : ST_H5_SEAL_DAMAGED;
    }
    uint32_t crc = 0;
    int e = crc_range(fd, ST_H5_SEAL_SIZE, length, &crc);
    if (e) {
        st_format(why, why_size, "cannot read: %s", strerror(e));
        return ST_H5_SEAL_IO;
    }
    uint32_t stored = (uint32_t)get_le(b + 24, 4);
    if (crc != stored) {
        st_format(why, why_size, "checksum mismatch: bytes %d..%llu have CRC-32 %08x, its header says %08x",
                  ST_H5_SEAL_SIZE, (unsigned long long)length, crc, stored);
        return ST_H5_SEAL_DAMAGED;
    }
    *version = (uint32_t)get_le(b + 8, 4);
    return ST_H5_SEAL_OK;
}

st_h5_seal_state_t st_h5_seal_check(const char *path, const char magic[8], uint32_t *version, char *why,
                                    size_t why_size) {
    *version = 0;
    why[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st_format(why, why_size, "cannot read: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return ST_H5_SEAL_IO;
    }
    unsigned char b[ST_H5_SEAL_SIZE];
    ssize_t got;
    do got = pread(fd, b, sizeof b, 0);
    while (got < 0 && errno == EINTR);
    st_h5_seal_state_t st;
    if (got < 0) {
        st_format(why, why_size, "cannot read: %s", strerror(errno));
        st = ST_H5_SEAL_IO;
    } else if (got < 8) {
        st = ST_H5_SEAL_FOREIGN;
    } else if (!memcmp(b, magic, 8)) {
        st = check_header(fd, b, (size_t)got, (uint64_t)sb.st_size, version, why, why_size);
    } else if (!memcmp(b, HDF5_SIGNATURE, 8)) {
        st = ST_H5_SEAL_NONE;
    } else if (bit_distance(b, (const unsigned char *)magic) <= 2) {
        st_format(why, why_size, "its signature at byte 0 is damaged");
        st = ST_H5_SEAL_DAMAGED;
    } else if (bit_distance(b, HDF5_SIGNATURE) <= 2) {
        st_format(why, why_size, "the HDF5 signature at byte 0 is damaged");
        st = ST_H5_SEAL_DAMAGED;
    } else {
        st = ST_H5_SEAL_FOREIGN;
    }
    close(fd);
    return st;
}

int st_h5_fsync_parent(const char *path, int oflags) {
    char dir[4200];
    if (st_format(dir, sizeof dir, "%s", path)) return ENAMETOOLONG;
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | oflags);
    if (fd < 0) return errno;
    int e = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return e == EINVAL ? 0 : e; /* file systems that cannot sync folders */
}

st_status_t st_h5_image_commit(const st_h5_commit_t *c, st_h5_image_t *img, size_t n, const char *failed,
                               char *detail, size_t detail_size, st_error_t *err) {
    int e = 0;
    if (!failed && (e = st_h5_write_image(c->tmp, img->mem, n, c->oflags)) != 0) {
        failed = st_h5_write_failure(e);
        st_format(detail, detail_size, " (%s: %s)", c->tmp, strerror(e));
    }
    st_h5_image_release(img);
    if (!failed && c->read_back && !c->read_back(c->tmp, c->ctx, detail, detail_size))
        failed = "the written file does not read back";
    if (!failed && rename(c->tmp, c->path) != 0) {
        failed = "cannot rename the temporary file over it";
        st_format(detail, detail_size, " (%s)", strerror(errno));
    }
    if (failed) {
        unlink(c->tmp);
        return st_fail(err, ST_ERR_IO, "%s: %s%s; nothing was written", c->path, failed, detail);
    }
    if ((e = st_h5_fsync_parent(c->path, c->oflags)) != 0 && c->folder_sync_required)
        return st_fail(err, ST_ERR_IO, "%s: written, but its folder cannot be synced (%s): it may not survive a "
                       "power loss", c->path, strerror(e));
    return ST_OK;
}
