/* Datapath hooks on the real runtime over 127.0.0.1: a server endpoint and a client endpoint in
 * one process, a download of N pseudo-random bytes checked by SHA-256, and hooks that count, drop,
 * delay and rewrite datagrams (a lost datagram, a dead uplink, 50 ms of delay, a NAT rebinding,
 * a source address rewritten to another listener). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/endpoint.h"
#include "tern/tern.h"
#include "testcert.h"

#define ALPN "tern-test"
#define CHUNK 65536
#define MS 1000000ull

static char g_dir[64], g_cert[512], g_key[512];

/* ---- stream contents ------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Byte i of the payload is a pure function of i, so both sides agree without sharing state. */
static void fill(uint64_t off, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t s = (off + i) / 8;
        uint64_t v = splitmix(&s);
        out[i] = (uint8_t)(v >> (8 * ((off + i) % 8)));
    }
}

static void expected_sha(uint64_t len, uint8_t out[32])
{
    uint8_t *buf = malloc(CHUNK);
    gnutls_hash_hd_t h;
    assert_int_equal(gnutls_hash_init(&h, GNUTLS_DIG_SHA256), 0);
    for (uint64_t off = 0; off < len;) {
        size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
        fill(off, buf, n);
        gnutls_hash(h, buf, n);
        off += n;
    }
    gnutls_hash_deinit(h, out);
    free(buf);
}

/* ---- the two applications: one stream, the client asks for N bytes ------------------------- */

typedef struct side {
    tern_endpoint *ep;
    tern_conn *conn;
    int is_server, connected, closed, errors;
    int peer_moved; /* server: TERN_PATH_EV_PEER_ADDRESS_CHANGED events */
    tern_close_info close;
    /* server */
    int64_t sid;
    uint8_t req[8];
    size_t req_len;
    uint64_t want, sent;
    int sending;
    /* client */
    uint64_t got;
    int fin;
    gnutls_hash_hd_t hash;
    uint8_t sha[32];
    uint8_t buf[CHUNK];
} side;

static void server_pump(side *s, tern_conn *c)
{
    while (s->sending && s->sent < s->want) {
        size_t n = s->want - s->sent < CHUNK ? (size_t)(s->want - s->sent) : CHUNK;
        fill(s->sent, s->buf, n);
        ssize_t w = tern_stream_write(c, s->sid, s->buf, n, s->sent + n == s->want);
        if (w == TERN_ERR_WOULD_BLOCK || w == 0)
            return;
        if (w < 0) {
            s->errors++;
            return;
        }
        s->sent += (uint64_t)w;
    }
}

static void on_accept(tern_conn *c, void *ud)
{
    ((side *)ud)->conn = c;
}

static void on_connected(tern_conn *c, void *ud)
{
    side *s = ud;
    s->connected = 1;
    s->conn = c;
}

static void on_readable(tern_conn *c, int64_t sid, void *ud)
{
    side *s = ud;
    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, s->buf, sizeof(s->buf), &fin);
        if (n == TERN_ERR_WOULD_BLOCK)
            return;
        if (n < 0) {
            s->errors++;
            return;
        }
        if (s->is_server) {
            if (sid != s->sid) { /* a new request */
                s->sid = sid;
                s->req_len = 0;
                s->want = s->sent = 0;
                s->sending = 0;
            }
            for (ssize_t i = 0; i < n && s->req_len < 8; i++)
                s->req[s->req_len++] = s->buf[i];
            if (fin) {
                for (int i = 0; i < 8; i++)
                    s->want = s->want << 8 | s->req[i];
                s->sending = 1;
                server_pump(s, c);
                return;
            }
        } else {
            gnutls_hash(s->hash, s->buf, (size_t)n);
            s->got += (uint64_t)n;
            if (fin) {
                s->fin = 1;
                gnutls_hash_deinit(s->hash, s->sha);
                s->hash = NULL;
                return;
            }
        }
        if (n == 0)
            return;
    }
}

