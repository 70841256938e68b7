/* Connection migration policy: which path carries traffic, when paths are validated, what happens
 * when validation fails, how a server follows a client that moved, and the preferred address.
 * Packet-level pieces (probe datagrams, PATH_CHALLENGE/RESPONSE frames) are built in conn_send.c and
 * parsed in conn_recv.c; this file decides. */
#include <stdio.h>

#include "abi.h"
#include "conn_internal.h"
#include "migration.h"
#include "mpsched.h"
#include "mpspace.h"
#include "policy.h"

/* ---- events -------------------------------------------------------------------------------------- */

void tern_mig_path_info(const tern_conn *c, int idx, tern_path_info *out)
{
    const tern_path *p = tern_conn_path_slot(c, idx);
    memset(out, 0, sizeof(*out));
    out->id = idx;
    out->addr = p->addr;
    switch (p->state) {
    case TERN_PATH_PROBING:
        out->state = TERN_PATH_STATE_PROBING;
        break;
    case TERN_PATH_VALIDATED:
        out->state = TERN_PATH_STATE_VALIDATED;
        break;
    case TERN_PATH_FAILED:
        out->state = TERN_PATH_STATE_FAILED;
        break;
    default:
        out->state = TERN_PATH_STATE_ABANDONED;
        break;
    }
    if (idx == c->paths.active && tern_path_in_use(p))
        out->state = TERN_PATH_STATE_ACTIVE;
    out->validated = p->path_validated;
    out->srtt_ns = p->rtt.smoothed;
    out->min_rtt_ns = p->rtt.has_sample ? p->rtt.min : 0;
    out->cwnd = p->cc.cwnd;
    out->bytes_in_flight = p->cc.bytes_in_flight;
    out->bytes_sent = p->bytes_sent;
    out->bytes_recv = p->bytes_recv;
    out->pkts_sent = p->pkts_sent;
    out->pkts_recv = p->pkts_recv;
    out->pkts_lost = p->pkts_lost;
    out->created_ns = p->created;
    out->validated_ns = p->validated_at;
    out->restored = p->restored;
    out->restored_cwnd = p->restored_cwnd;
    out->ecn_state = c->cfg->ecn ? p->ecn.state : TERN_ECN_STATE_OFF;
    out->ecn_failure = p->ecn.failure;
    out->ecn_sent = p->ecn.sent;
    out->ecn_ce = p->ecn.ce;
    out->ecn_ce_reductions = p->ecn.ce_reductions;
    out->ecn_recv_ect0 = p->ecn.recv[0];
    out->ecn_recv_ect1 = p->ecn.recv[1];
    out->ecn_recv_ce = p->ecn.recv[2];
    out->mtu = tern_path_mtu(p);
    out->mtu_max = tern_pmtud_max(&p->pmtud);
    out->mtu_black_holes = p->pmtud.black_holes;
    out->mp_path_id = -1;
    if (c->mpd && tern_mps_slot_of(c, p->mp_id) == idx) {
        int space = tern_path_space(p);
        const tern_pn_space_state *sp = tern_conn_sp(c, space);
        const tern_sentq *q = tern_recovery_q(&c->rec, space);
        out->mp_path_id = (int64_t)p->mp_id;
        out->mp_backup_local = tern_mp_local_backup(c, p->mp_id) == 1;
        out->mp_backup_peer = tern_mp_peer_backup(c, p->mp_id) == 1;
        out->mp_next_pn = sp ? sp->next_pn : 0;
        out->mp_largest_acked = q ? q->largest_acked : UINT64_MAX;
        out->mp_stream_bytes = p->mp_stream_bytes;
        out->mp_failing = p->mp_failing;
    }
}

static void emit(tern_conn *c, tern_path_event_type type, tern_path_reason why, int idx, int from,
                 uint64_t rtt)
{
    TERN_LOG(c, "path %d: event %d (%s)%s", idx, (int)type, tern_path_reason_str(why),
             from >= 0 ? " (moved)" : "");
    if (c->qlog) tern_qlog_path_event(c, type, why, idx, from, rtt);
    if (!c->cb || !c->cb->on_path_event)
        return;
    tern_path_info pi, fi;
    tern_path_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.reason = why;
    tern_mig_path_info(c, idx, &pi);
    ev.path = &pi;
    if (from >= 0) {
        tern_mig_path_info(c, from, &fi);
        ev.from = &fi;
    }
    ev.rtt_ns = rtt;
    c->cb->on_path_event(c, &ev, c->cb_ud);
}

/* ---- helpers ------------------------------------------------------------------------------------ */

size_t tern_mig_paths_in_use(const tern_conn *c)
{
    size_t n = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_path_in_use(tern_conn_path_slot(c, i)))
            n++;
    return n;
}

size_t tern_mig_max_paths(const tern_config *cfg)
{
    size_t n = cfg->max_paths ? cfg->max_paths : 8;
    return TERN_MIN(n, (size_t)TERN_MAX_PATHS);
}

static int free_slot(const tern_conn *c)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (!tern_path_in_use(tern_conn_path_slot(c, i)) && i != c->paths.active)
            return i;
    return -1;
}

int tern_conn_path_by_local(const tern_conn *c, const tern_addr *local)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_path_in_use(tern_conn_path_slot(c, i)) &&
            tern_addr_equal(&tern_conn_path_slot(c, i)->addr.local, local) && !tern_conn_path_slot(c, i)->preferred)
            return i;
    return -1;
}

static int is_unspecified(const tern_addr *a)
{
    static const uint8_t zero16[16];
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == 0;
    if (a->u.sa.sa_family == AF_INET6)
        return memcmp(&a->u.in6.sin6_addr, zero16, 16) == 0;
    return 0;
}

static uint16_t port_of(const tern_addr *a)
{
    return a->u.sa.sa_family == AF_INET6 ? a->u.in6.sin6_port : a->u.in.sin_port;
}

/* A path created from a socket bound to a wildcard address matches any local IP on its port. */
static int local_match(const tern_addr *path_local, const tern_addr *seen)
{
    if (!path_local->len || !seen->len)
        return 1;
    if (tern_addr_equal(path_local, seen))
        return 1;
    return is_unspecified(path_local) && path_local->u.sa.sa_family == seen->u.sa.sa_family &&
           port_of(path_local) == port_of(seen);
}

