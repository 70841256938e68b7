/* The connection object shared by conn.c (lifecycle, TLS, API), conn_recv.c (packet and frame
 * processing), conn_send.c (packet assembly), migration.c and policy.c. Nothing outside src/core
 * sees it: the tests go through conn_test.h. Its state is grouped by concept, one sub-struct
 * each, so that a field's name says what it belongs to (c->flow.data_recv, c->keys.tx_phase). */
#ifndef TERN_CORE_CONN_INTERNAL_H
#define TERN_CORE_CONN_INTERNAL_H

#include "ack.h"
#include "ackfreq.h"
#include "cid.h"
#include "conn.h"
#include "conn_test.h"
#include "crypto.h"
#include "datagram.h"
#include "frame.h"
#include "migration.h"
#include "multipath.h"
#include "mpspace.h"
#include "packet.h"
#include "path.h"
#include "policy.h"
#include "qlog.h"
#include "recovery.h"
#include "resume.h"
#include "stream.h"
#include "qversion.h"
#include "tparams.h"

#define TERN_CRYPTO_BUF_LIMIT (256 * 1024) /* TLS messages buffered per level (either way) */
#define TERN_ACK_RANGES_SCRATCH 256 /* ranges of an ACK frame taken (handle_ack's stack) */
#define TERN_MIN_SEND_ROOM 64 /* smallest datagram room worth building a packet in */
#define TERN_DEFAULT_SCID_LEN 8
#define TERN_ACK_ONLY_PING_EVERY 16 /* ACK-only packets before one asks to be acknowledged */
/* 1-RTT packet numbers skipped on purpose, one every TERN_PN_SKIP_MIN..2*TERN_PN_SKIP_MIN-1
 * packets at random in every application space (each path ID's with multipath): an ACK of one
 * reveals a peer acknowledging what it never received (RFC 9000 §21.4), which would otherwise
 * inflate that path's window at will */
#define TERN_PN_SKIP_MIN 256

typedef struct tern_pn_space_state {
    uint64_t next_pn;
    uint64_t largest_recv;      /* UINT64_MAX when none */
    tern_ackr ackr;
    int discarded;
    int probes;                 /* PTO probes owed in this space */
    /* 1-RTT key phases (RFC 9001 §6; one phase for every path ID, the draft's key update
     * section): the first packet number of the current phase, sent and received, in this space
     * (received: UINT64_MAX until one arrives here) */
    uint64_t tx_phase_first_pn;
    uint64_t rx_phase_first_pn;
    uint64_t skip_pn;           /* application spaces: the next packet number skipped on purpose
                                   (0: none planned yet) */
    /* the largest ECN counts the peer's ACK_ECN (PATH_ACK 0x3f) frames reported for this space's
     * packets (RFC 9000 §13.4.2: counts are kept per packet number space) */
    tern_ecn_counts ecn_seen;
} tern_pn_space_state;

/* TLS and the handshake's progress. */
typedef struct tern_conn_handshake_state {
    tern_tls *tls;
    int complete, confirmed; /* RFC 9001 §4.1.1, §4.1.2 */
    int done_pending;        /* server: HANDSHAKE_DONE to (re)send */
    int pending_terr_set;    /* a transport error found inside a TLS callback */
    uint64_t pending_terr;
    char *pending_reason; /* its words (a certificate verification status...), allocated with the
                             error: NULL otherwise, or when that allocation failed */
    /* The TLS messages of each level, [TERN_LEVEL_COUNT] each, in c->hs.crypto: NULL while
     * released (see tern_conn_crypto_release). Use tern_conn_crypto_open before writing. */
    tern_sendbuf *crypto_snd;
    tern_recvbuf *crypto_rcv;
    struct tern_conn_crypto_bufs *crypto;
    uint64_t crypto_1rtt_end;  /* while released: the 1-RTT level's offsets, where the buffers */
    uint64_t crypto_1rtt_read; /* start again (what was sent and acknowledged, what was read) */
    char alpn[64];
} tern_conn_handshake_state;

