/* The nodes a datagram can cross between the two hosts: link (rate, delay, jitter, drop-tail queue,
 * MTU), loss (random, Gilbert-Elliott bursts, exact patterns, time windows, predicates),
 * duplication, reordering, bit corruption, a NAT box with rebinding, and a switch that cuts or
 * blackholes a direction between two instants. Each is created for one direction of one interface
 * and placed with sim_iface_append/prepend (the link and the NAT are placed by the simulator). */
#ifndef TERN_SIM_NODE_H
#define TERN_SIM_NODE_H

#include "sim.h"

/* ---- link --------------------------------------------------------------------------------------
 */

typedef struct sim_link {
    sim_node n;
    sim_link_cfg cfg;
    uint64_t busy_until;   /* end of the serialisation of the last datagram accepted */
    uint64_t last_arrival; /* jitter never reorders */
    /* datagrams queued or being serialised: (departure time, size), oldest first */
    struct sim_link_q {
        uint64_t depart;
        size_t len;
    } * q;
    size_t qcap, qhead, qn, qbytes;
    uint64_t max_qbytes, max_qpkts; /* high-water marks */
    uint64_t ce_marked;             /* datagrams marked CE (cfg.ce_bytes) */
    uint64_t mtu_dropped;           /* datagrams dropped for being larger than cfg.mtu */
} sim_link;

/* Used by the simulator for each interface's links. */
sim_link *sim_link_create(sim *s, int iface, int dir, const sim_link_cfg *cfg);
/* Changes a link's parameters (takes effect for the next
 * datagram). */
void sim_link_set(sim_link *l, const sim_link_cfg *cfg);

/* ---- loss --------------------------------------------------------------------------------------
 */

typedef struct sim_loss_cfg {
    double rate; /* independent loss probability per datagram */
    /* Gilbert-Elliott: two states; per datagram, Good -> Bad with ge_p, Bad -> Good with ge_r;
     * the datagram is then lost with ge_loss_good / ge_loss_bad of the current state. */
    double ge_p, ge_r, ge_loss_good, ge_loss_bad;
    int ge_start_bad;     /* the channel starts in the Bad state (a burst under way) */
    uint64_t ge_until_ns; /* Gilbert-Elliott only before this run time (0: always) */
    /* Exact pattern: drop the datagrams with these 1-based numbers among those entering this node
     * (e.g. {3, 4}: the 3rd and 4th datagram of this direction). Copied. */
    const uint32_t *drop_nth;
    size_t drop_n;
    /* Drop everything entering in [from_ns, until_ns) of run time (until 0: no window). */
    uint64_t from_ns, until_ns;
    /* Drop when filter(p, ud) returns 1 (e.g. "carries a Handshake packet"). */
    int (*filter)(sim *s, const sim_pkt *p, void *ud);
    void *filter_ud;
} sim_loss_cfg;

typedef struct sim_loss {
    sim_node n;
    sim_loss_cfg cfg;
    uint32_t nth[64];
    int ge_bad;
    uint64_t count;
} sim_loss;

sim_loss *sim_loss_new(sim *s, int iface, int dir, const sim_loss_cfg *cfg);

/* ---- duplication, reordering, corruption ------------------------------------------------------
 */

/* Each datagram is duplicated with probability `rate`; the copy follows `delay_max_ns` later at
 * most (uniform). */
sim_node *sim_dup_new(sim *s, int iface, int dir, double rate, uint64_t delay_max_ns);

/* A receiver that reads its socket in batches (recvmmsg, interrupt coalescing, GRO): datagrams
 * are held until the next multiple of `period_ns` of the clock and handed on together, in order,
 * so that the host processes them all before it sends anything (one ACK for the batch). */
sim_node *sim_batch_new(sim *s, int iface, int dir, uint64_t period_ns);

/* Each datagram is held back with probability `rate` for an extra delay uniform in
 * [min_ns, max_ns], so that later datagrams overtake it. */
sim_node *sim_reorder_new(sim *s, int iface, int dir, double rate, uint64_t min_ns,
                          uint64_t max_ns);

/* What an ECN rewriting node does to the codepoint of each datagram. */
enum {
    SIM_ECN_BLEACH = 0, /* clears it to Not-ECT (a router or tunnel that bleaches the field) */
    SIM_ECN_TO_ECT1 = 1, /* ECT(0) becomes ECT(1) */
    SIM_ECN_TO_CE = 2,  /* ECT becomes CE (a remarking middlebox) */
};
/* Rewrites the ECN codepoint of every datagram as `mode` says; counts what it changed in
 * *changed (may be NULL). */
