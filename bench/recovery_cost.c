/* CPU cost of loss detection per ACK: a sender keeps a window of W packets in flight on a 50 ms
 * path in virtual time and receives an ACK every second packet, each one acknowledging the two
 * packets sent one window earlier with the ranges a receiver would report (a gap for every packet
 * it never got, up to 32 ranges). "loss" drops one packet per round trip, which keeps a lost record
 * at the head of the sent-packet ring; "no loss" drops nothing. The figure is the mean time of
 * tern_recovery_on_ack (monotonic clock; pin it with taskset), with the most records held, per
 * window size.
 *
 * usage: bench_recovery_cost [ROUND_TRIPS]   (default 10 measured round trips per case) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recovery.h"

#define RTT_NS (50 * TERN_NS_PER_MS)
#define MAX_RANGES 32

static double clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: cheap enough to time one call */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct counts {
    uint64_t acked, lost;
} counts;

static void on_acked(void *ud, int space, const tern_sent_pkt *p)
{
    (void)space;
    (void)p;
    ((counts *)ud)->acked++;
}

static void on_lost(void *ud, int space, const tern_sent_pkt *p)
{
    (void)space;
    (void)p;
    ((counts *)ud)->lost++;
}

static int dropped(uint64_t pn, uint64_t w, int loss)
{
    return loss && pn % w == w / 2;
}

/* The ACK a receiver sends after getting everything up to `hi` except the dropped packets. */
static size_t ack_ranges(tern_pn_range *r, uint64_t hi, uint64_t w, int loss)
{
    size_t n = 0;
    uint64_t top = hi;
    for (;;) {
        uint64_t lo = top;
        while (lo > 0 && !dropped(lo - 1, w, loss))
            lo--;
        r[n].lo = lo;
        r[n].hi = top;
        n++;
        if (lo < 2 || n == MAX_RANGES)
            break;
        top = lo - 2; /* lo - 1 was dropped */
        if (dropped(top, w, loss))
            break;
    }
    return n;
}

static int run(uint64_t w, int loss, uint64_t round_trips, double *ns_per_ack, size_t *records,
               size_t *peak)
{
    tern_rtt rtt;
    tern_cc cc;
    tern_rtt_init(&rtt);
    tern_cc_init(&cc, TERN_CC_NEWRENO, 1200);
    counts k = {0};
    tern_recovery_cb cb = {on_acked, on_lost, NULL, NULL};
    tern_recovery r;
    tern_recovery_init(&r, 1, &rtt, &cc, &cb, &k);
    r.handshake_confirmed = 1;
    r.max_in_flight_records = 1u << 20;
    tern_sent_pkt p;
    memset(&p, 0, sizeof(p));
    p.size = 1200;
    p.ack_eliciting = p.in_flight = 1;
    p.n_frames = 1;
    p.frames[0].type = TERN_FT_STREAM;
    p.frames[0].len = 1100;
    tern_pn_range rg[MAX_RANGES];
    tern_tstamp now = TERN_NS_PER_MS * 1000, step = RTT_NS / w;
    uint64_t warm = 3 * w, total = (3 + round_trips) * w, acks = 0;
    double spent = 0;
    *peak = 0;
    for (uint64_t pn = 0; pn < total; pn++) {
        now += step;
        p.pn = pn;
        p.time_sent = now;
        p.frames[0].off = pn * 1100;
        cc.cwnd = 2 * w * 1200; /* the sender keeps W in flight, whatever the controller says */
        if (tern_recovery_on_sent(&r, TERN_SPACE_APP, &p)) {
            fprintf(stderr, "on_sent failed at pn %llu\n", (unsigned long long)pn);
            tern_recovery_free(&r);
            return -1;
        }
        if (pn < w || pn % 2)
            continue;
        uint64_t hi = pn - w + 1;
        if (dropped(hi, w, loss))
            hi--;
        tern_pn_range_list l = {rg, ack_ranges(rg, hi, w, loss)};
        double t0 = pn >= warm ? clock_ns() : 0;
        if (tern_recovery_on_ack(&r, TERN_SPACE_APP, &l, 0, now)) {
            fprintf(stderr, "on_ack failed at pn %llu\n", (unsigned long long)pn);
            tern_recovery_free(&r);
            return -1;
        }
        if (pn >= warm) {
            spent += clock_ns() - t0;
            acks++;
        }
        if (r.q[TERN_SPACE_APP].count > *peak)
            *peak = r.q[TERN_SPACE_APP].count;
    }
    *ns_per_ack = acks ? spent / (double)acks : 0;
    *records = r.q[TERN_SPACE_APP].count;
    tern_recovery_free(&r);
    return loss && k.lost == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    uint64_t rts = argc > 1 ? strtoull(argv[1], NULL, 10) : 10;
    static const uint64_t windows[] = {1000, 4000, 16000, 64000};
    printf("recovery_cost: mean time per ACK (tern_recovery_on_ack), 50 ms RTT, ACK every 2nd "
           "packet, %llu round trips measured\n",
           (unsigned long long)rts);
    printf("  %8s  %14s %9s  %14s %9s  %s\n", "window", "no loss ns/ACK", "records",
           "1 loss/RTT ns", "records", "loss/no-loss");
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        double a, b;
        size_t ra, rb, pa, pb;
        if (run(windows[i], 0, rts, &a, &ra, &pa) || run(windows[i], 1, rts, &b, &rb, &pb)) {
            printf("  %8llu  failed\n", (unsigned long long)windows[i]);
            return 1;
        }
        printf("  %8llu  %14.1f %9zu  %14.1f %9zu  %.2f\n", (unsigned long long)windows[i], a, pa,
               b, pb, a > 0 ? b / a : 0);
    }
    return 0;
}
