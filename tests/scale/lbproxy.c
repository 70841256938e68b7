/* tern-lbproxy: a small UDP load balancer and NAT for the scaling tests (tests/scale/scale.sh).
 *
 * Clients send to --listen; each client address is a flow with an upstream socket of its own
 * (what a backend sees as the client's address), and backends' answers go back to the client
 * from --listen. With --qlb, a datagram is routed by the server ID decoded from its DCID
 * (draft-ietf-quic-load-balancers): short headers always (an unknown server ID is dropped, as
 * the draft says), long headers when their DCID is routable, else by the flow's fallback backend
 * (a hash of the client address, chosen once). Without --qlb every flow goes to its fallback.
 * With --rebind-every N, a flow's upstream socket is replaced by a new one (a new source port)
 * after every N short-header datagrams from its client: a NAT rebinding the client never sees.
 * Only short headers count, so that the handshake (long headers, which a server accepts from the
 * address the connection began on only) is left alone.
 *
 *   tern-lbproxy --listen ADDR:PORT [--backend [SIDHEX@]ADDR:PORT]... [--qlb SIDLEN:NONCELEN[:KEY]]
 *                [--qlb-config-id N] [--rebind-every N]
 *
 * SIGTERM or SIGINT ends it; it prints its counters on stderr then. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qlb.h"

#define MAX_BACKENDS 8
#define MAX_FLOWS 1024

typedef struct backend {
    tern_addr addr;
    uint8_t sid[TERN_QLB_MAX_SID];
    size_t sid_len;
    unsigned long dgrams;
} backend;

typedef struct flow {
    tern_addr client;
    int fd; /* upstream socket */
    unsigned long short_hdrs; /* short-header datagrams from the client since the last rebind */
    int fallback;
} flow;

static volatile sig_atomic_t stop;
static backend be[MAX_BACKENDS];
static size_t nbe;
static flow flows[MAX_FLOWS];
static size_t nflows;
static int front = -1, epfd = -1;
static unsigned long rebind_every;
static tern_qlb qlb;
static int use_qlb;
static struct {
    unsigned long in, by_cid, fallback, unroutable, rebinds, replies, dropped;
} st;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int hex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* A flow's upstream socket is bound to its client's own IP address (a new port): backends see the
 * client's address as a transparent load balancer leaves it, only the port differs. */
