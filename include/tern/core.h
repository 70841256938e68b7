/*
 * tern/core.h: the sans-I/O connection engine, for applications that own their sockets, their
 * clock and their event loop (other operating systems, custom event loops, servers with their
 * own datapath).
 *
 * This is the engine the Linux runtime of tern.h (tern_endpoint) drives: the runtime is one user
 * of these functions, not a second implementation. Nothing here makes a system call or reads a
 * clock. The caller passes in:
 *   - every received UDP datagram, with the path it arrived on (local and remote address), its
 *     ECN bits and the time;
 *   - the time (`now`, a monotonic timestamp in nanoseconds of the caller's choosing, never
 *     going backwards) to every function that may act on time;
 *   - a source of random bytes (a CSPRNG: connection IDs, PATH_CHALLENGE data, tokens and keys
 *     come from it).
 * and takes out the datagrams to send (in GSO-shaped batches), and the time of the next timer.
 *
 * A driver's loop, for one connection:
 *
 *     for (;;) {
 *         wait for a datagram or until tern_core_next_timeout(c);
 *         now = monotonic clock in ns;
 *         for each datagram received: tern_core_recv(c, &path, buf, len, ecn, now);
 *         if (now >= tern_core_next_timeout(c)) tern_core_on_timeout(c, now);
 *         while ((n = tern_core_send_ecn(c, out, cap, max, &path, &seg, &count, &ecn, now)) > 0)
 *             send out[0..n) on path (count datagrams of seg bytes, the last may be shorter)
 *             with ECN codepoint ecn;
 *         if (tern_core_state(c) == TERN_CORE_CLOSED) break;
 *     }
 *
 * Streams: the stream and connection functions of tern.h (tern_conn_open_stream,
 * tern_stream_write, tern_stream_write_buffer and _commit, tern_stream_write_ref, tern_stream_read,
 * tern_stream_reset, tern_stream_stop_sending, tern_conn_close, tern_conn_key_update,
 * tern_conn_get_stats, tern_conn_paths, tern_conn_send_datagram, ...) work on the connections of
 * this header too. They perform no I/O and need no time: after calling them, call tern_core_send to
 * get what they queued.
 * The functions of tern.h that need sockets (tern_endpoint_*,
 * tern_conn_add/set/remove_local_address) must not be given a connection of this header: the path
 * verbs below replace the last three.
 *
 * Callbacks (tern_callbacks of tern.h) are called from inside tern_core_recv, tern_core_on_timeout,
 * tern_core_send and the verbs, on the caller's thread, with the `ud` given at creation.
 * on_closed is never called by this API (the caller sees TERN_CORE_CLOSED and frees the
 * connection itself), nor is on_network_event (the caller is the one who feeds network events).
 * A callback may call the stream and connection functions (and the path verbs) on the connection
 * it is given, but must not free it or its server: free them after the call that ran the callback
 * returns.
 *
 * Threads: a connection (and a server with all its connections) belongs to one thread at a time;
 * nothing here takes a lock. Different connections may be driven from different threads.
 *
 * Errors are negative TERN_ERR_* codes of tern.h. Memory: every object is allocated by its _new
 * function and released by its _free function; buffers passed in stay the caller's.
 */
#ifndef TERN_CORE_H
#define TERN_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "tern.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A monotonic timestamp in nanoseconds, from the caller's clock. */
typedef uint64_t tern_tstamp;
/* "No timer": tern_core_next_timeout of a connection with nothing scheduled. */
#define TERN_TS_INF UINT64_MAX

/* Randomness supplied by the caller: fills out[0..len) with bytes of a CSPRNG and returns 0, or
 * returns a negative TERN_ERR_* when none could be had (the engine then uses none of out and
 * delays or fails what needed them). Called on the connection's thread. */
typedef int (*tern_rand_fn)(void *ud, uint8_t *out, size_t len);

/* ECN codepoint of a datagram (the two low bits of the IP TOS / traffic class byte): given with
 * every datagram received (tern_core_recv), and for every batch to send (tern_core_send_ecn). */
enum {
    TERN_ECN_NOT_ECT = 0,
    TERN_ECN_ECT1 = 1,
    TERN_ECN_ECT0 = 2,
    TERN_ECN_CE = 3,
};

/* ---- connections -------------------------------------------------------------------------------- */