/* The buffers of CRYPTO frames of every level, one block: the handshake's, so that an idle
 * connection holds none. */
typedef struct tern_conn_crypto_bufs {
    tern_sendbuf snd[TERN_LEVEL_COUNT];
    tern_recvbuf rcv[TERN_LEVEL_COUNT];
} tern_conn_crypto_bufs;

/* The keys of the levels before 1-RTT (Initial, 0-RTT, Handshake), one block: the handshake's, so
 * that an established connection holds none (see tern_conn_keys_release). */
typedef struct tern_conn_hs_keys {
    tern_keys tx[TERN_LEVEL_1RTT], rx[TERN_LEVEL_1RTT];
} tern_conn_hs_keys;

/* Packet protection: the keys of each level, and the 1-RTT key phases (RFC 9001 §6). Reach a
 * level's keys through tern_conn_keys. */
typedef struct tern_conn_key_state {
    int aead;
    tern_keys tx1, rx1;         /* 1-RTT AEAD of the current phase */
    tern_conn_hs_keys *hs;      /* the other levels': NULL once all of them are gone */
    tern_keys hp_tx1, hp_rx1;   /* 1-RTT header protection (does not change on key update) */
    tern_keys rx_next, rx_prev; /* 1-RTT keys of the next and previous phase */
    int tx_phase, rx_phase;
    /* the first packet numbers of the current phases are per space (tern_pn_space_state) */
    int tx_phase_acked;          /* a packet of the current tx phase was acknowledged */
    int tx_phase_elicited;       /* an ack-eliciting packet was sent in the current tx phase */
    uint64_t tx_pkts_phase;      /* 1-RTT packets protected with the current tx keys */
    uint64_t rx_auth_failed;     /* received packets that failed authentication, all keys */
    uint64_t conf_limit;         /* RFC 9001 §6.6 limits of the negotiated AEAD (0 = none) */
    uint64_t integ_limit;
    uint64_t test_conf_limit;  /* test knobs (conn_test.h): limits that replace the AEAD's, also */
    uint64_t test_integ_limit; /* when keys are installed later (0 = the AEAD's) */
    int rx_update_unacked;       /* no ACK of the current receive phase sent yet: a key update
                                    started by the peer before it is a KEY_UPDATE_ERROR */
    tern_tstamp rx_prev_discard; /* when rx_prev is dropped */
    uint64_t updates;            /* key phase changes, either side */
    uint64_t initiated;          /* of which we started (the application, or the limit) */
} tern_conn_key_state;

/* The paths and which one carries the connection. */
typedef struct tern_conn_path_state {
    /* Slot i holds a path once one was opened there (tern_conn_path_slot_open), NULL before; a
     * slot keeps its path until the connection is freed, ended or not, so that an index found in
     * a sent-packet record or a fallback stays valid. The first path lives in `first`: a
     * connection that never migrates allocates none. Use the helpers below, not the array. */
    tern_path *slot[TERN_MAX_PATHS];
    tern_path first;
    int active;
    int pending_active;          /* client: switch to this path once it can carry packets (-1) */
    int failover_pending;        /* client: the active path is dead; move to the next path that
                                    validates (0, or the tern_path_reason to report) */
    int ping_pending;            /* the next 1-RTT packet on the active path is ack-eliciting (a
                                    PING when nothing else is due): the active path changed, or
                                    the peer fell silent (see timers.silence_probe_at) */
    int multipath_pn;            /* several paths in use: full-length packet numbers */
} tern_conn_path_state;

/* Connection IDs, ours and the peer's. */
typedef struct tern_conn_cid_state {
    size_t scid_len; /* length of the CIDs we issue */
    tern_local_cids local;
    tern_peer_cids peer;
    tern_cid initial_dcid;       /* client: the DCID of our first Initial */
    tern_cid original_dcid;      /* DCID of the client's first Initial */
    tern_cid peer_initial_scid;  /* SCID the peer used in its first long-header packet */
    int peer_scid_known;
    int replacing; /* the peer retired one of our CIDs: replacements keep one below
                      its limit (see tern_conn_issue_cids) */
    tern_cid_linger linger; /* retired by the peer, still routed here for 3 PTOs */
} tern_conn_cid_state;

