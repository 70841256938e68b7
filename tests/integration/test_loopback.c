/* The real runtime over 127.0.0.1: a server endpoint and a client endpoint in one process and one
 * thread, driven through their epoll fds and run_once. Downloads check byte counts and SHA-256;
 * the stateless parts of the server (Retry, Version Negotiation, stateless reset) are checked on
 * the wire; a paused process reads what waits before it runs timers. The endpoints and the
 * application are the loopfx fixture (tests/common/loopfx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/endpoint.h"
#include "loopfx.h"
#include "tern/tern.h"

static const char *const g_alpn_srv[] = {"other", LOOPFX_ALPN};

/* The fixture's configurations, with a server that offers another ALPN first. */
static void base_cfg(tern_config *cfg, int server)
{
    loopfx_base_cfg(cfg, server);
    if (server) {
        cfg->alpn = g_alpn_srv;
        cfg->alpn_count = 2;
    }
}

static int cond_both_closed(loopfx *f)
{
    return f->cli.closed && f->srv.closed;
}

static void connect_pair(loopfx *f, tern_config *scfg, tern_config *ccfg)
{
    loopfx_start_server(f, scfg, NULL);
    loopfx_start_client(f, ccfg, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_handshake(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    connect_pair(f, &sc, &cc);
    assert_int_equal(f->srv.accepted, 1);
    assert_string_equal(f->cli.alpn, LOOPFX_ALPN);
    assert_string_equal(f->srv.alpn, LOOPFX_ALPN);
    assert_true(tern_conn_is_established(f->cli.conn));
    assert_false(tern_conn_is_server(f->cli.conn));
    assert_true(tern_conn_is_server(f->srv.conn));
    assert_true(strlen(tern_conn_cipher(f->cli.conn)) > 0);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 1);

    tern_path_addr pa;
    tern_conn_get_path(f->cli.conn, &pa);
    assert_true(tern_addr_equal(&pa.remote, &f->addr));
    assert_int_equal(ntohl(pa.local.u.in.sin_addr.s_addr), INADDR_LOOPBACK);
    tern_path_addr ps;
    tern_conn_get_path(f->srv.conn, &ps);
    assert_true(tern_addr_equal(&ps.remote, &pa.local));

    /* a clean application close reaches both sides */
    assert_int_equal(tern_conn_close(f->cli.conn, 7, "bye"), 0);
    assert_true(loopfx_drive(f, cond_both_closed, 5000));
    assert_int_equal(f->cli.close.status, 0);
    assert_int_equal(f->srv.close.status, 0);
    assert_int_equal(f->srv.close.app, 1);
    assert_int_equal(f->srv.close.error_code, 7);
    assert_false(f->srv.close.local);
    assert_true(f->cli.close.local);
    assert_string_equal(f->srv.close.reason, "bye");
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 0);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
    /* a client endpoint with no connection left returns from run() at once */
    assert_int_equal(tern_endpoint_run(f->cli.ep), 0);

    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.retry_sent, 0);
    assert_int_equal(es.conns_accepted, 1);
}

static void transfer(loopfx *f, uint64_t bytes, unsigned streams, int ku_client, int ku_server)
{
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    connect_pair(f, &sc, &cc);
    if (ku_client)
        f->cli.key_update_at = bytes * streams / 3;
    if (ku_server)
        f->srv.key_update_at = bytes * streams / 3;
    uint64_t t0 = loopfx_now_ms(), total = 0;
    for (unsigned i = 0; i < streams; i++) {
        loopfx_request_on(f, f->cli.conn, bytes + (uint64_t)i * 1000);
        total += bytes + (uint64_t)i * 1000;
    }
    assert_true(loopfx_drive(f, loopfx_cond_done, 120000));
    uint64_t dt = loopfx_now_ms() - t0;
    loopfx_check_download(f, total);
    tern_conn_stats cs, ss;
    tern_conn_get_stats(f->cli.conn, &cs);
    tern_conn_get_stats(f->srv.conn, &ss);
    assert_true(cs.stream_bytes_recv >= total);
    assert_true(ss.stream_bytes_sent >= total);
    print_message(
        "    %llu bytes in %llu ms (%.1f Mbit/s), client pkts recv %llu, server lost %llu\n",
        (unsigned long long)total, (unsigned long long)dt,
        dt ? (double)total * 8 / 1000.0 / (double)dt : 0.0, (unsigned long long)cs.pkts_recv,
        (unsigned long long)ss.pkts_lost);
    if (ku_client || ku_server) {
        assert_true((ku_client ? f->cli.key_update_started : f->srv.key_update_started));
        assert_true(cs.key_updates >= 1);
        assert_true(ss.key_updates >= 1);
    }
}

