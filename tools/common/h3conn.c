/* HTTP/3 (RFC 9114) on tern streams (see h3conn.h). Reading is incremental and copies nothing it
 * can hand out: frame headers split across reads are kept (at most 16 octets) and put in front of
 * the next read, DATA payloads go to the tool straight from the read buffer, unknown frames are
 * streamed past, and only a HEADERS payload is collected (in a buffer of its announced length,
 * freed once decoded). Writing keeps a send state per stream only while something waits to go.
 *
 * Callbacks may call back into the layer. Every entry point runs between enter() and leave(): a
 * stream whose two directions are done is put on a list and closed (its record freed, its close
 * callback run) by the outermost leave(), never while a parser or writer still holds it; a flush
 * asked for inside a callback runs there too. */
#include "common/h3msg.h"
#include "common/h3priv.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- streams ---- */

static tool_h3_stream *lookup(tool_h3 *h, int64_t sid)
{
    if (is_uni(sid))
        return NULL;
    return (tool_h3_stream *)tool_sidmap_get(&P(h)->streams, sid);
}

static void enter(tool_h3 *h)
{
    P(h)->busy++;
}

static void leave(tool_h3 *h);

void tool_h3_fail(tool_h3 *h, uint64_t code, const char *what)
{
    char reason[96];

    if (h->failed)
        return;
    h->failed = 1;
    snprintf(reason, sizeof(reason), "H3 0x%llx: %s", (unsigned long long)code, what);
    tern_conn_close(h->conn, code, reason);
}

/* A callback's nonzero answer fails the connection. Returns 0 or -1. */
int h3i_cb_result(tool_h3 *h, int rv)
{
    if (rv == 0)
        return 0;
    tool_h3_fail(h, TOOL_H3_INTERNAL_ERROR, "callback failure");
    return -1;
}

static void free_send(tool_h3_stream *st)
{
    if (st->snd) {
        free(st->snd->frame);
        free(st->snd);
        st->snd = NULL;
    }
}

/* Puts the stream on the list of streams that have something to write. */
static void queue(tool_h3 *h, tool_h3_stream *st)
{
    if (st->queued)
        return;
    st->queued = 1;
    st->next_ready = P(h)->ready;
    P(h)->ready = st;
}

static void unqueue(tool_h3 *h, tool_h3_stream *st)
{
    if (!st->queued)
        return;
    for (tool_h3_stream **pp = &P(h)->ready; *pp; pp = &(*pp)->next_ready) {
        if (*pp == st) {
            *pp = st->next_ready;
            break;
        }
    }
    st->queued = 0;
}

/* Once both directions are over, the stream waits on the done list for the outermost leave(). */
static void maybe_done(tool_h3 *h, tool_h3_stream *st)
{
    if (!st->read_done || !st->write_done || st->closing)
        return;
    st->closing = 1;
    st->next_done = P(h)->done;
    P(h)->done = st;
}

static void set_code(tool_h3_stream *st, uint64_t code)
{
    if (st->code == TOOL_H3_NO_ERROR)
        st->code = code;
}

static void write_over(tool_h3 *h, tool_h3_stream *st)
{
    st->write_done = 1;
    free_send(st);
    maybe_done(h, st);
}

static void read_over(tool_h3 *h, tool_h3_stream *st)
{
    st->read_done = 1;
    free(st->hbuf);
    st->hbuf = NULL;
    maybe_done(h, st);
}

/* A stream error (RFC 9114 §8): reset our side, ask the peer to stop sending on its own. */
static void stream_error(tool_h3 *h, tool_h3_stream *st, uint64_t code)
{
    set_code(st, code);
    if (!st->write_done) {
        tern_stream_reset(h->conn, st->node.sid, code);
        write_over(h, st);
    }
    if (!st->read_done) {
        tern_stream_stop_sending(h->conn, st->node.sid, code);
        read_over(h, st);
    }
}

static tool_h3_stream *new_stream(tool_h3 *h, int64_t sid)
{
    int created;
    tool_h3_stream *st =
        (tool_h3_stream *)tool_sidmap_add(&P(h)->streams, sid, sizeof(*st), &created);

    if (!st || !created)
        return NULL;
    st->content_length = -1;
    st->code = TOOL_H3_NO_ERROR;
    P(h)->nreq++;
    return st;
}

/* Removes a record from the table; the bucket array goes with the last one, so that an idle
 * connection holds nothing but the tool_h3. */
