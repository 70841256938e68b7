/* Session resumption and 0-RTT between a client and a server core in virtual time: tickets and
 * the blob that carries them, resumption without a certificate, 0-RTT accepted, refused by a
 * server that does not take early data (the data then arrives as 1-RTT), lost in flight, and
 * replayed; remembered limits the server lowered; the ticket key's rotation; unusable blobs.
 * Uploads are checked by length and SHA-256 of what the server application read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gnutls/crypto.h>

#include "conn_test.h"
#include "pair.h"
#include "resume.h"

#define SEC 1000000000ull
#define UPLOAD 20000

/* ---- an upload application: the client writes UPLOAD bytes with FIN, the server hashes them
 * and answers "ok" with FIN ----------------------------------------------------------------- */

typedef struct upload {
    tern_pair *p;
    size_t size;
    uint8_t data[UPLOAD];
    int64_t sid;
    uint64_t srv_got;
    int srv_fin;
    gnutls_hash_hd_t srv_hash;
    uint8_t srv_digest[32];
    int client_fin; /* the answer arrived */
    int client_connected;
    int early_at_connect; /* tern_conn_early_data() inside on_connected */
    tern_tstamp done_at;
    tern_tstamp srv_done_at; /* the server application had the whole upload */
    tern_tstamp srv_connected_at;
} upload;

static void up_srv_readable(tern_conn *c, int64_t sid, void *ud)
{
    upload *u = ud;
    uint8_t buf[4096];
    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, buf, sizeof(buf), &fin);
        if (n < 0)
            return;
        gnutls_hash(u->srv_hash, buf, (size_t)n);
        u->srv_got += (uint64_t)n;
        if (fin) {
            u->srv_fin = 1;
            u->srv_done_at = u->p->now;
            gnutls_hash_output(u->srv_hash, u->srv_digest);
            tern_stream_write(c, sid, "ok", 2, 1);
            return;
        }
        if (n == 0)
            return;
    }
}

static void up_cli_readable(tern_conn *c, int64_t sid, void *ud)
{
    upload *u = ud;
    uint8_t buf[64];
    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, buf, sizeof(buf), &fin);
        if (n < 0)
            return;
        if (fin) {
            u->client_fin = 1;
            u->done_at = u->p->now;
            return;
        }
        if (n == 0)
            return;
    }
}

static void up_cli_connected(tern_conn *c, void *ud)
{
    upload *u = ud;
    u->client_connected = 1;
    u->early_at_connect = tern_conn_early_data(c);
    u->p->connected = 1;
}

static void up_cli_ticket(tern_conn *c, const uint8_t *blob, size_t len, void *ud)
{
    upload *u = ud;
    (void)c;
    pair_keep_ticket(u->p, blob, len);
}

static void up_srv_connected(tern_conn *c, void *ud)
{
    upload *u = ud;
    (void)c;
    u->srv_connected_at = u->p->now;
}

static const tern_callbacks up_server_cb = {.on_connected = up_srv_connected,
                                            .on_stream_readable = up_srv_readable};
static const tern_callbacks up_client_cb = {.on_connected = up_cli_connected,
                                            .on_stream_readable = up_cli_readable,
                                            .on_session_ticket = up_cli_ticket};

static void up_init_size(upload *u, tern_pair *p, size_t size)
{
    memset(u, 0, sizeof(*u));
    u->p = p;
    u->size = size;
    for (size_t i = 0; i < UPLOAD; i++)
        u->data[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(gnutls_hash_init(&u->srv_hash, GNUTLS_DIG_SHA256), 0);
    p->server_cb = &up_server_cb;
    p->server_ud = u;
    p->client_cb = &up_client_cb;
    p->client_ud = u;
}

static void up_init(upload *u, tern_pair *p)
{
    up_init_size(u, p, UPLOAD);
}

/* Opens the stream and writes the whole upload (in 0-RTT when the client can). */
static void up_write(upload *u)
{
    assert_int_equal(tern_conn_open_stream(u->p->client, 1, &u->sid), 0);
    assert_int_equal(tern_stream_write(u->p->client, u->sid, u->data, u->size, 1), u->size);
}

static int up_done(tern_pair *p)
{
    upload *u = p->client_ud;
    return u->client_fin || p->client_closed;
}

static int up_connected(tern_pair *p)
{
    upload *u = p->client_ud;
    return u->client_connected || p->client_closed;
}

static void up_check(upload *u)
{
    uint8_t want[32];
    assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, u->data, u->size, want), 0);
    assert_true(u->srv_fin);
    assert_int_equal(u->srv_got, u->size);
    assert_memory_equal(u->srv_digest, want, 32);
    assert_true(u->client_fin);
}

