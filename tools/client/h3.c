/* HTTP/3 for tern-client: one GET per download on its own request stream, the final :status,
 * content-length and content-type recorded, the body hashed and saved as it arrives (the HTTP/3
 * layer, common/h3conn.h, hands DATA payloads straight out of the read buffer). A GOAWAY fails
 * the requests the server says it will not serve. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"

static download *dl_of(void *stream_ud)
{
    return stream_ud;
}

static int recv_header(tool_h3 *h, int64_t sid, const tool_qpack_field *f, void *stream_ud)
{
    download *d = dl_of(stream_ud);
    const uint8_t *v = f->value;
    uint64_t x = 0;

    (void)h;
    (void)sid;
    if (!d)
        return 0;
    if (f->namelen == 7 && memcmp(f->name, ":status", 7) == 0) {
        int s = 0;
        for (size_t i = 0; i < f->valuelen && s >= 0; i++)
            s = f->valuelen == 3 && v[i] >= '0' && v[i] <= '9' ? s * 10 + (v[i] - '0') : -1;
        d->status = s > 0 ? s : 0; /* the layer rejects anything but three digits already */
    } else if (f->namelen == 14 && memcmp(f->name, "content-length", 14) == 0) {
        for (size_t i = 0; i < f->valuelen; i++) {
            if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - 9) / 10)
                return 0;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        d->content_length = x;
        d->have_length = 1;
    } else if (f->namelen == 12 && memcmp(f->name, "content-type", 12) == 0 &&
               f->valuelen < sizeof(d->content_type)) {
        memcpy(d->content_type, v, f->valuelen);
        d->content_type[f->valuelen] = '\0';
    }
    return 0;
}

static int end_headers(tool_h3 *h, int64_t sid, int fin, void *stream_ud)
{
    download *d = dl_of(stream_ud);

    (void)h;
    (void)sid;
    (void)fin;
    /* An informational (1xx) response is followed by the real one. */
    if (d && d->status >= 100 && d->status < 200) {
        d->status = 0;
        d->have_length = 0;
    }
    return 0;
}

static int recv_data(tool_h3 *h, int64_t sid, const uint8_t *data, size_t len, void *stream_ud)
{
    client *cl = h->app;
    download *d = dl_of(stream_ud);

    if (!d || d->result != DL_PENDING)
        return 0;
    /* On failure the rest of the body is refused: tern discards what else arrives, and the
     * stream is closed in the layer at once (the request's FIN went out with it). */
    if (cl_body(cl, d, data, len) < 0)
        tool_h3_stop_stream(h, sid, TOOL_H3_REQUEST_CANCELLED);
    return 0;
}

static int end_stream(tool_h3 *h, int64_t sid, void *stream_ud)
{
    client *cl = h->app;
    download *d = dl_of(stream_ud);

    (void)sid;
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

static int stream_close(tool_h3 *h, int64_t sid, uint64_t code, void *stream_ud)
{
    client *cl = h->app;
    download *d = dl_of(stream_ud);

    (void)sid;
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

static int on_goaway(tool_h3 *h, int64_t id)
{
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
    static const tool_h3_callbacks cb = {
        .recv_header = recv_header,
        .end_headers = end_headers,
        .recv_data = recv_data,
        .end_stream = end_stream,
        .stream_close = stream_close,
        .goaway = on_goaway,
    };
    char err[160];

    if (tool_h3_new(&cl->h3, cl->conn, 0, &cb, cl, err, sizeof(err)) < 0) {
        snprintf(cl->error, sizeof(cl->error), "%s", err);
        tern_conn_close(cl->conn, TOOL_H3_INTERNAL_ERROR, err);
        return -1;
    }
    return 0;
}

static void field(tool_qpack_field *f, const char *name, const char *value)
{
    f->name = (const uint8_t *)name;
    f->namelen = strlen(name);
    f->value = (const uint8_t *)value;
    f->valuelen = strlen(value);
}

void cl_h3_submit(client *cl, download *d)
{
    char authority[TOOL_URL_HOST_MAX + 16];
    const tool_url *u = &d->url;
    int v6 = strchr(u->host, ':') != NULL;
    tool_qpack_field fields[5];
    size_t n = 0;

    if (u->port == 443)
        snprintf(authority, sizeof(authority), v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(authority, sizeof(authority), v6 ? "[%s]:%u" : "%s:%u", u->host,
                 (unsigned)u->port);
    field(&fields[n++], ":method", "GET");
    field(&fields[n++], ":scheme", "https");
    field(&fields[n++], ":authority", authority);
    field(&fields[n++], ":path", u->path);
    field(&fields[n++], "user-agent", "tern-client");
    if (tool_h3_submit_request(cl->h3, d->sid, fields, n, d) < 0) {
        /* The stream has no record in the layer: it is given up here, directly. */
        snprintf(d->error, sizeof(d->error),
                 cl->h3->failed ? "submitting the request: the HTTP/3 connection failed"
                                : "submitting the request: out of memory, or a request header "
                                  "section above the server's limit");
        cl_finish_dl(cl, d, DL_ERROR);
        tern_stream_reset(cl->conn, d->sid, TOOL_H3_REQUEST_CANCELLED);
    }
}

void cl_h3_free(client *cl)
{
    tool_h3_free(cl->h3);
    cl->h3 = NULL;
}
