/* dataset.c — strata's HDF5 dataset format (docs/data-format.md): checking and reading the
 * metadata of a file, reading its labels and blocks of rows (collectively over MPI-IO, or
 * independently), and writing one atomically (temporary file, fsync, rename).
 *
 * HDF5 prints its error stack to stderr by default; every entry point silences it and turns
 * failures into st_error_t messages that name the file and the object at fault, with HDF5's
 * innermost message appended where it helps. Those helpers, and the in-memory file image the
 * writer builds and then writes itself, live in sharding/h5util.c. */
#include "dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "dataset_internal.h"
#include "h5guard.h"
#include "h5util.h"
#include "watchdog.h"

/* ---- HDF5 helpers ------------------------------------------------------------------------- */

const char *st_ds_type_name(hid_t t, char *buf, size_t size) {
    H5T_class_t c = H5Tget_class(t);
    size_t bits = H5Tget_size(t) * 8;
    if (c == H5T_FLOAT) st_format(buf, size, "float%zu", bits);
    else if (c == H5T_INTEGER) st_format(buf, size, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
    else if (c == H5T_STRING) st_format(buf, size, "string");
    else st_format(buf, size, "a non-numeric type (class %d)", (int)c);
    return buf;
}

/* Opens `path` read-only with the given file access list; checks that it is an HDF5 file. */
st_status_t st_ds_open_file(const char *path, hid_t fapl, hid_t *f, st_error_t *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return st_fail(err, ST_ERR_IO, "%s: not a regular file", path);
    htri_t is = H5Fis_hdf5(path);
    if (is == 0)
        return st_fail(err, ST_ERR_DATA,
                       "%s: not an HDF5 file (a strata dataset is an HDF5 file: see docs/data-format.md; "
                       "strata convert makes one from IDX or CSV)", path);
    if (is < 0) return st_h5_fail(err, ST_ERR_IO, path, "cannot read the file");
    *f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (*f < 0) return st_h5_fail(err, ST_ERR_IO, path, "cannot open the HDF5 file");
    return ST_OK;
}

/* Reads a string attribute (scalar or 1-d; variable- or fixed-length) as n malloc'd strings. */
st_status_t st_ds_read_str_attr(hid_t obj, const char *path, const char *name, char ***out, int *n_out,
                                 st_error_t *err) {
    st_status_t rc = ST_OK;
    hid_t a = -1, t = -1, s = -1, mt = -1;
    char **vbuf = NULL, *fbuf = NULL;
    *out = NULL;
    *n_out = 0;
    a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) { rc = st_h5_fail(err, ST_ERR_DATA, path, "cannot open an attribute"); goto done; }
    t = H5Aget_type(a);
    s = H5Aget_space(a);
    if (H5Tget_class(t) != H5T_STRING) {
        char tn[64];
        rc = st_fail(err, ST_ERR_DATA, "%s: attribute %s has type %s, expected strings", path, name,
                     st_ds_type_name(t, tn, sizeof tn));
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(s);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    if (nd > 1 || n < 0 || n > ST_MAX_CLASSES * 16) {
        rc = st_fail(err, ST_ERR_DATA, "%s: attribute %s must be a string or a 1-d array of strings", path, name);
        goto done;
    }
    char **strs = calloc((size_t)n + 1, sizeof *strs);
    if (!strs) { rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading attribute %s", path, name); goto done; }
    mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, H5Tget_cset(t));
    if (H5Tis_variable_str(t) > 0) {
        H5Tset_size(mt, H5T_VARIABLE);
        vbuf = calloc((size_t)n + 1, sizeof *vbuf);
        if (!vbuf || H5Aread(a, mt, vbuf) < 0) {
            free(strs);
            rc = st_h5_fail(err, ST_ERR_DATA, path, "cannot read a string attribute");
            goto done;
        }
        for (hssize_t i = 0; i < n; i++) strs[i] = strdup(vbuf[i] ? vbuf[i] : "");
        H5Dvlen_reclaim(mt, s, H5P_DEFAULT, vbuf);
    } else {
        size_t sz = H5Tget_size(t);
        H5Tset_size(mt, sz + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        fbuf = calloc((size_t)n + 1, sz + 1);
        if (!fbuf || H5Aread(a, mt, fbuf) < 0) {
            free(strs);
            rc = st_h5_fail(err, ST_ERR_DATA, path, "cannot read a string attribute");
            goto done;
        }
        for (hssize_t i = 0; i < n; i++) strs[i] = strdup(fbuf + (size_t)i * (sz + 1));
    }
    *out = strs;
    *n_out = (int)n;
done:
    free(vbuf);
    free(fbuf);
    st_h5_close_id(&mt, H5Tclose);
    st_h5_close_id(&s, H5Sclose);
    st_h5_close_id(&t, H5Tclose);
    st_h5_close_id(&a, H5Aclose);
    if (rc != ST_OK && err && strstr(err->msg, name) == NULL) st_error_prefix(err, "attribute %s", name);
    return rc;
}

int st_utf8_valid(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && c < 0xc2) || (n == 3 && c > 0xf4)) return 0;
        unsigned cp = n == 0 ? c : c & (0x3fu >> n);
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Fails naming the first of the n names of attribute `attr` that is not valid UTF-8. */
st_status_t st_ds_check_utf8(char **names, int n, const char *path, const char *attr, st_error_t *err) {
    for (int i = 0; i < n; i++)
        if (!st_utf8_valid(names[i]))
            return st_fail(err, ST_ERR_DATA, "%s: %s[%d] is not valid UTF-8 (names must be UTF-8 text)", path, attr, i);
    return ST_OK;
}

/* Copies a name into ST_NAME_MAX bytes, cutting a longer one before a UTF-8 character, never
 * inside one (a cut character would make the report's JSON invalid). */
void st_ds_copy_name(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n >= ST_NAME_MAX) {
        n = ST_NAME_MAX - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void st_ds_free_strs(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* Reads a scalar integer attribute. */
st_status_t st_ds_read_int_attr(hid_t obj, const char *path, const char *name, long long *v, st_error_t *err) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return st_h5_fail(err, ST_ERR_DATA, path, "cannot open an attribute");
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    st_status_t rc = ST_OK;
    if (H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_npoints(s) != 1) {
        char tn[64];
        rc = st_fail(err, ST_ERR_DATA, "%s: attribute %s must be one integer (found %s, %lld values)", path, name,
                     st_ds_type_name(t, tn, sizeof tn), (long long)H5Sget_simple_extent_npoints(s));
    } else if (H5Aread(a, H5T_NATIVE_LLONG, v) < 0) {
        rc = st_h5_fail(err, ST_ERR_DATA, path, "cannot read an integer attribute");
    }
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Checks that `name` is a dataset of the expected type class; returns its dims. */
st_status_t st_ds_check_dataset(hid_t f, const char *path, const char *name, H5T_class_t want, int float32_only,
                                 int *ndims, hsize_t dims[4], st_error_t *err) {
    htri_t ex = H5Lexists(f, name, H5P_DEFAULT);
    if (ex <= 0) return st_fail(err, ST_ERR_DATA, "%s: not a strata dataset: no %s dataset", path, name);
    H5O_info_t info;
    if (H5Oget_info_by_name(f, name, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
        return st_fail(err, ST_ERR_DATA, "%s: not a strata dataset: %s is not a dataset", path, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return st_h5_fail(err, ST_ERR_DATA, path, "cannot open a dataset");
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    st_status_t rc = ST_OK;
    char tn[64];
    st_ds_type_name(t, tn, sizeof tn);
    if (H5Tget_class(t) != want)
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has type %s, expected %s", path, name, tn,
                     want == H5T_FLOAT ? "float32" : "integers (int32)");
    else if (float32_only && H5Tget_size(t) != 4)
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has type %s, expected float32 (with numpy: X.astype(np.float32))",
                     path, name, tn);
    else {
        *ndims = H5Sget_simple_extent_ndims(s);
        if (*ndims < 0 || *ndims > 4)
            rc = st_fail(err, ST_ERR_DATA, "%s: %s has %d dimensions", path, name, *ndims);
        else
            H5Sget_simple_extent_dims(s, dims, NULL);
    }
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

/* Reads a whole 1-d integer dataset converted to `mem_type`. */
st_status_t st_ds_read_1d(hid_t f, const char *path, const char *name, hid_t mem_type, void *buf, st_error_t *err) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return st_h5_fail(err, ST_ERR_DATA, path, "cannot open a dataset");
    herr_t r = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(d);
    if (r < 0) {
        char what[96];
        st_format(what, sizeof what, "cannot read %s", name);
        return st_h5_fail(err, ST_ERR_IO, path, what);
    }
    return ST_OK;
}

/* ---- open / close ------------------------------------------------------------------------- */

/* /X's shape, and /y's when the file has one (a format-2 file with /targets may not). */
static st_status_t read_shapes(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err) {
    int nd_x = 0, nd_y = 0;
    hsize_t dx[4] = {0}, dy[4] = {0};
    ST_TRY(st_ds_check_dataset(f, path, "/X", H5T_FLOAT, 1, &nd_x, dx, err));
    ds->has_y = H5Lexists(f, "/y", H5P_DEFAULT) > 0 || H5Lexists(f, "/targets", H5P_DEFAULT) <= 0;
    if (ds->has_y) ST_TRY(st_ds_check_dataset(f, path, "/y", H5T_INTEGER, 0, &nd_y, dy, err));
    if (nd_x != 2 && nd_x != 3)
        return st_fail(err, ST_ERR_DATA, "%s: /X has %d dimension%s; expected [N, D] or [N, T, C]", path, nd_x,
                       nd_x == 1 ? "" : "s");
    if (ds->has_y && nd_y != 1)
        return st_fail(err, ST_ERR_DATA, "%s: /y has %d dimensions; expected [N]", path, nd_y);
    const char *layout = nd_x == 2 ? "2 dimensions [N, D]" : "3 dimensions [N, T, C]";
    if (ds->has_y && dy[0] != dx[0])
        return st_fail(err, ST_ERR_DATA, "%s: /X has %s but /y has %llu rows, /X %llu", path, layout,
                       (unsigned long long)dy[0], (unsigned long long)dx[0]);
    if (dx[0] == 0) return st_fail(err, ST_ERR_DATA, "%s: /X has no rows", path);
    for (int i = 1; i < nd_x; i++)
        if (dx[i] == 0 || dx[i] > INT_MAX)
            return st_fail(err, ST_ERR_DATA, "%s: /X dimension %d has size %llu", path, i, (unsigned long long)dx[i]);
    ds->n = (int64_t)dx[0];
    ds->shape = nd_x == 2 ? st_shape1((int)dx[1]) : st_shape2((int)dx[1], (int)dx[2]);

    if (H5Lexists(f, "/split", H5P_DEFAULT) > 0) {
        int nd_s = 0;
        hsize_t ds_[4] = {0};
        ST_TRY(st_ds_check_dataset(f, path, "/split", H5T_INTEGER, 0, &nd_s, ds_, err));
        if (nd_s != 1 || ds_[0] != dx[0])
            return st_fail(err, ST_ERR_DATA, "%s: /split must have shape [N] = [%llu]", path, (unsigned long long)dx[0]);
        ds->has_split = 1;
    }
    return ST_OK;
}

/* The root class table of /y: K from n_classes, class_names or max(/y) + 1 (they must agree). */
static st_status_t read_class_table(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err) {
    long long k_attr = -1;
    if (H5Aexists(f, "n_classes") > 0) {
        ST_TRY(st_ds_read_int_attr(f, path, "n_classes", &k_attr, err));
        if (k_attr < 1 || k_attr > ST_MAX_CLASSES)
            return st_fail(err, ST_ERR_DATA, "%s: n_classes = %lld is outside 1..%d", path, k_attr, ST_MAX_CLASSES);
    }
    char **names = NULL;
    int n_names = -1;
    if (H5Aexists(f, "class_names") > 0) {
        ST_TRY(st_ds_read_str_attr(f, path, "class_names", &names, &n_names, err));
        if (n_names < 1 || n_names > ST_MAX_CLASSES) {
            st_ds_free_strs(names, n_names);
            return st_fail(err, ST_ERR_DATA, "%s: class_names has %d names", path, n_names);
        }
        if (k_attr >= 0 && n_names != k_attr) {
            st_ds_free_strs(names, n_names);
            return st_fail(err, ST_ERR_DATA, "%s: n_classes = %lld but class_names has %d names", path, k_attr, n_names);
        }
        if (st_ds_check_utf8(names, n_names, path, "class_names", err) != ST_OK) {
            st_ds_free_strs(names, n_names);
            return ST_ERR_DATA;
        }
        for (int i = 0; i < n_names; i++)
            if (strlen(names[i]) >= ST_NAME_MAX) {
                st_fail(err, ST_ERR_DATA, "%s: class_names[%d] \"%.40s...\" is longer than %d bytes", path, i, names[i],
                        ST_NAME_MAX - 1);
                st_ds_free_strs(names, n_names);
                return ST_ERR_DATA;
            }
    }
    long long k = k_attr >= 0 ? k_attr : n_names;
    if (k < 0) { /* neither attribute: K = max(y) + 1 */
        int64_t *y = malloc((size_t)ds->n * sizeof *y);
        if (!y) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading /y", path);
        st_status_t rc = st_ds_read_1d(f, path, "/y", H5T_NATIVE_INT64, y, err);
        int64_t mx = -1;
        for (int64_t i = 0; rc == ST_OK && i < ds->n; i++)
            if (y[i] > mx) mx = y[i];
        free(y);
        if (rc != ST_OK) return rc;
        if (mx < 0 || mx >= ST_MAX_CLASSES)
            return st_fail(err, ST_ERR_DATA,
                           "%s: no n_classes or class_names attribute, and max(/y) = %lld gives no usable class count",
                           path, (long long)mx);
        k = mx + 1;
    }
    ds->n_classes = (int)k;
    ds->class_names = calloc((size_t)k, sizeof *ds->class_names);
    if (!ds->class_names) {
        st_ds_free_strs(names, n_names);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for %lld class names", path, k);
    }
    for (int i = 0; i < (int)k; i++) {
        if (names) st_format(ds->class_names[i], ST_NAME_MAX, "%s", names[i]);
        else st_format(ds->class_names[i], ST_NAME_MAX, "%d", i);
    }
    st_ds_free_strs(names, n_names);
    return ST_OK;
}

static st_status_t read_metadata(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err) {
    ST_TRY(read_shapes(f, path, ds, err));
    /* Attributes of the root group. */
    ds->format_version = 1;
    if (H5Aexists(f, "strata_format") > 0) {
        long long v;
        ST_TRY(st_ds_read_int_attr(f, path, "strata_format", &v, err));
        if (v < 1 || v > ST_DATASET_FORMAT)
            return st_fail(err, ST_ERR_DATA, "%s: strata_format = %lld, but this strata reads format %d%s", path, v,
                           ST_DATASET_FORMAT, v > ST_DATASET_FORMAT ? " (written by a newer strata)" : "");
        ds->format_version = (int)v;
    }
    if (ds->has_y) ST_TRY(read_class_table(f, path, ds, err));

    if (H5Aexists(f, "feature_names") > 0) {
        char **fn = NULL;
        int n_fn = 0;
        ST_TRY(st_ds_read_str_attr(f, path, "feature_names", &fn, &n_fn, err));
        int want = st_shape_channels(ds->shape);
        if (st_ds_check_utf8(fn, n_fn, path, "feature_names", err) != ST_OK) {
            st_ds_free_strs(fn, n_fn);
            return ST_ERR_DATA;
        }
        if (n_fn != want) {
            st_ds_free_strs(fn, n_fn);
            return st_fail(err, ST_ERR_DATA, "%s: feature_names has %d names but /X has %d %s", path, n_fn, want,
                           ds->shape.rank == 1 ? "features" : "channels");
        }
        ds->feature_names = calloc((size_t)n_fn + 1, sizeof *ds->feature_names);
        if (!ds->feature_names) {
            st_ds_free_strs(fn, n_fn);
            return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for feature names", path);
        }
        /* Feature names are labels for reports: longer ones are truncated. */
        for (int i = 0; i < n_fn; i++) st_ds_copy_name(ds->feature_names[i], fn[i]);
        ds->n_feature_names = n_fn;
        st_ds_free_strs(fn, n_fn);
    }
    if (H5Aexists(f, "source") > 0) {
        char **src = NULL;
        int n_src = 0;
        ST_TRY(st_ds_read_str_attr(f, path, "source", &src, &n_src, err));
        if (n_src >= 1) st_format(ds->source, sizeof ds->source, "%s", src[0]);
        st_ds_free_strs(src, n_src);
    }
    ST_TRY(st_ds_read_lengths_metadata(f, path, ds, err));
    return st_ds_read_targets_metadata(f, path, ds, err);
}

static st_status_t dataset_open(const char *path, st_dataset_t *ds, st_error_t *err) {
    memset(ds, 0, sizeof *ds);
    st_h5_quiet();
    if (st_format(ds->path, sizeof ds->path, "%s", path))
        return st_fail(err, ST_ERR_IO, "%.100s...: path longer than %zu bytes", path, sizeof ds->path - 1);
    hid_t f = -1;
    ST_TRY(st_ds_open_file(path, H5P_DEFAULT, &f, err));
    st_status_t rc = read_metadata(f, path, ds, err);
    H5Fclose(f);
    if (rc != ST_OK) st_dataset_close(ds);
    return rc;
}

/* The public entry points hand a user's file to HDF5 inside a crash guard (sharding/h5guard.h). */
st_status_t st_dataset_open(const char *path, st_dataset_t *ds, st_error_t *err) {
    st_h5_guard_enter(path);
    st_status_t rc = dataset_open(path, ds, err);
    st_h5_guard_leave();
    return rc;
}

void st_dataset_close(st_dataset_t *ds) {
    if (!ds) return;
    st_ds_free_targets(ds);
    free(ds->class_names);
    free(ds->feature_names);
    ds->class_names = NULL;
    ds->feature_names = NULL;
    ds->n_feature_names = 0;
}

/* ---- labels ------------------------------------------------------------------------------- */

static st_status_t read_labels_raw(const st_dataset_t *ds, int64_t *y, int32_t *split, st_error_t *err) {
    st_h5_quiet();
    if (!ds->has_y)
        return st_fail(err, ST_ERR_DATA, "%s: has no /y (a format-2 file with /targets only): name the target to "
                       "stratify on with data.stratify", ds->path);
    hid_t f = -1;
    ST_TRY(st_ds_open_file(ds->path, H5P_DEFAULT, &f, err));
    st_status_t rc = st_ds_read_1d(f, ds->path, "/y", H5T_NATIVE_INT64, y, err);
    if (rc == ST_OK && split && ds->has_split) rc = st_ds_read_1d(f, ds->path, "/split", H5T_NATIVE_INT32, split, err);
    H5Fclose(f);
    return rc;
}

st_status_t st_dataset_read_labels_raw(const st_dataset_t *ds, int64_t *y, int32_t *split, st_error_t *err) {
    st_h5_guard_enter(ds->path);
    st_status_t rc = read_labels_raw(ds, y, split, err);
    st_h5_guard_leave();
    return rc;
}

st_status_t st_dataset_read_labels(const st_dataset_t *ds, int32_t *y, uint8_t *split, st_error_t *err) {
    int64_t *y64 = malloc((size_t)ds->n * sizeof *y64);
    int32_t *s32 = split && ds->has_split ? malloc((size_t)ds->n * sizeof *s32) : NULL;
    if (!y64 || (split && ds->has_split && !s32)) {
        free(y64);
        free(s32);
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading labels", ds->path);
    }
    st_status_t rc = st_dataset_read_labels_raw(ds, y64, s32, err);
    for (int64_t i = 0; rc == ST_OK && i < ds->n; i++) {
        if (y64[i] < 0 || y64[i] >= ds->n_classes)
            rc = st_fail(err, ST_ERR_DATA, "%s: /y[%lld] = %lld is outside 0..%d", ds->path, (long long)i,
                         (long long)y64[i], ds->n_classes - 1);
        else
            y[i] = (int32_t)y64[i];
    }
    for (int64_t i = 0; rc == ST_OK && s32 && i < ds->n; i++) {
        if (s32[i] < 0 || s32[i] > 2)
            rc = st_fail(err, ST_ERR_DATA, "%s: /split[%lld] = %d is not 0 (train), 1 (val) or 2 (test)", ds->path,
                         (long long)i, (int)s32[i]);
        else
            split[i] = (uint8_t)s32[i];
    }
    free(y64);
    free(s32);
    return rc;
}

/* ---- rows --------------------------------------------------------------------------------- */

/* Reads rows [row0, row0 + n_rows) of the dataset `name` ([N, ...] with row_floats values a row,
 * as checked when the file was opened) as float into out. */
static st_status_t read_rows_open(const st_dataset_t *ds, hid_t f, const char *name, long row_floats, int64_t row0,
                                  int64_t n_rows, float *out, int collective, st_error_t *err) {
    st_status_t rc = ST_OK;
    hid_t d = -1, fs = -1, ms = -1, dxpl = -1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        char what[96];
        st_format(what, sizeof what, "cannot open %s", name);
        rc = st_h5_fail(err, ST_ERR_DATA, ds->path, what);
        goto done;
    }
    fs = H5Dget_space(d);
    hsize_t dims[4] = {0, 1, 1, 1};
    int nd = H5Sget_simple_extent_ndims(fs);
    if (nd >= 1 && nd <= 4) H5Sget_simple_extent_dims(fs, dims, NULL);
    if (nd < 1 || nd > 4 || (int64_t)dims[0] != ds->n || (long)(dims[1] * dims[2] * dims[3]) != row_floats) {
        rc = st_fail(err, ST_ERR_DATA, "%s: %s changed shape since the file was opened", ds->path, name);
        goto done;
    }
    if (n_rows > 0) {
        hsize_t start[4] = {(hsize_t)row0, 0, 0, 0}, count[4] = {(hsize_t)n_rows, dims[1], dims[2], dims[3]};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        /* A memory space of the same shape as the selection lets HDF5 copy whole rows (a flat
         * one makes it gather element by element, ~20x slower). */
        ms = H5Screate_simple(nd, count, NULL);
    } else {
        H5Sselect_none(fs);
        hsize_t one = 1;
        ms = H5Screate_simple(1, &one, NULL);
        H5Sselect_none(ms);
    }
    dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    float dummy = 0;
    if (H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, dxpl, n_rows > 0 ? (void *)out : (void *)&dummy) < 0) {
        char what[160];
        st_format(what, sizeof what, "cannot read %s rows %lld..%lld", name, (long long)row0,
                  (long long)(row0 + n_rows - 1));
        rc = st_h5_fail(err, ST_ERR_IO, ds->path, what);
    }
done:
    st_h5_close_id(&dxpl, H5Pclose);
    st_h5_close_id(&ms, H5Sclose);
    st_h5_close_id(&fs, H5Sclose);
    st_h5_close_id(&d, H5Dclose);
    return rc;
}

static st_status_t read_rows(const st_dataset_t *ds, const char *name, long row_floats, int64_t row0,
                             int64_t n_rows, float *X, MPI_Comm comm, st_error_t *err) {
    st_h5_quiet();
    int bad = row0 < 0 || n_rows < 0 || row0 > ds->n || n_rows > ds->n - row0 || (n_rows > 0 && !X);
    if (comm == MPI_COMM_NULL) {
        if (bad)
            return st_fail(err, ST_ERR_INTERNAL, "%s: rows %lld..+%lld lie outside %s (%lld rows)", ds->path,
                           (long long)row0, (long long)n_rows, name, (long long)ds->n);
        if (n_rows == 0) return ST_OK;
        hid_t f = -1;
        ST_TRY(st_ds_open_file(ds->path, H5P_DEFAULT, &f, err));
        st_status_t rc = read_rows_open(ds, f, name, row_floats, row0, n_rows, X, 0, err);
        H5Fclose(f);
        return rc;
    }
    /* Collective: agree first that every rank's request is valid, so no rank is left waiting in
     * a collective open or read that another rank never enters. */
    int any_bad = 0;
    if (MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return st_fail(err, ST_ERR_MPI, "%s: MPI_Allreduce failed before reading rows", ds->path);
    if (any_bad) {
        if (bad)
            return st_fail(err, ST_ERR_INTERNAL, "%s: rows %lld..+%lld lie outside %s (%lld rows)", ds->path,
                           (long long)row0, (long long)n_rows, name, (long long)ds->n);
        return st_fail(err, ST_ERR_INTERNAL, "%s: another rank asked for rows outside %s", ds->path, name);
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    hid_t f = H5Fopen(ds->path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return st_h5_fail(err, ST_ERR_IO, ds->path, "cannot open the file over MPI-IO");
    st_status_t rc = read_rows_open(ds, f, name, row_floats, row0, n_rows, X, 1, err);
    H5Fclose(f);
    return rc;
}

static st_status_t read_rows_guarded(const st_dataset_t *ds, const char *name, long row_floats, int64_t row0,
                                     int64_t n_rows, float *out, MPI_Comm comm, st_error_t *err) {
    st_watchdog_beat("reading dataset rows", -1);
    st_h5_guard_enter(ds->path);
    st_status_t rc = read_rows(ds, name, row_floats, row0, n_rows, out, comm, err);
    st_h5_guard_leave();
    st_watchdog_beat("reading dataset rows", -1);
    return rc;
}

st_status_t st_ds_read_rows_float(const st_dataset_t *ds, const char *name, long row_floats, int64_t row0,
                                  int64_t n_rows, float *out, MPI_Comm comm, st_error_t *err) {
    return read_rows_guarded(ds, name, row_floats, row0, n_rows, out, comm, err);
}

st_status_t st_dataset_read_rows(const st_dataset_t *ds, int64_t row0, int64_t n_rows, float *X, MPI_Comm comm,
                                 st_error_t *err) {
    return read_rows_guarded(ds, "/X", st_shape_numel(ds->shape), row0, n_rows, X, comm, err);
}

st_status_t st_dataset_read_target_rows(const st_dataset_t *ds, int t, int64_t row0, int64_t n_rows, float *out,
                                        MPI_Comm comm, st_error_t *err) {
    if (t < 0 || t >= ds->n_targets) return st_fail(err, ST_ERR_INTERNAL, "%s: no target %d", ds->path, t);
    const st_target_info_t *ti = &ds->targets[t];
    if (ti->kind == ST_TARGET_SEQUENCE) return st_ds_read_sequence_rows(ds, ti, row0, n_rows, out, comm, err);
    return read_rows_guarded(ds, ti->h5path, ti->width, row0, n_rows, out, comm, err);
}

/* ---- write -------------------------------------------------------------------------------- */

/* Split values and feature names of a spec (*k_out = 0: no root class table without /y). */
static st_status_t check_names(const char *path, const st_dataset_spec_t *s, int *k_out, st_error_t *err) {
    *k_out = 0;
    for (int64_t i = 0; s->split && i < s->n; i++)
        if (s->split[i] > 2)
            return st_fail(err, ST_ERR_DATA, "%s: split[%lld] = %d is not 0, 1 or 2", path, (long long)i, (int)s->split[i]);
    if (s->n_feature_names > 0) {
        if (!s->feature_names || s->n_feature_names != st_shape_channels(s->shape))
            return st_fail(err, ST_ERR_DATA, "%s: %d feature names for %d %s", path, s->n_feature_names,
                           st_shape_channels(s->shape), s->shape.rank == 1 ? "features" : "channels");
        for (int i = 0; i < s->n_feature_names; i++)
            if (!s->feature_names[i]) return st_fail(err, ST_ERR_INTERNAL, "%s: feature name %d is NULL", path, i);
            else if (!st_utf8_valid(s->feature_names[i]))
                return st_fail(err, ST_ERR_DATA, "%s: feature name %d is not valid UTF-8", path, i);
    }
    return ST_OK;
}

static st_status_t check_spec(const char *path, const st_dataset_spec_t *s, int *k_out, st_error_t *err) {
    if (s->n <= 0) return st_fail(err, ST_ERR_DATA, "%s: no samples to write", path);
    if (!s->X || (!s->y && s->n_targets <= 0))
        return st_fail(err, ST_ERR_INTERNAL, "%s: dataset spec without X, or without y and targets", path);
    ST_TRY(st_ds_check_target_specs(path, s, err));
    ST_TRY(st_ds_check_lengths_spec(path, s, err));
    if ((s->shape.rank != 1 && s->shape.rank != 2) || s->shape.d[0] <= 0 || (s->shape.rank == 2 && s->shape.d[1] <= 0))
        return st_fail(err, ST_ERR_SHAPE, "%s: invalid per-sample shape (rank %d)", path, s->shape.rank);
    int32_t mx = -1;
    if (!s->y) return check_names(path, s, k_out, err);
    for (int64_t i = 0; i < s->n; i++)
        if (s->y[i] > mx) mx = s->y[i];
    int k = s->n_classes > 0 ? s->n_classes : (int)mx + 1;
    if (k < 1 || k > ST_MAX_CLASSES) return st_fail(err, ST_ERR_DATA, "%s: %d classes is outside 1..%d", path, k, ST_MAX_CLASSES);
    for (int64_t i = 0; i < s->n; i++)
        if (s->y[i] < 0 || s->y[i] >= k)
            return st_fail(err, ST_ERR_DATA, "%s: y[%lld] = %d is outside 0..%d", path, (long long)i, (int)s->y[i], k - 1);
    for (int i = 0; s->class_names && i < k; i++)
        if (!s->class_names[i] || !s->class_names[i][0] || strlen(s->class_names[i]) >= ST_NAME_MAX)
            return st_fail(err, ST_ERR_DATA, "%s: class name %d is empty or longer than %d bytes", path, i, ST_NAME_MAX - 1);
        else if (!st_utf8_valid(s->class_names[i]))
            return st_fail(err, ST_ERR_DATA, "%s: class name %d is not valid UTF-8", path, i);
    ST_TRY(check_names(path, s, k_out, err));
    *k_out = k;
    return ST_OK;
}

int st_ds_write_int_attr(hid_t f, const char *name, int v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return ok;
}

/* The spec's extra root attributes (st_dataset_attr_t). */
static const char *write_extra_attrs(hid_t f, const st_dataset_spec_t *s) {
    for (int i = 0; i < s->n_attrs; i++) {
        const st_dataset_attr_t *a = &s->attrs[i];
        if (H5Aexists(f, a->name) > 0) return "an extra attribute has the name of one of the format's";
        if (a->text) {
            if (!st_h5_write_string_attr(f, a->name, &a->text, -1)) return "cannot write an extra attribute";
            continue;
        }
        hsize_t dim = (hsize_t)a->n_values;
        hid_t sp = a->n_values == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
        hid_t at = H5Acreate2(f, a->name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        int ok = at >= 0 && H5Awrite(at, H5T_NATIVE_DOUBLE, a->values) >= 0;
        if (at >= 0) ok = H5Aclose(at) >= 0 && ok;
        H5Sclose(sp);
        if (!ok) return "cannot write an extra attribute";
    }
    return NULL;
}

int st_ds_write_1d(hid_t f, const char *name, hid_t file_type, hid_t mem_type, int64_t n, const void *buf) {
    hsize_t dim = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    if (d >= 0) ok = H5Dclose(d) >= 0 && ok;
    H5Sclose(s);
    return ok;
}

int st_dataset_x_layout(hsize_t dims[3], hsize_t chunk[3], st_shape_t shape, int64_t n) {
    dims[0] = (hsize_t)n, dims[1] = (hsize_t)shape.d[0], dims[2] = (hsize_t)shape.d[1];
    size_t row_bytes = (size_t)st_shape_numel(shape) * sizeof(float);
    hsize_t chunk_rows = row_bytes >= (1u << 20) ? 1 : (hsize_t)((1u << 20) / row_bytes);
    chunk[0] = chunk_rows > dims[0] ? dims[0] : chunk_rows, chunk[1] = dims[1], chunk[2] = dims[2];
    return shape.rank + 1;
}

static const char *write_class_table(hid_t f, const st_dataset_spec_t *s, int k);

/* Writes the whole layout into the open file f; returns a description of the step that failed. */
static const char *write_contents(hid_t f, const st_dataset_spec_t *s, int k) {
    hsize_t dims[3], chunk[3];
    int nd = st_dataset_x_layout(dims, chunk, s->shape, s->n);
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, nd, chunk);
    hid_t d = H5Dcreate2(f, "/X", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->X) >= 0;
    if (d >= 0) ok = H5Dclose(d) >= 0 && ok;
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (!ok) return "cannot write /X";
    if (s->split && !st_ds_write_1d(f, "/split", H5T_STD_U8LE, H5T_NATIVE_UINT8, s->n, s->split)) return "cannot write /split";
    int format = st_ds_spec_has_sequences(s) ? 4 : s->lengths ? 3 : s->n_targets > 0 || s->groups ? 2 : 1;
    if (!st_ds_write_int_attr(f, "strata_format", format)) return "cannot write attributes";
    const char *failed = st_ds_write_targets(f, s);
    if (failed) return failed;
    if (s->y && (failed = write_class_table(f, s, k))) return failed;
    if ((failed = st_ds_write_lengths(f, s))) return failed;
    if (s->n_feature_names > 0 &&
        !st_h5_write_string_attr(f, "feature_names", s->feature_names, s->n_feature_names))
        return "cannot write attribute feature_names";
    const char *src = s->source ? s->source : "";
    if (!st_h5_write_string_attr(f, "source", &src, -1)) return "cannot write attribute source";
    return write_extra_attrs(f, s);
}

/* /y and the root class table. */
static const char *write_class_table(hid_t f, const st_dataset_spec_t *s, int k) {
    if (!st_ds_write_1d(f, "/y", H5T_STD_I32LE, H5T_NATIVE_INT32, s->n, s->y)) return "cannot write /y";
    if (!st_ds_write_int_attr(f, "n_classes", k)) return "cannot write attributes";
    int ok;
    const char **names = calloc((size_t)k, sizeof *names);
    char (*defaults)[12] = s->class_names ? NULL : calloc((size_t)k, sizeof *defaults);
    if (!names || (!s->class_names && !defaults)) {
        free(names);
        free(defaults);
        return "out of memory";
    }
    for (int i = 0; i < k; i++) {
        if (s->class_names) names[i] = s->class_names[i];
        else {
            snprintf(defaults[i], sizeof defaults[i], "%d", i);
            names[i] = defaults[i];
        }
    }
    ok = st_h5_write_string_attr(f, "class_names", names, k);
    free(names);
    free(defaults);
    return ok ? NULL : "cannot write attribute class_names";
}

/* The root group's attributes go to dense storage (a fractal heap) from the first one, instead
 * of compact storage in the object header, whose messages are limited to 64 KiB: with compact
 * storage 5,000 feature or class names (16 bytes of heap reference each, 80 KB) could not be
 * written. Dense storage takes 100,000 feature names and 65,536 class names; it needs the HDF5
 * 1.8 file format (libver bounds v18 on the access list), which HDF5 1.8+ and h5py read. */
static hid_t dense_attributes_fcpl(void) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_attr_phase_change(fcpl, 0, 0);
    return fcpl;
}

/* The length of a file built in memory, read from the closed image: the "end of file address"
 * of its version 2 superblock (signature 8 bytes, version, sizes of offsets and lengths, flags,
 * then base, extension and end-of-file addresses of 8 bytes each); 0 when it is not one. With
 * the 1.8 format the close writes past the end H5Fget_file_image reports before it (the same
 * reading as jobs/checkpoint.c's; a candidate for sharding/h5util.c). */
static size_t image_length(const st_h5_image_t *img) {
    const unsigned char *b = img->mem;
    if (!b || img->size < 48 || memcmp(b, "\211HDF\r\n\032\n", 8) != 0 || b[8] != 2 || b[9] != 8) return 0;
    uint64_t eof = 0;
    for (int i = 7; i >= 0; i--) eof = eof << 8 | b[28 + i];
    return eof >= 48 && eof <= img->size ? (size_t)eof : 0;
}

/* st_h5_commit_t.read_back: re-opens the written temporary and checks /X's shape (ctx: the
 * st_dataset_spec_t) before it replaces anything. */
static int read_back(const char *tmp, const void *ctx, char *detail, size_t size) {
    const st_dataset_spec_t *s = ctx;
    hid_t f = H5Fopen(tmp, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        st_h5_detail(detail, size);
        return 0;
    }
    hid_t d = H5Dopen2(f, "/X", H5P_DEFAULT);
    int ok = 0;
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        hsize_t dims[3] = {0};
        int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
        ok = nd == s->shape.rank + 1 && (int64_t)dims[0] == s->n && (int)dims[1] == s->shape.d[0] &&
             (nd == 2 || (int)dims[2] == s->shape.d[1]);
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(f);
    if (!ok) st_h5_detail(detail, size);
    return ok;
}

st_status_t st_dataset_write(const char *path, const st_dataset_spec_t *spec, st_error_t *err) {
    st_h5_quiet();
    int k = 0;
    ST_TRY(check_spec(path, spec, &k, err));
    char tmp[4200];
    if (st_format(tmp, sizeof tmp, "%s.tmp", path)) return st_fail(err, ST_ERR_IO, "%s: path too long", path);

    /* Build the file in memory, growing in steps of about its final size. */
    size_t estimate = (size_t)spec->n * ((size_t)st_shape_numel(spec->shape) * sizeof(float) + 8) + (1u << 20);
    st_h5_image_t img = {0};
    hid_t fapl = st_h5_image_fapl(&img, estimate);
    hid_t fcpl = dense_attributes_fcpl();
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (f < 0) return st_h5_fail(err, ST_ERR_IO, path, "cannot create the file in memory");
    const char *failed = write_contents(f, spec, k);
    char detail[256] = "";
    if (failed) st_h5_detail(detail, sizeof detail);
    if (H5Fclose(f) < 0 && !failed) {
        failed = "cannot finish the file";
        st_h5_detail(detail, sizeof detail);
    }
    if (!failed && !img.kept) failed = "cannot finish the file (the HDF5 core driver kept its image)";
    size_t size = failed ? 0 : image_length(&img);
    if (!failed && size == 0) failed = "cannot finish the file (no end of file in its superblock)";
    const st_h5_commit_t commit = {path, tmp, 0, read_back, spec, 0};
    return st_h5_image_commit(&commit, &img, size, failed, detail, sizeof detail, err);
}
