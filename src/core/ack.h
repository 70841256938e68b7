/* Received packet numbers of one packet number space and the ACK frames that report them
 * (RFC 9000 §13.2): duplicate detection, ACK ranges (bounded), ack delay, the "ACK every second
 * ack-eliciting packet or after max_ack_delay" rule, immediate ACK on reordering, and how that rule
 * changes: at the peer's request (draft-ietf-quic-ack-frequency: an ack-eliciting threshold, a
 * reordering threshold, IMMEDIATE_ACK) or, without one, once a bulk transfer is under way (see
 * tern_ackr_set_bulk and docs/ack-frequency.md). */
#ifndef TERN_CORE_ACK_H
#define TERN_CORE_ACK_H

#include "common.h"
#include "ranges.h"

#define TERN_ACK_MAX_RANGES 64 /* ranges remembered; the oldest are dropped past this */
#define TERN_ACK_BULK_CALM 16  /* bulk policy: packets at one ACK per two after reordering */

/* ECN codepoints as carried in the IP header's two low TOS/traffic-class bits. */
#define TERN_ECN_NOT_ECT 0
#define TERN_ECN_ECT1 1
#define TERN_ECN_ECT0 2
#define TERN_ECN_CE 3

typedef struct tern_ackr {
    tern_ranges recv;             /* received pns, ascending */
    uint64_t largest;             /* largest pn received (valid when has_largest) */
    int has_largest;
    /* the peer's Reordering Threshold (valid when peer_set; larger values are kept as 65535,
     * beyond the reach of the range bound anyway) */
    uint16_t reorder;
    uint8_t peer_set;             /* an ACK_FREQUENCY frame set threshold and reorder */
    uint8_t has_acked;            /* acked_largest valid */
    tern_tstamp largest_time;     /* when `largest` arrived */
    uint64_t floor;               /* pns below this are treated as duplicates (pruned) */
    uint64_t report_from;         /* ACK frames report ranges from here up (ACK of ACK) */
    uint32_t unacked_eliciting;   /* ack-eliciting packets since our last ACK */
    int ack_pending;              /* an ACK frame should be sent (immediately or at ack_deadline) */
    int immediate;                /* send the ACK at the next opportunity */
    /* the Ack-Eliciting Threshold: the peer's when peer_set, else the bulk policy's (used past
     * bulk_after); values above 2^32-1 are kept as that (the delay decides then anyway) */
    uint32_t threshold;
    tern_tstamp ack_deadline;     /* TERN_TS_INF when no ACK is scheduled */
    tern_tstamp delayed_deadline; /* max_ack_delay after the first ack-eliciting packet not yet
                                   * acknowledged, whatever asked for an immediate ACK since */
    tern_tstamp repeat_at;        /* the last ACK goes out once more then (TERN_TS_INF: no) */
    uint64_t ecn[3];              /* ECT0, ECT1, CE counts */
    uint64_t acked_largest;       /* `largest` when the last ACK went out */
    uint32_t bulk_after;          /* own policy: ack-eliciting packets in a row first (0: off) */
    uint32_t in_order_run;        /* ack-eliciting packets since the last reordering (saturates) */
} tern_ackr;

void tern_ackr_init(tern_ackr *a);
void tern_ackr_free(tern_ackr *a);

/* 1 when pn was already received (or is below the pruned floor). */
int tern_ackr_is_dup(const tern_ackr *a, uint64_t pn);

/* Records pn. `max_ack_delay` (ns) schedules the delayed ACK; `ack_eliciting` and reordering decide
 * whether it is immediate: more ack-eliciting packets unacknowledged than the threshold (1, i.e.
 * every second one, unless the peer or the bulk policy set another), a CE mark, or reordering: a
 * gap or a late packet (RFC 9000 §13.2.1), or with the peer's Reordering Threshold 0 never, and
 * above 1 once a packet missing since the last ACK is that many packet numbers below the largest
 * (draft-ietf-quic-ack-frequency §6.2). For the Initial and Handshake spaces pass max_ack_delay 0
 * (always immediate). `ecn` is the datagram's TERN_ECN_*
 * codepoint. Returns 0, or 1 for a duplicate (ignored): that includes a pn below `floor`, and a pn
 * that could not be stored (range bound or memory), which the caller must then drop unprocessed. */
int tern_ackr_on_packet(tern_ackr *a, uint64_t pn, int ack_eliciting, int ecn, tern_tstamp now,
                        tern_tstamp max_ack_delay);

/* The peer's ACK_FREQUENCY values (draft-ietf-quic-ack-frequency §6): ACK at once past
 * `threshold` unacknowledged ack-eliciting packets; `reorder` as in tern_ackr_on_packet. They
 * replace the bulk policy. The caller checks the frame (sequence number, delay) and passes the
 * delay to tern_ackr_on_packet itself. */
