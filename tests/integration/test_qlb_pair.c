/* QUIC-LB CIDs on a connection: a server whose CIDs come from the QUIC-LB generator completes a
 * download, and every CID its client learned (the handshake SCID, the preferred address's, each
 * NEW_CONNECTION_ID) decodes to the configured server ID, with the worker octet when the server is
 * one worker of several. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <string.h>

#include "conn_test.h"
#include "pair.h"
#include "qlb.h"

#define SEC 1000000000ull

typedef struct gen_ctx {
    tern_cidgen g;
    tern_pair *p;
    int made;
} gen_ctx;

static int gen_rand(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(*s >> 56);
    }
    return 0;
}

static uint64_t gen_seed = 77;

static int make(void *ud, tern_conn *c, tern_cid *cid)
{
    gen_ctx *x = ud;
    (void)c;
    x->made++;
    return tern_cidgen_make(&x->g, gen_rand, &gen_seed, cid);
}

static void run(size_t sid_len, size_t nonce_len, int keyed, unsigned worker, unsigned workers)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 500 + sid_len), 0);
    tern_config qc;
    memset(&qc, 0, sizeof(qc));
    qc.qlb_server_id_len = (uint8_t)sid_len;
    qc.qlb_nonce_len = (uint8_t)nonce_len;
    qc.qlb_config_id = 2;
    qc.qlb_has_key = (uint8_t)keyed;
    qc.qlb_encode_len = 1;
    for (size_t i = 0; i < sid_len; i++)
        qc.qlb_server_id[i] = (uint8_t)(0x51 * (i + 1));
    for (int i = 0; i < 16; i++)
        qc.qlb_key[i] = (uint8_t)(0x33 + i);
    gen_ctx x;
    memset(&x, 0, sizeof(x));
    assert_int_equal(tern_cidgen_init(&x.g, &qc, 8, worker, workers), 0);
    p.new_cid = make;
    p.new_cid_ud = &x;
    p.scid_len = x.g.len;
    /* a preferred address the client is told of (its CID is seq 1) but does not follow */
    assert_int_equal(tern_addr_parse(&p.cfg_s.preferred_address, "10.9.9.9:4433", 0), 0);
    p.cfg_c.follow_preferred_address = 0;
    p.cfg_c.active_connection_id_limit = 8;
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 300000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    assert_true(pair_verify(&p));

    /* what the client holds came over the wire from the server */
    tern_peer_cids *pc = tern_conn_peer_cids(p.client);
    tern_local_cids *lc = tern_conn_local_cids(p.server);
    assert_true(pc->n >= 4);
    assert_int_equal(x.made, lc->next_seq); /* every CID the server issued came from make */
    int seq1 = 0;
    for (size_t i = 0; i < pc->n; i++) {
        const tern_cid *cid = &pc->e[i].cid;
        assert_int_equal(cid->len, x.g.len);
        uint8_t sid[15];
        assert_int_equal(tern_qlb_decode(&x.g.qlb, cid->data, cid->len, sid, NULL), 0);
        assert_memory_equal(sid, qc.qlb_server_id, sid_len);
        assert_int_equal(cid->data[0] >> 5, 2);
        assert_int_equal(cid->data[0] & 0x1f, x.g.len - 1);
        assert_int_equal(tern_cidgen_worker_of(&x.g, cid->data, cid->len),
                         workers > 1 ? (int)worker : -1);
        seq1 |= pc->e[i].seq == 1;
    }
    assert_true(seq1);
    tern_cidgen_free(&x.g);
    pair_free(&p);
}

static void test_four_pass(void **st)
{
    (void)st;
    run(2, 6, 1, 0, 0);
}

static void test_single_pass_worker(void **st)
{
    (void)st;
    run(8, 8, 1, 1, 2);
}

static void test_plaintext(void **st)
{
    (void)st;
    run(3, 5, 0, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_pass),
        cmocka_unit_test(test_single_pass_worker),
        cmocka_unit_test(test_plaintext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
