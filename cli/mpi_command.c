/* mpi_command.c — the start and end every command that runs on MPI ranks shares (see
 * commands.h, st_cli_run_on_ranks): MPI up, the BLIS kernels and each rank's threads chosen, the
 * stall watchdog on, the work, the error printed once by rank 0, MPI down. */
#include <stdio.h>

#include "cli/commands.h"
#include "mpi/comm.h"
#include "threads.h"
#include "watchdog.h"

int st_cli_run_on_ranks(const st_cli_t *cli, int stall_s, st_rank_work_fn work, void *ctx) {
    st_blis_info_t blis;
    st_blis_select(&blis);
    int argc = cli->argc;
    char **argv = cli->argv;
    st_comm_t c;
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &c, &err) != ST_OK) return fprintf(stderr, "strata: %s\n", err.msg), 1;
    st_threads_set(st_comm_threads_default(&c));
    if (stall_s >= 0) st_watchdog_start(c.rank, stall_s);
    st_status_t st = work(ctx, &c, &err);
    if (stall_s >= 0) st_watchdog_stop();
    if (st != ST_OK && c.rank == 0) fprintf(stderr, "strata: %s\n", err.msg);
    st_comm_finalize(&c, &err);
    return st == ST_OK ? 0 : 1;
}
