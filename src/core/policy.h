/* The migration policy (client side), sans-I/O: it decides, the mechanism in migration.c acts.
 *
 * It consumes path health (PTOs on the active path without acknowledgement progress, socket
 * errors, which path packets arrive on), network events (addresses, links, default route: from the
 * OS monitor or the application) and its own timers, and decides: probe the standby path alongside
 * the PTO probe, switch when the standby answers while the active path stays silent, probe every
 * usable address and a new port when there is no standby, keep standby paths alive, fail over when
 * an address or interface goes away, follow the default route, move back to the preferred network,
 * and refuse migrations past the limits. Every decision is a path event with a reason. Every
 * threshold is in tern_config.policy. It needs I/O twice, through the driver's hooks
 * (tern_conn_hooks.route_usable, .bind_local): whether the routing table reaches the peer from an
 * address, and a socket on an address (a new port). The cache of the state of paths that ended
 * (path.h) lives here too, so that a return to a network starts from what was learnt there. */
#ifndef TERN_CORE_POLICY_H
#define TERN_CORE_POLICY_H

#include "conn.h"
#include "path.h"

/* Why the policy holds a path (tern_path.role). */
enum tern_policy_role {
    TERN_ROLE_APP = 0, /* the application's (or the initial) path: the policy never drops it */
    TERN_ROLE_STANDBY, /* a validated alternative kept warm (automatic mode) */
    TERN_ROLE_EXPLORE, /* probed because the active path degraded or went away */
    TERN_ROLE_PORT,    /* a new port on the active address, probed while the active degrades */
    TERN_ROLE_TARGET,  /* probed to move there once validated (default route, migrating back) */
};

#define TERN_POLICY_NETS 16 /* local addresses the policy tracks per connection */

/* A local address of the host, as the network events described it. */
typedef struct tern_policy_net {
    tern_addr ip; /* port 0 */
    unsigned ifindex;
    char ifname[16];
    int down;                /* its interface is down (the address itself may come back with it) */
    int usable;              /* the routing table reaches the peer from it */
    uint32_t unrouted;       /* route lookups in a row that found no way to the peer (0: usable) */
    tern_tstamp unrouted_at; /* the last of them: the lookup is repeated after a backoff */
    int dormant;             /* its standby was dropped as unused: probed again only when needed */
    int refused;             /* a limit refused a move there (reported once) */
    uint32_t failures;       /* paths on it that failed in a row */
    tern_tstamp retry_at;    /* no new path on it before this (backoff) */
    uint32_t migrations;     /* automatic moves onto it */
    tern_tstamp up_since;    /* it has had a validated path since then (0: none) */
} tern_policy_net;

typedef struct tern_policy {
    tern_policy_net net[TERN_POLICY_NETS];
    int nnet;
    int has_default; /* a DEFAULT_CHANGED event named a default route */
    unsigned default_ifindex;
    tern_addr default_ip; /* its preferred source (len 0: none named) */
    int degrading;        /* PTOs fired on the active path without progress */
    tern_tstamp degrade_at;
    tern_tstamp active_heard; /* when the active path was last heard at the start of it */
    tern_tstamp answer_by;    /* the active path has had time to answer its PTO probes by then */
    int pending;              /* a standby answered earlier than that: decide then (-1: none) */
    int explored;             /* the alternatives were probed during this degradation */
    tern_path_reason gone;    /* the active path's address or interface went away (0: no) */
    int target;               /* path to move to once validated (-1: none) */
    tern_path_reason target_why;
    uint32_t migrations, port_migrations; /* counted against the limits */
    uint64_t moves, restored; /* every move the policy made; paths restored from the cache */
    int refused_total;        /* the per-connection limit was reported */
    int port_refused;         /* the port migration limit was reported */
    tern_path_cache cache;
} tern_policy;

/* Called by conn.c and migration.c. */
/* The policy's state, allocated once (a client's at creation; a server's when it opens a second
 * path slot, its only use of it being the path cache): 0 or TERN_ERR_NOMEM. Until then c->pol is
 * NULL and the entry points a server reaches do nothing. */
int tern_policy_init(tern_conn *c);
void tern_policy_free(tern_conn *c);
/* An application-space PTO fired (rec.pto_count counts those without progress). */
void tern_policy_on_pto(tern_conn *c, tern_tstamp now);
/* A PATH_RESPONSE answered one of path idx's challenges (its RTT sample taken). */
void tern_policy_on_path_response(tern_conn *c, int idx, tern_tstamp now);
/* An authenticated 1-RTT packet was processed on path idx (client). */
void tern_policy_on_packet(tern_conn *c, int idx, tern_tstamp now);
/* The active path changed from `from` to `to` (before the event is reported). */
void tern_policy_on_active(tern_conn *c, int from, int to, tern_tstamp now);
/* Path idx is ending (failed: validation or keep-alive timeout). */
void tern_policy_on_path_end(tern_conn *c, int idx, int failed, tern_tstamp now);
/* Path idx's interface or address went away (a socket error, or the OS said so), before the
 * mechanism reacts (tern_conn_path_gone). */
void tern_policy_on_path_gone(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now);
/* A path was just created in slot idx: restores cached state of its network. */
void tern_policy_restore(tern_conn *c, int idx, tern_tstamp now);
/* The policy's timers (keep-alive, backoff retry, migrating back, unused standby). */
tern_tstamp tern_policy_next_timeout(const tern_conn *c);
void tern_policy_on_timeout(tern_conn *c, tern_tstamp now);

/* The driver's entry point: a change of the host's network (tern_net_event). A client connection
 * in automatic mode (tern_config.auto_migrate) reacts: new usable addresses become standby paths,
 * paths on addresses or interfaces that went away are removed (failing over first when one was
 * active), a new default route is followed. Other connections ignore it. Call tern_conn_send
 * afterwards. Safe with any event (unknown types and other address families are ignored). */
void tern_conn_network_event(tern_conn *c, const tern_net_event *ev, tern_tstamp now);

/* The rules every driver checks before feeding an event (tern_endpoint_network_event documents
 * them): returns 0, or TERN_ERR_INVALID_ARG for NULL, an unknown type, an address event without an
 * address, an address whose length does not match its family, or an ifname without its NUL. */
int tern_net_event_check(const tern_net_event *ev);

#endif
