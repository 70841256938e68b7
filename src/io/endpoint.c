/* The endpoint: owns the configuration copy, TLS credentials, sockets, the epoll loop and the
 * timer heap, and drives the sans-I/O connections through conn.h. Which connection a datagram
 * belongs to, and what a server answers when none does (Version Negotiation, Retry, stateless
 * reset), is decided by the core's dispatcher (core/dispatch.h); this file only carries out its
 * verdicts on sockets. The datapath hooks of tern.h (drop, delay, rewrite addresses), in hooks.c,
 * sit between the sockets and everything else.
 *
 * Per loop iteration: received datagrams are handed to their connections, due timers run, then
 * every connection touched is flushed (tern_conn_send until it has nothing more) into GSO batches,
 * finished connections are reported and freed, and timers are re-armed. */
#include "endpoint_internal.h"
#include "workers.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/abi.h"
#include "core/conn.h"
#include "core/dispatch.h"
#include "core/migration.h"
#include "core/policy.h"
#include "core/resume.h"
#include "core/tls.h"
#include "delayq.h"
#include "loop.h"
#include "netmon.h"
#include "route.h"
#include "udp.h"

#define EP_EVENTS 64
#define EP_RECV_ROUNDS 8 /* recvmmsg batches per socket before timers and sends get a turn */
#define EP_SEND_SEGS 64  /* datagrams per GSO batch */
#define EP_FLUSH_MAX 512 /* datagrams per connection per flush: ACKs get read in between */

void tern_ep_log(tern_endpoint *ep, const char *fmt, ...)
{
    if (!ep->conf.cfg.log)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ep->conf.cfg.log(ep->conf.cfg.log_ud, line);
}
#define ep_log tern_ep_log /* its name in this file */

/* GnuTLS's generator; its failure is reported to the core, which then uses none of the bytes. */
static int rt_rand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    return gnutls_rnd(GNUTLS_RND_RANDOM, out, len) != 0 ? TERN_ERR_CRYPTO : 0;
}

static rt_conn *conn_of_timer(tern_timer *t)
{
    return (rt_conn *)((char *)t - offsetof(rt_conn, timer));
}

/* ---- configuration --------------------------------------------------------------------------- */

static int client_tls(tern_endpoint *ep)
{
    if (ep->cli_tls)
        return 0;
    return tern_cfg_copy_tls(&ep->conf, 0, &ep->cli_tls);
}

/* The monitor's events take the same road as those the application feeds. */
static void netmon_emit(void *ud, const tern_net_event *ev)
{
    (void)tern_endpoint_network_event(ud, ev);
}

/* A connection created after the monitor's first events learns the host's current state, as
 * events to it alone: the application and the older connections already heard of it. */
typedef struct {
    tern_conn *c;
    uint64_t now;
} replay_ctx;

static void replay_emit(void *ud, const tern_net_event *ev)
{
    replay_ctx *r = ud;
    tern_conn_network_event(r->c, ev, r->now);
}

static int start_netmon(tern_endpoint *ep)
{
    ep->nm = malloc(sizeof(*ep->nm));
    if (!ep->nm)
        return TERN_ERR_NOMEM;
    tern_netmon_init(ep->nm, netmon_emit, ep);
    int rv = tern_netmon_open(ep->nm);
    if (!rv && tern_loop_add(&ep->loop, ep->nm->fd, EPOLLIN, ep->nm))
        rv = TERN_ERR_IO;
    if (rv)
        ep_log(ep, "network monitor: %s (%s)", tern_strerror(rv), strerror(errno));
    return rv;
}

int tern_endpoint_new_sized(const tern_config *cfg_in, size_t cfg_size, const tern_callbacks *cb,
                            size_t cb_size, void *ud, tern_endpoint **out)
{
    if (!cfg_in || !out)
        return TERN_ERR_INVALID_ARG;
    *out = NULL;
    /* The caller's structs may be an older, shorter layout: what they lack takes the defaults. */
    tern_config cfg_full;
    tern_callbacks cb_full;
    if (tern_cfg_import(&cfg_full, cfg_in, cfg_size) || tern_cb_import(&cb_full, cb, cb_size))
        return TERN_ERR_ABI;
    const tern_config *cfg = &cfg_full;
    tern_endpoint *ep = calloc(1, sizeof(*ep));
    if (!ep)
        return TERN_ERR_NOMEM;
    ep->loop.epfd = -1;
    ep->cb = cb_full;
    ep->ud = ud;
    int rv = tern_cfg_copy_init(&ep->conf, cfg);
    if (rv)
        goto fail;
    if (ep->conf.cfg.cert_file)
        rv = tern_cfg_copy_tls(&ep->conf, 1, &ep->srv_tls);
    else
        rv = client_tls(ep);
    if (rv)
        goto fail;
    /* the keys of stateless resets and Retry tokens are long-term keys */
    uint8_t keys[64];
    if (gnutls_rnd(GNUTLS_RND_KEY, keys, sizeof(keys))) {
        rv = TERN_ERR_INTERNAL;
        goto fail;
    }
    rv = tern_front_init(&ep->front, &ep->conf.cfg, ep->srv_tls, &ep->cb, ep->ud, rt_rand, NULL,
                         keys);
    gnutls_memset(keys, 0, sizeof(keys));
    if (rv)
        goto fail;
    if (ep->conf.cfg.qlog_dir || ep->conf.cfg.qlog)
        ep->front.qlog = tern_ep_qlog_record; /* accepted connections, as set_qlog for clients */
    tern_timer_init(&ep->dq_timer);
    if ((rv = tern_loop_init(&ep->loop)))
        goto fail;
    ep->rx = tern_udp_rx_new();
    ep->tx = tern_udp_tx_new();
    /* room for a batch of Ethernet-sized datagrams, and at least one of the largest: a path with
     * jumbo datagrams takes fewer per batch */
    ep->scap = TERN_MAX((size_t)EP_SEND_SEGS * TERN_MIN(ep->conf.cfg.max_udp_payload, (size_t)1472),
                        ep->conf.cfg.max_udp_payload);
    ep->sbuf = malloc(ep->scap);
    if (!ep->rx || !ep->tx || !ep->sbuf) {
        rv = TERN_ERR_NOMEM;
        goto fail;
    }
    if ((ep->conf.cfg.network_monitor || ep->conf.cfg.auto_migrate) && (rv = start_netmon(ep)))
        goto fail;
    *out = ep;
    return 0;
fail:
    tern_endpoint_free(ep);
    return rv;
}

