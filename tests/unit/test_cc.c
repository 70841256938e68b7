/* Congestion control: NewReno and CUBIC windows on hand-computed numbers, recovery periods,
 * app-limited acks, persistent congestion, the pacer's rate and burst, and the sizes both take
 * when given none. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cc.h"

#define MS TERN_NS_PER_MS
#define SEC (1000 * MS)
#define MDS 1200

static tern_rtt rtt_of(tern_tstamp srtt)
{
    tern_rtt r;
    tern_rtt_init(&r);
    tern_rtt_update(&r, srtt, 0, 0, 1, 0);
    return r;
}

/* Sends and acknowledges one window in MDS-sized packets sent at `sent`, acked at `now`. */
static void ack_window(tern_cc *cc, const tern_rtt *rtt, tern_tstamp sent, tern_tstamp now,
                       int app_limited)
{
    uint64_t n = cc->cwnd / MDS;
    for (uint64_t i = 0; i < n; i++)
        tern_cc_on_sent(cc, MDS);
    for (uint64_t i = 0; i < n; i++)
        tern_cc_on_acked(cc, MDS, sent, rtt, now, app_limited);
}

static void test_initial_window(void **st)
{
    tern_cc cc;
    tern_cc_init(&cc, TERN_CC_NEWRENO, 1200);
    assert_int_equal(cc.cwnd, 12000);
    assert_int_equal(cc.ssthresh, UINT64_MAX);
    assert_int_equal(cc.bytes_in_flight, 0);
    tern_cc_init(&cc, TERN_CC_CUBIC, 1500);
    assert_int_equal(cc.cwnd, 14720);
    tern_cc_init(&cc, TERN_CC_NEWRENO, 9000);
    assert_int_equal(cc.cwnd, 18000);
    assert_int_equal(tern_cc_available(&cc), 18000);
    tern_cc_on_sent(&cc, 17000);
    assert_int_equal(tern_cc_available(&cc), 1000);
    tern_cc_on_sent(&cc, 2000);
    assert_int_equal(tern_cc_available(&cc), 0);
    tern_cc_on_removed(&cc, 50000); /* never below zero */
    assert_int_equal(cc.bytes_in_flight, 0);
}

/* The datagram size grows with path MTU discovery (RFC 9002 §7.2): an untouched initial window is
 * recalculated, a grown or reduced one is kept, and the window never stays below two datagrams. */
static void test_datagram_size_changes(void **st)
{
    (void)st;
    tern_cc cc;
    tern_cc_init(&cc, TERN_CC_CUBIC, 1200);
    tern_cc_set_max_datagram_size(&cc, 1472);
    assert_int_equal(cc.max_datagram_size, 1472);
    assert_int_equal(cc.cwnd, 14720);
    tern_cc_set_max_datagram_size(&cc, 8972);
    assert_int_equal(cc.cwnd, 17944); /* max(14720, 2 * 8972) */
    tern_cc_set_max_datagram_size(&cc, 1200); /* a black hole: back to the base */
    assert_int_equal(cc.cwnd, 12000);
    /* a window the connection has grown is its own */
    tern_rtt rtt;
    tern_rtt_init(&rtt);
    tern_rtt_update(&rtt, 20 * TERN_NS_PER_MS, 0, 0, 1, 20 * TERN_NS_PER_MS);
    tern_cc_on_sent(&cc, 1200);
    tern_cc_on_acked(&cc, 1200, 0, &rtt, 20 * TERN_NS_PER_MS, 0);
    uint64_t grown = cc.cwnd;
    assert_true(grown > 12000);
    tern_cc_set_max_datagram_size(&cc, 1472);
    assert_int_equal(cc.cwnd, grown);
    /* ... but never below two of the new datagrams */
    cc.cwnd = 2400;
    cc.ssthresh = 2400;
    tern_cc_set_max_datagram_size(&cc, 8972);
    assert_int_equal(cc.cwnd, 2 * 8972);
    /* the pacer's burst follows */
    tern_pacer p;
    tern_pacer_init(&p, 1200);
    uint64_t burst = p.burst;
    tern_pacer_set_max_datagram_size(&p, 8972);
    assert_int_equal(p.burst, burst / 1200 * 8972);
    tern_pacer_set_max_datagram_size(&p, 1200);
    assert_int_equal(p.burst, burst);
    assert_true(p.tokens <= p.burst);
}

