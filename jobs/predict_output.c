/* predict_output.c — where `strata predict` writes (see predict.h for the columns and datasets):
 * rank 0 turns the gathered float records into CSV lines, or appends them to one extendible
 * HDF5 dataset per head; both go to <path>.tmp, renamed over <path> when every row is in. */
#include "jobs/predict_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h" /* st_argmax */
#include "jobs/results.h" /* st_csv_put_field */
#include "sharding/h5util.h"

static void put_named(FILE *f, const char *label, const char *suffix, const char *name) {
    char buf[3 * ST_NAME_MAX];
    snprintf(buf, sizeof buf, "%s%s%s", label, suffix, name);
    fputc(',', f);
    st_csv_put_field(f, buf);
}

static void csv_header(FILE *f, const st_pred_head_t *hd) {
    if (hd->kind == ST_HEAD_CLASS) {
        put_named(f, hd->label, "", ""), put_named(f, hd->label, "_name", "");
        for (int k = 0; k < (hd->top_k > 0 ? hd->top_k : hd->K); k++) {
            char top[24];
            snprintf(top, sizeof top, "%d", k + 1);
            put_named(f, hd->label, hd->top_k > 0 ? "_top" : "_p_", hd->top_k > 0 ? top : hd->names[k]);
        }
    } else if (hd->kind == ST_HEAD_MULTILABEL) put_named(f, hd->label, "", ""), put_named(f, hd->label, "_prob", "");
    else if (hd->kind == ST_HEAD_REGRESSION)
        for (int k = 0; k < hd->K; k++) put_named(f, hd->label, "_", hd->names[k]);
    else put_named(f, hd->label, "", "");
}

/* Class head: id, name, then every probability or the top k as id:name:prob. */
static void csv_class(FILE *f, const st_pred_head_t *hd, const float *p) {
    int K = hd->K, best = st_argmax(p, K);
    fprintf(f, ",%d,", best);
    st_csv_put_field(f, hd->names[best]);
    if (hd->top_k <= 0) {
        for (int k = 0; k < K; k++) fprintf(f, ",%.6g", p[k]);
        return;
    }
    char used[K];
    memset(used, 0, (size_t)K);
    for (int j = 0; j < hd->top_k; j++) {
        int b = -1; /* the best unused class (lowest id on ties) */
        for (int k = 0; k < K; k++)
            if (!used[k] && (b < 0 || p[k] > p[b])) b = k;
        used[b] = 1;
        char cell[2 * ST_NAME_MAX];
        snprintf(cell, sizeof cell, "%d:%s:%.6g", b, hd->names[b], p[b]);
        fputc(',', f), st_csv_put_field(f, cell);
    }
}

/* Multi-label head: the labels with σ ≥ 0.5 joined by ';', then their probabilities. */
static void csv_multilabel(FILE *f, const st_pred_head_t *hd, const float *p) {
    char *labels = calloc((size_t)hd->K, ST_NAME_MAX + 1), *probs = calloc((size_t)hd->K, 16);
    size_t a = 0, b = 0;
    for (int k = 0; labels && probs && k < hd->K; k++)
        if (p[k] >= 0.5f) {
            a += (size_t)sprintf(labels + a, "%s%s", a ? ";" : "", hd->names[k]);
            b += (size_t)sprintf(probs + b, "%s%.6g", b ? ";" : "", p[k]);
        }
    fputc(',', f), st_csv_put_field(f, labels ? labels : "");
    fputc(',', f), st_csv_put_field(f, probs ? probs : "");
    free(labels), free(probs);
}

/* CTC head: the token names joined by spaces (ids −1 end the sequence). */
static void csv_tokens(FILE *f, const st_pred_head_t *hd, const float *t) {
    fputc(',', f);
    size_t size = 1;
    for (int j = 0; j < hd->width && t[j] >= 0; j++) size += strlen(hd->names[(int)t[j]]) + 1;
    char *s = calloc(size, 1);
    size_t at = 0;
    for (int j = 0; s && j < hd->width && t[j] >= 0; j++)
        at += (size_t)sprintf(s + at, "%s%s", at ? " " : "", hd->names[(int)t[j]]);
    st_csv_put_field(f, s ? s : "");
    free(s);
}

static void csv_row(st_pred_out_t *o, const float *rec) {
    fprintf(o->f, "%lld", (long long)o->rows);
    for (int h = 0; h < o->n_heads; h++) {
        const st_pred_head_t *hd = &o->heads[h];
        if (hd->kind == ST_HEAD_CLASS) csv_class(o->f, hd, rec);
        else if (hd->kind == ST_HEAD_MULTILABEL) csv_multilabel(o->f, hd, rec);
        else if (hd->kind == ST_HEAD_SEQUENCE) csv_tokens(o->f, hd, rec);
        else
            for (int k = 0; k < hd->K; k++) fprintf(o->f, ",%.9g", rec[k]);
        rec += hd->width;
    }
    fputc('\n', o->f);
}

static const char *kind_name(st_head_kind_t k) {
    return k == ST_HEAD_CLASS ? "class" : k == ST_HEAD_MULTILABEL ? "multilabel" : k == ST_HEAD_REGRESSION ? "regression"
                                                                                                          : "ctc";
}

