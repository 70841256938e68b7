/* Path MTU discovery's state machine (pmtud.c): the base size, the limits, the order of the
 * probes of a search, MAX_PROBES, black-hole detection, the raise timer and late answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pmtud.h"

#define MS TERN_NS_PER_MS
#define RAISE_MS 600000

static uint64_t g_pn;

/* Sends the due probe and returns its size (0: none due). */
static size_t send_probe(tern_pmtud *m, tern_tstamp now)
{
    size_t size = tern_pmtud_probe_due(m);
    if (size)
        tern_pmtud_on_probe_sent(m, size, ++g_pn, now + 100 * MS);
    return size;
}

static void ack_probe(tern_pmtud *m, size_t size, tern_tstamp now)
{
    tern_pmtud_on_probe_acked(m, size, g_pn);
    tern_pmtud_settle(m, now);
}

static void lose_probe(tern_pmtud *m, tern_tstamp now)
{
    tern_pmtud_on_probe_lost(m, g_pn);
    tern_pmtud_settle(m, now);
}

/* Runs a search against a path that carries `path_max` bytes; returns the probes sent. */
static int search(tern_pmtud *m, size_t path_max, tern_tstamp *now)
{
    int probes = 0;
    size_t size;
    while ((size = send_probe(m, *now)) != 0) {
        probes++;
        *now += 10 * MS;
        if (size <= path_max)
            ack_probe(m, size, *now);
        else
            lose_probe(m, *now);
        assert_true(probes < 64);
    }
    return probes;
}

/* A path with the default cap of 8972, its interface's limit `local` (0: unknown), searching. */
static void started(tern_pmtud *m, size_t local, uint64_t raise_ms, tern_tstamp now)
{
    tern_pmtud_init(m, 8972, raise_ms);
    if (local)
        tern_pmtud_set_local(m, local, now);
    tern_pmtud_start(m, now);
}

static void test_base_until_started(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_pmtud_init(&m, 8972, RAISE_MS);
    assert_int_equal(m.plpmtu, TERN_PMTUD_BASE);
    assert_int_equal(tern_pmtud_max(&m), 8972);
    assert_int_equal(tern_pmtud_probe_due(&m), 0); /* not before the path may carry probes */
    assert_int_equal(tern_pmtud_timer(&m), TERN_TS_INF);
    /* a cap below the base is raised to it: 1200 bytes is every QUIC path's minimum */
    tern_pmtud_init(&m, 1000, RAISE_MS);
    assert_int_equal(tern_pmtud_max(&m), TERN_PMTUD_BASE);
    tern_pmtud_start(&m, 1);
    assert_int_equal(tern_pmtud_probe_due(&m), 0);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
}

static void test_limits(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_pmtud_init(&m, 8972, RAISE_MS);
    assert_int_equal(tern_pmtud_set_local(&m, 1472, 1), 0);
    assert_int_equal(tern_pmtud_max(&m), 1472);
    assert_int_equal(tern_pmtud_set_peer(&m, 1350, 1), 0);
    assert_int_equal(tern_pmtud_max(&m), 1350);
    /* a peer limit below 1200 is not a valid transport parameter: never below the base */
    tern_pmtud_set_peer(&m, 1000, 1);
    assert_int_equal(tern_pmtud_max(&m), TERN_PMTUD_BASE);
    tern_pmtud_set_peer(&m, 65527, 1);
    tern_pmtud_set_local(&m, 0, 1); /* unknown again: the cap alone */
    assert_int_equal(tern_pmtud_max(&m), 8972);
}

/* The interface's MTU is the path's: one probe of the largest size ends the search. */
static void test_largest_first(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 1472, RAISE_MS, now);
    assert_int_equal(tern_pmtud_probe_due(&m), 1472);
    assert_int_equal(search(&m, 1472, &now), 1);
    assert_int_equal(m.plpmtu, 1472);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
    assert_int_equal(m.probes_sent, 1);
    /* PMTU_RAISE_TIMER armed from the end of the search */
    assert_int_equal(tern_pmtud_timer(&m), now + (tern_tstamp)RAISE_MS * MS);
}

/* Behind a jumbo interface, a 1500-byte path: 8972 fails MAX_PROBES times, then the candidates
 * between are halved. */
