/* Many connections from one process, on the public API (tern.h): the client side of
 * bench/connections.sh, which speaks to tern-server and to ngtcp2's gtlsserver alike (ALPN h3,
 * no request: only the handshake and an idle connection).
 *
 *   bench_conn_client waves SERVER:PORT N WAVES HOLD_MS
 *       WAVES times: opens N connections (one endpoint, a socket each), waits until every one is
 *       established, prints "wave K established N", keeps them open and idle for HOLD_MS, closes
 *       them all, waits until they are gone, prints "wave K closed", idles HOLD_MS again. Each
 *       connection sets up HTTP/3 as a browser would before its first request (RFC 9114 §6.2):
 *       its control stream with an empty SETTINGS frame and its QPACK encoder and decoder
 *       streams, so that the server holds what it holds for a real client; what the server
 *       sends on its own streams is read and dropped.
 *   bench_conn_client rate SERVER:PORT SECONDS PARALLEL
 *       For SECONDS, keeps PARALLEL handshakes in flight (each connection closes as soon as it is
 *       established) and prints "handshakes H seconds S rate R failed F".
 *
 * ALPN h3 unless the environment's BENCH_ALPN names another protocol (hq-interop: then the
 * connection opens no stream at all, as an hq-interop client before its first request). The
 * server's certificate chain is not checked (a throwaway one; the handshake's cost is the same).
 * Exits 0, or 1 with a message on stderr. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern/tern.h"

typedef struct state {
    tern_endpoint *ep;
    tern_addr server;
    size_t established, failed, closed_in_rate;
    int rate_mode;
    int h3; /* ALPN h3: the HTTP/3 streams are set up once connected */
    tern_conn **conns; /* waves: the wave's connections */
    size_t nconns;
} state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_connected(tern_conn *c, void *ud)
{
    state *s = ud;
    s->established++;
    if (s->rate_mode) {
        tern_conn_close(c, 0, "done");
        return;
    }
    if (!s->h3)
        return;
    /* stream types 0x00 (control, then SETTINGS: type 0x04, length 0), 0x02 and 0x03 (QPACK
     * encoder and decoder) */
    static const uint8_t control[] = {0x00, 0x04, 0x00}, encoder[] = {0x02}, decoder[] = {0x03};
    static const struct { const uint8_t *p; size_t n; } uni[] = {
        {control, sizeof(control)}, {encoder, sizeof(encoder)}, {decoder, sizeof(decoder)}};
    for (size_t i = 0; i < sizeof(uni) / sizeof(uni[0]); i++) {
        int64_t sid;
        if (tern_conn_open_stream(c, 0, &sid) < 0 ||
            tern_stream_write(c, sid, uni[i].p, uni[i].n, 0) != (ssize_t)uni[i].n) {
            fprintf(stderr, "cannot open the HTTP/3 streams\n");
            tern_conn_close(c, 0x102, "setup");
            return;
        }
    }
}

static void on_stream_readable(tern_conn *c, int64_t sid, void *ud)
{
    uint8_t buf[1024];
    int fin = 0;
    (void)ud;
    while (tern_stream_read(c, sid, buf, sizeof(buf), &fin) > 0 && !fin)
        ;
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    state *s = ud;
    (void)c;
    if (s->rate_mode && info->status == 0 && info->error_code == 0)
        s->closed_in_rate++;
}

static int connect_one(state *s)
{
    tern_conn *c;
    int rv = tern_endpoint_connect(s->ep, &s->server, NULL, NULL, &c);
    if (rv) {
        fprintf(stderr, "connect: %s\n", tern_strerror(rv));
        return -1;
    }
    if (s->conns)
        s->conns[s->nconns++] = c;
    return 0;
}

/* Runs the loop for `ms` milliseconds (or until cond, when given, holds). */
static int run_for(state *s, double ms, int (*cond)(state *, size_t), size_t arg)
{
    double end = now_s() + ms / 1000.0;
    while (now_s() < end) {
        if (cond && cond(s, arg))
            return 1;
        if (tern_endpoint_run_once(s->ep, 10))
            return -1;
    }
    return cond ? cond(s, arg) : 1;
}