static void up_free(upload *u)
{
    gnutls_hash_deinit(u->srv_hash, NULL);
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* A first connection to a server issuing tickets (and taking 0-RTT when `early`); returns its
 * server TLS context (the caller frees it) and leaves the last blob in *blob, and the server's
 * Handshake-level TLS bytes in *server_hs. */
static tern_tls_ctx *first_connection(int early, uint8_t *blob, size_t *blob_len,
                                      uint64_t *server_hs)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 11), 0);
    assert_int_equal(tern_tls_ctx_set_tickets(p.tls_s, 1), 0);
    if (early)
        assert_int_equal(tern_tls_ctx_set_early_data(p.tls_s, 1, 0), 0);
    tern_tls_ctx *ctx = pair_first_ticket(&p, blob, 20000, blob_len, server_hs);
    assert_non_null(ctx);
    return ctx;
}

/* A pair whose server uses `ctx` and whose client resumes `blob`. */
static void resumed_pair(tern_pair *p, uint64_t seed, tern_tls_ctx *ctx, const uint8_t *blob,
                         size_t len, int early)
{
    assert_int_equal(pair_init(p, seed), 0);
    tern_tls_ctx_free(p->tls_s);
    p->tls_s = ctx;
    p->session = blob;
    p->session_len = len;
    p->early_data = early;
}

static void release_pair(tern_pair *p)
{
    p->tls_s = NULL; /* the test owns the server context */
    pair_free(p);
}

static uint8_t blob1[20000];

/* ---- tests --------------------------------------------------------------------------------- */

static void test_blob_contents(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    tern_resume r;
    assert_int_equal(tern_resume_decode(&r, blob1, len), 0);
    /* what the server advertised (the pair's configuration defaults) */
    tern_config def;
    tern_config_init(&def);
    assert_int_equal(r.initial_max_data, def.initial_max_data);
    assert_int_equal(r.initial_max_stream_data_bidi_remote,
                     def.initial_max_stream_data_bidi_remote);
    assert_int_equal(r.initial_max_streams_bidi, def.initial_max_streams_bidi);
    assert_int_equal(r.max_early_data, 0xffffffffu);
    assert_string_equal(r.alpn, "hq-interop");
    assert_true(r.session_len > 32);
    tern_tls_ctx_free(ctx);
    /* a server issuing tickets without early data says so in them */
    ctx = first_connection(0, blob1, &len, NULL);
    assert_int_equal(tern_resume_decode(&r, blob1, len), 0);
    assert_int_equal(r.max_early_data, 0);
    tern_tls_ctx_free(ctx);
}

