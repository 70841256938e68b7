/* Reception rules of RFC 9000 and RFC 9001 that a peer (or an attacker on the path) can test from
 * the wire: two cores run a real handshake, then the test forges protected packets with the
 * sender's own keys, hands them over, and checks what the receiver did (ignored them, or closed
 * with the error code the RFC names, which must also reach the other side). Each test has a
 * control: the same packet without the defect is processed, so the test cannot pass by accident. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "conn_test.h"
#include "dispatch.h"
#include "forge.h"
#include "frame.h"
#include "migration.h"
#include "packet.h"
#include "pair.h"
#include "resume.h"
#include "varint.h"

#define SEC 1000000000ull
#define MS 1000000ull

static const uint8_t close_pv[] = {0x1c, 0x0a, 0x00,
                                   0x00}; /* CONNECTION_CLOSE PROTOCOL_VIOLATION */

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(p, 100), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

static int cond_client_closed(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_DRAINING;
}
static int cond_server_closed(tern_pair *p)
{
    return tern_conn_state(p->server) >= TERN_CS_DRAINING;
}

/* `victim` closed with `terr` on its own, and the CONNECTION_CLOSE reached the other side. */
static void assert_closed_with(tern_pair *p, tern_conn *victim, uint64_t terr)
{
    assert_int_equal(tern_conn_state(victim), TERN_CS_CLOSING);
    const tern_close_info *vi = tern_conn_close_info(victim);
    if (vi->error_code != terr)
        fprintf(stderr, "expected 0x%llx got 0x%llx (%s)\n", (unsigned long long)terr,
                (unsigned long long)vi->error_code, vi->reason);
    assert_int_equal(vi->error_code, terr);
    assert_int_equal(vi->local, 1);
    tern_conn *other = victim == p->client ? p->server : p->client;
    assert_true(
        pair_run(p, victim == p->client ? cond_server_closed : cond_client_closed, 5 * SEC));
    const tern_close_info *oi = tern_conn_close_info(other);
    assert_int_equal(oi->local, 0);
    assert_int_equal(oi->error_code, terr);
}

/* After a forged packet reached `victim`: either it was ignored (the connection carries on and
 * delivers a download), or, for the control, its CONNECTION_CLOSE was processed (draining). */
