/* predict.h — `strata predict`: a trained model's predictions for new rows, written per row.
 *
 * Input: a dataset in strata's HDF5 format (targets, if any, are ignored; /lengths honoured), or a
 * CSV file with a header whose columns are the training features' names (the checkpoint's
 * /feature_names) in any order; a missing or an extra column is an error naming them all. The
 * rows are scaled and standardised with the checkpoint's statistics exactly as `strata eval`
 * does (jobs/ckpt_model.h); a non-finite value is an error naming the row (and the column).
 *
 * Output (.csv or .h5 by the extension of the output path, or `format`), one row per input row,
 * in input order:
 *   CSV: "row", then per head h (its model output name, else its target's name):
 *     class       h (the id), h_name, then h_p_<class> per class (softmax), or with top_k = k
 *                 h_top1..h_topk, each "id:name:probability"
 *     multilabel  h (the labels with σ ≥ 0.5, joined by ';'), h_prob (their σ, same order)
 *     regression  h_<column> per column (de-standardised when the loss standardised targets)
 *     ctc         h: the decoded tokens' names joined by spaces (greedy, or prefix beam search
 *                 with the loss's beam_width, or beam_width when > 0)
 *   HDF5: one dataset per head, /<h>, rows in input order: float32 [N, K] probabilities (class,
 *   multilabel: attribute names) or values (regression: attribute names), int32 [N, L] token ids
 *   padded with −1 (ctc: attribute vocabulary); every dataset has the string attribute kind.
 *
 * Streaming: rows go through in chunks of chunk_rows; in round k rank r handles chunk k·P + r
 * (a contiguous block of rows), the ranks' records are gathered to rank 0 in rank order (= row
 * order) and rank 0 appends them to the output. Memory stays bounded by P·chunk_rows rows on
 * rank 0 and chunk_rows on the others; a chunk always holds the same rows and runs through the
 * same forward passes: chunk_rows is rounded up to a multiple of ST_DATA_EVAL_ROWS and the passes
 * are the blocks of ST_DATA_EVAL_ROWS rows `strata eval --split all` runs (a GEMM's bits may
 * depend on its row count), so any rank count and any chunk size write the same bytes, and a
 * class head's argmax is eval's (at the same thread count per rank).
 * The output is written to <out>.tmp and renamed at the end: a failure leaves nothing. */
#ifndef ST_PREDICT_H
#define ST_PREDICT_H

#include <stdio.h>

#include "mpi/comm.h"
#include "st_error.h"

#define ST_PREDICT_CHUNK_ROWS 4096

typedef struct {
    const char *checkpoint; /* a checkpoint file */
    const char *input;      /* a strata HDF5 dataset, or a .csv file (by extension) */
    const char *output;     /* the file to write */
    const char *format;     /* "csv", "h5" or NULL (the output's extension) */
    int top_k;              /* > 0: class heads write their k best classes instead of every probability */
    int beam_width;         /* > 0: ctc heads decode with this beam width instead of their loss's */
    int chunk_rows;         /* rows per chunk (0: ST_PREDICT_CHUNK_ROWS) */
    FILE *out;              /* rank 0 prints one summary line here (may be NULL) */
} st_predict_request_t;

/* Collective over c: every rank returns the same status; the message names the file, column or
 * row at fault. */
st_status_t st_predict(const st_predict_request_t *req, const st_comm_t *c, st_error_t *err);

#endif
