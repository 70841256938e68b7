/* Received packet tracking: duplicates, the immediate/delayed ACK rules, the range bound, and the
 * ACK frame as written (exact bytes, and re-parsed ranges). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ack.h"
#include "allochook.h"
#include "frame.h"

#define MS TERN_NS_PER_MS
#define MAD (25 * MS)

/* Parses an ACK frame and returns its ranges (descending) through out/n. */
static void parse_ack(const uint8_t *buf, size_t len, tern_frame *f, tern_pn_range *out, size_t *n,
                      size_t max)
{
    const uint8_t *p = buf;
    uint64_t terr = 0;
    assert_int_equal(tern_frame_parse(&p, buf + len, f, &terr), 0);
    assert_ptr_equal(p, buf + len);
    tern_ack_iter it;
    tern_ack_iter_init(&it, f);
    uint64_t lo, hi;
    *n = 0;
    while (tern_ack_iter_next(&it, &lo, &hi)) {
        assert_true(*n < max);
        out[*n].lo = lo;
        out[*n].hi = hi;
        (*n)++;
    }
}

static void test_empty(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    uint8_t buf[64];
    assert_false(tern_ackr_should_send(&a, 0, 0));
    assert_int_equal(tern_ackr_write(&a, buf, sizeof(buf), 0, 3), 0);
    assert_int_equal(a.ack_deadline, TERN_TS_INF);
    tern_ackr_free(&a);
}

/* Sparse: what would be immediate (every second packet, a hole) waits for max_ack_delay after the
 * first unacknowledged arrival, and a lost ACK waits for the next arrival's; without sparse the
 * same state answers at once. */
static void test_sparse_waits_for_max_ack_delay(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_tstamp t = 1000 * MS;
    assert_int_equal(tern_ackr_due_time(&a, 1), TERN_TS_INF);
    for (uint64_t pn = 0; pn < 6; pn++)
        assert_int_equal(tern_ackr_on_packet(&a, pn * 2, 1, 0, t + pn * MS, MAD), 0);
    assert_true(a.immediate);
    assert_int_equal(tern_ackr_due_time(&a, 0), 0);
    assert_true(tern_ackr_should_send(&a, t + 5 * MS, 0));
    assert_int_equal(tern_ackr_due_time(&a, 1), t + MAD);
    assert_false(tern_ackr_should_send(&a, t + MAD - 1, 1));
    assert_true(tern_ackr_should_send(&a, t + MAD, 1));
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(tern_ackr_due_time(&a, 1), TERN_TS_INF);
    assert_false(tern_ackr_should_send(&a, t + 10 * MAD, 1));

    tern_ackr_on_ack_lost(&a);
    assert_true(tern_ackr_should_send(&a, t + 2 * MAD, 0));
    assert_false(tern_ackr_should_send(&a, t + 2 * MAD, 1));
    assert_int_equal(tern_ackr_on_packet(&a, 20, 1, 0, t + 2 * MAD, MAD), 0);
    assert_int_equal(tern_ackr_due_time(&a, 1), t + 3 * MAD);
    assert_true(tern_ackr_should_send(&a, t + 3 * MAD, 1));
    tern_ackr_free(&a);
}

static void test_delayed_then_second_immediate(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_tstamp t = 1000 * MS;
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, t, MAD), 0);
    assert_true(a.ack_pending);
    assert_false(a.immediate);
    assert_int_equal(a.ack_deadline, t + MAD);
    assert_false(tern_ackr_should_send(&a, t, 0));
    assert_false(tern_ackr_should_send(&a, t + MAD - 1, 0));
    assert_true(tern_ackr_should_send(&a, t + MAD, 0));

    /* the second ack-eliciting packet: ACK now; the deadline does not move later */
    assert_int_equal(tern_ackr_on_packet(&a, 1, 1, 0, t + 5 * MS, MAD), 0);
    assert_true(a.immediate);
    assert_true(tern_ackr_should_send(&a, t + 5 * MS, 0));

    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_false(tern_ackr_should_send(&a, t + 100 * MS, 0));
    assert_int_equal(a.ack_deadline, TERN_TS_INF);
    assert_int_equal(a.unacked_eliciting, 0);

    /* the deadline counts from the first unacknowledged arrival */
    assert_int_equal(tern_ackr_on_packet(&a, 2, 1, 0, t + 10 * MS, MAD), 0);
    assert_int_equal(a.ack_deadline, t + 10 * MS + MAD);
    assert_false(a.immediate);
    /* every second one: 3 makes it two since the last ACK */
    assert_int_equal(tern_ackr_on_packet(&a, 3, 1, 0, t + 11 * MS, MAD), 0);
    assert_true(a.immediate);
    tern_ackr_free(&a);
}

