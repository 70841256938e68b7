/* tern-client's connection: what happens to each download (its body, its outcome and the line
 * that reports it), opening the streams of the downloads as the peer's limit allows, the
 * configured key update, and tern's callbacks, which hand each stream to the negotiated protocol
 * (hq.c, h3.c). The tool and the HTTP client fuzz target both use it, so that what is fuzzed is
 * what the client runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "common/util.h"

void cl_set_error(client *cl, const char *msg)
{
    if (!cl->error[0])
        snprintf(cl->error, sizeof(cl->error), "%s", msg);
}

download *cl_find_dl(client *cl, int64_t sid)
{
    for (size_t i = 0; i < cl->n; i++)
        if (cl->dl[i].sid == sid)
            return &cl->dl[i];
    return NULL;
}

static void capture_stats(client *cl)
{
    if (!cl->conn)
        return;
    tern_conn_get_stats(cl->conn, &cl->stats);
    cl->have_stats = 1;
}

static void report_dl(client *cl, download *d)
{
    FILE *f = cl->info, *err = cl->err;
    char status[16] = "";

    if (d->status)
        snprintf(status, sizeof(status), "%d, ", d->status);
    cl_progress_clear(&cl->progress);
    cl_paths_table_clear(cl);
    if (!err && d->result != DL_OK)
        return;
    switch (d->result) {
    case DL_OK:
        if (!cl->quiet && f && cl->hash)
            fprintf(f, "%s: %s%llu bytes, sha256 %s\n", d->url_text, status,
                    (unsigned long long)d->bytes, d->sha256);
        else if (!cl->quiet && f)
            fprintf(f, "%s: %s%llu bytes\n", d->url_text, status, (unsigned long long)d->bytes);
        break;
    case DL_HTTP_ERROR:
        fprintf(err, "tern-client: %s: HTTP status %d (%llu bytes of body)\n", d->url_text,
                d->status, (unsigned long long)d->bytes);
        break;
    case DL_RESET:
        fprintf(err,
                "tern-client: %s: stream reset by the server (application error 0x%llx) "
                "after %llu bytes\n",
                d->url_text, (unsigned long long)d->reset_code, (unsigned long long)d->bytes);
        break;
    case DL_ERROR:
        fprintf(err, "tern-client: %s: %s after %llu bytes\n", d->url_text,
                d->error[0] ? d->error : "download failed", (unsigned long long)d->bytes);
        break;
    default:
        break;
    }
}

static int write_all(int fd, const uint8_t *p, size_t len);

int cl_flush_body(download *d)
{
    int rv = d->wlen && d->fd >= 0 ? write_all(d->fd, d->wbuf, d->wlen) : 0;
    d->wlen = 0;
    return rv;
}

void cl_finish_dl(client *cl, download *d, dl_result result)
{
    if (d->result != DL_PENDING)
        return;
    d->result = result;
    if (cl->hash && (result == DL_OK || result == DL_HTTP_ERROR))
        tool_sha256_final_hex(&d->hash, d->sha256);
    else
        tool_sha256_discard(&d->hash);
    if (cl_flush_body(d) < 0 && result == DL_OK) {
        d->result = DL_ERROR;
        snprintf(d->error, sizeof(d->error), "writing the output file: %s", strerror(errno));
    }
    free(d->wbuf);
    d->wbuf = NULL;
    if (d->close_fd && d->fd >= 0) {
        if (close(d->fd) < 0 && d->result == DL_OK) {
            d->result = DL_ERROR;
            snprintf(d->error, sizeof(d->error), "closing the output file: %s", strerror(errno));
        }
        d->fd = -1;
    }
    report_dl(cl, d);
    if (++cl->n_finished == cl->n)
        cl->done_ns = tool_now_ns();
    cl_maybe_close(cl);
}

void cl_maybe_close(client *cl)
{
    if (cl->closing || cl->n_finished < cl->n || !cl_dgram_settled(cl))
        return;
    cl->closing = 1;
    cl->closing_ns = tool_now_ns();
    capture_stats(cl);
    /* The paths' final counters, before the close retires them. */
    cl_paths_table_end(cl);
    if (cl->conn)
        tern_conn_close(cl->conn, cl->proto == CL_PROTO_H3 ? TOOL_H3_NO_ERROR : 0, NULL);
}

