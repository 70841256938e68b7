/* evloop_client: downloads one file over QUIC (hq-interop) with tern's runtime (tern_endpoint)
 * inside an application's own poll() loop, and prints its SHA-256.
 *
 *     evloop_client 127.0.0.1:4433 /file.bin ca.pem
 *
 * The application's loop owns the waiting. It watches its own descriptors (here a timerfd that
 * prints progress every 100 ms) and tern's single descriptor, sleeps at most as long as tern's
 * next timer allows, and lets tern work without blocking (tern_endpoint_run_once(ep, 0)). tern
 * never blocks and never needs a thread of its own. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <tern/tern.h>

typedef struct app {
    const char *path;
    int64_t sid;
    gnutls_hash_hd_t sha;
    unsigned long long bytes;
    int done;     /* the whole file arrived */
    int closed;   /* on_closed ran: the connection is gone */
    int status;   /* its TERN_ERR_* summary */
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
    unsigned char buf[65536];
    int fin = 0;
    ssize_t n;
    while ((n = tern_stream_read(c, sid, buf, sizeof(buf), &fin)) >= 0) {
        gnutls_hash(a->sha, buf, (size_t)n);
        a->bytes += (unsigned long long)n;
        if (fin) {
            a->done = 1;
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST:PORT /PATH [CA_FILE]\n", argv[0]);
        return 2;
    }
    app a = {.path = argv[2]};
    tern_addr server;
    if (tern_addr_parse(&server, argv[1], 443) || gnutls_hash_init(&a.sha, GNUTLS_DIG_SHA256)) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 2;
    }

    static const char *alpn[] = {"hq-interop"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.ca_file = argc > 3 ? argv[3] : NULL;
    tern_callbacks cb = {.on_connected = on_connected, .on_stream_readable = on_readable,
                         .on_closed = on_closed};
    tern_endpoint *ep;
    tern_conn *c;
    int rv = tern_endpoint_new(&cfg, &cb, &a, &ep);
    if (!rv)
        rv = tern_endpoint_connect(ep, &server, NULL, "localhost", &c);
    if (rv) {
        fprintf(stderr, "tern: %s\n", tern_strerror(rv));
        return 1;
    }

    /* The application's own event source, sharing the loop with tern. */
    int tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec every = {{0, 100000000}, {0, 100000000}};
    if (tick < 0 || timerfd_settime(tick, 0, &every, NULL) < 0) {
        perror("timerfd");
        return 1;
    }

    while (!a.closed) {
        struct pollfd fds[2] = {
            {.fd = tern_endpoint_fd(ep), .events = POLLIN}, /* readable: tern has work */
            {.fd = tick, .events = POLLIN},
        };
        /* Never sleep past tern's next timer (-1: tern has none). */
        if (poll(fds, 2, tern_endpoint_timeout_ms(ep)) < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            uint64_t n;
            if (read(tick, &n, sizeof(n)) == sizeof(n))
                fprintf(stderr, "progress: %llu bytes\n", a.bytes);
        }
        /* Datagrams, due timers and sends, without waiting; callbacks run from here. */
        if (tern_endpoint_run_once(ep, 0))
            break;
    }

    unsigned char sha[32];
    gnutls_hash_deinit(a.sha, sha);
    int ok = a.done && a.closed && a.status == 0;
    if (ok) {
        for (int i = 0; i < 32; i++)
            printf("%02x", sha[i]);
        printf("  %s\n", a.path);
    } else {
        fprintf(stderr, "download failed after %llu bytes: %s\n", a.bytes, tern_strerror(a.status));
    }
    close(tick);
    tern_endpoint_free(ep);
    return ok ? 0 : 1;
}