static void test_non_eliciting_schedules_nothing(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    for (uint64_t pn = 0; pn < 5; pn++)
        assert_int_equal(tern_ackr_on_packet(&a, pn, 0, 0, pn * MS, MAD), 0);
    assert_false(a.ack_pending);
    assert_false(tern_ackr_should_send(&a, 1000 * MS, 0));
    /* even a gap does not make an ACK-only packet elicit an ACK */
    assert_int_equal(tern_ackr_on_packet(&a, 9, 0, 0, 10 * MS, MAD), 0);
    assert_false(tern_ackr_should_send(&a, 1000 * MS, 0));
    /* but they are reported when an ACK goes out */
    uint8_t buf[64];
    assert_true(tern_ackr_write(&a, buf, sizeof(buf), 10 * MS, 3) > 0);
    tern_ackr_free(&a);
}

static void test_reorder_and_gap_immediate(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, 0, MAD), 0);
    assert_false(a.immediate);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    /* gap: 1 is missing */
    assert_int_equal(tern_ackr_on_packet(&a, 2, 1, 0, MS, MAD), 0);
    assert_true(a.immediate);
    assert_true(tern_ackr_should_send(&a, MS, 0));
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    /* late arrival below the largest */
    assert_int_equal(tern_ackr_on_packet(&a, 1, 1, 0, 2 * MS, MAD), 0);
    assert_true(a.immediate);
    assert_int_equal(a.largest, 2);
    assert_int_equal(a.largest_time, MS); /* largest_time is that of the largest */
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    /* in order again: delayed */
    assert_int_equal(tern_ackr_on_packet(&a, 3, 1, 0, 3 * MS, MAD), 0);
    assert_false(a.immediate);
    tern_ackr_free(&a);
}

static void test_zero_max_ack_delay_immediate(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, 7 * MS, 0), 0);
    assert_true(a.immediate);
    assert_true(tern_ackr_should_send(&a, 7 * MS, 0));
    tern_ackr_free(&a);
}

static void test_ce_immediate(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, TERN_ECN_ECT0, 0, MAD), 0);
    assert_false(a.immediate);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(tern_ackr_on_packet(&a, 1, 1, TERN_ECN_CE, MS, MAD), 0);
    assert_true(a.immediate);
    tern_ackr_free(&a);
}

static void test_duplicates(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    assert_false(tern_ackr_is_dup(&a, 0));
    assert_int_equal(tern_ackr_on_packet(&a, 5, 1, 0, 0, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 7, 1, 0, 0, MAD), 0);
    assert_true(tern_ackr_is_dup(&a, 5));
    assert_true(tern_ackr_is_dup(&a, 7));
    assert_false(tern_ackr_is_dup(&a, 6));
    assert_false(tern_ackr_is_dup(&a, 4));
    assert_false(tern_ackr_is_dup(&a, 8));
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(tern_ackr_on_packet(&a, 5, 1, 0, 0, MAD), 1);
    assert_int_equal(a.unacked_eliciting, 0); /* a duplicate changes nothing */
    assert_false(a.ack_pending);
    tern_ackr_free(&a);
}