static int find_path(const tern_conn *c, const tern_path_addr *a)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        const tern_path *p = tern_conn_path_slot(c, i);
        if (tern_path_in_use(p) && local_match(&p->addr.local, &a->local) &&
            tern_addr_equal(&p->addr.remote, &a->remote))
            return i;
    }
    return -1;
}

static tern_tstamp path_pto(const tern_conn *c, const tern_path *p)
{
    return tern_rtt_pto(&p->rtt, c->hs.confirmed ? c->tp.peer_max_ack_delay : 0);
}

/* RFC 9000 §8.2.4: three times the larger of the current PTO and the new path's. */
static tern_tstamp validation_timeout(const tern_conn *c, const tern_path *p)
{
    tern_tstamp a = tern_conn_pto(c), b = path_pto(c, p);
    return 3 * TERN_MAX(a, b);
}

/* Starts (or restarts) validation of a path that has a peer CID. */
static void start_validation(tern_conn *c, tern_path *p, tern_tstamp now)
{
    p->need_challenge = 1;
    p->nchallenge = 0;
    p->challenge_interval = 0;
    p->challenge_retx_at = TERN_TS_INF;
    p->validation_period = validation_timeout(c, p);
    p->validation_deadline = now + p->validation_period;
    p->validation_pn = p->largest_pn_recv;
}

static int peer_forbids_migration(const tern_conn *c, tern_path_reason *why)
{
    if (!c->tp.peer_received)
        return 0;
    if (c->cids.peer.zero_len) {
        *why = TERN_PATH_WHY_ZERO_LEN_CID;
        return TERN_ERR_ZERO_LEN_CID;
    }
    if (c->tp.peer.disable_active_migration) {
        *why = TERN_PATH_WHY_MIGRATION_DISABLED;
        return TERN_ERR_MIGRATION_DISABLED;
    }
    return 0;
}

/* Takes a fresh peer CID for the path and starts probing it, or leaves it waiting for one. The
 * PROBING event carries the reason the path was created for (none when the application added it). */
/* A client's new path gets what it sends with: a fresh peer CID, or with multipath the lowest
 * path ID the peer gave CIDs for (draft-ietf-quic-multipath-21 §3.1: a new path opens a new path
 * ID, whose packet-number space and nonce it then uses). Returns 1 when it has one. */
static int path_take_cid(tern_conn *c, int idx)
{
    if (c->mpd) {
        tern_path *p = tern_conn_path_slot(c, idx);
        if (p->mp_id && tern_mps_slot_of(c, p->mp_id) == idx)
            return 1;
        /* none: PATH_CIDS_BLOCKED or PATHS_BLOCKED tells the peer (multipath.c) */
        uint64_t id = tern_mp_want_path(c);
        if (!id || tern_mp_path_id_claim(c, id) || tern_mps_bind(c, id, idx))
            return 0;
        if (p->mp_backup_wanted)
            (void)tern_mp_set_status(c, id, 1); /* a fresh path ID: held, abandoned by neither */
        return 1;
    }
    return tern_peer_cids_for_path(&c->cids.peer, (uint8_t)idx) ||
           tern_peer_cids_take(&c->cids.peer, (uint8_t)idx);
}

static void begin_probe(tern_conn *c, int idx, tern_tstamp now)
{
    tern_path_reason add_why = tern_conn_path_slot(c, idx)->add_why;
    tern_path *p = tern_conn_path_slot(c, idx);
    p->probe_pending = 0;
    if (!path_take_cid(c, idx)) {
        /* no spare CID: wait for NEW_CONNECTION_ID, failing with our own reason at the deadline */
        p->waiting_cid = 1;
        p->validation_deadline = now + validation_timeout(c, p);
        emit(c, TERN_PATH_EV_PROBING, TERN_PATH_WHY_NO_CID, idx, -1, 0);
        return;
    }
    p->waiting_cid = 0;
    start_validation(c, p, now);
    emit(c, TERN_PATH_EV_PROBING, add_why, idx, -1, 0);
}

static void rebind_recovery(tern_conn *c)
{
    c->rec.rtt = &tern_conn_path(c)->rtt;
    c->rec.cc = &tern_conn_path(c)->cc;
}

/* Compares the paths' minimum RTTs: the propagation delay, not the queue a busy path built up. */
static int similar_rtt(const tern_path *np, const tern_path *op)
{
    if (!np->rtt.has_sample || !op->rtt.has_sample)
        return 1;
    tern_tstamp a = np->rtt.min, b = op->rtt.min;
    return 2 * a <= 3 * b && 2 * b <= 3 * a;
}

static void end_path(tern_conn *c, int idx, int failed, tern_path_reason why, tern_tstamp now);

/* Moves the connection's traffic to path `idx`. */
static void switch_to(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    int from = c->paths.active; /* idx is another path: every caller picks one */
    tern_path *np = tern_conn_path_slot(c, idx), *op = tern_conn_path_slot(c, from);
    /* only the port changed: the same network, keep what was learnt about it (RFC 9000 §9.4) */
    if (np->pkts_sent < 64 && tern_path_only_port_changed(&np->addr, &op->addr)) {
        if (!np->rtt.has_sample)
            np->rtt = op->rtt;
        uint64_t inflight = np->cc.bytes_in_flight;
        np->cc = op->cc;
        np->cc.bytes_in_flight = inflight;
    } else if (np->cc.ssthresh == UINT64_MAX && op->cc.cwnd > np->cc.cwnd &&
               np->pkts_sent < 64 && op->cc.ssthresh != UINT64_MAX && similar_rtt(np, op)) {
        /* A new address gets the initial window (RFC 9000 §9.4), but when it looks like the same
         * kind of path (a minimum round trip within 1.5x, or none measured yet) its slow start ends where
         * the previous path's measured window stood: doubling past it would overflow the queue of
         * a path of the same capacity. Congestion avoidance then probes beyond, as on any path.
         * A window still in its own slow start was never measured, and a clearly different path
         * (wifi to cellular) keeps its full slow start. */
        np->cc.ssthresh = op->cc.cwnd;
    }
    if (!np->path_validated) {
        np->fallback = op->path_validated ? from : op->fallback;
        if (!np->need_challenge && np->validation_deadline == TERN_TS_INF && !np->waiting_cid)
            start_validation(c, np, now);
    } else {
        np->fallback = -1;
    }
    /* a server path opened by a rebinding (or by a copy an attacker sent on) has no CID of its
     * own: it takes the one the connection sends with, and gives it back when it fails */
    if (c->is_server && !tern_peer_cids_for_path(&c->cids.peer, (uint8_t)idx))
        tern_peer_cids_reassign(&c->cids.peer, (uint8_t)from, (uint8_t)idx);
    tern_mps_on_switch(c, from, idx);
    c->paths.active = idx;
    c->paths.failover_pending = 0;
    rebind_recovery(c);
    c->snd.app_limited_from = c->sp[TERN_SPACE_APP].next_pn;
    /* The new path carries an ack-eliciting packet at once, whatever else is due: a side that
     * only receives would otherwise send nothing there, and the peer would keep sending to the
     * old address. The PTO backoff earned on the old path says nothing about the new one. */
    c->paths.ping_pending = 1;
    c->rec.pto_count = 0;
    tern_conn_wake(c);
    tern_policy_on_active(c, from, idx, now);
    emit(c, TERN_PATH_EV_ACTIVE, why, idx, from, 0);
    if (op->gone)
        end_path(c, from, 1, (tern_path_reason)op->gone, now); /* kept only while it was the last */
}

