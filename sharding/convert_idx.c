/* convert_idx.c — reads MNIST-style IDX files through zlib (gzopen/gzread read gzip'ed and plain
 * files alike; the gzip magic 1f 8b only chooses the wording of errors) and writes them as a
 * strata dataset: images as float32 [N, rows·cols] with raw pixel values, labels as int32, an
 * optional test set appended and marked /split = 2. The images are streamed: read, converted and
 * written (sharding/dataset_stream.h) a block of rows at a time, so memory is a block plus the
 * labels (one byte a row), whatever the size of the input. */
#include "convert_idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "convert_paths.h"
#include "dataset.h"
#include "dataset_stream.h"

#define IDX_MAX_BYTES (1ll << 40)
#define IDX_BLOCK_BYTES (16ll << 20) /* float32 rows converted and written at a time */

static const char *magic_kind(uint32_t m) {
    if (m == ST_IDX_LABELS) return " (labels)";
    if (m == ST_IDX_IMAGES) return " (images)";
    if ((m >> 8) == 0x08) return " (an IDX file of bytes with an unexpected number of dimensions)";
    if ((m >> 16) == 0 && ((m >> 8) & 0xff) >= 0x09 && ((m >> 8) & 0xff) <= 0x0e)
        return " (an IDX file of non-byte values, which strata does not convert)";
    if ((m >> 16) == 0x1f8b) return " (a gzip header inside the decompressed data: compressed twice?)";
    return " (not an IDX file)";
}

/* zlib's message without the "path: " it puts in front. */
static const char *zmessage(gzFile g, const char *path, int *errnum) {
    const char *m = gzerror(g, errnum);
    size_t n = strlen(path);
    if (strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
    return m;
}

/* "[a, b, c]": an IDX header's sizes, for messages. */
static void dims_text(const st_idx_t *idx, char *buf, size_t size) {
    if (idx->ndims == 3)
        st_format(buf, size, "[%lld, %lld, %lld]", (long long)idx->dims[0], (long long)idx->dims[1],
                  (long long)idx->dims[2]);
    else
        st_format(buf, size, "[%lld]", (long long)idx->dims[0]);
}

/* Counts the bytes after the last gzip member of a gzip'ed file. zlib's gzread reads
 * concatenated members but silently ignores anything after them that is not another member, so
 * the members are walked here with inflate (their data discarded) to find where they end.
 * Returns 0 and sets *n_trailing, or -1 when the file cannot be read or its stream is broken
 * (gzread has already reported those). */
static int gzip_trailing_bytes(const char *path, int64_t *n_trailing) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static const size_t chunk = 1 << 16;
    uint8_t *in = malloc(chunk), *out = malloc(chunk);
    z_stream z = {0};
    int ok = in && out && inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, r = Z_OK, done = 0;
    *n_trailing = 0;
    while (ok && !done) {
        if (z.avail_in == 0) {
            z.avail_in = (uInt)fread(in, 1, chunk, f);
            z.next_in = in;
            if (z.avail_in == 0) break; /* end of file at a member boundary (or a truncated one) */
        }
        z.next_out = out;
        z.avail_out = (uInt)chunk;
        r = inflate(&z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) { /* another member follows, or trailing bytes */
            if (z.avail_in == 0) {
                z.avail_in = (uInt)fread(in, 1, chunk, f);
                z.next_in = in;
            }
            if (z.avail_in == 0) break;
            if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
                inflateReset(&z);
                continue;
            }
            *n_trailing = z.avail_in;
            for (size_t got; (got = fread(in, 1, chunk, f)) > 0;) *n_trailing += (int64_t)got;
            done = 1;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            ok = 0;
        }
    }
    if (in && out) inflateEnd(&z);
    free(in);
    free(out);
    fclose(f);
    return ok ? 0 : -1;
}

/* Reads exactly n bytes; returns the count read (< n at end of input or on an error). */
static int64_t read_full(gzFile g, uint8_t *buf, int64_t n) {
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got > (1 << 30) ? (1 << 30) : n - got;
        int r = gzread(g, buf + got, (unsigned)want);
        if (r <= 0) break;
        got += r;
    }
    return got;
}

/* Reads n bytes into a malloc'd *buf that grows with the data actually read (from 64 MiB,
 * doubling), so a header claiming 4 GB in a file of 20 bytes costs no 4 GB allocation. Returns
 * the count read (< n at end of input), or -1 when out of memory. */
