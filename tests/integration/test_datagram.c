/* Unreliable datagrams (RFC 9221) between two sans-I/O connections in virtual time: datagrams
 * delivered intact (each checked against its tag's byte pattern, and a content hash over all of
 * them), echoed from inside the receive callback, every sent one reported acknowledged or lost
 * exactly once (also on a lossy link, where the DATAGRAM frames on the wire are counted in qlog:
 * none is sent twice), the congestion window limiting them, the error codes of the API, DATAGRAM
 * frames refused with PROTOCOL_VIOLATION on the wire, and the memory a flood makes either side
 * hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "allochook.h"
#include "conn_test.h"
#include "datagram.h"
#include "dgramfx.h"
#include "pair.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define MAXTAG 8192

typedef struct side {
    int connected;
    uint64_t recv, recv_bytes, recv_hash; /* hash: sum of each datagram's FNV-1a, order-free */
    uint8_t seen[MAXTAG];                 /* times each tag arrived */
    int bad;                              /* a datagram's bytes did not match its tag */
    int echo;                             /* send every datagram back with its tag */
    int echo_rv;                          /* the first echo that failed */
    uint64_t acked, lost;
    uint8_t outcome[MAXTAG]; /* 0 none, 1 acked, 2 lost; 3 reported twice */
    uint64_t sent, sent_hash;
    uint64_t qlog_dgram_frames; /* DATAGRAM frames in packet_sent records */
    int close_on_outcome;       /* the first outcome reported closes the connection */
} side;

static side cli, srv;

static size_t len_of(uint64_t tag)
{
    return 8 + (size_t)(tag * 37 % 1100);
}

static void on_dgram(tern_conn *c, const uint8_t *data, size_t len, void *ud)
{
    side *s = ud;
    s->recv++;
    s->recv_bytes += len;
    s->recv_hash += dgramfx_hash(data, len);
    uint64_t tag = 0;
    if (!dgramfx_parse(data, len, &tag))
        s->bad = 1;
    else if (tag < MAXTAG)
        s->seen[tag]++;
    if (s->echo) {
        int rv = tern_conn_send_datagram(c, data, len, tag);
        if (rv && !s->echo_rv)
            s->echo_rv = rv;
        s->sent += rv == 0;
    }
}

static void outcome(tern_conn *c, side *s, uint64_t tag, int what)
{
    if (s->close_on_outcome)
        assert_int_equal(tern_conn_close(c, 7, "enough"), 0);
    if (tag >= MAXTAG)
        return;
    s->outcome[tag] = s->outcome[tag] ? 3 : (uint8_t)what;
}

static void on_acked(tern_conn *c, uint64_t tag, void *ud)
{
    side *s = ud;
    s->acked++;
    outcome(c, s, tag, 1);
}

static void on_lost(tern_conn *c, uint64_t tag, void *ud)
{
    side *s = ud;
    s->lost++;
    outcome(c, s, tag, 2);
}

static void on_connected(tern_conn *c, void *ud)
{
    ((side *)ud)->connected = 1;
}

static const tern_callbacks cb = {
    .on_connected = on_connected,
    .on_datagram = on_dgram,
    .on_datagram_acked = on_acked,
    .on_datagram_lost = on_lost,
};

static void count_qlog(void *ud, tern_conn *c, const char *rec, size_t len)
{
    side *s = ud;
    if (!strstr(rec, "\"name\":\"quic:packet_sent\""))
        return;
    for (const char *q = rec; (q = strstr(q, "\"frame_type\":\"datagram\"")) != NULL; q++)
        s->qlog_dgram_frames++;
}

static int cond_connected(tern_pair *p)
{
    return cli.connected && srv.connected;
}
static int never(tern_pair *p)
{
    return 0;
}
static int cond_cli_settled(tern_pair *p)
{
    return cli.acked + cli.lost == cli.sent;
}
static int cond_both_settled(tern_pair *p)
{
    return cli.acked + cli.lost == cli.sent && srv.acked + srv.lost == srv.sent && srv.sent;
}

