/* The failover suite: the phone-like client of the migration suite (wifi and cell, each with its
 * own link and NAT) loses its active path while it only receives a download: the interface goes
 * away (a send error the runtime reports), with and without a validated standby, with failover
 * turned off; and its NAT rebinds repeatedly under loss and reordering. Every scenario checks the
 * bytes and SHA-256 of the download, the path events of both cores, the final active paths, and a
 * virtual-time bound on the stall from the failure to the next byte delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "migration.h"
#include "sim_mig.h"

/* Downloads `bytes` within `bound` of virtual time (the failure is scheduled already) and puts the
 * longest stall in the summary. */
static void download_through(sim *s, sim_result *r, const gap_watch *w, uint64_t bytes,
                             uint64_t bound)
{
    TRY(r, start_download(s, r, bytes));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, bound, &xfer));
    char extra[96];
    snprintf(extra, sizeof(extra), "longest stall %.0f ms", msecs(gap_of(s, w)));
    summarize(s, r, xfer, extra);
}

/* The connection ended up on cell: the client's events match `client`; the server, which
 * validated cell when the client probed it, followed there and gave up wifi after
 * re-challenging it (RFC 9000 §9.3.3); both sides' active paths are cell's. */
static void expect_on_cell(sim *s, sim_result *r, const tern_addr *cell, const char *client)
{
    TRY(r, expect_events(s, r, SIM_CLIENT, client));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "validated:none@cell active:peer_migrated@cell peer:peer_migrated@cell "
                         "failed:timeout@wifi removed:timeout@wifi"));
    TRY(r, expect_active(s, r, cell, &s->server_addr));
}

/* ---- the interface goes away --------------------------------------------------------------------
 */

/* The interface of a client path goes away at `at`: datagrams sent to it are lost, and the
 * client's first send from it afterwards fails, which the runtime reports to the core (ENETDOWN
 * and ENODEV: the interface is gone). The datagram whose send failed is lost with it. */
typedef struct gone {
    int iface;
    uint64_t at;
    tern_path_reason why;
    int path;          /* the path the error was reported for */
    uint64_t reported; /* run time of the report (0: none yet) */
} gone;

static void act_gone(sim *s, void *arg)
{
    gone *g = arg;
    tern_addr local = s->ifaces[g->iface].addr;
    g->path = tern_conn_path_by_local(s->client, &local);
    g->reported = sim_time(s);
    sim_note(s, "runtime: send on path %d failed (%s)", g->path, tern_path_reason_str(g->why));
    tern_conn_path_gone(s->client, g->path, g->why, s->now);
}

static int gone_filter(sim *s, const sim_pkt *p, void *ud)
{
    gone *g = ud;
    (void)p;
    if (sim_time(s) < g->at)
        return 0;
    if (!g->reported) {
        g->reported = sim_time(s);
        sim_after(s, 0, act_gone, g, "send error");
    }
    return 1;
}

static void iface_gone_at(sim *s, int iface, gone *g, uint64_t at)
{
    memset(g, 0, sizeof(*g));
    g->iface = iface;
    g->at = at;
    g->why = TERN_PATH_WHY_INTERFACE_GONE;
    g->path = -1;
    sim_loss_cfg lc = {.filter = gone_filter, .filter_ud = g};
    sim_loss *l = sim_loss_new(s, iface, SIM_UP, &lc);
    sim_iface_prepend(s, iface, SIM_UP, &l->n);
    sim_iface_blackhole(s, iface, SIM_DOWN, at, SIM_INF);
}

/* A client that only receives (a download) has a validated cell path beside wifi; wifi's
 * interface goes away. The connection fails over to cell at once: the client sends an
 * ack-eliciting packet there although it has nothing of its own to send, so the server learns the
 * new address; what was in flight is resent and the download completes with the right hash. */