/* Creates a client connection on `path` (path->local: the address of the caller's socket, as
 * concrete as it can tell, never needed to be bound by tern; path->remote: the server) at `now`,
 * and prepares its first flight: call tern_core_send next. `cfg` (tern_config_init, then the
 * fields you need: alpn is required, ca_file / verify_peer for the server's certificate) is
 * deep-copied, as tern_endpoint_new does; `cb` is copied (may be NULL) and `ud` passed to every
 * callback. `server_name` is used for SNI and certificate verification (NULL: neither). `rand` is
 * required. The connection is released with tern_core_conn_free.
 * Returns 0, TERN_ERR_INVALID_ARG (NULL out, cfg, path or rand; addresses not both AF_INET or both
 * AF_INET6), TERN_ERR_CONFIG (the configuration cannot be used, as for tern_endpoint_new),
 * TERN_ERR_TLS, TERN_ERR_CERT (ca_file unreadable), TERN_ERR_NOMEM, or the error of `rand`. */
TERN_API int tern_core_client_new_sized(const tern_config *cfg, size_t cfg_size,
                                        const tern_callbacks *cb, size_t cb_size, void *ud,
                                        const tern_path_addr *path, const char *server_name,
                                        tern_rand_fn rand, void *rand_ud, tern_tstamp now,
                                        tern_conn **out);
/* The size rule of tern.h: the caller's sizeof(tern_config) and sizeof(tern_callbacks) go with
 * them (TERN_ERR_ABI for a size this library cannot take). */
#define tern_core_client_new(cfg, cb, ud, path, server_name, rand, rand_ud, now, out)             \
    tern_core_client_new_sized((cfg), sizeof(tern_config), (cb), sizeof(tern_callbacks), (ud),     \
                               (path), (server_name), (rand), (rand_ud), (now), (out))

/* tern_core_client_new that resumes a session: `session` is a blob from on_session_ticket (read
 * during the call only), and `flags` may hold TERN_CONNECT_EARLY_DATA, as for
 * tern_endpoint_connect_session: with a ticket that allows it, streams may be opened and written
 * at once and their data leaves in the first flight as 0-RTT. Returns the errors of
 * tern_core_client_new, and TERN_ERR_SESSION (nothing is created) when the blob is NULL,
 * malformed, truncated, of another format version, or its TLS session unusable. */
TERN_API int tern_core_client_new_session_sized(const tern_config *cfg, size_t cfg_size,
                                                const tern_callbacks *cb, size_t cb_size, void *ud,
                                                const tern_path_addr *path, const char *server_name,
                                                tern_rand_fn rand, void *rand_ud, tern_tstamp now,
                                                const uint8_t *session, size_t session_len,
                                                unsigned flags, tern_conn **out);
#define tern_core_client_new_session(cfg, cb, ud, path, server_name, rand, rand_ud, now, session,  \
                                     session_len, flags, out)                                      \
    tern_core_client_new_session_sized((cfg), sizeof(tern_config), (cb), sizeof(tern_callbacks),   \
                                       (ud), (path), (server_name), (rand), (rand_ud), (now),      \
                                       (session), (session_len), (flags), (out))

/* Releases a connection of this header (a client of tern_core_client_new, or a server connection
 * a tern_core_server returned), whatever its state: nothing is sent (close it first with
 * tern_conn_close and drive it until TERN_CORE_CLOSED for a clean end). A server connection stops
 * being routed by its server. NULL is ignored. Never on a connection of a tern_endpoint. */
TERN_API void tern_core_conn_free(tern_conn *c);

/* Processes one received UDP datagram (all QUIC packets coalesced in it) that arrived on `path`
 * (local: where it arrived, remote: its source) with ECN bits `ecn` (TERN_ECN_*) at `now`. The
 * buffer is decrypted in place (it is the caller's again on return). Malformed or unauthentic
 * packets are dropped silently, as RFC 9000 asks: that is not an error. A server's datagrams go
 * through tern_core_server_recv, which finds their connection and feeds them (a server
 * connection may also be fed directly here, when the caller knows it is the right one).
 * Returns 0, TERN_ERR_CLOSED (the connection is closing or draining now, or was already),
 * TERN_ERR_INVALID_ARG (NULL c, path or dgram, ecn > 3). */
TERN_API int tern_core_recv(tern_conn *c, const tern_path_addr *path, uint8_t *dgram, size_t len,
                            int ecn, tern_tstamp now);

