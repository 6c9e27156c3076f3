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
    dc->f = open_memstream(&dc->text, &dc->len);
    dc->failed = dc->f == NULL;
}

void st_decoded_free(st_decoded_t *dc) {
    if (dc->f) fclose(dc->f);
    free(dc->text);
    dc->f = NULL, dc->text = NULL, dc->len = 0;
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
    if (dc->f) {
        fprintf(dc->f, "%lld,", (long long)row_id);
        st_csv_put_field(dc->f, st_heads_name(l, dc->ds));
        fputc(',', dc->f), st_csv_put_field(dc->f, rs);
        fputc(',', dc->f), st_csv_put_field(dc->f, hs);
        fprintf(dc->f, ",%lld,%d\n", (long long)edits, n_ref);
    }
    if (dc->n_preview < ST_DECODED_PREVIEW)
        snprintf(dc->preview[dc->n_preview++], sizeof dc->preview[0], "  row %lld\n    reference: %.200s\n    decoded:   %.200s",
                 (long long)row_id, rs, hs);
    free(rs), free(hs);
}

st_status_t st_decoded_write(st_decoded_t *dc, const char *out_dir, FILE *out, const st_comm_t *c, st_error_t *err) {
    if (dc->f && (fclose(dc->f) != 0)) dc->failed = 1; /* the text is complete in dc->text now */
    dc->f = NULL;
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
