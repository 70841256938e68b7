/* NEW_TOKEN frames between two cores in virtual time (tests/common/pair.h): the server sends one
 * token once the handshake is confirmed and no more while the client stays where it is, a new
 * one bound to the client's new address after a migration, a fresh one when the frame was lost,
 * and one later when its random source failed at first; a server without a token key, or with
 * a lifetime of 0, sends none. What the client gets opens under the server's key for the
 * client's address only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "allochook.h"
#include "conn_internal.h"
#include "conn_test.h"
#include "migration.h"
#include "pair.h"
#include "token.h"

#define SEC 1000000000ull
#define MS 1000000ull

static const uint8_t token_key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static int cond_token(tern_pair *p)
{
    return p->new_tokens > 0;
}

static void start(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->token_key = token_key;
}

/* The token opens for the client's address as the server sees it, and for no other. */
static void assert_token_for(tern_pair *p, const tern_addr *client, const char *other)
{
    assert_int_equal(
        tern_token_open(token_key, p->last_token, p->last_token_len, client, p->now, 86400 * SEC),
        0);
    tern_addr o;
    assert_int_equal(tern_addr_parse(&o, other, 0), 0);
    assert_int_equal(
        tern_token_open(token_key, p->last_token, p->last_token_len, &o, p->now, 86400 * SEC),
        TERN_ERR_DROP);
}

static void test_one_token_after_confirmation(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 401);
    assert_true(pair_run(&p, cond_token, 5 * SEC));
    assert_true(tern_conn_handshake_confirmed(p.server));
    assert_int_equal(pair_request(&p, 2 << 20), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(p.new_tokens, 1);
    assert_int_equal(tern_conn_new_tokens_sent(p.server), 1);
    assert_token_for(&p, &p.path_s.remote, "192.0.2.99:1");
    pair_free(&p);

    /* no key, or no lifetime: none */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pair_init(&p, 402), 0);
        if (i) {
            p.token_key = token_key;
            p.cfg_s.token_lifetime_ms = 0;
        }
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_int_equal(pair_request(&p, 1000), 0);
        assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
        assert_int_equal(p.new_tokens, 0);
        assert_int_equal(tern_conn_new_tokens_sent(p.server), 0);
        pair_free(&p);
    }
}

/* A migration to another address: a second token, bound to it; back to the first address's
 * network it would need the first one. A port change alone (a NAT rebinding) brings none. */
static void test_new_token_after_migration(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 403);
    assert_true(pair_run(&p, cond_token, 5 * SEC));
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    tern_addr first = p.path_s.remote;
    tern_addr cell;
    assert_int_equal(tern_addr_parse(&cell, "10.0.0.4:7000", 0), 0);
    assert_true(tern_conn_path_set_active(p.client, &cell, p.now) > 0);
    assert_int_equal(pair_request(&p, 200000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(p.new_tokens, 2);
    assert_token_for(&p, &cell, "10.0.0.5:7000");
    assert_int_equal(
        tern_token_open(token_key, p.last_token, p.last_token_len, &first, p.now, 86400 * SEC) == 0,
        tern_addr_equal(&first, &cell));
    /* another port on the same address */
    tern_addr port;
    assert_int_equal(tern_addr_parse(&port, "10.0.0.4:7001", 0), 0);
    assert_true(tern_conn_path_set_active(p.client, &port, p.now) > 0);
    assert_int_equal(pair_request(&p, 200000), 2);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_int_equal(p.new_tokens, 2);
    pair_free(&p);
}

/* Every server datagram after the handshake is lost for 300 ms: the packet with the NEW_TOKEN
 * is declared lost and a fresh token (another nonce) goes out. */
static int drop_server_1rtt(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    (void)pa;
    uint64_t *until = p->filter_ud;
    if (to_server || !tern_conn_handshake_confirmed(p->server))
        return 0;
    if (!*until)
        *until = p->now + 300 * MS;
    return p->now < *until;
}

static void test_lost_token_replaced(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 404);
    uint64_t until = 0;
    p.filter = drop_server_1rtt;
    p.filter_ud = &until;
    assert_true(pair_run(&p, cond_token, 5 * SEC));
    assert_int_equal(p.new_tokens, 1);
    assert_true(tern_conn_new_tokens_sent(p.server) >= 2);
    assert_token_for(&p, &p.path_s.remote, "192.0.2.99:1");
    pair_free(&p);
}

