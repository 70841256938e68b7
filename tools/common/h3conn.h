/* HTTP/3 (RFC 9114) on a tern connection, for both tools: tern's own implementation, with QPACK
 * without a dynamic table (common/qpack.h). It owns the local control stream (SETTINGS, GOAWAY),
 * reads the peer's control stream and checks its QPACK streams, frames and parses request
 * streams, validates messages (RFC 9114 §4.1.2-§4.3), and moves bodies between tern streams and
 * the tool: DATA payloads are handed out straight from the read buffer; a response body is pulled
 * from the tool (read_data) and handed to tern by copy, or by reference when the tool says so.
 *
 * Memory: nothing is held per stream or per connection that a peer can grow without bound. An
 * idle connection holds the tool_h3 record only: the peer's control and QPACK streams are
 * recognised by their IDs, kept in it, and no per-stream record exists for them; a request stream
 * has a record while it is open, with a header buffer only while a HEADERS frame is arriving (at
 * most TOOL_H3_MAX_FIELD_SECTION octets) and a send state only while something waits to go.
 *
 * Errors follow RFC 9114 §8: a connection error closes the tern connection with its code and a
 * reason (h->failed is then 1 and every later call does nothing); a stream error resets the
 * stream and asks the peer to stop sending on it, and the stream's close callback gets the code.
 *
 * This side opens one unidirectional stream, its control stream, and no QPACK encoder or decoder
 * stream: with a table capacity of 0 both ways neither has anything to carry (RFC 9204 §4.2 makes
 * them optional). The peer's may be present or not. */
#ifndef TOOLS_COMMON_H3CONN_H
#define TOOLS_COMMON_H3CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/qpack.h"
#include "common/sidmap.h"
#include "tern/tern.h"

/* HTTP/3 error codes (RFC 9114 §8.1). */
enum {
    TOOL_H3_NO_ERROR = 0x100,
    TOOL_H3_GENERAL_PROTOCOL_ERROR = 0x101,
    TOOL_H3_INTERNAL_ERROR = 0x102,
    TOOL_H3_STREAM_CREATION_ERROR = 0x103,
    TOOL_H3_CLOSED_CRITICAL_STREAM = 0x104,
    TOOL_H3_FRAME_UNEXPECTED = 0x105,
    TOOL_H3_FRAME_ERROR = 0x106,
    TOOL_H3_EXCESSIVE_LOAD = 0x107,
    TOOL_H3_ID_ERROR = 0x108,
    TOOL_H3_SETTINGS_ERROR = 0x109,
    TOOL_H3_MISSING_SETTINGS = 0x10a,
    TOOL_H3_REQUEST_REJECTED = 0x10b,
    TOOL_H3_REQUEST_CANCELLED = 0x10c,
    TOOL_H3_REQUEST_INCOMPLETE = 0x10d,
    TOOL_H3_MESSAGE_ERROR = 0x10e,
    TOOL_H3_CONNECT_ERROR = 0x10f,
    TOOL_H3_VERSION_FALLBACK = 0x110,
};

/* The largest encoded field section (HEADERS frame payload) accepted, and the largest decoded
 * size (RFC 9114 §4.2.2) advertised in SETTINGS_MAX_FIELD_SECTION_SIZE. */
#define TOOL_H3_MAX_FIELD_SECTION (16 * 1024)

/* read_data's answer when it has nothing now (tool_h3_resume_stream wakes the stream). */
#define TOOL_H3_WOULDBLOCK (-2)

typedef struct tool_h3 tool_h3;
typedef struct tool_h3_stream tool_h3_stream;

typedef struct tool_h3_vec {
    const uint8_t *base;
    size_t len;
} tool_h3_vec;

/* The tool's callbacks; any may be NULL. `stream_ud` is what tool_h3_set_stream_user_data (or
 * tool_h3_submit_request) attached to the stream, NULL before. Each returns 0, or nonzero to fail
 * the connection with H3_INTERNAL_ERROR. None may free the tool_h3; all other calls are allowed
 * (submitting a response, aborting a stream), and take effect when the callback returns. */
