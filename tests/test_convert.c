/* test_convert.c — the converters and the inspector: IDX parsing (plain and gzip, written here
 * with zlib) and each IDX error; CSV quoting, CRLF, label rules, each CSV error with its line and
 * column, --drop-bad-rows counting; inspect statistics, NaN/Inf, problems and phases on small
 * synthetic files; a failed conversion leaves no output file. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <hdf5.h>
#include <zlib.h>

#include "sharding/convert_csv.h"
#include "sharding/convert_idx.h"
#include "sharding/dataset.h"
#include "sharding/inspect.h"

/* ---- IDX ---- */

/* Writes an IDX file: magic, dims, then n_data bytes of data (may differ from the header). */
static const char *write_idx(const char *name, int gz, uint32_t magic, int nd, const uint32_t *dims,
                             const uint8_t *data, size_t n_data) {
    const char *p = tu_tmp_path(name);
    uint8_t head[16];
    for (int i = 0; i < 4; i++) head[i] = (uint8_t)(magic >> (24 - 8 * i));
    for (int d = 0; d < nd; d++)
        for (int i = 0; i < 4; i++) head[4 + 4 * d + i] = (uint8_t)(dims[d] >> (24 - 8 * i));
    if (gz) {
        gzFile g = gzopen(p, "wb");
        gzwrite(g, head, (unsigned)(4 + 4 * nd));
        if (n_data) gzwrite(g, data, (unsigned)n_data);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(head, 1, (size_t)(4 + 4 * nd), f);
        fwrite(data, 1, n_data, f);
        fclose(f);
    }
    return p;
}

static uint8_t pixels[6 * 2 * 3], labels[6] = {3, 0, 9, 3, 1, 0};

static void test_idx_plain_and_gzip(void **state) {
    (void)state;
    for (int i = 0; i < (int)sizeof pixels; i++) pixels[i] = (uint8_t)(i * 7);
    pixels[5] = 255;
    const uint32_t dims[3] = {6, 2, 3};
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_idx(gz ? "im.gz" : "im.raw", gz, ST_IDX_IMAGES, 3, dims, pixels, sizeof pixels);
        st_idx_t idx;
        st_error_t err = {0};
        assert_int_equal(st_idx_read(p, ST_IDX_IMAGES, &idx, &err), ST_OK);
        assert_int_equal(idx.ndims, 3);
        assert_int_equal(idx.dims[0], 6);
        assert_int_equal(idx.dims[1], 2);
        assert_int_equal(idx.dims[2], 3);
        assert_int_equal(idx.n_bytes, sizeof pixels);
        assert_memory_equal(idx.data, pixels, sizeof pixels);
        st_idx_free(&idx);
    }
}

static void expect_idx_error(const char *p, uint32_t magic, const char *text) {
    st_idx_t idx;
    st_error_t err = {0};
    assert_int_not_equal(st_idx_read(p, magic, &idx, &err), ST_OK);
    tu_assert_contains(err.msg, p);
    tu_assert_contains(err.msg, text);
    assert_null(idx.data);
}

static void test_idx_errors(void **state) {
    (void)state;
    const uint32_t dims[3] = {6, 2, 3}, ldims[1] = {6};
    /* Wrong magic: labels given where images are expected. */
    const char *lab = write_idx("lab.gz", 1, ST_IDX_LABELS, 1, ldims, labels, 6);
    expect_idx_error(lab, ST_IDX_IMAGES, "expected IDX magic 0x00000803 (images) but found 0x00000801 (labels)");
    /* Not an IDX file at all. */
    FILE *f = fopen(tu_tmp_path("text"), "w");
    fputs("hello world\n", f);
    fclose(f);
    expect_idx_error(tu_tmp_path("text"), ST_IDX_LABELS, "but found 0x68656c6c (not an IDX file)");
    /* Empty. */
    fclose(fopen(tu_tmp_path("empty"), "w"));
    expect_idx_error(tu_tmp_path("empty"), ST_IDX_LABELS, "file is empty");
    /* Shorter than the header says (plain and gzip'ed). */
    expect_idx_error(write_idx("short.raw", 0, ST_IDX_IMAGES, 3, dims, pixels, 20), ST_IDX_IMAGES,
                     "file is shorter than its header says: 36 bytes of data for 6 images of 2x3 expected, 20 found");
    expect_idx_error(write_idx("short.gz", 1, ST_IDX_IMAGES, 3, dims, pixels, 20), ST_IDX_IMAGES,
                     "file is shorter than its header says");
    /* Longer. */
    static uint8_t more[40];
    expect_idx_error(write_idx("long.raw", 0, ST_IDX_IMAGES, 3, dims, more, 40), ST_IDX_IMAGES,
                     "file is longer than its header says: 4 extra bytes");
    /* Truncated gzip: cut the compressed file inside the deflate stream, and inside its trailer. */
    static uint8_t big[6 * 100];
    for (int i = 0; i < (int)sizeof big; i++) big[i] = (uint8_t)(i * 31 + i / 7);
    const uint32_t bdims[3] = {6, 10, 10};
    const char *full = write_idx("big.gz", 1, ST_IDX_IMAGES, 3, bdims, big, sizeof big);
    FILE *in = fopen(full, "rb");
    static uint8_t comp[4096];
    size_t n = fread(comp, 1, sizeof comp, in);
    fclose(in);
    f = fopen(tu_tmp_path("trunc.gz"), "wb");
    fwrite(comp, 1, n / 2, f);
    fclose(f);
    expect_idx_error(tu_tmp_path("trunc.gz"), ST_IDX_IMAGES, "truncated gzip file");
    f = fopen(tu_tmp_path("trunc2.gz"), "wb");
    fwrite(comp, 1, n - 3, f);
    fclose(f);
    expect_idx_error(tu_tmp_path("trunc2.gz"), ST_IDX_IMAGES, "truncated gzip file");
    /* Corrupt deflate data. */
    for (size_t i = 12; i < 24 && i < n; i++) comp[i] ^= 0x5a;
    f = fopen(tu_tmp_path("corrupt.gz"), "wb");
    fwrite(comp, 1, n, f);
    fclose(f);
    expect_idx_error(tu_tmp_path("corrupt.gz"), ST_IDX_IMAGES, "corrupt gzip stream");
    /* Missing file. */
    expect_idx_error(tu_tmp_path("nonexistent"), ST_IDX_IMAGES, "cannot open: No such file or directory");
}

