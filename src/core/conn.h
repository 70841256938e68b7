/* The sans-I/O QUIC connection: time, randomness and datagrams are passed in; datagrams to send are
 * pulled out. The runtime (src/io) and the simulator (tests/sim) drive it through these entry points
 * only. The public stream and connection functions of tern.h (tern_conn_open_stream,
 * tern_stream_write, ...) operate on this same object and perform no I/O: the driver calls
 * tern_conn_send() after them. */
#ifndef TERN_CORE_CONN_H
#define TERN_CORE_CONN_H

#include "common.h"
#include "tls.h"

/* Notifications to the driver about routing state. */
typedef struct tern_conn_hooks {
    /* `cid` now identifies this connection (a CID we issued): route datagrams carrying it here. */
    void (*cid_added)(void *ud, tern_conn *c, const tern_cid *cid);
    /* `cid` was retired by the peer: stop routing it. */
    void (*cid_removed)(void *ud, tern_conn *c, const tern_cid *cid);
    /* An API call outside tern_conn_recv/on_timeout (a stream write, a read that opens credit, a
     * close, ...) gave the connection something to send: call tern_conn_send soon. */
    void (*wake)(void *ud, tern_conn *c);
    /* Server: the peer gave a stateless reset token (added = 1) or it was forgotten (0). A
     * datagram for no known CID that ends with one may be the client's reset: hand it to this
     * connection, which decides (RFC 9000 §10.3.1: only tokens of CIDs in use count). */
    void (*reset_token)(void *ud, tern_conn *c, const uint8_t *token, int added);
    /* The migration policy asks whether the routing table reaches `remote` from local address
     * `local` (port 0): 0 when it does, a negative TERN_ERR_* when not. NULL: every address is
     * taken as usable. */
    int (*route_usable)(void *ud, tern_conn *c, const tern_addr *local, const tern_addr *remote);
    /* The migration policy needs a socket on `local` (port 0: a new port) for this connection:
     * bind one and put its address in *bound. Returns 0 or a negative TERN_ERR_*. The socket
     * belongs to the connection's paths: the driver closes it once no path uses its address.
     * NULL: the policy creates no path of its own. */
    int (*bind_local)(void *ud, tern_conn *c, const tern_addr *local, tern_addr *bound);
    /* Path MTU discovery asks, once per path, for the largest UDP payload the local interface
     * towards path->remote from path->local carries (its MTU less the IP and UDP headers), or 0
     * when unknown. NULL: unknown (the search is bounded by the configuration and the peer). */
    size_t (*path_mtu)(void *ud, tern_conn *c, const tern_path_addr *path);
    void *ud;
    /* Makes each CID the connection issues (its handshake SCID, NEW_CONNECTION_ID, the preferred
     * address's), of the params' scid_len bytes: the server's generator (qlb.h: QUIC-LB, worker
     * octet). Returns 0 or a negative TERN_ERR_*. NULL: scid_len random bytes. */
    int (*new_cid)(void *ud, tern_conn *c, tern_cid *cid);
} tern_conn_hooks;

typedef struct tern_conn_params {
    int is_server;
    uint32_t version;
    const tern_config *cfg;        /* must outlive the connection (the endpoint's copy) */
    tern_tls_ctx *tls_ctx;         /* must outlive the connection */
    const tern_callbacks *cb;      /* app callbacks (may be NULL); on_closed is the driver's job */
    void *cb_ud;
    tern_rand_fn rand;             /* CSPRNG or seeded generator */
    void *rand_ud;
    const uint8_t *reset_key;      /* 32 bytes: stateless reset tokens for the CIDs we issue */
    const uint8_t *token_key;      /* server: 32 bytes, the key of the NEW_TOKEN tokens it issues
                                      (token.h; NULL: none issued) */
    size_t scid_len;               /* length of the CIDs we issue (1..20; 8 by default) */
    const char *server_name;       /* client: SNI / verification name, may be NULL */
    /* client: a resumption blob from on_session_ticket (read during tern_conn_new only) and
     * whether to send 0-RTT when it allows */
    const uint8_t *session;
    size_t session_len;
    int early_data;
    /* server only: from the client's Initial (after address validation) */
    tern_cid client_dcid;          /* DCID of the Initial being answered (Initial keys) */
    tern_cid client_scid;          /* the client's SCID */
    tern_cid original_dcid;        /* DCID of the very first Initial (== client_dcid without Retry) */
    int retried;                   /* a Retry was sent; client_dcid is its SCID */
    int address_validated;         /* server: a valid token proved the address */
    tern_conn_hooks hooks;
    /* qlog records of this connection go to this sink (NULL: to cfg->qlog when set, else qlog is
     * off); see qlog.h */
    void (*qlog)(void *ud, tern_conn *c, const char *record, size_t len);
    void *qlog_ud;
} tern_conn_params;

/* Creates a connection on `path` at time `now`. A client prepares its first flight (send it with
 * tern_conn_send). Returns 0, TERN_ERR_INVALID_ARG, TERN_ERR_CONFIG (no ALPN, a UDP payload,
 * stream count, datagram queue or key update margin out of range), TERN_ERR_SESSION (client:
 * p->session is not a usable blob; nothing is created), TERN_ERR_TLS, TERN_ERR_CRYPTO,
 * TERN_ERR_NOMEM, or the error of p->rand (its connection IDs need random bytes). Later failures of p->rand cost
 * no more than a delay: a connection ID is issued or a path challenged at a later send. */
