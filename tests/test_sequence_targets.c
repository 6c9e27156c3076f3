/* test_sequence_targets.c — sequence targets of the dataset format (format 4, issue 15): written and
 * read back (vocabulary, L_max, rows as [len, labels], padding read as 0 whatever the file holds,
 * collective and independent reads), the checks on write (a length past L_max, a blank or an
 * out-of-vocabulary label, naming the target and row) and on read (st_target_first_bad), the
 * layout errors of a file made by hand (no /target_lengths, no vocabulary, a 1-d target), and
 * st_data_load carrying the sequences to the parts like any other target. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "mpi/comm.h"
#include "sharding/data.h"
#include "sharding/dataset.h"

static st_comm_t comm;

enum { N = 60, T = 10, C = 2, L = 5, V = 4 };
static const char *const vocab[V] = {"<blank>", "one", "two", "three"};

static int32_t len_of(int i) { return i % (L + 1); }                        /* 0..L */
static int32_t label_of(int i, int j) { return 1 + (i * 3 + j * 5) % (V - 1); } /* 1..V-1 */

/* A dataset with one sequence target "words" (and groups, so it is a format-2+ file). */
static st_status_t write_set(const char *path, int32_t pad, const int32_t *len_override, st_error_t *err) {
    float X[N * T * C];
    int32_t tok[N * L], len[N], lengths[N];
    for (int i = 0; i < N; i++) {
        len[i] = len_override ? len_override[i] : len_of(i);
        lengths[i] = 1 + i % T;
        for (int j = 0; j < L; j++) tok[i * L + j] = j < len[i] ? label_of(i, j) : pad;
    }
    for (int k = 0; k < N * T * C; k++) X[k] = (float)(k % 7);
    st_target_spec_t ts = {.name = "words", .kind = ST_TARGET_SEQUENCE, .width = L, .n_classes = V, .names = vocab,
                           .values = tok, .lengths = len};
    st_dataset_spec_t spec = {.n = N, .shape = st_shape2(T, C), .X = X, .n_targets = 1, .targets = &ts,
                              .lengths = lengths};
    return st_dataset_write(path, &spec, err);
}

static void test_round_trip(void **s) {
    (void)s;
    const char *path = tu_tmp_path("seq.h5");
    st_error_t err = {0};
    assert_int_equal(write_set(path, 3, NULL, &err), ST_OK); /* padding holds a valid token: still read as 0 */
    st_dataset_t ds;
    assert_int_equal(st_dataset_open(path, &ds, &err), ST_OK);
    assert_int_equal(ds.format_version, 4);
    assert_int_equal(ds.n_targets, 1);
    const st_target_info_t *t = &ds.targets[0];
    assert_int_equal(t->kind, ST_TARGET_SEQUENCE);
    assert_string_equal(st_target_kind_name(t->kind), "sequence");
    assert_int_equal(t->max_len, L);
    assert_int_equal(t->width, L + 1);
    assert_int_equal(t->n_classes, V);
    assert_string_equal(t->names[0], "<blank>");
    assert_string_equal(t->names[3], "three");
    float rows[N * (L + 1)];
    assert_int_equal(st_dataset_read_target_rows(&ds, 0, 0, N, rows, MPI_COMM_NULL, &err), ST_OK);
    for (int i = 0; i < N; i++) {
        assert_float_equal(rows[i * (L + 1)], (float)len_of(i), 0);
        for (int j = 0; j < L; j++)
            assert_float_equal(rows[i * (L + 1) + 1 + j], j < len_of(i) ? (float)label_of(i, j) : 0.0f, 0);
    }
    char why[160];
    assert_int_equal(st_target_first_bad(t, rows, N, why, sizeof why), -1);
    float part[7 * (L + 1)];
    assert_int_equal(st_dataset_read_target_rows(&ds, 0, 13, 7, part, comm.comm, &err), ST_OK); /* collective */
    assert_memory_equal(part, rows + 13 * (L + 1), sizeof part);
    assert_int_equal(st_dataset_read_target_rows(&ds, 0, 0, 0, part, comm.comm, &err), ST_OK);
    /* a label that is the blank, one past the vocabulary, a length past L_max */
    rows[2 * (L + 1) + 1] = 0;
    assert_int_equal(st_target_first_bad(t, rows, N, why, sizeof why), 2);
    tu_assert_contains(why, "label 0 of the sequence is 0; expected a token id in 1..3 (0 is the blank)");
    rows[2 * (L + 1) + 1] = 1, rows[4 * (L + 1) + 2] = V;
    assert_int_equal(st_target_first_bad(t, rows, N, why, sizeof why), 4);
    rows[4 * (L + 1) + 2] = 1, rows[5 * (L + 1)] = L + 1;
    assert_int_equal(st_target_first_bad(t, rows, N, why, sizeof why), 5);
    tu_assert_contains(why, "sequence length 6 is outside 0..5");
    st_dataset_close(&ds);
}

