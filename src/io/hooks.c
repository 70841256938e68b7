/* The datapath hooks of tern.h: every datagram an endpoint sends or receives can be shown to the
 * test's or tool's callbacks, which may drop it, delay it (a bounded queue, run by the endpoint's
 * timers) or rewrite its addresses. Without hooks none of this runs. */
#include "endpoint_internal.h"

#include "core/abi.h"

#include <stdlib.h>
#include <string.h>

#define EP_HOOK_SLOT 2048 /* minimum bytes per delayed datagram */

static uint16_t addr_port(const tern_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_port;
    if (a->u.sa.sa_family == AF_INET6)
        return a->u.in6.sin6_port;
    return 0;
}

/* A socket bound to the any-address of a's family (or a dual-stack one) and a's port. */
static int wildcard_takes(const tern_udp_sock *s, const tern_addr *a)
{
    int fam = a->u.sa.sa_family;
    if (!s->wildcard || (s->family != fam && !(s->family == AF_INET6 && fam == AF_INET)))
        return 0;
    return addr_port(&s->local) == addr_port(a);
}

/* The socket a datagram whose source a hook rewrote leaves from: one bound to exactly `local`,
 * else a wildcard socket that can send from it; NULL when the endpoint has none. Linear in the
 * connections, but only reached when a hook changed the local address. */
static tern_udp_sock *sock_for_local(tern_endpoint *ep, tern_udp_sock *hint, const tern_addr *local)
{
    if (tern_addr_equal(&hint->local, local))
        return hint;
    for (size_t i = 0; i < ep->nlisteners; i++)
        if (tern_addr_equal(&ep->listeners[i]->local, local))
            return ep->listeners[i];
    for (rt_conn *rc = ep->conns; rc; rc = rc->next) {
        if (rc->own_sock && tern_addr_equal(&rc->sock->local, local))
            return rc->sock;
        for (size_t i = 0; i < rc->nlocal; i++)
            if (tern_addr_equal(&rc->local_socks[i]->local, local))
                return rc->local_socks[i];
    }
    if (wildcard_takes(hint, local))
        return hint;
    for (size_t i = 0; i < ep->nlisteners; i++)
        if (wildcard_takes(ep->listeners[i], local))
            return ep->listeners[i];
    return NULL;
}

/* Queues a datagram for later. A full queue or an oversized datagram loses it, as a congested
 * link would. */
void tern_ep_hold(tern_endpoint *ep, int dir, tern_udp_sock *s, const tern_path_addr *path, int ecn,
                  const uint8_t *d, size_t len, uint64_t delay_ns, uint64_t now)
{
    uint64_t due = delay_ns > UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + delay_ns;
    if (tern_delayq_push(ep->dq, due, dir, s, path, ecn, d, len)) {
        ep->st.hook_overflow++;
        return;
    }
    ep->st.hook_delayed++;
    (void)tern_heap_set(&ep->loop.timers, &ep->dq_timer, tern_delayq_next(ep->dq));
}

/* Asks on_send about one datagram leaving from socket `def`; *path may be rewritten. Returns the
 * verdict with *out the socket to use (PASS, DELAY) and *delay the delay (DELAY). */
int tern_ep_ask_send(tern_endpoint *ep, tern_udp_sock *def, tern_path_addr *path, const uint8_t *d,
                     size_t len, tern_udp_sock **out, uint64_t *delay)
{
    *delay = 0;
    *out = def;
    if (!ep->hooks.on_send)
        return TERN_HOOK_PASS;
    tern_addr local = path->local;
    tern_hook_verdict v = ep->hooks.on_send(ep->hooks.ud, path, d, len, delay);
    if (v == TERN_HOOK_DROP) {
        ep->st.hook_dropped++;
        return TERN_HOOK_DROP;
    }
    if (!tern_addr_equal(&local, &path->local) && !(*out = sock_for_local(ep, def, &path->local))) {
        ep->st.hook_dropped++;
        return TERN_HOOK_DROP;
    }
    return v == TERN_HOOK_DELAY ? TERN_HOOK_DELAY : TERN_HOOK_PASS;
}

/* emit() with on_send set: the batch is split per datagram, and consecutive datagrams that pass
 * with the same path and socket leave together again. */
