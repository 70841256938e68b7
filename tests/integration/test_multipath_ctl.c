/* The multipath control frames a connection sends for its data path (multipath.c): PATH_STATUS_*
 * (latest status only, re-sent while current), PATH_ABANDON (answered, re-sent until
 * acknowledged), the closing of path IDs both sides abandoned with MAX_PATH_ID raising the
 * window, PATHS_BLOCKED and PATH_CIDS_BLOCKED once per limit, and the memory a peer cycling
 * through path IDs can make us hold. Datagrams are carried by hand between two connections and
 * their frames read on the way (mpfx.h). */
#include "allochook.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "conn_internal.h"
#include "mpframe.h"
#include "mpfx.h"

#define MS MPFX_MS
#define SEC MPFX_SEC
#define ANY UINT64_MAX

static uint64_t next_seed = 4100;

static void connect_mp(tern_pair *p, uint64_t server_max)
{
    mpfx_connect(p, next_seed++, server_max);
}

static void expect_alive(tern_pair *p)
{
    assert_int_equal(tern_conn_state(p->client), TERN_CS_ESTABLISHED);
    assert_int_equal(tern_conn_state(p->server), TERN_CS_ESTABLISHED);
}

/* Both ways until nothing moves, acknowledgements included (their delay timers fire). */
static void settle(tern_pair *p, mpfx_tally *tc, mpfx_tally *ts)
{
    for (int round = 0; round < 6; round++) {
        mpfx_pump(p, 0, 0, tc);
        mpfx_pump(p, 1, 0, ts);
        mpfx_advance(p, p->now + 30 * MS);
    }
}

/* The first frame of `type` in `t`, failing when there is none. */
static const mpfx_frame *first(const mpfx_tally *t, uint64_t type)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->f[i].type == type)
            return &t->f[i];
    fail_msg("no frame of type %llx", (unsigned long long)type);
    return NULL;
}

/* The frame waiting on `c` does not fit one byte: nothing written, it still waits. */
static void no_room(tern_conn *c)
{
    uint8_t b[1];
    tern_sent_frame f;
    assert_true(tern_mp_pending(c));
    assert_int_equal(tern_mp_write_next(c, b, sizeof(b), &f), 0);
    assert_true(tern_mp_pending(c));
}

/* Lets loss detection run on the client (its PTO probe lost as well), then delivers. */
static void detect_loss_and_deliver(tern_pair *p, mpfx_tally *tc, mpfx_tally *ts)
{
    mpfx_advance(p, p->now + 2 * SEC);
    mpfx_pump(p, 0, 1, tc);
    mpfx_advance(p, p->now + 4 * SEC);
    settle(p, tc, ts);
}

/* Statuses on the wire with their path ID and sequence numbers; the peer applies them; a
 * repeated status sends nothing; invalid path IDs refused. */
