/* test_checkpoint.c — training checkpoints (jobs/checkpoint.h): a bitwise round trip of every
 * field, restoring into a live optimizer and schedule, naming and retention (older files deleted,
 * best.h5 kept, newer leftovers of an abandoned run deleted), choosing the newest valid file by
 * step rather than mtime, damaged files (truncated, a flipped byte in an array, not HDF5, not a
 * checkpoint) skipped with a warning naming them, a single-bit flip at every byte of a checkpoint
 * refused as damaged by the user-block header before HDF5 parses it (format 2), format-1 files
 * (no header) still read, stale temporaries removed, a failed write that
 * leaves the existing file intact, per-head tables (issue 13: /heads) read back bit for bit and
 * absent from older files (n_heads 0), and a crash test: a child writing checkpoints in a loop is
 * killed with SIGKILL at 20 moments, and every time the newest checkpoint reads back whole. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <hdf5.h>

#include "jobs/checkpoint.h"
#include "sharding/h5util.h"

/* Warnings collected into one buffer, one per line. */
typedef struct {
    char text[8192];
    int n;
} warns_t;

static void collect(const char *msg, void *ctx) {
    warns_t *w = ctx;
    size_t len = strlen(w->text);
    snprintf(w->text + len, sizeof w->text - len, "%s\n", msg);
    w->n++;
}

/* ---- a checkpoint with every field set ---- */

typedef struct {
    size_t P, B;
    float *params, *buffers, *m, *v, *cw;
    double sched[ST_SCHED_STATE_LEN], early[4], mean[5], std[5];
    st_ckpt_write_t w;
} sample_t;

static const char *const CLASS_NAMES[3] = {"cat", "dög", "a \"quoted\" name"};

/* Fills params with a pattern keyed by (step, seed) so a mix of two checkpoints is detected. */
static float pattern(long long step, size_t i, int which) {
    return (float)((step % 9973) * 0.25 + (double)i * 1e-3 + which * 7.0);
}

static void sample_init(sample_t *s, size_t P, size_t B, long long step) {
    memset(s, 0, sizeof *s);
    s->P = P, s->B = B;
    s->params = malloc(P * sizeof(float) + 4);
    s->buffers = malloc(B * sizeof(float) + 4);
    s->m = malloc(P * sizeof(float) + 4);
    s->v = malloc(P * sizeof(float) + 4);
    s->cw = malloc(3 * sizeof(float));
    for (size_t i = 0; i < P; i++) {
        s->params[i] = pattern(step, i, 0);
        s->m[i] = pattern(step, i, 1);
        s->v[i] = pattern(step, i, 2);
    }
    for (size_t i = 0; i < B; i++) s->buffers[i] = pattern(step, i, 3);
    if (P > 3) {
        s->params[0] = -0.0f;
        s->params[1] = NAN;
        s->params[2] = INFINITY;
        s->params[3] = 1e-42f; /* denormal */
    }
    for (int i = 0; i < ST_SCHED_STATE_LEN; i++) s->sched[i] = 0.1 * i + step;
    s->early[0] = 0.8125, s->early[1] = 3, s->early[2] = -INFINITY, s->early[3] = (double)step;
    for (int i = 0; i < 5; i++) s->mean[i] = i / 3.0, s->std[i] = 1.0 + i / 7.0;
    s->cw[0] = 0.5f, s->cw[1] = 1.5f, s->cw[2] = 1.0f / 3.0f;
    st_ckpt_write_t *w = &s->w;
    w->kind = ST_CKPT_PERIODIC;
    w->params = s->params, w->n_params = P;
    w->buffers = s->buffers, w->n_buffers = B;
    w->n_optim_state = 2;
    w->optim_state_names[0] = "exp_avg", w->optim_state_names[1] = "exp_avg_sq";
    w->optim_state[0] = s->m, w->optim_state[1] = s->v;
    w->optim_step = step;
    w->sched_state = s->sched, w->n_sched_state = ST_SCHED_STATE_LEN;
    w->early_stop = s->early, w->n_early_stop = 4;
    w->epoch = step / 100, w->step = step, w->step_in_epoch = step % 100, w->nonfinite_steps = 2;
    w->config_json = "{\"model\": {\"layers\": []}, \"note\": \"ünïcode ✓\"}";
    w->std_mean = s->mean, w->std_std = s->std, w->n_features = 5;
    w->class_weights = s->cw;
    w->n_classes = 3, w->class_names = CLASS_NAMES;
    w->dataset_fingerprint = "sha256:0123abcd n=60000";
    w->created_unix = 1700000000;
}

static void sample_free(sample_t *s) {
    free(s->params);
    free(s->buffers);
    free(s->m);
    free(s->v);
    free(s->cw);
}

