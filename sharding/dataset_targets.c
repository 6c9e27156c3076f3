/* dataset_targets.c — the targets and groups of a strata dataset (format 2, docs/data-format.md):
 * /targets/<name> (class ids, multi-label 0/1 sets, regression values) and /groups, read at open
 * into st_dataset_t.targets, read by rows for the loader, checked, and written.
 *
 * A file without /targets has one target, "y": /y with the root class table, so every reader
 * sees targets the same way whatever the format version. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "dataset_internal.h"
#include "h5guard.h"
#include "h5util.h"

const char *st_target_kind_name(st_target_kind_t k) {
    return k == ST_TARGET_CLASS ? "class" : k == ST_TARGET_MULTILABEL ? "multilabel"
         : k == ST_TARGET_SEQUENCE ? "sequence" : "regression";
}

int st_dataset_target_find(const st_dataset_t *ds, const char *name) {
    for (int t = 0; t < ds->n_targets; t++)
        if (strcmp(ds->targets[t].name, name) == 0) return t;
    return -1;
}

/* ---- reading metadata --------------------------------------------------------------------- */

/* names [want] from string attribute `attr` of obj (which must have exactly want strings). */
static st_status_t read_names(hid_t obj, const char *path, const char *where, const char *attr, int want,
                              char (**out)[ST_NAME_MAX], st_error_t *err) {
    char **strs = NULL;
    int n = 0;
    ST_TRY(st_ds_read_str_attr(obj, path, attr, &strs, &n, err));
    st_status_t rc = st_ds_check_utf8(strs, n, path, attr, err);
    if (rc == ST_OK && n != want)
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has %d %s but %d %s", path, where, n, attr, want,
                     strcmp(attr, "class_names") == 0 ? "classes" : "columns");
    if (rc == ST_OK && !(*out = calloc((size_t)want, sizeof **out)))
        rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory for %s of %s", path, attr, where);
    for (int i = 0; rc == ST_OK && i < want; i++) st_ds_copy_name((*out)[i], strs[i]);
    st_ds_free_strs(strs, n);
    return rc;
}

/* Default names "0".."n-1" (classes) or "<target>[i]" (columns). */
static st_status_t default_names(st_target_info_t *t, int n, const char *path, st_error_t *err) {
    if (!(t->names = calloc((size_t)(n > 0 ? n : 1), sizeof *t->names)))
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the names of target %s", path, t->name);
    for (int i = 0; i < n; i++)
        if (t->kind == ST_TARGET_CLASS) st_format(t->names[i], ST_NAME_MAX, "%d", i);
        else if (n == 1) st_format(t->names[i], ST_NAME_MAX, "%s", t->name);
        else st_format(t->names[i], ST_NAME_MAX, "%.40s[%d]", t->name, i);
    return ST_OK;
}

static st_status_t target_kind(hid_t d, const char *path, const char *where, st_target_kind_t *kind,
                               st_error_t *err) {
    if (H5Aexists(d, "kind") <= 0)
        return st_fail(err, ST_ERR_DATA,
                       "%s: %s has no attribute kind (\"class\", \"multilabel\", \"regression\" or \"sequence\")",
                       path, where);
    char **k = NULL;
    int n = 0;
    ST_TRY(st_ds_read_str_attr(d, path, "kind", &k, &n, err));
    st_status_t rc = ST_OK;
    if (n == 1 && strcmp(k[0], "class") == 0) *kind = ST_TARGET_CLASS;
    else if (n == 1 && strcmp(k[0], "multilabel") == 0) *kind = ST_TARGET_MULTILABEL;
    else if (n == 1 && strcmp(k[0], "regression") == 0) *kind = ST_TARGET_REGRESSION;
    else if (n == 1 && strcmp(k[0], "sequence") == 0) *kind = ST_TARGET_SEQUENCE;
    else rc = st_fail(err, ST_ERR_DATA,
                      "%s: %s has kind \"%.40s\"; expected \"class\", \"multilabel\", \"regression\" or \"sequence\"",
                      path, where, n >= 1 ? k[0] : "");
    st_ds_free_strs(k, n);
    return rc;
}

