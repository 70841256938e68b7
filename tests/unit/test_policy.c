/* The migration policy (src/core/policy.c) on a pair of real cores in virtual time: the cache of
 * path state (what is restored, and when not), a new address becoming a standby through the
 * driver's hooks, a route lookup that refuses it, keep-alives on an idle standby, a standby that
 * stops answering, the address backoff, the default route limits, and path health: the PTO probe
 * that also goes on the standby and the switch when only the standby answers (none when the
 * active path's answer comes in the same batch, none with failover off, no PING on a standby of
 * the same delay whose answers a busy host reads late). Also the edges: default routes by
 * interface, preferences by address, refusals by backoff, routes lost, hooks a driver lacks,
 * settings that turn timers off, explored paths and second ports after a recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "conn_test.h"
#include "migration.h"
#include "pair.h"
#include "policy.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- the cache ---------------------------------------------------------------------------------
 */

static tern_path make_path(const char *local, const char *remote)
{
    tern_path p;
    tern_path_addr pa;
    assert_int_equal(tern_addr_parse(&pa.local, local, 0), 0);
    assert_int_equal(tern_addr_parse(&pa.remote, remote, 0), 0);
    tern_path_init(&p, 1, &pa, TERN_CC_CUBIC, 1200, 0, 0);
    return p;
}

static void test_cache_rules(void **st)
{
    (void)st;
    tern_path_cache pc;
    memset(&pc, 0, sizeof(pc));
    tern_path used = make_path("10.0.0.1:5000", "192.0.2.1:443");
    /* nothing measured: nothing saved */
    tern_path_cache_save(&pc, &used, 1 * SEC);
    tern_path fresh = make_path("10.0.0.1:6000", "192.0.2.1:443");
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 2 * SEC), 0);

    tern_rtt_update(&used.rtt, 40 * MS, 0, 0, 0, 1 * SEC);
    used.cc.cwnd = 400000;
    used.cc.ssthresh = 300000;
    used.cc.bytes_in_flight = 99999;
    tern_path_cache_save(&pc, &used, 10 * SEC);

    /* the same network (same IPs, another local port): RTT and window within 30 s */
    fresh = make_path("10.0.0.1:6000", "192.0.2.1:443");
    fresh.cc.bytes_in_flight = 1234;
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 20 * SEC), 2);
    assert_int_equal(fresh.rtt.smoothed, used.rtt.smoothed);
    assert_int_equal(fresh.cc.cwnd, 400000);
    assert_int_equal(fresh.cc.ssthresh, 300000);
    assert_int_equal(fresh.cc.bytes_in_flight, 1234); /* its own, not the cached one */
    assert_int_equal(fresh.restored_cwnd, 400000);

    /* older than the window's limit: RTT only, initial window */
    fresh = make_path("10.0.0.1:6000", "192.0.2.1:443");
    uint64_t initial = fresh.cc.cwnd;
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 41 * SEC), 1);
    assert_int_equal(fresh.rtt.smoothed, used.rtt.smoothed);
    assert_int_equal(fresh.cc.cwnd, initial);

    /* older than the RTT's limit, or caching off, or another network: nothing */
    fresh = make_path("10.0.0.1:6000", "192.0.2.1:443");
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 611 * SEC), 0);
    assert_false(fresh.rtt.has_sample);
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 0, 0, 11 * SEC), 0);
    tern_path other = make_path("10.0.0.9:6000", "192.0.2.1:443");
    assert_int_equal(tern_path_cache_restore(&pc, &other, 600 * SEC, 30 * SEC, 11 * SEC), 0);
    other = make_path("10.0.0.1:6000", "192.0.2.77:443");
    assert_int_equal(tern_path_cache_restore(&pc, &other, 600 * SEC, 30 * SEC, 11 * SEC), 0);

    /* bounded: a fifth network replaces the oldest entry, the same network replaces its own */
    for (int i = 0; i < TERN_PATH_CACHE; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.0.%d:1", i + 1);
        tern_path q = make_path(ip, "192.0.2.1:443");
        tern_rtt_update(&q.rtt, ((uint64_t)i + 1) * 10 * MS, 0, 0, 0, 1 * SEC);
        tern_path_cache_save(&pc, &q, (20 + (uint64_t)i) * SEC);
    }
    fresh = make_path("10.0.0.1:6000", "192.0.2.1:443");
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 30 * SEC), 0);
    tern_path q = make_path("10.1.0.4:9", "192.0.2.1:443");
    tern_rtt_update(&q.rtt, 77 * MS, 0, 0, 0, 1 * SEC);
    tern_path_cache_save(&pc, &q, 40 * SEC);
    int n = 0;
    for (int i = 0; i < TERN_PATH_CACHE; i++)
        n += pc.e[i].saved_at && tern_addr_same_ip(&pc.e[i].addr.local, &q.addr.local);
    assert_int_equal(n, 1);
}

/* ---- a pair with the policy's hooks ------------------------------------------------------------
 */

typedef struct hooks_state {
    int binds, routes;
    int refuse_route;
    uint16_t next_port;
} hooks_state;

static hooks_state g_hooks;

/* The policy's decisions as the connection logs them (which lines of "policy: " were seen). */
static char g_log[4096];
static void t_log(void *ud, const char *line)
{
    (void)ud;
    if (strncmp(line, "policy: ", 8) == 0 && strlen(g_log) + strlen(line) + 2 < sizeof(g_log)) {
        strcat(g_log, line);
        strcat(g_log, "\n");
    }
}