static void expect_ignored(tern_pair *p, tern_conn *victim, int ignored)
{
    if (!ignored) {
        assert_int_equal(tern_conn_state(victim), TERN_CS_DRAINING);
        return;
    }
    assert_true(tern_conn_state(victim) < TERN_CS_CLOSING);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_true(pair_request(p, 1000) >= 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

/* ---- RFC 9000 §7.2: the server's Source Connection ID is fixed by its first Initial ------------
 */

static int cond_client_has_hs_keys(tern_pair *p)
{
    return p->server && tern_conn_rx_keys(p->client, TERN_LEVEL_HANDSHAKE)->aead &&
           tern_conn_tx_keys(p->server, TERN_LEVEL_HANDSHAKE)->aead &&
           !tern_conn_handshake_confirmed(p->client);
}

static void scid_case(int change_scid, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    assert_true(pair_run(&p, cond_client_has_hs_keys, 10 * SEC));
    tern_cid scid = tern_conn_local_cids(p.server)->e[0].cid;
    if (change_scid)
        scid.data[0] ^= 0xff;
    uint8_t pkt[1500];
    size_t n =
        forge_long_from(p.server, TERN_LEVEL_HANDSHAKE, &tern_conn_local_cids(p.client)->e[0].cid,
                        &scid, NULL, 0, close_pv, sizeof(close_pv), 0, p.now, pkt, sizeof(pkt));
    tern_conn_recv(p.client, &p.path_c, pkt, n, 0, p.now);
    expect_ignored(&p, p.client, change_scid);
    if (!change_scid)
        assert_int_equal(tern_conn_close_info(p.client)->error_code, TERN_TE_PROTOCOL_VIOLATION);
    pair_free(&p);
}

static void test_server_scid_change_discarded(void **st)
{
    scid_case(1, 200);
    scid_case(0, 201);
}

/* ---- RFC 9000 §14.1: Initial packets in small datagrams are dropped by a server ----------------
 */

static int cond_server_up(tern_pair *p)
{
    return p->server && tern_conn_tx_keys(p->client, TERN_LEVEL_INITIAL)->aead &&
           !tern_conn_space_discarded(p->client, TERN_SPACE_INITIAL) &&
           tern_conn_received_any(p->server);
}

static void small_initial_case(size_t dgram_len, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    assert_true(pair_run(&p, cond_server_up, 10 * SEC));
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(p.client), 0);
    uint8_t pkt[1500];
    size_t n = forge_long_from(p.client, TERN_LEVEL_INITIAL, &e->cid,
                               &tern_conn_local_cids(p.client)->e[0].cid, NULL, 0, close_pv,
                               sizeof(close_pv), dgram_len, p.now, pkt, sizeof(pkt));
    assert_int_equal(n, dgram_len);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    expect_ignored(&p, p.server, dgram_len < TERN_MIN_INITIAL_SIZE);
    pair_free(&p);
}

static void test_small_initial_dropped_by_server(void **st)
{
    small_initial_case(300, 210);
    small_initial_case(1199, 211);
    small_initial_case(1200, 212);
}

/* An authentic Retry for client `c`: SCID, token and tag from `id`. */
static size_t make_retry(tern_conn *c, uint8_t id, uint8_t *pkt, size_t cap)
{
    size_t n = forge_retry(c, id, pkt, cap);
    assert_true(n > 0);
    return n;
}

/* ---- RFC 9000 §6.2: Version Negotiation after a Retry is ignored
 * --------------------------------- */

static void vn_case(int after_retry, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.c2s.blackhole = 1;
    pair_run(&p, pair_cond_connected, 1 * MS);
    tern_conn *c = p.client;
    uint8_t pkt[256];
    if (after_retry) {
        size_t n = make_retry(c, 0x5a, pkt, sizeof(pkt));
        tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
        assert_true(tern_conn_retry_received(c));
    }
    static const uint32_t versions[] = {0x1a2a3a4a};
    size_t n = tern_pkt_write_vn(pkt, sizeof(pkt), tern_conn_initial_dcid(c),
                                 &tern_conn_local_cids(c)->e[0].cid, versions, 1, 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    if (after_retry) {
        assert_true(tern_conn_state(c) < TERN_CS_CLOSING);
    } else {
        assert_int_equal(tern_conn_state(c), TERN_CS_DONE);
        assert_int_equal(tern_conn_close_info(c)->status, TERN_ERR_VERSION);
    }
    pair_free(&p);
}

/* §6.2: a Version Negotiation that lists the version in use, or that does not echo the client's
 * CIDs, is ignored; the same packet listing only other versions ends the attempt (the control). */
static void vn_ignored_case(int lists_ours, int wrong_cids, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.c2s.blackhole = 1;
    pair_run(&p, pair_cond_connected, 1 * MS);
    tern_conn *c = p.client;
    const uint32_t versions[] = {0x1a2a3a4a, lists_ours ? tern_conn_version(c) : 0x5a6a7a8a};
    tern_cid dcid = *tern_conn_initial_dcid(c);
    if (wrong_cids)
        dcid.data[0] ^= 0x40;
    uint8_t pkt[256];
    size_t n = tern_pkt_write_vn(pkt, sizeof(pkt), &dcid, &tern_conn_local_cids(c)->e[0].cid,
                                 versions, 2, 0);
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    if (lists_ours || wrong_cids) {
        assert_int_equal(tern_conn_state(c), TERN_CS_HANDSHAKE);
        assert_int_equal(tern_conn_close_info(c)->status, 0);
        /* and the handshake still completes */
        p.c2s.blackhole = 0;
        assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    } else {
        assert_int_equal(tern_conn_state(c), TERN_CS_DONE);
        assert_int_equal(tern_conn_close_info(c)->status, TERN_ERR_VERSION);
    }
    pair_free(&p);
}

static void test_vn_listing_our_version_ignored(void **st)
{
    vn_ignored_case(1, 0, 222);
    vn_ignored_case(0, 1, 223);
    vn_ignored_case(0, 0, 224);
}

static void test_vn_after_retry_ignored(void **st)
{
    vn_case(1, 220);
    vn_case(0, 221);
}

/* ---- RFC 9000 §12.2: coalesced packets with another DCID are ignored
 * ----------------------------- */

static void coalesced_case(int other_dcid, uint64_t seed)
{
    tern_pair p;
    connect_pair(&p, seed);
    uint8_t dgram[1500];
    /* first: a long-header packet to the client's CID (its protection does not matter) */
    tern_cid mine = tern_peer_cids_for_path(tern_conn_peer_cids(p.server), 0)->cid;
    tern_cid scid = tern_conn_local_cids(p.server)->e[0].cid;
    size_t len_off = 0;
    size_t n = tern_pkt_write_long(dgram, sizeof(dgram), TERN_PKT_HANDSHAKE, 1, &mine, &scid, NULL,
                                   0, 0, 4, &len_off);
    memset(dgram + n, 0x77, 40);
    assert_int_equal(tern_pkt_set_length(dgram + len_off, 44), 0);
    n += 40;
    /* second: a valid 1-RTT packet that would close the connection */
    tern_cid dcid = mine;
    if (other_dcid)
        dcid.data[dcid.len - 1] ^= 0x01;
    n += forge_1rtt_with(p.server, &dcid, NULL, 0, close_pv, sizeof(close_pv), 0, p.now, dgram + n,
                         sizeof(dgram) - n);
    tern_conn_recv(p.client, &p.path_c, dgram, n, 0, p.now);
    expect_ignored(&p, p.client, other_dcid);
    pair_free(&p);
}

static void test_coalesced_other_dcid_ignored(void **st)
{
    coalesced_case(1, 230);
    coalesced_case(0, 231);
}

/* ---- RFC 9000 §10.3.1: short stateless resets (21-28 bytes) are recognised ----------------------
 */

static void reset_case(size_t len, int right_token, uint64_t seed)
{
    tern_pair p;
    connect_pair(&p, seed);
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(p.client), 0);
    assert_true(e->has_token);
    uint8_t d[64];
    for (size_t i = 0; i < len; i++)
        d[i] = (uint8_t)(i * 31 + 7);
    d[0] = (uint8_t)(0x40 | (d[0] & 0x3f));
    memcpy(d + len - 16, e->token, 16);
    if (!right_token)
        d[len - 1] ^= 1;
    tern_conn_recv(p.client, &p.path_c, d, len, 0, p.now);
    if (right_token) {
        assert_int_equal(tern_conn_state(p.client), TERN_CS_DONE);
        assert_int_equal(tern_conn_close_info(p.client)->status, TERN_ERR_STATELESS_RESET);
    } else {
        assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    }
    pair_free(&p);
}

static void test_short_stateless_reset(void **st)
{
    static const size_t lens[] = {21, 24, 28, 29, 40};
    for (size_t i = 0; i < TERN_ARRAY_LEN(lens); i++)
        reset_case(lens[i], 1, 240 + i);
    reset_case(21, 0, 250);
    reset_case(28, 0, 251);
}

/* ---- RFC 9001 §6 and §4.4: TLS KeyUpdate and CertificateRequest at 1-RTT
 * ------------------------- */

static void crypto_1rtt_case(int from_side_is_client, const uint8_t *msg, size_t msg_len,
                             uint64_t seed)
{
    tern_pair p;
    connect_pair(&p, seed);
    tern_conn *from = from_side_is_client ? p.client : p.server;
    tern_conn *to = from_side_is_client ? p.server : p.client;
    uint8_t f[64], *q = f;
    *q++ = TERN_FT_CRYPTO;
    q = tern_varint_put(q, tern_conn_crypto_recv_offset(to, TERN_LEVEL_1RTT));
    q = tern_varint_put(q, msg_len);
    memcpy(q, msg, msg_len);
    q += msg_len;
    uint8_t pkt[1500];
    size_t n = forge_1rtt(from, f, (size_t)(q - f), 0, p.now, pkt, sizeof(pkt));
    tern_conn_recv(to, from_side_is_client ? &p.path_s : &p.path_c, pkt, n, 0, p.now);
    /* CRYPTO_ERROR with the TLS alert unexpected_message (10) */
    assert_closed_with(&p, to, TERN_TE_CRYPTO_ERROR + 10);
    pair_free(&p);
}

static void test_tls_key_update_rejected(void **st)
{
    static const uint8_t key_update[] = {24, 0, 0, 1, 0}; /* update_not_requested */
    static const uint8_t key_update_req[] = {24, 0, 0, 1, 1};
    crypto_1rtt_case(1, key_update, sizeof(key_update), 260);
    crypto_1rtt_case(1, key_update_req, sizeof(key_update_req), 261);
    crypto_1rtt_case(0, key_update, sizeof(key_update), 262);
}

static void test_post_handshake_cert_request_rejected(void **st)
{
    /* CertificateRequest: empty context, signature_algorithms (rsa_pss_rsae_sha256) */
    static const uint8_t cr[] = {13, 0, 0, 11, 0, 0, 8, 0, 13, 0, 4, 0, 2, 0x08, 0x04};
    crypto_1rtt_case(0, cr, sizeof(cr), 263);
}

/* ---- RFC 9001 §4.6.1: a QUIC ticket's max_early_data_size ------------------------------------ */

/* The server's side of a forged NewSessionTicket: a packet of the server carrying it in a CRYPTO
 * frame at the client's next 1-RTT offset, delivered to the client. The ticket's early_data
 * extension says `max_early` (none when `with_early` is 0). */
static void send_forged_ticket(tern_pair *p, int with_early, uint32_t max_early)
{
    uint8_t nst[64], *m = nst + 4;
    m = tern_put_u32(m, 3600);       /* ticket_lifetime */
    m = tern_put_u32(m, 0x01020304); /* ticket_age_add */
    *m++ = 1, *m++ = 0;              /* ticket_nonce */
    m = tern_put_u16(m, 20);         /* ticket: opaque to the client */
    for (int i = 0; i < 20; i++)
        *m++ = (uint8_t)(i + 1);
    m = tern_put_u16(m, with_early ? 8 : 0);
    if (with_early) {
        m = tern_put_u16(m, 42);
        m = tern_put_u16(m, 4);
        m = tern_put_u32(m, max_early);
    }
    size_t body = (size_t)(m - nst) - 4;
    nst[0] = 4; /* new_session_ticket */
    nst[1] = 0, nst[2] = 0, nst[3] = (uint8_t)body;
    uint8_t f[96], *q = f;
    *q++ = TERN_FT_CRYPTO;
    q = tern_varint_put(q, tern_conn_crypto_recv_offset(p->client, TERN_LEVEL_1RTT));
    q = tern_varint_put(q, body + 4);
    memcpy(q, nst, body + 4);
    q += body + 4;
    uint8_t pkt[1500];
    size_t n = forge_1rtt(p->server, f, (size_t)(q - f), 0, p->now, pkt, sizeof(pkt));
    tern_conn_recv(p->client, &p->path_c, pkt, n, 0, p->now);
}

/* A NewSessionTicket from the server at 1-RTT (see send_forged_ticket). Returns what the client
 * made of it: 1 it kept a blob, 0 it closed. */
static int forged_ticket(uint64_t seed, int with_early, uint32_t max_early, uint32_t *blob_early)
{
    tern_pair p;
    connect_pair(&p, seed);
    int before = p.tickets;
    send_forged_ticket(&p, with_early, max_early);
    int kept = p.tickets > before;
    if (kept) {
        tern_resume r;
        assert_int_equal(tern_resume_decode(&r, p.ticket, p.ticket_len), 0);
        *blob_early = r.max_early_data;
        assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    } else {
        assert_closed_with(&p, p.client, TERN_TE_PROTOCOL_VIOLATION);
    }
    pair_free(&p);
    return kept;
}

static void test_ticket_max_early_data_checked(void **st)
{
    uint32_t e = 1;
    assert_int_equal(forged_ticket(270, 0, 0, &e), 1);
    assert_int_equal(e, 0);
    assert_int_equal(forged_ticket(271, 1, 0xffffffffu, &e), 1);
    assert_int_equal(e, 0xffffffffu);
    assert_int_equal(forged_ticket(272, 1, 0, &e), 1);
    assert_int_equal(e, 0);
    assert_int_equal(forged_ticket(273, 1, 16384, &e), 0);
}

/* An idle connection holds no CRYPTO buffers: once the handshake is confirmed and everything
 * sent was acknowledged and everything received read, both sides free them. A session ticket
 * that comes later makes the client's again at the offset the level had reached (offsets below
 * it are old data, not a gap to wait for), and they go again once it is read; the server, whose
 * TLS session is gone, still answers a 1-RTT TLS message with unexpected_message. */
static int cond_handshake_keys_gone(tern_pair *p)
{
    return p->server && !tern_conn_handshake_keys_bytes(p->server) &&
           !tern_conn_handshake_keys_bytes(p->client);
}

static int cond_server_has_handshake_keys(tern_pair *p)
{
    return p->server && tern_conn_tx_keys(p->server, TERN_LEVEL_HANDSHAKE)->aead;
}

/* The keys of the Initial, 0-RTT and Handshake levels (six of them, some 530 bytes) are held
 * while the handshake needs them and freed once both handshake spaces are gone: an established
 * connection keeps only its 1-RTT keys. */
static void test_handshake_keys_released(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 276), 0);
    assert_true(pair_run(&p, pair_cond_now, SEC));
    assert_true(tern_conn_handshake_keys_bytes(p.client) >= 6 * sizeof(tern_keys));
    assert_true(tern_conn_tx_keys(p.client, TERN_LEVEL_INITIAL)->aead);
    assert_true(pair_run(&p, cond_server_has_handshake_keys, 10 * SEC));
    assert_true(tern_conn_handshake_keys_bytes(p.server) >= 6 * sizeof(tern_keys));
    assert_true(tern_conn_handshake_keys_bytes(p.client) >= 6 * sizeof(tern_keys));
    assert_true(pair_run(&p, cond_handshake_keys_gone, 10 * SEC));
    /* what is left reads as not installed, and the connection goes on with its 1-RTT keys */
    assert_int_equal(tern_conn_rx_keys(p.server, TERN_LEVEL_HANDSHAKE)->aead, 0);
    assert_int_equal(tern_conn_tx_keys(p.client, TERN_LEVEL_INITIAL)->aead, 0);
    assert_true(tern_conn_tx_keys(p.server, TERN_LEVEL_1RTT)->aead);
    assert_int_equal(pair_request(&p, 5000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_int_equal(tern_conn_handshake_keys_bytes(p.server), 0);
    assert_int_equal(tern_conn_handshake_keys_bytes(p.client), 0);
    pair_free(&p);
}

static void test_crypto_buffers_released_when_idle(void **st)
{
    tern_pair p;
    connect_pair(&p, 274);
    assert_false(pair_run(&p, cond_client_closed, 1 * SEC)); /* the last ACKs */
    assert_null(tern_conn_crypto_sent(p.server, TERN_LEVEL_1RTT));
    assert_null(tern_conn_crypto_sent(p.client, TERN_LEVEL_1RTT));
    uint64_t read = tern_conn_crypto_recv_offset(p.client, TERN_LEVEL_1RTT);
    for (int i = 0; i < 3; i++) {
        int before = p.tickets;
        send_forged_ticket(&p, 0, 0);
        assert_int_equal(p.tickets, before + 1);
        assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
        assert_true(tern_conn_crypto_recv_offset(p.client, TERN_LEVEL_1RTT) > read);
        read = tern_conn_crypto_recv_offset(p.client, TERN_LEVEL_1RTT);
        assert_null(tern_conn_crypto_sent(p.client, TERN_LEVEL_1RTT));
    }
    assert_false(pair_run(&p, cond_client_closed, 2 * SEC));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    pair_free(&p);
    static const uint8_t key_update[] = {24, 0, 0, 1, 0};
    crypto_1rtt_case(1, key_update, sizeof(key_update), 275);
}

/* ---- RFC 9001 §6: key updates faster than one per round trip ----------------------------------
 */

/* The client's 1-RTT keys `updates` phases after its current ones. */
static void client_keys_ahead(tern_conn *c, int updates, tern_keys *out)
{
    tern_keys cur, next;
    memset(&cur, 0, sizeof(cur));
    assert_int_equal(tern_crypto_next_keys(tern_conn_tx_keys(c, TERN_LEVEL_1RTT), &cur), 0);
    for (int i = 1; i < updates; i++) {
        memset(&next, 0, sizeof(next));
        assert_int_equal(tern_crypto_next_keys(&cur, &next), 0);
        tern_crypto_keys_free(&cur);
        tern_crypto_keys_move(&cur, &next);
    }
    tern_crypto_keys_move(out, &cur);
}

static size_t forge_phase(tern_pair *p, int updates, uint8_t *pkt)
{
    static const uint8_t ping[] = {0x01};
    tern_conn *c = p->client;
    tern_keys k;
    memset(&k, 0, sizeof(k));
    client_keys_ahead(c, updates, &k);
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(c), 0);
    size_t n = forge_1rtt_with(c, &e->cid, &k, tern_conn_tx_phase(c) ^ (updates & 1), ping, 1, 0,
                               p->now, pkt, 1500);
    tern_crypto_keys_free(&k);
    return n;
}