static void scn_receive_only_failover(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    const uint64_t cut = 1 * SIM_SEC;
    verb add = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_add, &add, "client adds cell (standby)");
    gone g;
    iface_gone_at(s, ph.wifi, &g, cut);
    gap_watch w;
    watch_gaps_from(s, &w, cut);
    TRY(r, download_through(s, r, &w, 16 * MB, 10 * SIM_SEC));
    SIM_CHECK(r, add.rv > 0, "path_add returned %d", add.rv);
    SIM_CHECK(r, g.reported && g.reported - cut < 50 * SIM_MS, "send error reported at %.3f s",
              secs(g.reported));
    /* the server hears of cell one way (80 ms; it validated cell when the client probed it), data
     * comes back (80 ms), what was lost on wifi is repaired first */
    expect_gap(s, r, &w, 600 * SIM_MS);
    TRY(r, expect_on_cell(s, r, &cell,
                          "probing:none@cell validated:none@cell active:failover@cell "
                          "failed:interface_gone@wifi removed:interface_gone@wifi"));
}

/* wifi's interface goes away while cell, added 50 ms earlier, is still being validated: there is
 * nowhere to go yet, so wifi is kept (a transient error must not end the only path) and the
 * connection moves to cell the moment it validates; wifi then ends with the error's reason. */
static void scn_failover_while_probing(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    const uint64_t cut = 1 * SIM_SEC;
    verb add = {.addr = cell};
    sim_at(s, cut - 50 * SIM_MS, act_add, &add, "client adds cell");
    gone g;
    iface_gone_at(s, ph.wifi, &g, cut);
    gap_watch w;
    watch_gaps_from(s, &w, cut);
    TRY(r, download_through(s, r, &w, 16 * MB, 10 * SIM_SEC));
    SIM_CHECK(r, add.rv > 0 && g.reported, "path_add %d, error reported %d", add.rv,
              (int)(g.reported != 0));
    const sim_path_ev *v = last_event(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED);
    const sim_path_ev *m = last_event(s, SIM_CLIENT, TERN_PATH_EV_ACTIVE);
    SIM_CHECK(r, v && m && m->t == v->t && m->reason == TERN_PATH_WHY_FAILOVER,
              "moved at %.3f s, cell validated at %.3f s", m ? secs(m->t) : -1.0,
              v ? secs(v->t) : -1.0);
    /* cell answers 160 ms after its probe (the server validates it meanwhile) */
    expect_gap(s, r, &w, 700 * SIM_MS);
    TRY(r, expect_on_cell(s, r, &cell,
                          "probing:none@cell validated:none@cell active:failover@cell "
                          "failed:interface_gone@wifi removed:interface_gone@wifi"));
}

/* The application turned failover off: wifi's interface goes away beside a validated cell path,
 * and the connection stays where it is until the application moves it, 300 ms later. */
static void scn_failover_disabled(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    s->cfg_c.failover = 0;
    tern_addr cell = iface_addr(s, ph.cell, 0);
    const uint64_t cut = 1 * SIM_SEC;
    verb add = {.addr = cell}, set = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_add, &add, "client adds cell (standby)");
    sim_at(s, cut + 300 * SIM_MS, act_set_active, &set, "application moves to cell");
    gone g;
    iface_gone_at(s, ph.wifi, &g, cut);
    gap_watch w;
    watch_gaps_from(s, &w, cut);
    TRY(r, download_through(s, r, &w, 16 * MB, 10 * SIM_SEC));
    SIM_CHECK(r, add.rv > 0 && set.rv == add.rv && g.reported, "path_add %d, set_active %d", add.rv,
              set.rv);
    /* nothing moved before the application did */
    SIM_CHECK(r, gap_of(s, &w) >= 300 * SIM_MS,
              "delivery resumed after %.0f ms, before the "
              "application moved",
              msecs(gap_of(s, &w)));
    expect_gap(s, r, &w, 300 * SIM_MS + 600 * SIM_MS);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell validated:none@cell active:app@cell "
                         "failed:interface_gone@wifi removed:interface_gone@wifi"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* ---- a switch while only receiving -------------------------------------------------------------
 */

