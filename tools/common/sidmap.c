/* Per-stream records by stream ID (see sidmap.h). */
#include "common/sidmap.h"

#include <stdlib.h>

/* The link that points at stream `sid`'s record, or at the NULL that ends its chain. Client and
 * server streams of one kind differ in their low two bits: the rest spreads them over buckets. */
static tool_sid_node **slot(tool_sidmap *m, int64_t sid)
{
    tool_sid_node **pp = &m->buckets[((uint64_t)sid >> 2) % TOOL_SIDMAP_BUCKETS];

    while (*pp && (*pp)->sid != sid)
        pp = &(*pp)->next;
    return pp;
}

tool_sid_node *tool_sidmap_get(tool_sidmap *m, int64_t sid)
{
    return *slot(m, sid);
}

tool_sid_node *tool_sidmap_add(tool_sidmap *m, int64_t sid, size_t size, int *created)
{
    tool_sid_node **pp = slot(m, sid);
    tool_sid_node *n;

    *created = 0;
    if (*pp)
        return *pp;
    n = calloc(1, size);
    if (!n)
        return NULL;
    n->sid = sid;
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

    if (*pp != n)
        return 0;
    tool_sidmap_unlink(m, pp);
    return 1;
}