/* The class count of a class target: n_classes, else the number of class_names, else max + 1. */
static st_status_t class_count(hid_t f, hid_t d, const char *path, st_target_info_t *t, int64_t N, st_error_t *err) {
    long long k = -1;
    if (H5Aexists(d, "n_classes") > 0) ST_TRY(st_ds_read_int_attr(d, path, "n_classes", &k, err));
    if (k < 0 && H5Aexists(d, "class_names") > 0) {
        char **s = NULL;
        int n = 0;
        ST_TRY(st_ds_read_str_attr(d, path, "class_names", &s, &n, err));
        st_ds_free_strs(s, n);
        k = n;
    }
    if (k < 0) {
        int64_t *v = malloc((size_t)N * sizeof *v), mx = -1;
        if (!v) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading %s", path, t->h5path);
        st_status_t rc = st_ds_read_1d(f, path, t->h5path, H5T_NATIVE_INT64, v, err);
        for (int64_t i = 0; rc == ST_OK && i < N; i++) mx = v[i] > mx ? v[i] : mx;
        free(v);
        ST_TRY(rc);
        k = mx + 1;
    }
    if (k < 1 || k > ST_MAX_CLASSES)
        return st_fail(err, ST_ERR_DATA, "%s: %s has %lld classes; expected 1..%d", path, t->h5path, k, ST_MAX_CLASSES);
    t->n_classes = (int)k;
    return ST_OK;
}

/* Shape, type and attributes of /targets/<name>. */
static st_status_t read_target(hid_t f, const char *path, const char *name, st_target_info_t *t, int64_t N,
                               st_error_t *err) {
    if (strlen(name) >= ST_NAME_MAX || !st_utf8_valid(name) || !name[0])
        return st_fail(err, ST_ERR_DATA, "%s: target name \"%.40s\" is empty, not UTF-8 or longer than %d bytes", path,
                       name, ST_NAME_MAX - 1);
    st_format(t->name, sizeof t->name, "%s", name);
    st_format(t->h5path, sizeof t->h5path, "/targets/%s", name);
    hid_t d = H5Dopen2(f, t->h5path, H5P_DEFAULT);
    if (d < 0) return st_fail(err, ST_ERR_DATA, "%s: %s is not a dataset", path, t->h5path);
    st_status_t rc = target_kind(d, path, t->h5path, &t->kind, err);
    int nd = 0;
    hsize_t dims[4] = {0, 1, 1, 1};
    H5T_class_t want = t->kind == ST_TARGET_REGRESSION ? H5T_FLOAT : H5T_INTEGER;
    if (rc == ST_OK) rc = st_ds_check_dataset(f, path, t->h5path, want, 0, &nd, dims, err);
    if (rc == ST_OK && t->kind == ST_TARGET_SEQUENCE) {
        if ((int64_t)dims[0] != N)
            rc = st_fail(err, ST_ERR_DATA, "%s: %s has %llu rows but /X has %lld", path, t->h5path,
                         (unsigned long long)dims[0], (long long)N);
        if (rc == ST_OK) rc = st_ds_read_sequence_metadata(f, d, path, t, nd, dims, err);
        H5Dclose(d);
        return rc;
    }
    if (rc == ST_OK && (nd < 1 || nd > 2 || (t->kind == ST_TARGET_CLASS && nd != 1)))
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has %d dimensions; a %s target is [N]%s", path, t->h5path, nd,
                     st_target_kind_name(t->kind), t->kind == ST_TARGET_CLASS ? "" : " or [N, k]");
    if (rc == ST_OK && (int64_t)dims[0] != N)
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has %llu rows but /X has %lld", path, t->h5path,
                     (unsigned long long)dims[0], (long long)N);
    if (rc == ST_OK && (nd == 2 && (dims[1] < 1 || dims[1] > 65536)))
        rc = st_fail(err, ST_ERR_DATA, "%s: %s has %llu columns; expected 1..65536", path, t->h5path,
                     (unsigned long long)dims[1]);
    t->width = nd == 2 ? (int)dims[1] : 1;
    long long miss = 0;
    if (rc == ST_OK && H5Aexists(d, "allow_missing") > 0) rc = st_ds_read_int_attr(d, path, "allow_missing", &miss, err);
    t->allow_missing = miss != 0;
    if (rc == ST_OK && t->kind == ST_TARGET_CLASS) rc = class_count(f, d, path, t, N, err);
    const char *attr = t->kind == ST_TARGET_CLASS ? "class_names" : t->kind == ST_TARGET_MULTILABEL ? "label_names"
                                                                                                  : "column_names";
    int n_names = t->kind == ST_TARGET_CLASS ? t->n_classes : t->width;
    if (rc == ST_OK && H5Aexists(d, attr) > 0) rc = read_names(d, path, t->h5path, attr, n_names, &t->names, err);
    else if (rc == ST_OK) rc = default_names(t, n_names, path, err);
    H5Dclose(d);
    return rc;
}

