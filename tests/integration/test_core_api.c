/* The public sans-I/O API (tern/core.h) as an application that owns its sockets uses it, with
 * only the public headers: a client and a tern_core_server wired together in memory (a wire with
 * a fixed one-way delay, virtual time), a full handshake, a download whose SHA-256 is checked,
 * GSO-shaped batches, a client migration through the path verbs in the middle of a download, the
 * front door's stateless answers (Version Negotiation, Retry, stateless reset) and drops, its
 * bounds on handshakes in progress, NEW_TOKEN tokens (a second connection skips Retry and the
 * amplification limit), and the errors for bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#include "corefx.h"
#include "tern/core.h"
#include "tern/tern.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define DELAY (5 * MS)
#define MAXQ 4096
#define BATCH 16
#define SEG_MAX 8972 /* max_udp_payload's default: no interface MTU is given here */

/* ---- the wire: datagrams in flight, delivered after DELAY ------------------------------------ */
typedef struct dgram {
    tern_tstamp at;
    int to_server;
    tern_path_addr path; /* as sent: local = source, remote = destination */
    int ecn;             /* the codepoint it was sent with (delivered with it) */
    size_t len;
    uint8_t data[SEG_MAX];
} dgram;

typedef struct world {
    uint64_t seed;
    tern_tstamp now;
    tern_conn *client;
    tern_core_server *server;
    tern_conn *sconn; /* the server's connection (one per test) */
    dgram *q;
    size_t nq;
    /* client */
    int connected;
    int64_t sid;
    gnutls_hash_hd_t hash;
    size_t got;
    int fin;
    tern_addr drop_from; /* the client's old network: datagrams from/to it are lost once set */
    int path_events[8];
    /* server application: answers a request with `size` bytes of a deterministic pattern */
    size_t size;
    size_t sent;
    int64_t ssid;
    /* batches */
    size_t batches, multi_batches, max_count;
    /* ECN: the connections are driven with tern_core_send_ecn; batches by codepoint, each side */
    int use_ecn;
    size_t ecn_batches[2][4];
    int replies[8]; /* the front door's stateless replies by TERN_CORE_REPLY_* */
    size_t server_mtu; /* told to the server's connection when accepted (0: nothing) */
    size_t largest[2]; /* largest datagram sent, to the client [0] and to the server [1] */
    size_t server_cap; /* the server's send buffer (0: BATCH * SEG_MAX) */
    /* the latest resumption blob the client got */
    uint8_t ticket[20000];
    size_t ticket_len;
    /* NEW_TOKEN: the last token the client got, how many, and a client whose datagrams are lost
     * after its first (the server's bytes to it are counted) */
    uint8_t token[512];
    size_t token_len;
    int tokens;
    int mute_client;
    size_t client_dgrams, to_client_bytes;
    int close_on_connect; /* the client closes as soon as it is connected */
} world;

static void pattern(size_t off, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t x = off + i;
        buf[i] = (uint8_t)(x * 2654435761u >> 13);
    }
}

static void expected_hash(size_t size, uint8_t out[32])
{
    gnutls_hash_hd_t h;
    assert_int_equal(gnutls_hash_init(&h, GNUTLS_DIG_SHA256), 0);
    uint8_t buf[4096];
    for (size_t off = 0; off < size; off += sizeof(buf)) {
        size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
        pattern(off, buf, n);
        gnutls_hash(h, buf, n);
    }
    gnutls_hash_deinit(h, out);
}

static void server_write(world *w, tern_conn *c)
{
    uint8_t buf[16384];
    while (w->sent < w->size) {
        size_t n = w->size - w->sent < sizeof(buf) ? w->size - w->sent : sizeof(buf);
        pattern(w->sent, buf, n);
        ssize_t k = tern_stream_write(c, w->ssid, buf, n, w->sent + n == w->size);
        if (k <= 0)
            return; /* WOULD_BLOCK: on_stream_writable resumes */
        w->sent += (size_t)k;
    }
}

static void on_readable(tern_conn *c, int64_t sid, void *ud)
{
    world *w = ud;
    uint8_t buf[65536];
    int fin = 0;
    if (tern_conn_is_server(c)) {
        ssize_t n;
        while ((n = tern_stream_read(c, sid, buf, sizeof(buf), &fin)) > 0 || (n == 0 && !fin)) {
            if (n == 0)
                break;
        }
        if (fin) {
            w->ssid = sid;
            server_write(w, c);
        }
        return;
    }
    for (;;) {
        ssize_t n = tern_stream_read(c, sid, buf, sizeof(buf), &fin);
        if (n < 0)
            return;
        gnutls_hash(w->hash, buf, (size_t)n);
        w->got += (size_t)n;
        if (fin) {
            w->fin = 1;
            return;
        }
        if (n == 0)
            return;
    }
}

static void on_writable(tern_conn *c, int64_t sid, void *ud)
{
    world *w = ud;
    if (tern_conn_is_server(c) && sid == w->ssid)
        server_write(w, c);
}

static void on_connected(tern_conn *c, void *ud)
{
    world *w = ud;
    if (!tern_conn_is_server(c)) {
        w->connected = 1;
        if (w->close_on_connect)
            assert_int_equal(tern_conn_close(c, 0, "seen"), 0);
    }
}

static void on_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    world *w = ud;
    if (!tern_conn_is_server(c) && ev->type < 8)
        w->path_events[ev->type]++;
}

static void on_session_ticket(tern_conn *c, const uint8_t *blob, size_t len, void *ud)
{
    world *w = ud;
    (void)c;
    assert_true(len <= sizeof(w->ticket));
    memcpy(w->ticket, blob, len);
    w->ticket_len = len;
}

static void on_new_token(tern_conn *c, const uint8_t *token, size_t len, void *ud)
{
    world *w = ud;
    assert_false(tern_conn_is_server(c));
    assert_true(len > 0 && len <= sizeof(w->token));
    memcpy(w->token, token, len);
    w->token_len = len;
    w->tokens++;
}

static tern_callbacks callbacks(void)
{
    tern_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.on_session_ticket = on_session_ticket;
    cb.on_new_token = on_new_token;
    cb.on_connected = on_connected;
    cb.on_stream_readable = on_readable;
    cb.on_stream_writable = on_writable;
    cb.on_path_event = on_path_event;
    return cb;
}

