/* Connection IDs (RFC 9000 §5.1): the CIDs we issue (with stateless reset tokens) and the CIDs the
 * peer issued to us, with sequence numbers, retire_prior_to, RETIRE_CONNECTION_ID bookkeeping and
 * hard bounds on everything a peer can make us store. Each peer CID records which path uses it so
 * that no CID is used on two paths. */
#ifndef TERN_CORE_CID_H
#define TERN_CORE_CID_H

#include "common.h"

#define TERN_MAX_LOCAL_CIDS 16   /* issued and not retired */
#define TERN_MAX_PEER_CIDS 16    /* peer CIDs stored (our active_connection_id_limit <= this) */
#define TERN_MAX_RETIRE_QUEUE 64 /* RETIRE_CONNECTION_ID frames waiting to be sent */
#define TERN_CID_UNUSED 0xff     /* path_id of a CID not used by any path */
#define TERN_CID_LINGER 8        /* retired CIDs of ours still routed to the connection */

typedef struct tern_cid_entry {
    uint64_t seq;
    tern_cid cid;
    uint8_t token[TERN_RESET_TOKEN_LEN];
    uint8_t path_id;     /* TERN_CID_UNUSED when free */
    uint8_t state;       /* internal */
    uint8_t has_token;
} tern_cid_entry;

/* tern_cid_entry.state of a CID we issue. */
enum {
    TERN_CID_ST_NEW = 0,  /* not announced yet: NEW_CONNECTION_ID to send */
    TERN_CID_ST_SENT = 1, /* announced (seq 0: by the handshake), not known to have arrived */
    TERN_CID_ST_HELD = 2, /* the peer has it: its NEW_CONNECTION_ID was acknowledged, or a packet
                             arrived with it. Never announced again: a peer that retired it could
                             take a late copy for a new CID and count one too many against its
                             active_connection_id_limit. */
};

/* CIDs of ours the peer retired, still routed to the connection for a while. The peer sends the
 * RETIRE_CONNECTION_ID on another path than the one it left, or from another socket, and its last
 * packets with the old CID can arrive after it: sent before the retirement, they are genuine, and
 * a stateless reset in answer to them (what the driver sends for a CID it no longer routes) ends
 * a connection for a peer that still honours that CID's token. Bounded: a peer that retires
 * faster pushes the oldest out, which is then only unrouted sooner. */
typedef struct tern_cid_linger_slots {
    tern_cid cid[TERN_CID_LINGER];
    tern_tstamp until[TERN_CID_LINGER];
} tern_cid_linger_slots;

/* Zeroed = empty. The slots take heap (some 240 bytes) only while a CID lingers: a connection
 * whose peer retires nothing, or whose retired CIDs' time came, holds none. */
typedef struct tern_cid_linger {
    tern_cid_linger_slots *s; /* NULL while n is 0 */
    size_t n;                 /* oldest first */
} tern_cid_linger;

/* Keeps `cid` until `until`. Returns 1 with *evicted set when one has to be unrouted now: the
 * oldest, to make room, or `cid` itself when the slots could not be allocated. 0 otherwise. */
int tern_cid_linger_add(tern_cid_linger *l, const tern_cid *cid, tern_tstamp until,
                        tern_cid *evicted);
/* 1 when `cid` is kept. */
int tern_cid_linger_contains(const tern_cid_linger *l, const tern_cid *cid);
/* The earliest `until` (TERN_TS_INF when empty). */
tern_tstamp tern_cid_linger_next(const tern_cid_linger *l);
/* Removes one CID whose time has come at `now`: returns 1 with *out set, 0 when none. The last
 * one out frees the slots. */
int tern_cid_linger_pop_due(tern_cid_linger *l, tern_tstamp now, tern_cid *out);
/* Forgets every CID (the connection goes) and frees the slots. */
void tern_cid_linger_free(tern_cid_linger *l);

/* CIDs we issue. The table grows by doubling with the CIDs issued, up to TERN_MAX_LOCAL_CIDS,
 * and keeps its size until freed: a connection holds room for the CIDs it issued, not for the
 * bound. */
typedef struct tern_local_cids {
    tern_cid_entry *e; /* e[0..n), in sequence order; NULL before the first */
    size_t n, cap;
    uint64_t next_seq;
    uint64_t retire_prior_to;   /* what we ask the peer to retire below */
    size_t cid_len;
    size_t unannounced;         /* entries in TERN_CID_ST_NEW: the sender asks on every packet */
} tern_local_cids;

