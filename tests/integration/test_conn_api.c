/* The error returns of the connection and stream API, each as its header documents it: bad
 * arguments, configurations tern_conn_new refuses, streams used in a direction they do not have,
 * calls in the wrong state (a key update before confirmation, anything after a close), what a
 * refused call leaves unchanged, and a connection made without callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define SEC 1000000000ull

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(p, 100), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

static int never(tern_pair *p)
{
    return 0;
}

static int rand_fill(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    memset(out, 7, len);
    return 0;
}

static int try_new(tern_pair *p, const tern_config *cfg, size_t scid_len)
{
    static const uint8_t key[32];
    tern_conn_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.cfg = cfg;
    cp.tls_ctx = p->tls_c;
    cp.rand = rand_fill;
    cp.reset_key = key;
    cp.scid_len = scid_len;
    tern_conn *c = NULL;
    int rv = tern_conn_new(&c, &cp, &p->path_c, 0);
    if (rv == 0) {
        assert_non_null(c);
        tern_conn_free(c);
    } else {
        assert_null(c);
    }
    return rv;
}

static int client_confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}

static int64_t g_nocb_sid;
static uint64_t g_nocb_got;
static int g_nocb_fin;

/* What a client without callbacks reads of its stream, as it arrives. */
static int nocb_read_all(tern_pair *p)
{
    uint8_t buf[4096];
    int fin = 0;
    ssize_t n;
    while (!g_nocb_fin && (n = tern_stream_read(p->client, g_nocb_sid, buf, sizeof(buf), &fin)) >= 0) {
        g_nocb_got += (uint64_t)n;
        g_nocb_fin = fin;
        if (n == 0)
            break;
    }
    return g_nocb_fin;
}

/* A client made without callbacks (they are optional): the handshake, a download it polls for,
 * and the streams, resets and STOP_SENDING the server starts all take their course with nobody
 * told; the client's reads see them. */
static void test_client_without_callbacks(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 801), 0);
    p.client_no_cb = 1;
    assert_true(pair_run(&p, client_confirmed, 5 * SEC));
    assert_int_equal(tern_conn_open_stream(p.client, 1, &g_nocb_sid), 0);
    const uint8_t req[8] = {0, 0, 0, 0, 0, 0, 0x4e, 0x20}; /* 20000 bytes, please */
    assert_int_equal(tern_stream_write(p.client, g_nocb_sid, req, sizeof(req), 1), 8);
    g_nocb_got = 0;
    g_nocb_fin = 0;
    assert_true(pair_run(&p, nocb_read_all, 5 * SEC));
    assert_int_equal(g_nocb_got, 20000);

    /* the server opens a stream, sends on it, resets it and asks the client to stop sending */
    int64_t ssid;
    assert_int_equal(tern_conn_open_stream(p.server, 1, &ssid), 0);
    assert_int_equal(tern_stream_write(p.server, ssid, "hello", 5, 0), 5);
    pair_run(&p, pair_cond_now, 0);
    pair_run(&p, never, SEC / 10);
    uint8_t buf[16];
    int fin = 0;
    assert_int_equal(tern_stream_read(p.client, ssid, buf, sizeof(buf), &fin), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(tern_stream_stop_sending(p.server, ssid, 7), 0);
    assert_int_equal(tern_stream_reset(p.server, ssid, 9), 0);
    pair_run(&p, never, SEC / 10);
    /* the reset ended the client's receiving side, and STOP_SENDING made it reset its sending
     * side in turn: both done, the stream is gone */
    assert_int_equal(tern_stream_read(p.client, ssid, buf, sizeof(buf), &fin),
                     TERN_ERR_STREAM_NOT_FOUND);
    assert_int_equal(tern_stream_write(p.client, ssid, "x", 1, 0), TERN_ERR_STREAM_NOT_FOUND);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

static void test_new_refuses_bad_configs(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 800), 0);
    tern_config cfg = p.cfg_c;
    assert_int_equal(try_new(&p, &cfg, 0), 0);
    assert_int_equal(try_new(&p, &cfg, 21), TERN_ERR_INVALID_ARG);
    cfg.alpn_count = 0;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg = p.cfg_c;
    cfg.max_udp_payload = 1199;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg.max_udp_payload = 65528;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg = p.cfg_c;
    cfg.initial_max_streams_uni = (1ull << 60) + 1;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg = p.cfg_c;
    cfg.initial_max_streams_bidi = (1ull << 60) + 1;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg = p.cfg_c;
    cfg.alpn = NULL;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg = p.cfg_c;
    cfg.datagram_queue_count = 0;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg = p.cfg_c;
    cfg.max_datagram_frame_size = TERN_MAX_VARINT + 1;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    /* a key update margin of none (an update at the limit itself) or of all (one per packet) */
    cfg = p.cfg_c;
    cfg.key_update_margin_pct = 0;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    cfg.key_update_margin_pct = 100;
    assert_int_equal(try_new(&p, &cfg, 0), TERN_ERR_CONFIG);
    assert_int_equal(try_new(&p, NULL, 0), TERN_ERR_CONFIG);
    tern_conn *c = NULL;
    /* each thing a connection cannot be made without */
    static const uint8_t key[32];
    tern_conn_params cp;
    for (int missing = 0; missing < 4; missing++) {
        memset(&cp, 0, sizeof(cp));
        cp.cfg = &p.cfg_c;
        cp.tls_ctx = missing == 0 ? NULL : p.tls_c;
        cp.rand = missing == 1 ? NULL : rand_fill;
        cp.reset_key = missing == 2 ? NULL : key;
        assert_int_equal(tern_conn_new(&c, &cp, missing == 3 ? NULL : &p.path_c, 0),
                         TERN_ERR_INVALID_ARG);
        assert_null(c);
    }
    assert_int_equal(tern_conn_new(&c, NULL, &p.path_c, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_new(NULL, NULL, NULL, 0), TERN_ERR_INVALID_ARG);
    pair_free(&p);
}