static void test_write_exact_bytes_and_reparse(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    const uint64_t pns[] = {0, 1, 2, 3, 4, 7, 8, 9, 12};
    for (size_t i = 0; i < TERN_ARRAY_LEN(pns); i++)
        tern_ackr_on_packet(&a, pns[i], 1, 0, 100 * MS, MAD);
    /* 8 ms later with exponent 3: 8000 us >> 3 = 1000 */
    uint8_t buf[64];
    size_t n = tern_ackr_write(&a, buf, sizeof(buf), 108 * MS, 3);
    /* type, largest 12, delay 1000 (2-byte varint), 2 more ranges, first range 0,
     * gap 12-9-2 = 1, len 2, gap 7-4-2 = 1, len 4 */
    const uint8_t want[] = {0x02, 0x0c, 0x43, 0xe8, 0x02, 0x00, 0x01, 0x02, 0x01, 0x04};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    tern_frame f;
    tern_pn_range r[8];
    size_t nr;
    parse_ack(buf, n, &f, r, &nr, 8);
    assert_int_equal(f.type, TERN_FT_ACK);
    assert_int_equal(f.u.ack.largest, 12);
    assert_int_equal(f.u.ack.delay, 1000);
    assert_int_equal(nr, 3);
    assert_int_equal(r[0].lo, 12);
    assert_int_equal(r[0].hi, 12);
    assert_int_equal(r[1].lo, 7);
    assert_int_equal(r[1].hi, 9);
    assert_int_equal(r[2].lo, 0);
    assert_int_equal(r[2].hi, 4);

    /* write does not change state */
    assert_true(a.ack_pending);
    /* delay 0 when now precedes the arrival, and at exponent 0 it is plain microseconds */
    n = tern_ackr_write(&a, buf, sizeof(buf), 100 * MS + 1500 * TERN_NS_PER_US, 0);
    parse_ack(buf, n, &f, r, &nr, 8);
    assert_int_equal(f.u.ack.delay, 1500);

    /* too small for even the first range: nothing */
    assert_int_equal(tern_ackr_write(&a, buf, 5, 108 * MS, 3), 0);
    /* room for the first range only (6 bytes: type, largest, delay(2), count, first range) */
    n = tern_ackr_write(&a, buf, 7, 108 * MS, 3);
    assert_int_equal(n, 6);
    parse_ack(buf, n, &f, r, &nr, 8);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0].hi, 12);
    tern_ackr_free(&a);
}

static void test_ecn_variant(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_ackr_on_packet(&a, 0, 1, TERN_ECN_ECT0, 0, MAD);
    tern_ackr_on_packet(&a, 1, 1, TERN_ECN_ECT0, 0, MAD);
    tern_ackr_on_packet(&a, 2, 1, TERN_ECN_CE, 0, MAD);
    tern_ackr_on_packet(&a, 3, 1, TERN_ECN_ECT1, 0, MAD);
    tern_ackr_on_packet(&a, 4, 1, TERN_ECN_NOT_ECT, 0, MAD);
    tern_ackr_on_packet(&a, 4, 1, TERN_ECN_CE, 0, MAD); /* duplicate: not counted */
    assert_int_equal(a.ecn[0], 2);
    assert_int_equal(a.ecn[1], 1);
    assert_int_equal(a.ecn[2], 1);
    uint8_t buf[64];
    size_t n = tern_ackr_write(&a, buf, sizeof(buf), 0, 3);
    tern_frame f;
    tern_pn_range r[4];
    size_t nr;
    parse_ack(buf, n, &f, r, &nr, 4);
    assert_int_equal(f.type, TERN_FT_ACK_ECN);
    assert_int_equal(f.u.ack.ect0, 2);
    assert_int_equal(f.u.ack.ect1, 1);
    assert_int_equal(f.u.ack.ce, 1);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0].lo, 0);
    assert_int_equal(r[0].hi, 4);
    tern_ackr_free(&a);
}

