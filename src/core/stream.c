/* Stream bytes and bookkeeping: the send ring with its acked/lost ranges, the receive ring with
 * out-of-order reassembly and the final-size rules, per-stream flow-control credit, and the map of
 * live streams with the stream-count limits of both sides (RFC 9000 §2-4). Buffers are allocated on
 * first use so that thousands of idle streams cost only their struct. */
#include "stream.h"

#include "frame.h"

#include <stdlib.h>

/* Index in a ring of `cap` bytes of the byte `rel` positions after `head` (rel <= cap). */
static size_t ring_pos(size_t head, uint64_t rel, size_t cap)
{
    size_t p = head + (size_t)rel;
    return p >= cap ? p - cap : p;
}

/* Copies the ring content [rel, rel + len) out to dst. */
static void ring_read(const uint8_t *buf, size_t cap, size_t head, uint64_t rel, size_t len,
                      uint8_t *dst)
{
    if (!len)
        return;
    size_t pos = ring_pos(head, rel, cap);
    size_t first = TERN_MIN(len, cap - pos);
    memcpy(dst, buf + pos, first);
    if (len > first)
        memcpy(dst + first, buf, len - first);
}

static void ring_write(uint8_t *buf, size_t cap, size_t head, uint64_t rel, const uint8_t *src,
                       size_t len)
{
    if (!len)
        return;
    size_t pos = ring_pos(head, rel, cap);
    size_t first = TERN_MIN(len, cap - pos);
    memcpy(buf + pos, src, first);
    if (len > first)
        memcpy(buf, src + first, len - first);
}

/* Reallocates a ring to hold at least `need` bytes (doubling, at most `limit`), keeping its whole
 * old content in order from index 0. Returns 0 or TERN_ERR_NOMEM (ring unchanged). */
static int ring_grow(uint8_t **buf, size_t *cap, size_t *head, size_t need, size_t limit)
{
    size_t ncap = *cap ? *cap : TERN_MIN((size_t)TERN_BUF_MIN_CAP, limit);
    while (ncap < need && ncap < limit)
        ncap = ncap > limit / 2 ? limit : ncap * 2;
    if (ncap < need)
        return TERN_ERR_NOMEM;
    uint8_t *nb = malloc(ncap);
    if (!nb)
        return TERN_ERR_NOMEM;
    if (*cap)
        ring_read(*buf, *cap, *head, 0, *cap, nb);
    free(*buf);
    *buf = nb;
    *cap = ncap;
    *head = 0;
    return 0;
}

/* ---- send buffer ----------------------------------------------------------------------------- */

void tern_sendbuf_init(tern_sendbuf *sb, size_t limit)
{
    memset(sb, 0, sizeof(*sb));
    sb->limit = limit;
    tern_ranges_init(&sb->acked, TERN_SENDBUF_MAX_RANGES);
    tern_ranges_init(&sb->lost, TERN_SENDBUF_MAX_RANGES);
}

void tern_sendbuf_free(tern_sendbuf *sb)
{
    tern_sendbuf_drop_refs(sb);
    free(sb->refs);
    sb->refs = NULL;
    sb->ref0 = sb->nrefs = sb->refs_cap = 0;
    free(sb->buf);
    sb->buf = NULL;
    sb->cap = 0;
    sb->head = 0;
    sb->reserved = 0;
    tern_ranges_free(&sb->acked);
    tern_ranges_free(&sb->lost);
}

void tern_sendbuf_start_at(tern_sendbuf *sb, uint64_t off)
{
    sb->base = sb->end = sb->sent = off;
}

int tern_sendbuf_drained(const tern_sendbuf *sb)
{
    return sb->base == sb->end && !sb->reserved;
}

size_t tern_sendbuf_room(const tern_sendbuf *sb)
{
    uint64_t used = sb->end - sb->base;
    if (sb->fin || used >= sb->limit)
        return 0;
    uint64_t room = sb->limit - used;
    if (room > TERN_MAX_VARINT - sb->end)
        room = TERN_MAX_VARINT - sb->end;
    return (size_t)room;
}

/* How many of `len` new bytes the ring takes now, after growing it when they do not fit (0 with
 * *nomem set when it could not grow and is full). */
static size_t sendbuf_fit(tern_sendbuf *sb, size_t len, int *nomem)
{
    size_t used = sb->rlen;
    size_t n = TERN_MIN(len, tern_sendbuf_room(sb));
    *nomem = 0;
    if (n && used + n > sb->cap &&
        ring_grow(&sb->buf, &sb->cap, &sb->head, used + n, sb->limit) != 0) {
        /* keep going with what fits in the current ring */
        n = TERN_MIN(n, sb->cap - used);
        *nomem = n == 0;
    }
    return n;
}

ssize_t tern_sendbuf_write(tern_sendbuf *sb, const uint8_t *data, size_t len, int fin)
{
    int nomem;
    if (sb->fin)
        return TERN_ERR_STREAM_STATE;
    if (len && !data)
        return TERN_ERR_INVALID_ARG;
    size_t n = sendbuf_fit(sb, len, &nomem);
    if (nomem)
        return TERN_ERR_NOMEM;
    ring_write(sb->buf, sb->cap, sb->head, sb->rlen, data, n);
    sb->end += n;
    sb->rlen += n;
    sb->rtotal += n;
    sb->reserved = 0; /* the reserved place now holds these bytes */
    if (fin && n == len)
        sb->fin = 1;
    return (ssize_t)n;
}

