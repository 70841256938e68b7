/* Loss detection: ACK processing, packet- and time-threshold loss, PTO backoff and space choice,
 * the client's anti-deadlock probe, persistent congestion, protocol errors, discarding a space, and
 * the record ring's growth and bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "recovery.h"

#define MS TERN_NS_PER_MS
#define MDS 1200
#define MAX_EV 20000

typedef struct h {
    tern_rtt rtt;
    tern_cc cc;
    tern_recovery r;
    uint64_t acked[MAX_EV], lost[MAX_EV];
    int acked_space[MAX_EV], lost_space[MAX_EV];
    size_t n_acked, n_lost;
} h_t;

static void on_acked(void *ud, int space, const tern_sent_pkt *p)
{
    h_t *h = ud;
    assert_true(h->n_acked < MAX_EV);
    assert_int_equal(p->n_frames, 1);
    assert_int_equal(p->frames[0].off, p->pn * 10); /* the descriptors come back intact */
    h->acked_space[h->n_acked] = space;
    h->acked[h->n_acked++] = p->pn;
}

static void on_lost(void *ud, int space, const tern_sent_pkt *p)
{
    h_t *h = ud;
    assert_true(h->n_lost < MAX_EV);
    h->lost_space[h->n_lost] = space;
    h->lost[h->n_lost++] = p->pn;
}

static h_t *h_new(int is_server, tern_cc_algo algo)
{
    h_t *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    tern_rtt_init(&h->rtt);
    tern_cc_init(&h->cc, algo, MDS);
    tern_recovery_cb cb = {on_acked, on_lost};
    tern_recovery_init(&h->r, is_server, &h->rtt, &h->cc, &cb, h);
    return h;
}

static void h_free(h_t *h)
{
    tern_recovery_free(&h->r);
    free(h);
}

static int send_pkt(h_t *h, int space, uint64_t pn, tern_tstamp t, int eliciting)
{
    tern_sent_pkt p;
    memset(&p, 0xa5, sizeof(p)); /* the record must not depend on garbage in unused frames */
    p.pn = pn;
    p.time_sent = t;
    p.size = MDS;
    p.ack_eliciting = (uint8_t)eliciting;
    p.in_flight = (uint8_t)eliciting;
    p.path_id = 0;
    p.app_limited = 0;
    p.pmtu_probe = 0;
    p.n_frames = 1;
    p.frames[0].type = eliciting ? TERN_FT_STREAM : TERN_FT_ACK;
    p.frames[0].off = pn * 10;
    return tern_recovery_on_sent(&h->r, space, &p);
}

/* ranges: descending inclusive {lo, hi} pairs */
static int ack(h_t *h, int space, const tern_pn_range *r, size_t n, tern_tstamp delay,
               tern_tstamp now)
{
    tern_pn_range_list l = {r, n};
    return tern_recovery_on_ack(&h->r, space, &l, delay, now);
}

static int ack1(h_t *h, int space, uint64_t lo, uint64_t hi, tern_tstamp now)
{
    tern_pn_range r = {lo, hi};
    return ack(h, space, &r, 1, 0, now);
}

/* A server with a confirmed handshake, an RTT sample of 100 ms (srtt 100, var 50) from pn 0. */
static h_t *h_confirmed(tern_cc_algo algo)
{
    h_t *h = h_new(1, algo);
    h->r.handshake_confirmed = 1;
    h->r.max_ack_delay = 25 * MS;
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 0, 0, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 0, 100 * MS), 0);
    assert_int_equal(h->rtt.smoothed, 100 * MS);
    h->n_acked = 0;
    return h;
}

static void test_ack_basic(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    for (uint64_t pn = 0; pn < 10; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 1000 * MS + pn * MS, 1), 0);
    assert_int_equal(h->cc.bytes_in_flight, 10 * MDS);
    assert_int_equal(h->r.q[TERN_SPACE_APP].ack_eliciting_in_flight, 10);
    assert_true(tern_recovery_has_in_flight(&h->r));

    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 9, 1109 * MS), 0);
    assert_int_equal(h->n_acked, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(h->acked[i], i);
        assert_int_equal(h->acked_space[i], TERN_SPACE_APP);
    }
    assert_int_equal(h->n_lost, 0);
    assert_int_equal(h->cc.bytes_in_flight, 0);
    assert_int_equal(h->cc.cwnd, 12000 + 10 * MDS); /* slow start */
    assert_int_equal(h->rtt.latest, 100 * MS);      /* from the largest: 1109 - 1009 */
    assert_true(h->rtt.has_sample);
    assert_int_equal(h->r.q[TERN_SPACE_APP].count, 0);
    assert_int_equal(h->r.q[TERN_SPACE_APP].largest_acked, 9);
    assert_int_equal(h->r.pkts_acked, 10);
    assert_false(tern_recovery_has_in_flight(&h->r));
    assert_int_equal(tern_recovery_timer(&h->r, 1109 * MS), TERN_TS_INF);

    /* the same ACK again: nothing new */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 9, 1200 * MS), 0);
    assert_int_equal(h->n_acked, 10);
    assert_int_equal(h->rtt.latest, 100 * MS);
    h_free(h);
}

static void test_rtt_sample_rules(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 0, 0, 1), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 1, 1 * MS, 0), 0); /* ACK-only */
    /* largest newly acked but not ack-eliciting: no sample */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 1, 1, 50 * MS), 0);
    assert_false(h->rtt.has_sample);
    /* an ack-eliciting one newly acked, but the largest is old news: no sample */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 1, 60 * MS), 0);
    assert_false(h->rtt.has_sample);
    assert_int_equal(h->n_acked, 2);
    /* both conditions: a sample measured on the largest */
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 2, 100 * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 2, 170 * MS), 0);
    assert_true(h->rtt.has_sample);
    assert_int_equal(h->rtt.latest, 70 * MS);
    assert_int_equal(h->rtt.first_sample_time, 170 * MS);
    h_free(h);
}