/* wifi goes silent at 1 s in both directions (no error anywhere); 200 ms later the application
 * moves to cell, which it had probed and which is validated. The client has nothing of its own to
 * send and nothing arrives to acknowledge: the switch itself must put an ack-eliciting packet on
 * cell, or the server never learns the new address and the connection idles out. */
static void scn_switch_while_receiving(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    const uint64_t cut = 1 * SIM_SEC;
    verb add = {.addr = cell}, set = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_add, &add, "client adds cell (standby)");
    sim_iface_cut(s, ph.wifi, cut, SIM_INF);
    sim_at(s, cut + 200 * SIM_MS, act_set_active, &set, "application moves to cell");
    gap_watch w;
    watch_gaps_from(s, &w, cut);
    TRY(r, download_through(s, r, &w, 16 * MB, 10 * SIM_SEC));
    SIM_CHECK(r, add.rv > 0 && set.rv == add.rv, "path_add %d, set_active %d", add.rv, set.rv);
    /* 200 ms of the application's reaction, then cell: 80 ms up, the server validates (160 ms),
     * data comes down (80 ms) */
    expect_gap(s, r, &w, 800 * SIM_MS);
    TRY(r, expect_on_cell(s, r, &cell, "probing:none@cell validated:none@cell active:app@cell"));
}

/* ---- NAT rebinding under loss and reordering
 * ------------------------------------------------------
 */

/* Independent loss from `from` on (the handshake is not what these scenarios are about). */
typedef struct lossy_after {
    uint64_t from;
    double rate;
    sim_rng rng;
} lossy_after;

static int lossy_filter(sim *s, const sim_pkt *p, void *ud)
{
    lossy_after *la = ud;
    (void)p;
    return sim_time(s) >= la->from && sim_rng_unit(&la->rng) < la->rate;
}

/* wifi drops 3% of datagrams and delays 5% by 2-12 ms (overtaken by later ones) in both
 * directions, and its NAT gives the client a new public port three times during the download;
 * replies to an old port are dropped at once, so the client must speak first (its loss timer, kept
 * running by one ack-eliciting packet in flight, sends the probe that opens the new mapping). The
 * server must follow every rebinding (RFC 9000 §9.3: the non-probing packet with the largest packet
 * number so far decides, so a late packet from the previous port does not take it back), keep the
 * previous path as its fallback while it validates the new one, and always have a usable path. The
 * client notices nothing. */
/* After every server path event: the server's active path is in use, and it is validated or
 * falls back to a validated path in use. */
typedef struct usable_watch {
    int bad;
    uint64_t bad_at;
} usable_watch;

static void check_server_usable(sim *s, int who, const sim_path_ev *e)
{
    usable_watch *u = s->ud;
    (void)e;
    tern_conn *c = sim_server_conn(s);
    if (who != SIM_SERVER || !c)
        return;
    const tern_path *ap = tern_conn_active_path(c);
    int fb = ap->fallback;
    int ok = tern_path_in_use(ap) &&
             (ap->path_validated || (fb >= 0 && tern_path_in_use(tern_conn_path_at(c, fb)) &&
                                     tern_conn_path_at(c, fb)->path_validated));
    if (!ok && !u->bad++)
        u->bad_at = sim_time(s);
}

static void scn_nat_rebind_lossy_run(sim *s, sim_result *r, lossy_after *la, usable_watch *u);

static void scn_nat_rebind_lossy(sim *s, sim_result *r)
{
    lossy_after la[2];
    usable_watch u = {0};
    s->ud = &u;
    s->on_path_event = check_server_usable;
    scn_nat_rebind_lossy_run(s, r, la, &u);
}

