/* test_convert.c — the converters and the inspector: IDX parsing (plain and gzip, written here
 * with zlib) and each IDX error; CSV quoting, CRLF, label rules, each CSV error with its line and
 * column, --drop-bad-rows counting; CSV targets (class, multilabel, regression; COLUMNS syntax;
 * missing values) and group columns round trip; inspect statistics, NaN/Inf, problems, phases,
 * targets and groups on small synthetic files; a failed conversion leaves no output file. */
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

/* ---- CSV targets and groups (issue 13) ---- */

static void read_target(const st_dataset_t *ds, const char *name, float *out, int64_t n) {
    st_error_t err = {0};
    int t = st_dataset_target_find(ds, name);
    assert_true(t >= 0);
    assert_int_equal(st_dataset_read_target_rows(ds, t, 0, n, out, MPI_COMM_NULL, &err), ST_OK);
}

/* A class, a multi-label (a range) and a regression target (two columns joined by '+'), a
 * string group column, a split and a label column, through st_convert_csv and back. */
static void test_csv_targets_round_trip(void **state) {
    (void)state;
    const char *csv = write_text("targets.csv", "g,f1,cat,t_a,t_b,t_c,r1,r2,part,lab,f2\n"
                                                "u,1,dog,1,0,1,0.5,-1,train,x,10\n"
                                                "v,2,cat,0,0,0,1.5,2,test,y,20\n"
                                                "u,3,dog,1,1,1,2.5,3,train,x,30\n"
                                                "w,4,emu,0,1,0,3.5,4,val,y,40\n"
                                                "v,5,cat,1,0,0,4.5,5,train,x,50\n");
    st_csv_options_t o = {.path = csv, .label = "lab", .split_column = "part", .group_column = "g", .n_targets = 3,
                          .targets = {"kind:cat:class", "tools:t_a..t_c:multilabel", "score:r1+r2:regression"}};
    const char *out = tu_tmp_path("targets.h5");
    st_csv_summary_t sum;
    st_error_t err = {0};
    assert_int_equal(st_convert_csv(out, &o, &sum, &err), ST_OK);
    assert_int_equal(sum.n, 5);
    assert_int_equal(sum.d, 2);
    assert_int_equal(sum.n_classes, 2);
    assert_int_equal(sum.n_targets, 3);
    assert_int_equal(sum.targets[1].width, 3);
    assert_int_equal(sum.n_groups, 3);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    assert_int_equal(ds.format_version, 2);
    assert_true(ds.has_y && ds.has_split && ds.has_groups);
    assert_int_equal(ds.n_targets, 3);
    assert_int_equal(ds.n_feature_names, 2); /* target, group, split and label columns are not features */
    assert_string_equal(ds.feature_names[0], "f1");
    assert_string_equal(ds.feature_names[1], "f2");
    float X[10], v[15];
    assert_int_equal(st_dataset_read_rows(&ds, 0, 5, X, MPI_COMM_NULL, &err), ST_OK);
    const float X_want[10] = {1, 10, 2, 20, 3, 30, 4, 40, 5, 50};
    assert_memory_equal(X, X_want, sizeof X);
    const st_target_info_t *kind = &ds.targets[st_dataset_target_find(&ds, "kind")];
    assert_int_equal(kind->kind, ST_TARGET_CLASS);
    assert_int_equal(kind->n_classes, 3);
    assert_string_equal(kind->names[2], "emu");
    read_target(&ds, "kind", v, 5);
    const float kind_want[5] = {1, 0, 1, 2, 0}; /* cat < dog < emu */
    assert_memory_equal(v, kind_want, sizeof kind_want);
    const st_target_info_t *tools = &ds.targets[st_dataset_target_find(&ds, "tools")];
    assert_int_equal(tools->kind, ST_TARGET_MULTILABEL);
    assert_int_equal(tools->width, 3);
    assert_string_equal(tools->names[1], "t_b");
    read_target(&ds, "tools", v, 5);
    const float tools_want[15] = {1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0};
    assert_memory_equal(v, tools_want, sizeof tools_want);
    const st_target_info_t *score = &ds.targets[st_dataset_target_find(&ds, "score")];
    assert_int_equal(score->kind, ST_TARGET_REGRESSION);
    assert_int_equal(score->width, 2);
    assert_string_equal(score->names[1], "r2");
    assert_int_equal(score->allow_missing, 0);
    read_target(&ds, "score", v, 5);
    const float score_want[10] = {0.5f, -1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5};
    assert_memory_equal(v, score_want, sizeof score_want);
    int64_t g[5];
    assert_int_equal(st_dataset_read_groups(&ds, g, &err), ST_OK);
    const int64_t g_want[5] = {0, 1, 0, 2, 1}; /* u, v, w by first appearance */
    assert_memory_equal(g, g_want, sizeof g_want);
    int32_t y[5];
    uint8_t split[5];
    assert_int_equal(st_dataset_read_labels(&ds, y, split, &err), ST_OK);
    const int32_t y_want[5] = {0, 1, 0, 1, 0};
    const uint8_t split_want[5] = {0, 2, 0, 1, 0};
    assert_memory_equal(y, y_want, sizeof y);
    assert_memory_equal(split, split_want, sizeof split);
    tu_assert_contains(ds.source, "targets kind:cat:class, tools:t_a..t_c:multilabel");
    st_dataset_close(&ds);

    /* Without a label column: no /y, the targets alone; the label may also be a class target. */
    o.path = write_text("nolabel_t.csv", "a,c,m\n1,x,1\n2,y,0\n3,x,1\n");
    o.label = NULL, o.split_column = NULL, o.group_column = NULL;
    o.n_targets = 2, o.targets[0] = "c:c:class", o.targets[1] = "m:m:multilabel";
    assert_int_equal(st_convert_csv(out, &o, &sum, &err), ST_OK);
    assert_int_equal(sum.n_classes, 0);
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    assert_false(ds.has_y);
    assert_false(ds.has_groups);
    assert_int_equal(ds.n_targets, 2);
    st_dataset_close(&ds);
    o.label = "c";
    st_csv_data_t d;
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.d, 1);
    assert_memory_equal(d.y, d.targets[0].values, 3 * sizeof(int32_t));
    st_csv_free(&d);
}