/* The client updates once, then again: before the server acknowledged anything of the first
 * update (KEY_UPDATE_ERROR), or a round trip later, after it did (accepted). */
static void key_update_case(int wait_for_ack, uint64_t seed)
{
    tern_pair p;
    connect_pair(&p, seed);
    uint8_t pkt[1500];
    int phase0 = tern_conn_rx_phase(p.server);
    size_t n = forge_phase(&p, 1, pkt);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_rx_phase(p.server), phase0 ^ 1);
    if (wait_for_ack) {
        /* the server acknowledges it; the client follows into the new phase */
        assert_int_equal(pair_request(&p, 1000), 1);
        assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
        assert_int_equal(tern_conn_tx_phase(p.client), phase0 ^ 1);
    }
    n = forge_phase(&p, wait_for_ack ? 1 : 2, pkt);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    if (wait_for_ack) {
        assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
        assert_int_equal(tern_conn_rx_phase(p.server), phase0);
    } else {
        assert_closed_with(&p, p.server, TERN_TE_KEY_UPDATE_ERROR);
    }
    pair_free(&p);
}

static void test_key_update_flood_closed(void **st)
{
    key_update_case(0, 270);
}
static void test_key_update_after_ack_accepted(void **st)
{
    key_update_case(1, 271);
}

