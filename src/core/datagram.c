/* Unreliable datagrams (RFC 9221): the send queue, the sizes that fit, DATAGRAM frames received,
 * and the outcomes of sent ones, reported to the application after the processing that learnt
 * them (from inside loss detection the application could not safely call back into the
 * connection). */
#include <stdio.h>
#include <stdlib.h>

#include "conn_internal.h"

/* ---- the queue ------------------------------------------------------------------------------- */

/* Each datagram takes at least one byte of the ring, so that every one has a place of its own
 * and the wrap point is found by position alone. */
static size_t footprint(size_t len)
{
    return len ? len : 1;
}

void tern_dgramq_init(tern_dgramq *q, size_t cap_bytes, size_t cap_count)
{
    memset(q, 0, sizeof(*q));
    q->cap = cap_bytes;
    q->ecap = cap_count;
}

void tern_dgramq_free(tern_dgramq *q)
{
    free(q->buf);
    free(q->ent);
    tern_dgramq_init(q, q->cap, q->ecap);
}

int tern_dgramq_push(tern_dgramq *q, const uint8_t *data, size_t len, uint64_t tag)
{
    size_t sz = footprint(len), off;
    if (sz > q->cap || q->ecap == 0)
        return TERN_ERR_INVALID_ARG;
    if (q->n == q->ecap)
        return TERN_ERR_WOULD_BLOCK;
    if (!q->buf) {
        q->buf = malloc(q->cap);
        q->ent = malloc(q->ecap * sizeof(*q->ent));
        if (!q->buf || !q->ent) {
            tern_dgramq_free(q);
            return TERN_ERR_NOMEM;
        }
    }
    if (q->n == 0) {
        q->rd = q->wr = 0;
        q->wrapped = 0;
    }
    if (q->wrapped) {
        if (q->wr + sz > q->rd)
            return TERN_ERR_WOULD_BLOCK;
        off = q->wr;
    } else if (q->wr + sz <= q->cap) {
        off = q->wr;
    } else if (sz <= q->rd) {
        q->wrap_end = q->wr;
        q->wrapped = 1;
        off = 0;
    } else {
        return TERN_ERR_WOULD_BLOCK;
    }
    tern_dgram_ent *e = &q->ent[(q->head + q->n) % q->ecap];
    e->tag = tag;
    e->off = off;
    e->len = len;
    if (len)
        memcpy(q->buf + off, data, len);
    q->wr = off + sz;
    q->n++;
    q->bytes += len;
    return 0;
}

const tern_dgram_ent *tern_dgramq_peek(const tern_dgramq *q)
{
    return q->n ? &q->ent[q->head] : NULL;
}

const uint8_t *tern_dgramq_data(const tern_dgramq *q, const tern_dgram_ent *e)
{
    return q->buf + e->off;
}

void tern_dgramq_pop(tern_dgramq *q)
{
    if (!q->n)
        return;
    const tern_dgram_ent *e = &q->ent[q->head];
    q->rd = e->off + footprint(e->len);
    q->bytes -= e->len;
    q->head = (q->head + 1) % q->ecap;
    if (--q->n == 0) {
        q->rd = q->wr = 0;
        q->wrapped = 0;
    } else if (q->wrapped && q->rd == q->wrap_end) {
        q->rd = 0; /* the oldest left is the first one stored after the wrap */
        q->wrapped = 0;
    }
}

/* ---- sizes ----------------------------------------------------------------------------------- */

/* The largest DATAGRAM frame that may go out now: the peer's limit, and what a packet on the
 * active path holds around it (header with the longest packet number, AEAD tag). Until a 0-RTT
 * client completes its handshake that packet is a 0-RTT one, whose long header also carries the
 * version, our CID and a Length (counted at its four-byte form). */
static uint64_t frame_limit(tern_conn *c)
{
    if (!c->dgram.peer_known || !c->dgram.peer_max)
        return 0;
    const tern_path *p = tern_conn_path(c);
    const tern_cid_entry *e = tern_peer_cids_for_path(&c->cids.peer, (uint8_t)c->paths.active);
    size_t over = 1 + (e ? e->cid.len : TERN_MAX_CID_LEN) + 4 + TERN_AEAD_TAG_LEN;
    if (!c->hs.complete && c->res.early == TERN_EARLY_DATA_PENDING)
        over += 4 + 1 + 1 + (size_t)c->cids.local.e[0].cid.len + 4;
    /* a path's datagrams are at least TERN_PMTUD_BASE bytes, far more than `over` */
    uint64_t room = tern_path_mtu(p) - over;
    return TERN_MIN(room, c->dgram.peer_max);
}

/* Whether a datagram of `len` bytes can go out (and be queued) now. */
static int fits(tern_conn *c, size_t len)
{
    size_t f = tern_frame_datagram_len(len);
    return f && f <= frame_limit(c) && footprint(len) <= c->dgram.q.cap;
}

size_t tern_conn_dgram_max_payload(tern_conn *c)
{
    uint64_t m = tern_frame_datagram_max_payload(frame_limit(c));
    return (size_t)TERN_MIN(m, (uint64_t)c->dgram.q.cap);
}

/* ---- outcomes -------------------------------------------------------------------------------- */

static void note(tern_conn *c, uint64_t tag, int acked)
{
    tern_conn_dgram_state *d = &c->dgram;
    if (d->notes_n == d->notes_cap) {
        size_t ncap = d->notes_cap ? 2 * d->notes_cap : 16;
        tern_dgram_note *n = realloc(d->notes, ncap * sizeof(*n));
        if (!n) {
            /* the counters stay right; only this report is missed */
            TERN_LOG(c, "datagram %llu: no memory to report its outcome", (unsigned long long)tag);
            return;
        }
        d->notes = n;
        d->notes_cap = ncap;
    }
    d->notes[d->notes_n].tag = tag;
    d->notes[d->notes_n].acked = acked;
    d->notes_n++;
}

