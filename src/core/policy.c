/* The migration policy: path health, failover, automatic migration, limits, and the cache of path
 * state. See policy.h for what it consumes and decides, docs/migration.md for the state machine
 * and the reasons behind each default. It reads no clock and no socket: time comes with every call,
 * I/O goes through the driver's hooks. */
#include <stdio.h>
#include <stdlib.h>

#include "conn_internal.h"
#include "migration.h"
#include "policy.h"

#define POL_NONE (-1)

static const tern_policy_config *pcfg(const tern_conn *c)
{
    return &c->cfg->policy;
}

static int auto_mode(const tern_conn *c)
{
    return !c->is_server && c->cfg->auto_migrate;
}

/* Failover to a validated path: on in automatic mode, and in manual mode unless turned off. */
static int failover_on(const tern_conn *c)
{
    return !c->is_server && (c->cfg->failover || c->cfg->auto_migrate);
}

/* Multipath in automatic mode (draft-ietf-quic-multipath-21 §3.3): the paths the policy holds
 * are backups of the active one instead of places to migrate to. The active path is available,
 * every other path the policy opened or kept (a standby, one probed to move to) backup, so the
 * schedulers of both sides keep the data on the active path while it works and use a backup at
 * once when it does not; the application's own paths keep the status it gave them. Without the
 * extension nothing here is sent, and the policy migrates as before. */
static void mp_statuses(tern_conn *c, int active)
{
    if (!auto_mode(c) || tern_conn_path_status_usable(c))
        return;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        tern_path *p = tern_conn_path_slot(c, i);
        if (!tern_path_in_use(p))
            continue;
        if (i == active)
            tern_mig_path_backup(c, i, 0);
        else if (p->role != TERN_ROLE_APP)
            tern_mig_path_backup(c, i, 1);
    }
}

static tern_tstamp ms(uint64_t v)
{
    return v > UINT64_MAX / TERN_NS_PER_MS ? TERN_TS_INF : v * TERN_NS_PER_MS;
}

static int family_of(const tern_addr *a)
{
    return a->u.sa.sa_family;
}

int tern_policy_init(tern_conn *c)
{
    if (c->pol)
        return 0;
    if (!(c->pol = calloc(1, sizeof(*c->pol))))
        return TERN_ERR_NOMEM;
    c->pol->target = POL_NONE;
    c->pol->pending = POL_NONE;
    return 0;
}

void tern_policy_free(tern_conn *c)
{
    free(c->pol);
    c->pol = NULL;
}

/* ---- events ---------------------------------------------------------------------------------- */

/* A decision about no path in use (a limit refused a move there): reported on a description of the
 * address concerned. */
static void emit_refused(tern_conn *c, int idx, const tern_addr *ip)
{
    TERN_LOG(c, "policy: migration refused (limit)");
    if (c->qlog) tern_qlog_refused(c, idx, ip);
    if (!c->cb || !c->cb->on_path_event)
        return;
    tern_path_info pi;
    if (idx >= 0) {
        tern_mig_path_info(c, idx, &pi);
    } else {
        memset(&pi, 0, sizeof(pi));
        pi.id = -1;
        pi.state = TERN_PATH_STATE_ABANDONED;
        pi.addr.local = *ip;
        pi.addr.remote = tern_conn_path(c)->addr.remote;
    }
    tern_path_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_PATH_EV_REFUSED;
    ev.reason = TERN_PATH_WHY_LIMIT;
    ev.path = &pi;
    c->cb->on_path_event(c, &ev, c->cb_ud);
}

/* ---- networks -------------------------------------------------------------------------------- */

static int net_index(const tern_conn *c, const tern_addr *ip)
{
    for (int i = 0; i < c->pol->nnet; i++)
        if (tern_addr_same_ip(&c->pol->net[i].ip, ip))
            return i;
    return -1;
}

static tern_policy_net *net_by_ip(tern_conn *c, const tern_addr *ip)
{
    int i = net_index(c, ip);
    return i < 0 ? NULL : &c->pol->net[i];
}

/* A network first seen at `ip`, as net_add records it. */
static void net_init(tern_policy_net *n, const tern_addr *ip)
{
    memset(n, 0, sizeof(*n));
    n->ip = *ip;
    if (family_of(ip) == AF_INET)
        n->ip.u.in.sin_port = 0;
    else
        n->ip.u.in6.sin6_port = 0;
    n->usable = 1;
}

static tern_policy_net *net_add(tern_conn *c, const tern_addr *ip)
{
    tern_policy_net *n = net_by_ip(c, ip);
    if (n)
        return n;
    if (c->pol->nnet == TERN_POLICY_NETS)
        return NULL;
    n = &c->pol->net[c->pol->nnet++];
    net_init(n, ip);
    return n;
}

