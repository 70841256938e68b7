/* Datapath hooks on the real runtime over 127.0.0.1: a server endpoint and a client endpoint in
 * one process, a download of N pseudo-random bytes checked by SHA-256, and hooks that count, drop,
 * delay and rewrite datagrams (a lost datagram, a dead uplink, 50 ms of delay, a NAT rebinding,
 * a source address rewritten to another listener). The two endpoints and the application are the
 * loopfx fixture (tests/common/loopfx.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/endpoint.h"
#include "loopfx.h"
#include "tern/tern.h"

#define MS LOOPFX_MS

/* ---- hooks ----------------------------------------------------------------------------------- */

typedef struct hk {
    uint64_t sends, recvs, send_bytes, recv_bytes;
    uint64_t drop_nth_send;   /* drop the send with this number (1-based; 0 = none) */
    int drop_all_sends;
    tern_addr drop_from;      /* drop sends from this local address (len 0 = none) */
    uint64_t delay_sends_ns, delay_recvs_ns;
    int nat;                  /* rewrite the remote of received datagrams from real to fake */
    tern_addr real, fake;
    uint64_t nat_in, nat_out; /* datagrams rewritten each way */
    tern_addr swap_local_from, swap_local_to; /* rewrite the source of sends */
    tern_addr remote_from, remote_to;         /* rewrite the remote of received datagrams */
    uint64_t swapped;
} hk;

static tern_hook_verdict hk_send(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                 uint64_t *delay_ns)
{
    hk *h = ud;
    assert_int_equal(*delay_ns, 0);
    assert_true(len > 0 && len <= 8972); /* max_udp_payload's default: path MTU discovery */
    h->sends++;
    h->send_bytes += len;
    if (h->nat && tern_addr_equal(&path->remote, &h->fake)) {
        path->remote = h->real; /* the NAT maps the new port back to the client */
        h->nat_out++;
    }
    if (h->swap_local_from.len && tern_addr_equal(&path->local, &h->swap_local_from)) {
        path->local = h->swap_local_to;
        h->swapped++;
    }
    if (h->drop_all_sends || h->sends == h->drop_nth_send)
        return TERN_HOOK_DROP;
    if (h->drop_from.len && tern_addr_equal(&path->local, &h->drop_from))
        return TERN_HOOK_DROP;
    if (h->delay_sends_ns) {
        *delay_ns = h->delay_sends_ns;
        return TERN_HOOK_DELAY;
    }
    return TERN_HOOK_PASS;
}

static tern_hook_verdict hk_recv(void *ud, tern_path_addr *path, uint8_t *data, size_t len,
                                 uint64_t *delay_ns)
{
    hk *h = ud;
    assert_int_equal(*delay_ns, 0);
    h->recvs++;
    h->recv_bytes += len;
    if (h->nat && tern_addr_equal(&path->remote, &h->real)) {
        path->remote = h->fake;
        h->nat_in++;
    }
    if (h->remote_from.len && tern_addr_equal(&path->remote, &h->remote_from)) {
        path->remote = h->remote_to;
        h->swapped++;
    }
    if (h->delay_recvs_ns) {
        *delay_ns = h->delay_recvs_ns;
        return TERN_HOOK_DELAY;
    }
    return TERN_HOOK_PASS;
}

static tern_datapath_hooks hooks_of(hk *h, int send, int recv)
{
    tern_datapath_hooks hooks = {
        .on_send = send ? hk_send : NULL, .on_recv = recv ? hk_recv : NULL, .ud = h};
    return hooks;
}

static void install(tern_endpoint *ep, hk *h, int send, int recv)
{
    tern_datapath_hooks hooks = hooks_of(h, send, recv);
    assert_int_equal(tern_endpoint_set_datapath_hooks(ep, &hooks), 0);
}

/* Connects to the server; `h` (may be NULL) is installed on the client endpoint first. */
static void start_client(loopfx *f, const tern_config *cfg, hk *h, int send, int recv)
{
    tern_datapath_hooks hooks = hooks_of(h, send, recv);
    loopfx_start_client(f, cfg, h ? &hooks : NULL);
}