static void test_range_bound_under_gapped_flood(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    for (uint64_t i = 0; i < 10000; i++) {
        assert_int_equal(tern_ackr_on_packet(&a, 2 * i, 1, 0, i * TERN_NS_PER_US, MAD), 0);
        assert_true(a.recv.n <= TERN_ACK_MAX_RANGES);
        assert_true(a.recv.cap <= TERN_ACK_MAX_RANGES);
    }
    assert_int_equal(a.recv.n, TERN_ACK_MAX_RANGES);
    /* the newest 64 are remembered, everything older is a duplicate */
    assert_int_equal(a.floor, 2 * (10000 - TERN_ACK_MAX_RANGES));
    assert_true(tern_ackr_is_dup(&a, 0));
    assert_true(tern_ackr_is_dup(&a, 2 * 100 + 1)); /* even a never-seen old pn */
    assert_true(tern_ackr_is_dup(&a, 2 * 9999));
    assert_false(tern_ackr_is_dup(&a, 2 * 9999 - 1));
    /* a late one in a remembered gap fills it (merging two ranges) */
    assert_int_equal(tern_ackr_on_packet(&a, 2 * 9999 - 1, 1, 0, 0, MAD), 0);
    assert_int_equal(a.recv.n, TERN_ACK_MAX_RANGES - 1);
    /* a late one below the floor is ignored */
    assert_int_equal(tern_ackr_on_packet(&a, 3, 1, 0, 0, MAD), 1);

    uint8_t buf[1500];
    size_t n = tern_ackr_write(&a, buf, sizeof(buf), 0, 3);
    tern_frame f;
    tern_pn_range r[TERN_ACK_MAX_RANGES + 1];
    size_t nr;
    parse_ack(buf, n, &f, r, &nr, TERN_ARRAY_LEN(r));
    assert_int_equal(nr, TERN_ACK_MAX_RANGES - 1);
    assert_int_equal(r[0].lo, 2 * 9998);
    assert_int_equal(r[0].hi, 2 * 9999);
    for (size_t i = 1; i < nr; i++) {
        assert_int_equal(r[i].lo, 2 * (9998 - i));
        assert_int_equal(r[i].hi, 2 * (9998 - i));
    }
    tern_ackr_free(&a);
}

static void test_ack_of_ack_prunes(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    const uint64_t pns[] = {0, 1, 2, 5, 6, 9, 10};
    for (size_t i = 0; i < TERN_ARRAY_LEN(pns); i++)
        tern_ackr_on_packet(&a, pns[i], 1, 0, 0, MAD);
    tern_ackr_on_ack_acked(&a, 6);
    assert_int_equal(a.report_from, 7);
    /* received packets stay duplicates; missing ones below are still accepted later */
    assert_true(tern_ackr_is_dup(&a, 5));
    assert_true(tern_ackr_is_dup(&a, 1));
    assert_false(tern_ackr_is_dup(&a, 3));
    assert_false(tern_ackr_is_dup(&a, 7));
    uint8_t buf[64];
    size_t n = tern_ackr_write(&a, buf, sizeof(buf), 0, 3);
    tern_frame f;
    tern_pn_range r[4];
    size_t nr;
    parse_ack(buf, n, &f, r, &nr, 4);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0].lo, 9);
    assert_int_equal(r[0].hi, 10);
    /* an older ack-of-ack does not lower anything */
    tern_ackr_on_ack_acked(&a, 2);
    assert_int_equal(a.report_from, 7);
    /* a late packet below (another path draining) is accepted and reported again */
    assert_int_equal(tern_ackr_on_packet(&a, 3, 1, 0, 0, MAD), 0);
    n = tern_ackr_write(&a, buf, sizeof(buf), 0, 3);
    parse_ack(buf, n, &f, r, &nr, 4);
    assert_int_equal(nr, 3);
    assert_int_equal(r[2].lo, 3);
    assert_int_equal(r[2].hi, 3);
    /* everything acked: nothing left to report */
    tern_ackr_on_ack_acked(&a, 10);
    assert_int_equal(tern_ackr_write(&a, buf, sizeof(buf), 0, 3), 0);
    assert_false(tern_ackr_should_send(&a, TERN_TS_INF - 1, 0));
    tern_ackr_free(&a);
}