/* Both sides take datagrams up to `cli_max` / `srv_max` (0: not at all). */
static void setup(tern_pair *p, uint64_t seed, uint64_t cli_max, uint64_t srv_max)
{
    memset(&cli, 0, sizeof(cli));
    memset(&srv, 0, sizeof(srv));
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_c.max_datagram_frame_size = cli_max;
    p->cfg_s.max_datagram_frame_size = srv_max;
    p->client_cb = p->server_cb = &cb;
    p->client_ud = &cli;
    p->server_ud = &srv;
}

static void connect_both(tern_pair *p)
{
    assert_true(pair_run(p, cond_connected, 5 * SEC));
}

/* Sends datagrams 0..n-1 from the client, waiting for room when the queue is full. */
static void send_all(tern_pair *p, uint64_t n, uint64_t limit_ns)
{
    uint8_t buf[1500];
    uint64_t t0 = p->now;
    for (uint64_t tag = 0; tag < n;) {
        size_t len = dgramfx_make(tag, len_of(tag), buf);
        int rv = tern_conn_send_datagram(p->client, buf, len, tag);
        if (rv == TERN_ERR_WOULD_BLOCK) {
            assert_true(p->now - t0 < limit_ns);
            pair_run(p, never, MS);
            continue;
        }
        assert_int_equal(rv, 0);
        cli.sent++;
        cli.sent_hash += dgramfx_hash(buf, len);
        tag++;
    }
}

static void get_stats(tern_conn *c, tern_conn_stats *st)
{
    assert_int_equal(tern_conn_get_stats(c, st), 0);
}

/* 2000 datagrams of 8..1107 bytes, echoed by the server from inside on_datagram: every one arrives
 * intact on both sides, and every one is reported acknowledged exactly once. */
static void test_exchange_and_echo(void **st)
{
    tern_pair p;
    setup(&p, 1, 1500, 1500);
    srv.echo = 1;
    p.cfg_s.datagram_queue_bytes = 4u << 20; /* room to echo whatever arrives at once */
    p.cfg_s.datagram_queue_count = 8192;
    connect_both(&p);
    send_all(&p, 2000, 10 * SEC);
    assert_true(pair_run(&p, cond_both_settled, 5 * SEC));
    assert_int_equal(srv.bad, 0);
    assert_int_equal(cli.bad, 0);
    assert_int_equal(srv.echo_rv, 0);
    assert_int_equal(srv.recv, 2000);
    assert_int_equal(srv.recv_hash, cli.sent_hash);
    assert_int_equal(cli.recv, 2000);
    assert_int_equal(cli.recv_hash, cli.sent_hash);
    for (int t = 0; t < 2000; t++) {
        assert_int_equal(srv.seen[t], 1);
        assert_int_equal(cli.seen[t], 1);
        assert_int_equal(cli.outcome[t], 1);
        assert_int_equal(srv.outcome[t], 1);
    }
    assert_int_equal(cli.acked, 2000);
    assert_int_equal(cli.lost, 0);
    tern_conn_stats sc, ss;
    get_stats(p.client, &sc);
    get_stats(p.server, &ss);
    assert_int_equal(sc.datagrams_sent, 2000);
    assert_int_equal(sc.datagrams_acked, 2000);
    assert_int_equal(sc.datagrams_recv, 2000);
    assert_int_equal(ss.datagrams_recv, 2000);
    assert_int_equal(ss.datagrams_sent, 2000);
    assert_int_equal(sc.datagrams_lost + sc.datagrams_dropped, 0);
    pair_free(&p);
}

/* 10% loss each way: each datagram is sent once (DATAGRAM frames in the client's qlog), has
 * exactly one outcome, acked + lost == sent in the callbacks and the stats, and every one
 * reported acknowledged did arrive. */
