/* dataset_internal.h — helpers shared by the files that read and write strata's dataset format
 * (sharding/dataset.c: /X, /y, /split and the root attributes; sharding/dataset_targets.c:
 * /targets and /groups). Not part of the library's API. Every helper names the file `path` in
 * its errors. */
#ifndef ST_DATASET_INTERNAL_H
#define ST_DATASET_INTERNAL_H

#include <hdf5.h>

#include "dataset.h"

const char *st_ds_type_name(hid_t t, char *buf, size_t size);
st_status_t st_ds_open_file(const char *path, hid_t fapl, hid_t *f, st_error_t *err);
/* A string attribute (scalar or 1-d) as n malloc'd strings (st_ds_free_strs). */
st_status_t st_ds_read_str_attr(hid_t obj, const char *path, const char *name, char ***out, int *n_out,
                                st_error_t *err);
st_status_t st_ds_check_utf8(char **names, int n, const char *path, const char *attr, st_error_t *err);
void st_ds_copy_name(char *dst, const char *src);
void st_ds_free_strs(char **s, int n);
st_status_t st_ds_read_int_attr(hid_t obj, const char *path, const char *name, long long *v, st_error_t *err);
/* `name` is a dataset of type class `want` (float32 only when float32_only); its dims. */
st_status_t st_ds_check_dataset(hid_t f, const char *path, const char *name, H5T_class_t want, int float32_only,
                                int *ndims, hsize_t dims[4], st_error_t *err);
st_status_t st_ds_read_1d(hid_t f, const char *path, const char *name, hid_t mem_type, void *buf, st_error_t *err);

int st_ds_write_int_attr(hid_t f, const char *name, int v);           /* 1 on success */
int st_ds_write_1d(hid_t f, const char *name, hid_t file_type, hid_t mem_type, int64_t n, const void *buf);

/* dataset_targets.c: the targets and groups of an open file (ds->n, ds->has_y and the root class
 * table already set), and writing them. */
st_status_t st_ds_read_targets_metadata(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err);
void st_ds_free_targets(st_dataset_t *ds);
/* NULL on success, else what failed. */
const char *st_ds_write_targets(hid_t f, const st_dataset_spec_t *s);
st_status_t st_ds_check_target_specs(const char *path, const st_dataset_spec_t *s, st_error_t *err);

/* dataset.c: rows [row0, row0 + n_rows) of the dataset `name` ([N, ...], row_floats values a
 * row) read as float, in HDF5's crash guard; collective like st_dataset_read_rows. */
st_status_t st_ds_read_rows_float(const st_dataset_t *ds, const char *name, long row_floats, int64_t row0,
                                  int64_t n_rows, float *out, MPI_Comm comm, st_error_t *err);

/* dataset_lengths.c: /lengths of an open file (checks its type and shape; sets has_lengths),
 * and writing it (NULL on success, else what failed). */
st_status_t st_ds_read_lengths_metadata(hid_t f, const char *path, st_dataset_t *ds, st_error_t *err);
st_status_t st_ds_check_lengths_spec(const char *path, const st_dataset_spec_t *s, st_error_t *err);
const char *st_ds_write_lengths(hid_t f, const st_dataset_spec_t *s);

/* dataset_sequences.c: sequence targets (kind "sequence", format 4). */
st_status_t st_ds_read_sequence_metadata(hid_t f, hid_t d, const char *path, st_target_info_t *t, int nd,
                                         const hsize_t dims[4], st_error_t *err);
/* Rows as [len, labels...] (see dataset.h); collective like st_dataset_read_rows. */
st_status_t st_ds_read_sequence_rows(const st_dataset_t *ds, const st_target_info_t *t, int64_t row0, int64_t n_rows,
                                     float *out, MPI_Comm comm, st_error_t *err);
int64_t st_ds_sequence_first_bad(const st_target_info_t *t, const float *v, int64_t n, char *why, size_t why_size);
st_status_t st_ds_check_sequence_spec(const char *path, const st_target_spec_t *ts, int64_t n, st_error_t *err);
const char *st_ds_write_sequence_extras(hid_t f, hid_t d, const st_target_spec_t *ts, int64_t n);
int st_ds_spec_has_sequences(const st_dataset_spec_t *s);
/* /X's layout for n rows of `shape`: dims [rank + 1] and chunks of about 1 MiB of whole rows (one
 * row a chunk when a row is larger), as every writer makes it; returns the rank of /X. */
int st_dataset_x_layout(hsize_t dims[3], hsize_t chunk[3], st_shape_t shape, int64_t n);

#endif