static void test_convert_idx_with_test_set(void **state) {
    (void)state;
    const uint32_t dims[3] = {6, 2, 3}, ldims[1] = {6}, tdims[3] = {2, 2, 3}, tldims[1] = {2};
    const uint8_t tlabels[2] = {9, 4};
    st_idx_options_t o = {
        .images = write_idx("tr-im.gz", 1, ST_IDX_IMAGES, 3, dims, pixels, sizeof pixels),
        .labels = write_idx("tr-lb", 0, ST_IDX_LABELS, 1, ldims, labels, 6),
        .test_images = write_idx("te-im.gz", 1, ST_IDX_IMAGES, 3, tdims, pixels, 12),
        .test_labels = write_idx("te-lb.gz", 1, ST_IDX_LABELS, 1, tldims, tlabels, 2),
    };
    const char *out = tu_tmp_path("idx.h5");
    st_idx_summary_t sum;
    st_error_t err = {0};
    assert_int_equal(st_convert_idx(out, &o, &sum, &err), ST_OK);
    assert_int_equal(sum.n_train, 6);
    assert_int_equal(sum.n_test, 2);
    assert_int_equal(sum.n_classes, 10);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    assert_int_equal(ds.n, 8);
    assert_true(st_shape_equal(ds.shape, st_shape1(6)));
    assert_int_equal(ds.n_classes, 10);
    assert_string_equal(ds.class_names[7], "7");
    assert_true(strstr(ds.source, "tr-im.gz") != NULL);
    int32_t y[8];
    uint8_t split[8];
    float X[8 * 6];
    assert_int_equal(st_dataset_read_labels(&ds, y, split, &err), ST_OK);
    const int32_t y_want[8] = {3, 0, 9, 3, 1, 0, 9, 4};
    const uint8_t s_want[8] = {0, 0, 0, 0, 0, 0, 2, 2};
    assert_memory_equal(y, y_want, sizeof y);
    assert_memory_equal(split, s_want, sizeof split);
    assert_int_equal(st_dataset_read_rows(&ds, 0, 8, X, MPI_COMM_NULL, &err), ST_OK);
    for (int i = 0; i < 36; i++) assert_true(X[i] == (float)pixels[i]); /* raw values, not scaled */
    assert_true(X[5] == 255.0f);
    for (int i = 0; i < 12; i++) assert_true(X[36 + i] == (float)pixels[i]);
    st_dataset_close(&ds);

    /* Class names given: K is their number, labels beyond them are refused. */
    o.test_images = o.test_labels = NULL;
    o.class_names = "a,b,c,d,e,f,g,h,i,j,k";
    assert_int_equal(st_convert_idx(out, &o, &sum, &err), ST_OK);
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    assert_int_equal(ds.n_classes, 11);
    assert_string_equal(ds.class_names[10], "k");
    assert_int_equal(ds.has_split, 0);
    st_dataset_close(&ds);
    const char *out2 = tu_tmp_path("idx2.h5");
    o.class_names = "a,b,c";
    assert_int_equal(st_convert_idx(out2, &o, &sum, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "tr-lb: label 0 = 3 is outside 0..2");
    assert_false(tu_exists(out2));
    o.class_names = "a,,b";
    assert_int_equal(st_convert_idx(out2, &o, &sum, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "--class-names: name 2 is empty");
}

static void test_convert_idx_count_mismatch(void **state) {
    (void)state;
    const uint32_t dims[3] = {6, 2, 3}, ldims[1] = {5};
    st_idx_options_t o = {
        .images = write_idx("m-im.gz", 1, ST_IDX_IMAGES, 3, dims, pixels, sizeof pixels),
        .labels = write_idx("m-lb.gz", 1, ST_IDX_LABELS, 1, ldims, labels, 5),
    };
    const char *out = tu_tmp_path("mismatch.h5");
    st_error_t err = {0};
    assert_int_equal(st_convert_idx(out, &o, NULL, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "m-im.gz has 6 images but ");
    tu_assert_contains(err.msg, "m-lb.gz has 5 labels");
    assert_false(tu_exists(out));
    assert_false(tu_exists(tu_tmp_path("mismatch.h5.tmp")));
}

static const char *write_text(const char *name, const char *text);

/* Issue 12: three sizes of 0xFFFFFFFF wrapped int64 to 12.9 GB before the limit check; an
 * image file's sizes are checked before they are multiplied. */
static void test_idx_huge_dims(void **state) {
    (void)state;
    const uint32_t dims[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    const char *p = write_idx("huge.raw", 0, ST_IDX_IMAGES, 3, dims, pixels, 8);
    expect_idx_error(p, ST_IDX_IMAGES, "IDX header sizes [4294967295, 4294967295, 4294967295] describe more than");
    const uint32_t ldims[1] = {0xFFFFFFFFu};
    expect_idx_error(write_idx("hugel.gz", 1, ST_IDX_LABELS, 1, ldims, labels, 6), ST_IDX_LABELS,
                     "file is shorter than its header says");
}

/* Issue 12: bytes after the gzip stream were ignored by zlib; a second gzip member is fine. */
static void test_idx_gzip_trailing_garbage(void **state) {
    (void)state;
    const uint32_t dims[3] = {6, 2, 3};
    const char *p = write_idx("trail.gz", 1, ST_IDX_IMAGES, 3, dims, pixels, sizeof pixels);
    FILE *f = fopen(p, "ab");
    fputs("garbage!", f);
    fclose(f);
    expect_idx_error(p, ST_IDX_IMAGES, "8 bytes of trailing garbage after the gzip stream");
    /* Two members (gzip a b > ab.gz): the header and half the data, then the rest. */
    const char *q = tu_tmp_path("members.gz");
    uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, 6, 0, 0, 0, 2, 0, 0, 0, 3};
    gzFile g = gzopen(q, "wb");
    gzwrite(g, head, 16);
    gzwrite(g, pixels, 18);
    gzclose(g);
    g = gzopen(q, "ab");
    gzwrite(g, pixels + 18, 18);
    gzclose(g);
    st_idx_t idx;
    st_error_t err = {0};
    assert_int_equal(st_idx_read(q, ST_IDX_IMAGES, &idx, &err), ST_OK);
    assert_memory_equal(idx.data, pixels, sizeof pixels);
    st_idx_free(&idx);
}

/* Issue 12: an output that is one of the inputs (same path, a symlink, a hard link) is refused
 * and the input is left as it was. */
static void test_convert_output_is_input(void **state) {
    (void)state;
    const uint32_t dims[3] = {6, 2, 3}, ldims[1] = {6};
    char im[512], lb[512], ln[512], hl[512];
    snprintf(im, sizeof im, "%s", write_idx("same-im.gz", 1, ST_IDX_IMAGES, 3, dims, pixels, sizeof pixels));
    snprintf(lb, sizeof lb, "%s", write_idx("same-lb", 0, ST_IDX_LABELS, 1, ldims, labels, 6));
    snprintf(ln, sizeof ln, "%s", tu_tmp_path("same-link"));
    snprintf(hl, sizeof hl, "%s", tu_tmp_path("same-hard"));
    assert_int_equal(symlink(lb, ln), 0);
    assert_int_equal(link(im, hl), 0);
    st_idx_options_t o = {.images = im, .labels = lb};
    const char *outs[4] = {im, lb, ln, hl};
    for (int i = 0; i < 4; i++) {
        st_error_t err = {0};
        assert_int_equal(st_convert_idx(outs[i], &o, NULL, &err), ST_ERR_CONFIG);
        tu_assert_contains(err.msg, outs[i]);
        tu_assert_contains(err.msg, i == 1 || i == 2 ? lb : im);
        tu_assert_contains(err.msg, "the output is the input");
    }
    st_idx_t idx;
    st_error_t err = {0};
    assert_int_equal(st_idx_read(im, ST_IDX_IMAGES, &idx, &err), ST_OK); /* still an IDX file */
    st_idx_free(&idx);
    assert_int_equal(st_idx_read(lb, ST_IDX_LABELS, &idx, &err), ST_OK);
    st_idx_free(&idx);
    /* The writer's temporary is checked too: it would be truncated, then renamed away. */
    char tmp_in[512], tmp_out[512];
    snprintf(tmp_in, sizeof tmp_in, "%s", write_idx("t.h5.tmp", 0, ST_IDX_LABELS, 1, ldims, labels, 6));
    snprintf(tmp_out, sizeof tmp_out, "%s", tu_tmp_path("t.h5"));
    o.labels = tmp_in;
    assert_int_equal(st_convert_idx(tmp_out, &o, NULL, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "its temporary file");
    assert_true(tu_exists(tmp_in));
    /* CSV: the same check. */
    const char *csv = write_text("same.csv", "a,y\n1,x\n2,z\n");
    st_csv_options_t co = {.path = csv, .label = "y"};
    assert_int_equal(st_convert_csv(csv, &co, NULL, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "same.csv: the output is the input");
}

/* ---- CSV ---- */

static const char *write_text(const char *name, const char *text) {
    const char *p = tu_tmp_path(name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
    return p;
}

static void test_csv_quoting_crlf_and_string_labels(void **state) {
    (void)state;
    const char *p = write_text("q.csv",
                               "\xef\xbb\xbf" "a,\"b, quoted\",species\r\n"
                               "1.5, 2 ,\"versi, color\"\r\n"
                               "\r\n"
                               "-3,4e2,setosa\r\n"
                               "5,6,\"say \"\"hi\"\"\"\r\n"
                               "7,8,\"two, items\"\r\n"
                               "9,10,setosa"); /* no final newline */
    st_csv_options_t o = {.path = p, .label = "species"};
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.d, 2);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[1], "b, quoted");
    const float X_want[10] = {1.5f, 2, -3, 400, 5, 6, 7, 8, 9, 10};
    assert_memory_equal(d.X, X_want, sizeof X_want);
    /* Sorted by strcmp: say "hi" < setosa < two, items < versi, color. */
    assert_int_equal(d.n_classes, 4);
    assert_int_equal(d.labels_are_ids, 0);
    assert_string_equal(d.class_names[0], "say \"hi\"");
    assert_string_equal(d.class_names[1], "setosa");
    assert_string_equal(d.class_names[2], "two, items");
    assert_string_equal(d.class_names[3], "versi, color");
    const int32_t y_want[5] = {3, 1, 0, 2, 1};
    assert_memory_equal(d.y, y_want, sizeof y_want);
    st_csv_free(&d);
    /* a quoted field may hold a line break, but a label that does would break every report that
     * names classes one per line: refused, naming the line */
    p = write_text("nl.csv", "a,species\n1,setosa\n7,\"two\nlines\"\n");
    o.path = p;
    assert_int_equal(st_csv_read(&o, &d, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "line 3");
    tu_assert_contains(err.msg, "the label contains a line break");
    st_csv_free(&d);
}

static void test_csv_integer_labels_are_ids(void **state) {
    (void)state;
    st_csv_data_t d;
    st_error_t err = {0};
    st_csv_options_t o = {.path = write_text("ids.csv", "x,label\n1,0\n2,3\n3,3\n"), .label = "label"};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.labels_are_ids, 1);
    assert_int_equal(d.n_classes, 4); /* 0..3; classes 1 and 2 are empty (inspect reports them) */
    assert_string_equal(d.class_names[3], "3");
    const int32_t y_want[3] = {0, 3, 3};
    assert_memory_equal(d.y, y_want, sizeof y_want);
    st_csv_free(&d);
    /* One label that is not a non-negative integer makes them all strings, sorted by strcmp. */
    o.path = write_text("mixed.csv", "x,label\n1,10\n2,-1\n3,9\n");
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.labels_are_ids, 0);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.class_names[0], "-1");
    assert_string_equal(d.class_names[1], "10");
    assert_string_equal(d.class_names[2], "9");
    st_csv_free(&d);
}

static void expect_csv_error(const char *name, const char *text, const char *label, const char *want) {
    st_csv_options_t o = {.path = write_text(name, text), .label = label};
    const char *out = tu_tmp_path("csv_out.h5");
    st_csv_summary_t sum;
    st_error_t err = {0};
    assert_int_not_equal(st_convert_csv(out, &o, &sum, &err), ST_OK);
    tu_assert_contains(err.msg, name);
    tu_assert_contains(err.msg, want);
    assert_false(tu_exists(out));
    assert_false(tu_exists(tu_tmp_path("csv_out.h5.tmp")));
}

static void test_csv_errors(void **state) {
    (void)state;
    expect_csv_error("empty.csv", "", "y", "empty.csv: empty file");
    expect_csv_error("header.csv", "a,b,y\r\n", "y", "header.csv: no rows after the header");
    expect_csv_error("ragged.csv", "a,b,y\n1,2,x\n3,4\n", "y", "ragged.csv: line 3 has 2 fields but the header has 3");
    expect_csv_error("ragged2.csv", "a,b,y\n1,2,x,9\n", "y", "line 2 has 4 fields but the header has 3");
    expect_csv_error("nonnum.csv", "a,b,y\n1,2,x\n3,abc,y\n", "y", "nonnum.csv: line 3, column \"b\": \"abc\" is not a number");
    expect_csv_error("missing.csv", "a,b,y\n1,2,x\n,4,y\n", "y", "line 3, column \"a\": missing value");
    expect_csv_error("nolabel.csv", "a,b,y\n1,2,x\n", "species",
                     "nolabel.csv: no label column \"species\" in the header; the columns are: \"a\", \"b\", \"y\"");
    expect_csv_error("near.csv", "a,b,Label\n1,2,x\n", "label", "(did you mean \"Label\"?)");
    expect_csv_error("nolab.csv", "a,b,y\n1,2,\n", "y", "line 2, column \"y\": missing label");
    expect_csv_error("quote.csv", "a,y\n1,\"open\n2,x\n", "y", "line 2: a quoted field is never closed");
    /* Line numbers count physical lines, also inside quoted fields. */
    /* a label spanning lines is refused at the line its record starts on */
    expect_csv_error("lines.csv", "a,y\n1,\"multi\nline\"\n2,x\nzz,x\n", "y",
                     "line 2, column \"y\": the label contains a line break");
    expect_csv_error("onlylabel.csv", "y\nx\n", "y", "no feature columns besides the label column \"y\"");
    expect_csv_error("huge.csv", "a,y\n1e39,x\n", "y", "1e39 is outside the float32 range");
}

/* Issue 12: cells and names that used to be accepted silently. */
static void test_csv_bad_values_and_names(void **state) {
    (void)state;
    /* 1e400 overflows double: strtod gives +Inf, which was stored; "inf" itself stays allowed. */
    expect_csv_error("inf400.csv", "a,b,y\n1,2,x\n3,1e400,y\n", "y",
                     "inf400.csv: line 3, column \"b\": 1e400 is outside the float32 range");
    expect_csv_error("ninf400.csv", "a,y\n-1e400,x\n", "y", "line 2, column \"a\": -1e400 is outside");
    expect_csv_error("dup.csv", "a,b,a,y\n1,2,3,x\n", "y",
                     "dup.csv: line 1: columns 1 and 3 are both named \"a\"; column names must be unique");
    expect_csv_error("duplabel.csv", "y,b,y\n1,2,x\n", "y", "columns 1 and 3 are both named \"y\"");
    expect_csv_error("nlname.csv", "\"a\nb\",y\n1,x\n", "y", "nlname.csv: line 1, column 1: the column name contains a line break");
    expect_csv_error("utf8name.csv", "a,\xff\xfe,y\n1,2,x\n", "y", "line 1, column 2: the column name is not valid UTF-8");
    expect_csv_error("utf8label.csv", "a,y\n1,x\n2,caf\xe9\n", "y", "line 3, column \"y\": the label is not valid UTF-8");
    expect_csv_error("blank.csv", "\n\r\n\n", "y", "blank.csv: no header row: the file holds only 3 blank lines");
    /* NUL bytes (a UTF-16 file looks like this) in a cell and in a name. */
    const char *p = tu_tmp_path("nul.csv");
    FILE *f = fopen(p, "wb");
    fwrite("a,y\n1\0002,x\n", 1, sizeof "a,y\n1\0002,x\n" - 1, f);
    fclose(f);
    st_csv_options_t o = {.path = p, .label = "y", .drop_bad_rows = 1};
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "nul.csv: line 2, field 1: a NUL byte");
    st_csv_free(&d);
    f = fopen(p, "wb");
    fwrite("a\000b,y\n1,x\n", 1, sizeof "a\000b,y\n1,x\n" - 1, f);
    fclose(f);
    assert_int_equal(st_csv_read(&o, &d, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "nul.csv: line 1, field 1: a NUL byte");
    st_csv_free(&d);
    /* With --drop-bad-rows an out-of-range cell and a bad label drop their rows like other bad cells. */
    o.path = write_text("drop400.csv", "a,y\n1,x\n1e400,y\n3,\xc3\x28\n4,z\n");
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_dropped, 2);
    tu_assert_contains(d.first_dropped, "line 3, column \"a\": 1e400 is outside the float32 range");
    st_csv_free(&d);
    /* Valid UTF-8 names and labels pass. */
    o.path = write_text("utf8ok.csv", "caf\xc3\xa9,\xe2\x82\xac,y\n1,2,\xf0\x9f\x90\x88\n3,4,x\n");
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_string_equal(d.feature_names[1], "\xe2\x82\xac");
    st_csv_free(&d);
}

static void test_csv_drop_bad_rows(void **state) {
    (void)state;
    const char *p = write_text("bad.csv", "a,b,y\n1,2,x\n3,abc,y\n5,,z\n7,8,y\n9,10,\n");
    st_csv_options_t o = {.path = p, .label = "y", .drop_bad_rows = 1};
    st_csv_summary_t sum;
    st_error_t err = {0};
    const char *out = tu_tmp_path("dropped.h5");
    assert_int_equal(st_convert_csv(out, &o, &sum, &err), ST_OK);
    assert_int_equal(sum.n, 2);
    assert_int_equal(sum.n_dropped, 3);
    assert_string_equal(sum.first_dropped, "line 3, column \"b\": \"abc\" is not a number");
    assert_int_equal(sum.n_classes, 2); /* z is dropped with its row */
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    float X[4];
    assert_int_equal(st_dataset_read_rows(&ds, 0, 2, X, MPI_COMM_NULL, &err), ST_OK);
    const float X_want[4] = {1, 2, 7, 8};
    assert_memory_equal(X, X_want, sizeof X);
    assert_string_equal(ds.feature_names[1], "b");
    st_dataset_close(&ds);
    /* Every row bad. */
    o.path = write_text("allbad.csv", "a,y\nq,x\n");
    assert_int_equal(st_convert_csv(tu_tmp_path("allbad.h5"), &o, &sum, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "all 1 rows were dropped");
    assert_false(tu_exists(tu_tmp_path("allbad.h5")));
    /* Ragged rows are never dropped. */
    o.path = write_text("ragged_drop.csv", "a,y\n1,x\n2\n");
    assert_int_equal(st_convert_csv(tu_tmp_path("rd.h5"), &o, &sum, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "line 3 has 1 field but the header has 2");
}

static void test_csv_split_column(void **state) {
    (void)state;
    st_csv_options_t o = {.path = write_text("split.csv", "a,part,y\n1,train,x\n2,VAL,y\n3,test,x\n4,0,y\n"),
                          .label = "y", .split_column = "part"};
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.d, 1);
    const uint8_t s_want[4] = {0, 1, 2, 0};
    assert_memory_equal(d.split, s_want, 4);
    st_csv_free(&d);
    o.path = write_text("split_bad.csv", "a,part,y\n1,holdout,x\n");
    assert_int_equal(st_csv_read(&o, &d, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "line 2, column \"part\": \"holdout\" is not train, val or test");
    st_csv_free(&d);
}

/* ---- inspect ---- */

static void test_phases(void **state) {
    (void)state;
    st_phase_t p;
    const struct { int64_t n; int phase, rmin, rmax, nmin, nmax; } cases[] = {
        {1, 1, 1, 1, 1, 1},           {2499, 1, 1, 1, 1, 1},        {2500, 2, 1, 2, 1, 1},
        {24999, 2, 1, 2, 1, 1},       {25000, 3, 2, 2, 1, 2},       {70000, 3, 2, 5, 1, 2},
        {100000, 3, 2, 8, 1, 2},      {100001, 4, 8, 8, 2, 0},      {1000000, 4, 8, 80, 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_phase_for(cases[i].n, &p);
        if (p.phase != cases[i].phase || p.ranks_min != cases[i].rmin || p.ranks_max != cases[i].rmax ||
            p.nodes_min != cases[i].nmin || p.nodes_max != cases[i].nmax)
            fail_msg("n = %lld: phase %d, ranks %d-%d, nodes %d-%d", (long long)cases[i].n, p.phase, p.ranks_min,
                     p.ranks_max, p.nodes_min, p.nodes_max);
        assert_true(strlen(p.reason) > 20);
    }
}

/* A file with 2600 rows of 1000 features (three scan blocks), classes 0..3 with counts
 * 2000/550/48/2, a NaN in the last block and two Infs, a /split. */
static void test_inspect_statistics(void **state) {
    (void)state;
    enum { N = 2600, D = 1000 };
    float *X = calloc((size_t)N * D, sizeof *X);
    int32_t *y = calloc(N, sizeof *y);
    uint8_t *split = calloc(N, 1);
    for (int i = 0; i < N; i++) {
        y[i] = i < 2000 ? 0 : i < 2550 ? 1 : i < 2598 ? 2 : 3;
        split[i] = i % 10 == 0 ? ST_SPLIT_TEST : ST_SPLIT_TRAIN;
    }
    X[(size_t)2400 * D + 17] = NAN;
    X[(size_t)5 * D + 3] = INFINITY;
    X[(size_t)6 * D + 3] = -INFINITY;
    const char *names[4] = {"big", "mid", "small", "tiny"};
    st_dataset_spec_t s = {.n = N, .shape = st_shape1(D), .X = X, .y = y, .split = split, .n_classes = 4,
                           .class_names = names};
    st_error_t err = {0};
    const char *p = tu_tmp_path("stats.h5");
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_inspect_t r;
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_int_equal(r.class_counts[0], 2000);
    assert_int_equal(r.class_counts[1], 550);
    assert_int_equal(r.class_counts[2], 48);
    assert_int_equal(r.class_counts[3], 2);
    assert_int_equal(r.split_counts[ST_SPLIT_TRAIN], 2340);
    assert_int_equal(r.split_counts[ST_SPLIT_TEST], 260);
    assert_int_equal(r.class_split_counts[0 * 3 + ST_SPLIT_TEST], 200);
    assert_true(fabs(r.imbalance - 1000.0) < 1e-9);
    /* Per part (issue 12): train 1800 / 2; val empty; test has no row of class 3. */
    assert_true(fabs(r.split_imbalance[ST_SPLIT_TRAIN] - 900.0) < 1e-9);
    assert_true(isnan(r.split_imbalance[ST_SPLIT_VAL]));
    assert_true(isinf(r.split_imbalance[ST_SPLIT_TEST]));
    assert_true(fabs(r.train_imbalance - 900.0) < 1e-9);
    assert_int_equal(r.n_nan, 1);
    assert_int_equal(r.n_inf, 2);
    assert_int_equal(r.first_nonfinite_row, 5);
    assert_int_equal(r.first_nonfinite_elem, 3);
    assert_int_equal(r.phase.phase, 2);
    /* Problems: the class with 2 samples and the non-finite values; imbalance is a warning. */
    assert_int_equal(r.n_problems, 2);
    assert_non_null(strstr(r.problems[0], "class \"tiny\" (id 3) has 2 samples; a stratified train/val/test split needs at least 3"));
    assert_non_null(strstr(r.problems[1], "/X has 1 NaN and 2 Inf values (first at row 5, feature 3)"));
    assert_int_equal(r.n_warnings, 1);
    assert_non_null(strstr(r.warnings[0], "imbalanced (largest / smallest = 1000.0)"));

    /* The JSON report says the same. */
    char *json = st_inspect_json(&r);
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, N);
    assert_int_equal(cJSON_GetObjectItem(j, "nan")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "inf")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "phase"), "phase")->valueint, 2);
    cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "classes"), 1);
    assert_string_equal(cJSON_GetObjectItem(c1, "name")->valuestring, "mid");
    assert_true(fabs(cJSON_GetObjectItem(c1, "share")->valuedouble - 550.0 / N) < 1e-12);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "splits"), "test")->valueint, 260);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "problems")), 2);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")));
    cJSON_Delete(j);
    free(json);

    /* The text report names the classes, the phase and the problems. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    st_inspect_print(mem, &r);
    fclose(mem);
    assert_non_null(strstr(text, "phase         2 (2,500-24,999 samples): 1-2 ranks on 1 node"));
    assert_non_null(strstr(text, "problem: "));
    assert_non_null(strstr(text, "small"));
    free(text);
    st_inspect_free(&r);
    free(X);
    free(y);
    free(split);
}

/* Issue 12: a long tail in train hidden by a balanced fixed test set (overall 1500 / 520 = 2.9,
 * train 1000 / 20 = 50); a class /split keeps out of train; one class with training rows. */
