/* progress.h — what rank 0 prints on the terminal while training: one readable line per epoch,
 * and a live progress bar within the epoch when stdout is a terminal.
 *
 * The bar is redrawn in place with '\r' at most 10 times a second and erased before the epoch
 * line is printed; when the output is not a terminal (a log file, Slurm's output) nothing at all
 * is written within the epoch, so logs hold only the epoch lines. */
#ifndef ST_PROGRESS_H
#define ST_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the epoch line --------------------------------------------------------------------- */

typedef struct {
    int epoch, n_epochs;                /* epoch is 1-based */
    double train_loss, train_accuracy;  /* accuracy as a fraction in [0, 1] */
    double val_loss, val_accuracy;      /* NaN: no validation split ("val -") */
    double lr, seconds, samples_per_s;
    int best;                           /* best validation score so far */
    int checkpoint;                     /* a checkpoint was written after this epoch */
    const char *collapse_warning;       /* NULL or "": none */
    const char *val_metric;             /* NULL: "acc" (val_accuracy); else what val_accuracy holds
                                         * ("wer" for a ctc head), printed as a percentage */
} st_epoch_line_t;

/* Formats one epoch line (no trailing newline) into buf[size], e.g.
 *   epoch  3/20  train loss 0.4123 acc 85.12%  val loss 0.4401 acc 84.30%  lr 0.001  12.3 s  48213 samples/s  [best, checkpoint]
 * with "  WARNING: <collapse warning>" appended when there is one. A NaN accuracy is left out
 * ("train loss 0.4123  val loss 0.4401 wer 3.10%" for a ctc head). The epoch number is padded
 * to the width of n_epochs. Returns the length it needed (as snprintf). */
int st_epoch_line_format(char *buf /*[size]*/, size_t size, const st_epoch_line_t *e);

/* Prints the line with a newline and flushes. */
void st_epoch_line_print(FILE *out, const st_epoch_line_t *e);

/* ---- the progress bar within an epoch --------------------------------------------------- */

typedef enum {
    ST_PROGRESS_AUTO = 0,   /* draw when what is written to `out` reaches a terminal (st_progress_output_is_terminal) */
    ST_PROGRESS_ALWAYS,     /* draw anyway (tests) */
    ST_PROGRESS_NEVER
} st_progress_mode_t;

/* 1 when `out` is a terminal and, under Open MPI's mpirun (OMPI_COMM_WORLD_SIZE set), the
 * launcher's own standard output is a terminal too: mpirun gives each rank a pseudo-terminal even
 * when its output goes to a log file, which then filled with redraws. */
int st_progress_output_is_terminal(FILE *out);

#define ST_PROGRESS_MIN_INTERVAL_S 0.1

typedef struct {
    FILE *out;
    int enabled;
    int epoch, n_epochs;
    int64_t total_steps;
    double t_start, t_last_draw;  /* monotonic seconds; t_last_draw < 0: never drawn */
    int drawn_len;                /* characters on the line now, to erase */
} st_progress_t;

/* Starts the bar for one epoch of total_steps steps (draws nothing yet). */
void st_progress_begin(st_progress_t *p, FILE *out, st_progress_mode_t mode, int epoch, int n_epochs,
                       int64_t total_steps);

/* After a step: redraws "epoch 3/20 [=====>      ] 123/469 steps  48213 samples/s  loss 0.4123"
 * unless the last draw was less than ST_PROGRESS_MIN_INTERVAL_S ago. samples_done counts the
 * samples of this epoch so far (all ranks); running_loss is the mean loss so far. */
void st_progress_update(st_progress_t *p, int64_t steps_done, int64_t samples_done, double running_loss);

/* Erases the bar (so the epoch line can take its place). */
void st_progress_end(st_progress_t *p);

#endif