static void test_resume_without_certificate(void **st)
{
    size_t len;
    uint64_t full_hs;
    tern_tls_ctx *ctx = first_connection(0, blob1, &len, &full_hs);
    tern_pair p;
    resumed_pair(&p, 12, ctx, blob1, len, 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(tern_conn_resumed(p.client), 1);
    assert_int_equal(tern_conn_resumed(p.server), 1);
    assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_NONE);
    /* the same exchange without the certificate chain and its signature */
    /* the server's Handshake flight: EncryptedExtensions and Finished only, where the full
     * handshake had the certificate chain and CertificateVerify too */
    uint64_t hs = tern_conn_crypto_produced(p.server, TERN_LEVEL_HANDSHAKE);
    assert_true(hs > 0 && hs < 200);
    assert_true(full_hs > hs + 300);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* Counts the qlog records of 0-RTT packets sent and received. */
static void count_0rtt_qlog(void *ud, struct tern_conn *c, const char *record, size_t len)
{
    int *n = ud;
    (void)c;
    (void)len;
    if (strstr(record, "\"packet_type\":\"0RTT\"") &&
        (strstr(record, "quic:packet_sent") || strstr(record, "quic:packet_received")))
        n[tern_conn_is_server(c)]++;
}

/* 0-RTT accepted: an upload that fits the first window goes in the first flight and reaches the
 * server application a round trip earlier than the same upload written once connected (the
 * answer waits for the handshake either way: a server sends no 1-RTT data before it completes). */
static int cond_handshake_keys_gone(tern_pair *p)
{
    return !tern_conn_handshake_keys_bytes(p->server) && !tern_conn_handshake_keys_bytes(p->client);
}

static void test_zero_rtt_accepted(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    tern_tstamp t_early, t_late;
    for (int early = 1; early >= 0; early--) {
        tern_pair p;
        upload u;
        int qlog_0rtt[2] = {0, 0};
        resumed_pair(&p, 13, ctx, blob1, len, early);
        p.cfg_c.qlog = p.cfg_s.qlog = count_0rtt_qlog;
        p.cfg_c.qlog_ud = p.cfg_s.qlog_ud = qlog_0rtt;
        up_init_size(&u, &p, 8000);
        tern_tstamp start = p.now;
        assert_int_equal(pair_start(&p), 0);
        if (early) {
            assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_PENDING);
            assert_true(tern_conn_tx_keys(p.client, TERN_LEVEL_0RTT)->aead);
            up_write(&u); /* before any packet left */
        } else {
            assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_NONE);
            assert_true(pair_run(&p, up_connected, 5 * SEC));
            up_write(&u);
        }
        assert_true(pair_run(&p, up_done, 5 * SEC));
        up_check(&u);
        assert_int_equal(tern_conn_resumed(p.client), 1);
        if (early) {
            assert_int_equal(u.early_at_connect, TERN_EARLY_DATA_ACCEPTED);
            assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_ACCEPTED);
            assert_int_equal(tern_conn_early_bytes(p.client), 8000);
            /* qlog names the packets for what they are, on both sides */
            assert_true(qlog_0rtt[0] >= 6 && qlog_0rtt[1] >= 6);
            t_early = u.srv_done_at - start;
            /* the 0-RTT keys went (the client's with the server's answer, the server's with
             * the client's first 1-RTT packet), and with them the handshake levels' key block */
            assert_true(pair_run(&p, cond_handshake_keys_gone, 2 * SEC));
            assert_int_equal(tern_conn_rx_keys(p.server, TERN_LEVEL_0RTT)->aead, 0);
        } else {
            assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_NONE);
            assert_int_equal(qlog_0rtt[0] + qlog_0rtt[1], 0);
            t_late = u.srv_done_at - start;
        }
        up_free(&u);
        release_pair(&p);
    }
    /* the pair's round trip is 20 ms */
    assert_true(t_early + 15000000ull < t_late);
    tern_tls_ctx_free(ctx);
}

/* 0-RTT in QUIC v2 (RFC 9369 §3.3.2): its keys come from the early secret with v2's labels, as
 * every other key of the connection, on both sides; the upload arrives intact. */