static void expect_read_error(st_csv_options_t *o, const char *want) {
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_not_equal(st_csv_read(o, &d, &err), ST_OK);
    tu_assert_contains(err.msg, want);
    st_csv_free(&d);
}

/* COLUMNS: a name, a name holding '+', names joined by '+', ranges by header position; every
 * mistake in a spec named. */
static void test_csv_target_columns(void **state) {
    (void)state;
    st_csv_options_t o = {.path = write_text("cols.csv", "a,b+c,t0,t1,t2,t3,y\n1,2,0,1,0,1,x\n3,4,1,1,0,0,z\n"),
                          .label = "y", .n_targets = 2, .targets = {"m:t1..t3:multilabel", "r:b+c:regression"}};
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.targets[0].width, 3);
    assert_string_equal(d.targets[0].names[0], "t1");
    assert_string_equal(d.targets[0].names[2], "t3");
    const uint8_t m_want[6] = {1, 0, 1, 1, 0, 0};
    assert_memory_equal(d.targets[0].values, m_want, sizeof m_want);
    assert_int_equal(d.targets[1].width, 1);
    assert_true(((float *)d.targets[1].values)[1] == 4.0f);
    assert_int_equal(d.d, 2); /* a and t0 */
    assert_string_equal(d.feature_names[1], "t0");
    st_csv_free(&d);
    o.n_targets = 1, o.targets[0] = "m:t0+t2..t3:multilabel";
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.targets[0].width, 3);
    assert_string_equal(d.targets[0].names[1], "t2");
    st_csv_free(&d);

    o.targets[0] = "m:t3..t1:multilabel";
    expect_read_error(&o, "cols.csv: --target m: the range t3..t1 runs backwards (column 4 is before column 6)");
    o.targets[0] = "m:t1..t9:multilabel";
    expect_read_error(&o, "cols.csv: --target m: no column \"t9\" in the header (did you mean");
    o.targets[0] = "m:t1+tx:multilabel";
    expect_read_error(&o, "--target m: no column \"tx\" in the header");
    o.targets[0] = "c:t0+t1:class";
    expect_read_error(&o, "--target c: a class target takes one column, not 2");
    o.targets[0] = "m:y:multilabel";
    expect_read_error(&o, "the label column \"y\" is in multilabel target m; only a class target may share it");
    o.n_targets = 2, o.targets[0] = "a:t0:class", o.targets[1] = "b:t0+t1:multilabel";
    expect_read_error(&o, "column \"t0\" is in target a and in target b");
    o.targets[1] = "a:t1:class";
    expect_read_error(&o, "two targets are named a");
    o.n_targets = 1, o.targets[0] = "m:t0:multilabel", o.split_column = "t0";
    expect_read_error(&o, "column \"t0\" is the split column and in target m");
    o.split_column = NULL, o.group_column = "y";
    expect_read_error(&o, "the group column \"y\" is also the label column");
    o.group_column = "gg";
    expect_read_error(&o, "cols.csv: no group column \"gg\" in the header");
    o.group_column = NULL, o.label = NULL, o.n_targets = 0;
    expect_read_error(&o, "cols.csv: no label column and no target (--label COLUMN or --target NAME:COLUMNS:KIND)");
    o.path = write_text("nofeat.csv", "y,t\nx,1\n");
    o.label = "y", o.n_targets = 1, o.targets[0] = "t:t:regression";
    expect_read_error(&o, "no feature columns besides the label, split, group and target columns");

    /* The spec itself. */
    const struct { const char *spec, *want; } bad[] = {
        {"m:t0", "--target \"m:t0\": expected NAME:COLUMNS:KIND"},
        {"m:t0:tags", "kind \"tags\" is not class, multilabel or regression"},
        {":t0:class", "the name must be 1 to 63 bytes without '/' or '.'"},
        {"a/b:t0:class", "without '/' or '.'"},
        {"m::class", "no columns"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_csv_target_spec_t sp;
        assert_int_equal(st_csv_target_parse(bad[i].spec, &sp, &err), ST_ERR_CONFIG);
        tu_assert_contains(err.msg, bad[i].want);
    }
    st_csv_target_spec_t sp;
    assert_int_equal(st_csv_target_parse("x:a:b:c:regression", &sp, &err), ST_OK); /* names may hold ':' */
    assert_string_equal(sp.name, "x");
    assert_int_equal((int)sp.columns_len, 5);
    assert_int_equal(sp.kind, ST_TARGET_REGRESSION);
}