static void test_status_on_wire(void **state)
{
    (void)state;
    tern_pair p;
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    tern_conn *c = p.client, *s = p.server;
    /* available is every path's status until one is set: nothing to say */
    assert_int_equal(tern_mp_set_status(c, 2, 0), 0);
    assert_false(tern_mp_pending(c));
    assert_int_equal(tern_mp_local_backup(c, 2), 0);
    assert_int_equal(tern_mp_set_status(c, 2, 1), 0);
    assert_int_equal(tern_mp_set_status(c, 2, 7), 0); /* the same status: no new number */
    assert_int_equal(tern_mp_set_status(c, 0, 1), 0);
    assert_int_equal(tern_mp_local_backup(c, 2), 1);
    assert_int_equal(tern_mp_local_backup(c, 0), 1);
    no_room(c);
    mpfx_tally t;
    memset(&t, 0, sizeof(t));
    settle(&p, &t, NULL);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_STATUS_BACKUP, ANY), 2);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_STATUS_AVAILABLE, ANY), 0);
    assert_int_equal(t.f[0].path_id, 0); /* path ID 0 first */
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(t.f[i].value, 0);
    assert_int_equal(tern_mp_peer_backup(s, 2), 1);
    assert_int_equal(tern_mp_peer_backup(s, 0), 1);
    assert_int_equal(tern_mp_peer_backup(s, 3), 0);
    /* back to available: the next sequence number */
    assert_int_equal(tern_mp_set_status(c, 2, 0), 0);
    memset(&t, 0, sizeof(t));
    settle(&p, &t, NULL);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.f[0].type, TERN_FT_PATH_STATUS_AVAILABLE);
    assert_int_equal(t.f[0].path_id, 2);
    assert_int_equal(t.f[0].value, 1);
    assert_int_equal(tern_mp_peer_backup(s, 2), 0);
    assert_int_equal(s->mp.ids[1].status_seq, 2);
    assert_false(tern_mp_pending(c));
    /* path IDs not held, and a connection without the extension */
    assert_int_equal(tern_mp_set_status(c, TERN_MP_LOCAL_MAX_PATH_ID + 1, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_local_backup(c, TERN_MP_LOCAL_MAX_PATH_ID + 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_peer_backup(c, TERN_MP_LOCAL_MAX_PATH_ID + 1), TERN_ERR_INVALID_ARG);
    expect_alive(&p);
    pair_free(&p);

    assert_int_equal(pair_init(&p, next_seed++), 0);
    assert_true(pair_connect(&p));
    assert_int_equal(tern_mp_set_status(p.client, 0, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_abandon(p.client, 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_local_backup(p.client, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_peer_backup(p.client, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_local_abandoned(p.client, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_peer_abandoned(p.client, 0, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_path_id_claim(p.client, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_path_id_next(p.client), 0);
    assert_int_equal(tern_mp_want_path(p.client), 0);
    assert_false(tern_mp_pending(p.client));
    pair_free(&p);
}

/* A lost status is sent again while it is the latest; one superseded before its loss is not. */
static void test_status_loss_and_supersession(void **state)
{
    (void)state;
    tern_pair p;
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    tern_conn *c = p.client;
    mpfx_tally t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(tern_mp_set_status(c, 3, 1), 0); /* seq 0, lost */
    mpfx_pump(&p, 0, 1, &t);
    assert_int_equal(tern_mp_set_status(c, 3, 0), 0); /* seq 1, lost */
    mpfx_pump(&p, 0, 1, &t);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.f[1].type, TERN_FT_PATH_STATUS_AVAILABLE);
    assert_int_equal(t.f[1].value, 1);
    memset(&t, 0, sizeof(t));
    detect_loss_and_deliver(&p, &t, NULL);
    /* only the latest went again: never BACKUP seq 0 */
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_STATUS_BACKUP, ANY), 0);
    assert_true(mpfx_count(&t, TERN_FT_PATH_STATUS_AVAILABLE, 3) >= 1);
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(t.f[i].value, 1);
    assert_int_equal(p.server->mp.ids[2].status_seq, 2);
    assert_int_equal(tern_mp_peer_backup(p.server, 3), 0);
    assert_int_equal(c->mp.ids[2].ctl.status_tx, TERN_MP_TX_ACKED);

    /* the latest lost: sent again with its own number, and applied */
    assert_int_equal(tern_mp_set_status(c, 3, 1), 0);
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 1, &t);
    detect_loss_and_deliver(&p, &t, NULL);
    assert_true(mpfx_count(&t, TERN_FT_PATH_STATUS_BACKUP, 3) >= 2);
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(t.f[i].value, 2);
    assert_int_equal(tern_mp_peer_backup(p.server, 3), 1);
    assert_false(tern_mp_pending(c));
    expect_alive(&p);
    pair_free(&p);
}

/* PATH_ABANDON on the wire with its code; lost, sent again until acknowledged; the peer answers
 * with its own; both then close the path ID: its entry takes path ID 8, announced with
 * MAX_PATH_ID, and CIDs for 8 go both ways. Frames naming the closed path ID are ignored. */
static void test_abandon_close_and_max_path_id(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[32];
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    tern_conn *c = p.client, *s = p.server;
    uint64_t lim = c->mp.peer_cid_limit;
    assert_int_equal(tern_mp_set_status(c, 1, 1), 0);
    assert_int_equal(tern_mp_abandon(c, 1, TERN_MP_ERR_PATH_UNSTABLE_OR_POOR), 0);
    assert_int_equal(tern_mp_abandon(c, 1, 0), 0); /* already: the first code stays */
    assert_int_equal(tern_mp_local_abandoned(c, 1), 1);
    assert_int_equal(tern_mp_peer_abandoned(c, 1, NULL), 0);
    assert_int_equal(tern_mp_set_status(c, 1, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_path_id_claim(c, 1), TERN_ERR_INVALID_ARG);
    no_room(c);
    mpfx_tally t, ts;
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 1, &t); /* lost */
    assert_int_equal(t.n, 1); /* the status it superseded is not sent */
    assert_int_equal(t.f[0].type, TERN_FT_PATH_ABANDON);
    assert_int_equal(t.f[0].path_id, 1);
    assert_int_equal(t.f[0].value, TERN_MP_ERR_PATH_UNSTABLE_OR_POOR);
    memset(&t, 0, sizeof(t));
    memset(&ts, 0, sizeof(ts));
    detect_loss_and_deliver(&p, &t, &ts); /* sent again, until it arrives */
    assert_true(mpfx_count(&t, TERN_FT_PATH_ABANDON, 1) >= 2);
    for (size_t i = 0; i < t.n; i++)
        if (t.f[i].type == TERN_FT_PATH_ABANDON)
            assert_int_equal(t.f[i].value, TERN_MP_ERR_PATH_UNSTABLE_OR_POOR);
    /* closed by now on the server: abandoned, its code forgotten with the entry */
    uint64_t err = 0;
    assert_int_equal(tern_mp_peer_abandoned(s, 1, &err), 1);
    assert_int_equal(err, 0);
    /* the server answered with its own (NO_ERROR) */
    assert_int_equal(mpfx_count(&ts, TERN_FT_PATH_ABANDON, 1), 1);
    assert_int_equal(first(&ts, TERN_FT_PATH_ABANDON)->value, 0);
    /* closed on both sides: path ID 8 instead, MAX_PATH_ID both ways */
    assert_int_equal(c->mp.closed, 1);
    assert_int_equal(s->mp.closed, 1);
    assert_int_equal(c->mp.local_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID + 1);
    assert_int_equal(s->mp.local_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID + 1);
    assert_int_equal(c->mp.peer_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID + 1);
    assert_int_equal(s->mp.peer_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID + 1);
    assert_int_equal(mpfx_count(&t, TERN_FT_MAX_PATH_ID, TERN_MP_LOCAL_MAX_PATH_ID + 1), 1);
    assert_int_equal(mpfx_count(&ts, TERN_FT_MAX_PATH_ID, TERN_MP_LOCAL_MAX_PATH_ID + 1), 1);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_NEW_CONNECTION_ID, 8), lim);
    assert_int_equal(mpfx_count(&ts, TERN_FT_PATH_NEW_CONNECTION_ID, 8), lim);
    assert_int_equal(c->mp.max_path_id_tx, TERN_MP_TX_ACKED);
    assert_int_equal(c->mp.ids[0].path_id, 8); /* the entry path ID 1 had */
    assert_int_equal(tern_mp_path_id_index(c, 8), 0);
    assert_int_equal(tern_mp_path_id_index(c, 2), 1);
    assert_int_equal(tern_mp_path_id_index(c, 1), -1);
    assert_null(tern_mp_path_id_get(c, 1));
    assert_ptr_equal(tern_mp_path_id_get(c, 8), &c->mp.ids[0]);
    assert_int_equal(tern_mp_local_abandoned(c, 1), 1);
    assert_int_equal(tern_mp_peer_abandoned(c, 1, NULL), 1);
    assert_int_equal(tern_mp_local_abandoned(c, 9), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_set_status(c, 1, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_abandon(c, 1, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_path_id_next(c), 2);
    /* frames naming path ID 1 are late and ignored (not a violation) */
    mpfx_inject(&p, 1, b, tern_mpframe_write_path_status(b, sizeof(b), 0, 1, 9));
    mpfx_inject(&p, 1, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 1, 0));
    mpfx_inject(&p, 1, b, tern_mpframe_write_path_abandon(b, sizeof(b), 1, 0));
    expect_alive(&p);
    assert_int_equal(c->mp.closed, 1);
    /* a PATH_CIDS_BLOCKED lost when we abandon goes no more */
    assert_false(tern_mp_pending(c));
    pair_free(&p);
}

/* Path ID 0 can be abandoned as well, and the peer's PATH_ABANDON of it answered. */
static void test_abandon_path0(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[32];
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    mpfx_inject(&p, 1, b,
                tern_mpframe_write_path_abandon(b, sizeof(b), 0, TERN_MP_ERR_APPLICATION_ABANDON_PATH));
    uint64_t err = 0;
    assert_int_equal(tern_mp_peer_abandoned(p.client, 0, &err), 1);
    assert_int_equal(err, TERN_MP_ERR_APPLICATION_ABANDON_PATH);
    assert_int_equal(tern_mp_local_abandoned(p.client, 0), 1);
    assert_int_equal(tern_mp_set_status(p.client, 0, 1), TERN_ERR_INVALID_ARG);
    mpfx_tally t;
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 0, &t);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_ABANDON, 0), 1);
    /* a repeat of the peer's changes nothing, its first code stays */
    mpfx_inject(&p, 1, b, tern_mpframe_write_path_abandon(b, sizeof(b), 0, 5));
    assert_int_equal(tern_mp_peer_abandoned(p.client, 0, &err), 1);
    assert_int_equal(err, TERN_MP_ERR_APPLICATION_ABANDON_PATH);
    assert_int_equal(p.client->mp.closed, 0); /* path ID 0 has no entry to reuse */
    /* the same for path ID 5, whose code is told while the path ID is held */
    mpfx_inject(&p, 1, b,
                tern_mpframe_write_path_abandon(b, sizeof(b), 5, TERN_MP_ERR_NO_CID_AVAILABLE_FOR_PATH));
    assert_int_equal(tern_mp_peer_abandoned(p.client, 5, &err), 1);
    assert_int_equal(err, TERN_MP_ERR_NO_CID_AVAILABLE_FOR_PATH);
    assert_int_equal(tern_mp_peer_abandoned(p.client, 4, &err), 0);
    assert_int_equal(tern_mp_local_abandoned(p.client, 5), 1);
    assert_int_equal(tern_mp_set_status(p.client, 5, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_path_id_claim(p.client, 5), TERN_ERR_INVALID_ARG);
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 0, &t);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_ABANDON, 5), 1);
    assert_int_equal(first(&t, TERN_FT_PATH_ABANDON)->value, 0);
    assert_int_equal(p.client->mp.ids[4].ctl.abandon_tx, TERN_MP_TX_SENT);
    /* acknowledged, and answered by the server, to which ours is news: path ID 5 closes */
    settle(&p, NULL, NULL);
    assert_int_equal(p.client->mp.ctl0.abandon_tx, TERN_MP_TX_ACKED);
    assert_int_equal(p.client->mp.closed, 1);
    expect_alive(&p);
    pair_free(&p);
}