static void test_ack_delay_per_space(void **st)
{
    for (int space = TERN_SPACE_INITIAL; space <= TERN_SPACE_HANDSHAKE; space++) {
        h_t *h = h_new(1, TERN_CC_NEWRENO);
        h->r.max_ack_delay = 25 * MS;
        tern_pn_range r0 = {0, 0}, r1 = {1, 1};
        assert_int_equal(send_pkt(h, space, 0, 0, 1), 0);
        assert_int_equal(ack(h, space, &r0, 1, 0, 100 * MS), 0);
        assert_int_equal(send_pkt(h, space, 1, 200 * MS, 1), 0);
        assert_int_equal(ack(h, space, &r1, 1, 50 * MS, 400 * MS), 0);
        assert_int_equal(h->rtt.latest, 200 * MS);
        /* Initial: the delay is ignored (sample 200); Handshake: used, and uncapped before
         * confirmation (sample 150) */
        tern_tstamp adjusted = space == TERN_SPACE_INITIAL ? 200 * MS : 150 * MS;
        assert_int_equal(h->rtt.smoothed, (7 * 100 * MS + adjusted) / 8);
        h_free(h);
    }
}

/* A path MTU probe that is lost is no congestion signal (RFC 9000 §14.4): no reduction, no
 * persistent congestion, and its bytes leave flight; a data packet lost alike does reduce. */
static void test_lost_mtu_probe_no_congestion(void **st)
{
    (void)st;
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    tern_sent_pkt p;
    memset(&p, 0, sizeof(p));
    p.pn = 1;
    p.time_sent = 0;
    p.size = 1472;
    p.ack_eliciting = p.in_flight = p.pmtu_probe = 1;
    p.n_frames = 1;
    p.frames[0].type = TERN_FT_PING;
    assert_int_equal(tern_recovery_on_sent(&h->r, TERN_SPACE_APP, &p), 0);
    for (uint64_t pn = 2; pn <= 5; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, (pn - 1) * MS, 1), 0);
    uint64_t cwnd = h->cc.cwnd;
    /* ack 4: the probe is three packets below */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 4, 4, 50 * MS), 0);
    assert_int_equal(h->n_lost, 1);
    assert_int_equal(h->lost[0], 1);
    assert_int_equal(h->cc.congestion_events, 0);
    assert_true(h->cc.cwnd >= cwnd);
    assert_int_equal(h->cc.bytes_in_flight, 3 * MDS);
    /* a data packet lost alike (2, three below 5) does reduce the window */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 5, 5, 200 * MS), 0);
    assert_int_equal(h->n_lost, 2);
    assert_int_equal(h->lost[1], 2);
    assert_int_equal(h->cc.congestion_events, 1);
    h_free(h);
}

static void test_packet_then_time_threshold(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    for (uint64_t pn = 1; pn <= 5; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, (pn - 1) * MS, 1), 0);
    /* ack 5: three packets above 1 and 2 */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 5, 5, 50 * MS), 0);
    assert_int_equal(h->n_acked, 1);
    assert_int_equal(h->acked[0], 5);
    assert_int_equal(h->n_lost, 2);
    assert_int_equal(h->lost[0], 1);
    assert_int_equal(h->lost[1], 2);
    assert_int_equal(h->r.pkts_lost, 2);
    assert_int_equal(h->cc.bytes_in_flight, 2 * MDS);
    /* one reduction for the batch, before the acked packet could grow the window */
    assert_int_equal(h->cc.congestion_events, 1);
    assert_int_equal(h->cc.cwnd, 6000);
    assert_int_equal(h->cc.recovery_start, 50 * MS);

    /* 3 and 4 wait for the time threshold: 9/8 * 46 ms (the first sample) after they left */
    tern_tstamp delay = 46 * MS * 9 / 8;
    assert_int_equal(h->r.q[TERN_SPACE_APP].loss_time, 2 * MS + delay);
    assert_int_equal(tern_recovery_timer(&h->r, 50 * MS), 2 * MS + delay);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 2 * MS + delay - 1), -1);
    assert_int_equal(h->n_lost, 2);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 2 * MS + delay), -1);
    assert_int_equal(h->n_lost, 3);
    assert_int_equal(h->lost[2], 3);
    assert_int_equal(h->r.pto_count, 0); /* a loss timer is not a PTO */
    assert_int_equal(tern_recovery_timer(&h->r, 0), 3 * MS + delay);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 3 * MS + delay), -1);
    assert_int_equal(h->n_lost, 4);
    assert_int_equal(h->lost[3], 4);
    /* same recovery period: still one reduction */
    assert_int_equal(h->cc.congestion_events, 1);
    assert_int_equal(h->cc.bytes_in_flight, 0);
    /* lost records stay two smoothed RTTs for spurious-loss detection, then go */
    assert_int_equal(tern_recovery_timer(&h->r, 0), TERN_TS_INF);
    uint64_t next = h->r.q[TERN_SPACE_APP].next_pn;
    tern_pn_range one = {next, next};
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, next, 3 * MS + delay, 1), 0);
    assert_int_equal(ack(h, TERN_SPACE_APP, &one, 1, 0, 4 * MS + delay + 2 * h->rtt.smoothed), 0);
    assert_int_equal(h->r.q[TERN_SPACE_APP].count, 0);
    h_free(h);
}

