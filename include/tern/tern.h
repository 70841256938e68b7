/*
 * tern: a QUIC v1 transport library (RFC 9000, 9001, 9002) with TLS 1.3 from GnuTLS.
 *
 * Public API. Threading model: an endpoint and everything it owns (connections, streams) belong to
 * one thread. Every function below that takes a tern_endpoint, tern_conn or stream id must be called
 * from the thread that runs tern_endpoint_run()/tern_endpoint_run_once(), either from inside a
 * callback or between two run_once calls. Functions that take only a tern_config may be called from
 * any thread before the config is handed to an endpoint.
 *
 * Errors are negative ints (TERN_ERR_*); tern_strerror() names them. QUIC transport and application
 * error codes are 62-bit values carried in tern_close_info, never mixed with TERN_ERR_*.
 *
 * Binary compatibility (docs/abi.md). The shared library exports exactly the functions declared
 * with TERN_API in the tern/ headers. The structs a caller allocates and hands to tern (tern_config,
 * tern_callbacks, tern_datapath_hooks, tern_net_event) or has tern fill (tern_conn_stats,
 * tern_path_info) travel with their size as the caller's compiler saw it: the functions that take
 * them are macros over *_sized functions that add sizeof(the struct) at the call site. So these
 * structs grow only by appending members at their end. A program built against an older header
 * passes a smaller size: tern reads (or writes) only the members that size holds, and the members
 * beyond it take their defaults. A size larger than the library's own (a program built against a
 * newer header, run with an older library) or not a multiple of the struct's alignment is refused
 * with TERN_ERR_ABI. Members are never removed, reordered or retyped within one SONAME; structs
 * nested in these (tern_policy_config in tern_config, tern_addr) never grow: new settings are
 * appended to the outer struct. Structs tern allocates and passes to callbacks (tern_path_event,
 * tern_path_info, tern_net_event, tern_close_info) may also grow at their end; a program reads the
 * members it knows.
 */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <tern/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions the shared library exports; everything else in libtern is hidden. */
#if defined(_WIN32)
#define TERN_API
#elif defined(__GNUC__) || defined(__clang__)
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif

#define TERN_PROTO_VERSION_1 0x00000001u
#define TERN_PROTO_VERSION_2 0x6b3343cfu /* QUIC version 2, RFC 9369 */
/* Entries of tern_config.quic_versions at most. */
#define TERN_MAX_QUIC_VERSIONS 4

/* ---- error codes returned to the caller ------------------------------------------------------ */
enum {
    TERN_OK = 0,
    TERN_ERR_INVALID_ARG = -1,     /* a NULL, out-of-range or malformed argument */
    TERN_ERR_NOMEM = -2,           /* an allocation failed */
    TERN_ERR_BUFFER_TOO_SMALL = -3,/* the output buffer cannot hold the result */
    TERN_ERR_PROTO = -4,           /* the peer violated the protocol; the connection is closing */
    TERN_ERR_CRYPTO = -5,          /* packet protection failed (bad key, AEAD failure) */
    TERN_ERR_TLS = -6,             /* the TLS handshake failed (see the close info for the alert) */
    TERN_ERR_STREAM_NOT_FOUND = -7,/* no such stream, or it is already closed */
    TERN_ERR_STREAM_LIMIT = -8,    /* the peer's stream limit forbids opening another stream now */
    TERN_ERR_STREAM_STATE = -9,    /* the stream's state forbids this (write after FIN or reset, ...) */
    TERN_ERR_WOULD_BLOCK = -10,    /* no buffer or flow-control credit now; wait for writable */
    TERN_ERR_CLOSED = -11,         /* the connection is closing, draining or closed */
    TERN_ERR_IO = -12,             /* a system call failed; errno holds the reason */
    TERN_ERR_DROP = -13,           /* the datagram was dropped (not an error for the connection) */
    TERN_ERR_VERSION = -14,        /* no common QUIC version */
    TERN_ERR_CONFIG = -15,         /* the configuration cannot be used (missing cert, bad ALPN) */
    TERN_ERR_CERT = -16,           /* a certificate or key file cannot be loaded */
    TERN_ERR_NOT_FOUND = -17,      /* the named object does not exist */
    TERN_ERR_IDLE_TIMEOUT = -18,   /* the connection ended by idle timeout */
    TERN_ERR_STATELESS_RESET = -19,/* the connection ended by a stateless reset from the peer */
    TERN_ERR_INTERNAL = -20,       /* an invariant broke inside tern (a bug): please report */
    /* connection migration */
    TERN_ERR_NOT_CLIENT = -21,     /* only a client connection can change its local address */
    TERN_ERR_MIGRATION_DISABLED = -22, /* the peer sent disable_active_migration */
    TERN_ERR_ZERO_LEN_CID = -23,   /* the peer uses zero-length connection IDs: no migration */
    TERN_ERR_DUPLICATE = -24,      /* that local address is already in use by a path */
    TERN_ERR_PATH_LIMIT = -25,     /* the connection already has max_paths paths */
    TERN_ERR_AF_MISMATCH = -26,    /* the address family differs from the peer's */
    TERN_ERR_BIND = -27,           /* binding a socket on the address failed; errno holds why */
    TERN_ERR_LAST_PATH = -28,      /* removing the last usable path is refused */
    /* connection setup */
    TERN_ERR_CONN_REFUSED = -29,   /* client: nothing listens at the server's address (ICMP port
                                      unreachable before any packet from the server) */
    /* the calling program */
    TERN_ERR_ABI = -30,            /* a struct's size is not one this library knows: the program
                                      was built against a newer tern header than this library */
    TERN_ERR_REENTRANT = -31,      /* not allowed from inside a tern callback (see "Calling tern
                                      from callbacks" above tern_callbacks) */
    /* unreliable datagrams (RFC 9221) */
    TERN_ERR_DATAGRAM_UNSUPPORTED = -32, /* the peer takes no DATAGRAM frames (or its transport
                                            parameters are not known yet) */
    TERN_ERR_DATAGRAM_TOO_LARGE = -33,   /* larger than the peer's max_datagram_frame_size allows,
                                            than a packet on the active path holds, or than the
                                            send queue (see tern_conn_datagram_max_size) */
    /* session resumption */
    TERN_ERR_SESSION = -34,        /* a resumption blob is malformed, truncated, of an unknown
                                      format version, or holds session data TLS cannot use */
    /* multipath */
    TERN_ERR_NOT_MULTIPATH = -35,  /* the multipath extension is not in use on the connection */
};

/* Returns a static, human readable name for a TERN_ERR_* code (never NULL). Any thread. */
TERN_API const char *tern_strerror(int err);

/* The version of the library the program runs with, as "MAJOR.MINOR.PATCH" (static, never NULL);
 * when `num` is not NULL, *num receives it as TERN_VERSION_NUM does (0xMMmmpp). Compare with the
 * TERN_VERSION_* macros of tern/version.h, the version the program was compiled against. Any
 * thread. */
TERN_API const char *tern_version(int *num);

/* ---- QUIC transport error codes (RFC 9000 §20.1), carried in tern_close_info --------------- */
enum {
    TERN_TE_NO_ERROR = 0x0,
    TERN_TE_INTERNAL_ERROR = 0x1,
    TERN_TE_CONNECTION_REFUSED = 0x2,
    TERN_TE_FLOW_CONTROL_ERROR = 0x3,
    TERN_TE_STREAM_LIMIT_ERROR = 0x4,
    TERN_TE_STREAM_STATE_ERROR = 0x5,
    TERN_TE_FINAL_SIZE_ERROR = 0x6,
    TERN_TE_FRAME_ENCODING_ERROR = 0x7,
    TERN_TE_TRANSPORT_PARAMETER_ERROR = 0x8,
    TERN_TE_CONNECTION_ID_LIMIT_ERROR = 0x9,
    TERN_TE_PROTOCOL_VIOLATION = 0xa,
    TERN_TE_INVALID_TOKEN = 0xb,
    TERN_TE_APPLICATION_ERROR = 0xc,
    TERN_TE_CRYPTO_BUFFER_EXCEEDED = 0xd,
    TERN_TE_KEY_UPDATE_ERROR = 0xe,
    TERN_TE_AEAD_LIMIT_REACHED = 0xf,
    TERN_TE_NO_VIABLE_PATH = 0x10,
    TERN_TE_VERSION_NEGOTIATION_ERROR = 0x11, /* RFC 9368 §4: a version downgrade, or version
                                                 information that contradicts the wire */
    TERN_TE_CRYPTO_ERROR = 0x100, /* 0x100 + TLS alert */
};

/* ---- addresses --------------------------------------------------------------------------------- */
/* An IPv4 or IPv6 socket address; `len` is 0 for "unset". */
typedef struct tern_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len;
} tern_addr;

/* A network path as seen from this endpoint: our local address and the peer's. */
typedef struct tern_path_addr {
    tern_addr local;
    tern_addr remote;
} tern_path_addr;

/* Fills `out` from "1.2.3.4:443", "[::1]:443", "1.2.3.4" or "::1" (port `default_port` when absent).
 * Returns 0 or TERN_ERR_INVALID_ARG. Any thread. */
TERN_API int tern_addr_parse(tern_addr *out, const char *text, uint16_t default_port);
/* Formats `a` as "ip:port" / "[ip6]:port" into buf (always NUL-terminated). Returns buf. Any thread. */
TERN_API char *tern_addr_format(const tern_addr *a, char *buf, size_t cap);
/* 1 when both addresses have the same family, IP and port, else 0. Any thread. */
TERN_API int tern_addr_equal(const tern_addr *a, const tern_addr *b);

/* ---- configuration ------------------------------------------------------------------------------ */
typedef enum tern_cc_algo { TERN_CC_CUBIC = 0, TERN_CC_NEWRENO = 1 } tern_cc_algo;

typedef void (*tern_log_fn)(void *ud, const char *line);

/* Receives one TLS secret as a line of the NSS key log format, "LABEL <client_random> <secret>"
 * (both in lowercase hex, no trailing newline), e.g. "CLIENT_TRAFFIC_SECRET_0 1f2e...". A file of
 * these lines, one per line, lets Wireshark or tshark (tls.keylog_file) decrypt a capture. */
