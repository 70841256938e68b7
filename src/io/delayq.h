/* Datagrams held back by datapath hooks (tern_datapath_hooks returning TERN_HOOK_DELAY): a bounded
 * set of fixed-size slots allocated once, released in due-time order (ties in arrival order) by a
 * binary min-heap. The runtime drives it from its timer heap; nothing here reads a clock or
 * allocates after init. */
#ifndef TERN_IO_DELAYQ_H
#define TERN_IO_DELAYQ_H

#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

enum { TERN_DELAYQ_SEND = 0, TERN_DELAYQ_RECV = 1 };

typedef struct tern_delayq_item {
    uint64_t due, seq;
    void *sock; /* the runtime's socket */
    tern_path_addr path;
    int dir; /* TERN_DELAYQ_SEND or TERN_DELAYQ_RECV */
    int ecn;
    size_t len;
    uint8_t *data; /* its slot */
} tern_delayq_item;

typedef struct tern_delayq {
    tern_delayq_item *items;
    uint32_t *heap;  /* queued item indices, earliest (due, seq) first */
    uint32_t *freel; /* free item indices */
    size_t n, nfree, cap, slot;
    uint8_t *mem;
    uint64_t seq;
} tern_delayq;

/* `cap` items (1..2^31) of at most `slot` bytes each. Returns 0, TERN_ERR_INVALID_ARG or
 * TERN_ERR_NOMEM. */
int tern_delayq_init(tern_delayq *q, size_t cap, size_t slot);
void tern_delayq_free(tern_delayq *q);

/* Copies data[0..len) and its metadata in. Returns 0, TERN_ERR_WOULD_BLOCK (every slot taken) or
 * TERN_ERR_BUFFER_TOO_SMALL (len > slot). */
int tern_delayq_push(tern_delayq *q, uint64_t due, int dir, void *sock,
                     const tern_path_addr *path, int ecn, const uint8_t *data, size_t len);

/* Due time of the earliest queued item, UINT64_MAX when none. */
uint64_t tern_delayq_next(const tern_delayq *q);

/* Removes and returns the earliest item when it is due at `now`, else NULL. Its slot stays
 * reserved (pushes meanwhile are fine) until tern_delayq_release. */
tern_delayq_item *tern_delayq_pop_due(tern_delayq *q, uint64_t now);
void tern_delayq_release(tern_delayq *q, tern_delayq_item *it);

/* Discards every queued item of `sock` (a socket being closed). Returns how many. */
size_t tern_delayq_forget(tern_delayq *q, const void *sock);

/* Items queued (popped ones not counted). */
size_t tern_delayq_len(const tern_delayq *q);

#endif