/* Fills buf[0..cap) with up to `max_count` datagrams to send now, all on ONE path and all of
 * *seg_size bytes except possibly the last, which may be shorter: exactly what one sendmsg with
 * UDP_SEGMENT (Linux GSO) or one datagram after the other at offsets k * *seg_size sends. *path
 * receives the path to send them on (path->local: the socket to send from, path->remote: the
 * destination) and *count their number. Call it again until it returns 0: the next batch may
 * be for another path (a probe), or shorter. A cap of max_count times tern_config.max_udp_payload
 * never limits the batch. Returns the total number of bytes (0: nothing to send now, because
 * there is no data or congestion control, pacing or the amplification limit holds it: wait for
 * the next datagram or timer), TERN_ERR_INVALID_ARG (a NULL argument) or TERN_ERR_INTERNAL. What
 * was returned counts as sent: a datagram the caller fails to send is lost and recovered as a
 * loss. */
TERN_API ssize_t tern_core_send(tern_conn *c, uint8_t *buf, size_t cap, size_t max_count,
                                tern_path_addr *path, size_t *seg_size, size_t *count,
                                tern_tstamp now);

/* tern_core_send for a caller that can mark its datagrams' ECN bits: *ecn receives the codepoint
 * (TERN_ECN_ECT0 or TERN_ECN_NOT_ECT) to set on every datagram of the batch (the two low bits of
 * IP_TOS, IPV6_TCLASS for IPv6; a per-message control message or a socket option). With
 * tern_config.ecn (the default) each path is validated for ECN and CE marks the peer reports
 * count as congestion (docs/ecn.md). Datagrams of plain tern_core_send leave Not-ECT and take no
 * part in that. Returns what tern_core_send returns; TERN_ERR_INVALID_ARG also for a NULL ecn. */
TERN_API ssize_t tern_core_send_ecn(tern_conn *c, uint8_t *buf, size_t cap, size_t max_count,
                                    tern_path_addr *path, size_t *seg_size, size_t *count,
                                    int *ecn, tern_tstamp now);

/* The absolute time of the connection's next timer (loss detection, PTO, delayed ACK, pacing,
 * path validation, migration policy, idle and handshake timeouts, closing and draining periods),
 * or TERN_TS_INF; always TERN_TS_INF once the connection is TERN_CORE_CLOSED (nothing is left to
 * time: free it when convenient). It changes after every call of this header: read it again
 * before waiting. */
TERN_API tern_tstamp tern_core_next_timeout(const tern_conn *c);

/* Runs the timers due at `now` (early calls are harmless). Call tern_core_send afterwards.
 * Returns 0 or TERN_ERR_INVALID_ARG (c NULL). */
TERN_API int tern_core_on_timeout(tern_conn *c, tern_tstamp now);

typedef enum tern_core_conn_state {
    TERN_CORE_HANDSHAKE = 0,   /* the handshake is running */
    TERN_CORE_ESTABLISHED = 1, /* handshake complete (on_connected was called) */
    TERN_CORE_CLOSING = 2,     /* this side closed: CONNECTION_CLOSE is repeated to the peer's
                                  packets until the closing period (3 PTO) ends */
    TERN_CORE_DRAINING = 3,    /* the peer closed, or reset the connection: nothing is sent until
                                  the draining period ends */
    TERN_CORE_CLOSED = 4,      /* over: tern_core_close_info says why; free the connection */
} tern_core_conn_state;

/* The connection's state (TERN_CORE_*), or TERN_ERR_INVALID_ARG for NULL. */
TERN_API int tern_core_state(const tern_conn *c);

/* Why the connection ended or is ending (see tern_close_info in tern.h), valid until the
 * connection is freed; status 0 and code 0 while it is open. NULL for NULL. */
TERN_API const tern_close_info *tern_core_close_info(const tern_conn *c);

/* ---- paths (connection migration, RFC 9000 §9): the verbs of tern_conn_*_local_address --------- */
/* The caller owns the sockets: it opens one on `local` before these calls (port 0 is not
 * allowed: the path's local address is the socket's bound address), keeps it while a path uses
 * `local` (tern_conn_paths lists them; a path that failed or was removed was reported by
 * on_path_event), and sends each batch of tern_core_send from the socket of path->local. */

/* Creates a path from `local` to the server's current address and starts validating it
 * (PATH_CHALLENGE) at once, or when the handshake is confirmed if called earlier. Never switches.
 * Returns the path id (>= 0), TERN_ERR_INVALID_ARG (NULL, unset address or port 0),
 * TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED, TERN_ERR_MIGRATION_DISABLED, TERN_ERR_ZERO_LEN_CID,
 * TERN_ERR_DUPLICATE, TERN_ERR_PATH_LIMIT, TERN_ERR_AF_MISMATCH. */
