/* ECN validation of one path (RFC 9000 §13.4.2 and Appendix A.4): whether the packets we send on a
 * path carry ECT(0), and what the peer's ACK_ECN counts say about the path. A path starts in
 * TESTING (its first packets marked), moves to UNKNOWN (marks stop until an acknowledgement tells),
 * then to CAPABLE (every packet marked, CE answered as congestion) or FAILED (nothing marked on
 * this path again). Every new path starts over: a migration can reach a network that bleaches or
 * mangles marks. Pure state: the connection (conn_ecn.c) feeds it sends, losses and ACK frames. */
#ifndef TERN_CORE_ECN_H
#define TERN_CORE_ECN_H

#include "common.h"

#define TERN_ECN_TESTING_PACKETS 10 /* marked packets sent while testing (RFC 9000 A.4) */
#define TERN_ECN_TESTING_PTOS 3     /* ... or at most this many PTOs of marking */

/* The counter of a codepoint in ACK_ECN's order (ECT(0), ECT(1), CE), -1 for Not-ECT. */
static inline int tern_ecn_counter(int ecn)
{
    switch (ecn & 3) {
    case TERN_ECN_ECT0:
        return 0;
    case TERN_ECN_ECT1:
        return 1;
    case TERN_ECN_CE:
        return 2;
    default:
        return -1;
    }
}

/* ECN counts of one packet number space, as an ACK_ECN frame carries them. */
typedef struct tern_ecn_counts {
    uint64_t ect0, ect1, ce;
} tern_ecn_counts;

typedef struct tern_ecn_path {
    uint8_t state;             /* tern_ecn_state (TESTING .. FAILED) */
    uint8_t failure;           /* tern_ecn_failure: why it failed */
    uint32_t testing_sent;     /* recorded packets marked while testing */
    uint32_t testing_lost;     /* of those, declared lost */
    tern_tstamp testing_start; /* first marked packet (0: none yet) */
    uint64_t sent;             /* packets sent with ECT(0) */
    uint64_t ce;               /* CE marks the peer counted for packets of this path */
    uint64_t ce_reductions;    /* window reductions those caused */
    uint64_t recv[3];          /* packets received on it with ECT(0), ECT(1), CE */
    /* Marked packets loss detection does not track (ACK-only): the peer counts them, but no ACK
     * says which arrived. `unrec_at` holds the count at the last two validated frames. */
    uint64_t unrec, unrec_at[2];
    uint32_t acked_ect; /* scratch: ECT(0) packets the ACK being processed newly acks */
} tern_ecn_path;

void tern_ecn_init(tern_ecn_path *e);

/* The codepoint (TERN_ECN_ECT0 or TERN_ECN_NOT_ECT) for datagrams leaving on the path at `now`,
 * `pto` being its current PTO. Ends the testing period after TERN_ECN_TESTING_PACKETS marked
 * packets or TERN_ECN_TESTING_PTOS PTOs. */
int tern_ecn_mark(tern_ecn_path *e, tern_tstamp now, tern_tstamp pto);

/* A packet left with ECT(0); `recorded`: loss detection tracks it (only those count for testing).
 */
void tern_ecn_on_sent(tern_ecn_path *e, int recorded, tern_tstamp now);

/* A recorded ECT(0) packet of this path was declared lost. When every packet marked during the
 * test was lost and the test is over, validation fails (marked packets may be dropped). */
void tern_ecn_on_lost(tern_ecn_path *e);

/* A datagram arrived on the path with codepoint `ecn` (receive-side counters only). */
void tern_ecn_on_recv(tern_ecn_path *e, int ecn);

/* Validates one ACK frame of a packet number space that raised its largest acknowledged packet
 * (older ones are not validated: their counts can be lower without any fault, §13.4.2.1).
 * `seen` holds the largest counts of that space so far and is updated; `got` the frame's counts
 * (NULL for an ACK without them). paths[0..n) are the connection's paths, with acked_ect set to
 * the ECT(0) packets this frame newly acknowledges on each. A path whose packets are newly
 * acknowledged fails when the counts are missing, decrease, count ECT(1) (never sent), fall short
 * of its ECT(0) packets, or report every packet of its test as CE (remarked). A shortfall is
 * charged to the paths not yet validated first: a path that proved itself is not failed by the
 * first packets of a new path that bleaches. A path not yet validated becomes CAPABLE only when
 * the counts cover its packets even if every ACK-only packet the other paths marked recently was
 * counted too: the counts are per packet number space, and marks that survive elsewhere must not
 * vouch for a path that bleaches. Returns the increase of the CE count (0 unless some path with
 * newly acknowledged packets is CAPABLE after the frame). */
uint64_t tern_ecn_on_ack(tern_ecn_counts *seen, const tern_ecn_counts *got,
                         tern_ecn_path *const *paths, size_t n);

#endif
