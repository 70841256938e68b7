/* Stream state (RFC 9000 §2-4, §3 state machines): send buffer with retransmission ranges,
 * per-stream flow control over the receive reassembly (recvbuf.h), and the stream map with
 * stream-limit accounting and the connection's pool of receive chunks. The CRYPTO streams reuse
 * tern_sendbuf/tern_recvbuf. Frames are produced and consumed by
 * the connection; this module owns the bytes and the bookkeeping. */
#ifndef TERN_CORE_STREAM_H
#define TERN_CORE_STREAM_H

#include "common.h"
#include "ranges.h"
#include "recvbuf.h"

/* Bounds on bookkeeping. The acked/lost sets of a send buffer only grow with our own packets, but
 * are capped anyway; when full, lost ranges are widened (resending a few acknowledged bytes is
 * harmless) and acks that cannot be recorded are turned into retransmissions. */
#define TERN_SENDBUF_MAX_RANGES 1024
/* Smallest ring allocation (or `limit` when smaller); the first one is the first write's size
 * rounded up by doubling. Small: a stream that only ever carries a few bytes (an HTTP/3 control
 * or QPACK stream, a TLS level's CRYPTO) holds them until they are acknowledged, and a bulk write
 * sizes the ring in one allocation anyway. */
#define TERN_BUF_MIN_CAP 256
/* A send ring of at most this many bytes is freed once all it held is acknowledged (see
 * tern_sendbuf_on_acked); a larger one is kept for the stream's next burst. */
#define TERN_SENDBUF_DRAINED_FREE_MAX 1024
/* Pieces of application memory a send buffer holds by reference at once (tern_sendbuf_write_ref):
 * their bytes count against `limit` like copied ones, and this bounds their bookkeeping. */
#define TERN_SENDBUF_MAX_REFS 256

/* A piece of the application's memory queued by reference: stream bytes [off, off + len) are
 * data[0..len). `ring_at` is how many bytes the ring had taken in before it (ring bytes and
 * referenced ones share the stream's offsets, not the ring). */
typedef struct tern_sendref {
    uint64_t off, ring_at;
    const uint8_t *data;
    size_t len;
    tern_release_fn release; /* NULL once called */
    void *ud;
} tern_sendref;

/* ---- send buffer: bytes written by the app, kept until acknowledged -------------------------- */
typedef struct tern_sendbuf {
    uint8_t *buf;          /* ring; grows by doubling up to `limit` */
    size_t cap, limit;
    size_t head;           /* ring index of offset `base` */
    uint64_t base;         /* lowest offset not yet acknowledged in order (ring start) */
    uint64_t end;          /* offset after the last byte written by the app */
    uint64_t sent;         /* offset after the highest byte sent at least once */
    tern_ranges acked;     /* acknowledged ranges above base */
    tern_ranges lost;      /* ranges to retransmit (below `sent`) */
    size_t reserved;       /* bytes at `end` handed out by tern_sendbuf_reserve, not committed */
    /* Referenced pieces above base, in offset order: refs[ref0 .. nrefs). Bytes outside them are
     * the ring's: `rlen` of them are held, the first at ring index `head`, and `rtotal` were
     * taken in since the start (with no reference, rlen == end - base). */
    tern_sendref *refs;
    uint32_t ref0, nrefs, refs_cap;
    /* (flags here, in the room the three counters leave before the next size_t) */
    uint8_t fin; /* the app has set FIN at `end` */
    uint8_t fin_sent, fin_acked, fin_lost;
    size_t rlen;
    uint64_t rtotal;
} tern_sendbuf;

void tern_sendbuf_init(tern_sendbuf *sb, size_t limit);
void tern_sendbuf_free(tern_sendbuf *sb);
/* A buffer just initialised continues a stream at `off`: bytes below it were written, sent and
 * acknowledged before (by a buffer that was freed since). */