static void test_transfer_100mb(void **st)
{
    transfer(*st, 100u << 20, 1, 0, 0);
}
static void test_parallel_streams(void **st)
{
    transfer(*st, 2u << 20, 20, 0, 0);
}
static void test_key_update_client(void **st)
{
    transfer(*st, 30u << 20, 1, 1, 0);
}
static void test_key_update_server(void **st)
{
    transfer(*st, 30u << 20, 1, 0, 1);
}

/* A client connected to a server that validates every address with Retry. */
static void connect_retry_pair(loopfx *f, tern_config *sc, tern_config *cc)
{
    base_cfg(sc, 1);
    sc->retry = 1;
    base_cfg(cc, 0);
    connect_pair(f, sc, cc);
}

static void test_retry(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    connect_retry_pair(f, &sc, &cc);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.retry_sent, 1);
    assert_int_equal(es.conns_accepted, 1);
    assert_int_equal(f->srv.accepted, 1);
    loopfx_download(f, 1u << 20, 20000);
}

static int cond_token(loopfx *f)
{
    return f->cli.tokens > 0;
}

/* A second client presenting the first one's NEW_TOKEN to a server that forces Retry gets no
 * Retry; a tampered token gets one (never INVALID_TOKEN), and the connection still succeeds. */
static void test_new_token_skips_retry(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    connect_retry_pair(f, &sc, &cc);
    assert_true(loopfx_drive(f, cond_token, 5000));
    assert_int_equal(f->cli.tokens, 1);
    uint8_t tok[512];
    size_t tl = f->cli.token_len;
    memcpy(tok, f->cli.token, tl);
    tern_endpoint_stats es;
    for (int tamper = 0; tamper < 2; tamper++) {
        loopfx_reset_client(f);
        f->srv.connected = 0;
        if (tamper)
            tok[tl - 3] ^= 0x10;
        loopfx_start_client(f, &cc, NULL);
        assert_int_equal(tern_conn_set_token(f->cli.conn, tok, tl), 0);
        assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
        tern_endpoint_get_stats(f->srv.ep, &es);
        assert_int_equal(es.retry_sent, 1 + (uint64_t)tamper);
        assert_int_equal(es.dispatch.new_token_accepted, 1);
        assert_int_equal(es.dispatch.close_sent, 0);
        loopfx_download(f, 256u << 10, 10000);
        assert_true(loopfx_drive(f, cond_token, 5000));
        memcpy(tok, f->cli.token, f->cli.token_len); /* each token is used once */
        tl = f->cli.token_len;
    }
    assert_int_equal(es.conns_accepted, 3);
}

static int raw_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Polls the server for up to `ms` and returns what arrived on fd (0 when nothing). */
static ssize_t raw_wait(loopfx *f, int fd, uint8_t *buf, size_t cap, uint64_t ms)
{
    uint64_t end = loopfx_now_ms() + ms;
    while (loopfx_now_ms() < end) {
        assert_int_equal(tern_endpoint_run_once(f->srv.ep, 5), 0);
        ssize_t n = recv(fd, buf, cap, 0);
        if (n > 0)
            return n;
    }
    return 0;
}

