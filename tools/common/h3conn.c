/* nghttp3 driven by tern streams: reads feed nghttp3_conn_read_stream, nghttp3_conn_writev_stream
 * output goes to tern_stream_write, and a small table remembers which directions of each stream
 * are finished so that nghttp3_conn_close_stream is called exactly once per stream. */
#include "common/h3conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITEV_MAX 16
/* The number of bidirectional streams tern lets a client have open at once (tern's default
 * initial_max_streams_bidi, which the tools keep). nghttp3 checks PRIORITY_UPDATE frames against
 * the cumulative limit it is told, and tern raises the real one as streams close without saying
 * so; opened ordinal + window bounds what tern can have granted. */
#define BIDI_WINDOW 100
#define MAX_FIELD_SECTION (64 * 1024)

struct tool_h3_stream {
    tool_sid_node node; /* first: the stream ID, in h->streams */
    uint8_t read_done, write_done, abort_pending;
    uint64_t code; /* passed to nghttp3_conn_close_stream */
};

static int is_uni(int64_t sid)
{
    return (sid & 0x2) != 0;
}

static int is_local(const tool_h3 *h, int64_t sid)
{
    return (int)(sid & 0x1) == h->is_server;
}

static tool_h3_stream *lookup(tool_h3 *h, int64_t sid)
{
    return (tool_h3_stream *)tool_sidmap_get(&h->streams, sid);
}

static tool_h3_stream *add(tool_h3 *h, int64_t sid)
{
    int created;
    tool_h3_stream *st = (tool_h3_stream *)tool_sidmap_add(&h->streams, sid, sizeof(*st), &created);

    if (!st || !created)
        return st;
    st->code = TOOL_H3_NO_ERROR;
    /* A peer's unidirectional stream has nothing for us to send. */
    st->write_done = is_uni(sid) ? 1 : 0;
    return st;
}

/* nghttp3 must not see a stream closed from inside one of its own callbacks, so changes are
 * counted here and applied by process_pending once control is back in the glue. */
static void note_done(tool_h3 *h, tool_h3_stream *st)
{
    (void)st;
    h->pending++;
}

void tool_h3_fail(tool_h3 *h, int liberr, const char *what)
{
    char reason[128];

    if (h->failed)
        return;
    h->failed = 1;
    snprintf(reason, sizeof(reason), "%s: %s", what, nghttp3_strerror(liberr));
    tern_conn_close(h->conn, nghttp3_err_infer_quic_app_error_code(liberr), reason);
}

/* Runs outside nghttp3 calls: tells nghttp3 about abandoned write sides and closes every stream
 * whose two directions are done. */
static void process_pending(tool_h3 *h)
{
    if (h->pending == 0 || h->busy)
        return;
    h->pending = 0;
    for (size_t i = 0; i < h->streams.nbuckets && !h->failed; i++) {
        tool_sid_node **pp = &h->streams.buckets[i];
        while (*pp) {
            tool_h3_stream *st = (tool_h3_stream *)*pp;
            int rv;

            if (st->abort_pending) {
                st->abort_pending = 0;
                nghttp3_conn_shutdown_stream_write(h->h3, st->node.sid);
            }
            if (!st->read_done || !st->write_done) {
                pp = &st->node.next;
                continue;
            }
            tool_sidmap_unlink(&h->streams, pp);
            if (!is_uni(st->node.sid))
                h->nbidi--;
            h->busy = 1;
            rv = nghttp3_conn_close_stream(h->h3, st->node.sid, st->code);
            h->busy = 0;
            free(st);
            if (rv < 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
                tool_h3_fail(h, rv, "closing a stream");
                return;
            }
        }
    }
}

/* ---- nghttp3 asks for stream-level actions ---- */

static int glue_stop_sending(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                             void *stream_ud)
{
    tool_h3 *h = conn_ud;
    tool_h3_stream *st = lookup(h, sid);

    tern_stream_stop_sending(h->conn, sid, code);
    /* tern discards what still arrives, so no FIN will be read: the read side ends here. */
    if (st) {
        st->read_done = 1;
        note_done(h, st);
    }
    return 0;
}

static int glue_reset_stream(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                             void *stream_ud)
{
    tool_h3 *h = conn_ud;
    tool_h3_stream *st = lookup(h, sid);

    tern_stream_reset(h->conn, sid, code);
    if (st) {
        st->write_done = 1;
        note_done(h, st);
    }
    return 0;
}

/* ---- setup ---- */

