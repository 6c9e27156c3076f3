/* stream_prefetch.c — the background read of a streamed split's next block (see
 * stream_prefetch.h): /X's byte layout found with HDF5 once, rows read with pread(2). */
#include "sharding/stream_prefetch.h"

#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

/* The chunk table of a chunked /X whose chunks hold whole rows; 0 with why when not usable. */
static int chunk_table(st_prefetch_t *p, hid_t d, hid_t sp, hid_t dcpl, int rank, const hsize_t *dims) {
    hsize_t cdims[8];
    if (H5Pget_chunk(dcpl, rank, cdims) != rank) return snprintf(p->why, sizeof p->why, "unreadable chunk shape"), 0;
    for (int i = 1; i < rank; i++)
        if (cdims[i] != dims[i]) return snprintf(p->why, sizeof p->why, "chunks split a row"), 0;
    p->chunk_rows = (int64_t)cdims[0];
    p->n_chunks = (p->n_rows + p->chunk_rows - 1) / p->chunk_rows;
    p->chunk_addr = calloc((size_t)(p->n_chunks ? p->n_chunks : 1), sizeof *p->chunk_addr);
    uint8_t *seen = calloc((size_t)(p->n_chunks ? p->n_chunks : 1), 1);
    hsize_t n = 0;
    int ok = p->chunk_addr && seen && H5Dget_num_chunks(d, sp, &n) >= 0;
    for (hsize_t i = 0; ok && i < n; i++) {
        hsize_t off[8];
        unsigned mask = 0;
        haddr_t addr;
        hsize_t size;
        ok = H5Dget_chunk_info(d, sp, i, off, &mask, &addr, &size) >= 0 && off[0] % cdims[0] == 0;
        int64_t c = ok ? (int64_t)(off[0] / cdims[0]) : -1;
        if (ok && c < p->n_chunks) p->chunk_addr[c] = (uint64_t)addr, seen[c] = 1;
    }
    for (int64_t c = 0; ok && c < p->n_chunks; c++) ok = seen[c];
    free(seen);
    if (!ok) snprintf(p->why, sizeof p->why, "a chunk is missing or unreadable");
    return ok;
}

/* Serial HDF5 on the main thread: is /X little-endian float32, unfiltered, contiguous or in
 * chunks of whole rows? Fills the offsets. */
static int find_layout(st_prefetch_t *p, const char *path) {
    int ok = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "/X", H5P_DEFAULT) : -1;
    hid_t t = d >= 0 ? H5Dget_type(d) : -1, sp = d >= 0 ? H5Dget_space(d) : -1, dcpl = d >= 0 ? H5Dget_create_plist(d) : -1;
    hsize_t dims[8];
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (dcpl < 0 || rank < 1 || rank > 8) snprintf(p->why, sizeof p->why, "cannot open /X");
    else if (H5Tequal(t, H5T_IEEE_F32LE) <= 0) snprintf(p->why, sizeof p->why, "/X is not little-endian float32");
    else if (H5Pget_nfilters(dcpl) != 0) snprintf(p->why, sizeof p->why, "/X is filtered (compressed)");
    else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        p->n_rows = (int64_t)dims[0];
        H5D_layout_t layout = H5Pget_layout(dcpl);
        if (layout == H5D_CONTIGUOUS) {
            haddr_t a = H5Dget_offset(d);
            p->chunk_rows = p->n_rows > 0 ? p->n_rows : 1, p->n_chunks = 1;
            p->chunk_addr = calloc(1, sizeof *p->chunk_addr);
            ok = p->chunk_addr && a != HADDR_UNDEF;
            if (ok) p->chunk_addr[0] = (uint64_t)a;
            else snprintf(p->why, sizeof p->why, "/X has no storage yet");
        } else if (layout == H5D_CHUNKED) {
            ok = chunk_table(p, d, sp, dcpl, rank, dims);
        } else {
            snprintf(p->why, sizeof p->why, "/X is stored compactly or virtually");
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    return ok;
}

st_status_t st_prefetch_open(st_prefetch_t *p, const char *path, size_t row_bytes, int64_t cap_rows, st_error_t *err) {
    memset(p, 0, sizeof *p);
    p->fd = -1, p->block = -1, p->row_bytes = row_bytes, p->cap_rows = cap_rows;
    if (!find_layout(p, path)) return ST_OK;
    if ((p->fd = open(path, O_RDONLY)) < 0) {
        snprintf(p->why, sizeof p->why, "cannot open the file for reading");
        return ST_OK;
    }
    if (!(p->buf = malloc((size_t)(cap_rows > 0 ? cap_rows : 1) * row_bytes)))
        return st_fail(err, ST_ERR_NOMEM, "data.stream: cannot allocate %.1f MiB for the prefetch",
                       (double)cap_rows * (double)row_bytes / 1048576.0);
    p->usable = 1;
    return ST_OK;
}

/* Rows [lo, hi) into dst: one pread per chunk they touch (whole rows are contiguous within a
 * chunk). 1 when every byte was read. */
static int read_range(const st_prefetch_t *p, float *dst_f, int64_t lo, int64_t hi) {
    int ok = 1;
    for (int64_t r = lo; ok && r < hi;) {
        int64_t c = r / p->chunk_rows, end = (c + 1) * p->chunk_rows < hi ? (c + 1) * p->chunk_rows : hi;
        size_t bytes = (size_t)(end - r) * p->row_bytes, done = 0;
        off_t at = (off_t)(p->chunk_addr[c] + (uint64_t)(r - c * p->chunk_rows) * p->row_bytes);
        char *dst = (char *)dst_f + (size_t)(r - lo) * p->row_bytes;
        while (ok && done < bytes) {
            ssize_t got = pread(p->fd, dst + done, bytes - done, at + (off_t)done);
            ok = got > 0;
            done += got > 0 ? (size_t)got : 0;
        }
        r = end;
    }
    return ok;
}

static void *job(void *arg) {
    st_prefetch_t *p = arg;
    double t0 = st_clock_s();
    p->ok = read_range(p, p->buf, p->lo, p->hi);
    p->read_s += st_clock_s() - t0;
    return NULL;
}

int st_prefetch_read(const st_prefetch_t *p, float *dst, int64_t lo, int64_t hi) {
    if (!p->usable || lo < 0 || hi > p->n_rows || lo > hi) return 0;
    return read_range(p, dst, lo, hi);
}

void st_prefetch_start(st_prefetch_t *p, int64_t block, int64_t lo, int64_t hi) {
    st_prefetch_wait(p);
    p->block = -1;
    if (!p->usable || hi - lo > p->cap_rows || lo < 0 || hi > p->n_rows) return;
    p->block = block, p->lo = lo, p->hi = hi, p->ok = 0;
    p->running = pthread_create(&p->thread, NULL, job, p) == 0;
    if (!p->running) p->block = -1;
}

int st_prefetch_wait(st_prefetch_t *p) {
    if (!p->running) return 0;
    pthread_join(p->thread, NULL);
    p->running = 0;
    return p->ok;
}

void st_prefetch_close(st_prefetch_t *p) {
    st_prefetch_wait(p);
    if (p->fd >= 0) close(p->fd);
    free(p->chunk_addr), free(p->buf);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}
