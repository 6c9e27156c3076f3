/* synth.h — a synthetic classification dataset of any size (`strata synth`, docs/data.md),
 * written in parallel and in bounded memory, for trying strata at scales no real dataset here
 * has (issue 18: 20 million rows x 256 features, 20.5 GB).
 *
 * Row i (0-based), with every draw a Philox function of (seed, what, row or class):
 *   y_i      = class in [0, K): uniform, from (seed, row i)
 *   mu_c[j]  = s · N(0, 1) from (seed, class c, feature j), s = separation / sqrt(2·D), so that
 *              two class means lie `separation` noise standard deviations apart on average
 *   x_i[j]   = mu_{y_i}[j] + N(0, 1) from (seed, row i, feature j)
 * so the data is learnable (a linear model separates the classes up to the overlap that
 * `separation` sets) and every value depends only on (seed, row, feature): the file's data is
 * the same bits whatever the number of ranks writing it. Options add /lengths (shape [T, C]:
 * length_i uniform in [ceil(T/2), T], the steps past it zero) and /groups (group_i uniform in
 * [0, G)).
 *
 * HDF5 output: under MPI each rank writes its own contiguous block of rows, in pieces of about
 * piece_mb MiB, with collective MPI-IO (sharding/dataset_stream.h); memory per rank is one piece
 * plus the class means (K·D floats), whatever N is. CSV and IDX output (inputs for testing the
 * converters at scale) are written by rank 0 alone, in pieces as well (other ranks return at
 * once). Each piece is a watchdog heartbeat. */
#ifndef ST_SYNTH_H
#define ST_SYNTH_H

#include <stdint.h>

#include <mpi.h>

#include "shape.h"
#include "st_error.h"

typedef enum { ST_SYNTH_H5, ST_SYNTH_CSV, ST_SYNTH_IDX } st_synth_format_t;

typedef struct {
    const char *out;          /* the file (IDX: the images; the labels go to "<out>.labels") */
    int64_t n_rows;           /* N >= 1 */
    st_shape_t shape;         /* [D] or [T, C] */
    int n_classes;            /* K in [2, ST_MAX_CLASSES]; IDX: at most 256 */
    uint64_t seed;
    double separation;        /* mean distance between class means, in noise standard deviations */
    int lengths;              /* 1: /lengths (shape [T, C] and HDF5 only) */
    int64_t n_groups;         /* G > 0: /groups (HDF5) or a "group" column (CSV); 0: none */
    int piece_mb;             /* rows are generated and written in pieces of about this many MiB */
    st_synth_format_t format;
} st_synth_options_t;

typedef struct {
    int64_t n_rows;
    int64_t bytes;            /* of /X (HDF5) or of the files written */
    double seconds;           /* from the start of the writing to the renamed file, max over ranks */
    int ranks;
} st_synth_summary_t;

/* Checks the options (messages name the option: "--classes 1: ..."). No MPI. */
st_status_t st_synth_check(const st_synth_options_t *o, st_error_t *err);

/* The class means mu [K, numel(shape)] (see above). */
void st_synth_means(float *mu /*[K, D]*/, const st_synth_options_t *o);

/* Rows [row0, row0 + n) into X [n, D] and y [n] (and lengths [n], groups [n] when non-NULL). */
void st_synth_rows(float *X /*[n, D]*/, int32_t *y /*[n]*/, int32_t *lengths /*[n] or NULL*/,
                   int64_t *groups /*[n] or NULL*/, const float *mu /*[K, D]*/, const st_synth_options_t *o,
                   int64_t row0, int64_t n);

/* Writes the dataset; collective over comm for HDF5 (every rank calls it; MPI_COMM_NULL: one
 * process); CSV and IDX: rank 0 writes, the others return ST_OK at once. */
st_status_t st_synth_write(const st_synth_options_t *o, MPI_Comm comm, st_synth_summary_t *sum, st_error_t *err);

/* "h5", "csv" or "idx" to the format; -1 when none matches. */
int st_synth_format_parse(const char *s);

#endif