/* Retry (RFC 9000 §8.1.2, §17.2.5). */
typedef struct tern_conn_retry_state {
    int received;                /* client: a Retry was accepted */
    int sent;                    /* server: the client's address was validated by a Retry */
    tern_cid scid;               /* client: the SCID of the accepted Retry */
    uint8_t *token;              /* client: Retry token echoed in Initials (or, before any Retry,
                                    the NEW_TOKEN token the application gave) */
    size_t token_len;
} tern_conn_retry_state;

/* Initial keys of another version than the connection's (conn_version.c). */
typedef struct tern_conn_vn_keys {
    tern_keys orig_rx;          /* server, upgraded: the client's Initials still in the original
                                   version, until the Initial space goes */
    tern_keys cand_tx, cand_rx; /* client: Initial keys of a version the server's first packet
                                   may have moved us to, until one authenticates */
} tern_conn_vn_keys;

/* Version negotiation (RFC 9368; conn_version.c). */
typedef struct tern_conn_vn_state {
    uint32_t ours[TERN_QV_MAX];  /* the configuration's versions, most preferred first */
    size_t n;
    uint32_t original;           /* version of the client's first Initial (of this attempt) */
    int after_vn;                /* client: it acted on a Version Negotiation packet */
    int upgraded;                /* the connection left its original version (compatible) */
    tern_cid keys_dcid;          /* the DCID the Initial keys derive from */
    struct tern_conn_vn_keys *keys; /* NULL until one of its keys is needed, and again once the
                                       Initial space went */
    uint32_t cand_version;
    tern_tls_ctx *tls_ctx;       /* client: a new attempt after Version Negotiation starts TLS
                                    again with them (server_name: a copy, or NULL) */
    char *server_name;
} tern_conn_vn_state;
/* NEW_TOKEN (RFC 9000 §8.1.3), server side: tokens for the client's next connection. */
typedef struct tern_conn_token_state {
    int enabled; /* a key was given and cfg->token_lifetime_ms is not 0 */
    uint8_t key[32];
    int pending;      /* a NEW_TOKEN frame to send */
    uint8_t bound[9]; /* binding (token.h) of the last token sent */
    size_t bound_len;
    uint64_t issued; /* NEW_TOKEN frames sent */
} tern_conn_token_state;

/* Transport parameters, ours and the peer's as the connection applies them. */
typedef struct tern_conn_tp_state {
    tern_tparams local, peer;
    int peer_received;
    tern_tstamp peer_max_ack_delay;
    unsigned peer_ack_delay_exponent;
} tern_conn_tp_state;

/* Connection-level flow control (RFC 9000 §4). */
typedef struct tern_conn_flow_state {
    uint64_t max_data_send;      /* peer's MAX_DATA */
    uint64_t data_sent;          /* new stream bytes sent */
    uint64_t max_data_recv;      /* largest MAX_DATA sent (or initial_max_data): enforced */
    uint64_t max_data_next;      /* what the next MAX_DATA carries (>= max_data_recv) */
    uint64_t data_recv;          /* sum of highest received offsets */
    uint64_t data_read;          /* bytes consumed by the app */
    uint64_t recv_window;
    int need_max_data;
    uint64_t data_blocked_sent_at; /* UINT64_MAX = none */
    int need_data_blocked;
} tern_conn_flow_state;

/* The streams, and what the application is told about them after processing. */
typedef struct tern_conn_stream_state {
    tern_streams set;
    int ctrl_pending; /* a control frame of the streams' may be due: a queued stream's (set.ctrlq_head)
                         or MAX_STREAMS / STREAMS_BLOCKED */
    int64_t *notify;  /* streams to tell about room, after processing */
    size_t notify_n, notify_cap;
} tern_conn_stream_state;