/* A random source that fails at its `fail_at`-th call (counting from 1), and counts its calls. */
typedef struct flaky_rand {
    int calls, fail_at;
} flaky_rand;

static int flaky_fill(void *ud, uint8_t *out, size_t len)
{
    flaky_rand *r = ud;
    if (++r->calls == r->fail_at)
        return TERN_ERR_INTERNAL;
    memset(out, r->calls, len);
    return 0;
}

/* tern_conn_new draws its own CID, a client its first DCID, a server with a preferred address
 * that address's CID: a failure of any draw fails the creation with the source's error and
 * leaves no connection. */
static void test_new_when_randomness_fails(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 804), 0);
    static const uint8_t key[32];
    tern_config scfg = p.cfg_s;
    assert_int_equal(tern_addr_parse(&scfg.preferred_address, "10.0.0.2:4434", 0), 0);
    for (int server = 0; server < 2; server++) {
        tern_conn_params cp;
        memset(&cp, 0, sizeof(cp));
        cp.is_server = server;
        cp.cfg = server ? &scfg : &p.cfg_c;
        cp.tls_ctx = server ? p.tls_s : p.tls_c;
        cp.rand = flaky_fill;
        cp.reset_key = key;
        cp.client_dcid.len = cp.original_dcid.len = cp.client_scid.len = 8;
        flaky_rand r = {0, 0};
        cp.rand_ud = &r;
        tern_conn *c = NULL;
        assert_int_equal(tern_conn_new(&c, &cp, server ? &p.path_s : &p.path_c, 0), 0);
        tern_conn_free(c);
        assert_int_equal(r.calls, 2); /* its CID, and the first DCID or the preferred CID */
        for (int n = 1; n <= 2; n++) {
            r.calls = 0;
            r.fail_at = n;
            c = NULL;
            assert_int_equal(tern_conn_new(&c, &cp, server ? &p.path_s : &p.path_c, 0),
                             TERN_ERR_INTERNAL);
            assert_null(c);
            assert_int_equal(r.calls, n); /* nothing drawn after the failure */
        }
    }
    pair_free(&p);
}