/* /<label>: float32 [0.., K] (int32 [0.., L] for ctc), chunked by rows, extendible. */
static hid_t h5_dataset(hid_t file, const st_pred_head_t *hd) {
    hsize_t dims[2] = {0, (hsize_t)hd->width}, maxd[2] = {H5S_UNLIMITED, (hsize_t)hd->width};
    hsize_t rows = (hsize_t)(262144 / hd->width); /* chunks of at most 1 MiB */
    hsize_t chunk[2] = {rows < 1 ? 1 : rows > 1024 ? 1024 : rows, (hsize_t)hd->width};
    hid_t s = H5Screate_simple(2, dims, maxd), p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, 2, chunk);
    hid_t type = hd->kind == ST_HEAD_SEQUENCE ? H5T_STD_I32LE : H5T_IEEE_F32LE;
    hid_t d = H5Dcreate2(file, hd->label, type, s, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Sclose(s), H5Pclose(p);
    const char *kind = kind_name(hd->kind);
    if (d >= 0 && (!st_h5_write_string_attr(d, "kind", &kind, -1) ||
                   !st_h5_write_string_attr(d, hd->kind == ST_HEAD_SEQUENCE ? "vocabulary" : "names", hd->names, hd->K)))
        H5Dclose(d), d = -1;
    return d;
}

st_status_t st_pred_out_open(st_pred_out_t *o, const char *path, int h5, const st_pred_head_t *heads, int n_heads,
                             st_error_t *err) {
    memset(o, 0, sizeof *o);
    o->h5 = h5, o->heads = heads, o->n_heads = n_heads, o->file = -1;
    for (int h = 0; h < n_heads; h++) o->rec_floats += heads[h].width, o->dset[h] = -1;
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp", path);
    if (!h5) {
        o->f = fopen(o->tmp, "w");
        if (!o->f) return st_fail(err, ST_ERR_IO, "%s: cannot write: %s", o->tmp, strerror(errno));
        fputs("row", o->f);
        for (int h = 0; h < n_heads; h++) csv_header(o->f, &heads[h]);
        fputc('\n', o->f);
        return ST_OK;
    }
    st_h5_quiet();
    o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) return st_h5_fail(err, ST_ERR_IO, o->tmp, "cannot create");
    for (int h = 0; h < n_heads; h++)
        if ((o->dset[h] = h5_dataset(o->file, &heads[h])) < 0) return st_h5_fail(err, ST_ERR_IO, o->tmp, heads[h].label);
    return ST_OK;
}

/* Rows [o->rows, o->rows + n) of head h's dataset ← its columns of rec. */
static int h5_append(st_pred_out_t *o, int h, int off, const float *rec, int64_t n) {
    const st_pred_head_t *hd = &o->heads[h];
    size_t W = (size_t)hd->width;
    void *buf = malloc((size_t)n * W * 4 + 4);
    if (!buf) return 0;
    for (int64_t i = 0; i < n; i++)
        for (size_t k = 0; k < W; k++) {
            float v = rec[(size_t)i * (size_t)o->rec_floats + (size_t)off + k];
            if (hd->kind == ST_HEAD_SEQUENCE) ((int32_t *)buf)[(size_t)i * W + k] = (int32_t)v;
            else ((float *)buf)[(size_t)i * W + k] = v;
        }
    hsize_t size[2] = {(hsize_t)(o->rows + n), W}, start[2] = {(hsize_t)o->rows, 0}, count[2] = {(hsize_t)n, W};
    int ok = H5Dset_extent(o->dset[h], size) >= 0;
    hid_t fs = ok ? H5Dget_space(o->dset[h]) : -1, ms = H5Screate_simple(2, count, NULL);
    ok = ok && fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
         H5Dwrite(o->dset[h], hd->kind == ST_HEAD_SEQUENCE ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT,
                  buf) >= 0;
    if (fs >= 0) H5Sclose(fs);
    H5Sclose(ms);
    free(buf);
    return ok;
}

st_status_t st_pred_out_append(st_pred_out_t *o, const float *rec, int64_t n, st_error_t *err) {
    if (n == 0) return ST_OK;
    if (!o->h5) {
        for (int64_t i = 0; i < n; i++, o->rows++) csv_row(o, rec + (size_t)i * (size_t)o->rec_floats);
        return ferror(o->f) ? st_fail(err, ST_ERR_IO, "%s: write failed", o->tmp) : ST_OK;
    }
    for (int h = 0, off = 0; h < o->n_heads; off += o->heads[h].width, h++)
        if (!h5_append(o, h, off, rec, n)) return st_h5_fail(err, ST_ERR_IO, o->tmp, o->heads[h].label);
    o->rows += n;
    return ST_OK;
}

st_status_t st_pred_out_close(st_pred_out_t *o, int commit, st_error_t *err) {
    int ok = 1;
    if (o->f) ok = fclose(o->f) == 0, o->f = NULL;
    for (int h = 0; h < o->n_heads; h++)
        if (o->dset[h] >= 0) ok = H5Dclose(o->dset[h]) >= 0 && ok, o->dset[h] = -1;
    if (o->file >= 0) ok = H5Fclose(o->file) >= 0 && ok, o->file = -1;
    if (!o->tmp[0]) return ST_OK;
    if (commit && ok && rename(o->tmp, o->path) == 0) return ST_OK;
    unlink(o->tmp);
    return commit ? st_fail(err, ST_ERR_IO, "%s: cannot finish writing", o->path) : ST_OK;
}
