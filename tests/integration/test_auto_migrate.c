/* Automatic migration on the real runtime over loopback: network events given through
 * tern_endpoint_network_event reach the client connection, whose policy binds a socket on a new
 * address (the runtime's add-local-address code), asks the routing table whether it reaches the
 * server (an address the host does not have is refused), keeps the new path as a standby, and
 * moves there at once when the active address is removed. In manual mode the same events only
 * reach the application. As root, in a network namespace of its own, a connection created after
 * the OS monitor's first dump still learns the host's addresses and keeps its standby. */
#define _GNU_SOURCE /* unshare, setns */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int ip_is(const tern_addr *a, const char *ip);
static int find_path_ip(tern_conn *c, const char *ip, tern_path_info *out);

/* The standby addresses the OS monitor reports in the namespace of test_late_connection. */
#define LATE_SRV "10.231.0.1"
#define LATE_ALT "10.231.0.2"

static tern_conn *g_late;
static int cond_late_standby(loopfx *f)
{
    tern_path_info pi;
    return f->cli.closed || (find_path_ip(g_late, LATE_ALT, &pi) && pi.validated);
}

/* A second auto-mode connection on the same endpoint, created once the first one got its standby
 * from the monitor's dump (so the dump's events are over), keeps a standby on the same address
 * although no event arrives after it was created. */
static void test_late_connection_learns_addresses(void **st)
{
    loopfx *f = *st;
    if (geteuid() != 0)
        skip(); /* needs root: its own network namespace with two addresses on a real link */
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(home >= 0);
    if (unshare(CLONE_NEWNET)) {
        close(home);
        skip(); /* no network namespaces here */
    }
    /* a veth link whose both ends stay here; the addresses are local, so traffic goes via lo */
    int rv = system("ip link set lo up && ip link add tlate0 type veth peer name tlate1 && "
                    "ip addr add " LATE_SRV "/24 dev tlate0 && ip addr add " LATE_ALT
                    "/24 dev tlate0 && ip link set tlate1 up && ip link set tlate0 up");
    if (rv != 0) {
        assert_int_equal(setns(home, CLONE_NEWNET), 0);
        close(home);
        skip(); /* the kernel cannot make veth links here */
    }
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.auto_migrate = 1;
    loopfx_start_server(f, &sc, LATE_SRV ":0");
    tern_addr local;
    assert_int_equal(tern_addr_parse(&local, LATE_SRV ":0", 0), 0);
    loopfx_start_client_to(f, &cc, NULL, NULL, &local);
    tern_conn *first = f->cli.conn;
    LOOPFX_CHECK(f, loopfx_drive(f, loopfx_cond_connected, 5000));
    g_late = first;
    LOOPFX_CHECK(f, loopfx_drive(f, cond_late_standby, 5000)); /* the dump was read */

    tern_conn *late = NULL;
    LOOPFX_CHECK_INT(f, tern_endpoint_connect(f->cli.ep, &f->addr, &local, "localhost", &late), 0);
    g_late = late;
    LOOPFX_CHECK(f, loopfx_drive(f, cond_late_standby, 5000));
    tern_path_info pi;
    LOOPFX_CHECK(f, find_path_ip(late, LATE_ALT, &pi) && loopfx_port(&pi.addr.local) != 0);
    LOOPFX_CHECK(f, find_path_ip(first, LATE_ALT, &pi) && pi.validated);
    /* the namespace, its link and addresses go when the last socket in it is closed */
    assert_int_equal(setns(home, CLONE_NEWNET), 0);
    close(home);
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
        LOOPFX_TEST(test_late_connection_learns_addresses),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
