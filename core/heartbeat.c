/* heartbeat.c — the UDP heartbeat thread (see heartbeat.h). */
#include "heartbeat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

#define MAGIC 0x53544842u /* "STHB" */
#define MAX_LISTED 16

/* One datagram (ranks of one job run the same build on the same architecture). */
typedef struct {
    uint32_t magic, rank;
    uint64_t token;
    uint32_t n_silent;                 /* rank 0's answer: ranks it has not heard from */
    uint32_t silent[MAX_LISTED];
    float silent_s[MAX_LISTED];        /* for how long, seconds */
} hb_msg_t;

static struct {
    int fd, running, rank, n;
    pthread_t thread;
    pthread_mutex_t lock;
    st_heartbeat_peer_t *peers;        /* [n] */
    double *last_heard;                /* [n] rank 0: every rank; rank k: [0] = rank 0 */
    struct sockaddr_in *addr;          /* [n] rank 0: where rank r's datagrams come from; rank k: [0] */
    int *have_addr;                    /* [n] */
    uint64_t token;
    hb_msg_t reported;                 /* rank k: rank 0's last answer */
    atomic_int stop;
} hb = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

st_status_t st_heartbeat_open(st_heartbeat_peer_t *me, const char *host, st_error_t *err) {
    memset(me, 0, sizeof *me);
    snprintf(me->host, sizeof me->host, "%s", host);
    me->pid = (uint32_t)getpid();
    if (hb.fd >= 0) close(hb.fd);
    hb.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (hb.fd < 0) return st_fail(err, ST_ERR_IO, "heartbeat: socket(AF_INET, SOCK_DGRAM): %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = 0};
    socklen_t len = sizeof a;
    if (bind(hb.fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(hb.fd, (struct sockaddr *)&a, &len) != 0) {
        st_status_t rc = st_fail(err, ST_ERR_IO, "heartbeat: bind to a UDP port: %s", strerror(errno));
        close(hb.fd), hb.fd = -1;
        return rc;
    }
    me->port = ntohs(a.sin_port);
    return ST_OK;
}

/* Rank 0's address as the other ranks send to it: loopback on its own host, else its name. */
static int resolve_rank0(struct sockaddr_in *out) {
    const st_heartbeat_peer_t *p0 = &hb.peers[0], *me = &hb.peers[hb.rank];
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)p0->port);
    if (strcmp(p0->host, me->host) == 0) {
        out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(p0->host, NULL, &hints, &res) != 0 || !res) return -1;
    out->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

/* Rank 0: the ranks silent for ST_HEARTBEAT_SILENT_S, into m (caller holds the lock). */
static void list_silent(hb_msg_t *m, double now) {
    m->n_silent = 0;
    for (int r = 1; r < hb.n && m->n_silent < MAX_LISTED; r++) {
        double idle = now - hb.last_heard[r];
        if (idle < ST_HEARTBEAT_SILENT_S) continue;
        m->silent[m->n_silent] = (uint32_t)r;
        m->silent_s[m->n_silent++] = (float)idle;
    }
}

static void send_beats(double now) {
    hb_msg_t m = {.magic = MAGIC, .rank = (uint32_t)hb.rank, .token = hb.token};
    pthread_mutex_lock(&hb.lock);
    if (hb.rank == 0) list_silent(&m, now);
    for (int r = 0; r < hb.n; r++) {
        if (r == hb.rank || !hb.have_addr[r] || (hb.rank != 0 && r != 0)) continue;
        (void)!sendto(hb.fd, &m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&hb.addr[r], sizeof hb.addr[r]);
    }
    pthread_mutex_unlock(&hb.lock);
}

static void receive_beats(double now) {
    hb_msg_t m;
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    while (recvfrom(hb.fd, &m, sizeof m, MSG_DONTWAIT, (struct sockaddr *)&from, &len) == (ssize_t)sizeof m) {
        len = sizeof from;
        if (m.magic != MAGIC || m.token != hb.token || m.rank >= (uint32_t)hb.n || (int)m.rank == hb.rank) continue;
        if (hb.rank != 0 && m.rank != 0) continue;
        pthread_mutex_lock(&hb.lock);
        hb.last_heard[m.rank] = now;
        if (hb.rank == 0) hb.addr[m.rank] = from, hb.have_addr[m.rank] = 1;
        else hb.reported = m;
        pthread_mutex_unlock(&hb.lock);
    }
}

static void *beat(void *arg) {
    (void)arg;
    double next = 0;
    while (!atomic_load(&hb.stop)) {
        double now = st_clock_s();
        if (now >= next) send_beats(now), next = now + ST_HEARTBEAT_PERIOD_S;
        struct pollfd p = {.fd = hb.fd, .events = POLLIN};
        int wait_ms = (int)((next - now) * 1000) + 1;
        (void)poll(&p, 1, wait_ms < 200 ? wait_ms : 200); /* wakes at least 5x a second to see stop */
        receive_beats(st_clock_s());
    }
    return NULL;
}

st_status_t st_heartbeat_start(int rank, int n_ranks, const st_heartbeat_peer_t *peers, st_error_t *err) {
    if (hb.fd < 0 || hb.running || n_ranks < 2 || peers[0].port == 0) return ST_OK; /* off */
    hb.rank = rank, hb.n = n_ranks;
    hb.peers = malloc(sizeof *hb.peers * (size_t)n_ranks);
    hb.last_heard = malloc(sizeof *hb.last_heard * (size_t)n_ranks);
    hb.addr = calloc((size_t)n_ranks, sizeof *hb.addr);
    hb.have_addr = calloc((size_t)n_ranks, sizeof *hb.have_addr);
    if (!hb.peers || !hb.last_heard || !hb.addr || !hb.have_addr) {
        st_heartbeat_stop();
        return st_fail(err, ST_ERR_NOMEM, "heartbeat: tables for %d ranks", n_ranks);
    }
    memcpy(hb.peers, peers, sizeof *hb.peers * (size_t)n_ranks);
    double now = st_clock_s();
    for (int r = 0; r < n_ranks; r++) hb.last_heard[r] = now;
    hb.token = (uint64_t)peers[0].pid << 32 | peers[0].port;
    memset(&hb.reported, 0, sizeof hb.reported);
    if (rank != 0) {
        if (resolve_rank0(&hb.addr[0]) != 0) { /* heartbeats off: the watchdog names no peer */
            st_heartbeat_stop();
            return ST_OK;
        }
        hb.have_addr[0] = 1;
    }
    atomic_store(&hb.stop, 0);
    if (pthread_create(&hb.thread, NULL, beat, NULL) != 0) {
        st_heartbeat_stop();
        return ST_OK;
    }
    hb.running = 1;
    return ST_OK;
}

/* Appends "rank r on HOST for N s" to out (at `*used`). */
static void name_rank(char *out, size_t size, size_t *used, int r, double idle, int first) {
    if (*used >= size) return;
    int k = snprintf(out + *used, size - *used, "%srank %d on %s for %.0f s", first ? "" : ", ", r, hb.peers[r].host, idle);
    if (k > 0) *used += (size_t)k;
}

void st_heartbeat_describe(char *out, size_t size) {
    if (size) out[0] = '\0';
    if (!hb.running || size == 0) return;
    size_t used = 0;
    double now = st_clock_s();
    pthread_mutex_lock(&hb.lock);
    if (hb.rank == 0) {
        hb_msg_t m;
        list_silent(&m, now);
        if (m.n_silent == 0) snprintf(out, size, "rank 0 hears every rank's heartbeat (a rank is slow or stuck)");
        else used = (size_t)snprintf(out, size, "no heartbeat from ");
        for (uint32_t i = 0; i < m.n_silent; i++) name_rank(out, size, &used, (int)m.silent[i], m.silent_s[i], i == 0);
    } else if (now - hb.last_heard[0] >= ST_HEARTBEAT_SILENT_S) {
        used = (size_t)snprintf(out, size, "no heartbeat from ");
        name_rank(out, size, &used, 0, now - hb.last_heard[0], 1);
    } else if (hb.reported.n_silent > 0) {
        used = (size_t)snprintf(out, size, "rank 0 has had no heartbeat from ");
        for (uint32_t i = 0; i < hb.reported.n_silent && i < MAX_LISTED; i++)
            if (hb.reported.silent[i] < (uint32_t)hb.n)
                name_rank(out, size, &used, (int)hb.reported.silent[i], hb.reported.silent_s[i], i == 0);
    } else {
        snprintf(out, size, "rank 0 hears every rank's heartbeat (a rank is slow or stuck)");
    }
    pthread_mutex_unlock(&hb.lock);
}

double st_heartbeat_silent_s(void) {
    if (!hb.running) return 0;
    double now = st_clock_s(), worst = 0;
    pthread_mutex_lock(&hb.lock);
    if (hb.rank == 0) {
        for (int r = 1; r < hb.n; r++)
            if (now - hb.last_heard[r] > worst) worst = now - hb.last_heard[r];
    } else {
        worst = now - hb.last_heard[0];
        for (uint32_t i = 0; i < hb.reported.n_silent && i < MAX_LISTED; i++)
            if (hb.reported.silent_s[i] > worst) worst = hb.reported.silent_s[i];
    }
    pthread_mutex_unlock(&hb.lock);
    return worst;
}

void st_heartbeat_stop(void) {
    if (hb.running) {
        atomic_store(&hb.stop, 1);
        pthread_join(hb.thread, NULL);
        hb.running = 0;
    }
    if (hb.fd >= 0) close(hb.fd), hb.fd = -1;
    free(hb.peers), free(hb.last_heard), free(hb.addr), free(hb.have_addr);
    hb.peers = NULL, hb.last_heard = NULL, hb.addr = NULL, hb.have_addr = NULL;
}
