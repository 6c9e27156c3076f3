/* convert_paths.c — refusing a conversion whose output is one of its inputs (see
 * convert_paths.h): the files are compared by device and inode. */
#include "convert_paths.h"

#include <stdio.h>
#include <sys/stat.h>

/* 1 when a and b name the same existing file. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

st_status_t st_convert_check_output(const char *out, const char *const *inputs, int n_inputs, st_error_t *err) {
    char tmp[4200];
    int has_tmp = snprintf(tmp, sizeof tmp, "%s.tmp", out) < (int)sizeof tmp;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) continue;
        if (same_file(out, inputs[i]))
            return st_fail(err, ST_ERR_CONFIG,
                           "%s: the output is the input %s (the same file); writing it would destroy the input: "
                           "choose another output path", out, inputs[i]);
        if (has_tmp && same_file(tmp, inputs[i]))
            return st_fail(err, ST_ERR_CONFIG,
                           "%s: its temporary file %s is the input %s (the same file); writing it would destroy the "
                           "input: choose another output path", out, tmp, inputs[i]);
    }
    return ST_OK;
}
