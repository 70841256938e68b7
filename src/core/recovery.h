/* Loss detection (RFC 9002 §6, Appendix A): sent-packet records per packet number space, ACK
 * processing, packet- and time-threshold loss, PTO with backoff, persistent congestion. Records keep
 * small frame descriptors (not frame bytes): on loss the connection re-queues the data they name,
 * on ack it releases it. Storage is a ring per space that grows by doubling, never per packet. */
#ifndef TERN_CORE_RECOVERY_H
#define TERN_CORE_RECOVERY_H

#include "cc.h"
#include "common.h"
#include "frame.h"
#include "rtt.h"

#define TERN_SENT_MAX_FRAMES 10
#define TERN_RECOVERY_PATHS 16 /* path ids tracked for loss detection (= TERN_MAX_PATHS) */
#define TERN_MAX_PKT_THRESH 512 /* widest packet threshold (a millisecond at a few Gbit/s) */
#define TERN_MAX_TIME_EIGHTHS 16 /* widest time threshold, in eighths of an RTT */
#define TERN_RECOVERY_ANY_PATH 0xff /* no particular path (see ack_path_id) */
#define TERN_MAX_REORDER_FLOOR (25 * TERN_NS_PER_MS) /* most reordering delay waited for */
/* Multipath (draft-ietf-quic-multipath-21): the application space of path ID p is space
 * TERN_SPACE_APP + p. Path ID 0 is TERN_SPACE_APP itself; the queues of path IDs 1..
 * TERN_RECOVERY_MP_IDS exist only once opened (tern_recovery_space_open). */
#define TERN_RECOVERY_MP_IDS 7
#define TERN_RECOVERY_SPACES (TERN_SPACE_COUNT + TERN_RECOVERY_MP_IDS)

/* What a sent packet carried, enough to retransmit or release it. */
typedef struct tern_sent_frame {
    uint8_t type;   /* frame type (TERN_FT_*; STREAM frames stored as TERN_FT_STREAM) */
    uint8_t fin;
    uint16_t aux;   /* frame-specific (e.g. CRYPTO level) */
    uint32_t len;   /* STREAM/CRYPTO length */
    uint64_t id;    /* stream id, CID sequence, ... */
    uint64_t off;   /* STREAM/CRYPTO offset, MAX_* value, ACK largest, ... */
} tern_sent_frame;

typedef struct tern_sent_pkt {
    uint64_t pn;
    tern_tstamp time_sent;
    uint32_t size;          /* bytes on the wire (UDP payload share) */
    uint8_t ack_eliciting;
    uint8_t in_flight;
    uint8_t path_id;
    uint8_t n_frames;
    uint8_t acked, lost;    /* internal state */
    uint8_t app_limited;
    uint8_t ecn;            /* left in a datagram marked ECT(0) */
    uint8_t pmtu_probe;     /* a path MTU probe: its loss is no congestion signal (RFC 9000 §14.4) */
    tern_sent_frame frames[TERN_SENT_MAX_FRAMES];
} tern_sent_pkt;

#define TERN_RECOVERY_SKIPPED 4 /* skipped packet numbers remembered per space */

/* Records declared lost, kept (in packet number order, which is also send order) for two smoothed
 * RTTs so that a late acknowledgement is recognised as a spurious loss. Apart from the main ring so
 * that a lost packet never holds acknowledged records behind it. */
typedef struct tern_lostq {
    tern_sent_pkt *v;
    size_t cap, start, end;       /* live records are v[start..end) */
} tern_lostq;

typedef struct tern_sentq {
    tern_sent_pkt *ring;
    size_t cap, head, count;      /* ring of records in pn order (settled ones pruned from head) */
    tern_lostq lost;
    uint64_t largest_acked;       /* UINT64_MAX when none */
    uint64_t path_largest_acked[TERN_RECOVERY_PATHS]; /* per path the packet left on */
    tern_tstamp loss_time;        /* TERN_TS_INF when none */
    tern_tstamp last_ack_eliciting_time;
    uint64_t ack_eliciting_in_flight;
    uint64_t bytes_in_flight;     /* of this space's records, on every path */
    uint64_t next_pn;             /* largest pn used + 1 (0: nothing sent yet) */
    uint64_t skipped[TERN_RECOVERY_SKIPPED]; /* pns never sent on purpose (UINT64_MAX: none) */
    unsigned skipped_next;
    int discarded;
    unsigned over_limit;          /* PTO probes recorded at or above the record limit since the
                                     space was last below it (TERN_RECOVERY_PROBE_RECORDS at most) */
    /* a path ID's space (above TERN_SPACE_APP) runs its own PTO: its backoff, and the path its
     * packets leave on, whose estimator and controller its timers use */
    uint32_t pto_count;
    uint8_t path;
} tern_sentq;

/* Inclusive ranges, descending (r[0].hi is the largest acknowledged). */
typedef struct tern_pn_range_list {
    const tern_pn_range *r;
    size_t n;
} tern_pn_range_list;

