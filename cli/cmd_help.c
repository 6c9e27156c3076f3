/* cmd_help.c — the informational commands: `strata help [TOPIC [--markdown]]` (the command table,
 * or a config key table from cli/reference.c) and `strata info [--json]` (the machine, threads
 * and BLIS kernels strata would use). */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/reference.h"
#include "cli/version.h"
#include "threads.h"

int st_cmd_help(const st_cli_t *cli) {
    const char *topic[1];
    int markdown = 0;
    const st_opt_t opts[] = {ST_OPTION_FLAG("--markdown", &markdown)};
    st_opts_t spec = {opts, 1, topic, 0, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (spec.n_pos == 0) {
        st_commands_usage(stdout);
        return 0;
    }
    if (st_reference_print(stdout, topic[0], markdown) != 0) {
        fprintf(stderr, "strata help: unknown topic \"%s\" (topics: config, layers, losses, optimizer, schedule, reference)\n",
                topic[0]);
        return 2;
    }
    return 0;
}

int st_cmd_info(const st_cli_t *cli) {
    int json = 0;
    const st_opt_t opts[] = {ST_OPTION_FLAG("--json", &json)};
    st_opts_t spec = {opts, 1, NULL, 0, 0, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
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
