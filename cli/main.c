/* main.c — the strata command line: a thin dispatcher over the libraries. Only this file ends
 * the process; library calls return status codes with messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sharding/convert_csv.h"
#include "sharding/convert_idx.h"
#include "sharding/inspect.h"
#include "cli/commands.h"
#include "jobs/startup.h"
#include "cli/version.h"
#include "reference.h"
#include "threads.h"

static void usage(FILE *out) {
    fprintf(out,
            "strata " STRATA_VERSION " — data-parallel neural network training on MPI clusters\n\n"
            "usage:\n"
            "  strata train CONFIG.json [--set key.path=value ...] [--resume auto|PATH] [--stop-after-steps N]\n"
            "                                       train (run it with mpirun -np P or srun; docs/training.md)\n"
            "  strata eval CHECKPOINT DATA.h5 [--split test|val|train|all]\n"
            "                                       metrics of a trained model on any dataset in the format\n"
            "  strata verify CONFIG.json --steps N --ranks 1,2,4 [--set key.path=value ...]\n"
            "                                       run the first N steps at each rank count; report the first difference\n"
            "  strata sbatch CONFIG.json [--nodes N] [--ranks-per-node R] [--threads T] [--time HH:MM:SS]\n"
            "         [--partition P] [--account A] [--mem M] [--grace SECONDS] [--after JOBID] [--launcher srun|mpirun]\n"
            "         [--max-restarts K] [--dry-run] [--set key.path=value ...] [--sweep key=v1,v2,... ...] [--auto]\n"
            "                                       write a Slurm batch script for the run (or a sweep: a job array)\n"
            "                                       and submit it; it requeues itself after a checkpointed preemption\n"
            "  strata plan CONFIG.json [--set key.path=value ...] [--cpus-per-node C]\n"
            "                                       nodes x ranks x threads for the config's dataset, with the reasons\n"
            "  strata sweep-report RUN_DIR|SWEEP_DIR ...\n"
            "                                       compare runs: best validation accuracy, test accuracy, status\n"
            "  strata info [--json]                 machine, threads and BLIS kernels strata would use\n"
            "  strata help                          this text\n"
            "  strata convert idx IMAGES LABELS [--test-images F --test-labels F] [--class-names a,b,...] -o OUT.h5\n"
            "                                       MNIST-style IDX files (gzip'ed or not) to a dataset\n"
            "  strata convert csv FILE --label COLUMN [--drop-bad-rows] [--split-column COLUMN] -o OUT.h5\n"
            "                                       a CSV file with a header row to a dataset\n"
            "  strata inspect FILE [--json]         class counts, NaN/Inf, training phase, problems (docs/data.md)\n"
            "  strata help config|layers|losses|optimizer|schedule|reference\n"
            "                                       JSON keys with types, bounds and defaults\n"
            "  strata help reference --markdown     the same as docs/reference.md\n");
}

static int cmd_help(int argc, char **argv) {
    if (argc < 3) {
        usage(stdout);
        return 0;
    }
    int markdown = argc > 3 && strcmp(argv[3], "--markdown") == 0;
    if (st_reference_print(stdout, argv[2], markdown) != 0) {
        fprintf(stderr, "strata help: unknown topic \"%s\" (topics: config, layers, losses, optimizer, schedule, reference)\n", argv[2]);
        return 2;
    }
    return 0;
}

static int cmd_info(int argc, char **argv) {
    int json = argc > 2 && strcmp(argv[2], "--json") == 0;
    st_blis_info_t blis;
    st_blis_select(&blis);
    int cpus = st_cpus_available();
    if (json) {
        printf("{\"version\": \"%s\", \"cpus\": %d, \"threads_default\": %d, \"blis_kernels\": \"%s\", "
               "\"blis_how\": \"%s\", \"blis_warning\": \"%s\"}\n",
               STRATA_VERSION, cpus, st_threads_default(1), blis.kernels, blis.how, blis.warning);
    } else {
        printf("strata %s\nCPUs available: %d (threads per rank default: CPUs / ranks on the node)\n"
               "BLIS kernels: %s (%s)\n",
               STRATA_VERSION, cpus, blis.kernels, blis.how);
        if (blis.warning[0]) printf("warning: %s\n", blis.warning);
    }
    return 0;
}

/* ---- data commands (docs/data.md) ---- */

typedef struct {
    const char *name;   /* "--label" */
    const char *alias;  /* "-o" or NULL */
    const char **value; /* option with a value */
    int *flag;          /* option without one */
} cli_opt_t;

/* Splits argv[first..] into positionals and options; prints a usage error and returns 2 on
 * anything unknown or missing. */
static int parse_args(const char *cmd, int argc, char **argv, int first, const cli_opt_t *opts, int n_opts,
                      const char **pos, int n_pos_want) {
    int n_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const cli_opt_t *o = NULL;
            for (int k = 0; k < n_opts; k++)
                if ((strlen(opts[k].name) == len && strncmp(a, opts[k].name, len) == 0) ||
                    (opts[k].alias && strlen(opts[k].alias) == len && strncmp(a, opts[k].alias, len) == 0))
                    o = &opts[k];
            if (!o) {
                fprintf(stderr, "strata: %s: unknown option \"%s\" (options:", cmd, a);
                for (int k = 0; k < n_opts; k++) fprintf(stderr, " %s", opts[k].name);
                fprintf(stderr, ")\n");
                return 2;
            }
            if (o->flag) {
                if (eq) {
                    fprintf(stderr, "strata: %s: %s takes no value\n", cmd, o->name);
                    return 2;
                }
                *o->flag = 1;
            } else if (eq) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                fprintf(stderr, "strata: %s: %s needs a value\n", cmd, o->name);
                return 2;
            }
        } else {
            if (n_pos == n_pos_want) {
                fprintf(stderr, "strata: %s: unexpected argument \"%s\" (see strata help)\n", cmd, a);
                return 2;
            }
            pos[n_pos++] = a;
        }
    }
    if (n_pos < n_pos_want) {
        fprintf(stderr, "strata: %s: missing argument%s (see strata help)\n", cmd, n_pos_want - n_pos > 1 ? "s" : "");
        return 2;
    }
    return 0;
}

