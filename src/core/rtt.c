/* RTT estimation of one path, RFC 9002 §5: latest, smoothed and variance with the first-sample
 * special case, min_rtt, and the peer's ack delay subtracted only when that keeps the sample at or
 * above min_rtt. */
#include "rtt.h"

void tern_rtt_init(tern_rtt *r)
{
    r->latest = 0;
    r->smoothed = TERN_INITIAL_RTT;
    r->var = TERN_INITIAL_RTT / 2;
    r->min = 0;
    r->first_sample_time = 0;
    r->has_sample = 0;
    r->samples = 0;
}

void tern_rtt_update(tern_rtt *r, tern_tstamp latest, tern_tstamp ack_delay,
                     tern_tstamp max_ack_delay, int handshake_confirmed, tern_tstamp now)
{
    r->latest = latest;
    r->samples++;
    if (!r->has_sample) {
        r->min = latest;
        r->smoothed = latest;
        r->var = latest / 2;
        r->first_sample_time = now;
        r->has_sample = 1;
        return;
    }
    if (latest < r->min)
        r->min = latest;
    /* Before confirmation the peer's max_ack_delay is not trusted to bound its delays. */
    if (handshake_confirmed && ack_delay > max_ack_delay)
        ack_delay = max_ack_delay;
    tern_tstamp adjusted = latest;
    if (latest - r->min >= ack_delay)
        adjusted = latest - ack_delay;
    tern_tstamp diff = r->smoothed > adjusted ? r->smoothed - adjusted : adjusted - r->smoothed;
    r->var = (3 * r->var + diff) / 4;
    r->smoothed = (7 * r->smoothed + adjusted) / 8;
}

tern_tstamp tern_rtt_pto(const tern_rtt *r, tern_tstamp max_ack_delay)
{
    tern_tstamp v4 = 4 * r->var;
    return r->smoothed + (v4 > TERN_GRANULARITY ? v4 : TERN_GRANULARITY) + max_ack_delay;
}