static void test_zero_rtt_in_v2(void **st)
{
    (void)st;
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    tern_pair p;
    upload u;
    resumed_pair(&p, 17, ctx, blob1, len, 1);
    p.cfg_c.quic_versions_count = p.cfg_s.quic_versions_count = 1;
    p.cfg_c.quic_versions[0] = p.cfg_s.quic_versions[0] = TERN_PROTO_VERSION_2;
    up_init_size(&u, &p, 8000);
    assert_int_equal(pair_start(&p), 0);
    assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_PENDING);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_2);
    assert_int_equal(tern_conn_tx_keys(p.client, TERN_LEVEL_0RTT)->version, TERN_PROTO_VERSION_2);
    up_write(&u);
    assert_true(pair_run(&p, up_done, 5 * SEC));
    up_check(&u);
    assert_int_equal(u.early_at_connect, TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(tern_conn_early_bytes(p.client), 8000);
    assert_int_equal(tern_conn_quic_version(p.server), TERN_PROTO_VERSION_2);
    up_free(&u);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* A server that does not take early data (its configuration changed since the ticket) resumes
 * the session, refuses the 0-RTT, and the client sends the upload again as 1-RTT by itself. */
static void test_zero_rtt_rejected(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    assert_int_equal(tern_tls_ctx_set_early_data(ctx, 0, 0), 0);
    tern_pair p;
    upload u;
    resumed_pair(&p, 14, ctx, blob1, len, 1);
    up_init(&u, &p);
    assert_int_equal(pair_start(&p), 0);
    assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_PENDING);
    up_write(&u);
    assert_true(pair_run(&p, up_done, 5 * SEC));
    up_check(&u);
    assert_int_equal(u.early_at_connect, TERN_EARLY_DATA_REJECTED);
    assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_REJECTED);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_NONE);
    assert_int_equal(tern_conn_resumed(p.client), 1);
    up_free(&u);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* Limits the server has lowered since the ticket (the blob remembered 4 MB of stream credit, the
 * server now gives 6000 bytes): a server taking early data refuses this 0-RTT itself (RFC 9000
 * §7.4.1), and so does one that no longer takes any. Either way the client starts its streams
 * again under the new limits, instead of sending again what the server would count as a
 * flow-control violation. */
static void lower_limits_case(int server_early, uint64_t seed)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    if (!server_early)
        assert_int_equal(tern_tls_ctx_set_early_data(ctx, 0, 0), 0);
    tern_pair p;
    upload u;
    resumed_pair(&p, seed, ctx, blob1, len, 1);
    p.cfg_s.initial_max_stream_data_bidi_remote = 6000;
    p.cfg_s.initial_max_data = 6000;
    up_init(&u, &p);
    assert_int_equal(pair_start(&p), 0);
    up_write(&u);
    /* the remembered credit, far above what the server now gives */
    assert_true(tern_streams_find(tern_conn_streams(p.client), u.sid)->max_send > 1000000);
    assert_true(pair_run(&p, up_done, 5 * SEC));
    assert_false(p.client_closed);
    up_check(&u);
    assert_int_equal(tern_conn_resumed(p.client), 1);
    assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_REJECTED);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_NONE);
    assert_true(tern_conn_early_bytes(p.client) > 6000); /* more than the new limit went in 0-RTT */
    up_free(&u);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

static void test_zero_rtt_rejected_lower_limits(void **st)
{
    lower_limits_case(1, 24);
    lower_limits_case(0, 25);
}

/* The second and third client datagrams (0-RTT only) are lost: their data is detected lost once
 * the handshake completes and arrives in 1-RTT. */