void tern_endpoint_get_stats(tern_endpoint *ep, tern_endpoint_stats *out)
{
    *out = ep->st;
    const tern_udp_counters *u = tern_udp_tx_counters(ep->tx);
    out->dgrams_sent = u->dgrams_sent;
    out->bytes_sent = u->bytes_sent;
    out->send_errors = ep->st.send_errors + u->send_errors;
    out->gso_fallbacks = u->gso_fallbacks;
    const tern_dispatch_stats *d = tern_dispatch_get_stats(&ep->front.disp);
    out->dropped = d->dropped;
    out->vn_sent = d->vn_sent;
    out->retry_sent = d->retry_sent;
    out->reset_sent = d->reset_sent;
    out->half_open = tern_dispatch_half_open_count(&ep->front.disp);
    out->dispatch = *d;
    out->hook_queued = ep->dq ? tern_delayq_len(ep->dq) : 0;
    if (ep->nm)
        out->netmon = ep->nm->st;
}

void tern_endpoint_set_reset_key(tern_endpoint *ep, const uint8_t key[32])
{
    tern_dispatch_set_reset_key(&ep->front.disp, key);
}

/* ---- sockets --------------------------------------------------------------------------------- */

static int open_sock_opt(tern_endpoint *ep, const tern_addr *addr, int reuseport,
                         tern_udp_sock **out)
{
    tern_udp_sock *s = malloc(sizeof(*s));
    if (!s)
        return TERN_ERR_NOMEM;
    int rv = reuseport ? tern_udp_open_reuseport(s, addr) : tern_udp_open(s, addr);
    if (rv) {
        int e = errno;
        free(s);
        errno = e;
        return rv;
    }
    if (tern_loop_add(&ep->loop, s->fd, EPOLLIN, s)) {
        int e = errno;
        tern_udp_close(s);
        free(s);
        errno = e;
        return TERN_ERR_IO;
    }
    *out = s;
    return 0;
}

static int open_sock(tern_endpoint *ep, const tern_addr *addr, tern_udp_sock **out)
{
    return open_sock_opt(ep, addr, 0, out);
}

static void close_sock(tern_endpoint *ep, tern_udp_sock *s)
{
    if (ep->dq)
        (void)tern_delayq_forget(ep->dq, s);
    tern_loop_del(&ep->loop, s->fd);
    tern_udp_close(s);
    s->dead = 1;
    s->owner = NULL;
    s->next_dead = ep->dead_socks;
    ep->dead_socks = s;
}

/* For a socket created after the current epoll_wait: no pending event can name it. */
static void destroy_sock_now(tern_endpoint *ep, tern_udp_sock *s)
{
    tern_loop_del(&ep->loop, s->fd);
    tern_udp_close(s);
    free(s);
}

static void free_dead_socks(tern_endpoint *ep)
{
    while (ep->dead_socks) {
        tern_udp_sock *s = ep->dead_socks;
        ep->dead_socks = s->next_dead;
        free(s);
    }
}

static void want_writable(tern_endpoint *ep, tern_udp_sock *s)
{
    ep->st.send_blocked++;
    tern_loop_mod(&ep->loop, s->fd, EPOLLIN | EPOLLOUT, s);
}

