/* Connection IDs: our issued set (bound, RETIRE_CONNECTION_ID rules, announcements) and the peer's
 * (NEW_CONNECTION_ID rules, limits, retire_prior_to, the retire queue bound, per-path ownership,
 * stateless reset tokens). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cid.h"

static tern_cid mkcid(uint8_t tag, uint8_t len)
{
    tern_cid c;
    c.len = len;
    for (int i = 0; i < TERN_MAX_CID_LEN; i++)
        c.data[i] = (uint8_t)(tag * 31 + i);
    return c;
}

static void mktoken(uint8_t tag, uint8_t out[TERN_RESET_TOKEN_LEN])
{
    for (int i = 0; i < TERN_RESET_TOKEN_LEN; i++)
        out[i] = (uint8_t)(tag ^ (i * 17));
}

/* NEW_CONNECTION_ID with cid/token derived from the sequence number. */
static int add(tern_peer_cids *p, uint64_t seq, uint64_t rpt, uint32_t *mask, uint64_t *terr)
{
    tern_cid c = mkcid((uint8_t)(seq + 1), 8);
    uint8_t tok[TERN_RESET_TOKEN_LEN];
    mktoken((uint8_t)(seq + 1), tok);
    return tern_peer_cids_on_new(p, seq, rpt, &c, tok, mask, terr);
}

/* ---- ours ------------------------------------------------------------------------------------ */

static void test_local_bound_and_retire(void **st)
{
    tern_local_cids l;
    tern_local_cids_init(&l, 8);
    uint8_t tok[TERN_RESET_TOKEN_LEN];
    mktoken(1, tok);
    tern_cid c0 = mkcid(100, 8);
    tern_cid_entry *e = tern_local_cids_add(&l, &c0, NULL);
    assert_non_null(e);
    assert_int_equal(e->seq, 0);
    assert_int_equal(e->state, TERN_CID_ST_SENT);
    assert_null(tern_local_cids_next_unannounced(&l));
    assert_int_equal(l.cap, 2);
    for (int i = 1; i < TERN_MAX_LOCAL_CIDS; i++) {
        tern_cid c = mkcid((uint8_t)(100 + i), 8);
        e = tern_local_cids_add(&l, &c, tok);
        assert_non_null(e);
        assert_int_equal(e->seq, i);
        /* the table doubles with the CIDs issued: room for 2, 4, 8... */
        size_t want = 2;
        while (want < (size_t)i + 1)
            want *= 2;
        assert_int_equal(l.cap, want);
    }
    tern_cid extra = mkcid(200, 8);
    assert_null(tern_local_cids_add(&l, &extra, tok));
    assert_int_equal(tern_local_cids_count(&l), TERN_MAX_LOCAL_CIDS);
    assert_int_equal(l.cap, TERN_MAX_LOCAL_CIDS);           /* and stops at the bound */
    assert_int_equal(tern_local_cids_reserve(&l, 1000), 0); /* a reservation too */
    assert_int_equal(l.cap, TERN_MAX_LOCAL_CIDS);
    assert_true(tern_local_cids_contains(&l, &c0));
    assert_false(tern_local_cids_contains(&l, &extra));

    /* announcements: lowest first, again after loss, not after retirement */
    e = tern_local_cids_next_unannounced(&l);
    assert_non_null(e);
    assert_int_equal(e->seq, 1);
    tern_local_cids_on_announced(&l, 1);
    assert_int_equal(tern_local_cids_next_unannounced(&l)->seq, 2);
    assert_int_equal(l.unannounced, TERN_MAX_LOCAL_CIDS - 2);
    tern_local_cids_on_announce_lost(&l, 1);
    tern_local_cids_on_announce_lost(&l, 1); /* twice: counted once */
    assert_int_equal(l.unannounced, TERN_MAX_LOCAL_CIDS - 1);
    assert_int_equal(tern_local_cids_next_unannounced(&l)->seq, 1);
    tern_local_cids_on_announced(&l, 1);
    tern_local_cids_on_announced(&l, 1);
    assert_int_equal(l.unannounced, TERN_MAX_LOCAL_CIDS - 2);

    tern_cid_entry removed;
    /* never issued: PROTOCOL_VIOLATION */
    assert_int_equal(tern_local_cids_retire(&l, TERN_MAX_LOCAL_CIDS, NULL, &removed),
                     TERN_ERR_PROTO);
    /* the CID the RETIRE arrived on */
    tern_cid c3 = mkcid(103, 8);
    assert_int_equal(tern_local_cids_retire(&l, 3, &c3, &removed), TERN_ERR_PROTO);
    assert_int_equal(tern_local_cids_count(&l), TERN_MAX_LOCAL_CIDS);
    assert_int_equal(tern_local_cids_retire(&l, 3, &c0, &removed), 0);
    assert_int_equal(removed.seq, 3);
    assert_true(tern_cid_eq(&removed.cid, &c3));
    assert_false(tern_local_cids_contains(&l, &c3));
    assert_int_equal(tern_local_cids_retire(&l, 3, &c0, &removed), 1); /* again: ignored */
    tern_local_cids_on_announce_lost(&l, 3);                           /* retired: no-op */
    assert_int_equal(tern_local_cids_count(&l), TERN_MAX_LOCAL_CIDS - 1);
    assert_int_equal(l.unannounced, TERN_MAX_LOCAL_CIDS - 3); /* 3 was never announced */
    /* all announced: nothing is left, and the answer costs no walk */
    for (uint64_t q = 2; q < TERN_MAX_LOCAL_CIDS; q++)
        tern_local_cids_on_announced(&l, q);
    assert_int_equal(l.unannounced, 0);
    assert_null(tern_local_cids_next_unannounced(&l));
    /* room again, and the next sequence number continues */
    e = tern_local_cids_add(&l, &extra, tok);
    assert_non_null(e);
    assert_int_equal(e->seq, TERN_MAX_LOCAL_CIDS);
    assert_int_equal(e->state, TERN_CID_ST_NEW);
    tern_local_cids_free(&l);
}

