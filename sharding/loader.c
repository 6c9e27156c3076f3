/* loader.c — the two-phase parallel read (see loader.h and docs/parallel-io.md): a collective
 * read of one contiguous block of rows per rank, then an MPI_Alltoallv exchange in rounds that
 * moves every wanted row from the rank that read it to the ranks that want it. */
#include "sharding/loader.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void st_loader_block(int64_t *lo, int64_t *hi, int64_t n, int rank, int size) {
    /* n·rank fits in int64 for any n < 2^62 / size. */
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}

void st_loader_pick_labels(int32_t *y_out, const int32_t *y_all, const int64_t *want, int64_t n_want) {
    for (int64_t i = 0; i < n_want; i++) y_out[i] = y_all[want[i]];
}

/* First index i in want[0..n) with want[i] >= row. */
static int64_t lower_bound(const int64_t *want, int64_t n, int64_t row) {
    int64_t a = 0, b = n;
    while (a < b) {
        int64_t m = a + (b - a) / 2;
        if (want[m] < row) a = m + 1;
        else b = m;
    }
    return a;
}

/* Local checks of want; fills the message naming the position and row at fault. */
static st_status_t check_want(const st_dataset_t *ds, const int64_t *want, int64_t n_want, st_error_t *err) {
    if (n_want < 0) return st_fail(err, ST_ERR_INTERNAL, "%s: negative number of wanted rows (%lld)", ds->path, (long long)n_want);
    if (n_want > INT_MAX)
        return st_fail(err, ST_ERR_DATA, "%s: a rank wants %lld rows; at most %d are supported", ds->path, (long long)n_want, INT_MAX);
    if (n_want > 0 && !want) return st_fail(err, ST_ERR_INTERNAL, "%s: want is NULL with n_want = %lld", ds->path, (long long)n_want);
    for (int64_t i = 0; i < n_want; i++) {
        if (want[i] < 0 || want[i] >= ds->n)
            return st_fail(err, ST_ERR_DATA, "%s: wanted row %lld (position %lld) lies outside 0..%lld", ds->path,
                           (long long)want[i], (long long)i, (long long)ds->n - 1);
        if (i > 0 && want[i] < want[i - 1])
            return st_fail(err, ST_ERR_DATA, "%s: wanted rows are not sorted: row %lld at position %lld follows row %lld",
                           ds->path, (long long)want[i], (long long)i, (long long)want[i - 1]);
    }
    return ST_OK;
}

static int64_t clamp_count(int64_t total, int64_t done, int64_t limit) {
    int64_t left = total - done;
    return left <= 0 ? 0 : left < limit ? left : limit;
}