/* An ACK that reported new ack-eliciting packets goes out once more at the time given, unless an
 * ack-eliciting packet arrives first; a repeat is not repeated, an ACK of nothing new (or of
 * ACK-only packets) arms none, and none is due once the peer has seen an ACK of everything. */
static void test_repeat_last_ack(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_tstamp t = 1000 * MS;
    for (uint64_t pn = 0; pn < 8; pn++)
        assert_int_equal(tern_ackr_on_packet(&a, pn, 1, 0, t, MAD), 0);
    assert_true(tern_ackr_should_send(&a, t, 0));
    tern_ackr_on_ack_sent(&a, t + 2 * MS);
    assert_int_equal(tern_ackr_repeat_time(&a), t + 2 * MS);
    assert_false(tern_ackr_should_send(&a, t + 2 * MS - 1, 0));
    assert_true(tern_ackr_repeat_due(&a, t + 2 * MS));
    assert_true(tern_ackr_should_send(&a, t + 2 * MS, 0));
    /* the repeat reports the same ranges */
    uint8_t buf[64];
    tern_frame f;
    tern_pn_range r[4];
    size_t n = 0;
    size_t len = tern_ackr_write(&a, buf, sizeof(buf), t + 2 * MS, 3);
    assert_true(len > 0);
    parse_ack(buf, len, &f, r, &n, 4);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].lo, 0);
    assert_int_equal(r[0].hi, 7);
    tern_ackr_on_ack_sent(&a, t + 4 * MS);
    assert_int_equal(tern_ackr_repeat_time(&a), TERN_TS_INF);
    assert_false(tern_ackr_should_send(&a, t + 100 * MS, 0));

    /* an ack-eliciting arrival cancels the repeat: the ACK it brings says more */
    assert_int_equal(tern_ackr_on_packet(&a, 8, 1, 0, t + 10 * MS, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 9, 1, 0, t + 10 * MS, MAD), 0);
    tern_ackr_on_ack_sent(&a, t + 12 * MS);
    assert_int_equal(tern_ackr_on_packet(&a, 10, 1, 0, t + 11 * MS, MAD), 0);
    assert_int_equal(tern_ackr_repeat_time(&a), TERN_TS_INF);
    tern_ackr_on_ack_sent(&a, t + 13 * MS);
    /* an ACK-only packet does not cancel it; an ACK of ACK-only packets arms none */
    assert_int_equal(tern_ackr_on_packet(&a, 11, 0, 0, t + 12 * MS, MAD), 0);
    assert_int_equal(tern_ackr_repeat_time(&a), t + 13 * MS);
    tern_ackr_on_ack_sent(&a, t + 20 * MS);
    assert_int_equal(tern_ackr_repeat_time(&a), TERN_TS_INF);

    /* once the peer acknowledged a packet carrying an ACK of everything, nothing is repeated */
    assert_int_equal(tern_ackr_on_packet(&a, 12, 1, 0, t + 30 * MS, MAD), 0);
    tern_ackr_on_ack_sent(&a, t + 32 * MS);
    assert_int_equal(tern_ackr_repeat_time(&a), t + 32 * MS);
    tern_ackr_on_ack_acked(&a, 12);
    assert_int_equal(tern_ackr_repeat_time(&a), TERN_TS_INF);
    assert_false(tern_ackr_should_send(&a, t + 40 * MS, 0));
    tern_ackr_free(&a);
}

/* A lost packet that carried an ACK makes the next packet carry a fresh one at once, unless the
 * peer has already seen an ACK of everything. */