static void test_version_negotiation(void **st)
{
    loopfx *f = *st;
    tern_config sc;
    base_cfg(&sc, 1);
    loopfx_start_server(f, &sc, NULL);
    int fd = raw_socket();
    static const uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t scid[5] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5};
    uint8_t pkt[1200];
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0xc3;
    pkt[1] = 0x1a, pkt[2] = 0x2a, pkt[3] = 0x3a, pkt[4] = 0x4a;
    pkt[5] = 8;
    memcpy(pkt + 6, dcid, 8);
    pkt[14] = 5;
    memcpy(pkt + 15, scid, 5);

    /* too small to deserve an answer */
    assert_int_equal(sendto(fd, pkt, 600, 0, &f->addr.u.sa, f->addr.len), 600);
    uint8_t buf[1500];
    assert_int_equal(raw_wait(f, fd, buf, sizeof(buf), 100), 0);

    assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, &f->addr.u.sa, f->addr.len), sizeof(pkt));
    ssize_t n = raw_wait(f, fd, buf, sizeof(buf), 2000);
    assert_true(n >= 7 + 5 + 8 + 4);
    assert_true(buf[0] & 0x80);
    assert_memory_equal(buf + 1, "\0\0\0\0", 4);
    assert_int_equal(buf[5], 5); /* DCID = our SCID */
    assert_memory_equal(buf + 6, scid, 5);
    assert_int_equal(buf[11], 8); /* SCID = our DCID */
    assert_memory_equal(buf + 12, dcid, 8);
    size_t vo = 20;
    assert_int_equal(((size_t)n - vo) % 4, 0); /* n >= 24, checked above */
    int has_v1 = 0;
    for (size_t i = vo; i + 4 <= (size_t)n; i += 4) {
        uint32_t v = (uint32_t)buf[i] << 24 | (uint32_t)buf[i + 1] << 16 |
                     (uint32_t)buf[i + 2] << 8 | buf[i + 3];
        has_v1 |= v == TERN_PROTO_VERSION_1;
        assert_int_not_equal(v, 0x1a2a3a4a);
    }
    assert_true(has_v1);

    /* a Version Negotiation packet is never answered */
    pkt[1] = pkt[2] = pkt[3] = pkt[4] = 0;
    assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, &f->addr.u.sa, f->addr.len), sizeof(pkt));
    assert_int_equal(raw_wait(f, fd, buf, sizeof(buf), 100), 0);

    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.vn_sent, 1);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
    close(fd);
}

static void test_initial_too_small(void **st)
{
    /* A version 1 Initial in a datagram under 1200 bytes creates nothing and gets no answer. */
    loopfx *f = *st;
    tern_config sc;
    base_cfg(&sc, 1);
    loopfx_start_server(f, &sc, NULL);
    int fd = raw_socket();
    uint8_t pkt[1000];
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0xc0;
    pkt[4] = 1;
    pkt[5] = 8;
    memset(pkt + 6, 0x11, 8);
    pkt[14] = 0;
    pkt[15] = 0;           /* token length */
    pkt[16] = 0x40 | 0x03; /* length (2-byte varint) */
    pkt[17] = 0xd0;
    assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, &f->addr.u.sa, f->addr.len), sizeof(pkt));
    uint8_t buf[1500];
    assert_int_equal(raw_wait(f, fd, buf, sizeof(buf), 100), 0);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
    /* the same at 1200 bytes with garbage protection: still no connection is kept */
    uint8_t big[1200];
    memset(big, 0, sizeof(big));
    memcpy(big, pkt, 18);
    big[16] = 0x40 | 0x04;
    big[17] = 0x9e; /* 1182 = the rest of the datagram */
    assert_int_equal(sendto(fd, big, sizeof(big), 0, &f->addr.u.sa, f->addr.len), sizeof(big));
    assert_int_equal(raw_wait(f, fd, buf, sizeof(buf), 100), 0);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
    assert_int_equal(f->srv.accepted, 0);
    close(fd);
}