static void test_inspect_training_part(void **state) {
    (void)state;
    enum { N = 2020 + 10 };
    static float X[N * 2];
    static int32_t y[N];
    static uint8_t split[N];
    int i = 0;
    for (int j = 0; j < 1000; j++) y[i] = 0, split[i++] = ST_SPLIT_TRAIN;
    for (int j = 0; j < 20; j++) y[i] = 1, split[i++] = ST_SPLIT_TRAIN;
    for (int j = 0; j < 1000; j++) y[i] = j % 2, split[i++] = ST_SPLIT_TEST;
    for (int j = 0; j < 10; j++) y[i] = 2, split[i++] = j < 4 ? ST_SPLIT_VAL : ST_SPLIT_TEST;
    const char *names[3] = {"head", "tail", "unseen"};
    st_dataset_spec_t s = {.n = N - 10, .shape = st_shape1(2), .X = X, .y = y, .split = split, .n_classes = 2,
                           .class_names = names};
    st_error_t err = {0};
    const char *p = tu_tmp_path("tail.h5");
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_inspect_t r;
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_true(fabs(r.imbalance - 1500.0 / 520.0) < 1e-9);
    assert_true(fabs(r.train_imbalance - 50.0) < 1e-9);
    assert_true(fabs(r.split_imbalance[ST_SPLIT_TEST] - 1.0) < 1e-9);
    assert_int_equal(r.n_problems, 0);
    assert_int_equal(r.n_warnings, 1);
    tu_assert_contains(r.warnings[0], "imbalanced (largest / smallest = 2.9), in the training part 50.0");
    char *json = st_inspect_json(&r);
    cJSON *j = cJSON_Parse(json);
    assert_true(fabs(cJSON_GetObjectItem(j, "train_imbalance")->valuedouble - 50.0) < 1e-9);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "split_imbalance"), "val")));
    cJSON_Delete(j);
    free(json);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    st_inspect_print(mem, &r);
    fclose(mem);
    tu_assert_contains(text, "by split      train 50.00, val -, test 1.00");
    free(text);
    st_inspect_free(&r);

    /* Class "unseen" only in val and test: a problem naming it. */
    s.n = N, s.n_classes = 3;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_int_equal(r.n_problems, 1);
    tu_assert_contains(r.problems[0], "tail.h5: class \"unseen\" (id 2) has no training rows (/split puts its 4 val "
                                      "and 6 test rows outside train)");
    st_inspect_free(&r);

    /* Two classes declared, one with training rows: a problem although each class has samples. */
    for (int k = 1000; k < 1020; k++) split[k] = ST_SPLIT_TEST;
    s.n = N - 10, s.n_classes = 2;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_true(r.n_problems >= 1);
    tu_assert_contains(r.problems[r.n_problems - 1], "1 of the 2 classes has training rows; a classifier needs at least 2");
    st_inspect_free(&r);
}