static void test_ack_lost_reported_anew(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_tstamp t = 1000 * MS;
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, t, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 1, 1, 0, t, MAD), 0);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_false(tern_ackr_should_send(&a, t + 100 * MS, 0));
    tern_ackr_on_ack_lost(&a);
    assert_true(a.immediate);
    assert_true(tern_ackr_should_send(&a, t + 100 * MS, 0));
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    tern_ackr_on_ack_acked(&a, 1);
    tern_ackr_on_ack_lost(&a);
    assert_false(tern_ackr_should_send(&a, t + 200 * MS, 0));
    tern_ackr_free(&a);
}

/* A pn that cannot be stored (no memory below the bound; at the bound, one that would open a
 * range below the newest 64) is refused as a duplicate, for the caller to drop, and nothing is
 * recorded; an ACK of an ACK older than what is reported changes nothing. */
static void test_unstorable_pn(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    if (ALLOCHOOK_ACTIVE) {
        allochook_fail_next = 1;
        assert_int_equal(tern_ackr_on_packet(&a, 7, 1, 0, 0, MAD), 1);
        assert_false(tern_ackr_is_dup(&a, 7));
        assert_false(a.ack_pending);
    }
    for (uint64_t i = 0; i < TERN_ACK_MAX_RANGES; i++)
        assert_int_equal(tern_ackr_on_packet(&a, 10 + 2 * i, 1, 0, 0, MAD), 0);
    assert_int_equal(a.recv.n, TERN_ACK_MAX_RANGES);
    /* a range below all of them: the oldest is pruned, and the pn falls below the new floor */
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, 0, MAD), 1);
    assert_int_equal(a.floor, 12);
    assert_true(tern_ackr_is_dup(&a, 0));

    tern_ackr_on_ack_acked(&a, 50);
    uint64_t from = a.report_from;
    tern_ackr_on_ack_acked(&a, 20); /* older: nothing changes */
    tern_ackr_on_ack_acked(&a, UINT64_MAX);
    assert_int_equal(a.report_from, from);
    tern_ackr_free(&a);
}

/* Counts the ACKs a receiver sends for packets 0..n-1 arriving in order, 1 ms apart, sending
 * whenever one is due (immediate, or its delay passed). */
static int acks_for_in_order(tern_ackr *a, uint64_t first, uint64_t n, tern_tstamp mad)
{
    int acks = 0;
    for (uint64_t pn = first; pn < first + n; pn++) {
        tern_tstamp now = (tern_tstamp)pn * MS;
        assert_int_equal(tern_ackr_on_packet(a, pn, 1, 0, now, mad), 0);
        if (tern_ackr_due_time(a, 0) <= now) {
            tern_ackr_on_ack_sent(a, TERN_TS_INF);
            acks++;
        }
    }
    return acks;
}

/* The peer's Ack-Eliciting Threshold: an ACK past that many unacknowledged ack-eliciting packets
 * (0: every one), the delay otherwise; CE and a gap stay immediate; the delay still bounds it. */
static void test_peer_threshold(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    assert_int_equal(tern_ackr_threshold(&a), 1);
    assert_int_equal(acks_for_in_order(&a, 0, 100, MAD), 50); /* RFC 9000: every second */
    tern_ackr_set_frequency(&a, 9, 1);
    assert_int_equal(tern_ackr_threshold(&a), 9);
    assert_int_equal(acks_for_in_order(&a, 100, 100, MAD), 10); /* every tenth */
    tern_ackr_set_frequency(&a, 0, 1);
    assert_int_equal(acks_for_in_order(&a, 200, 10, MAD), 10); /* every one */
    /* a huge threshold: the delay (5 ms) decides, one ACK per 5 packets */
    tern_ackr_set_frequency(&a, TERN_MAX_VARINT, 1);
    assert_int_equal(acks_for_in_order(&a, 210, 100, 5 * MS), 100 / 6);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(tern_ackr_on_packet(&a, 400, 1, TERN_ECN_CE, 400 * MS, MAD), 0);
    assert_true(a.immediate);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(tern_ackr_on_packet(&a, 402, 1, 0, 402 * MS, MAD), 0); /* 401 missing */
    assert_true(a.immediate);
    tern_ackr_free(&a);
}