typedef void (*tern_keylog_fn)(void *ud, const char *line);
struct tern_conn;
/* Receives one qlog record of connection `c` (see tern_config.qlog): `len` bytes of `record`, which
 * are exactly one JSON Text Sequence record (RFC 7464): the RS byte 0x1e, one JSON object, a line
 * feed (a NUL follows, not counted in len). The first record of a connection is the qlog header.
 * Written to a file one after the other, the records make a valid .sqlog file. `record` is valid
 * during the call only. Runs on the endpoint's thread, inside tern's processing: it must not call
 * tern_endpoint_* or connection functions. */
typedef void (*tern_qlog_fn)(void *ud, struct tern_conn *c, const char *record, size_t len);

/* The migration policy's thresholds and limits (client side), all in one place. The defaults are
 * set by tern_config_init and explained in docs/migration.md; 0 turns a timer or a cache off where
 * the field says so. */
typedef struct tern_policy_config {
    uint32_t degrade_ptos;       /* PTOs on the active path without acknowledgement progress before
                                    it counts as degrading: the probe also goes on the best
                                    validated standby path (default 1) */
    uint32_t explore_ptos;       /* automatic mode, no validated standby: after this many PTOs
                                    without progress every usable local address and a new port on
                                    the current one are probed (default 2) */
    uint64_t keepalive_ms;       /* automatic mode: a standby path hears from the peer at least this
                                    often (a PATH_CHALLENGE when idle), to hold NAT bindings
                                    (default 15000) */
    uint64_t migrate_back_ms;    /* automatic mode: a better ranked network must have been usable
                                    (its standby validated and answering) this long before the
                                    connection moves back to it (default 30000) */
    uint32_t max_migrations;     /* automatic mode: discretionary moves (default route changed,
                                    migrated back) per connection (default 16) */
    uint32_t max_migrations_per_network; /* ... onto one local address (default 5) */
    uint32_t max_port_migrations;/* new ports tried on the active address per connection (default 4) */
    uint64_t retry_backoff_ms;   /* a local address whose path failed is tried again after this,
                                    doubling per further failure (default 1000) */
    uint64_t retry_backoff_max_ms; /* cap of that backoff (default 60000) */
    uint64_t route_recheck_ms;   /* automatic mode: a local address the routing table did not reach
                                    the peer from is looked up again after this, doubling per
                                    further refusal; not doubling while the active path degrades or
                                    went away (default 500; 0: only on the next network event) */
    uint64_t route_recheck_max_ms; /* cap of that backoff (default 30000) */
    uint64_t standby_idle_ms;    /* a standby path never made active for this long is dropped; its
                                    address is probed again only when needed (default 600000) */
    uint64_t cache_rtt_ms;       /* returning to a network (local IP, peer IP) used within this
                                    time restores its RTT estimate (default 600000; 0: never) */
    uint64_t cache_cc_ms;        /* ... and its congestion window when used within this time
                                    (default 30000; 0: never) */
} tern_policy_config;

/* Plain settings. Initialise with tern_config_init() and change fields; the endpoint copies the
 * struct and every string and list it points to, so the caller keeps ownership of its memory. */
