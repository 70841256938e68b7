/* The CIDs of path IDs above 0 that a connection issues and retires once multipath is negotiated
 * (multipath.c): PATH_NEW_CONNECTION_ID up to the peer's maximum path ID and
 * active_connection_id_limit, a replacement for each CID the peer retires, PATH_RETIRE_CONNECTION_ID
 * for the peer's CIDs its Retire Prior To retires, and each of them sent again when lost. The
 * datagrams between the two connections are carried by hand here, each opened and its frames
 * counted on the way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "conn_internal.h"
#include "forge.h"
#include "mpframe.h"
#include "mpfx.h"

#define MS MPFX_MS
#define SEC MPFX_SEC
#define SERVER_MAX_PATH_ID 2 /* what the server advertises in initial_max_path_id */

static uint64_t next_seed = 1900;

typedef mpfx_tally tally;

static void connect_mp(tern_pair *p)
{
    mpfx_connect(p, next_seed++, SERVER_MAX_PATH_ID);
}

#define pump mpfx_pump
#define inject mpfx_inject
#define advance mpfx_advance

static size_t held(const tern_conn *c, uint64_t path)
{
    size_t n = 0;
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
        n += c->mp.ids[path - 1].cids[i].used;
    return n;
}

static const tern_mp_peer_cid *held_seq(const tern_conn *c, uint64_t path, uint64_t seq)
{
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++) {
        const tern_mp_peer_cid *e = &c->mp.ids[path - 1].cids[i];
        if (e->used && e->seq == seq)
            return e;
    }
    return NULL;
}

static size_t issued(const tern_conn *c, uint64_t path, int state)
{
    size_t n = 0;
    for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
        n += c->mp.ids[path - 1].lcids[i].state == state;
    return n;
}

/* During the handshake each side issues CIDs for the path IDs the other allows, as many as its
 * active_connection_id_limit (at most TERN_MP_LOCAL_CIDS), and they arrive. */
static void test_issued_at_handshake(void **state)
{
    (void)state;
    tern_pair p;
    connect_mp(&p);
    uint64_t lim_c = p.client->mp.peer_cid_limit, lim_s = p.server->mp.peer_cid_limit;
    assert_int_equal(lim_c, TERN_MIN(p.server->tp.local.active_connection_id_limit,
                                     (uint64_t)TERN_MP_LOCAL_CIDS));
    assert_true(lim_c >= 2 && lim_s >= 2);
    /* the server allows path IDs up to 2: the client issued for 1 and 2 only */
    for (uint64_t id = 1; id <= TERN_MP_LOCAL_MAX_PATH_ID; id++) {
        size_t want = id <= SERVER_MAX_PATH_ID ? lim_c : 0;
        assert_int_equal(p.client->mp.ids[id - 1].lnext_seq, want);
        assert_int_equal(issued(p.client, id, TERN_MP_LCID_HELD), want);
        assert_int_equal(held(p.server, id), want);
        for (uint64_t s = 0; s < want; s++) {
            const tern_mp_peer_cid *e = held_seq(p.server, id, s);
            assert_non_null(e);
            /* the very CID and token the client made for it */
            const tern_mp_local_cid *l = &p.client->mp.ids[id - 1].lcids[0];
            for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
                if (p.client->mp.ids[id - 1].lcids[i].seq == s)
                    l = &p.client->mp.ids[id - 1].lcids[i];
            assert_true(tern_cid_eq(&l->cid, &e->cid));
            assert_memory_equal(l->token, e->token, TERN_RESET_TOKEN_LEN);
        }
        /* the client allows 7: the server issued for every path ID */
        assert_int_equal(p.server->mp.ids[id - 1].lnext_seq, lim_s);
        assert_int_equal(held(p.client, id), lim_s);
    }
    assert_false(tern_mp_pending(p.client));
    assert_false(tern_mp_pending(p.server));
    pair_free(&p);
}

/* MAX_PATH_ID opens path IDs: CIDs for exactly those go out, sequence numbers from 0; lost, they
 * are sent again (the same sequence numbers) and arrive. */