/* Deadlines and the idle timer's inputs (recovery and migration keep their own timers). */
typedef struct tern_conn_timer_state {
    tern_tstamp idle_timeout;    /* effective, ns (0 = none) */
    tern_tstamp idle_deadline;
    tern_tstamp handshake_deadline;
    tern_tstamp silence_probe_at; /* a PTO after the last ack-eliciting packet received: with
                                     nothing of ours in flight, a PING then checks the way back
                                     (0: not armed) */
    tern_tstamp rx_trim_at;       /* 3 PTOs after the last packet that carried more than a PING:
                                     the streams' receive memory is then trimmed
                                     (tern_streams_trim; 0: not armed) */
    uint64_t pto_run_recv;        /* stats.pkts_recv at the first PTO of the current run of PTOs */
    uint64_t pto_prev_recv;       /* stats.pkts_recv at the latest PTO (see peer_acks_nothing) */
    int ack_eliciting_since_recv; /* idle timer restarts at the first ack-eliciting send after recv
                                   */
} tern_conn_timer_state;

/* Packet assembly across calls to tern_conn_send. */
typedef struct tern_conn_send_state {
    tern_tstamp pace_until;      /* pacing stopped the last send */
    uint64_t app_limited_from;   /* first pn sent since the window last limited us */
    uint32_t ack_only_run;       /* ACK-only 1-RTT packets sent in a row */
    int ecn;                     /* codepoint of the datagrams being built (TERN_ECN_*) */
    int path;                    /* the path slot of the datagrams being built (the active one,
                                    or the multipath scheduler's choice) */
    uint8_t ack_copied;          /* multipath: application spaces (bit k: TERN_SPACE_APP + k)
                                    whose pending ACK already went, as a copy, on another path
                                    since their own path last carried one (see conn_send.c) */
} tern_conn_send_state;

/* ECN (conn_ecn.c): the ACK being processed, totals that outlive the paths. The peer's counts
 * are per packet number space (tern_pn_space_state.ecn_seen), the validation per path
 * (tern_path.ecn). */
typedef struct tern_conn_ecn_state {
    uint64_t ack_largest_pn;     /* largest ECT(0) packet the ACK being processed newly acks */
    tern_tstamp ack_largest_sent; /* ... when it was sent, and on which path */
    int ack_largest_path;        /* -1: none */
    uint64_t sent, ce, ce_reductions, recv[3];
} tern_conn_ecn_state;

/* Closing (RFC 9000 §10.2). */
typedef struct tern_conn_close_state {
    /* why: allocated when a reason is first set (its 256-byte text is of no use before), NULL
     * while none was; read it through tern_conn_close_info */
    tern_close_info *info;
    int pending;          /* CONNECTION_CLOSE to send */
    tern_tstamp deadline; /* end of the closing or draining period */
    tern_tstamp last_sent;
} tern_conn_close_state;

/* Session resumption and 0-RTT (RFC 9000 §7.4.1, RFC 9001 §4.6). */
typedef struct tern_conn_resume_state {
    int early;              /* enum tern_early_data_state */
    int resumed;            /* the handshake resumed a TLS session */
    int remembered_set;      /* client: `remembered` came from the application's blob */
    tern_resume *remembered; /* client with a blob: the server's parameters 0-RTT was sent under
                                (its session pointer is not kept), until the server's answer to
                                0-RTT is known; NULL otherwise */
    uint64_t early_bytes;   /* client: stream bytes first sent in 0-RTT packets */
} tern_conn_resume_state;

/* Counters reported by tern_conn_get_stats. */
typedef struct tern_conn_counters {
    tern_tstamp created, handshake_done_time;
    uint64_t bytes_sent, bytes_recv, pkts_sent, pkts_recv;
    uint64_t stream_bytes_sent, stream_bytes_recv, stream_bytes_resent;
    uint64_t mtu_probes_sent, mtu_probes_lost, mtu_black_holes; /* every path, ended ones too */
    uint64_t crypto_produced[TERN_LEVEL_COUNT]; /* TLS handshake bytes handed to us to send */
    uint64_t acks_sent, ack_frequency_sent, immediate_ack_sent;
} tern_conn_counters;