static void capture_log(tern_pair *p)
{
    g_log[0] = 0;
    p->cfg_c.log = t_log;
}

static int t_route(void *ud, tern_conn *c, const tern_addr *local, const tern_addr *remote)
{
    (void)ud;
    (void)c;
    (void)remote;
    g_hooks.routes++;
    assert_int_equal(ntohs(local->u.in.sin_port), 0);
    return g_hooks.refuse_route ? TERN_ERR_IO : 0;
}

static int t_bind(void *ud, tern_conn *c, const tern_addr *local, tern_addr *bound)
{
    (void)ud;
    (void)c;
    g_hooks.binds++;
    assert_int_equal(ntohs(local->u.in.sin_port), 0);
    *bound = *local;
    bound->u.in.sin_port = htons(g_hooks.next_port++);
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

/* Connected pair, handshake confirmed and a first download done; auto mode as asked. */
static void start_pair(tern_pair *p, int auto_mode, uint64_t seed)
{
    memset(&g_hooks, 0, sizeof(g_hooks));
    g_hooks.next_port = 20000;
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_c.auto_migrate = auto_mode;
    p->cfg_c.idle_timeout_ms = p->cfg_s.idle_timeout_ms = 120000;
    assert_true(pair_run(p, pair_cond_connected, 2 * SEC));
    tern_conn_test_hooks(p->client)->route_usable = t_route;
    tern_conn_test_hooks(p->client)->bind_local = t_bind;
    assert_true(pair_request(p, 100000) >= 0);
    assert_true(pair_run(p, pair_cond_all_done, 5 * SEC));
    assert_true(tern_conn_handshake_confirmed(p->client));
}

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

static int cond_validated(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_VALIDATED] > 0;
}

static int cond_failed(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_FAILED] > 0;
}

static int cond_moved(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_ACTIVE] > 0;
}

static int cond_probing_any(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_PROBING] > 0;
}

static int g_probes;
static int cond_probing_again(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_PROBING] > g_probes;
}

static int cond_validated_again(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_VALIDATED] > g_probes;
}

static int cond_failed_again(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_FAILED] > g_probes;
}

static int standby_index(tern_pair *p)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (i != tern_conn_active_index(p->client) &&
            tern_path_in_use(tern_conn_path_at(p->client, i)))
            return i;
    return -1;
}

static void test_new_address_becomes_standby(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 11);
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.routes, 1);
    assert_int_equal(g_hooks.binds, 1);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    assert_true(pair_run(&p, cond_validated, 2 * SEC));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    int sb = standby_index(&p);
    assert_true(sb > 0);
    assert_int_equal(tern_conn_path_at(p.client, sb)->role, TERN_ROLE_STANDBY);
    /* the same address again: nothing new */
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.binds, 1);

    /* idle for 20 s with keep-alives every second: the standby keeps hearing from the peer */
    p.cfg_c.policy.keepalive_ms = 1000;
    uint64_t sent = tern_conn_path_at(p.client, sb)->pkts_sent,
             heard = tern_conn_path_at(p.client, sb)->heard;
    pair_run(&p, never, 20 * SEC);
    uint64_t ka = tern_conn_path_at(p.client, sb)->pkts_sent - sent;
    assert_true(ka >= 18 && ka <= 22);
    assert_true(tern_conn_path_at(p.client, sb)->heard >= heard + 18 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 0);

    /* its interface goes dark (every port of 10.0.0.3): keep-alive failed; the address is tried
     * again after the backoff */
    p.alt_addr = ev.addr; /* port 0: the whole interface */
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 1;
    p.c2s_alt.delay_ns = p.s2c_alt.delay_ns = 10 * MS;
    assert_true(pair_run(&p, cond_failed, 3 * SEC));
    uint64_t failed_at = p.now;
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_KEEPALIVE_FAILED);
    assert_int_equal(p.last_reason[TERN_PATH_EV_REMOVED], TERN_PATH_WHY_KEEPALIVE_FAILED);
    const tern_policy_net *net = NULL;
    for (int i = 0; i < tern_conn_policy(p.client)->nnet; i++)
        if (tern_addr_same_ip(&tern_conn_policy(p.client)->net[i].ip, &ev.addr))
            net = &tern_conn_policy(p.client)->net[i];
    assert_non_null(net);
    assert_int_equal(net->failures, 1);
    assert_int_equal(net->retry_at, failed_at + 1 * SEC);
    g_probes = p.path_events[TERN_PATH_EV_PROBING];
    assert_true(pair_run(&p, cond_probing_again, 3 * SEC));
    assert_int_equal(p.now, failed_at + 1 * SEC);
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    /* the retry, on a new socket of the same interface, fails too: the backoff doubles */
    int v = p.path_events[TERN_PATH_EV_VALIDATED];
    int failed = p.path_events[TERN_PATH_EV_FAILED];
    g_probes = failed;
    assert_true(pair_run(&p, cond_failed_again, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_TIMEOUT);
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], v);
    assert_int_equal(net->failures, 2);
    assert_int_equal(net->retry_at, p.now + 2 * SEC);
    /* the interface comes back: the next retry (a third port) validates and the failures are
     * forgotten */
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 0;
    g_probes = p.path_events[TERN_PATH_EV_PROBING];
    assert_true(pair_run(&p, cond_probing_again, 3 * SEC));
    g_probes = v;
    assert_true(pair_run(&p, cond_validated_again, 1 * SEC));
    sb = standby_index(&p);
    assert_true(sb > 0);
    assert_int_equal(ntohs(tern_conn_path_at(p.client, sb)->addr.local.u.in.sin_port), 20002);
    assert_true(tern_conn_path_at(p.client, sb)->path_validated);
    assert_int_equal(tern_conn_path_at(p.client, sb)->role, TERN_ROLE_STANDBY);
    assert_int_equal(net->failures, 0);
    pair_free(&p);
}

