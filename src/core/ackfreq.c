/* The ACK frequency extension's sender policy and frame checks (see ackfreq.h). */
#include "ackfreq.h"

/* ACKs asked for per congestion window: more in slow start, where every ACK grows the window and
 * the sender's pacing follows the ACK clock more closely. */
#define ACKS_PER_CWND_SLOW_START 8
#define ACKS_PER_CWND 4
#define MAX_EVERY_LIMIT (1u << 20)

void tern_ackfreq_init(tern_ackfreq *af)
{
    memset(af, 0, sizeof(*af));
}

int tern_ackfreq_config_ok(const tern_config *cfg)
{
    if (cfg->min_ack_delay_us > 25000 || cfg->ack_bulk_every > MAX_EVERY_LIMIT)
        return TERN_ERR_CONFIG;
    return 0;
}

void tern_ackfreq_on_peer_params(tern_ackfreq *af, int enabled, int has_min, uint64_t min_us,
                                 uint32_t max_every)
{
    af->peer_ok = enabled && has_min && max_every >= 2;
    af->peer_min_us = (uint32_t)TERN_MIN(min_us, (uint64_t)UINT32_MAX); /* checked: < 2^14 ms */
    af->max_every = max_every;
}

void tern_ackfreq_update(tern_ackfreq *af, const tern_ackfreq_input *in, tern_tstamp now)
{
    if (!af->peer_ok || !in->mss)
        return;
    /* threshold: one ACK per `every` packets, a fixed share of the window, bounded */
    uint64_t pkts = in->cwnd / in->mss;
    uint64_t every = pkts / (in->slow_start ? ACKS_PER_CWND_SLOW_START : ACKS_PER_CWND);
    every = TERN_MAX(2, TERN_MIN(every, af->max_every));
    uint64_t threshold = every - 1;
    /* delay: a quarter of the RTT, never above the peer's own max_ack_delay (our PTO allows for
     * that one), never below what the peer can do */
    uint64_t delay_us = in->peer_max_ack_delay / TERN_NS_PER_US;
    if (in->srtt)
        delay_us = TERN_MIN(delay_us, in->srtt / 4 / TERN_NS_PER_US);
    delay_us = TERN_MAX(delay_us, af->peer_min_us);
    /* reordering: an immediate ACK when our loss detection can act on the hole, not before */
    uint64_t reorder = in->pkt_threshold ? in->pkt_threshold : 3;

    /* what the peer follows now (or soon): RFC 9000's rule until a request went out */
    uint64_t cur_thr = af->asked || af->pending ? af->threshold : 1;
    uint64_t cur_reorder = af->asked || af->pending ? af->reorder : 1;
    uint64_t cur_delay = af->asked || af->pending ? af->delay_us : 0;
    int more_acks = threshold < cur_thr;
    if (!af->asked && !af->pending && threshold == 1)
        return; /* the peer already does that */
    if (!more_acks && in->bytes_in_flight < in->cwnd / 2)
        return;
    int changed = threshold != cur_thr || reorder != cur_reorder || !cur_delay ||
                  delay_us > cur_delay + cur_delay / 4 || delay_us + delay_us / 4 < cur_delay;
    if (!changed)
        return;
    if (!more_acks && af->asked && in->srtt && now < af->asked_at + in->srtt)
        return; /* fewer ACKs can wait for the round trip that shows whether the last change held */
    af->threshold = (uint32_t)threshold;
    af->delay_us = (uint32_t)TERN_MIN(delay_us, TERN_ACKFREQ_MAX_DELAY_US - 1);
    af->reorder = (uint32_t)TERN_MIN(reorder, (uint64_t)UINT32_MAX);
    af->pending = 1;
}

size_t tern_ackfreq_write(tern_ackfreq *af, uint8_t *p, size_t cap, tern_tstamp now, uint64_t *seq)
{
    if (!af->pending)
        return 0;
    size_t n = tern_frame_write_ack_frequency(p, cap, af->next_seq, af->threshold, af->delay_us,
                                              af->reorder);
    if (!n)
        return 0;
    *seq = af->next_seq++;
    af->asked = 1;
    af->asked_at = now;
    af->pending = 0;
    return n;
}

void tern_ackfreq_on_lost(tern_ackfreq *af, uint64_t seq)
{
    if (af->asked && seq + 1 == af->next_seq)
        af->pending = 1; /* the newest: sent again, under a new sequence number; older ones are
                          * superseded (only the newest request matters) */
}

tern_tstamp tern_ackfreq_rx_delay(const tern_ackfreq *af, tern_tstamp dflt)
{
    return af->rx_set ? (tern_tstamp)af->rx_delay_us * TERN_NS_PER_US : dflt;
}

int tern_ackfreq_on_frame(tern_ackfreq *af, const tern_frame *f, int enabled, uint64_t local_min_us,
                          uint64_t *terr)
{
    uint64_t d = f->u.ack_freq.max_ack_delay_us;
    if (!enabled || d < local_min_us || d >= TERN_ACKFREQ_MAX_DELAY_US) {
        *terr = TERN_TE_PROTOCOL_VIOLATION;
        return TERN_ERR_PROTO;
    }
    if (f->u.ack_freq.seq < af->rx_next_seq)
        return 0; /* reordered behind a newer one */
    af->rx_next_seq = f->u.ack_freq.seq + 1;
    af->rx_set = 1;
    af->rx_delay_us = (uint32_t)d;
    return 1;
}

int tern_ackfreq_on_immediate(tern_ackfreq *af, int enabled, uint64_t *terr)
{
    if (!enabled) {
        *terr = TERN_TE_PROTOCOL_VIOLATION;
        return TERN_ERR_PROTO;
    }
    af->rx_immediate = 1;
    return 0;
}