static void test_loss_accounting(void **st)
{
    tern_pair p;
    setup(&p, 2, 1500, 1500);
    p.cfg_c.qlog = count_qlog;
    p.cfg_c.qlog_ud = &cli;
    connect_both(&p);
    p.c2s.loss = p.s2c.loss = 0.1;
    send_all(&p, 3000, 30 * SEC);
    assert_true(pair_run(&p, cond_cli_settled, 10 * SEC));
    assert_int_equal(srv.bad, 0);
    assert_int_equal(cli.acked + cli.lost, 3000);
    assert_true(cli.lost > 100); /* the link lost some */
    assert_true(cli.acked > 2000);
    uint64_t arrived = 0;
    for (int t = 0; t < 3000; t++) {
        assert_true(cli.outcome[t] == 1 || cli.outcome[t] == 2);
        assert_true(srv.seen[t] <= 1); /* never retransmitted */
        arrived += srv.seen[t];
        if (cli.outcome[t] == 1)
            assert_int_equal(srv.seen[t], 1);
    }
    assert_int_equal(arrived, srv.recv);
    assert_true(srv.recv >= cli.acked && srv.recv < 3000);
    assert_int_equal(cli.qlog_dgram_frames, 3000);
    tern_conn_stats sc;
    get_stats(p.client, &sc);
    assert_int_equal(sc.datagrams_sent, 3000);
    assert_int_equal(sc.datagrams_acked, cli.acked);
    assert_int_equal(sc.datagrams_lost, cli.lost);
    assert_int_equal(sc.datagrams_dropped, 0);
    pair_free(&p);
}

/* With nothing acknowledged (the way back is dead), datagrams stop at the congestion window: they
 * are in flight like any ack-eliciting packet; they go on once acknowledgements come back. */
static void test_congestion_window(void **st)
{
    tern_pair p;
    setup(&p, 3, 1500, 1500);
    p.cfg_c.idle_timeout_ms = 0;
    connect_both(&p);
    pair_run(&p, never, 100 * MS);
    p.s2c.blackhole = 1;
    uint8_t buf[1500];
    for (uint64_t tag = 0; tag < 60; tag++) {
        dgramfx_make(tag, 1000, buf);
        assert_int_equal(tern_conn_send_datagram(p.client, buf, 1000, tag), 0);
        cli.sent++;
    }
    pair_run(&p, never, 50 * MS);
    tern_conn_stats sc;
    get_stats(p.client, &sc);
    assert_true(sc.datagrams_sent > 0 && sc.datagrams_sent < 60);
    assert_true(sc.bytes_in_flight >= sc.datagrams_sent * 1000);
    assert_true(sc.bytes_in_flight <= sc.cwnd + 1500);
    assert_int_equal(cli.acked + cli.lost, 0);
    p.s2c.blackhole = 0;
    assert_true(pair_run(&p, cond_cli_settled, 20 * SEC));
    get_stats(p.client, &sc);
    assert_int_equal(sc.datagrams_sent, 60);
    /* the acknowledgements that came after cover what the lost ones did */
    assert_int_equal(sc.datagrams_acked + sc.datagrams_lost, 60);
    assert_int_equal(srv.recv, 60);
    pair_free(&p);
}

/* The datagram size of c's active path now. */
static size_t path_mtu(tern_conn *c)
{
    tern_path_info pi;
    size_t n = 0;
    assert_int_equal(tern_conn_paths(c, &pi, 1, &n), 0);
    assert_int_equal(n, 1);
    return (size_t)pi.mtu;
}

