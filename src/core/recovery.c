/* Loss detection of one connection (RFC 9002 §6 and Appendix A): a ring of sent-packet records per
 * packet number space, ACK processing, packet- and time-threshold loss, persistent congestion, the
 * PTO with its backoff and the client's anti-deadlock probe.
 *
 * Records sit in the ring in packet number order and are pruned from the head as soon as they are
 * acked or lost; a lost record moves to a separate list, kept two smoothed RTTs to recognise a late
 * acknowledgement. The head is therefore always the oldest outstanding packet, and loss detection
 * declares every unacked packet kPacketThreshold below the largest acked of its path lost: only
 * that handful of acked records ever waits behind the head. An ACK then costs its ranges, the
 * records it newly acknowledges or declares lost, and that handful, never the whole window. */
#include "recovery.h"

#include "qlog.h"

#include <stddef.h>
#include <stdlib.h>

#define PACKET_THRESHOLD 3
#define PERSISTENT_CONGESTION_THRESHOLD 3
/* Every space starts with room for two records (a record is some 270 bytes): an idle connection
 * holds what its last exchange needed, often one or two packets in flight at a time, and a
 * transfer doubles the 1-RTT ring up to its window in a few steps, once per connection (eight
 * records kept 2 KB per idle connection for packets it no longer sends). */
#define INITIAL_RING_CAP(space) ((void)(space), (size_t)2)

/* The queue of a space: RFC 9000's three in the struct, path IDs' behind pointers (NULL until
 * opened). */
static inline tern_sentq *rq(const tern_recovery *r, int space)
{
    if (space < 0 || space >= TERN_RECOVERY_SPACES)
        return NULL;
    if (space < TERN_SPACE_COUNT)
        return (tern_sentq *)(uintptr_t)&r->q[space]; /* callers that change it hold r non-const */
    return r->mpq[space - TERN_SPACE_COUNT];
}

tern_sentq *tern_recovery_q(const tern_recovery *r, int space) { return rq(r, space); }

int tern_recovery_space_exists(const tern_recovery *r, int space) { return rq(r, space) != NULL; }

/* A path ID's space (above the RFC 9000 application space) has its own PTO and path. */
static int is_mp_space(int space) { return space > TERN_SPACE_APP; }

static inline tern_sent_pkt *q_at(const tern_sentq *q, size_t i)
{
    return &q->ring[(q->head + i) & (q->cap - 1)];
}

static inline tern_tstamp sat_add(tern_tstamp a, tern_tstamp b)
{
    return a > TERN_TS_INF - b ? TERN_TS_INF : a + b;
}

static inline tern_tstamp backoff(tern_tstamp d, uint32_t k)
{
    if (k >= 63 || d > (TERN_TS_INF >> k))
        return TERN_TS_INF;
    return d << k;
}

/* RFC 9002 A.6: a server has validated the client's address once it sends Handshake or 1-RTT
 * packets the client can acknowledge; the server always considers the client validated. */
static int peer_validated(const tern_recovery *r)
{
    return r->is_server || r->peer_completed_address_validation || r->handshake_confirmed;
}

static void q_init(tern_sentq *q)
{
    memset(q, 0, sizeof(*q));
    q->largest_acked = UINT64_MAX;
    for (int k = 0; k < TERN_RECOVERY_PATHS; k++)
        q->path_largest_acked[k] = UINT64_MAX;
    q->loss_time = TERN_TS_INF;
    for (int k = 0; k < TERN_RECOVERY_SKIPPED; k++)
        q->skipped[k] = UINT64_MAX;
}

void tern_recovery_init(tern_recovery *r, int is_server, tern_rtt *rtt, tern_cc *cc,
                        const tern_recovery_cb *cb, void *ud)
{
    memset(r, 0, sizeof(*r));
    for (int s = 0; s < TERN_SPACE_COUNT; s++)
        q_init(&r->q[s]);
    r->rtt = rtt;
    r->cc = cc;
    r->is_server = is_server;
    r->ack_path_id = TERN_RECOVERY_ANY_PATH;
    if (cb)
        r->cb = *cb;
    r->ud = ud;
    r->max_in_flight_records = TERN_RECOVERY_DEFAULT_MAX_RECORDS;
    r->pkt_thresh = PACKET_THRESHOLD;
    r->time_eighths = 9; /* RFC 9002 kTimeThreshold 9/8 */
    r->timer_base = TERN_TS_INF;
}

