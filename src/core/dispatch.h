/* The front door of an endpoint, without sockets: the CID -> connection routing table and the
 * stateless policy applied to datagrams no connection claims (Version Negotiation, Retry with
 * address validation tokens, stateless resets, the Initial size and connection limits). The
 * runtime (src/io/endpoint.c) and the network simulator drive the same object: they pass each
 * received datagram with its path and the time, and act on the verdict (hand it to a connection,
 * create one, send the reply bytes, or drop it). Time and randomness come from the caller. */
#ifndef TERN_CORE_DISPATCH_H
#define TERN_CORE_DISPATCH_H

#include "cidmap.h"
#include "common.h"

/* A reply buffer of this size always holds the largest reply (a Retry with 20-byte CIDs). */
#define TERN_DISPATCH_REPLY_MAX 256
/* Defaults of tern_dispatch_config_init. */
#define TERN_DISPATCH_CID_LEN 8
#define TERN_DISPATCH_MAX_CONNS 65536
#define TERN_DISPATCH_RETRY_TOKEN_LIFETIME_NS (10ull * 1000000000ull)
#define TERN_DISPATCH_RESETS_PER_SEC 100

typedef enum tern_dispatch_verdict {
    TERN_DISPATCH_CONN = 0,   /* route to out->owner (tern_conn_recv) */
    TERN_DISPATCH_ACCEPT = 1, /* create a server connection from out's accept fields, then feed it */
    TERN_DISPATCH_REPLY = 2,  /* send reply[0..out->reply_len) from path->local to path->remote */
    TERN_DISPATCH_DROP = 3,   /* discard; out->drop says why */
} tern_dispatch_verdict;

typedef enum tern_dispatch_reply_kind {
    TERN_DISPATCH_REPLY_VN = 0,
    TERN_DISPATCH_REPLY_RETRY = 1,
    TERN_DISPATCH_REPLY_RESET = 2,
    TERN_DISPATCH_REPLY_CLOSE = 3, /* an Initial with CONNECTION_CLOSE(INVALID_TOKEN) */
    TERN_DISPATCH_REPLY_KINDS
} tern_dispatch_reply_kind;

typedef enum tern_dispatch_drop {
    TERN_DISPATCH_DROP_NONE = 0,
    TERN_DISPATCH_DROP_MALFORMED,      /* no readable DCID, or an unparsable long header */
    TERN_DISPATCH_DROP_VN,             /* a Version Negotiation packet is never answered */
    TERN_DISPATCH_DROP_SMALL,          /* unknown version or Initial in a datagram < 1200 bytes */
    TERN_DISPATCH_DROP_NOT_SERVER,     /* long header for an unknown CID at a client endpoint */
    TERN_DISPATCH_DROP_NOT_INITIAL,    /* 0-RTT, Handshake or Retry for an unknown CID */
    TERN_DISPATCH_DROP_SHORT_DCID,     /* a client's first Initial with a DCID under 8 bytes */
    TERN_DISPATCH_DROP_CONN_LIMIT,     /* max_conns owners exist */
    TERN_DISPATCH_DROP_BAD_TOKEN,      /* Retry token invalid, and no INVALID_TOKEN close could
                                          be built */
    TERN_DISPATCH_DROP_RESET_TOO_SMALL,/* a stateless reset would not be smaller and >= 21 bytes */
    TERN_DISPATCH_DROP_RESET_RATE,     /* stateless reset budget exhausted */
    TERN_DISPATCH_DROP_REPLY_FAILED,   /* reply_cap too small, or building the reply failed */
    TERN_DISPATCH_DROP_REJECTED,       /* noted by the driver after ACCEPT: the connection could
                                          not be created or its first datagram held nothing
                                          authentic */
    TERN_DISPATCH_DROP_HALF_OPEN,      /* max_half_open connections are in their handshake */
    TERN_DISPATCH_DROP_COUNT
} tern_dispatch_drop;

typedef struct tern_dispatch_config {
    int is_server;               /* accept connections (else unknown long headers are dropped) */
    int retry;                   /* validate addresses with Retry before creating connections */
    size_t cid_len;              /* length of the CIDs we issue, 1..20 (short headers parse with it) */
    uint8_t reset_key[32];       /* static key of stateless reset tokens */
    uint8_t retry_key[32];       /* key of Retry tokens */
    tern_rand_fn rand;           /* required: CIDs, nonces, random bits of replies, table key */
    void *rand_ud;
    size_t max_conns;            /* owners at most; further Initials are dropped */
    uint64_t retry_token_lifetime_ns;
    uint32_t resets_per_sec;     /* token bucket rate, burst of the same size; 0 = never reset */
    size_t max_half_open;        /* owners marked half-open at most; further Initials are dropped
                                    (0 = only max_conns applies) */
    size_t retry_half_open;      /* from this many half-open owners on, Initials without a token
                                    are answered with Retry as if `retry` were set (0 = never) */
    uint32_t versions[TERN_MAX_QUIC_VERSIONS]; /* QUIC versions accepted, and listed in Version
                                    Negotiation, in preference order */
    size_t versions_count;       /* 0 = {v1} */
    uint64_t new_token_lifetime_ns; /* NEW_TOKEN tokens are accepted this long after they were
                                       issued (0: none is accepted) */
    /* makes the SCID of a Retry (cid_len bytes: the server's generator, qlb.h, so that the
     * client's next Initial is routed back here); NULL: random bytes */
    int (*make_cid)(void *ud, tern_cid *cid);
    void *make_cid_ud;
} tern_dispatch_config;