static int64_t read_growing(gzFile g, uint8_t **buf, int64_t n) {
    int64_t cap = 0, got = 0;
    *buf = NULL;
    while (got < n) {
        if (got == cap) {
            int64_t next = cap ? 2 * cap : 64ll << 20;
            if (next > n) next = n;
            uint8_t *b = realloc(*buf, (size_t)next);
            if (!b) return -1;
            *buf = b, cap = next;
        }
        int64_t r = read_full(g, *buf + got, cap - got);
        got += r;
        if (got < cap) break;
    }
    return got;
}

/* Fills err for a short read: a broken gzip stream, or a file shorter than its header says. */
static st_status_t short_read(const char *path, gzFile g, int is_gzip, const char *what, int64_t got, int64_t want,
                              st_error_t *err) {
    int errnum = Z_OK;
    const char *zmsg = zmessage(g, path, &errnum);
    if (is_gzip && errnum == Z_BUF_ERROR)
        return st_fail(err, ST_ERR_DATA,
                       "%s: truncated gzip file (unexpected end of the compressed stream) after %lld of %lld bytes of %s",
                       path, (long long)got, (long long)want, what);
    if (errnum != Z_OK && errnum != Z_STREAM_END)
        return st_fail(err, ST_ERR_DATA, "%s: corrupt %s (%s) after %lld of %lld bytes of %s", path,
                       is_gzip ? "gzip stream" : "file", zmsg, (long long)got, (long long)want, what);
    return st_fail(err, ST_ERR_DATA, "%s: file is shorter than its header says: %lld bytes of %s expected, %lld found",
                   path, (long long)want, what, (long long)got);
}

/* An IDX file being read: its header (in h; h.data unused) and the data read so far. */
typedef struct {
    const char *path;
    gzFile g;
    int is_gzip;
    st_idx_t h;
    int64_t got;     /* data bytes read */
    char what[96];   /* "data for N images of RxC", for messages */
} idx_stream_t;

static void idx_close(idx_stream_t *s) {
    if (s->g) gzclose(s->g);
    s->g = NULL;
}