/* §6.5: a packet of the previous key phase that was sent before the first packet of the new
 * one (held back, reordered) is opened with the previous keys and processed; one in the old phase
 * numbered after the new phase started is an attempt at a further update, which the next keys do
 * not open. */
static void test_previous_phase_packet(void **st)
{
    tern_pair p;
    connect_pair(&p, 272);
    static const uint8_t early[] = {0x0b, 0x08, 0x02, 'h', 'i'}; /* STREAM 8, FIN, "hi" */
    static const uint8_t late[] = {0x0b, 0x0c, 0x02, 'h', 'o'};  /* STREAM 12 */
    uint8_t held[1500], pkt[1500];
    size_t hn = forge_1rtt(p.client, early, sizeof(early), 0, p.now, held, sizeof(held));
    assert_true(hn > 0);
    int phase0 = tern_conn_rx_phase(p.server);
    size_t n = forge_phase(&p, 1, pkt);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_rx_phase(p.server), phase0 ^ 1);
    uint64_t fails = tern_conn_rx_auth_failed(p.server);
    tern_conn_recv(p.server, &p.path_s, held, hn, 0, p.now);
    assert_int_equal(tern_conn_rx_auth_failed(p.server), fails);
    assert_non_null(tern_streams_find(tern_conn_streams(p.server), 8));
    assert_int_equal(tern_conn_rx_phase(p.server), phase0 ^ 1);
    /* the client has not followed: its keys are the old phase's, its packet numbers newer */
    n = forge_1rtt(p.client, late, sizeof(late), 0, p.now, pkt, sizeof(pkt));
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_rx_auth_failed(p.server), fails + 1);
    assert_null(tern_streams_find(tern_conn_streams(p.server), 12));
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

/* ---- RFC 9000 §10.1: the idle timeout is the smaller advertised one, or the only one ----------
 */

static void idle_case(uint64_t client_ms, uint64_t server_ms, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.cfg_c.idle_timeout_ms = client_ms;
    p.cfg_s.idle_timeout_ms = server_ms;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 100), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    uint64_t eff = !client_ms ? server_ms : !server_ms ? client_ms : TERN_MIN(client_ms, server_ms);
    tern_tstamp now = p.now;
    tern_tstamp idle_c = tern_conn_get_deadlines(p.client).idle;
    tern_tstamp idle_s = tern_conn_get_deadlines(p.server).idle;
    if (!eff) {
        assert_true(idle_c == TERN_TS_INF && idle_s == TERN_TS_INF);
    } else {
        /* armed at the last activity, within one timeout of now */
        assert_true(idle_c > now && idle_c <= now + eff * MS);
        assert_true(idle_s > now && idle_s <= now + eff * MS);
        /* the client gives up after that timeout and no longer */
        p.c2s.blackhole = p.s2c.blackhole = 1;
        tern_conn_on_timeout(p.client, idle_c - 1);
        assert_false(tern_conn_is_done(p.client));
        tern_conn_on_timeout(p.client, idle_c);
        assert_true(tern_conn_is_done(p.client));
        assert_int_equal(tern_conn_close_info(p.client)->status, TERN_ERR_IDLE_TIMEOUT);
    }
    pair_free(&p);
}

static void test_idle_timeout_negotiated(void **st)
{
    idle_case(0, 700, 280);
    idle_case(900, 0, 281);
    idle_case(800, 600, 282);
    idle_case(0, 0, 283);
}

