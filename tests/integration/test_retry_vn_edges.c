/* Which Retry and Version Negotiation packets a client acts on (RFC 9000 §6.2, §17.2.5.2; RFC 9001
 * §5.8): at most one Retry, only with a valid integrity tag, in the version in use, to the client's
 * CID and before it processed anything from the server; a Version Negotiation only before any
 * packet was processed, echoing both of the client's CIDs, and never by a server. Everything else
 * is ignored: the connection goes on as if it had not arrived. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "crypto.h"
#include "forge.h"
#include "packet.h"
#include "pair.h"

#define SEC 1000000000ull
#define MS 1000000ull

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

/* A client whose first flight went nowhere: it has heard nothing from the server. */
static void start_unanswered(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->c2s.blackhole = 1;
    pair_run(p, never, 1 * MS);
    assert_non_null(p->client);
    assert_false(tern_conn_received_any(p->client));
}

/* The handshake completes over the repaired link, with the Retry the client kept (retried) or
 * without one. */
static void finish(tern_pair *p, int retried)
{
    p->c2s.blackhole = 0;
    assert_int_equal(tern_conn_retry_received(p->client), retried);
    if (!retried)
        assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
}

/* A Retry in `version` from SCID and token bytes `id`, to `dcid`, with the tag of `tag_version`
 * for the client's original DCID. */
static size_t retry_tagged(tern_conn *c, uint32_t version, uint32_t tag_version,
                           const tern_cid *dcid, uint8_t id, uint8_t *out, size_t cap)
{
    tern_cid scid = {.len = 8};
    memset(scid.data, id, 8);
    uint8_t token[8];
    memset(token, id, sizeof(token));
    size_t n = tern_pkt_write_retry(out, cap - TERN_AEAD_TAG_LEN, version, dcid, &scid, token,
                                    sizeof(token), 0);
    assert_true(n > 0);
    assert_int_equal(
        tern_crypto_retry_tag(tag_version, tern_conn_initial_dcid(c), out, n, out + n), 0);
    return n + TERN_AEAD_TAG_LEN;
}

/* The same with the tag of its own version. */
static size_t retry_in(tern_conn *c, uint32_t version, const tern_cid *dcid, uint8_t id,
                       uint8_t *out, size_t cap)
{
    return retry_tagged(c, version, version, dcid, id, out, cap);
}

static void expect_token(tern_conn *c, uint8_t id)
{
    size_t len = 0;
    const uint8_t *tok = tern_conn_token(c, &len);
    assert_int_equal(len, 8);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(tok[i], id);
    const tern_cid *scid = tern_conn_retry_scid(c);
    assert_int_equal(scid->len, 8);
    assert_int_equal(scid->data[0], id);
}

/* §17.2.5.2: a client accepts at most one Retry; a second one (authentic) changes nothing. */
static void test_second_retry_ignored(void **st)
{
    (void)st;
    tern_pair p;
    start_unanswered(&p, 4100);
    tern_conn *c = p.client;
    uint8_t pkt[256];
    size_t n = forge_retry(c, 0x5a, pkt, sizeof(pkt));
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_true(tern_conn_retry_received(c));
    expect_token(c, 0x5a);
    n = forge_retry(c, 0x6b, pkt, sizeof(pkt));
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    expect_token(c, 0x5a);
    /* the client's next Initial goes to the first Retry's SCID with its token */
    uint8_t out[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(c, &pa, out, sizeof(out), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 1);
    tern_pkt_hdr h;
    uint8_t plain[1500];
    tern_cid first = {.len = 8};
    memset(first.data, 0x5a, 8);
    assert_true(forge_open_initial(0, &first, out, seg, &h, plain, sizeof(plain)) > 0);
    assert_memory_equal(h.dcid.data, first.data, 8);
    assert_int_equal(h.token_len, 8);
    assert_int_equal(h.token[0], 0x5a);
    assert_int_equal(tern_conn_state(c), TERN_CS_HANDSHAKE);
    pair_free(&p);
}

/* RFC 9001 §5.8: a Retry whose integrity tag does not verify is discarded. */
static void test_retry_bad_tag_ignored(void **st)
{
    (void)st;
    tern_pair p;
    start_unanswered(&p, 4101);
    uint8_t pkt[256];
    size_t n = forge_retry(p.client, 0x5a, pkt, sizeof(pkt));
    assert_true(n > 0);
    pkt[n - 1] ^= 0x01;
    tern_conn_recv(p.client, &p.path_c, pkt, n, 0, p.now);
    size_t len = 1;
    assert_null(tern_conn_token(p.client, &len));
    assert_int_equal(len, 0);
    finish(&p, 0);
    pair_free(&p);
}

/* A Retry of another version than the one in use (here QUIC v2 to a v1 client, with a tag valid
 * in v2), or to another CID than the client's, is not for this connection attempt. */
static void test_retry_other_version_or_cid_ignored(void **st)
{
    (void)st;
    tern_pair p;
    start_unanswered(&p, 4102);
    tern_conn *c = p.client;
    assert_int_equal(tern_conn_version(c), TERN_PROTO_VERSION_1);
    uint8_t pkt[256];
    size_t n = retry_in(c, TERN_PROTO_VERSION_2, &tern_conn_local_cids(c)->e[0].cid, 0x33, pkt,
                        sizeof(pkt));
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_false(tern_conn_retry_received(c));
    /* nor with the tag the version in use would have */
    n = retry_tagged(c, TERN_PROTO_VERSION_2, TERN_PROTO_VERSION_1,
                     &tern_conn_local_cids(c)->e[0].cid, 0x36, pkt, sizeof(pkt));
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_false(tern_conn_retry_received(c));
    tern_cid other = tern_conn_local_cids(c)->e[0].cid;
    other.data[0] ^= 0x80;
    n = retry_in(c, TERN_PROTO_VERSION_1, &other, 0x34, pkt, sizeof(pkt));
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_false(tern_conn_retry_received(c));
    /* the control: the same packet in v1 to the client's CID is taken */
    n = retry_in(c, TERN_PROTO_VERSION_1, &tern_conn_local_cids(c)->e[0].cid, 0x35, pkt,
                 sizeof(pkt));
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_true(tern_conn_retry_received(c));
    expect_token(c, 0x35);
    pair_free(&p);
}

static int client_heard(tern_pair *p)
{
    return p->client && tern_conn_received_any(p->client);
}

/* §17.2.5.2: once the client processed a packet from the server, a Retry is discarded; so is a
 * Version Negotiation (§6.2), and both reach a server for nothing. */
static void test_after_server_packet_ignored(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 4103), 0);
    assert_true(pair_run(&p, client_heard, 5 * SEC));
    tern_conn *c = p.client;
    uint8_t pkt[256];
    size_t n = forge_retry(c, 0x44, pkt, sizeof(pkt));
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_false(tern_conn_retry_received(c));
    static const uint32_t versions[] = {0x1a2a3a4a};
    n = tern_pkt_write_vn(pkt, sizeof(pkt), tern_conn_initial_dcid(c),
                          &tern_conn_local_cids(c)->e[0].cid, versions, 1, 0);
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_close_info(c)->status, 0);
    /* the server: a VN and a Retry addressed to its own CID */
    const tern_cid *srv = &tern_conn_local_cids(p.server)->e[0].cid;
    n = tern_pkt_write_vn(pkt, sizeof(pkt), srv, srv, versions, 1, 0);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    n = retry_in(c, TERN_PROTO_VERSION_1, srv, 0x45, pkt, sizeof(pkt));
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_close_info(p.server)->status, 0);
    assert_false(tern_conn_retry_received(p.server));
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 3000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* §6.2: a Version Negotiation must echo the client's CIDs both ways; one whose Source Connection
 * ID is not the DCID the client chose is ignored. */