static int fail(const st_error_t *err) {
    fprintf(stderr, "strata: %s\n", err->msg);
    return 1;
}

static int cmd_convert_idx(int argc, char **argv) {
    const char *pos[2], *out = NULL;
    st_idx_options_t o = {0};
    const cli_opt_t opts[] = {
        {"--output", "-o", &out, NULL},
        {"--test-images", NULL, &o.test_images, NULL},
        {"--test-labels", NULL, &o.test_labels, NULL},
        {"--class-names", NULL, &o.class_names, NULL},
    };
    int rc = parse_args("convert idx", argc, argv, 3, opts, 4, pos, 2);
    if (rc) return rc;
    if (!out) return fprintf(stderr, "strata: convert idx: -o OUT.h5 is required\n"), 2;
    if (!o.test_images != !o.test_labels)
        return fprintf(stderr, "strata: convert idx: --test-images and --test-labels go together\n"), 2;
    o.images = pos[0];
    o.labels = pos[1];
    st_idx_summary_t sum;
    st_error_t err = {0};
    if (st_convert_idx(out, &o, &sum, &err) != ST_OK) return fail(&err);
    printf("wrote %s: %lld samples", out, (long long)(sum.n_train + sum.n_test));
    if (sum.n_test) printf(" (%lld train + %lld test, marked by /split)", (long long)sum.n_train, (long long)sum.n_test);
    printf(" of %dx%d pixels as %d float32 features (raw values 0..255), %d classes\n", sum.rows, sum.cols,
           sum.rows * sum.cols, sum.n_classes);
    return 0;
}

static int cmd_convert_csv(int argc, char **argv) {
    const char *pos[1], *out = NULL;
    st_csv_options_t o = {0};
    const cli_opt_t opts[] = {
        {"--output", "-o", &out, NULL},
        {"--label", NULL, &o.label, NULL},
        {"--split-column", NULL, &o.split_column, NULL},
        {"--drop-bad-rows", NULL, NULL, &o.drop_bad_rows},
    };
    int rc = parse_args("convert csv", argc, argv, 3, opts, 4, pos, 1);
    if (rc) return rc;
    if (!out) return fprintf(stderr, "strata: convert csv: -o OUT.h5 is required\n"), 2;
    if (!o.label) return fprintf(stderr, "strata: convert csv: --label COLUMN is required\n"), 2;
    o.path = pos[0];
    st_csv_summary_t sum;
    st_error_t err = {0};
    if (st_convert_csv(out, &o, &sum, &err) != ST_OK) return fail(&err);
    printf("wrote %s: %lld samples, %d features, %d class%s (%s)\n", out, (long long)sum.n, sum.d, sum.n_classes, sum.n_classes == 1 ? "" : "es",
           sum.labels_are_ids ? "integer labels used as class ids" : "string labels, ids in sorted order");
    if (sum.n_dropped)
        printf("dropped %lld bad row%s (first: %s)\n", (long long)sum.n_dropped, sum.n_dropped == 1 ? "" : "s",
               sum.first_dropped);
    return 0;
}

static int cmd_convert(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[2], "idx") == 0) return cmd_convert_idx(argc, argv);
    if (argc >= 3 && strcmp(argv[2], "csv") == 0) return cmd_convert_csv(argc, argv);
    fprintf(stderr, "strata: convert: expected a format, idx or csv (see strata help)\n");
    return 2;
}

static int cmd_inspect(int argc, char **argv) {
    const char *pos[1];
    int json = 0;
    const cli_opt_t opts[] = {{"--json", NULL, NULL, &json}};
    int rc = parse_args("inspect", argc, argv, 2, opts, 1, pos, 1);
    if (rc) return rc;
    st_inspect_t r;
    st_error_t err = {0};
    if (st_inspect(pos[0], &r, &err) != ST_OK) return fail(&err);
    if (json) {
        char *s = st_inspect_json(&r);
        if (s) printf("%s\n", s);
        free(s);
    } else {
        st_inspect_print(stdout, &r);
    }
    int n_problems = r.n_problems;
    st_inspect_free(&r);
    if (n_problems > 0) {
        fflush(stdout);
        fprintf(stderr, "strata: %s: %d problem%s would make training fail (listed above)\n", pos[0], n_problems,
                n_problems == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    double main_entry_s = st_clock_s(); /* the origin of `strata train`'s start-up phases */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) return cmd_help(argc, argv);
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc, argv);
    if (strcmp(argv[1], "convert") == 0) return cmd_convert(argc, argv);
    if (strcmp(argv[1], "inspect") == 0) return cmd_inspect(argc, argv);
    if (strcmp(argv[1], "train") == 0) return st_cmd_train(argc, argv, main_entry_s);
    if (strcmp(argv[1], "eval") == 0) return st_cmd_eval(argc, argv);
    if (strcmp(argv[1], "verify") == 0) return st_cmd_verify(argc, argv);
    if (strcmp(argv[1], "sbatch") == 0) return st_cmd_sbatch(argc, argv);
    if (strcmp(argv[1], "plan") == 0) return st_cmd_plan(argc, argv);
    if (strcmp(argv[1], "sweep-report") == 0) return st_cmd_sweep_report(argc, argv);
    fprintf(stderr, "strata: unknown command \"%s\" (see strata help)\n", argv[1]);
    return 2;
}