/* A path ends: its peer CID is retired, unless the active path has none of its own (it borrowed
 * this one's while the connection moved): the active path always keeps one to send with. */
static void release_cid(tern_conn *c, int idx)
{
    if (idx != c->paths.active &&
        !tern_peer_cids_for_path(&c->cids.peer, (uint8_t)c->paths.active) &&
        tern_peer_cids_reassign(&c->cids.peer, (uint8_t)idx, (uint8_t)c->paths.active) == 0)
        return;
    tern_peer_cids_retire_path(&c->cids.peer, (uint8_t)idx);
}

/* What left on a dead or abandoned path is not coming back: declare it lost now, so that its data
 * goes again on the active path (no congestion signal: the path is gone, not congested). */
static void drop_in_flight(tern_conn *c, int idx, tern_tstamp now)
{
    tern_recovery_declare_path_lost(&c->rec, (uint8_t)idx, now);
    tern_conn_path_slot(c, idx)->cc.bytes_in_flight = 0;
}

/* Ends a path: failed (validation) or abandoned (removed). Its CID is retired and what was in flight
 * on it is resent elsewhere. */
static void end_path(tern_conn *c, int idx, int failed, tern_path_reason why, tern_tstamp now)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    if (!tern_path_in_use(p))
        return;
    if (failed)
        emit(c, TERN_PATH_EV_FAILED, why, idx, -1, 0);
    tern_policy_on_path_end(c, idx, failed, now);
    p->state = failed ? TERN_PATH_FAILED : TERN_PATH_ABANDONED;
    p->need_challenge = p->need_padded_challenge = 0;
    p->nresponse = 0;
    p->challenge_retx_at = p->validation_deadline = TERN_TS_INF;
    release_cid(c, idx);
    tern_mps_on_path_end(c, idx, now); /* multipath: PATH_ABANDON for its path ID */
    drop_in_flight(c, idx, now);
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_conn_path_slot(c, i) && tern_conn_path_slot(c, i)->fallback == idx)
            tern_conn_path_slot(c, i)->fallback = -1;
    emit(c, TERN_PATH_EV_REMOVED, why, idx, -1, 0);
}

/* The best validated path other than `except` and not leaving from `except_local` (may be NULL):
 * lowest smoothed RTT, then most recently validated. */
static int best_validated_but(const tern_conn *c, int except, const tern_addr *except_local)
{
    int best = -1;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        const tern_path *p = tern_conn_path_slot(c, i);
        if (i == except || !tern_path_in_use(p) || !p->path_validated ||
            (except_local && tern_addr_equal(&p->addr.local, except_local)))
            continue;
        if (best < 0)
            best = i;
        else {
            const tern_path *b = tern_conn_path_slot(c, best);
            if (p->rtt.smoothed < b->rtt.smoothed ||
                (p->rtt.smoothed == b->rtt.smoothed && p->validated_at > b->validated_at))
                best = i;
        }
    }
    return best;
}

static int best_validated(const tern_conn *c, int except)
{
    return best_validated_but(c, except, NULL);
}

/* A path failed validation; when it carried the traffic, go back to the path it came from. */
static void fail_path(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    if (idx == c->paths.active) {
        tern_path *p = tern_conn_path_slot(c, idx);
        if (c->is_server && !p->validation_retried && p->validation_pn != UINT64_MAX &&
            p->largest_pn_recv > p->validation_pn) {
            /* The client kept sending here (newer packets arrived since the validation began):
             * only our challenges or its answers were lost, and going back would take the
             * connection where the client no longer is. One more validation period instead
             * (the fallback is kept meanwhile); RFC 9000 §8.2.4 leaves abandoning a path to
             * the endpoint, and the idle timeout still ends it if the client falls silent. */
            p->validation_retried = 1;
            tern_tstamp first = p->validation_period;
            start_validation(c, p, now);
            /* The second period is no shorter than the first. The first was sized from the
             * initial RTT; the acknowledgements since then measured the path, and three of its
             * PTOs would leave a few challenges to the loss that took every answer of the
             * first period: the answers are what is missing, not the round trip. */
            if (first > p->validation_period) {
                p->validation_period = first;
                p->validation_deadline = now + first;
            }
            return;
        }
        int back = p->fallback; /* in use: an ending path is no one's fallback */
        if (back < 0)
            back = best_validated(c, idx);
        if (back < 0) {
            /* nowhere to go: the connection has no viable path left */
            end_path(c, idx, 1, why, now);
            tern_conn_fail(c, TERN_TE_NO_VIABLE_PATH, 0, "no viable path");
            return;
        }
        switch_to(c, back, TERN_PATH_WHY_VALIDATION_FAILED, now);
    }
    end_path(c, idx, 1, why, now);
}

