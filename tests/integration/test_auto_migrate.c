/* Automatic migration on the real runtime over loopback: network events given through
 * tern_endpoint_network_event reach the client connection, whose policy binds a socket on a new
 * address (the runtime's add-local-address code), asks the routing table whether it reaches the
 * server (an address the host does not have is refused), keeps the new path as a standby, and
 * moves there at once when the active address is removed. In manual mode the same events only
 * reach the application. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "loopfx.h"

static tern_net_event addr_event(tern_net_event_type type, const char *ip)
{
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ifindex = 1;
    strcpy(ev.ifname, "lo");
    assert_int_equal(tern_addr_parse(&ev.addr, ip, 0), 0);
    return ev;
}

static int ip_is(const tern_addr *a, const char *ip)
{
    tern_addr b;
    assert_int_equal(tern_addr_parse(&b, ip, 0), 0);
    return a->u.sa.sa_family == AF_INET && a->u.in.sin_addr.s_addr == b.u.in.sin_addr.s_addr;
}

static int find_path_ip(tern_conn *c, const char *ip, tern_path_info *out)
{
    tern_path_info all[16];
    size_t n = 0;
    if (tern_conn_paths(c, all, 16, &n))
        return 0;
    for (size_t i = 0; i < n && i < 16; i++)
        if (ip_is(&all[i].addr.local, ip)) {
            *out = all[i];
            return 1;
        }
    return 0;
}

static int cond_alt_validated(loopfx *f)
{
    tern_path_info pi;
    return f->cli.closed || (find_path_ip(f->cli.conn, "127.0.0.2", &pi) && pi.validated);
}

static void start(loopfx *f, int auto_mode)
{
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.auto_migrate = auto_mode;
    loopfx_start_server(f, &sc, "127.0.0.1:0");
    tern_addr local;
    assert_int_equal(tern_addr_parse(&local, "127.0.0.1:0", 0), 0);
    loopfx_start_client_to(f, &cc, NULL, NULL, &local);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 1000, 5000); /* handshake confirmed, spare connection IDs arrived */
}

static uint64_t g_want;
static int cond_got(loopfx *f)
{
    return f->cli.got >= g_want || f->cli.closed;
}

static void test_standby_then_address_removed(void **st)
{
    loopfx *f = *st;
    start(f, 1);
    const uint64_t total = 16u << 20;
    loopfx_request(f, total);
    g_want = 1u << 20;
    LOOPFX_CHECK(f, loopfx_drive(f, cond_got, 10000));

    /* a new address: a standby path, probed and validated (the OS monitor also reports the
     * host's real addresses and default route: the checks look for this address's path) */
    tern_net_event ev = addr_event(TERN_NET_ADDR_ADDED, "127.0.0.2");
    LOOPFX_CHECK_INT(f, tern_endpoint_network_event(f->cli.ep, &ev), 0);
    LOOPFX_CHECK(f, loopfx_drive(f, cond_alt_validated, 3000));
    tern_path_info pi;
    LOOPFX_CHECK(f, find_path_ip(f->cli.conn, "127.0.0.2", &pi));
    LOOPFX_CHECK(f, loopfx_port(&pi.addr.local) != 0); /* the runtime bound a socket */

    /* an address the host does not have: nothing is created on it */
    ev = addr_event(TERN_NET_ADDR_ADDED, "203.0.113.254");
    LOOPFX_CHECK_INT(f, tern_endpoint_network_event(f->cli.ep, &ev), 0);
    loopfx_drive(f, loopfx_cond_never, 200);
    LOOPFX_CHECK(f, !find_path_ip(f->cli.conn, "203.0.113.254", &pi));

    /* the active address goes: the connection moves at once and removes its paths there */
    tern_path_addr before;
    tern_conn_get_path(f->cli.conn, &before);
    char ip[64];
    tern_addr_format(&before.local, ip, sizeof(ip));
    *strrchr(ip, ':') = 0;
    ev = addr_event(TERN_NET_ADDR_REMOVED, ip);
    int moves = f->cli.ev_count[TERN_PATH_EV_ACTIVE];
    LOOPFX_CHECK_INT(f, tern_endpoint_network_event(f->cli.ep, &ev), 0);
    LOOPFX_CHECK_INT(f, f->cli.ev_count[TERN_PATH_EV_ACTIVE], moves + 1);
    LOOPFX_CHECK_INT(f, f->cli.ev_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_ADDRESS_GONE);
    LOOPFX_CHECK_INT(f, f->cli.ev_reason[TERN_PATH_EV_REMOVED], TERN_PATH_WHY_ADDRESS_GONE);
    tern_path_addr now;
    tern_conn_get_path(f->cli.conn, &now);
    LOOPFX_CHECK(f, !ip_is(&now.local, ip));
    LOOPFX_CHECK(f, !find_path_ip(f->cli.conn, ip, &pi));
    LOOPFX_CHECK(f, loopfx_drive(f, loopfx_cond_done, 15000));
    loopfx_check_download(f, total);
}

static void test_manual_mode_ignores_events(void **st)
{
    loopfx *f = *st;
    start(f, 0);
    tern_net_event ev = addr_event(TERN_NET_ADDR_ADDED, "127.0.0.2");
    LOOPFX_CHECK_INT(f, tern_endpoint_network_event(f->cli.ep, &ev), 0);
    ev = addr_event(TERN_NET_ADDR_REMOVED, "127.0.0.1");
    LOOPFX_CHECK_INT(f, tern_endpoint_network_event(f->cli.ep, &ev), 0);
    loopfx_download(f, 1u << 20, 5000);
    LOOPFX_CHECK_INT(f, f->cli.nev, 0);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
    /* bad events are refused */
    ev.addr.len = 0;
    LOOPFX_CHECK_INT(f, tern_endpoint_network_event(f->cli.ep, &ev), TERN_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_standby_then_address_removed),
        LOOPFX_TEST(test_manual_mode_ignores_events),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