typedef struct {
    char names[ST_MAX_TARGETS + 1][ST_NAME_MAX + 8];
    int n;
} target_names_t;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *ctx) {
    (void)g, (void)info;
    target_names_t *tn = ctx;
    if (tn->n <= ST_MAX_TARGETS) st_format(tn->names[tn->n], sizeof tn->names[0], "%s", name);
    tn->n++;
    return 0;
}

/* The "y" target: /y with the root class table. */
static st_status_t y_target(const char *path, st_dataset_t *ds, st_error_t *err) {
    st_target_info_t *t = &ds->targets[0];
    st_format(t->name, sizeof t->name, "y");
    st_format(t->h5path, sizeof t->h5path, "/y");
    t->kind = ST_TARGET_CLASS, t->width = 1, t->n_classes = ds->n_classes;
    ST_TRY(default_names(t, ds->n_classes, path, err));
    for (int i = 0; i < ds->n_classes; i++) memcpy(t->names[i], ds->class_names[i], ST_NAME_MAX);
    ds->n_targets = 1;
    return ST_OK;
}

static st_status_t read_groups_metadata(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err) {
    if (H5Lexists(f, "/groups", H5P_DEFAULT) <= 0) return ST_OK;
    int nd = 0;
    hsize_t dims[4] = {0};
    ST_TRY(st_ds_check_dataset(f, path, "/groups", H5T_INTEGER, 0, &nd, dims, err));
    if (nd != 1 || (int64_t)dims[0] != ds->n)
        return st_fail(err, ST_ERR_DATA, "%s: /groups must have shape [N] = [%lld]", path, (long long)ds->n);
    ds->has_groups = 1;
    return ST_OK;
}

st_status_t st_ds_read_targets_metadata(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err) {
    ST_TRY(read_groups_metadata(f, path, ds, err));
    if (H5Lexists(f, "/targets", H5P_DEFAULT) <= 0) return y_target(path, ds, err);
    H5O_info_t info;
    if (H5Oget_info_by_name(f, "/targets", &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP)
        return st_fail(err, ST_ERR_DATA, "%s: /targets is not a group", path);
    target_names_t tn = {.n = 0};
    hid_t g = H5Gopen2(f, "/targets", H5P_DEFAULT);
    if (g < 0) return st_h5_fail(err, ST_ERR_DATA, path, "cannot open /targets");
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_name, &tn);
    H5Gclose(g);
    if (r < 0) return st_h5_fail(err, ST_ERR_DATA, path, "cannot list /targets");
    if (tn.n == 0) return st_fail(err, ST_ERR_DATA, "%s: /targets is empty", path);
    if (tn.n > ST_MAX_TARGETS)
        return st_fail(err, ST_ERR_DATA, "%s: /targets has %d targets; at most %d", path, tn.n, ST_MAX_TARGETS);
    for (int t = 0; t < tn.n; t++) {
        ds->n_targets = t + 1; /* so a failure frees what was read */
        ST_TRY(read_target(f, path, tn.names[t], &ds->targets[t], ds->n, err));
    }
    return ST_OK;
}

void st_ds_free_targets(st_dataset_t *ds) {
    for (int t = 0; t < ST_MAX_TARGETS; t++) {
        free(ds->targets[t].names);
        ds->targets[t].names = NULL;
    }
    ds->n_targets = 0;
}

/* ---- reading values ----------------------------------------------------------------------- */

static st_status_t read_whole_int64(const st_dataset_t *ds, const char *name, int64_t *out, st_error_t *err) {
    st_h5_quiet();
    st_h5_guard_enter(ds->path);
    hid_t f = -1;
    st_status_t rc = st_ds_open_file(ds->path, H5P_DEFAULT, &f, err);
    if (rc == ST_OK) rc = st_ds_read_1d(f, ds->path, name, H5T_NATIVE_INT64, out, err);
    if (f >= 0) H5Fclose(f);
    st_h5_guard_leave();
    return rc;
}

