/* ACKs and CPU of a bulk download with the three acknowledgement policies in the same run: RFC
 * 9000's rule (one ACK per two packets), the receiver's bulk policy, and the ACK frequency
 * extension (the sender asks through ACK_FREQUENCY). A client and a server core in one process,
 * joined by a link of 1 ms each way (and a rate, 0 = unlimited) in virtual time: no sockets, so
 * the CPU figure is the protocol engine's, both ends together, and what an ACK costs shows in it
 * (building and protecting it at the receiver, opening and processing it at the sender).
 * usage: bench_ack_frequency [MB [RATE_MBIT [RUNS]]] (defaults 100, 0, 3); bench/ack_frequency.sh
 * pins it to a core. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conn_test.h"
#include "pair.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { RFC, BULK, EXT, MODES };
static const char *const names[MODES] = {"rfc9000", "bulk", "ack_frequency"};

typedef struct result {
    double cpu, vtime;
    uint64_t acks, pkts_c, afreq;
} result;

static int run(int mode, uint64_t mb, uint64_t rate_bps, uint64_t seed, result *out)
{
    tern_pair p;
    if (pair_init(&p, seed))
        return -1;
    p.c2s.delay_ns = p.s2c.delay_ns = 1000000ull;
    p.c2s.rate_bps = p.s2c.rate_bps = rate_bps;
    p.cfg_s.stream_send_buffer = 4u << 20;
    tern_config *cf[2] = {&p.cfg_c, &p.cfg_s};
    for (int i = 0; i < 2; i++) {
        cf[i]->ack_frequency = mode == EXT;
        if (mode == RFC)
            cf[i]->ack_bulk_after = 0;
    }
    if (!pair_run(&p, pair_cond_connected, 10000000000ull)) {
        pair_free(&p);
        return -1;
    }
    double t0 = cpu_seconds();
    uint64_t v0 = p.now;
    if (pair_request(&p, mb << 20) < 0 ||
        !pair_run(&p, pair_cond_all_done, 3600ull * 1000000000ull) || !pair_verify(&p)) {
        fprintf(stderr, "%s: transfer failed\n", names[mode]);
        pair_free(&p);
        return -1;
    }
    out->cpu = cpu_seconds() - t0;
    out->vtime = (double)(p.now - v0) / 1e9;
    tern_conn_stats c, s;
    tern_conn_get_stats(p.client, &c);
    tern_conn_get_stats(p.server, &s);
    out->acks = c.acks_sent;
    out->pkts_c = c.pkts_sent;
    out->afreq = s.ack_frequency_sent;
    pair_free(&p);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
    uint64_t rate = argc > 2 ? strtoull(argv[2], NULL, 10) * 1000000ull : 0;
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    if (mb == 0 || runs < 1 || runs > 99)
        return 2;
    result best[MODES];
    double cpu[MODES][99];
    /* the modes interleaved, so that a busy machine weighs on each alike; the median CPU */
    for (int r = 0; r < runs; r++)
        for (int m = 0; m < MODES; m++) {
            if (run(m, mb, rate, 42 + (uint64_t)r, &best[m]))
                return 1;
            cpu[m][r] = best[m].cpu;
        }
    printf("ack_frequency: %llu MB download, 1 ms each way, %s, median of %d runs\n",
           (unsigned long long)mb, rate ? "rate-limited" : "no rate limit", runs);
    printf("%-14s %10s %12s %10s %12s %10s %8s\n", "policy", "ACKs", "ACKs/MB", "cli pkts",
           "CPU s", "MB/CPU-s", "vtime s");
    double med[MODES];
    for (int m = 0; m < MODES; m++) {
        qsort(cpu[m], (size_t)runs, sizeof(double), cmp);
        med[m] = cpu[m][runs / 2];
        printf("%-14s %10llu %12.1f %10llu %12.3f %10.1f %8.3f\n", names[m],
               (unsigned long long)best[m].acks, (double)best[m].acks / (double)mb,
               (unsigned long long)best[m].pkts_c, med[m], (double)mb / med[m], best[m].vtime);
    }
    printf("ratios against rfc9000: ACKs bulk %.2fx ack_frequency %.2fx fewer; "
           "CPU bulk %.3f ack_frequency %.3f (below 1: cheaper); ACK_FREQUENCY frames %llu\n",
           (double)best[RFC].acks / (double)best[BULK].acks,
           (double)best[RFC].acks / (double)best[EXT].acks, med[BULK] / med[RFC],
           med[EXT] / med[RFC], (unsigned long long)best[EXT].afreq);
    return 0;
}
