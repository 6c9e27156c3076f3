/* checkpoint.c — training checkpoints (jobs/checkpoint.h, docs/checkpoints.md): writing one
 * atomically, reading and validating one (layout, sizes, checksums), choosing the newest valid
 * one in a folder, and retention.
 *
 * The file is built in memory by HDF5's core driver and written to disk by our own write(), as
 * sharding/dataset.c does (both through sharding/h5util.c): HDF5 1.10 cannot recover from a
 * failed H5Fclose on a real file (disk full, file size limit) and crashes when it shuts down; in
 * memory nothing fails that way and write() reports errno. Files use the 1.8 object format
 * (superblock v2, object header v2), whose metadata HDF5 itself checksums; our crc32 attributes
 * cover the raw data and the global heap (strings), which HDF5 does not. Since format 2 a header
 * in the HDF5 user block (sharding/h5util.h, "sealed files") checksums the whole file, and it is
 * verified before HDF5 opens the file: HDF5 1.10 can loop forever or crash on some damaged
 * metadata before any of those checksums is looked at. */
#include "checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "sharding/h5guard.h"
#include "sharding/h5util.h"

#define FORMAT_ATTR "strata_checkpoint_format"

/* The signature of the header in a checkpoint's user block (format 2 on; sharding/h5util.h). */
static const char CKPT_MAGIC[8] = {'\211', 'S', 'T', 'R', 'A', 'T', 'A', '\n'};

static const char *const KIND_NAMES[3] = {"last", "best", "periodic"};

const char *st_ckpt_kind_name(st_ckpt_kind_t kind) {
    return (unsigned)kind < 3 ? KIND_NAMES[kind] : "unknown";
}

int st_ckpt_file_name(char *out, size_t size, st_ckpt_kind_t kind, int64_t step) {
    if (kind == ST_CKPT_BEST) return st_format(out, size, "best.h5");
    return st_format(out, size, "step-%09lld.h5", (long long)step);
}

/* ---- checksums ---------------------------------------------------------------------------- */

static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n) {
    return n ? (uint32_t)crc32_z(crc, (const Bytef *)p, n) : crc;
}

/* crc32 over the counters (int64 little-endian, in the order of `c`) and then every string with
 * its terminating NUL: kind, created, dataset_fingerprint, config, optimizer state names, class
 * names. (docs/checkpoints.md) */
static uint32_t meta_crc(const int64_t c[6], const char *kind, const char *created, const char *fp,
                         const char *config, int n_state, const char *const *state_names, int k,
                         const char *const *class_names) {
    uint32_t crc = crc_bytes(0, c, 6 * sizeof c[0]);
    const char *s[4] = {kind, created, fp, config};
    for (int i = 0; i < 4; i++) crc = crc_bytes(crc, s[i], strlen(s[i]) + 1);
    for (int i = 0; i < n_state; i++) crc = crc_bytes(crc, state_names[i], strlen(state_names[i]) + 1);
    for (int i = 0; i < k; i++) crc = crc_bytes(crc, class_names[i], strlen(class_names[i]) + 1);
    return crc;
}

/* ---- write -------------------------------------------------------------------------------- */

static st_status_t check_write(const char *path, const st_ckpt_write_t *w, st_error_t *err) {
#define BAD(...) return st_fail(err, ST_ERR_INTERNAL, __VA_ARGS__)
    if ((unsigned)w->kind > 2) BAD("%s: checkpoint kind %d is not last, best or periodic", path, (int)w->kind);
    if (w->n_params > 0 && !w->params) BAD("%s: checkpoint without parameters", path);
    if (w->n_buffers > 0 && !w->buffers) BAD("%s: checkpoint without buffers", path);
    if (w->n_optim_state < 0 || w->n_optim_state > ST_CKPT_MAX_STATE)
        BAD("%s: %d optimizer state arrays (at most %d)", path, w->n_optim_state, ST_CKPT_MAX_STATE);
    for (int k = 0; k < w->n_optim_state; k++) {
        const char *nm = w->optim_state_names[k];
        if (!nm || !nm[0] || strlen(nm) >= ST_CKPT_STATE_NAME_MAX || strchr(nm, '/') || !strcmp(nm, "."))
            BAD("%s: optimizer state %d has no usable name", path, k);
        if (w->n_params > 0 && !w->optim_state[k]) BAD("%s: optimizer state %s is NULL", path, nm);
        for (int j = 0; j < k; j++)
            if (!strcmp(nm, w->optim_state_names[j])) BAD("%s: optimizer state %s appears twice", path, nm);
    }
    if (w->n_sched_state < 0 || w->n_sched_state > ST_CKPT_MAX_DOUBLES || (w->n_sched_state && !w->sched_state))
        BAD("%s: schedule state of %d values", path, w->n_sched_state);
    if (w->n_early_stop < 0 || w->n_early_stop > ST_CKPT_MAX_DOUBLES || (w->n_early_stop && !w->early_stop))
        BAD("%s: early-stopping state of %d values", path, w->n_early_stop);
    if (w->epoch < 0 || w->step < 0 || w->step_in_epoch < 0 || w->nonfinite_steps < 0 || w->optim_step < 0)
        BAD("%s: negative counter (epoch %lld, step %lld, step_in_epoch %lld, nonfinite_steps %lld, optimizer "
            "step %lld)", path, (long long)w->epoch, (long long)w->step, (long long)w->step_in_epoch,
            (long long)w->nonfinite_steps, (long long)w->optim_step);
    if (!w->config_json) BAD("%s: checkpoint without the resolved config", path);
    if (!w->std_mean != !w->std_std || (w->std_mean && w->n_features < 1))
        BAD("%s: standardisation statistics need mean and std of n_features >= 1", path);
    if (w->n_classes < 1 || w->n_classes > ST_CKPT_MAX_CLASSES || !w->class_names)
        BAD("%s: %d classes (or no class names)", path, w->n_classes);
    for (int i = 0; i < w->n_classes; i++)
        if (!w->class_names[i]) BAD("%s: class name %d is NULL", path, i);
    if (w->n_feature_names < 0 || w->n_feature_names > ST_CKPT_MAX_CLASSES || (w->n_feature_names && !w->feature_names))
        BAD("%s: %d feature names", path, w->n_feature_names);
    for (int i = 0; i < w->n_feature_names; i++)
        if (!w->feature_names[i]) BAD("%s: feature name %d is NULL", path, i);
    if (w->n_heads < 0 || w->n_heads > ST_CKPT_MAX_HEADS || (w->n_heads && !w->heads))
        BAD("%s: %d heads (at most %d)", path, w->n_heads, ST_CKPT_MAX_HEADS);
    for (int h = 0; h < w->n_heads; h++) {
        const st_ckpt_head_t *hd = &w->heads[h];
        if ((unsigned)hd->kind > ST_TARGET_SEQUENCE || hd->width < 1 || hd->width > ST_CKPT_MAX_CLASSES || !hd->names ||
            !hd->target[0] || !hd->t_mean != !hd->t_std)
            BAD("%s: head %d (%s): kind %d, width %d, names, target \"%s\" or statistics missing", path, h, hd->head,
                (int)hd->kind, hd->width, hd->target);
    }
    return ST_OK;
#undef BAD
}

