/* Chunked reassembly and its chunk pool (see recvbuf.h). A buffer keeps a ring of pointers to the
 * chunks covering [read_off, highest): a chunk exists only where bytes arrived, so a peer that
 * names far offsets with single bytes makes us hold one chunk per byte at most, and the total stays
 * within what flow control lets it have outstanding. */
#include "recvbuf.h"

#include <stdlib.h>

/* ---- pool ------------------------------------------------------------------------------------ */

void tern_chunk_pool_init(tern_chunk_pool *p, size_t budget)
{
    memset(p, 0, sizeof(*p));
    p->budget = budget;
}

void tern_chunk_pool_free(tern_chunk_pool *p)
{
    while (p->free_list) {
        void *next;
        memcpy(&next, p->free_list, sizeof(next));
        free(p->free_list);
        p->free_list = next;
    }
    p->nfree = 0;
}

size_t tern_chunk_pool_bytes(const tern_chunk_pool *p)
{
    return (p->chunks_out + p->nfree) * (size_t)TERN_RECV_CHUNK + p->index_bytes;
}

static uint8_t *chunk_get(tern_chunk_pool *p)
{
    uint8_t *ch;
    if (p && p->free_list) {
        ch = p->free_list;
        memcpy(&p->free_list, ch, sizeof(void *));
        p->nfree--;
    } else {
        ch = malloc(TERN_RECV_CHUNK);
        if (!ch)
            return NULL;
        if (p)
            p->allocs++;
    }
    if (p)
        p->chunks_out++;
    return ch;
}

static void chunk_put(tern_chunk_pool *p, uint8_t *ch)
{
    if (!p) {
        free(ch);
        return;
    }
    p->chunks_out--;
    /* spares cover a burst of reordering, not a whole window left idle */
    size_t keep = TERN_MIN(p->budget / 8 / TERN_RECV_CHUNK, (size_t)TERN_RECV_POOL_MAX_FREE);
    if (p->nfree < TERN_MAX(keep, (size_t)TERN_RECV_POOL_MIN_FREE)) {
        memcpy(ch, &p->free_list, sizeof(void *));
        p->free_list = ch;
        p->nfree++;
    } else {
        free(ch);
    }
}

/* ---- buffer ---------------------------------------------------------------------------------- */

static size_t slot(const tern_recvbuf *rb, uint64_t rel)
{
    size_t p = rb->chead + (size_t)rel;
    return p >= rb->ccap ? p - rb->ccap : p;
}

void tern_recvbuf_init(tern_recvbuf *rb, size_t limit, tern_chunk_pool *pool)
{
    memset(rb, 0, sizeof(*rb));
    rb->limit = limit;
    rb->pool = pool;
    rb->final_size = UINT64_MAX;
    tern_ranges_init(&rb->have, TERN_RECVBUF_MAX_GAPS);
}

void tern_recvbuf_start_at(tern_recvbuf *rb, uint64_t off)
{
    rb->read_off = rb->highest = off;
}

/* Frees the chunks of the first `n` slots (chunks now wholly below read_off). */
static void release_front(tern_recvbuf *rb, uint64_t n)
{
    if (!rb->ccap)
        return;
    if (n > rb->ccap)
        n = rb->ccap;
    for (uint64_t i = 0; i < n; i++) {
        size_t k = slot(rb, i);
        if (rb->chunks[k]) {
            chunk_put(rb->pool, rb->chunks[k]);
            rb->chunks[k] = NULL;
        }
    }
    rb->chead = slot(rb, n);
}

int tern_recvbuf_trim(tern_recvbuf *rb)
{
    if (rb->discard || rb->lent || rb->have.n || (!rb->chunks && !rb->have.r))
        return 0;
    for (size_t i = 0; i < rb->ccap; i++) {
        if (rb->chunks[i]) {
            if (rb->pool)
                rb->pool->chunks_out--;
            free(rb->chunks[i]);
            rb->chunks[i] = NULL;
        }
    }
    if (rb->chunks && rb->pool)
        rb->pool->index_bytes -= rb->ccap * sizeof(*rb->chunks);
    free(rb->chunks);
    rb->chunks = NULL;
    rb->ccap = rb->chead = 0;
    tern_ranges_free(&rb->have);
    return 1;
}

/* Frees every chunk and the pointer ring. */
static void release_all(tern_recvbuf *rb)
{
    release_front(rb, rb->ccap);
    if (rb->chunks && rb->pool)
        rb->pool->index_bytes -= rb->ccap * sizeof(*rb->chunks);
    free(rb->chunks);
    rb->chunks = NULL;
    rb->ccap = rb->chead = 0;
}