void tern_sendbuf_start_at(tern_sendbuf *sb, uint64_t off);
/* 1 when every byte written was acknowledged and nothing is reserved in place. */
int tern_sendbuf_drained(const tern_sendbuf *sb);
/* Copies up to len bytes in (bounded by limit - unacked bytes). Returns accepted count, or
 * TERN_ERR_STREAM_STATE after FIN, TERN_ERR_NOMEM. fin applies only when all bytes were accepted. */
ssize_t tern_sendbuf_write(tern_sendbuf *sb, const uint8_t *data, size_t len, int fin);
/* Queues data[0..len) by reference, FIN after it when `fin`: the bytes are sent (and resent) from
 * there, and release(ud, data, len) runs once, when every byte of the piece and all before it on
 * the stream are acknowledged, or when tern_sendbuf_drop_refs or tern_sendbuf_free runs first.
 * All or nothing: returns 0, TERN_ERR_WOULD_BLOCK (less room than len, or TERN_SENDBUF_MAX_REFS
 * pieces held), TERN_ERR_INVALID_ARG (data or release NULL, len 0 or above limit),
 * TERN_ERR_STREAM_STATE after FIN, TERN_ERR_NOMEM; release is not called on failure. */
int tern_sendbuf_write_ref(tern_sendbuf *sb, const uint8_t *data, size_t len, int fin,
                           tern_release_fn release, void *ud);
/* Releases every referenced piece now (the stream was reset: none of it is sent again). The
 * offsets stay accounted for; the bytes must not be read any more. */
void tern_sendbuf_drop_refs(tern_sendbuf *sb);
/* Room for new bytes. */
size_t tern_sendbuf_room(const tern_sendbuf *sb);
/* The place of the next new bytes, for a caller that produces them in place instead of copying
 * them in: *p points into the ring at `end`, where up to the returned count of bytes (at most
 * `want`, within the room, contiguous: where the ring wraps, the rest comes with the next call)
 * may be written before tern_sendbuf_commit. Grows the ring first when it can. Returns the count
 * (0 when full or want is 0), TERN_ERR_STREAM_STATE after FIN, TERN_ERR_NOMEM when the ring could
 * not grow and has no room. */
ssize_t tern_sendbuf_reserve(tern_sendbuf *sb, size_t want, uint8_t **p);
/* Takes the first `n` bytes the last tern_sendbuf_reserve handed out as written, and FIN after
 * them when `fin`. Returns 0, TERN_ERR_INVALID_ARG (n beyond what was handed out),
 * TERN_ERR_STREAM_STATE after FIN. */
int tern_sendbuf_commit(tern_sendbuf *sb, size_t n, int fin);
/* Chooses the next range to send: lost ranges first, then new bytes up to `max_off` (flow control).
 * At most `max_len` bytes. Returns 1 with *off, *len, *fin (len may be 0 for a lone FIN), 0 when nothing.
 * *is_new tells whether the range is new data (counts against connection flow control). */
int tern_sendbuf_next(const tern_sendbuf *sb, uint64_t max_off, size_t max_len, uint64_t *off,
                      size_t *len, int *fin, int *is_new);
/* Forgets that anything beyond the acknowledged prefix was ever sent (0-RTT the server refused):
 * those bytes, and the FIN, go out again as new data. */
void tern_sendbuf_rewind(tern_sendbuf *sb);
/* Copies bytes [off, off+len) (all must be buffered) to dst. */
void tern_sendbuf_copy(const tern_sendbuf *sb, uint64_t off, size_t len, uint8_t *dst);
/* Where the bytes from `off` on (buffered, below end) are: sets *p to the first and returns how
 * many of the next `len` follow it contiguously (in the ring up to where it wraps or a referenced
 * piece starts, or in one referenced piece); 0 for len 0 or bytes not buffered. Walking
 * [off, off + len) takes as many calls as it has stretches. The pointers stay valid until the
 * next write, acknowledgement or tern_sendbuf_drop_refs. */
