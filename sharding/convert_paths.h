/* convert_paths.h — the check that a converter's output is none of its inputs.
 *
 * `strata convert csv data.csv -o data.csv` used to read the input, then rename the new dataset
 * over it: the CSV was gone and the command exited 0. Paths are compared as files (device and
 * inode, after following symlinks), so a symlink or a hard link to an input is caught as well as
 * the same spelling; the writer's temporary (output + ".tmp") is checked too, since it is
 * truncated and then renamed away. */
#ifndef ST_CONVERT_PATHS_H
#define ST_CONVERT_PATHS_H

#include "st_error.h"

/* Fails (ST_ERR_CONFIG) when `out` or `out`.tmp exists and is the same file as one of the
 * n_inputs paths in inputs (NULL entries are skipped), naming both paths. Inputs that cannot be
 * stat'ed are left to the readers, which report them. */
st_status_t st_convert_check_output(const char *out, const char *const *inputs, int n_inputs, st_error_t *err);

#endif
