/* Connection ID -> connection routing table of an endpoint. Chained hash table keyed with SipHash
 * under a random key, so that peers choosing connection IDs (a client picks the DCID of its first
 * Initial) cannot aim at one bucket. Every entry also sits on its owner's list so that a
 * connection's routes are removed in one pass when it is freed. Entries are allocated when a CID is
 * issued, not per packet. */
#ifndef TERN_CORE_CIDMAP_H
#define TERN_CORE_CIDMAP_H

#include "common.h"

typedef struct tern_cidmap_node {
    tern_cid cid;
    void *val;
    struct tern_cidmap_node *next;       /* bucket chain */
    struct tern_cidmap_node *owner_next; /* the owner's list */
} tern_cidmap_node;

typedef struct tern_cidmap {
    tern_cidmap_node **b;
    size_t nb, n; /* nb is a power of two */
    uint64_t k0, k1;
} tern_cidmap;

/* `key` is 16 random bytes. Returns 0 or TERN_ERR_NOMEM. */
int tern_cidmap_init(tern_cidmap *m, const uint8_t key[16]);
/* Frees every entry (owner lists become dangling: free owners first or drop them). */
void tern_cidmap_free(tern_cidmap *m);
/* Routes `cid` to `val` and links the entry on *owner_list. Returns 0, TERN_ERR_INVALID_ARG when
 * the CID is already routed (to anyone: the first route wins), or TERN_ERR_NOMEM. */
int tern_cidmap_insert(tern_cidmap *m, const tern_cid *cid, void *val,
                       tern_cidmap_node **owner_list);
void *tern_cidmap_find(const tern_cidmap *m, const tern_cid *cid);
/* Removes the route of `cid` if it points to `val`; unlinks it from *owner_list. */
void tern_cidmap_remove(tern_cidmap *m, const tern_cid *cid, void *val,
                        tern_cidmap_node **owner_list);
/* Removes every route on *owner_list. */
void tern_cidmap_remove_owner(tern_cidmap *m, tern_cidmap_node **owner_list);

#endif
