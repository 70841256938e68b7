/* Announcing our connection IDs through the connection: a NEW_CONNECTION_ID lost with its packet is
 * sent again, alone (not the ones announced after it), and never for a CID retired meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_test.h"
#include "frame.h"
#include "pair.h"

#define SEC 1000000000ull

static void lose_new_cid(tern_conn *c, uint64_t seq)
{
    tern_sent_pkt pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.n_frames = 1;
    pkt.frames[0].type = TERN_FT_NEW_CONNECTION_ID;
    pkt.frames[0].id = seq;
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &pkt);
}

static int cond_announced(tern_pair *p)
{
    return tern_local_cids_next_unannounced(tern_conn_local_cids(p->server)) == NULL;
}

static void test_lost_announcement_resent(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 61), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 100), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    tern_local_cids *l = tern_conn_local_cids(p.server);
    assert_true(l->n >= 3); /* seq 0, and at least two announced */
    assert_null(tern_local_cids_next_unannounced(l));
    tern_conn_stats stats;
    tern_conn_get_stats(p.server, &stats);
    uint64_t sent_before = stats.pkts_sent;
    lose_new_cid(p.server, 1);
    const tern_cid_entry *e = tern_local_cids_next_unannounced(l);
    assert_non_null(e);
    assert_int_equal(e->seq, 1);
    assert_true(pair_run(&p, cond_announced, SEC));
    tern_conn_get_stats(p.server, &stats);
    assert_true(stats.pkts_sent > sent_before);
    /* one retired meanwhile is not announced again */
    tern_cid_entry removed;
    assert_int_equal(tern_local_cids_retire(l, 2, NULL, &removed), 0);
    lose_new_cid(p.server, 2);
    assert_null(tern_local_cids_next_unannounced(l));
    /* and the connection still works */
    assert_int_equal(pair_request(&p, 10000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_announcement_resent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
