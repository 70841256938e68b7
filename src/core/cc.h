/* Congestion control (RFC 9002 §7 NewReno, RFC 9438 CUBIC) with a common interface. One per path.
 * Counts bytes in flight; the recovery module calls it on send, ack, loss and persistent congestion. */
#ifndef TERN_CORE_CC_H
#define TERN_CORE_CC_H

#include "common.h"
#include "rtt.h"

typedef struct tern_cc {
    tern_cc_algo algo;
    uint64_t max_datagram_size;
    uint64_t cwnd, ssthresh, bytes_in_flight;
    tern_tstamp recovery_start;  /* packets sent at or before this do not trigger a new reduction
                                  * (TERN_TS_INF: no recovery period yet) */
    int in_recovery;             /* set by a reduction, cleared when a later-sent packet is acked */
    uint64_t bytes_acked;        /* NewReno congestion avoidance accumulator */
    /* CUBIC (RFC 9438) */
    double w_max, k, cwnd_prior; /* bytes, seconds, bytes */
    double w_est;                /* Reno-friendly estimate, bytes */
    double cwnd_frac;            /* CUBIC growth below one byte, carried to the next ack */
    tern_tstamp epoch_start;     /* 0 = no epoch */
    /* HyStart++ (RFC 9406) */
    tern_tstamp hs_round_start, hs_cur_round_min, hs_last_round_min, hs_css_baseline;
    uint32_t hs_samples, hs_css_rounds;
    int hs_css;
    uint64_t congestion_events;
    /* The state before the last reduction, restored when every loss that caused it proves
     * spurious (reordering, not congestion). */
    struct {
        uint64_t cwnd, ssthresh, lost;
        double w_max, k, cwnd_prior, w_est;
        tern_tstamp recovery_start, epoch_start;
        tern_tstamp from; /* packets sent after this (the reduction before, undone or not) */
        int in_recovery, valid;
    } undo;
    tern_tstamp last_reduction; /* when the latest reduction began (0: none) */
    uint64_t congestion_undone;
} tern_cc;

void tern_cc_init(tern_cc *cc, tern_cc_algo algo, uint64_t max_datagram_size);
/* The path's datagram size changed (path MTU discovery, RFC 9002 §7.2): an initial window not
 * yet grown or reduced is recalculated with it; the window never stays below two datagrams. */
void tern_cc_set_max_datagram_size(tern_cc *cc, uint64_t mds);
/* Back to the initial window (path migration to a new address). Bytes in flight are kept. */
void tern_cc_reset(tern_cc *cc);
void tern_cc_on_sent(tern_cc *cc, uint64_t bytes);
/* A packet of `bytes` sent at time_sent was acknowledged. app_limited: the sender was not using the
 * window (growth is then not allowed). */
void tern_cc_on_acked(tern_cc *cc, uint64_t bytes, tern_tstamp time_sent, const tern_rtt *rtt,
                      tern_tstamp now, int app_limited);
/* Packets leaving flight without an ack (lost or discarded): only bytes_in_flight changes. */
void tern_cc_on_removed(tern_cc *cc, uint64_t bytes);
/* A loss (or ECN-CE) of a packet sent at time_sent: reduce once per recovery period. */
void tern_cc_on_congestion(tern_cc *cc, tern_tstamp time_sent, tern_tstamp now);
/* The peer reported CE marks, the newest for a packet sent at time_sent (RFC 9002 §7.1, B.7): a
 * reduction as for a loss, once per recovery period (so at most one per round trip), that is
 * never undone, since a mark is no reordering. Also keeps a loss reduction of the same period
 * from being undone. Returns 1 when the window was reduced. */
int tern_cc_on_ce(tern_cc *cc, tern_tstamp time_sent, tern_tstamp now);
/* `n` packets, the newest sent at time_sent, were just declared lost (after any on_congestion for
 * them): they are what the reduction in force must answer for before it can be undone. */
void tern_cc_on_lost(tern_cc *cc, tern_tstamp time_sent, uint64_t n);
/* A packet sent at time_sent that was declared lost has been acknowledged after all. Once every
 * loss of the last reduction is known to be spurious, the reduction is undone (cwnd, ssthresh and
 * CUBIC's state as before it), as the reordering it reacted to was no congestion. */
void tern_cc_on_spurious(tern_cc *cc, tern_tstamp time_sent);
/* RFC 9002 §7.6: collapse to the minimum window. */
void tern_cc_on_persistent_congestion(tern_cc *cc);
/* Bytes that may be sent now (cwnd - in flight, 0 when none). */
static inline uint64_t tern_cc_available(const tern_cc *cc)
{
    return cc->cwnd > cc->bytes_in_flight ? cc->cwnd - cc->bytes_in_flight : 0;
}

/* Pacer: spreads a window's worth of packets over an RTT (RFC 9002 §7.7) with a small burst
 * allowance so that GSO batches stay efficient. A token bucket filled at 1.25 * cwnd / srtt,
 * holding at most 10 datagrams; srtt 0 (no sample) disables pacing. */
typedef struct tern_pacer {
    tern_tstamp last;     /* time of the last refill */
    uint64_t tokens;      /* bytes that may be sent without waiting */
    uint64_t burst;       /* bucket size in bytes */
} tern_pacer;

void tern_pacer_init(tern_pacer *p, uint64_t max_datagram_size);
/* The burst allowance follows the path's datagram size. */
void tern_pacer_set_max_datagram_size(tern_pacer *p, uint64_t mds);
/* Earliest time at which `bytes` may be sent (now when allowed). */
tern_tstamp tern_pacer_next(tern_pacer *p, uint64_t bytes, uint64_t cwnd, tern_tstamp srtt, tern_tstamp now);
void tern_pacer_on_sent(tern_pacer *p, uint64_t bytes, uint64_t cwnd, tern_tstamp srtt, tern_tstamp now);

#endif
