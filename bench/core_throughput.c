/* Core-only throughput: a client and a server connection in one process, joined by a 1 ms link in
 * virtual time, move one large download. No sockets: the figure is the CPU cost of the protocol
 * engine itself (framing, packet protection, ACKs, recovery) for both ends together. */
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

int main(int argc, char **argv)
{
    uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 200;
    tern_pair p;
    if (pair_init(&p, 42))
        return 1;
    p.c2s.delay_ns = p.s2c.delay_ns = 1000000ull;
    p.cfg_s.stream_send_buffer = 4u << 20;
    if (!pair_run(&p, pair_cond_connected, 10000000000ull))
        return 1;
    double t0 = cpu_seconds();
    uint64_t v0 = p.now;
    if (pair_request(&p, mb << 20) < 0)
        return 1;
    if (!pair_run(&p, pair_cond_all_done, 3600ull * 1000000000ull) || !pair_verify(&p)) {
        fprintf(stderr, "transfer failed\n");
        return 1;
    }
    double cpu = cpu_seconds() - t0;
    tern_conn_stats s;
    tern_conn_get_stats(p.server, &s);
    printf("core_throughput: %llu MB in %.3f s CPU (both ends) = %.1f MB/s, %.0f ns/packet; "
           "virtual time %.3f s, %llu packets sent by the server, %llu lost\n",
           (unsigned long long)mb, cpu, (double)mb / cpu, cpu * 1e9 / (double)s.pkts_sent,
           (double)(p.now - v0) / 1e9, (unsigned long long)s.pkts_sent,
           (unsigned long long)s.pkts_lost);
    pair_free(&p);
    return 0;
}