/* A routing target (one connection). Embed it in the driver's per-connection record; `val` is what
 * CONN verdicts return. */
typedef struct tern_dispatch_owner {
    void *val;
    tern_cidmap_node *routes;
    tern_cidmap_node *tokens; /* its peer's stateless reset tokens */
    int attached;
    int half_open;
} tern_dispatch_owner;

typedef struct tern_dispatch_stats {
    uint64_t routed;                           /* CONN verdicts */
    uint64_t accepted;                         /* ACCEPT verdicts */
    uint64_t vn_sent, retry_sent, reset_sent;  /* REPLY verdicts by kind */
    uint64_t close_sent;                       /* INVALID_TOKEN closes */
    uint64_t new_token_accepted;               /* Initials whose NEW_TOKEN token proved their
                                                  address */
    uint64_t new_token_ignored;                /* Initials with a token that is no Retry token
                                                  of ours and did not open (forged, expired,
                                                  another address or server): taken as none */
    uint64_t dropped;                          /* every DROP, whatever the reason */
    uint64_t drop[TERN_DISPATCH_DROP_COUNT];   /* by tern_dispatch_drop */
} tern_dispatch_stats;

typedef struct tern_dispatch {
    tern_dispatch_config cfg;
    uint8_t new_token_key[32]; /* derived from cfg.retry_key (token.h) */
    tern_cidmap map;
    tern_cidmap tokens;      /* stateless reset tokens our peers issued -> owner */
    size_t owners;
    size_t half_open;        /* attached owners marked half-open */
    uint64_t reset_budget;   /* in 1e-9 resets */
    tern_tstamp reset_at;    /* last refill; valid once reset_started */
    int reset_started;
    tern_dispatch_stats st;
} tern_dispatch;

typedef struct tern_dispatch_result {
    int verdict;             /* tern_dispatch_verdict (also the return value of classify) */
    tern_cid dcid;           /* the datagram's DCID (len 0 when unreadable) */
    int is_long;
    /* CONN */
    void *owner;
    /* ACCEPT: exactly the tern_conn_params fields (is_server = 1) */
    uint32_t version;
    tern_cid client_dcid;    /* also route it to the new connection (retransmitted Initials) */
    tern_cid client_scid;
    tern_cid original_dcid;
    int retried;
    int address_validated;
    /* REPLY */
    int reply_kind;          /* tern_dispatch_reply_kind */
    size_t reply_len;
    /* DROP */
    tern_dispatch_drop drop;
} tern_dispatch_result;

/* Defaults: server, no Retry, 8-byte CIDs, zero keys (set them), no rand (set it), 65536
 * connections, 10 s Retry tokens, no NEW_TOKEN tokens accepted, 100 resets per second, no
 * half-open limit nor automatic Retry. */
void tern_dispatch_config_init(tern_dispatch_config *cfg);

/* Copies cfg (keys included), derives the NEW_TOKEN key from the Retry key and draws the routing
 * table's hash key from cfg->rand. Returns 0, TERN_ERR_INVALID_ARG (no rand, cid_len outside
 * 1..20, max_conns 0), TERN_ERR_NOMEM, TERN_ERR_CRYPTO, or the error of cfg->rand. A Retry or
 * stateless reset that cfg->rand cannot supply is not sent (drop reason REPLY_FAILED). */
int tern_dispatch_init(tern_dispatch *d, const tern_dispatch_config *cfg);
/* Frees the routing table. Owners still attached are left dangling: detach or forget them. */
void tern_dispatch_free(tern_dispatch *d);

/* Replaces the stateless reset key (the next resets use it; connections derive their own tokens
 * from the key given in tern_conn_params, see tern_dispatch_reset_key). */
void tern_dispatch_set_reset_key(tern_dispatch *d, const uint8_t key[32]);
/* Replaces the Retry token key and the NEW_TOKEN key derived from it, so that endpoints sharing
 * an address (tern_workers) open each other's tokens. Returns 0 or TERN_ERR_CRYPTO (the keys are
 * then unchanged). */
int tern_dispatch_set_retry_key(tern_dispatch *d, const uint8_t key[32]);
/* The current reset key (32 bytes, stable address: give it to tern_conn_params.reset_key). */
const uint8_t *tern_dispatch_reset_key(const tern_dispatch *d);
/* The NEW_TOKEN key (32 bytes, stable address: give it to tern_conn_params.token_key). */
const uint8_t *tern_dispatch_new_token_key(const tern_dispatch *d);