st_status_t st_loader_gather_rows_ex(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want, int64_t n_want,
                                     float *out, const st_loader_options_t *opt, st_loader_info_t *info, st_error_t *err) {
    const int P = c->size, me = c->rank;
    const int64_t N = ds->n;
    const long row_floats = st_shape_numel(ds->shape);
    const size_t row_bytes = (size_t)row_floats * sizeof(float);
    size_t staging_budget = opt && opt->staging_bytes ? opt->staging_bytes : ST_LOADER_STAGING_BYTES;
    size_t piece_bytes = opt && opt->read_piece_bytes ? opt->read_piece_bytes : ST_LOADER_READ_PIECE_BYTES;
    st_loader_info_t inf;
    memset(&inf, 0, sizeof inf);

    st_status_t status = ST_OK;
    float *block = NULL, *staging = NULL;
    int64_t *seg = NULL, *want_cnt = NULL, *req_cnt = NULL, *ids = NULL;
    int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
    MPI_Datatype row_t = MPI_DATATYPE_NULL;
    int64_t lo, hi;
    st_loader_block(&lo, &hi, N, me, P);
    inf.block_rows = hi - lo;

    /* Local checks and allocations, then agreement: no rank enters a collective alone. */
    if (row_floats <= 0 || row_floats > INT_MAX)
        status = st_fail(err, ST_ERR_SHAPE, "%s: %ld floats per row; 1..%d are supported", ds->path, row_floats, INT_MAX);
    if (status == ST_OK) status = check_want(ds, want, n_want, err);
    if (status == ST_OK) {
        seg = malloc(sizeof(int64_t) * (size_t)(P + 1));
        want_cnt = malloc(sizeof(int64_t) * (size_t)P);
        req_cnt = malloc(sizeof(int64_t) * (size_t)P);
        sc = malloc(sizeof(int) * (size_t)P), sd = malloc(sizeof(int) * (size_t)P);
        rc = malloc(sizeof(int) * (size_t)P), rd = malloc(sizeof(int) * (size_t)P);
        if (!seg || !want_cnt || !req_cnt || !sc || !sd || !rc || !rd)
            status = st_fail(err, ST_ERR_NOMEM, "%s: out of memory for %d ranks' counts", ds->path, P);
    }
    if (status == ST_OK) {
        /* want is sorted, so the rows owned by rank p are one segment of it. */
        for (int p = 0; p < P; p++) {
            int64_t plo, phi;
            st_loader_block(&plo, &phi, N, p, P);
            seg[p] = lower_bound(want, n_want, plo);
        }
        seg[P] = n_want;
        /* When this rank wants exactly its own block (P = 1 reading everything, say), it reads
         * straight into out: no block buffer and no copy. */
        int direct = seg[me + 1] - seg[me] == inf.block_rows && inf.block_rows > 0;
        for (int64_t i = 0; direct && i < inf.block_rows; i++) direct = want[seg[me] + i] == lo + i;
        inf.direct = direct;
        block = direct ? out + (size_t)seg[me] * (size_t)row_floats
                       : malloc(inf.block_rows > 0 ? (size_t)inf.block_rows * row_bytes : 1);
        if (!block)
            status = st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate the block of %lld rows (%.1f MiB) this rank reads",
                             ds->path, (long long)inf.block_rows, (double)inf.block_rows * (double)row_bytes / 1048576.0);
    }
    status = st_comm_agree(c, status, err);
    if (status != ST_OK) goto done;

    /* Phase (a): the rank's block, in collective pieces of at most piece_bytes. Every rank runs
     * the same number of reads (from the largest block), reading 0 rows once its block is done. */
    double t0 = now_s();
    {
        int64_t max_block = (N + P - 1) / P;
        int64_t piece_rows = (int64_t)(piece_bytes / row_bytes);
        if (piece_rows < 1) piece_rows = 1;
        int64_t n_reads = (max_block + piece_rows - 1) / piece_rows;
        for (int64_t k = 0; k < n_reads; k++) {
            int64_t r0 = lo + k * piece_rows, n = clamp_count(hi - lo, k * piece_rows, piece_rows);
            float *dst = block + (size_t)(n > 0 ? r0 - lo : 0) * (size_t)row_floats;
            status = st_dataset_read_rows(ds, n > 0 ? r0 : lo, n, dst, c->comm, err);
            status = st_comm_agree(c, status, err);
            if (status != ST_OK) goto done;
        }
        inf.n_reads = (int)n_reads;
    }
    double t1 = now_s();
    inf.read_s = t1 - t0;

    /* Phase (b). */
    for (int p = 0; p < P; p++) want_cnt[p] = p == me ? 0 : seg[p + 1] - seg[p];
    ST_MPI_GOTO(MPI_Alltoall(want_cnt, 1, MPI_INT64_T, req_cnt, 1, MPI_INT64_T, c->comm), err, status, done);

    /* Rows this rank owns itself: copied, not sent. */
    for (int64_t i = seg[me]; i < seg[me + 1] && !inf.direct; i++)
        memcpy(out + (size_t)i * (size_t)row_floats, block + (size_t)(want[i] - lo) * (size_t)row_floats, row_bytes);
    inf.rows_local = seg[me + 1] - seg[me];

    /* B rows at most from one rank to another per round: one round's staging, at most (P-1)·B
     * rows, stays within the budget. */
    int64_t B = (int64_t)(staging_budget / row_bytes / (size_t)(P > 1 ? P - 1 : 1));
    if (B < 1) B = 1;
    if (B > INT_MAX) B = INT_MAX;
    inf.rows_per_round = B;
    int64_t my_rounds = 0, staging_rows = 0;
    for (int p = 0; p < P; p++) {
        int64_t r = (want_cnt[p] + B - 1) / B;
        if (r > my_rounds) my_rounds = r;
        staging_rows += req_cnt[p] < B ? req_cnt[p] : B; /* round 0 is the largest */
        inf.rows_sent += req_cnt[p];
        inf.rows_received += want_cnt[p];
    }
    int64_t n_rounds = 0;
    ST_MPI_GOTO(MPI_Allreduce(&my_rounds, &n_rounds, 1, MPI_INT64_T, MPI_MAX, c->comm), err, status, done);
    inf.n_rounds = (int)n_rounds;

    if (n_rounds > 0) {
        inf.staging_bytes = (size_t)staging_rows * row_bytes;
        staging = malloc(staging_rows > 0 ? inf.staging_bytes : 1);
        ids = malloc(staging_rows > 0 ? (size_t)staging_rows * sizeof(int64_t) : 1);
        st_status_t alloc = staging && ids ? ST_OK
                            : st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %.1f MiB of send staging", ds->path,
                                      (double)inf.staging_bytes / 1048576.0);
        status = st_comm_agree(c, alloc, err);
        if (status != ST_OK) goto done;
        ST_MPI_GOTO(MPI_Type_contiguous((int)row_floats, MPI_FLOAT, &row_t), err, status, done);
        ST_MPI_GOTO(MPI_Type_commit(&row_t), err, status, done);
    }
    /* Non-NULL buffers for MPI even when a rank wants or sends nothing. */
    int64_t dummy_id = 0;
    float dummy_row = 0;
    const int64_t *want_buf = n_want > 0 ? want : &dummy_id;
    float *out_buf = n_want > 0 ? out : &dummy_row;
    st_status_t internal = ST_OK;
    for (int64_t k = 0; k < n_rounds; k++) {
        /* Round k moves rows [k·B, (k+1)·B) of every (owner, wanter) pair's list. Displacements
         * index want/out (< n_want ≤ INT_MAX) and ids/staging (< staging_rows). */
        int64_t n_recv_ids = 0;
        for (int p = 0; p < P; p++) {
            sc[p] = (int)clamp_count(want_cnt[p], k * B, B);
            sd[p] = sc[p] > 0 ? (int)(seg[p] + k * B) : 0;
            rc[p] = (int)clamp_count(req_cnt[p], k * B, B);
            rd[p] = (int)n_recv_ids;
            n_recv_ids += rc[p];
        }
        ST_MPI_GOTO(MPI_Alltoallv(want_buf, sc, sd, MPI_INT64_T, ids, rc, rd, MPI_INT64_T, c->comm), err, status, done);
        for (int64_t j = 0; j < n_recv_ids; j++) {
            if (ids[j] < lo || ids[j] >= hi) {
                if (internal == ST_OK)
                    internal = st_fail(err, ST_ERR_INTERNAL, "%s: rank %d was asked for row %lld outside its block [%lld, %lld)",
                                       ds->path, me, (long long)ids[j], (long long)lo, (long long)hi);
                continue;
            }
            memcpy(staging + (size_t)j * (size_t)row_floats, block + (size_t)(ids[j] - lo) * (size_t)row_floats, row_bytes);
        }
        ST_MPI_GOTO(MPI_Alltoallv(staging, rc, rd, row_t, out_buf, sc, sd, row_t, c->comm), err, status, done);
    }
    status = st_comm_agree(c, internal, err);
    inf.exchange_s = now_s() - t1;