static void test_search_below_failure(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 0, RAISE_MS, now);
    size_t first[TERN_PMTUD_MAX_PROBES];
    for (int i = 0; i < TERN_PMTUD_MAX_PROBES; i++) {
        first[i] = send_probe(&m, now);
        lose_probe(&m, now);
    }
    for (int i = 0; i < TERN_PMTUD_MAX_PROBES; i++)
        assert_int_equal(first[i], 8972); /* the same size until MAX_PROBES losses */
    assert_int_equal(m.fail, 8972);
    size_t next = tern_pmtud_probe_due(&m);
    assert_true(next > TERN_PMTUD_BASE && next < 8972);
    int probes = search(&m, 1472, &now);
    assert_int_equal(m.plpmtu, 1472);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
    assert_true(probes <= 8); /* halving 12 candidates, then 8952 three times */
    /* every size the probes found is one the path carries: a 1400-byte path gives 1392 */
    started(&m, 0, RAISE_MS, now);
    search(&m, 1400, &now);
    assert_int_equal(m.plpmtu, 1392);
    /* IPv6 on a 1280-byte link */
    started(&m, 0, RAISE_MS, now);
    search(&m, 1232, &now);
    assert_int_equal(m.plpmtu, 1232);
    /* nothing above the base gets through: the base it is */
    started(&m, 0, RAISE_MS, now);
    search(&m, 1200, &now);
    assert_int_equal(m.plpmtu, TERN_PMTUD_BASE);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
}

/* A probe with no answer is given up at its deadline (the connection may have nothing else in
 * flight for loss detection to compare it with). */
static void test_probe_deadline(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_pmtud_init(&m, 1472, RAISE_MS);
    tern_pmtud_start(&m, 1);
    assert_int_equal(send_probe(&m, 1), 1472);
    assert_int_equal(tern_pmtud_probe_due(&m), 0); /* one at a time */
    assert_int_equal(tern_pmtud_timer(&m), 1 + 100 * MS);
    tern_pmtud_on_timeout(&m, 50 * MS); /* early: nothing */
    assert_int_equal(m.probes_lost, 0);
    tern_pmtud_on_timeout(&m, 1 + 100 * MS);
    assert_int_equal(m.probes_lost, 1);
    assert_int_equal(tern_pmtud_probe_due(&m), 1472); /* tried again */
    /* an answer after it was given up still counts */
    uint64_t old_pn = g_pn;
    send_probe(&m, 200 * MS);
    tern_pmtud_on_timeout(&m, 400 * MS);
    tern_pmtud_on_probe_acked(&m, 1472, old_pn);
    tern_pmtud_settle(&m, 400 * MS);
    assert_int_equal(m.plpmtu, 1472);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
    /* a loss report of a probe already given up changes nothing */
    uint64_t lost = m.probes_lost;
    tern_pmtud_on_probe_lost(&m, old_pn);
    assert_int_equal(m.probes_lost, lost);
}

static void test_black_hole(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 1472, RAISE_MS, now);
    search(&m, 1472, &now);
    assert_int_equal(m.plpmtu, 1472);
    /* congestion: large packets lost, but others of the same size acknowledged meanwhile */
    for (int i = 0; i < 10; i++) {
        tern_pmtud_on_pkt_lost(&m, 1472);
        tern_pmtud_on_pkt_acked(&m, 1200);
        tern_pmtud_on_pkt_acked(&m, 1472);
        assert_int_equal(tern_pmtud_settle(&m, now), 0);
    }
    /* losses alone, nothing acknowledged (a dead path, not a black hole: others judge that) */
    for (int i = 0; i < 10; i++)
        tern_pmtud_on_pkt_lost(&m, 1472);
    assert_int_equal(tern_pmtud_settle(&m, now), 0);
    /* small packets lost count for nothing */
    started(&m, 1472, RAISE_MS, now);
    search(&m, 1472, &now);
    for (int i = 0; i < 10; i++)
        tern_pmtud_on_pkt_lost(&m, 1100);
    tern_pmtud_on_pkt_acked(&m, 1100);
    assert_int_equal(tern_pmtud_settle(&m, now), 0);
    /* one large loss short of the threshold, a small one through: not yet */
    for (int i = 0; i < TERN_PMTUD_BH_LOSSES - 1; i++)
        tern_pmtud_on_pkt_lost(&m, 1472);
    tern_pmtud_on_pkt_acked(&m, 1200);
    assert_int_equal(tern_pmtud_settle(&m, now), 0);
    /* the last: back to the base, and a new search below the size that failed */
    tern_pmtud_on_pkt_lost(&m, 1472);
    assert_int_equal(tern_pmtud_settle(&m, now), 1);
    assert_int_equal(m.plpmtu, TERN_PMTUD_BASE);
    assert_int_equal(m.black_holes, 1);
    assert_int_equal(m.state, TERN_PMTUD_SEARCHING);
    size_t next = tern_pmtud_probe_due(&m);
    assert_true(next > TERN_PMTUD_BASE && next < 1472);
    search(&m, 1252, &now);
    assert_int_equal(m.plpmtu, 1252);
    /* at the base already: no black hole to find */
    tern_pmtud_init(&m, 1200, RAISE_MS);
    for (int i = 0; i < 5; i++)
        tern_pmtud_on_pkt_lost(&m, 1300);
    tern_pmtud_on_pkt_acked(&m, 100);
    assert_int_equal(tern_pmtud_settle(&m, now), 0);
}