static void push(world *w, int to_server, const tern_path_addr *path, int ecn, const uint8_t *d,
                 size_t len)
{
    if (w->drop_from.len && (tern_addr_equal(&path->local, &w->drop_from) ||
                             tern_addr_equal(&path->remote, &w->drop_from)))
        return;
    if (to_server && w->mute_client && w->client_dgrams++ > 0)
        return;
    if (!to_server)
        w->to_client_bytes += len;
    assert_true(w->nq < MAXQ);
    assert_true(len <= SEG_MAX);
    dgram *g = &w->q[w->nq++];
    g->at = w->now + DELAY;
    g->to_server = to_server;
    g->path = *path;
    g->ecn = ecn;
    g->len = len;
    memcpy(g->data, d, len);
}

/* Pulls every batch a connection has now and puts its datagrams on the wire, checking the shape
 * tern_core_send promises: count datagrams of seg bytes, the last one possibly shorter. */
static void pump(world *w, tern_conn *c, int to_server)
{
    uint8_t buf[BATCH * SEG_MAX];
    for (;;) {
        tern_path_addr path;
        size_t seg = 0, count = 0;
        size_t cap = !to_server && w->server_cap ? w->server_cap : sizeof(buf);
        int ecn = TERN_ECN_NOT_ECT;
        ssize_t n = w->use_ecn ? tern_core_send_ecn(c, buf, cap, BATCH, &path, &seg, &count, &ecn,
                                                    w->now)
                               : tern_core_send(c, buf, cap, BATCH, &path, &seg, &count, w->now);
        assert_true(n >= 0);
        if (n == 0) {
            assert_int_equal(count, 0);
            return;
        }
        assert_true(count >= 1 && count <= BATCH && seg > 0 && seg <= SEG_MAX);
        assert_true((size_t)n > (count - 1) * seg && (size_t)n <= count * seg);
        w->batches++;
        assert_true(ecn == TERN_ECN_NOT_ECT || ecn == TERN_ECN_ECT0);
        w->ecn_batches[to_server][ecn]++;
        if (count > 1)
            w->multi_batches++;
        if (count > w->max_count)
            w->max_count = count;
        if (seg > w->largest[to_server])
            w->largest[to_server] = seg;
        for (size_t i = 0; i < count; i++) {
            size_t off = i * seg;
            size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;
            push(w, to_server, &path, ecn, buf + off, len);
        }
    }
}

static tern_tstamp next_time(world *w)
{
    tern_tstamp t = tern_core_next_timeout(w->client);
    if (w->sconn && tern_core_next_timeout(w->sconn) < t)
        t = tern_core_next_timeout(w->sconn);
    for (size_t i = 0; i < w->nq; i++)
        if (w->q[i].at < t)
            t = w->q[i].at;
    return t;
}

/* Delivers what is due, runs timers, sends; the server side goes through the front door. */
static void step(world *w)
{
    for (size_t i = 0; i < w->nq;) {
        dgram *g = &w->q[i];
        if (g->at > w->now) {
            i++;
            continue;
        }
        dgram d = *g;
        *g = w->q[--w->nq];
        /* as the receiver sees it: local = where it arrived, remote = its source */
        tern_path_addr in = {.local = d.path.remote, .remote = d.path.local};
        if (d.to_server) {
            uint8_t reply[TERN_CORE_REPLY_MAX];
            size_t rlen;
            int kind;
            tern_conn *c;
            int v = tern_core_server_recv(w->server, &in, d.data, d.len, d.ecn, w->now, reply,
                                          sizeof(reply), &rlen, &kind, &c);
            assert_true(v >= 0);
            if (v == TERN_CORE_ACCEPTED) {
                assert_null(w->sconn);
                w->sconn = c;
                if (w->server_mtu)
                    assert_int_equal(tern_core_path_mtu(c, &in, w->server_mtu, w->now), 0);
            }
            if (v == TERN_CORE_ROUTED || v == TERN_CORE_ACCEPTED)
                assert_ptr_equal(c, w->sconn);
            if (v == TERN_CORE_REPLY) {
                w->replies[kind]++;
                push(w, 0, &in, TERN_ECN_NOT_ECT, reply, rlen);
            }
        } else {
            int rv = tern_core_recv(w->client, &in, d.data, d.len, d.ecn, w->now);
            assert_true(rv == 0 || rv == TERN_ERR_CLOSED);
        }
    }
    if (tern_core_next_timeout(w->client) <= w->now)
        assert_int_equal(tern_core_on_timeout(w->client, w->now), 0);
    if (w->sconn && tern_core_next_timeout(w->sconn) <= w->now)
        assert_int_equal(tern_core_on_timeout(w->sconn, w->now), 0);
    pump(w, w->client, 1);
    if (w->sconn)
        pump(w, w->sconn, 0);
}

/* Runs until cond holds or `limit` of virtual time passed. */
static int run(world *w, int (*cond)(world *), tern_tstamp limit)
{
    tern_tstamp end = w->now + limit;
    step(w);
    while (!cond(w)) {
        tern_tstamp t = next_time(w);
        if (t == TERN_TS_INF || t > end)
            return 0;
        if (t > w->now)
            w->now = t;
        step(w);
    }
    return 1;
}

static int connected(world *w)
{
    return w->connected && w->sconn;
}
static int downloaded(world *w)
{
    return w->fin;
}
static int half_way(world *w)
{
    return w->got >= w->size / 2;
}

/* A world whose server runs with `scfg`. */
static void world_init_cfg(world *w, uint64_t seed, const tern_config *scfg)
{
    memset(w, 0, sizeof(*w));
    w->seed = seed;
    w->now = 1 * SEC;
    w->q = calloc(MAXQ, sizeof(dgram));
    assert_non_null(w->q);
    tern_callbacks cb = callbacks();
    tern_config ccfg;
    assert_int_equal(tern_core_server_new(scfg, &cb, w, corefx_rand, &w->seed, &w->server), 0);
    corefx_client_config(&ccfg);
    tern_path_addr path = {.local = corefx_addr("10.0.0.1:40000"),
                           .remote = corefx_addr("10.0.0.9:443")};
    assert_int_equal(tern_core_client_new(&ccfg, &cb, w, &path, "localhost", corefx_rand, &w->seed,
                                          w->now, &w->client),
                     0);
    assert_int_equal(gnutls_hash_init(&w->hash, GNUTLS_DIG_SHA256), 0);
}

