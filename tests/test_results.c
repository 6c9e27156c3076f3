/* test_results.c — the run folder (creation, the exists/resume errors), config.json, run.json
 * after create + restart + final status, history.jsonl append / truncate / compare-ignoring-
 * timing, per_class.csv and confusion.csv for a small matrix with known answers, metrics.json,
 * the epoch line and the progress bar's silence when not on a terminal. Files go to a temporary
 * folder that is removed at the end. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include <cJSON.h>

#include "jobs/progress.h"
#include "jobs/results.h"

static char tmp_root[256];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **s) {
    (void)s;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/strata_results_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **s) {
    (void)s;
    return nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp_root/<a>[/<b>] in a rotating static buffer */
static const char *tpath(const char *a, const char *b) {
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 1024, "%s/%s%s%s", tmp_root, a, b ? "/" : "", b ? b : "");
    return p;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    static char *buf;
    free(buf);
    buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static cJSON *parse_file(const char *path) {
    cJSON *d = cJSON_Parse(slurp(path));
    assert_non_null(d);
    return d;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- run folder ------------------------------------------------------------------------- */

static void test_run_dir(void **s) {
    (void)s;
    char cwd[1024], dir[512];
    st_error_t err = {0};
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp_root), 0);

    /* results/ is created when missing, with the run folder and checkpoints/ inside */
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "results", "fashion_mlp", 0, &err), ST_OK);
    assert_string_equal(dir, "results/fashion_mlp");
    assert_true(exists("results/fashion_mlp/checkpoints"));

    /* starting into it again without resume */
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "results/", "fashion_mlp", 0, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "results/fashion_mlp already exists: pass --resume auto to continue it, "
                                 "or choose another name (--set name=...)");
    /* resuming it is fine */
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "results", "fashion_mlp", 1, &err), ST_OK);
    /* resuming one that does not exist */
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "results", "nope", 1, &err), ST_ERR_CONFIG);
    assert_string_equal(err.msg, "results/nope does not exist: there is no run to resume (drop --resume to start a new run)");
    assert_false(exists("results/nope"));
    /* names that are not plain folder names */
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "results", "a/b", 0, &err), ST_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "not a plain folder name"));
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "results", "..", 0, &err), ST_ERR_CONFIG);
    /* nested results_dir created with its parents */
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, "deep/er/results", "r1", 0, &err), ST_OK);
    assert_true(exists("deep/er/results/r1/checkpoints"));

    assert_int_equal(chdir(cwd), 0);
}

static void test_config_json(void **s) {
    (void)s;
    st_error_t err = {0};
    char dir[512];
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, tpath("results", NULL), "cfg", 0, &err), ST_OK);
    const char *text = "{\n  \"name\": \"cfg\",\n  \"epochs\": 3\n}\n";
    assert_int_equal(st_write_config(dir, text, &err), ST_OK);
    assert_int_equal(st_write_config(dir, text, &err), ST_OK); /* overwrite */
    assert_string_equal(slurp(tpath("results/cfg", "config.json")), text);
    assert_false(exists(tpath("results/cfg", "config.json.tmp")));
}

/* ---- run.json --------------------------------------------------------------------------- */

static const char *str_at(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v)) fail_msg("run.json: %s is not a string", k);
    return v->valuestring;
}

static double num_at(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("%s is not a number", k);
    return v->valuedouble;
}