/* Every field of ck equals what `s` wrote, bit for bit, in checkpoint format `format`. */
static void assert_matches_format(const st_ckpt_t *ck, const sample_t *s, int format) {
    const st_ckpt_write_t *w = &s->w;
    assert_int_equal(ck->format_version, format);
    assert_int_equal(ck->kind, w->kind);
    assert_int_equal(ck->n_params, w->n_params);
    assert_memory_equal(ck->params, w->params, w->n_params * 4);
    assert_int_equal(ck->n_buffers, w->n_buffers);
    if (w->n_buffers) assert_memory_equal(ck->buffers, w->buffers, w->n_buffers * 4);
    assert_int_equal(ck->n_optim_state, w->n_optim_state);
    for (int k = 0; k < w->n_optim_state; k++) {
        assert_string_equal(ck->optim_state_names[k], w->optim_state_names[k]);
        assert_memory_equal(ck->optim_state[k], w->optim_state[k], w->n_params * 4);
    }
    assert_int_equal(ck->optim_step, w->optim_step);
    assert_int_equal(ck->n_sched_state, w->n_sched_state);
    if (w->n_sched_state) assert_memory_equal(ck->sched_state, w->sched_state, w->n_sched_state * 8);
    assert_int_equal(ck->n_early_stop, w->n_early_stop);
    if (w->n_early_stop) assert_memory_equal(ck->early_stop, w->early_stop, w->n_early_stop * 8);
    assert_int_equal(ck->epoch, w->epoch);
    assert_int_equal(ck->step, w->step);
    assert_int_equal(ck->step_in_epoch, w->step_in_epoch);
    assert_int_equal(ck->nonfinite_steps, w->nonfinite_steps);
    assert_string_equal(ck->config_json, w->config_json);
    if (w->std_mean) {
        assert_int_equal(ck->n_features, w->n_features);
        assert_memory_equal(ck->std_mean, w->std_mean, w->n_features * 8);
        assert_memory_equal(ck->std_std, w->std_std, w->n_features * 8);
    } else {
        assert_null(ck->std_mean);
        assert_null(ck->std_std);
    }
    if (w->class_weights) assert_memory_equal(ck->class_weights, w->class_weights, w->n_classes * 4);
    else assert_null(ck->class_weights);
    assert_int_equal(ck->n_classes, w->n_classes);
    for (int i = 0; i < w->n_classes; i++) assert_string_equal(ck->class_names[i], w->class_names[i]);
    assert_string_equal(ck->dataset_fingerprint, w->dataset_fingerprint ? w->dataset_fingerprint : "");
    if (w->created_unix) assert_int_equal(ck->created_unix, w->created_unix);
}

static void assert_matches(const st_ckpt_t *ck, const sample_t *s) { assert_matches_format(ck, s, ST_CKPT_FORMAT); }

