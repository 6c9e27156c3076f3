/* cmd_report.c — `strata report RUN [RUN...] [-o report.html]` on the command line: one HTML
 * file about the runs (jobs/report_html.h; docs/report.md). One run: RUN/report.html unless -o
 * says otherwise; several runs (overlaid) need -o. Exit status: 0 written, 1 a failure (a folder
 * that is not a run: nothing written), 2 a usage error. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "jobs/report_html.h"

int st_cmd_report(const st_cli_t *cli) {
    const char **dirs = malloc(sizeof(char *) * (size_t)cli->argc), *out = NULL;
    if (!dirs) return fprintf(stderr, "strata: report: out of memory\n"), 1;
    const st_opt_t opts[] = {ST_OPTION_STRING("-o", "--out", &out, "-o needs a file name (report.html)")};
    st_opts_t spec = {opts, 1, dirs, 1, -1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc == ST_OPTS_RUN && spec.n_pos > 1 && !out)
        rc = st_usage_error(cli, "%d runs overlaid need -o report.html", spec.n_pos);
    if (rc == ST_OPTS_RUN) {
        char written[4400];
        st_error_t err = {0};
        rc = st_report_write(written, sizeof written, out, dirs, spec.n_pos, &err) == ST_OK ? 0 : 1;
        if (rc) fprintf(stderr, "strata: report: %s\n", err.msg);
        else printf("wrote %s\n", written);
    }
    free(dirs);
    return rc;
}