typedef struct tern_config {
    const char *const *alpn;     /* ALPN protocols in preference order (required) */
    size_t alpn_count;
    const char *cert_file;       /* server: PEM certificate chain (required to listen) */
    const char *key_file;        /* server: PEM private key */
    const char *ca_file;         /* client: PEM trust anchors; NULL = system trust store */
    int verify_peer;             /* client: verify the server certificate and name (default 1) */
    const char *tls_priority;    /* GnuTLS priority string; NULL = TLS 1.3 with all three QUIC AEADs */
    tern_cc_algo cc;             /* congestion controller (default CUBIC) */
    uint64_t idle_timeout_ms;    /* max_idle_timeout we advertise (default 30000; 0 = none) */
    uint64_t handshake_timeout_ms; /* a handshake not complete after this long fails: the client
                                      gives up, a server forgets the half-open connection (default
                                      10000) */
    uint32_t unacked_ptos;         /* a confirmed connection whose peer keeps sending but
                                      acknowledges nothing ends at the unacked_ptos-th PTO in a row
                                      without acknowledgement progress, when packets from the peer
                                      arrived since the first of them and since the one before: the
                                      peer's packets would otherwise keep the idle timer from ever
                                      firing while ours go nowhere (a dead direction) or are held
                                      (a peer making us keep what it never acknowledges). The close
                                      is silent, as an idle timeout (RFC 9000 §10.1): on_closed
                                      reports TERN_ERR_IDLE_TIMEOUT, reason "peer acknowledges
                                      nothing". With the PTO's backoff the K-th PTO comes
                                      2^K - 1 PTOs after the last acknowledgement: 1.6 s on a LAN,
                                      about 10 s at 100 ms RTT for the default 6. A failover
                                      (tern_policy_config) acts at the first PTOs, long before.
                                      0: no such close (the idle timeout alone);
                                      1 acts as 2. */
    uint64_t initial_max_data;               /* connection receive window (default 16 MiB) */
    uint64_t initial_max_stream_data_bidi_local;  /* default 4 MiB */
    uint64_t initial_max_stream_data_bidi_remote; /* default 4 MiB */
    uint64_t initial_max_stream_data_uni;         /* default 4 MiB */
    uint64_t initial_max_streams_bidi;       /* default 100 */
    uint64_t initial_max_streams_uni;        /* default 100 */
    uint64_t active_connection_id_limit;     /* connection IDs we accept from the peer: default 8
                                                (>= 2; raised to max_paths + 1, at most 16). A
                                                server issues as many as the client's limit
                                                asks, up to 16 per connection; a client issues
                                                up to max_paths + 1 */
    size_t stream_send_buffer;   /* bytes buffered per stream before writes return WOULD_BLOCK (1 MiB) */
    size_t max_udp_payload;      /* largest UDP payload we send on any path, 1200..65527 (default
                                    8972, a 9000-byte jumbo frame over IPv4). Every path starts
                                    at 1200 bytes and path MTU discovery raises it up to the
                                    smallest of this, the peer's max_udp_payload_size and the MTU
                                    of the path's local interface less the IP and UDP headers
                                    (docs/pmtud.md); 1200 turns discovery off */
    int retry;                   /* server: validate addresses with Retry before any state (default 0) */
    size_t retry_half_open;      /* server: once this many connections are in their handshake,
                                    new clients must first answer a Retry (as with `retry`), so
                                    that a flood of Initials from spoofed addresses creates no
                                    state (default 64; 0 = only `retry` decides) */
    size_t max_half_open;        /* server: connections in their handshake at most; Initials
                                    beyond are dropped until one completes or times out (default
                                    1024, each costs tens of KB; 0 = no limit below 65536
                                    connections) */
    int disable_active_migration;/* transport parameter we advertise (default 0) */
    size_t max_paths;            /* client: paths (local addresses) per connection, 1..16 (default
                                    8). Server: not a limit on the client's paths (a server
                                    follows up to 16 per connection and issues CIDs up to the
                                    client's active_connection_id_limit); it only raises the
                                    active_connection_id_limit the server advertises */
    int follow_preferred_address;/* client: probe and move to the server's preferred_address (1) */
    tern_addr preferred_address; /* server: advertised preferred_address (len 0 = none); the endpoint
                                    must also listen on it */
    int failover;                /* client: when the active path dies, move to a validated path the
                                    application added (default 1; 0 = only the app moves it) */
    int auto_migrate;            /* client: follow the OS network (standby paths on new usable
                                    addresses, failover, migrating back); implies network_monitor
                                    (default 0: manual, as driven by the tern_conn_*_local_address
                                    calls) */
    const char *const *prefer;   /* client, auto_migrate: interfaces (names such as "wlan0") or local
                                    addresses, most preferred first; others rank after them in the
                                    order of the default route (NULL: follow the default route;
                                    at most 16 entries of 1..63 bytes, else TERN_ERR_CONFIG) */
    size_t prefer_count;
    tern_policy_config policy;   /* migration policy thresholds (see tern_policy_config) */
    int network_monitor;         /* runtime: watch the OS's addresses, links and default route
                                    (rtnetlink on Linux, in the endpoint's epoll loop) and report
                                    their changes through on_network_event, the current state
                                    first (default 0; see docs/migration.md "Network events: two
                                    routes" for what is reported). tern_endpoint_new returns
                                    TERN_ERR_IO when the monitor cannot be opened */
    tern_log_fn log;             /* optional debug log sink */
    void *log_ud;
    tern_keylog_fn keylog;       /* optional: every TLS secret of every connection, client and
                                    server, as the handshake derives it (CLIENT_ and
                                    SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_ and
                                    SERVER_TRAFFIC_SECRET_0, EXPORTER_SECRET), called on the
                                    endpoint's thread with keylog_ud (not copied: it must outlive
                                    the endpoint); the line is valid during the call only. Later
                                    1-RTT keys follow from these (RFC 9001 §6), so key updates
                                    need no more lines. NULL (default): no callback, and GnuTLS
                                    appends the same lines to the file named by the SSLKEYLOGFILE
                                    environment variable when it is set; a callback replaces that
                                    file for this endpoint. Anyone holding the lines can read the
                                    traffic: for debugging only (docs/debugging.md) */
    void *keylog_ud;
    /* qlog (draft-ietf-quic-qlog-main-schema / -quic-events, JSON-SEQ; docs/qlog.md). Either
     * sink, both or none (default: none, which costs nothing). */
    const char *qlog_dir;        /* runtime: one file per connection in this existing directory,
                                    named <original destination CID in hex>_<client|server>.sqlog
                                    (created or truncated; a connection whose file cannot be
                                    opened runs without one, and says so through `log`). A
                                    server connection dropped before it was accepted (its first
                                    datagram was not authentic) leaves no file */
    tern_qlog_fn qlog;           /* every record of every connection, also when qlog_dir is set */
    void *qlog_ud;
    /* ECN (RFC 9000 §13.4, RFC 9002 §7.1; docs/ecn.md) */
    int ecn;                     /* mark packets ECT(0), validate each path and answer CE marks as
                                    congestion (default 1). 0: nothing is marked; the ECN counts
                                    of what arrives are still reported to the peer in ACK_ECN */
    /* unreliable datagrams (RFC 9221; docs/datagram.md) */
    uint64_t max_datagram_frame_size; /* transport parameter we advertise: the largest DATAGRAM
                                         frame (type, length and payload) we accept; a larger
                                         one, or any when this is 0, closes the connection with
                                         PROTOCOL_VIOLATION (RFC 9221 §3). 0 (default): the
                                         extension is off on receive; 65535 or more: any
                                         datagram that fits in a packet. Sending depends only
                                         on the peer's value */
    size_t datagram_queue_bytes; /* payload bytes waiting to be sent at most (default 65536);
                                    tern_conn_send_datagram refuses a datagram beyond it with
                                    TERN_ERR_WOULD_BLOCK, or drops the oldest ones (below) */
    size_t datagram_queue_count; /* datagrams waiting to be sent at most (default 128; >= 1) */
    int datagram_drop_oldest;    /* queue full: 0 (default) the new datagram is refused
                                    (TERN_ERR_WOULD_BLOCK); 1 the oldest waiting ones are dropped
                                    to make room and reported through on_datagram_lost */
    /* Path MTU discovery (RFC 8899; docs/pmtud.md) */
    uint64_t pmtud_raise_ms;     /* once a path's search ended below its maximum, search again
                                    for a larger size this long after (PMTU_RAISE_TIMER; default
                                    600000; 0: never) */
    /* session resumption and 0-RTT (docs/resumption.md) */
    uint64_t session_tickets;    /* server: 1 issues TLS 1.3 session tickets after the handshake
                                    and resumes sessions from them (default 0: none) */
    uint64_t ticket_key_period_s; /* server: the ticket key is replaced this often; a ticket made
                                    under the key before the current one still resumes, so a
                                    ticket lives between one and two periods (default 86400;
                                    0: the key is never replaced) */
    uint64_t early_data;         /* server: 1 accepts 0-RTT from clients resuming with a ticket
                                    that allowed it (implies session_tickets; replayed
                                    ClientHellos are refused, see docs/resumption.md). Client:
                                    unused, 0-RTT is asked per connection (default 0) */
    /* QUIC versions (RFC 9000's v1, RFC 9369's v2) and their negotiation (RFC 9368;
     * docs/versions.md). */
    size_t quic_versions_count;  /* entries used in quic_versions; 0 (default) = {v1} */
    uint32_t quic_versions[TERN_MAX_QUIC_VERSIONS]; /* TERN_PROTO_VERSION_1 / _2, most preferred
                                    first, no duplicates (else TERN_ERR_CONFIG). Client: its first
                                    Initial uses quic_versions[0]; every entry is offered in the
                                    version_information transport parameter, so that a server
                                    may move the connection to another one without a round trip
                                    (compatible negotiation), and is what the client retries with
                                    after a Version Negotiation packet. Server: the versions it
                                    accepts; it moves a client to the first entry the client
                                    offers, or keeps the client's own version when that comes
                                    first. The default {v1} speaks v1 only, as before v2 existed:
                                    {v1, v2} on a client starts in v1 and takes v2 where a server
                                    prefers it; {v2, v1} on a server upgrades such clients */
    /* NEW_TOKEN address validation tokens (RFC 9000 §8.1.3; docs/tokens.md) */
    uint64_t token_lifetime_ms; /* server: each connection gets a NEW_TOKEN once its handshake is
                                   confirmed, and a new one after the client moved to another
                                   address; a client presenting one within this time, from the
                                   IPv4 address or IPv6 /64 it was issued to, skips Retry and
                                   the amplification limit (default 86400000, a day; 0: none
                                   issued nor accepted). Tokens are sealed with the endpoint's
                                   Retry key, so they are valid only on the endpoint (process)
                                   that issued them */
    /* AEAD usage limits (RFC 9001 §6.6; docs/conformance.md) */
    uint64_t key_update_margin_pct; /* a 1-RTT key update starts when the packets protected with
                                       the current key come within this percentage of the AEAD's
                                       confidentiality limit (2^23 packets for AES-GCM):
                                       1..99 (default 50: an update every 2^22 packets, leaving
                                       half of the limit for the peer to acknowledge it);
                                       else TERN_ERR_CONFIG */
    /* QUIC-LB connection IDs (draft-ietf-quic-load-balancers-21; docs/scaling.md) */
    uint8_t qlb_server_id_len;   /* server: 0 (default) = off: CIDs are random; 1..15: every CID
                                    the server issues (handshake, NEW_CONNECTION_ID, preferred
                                    address, Retry) encodes qlb_server_id, so that a load
                                    balancer holding the same configuration routes any of them
                                    to this server. Its length is 1 + qlb_server_id_len +
                                    qlb_nonce_len (+ 1 with tern_workers). A configuration the
                                    draft forbids fails tern_endpoint_new with TERN_ERR_CONFIG */
    uint8_t qlb_config_id;       /* config rotation codepoint 0..6 (the CID's top 3 bits) */
    uint8_t qlb_nonce_len;       /* 4..18, with qlb_server_id_len + qlb_nonce_len <= 19 */
    uint8_t qlb_has_key;         /* 1: encrypted with qlb_key (AES-128: one pass when server ID
                                    and nonce are 16 bytes, four-pass Feistel otherwise);
                                    0: plaintext (the server ID is visible to observers) */
    uint8_t qlb_encode_len;      /* 1: the first octet's low 5 bits hold the CID length - 1 */
    uint8_t qlb_server_id[15];
    uint8_t qlb_key[16];
    /* ACK frequency (draft-ietf-quic-ack-frequency; docs/ack-frequency.md) */
    uint64_t ack_frequency;      /* 1 (default): advertise min_ack_delay, so that the peer may
                                    ask for fewer ACKs (ACK_FREQUENCY, IMMEDIATE_ACK), and ask a
                                    peer that advertises it for fewer ACKs while the congestion
                                    window is large; 0: neither (the frames are then a
                                    PROTOCOL_VIOLATION) */
    uint32_t min_ack_delay_us;   /* the min_ack_delay advertised, microseconds (default 1000);
                                    above 25000 (the max_ack_delay advertised): TERN_ERR_CONFIG */
    uint32_t ack_bulk_after;     /* receiver: ack-eliciting packets in a row, without reordering,
                                    after which a peer that asked nothing gets one ACK per
                                    ack_bulk_every packets (still within the ack delay) instead
                                    of one per two (default 256; 0: always one per two) */
    uint32_t ack_bulk_every;     /* that spacing (default 10; 0 or 1: off), also the sparsest
                                    one asked of a peer through ACK_FREQUENCY; above 2^20:
                                    TERN_ERR_CONFIG */
    /* Multipath QUIC (draft-ietf-quic-multipath-21; docs/multipath.md) */
    uint64_t multipath;          /* 0 (default): not offered; a peer's offer is declined and the
                                    connection uses single-path migration as before. 1: offer
                                    the extension (the initial_max_path_id transport parameter)
                                    and use it when the peer offers it too
                                    (tern_conn_stats.multipath). Other values: TERN_ERR_CONFIG */
} tern_config;

/* Fills the first `size` bytes of `cfg` with defaults (see field comments); called through the
 * tern_config_init macro, which passes sizeof(tern_config) as the program sees it. Returns 0,
 * TERN_ERR_INVALID_ARG (cfg NULL) or TERN_ERR_ABI (a size this library does not know: `cfg` is
 * left as it was). Any thread. */
TERN_API int tern_config_init_sized(tern_config *cfg, size_t size);
#define tern_config_init(cfg) tern_config_init_sized((cfg), sizeof(tern_config))

/* ---- handles ------------------------------------------------------------------------------------ */
typedef struct tern_endpoint tern_endpoint;
typedef struct tern_conn tern_conn;

/* ---- paths (connection migration, RFC 9000 §9) --------------------------------------------------- */
typedef enum tern_path_state {
    TERN_PATH_STATE_PROBING = 1,   /* validation running (or waiting for a peer connection ID) */
    TERN_PATH_STATE_VALIDATED = 2, /* the peer answered a PATH_CHALLENGE on it */
    TERN_PATH_STATE_ACTIVE = 3,    /* carries the connection's traffic (validated or not yet) */
    TERN_PATH_STATE_FAILED = 4,    /* validation failed; it is removed */
    TERN_PATH_STATE_ABANDONED = 5, /* removed by the app or by tern; its peer CID is retired */
} tern_path_state;

typedef struct tern_path_info {
    int id;                        /* stable for the life of the path */
    tern_path_state state;
    int validated;                 /* 1 once a PATH_RESPONSE (or the handshake) proved the path */
    tern_path_addr addr;
    uint64_t srtt_ns, min_rtt_ns, cwnd, bytes_in_flight;
    uint64_t bytes_sent, bytes_recv, pkts_sent, pkts_recv, pkts_lost;
    uint64_t created_ns, validated_ns; /* monotonic time of creation and validation (0 = not yet) */
    int restored;                  /* state cached from a recent use of the same network was
                                      restored at creation: 0 none, 1 RTT, 2 RTT and congestion
                                      window (tern_policy_config.cache_*_ms) */
    uint64_t restored_cwnd;        /* the congestion window it started with when restored == 2 */
    /* ECN on this path (docs/ecn.md): every new path validates it anew */
    int ecn_state;                 /* tern_ecn_state */
    int ecn_failure;               /* tern_ecn_failure: why validation failed (ecn_state FAILED) */
    uint64_t ecn_sent;             /* packets sent with ECT(0) */
    uint64_t ecn_ce;               /* CE marks the peer reported for packets sent on it */
    uint64_t ecn_ce_reductions;    /* congestion window reductions those marks caused */
    uint64_t ecn_recv_ect0, ecn_recv_ect1, ecn_recv_ce; /* datagrams received on it so marked */
    uint64_t mtu;                  /* the largest UDP payload the path uses now (its PLPMTU, found
                                      by path MTU discovery; 1200 until the search raised it) */
    uint64_t mtu_max;              /* the most the search may reach on it: max_udp_payload, the
                                      peer's limit and the local interface's MTU less headers */
    uint64_t mtu_black_holes;      /* times its packets of the PLPMTU stopped arriving while
                                      smaller ones did, and it went back to 1200 */
    /* multipath (docs/multipath.md); with the extension not in use: mp_path_id -1, the rest 0 */
    int64_t mp_path_id;            /* the multipath path ID it carries (-1: none, or no multipath) */
    int32_t mp_backup_local;       /* our status for that path ID: 1 backup, 0 available */
    int32_t mp_backup_peer;        /* the peer's (its last PATH_STATUS_*): 1 backup, 0 available */
    uint64_t mp_next_pn;           /* the next packet number of that path ID's space */
    uint64_t mp_largest_acked;     /* the largest of them the peer acknowledged (UINT64_MAX: none) */
    uint64_t mp_stream_bytes;      /* stream bytes the scheduler put on this path */
    uint64_t mp_failing;           /* 1: a PTO went unanswered, it carries no data until its path ID
                                      is acknowledged again (docs/multipath.md) */
} tern_path_info;