void h3i_remove_record(tool_h3 *h, tool_sid_node *n)
{
    tool_sidmap_remove(&P(h)->streams, n);
    if (P(h)->streams.count == 0)
        tool_sidmap_free(&P(h)->streams);
}

static void close_stream(tool_h3 *h, tool_h3_stream *st)
{
    unqueue(h, st);
    h3i_remove_record(h, &st->node);
    P(h)->nreq--;
    if (P(h)->cb.stream_close) {
        int rv;
        enter(h);
        rv = P(h)->cb.stream_close(h, st->node.sid, st->code, st->ud);
        h3i_cb_result(h, rv);
        P(h)->busy--; /* leave() runs in the caller's loop */
    }
    free_send(st);
    free(st->hbuf);
    free(st);
}

static void do_flush(tool_h3 *h);

static void leave(tool_h3 *h)
{
    h3_priv *p = P(h);

    if (--p->busy > 0)
        return;
    p->busy++;
    for (;;) {
        if (p->done) {
            tool_h3_stream *st = p->done;
            p->done = st->next_done;
            close_stream(h, st);
        } else if (p->want_flush && !h->failed) {
            p->want_flush = 0;
            do_flush(h);
        } else {
            break;
        }
    }
    p->busy--;
}

/* ---- messages ---- */

/* tool_qpack_decode stops with these */
enum { STOP_MALFORMED = 1, STOP_FAILED = 2 };

typedef struct section {
    tool_h3 *h;
    tool_h3_stream *st;
    tool_h3_msg m;
} section;

static int on_field(void *ud, const tool_qpack_field *f)
{
    section *s = ud;
    tool_h3 *h = s->h;

    if (tool_h3_msg_field(&s->m, f) < 0)
        return STOP_MALFORMED;
    if (s->m.kind != TOOL_H3_MSG_TRAILERS && P(h)->cb.recv_header) {
        if (h3i_cb_result(h, P(h)->cb.recv_header(h, s->st->node.sid, f, s->st->ud)) < 0)
            return STOP_FAILED;
    }
    return h->failed || s->st->read_done ? STOP_FAILED : 0;
}

/* ---- reading request streams ---- */

/* A whole HEADERS payload has arrived: decodes, checks and reports it. `at_fin`: the stream ends
 * right after it. */
static void headers_done(tool_h3 *h, tool_h3_stream *st, int at_fin)
{
    section s = {.h = h, .st = st};
    /* room for the strings of one field line decoded: Huffman codes are 5 bits or more, so a
     * string grows by 8/5 at most; held only while decoding */
    size_t cap = st->hneed * 8 / 5 + 1;
    uint8_t *scratch = malloc(cap);
    int rv;

    tool_h3_msg_begin(&s.m, st->msg == MSG_BODY ? TOOL_H3_MSG_TRAILERS
                            : h->is_server      ? TOOL_H3_MSG_REQUEST
                                                : TOOL_H3_MSG_RESPONSE);
    if (!scratch) {
        stream_error(h, st, TOOL_H3_INTERNAL_ERROR);
        return;
    }
    rv = tool_qpack_decode(st->hbuf, st->hneed, scratch, cap, TOOL_H3_MAX_FIELD_SECTION, on_field,
                           &s);
    free(scratch);
    free(st->hbuf);
    st->hbuf = NULL;
    if (rv == STOP_FAILED)
        return;
    if (rv == TOOL_QPACK_ERR_TOO_LARGE) {
        stream_error(h, st, TOOL_H3_EXCESSIVE_LOAD);
        return;
    }
    if (rv < 0) {
        tool_h3_fail(h, TOOL_QPACK_DECOMPRESSION_FAILED, "field section not decodable");
        return;
    }
    if (rv == STOP_MALFORMED || tool_h3_msg_end(&s.m) < 0) {
        stream_error(h, st, TOOL_H3_MESSAGE_ERROR);
        return;
    }
    if (s.m.kind == TOOL_H3_MSG_TRAILERS) {
        st->msg = MSG_DONE;
        return;
    }
    if (s.m.kind == TOOL_H3_MSG_RESPONSE && s.m.status < 200) {
        /* informational: the final response is still to come */
        at_fin = 0;
    } else {
        st->msg = MSG_BODY;
        st->content_length = s.m.content_length;
        if (s.m.kind == TOOL_H3_MSG_RESPONSE &&
            (st->is_head || s.m.status == 204 || s.m.status == 304))
            st->no_body = 1;
        if (at_fin && !st->no_body && st->content_length > 0) {
            stream_error(h, st, TOOL_H3_MESSAGE_ERROR);
            return;
        }
    }
    if (P(h)->cb.end_headers)
        h3i_cb_result(h, P(h)->cb.end_headers(h, st->node.sid, at_fin, st->ud));
}