static void on_writable(tern_conn *c, int64_t sid, void *ud)
{
    side *s = ud;
    if (s->is_server)
        server_pump(s, c);
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    side *s = ud;
    s->closed = 1;
    s->close = *info;
    if (s->conn == c)
        s->conn = NULL;
}

static void on_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    side *s = ud;
    if (ev->type == TERN_PATH_EV_PEER_ADDRESS_CHANGED)
        s->peer_moved++;
}

static const tern_callbacks g_cb = {
    .on_accept = on_accept,
    .on_connected = on_connected,
    .on_stream_readable = on_readable,
    .on_stream_writable = on_writable,
    .on_closed = on_closed,
    .on_path_event = on_path_event,
};

/* ---- fixture --------------------------------------------------------------------------------- */

typedef struct fx {
    side srv, cli;
    tern_addr addr; /* the server's */
} fx;

static const char *const g_alpn[] = {ALPN};

static void base_cfg(tern_config *cfg, int server)
{
    tern_config_init(cfg);
    cfg->alpn = g_alpn;
    cfg->alpn_count = 1;
    if (server) {
        cfg->cert_file = g_cert;
        cfg->key_file = g_key;
    } else {
        cfg->ca_file = g_cert;
    }
}

static void start_server(fx *f, const tern_config *cfg)
{
    f->srv.is_server = 1;
    f->srv.sid = -1;
    assert_int_equal(tern_endpoint_new(cfg, &g_cb, &f->srv, &f->srv.ep), 0);
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, "127.0.0.1:0", 0), 0);
    assert_int_equal(tern_endpoint_listen(f->srv.ep, &a), 0);
    assert_int_equal(tern_endpoint_local_addr(f->srv.ep, &f->addr), 0);
}

typedef struct hk hk;
static void install(tern_endpoint *ep, hk *h, int send, int recv);

/* Connects to the server; `h` (may be NULL) is installed on the client endpoint first. */
static void start_client(fx *f, const tern_config *cfg, hk *h, int send, int recv)
{
    assert_int_equal(tern_endpoint_new(cfg, &g_cb, &f->cli, &f->cli.ep), 0);
    if (h)
        install(f->cli.ep, h, send, recv);
    assert_int_equal(tern_endpoint_connect(f->cli.ep, &f->addr, NULL, "localhost", &f->cli.conn),
                     0);
}

static int fx_setup(void **st)
{
    fx *f = calloc(1, sizeof(fx));
    *st = f;
    return f ? 0 : -1;
}

static int fx_teardown(void **st)
{
    fx *f = *st;
    if (f->cli.ep)
        tern_endpoint_free(f->cli.ep);
    if (f->srv.ep)
        tern_endpoint_free(f->srv.ep);
    if (f->cli.hash)
        gnutls_hash_deinit(f->cli.hash, NULL);
    free(f);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs both endpoints until cond(f) or `ms` elapse. Returns 1 when cond held. */
static int drive(fx *f, int (*cond)(fx *), uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    side *sides[2] = {&f->srv, &f->cli};
    while (!cond(f)) {
        if (now_ms() > end)
            return 0;
        struct pollfd p[2];
        int np = 0, t = 20;
        for (int i = 0; i < 2; i++) {
            if (!sides[i]->ep)
                continue;
            p[np].fd = tern_endpoint_fd(sides[i]->ep);
            p[np].events = POLLIN;
            np++;
            int et = tern_endpoint_timeout_ms(sides[i]->ep);
            if (et >= 0 && et < t)
                t = et;
        }
        poll(p, (nfds_t)np, t);
        for (int i = 0; i < 2; i++)
            if (sides[i]->ep)
                assert_int_equal(tern_endpoint_run_once(sides[i]->ep, 0), 0);
    }
    return 1;
}

static int never(fx *f)
{
    (void)f;
    return 0;
}
static int cond_connected(fx *f)
{
    return f->cli.connected && f->srv.connected;
}
static int cond_done(fx *f)
{
    return f->cli.fin || f->cli.closed;
}
static int cond_client_closed(fx *f)
{
    return f->cli.closed;
}

static int cond_quarter_mib(fx *f)
{
    return f->cli.got >= (256u << 10) || f->cli.closed;
}

static void request(fx *f, uint64_t bytes)
{
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(f->cli.conn, 1, &sid), 0);
    assert_int_equal(gnutls_hash_init(&f->cli.hash, GNUTLS_DIG_SHA256), 0);
    uint8_t req[8];
    for (int i = 0; i < 8; i++)
        req[i] = (uint8_t)(bytes >> (56 - 8 * i));
    assert_int_equal(tern_stream_write(f->cli.conn, sid, req, sizeof(req), 1), 8);
}