void tern_local_cids_init(tern_local_cids *l, size_t cid_len);
/* Frees the table; it can be initialised again. */
void tern_local_cids_free(tern_local_cids *l);
/* Makes room for `n` CIDs (at most TERN_MAX_LOCAL_CIDS) at once, when the number about to be
 * issued is known: the table is then that size, not the next power of two. Returns 0 or
 * TERN_ERR_NOMEM (the table unchanged; adds still grow it one doubling at a time). */
int tern_local_cids_reserve(tern_local_cids *l, size_t n);
/* Adds a CID with the next sequence number (seq 0 is the handshake SCID, marked announced). `token`
 * may be NULL (seq 0 of a client). Returns the entry (valid until the next add or retire), or
 * NULL at the bound or without memory for the table. */
tern_cid_entry *tern_local_cids_add(tern_local_cids *l, const tern_cid *cid,
                                    const uint8_t token[TERN_RESET_TOKEN_LEN]);
/* The peer retired `seq`. Returns 0 with *removed filled (so the caller can unregister it), 1 when
 * unknown/already retired (ignored), or TERN_ERR_PROTO when seq was never issued
 * (PROTOCOL_VIOLATION, §19.16). Retiring the CID the packet arrived with (`arrived_on`) is also
 * PROTOCOL_VIOLATION. */
int tern_local_cids_retire(tern_local_cids *l, uint64_t seq, const tern_cid *arrived_on,
                           tern_cid_entry *removed);
/* Number of CIDs issued and not retired. */
size_t tern_local_cids_count(const tern_local_cids *l);
/* The lowest-sequence entry not yet announced in NEW_CONNECTION_ID (seq > 0), or NULL. */
tern_cid_entry *tern_local_cids_next_unannounced(tern_local_cids *l);
/* NEW_CONNECTION_ID for `seq` was put in a packet / that packet was lost (announce again, unless
 * the CID was retired meanwhile). */
void tern_local_cids_on_announced(tern_local_cids *l, uint64_t seq);
void tern_local_cids_on_announce_lost(tern_local_cids *l, uint64_t seq);
/* The packet carrying NEW_CONNECTION_ID for `seq` was acknowledged / a packet arrived with `cid`
 * as its destination: the peer holds that CID (TERN_CID_ST_HELD); a later loss of an announcement
 * of it changes nothing. */
void tern_local_cids_on_announce_acked(tern_local_cids *l, uint64_t seq);
void tern_local_cids_on_used(tern_local_cids *l, const tern_cid *cid);
int tern_local_cids_contains(const tern_local_cids *l, const tern_cid *cid);

/* CIDs the peer issued. The table grows by doubling with the CIDs stored, up to `limit` (our
 * active_connection_id_limit, which no peer can exceed), and keeps its size until freed. Entry
 * pointers are valid until the table next changes. */
typedef struct tern_peer_cids {
    tern_cid_entry *e; /* e[0..n), in sequence order; NULL before the first */
    size_t n, cap;
    uint64_t limit;              /* our active_connection_id_limit */
    uint64_t retire_prior_to;    /* largest retire_prior_to seen */
    /* RETIRE_CONNECTION_ID frames to send: allocated with the first, growing up to
     * TERN_MAX_RETIRE_QUEUE and freed once sent (NULL when none are due) */
    uint64_t *retire_queue;
    size_t retire_n, retire_cap;
    uint64_t highest_seq;
    uint64_t seen_mask;          /* bit i: seq highest_seq - i was received (older ones: assumed) */
    uint8_t zero_len;            /* the peer uses a zero-length CID: NEW_CONNECTION_ID forbidden */
    /* optional: told of each reset token stored (added = 1) and forgotten (0), so that a driver
     * can route datagrams ending with one to this connection (set after tern_peer_cids_init) */
    void (*on_token)(void *ud, const uint8_t token[TERN_RESET_TOKEN_LEN], int added);
    void *token_ud;
    uint64_t stale_announcements; /* NEW_CONNECTION_IDs for CIDs retired already (late copies: a
                                     peer that took them for new ones would exceed its limit) */
} tern_peer_cids;