/* Empty class and regression cells: errors naming line and column, or −1 / NaN with
 * allow_missing; a multi-label cell must be 0 or 1 either way. */
static void test_csv_target_missing_and_bad_values(void **state) {
    (void)state;
    st_csv_options_t o = {.path = write_text("miss.csv", "a,c,r\n1,x,0.5\n2,,1.5\n3,y,\n4,z,nan\n"), .n_targets = 2,
                          .targets = {"c:c:class", "r:r:regression"}};
    expect_read_error(&o, "miss.csv: line 3, column \"c\": missing value (target c; --allow-missing reads an empty cell "
                          "as missing) (--drop-bad-rows drops such rows)");
    const char *miss = o.path;
    o.path = write_text("miss_r.csv", "a,c,r\n1,x,0.5\n2,y,\n");
    expect_read_error(&o, "miss_r.csv: line 3, column \"r\": missing value (target r;");
    o.path = write_text("nan_r.csv", "a,c,r\n1,x,0.5\n2,y,nan\n");
    expect_read_error(&o, "nan_r.csv: line 3, column \"r\": nan in target r (--allow-missing reads nan and empty cells");
    o.path = miss;
    o.drop_bad_rows = 1;
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.n_dropped, 3);
    st_csv_free(&d);
    o.drop_bad_rows = 0, o.allow_missing = 1;
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.n, 4);
    const int32_t c_want[4] = {0, -1, 1, 2};
    assert_memory_equal(d.targets[0].values, c_want, sizeof c_want);
    assert_int_equal(d.targets[0].n_missing, 1);
    assert_int_equal(d.targets[0].allow_missing, 1);
    const float *r = d.targets[1].values;
    assert_true(r[0] == 0.5f && r[1] == 1.5f && isnan(r[2]) && isnan(r[3]));
    assert_int_equal(d.targets[1].n_missing, 2);
    st_csv_free(&d);
    /* Written and read back: allow_missing on both, and the values pass st_target_first_bad. */
    const char *out = tu_tmp_path("miss.h5");
    st_csv_summary_t sum;
    assert_int_equal(st_convert_csv(out, &o, &sum, &err), ST_OK);
    assert_int_equal(sum.targets[1].n_missing, 2);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    float v[4];
    char why[160];
    for (int t = 0; t < 2; t++) {
        assert_int_equal(ds.targets[t].allow_missing, 1);
        read_target(&ds, ds.targets[t].name, v, 4);
        assert_int_equal(st_target_first_bad(&ds.targets[t], v, 4, why, sizeof why), -1);
    }
    st_dataset_close(&ds);
    /* Integer class labels with a missing cell: ids as written, −1 for the empty one. */
    o.path = write_text("miss_ids.csv", "a,c\n1,3\n2,\n3,0\n");
    o.n_targets = 1;
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.targets[0].labels_are_ids, 1);
    assert_int_equal(d.targets[0].n_classes, 4);
    const int32_t ids_want[3] = {3, -1, 0};
    assert_memory_equal(d.targets[0].values, ids_want, sizeof ids_want);
    st_csv_free(&d);
    o.path = write_text("all_missing.csv", "a,c\n1,\n2,\n");
    expect_read_error(&o, "all_missing.csv: column \"c\" has no labels: every cell is empty");
    /* Infinity is never a regression value. */
    o.path = write_text("inf.csv", "a,r\n1,inf\n");
    o.targets[0] = "r:r:regression";
    expect_read_error(&o, "inf.csv: line 2, column \"r\": inf is not a finite number (target r)");
    /* Multi-label cells are 0 or 1, with or without allow_missing. */
    o.path = write_text("ml.csv", "a,m1,m2\n1,0,1\n2,1,2\n");
    o.targets[0] = "m:m1..m2:multilabel";
    expect_read_error(&o, "ml.csv: line 3, column \"m2\": \"2\" is not 0 or 1 (target m is multilabel)");
    o.path = write_text("ml_empty.csv", "a,m1,m2\n1,0,1\n2,,1\n");
    expect_read_error(&o, "ml_empty.csv: line 3, column \"m1\": \"\" is not 0 or 1");
}

