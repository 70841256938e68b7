/* Unreliable datagrams (RFC 9221): the bounded queue of datagrams waiting to be sent, and the
 * connection's side of them (which size fits, receiving DATAGRAM frames, writing them into a
 * packet, and the acknowledged/lost outcomes waiting to be reported to the application). Frames
 * are never retransmitted: a sent-packet record names the datagram only by its tag and length. */
#ifndef TERN_CORE_DATAGRAM_H
#define TERN_CORE_DATAGRAM_H

#include "common.h"
#include "recovery.h"

/* One datagram waiting in the queue: its bytes are buf[off .. off + len). */
typedef struct tern_dgram_ent {
    uint64_t tag;
    size_t off, len;
} tern_dgram_ent;

/* A FIFO of datagrams whose payloads sit contiguously in one ring of `cap` bytes (a datagram that
 * does not fit before the end starts again at 0), with at most `ecap` of them. Nothing is
 * allocated until the first push; nothing after it. */
typedef struct tern_dgramq {
    uint8_t *buf;
    size_t cap;
    tern_dgram_ent *ent;
    size_t ecap, head, n;
    size_t rd, wr;   /* first byte in use, first byte free after the newest payload */
    size_t wrap_end; /* when wrapped: end of the payloads stored before the wrap */
    int wrapped;     /* the newest payloads start at 0, below rd */
    size_t bytes;    /* payload bytes queued */
} tern_dgramq;

void tern_dgramq_init(tern_dgramq *q, size_t cap_bytes, size_t cap_count);
void tern_dgramq_free(tern_dgramq *q);
/* Queues a copy of data[0..len). Returns 0, TERN_ERR_WOULD_BLOCK (no contiguous room or no free
 * entry now; an empty queue takes anything up to `cap` bytes), TERN_ERR_INVALID_ARG (len above
 * cap) or TERN_ERR_NOMEM (the first push allocates the ring). */
int tern_dgramq_push(tern_dgramq *q, const uint8_t *data, size_t len, uint64_t tag);
/* The oldest datagram (NULL when empty) and its bytes. */
const tern_dgram_ent *tern_dgramq_peek(const tern_dgramq *q);
const uint8_t *tern_dgramq_data(const tern_dgramq *q, const tern_dgram_ent *e);
/* Removes the oldest datagram (no-op when empty). */
void tern_dgramq_pop(tern_dgramq *q);

/* An outcome to report: a sent datagram was acknowledged or lost, or one was dropped unsent. */
typedef struct tern_dgram_note {
    uint64_t tag;
    int acked;
} tern_dgram_note;

/* The connection's datagram state (c->dgram). */
typedef struct tern_conn_dgram_state {
    uint64_t peer_max; /* the peer's max_datagram_frame_size (0: it takes none) */
    int peer_known;    /* the peer's value is known (its transport parameters, or remembered
                          ones for 0-RTT) */
    tern_dgramq q;
    tern_dgram_note *notes; /* outcomes waiting for tern_conn_dgram_flush */
    size_t notes_n, notes_cap;
    uint64_t sent, recv, acked, lost, dropped;
} tern_conn_dgram_state;

/* Sets up c->dgram from the configuration (no allocation). */
void tern_conn_dgram_init(tern_conn *c);
void tern_conn_dgram_free(tern_conn *c);
/* The peer's max_datagram_frame_size is now `max` (its transport parameters, or those remembered
 * for 0-RTT). */
void tern_conn_dgram_set_peer_max(tern_conn *c, uint64_t max);
/* The largest payload a datagram may have to go out now (0 when the peer takes none). */
size_t tern_conn_dgram_max_payload(tern_conn *c);
/* 1 when datagrams wait to be sent. */
int tern_conn_dgram_pending(const tern_conn *c);
/* The oldest queued datagram that can go out now, after dropping (and noting lost) those that
 * no longer fit in a packet of the active path; NULL when none is left. */
const tern_dgram_ent *tern_conn_dgram_next(tern_conn *c);
/* That datagram was written into a packet: it leaves the queue. */
void tern_conn_dgram_on_sent(tern_conn *c);
/* A DATAGRAM frame of `frame_len` bytes arrived: checks it against what we advertised (RFC 9221
 * §3) and gives it to the application. Returns 0, or TERN_ERR_PROTO after failing the
 * connection with PROTOCOL_VIOLATION. */
int tern_conn_dgram_on_frame(tern_conn *c, const tern_frame *f, size_t frame_len);
/* A packet carrying DATAGRAM frames was acknowledged (acked = 1) or lost: notes their outcome. A
 * packet acknowledged after it was declared lost is not noted again. */
void tern_conn_dgram_on_pkt(tern_conn *c, const tern_sent_pkt *p, int acked);
/* Reports the noted outcomes to the application, outside any other processing. */
void tern_conn_dgram_flush(tern_conn *c);
/* 1 when outcomes wait to be reported (the connection's timer is then due at once). */
int tern_conn_dgram_has_notes(const tern_conn *c);

#endif