static void test_run_json(void **s) {
    (void)s;
    st_error_t err = {0};
    char dir[512];
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, tpath("results", NULL), "runjson", 0, &err), ST_OK);
    const char *hosts[] = {"node01", "node02"};
    st_run_info_t info = {.strata_version = "0.4.0", .git_commit = "ae86eeb", .ranks = 4, .threads_per_rank = 8,
                          .blis_kernels = "skx", .hosts = hosts, .n_hosts = 2,
                          .dataset_path = "data/fashion-mnist.h5", .dataset_fingerprint = "sha256:abcd"};
    st_run_record_t rec;
    const time_t t0 = 1700000000; /* 2023-11-14T22:13:20Z */
    assert_int_equal(st_run_record_create(&rec, dir, &info, t0, &err), ST_OK);
    st_run_record_free(&rec);

    cJSON *d = parse_file(tpath("results/runjson", "run.json"));
    assert_string_equal(str_at(d, "strata_version"), "0.4.0");
    assert_string_equal(str_at(d, "git_commit"), "ae86eeb");
    assert_int_equal((int)num_at(d, "ranks"), 4);
    assert_int_equal((int)num_at(d, "threads_per_rank"), 8);
    assert_string_equal(str_at(d, "blis_kernels"), "skx");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "hosts");
    assert_int_equal(cJSON_GetArraySize(h), 2);
    assert_string_equal(cJSON_GetArrayItem(h, 1)->valuestring, "node02");
    assert_string_equal(str_at(d, "dataset_path"), "data/fashion-mnist.h5");
    assert_string_equal(str_at(d, "dataset_fingerprint"), "sha256:abcd");
    assert_string_equal(str_at(d, "start_time"), "2023-11-14T22:13:20Z");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "end_time")));
    assert_string_equal(str_at(d, "status"), "running");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "restarts")), 0);
    cJSON_Delete(d);

    /* first run stopped by the time limit */
    assert_int_equal(st_run_record_open(&rec, dir, &err), ST_OK);
    assert_int_equal(st_run_record_set_status(&rec, "stopped after 1500 steps", t0 + 3600, &err), ST_OK);
    st_run_record_free(&rec);
    d = parse_file(tpath("results/runjson", "run.json"));
    assert_string_equal(str_at(d, "status"), "stopped after 1500 steps");
    assert_string_equal(str_at(d, "end_time"), "2023-11-14T23:13:20Z");
    cJSON_Delete(d);

    /* resumed on 2 ranks of another host, then completed */
    const char *hosts2[] = {"node07"};
    assert_int_equal(st_run_record_open(&rec, dir, &err), ST_OK);
    assert_int_equal(st_run_record_add_restart(&rec, t0 + 7200, 2, hosts2, 1, 1500, &err), ST_OK);
    d = parse_file(tpath("results/runjson", "run.json"));
    assert_string_equal(str_at(d, "status"), "running");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "end_time")));
    cJSON_Delete(d);
    assert_int_equal(st_run_record_set_status(&rec, "completed", t0 + 9000, &err), ST_OK);
    st_run_record_free(&rec);

    d = parse_file(tpath("results/runjson", "run.json"));
    assert_string_equal(str_at(d, "status"), "completed");
    assert_string_equal(str_at(d, "start_time"), "2023-11-14T22:13:20Z");
    assert_string_equal(str_at(d, "end_time"), "2023-11-15T00:43:20Z");
    assert_int_equal((int)num_at(d, "ranks"), 4); /* the original launch stays */
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(d, "restarts");
    assert_int_equal(cJSON_GetArraySize(rs), 1);
    const cJSON *r0 = cJSON_GetArrayItem(rs, 0);
    assert_string_equal(str_at(r0, "time"), "2023-11-15T00:13:20Z");
    assert_int_equal((int)num_at(r0, "ranks"), 2);
    assert_int_equal((int)num_at(r0, "resumed_from_step"), 1500);
    const cJSON *rh = cJSON_GetObjectItemCaseSensitive(r0, "hosts");
    assert_int_equal(cJSON_GetArraySize(rh), 1);
    assert_string_equal(cJSON_GetArrayItem(rh, 0)->valuestring, "node07");
    cJSON_Delete(d);
    assert_false(exists(tpath("results/runjson", "run.json.tmp")));

    /* a run folder without run.json cannot be opened */
    assert_int_equal(st_run_record_open(&rec, tpath("results/cfg", NULL), &err), ST_ERR_IO);
}

/* ---- history.jsonl ---------------------------------------------------------------------- */

static st_history_record_t hist_rec(int epoch) {
    st_history_record_t r = {0};
    r.epoch = epoch;
    r.step = 100 * epoch;
    r.lr = 0.001 / epoch;
    r.train_loss = 1.0 / (epoch + 1);
    r.train_accuracy = 0.5 + 0.1 * epoch;
    r.val_loss = 1.1 / (epoch + 1);
    r.val_accuracy = 0.45 + 0.1 * epoch;
    r.seconds = 12.5 + epoch;
    r.samples_per_s = 48000.25;
    return r;
}

