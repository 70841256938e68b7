/* Transport behaviour of a client and a server core joined in virtual time: handshake, downloads,
 * loss, duplication, reordering, key update, many streams, idle timeout, amplification limit. Every
 * download is checked byte for byte and by SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define SEC 1000000000ull

static void test_handshake(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_string_equal(tern_conn_alpn(p.client), "hq-interop");
    assert_true(tern_conn_is_established(p.client));
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_conn_handshake_confirmed(p.client));
    assert_true(tern_conn_handshake_confirmed(p.server));
    /* Initial and Handshake keys are gone on both sides */
    assert_int_equal(tern_conn_tx_keys(p.client, TERN_LEVEL_INITIAL)->aead, 0);
    assert_int_equal(tern_conn_tx_keys(p.client, TERN_LEVEL_HANDSHAKE)->aead, 0);
    assert_int_equal(tern_conn_tx_keys(p.server, TERN_LEVEL_HANDSHAKE)->aead, 0);
    /* about two round trips of 20 ms for handshake + request */
    tern_conn_stats cs;
    tern_conn_get_stats(p.client, &cs);
    assert_true(cs.srtt_ns >= 19000000ull && cs.srtt_ns < 40000000ull);
    pair_free(&p);
}

static void test_download_1mb(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 2), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 1 << 20), 0);
    uint64_t t0 = p.now;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    /* no loss, 20 ms RTT, unlimited rate: slow start finishes 1 MiB in well under a second */
    assert_true(p.now - t0 < SEC / 2);
    assert_int_equal(
        tern_conn_recovery(p.client)->pkts_lost + tern_conn_recovery(p.server)->pkts_lost, 0);
    pair_free(&p);
}

static void run_handshake_loss(double loss, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.c2s.loss = p.s2c.loss = loss;
    int ok = pair_run(&p, pair_cond_connected, 60 * SEC);
    if (!ok)
        fprintf(stderr, "handshake failed at loss %.2f seed %llu\n", loss, (unsigned long long)seed);
    assert_true(ok);
    assert_int_equal(pair_request(&p, 50000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 120 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_handshake_loss_10(void **st)
{
    for (uint64_t s = 10; s < 20; s++)
        run_handshake_loss(0.10, s);
}

static void test_handshake_loss_30(void **st)
{
    for (uint64_t s = 30; s < 40; s++)
        run_handshake_loss(0.30, s);
}

static void test_first_flight_lost(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 3), 0);
    static const int drop0[] = {0};
    p.c2s.drop_idx = drop0;
    p.c2s.drop_n = 1;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    /* the first PTO is 3 x 333 ms after the lost Initial: well before two seconds */
    assert_true(p.now < 1000000000ull + 2 * SEC);
    pair_free(&p);
}

static void test_loss_dup_reorder(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 4), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    p.c2s.loss = p.s2c.loss = 0.05;
    p.c2s.dup = p.s2c.dup = 0.02;
    p.c2s.reorder = p.s2c.reorder = 0.05;
    p.c2s.reorder_ns = p.s2c.reorder_ns = 15000000ull;
    assert_int_equal(pair_request(&p, 3 << 20), 0);
    assert_int_equal(pair_request(&p, 1 << 20), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 120 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_conn_recovery(p.server)->pkts_lost > 0);
    pair_free(&p);
}

static void test_many_streams(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 5), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    for (int i = 0; i < 20; i++)
        assert_int_equal(pair_request(&p, 100000 + (uint64_t)i * 1000), i);
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_key_update(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 6), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    p.key_update_at = 500000;
    p.s2c.loss = 0.02;
    assert_int_equal(pair_request(&p, 4 << 20), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    assert_true(p.key_update_done);
    assert_true(tern_conn_key_updates(p.client) >= 1);
    assert_true(tern_conn_key_updates(p.server) >= 1);
    assert_int_equal(tern_conn_tx_phase(p.client), 1);
    assert_int_equal(tern_conn_rx_phase(p.server), 1);
    pair_free(&p);
}

static int cond_got_300k(tern_pair *p) { return p->streams[0].got >= 300000; }

static void test_server_initiated_key_update(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 7), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 2 << 20), 0);
    /* let some data flow, then rotate from the server side */
    assert_true(pair_run(&p, cond_got_300k, 10 * SEC));
    assert_int_equal(tern_conn_key_update(p.server), 0);
    /* a second update before the first is acknowledged is refused */
    assert_int_equal(tern_conn_key_update(p.server), TERN_ERR_STREAM_STATE);
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(tern_conn_rx_phase(p.client), 1);
    assert_int_equal(tern_conn_tx_phase(p.client), 1);
    pair_free(&p);
}

static void test_idle_timeout(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 8), 0);
    p.cfg_c.idle_timeout_ms = 2000;
    p.cfg_s.idle_timeout_ms = 5000;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    uint64_t t0 = p.now;
    assert_true(pair_run(&p, pair_cond_both_closed, 30 * SEC));
    /* the smaller of the two idle timeouts applies to both */
    assert_true(p.now - t0 >= 2 * SEC - 100000000ull && p.now - t0 < 3 * SEC);
    assert_int_equal(tern_conn_close_info(p.client)->status, TERN_ERR_IDLE_TIMEOUT);
    assert_int_equal(tern_conn_close_info(p.server)->status, TERN_ERR_IDLE_TIMEOUT);
    pair_free(&p);
}