static void test_route_refused(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 12);
    g_hooks.refuse_route = 1;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.routes, 1);
    assert_int_equal(g_hooks.binds, 0);
    pair_run(&p, never, 3 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    /* another family, and a manual-mode connection, are not even asked */
    int routes = g_hooks.routes;
    ev = event(TERN_NET_ADDR_ADDED, "2001:db8::3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.routes, routes);
    pair_free(&p);
    start_pair(&p, 0, 13);
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.routes + g_hooks.binds, 0);
    pair_free(&p);
}

/* The source rule arrives after the address (no event says so): the address is looked up again on
 * a backoff and becomes a standby once the lookup succeeds. */
static void test_route_rechecked(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 15);
    g_hooks.refuse_route = 1;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.routes, 1);
    /* refused for a minute: looked up again, doubling from 500 ms to the 30 s cap */
    pair_run(&p, never, 60 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    assert_int_equal(g_hooks.binds, 0);
    assert_true(g_hooks.routes >= 6 && g_hooks.routes <= 8);
    /* the rule is there: the next lookup (within the 30 s cap) finds it */
    g_hooks.refuse_route = 0;
    assert_true(pair_run(&p, cond_validated, 31 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    int sb = standby_index(&p);
    assert_true(sb > 0);
    assert_int_equal(tern_conn_path_at(p.client, sb)->role, TERN_ROLE_STANDBY);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    pair_free(&p);
}

/* Without a healthy path the lookup does not back off: the new address is the way out. */
static void test_route_rechecked_when_gone(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 16);
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.1", 1);
    tern_conn_network_event(p.client, &ev, p.now);
    g_hooks.refuse_route = 1;
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    pair_run(&p, never, 16 * SEC); /* backed off: the next lookup is 16 s after the last */
    ev = event(TERN_NET_LINK_DOWN, NULL, 1);
    tern_conn_network_event(p.client, &ev, p.now);
    int routes = g_hooks.routes;
    pair_run(&p, never, 2 * SEC);
    assert_true(g_hooks.routes >= routes + 4); /* every 500 ms */
    g_hooks.refuse_route = 0;
    tern_tstamp t0 = p.now;
    assert_true(pair_run(&p, cond_moved, 2 * SEC));
    assert_true(p.now - t0 <= 1 * SEC);
    tern_addr cell = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2).addr;
    assert_true(tern_addr_same_ip(&tern_conn_active_path(p.client)->addr.local, &cell));
    pair_free(&p);
}

static void test_default_route_limits(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 14);
    p.cfg_c.policy.max_migrations_per_network = 2;
    tern_net_event add = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &add, p.now);
    assert_true(pair_run(&p, cond_validated, 2 * SEC));
    tern_net_event to3 = event(TERN_NET_DEFAULT_CHANGED, "10.0.0.3", 2);
    tern_net_event to1 = event(TERN_NET_DEFAULT_CHANGED, "10.0.0.1", 1);
    for (int k = 0; k < 6; k++) {
        tern_conn_network_event(p.client, k % 2 ? &to1 : &to3, p.now);
        pair_run(&p, never, 200 * MS);
    }
    /* two moves onto each network, then the fifth flip (to 10.0.0.3) is refused */
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 4);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_DEFAULT_CHANGED);
    assert_int_equal(p.path_events[TERN_PATH_EV_REFUSED], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_REFUSED], TERN_PATH_WHY_LIMIT);
    assert_int_equal(tern_conn_policy(p.client)->migrations, 4);
    pair_free(&p);
}

/* Automatic mode, nothing but the active path, which goes dark: after explore_ptos PTOs a new
 * port is tried (port_migration) until max_port_migrations; past it, the refusal is reported. */
static void test_port_migration_limit(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 18);
    p.cfg_c.policy.max_port_migrations = 1;
    capture_log(&p);
    assert_true(pair_request(&p, 4000000) >= 0);
    pair_run(&p, never, 50 * MS);
    p.c2s.blackhole = p.s2c.blackhole = 1;
    assert_true(pair_run(&p, cond_probing_any, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_PORT_MIGRATION);
    assert_int_equal(g_hooks.binds, 1);
    assert_int_equal(tern_conn_policy(p.client)->port_migrations, 1);
    /* the new port is dark too (the whole link is): it fails; the next degradation may not try
     * another port */
    pair_run(&p, never, 6 * SEC);
    assert_int_equal(g_hooks.binds, 1);
    assert_int_equal(p.path_events[TERN_PATH_EV_REFUSED], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_REFUSED], TERN_PATH_WHY_LIMIT);
    assert_non_null(strstr(g_log, "policy: probing every usable address"));
    assert_non_null(strstr(g_log, "policy: migration refused (limit)"));
    pair_free(&p);
}

/* The application prefers a network by interface name: once its standby has been usable for
 * migrate_back_ms, the connection moves there; a network it does not list stays a standby. */
