/* HTTP/3 on a tern connection through nghttp3: the glue both tools share. It owns the nghttp3
 * connection, the three local unidirectional streams (control, QPACK encoder and decoder), moving
 * stream bytes between tern and nghttp3 in both directions, flow of partial writes, and the
 * bookkeeping that tells nghttp3 when a stream is finished (tern reports no stream-closed event,
 * so a stream is closed here once both of its directions are done).
 *
 * tern keeps its own copy of every byte it accepts until the peer acknowledges it, so the bytes are
 * reported to nghttp3 as acknowledged as soon as tern has accepted them: nghttp3 then releases its
 * buffers, and a data reader's memory can be reused at once (nghttp3's acked_stream_data callback
 * fires inside tool_h3_flush). */
#ifndef TOOLS_COMMON_H3CONN_H
#define TOOLS_COMMON_H3CONN_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp3/nghttp3.h>

#include "common/sidmap.h"
#include "tern/tern.h"

/* HTTP/3 error codes (RFC 9114 §8.1) the tools use. */
enum {
    TOOL_H3_NO_ERROR = 0x100,
    TOOL_H3_GENERAL_PROTOCOL_ERROR = 0x101,
    TOOL_H3_INTERNAL_ERROR = 0x102,
    TOOL_H3_CLOSED_CRITICAL_STREAM = 0x104,
    TOOL_H3_REQUEST_REJECTED = 0x10b,
    TOOL_H3_REQUEST_CANCELLED = 0x10c,
};

typedef struct tool_h3_stream tool_h3_stream;

typedef struct tool_h3 {
    tern_conn *conn;
    nghttp3_conn *h3;
    void *app;              /* the tool's per-connection state, for its nghttp3 callbacks */
    int is_server;
    int failed;             /* the connection was closed because of an HTTP/3 error */
    uint64_t bytes_written; /* stream bytes tern accepted on every stream of this connection */
    uint64_t max_client_bidi; /* what nghttp3 was told the client may open (server only) */
    size_t nbidi;           /* bidirectional streams not closed yet */
    size_t pending;         /* stream state changes not yet passed on to nghttp3 */
    int busy;               /* inside an nghttp3 call: stream closes wait until it returns */
    tool_sidmap streams;    /* tool_h3_stream records */
    /* Optional: 1 when vec base[0..len) that nghttp3 hands out for stream `sid` is memory of the
     * tool that stays valid until release(*rud, base, len) (one reference taken for it): it then
     * goes to tern by reference (tern_stream_write_ref) instead of being copied. */
    int (*by_ref)(void *app, int64_t sid, const uint8_t *base, size_t len,
                  tern_release_fn *release, void **rud);
} tool_h3;

/* Creates the HTTP/3 layer of an established connection `c`: the nghttp3 connection with the
 * tool's callbacks `cb` (nghttp3's conn_user_data is the tool_h3; the tool finds its own state in
 * ->app), the local control and QPACK streams, and the first flush. stop_sending and reset_stream
 * are provided here when `cb` leaves them NULL. Returns 0, or -1 with a message in err. */
int tool_h3_new(tool_h3 **out, tern_conn *c, int is_server, const nghttp3_callbacks *cb, void *app,
                char *err, size_t errcap);

/* Frees the nghttp3 connection and the stream bookkeeping (no nghttp3 callbacks run). */
void tool_h3_free(tool_h3 *h);

/* Records a bidirectional stream this side opened (a client request), so that it can be closed
 * in nghttp3 once both directions end. Returns 0 or -1 (out of memory). */
int tool_h3_track(tool_h3 *h, int64_t sid);

/* Forwarders for the tern callbacks of an HTTP/3 connection. `buf`/`cap` is a scratch buffer the
 * stream data is read into before nghttp3 parses it. */
void tool_h3_on_readable(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap);
void tool_h3_on_writable(tool_h3 *h, int64_t sid);
void tool_h3_on_reset(tool_h3 *h, int64_t sid, uint64_t app_error);
void tool_h3_on_stop_sending(tool_h3 *h, int64_t sid, uint64_t app_error);

/* Hands tern everything nghttp3 has to send, until nghttp3 has nothing more or tern pushes back
 * (the stream is then blocked until tern reports it writable). Returns 0, or -1 after closing the
 * connection on an HTTP/3 error. */
int tool_h3_flush(tool_h3 *h);

/* Abandons the response or request body on `sid` (RESET_STREAM with `code`) from anywhere, even
 * inside an nghttp3 callback; nghttp3 learns of it at the end of the next flush. */
void tool_h3_abort_stream(tool_h3 *h, int64_t sid, uint64_t code);

/* Closes the connection because of nghttp3 error `liberr`, with the HTTP/3 error code nghttp3
 * infers from it. */
void tool_h3_fail(tool_h3 *h, int liberr, const char *what);

/* Number of request streams not yet closed (both directions). */
size_t tool_h3_open_streams(const tool_h3 *h);

/* nghttp3 takes what it only reads (header names and values, body data) through non-const
 * pointers: const data crosses into its structs here, and nowhere else. */
static inline uint8_t *tool_h3_in(const void *p)
{
    return (uint8_t *)(uintptr_t)p;
}

#endif
