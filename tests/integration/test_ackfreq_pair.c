/* The ACK frequency extension between two cores (draft-ietf-quic-ack-frequency): negotiation
 * through min_ack_delay, every error a receiver of ACK_FREQUENCY and IMMEDIATE_ACK must raise
 * (checked on the wire at both ends), stale sequence numbers ignored, the values applied to the
 * ACK decision, IMMEDIATE_ACK answered at once, PTO probes carrying IMMEDIATE_ACK, and a lost
 * ACK_FREQUENCY sent again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ack.h"
#include "conn_test.h"
#include "frame.h"
#include "pair.h"
#include "recovery.h"

#define SEC 1000000000ull
#define MS 1000000ull

static uint64_t next_seed = 900;

static void connect_pair(tern_pair *p, int server_ext, int client_ext)
{
    assert_int_equal(pair_init(p, next_seed++), 0);
    p->cfg_s.ack_frequency = (uint64_t)server_ext;
    p->cfg_c.ack_frequency = (uint64_t)client_ext;
    assert_true(pair_connect(p));
}

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

static int cond_client_draining(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_DRAINING;
}

/* Injects `f` into the server and expects it to close with PROTOCOL_VIOLATION for frame type
 * `ftype`, which the client must learn from the wire. */
static void expect_violation(tern_pair *p, const uint8_t *f, size_t len, uint64_t ftype)
{
    pair_inject_1rtt(p, 1, f, len);
    assert_int_equal(tern_conn_state(p->server), TERN_CS_CLOSING);
    const tern_close_info *si = tern_conn_close_info(p->server);
    assert_int_equal(si->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(si->frame_type, ftype);
    assert_true(pair_run(p, cond_client_draining, 5 * SEC));
    const tern_close_info *ci = tern_conn_close_info(p->client);
    assert_int_equal(ci->local, 0);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
}

/* min_ack_delay is advertised exactly when the extension is on, with the configured value. */
static void test_negotiation(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1, 0);
    assert_int_equal(tern_conn_peer_tparams(p.client)->has_min_ack_delay, 1);
    assert_int_equal(tern_conn_peer_tparams(p.client)->min_ack_delay_us, 1000);
    assert_int_equal(tern_conn_peer_tparams(p.server)->has_min_ack_delay, 0);
    pair_free(&p);
    assert_int_equal(pair_init(&p, next_seed++), 0);
    p.cfg_c.min_ack_delay_us = 25001; /* above the max_ack_delay advertised */
    assert_int_not_equal(pair_connect(&p), 1);
    pair_free(&p);
}

/* Without min_ack_delay advertised, either frame is a PROTOCOL_VIOLATION. */
static void test_frames_without_extension(void **st)
{
    (void)st;
    tern_pair p;
    uint8_t f[32];
    size_t n = tern_frame_write_ack_frequency(f, sizeof(f), 0, 5, 5000, 1);
    connect_pair(&p, 0, 1);
    expect_violation(&p, f, n, TERN_FT_ACK_FREQUENCY);
    pair_free(&p);
    connect_pair(&p, 0, 1);
    f[0] = TERN_FT_IMMEDIATE_ACK;
    expect_violation(&p, f, 1, TERN_FT_IMMEDIATE_ACK);
    pair_free(&p);
}

/* A Requested Max Ack Delay below our min_ack_delay (1000 us), or at 2^14 ms, is a
 * PROTOCOL_VIOLATION; exactly min_ack_delay and just below 2^14 ms are fine. */
static void test_requested_delay_bounds(void **st)
{
    (void)st;
    static const uint64_t bad[] = {0, 999, 16384000, TERN_MAX_VARINT};
    uint8_t f[40];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tern_pair p;
        connect_pair(&p, 1, 1);
        size_t n = tern_frame_write_ack_frequency(f, sizeof(f), 0, 5, bad[i], 1);
        expect_violation(&p, f, n, TERN_FT_ACK_FREQUENCY);
        pair_free(&p);
    }
    static const uint64_t good[] = {1000, 16383999};
    for (size_t i = 0; i < 2; i++) {
        tern_pair p;
        connect_pair(&p, 1, 1);
        size_t n = tern_frame_write_ack_frequency(f, sizeof(f), 0, 5, good[i], 1);
        assert_int_equal(pair_inject_1rtt(&p, 1, f, n), 0);
        assert_true(tern_conn_state(p.server) < TERN_CS_CLOSING);
        assert_int_equal(tern_conn_ack_delay(p.server), good[i] * 1000);
        pair_free(&p);
    }
}