struct tern_conn {
    int is_server;
    int state;
    uint32_t version;
    const tern_config *cfg;
    const tern_callbacks *cb;
    void *cb_ud;
    void *app_data;
    void *driver_data;
    tern_rand_fn rand;
    void *rand_ud;
    uint8_t reset_key[32];
    tern_conn_hooks hooks;
    int received_any; /* client: a valid packet arrived (VN/Retry then ignored) */
    tern_qlog *qlog;  /* NULL when qlog is off (every hook tests it) */

    tern_conn_handshake_state hs;
    tern_conn_key_state keys;
    tern_pn_space_state sp[TERN_SPACE_COUNT];
    tern_recovery rec;
    tern_conn_path_state paths;
    tern_policy *pol; /* migration policy state (policy.c; see tern_policy_init) */
    tern_conn_cid_state cids;
    tern_conn_retry_state retry;
    tern_conn_vn_state vn;
    tern_conn_token_state tok;
    tern_conn_tp_state tp;
    tern_conn_flow_state flow;
    tern_conn_stream_state streams;
    tern_conn_timer_state timers;
    tern_conn_send_state snd;
    tern_conn_close_state close;
    tern_conn_resume_state res;
    tern_conn_counters stats;
    tern_conn_ecn_state ecn;
    tern_conn_dgram_state dgram; /* unreliable datagrams (datagram.c) */
    tern_ackfreq ackf;           /* ACK frequency extension (ackfreq.c) */
    tern_conn_mp_state mp;       /* multipath extension (multipath.c) */
    tern_mp_data *mpd;           /* its data path (mpspace.c): NULL unless negotiated */
};

/* The packet-number space state of `space`: RFC 9000's three, or (multipath) a path ID's above
 * them (mpspace.h), NULL when that one is not in use. */
static inline tern_pn_space_state *tern_conn_sp(const tern_conn *c, int space)
{
    if (space >= 0 && space < TERN_SPACE_COUNT)
        return (tern_pn_space_state *)(uintptr_t)&c->sp[space];
    if (!c->mpd || space < TERN_SPACE_COUNT || space >= TERN_RECOVERY_SPACES)
        return NULL;
    return c->mpd->e[space - TERN_SPACE_COUNT].sp;
}

/* The application space of the packets a path carries: its path ID's (path ID 0, the
 * connection's RFC 9000 application space, without multipath). */
static inline int tern_path_space(const tern_path *p)
{
    return p->mp_id ? p->mp_space : TERN_SPACE_APP;
}

/* The keys of `level` to send with (tx 1) or to read with (tx 0): the 1-RTT level's are always
 * there; the others' are NULL once the handshake's keys were released (tern_conn_keys_release).
 * Keys not installed have aead 0. */
static inline tern_keys *tern_conn_keys(const tern_conn *c, int level, int tx)
{
    if (level == TERN_LEVEL_1RTT)
        return (tern_keys *)(uintptr_t)(tx ? &c->keys.tx1 : &c->keys.rx1);
    if (!c->keys.hs || level < 0 || level > TERN_LEVEL_1RTT)
        return NULL;
    return tx ? &c->keys.hs->tx[level] : &c->keys.hs->rx[level];
}

/* The active path (always there). */
static inline tern_path *tern_conn_path(const tern_conn *c)
{
    return c->paths.slot[c->paths.active];
}

/* The path in slot i (0 <= i < TERN_MAX_PATHS), in use or ended; NULL when the slot never held
 * one. Loops over every slot skip NULL (tern_path_in_use(NULL) is 0). */
static inline tern_path *tern_conn_path_slot(const tern_conn *c, int i)
{
    return c->paths.slot[i];
}

/* conn.c: makes sure slot i holds a path (zeroed when new, as it was; left as it is otherwise:
 * the caller initialises it). Allocates once per slot per connection. Returns 0 or
 * TERN_ERR_NOMEM. */
int tern_conn_path_slot_open(tern_conn *c, int i);