/* Addresses that disappear are forgotten at once: nothing of theirs is kept. */
static void net_forget(tern_conn *c, tern_policy_net *n)
{
    int i = (int)(n - c->pol->net);
    memmove(&c->pol->net[i], &c->pol->net[i + 1], (size_t)(c->pol->nnet - i - 1) * sizeof(*n));
    c->pol->nnet--;
}

/* The network path `idx` leaves from (created for the initial and application paths on first
 * sight). */
static tern_policy_net *net_of_path(tern_conn *c, int idx)
{
    return net_add(c, &tern_conn_path_slot(c, idx)->addr.local);
}

static int net_is_default(const tern_conn *c, const tern_policy_net *n)
{
    if (!c->pol->has_default)
        return 0;
    if (c->pol->default_ip.len)
        return tern_addr_same_ip(&c->pol->default_ip, &n->ip);
    return n->ifindex == c->pol->default_ifindex; /* without an address, one was named */
}

/* Lower is better: the application's list first (interface name or address), then the network
 * of the default route, then the rest (equal: no reason to move between them). */
static int net_rank(const tern_conn *c, const tern_policy_net *n)
{
    for (size_t i = 0; i < c->cfg->prefer_count && c->cfg->prefer; i++) {
        const char *p = c->cfg->prefer[i];
        if (n->ifname[0] && strcmp(p, n->ifname) == 0)
            return (int)i;
        tern_addr a;
        if (tern_addr_parse(&a, p, 0) == 0 && tern_addr_same_ip(&a, &n->ip))
            return (int)i;
    }
    return 64 + !net_is_default(c, n);
}

static int net_check_route(tern_conn *c, tern_policy_net *n)
{
    /* every network recorded has the family of the peer's address (events of the other family
     * are ignored, paths have it) */
    const tern_addr *remote = &tern_conn_path(c)->addr.remote;
    if (!c->hooks.route_usable)
        return 1;
    return c->hooks.route_usable(c->hooks.ud, c, &n->ip, remote) == 0;
}

/* Looks the route up again and records a refusal. Source routing is often set up just after the
 * address (address first, then its `from` rule or table) and such changes raise no network event,
 * so an address found unusable is looked up again on a timer (recheck_due). */
static void net_update_route(tern_conn *c, tern_policy_net *n, tern_tstamp now)
{
    n->usable = net_check_route(c, n);
    if (n->usable) {
        n->unrouted = 0;
        return;
    }
    n->unrouted++;
    n->unrouted_at = now;
}

/* When an unusable address is looked up again (TS_INF: never): doubling per refusal, but at the
 * first step while the connection has no healthy path, since then it is the way out. */
static tern_tstamp recheck_due(const tern_conn *c, const tern_policy_net *n)
{
    const tern_policy_config *pc = pcfg(c);
    if (n->down || n->usable || !n->unrouted || !pc->route_recheck_ms)
        return TERN_TS_INF;
    tern_tstamp b = ms(pc->route_recheck_ms), cap = ms(pc->route_recheck_max_ms);
    if (!c->pol->gone && !c->pol->degrading)
        for (uint32_t i = 1; i < n->unrouted && b < cap; i++)
            b *= 2;
    b = TERN_MAX(TERN_MIN(b, cap), 1);
    return b >= TERN_TS_INF - n->unrouted_at ? TERN_TS_INF : n->unrouted_at + b;
}

/* The path in use whose local address has the network's IP (the active one first), or -1. */
static int path_on_net(const tern_conn *c, const tern_policy_net *n)
{
    if (tern_addr_same_ip(&tern_conn_path(c)->addr.local, &n->ip))
        return c->paths.active;
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (tern_path_in_use(tern_conn_path_slot(c, i)) && !tern_conn_path_slot(c, i)->preferred &&
            tern_addr_same_ip(&tern_conn_path_slot(c, i)->addr.local, &n->ip))
            return i;
    return -1;
}

static tern_tstamp backoff(const tern_conn *c, uint32_t failures)
{
    tern_tstamp b = ms(pcfg(c)->retry_backoff_ms), cap = ms(pcfg(c)->retry_backoff_max_ms);
    for (uint32_t i = 1; i < failures && b < cap; i++)
        b *= 2;
    return TERN_MIN(b, cap);
}

/* Binds a socket on `ip` (a new port: port 0) through the driver and creates a path probing it
 * (before the handshake is confirmed, the mechanism holds the probe until then). Returns the path
 * or -1 (no hook, bind or path refused; a socket bound for a refused path is closed by the driver
 * since no path uses it). */