/* A frame begins on a request stream. Returns 0, or -1 when the stream or the connection ended. */
/* HTTP/2's frame types that HTTP/3 reserves (RFC 9114 §7.2.8) are a connection error wherever
 * one appears. Returns 1 (the connection failed) for those, else 0. */
int h3i_reserved_h2_frame(tool_h3 *h, uint64_t type)
{
    if (type != 0x02 && type != 0x06 && type != 0x08 && type != 0x09)
        return 0;
    tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "reserved HTTP/2 frame type");
    return 1;
}

static int req_frame(tool_h3 *h, tool_h3_stream *st, uint64_t type, uint64_t len)
{
    st->ftype = type;
    st->fleft = len;
    if (h3i_reserved_h2_frame(h, type))
        return -1;
    switch (type) {
    case FT_DATA:
        if (st->msg != MSG_BODY) {
            tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED,
                         st->msg == MSG_START ? "DATA before HEADERS" : "DATA after trailers");
            return -1;
        }
        st->rstate = len ? RS_DATA : RS_FRAME;
        return 0;
    case FT_HEADERS:
        if (st->msg == MSG_DONE) {
            tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "HEADERS after trailers");
            return -1;
        }
        if (len > TOOL_H3_MAX_FIELD_SECTION) {
            stream_error(h, st, TOOL_H3_EXCESSIVE_LOAD);
            return -1;
        }
        /* collected whole (decoding needs the section at once), at most 16 KB */
        st->hbuf = malloc(len ? len : 1);
        if (!st->hbuf) {
            stream_error(h, st, TOOL_H3_INTERNAL_ERROR);
            return -1;
        }
        st->hneed = len;
        st->hgot = 0;
        st->rstate = RS_HEADERS;
        if (h->is_server && st->msg == MSG_START && P(h)->cb.begin_headers &&
            h3i_cb_result(h, P(h)->cb.begin_headers(h, st->node.sid, st->ud)) < 0)
            return -1;
        return h->failed || st->read_done ? -1 : 0;
    case FT_PUSH_PROMISE:
        if (h->is_server)
            tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "PUSH_PROMISE from a client");
        else
            tool_h3_fail(h, TOOL_H3_ID_ERROR, "PUSH_PROMISE without MAX_PUSH_ID");
        return -1;
    case FT_CANCEL_PUSH:
    case FT_SETTINGS:
    case FT_GOAWAY:
    case FT_MAX_PUSH_ID:
    case FT_PRIORITY_UPDATE_REQUEST:
    case FT_PRIORITY_UPDATE_PUSH:
        tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "control frame on a request stream");
        return -1;
    default:
        st->rstate = len ? RS_SKIP : RS_FRAME;
        return 0;
    }
}

/* The stream's FIN was read, after everything before it was parsed. */
static void req_fin(tool_h3 *h, tool_h3_stream *st)
{
    if (st->rstate != RS_FRAME || st->part_len) {
        tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "stream ends inside a frame");
        return;
    }
    if (st->msg == MSG_START) {
        stream_error(h, st, TOOL_H3_REQUEST_INCOMPLETE);
        return;
    }
    if (st->content_length >= 0 && !st->no_body && st->body != (uint64_t)st->content_length) {
        stream_error(h, st, TOOL_H3_MESSAGE_ERROR);
        return;
    }
    read_over(h, st);
    if (P(h)->cb.end_stream)
        h3i_cb_result(h, P(h)->cb.end_stream(h, st->node.sid, st->ud));
}