static void test_preferred_network(void **st)
{
    (void)st;
    tern_pair p;
    static const char *const prefer[] = {"cell0"};
    memset(&g_hooks, 0, sizeof(g_hooks));
    start_pair(&p, 1, 17);
    p.cfg_c.prefer = prefer;
    p.cfg_c.prefer_count = 1;
    p.cfg_c.policy.migrate_back_ms = 500;
    tern_net_event other = event(TERN_NET_ADDR_ADDED, "10.0.0.4", 3);
    strcpy(other.ifname, "wlan1");
    tern_conn_network_event(p.client, &other, p.now);
    tern_net_event cell = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    strcpy(cell.ifname, "cell0");
    tern_conn_network_event(p.client, &cell, p.now);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 2);
    assert_true(pair_run(&p, cond_moved, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_MIGRATED_BACK);
    tern_path_addr now;
    tern_conn_get_path(p.client, &now);
    assert_true(tern_addr_same_ip(&now.local, &cell.addr));
    /* validated about 20 ms after the event, then 500 ms of being usable */
    const tern_path *ap = tern_conn_active_path(p.client);
    assert_int_equal(p.now, ap->validated_at + 500 * MS);
    pair_run(&p, never, 2 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    pair_free(&p);
}

/* Manual mode, a standby (10.0.0.3, `delay_ns` each way) the application added and validated. */
static void with_app_standby(tern_pair *p, uint64_t seed, uint64_t delay_ns)
{
    start_pair(p, 0, seed);
    tern_addr alt;
    assert_int_equal(tern_addr_parse(&alt, "10.0.0.3:7000", 0), 0);
    p->alt_addr = alt;
    p->c2s_alt.delay_ns = p->s2c_alt.delay_ns = delay_ns;
    assert_true(tern_conn_path_add(p->client, &alt, p->now) > 0);
    assert_true(pair_run(p, cond_validated, 2 * SEC));
}

/* That standby, 30 ms away, a download under way, and both directions of the main link go
 * dark. */
static void blackhole_with_standby(tern_pair *p, int failover)
{
    with_app_standby(p, 15, 30 * MS);
    p->cfg_c.failover = failover;
    assert_true(pair_request(p, 4000000) >= 0);
    pair_run(p, never, 100 * MS);
    p->c2s.blackhole = p->s2c.blackhole = 1;
}

static void test_degrading_switches_to_standby(void **st)
{
    (void)st;
    tern_pair p;
    blackhole_with_standby(&p, 1);
    uint64_t cut = p.now;
    tern_tstamp pto = tern_conn_pto(p.client);
    int sb = standby_index(&p);
    uint64_t sent = tern_conn_path_at(p.client, sb)->pkts_sent;
    assert_true(pair_run(&p, cond_moved, 3 * SEC));
    /* one PTO of the main path (after what was in flight, 10 ms, stopped arriving) plus one round
     * trip of the standby (60 ms), 20 ms for the packets' own serialisation */
    assert_true(p.now - cut <= 10 * MS + pto + 60 * MS + 20 * MS);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_DEGRADING);
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 1);
    assert_int_equal(tern_conn_active_index(p.client), sb);
    assert_true(tern_conn_path_at(p.client, sb)->pkts_sent > sent);
    pair_free(&p);
}

/* Both paths have the same delay and the active one gets slower (its acknowledgements late, not
 * lost): the PTO fires, the standby answers its challenge first, but the active path answers
 * within its own PTO, so nothing moves, and the standby's probe was a bare challenge that the
 * server does not follow. */
static void test_late_pto_moves_nothing(void **st)
{
    (void)st;
    tern_pair p;
    with_app_standby(&p, 16, 10 * MS);
    int sb = standby_index(&p);
    assert_true(pair_request(&p, 2000000) >= 0);
    pair_run(&p, never, 50 * MS);
    uint64_t sent = tern_conn_path_at(p.client, sb)->pkts_sent;
    uint64_t ptos = tern_conn_recovery(p.client)->pto_total;
    capture_log(&p);
    p.s2c.delay_ns = 70 * MS; /* the active path's answers now take 80 ms instead of 20 */
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_conn_recovery(p.client)->pto_total > ptos);    /* the PTO did fire */
    assert_true(tern_conn_path_at(p.client, sb)->pkts_sent > sent); /* and the standby was probed */
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 0);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    /* the log tells the degradation and the recovery */
    assert_non_null(strstr(g_log, "policy: active path 0 degrading"));
    assert_non_null(strstr(g_log, "policy: active path 0 answers again"));
    pair_free(&p);
}

/* Two paths of the same sub-millisecond delay (loopback), on a host so busy that every answer to
 * the standby's challenges is read 3 ms late. A late PTO on the active path must move nothing:
 * the standby is not clearly slower, whatever its few samples say, and its probe stays a bare
 * challenge the server does not follow. */