static void check_download(fx *f, uint64_t bytes)
{
    if (f->cli.closed)
        fail_msg("client closed: status %d (%s), error 0x%llx \"%s\"", f->cli.close.status,
                 tern_strerror(f->cli.close.status), (unsigned long long)f->cli.close.error_code,
                 f->cli.close.reason);
    assert_true(f->cli.fin);
    assert_int_equal(f->cli.got, bytes);
    uint8_t want[32];
    expected_sha(bytes, want);
    assert_memory_equal(f->cli.sha, want, 32);
    assert_int_equal(f->cli.errors, 0);
    assert_int_equal(f->srv.errors, 0);
}

static void download(fx *f, uint64_t bytes, uint64_t ms)
{
    request(f, bytes);
    assert_true(drive(f, cond_done, ms));
    check_download(f, bytes);
}

static uint16_t port_of(const tern_addr *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in.sin_port : a->u.in6.sin6_port);
}

/* ---- hooks ----------------------------------------------------------------------------------- */

struct hk {
    uint64_t sends, recvs, send_bytes, recv_bytes;
    uint64_t drop_nth_send;   /* drop the send with this number (1-based; 0 = none) */
    int drop_all_sends;
    tern_addr drop_from;      /* drop sends from this local address (len 0 = none) */
    uint64_t delay_sends_ns, delay_recvs_ns;
    int nat;                  /* rewrite the remote of received datagrams from real to fake */
    tern_addr real, fake;
    uint64_t nat_in, nat_out; /* datagrams rewritten each way */
    tern_addr swap_local_from, swap_local_to; /* rewrite the source of sends */
    tern_addr remote_from, remote_to;         /* rewrite the remote of received datagrams */
    uint64_t swapped;
};

static tern_hook_verdict hk_send(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                 uint64_t *delay_ns)
{
    hk *h = ud;
    assert_int_equal(*delay_ns, 0);
    assert_true(len > 0 && len <= 1500);
    h->sends++;
    h->send_bytes += len;
    if (h->nat && tern_addr_equal(&path->remote, &h->fake)) {
        path->remote = h->real; /* the NAT maps the new port back to the client */
        h->nat_out++;
    }
    if (h->swap_local_from.len && tern_addr_equal(&path->local, &h->swap_local_from)) {
        path->local = h->swap_local_to;
        h->swapped++;
    }
    if (h->drop_all_sends || h->sends == h->drop_nth_send)
        return TERN_HOOK_DROP;
    if (h->drop_from.len && tern_addr_equal(&path->local, &h->drop_from))
        return TERN_HOOK_DROP;
    if (h->delay_sends_ns) {
        *delay_ns = h->delay_sends_ns;
        return TERN_HOOK_DELAY;
    }
    return TERN_HOOK_PASS;
}