static int write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, mtype, v) >= 0;
    if (a >= 0) ok = H5Aclose(a) >= 0 && ok;
    H5Sclose(s);
    return ok;
}

static int write_i64_attr(hid_t obj, const char *name, int64_t v) {
    return write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static int write_str_attr(hid_t obj, const char *name, const char *v) {
    return st_h5_write_string_attr(obj, name, &v, -1);
}

/* A 1-d string dataset [n] (or a scalar one when n < 0) of variable-length UTF-8 strings. */
static int write_strings(hid_t loc, const char *name, const char *const *v, int n) {
    hid_t t = st_h5_vlen_str_type();
    hsize_t dim = (hsize_t)(n < 0 ? 1 : n);
    hid_t s = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    if (d >= 0) ok = H5Dclose(d) >= 0 && ok;
    H5Sclose(s);
    H5Tclose(t);
    return ok;
}

/* A 1-d numeric dataset of n elements with its crc32 attribute. */
static int write_array(hid_t loc, const char *name, hid_t ftype, hid_t mtype, size_t elem, size_t n,
                       const void *buf) {
    hsize_t dim = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    uint32_t crc = crc_bytes(0, buf, n * elem);
    ok = ok && write_attr(d, "crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc);
    if (d >= 0) ok = H5Dclose(d) >= 0 && ok;
    H5Sclose(s);
    return ok;
}

/* crc32 of one head's strings and numbers (docs/checkpoints.md): head, target, kind with their
 * NULs, width and standardize_targets as int64 little-endian, then every name with its NUL. */
static uint32_t head_crc(const st_ckpt_head_t *hd) {
    const char *s[3] = {hd->head, hd->target, st_target_kind_name(hd->kind)};
    uint32_t crc = 0;
    for (int i = 0; i < 3; i++) crc = crc_bytes(crc, s[i], strlen(s[i]) + 1);
    int64_t v[2] = {hd->width, hd->standardize_targets};
    crc = crc_bytes(crc, v, sizeof v);
    for (int k = 0; k < hd->width; k++) crc = crc_bytes(crc, hd->names[k], strlen(hd->names[k]) + 1);
    return crc;
}

/* /heads/<h>: one loss's table. */
static int write_head(hid_t heads, int h, const st_ckpt_head_t *hd) {
    char gname[16];
    st_format(gname, sizeof gname, "%d", h);
    hid_t g = H5Gcreate2(heads, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return 0;
    const char **names = malloc(sizeof *names * (size_t)hd->width);
    int ok = names != NULL;
    for (int k = 0; ok && k < hd->width; k++) names[k] = hd->names[k];
    uint32_t crc = head_crc(hd);
    size_t K = (size_t)hd->width;
    ok = ok && write_str_attr(g, "head", hd->head) && write_str_attr(g, "target", hd->target) &&
         write_str_attr(g, "kind", st_target_kind_name(hd->kind)) && write_i64_attr(g, "width", hd->width) &&
         write_i64_attr(g, "standardize_targets", hd->standardize_targets) &&
         write_attr(g, "meta_crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc) &&
         write_strings(g, "names", names, hd->width);
    if (ok && hd->class_weights)
        ok = write_array(g, "class_weights", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, K, hd->class_weights);
    if (ok && hd->t_mean)
        ok = write_array(g, "target_mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, K, hd->t_mean) &&
             write_array(g, "target_std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, K, hd->t_std);
    free(names);
    return H5Gclose(g) >= 0 && ok;
}

static int write_heads(hid_t f, const st_ckpt_write_t *w) {
    hid_t g = H5Gcreate2(f, "heads", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return 0;
    int ok = write_i64_attr(g, "n_heads", w->n_heads);
    for (int h = 0; ok && h < w->n_heads; h++) ok = write_head(g, h, &w->heads[h]);
    return H5Gclose(g) >= 0 && ok;
}

/* Writes the whole layout into the open file f; returns a description of the step that failed. */
static const char *write_contents(hid_t f, const st_ckpt_write_t *w, int64_t created_unix, const char *created) {
    const char *fp = w->dataset_fingerprint ? w->dataset_fingerprint : "";
    const char *kind = st_ckpt_kind_name(w->kind);
    if (!write_array(f, "params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, w->n_params, w->params))
        return "cannot write /params";
    if (!write_array(f, "buffers", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, w->n_buffers, w->buffers))
        return "cannot write /buffers";
    hid_t g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return "cannot create /optimizer";
    int ok = write_i64_attr(g, "n_state", w->n_optim_state);
    if (ok && w->n_optim_state > 0)
        ok = st_h5_write_string_attr(g, "state_names", w->optim_state_names, w->n_optim_state);
    for (int k = 0; ok && k < w->n_optim_state; k++)
        ok = write_array(g, w->optim_state_names[k], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, w->n_params,
                         w->optim_state[k]);
    ok = H5Gclose(g) >= 0 && ok;
    if (!ok) return "cannot write /optimizer";
    if (!write_array(f, "schedule", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, (size_t)w->n_sched_state, w->sched_state))
        return "cannot write /schedule";
    if (!write_array(f, "early_stop", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, (size_t)w->n_early_stop, w->early_stop))
        return "cannot write /early_stop";
    if (!write_strings(f, "config", &w->config_json, -1)) return "cannot write /config";
    if (!write_strings(f, "class_names", w->class_names, w->n_classes)) return "cannot write /class_names";
    if (w->n_feature_names > 0 && !write_strings(f, "feature_names", w->feature_names, w->n_feature_names))
        return "cannot write /feature_names";
    if (w->class_weights &&
        !write_array(f, "class_weights", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, (size_t)w->n_classes, w->class_weights))
        return "cannot write /class_weights";
    if (w->std_mean) {
        g = H5Gcreate2(f, "standardize", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return "cannot create /standardize";
        ok = write_array(g, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, (size_t)w->n_features, w->std_mean) &&
             write_array(g, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, (size_t)w->n_features, w->std_std);
        ok = H5Gclose(g) >= 0 && ok;
        if (!ok) return "cannot write /standardize";
    }
    if (w->n_heads > 0 && !write_heads(f, w)) return "cannot write /heads";
    int64_t c[6] = {w->epoch, w->step, w->step_in_epoch, w->nonfinite_steps, w->optim_step, created_unix};
    uint32_t mcrc = meta_crc(c, kind, created, fp, w->config_json, w->n_optim_state, w->optim_state_names,
                             w->n_classes, w->class_names);
    ok = write_i64_attr(f, FORMAT_ATTR, ST_CKPT_FORMAT) && write_str_attr(f, "kind", kind) &&
         write_str_attr(f, "created", created) && write_i64_attr(f, "created_unix", created_unix) &&
         write_i64_attr(f, "epoch", w->epoch) && write_i64_attr(f, "step", w->step) &&
         write_i64_attr(f, "step_in_epoch", w->step_in_epoch) &&
         write_i64_attr(f, "nonfinite_steps", w->nonfinite_steps) && write_i64_attr(f, "optimizer_step", w->optim_step) &&
         write_str_attr(f, "dataset_fingerprint", fp) &&
         write_attr(f, "meta_crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &mcrc);
    return ok ? NULL : "cannot write the root attributes";
}

static st_status_t read_file(const char *path, const char *name, st_ckpt_t *ck, st_error_t *err);

/* st_h5_commit_t.read_back: the written temporary through the full validation; ctx is the path
 * messages name. */
static int read_back(const char *tmp, const void *ctx, char *detail, size_t size) {
    st_ckpt_t back;
    st_error_t e2 = {0};
    int ok = read_file(tmp, ctx, &back, &e2) == ST_OK;
    if (!ok) st_format(detail, size, " (%s)", e2.msg);
    st_ckpt_free(&back);
    return ok;
}

st_status_t st_ckpt_write(const char *path, const st_ckpt_write_t *w, st_error_t *err) {
    st_h5_quiet();
    ST_TRY(check_write(path, w, err));
    char tmp[4200];
    if (st_format(tmp, sizeof tmp, "%s.tmp", path)) return st_fail(err, ST_ERR_IO, "%s: path too long", path);
    int64_t created_unix = w->created_unix ? w->created_unix : (int64_t)time(NULL);
    char created[32] = "";
    time_t tt = (time_t)created_unix;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* Build the file in memory, growing in steps of about its final size. */
    size_t estimate = (w->n_params * (size_t)(1 + w->n_optim_state) + w->n_buffers + (size_t)w->n_classes) * 4 +
                      (size_t)w->n_features * 16 + strlen(w->config_json) + (size_t)w->n_classes * 32 + (1u << 16);
    for (int h = 0; h < w->n_heads; h++) estimate += (size_t)w->heads[h].width * 96 + 1024;
    st_h5_image_t img = {0};
    hid_t fapl = st_h5_image_fapl(&img, estimate);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, ST_H5_SEAL_SIZE); /* room for the header st_h5_seal writes after the close */
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (f < 0) return st_h5_fail(err, ST_ERR_IO, path, "cannot create the checkpoint in memory");
    const char *failed = write_contents(f, w, created_unix, created);
    char detail[300] = "";
    if (failed) st_h5_detail(detail, sizeof detail);
    if (H5Fclose(f) < 0 && !failed) { /* in memory, without a backing store: nothing reaches the disk */
        failed = "cannot finish the file";
        st_h5_detail(detail, sizeof detail);
    }
    /* The image is that of a cleanly closed file (handed over at close, sharding/h5util.c); its
     * length comes from its superblock, after the user block. (An image taken with
     * H5Fget_file_image before the close fails HDF5's own metadata checksums in this format.) */
    size_t size = failed || !img.kept ? 0 : st_h5_image_length(&img, ST_H5_SEAL_SIZE);
    if (!failed && !size) failed = "cannot finish the file (no complete image from the HDF5 core driver)";
    if (!failed) st_h5_seal(img.mem, size, CKPT_MAGIC, ST_CKPT_FORMAT);
    /* Read the temporary back through the full validation before it replaces anything. */
    const st_h5_commit_t commit = {path, tmp, O_CLOEXEC, read_back, path, 1};
    return st_h5_image_commit(&commit, &img, size, failed, detail, sizeof detail, err);
}

/* ---- read --------------------------------------------------------------------------------- */

static void free_strs(char **s, int n);

void st_ckpt_free(st_ckpt_t *ck) {
    if (!ck) return;
    free(ck->params);
    free(ck->buffers);
    for (int k = 0; k < ST_CKPT_MAX_STATE; k++) free(ck->optim_state[k]);
    free(ck->config_json);
    free(ck->std_mean);
    free(ck->std_std);
    free(ck->class_weights);
    if (ck->class_names)
        for (int i = 0; i < ck->n_classes; i++) free(ck->class_names[i]);
    free(ck->class_names);
    free_strs(ck->feature_names, ck->n_feature_names);
    for (int h = 0; h < ST_CKPT_MAX_HEADS; h++) {
        st_ckpt_head_t *hd = &ck->heads[h];
        free(hd->names), free(hd->class_weights), free(hd->t_mean), free(hd->t_std);
    }
    free(ck->dataset_fingerprint);
    char path[sizeof ck->path];
    memcpy(path, ck->path, sizeof path);
    memset(ck, 0, sizeof *ck);
    memcpy(ck->path, path, sizeof path);
}

/* The checkpoint's seal, from the raw bytes, before HDF5 may parse any of them (HDF5 can loop
 * forever or crash on some damaged files): *sealed gets the header's format version, or 0 for a
 * file without a header (format 1, written before headers: HDF5's own checks only).
 *
 * Built with -DST_CKPT_NO_INTEGRITY, this check is skipped (*sealed = -1: unknown) and every
 * file goes straight to HDF5: for a fuzz harness that feeds damaged files to the HDF5 parsing
 * behind it. Never ship such a build: a damaged checkpoint can then hang or crash strata. */
static st_status_t check_seal(const char *path, const char *name, int *sealed, st_error_t *err) {
#ifdef ST_CKPT_NO_INTEGRITY
    (void)path, (void)name, (void)err;
    *sealed = -1;
    return ST_OK;
#else
    uint32_t version = 0;
    char why[300];
    st_h5_seal_state_t st = st_h5_seal_check(path, CKPT_MAGIC, &version, why, sizeof why);
    *sealed = 0;
    switch (st) {
    case ST_H5_SEAL_OK: break;
    case ST_H5_SEAL_NONE: return ST_OK;
    case ST_H5_SEAL_FOREIGN: return st_fail(err, ST_ERR_DATA, "%s: not a strata checkpoint (not an HDF5 file)", name);
    case ST_H5_SEAL_DAMAGED: return st_fail(err, ST_ERR_DATA, "%s: damaged (%s)", name, why);
    case ST_H5_SEAL_TRUNCATED: return st_fail(err, ST_ERR_DATA, "%s: damaged or truncated (%s)", name, why);
    default: return st_fail(err, ST_ERR_IO, "%s: %s", name, why);
    }
    if (version > ST_CKPT_FORMAT)
        return st_fail(err, ST_ERR_DATA, "%s: checkpoint format %u, but this strata reads format %d (written by a newer "
                       "strata)", name, version, ST_CKPT_FORMAT);
    if (version < 2)
        return st_fail(err, ST_ERR_DATA, "%s: damaged (its header says format %u, which has no header)", name, version);
    *sealed = (int)version;
    return ST_OK;
#endif
}

/* The format attribute agrees with the header: format 1 has none, later formats theirs. */
static st_status_t check_sealed_version(const char *name, int sealed, int version, st_error_t *err) {
    if (sealed < 0 || (sealed == 0 && version == 1) || sealed == version) return ST_OK;
    if (sealed == 0)
        return st_fail(err, ST_ERR_DATA, "%s: damaged (format %d, but without the header of that format)", name, version);
    return st_fail(err, ST_ERR_DATA, "%s: damaged (its header says format %d, its %s attribute %d)", name, sealed,
                   FORMAT_ATTR, version);
}

/* Opens `path` read-only after checking its seal (*sealed, see check_seal); `name` is how
 * messages call it. */
static st_status_t open_ckpt(const char *path, const char *name, hid_t *f, int *sealed, st_error_t *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return st_fail(err, ST_ERR_IO, "%s: cannot open: %s", name, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return st_fail(err, ST_ERR_IO, "%s: not a regular file", name);
    ST_TRY(check_seal(path, name, sealed, err));
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) return st_fail(err, ST_ERR_DATA, "%s: not a strata checkpoint (not an HDF5 file)", name);
    if (is < 0) return st_h5_fail(err, ST_ERR_IO, name, "cannot read the file");
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged or truncated: HDF5 cannot open it");
    return ST_OK;
}

static st_status_t read_i64_attr(hid_t obj, const char *name, const char *attr, int64_t *v, st_error_t *err) {
    if (H5Aexists(obj, attr) <= 0) return st_fail(err, ST_ERR_DATA, "%s: damaged: no attribute %s", name, attr);
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot open an attribute");
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    st_status_t rc = ST_OK;
    if (H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_npoints(s) != 1)
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: attribute %s is not one integer", name, attr);
    else if (H5Aread(a, H5T_NATIVE_INT64, v) < 0)
        rc = st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot read an integer attribute");
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Reads variable-length strings from an attribute (is_attr) or a dataset: n of them when the
 * object is 1-d (*n_out gets the count), one when scalar (*n_out = -1). */
static st_status_t read_strings(hid_t obj, int is_attr, const char *name, const char *what, char ***out, int *n_out,
                                int max_n, st_error_t *err) {
    *out = NULL;
    hid_t t = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t s = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mt = -1;
    char **v = NULL, **strs = NULL;
    st_status_t rc = ST_OK;
    int nd = H5Sget_simple_extent_ndims(s);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0 || nd < 0 || nd > 1 || n < 0 || n > max_n) {
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s is not %s", name, what,
                     nd == 0 ? "a string" : "a list of strings of the expected length");
        goto done;
    }
    v = calloc((size_t)n + 1, sizeof *v);
    strs = calloc((size_t)n + 1, sizeof *strs);
    if (!v || !strs) { rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading %s", name, what); goto done; }
    mt = st_h5_vlen_str_type();
    herr_t r = n == 0 ? 0 : is_attr ? H5Aread(obj, mt, v) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (r < 0) { rc = st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot read strings"); goto done; }
    for (hssize_t i = 0; i < n; i++)
        if (!(strs[i] = strdup(v[i] ? v[i] : ""))) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory", name);
    if (n > 0) H5Dvlen_reclaim(mt, s, H5P_DEFAULT, v);
    if (rc == ST_OK) {
        *out = strs;
        *n_out = nd == 0 ? -1 : (int)n;
        strs = NULL;
    }
done:
    if (strs)
        for (hssize_t i = 0; i < n; i++) free(strs[i]);
    free(strs);
    free(v);
    st_h5_close_id(&mt, H5Tclose);
    st_h5_close_id(&s, H5Sclose);
    st_h5_close_id(&t, H5Tclose);
    return rc;
}

static void free_strs(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

static st_status_t read_str_attr(hid_t obj, const char *name, const char *attr, char **out, st_error_t *err) {
    if (H5Aexists(obj, attr) <= 0) return st_fail(err, ST_ERR_DATA, "%s: damaged: no attribute %s", name, attr);
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot open an attribute");
    char **v = NULL;
    int n = 0;
    char what[80];
    st_format(what, sizeof what, "attribute %s", attr);
    st_status_t rc = read_strings(a, 1, name, what, &v, &n, 1, err);
    H5Aclose(a);
    if (rc != ST_OK) return rc;
    if (n != -1) {
        free_strs(v, n < 0 ? 1 : n);
        return st_fail(err, ST_ERR_DATA, "%s: damaged: attribute %s is not one string", name, attr);
    }
    *out = v[0];
    free(v);
    return ST_OK;
}

/* Opens dataset `ds` (a path like "/optimizer/exp_avg") after checking that it exists. */
static st_status_t open_dataset(hid_t f, const char *name, const char *ds, hid_t *d, st_error_t *err) {
    /* Every parent group must exist before H5Lexists may look at the link. */
    char part[256];
    const char *slash = ds;
    while ((slash = strchr(slash + 1, '/'))) {
        st_format(part, sizeof part, "%.*s", (int)(slash - ds), ds);
        if (H5Lexists(f, part, H5P_DEFAULT) <= 0) return st_fail(err, ST_ERR_DATA, "%s: damaged: no %s", name, part);
    }
    H5O_info_t info;
    if (H5Lexists(f, ds, H5P_DEFAULT) <= 0 || H5Oget_info_by_name(f, ds, &info, H5P_DEFAULT) < 0 ||
        info.type != H5O_TYPE_DATASET)
        return st_fail(err, ST_ERR_DATA, "%s: damaged: no dataset %s", name, ds);
    *d = H5Dopen2(f, ds, H5P_DEFAULT);
    if (*d < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot open a dataset");
    return ST_OK;
}

/* Reads the 1-d float dataset `ds` of element size `elem` (4 or 8) into a new array *out, and
 * checks its crc32. want_n >= 0: its length must be want_n; otherwise at most max_n, *n_out. */
static st_status_t read_array(hid_t f, const char *name, const char *ds, size_t elem, long long want_n,
                              size_t max_n, void **out, size_t *n_out, st_error_t *err) {
    *out = NULL;
    hid_t d = -1, t = -1, s = -1, a = -1;
    st_status_t rc = open_dataset(f, name, ds, &d, err);
    if (rc != ST_OK) return rc;
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    hsize_t dim = 0;
    void *buf = NULL;
    if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != elem) {
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s is not float%zu", name, ds, elem * 8);
        goto done;
    }
    if (H5Sget_simple_extent_ndims(s) != 1 || H5Sget_simple_extent_dims(s, &dim, NULL) != 1) {
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s is not 1-d", name, ds);
        goto done;
    }
    if (want_n >= 0 ? dim != (hsize_t)want_n : dim > max_n) {
        if (want_n >= 0)
            rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s has %llu values, expected %lld", name, ds,
                         (unsigned long long)dim, want_n);
        else
            rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s has %llu values (at most %zu)", name, ds,
                         (unsigned long long)dim, max_n);
        goto done;
    }
    uint32_t stored = 0;
    if (H5Aexists(d, "crc32") <= 0 || (a = H5Aopen(d, "crc32", H5P_DEFAULT)) < 0 ||
        H5Aread(a, H5T_NATIVE_UINT32, &stored) < 0) {
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s has no crc32 attribute", name, ds);
        goto done;
    }
    size_t bytes = (size_t)dim * elem;
    buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading %s (%zu bytes)", name, ds, bytes);
        goto done;
    }
    if (dim > 0 && H5Dread(d, elem == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        char what[300];
        st_format(what, sizeof what, "damaged or truncated: cannot read %s", ds);
        rc = st_h5_fail(err, ST_ERR_DATA, name, what);
        goto done;
    }
    if (crc_bytes(0, buf, bytes) != stored) {
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: checksum mismatch in %s", name, ds);
        goto done;
    }
    *out = buf;
    buf = NULL;
    if (n_out) *n_out = (size_t)dim;
done:
    free(buf);
    st_h5_close_id(&a, H5Aclose);
    st_h5_close_id(&s, H5Sclose);
    st_h5_close_id(&t, H5Tclose);
    st_h5_close_id(&d, H5Dclose);
    return rc;
}

/* Reads a small double array into fixed storage. */
static st_status_t read_doubles(hid_t f, const char *name, const char *ds, double *dst, int *n, st_error_t *err) {
    void *p = NULL;
    size_t m = 0;
    ST_TRY(read_array(f, name, ds, 8, -1, ST_CKPT_MAX_DOUBLES, &p, &m, err));
    if (m) memcpy(dst, p, m * sizeof(double));
    *n = (int)m;
    free(p);
    return ST_OK;
}

static st_status_t read_string_ds(hid_t f, const char *name, const char *ds, int max_n, char ***out, int *n,
                                  st_error_t *err) {
    hid_t d = -1;
    ST_TRY(open_dataset(f, name, ds, &d, err));
    st_status_t rc = read_strings(d, 0, name, ds, out, n, max_n, err);
    H5Dclose(d);
    return rc;
}

static st_status_t parse_kind(const char *name, const char *s, st_ckpt_kind_t *kind, st_error_t *err) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, KIND_NAMES[i])) {
            *kind = (st_ckpt_kind_t)i;
            return ST_OK;
        }
    return st_fail(err, ST_ERR_DATA, "%s: damaged: kind \"%.40s\" is not last, best or periodic", name, s);
}

/* The format attribute and /params: is this a strata checkpoint this strata can read? */
static st_status_t check_format(hid_t f, const char *name, int *version, st_error_t *err) {
    if (H5Lexists(f, "/params", H5P_DEFAULT) <= 0)
        return st_fail(err, ST_ERR_DATA, "%s: not a strata checkpoint (no /params)", name);
    if (H5Aexists(f, FORMAT_ATTR) <= 0)
        return st_fail(err, ST_ERR_DATA, "%s: not a strata checkpoint (no %s attribute)", name, FORMAT_ATTR);
    int64_t v = 0;
    ST_TRY(read_i64_attr(f, name, FORMAT_ATTR, &v, err));
    if (v < 1 || v > ST_CKPT_FORMAT)
        return st_fail(err, ST_ERR_DATA, "%s: checkpoint format %lld, but this strata reads format %d%s", name,
                       (long long)v, ST_CKPT_FORMAT, v > ST_CKPT_FORMAT ? " (written by a newer strata)" : "");
    *version = (int)v;
    return ST_OK;
}

static st_status_t read_counters(hid_t f, const char *name, int64_t c[6], st_error_t *err) {
    static const char *const names[6] = {"epoch", "step", "step_in_epoch", "nonfinite_steps", "optimizer_step",
                                         "created_unix"};
    for (int i = 0; i < 6; i++) {
        ST_TRY(read_i64_attr(f, name, names[i], &c[i], err));
        if (c[i] < 0) return st_fail(err, ST_ERR_DATA, "%s: damaged: %s = %lld", name, names[i], (long long)c[i]);
    }
    return ST_OK;
}

static st_status_t read_heads(hid_t f, const char *name, st_ckpt_t *ck, st_error_t *err);

static st_status_t read_contents(hid_t f, const char *name, int sealed, st_ckpt_t *ck, st_error_t *err) {
    ST_TRY(check_format(f, name, &ck->format_version, err));
    ST_TRY(check_sealed_version(name, sealed, ck->format_version, err));
    int64_t c[6];
    ST_TRY(read_counters(f, name, c, err));
    ck->epoch = c[0], ck->step = c[1], ck->step_in_epoch = c[2], ck->nonfinite_steps = c[3];
    ck->optim_step = c[4], ck->created_unix = c[5];
    char *kind = NULL, *created = NULL;
    ST_TRY(read_str_attr(f, name, "kind", &kind, err));
    st_status_t rc = parse_kind(name, kind, &ck->kind, err);
    free(kind);
    if (rc != ST_OK) return rc;
    ST_TRY(read_str_attr(f, name, "created", &created, err));
    st_format(ck->created, sizeof ck->created, "%s", created);
    free(created);
    ST_TRY(read_str_attr(f, name, "dataset_fingerprint", &ck->dataset_fingerprint, err));

    void *p = NULL;
    ST_TRY(read_array(f, name, "/params", 4, -1, SIZE_MAX / 8, &p, &ck->n_params, err));
    ck->params = p;
    ST_TRY(read_array(f, name, "/buffers", 4, -1, SIZE_MAX / 8, &p, &ck->n_buffers, err));
    ck->buffers = p;

    /* Optimizer: n_state, the names in order, one array per name. */
    if (H5Lexists(f, "/optimizer", H5P_DEFAULT) <= 0) return st_fail(err, ST_ERR_DATA, "%s: damaged: no /optimizer", name);
    hid_t g = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
    if (g < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot open /optimizer");
    int64_t n_state = 0;
    rc = read_i64_attr(g, name, "n_state", &n_state, err);
    if (rc == ST_OK && (n_state < 0 || n_state > ST_CKPT_MAX_STATE))
        rc = st_fail(err, ST_ERR_DATA, "%s: damaged: /optimizer has n_state = %lld", name, (long long)n_state);
    char **names = NULL;
    int n_names = 0;
    if (rc == ST_OK && n_state > 0) {
        hid_t a = H5Aexists(g, "state_names") > 0 ? H5Aopen(g, "state_names", H5P_DEFAULT) : -1;
        if (a < 0) rc = st_fail(err, ST_ERR_DATA, "%s: damaged: /optimizer has no state_names", name);
        else {
            rc = read_strings(a, 1, name, "/optimizer state_names", &names, &n_names, ST_CKPT_MAX_STATE, err);
            H5Aclose(a);
            if (rc == ST_OK && n_names != n_state)
                rc = st_fail(err, ST_ERR_DATA, "%s: damaged: /optimizer has %lld states but %d state_names", name,
                             (long long)n_state, n_names);
        }
    }
    H5Gclose(g);
    for (int k = 0; rc == ST_OK && k < n_state; k++) {
        if (!names[k][0] || strlen(names[k]) >= ST_CKPT_STATE_NAME_MAX || strchr(names[k], '/')) {
            rc = st_fail(err, ST_ERR_DATA, "%s: damaged: optimizer state name \"%.40s\"", name, names[k]);
            break;
        }
        st_format(ck->optim_state_names[k], ST_CKPT_STATE_NAME_MAX, "%s", names[k]);
        char ds[96];
        st_format(ds, sizeof ds, "/optimizer/%s", names[k]);
        rc = read_array(f, name, ds, 4, (long long)ck->n_params, 0, &p, NULL, err);
        if (rc == ST_OK) ck->optim_state[k] = p;
    }
    free_strs(names, n_names);
    if (rc != ST_OK) return rc;
    ck->n_optim_state = (int)n_state;

    ST_TRY(read_doubles(f, name, "/schedule", ck->sched_state, &ck->n_sched_state, err));
    ST_TRY(read_doubles(f, name, "/early_stop", ck->early_stop, &ck->n_early_stop, err));

    char **cfg = NULL;
    int n_cfg = 0;
    ST_TRY(read_string_ds(f, name, "/config", 1, &cfg, &n_cfg, err));
    if (n_cfg != -1) {
        free_strs(cfg, n_cfg);
        return st_fail(err, ST_ERR_DATA, "%s: damaged: /config is not one string", name);
    }
    ck->config_json = cfg[0];
    free(cfg);
    ST_TRY(read_string_ds(f, name, "/class_names", ST_CKPT_MAX_CLASSES, &ck->class_names, &ck->n_classes, err));
    if (ck->n_classes < 1) {
        free_strs(ck->class_names, ck->n_classes < 0 ? 1 : ck->n_classes);
        ck->class_names = NULL;
        ck->n_classes = 0;
        return st_fail(err, ST_ERR_DATA, "%s: damaged: /class_names is not a list of at least one name", name);
    }
    if (H5Lexists(f, "/feature_names", H5P_DEFAULT) > 0) {
        ST_TRY(read_string_ds(f, name, "/feature_names", ST_CKPT_MAX_CLASSES, &ck->feature_names, &ck->n_feature_names,
                              err));
        if (ck->n_feature_names < 1) {
            free_strs(ck->feature_names, ck->n_feature_names < 0 ? 1 : ck->n_feature_names);
            ck->feature_names = NULL, ck->n_feature_names = 0;
            return st_fail(err, ST_ERR_DATA, "%s: damaged: /feature_names is not a list of at least one name", name);
        }
    }
    if (H5Lexists(f, "/class_weights", H5P_DEFAULT) > 0) {
        ST_TRY(read_array(f, name, "/class_weights", 4, ck->n_classes, 0, &p, NULL, err));
        ck->class_weights = p;
    }
    if (H5Lexists(f, "/standardize", H5P_DEFAULT) > 0) {
        size_t nf = 0;
        ST_TRY(read_array(f, name, "/standardize/mean", 8, -1, INT_MAX, &p, &nf, err));
        ck->std_mean = p;
        if (nf < 1) return st_fail(err, ST_ERR_DATA, "%s: damaged: /standardize/mean is empty", name);
        ST_TRY(read_array(f, name, "/standardize/std", 8, (long long)nf, 0, &p, NULL, err));
        ck->std_std = p;
        ck->n_features = (int)nf;
    }
    ST_TRY(read_heads(f, name, ck, err));

    int64_t cc[6] = {ck->epoch, ck->step, ck->step_in_epoch, ck->nonfinite_steps, ck->optim_step, ck->created_unix};
    const char *sn[ST_CKPT_MAX_STATE];
    for (int k = 0; k < ck->n_optim_state; k++) sn[k] = ck->optim_state_names[k];
    uint32_t want = meta_crc(cc, KIND_NAMES[ck->kind], ck->created, ck->dataset_fingerprint, ck->config_json,
                             ck->n_optim_state, sn, ck->n_classes, (const char *const *)ck->class_names);
    uint32_t stored = 0;
    hid_t a = H5Aexists(f, "meta_crc32") > 0 ? H5Aopen(f, "meta_crc32", H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_UINT32, &stored) >= 0;
    if (a >= 0) H5Aclose(a);
    if (!ok) return st_fail(err, ST_ERR_DATA, "%s: damaged: no meta_crc32 attribute", name);
    if (stored != want)
        return st_fail(err, ST_ERR_DATA,
                       "%s: damaged: checksum mismatch in the metadata (counters, kind, config or names)", name);
    return ST_OK;
}

static st_status_t parse_target_kind(const char *name, const char *where, const char *s, st_target_kind_t *kind,
                                     st_error_t *err) {
    for (int k = ST_TARGET_CLASS; k <= ST_TARGET_SEQUENCE; k++)
        if (!strcmp(s, st_target_kind_name((st_target_kind_t)k))) return *kind = (st_target_kind_t)k, ST_OK;
    return st_fail(err, ST_ERR_DATA, "%s: damaged: %s kind \"%.40s\" is not class, multilabel, regression or sequence", name,
                   where, s);
}

/* A string attribute of at most ST_NAME_MAX - 1 bytes into out. */
static st_status_t read_name_attr(hid_t g, const char *name, const char *where, const char *attr, char *out,
                                  st_error_t *err) {
    char *v = NULL;
    ST_TRY(read_str_attr(g, name, attr, &v, err));
    st_status_t rc = strlen(v) < ST_NAME_MAX ? ST_OK
                     : st_fail(err, ST_ERR_DATA, "%s: damaged: %s %s is longer than %d bytes", name, where, attr,
                               ST_NAME_MAX - 1);
    if (rc == ST_OK) memcpy(out, v, strlen(v) + 1);
    free(v);
    return rc;
}

/* The attributes of /heads/<h> (g): head, target, kind, width, standardize_targets. */
static st_status_t read_head_attrs(hid_t g, const char *name, const char *where, st_ckpt_head_t *hd, st_error_t *err) {
    ST_TRY(read_name_attr(g, name, where, "head", hd->head, err));
    ST_TRY(read_name_attr(g, name, where, "target", hd->target, err));
    char kind[ST_NAME_MAX];
    ST_TRY(read_name_attr(g, name, where, "kind", kind, err));
    ST_TRY(parse_target_kind(name, where, kind, &hd->kind, err));
    int64_t w = 0, st = 0;
    ST_TRY(read_i64_attr(g, name, "width", &w, err));
    ST_TRY(read_i64_attr(g, name, "standardize_targets", &st, err));
    if (w < 1 || w > ST_CKPT_MAX_CLASSES || !hd->target[0] || st < 0 || st > 1)
        return st_fail(err, ST_ERR_DATA, "%s: damaged: %s has width %lld, target \"%s\", standardize_targets %lld", name,
                       where, (long long)w, hd->target, (long long)st);
    hd->width = (int)w, hd->standardize_targets = (int)st;
    return ST_OK;
}

/* /heads/<h>/names into hd->names [width]. */
static st_status_t read_head_names(hid_t f, const char *name, const char *where, st_ckpt_head_t *hd, st_error_t *err) {
    char ds[64], **v = NULL;
    int n = 0;
    st_format(ds, sizeof ds, "%s/names", where);
    ST_TRY(read_string_ds(f, name, ds, ST_CKPT_MAX_CLASSES, &v, &n, err));
    st_status_t rc = n == hd->width ? ST_OK
                     : st_fail(err, ST_ERR_DATA, "%s: damaged: %s has %d names for width %d", name, ds, n, hd->width);
    hd->names = rc == ST_OK ? calloc((size_t)hd->width, sizeof *hd->names) : NULL;
    if (rc == ST_OK && !hd->names) rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory reading %s", name, ds);
    for (int k = 0; rc == ST_OK && k < n; k++) {
        if (strlen(v[k]) >= ST_NAME_MAX) rc = st_fail(err, ST_ERR_DATA, "%s: damaged: %s[%d] is too long", name, ds, k);
        else memcpy(hd->names[k], v[k], strlen(v[k]) + 1);
    }
    free_strs(v, n < 0 ? 1 : n);
    return rc;
}

/* /heads/<h>/<ds> when present: a float (elem 4) or double (8) array of width values. */
static st_status_t read_head_array(hid_t f, const char *name, const char *where, const char *ds, size_t elem, int width,
                                   void **out, st_error_t *err) {
    char path[64];
    st_format(path, sizeof path, "%s/%s", where, ds);
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return ST_OK;
    return read_array(f, name, path, elem, width, 0, out, NULL, err);
}

static st_status_t read_head(hid_t f, const char *name, int h, st_ckpt_head_t *hd, st_error_t *err) {
    char where[32];
    st_format(where, sizeof where, "/heads/%d", h);
    if (H5Lexists(f, where, H5P_DEFAULT) <= 0) return st_fail(err, ST_ERR_DATA, "%s: damaged: no %s", name, where);
    hid_t g = H5Gopen2(f, where, H5P_DEFAULT);
    if (g < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot open a head's group");
    uint32_t stored = 0;
    hid_t a = H5Aexists(g, "meta_crc32") > 0 ? H5Aopen(g, "meta_crc32", H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_UINT32, &stored) >= 0;
    if (a >= 0) H5Aclose(a);
    st_status_t rc = ok ? read_head_attrs(g, name, where, hd, err)
                        : st_fail(err, ST_ERR_DATA, "%s: damaged: %s has no meta_crc32 attribute", name, where);
    H5Gclose(g);
    ST_TRY(rc);
    ST_TRY(read_head_names(f, name, where, hd, err));
    if (head_crc(hd) != stored)
        return st_fail(err, ST_ERR_DATA, "%s: damaged: checksum mismatch in %s (head, target, kind or names)", name, where);
    void *p = NULL;
    ST_TRY(read_head_array(f, name, where, "class_weights", 4, hd->width, &p, err));
    hd->class_weights = p, p = NULL;
    ST_TRY(read_head_array(f, name, where, "target_mean", 8, hd->width, &p, err));
    hd->t_mean = p, p = NULL;
    ST_TRY(read_head_array(f, name, where, "target_std", 8, hd->width, &p, err));
    hd->t_std = p;
    if (!hd->t_mean != !hd->t_std || (hd->standardize_targets && !hd->t_mean))
        return st_fail(err, ST_ERR_DATA, "%s: damaged: %s has standardize_targets %d without target_mean and target_std",
                       name, where, hd->standardize_targets);
    return ST_OK;
}

/* The optional /heads group (files written before issue 13 have none: n_heads stays 0). */
static st_status_t read_heads(hid_t f, const char *name, st_ckpt_t *ck, st_error_t *err) {
    if (H5Lexists(f, "/heads", H5P_DEFAULT) <= 0) return ST_OK;
    hid_t g = H5Gopen2(f, "/heads", H5P_DEFAULT);
    if (g < 0) return st_h5_fail(err, ST_ERR_DATA, name, "damaged: cannot open /heads");
    int64_t n = 0;
    st_status_t rc = read_i64_attr(g, name, "n_heads", &n, err);
    H5Gclose(g);
    ST_TRY(rc);
    if (n < 1 || n > ST_CKPT_MAX_HEADS)
        return st_fail(err, ST_ERR_DATA, "%s: damaged: /heads has n_heads = %lld", name, (long long)n);
    for (int h = 0; h < n; h++) ST_TRY(read_head(f, name, h, &ck->heads[h], err));
    ck->n_heads = (int)n;
    return ST_OK;
}

/* Reads `path`, calling it `name` in messages (the final name while a temporary is verified). */
static st_status_t read_file(const char *path, const char *name, st_ckpt_t *ck, st_error_t *err) {
    memset(ck, 0, sizeof *ck);
    st_h5_quiet();
    st_format(ck->path, sizeof ck->path, "%s", name);
    hid_t f = -1;
    int sealed = 0;
    ST_TRY(open_ckpt(path, name, &f, &sealed, err));
    st_status_t rc = read_contents(f, name, sealed, ck, err);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (rc != ST_OK) st_ckpt_free(ck);
    return rc;
}

/* Format-1 files reach HDF5 unchecked: a crash in libhdf5 on one is "<path>: damaged" (h5guard.h). */
st_status_t st_ckpt_read(const char *path, st_ckpt_t *ck, st_error_t *err) {
    st_h5_guard_enter(path);
    st_status_t rc = read_file(path, path, ck, err);
    st_h5_guard_leave();
    return rc;
}

st_status_t st_ckpt_peek(const char *path, st_ckpt_info_t *info, st_error_t *err) {
    memset(info, 0, sizeof *info);
    st_h5_quiet();
    hid_t f = -1;
    int sealed = 0;
    ST_TRY(open_ckpt(path, path, &f, &sealed, err));
    int64_t c[6];
    char *kind = NULL;
    st_status_t rc = check_format(f, path, &info->format_version, err);
    if (rc == ST_OK) rc = check_sealed_version(path, sealed, info->format_version, err);
    if (rc == ST_OK) rc = read_counters(f, path, c, err);
    if (rc == ST_OK) rc = read_str_attr(f, path, "kind", &kind, err);
    if (rc == ST_OK) rc = parse_kind(path, kind, &info->kind, err);
    free(kind);
    H5Fclose(f);
    if (rc == ST_OK) info->epoch = c[0], info->step = c[1], info->step_in_epoch = c[2], info->created_unix = c[5];
    return rc;
}

/* ---- folders: choosing and retention ------------------------------------------------------ */

static void warnf(st_ckpt_warn_fn warn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warnf(st_ckpt_warn_fn warn, void *ctx, const char *fmt, ...) {
    if (!warn) return;
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(msg, ctx);
}

/* The step of a name "step-<digits>.h5<suffix>" (suffix NULL: none); -1 for any other name. */
static long long parse_step_name(const char *s, const char *suffix) {
    if (strncmp(s, "step-", 5) != 0) return -1;
    const char *p = s + 5, *q = p;
    while (isdigit((unsigned char)*q)) q++;
    if (q == p || q - p > 18) return -1;
    char want[16];
    st_format(want, sizeof want, ".h5%s", suffix ? suffix : "");
    return strcmp(q, want) == 0 ? strtoll(p, NULL, 10) : -1;
}

typedef struct {
    long long step;
    char name[64];
} entry_t;

static int by_step_desc(const void *a, const void *b) {
    long long x = ((const entry_t *)a)->step, y = ((const entry_t *)b)->step;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Lists the step-*.h5 files of `dir`, newest step first. ENOENT: *n = 0, *missing = 1. With
 * `warn` set, also removes our stale temporaries. */
static st_status_t list_steps(const char *dir, entry_t **out, int *n, int remove_tmp, st_ckpt_warn_fn warn,
                              void *ctx, st_error_t *err) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return ST_OK;
        return st_fail(err, ST_ERR_IO, "%s: cannot list the checkpoint folder: %s", dir, strerror(errno));
    }
    int cap = 0;
    st_status_t rc = ST_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (remove_tmp && (parse_step_name(nm, ".tmp") >= 0 || !strcmp(nm, "best.h5.tmp"))) {
            char p[4400];
            st_format(p, sizeof p, "%s/%s", dir, nm);
            if (unlink(p) == 0) warnf(warn, ctx, "%s: removed a stale temporary file (left by an interrupted write)", p);
            else warnf(warn, ctx, "%s: cannot remove a stale temporary file: %s", p, strerror(errno));
            continue;
        }
        long long step = parse_step_name(nm, NULL);
        if (step < 0) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            entry_t *g = realloc(*out, (size_t)cap * sizeof *g);
            if (!g) { rc = st_fail(err, ST_ERR_NOMEM, "%s: out of memory listing checkpoints", dir); break; }
            *out = g;
        }
        (*out)[*n].step = step;
        st_format((*out)[*n].name, sizeof (*out)[*n].name, "%s", nm);
        (*n)++;
    }
    closedir(d);
    if (rc != ST_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1) qsort(*out, (size_t)*n, sizeof **out, by_step_desc);
    return ST_OK;
}

st_status_t st_ckpt_find_latest(const char *dir, char *path_out, size_t path_size, st_ckpt_warn_fn warn,
                                void *warn_ctx, st_error_t *err) {
    if (path_size) path_out[0] = '\0';
    entry_t *es = NULL;
    int n = 0;
    ST_TRY(list_steps(dir, &es, &n, 1, warn, warn_ctx, err));
    st_status_t rc = ST_OK;
    for (int i = 0; i < n; i++) {
        char p[4400];
        st_format(p, sizeof p, "%s/%s", dir, es[i].name);
        st_ckpt_t ck;
        st_error_t e = {0};
        st_status_t r = st_ckpt_read(p, &ck, &e);
        long long step = ck.step;
        st_ckpt_free(&ck);
        if (r != ST_OK) {
            warnf(warn, warn_ctx, "%s; skipped", e.msg);
            continue;
        }
        if (step != es[i].step) {
            warnf(warn, warn_ctx, "%s: holds step %lld, not the step in its name; skipped", p, step);
            continue;
        }
        if (st_format(path_out, path_size, "%s", p))
            rc = st_fail(err, ST_ERR_IO, "%s: path longer than %zu bytes", p, path_size - 1);
        break;
    }
    free(es);
    return rc;
}

st_status_t st_ckpt_retain(const char *dir, int keep_last, int64_t keep_step, st_ckpt_warn_fn warn, void *warn_ctx,
                           st_error_t *err) {
    if (keep_last <= 0) return ST_OK;
    entry_t *es = NULL;
    int n = 0;
    ST_TRY(list_steps(dir, &es, &n, 0, NULL, NULL, err));
    int kept = 0, removed = 0;
    for (int i = 0; i < n; i++) {
        int newer = es[i].step > keep_step;
        if (es[i].step == keep_step || (!newer && kept < keep_last)) {
            kept++;
            continue;
        }
        /* (keep_step itself counts among the keep_last kept files: it is listed before any
         * smaller step.) */
        char p[4400];
        st_format(p, sizeof p, "%s/%s", dir, es[i].name);
        if (unlink(p) != 0) {
            warnf(warn, warn_ctx, "%s: cannot delete an old checkpoint: %s", p, strerror(errno));
            continue;
        }
        removed++;
        if (newer)
            warnf(warn, warn_ctx,
                  "%s: deleted: newer than the checkpoint just written (step %lld), left by a run resumed from an "
                  "earlier checkpoint", p, (long long)keep_step);
    }
    free(es);
    if (removed) {
        char p[4400];
        st_format(p, sizeof p, "%s/x", dir);
        st_h5_fsync_parent(p, O_CLOEXEC);
    }
    return ST_OK;
}

st_status_t st_ckpt_save(const char *dir, const st_ckpt_write_t *w, int keep_last, char *path_out, size_t path_size,
                         st_ckpt_warn_fn warn, void *warn_ctx, st_error_t *err) {
    if (path_out && path_size) path_out[0] = '\0';
    char name[64], path[4400];
    st_ckpt_file_name(name, sizeof name, w->kind, w->step);
    if (st_format(path, sizeof path, "%s/%s", dir, name)) return st_fail(err, ST_ERR_IO, "%s: path too long", dir);
    if (mkdir(dir, 0777) == 0) {
        char p[4400];
        st_format(p, sizeof p, "%s", dir);
        st_h5_fsync_parent(p, O_CLOEXEC);
    } else if (errno != EEXIST) {
        return st_fail(err, ST_ERR_IO, "%s: cannot create the checkpoint folder: %s", dir, strerror(errno));
    }
    ST_TRY(st_ckpt_write(path, w, err));
    if (path_out && path_size && st_format(path_out, path_size, "%s", path))
        return st_fail(err, ST_ERR_IO, "%s: path longer than %zu bytes", path, path_size - 1);
    if (w->kind != ST_CKPT_BEST) ST_TRY(st_ckpt_retain(dir, keep_last, w->step, warn, warn_ctx, err));
    return ST_OK;
}

/* ---- to and from the trainer's objects ---------------------------------------------------- */

st_status_t st_ckpt_restore(const st_ckpt_t *ck, float *params, size_t n_params, float *buffers, size_t n_buffers,
                            st_optim_t *opt, st_sched_t *sched, st_error_t *err) {
    const char *p = ck->path;
    if (ck->n_params != n_params)
        return st_fail(err, ST_ERR_SHAPE, "%s: has %zu parameters, the model has %zu (another model?)", p, ck->n_params,
                       n_params);
    if (ck->n_buffers != n_buffers)
        return st_fail(err, ST_ERR_SHAPE, "%s: has %zu buffer values, the model has %zu (another model?)", p,
                       ck->n_buffers, n_buffers);
    const float *arrays[ST_CKPT_MAX_STATE] = {0};
    int n_state = 0;
    if (opt) {
        n_state = st_optim_n_state(opt);
        if (n_state != ck->n_optim_state || n_state > ST_CKPT_MAX_STATE)
            return st_fail(err, ST_ERR_CONFIG, "%s: has %d optimizer state arrays, this optimizer has %d (another "
                           "optimizer or momentum setting?)", p, ck->n_optim_state, n_state);
        for (int k = 0; k < n_state; k++) {
            const char *want = st_optim_state_name(opt, k);
            for (int j = 0; j < ck->n_optim_state; j++)
                if (!strcmp(want, ck->optim_state_names[j])) arrays[k] = ck->optim_state[j];
            if (!arrays[k])
                return st_fail(err, ST_ERR_CONFIG, "%s: has no optimizer state %s (another optimizer?)", p, want);
        }
    }
    if (sched) {
        st_status_t rc = st_sched_state_load(sched, ck->sched_state, (size_t)ck->n_sched_state, err);
        if (rc != ST_OK) {
            st_error_prefix(err, "%s", p);
            return rc;
        }
    }
    if (opt) {
        st_status_t rc = st_optim_load_state(opt, (long)ck->optim_step, arrays, n_state, ck->n_params, err);
        if (rc != ST_OK) {
            st_error_prefix(err, "%s", p);
            return rc;
        }
    }
    if (n_params) memcpy(params, ck->params, n_params * sizeof *params);
    if (n_buffers) memcpy(buffers, ck->buffers, n_buffers * sizeof *buffers);
    return ST_OK;
}

void st_ckpt_fill_state(st_ckpt_write_t *w, st_optim_t *opt, const st_sched_t *sched,
                        double sched_buf[ST_SCHED_STATE_LEN]) {
    w->n_optim_state = 0;
    if (opt) {
        int n = st_optim_n_state(opt);
        w->n_optim_state = n < ST_CKPT_MAX_STATE ? n : ST_CKPT_MAX_STATE;
        for (int k = 0; k < w->n_optim_state; k++) {
            w->optim_state_names[k] = st_optim_state_name(opt, k);
            w->optim_state[k] = st_optim_state(opt, k);
        }
        w->optim_step = st_optim_step_count(opt);
    }
    w->n_sched_state = 0;
    w->sched_state = NULL;
    if (sched) {
        st_sched_state_save(sched, sched_buf);
        w->sched_state = sched_buf;
        w->n_sched_state = ST_SCHED_STATE_LEN;
    }
}
