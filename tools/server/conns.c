/* tern-server's connections: the per-connection state, the dispatch of tern's callbacks to the
 * protocol each connection negotiated (hq.c, h3.c), the request log, the configured key update
 * and the log lines of connections and migration. The tool and the HTTP fuzz target both use
 * it, so that what is fuzzed is what the server runs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "server/server.h"
#include "tern/tern.h"

/* ---- shared helpers ---- */

void srv_log_request(server *srv, srv_conn *sc, int64_t sid, const char *method, const char *path,
                     const char *status, uint64_t bytes, uint64_t start_ns)
{
    if (srv->quiet)
        return;
    printf("%s stream %" PRId64 " %s %s %s %" PRIu64 " bytes %.1f ms\n", sc->peer, sid, method,
           path, status, bytes, (double)(tool_now_ns() - start_ns) / 1e6);
    fflush(stdout);
}

void srv_maybe_key_update(srv_conn *sc)
{
    server *srv = sc->srv;
    uint64_t sent = sc->hq_bytes_sent + srv_h3_bytes_sent(sc);
    int rc;

    if (!srv->key_update_wanted || sc->key_update_done || sent < srv->key_update_at)
        return;
    rc = tern_conn_key_update(sc->conn);
    if (rc == TERN_ERR_STREAM_STATE)
        return; /* not confirmed yet, or a previous update is pending: try again later */
    sc->key_update_done = 1;
    if (srv->quiet)
        return;
    if (rc < 0)
        printf("%s key update failed: %s\n", sc->peer, tern_strerror(rc));
    else
        printf("%s key update started after %" PRIu64 " bytes\n", sc->peer, sent);
    fflush(stdout);
}

/* ---- connections ---- */

static srv_conn *conn_state(server *srv, tern_conn *c)
{
    srv_conn *sc = tern_conn_get_user_data(c);
    tern_path_addr pa;

    if (sc)
        return sc;
    sc = calloc(1, sizeof(*sc));
    if (!sc)
        return NULL;
    sc->srv = srv;
    sc->conn = c;
    tern_conn_get_path(c, &pa);
    if (pa.remote.len)
        tern_addr_format(&pa.remote, sc->peer, sizeof(sc->peer));
    else
        snprintf(sc->peer, sizeof(sc->peer), "?");
    sc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = sc;
    srv->conns = sc;
    tern_conn_set_user_data(c, sc);
    return sc;
}

void srv_conn_free(server *srv, srv_conn *sc)
{
    srv_hq_conn_free(sc);
    srv_h3_conn_free(sc);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        srv->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    free(sc);
}

/* Picks the protocol once ALPN is known (the handshake is complete). Returns the state, or NULL
 * when the connection cannot be served. */
static srv_conn *ready_conn(server *srv, tern_conn *c)
{
    srv_conn *sc = conn_state(srv, c);
    const char *alpn;

    if (!sc)
        return NULL;
    if (sc->proto != SRV_PROTO_NONE)
        return sc->proto == SRV_PROTO_H3 && !sc->h3 ? NULL : sc; /* HTTP/3 setup failed */
    alpn = tern_conn_alpn(c);
    if (strcmp(alpn, "h3") == 0) {
        sc->proto = SRV_PROTO_H3;
        if (srv_h3_start(sc) < 0)
            return NULL;
    } else if (alpn[0]) {
        sc->proto = SRV_PROTO_HQ;
    }
    return sc;
}

void srv_close_for_shutdown(srv_conn *sc)
{
    if (sc->closing)
        return;
    sc->closing = 1;
    tern_conn_close(sc->conn, sc->proto == SRV_PROTO_H3 ? TOOL_H3_NO_ERROR : 0,
                    "server shutting down");
}

/* ---- callbacks ---- */

static void on_accept(tern_conn *c, void *ud)
{
    ((server *)ud)->accepted++;
    if (!conn_state(ud, c))
        tern_conn_close(c, 0x3, "out of memory");
}

static void on_connected(tern_conn *c, void *ud)
{
    server *srv = ud;
    srv_conn *sc = ready_conn(srv, c);

    if (!sc)
        return;
    if (!srv->quiet) {
        char vbuf[16];
        printf("%s connected: ALPN %s, %s%s%s, QUIC %s\n", sc->peer, tern_conn_alpn(c),
               tern_conn_cipher(c), tern_conn_resumed(c) ? ", resumed" : "",
               tern_conn_early_data(c) == TERN_EARLY_DATA_ACCEPTED ? ", 0-RTT accepted" : "",
               tool_quic_version_name(tern_conn_quic_version(c), vbuf, sizeof(vbuf)));
        fflush(stdout);
    }
    if (srv->shutting_down) {
        srv_h3_goaway(sc, 1);
        srv_close_for_shutdown(sc);
    }
}

static void on_stream_open(tern_conn *c, int64_t sid, void *ud)
{
    srv_conn *sc = ready_conn(ud, c);

    if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_stream_open(sc, sid);
}

static void on_stream_readable(tern_conn *c, int64_t sid, void *ud)
{
    server *srv = ud;
    srv_conn *sc = ready_conn(srv, c);

    if (sc && sc->proto == SRV_PROTO_H3) {
        tool_h3_on_readable(sc->h3, sid, srv->buf, sizeof(srv->buf));
        srv_maybe_key_update(sc);
    } else if (sc && sc->proto == SRV_PROTO_HQ) {
        srv_hq_on_readable(sc, sid);
    } else {
        /* No protocol (yet): nothing can be served, the bytes are only drained. */
        int fin = 0;
        while (tern_stream_read(c, sid, srv->buf, sizeof(srv->buf), &fin) > 0 && !fin)
            ;
    }
}

