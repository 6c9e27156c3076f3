/* cmd_summary.c — `strata summary CONFIG|CKPT [--json] [--input-shape T,C|D] [--classes K]`:
 * every layer of the model with its output shape, parameters, FLOPs per sample, activation
 * memory per micro-batch, the optimizer state and the totals (docs/model.md, "strata summary").
 * This file parses the options and calls st_summarize (jobs/summarize.h); no MPI. Exit status:
 * 0 done, 1 a failure, 2 a usage error. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "jobs/summarize.h"

/* "T,C" -> [T, C], "D" -> [D]; 0 when the text is neither. */
static int parse_shape(const char *text, st_shape_t *s) {
    char *end;
    long a = strtol(text, &end, 10);
    if (end == text || a < 1 || a > 1 << 30) return 0;
    if (*end == '\0') return *s = st_shape1((int)a), 1;
    if (*end != ',') return 0;
    const char *second = end + 1;
    long b = strtol(second, &end, 10);
    if (end == second || *end != '\0' || b < 1 || b > 1 << 30) return 0;
    return *s = st_shape2((int)a, (int)b), 1;
}

int st_cmd_summary(const st_cli_t *cli) {
    const char *pos[1], *shape = NULL;
    st_summary_request_t req = {NULL, {0, {0, 0}}, 0, 0, stdout};
    const st_opt_t opts[] = {
        ST_OPTION_FLAG("--json", &req.json),
        ST_OPTION_STRING("--input-shape", NULL, &shape, "--input-shape needs T,C (a sequence) or D (features)"),
        ST_OPTION_INT("--classes", &req.n_classes, 1, 0),
    };
    st_opts_t spec = {opts, 3, pos, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (shape && !parse_shape(shape, &req.in_shape))
        return st_usage_error(cli, "--input-shape is T,C (a sequence) or D (features), positive integers, got %s", shape);
    req.path = pos[0];
    st_error_t err = {0};
    if (st_summarize(&req, &err) != ST_OK) return fprintf(stderr, "strata: %s\n", err.msg), 1;
    return 0;
}