static void test_busy_host_moves_nothing(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 0, 19);
    p.c2s.delay_ns = p.s2c.delay_ns = 100 * 1000;
    assert_true(pair_request(&p, 1000000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(tern_conn_active_path(p.client)->rtt.min < 1 * MS);
    tern_addr alt;
    assert_int_equal(tern_addr_parse(&alt, "10.0.0.3:7000", 0), 0);
    p.alt_addr = alt;
    p.c2s_alt.delay_ns = 100 * 1000;
    p.s2c_alt.delay_ns = 3 * MS; /* the answers, read late */
    int sb = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(sb > 0);
    assert_true(pair_run(&p, cond_validated, 2 * SEC));
    pair_run(&p, never, 50 * MS);
    p.s2c_alt.delay_ns = 100 * 1000;
    assert_true(tern_conn_path_at(p.client, sb)->rtt.min >= 3 * MS);
    uint64_t sent = tern_conn_path_at(p.client, sb)->pkts_sent;
    uint64_t ptos = tern_conn_recovery(p.client)->pto_total;
    /* the active path's answers now come late: the request's acknowledgement after the PTO,
     * which the loaded round trips of the first download (queueing behind the server's data)
     * put at 40-60 ms, the more so with fewer ACKs: well beyond that */
    p.s2c.delay_ns = 150 * MS;
    assert_true(pair_request(&p, 2000000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_conn_recovery(p.client)->pto_total > ptos);
    assert_true(tern_conn_path_at(p.client, sb)->pkts_sent > sent);
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    pair_free(&p);
}

static int cond_degrading(tern_pair *p)
{
    return tern_conn_policy(p->client)->degrading;
}

/* The client was paused while its active path degraded: the standby's answer and the active
 * path's come in one batch, the standby's first, after the active path's own PTO to answer. The
 * batch shows that the active path works, so nothing moves; without the active path's answer in
 * it, the move happens on the timer that follows the batch. */
static void batched_answers(int with_active)
{
    tern_pair p;
    blackhole_with_standby(&p, 1);
    assert_true(pair_run(&p, cond_degrading, 3 * SEC));
    tern_conn *c = p.client;
    int sb = standby_index(&p), act = tern_conn_active_index(c);
    tern_tstamp t = tern_conn_policy(c)->answer_by + 1;
    tern_policy_on_packet(c, sb, t);
    if (with_active)
        tern_policy_on_packet(c, act, t);
    assert_int_equal(tern_conn_active_index(c), act); /* never on the standby's packet itself */
    if (tern_policy_next_timeout(c) <= t)
        tern_policy_on_timeout(c, t);
    if (with_active) {
        assert_int_equal(tern_conn_active_index(c), act);
        assert_false(tern_conn_policy(c)->degrading);
        assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    } else {
        assert_int_equal(tern_conn_active_index(c), sb);
        assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
        assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_DEGRADING);
    }
    pair_free(&p);
}

static void test_batched_answers_move_nothing(void **st)
{
    (void)st;
    batched_answers(1);
}

static void test_batched_standby_answer_moves(void **st)
{
    (void)st;
    batched_answers(0);
}

static void test_no_failover_when_off(void **st)
{
    (void)st;
    tern_pair p;
    blackhole_with_standby(&p, 0);
    pair_run(&p, never, 3 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 0);
    assert_false(tern_conn_policy(p.client)->degrading);
    pair_free(&p);
}

/* Events that do not concern the connection change nothing: the other family's addresses and
 * default routes, an address it never had, an event of no known type, a connection not in auto
 * mode. A link that goes down takes its standby along; when it comes up again the standby is
 * made anew. */
static void test_events_ignored_and_link_up(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 21);
    size_t n = 0;
    tern_net_event ev = event(TERN_NET_ADDR_REMOVED, "10.0.0.77", 4);
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_ADDR_ADDED, "fd00::3", 4);
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_DEFAULT_CHANGED, "fd00::1", 4);
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event((tern_net_event_type)99, "10.0.0.3", 4);
    tern_conn_network_event(p.client, &ev, p.now);
    tern_conn_network_event(p.client, NULL, p.now);
    tern_conn_network_event(NULL, &ev, p.now);
    ev = event(TERN_NET_ADDR_REMOVED, "fd00::3", 4); /* the other family */
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_LINK_DOWN, NULL, 0); /* no interface named */
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_LINK_UP, NULL, 0);
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_DEFAULT_CHANGED, NULL, 0); /* no default route left */
    tern_conn_network_event(p.client, &ev, p.now);
    assert_false(tern_conn_policy(p.client)->has_default);
    assert_int_equal(g_hooks.binds, 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_REMOVED], 0);
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 1);

    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 4);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_true(pair_run(&p, cond_validated, 2 * SEC));
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 2);
    ev = event(TERN_NET_LINK_DOWN, NULL, 4);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(p.last_reason[TERN_PATH_EV_REMOVED], TERN_PATH_WHY_INTERFACE_GONE);
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    int binds = g_hooks.binds, validated = p.path_events[TERN_PATH_EV_VALIDATED];
    ev = event(TERN_NET_LINK_UP, NULL, 4);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.binds, binds + 1);
    pair_run(&p, never, 2 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], validated + 1);
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 2);
    /* a closing connection does not react */
    assert_int_equal(tern_conn_close(p.client, 0, NULL), 0);
    binds = g_hooks.binds;
    int removed = p.path_events[TERN_PATH_EV_REMOVED];
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.5", 5);
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_LINK_DOWN, NULL, 4);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.binds, binds);
    assert_int_equal(p.path_events[TERN_PATH_EV_REMOVED], removed);
    pair_free(&p);

    /* not in auto mode: the policy does not act on events */
    start_pair(&p, 0, 22);
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 4);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.binds, 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    pair_free(&p);
}

/* The network of the active path, known by its interface (10.0.0.1 on 1), and a standby on
 * 10.0.0.3 (interface 2), validated. */
static int two_networks(tern_pair *p, uint64_t seed)
{
    start_pair(p, 1, seed);
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.1", 1);
    tern_conn_network_event(p->client, &ev, p->now);
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p->client, &ev, p->now);
    assert_true(pair_run(p, cond_validated, 2 * SEC));
    int sb = standby_index(p);
    assert_true(sb > 0);
    return sb;
}

