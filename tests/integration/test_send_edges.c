/* What the connection sends at the edges of the send API: its arguments; a CONNECTION_CLOSE that
 * waits for a buffer of a full datagram rather than being cut or lost; a PATH_CHALLENGE that waits
 * until randomness is available rather than going out predictable; a batch buffer shorter
 * than one datagram; and datagrams of little room, whose control frames that do not fit wait for
 * the next one. Each checks the bytes that leave (opened with the sender's keys) or that they
 * all arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "forge.h"
#include "frame.h"
#include "migration.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_connect(p));
}

static int never(tern_pair *p)
{
    return 0;
}

/* Frame types in the 1-RTT datagram `c` just sent (bit per type below 64). */
static uint64_t frame_types(tern_conn *c, const uint8_t *d, size_t len)
{
    uint8_t plain[1500];
    long n = forge_open_1rtt(c, d, len, 8, plain, sizeof(plain));
    assert_true(n > 0);
    uint64_t types = 0;
    const uint8_t *q = plain, *end = plain + n;
    tern_frame f;
    uint64_t terr;
    while (q < end) {
        assert_int_equal(tern_frame_parse(&q, end, &f, &terr), 0);
        if (f.type < 64)
            types |= 1ull << f.type;
    }
    return types;
}

static void test_send_arguments(void **st)
{
    tern_pair p;
    connect_pair(&p, 1300);
    tern_conn *c = p.client;
    uint8_t buf[1500];
    tern_path_addr pa;
    size_t seg, cnt, len;
    assert_int_equal(tern_conn_send_batch(NULL, &pa, buf, sizeof(buf), 1, &seg, &cnt, &len, p.now),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_send_batch(c, NULL, buf, sizeof(buf), 1, &seg, &cnt, &len, p.now),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_send_batch(c, &pa, NULL, sizeof(buf), 1, &seg, &cnt, &len, p.now),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_send_batch(c, &pa, buf, sizeof(buf), 1, NULL, &cnt, &len, p.now),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_send_batch(c, &pa, buf, sizeof(buf), 1, &seg, NULL, &len, p.now),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_send_batch(c, &pa, buf, sizeof(buf), 1, &seg, &cnt, NULL, p.now),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_recv(NULL, &p.path_c, buf, 10, 0, p.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_recv(c, &p.path_c, NULL, 10, 0, p.now), TERN_ERR_INVALID_ARG);
    /* none of it changed the connection */
    assert_int_equal(tern_conn_state(c), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

/* A close asked for while the driver offers a buffer smaller than a datagram may need stays due:
 * it leaves whole at the next call with room, carrying the application's code. */
static void test_close_waits_for_room(void **st)
{
    tern_pair p;
    connect_pair(&p, 1301);
    tern_conn *c = p.client;
    assert_int_equal(tern_conn_close(c, 42, "later"), 0);
    uint8_t buf[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(c, &pa, buf, 1000, 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 0);
    assert_int_equal(tern_conn_send(c, &pa, buf, sizeof(buf), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 1);
    uint8_t plain[1500];
    long n = forge_open_1rtt(c, buf, seg, 8, plain, sizeof(plain));
    assert_true(n > 0);
    const uint8_t *q = plain;
    tern_frame f;
    uint64_t terr;
    int found = 0;
    while (q < plain + n) {
        assert_int_equal(tern_frame_parse(&q, plain + n, &f, &terr), 0);
        if (f.type == TERN_FT_CONNECTION_CLOSE_APP) {
            assert_int_equal(f.u.close.error_code, 42);
            assert_int_equal(f.u.close.reason_len, 5);
            assert_memory_equal(f.u.close.reason, "later", 5);
            found = 1;
        }
    }
    assert_true(found);
    /* sent once: not again before a packet from the peer asks for it */
    assert_int_equal(tern_conn_send(c, &pa, buf, sizeof(buf), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 0);
    pair_free(&p);
}

static int cond_validated(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_VALIDATED] > 0;
}

/* A PATH_CHALLENGE must be unpredictable (RFC 9000 §8.2.1): while the random source fails none
 * leaves, the path stays unvalidated; once it works the challenge goes out and the path validates.
 */
static void test_challenge_waits_for_randomness(void **st)
{
    tern_pair p;
    connect_pair(&p, 1302);
    tern_addr alt;
    assert_int_equal(tern_addr_parse(&alt, "10.0.0.7:7300", 0), 0);
    p.rand_fail = 1;
    int id = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(id > 0);
    /* what the client sends now: nothing on the new path, no challenge anywhere */
    uint8_t buf[1500];
    tern_path_addr pa;
    for (int i = 0; i < 4; i++) {
        size_t seg = 0, cnt = 0;
        assert_int_equal(tern_conn_send(p.client, &pa, buf, sizeof(buf), 1, &seg, &cnt, p.now), 0);
        if (!cnt)
            break;
        assert_false(tern_addr_equal(&pa.local, &alt));
        assert_false(frame_types(p.client, buf, seg) & (1ull << TERN_FT_PATH_CHALLENGE));
    }
    assert_int_equal(tern_conn_path_at(p.client, id)->nchallenge, 0);
    pair_run(&p, never, 50 * MS);
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], 0);
    assert_int_equal(tern_conn_path_at(p.client, id)->nchallenge, 0);
    p.rand_fail = 0;
    assert_true(pair_run(&p, cond_validated, 5 * SEC));
    assert_true(tern_conn_path_at(p.client, id)->path_validated);
    pair_free(&p);
}

/* Responses produced in place (tern_stream_write_buffer, then a commit of all or part of it)
 * arrive whole and in order on several streams, well past the stream buffer's first ring, so
 * that places at the ring's wrap and growth are used; the errors of both calls. */
static void test_write_in_place(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 1311), 0);
    p.server_in_place = 1;
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, 3000000) >= 0);
    assert_true(pair_request(&p, 40000) >= 0);
    assert_true(pair_request(&p, 1) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));

    int64_t sid;
    void *place = NULL;
    assert_int_equal(tern_conn_open_stream(p.server, 0, &sid), 0);
    assert_int_equal(tern_stream_write_buffer(p.server, sid, 10, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_write_buffer(p.server, sid + 400, 10, &place),
                     TERN_ERR_STREAM_NOT_FOUND);
    assert_null(place);
    assert_int_equal(tern_stream_write_buffer(p.server, sid, 0, &place), 0);
    assert_int_equal(tern_stream_write_buffer(p.server, sid, 10, &place), 10);
    assert_non_null(place);
    memset(place, 'x', 10);
    assert_int_equal(tern_stream_write_commit(p.server, sid, 11, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_stream_write_commit(p.server, sid, 10, 1), 0);
    assert_int_equal(tern_stream_write_buffer(p.server, sid, 10, &place), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_stream_write_commit(p.server, sid, 0, 0), TERN_ERR_STREAM_STATE);
    pair_free(&p);
}

/* A batch buffer with room for one datagram and a part of another: one full datagram leaves, the
 * rest waits (nothing is cut to fit). */
static void test_batch_buffer_remainder(void **st)
{
    tern_pair p;
    connect_pair(&p, 1303);
    int64_t sid;
    static uint8_t data[8000];
    assert_int_equal(tern_conn_open_stream(p.server, 0, &sid), 0);
    assert_int_equal(tern_stream_write(p.server, sid, data, sizeof(data), 1), (int)sizeof(data));
    uint8_t buf[1500 * 3];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0, len = 0;
    size_t cap = 1500 + 700;
    assert_int_equal(tern_conn_send_batch(p.server, &pa, buf, cap, 8, &seg, &cnt, &len, p.now), 0);
    assert_int_equal(cnt, 1);
    assert_true(seg > 700);
    assert_int_equal(len, seg);
    assert_true(frame_types(p.server, buf, seg) & 0xff00ull); /* STREAM */
    /* the rest follows in full datagrams when there is room */
    assert_int_equal(
        tern_conn_send_batch(p.server, &pa, buf, sizeof(buf), 8, &seg, &cnt, &len, p.now), 0);
    assert_true(cnt >= 2);
    assert_true(len > seg);
    pair_free(&p);
}

/* The first datagram a side builds once its handshake completes (HANDSHAKE_DONE, NEW_TOKEN, a
 * run of NEW_CONNECTION_IDs, ACKs) is asked to fit in `g_room_cap` bytes: whatever does not fit
 * waits for the next one. The small datagram is delivered; what it carries parses, and nothing is
 * lost: the peer ends up with every CID, and a download completes. */
static size_t g_room_cap;
static int g_room_side, g_room_done;
static size_t g_room_len;

static void send_in_small_room(tern_pair *p, tern_conn *c, int from_server)
{
    if (g_room_done || from_server != g_room_side || !tern_conn_handshake_complete(c))
        return;
    g_room_done = 1;
    uint8_t buf[1500];
    tern_path_addr out;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(c, &out, buf, g_room_cap, 1, &seg, &cnt, p->now), 0);
    g_room_len = cnt ? seg : 0;
    if (!cnt)
        return;
    assert_true(seg <= g_room_cap);
    tern_conn *peer = from_server ? p->client : p->server;
    tern_path_addr in = {out.remote, out.local};
    tern_conn_recv(peer, &in, buf, seg, 0, p->now);
}