/* conn_token.c: NEW_TOKEN frames */
/* Server: a token is due (the handshake is confirmed, or the client was validated on another
 * address than the last token's): the next 1-RTT packet carries it. */
void tern_conn_token_on_confirmed(tern_conn *c);
void tern_conn_token_on_path_validated(tern_conn *c, int path_idx);
/* Writes the pending NEW_TOKEN frame, bound to the active path's peer address, into p[0..cap);
 * called only while one is due (c->tok.pending). Returns its length, or 0 when it does not fit or
 * the random source failed (it stays due), or when the address takes no token (it is dropped). */
size_t tern_conn_token_write(tern_conn *c, uint8_t *p, size_t cap, tern_tstamp now);
/* A packet that carried a NEW_TOKEN was lost: a fresh one is sent. */
void tern_conn_token_on_lost(tern_conn *c);
/* Client: a NEW_TOKEN frame arrived (the server's: a client's is refused by the caller). */
void tern_conn_token_on_frame(tern_conn *c, const uint8_t *token, size_t len);

/* conn.c */
/* Encodes our transport parameters and creates the TLS session with them (the client's first
 * flight is produced by tern_tls_start). Returns 0, TERN_ERR_INTERNAL or tern_tls_new's errors. */
int tern_conn_new_tls(tern_conn *c, tern_tls_ctx *ctx, const char *server_name);
/* Records why the connection ends (the first reason wins; none once it is closing). Should the
 * record not be allocated, the connection ends as one that ran out of memory: status
 * TERN_ERR_NOMEM, INTERNAL_ERROR on the wire, no reason. */
void tern_conn_set_close_info(tern_conn *c, int status, int app, int local, uint64_t code,
                              uint64_t frame_type, const char *reason, size_t reason_len);
/* The close information of such a connection (not on the heap). */
extern const tern_close_info tern_conn_close_nomem;
void tern_conn_set_done(tern_conn *c);
void tern_conn_fail(tern_conn *c, uint64_t terr, uint64_t frame_type, const char *reason);
void tern_conn_enter_draining(tern_conn *c, tern_tstamp now);
int tern_conn_crypto_deliver(tern_conn *c, int level, tern_tstamp now);
/* Makes sure the CRYPTO buffers exist (c->hs.crypto_snd, c->hs.crypto_rcv), the 1-RTT level's
 * continuing at the offsets it had reached. Returns 0 or TERN_ERR_NOMEM. */
int tern_conn_crypto_open(tern_conn *c);
/* Frees the CRYPTO buffers once nothing is left for them to do: the handshake is confirmed, the
 * Initial and Handshake levels are gone, every byte sent was acknowledged and every byte received
 * was read. A later TLS message (a session ticket) makes them again. */
void tern_conn_crypto_release(tern_conn *c);
/* Makes sure the keys of the levels before 1-RTT have storage (tern_conn_keys then returns them
 * for every level). Returns 0 or TERN_ERR_NOMEM. */
int tern_conn_keys_open(tern_conn *c);
/* Frees that storage once none of it can be used again: the Initial and Handshake spaces are
 * gone and no 0-RTT key is installed either way (0-RTT keys are only ever installed at the start
 * of the handshake). Called where one of those goes. */
void tern_conn_keys_release(tern_conn *c);
/* 1 when CRYPTO data of `level` waits to be sent (first or again). */
static inline int tern_conn_crypto_pending(const tern_conn *c, int level)
{
    return c->hs.crypto_snd && tern_sendbuf_has_pending(&c->hs.crypto_snd[level], UINT64_MAX);
}
void tern_conn_discard_space(tern_conn *c, int space);
void tern_conn_on_handshake_confirmed(tern_conn *c, tern_tstamp now);
void tern_conn_queue_writable(tern_conn *c, tern_stream *s);
void tern_conn_flush_notifications(tern_conn *c);
void tern_conn_maybe_close_stream(tern_conn *c, tern_stream *s);
/* `n` received stream bytes will not be asked for again (read by the app, or dropped with a reset
 * or stopped stream): opens that much connection credit, sending MAX_DATA once half a window is
 * due, or at once with `force`. */