static void world_init(world *w, uint64_t seed, int retry)
{
    tern_config scfg;
    corefx_server_config(&scfg);
    scfg.retry = retry;
    world_init_cfg(w, seed, &scfg);
}

static void world_free(world *w)
{
    uint8_t discard[32];
    gnutls_hash_deinit(w->hash, discard);
    tern_core_conn_free(w->client);
    tern_core_server_free(w->server); /* frees sconn too */
    free(w->q);
}

static void request(world *w, size_t size)
{
    w->size = size;
    assert_int_equal(tern_conn_open_stream(w->client, 1, &w->sid), 0);
    static const char req[] = "GET /file\r\n";
    assert_int_equal(tern_stream_write(w->client, w->sid, req, sizeof(req) - 1, 1),
                     (ssize_t)(sizeof(req) - 1));
}

static void check_hash(world *w)
{
    uint8_t got[32], want[32];
    gnutls_hash_output(w->hash, got);
    expected_hash(w->size, want);
    assert_int_equal(w->got, w->size);
    assert_memory_equal(got, want, 32);
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_handshake_download(void **st)
{
    world w;
    world_init(&w, 11, 0);
    assert_int_equal(tern_core_state(w.client), TERN_CORE_HANDSHAKE);
    assert_true(run(&w, connected, 5 * SEC));
    assert_int_equal(tern_core_state(w.client), TERN_CORE_ESTABLISHED);
    assert_string_equal(tern_conn_alpn(w.client), "hq-interop");
    assert_int_equal(tern_core_server_conn_count(w.server), 1);
    assert_int_equal(tern_conn_is_server(w.sconn), 1);

    request(&w, 3 * 1000 * 1000 + 17);
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    print_message("download: %zu batches, %zu of several datagrams, up to %zu; %.3f s virtual\n",
                  w.batches, w.multi_batches, w.max_count, (double)(w.now - 1 * SEC) / 1e9);
    /* the server's data left in GSO-shaped batches of several datagrams */
    assert_true(w.multi_batches > 0);
    assert_true(w.max_count >= 4);

    /* a clean close: CLOSING on this side, DRAINING on the peer's, then CLOSED for both */
    assert_int_equal(tern_conn_close(w.client, 0, "bye"), 0);
    assert_int_equal(tern_core_state(w.client), TERN_CORE_CLOSING);
    step(&w);
    w.now += DELAY;
    step(&w);
    assert_int_equal(tern_core_state(w.sconn), TERN_CORE_DRAINING);
    assert_string_equal(tern_core_close_info(w.sconn)->reason, "bye");
    assert_int_equal(tern_core_close_info(w.sconn)->local, 0);
    w.now += 10 * SEC;
    step(&w);
    assert_int_equal(tern_core_state(w.client), TERN_CORE_CLOSED);
    assert_int_equal(tern_core_state(w.sconn), TERN_CORE_CLOSED);
    /* over (the closing and the draining period ended): no timer is left, so a driver that
     * keeps the connection a while does not wake for it, and running the timers changes
     * nothing */
    assert_true(tern_core_next_timeout(w.client) == TERN_TS_INF);
    assert_true(tern_core_next_timeout(w.sconn) == TERN_TS_INF);
    assert_int_equal(tern_core_on_timeout(w.client, w.now), 0);
    assert_int_equal(tern_core_on_timeout(w.sconn, w.now), 0);
    assert_true(tern_core_next_timeout(w.client) == TERN_TS_INF);
    assert_true(tern_core_next_timeout(w.sconn) == TERN_TS_INF);
    assert_int_equal(tern_core_close_info(w.client)->local, 1);
    /* the caller frees a server connection: the server no longer routes to it */
    tern_core_conn_free(w.sconn);
    w.sconn = NULL;
    assert_int_equal(tern_core_server_conn_count(w.server), 0);
    world_free(&w);
}

/* A driver that marks what tern_core_send_ecn says: both paths validate ECN (the first batches
 * ECT(0) while testing, all of them once capable), each receiver counts the marks and reports
 * them, and plain tern_core_send leaves everything Not-ECT without counting it as marked. */
static void test_ecn_batches(void **st)
{
    world w;
    world_init(&w, 12, 0);
    w.use_ecn = 1;
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 2 * 1000 * 1000);
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    tern_conn_stats cs, ss;
    assert_int_equal(tern_conn_get_stats(w.client, &cs), 0);
    assert_int_equal(tern_conn_get_stats(w.sconn, &ss), 0);
    print_message("ECN: server batches ECT(0) %zu, Not-ECT %zu; client counted %llu ECT(0)\n",
                  w.ecn_batches[0][TERN_ECN_ECT0], w.ecn_batches[0][TERN_ECN_NOT_ECT],
                  (unsigned long long)cs.ecn_recv_ect0);
    assert_int_equal(ss.ecn_state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(cs.ecn_state, TERN_ECN_STATE_CAPABLE);
    /* a download of 2 MB is over 200 packets; at most a test's worth went out unmarked */
    assert_true(ss.ecn_sent > 200); /* 2 MB in datagrams of up to 8972 bytes */
    assert_true(w.ecn_batches[0][TERN_ECN_ECT0] > 10 * w.ecn_batches[0][TERN_ECN_NOT_ECT]);
    assert_true(cs.ecn_recv_ect0 >= ss.ecn_sent - 20 && cs.ecn_recv_ect0 <= ss.ecn_sent);
    assert_int_equal(cs.ecn_recv_ce + cs.ecn_recv_ect1 + ss.ecn_ce + ss.ecn_ce_reductions, 0);
    tern_path_info pi;
    size_t n = 0;
    assert_int_equal(tern_conn_paths(w.sconn, &pi, 1, &n), 0);
    assert_int_equal(pi.ecn_state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(pi.ecn_sent, ss.ecn_sent);
    assert_int_equal(pi.ecn_recv_ect0, ss.ecn_recv_ect0);
    world_free(&w);

    /* the same without marks */
    world_init(&w, 12, 0);
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 200 * 1000);
    assert_true(run(&w, downloaded, 30 * SEC));
    assert_int_equal(tern_conn_get_stats(w.sconn, &ss), 0);
    assert_int_equal(ss.ecn_sent, 0);
    assert_int_equal(ss.ecn_recv_ect0, 0);
    assert_int_equal(ss.ecn_state, TERN_ECN_STATE_TESTING);
    assert_int_equal(w.ecn_batches[0][TERN_ECN_ECT0] + w.ecn_batches[1][TERN_ECN_ECT0], 0);
    world_free(&w);
}

/* The caller tells each side the MTU of its interface (tern_core_path_mtu): each path's search
 * stops there, and no datagram is larger. */
static void test_path_mtu(void **st)
{
    (void)st;
    world w;
    world_init(&w, 13, 0);
    tern_path_addr cp = {.local = corefx_addr("10.0.0.1:40000"),
                         .remote = corefx_addr("10.0.0.9:443")};
    tern_path_addr other = {.local = corefx_addr("10.0.0.1:40001"), .remote = cp.remote};
    assert_int_equal(tern_core_path_mtu(NULL, &cp, 1252, w.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_mtu(w.client, NULL, 1252, w.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_mtu(w.client, &other, 1252, w.now), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_mtu(w.client, &cp, 1252, w.now), 0);
    w.server_mtu = 1352;
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 1000 * 1000);
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    tern_conn_stats ss, cs;
    assert_int_equal(tern_conn_get_stats(w.sconn, &ss), 0);
    assert_int_equal(tern_conn_get_stats(w.client, &cs), 0);
    assert_int_equal(ss.mtu, 1352);
    assert_int_equal(cs.mtu, 1252);
    assert_int_equal(w.largest[0], 1352); /* found and used, never more */
    assert_true(w.largest[1] <= 1252);
    tern_path_info pi[4];
    size_t n = 0;
    assert_int_equal(tern_conn_paths(w.client, pi, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pi[0].mtu, 1252);
    assert_int_equal(pi[0].mtu_max, 1252);
    world_free(&w);
}

/* A server whose send buffer holds less than the search's maximum: its path stops at the buffer's
 * size instead of probing sizes it could never send. */
static void test_path_mtu_small_buffer(void **st)
{
    (void)st;
    world w;
    world_init(&w, 14, 0);
    w.server_cap = 1400;
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 500 * 1000);
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    tern_conn_stats ss;
    assert_int_equal(tern_conn_get_stats(w.sconn, &ss), 0);
    assert_int_equal(ss.mtu, 1400);
    assert_int_equal(w.largest[0], 1400);
    world_free(&w);
}

/* A second client resumes the first one's session through tern_core_client_new_session and sends
 * its request in 0-RTT, which a server configured with early_data accepts. */
static void test_resumption_zero_rtt(void **st)
{
    world w;
    world_init(&w, 21, 0);
    tern_core_server_free(w.server);
    tern_callbacks cb = callbacks();
    tern_config scfg, ccfg;
    corefx_server_config(&scfg);
    scfg.early_data = 1;
    assert_int_equal(tern_core_server_new(&scfg, &cb, &w, corefx_rand, &w.seed, &w.server), 0);
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 5000);
    assert_true(run(&w, downloaded, 5 * SEC));
    check_hash(&w);
    assert_int_equal(tern_conn_resumed(w.client), 0);
    assert_true(w.ticket_len > 0);

    /* a new connection from the same application */
    tern_core_conn_free(w.client);
    tern_core_conn_free(w.sconn);
    w.client = w.sconn = NULL;
    w.nq = 0;
    w.connected = w.fin = 0;
    w.got = w.sent = 0;
    uint8_t discard[32];
    gnutls_hash_deinit(w.hash, discard);
    assert_int_equal(gnutls_hash_init(&w.hash, GNUTLS_DIG_SHA256), 0);
    corefx_client_config(&ccfg);
    tern_path_addr path = {.local = corefx_addr("10.0.0.1:40001"),
                           .remote = corefx_addr("10.0.0.9:443")};
    tern_conn *c = (tern_conn *)&w; /* must be cleared on failure */
    assert_int_equal(tern_core_client_new_session(&ccfg, &cb, &w, &path, "localhost", corefx_rand,
                                                  &w.seed, w.now, NULL, 10, 0, &c),
                     TERN_ERR_SESSION);
    assert_null(c);
    assert_int_equal(tern_core_client_new_session(&ccfg, &cb, &w, &path, "localhost", corefx_rand,
                                                  &w.seed, w.now, w.ticket, w.ticket_len - 1,
                                                  TERN_CONNECT_EARLY_DATA, &c),
                     TERN_ERR_SESSION);
    assert_int_equal(tern_core_client_new_session(&ccfg, &cb, &w, &path, "localhost", corefx_rand,
                                                  &w.seed, w.now, w.ticket, w.ticket_len,
                                                  TERN_CONNECT_EARLY_DATA, &w.client),
                     0);
    assert_int_equal(tern_conn_early_data(w.client), TERN_EARLY_DATA_PENDING);
    request(&w, 7000); /* before anything was sent */
    assert_true(run(&w, downloaded, 5 * SEC));
    check_hash(&w);
    assert_int_equal(tern_conn_resumed(w.client), 1);
    assert_int_equal(tern_conn_resumed(w.sconn), 1);
    assert_int_equal(tern_conn_early_data(w.client), TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(tern_conn_early_data(w.sconn), TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(tern_conn_early_data(NULL), TERN_EARLY_DATA_NONE);
    assert_int_equal(tern_conn_resumed(NULL), 0);
    world_free(&w);
}

/* The client moves to a new local address through the path verbs in the middle of a download;
 * its old network then dies (everything to or from it is lost): the download completes on the
 * new path, and the server follows the client there. */
static void test_migration(void **st)
{
    world w;
    world_init(&w, 12, 0);
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 2 * 1000 * 1000);
    assert_true(run(&w, half_way, 30 * SEC));
    tern_addr old = corefx_addr("10.0.0.1:40000"), wifi = corefx_addr("10.0.0.2:40001");
    int id = tern_core_path_add(w.client, &wifi, w.now);
    assert_true(id > 0);
    assert_int_equal(tern_core_path_add(w.client, &wifi, w.now), TERN_ERR_DUPLICATE);
    assert_int_equal(tern_core_path_set_active(w.client, &wifi, w.now), id);
    w.drop_from = old;
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    assert_true(w.path_events[TERN_PATH_EV_VALIDATED] >= 1);
    assert_true(w.path_events[TERN_PATH_EV_ACTIVE] >= 1);
    tern_path_addr cp, sp;
    tern_conn_get_path(w.client, &cp);
    tern_conn_get_path(w.sconn, &sp);
    assert_true(tern_addr_equal(&cp.local, &wifi));
    assert_true(tern_addr_equal(&sp.remote, &wifi));
    /* one NEW_TOKEN after the handshake, and one bound to the new address after the move */
    assert_int_equal(w.tokens, 2);
    /* the old path goes; the last one cannot */
    assert_int_equal(tern_core_path_remove(w.client, &old, w.now), 0);
    assert_int_equal(tern_core_path_remove(w.client, &wifi, w.now), TERN_ERR_LAST_PATH);
    assert_int_equal(tern_core_path_error(w.client, &old, TERN_PATH_WHY_SOCKET_ERROR, w.now),
                     TERN_ERR_NOT_FOUND);
    /* a server does not migrate by itself */
    assert_int_equal(tern_core_path_add(w.sconn, &wifi, w.now), TERN_ERR_NOT_CLIENT);
    world_free(&w);
}

static int client_closed(world *w)
{
    return tern_core_state(w->client) >= TERN_CORE_DRAINING;
}

/* The server loses a connection's state (the application freed it); the client's next packets
 * reach the front door for an unknown CID, which answers with a stateless reset under the same
 * key the connection's tokens came from: the client recognises it and ends at once. */
static void test_stateless_reset_ends_client(void **st)
{
    world w;
    world_init(&w, 17, 0);
    assert_true(run(&w, connected, 5 * SEC));
    request(&w, 100 * 1000);
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    tern_core_conn_free(w.sconn);
    w.sconn = NULL;
    assert_int_equal(tern_core_server_conn_count(w.server), 0);
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(w.client, 1, &sid), 0);
    assert_int_equal(tern_stream_write(w.client, sid, "GET /again\r\n", 12, 1), 12);
    assert_true(run(&w, client_closed, 5 * SEC));
    assert_true(w.replies[TERN_CORE_REPLY_RESET] >= 1);
    assert_int_equal(tern_core_close_info(w.client)->status, TERN_ERR_STATELESS_RESET);
    /* nothing more leaves the client (RFC 9000 §10.3.1) */
    size_t before = w.nq;
    step(&w);
    assert_int_equal(w.nq, before);
    assert_true(tern_core_state(w.client) >= TERN_CORE_DRAINING);
    world_free(&w);
}

static int ask(tern_core_server *s, const char *from, uint8_t *d, size_t len, tern_tstamp now,
               uint8_t *reply, size_t *rlen, int *kind, tern_conn **c)
{
    tern_path_addr in = {.local = corefx_addr("10.0.0.9:443"), .remote = corefx_addr(from)};
    return tern_core_server_recv(s, &in, d, len, 0, now, reply, TERN_CORE_REPLY_MAX, rlen, kind, c);
}

static void test_front_door(void **st)
{
    uint64_t seed = 13;
    tern_config cfg;
    corefx_server_config(&cfg);
    tern_core_server *s;
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s), 0);
    uint8_t d[1300], reply[TERN_CORE_REPLY_MAX];
    size_t rlen;
    int kind;
    tern_conn *c;

    /* an unknown version in 1200 bytes: Version Negotiation listing v1, echoing the CIDs */
    memset(d, 0, sizeof(d));
    d[0] = 0xc0;
    d[1] = 0x1a, d[2] = 0x2a, d[3] = 0x3a, d[4] = 0x4a;
    d[5] = 8;
    memcpy(d + 6, "DCIDDCID", 8);
    d[14] = 4;
    memcpy(d + 15, "SCID", 4);
    assert_int_equal(ask(s, "10.0.0.5:5000", d, 1200, SEC, reply, &rlen, &kind, &c),
                     TERN_CORE_REPLY);
    assert_int_equal(kind, TERN_CORE_REPLY_VN);
    assert_null(c);
    assert_true(rlen >= 7 + 8 + 4 + 4);
    assert_true(reply[0] & 0x80);
    assert_memory_equal(reply + 1, "\0\0\0\0", 4);
    assert_int_equal(reply[5], 4); /* DCID = the client's SCID */
    assert_memory_equal(reply + 6, "SCID", 4);
    assert_int_equal(reply[10], 8);
    assert_memory_equal(reply + 11, "DCIDDCID", 8);
    int has_v1 = 0;
    for (size_t off = 19; off + 4 <= rlen; off += 4)
        has_v1 |= memcmp(reply + off, "\0\0\0\1", 4) == 0;
    assert_true(has_v1);
    /* ... but not in a small datagram (no amplification) */
    assert_int_equal(ask(s, "10.0.0.5:5000", d, 1000, SEC, reply, &rlen, &kind, &c),
                     TERN_CORE_DROPPED);

    /* a short header for no connection: a stateless reset, smaller than what triggered it */
    uint8_t sh[100];
    corefx_rand(&seed, sh, sizeof(sh));
    sh[0] = 0x40 | (sh[0] & 0x3f);
    assert_int_equal(ask(s, "10.0.0.5:5000", sh, sizeof(sh), SEC, reply, &rlen, &kind, &c),
                     TERN_CORE_REPLY);
    assert_int_equal(kind, TERN_CORE_REPLY_RESET);
    assert_true(rlen >= 21 && rlen < sizeof(sh));
    assert_int_equal(reply[0] & 0xc0, 0x40);
    /* too short to answer without a reset loop */
    assert_int_equal(ask(s, "10.0.0.5:5000", sh, 21, SEC, reply, &rlen, &kind, &c),
                     TERN_CORE_DROPPED);
    /* a reply that does not fit the caller's buffer is dropped, not truncated */
    tern_path_addr in = {.local = corefx_addr("10.0.0.9:443"),
                         .remote = corefx_addr("10.0.0.5:5000")};
    assert_int_equal(
        tern_core_server_recv(s, &in, sh, sizeof(sh), 0, SEC, reply, 10, &rlen, &kind, &c),
        TERN_CORE_DROPPED);
    assert_int_equal(tern_core_server_conn_count(s), 0);
    tern_core_server_free(s);
}

