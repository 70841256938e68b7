/* Bad input from the network: after a real handshake between two cores, the test forges protected
 * packets from the client with malformed or forbidden frames and checks that the server closes with
 * the transport error RFC 9000 names, and that the CONNECTION_CLOSE it puts on the wire reaches the
 * client with that code. Garbage and truncated datagrams are dropped without harm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_test.h"
#include "packet.h"
#include "pair.h"
#include "varint.h"

#define SEC 1000000000ull

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    /* one exchange so that both sides have confirmed and acked */
    assert_int_equal(pair_request(p, 100), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

/* Protects `payload` as a 1-RTT packet from the client and hands it to the server. */
static int inject_1rtt(tern_pair *p, const uint8_t *payload, size_t len)
{
    return pair_inject_1rtt(p, 1, payload, len);
}

static int cond_client_closed(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_DRAINING;
}

static void expect_close(const uint8_t *payload, size_t len, uint64_t terr, uint64_t seed)
{
    tern_pair p;
    connect_pair(&p, seed);
    inject_1rtt(&p, payload, len);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_CLOSING);
    const tern_close_info *si = tern_conn_close_info(p.server);
    if (si->error_code != terr)
        fprintf(stderr, "expected 0x%llx got 0x%llx (%s)\n", (unsigned long long)terr,
                (unsigned long long)si->error_code, si->reason);
    assert_int_equal(si->error_code, terr);
    assert_int_equal(si->local, 1);
    /* the CONNECTION_CLOSE on the wire carries the same code to the client */
    assert_true(pair_run(&p, cond_client_closed, 5 * SEC));
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->local, 0);
    assert_int_equal(ci->app, 0);
    assert_int_equal(ci->error_code, terr);
    pair_free(&p);
}

static void test_unknown_frame(void **st)
{
    static const uint8_t f[] = {0x40, 0x55}; /* type 0x55, two-byte varint */
    expect_close(f, sizeof(f), TERN_TE_FRAME_ENCODING_ERROR, 100);
}

static void test_truncated_stream(void **st)
{
    /* STREAM with OFF|LEN: id 0, offset 0, length 100, but only 3 bytes follow */
    static const uint8_t f[] = {0x0e, 0x00, 0x00, 0x40, 0x64, 'a', 'b', 'c'};
    expect_close(f, sizeof(f), TERN_TE_FRAME_ENCODING_ERROR, 101);
}

static void test_stream_flow_control(void **st)
{
    /* STREAM id 4 with offset beyond the 4 MiB stream window */
    uint8_t f[32], *q = f;
    *q++ = 0x0e;
    q = tern_varint_put(q, 4);
    q = tern_varint_put(q, 64ull << 20);
    q = tern_varint_put(q, 1);
    *q++ = 'x';
    expect_close(f, (size_t)(q - f), TERN_TE_FLOW_CONTROL_ERROR, 102);
}

static void test_stream_on_send_only(void **st)
{
    /* stream 3 is a server-initiated unidirectional stream: the client cannot send on it */
    static const uint8_t f[] = {0x0a, 0x03, 0x01, 'x'};
    expect_close(f, sizeof(f), TERN_TE_STREAM_STATE_ERROR, 103);
}

static void test_stream_limit(void **st)
{
    /* client bidi stream number 200 > initial_max_streams_bidi (100) */
    uint8_t f[16], *q = f;
    *q++ = 0x0a;
    q = tern_varint_put(q, 200 * 4);
    q = tern_varint_put(q, 1);
    *q++ = 'x';
    expect_close(f, (size_t)(q - f), TERN_TE_STREAM_LIMIT_ERROR, 104);
}

static void test_handshake_done_from_client(void **st)
{
    static const uint8_t f[] = {0x1e};
    expect_close(f, sizeof(f), TERN_TE_PROTOCOL_VIOLATION, 105);
}

static void test_new_token_from_client(void **st)
{
    static const uint8_t f[] = {0x07, 0x02, 0xaa, 0xbb};
    expect_close(f, sizeof(f), TERN_TE_PROTOCOL_VIOLATION, 106);
}

static void test_ack_of_unsent(void **st)
{
    uint8_t f[16], *q = f;
    *q++ = 0x02;
    q = tern_varint_put(q, 1000000); /* largest */
    q = tern_varint_put(q, 0);       /* delay */
    q = tern_varint_put(q, 0);       /* range count */
    q = tern_varint_put(q, 0);       /* first range */
    expect_close(f, (size_t)(q - f), TERN_TE_PROTOCOL_VIOLATION, 107);
}

static void test_final_size_change(void **st)
{
    /* FIN at 5 bytes, then RESET_STREAM claiming 20 */
    static const uint8_t f[] = {0x0b, 0x08, 0x05, 'h', 'e', 'l', 'l', 'o', /* STREAM id 8 LEN FIN */
                                0x04, 0x08, 0x00, 0x14};
    expect_close(f, sizeof(f), TERN_TE_FINAL_SIZE_ERROR, 108);
}

static void test_truncated_frame_type(void **st)
{
    /* PINGs, then a frame type whose 4-byte varint is cut after its first byte */
    static const uint8_t f[] = {0x01, 0x01, 0x01, 0x80};
    expect_close(f, sizeof(f), TERN_TE_FRAME_ENCODING_ERROR, 109);
}

static void test_max_streams_too_big(void **st)
{
    uint8_t f[16], *q = f;
    *q++ = 0x12;
    q = tern_varint_put(q, (1ull << 60) + 1);
    expect_close(f, (size_t)(q - f), TERN_TE_FRAME_ENCODING_ERROR, 110);
}