int tern_ep_emit_hooked(tern_endpoint *ep, tern_udp_sock *def, const tern_path_addr *path,
                        const uint8_t *buf, size_t len, size_t seg, int ecn)
{
    uint64_t now = tern_loop_now();
    if (seg == 0 || seg > len)
        seg = len;
    size_t run_off = 0, run_len = 0;
    tern_udp_sock *run_s = NULL;
    tern_path_addr run_path;
    int rv = 0;
    for (size_t off = 0; off < len; off += seg) {
        size_t l = len - off < seg ? len - off : seg;
        tern_path_addr p = *path;
        tern_udp_sock *s;
        uint64_t delay;
        int v = tern_ep_ask_send(ep, def, &p, buf + off, l, &s, &delay);
        if (v == TERN_HOOK_PASS && run_len && s == run_s && tern_ep_path_eq(&p, &run_path)) {
            run_len += l;
            continue;
        }
        if (run_len) {
            rv = tern_ep_sock_send(ep, run_s, &run_path, buf + run_off, run_len, seg, ecn);
            run_len = 0;
            if (rv)
                return rv; /* the socket is full: the rest is lost like an overflowing queue */
        }
        if (v == TERN_HOOK_PASS) {
            run_s = s;
            run_path = p;
            run_off = off;
            run_len = l;
        } else if (v == TERN_HOOK_DELAY) {
            tern_ep_hold(ep, TERN_DELAYQ_SEND, s, &p, ecn, buf + off, l, delay, now);
        }
    }
    if (run_len)
        rv = tern_ep_sock_send(ep, run_s, &run_path, buf + run_off, run_len, seg, ecn);
    return rv;
}

/* Due delayed datagrams, in time order: sent as they are (no second look by the hook), or
 * processed as if just received. */
void tern_ep_run_delayed(tern_endpoint *ep, uint64_t now)
{
    tern_delayq_item *it;
    while ((it = tern_delayq_pop_due(ep->dq, now))) {
        tern_udp_sock *s = it->sock;
        if (it->dir == TERN_DELAYQ_SEND)
            (void)tern_ep_sock_send(ep, s, &it->path, it->data, it->len, 0, it->ecn);
        else
            tern_ep_deliver(ep, s, &it->path, it->ecn, it->data, it->len, now);
        tern_delayq_release(ep->dq, it);
    }
    (void)tern_heap_set(&ep->loop.timers, &ep->dq_timer, tern_delayq_next(ep->dq));
}

int tern_endpoint_set_datapath_hooks_sized(tern_endpoint *ep, const tern_datapath_hooks *in,
                                           size_t hooks_size)
{
    if (!ep)
        return TERN_ERR_INVALID_ARG;
    tern_datapath_hooks copy;
    const tern_datapath_hooks *hooks = NULL;
    if (in) {
        if (!tern_abi_size_ok(hooks_size, TERN_ABI_SIZE_THROUGH(tern_datapath_hooks, ud),
                              sizeof(tern_datapath_hooks), _Alignof(tern_datapath_hooks)))
            return TERN_ERR_ABI;
        memset(&copy, 0, sizeof(copy));
        memcpy(&copy, in, hooks_size);
        hooks = &copy;
    }
    if (ep->free_pending) /* being freed from a callback: no hook runs any more */
        hooks = NULL;
    if (!hooks || (!hooks->on_send && !hooks->on_recv)) {
        memset(&ep->hooks, 0, sizeof(ep->hooks));
        ep->hook_send = ep->hook_recv = 0;
        return 0;
    }
    if (!ep->dq) {
        tern_delayq *q = malloc(sizeof(*q));
        if (!q)
            return TERN_ERR_NOMEM;
        size_t slot =
            ep->conf.cfg.max_udp_payload > EP_HOOK_SLOT ? ep->conf.cfg.max_udp_payload : EP_HOOK_SLOT;
        int rv = tern_delayq_init(q, TERN_HOOK_DELAY_MAX, slot);
        if (rv) {
            free(q);
            return rv;
        }
        ep->dq = q;
    }
    ep->hooks = *hooks;
    ep->hook_send = hooks->on_send != NULL;
    ep->hook_recv = hooks->on_recv != NULL;
    return 0;
}

void tern_ep_recv_hooked(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path, int ecn,
                         uint8_t *d, size_t len, uint64_t now)
{
    if (!ep->hooks.on_recv) {
        tern_ep_deliver(ep, s, path, ecn, d, len, now);
        return;
    }
    tern_path_addr p = *path;
    uint64_t delay = 0;
    tern_hook_verdict v = ep->hooks.on_recv(ep->hooks.ud, &p, d, len, &delay);
    if (v == TERN_HOOK_DROP)
        ep->st.hook_dropped++;
    else if (v == TERN_HOOK_DELAY)
        tern_ep_hold(ep, TERN_DELAYQ_RECV, s, &p, ecn, d, len, delay, now);
    else
        tern_ep_deliver(ep, s, &p, ecn, d, len, now);
}