static int open_path(tern_conn *c, const tern_addr *ip, int role, tern_path_reason why,
                     tern_tstamp now)
{
    if (!c->hooks.bind_local)
        return -1;
    tern_addr want = *ip, bound;
    if (family_of(&want) == AF_INET)
        want.u.in.sin_port = 0;
    else
        want.u.in6.sin6_port = 0;
    if (c->hooks.bind_local(c->hooks.ud, c, &want, &bound))
        return -1;
    int idx = tern_mig_add_path(c, &bound, why, now);
    if (idx < 0)
        return -1;
    tern_conn_path_slot(c, idx)->role = role;
    mp_statuses(c, c->paths.active);
    return idx;
}

/* A new path on network n, which has none, when the backoff allows. */
static int ensure_path(tern_conn *c, tern_policy_net *n, int role, tern_path_reason why,
                       tern_tstamp now)
{
    if (n->down || !n->usable || now < n->retry_at)
        return -1;
    int idx = open_path(c, &n->ip, role, why, now);
    if (idx < 0) {
        /* no socket or no slot now: not again before the backoff, or every timer would retry */
        n->retry_at = now + backoff(c, n->failures + 1);
        return -1;
    }
    n->dormant = 0;
    return idx;
}

/* ---- moving ---------------------------------------------------------------------------------- */

/* A move the connection does not need to survive (following the default route, moving back): the
 * limits apply. Returns 1 when allowed; a refusal is reported once per network and once for the
 * connection. */
static int may_move(tern_conn *c, tern_policy_net *n, int idx)
{
    const tern_policy_config *pc = pcfg(c);
    if (c->pol->migrations >= pc->max_migrations) {
        if (!c->pol->refused_total && !n->refused)
            emit_refused(c, idx, &n->ip);
        c->pol->refused_total = 1;
        n->refused = 1; /* not asked again until the situation changes */
        return 0;
    }
    if (n->migrations >= pc->max_migrations_per_network) {
        if (!n->refused) {
            n->refused = 1;
            emit_refused(c, idx, &n->ip);
        }
        return 0;
    }
    return 1;
}

/* Sends a keep-alive (a PATH_CHALLENGE) on a validated path; no answer in time ends it. With
 * `ping` the datagram is also non-probing (the peer may follow it there). */
static void challenge(tern_path *p, int ping, tern_tstamp now)
{
    p->need_challenge = 1;
    p->challenge_interval = 0;
    p->probe_ping = ping;
    if (!p->keepalive_sent)
        p->keepalive_sent = now;
}

/* Every move the policy makes (the mechanism sends an ack-eliciting packet on the new path at
 * once, so that a peer the connection only receives from learns the address now). */
static void policy_switch(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    tern_mig_switch(c, idx, why, now);
    if (c->paths.active == idx)
        c->pol->moves++;
}

static void switch_counted(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    tern_policy_net *n = net_of_path(c, idx);
    if (n)
        n->migrations++;
    c->pol->migrations++;
    policy_switch(c, idx, why, now);
}

/* Moves to network n (discretionary): at once to its validated path, else probes one and moves
 * when it answers. */
static void move_to_net(tern_conn *c, tern_policy_net *n, tern_path_reason why, tern_tstamp now)
{
    int idx = path_on_net(c, n);
    if (idx == c->paths.active)
        return;
    if (!may_move(c, n, idx))
        return;
    if (idx >= 0 && tern_conn_path_slot(c, idx)->path_validated) {
        switch_counted(c, idx, why, now);
        return;
    }
    if (idx < 0)
        idx = ensure_path(c, n, TERN_ROLE_TARGET, why, now);
    if (idx >= 0) {
        c->pol->target = idx;
        c->pol->target_why = why;
    } else {
        /* the address's backoff (or a socket it could not get, which starts one) stops this move;
         * refused was cleared by the event that asked for it */
        n->refused = 1;
        emit_refused(c, -1, &n->ip);
    }
}

/* The best ranked usable network (ties: the active one's, then the first), or NULL. */
static tern_policy_net *best_net(tern_conn *c)
{
    tern_policy_net *an = net_of_path(c, c->paths.active), *best = NULL;
    if (an && !an->down && an->usable && !c->pol->gone)
        best = an;
    for (int i = 0; i < c->pol->nnet; i++) {
        tern_policy_net *n = &c->pol->net[i];
        if (n->down || !n->usable)
            continue;
        if (!best || net_rank(c, n) < net_rank(c, best))
            best = n;
    }
    return best;
}

/* No validated alternative while the active path degrades or went away: probe every usable
 * address (dormant ones too) and a new port on the active address. */