/* Classifies one received datagram `dgram[0..len)` that arrived on `path` (local = where it
 * arrived, remote = its source) at `now`. Writes a reply into reply[0..reply_cap) for REPLY (a cap
 * of TERN_DISPATCH_REPLY_MAX always suffices; too small a cap turns the reply into a DROP with
 * TERN_DISPATCH_DROP_REPLY_FAILED). Rules (RFC 9000 §5.2, §6, §8.1, §10.3, §14.1, §17.2.5):
 * - a DCID routed to an owner: CONN, whatever the packet (size rules are the connection's);
 * - long header, unknown DCID: not a server -> DROP; version 0 (VN) -> DROP; a version not in
 *   cfg.versions -> REPLY with Version Negotiation listing them when the datagram has >= 1200
 *   bytes, else DROP; a packet of an accepted version other than Initial -> DROP; an Initial in < 1200 bytes, with a DCID < 8 bytes, or with
 *   max_conns owners attached, or max_half_open owners half-open -> DROP; an Initial with a
 *   Retry token that opens (not expired, from this address, naming the Retry SCID it was sent
 *   to) -> ACCEPT as retried; an Initial with a NEW_TOKEN token (token.h) that opens (within
 *   new_token_lifetime_ns, bound to this address) -> ACCEPT with its address validated, Retry on
 *   or not; with Retry on (`retry`, or retry_half_open owners half-open), an Initial without
 *   token, or whose token is not in the Retry format (a NEW_TOKEN token that does not open, or a
 *   token of another server: RFC 9000 §8.1.3 keeps INVALID_TOKEN for Retry tokens) -> REPLY with
 *   a Retry (new random SCID, token bound to the client address and `now`, integrity tag); one
 *   whose Retry-format token does not open -> REPLY with an Initial carrying
 *   CONNECTION_CLOSE(INVALID_TOKEN) protected with the Initial keys of its DCID (the client
 *   followed a Retry and would take no second one); with Retry off, a token that does not open
 *   is ignored -> ACCEPT;
 * - short header, unknown DCID, ending with a reset token an owner's peer issued (>= 21 bytes):
 *   CONN to that owner, whose connection decides whether it is a stateless reset (RFC 9000
 *   §10.3.1: a client's reset ends the server's connection);
 * - short header, unknown DCID: REPLY with a stateless reset of min(len - 1, 43) bytes when len >=
 *   22 (so >= 21 bytes and smaller than the trigger) and the rate limit allows, else DROP.
 * The datagram is not modified. Returns the verdict (>= 0), or TERN_ERR_INVALID_ARG for NULL
 * arguments (nothing is counted then). */
int tern_dispatch_classify(tern_dispatch *d, const tern_path_addr *path, const uint8_t *dgram,
                           size_t len, tern_tstamp now, uint8_t *reply, size_t reply_cap,
                           tern_dispatch_result *out);

/* Counts a drop the driver decided (TERN_DISPATCH_DROP_REJECTED after an ACCEPT whose connection
 * accepted no packet, TERN_DISPATCH_DROP_MALFORMED, ...). */
void tern_dispatch_note_drop(tern_dispatch *d, tern_dispatch_drop reason);

/* Registers `o` as an owner (counted against max_conns) with value `val`. Call it before the
 * connection is created: tern_conn_new already reports CIDs through its cid_added hook. */
void tern_dispatch_attach(tern_dispatch *d, tern_dispatch_owner *o, void *val);
/* Routes `cid` to `o`. Returns 0, TERN_ERR_INVALID_ARG (already routed to anyone: the first route
 * wins; or o not attached) or TERN_ERR_NOMEM. */
int tern_dispatch_add_route(tern_dispatch *d, tern_dispatch_owner *o, const tern_cid *cid);
/* Removes the route of `cid` if it belongs to `o`. */
void tern_dispatch_remove_route(tern_dispatch *d, tern_dispatch_owner *o, const tern_cid *cid);
/* Routes datagrams that end with `token` (16 bytes, a stateless reset token o's peer issued) to
 * `o`, or stops. Returns 0, TERN_ERR_INVALID_ARG (routed already, or o not attached) or
 * TERN_ERR_NOMEM. Detaching removes them all. */
int tern_dispatch_add_reset_token(tern_dispatch *d, tern_dispatch_owner *o, const uint8_t *token);
void tern_dispatch_remove_reset_token(tern_dispatch *d, tern_dispatch_owner *o,
                                      const uint8_t *token);
/* Marks `o` as a connection still in its handshake (on = 1), counted against max_half_open and
 * retry_half_open, or as one that completed it (on = 0). Detaching ends it too. */
void tern_dispatch_set_half_open(tern_dispatch *d, tern_dispatch_owner *o, int on);
/* Attached owners marked half-open. */
size_t tern_dispatch_half_open_count(const tern_dispatch *d);
/* Removes every route of `o` and unregisters it (no-op when not attached). */
void tern_dispatch_detach(tern_dispatch *d, tern_dispatch_owner *o);
/* The owner value routed for `cid`, or NULL. */
void *tern_dispatch_lookup(const tern_dispatch *d, const tern_cid *cid);
/* Attached owners. */
size_t tern_dispatch_owner_count(const tern_dispatch *d);

const tern_dispatch_stats *tern_dispatch_get_stats(const tern_dispatch *d);

#endif
