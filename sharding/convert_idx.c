/* convert_idx.c — reads MNIST-style IDX files through zlib (gzopen/gzread read gzip'ed and plain
 * files alike; the gzip magic 1f 8b only chooses the wording of errors) and writes them as a
 * strata dataset: images as float32 [N, rows·cols] with raw pixel values, labels as int32, an
 * optional test set appended and marked /split = 2. */
#include "convert_idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "convert_paths.h"
#include "dataset.h"

#define IDX_MAX_BYTES (1ll << 40)

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

st_status_t st_idx_read(const char *path, uint32_t magic, st_idx_t *out, st_error_t *err) {
    memset(out, 0, sizeof *out);
    FILE *probe = fopen(path, "rb");
    if (!probe) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[2] = {0, 0};
    size_t n_head = fread(head, 1, 2, probe);
    fclose(probe);
    int is_gzip = n_head == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (n_head == 0) return st_fail(err, ST_ERR_DATA, "%s: file is empty (expected an IDX file)", path);

    gzFile g = gzopen(path, "rb");
    if (!g) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(g, 1 << 17);
    st_status_t rc = ST_OK;
    uint8_t hdr[16];
    int64_t got = read_full(g, hdr, 4);
    if (got < 4) {
        rc = got == 0 && !is_gzip ? st_fail(err, ST_ERR_DATA, "%s: file is empty", path)
                                  : short_read(path, g, is_gzip, "IDX header", got, 4, err);
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
        rc = short_read(path, g, is_gzip, "IDX header", 4 + got, 4 + 4 * out->ndims, err);
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
    char what[96];
    if (out->ndims == 3)
        st_format(what, sizeof what, "data for %lld images of %lldx%lld", (long long)out->dims[0],
                  (long long)out->dims[1], (long long)out->dims[2]);
    else
        st_format(what, sizeof what, "data for %lld labels", (long long)out->dims[0]);
    got = read_growing(g, &out->data, out->n_bytes);
    if (got < 0) {
        rc = st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)out->n_bytes);
        goto fail;
    }
    if (got < out->n_bytes) {
        rc = short_read(path, g, is_gzip, what, got, out->n_bytes, err);
        goto fail;
    }
    /* The data must end here: read on to catch trailing bytes or a broken gzip trailer. */
    uint8_t extra[4096];
    int64_t n_extra = 0;
    int r;
    while ((r = gzread(g, extra, sizeof extra)) > 0) n_extra += r;
    int errnum = Z_OK;
    const char *zmsg = zmessage(g, path, &errnum);
    if (r < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        rc = is_gzip && errnum == Z_BUF_ERROR
                 ? st_fail(err, ST_ERR_DATA, "%s: truncated gzip file (the compressed stream ends early)", path)
                 : st_fail(err, ST_ERR_DATA, "%s: corrupt %s (%s)", path, is_gzip ? "gzip stream" : "file", zmsg);
        goto fail;
    }
    if (n_extra > 0) {
        rc = st_fail(err, ST_ERR_DATA, "%s: file is longer than its header says: %lld extra byte%s after the %s", path,
                     (long long)n_extra, n_extra == 1 ? "" : "s", what);
        goto fail;
    }
    int64_t n_trailing = 0;
    if (is_gzip && gzip_trailing_bytes(path, &n_trailing) == 0 && n_trailing > 0) {
        rc = st_fail(err, ST_ERR_DATA, "%s: %lld byte%s of trailing garbage after the gzip stream (the %s ends "
                     "before them): a damaged or appended-to file", path, (long long)n_trailing,
                     n_trailing == 1 ? "" : "s", what);
        goto fail;
    }
    gzclose(g);
    return ST_OK;
fail:
    gzclose(g);
    st_idx_free(out);
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

