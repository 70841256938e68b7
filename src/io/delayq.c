/* Bounded time-ordered datagram queue for datapath hooks. See delayq.h. */
#include "delayq.h"

#include <stdlib.h>
#include <string.h>

int tern_delayq_init(tern_delayq *q, size_t cap, size_t slot)
{
    memset(q, 0, sizeof(*q));
    if (cap == 0 || cap > (1u << 31) || slot == 0 || slot > SIZE_MAX / cap)
        return TERN_ERR_INVALID_ARG;
    q->items = calloc(cap, sizeof(*q->items));
    q->heap = calloc(cap, sizeof(*q->heap));
    q->freel = calloc(cap, sizeof(*q->freel));
    q->mem = malloc(cap * slot);
    if (!q->items || !q->heap || !q->freel || !q->mem) {
        tern_delayq_free(q);
        return TERN_ERR_NOMEM;
    }
    q->cap = cap;
    q->slot = slot;
    for (size_t i = 0; i < cap; i++) {
        q->items[i].data = q->mem + i * slot;
        q->freel[i] = (uint32_t)(cap - 1 - i);
    }
    q->nfree = cap;
    return 0;
}

void tern_delayq_free(tern_delayq *q)
{
    free(q->items);
    free(q->heap);
    free(q->freel);
    free(q->mem);
    memset(q, 0, sizeof(*q));
}

static int before(const tern_delayq *q, uint32_t a, uint32_t b)
{
    const tern_delayq_item *x = &q->items[a], *y = &q->items[b];
    return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void sift_up(tern_delayq *q, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(q, q->heap[i], q->heap[p]))
            break;
        uint32_t t = q->heap[i];
        q->heap[i] = q->heap[p];
        q->heap[p] = t;
        i = p;
    }
}

static void sift_down(tern_delayq *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && before(q, q->heap[l], q->heap[m]))
            m = l;
        if (r < q->n && before(q, q->heap[r], q->heap[m]))
            m = r;
        if (m == i)
            return;
        uint32_t t = q->heap[i];
        q->heap[i] = q->heap[m];
        q->heap[m] = t;
        i = m;
    }
}

int tern_delayq_push(tern_delayq *q, uint64_t due, int dir, void *sock,
                     const tern_path_addr *path, int ecn, const uint8_t *data, size_t len)
{
    if (len > q->slot)
        return TERN_ERR_BUFFER_TOO_SMALL;
    if (q->nfree == 0)
        return TERN_ERR_WOULD_BLOCK;
    uint32_t k = q->freel[--q->nfree];
    tern_delayq_item *it = &q->items[k];
    it->due = due;
    it->seq = q->seq++;
    it->sock = sock;
    it->path = *path;
    it->dir = dir;
    it->ecn = ecn;
    it->len = len;
    if (len)
        memcpy(it->data, data, len);
    q->heap[q->n] = k;
    sift_up(q, q->n++);
    return 0;
}

uint64_t tern_delayq_next(const tern_delayq *q)
{
    return q->n ? q->items[q->heap[0]].due : UINT64_MAX;
}

tern_delayq_item *tern_delayq_pop_due(tern_delayq *q, uint64_t now)
{
    if (!q->n || q->items[q->heap[0]].due > now)
        return NULL;
    uint32_t k = q->heap[0];
    q->heap[0] = q->heap[--q->n];
    sift_down(q, 0);
    return &q->items[k];
}

void tern_delayq_release(tern_delayq *q, tern_delayq_item *it)
{
    it->sock = NULL;
    q->freel[q->nfree++] = (uint32_t)(it - q->items);
}

size_t tern_delayq_forget(tern_delayq *q, const void *sock)
{
    size_t kept = 0, gone = 0;
    for (size_t i = 0; i < q->n; i++) {
        uint32_t k = q->heap[i];
        if (q->items[k].sock == sock) {
            tern_delayq_release(q, &q->items[k]);
            gone++;
        } else {
            q->heap[kept++] = k;
        }
    }
    q->n = kept;
    if (gone)
        for (size_t i = kept / 2; i-- > 0;)
            sift_down(q, i);
    return gone;
}

size_t tern_delayq_len(const tern_delayq *q)
{
    return q->n;
}