/* Opens `path` and reads its header, whose magic must be `magic`; checks the sizes. */
static st_status_t idx_open(const char *path, uint32_t magic, idx_stream_t *s, st_error_t *err) {
    memset(s, 0, sizeof *s);
    s->path = path;
    st_idx_t *out = &s->h;
    FILE *probe = fopen(path, "rb");
    if (!probe) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[2] = {0, 0};
    size_t n_head = fread(head, 1, 2, probe);
    fclose(probe);
    s->is_gzip = n_head == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (n_head == 0) return st_fail(err, ST_ERR_DATA, "%s: file is empty (expected an IDX file)", path);
    gzFile g = s->g = gzopen(path, "rb");
    if (!g) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(g, 1 << 17);
    st_status_t rc = ST_OK;
    uint8_t hdr[16];
    int64_t got = read_full(g, hdr, 4);
    if (got < 4) {
        rc = got == 0 && !s->is_gzip ? st_fail(err, ST_ERR_DATA, "%s: file is empty", path)
                                     : short_read(path, g, s->is_gzip, "IDX header", got, 4, err);
        goto fail;
    }
    out->magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (out->magic != magic) {
        rc = st_fail(err, ST_ERR_DATA, "%s: expected IDX magic 0x%08x%s but found 0x%08x%s", path, magic,
                     magic_kind(magic), out->magic, magic_kind(out->magic));
        goto fail;
    }
    out->ndims = (int)(magic & 0xff);
    got = read_full(g, hdr + 4, 4 * out->ndims);
    if (got < 4 * out->ndims) {
        rc = short_read(path, g, s->is_gzip, "IDX header", 4 + got, 4 + 4 * out->ndims, err);
        goto fail;
    }
    out->n_bytes = 1;
    for (int i = 0; i < out->ndims; i++) {
        const uint8_t *p = hdr + 4 + 4 * i;
        out->dims[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        if (out->dims[i] == 0) {
            rc = st_fail(err, ST_ERR_DATA, "%s: IDX header has size 0 in dimension %d", path, i);
            goto fail;
        }
    }
    for (int i = 0; i < out->ndims; i++) {
        /* Checked before multiplying: three sizes of 2^32 - 1 overflow int64 and wrap to 12.9 GB. */
        if (out->dims[i] > IDX_MAX_BYTES / out->n_bytes) {
            char dims[64];
            dims_text(out, dims, sizeof dims);
            rc = st_fail(err, ST_ERR_DATA, "%s: IDX header sizes %s describe more than %lld bytes", path, dims,
                         IDX_MAX_BYTES);
            goto fail;
        }
        out->n_bytes *= out->dims[i];
    }
    if (out->ndims == 3)
        st_format(s->what, sizeof s->what, "data for %lld images of %lldx%lld", (long long)out->dims[0],
                  (long long)out->dims[1], (long long)out->dims[2]);
    else
        st_format(s->what, sizeof s->what, "data for %lld labels", (long long)out->dims[0]);
    return ST_OK;
fail:
    idx_close(s);
    return rc;
}

/* The next n data bytes into buf; a short read fails as the whole read would have. */
static st_status_t idx_read(idx_stream_t *s, uint8_t *buf, int64_t n, st_error_t *err) {
    int64_t got = read_full(s->g, buf, n);
    s->got += got;
    if (got < n) return short_read(s->path, s->g, s->is_gzip, s->what, s->got, s->h.n_bytes, err);
    return ST_OK;
}

/* After the last data byte: the file must end here (no extra bytes, an intact gzip trailer, no
 * bytes after the gzip stream). Closes the file. */
static st_status_t idx_end(idx_stream_t *s, st_error_t *err) {
    const char *path = s->path;
    gzFile g = s->g;
    int is_gzip = s->is_gzip;
    st_status_t rc = ST_OK;
    uint8_t extra[4096];
    int64_t n_extra = 0;
    int r;
    while ((r = gzread(g, extra, sizeof extra)) > 0) n_extra += r;
    int errnum = Z_OK;
    const char *zmsg = zmessage(g, path, &errnum);
    int64_t n_trailing = 0;
    if (r < 0 || (errnum != Z_OK && errnum != Z_STREAM_END))
        rc = is_gzip && errnum == Z_BUF_ERROR
                 ? st_fail(err, ST_ERR_DATA, "%s: truncated gzip file (the compressed stream ends early)", path)
                 : st_fail(err, ST_ERR_DATA, "%s: corrupt %s (%s)", path, is_gzip ? "gzip stream" : "file", zmsg);
    else if (n_extra > 0)
        rc = st_fail(err, ST_ERR_DATA, "%s: file is longer than its header says: %lld extra byte%s after the %s", path,
                     (long long)n_extra, n_extra == 1 ? "" : "s", s->what);
    else if (is_gzip && gzip_trailing_bytes(path, &n_trailing) == 0 && n_trailing > 0)
        rc = st_fail(err, ST_ERR_DATA, "%s: %lld byte%s of trailing garbage after the gzip stream (the %s ends "
                     "before them): a damaged or appended-to file", path, (long long)n_trailing,
                     n_trailing == 1 ? "" : "s", s->what);
    idx_close(s);
    return rc;
}

st_status_t st_idx_read(const char *path, uint32_t magic, st_idx_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    idx_stream_t s;
    ST_TRY(idx_open(path, magic, &s, err));
    *out = s.h;
    st_status_t rc = ST_OK;
    int64_t got = read_growing(s.g, &out->data, out->n_bytes);
    if (got < 0)
        rc = st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)out->n_bytes);
    else if (got < out->n_bytes)
        rc = short_read(path, s.g, s.is_gzip, s.what, got, out->n_bytes, err);
    if (rc != ST_OK) {
        idx_close(&s);
        st_idx_free(out);
        return rc;
    }
    if ((rc = idx_end(&s, err)) != ST_OK) st_idx_free(out);
    return rc;
}

void st_idx_free(st_idx_t *idx) {
    if (!idx) return;
    free(idx->data);
    idx->data = NULL;
}

void st_names_free(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

st_status_t st_names_parse(const char *list, const char *what, char ***names, int *n, st_error_t *err) {
    *names = NULL;
    *n = 0;
    int cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    char **v = calloc((size_t)cap, sizeof *v);
    if (!v) return st_fail(err, ST_ERR_NOMEM, "%s: out of memory", what);
    const char *p = list;
    for (int i = 0; i < cap; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= ST_NAME_MAX) {
            st_names_free(v, i);
            return st_fail(err, ST_ERR_CONFIG, "%s: name %d is %s", what, i + 1,
                           len == 0 ? "empty" : "longer than 63 bytes");
        }
        v[i] = strndup(p, len);
        for (int j = 0; j < i; j++)
            if (strcmp(v[j], v[i]) == 0) {
                st_fail(err, ST_ERR_CONFIG, "%s: name \"%s\" appears twice", what, v[i]);
                st_names_free(v, i + 1);
                return ST_ERR_CONFIG;
            }
        p = end ? end + 1 : p + len;
    }
    *names = v;
    *n = cap;
    return ST_OK;
}