static int all_established(state *s, size_t n) { return s->established >= n; }
static int all_gone(state *s, size_t n)
{
    (void)n;
    return tern_endpoint_conn_count(s->ep) == 0;
}

static int waves(state *s, size_t n, int nwaves, double hold_ms)
{
    if (!(s->conns = calloc(n ? n : 1, sizeof(*s->conns))))
        return 1;
    for (int w = 1; w <= nwaves; w++) {
        s->established = 0;
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            if (connect_one(s))
                return 1;
            if (i % 64 == 63) /* keep the server's half-open limit and our queues in reach */
                run_for(s, 1000, all_established, i + 1 - 32);
        }
        if (run_for(s, 120000, all_established, n) != 1) {
            fprintf(stderr, "wave %d: %zu of %zu established\n", w, s->established, n);
            return 1;
        }
        printf("wave %d established %zu in %.2f s\n", w, n, now_s() - t0);
        fflush(stdout);
        run_for(s, hold_ms, NULL, 0);
        for (size_t i = 0; i < s->nconns; i++)
            tern_conn_close(s->conns[i], 0, "wave over");
        s->nconns = 0;
        if (run_for(s, 60000, all_gone, 0) != 1) {
            fprintf(stderr, "wave %d: %zu connections did not close\n", w,
                    tern_endpoint_conn_count(s->ep));
            return 1;
        }
        printf("wave %d closed\n", w);
        fflush(stdout);
        run_for(s, hold_ms, NULL, 0);
    }
    return 0;
}

static int rate(state *s, double seconds, size_t parallel)
{
    s->rate_mode = 1;
    double t0 = now_s(), end = t0 + seconds;
    size_t started = 0;
    while (now_s() < end) {
        while (started - s->established < parallel) {
            if (connect_one(s))
                return 1;
            started++;
        }
        if (tern_endpoint_run_once(s->ep, 10))
            return 1;
    }
    double dt = now_s() - t0;
    printf("handshakes %zu seconds %.2f rate %.1f failed %zu\n", s->established, dt,
           (double)s->established / dt, started - s->established);
    return 0;
}

int main(int argc, char **argv)
{
    int is_waves = argc == 6 && !strcmp(argv[1], "waves");
    if (!is_waves && (argc != 5 || strcmp(argv[1], "rate"))) {
        fprintf(stderr, "usage: %s waves SERVER:PORT N WAVES HOLD_MS\n"
                        "       %s rate SERVER:PORT SECONDS PARALLEL\n",
                argv[0], argv[0]);
        return 2;
    }
    state s;
    memset(&s, 0, sizeof(s));
    if (tern_addr_parse(&s.server, argv[2], 0)) {
        fprintf(stderr, "bad address %s\n", argv[2]);
        return 2;
    }
    tern_config cfg;
    tern_config_init(&cfg);
    const char *alpn[] = {getenv("BENCH_ALPN") && *getenv("BENCH_ALPN") ? getenv("BENCH_ALPN")
                                                                          : "h3"};
    s.h3 = !strcmp(alpn[0], "h3");
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.verify_peer = 0;
    cfg.idle_timeout_ms = 600000; /* idle connections stay */
    tern_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.on_connected = on_connected;
    cb.on_closed = on_closed;
    cb.on_stream_readable = on_stream_readable;
    int rv = tern_endpoint_new(&cfg, &cb, &s, &s.ep);
    if (rv) {
        fprintf(stderr, "endpoint: %s\n", tern_strerror(rv));
        return 1;
    }
    int bad = is_waves
                  ? waves(&s, strtoul(argv[3], NULL, 10), atoi(argv[4]), atof(argv[5]))
                  : rate(&s, atof(argv[3]), strtoul(argv[4], NULL, 10));
    tern_endpoint_free(s.ep);
    free(s.conns);
    return bad;
}
