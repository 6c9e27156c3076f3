/* cmd_export.c — `strata export CHECKPOINT --format onnx [--precision fp32|fp16|int8] -o model.onnx
 * [--data DATA.h5] [--reference OUT.csv [--reference-rows N]] [--calibration-rows N]`: the trained model as an ONNX
 * graph (jobs/export_onnx.h, docs/export.md). --data names a dataset with the samples' shape
 * (default: the one the checkpoint's config trained on); --reference also writes the first N rows
 * of it with strata's own outputs, to check an ONNX runtime against. --precision fp16 writes float16
 * weights and activations (float32 input and outputs, Cast inside) and prints the accuracy, fp32
 * against fp16, overall and per class; int8 the same with Gemm/MatMul/Conv weights int8 per output
 * channel (DequantizeLinear) and those ops' inputs through uint8 QuantizeLinear/DequantizeLinear
 * pairs calibrated on --calibration-rows (512) training rows (1 or more; more than the training
 * split has takes them all). Exit status: 0 done, 1 a
 * failure, 2 a usage error. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/version.h"
#include "jobs/export_onnx.h"
#include "mpi/comm.h"

/* The export is one process's work: rank 0 writes the file, other ranks (under mpirun) wait. */
static st_status_t export_on_rank0(void *req, const st_comm_t *c, st_error_t *err) {
    return c->rank == 0 ? st_export_onnx(req, err) : ST_OK;
}

int st_cmd_export(const st_cli_t *cli) {
    const char *pos[1], *format = NULL;
    st_export_request_t req = {.precision = "fp32", .reference_rows = 64, .version = STRATA_VERSION, .out = stdout};
    const st_opt_t opts[] = {
        ST_OPTION_STRING("--format", NULL, &format, "--format needs onnx"),
        ST_OPTION_STRING("--precision", NULL, &req.precision, "--precision needs fp32, fp16 or int8"),
        ST_OPTION_STRING("-o", "--out", &req.out_path, "-o needs the ONNX file to write"),
        ST_OPTION_STRING("--data", NULL, &req.data, "--data needs a dataset file"),
        ST_OPTION_STRING("--reference", NULL, &req.reference, "--reference needs a CSV file to write"),
        ST_OPTION_INT("--reference-rows", &req.reference_rows, 1, 1000000),
        ST_OPTION_INT("--calibration-rows", &req.calibration_rows, 1, 1000000000),
    };
    st_opts_t spec = {opts, 7, pos, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (!format || strcmp(format, "onnx") != 0)
        return st_usage_error(cli, "--format onnx is the one format, got %s", format ? format : "none");
    if (!req.out_path) return st_usage_error(cli, "-o model.onnx is required");
    if (req.calibration_rows && strcmp(req.precision, "int8") != 0)
        return st_usage_error(cli, "--calibration-rows is for --precision int8 (its activation ranges)");
    req.checkpoint = pos[0];

    return st_cli_run_on_ranks(cli, -1, export_on_rank0, &req);
}