/* ---- the peer's ------------------------------------------------------------------------------ */

static void test_peer_limit(void **st)
{
    tern_peer_cids p;
    tern_peer_cids_init(&p, 4);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint64_t terr = 0;
    uint32_t mask = 0;
    assert_int_equal(p.cap, 2); /* room for what arrived, not for the bound */
    for (uint64_t s = 1; s <= 3; s++)
        assert_int_equal(add(&p, s, 0, &mask, &terr), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.cap, 4);
    /* a flood past the limit is refused, and the table holds no more room than the limit */
    for (uint64_t s = 4; s < 100; s++) {
        assert_int_equal(add(&p, s, 0, &mask, &terr), TERN_ERR_PROTO);
        assert_int_equal(p.cap, 4);
    }
    assert_int_equal(add(&p, 4, 0, &mask, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_CONNECTION_ID_LIMIT_ERROR);
    /* the same one retiring two older ones fits */
    assert_int_equal(add(&p, 4, 2, &mask, &terr), 0);
    assert_int_equal(mask, 1u << 0); /* seq 0 was in use by path 0 */
    assert_int_equal(p.n, 3);
    assert_int_equal(p.retire_prior_to, 2);
    uint64_t seq;
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 0);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 1);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 0);
    assert_null(tern_peer_cids_for_path(&p, 0));
    /* the limit never exceeds the table */
    tern_peer_cids_free(&p);
    tern_peer_cids_init(&p, 1000);
    assert_int_equal(p.limit, TERN_MAX_PEER_CIDS);
    tern_peer_cids_free(&p);
}