static void test_zero_rtt_lost(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    static const int drops[] = {1, 2};
    tern_pair p;
    upload u;
    resumed_pair(&p, 15, ctx, blob1, len, 1);
    p.c2s.drop_idx = drops;
    p.c2s.drop_n = 2;
    up_init(&u, &p);
    assert_int_equal(pair_start(&p), 0);
    up_write(&u);
    assert_true(pair_run(&p, up_done, 10 * SEC));
    up_check(&u);
    assert_int_equal(tern_conn_early_data(p.client), TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(p.c2s.dropped, 2);
    tern_conn_stats cs;
    tern_conn_get_stats(p.client, &cs);
    assert_true(cs.stream_bytes_resent > 0);
    up_free(&u);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* The client's first datagram (ClientHello with its 0-RTT) replayed to the same server: the
 * replay's early data is refused, while a new ClientHello with the same ticket is accepted. */
static void test_zero_rtt_replay_refused(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    tern_pair p;
    upload u;
    resumed_pair(&p, 16, ctx, blob1, len, 1);
    up_init(&u, &p);
    tern_tstamp start = p.now;
    assert_int_equal(pair_start(&p), 0);
    up_write(&u); /* more than the first window: 0-RTT fills it */
    assert_true(pair_run(&p, up_done, 5 * SEC));
    up_check(&u);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_ACCEPTED);
    /* the client's Finished did not wait behind its 0-RTT (acknowledged only once the handshake
     * completes): the server completes a round trip and a half after the first datagram */
    assert_true(u.srv_connected_at - start <= 35000000ull);
    uint8_t first[1500];
    size_t first_len = p.first_c2s_len;
    assert_true(first_len >= 1200);
    memcpy(first, p.first_c2s, first_len);
    up_free(&u);
    release_pair(&p);

    tern_pair r;
    resumed_pair(&r, 17, ctx, blob1, len, 1);
    assert_int_equal(pair_accept(&r, first, first_len), 0);
    (void)tern_conn_recv(r.server, &r.path_s, first, first_len, 0, r.now);
    tern_conn_stats ss;
    tern_conn_get_stats(r.server, &ss);
    assert_true(ss.pkts_recv >= 1); /* the Initial was read */
    assert_int_equal(tern_conn_early_data(r.server), TERN_EARLY_DATA_NONE);
    release_pair(&r);

    /* the same ticket in a fresh ClientHello still brings 0-RTT */
    resumed_pair(&r, 18, ctx, blob1, len, 1);
    up_init(&u, &r);
    assert_int_equal(pair_start(&r), 0);
    up_write(&u);
    assert_true(pair_run(&r, up_done, 5 * SEC));
    up_check(&u);
    assert_int_equal(tern_conn_early_data(r.server), TERN_EARLY_DATA_ACCEPTED);
    up_free(&u);
    release_pair(&r);
    tern_tls_ctx_free(ctx);
}

/* The anti-replay table is bounded: with room for 4 ClientHellos, 4 resumptions within the window
 * get 0-RTT, the 5th none (refused rather than accepted unchecked: the table cannot tell it is
 * not a replay), and its upload still arrives as 1-RTT. */
static void test_zero_rtt_replay_table_bound(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 50), 0);
    assert_int_equal(tern_tls_ctx_set_tickets(p.tls_s, 1), 0);
    assert_int_equal(tern_tls_ctx_set_early_data_slots(p.tls_s, 1, 0, 0), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_set_early_data_slots(p.tls_s, 1, 0, 4), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 10), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    size_t len = p.ticket_len;
    memcpy(blob1, p.ticket, len);
    tern_tls_ctx *ctx = p.tls_s;
    release_pair(&p);
    for (int i = 0; i < 5; i++) {
        upload u;
        resumed_pair(&p, 51 + (uint64_t)i, ctx, blob1, len, 1);
        up_init_size(&u, &p, 3000);
        assert_int_equal(pair_start(&p), 0);
        up_write(&u);
        assert_true(pair_run(&p, up_done, 5 * SEC));
        up_check(&u);
        assert_int_equal(tern_conn_resumed(p.client), 1);
        assert_int_equal(tern_conn_early_data(p.client),
                         i < 4 ? TERN_EARLY_DATA_ACCEPTED : TERN_EARLY_DATA_REJECTED);
        up_free(&u);
        release_pair(&p);
    }
    tern_tls_ctx_free(ctx);
}

/* A blob remembering more credit than the server now gives: the server accepts the 0-RTT, and
 * the client, seeing a limit below what it used, closes with PROTOCOL_VIOLATION. */
