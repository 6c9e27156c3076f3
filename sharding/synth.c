/* synth.c — the synthetic dataset of `strata synth` (synth.h): the rows as pure functions of
 * (seed, row, feature), and the three writers: HDF5 in parallel through the streaming dataset
 * writer, CSV and IDX (converter inputs) by one process. Everything is generated and written in
 * pieces of a bounded size. */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dataset.h"
#include "dataset_stream.h"
#include "philox.h"
#include "watchdog.h"

/* What a draw is for: the stream of ST_RNG_SYNTH. */
enum { DRAW_LABEL = 1, DRAW_MEAN = 2, DRAW_NOISE = 3, DRAW_LENGTH = 4, DRAW_GROUP = 5 };

int st_synth_format_parse(const char *s) {
    static const char *names[] = {"h5", "csv", "idx"};
    for (int k = 0; k < 3; k++)
        if (strcmp(s, names[k]) == 0) return k;
    return -1;
}

st_status_t st_synth_check(const st_synth_options_t *o, st_error_t *err) {
    int D = (int)st_shape_numel(o->shape);
    if (o->n_rows < 1) return st_fail(err, ST_ERR_CONFIG, "--rows %lld: at least 1", (long long)o->n_rows);
    if (o->n_classes < 2 || o->n_classes > ST_MAX_CLASSES)
        return st_fail(err, ST_ERR_CONFIG, "--classes %d: between 2 and %d", o->n_classes, ST_MAX_CLASSES);
    if (o->format == ST_SYNTH_IDX && o->n_classes > 256)
        return st_fail(err, ST_ERR_CONFIG, "--classes %d: IDX labels are bytes (at most 256 classes)", o->n_classes);
    if (D < 1 || (int64_t)D * o->n_classes > (1ll << 28))
        return st_fail(err, ST_ERR_CONFIG, "%d features x %d classes: the class means would take more than 1 GiB", D,
                       o->n_classes);
    if (!(o->separation >= 0 && o->separation <= 1e6))
        return st_fail(err, ST_ERR_CONFIG, "--separation %g: a number in [0, 1e6]", o->separation);
    if (o->lengths && o->shape.rank != 2)
        return st_fail(err, ST_ERR_CONFIG, "--lengths needs sequences: give --shape T,C instead of --features");
    if (o->lengths && o->format != ST_SYNTH_H5)
        return st_fail(err, ST_ERR_CONFIG, "--lengths is written to HDF5 only (--format h5)");
    if (o->n_groups < 0 || (o->n_groups > 0 && o->format == ST_SYNTH_IDX))
        return st_fail(err, ST_ERR_CONFIG, "--groups %lld: a positive count, and not with --format idx",
                       (long long)o->n_groups);
    if (o->piece_mb < 1) return st_fail(err, ST_ERR_CONFIG, "--piece-mb %d: at least 1", o->piece_mb);
    return ST_OK;
}

void st_synth_means(float *mu, const st_synth_options_t *o) {
    long D = st_shape_numel(o->shape);
    float s = (float)(o->separation / sqrt(2.0 * (double)D));
    for (int c = 0; c < o->n_classes; c++)
        st_rand_normal(mu + (size_t)c * (size_t)D, D, 0.0f, s, o->seed, ST_RNG_SYNTH, DRAW_MEAN, (uint32_t)c, 0);
}

/* One Philox word for (what, row). */
static uint32_t word(const st_synth_options_t *o, uint32_t what, int64_t row, int k) {
    uint32_t w[4];
    st_rand_u32x4(o->seed, ST_RNG_SYNTH, what, 0, (uint64_t)row, w);
    return w[k];
}

/* Row `row`'s noise x [D]: N(0, 1) by Box-Muller in float on the words of counters
 * row·ceil(D/4) + b, b = 0..ceil(D/4)-1 (four values a counter), ST_PHILOX_LANES counters at a
 * time; ~4x faster than st_rand_normal's double precision, which made generation, not writing,
 * the bottleneck. */
