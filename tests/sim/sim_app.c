/* The download application of the simulator (see sim_app.h). */
#include "sim_app.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

/* ---- the bytes a server sends ------------------------------------------------------------------
 */

static uint64_t mix64(uint64_t z)
{
    z *= 0x9e3779b97f4a7c15ull; /* one multiply: cheap, so the cost measured is the core's */
    return z ^ (z >> 29);
}

static uint64_t gen_seed(int64_t sid)
{
    return 0x1234567ull ^ ((uint64_t)sid * 0x9e3779b97f4a7c15ull);
}

static void gen_fill(uint64_t seed, uint64_t off, uint8_t *out, size_t n)
{
    while (n) {
        uint64_t v = mix64(seed + off / 8);
        size_t k = off % 8, take = 8 - k < n ? 8 - k : n;
        for (size_t i = 0; i < take; i++) /* little-endian bytes of each block */
            out[i] = (uint8_t)(v >> (8 * (k + i)));
        out += take;
        off += take;
        n -= take;
    }
}

void sim_app_fill(int64_t sid, uint64_t off, uint8_t *out, size_t n)
{
    gen_fill(gen_seed(sid), off, out, n);
}

/* ---- client
 * -------------------------------------------------------------------------------------- */

static void tl_conn_event(sim *s, int kind, int who, int64_t a, int64_t b, const char *text)
{
    sim_tl_ev ev = {
        .kind = (uint16_t)kind, .node = -1, .who = (int8_t)who, .dir = -1, .a = a, .b = b};
    ev.t = sim_time(s);
    sim_tl_set_text(&ev, text);
    sim_tl_add(&s->tl, &ev);
}

static sim_cstream *find_cstream(sim *s, int64_t sid)
{
    for (int i = 0; i < s->ncs; i++)
        if (s->cs[i].sid == sid)
            return &s->cs[i];
    return NULL;
}

static void maybe_key_update(sim *s, tern_conn *c)
{
    if (!s->key_update_every)
        return;
    uint64_t got = sim_bytes_received(s);
    if (got < s->key_update_next)
        return;
    /* refused while the previous update is unacknowledged: tried again on the next read */
    if (tern_conn_key_update(c) == 0) {
        s->key_updates_started++;
        s->key_update_next = got + s->key_update_every;
        tl_conn_event(s, SIM_TL_NOTE, SIM_CLIENT, 0, 0, "client starts a key update");
    }
}

static void client_readable(tern_conn *c, int64_t sid, void *ud)
{
    sim *s = ud;
    sim_cstream *st = find_cstream(s, sid);
    uint8_t buf[16384], want[16384];
    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, buf, sizeof(buf), &fin);
        if (n < 0)
            break;
        if (st && n > 0) {
            gen_fill(st->gen, st->got, want, (size_t)n);
            if (memcmp(buf, want, (size_t)n) != 0)
                st->mismatch = 1;
            gnutls_hash((gnutls_hash_hd_t)st->hash_want, want, (size_t)n);
            gnutls_hash((gnutls_hash_hd_t)st->hash, buf, (size_t)n);
            st->got += (uint64_t)n;
            maybe_key_update(s, c);
        }
        if (fin) {
            if (st && !st->fin) {
                st->fin = 1;
                st->done_at = sim_time(s);
                gnutls_hash_output((gnutls_hash_hd_t)st->hash, st->sha_got);
                gnutls_hash_output((gnutls_hash_hd_t)st->hash_want, st->sha_want);
                int ok = !st->mismatch && st->got == st->want &&
                         memcmp(st->sha_got, st->sha_want, 32) == 0;
                tl_conn_event(s, SIM_TL_STREAM, SIM_CLIENT, sid, (int64_t)st->got,
                              ok ? "sha256 ok" : "MISMATCH");
            }
            break;
        }
        if (n == 0)
            break;
    }
}

static void client_connected(tern_conn *c, void *ud)
{
    sim *s = ud;
    (void)c;
    s->connected = 1;
    s->connected_at = sim_time(s);
    tl_conn_event(s, SIM_TL_CONNECTED, SIM_CLIENT, 0, 0, tern_conn_cipher(c));
    sim_app_flush_pending(s);
    if (s->on_connected)
        s->on_connected(s);
}