static void test_inspect_problems(void **state) {
    (void)state;
    enum { N = 9 };
    float X[N * 2] = {0};
    int32_t y[N] = {0, 0, 0, 2, 2, 2, 0, 2, 0};
    /* Class 1 has no samples: imbalance is infinite. */
    st_dataset_spec_t s = {.n = N, .shape = st_shape1(2), .X = X, .y = y, .n_classes = 3};
    st_error_t err = {0};
    assert_int_equal(st_dataset_write(tu_tmp_path("empty_class.h5"), &s, &err), ST_OK);
    st_inspect_t r;
    assert_int_equal(st_inspect(tu_tmp_path("empty_class.h5"), &r, &err), ST_OK);
    assert_true(isinf(r.imbalance));
    assert_int_equal(r.n_problems, 1);
    assert_non_null(strstr(r.problems[0], "class \"1\" (id 1) has no samples"));
    char *json = st_inspect_json(&r);
    assert_non_null(strstr(json, "\"imbalance\":\tnull"));
    free(json);
    st_inspect_free(&r);
    /* One class only. */
    memset(y, 0, sizeof y);
    s.n_classes = 1;
    assert_int_equal(st_dataset_write(tu_tmp_path("one.h5"), &s, &err), ST_OK);
    assert_int_equal(st_inspect(tu_tmp_path("one.h5"), &r, &err), ST_OK);
    assert_int_equal(r.n_problems, 1);
    assert_non_null(strstr(r.problems[0], "only 1 class; a classifier needs at least 2"));
    st_inspect_free(&r);
    /* A label outside 0..K-1 (written with HDF5 directly: st_dataset_write refuses it). */
    const char *p = tu_tmp_path("badlabel.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[2] = {N, 2}, dy = N;
    hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, &dy, NULL), sa = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, "X", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X);
    H5Dclose(d);
    int32_t yb[N] = {0, 1, 0, 1, 12, 0, 1, 0, 1};
    d = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, yb);
    H5Dclose(d);
    int k = 10;
    hid_t a = H5Acreate2(f, "n_classes", H5T_STD_I32LE, sa, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &k);
    H5Aclose(a);
    H5Sclose(sx);
    H5Sclose(sy);
    H5Sclose(sa);
    H5Fclose(f);
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_int_equal(r.n_bad_labels, 1);
    assert_non_null(strstr(r.problems[0], "badlabel.h5: /y[4] = 12 is outside 0..9 (1 label out of range)"));
    st_inspect_free(&r);
    /* Not a dataset at all: an error, not a report. */
    assert_int_equal(st_inspect(tu_tmp_path("nothing.h5"), &r, &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "nothing.h5: cannot open");
}

static int setup(void **state) {
    (void)state;
    return tu_tmpdir_create("convert");
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tu_tmpdir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_plain_and_gzip),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_convert_idx_with_test_set),
        cmocka_unit_test(test_convert_idx_count_mismatch),
        cmocka_unit_test(test_idx_huge_dims),
        cmocka_unit_test(test_idx_gzip_trailing_garbage),
        cmocka_unit_test(test_convert_output_is_input),
        cmocka_unit_test(test_csv_quoting_crlf_and_string_labels),
        cmocka_unit_test(test_csv_integer_labels_are_ids),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_bad_values_and_names),
        cmocka_unit_test(test_csv_drop_bad_rows),
        cmocka_unit_test(test_csv_split_column),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_inspect_statistics),
        cmocka_unit_test(test_inspect_training_part),
        cmocka_unit_test(test_inspect_problems),
    };
    return cmocka_run_group_tests_name("convert", tests, setup, teardown);
}
