/* Congestion control of one path: NewReno (RFC 9002 §7, Appendix B) and CUBIC (RFC 9438) behind one
 * interface, plus the pacer's token bucket. Windows are in bytes; CUBIC's cubic function works in
 * bytes too (its constant C is scaled by the datagram size) so no unit conversions leak out. */
#include "cc.h"

#include <math.h>

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define PACER_BURST_PKTS 10

static uint64_t initial_window(uint64_t mds)
{
    return TERN_MIN(10 * mds, TERN_MAX(14720, 2 * mds));
}

static uint64_t min_window(const tern_cc *cc)
{
    return 2 * cc->max_datagram_size;
}

void tern_cc_init(tern_cc *cc, tern_cc_algo algo, uint64_t max_datagram_size)
{
    memset(cc, 0, sizeof(*cc));
    cc->algo = algo;
    cc->max_datagram_size = max_datagram_size ? max_datagram_size : TERN_MIN_INITIAL_SIZE;
    tern_cc_reset(cc);
}

void tern_cc_set_max_datagram_size(tern_cc *cc, uint64_t mds)
{
    if (!mds || mds == cc->max_datagram_size)
        return;
    /* RFC 9002 §7.2: an initial window still untouched is recalculated with the new size */
    if (cc->cwnd == initial_window(cc->max_datagram_size) && cc->ssthresh == UINT64_MAX)
        cc->cwnd = initial_window(mds);
    cc->max_datagram_size = mds;
    cc->cwnd = TERN_MAX(cc->cwnd, min_window(cc));
}

void tern_cc_reset(tern_cc *cc)
{
    cc->cwnd = initial_window(cc->max_datagram_size);
    cc->ssthresh = UINT64_MAX;
    cc->recovery_start = TERN_TS_INF;
    cc->in_recovery = 0;
    cc->undo.valid = 0;
    cc->last_reduction = 0;
    cc->bytes_acked = 0;
    cc->w_max = cc->k = cc->cwnd_prior = cc->w_est = cc->cwnd_frac = 0;
    cc->epoch_start = 0;
    cc->hs_round_start = 0;
    cc->hs_cur_round_min = cc->hs_last_round_min = TERN_TS_INF;
    cc->hs_samples = 0;
    cc->hs_css = 0;
    cc->hs_css_rounds = 0;
}

void tern_cc_on_sent(tern_cc *cc, uint64_t bytes)
{
    cc->bytes_in_flight += bytes;
}

void tern_cc_on_removed(tern_cc *cc, uint64_t bytes)
{
    cc->bytes_in_flight = cc->bytes_in_flight > bytes ? cc->bytes_in_flight - bytes : 0;
}

static int in_recovery_period(const tern_cc *cc, tern_tstamp time_sent)
{
    return cc->recovery_start != TERN_TS_INF && time_sent <= cc->recovery_start;
}

/* W_cubic(t) = C (t - K)^3 + W_max, in bytes with t in seconds. */
static double w_cubic(const tern_cc *cc, double t)
{
    double d = t - cc->k;
    return CUBIC_C * (double)cc->max_datagram_size * d * d * d + cc->w_max;
}

static void cubic_avoidance(tern_cc *cc, uint64_t bytes, const tern_rtt *rtt, tern_tstamp now)
{
    double mds = (double)cc->max_datagram_size;
    double cwnd = (double)cc->cwnd;
    if (cc->epoch_start == 0) {
        /* RFC 9438 §4.2: a new epoch starts with the first congestion-avoidance ack. */
        cc->epoch_start = now ? now : 1;
        if (cc->w_max <= cwnd) {
            cc->w_max = cwnd;
            cc->k = 0;
        } else {
            cc->k = cbrt((cc->w_max - cwnd) / (CUBIC_C * mds));
        }
        cc->w_est = cwnd;
        cc->cwnd_frac = 0;
    }
    double t = (double)(now - cc->epoch_start) / 1e9;
    double srtt = rtt ? (double)rtt->smoothed / 1e9 : 0;

    /* Reno-friendly estimate (§4.3): alpha makes it as aggressive as Reno with beta 0.7 until it
     * passes the window before the last reduction, then plain Reno. */
    double alpha = cc->w_est < cc->cwnd_prior ? 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) : 1.0;
    cc->w_est += alpha * mds * (double)bytes / cwnd;

    double next;
    if (w_cubic(cc, t) < cc->w_est) {
        next = cc->w_est;
    } else {
        double target = w_cubic(cc, t + srtt);
        if (target < cwnd)
            target = cwnd;
        else if (target > 1.5 * cwnd)
            target = 1.5 * cwnd;
        next = cwnd + (target - cwnd) * (double)bytes / cwnd + cc->cwnd_frac;
    }
    if (next <= cwnd)
        return;
    double whole = floor(next);
    cc->cwnd_frac = next - whole;
    cc->cwnd = (uint64_t)whole;
}