static tern_hook_verdict hk_recv(void *ud, tern_path_addr *path, uint8_t *data, size_t len,
                                 uint64_t *delay_ns)
{
    hk *h = ud;
    assert_int_equal(*delay_ns, 0);
    h->recvs++;
    h->recv_bytes += len;
    if (h->nat && tern_addr_equal(&path->remote, &h->real)) {
        path->remote = h->fake;
        h->nat_in++;
    }
    if (h->remote_from.len && tern_addr_equal(&path->remote, &h->remote_from)) {
        path->remote = h->remote_to;
        h->swapped++;
    }
    if (h->delay_recvs_ns) {
        *delay_ns = h->delay_recvs_ns;
        return TERN_HOOK_DELAY;
    }
    return TERN_HOOK_PASS;
}

static void install(tern_endpoint *ep, hk *h, int send, int recv)
{
    tern_datapath_hooks hooks = {
        .on_send = send ? hk_send : NULL, .on_recv = recv ? hk_recv : NULL, .ud = h};
    assert_int_equal(tern_endpoint_set_datapath_hooks(ep, &hooks), 0);
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* Without hooks (never set, or removed) the endpoint works as before and counts nothing. */
static void test_no_hooks(void **st)
{
    fx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    start_client(f, &cc, NULL, 0, 0);
    assert_int_equal(tern_endpoint_set_datapath_hooks(NULL, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->cli.ep, NULL), 0);
    tern_datapath_hooks empty = {0};
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, &empty), 0);
    assert_true(drive(f, cond_connected, 5000));
    download(f, 4u << 20, 20000);
    tern_endpoint_stats es, ec;
    tern_endpoint_get_stats(f->srv.ep, &es);
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_int_equal(es.hook_dropped + es.hook_delayed + es.hook_overflow + es.hook_queued, 0);
    assert_int_equal(ec.hook_dropped + ec.hook_delayed + ec.hook_overflow + ec.hook_queued, 0);
    assert_true(es.dgrams_sent > 2000);
    assert_int_equal(es.conns_accepted, 1);
    assert_int_equal(es.dispatch.accepted, 1);
    assert_int_equal(es.dropped, es.dispatch.dropped);
}

/* Hooks that pass everything see every datagram exactly once, GSO batches split included. */
static void test_pass_sees_every_datagram(void **st)
{
    fx *f = *st;
    hk hs = {0}, hc = {0};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    install(f->srv.ep, &hs, 1, 1);
    start_client(f, &cc, &hc, 1, 1);
    assert_true(drive(f, cond_connected, 5000));
    download(f, 8u << 20, 20000);
    tern_endpoint_stats es, ec;
    tern_endpoint_get_stats(f->srv.ep, &es);
    tern_endpoint_get_stats(f->cli.ep, &ec);
    /* A full socket loses what is offered to it meanwhile (after the hook saw it). */
    if (es.send_blocked == 0 && es.send_errors == 0) {
        assert_int_equal(hs.sends, es.dgrams_sent);
        assert_int_equal(hs.send_bytes, es.bytes_sent);
    } else {
        assert_true(hs.sends >= es.dgrams_sent);
    }
    if (ec.send_blocked == 0 && ec.send_errors == 0)
        assert_int_equal(hc.sends, ec.dgrams_sent);
    assert_int_equal(hs.recvs, es.dgrams_recv);
    assert_int_equal(hs.recv_bytes, es.bytes_recv);
    assert_int_equal(hc.recvs, ec.dgrams_recv);
    assert_true(hs.sends > (8u << 20) / 1500);
    assert_int_equal(es.hook_dropped + es.hook_delayed, 0);
}

/* One datagram of the server's lost: recovery resends it and the download is intact. */
static void test_drop_one_datagram(void **st)
{
    fx *f = *st;
    hk hs = {.drop_nth_send = 40};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    start_client(f, &cc, NULL, 0, 0);
    install(f->srv.ep, &hs, 1, 0);
    assert_true(drive(f, cond_connected, 5000));
    download(f, 2u << 20, 20000);
    assert_true(hs.sends > 40);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, 1);
    tern_conn_stats ss;
    tern_conn_get_stats(f->srv.conn, &ss);
    assert_true(ss.pkts_lost >= 1);
}

/* Everything the client sends from its address vanishes: the download stalls and the client's
 * connection ends by idle timeout. */