/* A path in a free slot: its index, -1 when every slot is in use, or TERN_ERR_NOMEM. */
static int new_path(tern_conn *c, const tern_path_addr *addr, tern_tstamp now)
{
    int idx = free_slot(c);
    if (idx < 0)
        return -1;
    if (tern_conn_path_slot_open(c, idx))
        return TERN_ERR_NOMEM;
    tern_path_init(tern_conn_path_slot(c, idx), (uint8_t)idx, addr, c->cfg->cc, c->cfg->max_udp_payload,
                   c->cfg->pmtud_raise_ms, now);
    tern_conn_pmtud_init_path(c, idx, now);
    tern_policy_restore(c, idx, now);
    return idx;
}

/* ---- client verbs --------------------------------------------------------------------------------- */

/* What every client verb refuses before looking at paths. */
static int client_verb_check(const tern_conn *c, const tern_addr *local)
{
    if (!c || !local || !local->len)
        return TERN_ERR_INVALID_ARG;
    if (c->is_server)
        return TERN_ERR_NOT_CLIENT;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    return 0;
}

int tern_conn_path_add(tern_conn *c, const tern_addr *local, tern_tstamp now)
{
    return tern_mig_add_path(c, local, TERN_PATH_WHY_NONE, now);
}

int tern_mig_add_path(tern_conn *c, const tern_addr *local, tern_path_reason why, tern_tstamp now)
{
    int rv = client_verb_check(c, local);
    if (rv)
        return rv;
    const tern_path *ap = tern_conn_path(c);
    if (local->u.sa.sa_family != ap->addr.remote.u.sa.sa_family)
        return TERN_ERR_AF_MISMATCH;
    if (tern_conn_path_by_local(c, local) >= 0)
        return TERN_ERR_DUPLICATE;
    tern_path_reason forbid_why;
    if ((rv = peer_forbids_migration(c, &forbid_why)))
        return rv;
    if (tern_mig_paths_in_use(c) >= tern_mig_max_paths(c->cfg))
        return TERN_ERR_PATH_LIMIT;
    tern_path_addr pa = {*local, ap->addr.remote};
    int idx = new_path(c, &pa, now);
    if (idx < 0)
        return idx == TERN_ERR_NOMEM ? TERN_ERR_NOMEM : TERN_ERR_PATH_LIMIT;
    tern_path *p = tern_conn_path_slot(c, idx);
    p->validated = 1; /* the amplification limit protects others from servers, not us */
    p->add_why = why;
    if (!c->hs.confirmed) {
        p->probe_pending = 1; /* RFC 9000 §9: no migration before confirmation */
        return idx;
    }
    begin_probe(c, idx, now);
    return idx;
}

int tern_conn_path_set_active(tern_conn *c, const tern_addr *local, tern_tstamp now)
{
    int rv = client_verb_check(c, local);
    if (rv)
        return rv;
    int idx = tern_conn_path_by_local(c, local);
    if (idx < 0) {
        idx = tern_conn_path_add(c, local, now);
        if (idx < 0)
            return idx;
    }
    tern_path *p = tern_conn_path_slot(c, idx);
    if (idx == c->paths.active)
        return idx;
    if (!c->hs.confirmed || p->waiting_cid) { /* confirmed: no path waits for it any more */
        c->paths.pending_active = idx; /* switched as soon as it can carry packets */
        return idx;
    }
    switch_to(c, idx, TERN_PATH_WHY_APP, now);
    return idx;
}

int tern_conn_path_remove(tern_conn *c, const tern_addr *local, tern_tstamp now)
{
    int rv = client_verb_check(c, local);
    if (rv)
        return rv;
    if (tern_conn_path_by_local(c, local) < 0)
        return TERN_ERR_NOT_FOUND;
    /* Every path leaving from that address goes (the path to the server's preferred address may
     * share it): the address's socket closes after this. */
    int on_addr[TERN_MAX_PATHS], n = 0, active_on_addr = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_path_in_use(tern_conn_path_slot(c, i)) &&
            tern_addr_equal(&tern_conn_path_slot(c, i)->addr.local, local)) {
            on_addr[n++] = i;
            active_on_addr |= i == c->paths.active;
        }
    if (active_on_addr) {
        int best = best_validated_but(c, -1, local);
        if (best < 0)
            return TERN_ERR_LAST_PATH;
        switch_to(c, best, TERN_PATH_WHY_ACTIVE_REMOVED, now);
    }
    for (int k = 0; k < n; k++) {
        if (c->paths.pending_active == on_addr[k])
            c->paths.pending_active = -1;
        end_path(c, on_addr[k], 0, TERN_PATH_WHY_APP, now);
    }
    return 0;
}

int tern_conn_path_status_usable(const tern_conn *c)
{
    /* the client has the server's transport parameters once the handshake completed; before,
     * our offer is all there is to go by */
    return !c->mp.enabled && (!c->mp.offered || c->hs.complete) ? TERN_ERR_NOT_MULTIPATH : 0;
}

int tern_conn_path_set_backup(tern_conn *c, const tern_addr *local, int backup)
{
    int rv = client_verb_check(c, local);
    if (rv || (rv = tern_conn_path_status_usable(c)))
        return rv;
    if (tern_conn_path_by_local(c, local) < 0)
        return TERN_ERR_NOT_FOUND;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (tern_path_in_use(p) && tern_addr_equal(&p->addr.local, local))
            tern_mig_path_backup(c, i, backup);
    }
    return 0;
}

void tern_mig_path_backup(tern_conn *c, int idx, int backup)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    p->mp_backup_wanted = backup != 0;
    /* with a path ID of its own (path ID 0 is the first path's), the status goes out now; a
     * path abandoned on either side is ending and keeps the status it had */
    if (c->mpd && tern_mps_slot_of(c, p->mp_id) == idx)
        (void)tern_mp_set_status(c, p->mp_id, backup != 0);
}

void tern_conn_path_socket_error(tern_conn *c, int idx, tern_tstamp now)
{
    tern_conn_path_gone(c, idx, TERN_PATH_WHY_SOCKET_ERROR, now);
}

