/* cmd_sweep_report.c — `strata sweep-report RUN_DIR|SWEEP_DIR ...` on the command line: the
 * folders are its positionals (it has no options), slurm/sweep_report.h prints the table.
 * Exit status: 0 printed, 1 a folder that is not a run or sweep folder, 2 a usage error. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "slurm/sweep_report.h"

int st_cmd_sweep_report(const st_cli_t *cli) {
    const char **dirs = malloc(sizeof(char *) * (size_t)cli->argc);
    if (!dirs) return fprintf(stderr, "strata: sweep-report: out of memory\n"), 1;
    st_opts_t spec = {NULL, 0, dirs, 1, -1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc == ST_OPTS_RUN) {
        st_error_t err = {0};
        rc = st_sweep_report(stdout, dirs, spec.n_pos, &err) == ST_OK ? 0 : 1;
        if (rc) fprintf(stderr, "strata: sweep-report: %s\n", err.msg);
    }
    free(dirs);
    return rc;
}