/* Parses p[0..n) of a request stream (a kept partial frame header first). */
static void req_parse(tool_h3 *h, tool_h3_stream *st, const uint8_t *p, size_t n, int fin)
{
    size_t off = 0;

    st->part_len = 0;
    while (off < n) {
        size_t avail;
        if (h->failed || st->read_done)
            return;
        if (st->rstate == RS_FRAME) {
            uint64_t type, len;
            size_t used = frame_header(p + off, n - off, &type, &len);
            if (!used)
                break;
            off += used;
            if (req_frame(h, st, type, len) < 0)
                return;
            if (st->rstate == RS_HEADERS && st->hneed == 0) {
                st->rstate = RS_FRAME;
                headers_done(h, st, fin && off == n);
            }
            continue;
        }
        avail = n - off;
        if (avail > st->fleft)
            avail = (size_t)st->fleft;
        if (st->rstate == RS_DATA) {
            st->body += avail;
            if (st->content_length >= 0 && !st->no_body &&
                st->body > (uint64_t)st->content_length) {
                stream_error(h, st, TOOL_H3_MESSAGE_ERROR);
                return;
            }
            if (P(h)->cb.recv_data &&
                h3i_cb_result(h, P(h)->cb.recv_data(h, st->node.sid, p + off, avail, st->ud)) < 0)
                return;
        } else if (st->rstate == RS_HEADERS) {
            memcpy(st->hbuf + st->hgot, p + off, avail);
            st->hgot += avail;
        }
        off += avail;
        st->fleft -= avail;
        if (st->fleft == 0) {
            int was_headers = st->rstate == RS_HEADERS;
            st->rstate = RS_FRAME;
            if (was_headers)
                headers_done(h, st, fin && off == n);
        }
    }
    if (h->failed || st->read_done)
        return;
    /* a frame header cut by the end of the read: fewer than PART_MAX octets */
    memcpy(st->part, p + off, n - off);
    st->part_len = (uint8_t)(n - off);
    if (fin)
        req_fin(h, st);
}

/* A server rejects a request on a stream its GOAWAY excludes (RFC 9114 §5.2). */
static void reject(tool_h3 *h, int64_t sid)
{
    tern_stream_reset(h->conn, sid, TOOL_H3_REQUEST_REJECTED);
    tern_stream_stop_sending(h->conn, sid, TOOL_H3_REQUEST_REJECTED);
}

static void req_read(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap)
{
    for (;;) {
        tool_h3_stream *st = lookup(h, sid);
        size_t pre = st ? st->part_len : 0;
        int fin = 0;
        ssize_t n;

        if (h->failed)
            return;
        n = tern_stream_read(h->conn, sid, buf + pre, cap - pre, &fin);
        if (n < 0)
            return; /* nothing now; or reset (on_reset reports it), stopped, gone */
        if (!st) {
            if (is_local(h, sid)) {
                /* a stream of ours without a request: nothing to parse */
                if (fin)
                    return;
                continue;
            }
            if (!h->is_server) {
                tool_h3_fail(h, TOOL_H3_STREAM_CREATION_ERROR, "server opened a bidi stream");
                return;
            }
            if ((uint64_t)sid >= P(h)->goaway_sent) {
                reject(h, sid);
                return;
            }
            st = new_stream(h, sid);
            if (!st) {
                tern_stream_reset(h->conn, sid, TOOL_H3_INTERNAL_ERROR);
                tern_stream_stop_sending(h->conn, sid, TOOL_H3_INTERNAL_ERROR);
                return;
            }
            if ((uint64_t)sid + 4 > P(h)->next_bidi)
                P(h)->next_bidi = (uint64_t)sid + 4;
        }
        if (st->read_done) {
            if (fin)
                return;
            continue;
        }
        memcpy(buf, st->part, pre);
        req_parse(h, st, buf, pre + (size_t)n, fin);
        if (fin)
            return;
    }
}

/* A client fails its requests that a server's GOAWAY excludes: they were not processed. */
void h3i_goaway_excludes(tool_h3 *h, uint64_t id)
{
    tool_sidmap *m = &P(h)->streams;

    for (size_t i = 0; i < m->nbuckets; i++) {
        for (tool_sid_node *n = m->buckets[i]; n; n = n->next) {
            tool_h3_stream *st = (tool_h3_stream *)n;
            if (is_uni(n->sid) || (uint64_t)n->sid < id || st->closing)
                continue;
            set_code(st, TOOL_H3_REQUEST_REJECTED);
            if (!st->write_done) {
                tern_stream_reset(h->conn, n->sid, TOOL_H3_REQUEST_CANCELLED);
                write_over(h, st);
            }
            if (!st->read_done) {
                tern_stream_stop_sending(h->conn, n->sid, TOOL_H3_REQUEST_CANCELLED);
                read_over(h, st);
            }
        }
    }
}

/* ---- the tern callbacks ---- */

void tool_h3_on_readable(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap)
{
    if (h->failed || cap <= PART_MAX)
        return;
    enter(h);
    if (!is_uni(sid))
        req_read(h, sid, buf, cap);
    else if (!is_local(h, sid))
        h3i_uni_read(h, sid, buf, cap);
    P(h)->want_flush = 1;
    leave(h);
}

