/* Path state and its small bookkeeping: challenge values outstanding, responses owed. The policy
 * (when to probe, when to switch) lives in migration.c. */
#include "path.h"

void tern_path_init(tern_path *p, uint8_t id, const tern_path_addr *addr, int cc_algo, size_t mtu,
                    tern_tstamp now)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    if (addr)
        p->addr = *addr;
    p->state = TERN_PATH_PROBING;
    p->mtu = mtu;
    p->created = now;
    p->challenge_retx_at = TERN_TS_INF;
    p->validation_deadline = TERN_TS_INF;
    p->fallback = -1;
    p->largest_pn_recv = UINT64_MAX;
    tern_rtt_init(&p->rtt);
    tern_cc_init(&p->cc, cc_algo, mtu);
    tern_pacer_init(&p->pacer, mtu);
}

static int same_ip(const tern_addr *a, const tern_addr *b)
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
    return same_ip(&a->local, &b->local) && same_ip(&a->remote, &b->remote);
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