/* Group columns: integers are the ids (any int64); anything else maps to ids in order of first
 * appearance; an empty cell is a bad cell. */
static void test_csv_group_column(void **state) {
    (void)state;
    st_csv_options_t o = {.path = write_text("gint.csv", "a,g,y\n1,10,x\n2,-3,y\n3,10,x\n4,7,y\n"), .label = "y",
                          .group_column = "g"};
    st_csv_data_t d;
    st_error_t err = {0};
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.d, 1);
    assert_int_equal(d.groups_are_ids, 1);
    assert_int_equal(d.n_groups, 3);
    const int64_t gi_want[4] = {10, -3, 10, 7};
    assert_memory_equal(d.groups, gi_want, sizeof gi_want);
    st_csv_free(&d);
    o.path = write_text("gstr.csv", "a,g,y\n1,b,x\n2,a,y\n3,b,x\n4,12,y\n5,a,x\n");
    assert_int_equal(st_csv_read(&o, &d, &err), ST_OK);
    assert_int_equal(d.groups_are_ids, 0);
    assert_int_equal(d.n_groups, 3);
    const int64_t gs_want[5] = {0, 1, 0, 2, 1};
    assert_memory_equal(d.groups, gs_want, sizeof gs_want);
    st_csv_free(&d);
    /* Written: format 2 with /groups and /y, no /targets (the one target "y"). */
    const char *out = tu_tmp_path("groups.h5");
    st_csv_summary_t sum;
    assert_int_equal(st_convert_csv(out, &o, &sum, &err), ST_OK);
    assert_int_equal(sum.n_groups, 3);
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(out, &ds, &err), ST_OK);
    assert_int_equal(ds.format_version, 2);
    assert_true(ds.has_groups && ds.has_y);
    assert_string_equal(ds.targets[0].name, "y");
    int64_t g[5];
    assert_int_equal(st_dataset_read_groups(&ds, g, &err), ST_OK);
    assert_memory_equal(g, gs_want, sizeof gs_want);
    st_dataset_close(&ds);
    o.path = write_text("gmiss.csv", "a,g,y\n1,b,x\n2,,y\n");
    expect_read_error(&o, "gmiss.csv: line 3, column \"g\": missing group");
}