/* The newest sequence number wins; an older one arriving later is ignored, a repeated one too. */
static void test_stale_sequence_ignored(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1, 1);
    tern_ackr *a = tern_conn_ackr(p.server, TERN_SPACE_APP);
    uint8_t f[32];
    size_t n = tern_frame_write_ack_frequency(f, sizeof(f), 5, 20, 7000, 0);
    assert_int_equal(pair_inject_1rtt(&p, 1, f, n), 0);
    assert_int_equal(tern_ackr_threshold(a), 20);
    assert_int_equal(a->reorder, 0);
    assert_int_equal(tern_conn_ack_delay(p.server), 7000 * 1000);
    n = tern_frame_write_ack_frequency(f, sizeof(f), 4, 1, 2000, 1);
    assert_int_equal(pair_inject_1rtt(&p, 1, f, n), 0);
    assert_int_equal(tern_ackr_threshold(a), 20);
    assert_int_equal(tern_conn_ack_delay(p.server), 7000 * 1000);
    n = tern_frame_write_ack_frequency(f, sizeof(f), 5, 1, 2000, 1);
    assert_int_equal(pair_inject_1rtt(&p, 1, f, n), 0);
    assert_int_equal(tern_ackr_threshold(a), 20);
    n = tern_frame_write_ack_frequency(f, sizeof(f), 9, 3, 2000, 2);
    assert_int_equal(pair_inject_1rtt(&p, 1, f, n), 0);
    assert_int_equal(tern_ackr_threshold(a), 3);
    assert_int_equal(a->reorder, 2);
    assert_int_equal(tern_conn_ack_delay(p.server), 2000 * 1000);
    assert_true(tern_conn_state(p.server) < TERN_CS_CLOSING);
    pair_free(&p);
}

/* A PING alone waits for the ack delay; a PING with IMMEDIATE_ACK is answered at once. */
static void test_immediate_ack_answered(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1, 1);
    pair_run(&p, never, 200 * MS); /* everything acknowledged, nothing pending */
    uint8_t f[32];
    size_t n = tern_frame_write_ack_frequency(f, sizeof(f), 0, 10, 20000, 1);
    assert_int_equal(pair_inject_1rtt(&p, 1, f, n), 0);
    tern_ackr *a = tern_conn_ackr(p.server, TERN_SPACE_APP);
    assert_true(tern_ackr_due_time(a, 0) > p.now); /* one packet: delayed */
    f[0] = TERN_FT_PING;
    assert_int_equal(pair_inject_1rtt(&p, 1, f, 1), 0);
    assert_true(tern_ackr_due_time(a, 0) > p.now);
    f[0] = TERN_FT_IMMEDIATE_ACK;
    assert_int_equal(pair_inject_1rtt(&p, 1, f, 1), 0);
    assert_true(tern_ackr_due_time(a, 0) <= p.now);
    assert_true(tern_ackr_should_send(a, p.now, 0));
    pair_free(&p);
}

/* The server's data goes into a black hole: its PTO probes carry IMMEDIATE_ACK. */
static void test_pto_probe_carries_immediate_ack(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1, 1);
    tern_conn_stats ss;
    tern_conn_get_stats(p.server, &ss);
    uint64_t before = ss.immediate_ack_sent;
    p.s2c.blackhole = 1;
    assert_true(pair_request(&p, 200000) >= 0);
    pair_run(&p, never, 2 * SEC);
    tern_conn_get_stats(p.server, &ss);
    assert_true(ss.pto_count > 0);
    assert_true(ss.immediate_ack_sent > before);
    p.s2c.blackhole = 0;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* Without the extension on either side: no ACK_FREQUENCY nor IMMEDIATE_ACK ever goes out, PTOs
 * or not. */
static void test_nothing_sent_without_extension(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1, 0); /* only the server advertises: the client must not ask it anything */
    p.c2s.loss = 0.05;
    assert_true(pair_request(&p, 300000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    tern_conn_stats cs, ss;
    tern_conn_get_stats(p.client, &cs);
    tern_conn_get_stats(p.server, &ss);
    assert_int_equal(ss.ack_frequency_sent + ss.immediate_ack_sent, 0);
    assert_int_equal(cs.ack_frequency_sent + cs.immediate_ack_sent, 0);
    assert_true(cs.acks_sent > 0);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_frames_without_extension),
        cmocka_unit_test(test_requested_delay_bounds),
        cmocka_unit_test(test_stale_sequence_ignored),
        cmocka_unit_test(test_immediate_ack_answered),
        cmocka_unit_test(test_pto_probe_carries_immediate_ack),
        cmocka_unit_test(test_nothing_sent_without_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
