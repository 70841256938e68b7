/* The inside of the tools' HTTP/3 layer, shared by its two files: h3conn.c (request streams,
 * writing, the tool's calls) and h3ctrl.c (the peer's control and QPACK streams). Not for the
 * tools: they use h3conn.h. */
#ifndef TOOLS_COMMON_H3PRIV_H
#define TOOLS_COMMON_H3PRIV_H

#include "common/h3conn.h"

#include <stddef.h>
#include <stdint.h>

/* Frame types (RFC 9114 §7.2, RFC 9218 §7). */
enum {
    FT_DATA = 0x00,
    FT_HEADERS = 0x01,
    FT_CANCEL_PUSH = 0x03,
    FT_SETTINGS = 0x04,
    FT_PUSH_PROMISE = 0x05,
    FT_GOAWAY = 0x07,
    FT_MAX_PUSH_ID = 0x0d,
};
#define FT_PRIORITY_UPDATE_REQUEST 0xf0700
#define FT_PRIORITY_UPDATE_PUSH 0xf0701

/* Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2). */
enum { UNI_CONTROL = 0x00, UNI_PUSH = 0x01, UNI_ENCODER = 0x02, UNI_DECODER = 0x03 };

/* Settings (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220, RFC 9297). */
enum {
    SET_QPACK_MAX_TABLE_CAPACITY = 0x01,
    SET_MAX_FIELD_SECTION_SIZE = 0x06,
    SET_QPACK_BLOCKED_STREAMS = 0x07,
    SET_ENABLE_CONNECT_PROTOCOL = 0x08,
    SET_H3_DATAGRAM = 0x33,
};

#define VEC_MAX 16                      /* vectors asked of read_data at a time */
#define PART_MAX 16                     /* a frame header, or one setting: two varints */
#define CONTROL_PAYLOAD_MAX (16 * 1024) /* SETTINGS and PRIORITY_UPDATE payloads */
#define VARINT_MAX ((1ull << 62) - 1)
#define NONE UINT64_MAX

/* Where a stream's reader is. */
enum { RS_FRAME, RS_DATA, RS_HEADERS, RS_SKIP };
/* Where a stream's incoming message is: before its (final) header section, in its body, after
 * its trailers. */
enum { MSG_START, MSG_BODY, MSG_DONE };

/* What waits to go on a stream: the encoded HEADERS frame, then the current DATA frame (its
 * header, then the vectors read_data handed out). */
typedef struct h3_send {
    uint8_t *frame; /* the HEADERS frame until tern has all of it */
    size_t frame_len, frame_off;
    size_t nvec, vi, voff; /* vectors handed out, the one being written, bytes of it written */
    tool_h3_vec vec[VEC_MAX];
    uint8_t fh[9]; /* the DATA frame header */
    uint8_t fh_len, fh_off;
    uint8_t with_body, eof, waiting; /* waiting: read_data would block, until resumed */
} h3_send;

struct tool_h3_stream {
    tool_sid_node node; /* first: the stream ID, in h->streams */
    void *ud;
    tool_h3_stream *next_ready, *next_done;
    h3_send *snd;
    uint8_t *hbuf;          /* a HEADERS payload being collected */
    size_t hneed, hgot;     /* its length, and the octets collected */
    uint64_t ftype, fleft;  /* the frame being read, its payload octets still to come */
    int64_t content_length; /* -1: none */
    uint64_t body;          /* DATA payload octets received */
    uint64_t code;          /* for stream_close */
    uint8_t part[PART_MAX]; /* a frame header split across reads */
    uint8_t part_len;
    uint8_t rstate, msg;
    uint8_t read_done, write_done, closing, queued;
    uint8_t responded; /* server: submit_response was called */
    uint8_t is_head;   /* client: the request's method is HEAD */
    uint8_t no_body;   /* content-length says nothing about DATA (HEAD, 1xx, 204, 304) */
};

/* A peer's unidirectional stream whose type has not fully arrived. */
typedef struct uni_pending {
    tool_sid_node node;
    uint8_t part[8];
    uint8_t part_len;
} uni_pending;