static void test_dead_uplink_idle_timeout(void **st)
{
    fx *f = *st;
    hk hc = {0};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    sc.idle_timeout_ms = 400;
    cc.idle_timeout_ms = 400;
    start_server(f, &sc);
    start_client(f, &cc, NULL, 0, 0);
    assert_true(drive(f, cond_connected, 5000));
    tern_path_addr pc;
    tern_conn_get_path(f->cli.conn, &pc);
    hc.drop_from = pc.local;
    install(f->cli.ep, &hc, 1, 0);
    request(f, 50u << 20);
    assert_true(drive(f, cond_client_closed, 10000));
    assert_false(f->cli.fin);
    assert_int_equal(f->cli.close.status, TERN_ERR_IDLE_TIMEOUT);
    tern_endpoint_stats ec;
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_true(ec.hook_dropped >= 1);
    assert_int_equal(ec.hook_dropped, hc.sends);
}

/* 50 ms added to every datagram the server sends: both sides measure it. */
static void test_delay_server_sends(void **st)
{
    fx *f = *st;
    hk hs = {.delay_sends_ns = 50 * MS};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, NULL, 0, 0);
    uint64_t t0 = now_ms();
    assert_true(drive(f, cond_connected, 5000));
    assert_true(now_ms() - t0 >= 50);
    download(f, 1u << 20, 20000);
    tern_conn_stats cs, ss;
    tern_conn_get_stats(f->cli.conn, &cs);
    tern_conn_get_stats(f->srv.conn, &ss);
    print_message("    client srtt %.1f ms (min %.1f), server srtt %.1f ms\n", cs.srtt_ns / 1e6,
                  cs.min_rtt_ns / 1e6, ss.srtt_ns / 1e6);
    assert_true(cs.srtt_ns >= 50 * MS);
    assert_true(cs.min_rtt_ns >= 50 * MS);
    assert_true(ss.srtt_ns >= 50 * MS);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_delayed + es.hook_overflow, hs.sends);
    assert_true(es.hook_delayed > 0);
}

/* 30 ms added on the client's receive side; the queue hands datagrams over in arrival order. */
static void test_delay_client_recv(void **st)
{
    fx *f = *st;
    hk hc = {.delay_recvs_ns = 30 * MS};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    start_client(f, &cc, &hc, 0, 1);
    assert_true(drive(f, cond_connected, 5000));
    download(f, 1u << 20, 20000);
    tern_conn_stats cs;
    tern_conn_get_stats(f->cli.conn, &cs);
    assert_true(cs.min_rtt_ns >= 30 * MS);
    assert_true(cs.srtt_ns >= 30 * MS);
    tern_endpoint_stats ec;
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_int_equal(ec.hook_delayed + ec.hook_overflow, hc.recvs);
}

/* The server sees the client's source port change mid-download (a NAT rebinding); its replies to
 * the new port are mapped back, as the NAT would. */
static void test_nat_rebinding(void **st)
{
    fx *f = *st;
    hk hs = {0};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    start_client(f, &cc, NULL, 0, 0);
    install(f->srv.ep, &hs, 1, 1);
    assert_true(drive(f, cond_connected, 5000));
    tern_path_addr pc;
    tern_conn_get_path(f->cli.conn, &pc);
    hs.real = pc.local;
    hs.fake = pc.local;
    hs.fake.u.in.sin_port = htons((uint16_t)(port_of(&pc.local) ^ 0x4000));

    request(f, 6u << 20);
    assert_true(drive(f, cond_quarter_mib, 10000)); /* the download is under way */
    assert_false(f->cli.fin);
    hs.nat = 1;
    assert_true(drive(f, cond_done, 30000));
    check_download(f, 6u << 20);
    assert_true(hs.nat_in > 0);

    /* The server follows the client to its new port (RFC 9000 §9.3) and its datagrams to it
     * are mapped back by the NAT. */
    tern_path_addr ps;
    tern_conn_get_path(f->srv.conn, &ps);
    assert_true(tern_addr_equal(&ps.remote, &hs.fake));
    assert_true(hs.nat_out > 0);
    assert_true(f->srv.peer_moved >= 1);
    assert_int_equal(f->cli.peer_moved, 0);
    tern_conn_get_path(f->cli.conn, &pc);
    assert_true(tern_addr_equal(&pc.local, &hs.real)); /* the client never knew */
}