static int upstream_socket(const tern_addr *client)
{
    int family = client->u.sa.sa_family;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    tern_addr any = *client;
    if (family == AF_INET)
        any.u.in.sin_port = 0;
    else
        any.u.in6.sin6_port = 0;
    if (bind(fd, &any.u.sa, any.len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static flow *flow_of(const tern_addr *client)
{
    for (size_t i = 0; i < nflows; i++)
        if (tern_addr_equal(&flows[i].client, client))
            return &flows[i];
    if (nflows == MAX_FLOWS)
        return NULL;
    flow *f = &flows[nflows];
    f->client = *client;
    f->fd = upstream_socket(client);
    if (f->fd < 0)
        return NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
        close(f->fd);
        return NULL;
    }
    /* the baseline fallback: a function of the client's address and port only */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < client->len; i++)
        h = (h ^ ((const uint8_t *)&client->u)[i]) * 16777619u;
    f->fallback = (int)(h % nbe);
    nflows++;
    return f;
}

static void rebind(flow *f)
{
    int fd = upstream_socket(&f->client);
    if (fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, f->fd, NULL);
    close(f->fd); /* the old mapping is gone: answers still on their way to it are lost */
    f->fd = fd;
    st.rebinds++;
}

/* The backend a datagram goes to, or -1 to drop it. */
static int route(const uint8_t *d, size_t len, const flow *f)
{
    if (!use_qlb)
        return f->fallback;
    const uint8_t *dcid;
    size_t dlen;
    int is_long = d[0] & 0x80;
    if (is_long) {
        if (len < 6 || 6u + d[5] > len)
            return -1;
        dcid = d + 6;
        dlen = d[5];
    } else {
        dcid = d + 1;
        dlen = len - 1;
    }
    uint8_t sid[TERN_QLB_MAX_SID];
    if (tern_qlb_decode(&qlb, dcid, dlen, sid, NULL) == 0)
        for (size_t i = 0; i < nbe; i++)
            if (be[i].sid_len == qlb.sid_len && memcmp(be[i].sid, sid, qlb.sid_len) == 0) {
                st.by_cid++;
                return (int)i;
            }
    if (!is_long) {
        st.unroutable++;
        return -1;
    }
    st.fallback++;
    return f->fallback;
}

static void from_client(void)
{
    uint8_t buf[65536];
    for (;;) {
        tern_addr src;
        src.len = sizeof(src.u);
        ssize_t n = recvfrom(front, buf, sizeof(buf), 0, &src.u.sa, &src.len);
        if (n <= 0)
            return;
        st.in++;
        flow *f = flow_of(&src);
        int b = f ? route(buf, (size_t)n, f) : -1;
        if (b < 0) {
            st.dropped++;
            continue;
        }
        if (!(buf[0] & 0x80) && rebind_every && ++f->short_hdrs > rebind_every) {
            rebind(f);
            f->short_hdrs = 1;
        }
        be[b].dgrams++;
        (void)sendto(f->fd, buf, (size_t)n, 0, &be[b].addr.u.sa, be[b].addr.len);
    }
}

static void from_backend(flow *f)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(f->fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return;
        st.replies++;
        (void)sendto(front, buf, (size_t)n, 0, &f->client.u.sa, f->client.len);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: tern-lbproxy --listen ADDR:PORT --backend [SIDHEX@]ADDR:PORT... "
                    "[--qlb SIDLEN:NONCELEN[:KEYHEX]] [--qlb-config-id N] [--rebind-every N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *listen_text = NULL, *qlb_text = NULL;
    unsigned config_id = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--listen") == 0) {
            listen_text = v;
        } else if (strcmp(a, "--backend") == 0 && nbe < MAX_BACKENDS) {
            backend *b = &be[nbe++];
            const char *at = strchr(v, '@');
            if (at) {
                b->sid_len = (size_t)(at - v) / 2;
                if (b->sid_len == 0 || b->sid_len > TERN_QLB_MAX_SID || hex(v, b->sid_len, b->sid))
                    return usage();
                v = at + 1;
            }
            if (tern_addr_parse(&b->addr, v, 0) < 0)
                return usage();
        } else if (strcmp(a, "--qlb") == 0) {
            qlb_text = v;
        } else if (strcmp(a, "--qlb-config-id") == 0) {
            config_id = (unsigned)atoi(v);
        } else if (strcmp(a, "--rebind-every") == 0) {
            rebind_every = strtoul(v, NULL, 10);
        } else {
            return usage();
        }
    }
    if (!listen_text || nbe == 0)
        return usage();
    if (qlb_text) {
        unsigned sl, nl;
        char key_hex[33] = {0};
        uint8_t key[16];
        int k = sscanf(qlb_text, "%u:%u:%32s", &sl, &nl, key_hex);
        uint8_t sid0[TERN_QLB_MAX_SID] = {0};
        if (k < 2 || (k == 3 && (strlen(key_hex) != 32 || hex(key_hex, 16, key))) ||
            tern_qlb_init(&qlb, config_id, sid0, sl, nl, k == 3 ? key : NULL, 0)) {
            fprintf(stderr, "tern-lbproxy: bad --qlb '%s'\n", qlb_text);
            return 2;
        }
        use_qlb = 1;
    }
    tern_addr la;
    if (tern_addr_parse(&la, listen_text, 0) < 0)
        return usage();
    front = socket(la.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (front < 0 || epfd < 0 || bind(front, &la.u.sa, la.len) < 0) {
        fprintf(stderr, "tern-lbproxy: cannot listen on %s: %s\n", listen_text, strerror(errno));
        return 1;
    }
    struct epoll_event fev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, front, &fev);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!stop) {
        struct epoll_event ev[64];
        int n = epoll_wait(epfd, ev, 64, 200);
        for (int i = 0; i < n; i++) {
            if (!ev[i].data.ptr)
                from_client();
            else
                from_backend(ev[i].data.ptr);
        }
    }
    fprintf(stderr,
            "tern-lbproxy: %lu datagrams from clients, %lu routed by CID, %lu by fallback, "
            "%lu unroutable, %lu dropped, %lu answers, %lu rebinds, %zu flows",
            st.in, st.by_cid, st.fallback, st.unroutable, st.dropped, st.replies, st.rebinds,
            nflows);
    for (size_t i = 0; i < nbe; i++)
        fprintf(stderr, ", backend %zu: %lu", i, be[i].dgrams);
    fprintf(stderr, "\n");
    tern_qlb_free(&qlb);
    return 0;
}
