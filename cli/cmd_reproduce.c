/* cmd_reproduce.c — `strata reproduce RUN [--ranks P]`: re-runs a run folder's recorded config
 * (RUN/config.json) on its dataset into RUN/reproduce-<n>/ and compares every history line with
 * the recorded one (jobs/reproduce.h). It is started as one plain process (not under mpirun) and
 * starts the re-run itself as a child, `mpirun -np P strata train RUN/config.json --set
 * results_dir=RUN --set name=reproduce-<n>`, like `strata verify`: so any P can be asked for from
 * a login shell, and the re-run is an ordinary `strata train` (its output goes to
 * RUN/reproduce-<n>.log). P defaults to the recorded run's rank count. A run recorded as
 * "stopped after N steps" is re-run with --stop-after-steps N.
 * Exit: 0 identical (fast mode: the same epochs and steps, differences reported), 1 differs,
 * refused (another dataset) or the re-run failed, 2 usage. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "jobs/reproduce.h"

/* Runs `mpirun -np P strata train ...` with stdout and stderr into `log`; its exit status. */
static int run_train(const st_reproduce_run_t *r, const char *name, int P, const char *log) {
    char exe[1024], np[16], config[ST_RESULTS_PATH_MAX + 16], dir[ST_RESULTS_PATH_MAX + 16], nm[128], steps[32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    snprintf(np, sizeof np, "%d", P);
    snprintf(config, sizeof config, "%s/config.json", r->run_dir);
    snprintf(dir, sizeof dir, "results_dir=%s", r->run_dir);
    snprintf(nm, sizeof nm, "name=%s", name);
    snprintf(steps, sizeof steps, "%lld", (long long)r->stop_after_steps);
    char *argv[] = {"mpirun", "-np", np, "--oversubscribe", "--bind-to", "none", exe, "train", config, "--set", dir,
                    "--set", nm, r->stop_after_steps ? "--stop-after-steps" : NULL, steps, NULL};
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
        setenv("STRATA_PROGRESS", "never", 1);
        execvp("mpirun", argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int st_cmd_reproduce(const st_cli_t *cli) {
    const char *run_dir = NULL;
    int P = 0;
    const st_opt_t opts[] = {ST_OPTION_INT("--ranks", &P, 1, 1000000)};
    st_opts_t spec = {opts, 1, &run_dir, 1, 1, 0};
    int rc = st_opts_parse(&spec, cli);
    if (rc != ST_OPTS_RUN) return rc;
    if (geteuid() == 0) setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0), setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    st_error_t err;
    st_reproduce_run_t r;
    char name[64], rerun[ST_RESULTS_PATH_MAX + 80], log[ST_RESULTS_PATH_MAX + 96];
    if (st_reproduce_read(&r, run_dir, &err) != ST_OK) return fprintf(stderr, "strata reproduce: %s\n", err.msg), 1;
    if (st_reproduce_check_dataset(&r, &err) != ST_OK)
        return fprintf(stderr, "strata reproduce: refused: %s\n", err.msg), 1;
    if (st_reproduce_next_name(name, sizeof name, run_dir, &err) != ST_OK)
        return fprintf(stderr, "strata reproduce: %s\n", err.msg), 1;
    if (P == 0) P = r.ranks;
    snprintf(rerun, sizeof rerun, "%s/%s", run_dir, name);
    snprintf(log, sizeof log, "%s.log", rerun);
    printf("re-running %s (reproducible: %s, recorded at %d rank%s) at %d rank%s into %s\n", run_dir,
           r.exact ? "exact" : "fast", r.ranks, r.ranks > 1 ? "s" : "", P, P > 1 ? "s" : "", rerun);
    int status = run_train(&r, name, P, log);
    if (status != 0)
        return fprintf(stderr, "strata reproduce: the re-run failed (exit %d); its output is in %s\n", status, log), 1;
    int differ;
    if (st_reproduce_compare(&differ, stdout, &r, rerun, &err) != ST_OK)
        return fprintf(stderr, "strata reproduce: %s\n", err.msg), 1;
    return differ;
}