/* With Retry on, the client's first Initial is answered with a Retry; the client's second Initial
 * carries the token and creates the connection, which completes the handshake and a download. */
static void test_retry(void **st)
{
    world w;
    world_init(&w, 14, 1);
    /* the client's first flight, by hand, through the front door */
    uint8_t buf[BATCH * SEG_MAX], reply[TERN_CORE_REPLY_MAX];
    tern_path_addr path;
    size_t seg, count, rlen;
    int kind;
    tern_conn *c;
    ssize_t n = tern_core_send(w.client, buf, sizeof(buf), BATCH, &path, &seg, &count, w.now);
    assert_true(n >= 1200);
    tern_path_addr in = {.local = path.remote, .remote = path.local};
    assert_int_equal(tern_core_server_recv(w.server, &in, buf, seg, 0, w.now, reply, sizeof(reply),
                                           &rlen, &kind, &c),
                     TERN_CORE_REPLY);
    assert_int_equal(kind, TERN_CORE_REPLY_RETRY);
    assert_int_equal(reply[0] & 0xf0, 0xf0); /* long header, type Retry */
    assert_int_equal(tern_core_server_conn_count(w.server), 0);
    push(&w, 0, &in, TERN_ECN_NOT_ECT, reply, rlen); /* to the client, which starts again with the token */
    w.now += DELAY;
    assert_true(run(&w, connected, 5 * SEC));
    assert_int_equal(tern_core_server_conn_count(w.server), 1);
    request(&w, 300 * 1000);
    assert_true(run(&w, downloaded, 30 * SEC));
    check_hash(&w);
    world_free(&w);
}

