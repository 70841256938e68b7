/* The migration policy suite: a client with a "wifi" interface (20 ms each way, 50 Mbit/s) and a
 * "cell" interface (80 ms each way, 20 Mbit/s down, 5 up), each behind its own NAT, downloads while
 * its network fails or changes under it, and tern decides by itself: a silent blackhole with and
 * without a standby path, an interface that disappears (socket errors), an address removed, a
 * default route change, a new network after the old one died, a flapping default route against the
 * migration limits, moving back to the preferred network, NAT bindings that time out on an idle
 * standby and on the active path, and the cached state of a network the connection returns to.
 * Every scenario checks the bytes and SHA-256 of the download, the client's path events with their
 * reasons, where both sides end up, and a bound on the stall in virtual time. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "migration.h"
#include "multipath.h"
#include "sim_mig.h"
#include "sim_node.h"
#include "sim_scenario.h"

#define MIB (1024ull * 1024ull)
#define MBPS 1000000ull

static double ms_of(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* ---- topology ----------------------------------------------------------------------------------
 */

typedef struct twonet {
    int wifi, cell;
    sim_nat *wifi_nat, *cell_nat;
} twonet;

static sim_link_cfg link_of(uint64_t mbit, uint64_t one_way_ms, uint64_t jitter_us, size_t queue_kb)
{
    sim_link_cfg l;
    memset(&l, 0, sizeof(l));
    l.rate_bps = mbit * MBPS;
    l.delay_ns = one_way_ms * SIM_MS;
    l.jitter_ns = jitter_us * SIM_US;
    l.queue_bytes = queue_kb * 1024;
    return l;
}

/* Both interfaces; `auto_mode` turns the client's automatic migration on. */
static void two_networks(sim *s, twonet *t, int auto_mode)
{
    sim_link_cfg w = link_of(50, 20, 500, 256);
    sim_link_cfg cu = link_of(5, 80, 2000, 64), cd = link_of(20, 80, 2000, 256);
    t->wifi = sim_add_iface(s, "wifi", "10.0.1.2:5000", &w, NULL);
    t->cell = sim_add_iface(s, "cell", "100.64.0.2:6000", &cu, &cd);
    t->wifi_nat = sim_nat_add(s, t->wifi, "203.0.113.7:40000");
    t->cell_nat = sim_nat_add(s, t->cell, "198.51.100.9:50000");
    s->cfg_c.auto_migrate = auto_mode;
}

/* What the OS reports at start in automatic mode: both addresses, the default route on wifi. */
static void os_reports_both(sim *s, const twonet *t)
{
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t->wifi);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_DEFAULT_CHANGED, t->wifi);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t->cell);
}

/* ---- the stall ---------------------------------------------------------------------------------
 */

/* Watches delivery around a failure at `from`: when in-order data moved again, when the first
 * data-sized datagram arrived on interface `iface` after it, and the longest gap in delivery. */
typedef struct stall_watch {
    uint64_t from;
    int iface;
    int old_iface;        /* the interface the client was on */
    uint64_t silent_from; /* the last datagram from it arrived then (what was in flight at the
                             failure still arrives: the active path goes silent after that) */
    uint64_t last_bytes, last_change, max_gap;
    uint64_t resumed;        /* first in-order progress after `from` (run time; 0: none yet) */
    uint64_t first_on_iface; /* first datagram over 1000 B on `iface` after `from` (0: none) */
    uint64_t pto_at_from;    /* the client's PTO on its active path when the failure began */
    uint64_t srtt_iface;     /* the smoothed RTT of the client's path on `iface` then (0: none) */
} stall_watch;

static void watch_recv(sim *s, const sim_pkt *p)
{
    stall_watch *w = s->ud;
    if (!w || !w->from || sim_time(s) < w->from)
        return;
    if (!w->first_on_iface && p->iface == w->iface && p->len > 1000)
        w->first_on_iface = sim_time(s);
    if (p->iface == w->old_iface && p->iface != w->iface)
        w->silent_from = sim_time(s);
}

static void act_sample(sim *s, void *arg)
{
    stall_watch *w = arg;
    uint64_t b = sim_bytes_received(s), now = sim_time(s);
    if (b != w->last_bytes) {
        if (w->from && now >= w->from && !w->resumed && w->last_change >= w->from - SIM_MS)
            w->resumed = now;
        w->last_bytes = b;
        w->last_change = now;
    } else if (w->from && now >= w->from && now - TERN_MAX(w->last_change, w->from) > w->max_gap) {
        w->max_gap = now - TERN_MAX(w->last_change, w->from);
    }
    if (!sim_cond_all_done(s))
        sim_after(s, SIM_MS, act_sample, w, NULL);
}

static void act_failure_begins(sim *s, void *arg)
{
    stall_watch *w = arg;
    tern_conn *c = s->client;
    const tern_path *ap = tern_conn_active_path(c);
    w->pto_at_from = tern_rtt_pto(&ap->rtt, tern_conn_peer_max_ack_delay(c));
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (i != tern_conn_active_index(c) && tern_path_in_use(tern_conn_path_at(c, i)) &&
            sim_iface_by_ip(s, &tern_conn_path_at(c, i)->addr.local) == w->iface &&
            tern_conn_path_at(c, i)->rtt.has_sample)
            w->srtt_iface = tern_conn_path_at(c, i)->rtt.smoothed;
    w->last_change = w->silent_from = sim_time(s);
    w->old_iface = sim_iface_by_ip(s, &ap->addr.local);
}

/* Starts watching: the failure happens at `at`, the recovery is expected on interface `iface`. */
static void watch_stall(sim *s, stall_watch *w, uint64_t at, int iface)
{
    memset(w, 0, sizeof(*w));
    w->from = at;
    w->iface = iface;
    s->ud = w;
    s->on_client_recv = watch_recv;
    sim_at(s, at, act_failure_begins, w, NULL);
    sim_after(s, SIM_MS, act_sample, w, NULL);
}

/* ---- checks ------------------------------------------------------------------------------------
 */