static void test_raise_timer(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 0, RAISE_MS, now);
    search(&m, 1472, &now);
    assert_int_equal(m.plpmtu, 1472);
    tern_tstamp raise = tern_pmtud_timer(&m);
    assert_int_equal(raise, now + (tern_tstamp)RAISE_MS * MS);
    tern_pmtud_on_timeout(&m, raise - 1);
    assert_int_equal(tern_pmtud_probe_due(&m), 0);
    /* the path now carries jumbo frames: the raised search tries the largest again */
    now = raise;
    tern_pmtud_on_timeout(&m, now);
    assert_int_equal(tern_pmtud_probe_due(&m), 8972);
    search(&m, 8972, &now);
    assert_int_equal(m.plpmtu, 8972);
    /* at the maximum, the timer is re-armed without a probe */
    raise = tern_pmtud_timer(&m);
    tern_pmtud_on_timeout(&m, raise);
    assert_int_equal(tern_pmtud_probe_due(&m), 0);
    assert_int_equal(tern_pmtud_timer(&m), raise + (tern_tstamp)RAISE_MS * MS);
    /* 0: never raised */
    started(&m, 0, 0, now);
    search(&m, 1472, &now);
    assert_int_equal(tern_pmtud_timer(&m), TERN_TS_INF);
}

/* Limits that change during or after a search. */
static void test_limit_changes(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 0, RAISE_MS, now);
    search(&m, 8972, &now);
    assert_int_equal(m.plpmtu, 8972);
    /* the interface says 1500 now: down at once */
    assert_int_equal(tern_pmtud_set_local(&m, 1472, now), 1);
    assert_int_equal(m.plpmtu, 1472);
    assert_int_equal(tern_pmtud_probe_due(&m), 0);
    /* and back: a new search */
    assert_int_equal(tern_pmtud_set_local(&m, 8972, now), 0);
    assert_int_equal(tern_pmtud_probe_due(&m), 8972);
    /* a probe in flight above a new limit no longer counts */
    send_probe(&m, now);
    tern_pmtud_set_local(&m, 1472, now);
    assert_int_equal(m.probe_size, 0);
    tern_pmtud_on_probe_acked(&m, 8972, g_pn);
    tern_pmtud_settle(&m, now);
    assert_int_equal(m.plpmtu, 1472);
}

/* Answers that come when the state machine does not wait for them, and counters at their ends. */
static void test_out_of_turn(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    /* before the search started, an acknowledged probe-sized packet neither moves the size nor
     * starts a search */
    tern_pmtud_init(&m, 8972, RAISE_MS);
    tern_pmtud_on_probe_acked(&m, TERN_PMTUD_BASE, 1);
    tern_pmtud_settle(&m, now);
    assert_int_equal(m.state, TERN_PMTUD_IDLE);
    assert_int_equal(tern_pmtud_probe_due(&m), 0);
    /* starting twice is starting once: the same probe is due */
    started(&m, 1472, RAISE_MS, now);
    tern_pmtud_start(&m, now + 1);
    assert_int_equal(tern_pmtud_probe_due(&m), 1472);
    /* a probe in flight whose deadline has not come: a timeout changes nothing */
    size_t size = send_probe(&m, now);
    tern_pmtud_on_timeout(&m, now + 50 * MS);
    assert_int_equal(m.probe_size, size);
    assert_int_equal(m.probes_lost, 0);
    tern_pmtud_on_probe_lost(&m, g_pn);
    tern_pmtud_settle(&m, now);
    /* lost, but no longer the size being tried (the interface's limit went away while it flew,
     * and the search moved on to the cap): it is no strike against the size now tried */
    assert_int_equal(send_probe(&m, now), 1472);
    tern_pmtud_set_local(&m, 0, now);
    tern_pmtud_on_probe_lost(&m, g_pn);
    assert_int_equal(m.probe_losses, 0);
    assert_int_equal(m.fail, SIZE_MAX);
    assert_int_equal(tern_pmtud_probe_due(&m), 8972);
}

