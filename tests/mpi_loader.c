/* mpi_loader.c — the two-phase parallel read (sharding/loader.c) under mpirun at any P.
 *
 * Rank 0 writes small datasets (the documented layout, through the HDF5 C API directly) whose
 * values encode their row id: X[r][j] = r·1000 + j. Every rank asks for a pseudo-random sorted
 * subset of rows (some rows wanted by several ranks, some by none, repeats, one rank wanting
 * nothing) and checks every row it receives. Every case ends with an MPI_Allreduce of the
 * failure count, so all ranks agree; rank 0 prints one TAP line per case, and the program exits
 * non-zero on any failure. Run by tests/test_mpi_loader.sh at P = 1..4. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "mpi/collectives.h"
#include "mpi/comm.h"
#include "mpitest.h"
#include "sharding/dataset.h"
#include "sharding/loader.h"

static st_comm_t C;

static float value(int64_t row, long j) { return (float)(row * 1000 + j); }

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Rank 0 writes /X [n, shape] (chunks of `chunk_rows` rows), /y = row mod 3 and the root
 * attributes; every rank gets the file name and opens it with st_dataset_open. */
static void make_dataset(char *path, size_t path_size, int64_t n, st_shape_t shape, int chunk_rows, st_dataset_t *ds) {
    static int counter;
    if (C.rank == 0) {
        snprintf(path, path_size, "/tmp/strata_mpi_loader_%d_%d.h5", (int)getpid(), counter);
        long rf = st_shape_numel(shape);
        float *X = malloc(sizeof(float) * (size_t)(n * rf));
        int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
        for (int64_t r = 0; r < n; r++) {
            y[r] = (int32_t)(r % 3);
            for (long j = 0; j < rf; j++) X[r * rf + j] = value(r, j);
        }
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        int nd = shape.rank + 1;
        hsize_t dims[3] = {(hsize_t)n, (hsize_t)shape.d[0], (hsize_t)shape.d[1]};
        hsize_t chunk[3] = {(hsize_t)(chunk_rows < n ? chunk_rows : n), dims[1], dims[2]};
        hid_t sx = H5Screate_simple(nd, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, nd, chunk);
        hid_t dx = H5Dcreate2(f, "X", H5T_IEEE_F32LE, sx, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Dwrite(dx, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X);
        hsize_t ny = (hsize_t)n;
        hid_t sy = H5Screate_simple(1, &ny, NULL);
        hid_t dy = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
        hid_t sa = H5Screate(H5S_SCALAR);
        const char *names[] = {"strata_format", "n_classes"};
        int vals[] = {1, 3};
        for (int i = 0; i < 2; i++) {
            hid_t a = H5Acreate2(f, names[i], H5T_STD_I32LE, sa, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, H5T_NATIVE_INT, &vals[i]);
            H5Aclose(a);
        }
        H5Sclose(sa), H5Dclose(dy), H5Sclose(sy), H5Dclose(dx), H5Pclose(dcpl), H5Sclose(sx);
        if (H5Fclose(f) < 0) fprintf(stderr, "cannot write %s\n", path);
        free(X), free(y);
    }
    counter++;
    MPI_Bcast(path, (int)path_size, MPI_CHAR, 0, C.comm);
    MPI_Barrier(C.comm);
    st_error_t err = {0};
    st_status_t s = st_dataset_open(path, ds, &err);
    MT_CHECK(s == ST_OK, "st_dataset_open: %s", err.msg);
    if (s != ST_OK) {
        MPI_Abort(C.comm, 1);
    }
}

static void remove_dataset(const char *path, st_dataset_t *ds) {
    st_dataset_close(ds);
    MPI_Barrier(C.comm);
    if (C.rank == 0) unlink(path);
}

/* Sorted rows of 0..n-1 this rank wants: each with probability pct/100 (by a hash of seed,
 * rank and row), some twice; `extra` rows are always wanted. */
static int64_t *make_want(int64_t *n_want, int64_t n, int pct, uint64_t seed, const int64_t *extra, int n_extra) {
    int64_t *w = malloc(sizeof(int64_t) * (size_t)(2 * n + n_extra + 1)), m = 0;
    for (int64_t r = 0; r < n; r++) {
        int is_extra = 0;
        for (int e = 0; e < n_extra; e++) is_extra |= extra[e] == r;
        uint64_t h = mix(seed * 1000003u + (uint64_t)C.rank * 7919u + (uint64_t)r);
        if (is_extra || (int)(h % 100) < pct) {
            w[m++] = r;
            if ((h >> 32) % 10 == 0) w[m++] = r; /* a repeat */
        }
    }
    *n_want = m;
    return w;
}

/* Gathers want with the options, checks every row, the info counters and the labels. */
static void gather_and_check(const st_dataset_t *ds, const int64_t *want, int64_t n_want,
                             const st_loader_options_t *opt) {
    long rf = st_shape_numel(ds->shape);
    float *out = malloc(sizeof(float) * (size_t)(n_want * rf + 1));
    for (int64_t i = 0; i < n_want * rf; i++) out[i] = -1;
    st_error_t err = {0};
    st_loader_info_t info;
    st_status_t s = st_loader_gather_rows_ex(ds, &C, want, n_want, out, opt, &info, &err);
    MT_CHECK(s == ST_OK, "gather: %s", err.msg);
    int bad = 0;
    for (int64_t i = 0; i < n_want && s == ST_OK; i++)
        for (long j = 0; j < rf; j++)
            if (out[i * rf + j] != value(want[i], j)) {
                if (bad++ == 0) MT_CHECK(0, "out[%lld][%ld] = %g, want row %lld: %g", (long long)i, j, out[i * rf + j],
                                      (long long)want[i], value(want[i], j));
            }
    MT_CHECK(info.rows_local + info.rows_received == n_want, "rows_local %lld + received %lld != n_want %lld",
          (long long)info.rows_local, (long long)info.rows_received, (long long)n_want);
    int64_t sent_recv[2] = {info.rows_sent, info.rows_received}, tot[2];
    MPI_Allreduce(sent_recv, tot, 2, MPI_INT64_T, MPI_SUM, C.comm);
    MT_CHECK(tot[0] == tot[1], "rows sent %lld != rows received %lld", (long long)tot[0], (long long)tot[1]);
    size_t budget = opt && opt->staging_bytes ? opt->staging_bytes : ST_LOADER_STAGING_BYTES;
    size_t row_bytes = sizeof(float) * (size_t)rf;
    MT_CHECK(info.staging_bytes <= (budget > (size_t)(C.size - 1) * row_bytes ? budget : (size_t)(C.size - 1) * row_bytes),
          "staging %zu bytes over the budget %zu", info.staging_bytes, budget);
    int64_t lo, hi;
    st_loader_block(&lo, &hi, ds->n, C.rank, C.size);
    MT_CHECK(info.block_rows == hi - lo, "block_rows %lld, want %lld", (long long)info.block_rows, (long long)(hi - lo));
    /* The block is held one read piece at a time: the window is at most a piece (or the block). */
    size_t piece = opt && opt->read_piece_bytes ? opt->read_piece_bytes : ST_LOADER_READ_PIECE_BYTES;
    size_t piece_rows = piece / row_bytes ? piece / row_bytes : 1;
    int64_t max_block = (ds->n + C.size - 1) / C.size;
    MT_CHECK(info.window_bytes <= piece_rows * row_bytes && info.window_bytes <= (size_t)(hi - lo) * row_bytes,
          "read window %zu bytes, more than a piece (%zu rows) or the block", info.window_bytes, piece_rows);
    MT_CHECK(info.n_reads == (int)((max_block + (int64_t)piece_rows - 1) / (int64_t)piece_rows), "%d collective reads for pieces of %zu rows",
          info.n_reads, piece_rows);
    /* Labels: y = row mod 3 in every test file. */
    int32_t *y_all = malloc(sizeof(int32_t) * (size_t)ds->n), *y = malloc(sizeof(int32_t) * (size_t)(n_want + 1));
    for (int64_t r = 0; r < ds->n; r++) y_all[r] = (int32_t)(r % 3);
    st_loader_pick_labels(y, y_all, want, n_want);
    for (int64_t i = 0; i < n_want; i++) MT_CHECK(y[i] == want[i] % 3, "label %lld", (long long)i);
    free(y_all), free(y), free(out);
}

static void test_random_subsets(void) {
    char path[256];
    st_dataset_t ds;
    make_dataset(path, sizeof path, 1000, st_shape1(7), 64, &ds);
    int64_t edges[] = {0, 999}, n_want;
    int64_t *want = make_want(&n_want, 1000, 30, 1, edges, 2);
    if (C.size > 1 && C.rank == C.size - 1) n_want = 0; /* one rank wants nothing */
    gather_and_check(&ds, want, n_want, NULL);
    mt_end_case("[1000, 7]: random subsets with repeats, one rank wanting nothing, default staging");

    st_loader_options_t tiny = {.staging_bytes = 1, .read_piece_bytes = 100 * 7 * sizeof(float)};
    gather_and_check(&ds, want, n_want, &tiny);
    mt_end_case("[1000, 7]: one row per pair per round, 100-row collective reads");

    st_loader_options_t small = {.staging_bytes = 3 * 7 * sizeof(float) * (size_t)(C.size > 1 ? C.size - 1 : 1)};
    int64_t n_none = 0;
    gather_and_check(&ds, want, C.rank == 0 ? n_none : n_want, &small); /* rank 0 wants nothing here */
    mt_end_case("[1000, 7]: three rows per pair per round, rank 0 wanting nothing");

    /* Each rank wants exactly its own block (read straight into out) plus the first rows of
     * the next rank's block. */
    int64_t lo, hi, nlo, nhi, m = 0;
    st_loader_block(&lo, &hi, 1000, C.rank, C.size);
    st_loader_block(&nlo, &nhi, 1000, (C.rank + 1) % C.size, C.size);
    int64_t *own = malloc(sizeof(int64_t) * 1000);
    for (int64_t r = 0; r < 1000; r++)
        if ((r >= lo && r < hi) || (C.size > 1 && r >= nlo && r < nlo + 10)) own[m++] = r;
    gather_and_check(&ds, own, m, NULL);
    st_loader_info_t info;
    st_error_t err = {0};
    float *out = malloc(sizeof(float) * 7 * (size_t)m);
    st_status_t s = st_loader_gather_rows_ex(&ds, &C, own, m, out, NULL, &info, &err);
    MT_CHECK(s == ST_OK && info.direct == 1, "own block not read straight into out (status %d, direct %d)", (int)s, info.direct);
    free(out), free(own);
    mt_end_case("[1000, 7]: a rank wanting exactly its block reads it straight into its output");

    int64_t *all = malloc(sizeof(int64_t) * 1000);
    for (int i = 0; i < 1000; i++) all[i] = i;
    gather_and_check(&ds, all, 1000, NULL);
    mt_end_case("[1000, 7]: every rank wants every row");
    free(all), free(want);
    remove_dataset(path, &ds);
}

/* A row range (a block of a streamed dataset): the ranks read only [300, 557), split among them,
 * and get the rows they want of it; a wanted row outside it fails on every rank. */
static void test_range(void) {
    char path[256];
    st_dataset_t ds;
    make_dataset(path, sizeof path, 1000, st_shape1(7), 64, &ds);
    int64_t n_all, m = 0;
    int64_t *all = make_want(&n_all, 1000, 40, 3, NULL, 0), *want = malloc(sizeof(int64_t) * (size_t)(n_all + 1));
    for (int64_t i = 0; i < n_all; i++)
        if (all[i] >= 300 && all[i] < 557) want[m++] = all[i];
    st_loader_options_t opt = {.range_lo = 300, .range_hi = 557, .read_piece_bytes = 50 * 7 * sizeof(float)};
    float *out = malloc(sizeof(float) * 7 * (size_t)(m + 1));
    st_loader_info_t info;
    st_error_t err = {0};
    st_status_t s = st_loader_gather_rows_ex(&ds, &C, want, m, out, &opt, &info, &err);
    MT_CHECK(s == ST_OK, "range gather: %s", err.msg);
    int bad = 0;
    for (int64_t i = 0; s == ST_OK && i < m; i++)
        for (long j = 0; j < 7; j++) bad += out[i * 7 + j] != value(want[i], j);
    MT_CHECK(bad == 0, "%d values differ from the file's", bad);
    int64_t lo, hi;
    st_loader_block(&lo, &hi, 257, C.rank, C.size);
    MT_CHECK(info.block_rows == hi - lo, "read %lld rows of the range, want %lld", (long long)info.block_rows, (long long)(hi - lo));
    int64_t read_total = info.block_rows;
    MPI_Allreduce(MPI_IN_PLACE, &read_total, 1, MPI_INT64_T, MPI_SUM, C.comm);
    MT_CHECK(read_total == 257, "the ranks read %lld rows, the range has 257", (long long)read_total);
    float *len_out = malloc(sizeof(float) * (size_t)(m + 1));
    s = st_loader_gather_target_ex(&ds, 0, &C, want, m, len_out, &opt, &err);
    MT_CHECK(s == ST_OK, "range gather of the target: %s", err.msg);
    for (int64_t i = 0; s == ST_OK && i < m; i++) MT_CHECK(len_out[i] == (float)(want[i] % 3), "target of row %lld", (long long)want[i]);
    int64_t outside[] = {299};
    s = st_loader_gather_rows_ex(&ds, &C, outside, C.rank == 0 ? 1 : 0, out, &opt, &info, &err);
    MT_CHECK(s != ST_OK, "row 299 outside [300, 557) was accepted");
    if (C.rank == 0) MT_CHECK(strstr(err.msg, "outside the rows read [300, 557)") != NULL, "message: %s", err.msg);
    free(all), free(want), free(out), free(len_out);
    mt_end_case("[1000, 7]: rows [300, 557) read split among the ranks, rows and target values of it exchanged");
    remove_dataset(path, &ds);
}

static void test_tiny_n(void) {
    char path[256];
    st_dataset_t ds;
    make_dataset(path, sizeof path, 3, st_shape1(7), 2, &ds);
    int64_t n_want, first[] = {0};
    int64_t *want = make_want(&n_want, 3, 50, 2, C.rank == 0 ? first : NULL, C.rank == 0 ? 1 : 0);
    gather_and_check(&ds, want, n_want, NULL);
    free(want);
    int64_t everything[] = {0, 1, 2, 2};
    gather_and_check(&ds, everything, 4, NULL);
    mt_end_case("N = 3 (fewer rows than ranks at P = 4): random subsets and all rows");
    remove_dataset(path, &ds);
}

static void test_sequences(void) {
    char path[256];
    st_dataset_t ds;
    make_dataset(path, sizeof path, 257, st_shape2(5, 3), 16, &ds);
    MT_CHECK(ds.shape.rank == 2 && ds.shape.d[0] == 5 && ds.shape.d[1] == 3, "shape of /X");
    int64_t n_want;
    int64_t *want = make_want(&n_want, 257, 40, 3, NULL, 0);
    gather_and_check(&ds, want, n_want, NULL);
    st_loader_options_t small = {.staging_bytes = 2 * 15 * sizeof(float)};
    gather_and_check(&ds, want, n_want, &small);
    mt_end_case("[257, 5, 3] sequences: random subsets, default and tiny staging");
    free(want);
    remove_dataset(path, &ds);
}

static void test_invalid_want(void) {
    char path[256];
    st_dataset_t ds;
    make_dataset(path, sizeof path, 50, st_shape1(4), 16, &ds);
    float out[4 * 4];
    st_error_t err = {0};
    /* The last rank's rows are not sorted; every rank must fail, none may hang. */
    int bad_rank = C.size - 1;
    int64_t ok_want[] = {1, 2, 3}, bad_want[] = {5, 3, 7};
    st_status_t s = st_loader_gather_rows(&ds, &C, C.rank == bad_rank ? bad_want : ok_want, 3, out, &err);
    MT_CHECK(s != ST_OK, "an unsorted want on rank %d was accepted", bad_rank);
    if (C.rank == bad_rank) MT_CHECK(strstr(err.msg, "not sorted") && strstr(err.msg, "position 1"), "message: %s", err.msg);
    else MT_CHECK(strstr(err.msg, "rank") != NULL, "message: %s", err.msg);
    /* Rank 0 asks for a row past the end. */
    int64_t past[] = {10, 50};
    s = st_loader_gather_rows(&ds, &C, C.rank == 0 ? past : ok_want, 2, out, &err);
    MT_CHECK(s != ST_OK, "row 50 of 50 was accepted");
    if (C.rank == 0) MT_CHECK(strstr(err.msg, "row 50") && strstr(err.msg, "outside"), "message: %s", err.msg);
    /* And the loader still works afterwards. */
    gather_and_check(&ds, ok_want, 3, NULL);
    mt_end_case("unsorted or out-of-range rows on one rank: every rank fails with a message, none hangs");
    remove_dataset(path, &ds);
}

static void test_partials(void) {
    int cases[][2] = {{10, 4}, {3, 2}, {1, 5}, {64, 3}};
    for (int t = 0; t < 4; t++) {
        int S = cases[t][0], n_per = cases[t][1];
        double *p = malloc(sizeof(double) * (size_t)(S * n_per));
        int64_t lo, hi;
        st_loader_block(&lo, &hi, S, C.rank, C.size);
        for (int s = 0; s < S; s++)
            for (int k = 0; k < n_per; k++) p[s * n_per + k] = s >= lo && s < hi ? s * 100.0 + k : -1.0;
        st_error_t err = {0};
        st_status_t st = st_allgather_shards(p, S, n_per, &C, &err);
        MT_CHECK(st == ST_OK, "allgather: %s", err.msg);
        for (int s = 0; s < S; s++)
            for (int k = 0; k < n_per; k++)
                MT_CHECK(p[s * n_per + k] == s * 100.0 + k, "S=%d shard %d partial %d = %g", S, s, k, p[s * n_per + k]);
        free(p);
    }
    mt_end_case("allgather of per-shard partials (S = 10, 3, 1, 64) in shard order");
}

static void test_block(void) {
    for (int64_t n = 0; n < 20; n++)
        for (int size = 1; size <= 6; size++) {
            int64_t prev_hi = 0;
            for (int r = 0; r < size; r++) {
                int64_t lo, hi;
                st_loader_block(&lo, &hi, n, r, size);
                MT_CHECK(lo == prev_hi && hi >= lo && hi - lo <= (n + size - 1) / size && hi - lo >= n / size,
                      "block of n=%lld rank %d of %d: [%lld, %lld)", (long long)n, r, size, (long long)lo, (long long)hi);
                prev_hi = hi;
            }
            MT_CHECK(prev_hi == n, "blocks of n=%lld over %d ranks end at %lld", (long long)n, size, (long long)prev_hi);
        }
    mt_end_case("st_loader_block: contiguous blocks covering 0..n, sizes within one");
}

static void test_block_chunks(void) {
    for (int64_t n = 0; n < 40; n++)
        for (int64_t chunk = 1; chunk <= 7; chunk++)
            for (int size = 1; size <= 6; size++) {
                int64_t prev_hi = 0;
                for (int r = 0; r < size; r++) {
                    int64_t lo, hi;
                    st_loader_block_chunks(&lo, &hi, n, chunk, r, size);
                    MT_CHECK(lo == prev_hi && hi >= lo && (lo % chunk == 0 || lo == n) && (hi % chunk == 0 || hi == n),
                             "chunked block of n=%lld chunk %lld rank %d of %d: [%lld, %lld)", (long long)n,
                             (long long)chunk, r, size, (long long)lo, (long long)hi);
                    prev_hi = hi;
                }
                MT_CHECK(prev_hi == n, "chunked blocks of n=%lld end at %lld", (long long)n, (long long)prev_hi);
            }
    mt_end_case("st_loader_block_chunks: contiguous blocks of whole chunks covering 0..n");
}

int main(int argc, char **argv) {
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &C, &err) != ST_OK) {
        fprintf(stderr, "mpi_loader: %s\n", err.msg);
        return 1;
    }
    mt_init(&C);
    if (C.rank == 0) printf("1..12\n");
    test_block();
    test_block_chunks();
    test_random_subsets();
    test_tiny_n();
    test_range();
    test_sequences();
    test_invalid_want();
    test_partials();
    int failed = mt_failed_cases();
    st_comm_finalize(&C, &err);
    return failed ? 1 : 0;
}
