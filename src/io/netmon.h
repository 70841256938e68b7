/* The OS network monitor (Linux rtnetlink): what the host's links, addresses and default routes
 * are, and which of their changes become tern_net_event.
 *
 * The monitor keeps a small bounded table of the links, addresses and default routes it knows and
 * reports only real changes of it:
 * - LINK_UP / LINK_DOWN when a link's IFF_UP && IFF_RUNNING changes (first sight of a link that is
 *   up counts as a change; one that is down does not). Loopback links are not reported.
 * - ADDR_ADDED when an address becomes usable for new traffic: universe or site scope (host and
 *   link scope, i.e. 127/8, ::1, 169.254/16 and fe80::/10, cannot reach a remote peer), not on a
 *   loopback link, not tentative (optimistic DAD counts as usable), not DAD-failed and not
 *   deprecated. ADDR_REMOVED when a reported address is deleted or fails DAD. An address that is
 *   only deprecated later is not reported removed: RFC 4862 lets existing traffic keep it.
 * - DEFAULT_CHANGED when the effective default route of a family changes interface or source: the
 *   lowest-metric unicast route of prefix length 0 in the main table whose link is up and running
 *   (a route with RTNH_F_LINKDOWN, or on a link that is down, does not count); its source is the
 *   route's preferred source, else the first usable address of that family on its interface.
 *   ifindex 0 reports that no default is left. Because the kernel drops IPv4 routes without a
 *   notification when their link goes down or their source address goes away, every link or
 *   address change re-reads the routes (a route dump) before the default is judged.
 *
 * Every read of the table is a dump compared with what is known (mark and sweep): the initial
 * dump, the route re-checks above, and a full re-read after the socket overran (ENOBUFS, lost
 * notifications) or a dump was interrupted (NLM_F_DUMP_INTR). So the events after an overrun are
 * exactly the differences between the old and the new state.
 *
 * Parsing is separate from the socket: tern_netmon_input() takes a buffer of netlink messages, so
 * the tests feed it messages captured from the kernel. Nothing here allocates after init; no
 * function aborts. Single-threaded, on the endpoint's thread. */
#ifndef TERN_IO_NETMON_H
#define TERN_IO_NETMON_H

#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

#define TERN_NETMON_MAX_LINKS 64
#define TERN_NETMON_MAX_ADDRS 128
#define TERN_NETMON_MAX_ROUTES 32 /* default routes, both families */
#define TERN_NETMON_RCVBUF (1 << 20)
#define TERN_NETMON_BUF 65536 /* one recvmsg; the kernel's dump batches are at most 32 KiB */

/* What a dump reads (bits of tern_netmon.pending and .dumping). */
enum { TERN_NETMON_DUMP_LINK = 1, TERN_NETMON_DUMP_ADDR = 2, TERN_NETMON_DUMP_ROUTE = 4 };
#define TERN_NETMON_DUMP_ALL                                                                       \
    (TERN_NETMON_DUMP_LINK | TERN_NETMON_DUMP_ADDR | TERN_NETMON_DUMP_ROUTE)

typedef void (*tern_netmon_emit_fn)(void *ud, const tern_net_event *ev);

typedef struct tern_netmon_link {
    unsigned ifindex;
    char name[16];
    uint8_t up;       /* IFF_UP && IFF_RUNNING */
    uint8_t loopback; /* IFF_LOOPBACK: no events, and its addresses are not tracked */
    uint8_t stale;    /* not seen yet by the dump in progress */
} tern_netmon_link;

typedef struct tern_netmon_addr {
    unsigned ifindex;
    tern_addr addr;   /* port 0 */
    uint8_t reported; /* ADDR_ADDED was emitted (and no ADDR_REMOVED since) */
    uint8_t stale;
} tern_netmon_addr;

typedef struct tern_netmon_route {
    int family;
    unsigned ifindex;
    uint32_t metric;
    uint8_t gw[16];    /* gateway (zeros when on-link); part of the route's identity */
    tern_addr prefsrc; /* len 0 when the route names no source */
    uint8_t linkdown;  /* RTNH_F_LINKDOWN */
    uint8_t stale;
} tern_netmon_route;