/* ECN validation of a path (RFC 9000 §13.4.2, Appendix A.4). */
typedef enum tern_ecn_state {
    TERN_ECN_STATE_OFF = 0,        /* not used: tern_config.ecn is 0 */
    TERN_ECN_STATE_TESTING = 1,    /* the path's first packets are marked ECT(0) */
    TERN_ECN_STATE_UNKNOWN = 2,    /* testing is over: unmarked until an ACK tells */
    TERN_ECN_STATE_CAPABLE = 3,    /* the peer's counts matched: every packet is marked */
    TERN_ECN_STATE_FAILED = 4,     /* nothing is marked on this path any more */
} tern_ecn_state;

/* Why ECN validation failed on a path. */
typedef enum tern_ecn_failure {
    TERN_ECN_FAIL_NONE = 0,
    TERN_ECN_FAIL_NO_COUNTS = 1,   /* an ACK acknowledged marked packets without ECN counts */
    TERN_ECN_FAIL_DECREASED = 2,   /* the peer's counts went down */
    TERN_ECN_FAIL_ECT1 = 3,        /* ECT(1) was counted: marks rewritten on the way */
    TERN_ECN_FAIL_BLEACHED = 4,    /* fewer marks counted than marked packets acknowledged */
    TERN_ECN_FAIL_REMARKED_CE = 5, /* every packet of the test arrived CE */
    TERN_ECN_FAIL_LOST = 6,        /* every packet of the test was lost */
} tern_ecn_failure;

/* Static, stable names of an ECN state ("off", "testing", "unknown", "capable", "failed") and of
 * a failure ("none", "no_counts", "decreased", "ect1", "bleached", "remarked_ce", "lost"), as
 * qlog and the tools say them; "invalid" for values beyond the enums. Never NULL. Any thread. */
TERN_API const char *tern_ecn_state_str(int s);
TERN_API const char *tern_ecn_failure_str(int f);

typedef enum tern_path_event_type {
    TERN_PATH_EV_PROBING = 1,      /* validation of a path started */
    TERN_PATH_EV_VALIDATED = 2,    /* the path answered; `rtt_ns` is its first RTT sample */
    TERN_PATH_EV_FAILED = 3,       /* validation failed; see `reason` */
    TERN_PATH_EV_ACTIVE = 4,       /* the active path changed from `from` to `path`; see `reason` */
    TERN_PATH_EV_REMOVED = 5,      /* the path is gone (after FAILED, or removed) */
    TERN_PATH_EV_PEER_ADDRESS_CHANGED = 6, /* server: the client now sends from `path` */
    TERN_PATH_EV_REFUSED = 7,      /* the policy did not move to (or create) `path`: `reason` is
                                      TERN_PATH_WHY_LIMIT (a migration limit or a backoff) */
} tern_path_event_type;

typedef enum tern_path_reason {
    TERN_PATH_WHY_NONE = 0,
    TERN_PATH_WHY_APP = 1,               /* the application asked (set/remove) */
    TERN_PATH_WHY_TIMEOUT = 2,           /* no PATH_RESPONSE within 3 x max(PTO) */
    TERN_PATH_WHY_SOCKET_ERROR = 3,      /* sending on the path's socket failed */
    TERN_PATH_WHY_NO_CID = 4,            /* the peer gave no spare connection ID in time */
    TERN_PATH_WHY_MIGRATION_DISABLED = 5,/* the peer sent disable_active_migration */
    TERN_PATH_WHY_VALIDATION_FAILED = 6, /* the new active path failed: back to the previous one */
    TERN_PATH_WHY_ACTIVE_REMOVED = 7,    /* the active path was removed: moved to the best one */
    TERN_PATH_WHY_PREFERRED_ADDRESS = 8, /* moved to the server's preferred address */
    TERN_PATH_WHY_PEER_MIGRATED = 9,     /* server: the client moved (or its NAT rebound) */
    TERN_PATH_WHY_ZERO_LEN_CID = 10,     /* the peer uses zero-length connection IDs */
    TERN_PATH_WHY_FAILOVER = 11,         /* the active path died: moved to a validated one */
    TERN_PATH_WHY_DEGRADING = 12,        /* PTOs fired on the active path without progress */
    TERN_PATH_WHY_INTERFACE_GONE = 13,   /* the path's interface went down or disappeared */
    TERN_PATH_WHY_ADDRESS_GONE = 14,     /* the path's local address was removed from the host */
    TERN_PATH_WHY_DEFAULT_CHANGED = 15,  /* the OS default route moved to another network */
    TERN_PATH_WHY_MIGRATED_BACK = 16,    /* back to the preferred network once it was usable again */
    TERN_PATH_WHY_PORT_MIGRATION = 17,   /* a new port on the same address (a binding may be lost) */
    TERN_PATH_WHY_KEEPALIVE_FAILED = 18, /* a standby path stopped answering its keep-alive probes */
    TERN_PATH_WHY_NEW_NETWORK = 19,      /* a new usable local address became a standby path */
    TERN_PATH_WHY_LIMIT = 20,            /* a migration limit or backoff stopped a migration */
    TERN_PATH_WHY_STANDBY_UNUSED = 21,   /* a standby path unused for long was dropped */
    TERN_PATH_WHY_PEER_ABANDONED = 22,   /* multipath: the peer abandoned the path (PATH_ABANDON) */
    TERN_PATH_WHY_IDLE = 23,             /* multipath: nothing arrived or was acknowledged on the
                                            path for the idle timeout */
} tern_path_reason;

typedef struct tern_path_event {
    tern_path_event_type type;
    tern_path_reason reason;
    const tern_path_info *path;    /* the path concerned (the new one for ACTIVE) */
    const tern_path_info *from;    /* ACTIVE and PEER_ADDRESS_CHANGED: the previous path, else NULL */
    uint64_t rtt_ns;               /* VALIDATED: round trip of the validation */
} tern_path_event;

/* A static, human readable name for a path event reason (never NULL). Any thread. */
TERN_API const char *tern_path_reason_str(tern_path_reason r);

/* ---- network events (addresses, links, default route) -------------------------------------------- */
typedef enum tern_net_event_type {
    TERN_NET_ADDR_ADDED = 1,       /* `addr` (port 0) is now configured on interface `ifindex` */
    TERN_NET_ADDR_REMOVED = 2,     /* `addr` is no longer configured on interface `ifindex` */
    TERN_NET_LINK_UP = 3,          /* interface `ifindex` is up and running (IFF_UP and IFF_RUNNING) */
    TERN_NET_LINK_DOWN = 4,        /* interface `ifindex` is down or lost its carrier */
    TERN_NET_DEFAULT_CHANGED = 5,  /* the default route of `addr`'s family now leaves through
                                      `ifindex` with source `addr` (port 0; `addr.len` 0 when no
                                      source is known, `addr.u.sa.sa_family` still names the
                                      family); ifindex 0: no default route is left */
} tern_net_event_type;

/* One change of the host's network, as the OS monitor saw it or as the application reports it
 * (platforms with their own network APIs, e.g. Android ConnectivityManager or Apple
 * NWPathMonitor, translate their callbacks into these). */
typedef struct tern_net_event {
    tern_net_event_type type;
    unsigned ifindex;              /* OS interface index (0 when unknown) */
    char ifname[16];               /* interface name, NUL-terminated ("" when unknown) */
    tern_addr addr;                /* address events and DEFAULT_CHANGED (see above) */
} tern_net_event;

/* A static, human readable name for a network event type (never NULL). Any thread. */
TERN_API const char *tern_net_event_str(tern_net_event_type t);

/* Why a connection ended. `error_code` is a QUIC transport (app == 0) or application (app == 1)
 * error code; `local` says which side closed; `reason` is NUL-terminated (may be empty). `status` is
 * the TERN_ERR_* summary: 0 for a clean close, TERN_ERR_IDLE_TIMEOUT, TERN_ERR_STATELESS_RESET,
 * TERN_ERR_PROTO, TERN_ERR_TLS, TERN_ERR_CONN_REFUSED (client: the server's port is closed), ...
 * For TERN_ERR_TLS on a client whose server certificate failed verification, `reason` says why
 * (GnuTLS's verification status, e.g. "The certificate is NOT trusted. The certificate issuer is
 * unknown."). */
typedef struct tern_close_info {
    int status;
    int app;
    int local;
    uint64_t error_code;
    uint64_t frame_type;
    char reason[256];
} tern_close_info;