static void explore(tern_conn *c, tern_tstamp now)
{
    if (!auto_mode(c) || c->pol->explored)
        return;
    c->pol->explored = 1;
    TERN_LOG(c, "policy: probing every usable address");
    if (c->qlog) tern_qlog_policy(c, "explore", c->rec.pto_count);
    for (int i = 0; i < c->pol->nnet; i++) {
        tern_policy_net *n = &c->pol->net[i];
        if (path_on_net(c, n) < 0)
            ensure_path(c, n, TERN_ROLE_EXPLORE,
                        c->pol->gone ? c->pol->gone : TERN_PATH_WHY_DEGRADING, now);
    }
    if (c->pol->gone)
        return; /* the active address itself is gone: no new port there */
    tern_policy_net *an = net_of_path(c, c->paths.active);
    if (c->pol->port_migrations >= pcfg(c)->max_port_migrations) {
        if (an && !c->pol->port_refused) {
            c->pol->port_refused = 1;
            emit_refused(c, c->paths.active, &an->ip);
        }
        return;
    }
    if (open_path(c, &tern_conn_path(c)->addr.local, TERN_ROLE_PORT, TERN_PATH_WHY_PORT_MIGRATION,
                  now) >= 0)
        c->pol->port_migrations++;
}

/* ---- path health ----------------------------------------------------------------------------- */

/* The standby is clearly slower than the active path: its minimum RTT above 1.25x the active
 * path's plus 10 ms. The margin is above what a busy host adds to a round trip it measures (a
 * sample taken while the process was descheduled for a few milliseconds), and below any
 * difference for which the PING is worth its risk (wifi to cellular: tens of milliseconds). */
static int clearly_slower(const tern_path *active, const tern_path *standby)
{
    return 4 * standby->rtt.min > 5 * active->rtt.min + 40 * TERN_NS_PER_MS;
}

/* Whether the standby's probe may carry a PING (a packet the peer follows when it is the largest it
 * has seen). It leaves first, with the lower packet number: when the standby is clearly slower, an
 * active path that still works delivers its own probes, with higher numbers, before it, and the
 * peer stays. On paths of similar delay the two would race and the peer could move there and back
 * for a PTO that was only late: the probe then stays a bare challenge, and the peer follows once
 * the connection has moved (one round trip of the standby later).
 * A standby's RTT often rests on its validation alone, and one late answer (a peer or a host busy
 * for a moment) makes a path of similar delay look clearly slower: the PING needs the minimum of at
 * least two samples (tern_policy_on_path_response asks for the second). An active path carrying
 * traffic is measured again and again (and validated, it was measured at least once); an
 * inflated sample there only errs towards the bare challenge. */
static int ping_leads(const tern_path *active, const tern_path *standby)
{
    return standby->rtt.samples >= 2 && clearly_slower(active, standby);
}

void tern_policy_on_pto(tern_conn *c, tern_tstamp now)
{
    /* an active path still being validated returns to its fallback when validation fails: the
     * mechanism's rule, not the policy's */
    if (!failover_on(c) || !c->hs.confirmed || !tern_conn_path(c)->path_validated)
        return;
    tern_policy *pol = c->pol;
    const tern_policy_config *pc = pcfg(c);
    uint32_t ptos = c->rec.pto_count; /* since the last acknowledgement, this one included */
    if (ptos < pc->degrade_ptos)
        return;
    if (!pol->degrading) {
        pol->degrading = 1;
        pol->degrade_at = now;
        pol->active_heard = tern_conn_path(c)->heard;
        /* its probes leave now: one more PTO of it is how long an answer may take */
        pol->answer_by = now + tern_rtt_pto(&tern_conn_path(c)->rtt, c->tp.peer_max_ack_delay);
        pol->pending = POL_NONE;
        TERN_LOG(c, "policy: active path %d degrading (%u PTOs without progress)", c->paths.active,
                 ptos);
        if (c->qlog) tern_qlog_policy(c, "degrading", ptos);
    }
    int sb = tern_mig_best_validated(c, c->paths.active, NULL);
    if (sb >= 0)
        challenge(tern_conn_path_slot(c, sb),
                  ping_leads(tern_conn_path(c), tern_conn_path_slot(c, sb)), now);
    if (ptos >= pc->explore_ptos)
        explore(c, now);
}

/* The active path is silent since the degradation (or went away) and path idx answers: move.
 * `decide` is 0 on the standby's packet itself: a degrading path's fate is then settled on the
 * timer, once the rest of what arrived with that packet was read, since a process that was paused
 * reads the standby's answer and the active path's in one batch, in either order. */
