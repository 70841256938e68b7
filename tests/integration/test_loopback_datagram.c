/* Unreliable datagrams through the real runtime over loopback sockets: the client's datagrams
 * reach the server intact (byte pattern per tag and a content hash over all), the server echoes
 * each from inside on_datagram, the counters of both sides agree (acked + lost == sent), and the
 * size and support errors are those the header promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dgramfx.h"
#include "loopfx.h"

#define N_DGRAMS 600

static struct {
    uint64_t recv, hash, bad, echoed;
    uint8_t seen[N_DGRAMS];
} srv_dg;

static size_t len_of(uint64_t tag)
{
    return 8 + (size_t)(tag * 41 % 1150); /* all below the smallest path limit, 1200 - 32 */
}

static void srv_datagram(tern_conn *c, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    uint64_t tag = 0;
    srv_dg.recv++;
    srv_dg.hash += dgramfx_hash(data, len);
    if (!dgramfx_parse(data, len, &tag) || tag >= N_DGRAMS || len != len_of(tag)) {
        srv_dg.bad++;
        return;
    }
    srv_dg.seen[tag]++;
    srv_dg.echoed += tern_conn_send_datagram(c, data, len, tag) == 0;
}

static tern_callbacks srv_cb;

static void start(loopfx *f, uint64_t srv_max)
{
    memset(&srv_dg, 0, sizeof(srv_dg));
    srv_cb = loopfx_callbacks;
    srv_cb.on_datagram = srv_datagram;
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    sc.max_datagram_frame_size = srv_max;
    /* room to echo a whole burst: at 8972-byte datagrams a packet brings several at once, and an
     * echo the queue cannot take would be lost, not delayed */
    sc.datagram_queue_bytes = 1u << 20;
    sc.datagram_queue_count = 1024;
    loopfx_start_server_cb(f, &sc, &srv_cb, NULL);
    loopfx_base_cfg(&cc, 0);
    cc.max_datagram_frame_size = 1500;
    loopfx_start_client(f, &cc, NULL);
    LOOPFX_CHECK(f, loopfx_drive(f, loopfx_cond_connected, 5000));
}

static int cond_settled(loopfx *f)
{
    tern_conn_stats c, s;
    if (!f->srv.conn || tern_conn_get_stats(f->cli.conn, &c) ||
        tern_conn_get_stats(f->srv.conn, &s))
        return 0;
    return c.datagrams_sent == N_DGRAMS && c.datagrams_acked + c.datagrams_lost == N_DGRAMS &&
           s.datagrams_sent == srv_dg.echoed &&
           s.datagrams_acked + s.datagrams_lost == s.datagrams_sent &&
           c.datagrams_recv == srv_dg.echoed && srv_dg.recv == N_DGRAMS;
}

static void test_datagrams_echoed(void **st)
{
    loopfx *f = *st;
    start(f, 1500);
    tern_conn *c = f->cli.conn;
    /* the path's datagram size (1200 until path MTU discovery raised it), 8-byte server CIDs:
     * mtu - 1 - 8 - 4 - 16 bytes of frame, 3 of it the DATAGRAM header */
    size_t max = tern_conn_datagram_max_size(c);
    tern_path_info pi;
    size_t np = 0;
    LOOPFX_CHECK_INT(f, tern_conn_paths(c, &pi, 1, &np), 0);
    LOOPFX_CHECK(f, pi.mtu >= 1200);
    LOOPFX_CHECK_INT(f, max, pi.mtu - 32);
    uint8_t buf[1500];
    memset(buf, 0, sizeof(buf));
    LOOPFX_CHECK_INT(f, tern_conn_send_datagram(c, buf, max + 1, 0), TERN_ERR_DATAGRAM_TOO_LARGE);
    uint64_t hash = 0, t0 = loopfx_now_ms();
    for (uint64_t tag = 0; tag < N_DGRAMS;) {
        size_t len = dgramfx_make(tag, len_of(tag), buf);
        int rv = tern_conn_send_datagram(c, buf, len, tag);
        if (rv == TERN_ERR_WOULD_BLOCK) {
            LOOPFX_CHECK(f, loopfx_now_ms() - t0 < 10000);
            loopfx_drive(f, loopfx_cond_never, 2);
            continue;
        }
        LOOPFX_CHECK_INT(f, rv, 0);
        hash += dgramfx_hash(buf, len);
        tag++;
    }
    LOOPFX_CHECK(f, loopfx_drive(f, cond_settled, 10000));
    LOOPFX_CHECK_INT(f, srv_dg.bad, 0);
    LOOPFX_CHECK(f, srv_dg.hash == hash);
    for (int t = 0; t < N_DGRAMS; t++)
        LOOPFX_CHECK_INT(f, srv_dg.seen[t], 1);
    tern_conn_stats cs;
    LOOPFX_CHECK_INT(f, tern_conn_get_stats(c, &cs), 0);
    LOOPFX_CHECK_INT(f, cs.datagrams_acked, N_DGRAMS); /* loopback loses nothing */
    LOOPFX_CHECK_INT(f, cs.datagrams_recv, N_DGRAMS);  /* every echo came back */
    LOOPFX_CHECK_INT(f, cs.datagrams_dropped, 0);
}

static void test_peer_without_datagrams(void **st)
{
    loopfx *f = *st;
    start(f, 0);
    uint8_t b[8] = {0};
    LOOPFX_CHECK_INT(f, tern_conn_datagram_max_size(f->cli.conn), 0);
    LOOPFX_CHECK_INT(f, tern_conn_send_datagram(f->cli.conn, b, 8, 1),
                     TERN_ERR_DATAGRAM_UNSUPPORTED);
    /* the server may send: the client takes them */
    LOOPFX_CHECK(f, f->srv.conn != NULL);
    LOOPFX_CHECK_INT(f, tern_conn_send_datagram(f->srv.conn, b, 8, 1), 0);
    tern_conn_stats cs;
    for (int i = 0; i < 500; i++) {
        loopfx_drive(f, loopfx_cond_never, 2);
        LOOPFX_CHECK_INT(f, tern_conn_get_stats(f->cli.conn, &cs), 0);
        if (cs.datagrams_recv)
            break;
    }
    LOOPFX_CHECK_INT(f, cs.datagrams_recv, 1);
    LOOPFX_CHECK(f, tern_strerror(TERN_ERR_DATAGRAM_UNSUPPORTED)[0] != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_datagrams_echoed),
        LOOPFX_TEST(test_peer_without_datagrams),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