/* The oldest queued datagram is dropped unsent. */
static void drop_oldest(tern_conn *c)
{
    const tern_dgram_ent *e = tern_dgramq_peek(&c->dgram.q);
    note(c, e->tag, 0);
    c->dgram.dropped++;
    tern_dgramq_pop(&c->dgram.q);
}

void tern_conn_dgram_on_pkt(tern_conn *c, const tern_sent_pkt *p, int acked)
{
    if (acked && p->lost)
        return; /* reported lost already: each datagram has one outcome */
    for (int i = 0; i < p->n_frames; i++) {
        const tern_sent_frame *f = &p->frames[i];
        if (f->type != TERN_FT_DATAGRAM)
            continue;
        if (acked)
            c->dgram.acked++;
        else
            c->dgram.lost++;
        note(c, f->id, acked);
    }
}

int tern_conn_dgram_has_notes(const tern_conn *c)
{
    return c->dgram.notes_n > 0 && c->state < TERN_CS_CLOSING;
}

void tern_conn_dgram_flush(tern_conn *c)
{
    tern_conn_dgram_state *d = &c->dgram;
    if (!d->notes_n)
        return; /* the usual case, after every datagram received */
    /* callbacks may note more (a datagram sent, another dropped): take the list as it is now */
    size_t n = d->notes_n, i;
    for (i = 0; i < n && c->state < TERN_CS_CLOSING; i++) {
        tern_dgram_note e = d->notes[i];
        void (*fn)(tern_conn *, uint64_t, void *) = !c->cb    ? NULL
                                                    : e.acked ? c->cb->on_datagram_acked
                                                              : c->cb->on_datagram_lost;
        if (fn)
            fn(c, e.tag, c->cb_ud);
    }
    if (c->state >= TERN_CS_CLOSING) {
        d->notes_n = 0; /* nothing is reported once the connection closes */
        return;
    }
    memmove(d->notes, d->notes + n, (d->notes_n - n) * sizeof(*d->notes));
    d->notes_n -= n;
}

/* ---- the connection's side ------------------------------------------------------------------- */

void tern_conn_dgram_init(tern_conn *c)
{
    memset(&c->dgram, 0, sizeof(c->dgram));
    tern_dgramq_init(&c->dgram.q, c->cfg->datagram_queue_bytes, c->cfg->datagram_queue_count);
}

void tern_conn_dgram_free(tern_conn *c)
{
    tern_dgramq_free(&c->dgram.q);
    free(c->dgram.notes);
    c->dgram.notes = NULL;
    c->dgram.notes_n = c->dgram.notes_cap = 0;
}

void tern_conn_dgram_set_peer_max(tern_conn *c, uint64_t max)
{
    c->dgram.peer_max = max;
    c->dgram.peer_known = 1;
}

int tern_conn_dgram_pending(const tern_conn *c)
{
    return c->dgram.q.n > 0;
}

const tern_dgram_ent *tern_conn_dgram_next(tern_conn *c)
{
    const tern_dgram_ent *e;
    /* one that no longer fits (the connection moved to a path with a smaller MTU, the peer's
     * limit shrank) never will: it goes, reported lost, rather than blocking those behind it */
    while ((e = tern_dgramq_peek(&c->dgram.q)) != NULL && !fits(c, e->len))
        drop_oldest(c);
    return e;
}

void tern_conn_dgram_on_sent(tern_conn *c)
{
    c->dgram.sent++;
    tern_dgramq_pop(&c->dgram.q);
}

int tern_conn_dgram_on_frame(tern_conn *c, const tern_frame *f, size_t frame_len)
{
    uint64_t ours = c->tp.local.max_datagram_frame_size;
    if (!ours || frame_len > ours) {
        tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, f->type,
                       ours ? "DATAGRAM frame larger than max_datagram_frame_size"
                            : "DATAGRAM frame without max_datagram_frame_size");
        return TERN_ERR_PROTO;
    }
    c->dgram.recv++;
    if (c->cb && c->cb->on_datagram)
        c->cb->on_datagram(c, f->u.datagram.data, f->u.datagram.len, c->cb_ud);
    return 0;
}

/* ---- public API ------------------------------------------------------------------------------ */

int tern_conn_send_datagram(tern_conn *c, const void *data, size_t len, uint64_t tag)
{
    if (!c || (!data && len))
        return TERN_ERR_INVALID_ARG;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    if (!c->dgram.peer_known || !c->dgram.peer_max)
        return TERN_ERR_DATAGRAM_UNSUPPORTED;
    if (!fits(c, len))
        return TERN_ERR_DATAGRAM_TOO_LARGE;
    /* the loop ends: an empty queue takes any datagram that fits (its bytes are within cap) */
    int rv;
    while ((rv = tern_dgramq_push(&c->dgram.q, data, len, tag)) == TERN_ERR_WOULD_BLOCK &&
           c->cfg->datagram_drop_oldest)
        drop_oldest(c);
    if (rv)
        return rv;
    tern_conn_wake(c);
    return 0;
}

size_t tern_conn_datagram_max_size(tern_conn *c)
{
    if (!c || c->state >= TERN_CS_CLOSING)
        return 0;
    return tern_conn_dgram_max_payload(c);
}