/* ---- RFC 9001 §8.4: a ClientHello with a legacy_session_id -> PROTOCOL_VIOLATION ---------------
 */

static void session_id_case(size_t sid_len, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.c2s.blackhole = 1;
    pair_run(&p, pair_cond_connected, 1 * MS);
    tern_conn *c = p.client;
    /* the client's own ClientHello, with a session ID inserted after the random */
    const tern_sendbuf *sb = tern_conn_crypto_sent(c, TERN_LEVEL_INITIAL);
    size_t chl = (size_t)sb->end;
    uint8_t ch[1100];
    assert_true(chl + sid_len <= sizeof(ch));
    tern_sendbuf_copy(sb, 0, chl, ch);
    size_t sid_off = 4 + 2 + 32;
    assert_int_equal(ch[sid_off], 0);
    memmove(ch + sid_off + 1 + sid_len, ch + sid_off + 1, chl - sid_off - 1);
    memset(ch + sid_off + 1, 0xcd, sid_len);
    ch[sid_off] = (uint8_t)sid_len;
    size_t body = chl - 4 + sid_len;
    ch[1] = (uint8_t)(body >> 16);
    ch[2] = (uint8_t)(body >> 8);
    ch[3] = (uint8_t)body;
    uint8_t f[1200], *q = f;
    *q++ = TERN_FT_CRYPTO;
    q = tern_varint_put(q, 0);
    q = tern_varint_put(q, chl + sid_len);
    memcpy(q, ch, chl + sid_len);
    q += chl + sid_len;
    uint8_t pkt[1500];
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(c), 0);
    size_t n =
        forge_long_from(c, TERN_LEVEL_INITIAL, &e->cid, &tern_conn_local_cids(c)->e[0].cid, NULL, 0,
                        f, (size_t)(q - f), TERN_MIN_INITIAL_SIZE, p.now, pkt, sizeof(pkt));
    assert_true(n >= TERN_MIN_INITIAL_SIZE);
    p.c2s.blackhole = 0;
    assert_int_equal(pair_accept(&p, pkt, n), 0);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    if (sid_len) {
        assert_int_equal(tern_conn_state(p.server), TERN_CS_CLOSING);
        assert_int_equal(tern_conn_close_info(p.server)->error_code, TERN_TE_PROTOCOL_VIOLATION);
    } else {
        assert_int_equal(tern_conn_state(p.server), TERN_CS_HANDSHAKE);
        assert_true(tern_conn_tx_keys(p.server, TERN_LEVEL_HANDSHAKE)->aead != 0);
    }
    pair_free(&p);
}

static void test_legacy_session_id_closed(void **st)
{
    session_id_case(32, 280);
    session_id_case(1, 281);
    session_id_case(0, 282);
}

/* ---- RFC 9000 §5.1.1, §18.2: the preferred address CID follows the CID rules -------------------
 */

static void test_preferred_address_cid_checked(void **st)
{
    for (int reuse = 0; reuse <= 1; reuse++) {
        tern_pair p;
        assert_int_equal(pair_init(&p, 290 + (uint64_t)reuse), 0);
        p.c2s.blackhole = 1;
        pair_run(&p, pair_cond_connected, 1 * MS);
        tern_conn *c = p.client;
        tern_tparams *tp = tern_conn_test_peer_tparams(c);
        tp->has_preferred_address = 1;
        /* the CID of the handshake (sequence 0) offered again as sequence 1, or a fresh one */
        tp->preferred_address.cid = tern_peer_cids_for_path(tern_conn_peer_cids(c), 0)->cid;
        if (!reuse)
            tp->preferred_address.cid.data[0] ^= 0x80;
        memset(tp->preferred_address.token, 0x42, 16);
        uint64_t terr = 0;
        int rv = tern_mig_on_peer_tparams(c, &terr);
        if (reuse) {
            assert_int_equal(rv, TERN_ERR_PROTO);
            assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
        } else {
            assert_int_equal(rv, 0);
            assert_int_equal(tern_peer_cids_spare(tern_conn_peer_cids(c)), 1);
        }
        pair_free(&p);
    }
}

/* ---- RFC 9000 §10.3.1: a server recognises the client's stateless reset ---------------------- */

typedef struct reset_fx {
    tern_dispatch d;
    tern_dispatch_owner o;
    uint32_t seed;
} reset_fx;

static int reset_fx_rand(void *ud, uint8_t *out, size_t len)
{
    uint32_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s = *s * 1103515245u + 12345u;
        out[i] = (uint8_t)(*s >> 16);
    }
    return 0;
}

static void reset_fx_token(void *ud, tern_conn *c, const uint8_t *token, int added)
{
    reset_fx *r = ud;
    if (added)
        (void)tern_dispatch_add_reset_token(&r->d, &r->o, token);
    else
        tern_dispatch_remove_reset_token(&r->d, &r->o, token);
}

/* The client announces a new CID with `token` and (with `retire`) makes the server retire the one
 * it uses, so that the server sends on the new one. */
static void client_new_cid(tern_pair *p, uint64_t seq, int retire, const uint8_t *token)
{
    uint8_t f[64], *q = f;
    *q++ = TERN_FT_NEW_CONNECTION_ID;
    q = tern_varint_put(q, seq);
    q = tern_varint_put(q, retire ? seq : 0);
    *q++ = 8;
    memset(q, (int)(0x60 + seq), 8);
    q += 8;
    memcpy(q, token, 16);
    q += 16;
    uint8_t pkt[1500];
    size_t n = forge_1rtt(p->client, f, (size_t)(q - f), 0, p->now, pkt, sizeof(pkt));
    tern_conn_recv(p->server, &p->path_s, pkt, n, 0, p->now);
    if (tern_conn_state(p->server) != TERN_CS_ESTABLISHED)
        fprintf(stderr, "closed: %s\n", tern_conn_close_info(p->server)->reason);
    assert_int_equal(tern_conn_state(p->server), TERN_CS_ESTABLISHED);
}