static void test_idle_timeout(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    sc.idle_timeout_ms = 300;
    cc.idle_timeout_ms = 300;
    connect_pair(f, &sc, &cc);
    uint64_t t0 = loopfx_now_ms();
    assert_true(loopfx_drive(f, cond_both_closed, 5000));
    uint64_t dt = loopfx_now_ms() - t0;
    assert_true(dt >= 250);
    assert_int_equal(f->cli.close.status, TERN_ERR_IDLE_TIMEOUT);
    assert_int_equal(f->srv.close.status, TERN_ERR_IDLE_TIMEOUT);
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 0);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
}

static void test_stateless_reset(void **st)
{
    static const uint8_t key[32] = {
        0x5a, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
        16,   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    };
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    tern_endpoint_set_reset_key(f->srv.ep, key); /* no connection has taken a token yet */
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", loopfx_port(&f->addr));

    /* The server loses all state; a new one takes the port with the same static key. */
    tern_endpoint_free(f->srv.ep);
    f->srv.ep = NULL;
    f->srv.conn = NULL;
    loopfx_start_server(f, &sc, listen);
    tern_endpoint_set_reset_key(f->srv.ep, key);

    int64_t sid;
    assert_int_equal(tern_conn_open_stream(f->cli.conn, 1, &sid), 0);
    static const uint8_t data[200] = {1};
    assert_int_equal(tern_stream_write(f->cli.conn, sid, data, sizeof(data), 0), sizeof(data));
    assert_true(loopfx_drive(f, loopfx_cond_client_closed, 5000));
    assert_int_equal(f->cli.close.status, TERN_ERR_STATELESS_RESET);
    assert_int_equal(f->srv.accepted, 1); /* only the first server ever saw a connection */
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_true(es.reset_sent >= 1);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
}

/* RFC 9000 §10.3 from the client's side: the client moved to another local address (so the server
 * sends on a client CID that came with a reset token), then lost all state (its endpoint freed
 * without a close). A new endpoint on that address with the client's static key answers the
 * server's next packets with stateless resets, and the server's connection ends with
 * TERN_ERR_STATELESS_RESET at once instead of idling out. With another key (`same_key` 0) the
 * resets carry tokens the server never learnt: its connection carries on. */
static int cond_server_closed(loopfx *f)
{
    return f->srv.closed > 0;
}

static void client_reset_case(loopfx *f, int same_key)
{
    static const uint8_t key[32] = {0xc1, 0x1e, 0x47, 3,  4,  5,  6,  7,  8,  9,  10,
                                    11,   12,   13,   14, 15, 16, 17, 18, 19, 20, 21,
                                    22,   23,   24,   25, 26, 27, 28, 29, 30, 31};
    static const uint8_t other_key[32] = {0x0f, 1, 2, 3};
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    assert_int_equal(tern_endpoint_new(&cc, &loopfx_callbacks, &f->cli, &f->cli.ep), 0);
    tern_endpoint_set_reset_key(f->cli.ep, key); /* before the connection takes it */
    assert_int_equal(tern_endpoint_connect(f->cli.ep, &f->addr, NULL, "localhost", &f->cli.conn),
                     0);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 1000, 5000);

    /* the client moves; the server follows on a new client CID */
    tern_addr moved;
    assert_int_equal(tern_addr_parse(&moved, "127.0.0.1:0", 0), 0);
    int id = tern_conn_set_local_address(f->cli.conn, &moved);
    assert_true(id > 0);
    tern_path_addr pa;
    tern_conn_get_path(f->cli.conn, &pa);
    moved = pa.local;
    assert_true(loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 5000));
    loopfx_request(f, 64u << 20); /* the server keeps sending while the client is gone */
    assert_false(loopfx_drive(f, loopfx_cond_done, 50));
    assert_true(f->srv.conn != NULL);

    /* the client loses its state; another endpoint takes its address with its key (or not) */
    loopfx_reset_client(f);
    assert_int_equal(tern_endpoint_new(&sc, &loopfx_callbacks, &f->cli, &f->cli.ep), 0);
    tern_endpoint_set_reset_key(f->cli.ep, same_key ? key : other_key);
    assert_int_equal(tern_endpoint_listen(f->cli.ep, &moved), 0);
    const uint64_t t0 = loopfx_now_ms();
    int closed = loopfx_drive(f, cond_server_closed, same_key ? 5000 : 1000);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->cli.ep, &es);
    assert_true(es.reset_sent >= 1); /* the server's packets were answered */
    if (!same_key) {
        LOOPFX_CHECK(f, !closed);
        LOOPFX_CHECK_INT(f, tern_endpoint_conn_count(f->srv.ep), 1);
        return;
    }
    LOOPFX_CHECK(f, closed);
    print_message("    server connection reset after %llu ms\n",
                  (unsigned long long)(loopfx_now_ms() - t0));
    LOOPFX_CHECK_INT(f, f->srv.close.status, TERN_ERR_STATELESS_RESET);
    LOOPFX_CHECK_INT(f, tern_endpoint_conn_count(f->srv.ep), 0);
    LOOPFX_CHECK_INT(f, f->cli.accepted, 0); /* the new endpoint kept no state for it either */
}