static int on_ip(tern_pair *p, const char *ip)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, ip, 0), 0);
    return tern_addr_same_ip(&tern_conn_active_path(p->client)->addr.local, &a);
}

/* A default route named by its interface only (a platform that gives no source address): the
 * connection moves to that interface's validated path. */
static void test_default_route_by_interface(void **st)
{
    (void)st;
    tern_pair p;
    int sb = two_networks(&p, 31);
    tern_net_event ev = event(TERN_NET_DEFAULT_CHANGED, NULL, 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_DEFAULT_CHANGED);
    assert_int_equal(tern_conn_active_index(p.client), sb);
    assert_true(pair_request(&p, 200000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    assert_true(on_ip(&p, "10.0.0.3"));
    pair_free(&p);
}

/* The application prefers a network by its address: the connection moves back there once it has
 * been usable for migrate_back_ms, and stays. */
static void test_preferred_by_address(void **st)
{
    (void)st;
    tern_pair p;
    static const char *const prefer[] = {"not-an-address", "10.0.0.3"};
    start_pair(&p, 1, 32);
    p.cfg_c.prefer = prefer;
    p.cfg_c.prefer_count = 2;
    p.cfg_c.policy.migrate_back_ms = 300;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_true(pair_run(&p, cond_moved, 2 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_MIGRATED_BACK);
    assert_true(on_ip(&p, "10.0.0.3"));
    assert_int_equal(p.now, tern_conn_active_path(p.client)->validated_at + 300 * MS);
    pair_run(&p, never, 2 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    pair_free(&p);
}

/* The default route moves to an address whose path just failed: the backoff refuses the move,
 * reported once (on a description of the address, as no path is left there) and without a
 * socket; the address is probed again when its backoff ends. */
static void test_default_route_refused_by_backoff(void **st)
{
    (void)st;
    tern_pair p;
    int sb = two_networks(&p, 33);
    p.cfg_c.policy.keepalive_ms = 200;
    p.alt_addr = tern_conn_path_at(p.client, sb)->addr.local;
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 1;
    assert_true(pair_run(&p, cond_failed, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_KEEPALIVE_FAILED);
    uint64_t failed_at = p.now;
    int binds = g_hooks.binds;
    tern_net_event ev = event(TERN_NET_DEFAULT_CHANGED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(p.path_events[TERN_PATH_EV_REFUSED], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_REFUSED], TERN_PATH_WHY_LIMIT);
    assert_int_equal(g_hooks.binds, binds); /* no socket while backing off */
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    g_probes = p.path_events[TERN_PATH_EV_PROBING];
    assert_true(pair_run(&p, cond_probing_again, 3 * SEC));
    assert_int_equal(p.now, failed_at + 1 * SEC);
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    assert_int_equal(g_hooks.binds, binds + 1);
    assert_int_equal(p.path_events[TERN_PATH_EV_REFUSED], 1);
    assert_true(on_ip(&p, "10.0.0.1"));
    pair_free(&p);
}

/* A driver without a route lookup: every address of the family is taken as usable. */
static void test_no_route_hook(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 34);
    tern_conn_test_hooks(p.client)->route_usable = NULL;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.routes, 0);
    assert_int_equal(g_hooks.binds, 1);
    assert_true(pair_run(&p, cond_validated, 2 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    pair_free(&p);
}

/* The routing table stops reaching the server from a standby's address (seen when the default
 * route changes and every route is looked up again): the standby goes, as if its interface had. */
static void test_standby_route_lost(void **st)
{
    (void)st;
    tern_pair p;
    int sb = two_networks(&p, 35);
    g_hooks.refuse_route = 1;
    tern_net_event ev = event(TERN_NET_DEFAULT_CHANGED, "10.0.0.1", 1);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(p.path_events[TERN_PATH_EV_REMOVED], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_REMOVED], TERN_PATH_WHY_INTERFACE_GONE);
    assert_false(tern_path_in_use(tern_conn_path_at(p.client, sb)));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_true(on_ip(&p, "10.0.0.1"));
    /* the active path's own route is refused too, yet it carries on */
    assert_true(pair_request(&p, 100000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static int cond_port_probing(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_PROBING] > 0 &&
           p->last_reason[TERN_PATH_EV_PROBING] == TERN_PATH_WHY_PORT_MIGRATION;
}

static int cond_removed(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_REMOVED] > 0;
}

/* Automatic mode, no standby: the active path goes dark, a new port is probed, and the path comes
 * back before the new port answers (that port's route is slow). The new port is of no use then:
 * dropped when it validates, and the connection stays where it is. */
static void test_second_port_dropped(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 36);
    assert_true(pair_request(&p, 3000000) >= 0);
    pair_run(&p, never, 50 * MS);
    assert_int_equal(tern_addr_parse(&p.alt_addr, "10.0.0.1:20000", 0), 0); /* the next bind */
    p.c2s_alt.delay_ns = p.s2c_alt.delay_ns = 300 * MS;
    p.c2s.blackhole = p.s2c.blackhole = 1;
    assert_true(pair_run(&p, cond_port_probing, 3 * SEC));
    p.c2s.blackhole = p.s2c.blackhole = 0;
    assert_true(pair_run(&p, cond_removed, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_REMOVED], TERN_PATH_WHY_STANDBY_UNUSED);
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], 1);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static int cond_pto(tern_pair *p)
{
    return tern_conn_recovery(p->client)->pto_count >= 1;
}

/* degrade_ptos = 2: the first PTO without progress does not make the path degrading (no probe on
 * the standby), the second does, and the connection then moves to the standby. */
static void test_degrade_after_two_ptos(void **st)
{
    (void)st;
    tern_pair p;
    with_app_standby(&p, 15, 30 * MS);
    p.cfg_c.policy.degrade_ptos = 2;
    assert_true(pair_request(&p, 4000000) >= 0);
    pair_run(&p, never, 100 * MS);
    int sb = standby_index(&p);
    uint64_t sent = tern_conn_path_at(p.client, sb)->pkts_sent;
    p.c2s.blackhole = p.s2c.blackhole = 1;
    assert_true(pair_run(&p, cond_pto, 3 * SEC));
    assert_int_equal(tern_conn_recovery(p.client)->pto_count, 1);
    assert_false(tern_conn_policy(p.client)->degrading);
    assert_int_equal(tern_conn_path_at(p.client, sb)->pkts_sent, sent);
    assert_true(pair_run(&p, cond_degrading, 3 * SEC));
    assert_int_equal(tern_conn_recovery(p.client)->pto_count, 2);
    assert_true(pair_run(&p, cond_moved, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_DEGRADING);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* What every driver checks before handing an event over: the errors of tern_net_event_check. */
static void test_net_event_check(void **st)
{
    (void)st;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "fd00::3", 4);
    assert_int_equal(tern_net_event_check(&ev), 0);
    ev = event(TERN_NET_DEFAULT_CHANGED, NULL, 4);
    assert_int_equal(tern_net_event_check(&ev), 0);
    ev.addr.u.sa.sa_family = AF_INET6; /* a family without an address: none given */
    assert_int_equal(tern_net_event_check(&ev), 0);
    ev.addr.u.sa.sa_family = 99;
    assert_int_equal(tern_net_event_check(&ev), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_net_event_check(NULL), TERN_ERR_INVALID_ARG);
    ev = event((tern_net_event_type)0, "10.0.0.3", 4);
    assert_int_equal(tern_net_event_check(&ev), TERN_ERR_INVALID_ARG);
    ev = event(TERN_NET_ADDR_REMOVED, NULL, 4); /* an address event without its address */
    assert_int_equal(tern_net_event_check(&ev), TERN_ERR_INVALID_ARG);
    ev = event(TERN_NET_ADDR_ADDED, "fd00::3", 4);
    ev.addr.len = sizeof(struct sockaddr_in); /* a length that is not its family's */
    assert_int_equal(tern_net_event_check(&ev), TERN_ERR_INVALID_ARG);
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 4);
    memset(ev.ifname, 'x', sizeof(ev.ifname)); /* no terminating NUL */
    assert_int_equal(tern_net_event_check(&ev), TERN_ERR_INVALID_ARG);
}

/* Automatic mode follows dead paths even with failover turned off (that switch is the manual
 * mode's). */
static void test_auto_mode_fails_over_without_failover(void **st)
{
    (void)st;
    tern_pair p;
    int sb = two_networks(&p, 37);
    p.cfg_c.failover = 0;
    p.alt_addr = tern_conn_path_at(p.client, sb)->addr.local; /* its own link, which stays up */
    assert_true(pair_request(&p, 3000000) >= 0);
    pair_run(&p, never, 50 * MS);
    p.c2s.blackhole = p.s2c.blackhole = 1;
    assert_true(pair_run(&p, cond_moved, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_DEGRADING);
    assert_int_equal(tern_conn_active_index(p.client), sb);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* keepalive_ms 0 (or too large to count) and standby_idle_ms 0: an idle standby gets no
 * keep-alive and is never dropped. */
static void test_keepalive_and_idle_off(void **st)
{
    (void)st;
    for (int k = 0; k < 2; k++) {
        tern_pair p;
        int sb = two_networks(&p, 38 + (uint64_t)k);
        p.cfg_c.policy.keepalive_ms = k ? UINT64_MAX : 0;
        p.cfg_c.policy.standby_idle_ms = 0;
        p.cfg_c.idle_timeout_ms = p.cfg_s.idle_timeout_ms = 0;
        pair_run(&p, never, 1 * SEC); /* the server's own validation of it, answered */
        uint64_t sent = tern_conn_path_at(p.client, sb)->pkts_sent;
        pair_run(&p, never, 700 * SEC);
        assert_int_equal(tern_conn_path_at(p.client, sb)->pkts_sent, sent);
        assert_true(tern_path_in_use(tern_conn_path_at(p.client, sb)));
        assert_int_equal(p.path_events[TERN_PATH_EV_REMOVED], 0);
        pair_free(&p);
    }
}

/* route_recheck_ms 0: an address the routing table did not reach is looked up again only when
 * the network changes (here the default route), not on a timer. */
static void test_route_recheck_off(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 40);
    p.cfg_c.policy.route_recheck_ms = 0;
    g_hooks.refuse_route = 1;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    pair_run(&p, never, 10 * SEC);
    assert_int_equal(g_hooks.routes, 1);
    g_hooks.refuse_route = 0;
    ev = event(TERN_NET_DEFAULT_CHANGED, "10.0.0.1", 1);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_true(g_hooks.routes >= 2);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NEW_NETWORK);
    pair_free(&p);
}

/* A driver without the policy's hooks: no route lookup (every address counts as reachable) and
 * no socket for new paths, so a new address gets no path; it is tried again after the backoff.
 * With sockets but the path limit reached, the same. */
static void test_no_socket_for_standby(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 41);
    tern_conn_test_hooks(p.client)->route_usable = NULL;
    tern_conn_test_hooks(p.client)->bind_local = NULL;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    pair_run(&p, never, 5 * SEC);
    assert_int_equal(g_hooks.routes + g_hooks.binds, 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    const tern_policy *pol = tern_conn_policy(p.client);
    assert_true(pol->nnet >= 1 && pol->net[pol->nnet - 1].retry_at > 4 * SEC);
    pair_free(&p);

    start_pair(&p, 1, 42);
    p.cfg_c.max_paths = 2;
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    ev = event(TERN_NET_ADDR_ADDED, "10.0.0.4", 3);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(g_hooks.binds, 2); /* the driver closes the socket no path took */
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 1);
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 2);
    pair_free(&p);
}

/* The default route moves to a network whose standby is still being validated: the policy waits
 * for it; when its validation fails instead, the move is forgotten. */
static void test_default_route_target_fails(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 43);
    assert_int_equal(tern_addr_parse(&p.alt_addr, "10.0.0.3:20000", 0), 0); /* the next bind */
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 1;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    int sb = standby_index(&p);
    assert_true(sb > 0);
    ev = event(TERN_NET_DEFAULT_CHANGED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_int_equal(tern_conn_policy(p.client)->target, sb);
    assert_true(pair_run(&p, cond_failed, 5 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_TIMEOUT);
    assert_int_equal(tern_conn_policy(p.client)->target, -1);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_true(on_ip(&p, "10.0.0.1"));
    pair_free(&p);
}

/* Automatic mode, no port migration allowed, another address dormant (its standby was dropped as
 * unused): the active path goes dark, the dormant address is probed (its route is slow) and the
 * active path comes back before it answers. The probed path stays, as a standby. */
static void test_explored_path_becomes_standby(void **st)
{
    (void)st;
    tern_pair p;
    start_pair(&p, 1, 44);
    p.cfg_c.policy.max_port_migrations = 0;
    p.cfg_c.policy.standby_idle_ms = 300;
    tern_net_event ev = event(TERN_NET_ADDR_ADDED, "10.0.0.3", 2);
    tern_conn_network_event(p.client, &ev, p.now);
    assert_true(pair_run(&p, cond_removed, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_REMOVED], TERN_PATH_WHY_STANDBY_UNUSED);
    p.cfg_c.policy.standby_idle_ms = 600000;
    assert_true(pair_request(&p, 3000000) >= 0);
    pair_run(&p, never, 50 * MS);
    assert_int_equal(tern_addr_parse(&p.alt_addr, "10.0.0.3:20001", 0), 0); /* the next bind */
    p.c2s_alt.delay_ns = p.s2c_alt.delay_ns = 300 * MS;
    p.c2s.blackhole = p.s2c.blackhole = 1;
    g_probes = p.path_events[TERN_PATH_EV_PROBING];
    assert_true(pair_run(&p, cond_probing_again, 3 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_DEGRADING);
    assert_int_equal(p.path_events[TERN_PATH_EV_REFUSED], 1); /* no new port */
    int ex = standby_index(&p);
    assert_int_equal(tern_conn_path_at(p.client, ex)->role, TERN_ROLE_EXPLORE);
    p.c2s.blackhole = p.s2c.blackhole = 0;
    int v = p.path_events[TERN_PATH_EV_VALIDATED];
    g_probes = v; /* validated once more */
    assert_true(pair_run(&p, cond_validated_again, 3 * SEC));
    assert_false(tern_conn_policy(p.client)->degrading);
    assert_int_equal(tern_conn_path_at(p.client, ex)->role, TERN_ROLE_STANDBY);
    assert_true(tern_path_in_use(tern_conn_path_at(p.client, ex)));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_rules),
        cmocka_unit_test(test_new_address_becomes_standby),
        cmocka_unit_test(test_route_refused),
        cmocka_unit_test(test_route_rechecked),
        cmocka_unit_test(test_route_rechecked_when_gone),
        cmocka_unit_test(test_default_route_limits),
        cmocka_unit_test(test_preferred_network),
        cmocka_unit_test(test_port_migration_limit),
        cmocka_unit_test(test_degrading_switches_to_standby),
        cmocka_unit_test(test_late_pto_moves_nothing),
        cmocka_unit_test(test_busy_host_moves_nothing),
        cmocka_unit_test(test_batched_answers_move_nothing),
        cmocka_unit_test(test_batched_standby_answer_moves),
        cmocka_unit_test(test_no_failover_when_off),
        cmocka_unit_test(test_events_ignored_and_link_up),
        cmocka_unit_test(test_default_route_by_interface),
        cmocka_unit_test(test_preferred_by_address),
        cmocka_unit_test(test_default_route_refused_by_backoff),
        cmocka_unit_test(test_no_route_hook),
        cmocka_unit_test(test_standby_route_lost),
        cmocka_unit_test(test_second_port_dropped),
        cmocka_unit_test(test_degrade_after_two_ptos),
        cmocka_unit_test(test_net_event_check),
        cmocka_unit_test(test_auto_mode_fails_over_without_failover),
        cmocka_unit_test(test_keepalive_and_idle_off),
        cmocka_unit_test(test_route_recheck_off),
        cmocka_unit_test(test_no_socket_for_standby),
        cmocka_unit_test(test_default_route_target_fails),
        cmocka_unit_test(test_explored_path_becomes_standby),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