static void scn_nat_rebind_lossy_run(sim *s, sim_result *r, lossy_after *la, usable_watch *u)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    for (int d = 0; d < 2; d++) {
        la[d].from = 300 * SIM_MS;
        la[d].rate = 0.03;
        sim_rng_init(&la[d].rng, s->seed, 0x10553 + (uint64_t)d);
        sim_loss_cfg lc = {.filter = lossy_filter, .filter_ud = &la[d]};
        sim_loss *l = sim_loss_new(s, ph.wifi, d, &lc);
        sim_iface_append(s, ph.wifi, d, &l->n);
        sim_iface_append(s, ph.wifi, d,
                         sim_reorder_new(s, ph.wifi, d, 0.05, 2 * SIM_MS, 12 * SIM_MS));
    }
    static const uint64_t at[3] = {1000 * SIM_MS, 2500 * SIM_MS, 4000 * SIM_MS};
    for (int k = 0; k < 3; k++)
        sim_nat_rebind_port_at(s, ph.wifi_nat, at[k], 0);
    gap_watch w;
    watch_gaps_from(s, &w, at[0]);
    /* large enough to outlast the third rebinding at 4 s: under this loss 4 MB took from 4.4 to
     * 16.5 s over seeds, so 6 MB, with room for the slowest seeds */
    TRY(r, start_download(s, r, 6 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 40 * SIM_SEC, &xfer));
    size_t moved = count_events(s, SIM_SERVER, TERN_PATH_EV_PEER_ADDRESS_CHANGED,
                                TERN_PATH_WHY_PEER_MIGRATED, NULL);
    char extra[96];
    snprintf(extra, sizeof(extra), "server moved %zu times, longest stall %.0f ms", moved,
             msecs(gap_of(s, &w)));
    summarize(s, r, xfer, extra);
    TRY(r, expect_events(s, r, SIM_CLIENT, ""));
    SIM_CHECK(r, u->bad == 0,
              "%d times the server had no usable path to fall back on (first at "
              "%.3f s)",
              u->bad, secs(u->bad_at));
    /* each rebinding: the server moves and validates the new port; an old port it re-challenged
     * (§9.3.3) fails once the new one is settled, and only by timeout */
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@wifi peer:peer_migrated@wifi * "
                         "active:peer_migrated@wifi peer:peer_migrated@wifi * "
                         "active:peer_migrated@wifi peer:peer_migrated@wifi *"));
    SIM_CHECK(r,
              count_events(s, SIM_SERVER, TERN_PATH_EV_FAILED, -1, NULL) ==
                  count_events(s, SIM_SERVER, TERN_PATH_EV_FAILED, TERN_PATH_WHY_TIMEOUT, NULL),
              "a server path failed other than by timeout");
    SIM_CHECK(r, count_events(s, SIM_SERVER, TERN_PATH_EV_ACTIVE, -1, NULL) == 3,
              "the server switched %zu times for 3 rebindings",
              count_events(s, SIM_SERVER, TERN_PATH_EV_ACTIVE, -1, NULL));
    /* every rebinding followed (a reordered packet may move it back and forth in between, but
     * never for good), each new port validated */
    SIM_CHECK(r, moved >= 3, "the server followed %zu rebindings of 3", moved);
    SIM_CHECK(r, count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, NULL) >= 3,
              "the server validated %zu new ports",
              count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, NULL));
    SIM_CHECK(r, sim_nat_public(ph.wifi_nat, &wifi, &(tern_addr){0}) == 0, "no NAT mapping");
    /* a new port keeps the congestion state: loss, not the rebinding, sets the pace */
    expect_gap(s, r, &w, 1 * SIM_SEC);
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- each path's own round-trip time
 * ---------------------------------------------------------------
 */

/* Every path of `c` in use has a smoothed RTT within 10% of the true one of its interface. */
static void expect_path_rtts(sim *s, sim_result *r, int who, tern_conn *c, const uint64_t *rtt_of,
                             const char *when)
{
    tern_path_info info[TERN_MAX_PATHS];
    size_t n = 0;
    SIM_CHECK(r, tern_conn_paths(c, info, TERN_MAX_PATHS, &n) == 0 && n == 2, "%s: %zu paths", when,
              n);
    for (size_t i = 0; i < n; i++) {
        const tern_addr *client = who == SIM_CLIENT ? &info[i].addr.local : &info[i].addr.remote;
        int f = who == SIM_CLIENT ? sim_iface_by_ip(s, client) : sim_iface_for_dst(s, client);
        SIM_CHECK(r, f >= 0, "%s: a path off the client host", when);
        uint64_t want = rtt_of[f], got = info[i].srtt_ns;
        SIM_CHECK(r, got * 10 >= want * 9 && got * 10 <= want * 11,
                  "%s: %s's path over %s has a smoothed RTT of %.1f ms, the path's is %.0f ms",
                  when, sim_host_name[who], s->ifaces[f].name, msecs(got), msecs(want));
    }
}