st_status_t st_dataset_read_target_ids(const st_dataset_t *ds, int t, int64_t *y, st_error_t *err) {
    if (t < 0 || t >= ds->n_targets || ds->targets[t].kind != ST_TARGET_CLASS)
        return st_fail(err, ST_ERR_INTERNAL, "%s: target %d is not a class target", ds->path, t);
    return read_whole_int64(ds, ds->targets[t].h5path, y, err);
}

st_status_t st_dataset_read_groups(const st_dataset_t *ds, int64_t *groups, st_error_t *err) {
    if (!ds->has_groups) return st_fail(err, ST_ERR_INTERNAL, "%s: has no /groups", ds->path);
    return read_whole_int64(ds, "/groups", groups, err);
}

st_status_t st_dataset_read_split(const st_dataset_t *ds, uint8_t *split, st_error_t *err) {
    if (!ds->has_split) return st_fail(err, ST_ERR_INTERNAL, "%s: has no /split", ds->path);
    int64_t *v = malloc((size_t)ds->n * sizeof *v);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading /split", ds->path);
    st_status_t rc = read_whole_int64(ds, "/split", v, err);
    for (int64_t i = 0; rc == ST_OK && i < ds->n; i++)
        if (v[i] < 0 || v[i] > 2)
            rc = st_fail(err, ST_ERR_DATA, "%s: /split[%lld] = %lld is not 0 (train), 1 (val) or 2 (test)", ds->path,
                         (long long)i, (long long)v[i]);
        else
            split[i] = (uint8_t)v[i];
    free(v);
    return rc;
}

int64_t st_target_first_bad(const st_target_info_t *t, const float *v, int64_t n, char *why, size_t why_size) {
    if (t->kind == ST_TARGET_SEQUENCE) return st_ds_sequence_first_bad(t, v, n, why, why_size);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < t->width; j++) {
            float x = v[(size_t)i * (size_t)t->width + (size_t)j];
            int missing = t->allow_missing && (t->kind == ST_TARGET_CLASS ? x == -1.0f : isnan(x));
            int ok = missing || (t->kind == ST_TARGET_CLASS      ? x >= 0 && x < (float)t->n_classes && x == floorf(x)
                                 : t->kind == ST_TARGET_MULTILABEL ? x == 0.0f || x == 1.0f
                                                                   : isfinite(x));
            if (ok) continue;
            if (t->kind == ST_TARGET_CLASS && x == -1.0f)
                st_format(why, why_size, "class id -1 (a missing value) needs the target's allow_missing attribute");
            else if (t->kind == ST_TARGET_CLASS && x != floorf(x))
                st_format(why, why_size, "class id %g is not an integer", x);
            else if (t->kind == ST_TARGET_CLASS)
                st_format(why, why_size, "class id %g is outside 0..%d%s", x, t->n_classes - 1,
                          t->allow_missing ? " (or -1: missing)" : "");
            else if (t->kind == ST_TARGET_MULTILABEL)
                st_format(why, why_size, "column %d (%s) is %g, not 0 or 1", j, t->names[j], x);
            else
                st_format(why, why_size, "column %d (%s) is %g%s", j, t->names[j], x,
                          isnan(x) ? " (a missing value needs allow_missing)" : ", not a finite number");
            return i;
        }
    return -1;
}

/* ---- writing ------------------------------------------------------------------------------ */