static void test_peer_retire_prior_to(void **st)
{
    tern_peer_cids p;
    tern_peer_cids_init(&p, 8);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint64_t terr = 0, seq;
    uint32_t mask = 0;
    for (uint64_t s = 1; s <= 4; s++)
        assert_int_equal(add(&p, s, 0, &mask, &terr), 0);
    assert_non_null(tern_peer_cids_take(&p, 3)); /* seq 1 -> path 3 */
    assert_int_equal(add(&p, 5, 3, &mask, &terr), 0);
    assert_int_equal(mask, (1u << 0) | (1u << 3));
    assert_int_equal(p.n, 3); /* 3, 4, 5 */
    assert_int_equal(p.e[0].seq, 3);
    assert_int_equal(p.retire_n, 3);
    /* a lower retire_prior_to is ignored */
    assert_int_equal(add(&p, 6, 1, &mask, &terr), 0);
    assert_int_equal(mask, 0);
    assert_int_equal(p.retire_prior_to, 3);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 0);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 1);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 2);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 0);
    /* a CID below retire_prior_to arriving late (or again): retired at once, never stored */
    tern_cid late = mkcid(99, 8);
    uint8_t late_tok[TERN_RESET_TOKEN_LEN];
    mktoken(99, late_tok);
    assert_int_equal(tern_peer_cids_on_new(&p, 2, 0, &late, late_tok, &mask, &terr), 0);
    assert_int_equal(p.n, 4);
    for (size_t i = 0; i < p.n; i++)
        assert_true(p.e[i].seq >= 3);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 2);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 0);
    /* a lost RETIRE_CONNECTION_ID goes back in the queue, once */
    tern_peer_cids_requeue_retire(&p, 2);
    tern_peer_cids_requeue_retire(&p, 2);
    assert_int_equal(p.retire_n, 1);
    /* retire_prior_to > seq is a malformed frame */
    assert_int_equal(add(&p, 7, 8, &mask, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FRAME_ENCODING_ERROR);
    tern_peer_cids_free(&p);
}

/* A peer that keeps retiring without us sending can only fill the bounded queue, then errors. */
static void test_peer_retire_queue_bound(void **st)
{
    tern_peer_cids p;
    tern_peer_cids_init(&p, 2);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint64_t terr = 0, seq;
    uint32_t mask;
    int rv = 0;
    uint64_t s;
    for (s = 1; s < 1000; s++) {
        terr = 0;
        rv = add(&p, s, s, &mask, &terr);
        if (rv)
            break;
        assert_int_equal(p.n, 1);
        assert_true(p.cap <= 2); /* the limit: the table never grows past it */
        assert_true(p.retire_n <= TERN_MAX_RETIRE_QUEUE);
    }
    assert_int_equal(rv, TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_CONNECTION_ID_LIMIT_ERROR);
    assert_int_equal(s, TERN_MAX_RETIRE_QUEUE + 1);
    assert_int_equal(p.retire_n, TERN_MAX_RETIRE_QUEUE);
    /* the heap the flood made us hold: the queue at its bound, no more */
    assert_int_equal(p.retire_cap, TERN_MAX_RETIRE_QUEUE);

    /* when the queue is drained the same pattern is fine */
    tern_peer_cids_free(&p);
    tern_peer_cids_init(&p, 2);
    tern_peer_cids_set_initial(&p, &c0);
    for (s = 1; s < 1000; s++) {
        assert_int_equal(add(&p, s, s, &mask, &terr), 0);
        assert_int_equal(p.retire_cap, 4); /* one queued at a time: the smallest queue */
        assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
        assert_int_equal(seq, s - 1);
        assert_null(p.retire_queue); /* sent: nothing held */
    }
    tern_peer_cids_free(&p);
}

