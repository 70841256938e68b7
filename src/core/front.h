/* The server side of a driver, without sockets: the dispatcher (dispatch.h) configured from a
 * tern_config, and the steps that turn its verdicts into connections: creating the server
 * connection an Initial asked for (routing its CIDs, keeping it only when its first datagram held
 * something authentic, counting it half-open until its handshake completes) and feeding the
 * datagrams routed to a connection. The runtime (src/io/endpoint.c) and the public sans-I/O
 * server (core_server.c) both go through it; each keeps its own record per connection, with a
 * tern_front_conn inside. */
#ifndef TERN_CORE_FRONT_H
#define TERN_CORE_FRONT_H

#include "conn.h"
#include "dispatch.h"
#include "qlb.h"

typedef struct tern_front {
    tern_dispatch disp;
    const tern_config *cfg;   /* must outlive the front door and its connections */
    tern_tls_ctx *tls;        /* server credentials (NULL: a client driver, nothing accepted) */
    const tern_callbacks *cb; /* given to the connections (on_accept is the driver's call) */
    void *cb_ud;
    tern_rand_fn rand;        /* the connections' randomness; the dispatcher keeps the one given to */
    void *rand_ud;            /* tern_front_init, so a driver may give connections a stream of
                                 their own by changing these afterwards */
    /* qlog sink of the accepted connections, called with their `val` as user data (NULL: the
     * connections use cfg->qlog when it is set); a driver sets it after tern_front_init. */
    void (*qlog)(void *ud, tern_conn *c, const char *record, size_t len);
    tern_cidgen cidgen;       /* every CID the accepted connections issue, and Retry's */
} tern_front;

/* One connection as the front door sees it: its routes, and the connection. */
typedef struct tern_front_conn {
    tern_front *f;
    tern_dispatch_owner route;
    tern_conn *c;
} tern_front_conn;

/* The limits every driver's front door applies: the length of the CIDs its connections issue
 * (short headers are parsed with it), connections at most, the lifetime of a Retry token, and
 * stateless resets per second (a token bucket with a burst of the same size). */
#define TERN_FRONT_CID_LEN 8
#define TERN_FRONT_MAX_CONNS 65536
#define TERN_FRONT_RETRY_TOKEN_LIFETIME_NS (10ull * 1000000000ull)
#define TERN_FRONT_RESETS_PER_SEC 100

/* Configures the dispatcher from cfg (retry, retry_half_open, max_half_open) with the limits
 * above, and the CID generator from cfg's QUIC-LB members (CIDs of TERN_FRONT_CID_LEN random
 * bytes without them); it accepts connections only when `tls` (server credentials) is given.
 * `keys` (64 bytes: reset key, then Retry token key) or NULL to draw them from `rand`. `f`,
 * `cfg` and `rand` are never NULL (the drivers own them; the public entry points check what their
 * callers give). Returns 0, TERN_ERR_CONFIG (a QUIC-LB configuration qlb.h refuses),
 * TERN_ERR_CRYPTO, TERN_ERR_NOMEM or the error of rand. tern_front_free releases it (also
 * harmless on a zeroed struct). */
int tern_front_init(tern_front *f, const tern_config *cfg, tern_tls_ctx *tls,
                    const tern_callbacks *cb, void *cb_ud, tern_rand_fn rand, void *rand_ud,
                    const uint8_t *keys);
void tern_front_free(tern_front *f);
/* Makes this front door worker `worker` of `workers` on one address (tern_workers): its CIDs get
 * the worker octet (qlb.h), one byte longer with QUIC-LB. Call before any connection exists.
 * Returns 0, TERN_ERR_CONFIG (see tern_cidgen_init; the previous generator is kept) or
 * TERN_ERR_INVALID_ARG (connections exist). */
int tern_front_set_worker(tern_front *f, unsigned worker, unsigned workers);

/* Registers fc with routing value `val` (before its connection exists: tern_conn_new reports
 * CIDs at once). */
void tern_front_attach(tern_front *f, tern_front_conn *fc, void *val);
/* Sets the routing hooks of `h` (cid_added, cid_removed, reset_token) and h->ud = fc: the
 * driver's own hooks (wake, ...) get fc too and find their record in fc->route.val. */
void tern_front_hooks(tern_front_conn *fc, tern_conn_hooks *h);

/* Creates the server connection an ACCEPT verdict `r` asked for on `path`, with the routing hooks
 * and the driver's `extra` hooks (wake, ...; may be NULL; they are called with fc), registers fc
 * with value `val` (also the connection's driver data, set before its first datagram is fed), and
 * feeds it its first datagram. Returns 0 (fc->c is set, half-open counted), the error of
 * tern_conn_new (TERN_ERR_CONFIG without server credentials), or TERN_ERR_DROP when the datagram
 * held nothing authentic; on error fc is detached, the connection freed and the drop counted as
 * TERN_DISPATCH_DROP_REJECTED. */
int tern_front_accept(tern_front *f, tern_front_conn *fc, void *val, const tern_conn_hooks *extra,
                      const tern_path_addr *path, const tern_dispatch_result *r, uint8_t *d,
                      size_t len, int ecn, tern_tstamp now);

/* Feeds a routed datagram to fc's connection; a server connection whose handshake completed
 * stops counting as half-open. Returns what tern_conn_recv returned. */
int tern_front_input(tern_front *f, tern_front_conn *fc, const tern_path_addr *path, uint8_t *d,
                     size_t len, int ecn, tern_tstamp now);

/* Stops routing to fc (its connection is being freed). */
void tern_front_detach(tern_front *f, tern_front_conn *fc);

#endif