static void write_history(const char *dir, int n_epochs, double seconds_offset) {
    st_error_t err = {0};
    for (int e = 1; e <= n_epochs; e++) {
        st_history_record_t r = hist_rec(e);
        r.seconds += seconds_offset;
        r.samples_per_s += seconds_offset * 7;
        if (e == 2) {
            r.has_diversity = 1;
            r.diversity = (st_pred_diversity_t){.n_distinct = 1, .top_share = 1.0, .norm_entropy = 0.0};
            snprintf(r.collapse_warning, sizeof r.collapse_warning, "predictions collapsed onto class 3 (100%%)");
            snprintf(r.param_hash, sizeof r.param_hash, "9e3779b97f4a7c15");
        }
        if (e == 3) r.val_loss = r.val_accuracy = NAN; /* written as null */
        assert_int_equal(st_history_append(dir, &r, &err), ST_OK);
    }
}

static void test_history_append_read(void **s) {
    (void)s;
    st_error_t err = {0};
    char dir[512];
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, tpath("results", NULL), "hist", 0, &err), ST_OK);
    write_history(dir, 3, 0);
    const char *path = tpath("results/hist", ST_HISTORY_FILE);

    /* one JSON object per line, keys in the documented order */
    char *text = slurp(path);
    assert_non_null(strstr(text, "{\"epoch\":1,\"step\":100,\"lr\":0.001,\"train_loss\":0.5,"));
    assert_non_null(strstr(text, "\"val_loss\":null,\"val_accuracy\":null"));
    assert_non_null(strstr(text, "\"diversity\":{\"n_distinct\":1,\"top_share\":1,\"norm_entropy\":0},"
                                 "\"collapse_warning\":\"predictions collapsed onto class 3 (100%)\","
                                 "\"param_hash\":\"9e3779b97f4a7c15\"}\n"));
    int lines = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 3);

    st_history_record_t *r = NULL;
    int n = 0;
    assert_int_equal(st_history_read(&r, &n, path, &err), ST_OK);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        st_history_record_t want = hist_rec(i + 1);
        assert_int_equal(r[i].epoch, want.epoch);
        assert_int_equal(r[i].step, want.step);
        assert_true(r[i].lr == want.lr); /* doubles round-trip exactly */
        assert_true(r[i].train_loss == want.train_loss);
        assert_true(r[i].train_accuracy == want.train_accuracy);
        assert_true(r[i].seconds == want.seconds);
        assert_true(r[i].samples_per_s == want.samples_per_s);
        if (i < 2) assert_true(r[i].val_loss == want.val_loss && r[i].val_accuracy == want.val_accuracy);
    }
    assert_true(isnan(r[2].val_loss) && isnan(r[2].val_accuracy));
    assert_int_equal(r[0].has_diversity, 0);
    assert_string_equal(r[0].collapse_warning, "");
    assert_string_equal(r[0].param_hash, "");
    assert_int_equal(r[1].has_diversity, 1);
    assert_int_equal(r[1].diversity.n_distinct, 1);
    assert_true(r[1].diversity.top_share == 1.0);
    assert_string_equal(r[1].collapse_warning, "predictions collapsed onto class 3 (100%)");
    assert_string_equal(r[1].param_hash, "9e3779b97f4a7c15");
    free(r);
}

static void test_history_truncate(void **s) {
    (void)s;
    st_error_t err = {0};
    char dir[512];
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, tpath("results", NULL), "trunc", 0, &err), ST_OK);
    /* no history yet: nothing to do */
    assert_int_equal(st_history_truncate(dir, 0, &err), ST_OK);
    assert_false(exists(tpath("results/trunc", ST_HISTORY_FILE)));

    write_history(dir, 4, 0);
    const char *path = tpath("results/trunc", ST_HISTORY_FILE);
    /* a killed run: the last line was cut short */
    FILE *f = fopen(path, "a");
    fputs("{\"epoch\":5,\"step\":500,\"lr\":0.0", f);
    fclose(f);
    st_history_record_t *r = NULL;
    int n = 0;
    assert_int_equal(st_history_read(&r, &n, path, &err), ST_OK);
    assert_int_equal(n, 4);
    free(r);

    /* resume from step 250: epochs 1 and 2 stay, byte for byte */
    char before[4096];
    snprintf(before, sizeof before, "%s", slurp(path));
    assert_int_equal(st_history_truncate(dir, 250, &err), ST_OK);
    char *after = slurp(path);
    char *third = strstr(before, "{\"epoch\":3");
    assert_non_null(third);
    *third = '\0';
    assert_string_equal(after, before);
    assert_int_equal(st_history_read(&r, &n, path, &err), ST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].step, 200);
    free(r);
    assert_false(exists(tpath("results/trunc", ST_HISTORY_FILE ".tmp")));
    /* step 200 exactly is kept (step <= the given step) */
    assert_int_equal(st_history_truncate(dir, 200, &err), ST_OK);
    assert_int_equal(st_history_read(&r, &n, path, &err), ST_OK);
    assert_int_equal(n, 2);
    free(r);
    assert_int_equal(st_history_truncate(dir, 0, &err), ST_OK);
    assert_string_equal(slurp(path), "");

    /* a broken line that is not the last one is an error naming it */
    f = fopen(path, "w");
    fputs("{\"epoch\":1,\"step\":100}\nnot json\n{\"epoch\":3,\"step\":300}\n", f);
    fclose(f);
    assert_int_equal(st_history_truncate(dir, 1000, &err), ST_ERR_DATA);
    assert_non_null(strstr(err.msg, "history.jsonl line 2: not a JSON object"));
    /* the reader wants every numeric key */
    f = fopen(path, "w");
    fputs("{\"epoch\":1,\"step\":100}\n", f);
    fclose(f);
    assert_int_equal(st_history_read(&r, &n, path, &err), ST_ERR_DATA);
    assert_non_null(strstr(err.msg, "history.jsonl line 1: \"lr\" is missing or not a number"));
}

