/* collectives.c — the training job's collectives (see collectives.h). */
#include "collectives.h"

#include <limits.h>
#include <stdlib.h>

/* Arrays longer than an int count go in pieces of this many elements. */
#define PIECE ((size_t)1 << 30)

static int piece(size_t n, size_t off) { return (int)(n - off < PIECE ? n - off : PIECE); }

st_status_t st_allreduce_sum_f32(float *x, size_t n, const st_comm_t *c, st_error_t *err) {
    for (size_t off = 0; off < n; off += PIECE)
        ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x + off, piece(n, off), MPI_FLOAT, MPI_SUM, c->comm), err);
    return ST_OK;
}

st_status_t st_allreduce_sum_f64(double *x, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, c->comm), err);
    return ST_OK;
}

st_status_t st_allreduce_sum_i64(int64_t *x, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_INT64_T, MPI_SUM, c->comm), err);
    return ST_OK;
}

st_status_t st_allreduce_max_f64(double *x, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Allreduce(MPI_IN_PLACE, x, 1, MPI_DOUBLE, MPI_MAX, c->comm), err);
    return ST_OK;
}

st_status_t st_reduce_max_f64(double *out, const double *in, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Reduce(in, out, n, MPI_DOUBLE, MPI_MAX, 0, c->comm), err);
    return ST_OK;
}

st_status_t st_gather_f32(float *all, const float *in, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Gather(in, n, MPI_FLOAT, all, n, MPI_FLOAT, 0, c->comm), err);
    return ST_OK;
}

st_status_t st_allgather_shards(double *records, int n_shards, int n_per_shard, const st_comm_t *c, st_error_t *err) {
    if (n_shards < 1 || n_per_shard < 1)
        return st_fail(err, ST_ERR_INTERNAL, "st_allgather_shards: %d shards of %d values over %d ranks", n_shards,
                       n_per_shard, c->size);
    /* The counts are a pure function of (S, P): every rank computes the same, no agreement needed. */
    int stack_counts[64], stack_displs[64];
    int *counts = c->size <= 64 ? stack_counts : malloc(sizeof(int) * (size_t)c->size);
    int *displs = c->size <= 64 ? stack_displs : malloc(sizeof(int) * (size_t)c->size);
    if (!counts || !displs) {
        if (counts != stack_counts) free(counts), free(displs);
        return st_fail(err, ST_ERR_NOMEM, "st_allgather_shards: out of memory");
    }
    for (int r = 0; r < c->size; r++) {
        int64_t lo = (int64_t)n_shards * r / c->size, hi = (int64_t)n_shards * (r + 1) / c->size;
        counts[r] = (int)(hi - lo);
        displs[r] = (int)lo;
    }
    st_status_t status = ST_OK;
    MPI_Datatype shard_t = MPI_DATATYPE_NULL; /* one shard's record is one element */
    ST_MPI_GOTO(MPI_Type_contiguous(n_per_shard, MPI_DOUBLE, &shard_t), err, status, done);
    ST_MPI_GOTO(MPI_Type_commit(&shard_t), err, status, done);
    ST_MPI_GOTO(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, records, counts, displs, shard_t, c->comm), err,
                status, done);
done:
    if (shard_t != MPI_DATATYPE_NULL) MPI_Type_free(&shard_t);
    if (counts != stack_counts) free(counts), free(displs);
    return status;
}

st_status_t st_allgather_blocks(void *data, const int64_t *offsets, int elem_bytes, const st_comm_t *c,
                                st_error_t *err) {
    int *counts = malloc(sizeof(int) * (size_t)c->size), *displs = malloc(sizeof(int) * (size_t)c->size);
    st_status_t status = ST_OK;
    MPI_Datatype elem_t = MPI_DATATYPE_NULL;
    if (!counts || !displs) {
        status = st_fail(err, ST_ERR_NOMEM, "st_allgather_blocks: out of memory");
        goto done;
    }
    for (int r = 0; r < c->size; r++) {
        if (offsets[r + 1] - offsets[r] > INT_MAX || offsets[r] > INT_MAX) {
            status = st_fail(err, ST_ERR_INTERNAL, "st_allgather_blocks: rank %d's block [%lld, %lld) is too large", r,
                             (long long)offsets[r], (long long)offsets[r + 1]);
            goto done;
        }
        counts[r] = (int)(offsets[r + 1] - offsets[r]), displs[r] = (int)offsets[r];
    }
    ST_MPI_GOTO(MPI_Type_contiguous(elem_bytes, MPI_BYTE, &elem_t), err, status, done);
    ST_MPI_GOTO(MPI_Type_commit(&elem_t), err, status, done);
    ST_MPI_GOTO(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts, displs, elem_t, c->comm), err, status,
                done);
