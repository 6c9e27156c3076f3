/* mpi_comm.c — the communicator layer (mpi/comm.c) under mpirun: st_comm_init fills rank, size
 * and the node-local rank/size; ST_MPI turns a failing MPI call into an st_error_t (MPI errors
 * return instead of aborting); st_comm_agree makes every rank see a failure; the printing
 * helpers follow the rank-0 / "[rank r]" conventions; threads per rank follow local_size.
 *
 *   mpi_comm            the checks; rank 0 prints TAP, exit status non-zero on any failure
 *   mpi_comm --abort    rank size-1 calls st_comm_abort(code 3, "deliberate abort") (the wrapper
 *                       checks the exit status and the "[rank r] deliberate abort" line)
 * Run by tests/test_mpi_loader.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "mpi/node_window.h"
#include "mpitest.h"
#include "threads.h"

static st_comm_t C;

/* A library-style function: sends to a rank that does not exist. */
static st_status_t send_to_nowhere(st_error_t *err) {
    int x = 1;
    ST_MPI(MPI_Send(&x, 1, MPI_INT, C.size + 5, 0, C.comm), err);
    return ST_OK;
}

static st_status_t bcast_bad_root(st_error_t *err) {
    st_status_t status = ST_OK;
    int x = 1;
    ST_MPI_GOTO(MPI_Bcast(&x, 1, MPI_INT, -7, C.comm), err, status, done);
    status = st_fail(err, ST_ERR_INTERNAL, "not reached");
done:
    return status;
}

static void test_identity(void) {
    int wrank, wsize;
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);
    MT_CHECK(C.rank == wrank && C.size == wsize, "rank/size %d/%d, world %d/%d", C.rank, C.size, wrank, wsize);
    MT_CHECK(C.comm != MPI_COMM_WORLD && C.comm != MPI_COMM_NULL, "comm is a duplicate of MPI_COMM_WORLD");
    int level = 0;
    MPI_Query_thread(&level);
    MT_CHECK(level >= MPI_THREAD_FUNNELED, "thread level %d", level);
    /* The tests run on one machine: every rank is on this node. */
    MT_CHECK(C.local_size == C.size && C.local_rank == C.rank, "local %d/%d on one node of %d ranks", C.local_rank,
          C.local_size, C.size);
    MT_CHECK(C.host[0] != '\0', "empty host name");
    MT_CHECK(st_comm_threads_default(&C) == st_threads_default(C.local_size), "threads %d", st_comm_threads_default(&C));
    mt_end_case("st_comm_init: rank, size, local rank/size, host, thread level, threads per rank");
}

static void test_errors(void) {
    st_error_t err = {0};
    st_status_t s = send_to_nowhere(&err);
    MT_CHECK(s == ST_ERR_MPI && err.code == ST_ERR_MPI, "status %d", (int)s);
    MT_CHECK(strstr(err.msg, "MPI_Send failed at ") && strstr(err.msg, "mpi_comm.c:"), "message: %s", err.msg);
    MT_CHECK(strstr(err.msg, "rank") != NULL, "no MPI error string in: %s", err.msg); /* "MPI_ERR_RANK: invalid rank" */
    if (C.rank == 0) printf("# %s\n", err.msg);
    memset(&err, 0, sizeof err);
    s = bcast_bad_root(&err);
    MT_CHECK(s == ST_ERR_MPI && strstr(err.msg, "MPI_Bcast failed at "), "status %d, message: %s", (int)s, err.msg);
    if (C.rank == 0) printf("# %s\n", err.msg);
    /* MPI still works after the errors. */
    int one = 1, sum = 0;
    MT_CHECK(MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, C.comm) == MPI_SUCCESS && sum == C.size, "allreduce after errors");
    mt_end_case("ST_MPI / ST_MPI_GOTO: invalid MPI calls return an error message instead of aborting");
}