static void maybe_fail_over(tern_conn *c, int idx, int decide, tern_tstamp now)
{
    tern_policy *pol = c->pol;
    tern_path *p =
        tern_conn_path_slot(c, idx); /* validated: a standby, or a path that just answered */
    if (p->preferred)
        return;
    if (pol->gone) {
        int from = c->paths.active;
        tern_path_reason why = pol->gone;
        policy_switch(c, idx, why, now);
        tern_mig_end_path(c, from, 0, why, now);
        return;
    }
    if (!pol->degrading || tern_conn_path(c)->heard > pol->active_heard ||
        p->heard <= pol->degrade_at)
        return;
    if (!decide || now < pol->answer_by) {
        /* a standby faster than the active path answers before the active one could: only a
         * silence that lasts past then condemns the active path */
        pol->pending = idx;
        return;
    }
    pol->pending = POL_NONE;
    int from = c->paths.active;
    policy_switch(
        c, idx, p->role == TERN_ROLE_PORT ? TERN_PATH_WHY_PORT_MIGRATION : TERN_PATH_WHY_DEGRADING,
        now);
    if (auto_mode(c)) { /* from was validated: a degradation starts on a validated path */
        /* find out soon whether the old path is dead (then its address backs off) or only was
         * congested (then it stays a standby, and maybe the one to move back to) */
        tern_conn_path_slot(c, from)->role = TERN_ROLE_STANDBY;
        mp_statuses(c, c->paths.active);
        challenge(tern_conn_path_slot(c, from), 0, now);
    }
}

void tern_policy_on_path_response(tern_conn *c, int idx, tern_tstamp now)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    /* One round trip that says "clearly slower" may be one late answer: a second challenge, at
     * once, so that the PTO probe's choice (ping_leads) rests on the smaller of two. No answer in
     * time ends the path, as for a keep-alive. */
    if (failover_on(c) && idx != c->paths.active && p->rtt.samples == 1 && !p->preferred &&
        clearly_slower(tern_conn_path(c), p))
        challenge(p, 0, now);
}

void tern_policy_on_packet(tern_conn *c, int idx, tern_tstamp now)
{
    tern_policy *pol = c->pol;
    tern_path *p = tern_conn_path_slot(c, idx);
    p->heard = now;
    if (p->keepalive_sent && p->validated_at >= p->keepalive_sent)
        p->keepalive_sent = 0; /* answered */
    if (idx == c->paths.active) {
        if (pol->degrading && !pol->gone) {
            TERN_LOG(c, "policy: active path %d answers again", idx);
            if (c->qlog) tern_qlog_policy(c, "recovered", c->rec.pto_count);
            pol->degrading = 0;
            pol->explored = 0;
            pol->pending = POL_NONE;
        }
        return;
    }
    if (!tern_path_in_use(p) || !p->path_validated)
        return;
    tern_policy_net *pn = net_of_path(c, idx);
    if (pn) {
        pn->failures = 0;
        if (!pn->up_since)
            pn->up_since = now;
    }
    if (failover_on(c))
        maybe_fail_over(c, idx, 0, now);
    if (idx == c->paths.active)
        return;
    if (idx == pol->target) {
        tern_path_reason why = pol->target_why;
        pol->target = POL_NONE;
        tern_policy_net *n = net_of_path(c, idx);
        if (n && may_move(c, n, idx))
            switch_counted(c, idx, why, now);
        return;
    }
    if (p->role == TERN_ROLE_PORT && !pol->degrading) {
        /* the active path came back first: a second port on its address is of no use */
        tern_mig_end_path(c, idx, 0, TERN_PATH_WHY_STANDBY_UNUSED, now);
        return;
    }
    if (p->role == TERN_ROLE_EXPLORE && !pol->degrading)
        p->role = TERN_ROLE_STANDBY;
}

void tern_policy_on_path_gone(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now)
{
    if (idx != c->paths.active || !auto_mode(c))
        return;
    if (tern_mig_best_validated(c, idx, NULL) < 0) {
        /* nothing validated to move to: the mechanism keeps the path and probes what it has; the
         * policy also looks for addresses without a path */
        c->pol->gone = why;
        explore(c, now);
    }
}

void tern_policy_on_active(tern_conn *c, int from, int to, tern_tstamp now)
{
    /* a move involves a slot beyond the first, which exists only once the policy does
     * (tern_conn_path_slot_open) */
    tern_policy *pol = c->pol;
    tern_conn_path_slot(c, from)->last_active = now;
    tern_conn_path_slot(c, to)->last_active = now;
    /* what the old path learnt, before losses declared there later (the packets left behind)
     * collapse its window */
    tern_path_cache_save(&pol->cache, tern_conn_path_slot(c, from), now);
    pol->degrading = 0;
    pol->explored = 0;
    pol->gone = 0;
    pol->pending = POL_NONE;
    if (pol->target == to)
        pol->target = POL_NONE;
    mp_statuses(c, to);
}