static void test_errors(void **st)
{
    tern_pair p;
    uint8_t buf[70000];
    memset(buf, 1, sizeof(buf));
    /* the peer takes none */
    setup(&p, 4, 1500, 0);
    assert_int_equal(tern_conn_send_datagram(NULL, buf, 1, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_datagram_max_size(NULL), 0);
    pair_run(&p, never, 1 * MS); /* creates the client: the server's parameters are not known */
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 1, 0), TERN_ERR_DATAGRAM_UNSUPPORTED);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 0);
    connect_both(&p);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 1, 0), TERN_ERR_DATAGRAM_UNSUPPORTED);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 0, 0), TERN_ERR_DATAGRAM_UNSUPPORTED);
    /* the client takes them: the server may send */
    /* the path's limit, below */
    assert_int_equal(tern_conn_datagram_max_size(p.server), path_mtu(p.server) - 32);
    assert_int_equal(tern_conn_send_datagram(p.client, NULL, 5, 0), TERN_ERR_INVALID_ARG);
    pair_free(&p);

    /* the peer's limit: a 100-byte frame holds 97 bytes (a 2-byte Length) */
    setup(&p, 5, 0, 100);
    connect_both(&p);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 97);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 98, 0), TERN_ERR_DATAGRAM_TOO_LARGE);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 97, 0), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 0, 1), 0);
    pair_run(&p, never, 100 * MS);
    assert_int_equal(srv.recv, 2);
    pair_free(&p);

    /* the path's limit: its datagram size (1200 until path MTU discovery raised it), 8-byte CIDs:
     * mtu - 1 - 8 - 4 - 16 - 1 - 2 */
    setup(&p, 6, 0, 65535);
    connect_both(&p);
    size_t m = tern_conn_datagram_max_size(p.client);
    assert_true(path_mtu(p.client) >= 1200);
    assert_int_equal(m, path_mtu(p.client) - 32);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, m + 1, 0), TERN_ERR_DATAGRAM_TOO_LARGE);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, m, 7), 0);
    /* a length no DATAGRAM frame can carry (past 2^62): refused before its bytes are read */
    assert_int_equal(tern_conn_send_datagram(p.client, buf, SIZE_MAX, 8),
                     TERN_ERR_DATAGRAM_TOO_LARGE);
    cli.sent = 1;
    assert_true(pair_run(&p, cond_cli_settled, SEC));
    assert_int_equal(cli.outcome[7], 1);
    assert_int_equal(srv.recv_bytes, m);

    /* the queue's bounds: count, then bytes */
    assert_int_equal(tern_conn_close(p.client, 0, NULL), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 1, 0), TERN_ERR_CLOSED);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 0);
    pair_free(&p);

    setup(&p, 7, 0, 65535);
    p.cfg_c.datagram_queue_count = 3;
    p.cfg_c.datagram_queue_bytes = 1000;
    connect_both(&p);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 1000); /* the queue is smaller */
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 1001, 0), TERN_ERR_DATAGRAM_TOO_LARGE);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tern_conn_send_datagram(p.client, buf, 10, (uint64_t)i), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 10, 3), TERN_ERR_WOULD_BLOCK);
    pair_run(&p, never, 100 * MS);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 600, 4), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 600, 5), TERN_ERR_WOULD_BLOCK);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 400, 5), 0);
    /* 1000 bytes queued: not one more, even empty */
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 1, 6), TERN_ERR_WOULD_BLOCK);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, 0, 6), TERN_ERR_WOULD_BLOCK);
    pair_free(&p);

    /* a configuration without room for a single datagram entry */
    setup(&p, 8, 0, 0);
    p.cfg_c.datagram_queue_count = 0;
    assert_int_equal(pair_run(&p, never, MS), 0);
    assert_null(p.client);
    pair_free(&p);
}

/* A client whose queue holds `count` datagrams, dropping the oldest when full, connected to a
 * server that takes datagrams. */
static void setup_drop_oldest(tern_pair *p, uint64_t seed, size_t count)
{
    setup(p, seed, 0, 1500);
    p->cfg_c.datagram_queue_count = count;
    p->cfg_c.datagram_drop_oldest = 1;
    connect_both(p);
}

/* datagram_drop_oldest: a full queue makes room by dropping its oldest datagrams, each reported
 * lost (after the call, at the connection's next processing) and counted as dropped. */
static void test_drop_oldest(void **st)
{
    tern_pair p;
    uint8_t buf[1500];
    setup_drop_oldest(&p, 9, 4);
    for (uint64_t t = 0; t < 10; t++) {
        size_t len = dgramfx_make(t, 100, buf);
        assert_int_equal(tern_conn_send_datagram(p.client, buf, len, t), 0);
        cli.sent++;
    }
    assert_int_equal(cli.lost, 0);                         /* not from inside the call */
    assert_int_equal(tern_conn_next_timeout(p.client), 0); /* due at once to report them */
    assert_true(pair_run(&p, cond_cli_settled, SEC));
    for (uint64_t t = 0; t < 6; t++) {
        assert_int_equal(cli.outcome[t], 2);
        assert_int_equal(srv.seen[t], 0);
    }
    for (uint64_t t = 6; t < 10; t++) {
        assert_int_equal(cli.outcome[t], 1);
        assert_int_equal(srv.seen[t], 1);
    }
    tern_conn_stats sc;
    get_stats(p.client, &sc);
    assert_int_equal(sc.datagrams_dropped, 6);
    assert_int_equal(sc.datagrams_sent, 4);
    assert_int_equal(sc.datagrams_acked, 4);
    assert_int_equal(sc.datagrams_lost, 0);
    pair_free(&p);
}