/* Event callbacks. Any member may be NULL. They run on the endpoint's thread, from inside
 * tern_endpoint_run()/tern_endpoint_run_once(), or from inside the call that caused the event
 * (tern_endpoint_network_event, tern_endpoint_connect, the tern_conn_*_local_address verbs).
 * Grows at its end (see "Binary compatibility" at the top); members are all function pointers.
 *
 * Calling tern from callbacks. From inside any of these callbacks a program may call:
 * - every connection, stream, path and migration function (tern_conn_*, tern_stream_*) on the
 *   connection the callback was given, and on any other live connection of the endpoint;
 *   tern_conn_close() included: on_closed follows later (never from inside tern_conn_close()):
 *   on a client once the CONNECTION_CLOSE has gone out, on a server once its closing period
 *   ended;
 * - in on_closed, only reading functions on the closing connection (stats, paths, ALPN, user data;
 *   verbs return TERN_ERR_CLOSED); its handle is freed when on_closed returns;
 * - tern_endpoint_connect(), tern_endpoint_network_event() (its on_network_event runs inside
 *   it), tern_endpoint_set_datapath_hooks(), tern_endpoint_stop(), and the reading functions
 *   (tern_endpoint_conn_count, tern_endpoint_local_addr, tern_endpoint_timeout_ms, ...);
 * - tern_endpoint_free(): deferred. No callback runs after it (pending events are dropped) and the
 *   endpoint is freed when the outermost tern call that ran the callback returns (run, run_once,
 *   ...), which then returns normally; the program must not use the endpoint or its connections
 *   once the callback returned.
 * - on_datagram_acked and on_datagram_lost never run from inside a call the program made (a
 *   datagram dropped inside tern_conn_send_datagram is reported at the next processing), so
 *   tern_conn_send_datagram may be called from them and from on_datagram without limit.
 * tern_endpoint_run() and tern_endpoint_run_once() are refused from inside a callback with
 * TERN_ERR_REENTRANT (they would reuse the buffers of the iteration that runs the callback).
 * The datapath hooks (tern_datapath_hooks) and the sinks of tern_config (log, ...) are not
 * callbacks in this sense: they run in the middle of tern's processing and must call no tern
 * function at all. */
typedef struct tern_callbacks {
    /* server: a connection was accepted (its handshake is still running). */
    void (*on_accept)(tern_conn *c, void *ud);
    /* the handshake completed (client: server authenticated; server: client Finished received). */
    void (*on_connected)(tern_conn *c, void *ud);
    /* the peer opened stream `sid` (reported once, before its first readable event). */
    void (*on_stream_open)(tern_conn *c, int64_t sid, void *ud);
    /* stream `sid` has data or a FIN to read (level-triggered: read until WOULD_BLOCK). */
    void (*on_stream_readable)(tern_conn *c, int64_t sid, void *ud);
    /* stream `sid` can take more data after a write returned short or WOULD_BLOCK. */
    void (*on_stream_writable)(tern_conn *c, int64_t sid, void *ud);
    /* the peer reset its sending side of `sid` (RESET_STREAM) with `app_error`. */
    void (*on_stream_reset)(tern_conn *c, int64_t sid, uint64_t app_error, void *ud);
    /* the peer asked us to stop sending on `sid` (STOP_SENDING); tern resets the stream itself. */
    void (*on_stream_stop_sending)(tern_conn *c, int64_t sid, uint64_t app_error, void *ud);
    /* the connection ended; after this returns the handle must not be used any more. A client
     * connection is reported as soon as its CONNECTION_CLOSE went out or the peer's arrived: the
     * closing or draining period (RFC 9000 §10.2, three PTOs) then finishes inside the endpoint
     * with no callback, does not keep tern_endpoint_run running and ends with tern_endpoint_free.
     * A server connection is reported when that period is over. */
    void (*on_closed)(tern_conn *c, const tern_close_info *info, void *ud);
    /* a path was probed, validated, failed, became active, was removed, or (server) the client's
     * address changed. The pointers are valid during the call only. */
    void (*on_path_event)(tern_conn *c, const tern_path_event *ev, void *ud);
    /* the host's network changed (from the OS monitor, or fed by tern_endpoint_network_event); runs
     * before connections react to it. The pointer is valid during the call only. */
    void (*on_network_event)(tern_endpoint *ep, const tern_net_event *ev, void *ud);
    /* unreliable datagrams (RFC 9221; docs/datagram.md) */
    /* a DATAGRAM frame arrived: `len` bytes at `data`, valid during the call only (they point into
     * the decrypted packet). Datagrams may arrive out of order or not at all, never twice (a
     * duplicated packet is dropped), also from 0-RTT packets when early data is accepted. */
    void (*on_datagram)(tern_conn *c, const uint8_t *data, size_t len, void *ud);
    /* a datagram sent with tern_conn_send_datagram(..., tag) was acknowledged by the peer. Each
     * datagram accepted by tern_conn_send_datagram gets exactly one of on_datagram_acked and
     * on_datagram_lost, unless the connection starts closing first (then neither). Reported
     * after the processing that learnt it, never from inside a tern call the program made. */
    void (*on_datagram_acked)(tern_conn *c, uint64_t tag, void *ud);
    /* ... was declared lost (it is never sent again; it may still have arrived: a late
     * acknowledgement after the declaration is not reported), or was dropped before it was sent:
     * to make room (tern_config.datagram_drop_oldest) or because it no longer fits in a packet of
     * the active path. */
    void (*on_datagram_lost)(tern_conn *c, uint64_t tag, void *ud);
    /* session resumption (docs/resumption.md) */
    /* client: the server sent a session ticket. `blob` (`len` bytes, valid during the call only)
     * is what tern_endpoint_connect_session takes to resume the session later, with 0-RTT when
     * the ticket allows it: the TLS session together with the server's transport parameters
     * that 0-RTT must respect (RFC 9000 §7.4.1), in a versioned format. The application owns the
     * copy it keeps (file, keychain, memory); it is a secret (it resumes the session). A server
     * may send several tickets: each later one may replace the earlier. */
    void (*on_session_ticket)(tern_conn *c, const uint8_t *blob, size_t len, void *ud);
    /* client: the server sent a NEW_TOKEN (RFC 9000 §8.1.3): `token[0..len)` (valid during the
     * call only) may be given once, with tern_conn_set_token, to the next connection to the same
     * server (same server name and address; never to another, and never twice: a token used
     * twice links the two connections for an observer). Presenting it lets that connection skip
     * a Retry round trip and the amplification limit. A later token replaces an earlier one (a
     * server sends a new one after the client migrated). To persist it, the application stores
     * the bytes with the server's name and address. */
    void (*on_new_token)(tern_conn *c, const uint8_t *token, size_t len, void *ud);
} tern_callbacks;

/* ---- endpoint ----------------------------------------------------------------------------------- */

/* Creates an endpoint (no socket yet). `cfg` and `cb` (may be NULL: no callbacks) are copied; `ud`
 * is passed to every callback. Called through the tern_endpoint_new macro, which passes the sizes
 * of tern_config and tern_callbacks as the program sees them; members beyond those sizes take
 * their defaults (tern_config_init's, NULL callbacks). Returns 0, TERN_ERR_INVALID_ARG,
 * TERN_ERR_ABI (a size this library does not know), TERN_ERR_CONFIG, TERN_ERR_CERT (server
 * cert/key unreadable), TERN_ERR_NOMEM or TERN_ERR_IO. The endpoint is freed with
 * tern_endpoint_free(). */
TERN_API int tern_endpoint_new_sized(const tern_config *cfg, size_t cfg_size, const tern_callbacks *cb,
                                     size_t cb_size, void *ud, tern_endpoint **out);
#define tern_endpoint_new(cfg, cb, ud, out) \
    tern_endpoint_new_sized((cfg), sizeof(tern_config), (cb), sizeof(tern_callbacks), (ud), (out))

/* Binds a UDP socket on `addr` and accepts connections there (needs cert_file/key_file).
 * Returns 0, TERN_ERR_CONFIG (no certificate), TERN_ERR_IO (bind failed; errno kept). */
TERN_API int tern_endpoint_listen(tern_endpoint *ep, const tern_addr *addr);

/* The address a listening socket is bound to (useful after binding port 0). Returns 0 or
 * TERN_ERR_NOT_FOUND when not listening. */
TERN_API int tern_endpoint_local_addr(tern_endpoint *ep, tern_addr *out);

/* Starts a client connection to `remote`, from `local` (NULL: any address of the right family,
 * port 0 = ephemeral). `server_name` is used for SNI and certificate verification (NULL: no SNI is
 * sent and the certificate's name is not checked, its chain still is unless verify_peer is 0).
 * The handle stays valid until on_closed returns. With tern_config.auto_migrate, the new
 * connection is told the host's current state as the OS monitor knows it (links up, usable
 * addresses, default routes), so that it keeps standby paths like the connections created before
 * it; on_network_event is not called again for that state. Events an application fed itself
 * through tern_endpoint_network_event are not remembered: it feeds them again for a new connection.
 * Returns 0, TERN_ERR_INVALID_ARG, TERN_ERR_IO (socket/bind failed), TERN_ERR_TLS, TERN_ERR_NOMEM. */
TERN_API int tern_endpoint_connect(tern_endpoint *ep, const tern_addr *remote, const tern_addr *local,
                          const char *server_name, tern_conn **out);

/* tern_endpoint_connect that resumes a session: `session` is a blob from on_session_ticket (read
 * during the call only). With TERN_CONNECT_EARLY_DATA in `flags` and a ticket that allows it, the
 * connection sends 0-RTT: streams may be opened and written as soon as this returns, within the
 * limits the server had when it issued the ticket, and their data leaves in the first flight.
 * Whether the server took it is told by tern_conn_early_data() (in on_connected at the latest);
 * data it refused is sent again as 1-RTT by tern itself. The server may also refuse the ticket
 * (a full handshake follows, with its certificate checked as usual). Returns the errors of
 * tern_endpoint_connect, and TERN_ERR_SESSION when the blob is malformed, truncated, of another
 * format version, or its TLS session unusable: nothing is created then (tern_endpoint_connect
 * makes a full handshake). */
#define TERN_CONNECT_EARLY_DATA 1u
TERN_API int tern_endpoint_connect_session(tern_endpoint *ep, const tern_addr *remote,
                                           const tern_addr *local, const char *server_name,
                                           const uint8_t *session, size_t session_len,
                                           unsigned flags, tern_conn **out);

/* Runs the event loop until tern_endpoint_stop() is called, or, for an endpoint that is not
 * listening, until it has no connection left (connections already reported by on_closed and only
 * finishing their closing period do not count). Returns 0, TERN_ERR_IO, or TERN_ERR_REENTRANT
 * (called from inside a callback). */
TERN_API int tern_endpoint_run(tern_endpoint *ep);