static void test_pto_backoff(void **st)
{
    h_t *h = h_confirmed(TERN_CC_NEWRENO);
    /* PTO = srtt + 4 var + max_ack_delay = 100 + 200 + 25 */
    tern_tstamp pto = 325 * MS;
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 1, 200 * MS, 1), 0);
    assert_int_equal(tern_recovery_timer(&h->r, 200 * MS), 200 * MS + pto);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 200 * MS + pto - 1), -1);
    assert_int_equal(h->r.pto_count, 0);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 200 * MS + pto), TERN_SPACE_APP);
    assert_int_equal(h->r.pto_count, 1);
    assert_int_equal(tern_recovery_timer(&h->r, 0), 200 * MS + 2 * pto);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 200 * MS + 2 * pto), TERN_SPACE_APP);
    assert_int_equal(h->r.pto_count, 2);
    assert_int_equal(h->r.pto_total, 2);
    assert_int_equal(tern_recovery_timer(&h->r, 0), 200 * MS + 4 * pto);
    /* a probe restarts the timer from its send time, still backed off */
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 2, 900 * MS, 1), 0);
    assert_int_equal(tern_recovery_timer(&h->r, 0), 900 * MS + 4 * pto);
    assert_int_equal(h->n_lost, 0);
    /* an ACK resets the backoff (and here finds pn 1 lost by time) */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 2, 2, 950 * MS), 0);
    assert_int_equal(h->r.pto_count, 0);
    assert_int_equal(h->n_lost, 1);
    assert_int_equal(h->lost[0], 1);
    h_free(h);
}

static void test_pto_space_choice(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    tern_tstamp pto = 999 * MS; /* no sample: 333 + 4 * 166.5 */
    assert_int_equal(send_pkt(h, TERN_SPACE_HANDSHAKE, 0, 0, 1), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 0, 5 * MS, 1), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 0, 1 * MS, 1), 0);
    /* the earliest of Initial and Handshake; Application data waits for confirmation */
    assert_int_equal(tern_recovery_timer(&h->r, 0), pto);
    assert_int_equal(tern_recovery_on_timeout(&h->r, pto), TERN_SPACE_HANDSHAKE);
    /* backed off, the Handshake packet still comes first until its probe leaves */
    assert_int_equal(tern_recovery_timer(&h->r, 0), 2 * pto);
    assert_int_equal(send_pkt(h, TERN_SPACE_HANDSHAKE, 1, pto, 1), 0);
    assert_int_equal(tern_recovery_timer(&h->r, 0), 5 * MS + 2 * pto);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 5 * MS + 2 * pto), TERN_SPACE_INITIAL);

    /* discarding keys resets the backoff */
    tern_recovery_discard_space(&h->r, TERN_SPACE_INITIAL);
    assert_int_equal(h->r.pto_count, 0);
    assert_int_equal(tern_recovery_timer(&h->r, 0), pto + pto);
    tern_recovery_discard_space(&h->r, TERN_SPACE_HANDSHAKE);
    /* only 1-RTT in flight before confirmation: no PTO at all */
    assert_true(tern_recovery_has_in_flight(&h->r));
    assert_int_equal(tern_recovery_timer(&h->r, 0), TERN_TS_INF);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 100000 * MS), -1);
    /* confirmed: armed, with max_ack_delay */
    h->r.handshake_confirmed = 1;
    h->r.max_ack_delay = 25 * MS;
    assert_int_equal(tern_recovery_timer(&h->r, 0), 1 * MS + pto + 25 * MS);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 1 * MS + pto + 25 * MS), TERN_SPACE_APP);
    /* a server at its amplification limit arms no PTO */
    h->r.amplification_blocked = 1;
    assert_int_equal(tern_recovery_timer(&h->r, 0), TERN_TS_INF);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 100000 * MS), -1);
    h_free(h);
}

static void test_client_anti_deadlock(void **st)
{
    h_t *h = h_new(0, TERN_CC_NEWRENO);
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 0, 0, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_INITIAL, 0, 0, 100 * MS), 0);
    assert_false(tern_recovery_has_in_flight(&h->r));
    /* nothing in flight, address not validated: probe from the ack's time (srtt 100 + 4 * 50) */
    assert_int_equal(tern_recovery_timer(&h->r, 100 * MS), 400 * MS);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 399 * MS), -1);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 400 * MS), TERN_SPACE_INITIAL);
    assert_int_equal(h->r.pto_count, 1);
    assert_int_equal(tern_recovery_timer(&h->r, 400 * MS), 1000 * MS);
    h->r.has_handshake_keys = 1;
    assert_int_equal(tern_recovery_on_timeout(&h->r, 1000 * MS), TERN_SPACE_HANDSHAKE);
    assert_int_equal(h->r.pto_count, 2);

    /* an Initial ACK does not reset the backoff while the server may not have validated us */
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 1, 1000 * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_INITIAL, 1, 1, 1050 * MS), 0);
    assert_int_equal(h->r.pto_count, 2);
    /* a Handshake ACK proves validation */
    assert_int_equal(send_pkt(h, TERN_SPACE_HANDSHAKE, 0, 1100 * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_HANDSHAKE, 0, 0, 1150 * MS), 0);
    assert_true(h->r.peer_completed_address_validation);
    assert_int_equal(h->r.pto_count, 0);
    assert_int_equal(tern_recovery_timer(&h->r, 1150 * MS), TERN_TS_INF);
    h_free(h);

    /* a server never sends anti-deadlock probes, and resets the backoff on any ACK */
    h = h_new(1, TERN_CC_NEWRENO);
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 0, 0, 1), 0);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 999 * MS), TERN_SPACE_INITIAL);
    assert_int_equal(ack1(h, TERN_SPACE_INITIAL, 0, 0, 1100 * MS), 0);
    assert_int_equal(h->r.pto_count, 0);
    assert_int_equal(tern_recovery_timer(&h->r, 1100 * MS), TERN_TS_INF);
    h_free(h);
}