/* The implementation's part of struct tool_h3: this follows the public members. */
typedef struct h3_priv {
    tool_h3 pub;
    tool_h3_callbacks cb;
    tool_sidmap streams;
    size_t nreq; /* request stream records */
    tool_h3_stream *ready, *done;
    int64_t ctrl_sid, peer_ctrl, peer_enc, peer_dec;
    uint64_t peer_max_section; /* the peer's SETTINGS_MAX_FIELD_SECTION_SIZE (NONE: unlimited) */
    uint64_t goaway_sent;      /* server: the ID of its last GOAWAY (NONE: none sent) */
    uint64_t goaway_recv;      /* the ID of the peer's last GOAWAY (NONE: none) */
    uint64_t max_push_id;      /* server: the client's last MAX_PUSH_ID (NONE: none) */
    uint64_t next_bidi;        /* server: one stream past the highest request stream seen */
    /* the peer's control stream */
    uint64_t cftype, cfleft;
    uint8_t cpart[PART_MAX], cpart_len;
    uint8_t cpayload;      /* in a frame's payload (else before a frame header) */
    uint8_t cpu_named;     /* a PRIORITY_UPDATE's element ID has been read and checked */
    uint8_t settings_seen; /* the first frame, SETTINGS, has begun */
    uint8_t settings_mask; /* known settings received */
    /* the peer's decoder stream: an instruction split across reads (at most 9 octets) */
    uint8_t dpart[PART_MAX], dpart_len;
    /* the local control stream's bytes not yet taken by tern */
    uint8_t out[48], out_len;
    uint8_t want_flush;
    int busy;
} h3_priv;

#define P(h) ((h3_priv *)(h))

/* Measured: 344 and 144 bytes. An idle connection holds the first only, an open request stream
 * the second (and a send state of 320 while its response goes out). */
_Static_assert(sizeof(h3_priv) <= 384, "the per-connection state of the layer grew");
_Static_assert(sizeof(tool_h3_stream) <= 160, "the per-stream record of the layer grew");

/* ---- varints (RFC 9000 §16) ---- */

/* Reads a varint from p[0..n). Returns its length, or 0 when p ends before it does. */
static inline size_t vget(const uint8_t *p, size_t n, uint64_t *v)
{
    size_t len;
    uint64_t x;

    if (n == 0)
        return 0;
    len = (size_t)1 << (p[0] >> 6);
    if (n < len)
        return 0;
    x = p[0] & 0x3f;
    for (size_t i = 1; i < len; i++)
        x = x << 8 | p[i];
    *v = x;
    return len;
}

/* Writes v (at most VARINT_MAX) in its shortest form. Returns its length. */
static inline size_t vput(uint8_t *p, uint64_t v)
{
    size_t len = v < 64 ? 1 : v < 16384 ? 2 : v < (1u << 30) ? 4 : 8;
    static const uint8_t tag[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};

    for (size_t i = len; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
    p[0] |= tag[len];
    return len;
}

/* Reads a frame header (type, length) from p[0..n). Returns its length, or 0 when incomplete. */
static inline size_t frame_header(const uint8_t *p, size_t n, uint64_t *type, uint64_t *len)
{
    size_t a = vget(p, n, type), b;

    if (!a)
        return 0;
    b = vget(p + a, n - a, len);
    return b ? a + b : 0;
}

static inline int is_uni(int64_t sid)
{
    return (sid & 0x2) != 0;
}

static inline int is_local(const tool_h3 *h, int64_t sid)
{
    return (int)(sid & 0x1) == h->is_server;
}

/* A callback's nonzero answer fails the connection. Returns 0 or -1. */
int h3i_cb_result(tool_h3 *h, int rv);

/* HTTP/2's frame types that HTTP/3 reserves (RFC 9114 §7.2.8) are a connection error wherever
 * one appears. Returns 1 (the connection failed) for those, else 0. */
int h3i_reserved_h2_frame(tool_h3 *h, uint64_t type);

/* Takes record `n` out of the stream table (the table's buckets go with its last record). */
void h3i_remove_record(tool_h3 *h, tool_sid_node *n);

/* A client fails its requests that a server's GOAWAY excludes: they were not processed. */
void h3i_goaway_excludes(tool_h3 *h, uint64_t id);

/* Reads what arrived on the peer's unidirectional stream `sid` (its type, then its control or
 * QPACK bytes) through the tool's scratch buffer. */
void h3i_uni_read(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap);

#endif