static size_t peer_cids_held(tern_conn *c)
{
    return tern_peer_cids_spare(tern_conn_peer_cids(c)) + 1;
}

static void test_control_frames_wait_for_room(void **st)
{
    static const uint8_t token_key[32] = {7};
    size_t want[2] = {0, 0};
    for (int side = 0; side < 2; side++) {
        for (size_t cap = 1500; cap >= 64; cap = cap == 1500 ? 140 : cap - 1) {
            tern_pair p;
            assert_int_equal(pair_init(&p, 1310), 0);
            p.token_key = token_key;
            p.cfg_s.token_lifetime_ms = 60000;
            g_room_cap = cap;
            g_room_side = side;
            g_room_done = 0;
            p.before_send = send_in_small_room;
            assert_true(pair_connect(&p));
            assert_true(g_room_done);
            assert_true(pair_request(&p, 20000) >= 0);
            assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
            assert_true(pair_verify(&p));
            pair_run(&p, never, 200 * MS);
            /* the side that sent in little room gave its peer as many CIDs as with a full one */
            tern_conn *peer = side ? p.client : p.server;
            if (cap == 1500)
                want[side] = peer_cids_held(peer);
            assert_int_equal(peer_cids_held(peer), want[side]);
            assert_true(tern_conn_handshake_confirmed(p.client));
            pair_free(&p);
        }
        assert_true(want[side] >= 2);
    }
}

