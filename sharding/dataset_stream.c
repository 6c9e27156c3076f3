/* dataset_stream.c — strata's dataset format written in blocks of rows, serially or over MPI-IO
 * (dataset_stream.h): the file is created at its final size with the attributes, each call
 * writes one block of rows of /X, /y and the optional per-row datasets, and the finish checks
 * the file and renames it into place. */
#include "dataset_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "h5util.h"

/* Every rank's status combined (collective writers): a failing rank keeps its message, the
 * others get one naming the file. */
static st_status_t agree(const st_dataset_stream_t *w, st_status_t rc, st_error_t *err) {
    if (w->comm == MPI_COMM_NULL) return rc;
    int mine = rc, worst = 0;
    if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, w->comm) != MPI_SUCCESS)
        return st_fail(err, ST_ERR_MPI, "%s: MPI_Allreduce failed while writing", w->path);
    if (worst == ST_OK || rc != ST_OK) return rc;
    return st_fail(err, (st_status_t)worst, "%s: another rank failed writing it", w->path);
}

/* "<path>: <what> (HDF5: ...); nothing was written" (the temporary is removed by the caller), as
 * st_h5_image_commit words it. */
static st_status_t fail_unwritten(const st_dataset_stream_t *w, const char *what, st_error_t *err) {
    char detail[256];
    st_h5_detail(detail, sizeof detail);
    return st_fail(err, ST_ERR_IO, "%s: %s%s; nothing was written", w->path, what, detail);
}

/* A dataset of `nd` dims at its final size, never filled (every row is written), chunked when
 * chunk != NULL. */
static hid_t create(hid_t f, const char *name, hid_t type, int nd, const hsize_t *dims, const hsize_t *chunk) {
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    if (chunk) H5Pset_chunk(dcpl, nd, chunk);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* /X chunked as st_dataset_write does it: about 1 MiB of rows a chunk. */
static hid_t create_x(const st_dataset_stream_t *w) {
    const st_stream_spec_t *s = &w->spec;
    hsize_t dims[3], chunk[3];
    int nd = st_dataset_x_layout(dims, chunk, s->shape, s->n);
    return create(w->f, "/X", H5T_IEEE_F32LE, nd, dims, chunk);
}

/* The root attributes; NULL or what failed. */
static const char *write_attrs(const st_dataset_stream_t *w) {
    const st_stream_spec_t *s = &w->spec;
    int format = s->has_lengths ? 3 : s->has_groups || s->n_targets > 0 ? 2 : 1;
    if (!st_ds_write_int_attr(w->f, "strata_format", format)) return "cannot write attributes";
    if (s->n_feature_names > 0 && !st_h5_write_string_attr(w->f, "feature_names", s->feature_names, s->n_feature_names))
        return "cannot write attribute feature_names";
    const char *src = s->source ? s->source : "";
    if (!st_h5_write_string_attr(w->f, "source", &src, -1)) return "cannot write attribute source";
    if (s->n_classes == 0) return NULL; /* no /y: no root class table */
    if (!st_ds_write_int_attr(w->f, "n_classes", s->n_classes)) return "cannot write attributes";
    const char **names = calloc((size_t)s->n_classes, sizeof *names);
    char (*defaults)[12] = calloc((size_t)s->n_classes, sizeof *defaults);
    int ok = names && defaults;
    for (int c = 0; ok && c < s->n_classes; c++) {
        snprintf(defaults[c], sizeof defaults[c], "%d", c);
        names[c] = s->class_names ? s->class_names[c] : defaults[c];
    }
    ok = ok && st_h5_write_string_attr(w->f, "class_names", names, s->n_classes);
    free(names);
    free(defaults);
    return ok ? NULL : "cannot write attribute class_names";
}

/* The spec's targets through st_dataset_write's own code (dataset_targets.c). */
static const char *write_targets(const st_dataset_stream_t *w) {
    if (w->spec.n_targets == 0) return NULL;
    st_dataset_spec_t ds = {.n = w->spec.n, .n_targets = w->spec.n_targets, .targets = w->spec.targets};
    return st_ds_write_targets(w->f, &ds);
}

/* The file and its datasets; NULL or what failed. */
static const char *create_file(st_dataset_stream_t *w) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (w->comm != MPI_COMM_NULL) H5Pset_fapl_mpio(fapl, w->comm, MPI_INFO_NULL);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    H5Pset_attr_phase_change(fcpl, 0, 0); /* dense attributes, as st_dataset_write (dataset.c) */
    w->f = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fapl);
    H5Pclose(fcpl);
    if (w->f < 0) return "cannot create the temporary file";
    hsize_t n = (hsize_t)w->spec.n;
    if ((w->x = create_x(w)) < 0) return "cannot create /X";
    if (w->spec.n_classes > 0 && (w->y = create(w->f, "/y", H5T_STD_I32LE, 1, &n, NULL)) < 0) return "cannot create /y";
    if (w->spec.has_split && (w->split = create(w->f, "/split", H5T_STD_U8LE, 1, &n, NULL)) < 0)
        return "cannot create /split";
    if (w->spec.has_groups && (w->groups = create(w->f, "/groups", H5T_STD_I64LE, 1, &n, NULL)) < 0)
        return "cannot create /groups";
    if (w->spec.has_lengths && (w->lengths = create(w->f, "/lengths", H5T_STD_I32LE, 1, &n, NULL)) < 0)
        return "cannot create /lengths";
    const char *failed = write_targets(w);
    return failed ? failed : write_attrs(w);
}