static void normalize_addr(tern_addr *a)
{
    a->len =
        a->u.sa.sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static int listen_opt(tern_endpoint *ep, const tern_addr *addr, int reuseport)
{
    if (!ep || !addr)
        return TERN_ERR_INVALID_ARG;
    if (!ep->srv_tls)
        return TERN_ERR_CONFIG;
    if (ep->nlisteners == EP_MAX_LISTENERS)
        return TERN_ERR_INVALID_ARG;
    tern_addr a = *addr;
    normalize_addr(&a);
    tern_udp_sock *s;
    int rv = open_sock_opt(ep, &a, reuseport, &s);
    if (rv)
        return rv;
    ep->listeners[ep->nlisteners++] = s;
    return 0;
}

int tern_endpoint_listen(tern_endpoint *ep, const tern_addr *addr)
{
    return listen_opt(ep, addr, 0);
}

int tern_ep_listen_reuseport(tern_endpoint *ep, const tern_addr *addr)
{
    return listen_opt(ep, addr, 1);
}

int tern_ep_listener_fd(tern_endpoint *ep)
{
    return ep->nlisteners ? ep->listeners[0]->fd : -1;
}

int tern_ep_join_workers(tern_endpoint *ep, struct tern_worker *wk, unsigned index, unsigned n)
{
    if (!ep->srv_tls)
        return TERN_ERR_CONFIG;
    if (ep->wk || ep->nlisteners)
        return TERN_ERR_INVALID_ARG;
    int rv = tern_front_set_worker(&ep->front, index, n);
    if (rv)
        return rv;
    if (tern_loop_add(&ep->loop, tern_worker_fd(wk), EPOLLIN, wk))
        return TERN_ERR_IO;
    ep->wk = wk;
    return 0;
}

int tern_endpoint_local_addr(tern_endpoint *ep, tern_addr *out)
{
    if (!ep || !out)
        return TERN_ERR_INVALID_ARG;
    if (!ep->nlisteners)
        return TERN_ERR_NOT_FOUND;
    *out = ep->listeners[0]->local;
    return 0;
}

/* ---- connection records ---------------------------------------------------------------------- */

/* The driver's hooks get the front door's view of the connection, whose value is the record. */
static rt_conn *rc_of_hook(void *ud)
{
    return ((tern_front_conn *)ud)->route.val;
}

static void mark_dirty(tern_endpoint *ep, rt_conn *rc);

/* The app changed a connection outside the loop's own processing (a write, a close): flush it. */
static void hook_wake(void *ud, tern_conn *c)
{
    rt_conn *rc = rc_of_hook(ud);
    (void)c;
    mark_dirty(rc->ep, rc);
}

/* The migration policy's questions to the host: the routing table from a source address. */
static int hook_route_usable(void *ud, tern_conn *c, const tern_addr *local, const tern_addr *remote)
{
    (void)ud;
    (void)c;
    return tern_route_usable(local, remote);
}

/* Path MTU discovery's bound for a path: its route's MTU from the kernel. */
static size_t hook_path_mtu(void *ud, tern_conn *c, const tern_path_addr *path)
{
    (void)ud;
    (void)c;
    return tern_route_max_udp(&path->local, &path->remote);
}

static int bind_local_sock(rt_conn *rc, const tern_addr *addr, tern_udp_sock **out);

/* The migration policy needs a socket (a new address or a new port) for a path of its own. */
static int hook_bind_local(void *ud, tern_conn *c, const tern_addr *local, tern_addr *bound)
{
    (void)c;
    rt_conn *rc = rc_of_hook(ud);
    tern_udp_sock *s;
    int rv = bind_local_sock(rc, local, &s);
    if (rv)
        return rv;
    *bound = s->local;
    return 0;
}

static rt_conn *rc_new(tern_endpoint *ep, tern_udp_sock *s, int own)
{
    /* Room in the timer heap for this connection's timer (and the delay queue's) is made now, so
     * that arming it never fails later: a connection that lost its timer would never time out. */
    if (tern_heap_reserve(&ep->loop.timers, ep->nconns + 2))
        return NULL;
    rt_conn *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    rc->ep = ep;
    rc->sock = s;
    rc->own_sock = own;
    tern_timer_init(&rc->timer);
    return rc;
}

static void rc_link(tern_endpoint *ep, rt_conn *rc)
{
    rc->prev = NULL;
    rc->next = ep->conns;
    if (ep->conns)
        ep->conns->prev = rc;
    ep->conns = rc;
    ep->nconns++;
}

static void rc_unlink(tern_endpoint *ep, rt_conn *rc)
{
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        ep->conns = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    ep->nconns--;
}

static void mark_dirty(tern_endpoint *ep, rt_conn *rc)
{
    if (rc->q != Q_NONE)
        return; /* already queued, waiting for its socket (then flushed when it drains), or
                   being reaped */
    rc->q = Q_DIRTY;
    rc->qnext = NULL;
    if (ep->dirty_tail)
        ep->dirty_tail->qnext = rc;
    else
        ep->dirty_head = rc;
    ep->dirty_tail = rc;
}

static void defer(tern_endpoint *ep, rt_conn *rc)
{
    rc->q = Q_DEFERRED;
    rc->qnext = ep->deferred;
    ep->deferred = rc;
}

/* ---- re-entrancy ------------------------------------------------------------------------------ */

static void ep_destroy(tern_endpoint *ep);

/* Brackets a public call that can run callbacks. ep_leave returns 1 when the endpoint was freed
 * (a callback called tern_endpoint_free and this was the outermost call): the caller must not
 * touch it, nor anything it owned, any more. */
static void ep_enter(tern_endpoint *ep)
{
    ep->depth++;
}

static int ep_leave(tern_endpoint *ep)
{
    if (--ep->depth > 0 || !ep->free_pending)
        return 0;
    ep_destroy(ep);
    return 1;
}

/* A client connection whose CONNECTION_CLOSE went out (or the peer's arrived) is over for the
 * application: on_closed runs now rather than three PTOs later, and the closing or draining
 * period goes on inside the endpoint (answering the peer's late packets with CONNECTION_CLOSE)
 * without callbacks and without keeping tern_endpoint_run running; tern_endpoint_free ends it
 * (RFC 9000 §10.2 lets an endpoint discard the state early). A waiting client program thus exits
 * at its last byte, not a closing period later. Servers keep the period before reporting: their
 * listener stays and a late packet is answered either way. */
static void report_early(tern_endpoint *ep, rt_conn *rc)
{
    tern_conn *c = rc->c;
    rc->reported = 1;
    ep->nlinger++;
    if (ep->cb.on_closed)
        ep->cb.on_closed(c, tern_conn_close_info(c), ep->ud);
    tern_conn_forget_app(c);
}

/* Removes a finished connection: routes, timer, list; reports it; frees it. */
static void reap(tern_endpoint *ep, rt_conn *rc)
{
    tern_conn *c = rc->c;
    tern_heap_set(&ep->loop.timers, &rc->timer, TERN_LOOP_NO_TIMER);
    tern_front_detach(&ep->front, &rc->fc);
    rc_unlink(ep, rc);
    rc->q = Q_REAPED; /* a verb the callback calls on c must not queue the record freed below */
    if (rc->reported)
        ep->nlinger--;
    else if (ep->cb.on_closed)
        ep->cb.on_closed(c, tern_conn_close_info(c), ep->ud);
    tern_conn_free(c);
    tern_ep_qlog_close(rc, 0);
    if (rc->own_sock)
        close_sock(ep, rc->sock);
    for (size_t i = 0; i < rc->nlocal; i++)
        close_sock(ep, rc->local_socks[i]);
    free(rc);
}

/* ---- sending --------------------------------------------------------------------------------- */

/* The socket a datagram from `local` leaves on: the connection's own, unless a listener is bound
 * to exactly that address. */
static tern_udp_sock *pick_sock(tern_endpoint *ep, rt_conn *rc, const tern_addr *local)
{
    for (size_t i = 0; i < rc->nlocal; i++)
        if (tern_addr_equal(&rc->local_socks[i]->local, local))
            return rc->local_socks[i];
    if (rc->own_sock || rc->sock->wildcard || tern_addr_equal(&rc->sock->local, local))
        return rc->sock;
    for (size_t i = 0; i < ep->nlisteners; i++)
        if (tern_addr_equal(&ep->listeners[i]->local, local))
            return ep->listeners[i];
    return rc->sock;
}

/* Hands one batch to socket s. Returns 0, or TERN_ERR_WOULD_BLOCK (the batch is kept by the
 * socket and EPOLLOUT armed). */
int tern_ep_sock_send(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path,
                     const uint8_t *buf, size_t len, size_t seg, int ecn)
{
    int had_gso = s->gso;
    int rv = tern_udp_send(s, ep->tx, path, buf, len, seg, ecn);
    if (had_gso && !s->gso)
        ep_log(ep, "UDP GSO refused by the kernel: sending datagrams one by one on this socket");
    if (rv == TERN_ERR_WOULD_BLOCK)
        want_writable(ep, s);
    if (rv == TERN_ERR_NOMEM)
        rv = 0; /* lost, recovery retransmits */
    return rv;
}

/* ---- flushing connections -------------------------------------------------------------------- */

/* Sends one batch of a connection. Returns 0 or TERN_ERR_WOULD_BLOCK. */
static int emit(tern_endpoint *ep, rt_conn *rc, const tern_path_addr *path, const uint8_t *buf,
                size_t len, size_t seg, int ecn)
{
    tern_udp_sock *s = pick_sock(ep, rc, &path->local);
    if (ep->hook_send)
        return tern_ep_emit_hooked(ep, s, path, buf, len, seg, ecn);
    uint64_t errs = s->path_errors;
    int rv = tern_ep_sock_send(ep, s, path, buf, len, seg, ecn);
    if (s->path_errors != errs && s->owner == rc)
        /* the interface or address went away: the path fails, and the connection fails over
         * if it can */
        tern_conn_path_gone(rc->c, tern_conn_path_by_local(rc->c, &path->local), s->path_error_why,
                            tern_loop_now());
    return rv;
}

/* Closes the sockets of local addresses no path uses any more (the core ended a path by itself:
 * validation timeout, socket error, migration forbidden by the peer). */
static void prune_local_socks(tern_endpoint *ep, rt_conn *rc)
{
    for (size_t i = 0; i < rc->nlocal;) {
        if (tern_conn_path_by_local(rc->c, &rc->local_socks[i]->local) < 0) {
            close_sock(ep, rc->local_socks[i]);
            rc->local_socks[i] = rc->local_socks[--rc->nlocal];
        } else {
            i++;
        }
    }
}

/* Sends what the connection has, batch by batch, until it has nothing more or its socket is
 * full; then reaps it when it is done or re-arms its timer. */
static void flush_conn(tern_endpoint *ep, rt_conn *rc, uint64_t now)
{
    if (rc->nlocal)
        prune_local_socks(ep, rc);
    /* Once the server answered, ICMP errors are not acted on; queued, they would also fail the
     * next send and count as the path's own errors. */
    if (rc->sock->errqueue && rc->own_sock && tern_conn_is_established(rc->c))
        (void)tern_udp_enable_errors(rc->sock, 0);
    tern_conn *c = rc->c;
    size_t total = 0;

    /* The core fills each GSO batch itself (one path, equal sizes but a shorter last one). */
    while (!rc->sock->blocked) {
        if (total >= EP_FLUSH_MAX) {
            /* More may be ready: come back in the next iteration, after reading what arrived. */
            tern_heap_set(&ep->loop.timers, &rc->timer, now);
            return;
        }
        size_t max = TERN_MIN((size_t)EP_SEND_SEGS, EP_FLUSH_MAX - total);
        tern_path_addr po;
        size_t seg = 0, cnt = 0, len = 0;
        int ecn = 0;
        int rv = tern_conn_send_batch_ecn(c, &po, ep->sbuf, ep->scap, max, &seg, &cnt, &len, &ecn,
                                          now);
        if (rv < 0 || cnt == 0 || len == 0)
            break;
        total += cnt;
        if (emit(ep, rc, &po, ep->sbuf, len, seg, ecn))
            goto blocked;
    }
    if (rc->sock->blocked)
        goto blocked;
    if (tern_conn_is_done(c)) {
        reap(ep, rc);
        return;
    }
    if (rc->own_sock && !rc->reported && tern_conn_close_sent(c))
        report_early(ep, rc);
    tern_heap_set(&ep->loop.timers, &rc->timer, tern_conn_next_timeout(c));
    return;
blocked:
    defer(ep, rc);
}

static void flush_dirty(tern_endpoint *ep, uint64_t now)
{
    rt_conn *rc;
    while ((rc = ep->dirty_head)) {
        ep->dirty_head = rc->qnext;
        if (!ep->dirty_head)
            ep->dirty_tail = NULL;
        rc->q = Q_NONE;
        flush_conn(ep, rc, now);
    }
}

static void on_writable(tern_endpoint *ep, tern_udp_sock *s)
{
    if (tern_udp_send_pending(s, ep->tx))
        return;
    tern_loop_mod(&ep->loop, s->fd, EPOLLIN, s);
    rt_conn *rc = ep->deferred;
    ep->deferred = NULL;
    while (rc) {
        rt_conn *next = rc->qnext;
        rc->q = Q_NONE;
        mark_dirty(ep, rc);
        rc = next;
    }
}

/* ---- receiving ------------------------------------------------------------------------------- */

/* A stateless reply leaves on the socket the trigger arrived on; it is not worth keeping when the
 * socket is full. */
static void send_stateless(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path,
                           const uint8_t *buf, size_t len)
{
    if (!ep->hook_send) {
        (void)tern_udp_send_one(s, ep->tx, path, buf, len);
        return;
    }
    tern_path_addr p = *path;
    tern_udp_sock *hs;
    uint64_t delay;
    int v = tern_ep_ask_send(ep, s, &p, buf, len, &hs, &delay);
    if (v == TERN_HOOK_PASS)
        (void)tern_udp_send_one(hs, ep->tx, &p, buf, len);
    else if (v == TERN_HOOK_DELAY)
        tern_ep_hold(ep, TERN_DELAYQ_SEND, hs, &p, 0, buf, len, delay, tern_loop_now());
}

static void conn_input(tern_endpoint *ep, rt_conn *rc, const tern_path_addr *path, uint8_t *d,
                       size_t len, int ecn, uint64_t now)
{
    (void)tern_front_input(&ep->front, &rc->fc, path, d, len, ecn, now);
    mark_dirty(ep, rc);
}

/* qlog records of rc's connection go to qlog_file.c when the config asks for them. */
static void set_qlog(const tern_endpoint *ep, tern_conn_params *p, rt_conn *rc)
{
    if (ep->conf.cfg.qlog_dir || ep->conf.cfg.qlog) {
        p->qlog = tern_ep_qlog_record;
        p->qlog_ud = rc;
    }
}

/* Creates the server connection the dispatcher asked for and feeds it its first datagram. */
static void accept_conn(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path,
                        const tern_dispatch_result *r, uint8_t *d, size_t len, int ecn,
                        uint64_t now)
{
    rt_conn *rc = rc_new(ep, s, 0);
    if (!rc) {
        tern_dispatch_note_drop(&ep->front.disp, TERN_DISPATCH_DROP_REJECTED);
        return;
    }
    tern_conn_hooks h;
    memset(&h, 0, sizeof(h));
    h.wake = hook_wake;
    h.path_mtu = hook_path_mtu;
    if (tern_front_accept(&ep->front, &rc->fc, rc, &h, path, r, d, len, ecn, now)) {
        tern_ep_qlog_close(rc, 1);
        free(rc);
        return;
    }
    rc->c = rc->fc.c;
    rc_link(ep, rc);
    ep->st.conns_created++;
    ep->st.conns_accepted++;
    if (ep->cb.on_accept)
        ep->cb.on_accept(rc->c, ep->ud);
    mark_dirty(ep, rc);
}

/* One datagram after the hooks: to the connection owning the socket, or through the dispatcher. */
void tern_ep_deliver(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path, int ecn,
                     uint8_t *d, size_t len, uint64_t now)
{
    if (s->owner) {
        /* A client socket belongs to one connection, which also recognises stateless resets (their
         * DCIDs are random: no table knows them). */
        conn_input(ep, s->owner, path, d, len, ecn, now);
        return;
    }
    /* a worker hands a short header for another worker's CID to that worker */
    if (ep->wk && tern_worker_steer(ep->wk, &ep->front.cidgen, path, ecn, d, len))
        return;
    tern_dispatch_result r;
    uint8_t reply[TERN_DISPATCH_REPLY_MAX];
    switch (tern_dispatch_classify(&ep->front.disp, path, d, len, now, reply, sizeof(reply), &r)) {
    case TERN_DISPATCH_CONN:
        conn_input(ep, r.owner, path, d, len, ecn, now);
        break;
    case TERN_DISPATCH_ACCEPT:
        accept_conn(ep, s, path, &r, d, len, ecn, now);
        break;
    case TERN_DISPATCH_REPLY:
        send_stateless(ep, s, path, reply, r.reply_len);
        break;
    default:
        break;
    }
}

/* Reads and delivers one recvmmsg batch from s. */
static void read_batch(tern_endpoint *ep, tern_udp_sock *s)
{
    int n = tern_udp_recv(s, ep->rx, ep->dg);
    if (n <= 0)
        return;
    uint64_t now = tern_loop_now();
    int hooked = ep->hook_recv;
    for (int i = 0; i < n && !s->dead; i++) {
        tern_udp_dgram *dg = &ep->dg[i];
        /* A client connection's path was created with its socket's own address: keep
         * reporting exactly that. */
        if (s->owner)
            dg->path.local = s->local;
        size_t seg = dg->seg ? dg->seg : dg->len;
        for (size_t off = 0; off < dg->len && !s->dead; off += seg) {
            size_t l = dg->len - off < seg ? dg->len - off : seg;
            ep->st.dgrams_recv++;
            ep->st.bytes_recv += l;
            if (hooked)
                tern_ep_recv_hooked(ep, s, &dg->path, dg->ecn, dg->data + off, l, now);
            else
                tern_ep_deliver(ep, s, &dg->path, dg->ecn, dg->data + off, l, now);
        }
    }
    flush_dirty(ep, now);
}

static void on_socket_error(tern_endpoint *ep, tern_udp_sock *s);

/* Datagrams other workers received for this one's CIDs (workers.c): processed as if read from
 * the first listener, which has the same address. At most a few batches per wakeup, so that a
 * busy queue does not starve the sockets. */
static void drain_worker_queue(tern_endpoint *ep)
{
    tern_worker_clear(ep->wk);
    if (!ep->nlisteners)
        return;
    uint64_t now = tern_loop_now();
    size_t len;
    tern_path_addr path;
    int ecn;
    uint8_t *d;
    for (int i = 0; i < 4 * TERN_UDP_RX_BATCH; i++) {
        if (!(d = tern_worker_pop(ep->wk, &len, &path, &ecn))) {
            flush_dirty(ep, now);
            return;
        }
        ep->st.dgrams_recv++;
        ep->st.bytes_recv += len;
        tern_ep_deliver(ep, ep->listeners[0], &path, ecn, d, len, now);
    }
    flush_dirty(ep, now);
    tern_worker_kick(ep->wk);
}

/* Handles the events of one wait: the network monitor, writability, socket errors, and the
 * readable sockets listed in `ready` (returns how many). */
static int on_events(tern_endpoint *ep, const struct epoll_event *ev, int n, tern_udp_sock **ready)
{
    int nready = 0;
    for (int i = 0; i < n; i++) {
        if (ep->nm && ev[i].data.ptr == ep->nm) {
            if (tern_netmon_read(ep->nm))
                ep_log(ep, "network monitor: read: %s", strerror(errno));
            continue;
        }
        if (ep->wk && ev[i].data.ptr == ep->wk) {
            drain_worker_queue(ep);
            continue;
        }
        tern_udp_sock *s = ev[i].data.ptr;
        if (s->dead)
            continue;
        if (ev[i].events & EPOLLOUT)
            on_writable(ep, s);
        if (!s->dead && (ev[i].events & (EPOLLIN | EPOLLERR))) {
            if (ev[i].events & EPOLLERR)
                on_socket_error(ep, s);
            ready[nready++] = s;
        }
    }
    return nready;
}

/* Reads the readable sockets one batch each in turn, up to EP_RECV_ROUNDS rounds, asking again
 * before each round which sockets have data. Draining one socket before looking at the others
 * would reorder a connection's packets by up to EP_RECV_ROUNDS batches whenever they arrive on two
 * of its sockets (a PATH_RESPONSE on the probed path while the active one streams data): a packet
 * that late can fall outside the window of its truncated packet number (RFC 9000 §17.1: one byte
 * covers 128 packets, used by a sender with few unacknowledged), be decoded to the wrong number
 * and fail authentication. Now a datagram waits behind at most about two batches of another
 * socket, whether it was there at the wakeup or arrived during the reads. */
static void read_ready(tern_endpoint *ep, tern_udp_sock **ready, int nready)
{
    struct epoll_event ev[EP_EVENTS];
    for (int round = 0; round < EP_RECV_ROUNDS && nready > 0; round++) {
        if (round > 0) {
            int n = tern_loop_wait(&ep->loop, ev, EP_EVENTS, 0);
            if (n <= 0)
                return;
            nready = on_events(ep, ev, n, ready);
        }
        for (int i = 0; i < nready; i++)
            if (!ready[i]->dead)
                read_batch(ep, ready[i]);
    }
}

/* ---- client connections ---------------------------------------------------------------------- */

/* The source address the kernel would pick towards `remote` (a connected UDP socket sends
 * nothing), so that the path's local address is concrete rather than the any-address. */
static int probe_source(const tern_addr *remote, tern_addr *src)
{
    int fd = socket(remote->u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return -1;
    int rv = -1;
    tern_addr tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.len = sizeof(tmp.u);
    if (connect(fd, &remote->u.sa, remote->len) == 0 && getsockname(fd, &tmp.u.sa, &tmp.len) == 0 &&
        tmp.u.sa.sa_family == remote->u.sa.sa_family) {
        *src = tmp;
        rv = 0;
    }
    close(fd);
    return rv;
}

static int is_any_addr(const tern_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
}

static int connect_impl(tern_endpoint *ep, const tern_addr *remote, const tern_addr *local,
                        const char *server_name, const uint8_t *session, size_t session_len,
                        unsigned flags, tern_conn **out)
{
    if (!ep || !remote || !out)
        return TERN_ERR_INVALID_ARG;
    *out = NULL;
    int fam = remote->u.sa.sa_family;
    if ((fam != AF_INET && fam != AF_INET6) || (local && local->u.sa.sa_family != fam))
        return TERN_ERR_INVALID_ARG;
    if (ep->nconns >= TERN_EP_MAX_CONNS)
        return TERN_ERR_NOMEM;
    int rv = client_tls(ep);
    if (rv)
        return rv == TERN_ERR_NOMEM ? rv : TERN_ERR_TLS;

    tern_addr rem = *remote, bind_addr;
    normalize_addr(&rem);
    if (local) {
        bind_addr = *local;
    } else {
        memset(&bind_addr, 0, sizeof(bind_addr));
        bind_addr.u.sa.sa_family = (sa_family_t)fam;
    }
    normalize_addr(&bind_addr);
    if (is_any_addr(&bind_addr)) {
        tern_addr src;
        if (probe_source(&rem, &src) == 0) {
            uint16_t port = fam == AF_INET ? bind_addr.u.in.sin_port : bind_addr.u.in6.sin6_port;
            bind_addr = src;
            if (fam == AF_INET)
                bind_addr.u.in.sin_port = port;
            else
                bind_addr.u.in6.sin6_port = port;
            normalize_addr(&bind_addr);
        }
    }

    tern_udp_sock *s;
    if ((rv = open_sock(ep, &bind_addr, &s)))
        return rv;
    rt_conn *rc = rc_new(ep, s, 1);
    if (!rc) {
        destroy_sock_now(ep, s);
        return TERN_ERR_NOMEM;
    }
    s->owner = rc;
    /* ICMP errors tell a server that is not running apart from a slow one (best effort; only
     * until the handshake ends, see flush_conn). */
    (void)tern_udp_enable_errors(s, 1);

    tern_conn_params p;
    memset(&p, 0, sizeof(p));
    p.is_server = 0;
    p.version = 0; /* the configuration's first version */
    p.cfg = &ep->conf.cfg;
    p.tls_ctx = ep->cli_tls;
    p.cb = &ep->cb;
    p.cb_ud = ep->ud;
    p.rand = rt_rand;
    p.reset_key = tern_dispatch_reset_key(&ep->front.disp);
    p.scid_len = TERN_EP_CID_LEN;
    p.server_name = server_name;
    p.session = session;
    p.session_len = session_len;
    p.early_data = (flags & TERN_CONNECT_EARLY_DATA) != 0;
    /* Routes may be added as soon as tern_conn_new runs (its cid_added hook). */
    tern_front_attach(&ep->front, &rc->fc, rc);
    tern_front_hooks(&rc->fc, &p.hooks);
    p.hooks.new_cid = NULL; /* the server's generator (QUIC-LB, workers) is for accepted ones */
    p.hooks.wake = hook_wake;
    p.hooks.route_usable = hook_route_usable;
    p.hooks.bind_local = hook_bind_local;
    p.hooks.path_mtu = hook_path_mtu;
    set_qlog(ep, &p, rc);
    tern_path_addr path = {.local = s->local, .remote = rem};
    tern_conn *c;
    uint64_t now = tern_loop_now();
    ep_enter(ep); /* the replay below may report path events */
    if ((rv = tern_conn_new(&c, &p, &path, now))) {
        ep_leave(ep); /* cannot free: no callback ran */
        tern_ep_qlog_close(rc, 1);
        tern_front_detach(&ep->front, &rc->fc);
        destroy_sock_now(ep, s);
        free(rc);
        return rv;
    }
    rc->c = c;
    rc->fc.c = c;
    tern_conn_set_driver_data(c, rc);
    rc_link(ep, rc);
    ep->st.conns_created++;
    if (ep->conf.cfg.auto_migrate && ep->nm) {
        replay_ctx r = {c, now};
        tern_netmon_replay(ep->nm, replay_emit, &r);
    }
    mark_dirty(ep, rc);
    *out = c;
    if (ep_leave(ep))
        *out = NULL; /* a callback freed the endpoint, and the connection with it */
    return 0;
}

int tern_endpoint_connect(tern_endpoint *ep, const tern_addr *remote, const tern_addr *local,
                          const char *server_name, tern_conn **out)
{
    return connect_impl(ep, remote, local, server_name, NULL, 0, 0, out);
}

int tern_endpoint_connect_session(tern_endpoint *ep, const tern_addr *remote,
                                  const tern_addr *local, const char *server_name,
                                  const uint8_t *session, size_t session_len, unsigned flags,
                                  tern_conn **out)
{
    tern_resume r;
    if (out)
        *out = NULL;
    /* a blob that cannot be read costs no socket */
    if (ep && remote && out && tern_resume_decode(&r, session, session_len))
        return TERN_ERR_SESSION;
    return connect_impl(ep, remote, local, server_name, session, session_len, flags, out);
}

/* ---- client local addresses (migration) ------------------------------------------------------ */

static rt_conn *client_rc(tern_conn *c, int *err)
{
    rt_conn *rc = c ? tern_conn_get_driver_data(c) : NULL;
    *err = !rc ? TERN_ERR_INVALID_ARG : tern_conn_is_server(c) ? TERN_ERR_NOT_CLIENT : 0;
    return rc;
}

/* Checks what can be refused before a socket is bound, so that a bind error does not hide them. */
static int precheck_local(rt_conn *rc, const tern_addr *addr)
{
    tern_path_addr pa;
    tern_conn_get_path(rc->c, &pa);
    if (addr->u.sa.sa_family != pa.remote.u.sa.sa_family)
        return TERN_ERR_AF_MISMATCH;
    uint16_t port = addr->u.sa.sa_family == AF_INET ? addr->u.in.sin_port : addr->u.in6.sin6_port;
    if (port && tern_conn_path_by_local(rc->c, addr) >= 0)
        return TERN_ERR_DUPLICATE;
    if (rc->nlocal == EP_MAX_LOCAL)
        return TERN_ERR_PATH_LIMIT;
    return 0;
}

static void drop_local_sock(tern_endpoint *ep, rt_conn *rc, const tern_addr *local)
{
    for (size_t i = 0; i < rc->nlocal; i++)
        if (tern_addr_equal(&rc->local_socks[i]->local, local)) {
            close_sock(ep, rc->local_socks[i]);
            rc->local_socks[i] = rc->local_socks[--rc->nlocal];
            return;
        }
}

/* Binds a socket on `addr` for the connection's paths (owned by the record, closed once no path
 * uses its address). Returns 0, TERN_ERR_PATH_LIMIT (no socket slot left) or TERN_ERR_BIND. */
static int bind_local_sock(rt_conn *rc, const tern_addr *addr, tern_udp_sock **out)
{
    if (rc->nlocal == EP_MAX_LOCAL)
        return TERN_ERR_PATH_LIMIT;
    tern_addr a = *addr;
    normalize_addr(&a);
    tern_udp_sock *s;
    if (open_sock(rc->ep, &a, &s))
        return TERN_ERR_BIND; /* errno kept */
    s->owner = rc;
    rc->local_socks[rc->nlocal++] = s;
    mark_dirty(rc->ep, rc);
    *out = s;
    return 0;
}

/* client_rc, and `addr` (set) normalized into *a. */
static rt_conn *client_local(tern_conn *c, const tern_addr *addr, tern_addr *a, int *err)
{
    rt_conn *rc = client_rc(c, err);
    if (*err)
        return rc;
    if (!addr || !addr->len) {
        *err = TERN_ERR_INVALID_ARG;
        return rc;
    }
    *a = *addr;
    normalize_addr(a);
    return rc;
}

/* add_local's modes */
enum { ADD_PROBE, ADD_ACTIVATE, ADD_BACKUP };

/* Binds a socket on `addr` and creates the path. ADD_ACTIVATE switches to it too; ADD_BACKUP
 * marks it backup (multipath). */
static int add_local(tern_conn *c, const tern_addr *addr, int mode)
{
    int activate = mode == ADD_ACTIVATE;
    tern_addr a;
    int rv;
    rt_conn *rc = client_local(c, addr, &a, &rv);
    if (rv)
        return rv;
    if (activate) {
        int idx = tern_conn_path_by_local(c, &a);
        if (idx >= 0)
            return tern_conn_path_set_active(c, &a, tern_loop_now());
    }
    if ((rv = precheck_local(rc, &a)))
        return rv;
    if (mode == ADD_BACKUP && (rv = tern_conn_path_status_usable(c)))
        return rv;
    tern_endpoint *ep = rc->ep;
    tern_udp_sock *s;
    if ((rv = bind_local_sock(rc, &a, &s)))
        return rv;
    uint64_t now = tern_loop_now();
    rv = activate ? tern_conn_path_set_active(c, &s->local, now) : tern_conn_path_add(c, &s->local, now);
    if (rv < 0) {
        int e = errno;
        rc->nlocal--; /* the socket just added is the last one */
        destroy_sock_now(ep, s);
        errno = e;
        return rv;
    }
    if (mode == ADD_BACKUP)
        (void)tern_conn_path_set_backup(c, &s->local, 1); /* checked above: cannot fail */
    return rv;
}

/* add_local inside ep_enter/ep_leave: the path events it reports are callbacks. */
static int add_local_guarded(tern_conn *c, const tern_addr *addr, int mode)
{
    rt_conn *rc = c ? tern_conn_get_driver_data(c) : NULL;
    if (!rc)
        return TERN_ERR_INVALID_ARG;
    tern_endpoint *ep = rc->ep;
    ep_enter(ep);
    int rv = add_local(c, addr, mode);
    ep_leave(ep);
    return rv;
}

int tern_conn_add_local_address(tern_conn *c, const tern_addr *addr)
{
    return add_local_guarded(c, addr, ADD_PROBE);
}

int tern_conn_add_local_address_backup(tern_conn *c, const tern_addr *addr)
{
    return add_local_guarded(c, addr, ADD_BACKUP);
}

int tern_conn_set_local_address(tern_conn *c, const tern_addr *addr)
{
    return add_local_guarded(c, addr, ADD_ACTIVATE);
}

int tern_conn_set_path_backup(tern_conn *c, const tern_addr *addr, int backup)
{
    tern_addr a;
    int rv;
    rt_conn *rc = client_local(c, addr, &a, &rv);
    if (rv)
        return rv;
    if ((rv = tern_conn_path_set_backup(c, &a, backup)) == 0)
        mark_dirty(rc->ep, rc); /* the PATH_STATUS frame goes out with the next send */
    return rv;
}

static int remove_local(tern_conn *c, const tern_addr *addr);

int tern_conn_remove_local_address(tern_conn *c, const tern_addr *addr)
{
    rt_conn *rc = c ? tern_conn_get_driver_data(c) : NULL;
    if (!rc)
        return TERN_ERR_INVALID_ARG;
    tern_endpoint *ep = rc->ep;
    ep_enter(ep);
    int rv = remove_local(c, addr);
    ep_leave(ep);
    return rv;
}

static int remove_local(tern_conn *c, const tern_addr *addr)
{
    int rv;
    rt_conn *rc = client_rc(c, &rv);
    if (rv)
        return rv;
    if (!addr)
        return TERN_ERR_INVALID_ARG;
    tern_addr a = *addr;
    normalize_addr(&a);
    if ((rv = tern_conn_path_remove(c, &a, tern_loop_now())))
        return rv;
    tern_endpoint *ep = rc->ep;
    if (tern_addr_equal(&rc->sock->local, &a) && rc->nlocal) {
        /* the first socket goes too: the active path's socket takes its place as the one the
         * connection record leans on */
        tern_path_addr act;
        tern_conn_get_path(c, &act);
        size_t k = 0;
        for (size_t i = 0; i < rc->nlocal; i++)
            if (tern_addr_equal(&rc->local_socks[i]->local, &act.local))
                k = i;
        tern_udp_sock *old_sock = rc->sock;
        rc->sock = rc->local_socks[k];
        rc->local_socks[k] = rc->local_socks[--rc->nlocal];
        close_sock(ep, old_sock);
    } else {
        drop_local_sock(ep, rc, &a);
    }
    mark_dirty(ep, rc);
    return 0;
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void run_timers(tern_endpoint *ep, uint64_t now)
{
    tern_timer *t;
    while ((t = tern_heap_top(&ep->loop.timers)) && t->at <= now) {
        tern_heap_set(&ep->loop.timers, t, TERN_LOOP_NO_TIMER);
        if (t == &ep->dq_timer) {
            tern_ep_run_delayed(ep, now);
            continue;
        }
        rt_conn *rc = conn_of_timer(t);
        tern_conn_on_timeout(rc->c, now);
        mark_dirty(ep, rc);
    }
}

/* The application may have written to any connection since the last call: give each a chance to
 * send. */

/* EPOLLERR: the pending error is cleared (it would fail the next send), and a client socket's
 * queued ICMP errors are read; a port unreachable from the server ends a handshake that got no
 * answer ("connection refused" at once instead of a handshake timeout). */
static void on_socket_error(tern_endpoint *ep, tern_udp_sock *s)
{
    int err = 0;
    socklen_t sl = sizeof(err);
    tern_udp_error e;

    (void)getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
    for (int k = 0; k < EP_RECV_ROUNDS && tern_udp_read_error(s, &e) > 0; k++) {
        rt_conn *rc = s->owner;
        if (!rc || !e.icmp || e.err != ECONNREFUSED || !e.dest.len)
            continue;
        normalize_addr(&e.dest);
        if (tern_conn_on_port_unreachable(rc->c, &e.dest)) {
            ep_log(ep, "connection refused: port unreachable");
            mark_dirty(ep, rc);
            return;
        }
    }
}

/* One iteration of the loop (tern_endpoint_run_once without the re-entrancy bracket). */
static int run_iteration(tern_endpoint *ep, int timeout_ms)
{
    uint64_t now = tern_loop_now();
    /* No timer runs before the datagrams already queued are read: after the process was paused
     * (scheduling, a slow callback, another endpoint of the same thread), a timer that expired
     * meanwhile would act on stale state, e.g. a PTO whose acknowledgement sits in the socket,
     * which the migration policy takes for a silent path. An expired timer makes the wait below
     * return at once, and the timers run after the read. */
    flush_dirty(ep, now);
    free_dead_socks(ep);

    uint64_t deadline;
    tern_timer *t = tern_heap_top(&ep->loop.timers);
    if (timeout_ms == 0 || ep->stop)
        deadline = 0;
    else {
        deadline = t ? t->at : TERN_LOOP_NO_TIMER;
        if (timeout_ms > 0 && now + (uint64_t)timeout_ms * UINT64_C(1000000) < deadline)
            deadline = now + (uint64_t)timeout_ms * UINT64_C(1000000);
        if (deadline <= now)
            deadline = 0;
    }
    struct epoll_event ev[EP_EVENTS];
    int n = tern_loop_wait(&ep->loop, ev, EP_EVENTS, deadline);
    if (n < 0)
        return TERN_ERR_IO;
    tern_udp_sock *ready[EP_EVENTS];
    int nready = on_events(ep, ev, n, ready);
    read_ready(ep, ready, nready);
    now = tern_loop_now();
    run_timers(ep, now);
    flush_dirty(ep, now);
    free_dead_socks(ep);
    return 0;
}

int tern_endpoint_run_once(tern_endpoint *ep, int timeout_ms)
{
    if (!ep)
        return TERN_ERR_INVALID_ARG;
    if (ep->depth)
        return TERN_ERR_REENTRANT;
    ep_enter(ep);
    int rv = run_iteration(ep, timeout_ms);
    if (ep_leave(ep))
        return 0;
    return rv;
}

int tern_endpoint_run(tern_endpoint *ep)
{
    if (!ep)
        return TERN_ERR_INVALID_ARG;
    if (ep->depth)
        return TERN_ERR_REENTRANT;
    int rv = 0;
    ep_enter(ep);
    while (!ep->stop && (ep->nlisteners || ep->nconns > ep->nlinger)) {
        if ((rv = run_iteration(ep, -1)))
            break;
    }
    ep->stop = 0;
    if (ep_leave(ep))
        return 0;
    return rv;
}

int tern_endpoint_fd(tern_endpoint *ep)
{
    return ep ? ep->loop.epfd : -1;
}

int tern_endpoint_timeout_ms(tern_endpoint *ep)
{
    if (!ep)
        return -1;
    tern_timer *t = tern_heap_top(&ep->loop.timers);
    if (!t)
        return -1;
    uint64_t now = tern_loop_now();
    if (t->at <= now)
        return 0;
    uint64_t ms = (t->at - now + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

void tern_endpoint_stop(tern_endpoint *ep)
{
    if (ep)
        ep->stop = 1;
}

static int network_event(tern_endpoint *ep, const tern_net_event *ev);

int tern_endpoint_network_event_sized(tern_endpoint *ep, const tern_net_event *in, size_t ev_size)
{
    if (!ep || !in)
        return TERN_ERR_INVALID_ARG;
    tern_net_event ev;
    if (tern_net_event_import(&ev, in, ev_size))
        return TERN_ERR_ABI;
    ep_enter(ep);
    int rv = network_event(ep, &ev);
    ep_leave(ep);
    return rv;
}

static int network_event(tern_endpoint *ep, const tern_net_event *ev)
{
    if (tern_net_event_check(ev))
        return TERN_ERR_INVALID_ARG;
    if (ep->cb.on_network_event)
        ep->cb.on_network_event(ep, ev, ep->ud);
    if (!ep->conf.cfg.auto_migrate)
        return 0;
    /* every client connection follows the host's network (servers follow their clients) */
    uint64_t now = tern_loop_now();
    for (rt_conn *rc = ep->conns; rc; rc = rc->next) {
        if (tern_conn_is_server(rc->c))
            continue;
        tern_conn_network_event(rc->c, ev, now);
        mark_dirty(ep, rc);
    }
    return 0;
}

size_t tern_endpoint_conn_count(tern_endpoint *ep)
{
    return ep ? ep->nconns - ep->nlinger : 0;
}

void tern_endpoint_free(tern_endpoint *ep)
{
    if (!ep)
        return;
    if (ep->depth) {
        /* From inside a callback: the call that runs it still uses the endpoint. Nothing more
         * is reported; the outermost call frees it on its way out (ep_leave). */
        ep->free_pending = 1;
        ep->stop = 1;
        memset(&ep->cb, 0, sizeof(ep->cb));
        memset(&ep->hooks, 0, sizeof(ep->hooks));
        ep->hook_send = ep->hook_recv = 0;
        return;
    }
    ep_destroy(ep);
}

static void ep_destroy(tern_endpoint *ep)
{
    tern_loop_free(&ep->loop); /* first: the heap points into the connection records */
    if (ep->nm) {
        tern_netmon_close(ep->nm);
        free(ep->nm);
    }
    while (ep->conns) {
        rt_conn *rc = ep->conns;
        ep->conns = rc->next;
        tern_conn_free(rc->c);
        tern_ep_qlog_close(rc, 0);
        if (rc->own_sock) {
            tern_udp_close(rc->sock);
            free(rc->sock);
        }
        for (size_t i = 0; i < rc->nlocal; i++) {
            tern_udp_close(rc->local_socks[i]);
            free(rc->local_socks[i]);
        }
        free(rc);
    }
    for (size_t i = 0; i < ep->nlisteners; i++) {
        tern_udp_close(ep->listeners[i]);
        free(ep->listeners[i]);
    }
    free_dead_socks(ep);
    if (ep->dq) {
        tern_delayq_free(ep->dq);
        free(ep->dq);
    }
    tern_front_free(&ep->front);
    tern_tls_ctx_free(ep->srv_tls);
    tern_tls_ctx_free(ep->cli_tls);
    tern_udp_rx_free(ep->rx);
    tern_udp_tx_free(ep->tx);
    free(ep->sbuf);
    tern_cfg_copy_free(&ep->conf);
    free(ep);
}
