/* node_window.c — a shared-memory window per node and a barrier without MPI (see node_window.h). */
#include "node_window.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Each rank's segment: a header of HEADER bytes (rank 0's holds the barrier counters, on their
 * own cache lines), then the caller's bytes. */
#define HEADER 256

typedef struct {
    _Alignas(64) atomic_ulong arrived;
    _Alignas(64) atomic_ulong generation;
} sync_t;

_Static_assert(sizeof(sync_t) <= HEADER, "barrier counters overflow the header");

int st_node_window_possible(const st_comm_t *c) {
    return c->size > 1 && c->local_size == c->size && c->size <= ST_NODE_MAX_RANKS;
}

/* 1 when the file system Open MPI backs shared windows with has room for `need` bytes (with a
 * quarter to spare): containers often mount a small /dev/shm. */
static int backing_has_room(size_t need) {
    const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");
    struct statvfs fs;
    if (statvfs(dir && *dir ? dir : "/dev/shm", &fs) != 0) return 1; /* unknown: let MPI try */
    double room = (double)fs.f_bavail * (double)fs.f_frsize;
    return room >= 1.25 * (double)need;
}

st_status_t st_node_window_open(st_node_window_t *w, const st_comm_t *c, size_t bytes, st_error_t *err) {
    memset(w, 0, sizeof *w);
    w->win = MPI_WIN_NULL;
    if (!st_node_window_possible(c)) return ST_OK;
    w->rank = c->rank, w->size = c->size;
    size_t own = HEADER + (bytes + 63) / 64 * 64;
    int room = backing_has_room((own + 64) * (size_t)c->size), all_room = 0;
    ST_MPI(MPI_Allreduce(&room, &all_room, 1, MPI_INT, MPI_MIN, c->comm), err);
    if (!all_room) return ST_OK;
    MPI_Info info;
    ST_MPI(MPI_Info_create(&info), err);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");
    void *base = NULL; /* this rank's segment, also found by MPI_Win_shared_query below */
    int rc = MPI_Win_allocate_shared((MPI_Aint)(own + 64), 1, info, c->comm, &base, &w->win);
    MPI_Info_free(&info);
    if (rc != MPI_SUCCESS) {
        w->win = MPI_WIN_NULL;
        return st_mpi_fail(err, rc, "MPI_Win_allocate_shared", __FILE__, __LINE__);
    }
    for (int r = 0; r < w->size; r++) {
        MPI_Aint size = 0;
        int disp = 0;
        char *seg = NULL;
        rc = MPI_Win_shared_query(w->win, r, &size, &disp, &seg);
        if (rc == MPI_SUCCESS && seg && (size_t)size >= own + 64) /* the library may start it anywhere */
            seg += (64 - (uintptr_t)seg % 64) % 64;
        else rc = rc == MPI_SUCCESS ? MPI_ERR_OTHER : rc;
        if (rc != MPI_SUCCESS) {
            st_node_window_close(w);
            return seg ? st_fail(err, ST_ERR_MPI, "node window: rank %d's segment holds %zu bytes, %zu wanted", r,
                                 (size_t)size, own + 64)
                       : st_mpi_fail(err, rc, "MPI_Win_shared_query", __FILE__, __LINE__);
        }
        w->segment[r] = seg + HEADER;
    }
    memset((char *)w->segment[w->rank] - HEADER, 0, HEADER); /* each rank clears its own header */
    w->sync = (char *)w->segment[0] - HEADER;
    atomic_thread_fence(memory_order_seq_cst);
    ST_MPI(MPI_Barrier(c->comm), err); /* no rank uses the counters before rank 0 cleared them */
    return ST_OK;
}

void st_node_barrier(st_node_window_t *w) {
    sync_t *s = w->sync;
    unsigned long gen = w->generation++;
    if (atomic_fetch_add(&s->arrived, 1) == (unsigned long)w->size - 1) {
        atomic_store(&s->arrived, 0);
        atomic_store(&s->generation, gen + 1);
        return;
    }
    for (long spins = 0; atomic_load(&s->generation) == gen; spins++)
        if (spins > 2000) sched_yield();
}

void st_node_window_close(st_node_window_t *w) {
    if (w->win != MPI_WIN_NULL) MPI_Win_free(&w->win);
    w->win = MPI_WIN_NULL;
}