/* A download under tight flow control (MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, the BLOCKED
 * frames all pending now and then) where every third time a side is asked to send, one datagram
 * must fit in a room between 64 and 153 bytes: each stays within its room, and the frames that
 * do not fit wait rather than get lost (every byte arrives, in order). */
static unsigned g_small_calls;

static void small_rooms(tern_pair *p, tern_conn *c, int from_server)
{
    if (!tern_conn_handshake_confirmed(c) || ++g_small_calls % 3)
        return;
    size_t cap = 64 + (g_small_calls * 7) % 90;
    uint8_t buf[1500];
    tern_path_addr out;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(c, &out, buf, cap, 1, &seg, &cnt, p->now), 0);
    if (!cnt)
        return;
    assert_true(seg <= cap);
    tern_path_addr in = {out.remote, out.local};
    tern_conn_recv(from_server ? p->client : p->server, &in, buf, seg, 0, p->now);
}

static void test_small_rooms_during_download(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1311), 0);
    tern_config *cf[2] = {&p.cfg_c, &p.cfg_s};
    for (int i = 0; i < 2; i++) {
        cf[i]->initial_max_data = 12000;
        cf[i]->initial_max_stream_data_bidi_local = 3000;
        cf[i]->initial_max_stream_data_bidi_remote = 3000;
        cf[i]->initial_max_streams_bidi = 4;
    }
    g_small_calls = 0;
    p.before_send = small_rooms;
    assert_true(pair_connect(&p));
    /* losses leave gaps, so that ACK frames with many ranges take most of a small room */
    p.c2s.loss = p.s2c.loss = 0.2;
    for (int round = 0; round < 2; round++) {
        int opened = 0;
        while (opened < 5 && pair_request(&p, 30000) >= 0)
            opened++;
        assert_true(opened >= 2 && opened <= 4); /* then the peer's stream limit: BLOCKED */
        assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
        assert_true(pair_verify(&p));
        pair_run(&p, never, 500 * MS); /* the server's MAX_STREAMS */
    }
    assert_true(g_small_calls > 30);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_arguments),
        cmocka_unit_test(test_write_in_place),
        cmocka_unit_test(test_close_waits_for_room),
        cmocka_unit_test(test_challenge_waits_for_randomness),
        cmocka_unit_test(test_batch_buffer_remainder),
        cmocka_unit_test(test_control_frames_wait_for_room),
        cmocka_unit_test(test_small_rooms_during_download),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