static void noise_row(float *x, long D, uint64_t seed, int64_t row) {
    const long n_ctr = (D + 3) / 4;
    const uint64_t base = (uint64_t)row * (uint64_t)n_ctr;
    const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32), tag = (uint32_t)ST_RNG_SYNTH << 24 | DRAW_NOISE;
    for (long b0 = 0; b0 < n_ctr; b0 += ST_PHILOX_LANES) {
        uint32_t c0[ST_PHILOX_LANES], c1[ST_PHILOX_LANES], c2[ST_PHILOX_LANES], c3[ST_PHILOX_LANES];
        for (int i = 0; i < ST_PHILOX_LANES; i++) {
            uint64_t idx = base + (uint64_t)(b0 + i);
            c0[i] = (uint32_t)idx, c1[i] = (uint32_t)(idx >> 32), c2[i] = 0, c3[i] = tag;
        }
        st_philox4x32_10_lanes(c0, c1, c2, c3, k0, k1);
        for (int i = 0; i < ST_PHILOX_LANES && b0 + i < n_ctr; i++) {
            const uint32_t w[4] = {c0[i], c1[i], c2[i], c3[i]};
            float v[4];
            for (int pair = 0; pair < 2; pair++) {
                float u1 = ((float)(w[2 * pair] >> 8) + 1.0f) * (1.0f / 16777216.0f); /* (0, 1]: log finite */
                float u2 = (float)(w[2 * pair + 1] >> 8) * (1.0f / 16777216.0f);
                float r = sqrtf(-2.0f * logf(u1)), sn, cs;
                sincosf(6.2831853f * u2, &sn, &cs);
                v[2 * pair] = r * cs, v[2 * pair + 1] = r * sn;
            }
            long j = 4 * (b0 + i);
            for (int k = 0; k < 4 && j + k < D; k++) x[j + k] = v[k];
        }
    }
}

void st_synth_rows(float *X, int32_t *y, int32_t *lengths, int64_t *groups, const float *mu,
                   const st_synth_options_t *o, int64_t row0, int64_t n) {
    long D = st_shape_numel(o->shape);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        int64_t row = row0 + i;
        float *x = X + (size_t)i * (size_t)D;
        int32_t c = (int32_t)(((uint64_t)word(o, DRAW_LABEL, row, 0) * (uint64_t)o->n_classes) >> 32);
        y[i] = c;
        noise_row(x, D, o->seed, row);
        const float *m = mu + (size_t)c * (size_t)D;
        for (long j = 0; j < D; j++) x[j] += m[j];
        if (lengths) { /* [T, C]: length in [ceil(T/2), T], the steps past it zero */
            int T = o->shape.d[0], lo = (T + 1) / 2;
            int len = lo + (int)(((uint64_t)word(o, DRAW_LENGTH, row, 0) * (uint64_t)(T - lo + 1)) >> 32);
            lengths[i] = len;
            memset(x + (size_t)len * (size_t)o->shape.d[1], 0, (size_t)(T - len) * (size_t)o->shape.d[1] * sizeof *x);
        }
        if (groups) {
            uint64_t g = (uint64_t)word(o, DRAW_GROUP, row, 0) << 32 | word(o, DRAW_GROUP, row, 1);
            groups[i] = (int64_t)(g % (uint64_t)o->n_groups);
        }
    }
}

/* Rows a piece: about piece_mb MiB of /X. */
static int64_t piece_rows(const st_synth_options_t *o) {
    int64_t row_bytes = st_shape_numel(o->shape) * (int64_t)sizeof(float);
    int64_t r = ((int64_t)o->piece_mb << 20) / row_bytes;
    return r < 1 ? 1 : r;
}

/* The buffers of one piece and the class means. */
typedef struct {
    float *mu, *X;
    int32_t *y, *lengths;
    int64_t *groups;
    uint8_t *bytes; /* CSV/IDX text or pixels */
} piece_t;

static void piece_free(piece_t *p) {
    st_free(p->mu), st_free(p->X), st_free(p->y), st_free(p->lengths), st_free(p->groups), st_free(p->bytes);
    memset(p, 0, sizeof *p);
}

static st_status_t piece_alloc(piece_t *p, const st_synth_options_t *o, int64_t rows, size_t n_bytes, st_error_t *err) {
    size_t D = (size_t)st_shape_numel(o->shape);
    memset(p, 0, sizeof *p);
    int ok = (p->mu = st_alloc((size_t)o->n_classes * D * sizeof(float), "the class means", err)) &&
             (p->X = st_alloc((size_t)rows * D * sizeof(float), "a piece of rows", err)) &&
             (p->y = st_alloc((size_t)rows * sizeof(int32_t), "a piece of labels", err)) &&
             (!o->lengths || (p->lengths = st_alloc((size_t)rows * sizeof(int32_t), "a piece of lengths", err))) &&
             (!o->n_groups || (p->groups = st_alloc((size_t)rows * sizeof(int64_t), "a piece of groups", err))) &&
             (!n_bytes || (p->bytes = st_alloc(n_bytes, "a piece of text", err)));
    if (!ok) return piece_free(p), ST_ERR_NOMEM;
    st_synth_means(p->mu, o);
    return ST_OK;
}