void tool_h3_on_reset(tool_h3 *h, int64_t sid, uint64_t app_error)
{
    h3_priv *p = P(h);
    tool_h3_stream *st;

    if (h->failed)
        return;
    if (is_uni(sid)) {
        uni_pending *up;
        if (sid == p->peer_ctrl || sid == p->peer_enc || sid == p->peer_dec) {
            tool_h3_fail(h, TOOL_H3_CLOSED_CRITICAL_STREAM, "peer reset a critical stream");
            return;
        }
        up = is_local(h, sid) ? NULL : (uni_pending *)tool_sidmap_get(&p->streams, sid);
        if (up) {
            h3i_remove_record(h, &up->node);
            free(up);
        }
        return;
    }
    st = lookup(h, sid);
    if (!st || st->read_done)
        return;
    enter(h);
    set_code(st, app_error);
    /* what we were sending has no reader any more */
    if (!st->write_done) {
        tern_stream_reset(h->conn, sid, TOOL_H3_REQUEST_CANCELLED);
        write_over(h, st);
    }
    read_over(h, st);
    P(h)->want_flush = 1;
    leave(h);
}

void tool_h3_on_stop_sending(tool_h3 *h, int64_t sid, uint64_t app_error)
{
    tool_h3_stream *st;

    if (h->failed)
        return;
    if (sid == P(h)->ctrl_sid) {
        tool_h3_fail(h, TOOL_H3_CLOSED_CRITICAL_STREAM, "peer stopped our control stream");
        return;
    }
    st = lookup(h, sid);
    if (!st || st->write_done)
        return;
    enter(h);
    set_code(st, app_error); /* tern has reset the stream already */
    write_over(h, st);
    P(h)->want_flush = 1;
    leave(h);
}

void tool_h3_on_writable(tool_h3 *h, int64_t sid)
{
    tool_h3_stream *st;

    if (h->failed)
        return;
    enter(h);
    st = lookup(h, sid);
    if (st && st->snd && !st->snd->waiting)
        queue(h, st);
    P(h)->want_flush = 1;
    leave(h);
}

/* ---- writing ---- */

/* tern refused a write on a request stream: 0 when the stream must wait for on_writable, or
 * when its sending side is over (the peer's STOP_SENDING made tern reset it, it is gone, or tern
 * could not take it: then it is reset here); -1 when the connection is closing. */
static int write_refused(tool_h3 *h, tool_h3_stream *st, ssize_t w)
{
    if (w == TERN_ERR_WOULD_BLOCK)
        return 0;
    if (w == TERN_ERR_CLOSED)
        return -1;
    if (w != TERN_ERR_STREAM_STATE && w != TERN_ERR_STREAM_NOT_FOUND) {
        tern_stream_reset(h->conn, st->node.sid, TOOL_H3_INTERNAL_ERROR);
        set_code(st, TOOL_H3_INTERNAL_ERROR);
    }
    write_over(h, st);
    return 0;
}

/* The FIN went with the last bytes: the sending side is over. */
static void fin_sent(tool_h3 *h, tool_h3_stream *st)
{
    write_over(h, st);
}

/* Writes what waits on stream `st` until tern pushes back, the body's source has nothing now,
 * or the FIN is out. Returns 0, or -1 when the connection is closing. */