void tern_conn_credit_consumed(tern_conn *c, uint64_t n, int force);
/* DATA_BLOCKED at `limit`: repeats MAX_DATA if the peer missed it, else gives what credit is due. */
void tern_conn_on_data_blocked(tern_conn *c, uint64_t limit);
void tern_conn_restart_idle(tern_conn *c, tern_tstamp now);
/* Tells the driver (through the wake hook) that the connection has something to send. */
void tern_conn_wake(tern_conn *c);
/* Stream s has a control frame to send (one of its TERN_SF_NEED_* flags was set): queues it for
 * the next packets. */
static inline void tern_conn_stream_ctrl(tern_conn *c, tern_stream *s)
{
    tern_streams_ctrlq_push(&c->streams.set, s);
    c->streams.ctrl_pending = 1;
}
/* Issues NEW_CONNECTION_IDs until the peer holds as many of ours as its limit allows. */
void tern_conn_issue_cids(tern_conn *c);
int tern_conn_install_rx_next(tern_conn *c);
/* Key phases across packet-number spaces (multipath: one phase for every path ID). A new send
 * phase starts at each application space's next packet number; a new receive phase at `pn` of
 * `space`, and in the other spaces at their first packet of it (tern_conn_rx_phase_seen). */
void tern_conn_tx_phase_start(tern_conn *c);
void tern_conn_rx_phase_start(tern_conn *c, int space, uint64_t pn);
/* Before a 1-RTT packet is built: updates the keys when the confidentiality limit nears
 * (tern_config.key_update_margin_pct). Returns 1 when the packet may be protected; 0 when it may
 * not: the connection started closing (no update possible, the limit near) or is done (the limit
 * reached). */
int tern_conn_tx_limit_ok(tern_conn *c);
/* 1 while the connection must spare its 1-RTT packets: its send phase is past the point where it
 * wanted to update (tern_config.key_update_margin_pct) and the update cannot start before the
 * peer acknowledges the phase. ACKs then go out once per max_ack_delay (tern_ackr_due_time). */
int tern_conn_ack_sparse(const tern_conn *c);

/* 1 when `space`'s ACK decision (ack.c, with the sparse policy of the application space) says
 * send an ACK now. */
int tern_conn_ack_due(const tern_conn *c, int space, tern_tstamp now);

/* Multipath: the path slot that carries `space`'s ACK decisions (the path of its path ID, when
 * tern_mpsched_carries_acks says so), or -1 when none does (they then go on any path). */
int tern_conn_ack_home(const tern_conn *c, int space);
/* Packets kept below the confidentiality limit for the CONNECTION_CLOSE(AEAD_LIMIT_REACHED) of a
 * connection that cannot update its keys (the closing period repeats it). */
#define TERN_AEAD_CLOSE_RESERVE 8

/* conn_recv.c: recovery callbacks live with the frame logic */
void tern_conn_on_pkt_acked(void *ud, int space, const tern_sent_pkt *p);
void tern_conn_requeue_frames(tern_conn *c, int space, const tern_sent_pkt *p);
/* conn_ecn.c: the connection's side of ECN (see conn_ecn.c); path indexes are valid slots */
int tern_conn_ecn_mark(tern_conn *c, int path_idx, tern_tstamp now);
void tern_conn_ecn_on_sent(tern_conn *c, int path_idx, int recorded, tern_tstamp now);
void tern_conn_ecn_on_recv(tern_conn *c, int path_idx, int ecn);
void tern_conn_ecn_on_acked(tern_conn *c, const tern_sent_pkt *p);
void tern_conn_ecn_on_lost(tern_conn *c, const tern_sent_pkt *p);
void tern_conn_ecn_ack_begin(tern_conn *c);
void tern_conn_ecn_ack_end(tern_conn *c, int space, const tern_frame *f, int raised,
                           tern_tstamp now);

/* conn_send.c: tells recovery whether the anti-amplification limit leaves the server unable to
 * send on its active path (its PTO is then not armed, RFC 9002 §6.2.2.1). */