ssize_t tern_sendbuf_reserve(tern_sendbuf *sb, size_t want, uint8_t **p)
{
    int nomem;
    sb->reserved = 0;
    if (sb->fin)
        return TERN_ERR_STREAM_STATE;
    size_t n = sendbuf_fit(sb, want, &nomem);
    if (nomem)
        return TERN_ERR_NOMEM;
    if (!n)
        return 0;
    size_t pos = ring_pos(sb->head, sb->rlen, sb->cap);
    n = TERN_MIN(n, sb->cap - pos);
    *p = sb->buf + pos;
    sb->reserved = n;
    return (ssize_t)n;
}

int tern_sendbuf_commit(tern_sendbuf *sb, size_t n, int fin)
{
    if (sb->fin)
        return TERN_ERR_STREAM_STATE;
    if (n > sb->reserved)
        return TERN_ERR_INVALID_ARG;
    sb->end += n;
    sb->rlen += n;
    sb->rtotal += n;
    sb->reserved = 0;
    if (fin)
        sb->fin = 1;
    return 0;
}

int tern_sendbuf_write_ref(tern_sendbuf *sb, const uint8_t *data, size_t len, int fin,
                           tern_release_fn release, void *ud)
{
    if (!data || !release || !len || len > sb->limit)
        return TERN_ERR_INVALID_ARG;
    if (sb->fin)
        return TERN_ERR_STREAM_STATE;
    if (len > tern_sendbuf_room(sb) || sb->nrefs - sb->ref0 >= TERN_SENDBUF_MAX_REFS)
        return TERN_ERR_WOULD_BLOCK;
    if (sb->ref0 && sb->nrefs == sb->refs_cap) { /* slide the live pieces down */
        memmove(sb->refs, sb->refs + sb->ref0, (sb->nrefs - sb->ref0) * sizeof(*sb->refs));
        sb->nrefs -= sb->ref0;
        sb->ref0 = 0;
    }
    if (sb->nrefs == sb->refs_cap) {
        uint32_t ncap = sb->refs_cap ? sb->refs_cap * 2 : 8;
        tern_sendref *nr = realloc(sb->refs, ncap * sizeof(*nr));
        if (!nr)
            return TERN_ERR_NOMEM;
        sb->refs = nr;
        sb->refs_cap = ncap;
    }
    sb->refs[sb->nrefs++] = (tern_sendref){.off = sb->end, .ring_at = sb->rtotal, .data = data,
                                           .len = len, .release = release, .ud = ud};
    sb->end += len;
    sb->reserved = 0; /* a place handed out before is no longer at `end` */
    if (fin)
        sb->fin = 1;
    return 0;
}

void tern_sendbuf_drop_refs(tern_sendbuf *sb)
{
    for (uint32_t i = sb->ref0; i < sb->nrefs; i++) {
        tern_sendref *r = &sb->refs[i];
        tern_release_fn fn = r->release;
        const uint8_t *data = r->data;
        r->release = NULL;
        r->data = NULL;
        if (fn)
            fn(r->ud, data, r->len);
    }
}

