/* What a packet declared lost puts back (RFC 9000 §13.3), checked on the bytes the connection sends
 * next: a lost MAX_DATA is sent again only when it still carries the latest limit; a DATA_BLOCKED
 * only while still blocked at that limit; stream data only for a stream that exists and was not
 * reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "forge.h"
#include "frame.h"
#include "pair.h"
#include "recovery.h"

#define MS 1000000ull
#define SEC 1000000000ull

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_connect(p));
    pair_run(p, never, 300 * MS); /* acknowledgements settle */
}

/* Sends one datagram from c if it has one; returns the frame types in it (bit per type below 64,
 * STREAM frames as bit 8) and the MAX_DATA value in *max_data (when not NULL), 0 when nothing
 * left. */
static uint64_t send_one(tern_pair *p, tern_conn *c, uint64_t *max_data)
{
    uint8_t buf[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(c, &pa, buf, sizeof(buf), 1, &seg, &cnt, p->now), 0);
    if (!cnt)
        return 0;
    uint8_t plain[1500];
    long n = forge_open_1rtt(c, buf, seg, 8, plain, sizeof(plain));
    assert_true(n > 0);
    uint64_t types = 0;
    const uint8_t *q = plain, *end = plain + n;
    tern_frame f;
    uint64_t terr;
    while (q < end) {
        assert_int_equal(tern_frame_parse(&q, end, &f, &terr), 0);
        uint64_t t = f.type >= 0x08 && f.type <= 0x0f ? 0x08 : f.type;
        if (t < 64)
            types |= 1ull << t;
        if (t == TERN_FT_MAX_DATA && max_data)
            *max_data = f.u.max_data.max;
    }
    return types;
}

/* Everything c owes goes out now (acknowledgements, ...), so that what follows is the loss's. */
static void drain(tern_pair *p, tern_conn *c)
{
    for (int i = 0; i < 20 && send_one(p, c, NULL); i++)
        ;
    assert_int_equal(send_one(p, c, NULL), 0);
}

static tern_sent_pkt lost_pkt(uint8_t type, uint64_t id, uint64_t off, uint32_t len, uint16_t aux)
{
    tern_sent_pkt pk;
    memset(&pk, 0, sizeof(pk));
    pk.pn = 1;
    pk.ack_eliciting = 1;
    pk.n_frames = 1;
    pk.frames[0].type = type;
    pk.frames[0].id = id;
    pk.frames[0].off = off;
    pk.frames[0].len = len;
    pk.frames[0].aux = aux;
    return pk;
}

static void test_max_data_resent_only_when_latest(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1502);
    tern_conn *c = p.client;
    drain(&p, c);
    tern_conn_flow_view fv = tern_conn_flow(c);
    assert_false(fv.need_max_data);
    /* an older limit than the one the peer already has: nothing */
    tern_sent_pkt pk = lost_pkt(TERN_FT_MAX_DATA, 0, fv.max_data_next - 1, 0, 0);
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &pk);
    assert_false(tern_conn_flow(c).need_max_data);
    assert_int_equal(send_one(&p, c, NULL), 0);
    /* the latest: it goes again, with the same value */
    pk = lost_pkt(TERN_FT_MAX_DATA, 0, fv.max_data_next, 0, 0);
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &pk);
    assert_true(tern_conn_flow(c).need_max_data);
    uint64_t max = 0;
    assert_true(send_one(&p, c, &max) & (1ull << TERN_FT_MAX_DATA));
    assert_int_equal(max, fv.max_data_next);
    assert_false(tern_conn_flow(c).need_max_data);
    pair_free(&p);
}

static void test_data_blocked_resent_only_while_blocked(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1503);
    tern_conn *c = p.client;
    drain(&p, c);
    tern_conn_flow_view fv = tern_conn_flow(c);
    assert_true(fv.data_sent < fv.max_data_send); /* far from the peer's limit */
    tern_sent_pkt pk = lost_pkt(TERN_FT_DATA_BLOCKED, 0, fv.max_data_send, 0, 0);
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &pk);
    assert_int_equal(send_one(&p, c, NULL), 0);
    pair_free(&p);
}

static void test_stream_data_of_gone_or_reset_stream_not_resent(void **st)
{
    (void)st;
    tern_pair p;
    connect_pair(&p, 1504);
    tern_conn *c = p.client;
    drain(&p, c);
    /* a stream that does not exist (never opened) */
    tern_sent_pkt pk = lost_pkt(TERN_FT_STREAM, 400, 0, 100, 0);
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &pk);
    assert_int_equal(send_one(&p, c, NULL), 0);

    /* a stream whose data left, then was reset: the reset goes out, its data never again */
    int64_t sid = -1;
    assert_int_equal(tern_conn_open_stream(c, 1, &sid), 0);
    static const uint8_t data[300] = {1, 2, 3};
    assert_int_equal(tern_stream_write(c, sid, data, sizeof(data), 0), (int)sizeof(data));
    assert_true(send_one(&p, c, NULL) & (1ull << 0x08));
    assert_int_equal(tern_stream_reset(c, sid, 7), 0);
    uint64_t types = send_one(&p, c, NULL);
    assert_true(types & (1ull << TERN_FT_RESET_STREAM));
    drain(&p, c);
    pk = lost_pkt(TERN_FT_STREAM, (uint64_t)sid, 0, sizeof(data), 0);
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &pk);
    assert_int_equal(send_one(&p, c, NULL), 0);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_data_resent_only_when_latest),
        cmocka_unit_test(test_data_blocked_resent_only_while_blocked),
        cmocka_unit_test(test_stream_data_of_gone_or_reset_stream_not_resent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
