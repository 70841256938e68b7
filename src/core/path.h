/* A network path: a (local, remote) address pair with everything RFC 9000 §9.4 says belongs to it:
 * RTT estimator, congestion controller, pacer, the anti-amplification budget, validation state and
 * the peer connection ID it uses. The connection keeps them in slots, allocated when first used
 * (conn_internal.h); the active one is slot c->paths.active. */
#ifndef TERN_CORE_PATH_H
#define TERN_CORE_PATH_H

#include "cc.h"
#include "common.h"
#include "ecn.h"
#include "pmtud.h"
#include "rtt.h"

#define TERN_MAX_PATHS 16         /* slots per connection (config max_paths <= this) */
#define TERN_PATH_CHALLENGES 3    /* outstanding PATH_CHALLENGE values remembered per path */
#define TERN_PATH_RESPONSES 4     /* PATH_RESPONSEs owed per path (the latest challenges only) */

enum tern_path_slot_state {
    TERN_PATH_UNUSED = 0,
    TERN_PATH_PROBING,
    TERN_PATH_VALIDATED,
    TERN_PATH_FAILED,
    TERN_PATH_ABANDONED,
};

typedef struct tern_path {
    tern_path_addr addr;
    uint8_t id;
    int state;                  /* enum tern_path_slot_state; "active" is the connection's index */
    int validated;              /* address validated: the amplification limit no longer applies */
    int path_validated;         /* a PATH_RESPONSE (or the handshake) proved this path */
    tern_rtt rtt;
    tern_cc cc;
    tern_pacer pacer;
    uint64_t bytes_recv, bytes_sent;   /* UDP payload bytes, for the 3x amplification limit */
    uint64_t pkts_sent, pkts_recv, pkts_lost;
    tern_pmtud pmtud;           /* its path MTU: datagrams are at most pmtud.plpmtu bytes */
    int mtu_asked;              /* the driver was asked for (or told) its interface's MTU */
    tern_tstamp created, validated_at, last_recv;
    /* validation we run: challenge values sent and not yet answered (newest last) */
    uint8_t challenge[TERN_PATH_CHALLENGES][8];
    tern_tstamp challenge_at[TERN_PATH_CHALLENGES]; /* when each was sent */
    int nchallenge;
    int need_challenge;         /* send a (new) PATH_CHALLENGE on this path */
    int need_padded_challenge;  /* the last one went out unpadded (amplification): resend padded */
    tern_tstamp challenge_retx_at;   /* next retransmission (TERN_TS_INF when none) */
    tern_tstamp challenge_interval;  /* current retransmission interval (doubles) */
    tern_tstamp validation_deadline; /* TERN_TS_INF when not validating */
    tern_tstamp validation_period;   /* how long the current validation was given */
    int probe_pending;          /* added before the handshake was confirmed: start at confirmation */
    int waiting_cid;            /* no peer CID yet: waiting for NEW_CONNECTION_ID */
    /* PATH_RESPONSEs owed to the peer on this path */
    uint8_t response[TERN_PATH_RESPONSES][8];
    int nresponse;
    int fallback;               /* index of the path to return to if this one fails validation */
    int preferred;              /* the path to the server's preferred address */
    int gone;                   /* its interface or address went away while it was the only
                                   usable path: the tern_path_reason it ends with once the
                                   connection has moved (0: none) */
    uint64_t largest_pn_recv;   /* largest application pn received on this path (UINT64_MAX: none) */
    uint64_t validation_pn;     /* the first one received since its validation began (UINT64_MAX:
                                   none yet) */
    int validation_retried;     /* server: its validation was given a second period */
    tern_cid dcid;              /* our CID in the peer's last 1-RTT packet on this path */
    int shared_dcid;            /* server: opened by a packet whose CID another path used (a NAT
                                   rebinding, or a copy an attacker sent on) */
    /* what the migration policy (policy.c) keeps per path */
    int role;                   /* enum tern_policy_role: why the policy holds this path */
    tern_path_reason add_why;   /* the reason the policy created it (reported when it is used) */
    int probe_ping;             /* the next probe datagram carries a PING: a non-probing packet the
                                   peer may follow, sent ahead of the active path's PTO probes */
    tern_tstamp heard;          /* last authenticated packet received on it (0: none) */
    tern_tstamp last_active;    /* last time it stopped being (or was) the active path */
    tern_tstamp keepalive_sent; /* keep-alive challenge outstanding since (0: none) */
    int restored;               /* 0, 1 (RTT) or 2 (RTT and window) restored from the cache */
    uint64_t restored_cwnd;
    tern_ecn_path ecn;          /* ECN validation of this path (ecn.c) */
    /* multipath (mpspace.c, mpsched.c) */
    uint32_t mp_id;             /* the path ID it carries (0: path ID 0, or no multipath) */
    uint8_t mp_space;           /* its recovery space when mp_id is above 0 (mpspace.h) */
    uint8_t mp_failing;         /* unacknowledged PTOs in a row: not scheduled (mpsched.h) */
    uint32_t mp_failures;       /* times it became failing */
    uint64_t mp_stream_bytes;   /* stream bytes the scheduler put on it */
    uint64_t mp_app_limited_from; /* path ID above 0: see tern_conn_send_state.app_limited_from */
    uint8_t mp_backup_wanted;   /* the application marked it backup (tern_conn_path_set_backup):
                                   our status of the path ID it carries, set as soon as it has one */
    /* multipath idle rule (migration.c): the last non-probing packet received on it, the last
     * time something its path ID sent was acknowledged, the last keep-alive PING asked for */
    tern_tstamp mp_heard_np, mp_acked_at, mp_keepalive_at;
    uint8_t mp_keepalive;       /* the probe its path ID owes is that keep-alive: a PING only */
} tern_path;