static int write_stream(tool_h3 *h, tool_h3_stream *st)
{
    h3_priv *p = P(h);
    int64_t sid = st->node.sid;
    h3_send *s = st->snd;
    ssize_t w;

    if (s->frame) {
        int fin = !s->with_body;
        while (s->frame_off < s->frame_len) {
            w = tern_stream_write(h->conn, sid, s->frame + s->frame_off,
                                  s->frame_len - s->frame_off, fin);
            if (w < 0)
                return write_refused(h, st, w) < 0 ? -1 : 0;
            s->frame_off += (size_t)w;
            h->bytes_written += (uint64_t)w;
        }
        free(s->frame);
        s->frame = NULL;
        if (fin) {
            fin_sent(h, st);
            return 0;
        }
    }
    for (;;) {
        while (s->fh_off < s->fh_len) {
            w = tern_stream_write(h->conn, sid, s->fh + s->fh_off, s->fh_len - s->fh_off, 0);
            if (w < 0)
                return write_refused(h, st, w) < 0 ? -1 : 0;
            s->fh_off += (uint8_t)w;
            h->bytes_written += (uint64_t)w;
        }
        while (s->vi < s->nvec) {
            const tool_h3_vec *v = &s->vec[s->vi];
            size_t left = v->len - s->voff, room, take;
            const uint8_t *base = v->base + s->voff;
            tern_release_fn rel;
            void *rud;
            int last, fin;

            if (left == 0) {
                s->vi++;
                s->voff = 0;
                continue;
            }
            room = tern_stream_writable(h->conn, sid);
            if (room == 0) {
                /* tern_stream_writable armed on_writable; a write tells apart a closed stream */
                w = tern_stream_write(h->conn, sid, base, 1, 0);
                if (w < 0)
                    return write_refused(h, st, w) < 0 ? -1 : 0;
                take = (size_t)w;
            } else {
                take = left < room ? left : room;
                last = s->eof && s->vi == s->nvec - 1;
                fin = last && take == left;
                if (h->by_ref && h->by_ref(h->app, sid, base, take, &rel, &rud)) {
                    w = tern_stream_write_ref(h->conn, sid, base, take, fin, rel, rud);
                    if (w < 0)
                        rel(rud, base, take); /* not taken: the reference goes back */
                } else {
                    w = tern_stream_write(h->conn, sid, base, take, fin);
                }
                if (w < 0)
                    return write_refused(h, st, w) < 0 ? -1 : 0;
                take = (size_t)w;
                if (fin && take == left) {
                    h->bytes_written += take;
                    if (p->cb.acked_stream_data)
                        h3i_cb_result(h, p->cb.acked_stream_data(h, sid, take, st->ud));
                    fin_sent(h, st);
                    return h->failed ? -1 : 0;
                }
            }
            s->voff += take;
            h->bytes_written += take;
            if (take && p->cb.acked_stream_data &&
                h3i_cb_result(h, p->cb.acked_stream_data(h, sid, take, st->ud)) < 0)
                return -1;
            if (!st->snd)
                return 0; /* aborted by the callback */
            if (s->voff == v->len) {
                s->vi++;
                s->voff = 0;
            }
        }
        if (s->eof) {
            /* the last vector was empty, or there was none: the FIN goes alone */
            w = tern_stream_write(h->conn, sid, "", 0, 1);
            if (w < 0)
                return write_refused(h, st, w) < 0 ? -1 : 0;
            fin_sent(h, st);
            return 0;
        }
        {
            ssize_t nv = TOOL_H3_WOULDBLOCK;
            int eof = 0;
            uint64_t total = 0;

            if (p->cb.read_data) {
                nv = p->cb.read_data(h, sid, s->vec, VEC_MAX, &eof, st->ud);
            } else {
                nv = 0;
                eof = 1;
            }
            if (h->failed)
                return -1;
            if (!st->snd)
                return 0; /* aborted by the callback */
            if (nv == TOOL_H3_WOULDBLOCK || (nv == 0 && !eof)) {
                if (!st->queued)
                    s->waiting = 1;
                return 0;
            }
            if (nv < 0 || nv > VEC_MAX) {
                tool_h3_abort_stream(h, sid, TOOL_H3_INTERNAL_ERROR);
                return 0;
            }
            s->nvec = (size_t)nv;
            s->vi = s->voff = 0;
            s->eof = (uint8_t)(eof != 0);
            for (size_t i = 0; i < s->nvec; i++)
                total += s->vec[i].len;
            s->fh_off = s->fh_len = 0;
            if (total) {
                s->fh[0] = FT_DATA;
                s->fh_len = (uint8_t)(1 + vput(s->fh + 1, total));
            }
        }
    }
}

/* Hands tern the local control stream's pending bytes. */
static void write_control(tool_h3 *h)
{
    h3_priv *p = P(h);
    ssize_t w;

    if (!p->out_len)
        return;
    w = tern_stream_write(h->conn, p->ctrl_sid, p->out, p->out_len, 0);
    if (w < 0) {
        if (w != TERN_ERR_WOULD_BLOCK && w != TERN_ERR_CLOSED)
            tool_h3_fail(h, TOOL_H3_CLOSED_CRITICAL_STREAM, "control stream not writable");
        return;
    }
    h->bytes_written += (uint64_t)w;
    memmove(p->out, p->out + w, p->out_len - (size_t)w);
    p->out_len = (uint8_t)(p->out_len - (size_t)w);
}

static void do_flush(tool_h3 *h)
{
    h3_priv *p = P(h);

    write_control(h);
    while (p->ready && !h->failed) {
        tool_h3_stream *st = p->ready;
        p->ready = st->next_ready;
        st->queued = 0;
        if (st->snd && !st->write_done && write_stream(h, st) < 0)
            break;
    }
}

