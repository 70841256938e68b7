/* sansio_client: downloads one file over QUIC (hq-interop: "GET /path\r\n", the file, FIN) with
 * tern's sans-I/O engine (tern/core.h) on a plain blocking UDP socket, and prints its SHA-256.
 *
 *     sansio_client 127.0.0.1:4433 /file.bin ca.pem
 *
 * Everything tern needs from the platform is in this file: a socket (poll, recvmsg, sendmsg), a
 * monotonic clock and random bytes. The same loop runs on any OS with BSD sockets; replace the
 * three pieces to port it (see docs/platform.md). */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tern/core.h>
#include <tern/tern.h>

#define BATCH 16 /* datagrams per tern_core_send_ecn call */
#define MAX_DGRAM 1500

typedef struct app {
    const char *path;
    int64_t sid;
    gnutls_hash_hd_t sha;
    uint64_t bytes;
    int done;   /* the whole file arrived */
    int failed;
} app;

/* ---- the three things a platform provides ----------------------------------------------------- */

static tern_tstamp now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (tern_tstamp)ts.tv_sec * 1000000000u + (tern_tstamp)ts.tv_nsec;
}

static int random_bytes(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    return gnutls_rnd(GNUTLS_RND_RANDOM, out, len) ? TERN_ERR_CRYPTO : 0;
}

/* A UDP socket connected to the server: the kernel picks the source address, which becomes the
 * path's local address (tern wants it concrete, to tell paths apart). */
static int open_socket(const tern_addr *server, tern_path_addr *path)
{
    int fd = socket(server->u.sa.sa_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, &server->u.sa, server->len) < 0)
        return -1;
    memset(path, 0, sizeof(*path));
    path->remote = *server;
    path->local.len = sizeof(path->local.u);
    if (getsockname(fd, &path->local.u.sa, &path->local.len) < 0)
        return -1;
#ifdef IP_RECVTOS
    int on = 1; /* the ECN bits of each datagram come with it (best effort) */
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
#endif
    return fd;
}

/* Receives one datagram; *ecn gets the two ECN bits of its TOS byte when the OS reports them. */
static ssize_t receive(int fd, uint8_t *buf, size_t cap, int *ecn)
{
    struct iovec iov = {buf, cap};
    union {
        char buf[64];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    *ecn = TERN_ECN_NOT_ECT;
#ifdef IP_TOS
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); n > 0 && cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == IPPROTO_IP && (cm->cmsg_type == IP_TOS || cm->cmsg_type == IP_RECVTOS))
            *ecn = *(unsigned char *)CMSG_DATA(cm) & 3;
#endif
    return n;
}

/* ---- what tern tells the application ------------------------------------------------------------ */

static void on_connected(tern_conn *c, void *ud)
{
    app *a = ud;
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s\r\n", a->path);
    /* The stream verbs of tern.h only queue: the loop's tern_core_send puts them on the wire. */
    if (n <= 0 || (size_t)n >= sizeof(req) || tern_conn_open_stream(c, 1, &a->sid) ||
        tern_stream_write(c, a->sid, req, (size_t)n, 1) != n)
        a->failed = 1;
}

static void on_readable(tern_conn *c, int64_t sid, void *ud)
{
    app *a = ud;
    uint8_t buf[65536];
    int fin = 0;
    ssize_t n;
    while ((n = tern_stream_read(c, sid, buf, sizeof(buf), &fin)) >= 0) {
        gnutls_hash(a->sha, buf, (size_t)n);
        a->bytes += (uint64_t)n;
        if (fin) {
            a->done = 1;
            tern_conn_close(c, 0, "done"); /* CONNECTION_CLOSE goes out with the next send */
            return;
        }
    }
}

/* ---- the loop ------------------------------------------------------------------------------------ */

/* Sends everything the connection has now: each batch is `count` datagrams of `seg` bytes (the
 * last may be shorter), for one path, all with the ECN codepoint `ecn` in their TOS / traffic
 * class byte (tern validates it per path and reads CE marks as congestion). A GSO-capable OS
 * could send a batch in one call. */
static void flush(int fd, tern_conn *c)
{
    static uint8_t out[BATCH * MAX_DGRAM];
    tern_path_addr path;
    size_t seg, count;
    int ecn;
    ssize_t n;
    while ((n = tern_core_send_ecn(c, out, sizeof(out), BATCH, &path, &seg, &count, &ecn,
                                   now_ns())) > 0)
        for (size_t off = 0; off < (size_t)n; off += seg) {
            size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;
            struct iovec iov = {out + off, len};
            union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
            } ctl;
            struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
            if (ecn) {
                memset(&ctl, 0, sizeof(ctl));
                msg.msg_control = ctl.buf;
                msg.msg_controllen = sizeof(ctl.buf);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
                int v6 = path.remote.u.sa.sa_family == AF_INET6;
                cm->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
                cm->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &ecn, sizeof(ecn));
            }
            (void)sendmsg(fd, &msg, 0); /* a lost datagram is recovered like any loss */
        }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST:PORT /PATH [CA_FILE]\n", argv[0]);
        return 2;
    }
    app a = {.path = argv[2]};
    tern_addr server;
    tern_path_addr path;
    if (tern_addr_parse(&server, argv[1], 443) || gnutls_hash_init(&a.sha, GNUTLS_DIG_SHA256)) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 2;
    }
    int fd = open_socket(&server, &path);
    if (fd < 0) {
        perror("socket");
        return 1;
    }

    static const char *alpn[] = {"hq-interop"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.ca_file = argc > 3 ? argv[3] : NULL;
    tern_callbacks cb = {.on_connected = on_connected, .on_stream_readable = on_readable};
    tern_conn *c;
    int rv = tern_core_client_new(&cfg, &cb, &a, &path, "localhost", random_bytes, NULL, now_ns(), &c);
    if (rv) {
        fprintf(stderr, "tern_core_client_new: %s\n", tern_strerror(rv));
        return 1;
    }

    uint8_t buf[65536];
    while (tern_core_state(c) != TERN_CORE_CLOSED && !a.failed) {
        flush(fd, c);
        /* Sleep until a datagram arrives or the connection's next timer is due. */
        tern_tstamp next = tern_core_next_timeout(c), now = now_ns();
        int ms = next == TERN_TS_INF ? -1 : next <= now ? 0 : (int)((next - now + 999999) / 1000000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            break;
        int ecn;
        ssize_t n;
        while ((n = receive(fd, buf, sizeof(buf), &ecn)) >= 0)
            (void)tern_core_recv(c, &path, buf, (size_t)n, ecn, now_ns());
        if (now_ns() >= tern_core_next_timeout(c))
            tern_core_on_timeout(c, now_ns());
    }

    const tern_close_info *ci = tern_core_close_info(c);
    uint8_t sha[32];
    gnutls_hash_deinit(a.sha, sha);
    int ok = a.done && !a.failed && ci->status == 0;
    if (ok) {
        for (int i = 0; i < 32; i++)
            printf("%02x", sha[i]);
        printf("  %s\n", a.path);
    } else {
        fprintf(stderr, "download failed after %llu bytes: %s (%s)\n", (unsigned long long)a.bytes,
                tern_strerror(ci->status), ci->reason);
    }
    tern_core_conn_free(c);
    close(fd);
    return ok ? 0 : 1;
}
