/* cmd_data.c — the data commands (docs/data.md): `strata convert idx`, `strata convert csv` (a
 * dataset in strata's HDF5 format from IDX or CSV files; CSV with targets and groups, format 2)
 * and `strata inspect` (class counts, targets, groups, NaN/Inf, the training phase, problems). Exit status: 0 done, 1 a failure (inspect: problems
 * that would make training fail), 2 a usage error. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "sharding/convert_csv.h"
#include "sharding/convert_idx.h"
#include "sharding/inspect.h"
#include "watchdog.h"

static int fail(const st_error_t *err) {
    fprintf(stderr, "strata: %s\n", err->msg);
    return 1;
}

int st_cmd_convert_idx(const st_cli_t *cli) {
    const char *pos[2], *out = NULL;
    int stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    st_idx_options_t o = {0};
    const st_opt_t opts[] = {
        ST_OPTION_STRING("--output", "-o", &out, NULL),
        ST_OPTION_STRING("--test-images", NULL, &o.test_images, NULL),
        ST_OPTION_STRING("--test-labels", NULL, &o.test_labels, NULL),
        ST_OPTION_STRING("--class-names", NULL, &o.class_names, NULL),
        ST_OPTION_FLAG("--sequence", &o.as_sequence),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
    };
    st_opts_t spec = {opts, 6, pos, 2, 2, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (!out) return st_usage_error(cli, "-o OUT.h5 is required");
    if (!o.test_images != !o.test_labels) return st_usage_error(cli, "--test-images and --test-labels go together");
    o.images = pos[0];
    o.labels = pos[1];
    st_idx_summary_t sum;
    st_error_t err = {0};
    st_watchdog_start(0, stall_s);
    st_status_t st = st_convert_idx(out, &o, &sum, &err);
    st_watchdog_stop();
    if (st != ST_OK) return fail(&err);
    printf("wrote %s: %lld samples", out, (long long)(sum.n_train + sum.n_test));
    if (sum.n_test) printf(" (%lld train + %lld test, marked by /split)", (long long)sum.n_train, (long long)sum.n_test);
    if (o.as_sequence)
        printf(" of %dx%d pixels as [%d, %d] float32 sequences (raw values 0..255), %d classes\n", sum.rows, sum.cols,
               sum.rows, sum.cols, sum.n_classes);
    else
        printf(" of %dx%d pixels as %d float32 features (raw values 0..255), %d classes\n", sum.rows, sum.cols,
               sum.rows * sum.cols, sum.n_classes);
    return 0;
}

/* "wrote ...: N samples, D features, ..." and what became of the label, targets and groups. */
static void print_csv_summary(const char *out, const st_csv_summary_t *sum) {
    printf("wrote %s: %lld samples, %d features", out, (long long)sum->n, sum->d);
    if (sum->n_classes > 0)
        printf(", %d class%s (%s)", sum->n_classes, sum->n_classes == 1 ? "" : "es",
               sum->labels_are_ids ? "integer labels used as class ids" : "string labels, ids in sorted order");
    printf("\n");
    for (int t = 0; t < sum->n_targets; t++) {
        const char *kind = st_target_kind_name(sum->targets[t].kind);
        printf("  target %s: %s, ", sum->targets[t].name, kind);
        if (sum->targets[t].kind == ST_TARGET_CLASS)
            printf("%d classes (%s)", sum->targets[t].n_classes,
                   sum->targets[t].labels_are_ids ? "integer labels used as ids" : "string labels, ids in sorted order");
        else
            printf("%d column%s", sum->targets[t].width, sum->targets[t].width == 1 ? "" : "s");
        if (sum->targets[t].n_missing) printf(", %lld missing", (long long)sum->targets[t].n_missing);
        printf("\n");
    }
    if (sum->has_groups) printf("  groups: %lld\n", (long long)sum->n_groups);
    if (sum->n_dropped)
        printf("dropped %lld bad row%s (first: %s)\n", (long long)sum->n_dropped, sum->n_dropped == 1 ? "" : "s",
               sum->first_dropped);
}

int st_cmd_convert_csv(const st_cli_t *cli) {
    const char *pos[1], *out = NULL;
    int stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    st_csv_options_t o = {0};
    st_opt_list_t targets = {0};
    const char *shape = NULL;
    const st_opt_t opts[] = {
        ST_OPTION_STRING("--output", "-o", &out, NULL),
        ST_OPTION_STRING("--label", NULL, &o.label, NULL),
        ST_OPTION_STRING("--shape", NULL, &shape, NULL),
        ST_OPTION_LIST("--target", &targets, "--target needs NAME:COLUMNS:KIND (KIND class, multilabel or regression)"),
        ST_OPTION_STRING("--group", NULL, &o.group_column, NULL),
        ST_OPTION_FLAG("--allow-missing", &o.allow_missing),
        ST_OPTION_STRING("--split-column", NULL, &o.split_column, NULL),
        ST_OPTION_FLAG("--drop-bad-rows", &o.drop_bad_rows),
        ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0),
    };
    st_opts_t spec = {opts, 9, pos, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (!out) return st_usage_error(cli, "-o OUT.h5 is required");
    char tail = 0;
    if (shape && (sscanf(shape, "%d,%d%c", &o.shape_t, &o.shape_c, &tail) != 2 || o.shape_t < 1 || o.shape_c < 1))
        return st_usage_error(cli, "--shape %s: expected T,C (two positive integers, e.g. 28,28 or 392,1)", shape);
    if (!o.label && targets.n == 0) return st_usage_error(cli, "--label COLUMN is required (or --target NAME:COLUMNS:KIND)");
    if (targets.n > ST_MAX_TARGETS) return st_usage_error(cli, "%d --target options; at most %d", targets.n, ST_MAX_TARGETS);
    st_error_t err = {0};
    for (int t = 0; t < targets.n; t++) {
        st_csv_target_spec_t ts;
        if (st_csv_target_parse(targets.items[t], &ts, &err) != ST_OK) return st_usage_error(cli, "%s", err.msg);
        o.targets[o.n_targets++] = targets.items[t];
    }
    o.path = pos[0];
    st_csv_summary_t sum;
    st_watchdog_start(0, stall_s);
    st_status_t st = st_convert_csv(out, &o, &sum, &err);
    st_watchdog_stop();
    if (st != ST_OK) return fail(&err);
    print_csv_summary(out, &sum);
    return 0;
}

int st_cmd_inspect(const st_cli_t *cli) {
    const char *pos[1];
    int json = 0, stall_s = ST_STALL_TIMEOUT_DEFAULT_S;
    const st_opt_t opts[] = {ST_OPTION_FLAG("--json", &json), ST_OPTION_INT("--stall-timeout", &stall_s, 0, 0)};
    st_opts_t spec = {opts, 2, pos, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    st_inspect_t r;
    st_error_t err = {0};
    st_watchdog_start(0, stall_s);
    st_status_t st = st_inspect(pos[0], &r, &err);
    st_watchdog_stop();
    if (st != ST_OK) return fail(&err);
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
