/* Path MTU discovery for one path (see pmtud.h and docs/pmtud.md). The search probes the largest
 * allowed size first (on most paths the interface MTU is the path MTU: one probe ends it), then
 * searches by halving the candidates left between the largest size that worked and the smallest
 * that failed. */
#include "pmtud.h"

/* UDP payloads of the link MTUs met in practice, IPv6 (48 bytes of headers) and IPv4 (28):
 * 1280 (IPv6's minimum, tunnels), 1400/1420 (VPNs, WireGuard), 1480 (PPPoE's 1492, 6in4),
 * 1500 (Ethernet), 9000 (jumbo frames). The search's own maximum is tried besides these. */
static const size_t candidates[] = {1232, 1252, 1280, 1352, 1372, 1392, 1432,
                                    1444, 1452, 1464, 1472, 8952, 8972};
#define NCAND (sizeof(candidates) / sizeof(candidates[0]))

size_t tern_pmtud_max(const tern_pmtud *m)
{
    size_t max = TERN_MIN(m->cap, m->peer);
    if (m->local)
        max = TERN_MIN(max, m->local);
    return TERN_MAX(max, (size_t)TERN_PMTUD_BASE);
}

/* The next size to try in the current search (0: none left). */
static size_t next_size(const tern_pmtud *m)
{
    size_t max = tern_pmtud_max(m);
    size_t lo = m->plpmtu, hi = TERN_MIN(m->fail, max + 1); /* lo works, hi does not */
    if (hi <= lo + 1)
        return 0;
    if (m->fail == SIZE_MAX)
        return max; /* nothing failed yet: the largest first */
    size_t in[NCAND], n = 0;
    for (size_t i = 0; i < NCAND; i++)
        if (candidates[i] > lo && candidates[i] < hi)
            in[n++] = candidates[i];
    return n ? in[n / 2] : 0;
}

/* Picks the next probe, or completes the search and arms the raise timer. */
static void advance(tern_pmtud *m, tern_tstamp now)
{
    if (!m->started)
        return;
    size_t next = next_size(m);
    if (next) {
        if (next != m->probe_try)
            m->probe_losses = 0;
        m->probe_try = next;
        m->state = TERN_PMTUD_SEARCHING;
        m->raise_at = TERN_TS_INF;
        return;
    }
    m->probe_try = 0;
    m->probe_losses = 0;
    /* a raise timer past the end of time (a huge pmtud_raise_ms) is no timer: added to `now` it
     * would wrap round into the past and search again at every timeout */
    if (m->state != TERN_PMTUD_COMPLETE)
        m->raise_at =
            m->raise_ms && m->raise_ms < TERN_TS_INF - now ? now + m->raise_ms : TERN_TS_INF;
    m->state = TERN_PMTUD_COMPLETE;
}

void tern_pmtud_init(tern_pmtud *m, size_t cap, uint64_t raise_ms)
{
    memset(m, 0, sizeof(*m));
    m->cap = TERN_MAX(cap, (size_t)TERN_PMTUD_BASE);
    m->peer = TERN_PMTUD_MAX_UDP;
    m->plpmtu = TERN_PMTUD_BASE;
    m->fail = SIZE_MAX;
    m->probe_deadline = TERN_TS_INF;
    m->raise_at = TERN_TS_INF;
    m->raise_ms = raise_ms > UINT64_MAX / TERN_NS_PER_MS ? TERN_TS_INF : raise_ms * TERN_NS_PER_MS;
    m->state = TERN_PMTUD_IDLE;
}

/* A limit changed: the PLPMTU follows it down at once, a search resumes when it went up. */
static int limits_changed(tern_pmtud *m, tern_tstamp now)
{
    size_t max = tern_pmtud_max(m);
    int changed = 0;
    if (m->plpmtu > max) {
        m->plpmtu = max;
        changed = 1;
    }
    if (m->probe_size > max) {
        m->probe_size = 0; /* its answer no longer matters */
        m->probe_deadline = TERN_TS_INF;
    }
    if (m->state == TERN_PMTUD_COMPLETE && max > m->plpmtu) {
        m->fail = SIZE_MAX;
        m->state = TERN_PMTUD_SEARCHING;
    }
    if (m->state != TERN_PMTUD_IDLE)
        advance(m, now);
    return changed;
}

int tern_pmtud_set_local(tern_pmtud *m, size_t limit, tern_tstamp now)
{
    m->local = limit ? TERN_MAX(limit, (size_t)TERN_PMTUD_BASE) : 0;
    return limits_changed(m, now);
}

