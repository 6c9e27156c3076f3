/* loader.c — the two-phase parallel read (see loader.h and docs/parallel-io.md): every rank's
 * contiguous block of rows is read collectively one piece at a time, and after each piece an
 * MPI_Alltoallv exchange in rounds moves every wanted row of it from the rank that read it to the
 * ranks that want it. */
#include "sharding/loader.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "sharding/dataset_internal.h"
#include "sharding/shards.h"

/* gather_t.target for /lengths (moved as float, exact up to T <= 2^24, checked at open). */
#define GATHER_LENGTHS (-2)

void st_loader_block(int64_t *lo, int64_t *hi, int64_t n, int rank, int size) {
    /* n·rank fits in int64 for any n < 2^62 / size. */
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}

void st_loader_block_chunks(int64_t *lo, int64_t *hi, int64_t n, int64_t chunk, int rank, int size) {
    int64_t c_lo, c_hi;
    st_loader_block(&c_lo, &c_hi, (n + chunk - 1) / chunk, rank, size);
    *lo = c_lo * chunk < n ? c_lo * chunk : n;
    *hi = c_hi * chunk < n ? c_hi * chunk : n;
}

void st_loader_pick_labels(int32_t *y_out, const int32_t *y_all, const int64_t *want, int64_t n_want) {
    for (int64_t i = 0; i < n_want; i++) y_out[i] = y_all[want[i]];
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

/* What one st_loader_gather_rows_ex call works with. Pieces: the block of every rank is read
 * piece_rows rows at a time; piece j of rank p is its rows [plo + j·piece_rows, ...), and every
 * rank runs the same n_pieces reads and exchanges (from the largest block). */
typedef struct {
    const st_dataset_t *ds;
    int target;                     /* -1: /X; GATHER_LENGTHS: /lengths; else the target whose values move */
    const st_comm_t *c;
    const int64_t *want;            /* [n_want] sorted global row ids */
    int64_t n_want;
    float *out;                     /* [n_want, row_floats] */
    int P, me;
    int64_t range_lo, range_n;      /* the rows read: [range_lo, range_lo + range_n) of the file */
    int64_t lo, hi;                 /* this rank's block */
    long row_floats;
    size_t row_bytes, staging_budget;
    int64_t piece_rows, n_pieces, B; /* B: rows at most from one rank to another per round */
    int64_t *seg;                   /* [P + 1] want's segment inside each rank's block */
    int64_t *first, *want_cnt, *req_cnt; /* [P] this piece: first index in want, rows wanted, rows asked */
    int *sc, *sd, *rc, *rd;         /* [P] MPI counts and displacements */
    float *window;                  /* [piece_rows, row_floats] the piece read (not in direct mode) */
    const float *preread;           /* this rank's share read already (st_loader_options_t) */
    const float *piece;             /* the current piece's rows (window, or out in direct mode) */
    int64_t piece_lo, piece_hi;     /* its global rows */
    float *staging;                 /* [staging_rows, row_floats] rows sent this round */
    int64_t *ids, staging_rows;     /* [staging_rows] the rows asked for this round */
    MPI_Datatype row_t;
    st_loader_info_t inf;
} gather_t;

/* The global rows of piece j of rank p's block: [*a, *b) (empty past the block's end). */
static void piece_range(const gather_t *g, int p, int64_t j, int64_t *a, int64_t *b) {
    int64_t plo, phi;
    st_loader_block(&plo, &phi, g->range_n, p, g->P);
    plo += g->range_lo, phi += g->range_lo;
    *a = plo + j * g->piece_rows;
    *b = *a + g->piece_rows < phi ? *a + g->piece_rows : phi;
    if (*a > phi) *a = phi;
}

/* Local checks and allocations (no collective). */
static st_status_t gather_setup(gather_t *g, const st_loader_options_t *opt, st_error_t *err) {
    const int P = g->P;
    const st_dataset_t *ds = g->ds;
    if (g->row_floats <= 0 || g->row_floats > INT_MAX)
        return st_fail(err, ST_ERR_SHAPE, "%s: %ld floats per row; 1..%d are supported", ds->path, g->row_floats, INT_MAX);
    ST_TRY(check_want(ds, g->want, g->n_want, err));
    if (g->n_want > 0 && (g->want[0] < g->range_lo || g->want[g->n_want - 1] >= g->range_lo + g->range_n))
        return st_fail(err, ST_ERR_INTERNAL, "%s: wanted rows %lld..%lld outside the rows read [%lld, %lld)", ds->path,
                       (long long)g->want[0], (long long)g->want[g->n_want - 1], (long long)g->range_lo,
                       (long long)(g->range_lo + g->range_n));
    g->seg = malloc(sizeof(int64_t) * (size_t)(P + 1));
    g->first = malloc(sizeof(int64_t) * (size_t)P);
    g->want_cnt = malloc(sizeof(int64_t) * (size_t)P), g->req_cnt = malloc(sizeof(int64_t) * (size_t)P);
    g->sc = malloc(sizeof(int) * (size_t)P), g->sd = malloc(sizeof(int) * (size_t)P);
    g->rc = malloc(sizeof(int) * (size_t)P), g->rd = malloc(sizeof(int) * (size_t)P);
    if (!g->seg || !g->first || !g->want_cnt || !g->req_cnt || !g->sc || !g->sd || !g->rc || !g->rd)
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for %d ranks' counts", ds->path, P);
    for (int p = 0; p < P; p++) { /* want is sorted: the rows of rank p's block are one segment */
        int64_t plo, phi;
        st_loader_block(&plo, &phi, g->range_n, p, P);
        g->seg[p] = st_ids_lower_bound(g->want, g->n_want, g->range_lo + plo);
    }
    g->seg[P] = g->n_want;
    size_t piece_bytes = opt && opt->read_piece_bytes ? opt->read_piece_bytes : ST_LOADER_READ_PIECE_BYTES;
    g->piece_rows = (int64_t)(piece_bytes / g->row_bytes);
    if (g->piece_rows < 1) g->piece_rows = 1;
    int64_t max_block = (g->range_n + P - 1) / P;
    if (g->preread) g->piece_rows = max_block > 0 ? max_block : 1; /* one piece: the share read already */
    g->n_pieces = (max_block + g->piece_rows - 1) / g->piece_rows;
    g->B = (int64_t)(g->staging_budget / g->row_bytes / (size_t)(P > 1 ? P - 1 : 1));
    if (g->B < 1) g->B = 1;
    if (g->B > INT_MAX) g->B = INT_MAX;
    g->inf.rows_per_round = g->B;
    /* When this rank wants exactly its own block (P = 1 reading everything, say), it reads
     * straight into out: no window and no copy. */
    int64_t block_rows = g->hi - g->lo;
    int direct = !g->preread && g->seg[g->me + 1] - g->seg[g->me] == block_rows && block_rows > 0;
    for (int64_t i = 0; direct && i < block_rows; i++) direct = g->want[g->seg[g->me] + i] == g->lo + i;
    g->inf.direct = direct;
    if (!direct && !g->preread) {
        int64_t window_rows = g->piece_rows < block_rows ? g->piece_rows : block_rows;
        g->inf.window_bytes = (size_t)window_rows * g->row_bytes;
        if (!(g->window = malloc(window_rows > 0 ? g->inf.window_bytes : 1)))
            return st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate the %.1f MiB read window", ds->path,
                           (double)g->inf.window_bytes / 1048576.0);
    }
    if (P > 1) {
        ST_MPI(MPI_Type_contiguous((int)g->row_floats, MPI_FLOAT, &g->row_t), err);
        ST_MPI(MPI_Type_commit(&g->row_t), err);
    }
    return ST_OK;
}

