/* Per-stream records of one connection, found by QUIC stream ID: a small chained hash table
 * shared by the tools' protocols (the hq-interop server's streams, the HTTP/3 glue's stream
 * states). A record embeds a tool_sid_node as its first member and is allocated by the table. */
#ifndef TOOLS_COMMON_SIDMAP_H
#define TOOLS_COMMON_SIDMAP_H

#include <stddef.h>
#include <stdint.h>

#define TOOL_SIDMAP_BUCKETS 64

typedef struct tool_sid_node {
    struct tool_sid_node *next; /* hash chain */
    int64_t sid;
} tool_sid_node;

typedef struct tool_sidmap {
    tool_sid_node *buckets[TOOL_SIDMAP_BUCKETS];
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

#endif