static void test_client_stateless_reset(void **st)
{
    client_reset_case(*st, 1);
}

static void test_client_stateless_reset_other_key(void **st)
{
    client_reset_case(*st, 0);
}

/* A server bound to the any-address answers from the address each client used (IP_PKTINFO),
 * here 127.0.0.2 for a client bound to 127.0.0.1:<port 0>. */
static void test_wildcard_listener_v4(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, "0.0.0.0:0");
    tern_addr remote, local;
    assert_int_equal(tern_addr_parse(&remote, "127.0.0.2", loopfx_port(&f->addr)), 0);
    assert_int_equal(tern_addr_parse(&local, "127.0.0.1:0", 0), 0);
    loopfx_start_client_to(f, &cc, NULL, &remote, &local);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    tern_path_addr ps, pc;
    tern_conn_get_path(f->srv.conn, &ps);
    tern_conn_get_path(f->cli.conn, &pc);
    assert_true(tern_addr_equal(&ps.local, &remote));
    assert_true(tern_addr_equal(&ps.remote, &pc.local));
    assert_int_equal(ntohl(pc.local.u.in.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_not_equal(loopfx_port(&pc.local), 0);
    loopfx_download(f, 3u << 20, 20000);

    /* On the wire: a stateless reply leaves from the address the probe was sent to. */
    int fd = raw_socket();
    uint8_t pkt[1200], buf[1500];
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0xc0;
    pkt[4] = 0x0a; /* version 0x0000000a: negotiation */
    pkt[5] = 8;
    pkt[14] = 0;
    assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, &remote.u.sa, remote.len), sizeof(pkt));
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t n = 0;
    for (uint64_t end = loopfx_now_ms() + 2000; n <= 0 && loopfx_now_ms() < end;) {
        assert_int_equal(tern_endpoint_run_once(f->srv.ep, 5), 0);
        n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    }
    assert_true(n > 0);
    assert_int_equal(from.sin_addr.s_addr, remote.u.in.sin_addr.s_addr);
    assert_int_equal(from.sin_port, remote.u.in.sin_port);
    close(fd);
}

/* A dual-stack listener on [::] serves an IPv4 client and then an IPv6 client. */
static void test_wildcard_listener_dual_stack(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    int fd6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 l6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int have6 = fd6 >= 0 && bind(fd6, (struct sockaddr *)&l6, sizeof(l6)) == 0;
    if (fd6 >= 0)
        close(fd6);
    if (!have6)
        skip();
    loopfx_start_server(f, &sc, "[::]:0");
    const char *targets[] = {"127.0.0.1", "::1"};
    for (int i = 0; i < 2; i++) {
        tern_addr remote;
        assert_int_equal(tern_addr_parse(&remote, targets[i], loopfx_port(&f->addr)), 0);
        loopfx_reset_client(f);
        f->srv.connected = 0;
        loopfx_start_client_to(f, &cc, NULL, &remote, NULL);
        assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
        loopfx_download(f, 1u << 20, 20000);
        tern_path_addr pc;
        tern_conn_get_path(f->cli.conn, &pc);
        assert_int_equal(pc.local.u.sa.sa_family, remote.u.sa.sa_family);
        assert_true(tern_addr_equal(&pc.remote, &remote));
        assert_int_equal(tern_conn_close(f->cli.conn, 0, NULL), 0);
        assert_true(loopfx_drive(f, loopfx_cond_client_closed, 5000));
    }
    assert_int_equal(f->srv.accepted, 2);
}