size_t tern_sendbuf_span(const tern_sendbuf *sb, uint64_t off, size_t len, const uint8_t **p);
/* The range was put in a packet (removes it from `lost`, advances `sent`). */
void tern_sendbuf_on_sent(tern_sendbuf *sb, uint64_t off, size_t len, int fin);
/* The range was acknowledged. Once everything written is, the ring and the range sets are freed
 * when the buffer has FIN or a ring of at most TERN_SENDBUF_DRAINED_FREE_MAX bytes (the next
 * write allocates again), and not while a reservation is outstanding. */
void tern_sendbuf_on_acked(tern_sendbuf *sb, uint64_t off, size_t len, int fin);
void tern_sendbuf_on_lost(tern_sendbuf *sb, uint64_t off, size_t len, int fin);
/* 1 when everything including FIN was acknowledged (a buffer without FIN is never all acked). */
int tern_sendbuf_all_acked(const tern_sendbuf *sb);
/* 1 when there is something to (re)send below max_off. */
int tern_sendbuf_has_pending(const tern_sendbuf *sb, uint64_t max_off);

/* ---- streams --------------------------------------------------------------------------------- */
/* tern_stream.flags (unsigned, as the field is: masks are cleared with ~) */
#define TERN_SF_NEED_MAX_STREAM_DATA (1u << 0)
#define TERN_SF_NEED_STREAM_DATA_BLOCKED (1u << 1)
#define TERN_SF_NEED_RESET (1u << 2) /* RESET_STREAM to send */
#define TERN_SF_NEED_STOP_SENDING (1u << 3)
#define TERN_SF_RESET_SENT (1u << 4) /* we reset our sending side */
#define TERN_SF_RESET_ACKED (1u << 5)
#define TERN_SF_RESET_RECVD (1u << 6) /* the peer reset its sending side */
#define TERN_SF_STOP_SENT (1u << 7)
#define TERN_SF_OPEN_REPORTED (1u << 8) /* on_stream_open already called */
#define TERN_SF_WANT_WRITABLE (1u << 9) /* app saw WOULD_BLOCK / short write */
#define TERN_SF_FIN_READ (1u << 10)     /* the app read everything incl. FIN */

typedef struct tern_stream {
    int64_t id;
    tern_sendbuf snd;
    tern_recvbuf rcv;
    uint64_t max_send;     /* peer's MAX_STREAM_DATA for our sending */
    uint64_t max_recv;     /* largest limit sent to the peer: the one enforced */
    uint64_t max_recv_next; /* limit the next MAX_STREAM_DATA carries (>= max_recv) */
    uint64_t recv_window;  /* window size we keep open ahead of read_off */
    uint64_t blocked_at;   /* limit at which we last sent STREAM_DATA_BLOCKED */
    uint64_t reset_error, stop_error, reset_final_size;
    size_t want_room;      /* with TERN_SF_WANT_WRITABLE: the room the application waits for */
    struct tern_stream *hnext;   /* hash chain */
    struct tern_stream *snext;   /* send queue link (round robin) */
    struct tern_stream *sprev;   /* so that closing a queued stream is O(1) */
    struct tern_stream *cnext, *cprev; /* control queue link (frames of TERN_SF_NEED_*) */
    /* last, together: 8 bytes instead of 16 with the padding after `id` (an idle HTTP/3
     * connection keeps a few streams for its life) */
    uint32_t flags;
    uint8_t in_sendq, in_ctrlq;
} tern_stream;

