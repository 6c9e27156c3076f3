/* eval_decoded.h — the decoded sequences of `strata eval` (ctc heads): every row's reference and
 * decoded tokens collected while the ranks evaluate (st_evaluate_rows' sink), gathered to rank 0
 * in row order and written to <out_dir>/decoded.csv:
 *   row,head,reference,decoded,edits,reference_tokens
 * (row: the row's index in the dataset; reference and decoded: the tokens joined by a space;
 * edits: the token edit distance), and the first few rows printed. */
#ifndef ST_EVAL_DECODED_H
#define ST_EVAL_DECODED_H

#include <stdio.h>

#include "jobs/evaluate.h"
#include "mpi/comm.h"

#define ST_DECODED_PREVIEW 5 /* rows `strata eval` prints */

typedef struct {
    const st_loss_heads_t *losses;
    const st_dataset_t *ds;
    FILE *f;               /* this rank's CSV lines, written into text (open_memstream) */
    char *text;
    size_t len;
    int failed;            /* out of memory: the CSV is incomplete (reported by st_decoded_write) */
    int n_preview;
    char preview[ST_DECODED_PREVIEW][512];
} st_decoded_t;

void st_decoded_init(st_decoded_t *dc, const st_loss_heads_t *losses, const st_dataset_t *ds);
/* The sink for st_evaluate_rows (ctx: an st_decoded_t). */
void st_decoded_sink(void *ctx, int h, int64_t row_id, const int32_t *ref, int n_ref, const int32_t *hyp, int n_hyp);
/* Gathers every rank's lines to rank 0, which writes out_dir/decoded.csv and prints the preview
 * to out. Collective. */
st_status_t st_decoded_write(st_decoded_t *dc, const char *out_dir, FILE *out, const st_comm_t *c, st_error_t *err);
void st_decoded_free(st_decoded_t *dc);

#endif