int tool_h3_flush(tool_h3 *h)
{
    if (h->failed)
        return -1;
    enter(h);
    P(h)->want_flush = 1;
    leave(h);
    return h->failed ? -1 : 0;
}

/* ---- the tool's calls ---- */

/* The size of a field section as RFC 9114 §4.2.2 counts it. */
static uint64_t section_size(const tool_qpack_field *fields, size_t n)
{
    uint64_t size = 0;

    for (size_t i = 0; i < n; i++)
        size += fields[i].namelen + fields[i].valuelen + 32;
    return size;
}

/* A send state holding the HEADERS frame of `fields`. NULL when out of memory or above the
 * peer's limit. */
static h3_send *encode_headers(tool_h3 *h, const tool_qpack_field *fields, size_t n)
{
    size_t bound = tool_qpack_encode_bound(fields, n);
    h3_send *s;
    uint8_t hdr[9];
    size_t hl;
    ssize_t len;

    if (P(h)->peer_max_section != NONE && section_size(fields, n) > P(h)->peer_max_section)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->frame = malloc(sizeof(hdr) + bound);
    if (!s->frame)
        goto fail;
    len = tool_qpack_encode(s->frame + sizeof(hdr), bound, fields, n);
    if (len < 0)
        goto fail;
    hdr[0] = FT_HEADERS;
    hl = 1 + vput(hdr + 1, (uint64_t)len);
    /* the header goes right before the section */
    memcpy(s->frame + sizeof(hdr) - hl, hdr, hl);
    memmove(s->frame, s->frame + sizeof(hdr) - hl, hl + (size_t)len);
    s->frame_len = hl + (size_t)len;
    return s;
fail:
    free(s->frame);
    free(s);
    return NULL;
}

int tool_h3_set_stream_user_data(tool_h3 *h, int64_t sid, void *stream_ud)
{
    tool_h3_stream *st = lookup(h, sid);

    if (!st)
        return -1;
    st->ud = stream_ud;
    return 0;
}

int tool_h3_submit_request(tool_h3 *h, int64_t sid, const tool_qpack_field *fields, size_t n,
                           void *stream_ud)
{
    tool_h3_stream *st;
    h3_send *s;

    if (h->failed || h->is_server || is_uni(sid) || !is_local(h, sid) || lookup(h, sid))
        return -1;
    if (P(h)->goaway_recv != NONE && (uint64_t)sid >= P(h)->goaway_recv)
        return -1;
    s = encode_headers(h, fields, n);
    if (!s)
        return -1;
    st = new_stream(h, sid);
    if (!st) {
        free(s->frame);
        free(s);
        return -1;
    }
    st->ud = stream_ud;
    st->snd = s;
    for (size_t i = 0; i < n; i++)
        if (fields[i].namelen == 7 && memcmp(fields[i].name, ":method", 7) == 0 &&
            fields[i].valuelen == 4 && memcmp(fields[i].value, "HEAD", 4) == 0)
            st->is_head = 1;
    enter(h);
    queue(h, st);
    P(h)->want_flush = 1;
    leave(h);
    return 0;
}

int tool_h3_submit_response(tool_h3 *h, int64_t sid, const tool_qpack_field *fields, size_t n,
                            int with_body)
{
    tool_h3_stream *st = lookup(h, sid);
    h3_send *s;

    if (h->failed || !h->is_server || !st || st->responded || st->write_done)
        return -1;
    s = encode_headers(h, fields, n);
    if (!s)
        return -1;
    s->with_body = (uint8_t)(with_body != 0);
    st->snd = s;
    st->responded = 1;
    enter(h);
    queue(h, st);
    P(h)->want_flush = 1;
    leave(h);
    return 0;
}

void tool_h3_resume_stream(tool_h3 *h, int64_t sid)
{
    tool_h3_stream *st = lookup(h, sid);

    if (h->failed || !st || !st->snd)
        return;
    enter(h);
    st->snd->waiting = 0;
    queue(h, st);
    P(h)->want_flush = 1;
    leave(h);
}

/* Ends one side of stream `sid` at the tool's request: its sending side with RESET_STREAM, or
 * its receiving side with STOP_SENDING. The stream closes once its other side is over too. */
