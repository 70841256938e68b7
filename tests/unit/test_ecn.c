/* ECN validation of a path (RFC 9000 §13.4.2, Appendix A.4) step by step: the testing period, each
 * way validation fails, success, a shortfall charged to the new path of a migration, and CE as a
 * congestion signal (RFC 9002 §7.1: one reduction per recovery period, never undone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cc.h"
#include "ecn.h"

#define MS TERN_NS_PER_MS
#define PTO (100 * MS)

/* A path that sent `n` recorded marked packets at t = 1 s (still testing while n < 10). */
static void sent(tern_ecn_path *e, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(tern_ecn_mark(e, 1000 * MS, PTO), TERN_ECN_ECT0);
        tern_ecn_on_sent(e, 1, 1000 * MS);
    }
}

/* One ACK newly acknowledging `acked` marked packets of the single path `e`. */
static uint64_t ack(tern_ecn_counts *seen, tern_ecn_path *e, uint32_t acked,
                    const tern_ecn_counts *got)
{
    tern_ecn_path *v[1] = {e};
    e->acked_ect = acked;
    return tern_ecn_on_ack(seen, got, v, 1);
}

static void test_testing_period_by_packets(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    assert_int_equal(e.state, TERN_ECN_STATE_TESTING);
    sent(&e, TERN_ECN_TESTING_PACKETS);
    assert_int_equal(e.testing_sent, 10);
    assert_int_equal(e.sent, 10);
    /* the eleventh is not marked: the test waits for an acknowledgement */
    assert_int_equal(tern_ecn_mark(&e, 1001 * MS, PTO), TERN_ECN_NOT_ECT);
    assert_int_equal(e.state, TERN_ECN_STATE_UNKNOWN);
    /* unrecorded packets (ACK-only) are marked but do not count for the test */
    tern_ecn_init(&e);
    tern_ecn_on_sent(&e, 0, 1000 * MS);
    assert_int_equal(e.testing_sent, 0);
    assert_int_equal(e.testing_start, 0);
    assert_int_equal(e.sent, 1);
}

static void test_testing_period_by_time(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    sent(&e, 2);
    assert_int_equal(tern_ecn_mark(&e, 1000 * MS + 3 * PTO - 1, PTO), TERN_ECN_ECT0);
    assert_int_equal(tern_ecn_mark(&e, 1000 * MS + 3 * PTO, PTO), TERN_ECN_NOT_ECT);
    assert_int_equal(e.state, TERN_ECN_STATE_UNKNOWN);
}