static int cond_20_connected(loopfx *f)
{
    return f->cli.connected == 20 && f->srv.connected == 20;
}
static int cond_20_closed(loopfx *f)
{
    return f->cli.closed == 20 && f->srv.closed == 20;
}

/* One client endpoint with 20 connections (20 sockets) to one server: each downloads on its own
 * stream; then all close and both endpoints end up empty. */
static void test_many_connections(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    loopfx_start_client(f, &cc, NULL);
    tern_conn *conns[20];
    conns[0] = f->cli.conn;
    for (int i = 1; i < 20; i++)
        assert_int_equal(tern_endpoint_connect(f->cli.ep, &f->addr, NULL, "localhost", &conns[i]),
                         0);
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 20);
    assert_true(loopfx_drive(f, cond_20_connected, 10000));
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 20);
    assert_int_equal(f->srv.accepted, 20);
    uint64_t total = 0;
    for (int i = 0; i < 20; i++) {
        loopfx_request_on(f, conns[i], 200000 + (uint64_t)i * 7);
        total += 200000 + (uint64_t)i * 7;
    }
    assert_true(loopfx_drive(f, loopfx_cond_done, 30000));
    loopfx_check_download(f, total);
    for (int i = 0; i < 20; i++) {
        tern_path_addr p;
        tern_conn_get_path(conns[i], &p);
        for (int k = 0; k < i; k++) { /* every connection has its own socket */
            tern_path_addr q;
            tern_conn_get_path(conns[k], &q);
            assert_false(tern_addr_equal(&p.local, &q.local));
        }
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(tern_conn_close(conns[i], 0, NULL), 0);
    assert_true(loopfx_drive(f, cond_20_closed, 10000));
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 0);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 0);
    assert_int_equal(f->srv.close.status, 0);
}

static void stop_on_accept(tern_conn *c, void *ud)
{
    loopfx_side *s = ud;
    s->accepted++;
    tern_endpoint_stop(s->ep);
}

/* run() of a listening endpoint returns once a callback calls tern_endpoint_stop(). */
static void test_run_stop(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    tern_callbacks cb = loopfx_callbacks;
    cb.on_accept = stop_on_accept;
    loopfx_start_server_cb(f, &sc, &cb, NULL);
    loopfx_start_client(f, &cc, NULL);
    assert_int_equal(tern_endpoint_run_once(f->cli.ep, 0), 0); /* the client's first flight */
    assert_int_equal(tern_endpoint_run(f->srv.ep), 0);
    assert_int_equal(f->srv.accepted, 1);
    assert_int_equal(tern_endpoint_conn_count(f->srv.ep), 1);
    int t = tern_endpoint_timeout_ms(f->srv.ep);
    assert_true(t >= 0); /* the new connection has timers */
}

/* The process is paused (scheduled out, here a sleep) while the answer to the client's request
 * waits in its socket and its PTO expires: the next run_once reads the answer before it runs any
 * timer, so no PTO fires on state that is already stale. */