/* Collective: reads piece j of this rank's block (into the window, or straight into out). */
static st_status_t read_piece(gather_t *g, int64_t j, st_error_t *err) {
    piece_range(g, g->me, j, &g->piece_lo, &g->piece_hi);
    int64_t n = g->piece_hi - g->piece_lo;
    if (g->preread) { /* phase (a) ran elsewhere */
        g->piece = g->preread;
        return ST_OK;
    }
    float *dst = g->window;
    if (g->inf.direct) dst = g->out + (size_t)(g->seg[g->me] + (g->piece_lo - g->lo)) * (size_t)g->row_floats;
    g->piece = dst;
    int64_t row0 = n > 0 ? g->piece_lo : g->lo;
    st_status_t status =
        g->target == GATHER_LENGTHS ? st_ds_read_rows_float(g->ds, "/lengths", 1, row0, n, dst, g->c->comm, err)
        : g->target < 0             ? st_dataset_read_rows(g->ds, row0, n, dst, g->c->comm, err)
                                    : st_dataset_read_target_rows(g->ds, g->target, row0, n, dst, g->c->comm, err);
    return st_comm_agree(g->c, status, err);
}

/* Grows the send staging to `rows` rows if needed; collective agreement on failure. */
static st_status_t reserve_staging(gather_t *g, int64_t rows, st_error_t *err) {
    st_status_t status = ST_OK;
    if (rows > g->staging_rows) {
        free(g->staging), free(g->ids);
        g->staging = malloc((size_t)rows * g->row_bytes);
        g->ids = malloc((size_t)rows * sizeof(int64_t));
        g->staging_rows = g->staging && g->ids ? rows : 0;
        if (!g->staging_rows)
            status = st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %.1f MiB of send staging", g->ds->path,
                             (double)rows * (double)g->row_bytes / 1048576.0);
        if ((size_t)rows * g->row_bytes > g->inf.staging_bytes) g->inf.staging_bytes = (size_t)rows * g->row_bytes;
    }
    return st_comm_agree(g->c, status, err);
}

