/* The deterministic network simulator: virtual clock, event queue, datagram pool, topology (one
 * client host with several interfaces, one server host), and the drivers of the real sans-I/O
 * cores: the client connection, and on the server side the dispatcher (routing, accept, Version
 * Negotiation, Retry, stateless reset) with the server connections it creates. Nodes that datagrams
 * pass through live in sim_node.h, the download application in sim_app.h, the event timeline in
 * sim_timeline.h, named scenarios in sim_scenario.h.
 *
 * Determinism: every random draw comes from a splitmix64 stream derived from the run's seed (one
 * stream per node and per connection, so adding a node does not perturb the others); nothing reads
 * the wall clock; events at equal times run in the order they were scheduled; lists are walked in
 * creation order, never by pointer value. TLS uses a fixed Ed25519 credential so that handshake
 * message sizes do not vary between runs. */
#ifndef TERN_SIM_H
#define TERN_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "conn.h"
#include "dispatch.h"
#include "front.h"
#include "sim_timeline.h"
#include "tls.h"

#define SIM_US 1000ull
#define SIM_MS 1000000ull
#define SIM_SEC 1000000000ull
#define SIM_INF UINT64_MAX

#define SIM_DGRAM_MAX 9216 /* largest datagram the simulator carries (jumbo frames) */
#define SIM_MAX_IFACES 8
#define SIM_MAX_STREAMS 256   /* client requests per run */
#define SIM_SPIN_LIMIT 100000 /* rounds at one instant before a run is declared stuck */

enum { SIM_UP = 0, SIM_DOWN = 1 }; /* client -> server, server -> client */
enum { SIM_CLIENT = 0, SIM_SERVER = 1 };

typedef struct sim sim;
typedef struct sim_node sim_node;

/* ---- randomness ------------------------------------------------------------------------------ */

typedef struct sim_rng {
    uint64_t s;
} sim_rng;