void cl_fail_dl(client *cl, download *d, const char *what, int err)
{
    snprintf(d->error, sizeof(d->error), "%s: %s", what, tern_strerror(err));
    cl_finish_dl(cl, d, DL_ERROR);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void cl_show_progress(client *cl)
{
    uint64_t total = 0;

    if (!cl->progress.enabled || cl->n_finished == cl->n)
        return;
    for (size_t i = 0; i < cl->n; i++) {
        download *d = &cl->dl[i];
        if (d->result == DL_PENDING && !d->have_length) {
            total = 0; /* some size is unknown: no percentage */
            break;
        }
        total += d->result == DL_PENDING ? d->content_length : d->bytes;
    }
    cl_progress_update(&cl->progress, tool_now_ns(), cl->total_bytes, total, cl->n_finished, cl->n);
}

/* Gathers body bytes into d's write buffer, writing it out when full; a piece that would not fit
 * and is itself large goes out directly after what was gathered. Without memory for the buffer,
 * every piece is written as it comes. Returns 0 or -1 (errno set). */
static int body_out(download *d, const uint8_t *data, size_t len)
{
    if (!d->wbuf && !(d->wbuf = malloc(CL_WRITE_CHUNK)))
        return write_all(d->fd, data, len);
    if (d->wlen + len > CL_WRITE_CHUNK && cl_flush_body(d) < 0)
        return -1;
    if (len >= CL_WRITE_CHUNK / 2)
        return write_all(d->fd, data, len);
    memcpy(d->wbuf + d->wlen, data, len);
    d->wlen += len;
    return 0;
}

int cl_body(client *cl, download *d, const uint8_t *data, size_t len)
{
    uint64_t now = tool_now_ns();

    cl_stalls_on_data(cl, now);
    cl_paths_on_data(cl, now, len);
    d->bytes += len;
    cl->total_bytes += len;
    if (cl->hash && tool_sha256_update(&d->hash, data, len) < 0) {
        snprintf(d->error, sizeof(d->error), "hashing failed");
        cl_finish_dl(cl, d, DL_ERROR);
        return -1;
    }
    if (d->fd >= 0 && body_out(d, data, len) < 0) {
        snprintf(d->error, sizeof(d->error), "writing the output file: %s", strerror(errno));
        cl_finish_dl(cl, d, DL_ERROR);
        return -1;
    }
    if (cl->total_bytes >= cl->next_bytes_due)
        cl_script_run(cl);
    return 0;
}

/* Opens streams for downloads not started yet, as far as the peer's stream limit allows. */
void cl_start_pending(client *cl)
{
    if (cl->proto == CL_PROTO_H3 && !cl->h3)
        return; /* HTTP/3 setup failed: the connection is closing */
    while (cl->conn && (cl->connected || cl->early_started) && cl->proto != CL_PROTO_NONE &&
           cl->next_open < cl->n) {
        download *d = &cl->dl[cl->next_open];
        int64_t sid;
        int rc;

        if (d->result != DL_PENDING) { /* failed by a GOAWAY before it started */
            cl->next_open++;
            continue;
        }
        rc = tern_conn_open_stream(cl->conn, 1, &sid);
        if (rc == TERN_ERR_STREAM_LIMIT)
            return; /* retried after streams finish and the limit grows */
        cl->next_open++;
        if (rc < 0) {
            cl_fail_dl(cl, d, "opening a stream", rc);
            continue;
        }
        d->sid = sid;
        if (cl->proto == CL_PROTO_H3)
            cl_h3_submit(cl, d);
        else
            cl_hq_send_request(cl, d);
    }
    if (cl->h3 && cl->conn)
        tool_h3_flush(cl->h3);
}

static void maybe_key_update(client *cl)
{
    int rc;

    if (!cl->conn || cl->n_finished == cl->n || !cl->key_update_wanted || cl->key_update_done ||
        cl->total_bytes < cl->key_update_at)
        return;
    rc = tern_conn_key_update(cl->conn);
    if (rc == TERN_ERR_STREAM_STATE)
        return; /* not confirmed yet, or a previous update is pending: try again later */
    cl->key_update_done = 1;
    cl_progress_clear(&cl->progress);
    if (!cl->err)
        return;
    if (rc < 0)
        fprintf(cl->err, "tern-client: key update failed: %s\n", tern_strerror(rc));
    else if (!cl->quiet)
        fprintf(cl->err, "tern-client: key update started after %llu bytes\n",
                (unsigned long long)cl->total_bytes);
}

/* ---- callbacks ---- */

int cl_begin(client *cl, const char *alpn)
{
    if (cl->proto != CL_PROTO_NONE)
        return 0;
    if (strcmp(alpn, "h3") == 0) {
        cl->proto = CL_PROTO_H3;
        if (cl_h3_start(cl) < 0)
            return -1;
    } else {
        cl->proto = CL_PROTO_HQ;
    }
    return 0;
}

static void on_connected(tern_conn *c, void *ud)
{
    client *cl = ud;

    cl->conn = c; /* the tool knows it from the connect call; a fuzz target's pair does not */
    cl->connected = 1;
    cl->connected_ns = tool_now_ns();
    cl->resumed = tern_conn_resumed(c);
    cl->early_state = tern_conn_early_data(c);
    cl_paths_refresh(cl);
    snprintf(cl->cipher, sizeof(cl->cipher), "%s", tern_conn_cipher(c));
    char vbuf[16];
    snprintf(cl->quic_version, sizeof(cl->quic_version), "%s",
             tool_quic_version_name(tern_conn_quic_version(c), vbuf, sizeof(vbuf)));
    snprintf(cl->alpn, sizeof(cl->alpn), "%s", tern_conn_alpn(c));
    if (cl_begin(cl, cl->alpn) < 0)
        return;
    cl_start_pending(cl);
    cl_script_run(cl);
    cl_dgram_send(cl);
}

/* Keeps the server's latest ticket for the next run: written beside the file, then renamed over
 * it, so that a run that dies midway never leaves half a blob. */
static void on_session_ticket(tern_conn *c, const uint8_t *blob, size_t len, void *ud)
{
    client *cl = ud;
    char tmp[PATH_MAX];
    (void)c;
    if (!cl->session_file)
        return;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", cl->session_file) >= sizeof(tmp))
        return;
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(blob, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, cl->session_file) == 0) {
        cl->tickets_saved++;
        return;
    }
    unlink(tmp);
    if (cl->err && !cl->session_warned) {
        cl->session_warned = 1;
        fprintf(cl->err, "tern-client: cannot write the session file %s: %s\n", cl->session_file,
                strerror(errno));
    }
}