void tern_conn_path_gone(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    if (!c || idx < 0 || idx >= TERN_MAX_PATHS || !tern_path_in_use(tern_conn_path_slot(c, idx)) ||
        c->state >= TERN_CS_CLOSING)
        return;
    tern_policy_on_path_gone(c, idx, why, now);
    if (idx == c->paths.active &&
        (c->is_server || tern_migration_failover(c, TERN_PATH_WHY_FAILOVER, now) != 1)) {
        /* nowhere to go yet (or the application decides): keep the only path, and end it once
         * the connection has moved */
        tern_conn_path_slot(c, idx)->gone = (int)why;
        return;
    }
    if (c->paths.pending_active == idx)
        c->paths.pending_active = -1;
    end_path(c, idx, 1, why, now);
}

int tern_migration_failover(tern_conn *c, tern_path_reason why, tern_tstamp now)
{
    if (c->is_server)
        return TERN_ERR_NOT_CLIENT;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    if (!c->cfg->failover)
        return 0;
    int dead = c->paths.active;
    int best = best_validated(c, dead);
    if (best >= 0) {
        switch_to(c, best, why, now);
        drop_in_flight(c, dead, now);
        return 1;
    }
    /* nothing validated: move to the first path that answers (every path in use but the active
     * one is then still being validated, or waiting for a CID or for confirmation) */
    c->paths.failover_pending = why ? (int)why : (int)TERN_PATH_WHY_FAILOVER;
    tern_conn_wake(c);
    return TERN_ERR_LAST_PATH;
}

/* ---- validation ------------------------------------------------------------------------------------ */

void tern_mig_on_path_response(tern_conn *c, const uint8_t data[8], tern_tstamp now)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        tern_tstamp sent_at = 0;
        if (!tern_path_in_use(p) || !tern_path_on_response(p, data, &sent_at))
            continue;
        tern_tstamp rtt = sent_at && now > sent_at ? now - sent_at : 0;
        int was = p->path_validated;
        p->path_validated = 1;
        p->validated = 1;
        p->state = TERN_PATH_VALIDATED;
        p->validated_at = now;
        p->need_challenge = p->need_padded_challenge = 0;
        p->challenge_retx_at = p->validation_deadline = TERN_TS_INF;
        p->fallback = -1;
        /* every answer measures the path: a keep-alive's or a second challenge's round trip
         * corrects a validation answer that came late */
        if (rtt)
            tern_rtt_update(&p->rtt, rtt, 0, 0, 0, now);
        if (!was)
            emit(c, TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, i, -1, rtt);
        tern_conn_token_on_path_validated(c, i);
        tern_mps_prefer_available(c, now);
        if (c->paths.failover_pending && i != c->paths.active) { /* a client's only */
            int dead = c->paths.active;
            switch_to(c, i, (tern_path_reason)c->paths.failover_pending, now);
            drop_in_flight(c, dead, now);
        } else if (p->preferred && i != c->paths.active) {
            switch_to(c, i, TERN_PATH_WHY_PREFERRED_ADDRESS, now);
        }
        tern_policy_on_path_response(c, i, now);
        return;
    }
    /* unknown data: ignored (RFC 9000 §8.2.3) */
}

/* ---- multipath idle paths (draft-ietf-quic-multipath-21 §3.2) ----------------------------------
 * A path on which, for the idle timeout, nothing non-probing arrived or nothing sent was
 * acknowledged is no longer used: it is abandoned (PATH_ABANDON goes on another path), unless no
 * other usable path is left (the connection's own idle timeout then decides). A validated path
 * the scheduler leaves unused (a backup, or one with a larger RTT) is kept alive with an
 * ack-eliciting PING at a third of the idle timeout, so that it stays usable and its NAT
 * bindings stay. Only with the extension in use, once the handshake is confirmed, and only while
 * the application used the connection within the idle timeout: an idle connection still ends
 * with its own idle timeout (RFC 9000 §10.1), the keep-alives do not hold it open. */

/* The path ID slot `i` carries when the rule applies to it, else -1 (path ID 0 included). */
static int64_t mp_idle_path_id(const tern_conn *c, int i)
{
    const tern_path *p = tern_conn_path_slot(c, i);
    if (!c->mpd || !tern_mp_enabled(c) || !c->hs.confirmed || !c->timers.idle_timeout ||
        !tern_path_in_use(p) || !p->path_validated || tern_mps_slot_of(c, p->mp_id) != i)
        return -1;
    return (int64_t)p->mp_id;
}

/* The idle timeout of path `p`: the connection's, never below three of the path's PTOs (RFC 9000
 * §10.1, as for the connection). */
static tern_tstamp mp_idle_period(const tern_conn *c, const tern_path *p)
{
    tern_tstamp pto = tern_rtt_pto(&p->rtt, c->tp.peer_max_ack_delay);
    return TERN_MAX(c->timers.idle_timeout, 3 * pto);
}

/* When slot `i` goes idle (TERN_TS_INF when the rule does not apply or would leave no path). */
static tern_tstamp mp_idle_deadline(const tern_conn *c, int i)
{
    if (mp_idle_path_id(c, i) < 0 || !tern_mpsched_other_usable(c, i))
        return TERN_TS_INF;
    const tern_path *p = tern_conn_path_slot(c, i);
    tern_tstamp last = TERN_MAX(TERN_MIN(p->mp_heard_np, p->mp_acked_at), p->validated_at);
    return last + mp_idle_period(c, p);
}

/* When slot `i` needs a keep-alive PING: a third of the idle timeout after the last
 * ack-eliciting packet of its path ID (or the last keep-alive asked for). */
static tern_tstamp mp_keepalive_due(const tern_conn *c, int i)
{
    int64_t id = mp_idle_path_id(c, i);
    if (id < 0 || !tern_mpsched_usable(c, i))
        return TERN_TS_INF;
    int space = tern_mps_space_of(c, (uint64_t)id);
    if (space < 0)
        return TERN_TS_INF;
    const tern_path *p = tern_conn_path_slot(c, i);
    tern_tstamp last = tern_recovery_q(&c->rec, space)->last_ack_eliciting_time;
    last = TERN_MAX(TERN_MAX(last, p->validated_at), p->mp_keepalive_at);
    return last + mp_idle_period(c, p) / 3;
}