#define EXPECT_EVENTS(s, r, who, pattern)                                                          \
    do {                                                                                           \
        if (sim_path_events_match(s, who, pattern) != 1) {                                         \
            char got_[900];                                                                        \
            sim_path_events_text(s, who, got_, sizeof(got_));                                      \
            SIM_CHECK(r, 0, "%s path events [%s], expected [%s]", sim_host_name[who], got_,        \
                      pattern);                                                                    \
        }                                                                                          \
    } while (0)

/* The first data on the new path came at most `bound` after `since` (a run time); `what` names
 * the moment in the message. */
#define EXPECT_DATA_WITHIN(r, w, since, bound, what)                                               \
    SIM_CHECK(r, (w).first_on_iface >= (since) && (w).first_on_iface - (since) <= (bound),         \
              "first data on the new path %.0f ms after %s (bound %.0f ms)",                       \
              (w).first_on_iface ? ms_of((w).first_on_iface - (since)) : -1.0, what, ms_of(bound))

/* Events the client reported of a type (0: any) and a reason (-1: any). */
static size_t client_events(const sim *s, int type, int reason)
{
    size_t n = 0;
    for (size_t i = 0; i < s->npath_log[SIM_CLIENT]; i++) {
        const sim_path_ev *e = &s->path_log[SIM_CLIENT][i];
        n += (!type || e->type == type) && (reason < 0 || e->reason == reason);
    }
    return n;
}

static const sim_path_ev *first_client_event(const sim *s, int type, int reason)
{
    for (size_t i = 0; i < s->npath_log[SIM_CLIENT]; i++) {
        const sim_path_ev *e = &s->path_log[SIM_CLIENT][i];
        if (e->type == type && e->reason == reason)
            return e;
    }
    return NULL;
}

static void begin_download(sim *s, sim_result *r, uint64_t bytes)
{
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 3 * SIM_SEC), "not connected after 3 s");
    SIM_CHECK(r, sim_request(s, bytes) == 0, "request refused");
}

/* Runs every requested stream to its end within `bound` of run time; bytes and SHA-256 checked. */
static void end_download(sim *s, sim_result *r, uint64_t bound)
{
    int done = sim_cond_all_done(s) ||
               (sim_time(s) < bound && sim_run(s, sim_cond_all_done, bound - sim_time(s)));
    char why[256];
    SIM_CHECK(r, done && !s->client_done, "download unfinished at %.3f s (%llu B; client %s)",
              (double)sim_time(s) / 1e9, (unsigned long long)sim_bytes_received(s),
              s->client_done ? tern_strerror(s->client_close.status) : "open");
    SIM_CHECK(r, sim_verify(s, why, sizeof(why)), "%s", why);
    SIM_CHECK(r, !s->server_closed, "the server connection ended: %s", s->server_close.reason);
}

/* Both sides' active paths use interface `iface` at the end, and both are validated. */
static void ends_on(sim *s, sim_result *r, int iface)
{
    tern_path_addr cp, sp;
    tern_conn *sc = sim_server_conn(s);
    SIM_CHECK(r, sc != NULL, "no server connection");
    tern_conn_get_path(s->client, &cp);
    tern_conn_get_path(sc, &sp);
    int ci = sim_iface_by_ip(s, &cp.local), si = sim_iface_for_dst(s, &sp.remote);
    SIM_CHECK(r, ci == iface && si == iface, "client ends on %s, server on %s, expected %s",
              ci >= 0 ? s->ifaces[ci].name : "?", si >= 0 ? s->ifaces[si].name : "?",
              s->ifaces[iface].name);
    SIM_CHECK(r,
              tern_conn_active_path(s->client)->path_validated &&
                  tern_conn_active_path(sc)->path_validated,
              "an active path is not validated at the end");
}

static void report(sim *s, sim_result *r, const stall_watch *w, const char *extra)
{
    snprintf(r->summary, sizeof(r->summary),
             "%llu B; stall %.0f ms (first data on the new path %.0f ms after the failure, %.0f "
             "after the old one went silent; PTO %.0f ms, standby srtt %.0f ms)%s%s",
             (unsigned long long)sim_bytes_received(s), w ? ms_of(w->max_gap) : 0.0,
             w && w->first_on_iface ? ms_of(w->first_on_iface - w->from) : -1.0,
             w && w->first_on_iface > w->silent_from ? ms_of(w->first_on_iface - w->silent_from)
                                                     : -1.0,
             w ? ms_of(w->pto_at_from) : 0.0, w ? ms_of(w->srtt_iface) : 0.0,
             extra && extra[0] ? "; " : "", extra ? extra : "");
}

/* The whole download (connect, request, run to the end within `bound`), then the summary. */
static void download_through(sim *s, sim_result *r, const stall_watch *w, uint64_t bytes,
                             uint64_t bound)
{
    TRY(r, begin_download(s, r, bytes));
    TRY(r, end_download(s, r, bound));
    report(s, r, w, NULL);
}

/* ---- silent blackhole --------------------------------------------------------------------------
 */

typedef struct addr_arg {
    tern_addr addr;
    int rv;
} addr_arg;

static void act_app_adds(sim *s, void *arg)
{
    addr_arg *a = arg;
    a->rv = tern_conn_path_add(s->client, &a->addr, s->now);
}

/* Manual mode: the application added cell, which validated. Wifi goes silent both ways at 1 s
 * without any local error. The PTO probe also goes on cell, the server follows it, and the client
 * switches as soon as cell answers: data within one PTO of wifi plus one round trip of cell. */
static void scn_blackhole_standby(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 0);
    addr_arg add = {.addr = s->ifaces[t.cell].addr};
    sim_at(s, 200 * SIM_MS, act_app_adds, &add, "app adds cell");
    const uint64_t cut = 1 * SIM_SEC;
    sim_iface_cut(s, t.wifi, cut, SIM_INF);
    stall_watch w;
    watch_stall(s, &w, cut, t.cell);
    TRY(r, download_through(s, r, &w, 16 * MIB, 12 * SIM_SEC));
    SIM_CHECK(r, add.rv >= 0, "path_add returned %d", add.rv);
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:none@cell validated:none@cell active:degrading@cell *");
    ends_on(s, r, t.cell);
    /* the target of the policy: one PTO of wifi plus one round trip of cell, from the moment wifi
     * went silent; 50 ms for the jitter of both links and the server's pacing */
    uint64_t target = w.pto_at_from + w.srtt_iface;
    EXPECT_DATA_WITHIN(r, w, w.silent_from, target + 50 * SIM_MS, "wifi went silent");
    SIM_CHECK(r, w.max_gap <= target + 400 * SIM_MS, "delivery stalled %.0f ms", ms_of(w.max_gap));
}