/* Queued datagrams that no longer fit when their turn comes (the peer's limit shrank, or the
 * connection moved to a path with a smaller MTU) are dropped and reported lost instead of
 * blocking those behind them. */
static void test_no_longer_fits(void **st)
{
    tern_pair p;
    uint8_t buf[1500];
    setup(&p, 17, 0, 1500);
    connect_both(&p);
    for (uint64_t t = 0; t < 4; t++) {
        size_t len = dgramfx_make(t, t % 2 ? 100 : 500, buf);
        assert_int_equal(tern_conn_send_datagram(p.client, buf, len, t), 0);
        cli.sent++;
    }
    tern_conn_dgram_set_peer_max(p.client, 300);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 297);
    assert_true(pair_run(&p, cond_cli_settled, SEC));
    assert_int_equal(cli.outcome[0], 2);
    assert_int_equal(cli.outcome[1], 1);
    assert_int_equal(cli.outcome[2], 2);
    assert_int_equal(cli.outcome[3], 1);
    assert_int_equal(srv.recv, 2);
    tern_conn_stats sc;
    get_stats(p.client, &sc);
    assert_int_equal(sc.datagrams_dropped, 2);
    assert_int_equal(sc.datagrams_sent, 2);
    pair_free(&p);
}

/* The queue's memory, allocated at the first send, may be missing: that send fails with
 * TERN_ERR_NOMEM and the next one succeeds. */
static void test_queue_nomem(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_pair p;
    uint8_t buf[100];
    setup(&p, 18, 0, 1500);
    connect_both(&p);
    dgramfx_make(1, sizeof(buf), buf);
    allochook_fail_next = 1;
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1), TERN_ERR_NOMEM);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1), 0);
    cli.sent = 1;
    assert_true(pair_run(&p, cond_cli_settled, SEC));
    assert_int_equal(cli.outcome[1], 1);
    assert_int_equal(srv.seen[1], 1);
    pair_free(&p);
}

/* Drop-oldest with a callback that closes the connection at the first outcome: nothing more is
 * reported once it closes, and nothing stays due. And an outcome that finds no memory to wait
 * in is missed by the callbacks only: the counters stay right. */
static void test_outcomes_close_and_nomem(void **st)
{
    tern_pair p;
    uint8_t buf[100];
    setup_drop_oldest(&p, 19, 2);
    dgramfx_make(0, sizeof(buf), buf);
    for (uint64_t t = 0; t < 6; t++)
        assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), t), 0);
    cli.close_on_outcome = 1;
    pair_run(&p, never, 10 * MS);
    assert_int_equal(cli.lost, 1); /* 4 dropped, one reported, then closed */
    assert_int_equal(cli.outcome[0], 2);
    assert_true(tern_conn_next_timeout(p.client) != 0);
    pair_free(&p);

    if (!ALLOCHOOK_ACTIVE)
        return;
    setup_drop_oldest(&p, 20, 2);
    for (uint64_t t = 0; t < 2; t++)
        assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), t), 0);
    allochook_fail_next = 1; /* the first outcome's list */
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 2), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 3), 0);
    cli.sent = 3; /* the outcomes to be reported: 1 lost, 2 and 3 acknowledged */
    assert_true(pair_run(&p, cond_cli_settled, SEC));
    assert_int_equal(cli.outcome[0], 0); /* its report found no memory */
    assert_int_equal(cli.outcome[1], 2);
    tern_conn_stats sc;
    get_stats(p.client, &sc);
    assert_int_equal(sc.datagrams_dropped, 2);
    assert_int_equal(sc.datagrams_acked, 2);
    pair_free(&p);
}

static int download_connected(tern_pair *p)
{
    return p->connected && p->server && tern_conn_is_established(p->server);
}

/* A DATAGRAM frame the receiver did not ask for, or larger than it allowed, closes the connection
 * with PROTOCOL_VIOLATION naming the frame type, as the peer sees on the wire. */
