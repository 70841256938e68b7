/* hq-interop (HTTP/0.9 over QUIC) for tern-server.
 *
 * A client opens a bidirectional stream and sends "GET /path\r\n" (or "GET /path" and FIN); the
 * server answers with the file's bytes and FIN. Errors end the response with RESET_STREAM and an
 * application error code, since HTTP/0.9 has no status line:
 *   0x1  not found (missing file, not a regular file, or a path escaping the root)
 *   0x2  bad request (not a GET line, too long, or the request stream was reset)
 *   0x3  internal error (the file could not be read)
 * Files are streamed: each stream keeps only a file descriptor and an offset, and every chunk is
 * read with pread into the stream's own send buffer, so memory does not grow with file size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "server/server.h"

enum { APP_ERR_NOT_FOUND = 0x1, APP_ERR_BAD_REQUEST = 0x2, APP_ERR_INTERNAL = 0x3 };

struct hq_stream {
    tool_sid_node node; /* first: the stream ID, in sc->hq_streams */
    int req_done;       /* the request line was handled */
    int req_fin;        /* nothing more will arrive from the client */
    int resp_done;      /* FIN accepted or the response was reset */
    int fd;             /* file being sent, -1 when none */
    uint64_t size, off; /* file size and bytes accepted by the stream so far */
    uint64_t start_ns;
    size_t req_len;
    const char *path; /* points into req once the request is parsed */
    char req[SRV_REQ_MAX];
};

static void log_hq(srv_conn *sc, hq_stream *st, const char *status)
{
    srv_log_request(sc->srv, sc, st->node.sid, st->path ? "GET" : "-", st->path ? st->path : "-",
                    status, st->off, st->start_ns);
}

/* ---- per-connection stream table ---- */

static hq_stream *stream_get(srv_conn *sc, int64_t sid)
{
    return (hq_stream *)tool_sidmap_get(&sc->hq_streams, sid);
}

static hq_stream *stream_add(srv_conn *sc, int64_t sid)
{
    int created;
    hq_stream *st = (hq_stream *)tool_sidmap_add(&sc->hq_streams, sid, sizeof(*st), &created);

    if (!st || !created)
        return st;
    st->fd = -1;
    st->start_ns = tool_now_ns();
    return st;
}

static void stream_close_file(hq_stream *st)
{
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
}

static void stream_free(srv_conn *sc, hq_stream *st)
{
    tool_sidmap_remove(&sc->hq_streams, &st->node);
    stream_close_file(st);
    free(st);
}

/* Once both directions are finished the state has no further use. */
static void stream_maybe_free(srv_conn *sc, hq_stream *st)
{
    if (st->req_fin && st->resp_done)
        stream_free(sc, st);
}

void srv_hq_conn_free(srv_conn *sc)
{
    for (size_t i = 0; i < sc->hq_streams.nbuckets; i++) {
        while (sc->hq_streams.buckets[i]) {
            hq_stream *st = (hq_stream *)sc->hq_streams.buckets[i];
            if (st->req_done && !st->resp_done)
                log_hq(sc, st, "aborted (connection closed)");
            stream_free(sc, st);
        }
    }
    tool_sidmap_free(&sc->hq_streams);
}

/* ---- responses ---- */

static void respond_error(srv_conn *sc, hq_stream *st, uint64_t code, const char *status)
{
    stream_close_file(st);
    tern_stream_reset(sc->conn, st->node.sid, code);
    st->resp_done = 1;
    log_hq(sc, st, status);
}

/* Moves file bytes into the stream until it pushes back; resumed from on_stream_writable. Each
 * chunk is read straight into the stream's send buffer (tern_stream_write_buffer), so that the
 * bytes are copied once, by the kernel, on their way to the packets. */
static void pump(srv_conn *sc, hq_stream *st)
{
    while (st->fd >= 0) {
        uint64_t remaining = st->size - st->off;
        size_t want = remaining < SRV_CHUNK_SIZE ? (size_t)remaining : SRV_CHUNK_SIZE;
        void *place = NULL;
        ssize_t room = 0, n = 0;
        int fin, rv;

        if (want > 0) {
            room = tern_stream_write_buffer(sc->conn, st->node.sid, want, &place);
            if (room == TERN_ERR_WOULD_BLOCK)
                return;
            if (room < 0) {
                stream_close_file(st);
                st->resp_done = 1;
                log_hq(sc, st, tern_strerror((int)room));
                return;
            }
            do
                n = pread(st->fd, place, (size_t)room, (off_t)st->off);
            while (n < 0 && errno == EINTR);
            if (n < 0) {
                respond_error(sc, st, APP_ERR_INTERNAL, "read error");
                return;
            }
        }
        /* n == 0 before the expected size means the file shrank: end the body where it ends. */
        fin = st->off + (uint64_t)n >= st->size || n == 0;
        rv = tern_stream_write_commit(sc->conn, st->node.sid, (size_t)n, fin);
        if (rv < 0) {
            stream_close_file(st);
            st->resp_done = 1;
            log_hq(sc, st, tern_strerror(rv));
            return;
        }
        st->off += (uint64_t)n;
        sc->hq_bytes_sent += (uint64_t)n;
        if (fin) {
            stream_close_file(st);
            st->resp_done = 1;
            log_hq(sc, st, "200");
            break;
        }
    }
    srv_maybe_key_update(sc);
}

