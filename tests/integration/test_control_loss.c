/* Control frames survive loss (RFC 9000 §13.3): after a real handshake between two cores, the
 * datagrams that carry a RESET_STREAM, STOP_SENDING, MAX_DATA / MAX_STREAM_DATA, MAX_STREAMS,
 * NEW_CONNECTION_ID or HANDSHAKE_DONE are dropped by the link, and each test checks on the other
 * side that what the frame announces still arrives: the reset is seen, the peer stops, the
 * transfer completes with the right bytes, new streams can be opened, CIDs and confirmation reach
 * the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The link drops datagrams of one direction during [drop_from, drop_until). */
typedef struct window {
    int to_server;
    uint64_t from, until;
    uint64_t dropped;
    /* also drop the first `max_streams_drops` server datagrams sent right after the server
     * raised its bidirectional stream limit (they carry that MAX_STREAMS) */
    int max_streams_drops;
    uint64_t max_streams_seen;
} window;

static int drop_window(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    window *w = p->filter_ud;
    if (!to_server && w->max_streams_drops && p->server &&
        tern_conn_streams(p->server)->max_remote[0] > w->max_streams_seen) {
        w->max_streams_seen = tern_conn_streams(p->server)->max_remote[0];
        w->max_streams_drops--;
        w->dropped++;
        return 1;
    }
    if (to_server != w->to_server || p->now < w->from || p->now >= w->until)
        return 0;
    w->dropped++;
    return 1;
}

static void start(tern_pair *p, window *w, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->filter = drop_window;
    p->filter_ud = w;
    memset(w, 0, sizeof(*w));
}

static void connect_pair(tern_pair *p)
{
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(p, 100), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

static int never(tern_pair *p)
{
    return 0;
}

/* The client's stream `sid` was reset by the server (or already released after it). */
static int client_saw_reset(tern_pair *p, int64_t sid)
{
    tern_stream *s = tern_streams_find(tern_conn_streams(p->client), sid);
    return !s || (s->flags & TERN_SF_RESET_RECVD);
}

static void test_reset_stream_lost(void **st)
{
    tern_pair p;
    window w;
    start(&p, &w, 700);
    connect_pair(&p);
    int i = pair_request(&p, 400000);
    assert_true(i >= 0);
    int64_t sid = p.streams[i].sid;
    pair_run(&p, never, 40 * MS); /* the response is under way */
    assert_false(client_saw_reset(&p, sid));
    assert_int_equal(tern_stream_reset(p.server, sid, 5), 0);
    w.to_server = 0;
    w.from = p.now;
    w.until = p.now + 60 * MS; /* the first RESET_STREAM is lost */
    pair_run(&p, never, 2 * SEC);
    assert_true(w.dropped > 0);
    assert_true(client_saw_reset(&p, sid));
    assert_false(p.streams[i].fin);
    assert_true(p.streams[i].got < 400000);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

static void test_stop_sending_lost(void **st)
{
    tern_pair p;
    window w;
    start(&p, &w, 701);
    connect_pair(&p);
    int i = pair_request(&p, 2000000);
    assert_true(i >= 0);
    int64_t sid = p.streams[i].sid;
    pair_run(&p, never, 40 * MS);
    assert_int_equal(tern_stream_stop_sending(p.client, sid, 9), 0);
    w.to_server = 1;
    w.from = p.now;
    w.until = p.now + 60 * MS; /* the first STOP_SENDING is lost */
    pair_run(&p, never, 2 * SEC);
    assert_true(w.dropped > 0);
    /* the server learned of it all the same: it reset its side and stopped sending */
    tern_stream *s = tern_streams_find(tern_conn_streams(p.server), sid);
    assert_true(!s || (s->flags & TERN_SF_RESET_SENT));
    assert_true(p.server_bytes_sent < 2000000);
    pair_free(&p);
}

static void small_windows(tern_pair *p)
{
    p->cfg_c.initial_max_data = 30000;
    p->cfg_c.initial_max_stream_data_bidi_local = 20000;
}

static void test_flow_credit_lost(void **st)
{
    /* a download 20 times the windows: the client's MAX_DATA / MAX_STREAM_DATA updates are lost
     * for a while, and the download still completes with every byte right */
    tern_pair p;
    window w;
    start(&p, &w, 702);
    small_windows(&p);
    connect_pair(&p);
    assert_int_equal(pair_request(&p, 400000), 1);
    pair_run(&p, never, 30 * MS);
    w.to_server = 1;
    w.from = p.now;
    w.until = p.now + 150 * MS;
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    assert_true(w.dropped > 0);
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void few_streams(tern_pair *p)
{
    p->cfg_s.initial_max_streams_bidi = 3;
}

static void test_max_streams_lost(void **st)
{
    /* the server allows 3 streams at a time; the MAX_STREAMS that lets more be opened is lost */
    tern_pair p;
    window w;
    start(&p, &w, 703);
    few_streams(&p);
    connect_pair(&p); /* one stream used */
    assert_true(pair_request(&p, 100) >= 0);
    assert_true(pair_request(&p, 100) >= 0);
    assert_int_equal(pair_request(&p, 100), -1); /* the limit */
    w.max_streams_seen = tern_conn_streams(p.server)->max_remote[0];
    w.max_streams_drops = 2;
    int opened = 0;
    for (int k = 0; k < 300 && !opened; k++) {
        pair_run(&p, never, 10 * MS);
        opened = pair_request(&p, 100) >= 0;
    }
    assert_true(w.dropped > 0);
    assert_true(opened);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static int server_complete(tern_pair *p)
{
    return p->server && tern_conn_handshake_complete(p->server);
}

static void test_handshake_done_and_cids_lost(void **st)
{
    /* everything the server sends right after completing the handshake (HANDSHAKE_DONE,
     * NEW_CONNECTION_ID) is lost: the client still gets confirmed and receives spare CIDs */
    tern_pair p;
    window w;
    start(&p, &w, 704);
    assert_true(pair_run(&p, server_complete, 10 * SEC));
    w.to_server = 0;
    w.from = p.now;
    w.until = p.now + 100 * MS;
    pair_run(&p, never, 3 * SEC);
    assert_true(w.dropped > 0);
    assert_true(tern_conn_handshake_confirmed(p.client));
    assert_true(tern_peer_cids_spare(tern_conn_peer_cids(p.client)) >= 1);
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_stream_lost),
        cmocka_unit_test(test_stop_sending_lost),
        cmocka_unit_test(test_flow_credit_lost),
        cmocka_unit_test(test_max_streams_lost),
        cmocka_unit_test(test_handshake_done_and_cids_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
