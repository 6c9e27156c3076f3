/* cmd_eval.c — `strata eval CHECKPOINT DATA.h5 [--split test|val|train|all] [--out DIR]`: the
 * metrics of a trained model (accuracy, loss, macro F1, per-class table, confusion matrix; for a
 * multi-task model every head with the metrics of its kind) on any dataset in strata's format
 * that has the targets it was trained on. This file parses the options, starts MPI and calls
 * st_eval_checkpoint (jobs/eval_checkpoint.h), which does the work on any number of ranks and
 * writes metrics.json, per_class.csv and confusion.csv (<head>_per_class.csv and
 * <head>_confusion.csv per class head with several) into --out (default: <run
 * folder>/eval-<data name>-<split>); a ctc head also writes decoded.csv, decoded with the loss's
 * beam_width or --beam-width (1 = greedy). Exit status: 0 done, 1 a failure, 2 a usage error. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "watchdog.h" /* ST_STALL_TIMEOUT_DEFAULT_S */
#include "jobs/eval_checkpoint.h"

static st_status_t eval_on_ranks(void *req, const st_comm_t *c, st_error_t *err) {
    return st_eval_checkpoint(req, c, err);
}

int st_cmd_eval(const st_cli_t *cli) {
    const char *pos[2];
    st_eval_request_t req = {NULL, NULL, "test", NULL, stdout, 0};
    int stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    const st_opt_t opts[] = {
        ST_OPTION_STRING("--split", NULL, &req.split, "--split needs test, val, train or all"),
        ST_OPTION_STRING("--out", NULL, &req.out_dir, "--out needs a folder"),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
        ST_OPTION_INT("--beam-width", &req.beam_width, 1, 256),
    };
    st_opts_t spec = {opts, 4, pos, 2, 2, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (!st_eval_split_valid(req.split)) return st_usage_error(cli, "--split is test, val, train or all, got %s", req.split);
    req.checkpoint = pos[0], req.data = pos[1];

    return st_cli_run_on_ranks(cli, stall_s, eval_on_ranks, &req);
}