/* Reordering Threshold 0: neither a gap nor a late packet makes the ACK immediate; 3: a missing
 * packet does once the largest is 3 above it, once (a hole reported is not reported again), and a
 * late packet does not. */
static void test_peer_reorder_threshold(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_ackr_set_frequency(&a, 100, 0);
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, 0, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 5, 1, 0, 0, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 2, 1, 0, 0, MAD), 0);
    assert_false(a.immediate);
    assert_int_equal(tern_ackr_due_time(&a, 0), MAD);
    tern_ackr_free(&a);

    tern_ackr_init(&a);
    tern_ackr_set_frequency(&a, 100, 3);
    for (uint64_t pn = 0; pn < 10; pn++)
        assert_int_equal(tern_ackr_on_packet(&a, pn, 1, 0, 0, MAD), 0);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF); /* largest 9 reported */
    /* 10 lost: 11 and 12 are 1 and 2 above it, 13 is 3 above */
    assert_int_equal(tern_ackr_on_packet(&a, 11, 1, 0, MS, MAD), 0);
    assert_false(a.immediate);
    assert_int_equal(tern_ackr_on_packet(&a, 12, 1, 0, MS, MAD), 0);
    assert_false(a.immediate);
    assert_int_equal(tern_ackr_on_packet(&a, 13, 1, 0, MS, MAD), 0);
    assert_true(a.immediate);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF); /* largest 13 reported, 10 with it */
    assert_int_equal(tern_ackr_on_packet(&a, 14, 1, 0, 2 * MS, MAD), 0);
    assert_false(a.immediate); /* 10 is old news */
    assert_int_equal(tern_ackr_on_packet(&a, 10, 1, 0, 2 * MS, MAD), 0);
    assert_false(a.immediate); /* late, and not immediate with a threshold above 1 */
    /* a hole opened after the last ACK, right below it: 16 missing, 17 18 then 19 */
    tern_ackr_on_ack_sent(&a, TERN_TS_INF); /* largest 14 */
    assert_int_equal(tern_ackr_on_packet(&a, 15, 1, 0, 3 * MS, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 17, 1, 0, 3 * MS, MAD), 0);
    assert_int_equal(tern_ackr_on_packet(&a, 18, 1, 0, 3 * MS, MAD), 0);
    assert_false(a.immediate);
    assert_int_equal(tern_ackr_on_packet(&a, 19, 1, 0, 3 * MS, MAD), 0);
    assert_true(a.immediate);
    tern_ackr_free(&a);
}

/* IMMEDIATE_ACK: the ACK is due now, whatever the threshold; with nothing received, nothing. */
static void test_immediate_request(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_ackr_immediate(&a);
    assert_int_equal(tern_ackr_due_time(&a, 0), TERN_TS_INF);
    tern_ackr_set_frequency(&a, 50, 1);
    assert_int_equal(tern_ackr_on_packet(&a, 0, 1, 0, 4 * MS, MAD), 0);
    assert_int_equal(tern_ackr_due_time(&a, 0), 4 * MS + MAD);
    tern_ackr_immediate(&a);
    assert_true(tern_ackr_should_send(&a, 4 * MS, 0));
    /* the key-update rule still spares the ACK until the delay */
    assert_false(tern_ackr_should_send(&a, 4 * MS, 1));
    assert_true(tern_ackr_should_send(&a, 4 * MS + MAD, 1));
    tern_ackr_free(&a);
}

/* The bulk policy: every second packet for the first `after` in a row, then every `threshold`;
 * a gap is acknowledged at once and brings back every second packet for TERN_ACK_BULK_CALM
 * packets; one during the warm-up does not lengthen it beyond that either. */
