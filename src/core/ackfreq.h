/* The ACK frequency extension (draft-ietf-quic-ack-frequency) at both ends of a connection, apart
 * from the ACK decision itself (ack.c applies what is decided here):
 * - as a data sender, what ACK_FREQUENCY to ask of a peer that advertised min_ack_delay: fewer
 *   ACKs while the congestion window is large, every second packet again when it is small, and an
 *   IMMEDIATE_ACK with PTO probes; which frame is current, and whether a lost one is sent again;
 * - as a receiver, the checks of the peer's ACK_FREQUENCY and IMMEDIATE_ACK frames.
 * The policy is in docs/ack-frequency.md. Sans-I/O: everything it needs is passed in. */
#ifndef TERN_CORE_ACKFREQ_H
#define TERN_CORE_ACKFREQ_H

#include "common.h"
#include "frame.h"

#include "tern/tern.h"

#define TERN_ACKFREQ_MAX_DELAY_US (16384ull * 1000) /* 2^14 ms, RFC 9000's max_ack_delay bound */

typedef struct tern_ackfreq {
    /* sender side: what we ask of the peer */
    uint8_t peer_ok;          /* the peer advertised min_ack_delay and the extension is on here */
    uint8_t asked;            /* an ACK_FREQUENCY went out: the values below were sent, as
                               * next_seq - 1, unless pending */
    uint8_t pending;          /* the values below are to be sent (again) */
    /* receiver side */
    uint8_t rx_set;           /* rx_delay_us valid */
    uint8_t rx_immediate;     /* an IMMEDIATE_ACK in the packet being processed */
    uint32_t peer_min_us;     /* the peer's min_ack_delay (at most its max_ack_delay, < 2^24) */
    uint32_t max_every;       /* ask for at most one ACK per this many packets (>= 2) */
    uint32_t threshold, delay_us, reorder; /* the current request */
    uint32_t rx_delay_us;     /* the peer's Requested Max Ack Delay (< 2^14 ms) */
    uint64_t next_seq;        /* the sequence number of the next ACK_FREQUENCY */
    tern_tstamp asked_at;     /* when the last one went out */
    uint64_t rx_next_seq;     /* the peer's frames with a lower sequence number are stale */
} tern_ackfreq;

/* What the sender's policy looks at, from the active path. */
typedef struct tern_ackfreq_input {
    uint64_t cwnd, mss;           /* bytes */
    uint64_t bytes_in_flight;
    int slow_start;               /* cwnd below ssthresh */
    tern_tstamp srtt;             /* 0 before the first RTT sample */
    tern_tstamp peer_max_ack_delay; /* the peer's max_ack_delay transport parameter, ns */
    uint64_t pkt_threshold;       /* our loss detection's packet threshold */
} tern_ackfreq_input;

void tern_ackfreq_init(tern_ackfreq *af);

/* 0 when the configuration's ack frequency members are valid: min_ack_delay_us at most 25 ms
 * (the max_ack_delay tern advertises), ack_bulk_every at most 2^20. Else TERN_ERR_CONFIG. */
int tern_ackfreq_config_ok(const tern_config *cfg);

/* The peer's transport parameters arrived: `enabled` is our configuration's ack_frequency,
 * `has_min`/`min_us` the peer's min_ack_delay, `max_every` our ack_bulk_every. */
void tern_ackfreq_on_peer_params(tern_ackfreq *af, int enabled, int has_min, uint64_t min_us,
                                 uint32_t max_every);

/* Sender policy, called before a 1-RTT packet is built: decides whether the peer should hear new
 * values. A request for more ACKs goes out at once; one for fewer only while at least half the
 * window is in flight (a bulk sender: a connection that sends little leaves its peer on RFC
 * 9000's rule, and its RTT samples unloaded), at most once per round trip, and only when the
 * threshold changes, or the delay by more than a quarter. */
void tern_ackfreq_update(tern_ackfreq *af, const tern_ackfreq_input *in, tern_tstamp now);

/* Writes the pending ACK_FREQUENCY frame (0 when none is pending or it does not fit); *seq gets
 * its sequence number for the sent-packet record. The frame counts as sent. */
size_t tern_ackfreq_write(tern_ackfreq *af, uint8_t *p, size_t cap, tern_tstamp now, uint64_t *seq);

/* The packet with ACK_FREQUENCY `seq` was lost: sent again (with a new sequence number) unless a
 * newer one went out since. */
void tern_ackfreq_on_lost(tern_ackfreq *af, uint64_t seq);

/* Receiver: the peer's ACK_FREQUENCY frame. `enabled` says whether we advertised min_ack_delay
 * (`local_min_us`). Returns 1 when the frame is the newest and its values are to be applied
 * (af->rx_delay_us set), 0 when stale (ignored), or TERN_ERR_PROTO with *terr PROTOCOL_VIOLATION:
 * the extension was not advertised, the Requested Max Ack Delay is below our min_ack_delay or at
 * least 2^14 ms. */
int tern_ackfreq_on_frame(tern_ackfreq *af, const tern_frame *f, int enabled, uint64_t local_min_us,
                          uint64_t *terr);

/* Receiver: the ACK delay the peer asked for (ns), or `dflt` when it asked none. */
tern_tstamp tern_ackfreq_rx_delay(const tern_ackfreq *af, tern_tstamp dflt);

/* Receiver: an IMMEDIATE_ACK frame. 0 (af->rx_immediate set), or TERN_ERR_PROTO with *terr
 * PROTOCOL_VIOLATION when we did not advertise min_ack_delay. */
int tern_ackfreq_on_immediate(tern_ackfreq *af, int enabled, uint64_t *terr);

#endif
