/* The connection's side of ECN (RFC 9000 §13.4, RFC 9002 §7.1): the codepoint of each batch it
 * sends, what the paths' validation (ecn.c) learns from sends, losses and the peer's ACK_ECN
 * frames (PATH_ACK 0x3f ones with multipath, each path ID's counts its own), and CE marks
 * answered as congestion by the controller of the path they concern. The receive side's counts
 * per packet number space are the ACK tracker's (ack.c). */
#include <stdio.h>

#include "conn_internal.h"

/* Logs a path's ECN state when it changed from `old`. */
static void note(tern_conn *c, int idx, int old)
{
    tern_ecn_path *e = &tern_conn_path_slot(c, idx)->ecn;
    if (e->state == old)
        return;
    TERN_LOG(c, "path %d: ECN %s -> %s%s%s", idx, tern_ecn_state_str(old),
             tern_ecn_state_str(e->state), e->failure ? ", " : "",
             e->failure ? tern_ecn_failure_str(e->failure) : "");
    if (c->qlog)
        tern_qlog_ecn_state(c, idx, old, e->state, e->failure);
}

int tern_conn_ecn_mark(tern_conn *c, int path_idx, tern_tstamp now)
{
    if (!c->cfg->ecn)
        return TERN_ECN_NOT_ECT;
    tern_path *p = tern_conn_path_slot(c, path_idx);
    int old = p->ecn.state;
    int mark = tern_ecn_mark(&p->ecn, now, tern_rtt_pto(&p->rtt, c->tp.peer_max_ack_delay));
    note(c, path_idx, old);
    return mark;
}

void tern_conn_ecn_on_sent(tern_conn *c, int path_idx, int recorded, tern_tstamp now)
{
    c->ecn.sent++;
    tern_ecn_on_sent(&tern_conn_path_slot(c, path_idx)->ecn, recorded, now);
}

void tern_conn_ecn_on_recv(tern_conn *c, int path_idx, int ecn)
{
    int k = tern_ecn_counter(ecn);
    if (k >= 0)
        c->ecn.recv[k]++;
    tern_ecn_on_recv(&tern_conn_path_slot(c, path_idx)->ecn, ecn);
}

void tern_conn_ecn_on_lost(tern_conn *c, const tern_sent_pkt *p)
{
    if (!p->ecn)
        return;
    tern_ecn_path *e = &tern_conn_path_slot(c, p->path_id)->ecn;
    int old = e->state;
    tern_ecn_on_lost(e);
    note(c, p->path_id, old);
}

void tern_conn_ecn_ack_begin(tern_conn *c)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_conn_path_slot(c, i))
            tern_conn_path_slot(c, i)->ecn.acked_ect = 0;
    c->ecn.ack_largest_path = -1;
}

void tern_conn_ecn_on_acked(tern_conn *c, const tern_sent_pkt *p)
{
    if (!p->ecn)
        return;
    tern_conn_path_slot(c, p->path_id)->ecn.acked_ect++;
    if (c->ecn.ack_largest_path < 0 || p->pn > c->ecn.ack_largest_pn) {
        c->ecn.ack_largest_pn = p->pn;
        c->ecn.ack_largest_sent = p->time_sent;
        c->ecn.ack_largest_path = p->path_id;
    }
}

/* Whether path `p` takes part in validating an ACK frame of `space`: those with marked packets
 * it newly acknowledges, and the paths in use whose packets `space` numbers (their ACK-only
 * packets may be in its counts). With multipath each path ID's space numbers only the packets
 * of the path carrying it (and of the one before it, when its client moved it): another path's
 * ACK-only packets are in other counts, and must not keep this space's paths from proving
 * themselves. */
static int takes_part(const tern_path *p, int space)
{
    if (p->ecn.acked_ect)
        return 1;
    return tern_path_in_use(p) && (space < TERN_SPACE_APP || tern_path_space(p) == space);
}

/* After tern_recovery_on_ack processed frame f of `space` (raised: its largest acknowledged is
 * the largest so far): validation against the counts of that space, then CE as a congestion
 * event of the path of the newest marked packet acknowledged (RFC 9002 B.7 uses the largest
 * acknowledged packet's send time). With multipath, a PATH_ACK's counts are its path ID's and
 * its CE marks that path's controller's alone. */
void tern_conn_ecn_ack_end(tern_conn *c, int space, const tern_frame *f, int raised,
                           tern_tstamp now)
{
    tern_pn_space_state *sp = tern_conn_sp(c, space);
    if (!raised || !sp)
        return;
    tern_ecn_path *v[TERN_MAX_PATHS];
    int old[TERN_MAX_PATHS];
    size_t n = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        old[i] = p ? p->ecn.state : 0;
        if (p && takes_part(p, space))
            v[n++] = &p->ecn;
    }
    tern_ecn_counts got = {f->u.ack.ect0, f->u.ack.ect1, f->u.ack.ce};
    uint64_t ce = tern_ecn_on_ack(&sp->ecn_seen, f->u.ack.ecn ? &got : NULL, v, n);
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_conn_path_slot(c, i))
            note(c, i, old[i]);
    int idx = c->ecn.ack_largest_path;
    if (!ce || idx < 0)
        return;
    tern_path *p = tern_conn_path_slot(c, idx);
    if (p->ecn.state != TERN_ECN_STATE_CAPABLE)
        return;
    p->ecn.ce += ce;
    c->ecn.ce += ce;
    if (tern_cc_on_ce(&p->cc, c->ecn.ack_largest_sent, now)) {
        p->ecn.ce_reductions++;
        c->ecn.ce_reductions++;
        TERN_LOG(c, "path %d: %llu CE marks, window reduced to %llu", idx, (unsigned long long)ce,
                 (unsigned long long)p->cc.cwnd);
        if (c->qlog)
            tern_qlog_ecn_ce(c, idx);
    }
}