static void test_validated(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {5, 0, 0};
    sent(&e, 10);
    assert_int_equal(ack(&seen, &e, 5, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(seen.ect0, 5);
    /* capable: everything is marked again, with no end */
    for (int i = 0; i < 100; i++)
        assert_int_equal(tern_ecn_mark(&e, (2000 + (uint64_t)i) * MS, PTO), TERN_ECN_ECT0);
    /* counts above the acknowledged packets (marked ACK-only packets) are fine */
    got = (tern_ecn_counts){20, 0, 0};
    assert_int_equal(ack(&seen, &e, 5, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_CAPABLE);
}

static void test_validated_with_ce(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {3, 0, 2};
    sent(&e, 5);
    /* ECT(0) + CE cover the 5 packets: validated, and the 2 marks are congestion */
    assert_int_equal(ack(&seen, &e, 5, &got), 2);
    assert_int_equal(e.state, TERN_ECN_STATE_CAPABLE);
    got = (tern_ecn_counts){6, 0, 5};
    assert_int_equal(ack(&seen, &e, 6, &got), 3);
}

static void test_fail_no_counts(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0};
    sent(&e, 3);
    /* an ACK of no marked packet and without counts says nothing */
    assert_int_equal(ack(&seen, &e, 0, NULL), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_TESTING);
    assert_int_equal(ack(&seen, &e, 1, NULL), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(e.failure, TERN_ECN_FAIL_NO_COUNTS);
    assert_int_equal(tern_ecn_mark(&e, 1001 * MS, PTO), TERN_ECN_NOT_ECT);
    /* a failed path is not revived by later good counts */
    tern_ecn_counts got = {10, 0, 0};
    assert_int_equal(ack(&seen, &e, 2, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
}

static void test_fail_decreased(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {4, 0, 1};
    sent(&e, 10);
    assert_int_equal(ack(&seen, &e, 5, &got), 1);
    assert_int_equal(e.state, TERN_ECN_STATE_CAPABLE);
    got = (tern_ecn_counts){9, 0, 0}; /* CE went down */
    assert_int_equal(ack(&seen, &e, 5, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(e.failure, TERN_ECN_FAIL_DECREASED);
    assert_int_equal(seen.ce, 1); /* the largest counts stay the reference */
}

static void test_fail_ect1(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {0, 4, 0};
    sent(&e, 4);
    assert_int_equal(ack(&seen, &e, 4, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(e.failure, TERN_ECN_FAIL_ECT1);
}

static void test_fail_bleached(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {0, 0, 0};
    sent(&e, 4);
    /* ACK_ECN with zero counts for 4 marked packets: the marks were cleared on the way */
    assert_int_equal(ack(&seen, &e, 4, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(e.failure, TERN_ECN_FAIL_BLEACHED);
    /* one short is enough */
    tern_ecn_init(&e);
    seen = (tern_ecn_counts){0};
    got = (tern_ecn_counts){3, 0, 0};
    sent(&e, 4);
    ack(&seen, &e, 4, &got);
    assert_int_equal(e.failure, TERN_ECN_FAIL_BLEACHED);
}

static void test_fail_remarked_ce(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {0, 0, 6};
    sent(&e, 6);
    assert_int_equal(ack(&seen, &e, 6, &got), 0);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(e.failure, TERN_ECN_FAIL_REMARKED_CE);
}

static void test_fail_all_lost(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    sent(&e, 10);
    for (int i = 0; i < 9; i++)
        tern_ecn_on_lost(&e);
    assert_int_equal(e.state, TERN_ECN_STATE_TESTING);
    tern_ecn_on_lost(&e);
    /* the test is over at the next mark decision, all of it lost */
    assert_int_equal(tern_ecn_mark(&e, 1001 * MS, PTO), TERN_ECN_NOT_ECT);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(e.failure, TERN_ECN_FAIL_LOST);
    /* some lost, some not: still waiting for an acknowledgement */
    tern_ecn_init(&e);
    sent(&e, 10);
    (void)tern_ecn_mark(&e, 1001 * MS, PTO);
    for (int i = 0; i < 9; i++)
        tern_ecn_on_lost(&e);
    assert_int_equal(e.state, TERN_ECN_STATE_UNKNOWN);
    tern_ecn_on_lost(&e);
    assert_int_equal(e.state, TERN_ECN_STATE_FAILED);
    /* a capable path losing packets is congestion, not an ECN failure */
    tern_ecn_init(&e);
    tern_ecn_counts seen = {0}, got = {1, 0, 0};
    sent(&e, 1);
    ack(&seen, &e, 1, &got);
    for (int i = 0; i < 20; i++)
        tern_ecn_on_lost(&e);
    assert_int_equal(e.state, TERN_ECN_STATE_CAPABLE);
}

/* A migration: the old path is capable, the new one bleaches, one ACK covers packets of both. */
static void test_shortfall_charged_to_new_path(void **st)
{
    tern_ecn_path a, b;
    tern_ecn_init(&a);
    tern_ecn_init(&b);
    tern_ecn_counts seen = {0}, got = {10, 0, 0};
    sent(&a, 10);
    ack(&seen, &a, 10, &got);
    assert_int_equal(a.state, TERN_ECN_STATE_CAPABLE);
    sent(&b, 4);
    a.acked_ect = 6;
    b.acked_ect = 4;
    got = (tern_ecn_counts){16, 0, 0}; /* a's 6 counted, b's 4 not */
    tern_ecn_path *v[2] = {&a, &b};
    assert_int_equal(tern_ecn_on_ack(&seen, &got, v, 2), 0);
    assert_int_equal(a.state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(b.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(b.failure, TERN_ECN_FAIL_BLEACHED);

    /* a shortfall larger than the new path's packets fails both */
    tern_ecn_init(&b);
    sent(&b, 2);
    a.acked_ect = 6;
    b.acked_ect = 2;
    got = (tern_ecn_counts){19, 0, 0}; /* 3 of 8 counted */
    assert_int_equal(tern_ecn_on_ack(&seen, &got, v, 2), 0);
    assert_int_equal(a.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(b.state, TERN_ECN_STATE_FAILED);

    /* both good: the new path validates next to the old one */
    tern_ecn_init(&a);
    tern_ecn_init(&b);
    a.state = TERN_ECN_STATE_CAPABLE;
    sent(&b, 3);
    a.acked_ect = 2;
    b.acked_ect = 3;
    got = (tern_ecn_counts){24, 0, 0};
    assert_int_equal(tern_ecn_on_ack(&seen, &got, v, 2), 0);
    assert_int_equal(b.state, TERN_ECN_STATE_CAPABLE);
}

/* The old path's ACK-only packets were marked too and count in the same packet number space: on
 * a real kernel they made the first counts after a migration cover the new path's packets,
 * which bleached, so the new path was called capable, then both failed at the next ACK. */
static void test_other_paths_ack_only_marks_vouch_for_nothing(void **st)
{
    tern_ecn_path a, b;
    tern_ecn_init(&a);
    tern_ecn_init(&b);
    tern_ecn_counts seen = {0}, got = {1, 0, 0};
    tern_ecn_path *v[2] = {&a, &b};
    sent(&a, 1);
    a.acked_ect = 1;
    tern_ecn_on_ack(&seen, &got, v, 2);
    assert_int_equal(a.state, TERN_ECN_STATE_CAPABLE);
    /* a: 10 ACK-only packets, all counted; b (new, bleaching): 2 recorded, none counted */
    for (int i = 0; i < 10; i++)
        tern_ecn_on_sent(&a, 0, 1100 * MS);
    sent(&b, 2);
    a.acked_ect = 1;
    b.acked_ect = 2;
    got = (tern_ecn_counts){1 + 1 + 10, 0, 0};
    assert_int_equal(tern_ecn_on_ack(&seen, &got, v, 2), 0);
    assert_int_equal(a.state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(b.state, TERN_ECN_STATE_TESTING); /* not proven by a's marks */
    /* b alone next: nothing counted, b fails and a is untouched */
    a.acked_ect = 0;
    b.acked_ect = 1;
    assert_int_equal(tern_ecn_on_ack(&seen, &got, v, 2), 0);
    assert_int_equal(b.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(b.failure, TERN_ECN_FAIL_BLEACHED);
    a.acked_ect = 1;
    b.acked_ect = 0;
    got.ect0++;
    tern_ecn_on_ack(&seen, &got, v, 2);
    assert_int_equal(a.state, TERN_ECN_STATE_CAPABLE);

    /* a new path: counts that cover its packet and all of a's ACK-only packets prove it */
    tern_ecn_init(&b);
    sent(&b, 3);
    for (int i = 0; i < 5; i++)
        tern_ecn_on_sent(&a, 0, 1200 * MS);
    a.acked_ect = 0;
    b.acked_ect = 1;
    got.ect0 += 1 + 5;
    tern_ecn_on_ack(&seen, &got, v, 2);
    assert_int_equal(b.state, TERN_ECN_STATE_CAPABLE);
    /* counts that a's ACK-only packets alone could explain do not, until those are out of the
     * window (two frames) */
    tern_ecn_init(&b);
    sent(&b, 4);
    for (int i = 0; i < 5; i++)
        tern_ecn_on_sent(&a, 0, 1200 * MS);
    b.acked_ect = 1;
    got.ect0 += 5;
    tern_ecn_on_ack(&seen, &got, v, 2);
    assert_int_equal(b.state, TERN_ECN_STATE_TESTING);
    int frames = 0;
    while (b.state == TERN_ECN_STATE_TESTING && frames < 5) {
        b.acked_ect = 1;
        got.ect0 += 1;
        tern_ecn_on_ack(&seen, &got, v, 2);
        frames++;
    }
    assert_int_equal(b.state, TERN_ECN_STATE_CAPABLE);
    assert_true(frames >= 2 && frames <= 3);
    /* its own ACK-only marks do not hold it back */
    tern_ecn_init(&b);
    sent(&b, 1);
    for (int i = 0; i < 5; i++)
        tern_ecn_on_sent(&b, 0, 1300 * MS);
    b.acked_ect = 1;
    got.ect0 += 1 + 5;
    tern_ecn_on_ack(&seen, &got, v, 2);
    assert_int_equal(b.state, TERN_ECN_STATE_CAPABLE);
}

static void test_recv_counts_and_names(void **st)
{
    tern_ecn_path e;
    tern_ecn_init(&e);
    tern_ecn_on_recv(&e, TERN_ECN_ECT0);
    tern_ecn_on_recv(&e, TERN_ECN_ECT0);
    tern_ecn_on_recv(&e, TERN_ECN_ECT1);
    tern_ecn_on_recv(&e, TERN_ECN_CE);
    tern_ecn_on_recv(&e, TERN_ECN_NOT_ECT);
    assert_int_equal(e.recv[0], 2);
    assert_int_equal(e.recv[1], 1);
    assert_int_equal(e.recv[2], 1);
    assert_string_equal(tern_ecn_state_str(TERN_ECN_STATE_TESTING), "testing");
    assert_string_equal(tern_ecn_state_str(TERN_ECN_STATE_UNKNOWN), "unknown");
    assert_string_equal(tern_ecn_state_str(TERN_ECN_STATE_CAPABLE), "capable");
    assert_string_equal(tern_ecn_state_str(TERN_ECN_STATE_FAILED), "failed");
    assert_string_equal(tern_ecn_state_str(TERN_ECN_STATE_OFF), "off");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_NONE), "none");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_NO_COUNTS), "no_counts");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_DECREASED), "decreased");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_ECT1), "ect1");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_BLEACHED), "bleached");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_REMARKED_CE), "remarked_ce");
    assert_string_equal(tern_ecn_failure_str(TERN_ECN_FAIL_LOST), "lost");
    assert_string_equal(tern_ecn_state_str(5), "invalid");
    assert_string_equal(tern_ecn_failure_str(7), "invalid");
    assert_string_equal(tern_ecn_failure_str(-1), "invalid");
}

/* RFC 9002 §7.1: a CE reduction is once per recovery period and is never undone. */
static void test_cc_on_ce(void **st)
{
    tern_cc cc;
    tern_cc_init(&cc, TERN_CC_NEWRENO, 1200);
    uint64_t w0 = cc.cwnd;
    assert_int_equal(tern_cc_on_ce(&cc, 10 * MS, 20 * MS), 1);
    assert_int_equal(cc.cwnd, w0 / 2);
    assert_int_equal(cc.congestion_events, 1);
    /* more marks for packets sent before the reduction: the same round trip, no second cut */
    assert_int_equal(tern_cc_on_ce(&cc, 15 * MS, 25 * MS), 0);
    assert_int_equal(cc.cwnd, w0 / 2);
    /* a later packet: a new reduction */
    assert_int_equal(tern_cc_on_ce(&cc, 30 * MS, 40 * MS), 1);
    assert_int_equal(cc.cwnd, w0 / 4);
    /* a loss reduction whose period also saw CE is not undone by the loss proving spurious */
    tern_cc_init(&cc, TERN_CC_NEWRENO, 1200);
    tern_cc_on_congestion(&cc, 10 * MS, 20 * MS);
    tern_cc_on_lost(&cc, 10 * MS, 1);
    assert_int_equal(tern_cc_on_ce(&cc, 12 * MS, 22 * MS), 0);
    tern_cc_on_spurious(&cc, 10 * MS);
    assert_int_equal(cc.cwnd, w0 / 2);
    assert_int_equal(cc.congestion_undone, 0);
    /* without the CE it would have been undone */
    tern_cc_init(&cc, TERN_CC_NEWRENO, 1200);
    tern_cc_on_congestion(&cc, 10 * MS, 20 * MS);
    tern_cc_on_lost(&cc, 10 * MS, 1);
    tern_cc_on_spurious(&cc, 10 * MS);
    assert_int_equal(cc.cwnd, w0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_testing_period_by_packets),
        cmocka_unit_test(test_testing_period_by_time),
        cmocka_unit_test(test_validated),
        cmocka_unit_test(test_validated_with_ce),
        cmocka_unit_test(test_fail_no_counts),
        cmocka_unit_test(test_fail_decreased),
        cmocka_unit_test(test_fail_ect1),
        cmocka_unit_test(test_fail_bleached),
        cmocka_unit_test(test_fail_remarked_ce),
        cmocka_unit_test(test_fail_all_lost),
        cmocka_unit_test(test_shortfall_charged_to_new_path),
        cmocka_unit_test(test_other_paths_ack_only_marks_vouch_for_nothing),
        cmocka_unit_test(test_recv_counts_and_names),
        cmocka_unit_test(test_cc_on_ce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