int tern_conn_new(tern_conn **out, const tern_conn_params *p, const tern_path_addr *path,
                  tern_tstamp now);
void tern_conn_free(tern_conn *c);

/* Processes one received UDP datagram (all coalesced packets). The buffer is decrypted in place.
 * Returns 0 (including for dropped packets: bad ones are silently discarded as RFC 9000 says), or
 * TERN_ERR_CLOSED when the connection is now closing/draining (check tern_conn_is_done later). */
int tern_conn_recv(tern_conn *c, const tern_path_addr *path, uint8_t *dgram, size_t len, int ecn,
                   tern_tstamp now);

/* Builds up to `max_count` datagrams for ONE path into buf: all of size *seg_size except possibly
 * the last, which may be shorter (GSO-ready); *len receives their total size. A probe (path
 * validation) goes alone; the other datagrams go on the active path. *count = 0 when nothing may
 * be sent now (no data, or blocked by congestion control, pacing or the amplification limit).
 * Returns 0 or a TERN_ERR_*. */
int tern_conn_send_batch(tern_conn *c, tern_path_addr *path_out, uint8_t *buf, size_t cap,
                         size_t max_count, size_t *seg_size, size_t *count, size_t *len,
                         tern_tstamp now);
/* tern_conn_send_batch that also gives in *ecn the ECN codepoint (TERN_ECN_ECT0 or
 * TERN_ECN_NOT_ECT) the driver sets on every datagram of the batch (IP_TOS / IPV6_TCLASS). A
 * driver that cannot mark calls tern_conn_send_batch: its datagrams leave Not-ECT and none of them
 * counts as marked for ECN validation. */
int tern_conn_send_batch_ecn(tern_conn *c, tern_path_addr *path_out, uint8_t *buf, size_t cap,
                             size_t max_count, size_t *seg_size, size_t *count, size_t *len,
                             int *ecn, tern_tstamp now);
/* tern_conn_send_batch without the total size, for callers that take one datagram at a time
 * (max_count 1: *seg_size is its size). */
int tern_conn_send(tern_conn *c, tern_path_addr *path_out, uint8_t *buf, size_t cap,
                   size_t max_count, size_t *seg_size, size_t *count, tern_tstamp now);

/* Absolute time of the next timer (loss detection, PTO, ACK delay, pacing, idle, drain), or
 * TERN_TS_INF: also once the connection is done (closed, or its closing or draining period
 * over). */
tern_tstamp tern_conn_next_timeout(const tern_conn *c);

/* Runs due timers. Call tern_conn_send afterwards. */
void tern_conn_on_timeout(tern_conn *c, tern_tstamp now);

/* 1 when the connection has ended (closing/draining period over, or closed without a period):
 * the driver reports tern_conn_close_info() through on_closed and frees it. */
int tern_conn_is_done(const tern_conn *c);
/* 1 once nothing of the connection is left for the application: its CONNECTION_CLOSE went out
 * (closing period) or the peer's arrived (draining period); only the period's end remains. */
int tern_conn_close_sent(const tern_conn *c);
/* From now on no application callback runs for the connection (it was reported closed). */
void tern_conn_forget_app(tern_conn *c);
/* 1 once the handshake completed (RFC 9001 §4.1.1), whatever happened since (a connection closed
 * by the peer right after its Finished stays complete): the server's front door counts a
 * connection as half-open until then. */
int tern_conn_handshake_completed(const tern_conn *c);
/* The connection's state as tern/core.h names it (TERN_CORE_HANDSHAKE ... TERN_CORE_CLOSED). */
int tern_conn_state(const tern_conn *c);
/* Why the connection ends: all zero while no reason was set; valid until the connection is
 * freed. */
const tern_close_info *tern_conn_close_info(const tern_conn *c);

/* The network said that nothing listens at `to` (ICMP port unreachable for a datagram sent
 * there). A client whose handshake has not yet received a single packet from the server at `to`
 * (its active path's remote address) ends at once with status TERN_ERR_CONN_REFUSED and sends
 * nothing more; a 10 s handshake timeout would say the same, late. Anything else is ignored: such
 * a message is unauthenticated, and once the server has answered, a forged one must not cut the
 * connection (the path's own loss detection judges it). Returns 1 when the connection ended
 * (tern_conn_is_done), else 0. */
int tern_conn_on_port_unreachable(tern_conn *c, const tern_addr *to);

/* The driver learnt that the local interface of `path` (both addresses must match a path in use)
 * carries UDP payloads of at most `max_udp` bytes (0: unknown): path MTU discovery searches no
 * higher, and a path using more comes down at once. Returns 0, TERN_ERR_INVALID_ARG or
 * TERN_ERR_NOT_FOUND. */
int tern_conn_set_path_mtu(tern_conn *c, const tern_path_addr *path, size_t max_udp,
                           tern_tstamp now);

/* An opaque pointer for the driver (the runtime keeps its per-connection record here). */
void tern_conn_set_driver_data(tern_conn *c, void *d);
void *tern_conn_get_driver_data(const tern_conn *c);

#endif
