/* fuzz_dataset.c — libFuzzer harness for the HDF5 dataset reader: the input is an HDF5 file,
 * opened with st_dataset_open; when it opens, its labels (and split) are read and the first few
 * rows of /X with an independent read (MPI_COMM_NULL), as a serial `strata inspect` would.
 * Files claiming more than 2^20 samples only have their metadata checked (the harness would
 * spend its time allocating). Crashes inside libhdf5 itself are reported apart from strata's. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sharding/dataset.h"
#include "sharding/h5util.h"

static void read_some(const st_dataset_t *ds) {
    st_error_t err;
    int32_t *y = malloc((size_t)ds->n * sizeof *y);
    uint8_t *split = malloc((size_t)ds->n);
    if (y && split) st_dataset_read_labels(ds, y, split, &err);
    free(y);
    free(split);
    int64_t rows = ds->n < 4 ? ds->n : 4;
    long numel = st_shape_numel(ds->shape);
    if (numel <= 0 || numel > (1L << 20)) return;
    float *X = malloc((size_t)(rows * numel) * sizeof *X + 1);
    if (X) st_dataset_read_rows(ds, 0, rows, X, MPI_COMM_NULL, &err);
    free(X);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) { st_h5_quiet(); quiet = 1; }
    char path[256];
    fz_tmp_path(path, sizeof path, "dataset.h5");
    if (fz_write(path, data, size) == 0) {
        st_dataset_t ds;
        st_error_t err;
        if (st_dataset_open(path, &ds, &err) == ST_OK) {
            if (ds.n > 0 && ds.n <= (1 << 20)) read_some(&ds);
            st_dataset_close(&ds);
        }
    }
    unlink(path);
    return 0;
}