static void test_slow_start_doubles(void **st)
{
    for (tern_cc_algo algo = TERN_CC_CUBIC; algo <= TERN_CC_NEWRENO; algo++) {
        tern_cc cc;
        tern_rtt rtt = rtt_of(100 * MS);
        tern_cc_init(&cc, algo, MDS);
        uint64_t want = 12000;
        for (uint64_t round = 1; round <= 4; round++) {
            ack_window(&cc, &rtt, round * 100 * MS, round * 100 * MS + 100 * MS, 0);
            want *= 2;
            assert_int_equal(cc.cwnd, want);
            assert_int_equal(cc.bytes_in_flight, 0);
        }
    }
}

static void test_newreno_halving_once_per_period(void **st)
{
    tern_cc cc;
    tern_rtt rtt = rtt_of(100 * MS);
    tern_cc_init(&cc, TERN_CC_NEWRENO, MDS);
    ack_window(&cc, &rtt, 0, 100 * MS, 0);
    assert_int_equal(cc.cwnd, 24000);

    tern_cc_on_congestion(&cc, 150 * MS, 200 * MS);
    assert_int_equal(cc.cwnd, 12000);
    assert_int_equal(cc.ssthresh, 12000);
    assert_true(cc.in_recovery);
    assert_int_equal(cc.recovery_start, 200 * MS);
    assert_int_equal(cc.congestion_events, 1);
    /* more losses of packets sent before the period started: no further reduction */
    tern_cc_on_congestion(&cc, 160 * MS, 210 * MS);
    tern_cc_on_congestion(&cc, 200 * MS, 220 * MS);
    assert_int_equal(cc.cwnd, 12000);
    assert_int_equal(cc.congestion_events, 1);

    /* acks of packets sent before the period do not grow the window nor end recovery */
    tern_cc_on_sent(&cc, 3 * MDS);
    tern_cc_on_acked(&cc, MDS, 190 * MS, &rtt, 230 * MS, 0);
    assert_int_equal(cc.cwnd, 12000);
    assert_true(cc.in_recovery);
    /* a packet sent after it ends recovery; congestion avoidance: +1 MDS per cwnd acked */
    tern_cc_on_acked(&cc, MDS, 201 * MS, &rtt, 300 * MS, 0);
    assert_false(cc.in_recovery);
    assert_int_equal(cc.cwnd, 12000);
    assert_int_equal(cc.bytes_acked, MDS);
    for (int i = 0; i < 9; i++) {
        tern_cc_on_sent(&cc, MDS);
        tern_cc_on_acked(&cc, MDS, 201 * MS, &rtt, 300 * MS, 0);
    }
    assert_int_equal(cc.cwnd, 13200);
    assert_int_equal(cc.bytes_acked, 0);

    /* a loss of a packet sent after the period started: a new reduction */
    tern_cc_on_congestion(&cc, 250 * MS, 400 * MS);
    assert_int_equal(cc.cwnd, 6600);
    assert_int_equal(cc.congestion_events, 2);
    /* never below the minimum window */
    for (uint64_t i = 0; i < 10; i++)
        tern_cc_on_congestion(&cc, 500 * MS + i * 100 * MS, 501 * MS + i * 100 * MS);
    assert_int_equal(cc.cwnd, 2 * MDS);
    assert_int_equal(cc.ssthresh, 2 * MDS);
}

static void test_cubic_reduction_and_fast_convergence(void **st)
{
    tern_cc cc;
    tern_cc_init(&cc, TERN_CC_CUBIC, MDS);
    cc.cwnd = 100000;
    tern_cc_on_congestion(&cc, 10 * MS, 20 * MS);
    assert_int_equal(cc.cwnd, 70000);
    assert_int_equal(cc.ssthresh, 70000);
    assert_true(fabs(cc.w_max - 100000) < 1e-9);
    assert_true(fabs(cc.cwnd_prior - 100000) < 1e-9);
    tern_cc_on_congestion(&cc, 15 * MS, 30 * MS);
    assert_int_equal(cc.cwnd, 70000);
    /* a second loss below the previous maximum: W_max = cwnd * (1 + 0.7) / 2 */
    tern_cc_on_congestion(&cc, 40 * MS, 50 * MS);
    assert_int_equal(cc.cwnd, 49000);
    assert_true(fabs(cc.w_max - 59500) < 1e-9);
    assert_int_equal(cc.congestion_events, 2);
}