void tern_conn_sync_amplification(tern_conn *c);
void tern_conn_requeue_for_probe(tern_conn *c, int space);

/* conn_pmtud.c: path MTU discovery of each path (pmtud.c) fed by the connection */
/* A path was just created (tern_path_init): the peer's limit applies to it too. */
void tern_conn_pmtud_init_path(tern_conn *c, int idx, tern_tstamp now);
/* The peer's max_udp_payload_size arrived. */
void tern_conn_pmtud_peer_limit(tern_conn *c, uint64_t limit, tern_tstamp now);
/* Starts the active path's search once it is validated and the handshake confirmed. */
void tern_conn_pmtud_maybe_start(tern_conn *c, tern_tstamp now);
/* From the recovery callbacks: a sent packet's fate. */
void tern_conn_pmtud_on_acked(tern_conn *c, const tern_sent_pkt *p);
void tern_conn_pmtud_on_lost(tern_conn *c, const tern_sent_pkt *p);
/* After an ACK frame or a loss timer: next probes, black holes, datagram sizes applied. */
void tern_conn_pmtud_settle(tern_conn *c, tern_tstamp now);
tern_tstamp tern_conn_pmtud_timer(const tern_conn *c);
void tern_conn_pmtud_on_timeout(tern_conn *c, tern_tstamp now);
/* The size of the probe the active path may send now into a buffer of `cap` bytes (0: none). A
 * driver whose buffer is smaller than the search's maximum lowers it to the buffer. */
size_t tern_conn_pmtud_probe_size(tern_conn *c, size_t cap, tern_tstamp now);
void tern_conn_pmtud_probe_sent(tern_conn *c, size_t size, uint64_t pn, tern_tstamp now);
/* conn_version.c: version negotiation (RFC 9368) */
/* At creation, once keys_dcid and the local transport parameters are known: our versions, the
 * version_information we send, and what a client with more than one version needs to start
 * again after VN (a copy of the server name). Returns 0 or TERN_ERR_NOMEM. */
int tern_conn_version_init(tern_conn *c, const tern_conn_params *p, const tern_cid *keys_dcid);
/* The peer's transport parameters arrived: a server checks the client's version information and
 * may move the connection to a compatible version it prefers (new Initial keys, our parameters
 * sent again with the new Chosen Version); a client checks the server's against a downgrade.
 * Returns 0, or TERN_ERR_PROTO with *terr and *why set. */
int tern_conn_version_on_tparams(tern_conn *c, const tern_tparams *tp, uint64_t *terr,
                                 const char **why);
/* Client: a Version Negotiation packet (already matched to our CIDs): a new attempt in another
 * version of ours the server lists, or the connection ends with TERN_ERR_VERSION. */
void tern_conn_version_on_vn(tern_conn *c, const tern_pkt_hdr *h, tern_tstamp now);
/* The receive keys for a long-header packet of h->version at `level` (NULL: drop it): the current
 * ones, a server's original-version Initial keys after an upgrade, or a client's candidate keys
 * when the server's first Initial is in another compatible version of ours. */
tern_keys *tern_conn_version_rx_keys(tern_conn *c, const tern_pkt_hdr *h, int level);
/* The packet opened with `rx` authenticated: a client's candidate version becomes its own. */
void tern_conn_version_on_authentic(tern_conn *c, const tern_keys *rx);
/* The Initial space is gone: so are the keys of other versions. */
void tern_conn_version_discard(tern_conn *c);
/* The connection goes: all of the above. */
void tern_conn_version_free(tern_conn *c);

/* c->cfg is set with the connection (tern_conn_new checks it first) and never cleared */
#define TERN_LOG(c, ...)                                                                           \
    do {                                                                                           \
        if ((c)->cfg->log) {                                                                       \
            char line_[256];                                                                       \
            snprintf(line_, sizeof(line_), __VA_ARGS__);                                           \
            (c)->cfg->log((c)->cfg->log_ud, line_);                                                \
        }                                                                                          \
    } while (0)

#endif
