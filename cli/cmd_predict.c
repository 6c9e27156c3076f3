/* cmd_predict.c — `strata predict CHECKPOINT INPUT -o OUT [--format csv|h5] [--top-k K]
 * [--beam-width W] [--chunk-rows N]`: a trained model's predictions for every row of INPUT (a
 * strata HDF5 dataset, or a CSV whose header names the training features in any order), written
 * per row to OUT (.csv or .h5). This file parses the options, starts MPI and calls st_predict
 * (jobs/predict.h), which streams the rows in chunks over any number of ranks. Exit status: 0
 * done, 1 a failure, 2 a usage error. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "watchdog.h" /* ST_STALL_TIMEOUT_DEFAULT_S */
#include "jobs/predict.h"

static st_status_t predict_on_ranks(void *req, const st_comm_t *c, st_error_t *err) {
    return st_predict(req, c, err);
}

int st_cmd_predict(const st_cli_t *cli) {
    const char *pos[2];
    st_predict_request_t req = {.out = stdout};
    int stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    const st_opt_t opts[] = {
        ST_OPTION_STRING("-o", "--out", &req.output, "-o needs an output file (.csv or .h5)"),
        ST_OPTION_STRING("--format", NULL, &req.format, "--format needs csv or h5"),
        ST_OPTION_INT("--top-k", &req.top_k, 1, 65536),
        ST_OPTION_INT("--beam-width", &req.beam_width, 1, 256),
        ST_OPTION_INT("--chunk-rows", &req.chunk_rows, 1, 1 << 24),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
    };
    st_opts_t spec = {opts, 6, pos, 2, 2, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (!req.output) return st_usage_error(cli, "-o OUT is required (a .csv or .h5 file)");
    if (req.format && strcmp(req.format, "csv") && strcmp(req.format, "h5") && strcmp(req.format, "hdf5"))
        return st_usage_error(cli, "--format is csv or h5, got %s", req.format);
    req.checkpoint = pos[0], req.input = pos[1];

    return st_cli_run_on_ranks(cli, stall_s, predict_on_ranks, &req);
}
