/* Per-stream records by stream ID (see sidmap.h). */
#include "common/sidmap.h"

#include <stdlib.h>

/* Client and server streams of one kind differ in their low two bits: the rest spreads them over
 * buckets (a power of two). */
static size_t bucket_of(size_t nbuckets, int64_t sid)
{
    return (size_t)((uint64_t)sid >> 2) & (nbuckets - 1);
}

/* The link that points at stream `sid`'s record, or at the NULL that ends its chain; NULL when
 * the table has no buckets yet. */
static tool_sid_node **slot(tool_sidmap *m, int64_t sid)
{
    tool_sid_node **pp;

    if (!m->nbuckets)
        return NULL;
    pp = &m->buckets[bucket_of(m->nbuckets, sid)];
    while (*pp && (*pp)->sid != sid)
        pp = &(*pp)->next;
    return pp;
}

tool_sid_node *tool_sidmap_get(tool_sidmap *m, int64_t sid)
{
    tool_sid_node **pp = slot(m, sid);

    return pp ? *pp : NULL;
}

/* Moves the records into `n` buckets. Returns 0, or -1 (out of memory: the table is unchanged). */
static int rehash(tool_sidmap *m, size_t n)
{
    tool_sid_node **b = calloc(n, sizeof(*b));

    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        while (m->buckets[i]) {
            tool_sid_node *e = m->buckets[i];
            size_t j = bucket_of(n, e->sid);
            m->buckets[i] = e->next;
            e->next = b[j];
            b[j] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

tool_sid_node *tool_sidmap_add(tool_sidmap *m, int64_t sid, size_t size, int *created)
{
    tool_sid_node **pp;
    tool_sid_node *n;

    *created = 0;
    n = tool_sidmap_get(m, sid);
    if (n)
        return n;
    if (!m->nbuckets && rehash(m, TOOL_SIDMAP_BUCKETS_MIN) < 0)
        return NULL;
    /* a table that cannot grow keeps working with longer chains */
    if (m->count >= 2 * m->nbuckets && m->nbuckets < TOOL_SIDMAP_BUCKETS_MAX)
        (void)rehash(m, 2 * m->nbuckets);
    n = calloc(1, size);
    if (!n)
        return NULL;
    n->sid = sid;
    pp = slot(m, sid);
    *pp = n;
    m->count++;
    *created = 1;
    return n;
}

tool_sid_node *tool_sidmap_unlink(tool_sidmap *m, tool_sid_node **link)
{
    tool_sid_node *n = *link;

    *link = n->next;
    n->next = NULL;
    m->count--;
    return n;
}

int tool_sidmap_remove(tool_sidmap *m, tool_sid_node *n)
{
    tool_sid_node **pp = slot(m, n->sid);

    if (!pp || *pp != n)
        return 0;
    tool_sidmap_unlink(m, pp);
    return 1;
}

void tool_sidmap_free(tool_sidmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}