/* Only wifi's uplink dies: the server's packets still arrive on wifi, the client's no longer
 * leave. Its PTOs go unanswered while the server keeps sending, which is also what the
 * unacked_ptos rule closes a connection for: the validated cell path must take over before that,
 * and the connection live on. */
static void scn_uplink_dies_standby(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 0);
    addr_arg add = {.addr = s->ifaces[t.cell].addr};
    sim_at(s, 200 * SIM_MS, act_app_adds, &add, "app adds cell");
    const uint64_t cut = 1 * SIM_SEC;
    sim_iface_blackhole(s, t.wifi, SIM_UP, cut, SIM_INF);
    stall_watch w;
    watch_stall(s, &w, cut, t.cell);
    TRY(r, download_through(s, r, &w, 16 * MIB, 12 * SIM_SEC));
    SIM_CHECK(r, add.rv >= 0, "path_add returned %d", add.rv);
    ends_on(s, r, t.cell);
    SIM_CHECK(r, s->client && tern_conn_recovery(s->client)->pto_count < s->cfg_c.unacked_ptos,
              "%u PTOs in a row at the end",
              s->client ? tern_conn_recovery(s->client)->pto_count : 0);
}

/* Automatic mode, no standby: cell's standby was dropped as unused (so cell is a usable address
 * without a path). Wifi goes silent: after two PTOs the client probes cell and a new port on wifi,
 * and moves to the first that answers (cell: wifi is dead whatever the port). */
static void scn_blackhole_no_standby(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    s->cfg_c.policy.standby_idle_ms = 500;
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t.wifi);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t.cell);
    const uint64_t cut = 1500 * SIM_MS;
    sim_iface_cut(s, t.wifi, cut, SIM_INF);
    stall_watch w;
    watch_stall(s, &w, cut, t.cell);
    TRY(r, download_through(s, r, &w, 24 * MIB, 20 * SIM_SEC));
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell removed:standby_unused@cell "
                  "probing:degrading@cell probing:port_migration@wifi validated:none@cell "
                  "active:degrading@cell *");
    ends_on(s, r, t.cell);
    /* explored at the second PTO (1 + 2 PTO durations), then a round trip to validate, one more
     * for the server to follow */
    uint64_t bound = 3 * w.pto_at_from + 3 * 170 * SIM_MS;
    EXPECT_DATA_WITHIN(r, w, cut, bound, "the blackhole");
    SIM_CHECK(r, w.max_gap <= bound + 500 * SIM_MS, "delivery stalled %.0f ms", ms_of(w.max_gap));
}

/* ---- the OS tells ------------------------------------------------------------------------------
 */

/* Wifi's interface disappears at 1 s with no event: sending fails, and the connection fails over
 * to the validated cell standby at once. */
static void scn_interface_gone(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    const uint64_t gone = 1 * SIM_SEC;
    sim_iface_set_down_at(s, t.wifi, gone, 1);
    stall_watch w;
    watch_stall(s, &w, gone, t.cell);
    TRY(r, download_through(s, r, &w, 16 * MIB, 12 * SIM_SEC));
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active@cell "
                  "failed:socket_error@wifi removed:socket_error@wifi *");
    ends_on(s, r, t.cell);
    /* nothing arrives any more, so the first send on wifi is the PTO probe: it fails at once */
    uint64_t bound = w.pto_at_from + 2 * 170 * SIM_MS;
    EXPECT_DATA_WITHIN(r, w, gone, bound, "the failure");
}

/* The OS reports wifi's address removed (and the interface stops carrying anything): the client
 * moves to cell at once, before any timer, and removes the wifi path. */
static void scn_address_removed(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    const uint64_t gone = 1 * SIM_SEC;
    stall_watch w;
    watch_stall(s, &w, gone, t.cell); /* first: it notes the state before the event */
    sim_iface_set_down_at(s, t.wifi, gone, 1);
    sim_net_event_at(s, gone, TERN_NET_ADDR_REMOVED, t.wifi);
    TRY(r, download_through(s, r, &w, 16 * MIB, 12 * SIM_SEC));
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:address_gone@cell "
                  "removed:address_gone@wifi *");
    const sim_path_ev *mv = first_client_event(s, TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_ADDRESS_GONE);
    SIM_CHECK(r, mv && mv->t == gone, "moved at %.3f s, the address went at %.3f s",
              mv ? (double)mv->t / 1e9 : -1.0, (double)gone / 1e9);
    tern_conn_stats cs;
    tern_conn_get_stats(s->client, &cs);
    SIM_CHECK(r, cs.policy_moves == 1, "%llu moves by the policy",
              (unsigned long long)cs.policy_moves);
    ends_on(s, r, t.cell);
    /* the move sends on cell at once: one round trip of cell, plus the server's first flight */
    uint64_t bound = 2 * 170 * SIM_MS;
    EXPECT_DATA_WITHIN(r, w, gone, bound, "the failure");
}

/* The default route moves to cell at 1 s, which the connection has not used yet: it is probed
 * (cell appears at the same moment) and the connection moves once it answers, without a stall. */
static void scn_default_route_change(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t.wifi);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_DEFAULT_CHANGED, t.wifi);
    const uint64_t change = 1 * SIM_SEC;
    stall_watch w;
    watch_stall(s, &w, change, t.cell);
    sim_net_event_at(s, change, TERN_NET_ADDR_ADDED, t.cell);
    sim_net_event_at(s, change, TERN_NET_DEFAULT_CHANGED, t.cell);
    TRY(r, download_through(s, r, &w, 16 * MIB, 12 * SIM_SEC));
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:default_changed@cell");
    const sim_path_ev *mv =
        first_client_event(s, TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_DEFAULT_CHANGED);
    SIM_CHECK(r, mv && mv->t - change <= 250 * SIM_MS, "moved %.0f ms after the change",
              mv ? ms_of(mv->t - change) : -1.0);
    ends_on(s, r, t.cell);
    /* wifi still works: the move itself stalls delivery by about a round trip of cell (the
     * server then starts on cell), never by a timeout */
    SIM_CHECK(r, w.max_gap <= 350 * SIM_MS, "delivery stalled %.0f ms", ms_of(w.max_gap));
}