static void test_persistent_congestion(void **st)
{
    h_t *h = h_confirmed(TERN_CC_NEWRENO);
    /* duration: (100 + max(4 * 50, 1) + 25) * 3 = 975 ms; pn 1..12 span 1100 ms. pn 13 is
     * ACK-only so that its acknowledgement does not grow the collapsed window again. */
    for (uint64_t pn = 1; pn <= 13; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 100 * MS + pn * 100 * MS, pn < 13), 0);
    h->rtt.latest = 90 * MS;
    assert_int_equal(ack1(h, TERN_SPACE_APP, 13, 13, 1500 * MS), 0);
    assert_int_equal(h->n_lost, 12);
    assert_int_equal(h->cc.cwnd, 2 * MDS);
    assert_int_equal(h->cc.recovery_start, TERN_TS_INF);
    assert_int_equal(h->rtt.min, h->rtt.latest);
    assert_int_equal(h->cc.bytes_in_flight, 0);
    h_free(h);

    /* an acknowledgement in the middle splits the span: an ordinary reduction */
    h = h_confirmed(TERN_CC_NEWRENO);
    for (uint64_t pn = 1; pn <= 13; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 100 * MS + pn * 100 * MS, pn < 13), 0);
    tern_pn_range r[2] = {{13, 13}, {6, 6}};
    assert_int_equal(ack(h, TERN_SPACE_APP, r, 2, 0, 1500 * MS), 0);
    assert_int_equal(h->n_lost, 11);
    assert_int_equal(h->n_acked, 2);
    assert_int_equal(h->cc.cwnd, (12000 + MDS) / 2);
    h_free(h);

    /* packets sent before the first RTT sample do not count */
    h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    for (uint64_t pn = 0; pn <= 13; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * 1000 * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 13, 13, 13100 * MS), 0);
    assert_int_equal(h->n_lost, 13);
    assert_int_equal(h->cc.cwnd, 6000);
    h_free(h);
}

static void test_cubic_reduction_via_loss(void **st)
{
    h_t *h = h_confirmed(TERN_CC_CUBIC);
    uint64_t w = h->cc.cwnd;
    for (uint64_t pn = 1; pn <= 4; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 200 * MS + pn * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 4, 4, 300 * MS), 0);
    assert_int_equal(h->n_lost, 1);
    assert_int_equal(h->cc.cwnd, (uint64_t)((double)w * 0.7));
    h_free(h);
}

static void test_ack_of_unsent(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    assert_int_equal(ack1(h, TERN_SPACE_HANDSHAKE, 0, 0, MS), TERN_ERR_PROTO);
    for (uint64_t pn = 0; pn < 5; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 5, 5, 10 * MS), TERN_ERR_PROTO);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 7, 10 * MS), TERN_ERR_PROTO);
    assert_int_equal(h->n_acked, 0);
    /* packet numbers 5 and 6 carried only ACKs (not recorded): acknowledging them is fine */
    tern_recovery_on_unrecorded(&h->r, TERN_SPACE_APP, 5);
    tern_recovery_on_unrecorded(&h->r, TERN_SPACE_APP, 6);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 7, 7 * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 8, 8, 10 * MS), TERN_ERR_PROTO);
    /* a bad range after a good one: the good one is not processed either */
    tern_pn_range bad[2] = {{9, 9}, {5, 5}};
    assert_int_equal(ack(h, TERN_SPACE_APP, bad, 2, 0, 10 * MS), TERN_ERR_PROTO);
    assert_int_equal(h->n_acked + h->n_lost, 0);
    assert_int_equal(h->r.q[TERN_SPACE_APP].largest_acked, UINT64_MAX);
    assert_int_equal(h->cc.bytes_in_flight, 6 * MDS);
    assert_false(h->rtt.has_sample);
    tern_pn_range ok[1] = {{0, 7}};
    assert_int_equal(ack(h, TERN_SPACE_APP, ok, 1, 0, 10 * MS), 0);
    assert_int_equal(h->n_acked, 6);
    assert_int_equal(h->cc.bytes_in_flight, 0);
    /* packet numbers must increase */
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 7, 11 * MS, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 3, 11 * MS, 1), TERN_ERR_INVALID_ARG);
    h_free(h);
}

static void test_discard_space(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    for (uint64_t pn = 0; pn < 3; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, pn, pn * MS, 1), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 3, 3 * MS, 0), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_HANDSHAKE, 0, 4 * MS, 1), 0);
    assert_int_equal(h->cc.bytes_in_flight, 4 * MDS);
    tern_recovery_discard_space(&h->r, TERN_SPACE_INITIAL);
    assert_int_equal(h->cc.bytes_in_flight, MDS);
    assert_int_equal(h->n_acked + h->n_lost, 0);
    assert_int_equal(h->cc.congestion_events, 0);
    assert_int_equal(h->r.q[TERN_SPACE_INITIAL].count, 0);
    assert_true(tern_recovery_has_in_flight(&h->r));
    /* the discarded space takes nothing more */
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 4, 5 * MS, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(ack1(h, TERN_SPACE_INITIAL, 0, 2, 6 * MS), 0);
    assert_int_equal(h->n_acked, 0);
    assert_int_equal(tern_recovery_timer(&h->r, 0), 4 * MS + 999 * MS);
    h_free(h);
}

static void test_declare_all_lost(void **st)
{
    h_t *h = h_new(0, TERN_CC_NEWRENO);
    for (uint64_t pn = 0; pn < 3; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, pn, pn * MS, 1), 0);
    assert_int_equal(tern_recovery_on_timeout(&h->r, 999 * MS + 2 * MS), TERN_SPACE_INITIAL);
    tern_recovery_declare_all_lost(&h->r, TERN_SPACE_INITIAL, 1100 * MS);
    assert_int_equal(h->n_lost, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(h->lost[i], i);
        assert_int_equal(h->lost_space[i], TERN_SPACE_INITIAL);
    }
    assert_int_equal(h->cc.bytes_in_flight, 0);
    assert_int_equal(h->cc.congestion_events, 0);
    assert_int_equal(h->cc.cwnd, 12000);
    assert_int_equal(h->r.pto_count, 0);
    assert_false(tern_recovery_has_in_flight(&h->r));
    /* numbering continues */
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 2, 1100 * MS, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(send_pkt(h, TERN_SPACE_INITIAL, 3, 1100 * MS, 1), 0);
    assert_int_equal(tern_recovery_timer(&h->r, 0), 1100 * MS + 999 * MS);
    h_free(h);
}

/* An idle connection keeps its ring at the size it started with, two records (some 540 bytes of
 * heap instead of the 2 KB of eight): the ring grows by doubling only when more packets are in
 * flight, and keeps its size once they are acknowledged (no allocation per packet afterwards). */