static void test_max_path_id_and_loss(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[16];
    connect_mp(&p);
    uint64_t lim = p.client->mp.peer_cid_limit;
    inject(&p, 1, b, tern_mpframe_write_max_path_id(b, sizeof(b), 4));
    assert_int_equal(p.client->mp.peer_max_path_id, 4);
    assert_true(tern_mp_pending(p.client));
    tally t;
    memset(&t, 0, sizeof(t));
    pump(&p, 0, 1, &t); /* all lost */
    assert_int_equal(t.new_n, 2 * lim);
    for (size_t i = 0; i < t.new_n; i++) {
        assert_int_equal(t.new_path[i], 3 + i / lim);
        assert_int_equal(t.new_seq[i], i % lim);
    }
    assert_int_equal(held(p.server, 3), 0);
    assert_int_equal(issued(p.client, 3, TERN_MP_LCID_SENT), lim);
    /* nothing more until the loss is detected */
    memset(&t, 0, sizeof(t));
    pump(&p, 0, 0, &t);
    assert_int_equal(t.new_n, 0);
    /* the PTO fires (its probe lost too), then the loss: sent again, the same frames */
    advance(&p, p.now + 2 * SEC);
    memset(&t, 0, sizeof(t));
    pump(&p, 0, 1, &t);
    advance(&p, p.now + 4 * SEC);
    pump(&p, 0, 0, &t);
    pump(&p, 1, 0, NULL);
    pump(&p, 0, 0, &t);
    assert_true(t.new_n >= 2 * lim);
    /* the server's acknowledgement */
    advance(&p, p.now + 100 * MS);
    pump(&p, 1, 0, NULL);
    for (uint64_t id = 3; id <= 4; id++) {
        assert_int_equal(held(p.server, id), lim);
        for (uint64_t s = 0; s < lim; s++) {
            int seen = 0;
            for (size_t i = 0; i < t.new_n; i++)
                seen += t.new_path[i] == id && t.new_seq[i] == s;
            assert_true(seen >= 1);
            assert_non_null(held_seq(p.server, id, s));
        }
        assert_int_equal(issued(p.client, id, TERN_MP_LCID_HELD), lim);
        assert_int_equal(p.client->mp.ids[id - 1].lnext_seq, lim);
    }
    /* none for path IDs above the limit, none repeated once acknowledged */
    assert_int_equal(held(p.server, 5), 0);
    assert_int_equal(p.client->mp.ids[4].lnext_seq, 0);
    assert_false(tern_mp_pending(p.client));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

/* The peer retires one of our CIDs of path ID 1: a replacement with the next sequence number goes
 * out; retiring one never issued is PROTOCOL_VIOLATION. */
static void test_peer_retires_ours(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[16];
    connect_mp(&p);
    uint64_t lim = p.client->mp.peer_cid_limit;
    const tern_mp_peer_cid *e0 = held_seq(p.server, 1, 0);
    assert_non_null(e0);
    tern_cid old = e0->cid;
    inject(&p, 1, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 1, 0));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_int_equal(p.client->mp.ids[0].lnext_seq, lim + 1);
    /* a repeat of that retirement changes nothing */
    inject(&p, 1, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 1, 0));
    assert_int_equal(p.client->mp.ids[0].lnext_seq, lim + 1);
    tally t;
    memset(&t, 0, sizeof(t));
    /* not delivered: the server, which did not retire it itself, still counts seq 0 */
    pump(&p, 0, 1, &t);
    assert_int_equal(t.new_n, 1);
    assert_int_equal(t.new_path[0], 1);
    assert_int_equal(t.new_seq[0], lim);
    const tern_mp_local_cid *l = NULL;
    for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
        if (p.client->mp.ids[0].lcids[i].state == TERN_MP_LCID_SENT)
            l = &p.client->mp.ids[0].lcids[i];
    assert_non_null(l);
    assert_int_equal(l->seq, lim);
    assert_false(tern_cid_eq(&l->cid, &old));
    assert_int_equal(issued(p.client, 1, TERN_MP_LCID_HELD), lim - 1);
    /* PATH_CIDS_BLOCKED at the next sequence number is fine, beyond it a violation */
    inject(&p, 1, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 1, lim + 1));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    inject(&p, 1, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 1, lim + 2));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_CLOSING);
    assert_int_equal(tern_conn_close_info(p.client)->frame_type, TERN_FT_PATH_CIDS_BLOCKED);
    pair_free(&p);

    connect_mp(&p);
    inject(&p, 1, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 2, lim));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->frame_type, TERN_FT_PATH_RETIRE_CONNECTION_ID);
    pair_free(&p);
}

static size_t new_cid(uint8_t *b, uint64_t path, uint64_t seq, uint64_t rpt)
{
    uint8_t cb[8], tok[16];
    tern_cid cid;
    memset(cb, 0xc5, sizeof(cb));
    cb[0] = (uint8_t)seq, cb[1] = (uint8_t)path;
    memset(tok, 0x3c, sizeof(tok));
    tok[0] = (uint8_t)seq, tok[1] = (uint8_t)path;
    tern_cid_set(&cid, cb, sizeof(cb));
    return tern_mpframe_write_path_new_cid(b, 64, path, seq, rpt, &cid, tok);
}

/* The peer's Retire Prior To on path ID 2 retires the CIDs it issued before: one
 * PATH_RETIRE_CONNECTION_ID each (path ID 2, those sequence numbers), sent again when lost; the
 * peer then replaces them. A CID arriving below Retire Prior To is retired at once. */
