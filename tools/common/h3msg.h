/* The rules an HTTP/3 message's field sections follow (RFC 9114 §4.1.2, §4.2, §4.3), checked one
 * field line at a time as the QPACK decoder hands them out, so that nothing of a section is kept
 * but a few flags: names (lowercase token characters; pseudo-header fields first, only those of
 * the message's kind, each once, none in trailers), values (no NUL, CR or LF, no space or tab at
 * either end), connection-specific fields, te, content-length, :authority and host, and what a
 * request (:method, :scheme, :path, or CONNECT's :authority) or a response (one three-digit
 * :status, not 101) must carry. A message that breaks one is malformed (H3_MESSAGE_ERROR). */
#ifndef TOOLS_COMMON_H3MSG_H
#define TOOLS_COMMON_H3MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/qpack.h"

enum { TOOL_H3_MSG_REQUEST, TOOL_H3_MSG_RESPONSE, TOOL_H3_MSG_TRAILERS };

/* What the fields of one section so far said. */
typedef struct tool_h3_msg {
    int kind;        /* TOOL_H3_MSG_* */
    unsigned pseudo; /* the pseudo-header fields seen */
    int regular;     /* a regular field was seen: no pseudo-header field may follow */
    int connect;     /* :method CONNECT */
    int empty_path;
    int needs_authority; /* :scheme http or https: :authority or host is required */
    /* the first :authority or host, as length and FNV-1a hash: a second one must be equal */
    int authority_seen;
    size_t authority_len;
    uint64_t authority_hash;
    int status;             /* a response's :status */
    int64_t content_length; /* -1: none (never set by trailers) */
} tool_h3_msg;

/* Starts the checks of a section of kind `kind` (TOOL_H3_MSG_*). */
void tool_h3_msg_begin(tool_h3_msg *m, int kind);

/* Checks field line `f` against the section so far. Returns 0, or -1 when the message is
 * malformed. */
int tool_h3_msg_field(tool_h3_msg *m, const tool_qpack_field *f);

/* Checks what the whole section needs, once its last field was checked. Returns 0, or -1 when
 * the message is malformed. */
int tool_h3_msg_end(const tool_h3_msg *m);

#endif
