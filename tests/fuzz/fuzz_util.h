/* fuzz_util.h — what the libFuzzer harnesses of tests/fuzz/ share: writing the fuzzer's bytes
 * to a file (the readers under test take paths) and a quiet HDF5 error stack.
 *
 * Each harness process uses its own temporary files, named after its pid under $TMPDIR (or
 * /tmp), and removes them after every input, so nothing is left behind when a run ends. */
#ifndef ST_FUZZ_UTIL_H
#define ST_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A temporary path for this process: "<tmp>/strata_fuzz_<pid>_<tag>". */
static inline void fz_tmp_path(char *out, size_t size, const char *tag) {
    const char *tmp = getenv("TMPDIR");
    snprintf(out, size, "%s/strata_fuzz_%ld_%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(), tag);
}

/* Writes data[0..n) to path; returns 0 on success. */
static inline int fz_write(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    int rc = fclose(f);
    return (w == n && rc == 0) ? 0 : -1;
}

#endif
