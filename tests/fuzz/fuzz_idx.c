/* fuzz_idx.c — libFuzzer harness for the IDX converter: the input holds two IDX files (plain or
 * gzip'ed), the labels then the images: its first two bytes are the labels file's length
 * (big-endian, cut to what is there), the rest is the images file. They are converted with
 * st_convert_idx to a temporary HDF5 file; all three files are removed afterwards. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sharding/convert_idx.h"
#include "sharding/h5util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) { st_h5_quiet(); quiet = 1; }
    if (size < 2) return 0;
    size_t n_labels = ((size_t)data[0] << 8) | data[1];
    data += 2, size -= 2;
    if (n_labels > size) n_labels = size;
    char labels[256], images[256], out[256];
    fz_tmp_path(labels, sizeof labels, "labels.idx");
    fz_tmp_path(images, sizeof images, "images.idx");
    fz_tmp_path(out, sizeof out, "out.h5");
    if (fz_write(labels, data, n_labels) == 0 && fz_write(images, data + n_labels, size - n_labels) == 0) {
        st_idx_options_t opt = {.images = images, .labels = labels};
        st_idx_summary_t sum;
        st_error_t err;
        st_convert_idx(out, &opt, &sum, &err);
    }
    unlink(labels);
    unlink(images);
    unlink(out);
    return 0;
}