/* Stream id helpers (RFC 9000 §2.1). */
static inline int tern_sid_is_bidi(int64_t id) { return (id & 2) == 0; }
static inline int tern_sid_is_server(int64_t id) { return (id & 1) != 0; }
/* 1 when the local side (is_server) may send / receive on the stream. */
int tern_sid_can_send(int64_t id, int is_server);
int tern_sid_can_recv(int64_t id, int is_server);
/* The id of the n-th stream (from 0) of a kind. */
static inline int64_t tern_sid_make(uint64_t n, int bidi, int server)
{
    return (int64_t)((n << 2) | (bidi ? 0u : 2u) | (server ? 1u : 0u));
}

/* Map of live streams with the limits of both sides. */
typedef struct tern_streams {
    tern_stream **buckets;
    size_t nbuckets, count;
    int is_server;
    /* counts of streams opened, per direction: [bidi=0/uni=1] */
    uint64_t next_local[2];      /* number of local streams opened of each kind */
    uint64_t max_local[2];       /* peer's MAX_STREAMS for our streams */
    uint64_t opened_remote[2];   /* highest remote stream count seen (implicitly opened) */
    uint64_t max_remote[2];      /* largest MAX_STREAMS sent to the peer: the one enforced */
    uint64_t max_remote_next[2]; /* what the next MAX_STREAMS carries (>= max_remote) */
    uint64_t closed_remote[2];   /* remote streams fully closed (for MAX_STREAMS credit) */
    uint64_t initial_remote[2];  /* configured limit, window for MAX_STREAMS updates */
    int need_max_streams[2];
    int need_streams_blocked[2];
    /* per-stream initial flow-control values */
    uint64_t local_max_data_bidi_local, local_max_data_bidi_remote, local_max_data_uni;
    uint64_t peer_max_data_bidi_local, peer_max_data_bidi_remote, peer_max_data_uni;
    size_t send_buffer;
    tern_stream *sendq_head, *sendq_tail; /* streams with something to send */
    tern_stream *ctrlq_head; /* streams that may have a control frame to send (TERN_SF_NEED_*),
                                so that building a packet never scans every stream */
    tern_chunk_pool pool;               /* receive chunks of every stream */
} tern_streams;

/* Starts with no stream allowed either way: the connection sets max_local[] from the peer's
 * transport parameters, calls tern_streams_set_remote_limits() with its own, and fills the per-stream
 * initial flow-control values before streams are created. send_buffer is each stream's send ring
 * limit. Nothing is allocated until the first stream. */
void tern_streams_init(tern_streams *m, int is_server, size_t send_buffer);
void tern_streams_free(tern_streams *m);
tern_stream *tern_streams_find(const tern_streams *m, int64_t id);
/* Opens a local stream. Returns 0, TERN_ERR_STREAM_LIMIT, TERN_ERR_NOMEM. */
int tern_streams_open_local(tern_streams *m, int bidi, tern_stream **out);
/* Gets a stream the peer refers to, opening it (and all lower ones of its kind) when new. Returns 0
 * with *out (NULL when the stream is already closed and gone: ignore the frame), or TERN_ERR_PROTO
 * with *terr = STREAM_STATE_ERROR (a local stream not opened yet, or wrong direction for the frame)
 * or STREAM_LIMIT_ERROR, or TERN_ERR_NOMEM (the streams opened so far are kept and counted), or
 * TERN_ERR_INVALID_ARG for a negative id. Newly opened streams are those numbered from the value of
 * opened_remote[kind] before the call up to its value after (tern_sid_make gives their ids).
 * `for_send`: the frame is about our sending side (MAX_STREAM_DATA, STOP_SENDING), else about the
 * receive side (STREAM, RESET_STREAM, STREAM_DATA_BLOCKED). */
int tern_streams_get_remote(tern_streams *m, int64_t id, int for_send, tern_stream **out,
                            uint64_t *terr);
/* Frees a stream whose both directions are done; updates MAX_STREAMS credit for remote streams:
 * max_remote_next[kind] is raised to closed + initial and need_max_streams[kind] set once at least
 * half of initial_remote[kind] (at least 1) of new credit has accumulated. The enforced limit,
 * max_remote[kind], moves only when the frame is sent (tern_streams_max_streams_sent). */