static void path_event(sim *s, int who, const tern_path_event *ev)
{
    char a[64] = "", b[64] = "", text[160];
    if (ev->path)
        tern_addr_format(who == SIM_CLIENT ? &ev->path->addr.local : &ev->path->addr.remote, a,
                         sizeof(a));
    if (ev->from)
        tern_addr_format(who == SIM_CLIENT ? &ev->from->addr.local : &ev->from->addr.remote, b,
                         sizeof(b));
    if (ev->from)
        snprintf(text, sizeof(text), "%s from %s", a, b);
    else
        snprintf(text, sizeof(text), "%s", a);
    if (ev->type > 0 && ev->type < 8)
        s->st.path_events[who][ev->type]++;
    tl_conn_event(s, SIM_TL_PATH, who, ev->type, ev->reason, text);
    sim_path_ev pe;
    memset(&pe, 0, sizeof(pe));
    pe.t = sim_time(s);
    pe.type = (int)ev->type;
    pe.reason = (int)ev->reason;
    pe.id = ev->path ? ev->path->id : -1;
    if (ev->path) {
        pe.validated = ev->path->validated;
        pe.addr = ev->path->addr;
        pe.cwnd = ev->path->cwnd;
    }
    if (ev->from) {
        pe.from = ev->from->addr;
        pe.from_cwnd = ev->from->cwnd;
    }
    pe.rtt_ns = ev->rtt_ns;
    if (!s->path_log[who] && !(s->path_log[who] = calloc(SIM_PATH_LOG, sizeof(sim_path_ev))))
        abort();
    if (s->npath_log[who] < SIM_PATH_LOG)
        s->path_log[who][s->npath_log[who]++] = pe;
    else
        s->path_log_lost[who]++;
    if (s->on_path_event)
        s->on_path_event(s, who, &pe);
}

static void client_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    (void)c;
    path_event(ud, SIM_CLIENT, ev);
}

/* Datagrams go to the scenario's hooks, if any. Both sides' callbacks get the simulator as their
 * user data; the connection says which side it is. */
static int side_of(const sim *s, const tern_conn *c)
{
    return c == s->client ? SIM_CLIENT : SIM_SERVER;
}

static void app_datagram(tern_conn *c, const uint8_t *data, size_t len, void *ud)
{
    sim *s = ud;
    if (s->on_datagram)
        s->on_datagram(s, side_of(s, c), c, data, len);
}

static void app_datagram_acked(tern_conn *c, uint64_t tag, void *ud)
{
    sim *s = ud;
    if (s->on_datagram_outcome)
        s->on_datagram_outcome(s, side_of(s, c), c, tag, 1);
}

static void app_datagram_lost(tern_conn *c, uint64_t tag, void *ud)
{
    sim *s = ud;
    if (s->on_datagram_outcome)
        s->on_datagram_outcome(s, side_of(s, c), c, tag, 0);
}

static void client_ticket(tern_conn *c, const uint8_t *blob, size_t len, void *ud)
{
    sim *s = ud;
    (void)c;
    s->tickets++;
    if (len <= sizeof(s->ticket)) {
        memcpy(s->ticket, blob, len);
        s->ticket_len = len;
    }
}

const tern_callbacks sim_app_client_cb = {
    .on_datagram = app_datagram,
    .on_datagram_acked = app_datagram_acked,
    .on_datagram_lost = app_datagram_lost,
    .on_connected = client_connected,
    .on_stream_readable = client_readable,
    .on_path_event = client_path_event,
    .on_session_ticket = client_ticket,
};

int sim_app_open(sim *s, uint64_t bytes)
{
    if (!s->client || s->ncs == SIM_MAX_STREAMS)
        return -1;
    int64_t sid;
    if (tern_conn_open_stream(s->client, 1, &sid))
        return -1;
    sim_cstream *st = &s->cs[s->ncs];
    memset(st, 0, sizeof(*st));
    st->sid = sid;
    st->want = bytes;
    st->gen = gen_seed(sid);
    st->opened_at = sim_time(s);
    if (gnutls_hash_init((gnutls_hash_hd_t *)&st->hash, GNUTLS_DIG_SHA256) ||
        gnutls_hash_init((gnutls_hash_hd_t *)&st->hash_want, GNUTLS_DIG_SHA256))
        abort();
    uint8_t req[8];
    for (int k = 0; k < 8; k++)
        req[k] = (uint8_t)(bytes >> (56 - 8 * k));
    s->ncs++;
    if (tern_stream_write(s->client, sid, req, 8, 1) != 8)
        return -1;
    return 0;
}

