/* eval_decoded.c — the decoded sequences of `strata eval` (see eval_decoded.h). */
#include "jobs/eval_decoded.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "edit_distance.h"
#include "jobs/heads.h"
#include "jobs/results.h"
#include "mpi/collectives.h"

void st_decoded_init(st_decoded_t *dc, const st_loss_heads_t *losses, const st_dataset_t *ds) {
    memset(dc, 0, sizeof *dc);
    dc->losses = losses, dc->ds = ds;
}

void st_decoded_free(st_decoded_t *dc) {
    free(dc->text);
    dc->text = NULL, dc->len = dc->cap = 0;
}

/* Appends n bytes. */
static void put(st_decoded_t *dc, const char *s, size_t n) {
    if (dc->failed) return;
    if (dc->len + n + 1 > dc->cap) {
        size_t cap = dc->cap ? dc->cap : 4096;
        while (cap < dc->len + n + 1) cap *= 2;
        char *t = realloc(dc->text, cap);
        if (!t) {
            dc->failed = 1;
            return;
        }
        dc->text = t, dc->cap = cap;
    }
    memcpy(dc->text + dc->len, s, n);
    dc->len += n;
    dc->text[dc->len] = '\0';
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void put_field(st_decoded_t *dc, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        put(dc, s, strlen(s));
        return;
    }
    put(dc, "\"", 1);
    for (const char *q = s; *q; q++) {
        if (*q == '"') put(dc, "\"", 1);
        put(dc, q, 1);
    }
    put(dc, "\"", 1);
}

/* The tokens' names joined by a space. */
static char *joined(const st_target_info_t *ti, const int32_t *tok, int n) {
    size_t size = 1;
    for (int j = 0; j < n; j++) size += strlen(ti->names[tok[j]]) + 1;
    char *s = malloc(size), *at = s;
    if (!s) return NULL;
    *at = '\0';
    for (int j = 0; j < n; j++) at += sprintf(at, "%s%s", j ? " " : "", ti->names[tok[j]]);
    return s;
}

void st_decoded_sink(void *ctx, int h, int64_t row_id, const int32_t *ref, int n_ref, const int32_t *hyp, int n_hyp) {
    st_decoded_t *dc = ctx;
    const st_loss_config_t *l = &dc->losses->heads[h];
    const st_target_info_t *ti = &dc->ds->targets[l->target_index];
    char *rs = joined(ti, ref, n_ref), *hs = joined(ti, hyp, n_hyp);
    int64_t edits = st_edit_distance(NULL, ref, n_ref, hyp, n_hyp);
    if (!rs || !hs || edits < 0) {
        dc->failed = 1;
        free(rs), free(hs);
        return;
    }
    char num[64];
    int n = snprintf(num, sizeof num, "%lld,", (long long)row_id);
    put(dc, num, (size_t)n);
    put_field(dc, st_heads_name(l, dc->ds));
    put(dc, ",", 1);
    put_field(dc, rs);
    put(dc, ",", 1);
    put_field(dc, hs);
    n = snprintf(num, sizeof num, ",%lld,%d\n", (long long)edits, n_ref);
    put(dc, num, (size_t)n);
    if (dc->n_preview < ST_DECODED_PREVIEW)
        snprintf(dc->preview[dc->n_preview++], sizeof dc->preview[0], "  row %lld\n    reference: %.200s\n    decoded:   %.200s",
                 (long long)row_id, rs, hs);
    free(rs), free(hs);
}

st_status_t st_decoded_write(st_decoded_t *dc, const char *out_dir, FILE *out, const st_comm_t *c, st_error_t *err) {
    int64_t failed = dc->failed;
    ST_TRY(st_allreduce_sum_i64(&failed, 1, c, err));
    if (failed) return st_fail(err, ST_ERR_NOMEM, "decoded.csv: out of memory collecting the decoded rows");
    /* every rank's first rows, each ended by a record separator: rank 0 may hold no rows at all */
    char mine[ST_DECODED_PREVIEW * 520] = "", *previews = NULL, *all = NULL;
    for (int i = 0, at = 0; i < dc->n_preview; i++) at += snprintf(mine + at, sizeof mine - (size_t)at, "%s\x1e", dc->preview[i]);
    ST_TRY(st_gather_text(&previews, mine, strlen(mine), c, err));
    st_status_t grc = st_gather_text(&all, dc->text ? dc->text : "", dc->len, c, err);
    if (grc != ST_OK || c->rank != 0) return free(previews), grc;
    static const char header[] = "row,head,reference,decoded,edits,reference_tokens\n";
    size_t n = strlen(all);
    char *file = malloc(sizeof header + n);
    char path[4200];
    st_status_t rc = file ? ST_OK : st_fail(err, ST_ERR_NOMEM, "decoded.csv: out of memory");
    if (rc == ST_OK && st_format(path, sizeof path, "%s/decoded.csv", out_dir))
        rc = st_fail(err, ST_ERR_IO, "%s: path too long", out_dir);
    if (rc == ST_OK) {
        memcpy(file, header, sizeof header - 1);
        memcpy(file + sizeof header - 1, all, n);
        rc = st_write_file_atomic(path, file, sizeof header - 1 + n, err);
    }
    if (rc == ST_OK && out) {
        fprintf(out, "decoded (the first rows; all in %s):\n", path);
        char *p = previews;
        for (int i = 0; i < ST_DECODED_PREVIEW && p && *p; i++) {
            char *end = strchr(p, '\x1e');
            if (!end) break;
            fprintf(out, "%.*s\n", (int)(end - p), p);
            p = end + 1;
        }
    }
    free(file), free(all), free(previews);
    return rc;
}