static void mp_idle_on_timeout(tern_conn *c, int i, tern_tstamp now)
{
    if (now >= mp_idle_deadline(c, i)) {
        if (i == c->paths.active) {
            int to = best_validated(c, i);
            if (to < 0 || !tern_mpsched_usable(c, to))
                return;
            switch_to(c, to, TERN_PATH_WHY_IDLE, now);
        }
        if (c->paths.pending_active == i)
            c->paths.pending_active = -1;
        end_path(c, i, 1, TERN_PATH_WHY_IDLE, now); /* PATH_ABANDON (tern_mps_on_path_end) */
        return;
    }
    if (now >= mp_keepalive_due(c, i)) {
        tern_path *p = tern_conn_path_slot(c, i);
        p->mp_keepalive_at = now;
        uint64_t count = c->stats.stream_bytes_sent + c->stats.stream_bytes_recv +
                         c->dgram.sent + c->dgram.recv;
        if (count != c->mpd->app_count || !c->mpd->app_at) {
            c->mpd->app_count = count;
            c->mpd->app_at = now;
        }
        if (now - c->mpd->app_at >= mp_idle_period(c, p))
            return; /* the connection is idle: no keep-alive */
        int space = tern_mps_space_of(c, p->mp_id);
        /* one probe of its path ID: a packet on this path, a PING when there is nothing to
         * repeat (conn_send.c) */
        tern_conn_sp(c, space)->probes = TERN_MAX(tern_conn_sp(c, space)->probes, 1);
        p->mp_keepalive = 1;
        tern_conn_wake(c);
    }
}

void tern_mig_on_mp_packet(tern_conn *c, int idx, int non_probing, tern_tstamp now)
{
    if (non_probing && idx >= 0 && idx < TERN_MAX_PATHS)
        tern_conn_path_slot(c, idx)->mp_heard_np = now;
}

void tern_mig_on_mp_acked(tern_conn *c, int space, tern_tstamp now)
{
    if (!c->mpd)
        return;
    int slot = tern_mps_slot_of(c, tern_mps_path_id_of(c, space));
    if (slot >= 0)
        tern_conn_path_slot(c, slot)->mp_acked_at = now;
}

tern_tstamp tern_mig_next_timeout(const tern_conn *c)
{
    tern_tstamp t = TERN_TS_INF;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        const tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p))
            continue;
        t = TERN_MIN(t, p->challenge_retx_at);
        t = TERN_MIN(t, p->validation_deadline);
        if (c->mpd) {
            t = TERN_MIN(t, mp_idle_deadline(c, i));
            t = TERN_MIN(t, mp_keepalive_due(c, i));
        }
    }
    return t;
}

void tern_mig_on_timeout(tern_conn *c, tern_tstamp now)
{
    for (int i = 0; i < TERN_MAX_PATHS && c->state < TERN_CS_CLOSING; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p))
            continue;
        const tern_path *ap = tern_conn_path(c);
        if (now >= p->validation_deadline && i != c->paths.active && ap->fallback == i &&
            !ap->path_validated && ap->validation_deadline >= now) {
            /* the path the connection would return to stays until the new one is settled: a
             * server whose client's NAT rebound must not be left with nothing validated behind
             * the path it is still validating (also when both time out at this instant: the
             * new one is judged first) */
            p->validation_deadline = ap->validation_deadline;
            continue;
        }
        if (now >= p->validation_deadline) {
            if (c->paths.pending_active == i)
                c->paths.pending_active = -1;
            fail_path(c, i, p->waiting_cid ? TERN_PATH_WHY_NO_CID : TERN_PATH_WHY_TIMEOUT, now);
            continue;
        }
        if (now >= p->challenge_retx_at) {
            /* a retransmission carries new bytes (RFC 9000 §8.2.1) */
            p->need_challenge = 1;
            p->challenge_retx_at = TERN_TS_INF;
        }
        if (c->mpd)
            mp_idle_on_timeout(c, i, now);
    }
}

int tern_mig_probe_path(tern_conn *c, size_t *in_use)
{
    int found = -1;
    size_t n = 0;
    for (int k = 0; k < TERN_MAX_PATHS; k++) {
        /* the active path first: its validation decides where the traffic stays */
        int i = (c->paths.active + k) % TERN_MAX_PATHS;
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p))
            continue;
        n++;
        int has_cid = p->mp_id ? tern_mp_peer_cid_of(c, p->mp_id) != NULL
                               : tern_peer_cids_for_path(&c->cids.peer, (uint8_t)i) != NULL;
        if (found >= 0 || !c->hs.complete || (!c->is_server && !has_cid))
            continue;
        if (p->need_challenge || p->nresponse ||
            (p->need_padded_challenge && tern_path_amp_budget(p) >= TERN_MIN_INITIAL_SIZE))
            found = i;
    }
    *in_use = n;
    return found;
}

/* ---- handshake, CIDs, parameters ------------------------------------------------------------------- */

int tern_mig_on_peer_tparams(tern_conn *c, uint64_t *terr)
{
    const tern_tparams *tp = &c->tp.peer;
    if (c->is_server || !tp->has_preferred_address || tp->preferred_address.cid.len == 0)
        return 0;
    uint32_t mask = 0;
    /* the preferred address carries the CID of sequence number 1 (RFC 9000 §5.1.1); the rules
     * of NEW_CONNECTION_ID apply to it (a CID already in use under another sequence number) */
    return tern_peer_cids_on_new(&c->cids.peer, 1, 0, &tp->preferred_address.cid,
                                 tp->preferred_address.token, &mask, terr);
}

static void probe_preferred_address(tern_conn *c, tern_tstamp now)
{
    const tern_tparams *tp = &c->tp.peer;
    if (!tp->has_preferred_address || !c->cfg->follow_preferred_address || c->cids.peer.zero_len)
        return;
    const tern_path *ap = tern_conn_path(c);
    tern_addr remote;
    memset(&remote, 0, sizeof(remote));
    if (ap->addr.remote.u.sa.sa_family == AF_INET && tp->preferred_address.ipv4_port) {
        remote.u.in.sin_family = AF_INET;
        memcpy(&remote.u.in.sin_addr, tp->preferred_address.ipv4, 4);
        remote.u.in.sin_port = htons(tp->preferred_address.ipv4_port);
        remote.len = sizeof(struct sockaddr_in);
    } else if (ap->addr.remote.u.sa.sa_family == AF_INET6 && tp->preferred_address.ipv6_port) {
        remote.u.in6.sin6_family = AF_INET6;
        memcpy(&remote.u.in6.sin6_addr, tp->preferred_address.ipv6, 16);
        remote.u.in6.sin6_port = htons(tp->preferred_address.ipv6_port);
        remote.len = sizeof(struct sockaddr_in6);
    } else {
        return; /* no address of our family */
    }
    if (tern_addr_equal(&remote, &ap->addr.remote))
        return;
    tern_path_addr pa = {ap->addr.local, remote};
    int idx = new_path(c, &pa, now);
    if (idx < 0)
        return;
    tern_conn_path_slot(c, idx)->validated = 1;
    tern_conn_path_slot(c, idx)->preferred = 1;
    begin_probe(c, idx, now);
}

