/* Transport parameters a client must refuse when they arrive in the server's TLS handshake (RFC
 * 9000 §7.3, §18.2): the server of a real pair sends altered parameters (tern_tls_set_tparams
 * before it reads the ClientHello), and the client must close with TRANSPORT_PARAMETER_ERROR,
 * which reaches the server on the wire; parameters that are only unusual are accepted. The
 * server side of §7.3: a client Initial whose Source Connection ID an attacker rewrote (anyone
 * can, with the Initial keys) no longer matches the client's initial_source_connection_id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "forge.h"
#include "migration.h"
#include "packet.h"
#include "pair.h"
#include "tls.h"

#define SEC 1000000000ull

static void expect_refused(void (*f)(tern_tparams *tp), uint64_t seed, const char *why)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.alter_server_tparams = f;
    assert_true(pair_run(&p, pair_cond_client_closing, 5 * SEC));
    assert_true(pair_refused(p.client, TERN_TE_TRANSPORT_PARAMETER_ERROR, why ? why : ""));
    assert_false(p.connected);
    /* the client's CONNECTION_CLOSE reaches the server with the same code */
    assert_true(pair_run(&p, pair_cond_server_draining, 5 * SEC));
    const tern_close_info *si = tern_conn_close_info(p.server);
    assert_int_equal(si->local, 0);
    assert_int_equal(si->error_code, TERN_TE_TRANSPORT_PARAMETER_ERROR);
    pair_free(&p);
}

static void wrong_original_dcid(tern_tparams *tp)
{
    tp->original_dcid.data[0] ^= 1;
}
static void wrong_initial_scid(tern_tparams *tp)
{
    tp->initial_scid.data[0] ^= 1;
}
static void retry_scid_without_retry(tern_tparams *tp)
{
    tp->has_retry_scid = 1;
    tp->retry_scid = tp->initial_scid;
}
static void preferred_address_without_cid(tern_tparams *tp)
{
    tp->has_preferred_address = 1;
    memset(&tp->preferred_address, 0, sizeof(tp->preferred_address));
    tp->preferred_address.ipv4[0] = 10;
    tp->preferred_address.ipv4_port = 443;
    tp->preferred_address.cid.len = 1; /* encodable; then cut to zero in the bytes below */
}

static void test_original_dcid_mismatch(void **st)
{
    expect_refused(wrong_original_dcid, 900, "original_destination_connection_id");
}

static void test_initial_scid_mismatch(void **st)
{
    expect_refused(wrong_initial_scid, 901, "initial_source_connection_id");
}

/* The client's first Initial, opened and protected again with its Source Connection ID changed
 * (`rewrite`) or not (the control): the server must refuse the parameters of the former and
 * complete the handshake of the latter. */
static void server_scid_case(int rewrite, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    assert_true(pair_run(&p, pair_cond_now, 0)); /* creates the client, sends nothing */
    tern_cid scid = tern_conn_local_tparams(p.client)->initial_scid;
    if (rewrite)
        scid.data[0] ^= 0x5a;
    assert_int_equal(pair_rewrite_first_initial(&p, TERN_PROTO_VERSION_1, &scid), 0);
    assert_true(tern_cid_eq(tern_conn_peer_initial_scid(p.server), &scid));
    if (!rewrite) {
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_true(tern_conn_peer_tparams_received(p.server));
        pair_free(&p);
        return;
    }
    assert_true(pair_refused(p.server, TERN_TE_TRANSPORT_PARAMETER_ERROR, "initial_source_connection_id"));
    /* what follows never completes a handshake: the server answers only with its close */
    pair_run(&p, pair_cond_connected, 2 * SEC);
    assert_false(p.connected);
    assert_false(tern_conn_is_established(p.server));
    pair_free(&p);
}

static void test_server_refuses_initial_scid_mismatch(void **st)
{
    server_scid_case(1, 910);
    server_scid_case(0, 911);
}

static void test_retry_scid_without_retry(void **st)
{
    expect_refused(retry_scid_without_retry, 902, "retry_source_connection_id");
}