static void test_paused_client_reads_before_timers(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    base_cfg(&sc, 1);
    base_cfg(&cc, 0);
    connect_pair(f, &sc, &cc);
    loopfx_download(f, 1000, 5000);
    tern_conn_stats cs, ss;
    tern_conn_get_stats(f->cli.conn, &cs);
    tern_conn_get_stats(f->srv.conn, &ss);
    /* the answer's stream bytes, not any packet: a path MTU probe may leave first */
    uint64_t ptos = cs.pto_count, srv_sent = ss.stream_bytes_sent;

    loopfx_request(f, 100);
    assert_int_equal(tern_endpoint_run_once(f->cli.ep, 0), 0); /* the request leaves */
    for (int i = 0; i < 500 && ss.stream_bytes_sent == srv_sent; i++) {
        assert_int_equal(tern_endpoint_run_once(f->srv.ep, 10), 0);
        tern_conn_get_stats(f->srv.conn, &ss);
    }
    assert_true(ss.stream_bytes_sent > srv_sent); /* the answer is on its way */
    for (int i = 0; i < 3; i++)
        assert_int_equal(tern_endpoint_run_once(f->srv.ep, 0), 0);
    assert_int_equal(f->cli.got, 0);
    /* far past the client's PTO (the handshake's round trips and the 25 ms ack delay) */
    tern_conn_get_stats(f->cli.conn, &cs);
    uint64_t pause_ms = 3 * (cs.srtt_ns + 4 * cs.rttvar_ns) / LOOPFX_MS + 200;
    usleep((useconds_t)(pause_ms * 1000));
    assert_true(tern_endpoint_timeout_ms(f->cli.ep) == 0); /* a timer expired meanwhile */

    assert_int_equal(tern_endpoint_run_once(f->cli.ep, 0), 0);
    assert_int_equal(f->cli.got, 100);
    tern_conn_get_stats(f->cli.conn, &cs);
    assert_int_equal(cs.pto_count, ptos);
}

static void test_bad_config(void **st)
{
    tern_config c;
    tern_endpoint *ep = NULL;
    tern_config_init(&c);
    assert_int_equal(tern_endpoint_new(&c, NULL, NULL, &ep), TERN_ERR_CONFIG); /* no ALPN */
    assert_null(ep);
    base_cfg(&c, 0);
    c.max_udp_payload = 1000;
    assert_int_equal(tern_endpoint_new(&c, NULL, NULL, &ep), TERN_ERR_CONFIG);
    base_cfg(&c, 1);
    c.cert_file = "/nonexistent/cert.pem";
    assert_int_equal(tern_endpoint_new(&c, NULL, NULL, &ep), TERN_ERR_CERT);
    assert_int_equal(tern_endpoint_new(NULL, NULL, NULL, &ep), TERN_ERR_INVALID_ARG);

    /* a client-only endpoint cannot listen; the config is a deep copy */
    char alpn[16] = "tmp";
    const char *list[] = {alpn};
    base_cfg(&c, 0);
    c.alpn = list;
    assert_int_equal(tern_endpoint_new(&c, NULL, NULL, &ep), 0);
    strcpy(alpn, "XXX");
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, "127.0.0.1:0", 0), 0);
    assert_int_equal(tern_endpoint_listen(ep, &a), TERN_ERR_CONFIG);
    assert_int_equal(tern_endpoint_local_addr(ep, &a), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_endpoint_timeout_ms(ep), -1);
    assert_true(tern_endpoint_fd(ep) >= 0);
    tern_endpoint_free(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_bad_config),
        LOOPFX_TEST(test_handshake),
        LOOPFX_TEST(test_version_negotiation),
        LOOPFX_TEST(test_initial_too_small),
        LOOPFX_TEST(test_retry),
        LOOPFX_TEST(test_new_token_skips_retry),
        LOOPFX_TEST(test_wildcard_listener_v4),
        LOOPFX_TEST(test_wildcard_listener_dual_stack),
        LOOPFX_TEST(test_run_stop),
        LOOPFX_TEST(test_many_connections),
        LOOPFX_TEST(test_idle_timeout),
        LOOPFX_TEST(test_paused_client_reads_before_timers),
        LOOPFX_TEST(test_stateless_reset),
        LOOPFX_TEST(test_client_stateless_reset),
        LOOPFX_TEST(test_client_stateless_reset_other_key),
        LOOPFX_TEST(test_parallel_streams),
        LOOPFX_TEST(test_key_update_client),
        LOOPFX_TEST(test_key_update_server),
        LOOPFX_TEST(test_transfer_100mb),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