/* Round k of piece j's exchange: rows [k·B, (k+1)·B) of every (owner, wanter) pair's list.
 * Displacements index want/out (< n_want <= INT_MAX) and ids/staging (< staging_rows). */
static st_status_t exchange_round(gather_t *g, int64_t k, st_status_t *internal, st_error_t *err) {
    int64_t n_recv = 0, dummy_id = 0;
    float dummy_row = 0;
    for (int p = 0; p < g->P; p++) {
        g->sc[p] = (int)clamp_count(g->want_cnt[p], k * g->B, g->B);
        g->sd[p] = g->sc[p] > 0 ? (int)(g->first[p] + k * g->B) : 0;
        g->rc[p] = (int)clamp_count(g->req_cnt[p], k * g->B, g->B);
        g->rd[p] = (int)n_recv;
        n_recv += g->rc[p];
    }
    const int64_t *want_buf = g->n_want > 0 ? g->want : &dummy_id; /* MPI wants non-NULL buffers */
    float *out_buf = g->n_want > 0 ? g->out : &dummy_row;
    ST_MPI(MPI_Alltoallv(want_buf, g->sc, g->sd, MPI_INT64_T, g->ids, g->rc, g->rd, MPI_INT64_T, g->c->comm), err);
    for (int64_t i = 0; i < n_recv; i++) {
        if (g->ids[i] < g->piece_lo || g->ids[i] >= g->piece_hi) {
            if (*internal == ST_OK)
                *internal = st_fail(err, ST_ERR_INTERNAL, "%s: rank %d was asked for row %lld outside its piece [%lld, %lld)",
                                    g->ds->path, g->me, (long long)g->ids[i], (long long)g->piece_lo, (long long)g->piece_hi);
            continue;
        }
        memcpy(g->staging + (size_t)i * (size_t)g->row_floats,
               g->piece + (size_t)(g->ids[i] - g->piece_lo) * (size_t)g->row_floats, g->row_bytes);
    }
    ST_MPI(MPI_Alltoallv(g->staging, g->rc, g->rd, g->row_t, out_buf, g->sc, g->sd, g->row_t, g->c->comm), err);
    return ST_OK;
}

