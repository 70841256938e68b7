/* The public stream verbs of a connection: write (copied or in place), read, reset, stop sending,
 * and how much a stream can take. The stream rules themselves live in stream.c; these check the
 * caller's stream ID and state, then wake the connection's sender. */
#include <stdlib.h>
#include <string.h>
#include "conn_internal.h"

/* ---- public stream API -------------------------------------------------------------------------- */

static int stream_lookup(tern_conn *c, int64_t sid, tern_stream **out)
{
    if (!c || sid < 0)
        return TERN_ERR_INVALID_ARG;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    *out = tern_streams_find(&c->streams.set, sid);
    return *out ? 0 : TERN_ERR_STREAM_NOT_FOUND;
}

/* The stream `sid` when the application may still write to it. */
static int stream_for_write(tern_conn *c, int64_t sid, tern_stream **s)
{
    int rv = stream_lookup(c, sid, s);
    if (rv)
        return rv;
    if (!tern_sid_can_send(sid, c->is_server) ||
        ((*s)->flags & (TERN_SF_RESET_SENT | TERN_SF_NEED_RESET)))
        return TERN_ERR_STREAM_STATE;
    return 0;
}

/* The application waits for on_stream_writable, once `need` bytes fit (1: any room). */
static void want_writable(tern_stream *s, size_t need)
{
    s->flags |= TERN_SF_WANT_WRITABLE;
    s->want_room = need;
}

/* New bytes (or the FIN) were queued on s: it has something to send. */
static void stream_written(tern_conn *c, tern_stream *s)
{
    tern_streams_sendq_push(&c->streams.set, s);
    tern_conn_wake(c);
}

ssize_t tern_stream_write(tern_conn *c, int64_t sid, const void *data, size_t len, int fin)
{
    tern_stream *s;
    int rv = stream_for_write(c, sid, &s);
    if (rv)
        return rv;
    if (!data && len)
        return TERN_ERR_INVALID_ARG;
    ssize_t n = tern_sendbuf_write(&s->snd, data, len, fin);
    if (n < 0)
        return n;
    if ((size_t)n < len || (len == 0 && fin && !s->snd.fin))
        want_writable(s, 1);
    if (n > 0 || (fin && s->snd.fin))
        stream_written(c, s);
    if (n == 0 && len > 0)
        return TERN_ERR_WOULD_BLOCK;
    return n;
}

ssize_t tern_stream_write_ref(tern_conn *c, int64_t sid, const void *data, size_t len, int fin,
                              tern_release_fn release, void *ud)
{
    tern_stream *s;
    int rv = stream_for_write(c, sid, &s);
    if (rv)
        return rv;
    rv = tern_sendbuf_write_ref(&s->snd, data, len, fin, release, ud);
    if (rv == TERN_ERR_WOULD_BLOCK) /* told when the whole piece fits (or a piece went back) */
        want_writable(s, tern_sendbuf_room(&s->snd) < len ? len : 1);
    if (rv)
        return rv;
    stream_written(c, s);
    return (ssize_t)len;
}

ssize_t tern_stream_write_buffer(tern_conn *c, int64_t sid, size_t want, void **buf)
{
    tern_stream *s;
    uint8_t *p = NULL;
    if (!buf)
        return TERN_ERR_INVALID_ARG;
    *buf = NULL;
    int rv = stream_for_write(c, sid, &s);
    if (rv)
        return rv;
    ssize_t n = tern_sendbuf_reserve(&s->snd, want, &p);
    if (n < 0)
        return n;
    if (n == 0) {
        if (!want)
            return 0;
        want_writable(s, 1);
        return TERN_ERR_WOULD_BLOCK;
    }
    *buf = p;
    return n;
}

int tern_stream_write_commit(tern_conn *c, int64_t sid, size_t len, int fin)
{
    tern_stream *s;
    int rv = stream_for_write(c, sid, &s);
    if (rv)
        return rv;
    rv = tern_sendbuf_commit(&s->snd, len, fin);
    if (rv)
        return rv;
    if (len > 0 || fin)
        stream_written(c, s);
    return 0;
}

ssize_t tern_stream_read(tern_conn *c, int64_t sid, void *buf, size_t cap, int *fin)
{
    tern_stream *s;
    int rv = stream_lookup(c, sid, &s);
    if (fin)
        *fin = 0;
    if (rv)
        return rv;
    if (!tern_sid_can_recv(sid, c->is_server) ||
        (s->flags & (TERN_SF_RESET_RECVD | TERN_SF_STOP_SENT)))
        return TERN_ERR_STREAM_STATE;
    int f = 0;
    size_t n = tern_recvbuf_read(&s->rcv, buf, cap, &f);
    if (n == 0 && !f)
        return TERN_ERR_WOULD_BLOCK;
    c->stats.stream_bytes_recv += n;
    if (fin)
        *fin = f;
    if (tern_stream_update_recv_credit(s, 0)) {
        tern_conn_stream_ctrl(c, s);
        tern_conn_wake(c);
    }
    if (f && !(s->flags & TERN_SF_FIN_READ)) {
        s->flags |= TERN_SF_FIN_READ;
        tern_conn_maybe_close_stream(c, s);
    }
    tern_conn_credit_consumed(c, n, 0);
    return (ssize_t)n;
}

int tern_stream_reset(tern_conn *c, int64_t sid, uint64_t app_error)
{
    tern_stream *s;
    int rv = stream_lookup(c, sid, &s);
    if (rv)
        return rv;
    if (!tern_sid_can_send(sid, c->is_server))
        return TERN_ERR_STREAM_STATE;
    rv = tern_stream_reset_send(s, app_error);
    if (rv < 0)
        return rv;
    if (rv) {
        tern_conn_stream_ctrl(c, s);
        tern_conn_wake(c);
    }
    return 0;
}

int tern_stream_stop_sending(tern_conn *c, int64_t sid, uint64_t app_error)
{
    tern_stream *s;
    int rv = stream_lookup(c, sid, &s);
    if (rv)
        return rv;
    if (!tern_sid_can_recv(sid, c->is_server))
        return TERN_ERR_STREAM_STATE;
    if (s->flags & TERN_SF_STOP_SENT)
        return 0;
    /* what is buffered or still arrives will not be read: its credit goes back at once */
    tern_conn_credit_consumed(c, tern_stream_stop_recv(s, app_error), 0);
    if (s->flags & TERN_SF_NEED_STOP_SENDING)
        tern_conn_stream_ctrl(c, s);
    tern_conn_wake(c);
    tern_conn_maybe_close_stream(c, s);
    return 0;
}

size_t tern_stream_writable(tern_conn *c, int64_t sid)
{
    tern_stream *s;
    if (stream_lookup(c, sid, &s) || !tern_sid_can_send(sid, c->is_server) ||
        (s->flags & TERN_SF_RESET_SENT) || s->snd.fin)
        return 0;
    size_t room = tern_sendbuf_room(&s->snd);
    if (room == 0)
        want_writable(s, 1); /* the caller now waits for on_stream_writable */
    return room;
}