static void test_agree(void) {
    st_error_t err = {0};
    MT_CHECK(st_comm_agree(&C, ST_OK, &err) == ST_OK, "all ok");
    int bad = C.size > 1 ? 1 : 0;
    st_status_t mine = C.rank == bad ? st_fail(&err, ST_ERR_DATA, "my own message") : ST_OK;
    st_status_t s = st_comm_agree(&C, mine, &err);
    MT_CHECK(s == ST_ERR_DATA, "status %d", (int)s);
    if (C.rank == bad) MT_CHECK(strcmp(err.msg, "my own message") == 0, "message: %s", err.msg);
    else MT_CHECK(strstr(err.msg, "rank 1 failed") != NULL, "message: %s", err.msg);
    mt_end_case("st_comm_agree: a failure on one rank reaches every rank");
}

static void test_printing(void) {
    FILE *f = tmpfile();
    st_comm_print(&C, f, "only rank 0 %d\n", 42);
    st_comm_print_any(&C, f, "line %d\n", 7);
    fflush(f);
    rewind(f);
    char buf[256] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    char want[256];
    if (C.rank == 0) snprintf(want, sizeof want, "only rank 0 42\nline 7\n");
    else snprintf(want, sizeof want, "[rank %d] line 7\n", C.rank);
    MT_CHECK(strcmp(buf, want) == 0, "printed \"%s\", want \"%s\"", buf, want);
    mt_end_case("st_comm_print (rank 0 only) and st_comm_print_any (\"[rank r] \" on other ranks)");
}

/* The node window (mpi/node_window.h): open on one node with more than one rank, closed (and
 * ST_OK) at P = 1 or when /dev/shm cannot hold the segments; every rank sees every segment; the
 * barrier orders writes before it against reads after it, round after round. */
static void test_node_window(void) {
    st_error_t err = {0};
    st_node_window_t w;
    MT_CHECK(st_node_window_open(&w, &C, (size_t)1 << 50, &err) == ST_OK, "%s", err.msg);
    MT_CHECK(!st_node_window_is_open(&w), "a 1 PiB window a rank opened");
    enum { N = 1000, ROUNDS = 3000 };
    MT_CHECK(st_node_window_open(&w, &C, N * sizeof(long), &err) == ST_OK, "%s", err.msg);
    MT_CHECK(st_node_window_is_open(&w) == (C.size > 1), "open %d at P=%d", st_node_window_is_open(&w), C.size);
    if (st_node_window_is_open(&w)) {
        long *mine = st_node_segment(&w, C.rank);
        for (int i = 0; i < N; i++) mine[i] = 1000L * C.rank + i;
        st_node_barrier(&w);
        int bad = 0;
        for (int r = 0; r < C.size; r++)
            for (int i = 0; i < N; i++) bad += ((long *)st_node_segment(&w, r))[i] != 1000L * r + i;
        MT_CHECK(bad == 0, "%d values of other ranks' segments wrong after the barrier", bad);
        st_node_barrier(&w);
        for (long round = 1; round <= ROUNDS && bad == 0; round++) {
            mine[0] = round; /* read by every rank between the two barriers, rewritten after the second */
            st_node_barrier(&w);
            for (int r = 0; r < C.size; r++) bad += ((long *)st_node_segment(&w, r))[0] != round;
            st_node_barrier(&w);
        }
        MT_CHECK(bad == 0, "a rank saw another's value of the wrong round (%d times)", bad);
        st_node_window_close(&w);
    }
    mt_end_case("st_node_window_open and st_node_barrier: shared segments, 3,000 ordered rounds, no window at P=1 or without room");
}

int main(int argc, char **argv) {
    st_error_t err = {0};
    if (st_comm_init(&argc, &argv, &C, &err) != ST_OK) {
        fprintf(stderr, "mpi_comm: %s\n", err.msg);
        return 1;
    }
    mt_init(&C);
    if (argc > 1 && strcmp(argv[1], "--abort") == 0) {
        MPI_Barrier(C.comm);
        if (C.rank == C.size - 1) st_comm_abort(&C, 3, "deliberate abort");
        MPI_Barrier(C.comm); /* the other ranks wait here until the abort ends them */
        st_comm_finalize(&C, &err);
        return 0;
    }
    if (C.rank == 0) printf("1..5\n");
    test_identity();
    test_errors();
    test_agree();
    test_printing();
    test_node_window();
    int failed = mt_failed_cases();
    st_comm_finalize(&C, &err);
    return failed ? 1 : 0;
}