static void q_free(tern_sentq *q);

void tern_recovery_free(tern_recovery *r)
{
    for (int s = 0; s < TERN_SPACE_COUNT; s++)
        q_free(&r->q[s]);
    for (int k = 0; k < TERN_RECOVERY_MP_IDS; k++) {
        if (r->mpq[k])
            q_free(r->mpq[k]);
        free(r->mpq[k]);
        r->mpq[k] = NULL;
    }
}

static int q_grow(tern_sentq *q, int space)
{
    size_t ncap = q->cap ? q->cap * 2 : INITIAL_RING_CAP(space);
    tern_sent_pkt *n = malloc(ncap * sizeof(*n));
    if (!n)
        return TERN_ERR_NOMEM;
    if (q->count) {
        size_t first = TERN_MIN(q->count, q->cap - q->head);
        memcpy(n, &q->ring[q->head], first * sizeof(*n));
        memcpy(n + first, q->ring, (q->count - first) * sizeof(*n));
    }
    free(q->ring);
    q->ring = n;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

/* Drops settled (acked or lost) records from the head. */
static void q_prune(tern_sentq *q)
{
    while (q->count) {
        const tern_sent_pkt *p = &q->ring[q->head];
        if (!p->acked && !p->lost)
            break;
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
    }
}

/* How long lost records are kept for spurious-loss detection: three PTOs (with the peer's ACK
 * delay). A packet held back in a queue arrives milliseconds late whatever the RTT: on a LAN that
 * is many smoothed RTTs, and a record forgotten by then would hide the reordering, which then costs
 * a window reduction every time instead of widening the thresholds once. */
static tern_rtt *space_rtt(const tern_recovery *r, int space);

static tern_tstamp lost_keep(const tern_recovery *r, int space)
{
    return 3 * tern_rtt_pto(space_rtt(r, space), r->max_ack_delay);
}

static size_t lq_count(const tern_lostq *l) { return l->end - l->start; }

/* Index (from start) of the first lost record with pn >= v. */
static size_t lq_lower_bound(const tern_lostq *l, uint64_t v)
{
    size_t lo = l->start, hi = l->end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].pn < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Keeps a copy of a record just declared lost, in pn order (losses are found mostly in pn order:
 * the rare earlier one, from a slower path, is inserted). At `limit` the oldest is forgotten, which
 * only costs the chance to call its loss spurious. */
static void lq_push(tern_lostq *l, const tern_sent_pkt *p, uint64_t limit)
{
    if (limit == 0)
        return;
    while (lq_count(l) >= limit)
        l->start++;
    if (l->end == l->cap) {
        size_t n = lq_count(l);
        if (l->start > 0 && n < l->cap / 2 + 1) {
            memmove(l->v, l->v + l->start, n * sizeof(*l->v));
        } else {
            size_t ncap = l->cap ? l->cap * 2 : 16;
            tern_sent_pkt *v = malloc(ncap * sizeof(*v));
            if (!v)
                return; /* not kept: a late ACK of it is then taken as a duplicate */
            if (n)
                memcpy(v, l->v + l->start, n * sizeof(*v));
            free(l->v);
            l->v = v;
            l->cap = ncap;
        }
        l->start = 0;
        l->end = n;
    }
    size_t at = l->end;
    if (at > l->start && l->v[at - 1].pn > p->pn) {
        at = lq_lower_bound(l, p->pn);
        memmove(l->v + at + 1, l->v + at, (l->end - at) * sizeof(*l->v));
    }
    l->v[at] = *p;
    l->v[at].acked = 0;
    l->end++;
}

static void lq_prune(tern_lostq *l, tern_tstamp now, tern_tstamp keep)
{
    while (l->start < l->end && l->v[l->start].time_sent + keep <= now)
        l->start++;
    if (l->start == l->end)
        l->start = l->end = 0;
}

static void q_free(tern_sentq *q)
{
    free(q->ring);
    free(q->lost.v);
    q->ring = NULL;
    q->cap = q->count = q->head = 0;
    memset(&q->lost, 0, sizeof(q->lost));
}

/* Index of the first record with pn >= v (count when none). Packet numbers are strictly
 * increasing, so record i has pn >= head_pn + i: the answer is at most v - head_pn, and exactly
 * that when no pn was skipped, which is the common case. */
static size_t q_lower_bound(const tern_sentq *q, uint64_t v)
{
    uint64_t base = q_at(q, 0)->pn;
    if (v <= base)
        return 0;
    uint64_t guess = v - base;
    if (guess < q->count && q_at(q, (size_t)guess)->pn == v)
        return (size_t)guess;
    size_t lo = 0, hi = guess < q->count ? (size_t)guess : q->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q_at(q, mid)->pn < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The controller and estimator of the path a packet left on (the active path's without a lookup). */
static tern_cc *cc_of(const tern_recovery *r, uint8_t path_id)
{
    tern_cc *cc = r->cb.path_cc ? r->cb.path_cc(r->ud, path_id) : NULL;
    return cc ? cc : r->cc;
}

static tern_rtt *rtt_of(const tern_recovery *r, uint8_t path_id)
{
    tern_rtt *rtt = r->cb.path_rtt ? r->cb.path_rtt(r->ud, path_id) : NULL;
    return rtt ? rtt : r->rtt;
}

/* The estimator and controller a space's timers and bounds go by: a path ID's are its path's,
 * the others' the active path's. */
static tern_rtt *space_rtt(const tern_recovery *r, int space)
{
    return is_mp_space(space) ? rtt_of(r, rq(r, space)->path) : r->rtt;
}

static tern_cc *space_cc(const tern_recovery *r, int space)
{
    return is_mp_space(space) ? cc_of(r, rq(r, space)->path) : r->cc;
}

uint32_t tern_recovery_pto_count(const tern_recovery *r, int space)
{
    const tern_sentq *q = rq(r, space);
    return q && is_mp_space(space) ? q->pto_count : r->pto_count;
}

int tern_recovery_space_open(tern_recovery *r, int space, uint8_t path)
{
    if (!is_mp_space(space) || space >= TERN_RECOVERY_SPACES)
        return TERN_ERR_INVALID_ARG;
    tern_sentq **slot = &r->mpq[space - TERN_SPACE_COUNT];
    if (!*slot) {
        tern_sentq *q = malloc(sizeof(*q));
        if (!q)
            return TERN_ERR_NOMEM;
        q_init(q);
        *slot = q;
    }
    (*slot)->path = path;
    return 0;
}

void tern_recovery_space_set_path(tern_recovery *r, int space, uint8_t path)
{
    tern_sentq *q = is_mp_space(space) ? rq(r, space) : NULL;
    if (q)
        q->path = path;
}

void tern_recovery_space_close(tern_recovery *r, int space)
{
    tern_sentq *q = is_mp_space(space) ? rq(r, space) : NULL;
    if (!q)
        return;
    tern_recovery_discard_space(r, space);
    free(q);
    r->mpq[space - TERN_SPACE_COUNT] = NULL;
}

static uint64_t limit_of(const tern_recovery *r, uint64_t win)
{
    uint64_t lim = win / TERN_MIN_INITIAL_SIZE * TERN_RECOVERY_CWND_RECORDS;
    lim = TERN_MAX(lim, (uint64_t)TERN_RECOVERY_MIN_RECORDS);
    return TERN_MIN(lim, r->max_in_flight_records);
}

uint64_t tern_recovery_record_limit(const tern_recovery *r)
{
    /* In datagrams of the base size, not of the path's current one: what is in flight left at
     * the sizes of its time, and a path whose MTU grows (a jumbo link found after a window went
     * out at 1200 bytes) must not find itself above its own bound with those packets in flight.
     * r->cc is never NULL: tern_recovery_init is given one and a migration rebinds to another. */
    uint64_t win = r->cc->cwnd;
    for (int s = 0; s < TERN_SPACE_COUNT; s++)
        win = TERN_MAX(win, r->q[s].bytes_in_flight);
    return limit_of(r, win);
}

/* The bound of one space: a path ID's goes by its own path's window (each path ID holds at most
 * what its path may have in flight, so that the bound stays near the sum of the windows). */
static uint64_t space_limit(const tern_recovery *r, int space)
{
    if (!is_mp_space(space))
        return tern_recovery_record_limit(r);
    const tern_sentq *q = rq(r, space);
    return limit_of(r, TERN_MAX(space_cc(r, space)->cwnd, q->bytes_in_flight));
}

static int can_record(tern_recovery *r, int space, int probe)
{
    tern_sentq *q = rq(r, space);
    if (!q || q->discarded)
        return 0;
    if (q->count >= space_limit(r, space) &&
        (!probe || q->over_limit >= TERN_RECOVERY_PROBE_RECORDS))
        return 0;
    return q->count < q->cap || q_grow(q, space) == 0;
}

int tern_recovery_can_record(tern_recovery *r, int space)
{
    return can_record(r, space, 0);
}

int tern_recovery_can_record_probe(tern_recovery *r, int space)
{
    return can_record(r, space, 1);
}

size_t tern_recovery_records(const tern_recovery *r, int space)
{
    const tern_sentq *q = rq(r, space);
    return q ? q->count + lq_count(&q->lost) : 0;
}

static void mark_lost(tern_recovery *r, int space, tern_sentq *q, tern_sent_pkt *p)
{
    p->lost = 1;
    if (p->in_flight) {
        r->pkts_lost++;
        q->bytes_in_flight -= p->size;
        tern_cc_on_removed(cc_of(r, p->path_id), p->size);
        if (p->ack_eliciting)
            q->ack_eliciting_in_flight--;
    }
    lq_push(&q->lost, p, space_limit(r, space));
    if (r->cb.on_lost)
        r->cb.on_lost(r->ud, space, p);
}

int tern_recovery_on_sent(tern_recovery *r, int space, const tern_sent_pkt *p)
{
    tern_sentq *q = rq(r, space);
    if (!q || !p || p->n_frames > TERN_SENT_MAX_FRAMES)
        return TERN_ERR_INVALID_ARG;
    if (q->discarded || (q->next_pn && p->pn < q->next_pn))
        return TERN_ERR_INVALID_ARG;
    int over = q->count >= space_limit(r, space);
    if (over && q->over_limit >= TERN_RECOVERY_PROBE_RECORDS)
        return TERN_ERR_NOMEM;
    if (q->count == q->cap && q_grow(q, space))
        return TERN_ERR_NOMEM;
    q->over_limit = over ? q->over_limit + 1 : 0;

    tern_sent_pkt *d = q_at(q, q->count);
    /* Fixed-size header copy plus the frames in use: cheaper than one variable-length memcpy. */
    memcpy(d, p, offsetof(tern_sent_pkt, frames));
    d->acked = d->lost = 0;
    for (unsigned i = 0; i < p->n_frames; i++)
        d->frames[i] = p->frames[i];
    q->count++;
    q->next_pn = p->pn + 1;
    if (p->in_flight) {
        q->bytes_in_flight += p->size;
        tern_cc_on_sent(cc_of(r, p->path_id), p->size);
        if (p->ack_eliciting) {
            q->ack_eliciting_in_flight++;
            q->last_ack_eliciting_time = p->time_sent;
            r->timer_base = p->time_sent;
        }
    }
    return 0;
}

void tern_recovery_on_skipped(tern_recovery *r, int space, uint64_t pn)
{
    tern_sentq *q = rq(r, space);
    if (!q || (q->next_pn && pn < q->next_pn))
        return;
    q->skipped[q->skipped_next] = pn;
    q->skipped_next = (q->skipped_next + 1) % TERN_RECOVERY_SKIPPED;
    q->next_pn = pn + 1;
}

/* RFC 9002 A.10 and B.8: declares lost the unacked packets at or below the largest acked that
 * are kPacketThreshold below it or older than the loss delay, arms loss_time for the rest, and
 * signals one congestion event (and persistent congestion) for the batch. */
/* Loss delay of a path: 9/8 of its RTT (RFC 9002 §6.1.2). */
static tern_tstamp path_loss_delay(const tern_recovery *r, const tern_rtt *rtt)
{
    tern_tstamp base = TERN_MAX(rtt->latest, rtt->smoothed);
    return TERN_MAX(TERN_MAX(base * r->time_eighths / 8, TERN_GRANULARITY), r->reorder_floor);
}

/* With several paths, packets of one packet-number space travel different routes and overtake
 * each other: the packet threshold only compares packets that left on the same path, and the time
 * threshold uses the RTT of the packet's own path. Packets on a path with no later acknowledged
 * packet are still declared lost by time once anything sent after them was acknowledged, so a dead
 * path's data does not wait forever. */
static void detect_lost(tern_recovery *r, int space, tern_tstamp now)
{
    tern_sentq *q = rq(r, space);
    tern_rtt *rtt = space_rtt(r, space);
    q->loss_time = TERN_TS_INF;
    if (q->largest_acked == UINT64_MAX)
        return;

    tern_tstamp loss_delay = path_loss_delay(r, rtt);
    uint8_t delay_path = 0xff;
    tern_tstamp pc_duration = 0;
    if (rtt->has_sample)
        pc_duration = tern_rtt_pto(rtt, r->max_ack_delay) * PERSISTENT_CONGESTION_THRESHOLD;

    int lost_in_flight = 0, run = 0, persistent = 0;
    tern_tstamp newest_lost = 0, run_start = 0;
    uint8_t lost_path = 0;
    for (size_t i = 0; i < q->count; i++) {
        tern_sent_pkt *p = q_at(q, i);
        if (p->pn > q->largest_acked)
            break;
        if (p->acked) {
            run = 0; /* an acknowledgement in between breaks a persistent-congestion span */
            continue;
        }
        if (p->lost)
            continue;
        uint8_t pid = p->path_id < TERN_RECOVERY_PATHS ? p->path_id : 0;
        if (pid != delay_path) {
            loss_delay = path_loss_delay(r, rtt_of(r, p->path_id));
            /* a path the connection has left drains its queue while acknowledgements come back
             * over the new one: allow it twice the usual reordering time before calling its
             * packets lost */
            if (rtt != rtt_of(r, p->path_id))
                loss_delay *= 2;
            delay_path = pid;
        }
        uint64_t path_largest = q->path_largest_acked[pid];
        int by_threshold = path_largest != UINT64_MAX && path_largest >= p->pn + r->pkt_thresh;
        if (p->time_sent + loss_delay > now && !by_threshold) {
            q->loss_time = TERN_MIN(q->loss_time, p->time_sent + loss_delay);
            continue;
        }
        if (p->in_flight && !p->pmtu_probe) {
            lost_in_flight++;
            if (p->time_sent >= newest_lost) {
                newest_lost = p->time_sent;
                lost_path = p->path_id;
            }
        }
        /* §7.6.2: only ack-eliciting packets sent after the first RTT sample count. */
        if (p->ack_eliciting && !p->pmtu_probe && rtt->has_sample &&
            p->time_sent > rtt->first_sample_time) {
            if (!run) {
                run = 1;
                run_start = p->time_sent;
            } else if (p->time_sent - run_start > pc_duration) {
                persistent = 1;
            }
        }
        r->loss_trigger = by_threshold ? TERN_QLOG_LOSS_REORDERING : TERN_QLOG_LOSS_TIME;
        mark_lost(r, space, q, p);
        r->loss_trigger = TERN_QLOG_LOSS_NONE;
    }
    if (lost_in_flight) {
        tern_cc_on_congestion(cc_of(r, lost_path), newest_lost, now);
        tern_cc_on_lost(cc_of(r, lost_path), newest_lost, (uint64_t)lost_in_flight);
    }
    if (persistent) {
        r->persistent_congestions++;
        tern_cc_on_persistent_congestion(cc_of(r, lost_path));
        rtt->min = rtt->latest; /* §5.2: the path may have changed */
    }
}

/* Nothing may change before an ACK is known to be valid: every check is made up front. */
static int ack_valid(const tern_sentq *q, const tern_pn_range_list *ranges)
{
    uint64_t largest = ranges->r[0].hi;
    if (q->next_pn == 0 || largest >= q->next_pn)
        return 0;
    for (size_t k = 0; k < ranges->n; k++) {
        uint64_t lo = ranges->r[k].lo, hi = ranges->r[k].hi;
        if (lo > hi || (k > 0 && hi >= ranges->r[k - 1].lo))
            return 0;
        for (int j = 0; j < TERN_RECOVERY_SKIPPED; j++)
            if (q->skipped[j] != UINT64_MAX && q->skipped[j] >= lo && q->skipped[j] <= hi)
                return 0; /* an optimistic ACK: that packet number was never sent */
    }
    return 1;
}

/* Lost records inside the ranges arrived after all: the path reorders more than the thresholds
 * allow. Widen them (as RACK does) so that reordering stops costing windows. Marks them (acked =
 * 3) for finish_spurious; returns how many. */
static size_t find_spurious(tern_recovery *r, tern_sentq *q, const tern_pn_range_list *ranges,
                            tern_tstamp now)
{
    tern_lostq *l = &q->lost;
    uint64_t largest = ranges->r[0].hi;
    size_t n = 0;
    if (!lq_count(l))
        return 0;
    for (size_t k = 0; k < ranges->n; k++) {
        uint64_t lo = ranges->r[k].lo, hi = ranges->r[k].hi;
        if (hi < l->v[l->start].pn)
            break; /* ranges descend */
        for (size_t i = lq_lower_bound(l, lo); i < l->end && l->v[i].pn <= hi; i++) {
            tern_sent_pkt *p = &l->v[i];
            if (p->acked)
                continue;
            p->acked = 3;
            n++;
            uint64_t dist = largest - p->pn + 1;
            if (dist > r->pkt_thresh)
                r->pkt_thresh = (uint32_t)TERN_MIN(dist, (uint64_t)TERN_MAX_PKT_THRESH);
            r->time_eighths = TERN_MIN(r->time_eighths + 2, (uint32_t)TERN_MAX_TIME_EIGHTHS);
            /* A queue that holds packets back for milliseconds does so whatever the RTT: the
             * time threshold must then cover that delay, not a multiple of a short RTT. */
            tern_tstamp late = now > p->time_sent ? now - p->time_sent : 0;
            r->reorder_floor = TERN_MAX(r->reorder_floor, TERN_MIN(late, TERN_MAX_REORDER_FLOOR));
        }
    }
    return n;
}

/* Lets the connection release what the spurious losses carried: their bytes already left flight. */
static void finish_spurious(tern_recovery *r, int space, tern_sentq *q,
                            const tern_pn_range_list *ranges)
{
    tern_lostq *l = &q->lost;
    for (size_t k = 0; k < ranges->n && lq_count(l); k++) {
        uint64_t lo = ranges->r[k].lo, hi = ranges->r[k].hi;
        if (hi < l->v[l->start].pn)
            break;
        for (size_t i = lq_lower_bound(l, lo); i < l->end && l->v[i].pn <= hi; i++) {
            tern_sent_pkt *p = &l->v[i];
            if (p->acked != 3)
                continue;
            p->acked = 1;
            r->spurious_losses++;
            if (p->in_flight && !p->pmtu_probe)
                tern_cc_on_spurious(cc_of(r, p->path_id), p->time_sent);
            if (r->cb.on_acked)
                r->cb.on_acked(r->ud, space, p);
        }
    }
}

int tern_recovery_on_ack(tern_recovery *r, int space, const tern_pn_range_list *ranges,
                         tern_tstamp ack_delay, tern_tstamp now)
{
    tern_sentq *q = rq(r, space);
    if (!q || !ranges)
        return TERN_ERR_INVALID_ARG;
    if (ranges->n == 0 || q->discarded)
        return 0;
    if (!ack_valid(q, ranges))
        return TERN_ERR_PROTO;
    uint64_t largest = ranges->r[0].hi;

    /* Pass 1 only marks newly acked records (acked = 2). Pass 2 runs after loss detection, as
     * RFC 9002 A.7 orders it: a loss found by this ACK starts the recovery period before the acked
     * bytes could grow the window. Records pruned from the head were acked or lost already, and
     * every pn below next_pn missing from the ring was skipped or carried only ACK frames. */
    const tern_sent_pkt *largest_rec = NULL;
    int eliciting = 0;
    size_t newly = 0, first_idx = SIZE_MAX, last_idx = 0;
    for (size_t k = 0; k < ranges->n && q->count; k++) {
        uint64_t lo = ranges->r[k].lo, hi = ranges->r[k].hi;
        if (hi < q_at(q, 0)->pn)
            break; /* ranges descend: the rest is older still */
        for (size_t i = q_lower_bound(q, lo); i < q->count; i++) {
            tern_sent_pkt *p = q_at(q, i);
            if (p->pn > hi)
                break;
            if (p->acked || p->lost)
                continue; /* a lost one is found in the lost list */
            p->acked = 2;
            newly++;
            first_idx = TERN_MIN(first_idx, i);
            last_idx = TERN_MAX(last_idx, i);
            if (p->pn == largest)
                largest_rec = p;
            eliciting |= p->ack_eliciting;
        }
    }
    size_t spurious = find_spurious(r, q, ranges, now);
    if (q->largest_acked == UINT64_MAX || largest > q->largest_acked)
        q->largest_acked = largest;
    for (size_t i = first_idx; newly && i <= last_idx; i++) {
        const tern_sent_pkt *p = q_at(q, i);
        uint8_t id = p->path_id < TERN_RECOVERY_PATHS ? p->path_id : 0;
        if (p->acked == 2 &&
            (q->path_largest_acked[id] == UINT64_MAX || p->pn > q->path_largest_acked[id]))
            q->path_largest_acked[id] = p->pn;
    }
    if (!newly && !spurious)
        return 0;

    if (largest_rec && eliciting &&
        (r->ack_path_id == TERN_RECOVERY_ANY_PATH || r->ack_path_id == largest_rec->path_id)) {
        tern_tstamp latest = now > largest_rec->time_sent ? now - largest_rec->time_sent : 0;
        /* Initial ACKs are never delayed on purpose (RFC 9002 §5.3): the field is noise there. */
        tern_rtt_update(rtt_of(r, largest_rec->path_id), latest,
                        space == TERN_SPACE_INITIAL ? 0 : ack_delay,
                        r->max_ack_delay, r->handshake_confirmed, now);
    }
    if (space == TERN_SPACE_HANDSHAKE && !r->is_server)
        r->peer_completed_address_validation = 1;
    detect_lost(r, space, now);

    /* Pass 2. Between first_idx and last_idx lie the newly acked records and the ranges' gaps (now
     * mostly declared lost). */
    for (size_t i = first_idx; newly && i <= last_idx; i++) {
        tern_sent_pkt *p = q_at(q, i);
        if (p->acked != 2)
            continue;
        p->acked = 1;
        r->pkts_acked++;
        if (p->in_flight) {
            if (p->ack_eliciting)
                q->ack_eliciting_in_flight--;
            q->bytes_in_flight -= p->size;
            tern_cc_on_acked(cc_of(r, p->path_id), p->size, p->time_sent, rtt_of(r, p->path_id),
                             now, p->app_limited);
        }
        if (r->cb.on_acked)
            r->cb.on_acked(r->ud, space, p);
    }
    if (spurious)
        finish_spurious(r, space, q, ranges);
    if (is_mp_space(space))
        q->pto_count = 0;
    else if (peer_validated(r))
        r->pto_count = 0;
    q_prune(q);
    lq_prune(&q->lost, now, lost_keep(r, space));
    r->timer_base = now;
    return 0;
}

static tern_tstamp earliest_loss_time(const tern_recovery *r, int *space)
{
    tern_tstamp t = TERN_TS_INF;
    for (int s = 0; s < TERN_RECOVERY_SPACES; s++) {
        const tern_sentq *q = rq(r, s);
        if (q && q->loss_time < t) {
            t = q->loss_time;
            *space = s;
        }
    }
    return t;
}

/* RFC 9002 A.8 GetPtoTimeAndSpace. The anti-deadlock probe is armed whenever no space can arm a
 * PTO (also when only 0-RTT packets are outstanding, which the pseudocode would leave unarmed). */
static tern_tstamp pto_time(const tern_recovery *r, int *space)
{
    tern_tstamp base = tern_rtt_pto(r->rtt, 0), best = TERN_TS_INF;
    for (int s = 0; s < TERN_RECOVERY_SPACES; s++) {
        const tern_sentq *q = rq(r, s);
        if (!q || !q->ack_eliciting_in_flight || q->discarded)
            continue;
        /* a path ID's PTO is its path's (draft-ietf-quic-multipath-21: per path) */
        tern_tstamp d = is_mp_space(s) ? tern_rtt_pto(space_rtt(r, s), 0) : base;
        if (s >= TERN_SPACE_APP) {
            if (!r->handshake_confirmed)
                break;
            d += r->max_ack_delay;
        }
        tern_tstamp t =
            sat_add(q->last_ack_eliciting_time, backoff(d, tern_recovery_pto_count(r, s)));
        if (t < best) {
            best = t;
            *space = s;
        }
    }
    if (best != TERN_TS_INF || peer_validated(r) || r->timer_base == TERN_TS_INF)
        return best;
    *space = r->has_handshake_keys ? TERN_SPACE_HANDSHAKE : TERN_SPACE_INITIAL;
    return sat_add(r->timer_base, backoff(base, r->pto_count));
}

tern_tstamp tern_recovery_timer(const tern_recovery *r, tern_tstamp now)
{
    int space;
    tern_tstamp t = earliest_loss_time(r, &space);
    if (t != TERN_TS_INF)
        return t;
    if (r->amplification_blocked)
        return TERN_TS_INF;
    return pto_time(r, &space);
}

int tern_recovery_on_timeout(tern_recovery *r, tern_tstamp now)
{
    int space = -1;
    tern_tstamp t = earliest_loss_time(r, &space);
    if (t != TERN_TS_INF) {
        if (now < t)
            return -1;
        detect_lost(r, space, now);
        q_prune(rq(r, space));
        lq_prune(&rq(r, space)->lost, now, lost_keep(r, space));
        r->timer_base = now;
        return -1;
    }
    if (r->amplification_blocked)
        return -1;
    t = pto_time(r, &space);
    if (t == TERN_TS_INF || now < t)
        return -1;
    if (is_mp_space(space))
        rq(r, space)->pto_count++;
    else
        r->pto_count++;
    r->pto_total++;
    r->timer_base = now;
    return space;
}

void tern_recovery_discard_space(tern_recovery *r, int space)
{
    tern_sentq *q = rq(r, space);
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++) {
        const tern_sent_pkt *p = q_at(q, i);
        if (p->in_flight && !p->acked && !p->lost)
            tern_cc_on_removed(cc_of(r, p->path_id), p->size);
    }
    q_free(q);
    q->ack_eliciting_in_flight = 0;
    q->bytes_in_flight = 0;
    q->loss_time = TERN_TS_INF;
    q->last_ack_eliciting_time = 0;
    q->discarded = 1;
    if (is_mp_space(space))
        q->pto_count = 0;
    else
        r->pto_count = 0;
}

void tern_recovery_declare_all_lost(tern_recovery *r, int space, tern_tstamp now)
{
    tern_sentq *q = rq(r, space);
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++) {
        tern_sent_pkt *p = q_at(q, i);
        if (!p->acked && !p->lost)
            mark_lost(r, space, q, p);
    }
    q_prune(q);
    q->ack_eliciting_in_flight = 0;
    q->loss_time = TERN_TS_INF;
    if (is_mp_space(space))
        q->pto_count = 0;
    else
        r->pto_count = 0;
    r->timer_base = now;
}

void tern_recovery_on_unrecorded(tern_recovery *r, int space, uint64_t pn)
{
    tern_sentq *q = rq(r, space);
    if (q && pn + 1 > q->next_pn)
        q->next_pn = pn + 1;
}

void tern_recovery_declare_path_lost(tern_recovery *r, uint8_t path_id, tern_tstamp now)
{
    /* every application space: path ID 0's, and those of path IDs that left on this path */
    for (int s = TERN_SPACE_APP; s < TERN_RECOVERY_SPACES; s++) {
        tern_sentq *q = rq(r, s);
        if (!q)
            continue;
        uint64_t eliciting = 0;
        for (size_t i = 0; i < q->count; i++) {
            tern_sent_pkt *p = q_at(q, i);
            if (p->acked || p->lost)
                continue;
            if (p->path_id == path_id)
                mark_lost(r, s, q, p);
            else if (p->in_flight && p->ack_eliciting)
                eliciting++;
        }
        q->ack_eliciting_in_flight = eliciting;
        q_prune(q);
    }
    r->timer_base = now;
}

int tern_recovery_has_in_flight(const tern_recovery *r)
{
    for (int s = 0; s < TERN_RECOVERY_SPACES; s++) {
        const tern_sentq *q = rq(r, s);
        if (q && q->ack_eliciting_in_flight)
            return 1;
    }
    return 0;
}