static void test_vn_wrong_scid_ignored(void **st)
{
    (void)st;
    tern_pair p;
    start_unanswered(&p, 4104);
    tern_conn *c = p.client;
    tern_cid chosen = *tern_conn_initial_dcid(c);
    chosen.data[chosen.len - 1] ^= 0x01;
    static const uint32_t versions[] = {0x1a2a3a4a};
    uint8_t pkt[256];
    /* the VN's SCID is the client's DCID argument, its DCID the client's SCID */
    size_t n = tern_pkt_write_vn(pkt, sizeof(pkt), &chosen, &tern_conn_local_cids(c)->e[0].cid,
                                 versions, 1, 0);
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_state(c), TERN_CS_HANDSHAKE);
    assert_int_equal(tern_conn_close_info(c)->status, 0);
    finish(&p, 0);
    pair_free(&p);
}

static char qlog_text[1 << 16];
static size_t qlog_n;

static void keep_qlog(void *ud, tern_conn *c, const char *r, size_t len)
{
    (void)ud;
    (void)c;
    if (qlog_n + len + 1 > sizeof(qlog_text))
        qlog_n = 0;
    memcpy(qlog_text + qlog_n, r, len);
    qlog_n += len;
    qlog_text[qlog_n] = 0;
}

/* §6.2: a Version Negotiation that echoes the client's CIDs and lists none of its versions ends
 * the attempt; qlog records the close as a version mismatch the server's answer caused. */
static void test_vn_ends_attempt_in_qlog(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 4105), 0);
    p.cfg_c.qlog = keep_qlog;
    p.c2s.blackhole = 1;
    pair_run(&p, never, 1 * MS);
    tern_conn *c = p.client;
    qlog_n = 0;
    qlog_text[0] = 0;
    static const uint32_t versions[] = {0x1a2a3a4a, 0x5a6a7a8a};
    uint8_t pkt[256];
    size_t n = tern_pkt_write_vn(pkt, sizeof(pkt), tern_conn_initial_dcid(c),
                                 &tern_conn_local_cids(c)->e[0].cid, versions, 2, 0);
    assert_true(n > 0);
    tern_conn_recv(c, &p.path_c, pkt, n, 0, p.now);
    assert_int_equal(tern_conn_state(c), TERN_CS_DONE);
    assert_int_equal(tern_conn_close_info(c)->status, TERN_ERR_VERSION);
    const char *rec = strstr(qlog_text, "\"name\":\"quic:connection_closed\"");
    assert_non_null(rec);
    assert_non_null(strstr(rec, "\"initiator\":\"remote\""));
    assert_non_null(strstr(rec, "\"trigger\":\"version_mismatch\""));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_retry_ignored),
        cmocka_unit_test(test_retry_bad_tag_ignored),
        cmocka_unit_test(test_retry_other_version_or_cid_ignored),
        cmocka_unit_test(test_after_server_packet_ignored),
        cmocka_unit_test(test_vn_wrong_scid_ignored),
        cmocka_unit_test(test_vn_ends_attempt_in_qlog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