void tern_recvbuf_free(tern_recvbuf *rb)
{
    release_all(rb);
    tern_ranges_free(&rb->have);
}

/* Makes the pointer ring cover `need` chunks from the one of read_off. Returns 0 or
 * TERN_ERR_NOMEM (ring unchanged). */
static int ring_reserve(tern_recvbuf *rb, size_t need)
{
    if (need <= rb->ccap)
        return 0;
    size_t most = rb->limit / TERN_RECV_CHUNK + 2; /* what read_off + limit can span */
    size_t ncap = rb->ccap ? rb->ccap * 2 : 8;
    if (ncap < need)
        ncap = need;
    if (ncap > most)
        ncap = TERN_MAX(most, need);
    uint8_t **nc = calloc(ncap, sizeof(*nc));
    if (!nc)
        return TERN_ERR_NOMEM;
    for (size_t i = 0; i < rb->ccap; i++)
        nc[i] = rb->chunks[slot(rb, i)];
    if (rb->pool) {
        rb->pool->allocs++;
        rb->pool->index_bytes += (ncap - rb->ccap) * sizeof(*nc);
    }
    free(rb->chunks);
    rb->chunks = nc;
    rb->ccap = ncap;
    rb->chead = 0;
    return 0;
}

/* Final-size and flow-control rules shared by STREAM and RESET_STREAM (RFC 9000 §4.5, §19.8). */
static int check_size(const tern_recvbuf *rb, uint64_t end, int fin, uint64_t *terr)
{
    if (rb->final_size != UINT64_MAX) {
        if (end > rb->final_size || (fin && end != rb->final_size))
            goto final_size;
    } else if (fin && end < rb->highest) {
        goto final_size;
    }
    if (end > TERN_MAX_VARINT || (end > rb->read_off && end - rb->read_off > rb->limit)) {
        *terr = TERN_TE_FLOW_CONTROL_ERROR;
        return TERN_ERR_PROTO;
    }
    return 0;
final_size:
    *terr = TERN_TE_FINAL_SIZE_ERROR;
    return TERN_ERR_PROTO;
}

/* Copies [lo, end) of `src` (which starts at lo) into the chunks, all of which exist. */
static void store(tern_recvbuf *rb, uint64_t lo, uint64_t end, const uint8_t *src)
{
    uint64_t base = rb->read_off / TERN_RECV_CHUNK;
    while (lo < end) {
        uint64_t k = lo / TERN_RECV_CHUNK;
        size_t at = (size_t)(lo % TERN_RECV_CHUNK);
        size_t n = (size_t)TERN_MIN(end - lo, (uint64_t)(TERN_RECV_CHUNK - at));
        memcpy(rb->chunks[slot(rb, k - base)] + at, src, n);
        src += n;
        lo += n;
    }
}

static void note_size(tern_recvbuf *rb, uint64_t end, int fin)
{
    if (end > rb->highest)
        rb->highest = end;
    if (fin)
        rb->final_size = end;
    if (rb->discard)
        rb->read_off = rb->highest;
}

static int write_impl(tern_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len, int fin,
                      uint64_t *terr, int lend)
{
    uint64_t dummy;
    if (!terr)
        terr = &dummy;
    if (len && !data)
        return TERN_ERR_INVALID_ARG;
    if (off > TERN_MAX_VARINT || len > TERN_MAX_VARINT - off) {
        *terr = TERN_TE_FLOW_CONTROL_ERROR;
        return TERN_ERR_PROTO;
    }
    uint64_t end = off + len;
    int rv = check_size(rb, end, fin, terr);
    if (rv)
        return rv;
    uint64_t lo = TERN_MAX(off, rb->read_off);
    if (!rb->discard && lo < end && !tern_ranges_contains(&rb->have, lo, end)) {
        /* Refuse a new gap at the bound before touching anything: the peer will retransmit. */
        if (rb->have.n >= rb->have.max &&
            !tern_ranges_intersects(&rb->have, lo ? lo - 1 : 0, end + 1))
            return TERN_ERR_NOMEM;
        uint64_t base = rb->read_off / TERN_RECV_CHUNK;
        uint64_t k0 = lo / TERN_RECV_CHUNK, k1 = (end - 1) / TERN_RECV_CHUNK;
        if (ring_reserve(rb, (size_t)(k1 - base + 1)) != 0)
            return TERN_ERR_NOMEM;
        for (uint64_t k = k0; k <= k1; k++) {
            uint8_t **cp = &rb->chunks[slot(rb, k - base)];
            if (!*cp && !(*cp = chunk_get(rb->pool)))
                return TERN_ERR_NOMEM; /* chunks taken so far stay, within the window */
        }
        int alone = lo == rb->read_off && rb->have.n == 0 && !rb->lent;
        if (tern_ranges_add(&rb->have, lo, end) != 0)
            return TERN_ERR_NOMEM;
        if (lend && alone) {
            rb->lent = data + (lo - off);
            rb->lent_off = lo;
            rb->lent_end = end;
        } else {
            store(rb, lo, end, data + (lo - off));
        }
    }
    if (len)
        note_size(rb, end, 0);
    if (fin)
        note_size(rb, end, 1);
    return 0;
}

