/* hq-interop (HTTP/0.9 over QUIC) for tern-client: "GET /path\r\n" and FIN on a fresh stream,
 * the body is every byte up to the server's FIN; errors arrive as RESET_STREAM codes. */
#include <stdio.h>

#include "client/client.h"

void cl_hq_send_request(client *cl, download *d)
{
    ssize_t w;

    if (d->req_len == 0)
        d->req_len = (size_t)snprintf(d->req, sizeof(d->req), "GET %s\r\n", d->url.path);
    if (d->req_sent == d->req_len || d->result != DL_PENDING)
        return;
    w = tern_stream_write(cl->conn, d->sid, d->req + d->req_sent, d->req_len - d->req_sent, 1);
    if (w == TERN_ERR_WOULD_BLOCK)
        return;
    if (w < 0) {
        cl_fail_dl(cl, d, "sending the request", (int)w);
        return;
    }
    d->req_sent += (size_t)w;
}

void cl_hq_on_readable(client *cl, int64_t sid)
{
    download *d = cl_find_dl(cl, sid);

    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(cl->conn, sid, cl->buf, sizeof(cl->buf), &fin);

        if (n == TERN_ERR_WOULD_BLOCK)
            break;
        if (!d || d->result != DL_PENDING) {
            if (n <= 0 || fin)
                break;
            continue; /* not ours or already failed: drain */
        }
        if (n == TERN_ERR_STREAM_STATE)
            break; /* reset by the peer: on_stream_reset reports it with its code */
        if (n < 0) {
            cl_fail_dl(cl, d, "reading the response", (int)n);
            break;
        }
        if (cl_body(cl, d, cl->buf, (size_t)n) < 0) {
            tern_stream_stop_sending(cl->conn, sid, 0);
            break;
        }
        if (fin) {
            cl_finish_dl(cl, d, DL_OK);
            break;
        }
        if (n == 0)
            break;
    }
}
