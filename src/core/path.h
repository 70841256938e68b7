/* A network path: a (local, remote) address pair with everything RFC 9000 §9.4 says belongs to it:
 * RTT estimator, congestion controller, pacer, the anti-amplification budget, validation state and
 * the peer connection ID it uses. The connection keeps paths in a fixed array; the active one is
 * paths[c->active]. */
#ifndef TERN_CORE_PATH_H
#define TERN_CORE_PATH_H

#include "cc.h"
#include "common.h"
#include "rtt.h"

#define TERN_MAX_PATHS 8

enum tern_path_state {
    TERN_PATH_UNUSED = 0,
    TERN_PATH_PROBING,
    TERN_PATH_VALIDATED,
    TERN_PATH_FAILED,
    TERN_PATH_ABANDONED,
};

typedef struct tern_path {
    tern_path_addr addr;
    uint8_t id;
    int state;
    int validated;              /* address validated: the amplification limit no longer applies */
    tern_rtt rtt;
    tern_cc cc;
    tern_pacer pacer;
    uint64_t bytes_recv, bytes_sent;   /* UDP payload bytes, for the 3x amplification limit */
    uint64_t pkts_sent, pkts_recv, pkts_lost;
    size_t mtu;                 /* datagram size used on this path */
    /* PATH_CHALLENGE we sent and are waiting to be answered */
    uint8_t challenge[8];
    int challenge_outstanding;
    /* PATH_RESPONSE owed to the peer (the latest challenge received on this path) */
    uint8_t response[8];
    int response_pending;
} tern_path;

void tern_path_init(tern_path *p, uint8_t id, const tern_path_addr *addr, int cc_algo, size_t mtu);

/* Bytes the amplification limit still allows (SIZE_MAX once validated). */
static inline uint64_t tern_path_amp_budget(const tern_path *p)
{
    if (p->validated)
        return UINT64_MAX;
    uint64_t lim = 3 * p->bytes_recv;
    return lim > p->bytes_sent ? lim - p->bytes_sent : 0;
}

#endif