void tern_mig_on_confirmed(tern_conn *c, tern_tstamp now)
{
    if (c->is_server)
        return;
    tern_path_reason why = TERN_PATH_WHY_NONE;
    int forbidden = peer_forbids_migration(c, &why);
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p) || !p->probe_pending)
            continue;
        if (forbidden) {
            if (c->paths.pending_active == i)
                c->paths.pending_active = -1;
            end_path(c, i, 1, why, now);
        } else {
            begin_probe(c, i, now);
        }
    }
    probe_preferred_address(c, now);
    tern_mig_on_new_cids(c, now);
}

void tern_mig_on_new_cids(tern_conn *c, tern_tstamp now)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (tern_path_in_use(p) && p->waiting_cid && path_take_cid(c, i)) {
            p->waiting_cid = 0;
            start_validation(c, p, now);
        }
    }
    int pa = c->paths.pending_active;
    if (pa >= 0 && c->hs.confirmed && tern_path_in_use(tern_conn_path_slot(c, pa)) &&
        !tern_conn_path_slot(c, pa)->waiting_cid) {
        c->paths.pending_active = -1;
        switch_to(c, pa, TERN_PATH_WHY_APP, now);
    }
}

/* ---- server side ------------------------------------------------------------------------------------ */

static int recycle_slot(tern_conn *c, int only_shared, tern_tstamp now)
{
    /* A flood of spoofed addresses must not hold every slot, and a client that moved many times
     * leaves old paths behind: reuse the least recently heard path, unvalidated ones first, never
     * the active path or the one it would fall back to. */
    int oldest = -1;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (i == c->paths.active || !tern_path_in_use(p) ||
            (only_shared && (p->path_validated || !p->shared_dcid)))
            continue;
        int is_fallback = 0;
        for (int k = 0; k < TERN_MAX_PATHS; k++)
            is_fallback |= tern_conn_path_slot(c, k) && tern_conn_path_slot(c, k)->fallback == i;
        if (is_fallback)
            continue;
        if (oldest < 0) {
            oldest = i;
            continue;
        }
        const tern_path *o = tern_conn_path_slot(c, oldest);
        if (p->path_validated != o->path_validated ? !p->path_validated
                                                   : p->last_recv < o->last_recv)
            oldest = i;
    }
    if (oldest < 0)
        return -1;
    release_cid(c, oldest);
    drop_in_flight(c, oldest, now);
    tern_conn_path_slot(c, oldest)->state = TERN_PATH_ABANDONED;
    return oldest;
}

int tern_mig_path_for_datagram(tern_conn *c, const tern_path_addr *addr, tern_tstamp now)
{
    if (!addr || !addr->remote.len)
        return c->paths.active;
    int idx = find_path(c, addr);
    if (idx >= 0) {
        tern_conn_path_slot(c, idx)->last_recv = now;
        return idx;
    }
    /* A client must not migrate before the handshake is confirmed (RFC 9000 §9), which a server
     * reaches when its handshake completes. Until then a datagram from another address is a NAT
     * rebinding the handshake cannot follow, or a copy from someone who saw the client's Initial
     * (whose keys authenticate no one). Counted on the active path it would raise that address's
     * amplification budget with bytes it never sent (§8.1): dropped, unprocessed and uncounted. */
    if (!c->is_server || !c->hs.complete)
        return -1;
    /* a server that asked for no migration drops packets from elsewhere, except at its preferred
     * address (RFC 9000 §18.2) */
    if (c->tp.local.disable_active_migration &&
        !(c->tp.local.has_preferred_address &&
          tern_addr_equal(&addr->local, &c->cfg->preferred_address)))
        return -1;
    /* created only once a packet from there is authenticated: a spoofed or replayed datagram must
     * not cost a slot or a connection ID */
    return TERN_MIG_NEW_PATH;
}

/* Unvalidated paths opened by packets whose CID another path used, besides the active path and
 * its fallback: what spoofed copies of genuine packets can make us hold. (Paths opened with
 * distinct CIDs are bounded by the CIDs we issued.) */
static int shared_probing_paths(const tern_conn *c)
{
    int n = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        n += tern_path_in_use(tern_conn_path_slot(c, i)) && !tern_conn_path_slot(c, i)->path_validated &&
             tern_conn_path_slot(c, i)->shared_dcid && i != c->paths.active &&
             i != tern_conn_path(c)->fallback;
    return n;
}

static int dcid_in_use(const tern_conn *c, const tern_cid *dcid)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_path_in_use(tern_conn_path_slot(c, i)) && tern_cid_eq(&tern_conn_path_slot(c, i)->dcid, dcid))
            return 1;
    return 0;
}

