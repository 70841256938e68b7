/* Migration benchmark in virtual time: a download over a 40 ms RTT, 50 Mbit/s link while the client
 * switches its local address, (a) to a path it probed and validated beforehand, (b) to an address it
 * never probed. Prints, per scenario: the longest gap in delivered data around the switch, the time
 * until the delivery rate is back to 90% of its rate before the switch, the packets lost and the
 * stream bytes resent because of the switch. Deterministic: the same seed prints the same figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "migration.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define RTT (40 * MS)
#define MAX_SAMPLES (1 << 20)

typedef struct sample {
    uint64_t t, bytes;
} sample;

static sample *samples;
static size_t nsamples;

static void on_data(tern_pair *p, uint64_t n)
{
    if (nsamples < MAX_SAMPLES)
        samples[nsamples++] = (sample){p->now, n};
}

static int cond_never(tern_pair *p) { return 0; }
static int cond_confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}
static int cond_validated(tern_pair *p) { return p->path_events[TERN_PATH_EV_VALIDATED] > 0; }

static uint64_t bytes_between(uint64_t a, uint64_t b)
{
    uint64_t n = 0;
    for (size_t i = 0; i < nsamples; i++)
        if (samples[i].t > a && samples[i].t <= b)
            n += samples[i].bytes;
    return n;
}

typedef struct result {
    double gap_ms, gap_rtts, back90_ms, back90_rtts;
    uint64_t lost, resent;
    int ok;
} result;

static int run(int probe_first, uint64_t seed, result *r)
{
    tern_pair p;
    memset(r, 0, sizeof(*r));
    nsamples = 0;
    if (pair_init(&p, seed))
        return -1;
    p.c2s.delay_ns = p.s2c.delay_ns = RTT / 2;
    p.c2s.rate_bps = p.s2c.rate_bps = 50000000ull;
    p.c2s.queue_limit = p.s2c.queue_limit = 250; /* about 1.5 bandwidth-delay products */
    tern_addr_parse(&p.alt_addr, "10.0.0.3:6000", 0); /* the second interface: its own link */
    p.c2s_alt = p.c2s;
    p.s2c_alt = p.s2c;
    p.cfg_s.stream_send_buffer = 4u << 20;
    p.on_data = on_data;
    if (!pair_run(&p, cond_confirmed, 10 * SEC))
        return -1;
    if (pair_request(&p, 60ull << 20) < 0)
        return -1;
    tern_addr next;
    tern_addr_parse(&next, "10.0.0.3:6000", 0);
    /* steady state first */
    pair_run(&p, cond_never, 3 * SEC);
    if (probe_first) {
        if (tern_conn_path_add(p.client, &next, p.now) < 0 ||
            !pair_run(&p, cond_validated, 5 * SEC))
            return -1;
        pair_run(&p, cond_never, 500 * MS);
    }
    tern_conn_stats before_c, before_s;
    tern_conn_get_stats(p.client, &before_c);
    tern_conn_get_stats(p.server, &before_s);
    uint64_t ts = p.now;
    double steady = (double)bytes_between(ts - SEC, ts) / 1.0; /* bytes per second */
    if (tern_conn_path_set_active(p.client, &next, p.now) < 0)
        return -1;
    pair_run(&p, cond_never, 2 * SEC);
    tern_conn_stats after_s;
    tern_conn_get_stats(p.server, &after_s);

    /* longest gap between deliveries from one RTT before the switch to 20 RTTs after */
    uint64_t prev = 0, gap = 0;
    for (size_t i = 0; i < nsamples; i++) {
        if (samples[i].t < ts - RTT || samples[i].t > ts + 20 * RTT)
            continue;
        if (prev && samples[i].t - prev > gap)
            gap = samples[i].t - prev;
        prev = samples[i].t;
    }
    /* first RTT-long window after the switch whose rate reaches 90% of the steady rate */
    uint64_t back = 0;
    for (uint64_t k = 1; k <= 50; k++) {
        uint64_t a = ts + (k - 1) * RTT, b = ts + k * RTT;
        double rate = (double)bytes_between(a, b) * (double)SEC / (double)RTT;
        if (rate >= 0.9 * steady) {
            back = b - ts;
            break;
        }
    }
    r->gap_ms = (double)gap / (double)MS;
    r->gap_rtts = (double)gap / (double)RTT;
    r->back90_ms = back ? (double)back / (double)MS : -1;
    r->back90_rtts = back ? (double)back / (double)RTT : -1;
    r->lost = after_s.pkts_lost - before_s.pkts_lost;
    r->resent = after_s.stream_bytes_resent - before_s.stream_bytes_resent;
    r->ok = 1;
    pair_free(&p);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    samples = calloc(MAX_SAMPLES, sizeof(*samples));
    if (!samples)
        return 1;
    static const char *names[2] = {"switch to an unprobed path", "switch to a validated path"};
    static const double gap_target[2] = {2, 1}, back_target[2] = {8, 6};
    int fail = 0;
    printf("migration benchmark: 40 ms RTT, 50 Mbit/s, download, seed %llu\n",
           (unsigned long long)seed);
    for (int probe = 1; probe >= 0; probe--) {
        result r;
        if (run(probe, seed, &r) || !r.ok) {
            printf("  %-28s: run failed\n", names[probe]);
            fail = 1;
            continue;
        }
        /* "no loss because of the switch": no stream byte had to be sent again (a probe that a
         * full queue drops on the old path is counted in packets lost, but carries no data) */
        int good = r.gap_rtts <= gap_target[probe] && r.back90_rtts >= 0 &&
                   r.back90_rtts <= back_target[probe] && (!probe || r.resent == 0);
        fail |= !good;
        printf("  %-28s: longest gap %.1f ms (%.2f RTT, target <= %.0f), back to 90%% in %.0f ms "
               "(%.1f RTT, target <= %.0f), packets lost %llu, stream bytes resent %llu  [%s]\n",
               names[probe], r.gap_ms, r.gap_rtts, gap_target[probe], r.back90_ms, r.back90_rtts,
               back_target[probe], (unsigned long long)r.lost, (unsigned long long)r.resent,
               good ? "meets target" : "MISSES target");
    }
    free(samples);
    return fail;
}