/* HDF5: this rank's block [N·r/P, N·(r+1)/P) in pieces; every rank makes as many write calls as
 * the rank with the most pieces (the writes are collective). */
static st_status_t write_h5(const st_synth_options_t *o, MPI_Comm comm, st_error_t *err) {
    int rank = 0, size = 1;
    if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank), MPI_Comm_size(comm, &size);
    int64_t lo = o->n_rows * rank / size, hi = o->n_rows * (rank + 1) / size, rows = piece_rows(o);
    long long mine = (hi - lo + rows - 1) / rows, n_pieces = mine;
    if (comm != MPI_COMM_NULL && MPI_Allreduce(&mine, &n_pieces, 1, MPI_LONG_LONG, MPI_MAX, comm) != MPI_SUCCESS)
        return st_fail(err, ST_ERR_MPI, "%s: MPI_Allreduce failed", o->out);
    char source[160];
    st_format(source, sizeof source, "synth: seed %llu, separation %g%s", (unsigned long long)o->seed, o->separation,
              o->n_groups ? ", groups" : "");
    st_stream_spec_t spec = {.n = o->n_rows, .shape = o->shape, .n_classes = o->n_classes, .source = source,
                             .has_groups = o->n_groups > 0, .has_lengths = o->lengths};
    piece_t p;
    st_status_t rc = piece_alloc(&p, o, rows, 0, err);
    int bad = rc != ST_OK, any_bad = bad;
    if (comm != MPI_COMM_NULL) MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, comm);
    if (any_bad) return bad ? rc : st_fail(err, ST_ERR_NOMEM, "%s: another rank is out of memory", o->out);
    st_dataset_stream_t w;
    if ((rc = st_stream_create(&w, o->out, &spec, comm, err)) != ST_OK) return piece_free(&p), rc;
    for (long long k = 0; rc == ST_OK && k < n_pieces; k++) {
        int64_t row0 = lo + k * rows, n = row0 >= hi ? 0 : hi - row0 < rows ? hi - row0 : rows;
        if (row0 > hi) row0 = hi;
        st_synth_rows(p.X, p.y, p.lengths, p.groups, p.mu, o, row0, n);
        rc = st_stream_write(&w, row0, n, p.X, p.y, NULL, p.groups, p.lengths, err);
        st_watchdog_beat("writing synthetic rows", -1);
    }
    piece_free(&p);
    if (rc != ST_OK) return st_stream_abort(&w), rc;
    return st_stream_finish(&w, err);
}

/* fwrite of n bytes, failing with errno's reason. */
static st_status_t put(FILE *f, const char *path, const void *buf, size_t n, st_error_t *err) {
    if (fwrite(buf, 1, n, f) != n) return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return ST_OK;
}

/* CSV: "f0,...,f<D-1>,label[,group]", values with 7 significant digits, one row a line. */
static st_status_t csv_rows(FILE *f, const char *path, const piece_t *p, const st_synth_options_t *o, int64_t n,
                            st_error_t *err) {
    long D = st_shape_numel(o->shape);
    for (int64_t i = 0; i < n; i++) {
        char *t = (char *)p->bytes;
        for (long j = 0; j < D; j++) t += sprintf(t, "%.7g,", (double)p->X[(size_t)i * (size_t)D + (size_t)j]);
        t += sprintf(t, "%d", (int)p->y[i]);
        if (p->groups) t += sprintf(t, ",%lld", (long long)p->groups[i]);
        *t++ = '\n';
        ST_TRY(put(f, path, p->bytes, (size_t)(t - (char *)p->bytes), err));
    }
    return ST_OK;
}

static st_status_t csv_header(FILE *f, const char *path, const st_synth_options_t *o, st_error_t *err) {
    for (long j = 0; j < st_shape_numel(o->shape); j++)
        if (fprintf(f, "f%ld,", j) < 0) return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    if (fprintf(f, "label%s\n", o->n_groups ? ",group" : "") < 0)
        return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return ST_OK;
}

/* An IDX header: magic 0x00000800 | ndims, then the sizes, big-endian. */
static st_status_t idx_header(FILE *f, const char *path, int ndims, const int64_t *dims, st_error_t *err) {
    uint8_t h[16] = {0, 0, 8, (uint8_t)ndims};
    for (int k = 0; k < ndims; k++)
        for (int b = 0; b < 4; b++) h[4 + 4 * k + b] = (uint8_t)((uint64_t)dims[k] >> (24 - 8 * b));
    return put(f, path, h, 4 + 4 * (size_t)ndims, err);
}