int tern_mig_create_peer_path(tern_conn *c, const tern_path_addr *addr, const tern_cid *dcid,
                              uint64_t mp_id, tern_tstamp now)
{
    int shared = dcid_in_use(c, dcid);
    int idx = -1;
    if (shared && shared_probing_paths(c) >= TERN_MIG_MAX_PEER_PROBING)
        idx = recycle_slot(c, 1, now);
    if (idx < 0)
        idx = new_path(c, addr, now); /* out of memory too: an existing slot is recycled */
    if (idx < 0)
        idx = recycle_slot(c, 0, now);
    if (idx < 0)
        return -1;
    tern_path *p = tern_conn_path_slot(c, idx);
    tern_path_init(p, (uint8_t)idx, addr, c->cfg->cc, c->cfg->max_udp_payload,
                   c->cfg->pmtud_raise_ms, now);
    tern_conn_pmtud_init_path(c, idx, now);
    tern_policy_restore(c, idx, now);
    p->last_recv = now;
    p->shared_dcid = shared;
    p->dcid = *dcid;
    if (mp_id) {
        /* a path ID the client opens: answered and validated with that path ID's CIDs */
        p->mp_id = (uint32_t)mp_id;
        if (tern_mp_peer_cid_of(c, mp_id))
            start_validation(c, p, now);
        if (c->qlog) tern_qlog_path_event(c, TERN_QLOG_PATH_NEW, TERN_PATH_WHY_NONE, idx, -1, 0);
        return idx;
    }
    /* A peer that moved on purpose changes its DCID too, and gets a fresh CID back (RFC 9000
     * §9.5). A datagram with the DCID of another path comes from a NAT that rebound, or is a copy
     * sent on by an attacker: the current CID serves (§9.5 allows it), and a flood of spoofed
     * sources spends none. */
    if (!shared && tern_peer_cids_take(&c->cids.peer, (uint8_t)idx))
        /* The client opened a path of its own: validate it from this side as well (under the
         * amplification limit), so that it is ready, and its RTT known, when the client moves
         * there, as it does when its active path dies. */
        start_validation(c, p, now);
    if (c->qlog) tern_qlog_path_event(c, TERN_QLOG_PATH_NEW, TERN_PATH_WHY_NONE, idx, -1, 0);
    return idx;
}

void tern_mig_on_app_packet(tern_conn *c, int idx, uint64_t pn, int largest, int non_probing,
                            tern_tstamp now)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    if (p->largest_pn_recv == UINT64_MAX || pn > p->largest_pn_recv)
        p->largest_pn_recv = pn;
    if (p->validation_pn == UINT64_MAX && p->validation_deadline != TERN_TS_INF)
        p->validation_pn = pn; /* the first packet since the validation began */
    if (!c->is_server) {
        tern_policy_on_packet(c, idx, now);
        return;
    }
    if (idx == c->paths.active || !non_probing || !largest)
        return;
    /* RFC 9000 §9.3: the client moved (or its NAT rebound); follow it */
    int from = c->paths.active;
    tern_path *op = tern_conn_path_slot(c, from);
    /* validation starts here rather than in switch_to, so that the new path records the packet
     * number it began at (fail_path gives a path the client keeps using one more period) */
    if (!p->path_validated && !p->need_challenge && p->validation_deadline == TERN_TS_INF)
        start_validation(c, p, now);
    switch_to(c, idx, TERN_PATH_WHY_PEER_MIGRATED, now);
    /* §9.3.3: a packet from the old address may have been forwarded by an attacker; make sure the
     * old path still answers, so that the connection can return to it */
    if (op->path_validated && !op->need_challenge && op->validation_deadline == TERN_TS_INF) {
        op->need_challenge = 1;
        op->nchallenge = 0;
        op->challenge_interval = 0;
        op->validation_deadline = now + validation_timeout(c, op);
    }
    emit(c, TERN_PATH_EV_PEER_ADDRESS_CHANGED, TERN_PATH_WHY_PEER_MIGRATED, idx, from, 0);
}

void tern_mig_move_path_id(tern_conn *c, uint64_t mp_id, int idx, tern_tstamp now)
{
    int old = tern_mps_slot_of(c, mp_id);
    if (old < 0 || old == idx || tern_mps_bind(c, mp_id, idx))
        return;
    tern_path *np = tern_conn_path_slot(c, idx), *op = tern_conn_path_slot(c, old);
    if (np->pkts_sent < 64 && tern_path_only_port_changed(&np->addr, &op->addr)) {
        /* the same network (RFC 9000 §9.4): what was learnt of it stays */
        uint64_t inflight = np->cc.bytes_in_flight;
        np->rtt = op->rtt;
        np->cc = op->cc;
        np->cc.bytes_in_flight = inflight;
    }
    if (!np->path_validated && !np->need_challenge && np->validation_deadline == TERN_TS_INF)
        start_validation(c, np, now);
    end_path(c, old, 0, TERN_PATH_WHY_PEER_MIGRATED, now);
    emit(c, TERN_PATH_EV_PEER_ADDRESS_CHANGED, TERN_PATH_WHY_PEER_MIGRATED, idx, old, 0);
}

/* ---- public: works on both sides ----------------------------------------------------------------- */

int tern_conn_paths_sized(tern_conn *c, tern_path_info *out, size_t cap, size_t *n,
                          size_t info_size)
{
    if (!c || !n || (cap && !out))
        return TERN_ERR_INVALID_ARG;
    /* entries are info_size apart: an older program's array has the stride of its header */
    if (!tern_abi_size_ok(info_size, sizeof(uint64_t), sizeof(tern_path_info),
                          _Alignof(tern_path_info)))
        return TERN_ERR_ABI;
    size_t k = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        if (!tern_conn_path_slot(c, i) || tern_conn_path_slot(c, i)->state == TERN_PATH_UNUSED)
            continue;
        if (!tern_path_in_use(tern_conn_path_slot(c, i)) && i != c->paths.active)
            continue;
        if (k < cap) {
            tern_path_info pi;
            tern_mig_path_info(c, i, &pi);
            memcpy((uint8_t *)out + k * info_size, &pi, info_size);
        }
        k++;
    }
    *n = k;
    return 0;
}

/* ---- for the policy (policy.c) ------------------------------------------------------------------- */

void tern_mig_switch(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    switch_to(c, idx, why, now);
}

void tern_mig_end_path(tern_conn *c, int idx, int failed, tern_path_reason why, tern_tstamp now)
{
    if (c->paths.pending_active == idx)
        c->paths.pending_active = -1;
    end_path(c, idx, failed, why, now);
}

int tern_mig_best_validated(const tern_conn *c, int except, const tern_addr *except_ip)
{
    int best = -1;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        const tern_path *p = tern_conn_path_slot(c, i);
        if (i == except || !tern_path_in_use(p) || !p->path_validated || p->preferred ||
            (except_ip && tern_addr_same_ip(&p->addr.local, except_ip)))
            continue;
        if (best < 0 || p->rtt.smoothed < tern_conn_path_slot(c, best)->rtt.smoothed)
            best = i;
    }
    return best;
}

tern_tstamp tern_mig_validation_timeout(const tern_conn *c, int idx)
{
    return validation_timeout(c, tern_conn_path_slot(c, idx));
}