static int never(world *w)
{
    (void)w;
    return 0;
}

static int has_token(world *w)
{
    return w->tokens > 0;
}

/* A new client connection from `local` to the same server, replacing the world's client (the
 * server keeps the previous connection, no longer driven), presenting `token` when given. */
static void next_client(world *w, const char *local, const uint8_t *token, size_t len)
{
    tern_core_conn_free(w->client);
    w->client = NULL;
    w->sconn = NULL;
    w->connected = 0;
    w->nq = 0;
    tern_config ccfg;
    corefx_client_config(&ccfg);
    tern_callbacks cb = callbacks();
    tern_path_addr path = {.local = corefx_addr(local), .remote = corefx_addr("10.0.0.9:443")};
    assert_int_equal(tern_core_client_new(&ccfg, &cb, w, &path, "localhost", corefx_rand, &w->seed,
                                          w->now, &w->client),
                     0);
    if (token)
        assert_int_equal(tern_conn_set_token(w->client, token, len), 0);
}

/* RFC 9000 §8.1.3 with Retry forced: the first connection pays the Retry round trip and gets a
 * NEW_TOKEN; the next one presents it and connects a round trip sooner, with no Retry; a token
 * is used once (each connection brings the next); a tampered one gets a Retry (not
 * INVALID_TOKEN) and the connection still succeeds. */
