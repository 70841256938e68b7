/* HTTP/3 for tern-client: one GET per download on its own request stream, the final :status,
 * content-length and content-type recorded, the body hashed and saved as it arrives (nghttp3
 * hands DATA payloads straight out of the read buffer). A GOAWAY fails the requests the server says it will not
 * serve. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"

static download *dl_of(void *stream_ud)
{
    return stream_ud;
}

static int recv_header(nghttp3_conn *conn, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                       nghttp3_rcbuf *value, uint8_t flags, void *conn_ud, void *stream_ud)
{
    download *d = dl_of(stream_ud);
    nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
    uint64_t x = 0;

    if (!d)
        return 0;
    if (n.len == 7 && memcmp(n.base, ":status", 7) == 0) {
        int s = 0;
        for (size_t i = 0; i < v.len && s >= 0; i++)
            s = v.len == 3 && v.base[i] >= '0' && v.base[i] <= '9' ? s * 10 + (v.base[i] - '0') : -1;
        d->status = s > 0 ? s : 0; /* nghttp3 rejects anything but three digits already */
    } else if (n.len == 14 && memcmp(n.base, "content-length", 14) == 0) {
        for (size_t i = 0; i < v.len; i++) {
            if (v.base[i] < '0' || v.base[i] > '9' || x > (UINT64_MAX - 9) / 10)
                return 0;
            x = x * 10 + (uint64_t)(v.base[i] - '0');
        }
        d->content_length = x;
        d->have_length = 1;
    } else if (n.len == 12 && memcmp(n.base, "content-type", 12) == 0 &&
               v.len < sizeof(d->content_type)) {
        memcpy(d->content_type, v.base, v.len);
        d->content_type[v.len] = '\0';
    }
    return 0;
}

static int end_headers(nghttp3_conn *conn, int64_t sid, int fin, void *conn_ud, void *stream_ud)
{
    download *d = dl_of(stream_ud);

    /* An informational (1xx) response is followed by the real one. */
    if (d && d->status >= 100 && d->status < 200) {
        d->status = 0;
        d->have_length = 0;
    }
    return 0;
}

static int recv_data(nghttp3_conn *conn, int64_t sid, const uint8_t *data, size_t len,
                     void *conn_ud, void *stream_ud)
{
    tool_h3 *h = conn_ud;
    client *cl = h->app;
    download *d = dl_of(stream_ud);

    if (!d || d->result != DL_PENDING)
        return 0;
    /* On failure tern discards what else arrives; nghttp3 is told when the stream closes. */
    if (cl_body(cl, d, data, len) < 0)
        tern_stream_stop_sending(cl->conn, sid, TOOL_H3_REQUEST_CANCELLED);
    return 0;
}

static int end_stream(nghttp3_conn *conn, int64_t sid, void *conn_ud, void *stream_ud)
{
    tool_h3 *h = conn_ud;
    client *cl = h->app;
    download *d = dl_of(stream_ud);

    if (!d || d->result != DL_PENDING)
        return 0;
    if (d->status == 0) {
        snprintf(d->error, sizeof(d->error), "response without a status");
        cl_finish_dl(cl, d, DL_ERROR);
    } else {
        cl_finish_dl(cl, d, d->status >= 200 && d->status < 300 ? DL_OK : DL_HTTP_ERROR);
    }
    return 0;
}

static int stream_close(nghttp3_conn *conn, int64_t sid, uint64_t code, void *conn_ud,
                        void *stream_ud)
{
    tool_h3 *h = conn_ud;
    client *cl = h->app;
    download *d = dl_of(stream_ud);

    if (!d || d->result != DL_PENDING)
        return 0;
    if (code == TOOL_H3_REQUEST_REJECTED) {
        snprintf(d->error, sizeof(d->error), "request rejected by the server (H3_REQUEST_REJECTED)");
        cl_finish_dl(cl, d, DL_ERROR);
        return 0;
    }
    d->reset_code = code;
    cl_finish_dl(cl, d, DL_RESET);
    return 0;
}

static int on_goaway(nghttp3_conn *conn, int64_t id, void *conn_ud)
{
    tool_h3 *h = conn_ud;
    client *cl = h->app;

    if (id >= cl->goaway_id)
        return 0;
    cl->goaway_id = id;
    for (size_t i = 0; i < cl->n; i++) {
        download *d = &cl->dl[i];
        if (d->result == DL_PENDING && (d->sid < 0 || d->sid >= id)) {
            snprintf(d->error, sizeof(d->error), "not served: the server is shutting down (GOAWAY)");
            cl_finish_dl(cl, d, DL_ERROR);
        }
    }
    return 0;
}

int cl_h3_start(client *cl)
{
    nghttp3_callbacks cb;
    char err[160];

    memset(&cb, 0, sizeof(cb));
    cb.recv_header = recv_header;
    cb.end_headers = end_headers;
    cb.recv_data = recv_data;
    cb.end_stream = end_stream;
    cb.stream_close = stream_close;
    cb.shutdown = on_goaway;
    if (tool_h3_new(&cl->h3, cl->conn, 0, &cb, cl, err, sizeof(err)) < 0) {
        snprintf(cl->error, sizeof(cl->error), "%s", err);
        tern_conn_close(cl->conn, TOOL_H3_INTERNAL_ERROR, err);
        return -1;
    }
    return 0;
}

void cl_h3_submit(client *cl, download *d)
{
    char authority[TOOL_URL_HOST_MAX + 16];
    const tool_url *u = &d->url;
    int v6 = strchr(u->host, ':') != NULL;
    nghttp3_nv nva[5];
    size_t n = 0;
    int rv;

    if (u->port == 443)
        snprintf(authority, sizeof(authority), v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(authority, sizeof(authority), v6 ? "[%s]:%u" : "%s:%u", u->host,
                 (unsigned)u->port);
#define NV(N, V)                                                                                   \
    do {                                                                                           \
        nva[n].name = tool_h3_in(N);                                                               \
        nva[n].namelen = strlen(N);                                                                \
        nva[n].value = tool_h3_in(V);                                                              \
        nva[n].valuelen = strlen(V);                                                               \
        nva[n].flags = NGHTTP3_NV_FLAG_NONE;                                                       \
        n++;                                                                                       \
    } while (0)
    NV(":method", "GET");
    NV(":scheme", "https");
    NV(":authority", authority);
    NV(":path", u->path);
    NV("user-agent", "tern-client");
#undef NV
    if (tool_h3_track(cl->h3, d->sid) < 0) {
        snprintf(d->error, sizeof(d->error), "out of memory");
        cl_finish_dl(cl, d, DL_ERROR);
        return;
    }
    rv = nghttp3_conn_submit_request(cl->h3->h3, d->sid, nva, n, NULL, d);
    if (rv != 0) {
        snprintf(d->error, sizeof(d->error), "submitting the request: %s", nghttp3_strerror(rv));
        cl_finish_dl(cl, d, DL_ERROR);
        tern_stream_reset(cl->conn, d->sid, TOOL_H3_REQUEST_CANCELLED);
    }
}

void cl_h3_free(client *cl)
{
    tool_h3_free(cl->h3);
    cl->h3 = NULL;
}