static void on_stream_writable(tern_conn *c, int64_t sid, void *ud)
{
    srv_conn *sc = ready_conn(ud, c);

    if (sc && sc->proto == SRV_PROTO_H3) {
        tool_h3_on_writable(sc->h3, sid);
        srv_maybe_key_update(sc);
    } else if (sc && sc->proto == SRV_PROTO_HQ) {
        srv_hq_on_writable(sc, sid);
    }
}

static void on_stream_reset(tern_conn *c, int64_t sid, uint64_t app_error, void *ud)
{
    srv_conn *sc = ready_conn(ud, c);

    if (sc && sc->proto == SRV_PROTO_H3)
        tool_h3_on_reset(sc->h3, sid, app_error);
    else if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_reset(sc, sid, app_error);
}

static void on_stream_stop_sending(tern_conn *c, int64_t sid, uint64_t app_error, void *ud)
{
    srv_conn *sc = ready_conn(ud, c);

    if (sc && sc->proto == SRV_PROTO_H3)
        tool_h3_on_stop_sending(sc->h3, sid, app_error);
    else if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_stop_sending(sc, sid, app_error);
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    server *srv = ud;
    srv_conn *sc = tern_conn_get_user_data(c);
    tern_conn_stats st;

    if (!srv->quiet && info) {
        tern_conn_get_stats(c, &st);
        printf("%s closed: %s%s%s error 0x%" PRIx64 "%s%s%s by %s; %" PRIu64
               " stream bytes sent, %" PRIu64 " packets lost, %" PRIu64
               " key updates; recovery: %" PRIu64 " packets sent, %" PRIu64
               " spurious losses, %" PRIu64 " reductions (%" PRIu64 " undone), %" PRIu64
               " persistent congestion, %" PRIu64 " PTOs; ECN: %" PRIu64 " packets marked, %" PRIu64
               " CE reported, %" PRIu64 " reductions from CE, %" PRIu64 " CE received; path MTU %" PRIu64
               ", %" PRIu64 " probes (%" PRIu64 " lost), %" PRIu64 " black holes\n",
               sc ? sc->peer : "?", info->status ? tern_strerror(info->status) : "",
               info->status ? ", " : "", info->app ? "application" : "transport", info->error_code,
               info->reason[0] ? " (" : "", info->reason, info->reason[0] ? ")" : "",
               info->local ? "us" : "the peer", st.stream_bytes_sent, st.pkts_lost, st.key_updates,
               st.pkts_sent, st.spurious_losses, st.congestion_events, st.congestion_undone,
               st.persistent_congestions, st.pto_count, st.ecn_sent, st.ecn_ce,
               st.ecn_ce_reductions, st.ecn_recv_ce, st.mtu, st.mtu_probes_sent,
               st.mtu_probes_lost, st.mtu_black_holes);
        fflush(stdout);
    }
    if (sc) {
        srv_conn_free(srv, sc);
        tern_conn_set_user_data(c, NULL);
    }
    srv_trim_note_close(&srv->trim);
}

static void on_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    server *srv = ud;
    srv_conn *sc = tern_conn_get_user_data(c);
    char from[64], to[64], local[96];

    if (srv->quiet || !sc || !ev->path)
        return;
    tern_addr_format(&ev->path->addr.remote, to, sizeof(to));
    switch (ev->type) {
    case TERN_PATH_EV_PEER_ADDRESS_CHANGED:
        if (ev->from)
            tern_addr_format(&ev->from->addr.remote, from, sizeof(from));
        else
            snprintf(from, sizeof(from), "%s", sc->peer);
        /* A client that moved to our preferred address reaches another of our addresses. */
        local[0] = '\0';
        if (ev->from && !tern_addr_equal(&ev->from->addr.local, &ev->path->addr.local)) {
            snprintf(local, sizeof(local), ", now at our ");
            tern_addr_format(&ev->path->addr.local, local + strlen(local),
                             sizeof(local) - strlen(local));
        }
        printf("%s peer address changed: %s -> %s, path %d%s\n", sc->peer, from, to, ev->path->id,
               local);
        /* Later lines name the connection by where the client is now. */
        snprintf(sc->peer, sizeof(sc->peer), "%s", to);
        break;
    case TERN_PATH_EV_ACTIVE:
        if (ev->reason == TERN_PATH_WHY_PEER_MIGRATED)
            return; /* PEER_ADDRESS_CHANGED follows and says it */
        printf("%s active path is now %d to %s (%s)\n", sc->peer, ev->path->id, to,
               tern_path_reason_str(ev->reason));
        snprintf(sc->peer, sizeof(sc->peer), "%s", to);
        break;
    case TERN_PATH_EV_FAILED:
        printf("%s path %d to %s failed: %s\n", sc->peer, ev->path->id, to,
               tern_path_reason_str(ev->reason));
        break;
    default:
        return;
    }
    fflush(stdout);
}

/* --datagram-echo: every datagram goes back as it came (one the queue cannot take now is lost,
 * as the network could have lost it). */
static void on_datagram(tern_conn *c, const uint8_t *data, size_t len, void *ud)
{
    server *srv = ud;
    if (srv->datagram_echo)
        (void)tern_conn_send_datagram(c, data, len, 0);
}

void srv_callbacks(tern_callbacks *cb)
{
    memset(cb, 0, sizeof(*cb));
    cb->on_datagram = on_datagram;
    cb->on_accept = on_accept;
    cb->on_connected = on_connected;
    cb->on_stream_open = on_stream_open;
    cb->on_stream_readable = on_stream_readable;
    cb->on_stream_writable = on_stream_writable;
    cb->on_stream_reset = on_stream_reset;
    cb->on_stream_stop_sending = on_stream_stop_sending;
    cb->on_closed = on_closed;
    cb->on_path_event = on_path_event;
}