typedef struct rtt_check {
    sim_result *r;
    const uint64_t *rtt;
    int checks;
} rtt_check;

static void act_check_rtts(sim *s, void *arg)
{
    rtt_check *k = arg;
    char when[48];
    snprintf(when, sizeof(when), "at %.1f s", secs(sim_time(s)));
    expect_path_rtts(s, k->r, SIM_CLIENT, s->client, k->rtt, when);
    if (k->r->ok)
        expect_path_rtts(s, k->r, SIM_SERVER, sim_server_conn(s), k->rtt, when);
    k->checks++;
}

/* Two interfaces with round trips of 20 ms and 80 ms (fast links, no queue to speak of). The
 * client downloads over the first, probes the second, moves there, then back. Every RTT sample
 * must go to the path it measured: an acknowledgement that comes back over another path than its
 * packet left on measures neither. Whichever path is active, each path's smoothed RTT stays within
 * 10% of its own, on both sides (the best-path choice of a failover rests on these numbers). */
static void scn_path_rtts(sim *s, sim_result *r)
{
    sim_link_cfg fast = {.rate_bps = 200 * MBIT, .delay_ns = 10 * SIM_MS, .queue_bytes = 1 << 20};
    sim_link_cfg slow = {.rate_bps = 200 * MBIT, .delay_ns = 40 * SIM_MS, .queue_bytes = 1 << 20};
    int a = sim_add_iface(s, "near", "10.0.1.2:5000", &fast, NULL);
    int b = sim_add_iface(s, "far", "100.64.0.2:6000", &slow, NULL);
    static uint64_t rtt[SIM_MAX_IFACES];
    rtt[a] = 20 * SIM_MS;
    rtt[b] = 80 * SIM_MS;
    tern_addr near = iface_addr(s, a, 0), far = iface_addr(s, b, 0);
    verb add = {.addr = far}, go = {.addr = far}, back = {.addr = near};
    rtt_check k = {.r = r, .rtt = rtt};
    /* a small window keeps the queue of the fast link short, so RTT is propagation */
    s->cfg_s.initial_max_stream_data_bidi_local = 128 * 1024;
    s->cfg_c.initial_max_stream_data_bidi_remote = 128 * 1024;
    s->cfg_c.initial_max_data = 256 * 1024;
    sim_at(s, 200 * SIM_MS, act_add, &add, "client probes the far path");
    sim_at(s, 1000 * SIM_MS, act_check_rtts, &k, "check RTTs (near active)");
    sim_at(s, 1100 * SIM_MS, act_set_active, &go, "client moves to the far path");
    sim_at(s, 2500 * SIM_MS, act_check_rtts, &k, "check RTTs (far active)");
    sim_at(s, 2600 * SIM_MS, act_set_active, &back, "client moves back");
    sim_at(s, 4000 * SIM_MS, act_check_rtts, &k, "check RTTs (near active again)");
    TRY(r, start_download(s, r, 64 * MB));
    SIM_CHECK(r, sim_run(s, NULL, 4100 * SIM_MS - sim_time(s)), "run");
    TRY(r, (void)0);
    SIM_CHECK(r, k.checks == 3, "%d checks ran", k.checks);
    SIM_CHECK(r, add.rv > 0 && go.rv == add.rv && back.rv >= 0, "verbs %d %d %d", add.rv, go.rv,
              back.rv);
    snprintf(r->summary, sizeof(r->summary),
             "%llu B by %.1f s, RTTs right at 3 checks on both sides",
             (unsigned long long)sim_bytes_received(s), secs(sim_time(s)));
}

/* ---- registry -----------------------------------------------------------------------------------
 */