typedef struct tern_recovery_cb {
    /* The packet was acknowledged (each record at most once). */
    void (*on_acked)(void *ud, int space, const tern_sent_pkt *p);
    /* The packet was declared lost (each record at most once, never after acked). */
    void (*on_lost)(void *ud, int space, const tern_sent_pkt *p);
    /* Optional: the congestion controller and RTT estimator of a path, for packets that left on a
     * path other than the active one. NULL (or a NULL result) means the active path's. */
    tern_cc *(*path_cc)(void *ud, uint8_t path_id);
    tern_rtt *(*path_rtt)(void *ud, uint8_t path_id);
} tern_recovery_cb;
/* The callbacks run in the middle of ring updates: they must not call tern_recovery_* functions. */

typedef struct tern_recovery {
    tern_sentq q[TERN_SPACE_COUNT];
    tern_sentq *mpq[TERN_RECOVERY_MP_IDS]; /* path IDs 1..7: allocated by tern_recovery_space_open */
    tern_rtt *rtt;     /* the active path's estimator and controller */
    tern_cc *cc;
    uint32_t pto_count;
    tern_tstamp max_ack_delay;   /* peer's, ns */
    int is_server;
    int handshake_confirmed;
    int peer_completed_address_validation; /* client: server has validated us (got HS ack or 1-RTT) */
    int has_handshake_keys;
    uint64_t pkts_lost, pkts_acked, pto_total, spurious_losses, persistent_congestions;
    uint32_t pkt_thresh;     /* packet reordering threshold (3, widened on spurious losses) */
    uint32_t time_eighths;   /* time threshold in eighths of an RTT (9, widened likewise) */
    tern_tstamp reorder_floor; /* least time threshold: how late spurious losses arrived */
    uint64_t max_in_flight_records; /* absolute bound on records per space (see record_limit) */
    int amplification_blocked;   /* server at the anti-amplification limit: no PTO (set by conn) */
    tern_tstamp timer_base;      /* last ack/timeout/send: start of the client's anti-deadlock PTO */
    uint8_t loss_trigger;        /* why the record being reported lost is (TERN_QLOG_LOSS_*),
                                    for on_lost */
    uint8_t ack_path_id;         /* the path the ACK being processed arrived on (set by conn before
                                    tern_recovery_on_ack; TERN_RECOVERY_ANY_PATH: unknown): an RTT
                                    sample is taken only from a packet that left on that path, the
                                    only one whose round trip the ACK measured */
    tern_recovery_cb cb;
    void *ud;
} tern_recovery;

/* `rtt` and `cc` (those of the first path; a migration rebinds them) are never NULL. */
void tern_recovery_init(tern_recovery *r, int is_server, tern_rtt *rtt, tern_cc *cc,
                        const tern_recovery_cb *cb, void *ud);
void tern_recovery_free(tern_recovery *r);

#define TERN_RECOVERY_DEFAULT_MAX_RECORDS (1u << 16)
/* Records per space are bounded by a multiple of the window in datagrams of the base size, 1200
 * bytes, whatever the path's MTU (never below TERN_RECOVERY_MIN_RECORDS, never above
 * max_in_flight_records). The window is the active path's cwnd, or the space's bytes in flight
 * when more (packets that other paths' windows admitted): a record is about a quarter of a
 * 1200-byte packet, so what a peer can make us hold stays near the window whatever the packets'
 * sizes. */
#define TERN_RECOVERY_CWND_RECORDS 4
#define TERN_RECOVERY_MIN_RECORDS 256
/* Records PTO probes may take beyond that bound: RFC 9002 §6.2.4 requires a probe when the PTO
 * fires, and a space at its bound with everything in flight lost would otherwise send nothing
 * until the idle timeout (the probe is what makes the peer's acknowledgements reveal the losses
 * and free the records). Counted from the moment the space reached its bound, so that a peer
 * that never acknowledges makes us hold only this many more records. */
#define TERN_RECOVERY_PROBE_RECORDS 8

/* How many records a space may hold now (the bound above, from the active controller's cwnd). */
uint64_t tern_recovery_record_limit(const tern_recovery *r);

/* 1 when a packet sent now in `space` can be recorded: below the record limit, with room in the
 * ring (grown here if needed, so that tern_recovery_on_sent cannot then fail). When this is 0 the
 * connection sends nothing in that space that would need a record, only ACK frames. */
int tern_recovery_can_record(tern_recovery *r, int space);

/* The same for a PTO probe, which may also take one of the TERN_RECOVERY_PROBE_RECORDS beyond the
 * limit. */
int tern_recovery_can_record_probe(tern_recovery *r, int space);

/* Records a sent packet (copied; only the first n_frames frames are kept). Packet numbers must
 * increase within a space. Returns 0, TERN_ERR_NOMEM (record limit and the probes' reserve beyond
 * it reached, or allocation failed; callers check tern_recovery_can_record or, for a PTO probe,
 * tern_recovery_can_record_probe first),
 * or TERN_ERR_INVALID_ARG (bad space, discarded space, pn not increasing, or n_frames above
 * TERN_SENT_MAX_FRAMES). On failure nothing is recorded: the caller must not send the packet. */