/* An independent stream for (seed, stream): the same pair always yields the same sequence. */
void sim_rng_init(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(sim_rng *r);
/* Uniform in [0, 1). */
double sim_rng_unit(sim_rng *r);
/* Uniform in [0, n) (0 when n is 0). */
uint64_t sim_rng_below(sim_rng *r, uint64_t n);

/* ---- datagrams ------------------------------------------------------------------------------- */

typedef struct sim_pkt {
    struct sim_pkt *next_free;
    uint64_t id;   /* unique, in creation order (a duplicate gets its own) */
    uint64_t orig; /* id of the datagram this one was copied from (== id when not a copy) */
    int dir;       /* SIM_UP or SIM_DOWN */
    int iface;     /* client interface it travels through */
    int ecn;
    tern_addr src, dst;
    uint64_t sent_at;
    size_t len;
    uint8_t data[SIM_DGRAM_MAX];
} sim_pkt;

sim_pkt *sim_pkt_alloc(sim *s);
void sim_pkt_free(sim *s, sim_pkt *p);
/* A copy with a fresh id (for duplication). NULL never: the pool grows. */
sim_pkt *sim_pkt_clone(sim *s, const sim_pkt *p);

/* Long-header packet types present in a datagram, as a bit mask of (1 << TERN_PKT_*); short header
 * packets set (1 << TERN_PKT_1RTT). Reads only unprotected fields (type bits, lengths). */
unsigned sim_pkt_types(const sim_pkt *p);

/* ---- nodes ----------------------------------------------------------------------------------- */

/* A node takes a datagram (forward) and either passes it on at once (sim_node_emit), later
 * (sim_node_emit_at: the simulator's event queue holds it until then, so a node's next event is
 * always in that queue), or drops it (sim_node_drop). Nodes are chained per direction. */
typedef struct sim_node_ops {
    const char *kind;
    void (*forward)(sim *s, sim_node *n, sim_pkt *p);
    void (*free)(sim_node *n);
} sim_node_ops;

struct sim_node {
    const sim_node_ops *ops;
    char name[32];
    int index;      /* creation order: names the node in the timeline */
    sim_node *next; /* where datagrams go next (NULL: the host at the end of the chain) */
    int dir;
    int iface;
    sim_rng rng;
    uint64_t in, out, dropped, bytes_in;
};

/* Registers a node created by a node constructor (takes ownership; freed with the simulator). */
void sim_node_register(sim *s, sim_node *n, const sim_node_ops *ops, const char *name);
void sim_node_emit(sim *s, sim_node *n, sim_pkt *p);
void sim_node_emit_at(sim *s, sim_node *n, sim_pkt *p, uint64_t at);
void sim_node_drop(sim *s, sim_node *n, sim_pkt *p, const char *reason);

/* ---- topology -------------------------------------------------------------------------------- */

typedef struct sim_nat sim_nat;

typedef struct sim_iface {
    char name[16];
    tern_addr addr;         /* the client's address on this interface */
    sim_node *chain[2][16]; /* nodes per direction, client side first for UP, last for DOWN */
    int nchain[2];
    sim_nat *nat;             /* optional, at the client edge of both chains */
    struct sim_link *link[2]; /* the interface's own link per direction */
    int down;                 /* gone from the host: sending from it fails (a socket error),
                                 nothing reaches it (sim_iface_set_down) */
    int no_route;             /* the routing table does not reach the server from it */
    uint16_t next_port;       /* the next port the policy's socket requests get (from 20000) */
    size_t if_mtu;            /* the largest UDP payload the host says the interface carries
                                 (what path MTU discovery asks; 0: unknown). The links' own
                                 mtu is what the network carries */
} sim_iface;

/* ---- actions --------------------------------------------------------------------------------- */

typedef void (*sim_action_fn)(sim *s, void *arg);

/* Runs fn(s, arg) at run time `at` (ns since the start, as sim_time; clamped to now), after the
 * datagrams due at the same instant. `label` (static string, may be NULL) appears in the timeline.
 * The connections get a chance to send right after. */
void sim_at(sim *s, uint64_t at, sim_action_fn fn, void *arg, const char *label);
/* Same, `after` ns from now. */
void sim_after(sim *s, uint64_t after, sim_action_fn fn, void *arg, const char *label);

/* ---- endpoints ------------------------------------------------------------------------------- */

/* A server connection and the server application's state for it. */
typedef struct sim_sstream {
    int64_t sid;
    uint64_t left, total, gen;
    uint8_t req[8];
    size_t req_len;
    int responding;
} sim_sstream;

typedef struct sim_sconn {
    sim *s;
    tern_conn *c;
    tern_front_conn fc; /* the front door's view: routes, half-open mark */
    int num; /* creation order, from 1 */
    int accepted, connected, done;
    sim_sstream *st; /* SIM_MAX_STREAMS */
    int nst;
    struct sim_sconn *next;
} sim_sconn;

typedef struct sim_cstream {
    int64_t sid;
    uint64_t want, got;
    int fin, mismatch;
    uint64_t gen;
    uint64_t opened_at, done_at;
    void *hash, *hash_want; /* gnutls_hash_hd_t */
    uint8_t sha_got[32], sha_want[32];
} sim_cstream;

typedef struct sim_stats {
    uint64_t iterations;                    /* main-loop rounds */
    uint64_t events;                        /* queue events run (datagram hand-offs and actions) */
    uint64_t timer_fires;                   /* tern_conn_on_timeout calls */
    uint64_t dgrams_sent[2], bytes_sent[2]; /* by the client / server cores (and server replies) */
    uint64_t dgrams_recv[2], bytes_recv[2]; /* handed to the client core / server dispatcher */
    uint64_t replies[TERN_DISPATCH_REPLY_KINDS]; /* server stateless replies by kind */
    uint64_t accepts, conns_discarded;
    uint64_t max_spin;          /* most iterations at one instant */
    uint64_t path_events[2][8]; /* per side, by tern_path_event_type */
} sim_stats;

/* A path event as a core reported it, kept for the scenario's checks (the timeline has them too,
 * but only as text and only the last ones). */
typedef struct sim_path_ev {
    uint64_t t; /* run time */
    int type;   /* tern_path_event_type */
    int reason; /* tern_path_reason */
    int id;     /* the path's id on that side */
    int validated;
    tern_path_addr addr; /* the path concerned (the new one for ACTIVE) */
    tern_path_addr from; /* ACTIVE and PEER_ADDRESS_CHANGED: the previous path (len 0 otherwise) */
    uint64_t rtt_ns;     /* VALIDATED: the validation round trip */
    uint64_t cwnd, from_cwnd;
} sim_path_ev;

#define SIM_PATH_LOG 1024 /* path events kept per side; more are counted in path_log_lost */

/* The argument of a scheduled interface or network event (sim_netev.c). */
typedef struct sim_netev_arg {
    int iface;
    int value; /* the down flag, or the event type */
} sim_netev_arg;
#define SIM_NETEV_MAX 64 /* scheduled per run */

struct sim {
    uint64_t seed;
    uint64_t now, start;
    uint64_t next_rng_stream;

    /* event queue: a binary heap ordered by (at, seq) */
    struct sim_ev *heap;
    size_t hn, hcap;
    uint64_t seq;

    /* datagram pool */
    sim_pkt *free_pkts;
    void **chunks;
    size_t nchunks;
    uint64_t next_pkt_id;
    size_t pkts_live;

    sim_node **nodes;
    size_t nnodes, nodes_cap;

    sim_iface ifaces[SIM_MAX_IFACES];
    int niface;
    tern_addr server_addr;

    /* configuration, editable between sim_new and the first sim_run */
    tern_config cfg_c, cfg_s;
    int client_iface; /* interface the client starts on */

    tern_tls_ctx *tls_c, *tls_s;
    uint8_t reset_key[32]; /* the server's (the dispatcher's) */
    uint8_t client_reset_key[32];

    /* client */
    tern_conn *client;
    sim_rng client_rng;
    int started, connected, client_done;
    uint64_t connected_at, client_closed_at;
    tern_close_info client_close;
    sim_cstream *cs; /* SIM_MAX_STREAMS */
    int ncs;
    uint64_t pending_req[SIM_MAX_STREAMS];
    int npending;
    uint64_t key_update_every; /* client app: a key update each time this many more bytes arrived */
    uint64_t key_update_next;
    uint64_t key_updates_started;
    uint8_t ticket[20000]; /* the latest resumption blob the client got */
    size_t ticket_len;
    int tickets;
    uint64_t reconnected_at; /* sim_time of the latest sim_reconnect */

    /* server */
    tern_front front; /* the server's front door, as the runtime has it (front.disp) */
    int disp_ready;
    sim_rng *disp_rng;
    sim_rng server_rng;
    sim_sconn *sconns, *sconns_tail; /* in creation order */
    int nsconns;
    int server_connected;
    uint64_t server_connected_at;
    int server_closed; /* a server connection ended */
    uint64_t server_closed_at;
    tern_close_info server_close;

    /* hooks for scenarios */
    void (*on_connected)(sim *s);                     /* client handshake completed */
    void (*on_server_send)(sim *s, const sim_pkt *p); /* a server datagram (core or reply) left */
    void (*on_server_recv)(sim *s, const sim_pkt *p); /* a datagram reached the server host */
    void (*on_client_recv)(sim *s, const sim_pkt *p);
    /* a core reported a path event (after it was logged). It runs inside the core's call: act
     * on the connection through sim_at/sim_after, not directly. */
    void (*on_path_event)(sim *s, int who, const sim_path_ev *ev);
    /* unreliable datagrams (tern_callbacks.on_datagram*) of either side, `who` SIM_CLIENT or
     * SIM_SERVER; outcome: acked 1, lost 0. They run inside the core's call, as on_path_event. */
    void (*on_datagram)(sim *s, int who, tern_conn *c, const uint8_t *data, size_t len);
    void (*on_datagram_outcome)(sim *s, int who, tern_conn *c, uint64_t tag, int acked);
    /* raw mode (simulator self-tests): datagrams reaching a host are given here instead, and
     * sim_run creates no connection */
    void (*sink)(sim *s, int host, sim_pkt *p, void *ud);
    void *sink_ud;
    void *ud; /* free for the scenario */

    sim_netev_arg netev[SIM_NETEV_MAX];
    int nnetev;

    sim_timeline tl;
    const char **node_names; /* owned; tl.node_names points to it */
    sim_stats st;
    sim_path_ev *path_log[2]; /* per side, in order (allocated at the first event) */
    size_t npath_log[2];
    uint64_t path_log_lost[2];
    int stuck; /* the run stopped: a core did not advance (see stuck_why) */
    char stuck_why[256];
};

/* Creates a simulator for `seed`: configs at their defaults with the simulator's credentials and
 * ALPN, server at 192.0.2.1:443, no interface yet. Returns NULL on failure (credentials, memory).
 */
sim *sim_new(uint64_t seed);
void sim_free(sim *s);

/* Virtual time since the start of the run (the clock starts at 1 s so that 0 is never a time). */
static inline uint64_t sim_time(const sim *s)
{
    return s->now - s->start;
}

typedef struct sim_link_cfg {
    uint64_t rate_bps;  /* 0 = no serialisation delay */
    uint64_t delay_ns;  /* one-way propagation delay */
    uint64_t jitter_ns; /* extra delay uniform in [0, jitter], never reordering the link */
    size_t queue_bytes; /* drop-tail limit on bytes queued (0 = none) */
    size_t queue_pkts;  /* drop-tail limit on datagrams queued (0 = none) */
    size_t mtu;         /* larger datagrams are dropped (0 = none) */
    size_t ce_bytes;    /* an ECN-capable datagram arriving with this many bytes queued or more
                           is marked CE (an AQM's marking threshold; 0 = never) */
} sim_link_cfg;

/* Adds a client interface with address `addr` ("10.0.1.2:5000") whose datagrams cross a link with
 * `up` (client -> server) and `down` parameters (down NULL: same as up). Returns the index, or -1.
 */
int sim_add_iface(sim *s, const char *name, const char *addr, const sim_link_cfg *up,
                  const sim_link_cfg *down);
/* Appends node n to a direction's chain of interface `i`: for SIM_UP after the existing nodes
 * (towards the server), for SIM_DOWN also after them (towards the client), the NAT staying at the
 * client edge. */
void sim_iface_append(sim *s, int i, int dir, sim_node *n);
/* Inserts n first (UP: before the link, at the client edge after the NAT; DOWN: before the link, at
 * the server edge). */
void sim_iface_prepend(sim *s, int i, int dir, sim_node *n);

/* Client interface whose address has the IP of `a` (ports are the client's business), or -1. */
int sim_iface_by_ip(const sim *s, const tern_addr *a);
/* Client interface that datagrams for `a` reach: the one whose address, or whose NAT's public
 * address (current or former), has that IP; -1 when none (an address off the client's host). */
int sim_iface_for_dst(const sim *s, const tern_addr *a);

/* Parses "a.b.c.d:port" (aborts on a typo: scenarios are code). */
tern_addr sim_addr(const char *text);

/* ---- the host's network as the client's migration policy sees it (sim_netev.c) -------------- */

/* At run time `at`, interface `i` goes away (down = 1: sends from its address fail with a socket
 * error, datagrams towards it are dropped) or comes back (down = 0). No network event is given:
 * pair it with sim_net_event_at for what the OS would report. */
void sim_iface_set_down_at(sim *s, int i, uint64_t at, int down);
/* At run time `at`, the client is told of a change of the host's network through
 * tern_conn_network_event: `type` about interface `i` (ifindex i + 1, its name, its address with
 * port 0). TERN_NET_DEFAULT_CHANGED with i = -1 reports no default route. */
void sim_net_event_at(sim *s, uint64_t at, tern_net_event_type type, int i);
/* The client's driver hooks for the migration policy: the routing table (an interface that is up
 * and has a route) and sockets on new ports (they need no state: any port of an interface's IP
 * goes through it). Installed by sim_start. */
int sim_hook_route_usable(void *ud, tern_conn *c, const tern_addr *local, const tern_addr *remote);
int sim_hook_bind_local(void *ud, tern_conn *c, const tern_addr *local, tern_addr *bound);
/* Path MTU discovery's question to both cores' drivers: the if_mtu of the client interface the
 * path goes through (the server's answer is the client's interface too: one link per path). */
size_t sim_hook_path_mtu(void *ud, tern_conn *c, const tern_path_addr *path);

/* ---- running --------------------------------------------------------------------------------- */

/* Creates the client connection (on client_iface) if not yet done. Returns 0 or a TERN_ERR_*. */
int sim_start(sim *s);

/* Runs until cond(s) holds or `limit_ns` of virtual time passed (the clock then stands at the
 * limit). Returns 1 when cond held. Also stops (returning 0) when nothing can happen any more or
 * the run is stuck (s->stuck). cond NULL: run for limit_ns. */
int sim_run(sim *s, int (*cond)(sim *s), uint64_t limit_ns);

int sim_cond_connected(sim *s); /* client handshake completed */
int sim_cond_all_done(sim *s);  /* every requested stream ended with FIN (or client closed) */
int sim_cond_client_closed(sim *s);
int sim_cond_both_closed(sim *s); /* client and every server connection ended */

/* Asks the server for `bytes` on a new stream now (in 0-RTT before the handshake completes, when
 * the client sends early data), or as soon as the handshake completes.
 * Returns 0, or -1 when too many requests were made. */
int sim_request(sim *s, uint64_t bytes);
/* Replaces the client connection by a new one from the same interface (the old one is freed
 * without a word, its streams forgotten) that resumes `session` (NULL: a full handshake), with
 * 0-RTT when `early`: requests made before its handshake completes then go as early data. Returns
 * 0 or the error of tern_conn_new. */
int sim_reconnect(sim *s, const uint8_t *session, size_t session_len, int early);
/* 1 when every requested stream received all its bytes in order with matching SHA-256; else 0 and
 * `why` explains (may be NULL). */
int sim_verify(sim *s, char *why, size_t cap);
uint64_t sim_bytes_received(const sim *s);
/* Puts `fn` in front of the client's qlog sink (before the first sim_run): it gets every record
 * and passes it on to *next with *next_ud, set here (NULL when there was none; tern-sim
 * --qlog-dir installs one). */
void sim_tap_client_qlog(sim *s, tern_qlog_fn fn, void *ud, tern_qlog_fn *next, void **next_ud);

/* The first server connection that completed an accept (NULL if none). */
tern_conn *sim_server_conn(sim *s);
/* The server loses all state of its connections: they are freed without a word and their routes
 * removed from the dispatcher, whose reset key survives (stateless resets then answer). */
void sim_server_forget_all(sim *s);

/* Puts a datagram of `len` bytes (data NULL: bytes 0, 1, 2, ...) from host `from` onto the network
 * now, as a core would (raw mode tests, or spoofed traffic). Returns its id. */
uint64_t sim_send_raw(sim *s, int from, const tern_addr *src, const tern_addr *dst,
                      const uint8_t *data, size_t len);

/* Records a free-text note in the timeline. */
void sim_note(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const char *const sim_host_name[2];

#endif