/* Drops the client's full-size datagrams (its padded PATH_RESPONSEs) in [from, until). */
typedef struct responses_lost {
    uint64_t from, until;
    uint64_t dropped;
} responses_lost;

static int responses_filter(sim *s, const sim_pkt *p, void *ud)
{
    responses_lost *rl = ud;
    int drop = sim_time(s) >= rl->from && sim_time(s) < rl->until && p->len >= 1200;
    rl->dropped += (uint64_t)drop;
    return drop;
}

/* The client's NAT rebinds (replies to the old port are dropped) and every answer to the
 * server's challenges on the new port is lost for the whole validation period (about 3 s: three
 * PTOs of a path without an RTT sample, ending at 4.18 s), while the client's acknowledgements
 * keep arriving there: the server must not go back to the old port (nobody is there) nor close,
 * but validate the new one again; the answers get through again at 4.2 s. */
static void rebind_responses_lost(sim *s, sim_result *r, uint64_t until)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    responses_lost rl = {.from = 1000 * SIM_MS, .until = until};
    sim_loss_cfg lc = {.filter = responses_filter, .filter_ud = &rl};
    sim_iface_append(s, ph.wifi, SIM_UP, &sim_loss_new(s, ph.wifi, SIM_UP, &lc)->n);
    sim_nat_rebind_port_at(s, ph.wifi_nat, 1000 * SIM_MS, 0);
    TRY(r, start_download(s, r, 16 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 10 * SIM_SEC, &xfer));
    SIM_CHECK(r, rl.dropped >= 2, "only %llu answers lost", (unsigned long long)rl.dropped);
    SIM_CHECK(r, count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, NULL) >= 1,
              "the new port was never validated");
    SIM_CHECK(r, count_events(s, SIM_SERVER, TERN_PATH_EV_ACTIVE, -1, NULL) == 1,
              "the server switched %zu times for one rebinding",
              count_events(s, SIM_SERVER, TERN_PATH_EV_ACTIVE, -1, NULL));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
    char extra[64];
    snprintf(extra, sizeof(extra), "%llu answers lost", (unsigned long long)rl.dropped);
    summarize(s, r, xfer, extra);
}

static void scn_nat_rebind_responses_lost(sim *s, sim_result *r)
{
    rebind_responses_lost(s, r, 4200 * SIM_MS);
}

/* The same, the answers lost until 5 s: 0.8 s into the second period, longer than three PTOs of
 * the path as its acknowledgements measured it (under 0.4 s). The second period is as long as the
 * first, so the server still validates the port the client sends from. */
static void scn_nat_rebind_responses_lost_long(sim *s, sim_result *r)
{
    rebind_responses_lost(s, r, 5000 * SIM_MS);
}

const sim_scenario sim_failover_scenarios[] = {
    {"receive_only_failover", "failover",
     "downloading client loses wifi: fails over to its validated cell path", 71,
     scn_receive_only_failover},
    {"failover_while_probing", "failover",
     "interface gone while the only alternative validates: moves when it does", 73,
     scn_failover_while_probing},
    {"failover_disabled", "failover", "failover = 0: the connection waits for the application", 74,
     scn_failover_disabled},
    {"switch_while_receiving", "failover",
     "wifi goes silent, the app moves a receive-only client to validated cell", 72,
     scn_switch_while_receiving},
    {"nat_rebind_lossy", "failover",
     "NAT moves the client's port 3 times under 3% loss and 5% reordering", 75,
     scn_nat_rebind_lossy, 8},
    {"path_rtts", "failover", "two paths of 20 and 80 ms: each keeps its own smoothed RTT", 76,
     scn_path_rtts},
    {"nat_rebind_responses_lost", "failover",
     "NAT rebinds, the answers to the server's challenges lost for a validation period", 77,
     scn_nat_rebind_responses_lost},
    {"nat_rebind_responses_lost_long", "failover",
     "NAT rebinds, the answers lost for a validation period and 0.8 s of the second", 177,
     scn_nat_rebind_responses_lost_long, 4},
};
