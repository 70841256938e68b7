/* HTTP/3 for tern-server: GET and HEAD of the files below the root, answered once the request
 * has fully arrived; 400 for malformed requests, 404 for missing files, 405 for other methods.
 *
 * A body comes from the mapped file (fmap.c) when it can: the HTTP/3 layer (common/h3conn.c) asks
 * for data (read_data) and gets pointers into the mapping, which it hands to tern by reference
 * (by_ref below), so that tern encrypts from the page cache; at most RING_SIZE bytes are handed
 * out ahead of what tern took. A file that cannot be mapped is streamed through a small ring per
 * response instead: read_data preads into the ring, and the ring space comes back when the layer
 * reports the bytes taken (acked_stream_data, as soon as tern has copied them). When the ring is
 * full the stream waits and is resumed by that release, so memory stays bounded whatever the file
 * size, and each byte is copied once from the page cache and once into tern. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "server/server.h"

#define RING_SIZE (256 * 1024)
#define READ_MAX (64 * 1024)
#define METHOD_MAX 16

struct h3_req {
    h3_req *prev, *next;
    srv_conn *sc;
    int64_t sid;
    uint64_t start_ns;
    int bad;    /* a pseudo-header we need was too long */
    int status; /* 0 until the response is submitted */
    int head;   /* HEAD: headers only */
    char method[METHOD_MAX];
    char path[SRV_REQ_MAX];
    /* body */
    int fd;
    srv_fmap *map; /* the file mapped: the body goes by reference */
    uint64_t size;
    uint64_t sent;  /* body bytes handed to the HTTP/3 layer */
    uint64_t acked; /* body bytes the layer says tern has taken */
    int waiting;    /* read_data returned WOULDBLOCK for lack of ring space */
    const char *msg; /* static body of an error response */
    size_t ring_cap;
    unsigned char *ring;
};

static h3_req *req_new(srv_conn *sc, int64_t sid)
{
    h3_req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->sc = sc;
    r->sid = sid;
    r->fd = -1;
    r->start_ns = tool_now_ns();
    r->next = sc->reqs;
    if (sc->reqs)
        sc->reqs->prev = r;
    sc->reqs = r;
    return r;
}

static void req_free(h3_req *r)
{
    srv_conn *sc = r->sc;

    if (r->prev)
        r->prev->next = r->next;
    else
        sc->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (r->fd >= 0)
        close(r->fd);
    srv_fmap_unref(r->map); /* pieces tern still holds keep it mapped until released */
    free(r->ring);
    free(r);
}

static void req_log(h3_req *r, uint64_t close_code)
{
    char status[96];

    if (!r->status)
        snprintf(status, sizeof(status), "no response (stream closed, 0x%" PRIx64 ")", close_code);
    else if (close_code != TOOL_H3_NO_ERROR || (!r->head && !r->msg && r->acked < r->size))
        snprintf(status, sizeof(status), "%d, response aborted (0x%" PRIx64 ")", r->status,
                 close_code);
    else
        snprintf(status, sizeof(status), "%d", r->status);
    srv_log_request(r->sc->srv, r->sc, r->sid, r->method[0] ? r->method : "-",
                    r->path[0] ? r->path : "-", status, r->msg ? 0 : r->acked, r->start_ns);
}

/* ---- response body ---- */

/* Hands out the next body bytes: the whole static message of an error response, a piece of the
 * mapping (up to RING_SIZE ahead of what tern took), or what one pread put in the ring. A body
 * that can no longer be completed (the mapped file shrank, a read failed or came up short of the
 * content-length already sent) returns -1: the stream is reset rather than ended early. */