static int cond_quarter_mib(loopfx *f)
{
    return f->cli.got >= (256u << 10) || f->cli.closed;
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* Without hooks (never set, or removed) the endpoint works as before and counts nothing. */
static void test_no_hooks(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    start_client(f, &cc, NULL, 0, 0);
    assert_int_equal(tern_endpoint_set_datapath_hooks(NULL, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->cli.ep, NULL), 0);
    tern_datapath_hooks empty = {0};
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, &empty), 0);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 4u << 20, 20000);
    tern_endpoint_stats es, ec;
    tern_endpoint_get_stats(f->srv.ep, &es);
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_int_equal(es.hook_dropped + es.hook_delayed + es.hook_overflow + es.hook_queued, 0);
    assert_int_equal(ec.hook_dropped + ec.hook_delayed + ec.hook_overflow + ec.hook_queued, 0);
    assert_true(es.dgrams_sent > (4u << 20) / 8972); /* loopback: jumbo datagrams */
    assert_int_equal(es.conns_accepted, 1);
    assert_int_equal(es.dispatch.accepted, 1);
    assert_int_equal(es.dropped, es.dispatch.dropped);
}

/* Hooks that pass everything see every datagram exactly once, GSO batches split included. */
static void test_pass_sees_every_datagram(void **st)
{
    loopfx *f = *st;
    hk hs = {0}, hc = {0};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    install(f->srv.ep, &hs, 1, 1);
    start_client(f, &cc, &hc, 1, 1);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 8u << 20, 20000);
    tern_endpoint_stats es, ec;
    tern_endpoint_get_stats(f->srv.ep, &es);
    tern_endpoint_get_stats(f->cli.ep, &ec);
    /* A full socket loses what is offered to it meanwhile (after the hook saw it). */
    if (es.send_blocked == 0 && es.send_errors == 0) {
        assert_int_equal(hs.sends, es.dgrams_sent);
        assert_int_equal(hs.send_bytes, es.bytes_sent);
    } else {
        assert_true(hs.sends >= es.dgrams_sent);
    }
    if (ec.send_blocked == 0 && ec.send_errors == 0)
        assert_int_equal(hc.sends, ec.dgrams_sent);
    assert_int_equal(hs.recvs, es.dgrams_recv);
    assert_int_equal(hs.recv_bytes, es.bytes_recv);
    assert_int_equal(hc.recvs, ec.dgrams_recv);
    assert_true(hs.sends > (8u << 20) / 8972);
    assert_int_equal(es.hook_dropped + es.hook_delayed, 0);
}

/* One datagram of the server's lost: recovery resends it and the download is intact. */
static void test_drop_one_datagram(void **st)
{
    loopfx *f = *st;
    hk hs = {.drop_nth_send = 40};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    start_client(f, &cc, NULL, 0, 0);
    install(f->srv.ep, &hs, 1, 0);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 2u << 20, 20000);
    assert_true(hs.sends > 40);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, 1);
    tern_conn_stats ss;
    tern_conn_get_stats(f->srv.conn, &ss);
    assert_true(ss.pkts_lost >= 1);
}

/* Everything the client sends from its address vanishes: the download stalls and the client's
 * connection ends by idle timeout. */
static void test_dead_uplink_idle_timeout(void **st)
{
    loopfx *f = *st;
    hk hc = {0};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    sc.idle_timeout_ms = 400;
    cc.idle_timeout_ms = 400;
    loopfx_start_server(f, &sc, NULL);
    start_client(f, &cc, NULL, 0, 0);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    tern_path_addr pc;
    tern_conn_get_path(f->cli.conn, &pc);
    hc.drop_from = pc.local;
    install(f->cli.ep, &hc, 1, 0);
    loopfx_request(f, 50u << 20);
    assert_true(loopfx_drive(f, loopfx_cond_client_closed, 10000));
    assert_false(f->cli.fin);
    assert_int_equal(f->cli.close.status, TERN_ERR_IDLE_TIMEOUT);
    tern_endpoint_stats ec;
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_true(ec.hook_dropped >= 1);
    assert_int_equal(ec.hook_dropped, hc.sends);
}

