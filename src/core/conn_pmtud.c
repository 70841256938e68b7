/* Path MTU discovery as the connection runs it: each path's tern_pmtud (pmtud.c) gets the limits
 * (the configuration, the peer's max_udp_payload_size, the local interface's MTU from the driver),
 * the fate of every packet that left on the path, and the timers; the path's congestion
 * controller and pacer follow its datagram size (RFC 9002 §7.2). The probes themselves are built
 * in conn_send.c. */
#include <stdio.h>

#include "conn_internal.h"

/* The datagram size of path idx changed (or was never applied): its controller and pacer follow. */
static void apply(tern_conn *c, int idx)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    size_t mtu = tern_path_mtu(p);
    uint64_t old = p->cc.max_datagram_size;
    if (old == mtu)
        return;
    tern_cc_set_max_datagram_size(&p->cc, mtu);
    tern_pacer_set_max_datagram_size(&p->pacer, mtu);
    if (c->qlog)
        tern_qlog_mtu_updated(c, idx, old, mtu, p->pmtud.state == TERN_PMTUD_COMPLETE);
    TERN_LOG(c, "path %d: datagrams of %zu bytes (were %llu)", idx, mtu, (unsigned long long)old);
}

void tern_conn_pmtud_init_path(tern_conn *c, int idx, tern_tstamp now)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    if (c->tp.peer_received)
        tern_pmtud_set_peer(
            &p->pmtud,
            (size_t)TERN_MIN(c->tp.peer.max_udp_payload_size, (uint64_t)TERN_PMTUD_MAX_UDP), now);
    apply(c, idx);
}

void tern_conn_pmtud_peer_limit(tern_conn *c, uint64_t limit, tern_tstamp now)
{
    size_t l = (size_t)TERN_MIN(limit, (uint64_t)TERN_PMTUD_MAX_UDP);
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_conn_path_slot(c, i) && tern_conn_path_slot(c, i)->state != TERN_PATH_UNUSED) {
            tern_pmtud_set_peer(&tern_conn_path_slot(c, i)->pmtud, l, now);
            apply(c, i);
        }
}

int tern_conn_set_path_mtu(tern_conn *c, const tern_path_addr *path, size_t max_udp,
                           tern_tstamp now)
{
    if (!c || !path)
        return TERN_ERR_INVALID_ARG;
    int found = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p) || !tern_addr_equal(&p->addr.local, &path->local) ||
            !tern_addr_equal(&p->addr.remote, &path->remote))
            continue;
        tern_pmtud_set_local(&p->pmtud, max_udp, now);
        p->mtu_asked = 1;
        apply(c, i);
        found = 1;
    }
    return found ? 0 : TERN_ERR_NOT_FOUND;
}

void tern_conn_pmtud_maybe_start(tern_conn *c, tern_tstamp now)
{
    int idx = c->paths.active;
    tern_path *p = tern_conn_path_slot(c, idx);
    if (p->pmtud.started || !c->hs.confirmed || !p->path_validated || !p->validated)
        return;
    /* the interface is asked once, when the search is about to use the answer: a server's paths
     * to addresses that never validate cost no lookup */
    if (!p->mtu_asked && c->hooks.path_mtu) {
        size_t lim = c->hooks.path_mtu(c->hooks.ud, c, &p->addr);
        if (lim)
            tern_pmtud_set_local(&p->pmtud, lim, now);
    }
    p->mtu_asked = 1;
    tern_pmtud_start(&p->pmtud, now);
    apply(c, idx);
}

/* A sent packet's path_id is always the index of the path it left on (conn_send.c records it). */
void tern_conn_pmtud_on_acked(tern_conn *c, const tern_sent_pkt *p)
{
    tern_pmtud *m = &tern_conn_path_slot(c, p->path_id)->pmtud;
    if (p->pmtu_probe)
        tern_pmtud_on_probe_acked(m, p->size, p->pn);
    else if (p->in_flight)
        tern_pmtud_on_pkt_acked(m, p->size);
}

void tern_conn_pmtud_on_lost(tern_conn *c, const tern_sent_pkt *p)
{
    tern_pmtud *m = &tern_conn_path_slot(c, p->path_id)->pmtud;
    if (p->pmtu_probe) {
        c->stats.mtu_probes_lost++;
        tern_pmtud_on_probe_lost(m, p->pn);
    } else if (p->in_flight)
        tern_pmtud_on_pkt_lost(m, p->size);
}

void tern_conn_pmtud_settle(tern_conn *c, tern_tstamp now)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p))
            continue;
        if (tern_pmtud_settle(&p->pmtud, now) && ++c->stats.mtu_black_holes)
            TERN_LOG(c, "path %d: packets above %d bytes no longer arrive: back to %d", i,
                     TERN_PMTUD_BASE, TERN_PMTUD_BASE);
        apply(c, i);
    }
}

tern_tstamp tern_conn_pmtud_timer(const tern_conn *c)
{
    tern_tstamp t = TERN_TS_INF;
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_path_in_use(tern_conn_path_slot(c, i)))
            t = TERN_MIN(t, tern_pmtud_timer(&tern_conn_path_slot(c, i)->pmtud));
    return t;
}

void tern_conn_pmtud_on_timeout(tern_conn *c, tern_tstamp now)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p) || tern_pmtud_timer(&p->pmtud) > now)
            continue;
        uint64_t lost = p->pmtud.probes_lost;
        tern_pmtud_on_timeout(&p->pmtud, now);
        c->stats.mtu_probes_lost += p->pmtud.probes_lost - lost;
        apply(c, i);
    }
}

size_t tern_conn_pmtud_probe_size(tern_conn *c, size_t cap, tern_tstamp now)
{
    tern_conn_pmtud_maybe_start(c, now);
    tern_path *p = tern_conn_path(c);
    size_t size = tern_pmtud_probe_due(&p->pmtud);
    if (size > cap && cap >= TERN_PMTUD_BASE) {
        /* the driver's buffer cannot hold it: nothing larger could be sent anyway */
        if (!p->pmtud.local || cap < p->pmtud.local)
            tern_pmtud_set_local(&p->pmtud, cap, now);
        apply(c, c->paths.active);
        size = tern_pmtud_probe_due(&p->pmtud);
    }
    /* within the window like any ack-eliciting packet (RFC 9000 §14.4), without pacing delay */
    if (!size || tern_cc_available(&p->cc) < size || tern_path_amp_budget(p) < size)
        return 0;
    return size;
}

void tern_conn_pmtud_probe_sent(tern_conn *c, size_t size, uint64_t pn, tern_tstamp now)
{
    tern_path *p = tern_conn_path(c);
    /* Loss detection normally settles a probe well before this (later packets are acknowledged);
     * the deadline covers a connection with nothing else in flight. */
    tern_tstamp deadline = now + 2 * tern_rtt_pto(&p->rtt, c->tp.peer_max_ack_delay);
    tern_pmtud_on_probe_sent(&p->pmtud, size, pn, deadline);
    c->stats.mtu_probes_sent++;
}