static void test_history_compare(void **s) {
    (void)s;
    st_error_t err = {0};
    char a[512], b[512], c[512], where[256];
    int differ = -1;
    assert_int_equal(st_run_dir_prepare(a, sizeof a, tpath("results", NULL), "cmp_a", 0, &err), ST_OK);
    assert_int_equal(st_run_dir_prepare(b, sizeof b, tpath("results", NULL), "cmp_b", 0, &err), ST_OK);
    assert_int_equal(st_run_dir_prepare(c, sizeof c, tpath("results", NULL), "cmp_c", 0, &err), ST_OK);
    write_history(a, 3, 0);
    write_history(b, 3, 5.25); /* other timings only */
    const char *pa = tpath("results/cmp_a", ST_HISTORY_FILE), *pb = tpath("results/cmp_b", ST_HISTORY_FILE),
               *pc = tpath("results/cmp_c", ST_HISTORY_FILE);
    assert_int_equal(st_history_compare(&differ, where, sizeof where, pa, pb, &err), ST_OK);
    assert_int_equal(differ, 0);
    assert_string_equal(where, "");

    /* one value in epoch 2 differs in the last bits: caught */
    for (int e = 1; e <= 3; e++) {
        st_history_record_t r = hist_rec(e);
        if (e == 2) {
            r.has_diversity = 1;
            r.diversity = (st_pred_diversity_t){.n_distinct = 1, .top_share = 1.0, .norm_entropy = 0.0};
            snprintf(r.collapse_warning, sizeof r.collapse_warning, "predictions collapsed onto class 3 (100%%)");
            snprintf(r.param_hash, sizeof r.param_hash, "9e3779b97f4a7c15");
            r.val_loss = nextafter(r.val_loss, 1.0);
        }
        if (e == 3) r.val_loss = r.val_accuracy = NAN;
        assert_int_equal(st_history_append(c, &r, &err), ST_OK);
    }
    assert_int_equal(st_history_compare(&differ, where, sizeof where, pa, pc, &err), ST_OK);
    assert_int_equal(differ, 1);
    assert_string_equal(where, "line 2 (epoch 2): val_loss: 0.3666666666666667 vs 0.36666666666666675");

    /* a key present on one side only */
    FILE *f = fopen(pc, "w");
    fclose(f);
    write_history(c, 3, 0);
    st_history_record_t r = hist_rec(4), r2 = hist_rec(4);
    snprintf(r2.param_hash, sizeof r2.param_hash, "00ff");
    assert_int_equal(st_history_append(a, &r, &err), ST_OK);
    assert_int_equal(st_history_append(c, &r2, &err), ST_OK);
    assert_int_equal(st_history_compare(&differ, where, sizeof where, pa, pc, &err), ST_OK);
    assert_int_equal(differ, 1);
    assert_string_equal(where, "line 4 (epoch 4): param_hash: (absent) vs \"00ff\"");

    /* different lengths (b has no epoch 4) */
    assert_int_equal(st_history_compare(&differ, where, sizeof where, pa, pb, &err), ST_OK);
    assert_int_equal(differ, 1);
    assert_string_equal(where, "a has 4 lines, b has 3");

    /* a missing file is an error, not a difference */
    assert_int_equal(st_history_compare(&differ, where, sizeof where, pa, tpath("nothing", NULL), &err), ST_ERR_IO);
}

