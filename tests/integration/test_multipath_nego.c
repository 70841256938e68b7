/* Multipath negotiation (draft-ietf-quic-multipath-21 §2) between two tern connections: the
 * extension is in use only when both sides set tern_config.multipath; otherwise the wire carries
 * nothing of it (the default) or only the offer, and the connection behaves as before: a
 * multipath frame then is an unknown frame type (RFC 9000 §12.4: FRAME_ENCODING_ERROR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_internal.h"
#include "forge.h"
#include "mpframe.h"
#include "pair.h"

#define SEC 1000000000ull

static void run(tern_pair *p, uint64_t seed, int cli, int srv)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_c.multipath = (uint64_t)cli;
    p->cfg_s.multipath = (uint64_t)srv;
    assert_true(pair_run(p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(p, 200000), 0);
    assert_true(pair_run(p, pair_cond_all_done, 20 * SEC));
    assert_true(pair_verify(p));
}

static uint64_t stat_mp(tern_conn *c)
{
    tern_conn_stats st;
    assert_int_equal(tern_conn_get_stats(c, &st), 0);
    return st.multipath;
}

static void test_both_on(void **state)
{
    (void)state;
    tern_pair p;
    run(&p, 71, 1, 1);
    assert_int_equal(stat_mp(p.client), 1);
    assert_int_equal(stat_mp(p.server), 1);
    /* each side read the other's offer: the largest path ID it accepts */
    assert_true(p.client->tp.peer.has_initial_max_path_id);
    assert_true(p.server->tp.peer.has_initial_max_path_id);
    assert_int_equal(p.client->mp.peer_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID);
    assert_int_equal(p.server->mp.peer_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID);
    pair_free(&p);
}

static void test_one_side(void **state)
{
    (void)state;
    tern_pair p;
    /* client offers, server declines: the server sends no offer, neither side uses it */
    run(&p, 72, 1, 0);
    assert_int_equal(stat_mp(p.client), 0);
    assert_int_equal(stat_mp(p.server), 0);
    assert_true(p.server->tp.peer.has_initial_max_path_id);
    assert_false(p.client->tp.peer.has_initial_max_path_id);
    pair_free(&p);
    /* and the other way round */
    run(&p, 73, 0, 1);
    assert_int_equal(stat_mp(p.client), 0);
    assert_int_equal(stat_mp(p.server), 0);
    assert_false(p.server->tp.peer.has_initial_max_path_id);
    assert_true(p.client->tp.peer.has_initial_max_path_id);
    pair_free(&p);
}

static void test_default_off(void **state)
{
    (void)state;
    tern_pair p;
    assert_int_equal(pair_init(&p, 74), 0);
    assert_int_equal(p.cfg_c.multipath, 0);
    assert_int_equal(p.cfg_s.multipath, 0);
    pair_free(&p);
    run(&p, 74, 0, 0);
    assert_false(p.server->tp.peer.has_initial_max_path_id);
    assert_false(p.client->tp.peer.has_initial_max_path_id);
    assert_int_equal(stat_mp(p.client), 0);
    pair_free(&p);
}

static void test_bad_config(void **state)
{
    (void)state;
    tern_pair p;
    assert_int_equal(pair_init(&p, 75), 0);
    p.cfg_c.multipath = 2;
    assert_int_equal(pair_start(&p), TERN_ERR_CONFIG);
    pair_free(&p);
}

/* Without the extension negotiated a multipath frame is an unknown frame type. */
static void test_frame_without_extension(void **state)
{
    (void)state;
    tern_pair p;
    run(&p, 76, 1, 0);
    uint8_t f[16], pkt[1500];
    size_t n = tern_mpframe_write_max_path_id(f, sizeof(f), 3);
    assert_true(n > 0);
    size_t len = forge_1rtt(p.client, f, n, FORGE_NO_PADDING, p.now, pkt, sizeof(pkt));
    assert_true(len > 0);
    tern_path_addr pa = p.path_s;
    tern_conn_recv(p.server, &pa, pkt, len, 0, p.now);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p.server);
    assert_int_equal(ci->error_code, TERN_TE_FRAME_ENCODING_ERROR);
    assert_int_equal(ci->frame_type, TERN_FT_MAX_PATH_ID);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_on),
        cmocka_unit_test(test_one_side),
        cmocka_unit_test(test_default_off),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_frame_without_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
