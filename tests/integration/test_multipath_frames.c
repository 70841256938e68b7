/* The multipath frames a peer sends once the extension is negotiated (draft-ietf-quic-multipath-21
 * §4, multipath.c): each accepted frame's effect, each violation closed with its error code and
 * frame type, and what a flood of them makes the receiver hold, measured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "allochook.h"
#include "conn_internal.h"
#include "forge.h"
#include "mpframe.h"
#include "pair.h"

#define SEC 1000000000ull

static uint64_t next_seed = 900;

static void connect_mp(tern_pair *p)
{
    assert_int_equal(pair_init(p, next_seed++), 0);
    p->cfg_c.multipath = p->cfg_s.multipath = 1;
    assert_true(pair_run(p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(p, 1000), 0);
    assert_true(pair_run(p, pair_cond_all_done, 5 * SEC));
    assert_true(p->server->mp.enabled);
}

/* Client -> server, one 1-RTT packet holding `f[0..n)`. */
static void send_frames(tern_pair *p, const uint8_t *f, size_t n)
{
    uint8_t pkt[1500];
    size_t len = forge_1rtt(p->client, f, n, 0, p->now, pkt, sizeof(pkt));
    assert_true(len > 0);
    tern_path_addr pa = p->path_s;
    tern_conn_recv(p->server, &pa, pkt, len, 0, p->now);
}

static void expect_alive(tern_pair *p)
{
    if (tern_conn_state(p->server) != TERN_CS_ESTABLISHED)
        fprintf(stderr, "closed: %s\n", tern_conn_close_info(p->server)->reason);
    assert_int_equal(tern_conn_state(p->server), TERN_CS_ESTABLISHED);
}

static void expect_failed(tern_pair *p, uint64_t terr, uint64_t type)
{
    assert_int_equal(tern_conn_state(p->server), TERN_CS_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p->server);
    if (ci->error_code != terr)
        fprintf(stderr, "got 0x%llx: %s\n", (unsigned long long)ci->error_code, ci->reason);
    assert_int_equal(ci->error_code, terr);
    assert_int_equal(ci->frame_type, type);
    assert_int_equal(ci->local, 1);
}

static size_t new_cid(uint8_t *b, uint64_t path, uint64_t seq, uint64_t rpt, uint8_t tag)
{
    uint8_t cb[8], tok[16];
    tern_cid cid;
    memset(cb, tag, sizeof(cb));
    cb[0] = (uint8_t)seq, cb[1] = (uint8_t)(seq >> 8), cb[2] = (uint8_t)path;
    memset(tok, tag ^ 0x5a, sizeof(tok));
    tok[0] = (uint8_t)seq;
    tern_cid_set(&cid, cb, sizeof(cb));
    return tern_mpframe_write_path_new_cid(b, 64, path, seq, rpt, &cid, tok);
}

static size_t held_cids(const tern_conn *c, uint64_t path)
{
    size_t n = 0;
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
        n += c->mp.ids[path - 1].cids[i].used;
    return n;
}

static void test_max_path_id(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[16];
    connect_mp(&p);
    assert_int_equal(p.server->mp.peer_max_path_id, TERN_MP_LOCAL_MAX_PATH_ID);
    send_frames(&p, b, tern_mpframe_write_max_path_id(b, sizeof(b), 20));
    expect_alive(&p);
    assert_int_equal(p.server->mp.peer_max_path_id, 20);
    /* a stale, smaller one changes nothing */
    send_frames(&p, b, tern_mpframe_write_max_path_id(b, sizeof(b), 9));
    expect_alive(&p);
    assert_int_equal(p.server->mp.peer_max_path_id, 20);
    /* still not below the peer's initial_max_path_id: stale too */
    send_frames(&p, b, tern_mpframe_write_max_path_id(b, sizeof(b), TERN_MP_LOCAL_MAX_PATH_ID));
    expect_alive(&p);
    assert_int_equal(p.server->mp.peer_max_path_id, 20);
    /* PATHS_BLOCKED at our limit is fine, above it a violation */
    send_frames(&p, b, tern_mpframe_write_paths_blocked(b, sizeof(b), TERN_MP_LOCAL_MAX_PATH_ID));
    expect_alive(&p);
    assert_int_equal(p.server->mp.peer_blocked_at, TERN_MP_LOCAL_MAX_PATH_ID + 1);
    send_frames(&p, b, tern_mpframe_write_paths_blocked(b, sizeof(b), TERN_MP_LOCAL_MAX_PATH_ID + 1));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATHS_BLOCKED);
    pair_free(&p);
    /* a Maximum Path Identifier below the peer's initial_max_path_id is invalid (§4.6) */
    connect_mp(&p);
    send_frames(&p, b, tern_mpframe_write_max_path_id(b, sizeof(b), TERN_MP_LOCAL_MAX_PATH_ID - 1));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_MAX_PATH_ID);
    pair_free(&p);
}