static double w_cubic(double t, double k, double w_max)
{
    return 0.4 * MDS * pow(t - k, 3) + w_max;
}

static void test_cubic_follows_w_cubic(void **st)
{
    tern_cc cc;
    tern_rtt rtt = rtt_of(100 * MS);
    tern_cc_init(&cc, TERN_CC_CUBIC, MDS);
    cc.cwnd = 144000;
    tern_tstamp loss = 10 * SEC;
    tern_cc_on_congestion(&cc, loss - 1, loss);
    assert_int_equal(cc.cwnd, 100800);

    /* the first congestion-avoidance ack opens the epoch: K = cbrt((144000 - 100800) / (0.4 *
     * 1200)) */
    tern_tstamp t0 = loss + 100 * MS;
    tern_cc_on_sent(&cc, MDS);
    tern_cc_on_acked(&cc, MDS, loss + 1, &rtt, t0, 0);
    assert_int_equal(cc.epoch_start, t0);
    double k = cbrt(90.0);
    assert_true(fabs(cc.k - k) < 1e-9);
    /* at t = 0 the Reno-friendly estimate (cwnd + 0.53 MDS * 1200 / cwnd) is just ahead */
    assert_int_equal(cc.cwnd, 100807);

    /* acking a whole window at once moves cwnd to W_cubic(t + RTT) */
    for (tern_tstamp s = 1; s <= 6; s++) {
        tern_tstamp now = t0 + s * SEC;
        uint64_t w = cc.cwnd;
        tern_cc_on_sent(&cc, w);
        tern_cc_on_acked(&cc, w, now - 100 * MS, &rtt, now, 0);
        double want = w_cubic((double)s + 0.1, k, 144000);
        assert_true(want > (double)w && want < 1.5 * (double)w);
        assert_true(fabs((double)cc.cwnd - want) <= 1.0);
    }
    /* past K the window is above the old maximum (convex region) */
    assert_true(cc.cwnd > 144000);
}

static void test_cubic_reno_friendly_region(void **st)
{
    tern_cc cc;
    tern_rtt rtt = rtt_of(10 * MS);
    tern_cc_init(&cc, TERN_CC_CUBIC, MDS);
    cc.cwnd = 24000;
    cc.w_max = 24000;
    tern_cc_on_congestion(&cc, 0, 1);
    /* cwnd 16800, K = cbrt(6 / 0.4) = 2.47 s: over a few short RTTs W_cubic barely moves while
     * the Reno-friendly estimate gains 0.53 MDS per window: cwnd follows W_est */
    double w_est = 16800;
    tern_tstamp now = 10 * MS;
    for (int i = 0; i < 5; i++) {
        uint64_t w = cc.cwnd;
        tern_cc_on_sent(&cc, w);
        tern_cc_on_acked(&cc, w, now - 5 * MS, &rtt, now, 0);
        w_est += 3.0 * 0.3 / 1.7 * MDS;
        assert_true(fabs((double)cc.cwnd - w_est) <= 1.0);
        now += 10 * MS;
    }
}

static void test_no_growth_when_app_limited(void **st)
{
    for (tern_cc_algo algo = TERN_CC_CUBIC; algo <= TERN_CC_NEWRENO; algo++) {
        tern_cc cc;
        tern_rtt rtt = rtt_of(100 * MS);
        tern_cc_init(&cc, algo, MDS);
        ack_window(&cc, &rtt, 0, 100 * MS, 1);
        assert_int_equal(cc.cwnd, 12000);
        assert_int_equal(cc.bytes_in_flight, 0);
        /* congestion avoidance too */
        tern_cc_on_congestion(&cc, 0, 100 * MS);
        uint64_t w = cc.cwnd;
        for (uint64_t r = 0; r < 5; r++)
            ack_window(&cc, &rtt, 200 * MS + r * 100 * MS, 300 * MS + r * 100 * MS, 1);
        assert_int_equal(cc.cwnd, w);
        assert_false(cc.in_recovery);
        ack_window(&cc, &rtt, 900 * MS, 1000 * MS, 0);
        assert_true(cc.cwnd > w);
    }
}