/* State of a path that ended, kept per connection so that returning to the same network (the same
 * local and peer IPs; ports may differ: a new socket, a new NAT mapping) starts from what was
 * learnt there instead of the defaults. */
#define TERN_PATH_CACHE 4
typedef struct tern_path_cache_entry {
    tern_path_addr addr;
    tern_rtt rtt;
    tern_cc cc;
    tern_tstamp saved_at;       /* 0: empty slot */
} tern_path_cache_entry;

typedef struct tern_path_cache {
    tern_path_cache_entry e[TERN_PATH_CACHE];
} tern_path_cache;

/* Remembers the estimator and window of path `p` (which is ending) when it measured anything;
 * replaces the entry of the same network, else the oldest. */
void tern_path_cache_save(tern_path_cache *pc, const tern_path *p, tern_tstamp now);

/* Restores into the new path `p` the cached RTT when it is younger than rtt_max_ns, and the
 * congestion window too when younger than cc_max_ns (bytes in flight stay p's). Sets p->restored.
 * Returns p->restored. */
int tern_path_cache_restore(const tern_path_cache *pc, tern_path *p, tern_tstamp rtt_max_ns,
                            tern_tstamp cc_max_ns, tern_tstamp now);

/* 1 when both addresses have the same IP (ports ignored). */
int tern_addr_same_ip(const tern_addr *a, const tern_addr *b);

/* A new path, at the base PLPMTU whatever other paths learnt (its MTU is its own): `max_udp`
 * and `raise_ms` are tern_config.max_udp_payload and pmtud_raise_ms. */
void tern_path_init(tern_path *p, uint8_t id, const tern_path_addr *addr, tern_cc_algo cc_algo,
                    size_t max_udp, uint64_t raise_ms, tern_tstamp now);

/* The datagram size the path uses now. */
static inline size_t tern_path_mtu(const tern_path *p) { return p->pmtud.plpmtu; }

/* Bytes the amplification limit still allows (UINT64_MAX once validated). */
static inline uint64_t tern_path_amp_budget(const tern_path *p)
{
    if (p->validated)
        return UINT64_MAX;
    uint64_t lim = 3 * p->bytes_recv;
    return lim > p->bytes_sent ? lim - p->bytes_sent : 0;
}

/* NULL (a connection's slot that never held a path) is not in use. */
static inline int tern_path_in_use(const tern_path *p)
{
    return p && (p->state == TERN_PATH_PROBING || p->state == TERN_PATH_VALIDATED);
}

/* 1 when both addresses differ only in the port (the congestion state may be kept, RFC 9000 §9.4). */
int tern_path_only_port_changed(const tern_path_addr *a, const tern_path_addr *b);

/* Records a challenge value sent now (keeps the newest TERN_PATH_CHALLENGES). */
void tern_path_on_challenge_sent(tern_path *p, const uint8_t data[8], tern_tstamp now);

/* 1 when `data` answers one of our outstanding challenges (the outstanding set is then cleared);
 * *sent_at (may be NULL) receives when that challenge was sent. */
int tern_path_on_response(tern_path *p, const uint8_t data[8], tern_tstamp *sent_at);

/* Queues a PATH_RESPONSE for `data`; past TERN_PATH_RESPONSES the oldest owed one is dropped. */
void tern_path_queue_response(tern_path *p, const uint8_t data[8]);

#endif