/* Collective: moves the wanted rows of every rank's piece j to the ranks that want them (its
 * own copied locally), in rounds of at most B rows per pair. */
static st_status_t exchange_piece(gather_t *g, int64_t j, st_error_t *err) {
    const int P = g->P;
    for (int p = 0; p < P; p++) {
        int64_t a, b;
        piece_range(g, p, j, &a, &b);
        g->first[p] = st_ids_lower_bound(g->want, g->n_want, a);
        int64_t end = a < b ? st_ids_lower_bound(g->want, g->n_want, b) : g->first[p];
        g->want_cnt[p] = end - g->first[p];
    }
    for (int64_t i = g->first[g->me]; !g->inf.direct && i < g->first[g->me] + g->want_cnt[g->me]; i++)
        memcpy(g->out + (size_t)i * (size_t)g->row_floats,
               g->piece + (size_t)(g->want[i] - g->piece_lo) * (size_t)g->row_floats, g->row_bytes);
    g->inf.rows_local += g->want_cnt[g->me];
    g->want_cnt[g->me] = 0;
    if (P == 1) return ST_OK;
    ST_MPI(MPI_Alltoall(g->want_cnt, 1, MPI_INT64_T, g->req_cnt, 1, MPI_INT64_T, g->c->comm), err);
    int64_t my_rounds = 0, need = 0, n_rounds = 0;
    for (int p = 0; p < P; p++) {
        int64_t r = (g->want_cnt[p] + g->B - 1) / g->B;
        if (r > my_rounds) my_rounds = r;
        need += g->req_cnt[p] < g->B ? g->req_cnt[p] : g->B; /* round 0 is the largest */
        g->inf.rows_sent += g->req_cnt[p], g->inf.rows_received += g->want_cnt[p];
    }
    ST_MPI(MPI_Allreduce(&my_rounds, &n_rounds, 1, MPI_INT64_T, MPI_MAX, g->c->comm), err);
    g->inf.n_rounds += (int)n_rounds;
    if (n_rounds == 0) return ST_OK;
    ST_TRY(reserve_staging(g, need > 0 ? need : 1, err));
    st_status_t internal = ST_OK;
    for (int64_t k = 0; k < n_rounds; k++) ST_TRY(exchange_round(g, k, &internal, err));
    return st_comm_agree(g->c, internal, err);
}

static void gather_free(gather_t *g) {
    if (g->row_t != MPI_DATATYPE_NULL) MPI_Type_free(&g->row_t);
    free(g->window), free(g->staging), free(g->ids);
    free(g->seg), free(g->first), free(g->want_cnt), free(g->req_cnt);
    free(g->sc), free(g->sd), free(g->rc), free(g->rd);
}