int tern_pmtud_set_peer(tern_pmtud *m, size_t limit, tern_tstamp now)
{
    m->peer = TERN_MAX(limit, (size_t)TERN_PMTUD_BASE);
    return limits_changed(m, now);
}

void tern_pmtud_start(tern_pmtud *m, tern_tstamp now)
{
    if (m->started)
        return;
    m->started = 1;
    m->state = TERN_PMTUD_SEARCHING;
    advance(m, now);
}

size_t tern_pmtud_probe_due(const tern_pmtud *m)
{
    return m->state == TERN_PMTUD_SEARCHING && !m->probe_size ? m->probe_try : 0;
}

void tern_pmtud_on_probe_sent(tern_pmtud *m, size_t size, uint64_t pn, tern_tstamp deadline)
{
    m->probe_size = size;
    m->probe_pn = pn;
    m->probe_deadline = deadline;
    m->probes_sent++;
}

void tern_pmtud_on_probe_acked(tern_pmtud *m, size_t size, uint64_t pn)
{
    if (m->probe_size && pn == m->probe_pn) {
        m->probe_size = 0;
        m->probe_deadline = TERN_TS_INF;
        m->unsettled = 1;
    }
    if (size <= m->plpmtu || size > tern_pmtud_max(m))
        return; /* a smaller size than is in use already, or one a lowered limit forbids */
    m->plpmtu = size;
    if (m->fail <= size)
        m->fail = SIZE_MAX; /* it failed before and works now: the path changed */
    m->probe_losses = 0;
    if (m->state == TERN_PMTUD_COMPLETE)
        m->state = TERN_PMTUD_SEARCHING;
    m->unsettled = 1;
}

void tern_pmtud_on_probe_lost(tern_pmtud *m, uint64_t pn)
{
    if (!m->probe_size || pn != m->probe_pn)
        return; /* given up already, or one from before a limit changed */
    size_t size = m->probe_size;
    m->probe_size = 0;
    m->probe_deadline = TERN_TS_INF;
    m->probes_lost++;
    if (size == m->probe_try && ++m->probe_losses >= TERN_PMTUD_MAX_PROBES) {
        m->fail = TERN_MIN(m->fail, size);
        m->probe_losses = 0;
    }
    m->unsettled = 1;
}

void tern_pmtud_on_pkt_acked(tern_pmtud *m, size_t size)
{
    if (size > TERN_PMTUD_BASE) {
        m->bh_lost = 0;
        m->bh_small_acked = 0;
    } else if (m->bh_lost) {
        m->bh_small_acked = 1;
    }
}

void tern_pmtud_on_pkt_lost(tern_pmtud *m, size_t size)
{
    if (size > TERN_PMTUD_BASE && m->bh_lost < UINT32_MAX)
        m->bh_lost++;
}

int tern_pmtud_settle(tern_pmtud *m, tern_tstamp now)
{
    int black_hole =
        m->bh_lost >= TERN_PMTUD_BH_LOSSES && m->bh_small_acked && m->plpmtu > TERN_PMTUD_BASE;
    if (black_hole) {
        /* the size in use failed: search again below it (the raise timer tries it again) */
        m->fail = m->plpmtu;
        m->plpmtu = TERN_PMTUD_BASE;
        m->bh_lost = 0;
        m->bh_small_acked = 0;
        m->probe_size = 0;
        m->probe_deadline = TERN_TS_INF;
        m->probe_losses = 0;
        m->black_holes++;
        if (m->state == TERN_PMTUD_COMPLETE)
            m->state = TERN_PMTUD_SEARCHING;
        m->unsettled = 1;
    }
    if (m->unsettled) {
        m->unsettled = 0;
        advance(m, now);
    }
    return black_hole;
}

tern_tstamp tern_pmtud_timer(const tern_pmtud *m)
{
    if (m->state == TERN_PMTUD_SEARCHING && m->probe_size)
        return m->probe_deadline;
    if (m->state == TERN_PMTUD_COMPLETE)
        return m->raise_at;
    return TERN_TS_INF;
}

void tern_pmtud_on_timeout(tern_pmtud *m, tern_tstamp now)
{
    if (m->state == TERN_PMTUD_SEARCHING && m->probe_size && now >= m->probe_deadline) {
        tern_pmtud_on_probe_lost(m, m->probe_pn);
        tern_pmtud_settle(m, now);
    } else if (m->state == TERN_PMTUD_COMPLETE && now >= m->raise_at) {
        /* PMTU_RAISE_TIMER: the path may carry more now; what failed is tried again */
        m->fail = SIZE_MAX;
        m->state = TERN_PMTUD_SEARCHING;
        m->raise_at = TERN_TS_INF;
        advance(m, now); /* already at the maximum: complete again, the timer re-armed */
    }
}