/* Waits at most `timeout_ms` (-1: until the next timer) for datagrams, processes them and due timers,
 * and sends what connections have. Returns 0, TERN_ERR_IO, or TERN_ERR_REENTRANT (called from
 * inside a callback). */
TERN_API int tern_endpoint_run_once(tern_endpoint *ep, int timeout_ms);

/* A file descriptor (epoll) that becomes readable when run_once has work, for foreign loops
 * (-1 for a NULL endpoint). It belongs to the endpoint: do not close it. */
TERN_API int tern_endpoint_fd(tern_endpoint *ep);

/* Milliseconds until the next timer of any connection (-1 when none). */
TERN_API int tern_endpoint_timeout_ms(tern_endpoint *ep);

/* Makes tern_endpoint_run() return after the current iteration (run_once returns as usual).
 * May be called from a callback. */
TERN_API void tern_endpoint_stop(tern_endpoint *ep);

/* Reports a change of the host's network. The OS monitor (tern_config.network_monitor) calls this
 * very function for each change it sees, so an application that feeds events itself gets the same
 * reaction: the endpoint calls on_network_event, then, when tern_config.auto_migrate is set, every
 * client connection reacts at once (standby paths on new usable addresses, paths on addresses or
 * interfaces that went away removed after failing over, the default route followed; see
 * docs/migration.md). Use it on platforms whose network changes arrive through their own APIs
 * (Android ConnectivityManager, Apple NWPathMonitor), or in tests. `ev` is read during the call
 * only. Returns 0 or TERN_ERR_INVALID_ARG: ep or ev NULL, an unknown type, an address event
 * without an address, an address whose length does not match its family (AF_INET with
 * sizeof(struct sockaddr_in), AF_INET6 with sizeof(struct sockaddr_in6); with length 0 the
 * family may be AF_UNSPEC, AF_INET or AF_INET6), or an ifname without its NUL; TERN_ERR_ABI for an
 * `ev_size` this library does not know. Called through the tern_endpoint_network_event macro,
 * which passes sizeof(tern_net_event); members beyond `ev_size` are taken as zero. */
TERN_API int tern_endpoint_network_event_sized(tern_endpoint *ep, const tern_net_event *ev,
                                               size_t ev_size);
#define tern_endpoint_network_event(ep, ev) \
    tern_endpoint_network_event_sized((ep), (ev), sizeof(tern_net_event))

/* Number of live connections, those already reported by on_closed excepted (0 for a NULL
 * endpoint). */
TERN_API size_t tern_endpoint_conn_count(tern_endpoint *ep);

/* Closes every connection at once (no callbacks, no CONNECTION_CLOSE sent), every socket, and
 * frees the endpoint with everything it owns; the connection handles become invalid. From inside
 * a callback the free is deferred (see "Calling tern from callbacks"). NULL is a no-op. */
TERN_API void tern_endpoint_free(tern_endpoint *ep);

/* ---- workers: one endpoint per core on one address ---------------------------------------------- */

/* A server that spreads over cores runs N endpoints ("workers"), each in a thread of its own, all
 * listening on the same address through SO_REUSEPORT sockets (docs/scaling.md). Every CID a worker
 * issues ends with an octet that names it (its index, plus a random multiple of N). A classic BPF
 * program attached to the reuseport group (SO_ATTACH_REUSEPORT_CBPF: no privilege, no libbpf)
 * hands each short-header datagram to the socket of the worker its DCID names, so that a client
 * that migrates, or whose NAT rebinds, keeps reaching the worker holding its connection; long
 * headers (handshakes) are left to the kernel's 4-tuple hash, which spreads them. Without the
 * program (it could not be attached, or TERN_WORKERS_NO_BPF) the kernel hashes every datagram;
 * a worker that gets a short header for a CID another worker issued passes it to that worker
 * through an in-process queue (a bounded ring per worker and an eventfd in its loop), which
 * costs a copy and a wakeup per misrouted datagram but keeps every connection reachable. With
 * tern_config's QUIC-LB members the worker octet follows the QUIC-LB CID (one byte longer). */
typedef struct tern_workers tern_workers;

#define TERN_WORKERS_NO_BPF 1u /* flags: do not attach the steering program (the fallback) */

/* tern_workers_steering values. */
#define TERN_WORKERS_STEER_BPF 1     /* the kernel steers short headers by the worker octet */
#define TERN_WORKERS_STEER_FORWARD 2 /* the kernel hashes; workers forward what is not theirs */

/* Creates `n` endpoints (2..128) from `cfg` and `cb` (as tern_endpoint_new; worker i's callbacks
 * get uds[i], or NULL when uds is NULL), binds their SO_REUSEPORT sockets on `addr` in worker
 * order (port 0: the first takes an ephemeral port, the others join it) and sets up steering.
 * Nothing runs yet: each endpoint is then driven by one thread, e.g. tern_endpoint_run(
 * tern_workers_endpoint(w, i)); the endpoints are single-threaded as usual, only the forwarding
 * queue is shared. Called through the tern_workers_new macro (sizes as tern_endpoint_new).
 * Returns 0, TERN_ERR_INVALID_ARG (n out of range, NULL addr or out), TERN_ERR_ABI, the errors of
 * tern_endpoint_new (TERN_ERR_CONFIG also when the CIDs cannot take the worker octet: a QUIC-LB
 * configuration of 20 bytes) and of tern_endpoint_listen, or TERN_ERR_NOMEM. The steering
 * program failing to attach is no error: the fallback is used (tern_workers_steering says
 * which). Call from one thread; free with tern_workers_free. */
TERN_API int tern_workers_new_sized(const tern_config *cfg, size_t cfg_size,
                                    const tern_callbacks *cb, size_t cb_size, void *const *uds,
                                    size_t n, const tern_addr *addr, unsigned flags,
                                    tern_workers **out);
#define tern_workers_new(cfg, cb, uds, n, addr, flags, out)                                        \
    tern_workers_new_sized((cfg), sizeof(tern_config), (cb), sizeof(tern_callbacks), (uds), (n),  \
                           (addr), (flags), (out))
/* Worker i's endpoint (NULL when i is out of range); owned by w. */
TERN_API tern_endpoint *tern_workers_endpoint(tern_workers *w, size_t i);
/* Number of workers (0 for NULL). */
TERN_API size_t tern_workers_count(const tern_workers *w);
/* TERN_WORKERS_STEER_BPF or TERN_WORKERS_STEER_FORWARD (0 for NULL). */
TERN_API int tern_workers_steering(const tern_workers *w);

typedef struct tern_workers_stats {
    uint64_t forwarded;   /* short headers this worker received for another worker's CID and
                             queued for it */
    uint64_t adopted;     /* datagrams other workers queued for this one, processed here */
    uint64_t queue_full;  /* datagrams lost because this worker's queue was full */
} tern_workers_stats;
/* Worker i's forwarding counters (safe from any thread: they are read under the queue's lock).
 * Called through the tern_workers_get_stats macro. Returns 0, TERN_ERR_INVALID_ARG or
 * TERN_ERR_ABI. */
TERN_API int tern_workers_get_stats_sized(tern_workers *w, size_t i, tern_workers_stats *out,
                                          size_t size);
#define tern_workers_get_stats(w, i, out)                                                          \
    tern_workers_get_stats_sized((w), (i), (out), sizeof(tern_workers_stats))
/* Frees every endpoint (as tern_endpoint_free) and the queues. Call once no thread runs any of
 * the endpoints any more (stop them with tern_endpoint_stop from their own thread or a
 * callback, and join the threads). NULL is a no-op. */
TERN_API void tern_workers_free(tern_workers *w);

/* ---- datapath hooks (tests and tools) ----------------------------------------------------------- */

typedef enum tern_hook_verdict {
    TERN_HOOK_PASS = 0,  /* carry on (with the path as the hook left it) */
    TERN_HOOK_DROP = 1,  /* the datagram is lost */
    TERN_HOOK_DELAY = 2, /* carry on after *delay_ns nanoseconds */
} tern_hook_verdict;

/* Inspection and impairment of an endpoint's real datagrams, for tests that need loss, delay or a
 * NAT on real sockets. Both callbacks run on the endpoint's thread, once per datagram (GSO and GRO
 * batches are split), and must not call tern_endpoint_* or connection functions. `*delay_ns` is 0
 * on entry and read only for TERN_HOOK_DELAY. Either member may be NULL. */
typedef struct tern_datapath_hooks {
    /* Every datagram about to leave, stateless replies included (a batch that waited for the
     * socket to drain is not shown twice). May rewrite path->remote, and path->local only to
     * another local address the endpoint has a socket for (else the datagram is dropped); drop it,
     * or delay it by *delay_ns. */
    tern_hook_verdict (*on_send)(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                 uint64_t *delay_ns);
    /* Every datagram received, before demultiplexing: may rewrite path->remote (a NAT rebinding
     * as this endpoint sees it) or path->local, change the bytes in place, drop it, or delay it. */
    tern_hook_verdict (*on_recv)(void *ud, tern_path_addr *path, uint8_t *data, size_t len,
                                 uint64_t *delay_ns);
    void *ud;
} tern_datapath_hooks;

/* Installs `hooks` (copied) on `ep`; NULL removes them. Without hooks the datapath is unchanged.
 * Delayed datagrams wait in a queue of TERN_HOOK_DELAY_MAX entries, each at most
 * max(max_udp_payload, 2048) bytes (beyond that, or when the queue is full, they are dropped), and
 * are sent or processed in due-time order by the endpoint's timers; removing the hooks lets the
 * queued ones through when due, tern_endpoint_free discards them. Returns 0, TERN_ERR_INVALID_ARG
 * (ep NULL), TERN_ERR_ABI (a `hooks_size` this library does not know) or TERN_ERR_NOMEM (the
 * queue, allocated on first use). Called through the tern_endpoint_set_datapath_hooks macro, which
 * passes sizeof(tern_datapath_hooks); members beyond `hooks_size` are taken as NULL. */
#define TERN_HOOK_DELAY_MAX 1024
TERN_API int tern_endpoint_set_datapath_hooks_sized(tern_endpoint *ep, const tern_datapath_hooks *hooks,
                                                    size_t hooks_size);