static void test_null_arguments(void **st)
{
    int64_t sid;
    int fin = 1;
    uint8_t b[4];
    assert_int_equal(tern_conn_open_stream(NULL, 1, &sid), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_close(NULL, 0, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_key_update(NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_write(NULL, 0, b, 1, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_read(NULL, 0, b, sizeof(b), &fin), TERN_ERR_INVALID_ARG);
    assert_int_equal(fin, 0);
    assert_int_equal(tern_stream_reset(NULL, 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_stop_sending(NULL, 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_writable(NULL, 0), 0);
}

static void test_stream_directions(void **st)
{
    tern_pair p;
    connect_pair(&p, 801);
    tern_conn *c = p.client, *s = p.server;
    int64_t uni, bidi;
    uint8_t b[16];
    int fin;
    assert_int_equal(tern_conn_open_stream(c, 0, &uni), 0);
    assert_int_equal(tern_conn_open_stream(c, 0, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_write(c, uni, "abc", 3, 0), 3); /* no FIN: it stays open */
    pair_run(&p, never, SEC / 10);
    /* the client cannot read its own unidirectional stream, nor stop its sending */
    assert_int_equal(tern_stream_read(c, uni, b, sizeof(b), &fin), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_stream_stop_sending(c, uni, 1), TERN_ERR_STREAM_STATE);
    /* the server cannot write, reset or ask for room on it */
    assert_int_equal(tern_stream_write(s, uni, "x", 1, 0), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_stream_reset(s, uni, 1), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_stream_writable(s, uni), 0);
    assert_true(tern_stream_writable(c, uni) > 0);
    /* unknown and negative stream ids */
    assert_int_equal(tern_stream_write(c, 400, "x", 1, 0), TERN_ERR_STREAM_NOT_FOUND);
    assert_int_equal(tern_stream_write(c, -4, "x", 1, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_read(c, 401, b, sizeof(b), &fin), TERN_ERR_STREAM_NOT_FOUND);
    /* NULL data with a length; a write after reset; a reset after everything was acknowledged */
    assert_int_equal(tern_conn_open_stream(c, 1, &bidi), 0);
    assert_int_equal(tern_stream_write(c, bidi, NULL, 5, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_write(c, bidi, "hello", 5, 0), 5);
    assert_int_equal(tern_stream_reset(c, bidi, 3), 0);
    assert_int_equal(tern_stream_reset(c, bidi, 3), 0); /* once is enough */
    assert_int_equal(tern_stream_write(c, bidi, "x", 1, 0), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_stream_writable(c, bidi), 0);
    assert_int_equal(tern_stream_stop_sending(c, bidi, 4), 0);
    assert_int_equal(tern_stream_stop_sending(c, bidi, 4), 0);
    /* once the FIN of the uni stream is acknowledged, nothing is left to reset: it is gone */
    assert_int_equal(tern_stream_write(c, uni, NULL, 0, 1), 0);
    pair_run(&p, never, SEC / 2);
    assert_int_equal(tern_stream_reset(c, uni, 1), TERN_ERR_STREAM_NOT_FOUND);
    pair_free(&p);
}

/* Reading without asking for the FIN, reading after our own STOP_SENDING, room after our FIN, and
 * the cipher name before and after the handshake. */
static void test_stream_read_write_edges(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 803), 0);
    pair_run(&p, never, 0); /* the client exists, its handshake has not started */
    assert_string_equal(tern_conn_cipher(p.client), "");
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_string_equal(tern_conn_cipher(p.client), "AES-128-GCM");
    tern_conn *c = p.client;
    int idx = pair_request(&p, 3000);
    assert_true(idx >= 0);
    p.streams[idx].hold = 1; /* the application leaves the bytes to this test */
    pair_run(&p, never, SEC / 2);
    int64_t sid = p.streams[idx].sid;
    uint8_t b[1000];
    assert_int_equal(tern_stream_read(c, sid, b, sizeof(b), NULL), (ssize_t)sizeof(b));
    /* a stream still open for sending stays after STOP_SENDING, and is no longer read */
    int64_t bidi;
    assert_int_equal(tern_conn_open_stream(c, 1, &bidi), 0);
    assert_int_equal(tern_stream_write(c, bidi, "x", 1, 0), 1);
    assert_int_equal(tern_stream_stop_sending(c, bidi, 9), 0);
    int fin = 1;
    assert_int_equal(tern_stream_read(c, bidi, b, sizeof(b), &fin), TERN_ERR_STREAM_STATE);
    assert_int_equal(fin, 0);
    /* a stream whose FIN was written has no room left to offer */
    int64_t uni;
    assert_int_equal(tern_conn_open_stream(c, 0, &uni), 0);
    assert_true(tern_stream_writable(c, uni) > 0);
    assert_int_equal(tern_stream_write(c, uni, "z", 1, 1), 1);
    assert_int_equal(tern_stream_writable(c, uni), 0);
    pair_free(&p);
}

static void test_key_update_states(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 802), 0);
    pair_run(&p, never, 0); /* the client exists, its handshake has not started */
    assert_int_equal(tern_conn_key_update(p.client), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_conn_key_updates(p.client), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 100), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    pair_run(&p, never, SEC / 5);
    uint64_t before = tern_conn_key_updates(p.client);
    int phase = tern_conn_tx_phase(p.client);
    assert_int_equal(tern_conn_key_update(p.client), 0);
    assert_int_equal(tern_conn_tx_phase(p.client), !phase);
    /* a second update before the first is acknowledged is refused and changes nothing */
    assert_int_equal(tern_conn_key_update(p.client), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_conn_key_updates(p.client), before + 1);
    assert_int_equal(tern_conn_tx_phase(p.client), !phase);
    pair_free(&p);
}

static void test_calls_after_close(void **st)
{
    tern_pair p;
    connect_pair(&p, 803);
    tern_conn *c = p.client;
    int64_t sid = p.streams[0].sid, nsid;
    uint8_t b[4];
    int fin = 1;
    assert_int_equal(tern_conn_close(c, 42, "bye"), 0);
    assert_int_equal(tern_conn_close(c, 43, "again"), TERN_ERR_CLOSED);
    const tern_close_info *ci = tern_conn_close_info(c);
    assert_int_equal(ci->error_code, 42); /* the first close stands */
    assert_int_equal(ci->app, 1);
    assert_string_equal(ci->reason, "bye");
    assert_int_equal(tern_conn_open_stream(c, 1, &nsid), TERN_ERR_CLOSED);
    assert_int_equal(tern_conn_key_update(c), TERN_ERR_CLOSED);
    assert_int_equal(tern_stream_write(c, sid, "x", 1, 0), TERN_ERR_CLOSED);
    assert_int_equal(tern_stream_read(c, sid, b, sizeof(b), &fin), TERN_ERR_CLOSED);
    assert_int_equal(fin, 0);
    assert_int_equal(tern_stream_reset(c, sid, 1), TERN_ERR_CLOSED);
    assert_int_equal(tern_stream_stop_sending(c, sid, 1), TERN_ERR_CLOSED);
    assert_int_equal(tern_stream_writable(c, sid), 0);
    /* the server gets the application close with its code and reason */
    assert_true(pair_run(&p, pair_cond_both_closed, 5 * SEC));
    const tern_close_info *si = tern_conn_close_info(p.server);
    assert_int_equal(si->local, 0);
    assert_int_equal(si->app, 1);
    assert_int_equal(si->error_code, 42);
    assert_string_equal(si->reason, "bye");
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_refuses_bad_configs),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_stream_directions),
        cmocka_unit_test(test_key_update_states),
        cmocka_unit_test(test_calls_after_close),
        cmocka_unit_test(test_stream_read_write_edges),
        cmocka_unit_test(test_new_when_randomness_fails),
        cmocka_unit_test(test_client_without_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