/* A CID or retirement that does not fit waits too (each kind of frame has its own writer). */
static void test_no_room_for_cids(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[64], cb[8], tok[TERN_RESET_TOKEN_LEN];
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    mpfx_inject(&p, 1, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 4, 0));
    no_room(p.client); /* its replacement */
    mpfx_tally t;
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 0, &t);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_NEW_CONNECTION_ID, 4), 1);
    tern_cid cid;
    memset(cb, 0xa7, sizeof(cb));
    memset(tok, 0x7a, sizeof(tok));
    tern_cid_set(&cid, cb, sizeof(cb));
    mpfx_inject(&p, 1, b, tern_mpframe_write_path_new_cid(b, sizeof(b), 4, 30, 30, &cid, tok));
    no_room(p.client); /* the retirements */
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 0, &t);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_RETIRE_CONNECTION_ID, 4),
                     p.server->mp.peer_cid_limit);
    expect_alive(&p);
    pair_free(&p);
}

/* PATHS_BLOCKED when the peer's maximum path ID stops us, once per limit value, sent again when
 * lost; the peer's MAX_PATH_ID lifts it. Nothing when our own maximum is the limit. */
static void test_paths_blocked(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[32];
    connect_mp(&p, 2);
    tern_conn *c = p.client;
    assert_int_equal(tern_mp_path_id_next(c), 1);
    assert_int_equal(tern_mp_want_path(c), 1);
    assert_int_equal(tern_mp_path_id_claim(c, 1), 0);
    assert_int_equal(tern_mp_want_path(c), 2);
    assert_int_equal(tern_mp_path_id_claim(c, 2), 0);
    assert_int_equal(tern_mp_path_id_claim(c, 3), TERN_ERR_INVALID_ARG); /* above the peer's */
    assert_int_equal(tern_mp_path_id_claim(c, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_mp_path_id_next(c), 0);
    assert_int_equal(tern_mp_want_path(c), 0);
    assert_int_equal(tern_mp_want_path(c), 0);
    no_room(c);
    mpfx_tally t;
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 1, &t); /* lost */
    assert_int_equal(t.n, 1);
    assert_int_equal(t.f[0].type, TERN_FT_PATHS_BLOCKED);
    assert_int_equal(t.f[0].path_id, 2);
    assert_int_equal(tern_mp_want_path(c), 0); /* once per limit */
    assert_false(tern_mp_pending(c));
    memset(&t, 0, sizeof(t));
    detect_loss_and_deliver(&p, &t, NULL);
    assert_true(mpfx_count(&t, TERN_FT_PATHS_BLOCKED, 2) >= 1);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATHS_BLOCKED, ANY),
                     mpfx_count(&t, TERN_FT_PATHS_BLOCKED, 2));
    assert_int_equal(p.server->mp.peer_blocked_at, 3);
    /* the server raises its limit (by hand here): path ID 3 opens; blocked again at 4 */
    mpfx_inject(&p, 1, b, tern_mpframe_write_max_path_id(b, sizeof(b), 4));
    settle(&p, NULL, NULL);
    assert_int_equal(tern_mp_want_path(c), 3);
    assert_int_equal(tern_mp_path_id_claim(c, 3), 0);
    assert_int_equal(tern_mp_path_id_claim(c, 4), 0);
    assert_int_equal(tern_mp_want_path(c), 0);
    memset(&t, 0, sizeof(t));
    settle(&p, &t, NULL);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATHS_BLOCKED, ANY), 1);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATHS_BLOCKED, 4), 1);
    expect_alive(&p);
    pair_free(&p);

    /* both at 7, all taken: our own maximum is the limit, nothing to send */
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    for (uint64_t id = 1; id <= TERN_MP_LOCAL_MAX_PATH_ID; id++)
        assert_int_equal(tern_mp_path_id_claim(p.client, id), 0);
    assert_int_equal(tern_mp_want_path(p.client), 0);
    assert_false(tern_mp_pending(p.client));
    pair_free(&p);
}

