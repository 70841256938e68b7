/* Per-stream records of one connection, found by QUIC stream ID: a small chained hash table
 * shared by the tools' protocols (the hq-interop server's streams, the HTTP/3 glue's stream
 * states). A record embeds a tool_sid_node as its first member and is allocated by the table.
 *
 * The bucket array is allocated with the first record (a connection of the other protocol, or
 * one that never opens a stream, holds none) and starts small: an idle HTTP/3 connection has its
 * six unidirectional streams; it doubles as records outnumber buckets twice, up to
 * TOOL_SIDMAP_BUCKETS_MAX. Records may be removed while walking the buckets, not added. */
#ifndef TOOLS_COMMON_SIDMAP_H
#define TOOLS_COMMON_SIDMAP_H

#include <stddef.h>
#include <stdint.h>

#define TOOL_SIDMAP_BUCKETS_MIN 8
#define TOOL_SIDMAP_BUCKETS_MAX 1024

typedef struct tool_sid_node {
    struct tool_sid_node *next; /* hash chain */
    int64_t sid;
} tool_sid_node;

typedef struct tool_sidmap {
    tool_sid_node **buckets; /* NULL until the first record */
    size_t nbuckets;         /* 0 until then */
    size_t count;
} tool_sidmap;

/* The record of stream `sid`, or NULL. */
tool_sid_node *tool_sidmap_get(tool_sidmap *m, int64_t sid);

/* The record of stream `sid`; a new zeroed one of `size` bytes (>= sizeof(tool_sid_node)) when
 * there is none, with *created set to 1. Returns NULL when out of memory. */
tool_sid_node *tool_sidmap_add(tool_sidmap *m, int64_t sid, size_t size, int *created);

/* Unlinks the record that *link points at (a bucket or a record's next) and returns it; the
 * caller frees it. For walking a chain while removing from it. */
tool_sid_node *tool_sidmap_unlink(tool_sidmap *m, tool_sid_node **link);

/* Unlinks record `n` if the table holds it. Returns 1 when it did. */
int tool_sidmap_remove(tool_sidmap *m, tool_sid_node *n);

/* Frees the bucket array once the records are gone (the table is empty and reusable after). */
void tool_sidmap_free(tool_sidmap *m);

#endif