static void test_write_refuses(void **s) {
    (void)s;
    const char *path = tu_tmp_path("bad.h5");
    st_error_t err = {0};
    int32_t len[N];
    for (int i = 0; i < N; i++) len[i] = len_of(i);
    len[7] = L + 1;
    assert_int_equal(write_set(path, 0, len, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "target words row 7: length 6 is outside 0..5");
    assert_false(tu_exists(path));
    float X[2 * T * C] = {0};
    int32_t tok[2 * L] = {1, 0, 0, 0, 0, 2, 4, 0, 0, 0}, l2[2] = {1, 2};
    st_target_spec_t ts = {.name = "words", .kind = ST_TARGET_SEQUENCE, .width = L, .n_classes = V, .names = vocab,
                           .values = tok, .lengths = l2};
    st_dataset_spec_t spec = {.n = 2, .shape = st_shape2(T, C), .X = X, .n_targets = 1, .targets = &ts};
    assert_int_equal(st_dataset_write(path, &spec, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "target words row 1: label 1 is 4, outside 1..3 (0 is the blank)");
    ts.lengths = NULL;
    assert_int_equal(st_dataset_write(path, &spec, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "sequence target words needs lengths");
    assert_false(tu_exists(path));
}

/* Writes a good file, then breaks it with the HDF5 API: `what` 0 deletes /target_lengths/words,
 * 1 deletes the vocabulary attribute. */
static void break_file(const char *path, int what) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (what == 0) H5Ldelete(f, "/target_lengths/words", H5P_DEFAULT);
    else H5Adelete_by_name(f, "/targets/words", "vocabulary", H5P_DEFAULT);
    H5Fclose(f);
}

static void test_layout_errors(void **s) {
    (void)s;
    const char *path = tu_tmp_path("broken.h5");
    const char *want[] = {"the sequence target /targets/words has no /target_lengths/words",
                          "/targets/words has no attribute vocabulary"};
    for (int what = 0; what < 2; what++) {
        st_error_t err = {0};
        assert_int_equal(write_set(path, 0, NULL, &err), ST_OK);
        break_file(path, what);
        st_dataset_t ds;
        assert_int_equal(st_dataset_open(path, &ds, &err), ST_ERR_DATA);
        tu_assert_contains(err.msg, path);
        tu_assert_contains(err.msg, want[what]);
    }
}

/* st_data_load: every part's rows carry [len, labels] of their own global rows. */
static void test_load(void **s) {
    (void)s;
    const char *path = tu_tmp_path("load.h5");
    st_error_t err = {0};
    assert_int_equal(write_set(path, 0, NULL, &err), ST_OK);
    st_data_config_t cfg = {.path = path, .seed = 3, .split = st_split_options_default(), .batch_size = 8,
                            .accumulation = 1, .shards = 2, .stratify = "none"};
    st_data_t d;
    assert_int_equal(st_data_load(&d, &cfg, &comm, &err), ST_OK);
    assert_int_equal(d.tgt_floats, L + 1);
    int w = (int)d.tgt_floats, seen = 0;
    for (int p = 0; p < 3; p++) {
        const st_data_part_t *part = &d.part[p];
        for (int64_t r = 0; r < part->n; r++, seen++) {
            int64_t i = part->ids[r];
            const float *row = part->T + r * w;
            assert_float_equal(row[0], (float)len_of((int)i), 0);
            for (int j = 0; j < len_of((int)i); j++) assert_float_equal(row[1 + j], (float)label_of((int)i, j), 0);
        }
    }
    assert_int_equal(seen, N);
    st_data_free(&d);
}

static int setup(void **s) {
    (void)s;
    return tu_tmpdir_create("sequence_targets");
}
static int teardown(void **s) {
    (void)s;
    return tu_tmpdir_remove();
}

int main(int argc, char **argv) {
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &comm, &err) != ST_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_layout_errors),
        cmocka_unit_test(test_load),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    st_comm_finalize(&comm, &err);
    return rc;
}