/* PATH_CIDS_BLOCKED when the next path ID lacks the peer's CIDs (the ones for the new path ID 8
 * were lost), with the next sequence number expected, once; the peer, receiving it, sends the
 * CIDs again at once rather than at its loss detection. */
static void test_path_cids_blocked(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[32];
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    tern_conn *c = p.client;
    assert_int_equal(tern_mp_abandon(c, 1, 0), 0);
    /* everything the server sends carrying CIDs for path ID 8 is lost */
    for (int round = 0; round < 6; round++) {
        mpfx_pump(&p, 0, 0, NULL);
        mpfx_pump_dropping(&p, 1, TERN_FT_PATH_NEW_CONNECTION_ID, 8, NULL);
        mpfx_advance(&p, p.now + 30 * MS);
    }
    assert_int_equal(c->mp.closed, 1);
    /* its MAX_PATH_ID travelled with them: by hand */
    mpfx_inject(&p, 1, b, tern_mpframe_write_max_path_id(b, sizeof(b), 8));
    assert_int_equal(c->mp.peer_max_path_id, 8);
    for (uint64_t id = 2; id <= TERN_MP_LOCAL_MAX_PATH_ID; id++)
        assert_int_equal(tern_mp_path_id_claim(c, id), 0);
    assert_int_equal(tern_mp_path_id_next(c), 0);
    assert_int_equal(tern_mp_want_path(c), 0);
    assert_int_equal(tern_mp_want_path(c), 0);
    no_room(c);
    mpfx_tally t, ts;
    memset(&t, 0, sizeof(t));
    memset(&ts, 0, sizeof(ts));
    mpfx_pump(&p, 0, 0, &t);
    assert_int_equal(mpfx_count(&t, TERN_FT_PATH_CIDS_BLOCKED, ANY), 1);
    assert_int_equal(first(&t, TERN_FT_PATH_CIDS_BLOCKED)->path_id, 8);
    assert_int_equal(first(&t, TERN_FT_PATH_CIDS_BLOCKED)->value, 0);
    /* no time passes: the server's answer is the CIDs themselves */
    mpfx_pump(&p, 1, 0, &ts);
    assert_int_equal(mpfx_count(&ts, TERN_FT_PATH_NEW_CONNECTION_ID, 8), c->mp.peer_cid_limit);
    assert_int_equal(tern_mp_want_path(c), 8);
    assert_int_equal(tern_mp_path_id_claim(c, 8), 0);
    expect_alive(&p);
    pair_free(&p);
}

