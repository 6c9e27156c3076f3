/* main.c — the strata command line: the one table of commands (name, usage, help, handler, as
 * in git's git.c), the usage printed from it, and the dispatch. Only this folder ends the
 * process; the libraries return status codes with messages. A new command is a row here and a
 * function (cli/commands.h) that parses its options with cli/options.h. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/version.h"
#include "clock.h"

#define HELP_COLUMN 39 /* where the help text starts in `strata help` */

static const st_command_t commands[] = {
    {"train", "CONFIG.json [--set key.path=value ...] [--resume auto|PATH] [--stop-after-steps N]",
     "train (run it with mpirun -np P or srun; docs/training.md)", st_cmd_train},
    {"eval", "CHECKPOINT DATA.h5 [--split test|val|train|all] [--out DIR] [--beam-width W] [--stall-timeout S]",
     "metrics of a trained model on any dataset in the format", st_cmd_eval},
    {"predict", "CHECKPOINT INPUT.h5|INPUT.csv -o OUT.csv|OUT.h5 [--format csv|h5] [--top-k K] [--beam-width W]\n"
     "[--chunk-rows N] [--stall-timeout S]",
     "per-row predictions of a trained model (CSV columns matched by name)", st_cmd_predict},
    {"export", "CHECKPOINT --format onnx [--precision fp32|fp16|int8] -o MODEL.onnx [--data DATA.h5]\n"
               "[--calibration-rows N] [--reference OUT.csv [--reference-rows N]]",
     "the eval-mode model as an ONNX graph (opset 17; docs/export.md)", st_cmd_export},
    {"ensemble train", "CONFIG.json --members N [--vary seed | --vary configs A.json,B.json,...] [--ranks P]\n"
                       "[--set key.path=value ...]",
     "train N members (seed + i, one split: data.split_seed) one after\n"
     "another in <results_dir>/<name>/member-<i>, then combine them",
     st_cmd_ensemble_train},
    {"ensemble eval", "RUN... --data DATA.h5 [--split test|val|train|all] [--weights val] [-o DIR]\n"
                      "[--stall-timeout S]",
     "soft voting over runs: mean probabilities (or values); per-member\n"
     "and ensemble metrics in metrics.json (docs/ensembles.md)",
     st_cmd_ensemble_eval},
    {"verify", "CONFIG.json --steps N --ranks 1,2,4 [--set key.path=value ...]",
     "run the first N steps at each rank count; report the first difference", st_cmd_verify},
    {"reproduce", "RUN [--ranks P]",
     "re-run a run folder's config on its dataset (refused when the dataset's\n"
     "fingerprint changed) and compare every history line with the record", st_cmd_reproduce},
    {"sbatch",
     "CONFIG.json [--nodes N] [--ranks-per-node R] [--threads T] [--time HH:MM:SS]\n"
     "[--partition P] [--account A] [--mem M] [--grace SECONDS] [--after JOBID] [--launcher srun|mpirun]\n"
     "[--max-restarts K] [--dry-run] [--set key.path=value ...] [--sweep key=v1,v2,... ...] [--auto]\n"
     "[--cpus-per-node C] [--ensemble N]",
     "write a Slurm batch script for the run (or a sweep: a job array)\n"
     "and submit it; it requeues itself after a checkpointed preemption;\n"
     "--ensemble N: N members as an array, then a combining job (afterok)",
     st_cmd_sbatch},
    {"plan", "CONFIG.json [--set key.path=value ...] [--cpus-per-node C]",
     "nodes x ranks x threads for the config's dataset, with the reasons", st_cmd_plan},
    {"sweep-report", "RUN_DIR|SWEEP_DIR ...", "compare runs: best validation accuracy, test accuracy, status",
     st_cmd_sweep_report},
    {"summary", "CONFIG.json|CHECKPOINT [--json] [--input-shape T,C|D] [--classes K]",
     "every layer: output shape, parameters, FLOPs per sample (forward and\n"
     "training), activation memory per micro-batch; optimizer state, totals", st_cmd_summary},
    {"report", "RUN [RUN...] [-o report.html]",
     "one HTML file (inline SVG, no JavaScript): curves, per-class tables and\n"
     "confusion heatmaps, warnings, config, environment; several runs overlaid\n"
     "(docs/report.md)", st_cmd_report},
    {"info", "[--json]", "machine, threads and BLIS kernels strata would use", st_cmd_info},
    {"convert idx", "IMAGES LABELS [--test-images F --test-labels F] [--class-names a,b,...] -o OUT.h5\n"
                    "[--sequence] [--stall-timeout S]",
     "MNIST-style IDX files (gzip'ed or not) to a dataset; --sequence stores\n"
     "each image as [rows, cols] (rows steps of cols features)", st_cmd_convert_idx},
    {"convert csv", "FILE --label COLUMN [--drop-bad-rows] [--split-column COLUMN] -o OUT.h5 [--stall-timeout S]\n"
                    "[--target NAME:COLUMNS:class|multilabel|regression ...] [--group COLUMN] [--allow-missing]\n"
                    "[--shape T,C]",
     "a CSV file with a header row to a dataset; --target (up to 8) makes\n"
     "--label optional; COLUMNS: a name, a+b+c or first..last; --shape T,C\n"
     "stores the features as [T, C] sequences, time-major (docs/data.md)",
     st_cmd_convert_csv},
    {"convert audio", "MANIFEST.csv -o OUT.h5 [--norm utterance|global|none] [--vocab FILE] [--target-name NAME]\n"
                      "[--sample-rate 16000] [--preemphasis 0.97] [--window hamming|hann|rectangular]\n"
                      "[--win-ms 25] [--hop-ms 10] [--n-fft 512] [--n-mels 40] [--fmin 20] [--fmax 7600]\n"
                      "[--log-floor 1e-6] [--mfcc N] [--skip-bad-files] [--threads N] [--stall-timeout S]",
     "WAV/FLAC files listed in a CSV manifest (path, label or transcript,\n"
     "group, split) to log-mel or MFCC sequences [N, T, F] with /lengths,\n"
     "labels or token sequences (docs/speech.md)",
     st_cmd_convert_audio},
    {"synth", "OUT --rows N --features D|--shape T,C [--classes K] [--seed S] [--separation 4]\n"
              "[--lengths] [--groups G] [--format h5|csv|idx] [--piece-mb 16] [--ranks P] [--stall-timeout S]",
     "a synthetic, learnable classification dataset of any size, written in\n"
     "parallel under mpirun (or --ranks P), in bounded memory (docs/data.md)",
     st_cmd_synth},
    {"inspect", "FILE [--json] [--stall-timeout S]", "class counts, targets, groups, NaN/Inf, training phase, problems\n(docs/data.md)",
     st_cmd_inspect},
    {"help", "[config|layers|losses|optimizer|schedule|reference [--markdown]]",
     "this text; with a topic, its JSON keys with types, bounds and defaults\n"
     "(reference --markdown: the same as docs/reference.md)",
     st_cmd_help},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

/* Prints `text`'s lines, each after `indent` spaces, the first after `first_indent`. */
static void lines(FILE *out, const char *text, int first_indent, int indent) {
    for (int k = 0; *text; k++) {
        size_t n = strcspn(text, "\n");
        fprintf(out, "%*s%.*s\n", k ? indent : first_indent, "", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

void st_command_usage(FILE *out, const st_command_t *cmd, int with_help) {
    fprintf(out, "usage: strata %s ", cmd->name);
    lines(out, cmd->args, 0, 9);
    if (with_help) {
        fprintf(out, "\n");
        lines(out, cmd->help, 0, 0);
    }
}

/* "  strata NAME ARGS", the help beside it when the first line is short, else below. */
static void table_row(FILE *out, const st_command_t *cmd) {
    int n = fprintf(out, "  strata %s ", cmd->name);
    size_t first = strcspn(cmd->args, "\n");
    if (cmd->args[first] == '\0' && n + (int)first < HELP_COLUMN) {
        fprintf(out, "%-*s", HELP_COLUMN - n, cmd->args);
        lines(out, cmd->help, 0, HELP_COLUMN);
        return;
    }
    lines(out, cmd->args, 0, 9);
    lines(out, cmd->help, HELP_COLUMN, HELP_COLUMN);
}

void st_commands_usage(FILE *out) {
    fprintf(out, "strata " STRATA_VERSION " — data-parallel neural network training on MPI clusters\n\nusage:\n");
    for (int k = 0; k < N_COMMANDS; k++) table_row(out, &commands[k]);
}

/* 1 when row k is a sub-command of `group` ("convert idx" of "convert"). */
static int in_group(int k, const char *group) {
    size_t n = strlen(group);
    return strncmp(commands[k].name, group, n) == 0 && commands[k].name[n] == ' ';
}

/* The row for `name` (argv[1], "--help" read as "help") and, for a command with a sub-command,
 * argv[2]; *first gets the index of the first argument after the name. NULL when none matches. */
static const st_command_t *find(const char *name, int argc, char **argv, int *first) {
    for (int k = 0; k < N_COMMANDS; k++) {
        if (strcmp(commands[k].name, name) == 0) return *first = 2, &commands[k];
        if (in_group(k, name) && argc > 2 && strcmp(argv[2], commands[k].name + strlen(name) + 1) == 0)
            return *first = 3, &commands[k];
    }
    return NULL;
}

/* `strata convert` without a known sub-command: the sub-commands' usage (exit 0 for --help). */
static int group_usage(const char *group, int argc, char **argv) {
    int help = argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0);
    if (!help) {
        fprintf(stderr, "strata: %s: expected", group);
        for (int k = 0, i = 0; k < N_COMMANDS; k++)
            if (in_group(k, group)) fprintf(stderr, "%s %s", i++ ? " or" : "", commands[k].name + strlen(group) + 1);
        fprintf(stderr, " (see strata help)\n");
    }
    for (int k = 0; k < N_COMMANDS; k++)
        if (in_group(k, group)) st_command_usage(help ? stdout : stderr, &commands[k], 0);
    return help ? 0 : 2;
}

int main(int argc, char **argv) {
    st_cli_t cli = {argc, argv, 2, NULL, st_clock_s()}; /* main_entry_s: `strata train`'s start-up origin */
    if (argc < 2) {
        st_commands_usage(stderr);
        return 2;
    }
    const char *name = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? "help" : argv[1];
    cli.cmd = find(name, argc, argv, &cli.first);
    if (cli.cmd) return cli.cmd->run(&cli);
    for (int k = 0; k < N_COMMANDS; k++)
        if (in_group(k, name)) return group_usage(name, argc, argv);
    fprintf(stderr, "strata: unknown command \"%s\" (see strata help)\n", argv[1]);
    return 2;
}
