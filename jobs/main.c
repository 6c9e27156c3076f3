/* main.c — the strata command line: a thin dispatcher over the libraries. Only this file ends
 * the process; library calls return status codes with messages. */
#include <stdio.h>
#include <string.h>

#include "reference.h"
#include "threads.h"

#define STRATA_VERSION "0.1.0"

static void usage(FILE *out) {
    fprintf(out,
            "strata " STRATA_VERSION " — data-parallel neural network training on MPI clusters\n\n"
            "usage:\n"
            "  strata info [--json]                 machine, threads and BLIS kernels strata would use\n"
            "  strata help                          this text\n"
            "  strata help layers|losses|optimizer|schedule|reference\n"
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
        fprintf(stderr, "strata help: unknown topic \"%s\" (topics: layers, losses, optimizer, schedule, reference)\n", argv[2]);
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

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) return cmd_help(argc, argv);
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc, argv);
    fprintf(stderr, "strata: unknown command \"%s\" (see strata help)\n", argv[1]);
    return 2;
}