static void test_bulk_policy(void **st)
{
    tern_ackr a;
    tern_ackr_init(&a);
    tern_ackr_set_bulk(&a, 100, 10);
    assert_int_equal(acks_for_in_order(&a, 0, 100, MAD), 49);
    assert_int_equal(tern_ackr_threshold(&a), 10);
    assert_int_equal(acks_for_in_order(&a, 100, 110, MAD), 10); /* every 11th */
    /* a gap: immediate, and 16 packets at every second */
    assert_int_equal(tern_ackr_on_packet(&a, 211, 1, 0, 211 * MS, MAD), 0);
    assert_true(a.immediate);
    assert_int_equal(tern_ackr_threshold(&a), 1);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(acks_for_in_order(&a, 212, TERN_ACK_BULK_CALM - 2, MAD),
                     (TERN_ACK_BULK_CALM - 2) / 2);
    assert_int_equal(tern_ackr_threshold(&a), 1);
    assert_int_equal(acks_for_in_order(&a, 212 + TERN_ACK_BULK_CALM - 2, 1, MAD), 0);
    assert_int_equal(tern_ackr_threshold(&a), 10);
    /* during the warm-up, a gap changes nothing but the immediate ACK */
    tern_ackr_free(&a);
    tern_ackr_init(&a);
    tern_ackr_set_bulk(&a, 100, 10);
    assert_int_equal(acks_for_in_order(&a, 0, 50, MAD), 25);
    assert_int_equal(tern_ackr_on_packet(&a, 51, 1, 0, 51 * MS, MAD), 0);
    assert_true(a.immediate);
    tern_ackr_on_ack_sent(&a, TERN_TS_INF);
    assert_int_equal(acks_for_in_order(&a, 52, 48, MAD), 24);
    assert_int_equal(tern_ackr_threshold(&a), 1);
    assert_int_equal(acks_for_in_order(&a, 100, 1, MAD), 0);
    assert_int_equal(tern_ackr_threshold(&a), 10);
    /* small packets do not count toward the warm-up */
    tern_ackr_free(&a);
    tern_ackr_init(&a);
    tern_ackr_set_bulk(&a, 100, 10);
    for (uint64_t pn = 0; pn < 300; pn++) {
        assert_int_equal(tern_ackr_on_packet(&a, pn, 1, 0, pn * MS, MAD), 0);
        tern_ackr_not_bulk(&a);
    }
    assert_int_equal(tern_ackr_threshold(&a), 1);
    assert_int_equal(acks_for_in_order(&a, 300, 100, MAD), 50);
    assert_int_equal(tern_ackr_threshold(&a), 10);
    /* the peer's request replaces it */
    tern_ackr_set_frequency(&a, 1, 1);
    assert_int_equal(tern_ackr_threshold(&a), 1);
    tern_ackr_free(&a);
    /* threshold 1 or after 0: off */
    tern_ackr_init(&a);
    tern_ackr_set_bulk(&a, 0, 10);
    assert_int_equal(acks_for_in_order(&a, 0, 200, MAD), 100);
    tern_ackr_set_bulk(&a, 10, 1);
    assert_int_equal(acks_for_in_order(&a, 200, 200, MAD), 100);
    tern_ackr_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_delayed_then_second_immediate),
        cmocka_unit_test(test_non_eliciting_schedules_nothing),
        cmocka_unit_test(test_reorder_and_gap_immediate),
        cmocka_unit_test(test_zero_max_ack_delay_immediate),
        cmocka_unit_test(test_ce_immediate),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_write_exact_bytes_and_reparse),
        cmocka_unit_test(test_ecn_variant),
        cmocka_unit_test(test_range_bound_under_gapped_flood),
        cmocka_unit_test(test_ack_of_ack_prunes),
        cmocka_unit_test(test_repeat_last_ack),
        cmocka_unit_test(test_ack_lost_reported_anew),
        cmocka_unit_test(test_unstorable_pn),
        cmocka_unit_test(test_sparse_waits_for_max_ack_delay),
        cmocka_unit_test(test_peer_threshold),
        cmocka_unit_test(test_peer_reorder_threshold),
        cmocka_unit_test(test_immediate_request),
        cmocka_unit_test(test_bulk_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