/* Handles one request line (NUL-terminated, line ending removed). */
static void handle_request(srv_conn *sc, hq_stream *st, char *line)
{
    char *path, *end;
    const char *ctype;
    int status;

    st->req_done = 1;
    if (strncmp(line, "GET ", 4) != 0) {
        respond_error(sc, st, APP_ERR_BAD_REQUEST, "400 bad request");
        return;
    }
    path = line + 4;
    while (*path == ' ')
        path++;
    end = path + strcspn(path, " "); /* tolerate a trailing " HTTP/x.y" */
    *end = '\0';
    st->path = path;
    st->fd = srv_open_file(sc->srv, path, &st->size, &ctype, &status); /* HTTP/0.9: no headers */
    if (st->fd < 0) {
        if (status == 400)
            respond_error(sc, st, APP_ERR_BAD_REQUEST, "400 bad request");
        else
            respond_error(sc, st, APP_ERR_NOT_FOUND, "404 not found");
        return;
    }
    pump(sc, st);
}

/* Looks for a complete request line; `fin` means the bytes so far are all there will be. */
static void try_parse(srv_conn *sc, hq_stream *st, int fin)
{
    char *nl = memchr(st->req, '\n', st->req_len);
    size_t len;

    if (!nl && !fin) {
        if (st->req_len >= SRV_REQ_MAX - 1) {
            st->req_done = 1;
            tern_stream_stop_sending(sc->conn, st->node.sid, APP_ERR_BAD_REQUEST);
            st->req_fin = 1;
            respond_error(sc, st, APP_ERR_BAD_REQUEST, "400 request too long");
        }
        return;
    }
    len = nl ? (size_t)(nl - st->req) : st->req_len;
    if (len > 0 && st->req[len - 1] == '\r')
        len--;
    st->req[len] = '\0';
    if (memchr(st->req, '\0', len)) {
        st->req_done = 1;
        respond_error(sc, st, APP_ERR_BAD_REQUEST, "400 bad request");
        return;
    }
    handle_request(sc, st, st->req);
}

/* ---- callbacks ---- */

void srv_hq_on_stream_open(srv_conn *sc, int64_t sid)
{
    /* Only client-initiated bidirectional streams carry requests (low bits 00). */
    if ((sid & 0x3) == 0 && !stream_add(sc, sid))
        tern_stream_reset(sc->conn, sid, APP_ERR_INTERNAL);
}

void srv_hq_on_readable(srv_conn *sc, int64_t sid)
{
    hq_stream *st = stream_get(sc, sid);
    unsigned char *buf = sc->srv->buf;

    /* Without state (a unidirectional stream, or one already finished) data is only drained. */
    for (;;) {
        unsigned char *dst = buf;
        size_t cap = SRV_CHUNK_SIZE;
        ssize_t n;
        int fin = 0;

        if (st && !st->req_done) {
            dst = (unsigned char *)st->req + st->req_len;
            cap = SRV_REQ_MAX - 1 - st->req_len;
        }
        n = tern_stream_read(sc->conn, sid, dst, cap, &fin);
        if (n == TERN_ERR_WOULD_BLOCK)
            break;
        if (n < 0) {
            fin = 1;
            n = 0;
        }
        if (st && !st->req_done) {
            st->req_len += (size_t)n;
            try_parse(sc, st, fin);
        }
        if (fin) {
            if (st)
                st->req_fin = 1;
            break;
        }
        if (n == 0)
            break;
    }
    if (st)
        stream_maybe_free(sc, st);
}

void srv_hq_on_writable(srv_conn *sc, int64_t sid)
{
    hq_stream *st = stream_get(sc, sid);

    if (st && st->fd >= 0) {
        pump(sc, st);
        stream_maybe_free(sc, st);
    }
}

void srv_hq_on_reset(srv_conn *sc, int64_t sid, uint64_t app_error)
{
    hq_stream *st = stream_get(sc, sid);

    if (!st)
        return;
    st->req_fin = 1;
    if (!st->req_done) {
        /* The request never completed: there is nothing to answer. */
        st->req_done = 1;
        respond_error(sc, st, APP_ERR_BAD_REQUEST, "request reset by client");
    }
    stream_maybe_free(sc, st);
}

void srv_hq_on_stop_sending(srv_conn *sc, int64_t sid, uint64_t app_error)
{
    hq_stream *st = stream_get(sc, sid);
    char status[64];

    if (!st || st->resp_done)
        return;
    stream_close_file(st);
    st->resp_done = 1;
    snprintf(status, sizeof(status), "stopped by client (0x%llx)", (unsigned long long)app_error);
    log_hq(sc, st, status);
    stream_maybe_free(sc, st);
}