int tern_recovery_on_sent(tern_recovery *r, int space, const tern_sent_pkt *p);

/* Packet number `pn` of `space` is skipped on purpose (never sent): an ACK that names it is an
 * optimistic ACK (RFC 9000 §21.4) and tern_recovery_on_ack fails with TERN_ERR_PROTO. The last
 * TERN_RECOVERY_SKIPPED skipped numbers are remembered. pn must be at or above the next pn. */
void tern_recovery_on_skipped(tern_recovery *r, int space, uint64_t pn);

/* Processes an ACK frame's ranges (descending, inclusive [lo, hi] pairs, as iterated from the
 * frame), ack_delay in ns (already scaled). Calls on_acked for newly acked records, updates RTT when
 * the largest is newly acked and ack-eliciting, detects losses (on_lost), updates CC.
 * Returns 0, or TERN_ERR_PROTO when a range acknowledges a packet number never sent in that space
 * (above the largest sent, or a skipped one still remembered) or is malformed (lo > hi, not
 * descending) (PROTOCOL_VIOLATION), with no state changed; TERN_ERR_INVALID_ARG for a bad space.
 * The cost is proportional to the ranges, the records this ACK newly acknowledges or declares lost,
 * and the few unacknowledged records below the largest acknowledged that the thresholds still
 * wait for. on_lost callbacks of this ACK come before its
 * on_acked ones. An ACK received by a client in the Handshake space sets
 * peer_completed_address_validation. The Initial space's ack_delay is ignored. Every packet sent
 * must have been recorded with tern_recovery_on_sent, or an ACK of it looks like an ACK of a
 * skipped packet number. */
int tern_recovery_on_ack(tern_recovery *r, int space, const tern_pn_range_list *ranges,
                         tern_tstamp ack_delay, tern_tstamp now);

/* The loss-detection/PTO deadline (TERN_TS_INF when none). */
tern_tstamp tern_recovery_timer(const tern_recovery *r, tern_tstamp now);

/* Handles the timer: declares time-threshold losses, or on PTO returns the space in which to send
 * probes (the caller sends up to two ack-eliciting packets there). Returns -1 when no probe is due,
 * else the space. Nothing happens before the deadline of tern_recovery_timer. */
int tern_recovery_on_timeout(tern_recovery *r, tern_tstamp now);

/* Records a space holds (the ring and the lost records kept for spurious-loss detection). */
size_t tern_recovery_records(const tern_recovery *r, int space);

/* Drops every record of a space (keys discarded, RFC 9002 §6.4): their bytes leave flight without
 * loss signals; no callbacks. */
void tern_recovery_discard_space(tern_recovery *r, int space);

/* Declares every in-flight packet of a space lost at once (e.g. Retry received, or path abandoned):
 * on_lost is called for each outstanding record (ACK-only ones included). Their bytes leave flight
 * without a congestion event (RFC 9002 §6.3: a Retry is not a congestion signal); pto_count and the
 * space's loss timer are reset. Packet numbers keep increasing afterwards. */
void tern_recovery_declare_all_lost(tern_recovery *r, int space, tern_tstamp now);

/* A packet that is not recorded (it carried only ACK frames) used `pn`: an ACK may name it. */
void tern_recovery_on_unrecorded(tern_recovery *r, int space, uint64_t pn);

/* Declares lost every unacknowledged application packet that left on `path_id` (the path was
 * abandoned): on_lost re-queues their data for the active path. No congestion signal. */
void tern_recovery_declare_path_lost(tern_recovery *r, uint8_t path_id, tern_tstamp now);

/* Multipath: creates the queue of `space` (TERN_SPACE_APP + path ID, path ID 1..
 * TERN_RECOVERY_MP_IDS) for packets that leave on path slot `path` (the slot may change later with
 * tern_recovery_space_set_path). Nothing happens when it exists already. Returns 0,
 * TERN_ERR_NOMEM or TERN_ERR_INVALID_ARG (not such a space). */
int tern_recovery_space_open(tern_recovery *r, int space, uint8_t path);
void tern_recovery_space_set_path(tern_recovery *r, int space, uint8_t path);
/* Frees the queue of such a space and everything it holds (their bytes leave flight without loss
 * signals, as tern_recovery_discard_space); the space may be opened again later, from packet
 * number 0. */
void tern_recovery_space_close(tern_recovery *r, int space);
/* 1 when `space` exists (the three of RFC 9000 always; path IDs' once opened). */
int tern_recovery_space_exists(const tern_recovery *r, int space);
/* The queue of `space`, NULL when it does not exist. */
tern_sentq *tern_recovery_q(const tern_recovery *r, int space);
/* The PTO backoff count of `space`: a path ID's own, else the connection's (pto_count). */
uint32_t tern_recovery_pto_count(const tern_recovery *r, int space);

/* 1 when a space has ack-eliciting packets in flight. */
int tern_recovery_has_in_flight(const tern_recovery *r);

#endif
