/* heartbeat.h — UDP heartbeats between the ranks of a job, so a stalled rank can say which rank,
 * on which host, stopped answering (the stall watchdog's message, core/watchdog.h).
 *
 * A stall in a collective only tells the waiting rank that *something* is missing. Every rank
 * opens a UDP side socket (any address, an ephemeral port) before training; the ranks exchange
 * (host, port) once with MPI (jobs/train.c), then a thread per rank — no MPI calls, one
 * datagram a second — does:
 *   rank k > 0: sends "rank k alive" to rank 0 (rank 0's host name resolved once; 127.0.0.1
 *               when every rank runs on rank 0's host);
 *   rank 0:     answers each rank at the address its datagrams came from, with the list of
 *               ranks it has not heard from for ST_HEARTBEAT_SILENT_S (up to 16 of them).
 * So rank 0 knows which ranks went silent, and every other rank knows whether rank 0 went silent
 * or which ranks rank 0 misses. Datagrams carry a job token (from rank 0's pid and port), so a
 * stray datagram from another job is ignored. A rank whose link is cut is silent both ways.
 * When the socket or the name lookup fails, heartbeats are off and the watchdog's message simply
 * names no peer. Cost: one 148-byte datagram per rank per second each way. */
#ifndef ST_HEARTBEAT_H
#define ST_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

#define ST_HEARTBEAT_PERIOD_S 1.0 /* between datagrams */
#define ST_HEARTBEAT_SILENT_S 3.0 /* a rank not heard from for this long is "silent" */

/* One rank as the others know it: its host name and heartbeat port. */
typedef struct {
    char host[64];
    uint32_t port;
    uint32_t pid;
} st_heartbeat_peer_t;

/* Opens this rank's UDP socket; fills `me` (host, port, pid) to be exchanged with the others. */
st_status_t st_heartbeat_open(st_heartbeat_peer_t *me, const char *host, st_error_t *err);

/* Starts the thread once every rank's record is known (peers[r] for r in 0..n_ranks-1). */
st_status_t st_heartbeat_start(int rank, int n_ranks, const st_heartbeat_peer_t *peers /*[n_ranks]*/, st_error_t *err);

/* What the heartbeats say about the other ranks, e.g. "no heartbeat from rank 1 on h1 for 28 s"
 * or "rank 0 hears every rank"; "" when heartbeats are off. Safe from any thread. */
void st_heartbeat_describe(char *out, size_t size);

/* The longest time, in seconds, this rank knows another rank has been silent (rank 0: its own
 * count; another rank: rank 0's silence, or the longest rank 0 last reported); 0 when off. */
double st_heartbeat_silent_s(void);

/* Ends the thread and closes the socket (also when only st_heartbeat_open ran). */
void st_heartbeat_stop(void);

#endif