/* Checks labels against K; `base` is the sample index of item 0 in the output. */
static st_status_t check_labels(const char *path, const st_idx_t *lab, int k, int names_given, st_error_t *err) {
    for (int64_t i = 0; i < lab->n_bytes; i++)
        if (lab->data[i] >= k)
            return st_fail(err, ST_ERR_DATA, "%s: label %lld = %d is outside 0..%d (%s)", path, (long long)i,
                           lab->data[i], k - 1, names_given ? "one per --class-names name" : "the default classes");
    return ST_OK;
}

/* The source attribute, read back into 256 bytes: full paths when they fit, else file names. */
static void describe_source(const st_idx_options_t *opt, int has_test, char *source, size_t size) {
    for (int full = 1; full >= 0; full--) {
        const char *f[4] = {opt->images, opt->labels, opt->test_images, opt->test_labels};
        for (int i = 0; i < 4 && !full; i++)
            if (f[i] && strrchr(f[i], '/')) f[i] = strrchr(f[i], '/') + 1;
        if (has_test)
            st_format(source, size, "idx: images %s, labels %s; test images %s, test labels %s", f[0], f[1], f[2], f[3]);
        else
            st_format(source, size, "idx: images %s, labels %s", f[0], f[1]);
        if (strlen(source) < 256) break;
    }
}

/* What the conversion holds: the image streams (headers read), all labels (one byte a row), the
 * class names, and one block of rows. */
typedef struct {
    idx_stream_t im, tim;
    st_idx_t lb, tlb;
    char **names;
    int n_names, k;
    int64_t block, d;   /* rows a block; features a row */
    uint8_t *px, *split;
    float *X;
    int32_t *y;
} idx_job_t;

static void job_free(idx_job_t *j) {
    idx_close(&j->im), idx_close(&j->tim);
    st_idx_free(&j->lb), st_idx_free(&j->tlb);
    st_names_free(j->names, j->n_names);
    free(j->px), free(j->split), free(j->X), free(j->y);
}

/* The headers and labels: counts and sizes agree, every label is below K. */
static st_status_t open_inputs(idx_job_t *j, const st_idx_options_t *opt, st_error_t *err) {
    if (opt->class_names) ST_TRY(st_names_parse(opt->class_names, "--class-names", &j->names, &j->n_names, err));
    for (int c = 0; c < j->n_names; c++)
        if (!st_utf8_valid(j->names[c])) return st_fail(err, ST_ERR_CONFIG, "--class-names: name %d is not valid UTF-8", c + 1);
    ST_TRY(idx_open(opt->images, ST_IDX_IMAGES, &j->im, err));
    ST_TRY(st_idx_read(opt->labels, ST_IDX_LABELS, &j->lb, err));
    if (j->im.h.dims[0] != j->lb.dims[0])
        return st_fail(err, ST_ERR_DATA, "%s has %lld images but %s has %lld labels", opt->images,
                       (long long)j->im.h.dims[0], opt->labels, (long long)j->lb.dims[0]);
    if (opt->test_images) {
        ST_TRY(idx_open(opt->test_images, ST_IDX_IMAGES, &j->tim, err));
        ST_TRY(st_idx_read(opt->test_labels, ST_IDX_LABELS, &j->tlb, err));
        if (j->tim.h.dims[0] != j->tlb.dims[0])
            return st_fail(err, ST_ERR_DATA, "%s has %lld images but %s has %lld labels", opt->test_images,
                           (long long)j->tim.h.dims[0], opt->test_labels, (long long)j->tlb.dims[0]);
        if (j->tim.h.dims[1] != j->im.h.dims[1] || j->tim.h.dims[2] != j->im.h.dims[2])
            return st_fail(err, ST_ERR_DATA, "%s has %lldx%lld images but %s has %lldx%lld", opt->test_images,
                           (long long)j->tim.h.dims[1], (long long)j->tim.h.dims[2], opt->images,
                           (long long)j->im.h.dims[1], (long long)j->im.h.dims[2]);
    }
    if ((j->d = j->im.h.dims[1] * j->im.h.dims[2]) > (1 << 30))
        return st_fail(err, ST_ERR_DATA, "%s: images of %lldx%lld pixels are too large", opt->images,
                       (long long)j->im.h.dims[1], (long long)j->im.h.dims[2]);
    /* K: one per given name; else 10 (digits, clothes), or max label + 1 when labels go beyond 9. */
    j->k = j->n_names;
    if (!j->names) {
        int mx = 9;
        for (int64_t i = 0; i < j->lb.n_bytes; i++) mx = j->lb.data[i] > mx ? j->lb.data[i] : mx;
        for (int64_t i = 0; i < j->tlb.n_bytes; i++) mx = j->tlb.data[i] > mx ? j->tlb.data[i] : mx;
        j->k = mx + 1;
    }
    ST_TRY(check_labels(opt->labels, &j->lb, j->k, j->names != NULL, err));
    if (opt->test_labels) ST_TRY(check_labels(opt->test_labels, &j->tlb, j->k, j->names != NULL, err));
    return ST_OK;
}