static void test_ring_starts_small(void **st)
{
    (void)st;
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    tern_sentq *q = &h->r.q[TERN_SPACE_APP];
    assert_null(q->ring);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 0, 1000 * MS, 1), 0);
    assert_int_equal(q->cap, 2);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 1, 1001 * MS, 1), 0);
    assert_int_equal(q->cap, 2);
    /* acknowledged, the records leave and the same two slots carry the next packets */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 1, 1020 * MS), 0);
    assert_int_equal(q->count, 0);
    for (uint64_t pn = 2; pn < 4; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 1030 * MS, 1), 0);
    assert_int_equal(q->cap, 2);
    /* a third packet in flight doubles it, and so on up to what is in flight */
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 4, 1031 * MS, 1), 0);
    assert_int_equal(q->cap, 4);
    for (uint64_t pn = 5; pn < 11; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 1032 * MS, 1), 0);
    assert_int_equal(q->count, 9);
    assert_int_equal(q->cap, 16);
    for (size_t i = 0; i < q->count; i++)
        assert_int_equal(q->ring[(q->head + i) & (q->cap - 1)].pn, 2 + i);
    h_free(h);
}

static void test_ring_growth_and_pruning(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    h->cc.cwnd = 10000 * MDS; /* room for the records */
    for (uint64_t pn = 0; pn < 10000; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 1000 * MS + pn * 1000, 1), 0);
    tern_sentq *q = &h->r.q[TERN_SPACE_APP];
    assert_int_equal(q->count, 10000);
    assert_int_equal(q->cap, 16384);
    /* cumulative ACKs every two packets, as a receiver sends them */
    for (uint64_t k = 0; k < 5000; k++) {
        assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 2 * k + 1, 1100 * MS + k * 2000), 0);
        assert_int_equal(h->n_acked, 2 * (k + 1));
        assert_int_equal(q->count, 10000 - 2 * (k + 1));
    }
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(h->acked[i], i);
    assert_int_equal(h->n_lost, 0);
    assert_int_equal(h->cc.bytes_in_flight, 0);

    h_free(h);

    /* a wrapped ring grows in order */
    h = h_new(1, TERN_CC_NEWRENO);
    q = &h->r.q[TERN_SPACE_APP];
    uint64_t pn = 0;
    for (; pn < 60; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * 1000, 1), 0);
    assert_int_equal(q->cap, 64);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 49, 100 * MS), 0);
    assert_int_equal(q->head, 50);
    for (; pn < 150; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 100 * MS + pn * 1000, 1), 0);
    assert_int_equal(q->cap, 128);
    assert_int_equal(q->count, 100);
    for (size_t i = 0; i < q->count; i++)
        assert_int_equal(q->ring[(q->head + i) & (q->cap - 1)].pn, 50 + i);
    tern_pn_range r[2] = {{100, 149}, {50, 98}};
    assert_int_equal(ack(h, TERN_SPACE_APP, r, 2, 0, 200 * MS), 0);
    assert_int_equal(h->n_acked, 149);
    for (size_t i = 0; i < 149; i++)
        assert_int_equal(h->acked[i], i < 99 ? i : i + 1);
    assert_int_equal(h->n_lost, 1);
    assert_int_equal(h->lost[0], 99);
    /* 99 is kept aside (lost, maybe only late) and holds nothing behind it in the ring */
    assert_int_equal(q->count, 0);
    assert_int_equal(tern_recovery_records(&h->r, TERN_SPACE_APP), 1);
    assert_int_equal(q->lost.v[q->lost.start].pn, 99);
    /* kept for three PTOs, then forgotten (ACKs of packets that are not ack-eliciting leave the
     * RTT, and so the keep time, as it is) */
    tern_tstamp keep = 3 * tern_rtt_pto(&h->rtt, h->r.max_ack_delay), t99 = 100 * MS + 99 * 1000;
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 200 * MS, 0), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, pn, pn, t99 + keep - 1), 0);
    assert_int_equal(tern_recovery_records(&h->r, TERN_SPACE_APP), 1);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn + 1, 200 * MS, 0), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, pn + 1, pn + 1, t99 + keep), 0);
    assert_int_equal(tern_recovery_records(&h->r, TERN_SPACE_APP), 0);
    h_free(h);
}

/* Packets 0..9 sent a millisecond apart; 0 is overtaken by 1..9 and declared lost by the packet
 * threshold at 30 ms. */
static h_t *h_zero_overtaken(void)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    for (uint64_t pn = 0; pn < 10; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * MS, 1), 0);
    tern_pn_range r1 = {1, 9};
    assert_int_equal(ack(h, TERN_SPACE_APP, &r1, 1, 0, 30 * MS), 0);
    assert_int_equal(h->n_lost, 1);
    assert_int_equal(h->lost[0], 0);
    return h;
}

static void test_spurious_loss_widens_thresholds(void **st)
{
    h_t *h = h_zero_overtaken();
    assert_int_equal(h->r.pkt_thresh, 3);
    assert_true(h->cc.cwnd < h->cc.undo.cwnd);
    uint64_t before = h->cc.undo.cwnd;
    /* then it arrives after all: a spurious loss; the thresholds widen, its frames are acked and
     * the window reduction it caused is undone */
    tern_pn_range r2 = {0, 9};
    size_t acked_before = h->n_acked;
    assert_int_equal(ack(h, TERN_SPACE_APP, &r2, 1, 0, 31 * MS), 0);
    assert_true(h->cc.cwnd >= before);
    assert_int_equal(h->cc.congestion_undone, 1);
    assert_int_equal(h->n_acked, acked_before + 1);
    assert_int_equal(h->r.spurious_losses, 1);
    assert_int_equal(h->r.pkt_thresh, 10);
    assert_int_equal(h->r.time_eighths, 11);
    /* it was 31 ms late (sent at 0): the time threshold now waits that long, up to the cap */
    assert_int_equal(h->r.reorder_floor, TERN_MAX_REORDER_FLOOR);
    /* the same reordering distance now goes unpunished */
    for (uint64_t pn = 10; pn < 20; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 32 * MS, 1), 0);
    tern_pn_range r3 = {11, 19};
    assert_int_equal(ack(h, TERN_SPACE_APP, &r3, 1, 0, 33 * MS), 0);
    assert_int_equal(h->n_lost, 1);
    h_free(h);
}