static void on_stream_readable(tern_conn *c, int64_t sid, void *ud)
{
    client *cl = ud;

    if (cl->h3)
        tool_h3_on_readable(cl->h3, sid, cl->buf, sizeof(cl->buf));
    else
        cl_hq_on_readable(cl, sid);
    maybe_key_update(cl);
    cl_show_progress(cl);
}

static void on_stream_writable(tern_conn *c, int64_t sid, void *ud)
{
    client *cl = ud;
    download *d;

    if (cl->h3) {
        tool_h3_on_writable(cl->h3, sid);
        return;
    }
    d = cl_find_dl(cl, sid);
    if (d)
        cl_hq_send_request(cl, d);
}

static void on_stream_reset(tern_conn *c, int64_t sid, uint64_t app_error, void *ud)
{
    client *cl = ud;
    download *d = cl_find_dl(cl, sid);

    if (cl->h3) {
        tool_h3_on_reset(cl->h3, sid, app_error);
    } else if (d && d->result == DL_PENDING) {
        d->reset_code = app_error;
        cl_finish_dl(cl, d, DL_RESET);
    }
    cl_start_pending(cl);
}

static void on_stream_stop_sending(tern_conn *c, int64_t sid, uint64_t app_error, void *ud)
{
    client *cl = ud;

    if (cl->h3)
        tool_h3_on_stop_sending(cl->h3, sid, app_error);
}

