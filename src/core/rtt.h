/* RTT estimation (RFC 9002 §5). One per path. */
#ifndef TERN_CORE_RTT_H
#define TERN_CORE_RTT_H

#include "common.h"

#define TERN_INITIAL_RTT (333 * TERN_NS_PER_MS)
#define TERN_GRANULARITY (1 * TERN_NS_PER_MS)

typedef struct tern_rtt {
    tern_tstamp latest, smoothed, var, min;
    tern_tstamp first_sample_time;
    int has_sample;
    uint64_t samples; /* taken so far: a min from one sample may be one late answer */
} tern_rtt;

void tern_rtt_init(tern_rtt *r);
/* A new sample. ack_delay is the peer's reported delay (ns), capped by max_ack_delay once the
 * handshake is confirmed; it is not subtracted when that would take the sample below min_rtt. */
void tern_rtt_update(tern_rtt *r, tern_tstamp latest, tern_tstamp ack_delay, tern_tstamp max_ack_delay,
                     int handshake_confirmed, tern_tstamp now);
/* PTO duration without backoff: smoothed + max(4*var, granularity) (+ max_ack_delay when given). */
tern_tstamp tern_rtt_pto(const tern_rtt *r, tern_tstamp max_ack_delay);

#endif
