/* A UDP impairment proxy for benchmarks over loopback: datagrams from a client to LISTEN go to
 * SERVER and the answers back to the client, each direction losing datagrams at random and holding
 * some back (reordering) for a random extra delay. Answers go to the latest client address seen
 * (clients run one after another). Deterministic for a given seed and arrival order. Runs until killed (SIGTERM/SIGINT) and
 * then prints what it did on stderr.
 *
 * usage: bench_udp_impair LISTEN_PORT SERVER_PORT [--loss P] [--reorder P] [--delay-min-us N]
 *        [--delay-max-us N] [--seed N]      (addresses are 127.0.0.1; P in [0, 1]) */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELD_MAX 8192 /* datagrams held back at once; more are sent at once (no reordering) */

typedef struct held {
    uint64_t at;
    int to_server;
    size_t len;
    uint8_t data[1500];
} held;

static volatile sig_atomic_t stop;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double unit(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static struct sockaddr_in loopback(unsigned port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LISTEN_PORT SERVER_PORT [--loss P] [--reorder P] "
                        "[--delay-min-us N] [--delay-max-us N] [--seed N]\n", argv[0]);
        return 2;
    }
    unsigned lport = (unsigned)atoi(argv[1]), sport = (unsigned)atoi(argv[2]);
    double loss = 0, reorder = 0;
    uint64_t dmin = 1000, dmax = 5000;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--loss"))
            loss = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--reorder"))
            reorder = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--delay-min-us"))
            dmin = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--delay-max-us"))
            dmax = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            rng = strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (dmax < dmin)
        dmax = dmin;
    /* one socket faces the client, one the server */
    int cfd = socket(AF_INET, SOCK_DGRAM, 0), sfd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in la = loopback(lport), sa = loopback(sport), ca;
    socklen_t calen = 0;
    int big = 8 << 20;
    if (cfd < 0 || sfd < 0 || bind(cfd, (struct sockaddr *)&la, sizeof(la)) < 0 ||
        connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("udp_impair");
        return 1;
    }
    setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    held *q = calloc(HELD_MAX, sizeof(*q));
    if (!q)
        return 1;
    size_t nq = 0;
    uint64_t fwd[2] = {0, 0}, dropped[2] = {0, 0}, delayed[2] = {0, 0};
    uint8_t buf[1500];
    while (!stop) {
        uint64_t t = now_us(), next = UINT64_MAX;
        /* release what is due (the held set is small: a linear pass is fine) */
        for (size_t i = 0; i < nq;) {
            if (q[i].at <= t) {
                if (q[i].to_server)
                    send(sfd, q[i].data, q[i].len, 0);
                else if (calen)
                    sendto(cfd, q[i].data, q[i].len, 0, (struct sockaddr *)&ca, calen);
                q[i] = q[--nq];
                continue;
            }
            if (q[i].at < next)
                next = q[i].at;
            i++;
        }
        int timeout = next == UINT64_MAX ? 100 : (int)((next - t + 999) / 1000);
        struct pollfd pf[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pf, 2, timeout) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < 2; k++) {
            if (!(pf[k].revents & POLLIN))
                continue;
            for (int burst = 0; burst < 64; burst++) {
                struct sockaddr_in from;
                socklen_t flen = sizeof(from);
                ssize_t n = recvfrom(pf[k].fd, buf, sizeof(buf), MSG_DONTWAIT,
                                     (struct sockaddr *)&from, &flen);
                if (n <= 0)
                    break;
                int to_server = k == 0;
                if (to_server) {
                    ca = from;
                    calen = flen;
                }
                if (unit() < loss) {
                    dropped[!to_server]++;
                    continue;
                }
                if (nq < HELD_MAX && unit() < reorder) {
                    held *h = &q[nq++];
                    h->at = now_us() + dmin + (uint64_t)(unit() * (double)(dmax - dmin));
                    h->to_server = to_server;
                    h->len = (size_t)n;
                    memcpy(h->data, buf, (size_t)n);
                    delayed[!to_server]++;
                    continue;
                }
                fwd[!to_server]++;
                if (to_server)
                    send(sfd, buf, (size_t)n, 0);
                else
                    sendto(cfd, buf, (size_t)n, 0, (struct sockaddr *)&ca, calen);
            }
        }
    }
    fprintf(stderr,
            "udp_impair: to server %llu passed, %llu delayed, %llu dropped; to client %llu passed, "
            "%llu delayed, %llu dropped\n",
            (unsigned long long)fwd[0], (unsigned long long)delayed[0],
            (unsigned long long)dropped[0], (unsigned long long)fwd[1],
            (unsigned long long)delayed[1], (unsigned long long)dropped[1]);
    free(q);
    return 0;
}