#define tern_endpoint_set_datapath_hooks(ep, hooks) \
    tern_endpoint_set_datapath_hooks_sized((ep), (hooks), sizeof(tern_datapath_hooks))

/* ---- connection --------------------------------------------------------------------------------- */

typedef struct tern_conn_stats {
    uint64_t bytes_sent, bytes_recv;     /* UDP payload bytes */
    uint64_t pkts_sent, pkts_recv, pkts_lost;
    uint64_t stream_bytes_sent, stream_bytes_recv; /* application bytes (first transmissions) */
    uint64_t stream_bytes_resent;        /* stream bytes sent again after a loss */
    uint64_t srtt_ns, min_rtt_ns, rttvar_ns, latest_rtt_ns;
    uint64_t cwnd, bytes_in_flight;
    uint64_t handshake_ns;               /* from first packet to handshake completion */
    uint64_t key_updates;                /* key phase changes, either side */
    uint64_t pto_count;
    uint64_t policy_moves;               /* active path changes the migration policy decided
                                            (failover, automatic migration) */
    uint64_t paths_restored;             /* paths that started from the cached state of their
                                            network (tern_path_info.restored) */
    uint64_t spurious_losses;            /* packets declared lost, then acknowledged after all */
    uint64_t congestion_events;          /* window reductions (active path's controller) */
    uint64_t congestion_undone;          /* reductions undone: every loss behind them spurious */
    uint64_t persistent_congestions;     /* collapses to the minimum window (RFC 9002 §7.6) */
    /* ECN (docs/ecn.md); per path in tern_path_info */
    uint64_t ecn_state;                  /* tern_ecn_state of the active path */
    uint64_t ecn_sent;                   /* packets sent with ECT(0), all paths */
    uint64_t ecn_ce;                     /* CE marks the peer reported (ACK_ECN), all paths */
    uint64_t ecn_ce_reductions;          /* congestion window reductions CE marks caused */
    uint64_t ecn_recv_ect0, ecn_recv_ect1, ecn_recv_ce; /* datagrams received so marked */
    /* unreliable datagrams (RFC 9221): once none is in flight, sent == acked + lost */
    uint64_t datagrams_sent;             /* DATAGRAM frames sent (each datagram once, never again) */
    uint64_t datagrams_recv;             /* DATAGRAM frames received and given to on_datagram */
    uint64_t datagrams_acked;            /* sent ones acknowledged */
    uint64_t datagrams_lost;             /* sent ones declared lost */
    uint64_t datagrams_dropped;          /* dropped from the send queue before being sent */
    /* path MTU discovery (docs/pmtud.md) */
    uint64_t mtu;                        /* the active path's datagram size (its PLPMTU) */
    uint64_t mtu_probes_sent, mtu_probes_lost; /* padded PING probes, every path (their losses
                                            are not congestion, nor in pkts_lost of a path) */
    uint64_t mtu_black_holes;            /* falls back to 1200 after a black hole, every path */
    /* acknowledgements (docs/ack-frequency.md) */
    uint64_t acks_sent;                  /* ACK frames sent, every packet number space */
    uint64_t ack_frequency_sent;         /* ACK_FREQUENCY frames sent (retransmissions too) */
    uint64_t immediate_ack_sent;         /* IMMEDIATE_ACK frames sent */
    uint64_t multipath;                  /* 1 when both sides offered multipath
                                            (tern_config.multipath): the extension is in use */
} tern_conn_stats;

/* Opens a stream; `*sid` receives its id. Returns 0, TERN_ERR_STREAM_LIMIT (the peer's MAX_STREAMS
 * allows no more now; before the peer's transport parameters arrive, i.e. before on_connected on a
 * client, the limit is 0), TERN_ERR_CLOSED, TERN_ERR_NOMEM. */
TERN_API int tern_conn_open_stream(tern_conn *c, int bidi, int64_t *sid);

/* Closes the connection with application error `app_error` and a reason (may be NULL). on_closed
 * follows once the CONNECTION_CLOSE went out (client) or the closing period ended (server).
 * Returns 0 or TERN_ERR_CLOSED (already closing). */
TERN_API int tern_conn_close(tern_conn *c, uint64_t app_error, const char *reason);

/* Client: presents `token[0..len)` (from on_new_token of an earlier connection to the same server
 * name and address, used once) in this connection's Initial packets. Call it right after
 * tern_endpoint_connect or tern_core_client_new, before the first datagram is sent. The bytes are
 * copied. A server that no longer accepts the token (expired, another address) answers as if there
 * were none (a Retry when it asks for one). Returns 0, TERN_ERR_INVALID_ARG (c or token NULL, len
 * 0 or above 512), TERN_ERR_NOT_CLIENT, TERN_ERR_STREAM_STATE (a datagram was already sent),
 * TERN_ERR_NOMEM. Connection's thread. */
TERN_API int tern_conn_set_token(tern_conn *c, const uint8_t *token, size_t len);

/* Starts a key update (RFC 9001 §6). Returns 0, TERN_ERR_STREAM_STATE (handshake not confirmed or
 * previous update not yet acknowledged), TERN_ERR_CLOSED. */
TERN_API int tern_conn_key_update(tern_conn *c);

/* Copies the connection's counters into the first `size` bytes of `out`; called through the
 * tern_conn_get_stats macro, which passes sizeof(tern_conn_stats). Returns 0,
 * TERN_ERR_INVALID_ARG (c or out NULL) or TERN_ERR_ABI (a size this library does not know;
 * nothing is written). */
TERN_API int tern_conn_get_stats_sized(tern_conn *c, tern_conn_stats *out, size_t size);
#define tern_conn_get_stats(c, out) tern_conn_get_stats_sized((c), (out), sizeof(tern_conn_stats))

/* Copies the current local and remote addresses of the active path into `out`. */
TERN_API void tern_conn_get_path(tern_conn *c, tern_path_addr *out);

/* The negotiated ALPN (NUL-terminated, "" before the handshake completes; on a server that
 * accepted 0-RTT, the ALPN chosen, from the first 0-RTT stream on), owned by the connection and
 * valid while it lives. */
TERN_API const char *tern_conn_alpn(tern_conn *c);

/* Name of the negotiated AEAD ("AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305", or ""): a
 * static string. */
TERN_API const char *tern_conn_cipher(tern_conn *c);

/* What became of 0-RTT on this connection (tern_conn_early_data). */
typedef enum tern_early_data_state {
    TERN_EARLY_DATA_NONE = 0,     /* not attempted (no ticket allowing it, not asked), or server:
                                     none accepted */
    TERN_EARLY_DATA_PENDING = 1,  /* client: 0-RTT is being sent, the server has not answered */
    TERN_EARLY_DATA_ACCEPTED = 2, /* the server accepted it (server: during its handshake, the
                                     streams it reports may carry replayable early data) */
    TERN_EARLY_DATA_REJECTED = 3, /* client: the server refused it; its data went out again as
                                     1-RTT */
} tern_early_data_state;

/* The connection's tern_early_data_state. Any time (0 for NULL). */
TERN_API int tern_conn_early_data(tern_conn *c);

/* 1 once the handshake completed by resuming a TLS session (no certificate was exchanged),
 * else 0. */
TERN_API int tern_conn_resumed(tern_conn *c);

/* 1 for a server-side connection, 0 for a client. */
TERN_API int tern_conn_is_server(tern_conn *c);

/* The QUIC version the connection uses now (TERN_PROTO_VERSION_1 or _2): the negotiated one once
 * the first packet of the peer was processed (a client that starts in v1 moves to v2 when the
 * server's first packets are v2), the version of the first Initial before. 0 when c is NULL.
 * Thread: the connection's endpoint's. */
TERN_API uint32_t tern_conn_quic_version(tern_conn *c);

/* 1 after on_connected and before the connection starts closing. */
TERN_API int tern_conn_is_established(tern_conn *c);

/* Sets the per-connection user pointer (NULL by default); tern never dereferences it. */
TERN_API void tern_conn_set_user_data(tern_conn *c, void *ud);
/* Returns the per-connection user pointer set by tern_conn_set_user_data (NULL by default). */
TERN_API void *tern_conn_get_user_data(tern_conn *c);

/* ---- local addresses (client connection migration) ------------------------------------------------ */

/* Binds a UDP socket on `addr` (port 0 picks a free port), creates a path from it to the server's
 * current address and starts validating it (PATH_CHALLENGE) at once; before the handshake is
 * confirmed the path is queued and probed at confirmation. Never switches by itself.
 * Returns the new path's id (>= 0), or TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED,
 * TERN_ERR_MIGRATION_DISABLED, TERN_ERR_ZERO_LEN_CID, TERN_ERR_DUPLICATE, TERN_ERR_PATH_LIMIT,
 * TERN_ERR_AF_MISMATCH, TERN_ERR_BIND (errno set), TERN_ERR_INVALID_ARG. */
TERN_API int tern_conn_add_local_address(tern_conn *c, const tern_addr *addr);

/* Makes the path of `addr` the active one; an address not yet added is added first, in this one
 * call. A validated path is used at once with no stall; an unvalidated one is used at once too
 * (RFC 9000 §9.2) while its validation runs, and if that fails the connection returns to the
 * previous validated path (TERN_PATH_EV_ACTIVE with TERN_PATH_WHY_VALIDATION_FAILED).
 * Returns the path id, or the errors of tern_conn_add_local_address. */
TERN_API int tern_conn_set_local_address(tern_conn *c, const tern_addr *addr);

/* Abandons the path of `addr`: its peer connection ID is retired and its socket closed; packets in
 * flight on it are declared lost and resent on the active path. Removing the active path first
 * moves to the best validated path (lowest smoothed RTT, then most recently validated).
 * Returns 0, TERN_ERR_NOT_FOUND, TERN_ERR_LAST_PATH (no other validated path: nothing changes),
 * TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED. */
TERN_API int tern_conn_remove_local_address(tern_conn *c, const tern_addr *addr);