static void test_new_token_skips_retry(void **st)
{
    world w;
    world_init(&w, 15, 1);
    tern_tstamp start = w.now;
    assert_true(run(&w, connected, 5 * SEC));
    tern_tstamp with_retry = w.now - start;
    assert_int_equal(w.replies[TERN_CORE_REPLY_RETRY], 1);
    assert_true(run(&w, has_token, 1 * SEC));
    assert_int_equal(w.tokens, 1);
    uint8_t tok[512];
    size_t tl = w.token_len;
    memcpy(tok, w.token, tl);

    next_client(&w, "10.0.0.1:40001", tok, tl);
    start = w.now;
    assert_true(run(&w, connected, 5 * SEC));
    assert_int_equal(w.replies[TERN_CORE_REPLY_RETRY], 1);
    assert_int_equal(w.replies[TERN_CORE_REPLY_CLOSE], 0);
    assert_true(w.now - start + 2 * DELAY <= with_retry); /* one round trip less */
    request(&w, 100 * 1000);
    assert_true(run(&w, downloaded, 10 * SEC));
    check_hash(&w);
    assert_int_equal(w.tokens, 2);
    assert_memory_not_equal(w.token, tok, tl < w.token_len ? tl : w.token_len);

    /* a tampered token: a Retry as if there were none, then the handshake */
    memcpy(tok, w.token, w.token_len);
    tl = w.token_len;
    tok[tl / 2] ^= 0x40;
    next_client(&w, "10.0.0.1:40002", tok, tl);
    assert_true(run(&w, connected, 5 * SEC));
    assert_int_equal(w.replies[TERN_CORE_REPLY_RETRY], 2);
    assert_int_equal(w.replies[TERN_CORE_REPLY_CLOSE], 0);
    world_free(&w);
}

/* A token validates the address in the first Initial: the server is not held to three times the
 * 1200 bytes it received while the client's later datagrams are all lost (its handshake flight
 * and its probes go out whole), where without a token it stops at the limit. */
static void test_new_token_lifts_amplification_limit(void **st)
{
    for (int with_token = 0; with_token < 2; with_token++) {
        world w;
        world_init(&w, 16, 0);
        assert_true(run(&w, connected, 5 * SEC));
        assert_true(run(&w, has_token, 1 * SEC));
        uint8_t tok[512];
        size_t tl = w.token_len;
        memcpy(tok, w.token, tl);
        next_client(&w, "10.0.0.1:40001", with_token ? tok : NULL, tl);
        w.mute_client = 1;
        w.to_client_bytes = 0;
        run(&w, never, 10 * SEC);
        assert_int_equal(w.client_dgrams > 1, 1);
        if (with_token)
            assert_true(w.to_client_bytes > 3 * 1200);
        else
            assert_true(w.to_client_bytes <= 3 * 1200);
        world_free(&w);
    }
}