int tern_recvbuf_write(tern_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len, int fin,
                       uint64_t *terr)
{
    return write_impl(rb, off, data, len, fin, terr, 0);
}

int tern_recvbuf_write_lent(tern_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len,
                            int fin, uint64_t *terr)
{
    return write_impl(rb, off, data, len, fin, terr, 1);
}

void tern_recvbuf_settle(tern_recvbuf *rb)
{
    if (!rb->lent)
        return;
    /* read_off only grew since the bytes were lent; a discard or a full read left nothing */
    if (!rb->discard && rb->read_off < rb->lent_end && rb->chunks)
        store(rb, rb->read_off, rb->lent_end, rb->lent + (rb->read_off - rb->lent_off));
    rb->lent = NULL;
}

int tern_recvbuf_set_final_size(tern_recvbuf *rb, uint64_t final_size, uint64_t *new_bytes,
                                uint64_t *terr)
{
    uint64_t dummy;
    if (!terr)
        terr = &dummy;
    if (new_bytes)
        *new_bytes = 0;
    int rv = check_size(rb, final_size, 1, terr);
    if (rv)
        return rv;
    if (new_bytes && final_size > rb->highest)
        *new_bytes = final_size - rb->highest;
    note_size(rb, final_size, 1);
    return 0;
}

uint64_t tern_recvbuf_discard(tern_recvbuf *rb)
{
    uint64_t moved = rb->highest - rb->read_off;
    release_all(rb);
    tern_ranges_free(&rb->have);
    rb->read_off = rb->highest;
    rb->discard = 1;
    return moved;
}

size_t tern_recvbuf_readable(const tern_recvbuf *rb)
{
    const tern_range *f = tern_ranges_first(&rb->have);
    if (rb->discard || !f || f->lo > rb->read_off)
        return 0;
    return (size_t)(f->hi - rb->read_off);
}

size_t tern_recvbuf_read(tern_recvbuf *rb, uint8_t *dst, size_t cap, int *fin)
{
    size_t n = TERN_MIN(tern_recvbuf_readable(rb), cap);
    if (n) {
        uint64_t base = rb->read_off / TERN_RECV_CHUNK;
        uint64_t pos = rb->read_off, end = rb->read_off + n;
        if (rb->lent && pos < rb->lent_end) {
            /* the lent bytes start where reading stood when they were lent */
            size_t take = (size_t)(TERN_MIN(end, rb->lent_end) - pos);
            memcpy(dst, rb->lent + (pos - rb->lent_off), take);
            dst += take;
            pos += take;
        }
        while (pos < end) {
            size_t at = (size_t)(pos % TERN_RECV_CHUNK);
            size_t take = (size_t)TERN_MIN(end - pos, (uint64_t)(TERN_RECV_CHUNK - at));
            memcpy(dst, rb->chunks[slot(rb, pos / TERN_RECV_CHUNK - base)] + at, take);
            dst += take;
            pos += take;
        }
        rb->read_off = end;
        release_front(rb, end / TERN_RECV_CHUNK - base);
        tern_ranges_remove_below(&rb->have, rb->read_off);
    }
    int done = tern_recvbuf_finished(rb);
    if (fin)
        *fin = done;
    if (done) {
        release_all(rb);
        tern_ranges_free(&rb->have);
    }
    return n;
}

int tern_recvbuf_finished(const tern_recvbuf *rb)
{
    return rb->final_size != UINT64_MAX && rb->read_off == rb->final_size;
}

size_t tern_recvbuf_overhead(const tern_recvbuf *rb)
{
    return rb->have.cap * sizeof(tern_range);
}