/* One part (train or test) of the images, block by block, from output row `row0` on. */
static st_status_t stream_part(idx_job_t *j, st_dataset_stream_t *w, idx_stream_t *im, const st_idx_t *lb,
                               uint8_t part, int64_t row0, st_error_t *err) {
    int64_t n_rows = im->h.dims[0];
    for (int64_t r = 0; r < n_rows; r += j->block) {
        int64_t n = n_rows - r < j->block ? n_rows - r : j->block;
        ST_TRY(idx_read(im, j->px, n * j->d, err));
        for (int64_t i = 0; i < n * j->d; i++) j->X[i] = (float)j->px[i];
        for (int64_t i = 0; i < n; i++) j->y[i] = lb->data[r + i], j->split[i] = part;
        ST_TRY(st_stream_write(w, row0 + r, n, j->X, j->y, j->split, NULL, NULL, err));
    }
    return idx_end(im, err);
}

/* Streams the images into the output (labels already in memory): memory is one block of rows
 * (IDX_BLOCK_BYTES of float32) and the labels, not the dataset. */
st_status_t st_convert_idx(const char *out_path, const st_idx_options_t *opt, st_idx_summary_t *sum, st_error_t *err) {
    if (sum) memset(sum, 0, sizeof *sum);
    if ((opt->test_images == NULL) != (opt->test_labels == NULL))
        return st_fail(err, ST_ERR_CONFIG, "a test set needs both test images and test labels");
    const char *inputs[4] = {opt->images, opt->labels, opt->test_images, opt->test_labels};
    ST_TRY(st_convert_check_output(out_path, inputs, 4, err));
    idx_job_t j = {0};
    st_status_t rc = open_inputs(&j, opt, err);
    int64_t n_train = j.im.h.dims[0], n_test = opt->test_images ? j.tim.h.dims[0] : 0;
    if (rc == ST_OK) {
        j.block = IDX_BLOCK_BYTES / (j.d * (int64_t)sizeof(float));
        j.block = j.block < 1 ? 1 : j.block > n_train + n_test ? n_train + n_test : j.block;
        j.px = malloc((size_t)(j.block * j.d)), j.X = malloc((size_t)(j.block * j.d) * sizeof *j.X);
        j.y = malloc((size_t)j.block * sizeof *j.y), j.split = malloc((size_t)j.block);
        if (!j.px || !j.X || !j.y || !j.split)
            rc = st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %.1f MiB for a block of images", out_path,
                         (double)(j.block * j.d) * 5 / 1048576.0);
    }
    char source[2048];
    describe_source(opt, n_test > 0, source, sizeof source);
    st_stream_spec_t spec = {
        .n = n_train + n_test,
        .shape = opt->as_sequence ? st_shape2((int)j.im.h.dims[1], (int)j.im.h.dims[2]) : st_shape1((int)j.d),
        .n_classes = j.k,
        .class_names = (const char *const *)j.names,
        .source = source,
        .has_split = n_test > 0,
    };
    st_dataset_stream_t w;
    if (rc == ST_OK && (rc = st_stream_create(&w, out_path, &spec, MPI_COMM_NULL, err)) == ST_OK) {
        rc = stream_part(&j, &w, &j.im, &j.lb, ST_SPLIT_TRAIN, 0, err);
        if (rc == ST_OK && n_test > 0) rc = stream_part(&j, &w, &j.tim, &j.tlb, ST_SPLIT_TEST, n_train, err);
        if (rc == ST_OK) rc = st_stream_finish(&w, err);
        else st_stream_abort(&w);
    }
    if (rc == ST_OK && sum) *sum = (st_idx_summary_t){n_train, n_test, (int)j.im.h.dims[1], (int)j.im.h.dims[2], j.k};
    job_free(&j);
    return rc;
}