/* A PATHS_BLOCKED below our maximum while our MAX_PATH_ID is in flight means it was lost: it goes
 * again at once. Once acknowledged, such a PATHS_BLOCKED is older than it and changes nothing. */
static void test_peer_paths_blocked_resends_max(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[32];
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    tern_conn *c = p.client;
    /* path ID 1 closes on the client; its MAX_PATH_ID (8) is lost */
    assert_int_equal(tern_mp_abandon(c, 1, 0), 0);
    mpfx_pump(&p, 0, 0, NULL);
    mpfx_pump(&p, 1, 0, NULL);
    assert_int_equal(c->mp.local_max_path_id, 8);
    mpfx_tally t;
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 1, &t);
    assert_int_equal(mpfx_count(&t, TERN_FT_MAX_PATH_ID, 8), 1);
    assert_int_equal(c->mp.max_path_id_tx, TERN_MP_TX_SENT);
    /* blocked at 8 is not below ours: nothing */
    mpfx_inject(&p, 1, b, tern_mpframe_write_paths_blocked(b, sizeof(b), 8));
    assert_int_equal(c->mp.max_path_id_tx, TERN_MP_TX_SENT);
    mpfx_inject(&p, 1, b, tern_mpframe_write_paths_blocked(b, sizeof(b), 7));
    no_room(c);
    memset(&t, 0, sizeof(t));
    mpfx_pump(&p, 0, 0, &t); /* no time passed */
    assert_int_equal(mpfx_count(&t, TERN_FT_MAX_PATH_ID, 8), 1);
    settle(&p, NULL, NULL);
    assert_int_equal(c->mp.max_path_id_tx, TERN_MP_TX_ACKED);
    assert_int_equal(p.server->mp.peer_max_path_id, 8);
    /* acknowledged: a late PATHS_BLOCKED at 7 changes nothing */
    mpfx_inject(&p, 1, b, tern_mpframe_write_paths_blocked(b, sizeof(b), 7));
    assert_int_equal(c->mp.max_path_id_tx, TERN_MP_TX_ACKED);
    expect_alive(&p);
    pair_free(&p);
}

