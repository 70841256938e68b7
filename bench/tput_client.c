/* bench_tput_client: the library on its own, as an embedder would use it. Downloads one file over
 * hq-interop with nothing but the public API (tern_endpoint + tern_stream_read into a 64 KiB
 * buffer), throws the bytes away and prints how many arrived, the wall-clock time from the first
 * datagram to the last byte, and the process's CPU time. bench/throughput.sh sets it beside
 * ngtcp2's client discarding its download, so that the figures compare transports, not file
 * writing or hashing.
 *
 *     bench_tput_client HOST:PORT /PATH CA_FILE
 *
 * Output (one line on stdout): "bytes B wall_ms W user_ms U sys_ms S"; the connection's counters
 * at the last byte on stderr. Exit status 0 when the
 * stream ended with FIN and the connection closed cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <tern/tern.h>

typedef struct app {
    const char *path;
    int64_t sid;
    unsigned long long bytes;
    int done, closed, status;
    struct timespec end; /* when the last byte arrived */
    tern_conn_stats st;  /* the connection's counters then */
} app;

static void on_connected(tern_conn *c, void *ud)
{
    app *a = ud;
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s\r\n", a->path);
    if (n <= 0 || (size_t)n >= sizeof(req) || tern_conn_open_stream(c, 1, &a->sid) ||
        tern_stream_write(c, a->sid, req, (size_t)n, 1) != n)
        tern_conn_close(c, 1, "request failed");
}

static void on_readable(tern_conn *c, int64_t sid, void *ud)
{
    app *a = ud;
    static unsigned char buf[65536];
    int fin = 0;
    ssize_t n;
    while ((n = tern_stream_read(c, sid, buf, sizeof(buf), &fin)) >= 0) {
        a->bytes += (unsigned long long)n;
        if (fin) {
            a->done = 1;
            clock_gettime(CLOCK_MONOTONIC, &a->end);
            (void)tern_conn_get_stats(c, &a->st);
            tern_conn_close(c, 0, "done");
            return;
        }
    }
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    app *a = ud;
    (void)c;
    a->closed = 1;
    a->status = info->status;
}

static double ms_of(struct timeval tv)
{
    return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST:PORT /PATH CA_FILE\n", argv[0]);
        return 2;
    }
    app a = {.path = argv[2]};
    tern_addr server;
    if (tern_addr_parse(&server, argv[1], 443)) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 2;
    }
    static const char *alpn[] = {"hq-interop"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.ca_file = argv[3];
    tern_callbacks cb = {.on_connected = on_connected, .on_stream_readable = on_readable,
                         .on_closed = on_closed};
    tern_endpoint *ep;
    tern_conn *c;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rv = tern_endpoint_new(&cfg, &cb, &a, &ep);
    if (!rv)
        rv = tern_endpoint_connect(ep, &server, NULL, "localhost", &c);
    if (rv) {
        fprintf(stderr, "tern: %s\n", tern_strerror(rv));
        return 1;
    }
    /* returns once the connection is gone (closed after the last byte, or failed) */
    rv = tern_endpoint_run(ep);
    tern_endpoint_free(ep);
    struct timespec t1 = a.done ? a.end : t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double wall = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("bytes %llu wall_ms %.1f user_ms %.1f sys_ms %.1f\n", a.bytes, wall,
           ms_of(ru.ru_utime), ms_of(ru.ru_stime));
    fprintf(stderr,
            "packets sent %llu received %llu lost %llu, srtt %llu us, cwnd %llu, mtu %llu, "
            "pto %llu, congestion events %llu\n",
            (unsigned long long)a.st.pkts_sent, (unsigned long long)a.st.pkts_recv,
            (unsigned long long)a.st.pkts_lost, (unsigned long long)a.st.srtt_ns / 1000,
            (unsigned long long)a.st.cwnd, (unsigned long long)a.st.mtu,
            (unsigned long long)a.st.pto_count, (unsigned long long)a.st.congestion_events);
    if (rv || !a.done || a.status) {
        fprintf(stderr, "download failed after %llu bytes: %s\n", a.bytes, tern_strerror(a.status));
        return 1;
    }
    return 0;
}