void tern_streams_close(tern_streams *m, tern_stream *s);
/* Our limits on peer-opened streams (initial_max_streams_bidi/uni we send), clamped to 2^60. */
void tern_streams_set_remote_limits(tern_streams *m, uint64_t max_bidi, uint64_t max_uni);
/* The peer's initial_max_stream_data_* transport parameters: the values for streams opened from now
 * on, and a raise of the sending limit of local streams already open. */
void tern_streams_set_peer_limits(tern_streams *m, uint64_t bidi_local, uint64_t bidi_remote,
                                  uint64_t uni);
/* The peer's MAX_STREAMS (or transport parameter). Returns 1 when the limit rose, 0 otherwise. */
/* 0-RTT was refused: the peer knows none of our streams. Their send limits become the new
 * peer limits exactly (they may be lower than the remembered ones) and every local stream sends
 * again from its acknowledged prefix. Returns the bytes still counted as sent (the connection's
 * flow-control use). */
uint64_t tern_streams_restart_send(tern_streams *m, uint64_t bidi_remote, uint64_t uni);
int tern_streams_on_max_streams(tern_streams *m, int bidi, uint64_t max);
/* STREAMS_BLOCKED from the peer at `limit`: queues MAX_STREAMS again when the peer missed ours, or
 * with the credit closed streams earned below the batching step. Returns 1 when queued. */
int tern_streams_on_streams_blocked(tern_streams *m, int bidi, uint64_t limit);
/* A packet carrying MAX_STREAMS or STREAMS_BLOCKED (`value`: the limit it carried) was lost.
 * Returns 1 when the frame is still current and was queued again, else 0. */
int tern_streams_on_frame_lost(tern_streams *m, uint64_t type, uint64_t value);
/* A MAX_STREAMS carrying `max` for the peer's bidi (uni = 0) or uni streams went out in a packet:
 * from now on the peer may open that many, and no more than the largest such value (RFC 9000
 * §4.6). Returns nothing; never lowers the limit. */
void tern_streams_max_streams_sent(tern_streams *m, int uni, uint64_t max);
/* 1 when both directions are finished (all sent+acked or reset acked; all read or reset). */
int tern_stream_is_done(const tern_stream *s, int is_server);
/* Send queue (round robin): push appends at the tail unless already queued; pop takes the head. */
void tern_streams_sendq_push(tern_streams *m, tern_stream *s);
/* Queues s for the control frames its TERN_SF_NEED_* flags ask for (once: a queued stream stays
 * where it is). Closing a stream takes it off. */
void tern_streams_ctrlq_push(tern_streams *m, tern_stream *s);
/* Takes s off the control queue (nothing when it is not queued). */
void tern_streams_ctrlq_remove(tern_streams *m, tern_stream *s);
tern_stream *tern_streams_sendq_pop(tern_streams *m);

/* What a received frame did to flow control: `new_bytes` is how far the highest received offset
 * moved (to charge against the connection's limit), `consumed` the bytes that will never be read
 * (reset or stopped streams) and go back to the connection's credit at once. */
typedef struct tern_stream_credit {
    uint64_t new_bytes, consumed;
} tern_stream_credit;

/* Receives STREAM frame data. Checks, before storing anything, the stream's advertised limit
 * (max_recv) and that the bytes the frame adds fit in `conn_credit` (what the connection still
 * allows), then the final-size rules, which also hold once the receive side is abandoned (reset or
 * stopped: nothing is stored and the bytes are consumed at once). Returns 0, TERN_ERR_PROTO with
 * *terr = FLOW_CONTROL_ERROR or FINAL_SIZE_ERROR, or TERN_ERR_NOMEM (frame dropped, nothing
 * changed). `cr` and `terr` are required, here and in tern_stream_on_reset. */