/* Raw parameter bytes instead of an encoded struct. */
static const uint8_t *raw;
static size_t raw_len;
static void send_raw(tern_pair *p)
{
    assert_int_equal(tern_tls_set_tparams(tern_conn_tls(p->server), raw, raw_len), 0);
}

static void expect_raw_refused(const uint8_t *b, size_t n, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    raw = b;
    raw_len = n;
    p.server_created = send_raw;
    assert_true(pair_run(&p, pair_cond_client_closing, 5 * SEC));
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->local, 1);
    assert_int_equal(ci->error_code, TERN_TE_TRANSPORT_PARAMETER_ERROR);
    assert_false(p.connected);
    pair_free(&p);
}

static void test_malformed_or_missing(void **st)
{
    /* empty: no initial_source_connection_id, no original_destination_connection_id */
    expect_raw_refused(NULL, 0, 903);
    /* active_connection_id_limit 1 (must be >= 2) */
    static const uint8_t limit1[] = {0x0e, 0x01, 0x01};
    expect_raw_refused(limit1, sizeof(limit1), 904);
    /* max_udp_payload_size 1199 */
    static const uint8_t udp[] = {0x03, 0x02, 0x44, 0xaf};
    expect_raw_refused(udp, sizeof(udp), 905);
    /* a parameter whose length runs past the end */
    static const uint8_t cut[] = {0x01, 0x08, 0x01};
    expect_raw_refused(cut, sizeof(cut), 906);
}

static void test_preferred_address_without_cid(void **st)
{
    /* encode a preferred address with a 1-byte CID, then rewrite it as zero-length (§18.2) */
    tern_pair p;
    assert_int_equal(pair_init(&p, 907), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC)); /* to learn the server's params */
    tern_tparams tp = *tern_conn_local_tparams(p.server);
    pair_free(&p);
    preferred_address_without_cid(&tp);
    static uint8_t buf[512];
    size_t n = tern_tparams_encode(&tp, 1, buf, sizeof(buf));
    assert_true(n > 0);
    /* find the preferred_address parameter (id 0x0d, length 4+2+16+2+1+1+16 = 42) */
    size_t at = SIZE_MAX;
    for (size_t i = 0; i + 2 < n; i++)
        if (buf[i] == 0x0d && buf[i + 1] == 42) {
            at = i;
            break;
        }
    assert_true(at != SIZE_MAX);
    buf[at + 1] = 41;                                                 /* one byte shorter */
    buf[at + 2 + 24] = 0;                                             /* CID length 0 */
    memmove(buf + at + 2 + 25, buf + at + 2 + 26, n - (at + 2 + 26)); /* drop the CID byte */
    n--;
    expect_raw_refused(buf, n, 907); /* same seed: the same CIDs as the parameters carry */
}

static void unusual(tern_tparams *tp)
{
    tp->disable_active_migration = 1;
    tp->max_ack_delay = 1000;
    tp->ack_delay_exponent = 20;
    tp->max_udp_payload_size = 1200;
    tp->active_connection_id_limit = 2;
}

static void test_unusual_but_valid(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 908), 0);
    p.alter_server_tparams = unusual;
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_true(tern_conn_peer_tparams_received(p.client));
    assert_int_equal(tern_conn_peer_tparams(p.client)->disable_active_migration, 1);
    assert_int_equal(tern_conn_peer_tparams(p.client)->max_ack_delay, 1000);
    assert_int_equal(tern_conn_peer_ack_delay_exponent(p.client), 20);
    /* the peer forbids migration: the client refuses to add a path */
    tern_addr a;
    tern_addr_parse(&a, "10.0.0.1:5001", 0);
    assert_int_equal(tern_conn_path_add(p.client, &a, p.now), TERN_ERR_MIGRATION_DISABLED);
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pair_request(&p, 50000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_original_dcid_mismatch),
        cmocka_unit_test(test_initial_scid_mismatch),
        cmocka_unit_test(test_server_refuses_initial_scid_mismatch),
        cmocka_unit_test(test_retry_scid_without_retry),
        cmocka_unit_test(test_malformed_or_missing),
        cmocka_unit_test(test_preferred_address_without_cid),
        cmocka_unit_test(test_unusual_but_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