typedef struct tern_netmon_stats {
    uint64_t msgs;      /* netlink messages parsed */
    uint64_t events;    /* tern_net_event emitted */
    uint64_t dumps;     /* dumps completed */
    uint64_t overruns;  /* ENOBUFS or truncated reads (each followed by a full re-read) */
    uint64_t malformed; /* messages or attributes rejected as malformed */
    uint64_t full;      /* entries not stored because a table was full */
} tern_netmon_stats;

typedef struct tern_netmon {
    int fd;           /* -1 when not open (tests feed tern_netmon_input) */
    uint32_t portid;  /* our netlink port id (0 until open) */
    uint32_t seq;     /* last request sequence number used */
    unsigned pending; /* dumps still to run */
    unsigned dumping; /* the dump in progress (one at a time per socket), 0 = none */
    uint32_t dump_seq;
    int dump_intr; /* the dump in progress was interrupted: run it again */
    unsigned seen; /* kinds dumped at least once: the default is judged after the first
                      route dump only */
    tern_netmon_link links[TERN_NETMON_MAX_LINKS];
    size_t nlinks;
    tern_netmon_addr addrs[TERN_NETMON_MAX_ADDRS];
    size_t naddrs;
    tern_netmon_route routes[TERN_NETMON_MAX_ROUTES];
    size_t nroutes;
    /* the default of each family as last reported: [0] IPv4, [1] IPv6 */
    unsigned def_ifindex[2];
    tern_addr def_src[2];
    tern_netmon_emit_fn emit;
    void *ud;
    tern_netmon_stats st;
    uint8_t *buf; /* TERN_NETMON_BUF bytes, only when open */
} tern_netmon;

/* Prepares `nm` with empty tables and no socket; events go to emit(ud, ev). Never fails. */
void tern_netmon_init(tern_netmon *nm, tern_netmon_emit_fn emit, void *ud);

/* Opens the rtnetlink socket (non-blocking, close-on-exec), joins the link, IPv4/IPv6 address and
 * IPv4/IPv6 route groups, and sends the first dump request (links, then addresses, then routes;
 * their events follow as tern_netmon_read() processes the answers). Returns 0, TERN_ERR_NOMEM,
 * or TERN_ERR_IO (errno kept); on error nothing is left open. */
int tern_netmon_open(tern_netmon *nm);

/* Reads and processes everything the socket holds (non-blocking), emitting events, re-reading
 * the tables after an overrun, and sending the next pending dump request. Returns 0, or
 * TERN_ERR_IO when a system call failed for another reason than "nothing more now" (errno kept;
 * the monitor stays usable). */
int tern_netmon_read(tern_netmon *nm);

/* Processes one buffer of netlink messages (as one recvmsg returns them) without any socket.
 * A malformed message is counted and skipped; a length that overruns the buffer ends the buffer.
 * Returns 0, or TERN_ERR_PROTO when something was malformed (what could be parsed was). */
int tern_netmon_input(tern_netmon *nm, const uint8_t *buf, size_t len);

/* Marks the start of a dump of `kind` (one TERN_NETMON_DUMP_* bit) whose answers carry `seq` and
 * our port id: entries of that kind not seen again before its NLMSG_DONE are removed (with their
 * events). tern_netmon_read sends the requests itself; tests that feed captured dumps call this. */
void tern_netmon_begin_dump(tern_netmon *nm, unsigned kind, uint32_t seq);

/* Calls fn(ud, ev) with the current state as events, as a newcomer would have seen them: a
 * LINK_UP per link up and running, an ADDR_ADDED per usable address, a DEFAULT_CHANGED per family
 * that has a default route. For a connection created after the monitor started (its events so far
 * went to the connections of that time). Emits nothing else and changes nothing. */
void tern_netmon_replay(const tern_netmon *nm, tern_netmon_emit_fn fn, void *ud);

/* Closes the socket (the tables stay). Safe on an initialised monitor that was never opened. */
void tern_netmon_close(tern_netmon *nm);

#endif
