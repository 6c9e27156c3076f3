/* inspect_sequences.c — the part of `strata inspect` about sequence targets (format 4, issue 15):
 * what a CTC user needs to know before training. Per target: how often each token of the
 * vocabulary occurs as a label, labels per row (min / median / max / mean) and empty rows, the
 * rows training would refuse (bad length or label; counted per row), and the rows whose frames
 * cannot hold their labels. CTC emits a blank between two equal labels, so a row of len labels
 * with r adjacent repeats needs len + r frames; frames are the row's /lengths, or T without
 * /lengths ([N, D] data has no frames and the check is skipped). This is at input resolution: a
 * model that strides over time has fewer frames, so more rows may be short there (the CTC loss
 * then reports them as infinite, or drops them with loss.zero_infinity). Rows arrive in blocks
 * from inspect_targets.c; the median comes from a histogram of the L_max + 1 possible lengths. */
#include "inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "dataset_internal.h"

st_status_t st_inspect_sequence_alloc(st_inspect_t *r, int t, st_error_t *err) {
    const st_target_info_t *ti = &r->ds.targets[t];
    st_inspect_target_t *f = &r->targets[t];
    f->frames_known = r->ds.shape.rank == 2;
    f->counts = calloc((size_t)ti->n_classes, sizeof *f->counts);
    f->len_hist = calloc((size_t)ti->max_len + 1, sizeof *f->len_hist);
    f->first_short_row = f->first_bad_row = -1;
    if (!f->counts || !f->len_hist)
        return st_fail(err, ST_ERR_NOMEM, "%s: out of memory for the figures of %s", r->ds.path, ti->h5path);
    return ST_OK;
}

/* Adjacent equal labels of one row [len, y_0 ..]: CTC needs a blank frame between each pair. */
static int adjacent_repeats(const float *row, int len) {
    int r = 0;
    for (int j = 1; j < len; j++) r += row[1 + j] == row[j];
    return r;
}

/* Frames of rows [row0, row0 + n) into frames [n]: /lengths (0 when a length is bad: no check),
 * or T for every row; nothing when /X is [N, D]. */
static st_status_t read_frames(const st_dataset_t *ds, int64_t row0, int64_t n, float *frames, st_error_t *err) {
    int T = ds->shape.d[0];
    if (!ds->has_lengths) {
        for (int64_t i = 0; i < n; i++) frames[i] = (float)T;
        return ST_OK;
    }
    ST_TRY(st_ds_read_rows_float(ds, "/lengths", 1, row0, n, frames, MPI_COMM_NULL, err));
    for (int64_t i = 0; i < n; i++)
        if (!(frames[i] >= 1 && frames[i] <= (float)T && frames[i] == floorf(frames[i]))) frames[i] = 0;
    return ST_OK;
}

/* One good row: its labels, its length, whether its frames hold them. */
static void count_row(st_inspect_target_t *f, const float *row, int64_t row_index, float frames) {
    int len = (int)row[0];
    f->n_seq_rows++, f->n_labels += len, f->n_empty += len == 0, f->len_hist[len]++;
    for (int j = 0; j < len; j++) f->counts[(int)row[1 + j]]++;
    if (frames <= 0) return;
    int rep = adjacent_repeats(row, len);
    if ((float)(len + rep) <= frames) return;
    if (f->n_too_short++ == 0)
        f->first_short_row = row_index, f->first_short_frames = (int)frames, f->first_short_labels = len,
        f->first_short_repeats = rep;
}

st_status_t st_inspect_sequence_block(st_inspect_t *r, int t, const float *v, int64_t row0, int64_t n,
                                      st_error_t *err) {
    const st_dataset_t *ds = &r->ds;
    const st_target_info_t *ti = &ds->targets[t];
    st_inspect_target_t *f = &r->targets[t];
    float *frames = NULL;
    if (f->frames_known) {
        if (!(frames = st_alloc((size_t)(n > 0 ? n : 1) * sizeof *frames, "a block of frame counts", err)))
            return ST_ERR_NOMEM;
        st_status_t rc = read_frames(ds, row0, n, frames, err);
        if (rc != ST_OK) return st_free(frames), rc;
    }
    char why[160];
    for (int64_t i = 0; i < n; i++) {
        const float *row = v + (size_t)i * (size_t)ti->width;
        if (st_target_first_bad(ti, row, 1, why, sizeof why) >= 0) {
            f->n_bad++; /* rows, for sequences */
            continue;
        }
        count_row(f, row, row0 + i, frames ? frames[i] : 0);
    }
    st_free(frames);
    return ST_OK;
}

/* The length of rank k (0-based) among the good rows, from len_hist [L_max + 1]. */
static int64_t kth_len(const int64_t *hist, int L, int64_t k) {
    for (int l = 0; l <= L; l++)
        if ((k -= hist[l]) < 0) return l;
    return L;
}

void st_inspect_sequence_finish(const st_target_info_t *ti, st_inspect_target_t *f) {
    int64_t m = f->n_seq_rows;
    if (m == 0) {
        f->len_median = f->len_mean = NAN;
        return;
    }
    int L = ti->max_len;
    f->len_min = kth_len(f->len_hist, L, 0), f->len_max = kth_len(f->len_hist, L, m - 1);
    f->len_median = m % 2 ? (double)kth_len(f->len_hist, L, m / 2)
                          : 0.5 * (double)(kth_len(f->len_hist, L, m / 2 - 1) + kth_len(f->len_hist, L, m / 2));
    f->len_mean = (double)f->n_labels / (double)m;
}