static void server_reset_case(int in_use, uint64_t seed)
{
    tern_pair p;
    connect_pair(&p, seed);
    reset_fx *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    tern_dispatch_config dc;
    tern_dispatch_config_init(&dc);
    dc.rand = reset_fx_rand;
    dc.rand_ud = &r->seed;
    assert_int_equal(tern_dispatch_init(&r->d, &dc), 0);
    tern_dispatch_attach(&r->d, &r->o, p.server);
    tern_conn_test_hooks(p.server)->reset_token = reset_fx_token;
    tern_conn_test_hooks(p.server)->ud = r;
    uint8_t token[16], other[16];
    memset(token, 0xc4, sizeof(token));
    memset(other, 0x3c, sizeof(other));
    if (in_use) {
        client_new_cid(&p, 50, 1, token);
    } else {
        client_new_cid(&p, 50, 1, other); /* the one the server sends on */
        client_new_cid(&p, 51, 0, token); /* a spare */
    }
    /* the client's reset: short header, random bytes where the DCID would be, the token last */
    uint8_t d[40];
    for (size_t i = 0; i < sizeof(d); i++)
        d[i] = (uint8_t)(i * 73 + 11);
    d[0] = 0x4b;
    memcpy(d + sizeof(d) - 16, token, 16);
    uint8_t reply[TERN_DISPATCH_REPLY_MAX];
    tern_dispatch_result res;
    int v =
        tern_dispatch_classify(&r->d, &p.path_s, d, sizeof(d), p.now, reply, sizeof(reply), &res);
    /* the token table routes it; the connection decides (a CID it does not use: no reset) */
    assert_int_equal(v, TERN_DISPATCH_CONN);
    assert_ptr_equal(res.owner, p.server);
    tern_conn_recv(p.server, &p.path_s, d, sizeof(d), 0, p.now);
    if (in_use) {
        assert_int_equal(tern_conn_state(p.server), TERN_CS_DONE);
        assert_int_equal(tern_conn_close_info(p.server)->status, TERN_ERR_STATELESS_RESET);
    } else {
        assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    }
    /* a token that was never issued is not routed: an ordinary stateless reset answers it */
    d[sizeof(d) - 1] ^= 1;
    v = tern_dispatch_classify(&r->d, &p.path_s, d, sizeof(d), p.now, reply, sizeof(reply), &res);
    assert_int_equal(v, TERN_DISPATCH_REPLY);
    assert_int_equal(res.reply_kind, TERN_DISPATCH_REPLY_RESET);
    /* the connection gone, its tokens are too */
    tern_dispatch_detach(&r->d, &r->o);
    d[sizeof(d) - 1] ^= 1;
    v = tern_dispatch_classify(&r->d, &p.path_s, d, sizeof(d), p.now, reply, sizeof(reply), &res);
    assert_int_not_equal(v, TERN_DISPATCH_CONN);
    tern_dispatch_free(&r->d);
    free(r);
    pair_free(&p);
}

static void test_server_recognises_client_reset(void **st)
{
    server_reset_case(1, 300);
    server_reset_case(0, 301);
}

/* ---- RFC 9000 §17.2, §17.3.1: reserved bits set after protection is removed ------------------ */

static void test_reserved_bits_closed(void **st)
{
    static const uint8_t ping[] = {0x01};
    for (int with_bits = 1; with_bits >= 0; with_bits--) {
        tern_pair p;
        connect_pair(&p, 310 + (uint64_t)with_bits);
        uint8_t pkt[1500];
        size_t n = forge_1rtt(p.client, ping, sizeof(ping), with_bits ? FORGE_RESERVED_BITS : 0,
                              p.now, pkt, sizeof(pkt));
        tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
        if (with_bits)
            assert_closed_with(&p, p.server, TERN_TE_PROTOCOL_VIOLATION);
        else
            assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
        pair_free(&p);
    }
}

/* ---- RFC 9001 §6.6: AEAD limits ----------------------------------------------------------------
 */

/* Limits lowered from 2^23 packets so that a short download reaches them several times: the
 * sender updates its keys in time, on its own, and never goes past the limit in one phase. The
 * queue is bounded, as the real limit is far above any window in packets. */
static void test_confidentiality_limit_updates_keys(void **st)
{
    tern_pair p;
    connect_pair(&p, 320);
    p.s2c.rate_bps = 20000000;
    p.s2c.queue_limit = 50;
    tern_conn_test_set_conf_limit(p.server, 512);
    assert_int_equal(pair_request(&p, 2 << 20), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    /* about 1700 packets in phases of at most 512 */
    assert_true(tern_conn_key_updates(p.server) >= 4);
    assert_true(tern_conn_tx_pkts_phase(p.server) < 512);
    pair_free(&p);
}

/* A sender that reaches the limit without being able to update stops using the connection. */
static void test_confidentiality_limit_stops(void **st)
{
    tern_pair p;
    connect_pair(&p, 321);
    tern_conn_test_set_conf_limit(p.server, 256);
    /* the limit reached, and the previous update is not acknowledged, and will not be */
    tern_conn_test_stall_key_phase(p.server, 256);
    assert_int_equal(pair_request(&p, 100000), 1);
    pair_run(&p, pair_cond_all_done, 1 * SEC);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_DONE);
    assert_int_equal(tern_conn_close_info(p.server)->error_code, TERN_TE_AEAD_LIMIT_REACHED);
    assert_int_equal(p.streams[1].got, 0);
    pair_free(&p);
}

/* The margin decides how early the update starts: with 90% of a 1000-packet limit as margin, an
 * update every ~100 packets; with the default 50%, every ~500. No phase ever reaches the limit. */
static void test_key_update_margin(void **st)
{
    uint64_t updates[2];
    for (int i = 0; i < 2; i++) {
        tern_pair p;
        connect_pair(&p, 323);
        p.s2c.rate_bps = 20000000; /* a window of packets well below 100 in flight */
        p.s2c.queue_limit = 20;
        p.cfg_s.key_update_margin_pct = i == 0 ? 50 : 90;
        tern_conn_test_set_conf_limit(p.server, 1000);
        assert_int_equal(pair_request(&p, 3 << 20), 1);
        assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
        assert_true(pair_verify(&p));
        updates[i] = tern_conn_key_updates(p.server);
        assert_true(tern_conn_tx_pkts_phase(p.server) < 1000);
        pair_free(&p);
    }
    /* about 2300 packets: 4 updates at 50%, far more at 90% */
    assert_true(updates[0] >= 3 && updates[0] <= 5);
    assert_true(updates[1] >= 3 * updates[0]);
}

/* A receiver that sends only ACKs updates its keys by itself, again and again, under a limit of
 * 40 packets (an update from 20, a close from 32): each update is acknowledged in time. */
