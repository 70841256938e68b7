/* Received packet numbers of one packet number space and the ACK frames reporting them: duplicate
 * detection, the bounded range set (oldest ranges dropped, `floor` raised), the delayed/immediate
 * ACK decision of RFC 9000 §13.2.1 and ACK frame writing (§19.3). */
#include "ack.h"
#include "mpframe.h"

#include "ecn.h"

#include "frame.h"

void tern_ackr_init(tern_ackr *a)
{
    memset(a, 0, sizeof(*a));
    tern_ranges_init(&a->recv, TERN_ACK_MAX_RANGES);
    a->ack_deadline = TERN_TS_INF;
    a->delayed_deadline = TERN_TS_INF;
    a->repeat_at = TERN_TS_INF;
}

void tern_ackr_free(tern_ackr *a)
{
    tern_ranges_free(&a->recv);
}

int tern_ackr_is_dup(const tern_ackr *a, uint64_t pn)
{
    if (pn < a->floor)
        return 1;
    const tern_range *last = tern_ranges_last(&a->recv);
    if (!last || pn >= last->hi)
        return 0; /* in-order arrival: the common case, no search */
    if (pn >= last->lo)
        return 1;
    return tern_ranges_contains(&a->recv, pn, pn + 1);
}

/* Adds pn to the set; at the bound the oldest range is forgotten and everything below the new
 * lowest range becomes a duplicate. Returns 0, or 1 when pn ends up below the floor (or memory is
 * short), in which case the packet is dropped as if it were a duplicate. */
static int record_pn(tern_ackr *a, uint64_t pn)
{
    if (a->recv.n && a->recv.r[a->recv.n - 1].hi == pn) {
        a->recv.r[a->recv.n - 1].hi = pn + 1; /* the next in-order packet: no search */
        return 0;
    }
    /* A space that sees a gap will see more (losses, and the packet numbers a sender skips on
     * purpose): take the whole bound at once rather than growing with the connection's age. */
    if (a->recv.n && a->recv.cap < a->recv.max)
        (void)tern_ranges_reserve(&a->recv, a->recv.max);
    if (tern_ranges_add(&a->recv, pn, pn + 1) == 0)
        return 0;
    if (a->recv.n < a->recv.max || a->recv.n < 2)
        return 1; /* allocation failure below the bound */
    a->floor = a->recv.r[1].lo;
    tern_ranges_remove_below(&a->recv, a->floor);
    if (pn < a->floor)
        return 1;
    return tern_ranges_add(&a->recv, pn, pn + 1) == 0 ? 0 : 1;
}

void tern_ackr_set_frequency(tern_ackr *a, uint64_t threshold, uint64_t reorder)
{
    a->threshold = (uint32_t)TERN_MIN(threshold, (uint64_t)UINT32_MAX);
    a->reorder = (uint16_t)TERN_MIN(reorder, (uint64_t)UINT16_MAX);
    a->peer_set = 1;
}

void tern_ackr_set_bulk(tern_ackr *a, uint32_t after, uint32_t threshold)
{
    if (a->peer_set)
        return; /* the peer's request rules */
    a->bulk_after = threshold > 1 ? after : 0;
    a->threshold = threshold;
}

uint64_t tern_ackr_threshold(const tern_ackr *a)
{
    if (a->peer_set)
        return a->threshold;
    if (a->bulk_after && a->in_order_run >= a->bulk_after)
        return a->threshold;
    return 1;
}

void tern_ackr_not_bulk(tern_ackr *a)
{
    if (a->in_order_run && a->in_order_run < a->bulk_after)
        a->in_order_run--;
}

void tern_ackr_immediate(tern_ackr *a)
{
    if (!a->recv.n)
        return;
    a->ack_pending = 1;
    a->immediate = 1;
    a->ack_deadline = 0;
}

/* Reordering Threshold t > 1 (draft-ietf-quic-ack-frequency §6.2): 1 when a packet number missing
 * below the largest is t or more below it, among those that were not yet that far below the
 * largest of the last ACK (those the peer already heard about, or will hear about through
 * loss detection anyway). Only the gaps near the top are looked at. */
static int gap_over(const tern_ackr *a, uint64_t t)
{
    uint64_t from = 0;
    if (a->has_acked && a->acked_largest + 1 > t)
        from = a->acked_largest + 1 - t;
    uint64_t lowest = UINT64_MAX;
    for (uint32_t i = a->recv.n; i-- > 1;) {
        const tern_range *hi = &a->recv.r[i], *lo = &a->recv.r[i - 1];
        if (hi->lo <= from)
            break; /* this hole and those below it end before `from` */
        lowest = TERN_MAX(lo->hi, from);
    }
    return lowest != UINT64_MAX && a->largest - lowest >= t;
}

