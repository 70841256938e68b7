/* Path state and its small bookkeeping: challenge values outstanding, responses owed, and the cache
 * of the state of paths that ended. When to probe and when to switch lives in migration.c (the
 * mechanism) and policy.c (the automatic decisions). */
#include "path.h"

void tern_path_init(tern_path *p, uint8_t id, const tern_path_addr *addr, tern_cc_algo cc_algo,
                    size_t max_udp, uint64_t raise_ms, tern_tstamp now)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    if (addr)
        p->addr = *addr;
    p->state = TERN_PATH_PROBING;
    tern_pmtud_init(&p->pmtud, max_udp, raise_ms);
    p->created = now;
    p->challenge_retx_at = TERN_TS_INF;
    p->validation_deadline = TERN_TS_INF;
    p->fallback = -1;
    p->largest_pn_recv = UINT64_MAX;
    p->validation_pn = UINT64_MAX;
    tern_rtt_init(&p->rtt);
    tern_cc_init(&p->cc, cc_algo, tern_path_mtu(p));
    tern_pacer_init(&p->pacer, tern_path_mtu(p));
    tern_ecn_init(&p->ecn);
}

int tern_addr_same_ip(const tern_addr *a, const tern_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    if (a->u.sa.sa_family == AF_INET6)
        return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
    return 0;
}

int tern_path_only_port_changed(const tern_path_addr *a, const tern_path_addr *b)
{
    return tern_addr_same_ip(&a->local, &b->local) && tern_addr_same_ip(&a->remote, &b->remote);
}

void tern_path_on_challenge_sent(tern_path *p, const uint8_t data[8], tern_tstamp now)
{
    if (p->nchallenge == TERN_PATH_CHALLENGES) {
        memmove(p->challenge[0], p->challenge[1], (TERN_PATH_CHALLENGES - 1) * 8);
        memmove(&p->challenge_at[0], &p->challenge_at[1],
                (TERN_PATH_CHALLENGES - 1) * sizeof(p->challenge_at[0]));
        p->nchallenge--;
    }
    p->challenge_at[p->nchallenge] = now;
    memcpy(p->challenge[p->nchallenge++], data, 8);
}

int tern_path_on_response(tern_path *p, const uint8_t data[8], tern_tstamp *sent_at)
{
    for (int i = 0; i < p->nchallenge; i++)
        if (memcmp(p->challenge[i], data, 8) == 0) {
            if (sent_at)
                *sent_at = p->challenge_at[i]; /* the round trip of the one answered */
            p->nchallenge = 0;
            return 1;
        }
    return 0;
}

void tern_path_queue_response(tern_path *p, const uint8_t data[8])
{
    if (p->nresponse == TERN_PATH_RESPONSES) {
        memmove(p->response[0], p->response[1], (TERN_PATH_RESPONSES - 1) * 8);
        p->nresponse--;
    }
    memcpy(p->response[p->nresponse++], data, 8);
}

static int same_network(const tern_path_addr *a, const tern_path_addr *b)
{
    return tern_addr_same_ip(&a->local, &b->local) && tern_addr_same_ip(&a->remote, &b->remote);
}

void tern_path_cache_save(tern_path_cache *pc, const tern_path *p, tern_tstamp now)
{
    if (!p->rtt.has_sample)
        return; /* nothing was learnt there */
    int slot = -1;
    for (int i = 0; i < TERN_PATH_CACHE && slot < 0; i++)
        if (pc->e[i].saved_at && same_network(&pc->e[i].addr, &p->addr))
            slot = i;
    for (int i = 0; i < TERN_PATH_CACHE && slot < 0; i++)
        if (!pc->e[i].saved_at)
            slot = i;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < TERN_PATH_CACHE; i++)
            if (pc->e[i].saved_at < pc->e[slot].saved_at)
                slot = i;
    }
    tern_path_cache_entry *e = &pc->e[slot];
    e->addr = p->addr;
    e->rtt = p->rtt;
    e->cc = p->cc;
    e->cc.bytes_in_flight = 0;
    e->saved_at = now ? now : 1;
}

int tern_path_cache_restore(const tern_path_cache *pc, tern_path *p, tern_tstamp rtt_max_ns,
                            tern_tstamp cc_max_ns, tern_tstamp now)
{
    p->restored = 0;
    for (int i = 0; i < TERN_PATH_CACHE; i++) {
        const tern_path_cache_entry *e = &pc->e[i];
        if (!e->saved_at || !same_network(&e->addr, &p->addr))
            continue;
        tern_tstamp age = now > e->saved_at ? now - e->saved_at : 0;
        if (!rtt_max_ns || age >= rtt_max_ns)
            return 0;
        p->rtt = e->rtt;
        p->restored = 1;
        if (cc_max_ns && age < cc_max_ns && e->cc.cwnd > p->cc.cwnd) {
            uint64_t inflight = p->cc.bytes_in_flight;
            p->cc = e->cc;
            p->cc.bytes_in_flight = inflight;
            p->cc.max_datagram_size = tern_path_mtu(p); /* the path finds its own MTU again */
            /* a fresh epoch: CUBIC's clock restarts from the restored window, not the old one */
            p->cc.epoch_start = 0;
            p->cc.recovery_start = TERN_TS_INF;
            p->cc.in_recovery = 0;
            p->restored = 2;
            p->restored_cwnd = p->cc.cwnd;
        }
        return p->restored;
    }
    return 0;
}