void tern_policy_on_path_end(tern_conn *c, int idx, int failed, tern_tstamp now)
{
    tern_policy *pol = c->pol;
    if (!pol)
        return;
    tern_path *p = tern_conn_path_slot(c, idx);
    if (!p->last_active && idx != c->paths.active)
        tern_path_cache_save(&pol->cache, p, now); /* a standby: at least its round trip */
    if (pol->target == idx)
        pol->target = POL_NONE;
    if (pol->pending == idx)
        pol->pending = POL_NONE;
    if (c->is_server)
        return;
    if (failed && (p->role == TERN_ROLE_EXPLORE || p->role == TERN_ROLE_PORT))
        pol->explored = 0; /* still nowhere to go: the next PTO looks again (within the limits) */
    tern_policy_net *n = net_by_ip(c, &p->addr.local);
    if (!n || path_on_net(c, n) != idx)
        return;
    n->up_since = 0;
    if (failed) {
        n->failures++;
        n->retry_at = now + backoff(c, n->failures);
    }
}

void tern_policy_restore(tern_conn *c, int idx, tern_tstamp now)
{
    const tern_policy_config *pc = pcfg(c);
    if (!c->pol)
        return;
    if (tern_path_cache_restore(&c->pol->cache, tern_conn_path_slot(c, idx), ms(pc->cache_rtt_ms),
                                ms(pc->cache_cc_ms), now))
        c->pol->restored++;
}

/* ---- network events -------------------------------------------------------------------------- */

/* Paths on network n go: the active one first moves to the best validated path elsewhere; when
 * there is none it stays (its socket fails) while every other address is probed. */
static void net_gone(tern_conn *c, tern_policy_net *n, tern_path_reason why, tern_tstamp now)
{
    if (tern_addr_same_ip(&tern_conn_path(c)->addr.local, &n->ip)) {
        int best = tern_mig_best_validated(c, c->paths.active, &n->ip);
        if (best >= 0) {
            policy_switch(c, best, why, now);
        } else {
            c->pol->gone = why;
            c->pol->explored = 0;
            explore(c, now);
        }
    }
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (i != c->paths.active && tern_path_in_use(tern_conn_path_slot(c, i)) &&
            tern_addr_same_ip(&tern_conn_path_slot(c, i)->addr.local, &n->ip))
            tern_mig_end_path(c, i, 0, why, now);
    n->up_since = 0;
}

static void recheck_routes(tern_conn *c, tern_tstamp now)
{
    for (int i = 0; i < c->pol->nnet; i++) {
        tern_policy_net *n = &c->pol->net[i];
        int was = n->usable;
        net_update_route(c, n, now);
        if (was && !n->usable && path_on_net(c, n) >= 0 && path_on_net(c, n) != c->paths.active)
            net_gone(c, n, TERN_PATH_WHY_INTERFACE_GONE, now);
    }
}

/* A standby on every usable network that has none (not while backing off, not dormant ones). */
static void ensure_standbys(tern_conn *c, tern_tstamp now)
{
    for (int i = 0; i < c->pol->nnet; i++) {
        tern_policy_net *n = &c->pol->net[i];
        if (!n->dormant && path_on_net(c, n) < 0)
            ensure_path(c, n, TERN_ROLE_STANDBY, TERN_PATH_WHY_NEW_NETWORK, now);
    }
}

static void note_iface(tern_policy_net *n, const tern_net_event *ev)
{
    if (ev->ifindex)
        n->ifindex = ev->ifindex;
    if (ev->ifname[0]) {
        memcpy(n->ifname, ev->ifname, sizeof(n->ifname));
        n->ifname[sizeof(n->ifname) - 1] = 0;
    }
}