typedef struct tool_h3_callbacks {
    /* Server: the first HEADERS frame of a request stream has arrived (before its fields). */
    int (*begin_headers)(tool_h3 *h, int64_t sid, void *stream_ud);
    /* One field of the header section of a request (server) or of a response, informational
     * (1xx) ones included (client), in order; trailer sections are checked and not reported. A
     * section found malformed after some fields were reported ends in a stream error. */
    int (*recv_header)(tool_h3 *h, int64_t sid, const tool_qpack_field *f, void *stream_ud);
    /* The header section is complete and valid; `fin`: the stream ended right after it. */
    int (*end_headers)(tool_h3 *h, int64_t sid, int fin, void *stream_ud);
    /* Body bytes, in order (the payload of DATA frames, as it arrives). */
    int (*recv_data)(tool_h3 *h, int64_t sid, const uint8_t *data, size_t len, void *stream_ud);
    /* The message ended well: FIN after a complete message whose body matches content-length. */
    int (*end_stream)(tool_h3 *h, int64_t sid, void *stream_ud);
    /* Both directions of a request stream are over; `code` is TOOL_H3_NO_ERROR, the code of the
     * peer's RESET_STREAM, or the code of the stream error or abort that ended it. The stream's
     * record is gone after this (its user data is the tool's to free). tool_h3_free calls no
     * callback: the tool frees what is left of its streams itself. */
    int (*stream_close)(tool_h3 *h, int64_t sid, uint64_t code, void *stream_ud);
    /* The peer's GOAWAY: `id` is a stream ID (from a server) or a push ID (from a client). */
    int (*goaway)(tool_h3 *h, int64_t id);
    /* A response body (tool_h3_submit_response with a body): fills up to `veccnt` vectors with
     * the next bytes and returns how many, setting *eof once the body's last byte is among them
     * (0 vectors with *eof is an empty end); or returns TOOL_H3_WOULDBLOCK (nothing now:
     * tool_h3_resume_stream later), or -1 (the stream is reset with H3_INTERNAL_ERROR). The
     * memory stays valid until acked_stream_data covers it. */
    ssize_t (*read_data)(tool_h3 *h, int64_t sid, tool_h3_vec *vec, size_t veccnt, int *eof,
                         void *stream_ud);
    /* `n` more body bytes that read_data handed out are now tern's (copied, or referenced with
     * their own release): the tool may reuse their memory. */
    int (*acked_stream_data)(tool_h3 *h, int64_t sid, uint64_t n, void *stream_ud);
} tool_h3_callbacks;

struct tool_h3 {
    tern_conn *conn;
    void *app;              /* the tool's per-connection state */
    int is_server;
    int failed;             /* the connection was closed because of an HTTP/3 error */
    uint64_t bytes_written; /* stream bytes tern accepted on every stream of this connection */
    /* Optional: 1 when base[0..len), body memory read_data handed out for stream `sid`, is memory
     * of the tool that stays valid until release(*rud, base, len) (one reference taken for it):
     * it then goes to tern by reference (tern_stream_write_ref) instead of being copied. */
    int (*by_ref)(void *app, int64_t sid, const uint8_t *base, size_t len,
                  tern_release_fn *release, void **rud);
    /* the implementation's own state follows this record in the same allocation (h3conn.c:
     * only tool_h3_new makes one; not for the tools): the callbacks, the peer's settings, the IDs
     * of the peer's control and QPACK streams and the control stream's parse state, the local
     * control stream and its pending output, GOAWAY state, the stream table (tool_sidmap of
     * tool_h3_stream), ... */
};

/* Creates the HTTP/3 layer of an established connection `c`: opens the control stream and
 * queues SETTINGS (SETTINGS_MAX_FIELD_SECTION_SIZE TOOL_H3_MAX_FIELD_SECTION, QPACK capacity and
 * blocked streams 0, plus one reserved setting (RFC 9114 §7.2.4.1) so that peers that choke on
 * unknown settings show up), then flushes. Returns 0, or -1 with a message in err. */
