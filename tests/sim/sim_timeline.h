/* The event timeline of a simulation run: every datagram sent, delivered or dropped (with the node
 * and the reason), duplicated, corrupted or rewritten, every stateless reply and accept of the
 * server, connection events (connected, stream done, closed with reason, path events) and scripted
 * actions. Events can be printed as they happen, the last ones are kept in a ring for failure
 * reports, and a digest over all of them proves that two runs were identical. */
#ifndef TERN_SIM_TIMELINE_H
#define TERN_SIM_TIMELINE_H

#include <stdint.h>
#include <stdio.h>

#include "tern/tern.h"

enum sim_tl_kind {
    SIM_TL_SEND = 0,  /* a core (or a stateless reply) emitted a datagram */
    SIM_TL_DELIVER,   /* a datagram reached a host */
    SIM_TL_DROP,      /* a node dropped it (text: reason) */
    SIM_TL_DUP,       /* a node duplicated it (a: the copy's id) */
    SIM_TL_CORRUPT,   /* a node flipped bits (a: bit count, b: first bit offset) */
    SIM_TL_NAT,       /* a NAT created or rebound a mapping (text) */
    SIM_TL_REPLY,     /* the dispatcher answered statelessly (text: VN, Retry, reset) */
    SIM_TL_ACCEPT,    /* the dispatcher accepted a connection (a: server conn number) */
    SIM_TL_REFUSE,    /* the server host dropped a datagram (text: why) */
    SIM_TL_CONNECTED, /* handshake completed (who) */
    SIM_TL_STREAM,    /* client stream done (a: sid, b: bytes, text: ok/mismatch) */
    SIM_TL_CLOSED,    /* a connection ended (a: status, b: error code, text: reason) */
    SIM_TL_PATH,      /* a path event (a: type, b: reason, text: addresses) */
    SIM_TL_ACTION,    /* a scripted action ran (text: label) */
    SIM_TL_NOTE,      /* free text */
    SIM_TL_KINDS
};

typedef struct sim_tl_addr {
    uint8_t fam; /* 0 unset, 4 or 6 */
    uint8_t ip[16];
    uint16_t port;
} sim_tl_addr;

typedef struct sim_tl_ev {
    uint64_t t; /* ns since the start of the run */
    uint16_t kind;
    int16_t node; /* node index, or -1 */
    int8_t who;   /* SIM_CLIENT / SIM_SERVER, or -1 */
    int8_t dir;   /* SIM_UP / SIM_DOWN, or -1 */
    uint64_t id;  /* datagram id (0: none) */
    uint32_t len;
    int64_t a, b;
    sim_tl_addr src, dst; /* SEND only */
    char text[48];
} sim_tl_ev;

#define SIM_TL_RING 512

typedef struct sim_timeline {
    FILE *out;                     /* when set, every event is printed at once */
    const char *const *node_names; /* index -> name, for printing (set by the simulator) */
    size_t nnames;
    sim_tl_ev ring[SIM_TL_RING];
    uint64_t total;  /* events recorded */
    uint64_t digest; /* FNV-1a 64 over every event */
    uint64_t count[SIM_TL_KINDS];
} sim_timeline;

void sim_tl_init(sim_timeline *tl);
/* Records ev (its t must be set). */
void sim_tl_add(sim_timeline *tl, const sim_tl_ev *ev);
/* Formats one event as a line (without newline). */
void sim_tl_format(const sim_timeline *tl, const sim_tl_ev *ev, char *buf, size_t cap);
/* Prints the last `n` events kept in the ring (at most SIM_TL_RING). */
void sim_tl_print_tail(const sim_timeline *tl, FILE *f, size_t n);
/* Copies text into ev->text, truncating it. */
void sim_tl_set_text(sim_tl_ev *ev, const char *text);
void sim_tl_addr_from(sim_tl_addr *o, const tern_addr *a);
const char *sim_tl_kind_name(int kind);

#endif