static void end_side(tool_h3 *h, int64_t sid, uint64_t code, int sending)
{
    tool_h3_stream *st = lookup(h, sid);

    if (h->failed)
        return;
    if (st && (sending ? st->write_done : st->read_done))
        return;
    if (st)
        enter(h);
    if (sending)
        tern_stream_reset(h->conn, sid, code);
    else
        tern_stream_stop_sending(h->conn, sid, code);
    if (!st)
        return;
    set_code(st, code);
    if (sending)
        write_over(h, st);
    else
        read_over(h, st);
    leave(h);
}

void tool_h3_abort_stream(tool_h3 *h, int64_t sid, uint64_t code)
{
    end_side(h, sid, code, 1);
}

void tool_h3_stop_stream(tool_h3 *h, int64_t sid, uint64_t code)
{
    end_side(h, sid, code, 0);
}

/* Queues a GOAWAY naming `id` on the control stream. Returns 0 or -1. */
static int send_goaway(tool_h3 *h, uint64_t id)
{
    h3_priv *p = P(h);
    uint8_t f[10];
    size_t n;

    if (h->failed || !h->is_server)
        return -1;
    if (p->goaway_sent != NONE && id >= p->goaway_sent)
        return 0; /* a GOAWAY never names a larger ID than the last one */
    f[0] = FT_GOAWAY;
    n = vput(f + 2, id);
    f[1] = (uint8_t)n;
    n += 2;
    if (p->out_len + n > sizeof(p->out))
        return -1;
    memcpy(p->out + p->out_len, f, n);
    p->out_len = (uint8_t)(p->out_len + n);
    p->goaway_sent = id;
    return tool_h3_flush(h);
}

int tool_h3_shutdown_notice(tool_h3 *h)
{
    return send_goaway(h, VARINT_MAX - 3);
}

int tool_h3_shutdown(tool_h3 *h)
{
    return send_goaway(h, P(h)->next_bidi);
}

size_t tool_h3_open_streams(const tool_h3 *h)
{
    return ((const h3_priv *)h)->nreq;
}

/* ---- setup ---- */

int tool_h3_new(tool_h3 **out, tern_conn *c, int is_server, const tool_h3_callbacks *cb, void *app,
                char *err, size_t errcap)
{
    h3_priv *p;
    tool_h3 *h;
    uint8_t *o, rnd[4];
    uint64_t grease;
    int rv;

    p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    h = &p->pub;
    h->conn = c;
    h->app = app;
    h->is_server = is_server;
    if (cb)
        p->cb = *cb;
    p->peer_ctrl = p->peer_enc = p->peer_dec = -1;
    p->peer_max_section = p->goaway_sent = p->goaway_recv = p->max_push_id = NONE;
    rv = tern_conn_open_stream(c, 0, &p->ctrl_sid);
    if (rv < 0) {
        snprintf(err, errcap, "cannot open the HTTP/3 control stream: %s", tern_strerror(rv));
        free(p);
        return -1;
    }
    /* a reserved setting (0x1f * N + 0x21) of random N and value, kept to 4 + 1 octets */
    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
        memset(rnd, 0, sizeof(rnd));
    grease = 0x1f * (((uint64_t)rnd[0] << 16 | (uint64_t)rnd[1] << 8 | rnd[2]) & 0xfffff) + 0x21;
    o = p->out;
    *o++ = UNI_CONTROL;
    *o++ = FT_SETTINGS;
    o++; /* the payload's length, below */
    *o++ = SET_MAX_FIELD_SECTION_SIZE;
    o += vput(o, TOOL_H3_MAX_FIELD_SECTION);
    *o++ = SET_QPACK_MAX_TABLE_CAPACITY;
    *o++ = 0;
    *o++ = SET_QPACK_BLOCKED_STREAMS;
    *o++ = 0;
    o += vput(o, grease);
    *o++ = rnd[3] & 0x3f;
    p->out[2] = (uint8_t)(o - p->out - 3);
    p->out_len = (uint8_t)(o - p->out);
    *out = h;
    tool_h3_flush(h);
    return 0;
}

void tool_h3_free(tool_h3 *h)
{
    tool_sidmap *m;

    if (!h)
        return;
    m = &P(h)->streams;
    for (size_t i = 0; i < m->nbuckets; i++) {
        while (m->buckets[i]) {
            tool_sid_node *n = tool_sidmap_unlink(m, &m->buckets[i]);
            if (!is_uni(n->sid)) {
                free_send((tool_h3_stream *)n);
                free(((tool_h3_stream *)n)->hbuf);
            }
            free(n);
        }
    }
    tool_sidmap_free(m);
    free(P(h));
}