static void test_we_retire_theirs(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[64];
    connect_mp(&p);
    uint64_t lim = p.server->mp.peer_cid_limit;
    assert_int_equal(held(p.client, 2), lim);
    inject(&p, 1, b, new_cid(b, 2, 20, lim));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_int_equal(held(p.client, 2), 1);
    assert_int_equal(p.client->mp.ids[1].retire_n, lim);
    tally t;
    memset(&t, 0, sizeof(t));
    pump(&p, 0, 1, &t); /* lost */
    assert_int_equal(t.retire_n, lim);
    for (size_t i = 0; i < lim; i++) {
        assert_int_equal(t.retire_path[i], 2);
        assert_int_equal(t.retire_seq[i], i);
    }
    assert_int_equal(p.client->mp.ids[1].retire_n, 0);
    /* detected lost (the PTO's probe lost too): sent again; the server forgets them and sends
     * their replacements (the next sequence numbers), which arrive */
    memset(&t, 0, sizeof(t));
    tally ts;
    memset(&ts, 0, sizeof(ts));
    advance(&p, p.now + 2 * SEC);
    pump(&p, 0, 1, &t);
    advance(&p, p.now + 4 * SEC);
    for (int round = 0; round < 4; round++) {
        pump(&p, 0, 0, &t);
        pump(&p, 1, 0, &ts);
        advance(&p, p.now + 100 * MS);
    }
    assert_true(t.retire_n >= lim);
    for (uint64_t s = 0; s < lim; s++) {
        int seen = 0;
        for (size_t i = 0; i < t.retire_n; i++)
            seen += t.retire_path[i] == 2 && t.retire_seq[i] == s;
        assert_true(seen >= 1);
    }
    for (size_t i = 0; i < t.retire_n; i++)
        assert_true(t.retire_path[i] == 2 && t.retire_seq[i] < lim);
    size_t for2 = 0;
    for (size_t i = 0; i < ts.new_n; i++)
        if (ts.new_path[i] == 2) {
            for2++;
            assert_true(ts.new_seq[i] >= lim && ts.new_seq[i] < 2 * lim);
        }
    assert_true(for2 >= lim);
    for (size_t i = 0; i < lim; i++)
        assert_non_null(held_seq(p.client, 2, lim + i));
    assert_int_equal(p.server->mp.ids[1].lnext_seq, 2 * lim);
    assert_int_equal(issued(p.server, 2, TERN_MP_LCID_HELD), lim);
    assert_int_equal(held(p.client, 2), lim + 1);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    pair_free(&p);

    /* a CID below Retire Prior To, arriving late, is retired at once */
    connect_mp(&p);
    inject(&p, 1, b, new_cid(b, 3, 20, 10));
    inject(&p, 1, b, new_cid(b, 3, 7, 0));
    assert_int_equal(held(p.client, 3), 1);
    assert_non_null(held_seq(p.client, 3, 20));
    memset(&t, 0, sizeof(t));
    pump(&p, 0, 1, &t);
    assert_int_equal(t.retire_n, lim + 1);
    assert_int_equal(t.retire_path[lim], 3);
    assert_int_equal(t.retire_seq[lim], 7);
    pair_free(&p);
}

/* A peer retiring through Retire Prior To faster than the retirements can leave: the queue of
 * each path ID holds TERN_MP_RETIRE_QUEUE, one more is CONNECTION_ID_LIMIT_ERROR. */
static void test_retire_queue_bounded(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[64];
    connect_mp(&p);
    uint64_t lim = p.server->mp.peer_cid_limit;
    /* the genuine ones, then one late CID below Retire Prior To per packet */
    inject(&p, 1, b, new_cid(b, 4, 100, 100));
    uint64_t seq = lim;
    while (p.client->mp.ids[3].retire_n < TERN_MP_RETIRE_QUEUE && seq < 100)
        inject(&p, 1, b, new_cid(b, 4, seq++, 0));
    assert_int_equal(seq, lim + TERN_MP_RETIRE_QUEUE - lim);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_int_equal(held(p.client, 4), 1);
    inject(&p, 1, b, new_cid(b, 4, seq++, 0));
    assert_int_equal(tern_conn_state(p.client), TERN_CS_CLOSING);
    assert_int_equal(tern_conn_close_info(p.client)->error_code, TERN_TE_CONNECTION_ID_LIMIT_ERROR);
    assert_int_equal(p.client->mp.ids[3].retire_n, TERN_MP_RETIRE_QUEUE);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_at_handshake),
        cmocka_unit_test(test_max_path_id_and_loss),
        cmocka_unit_test(test_peer_retires_ours),
        cmocka_unit_test(test_we_retire_theirs),
        cmocka_unit_test(test_retire_queue_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