int tern_ackr_on_packet(tern_ackr *a, uint64_t pn, int ack_eliciting, int ecn, tern_tstamp now,
                        tern_tstamp max_ack_delay)
{
    if (tern_ackr_is_dup(a, pn))
        return 1;
    /* RFC 9000 §13.2.1: a packet below the largest, or one past a hole, is acknowledged at once so
     * that the peer's loss detection learns of the hole quickly. */
    int reordered = a->has_largest && (pn < a->largest || pn > a->largest + 1);
    if (record_pn(a, pn))
        return 1;
    if (pn < a->report_from)
        a->report_from = pn; /* a late arrival: report it (and what lies above it) again */

    if (!a->has_largest || pn > a->largest) {
        a->largest = pn;
        a->largest_time = now;
        a->has_largest = 1;
    }
    int k = tern_ecn_counter(ecn);
    if (k >= 0)
        a->ecn[k]++;

    /* the bulk policy returns to one ACK per two packets for a short stretch after reordering
     * (RFC 9000 §13.2.1's "for a period" after an out-of-order packet), not for its whole
     * warm-up: on a path that reorders a little (jitter), that would be always */
    if (reordered && a->in_order_run + TERN_ACK_BULK_CALM > a->bulk_after)
        a->in_order_run = a->bulk_after > TERN_ACK_BULK_CALM ? a->bulk_after - TERN_ACK_BULK_CALM
                                                              : 0;
    if (a->peer_set && a->reorder != 1)
        reordered = a->reorder > 1 && a->recv.n > 1 && gap_over(a, a->reorder);
    if (!ack_eliciting)
        return 0;
    a->repeat_at = TERN_TS_INF; /* the sender is sending: the next ACK says more */
    a->unacked_eliciting++;
    if (a->in_order_run < UINT32_MAX)
        a->in_order_run++;
    if (!a->ack_pending) {
        a->ack_pending = 1;
        a->ack_deadline = now + max_ack_delay;
    }
    if (a->delayed_deadline == TERN_TS_INF)
        a->delayed_deadline = now + max_ack_delay;
    /* A CE mark is acknowledged at once too, so that the sender reacts within an RTT. */
    if (a->unacked_eliciting > tern_ackr_threshold(a) || reordered || max_ack_delay == 0 ||
        (ecn & 3) == TERN_ECN_CE) {
        a->immediate = 1;
        a->ack_deadline = TERN_MIN(a->ack_deadline, now);
    }
    return 0;
}

tern_tstamp tern_ackr_repeat_time(const tern_ackr *a)
{
    if (!a->recv.n || (a->has_largest && a->report_from > a->largest))
        return TERN_TS_INF; /* the peer has seen an ACK of everything */
    return a->repeat_at;
}

int tern_ackr_repeat_due(const tern_ackr *a, tern_tstamp now)
{
    return now >= tern_ackr_repeat_time(a);
}

tern_tstamp tern_ackr_due_time(const tern_ackr *a, int sparse)
{
    if (!a->ack_pending || !a->recv.n)
        return TERN_TS_INF;
    if (sparse)
        return a->delayed_deadline;
    return a->immediate ? 0 : a->ack_deadline;
}

int tern_ackr_should_send(const tern_ackr *a, tern_tstamp now, int sparse)
{
    if (a->has_largest && a->report_from > a->largest)
        return 0; /* everything received was acknowledged in an ACK the peer has seen */
    if (tern_ackr_repeat_due(a, now))
        return 1;
    return now >= tern_ackr_due_time(a, sparse);
}

size_t tern_ackr_write(const tern_ackr *a, uint8_t *p, size_t cap, tern_tstamp now,
                       unsigned ack_delay_exponent)
{
    return tern_ackr_write_path(a, p, cap, now, ack_delay_exponent, 0);
}

size_t tern_ackr_write_path(const tern_ackr *a, uint8_t *p, size_t cap, tern_tstamp now,
                            unsigned ack_delay_exponent, uint64_t path_id)
{
    uint32_t n = a->recv.n;
    if (n == 0 || !a->has_largest)
        return 0;
    tern_pn_range pr[TERN_ACK_MAX_RANGES];
    if (n > TERN_ARRAY_LEN(pr))
        n = TERN_ARRAY_LEN(pr);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const tern_range *r = &a->recv.r[a->recv.n - 1 - i];
        if (r->hi <= a->report_from)
            break; /* acknowledged in an ACK the peer has seen */
        pr[k].lo = TERN_MAX(r->lo, a->report_from);
        pr[k].hi = r->hi - 1;
        k++;
    }
    n = k;
    if (n == 0)
        return 0;
    /* The delay refers to the largest pn in the frame (the top of the last range). */
    uint64_t delay = 0;
    if (a->largest == pr[0].hi && now > a->largest_time) {
        delay = (now - a->largest_time) / TERN_NS_PER_US;
        delay >>= ack_delay_exponent < 64 ? ack_delay_exponent : 63;
    }
    const uint64_t *ecn = (a->ecn[0] | a->ecn[1] | a->ecn[2]) ? a->ecn : NULL;
    if (path_id)
        return tern_mpframe_write_path_ack(p, cap, path_id, pr, n, delay, ecn);
    return tern_frame_write_ack(p, cap, pr, n, delay, ecn);
}

void tern_ackr_on_ack_sent(tern_ackr *a, tern_tstamp repeat_at)
{
    a->repeat_at = a->unacked_eliciting ? repeat_at : TERN_TS_INF;
    a->unacked_eliciting = 0;
    a->acked_largest = a->largest;
    a->has_acked = a->has_largest != 0;
    a->ack_pending = 0;
    a->immediate = 0;
    a->ack_deadline = TERN_TS_INF;
    a->delayed_deadline = TERN_TS_INF;
}

void tern_ackr_on_ack_lost(tern_ackr *a)
{
    if (!a->has_largest || !a->recv.n || a->report_from > a->largest)
        return;
    a->ack_pending = 1;
    a->immediate = 1;
}

void tern_ackr_on_ack_acked(tern_ackr *a, uint64_t largest_acked)
{
    if (largest_acked == UINT64_MAX || largest_acked + 1 <= a->report_from)
        return;
    /* RFC 9000 §13.2.4: the peer has seen these ranges; stop repeating them. They stay in the set
     * for duplicate detection: with several paths, packets below this point still arrive late
     * (a path being left drains its queue) and must be accepted and acknowledged. */
    a->report_from = largest_acked + 1;
}