static void test_new_cid_bad_length(void **st)
{
    uint8_t f[64], *q = f;
    *q++ = 0x18;
    *q++ = 0x05; /* seq */
    *q++ = 0x00; /* retire prior to */
    *q++ = 21;   /* length > 20 */
    memset(q, 0xab, 21 + 16);
    q += 21 + 16;
    expect_close(f, (size_t)(q - f), TERN_TE_FRAME_ENCODING_ERROR, 111);
}

static void test_new_cid_limit(void **st)
{
    /* more CIDs than our active_connection_id_limit (sequence numbers above those the client
     * really issued) */
    uint8_t f[1200], *q = f;
    for (int i = 1; i <= 12; i++) {
        *q++ = 0x18;
        q = tern_varint_put(q, (uint64_t)(100 + i));
        *q++ = 0x00;
        *q++ = 8;
        memset(q, i, 8);
        q += 8;
        memset(q, 0x30 + i, 16);
        q += 16;
    }
    expect_close(f, (size_t)(q - f), TERN_TE_CONNECTION_ID_LIMIT_ERROR, 112);
}

static void test_garbage_dropped(void **st)
{
    tern_pair p;
    connect_pair(&p, 120);
    uint8_t junk[1300];
    uint64_t s = 99;
    for (int round = 0; round < 200; round++) {
        size_t len = 1 + (size_t)(round * 37 % 1300);
        for (size_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ull + 1;
            junk[i] = (uint8_t)(s >> 56);
        }
        if (round % 2)
            junk[0] = (uint8_t)(0x40 | (junk[0] & 0x3f)); /* short header form */
        tern_conn_recv(p.server, &p.path_s, junk, len, 0, p.now);
        tern_conn_recv(p.client, &p.path_c, junk, len, 0, p.now);
    }
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    /* the connection still works */
    assert_int_equal(pair_request(&p, 200000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_corrupted_packets_dropped(void **st)
{
    tern_pair p;
    connect_pair(&p, 121);
    /* a valid packet with one flipped bit fails authentication and is dropped */
    tern_conn *c = p.client;
    uint8_t pkt[64];
    uint64_t pn = tern_conn_test_take_pn(c, TERN_SPACE_APP);
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(c), 0);
    size_t hl = tern_pkt_write_short(pkt, sizeof(pkt), &e->cid, pn, 4, tern_conn_tx_phase(c), 0);
    static const uint8_t f[] = {0x1e, 0, 0, 0}; /* HANDSHAKE_DONE would close if accepted */
    memcpy(pkt + hl, f, 4);
    assert_int_equal(tern_crypto_protect(tern_conn_tx_keys(c, TERN_LEVEL_1RTT), tern_conn_tx_hp(c),
                                         pkt, hl, 4, 4, pn),
                     0);
    pkt[hl + 2] ^= 0x10;
    tern_conn_recv(p.server, &p.path_s, pkt, hl + 4 + 16, 0, p.now);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

static void test_stream_frame_in_initial(void **st)
{
    /* a client Initial carrying a STREAM frame: PROTOCOL_VIOLATION (RFC 9000 §12.4) */
    tern_pair p;
    assert_int_equal(pair_init(&p, 130), 0);
    /* create the client so that its Initial keys exist, but do not let it send */
    p.c2s.blackhole = 1;
    pair_run(&p, pair_cond_connected, 1000000ull);
    tern_conn *c = p.client;
    uint8_t pkt[1300];
    size_t len_off = 0;
    uint64_t pn = 100;
    size_t hl =
        tern_pkt_write_long(pkt, sizeof(pkt), TERN_PKT_INITIAL, 1, tern_conn_initial_dcid(c),
                            &tern_conn_local_cids(c)->e[0].cid, NULL, 0, pn, 4, &len_off);
    size_t plen = 1200 - hl - 16;
    memset(pkt + hl, 0, plen);
    static const uint8_t f[] = {0x0a, 0x00, 0x01, 'x'};
    memcpy(pkt + hl, f, sizeof(f));
    tern_pkt_set_length(pkt + len_off, 4 + plen + 16);
    assert_int_equal(tern_crypto_protect(tern_conn_tx_keys(c, TERN_LEVEL_INITIAL),
                                         tern_conn_tx_keys(c, TERN_LEVEL_INITIAL), pkt, hl, 4, plen,
                                         pn),
                     0);
    p.c2s.blackhole = 0;
    /* hand it to a fresh server through the pair's accept path */
    assert_int_equal(pair_accept(&p, pkt, hl + plen + 16), 0);
    tern_conn_recv(p.server, &p.path_s, pkt, hl + plen + 16, 0, p.now);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_CLOSING);
    assert_int_equal(tern_conn_close_info(p.server)->error_code, TERN_TE_PROTOCOL_VIOLATION);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_frame),
        cmocka_unit_test(test_truncated_stream),
        cmocka_unit_test(test_stream_flow_control),
        cmocka_unit_test(test_stream_on_send_only),
        cmocka_unit_test(test_stream_limit),
        cmocka_unit_test(test_handshake_done_from_client),
        cmocka_unit_test(test_new_token_from_client),
        cmocka_unit_test(test_ack_of_unsent),
        cmocka_unit_test(test_final_size_change),
        cmocka_unit_test(test_truncated_frame_type),
        cmocka_unit_test(test_max_streams_too_big),
        cmocka_unit_test(test_new_cid_bad_length),
        cmocka_unit_test(test_new_cid_limit),
        cmocka_unit_test(test_garbage_dropped),
        cmocka_unit_test(test_corrupted_packets_dropped),
        cmocka_unit_test(test_stream_frame_in_initial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
