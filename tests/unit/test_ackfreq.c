/* The ACK frequency sender policy and frame checks (ackfreq.c): what is asked for which window,
 * the rate limits, retransmission of the newest request only, and the receiver's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ackfreq.h"

#define MS TERN_NS_PER_MS
#define MSS 1200

static tern_ackfreq_input bulk_in(uint64_t cwnd_pkts, int slow_start)
{
    tern_ackfreq_input in = {cwnd_pkts * MSS, MSS, cwnd_pkts * MSS, slow_start, 20 * MS, 25 * MS,
                             3};
    return in;
}

/* Writes the pending frame and parses it back. */
static int sent(tern_ackfreq *af, tern_tstamp now, tern_frame *f, uint64_t *seq)
{
    uint8_t buf[64];
    size_t n = tern_ackfreq_write(af, buf, sizeof(buf), now, seq);
    if (!n)
        return 0;
    const uint8_t *p = buf;
    uint64_t terr;
    assert_int_equal(tern_frame_parse(&p, buf + n, f, &terr), 0);
    assert_int_equal(f->type, TERN_FT_ACK_FREQUENCY);
    return 1;
}

static void test_policy(void **st)
{
    (void)st;
    tern_ackfreq af;
    tern_ackfreq_init(&af);
    tern_frame f;
    uint64_t seq;
    /* without the peer's min_ack_delay, or with the extension off here: nothing */
    tern_ackfreq_on_peer_params(&af, 1, 0, 0, 10);
    tern_ackfreq_input in = bulk_in(400, 0);
    tern_ackfreq_update(&af, &in, 0);
    assert_false(sent(&af, 0, &f, &seq));
    tern_ackfreq_on_peer_params(&af, 0, 1, 1000, 10);
    tern_ackfreq_update(&af, &in, 0);
    assert_false(sent(&af, 0, &f, &seq));

    tern_ackfreq_on_peer_params(&af, 1, 1, 1000, 10);
    /* a small window: RFC 9000's rule, which the peer follows already: nothing */
    in = bulk_in(10, 1);
    tern_ackfreq_update(&af, &in, 0);
    assert_false(sent(&af, 0, &f, &seq));
    /* slow start at 40 packets: one ACK per 5 packets; a quarter of 20 ms, reordering 3 */
    in = bulk_in(40, 1);
    tern_ackfreq_update(&af, &in, 0);
    assert_true(sent(&af, 0, &f, &seq));
    assert_int_equal(seq, 0);
    assert_int_equal(f.u.ack_freq.seq, 0);
    assert_int_equal(f.u.ack_freq.threshold, 4);
    assert_int_equal(f.u.ack_freq.max_ack_delay_us, 5000);
    assert_int_equal(f.u.ack_freq.reorder, 3);
    /* the same again: nothing */
    tern_ackfreq_update(&af, &in, 50 * MS);
    assert_false(sent(&af, 50 * MS, &f, &seq));
    /* a large window after slow start: capped at one per 10, but not within the round trip */
    in = bulk_in(400, 0);
    tern_ackfreq_update(&af, &in, 10 * MS);
    assert_false(sent(&af, 10 * MS, &f, &seq));
    tern_ackfreq_update(&af, &in, 20 * MS);
    assert_true(sent(&af, 20 * MS, &f, &seq));
    assert_int_equal(f.u.ack_freq.seq, 1);
    assert_int_equal(f.u.ack_freq.threshold, 9);
    /* an application-limited sender (little in flight) asks for no fewer ACKs */
    tern_ackfreq_init(&af);
    tern_ackfreq_on_peer_params(&af, 1, 1, 1000, 10);
    in = bulk_in(400, 0);
    in.bytes_in_flight = 10 * MSS;
    tern_ackfreq_update(&af, &in, 0);
    assert_false(sent(&af, 0, &f, &seq));
    /* the window collapses (loss): more ACKs at once, within the round trip */
    in = bulk_in(400, 0);
    tern_ackfreq_update(&af, &in, 0);
    assert_true(sent(&af, 0, &f, &seq));
    in = bulk_in(8, 0);
    tern_ackfreq_update(&af, &in, 1 * MS);
    assert_true(sent(&af, 1 * MS, &f, &seq));
    assert_int_equal(f.u.ack_freq.threshold, 1);
    /* the delay: never above the peer's max_ack_delay, never below its min_ack_delay */
    tern_ackfreq_init(&af);
    tern_ackfreq_on_peer_params(&af, 1, 1, 3000, 10);
    in = bulk_in(400, 0);
    in.srtt = 4 * MS; /* a quarter: 1 ms, below the peer's 3 ms */
    tern_ackfreq_update(&af, &in, 0);
    assert_true(sent(&af, 0, &f, &seq));
    assert_int_equal(f.u.ack_freq.max_ack_delay_us, 3000);
    tern_ackfreq_init(&af);
    tern_ackfreq_on_peer_params(&af, 1, 1, 1000, 10);
    in.srtt = 0; /* no sample yet: the peer's max_ack_delay */
    tern_ackfreq_update(&af, &in, 0);
    assert_true(sent(&af, 0, &f, &seq));
    assert_int_equal(f.u.ack_freq.max_ack_delay_us, 25000);
}