/* The server's datagrams leave from its second listener (a source rewrite); the client, whose
 * receive hook maps that address back, completes the download: the rewrite really changed the
 * socket. An address with no socket loses the datagram. */
static void test_rewrite_local(void **st)
{
    fx *f = *st;
    hk hs = {0}, hc = {0};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    /* a second listener on a port known to be free a moment ago */
    tern_addr second;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    assert_int_equal(tern_addr_parse(&second, "127.0.0.1", ntohs(sa.sin_port)), 0);
    assert_int_equal(tern_endpoint_listen(f->srv.ep, &second), 0);
    hs.swap_local_from = f->addr;
    hs.swap_local_to = second;
    hc.remote_from = second;
    hc.remote_to = f->addr;
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, &hc, 0, 1);
    assert_true(drive(f, cond_connected, 5000));
    download(f, 1u << 20, 20000);
    assert_true(hs.swapped > 0);
    assert_int_equal(hc.swapped, hs.swapped); /* every server datagram came from the second one */
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, 0);

    /* now to an address without a socket: lost */
    uint64_t before = hs.sends;
    assert_int_equal(tern_addr_parse(&hs.swap_local_to, "127.0.0.1:9", 0), 0);
    f->cli.fin = 0;
    request(f, 100000);
    assert_false(drive(f, cond_done, 300));
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_true(hs.sends > before);
    assert_int_equal(es.hook_dropped, hs.sends - before);
}

/* A server that sends nothing stalls the handshake; removing its hooks lets it finish. */
static void test_hook_removal(void **st)
{
    fx *f = *st;
    hk hs = {.drop_all_sends = 1};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, NULL, 0, 0);
    assert_false(drive(f, cond_connected, 400));
    assert_true(hs.sends > 0);
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, NULL), 0);
    uint64_t n = hs.sends;
    assert_true(drive(f, cond_connected, 5000));
    download(f, 1u << 20, 20000);
    assert_int_equal(hs.sends, n);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, n);
}

/* Datagrams still queued when an endpoint is freed are released with it (checked by ASan), and
 * those queued when the hooks are removed still go out when due. */
static void test_queue_outlives_hooks(void **st)
{
    fx *f = *st;
    hk hs = {.delay_sends_ns = 200 * MS}, hc = {.delay_sends_ns = 10000 * MS};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    start_server(f, &sc);
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, NULL, 0, 0);
    assert_false(drive(f, cond_connected, 50)); /* the server's first flight waits */
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_true(es.hook_queued > 0);
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, NULL), 0);
    assert_true(drive(f, cond_connected, 5000));
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_queued, 0);

    /* the client's next datagrams wait 10 s: still queued at teardown */
    install(f->cli.ep, &hc, 1, 0);
    request(f, 1000);
    assert_false(drive(f, never, 50));
    tern_endpoint_stats ec;
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_true(ec.hook_queued > 0);
    assert_true(tern_endpoint_timeout_ms(f->cli.ep) >= 0);
}

static int group_setup(void **st)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/tern-hooks-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    return tern_test_make_cert(g_dir, g_cert, sizeof(g_cert), g_key, sizeof(g_key));
}

static int group_teardown(void **st)
{
    unlink(g_cert);
    unlink(g_key);
    rmdir(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_hooks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pass_sees_every_datagram, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_drop_one_datagram, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_uplink_idle_timeout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delay_server_sends, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delay_client_recv, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nat_rebinding, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_local, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hook_removal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_queue_outlives_hooks, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