static void test_receiver_updates_keys_often(void **st)
{
    tern_pair p;
    connect_pair(&p, 326);
    p.s2c.rate_bps = 5000000; /* a few ACKs per round trip */
    p.s2c.queue_limit = 20;
    tern_conn_test_set_conf_limit(p.client, 40);
    assert_int_equal(pair_request(&p, 500000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_true(tern_conn_key_updates_initiated(p.client) >= 4);
    assert_true(tern_conn_tx_pkts_phase(p.client) < 40);
    pair_free(&p);
}

/* A sender near the limit whose last update is never acknowledged closes with AEAD_LIMIT_REACHED
 * while it still may send, so that the peer learns why (RFC 9001 §6.6), and never protects a
 * packet beyond the limit. */
static void test_confidentiality_limit_closes_on_the_wire(void **st)
{
    tern_pair p;
    connect_pair(&p, 324);
    tern_conn_test_set_conf_limit(p.server, 1000);
    tern_conn_test_stall_key_phase(p.server, 900);
    assert_int_equal(pair_request(&p, 1 << 20), 1);
    assert_true(pair_run(&p, cond_client_closed, 5 * SEC));
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->local, 0);
    assert_int_equal(ci->error_code, TERN_TE_AEAD_LIMIT_REACHED);
    assert_true(p.streams[0].got > 0);       /* data went out until the reserve */
    assert_true(p.streams[0].got < 1 << 20); /* and stopped there */
    assert_true(tern_conn_tx_pkts_phase(p.server) <= 1000);
    assert_int_equal(tern_conn_close_info(p.server)->error_code, TERN_TE_AEAD_LIMIT_REACHED);
    pair_free(&p);
}

/* Forgeries count across every key of the connection: some before a key update, the rest after
 * it, add up to the limit. */
static void test_integrity_limit_across_key_updates(void **st)
{
    static const uint8_t ping[] = {0x01};
    tern_pair p;
    connect_pair(&p, 325);
    tern_conn_test_set_integ_limit(p.server, 10);
    for (int i = 0; i < 11; i++) {
        if (i == 6) {
            assert_int_equal(tern_conn_key_update(p.client), 0);
            assert_int_equal(pair_request(&p, 1000), 1);
            assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
            assert_true(tern_conn_key_updates(p.server) >= 1);
            assert_int_equal(tern_conn_rx_auth_failed(p.server), 6);
        }
        assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
        uint8_t pkt[1500];
        size_t n = forge_1rtt(p.client, ping, sizeof(ping), 0, p.now, pkt, sizeof(pkt));
        pkt[n - 1] ^= 0x01;
        tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    }
    assert_closed_with(&p, p.server, TERN_TE_AEAD_LIMIT_REACHED);
    pair_free(&p);
}

/* More packets failing authentication than the integrity limit: AEAD_LIMIT_REACHED. */
static void test_integrity_limit_closes(void **st)
{
    static const uint8_t ping[] = {0x01};
    tern_pair p;
    connect_pair(&p, 322);
    tern_conn_test_set_integ_limit(p.server, 10);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
        uint8_t pkt[1500];
        size_t n = forge_1rtt(p.client, ping, sizeof(ping), 0, p.now, pkt, sizeof(pkt));
        pkt[n - 1] ^= 0x01; /* the tag no longer matches */
        tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    }
    assert_closed_with(&p, p.server, TERN_TE_AEAD_LIMIT_REACHED);
    pair_free(&p);
}

/* ---- RFC 9000 §10.2.1, §10.2.2: closing answers at most once per PTO; draining sends nothing ----
 */

/* Datagrams `c` sends now; each is handed to `to` (on `path`) when given, else dropped. */
static size_t datagrams_out(tern_conn *c, uint64_t now, tern_conn *to, const tern_path_addr *path)
{
    uint8_t buf[1500];
    tern_path_addr out;
    size_t n = 0, seg, count;
    while (n < 100 && tern_conn_send(c, &out, buf, sizeof(buf), 1, &seg, &count, now) == 0 &&
           count) {
        if (to)
            tern_conn_recv(to, path, buf, seg, 0, now);
        n++;
    }
    return n;
}

static void test_closing_and_draining_rates(void **st)
{
    static const uint8_t ping[] = {0x01};
    tern_pair p;
    connect_pair(&p, 330);
    /* the server closes; its first CONNECTION_CLOSE goes out */
    assert_int_equal(tern_conn_close(p.server, 7, "bye"), 0);
    assert_true(datagrams_out(p.server, p.now, NULL, NULL) >= 1);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_CLOSING);
    /* ten packets from the client at once: at most one more CONNECTION_CLOSE */
    size_t answers = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t pkt[1500];
        size_t n = forge_1rtt(p.client, ping, sizeof(ping), 0, p.now, pkt, sizeof(pkt));
        tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now + 1000);
        answers += datagrams_out(p.server, p.now + 1000, NULL, NULL);
    }
    assert_true(answers <= 1);
    /* a PTO later, the next packet is answered again */
    uint64_t later = p.now + 1000 + 2 * tern_conn_pto(p.server);
    uint8_t pkt[1500];
    size_t n = forge_1rtt(p.client, ping, sizeof(ping), 0, p.now, pkt, sizeof(pkt));
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, later);
    assert_int_equal(datagrams_out(p.server, later, p.client, &p.path_c), 1);
    /* the client, draining once it received the close, sends nothing whatever arrives */
    assert_int_equal(tern_conn_state(p.client), TERN_CS_DRAINING);
    for (int i = 0; i < 5; i++) {
        n = forge_1rtt(p.server, ping, sizeof(ping), 0, p.now, pkt, sizeof(pkt));
        tern_conn_recv(p.client, &p.path_c, pkt, n, 0, later);
        assert_int_equal(datagrams_out(p.client, later, NULL, NULL), 0);
    }
    pair_free(&p);
}

/* ---- RFC 9000 §7.3: the connection IDs of the handshake are authenticated -----------------------
 */

/* The client remembers another original DCID (or a Retry it never got) than the server's
 * transport parameters name: TRANSPORT_PARAMETER_ERROR, also on the server's side. */
static void cid_auth_case(int what, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.c2s.blackhole = 1;
    pair_run(&p, pair_cond_connected, 1 * MS);
    p.c2s.blackhole = 0;
    tern_conn *c = p.client;
    if (what == 1) {
        tern_cid other = *tern_conn_initial_dcid(c);
        other.data[0] ^= 0x01;
        tern_conn_test_set_initial_dcid(c, &other);
    } else if (what == 2) {
        tern_conn_test_set_retry(c, tern_conn_initial_dcid(c));
    }
    if (what == 0) {
        assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    } else {
        assert_true(pair_run(&p, cond_client_closed, 10 * SEC));
        const tern_close_info *ci = tern_conn_close_info(c);
        assert_int_equal(ci->local, 1);
        assert_int_equal(ci->error_code, TERN_TE_TRANSPORT_PARAMETER_ERROR);
        assert_false(p.connected);
        assert_true(pair_run(&p, cond_server_closed, 5 * SEC));
        assert_int_equal(tern_conn_close_info(p.server)->error_code,
                         TERN_TE_TRANSPORT_PARAMETER_ERROR);
    }
    pair_free(&p);
}