/* Wifi goes silent at 1 s; the client has nothing else until cell appears at 1.5 s: the new
 * address becomes a path, answers while wifi is still silent, and the connection moves there. */
static void scn_new_network_after_death(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t.wifi);
    const uint64_t cut = 1 * SIM_SEC, appears = 1500 * SIM_MS;
    sim_iface_cut(s, t.wifi, cut, SIM_INF);
    sim_net_event_at(s, appears, TERN_NET_ADDR_ADDED, t.cell);
    stall_watch w;
    watch_stall(s, &w, cut, t.cell);
    TRY(r, download_through(s, r, &w, 16 * MIB, 14 * SIM_SEC));
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:port_migration@wifi probing:new_network@cell validated:none@cell "
                  "active:degrading@cell *");
    ends_on(s, r, t.cell);
    EXPECT_DATA_WITHIN(r, w, appears, 2 * 170 * SIM_MS, "cell appeared");
}

/* ---- limits ------------------------------------------------------------------------------------
 */

static void flap_default(sim *s, const twonet *t, int flips)
{
    for (int k = 0; k < flips; k++)
        sim_net_event_at(s, 600 * SIM_MS + (uint64_t)k * 250 * SIM_MS, TERN_NET_DEFAULT_CHANGED,
                         k % 2 == 0 ? t->cell : t->wifi);
}

/* Moves with the default route and refusals by a limit, put in the summary. */
static void count_flaps(sim *s, sim_result *r, size_t *moves, size_t *refused)
{
    *moves = client_events(s, TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_DEFAULT_CHANGED);
    *refused = client_events(s, TERN_PATH_EV_REFUSED, TERN_PATH_WHY_LIMIT);
    char extra[96];
    snprintf(extra, sizeof(extra), "%zu moves, %zu refusals", *moves, *refused);
    report(s, r, NULL, extra);
}

/* The default route flips between cell and wifi every 250 ms, 20 times. Each flip is followed
 * (both paths are validated) until the per-network limit: 5 moves onto each, then refusals. */
static void scn_flapping_network(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    flap_default(s, &t, 20);
    TRY(r, begin_download(s, r, 24 * MIB));
    TRY(r, end_download(s, r, 14 * SIM_SEC));
    size_t moves, refused;
    count_flaps(s, r, &moves, &refused);
    uint32_t per_net = s->cfg_c.policy.max_migrations_per_network;
    SIM_CHECK(r, moves == 2 * per_net, "%zu moves with the default route, limit %u per network",
              moves, per_net);
    /* past the limits, every flip towards cell is refused (and reported); those towards wifi,
     * where the connection stays, need no move */
    SIM_CHECK(r, refused == (20 - moves) / 2, "%zu refusals for %zu flips past the limit", refused,
              20 - moves);
    EXPECT_EVENTS(s, r, SIM_CLIENT, "* active:default_changed@wifi refused:limit@cell *");
}

/* Same, with a per-connection limit of 3 moves: the fourth is refused, and reported once. */
static void scn_flapping_total_limit(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    s->cfg_c.policy.max_migrations = 3;
    flap_default(s, &t, 10);
    TRY(r, begin_download(s, r, 16 * MIB));
    TRY(r, end_download(s, r, 14 * SIM_SEC));
    size_t moves, refused;
    count_flaps(s, r, &moves, &refused);
    SIM_CHECK(r, moves == 3 && refused == 1, "%zu moves and %zu refusals (limit 3)", moves,
              refused);
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:default_changed@cell "
                  "active:default_changed@wifi active:default_changed@cell refused:limit@wifi");
    ends_on(s, r, t.cell);
}

/* Wifi's address (the default route's) disappears and comes back every 400 ms, ten times, from
 * 1 s: one failover to cell, then each return is only a standby (moving back waits for 30 s of
 * stability), each disappearance removes it; nothing else moves and paths do not pile up. */
static void scn_flapping_address(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    for (int k = 0; k < 10; k++) {
        uint64_t at = 1 * SIM_SEC + (uint64_t)k * 400 * SIM_MS;
        sim_iface_set_down_at(s, t.wifi, at, 1);
        sim_net_event_at(s, at, TERN_NET_ADDR_REMOVED, t.wifi);
        sim_iface_set_down_at(s, t.wifi, at + 200 * SIM_MS, 0);
        sim_net_event_at(s, at + 200 * SIM_MS, TERN_NET_ADDR_ADDED, t.wifi);
    }
    TRY(r, begin_download(s, r, 16 * MIB));
    TRY(r, end_download(s, r, 14 * SIM_SEC));
    size_t moves = client_events(s, TERN_PATH_EV_ACTIVE, -1);
    size_t standbys = client_events(s, TERN_PATH_EV_PROBING, TERN_PATH_WHY_NEW_NETWORK);
    char extra[96];
    snprintf(extra, sizeof(extra), "%zu moves, %zu standby paths probed", moves, standbys);
    report(s, r, NULL, extra);
    SIM_CHECK(r, moves == 1, "%zu moves", moves);
    /* cell at the start, then wifi at each of its ten returns */
    SIM_CHECK(r, standbys == 11, "%zu standby paths probed", standbys);
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:address_gone@cell "
                  "removed:address_gone@wifi probing:new_network@wifi *");
    size_t n = 0;
    tern_conn_paths(s->client, NULL, 0, &n);
    SIM_CHECK(r, n == 2, "%zu paths at the end (cell and the last wifi standby)", n);
    ends_on(s, r, t.cell);
}

/* ---- moving back -------------------------------------------------------------------------------
 */