static void close_all(st_dataset_stream_t *w) {
    st_h5_close_id(&w->x, H5Dclose);
    st_h5_close_id(&w->y, H5Dclose);
    st_h5_close_id(&w->split, H5Dclose);
    st_h5_close_id(&w->groups, H5Dclose);
    st_h5_close_id(&w->lengths, H5Dclose);
    st_h5_close_id(&w->f, H5Fclose);
}

st_status_t st_stream_create(st_dataset_stream_t *w, const char *path, const st_stream_spec_t *spec, MPI_Comm comm,
                             st_error_t *err) {
    memset(w, 0, sizeof *w);
    w->f = w->x = w->y = w->split = w->groups = w->lengths = -1;
    w->comm = comm;
    if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &w->rank);
    st_h5_quiet();
    if (st_format(w->path, sizeof w->path, "%s", path) || st_format(w->tmp, sizeof w->tmp, "%s.tmp", path))
        return st_fail(err, ST_ERR_IO, "%s: path too long", path);
    w->spec = *spec;
    w->spec.class_names = NULL, w->spec.source = NULL, w->spec.feature_names = NULL; /* only read while creating */
    w->spec.targets = NULL;
    int bad_shape = (spec->shape.rank != 1 && spec->shape.rank != 2) || (spec->has_lengths && spec->shape.rank != 2);
    if (spec->n < 1 || spec->n_classes < 0 || spec->n_classes > ST_MAX_CLASSES || bad_shape ||
        (spec->n_classes == 0 && spec->n_targets == 0))
        return st_fail(err, ST_ERR_INTERNAL, "%s: bad stream spec (%lld rows, %d classes, rank %d)", path,
                       (long long)spec->n, spec->n_classes, spec->shape.rank);
    st_dataset_spec_t ts = {.n = spec->n, .n_targets = spec->n_targets, .targets = spec->targets};
    for (int t = 0; t < spec->n_targets; t++)
        if (spec->targets[t].kind == ST_TARGET_SEQUENCE)
            return st_fail(err, ST_ERR_INTERNAL, "%s: the streaming writer takes no sequence targets", path);
    ST_TRY(agree(w, st_ds_check_target_specs(path, &ts, err), err));
    w->spec.class_names = spec->class_names, w->spec.source = spec->source, w->spec.feature_names = spec->feature_names;
    w->spec.targets = spec->targets;
    const char *failed = create_file(w);
    w->spec.class_names = NULL, w->spec.source = NULL, w->spec.feature_names = NULL, w->spec.targets = NULL;
    st_status_t rc = failed ? fail_unwritten(w, failed, err) : ST_OK;
    if ((rc = agree(w, rc, err)) != ST_OK) st_stream_abort(w);
    return rc;
}

/* Rows [row0, row0 + n) of the dataset d ([N, ...]) from buf (mem_type). */
static int write_rows(const st_dataset_stream_t *w, hid_t d, hid_t mem_type, int64_t row0, int64_t n, const void *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t dims[3] = {0, 1, 1};
    int nd = H5Sget_simple_extent_dims(fs, dims, NULL);
    hsize_t start[3] = {(hsize_t)row0, 0, 0}, count[3] = {(hsize_t)n, dims[1], dims[2]}, one = 1;
    hid_t ms;
    if (n > 0) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        ms = H5Screate_simple(nd, count, NULL);
    } else {
        H5Sselect_none(fs);
        ms = H5Screate_simple(1, &one, NULL);
        H5Sselect_none(ms);
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (w->comm != MPI_COMM_NULL) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    static const char dummy[8];
    int ok = H5Dwrite(d, mem_type, ms, fs, dxpl, n > 0 ? buf : dummy) >= 0;
    H5Pclose(dxpl);
    H5Sclose(ms);
    H5Sclose(fs);
    return ok;
}

