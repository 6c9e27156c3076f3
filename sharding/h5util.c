/* h5util.c — HDF5 helpers shared by sharding/dataset.c and jobs/checkpoint.c (sharding/h5util.h):
 * error-stack messages, string attributes, and the in-memory file image that we write to disk
 * ourselves because HDF5 1.10.8 crashes at shutdown after a failed H5Fclose on a real file. */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