/* Wifi (the default route) goes silent from 1 s to 2.5 s: the connection fails over to cell, the
 * dead wifi path fails its keep-alive, wifi is retried with backoff, validates once it is back,
 * and after it has been usable for migrate_back_ms the connection moves back. */
static void scn_migrate_back(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    s->cfg_c.policy.migrate_back_ms = 2000;
    const uint64_t cut = 1 * SIM_SEC, back = 2500 * SIM_MS;
    sim_iface_cut(s, t.wifi, cut, back);
    stall_watch w;
    watch_stall(s, &w, cut, t.cell);
    TRY(r, begin_download(s, r, 32 * MIB));
    TRY(r, end_download(s, r, 20 * SIM_SEC));
    const sim_path_ev *mb = first_client_event(s, TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_MIGRATED_BACK);
    char extra[96];
    snprintf(extra, sizeof(extra), "moved back at %.3f s", mb ? (double)mb->t / 1e9 : -1.0);
    report(s, r, &w, extra);
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:degrading@cell "
                  "failed:keepalive_failed@wifi removed:keepalive_failed@wifi * "
                  "validated:none@wifi active:migrated_back@wifi");
    /* wifi validated after `back` (retries back off to at most 4 s apart by then), then the
     * connection waited migrate_back_ms */
    SIM_CHECK(r, mb && mb->t >= back + 2 * SIM_SEC && mb->t <= back + 2 * SIM_SEC + 4500 * SIM_MS,
              "moved back at %.3f s (wifi back at %.3f s, 2 s to wait)",
              mb ? (double)mb->t / 1e9 : -1.0, (double)back / 1e9);
    ends_on(s, r, t.wifi);
}

/* ---- multipath: standby paths in backup status ---------------------------------------------------
 */

#define MPB_BUCKET (100 * SIM_MS)
#define MPB_BUCKETS 200 /* 20 s */

/* Data-sized datagrams (over 1000 B) the client received per interface and 100 ms of run time,
 * and both sides' statuses of the cell path at chosen moments. */
typedef struct mp_backup_watch {
    int wifi, cell;
    uint64_t bytes[2][MPB_BUCKETS]; /* [0] wifi, [1] cell */
    struct {
        int local, peer; /* the client's status of its cell path, the server's view of it */
        int wifi_local;  /* the client's status of its wifi path (-1: no such path) */
    } at[3];
    int snaps;
} mp_backup_watch;

static void mpb_recv(sim *s, const sim_pkt *p)
{
    mp_backup_watch *m = s->ud;
    uint64_t b = sim_time(s) / MPB_BUCKET;
    if (p->len > 1000 && b < MPB_BUCKETS && (p->iface == m->wifi || p->iface == m->cell))
        m->bytes[p->iface == m->cell][b] += p->len;
}

/* Data bytes received on wifi (k 0) or cell (1) in [from, to). */
static uint64_t mpb_bytes(const mp_backup_watch *m, int k, uint64_t from, uint64_t to)
{
    uint64_t sum = 0;
    for (uint64_t b = from / MPB_BUCKET; b < to / MPB_BUCKET && b < MPB_BUCKETS; b++)
        sum += m->bytes[k][b];
    return sum;
}

static void mpb_snapshot(sim *s, void *arg)
{
    mp_backup_watch *m = arg;
    int k = m->snaps++;
    m->at[k].local = m->at[k].peer = m->at[k].wifi_local = -1;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        const tern_path *p = tern_conn_path_at(s->client, i);
        if (!tern_path_in_use(p))
            continue;
        int iface = sim_iface_by_ip(s, &p->addr.local);
        int st = tern_mp_local_backup(s->client, p->mp_id);
        if (iface == m->wifi) {
            m->at[k].wifi_local = st;
        } else if (iface == m->cell) {
            m->at[k].local = st;
            m->at[k].peer = tern_mp_peer_backup(sim_server_conn(s), p->mp_id);
        }
    }
}

/* Automatic mode with multipath on both sides: the policy's cell standby is opened in backup
 * status (PATH_STATUS_BACKUP), so while wifi works it carries no data, where without the
 * extension it would be a standby to migrate to and with the extension but no status the
 * scheduler would spread the download over it. Wifi goes silent at 1 s: cell's backup carries the
 * download and the policy makes it the active path, marked available; wifi returns at 2.5 s and,
 * once usable for migrate_back_ms, is the active path again, cell back to backup, the data back
 * on wifi. Nothing is lost (bytes and SHA-256). */