void tern_conn_network_event(tern_conn *c, const tern_net_event *ev, tern_tstamp now)
{
    if (!c || !ev || !auto_mode(c) || c->state >= TERN_CS_CLOSING)
        return;
    if (c->qlog) tern_qlog_net_event(c, ev, now);
    const tern_addr *remote = &tern_conn_path(c)->addr.remote;
    int fam_ok = ev->addr.len && family_of(&ev->addr) == family_of(remote);
    net_of_path(c, c->paths.active); /* the network the connection started on is known too */
    tern_policy_net *n;
    switch (ev->type) {
    case TERN_NET_ADDR_ADDED:
        if (!fam_ok || !(n = net_add(c, &ev->addr)))
            return;
        note_iface(n, ev);
        n->down = 0;
        n->dormant = 0;
        net_update_route(c, n, now);
        ensure_standbys(c, now);
        break;
    case TERN_NET_ADDR_REMOVED:
        if (!fam_ok || !(n = net_by_ip(c, &ev->addr)))
            return;
        net_gone(c, n, TERN_PATH_WHY_ADDRESS_GONE, now);
        if (c->pol->gone)
            n->usable = 0, n->down = 1; /* still carries the active path until another answers */
        else
            net_forget(c, n);
        break;
    case TERN_NET_LINK_DOWN:
        for (int i = 0; i < c->pol->nnet; i++) {
            n = &c->pol->net[i];
            if (!ev->ifindex || n->ifindex != ev->ifindex)
                continue;
            n->down = 1;
            net_gone(c, n, TERN_PATH_WHY_INTERFACE_GONE, now);
        }
        break;
    case TERN_NET_LINK_UP:
        for (int i = 0; i < c->pol->nnet; i++) {
            n = &c->pol->net[i];
            if (ev->ifindex && n->ifindex == ev->ifindex) {
                n->down = 0;
                net_update_route(c, n, now);
            }
        }
        ensure_standbys(c, now);
        break;
    case TERN_NET_DEFAULT_CHANGED:
        if (ev->addr.len && !fam_ok)
            return; /* the other family's default route */
        c->pol->has_default = ev->ifindex != 0 || ev->addr.len != 0;
        c->pol->default_ifindex = ev->ifindex;
        c->pol->default_ip = ev->addr;
        if (fam_ok && (n = net_add(c, &ev->addr))) {
            note_iface(n, ev);
            n->down = 0;
            n->dormant = 0;
        }
        recheck_routes(c, now);
        for (int i = 0; i < c->pol->nnet; i++)
            c->pol->net[i].refused = 0; /* a new situation: a refusal is worth reporting again */
        n = best_net(c);
        if (n && net_is_default(c, n))
            move_to_net(c, n, TERN_PATH_WHY_DEFAULT_CHANGED, now);
        ensure_standbys(c, now);
        break;
    default:
        return;
    }
}

/* ---- timers ---------------------------------------------------------------------------------- */

static tern_tstamp keepalive_due(const tern_conn *c, const tern_path *p)
{
    tern_tstamp last = TERN_MAX(p->heard, p->validated_at);
    tern_tstamp iv = ms(pcfg(c)->keepalive_ms);
    return iv == TERN_TS_INF || !iv ? TERN_TS_INF : last + iv;
}

/* A standby path: validated, in use, not active, not the preferred-address path. */
static int is_standby(const tern_conn *c, int i)
{
    const tern_path *p = tern_conn_path_slot(c, i);
    return i != c->paths.active && tern_path_in_use(p) && p->path_validated && !p->preferred;
}

/* When the connection would move back to a better ranked network with a validated path (TS_INF:
 * no such move). *to receives that path. */
static tern_tstamp move_back_at(const tern_conn *c, int *to)
{
    *to = -1;
    /* the active path's network, or what net_add would record for it (a query records nothing) */
    const tern_addr *aip = &tern_conn_path(c)->addr.local;
    int ai = net_index(c, aip);
    tern_policy_net fresh;
    if (ai < 0) {
        if (c->pol->nnet == TERN_POLICY_NETS)
            return TERN_TS_INF;
        net_init(&fresh, aip);
    }
    const tern_policy_net *an = ai < 0 ? &fresh : &c->pol->net[ai];
    int arank = net_rank(c, an);
    tern_tstamp best = TERN_TS_INF;
    for (int i = 0; i < c->pol->nnet; i++) {
        const tern_policy_net *n = &c->pol->net[i];
        if (n == an || n->down || !n->usable || !n->up_since || n->refused ||
            net_rank(c, n) >= arank)
            continue;
        int idx = path_on_net(c, n);
        if (idx < 0 || !tern_conn_path_slot(c, idx)->path_validated ||
            tern_conn_path_slot(c, idx)->keepalive_sent)
            continue;
        tern_tstamp at = n->up_since + ms(pcfg(c)->migrate_back_ms);
        if (at < best) {
            best = at;
            *to = idx;
        }
    }
    return best;
}