/* HyStart++ (RFC 9406): slow start watches the minimum RTT of each round; when it rises by a
 * threshold the queue is filling, so growth slows down (conservative slow start) and, if the rise
 * holds for a few rounds, slow start ends before it overflows the bottleneck queue. A round ends
 * when a packet sent after the round began is acknowledged. */
#define HS_MIN_RTT_THRESH (4 * TERN_NS_PER_MS)
#define HS_MAX_RTT_THRESH (16 * TERN_NS_PER_MS)
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5

static void hystart_on_ack(tern_cc *cc, tern_tstamp time_sent, const tern_rtt *rtt, tern_tstamp now)
{
    if (!rtt || !rtt->has_sample)
        return;
    if (time_sent >= cc->hs_round_start) {
        /* a new round */
        cc->hs_last_round_min = cc->hs_cur_round_min;
        cc->hs_cur_round_min = TERN_TS_INF;
        cc->hs_samples = 0;
        cc->hs_round_start = now;
        if (cc->hs_css && ++cc->hs_css_rounds >= HS_CSS_ROUNDS) {
            cc->ssthresh = cc->cwnd; /* the rise held: congestion avoidance from here */
            cc->hs_css = 0;
            return;
        }
    }
    if (rtt->latest < cc->hs_cur_round_min)
        cc->hs_cur_round_min = rtt->latest;
    cc->hs_samples++;
    if (cc->hs_samples < HS_N_RTT_SAMPLE || cc->hs_last_round_min == TERN_TS_INF ||
        cc->hs_last_round_min == 0)
        return;
    if (!cc->hs_css) {
        tern_tstamp thresh = cc->hs_last_round_min / HS_MIN_RTT_DIVISOR;
        thresh = TERN_MAX(HS_MIN_RTT_THRESH, TERN_MIN(thresh, HS_MAX_RTT_THRESH));
        if (cc->hs_cur_round_min >= cc->hs_last_round_min + thresh) {
            cc->hs_css = 1;
            cc->hs_css_rounds = 0;
            cc->hs_css_baseline = cc->hs_cur_round_min;
        }
    } else if (cc->hs_cur_round_min < cc->hs_css_baseline) {
        cc->hs_css = 0; /* the rise was spurious: back to slow start */
    }
}

void tern_cc_on_acked(tern_cc *cc, uint64_t bytes, tern_tstamp time_sent, const tern_rtt *rtt,
                      tern_tstamp now, int app_limited)
{
    tern_cc_on_removed(cc, bytes);
    if (in_recovery_period(cc, time_sent))
        return;
    cc->in_recovery = 0;
    /* RFC 9002 §7.8: an unused window has not been proven usable, so it does not grow. */
    if (app_limited)
        return;
    if (cc->cwnd < cc->ssthresh) {
        hystart_on_ack(cc, time_sent, rtt, now);
        if (cc->cwnd >= cc->ssthresh)
            return; /* HyStart++ just ended slow start */
        cc->cwnd += cc->hs_css ? bytes / HS_CSS_GROWTH_DIVISOR : bytes;
        return;
    }
    if (cc->algo == TERN_CC_CUBIC) {
        cubic_avoidance(cc, bytes, rtt, now);
        return;
    }
    cc->bytes_acked += bytes;
    if (cc->bytes_acked >= cc->cwnd) {
        cc->bytes_acked -= cc->cwnd;
        cc->cwnd += cc->max_datagram_size;
    }
}

void tern_cc_on_congestion(tern_cc *cc, tern_tstamp time_sent, tern_tstamp now)
{
    if (in_recovery_period(cc, time_sent))
        return;
    cc->undo.cwnd = cc->cwnd;
    cc->undo.ssthresh = cc->ssthresh;
    cc->undo.w_max = cc->w_max;
    cc->undo.k = cc->k;
    cc->undo.cwnd_prior = cc->cwnd_prior;
    cc->undo.w_est = cc->w_est;
    cc->undo.recovery_start = cc->recovery_start;
    cc->undo.epoch_start = cc->epoch_start;
    cc->undo.in_recovery = cc->in_recovery;
    cc->undo.lost = 0;
    cc->undo.valid = 1;
    cc->undo.from = cc->last_reduction;
    cc->last_reduction = now;
    cc->recovery_start = now;
    cc->in_recovery = 1;
    cc->congestion_events++;
    cc->bytes_acked = 0;
    if (cc->algo == TERN_CC_CUBIC) {
        double cwnd = (double)cc->cwnd;
        /* Fast convergence (§4.7): a flow losing below its previous maximum releases bandwidth. */
        cc->w_max = cwnd < cc->w_max ? cwnd * (1 + CUBIC_BETA) / 2 : cwnd;
        cc->cwnd_prior = cwnd;
        cc->ssthresh = (uint64_t)(cwnd * CUBIC_BETA);
        cc->epoch_start = 0;
    } else {
        cc->ssthresh = cc->cwnd / 2;
    }
    if (cc->ssthresh < min_window(cc))
        cc->ssthresh = min_window(cc);
    cc->cwnd = cc->ssthresh;
}