static void scn_mp_standby_backup(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    s->cfg_c.multipath = s->cfg_s.multipath = 1;
    os_reports_both(s, &t);
    s->cfg_c.policy.migrate_back_ms = 2000;
    const uint64_t cut = 1 * SIM_SEC, back = 2500 * SIM_MS;
    sim_iface_cut(s, t.wifi, cut, back);
    static mp_backup_watch m;
    memset(&m, 0, sizeof(m));
    m.wifi = t.wifi;
    m.cell = t.cell;
    s->ud = &m;
    s->on_client_recv = mpb_recv;
    sim_at(s, cut - 10 * SIM_MS, mpb_snapshot, &m, "statuses before the failure");
    sim_at(s, back - 10 * SIM_MS, mpb_snapshot, &m, "statuses during it");
    TRY(r, begin_download(s, r, 32 * MIB));
    TRY(r, end_download(s, r, 20 * SIM_SEC));
    mpb_snapshot(s, &m);
    const sim_path_ev *mb = first_client_event(s, TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_MIGRATED_BACK);
    SIM_CHECK(r, tern_mp_enabled(s->client) == 1, "multipath not negotiated");
    uint64_t end = sim_time(s), back_at = mb ? mb->t : end;
    /* the phases: the standby validated (before 500 ms) to the failure; the failure to wifi's
     * return; from 500 ms after moving back to the end */
    uint64_t w0 = mpb_bytes(&m, 0, 500 * SIM_MS, cut), c0 = mpb_bytes(&m, 1, 500 * SIM_MS, cut);
    uint64_t c1 = mpb_bytes(&m, 1, cut, back);
    uint64_t w2 = mpb_bytes(&m, 0, back_at + 500 * SIM_MS, end),
             c2 = mpb_bytes(&m, 1, back_at + 500 * SIM_MS, end);
    char extra[224];
    snprintf(extra, sizeof(extra),
             "data B before the failure wifi %llu, cell %llu; during it cell %llu; after moving "
             "back (%.3f s) wifi %llu, cell %llu; cell backup (client/server) %d/%d, %d/%d, %d/%d",
             (unsigned long long)w0, (unsigned long long)c0, (unsigned long long)c1,
             mb ? (double)mb->t / 1e9 : -1.0, (unsigned long long)w2, (unsigned long long)c2,
             m.at[0].local, m.at[0].peer, m.at[1].local, m.at[1].peer, m.at[2].local,
             m.at[2].peer);
    snprintf(r->summary, sizeof(r->summary), "%s", extra);
    SIM_CHECK(r, m.at[0].local == 1 && m.at[0].peer == 1 && m.at[0].wifi_local == 0,
              "before the failure: %s", extra);
    SIM_CHECK(r, w0 > 1 * MIB && c0 == 0, "before the failure: %s", extra);
    SIM_CHECK(r, m.at[1].local == 0 && m.at[1].peer == 0, "during the failure: %s", extra);
    SIM_CHECK(r, c1 > 1 * MIB, "during the failure: %s", extra);
    SIM_CHECK(r, mb != NULL, "never moved back to wifi: %s", extra);
    SIM_CHECK(r, m.at[2].local == 1 && m.at[2].peer == 1 && m.at[2].wifi_local == 0,
              "after moving back: %s", extra);
    SIM_CHECK(r, w2 > 1 * MIB && c2 == 0, "after moving back: %s", extra);
    ends_on(s, r, t.wifi);
}

/* ---- NAT bindings ------------------------------------------------------------------------------
 */

static void act_request(sim *s, void *arg)
{
    (void)arg;
    (void)sim_request(s, 4 * MIB);
}

/* Cell's carrier NAT forgets a binding idle for 30 s, and a forgotten binding stays wedged. The
 * connection downloads, idles 70 s (its cell standby kept alive), downloads again, and then wifi
 * dies: the standby, still bound, takes over. With keep-alives rarer than the NAT's timeout
 * (`rare`), the binding wedges and the standby fails its keep-alive instead. */
static void nat_standby(sim *s, sim_result *r, int rare)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    sim_nat_set_timeout(t.cell_nat, 30 * SIM_SEC, 1);
    s->cfg_c.idle_timeout_ms = s->cfg_s.idle_timeout_ms = 120000;
    if (rare)
        s->cfg_c.policy.keepalive_ms = 45000;
    const uint64_t second = 72 * SIM_SEC, cut = 72200 * SIM_MS;
    sim_at(s, second, act_request, NULL, "second download");
    sim_iface_cut(s, t.wifi, cut, SIM_INF);
    TRY(r, begin_download(s, r, 2 * MIB));
    TRY(r, end_download(s, r, 5 * SIM_SEC));
    SIM_CHECK(r, sim_run(s, NULL, second + 10 * SIM_MS - sim_time(s)), "stopped while idle");
    stall_watch w;
    watch_stall(s, &w, cut, t.cell);
    if (rare) {
        SIM_CHECK(r, t.cell_nat->expired >= 1, "cell's binding never expired");
        SIM_CHECK(r, client_events(s, TERN_PATH_EV_FAILED, TERN_PATH_WHY_KEEPALIVE_FAILED) >= 1,
                  "the wedged standby did not fail its keep-alive");
        report(s, r, NULL, "binding expired, keep-alive failed");
        return;
    }
    TRY(r, end_download(s, r, cut + 8 * SIM_SEC));
    report(s, r, &w, NULL);
    SIM_CHECK(r, t.cell_nat->expired == 0, "cell's binding expired %llu times",
              (unsigned long long)t.cell_nat->expired);
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:degrading@cell *");
    SIM_CHECK(r,
              client_events(s, TERN_PATH_EV_FAILED, -1) == 0 ||
                  client_events(s, TERN_PATH_EV_FAILED, TERN_PATH_WHY_KEEPALIVE_FAILED) ==
                      client_events(s, TERN_PATH_EV_FAILED, -1),
              "unexpected failures");
    ends_on(s, r, t.cell);
    uint64_t target = w.pto_at_from + w.srtt_iface + 50 * SIM_MS;
    EXPECT_DATA_WITHIN(r, w, w.silent_from, target, "wifi went silent");
}

static void scn_nat_timeout_standby(sim *s, sim_result *r)
{
    nat_standby(s, r, 0);
}

static void scn_nat_timeout_standby_rare(sim *s, sim_result *r)
{
    nat_standby(s, r, 1);
}

/* Wifi's NAT forgets the binding of the idle connection after 5 s and wedges it; the only network
 * is wifi. The second request gets no answer: after two PTOs the client tries a new port on wifi,
 * which gets a fresh binding, and moves there. */
static void scn_nat_timeout_active(sim *s, sim_result *r)
{
    twonet t;
    two_networks(s, &t, 1);
    sim_net_event_at(s, 100 * SIM_MS, TERN_NET_ADDR_ADDED, t.wifi);
    sim_nat_set_timeout(t.wifi_nat, 5 * SIM_SEC, 1);
    const uint64_t second = 12 * SIM_SEC;
    sim_at(s, second, act_request, NULL, "second download");
    TRY(r, begin_download(s, r, 2 * MIB));
    TRY(r, end_download(s, r, 5 * SIM_SEC));
    SIM_CHECK(r, sim_run(s, NULL, second + SIM_MS - sim_time(s)), "stopped while idle");
    stall_watch w;
    watch_stall(s, &w, second, t.wifi);
    TRY(r, end_download(s, r, second + 5 * SIM_SEC));
    report(s, r, &w, NULL);
    SIM_CHECK(r, t.wifi_nat->expired >= 1, "the binding never expired");
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:port_migration@wifi:20000 validated:none@wifi:20000 "
                  "active:port_migration@wifi:20000 *");
    ends_on(s, r, t.wifi);
    /* 1 + 2 PTOs before exploring, a round trip to validate, one for the data */
    uint64_t bound = 3 * w.pto_at_from + 2 * 60 * SIM_MS;
    SIM_CHECK(r, w.resumed && w.resumed - second <= bound,
              "data %.0f ms after the request (bound %.0f ms)",
              w.resumed ? ms_of(w.resumed - second) : -1.0, ms_of(bound));
}