int tern_stream_recv(tern_stream *s, uint64_t off, const uint8_t *data, size_t len, int fin,
                     uint64_t conn_credit, tern_stream_credit *cr, uint64_t *terr);
/* tern_stream_recv, with in-order bytes left lent in `data` (tern_recvbuf_write_lent) until
 * tern_recvbuf_settle(&s->rcv): the application reads them straight from the packet. */
int tern_stream_recv_lent(tern_stream *s, uint64_t off, const uint8_t *data, size_t len, int fin,
                          uint64_t conn_credit, tern_stream_credit *cr, uint64_t *terr);
/* RESET_STREAM from the peer: the same limits as a STREAM frame ending at `final_size`, then the
 * final-size rules; the buffer is released and every unread byte reported consumed. A repeated
 * reset is checked the same way and consumes nothing more. Returns 0, or TERN_ERR_PROTO with
 * *terr. */
int tern_stream_on_reset(tern_stream *s, uint64_t final_size, uint64_t conn_credit,
                         tern_stream_credit *cr, uint64_t *terr);
/* The app stops reading (STOP_SENDING): queues the frame unless the peer already finished or reset,
 * releases the buffer and abandons the receive side. Returns the unread bytes now consumed. */
uint64_t tern_stream_stop_recv(tern_stream *s, uint64_t app_error);
/* Abandons the sending side (RESET_STREAM with `app_error` and the final size sent so far).
 * Returns 1 when the frame was queued, 0 when the stream was already reset, or
 * TERN_ERR_STREAM_STATE when everything was sent and acknowledged (nothing left to abandon). */
int tern_stream_reset_send(tern_stream *s, uint64_t app_error);
/* A packet carrying a control frame of this stream (MAX_STREAM_DATA, STREAM_DATA_BLOCKED,
 * RESET_STREAM, STOP_SENDING; `value`: the limit it carried) was lost. Returns 1 when the frame is
 * still current and was queued again, else 0. */
int tern_stream_on_frame_lost(tern_stream *s, uint64_t type, uint64_t value);
/* MAX_STREAM_DATA from the peer: raises the sending limit (never lowers it). Returns 1 when bytes
 * are now sendable (queue the stream), else 0. */
int tern_stream_on_max_stream_data(tern_stream *s, uint64_t max);
/* After the app read: when less than half of recv_window remains open ahead of read_off (or at
 * once with `force`), and the final size is unknown, moves max_recv_next to read_off + recv_window,
 * sets TERN_SF_NEED_MAX_STREAM_DATA and returns 1; else 0. The enforced max_recv moves only when
 * the frame is sent (tern_stream_max_stream_data_sent). A recv_window enlarged by the caller is
 * carried over to the receive buffer's limit. */
int tern_stream_update_recv_credit(tern_stream *s, int force);
/* A MAX_STREAM_DATA carrying `max` went out in a packet: the peer may send up to the largest such
 * value, which is what tern_stream_recv and tern_stream_on_reset enforce (RFC 9000 §4.1). */
void tern_stream_max_stream_data_sent(tern_stream *s, uint64_t max);
/* STREAM_DATA_BLOCKED at `limit`: queues MAX_STREAM_DATA again when the peer missed ours, or with
 * whatever credit the app's reading has opened. Returns 1 when a frame was queued. */
int tern_stream_on_data_blocked(tern_stream *s, uint64_t limit);
/* Bytes the connection's receive buffers hold: chunks in use and spare, chunk arrays, gap lists. */
size_t tern_streams_recv_bytes(const tern_streams *m);
/* The connection has received no stream data for a while: every receive buffer with nothing
 * unread gives back its chunk, pointer ring and range array (tern_recvbuf_trim), and the pool its
 * spare chunks. While data flows the buffers keep them, so a stream read packet by packet
 * allocates nothing per packet; once quiet, an idle connection holds no receive memory. */
void tern_streams_trim(tern_streams *m);

#endif