TERN_API int tern_core_path_add(tern_conn *c, const tern_addr *local, tern_tstamp now);

/* Makes the path of `local` active, adding it first when unknown (tern_conn_set_local_address
 * explains the rules). Returns the path id or the errors of tern_core_path_add. */
TERN_API int tern_core_path_set_active(tern_conn *c, const tern_addr *local, tern_tstamp now);

/* Abandons the path of `local` (its peer connection ID is retired; moving first to the best
 * validated path when it is the active one). The caller closes its socket after this returns 0.
 * Returns 0, TERN_ERR_INVALID_ARG, TERN_ERR_NOT_FOUND, TERN_ERR_LAST_PATH, TERN_ERR_NOT_CLIENT,
 * TERN_ERR_CLOSED. */
TERN_API int tern_core_path_remove(tern_conn *c, const tern_addr *local, tern_tstamp now);

/* Multipath: marks the path of `local` backup (backup != 0) or available
 * (tern_conn_set_path_backup explains the rules). Returns 0, TERN_ERR_INVALID_ARG,
 * TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED, TERN_ERR_NOT_FOUND, TERN_ERR_NOT_MULTIPATH. */
TERN_API int tern_core_path_set_backup(tern_conn *c, const tern_addr *local, int backup);

/* Sending from `local` failed at the socket: `why` is TERN_PATH_WHY_SOCKET_ERROR, or
 * TERN_PATH_WHY_INTERFACE_GONE / TERN_PATH_WHY_ADDRESS_GONE when the OS said the interface or the
 * address is gone (the caller maps its errors: EADDRNOTAVAIL, ENETDOWN, ...). A path other than
 * the active one fails at once; for the active one the connection fails over to a validated path
 * (unless tern_config.failover is 0). Returns 0, TERN_ERR_INVALID_ARG, TERN_ERR_NOT_FOUND (no path
 * from `local`). */
TERN_API int tern_core_path_error(tern_conn *c, const tern_addr *local, tern_path_reason why,
                                  tern_tstamp now);

/* Path MTU discovery (docs/pmtud.md): the local interface of `path` (its local and remote
 * addresses, as tern_conn_paths lists them) carries UDP payloads of at most `max_udp_payload`
 * bytes: the interface's MTU less 28 (IPv4) or 48 (IPv6) bytes of headers, e.g. IP_MTU or
 * IPV6_MTU on a UDP socket connected to path->remote from path->local (0: unknown). Every path
 * starts at 1200 bytes and searches upward with probes; without this the search is bounded only
 * by tern_config.max_udp_payload and the peer's limit, and learns the rest by losing probes. A
 * path using more comes down at once. Call it after tern_core_client_new and tern_core_path_add
 * (a server: when on_path_event reports a path, or after accepting), before the search starts
 * (the handshake's confirmation, or the path's validation). The sockets should set the IP
 * don't-fragment bit (IP_PMTUDISC_PROBE), or probes may pass fragmented. Returns 0,
 * TERN_ERR_INVALID_ARG (NULL c or path), TERN_ERR_NOT_FOUND (no path in use has both
 * addresses). */
TERN_API int tern_core_path_mtu(tern_conn *c, const tern_path_addr *path, size_t max_udp_payload,
                                tern_tstamp now);

/* The network said that nothing listens at `to` (an ICMP port unreachable for a datagram sent
 * there). A client that never heard from the server ends at once (TERN_CORE_CLOSED, status
 * TERN_ERR_CONN_REFUSED); anything else is ignored (such messages are not authenticated).
 * Returns 1 when the connection ended, 0 when not, TERN_ERR_INVALID_ARG. */
TERN_API int tern_core_port_unreachable(tern_conn *c, const tern_addr *to);

/* A change of the host's network (tern_net_event of tern.h, as on Android or Apple platforms the
 * application learns them): a client with tern_config.auto_migrate reacts as tern.h's
 * tern_endpoint_network_event describes; its new paths need sockets, which this API cannot open,
 * so with auto_migrate it only fails over and follows the events on paths the caller added.
 * Returns 0, TERN_ERR_INVALID_ARG or TERN_ERR_ABI (the caller's struct size, which the macro
 * passes, cannot be a tern_net_event). */
TERN_API int tern_core_network_event_sized(tern_conn *c, const tern_net_event *ev, size_t ev_size,
                                           tern_tstamp now);
#define tern_core_network_event(c, ev, now)                                                        \
    tern_core_network_event_sized((c), (ev), sizeof(tern_net_event), (now))