/* ---- cached state ------------------------------------------------------------------------------
 */

/* What wifi carries to the client in the 200 ms after the move back (data still draining from
 * cell's queue is not wifi's rate). */
typedef struct back_rate {
    uint64_t at, bytes_after;
    int wifi, done;
} back_rate;

static void act_rate_end(sim *s, void *arg)
{
    back_rate *b = arg;
    b->done = 1;
}

static void rate_recv(sim *s, const sim_pkt *p)
{
    back_rate *b = s->ud;
    if (b->at && !b->done && p->iface == b->wifi)
        b->bytes_after += p->len;
}

static void rate_on_event(sim *s, int who, const sim_path_ev *e)
{
    back_rate *b = s->ud;
    if (who != SIM_CLIENT || e->type != TERN_PATH_EV_ACTIVE ||
        e->reason != TERN_PATH_WHY_MIGRATED_BACK || b->at)
        return;
    b->at = sim_time(s);
    sim_after(s, 200 * SIM_MS, act_rate_end, b, NULL);
}

/* Wifi's address goes at 1 s (failover to cell) and comes back at 1.5 s; the connection moves
 * back after 1 s. Returns through *b the bytes delivered in the 200 ms after moving back. */
static void return_to_wifi(sim *s, sim_result *r, int cache, back_rate *b)
{
    twonet t;
    two_networks(s, &t, 1);
    os_reports_both(s, &t);
    s->cfg_c.policy.migrate_back_ms = 1000;
    if (!cache)
        s->cfg_c.policy.cache_rtt_ms = s->cfg_c.policy.cache_cc_ms = s->cfg_s.policy.cache_rtt_ms =
            s->cfg_s.policy.cache_cc_ms = 0;
    sim_iface_set_down_at(s, t.wifi, 1 * SIM_SEC, 1);
    sim_net_event_at(s, 1 * SIM_SEC, TERN_NET_ADDR_REMOVED, t.wifi);
    sim_iface_set_down_at(s, t.wifi, 1500 * SIM_MS, 0);
    sim_net_event_at(s, 1500 * SIM_MS, TERN_NET_ADDR_ADDED, t.wifi);
    memset(b, 0, sizeof(*b));
    s->ud = b;
    b->wifi = t.wifi;
    s->on_path_event = rate_on_event;
    s->on_client_recv = rate_recv;
    TRY(r, begin_download(s, r, 48 * MIB));
    TRY(r, end_download(s, r, 20 * SIM_SEC));
    SIM_CHECK(r, b->done, "never moved back (or the download ended within 200 ms of it)");
    EXPECT_EVENTS(s, r, SIM_CLIENT,
                  "probing:new_network@cell validated:none@cell active:address_gone@cell "
                  "removed:address_gone@wifi probing:new_network@wifi validated:none@wifi "
                  "active:migrated_back@wifi");
    ends_on(s, r, t.wifi);
}

/* With the cache the server's new path to the client's wifi (a new socket, a new NAT port, the same
 * network) starts from the window it had there, so the 200 ms after moving back deliver more than
 * without (measured in a second run of the same network with the cache off). */
static void scn_cached_state_return(sim *s, sim_result *r)
{
    back_rate with, without;
    TRY(r, return_to_wifi(s, r, 1, &with));
    tern_conn *sc = sim_server_conn(s);
    SIM_CHECK(r, sc && tern_conn_active_path(sc)->restored == 2,
              "the server's wifi path restored %d (2: RTT and window)",
              sc ? tern_conn_active_path(sc)->restored : -1);
    SIM_CHECK(r, tern_conn_active_path(s->client)->restored >= 1,
              "the client's wifi path restored nothing");
    uint64_t cwnd = tern_conn_active_path(sc)->restored_cwnd;
    tern_conn_stats ss;
    tern_conn_get_stats(sc, &ss);
    SIM_CHECK(r, ss.paths_restored >= 1, "the server restored %llu paths",
              (unsigned long long)ss.paths_restored);
    sim *s2 = sim_new(s->seed);
    SIM_CHECK(r, s2 != NULL, "second simulator");
    sim_result r2;
    memset(&r2, 0, sizeof(r2));
    r2.ok = 1;
    return_to_wifi(s2, &r2, 0, &without);
    tern_conn_stats ss2;
    memset(&ss2, 0, sizeof(ss2));
    if (sim_server_conn(s2))
        tern_conn_get_stats(sim_server_conn(s2), &ss2);
    sim_free(s2);
    SIM_CHECK(r, r2.ok, "the run without the cache failed: %s", r2.why);
    SIM_CHECK(r, ss2.paths_restored == 0, "the cache was off, yet %llu paths were restored",
              (unsigned long long)ss2.paths_restored);
    char extra[120];
    snprintf(extra, sizeof(extra),
             "200 ms after moving back: %.1f Mbit/s with the cache (window %llu B), %.1f without "
             "(x%.2f)",
             (double)with.bytes_after * 8 / 0.2 / 1e6, (unsigned long long)cwnd,
             (double)without.bytes_after * 8 / 0.2 / 1e6,
             without.bytes_after ? (double)with.bytes_after / (double)without.bytes_after : 0.0);
    report(s, r, NULL, extra);
    SIM_CHECK(r, with.bytes_after * 10 >= without.bytes_after * 18,
              "with the cache %llu B in 200 ms, without %llu B on wifi: less than 1.8x",
              (unsigned long long)with.bytes_after, (unsigned long long)without.bytes_after);
}

/* ---- a late answer to a standby's validation -------------------------------------------------
 */

typedef struct link_change {
    sim_link *link;
    sim_link_cfg cfg;
} link_change;

static void act_link_set(sim *s, void *arg)
{
    (void)s;
    link_change *lc = arg;
    sim_link_set(lc->link, &lc->cfg);
}