/* 50 ms added to every datagram the server sends: both sides measure it. */
static void test_delay_server_sends(void **st)
{
    loopfx *f = *st;
    hk hs = {.delay_sends_ns = 50 * MS};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, NULL, 0, 0);
    uint64_t t0 = loopfx_now_ms();
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    assert_true(loopfx_now_ms() - t0 >= 50);
    loopfx_download(f, 1u << 20, 20000);
    tern_conn_stats cs, ss;
    tern_conn_get_stats(f->cli.conn, &cs);
    tern_conn_get_stats(f->srv.conn, &ss);
    print_message("    client srtt %.1f ms (min %.1f), server srtt %.1f ms\n",
                  (double)cs.srtt_ns / 1e6, (double)cs.min_rtt_ns / 1e6, (double)ss.srtt_ns / 1e6);
    assert_true(cs.srtt_ns >= 50 * MS);
    assert_true(cs.min_rtt_ns >= 50 * MS);
    assert_true(ss.srtt_ns >= 50 * MS);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_delayed + es.hook_overflow, hs.sends);
    assert_true(es.hook_delayed > 0);
}

/* 30 ms added on the client's receive side; the queue hands datagrams over in arrival order. */
static void test_delay_client_recv(void **st)
{
    loopfx *f = *st;
    hk hc = {.delay_recvs_ns = 30 * MS};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    start_client(f, &cc, &hc, 0, 1);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 1u << 20, 20000);
    tern_conn_stats cs;
    tern_conn_get_stats(f->cli.conn, &cs);
    assert_true(cs.min_rtt_ns >= 30 * MS);
    assert_true(cs.srtt_ns >= 30 * MS);
    tern_endpoint_stats ec;
    tern_endpoint_get_stats(f->cli.ep, &ec);
    assert_int_equal(ec.hook_delayed + ec.hook_overflow, hc.recvs);
}

/* The server sees the client's source port change mid-download (a NAT rebinding); its replies to
 * the new port are mapped back, as the NAT would. */
static void test_nat_rebinding(void **st)
{
    loopfx *f = *st;
    hk hs = {0};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    start_client(f, &cc, NULL, 0, 0);
    install(f->srv.ep, &hs, 1, 1);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    tern_path_addr pc;
    tern_conn_get_path(f->cli.conn, &pc);
    hs.real = pc.local;
    hs.fake = pc.local;
    hs.fake.u.in.sin_port = htons((uint16_t)(loopfx_port(&pc.local) ^ 0x4000));

    loopfx_request(f, 6u << 20);
    assert_true(loopfx_drive(f, cond_quarter_mib, 10000)); /* the download is under way */
    assert_false(f->cli.fin);
    hs.nat = 1;
    assert_true(loopfx_drive(f, loopfx_cond_done, 30000));
    loopfx_check_download(f, 6u << 20);
    assert_true(hs.nat_in > 0);

    /* The server follows the client to its new port (RFC 9000 §9.3) and its datagrams to it
     * are mapped back by the NAT. */
    tern_path_addr ps;
    tern_conn_get_path(f->srv.conn, &ps);
    assert_true(tern_addr_equal(&ps.remote, &hs.fake));
    assert_true(hs.nat_out > 0);
    assert_true(f->srv.ev_count[TERN_PATH_EV_PEER_ADDRESS_CHANGED] >= 1);
    assert_int_equal(f->cli.ev_count[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 0);
    tern_conn_get_path(f->cli.conn, &pc);
    assert_true(tern_addr_equal(&pc.local, &hs.real)); /* the client never knew */
}

/* The server's datagrams leave from its second listener (a source rewrite); the client, whose
 * receive hook maps that address back, completes the download: the rewrite really changed the
 * socket. An address with no socket loses the datagram. */
static void test_rewrite_local(void **st)
{
    loopfx *f = *st;
    hk hs = {0}, hc = {0};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    /* a second listener on a port known to be free a moment ago */
    tern_addr second;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    assert_int_equal(tern_addr_parse(&second, "127.0.0.1", ntohs(sa.sin_port)), 0);
    assert_int_equal(tern_endpoint_listen(f->srv.ep, &second), 0);
    hs.swap_local_from = f->addr;
    hs.swap_local_to = second;
    hc.remote_from = second;
    hc.remote_to = f->addr;
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, &hc, 0, 1);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 1u << 20, 20000);
    assert_true(hs.swapped > 0);
    assert_int_equal(hc.swapped, hs.swapped); /* every server datagram came from the second one */
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, 0);

    /* now to an address without a socket: lost */
    uint64_t before = hs.sends;
    assert_int_equal(tern_addr_parse(&hs.swap_local_to, "127.0.0.1:9", 0), 0);
    f->cli.fin = 0;
    loopfx_request(f, 100000);
    assert_false(loopfx_drive(f, loopfx_cond_done, 300));
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_true(hs.sends > before);
    assert_int_equal(es.hook_dropped, hs.sends - before);
}