static void test_round_trip(void **state) {
    (void)state;
    sample_t s;
    sample_init(&s, 1000, 10, 1234);
    st_error_t err = {0};
    const char *p = tu_tmp_path("rt.h5");
    if (st_ckpt_write(p, &s.w, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_false(tu_exists(tu_tmp_path("rt.h5.tmp")));
    st_ckpt_t ck;
    if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_matches(&ck, &s);
    assert_string_equal(ck.created, "2023-11-14T22:13:20Z");
    assert_string_equal(ck.path, p);
    st_ckpt_free(&ck);
    st_ckpt_info_t info;
    assert_int_equal(st_ckpt_peek(p, &info, &err), ST_OK);
    assert_int_equal(info.step, 1234);
    assert_int_equal(info.epoch, 12);
    assert_int_equal(info.step_in_epoch, 34);
    assert_int_equal(info.kind, ST_CKPT_PERIODIC);

    /* Optional parts absent, no buffers, SGD without momentum, "best", created now. */
    s.w.kind = ST_CKPT_BEST;
    s.w.n_buffers = 0;
    s.w.n_optim_state = 0;
    s.w.n_sched_state = 0;
    s.w.n_early_stop = 0;
    s.w.std_mean = s.w.std_std = NULL;
    s.w.n_features = 0;
    s.w.class_weights = NULL;
    s.w.dataset_fingerprint = NULL;
    s.w.config_json = "";
    s.w.created_unix = 0;
    time_t before = time(NULL);
    if (st_ckpt_write(p, &s.w, &err) != ST_OK) fail_msg("%s", err.msg);
    if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_matches(&ck, &s);
    assert_true(ck.created_unix >= before && ck.created_unix <= time(NULL));
    st_ckpt_free(&ck);
    st_ckpt_free(&ck); /* freeing twice is harmless */

    /* A refused spec changes nothing. */
    s.w.n_classes = 0;
    assert_int_equal(st_ckpt_write(p, &s.w, &err), ST_ERR_INTERNAL);
    tu_assert_contains(err.msg, "rt.h5: 0 classes");
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    st_ckpt_free(&ck);
    sample_free(&s);
}

/* Restoring into a live Adam optimizer and a reduce_on_plateau schedule. */
static void test_restore_into_optimizer(void **state) {
    (void)state;
    enum { N = 40 };
    float params[N], grads[N], params2[N];
    st_tensor_view_t v = {0};
    snprintf(v.name, sizeof v.name, "w");
    v.offset = 0, v.n = N, v.data = params, v.grad = grads, v.decay = 1;
    st_optim_config_t oc;
    st_optim_config_default(&oc, ST_OPTIM_ADAM);
    st_optim_t *opt = NULL, *opt2 = NULL;
    st_error_t err = {0};
    assert_int_equal(st_optim_create(&oc, &v, 1, N, &opt, &err), ST_OK);
    assert_int_equal(st_optim_create(&oc, &v, 1, N, &opt2, &err), ST_OK);
    tu_fill_normal(params, N, 1);
    for (int t = 0; t < 3; t++) {
        tu_fill_normal(grads, N, 10 + t);
        st_optim_step(opt, params, grads, 1e-3);
    }
    st_sched_config_t sc;
    st_sched_config_default(&sc, ST_SCHED_PLATEAU);
    sc.patience = 0;
    st_sched_t sch, sch2;
    assert_int_equal(st_sched_init(&sch, &sc, 0.01, &err), ST_OK);
    assert_int_equal(st_sched_init(&sch2, &sc, 0.01, &err), ST_OK);
    st_sched_observe(&sch, 1.0);
    st_sched_observe(&sch, 2.0);
    sample_t s;
    sample_init(&s, N, 0, 3);
    s.w.params = params;
    double sbuf[ST_SCHED_STATE_LEN];
    st_ckpt_fill_state(&s.w, opt, &sch, sbuf);
    const char *p = tu_tmp_path("restore.h5");
    if (st_ckpt_write(p, &s.w, &err) != ST_OK) fail_msg("%s", err.msg);
    st_ckpt_t ck;
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    if (st_ckpt_restore(&ck, params2, N, NULL, 0, opt2, &sch2, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_memory_equal(params2, params, sizeof params);
    assert_int_equal(st_optim_step_count(opt2), 3);
    for (int k = 0; k < st_optim_n_state(opt); k++)
        assert_memory_equal(st_optim_state(opt2, k), st_optim_state(opt, k), N * sizeof(float));
    assert_true(st_sched_lr(&sch2, 5) == st_sched_lr(&sch, 5));
    assert_true(sch2.state.lr < 0.01);
    /* Another model: the message names the checkpoint. */
    assert_int_equal(st_ckpt_restore(&ck, params2, N - 1, NULL, 0, opt2, NULL, &err), ST_ERR_SHAPE);
    tu_assert_contains(err.msg, "restore.h5: has 40 parameters, the model has 39");
    /* Another optimizer (SGD without momentum has no state). */
    st_optim_t *sgd = NULL;
    st_optim_config_default(&oc, ST_OPTIM_SGD);
    assert_int_equal(st_optim_create(&oc, &v, 1, N, &sgd, &err), ST_OK);
    assert_int_equal(st_ckpt_restore(&ck, params2, N, NULL, 0, sgd, NULL, &err), ST_ERR_CONFIG);
    tu_assert_contains(err.msg, "restore.h5: has 2 optimizer state arrays, this optimizer has 0");
    st_ckpt_free(&ck);
    st_optim_free(sgd);
    st_optim_free(opt);
    st_optim_free(opt2);
    sample_free(&s);
}

/* ---- naming, retention, choosing ---- */

static void mk_subdir(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", tu_tmpdir(), name);
    assert_int_equal(mkdir(out, 0777), 0);
}

static void test_retention(void **state) {
    (void)state;
    char d[256], p[512], got[512];
    snprintf(d, sizeof d, "%s/run1/checkpoints", tu_tmpdir());
    mk_subdir(p, sizeof p, "run1"); /* st_ckpt_save creates checkpoints/ itself */
    sample_t s;
    sample_init(&s, 100, 4, 0);
    st_error_t err = {0};
    warns_t wn = {0};
    for (int i = 1; i <= 5; i++) {
        s.w.step = 10 * i;
        s.w.kind = i == 5 ? ST_CKPT_LAST : ST_CKPT_PERIODIC;
        if (st_ckpt_save(d, &s.w, 2, got, sizeof got, collect, &wn, &err) != ST_OK) fail_msg("%s", err.msg);
        snprintf(p, sizeof p, "%s/step-%09d.h5", d, 10 * i);
        assert_string_equal(got, p);
        if (i == 2) {
            s.w.kind = ST_CKPT_BEST;
            assert_int_equal(st_ckpt_save(d, &s.w, 2, got, sizeof got, collect, &wn, &err), ST_OK);
            snprintf(p, sizeof p, "%s/best.h5", d);
            assert_string_equal(got, p);
        }
    }
    assert_int_equal(wn.n, 0);
    int want[5] = {0, 0, 0, 1, 1};
    for (int i = 1; i <= 5; i++) {
        snprintf(p, sizeof p, "%s/step-%09d.h5", d, 10 * i);
        if (tu_exists(p) != want[i - 1]) fail_msg("%s: exists = %d", p, tu_exists(p));
    }
    snprintf(p, sizeof p, "%s/best.h5", d);
    assert_true(tu_exists(p));
    st_ckpt_t ck;
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    assert_int_equal(ck.kind, ST_CKPT_BEST);
    assert_int_equal(ck.step, 20);
    st_ckpt_free(&ck);
    assert_int_equal(st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err), ST_OK);
    tu_assert_contains(got, "step-000000050.h5");

    /* A run resumed from step 40 and saving step 45: step 50 belongs to the abandoned future. */
    s.w.step = 45;
    s.w.kind = ST_CKPT_PERIODIC;
    assert_int_equal(st_ckpt_save(d, &s.w, 2, got, sizeof got, collect, &wn, &err), ST_OK);
    assert_int_equal(wn.n, 1);
    tu_assert_contains(wn.text, "step-000000050.h5: deleted: newer than the checkpoint just written (step 45)");
    snprintf(p, sizeof p, "%s/step-000000040.h5", d);
    assert_true(tu_exists(p));
    snprintf(p, sizeof p, "%s/step-000000050.h5", d);
    assert_false(tu_exists(p));
    /* keep_last 0 keeps everything. */
    s.w.step = 46;
    assert_int_equal(st_ckpt_save(d, &s.w, 0, NULL, 0, NULL, NULL, &err), ST_OK);
    snprintf(p, sizeof p, "%s/step-000000040.h5", d);
    assert_true(tu_exists(p));
    sample_free(&s);
    /* No folder, or an empty one: no checkpoint, not an error. */
    snprintf(p, sizeof p, "%s/no-such-folder", tu_tmpdir());
    strcpy(got, "x");
    assert_int_equal(st_ckpt_find_latest(p, got, sizeof got, NULL, NULL, &err), ST_OK);
    assert_string_equal(got, "");
}

static void set_mtime(const char *p, time_t t) {
    struct utimbuf u = {t, t};
    assert_int_equal(utime(p, &u), 0);
}

static void test_latest_by_step_not_mtime(void **state) {
    (void)state;
    char d[256], got[512];
    mk_subdir(d, sizeof d, "mtime");
    sample_t s;
    sample_init(&s, 50, 0, 0);
    st_error_t err = {0};
    long long steps[4] = {9, 10, 100, 1000000000};
    for (int i = 0; i < 4; i++) {
        s.w.step = steps[i];
        assert_int_equal(st_ckpt_save(d, &s.w, 0, NULL, 0, NULL, NULL, &err), ST_OK);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/step-1000000000.h5", d);
    assert_true(tu_exists(p));
    set_mtime(p, 1000000000);
    snprintf(p, sizeof p, "%s/step-000000009.h5", d);
    set_mtime(p, time(NULL) + 3600);
    warns_t wn = {0};
    assert_int_equal(st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err), ST_OK);
    tu_assert_contains(got, "/step-1000000000.h5");
    assert_int_equal(wn.n, 0);
    /* A file whose content disagrees with its name (renamed by hand) is skipped. */
    snprintf(p, sizeof p, "%s/step-1000000000.h5", d);
    char q[512];
    snprintf(q, sizeof q, "%s/step-2000000000.h5", d);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err), ST_OK);
    tu_assert_contains(got, "/step-000000100.h5");
    tu_assert_contains(wn.text, "step-2000000000.h5: holds step 1000000000, not the step in its name; skipped");
    sample_free(&s);
}

/* ---- damaged files ---- */

/* A format-1 checkpoint (no user block), written by st_ckpt_write before format 2 (commit 17ea0f2)
 * for sample_init(&s, 300, 4, 10). */
#define FORMAT1 TU_FIXTURE_DIR "/ckpt_format1.h5"

static void copy_file(const char *from, const char *to) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* Flips one byte in the middle of dataset `ds`'s raw data. */
static void flip_in_dataset(const char *p, const char *ds, size_t n_bytes) {
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    assert_true(d >= 0);
    haddr_t off = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    assert_true(off != HADDR_UNDEF);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    off_t at = (off_t)off + (off_t)(n_bytes / 2) + 1;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void test_damaged_files_skipped(void **state) {
    (void)state;
    char d[256], got[512], p[512];
    mk_subdir(d, sizeof d, "damaged");
    sample_t s;
    sample_init(&s, 2000, 8, 10);
    st_error_t err = {0};
    assert_int_equal(st_ckpt_save(d, &s.w, 0, NULL, 0, NULL, NULL, &err), ST_OK);
    char good[512];
    snprintf(good, sizeof good, "%s/step-000000010.h5", d);

    /* step 20: truncated to half its size. */
    snprintf(p, sizeof p, "%s/step-000000020.h5", d);
    copy_file(good, p);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size / 2), 0);
    st_ckpt_t ck;
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000020.h5: damaged or truncated");
    tu_assert_contains(err.msg, "step-000000020.h5: damaged or truncated (the file has");
    /* step 22: a format-1 checkpoint (no user block) truncated: HDF5's own checks catch it. */
    snprintf(p, sizeof p, "%s/step-000000022.h5", d);
    copy_file(FORMAT1, p);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size / 2), 0);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000022.h5: damaged or truncated: HDF5 cannot open it");
    /* step 30: one byte flipped inside /optimizer/exp_avg; step 35: inside /params. In format 1
     * our per-dataset CRCs catch it; in format 2 (steps 31, 36) the whole-file CRC, before HDF5. */
    snprintf(p, sizeof p, "%s/step-000000030.h5", d);
    copy_file(FORMAT1, p);
    flip_in_dataset(p, "/optimizer/exp_avg", 300 * 4);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000030.h5: damaged: checksum mismatch in /optimizer/exp_avg");
    snprintf(p, sizeof p, "%s/step-000000035.h5", d);
    copy_file(FORMAT1, p);
    flip_in_dataset(p, "/params", 300 * 4);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000035.h5: damaged: checksum mismatch in /params");
    snprintf(p, sizeof p, "%s/step-000000031.h5", d);
    copy_file(good, p);
    flip_in_dataset(p, "/optimizer/exp_avg", 2000 * 4);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000031.h5: damaged (checksum mismatch: bytes 512..");
    snprintf(p, sizeof p, "%s/step-000000036.h5", d);
    copy_file(good, p);
    flip_in_dataset(p, "/params", 2000 * 4);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000036.h5: damaged (checksum mismatch: bytes 512..");
    /* step 40: random bytes. */
    snprintf(p, sizeof p, "%s/step-000000040.h5", d);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    srand(7);
    for (int i = 0; i < 5000; i++) fputc(rand() & 255, fp);
    fclose(fp);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000040.h5: not a strata checkpoint (not an HDF5 file)");
    /* step 50: an HDF5 file that is not a checkpoint. */
    snprintf(p, sizeof p, "%s/step-000000050.h5", d);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dim = 3;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t ds = H5Dcreate2(f, "X", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000050.h5: not a strata checkpoint (no /params)");
    assert_int_equal(st_ckpt_peek(p, &(st_ckpt_info_t){0}, &err), ST_ERR_DATA);
    /* step 60: an empty file (killed before a byte was written, had it not been a .tmp). */
    snprintf(p, sizeof p, "%s/step-000000060.h5", d);
    fclose(fopen(p, "wb"));
    /* Stale temporaries, and files that are not ours (left alone). */
    snprintf(p, sizeof p, "%s/step-000000070.h5.tmp", d);
    copy_file(good, p);
    snprintf(p, sizeof p, "%s/best.h5.tmp", d);
    fclose(fopen(p, "wb"));
    snprintf(p, sizeof p, "%s/notes.tmp", d);
    fclose(fopen(p, "wb"));
    snprintf(p, sizeof p, "%s/step-xyz.h5", d);
    fclose(fopen(p, "wb"));

    warns_t wn = {0};
    assert_int_equal(st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err), ST_OK);
    assert_string_equal(got, good);
    assert_int_equal(wn.n, 11);
    tu_assert_contains(wn.text, "step-000000020.h5: damaged or truncated (the file has");
    tu_assert_contains(wn.text, "step-000000022.h5: damaged or truncated: HDF5 cannot open it");
    tu_assert_contains(wn.text, "step-000000030.h5: damaged: checksum mismatch in /optimizer/exp_avg; skipped");
    tu_assert_contains(wn.text, "step-000000035.h5: damaged: checksum mismatch in /params; skipped");
    tu_assert_contains(wn.text, "step-000000031.h5: damaged (checksum mismatch: bytes 512..");
    tu_assert_contains(wn.text, "step-000000036.h5: damaged (checksum mismatch: bytes 512..");
    tu_assert_contains(wn.text, "step-000000040.h5: not a strata checkpoint (not an HDF5 file); skipped");
    tu_assert_contains(wn.text, "step-000000050.h5: not a strata checkpoint (no /params); skipped");
    tu_assert_contains(wn.text, "step-000000060.h5: not a strata checkpoint (not an HDF5 file); skipped");
    tu_assert_contains(wn.text, "step-000000070.h5.tmp: removed a stale temporary file");
    tu_assert_contains(wn.text, "best.h5.tmp: removed a stale temporary file");
    snprintf(p, sizeof p, "%s/step-000000070.h5.tmp", d);
    assert_false(tu_exists(p));
    snprintf(p, sizeof p, "%s/notes.tmp", d);
    assert_true(tu_exists(p));
    /* Only damaged files: none found, each named. */
    assert_int_equal(unlink(good), 0);
    wn = (warns_t){0};
    assert_int_equal(st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err), ST_OK);
    assert_string_equal(got, "");
    assert_int_equal(wn.n, 9);
    sample_free(&s);
}