int tool_h3_new(tool_h3 **out, tern_conn *c, int is_server, const nghttp3_callbacks *cb, void *app,
                char *err, size_t errcap)
{
    nghttp3_callbacks cbs = *cb;
    nghttp3_settings settings;
    int64_t ctrl, qenc, qdec;
    tool_h3 *h;
    int rv;

    h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    h->conn = c;
    h->app = app;
    h->is_server = is_server;
    if (!cbs.stop_sending)
        cbs.stop_sending = glue_stop_sending;
    if (!cbs.reset_stream)
        cbs.reset_stream = glue_reset_stream;
    nghttp3_settings_default(&settings);
    settings.max_field_section_size = MAX_FIELD_SECTION;
    if (is_server) {
        /* The server's decoder takes no dynamic table: a client's QPACK encoder then sends
         * literals and static references only, and no client can make the server hold a table
         * or the header blocks of streams blocked on it, per connection. Requests are a few
         * short fields; the responses' compression (the client's table) is unchanged. */
        settings.qpack_max_dtable_capacity = 0;
        settings.qpack_blocked_streams = 0;
    } else {
        settings.qpack_max_dtable_capacity = 4096;
        settings.qpack_blocked_streams = 100;
    }
    if (is_server)
        rv = nghttp3_conn_server_new(&h->h3, &cbs, &settings, NULL, h);
    else
        rv = nghttp3_conn_client_new(&h->h3, &cbs, &settings, NULL, h);
    if (rv != 0) {
        snprintf(err, errcap, "nghttp3: %s", nghttp3_strerror(rv));
        free(h);
        return -1;
    }
    if (is_server) {
        h->max_client_bidi = BIDI_WINDOW;
        nghttp3_conn_set_max_client_streams_bidi(h->h3, h->max_client_bidi);
    }
    rv = tern_conn_open_stream(c, 0, &ctrl);
    if (rv == 0)
        rv = tern_conn_open_stream(c, 0, &qenc);
    if (rv == 0)
        rv = tern_conn_open_stream(c, 0, &qdec);
    if (rv < 0) {
        snprintf(err, errcap, "cannot open the HTTP/3 control streams: %s", tern_strerror(rv));
        tool_h3_free(h);
        return -1;
    }
    rv = nghttp3_conn_bind_control_stream(h->h3, ctrl);
    if (rv == 0)
        rv = nghttp3_conn_bind_qpack_streams(h->h3, qenc, qdec);
    if (rv != 0) {
        snprintf(err, errcap, "nghttp3: %s", nghttp3_strerror(rv));
        tool_h3_free(h);
        return -1;
    }
    *out = h;
    tool_h3_flush(h);
    return 0;
}

void tool_h3_free(tool_h3 *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->streams.nbuckets; i++)
        while (h->streams.buckets[i])
            free(tool_sidmap_unlink(&h->streams, &h->streams.buckets[i]));
    tool_sidmap_free(&h->streams);
    nghttp3_conn_del(h->h3);
    free(h);
}

int tool_h3_track(tool_h3 *h, int64_t sid)
{
    if (lookup(h, sid))
        return 0;
    if (!add(h, sid))
        return -1;
    if (!is_uni(sid))
        h->nbidi++;
    return 0;
}

size_t tool_h3_open_streams(const tool_h3 *h)
{
    return h->nbidi;
}

/* ---- reading ---- */

void tool_h3_on_readable(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap)
{
    tool_h3_stream *st = lookup(h, sid);

    if (!st && !is_local(h, sid)) {
        if (tool_h3_track(h, sid) < 0) {
            tern_stream_stop_sending(h->conn, sid, TOOL_H3_INTERNAL_ERROR);
            return;
        }
        st = lookup(h, sid);
        if (h->is_server && !is_uni(sid) &&
            ((uint64_t)sid >> 2) + BIDI_WINDOW > h->max_client_bidi) {
            h->max_client_bidi = ((uint64_t)sid >> 2) + BIDI_WINDOW;
            nghttp3_conn_set_max_client_streams_bidi(h->h3, h->max_client_bidi);
        }
    }
    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(h->conn, sid, buf, cap, &fin);
        nghttp3_ssize rv;

        if (n == TERN_ERR_WOULD_BLOCK)
            break;
        if (n < 0) {
            /* A reset is reported by on_stream_reset with its code; anything else means the
             * stream or the connection is gone. */
            if (n != TERN_ERR_STREAM_STATE && st && !st->read_done) {
                st->read_done = 1;
                note_done(h, st);
            }
            break;
        }
        if (!st || st->read_done || h->failed) {
            if (fin || n == 0)
                break;
            continue; /* nothing of ours: drain */
        }
        h->busy = 1;
        rv = nghttp3_conn_read_stream(h->h3, sid, buf, (size_t)n, fin);
        h->busy = 0;
        if (rv < 0) {
            tool_h3_fail(h, (int)rv, "HTTP/3");
            return;
        }
        if (fin) {
            st->read_done = 1;
            note_done(h, st);
            break;
        }
        if (n == 0)
            break;
    }
    tool_h3_flush(h);
}

/* ---- writing ---- */