static void expect_violation(uint64_t seed, uint64_t srv_max, const uint8_t *frame, size_t n,
                             uint64_t ftype)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.cfg_s.max_datagram_frame_size = srv_max;
    assert_true(pair_run(&p, download_connected, 5 * SEC));
    assert_int_equal(pair_inject_1rtt(&p, 1, frame, n), TERN_ERR_CLOSED);
    const tern_close_info *ci = tern_conn_close_info(p.server);
    assert_int_equal(ci->local, 1);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->frame_type, ftype);
    pair_run(&p, never, 100 * MS);
    ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->local, 0);
    assert_int_equal(ci->app, 0);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->frame_type, ftype);
    pair_free(&p);
}

static void test_refused_frames(void **st)
{
    static const uint8_t small_len[] = {0x31, 0x03, 'a', 'b', 'c'};
    static const uint8_t small[] = {0x30, 'a', 'b', 'c'};
    expect_violation(10, 0, small_len, sizeof(small_len), 0x31);
    expect_violation(11, 0, small, sizeof(small), 0x30);
    /* a 100-byte limit: 101 bytes of frame are too many, in either form */
    uint8_t big[120];
    memset(big, 'x', sizeof(big));
    big[0] = 0x31;
    big[1] = 0x40;
    big[2] = 98;
    expect_violation(12, 100, big, 101, 0x31);
    big[0] = 0x30;
    expect_violation(13, 100, big, 101, 0x30);
    /* exactly 100 bytes are fine */
    tern_pair p;
    assert_int_equal(pair_init(&p, 14), 0);
    p.cfg_s.max_datagram_frame_size = 100;
    assert_true(pair_run(&p, download_connected, 5 * SEC));
    big[0] = 0x31;
    big[1] = 0x40;
    big[2] = 97;
    assert_int_equal(pair_inject_1rtt(&p, 1, big, 100), 0);
    big[0] = 0x30;
    assert_int_equal(pair_inject_1rtt(&p, 1, big, 100), 0);
    tern_conn_stats ss;
    get_stats(p.server, &ss);
    assert_int_equal(ss.datagrams_recv, 2);
    assert_int_equal(tern_conn_state(p.server), tern_conn_state(p.client));
    pair_free(&p);
}

/* Floods. The application: 100000 sends in a row hold at most the queue's bounds, in exactly two
 * allocations (made at the first send). The peer: 20000 datagrams received make the receiver
 * allocate nothing per datagram (each is handed over from the packet and forgotten). */
static void test_flood_memory(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_pair p;
    uint8_t buf[1500];
    setup(&p, 15, 1500, 1500);
    connect_both(&p);
    memset(buf, 3, sizeof(buf));
    unsigned long long a0 = allochook_count;
    int ok = 0;
    for (int i = 0; i < 100000; i++)
        ok += tern_conn_send_datagram(p.client, buf, 1000, (uint64_t)i) == 0;
    unsigned long long allocs = allochook_count - a0;
    tern_conn_stats sc;
    get_stats(p.client, &sc);
    assert_int_equal(ok, 65); /* 65536 bytes of queue hold 65 datagrams of 1000 bytes */
    assert_int_equal(allocs, 2);
    print_message("app flood: %d of 100000 queued, %llu allocations\n", ok, allocs);
    pair_free(&p);

    setup(&p, 16, 1500, 1500);
    connect_both(&p);
    pair_run(&p, never, 100 * MS);
    /* warm up: the first datagrams allocate the client's queue and its outcome list */
    cli.sent = 0;
    send_all(&p, 200, 5 * SEC);
    assert_true(pair_run(&p, cond_cli_settled, 2 * SEC));
    a0 = allochook_count;
    uint64_t before = srv.recv;
    send_all(&p, 20000, 60 * SEC);
    assert_true(pair_run(&p, cond_cli_settled, 5 * SEC));
    allocs = allochook_count - a0;
    print_message("peer flood: %llu datagrams received, %llu allocations in all\n",
                  (unsigned long long)(srv.recv - before), allocs);
    assert_int_equal(srv.recv - before, 20000);
    assert_true(allocs < 64); /* the link's queues and the outcome list growing, not per datagram */
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_and_echo), cmocka_unit_test(test_loss_accounting),
        cmocka_unit_test(test_congestion_window), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_drop_oldest),       cmocka_unit_test(test_refused_frames),
        cmocka_unit_test(test_flood_memory),      cmocka_unit_test(test_no_longer_fits),
        cmocka_unit_test(test_queue_nomem),       cmocka_unit_test(test_outcomes_close_and_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