static void test_record_bound(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    /* the configured bound caps everything */
    h->r.max_in_flight_records = 10;
    uint64_t pn = 0;
    for (int i = 0; i < 10; i++, pn++) {
        assert_true(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * MS, 1), 0);
    }
    assert_false(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
    /* PTO probes have a reserve beyond the bound: with every record lost and none acknowledged,
     * nothing else could ever free one */
    for (int i = 0; i < TERN_RECOVERY_PROBE_RECORDS; i++, pn++) {
        assert_false(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
        assert_true(tern_recovery_can_record_probe(&h->r, TERN_SPACE_APP));
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 20 * MS, 1), 0);
    }
    assert_false(tern_recovery_can_record_probe(&h->r, TERN_SPACE_APP));
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 24 * MS, 1), TERN_ERR_NOMEM);
    assert_int_equal(h->r.q[TERN_SPACE_APP].count, 10 + TERN_RECOVERY_PROBE_RECORDS);
    /* the refused packet left no trace */
    assert_int_equal(h->cc.bytes_in_flight, (10 + TERN_RECOVERY_PROBE_RECORDS) * MDS);
    /* an ACK of the first ten frees room; the reserve is whole again once the space was below
     * its bound */
    tern_pn_range r[1] = {{0, 9}};
    assert_int_equal(ack(h, TERN_SPACE_APP, r, 1, 0, 30 * MS), 0);
    assert_int_equal(h->n_acked, 10);
    assert_true(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
    for (; h->r.q[TERN_SPACE_APP].count < 10; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 31 * MS, 1), 0);
    assert_false(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
    for (int i = 0; i < TERN_RECOVERY_PROBE_RECORDS; i++, pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 32 * MS, 1), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, 32 * MS, 1), TERN_ERR_NOMEM);
    h_free(h);

    /* otherwise a multiple of the congestion window in full-size packets, with a floor: small
     * packets reach it long before the window is used */
    h = h_new(1, TERN_CC_NEWRENO);
    assert_int_equal(tern_recovery_record_limit(&h->r), TERN_RECOVERY_MIN_RECORDS);
    h->cc.cwnd = 100 * MDS;
    assert_int_equal(tern_recovery_record_limit(&h->r), 100 * TERN_RECOVERY_CWND_RECORDS);
    tern_sent_pkt p;
    memset(&p, 0, sizeof(p));
    p.size = 40;
    p.ack_eliciting = p.in_flight = 1;
    for (pn = 0; pn < 100 * TERN_RECOVERY_CWND_RECORDS; pn++) {
        p.pn = pn;
        assert_int_equal(tern_recovery_on_sent(&h->r, TERN_SPACE_APP, &p), 0);
    }
    p.pn = pn;
    assert_false(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
    assert_true(h->cc.bytes_in_flight < h->cc.cwnd);
    h_free(h);

    /* the bound counts datagrams of the base size whatever the path's MTU: a window that left in
     * 1200-byte packets before a jumbo size was found stays within it */
    h = h_new(1, TERN_CC_NEWRENO);
    h->cc.cwnd = 100 * MDS;
    h->cc.max_datagram_size = 8972;
    assert_int_equal(tern_recovery_record_limit(&h->r), 100 * TERN_RECOVERY_CWND_RECORDS);
    p.size = MDS;
    for (pn = 0; pn < 100; pn++) {
        p.pn = pn;
        assert_true(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
        assert_int_equal(tern_recovery_on_sent(&h->r, TERN_SPACE_APP, &p), 0);
    }
    assert_true(tern_recovery_can_record(&h->r, TERN_SPACE_APP));
    h_free(h);

    /* packets admitted by other paths' windows (the bytes in flight) raise the limit with them */
    h = h_new(1, TERN_CC_NEWRENO);
    h->cc.cwnd = 2 * MDS;
    p.size = MDS;
    for (pn = 0; pn < 2 * TERN_RECOVERY_MIN_RECORDS; pn++) {
        p.pn = pn;
        assert_int_equal(tern_recovery_on_sent(&h->r, TERN_SPACE_APP, &p), 0);
    }
    h_free(h);
}

/* A bad range found after a spurious loss leaves everything as it was: thresholds, the record's
 * lost state and the counters; the same loss then counts once the ACK is valid. */
static void test_bad_ack_changes_nothing(void **st)
{
    h_t *h = h_zero_overtaken();
    size_t acked = h->n_acked;
    uint64_t inflight = h->cc.bytes_in_flight;
    /* 0 arrives late, but a second range is malformed (lo > hi), or not descending */
    tern_pn_range bad1[2] = {{0, 9}, {5, 3}};
    assert_int_equal(ack(h, TERN_SPACE_APP, bad1, 2, 0, 31 * MS), TERN_ERR_PROTO);
    tern_pn_range bad2[2] = {{5, 9}, {0, 6}};
    assert_int_equal(ack(h, TERN_SPACE_APP, bad2, 2, 0, 31 * MS), TERN_ERR_PROTO);
    assert_int_equal(h->r.pkt_thresh, 3);
    assert_int_equal(h->r.time_eighths, 9);
    assert_int_equal(h->r.spurious_losses, 0);
    assert_int_equal(h->n_acked, acked);
    assert_int_equal(h->cc.bytes_in_flight, inflight);
    tern_pn_range good = {0, 9};
    assert_int_equal(ack(h, TERN_SPACE_APP, &good, 1, 0, 32 * MS), 0);
    assert_int_equal(h->r.spurious_losses, 1);
    assert_int_equal(h->r.pkt_thresh, 10);
    assert_int_equal(h->n_acked, acked + 1);
    h_free(h);
}

/* An ACK naming a packet number we skipped on purpose is an optimistic ACK: PROTOCOL_VIOLATION,
 * nothing changed. ACKs around the gap are fine. */
static void test_skipped_pn(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    for (uint64_t pn = 0; pn < 5; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * MS, 1), 0);
    tern_recovery_on_skipped(&h->r, TERN_SPACE_APP, 5);
    for (uint64_t pn = 6; pn < 10; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * MS, 1), 0);
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 5, 10 * MS, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 9, 30 * MS), TERN_ERR_PROTO);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 5, 5, 30 * MS), TERN_ERR_PROTO);
    assert_int_equal(h->n_acked, 0);
    assert_int_equal(h->cc.bytes_in_flight, 9 * MDS);
    tern_pn_range r[2] = {{6, 9}, {0, 4}};
    assert_int_equal(ack(h, TERN_SPACE_APP, r, 2, 0, 30 * MS), 0);
    assert_int_equal(h->n_acked, 9);
    assert_int_equal(h->n_lost, 0);
    assert_int_equal(h->cc.bytes_in_flight, 0);
    /* still remembered after it was passed */
    assert_int_equal(ack1(h, TERN_SPACE_APP, 4, 6, 31 * MS), TERN_ERR_PROTO);
    h_free(h);
}