static void test_peer_duplicates(void **st)
{
    tern_peer_cids p;
    tern_peer_cids_init(&p, 4);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint64_t terr = 0;
    uint32_t mask;
    assert_int_equal(add(&p, 1, 0, &mask, &terr), 0);
    assert_int_equal(add(&p, 1, 0, &mask, &terr), 0); /* retransmission: ignored */
    assert_int_equal(p.n, 2);

    tern_cid c1 = mkcid(2, 8), other = mkcid(77, 8);
    uint8_t t1[TERN_RESET_TOKEN_LEN], t_other[TERN_RESET_TOKEN_LEN];
    mktoken(2, t1);
    mktoken(77, t_other);
    /* same seq, other CID */
    terr = 0;
    assert_int_equal(tern_peer_cids_on_new(&p, 1, 0, &other, t1, &mask, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    /* same seq and CID, other token */
    terr = 0;
    assert_int_equal(tern_peer_cids_on_new(&p, 1, 0, &c1, t_other, &mask, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    /* same CID, other seq */
    terr = 0;
    assert_int_equal(tern_peer_cids_on_new(&p, 2, 0, &c1, t1, &mask, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(p.n, 2);
    /* bad CID lengths */
    tern_cid empty = mkcid(5, 0), longer = mkcid(5, 8);
    longer.len = 21;
    terr = 0;
    assert_int_equal(tern_peer_cids_on_new(&p, 3, 0, &empty, t_other, &mask, &terr),
                     TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FRAME_ENCODING_ERROR);
    terr = 0;
    assert_int_equal(tern_peer_cids_on_new(&p, 3, 0, &longer, t_other, &mask, &terr),
                     TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FRAME_ENCODING_ERROR);

    /* a peer using a zero-length CID cannot issue more */
    tern_peer_cids_free(&p);
    tern_peer_cids_init(&p, 4);
    tern_peer_cids_set_initial(&p, &empty);
    terr = 0;
    assert_int_equal(add(&p, 1, 0, &mask, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    tern_peer_cids_free(&p);
}

static void test_peer_paths(void **st)
{
    tern_peer_cids p;
    tern_peer_cids_init(&p, 4);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint64_t terr = 0, seq;
    uint32_t mask;
    assert_int_equal(tern_peer_cids_spare(&p), 0);
    assert_null(tern_peer_cids_take(&p, 1));
    assert_int_equal(tern_peer_cids_for_path(&p, 0)->seq, 0);
    /* out-of-order arrival: take still hands out the lowest sequence first */
    assert_int_equal(add(&p, 3, 0, &mask, &terr), 0);
    assert_int_equal(add(&p, 1, 0, &mask, &terr), 0);
    assert_int_equal(add(&p, 2, 0, &mask, &terr), 0);
    assert_int_equal(tern_peer_cids_spare(&p), 3);
    tern_cid_entry *e = tern_peer_cids_take(&p, 1);
    assert_non_null(e);
    assert_int_equal(e->seq, 1);
    assert_int_equal(e->path_id, 1);
    tern_cid want = mkcid(2, 8);
    assert_true(tern_cid_eq(&e->cid, &want));
    e = tern_peer_cids_take(&p, 2);
    assert_int_equal(e->seq, 2);
    assert_int_equal(tern_peer_cids_spare(&p), 1);
    assert_int_equal(tern_peer_cids_for_path(&p, 1)->seq, 1);
    assert_int_equal(tern_peer_cids_for_path(&p, 2)->seq, 2);
    assert_null(tern_peer_cids_for_path(&p, 3));

    /* abandoning path 1 retires its CID: it is never handed to another path */
    tern_peer_cids_retire_path(&p, 1);
    assert_null(tern_peer_cids_for_path(&p, 1));
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 1);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 0);
    /* nor does a retransmitted NEW_CONNECTION_ID bring it back */
    assert_int_equal(add(&p, 1, 0, &mask, &terr), 0);
    assert_int_equal(tern_peer_cids_spare(&p), 1);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 1);
    e = tern_peer_cids_take(&p, 5);
    assert_int_equal(e->seq, 3);
    assert_null(tern_peer_cids_take(&p, 6));

    /* a path moving to a fresh CID gives up its old one */
    assert_int_equal(add(&p, 4, 0, &mask, &terr), 0);
    e = tern_peer_cids_take(&p, 2);
    assert_int_equal(e->seq, 4);
    assert_int_equal(tern_peer_cids_for_path(&p, 2)->seq, 4);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 1);
    assert_int_equal(seq, 2);
    /* with no spare, the path keeps the CID it has */
    assert_null(tern_peer_cids_take(&p, 2));
    assert_int_equal(tern_peer_cids_for_path(&p, 2)->seq, 4);
    assert_int_equal(tern_peer_cids_pop_retire(&p, &seq), 0);
    /* the connection-ID set never held two entries for one path */
    for (size_t i = 0; i < p.n; i++)
        for (size_t j = i + 1; j < p.n; j++)
            assert_true(p.e[i].path_id == TERN_CID_UNUSED || p.e[i].path_id != p.e[j].path_id);
    tern_peer_cids_free(&p);
}

static void test_peer_reset_token(void **st)
{
    tern_peer_cids p;
    tern_peer_cids_init(&p, 4);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint8_t t0[TERN_RESET_TOKEN_LEN], t1[TERN_RESET_TOKEN_LEN], t2[TERN_RESET_TOKEN_LEN];
    mktoken(50, t0);
    mktoken(2, t1);                                      /* seq 1 (see add) */
    mktoken(3, t2);                                      /* seq 2 */
    assert_false(tern_peer_cids_is_reset_token(&p, t0)); /* no token for seq 0 yet */
    tern_peer_cids_set_initial_token(&p, t0);
    assert_true(tern_peer_cids_is_reset_token(&p, t0));
    uint64_t terr;
    uint32_t mask;
    assert_int_equal(add(&p, 1, 0, &mask, &terr), 0);
    assert_int_equal(add(&p, 2, 0, &mask, &terr), 0);
    /* tokens of CIDs no path has used do not count (RFC 9000 §10.3.1) */
    assert_false(tern_peer_cids_is_reset_token(&p, t1));
    tern_peer_cids_take(&p, 1);
    assert_true(tern_peer_cids_is_reset_token(&p, t1));
    assert_false(tern_peer_cids_is_reset_token(&p, t2));
    /* a token differing in its last byte only */
    uint8_t almost[TERN_RESET_TOKEN_LEN];
    memcpy(almost, t1, sizeof(almost));
    almost[TERN_RESET_TOKEN_LEN - 1] ^= 1;
    assert_false(tern_peer_cids_is_reset_token(&p, almost));
    /* retired: no longer matches */
    tern_peer_cids_retire_path(&p, 1);
    assert_false(tern_peer_cids_is_reset_token(&p, t1));
    /* after Retry the initial CID changes but keeps path 0 */
    tern_cid c0b = mkcid(9, 12);
    tern_peer_cids_set_initial(&p, &c0b);
    assert_true(tern_cid_eq(&tern_peer_cids_for_path(&p, 0)->cid, &c0b));
    assert_true(tern_peer_cids_is_reset_token(&p, t0));
    tern_peer_cids_free(&p);
}

/* ---- our announcements, once the peer holds them -----------------------------------------------
 */

/* A peer that keeps no memory of the sequence numbers it retired takes a late copy of
 * NEW_CONNECTION_ID for a retired CID as a new one, and counts it against its
 * active_connection_id_limit. So once the peer is known to hold a CID (its announcement was
 * acknowledged, or a packet arrived with it), no loss declared afterwards announces it again;
 * an announcement lost before that is repeated, alone. */
static void test_local_announce_held(void **st)
{
    tern_local_cids l;
    tern_local_cids_init(&l, 8);
    /* the number about to be issued, reserved: the table is that size, not a power of two */
    assert_int_equal(tern_local_cids_reserve(&l, 5), 0);
    assert_int_equal(l.cap, 5);
    assert_int_equal(tern_local_cids_reserve(&l, 3), 0); /* never shrinks */
    assert_int_equal(l.cap, 5);
    tern_cid c0 = mkcid(200, 8);
    assert_non_null(tern_local_cids_add(&l, &c0, NULL));
    tern_cid c[3];
    uint8_t tok[TERN_RESET_TOKEN_LEN];
    for (int i = 0; i < 3; i++) {
        c[i] = mkcid((uint8_t)(i + 1), 8);
        mktoken((uint8_t)(i + 1), tok);
        assert_non_null(tern_local_cids_add(&l, &c[i], tok));
    }
    for (uint64_t seq = 1; seq <= 3; seq++) {
        tern_cid_entry *e = tern_local_cids_next_unannounced(&l);
        assert_non_null(e);
        assert_int_equal(e->seq, seq);
        tern_local_cids_on_announced(&l, seq);
    }
    assert_null(tern_local_cids_next_unannounced(&l));
    /* seq 1: acknowledged, then a late loss declaration of another copy */
    tern_local_cids_on_announce_acked(&l, 1);
    tern_local_cids_on_announce_lost(&l, 1);
    /* seq 2: the peer sent a packet with it before its announcement was declared lost */
    tern_local_cids_on_used(&l, &c[1]);
    tern_local_cids_on_announce_lost(&l, 2);
    assert_null(tern_local_cids_next_unannounced(&l));
    /* seq 3: lost with nothing known of it: announced again, alone */
    tern_local_cids_on_announce_lost(&l, 3);
    tern_cid_entry *e = tern_local_cids_next_unannounced(&l);
    assert_non_null(e);
    assert_int_equal(e->seq, 3);
    tern_local_cids_on_announced(&l, 3);
    assert_null(tern_local_cids_next_unannounced(&l));
    /* the CID of the handshake is never announced, whatever is reported of it */
    tern_local_cids_on_announce_lost(&l, 0);
    tern_local_cids_on_used(&l, &c0);
    assert_null(tern_local_cids_next_unannounced(&l));
    /* unknown or retired sequence numbers change nothing */
    tern_cid_entry removed;
    assert_int_equal(tern_local_cids_retire(&l, 3, NULL, &removed), 0);
    tern_local_cids_on_announce_lost(&l, 3);
    tern_local_cids_on_announce_acked(&l, 9);
    assert_null(tern_local_cids_next_unannounced(&l));
    tern_local_cids_free(&l);
}

/* Retired CIDs linger until their time, the earliest first out, and a peer that retires more than
 * TERN_CID_LINGER at once pushes the oldest out (unrouted at once) instead of growing the set. */
static void test_linger_bound(void **st)
{
    (void)st;
    tern_cid_linger l = {0};
    tern_cid out;
    assert_int_equal(tern_cid_linger_next(&l), TERN_TS_INF);
    assert_int_equal(tern_cid_linger_pop_due(&l, 1000, &out), 0);
    assert_null(l.s); /* nothing lingers: no heap */
    for (uint8_t k = 0; k < TERN_CID_LINGER; k++) {
        tern_cid c = mkcid(k, 8);
        assert_int_equal(tern_cid_linger_add(&l, &c, 100 + k, &out), 0);
        assert_non_null(l.s);
    }
    assert_int_equal(l.n, TERN_CID_LINGER);
    /* a flood of retirements: the set stays at its bound, each one evicting the oldest */
    for (uint8_t k = TERN_CID_LINGER; k < 4 * TERN_CID_LINGER; k++) {
        tern_cid c = mkcid(k, 8), old = mkcid((uint8_t)(k - TERN_CID_LINGER), 8);
        assert_int_equal(tern_cid_linger_add(&l, &c, 100 + k, &out), 1);
        assert_true(tern_cid_eq(&out, &old));
        assert_false(tern_cid_linger_contains(&l, &old));
        assert_true(tern_cid_linger_contains(&l, &c));
        assert_int_equal(l.n, TERN_CID_LINGER);
    }
    uint8_t first = 3 * TERN_CID_LINGER;
    assert_int_equal(tern_cid_linger_next(&l), 100 + first);
    assert_int_equal(tern_cid_linger_pop_due(&l, 100 + first - 1, &out), 0);
    assert_int_equal(tern_cid_linger_pop_due(&l, 100 + first, &out), 1);
    tern_cid want = mkcid(first, 8);
    assert_true(tern_cid_eq(&out, &want));
    assert_int_equal(tern_cid_linger_pop_due(&l, 100 + first, &out), 0);
    size_t popped = 0;
    while (tern_cid_linger_pop_due(&l, TERN_TS_INF - 1, &out))
        popped++;
    assert_int_equal(popped, TERN_CID_LINGER - 1);
    assert_int_equal(l.n, 0);
    assert_null(l.s); /* the last one out gave the slots back */
    /* and the next retirement takes them again */
    tern_cid c = mkcid(200, 8);
    assert_int_equal(tern_cid_linger_add(&l, &c, 5000, &out), 0);
    assert_true(tern_cid_linger_contains(&l, &c));
    tern_cid_linger_free(&l);
    assert_null(l.s);
    assert_int_equal(l.n, 0);
}

/* The edges of the CID tables' verbs: a local CID that is none or too long is not stored; a peer
 * limit below 2 counts as 2 (RFC 9000 §18.2); seq 0's token needs seq 0; no path is "unused";
 * a CID moves only from a path that has one to a path that has none. */
static void test_api_edges(void **st)
{
    tern_local_cids l;
    tern_local_cids_init(&l, 8);
    uint8_t tok[TERN_RESET_TOKEN_LEN];
    mktoken(1, tok);
    tern_cid longer = mkcid(1, 8);
    longer.len = TERN_MAX_CID_LEN + 1;
    assert_null(tern_local_cids_add(&l, NULL, tok));
    assert_null(tern_local_cids_add(&l, &longer, tok));
    assert_int_equal(tern_local_cids_count(&l), 0);

    tern_peer_cids p;
    tern_peer_cids_init(&p, 1);
    assert_int_equal(p.limit, 2);
    tern_peer_cids_set_initial_token(&p, tok); /* no seq 0 yet: nothing to attach it to */
    assert_int_equal(p.n, 0);
    tern_cid c0 = mkcid(0, 8);
    tern_peer_cids_set_initial(&p, &c0);
    uint64_t terr = 0;
    uint32_t mask;
    assert_int_equal(add(&p, 1, 0, &mask, &terr), 0);
    assert_null(tern_peer_cids_for_path(&p, TERN_CID_UNUSED));
    assert_null(tern_peer_cids_take(&p, TERN_CID_UNUSED));
    assert_int_equal(tern_peer_cids_spare(&p), 1);
    assert_int_equal(tern_peer_cids_reassign(&p, 3, 4), -1);              /* path 3 has none */
    assert_int_equal(tern_peer_cids_reassign(&p, 0, TERN_CID_UNUSED), -1); /* to no path */
    assert_non_null(tern_peer_cids_take(&p, 1));
    assert_int_equal(tern_peer_cids_reassign(&p, 0, 1), -1); /* path 1 has its own */
    assert_int_equal(tern_peer_cids_for_path(&p, 0)->seq, 0);
    assert_int_equal(tern_peer_cids_for_path(&p, 1)->seq, 1);
    assert_int_equal(tern_peer_cids_reassign(&p, 1, 2), 0);
    assert_null(tern_peer_cids_for_path(&p, 1));
    assert_int_equal(tern_peer_cids_for_path(&p, 2)->seq, 1);
    tern_peer_cids_free(&p);
    tern_local_cids_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_bound_and_retire),
        cmocka_unit_test(test_peer_limit),
        cmocka_unit_test(test_peer_retire_prior_to),
        cmocka_unit_test(test_peer_retire_queue_bound),
        cmocka_unit_test(test_peer_duplicates),
        cmocka_unit_test(test_peer_paths),
        cmocka_unit_test(test_peer_reset_token),
        cmocka_unit_test(test_local_announce_held),
        cmocka_unit_test(test_linger_bound),
        cmocka_unit_test(test_api_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