/* Manual mode, two networks of the same delay: wifi and a wired dock ("eth"), 20 ms each way. The
 * application adds eth; the answer to its validation comes 60 ms late (the server host was busy
 * for a moment), so that one round trip reads 100 ms for a 40 ms path. Later wifi's answers slow
 * down (delayed, not lost), and the acknowledgement of a new request comes after the PTO: eth is no
 * slower than wifi, so its probe must stay a bare challenge. A PING there, sent just before wifi's
 * own probes and arriving first, would move the server to eth and back for a PTO that was only
 * late. */
static void scn_late_standby_answer(sim *s, sim_result *r)
{
    sim_link_cfg w = link_of(50, 20, 500, 256), late = link_of(50, 80, 500, 256);
    int wifi = sim_add_iface(s, "wifi", "10.0.1.2:5000", &w, NULL);
    int eth = sim_add_iface(s, "eth", "10.0.2.2:5000", &w, &late);
    sim_nat_add(s, wifi, "203.0.113.7:40000");
    sim_nat_add(s, eth, "198.51.100.9:50000");
    addr_arg add = {.addr = s->ifaces[eth].addr};
    sim_at(s, 200 * SIM_MS, act_app_adds, &add, "app adds eth");
    link_change eth_back = {s->ifaces[eth].link[SIM_DOWN], w};
    sim_at(s, 260 * SIM_MS, act_link_set, &eth_back, "eth answers on time again");
    link_change wifi_slow = {s->ifaces[wifi].link[SIM_DOWN], link_of(50, 170, 500, 256)};
    sim_at(s, 1 * SIM_SEC, act_link_set, &wifi_slow, "wifi's answers take 170 ms");
    TRY(r, begin_download(s, r, 8 * MIB));
    SIM_CHECK(r, sim_run(s, sim_cond_all_done, 1050 * SIM_MS - sim_time(s)) == 0,
              "done before wifi slowed down");
    /* a second request: its acknowledgement takes 100 ms, more than wifi's PTO */
    SIM_CHECK(r, sim_request(s, 1 * MIB) >= 0, "second request refused");
    SIM_CHECK(r, add.rv >= 0, "path_add returned %d", add.rv);
    const tern_path *sb = tern_conn_path_at(s->client, add.rv);
    const sim_path_ev *v = first_client_event(s, TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE);
    SIM_CHECK(r, v && v->rtt_ns >= 95 * SIM_MS, "eth's validation round trip %.1f ms, not late",
              v ? ms_of(v->rtt_ns) : -1.0);
    uint64_t ptos = tern_conn_recovery(s->client)->pto_total, sent = sb->pkts_sent;
    TRY(r, end_download(s, r, 12 * SIM_SEC));
    SIM_CHECK(r, tern_conn_recovery(s->client)->pto_total > ptos, "no PTO fired on wifi");
    SIM_CHECK(r, sb->pkts_sent > sent, "eth was not probed when wifi degraded");
    EXPECT_EVENTS(s, r, SIM_CLIENT, "probing:none@eth validated:none@eth");
    EXPECT_EVENTS(s, r, SIM_SERVER, "validated:none@eth"); /* its own validation, no move */
    ends_on(s, r, wifi);
    /* the round trip the policy compares is eth's real one, not the late answer's */
    SIM_CHECK(r, sb->rtt.min >= 40 * SIM_MS && sb->rtt.min <= 44 * SIM_MS,
              "eth's minimum RTT %.1f ms (true: 40 ms)", ms_of(sb->rtt.min));
    char extra[96];
    snprintf(extra, sizeof(extra), "eth validated in %.1f ms, min RTT %.1f ms", ms_of(v->rtt_ns),
             ms_of(sb->rtt.min));
    report(s, r, NULL, extra);
}

/* ---- registry ----------------------------------------------------------------------------------
 */

const sim_scenario sim_policy_scenarios[] = {
    {"uplink_dies_standby", "policy",
     "wifi's uplink dies, its downlink lives: the app's validated cell takes over", 85,
     scn_uplink_dies_standby},
    {"blackhole_standby", "policy", "wifi goes silent; the app's validated cell takes over", 71,
     scn_blackhole_standby},
    {"blackhole_no_standby", "policy", "wifi goes silent, no standby: probe cell and a new port",
     72, scn_blackhole_no_standby},
    {"interface_gone", "policy", "wifi's interface disappears: socket error, failover", 73,
     scn_interface_gone},
    {"address_removed", "policy", "the OS removes wifi's address: move to cell at once", 74,
     scn_address_removed},
    {"default_route_change", "policy", "the default route moves to a new network: probe, move", 75,
     scn_default_route_change},
    {"new_network_after_death", "policy", "wifi dies, then cell appears: move there", 76,
     scn_new_network_after_death},
    {"flapping_network", "policy", "the default route flaps: per-network migration limit", 77,
     scn_flapping_network},
    {"flapping_total_limit", "policy", "the default route flaps: per-connection limit", 78,
     scn_flapping_total_limit},
    {"flapping_address", "policy", "wifi's address flaps: one failover, standbys come and go", 84,
     scn_flapping_address},
    {"migrate_back", "policy", "after a failover, back to wifi once usable for a while", 79,
     scn_migrate_back},
    {"nat_timeout_standby", "policy", "idle standby behind a 30 s NAT: keep-alives hold it", 80,
     scn_nat_timeout_standby},
    {"nat_timeout_standby_rare", "policy", "keep-alives rarer than the NAT timeout: it fails", 81,
     scn_nat_timeout_standby_rare},
    {"nat_timeout_active", "policy", "the active path's NAT binding wedges: a new port recovers",
     82, scn_nat_timeout_active},
    {"cached_state_return", "policy", "back to a network: its RTT and window are restored", 83,
     scn_cached_state_return},
    {"late_standby_answer", "policy",
     "a standby's validation answer comes late: its probe stays a bare challenge", 86,
     scn_late_standby_answer},
    {"mp_standby_backup", "policy",
     "multipath: the standby is a backup path, used while wifi is down, backup again after", 88,
     scn_mp_standby_backup},
};