st_status_t st_convert_idx(const char *out_path, const st_idx_options_t *opt, st_idx_summary_t *sum, st_error_t *err) {
    if (sum) memset(sum, 0, sizeof *sum);
    if ((opt->test_images == NULL) != (opt->test_labels == NULL))
        return st_fail(err, ST_ERR_CONFIG, "a test set needs both test images and test labels");
    const char *inputs[4] = {opt->images, opt->labels, opt->test_images, opt->test_labels};
    ST_TRY(st_convert_check_output(out_path, inputs, 4, err));
    st_status_t rc = ST_OK;
    st_idx_t im = {0}, lb = {0}, tim = {0}, tlb = {0};
    char **names = NULL;
    int n_names = 0;
    float *X = NULL;
    int32_t *y = NULL;
    uint8_t *split = NULL;
    if (opt->class_names && (rc = st_names_parse(opt->class_names, "--class-names", &names, &n_names, err)) != ST_OK)
        return rc;
    if ((rc = st_idx_read(opt->images, ST_IDX_IMAGES, &im, err)) != ST_OK) goto done;
    if ((rc = st_idx_read(opt->labels, ST_IDX_LABELS, &lb, err)) != ST_OK) goto done;
    if (im.dims[0] != lb.dims[0]) {
        rc = st_fail(err, ST_ERR_DATA, "%s has %lld images but %s has %lld labels", opt->images, (long long)im.dims[0],
                     opt->labels, (long long)lb.dims[0]);
        goto done;
    }
    if (opt->test_images) {
        if ((rc = st_idx_read(opt->test_images, ST_IDX_IMAGES, &tim, err)) != ST_OK) goto done;
        if ((rc = st_idx_read(opt->test_labels, ST_IDX_LABELS, &tlb, err)) != ST_OK) goto done;
        if (tim.dims[0] != tlb.dims[0]) {
            rc = st_fail(err, ST_ERR_DATA, "%s has %lld images but %s has %lld labels", opt->test_images,
                         (long long)tim.dims[0], opt->test_labels, (long long)tlb.dims[0]);
            goto done;
        }
        if (tim.dims[1] != im.dims[1] || tim.dims[2] != im.dims[2]) {
            rc = st_fail(err, ST_ERR_DATA, "%s has %lldx%lld images but %s has %lldx%lld", opt->test_images,
                         (long long)tim.dims[1], (long long)tim.dims[2], opt->images, (long long)im.dims[1],
                         (long long)im.dims[2]);
            goto done;
        }
    }
    if ((int64_t)im.dims[1] * im.dims[2] > (1 << 30)) {
        rc = st_fail(err, ST_ERR_DATA, "%s: images of %lldx%lld pixels are too large", opt->images,
                     (long long)im.dims[1], (long long)im.dims[2]);
        goto done;
    }
    /* K: one per given name; else 10 (digits, clothes), or max label + 1 when labels go beyond 9. */
    int k = n_names;
    if (!names) {
        int mx = 9;
        for (int64_t i = 0; i < lb.n_bytes; i++) mx = lb.data[i] > mx ? lb.data[i] : mx;
        for (int64_t i = 0; i < tlb.n_bytes; i++) mx = tlb.data[i] > mx ? tlb.data[i] : mx;
        k = mx + 1;
    }
    if ((rc = check_labels(opt->labels, &lb, k, names != NULL, err)) != ST_OK) goto done;
    if (opt->test_labels && (rc = check_labels(opt->test_labels, &tlb, k, names != NULL, err)) != ST_OK) goto done;

    int64_t n_train = im.dims[0], n_test = opt->test_images ? tim.dims[0] : 0, n = n_train + n_test;
    int64_t d = im.dims[1] * im.dims[2];
    X = malloc((size_t)(n * d) * sizeof *X);
    y = malloc((size_t)n * sizeof *y);
    split = n_test > 0 ? malloc((size_t)n) : NULL;
    if (!X || !y || (n_test > 0 && !split)) {
        rc = st_fail(err, ST_ERR_NOMEM, "%s: cannot allocate %.1f MiB for the converted images", out_path,
                     (double)(n * d) * 4 / 1048576.0);
        goto done;
    }
    for (int64_t i = 0; i < n_train * d; i++) X[i] = (float)im.data[i];
    for (int64_t i = 0; i < n_test * d; i++) X[n_train * d + i] = (float)tim.data[i];
    for (int64_t i = 0; i < n_train; i++) y[i] = lb.data[i];
    for (int64_t i = 0; i < n_test; i++) y[n_train + i] = tlb.data[i];
    if (split) {
        memset(split, ST_SPLIT_TRAIN, (size_t)n_train);
        memset(split + n_train, ST_SPLIT_TEST, (size_t)n_test);
    }
    /* The source attribute is read back into 256 bytes: full paths when they fit, else names. */
    char source[2048];
    for (int full = 1; full >= 0; full--) {
        const char *f[4] = {opt->images, opt->labels, opt->test_images, opt->test_labels};
        for (int i = 0; i < 4 && !full; i++)
            if (f[i] && strrchr(f[i], '/')) f[i] = strrchr(f[i], '/') + 1;
        if (n_test > 0)
            st_format(source, sizeof source, "idx: images %s, labels %s; test images %s, test labels %s", f[0], f[1],
                      f[2], f[3]);
        else
            st_format(source, sizeof source, "idx: images %s, labels %s", f[0], f[1]);
        if (strlen(source) < 256) break;
    }
    st_dataset_spec_t spec = {
        .n = n,
        .shape = opt->as_sequence ? st_shape2((int)im.dims[1], (int)im.dims[2]) : st_shape1((int)d),
        .X = X,
        .y = y,
        .split = split,
        .n_classes = k,
        .class_names = (const char *const *)names,
        .source = source,
    };
    if ((rc = st_dataset_write(out_path, &spec, err)) != ST_OK) goto done;
    if (sum) *sum = (st_idx_summary_t){n_train, n_test, (int)im.dims[1], (int)im.dims[2], k};
done:
    free(X);
    free(y);
    free(split);
    st_idx_free(&im);
    st_idx_free(&lb);
    st_idx_free(&tim);
    st_idx_free(&tlb);
    st_names_free(names, n_names);
    return rc;
}