/* The server's random source fails when the token is due: it goes out with the next packets
 * once randomness works again (as connection IDs do). */
static void fail_rand_at_confirmation(tern_pair *p, tern_conn *c, int from_server)
{
    uint64_t *until = p->app_ud;
    if (!from_server || !tern_conn_handshake_confirmed(c))
        return;
    if (!*until)
        *until = p->now + 200 * MS;
    p->rand_fail = p->now < *until;
}

static void test_token_waits_for_randomness(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 405);
    uint64_t until = 0;
    p.before_send = fail_rand_at_confirmation;
    p.app_ud = &until;
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    pair_run(&p, cond_token, 100 * MS);
    assert_int_equal(p.new_tokens, 0);
    assert_true(until && tern_conn_new_tokens_sent(p.server) == 0);
    p.now = until; /* randomness is back; the next request brings traffic */
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_run(&p, cond_token, 1 * SEC));
    assert_int_equal(p.new_tokens, 1);
    pair_free(&p);
}

/* The client hands every NEW_TOKEN of up to 512 bytes to the application, whatever server made
 * it (here frames injected as the server's); a longer one is not reported, and costs nothing. */
static void test_client_reports_tokens(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 406), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    uint8_t frame[2 + 40];
    frame[0] = 0x07;
    frame[1] = 40; /* a one-byte varint length */
    for (int i = 0; i < 40; i++)
        frame[2 + i] = (uint8_t)(0x36 + i);
    assert_int_equal(pair_inject_1rtt(&p, 0, frame, 2 + 40), 0);
    assert_int_equal(p.new_tokens, 1);
    assert_int_equal(p.last_token_len, 40);
    assert_memory_equal(p.last_token, frame + 2, 40);
    /* 600 bytes: two-byte varint 0x4258 */
    static uint8_t big[3 + 600];
    big[0] = 0x07;
    big[1] = 0x42;
    big[2] = 0x58;
    assert_int_equal(pair_inject_1rtt(&p, 0, big, sizeof(big)), 0);
    assert_int_equal(p.new_tokens, 1);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

static int counter_rand(void *ud, uint8_t *out, size_t len)
{
    static uint8_t n;
    (void)ud;
    for (size_t i = 0; i < len; i++)
        out[i] = n++;
    return 0;
}

/* tern_conn_set_token copies the token: without memory, TERN_ERR_NOMEM, and the connection keeps
 * what it had. */
static void test_set_token_nomem(void **st)
{
    (void)st;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_pair p;
    assert_int_equal(pair_init(&p, 407), 0); /* its configurations and TLS contexts */
    tern_conn_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.cfg = &p.cfg_c;
    cp.tls_ctx = p.tls_c;
    cp.rand = counter_rand;
    cp.reset_key = p.reset_key;
    cp.server_name = "localhost";
    tern_conn *c;
    assert_int_equal(tern_conn_new(&c, &cp, &p.path_c, 1), 0);
    static const uint8_t tok[8] = {0x4e, 1, 2, 3, 4, 5, 6, 7};
    allochook_fail_next = 1;
    int rv = tern_conn_set_token(c, tok, sizeof(tok));
    allochook_fail_next = 0;
    assert_int_equal(rv, TERN_ERR_NOMEM);
    size_t len = 1;
    assert_null(tern_conn_token(c, &len));
    assert_int_equal(len, 0);
    assert_int_equal(tern_conn_set_token(c, tok, sizeof(tok)), 0);
    assert_memory_equal(tern_conn_token(c, &len), tok, sizeof(tok));
    assert_int_equal(len, sizeof(tok));
    tern_conn_free(c);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_token_after_confirmation),
        cmocka_unit_test(test_new_token_after_migration),
        cmocka_unit_test(test_lost_token_replaced),
        cmocka_unit_test(test_token_waits_for_randomness),
        cmocka_unit_test(test_client_reports_tokens),
        cmocka_unit_test(test_set_token_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
