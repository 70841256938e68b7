/* Internal view of the endpoint (the public half is in tern/tern.h): counters and knobs for tests
 * and tools that link the library statically. */
#ifndef TERN_IO_ENDPOINT_H
#define TERN_IO_ENDPOINT_H

#include <stdint.h>

#include "core/dispatch.h"
#include "core/front.h"
#include "netmon.h"
#include "tern/tern.h"

/* The runtime's front door (core/front.h) issues CIDs of this length, keeps this many connections
 * at most, gives Retry tokens this lifetime and sends this many stateless resets per second. */
#define TERN_EP_CID_LEN TERN_FRONT_CID_LEN
#define TERN_EP_MAX_CONNS TERN_FRONT_MAX_CONNS
#define TERN_EP_RETRY_TOKEN_LIFETIME_NS TERN_FRONT_RETRY_TOKEN_LIFETIME_NS
#define TERN_EP_RESETS_PER_SEC TERN_FRONT_RESETS_PER_SEC

typedef struct tern_endpoint_stats {
    uint64_t dgrams_recv, bytes_recv; /* UDP datagrams (GRO trains counted per datagram) */
    uint64_t dgrams_sent, bytes_sent;
    uint64_t send_errors;   /* datagrams lost to errors other than EAGAIN */
    uint64_t send_blocked;  /* EAGAIN episodes */
    uint64_t gso_fallbacks; /* sockets that had to give up GSO */
    uint64_t dropped;       /* datagrams routed nowhere: dispatch.dropped (reasons in .dispatch) */
    uint64_t vn_sent, retry_sent, reset_sent;
    uint64_t conns_accepted, conns_created;
    uint64_t half_open;     /* server connections in their handshake now */
    /* datapath hooks */
    uint64_t hook_dropped;  /* dropped by a hook, or sent from an address without a socket */
    uint64_t hook_delayed;  /* queued by a hook */
    uint64_t hook_overflow; /* delays refused: queue full or datagram larger than a slot */
    uint64_t hook_queued;   /* waiting in the delay queue now */
    tern_dispatch_stats dispatch; /* the front door's own counters, drops by reason */
    tern_netmon_stats netmon;     /* the OS network monitor's (zeros when it is off) */
} tern_endpoint_stats;

void tern_endpoint_get_stats(tern_endpoint *ep, tern_endpoint_stats *out);

/* Replaces the 32-byte static key of stateless reset tokens. Takes effect for connections created
 * afterwards (tokens of live connections were derived from the old key). */
void tern_endpoint_set_reset_key(tern_endpoint *ep, const uint8_t key[32]);

#endif