/* tern_conn_set_token: a client's, before its first datagram, of 1..512 bytes. */
static void test_set_token_errors(void **st)
{
    world w;
    world_init(&w, 17, 0);
    uint8_t tok[513] = {TERN_TE_INVALID_TOKEN};
    assert_int_equal(tern_conn_set_token(NULL, tok, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_set_token(w.client, NULL, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_set_token(w.client, tok, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_set_token(w.client, tok, 513), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_set_token(w.client, tok, 512), 0);
    assert_int_equal(tern_conn_set_token(w.client, tok, 5), 0); /* replaces it */
    assert_true(run(&w, connected, 5 * SEC));
    assert_int_equal(tern_conn_set_token(w.client, tok, 5), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_conn_set_token(w.sconn, tok, 5), TERN_ERR_NOT_CLIENT);
    world_free(&w);
}

/* The front door holds the configuration's bounds on handshakes a flood of clients can open:
 * from retry_half_open connections in their handshake on, new clients get a Retry (no state),
 * and at max_half_open further Initials are dropped; the server keeps exactly that many. */
static void test_half_open_bounds(void **st)
{
    uint64_t seed = 16;
    tern_config scfg, ccfg;
    corefx_server_config(&scfg);
    scfg.max_half_open = 3;
    scfg.retry_half_open = 0;
    tern_core_server *s;
    assert_int_equal(tern_core_server_new(&scfg, NULL, NULL, corefx_rand, &seed, &s), 0);
    corefx_client_config(&ccfg);
    int accepted = 0, dropped = 0;
    for (int i = 0; i < 10; i++) {
        char from[32];
        snprintf(from, sizeof(from), "10.0.1.%d:4000", i + 1);
        tern_path_addr path = {.local = corefx_addr(from), .remote = corefx_addr("10.0.0.9:443")};
        tern_conn *cli;
        assert_int_equal(tern_core_client_new(&ccfg, NULL, NULL, &path, "localhost", corefx_rand,
                                              &seed, SEC, &cli),
                         0);
        uint8_t buf[BATCH * SEG_MAX], reply[TERN_CORE_REPLY_MAX];
        size_t seg, count, rlen;
        int kind;
        tern_conn *c;
        assert_true(tern_core_send(cli, buf, sizeof(buf), BATCH, &path, &seg, &count, SEC) >= 1200);
        int v = ask(s, from, buf, seg, SEC, reply, &rlen, &kind, &c);
        accepted += v == TERN_CORE_ACCEPTED;
        dropped += v == TERN_CORE_DROPPED;
        tern_core_conn_free(cli);
    }
    assert_int_equal(accepted, 3);
    assert_int_equal(dropped, 7);
    assert_int_equal(tern_core_server_conn_count(s), 3);
    tern_core_server_free(s);

    /* with retry_half_open 2: the first two are accepted, the others answered with Retry */
    scfg.max_half_open = 0;
    scfg.retry_half_open = 2;
    assert_int_equal(tern_core_server_new(&scfg, NULL, NULL, corefx_rand, &seed, &s), 0);
    int retries = 0;
    accepted = 0;
    for (int i = 0; i < 6; i++) {
        char from[32];
        snprintf(from, sizeof(from), "10.0.2.%d:4000", i + 1);
        tern_path_addr path = {.local = corefx_addr(from), .remote = corefx_addr("10.0.0.9:443")};
        tern_conn *cli;
        assert_int_equal(tern_core_client_new(&ccfg, NULL, NULL, &path, "localhost", corefx_rand,
                                              &seed, SEC, &cli),
                         0);
        uint8_t buf[BATCH * SEG_MAX], reply[TERN_CORE_REPLY_MAX];
        size_t seg, count, rlen;
        int kind = TERN_CORE_REPLY_NONE;
        tern_conn *c;
        assert_true(tern_core_send(cli, buf, sizeof(buf), BATCH, &path, &seg, &count, SEC) >= 1200);
        int v = ask(s, from, buf, seg, SEC, reply, &rlen, &kind, &c);
        accepted += v == TERN_CORE_ACCEPTED;
        retries += v == TERN_CORE_REPLY && kind == TERN_CORE_REPLY_RETRY;
        tern_core_conn_free(cli);
    }
    assert_int_equal(accepted, 2);
    assert_int_equal(retries, 4);
    assert_int_equal(tern_core_server_conn_count(s), 2);
    tern_core_server_free(s);
}

static int server_draining(world *w)
{
    return w->sconn && tern_core_state(w->sconn) == TERN_CORE_DRAINING;
}

/* A client that completes its handshake and closes at once (its Finished and its
 * CONNECTION_CLOSE in one datagram: a handshake-rate benchmark does exactly this) frees its
 * half-open slot: the server's draining connection must not keep the next client out. With
 * max_half_open 1, a second client is accepted while the first still drains. */
static void test_half_open_freed_by_close_after_handshake(void **st)
{
    tern_config scfg, ccfg;
    corefx_server_config(&scfg);
    scfg.max_half_open = 1;
    scfg.retry_half_open = 0;
    world w;
    world_init_cfg(&w, 17, &scfg);
    w.close_on_connect = 1;
    assert_true(run(&w, server_draining, 5 * SEC));
    /* it read the close in Handshake, after the Finished: an application close said there */
    const tern_close_info *ci = tern_core_close_info(w.sconn);
    assert_int_equal(ci->app, 0);
    assert_int_equal(ci->error_code, 0x0c); /* APPLICATION_ERROR */
    assert_int_equal(tern_core_server_conn_count(w.server), 1);

    corefx_client_config(&ccfg);
    tern_path_addr path = {.local = corefx_addr("10.0.3.1:4000"),
                           .remote = corefx_addr("10.0.0.9:443")};
    tern_conn *cli;
    assert_int_equal(tern_core_client_new(&ccfg, NULL, NULL, &path, "localhost", corefx_rand,
                                          &w.seed, w.now, &cli),
                     0);
    uint8_t buf[BATCH * SEG_MAX], reply[TERN_CORE_REPLY_MAX];
    size_t seg, count, rlen;
    int kind = TERN_CORE_REPLY_NONE;
    tern_conn *c;
    assert_true(tern_core_send(cli, buf, sizeof(buf), BATCH, &path, &seg, &count, w.now) >= 1200);
    assert_int_equal(ask(w.server, "10.0.3.1:4000", buf, seg, w.now, reply, &rlen, &kind, &c),
                     TERN_CORE_ACCEPTED);
    assert_int_equal(tern_core_server_conn_count(w.server), 2);

    /* and that one, still in its handshake, holds the only slot: a third is dropped */
    tern_path_addr path3 = {.local = corefx_addr("10.0.3.2:4000"),
                            .remote = corefx_addr("10.0.0.9:443")};
    tern_conn *cli3;
    assert_int_equal(tern_core_client_new(&ccfg, NULL, NULL, &path3, "localhost", corefx_rand,
                                          &w.seed, w.now, &cli3),
                     0);
    assert_true(tern_core_send(cli3, buf, sizeof(buf), BATCH, &path3, &seg, &count, w.now) >= 1200);
    assert_int_equal(ask(w.server, "10.0.3.2:4000", buf, seg, w.now, reply, &rlen, &kind, &c),
                     TERN_CORE_DROPPED);
    tern_core_conn_free(cli);
    tern_core_conn_free(cli3);
    world_free(&w);
}

static void test_bad_args(void **st)
{
    uint64_t seed = 15;
    tern_config cfg, bad;
    corefx_client_config(&cfg);
    tern_path_addr path = {.local = corefx_addr("10.0.0.1:40000"),
                           .remote = corefx_addr("10.0.0.9:443")};
    tern_path_addr mixed = {.local = corefx_addr("[fd00::1]:40000"),
                            .remote = corefx_addr("10.0.0.9:443")};
    tern_conn *c = (tern_conn *)&seed;
    assert_int_equal(tern_core_client_new(NULL, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, NULL, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &path, NULL, NULL, NULL, 0, &c),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_core_client_new(&cfg, NULL, NULL, &mixed, NULL, corefx_rand, &seed, 0, &c),
        TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_core_client_new(&cfg, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, NULL),
        TERN_ERR_INVALID_ARG);
    bad = cfg;
    bad.alpn_count = 0;
    assert_int_equal(tern_core_client_new(&bad, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_CONFIG);
    bad = cfg;
    bad.max_udp_payload = 1000;
    assert_int_equal(tern_core_client_new(&bad, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_CONFIG);
    bad = cfg;
    bad.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(tern_core_client_new(&bad, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_CERT);

    tern_core_server *s = (tern_core_server *)&seed;
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s),
                     TERN_ERR_CONFIG);
    assert_null(s);
    corefx_server_config(&bad);
    assert_int_equal(tern_core_server_new(&bad, NULL, NULL, NULL, NULL, &s), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_server_new(NULL, NULL, NULL, corefx_rand, &seed, &s),
                     TERN_ERR_INVALID_ARG);
    bad.key_file = "/nonexistent/key.pem";
    assert_int_equal(tern_core_server_new(&bad, NULL, NULL, corefx_rand, &seed, &s), TERN_ERR_CERT);

    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, &c),
                     0);
    uint8_t buf[1500];
    size_t seg, count;
    tern_path_addr out;
    assert_int_equal(tern_core_recv(NULL, &path, buf, 10, 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(c, NULL, buf, 10, 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(c, &path, NULL, 10, 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(c, &path, buf, 10, 4, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send(NULL, buf, sizeof(buf), 1, &out, &seg, &count, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send(c, NULL, sizeof(buf), 1, &out, &seg, &count, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send(c, buf, sizeof(buf), 1, NULL, &seg, &count, 0),
                     TERN_ERR_INVALID_ARG);
    int ecn;
    assert_int_equal(tern_core_send_ecn(c, buf, sizeof(buf), 1, &out, &seg, &count, NULL, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send_ecn(NULL, buf, sizeof(buf), 1, &out, &seg, &count, &ecn, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_on_timeout(NULL, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_state(NULL), TERN_ERR_INVALID_ARG);
    assert_null(tern_core_close_info(NULL));
    assert_true(tern_core_next_timeout(NULL) == TERN_TS_INF);
    /* garbage is dropped silently: not an error, and the connection is unharmed */
    memset(buf, 0x55, sizeof(buf));
    assert_int_equal(tern_core_recv(c, &path, buf, sizeof(buf), 0, 0), 0);
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    /* the path verbs want the caller's bound socket address */
    tern_addr port0 = corefx_addr("10.0.0.2"), none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(tern_core_path_add(c, &port0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_add(c, &none, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_add(c, NULL, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_set_active(NULL, &path.local, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_remove(c, &port0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_error(c, &path.local, TERN_PATH_WHY_APP, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_port_unreachable(c, NULL), TERN_ERR_INVALID_ARG);
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(tern_core_network_event(c, &ev, 0), TERN_ERR_INVALID_ARG);
    ev.type = TERN_NET_ADDR_ADDED; /* without its address */
    assert_int_equal(tern_core_network_event(c, &ev, 0), TERN_ERR_INVALID_ARG);
    /* a port unreachable before the server ever answered ends the client at once */
    assert_int_equal(tern_core_port_unreachable(c, &path.remote), 1);
    assert_int_equal(tern_core_state(c), TERN_CORE_CLOSED);
    assert_true(tern_core_next_timeout(c) == TERN_TS_INF); /* over at once: no timer left */
    assert_int_equal(tern_core_close_info(c)->status, TERN_ERR_CONN_REFUSED);

    corefx_server_config(&cfg);
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s), 0);
    tern_conn *sc;
    size_t rlen;
    int kind;
    assert_int_equal(tern_core_server_recv(NULL, &path, buf, 10, 0, 0, NULL, 0, NULL, NULL, &sc),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_server_recv(s, &path, buf, 10, 0, 0, NULL, 0, NULL, NULL, NULL),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_server_recv(s, &path, buf, 10, 0, 0, buf, 100, NULL, &kind, &sc),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_server_recv(s, &path, buf, 10, 7, 0, buf, 100, &rlen, &kind, &sc),
                     TERN_ERR_INVALID_ARG);
    /* no reply buffer: what would be answered is dropped */
    assert_int_equal(tern_core_server_recv(s, &path, buf, 100, 0, 0, NULL, 0, NULL, NULL, &sc),
                     TERN_CORE_DROPPED);
    assert_int_equal(tern_core_server_conn_count(NULL), 0);
    tern_core_server_free(s);
    tern_core_server_free(NULL);
    tern_core_conn_free(c);
    tern_core_conn_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_download),
        cmocka_unit_test(test_ecn_batches),
        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_path_mtu),
        cmocka_unit_test(test_path_mtu_small_buffer),
        cmocka_unit_test(test_resumption_zero_rtt),
        cmocka_unit_test(test_front_door),
        cmocka_unit_test(test_stateless_reset_ends_client),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_new_token_skips_retry),
        cmocka_unit_test(test_new_token_lifts_amplification_limit),
        cmocka_unit_test(test_set_token_errors),
        cmocka_unit_test(test_half_open_bounds),
        cmocka_unit_test(test_half_open_freed_by_close_after_handshake),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, corefx_group_setup, corefx_group_teardown);
}