done:
    if (row_t != MPI_DATATYPE_NULL) MPI_Type_free(&row_t);
    if (!inf.direct) free(block);
    free(staging), free(ids);
    free(seg), free(want_cnt), free(req_cnt);
    free(sc), free(sd), free(rc), free(rd);
    if (info) *info = inf;
    return status;
}

st_status_t st_loader_gather_rows(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want, int64_t n_want,
                                  float *out, st_error_t *err) {
    return st_loader_gather_rows_ex(ds, c, want, n_want, out, NULL, NULL, err);
}

st_status_t st_loader_allgather_partials(double *partials, const st_comm_t *c, int n_shards, int n_per_shard,
                                         st_error_t *err) {
    if (n_shards < 0 || n_per_shard < 1)
        return st_fail(err, ST_ERR_INTERNAL, "st_loader_allgather_partials: %d shards of %d partials", n_shards, n_per_shard);
    st_status_t status = ST_OK;
    int *counts = malloc(sizeof(int) * (size_t)c->size), *displs = malloc(sizeof(int) * (size_t)c->size);
    MPI_Datatype shard_t = MPI_DATATYPE_NULL;
    if (!counts || !displs) status = st_fail(err, ST_ERR_NOMEM, "st_loader_allgather_partials: out of memory");
    status = st_comm_agree(c, status, err);
    if (status != ST_OK) goto done;
    for (int r = 0; r < c->size; r++) {
        int64_t lo, hi;
        st_loader_block(&lo, &hi, n_shards, r, c->size);
        counts[r] = (int)(hi - lo);
        displs[r] = (int)lo;
    }
    /* Counts in shards: one shard's partials are one element of shard_t. */
    ST_MPI_GOTO(MPI_Type_contiguous(n_per_shard, MPI_DOUBLE, &shard_t), err, status, done);
    ST_MPI_GOTO(MPI_Type_commit(&shard_t), err, status, done);
    ST_MPI_GOTO(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, partials, counts, displs, shard_t, c->comm), err,
                status, done);
done:
    if (shard_t != MPI_DATATYPE_NULL) MPI_Type_free(&shard_t);
    free(counts), free(displs);
    return status;
}