/* A server that sends nothing stalls the handshake; removing its hooks lets it finish. */
static void test_hook_removal(void **st)
{
    loopfx *f = *st;
    hk hs = {.drop_all_sends = 1};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, NULL, 0, 0);
    assert_false(loopfx_drive(f, loopfx_cond_connected, 400));
    assert_true(hs.sends > 0);
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, NULL), 0);
    uint64_t n = hs.sends;
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 1u << 20, 20000);
    assert_int_equal(hs.sends, n);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, n);
}

/* The endpoint whose delay queue the conditions below watch. */
static tern_endpoint *g_queue_ep;

static uint64_t queued(void)
{
    tern_endpoint_stats es;
    tern_endpoint_get_stats(g_queue_ep, &es);
    return es.hook_queued;
}

static int cond_queued(loopfx *f)
{
    return queued() > 0;
}

static int cond_connected_queue_empty(loopfx *f)
{
    return loopfx_cond_connected(f) && queued() == 0;
}

/* Datagrams still queued when an endpoint is freed are released with it (checked by ASan), and
 * those queued when the hooks are removed still go out when due. The test waits for each state it
 * checks (a datagram queued, the queue drained) instead of for fixed times, so that a slow machine
 * changes how long it runs, not what it sees: the server's first flight, once queued, cannot reach
 * the client before its 1 s delay, however late the loop runs. */
static void test_queue_outlives_hooks(void **st)
{
    loopfx *f = *st;
    hk hs = {.delay_sends_ns = 1000 * MS}, hc = {.delay_sends_ns = 10000 * MS};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    install(f->srv.ep, &hs, 1, 0);
    start_client(f, &cc, NULL, 0, 0);
    g_queue_ep = f->srv.ep;
    assert_true(loopfx_drive(f, cond_queued, 10000)); /* the server's first flight waits */
    assert_false(f->cli.connected);
    assert_int_equal(hs.sends, queued()); /* every datagram it sent so far is in the queue */
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, NULL), 0);
    assert_true(loopfx_drive(f, cond_connected_queue_empty, 20000));
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    assert_int_equal(es.hook_dropped, 0); /* they left: none was discarded */

    /* the client's next datagrams wait 10 s: still queued at teardown */
    install(f->cli.ep, &hc, 1, 0);
    g_queue_ep = f->cli.ep;
    loopfx_request(f, 1000);
    assert_true(loopfx_drive(f, cond_queued, 5000));
    assert_true(tern_endpoint_timeout_ms(f->cli.ep) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_hooks, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_pass_sees_every_datagram, loopfx_setup,
                                        loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_drop_one_datagram, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_uplink_idle_timeout, loopfx_setup,
                                        loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_delay_server_sends, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_delay_client_recv, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_nat_rebinding, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_local, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_hook_removal, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_queue_outlives_hooks, loopfx_setup, loopfx_teardown),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
