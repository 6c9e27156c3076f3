/* fuzz_ckpt.c — libFuzzer harness for the checkpoint reader: the input is a checkpoint file,
 * read with st_ckpt_read (every dataset, attribute and checksum it validates) and freed. Built
 * with -DST_CKPT_NO_INTEGRITY, so a file-level integrity check in front of the reader (when the
 * library has one) does not reject the mutated files before the reader sees them. */
#include <stdint.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "jobs/checkpoint.h"
#include "sharding/h5util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) { st_h5_quiet(); quiet = 1; }
    char path[256];
    fz_tmp_path(path, sizeof path, "ckpt.h5");
    if (fz_write(path, data, size) == 0) {
        st_ckpt_t ck;
        st_error_t err;
        st_ckpt_read(path, &ck, &err);
        st_ckpt_free(&ck);
    }
    unlink(path);
    return 0;
}