sim_node *sim_ecn_new(sim *s, int iface, int dir, int mode, uint64_t *changed);

/* Each datagram gets 1..max_bits flipped bits (uniform positions) with probability `rate`. */
sim_node *sim_corrupt_new(sim *s, int iface, int dir, double rate, unsigned max_bits);

/* ---- switch ------------------------------------------------------------------------------------
 */

typedef struct sim_switch {
    sim_node n;
    int off;
    const char *reason; /* "cut" or "blackhole" */
} sim_switch;

sim_switch *sim_switch_new(sim *s, int iface, int dir, const char *reason);
void sim_switch_set(sim *s, sim_switch *sw, int off);

/* Cuts both directions of interface `i` at run time `from` and restores them at `until`
 * (SIM_INF: never). */
void sim_iface_cut(sim *s, int i, uint64_t from, uint64_t until);
/* Blackholes one direction of interface `i` in [from, until). */
void sim_iface_blackhole(sim *s, int i, int dir, uint64_t from, uint64_t until);

/* ---- NAT ---------------------------------------------------------------------------------------
 */

#define SIM_NAT_MAX_MAPS 16
#define SIM_NAT_MAX_IPS 8

struct sim_nat {
    sim_node out, in; /* out: client -> server (source rewritten); in: the way back */
    tern_addr pub;    /* current public address; its port is the next one handed out */
    tern_addr ips[SIM_NAT_MAX_IPS]; /* every public address this NAT used: routes point here */
    int nips;
    struct sim_nat_map {
        tern_addr priv, pub;
        int live;             /* used for new outgoing datagrams */
        uint64_t stale_until; /* not live: replies still translated until then (absolute ns) */
        uint64_t last_used;   /* last datagram out (absolute ns): a full table evicts the oldest */
        int wedged;           /* expired into a stale entry that drops the flow both ways */
    } map[SIM_NAT_MAX_MAPS];
    uint64_t idle_timeout;    /* a mapping with no datagram out for this long expires (0: never) */
    int wedge;                /* expiry leaves a stale entry that drops the flow (see below) */
    uint64_t expired;         /* mappings that expired */
    int nmap;
    struct sim_nat_rebind {
        sim_nat *nat;
        uint64_t grace;
        char pub[64]; /* empty: the port only */
    } acts[8];        /* scheduled rebinds (the actions' arguments) */
    int nacts;
};

/* Puts a NAT at the client edge of interface `i`; `pub` is its public address ("203.0.113.7:40000",
 * the port being the first one handed out). Returns it, or NULL. */
sim_nat *sim_nat_add(sim *s, int i, const char *pub);
/* Rebinding: the next datagram from the client gets a new public port. Replies to the old port are
 * still translated for `grace_ns` (0: dropped at once, which silences a client that only sends
 * acknowledgements: nothing reaches it to acknowledge). */
void sim_nat_rebind_port(sim *s, sim_nat *nat, uint64_t grace_ns);
/* Same, moving to a new public address (IP and first port). */
void sim_nat_rebind_addr(sim *s, sim_nat *nat, const char *pub, uint64_t grace_ns);
/* Mappings expire after `idle_ns` without a datagram out (RFC 4787: only outbound traffic refreshes
 * them). Normally the next datagram out gets a new mapping (a new public port). With `wedge`, the
 * expired entry stays and drops that private address and port both ways, as a middlebox whose
 * state for the flow went bad does: only a new local port gets through again. */
void sim_nat_set_timeout(sim_nat *nat, uint64_t idle_ns, int wedge);
/* 1 when `ip` (port ignored) is one of the NAT's public addresses. */
int sim_nat_owns(const sim_nat *nat, const tern_addr *ip);
/* The public address the live mapping of `priv` uses now; 0, or -1 when there is none. */
int sim_nat_public(const sim_nat *nat, const tern_addr *priv, tern_addr *pub);
/* The private address behind public address `pub` (live or former mapping still in the table);
 * 0, or -1 when unknown. */
int sim_nat_private(const sim_nat *nat, const tern_addr *pub, tern_addr *priv);
/* Scheduling helpers: rebind at run time `at`. `pub` is copied. */
void sim_nat_rebind_port_at(sim *s, sim_nat *nat, uint64_t at, uint64_t grace_ns);
void sim_nat_rebind_addr_at(sim *s, sim_nat *nat, uint64_t at, const char *pub, uint64_t grace_ns);

#endif