static void test_path_id_above_max(void **state)
{
    (void)state;
    static const uint64_t types[] = {TERN_FT_PATH_ABANDON, TERN_FT_PATH_STATUS_BACKUP,
                                     TERN_FT_PATH_NEW_CONNECTION_ID, TERN_FT_PATH_ACK,
                                     TERN_FT_PATH_RETIRE_CONNECTION_ID, TERN_FT_PATH_CIDS_BLOCKED};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        tern_pair p;
        uint8_t b[64];
        size_t n = 0;
        uint64_t id = TERN_MP_LOCAL_MAX_PATH_ID + 1;
        tern_pn_range r = {0, 0};
        connect_mp(&p);
        switch (types[i]) {
        case TERN_FT_PATH_ABANDON:
            n = tern_mpframe_write_path_abandon(b, sizeof(b), id, 0);
            break;
        case TERN_FT_PATH_STATUS_BACKUP:
            n = tern_mpframe_write_path_status(b, sizeof(b), 0, id, 1);
            break;
        case TERN_FT_PATH_NEW_CONNECTION_ID:
            n = new_cid(b, id, 0, 0, 1);
            break;
        case TERN_FT_PATH_ACK:
            n = tern_mpframe_write_path_ack(b, sizeof(b), id, &r, 1, 0, NULL);
            break;
        case TERN_FT_PATH_RETIRE_CONNECTION_ID:
            n = tern_mpframe_write_path_retire_cid(b, sizeof(b), id, 0);
            break;
        default:
            n = tern_mpframe_write_path_cids_blocked(b, sizeof(b), id, 0);
            break;
        }
        assert_true(n > 0);
        send_frames(&p, b, n);
        expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, types[i]);
        pair_free(&p);
    }
}

static void test_path_ack(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[64];
    connect_mp(&p);
    /* path ID 0 is the first path: its PATH_ACK is an ACK of what the server sent */
    uint64_t largest = p.server->sp[TERN_SPACE_APP].next_pn - 1;
    tern_pn_range r = {0, largest};
    send_frames(&p, b, tern_mpframe_write_path_ack(b, sizeof(b), 0, &r, 1, 0, NULL));
    expect_alive(&p);
    assert_int_equal(p.server->rec.q[TERN_SPACE_APP].largest_acked, largest);
    /* one acknowledging a packet never sent is what it would be in an ACK; the close names the
     * frame that caused it, PATH_ACK */
    r.lo = r.hi = largest + 1000;
    send_frames(&p, b, tern_mpframe_write_path_ack(b, sizeof(b), 0, &r, 1, 0, NULL));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATH_ACK);
    pair_free(&p);
    /* nothing was ever sent on path ID 1 */
    connect_mp(&p);
    r.lo = r.hi = 0;
    send_frames(&p, b, tern_mpframe_write_path_ack(b, sizeof(b), 1, &r, 1, 0, NULL));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATH_ACK);
    pair_free(&p);
}

static void test_status_and_abandon(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[16];
    connect_mp(&p);
    send_frames(&p, b, tern_mpframe_write_path_status(b, sizeof(b), 0, 2, 5));
    assert_true(p.server->mp.ids[1].backup);
    /* an older status arriving late is ignored; a newer one applies */
    send_frames(&p, b, tern_mpframe_write_path_status(b, sizeof(b), 1, 2, 3));
    assert_true(p.server->mp.ids[1].backup);
    send_frames(&p, b, tern_mpframe_write_path_status(b, sizeof(b), 1, 2, 6));
    assert_false(p.server->mp.ids[1].backup);
    send_frames(&p, b, tern_mpframe_write_path_status(b, sizeof(b), 0, 0, 0));
    assert_true(p.server->mp.backup0);
    /* abandoning a path ID drops the CIDs held for it */
    uint8_t f[64];
    /* (Retire Prior To retires those the client issued) */
    send_frames(&p, f, new_cid(f, 3, 40, 40, 7));
    assert_int_equal(held_cids(p.server, 3), 1);
    send_frames(&p, b, tern_mpframe_write_path_abandon(b, sizeof(b), 3,
                                                       TERN_MP_ERR_APPLICATION_ABANDON_PATH));
    expect_alive(&p);
    assert_true(p.server->mp.ids[2].abandoned);
    assert_int_equal(p.server->mp.ids[2].abandon_error, TERN_MP_ERR_APPLICATION_ABANDON_PATH);
    assert_int_equal(held_cids(p.server, 3), 0);
    /* from now on frames naming path ID 3 are ignored (§4): no CID is kept, no status applied,
     * and what would be a violation for a live path ID is not one */
    send_frames(&p, f, new_cid(f, 3, 41, 0, 7));
    send_frames(&p, b, tern_mpframe_write_path_status(b, sizeof(b), 0, 3, 9));
    send_frames(&p, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 3, 40));
    send_frames(&p, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 3, 40));
    expect_alive(&p);
    assert_int_equal(held_cids(p.server, 3), 0);
    assert_int_equal(p.server->mp.ids[2].status_seq, 0);
    assert_false(p.server->mp.ids[2].backup);
    pair_free(&p);
}

