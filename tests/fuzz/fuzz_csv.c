/* fuzz_csv.c — libFuzzer harness for the CSV converter: the input is a CSV file, converted with
 * st_convert_csv to a temporary HDF5 file (label column "label"; split column "split"), then
 * both files are removed. The first byte of the input, when it is a digit, picks the options
 * (bit 0: drop bad rows; bit 1: use the split column) and is not part of the file. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sharding/convert_csv.h"
#include "sharding/h5util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) { st_h5_quiet(); quiet = 1; }
    st_csv_options_t opt = {.label = "label"};
    if (size > 0 && data[0] >= '0' && data[0] <= '9') {
        int flags = data[0] - '0';
        opt.drop_bad_rows = flags & 1;
        if (flags & 2) opt.split_column = "split";
        data++, size--;
    }
    char in[256], out[256];
    fz_tmp_path(in, sizeof in, "in.csv");
    fz_tmp_path(out, sizeof out, "out.h5");
    if (fz_write(in, data, size) == 0) {
        opt.path = in;
        st_csv_summary_t sum;
        st_error_t err;
        st_convert_csv(out, &opt, &sum, &err);
    }
    unlink(in);
    unlink(out);
    return 0;
}