/* A lost request is sent again (a new sequence number) only when it is the newest. */
static void test_lost(void **st)
{
    (void)st;
    tern_ackfreq af;
    tern_ackfreq_init(&af);
    tern_ackfreq_on_peer_params(&af, 1, 1, 1000, 10);
    tern_frame f;
    uint64_t s0, s1, s2;
    tern_ackfreq_input in = bulk_in(400, 0);
    tern_ackfreq_update(&af, &in, 0);
    assert_true(sent(&af, 0, &f, &s0));
    in = bulk_in(8, 0);
    tern_ackfreq_update(&af, &in, MS);
    assert_true(sent(&af, MS, &f, &s1));
    tern_ackfreq_on_lost(&af, s0); /* superseded */
    assert_false(sent(&af, 2 * MS, &f, &s2));
    tern_ackfreq_on_lost(&af, s1);
    assert_true(sent(&af, 2 * MS, &f, &s2));
    assert_int_equal(s2, s1 + 1);
    assert_int_equal(f.u.ack_freq.threshold, 1);
    /* no room: stays pending */
    tern_ackfreq_on_lost(&af, s2);
    uint8_t tiny[4];
    uint64_t s;
    assert_int_equal(tern_ackfreq_write(&af, tiny, sizeof(tiny), 3 * MS, &s), 0);
    assert_true(sent(&af, 3 * MS, &f, &s));
}

/* The receiver's checks. */
static void test_receiver(void **st)
{
    (void)st;
    tern_ackfreq af;
    tern_ackfreq_init(&af);
    tern_frame f = {.type = TERN_FT_ACK_FREQUENCY};
    uint64_t terr = 0;
    f.u.ack_freq.seq = 3;
    f.u.ack_freq.max_ack_delay_us = 1000;
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 0, 1000, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    terr = 0;
    f.u.ack_freq.max_ack_delay_us = 999;
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 1, 1000, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    f.u.ack_freq.max_ack_delay_us = TERN_ACKFREQ_MAX_DELAY_US;
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 1, 1000, &terr), TERN_ERR_PROTO);
    assert_int_equal(tern_ackfreq_rx_delay(&af, 7), 7);
    f.u.ack_freq.max_ack_delay_us = 1000;
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 1, 1000, &terr), 1);
    assert_int_equal(tern_ackfreq_rx_delay(&af, 7), 1000 * TERN_NS_PER_US);
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 1, 1000, &terr), 0); /* the same one again */
    f.u.ack_freq.seq = 2;
    f.u.ack_freq.max_ack_delay_us = 5000;
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 1, 1000, &terr), 0);
    assert_int_equal(tern_ackfreq_rx_delay(&af, 7), 1000 * TERN_NS_PER_US);
    f.u.ack_freq.seq = 4;
    assert_int_equal(tern_ackfreq_on_frame(&af, &f, 1, 1000, &terr), 1);
    assert_int_equal(tern_ackfreq_rx_delay(&af, 7), 5000 * TERN_NS_PER_US);
    terr = 0;
    assert_int_equal(tern_ackfreq_on_immediate(&af, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(tern_ackfreq_on_immediate(&af, 1, &terr), 0);
    assert_true(af.rx_immediate);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_lost),
        cmocka_unit_test(test_receiver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
