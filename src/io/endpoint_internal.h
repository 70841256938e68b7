/* The endpoint's insides, shared by endpoint.c (sockets, loop, connections, migration glue) and
 * hooks.c (the datapath hooks of tern.h). Nothing else includes this. */
#ifndef TERN_IO_ENDPOINT_INTERNAL_H
#define TERN_IO_ENDPOINT_INTERNAL_H

#include "endpoint.h"

#include <stdio.h>

#include "core/cfgcopy.h"
#include "core/conn.h"
#include "core/front.h"
#include "delayq.h"
#include "loop.h"
#include "netmon.h"
#include "udp.h"

#define EP_MAX_LISTENERS 8
#define EP_MAX_LOCAL 16 /* extra local addresses (sockets) per client connection */

/* Q_REAPED: being reported closed and freed; nothing may queue it any more. */
enum { Q_NONE = 0, Q_DIRTY, Q_DEFERRED, Q_REAPED };

typedef struct rt_conn {
    tern_conn *c;
    tern_endpoint *ep;
    tern_udp_sock *sock; /* clients: their own socket; servers: the listener it arrived on */
    int own_sock;
    /* clients: sockets of the local addresses added for migration (owned, closed on removal) */
    tern_udp_sock *local_socks[EP_MAX_LOCAL];
    size_t nlocal;
    tern_timer timer; /* first member used by the heap: see conn_of_timer */
    struct rt_conn *prev, *next;
    struct rt_conn *qnext; /* dirty or deferred list */
    int q;
    tern_front_conn fc; /* routes (the front door's view); fc.route.val is this record */
    FILE *qlog_fp;    /* tern_config.qlog_dir: this connection's file (qlog_file.c) */
    int qlog_tried;   /* its opening was attempted (it is not tried again) */
    char qlog_name[2 * TERN_MAX_CID_LEN + 16]; /* the file's name in qlog_dir */
    int reported; /* a client's on_closed ran before the end of its closing or draining period */
} rt_conn;

struct tern_endpoint {
    tern_cfg_copy conf; /* deep copy of the configuration (conf.cfg) */
    tern_callbacks cb;
    void *ud;
    tern_tls_ctx *srv_tls, *cli_tls;

    tern_loop loop;
    tern_front front; /* routing and stateless replies (front.disp) */
    tern_udp_sock *listeners[EP_MAX_LISTENERS];
    size_t nlisteners;
    tern_udp_sock *dead_socks; /* closed this iteration; freed once no event can name them */

    tern_udp_rx *rx;
    tern_udp_tx *tx;
    tern_udp_dgram dg[TERN_UDP_RX_BATCH];
    uint8_t *sbuf;
    size_t scap;

    rt_conn *conns;
    size_t nconns;
    size_t nlinger; /* of them, reported closed and only finishing their closing period */
    rt_conn *dirty_head, *dirty_tail;
    rt_conn *deferred;
    int stop;
    /* Re-entrancy (tern.h, "Calling tern from callbacks"): the public calls that can run callbacks
     * under way on this thread, and a tern_endpoint_free that came from inside one of them and
     * waits for the outermost to return. */
    int depth;
    int free_pending;

    /* datapath hooks: the flags are the only cost when none is set */
    int hook_send, hook_recv;
    tern_datapath_hooks hooks;
    tern_delayq *dq; /* allocated with the first hooks, kept until the endpoint is freed */
    tern_timer dq_timer;

    tern_netmon *nm; /* the OS network monitor (cfg.network_monitor or cfg.auto_migrate) */
    struct tern_worker *wk; /* one of tern_workers: its forwarding queue (workers.h) */

    tern_endpoint_stats st;
};

static inline int tern_ep_path_eq(const tern_path_addr *a, const tern_path_addr *b)
{
    return tern_addr_equal(&a->local, &b->local) && tern_addr_equal(&a->remote, &b->remote);
}

/* endpoint.c */
/* Hands one batch to socket s, marked with ECN codepoint `ecn`. Returns 0, or
 * TERN_ERR_WOULD_BLOCK (the batch is kept by the socket and EPOLLOUT armed). */
int tern_ep_sock_send(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path,
                      const uint8_t *buf, size_t len, size_t seg, int ecn);
/* Hands one received datagram to its connection (or the dispatcher's verdict). */
void tern_ep_deliver(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path, int ecn,
                     uint8_t *d, size_t len, uint64_t now);

/* endpoint.c, for workers.c: makes ep worker `index` of `n` (its CIDs name it, its loop drains
 * wk's queue); before it listens. Returns 0, TERN_ERR_CONFIG (the CIDs cannot take the worker
 * octet), TERN_ERR_INVALID_ARG or TERN_ERR_IO. */
int tern_ep_join_workers(tern_endpoint *ep, struct tern_worker *wk, unsigned index, unsigned n);
/* tern_endpoint_listen on an SO_REUSEPORT socket; the fd of the first listener. */
int tern_ep_listen_reuseport(tern_endpoint *ep, const tern_addr *addr);
int tern_ep_listener_fd(tern_endpoint *ep);

/* hooks.c */
/* Queues a datagram for `delay_ns` (TERN_DELAYQ_SEND or _RECV); a full queue loses it. */
void tern_ep_hold(tern_endpoint *ep, int dir, tern_udp_sock *s, const tern_path_addr *path, int ecn,
                  const uint8_t *d, size_t len, uint64_t delay_ns, uint64_t now);
/* Asks on_send about one datagram leaving from `def`; returns the verdict, *out the socket and
 * *delay the delay. */
int tern_ep_ask_send(tern_endpoint *ep, tern_udp_sock *def, tern_path_addr *path, const uint8_t *d,
                     size_t len, tern_udp_sock **out, uint64_t *delay);
/* Sends a batch through on_send, datagram by datagram. Returns 0 or TERN_ERR_WOULD_BLOCK. */
int tern_ep_emit_hooked(tern_endpoint *ep, tern_udp_sock *def, const tern_path_addr *path,
                        const uint8_t *buf, size_t len, size_t seg, int ecn);
/* Sends or delivers the delayed datagrams that are due. */
void tern_ep_run_delayed(tern_endpoint *ep, uint64_t now);
/* Shows one received datagram to on_recv, then delivers, delays or drops it. */
void tern_ep_recv_hooked(tern_endpoint *ep, tern_udp_sock *s, const tern_path_addr *path, int ecn,
                         uint8_t *d, size_t len, uint64_t now);

/* qlog_file.c: the qlog sink of the runtime's connections (ud: their rt_conn), and the closing of
 * a connection's file (`discard`: the connection never existed for the application, its file is
 * removed). */
void tern_ep_qlog_record(void *ud, tern_conn *c, const char *record, size_t len);
void tern_ep_qlog_close(rt_conn *rc, int discard);
/* endpoint.c: a line to tern_config.log. */
void tern_ep_log(tern_endpoint *ep, const char *fmt, ...);

#endif
