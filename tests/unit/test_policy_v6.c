/* The automatic migration policy (src/core/policy.c) of a client on IPv6, on a pair of real cores
 * in virtual time: a new IPv6 address becomes a standby through the driver's hooks (a socket on a
 * new port of it), addresses and default routes of the other family are ignored, and when the
 * active address goes the connection moves to the standby at once and the download goes on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "conn_test.h"
#include "migration.h"
#include "pair.h"
#include "policy.h"

#define MS 1000000ull
#define SEC 1000000000ull

static int g_binds, g_routes;
static uint16_t g_next_port;

static int t_route(void *ud, tern_conn *c, const tern_addr *local, const tern_addr *remote)
{
    (void)ud;
    (void)c;
    g_routes++;
    assert_int_equal(local->u.sa.sa_family, AF_INET6);
    assert_int_equal(remote->u.sa.sa_family, AF_INET6);
    assert_int_equal(ntohs(local->u.in6.sin6_port), 0);
    return 0;
}

static int t_bind(void *ud, tern_conn *c, const tern_addr *local, tern_addr *bound)
{
    (void)ud;
    (void)c;
    g_binds++;
    /* a new port of the address: the policy asks for port 0 */
    assert_int_equal(local->u.sa.sa_family, AF_INET6);
    assert_int_equal(ntohs(local->u.in6.sin6_port), 0);
    *bound = *local;
    bound->u.in6.sin6_port = htons(g_next_port++);
    return 0;
}

static tern_net_event event(tern_net_event_type type, const char *ip, unsigned ifindex)
{
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ifindex = ifindex;
    if (ip)
        assert_int_equal(tern_addr_parse(&ev.addr, ip, 0), 0);
    return ev;
}

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static int cond_validated(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_VALIDATED] > 0;
}

static void test_standby_and_move_v6(void **st)
{
    (void)st;
    g_binds = g_routes = 0;
    g_next_port = 30000;
    tern_pair p;
    assert_int_equal(pair_init(&p, 8101), 0);
    p.path_c.local = addr("[fd00::1]:5000");
    p.path_c.remote = addr("[fd00::2]:443");
    p.path_s.local = p.path_c.remote;
    p.path_s.remote = p.path_c.local;
    p.cfg_c.auto_migrate = 1;
    p.cfg_c.idle_timeout_ms = p.cfg_s.idle_timeout_ms = 120000;
    assert_true(pair_run(&p, pair_cond_connected, 2 * SEC));
    tern_conn_test_hooks(p.client)->route_usable = t_route;
    tern_conn_test_hooks(p.client)->bind_local = t_bind;
    assert_true(pair_request(&p, 50000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(tern_conn_handshake_confirmed(p.client));

    /* the other family: no socket, no path, no change of default */
    tern_net_event v4 = event(TERN_NET_ADDR_ADDED, "10.9.0.1", 3);
    tern_conn_network_event(p.client, &v4, p.now);
    tern_net_event v4def = event(TERN_NET_DEFAULT_CHANGED, "10.9.0.1", 3);
    tern_conn_network_event(p.client, &v4def, p.now);
    assert_int_equal(g_binds, 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    assert_int_equal(tern_mig_paths_in_use(p.client), 1);

    /* a new IPv6 address: a standby on a new port of it, validated, not used */
    tern_net_event added = event(TERN_NET_ADDR_ADDED, "fd00::3", 2);
    tern_conn_network_event(p.client, &added, p.now);
    assert_int_equal(g_binds, 1);
    assert_int_equal(g_routes, 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    assert_true(pair_run(&p, cond_validated, 2 * SEC));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_int_equal(tern_mig_paths_in_use(p.client), 2);

    /* the active address goes: the connection moves to the standby at once */
    tern_net_event gone = event(TERN_NET_ADDR_REMOVED, "fd00::1", 1);
    tern_conn_network_event(p.client, &gone, p.now);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_ADDRESS_GONE);
    tern_addr standby = addr("[fd00::3]:30000");
    assert_true(tern_addr_equal(&tern_conn_active_path(p.client)->addr.local, &standby));
    assert_true(pair_request(&p, 80000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &standby));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standby_and_move_v6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