static void test_handshake_cids_authenticated(void **st)
{
    cid_auth_case(1, 340); /* original_destination_connection_id */
    cid_auth_case(2, 341); /* retry_source_connection_id */
    cid_auth_case(0, 342);
}

/* ---- RFC 9000 §17.2.5.2: a client follows one authentic Retry -----------------------------------
 */

static void test_retry_once_and_authentic(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 350), 0);
    p.c2s.blackhole = 1;
    pair_run(&p, pair_cond_connected, 1 * MS);
    tern_conn *c = p.client;
    uint8_t pkt[256];
    /* a Retry to a CID that is not the client's: ignored */
    tern_cid other = tern_conn_local_cids(c)->e[0].cid, rscid = {.len = 8};
    other.data[0] ^= 0x80;
    memset(rscid.data, 0x44, 8);
    static const uint8_t tok[4] = {1, 2, 3, 4};
    size_t n = tern_pkt_write_retry(pkt, sizeof(pkt) - 16, 1, &other, &rscid, tok, 4, 0);
    assert_int_equal(tern_crypto_retry_tag(1, tern_conn_initial_dcid(c), pkt, n, pkt + n), 0);
    tern_conn_recv(c, &p.path_c, pkt, n + 16, 0, p.now);
    assert_false(tern_conn_retry_received(c));
    /* a Retry whose integrity tag does not match: ignored */
    n = make_retry(c, 0x11, pkt, sizeof(pkt));
    pkt[n - 1] ^= 1;
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_false(tern_conn_retry_received(c));
    /* an authentic one: followed */
    n = make_retry(c, 0x22, pkt, sizeof(pkt));
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_true(tern_conn_retry_received(c));
    size_t token_len;
    const uint8_t *token = tern_conn_token(c, &token_len);
    assert_int_equal(token_len, 8);
    assert_int_equal(token[0], 0x22);
    /* the client's Initial goes again at once, to the Retry's CID, with the token */
    uint8_t out[1500], plain[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(c, &pa, out, sizeof(out), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 1);
    tern_pkt_hdr h;
    assert_true(forge_open_initial(0, NULL, out, seg, &h, plain, sizeof(plain)) > 0);
    assert_int_equal(h.token_len, 8);
    assert_int_equal(h.token[0], 0x22);
    assert_int_equal(h.dcid.data[0], 0x22);
    /* a second one: ignored, the first one's token and SCID stay */
    n = make_retry(c, 0x33, pkt, sizeof(pkt));
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    token = tern_conn_token(c, &token_len);
    assert_int_equal(token[0], 0x22);
    assert_int_equal(tern_conn_retry_scid(c)->data[0], 0x22);
    assert_true(tern_conn_state(c) < TERN_CS_CLOSING);
    pair_free(&p);
}

/* ---- RFC 9000 §12.4: a packet without frames; §17.2.2: a server's Initial with a token ---------
 */

static void test_packet_without_frames_closed(void **st)
{
    tern_pair p;
    connect_pair(&p, 360);
    uint8_t pkt[1500]; /* 4 bytes of packet number leave room for the sample */
    size_t n = forge_1rtt(p.client, NULL, 0, FORGE_NO_PADDING, p.now, pkt, sizeof(pkt));
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    assert_closed_with(&p, p.server, TERN_TE_PROTOCOL_VIOLATION);
    pair_free(&p);
}

static void server_initial_token_case(int with_token, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    assert_true(pair_run(&p, cond_client_has_hs_keys, 10 * SEC));
    if (tern_conn_space_discarded(p.client, TERN_SPACE_INITIAL) ||
        !tern_conn_tx_keys(p.server, TERN_LEVEL_INITIAL)->aead) {
        pair_free(&p);
        fail_msg("Initial keys gone before the test could use them");
    }
    static const uint8_t token[] = {9, 8, 7, 6};
    uint8_t pkt[1500];
    size_t n = forge_long_from(
        p.server, TERN_LEVEL_INITIAL, &tern_conn_local_cids(p.client)->e[0].cid,
        &tern_conn_local_cids(p.server)->e[0].cid, with_token ? token : NULL,
        with_token ? sizeof(token) : 0, close_pv, sizeof(close_pv), 0, p.now, pkt, sizeof(pkt));
    tern_conn_recv(p.client, &p.path_c, pkt, n, 0, p.now);
    expect_ignored(&p, p.client, with_token);
    pair_free(&p);
}

static void test_server_initial_with_token_dropped(void **st)
{
    server_initial_token_case(1, 361);
    server_initial_token_case(0, 362);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_scid_change_discarded),
        cmocka_unit_test(test_small_initial_dropped_by_server),
        cmocka_unit_test(test_vn_after_retry_ignored),
        cmocka_unit_test(test_vn_listing_our_version_ignored),
        cmocka_unit_test(test_coalesced_other_dcid_ignored),
        cmocka_unit_test(test_short_stateless_reset),
        cmocka_unit_test(test_tls_key_update_rejected),
        cmocka_unit_test(test_post_handshake_cert_request_rejected),
        cmocka_unit_test(test_ticket_max_early_data_checked),
        cmocka_unit_test(test_handshake_keys_released),
        cmocka_unit_test(test_crypto_buffers_released_when_idle),
        cmocka_unit_test(test_key_update_flood_closed),
        cmocka_unit_test(test_key_update_after_ack_accepted),
        cmocka_unit_test(test_previous_phase_packet),
        cmocka_unit_test(test_idle_timeout_negotiated),
        cmocka_unit_test(test_legacy_session_id_closed),
        cmocka_unit_test(test_preferred_address_cid_checked),
        cmocka_unit_test(test_server_recognises_client_reset),
        cmocka_unit_test(test_reserved_bits_closed),
        cmocka_unit_test(test_confidentiality_limit_updates_keys),
        cmocka_unit_test(test_confidentiality_limit_stops),
        cmocka_unit_test(test_integrity_limit_closes),
        cmocka_unit_test(test_key_update_margin),
        cmocka_unit_test(test_receiver_updates_keys_often),
        cmocka_unit_test(test_confidentiality_limit_closes_on_the_wire),
        cmocka_unit_test(test_integrity_limit_across_key_updates),
        cmocka_unit_test(test_closing_and_draining_rates),
        cmocka_unit_test(test_handshake_cids_authenticated),
        cmocka_unit_test(test_retry_once_and_authentic),
        cmocka_unit_test(test_packet_without_frames_closed),
        cmocka_unit_test(test_server_initial_with_token_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
