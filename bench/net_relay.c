/* net_relay.c — a userspace Ethernet switch with a fixed delay and a rate per port, the link
 * model of slurm/netns.sh when `up --delay` is given (this kernel has no sch_netem). A helper,
 * not a benchmark (`make bench` runs only build/bench/bench_*):
 *
 *   net_relay DELAY_US RATE_BIT_PER_S TAP0 TAP1 [TAP2 TAP3]     (RATE 0: unlimited)
 *
 * It creates the TAP devices (the harness then moves each into its host's network namespace;
 * the file descriptors stay attached), prints "ready" and forwards frames: a frame read from
 * port i goes to the port that last sent from its destination MAC (all others when unknown or
 * broadcast), leaving that port at max(arrival + delay, when the port's previous frame left)
 * plus its serialisation time len·8/rate — a store-and-forward switch whose links are `delay`
 * long. Up to QUEUE frames wait per port; more are dropped (as a full switch buffer would). One
 * thread, ppoll with nanosecond timeouts and a 1 ns timer slack; under load the scheduler adds
 * its own latency on top. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PORTS = 4, QUEUE = 2048, MAX_FRAME = 1600, MACS = 64 };

typedef struct {
    double due;          /* when the frame has left the port, seconds */
    uint16_t len;
    uint8_t data[MAX_FRAME];
} frame_t;

typedef struct {
    int fd;
    frame_t *q;          /* [QUEUE] ring */
    int head, n;
    double free_at;      /* when the port's last queued frame has left */
    long dropped;
} port_t;

static port_t ports[MAX_PORTS];
static int n_ports;
static uint8_t mac[MACS][6];
static int mac_port[MACS], n_macs;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int open_tap(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int lookup(const uint8_t *m) {
    for (int i = 0; i < n_macs; i++)
        if (memcmp(mac[i], m, 6) == 0) return mac_port[i];
    return -1;
}

static void learn(const uint8_t *m, int port) {
    for (int i = 0; i < n_macs; i++)
        if (memcmp(mac[i], m, 6) == 0) {
            mac_port[i] = port;
            return;
        }
    if (n_macs < MACS) memcpy(mac[n_macs], m, 6), mac_port[n_macs++] = port;
}

static void enqueue(int o, const uint8_t *data, int len, double t, double delay_s, double rate) {
    port_t *p = &ports[o];
    if (p->n == QUEUE) {
        p->dropped++;
        return;
    }
    double start = t + delay_s > p->free_at ? t + delay_s : p->free_at;
    p->free_at = start + (rate > 0 ? len * 8.0 / rate : 0.0);
    frame_t *f = &p->q[(p->head + p->n++) % QUEUE];
    f->due = p->free_at, f->len = (uint16_t)len;
    memcpy(f->data, data, (size_t)len);
}

/* Reads what port i has (up to 64 frames) and queues each frame on its way out. */
static void receive(int i, double delay_s, double rate) {
    uint8_t buf[MAX_FRAME];
    for (int k = 0; k < 64; k++) {
        ssize_t len = read(ports[i].fd, buf, sizeof buf);
        if (len < 14) return;
        double t = now_s();
        learn(buf + 6, i);
        int o = (buf[0] & 1) ? -1 : lookup(buf);
        for (int j = 0; j < n_ports; j++)
            if (j != i && (o < 0 || o == j)) enqueue(j, buf, (int)len, t, delay_s, rate);
    }
}

/* Sends every frame whose time has come; returns the next due time (or a second away). */
static double transmit(double t) {
    double next = t + 1.0;
    for (int j = 0; j < n_ports; j++) {
        port_t *p = &ports[j];
        while (p->n > 0 && p->q[p->head].due <= t) {
            frame_t *f = &p->q[p->head];
            (void)!write(p->fd, f->data, f->len); /* a port that is down (cut) loses the frame */
            p->head = (p->head + 1) % QUEUE, p->n--;
        }
        if (p->n > 0 && p->q[p->head].due < next) next = p->q[p->head].due;
    }
    return next;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 3 + MAX_PORTS) {
        fprintf(stderr, "usage: net_relay DELAY_US RATE_BIT_PER_S TAP0 TAP1 [TAP2 TAP3]\n");
        return 2;
    }
    double delay_s = atof(argv[1]) * 1e-6, rate = atof(argv[2]);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    struct pollfd pfd[MAX_PORTS];
    for (int i = 3; i < argc; i++) {
        port_t *p = &ports[n_ports];
        p->fd = open_tap(argv[i]);
        p->q = malloc(sizeof(frame_t) * QUEUE);
        if (p->fd < 0 || !p->q) {
            fprintf(stderr, "net_relay: cannot create TAP device %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        pfd[n_ports] = (struct pollfd){.fd = p->fd, .events = POLLIN};
        n_ports++;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        double t = now_s(), next = transmit(t), wait = next - t;
        struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
        if (wait < 0) ts.tv_sec = 0, ts.tv_nsec = 0;
        int r = ppoll(pfd, (nfds_t)n_ports, &ts, NULL);
        if (r < 0 && errno != EINTR) return 1;
        for (int i = 0; r > 0 && i < n_ports; i++)
            if (pfd[i].revents & POLLIN) receive(i, delay_s, rate);
    }
}