/* The gather of /X (target < 0) or of target `target`'s values. */
static st_status_t gather(const st_dataset_t *ds, int target, const st_comm_t *c, const int64_t *want, int64_t n_want,
                          float *out, const st_loader_options_t *opt, st_loader_info_t *info, st_error_t *err) {
    gather_t g;
    memset(&g, 0, sizeof g);
    g.ds = ds, g.c = c, g.want = want, g.n_want = n_want, g.out = out, g.P = c->size, g.me = c->rank;
    g.target = target;
    g.row_floats = target == GATHER_LENGTHS ? 1 : target < 0 ? st_shape_numel(ds->shape) : ds->targets[target].width;
    g.row_bytes = (size_t)g.row_floats * sizeof(float);
    g.staging_budget = opt && opt->staging_bytes ? opt->staging_bytes : ST_LOADER_STAGING_BYTES;
    g.row_t = MPI_DATATYPE_NULL;
    g.range_lo = 0, g.range_n = ds->n;
    g.preread = opt && target < 0 ? opt->preread : NULL;
    if (opt && (opt->range_lo || opt->range_hi)) {
        g.range_lo = opt->range_lo < 0 ? 0 : opt->range_lo;
        g.range_n = (opt->range_hi < ds->n ? opt->range_hi : ds->n) - g.range_lo;
        if (g.range_n < 0) g.range_n = 0;
    }
    st_loader_block(&g.lo, &g.hi, g.range_n, g.me, g.P);
    g.lo += g.range_lo, g.hi += g.range_lo;
    g.inf.block_rows = g.hi - g.lo;
    /* Local checks and allocations, then agreement: no rank enters a collective alone. */
    st_status_t status = st_comm_agree(c, gather_setup(&g, opt, err), err);
    for (int64_t j = 0; status == ST_OK && j < g.n_pieces; j++) {
        double t0 = st_clock_s();
        status = read_piece(&g, j, err);
        double t1 = st_clock_s();
        if (status == ST_OK) status = exchange_piece(&g, j, err);
        g.inf.read_s += t1 - t0, g.inf.exchange_s += st_clock_s() - t1;
        g.inf.n_reads++;
    }
    gather_free(&g);
    if (info) *info = g.inf;
    return status;
}

st_status_t st_loader_gather_rows_ex(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want, int64_t n_want,
                                     float *out, const st_loader_options_t *opt, st_loader_info_t *info, st_error_t *err) {
    return gather(ds, -1, c, want, n_want, out, opt, info, err);
}

st_status_t st_loader_gather_target_ex(const st_dataset_t *ds, int t, const st_comm_t *c, const int64_t *want,
                                       int64_t n_want, float *out, const st_loader_options_t *opt, st_error_t *err) {
    if (t < 0 || t >= ds->n_targets) return st_fail(err, ST_ERR_INTERNAL, "%s: no target %d", ds->path, t);
    return gather(ds, t, c, want, n_want, out, opt, NULL, err);
}

st_status_t st_loader_gather_target(const st_dataset_t *ds, int t, const st_comm_t *c, const int64_t *want,
                                    int64_t n_want, float *out, st_error_t *err) {
    return st_loader_gather_target_ex(ds, t, c, want, n_want, out, NULL, err);
}

st_status_t st_loader_gather_rows(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want, int64_t n_want,
                                  float *out, st_error_t *err) {
    return st_loader_gather_rows_ex(ds, c, want, n_want, out, NULL, NULL, err);
}

st_status_t st_loader_gather_lengths(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want, int64_t n_want,
                                     int32_t *out, st_error_t *err) {
    return st_loader_gather_lengths_ex(ds, c, want, n_want, out, NULL, err);
}

st_status_t st_loader_gather_lengths_ex(const st_dataset_t *ds, const st_comm_t *c, const int64_t *want,
                                        int64_t n_want, int32_t *out, const st_loader_options_t *opt, st_error_t *err) {
    if (!ds->has_lengths) return st_fail(err, ST_ERR_INTERNAL, "%s: has no /lengths", ds->path);
    float *v = malloc((size_t)(n_want > 0 ? n_want : 1) * sizeof *v);
    st_status_t rc = st_comm_agree(c, v ? ST_OK : st_fail(err, ST_ERR_NOMEM, "%s: out of memory for /lengths", ds->path), err);
    if (rc == ST_OK) rc = gather(ds, GATHER_LENGTHS, c, want, n_want, v, opt, NULL, err);
    int T = ds->shape.d[0];
    for (int64_t i = 0; rc == ST_OK && i < n_want; i++) {
        if (!(v[i] >= 1 && v[i] <= (float)T && v[i] == (float)(int32_t)v[i]))
            rc = st_fail(err, ST_ERR_DATA, "%s: /lengths[%lld] = %g is outside 1..%d (T of /X [N, T, C])", ds->path,
                         (long long)want[i], (double)v[i], T);
        else
            out[i] = (int32_t)v[i];
    }
    free(v);
    return st_comm_agree(c, rc, err);
}