static void test_amplification_limit(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 9), 0);
    /* every client datagram after the first is lost for a while: the server must stay within
     * three times what it received while it cannot validate the client */
    static const int drops[] = {1, 2, 3, 4};
    p.c2s.drop_idx = drops;
    p.c2s.drop_n = 4;
    p.s2c.loss = 0.3;
    assert_true(pair_run(&p, pair_cond_connected, 60 * SEC));
    assert_int_equal(p.max_amp_violation, 0);
    /* the limit was reached: the server sent exactly 3x before the client got through */
    assert_true(p.amp_blocked_seen);
    pair_free(&p);
}

static int cond_confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}

static void test_app_close(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 11), 0);
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    assert_int_equal(tern_conn_close(p.client, 0x42, "bye"), 0);
    assert_int_equal(tern_conn_close(p.client, 0x42, "bye"), TERN_ERR_CLOSED);
    assert_true(pair_run(&p, pair_cond_both_closed, 10 * SEC));
    const tern_close_info *si = tern_conn_close_info(p.server);
    assert_int_equal(si->app, 1);
    assert_int_equal(si->local, 0);
    assert_int_equal(si->error_code, 0x42);
    assert_string_equal(si->reason, "bye");
    pair_free(&p);
}

static void test_close_before_confirmation(void **st)
{
    /* an application close before the handshake is confirmed also goes out in Handshake packets,
     * where it must become a transport APPLICATION_ERROR without the reason (RFC 9000 §10.2.3) */
    tern_pair p;
    assert_int_equal(pair_init(&p, 13), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_false(tern_conn_handshake_confirmed(p.client));
    assert_int_equal(tern_conn_close(p.client, 0x42, "secret"), 0);
    assert_true(pair_run(&p, pair_cond_both_closed, 10 * SEC));
    const tern_close_info *si = tern_conn_close_info(p.server);
    assert_int_equal(si->local, 0);
    if (si->app) {
        assert_int_equal(si->error_code, 0x42);
    } else {
        assert_int_equal(si->error_code, TERN_TE_APPLICATION_ERROR);
        assert_string_equal(si->reason, "");
    }
    pair_free(&p);
}

static int cond_all_fin(tern_pair *p)
{
    for (int i = 0; i < p->nstreams; i++)
        if (!p->streams[i].fin)
            return 0;
    return 1;
}

static void test_app_limited_window(void **st)
{
    /* a sender that never fills its window must not grow it (RFC 9002 §7.8) */
    tern_pair p;
    assert_int_equal(pair_init(&p, 14), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    uint64_t initial = tern_conn_path_at(p.server, 0)->cc.cwnd;
    for (int i = 0; i < 60; i++) {
        assert_true(pair_request(&p, 2000) >= 0);
        assert_true(pair_run(&p, cond_all_fin, 10 * SEC));
        if (p.nstreams == PAIR_MAX_STREAMS)
            break;
    }
    assert_true(pair_verify(&p));
    assert_true(tern_conn_path_at(p.server, 0)->cc.cwnd <= initial + 2 * 1452);
    pair_free(&p);
}

static void test_client_ignores_other_address(void **st)
{
    /* datagrams that do not come from the server address the client chose are dropped */
    tern_pair p;
    assert_int_equal(pair_init(&p, 15), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 100000), 0);
    tern_addr_parse(&p.fake_server_src, "10.0.0.99", 443); /* the client now sees another source */
    assert_false(pair_run(&p, pair_cond_all_done, 2 * SEC));
    assert_int_equal(p.streams[0].got, 0);
    p.fake_server_src.len = 0;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_slow_link(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 12), 0);
    p.s2c.rate_bps = 1000000; /* 1 Mbit/s, small queue */
    p.s2c.queue_limit = 20;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 500000), 0);
    uint64_t t0 = p.now;
    assert_true(pair_run(&p, pair_cond_all_done, 120 * SEC));
    assert_true(pair_verify(&p));
    /* 4 Mbit at 1 Mbit/s: at least 4 s, and congestion control must not collapse (< 12 s) */
    assert_true(p.now - t0 >= 4 * SEC);
    assert_true(p.now - t0 < 12 * SEC);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_download_1mb),
        cmocka_unit_test(test_handshake_loss_10),
        cmocka_unit_test(test_handshake_loss_30),
        cmocka_unit_test(test_first_flight_lost),
        cmocka_unit_test(test_loss_dup_reorder),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_key_update),
        cmocka_unit_test(test_server_initiated_key_update),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_amplification_limit),
        cmocka_unit_test(test_app_close),
        cmocka_unit_test(test_close_before_confirmation),
        cmocka_unit_test(test_app_limited_window),
        cmocka_unit_test(test_client_ignores_other_address),
        cmocka_unit_test(test_slow_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