void tern_peer_cids_init(tern_peer_cids *p, uint64_t limit);
/* Frees what the table allocated (its entries, its retire queue); it can be initialised again. */
void tern_peer_cids_free(tern_peer_cids *p);
/* Sets the CID of sequence 0 (the peer's handshake SCID, or the one after Retry), used by path 0.
 * Returns 0, or TERN_ERR_NOMEM when the table could not take it. */
int tern_peer_cids_set_initial(tern_peer_cids *p, const tern_cid *cid);
/* Sets the reset token of seq 0 (from the server's transport parameters). */
void tern_peer_cids_set_initial_token(tern_peer_cids *p, const uint8_t token[TERN_RESET_TOKEN_LEN]);
/* Handles NEW_CONNECTION_ID. Retires (queues RETIRE_CONNECTION_ID for) every CID below
 * retire_prior_to; a CID in use by a path that gets retired is reported through *retired_path_mask
 * (bit per path id < 32) so the connection moves that path to a new CID. A repeated frame (same
 * seq, CID and token) is ignored; a CID whose seq is below a retire_prior_to already seen is not
 * stored and its retirement is queued at once; so is a CID seen before and retired since (a
 * retransmitted frame must not bring a retired CID back for another path). Returns 0; or
 * TERN_ERR_PROTO with *terr = CONNECTION_ID_LIMIT_ERROR (more than `limit` active),
 * PROTOCOL_VIOLATION (same seq with a different CID or token, same CID with a different seq, or the
 * peer uses a zero-length CID), FRAME_ENCODING_ERROR (CID length not 1..20, retire_prior_to > seq).
 * A retire queue overflow is CONNECTION_ID_LIMIT_ERROR too (a peer playing retire_prior_to games);
 * no memory for the queue or the table is TERN_ERR_NOMEM with *terr = INTERNAL_ERROR. Both outputs
 * are required. */
int tern_peer_cids_on_new(tern_peer_cids *p, uint64_t seq, uint64_t retire_prior_to,
                          const tern_cid *cid, const uint8_t token[TERN_RESET_TOKEN_LEN],
                          uint32_t *retired_path_mask, uint64_t *terr);
/* Adds sequence number `seq` to a queue of retirements to send (`*n` of `cap` used), unless it is
 * there already. Returns 0, or -1 when the queue is full (the caller closes the connection with
 * CONNECTION_ID_LIMIT_ERROR: a peer cannot make it grow). */
int tern_retire_queue_push(uint64_t *q, size_t *n, size_t cap, uint64_t seq);
/* Takes an unused CID for `path_id` (lowest sequence first). Returns it or NULL when none is spare.
 * A CID the path held before is retired (a CID never moves between paths, and a path has one). */
tern_cid_entry *tern_peer_cids_take(tern_peer_cids *p, uint8_t path_id);
/* The CID used by `path_id` (NULL when none). */
tern_cid_entry *tern_peer_cids_for_path(tern_peer_cids *p, uint8_t path_id);
/* Retires the CID used by `path_id` (queues RETIRE_CONNECTION_ID; should the queue be full, the
 * CID is still forgotten locally). */
/* Hands the CID of path `from` to path `to` (which has none): used when the peer moved to a new
 * address and no spare CID exists. Returns 0, or -1 when `from` has none or `to` already has one. */
int tern_peer_cids_reassign(tern_peer_cids *p, uint8_t from, uint8_t to);
void tern_peer_cids_retire_path(tern_peer_cids *p, uint8_t path_id);
/* 1 when a stateless reset token matches the token of a stored peer CID in use by a path (RFC 9000
 * §10.3.1: never tokens of unused or retired CIDs). Constant time in the token bytes. */
int tern_peer_cids_is_reset_token(const tern_peer_cids *p, const uint8_t token[TERN_RESET_TOKEN_LEN]);
/* Number of unused CIDs. */
size_t tern_peer_cids_spare(const tern_peer_cids *p);
/* Pops one sequence number to send in RETIRE_CONNECTION_ID; returns 1, or 0 when none. Use
 * tern_peer_cids_requeue_retire when the frame is lost. */
int tern_peer_cids_pop_retire(tern_peer_cids *p, uint64_t *seq);
void tern_peer_cids_requeue_retire(tern_peer_cids *p, uint64_t seq);

#endif