static void test_cid_rules(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[64];
    connect_mp(&p);
    uint64_t limit = p.server->mp.cid_limit;
    assert_true(limit >= 2);
    /* sequence numbers from 40 on, retiring those the client itself issued */
    for (uint64_t s = 0; s < limit; s++)
        send_frames(&p, b, new_cid(b, 1, 40 + s, 40, 1));
    expect_alive(&p);
    assert_int_equal(held_cids(p.server, 1), limit);
    /* a retransmission is fine; the same sequence number for another CID is not */
    send_frames(&p, b, new_cid(b, 1, 40, 40, 1));
    expect_alive(&p);
    /* Retire Prior To frees room for new ones */
    send_frames(&p, b, new_cid(b, 1, 40 + limit, 41, 1));
    expect_alive(&p);
    assert_int_equal(held_cids(p.server, 1), limit);
    /* one more than the limit */
    send_frames(&p, b, new_cid(b, 1, 40 + limit + 1, 41, 1));
    expect_failed(&p, TERN_TE_CONNECTION_ID_LIMIT_ERROR, TERN_FT_PATH_NEW_CONNECTION_ID);
    pair_free(&p);

    connect_mp(&p);
    send_frames(&p, b, new_cid(b, 2, 40, 40, 1));
    send_frames(&p, b, new_cid(b, 2, 40, 40, 2));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATH_NEW_CONNECTION_ID);
    pair_free(&p);

    /* the CIDs the server issued for path ID 1: beyond them, blocked or retired is a violation */
    connect_mp(&p);
    uint64_t next1 = p.server->mp.ids[0].lnext_seq;
    assert_true(next1 >= 2);
    send_frames(&p, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 1, next1));
    expect_alive(&p);
    send_frames(&p, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 1, next1 + 1));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATH_CIDS_BLOCKED);
    pair_free(&p);
    connect_mp(&p);
    send_frames(&p, b, tern_mpframe_write_path_retire_cid(b, sizeof(b), 1, next1));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATH_RETIRE_CONNECTION_ID);
    pair_free(&p);
    /* path ID 0's CIDs are the connection's own: blocked beyond what was issued is a violation */
    connect_mp(&p);
    uint64_t issued = p.server->cids.local.next_seq;
    send_frames(&p, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 0, issued));
    expect_alive(&p);
    send_frames(&p, b, tern_mpframe_write_path_cids_blocked(b, sizeof(b), 0, issued + 1));
    expect_failed(&p, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_PATH_CIDS_BLOCKED);
    pair_free(&p);
}

/* A peer cycling through CIDs on every path ID, statuses and MAX_PATH_IDs: the receiver holds at
 * most active_connection_id_limit CIDs per path ID and allocates nothing while it does. */
static void test_flood_bounded(void **state)
{
    (void)state;
    tern_pair p;
    uint8_t b[1200];
    connect_mp(&p);
    size_t mem = tern_mp_memory(p.server);
    assert_int_equal(mem, TERN_MP_LOCAL_MAX_PATH_ID * sizeof(tern_mp_path_id));
    unsigned long long allocs = 0;
#if ALLOCHOOK_ACTIVE
    allocs = allochook_count;
#endif
    uint64_t limit = p.server->mp.cid_limit, seq = 40;
    /* each round makes the server owe one PATH_RETIRE_CONNECTION_ID per path ID, on top of the
     * ones for the CIDs the client issued itself: as many rounds as the retire queue takes
     * without sending (its own bound is test_multipath_cids's) */
    int rounds = (int)(TERN_MP_RETIRE_QUEUE - p.server->mp.peer_cid_limit) - 1;
    assert_true((uint64_t)rounds > limit);
    for (int round = 0; round < rounds; round++) {
        size_t n = 0;
        for (uint64_t id = 1; id <= TERN_MP_LOCAL_MAX_PATH_ID; id++) {
            /* each frame retires all but the last limit - 1 */
            uint64_t rpt = seq + 1 - limit + 1;
            n += new_cid(b + n, id, seq, rpt, (uint8_t)round);
            n += tern_mpframe_write_path_status(b + n, sizeof(b) - n, round & 1, id,
                                                (uint64_t)round);
        }
        n += tern_mpframe_write_max_path_id(b + n, sizeof(b) - n,
                                            TERN_MP_LOCAL_MAX_PATH_ID + (uint64_t)round);
        send_frames(&p, b, n);
        expect_alive(&p);
        seq++;
        for (uint64_t id = 1; id <= TERN_MP_LOCAL_MAX_PATH_ID; id++)
            assert_true(held_cids(p.server, id) <= limit);
    }
    for (uint64_t id = 1; id <= TERN_MP_LOCAL_MAX_PATH_ID; id++)
        assert_int_equal(held_cids(p.server, id), limit - 1);
    assert_int_equal(tern_mp_memory(p.server), mem);
#if ALLOCHOOK_ACTIVE
    /* the packets themselves allocate nothing either (no per-packet allocation) */
    assert_int_equal(allochook_count, allocs);
#else
    (void)allocs;
#endif
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_path_id),
        cmocka_unit_test(test_path_id_above_max),
        cmocka_unit_test(test_path_ack),
        cmocka_unit_test(test_status_and_abandon),
        cmocka_unit_test(test_cid_rules),
        cmocka_unit_test(test_flood_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