static void test_zero_rtt_reduced_limits(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(1, blob1, &len, NULL);
    tern_resume r;
    assert_int_equal(tern_resume_decode(&r, blob1, len), 0);
    r.initial_max_data *= 2;
    static uint8_t bumped[20000];
    size_t blen = tern_resume_encode(&r, bumped, sizeof(bumped));
    assert_true(blen > 0);
    tern_pair p;
    upload u;
    resumed_pair(&p, 19, ctx, bumped, blen, 1);
    up_init(&u, &p);
    assert_int_equal(pair_start(&p), 0);
    up_write(&u);
    assert_true(pair_run(&p, up_done, 5 * SEC));
    assert_true(p.client_closed || tern_conn_state(p.client) >= TERN_CORE_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->local, 1);
    up_free(&u);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* After one rotation a ticket still resumes; after two it leads to a full handshake. */
static void test_ticket_key_rotation(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(0, blob1, &len, NULL);
    for (int rotations = 1; rotations <= 2; rotations++) {
        assert_int_equal(tern_tls_ctx_rotate_ticket_key(ctx), 0);
        tern_pair p;
        resumed_pair(&p, 20 + (uint64_t)rotations, ctx, blob1, len, 0);
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_int_equal(pair_request(&p, 1000), 0);
        assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
        assert_true(pair_verify(&p));
        assert_int_equal(tern_conn_resumed(p.client), rotations == 1);
        release_pair(&p);
    }
    /* the periodic rotation follows the caller's clock */
    tern_tls_ctx_set_ticket_rotation(ctx, 10 * SEC);
    assert_int_equal(tern_tls_ctx_tick(ctx, 100 * SEC), 0);
    tern_pair p;
    resumed_pair(&p, 30, ctx, blob1, len, 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    uint8_t fresh[20000];
    assert_true(pair_run(&p, pair_cond_connected, 1 * SEC));
    assert_int_equal(pair_request(&p, 10), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(p.ticket_len > 0);
    size_t flen = p.ticket_len;
    memcpy(fresh, p.ticket, flen);
    release_pair(&p);
    assert_int_equal(tern_tls_ctx_tick(ctx, 105 * SEC), 0); /* not yet due */
    assert_int_equal(tern_tls_ctx_tick(ctx, 111 * SEC), 0); /* rotated once */
    resumed_pair(&p, 31, ctx, fresh, flen, 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(tern_conn_resumed(p.client), 1);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* Blobs that cannot be used are refused at creation, with TERN_ERR_SESSION and nothing made. */
static void test_unusable_blobs(void **st)
{
    size_t len;
    tern_tls_ctx *ctx = first_connection(0, blob1, &len, NULL);
    tern_pair p;
    static uint8_t bad[20000];
    /* truncated at every length, garbage, and a well-formed frame around bad TLS session data */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97)) {
        resumed_pair(&p, 40, ctx, blob1, cut, 1);
        assert_int_equal(pair_start(&p), TERN_ERR_SESSION);
        assert_null(p.client);
        release_pair(&p);
    }
    for (size_t i = 0; i < sizeof(bad); i++)
        bad[i] = (uint8_t)(i * 37);
    resumed_pair(&p, 41, ctx, bad, 900, 1);
    assert_int_equal(pair_start(&p), TERN_ERR_SESSION);
    release_pair(&p);
    tern_resume r;
    assert_int_equal(tern_resume_decode(&r, blob1, len), 0);
    r.session = bad;
    r.session_len = 600;
    size_t blen = tern_resume_encode(&r, bad + 1000, sizeof(bad) - 1000);
    assert_true(blen > 0);
    resumed_pair(&p, 42, ctx, bad + 1000, blen, 1);
    assert_int_equal(pair_start(&p), TERN_ERR_SESSION);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_contents),
        cmocka_unit_test(test_resume_without_certificate),
        cmocka_unit_test(test_zero_rtt_accepted),
        cmocka_unit_test(test_zero_rtt_in_v2),
        cmocka_unit_test(test_zero_rtt_rejected),
        cmocka_unit_test(test_zero_rtt_rejected_lower_limits),
        cmocka_unit_test(test_zero_rtt_lost),
        cmocka_unit_test(test_zero_rtt_replay_refused),
        cmocka_unit_test(test_zero_rtt_replay_table_bound),
        cmocka_unit_test(test_zero_rtt_reduced_limits),
        cmocka_unit_test(test_ticket_key_rotation),
        cmocka_unit_test(test_unusable_blobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