static void test_persistent_congestion(void **st)
{
    for (tern_cc_algo algo = TERN_CC_CUBIC; algo <= TERN_CC_NEWRENO; algo++) {
        tern_cc cc;
        tern_rtt rtt = rtt_of(100 * MS);
        tern_cc_init(&cc, algo, MDS);
        ack_window(&cc, &rtt, 0, 100 * MS, 0);
        ack_window(&cc, &rtt, 100 * MS, 200 * MS, 0);
        tern_cc_on_congestion(&cc, 150 * MS, 300 * MS);
        tern_cc_on_persistent_congestion(&cc);
        assert_int_equal(cc.cwnd, 2 * MDS);
        assert_false(cc.in_recovery);
        assert_int_equal(cc.recovery_start, TERN_TS_INF);
        /* slow start again up to ssthresh */
        ack_window(&cc, &rtt, 400 * MS, 500 * MS, 0);
        assert_int_equal(cc.cwnd, 4 * MDS);
        /* reset goes back to the initial window, keeping bytes in flight */
        tern_cc_on_sent(&cc, 5000);
        tern_cc_reset(&cc);
        assert_int_equal(cc.cwnd, 12000);
        assert_int_equal(cc.ssthresh, UINT64_MAX);
        assert_int_equal(cc.bytes_in_flight, 5000);
    }
}

static void test_pacer(void **st)
{
    tern_pacer p;
    tern_pacer_init(&p, MDS);
    assert_int_equal(p.burst, 10 * MDS);
    tern_tstamp srtt = 100 * MS, now = 1 * SEC;
    uint64_t cwnd = 12000; /* rate 1.25 * 12000 / 100 ms = 150 bytes per ms */

    /* no RTT sample: no pacing */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(tern_pacer_next(&p, MDS, cwnd, 0, now), now);
        tern_pacer_on_sent(&p, MDS, cwnd, 0, now);
    }
    /* a full bucket: a burst of 10 datagrams, then wait 1200 / 150 = 8 ms for the next */
    tern_pacer_init(&p, MDS);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tern_pacer_next(&p, MDS, cwnd, srtt, now), now);
        tern_pacer_on_sent(&p, MDS, cwnd, srtt, now);
    }
    tern_tstamp next = tern_pacer_next(&p, MDS, cwnd, srtt, now);
    assert_true(next >= now + 8 * MS && next <= now + 8 * MS + 2);
    assert_int_equal(tern_pacer_next(&p, MDS, cwnd, srtt, next), next);

    /* steady state: sending whenever allowed for one second moves 1.25 cwnd per RTT + a burst */
    tern_pacer_init(&p, MDS);
    tern_tstamp t = 10 * SEC, end = t + SEC;
    uint64_t sent = 0;
    while (t < end) {
        tern_tstamp n = tern_pacer_next(&p, MDS, cwnd, srtt, t);
        if (n > t) {
            t = n;
            continue;
        }
        tern_pacer_on_sent(&p, MDS, cwnd, srtt, t);
        sent += MDS;
    }
    double want = 150000.0 + 12000.0;
    assert_true(fabs((double)sent - want) < 0.02 * want);

    /* after idling the bucket holds at most the burst */
    tern_tstamp idle = end + 60 * SEC;
    int burst = 0;
    while (tern_pacer_next(&p, MDS, cwnd, srtt, idle) == idle) {
        tern_pacer_on_sent(&p, MDS, cwnd, srtt, idle);
        burst++;
    }
    assert_int_equal(burst, 10);
}