/* ---- per-class CSVs and metrics.json ---------------------------------------------------- */

/* rows = true class, columns = predicted class. Class 2 has no support but is predicted once.
 *   precision 5/7, 3/4, 0; recall 5/6, 3/6, 0; f1 = 2TP/(2TP+FP+FN) = 10/13, 6/10, 0;
 *   accuracy 8/12; macro F1 over the 3 classes present (class 2 as a prediction) = (10/13+0.6)/3 */
static const int64_t conf3[9] = {5, 1, 0,
                                 2, 3, 1,
                                 0, 0, 0};
static const char *const names3[3] = {"T-shirt, top", "Trouser", "Bag"};

static void test_class_csvs(void **s) {
    (void)s;
    st_error_t err = {0};
    char dir[512];
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, tpath("results", NULL), "csv", 0, &err), ST_OK);
    assert_int_equal(st_write_class_csvs(dir, ST_VAL_PREFIX, conf3, names3, 3, &err), ST_OK);
    assert_int_equal(st_write_class_csvs(dir, ST_TEST_PREFIX, conf3, names3, 3, &err), ST_OK);
    const char *per_class = "class,name,support,precision,recall,f1,accuracy\n"
                            "0,\"T-shirt, top\",6,0.714286,0.833333,0.769231,0.833333\n"
                            "1,Trouser,6,0.750000,0.500000,0.600000,0.500000\n"
                            "2,Bag,0,0.000000,0.000000,0.000000,0.000000\n";
    const char *confusion = "true\\predicted,\"T-shirt, top\",Trouser,Bag\n"
                            "\"T-shirt, top\",5,1,0\n"
                            "Trouser,2,3,1\n"
                            "Bag,0,0,0\n";
    assert_string_equal(slurp(tpath("results/csv", "val_per_class.csv")), per_class);
    assert_string_equal(slurp(tpath("results/csv", "val_confusion.csv")), confusion);
    assert_string_equal(slurp(tpath("results/csv", "per_class.csv")), per_class);
    assert_string_equal(slurp(tpath("results/csv", "confusion.csv")), confusion);

    /* without names the class index is the name */
    const int64_t conf2[4] = {1, 0, 0, 1};
    assert_int_equal(st_write_class_csvs(dir, "x_", conf2, NULL, 2, &err), ST_OK);
    assert_string_equal(slurp(tpath("results/csv", "x_confusion.csv")), "true\\predicted,0,1\n0,1,0\n1,0,1\n");
}

static void test_metrics_json(void **s) {
    (void)s;
    st_error_t err = {0};
    char dir[512];
    assert_int_equal(st_run_dir_prepare(dir, sizeof dir, tpath("results", NULL), "metrics", 0, &err), ST_OK);
    st_final_metrics_t m = {.split = "test", .loss = 0.8125, .checkpoint = "checkpoints/best.ckpt",
                            .conf = conf3, .class_names = names3, .K = 3};
    assert_int_equal(st_write_metrics_json(dir, &m, &err), ST_OK);
    cJSON *d = parse_file(tpath("results/metrics", "metrics.json"));
    assert_float_equal(num_at(d, "accuracy"), 8.0 / 12, 1e-15);
    assert_float_equal(num_at(d, "loss"), 0.8125, 0);
    assert_float_equal(num_at(d, "macro_f1"), (10.0 / 13 + 0.6) / 3, 1e-15);
    assert_string_equal(str_at(d, "split"), "test");
    assert_int_equal((int)num_at(d, "n_samples"), 12);
    assert_string_equal(str_at(d, "checkpoint"), "checkpoints/best.ckpt");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(d, "per_class");
    assert_int_equal(cJSON_GetArraySize(pc), 3);
    const cJSON *c0 = cJSON_GetArrayItem(pc, 0), *c1 = cJSON_GetArrayItem(pc, 1);
    assert_string_equal(str_at(c0, "name"), "T-shirt, top");
    assert_float_equal(num_at(c0, "precision"), 5.0 / 7, 1e-15);
    assert_float_equal(num_at(c0, "recall"), 5.0 / 6, 1e-15);
    assert_float_equal(num_at(c0, "f1"), 10.0 / 13, 1e-15);
    assert_int_equal((int)num_at(c0, "support"), 6);
    assert_float_equal(num_at(c1, "f1"), 0.6, 1e-15);
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(d, "confusion");
    assert_int_equal(cJSON_GetArraySize(cm), 3);
    for (int r = 0; r < 3; r++) {
        const cJSON *row = cJSON_GetArrayItem(cm, r);
        assert_int_equal(cJSON_GetArraySize(row), 3);
        for (int c = 0; c < 3; c++) assert_int_equal((int64_t)cJSON_GetArrayItem(row, c)->valuedouble, conf3[r * 3 + c]);
    }
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "class_names"), 2)->valuestring, "Bag");
    cJSON_Delete(d);
}