done:
    if (elem_t != MPI_DATATYPE_NULL) MPI_Type_free(&elem_t);
    free(counts), free(displs);
    return status;
}

st_status_t st_allgather_records(void *all, const void *mine, int record_bytes, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Allgather(mine, record_bytes, MPI_BYTE, all, record_bytes, MPI_BYTE, c->comm), err);
    return ST_OK;
}

st_status_t st_gather_text(char **all, const char *mine, size_t n_mine, const st_comm_t *c, st_error_t *err) {
    *all = NULL;
    int n = n_mine > (size_t)INT_MAX ? -1 : (int)n_mine, *counts = NULL, *displs = NULL;
    int64_t ok = 1; /* rank 0 could allocate, and every text fits an int */
    if (c->rank == 0) {
        counts = calloc((size_t)c->size, sizeof *counts), displs = calloc((size_t)c->size, sizeof *displs);
        ok = counts && displs;
    }
    ST_TRY(st_bcast_i64(&ok, 1, c, err)); /* no rank enters a gather rank 0 cannot receive */
    if (!ok) return st_fail(err, ST_ERR_NOMEM, "gather text: rank 0 cannot allocate");
    st_status_t rc = MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, c->comm) == MPI_SUCCESS
                         ? ST_OK : st_fail(err, ST_ERR_MPI, "gather text: MPI_Gather failed");
    size_t total = 0;
    for (int r = 0; rc == ST_OK && c->rank == 0 && r < c->size; r++) {
        ok = ok && counts[r] >= 0 && total + (size_t)counts[r] < (size_t)INT_MAX;
        displs[r] = (int)total, total += ok ? (size_t)counts[r] : 0;
    }
    if (rc == ST_OK && c->rank == 0 && ok) ok = (*all = malloc(total + 1)) != NULL;
    if (rc == ST_OK) rc = st_bcast_i64(&ok, 1, c, err);
    if (rc == ST_OK && !ok) rc = st_fail(err, ST_ERR_NOMEM, "gather text: rank 0 cannot hold the ranks' text (2 GiB at most)");
    if (rc == ST_OK && MPI_Gatherv(mine, n, MPI_CHAR, *all, counts, displs, MPI_CHAR, 0, c->comm) != MPI_SUCCESS)
        rc = st_fail(err, ST_ERR_MPI, "gather text: MPI_Gatherv failed");
    if (rc == ST_OK && *all) (*all)[total] = '\0';
    if (rc != ST_OK) free(*all), *all = NULL;
    free(counts), free(displs);
    return rc;
}

st_status_t st_bcast_f32(float *x, size_t n, const st_comm_t *c, st_error_t *err) {
    for (size_t off = 0; off < n; off += PIECE) ST_MPI(MPI_Bcast(x + off, piece(n, off), MPI_FLOAT, 0, c->comm), err);
    return ST_OK;
}

st_status_t st_bcast_f64(double *x, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Bcast(x, n, MPI_DOUBLE, 0, c->comm), err);
    return ST_OK;
}

st_status_t st_bcast_i64(int64_t *x, int n, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Bcast(x, n, MPI_INT64_T, 0, c->comm), err);
    return ST_OK;
}

st_status_t st_bcast_bytes(void *p, int n_bytes, const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Bcast(p, n_bytes, MPI_BYTE, 0, c->comm), err);
    return ST_OK;
}

void st_mark_step(int level) { MPI_Pcontrol(level); }

st_status_t st_barrier(const st_comm_t *c, st_error_t *err) {
    ST_MPI(MPI_Barrier(c->comm), err);
    return ST_OK;
}