static ssize_t read_data(tool_h3 *h, int64_t sid, tool_h3_vec *vec, size_t veccnt, int *eof,
                         void *stream_ud)
{
    h3_req *r = stream_ud;
    uint64_t used, room, left;
    size_t pos, n;
    ssize_t got;

    (void)h;
    (void)sid;
    if (!r || veccnt == 0)
        return -1;
    r->waiting = 0;
    if (r->msg) {
        vec[0].base = (const uint8_t *)r->msg;
        vec[0].len = strlen(r->msg);
        *eof = 1;
        return 1;
    }
    left = r->size - r->sent;
    if (left == 0) {
        *eof = 1;
        return 0;
    }
    used = r->sent - r->acked;
    if (r->map) {
        if (r->map->damaged) /* the file shrank: the body cannot be completed */
            return -1;
        if (used >= RING_SIZE) {
            r->waiting = 1;
            return TOOL_H3_WOULDBLOCK;
        }
        n = RING_SIZE - (size_t)used;
        if (n > left)
            n = (size_t)left;
        vec[0].base = r->map->base + r->sent;
        vec[0].len = n;
        r->sent += n;
        *eof = r->sent == r->size;
        return 1;
    }
    room = r->ring_cap - used;
    if (room == 0) {
        r->waiting = 1;
        return TOOL_H3_WOULDBLOCK;
    }
    pos = (size_t)(r->sent % r->ring_cap);
    n = r->ring_cap - pos;
    if (n > room)
        n = (size_t)room;
    if (n > left)
        n = (size_t)left;
    if (n > READ_MAX)
        n = READ_MAX;
    do {
        got = pread(r->fd, r->ring + pos, n, (off_t)r->sent);
    } while (got < 0 && errno == EINTR);
    if (got <= 0)
        return -1;
    r->sent += (uint64_t)got;
    vec[0].base = r->ring + pos;
    vec[0].len = (size_t)got;
    *eof = r->sent == r->size;
    return 1;
}

static int acked_stream_data(tool_h3 *h, int64_t sid, uint64_t n, void *stream_ud)
{
    h3_req *r = stream_ud;

    if (!r)
        return 0;
    r->acked += n;
    if (r->waiting) {
        r->waiting = 0;
        tool_h3_resume_stream(h, sid);
    }
    return 0;
}

/* ---- requests ---- */

static void field(tool_qpack_field *f, const char *name, const char *value)
{
    f->name = (const uint8_t *)name;
    f->namelen = strlen(name);
    f->value = (const uint8_t *)value;
    f->valuelen = strlen(value);
}

static int submit(h3_req *r, int status, const char *ctype, uint64_t length, int with_body)
{
    tool_qpack_field fields[5];
    size_t n = 0;
    char status_text[8], len_text[24];

    r->status = status;
    snprintf(status_text, sizeof(status_text), "%d", status);
    snprintf(len_text, sizeof(len_text), "%" PRIu64, length);
    field(&fields[n++], ":status", status_text);
    field(&fields[n++], "server", "tern-server");
    field(&fields[n++], "content-type", ctype);
    field(&fields[n++], "content-length", len_text);
    if (status == 405)
        field(&fields[n++], "allow", "GET, HEAD");
    return tool_h3_submit_response(r->sc->h3, r->sid, fields, n, with_body);
}

static int respond_error(h3_req *r, int status)
{
    switch (status) {
    case 400:
        r->msg = "400 bad request\n";
        break;
    case 404:
        r->msg = "404 not found\n";
        break;
    case 405:
        r->msg = "405 method not allowed\n";
        break;
    default:
        r->msg = "500 internal error\n";
        break;
    }
    return submit(r, status, "text/plain", strlen(r->msg), !r->head);
}

static int respond(h3_req *r)
{
    const char *ctype;
    int status;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return respond_error(r, 405);
    r->head = r->method[0] == 'H';
    if (r->bad || r->path[0] == '\0')
        return respond_error(r, 400);
    r->fd = srv_open_file(r->sc->srv, r->path, &r->size, &ctype, &status);
    if (r->fd < 0)
        return respond_error(r, status);
    if (!r->head && r->size > 0)
        r->map = srv_fmap_open(r->fd, r->size); /* NULL: read into a ring instead */
    if (!r->head && r->size > 0 && !r->map) {
        r->ring_cap = r->size < RING_SIZE ? (size_t)r->size : RING_SIZE;
        r->ring = malloc(r->ring_cap);
        if (!r->ring) {
            close(r->fd);
            r->fd = -1;
            return respond_error(r, 500);
        }
    }
    return submit(r, 200, ctype, r->size, !r->head);
}

static int begin_headers(tool_h3 *h, int64_t sid, void *stream_ud)
{
    h3_req *r;

    (void)stream_ud;
    r = req_new(h->app, sid);
    if (!r)
        return -1;
    if (tool_h3_set_stream_user_data(h, sid, r) < 0) {
        req_free(r);
        return -1;
    }
    return 0;
}