int tool_h3_new(tool_h3 **out, tern_conn *c, int is_server, const tool_h3_callbacks *cb,
                void *app, char *err, size_t errcap);

/* Frees everything (no callback runs; the tool frees its own stream state itself). NULL is ok. */
void tool_h3_free(tool_h3 *h);

/* Forwarders for the tern callbacks of an HTTP/3 connection. `buf`/`cap` is a scratch buffer the
 * stream data is read into before it is parsed (DATA payloads are handed out from it). */
void tool_h3_on_readable(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap);
void tool_h3_on_writable(tool_h3 *h, int64_t sid);
void tool_h3_on_reset(tool_h3 *h, int64_t sid, uint64_t app_error);
void tool_h3_on_stop_sending(tool_h3 *h, int64_t sid, uint64_t app_error);

/* Hands tern whatever waits on any stream (headers, DATA frames, GOAWAY) until nothing is left
 * or tern pushes back (the stream then waits for on_writable). Returns 0, or -1 once the
 * connection failed. */
int tool_h3_flush(tool_h3 *h);

/* Attaches the tool's state to request stream `sid` (it must have a record: a request the
 * client submitted, or one the server is receiving). Returns 0 or -1 (no such stream). */
int tool_h3_set_stream_user_data(tool_h3 *h, int64_t sid, void *stream_ud);

/* Client: sends a request on `sid`, a bidirectional stream it opened with tern_conn_open_stream:
 * the header section `fields` (pseudo-header fields first) in a HEADERS frame, and FIN (no
 * body). `stream_ud` becomes the stream's user data. Returns 0, or -1 (out of memory, a section
 * above the peer's SETTINGS_MAX_FIELD_SECTION_SIZE, the connection failed, or the server's
 * GOAWAY excludes the stream). */
int tool_h3_submit_request(tool_h3 *h, int64_t sid, const tool_qpack_field *fields, size_t n,
                           void *stream_ud);

/* Server: sends the response to request stream `sid`: the header section in a HEADERS frame,
 * then, when with_body, DATA frames of what read_data supplies, then FIN. Once per stream.
 * Returns 0 or -1 (no such stream, already answered, out of memory, the connection failed). */
int tool_h3_submit_response(tool_h3 *h, int64_t sid, const tool_qpack_field *fields, size_t n,
                            int with_body);

/* Asks read_data for stream `sid` again (after it returned TOOL_H3_WOULDBLOCK) at the next flush
 * (at once when called outside a callback). */
void tool_h3_resume_stream(tool_h3 *h, int64_t sid);

/* Abandons stream `sid` from anywhere, callbacks included: RESET_STREAM with `code` on its
 * sending side; its close is reported when its receiving side ends too. */
void tool_h3_abort_stream(tool_h3 *h, int64_t sid, uint64_t code);

/* Stops reading stream `sid` from anywhere, callbacks included: STOP_SENDING with `code` (tern
 * discards what still arrives) and no more callbacks of its receiving side; its close is
 * reported when its sending side is over too (at once for a request whose FIN went out). */
void tool_h3_stop_stream(tool_h3 *h, int64_t sid, uint64_t code);

/* Server: GOAWAY. The notice names the largest client stream ID (2^62 - 4) so that requests on
 * their way are still served; the final one names the first request stream not processed.
 * Requests on streams at or above the last GOAWAY's ID are then rejected (H3_REQUEST_REJECTED).
 * Returns 0 or -1. */
int tool_h3_shutdown_notice(tool_h3 *h);
int tool_h3_shutdown(tool_h3 *h);

/* Closes the connection with HTTP/3 error `code` and `what` as the reason. */
void tool_h3_fail(tool_h3 *h, uint64_t code, const char *what);

/* Number of request streams not yet closed (both directions). */
size_t tool_h3_open_streams(const tool_h3 *h);

#endif