/* With one loss per round trip, the lost packet must not hold a window of acknowledged records
 * behind it: the ring holds about one window of outstanding packets, and the lost list the losses
 * of two smoothed RTTs. */
static void test_loss_holds_no_acked_records(void **st)
{
    enum { W = 1000 };
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    h->cc.cwnd = 4 * W * MDS;
    tern_tstamp step = 100 * MS / W, now = 0;
    size_t most = 0;
    for (uint64_t pn = 0; pn < 6 * W; pn++) {
        now += step;
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, now, 1), 0);
        if (pn < W)
            continue;
        uint64_t hi = pn - W + 1;
        /* the receiver never got pn = k * W + W / 2 */
        tern_pn_range r[8];
        size_t n = 0;
        uint64_t top = hi;
        if (top >= W / 2 && (top - W / 2) % W == 0)
            top--;
        while (n < 8) {
            int none = top < W / 2;
            uint64_t l = none ? 0 : (top - W / 2) / W * W + W / 2;
            r[n].lo = none ? 0 : l + 1;
            r[n].hi = top;
            n++;
            if (none || l == 0)
                break;
            top = l - 1;
        }
        assert_int_equal(ack(h, TERN_SPACE_APP, r, n, 0, now), 0);
        size_t held = tern_recovery_records(&h->r, TERN_SPACE_APP);
        if (held > most)
            most = held;
    }
    assert_true(h->n_lost >= 5);
    assert_true(h->r.q[TERN_SPACE_APP].count <= W + 8);
    assert_true(most <= W + 16);
    h_free(h);
}

/* A space outside the three is refused (TERN_ERR_INVALID_ARG, nothing recorded, 0 records, no
 * room) or ignored, and so are a missing packet, too many frames and a missing range list: the
 * records and bytes in flight of the real spaces stay as they were. */