void sim_app_flush_pending(sim *s)
{
    int n = s->npending;
    s->npending = 0;
    for (int i = 0; i < n; i++)
        (void)sim_app_open(s, s->pending_req[i]);
}

void sim_app_free(sim *s)
{
    for (int i = 0; i < s->ncs; i++) {
        if (s->cs[i].hash)
            gnutls_hash_deinit((gnutls_hash_hd_t)s->cs[i].hash, NULL);
        if (s->cs[i].hash_want)
            gnutls_hash_deinit((gnutls_hash_hd_t)s->cs[i].hash_want, NULL);
    }
    s->ncs = 0;
}

/* ---- server
 * -------------------------------------------------------------------------------------- */

static void server_fill(tern_conn *c, sim_sstream *st)
{
    uint8_t buf[16384];
    while (st->left > 0) {
        size_t n = st->left < sizeof(buf) ? (size_t)st->left : sizeof(buf);
        size_t room = tern_stream_writable(c, st->sid);
        if (room == 0)
            return;
        if (n > room)
            n = room;
        gen_fill(st->gen, st->total - st->left, buf, n);
        ssize_t w = tern_stream_write(c, st->sid, buf, n, n == st->left);
        if (w <= 0)
            return;
        st->left -= (uint64_t)w;
    }
}

static sim_sstream *server_stream(sim_sconn *sc, int64_t sid)
{
    for (int i = 0; i < sc->nst; i++)
        if (sc->st[i].sid == sid)
            return &sc->st[i];
    if (!sc->st) {
        sc->st = calloc(SIM_MAX_STREAMS, sizeof(*sc->st));
        if (!sc->st)
            abort();
    }
    if (sc->nst == SIM_MAX_STREAMS)
        return NULL;
    sim_sstream *st = &sc->st[sc->nst++];
    memset(st, 0, sizeof(*st));
    st->sid = sid;
    st->gen = gen_seed(sid);
    return st;
}

static void server_readable(tern_conn *c, int64_t sid, void *ud)
{
    sim_sconn *sc = tern_conn_get_driver_data(c);
    (void)ud;
    sim_sstream *st = sc ? server_stream(sc, sid) : NULL;
    if (!st)
        return;
    for (;;) {
        uint8_t tmp[64];
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, tmp, sizeof(tmp), &fin);
        if (n < 0)
            break;
        for (ssize_t k = 0; k < n && st->req_len < 8; k++)
            st->req[st->req_len++] = tmp[k];
        if (fin && !st->responding && st->req_len == 8) {
            uint64_t want = 0;
            for (int k = 0; k < 8; k++)
                want = want << 8 | st->req[k];
            st->left = st->total = want;
            st->responding = 1;
            if (want == 0)
                (void)tern_stream_write(c, sid, NULL, 0, 1);
            server_fill(c, st);
        }
        if (fin || n == 0)
            break;
    }
}

static void server_writable(tern_conn *c, int64_t sid, void *ud)
{
    sim_sconn *sc = tern_conn_get_driver_data(c);
    (void)ud;
    if (!sc)
        return;
    for (int i = 0; i < sc->nst; i++)
        if (sc->st[i].sid == sid && sc->st[i].responding)
            server_fill(c, &sc->st[i]);
}

static void server_connected(tern_conn *c, void *ud)
{
    sim *s = ud;
    sim_sconn *sc = tern_conn_get_driver_data(c);
    if (sc)
        sc->connected = 1;
    if (!s->server_connected) {
        s->server_connected = 1;
        s->server_connected_at = sim_time(s);
    }
    tl_conn_event(s, SIM_TL_CONNECTED, SIM_SERVER, sc ? sc->num : 0, 0, tern_conn_cipher(c));
}

static void server_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    (void)c;
    path_event(ud, SIM_SERVER, ev);
}

const tern_callbacks sim_app_server_cb = {
    .on_datagram = app_datagram,
    .on_datagram_acked = app_datagram_acked,
    .on_datagram_lost = app_datagram_lost,
    .on_connected = server_connected,
    .on_stream_readable = server_readable,
    .on_stream_writable = server_writable,
    .on_path_event = server_path_event,
};

void sim_app_sconn_free(sim_sconn *sc)
{
    free(sc->st);
    sc->st = NULL;
    sc->nst = 0;
}