/* ---- terminal --------------------------------------------------------------------------- */

static void test_epoch_line(void **s) {
    (void)s;
    char line[512];
    st_epoch_line_t e = {.epoch = 3, .n_epochs = 20, .train_loss = 0.41234, .train_accuracy = 0.85123,
                         .val_loss = 0.44012, .val_accuracy = 0.843, .lr = 0.001, .seconds = 12.34,
                         .samples_per_s = 48213.4, .best = 1, .checkpoint = 1};
    st_epoch_line_format(line, sizeof line, &e);
    assert_string_equal(line, "epoch  3/20  train loss 0.4123 acc 85.12%  val loss 0.4401 acc 84.30%  lr 0.001  "
                              "12.3 s  48213 samples/s  [best, checkpoint]");
    e.best = 0;
    e.val_loss = e.val_accuracy = NAN;
    e.epoch = 12;
    e.lr = 3e-4;
    e.collapse_warning = "predictions collapsed onto class 3 (97.5% of val)";
    st_epoch_line_format(line, sizeof line, &e);
    assert_string_equal(line, "epoch 12/20  train loss 0.4123 acc 85.12%  val -  lr 0.0003  12.3 s  48213 samples/s"
                              "  [checkpoint]  WARNING: predictions collapsed onto class 3 (97.5% of val)");
    e.checkpoint = 0;
    e.collapse_warning = NULL;
    e.n_epochs = 5;
    e.epoch = 5;
    st_epoch_line_format(line, sizeof line, &e);
    assert_string_equal(line, "epoch 5/5  train loss 0.4123 acc 85.12%  val -  lr 0.0003  12.3 s  48213 samples/s");
    FILE *f = tmpfile();
    st_epoch_line_print(f, &e);
    rewind(f);
    char back[512] = "";
    assert_non_null(fgets(back, sizeof back, f));
    fclose(f);
    strcat(line, "\n");
    assert_string_equal(back, line);
}

static long file_size(FILE *f) {
    fflush(f);
    fseek(f, 0, SEEK_END);
    return ftell(f);
}

static void test_progress_bar(void **s) {
    (void)s;
    /* not a terminal (a file): nothing within the epoch */
    FILE *f = tmpfile();
    st_progress_t p;
    st_progress_begin(&p, f, ST_PROGRESS_AUTO, 1, 10, 500);
    for (int i = 1; i <= 500; i++) st_progress_update(&p, i, 64 * i, 1.0 / i);
    st_progress_end(&p);
    assert_int_equal(file_size(f), 0);
    fclose(f);

    /* forced on: drawn with \r at most every 0.1 s, then erased */
    f = tmpfile();
    st_progress_begin(&p, f, ST_PROGRESS_ALWAYS, 2, 10, 500);
    for (int i = 1; i <= 500; i++) st_progress_update(&p, i, 64 * i, 0.5);
    st_progress_end(&p);
    rewind(f);
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int draws = 0;
    for (char *q = buf; (q = strstr(q, "\repoch")); q++) draws++;
    assert_true(draws >= 1 && draws <= 2); /* a fast loop: one draw (two on a very slow machine) */
    assert_non_null(strstr(buf, "\repoch  2/10 [>                       ] 1/500 steps  "));
    assert_non_null(strstr(buf, "samples/s  loss 0.5000"));
    assert_int_equal(buf[n - 1], '\r'); /* erased: ends with "\r<spaces>\r" */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_dir),
        cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_run_json),
        cmocka_unit_test(test_history_append_read),
        cmocka_unit_test(test_history_truncate),
        cmocka_unit_test(test_history_compare),
        cmocka_unit_test(test_class_csvs),
        cmocka_unit_test(test_metrics_json),
        cmocka_unit_test(test_epoch_line),
        cmocka_unit_test(test_progress_bar),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