/* A reduction whose losses all prove spurious is undone; one real loss among them keeps it. */
static void test_spurious_undo(void **st)
{
    for (tern_cc_algo algo = TERN_CC_CUBIC; algo <= TERN_CC_NEWRENO; algo++) {
        tern_cc cc;
        tern_cc_init(&cc, algo ? TERN_CC_NEWRENO : TERN_CC_CUBIC, MDS);
        cc.cwnd = 100 * MDS;
        cc.ssthresh = 200 * MDS;
        tern_cc_on_congestion(&cc, 150 * MS, 200 * MS);
        tern_cc_on_lost(&cc, 150 * MS, 2);
        uint64_t reduced = cc.cwnd;
        assert_true(reduced < 100 * MDS);
        tern_cc_on_spurious(&cc, 140 * MS);
        assert_int_equal(cc.cwnd, reduced); /* one of two */
        tern_cc_on_spurious(&cc, 150 * MS);
        assert_int_equal(cc.cwnd, 100 * MDS);
        assert_int_equal(cc.ssthresh, 200 * MDS);
        assert_int_equal(cc.congestion_undone, 1);
        assert_int_equal(cc.recovery_start, TERN_TS_INF);
        /* a later loss reduces again; only one of its two losses was spurious */
        tern_cc_on_congestion(&cc, 300 * MS, 310 * MS);
        tern_cc_on_lost(&cc, 300 * MS, 2);
        reduced = cc.cwnd;
        tern_cc_on_spurious(&cc, 300 * MS);
        assert_int_equal(cc.cwnd, reduced);
        /* and a spurious loss from before that reduction does not count for it */
        tern_cc_on_spurious(&cc, 100 * MS);
        assert_int_equal(cc.cwnd, reduced);
        assert_int_equal(cc.congestion_undone, 1);
    }
}

/* Sizes the caller leaves out: a controller or pacer made or resized with a datagram size of 0
 * takes 1200 bytes; resizing to 0 or to the same size changes nothing; a window that already
 * reacted to congestion is not recomputed for a new size (only raised to its minimum); a pacer
 * without a window or an RTT paces nothing. */
static void test_size_edges(void **st)
{
    tern_cc cc;
    tern_cc_init(&cc, TERN_CC_NEWRENO, 0);
    assert_int_equal(cc.max_datagram_size, 1200);
    assert_int_equal(cc.cwnd, 12000);
    tern_cc_set_max_datagram_size(&cc, 0);
    tern_cc_set_max_datagram_size(&cc, 1200);
    assert_int_equal(cc.max_datagram_size, 1200);
    assert_int_equal(cc.cwnd, 12000);
    tern_cc_on_sent(&cc, 12000);
    tern_cc_on_congestion(&cc, 0, 1000);
    uint64_t w = cc.cwnd;
    assert_true(w < 12000);
    tern_cc_set_max_datagram_size(&cc, 1500);
    assert_int_equal(cc.max_datagram_size, 1500);
    assert_int_equal(cc.cwnd, w > 3000 ? w : 3000);

    tern_pacer p;
    tern_pacer_init(&p, 0);
    assert_int_equal(p.burst, 12000);
    assert_int_equal(p.tokens, 12000);
    tern_pacer_set_max_datagram_size(&p, 1500);
    assert_int_equal(p.burst, 15000);
    tern_pacer_set_max_datagram_size(&p, 0);
    assert_int_equal(p.burst, 12000);
    assert_int_equal(p.tokens, 12000);
    assert_int_equal(tern_pacer_next(&p, 1200, 0, 50000000, 7777), 7777);
    tern_pacer_on_sent(&p, 1200, 12000, 0, 8888);
    assert_int_equal(p.last, 8888);
    assert_int_equal(p.tokens, 12000); /* nothing spent without pacing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spurious_undo),
        cmocka_unit_test(test_initial_window),
        cmocka_unit_test(test_datagram_size_changes),
        cmocka_unit_test(test_slow_start_doubles),
        cmocka_unit_test(test_newreno_halving_once_per_period),
        cmocka_unit_test(test_cubic_reduction_and_fast_convergence),
        cmocka_unit_test(test_cubic_follows_w_cubic),
        cmocka_unit_test(test_cubic_reno_friendly_region),
        cmocka_unit_test(test_no_growth_when_app_limited),
        cmocka_unit_test(test_persistent_congestion),
        cmocka_unit_test(test_pacer),
        cmocka_unit_test(test_size_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