st_status_t st_ds_check_target_specs(const char *path, const st_dataset_spec_t *s, st_error_t *err) {
    if (s->n_targets < 0 || s->n_targets > ST_MAX_TARGETS)
        return st_fail(err, ST_ERR_DATA, "%s: %d targets; at most %d", path, s->n_targets, ST_MAX_TARGETS);
    for (int t = 0; t < s->n_targets; t++) {
        const st_target_spec_t *ts = &s->targets[t];
        if (!ts->name || !ts->name[0] || strlen(ts->name) >= ST_NAME_MAX || !st_utf8_valid(ts->name) ||
            strchr(ts->name, '/') || strchr(ts->name, '.'))
            return st_fail(err, ST_ERR_DATA, "%s: target %d's name is empty, longer than %d bytes, not UTF-8, or holds "
                           "'/' or '.'", path, t, ST_NAME_MAX - 1);
        for (int u = 0; u < t; u++)
            if (strcmp(s->targets[u].name, ts->name) == 0)
                return st_fail(err, ST_ERR_DATA, "%s: two targets are named %s", path, ts->name);
        if (ts->kind == ST_TARGET_SEQUENCE) {
            if (!ts->values) return st_fail(err, ST_ERR_DATA, "%s: target %s has no values", path, ts->name);
            ST_TRY(st_ds_check_sequence_spec(path, ts, s->n, err));
            continue;
        }
        int width = ts->kind == ST_TARGET_CLASS ? 1 : ts->width;
        if (!ts->values || width < 1 || (ts->kind == ST_TARGET_CLASS && (ts->n_classes < 1 || ts->n_classes > ST_MAX_CLASSES)))
            return st_fail(err, ST_ERR_DATA, "%s: target %s has no values, width %d or %d classes", path, ts->name,
                           width, ts->n_classes);
        for (int64_t i = 0; ts->kind == ST_TARGET_CLASS && i < s->n; i++) {
            int32_t v = ((const int32_t *)ts->values)[i];
            if ((v < 0 && !(ts->allow_missing && v == -1)) || v >= ts->n_classes)
                return st_fail(err, ST_ERR_DATA, "%s: target %s row %lld: class id %d is outside 0..%d", path, ts->name,
                               (long long)i, (int)v, ts->n_classes - 1);
        }
    }
    return ST_OK;
}

/* One target dataset with its attributes. */
static const char *write_target(hid_t f, hid_t g, const st_target_spec_t *ts, int64_t n) {
    int seq = ts->kind == ST_TARGET_SEQUENCE;
    int width = ts->kind == ST_TARGET_CLASS ? 1 : ts->width, nd = ts->kind == ST_TARGET_CLASS ? 1 : 2;
    hid_t ft = ts->kind == ST_TARGET_CLASS || seq ? H5T_STD_I32LE : ts->kind == ST_TARGET_MULTILABEL ? H5T_STD_U8LE : H5T_IEEE_F32LE;
    hid_t mt = ts->kind == ST_TARGET_CLASS || seq ? H5T_NATIVE_INT32 : ts->kind == ST_TARGET_MULTILABEL ? H5T_NATIVE_UINT8
                                                                                               : H5T_NATIVE_FLOAT;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)width};
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t d = H5Dcreate2(g, ts->name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    if (d < 0) return "cannot create a target";
    int ok = H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ts->values) >= 0;
    const char *kind = st_target_kind_name(ts->kind);
    ok = ok && st_h5_write_string_attr(d, "kind", &kind, -1);
    if (seq) {
        const char *failed = ok ? st_ds_write_sequence_extras(f, d, ts, n) : "cannot write a target";
        ok = H5Dclose(d) >= 0 && !failed;
        return ok ? NULL : failed ? failed : "cannot write a target";
    }
    if (ts->allow_missing) ok = ok && st_ds_write_int_attr(d, "allow_missing", 1);
    if (ts->kind == ST_TARGET_CLASS) ok = ok && st_ds_write_int_attr(d, "n_classes", ts->n_classes);
    const char *attr = ts->kind == ST_TARGET_CLASS ? "class_names" : ts->kind == ST_TARGET_MULTILABEL ? "label_names"
                                                                                                   : "column_names";
    if (ts->names) ok = ok && st_h5_write_string_attr(d, attr, ts->names, ts->kind == ST_TARGET_CLASS ? ts->n_classes : width);
    ok = H5Dclose(d) >= 0 && ok;
    return ok ? NULL : "cannot write a target";
}

const char *st_ds_write_targets(hid_t f, const st_dataset_spec_t *s) {
    if (s->groups && !st_ds_write_1d(f, "/groups", H5T_STD_I64LE, H5T_NATIVE_INT64, s->n, s->groups))
        return "cannot write /groups";
    if (s->n_targets <= 0) return NULL;
    hid_t g = H5Gcreate2(f, "/targets", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return "cannot create /targets";
    const char *failed = NULL;
    for (int t = 0; !failed && t < s->n_targets; t++) failed = write_target(f, g, &s->targets[t], s->n);
    H5Gclose(g);
    return failed;
}