/* Whether a packet sent at `t` belongs to the last reduction: sent after the one before it began
 * and no later than it began. */
static int in_undo_epoch(const tern_cc *cc, tern_tstamp t)
{
    return cc->undo.valid && cc->recovery_start != TERN_TS_INF && t <= cc->recovery_start &&
           (cc->undo.from == 0 || t > cc->undo.from);
}

int tern_cc_on_ce(tern_cc *cc, tern_tstamp time_sent, tern_tstamp now)
{
    int reduced = !in_recovery_period(cc, time_sent);
    tern_cc_on_congestion(cc, time_sent, now);
    cc->undo.valid = 0;
    return reduced;
}

void tern_cc_on_lost(tern_cc *cc, tern_tstamp time_sent, uint64_t n)
{
    if (in_undo_epoch(cc, time_sent))
        cc->undo.lost += n;
}

void tern_cc_on_spurious(tern_cc *cc, tern_tstamp time_sent)
{
    if (!in_undo_epoch(cc, time_sent) || cc->undo.lost == 0)
        return;
    if (--cc->undo.lost)
        return;
    cc->cwnd = TERN_MAX(cc->cwnd, cc->undo.cwnd);
    cc->ssthresh = cc->undo.ssthresh;
    cc->w_max = cc->undo.w_max;
    cc->k = cc->undo.k;
    cc->cwnd_prior = cc->undo.cwnd_prior;
    cc->w_est = cc->undo.w_est;
    cc->epoch_start = cc->undo.epoch_start;
    cc->recovery_start = cc->undo.recovery_start;
    cc->in_recovery = cc->undo.in_recovery;
    cc->undo.valid = 0;
    cc->congestion_undone++;
}

void tern_cc_on_persistent_congestion(tern_cc *cc)
{
    cc->undo.valid = 0;
    cc->cwnd = min_window(cc);
    cc->recovery_start = TERN_TS_INF;
    cc->in_recovery = 0;
    cc->bytes_acked = 0;
    cc->epoch_start = 0;
}

void tern_pacer_init(tern_pacer *p, uint64_t max_datagram_size)
{
    p->last = 0;
    p->burst = PACER_BURST_PKTS * (max_datagram_size ? max_datagram_size : TERN_MIN_INITIAL_SIZE);
    p->tokens = p->burst;
}

void tern_pacer_set_max_datagram_size(tern_pacer *p, uint64_t mds)
{
    p->burst = PACER_BURST_PKTS * (mds ? mds : TERN_MIN_INITIAL_SIZE);
    p->tokens = TERN_MIN(p->tokens, p->burst);
}

static void pacer_refill(tern_pacer *p, uint64_t cwnd, tern_tstamp srtt, tern_tstamp now)
{
    if (now <= p->last)
        return;
    double add = (double)(now - p->last) * 1.25 * (double)cwnd / (double)srtt;
    p->last = now;
    if (add >= (double)(p->burst - p->tokens))
        p->tokens = p->burst;
    else
        p->tokens += (uint64_t)add;
}

tern_tstamp tern_pacer_next(tern_pacer *p, uint64_t bytes, uint64_t cwnd, tern_tstamp srtt,
                            tern_tstamp now)
{
    if (srtt == 0 || cwnd == 0)
        return now;
    pacer_refill(p, cwnd, srtt, now);
    uint64_t need = TERN_MIN(bytes, p->burst);
    if (p->tokens >= need)
        return now;
    double wait = ceil((double)(need - p->tokens) * (double)srtt / (1.25 * (double)cwnd));
    return now + (tern_tstamp)wait + 1; /* +1: the refill truncates to whole bytes */
}

void tern_pacer_on_sent(tern_pacer *p, uint64_t bytes, uint64_t cwnd, tern_tstamp srtt,
                        tern_tstamp now)
{
    if (srtt == 0 || cwnd == 0) {
        p->last = now;
        return;
    }
    pacer_refill(p, cwnd, srtt, now);
    p->tokens = p->tokens > bytes ? p->tokens - bytes : 0;
}