void tern_ackr_set_frequency(tern_ackr *a, uint64_t threshold, uint64_t reorder);

/* The receiver's own policy while the peer asked for nothing: after `after` ack-eliciting packets
 * in a row without reordering, the threshold is `threshold` instead of 1 (the delay stays what
 * the caller passes); reordering (acknowledged at once as ever) brings back one ACK per two
 * packets for the next TERN_ACK_BULK_CALM (or the rest of the warm-up, if shorter). `after` 0 or
 * `threshold` <= 1: never. */
void tern_ackr_set_bulk(tern_ackr *a, uint32_t after, uint32_t threshold);

/* The packet just given to tern_ackr_on_packet was small (not a bulk transfer's full-sized
 * packet): it does not count toward the bulk policy's warm-up. A peer that trickles small
 * packets thus keeps RFC 9000's rule. */
void tern_ackr_not_bulk(tern_ackr *a);

/* An IMMEDIATE_ACK frame arrived (draft-ietf-quic-ack-frequency §5): the next opportunity carries
 * an ACK, of everything received, the packet that carried the frame included (call it after
 * tern_ackr_on_packet for that packet). */
void tern_ackr_immediate(tern_ackr *a);

/* The threshold in force (the peer's, the bulk policy's, or 1). */
uint64_t tern_ackr_threshold(const tern_ackr *a);

/* When the next ACK is due (TERN_TS_INF: none pending; the repeat is apart, see
 * tern_ackr_repeat_time). With `sparse`, what would be immediate (every second ack-eliciting
 * packet, reordering, CE, a lost ACK) waits for max_ack_delay too: one ACK per max_ack_delay at
 * most, for a sender that must spare its packets (see tern_conn_ack_sparse). */
tern_tstamp tern_ackr_due_time(const tern_ackr *a, int sparse);

/* 1 when an ACK should go out at `now` (one is due, or the repeat of the last one); `sparse` as
 * for tern_ackr_due_time. */
int tern_ackr_should_send(const tern_ackr *a, tern_tstamp now, int sparse);

/* When the last ACK is to be repeated (see tern_ackr_on_ack_sent): TERN_TS_INF when it is not,
 * or when the peer has seen an ACK of everything received since. */
tern_tstamp tern_ackr_repeat_time(const tern_ackr *a);

/* 1 when the last ACK is due to be repeated at `now`. */
int tern_ackr_repeat_due(const tern_ackr *a, tern_tstamp now);

/* Writes an ACK (or ACK_ECN when ecn counters are non-zero) frame for the received ranges, largest
 * first, as many ranges as fit. ack_delay is now - largest_time scaled by 2^exponent. Returns bytes
 * written or 0 (nothing received, or no room). Does not change state: call tern_ackr_on_ack_sent. */
/* The same as a multipath PATH_ACK (PATH_ACK_ECN) of path ID `path_id` when it is above 0
 * (mpframe.h), else as tern_ackr_write. */
size_t tern_ackr_write_path(const tern_ackr *a, uint8_t *p, size_t cap, tern_tstamp now,
                            unsigned ack_delay_exponent, uint64_t path_id);
size_t tern_ackr_write(const tern_ackr *a, uint8_t *p, size_t cap, tern_tstamp now,
                       unsigned ack_delay_exponent);

/* An ACK frame was sent: clears pending state and the deadline. When it reported ack-eliciting
 * packets that no ACK had reported yet, it is sent once more at `repeat_at` (TERN_TS_INF: never)
 * unless an ack-eliciting packet arrives first. A receiver that reads a whole window in one batch
 * answers it with one ACK; if that ACK is lost, the sender has nothing left to send and hears
 * nothing until its PTO, which allows for the peer's max_ack_delay: the repeat makes one lost
 * ACK cost a round trip instead. A repeat is not repeated. */
void tern_ackr_on_ack_sent(tern_ackr *a, tern_tstamp repeat_at);

/* A packet of ours that carried an ACK frame was declared lost (or is being probed again): the
 * next packet carries a fresh ACK at once, unless the peer has seen an ACK of everything. Not a
 * retransmission of the frame (RFC 9000 §13.3): what it reported is reported anew. Without it a
 * peer whose packets all got through while our ACKs of them were lost hears of them only when it
 * sends again, and a peer with nothing left to send (its window full, or only probes) does not.
 * The connection calls it for 1-RTT packets only. */
void tern_ackr_on_ack_lost(tern_ackr *a);

/* The peer acknowledged a packet of ours that carried an ACK whose largest was `largest_acked`:
 * ranges at or below it no longer need reporting (RFC 9000 §13.2.4). */
void tern_ackr_on_ack_acked(tern_ackr *a, uint64_t largest_acked);

#endif