/* Marks the write side of `sid` as finished (FIN accepted, or the stream is gone). */
static void write_finished(tool_h3 *h, int64_t sid)
{
    tool_h3_stream *st = lookup(h, sid);

    if (st && !st->write_done) {
        st->write_done = 1;
        note_done(h, st);
    }
}

int tool_h3_flush(tool_h3 *h)
{
    nghttp3_vec vec[WRITEV_MAX];

    if (h->failed)
        return -1;
    if (h->busy)
        return 0;
    for (;;) {
        int64_t sid = -1;
        int fin = 0, blocked = 0, rv;
        ssize_t w = 0;
        size_t accepted = 0;
        nghttp3_ssize n;

        h->busy = 1;
        n = nghttp3_conn_writev_stream(h->h3, &sid, &fin, vec, WRITEV_MAX);
        h->busy = 0;
        if (n < 0) {
            tool_h3_fail(h, (int)n, "HTTP/3");
            return -1;
        }
        if (sid < 0)
            break;
        if (n == 0 && !fin)
            break; /* nothing to hand over; never spin on it */
        for (nghttp3_ssize i = 0; i < n; i++) {
            int last = i == n - 1;
            w = tern_stream_write(h->conn, sid, vec[i].base, vec[i].len, fin && last);
            if (w < 0)
                break;
            accepted += (size_t)w;
            if ((size_t)w < vec[i].len) {
                blocked = 1;
                break;
            }
        }
        if (n == 0)
            w = tern_stream_write(h->conn, sid, "", 0, 1);
        if (w == TERN_ERR_WOULD_BLOCK) {
            blocked = 1;
        } else if (w == TERN_ERR_CLOSED) {
            return 0; /* the connection is closing: nothing will be sent any more */
        } else if (w < 0) {
            /* The peer's STOP_SENDING made tern reset the stream, or it is gone. */
            if (!is_uni(sid) || !is_local(h, sid)) {
                nghttp3_conn_shutdown_stream_write(h->h3, sid);
                write_finished(h, sid);
                continue;
            }
            h->failed = 1;
            tern_conn_close(h->conn, TOOL_H3_CLOSED_CRITICAL_STREAM, "critical stream lost");
            return -1;
        }
        rv = nghttp3_conn_add_write_offset(h->h3, sid, accepted);
        if (rv == 0 && accepted > 0) {
            h->busy = 1;
            rv = nghttp3_conn_add_ack_offset(h->h3, sid, accepted);
            h->busy = 0;
        }
        if (rv != 0) {
            tool_h3_fail(h, rv, "HTTP/3");
            return -1;
        }
        h->bytes_written += accepted;
        if (blocked)
            nghttp3_conn_block_stream(h->h3, sid);
        else if (fin)
            write_finished(h, sid);
    }
    process_pending(h);
    return h->failed ? -1 : 0;
}

void tool_h3_on_writable(tool_h3 *h, int64_t sid)
{
    nghttp3_conn_unblock_stream(h->h3, sid);
    tool_h3_flush(h);
}

void tool_h3_abort_stream(tool_h3 *h, int64_t sid, uint64_t code)
{
    tool_h3_stream *st = lookup(h, sid);

    tern_stream_reset(h->conn, sid, code);
    if (st && !st->write_done) {
        st->write_done = 1;
        st->abort_pending = 1;
        note_done(h, st);
    }
}

/* ---- the peer ends a direction abruptly ---- */

void tool_h3_on_reset(tool_h3 *h, int64_t sid, uint64_t app_error)
{
    tool_h3_stream *st = lookup(h, sid);

    if (!st && !is_local(h, sid)) {
        if (tool_h3_track(h, sid) < 0)
            return;
        st = lookup(h, sid);
    }
    if (!st || st->read_done)
        return;
    nghttp3_conn_shutdown_stream_read(h->h3, sid);
    st->read_done = 1;
    st->code = app_error;
    /* Whatever we were sending on it has no reader any more. */
    if (!st->write_done)
        tool_h3_abort_stream(h, sid, TOOL_H3_REQUEST_CANCELLED);
    note_done(h, st);
    tool_h3_flush(h);
}

void tool_h3_on_stop_sending(tool_h3 *h, int64_t sid, uint64_t app_error)
{
    tool_h3_stream *st = lookup(h, sid);

    if (is_uni(sid) && is_local(h, sid)) {
        h->failed = 1;
        tern_conn_close(h->conn, TOOL_H3_CLOSED_CRITICAL_STREAM, "peer stopped a critical stream");
        return;
    }
    /* tern has reset the stream already. */
    nghttp3_conn_shutdown_stream_write(h->h3, sid);
    if (st && !st->write_done) {
        st->write_done = 1;
        st->code = app_error;
        note_done(h, st);
    }
    tool_h3_flush(h);
}