st_status_t st_stream_write(st_dataset_stream_t *w, int64_t row0, int64_t n_rows, const float *X, const int32_t *y,
                            const uint8_t *split, const int64_t *groups, const int32_t *lengths, st_error_t *err) {
    const st_stream_spec_t *s = &w->spec;
    st_status_t rc = ST_OK;
    if (row0 < 0 || n_rows < 0 || row0 > s->n || n_rows > s->n - row0 || (n_rows > 0 && (!X || (s->n_classes && !y))) ||
        (n_rows > 0 && ((s->has_split && !split) || (s->has_groups && !groups) || (s->has_lengths && !lengths))))
        rc = st_fail(err, ST_ERR_INTERNAL, "%s: rows %lld..+%lld lie outside its %lld rows, or a block is missing",
                     w->path, (long long)row0, (long long)n_rows, (long long)s->n);
    if ((rc = agree(w, rc, err)) != ST_OK) return rc;
    /* every dataset is written even after one failed: a collective write must be entered by all */
    int ok = write_rows(w, w->x, H5T_NATIVE_FLOAT, row0, n_rows, X);
    if (s->n_classes > 0) ok = write_rows(w, w->y, H5T_NATIVE_INT32, row0, n_rows, y) && ok;
    if (s->has_split) ok = write_rows(w, w->split, H5T_NATIVE_UINT8, row0, n_rows, split) && ok;
    if (s->has_groups) ok = write_rows(w, w->groups, H5T_NATIVE_INT64, row0, n_rows, groups) && ok;
    if (s->has_lengths) ok = write_rows(w, w->lengths, H5T_NATIVE_INT32, row0, n_rows, lengths) && ok;
    if (!ok) {
        char what[96];
        st_format(what, sizeof what, "cannot write rows %lld..%lld", (long long)row0, (long long)(row0 + n_rows - 1));
        rc = fail_unwritten(w, what, err);
    }
    return agree(w, rc, err);
}

/* Rank 0: the closed temporary opens as a dataset of n rows and is fsync'ed; then it replaces
 * `path` and the folder is synced (as st_dataset_write does). */
static st_status_t check_and_rename(const st_dataset_stream_t *w, st_error_t *err) {
    st_dataset_t ds;
    ST_TRY(st_dataset_open(w->tmp, &ds, err));
    int64_t n = ds.n;
    st_dataset_close(&ds);
    if (n != w->spec.n)
        return st_fail(err, ST_ERR_IO, "%s: reads back with %lld rows instead of %lld", w->tmp, (long long)n,
                       (long long)w->spec.n);
    int fd = open(w->tmp, O_RDONLY | O_CLOEXEC);
    int synced = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    if (!synced)
        return st_fail(err, ST_ERR_IO, "%s: cannot fsync the temporary file (%s); nothing was written", w->path,
                       strerror(errno));
    if (rename(w->tmp, w->path) != 0)
        return st_fail(err, ST_ERR_IO, "%s: cannot rename the temporary file over it (%s); nothing was written", w->path,
                       strerror(errno));
    st_h5_fsync_parent(w->path, 0);
    return ST_OK;
}

st_status_t st_stream_finish(st_dataset_stream_t *w, st_error_t *err) {
    st_h5_close_id(&w->x, H5Dclose);
    st_h5_close_id(&w->y, H5Dclose);
    st_h5_close_id(&w->split, H5Dclose);
    st_h5_close_id(&w->groups, H5Dclose);
    st_h5_close_id(&w->lengths, H5Dclose);
    st_status_t rc = H5Fclose(w->f) < 0 ? fail_unwritten(w, "cannot finish the file", err) : ST_OK;
    w->f = -1;
    if ((rc = agree(w, rc, err)) == ST_OK && w->rank == 0) rc = check_and_rename(w, err);
    if ((rc = agree(w, rc, err)) != ST_OK && w->rank == 0) remove(w->tmp);
    return rc;
}

void st_stream_abort(st_dataset_stream_t *w) {
    close_all(w);
    if (w->comm != MPI_COMM_NULL) MPI_Barrier(w->comm);
    if (w->rank == 0) remove(w->tmp);
}