static void test_bad_space_refused(void **st)
{
    h_t *h = h_new(1, TERN_CC_NEWRENO);
    h->r.handshake_confirmed = 1;
    for (uint64_t pn = 0; pn < 3; pn++)
        assert_int_equal(send_pkt(h, TERN_SPACE_APP, pn, pn * MS, 1), 0);
    const int bad[2] = {-1, TERN_SPACE_COUNT};
    for (int k = 0; k < 2; k++) {
        int sp = bad[k];
        assert_int_equal(send_pkt(h, sp, 10, 5 * MS, 1), TERN_ERR_INVALID_ARG);
        assert_int_equal(ack1(h, sp, 0, 2, 6 * MS), TERN_ERR_INVALID_ARG);
        assert_int_equal(tern_recovery_can_record(&h->r, sp), 0);
        assert_int_equal(tern_recovery_records(&h->r, sp), 0);
        tern_recovery_on_skipped(&h->r, sp, 20);
        tern_recovery_discard_space(&h->r, sp);
        tern_recovery_declare_all_lost(&h->r, sp, 7 * MS);
        tern_recovery_on_unrecorded(&h->r, sp, 30);
    }
    assert_int_equal(tern_recovery_on_sent(&h->r, TERN_SPACE_APP, NULL), TERN_ERR_INVALID_ARG);
    tern_sent_pkt big;
    memset(&big, 0, sizeof(big));
    big.pn = 3;
    big.n_frames = TERN_SENT_MAX_FRAMES + 1;
    assert_int_equal(tern_recovery_on_sent(&h->r, TERN_SPACE_APP, &big), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_recovery_on_ack(&h->r, TERN_SPACE_APP, NULL, 0, 8 * MS),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(h->n_acked + h->n_lost, 0);
    assert_int_equal(tern_recovery_records(&h->r, TERN_SPACE_APP), 3);
    assert_int_equal(h->cc.bytes_in_flight, 3 * MDS);
    /* the next packet number is still 3, and an ACK of all three still acknowledges them */
    assert_int_equal(send_pkt(h, TERN_SPACE_APP, 3, 9 * MS, 1), 0);
    assert_int_equal(ack1(h, TERN_SPACE_APP, 0, 3, 10 * MS), 0);
    assert_int_equal(h->n_acked, 4);
    assert_int_equal(h->cc.bytes_in_flight, 0);
    h_free(h);
}

/* Multipath: path ID 1's space (TERN_SPACE_APP + 1) exists only once opened; its packet numbers
 * are its own (pn 0 again), its ACKs sample and feed only its path's estimator and controller,
 * its losses and PTO are its own, and closing it frees its records. */
typedef struct mp_h {
    h_t *h;
    tern_rtt rtt1;
    tern_cc cc1;
} mp_h;

static mp_h *mp_of;

static tern_cc *mp_cc(void *ud, uint8_t path_id)
{
    (void)ud;
    return path_id == 1 ? &mp_of->cc1 : NULL;
}

static tern_rtt *mp_rtt(void *ud, uint8_t path_id)
{
    (void)ud;
    return path_id == 1 ? &mp_of->rtt1 : NULL;
}

static int send_on(h_t *h, int space, uint8_t path, uint64_t pn, tern_tstamp t)
{
    tern_sent_pkt p;
    memset(&p, 0, sizeof(p));
    p.pn = pn;
    p.time_sent = t;
    p.size = MDS;
    p.ack_eliciting = p.in_flight = 1;
    p.path_id = path;
    p.n_frames = 1;
    p.frames[0].type = TERN_FT_STREAM;
    p.frames[0].off = pn * 10;
    return tern_recovery_on_sent(&h->r, space, &p);
}

static void test_path_id_spaces(void **st)
{
    (void)st;
    mp_h m;
    mp_of = &m;
    m.h = h_confirmed(TERN_CC_NEWRENO);
    h_t *h = m.h;
    tern_rtt_init(&m.rtt1);
    tern_cc_init(&m.cc1, TERN_CC_NEWRENO, MDS);
    h->r.cb.path_cc = mp_cc;
    h->r.cb.path_rtt = mp_rtt;
    const int sp1 = TERN_SPACE_APP + 1;
    assert_int_equal(tern_recovery_space_exists(&h->r, sp1), 0);
    assert_int_equal(send_on(h, sp1, 1, 0, 200 * MS), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_recovery_space_open(&h->r, TERN_SPACE_APP, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_recovery_space_open(&h->r, TERN_RECOVERY_SPACES, 1),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_recovery_space_open(&h->r, sp1, 1), 0);
    assert_int_equal(tern_recovery_space_exists(&h->r, sp1), 1);
    /* the same packet numbers in both spaces */
    for (uint64_t pn = 0; pn < 5; pn++) {
        assert_int_equal(send_on(h, sp1, 1, pn, 200 * MS + pn * MS), 0);
        assert_int_equal(send_on(h, TERN_SPACE_APP, 0, pn + 1, 200 * MS + pn * MS), 0);
    }
    assert_int_equal(tern_recovery_records(&h->r, sp1), 5);
    assert_int_equal(m.cc1.bytes_in_flight, 5 * MDS);
    assert_int_equal(h->cc.bytes_in_flight, 5 * MDS);
    /* path 1 acknowledges 3 and 4 (20 ms after 4 left): its estimator only, and 0 and 1 are
     * lost by the packet threshold there, in that space only */
    tern_pn_range r = {3, 4};
    assert_int_equal(ack(h, sp1, &r, 1, 0, 224 * MS), 0);
    assert_true(m.rtt1.has_sample);
    assert_int_equal(m.rtt1.latest, 20 * MS);
    assert_int_equal(h->rtt.smoothed, 100 * MS);
    assert_int_equal(h->n_acked, 2);
    assert_int_equal(h->acked_space[0], sp1);
    assert_int_equal(h->n_lost, 2);
    assert_int_equal(h->lost_space[0], sp1);
    assert_int_equal(h->lost_space[1], sp1);
    assert_int_equal(h->lost[0], 0);
    assert_int_equal(h->lost[1], 1);
    assert_int_equal(m.cc1.bytes_in_flight, 1 * MDS); /* 2 */
    assert_int_equal(h->cc.bytes_in_flight, 5 * MDS);
    /* an ACK of a pn path 1 never sent is refused in its space */
    assert_int_equal(ack1(h, sp1, 5, 5, 225 * MS), TERN_ERR_PROTO);
    assert_int_equal(send_on(h, sp1, 1, 5, 225 * MS), 0);
    /* its PTO is its path's (20 ms RTT): it fires long before path 0's (100 ms), for its space,
     * and backs off on its own count */
    tern_tstamp t = tern_recovery_timer(&h->r, 225 * MS);
    assert_true(t < 300 * MS);
    int sp = -1;
    for (int k = 0; k < 10 && sp != sp1; k++) {
        t = tern_recovery_timer(&h->r, t);
        sp = tern_recovery_on_timeout(&h->r, t);
    }
    assert_int_equal(sp, sp1);
    assert_int_equal(tern_recovery_pto_count(&h->r, sp1), 1);
    assert_int_equal(tern_recovery_pto_count(&h->r, TERN_SPACE_APP), 0);
    /* closing frees its records and its bytes in flight; it can start again from pn 0 */
    tern_recovery_space_close(&h->r, sp1);
    assert_int_equal(tern_recovery_space_exists(&h->r, sp1), 0);
    assert_int_equal(tern_recovery_records(&h->r, sp1), 0);
    assert_int_equal(m.cc1.bytes_in_flight, 0);
    assert_int_equal(tern_recovery_space_open(&h->r, sp1, 1), 0);
    assert_int_equal(send_on(h, sp1, 1, 0, 400 * MS), 0);
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_basic),
        cmocka_unit_test(test_path_id_spaces),
        cmocka_unit_test(test_rtt_sample_rules),
        cmocka_unit_test(test_ack_delay_per_space),
        cmocka_unit_test(test_packet_then_time_threshold),
        cmocka_unit_test(test_lost_mtu_probe_no_congestion),
        cmocka_unit_test(test_pto_backoff),
        cmocka_unit_test(test_pto_space_choice),
        cmocka_unit_test(test_client_anti_deadlock),
        cmocka_unit_test(test_persistent_congestion),
        cmocka_unit_test(test_cubic_reduction_via_loss),
        cmocka_unit_test(test_ack_of_unsent),
        cmocka_unit_test(test_discard_space),
        cmocka_unit_test(test_declare_all_lost),
        cmocka_unit_test(test_ring_starts_small),
        cmocka_unit_test(test_ring_growth_and_pruning),
        cmocka_unit_test(test_spurious_loss_widens_thresholds),
        cmocka_unit_test(test_record_bound),
        cmocka_unit_test(test_bad_ack_changes_nothing),
        cmocka_unit_test(test_skipped_pn),
        cmocka_unit_test(test_loss_holds_no_acked_records),
        cmocka_unit_test(test_bad_space_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