/* inspect on a file with targets and groups but no /y (written with st_dataset_write). */
static void test_inspect_targets(void **state) {
    (void)state;
    enum { N = 8 };
    float X[N * 2] = {0};
    const int32_t cls[N] = {0, 1, 1, -1, 2, 1, 0, 1};
    uint8_t ml[N * 2] = {1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0};
    float reg[N * 2];
    for (int i = 0; i < N; i++) reg[2 * i] = (float)(i + 1), reg[2 * i + 1] = 10;
    reg[14] = NAN;
    const uint8_t split[N] = {0, 0, 0, 0, 1, 2, 2, 0};
    const int64_t groups[N] = {5, 5, 9, 9, 9, 2, 2, 7};
    const char *cn[3] = {"lo", "mid", "hi"}, *ln[2] = {"a", "b"}, *rn[2] = {"u", "v"};
    st_target_spec_t ts[3] = {
        {.name = "cls", .kind = ST_TARGET_CLASS, .width = 1, .n_classes = 3, .names = cn, .allow_missing = 1, .values = cls},
        {.name = "tools", .kind = ST_TARGET_MULTILABEL, .width = 2, .names = ln, .values = ml},
        {.name = "val", .kind = ST_TARGET_REGRESSION, .width = 2, .names = rn, .allow_missing = 1, .values = reg},
    };
    st_dataset_spec_t s = {.n = N, .shape = st_shape1(2), .X = X, .split = split, .n_targets = 3, .targets = ts,
                           .groups = groups};
    st_error_t err = {0};
    const char *p = tu_tmp_path("inspect_targets.h5");
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    st_inspect_t r;
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_int_equal(r.n_problems, 0);
    const st_inspect_target_t *c = &r.targets[st_dataset_target_find(&r.ds, "cls")];
    assert_int_equal(c->counts[0], 2);
    assert_int_equal(c->counts[1], 4);
    assert_int_equal(c->counts[2], 1);
    assert_int_equal(c->n_missing, 1);
    assert_int_equal(c->split_counts[1 * 3 + ST_SPLIT_TRAIN], 3);
    assert_int_equal(c->split_counts[1 * 3 + ST_SPLIT_TEST], 1);
    const st_inspect_target_t *m = &r.targets[st_dataset_target_find(&r.ds, "tools")];
    assert_int_equal(m->counts[0], 5);
    assert_int_equal(m->counts[1], 3);
    assert_true(fabs(m->mean_labels - 1.0) < 1e-12);
    const st_inspect_target_t *v = &r.targets[st_dataset_target_find(&r.ds, "val")];
    /* Column u holds 1..7 and one NaN: mean 4, population std 2; column v is constant. */
    assert_true(fabs(v->mean[0] - 4.0) < 1e-12 && fabs(v->std[0] - 2.0) < 1e-12);
    assert_true(v->min[0] == 1.0 && v->max[0] == 7.0);
    assert_int_equal(v->col_missing[0], 1);
    assert_true(v->std[1] == 0.0 && v->mean[1] == 10.0);
    /* Groups 5, 9, 2, 7 hold 2, 3, 2, 1 rows; group 9 has train and val rows. */
    assert_int_equal(r.n_groups, 4);
    assert_int_equal(r.group_rows_min, 1);
    assert_int_equal(r.group_rows_max, 3);
    assert_true(r.group_rows_median == 2.0);
    assert_int_equal(r.n_groups_across_parts, 1);
    assert_int_equal(r.n_warnings, 1);
    tu_assert_contains(r.warnings[0], "1 group has rows in more than one /split part (first: group 9)");

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    st_inspect_print(mem, &r);
    fclose(mem);
    tu_assert_contains(text, "classes       no /y");
    tu_assert_contains(text, "targets       3 in /targets");
    tu_assert_contains(text, "tools: multilabel, 2 labels, 1.00 labels per row on average");
    tu_assert_contains(text, "cls: class, 3 classes, 1 missing");
    tu_assert_contains(text, "groups        4 (rows per group: min 1, median 2, max 3)");
    free(text);
    char *json = st_inspect_json(&r);
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "has_y")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes")), 0);
    cJSON *targets = cJSON_GetObjectItem(j, "targets");
    assert_int_equal(cJSON_GetArraySize(targets), 3);
    cJSON *t2 = cJSON_GetArrayItem(targets, 2);
    assert_string_equal(cJSON_GetObjectItem(t2, "kind")->valuestring, "regression");
    cJSON *u = cJSON_GetArrayItem(cJSON_GetObjectItem(t2, "columns"), 0);
    assert_true(fabs(cJSON_GetObjectItem(u, "std")->valuedouble - 2.0) < 1e-12);
    assert_int_equal(cJSON_GetObjectItem(u, "missing")->valueint, 1);
    cJSON *g = cJSON_GetObjectItem(j, "groups");
    assert_int_equal(cJSON_GetObjectItem(g, "n_groups")->valueint, 4);
    assert_true(cJSON_GetObjectItem(g, "rows_median")->valuedouble == 2.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
    cJSON_Delete(j);
    free(json);
    st_inspect_free(&r);

    /* Values training refuses are problems naming the target, the row and the value. */
    ml[7] = 2;
    ts[2].allow_missing = 0;
    assert_int_equal(st_dataset_write(p, &s, &err), ST_OK);
    assert_int_equal(st_inspect(p, &r, &err), ST_OK);
    assert_int_equal(r.n_problems, 2);
    tu_assert_contains(r.problems[0], "inspect_targets.h5: /targets/tools row 3: column 1 (b) is 2, not 0 or 1 "
                                      "(1 bad value); training refuses them");
    tu_assert_contains(r.problems[1], "/targets/val row 7: column 0 (u) is nan (a missing value needs allow_missing)");
    st_inspect_free(&r);
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
        cmocka_unit_test(test_csv_targets_round_trip),
        cmocka_unit_test(test_csv_target_columns),
        cmocka_unit_test(test_csv_target_missing_and_bad_values),
        cmocka_unit_test(test_csv_group_column),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_inspect_statistics),
        cmocka_unit_test(test_inspect_training_part),
        cmocka_unit_test(test_inspect_problems),
        cmocka_unit_test(test_inspect_targets),
    };
    return cmocka_run_group_tests_name("convert", tests, setup, teardown);
}