static void copy_field(char *dst, size_t cap, const uint8_t *v, size_t len, int *bad)
{
    if (len >= cap || memchr(v, '\0', len)) {
        *bad = 1;
        return;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int recv_header(tool_h3 *h, int64_t sid, const tool_qpack_field *f, void *stream_ud)
{
    h3_req *r = stream_ud;
    int method_bad = 0;

    (void)h;
    (void)sid;
    if (!r)
        return 0;
    if (f->namelen == 7 && memcmp(f->name, ":method", 7) == 0) {
        copy_field(r->method, sizeof(r->method), f->value, f->valuelen, &method_bad);
        if (method_bad) /* no method we serve is that long */
            snprintf(r->method, sizeof(r->method), "?");
    } else if (f->namelen == 5 && memcmp(f->name, ":path", 5) == 0) {
        copy_field(r->path, sizeof(r->path), f->value, f->valuelen, &r->bad);
    }
    return 0;
}

/* The request has fully arrived (the layer checked it is well-formed): it is answered now. */
static int end_stream(tool_h3 *h, int64_t sid, void *stream_ud)
{
    h3_req *r = stream_ud;

    if (!r || r->status)
        return 0;
    if (respond(r) != 0)
        tool_h3_abort_stream(h, sid, TOOL_H3_INTERNAL_ERROR);
    return 0;
}

static int stream_close(tool_h3 *h, int64_t sid, uint64_t code, void *stream_ud)
{
    h3_req *r = stream_ud;

    (void)h;
    (void)sid;
    if (r) {
        req_log(r, code);
        req_free(r);
    }
    return 0;
}

/* tool_h3.by_ref: body bytes read_data handed out from a request's mapping go by reference, each
 * piece holding a reference to the mapping. */
static int body_by_ref(void *app, int64_t sid, const uint8_t *base, size_t len,
                       tern_release_fn *release, void **rud)
{
    srv_conn *sc = app;
    for (h3_req *r = sc->reqs; r; r = r->next) {
        if (r->sid != sid)
            continue;
        srv_fmap *m = r->map;
        if (!m || base < m->base || (size_t)(base - m->base) > m->len ||
            len > m->len - (size_t)(base - m->base))
            return 0;
        m->refs++;
        *release = srv_fmap_release;
        *rud = m;
        return 1;
    }
    return 0;
}

/* ---- connection ---- */

int srv_h3_start(srv_conn *sc)
{
    static const tool_h3_callbacks cb = {
        .begin_headers = begin_headers,
        .recv_header = recv_header,
        .end_stream = end_stream,
        .stream_close = stream_close,
        .read_data = read_data,
        .acked_stream_data = acked_stream_data,
    };
    char err[160];

    if (tool_h3_new(&sc->h3, sc->conn, 1, &cb, sc, err, sizeof(err)) < 0) {
        tern_conn_close(sc->conn, TOOL_H3_INTERNAL_ERROR, err);
        return -1;
    }
    sc->h3->by_ref = body_by_ref;
    return 0;
}

uint64_t srv_h3_bytes_sent(srv_conn *sc)
{
    return sc->h3 ? sc->h3->bytes_written : 0;
}

void srv_h3_goaway(srv_conn *sc, int final)
{
    if (!sc->h3 || sc->goaway_sent >= 1 + final)
        return;
    /* The notice (GOAWAY with the largest id) lets requests already on their way in still be
     * served; the final GOAWAY, a moment later, names the first request that will not be. A
     * failure means the connection is failing already: nothing more to send on it. */
    if (!final && sc->goaway_sent == 0)
        (void)tool_h3_shutdown_notice(sc->h3);
    else
        (void)tool_h3_shutdown(sc->h3);
    sc->goaway_sent = 1 + final;
    tool_h3_flush(sc->h3);
}

size_t srv_h3_active(srv_conn *sc)
{
    return sc->h3 ? tool_h3_open_streams(sc->h3) : 0;
}

void srv_h3_conn_free(srv_conn *sc)
{
    while (sc->reqs) {
        h3_req *r = sc->reqs;
        if (r->status == 0 || (!r->head && !r->msg && r->acked < r->size))
            srv_log_request(sc->srv, sc, r->sid, r->method[0] ? r->method : "-",
                            r->path[0] ? r->path : "-", "aborted (connection closed)", r->acked,
                            r->start_ns);
        req_free(r);
    }
    tool_h3_free(sc->h3);
    sc->h3 = NULL;
}