static double now_s(void);

/* ---- the user-block header (format 2): single-bit flips, old files, future formats ---- */

/* Flips bit `bit` of byte `at` of the file at p (twice restores it). */
static void flip_bit(const char *p, off_t at, int bit) {
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= (unsigned char)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* One bit flipped in every byte of a checkpoint in turn (bit = position mod 8): every read must
 * fail within a second with "<path>: damaged", never hang (alarm) or crash. Before format 2,
 * HDF5 looped forever on some flips (H5Aread of a string attribute) and crashed on others
 * (H5HG_read). */
static void test_every_bit_flip_detected(void **state) {
    (void)state;
    char d[256], p[512];
    mk_subdir(d, sizeof d, "flips");
    sample_t s;
    sample_init(&s, 2000, 8, 10);
    st_error_t err = {0};
    assert_int_equal(st_ckpt_save(d, &s.w, 0, p, sizeof p, NULL, NULL, &err), ST_OK);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    alarm(600); /* a hang fails the test program instead of stalling prove */
    long n = 0, detected = 0;
    double worst = 0, total = 0;
    for (off_t at = 0; at < sb.st_size; at++) {
        flip_bit(p, at, (int)(at % 8));
        st_ckpt_t ck;
        double t0 = now_s();
        st_status_t rc = st_ckpt_read(p, &ck, &err);
        double dt = now_s() - t0;
        st_ckpt_free(&ck);
        flip_bit(p, at, (int)(at % 8));
        n++;
        total += dt;
        worst = dt > worst ? dt : worst;
        if (rc == ST_ERR_DATA && strstr(err.msg, p) == err.msg && strstr(err.msg, ": damaged")) detected++;
        else fail_msg("byte %lld bit %d: %s", (long long)at, (int)(at % 8), rc == ST_OK ? "read as valid" : err.msg);
    }
    alarm(0);
    printf("# bit flips: %ld of %ld detected as damaged (one per byte of a %lld-byte checkpoint), %.0f us per read on "
           "average, %.1f ms at worst\n", detected, n, (long long)sb.st_size, total / n * 1e6, worst * 1e3);
    assert_true(worst < 1.0);
    /* The file itself is intact again. */
    st_ckpt_t ck;
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    assert_matches(&ck, &s);
    st_ckpt_free(&ck);
    sample_free(&s);
}

/* A checkpoint written before format 2 (no user block) reads with HDF5's and our per-dataset
 * checks, can be peeked at, and is what --resume auto falls back to behind a damaged newer one. */
static void test_old_format_reads(void **state) {
    (void)state;
    char d[256], p[512], got[512];
    mk_subdir(d, sizeof d, "old");
    snprintf(p, sizeof p, "%s/step-000000010.h5", d);
    copy_file(FORMAT1, p);
    sample_t s;
    sample_init(&s, 300, 4, 10);
    st_error_t err = {0};
    st_ckpt_t ck;
    if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_matches_format(&ck, &s, 1);
    st_ckpt_free(&ck);
    st_ckpt_info_t info;
    assert_int_equal(st_ckpt_peek(p, &info, &err), ST_OK);
    assert_int_equal(info.format_version, 1);
    assert_int_equal(info.step, 10);
    /* A newer format-2 checkpoint with one flipped bit: skipped, the old one chosen. */
    sample_t s2;
    sample_init(&s2, 300, 4, 20);
    char newer[512];
    assert_int_equal(st_ckpt_save(d, &s2.w, 0, newer, sizeof newer, NULL, NULL, &err), ST_OK);
    assert_int_equal(st_ckpt_peek(newer, &info, &err), ST_OK);
    assert_int_equal(info.format_version, ST_CKPT_FORMAT);
    flip_bit(newer, 1000, 3);
    assert_int_equal(st_ckpt_peek(newer, &info, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000020.h5: damaged (checksum mismatch");
    warns_t wn = {0};
    assert_int_equal(st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err), ST_OK);
    assert_string_equal(got, p);
    assert_int_equal(wn.n, 1);
    tu_assert_contains(wn.text, "step-000000020.h5: damaged (checksum mismatch");
    tu_assert_contains(wn.text, "; skipped");
    /* A format-1 file with a bit flipped in its HDF5 signature is damaged, not foreign. */
    flip_bit(p, 2, 0);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000010.h5: damaged (the HDF5 signature at byte 0 is damaged)");
    sample_free(&s);
    sample_free(&s2);
}

/* ---- per-head tables (/heads) ---- */

static char HEAD_NAMES[3][4][ST_NAME_MAX] = {
    {"cat", "dög", "a \"quoted\" name"}, {"red", "round"}, {"length (cm)", "weight"}};

/* Three heads: a class head with class weights, a multi-label head, a standardised regression. */
static void sample_heads(st_ckpt_head_t *h, float *cw, double *mean, double *std) {
    memset(h, 0, 3 * sizeof *h);
    cw[0] = 0.25f, cw[1] = 3.0f, cw[2] = 1.0f / 7.0f;
    mean[0] = 1.0 / 3.0, mean[1] = -2e-300, std[0] = 0.1, std[1] = 1e300;
    snprintf(h[0].head, sizeof h[0].head, "fine"), snprintf(h[0].target, sizeof h[0].target, "fine");
    h[0].kind = ST_TARGET_CLASS, h[0].width = 3, h[0].names = HEAD_NAMES[0], h[0].class_weights = cw;
    snprintf(h[1].head, sizeof h[1].head, "tags"), snprintf(h[1].target, sizeof h[1].target, "attributes");
    h[1].kind = ST_TARGET_MULTILABEL, h[1].width = 2, h[1].names = HEAD_NAMES[1];
    snprintf(h[2].target, sizeof h[2].target, "size"); /* head "": the loss of the only output */
    h[2].kind = ST_TARGET_REGRESSION, h[2].width = 2, h[2].names = HEAD_NAMES[2];
    h[2].t_mean = mean, h[2].t_std = std, h[2].standardize_targets = 1;
}

static void assert_head_equal(const st_ckpt_head_t *got, const st_ckpt_head_t *want) {
    assert_string_equal(got->head, want->head);
    assert_string_equal(got->target, want->target);
    assert_int_equal(got->kind, want->kind);
    assert_int_equal(got->width, want->width);
    assert_int_equal(got->standardize_targets, want->standardize_targets);
    for (int k = 0; k < want->width; k++) assert_string_equal(got->names[k], want->names[k]);
    if (want->class_weights) assert_memory_equal(got->class_weights, want->class_weights, 4 * (size_t)want->width);
    else assert_null(got->class_weights);
    if (want->t_mean) {
        assert_memory_equal(got->t_mean, want->t_mean, 8 * (size_t)want->width);
        assert_memory_equal(got->t_std, want->t_std, 8 * (size_t)want->width);
    } else assert_null(got->t_mean), assert_null(got->t_std);
}

/* Every head's table reads back bit for bit next to the root table; a file without /heads
 * (written before issue 13, format 2 or 1) reads with n_heads 0; a table the writer cannot
 * describe is refused naming the head. */
static void test_heads_round_trip(void **state) {
    (void)state;
    sample_t s;
    sample_init(&s, 200, 3, 77);
    st_ckpt_head_t heads[3];
    float cw[3];
    double mean[2], std[2];
    sample_heads(heads, cw, mean, std);
    s.w.n_heads = 3, s.w.heads = heads;
    st_error_t err = {0};
    const char *p = tu_tmp_path("heads.h5");
    if (st_ckpt_write(p, &s.w, &err) != ST_OK) fail_msg("%s", err.msg);
    st_ckpt_t ck;
    if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_matches(&ck, &s);
    assert_int_equal(ck.n_heads, 3);
    for (int h = 0; h < 3; h++) assert_head_equal(&ck.heads[h], &heads[h]);
    st_ckpt_free(&ck);
    assert_int_equal(ck.n_heads, 0);

    s.w.n_heads = 0; /* the layout written before issue 13 */
    const char *q = tu_tmp_path("noheads.h5");
    assert_int_equal(st_ckpt_write(q, &s.w, &err), ST_OK);
    assert_int_equal(st_ckpt_read(q, &ck, &err), ST_OK);
    assert_int_equal(ck.n_heads, 0);
    assert_null(ck.heads[0].names);
    st_ckpt_free(&ck);
    char old[512];
    snprintf(old, sizeof old, "%s", tu_tmp_path("format1.h5"));
    copy_file(FORMAT1, old);
    if (st_ckpt_read(old, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_int_equal(ck.format_version, 1);
    assert_int_equal(ck.n_heads, 0);
    st_ckpt_free(&ck);

    heads[1].width = 0; /* refused before anything is written */
    s.w.n_heads = 3;
    assert_int_equal(st_ckpt_write(tu_tmp_path("bad_heads.h5"), &s.w, &err), ST_ERR_INTERNAL);
    tu_assert_contains(err.msg, "head 1 (tags)");
    assert_int_equal(access(tu_tmp_path("bad_heads.h5"), F_OK), -1);
    sample_free(&s);
}

/* Reads the whole file at p into a new buffer. */
static unsigned char *slurp(const char *p, size_t *n) {
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    unsigned char *b = malloc((size_t)sb.st_size + 16);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fread(b, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
    fclose(f);
    *n = (size_t)sb.st_size;
    return b;
}

static void spill(const char *p, const unsigned char *b, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Headers that verify but do not fit: a newer format, bytes appended, a format-2 file without its
 * header (the HDF5 signature moved to byte 0 would need 8 bytes changed: built by hand). */
static void test_header_checks(void **state) {
    (void)state;
    char d[256], p[512];
    mk_subdir(d, sizeof d, "header");
    sample_t s;
    sample_init(&s, 300, 0, 5);
    st_error_t err = {0};
    assert_int_equal(st_ckpt_save(d, &s.w, 0, p, sizeof p, NULL, NULL, &err), ST_OK);
    size_t n = 0;
    unsigned char *b = slurp(p, &n);
    unsigned char *orig = malloc(n);
    memcpy(orig, b, n);
    char magic[8];
    memcpy(magic, b, 8);
    assert_memory_equal(magic, "\211STRATA\n", 8);
    st_ckpt_t ck;
    /* A newer format, with a header that verifies. */
    st_h5_seal(b, n, magic, ST_CKPT_FORMAT + 1);
    spill(p, b, n);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000005.h5: checkpoint format 3, but this strata reads format 2 (written by a "
                       "newer strata)");
    /* Bytes appended. */
    memcpy(b, orig, n);
    memset(b + n, 0, 16);
    spill(p, b, n + 16);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000005.h5: damaged (the file has");
    /* Shorter than the header itself. */
    spill(p, orig, 300);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000005.h5: damaged or truncated (the file has 300 bytes, fewer than its");
    /* The user block zeroed: neither signature, so not ours. */
    memcpy(b, orig, n);
    memset(b, 0, 512);
    spill(p, b, n);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    tu_assert_contains(err.msg, "step-000000005.h5: not a strata checkpoint (not an HDF5 file)");
    /* Intact again. */
    spill(p, orig, n);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    assert_matches(&ck, &s);
    st_ckpt_free(&ck);
    free(b);
    free(orig);
    sample_free(&s);
}

/* A write that fails (file size limit, or no folder) leaves the existing checkpoint intact and
 * no temporary behind. */
static void test_failed_write_keeps_existing(void **state) {
    (void)state;
    char d[256], p[512], t[520];
    mk_subdir(d, sizeof d, "fail");
    sample_t s;
    sample_init(&s, 100000, 0, 7); /* 1.2 MB */
    st_error_t err = {0};
    snprintf(p, sizeof p, "%s/step-000000007.h5", d);
    snprintf(t, sizeof t, "%s.tmp", p);
    assert_int_equal(st_ckpt_save(d, &s.w, 2, NULL, 0, NULL, NULL, &err), ST_OK);
    sample_t s2;
    sample_init(&s2, 100000, 0, 8);
    s2.w.step = 7; /* the same name, new content */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 256 << 10;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    st_status_t rc = st_ckpt_save(d, &s2.w, 2, NULL, 0, NULL, NULL, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc, ST_ERR_IO);
    tu_assert_contains(err.msg, "step-000000007.h5: cannot write the file");
    tu_assert_contains(err.msg, "nothing was written");
    assert_false(tu_exists(t));
    st_ckpt_t ck;
    if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("%s", err.msg);
    assert_matches(&ck, &s);
    st_ckpt_free(&ck);
    /* A folder whose parent does not exist. */
    snprintf(p, sizeof p, "%s/no/such", tu_tmpdir());
    assert_int_equal(st_ckpt_save(p, &s.w, 2, NULL, 0, NULL, NULL, &err), ST_ERR_IO);
    tu_assert_contains(err.msg, "no/such: cannot create the checkpoint folder: No such file or directory");
    /* Without the limit the write replaces the file. */
    assert_int_equal(st_ckpt_save(d, &s2.w, 2, NULL, 0, NULL, NULL, &err), ST_OK);
    snprintf(p, sizeof p, "%s/step-000000007.h5", d);
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    assert_float_equal(ck.params[5000], pattern(8, 5000, 0), 0);
    st_ckpt_free(&ck);
    sample_free(&s);
    sample_free(&s2);
}

/* ---- size and time for a 570k-parameter model with Adam ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_size_and_time(void **state) {
    (void)state;
    char d[256], p[512];
    mk_subdir(d, sizeof d, "big");
    sample_t s;
    sample_init(&s, 570000, 1024, 5);
    st_error_t err = {0};
    double t0 = now_s();
    assert_int_equal(st_ckpt_save(d, &s.w, 2, p, sizeof p, NULL, NULL, &err), ST_OK);
    double t1 = now_s();
    st_ckpt_t ck;
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_OK);
    double t2 = now_s();
    assert_matches(&ck, &s);
    st_ckpt_free(&ck);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    printf("# 570k parameters + Adam: %.2f MB, write %.1f ms (with fsync and read-back check), read %.1f ms\n",
           sb.st_size / 1e6, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    /* One bit flipped in the middle: refused by the whole-file CRC before HDF5 opens the file. */
    flip_bit(p, sb.st_size / 2, 5);
    double t3 = now_s();
    assert_int_equal(st_ckpt_read(p, &ck, &err), ST_ERR_DATA);
    double t4 = now_s();
    tu_assert_contains(err.msg, ": damaged (checksum mismatch");
    printf("# a flipped bit in the %.2f MB file detected in %.1f ms\n", sb.st_size / 1e6, (t4 - t3) * 1e3);
    assert_true(sb.st_size < 570000 * 12 + 200000);
    sample_free(&s);
}

/* ---- crash test ---- */

/* The child: checkpoints steps start, start+1, ... with keep_last 2 until it is killed. Every
 * array is a pattern keyed by the step, so a file mixing two writes is detected. */
static void crash_child(const char *d, long long start) {
    sample_t s;
    sample_init(&s, 60000, 64, start);
    st_error_t err = {0};
    for (long long step = start;; step++) {
        for (size_t i = 0; i < s.P; i++) {
            s.params[i] = pattern(step, i, 0);
            s.m[i] = pattern(step, i, 1);
            s.v[i] = pattern(step, i, 2);
        }
        s.w.step = step;
        s.w.optim_step = step;
        if (st_ckpt_save(d, &s.w, 2, NULL, 0, NULL, NULL, &err) != ST_OK) {
            fprintf(stderr, "child: %s\n", err.msg);
            _exit(3);
        }
    }
}

static void test_crash_sigkill(void **state) {
    (void)state;
    char d[256], got[512];
    snprintf(d, sizeof d, "%s/crash", tu_tmpdir());
    long long latest = -1;
    int n_with = 0, n_tmp_removed = 0;
    uint64_t r = 88172645463325252ull;
    for (int kill_i = 0; kill_i < 20; kill_i++) {
        /* Delays from 0 up to about 60 ms, most of them short (log-uniform). */
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        long delay_us = kill_i == 0 ? 0 : (long)exp((double)(r % 10000) / 10000.0 * log(60000.0));
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) crash_child(d, latest + 1);
        if (kill_i % 2) {
            /* Odd kills first wait for the child's first checkpoint (up to 10 s), so that the
             * test makes progress however slow the machine, then kill it 0..60 ms later. */
            char first[512];
            snprintf(first, sizeof first, "%s/step-%09lld.h5", d, latest + 1);
            for (int t = 0; t < 50000 && !tu_exists(first); t++) usleep(200);
        }
        if (delay_us > 0) usleep((useconds_t)delay_us);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("child ended by itself (status %d) after %ld us", status, delay_us);

        warns_t wn = {0};
        st_error_t err = {0};
        if (st_ckpt_find_latest(d, got, sizeof got, collect, &wn, &err) != ST_OK) fail_msg("%s", err.msg);
        if (strstr(wn.text, "skipped")) fail_msg("kill %d after %ld us: %s", kill_i, delay_us, wn.text);
        n_tmp_removed += wn.n;
        if (!got[0]) {
            if (latest >= 0) fail_msg("kill %d: checkpoint of step %lld lost", kill_i, latest);
            continue;
        }
        st_ckpt_t ck;
        if (st_ckpt_read(got, &ck, &err) != ST_OK) fail_msg("kill %d: %s", kill_i, err.msg);
        if (ck.step < latest) fail_msg("kill %d: newest is step %lld, was %lld", kill_i, (long long)ck.step, latest);
        for (size_t i = 0; i < ck.n_params; i++)
            if (ck.params[i] != pattern(ck.step, i, 0) && i > 3) fail_msg("kill %d: params[%zu] mixed", kill_i, i);
        for (size_t i = 0; i < ck.n_params; i++)
            if (ck.optim_state[1][i] != pattern(ck.step, i, 2)) fail_msg("kill %d: exp_avg_sq[%zu] mixed", kill_i, i);
        latest = ck.step;
        n_with++;
        st_ckpt_free(&ck);
        /* Every checkpoint still in the folder is whole, not only the newest. */
        DIR *dd = opendir(d);
        assert_non_null(dd);
        struct dirent *de;
        int n_files = 0;
        char names[2048] = "";
        while ((de = readdir(dd))) {
            if (de->d_name[0] == '.') continue;
            snprintf(names + strlen(names), sizeof names - strlen(names), " %s", de->d_name);
            char p[600];
            snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            if (st_ckpt_read(p, &ck, &err) != ST_OK) fail_msg("kill %d: %s", kill_i, err.msg);
            st_ckpt_free(&ck);
            n_files++;
        }
        closedir(dd);
        /* keep_last 2, plus one for each kill that came between a rename and its retention
         * (the next completed save deletes them) */
        if (n_files < 1 || n_files > 2 + kill_i) fail_msg("kill %d: %d files:%s", kill_i, n_files, names);
    }
    printf("# crash test: 20 kills, %d found a checkpoint (newest step %lld), %d stale temporaries removed\n",
           n_with, latest, n_tmp_removed);
    assert_true(n_with >= 10);
}

static int setup(void **state) {
    (void)state;
    return tu_tmpdir_create("checkpoint");
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tu_tmpdir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_restore_into_optimizer),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_latest_by_step_not_mtime),
        cmocka_unit_test(test_damaged_files_skipped),
        cmocka_unit_test(test_every_bit_flip_detected),
        cmocka_unit_test(test_old_format_reads),
        cmocka_unit_test(test_heads_round_trip),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_failed_write_keeps_existing),
        cmocka_unit_test(test_size_and_time),
        cmocka_unit_test(test_crash_sigkill),
    };
    return cmocka_run_group_tests_name("checkpoint", tests, setup, teardown);
}