static void on_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    cl_paths_on_event(ud, ev);
}

static void on_network_event(tern_endpoint *ep, const tern_net_event *ev, void *ud)
{
    cl_paths_on_network_event(ud, ev);
}

static void describe_close(char *buf, size_t cap, const tern_close_info *ci)
{
    char code[64];

    if (!ci->app && ci->error_code >= TERN_TE_CRYPTO_ERROR && ci->error_code < 0x200)
        snprintf(code, sizeof(code), "transport error 0x%llx (TLS alert %u)",
                 (unsigned long long)ci->error_code,
                 (unsigned)(ci->error_code - TERN_TE_CRYPTO_ERROR));
    else
        snprintf(code, sizeof(code), "%s error 0x%llx", ci->app ? "application" : "transport",
                 (unsigned long long)ci->error_code);
    /* A zero status is a regular close: its error code and reason say everything. */
    snprintf(buf, cap, "%s%s%s%s%s%s, closed by %s", ci->status ? tern_strerror(ci->status) : "",
             ci->status ? ", " : "", code, ci->reason[0] ? " \"" : "", ci->reason,
             ci->reason[0] ? "\"" : "", ci->local ? "us" : "the peer");
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    client *cl = ud;
    char why[400], msg[512];

    if (!cl->have_stats || !cl->done_ns)
        capture_stats(cl);
    if (info) {
        cl->close = *info;
        cl->have_close = 1;
    }
    cl->closed = 1;
    if (cl->n_finished < cl->n) {
        if (info)
            describe_close(why, sizeof(why), info);
        else
            snprintf(why, sizeof(why), "no reason given");
        if (!cl->connected && info && info->status == TERN_ERR_CONN_REFUSED)
            snprintf(msg, sizeof(msg),
                     "cannot connect to %s: connection refused (ICMP port unreachable: nothing "
                     "listens on that UDP port)",
                     cl->peer);
        else if (!cl->connected && info && info->status == TERN_ERR_TLS &&
                 strncmp(info->reason, "certificate verification failed", 31) == 0)
            snprintf(msg, sizeof(msg),
                     "handshake with %s failed: %s (trust the server's CA with --ca FILE, or skip "
                     "verification with --insecure)",
                     cl->peer, info->reason);
        else if (!cl->connected)
            snprintf(msg, sizeof(msg), "handshake with %s failed: %s", cl->peer, why);
        else
            snprintf(msg, sizeof(msg), "connection closed before the downloads finished: %s", why);
        if (cl->interrupted)
            snprintf(msg, sizeof(msg), "interrupted");
        cl_set_error(cl, msg);
        cl_stalls_on_end(cl, tool_now_ns(), cl->interrupted ? "interrupted" : why);
        for (size_t i = 0; i < cl->n; i++) {
            download *d = &cl->dl[i];
            if (d->result == DL_PENDING) {
                snprintf(d->error, sizeof(d->error), "%s",
                         cl->connected ? "connection closed" : "no connection");
                d->result = DL_ERROR;
                tool_sha256_discard(&d->hash);
                cl->n_finished++;
            }
        }
    }
    /* The handle is freed when this returns: nothing may use it afterwards. */
    cl_h3_free(cl);
    cl->conn = NULL;
}

static void on_new_token(tern_conn *c, const uint8_t *token, size_t len, void *ud)
{
    (void)c;
    cl_token_save(ud, token, len);
}

void cl_callbacks(tern_callbacks *cb)
{
    memset(cb, 0, sizeof(*cb));
    cb->on_connected = on_connected;
    cb->on_stream_readable = on_stream_readable;
    cb->on_stream_writable = on_stream_writable;
    cb->on_stream_reset = on_stream_reset;
    cb->on_stream_stop_sending = on_stream_stop_sending;
    cb->on_closed = on_closed;
    cb->on_path_event = on_path_event;
    cb->on_network_event = on_network_event;
    cl_dgram_callbacks(cb);
    cb->on_session_ticket = on_session_ticket;
    cb->on_new_token = on_new_token;
}