/* A size that failed is acknowledged later (the path changed, or the answer was late): it is in
 * use, and what failed before no longer bounds the search; a search that had completed is open
 * again. */
static void test_failed_size_acked_later(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 1472, RAISE_MS, now);
    search(&m, 1252, &now);
    assert_int_equal(m.plpmtu, 1252);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
    assert_true(m.fail <= 1472);
    tern_pmtud_on_probe_acked(&m, 1472, 0);
    assert_int_equal(m.plpmtu, 1472);
    assert_int_equal(m.fail, SIZE_MAX);
    assert_int_equal(m.state, TERN_PMTUD_SEARCHING);
    tern_pmtud_settle(&m, now);
    assert_int_equal(m.state, TERN_PMTUD_COMPLETE); /* 1472 is the limit: nothing above to try */
}

/* A black hole found while a search is still running starts it again from the base; a raise
 * timer too long to count in nanoseconds never fires; the loss count saturates. */
static void test_black_hole_mid_search_and_bounds(void **st)
{
    (void)st;
    tern_pmtud m;
    tern_tstamp now = 1000 * MS;
    started(&m, 0, RAISE_MS, now);
    /* 8972 lost MAX_PROBES times: the search goes on below it */
    for (int i = 0; i < TERN_PMTUD_MAX_PROBES; i++) {
        assert_int_equal(send_probe(&m, now), 8972);
        lose_probe(&m, now);
    }
    size_t next = send_probe(&m, now);
    assert_true(next > TERN_PMTUD_BASE && next < 8972);
    ack_probe(&m, next, now);
    assert_int_equal(m.plpmtu, next);
    assert_int_equal(m.state, TERN_PMTUD_SEARCHING);
    for (int i = 0; i < TERN_PMTUD_BH_LOSSES; i++)
        tern_pmtud_on_pkt_lost(&m, next);
    tern_pmtud_on_pkt_acked(&m, TERN_PMTUD_BASE);
    assert_int_equal(tern_pmtud_settle(&m, now), 1);
    assert_int_equal(m.plpmtu, TERN_PMTUD_BASE);
    assert_int_equal(m.fail, next);
    assert_int_equal(m.state, TERN_PMTUD_SEARCHING);
    size_t below = tern_pmtud_probe_due(&m);
    assert_true(below > TERN_PMTUD_BASE && below < next);

    /* the raise timer of a configuration that means "never" in its own words: no timer (it
     * used to wrap round to just before now, and a search started again at every timeout) */
    uint64_t huge[] = {UINT64_MAX, UINT64_MAX / MS, UINT64_MAX / MS - 1};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        tern_pmtud_init(&m, 8972, huge[i]);
        tern_pmtud_set_local(&m, 1472, now);
        tern_pmtud_start(&m, now);
        search(&m, 1252, &now);
        assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
        assert_int_equal(tern_pmtud_timer(&m), TERN_TS_INF);
        tern_pmtud_on_timeout(&m, now + 1);
        assert_int_equal(m.state, TERN_PMTUD_COMPLETE);
        assert_int_equal(tern_pmtud_probe_due(&m), 0);
    }

    m.bh_lost = UINT32_MAX;
    tern_pmtud_on_pkt_lost(&m, 1472);
    assert_int_equal(m.bh_lost, UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_until_started),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_largest_first),
        cmocka_unit_test(test_search_below_failure),
        cmocka_unit_test(test_probe_deadline),
        cmocka_unit_test(test_black_hole),
        cmocka_unit_test(test_raise_timer),
        cmocka_unit_test(test_limit_changes),
        cmocka_unit_test(test_out_of_turn),
        cmocka_unit_test(test_failed_size_acked_later),
        cmocka_unit_test(test_black_hole_mid_search_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