/* CIDs a connection asked its endpoint to route to it, and to stop routing. */
typedef struct routed {
    long long added, removed;
} routed;

static void on_cid_added(void *ud, tern_conn *c, const tern_cid *cid)
{
    (void)c, (void)cid;
    ((routed *)ud)->added++;
}

static void on_cid_removed(void *ud, tern_conn *c, const tern_cid *cid)
{
    (void)c, (void)cid;
    ((routed *)ud)->removed++;
}

/* A client that keeps opening and abandoning paths: every path ID both sides abandoned is closed,
 * the window slides (MAX_PATH_ID) and new path IDs keep coming with CIDs, while the server holds
 * the same memory and allocates nothing. */
static void test_recycling_bounded(void **state)
{
    (void)state;
    tern_pair p;
    connect_mp(&p, TERN_MP_LOCAL_MAX_PATH_ID);
    tern_conn *c = p.client, *s = p.server;
    size_t mem = tern_mp_memory(s);
    assert_int_equal(mem, TERN_MP_LOCAL_MAX_PATH_ID * sizeof(tern_mp_path_id));
    const int rounds = 40;
    unsigned long long allocs = 0;
    /* the CIDs the server has its endpoint route: what the attack could grow outside the
     * connection */
    routed r = {0, 0};
    s->hooks.ud = &r;
    s->hooks.cid_added = on_cid_added;
    s->hooks.cid_removed = on_cid_removed;
    uint64_t lim = s->mp.peer_cid_limit;
    for (int round = 0; round < rounds; round++) {
        if (round == 1) {
            /* from the second round on (the first may grow buffers that are then reused) */
#if ALLOCHOOK_ACTIVE
            allocs = allochook_count;
#endif
        }
        /* open a path on every path ID the client can, then abandon them all */
        uint64_t opened[TERN_MP_LOCAL_MAX_PATH_ID], n = 0, id;
        while ((id = tern_mp_want_path(c)) != 0) {
            assert_int_equal(tern_mp_path_id_claim(c, id), 0);
            opened[n++] = id;
        }
        assert_int_equal(n, TERN_MP_LOCAL_MAX_PATH_ID);
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(opened[i], (uint64_t)round * TERN_MP_LOCAL_MAX_PATH_ID + 1 + i);
            assert_int_equal(tern_mp_abandon(c, opened[i], TERN_MP_ERR_APPLICATION_ABANDON_PATH), 0);
        }
        settle(&p, NULL, NULL);
        expect_alive(&p);
        assert_int_equal(s->mp.closed, (uint64_t)(round + 1) * TERN_MP_LOCAL_MAX_PATH_ID);
        assert_int_equal(tern_mp_memory(s), mem);
        assert_int_equal(tern_mp_memory(c), mem);
        /* each closed path ID's CIDs unrouted, the new ones' routed: as many as before */
        assert_int_equal(r.added, (long long)((uint64_t)(round + 1) * TERN_MP_LOCAL_MAX_PATH_ID * lim));
        assert_int_equal(r.added - r.removed, 0);
    }
    uint64_t top = (uint64_t)(rounds + 1) * TERN_MP_LOCAL_MAX_PATH_ID;
    assert_int_equal(s->mp.local_max_path_id, top);
    assert_int_equal(c->mp.local_max_path_id, top);
    assert_int_equal(c->mp.peer_max_path_id, top);
    assert_int_equal(tern_mp_path_id_next(c), top - TERN_MP_LOCAL_MAX_PATH_ID + 1);
#if ALLOCHOOK_ACTIVE
    /* nothing allocated by either side through 39 rounds: what they hold cannot have grown */
    assert_int_equal(allochook_count, allocs);
#else
    (void)allocs;
#endif
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_on_wire),
        cmocka_unit_test(test_status_loss_and_supersession),
        cmocka_unit_test(test_abandon_close_and_max_path_id),
        cmocka_unit_test(test_abandon_path0),
        cmocka_unit_test(test_no_room_for_cids),
        cmocka_unit_test(test_paths_blocked),
        cmocka_unit_test(test_path_cids_blocked),
        cmocka_unit_test(test_peer_paths_blocked_resends_max),
        cmocka_unit_test(test_recycling_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