/* The last referenced piece starting at or below `off`, or NULL. */
static const tern_sendref *ref_at_or_below(const tern_sendbuf *sb, uint64_t off)
{
    uint32_t lo = sb->ref0, hi = sb->nrefs;
    while (lo < hi) { /* first piece starting above off */
        uint32_t mid = lo + (hi - lo) / 2;
        if (sb->refs[mid].off <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > sb->ref0 ? &sb->refs[lo - 1] : NULL;
}

/* How many ring bytes were taken in before stream offset `off` (base <= off <= end), counted
 * like rtotal; a byte inside a referenced piece counts as the piece's start. */
static uint64_t ring_count_at(const tern_sendbuf *sb, uint64_t off, const tern_sendref *r)
{
    if (!r)
        return sb->rtotal - sb->rlen + (off - sb->base);
    if (off < r->off + r->len)
        return r->ring_at;
    return r->ring_at + (off - r->off - r->len);
}

size_t tern_sendbuf_span(const tern_sendbuf *sb, uint64_t off, size_t len, const uint8_t **p)
{
    if (!len || off < sb->base || off >= sb->end)
        return 0;
    len = (size_t)TERN_MIN((uint64_t)len, sb->end - off);
    const tern_sendref *r = sb->nrefs > sb->ref0 ? ref_at_or_below(sb, off) : NULL;
    if (r && off < r->off + r->len) {
        *p = r->data + (off - r->off);
        return (size_t)TERN_MIN((uint64_t)len, r->off + r->len - off);
    }
    /* ring bytes, up to the next piece and to where the ring wraps */
    const tern_sendref *next = r ? r + 1 : sb->nrefs > sb->ref0 ? &sb->refs[sb->ref0] : NULL;
    if (next && next < sb->refs + sb->nrefs && next->off - off < len)
        len = (size_t)(next->off - off);
    uint64_t rel = ring_count_at(sb, off, r) - (sb->rtotal - sb->rlen);
    size_t pos = ring_pos(sb->head, rel, sb->cap);
    *p = sb->buf + pos;
    return TERN_MIN(len, sb->cap - pos);
}

/* Marks [lo, hi) for retransmission. When the set is full the range is widened to swallow its
 * nearest neighbour instead: resending bytes the peer already has costs little, forgetting bytes
 * it lacks would stall the stream. */
static void lost_add(tern_sendbuf *sb, uint64_t lo, uint64_t hi)
{
    if (lo >= hi || tern_ranges_add(&sb->lost, lo, hi) == 0)
        return;
    tern_ranges *l = &sb->lost;
    if (!l->n)
        return; /* allocation failed on an empty set: nothing to widen */
    uint32_t best = 0;
    uint64_t best_gap = UINT64_MAX;
    for (uint32_t i = 0; i < l->n; i++) {
        uint64_t gap = l->r[i].hi <= lo ? lo - l->r[i].hi : l->r[i].lo >= hi ? l->r[i].lo - hi : 0;
        if (gap < best_gap) {
            best_gap = gap;
            best = i;
        }
    }
    tern_ranges_add(l, TERN_MIN(lo, l->r[best].lo), TERN_MAX(hi, l->r[best].hi));
}

/* Marks [lo, hi) lost except the parts already acknowledged. */
static void lost_add_unacked(tern_sendbuf *sb, uint64_t lo, uint64_t hi)
{
    const tern_ranges *a = &sb->acked;
    uint32_t i = 0, j = a->n;
    while (i < j) { /* first acked range ending after lo */
        uint32_t mid = i + (j - i) / 2;
        if (a->r[mid].hi <= lo)
            i = mid + 1;
        else
            j = mid;
    }
    uint64_t cur = lo;
    for (; i < a->n && a->r[i].lo < hi && cur < hi; i++) {
        if (a->r[i].lo > cur)
            lost_add(sb, cur, a->r[i].lo);
        if (a->r[i].hi > cur)
            cur = a->r[i].hi;
    }
    if (cur < hi)
        lost_add(sb, cur, hi);
}

int tern_sendbuf_next(const tern_sendbuf *sb, uint64_t max_off, size_t max_len, uint64_t *off,
                      size_t *len, int *fin, int *is_new)
{
    int fin_pending = sb->fin && !sb->fin_acked;
    /* Retransmissions first: they were within flow control when first sent. Only the first lost
     * range is looked at (ranges below base are removed as acks arrive), so this is O(1). */
    for (uint32_t i = 0; i < sb->lost.n && max_len; i++) {
        uint64_t lo = TERN_MAX(sb->lost.r[i].lo, sb->base), hi = sb->lost.r[i].hi;
        if (lo >= hi)
            continue;
        size_t n = (size_t)TERN_MIN(hi - lo, (uint64_t)max_len);
        *off = lo;
        *len = n;
        *fin = fin_pending && lo + n == sb->end;
        *is_new = 0;
        return 1;
    }
    if (sb->sent < sb->end && sb->sent < max_off && max_len) {
        uint64_t n = TERN_MIN(sb->end - sb->sent, max_off - sb->sent);
        n = TERN_MIN(n, (uint64_t)max_len);
        *off = sb->sent;
        *len = (size_t)n;
        *fin = fin_pending && sb->sent + n == sb->end;
        *is_new = 1;
        return 1;
    }
    /* A lone FIN: never sent, or lost after all its bytes went out. It needs no credit. */
    if (fin_pending && sb->sent == sb->end && (!sb->fin_sent || sb->fin_lost)) {
        *off = sb->end;
        *len = 0;
        *fin = 1;
        *is_new = 0;
        return 1;
    }
    return 0;
}

int tern_sendbuf_has_pending(const tern_sendbuf *sb, uint64_t max_off)
{
    uint64_t off;
    size_t len;
    int fin, is_new;
    return tern_sendbuf_next(sb, max_off, SIZE_MAX, &off, &len, &fin, &is_new);
}

void tern_sendbuf_copy(const tern_sendbuf *sb, uint64_t off, size_t len, uint8_t *dst)
{
    if (!len || off < sb->base || off + len > sb->end)
        return;
    if (sb->nrefs == sb->ref0) {
        ring_read(sb->buf, sb->cap, sb->head, off - sb->base, len, dst);
        return;
    }
    const uint8_t *p;
    size_t n;
    while (len && (n = tern_sendbuf_span(sb, off, len, &p)) > 0) {
        memcpy(dst, p, n);
        dst += n;
        off += n;
        len -= n;
    }
}

void tern_sendbuf_on_sent(tern_sendbuf *sb, uint64_t off, size_t len, int fin)
{
    uint64_t hi = off + len;
    if (len) {
        /* What next() hands out is a prefix of the first lost range: removing it never splits. */
        tern_ranges_remove(&sb->lost, off, hi);
        if (hi > sb->sent)
            sb->sent = TERN_MIN(hi, sb->end);
    }
    if (fin && sb->fin) {
        sb->fin_sent = 1;
        sb->fin_lost = 0;
    }
}

void tern_sendbuf_on_acked(tern_sendbuf *sb, uint64_t off, size_t len, int fin)
{
    if (fin && sb->fin) {
        sb->fin_acked = 1;
        sb->fin_lost = 0;
    }
    uint64_t lo = TERN_MAX(off, sb->base), hi = TERN_MIN(off + len, sb->sent);
    if (lo < hi) {
        if (tern_ranges_add(&sb->acked, lo, hi) != 0) {
            /* Cannot remember this ack: resend the bytes so that a later ack covers them. */
            lost_add(sb, lo, hi);
            return;
        }
        tern_ranges_remove(&sb->lost, lo, hi); /* may fail to split: the bytes are just resent */
    }
    const tern_range *f = tern_ranges_first(&sb->acked);
    if (f && f->lo <= sb->base) {
        uint64_t nb = f->hi;
        const tern_sendref *r = sb->nrefs > sb->ref0 ? ref_at_or_below(sb, nb) : NULL;
        size_t gone = (size_t)(ring_count_at(sb, nb, r) - (sb->rtotal - sb->rlen));
        sb->head = sb->cap ? ring_pos(sb->head, gone, sb->cap) : 0;
        sb->rlen -= gone;
        sb->base = nb;
        tern_ranges_remove_below(&sb->acked, nb);
        tern_ranges_remove_below(&sb->lost, nb);
        /* pieces wholly acknowledged, and everything before them: back to the application */
        while (sb->ref0 < sb->nrefs && sb->refs[sb->ref0].off + sb->refs[sb->ref0].len <= nb) {
            tern_sendref *done = &sb->refs[sb->ref0++];
            tern_release_fn fn = done->release;
            done->release = NULL;
            if (fn)
                fn(done->ud, done->data, done->len);
        }
        if (sb->ref0 == sb->nrefs)
            sb->ref0 = sb->nrefs = 0;
    }
    if (tern_sendbuf_drained(sb) && (sb->fin || sb->cap <= TERN_SENDBUF_DRAINED_FREE_MAX)) {
        /* Everything written is acknowledged. Nothing more can be written after FIN: the ring
         * goes now rather than when the stream dies. A small ring goes too (a stream that writes
         * now and then, as HTTP/3's control and QPACK streams do, holds nothing while idle) and
         * comes back at the next write; a larger one is a bulk stream's, kept for its next
         * burst. The range sets are empty: their arrays go with it. */
        free(sb->buf);
        sb->buf = NULL;
        sb->cap = 0;
        sb->head = 0;
        tern_ranges_free(&sb->acked);
        tern_ranges_free(&sb->lost);
    }
}

void tern_sendbuf_on_lost(tern_sendbuf *sb, uint64_t off, size_t len, int fin)
{
    if (fin && sb->fin && !sb->fin_acked)
        sb->fin_lost = 1;
    uint64_t lo = TERN_MAX(off, sb->base), hi = TERN_MIN(off + len, sb->sent);
    if (lo < hi)
        lost_add_unacked(sb, lo, hi);
}

void tern_sendbuf_rewind(tern_sendbuf *sb)
{
    tern_ranges_remove_below(&sb->lost, UINT64_MAX);
    sb->sent = sb->base;
    sb->fin_sent = sb->fin_lost = 0;
}

int tern_sendbuf_all_acked(const tern_sendbuf *sb)
{
    return sb->fin && sb->fin_acked && sb->base == sb->end;
}

/* ---- stream ids ------------------------------------------------------------------------------ */

int tern_sid_can_send(int64_t id, int is_server)
{
    return tern_sid_is_bidi(id) || tern_sid_is_server(id) == !!is_server;
}

int tern_sid_can_recv(int64_t id, int is_server)
{
    return tern_sid_is_bidi(id) || tern_sid_is_server(id) != !!is_server;
}

/* ---- per-stream flow control ----------------------------------------------------------------- */

/* Limits a frame reaching `end` must respect before anything is stored: the stream's advertised
 * limit, then the connection's remaining credit for the bytes it adds. */
static int check_credit(const tern_stream *s, uint64_t end, uint64_t conn_credit, uint64_t *terr)
{
    if (end > s->max_recv) {
        *terr = TERN_TE_FLOW_CONTROL_ERROR;
        return TERN_ERR_PROTO;
    }
    if (end > s->rcv.highest && end - s->rcv.highest > conn_credit) {
        *terr = TERN_TE_FLOW_CONTROL_ERROR;
        return TERN_ERR_PROTO;
    }
    return 0;
}

static int recv_impl(tern_stream *s, uint64_t off, const uint8_t *data, size_t len, int fin,
                     uint64_t conn_credit, tern_stream_credit *cr, uint64_t *terr, int lend)
{
    cr->new_bytes = cr->consumed = 0;
    if (off > TERN_MAX_VARINT || len > TERN_MAX_VARINT - off) {
        *terr = TERN_TE_FLOW_CONTROL_ERROR;
        return TERN_ERR_PROTO;
    }
    int rv = check_credit(s, off + len, conn_credit, terr);
    if (rv)
        return rv;
    uint64_t highest = s->rcv.highest, read_off = s->rcv.read_off;
    rv = lend ? tern_recvbuf_write_lent(&s->rcv, off, data, len, fin, terr)
              : tern_recvbuf_write(&s->rcv, off, data, len, fin, terr);
    if (rv == 0) {
        cr->new_bytes = s->rcv.highest - highest;
        cr->consumed = s->rcv.read_off - read_off; /* discarded at once */
    }
    return rv;
}

int tern_stream_recv(tern_stream *s, uint64_t off, const uint8_t *data, size_t len, int fin,
                     uint64_t conn_credit, tern_stream_credit *cr, uint64_t *terr)
{
    return recv_impl(s, off, data, len, fin, conn_credit, cr, terr, 0);
}

int tern_stream_recv_lent(tern_stream *s, uint64_t off, const uint8_t *data, size_t len, int fin,
                          uint64_t conn_credit, tern_stream_credit *cr, uint64_t *terr)
{
    return recv_impl(s, off, data, len, fin, conn_credit, cr, terr, 1);
}

int tern_stream_on_reset(tern_stream *s, uint64_t final_size, uint64_t conn_credit,
                         tern_stream_credit *cr, uint64_t *terr)
{
    cr->new_bytes = cr->consumed = 0;
    int rv = check_credit(s, final_size, conn_credit, terr);
    if (rv)
        return rv;
    rv = tern_recvbuf_set_final_size(&s->rcv, final_size, &cr->new_bytes, terr);
    if (rv)
        return rv;
    /* unread bytes will never be read: their memory and their credit go back now */
    cr->consumed = tern_recvbuf_discard(&s->rcv);
    s->flags |= TERN_SF_RESET_RECVD;
    return 0;
}

uint64_t tern_stream_stop_recv(tern_stream *s, uint64_t app_error)
{
    /* once the final size is known the peer has sent everything: nothing to stop (RFC 9000 §3.5) */
    if (!(s->flags & (TERN_SF_STOP_SENT | TERN_SF_RESET_RECVD)) &&
        s->rcv.final_size == UINT64_MAX) {
        s->flags |= TERN_SF_NEED_STOP_SENDING;
        s->stop_error = app_error;
    }
    s->flags |= TERN_SF_STOP_SENT;
    return s->rcv.discard ? 0 : tern_recvbuf_discard(&s->rcv);
}

int tern_stream_reset_send(tern_stream *s, uint64_t app_error)
{
    if (s->flags & TERN_SF_RESET_SENT)
        return 0;
    if (tern_sendbuf_all_acked(&s->snd))
        return TERN_ERR_STREAM_STATE; /* complete: nothing to abandon */
    s->flags |= TERN_SF_NEED_RESET | TERN_SF_RESET_SENT;
    s->reset_error = app_error;
    s->reset_final_size = s->snd.sent; /* what the peer may have seen */
    tern_sendbuf_drop_refs(&s->snd);   /* nothing of the stream is sent again */
    return 1;
}

int tern_stream_on_frame_lost(tern_stream *s, uint64_t type, uint64_t value)
{
    uint32_t need = 0;
    switch (type) {
    case TERN_FT_MAX_STREAM_DATA:
        /* only the current limit, and only while the peer may still need credit */
        if (value == s->max_recv_next && s->rcv.final_size == UINT64_MAX && !s->rcv.discard)
            need = TERN_SF_NEED_MAX_STREAM_DATA;
        break;
    case TERN_FT_STREAM_DATA_BLOCKED:
        /* still blocked at the same limit (RFC 9000 §13.3) */
        if (value == s->max_send && !(s->flags & TERN_SF_RESET_SENT) && s->snd.end > s->max_send)
            need = TERN_SF_NEED_STREAM_DATA_BLOCKED;
        break;
    case TERN_FT_RESET_STREAM:
        if (!(s->flags & TERN_SF_RESET_ACKED))
            need = TERN_SF_NEED_RESET;
        break;
    case TERN_FT_STOP_SENDING:
        /* pointless once the peer's final size is known, or it reset */
        if (s->rcv.final_size == UINT64_MAX && !(s->flags & TERN_SF_RESET_RECVD))
            need = TERN_SF_NEED_STOP_SENDING;
        break;
    default:
        break;
    }
    s->flags |= need;
    return need != 0;
}

int tern_stream_on_max_stream_data(tern_stream *s, uint64_t max)
{
    if (max <= s->max_send)
        return 0; /* limits only grow; a reordered older frame changes nothing */
    s->max_send = max;
    return tern_sendbuf_has_pending(&s->snd, s->max_send);
}

int tern_stream_update_recv_credit(tern_stream *s, int force)
{
    const tern_recvbuf *rb = &s->rcv;
    if (rb->final_size != UINT64_MAX || rb->discard || !s->recv_window)
        return 0;
    uint64_t open = s->max_recv_next > rb->read_off ? s->max_recv_next - rb->read_off : 0;
    if (!force && open > s->recv_window / 2)
        return 0;
    /* the buffer must accept whatever the new limit allows, should the window have been enlarged */
    if (s->recv_window > s->rcv.limit)
        s->rcv.limit = s->recv_window > SIZE_MAX ? SIZE_MAX : (size_t)s->recv_window;
    uint64_t nmax = rb->read_off + s->recv_window;
    if (nmax > TERN_MAX_VARINT)
        nmax = TERN_MAX_VARINT;
    if (nmax <= s->max_recv_next)
        return 0;
    s->max_recv_next = nmax;
    s->flags |= TERN_SF_NEED_MAX_STREAM_DATA;
    return 1;
}

void tern_stream_max_stream_data_sent(tern_stream *s, uint64_t max)
{
    if (max > s->max_recv)
        s->max_recv = max;
}

int tern_stream_on_data_blocked(tern_stream *s, uint64_t limit)
{
    if (s->rcv.final_size != UINT64_MAX || s->rcv.discard)
        return 0;
    if (s->max_recv_next > limit) {
        /* the peer has not seen our last MAX_STREAM_DATA (or it is still queued): say it again */
        s->flags |= TERN_SF_NEED_MAX_STREAM_DATA;
        return 1;
    }
    return tern_stream_update_recv_credit(s, 1);
}

/* ---- stream map ------------------------------------------------------------------------------ */

#define MAX_STREAM_COUNT (1ull << 60) /* stream ids stop at 2^62 */
#define INITIAL_BUCKETS 16

static size_t bucket_of(int64_t id, size_t nbuckets)
{
    /* Ids are sequential per kind: a multiplicative mix spreads them over the table. */
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) & (nbuckets - 1);
}

void tern_streams_init(tern_streams *m, int is_server, size_t send_buffer)
{
    memset(m, 0, sizeof(*m));
    m->is_server = !!is_server;
    m->send_buffer = send_buffer;
    tern_chunk_pool_init(&m->pool, 0);
}

void tern_streams_free(tern_streams *m)
{
    for (size_t b = 0; b < m->nbuckets; b++) {
        tern_stream *s = m->buckets[b];
        while (s) {
            tern_stream *next = s->hnext;
            tern_sendbuf_free(&s->snd);
            tern_recvbuf_free(&s->rcv);
            free(s);
            s = next;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->count = 0;
    m->sendq_head = m->sendq_tail = NULL;
    m->ctrlq_head = NULL;
    tern_chunk_pool_free(&m->pool);
}

size_t tern_streams_recv_bytes(const tern_streams *m)
{
    size_t n = tern_chunk_pool_bytes(&m->pool);
    for (size_t b = 0; b < m->nbuckets; b++)
        for (const tern_stream *s = m->buckets[b]; s; s = s->hnext)
            n += tern_recvbuf_overhead(&s->rcv);
    return n;
}

void tern_streams_trim(tern_streams *m)
{
    for (size_t b = 0; b < m->nbuckets; b++)
        for (tern_stream *s = m->buckets[b]; s; s = s->hnext)
            tern_recvbuf_trim(&s->rcv);
    tern_chunk_pool_free(&m->pool);
}

tern_stream *tern_streams_find(const tern_streams *m, int64_t id)
{
    if (!m->nbuckets)
        return NULL;
    for (tern_stream *s = m->buckets[bucket_of(id, m->nbuckets)]; s; s = s->hnext)
        if (s->id == id)
            return s;
    return NULL;
}

static void rehash(tern_streams *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : INITIAL_BUCKETS;
    tern_stream **t = calloc(nb, sizeof(*t));
    if (!t)
        return; /* longer chains, still correct */
    for (size_t b = 0; b < m->nbuckets; b++) {
        tern_stream *s = m->buckets[b];
        while (s) {
            tern_stream *next = s->hnext;
            size_t i = bucket_of(s->id, nb);
            s->hnext = t[i];
            t[i] = s;
            s = next;
        }
    }
    free(m->buckets);
    m->buckets = t;
    m->nbuckets = nb;
}

/* Allocates and registers a stream with the flow-control values for its kind and initiator. */
static tern_stream *stream_new(tern_streams *m, int64_t id)
{
    if (m->count >= m->nbuckets)
        rehash(m);
    if (!m->nbuckets)
        return NULL;
    tern_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->id = id;
    int local = tern_sid_is_server(id) == m->is_server;
    uint64_t max_send = 0, max_recv = 0;
    if (tern_sid_is_bidi(id)) {
        max_recv = local ? m->local_max_data_bidi_local : m->local_max_data_bidi_remote;
        max_send = local ? m->peer_max_data_bidi_remote : m->peer_max_data_bidi_local;
    } else if (local) {
        max_send = m->peer_max_data_uni;
    } else {
        max_recv = m->local_max_data_uni;
    }
    s->max_send = max_send;
    s->max_recv = s->max_recv_next = max_recv;
    s->recv_window = max_recv;
    tern_sendbuf_init(&s->snd, tern_sid_can_send(id, m->is_server) ? m->send_buffer : 0);
    tern_recvbuf_init(&s->rcv, max_recv > SIZE_MAX ? SIZE_MAX : (size_t)max_recv, &m->pool);
    size_t b = bucket_of(id, m->nbuckets);
    s->hnext = m->buckets[b];
    m->buckets[b] = s;
    m->count++;
    return s;
}

int tern_streams_open_local(tern_streams *m, int bidi, tern_stream **out)
{
    int k = bidi ? 0 : 1;
    if (m->next_local[k] >= m->max_local[k] || m->next_local[k] >= MAX_STREAM_COUNT) {
        m->need_streams_blocked[k] = 1;
        return TERN_ERR_STREAM_LIMIT;
    }
    tern_stream *s = stream_new(m, tern_sid_make(m->next_local[k], bidi, m->is_server));
    if (!s)
        return TERN_ERR_NOMEM;
    m->next_local[k]++;
    if (out)
        *out = s;
    return 0;
}

int tern_streams_get_remote(tern_streams *m, int64_t id, int for_send, tern_stream **out,
                            uint64_t *terr)
{
    *out = NULL;
    if (id < 0 || (uint64_t)id > TERN_MAX_VARINT)
        return TERN_ERR_INVALID_ARG;
    int k = tern_sid_is_bidi(id) ? 0 : 1;
    uint64_t n = (uint64_t)id >> 2;
    if (for_send ? !tern_sid_can_send(id, m->is_server) : !tern_sid_can_recv(id, m->is_server)) {
        *terr = TERN_TE_STREAM_STATE_ERROR;
        return TERN_ERR_PROTO;
    }
    if (tern_sid_is_server(id) == m->is_server) {
        if (n >= m->next_local[k]) {
            *terr = TERN_TE_STREAM_STATE_ERROR;
            return TERN_ERR_PROTO;
        }
        *out = tern_streams_find(m, id);
        return 0;
    }
    if (n < m->opened_remote[k]) {
        *out = tern_streams_find(m, id); /* NULL: closed already */
        return 0;
    }
    if (n >= m->max_remote[k]) {
        *terr = TERN_TE_STREAM_LIMIT_ERROR;
        return TERN_ERR_PROTO;
    }
    /* Opening a stream opens every lower-numbered one of its kind (RFC 9000 §3.2). */
    tern_stream *s = NULL;
    while (m->opened_remote[k] <= n) {
        s = stream_new(m, tern_sid_make(m->opened_remote[k], k == 0, !m->is_server));
        if (!s)
            return TERN_ERR_NOMEM;
        m->opened_remote[k]++;
    }
    *out = s;
    return 0;
}

static void sendq_unlink(tern_streams *m, tern_stream *s)
{
    if (!s->in_sendq)
        return;
    if (s->sprev)
        s->sprev->snext = s->snext;
    else
        m->sendq_head = s->snext;
    if (s->snext)
        s->snext->sprev = s->sprev;
    else
        m->sendq_tail = s->sprev;
    s->snext = s->sprev = NULL;
    s->in_sendq = 0;
}

void tern_streams_ctrlq_push(tern_streams *m, tern_stream *s)
{
    if (s->in_ctrlq)
        return;
    s->cprev = NULL;
    s->cnext = m->ctrlq_head;
    if (m->ctrlq_head)
        m->ctrlq_head->cprev = s;
    m->ctrlq_head = s;
    s->in_ctrlq = 1;
}

void tern_streams_ctrlq_remove(tern_streams *m, tern_stream *s)
{
    if (!s->in_ctrlq)
        return;
    if (s->cprev)
        s->cprev->cnext = s->cnext;
    else
        m->ctrlq_head = s->cnext;
    if (s->cnext)
        s->cnext->cprev = s->cprev;
    s->cnext = s->cprev = NULL;
    s->in_ctrlq = 0;
}

void tern_streams_close(tern_streams *m, tern_stream *s)
{
    if (!s || !m->nbuckets)
        return;
    tern_stream **pp = &m->buckets[bucket_of(s->id, m->nbuckets)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (!*pp)
        return; /* not ours */
    *pp = s->hnext;
    m->count--;
    sendq_unlink(m, s);
    tern_streams_ctrlq_remove(m, s);
    if (tern_sid_is_server(s->id) != m->is_server) {
        int k = tern_sid_is_bidi(s->id) ? 0 : 1;
        m->closed_remote[k]++;
        uint64_t target = m->closed_remote[k] + m->initial_remote[k];
        if (target > MAX_STREAM_COUNT)
            target = MAX_STREAM_COUNT;
        uint64_t step = m->initial_remote[k] / 2;
        if (step == 0)
            step = 1;
        /* Credit goes out in batches, not one MAX_STREAMS per closed stream. */
        if (target > m->max_remote_next[k] && target - m->max_remote_next[k] >= step) {
            m->max_remote_next[k] = target;
            m->need_max_streams[k] = 1;
        }
    }
    tern_sendbuf_free(&s->snd);
    tern_recvbuf_free(&s->rcv);
    free(s);
}

void tern_streams_set_remote_limits(tern_streams *m, uint64_t max_bidi, uint64_t max_uni)
{
    for (int k = 0; k < 2; k++) {
        uint64_t max = TERN_MIN(k ? max_uni : max_bidi, MAX_STREAM_COUNT);
        m->max_remote[k] = m->max_remote_next[k] = m->initial_remote[k] = max;
    }
}

/* The peer's send limits onto our own streams: raised only (`exact` 0: a stream keeps credit a
 * MAX_STREAM_DATA already gave it), or set as they are (`exact` 1: 0-RTT refused, the peer gave
 * nothing). Returns the bytes the streams count as sent. */
static uint64_t apply_local_limits(tern_streams *m, uint64_t bidi_remote, uint64_t uni, int exact)
{
    uint64_t sent = 0;
    m->peer_max_data_bidi_remote = bidi_remote;
    m->peer_max_data_uni = uni;
    for (size_t b = 0; b < m->nbuckets; b++)
        for (tern_stream *s = m->buckets[b]; s; s = s->hnext) {
            if (tern_sid_is_server(s->id) != m->is_server)
                continue;
            uint64_t lim = tern_sid_is_bidi(s->id) ? bidi_remote : uni;
            if (exact) {
                s->max_send = lim;
                s->blocked_at = UINT64_MAX;
                tern_sendbuf_rewind(&s->snd);
                if (tern_sendbuf_has_pending(&s->snd, s->max_send))
                    tern_streams_sendq_push(m, s);
            } else if (lim > s->max_send) {
                s->max_send = lim;
            }
            sent += s->snd.sent;
        }
    return sent;
}

void tern_streams_set_peer_limits(tern_streams *m, uint64_t bidi_local, uint64_t bidi_remote,
                                  uint64_t uni)
{
    m->peer_max_data_bidi_local = bidi_local;
    /* local streams opened before the peer's parameters arrived get its limits now */
    (void)apply_local_limits(m, bidi_remote, uni, 0);
}

uint64_t tern_streams_restart_send(tern_streams *m, uint64_t bidi_remote, uint64_t uni)
{
    return apply_local_limits(m, bidi_remote, uni, 1);
}

int tern_streams_on_max_streams(tern_streams *m, int bidi, uint64_t max)
{
    int k = bidi ? 0 : 1;
    max = TERN_MIN(max, MAX_STREAM_COUNT);
    if (max <= m->max_local[k])
        return 0;
    m->max_local[k] = max;
    m->need_streams_blocked[k] = 0;
    return 1;
}

int tern_streams_on_streams_blocked(tern_streams *m, int bidi, uint64_t limit)
{
    int k = bidi ? 0 : 1;
    if (m->max_remote_next[k] <= limit) {
        /* what closed streams earned but the batching held back goes out now */
        uint64_t target = TERN_MIN(m->closed_remote[k] + m->initial_remote[k], MAX_STREAM_COUNT);
        if (target <= m->max_remote_next[k])
            return 0;
        m->max_remote_next[k] = target;
    }
    m->need_max_streams[k] = 1; /* the new limit, or the one the peer missed */
    return 1;
}

int tern_streams_on_frame_lost(tern_streams *m, uint64_t type, uint64_t value)
{
    int uni = type == TERN_FT_MAX_STREAMS_UNI || type == TERN_FT_STREAMS_BLOCKED_UNI;
    switch (type) {
    case TERN_FT_MAX_STREAMS_BIDI:
    case TERN_FT_MAX_STREAMS_UNI:
        if (value != m->max_remote_next[uni])
            return 0; /* a later one went out since */
        m->need_max_streams[uni] = 1;
        return 1;
    case TERN_FT_STREAMS_BLOCKED_BIDI:
    case TERN_FT_STREAMS_BLOCKED_UNI:
        /* still blocked at the same limit (RFC 9000 §13.3) */
        if (value != m->max_local[uni] || m->next_local[uni] < m->max_local[uni])
            return 0;
        m->need_streams_blocked[uni] = 1;
        return 1;
    default:
        return 0;
    }
}

void tern_streams_max_streams_sent(tern_streams *m, int uni, uint64_t max)
{
    if (max > m->max_remote[uni])
        m->max_remote[uni] = max;
}

int tern_stream_is_done(const tern_stream *s, int is_server)
{
    int send_done = !tern_sid_can_send(s->id, is_server) || tern_sendbuf_all_acked(&s->snd) ||
                    ((s->flags & TERN_SF_RESET_SENT) && (s->flags & TERN_SF_RESET_ACKED));
    int recv_done = !tern_sid_can_recv(s->id, is_server) || (s->flags & TERN_SF_FIN_READ) ||
                    tern_recvbuf_finished(&s->rcv) || (s->flags & TERN_SF_RESET_RECVD);
    return send_done && recv_done;
}

void tern_streams_sendq_push(tern_streams *m, tern_stream *s)
{
    if (s->in_sendq)
        return;
    s->snext = NULL;
    s->sprev = m->sendq_tail;
    if (m->sendq_tail)
        m->sendq_tail->snext = s;
    else
        m->sendq_head = s;
    m->sendq_tail = s;
    s->in_sendq = 1;
}

tern_stream *tern_streams_sendq_pop(tern_streams *m)
{
    tern_stream *s = m->sendq_head;
    if (s)
        sendq_unlink(m, s);
    return s;
}