tern_tstamp tern_policy_next_timeout(const tern_conn *c)
{
    if (c->is_server || !c->hs.confirmed)
        return TERN_TS_INF;
    tern_tstamp t = TERN_TS_INF;
    const tern_policy_config *pc = pcfg(c);
    int am = auto_mode(c);
    if (c->pol->pending >= 0)
        t = c->pol->answer_by;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        if (!is_standby(c, i))
            continue;
        const tern_path *p = tern_conn_path_slot(c, i);
        /* the same order as tern_policy_on_timeout: a timer it would not act on is never due */
        if (p->keepalive_sent) {
            t = TERN_MIN(t, p->keepalive_sent + tern_mig_validation_timeout(c, i));
            continue;
        }
        if (!am)
            continue;
        t = TERN_MIN(t, keepalive_due(c, p));
        if (p->role != TERN_ROLE_APP && pc->standby_idle_ms)
            t = TERN_MIN(t, TERN_MAX(p->last_active, p->validated_at) + ms(pc->standby_idle_ms));
    }
    if (!am)
        return t;
    for (int i = 0; i < c->pol->nnet; i++) {
        const tern_policy_net *n = &c->pol->net[i];
        if (!n->down && n->usable && !n->dormant && n->retry_at && path_on_net(c, n) < 0)
            t = TERN_MIN(t, n->retry_at);
        t = TERN_MIN(t, recheck_due(c, n));
    }
    int to;
    t = TERN_MIN(t, move_back_at(c, &to));
    return t;
}

void tern_policy_on_timeout(tern_conn *c, tern_tstamp now)
{
    if (c->is_server || !c->hs.confirmed)
        return;
    const tern_policy_config *pc = pcfg(c);
    int am = auto_mode(c);
    if (c->pol->pending >= 0 && now >= c->pol->answer_by) {
        int idx = c->pol->pending;
        c->pol->pending = POL_NONE;
        if (is_standby(c, idx) && failover_on(c))
            maybe_fail_over(c, idx, 1, now);
    }
    for (int i = 0; i < TERN_MAX_PATHS && c->state < TERN_CS_CLOSING; i++) {
        if (!is_standby(c, i))
            continue;
        tern_path *p = tern_conn_path_slot(c, i);
        if (p->keepalive_sent) {
            /* the policy's challenge went unanswered: the path is dead (a standby probed while
             * the active degraded, in either mode, or a keep-alive) */
            if (now >= p->keepalive_sent + tern_mig_validation_timeout(c, i))
                tern_mig_end_path(c, i, 1, TERN_PATH_WHY_KEEPALIVE_FAILED, now);
            continue;
        }
        if (!am)
            continue;
        if (p->role != TERN_ROLE_APP && pc->standby_idle_ms &&
            now >= TERN_MAX(p->last_active, p->validated_at) + ms(pc->standby_idle_ms)) {
            tern_policy_net *n = net_by_ip(c, &p->addr.local);
            if (n)
                n->dormant = 1;
            tern_mig_end_path(c, i, 0, TERN_PATH_WHY_STANDBY_UNUSED, now);
            continue;
        }
        if (now >= keepalive_due(c, p))
            challenge(p, 0, now);
    }
    if (!am)
        return;
    for (int i = 0; i < c->pol->nnet; i++) {
        tern_policy_net *n = &c->pol->net[i];
        int routed = 0;
        if (now >= recheck_due(c, n)) {
            net_update_route(c, n, now);
            routed = n->usable; /* a route appeared since: the address is new to the connection */
        }
        if (!n->down && n->usable && !n->dormant && (routed || (n->retry_at && now >= n->retry_at)) &&
            path_on_net(c, n) < 0)
            ensure_path(c, n, TERN_ROLE_STANDBY, TERN_PATH_WHY_NEW_NETWORK, now);
    }
    int to;
    net_of_path(c, c->paths.active); /* the network it would leave is known from now on */
    if (move_back_at(c, &to) <= now && to >= 0) {
        tern_policy_net *n = net_of_path(c, to);
        if (n && may_move(c, n, to))
            switch_counted(c, to, TERN_PATH_WHY_MIGRATED_BACK, now);
    }
}

/* An address in an event is an IP address of the family its length says (the port is ignored). */
static int net_addr_ok(const tern_addr *a)
{
    if (a->len == 0)
        return a->u.sa.sa_family == AF_UNSPEC || a->u.sa.sa_family == AF_INET ||
               a->u.sa.sa_family == AF_INET6;
    return (a->u.sa.sa_family == AF_INET && a->len == sizeof(struct sockaddr_in)) ||
           (a->u.sa.sa_family == AF_INET6 && a->len == sizeof(struct sockaddr_in6));
}

int tern_net_event_check(const tern_net_event *ev)
{
    if (!ev || ev->type < TERN_NET_ADDR_ADDED || ev->type > TERN_NET_DEFAULT_CHANGED)
        return TERN_ERR_INVALID_ARG;
    if ((ev->type == TERN_NET_ADDR_ADDED || ev->type == TERN_NET_ADDR_REMOVED) &&
        ev->addr.len == 0)
        return TERN_ERR_INVALID_ARG;
    if (!net_addr_ok(&ev->addr) || !memchr(ev->ifname, 0, sizeof(ev->ifname)))
        return TERN_ERR_INVALID_ARG;
    return 0;
}