/* IDX pixels: clamp(round(128 + 32·x), 0, 255). */
static void to_pixels(uint8_t *px, const float *X, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = rintf(128.0f + 32.0f * X[i]);
        px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* Opens "<path>.tmp" for writing. */
static FILE *open_tmp(const char *path, char *tmp, size_t size, st_error_t *err) {
    if (st_format(tmp, size, "%s.tmp", path)) return st_fail(err, ST_ERR_IO, "%s: path too long", path), NULL;
    FILE *f = fopen(tmp, "wb");
    if (!f) st_fail(err, ST_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    return f;
}

/* Closes f and renames tmp over path (removing tmp on failure); adds the file's size to *bytes. */
static st_status_t close_tmp(FILE *f, const char *tmp, const char *path, st_status_t rc, int64_t *bytes,
                             st_error_t *err) {
    long size = ftell(f);
    if (fclose(f) != 0 && rc == ST_OK) rc = st_fail(err, ST_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == ST_OK && rename(tmp, path) != 0)
        rc = st_fail(err, ST_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (rc != ST_OK) remove(tmp);
    else *bytes += size;
    return rc;
}

/* CSV or IDX, by this one process. */
static st_status_t write_text(const st_synth_options_t *o, int64_t *bytes, st_error_t *err) {
    long D = st_shape_numel(o->shape);
    int64_t rows = piece_rows(o);
    int idx = o->format == ST_SYNTH_IDX;
    size_t n_bytes = idx ? (size_t)(rows * D) : (size_t)D * 16 + 48; /* CSV: one line, %.7g is at most 15 bytes */
    piece_t p;
    ST_TRY(piece_alloc(&p, o, rows, n_bytes, err));
    char tmp[1100], ltmp[1100], lpath[1100];
    st_format(lpath, sizeof lpath, "%s.labels", o->out);
    FILE *f = open_tmp(o->out, tmp, sizeof tmp, err), *lf = NULL;
    if (f && idx && !(lf = open_tmp(lpath, ltmp, sizeof ltmp, err))) fclose(f), remove(tmp), f = NULL;
    if (!f) return piece_free(&p), ST_ERR_IO;
    int64_t dims[3] = {o->n_rows, o->shape.rank == 2 ? o->shape.d[0] : 1, o->shape.rank == 2 ? o->shape.d[1] : D};
    st_status_t rc = idx ? idx_header(f, o->out, 3, dims, err) : csv_header(f, o->out, o, err);
    if (rc == ST_OK && idx) rc = idx_header(lf, lpath, 1, dims, err);
    for (int64_t row0 = 0; rc == ST_OK && row0 < o->n_rows; row0 += rows) {
        int64_t n = o->n_rows - row0 < rows ? o->n_rows - row0 : rows;
        st_synth_rows(p.X, p.y, NULL, p.groups, p.mu, o, row0, n);
        st_watchdog_beat("writing synthetic rows", -1);
        if (!idx) {
            rc = csv_rows(f, o->out, &p, o, n, err);
            continue;
        }
        to_pixels(p.bytes, p.X, (size_t)(n * D));
        rc = put(f, o->out, p.bytes, (size_t)(n * D), err);
        for (int64_t i = 0; i < n; i++) p.bytes[i] = (uint8_t)p.y[i];
        if (rc == ST_OK) rc = put(lf, lpath, p.bytes, (size_t)n, err);
    }
    piece_free(&p);
    rc = close_tmp(f, tmp, o->out, rc, bytes, err);
    if (lf) rc = close_tmp(lf, ltmp, lpath, rc, bytes, err);
    return rc;
}

st_status_t st_synth_write(const st_synth_options_t *o, MPI_Comm comm, st_synth_summary_t *sum, st_error_t *err) {
    memset(sum, 0, sizeof *sum);
    ST_TRY(st_synth_check(o, err));
    int rank = 0;
    sum->ranks = 1;
    if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank), MPI_Comm_size(comm, &sum->ranks);
    double t0 = st_clock_s();
    st_status_t rc = ST_OK;
    if (o->format == ST_SYNTH_H5) {
        rc = write_h5(o, comm, err);
        sum->bytes = o->n_rows * st_shape_numel(o->shape) * (int64_t)sizeof(float);
    } else { /* one process writes; under mpirun the other ranks have nothing to do */
        sum->ranks = 1;
        if (rank == 0) rc = write_text(o, &sum->bytes, err);
    }
    double dt = st_clock_s() - t0;
    sum->seconds = dt;
    if (comm != MPI_COMM_NULL && o->format == ST_SYNTH_H5) MPI_Allreduce(&dt, &sum->seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
    sum->n_rows = o->n_rows;
    return rc;
}