/* ---- the server's front door ---------------------------------------------------------------------- */

/* A server: TLS credentials, the connection-ID routing table of its connections and the stateless
 * answers to datagrams no connection claims (RFC 9000 §5.2, §6, §8.1, §10.3), for an application
 * that receives on its own sockets. One server may serve any number of sockets and addresses. */
typedef struct tern_core_server tern_core_server;

/* A reply buffer of this size always holds the largest stateless reply. */
#define TERN_CORE_REPLY_MAX 256

typedef enum tern_core_verdict {
    TERN_CORE_ROUTED = 0,   /* fed to an existing connection (*conn): call tern_core_send on it */
    TERN_CORE_ACCEPTED = 1, /* a new connection (*conn) was created and fed its first datagram;
                               on_accept was called; the caller now drives it (tern_core_send,
                               timers) and frees it with tern_core_conn_free when CLOSED */
    TERN_CORE_REPLY = 2,    /* send reply[0..*reply_len) from path->local to path->remote: a
                               Version Negotiation, a Retry, a stateless reset, or an Initial
                               closing with INVALID_TOKEN (*kind says which) */
    TERN_CORE_DROPPED = 3,  /* nothing to do (malformed, too small, limits, rate limit, ...) */
} tern_core_verdict;

typedef enum tern_core_reply_kind {
    TERN_CORE_REPLY_NONE = 0,
    TERN_CORE_REPLY_VN = 1,
    TERN_CORE_REPLY_RETRY = 2,
    TERN_CORE_REPLY_RESET = 3,
    TERN_CORE_REPLY_CLOSE = 4,
} tern_core_reply_kind;

/* Creates a server from `cfg` (deep-copied; cert_file and key_file required; retry, retry_half_open
 * and max_half_open apply), `cb` (copied, may be NULL) and `ud`, and `rand` (required; the keys of
 * Retry tokens and stateless resets are drawn from it here). Returns 0, TERN_ERR_INVALID_ARG,
 * TERN_ERR_CONFIG, TERN_ERR_CERT, TERN_ERR_NOMEM, or the error of `rand`. */
TERN_API int tern_core_server_new_sized(const tern_config *cfg, size_t cfg_size,
                                        const tern_callbacks *cb, size_t cb_size, void *ud,
                                        tern_rand_fn rand, void *rand_ud, tern_core_server **out);
/* As tern_core_client_new: the caller's struct sizes go with them (TERN_ERR_ABI). */
#define tern_core_server_new(cfg, cb, ud, rand, rand_ud, out)                                      \
    tern_core_server_new_sized((cfg), sizeof(tern_config), (cb), sizeof(tern_callbacks), (ud),     \
                               (rand), (rand_ud), (out))

/* Frees the server and every connection it created that the caller has not freed. NULL is
 * ignored. */
TERN_API void tern_core_server_free(tern_core_server *s);

/* Takes one datagram received on `path` (local: the address it arrived at, remote: its source)
 * with ECN bits `ecn` at `now`, and decides (RFC 9000 rules, as tern_endpoint applies them):
 * a connection ID of one of its connections -> ROUTED to it; a client's first Initial (>= 1200
 * bytes; with Retry on, carrying a valid token) -> ACCEPTED; an unknown version -> REPLY with
 * Version Negotiation; an Initial without token when Retry is on -> REPLY with a Retry; a short
 * header for no connection (>= 22 bytes) -> REPLY with a stateless reset (rate limited); anything
 * else -> DROPPED. The datagram is decrypted in place when fed to a connection. *conn receives
 * the connection (ROUTED, ACCEPTED) or NULL; reply[0..reply_cap) the reply (a cap of
 * TERN_CORE_REPLY_MAX always suffices; a smaller one may turn a reply into a drop) with its length
 * in *reply_len and its kind in *kind (both may be NULL when reply_cap is 0). Returns the verdict
 * (TERN_CORE_*, >= 0) or TERN_ERR_INVALID_ARG (NULL s, path, dgram or conn). */
TERN_API int tern_core_server_recv(tern_core_server *s, const tern_path_addr *path, uint8_t *dgram,
                                   size_t len, int ecn, tern_tstamp now, uint8_t *reply,
                                   size_t reply_cap, size_t *reply_len, int *kind,
                                   tern_conn **conn);

/* Connections of the server not yet freed. */
TERN_API size_t tern_core_server_conn_count(const tern_core_server *s);

#ifdef __cplusplus
}
#endif
#endif