/* ---- text --------------------------------------------------------------------------------- */

/* "3 frames for 4 labels" (+ " with 1 adjacent repeat: 5 needed"). */
static void short_text(char *buf, size_t size, const st_inspect_target_t *f) {
    char rep[64] = "";
    if (f->first_short_repeats > 0)
        st_format(rep, sizeof rep, " with %d adjacent repeat%s: %d needed", f->first_short_repeats,
                  f->first_short_repeats == 1 ? "" : "s", f->first_short_labels + f->first_short_repeats);
    st_format(buf, size, "row %lld, %d frame%s for %d label%s%s", (long long)f->first_short_row, f->first_short_frames,
              f->first_short_frames == 1 ? "" : "s", f->first_short_labels, f->first_short_labels == 1 ? "" : "s", rep);
}

static void print_tokens(FILE *out, const st_target_info_t *ti, const st_inspect_target_t *f) {
    int w = 5;
    for (int i = 0; i < ti->n_classes; i++) {
        int l = (int)strlen(ti->names[i]);
        w = l > w ? l : w;
    }
    fprintf(out, "      %3s  %-*s %10s %7s\n", "id", w, "token", "count", "share");
    for (int i = 0; i < ti->n_classes; i++)
        fprintf(out, "      %3d  %-*s %10lld %6.2f%%%s\n", i, w, ti->names[i], (long long)f->counts[i],
                f->n_labels > 0 ? 100.0 * (double)f->counts[i] / (double)f->n_labels : 0.0,
                i == 0 ? "  (the CTC blank: never a label)" : "");
}

void st_inspect_sequence_print(FILE *out, const st_inspect_t *r, int t) {
    const st_target_info_t *ti = &r->ds.targets[t];
    const st_inspect_target_t *f = &r->targets[t];
    fprintf(out, "vocabulary of %d (with the blank)", ti->n_classes);
    if (f->n_seq_rows > 0)
        fprintf(out, ", labels per row min %lld / median %g / max %lld (mean %.2f; L_max %d)", (long long)f->len_min,
                f->len_median, (long long)f->len_max, f->len_mean, ti->max_len);
    fprintf(out, ", %lld row%s empty", (long long)f->n_empty, f->n_empty == 1 ? "" : "s");
    if (f->n_bad) fprintf(out, ", %lld bad row%s", (long long)f->n_bad, f->n_bad == 1 ? "" : "s");
    fprintf(out, "\n");
    print_tokens(out, ti, f);
    if (!f->frames_known) {
        fprintf(out, "      frames: /X is [N, D], so no row's frames are checked against its labels\n");
    } else if (f->n_too_short > 0) {
        char first[160];
        short_text(first, sizeof first, f);
        fprintf(out, "      %lld row%s fewer frames than %s labels need (first: %s); after the model's striding more "
                "may: their losses are infinite (loss.zero_infinity, the default: 0 and no gradient)\n", (long long)f->n_too_short,
                f->n_too_short == 1 ? " has" : "s have", f->n_too_short == 1 ? "its" : "their", first);
    } else {
        fprintf(out, "      every row has frames enough for its labels at input resolution; after the model's striding "
                "some may not: their losses are infinite (loss.zero_infinity, the default: 0 and no gradient)\n");
    }
}

void st_inspect_sequence_note(char *buf, size_t size, const st_inspect_t *r, int t) {
    const st_inspect_target_t *f = &r->targets[t];
    char first[160];
    short_text(first, sizeof first, f);
    st_format(buf, size, "%s: %s: %lld row%s fewer frames than %s labels need (first: %s); CTC cannot align them: "
              "with loss.zero_infinity (the default) they add no loss and no gradient, without it the step is skipped",
              r->ds.path, r->ds.targets[t].h5path, (long long)f->n_too_short, f->n_too_short == 1 ? " has" : "s have",
              f->n_too_short == 1 ? "its" : "their", first);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void json_number(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

void st_inspect_sequence_json(cJSON *o, const st_inspect_t *r, int t) {
    const st_target_info_t *ti = &r->ds.targets[t];
    const st_inspect_target_t *f = &r->targets[t];
    cJSON *a = cJSON_AddArrayToObject(o, "vocabulary");
    for (int i = 0; i < ti->n_classes; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", i);
        cJSON_AddStringToObject(e, "token", ti->names[i]);
        cJSON_AddNumberToObject(e, "count", (double)f->counts[i]);
        cJSON_AddNumberToObject(e, "share", f->n_labels > 0 ? (double)f->counts[i] / (double)f->n_labels : 0.0);
        cJSON_AddItemToArray(a, e);
    }
    cJSON *l = cJSON_AddObjectToObject(o, "labels_per_row");
    int any = f->n_seq_rows > 0;
    json_number(l, "min", any ? (double)f->len_min : NAN);
    json_number(l, "median", f->len_median);
    json_number(l, "max", any ? (double)f->len_max : NAN);
    json_number(l, "mean", f->len_mean);
    cJSON_AddNumberToObject(o, "labels", (double)f->n_labels);
    cJSON_AddNumberToObject(o, "empty_rows", (double)f->n_empty);
    json_number(o, "too_short_rows", f->frames_known ? (double)f->n_too_short : NAN);
    json_number(o, "first_too_short_row", f->first_short_row >= 0 ? (double)f->first_short_row : NAN);
}