/* Multipath (docs/multipath.md): marks the path of `addr` backup (backup != 0) or available
 * (draft-ietf-quic-multipath-21 §3.3: PATH_STATUS_BACKUP / PATH_STATUS_AVAILABLE go to the
 * server). Our scheduler puts no data on a backup path while an available one is usable, and
 * uses it at once when none is; the peer is told so that it does the same. Every path is
 * available until marked; the status shows in tern_path_info.mp_backup_local. A path still
 * without a path ID (probing, waiting for the server's connection IDs, or added before the
 * handshake) takes the status when it gets one. Returns 0, or TERN_ERR_INVALID_ARG (NULL),
 * TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED, TERN_ERR_NOT_FOUND (no path from `addr`),
 * TERN_ERR_NOT_MULTIPATH (tern_config.multipath is off, or the server did not take the
 * extension: there is no status to give). */
TERN_API int tern_conn_set_path_backup(tern_conn *c, const tern_addr *addr, int backup);

/* tern_conn_add_local_address, the new path marked backup (tern_conn_set_path_backup) in the same
 * call: it never carries data while an available path works. Returns its path id, the errors of
 * tern_conn_add_local_address, or TERN_ERR_NOT_MULTIPATH (then no path is added). */
TERN_API int tern_conn_add_local_address_backup(tern_conn *c, const tern_addr *addr);

/* Copies up to `cap` descriptions of the connection's paths in use (probing, validated, active)
 * into `out` and sets *n to their number (which may exceed cap; cap 0 with out NULL just counts).
 * Paths that failed or were removed are not listed: their FAILED / REMOVED events carried their
 * last description. Works on both sides. Called through the tern_conn_paths macro, which passes
 * sizeof(tern_path_info) as `info_size`: the entries are that far apart in `out` and each gets
 * the first `info_size` bytes of its description. Returns 0, TERN_ERR_INVALID_ARG or
 * TERN_ERR_ABI (an `info_size` this library does not know; nothing is written). */
TERN_API int tern_conn_paths_sized(tern_conn *c, tern_path_info *out, size_t cap, size_t *n,
                                   size_t info_size);
#define tern_conn_paths(c, out, cap, n) \
    tern_conn_paths_sized((c), (out), (cap), (n), sizeof(tern_path_info))

/* ---- streams ------------------------------------------------------------------------------------ */

/* Queues up to `len` bytes on stream `sid` (copied). `fin` marks the end of the stream once all of
 * `data` is accepted. Returns the number of bytes accepted (possibly less than `len`; FIN is set only
 * if all were accepted), or TERN_ERR_WOULD_BLOCK (buffer full: wait for on_stream_writable),
 * TERN_ERR_STREAM_NOT_FOUND, TERN_ERR_STREAM_STATE (FIN already set, reset, receive-only stream),
 * TERN_ERR_CLOSED. */
TERN_API ssize_t tern_stream_write(tern_conn *c, int64_t sid, const void *data, size_t len, int fin);

/* Called when tern no longer needs a piece of memory queued with tern_stream_write_ref: `data` and
 * `len` are those of the call, `ud` its user data. It runs on the connection's thread, from
 * inside whatever tern call finished with the piece (receiving, a timer, tern_stream_reset, a
 * connection being freed), and must not call tern functions on that connection. */
typedef void (*tern_release_fn)(void *ud, const void *data, size_t len);

/* Queues data[0..len) on stream `sid` by reference, without copying it: tern encrypts (and, after
 * a loss, re-encrypts) the stream's bytes straight from this memory, which must stay unchanged
 * and valid until `release(ud, data, len)` is called. That happens exactly once per accepted
 * piece: when every byte of the piece, and every byte before it on the stream, is acknowledged;
 * or when the stream's sending side is reset (tern_stream_reset, the peer's STOP_SENDING); or when
 * the stream or the connection is freed first. Copied writes (tern_stream_write,
 * tern_stream_write_buffer) and referenced ones may be mixed; the stream carries their bytes in
 * the order of the calls. Referenced bytes count against the stream's send buffer
 * (tern_config.stream_send_buffer) like copied ones, so flow control and memory stay as bounded
 * as with copies: a piece is taken whole or not at all. `fin` ends the stream after the piece.
 * Returns `len`, or TERN_ERR_WOULD_BLOCK (less room than `len` now, or 256 pieces of this stream
 * still held: wait for on_stream_writable), TERN_ERR_INVALID_ARG (data or release NULL, len 0, or
 * len above the stream's send buffer, which could never take it), TERN_ERR_NOMEM,
 * TERN_ERR_STREAM_NOT_FOUND, TERN_ERR_STREAM_STATE (FIN already set, reset, receive-only stream),
 * TERN_ERR_CLOSED. On any error release is not called and the memory stays the caller's. The
 * connection's thread only. */
TERN_API ssize_t tern_stream_write_ref(tern_conn *c, int64_t sid, const void *data, size_t len,
                                       int fin, tern_release_fn release, void *ud);

/* Writing in place, for bytes the application produces (a file read, a decoder's output): no copy
 * into the stream's buffer. tern_stream_write_buffer sets *buf to the place of the stream's next
 * bytes and returns how many may be written there (at most `want`, and possibly fewer where the
 * buffer wraps: the rest comes with the next call); tern_stream_write_commit then queues the first
 * `len` of them (len may be less than was handed out, 0 included) and FIN after them when `fin`.
 * Nothing is sent before the commit, and the place stays valid only until the next call on this
 * stream's sending side (write, write_buffer, reset) or on the connection's sending, receiving or
 * timers: produce, then commit. tern_stream_write_buffer returns the count, 0 for want 0, or
 * TERN_ERR_WOULD_BLOCK (buffer full: wait for on_stream_writable), TERN_ERR_INVALID_ARG (buf
 * NULL), TERN_ERR_NOMEM, TERN_ERR_STREAM_NOT_FOUND, TERN_ERR_STREAM_STATE (FIN already set, reset,
 * receive-only stream), TERN_ERR_CLOSED. tern_stream_write_commit returns 0, TERN_ERR_INVALID_ARG
 * (len beyond what the last tern_stream_write_buffer handed out), or the errors of
 * tern_stream_write_buffer (its stream errors). The connection's thread only. */
TERN_API ssize_t tern_stream_write_buffer(tern_conn *c, int64_t sid, size_t want, void **buf);
TERN_API int tern_stream_write_commit(tern_conn *c, int64_t sid, size_t len, int fin);

/* Reads up to `cap` in-order bytes from `sid`. `*fin` is set to 1 once the last byte has been read;
 * a stream whose both directions are then finished is released at once, so further calls return
 * TERN_ERR_STREAM_NOT_FOUND (stop reading when *fin is 1).
 * Returns the byte count (0 with *fin = 1 at the end), or TERN_ERR_WOULD_BLOCK (nothing now),
 * TERN_ERR_STREAM_NOT_FOUND, TERN_ERR_STREAM_STATE (send-only stream, reset by the peer, or
 * stopped with tern_stream_stop_sending), TERN_ERR_CLOSED. Reading opens flow-control credit for
 * the peer. */
TERN_API ssize_t tern_stream_read(tern_conn *c, int64_t sid, void *buf, size_t cap, int *fin);

/* Abandons sending on `sid` with RESET_STREAM(app_error). Returns 0, TERN_ERR_STREAM_NOT_FOUND,
 * TERN_ERR_STREAM_STATE (receive-only), TERN_ERR_CLOSED. */
TERN_API int tern_stream_reset(tern_conn *c, int64_t sid, uint64_t app_error);

/* Asks the peer to stop sending on `sid` (STOP_SENDING, not sent when the peer already sent its
 * FIN) and discards what is buffered and what still arrives; their flow-control credit goes back
 * to the peer at once. The receiving side is then finished as soon as the peer's final size is
 * known (its FIN or RESET_STREAM), and the stream is released when its sending side is done too.
 * Returns 0, TERN_ERR_STREAM_NOT_FOUND, TERN_ERR_STREAM_STATE (send-only), TERN_ERR_CLOSED. */
TERN_API int tern_stream_stop_sending(tern_conn *c, int64_t sid, uint64_t app_error);

/* Bytes that tern_stream_write() would accept now (0 when full or not writable). */
TERN_API size_t tern_stream_writable(tern_conn *c, int64_t sid);

/* ---- unreliable datagrams (RFC 9221; docs/datagram.md) ---------------------------------------- */

/* Queues `len` bytes of `data` (copied) to go to the peer in one DATAGRAM frame, unreliably: the
 * frame is never sent again, whether or not it arrives. `tag` is the program's own (a sequence
 * number, a pointer): on_datagram_acked or on_datagram_lost reports it once the datagram's fate is
 * known. Queued datagrams go out in order, ahead of new stream data, in 1-RTT packets of the
 * active path as the congestion window and pacing allow (they count in flight like any
 * ack-eliciting packet). Returns 0, or
 * TERN_ERR_DATAGRAM_UNSUPPORTED: the peer advertised no max_datagram_frame_size, or its transport
 *   parameters are not known yet (a client before on_connected);
 * TERN_ERR_DATAGRAM_TOO_LARGE: `len` is above tern_conn_datagram_max_size(), or above
 *   tern_config.datagram_queue_bytes;
 * TERN_ERR_WOULD_BLOCK: the send queue is full (datagram_queue_bytes / datagram_queue_count) and
 *   datagram_drop_oldest is 0: send again once some went out (e.g. after on_datagram_acked);
 * TERN_ERR_INVALID_ARG (c NULL, or data NULL with len > 0), TERN_ERR_CLOSED, TERN_ERR_NOMEM (the
 *   queue is allocated at the first call, datagram_queue_bytes large). */
TERN_API int tern_conn_send_datagram(tern_conn *c, const void *data, size_t len, uint64_t tag);

/* The largest `len` tern_conn_send_datagram accepts now: what the peer's max_datagram_frame_size
 * allows, and what one packet on the active path holds (its MTU less the packet's header, its
 * AEAD tag and the frame's header), whichever is less; never above datagram_queue_bytes. 0 when
 * the peer takes no datagrams or is not known yet. The value can change when the connection moves
 * to another path. */
TERN_API size_t tern_conn_datagram_max_size(tern_conn *c);

#ifdef __cplusplus
}
#endif
#endif
