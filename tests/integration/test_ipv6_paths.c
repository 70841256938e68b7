/* A connection over IPv6 end to end, in virtual time: the handshake and a download, qlog's
 * endpoints written as IPv6 (ip_v6/port_v6), a client socket bound to the IPv6 wildcard address
 * whose datagrams arrive addressed to a concrete IP (its path matches them on the port only), a
 * move to another port of the same IP (RTT and congestion state kept, RFC 9000 §9.4) and one to
 * another IPv6 address (both reset), each validated and followed by the server, and a server's
 * preferred address: followed when it is IPv6, ignored when IPv4 only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "forge.h"
#include "frame.h"
#include "migration.h"
#include "pair.h"

#define SEC 1000000000ull
#define MS 1000000ull

typedef struct qlog_buf {
    char text[1 << 19];
    size_t n;
} qlog_buf;

static qlog_buf qc, qs;

static void keep(qlog_buf *b, const char *r, size_t len)
{
    if (b->n + len + 1 > sizeof(b->text))
        b->n = 0;
    memcpy(b->text + b->n, r, len);
    b->n += len;
    b->text[b->n] = 0;
}
static void rec_client(void *ud, tern_conn *c, const char *r, size_t len)
{
    (void)ud;
    (void)c;
    keep(&qc, r, len);
}
static void rec_server(void *ud, tern_conn *c, const char *r, size_t len)
{
    (void)ud;
    (void)c;
    keep(&qs, r, len);
}

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static void start_v6(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->path_c.local = addr("[fd00::1]:5000");
    p->path_c.remote = addr("[fd00::2]:443");
    p->path_s.local = p->path_c.remote;
    p->path_s.remote = p->path_c.local;
}

/* The handshake, a download, and both sides' qlog naming the IPv6 endpoints of the first path. */
static void test_handshake_and_qlog(void **st)
{
    (void)st;
    qc.n = qs.n = 0;
    tern_pair p;
    start_v6(&p, 6001);
    p.cfg_c.qlog = rec_client;
    p.cfg_s.qlog = rec_server;
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, 40000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_non_null(strstr(qc.text, "\"ip_v6\":\"fd00::1\",\"port_v6\":5000"));
    assert_non_null(strstr(qc.text, "\"ip_v6\":\"fd00::2\",\"port_v6\":443"));
    assert_non_null(strstr(qs.text, "\"ip_v6\":\"fd00::1\",\"port_v6\":5000"));
    assert_null(strstr(qc.text, "\"ip_v4\""));
    assert_null(strstr(qs.text, "\"ip_v4\""));
    pair_free(&p);
}

/* A client socket bound to [::]:5000 sees the server's datagrams addressed to the IP they left
 * from: they belong to its path on the same port, not on another. */
static void test_wildcard_bound_client(void **st)
{
    (void)st;
    tern_pair p;
    start_v6(&p, 6002);
    assert_int_equal(pair_check_wildcard_local(&p, "[::]:5000", "[fd00::1]:5000", "[fd00::1]:5001",
                                               30000),
                     0);
    pair_free(&p);
}

static int moved_and_done(tern_pair *p)
{
    return pair_cond_all_done(p) && tern_conn_active_path(p->client)->path_validated;
}

/* Moving to another port of the same IPv6 address keeps what was learnt of the path; moving to
 * another IPv6 address starts again from the initial window. Each time the server follows. */
static void test_port_then_address_move(void **st)
{
    (void)st;
    tern_pair p;
    start_v6(&p, 6003);
    p.c2s.delay_ns = p.s2c.delay_ns = 30 * MS;
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, 200000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    pair_run(&p, never, 100 * MS);
    const tern_path *old = tern_conn_active_path(p.client);
    uint64_t cwnd = old->cc.cwnd;
    assert_true(cwnd > 0);
    assert_true(old->rtt.has_sample);

    tern_addr port = addr("[fd00::1]:5001");
    int idx = tern_conn_path_set_active(p.client, &port, p.now);
    assert_true(idx > 0);
    const tern_path *np = tern_conn_path_at(p.client, idx);
    assert_true(np->rtt.has_sample); /* kept: same network */
    assert_true(np->rtt.smoothed > 50 * MS && np->rtt.smoothed < 80 * MS);
    assert_int_equal(np->cc.cwnd, cwnd);
    assert_true(pair_request(&p, 20000) >= 0);
    assert_true(pair_run(&p, moved_and_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &port));

    tern_addr other = addr("[fd00::3]:5000");
    idx = tern_conn_path_set_active(p.client, &other, p.now);
    assert_true(idx > 0);
    np = tern_conn_path_at(p.client, idx);
    assert_false(np->rtt.has_sample); /* another address: learnt afresh */
    assert_true(pair_request(&p, 20000) >= 0);
    assert_true(pair_run(&p, moved_and_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &other));
    assert_true(tern_conn_path_at(p.client, idx)->path_validated);
    pair_free(&p);
}

static int confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}

/* RFC 9000 §9.6: a server's IPv6 preferred address is where an IPv6 client moves once the
 * handshake is confirmed (the address a client on IPv4 would ignore); an IPv4-only one is ignored
 * by a client on IPv6. */
static void follows_preferred(const char *preferred, int moves, uint64_t seed)
{
    tern_pair p;
    start_v6(&p, seed);
    p.cfg_s.preferred_address = addr(preferred);
    assert_true(pair_run(&p, confirmed, 10 * SEC));
    pair_run(&p, never, 2 * SEC);
    tern_addr want = moves ? addr(preferred) : p.path_c.remote;
    assert_true(tern_addr_equal(&tern_conn_active_path(p.client)->addr.remote, &want));
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED] > 0, moves);
    assert_true(pair_request(&p, 100000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_addr_equal(&tern_conn_active_path(p.client)->addr.remote, &want));
    pair_free(&p);
}

static void test_preferred_address(void **st)
{
    (void)st;
    follows_preferred("[fd00::9]:4433", 1, 6004);
    follows_preferred("192.0.2.9:4433", 0, 6005);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_qlog),
        cmocka_unit_test(test_wildcard_bound_client),
        cmocka_unit_test(test_port_then_address_move),
        cmocka_unit_test(test_preferred_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
