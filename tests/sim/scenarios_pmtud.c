/* The path MTU discovery suite: links whose MTU is 1280, 1500 or 9000 bytes (their interfaces
 * saying so, as the OS would), a link whose MTU drops in the middle of a transfer (black-hole
 * detection must bring the connection back within a bounded stall), and migrations from a
 * 1500-byte link to a 1280-byte one (no datagram may be lost to the old path's size) and to a
 * 9000-byte one (the new path must find and use jumbo datagrams). Each checks the downloaded
 * bytes and their SHA-256, a bound on virtual time, and the size the server's path ends at. */
#include <stdio.h>
#include <string.h>

#include "path.h"
#include "sim_mig.h"

/* UDP payloads of IPv4 links of these MTUs. */
#define UDP_1280 (1280 - 28)
#define UDP_1500 (1500 - 28)
#define UDP_9000 (9000 - 28)

typedef struct mtu_watch {
    int iface;  /* interface whose deliveries are watched (-1: any) */
    size_t big; /* datagrams above this size delivered to the client there */
    uint64_t n_big, n;
    uint64_t since;         /* gaps are measured from this time on (0: not yet) */
    uint64_t last, max_gap; /* between datagrams above 1000 bytes reaching the client */
    void *ud;               /* a scenario's own state */
} mtu_watch;

static void watch_recv(sim *s, const sim_pkt *p)
{
    mtu_watch *w = s->ud;
    if (w->iface >= 0 && p->iface != w->iface)
        return;
    w->n++;
    if (p->len > w->big)
        w->n_big++;
    if (p->len <= 1000 || !w->since || s->now < w->since)
        return;
    uint64_t from = w->last > w->since ? w->last : w->since;
    if (s->now - from > w->max_gap)
        w->max_gap = s->now - from;
    w->last = s->now;
}

static int add_link(sim *s, const char *name, const char *addr, size_t mtu, uint64_t delay_ns)
{
    sim_link_cfg l = {
        .rate_bps = 50 * MBIT, .delay_ns = delay_ns, .queue_bytes = 512 * 1024, .mtu = mtu};
    int i = sim_add_iface(s, name, addr, &l, NULL);
    if (i >= 0)
        s->ifaces[i].if_mtu = mtu; /* the host reports what its interface carries */
    return i;
}

/* The server's path through client interface `iface`, or -1. */
static int server_path(sim *s, int iface, tern_path_info *out)
{
    tern_conn *c = sim_server_conn(s);
    tern_path_info info[TERN_MAX_PATHS];
    size_t n = 0;
    if (!c || tern_conn_paths(c, info, TERN_MAX_PATHS, &n))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (sim_iface_for_dst(s, &info[i].addr.remote) == iface &&
            info[i].state != TERN_PATH_STATE_ABANDONED && info[i].state != TERN_PATH_STATE_FAILED) {
            *out = info[i];
            return 0;
        }
    return -1;
}

/* The server's path over `iface` uses `want`-byte datagrams, and so does the client's when
 * `client` (a client that sends only acknowledgements never learns that its size stopped
 * working: it has nothing large to lose). */
static void expect_mtu(sim *s, sim_result *r, int iface, size_t want, int client)
{
    tern_path_info pi;
    SIM_CHECK(r, server_path(s, iface, &pi) == 0, "no server path over %s", s->ifaces[iface].name);
    SIM_CHECK(r, pi.mtu == want, "server's path over %s: %llu-byte datagrams, the link carries %zu",
              s->ifaces[iface].name, (unsigned long long)pi.mtu, want);
    tern_path_info ci[TERN_MAX_PATHS];
    size_t n = 0;
    SIM_CHECK(r, tern_conn_paths(s->client, ci, TERN_MAX_PATHS, &n) == 0, "client paths");
    for (size_t i = 0; i < n; i++)
        if (client && sim_iface_by_ip(s, &ci[i].addr.local) == iface &&
            ci[i].state == TERN_PATH_STATE_ACTIVE)
            SIM_CHECK(r, ci[i].mtu == want, "client's path over %s: %llu-byte datagrams, not %zu",
                      s->ifaces[iface].name, (unsigned long long)ci[i].mtu, want);
}

/* One download over one link of `mtu` bytes of UDP payload, whose interface says `if_mtu`. */
static void one_link(sim *s, sim_result *r, size_t mtu, size_t if_mtu, uint64_t bound)
{
    s->cfg_c.max_udp_payload = s->cfg_s.max_udp_payload = UDP_9000;
    int i = add_link(s, "eth", WIFI_ADDR, mtu, 10 * SIM_MS);
    SIM_CHECK(r, i >= 0, "interface");
    s->ifaces[i].if_mtu = if_mtu;
    mtu_watch w = {.iface = -1, .big = mtu};
    s->ud = &w;
    s->on_client_recv = watch_recv;
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, bound, &xfer));
    TRY(r, expect_mtu(s, r, i, mtu, 1));
    tern_conn_stats ss;
    tern_conn_get_stats(sim_server_conn(s), &ss);
    SIM_CHECK(r, ss.mtu == mtu, "server stats: %llu", (unsigned long long)ss.mtu);
    /* nothing above the link's size was ever carried, and nothing but probes was lost to it */
    SIM_CHECK(r, w.n_big == 0, "%llu datagrams above %zu bytes delivered",
              (unsigned long long)w.n_big, mtu);
    SIM_CHECK(r, s->ifaces[i].link[SIM_DOWN]->mtu_dropped <= ss.mtu_probes_lost,
              "%llu datagrams dropped for their size, %llu probes lost",
              (unsigned long long)s->ifaces[i].link[SIM_DOWN]->mtu_dropped,
              (unsigned long long)ss.mtu_probes_lost);
    SIM_CHECK(r, ss.mtu_black_holes == 0, "black holes on a steady link");
    char extra[96];
    snprintf(extra, sizeof(extra), "mtu %llu, %llu probes (%llu lost)", (unsigned long long)ss.mtu,
             (unsigned long long)ss.mtu_probes_sent, (unsigned long long)ss.mtu_probes_lost);
    summarize(s, r, xfer, extra);
}

static void scn_mtu_1280(sim *s, sim_result *r)
{
    one_link(s, r, UDP_1280, UDP_1280, 2 * SIM_SEC);
}
static void scn_mtu_1500(sim *s, sim_result *r)
{
    one_link(s, r, UDP_1500, UDP_1500, 2 * SIM_SEC);
}
static void scn_mtu_9000(sim *s, sim_result *r)
{
    one_link(s, r, UDP_9000, UDP_9000, 2 * SIM_SEC);
}
/* A jumbo interface in front of a 1500-byte network: the search must find the path's size by
 * probing, 8972 bytes failing first (three probes lost), the candidates between halved after. */
static void scn_mtu_search(sim *s, sim_result *r)
{
    TRY(r, one_link(s, r, UDP_1500, UDP_9000, 2 * SIM_SEC));
    tern_conn_stats ss;
    tern_conn_get_stats(sim_server_conn(s), &ss);
    SIM_CHECK(r, ss.mtu_probes_lost >= 3 && ss.mtu_probes_sent <= 12, "%llu probes, %llu lost",
              (unsigned long long)ss.mtu_probes_sent, (unsigned long long)ss.mtu_probes_lost);
}

typedef struct mtu_drop {
    int iface;
    size_t mtu;
} mtu_drop;

static void act_mtu_drop(sim *s, void *arg)
{
    mtu_drop *d = arg;
    s->ifaces[d->iface].link[SIM_UP]->cfg.mtu = d->mtu;
    s->ifaces[d->iface].link[SIM_DOWN]->cfg.mtu = d->mtu;
    mtu_watch *w = s->ud;
    w->since = s->now;
}

/* Server log lines that report a black hole, and those that report its datagram size changing
 * (to the base size, among others). */
typedef struct bh_log {
    uint64_t black_holes, to_base;
} bh_log;

static void count_bh_log(void *ud, const char *line)
{
    bh_log *l = ud;
    char want[64];
    snprintf(want, sizeof(want), "no longer arrive: back to %d", TERN_PMTUD_BASE);
    l->black_holes += strstr(line, want) != NULL;
    snprintf(want, sizeof(want), "datagrams of %d bytes (were ", TERN_PMTUD_BASE);
    l->to_base += strstr(line, want) != NULL;
}

/* A 1500-byte link becomes a 1280-byte one in the middle of the download (a tunnel on the way,
 * a route change), the interface still saying 1500: the packets of the old size vanish while the
 * smaller PTO probes get through. The server's log says so once, and that its datagrams went
 * back to the base size. */
static void scn_mtu_blackhole(sim *s, sim_result *r)
{
    bh_log lg = {0, 0};
    s->cfg_s.log = count_bh_log;
    s->cfg_s.log_ud = &lg;
    s->cfg_c.max_udp_payload = s->cfg_s.max_udp_payload = UDP_9000;
    int i = add_link(s, "eth", WIFI_ADDR, UDP_1500, 20 * SIM_MS);
    SIM_CHECK(r, i >= 0, "interface");
    mtu_watch w = {.iface = -1, .big = UDP_1280};
    s->ud = &w;
    s->on_client_recv = watch_recv;
    mtu_drop d = {.iface = i, .mtu = UDP_1280};
    sim_at(s, 1500 * SIM_MS, act_mtu_drop, &d, "the link's MTU drops to 1280");
    TRY(r, start_download(s, r, 16 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 10 * SIM_SEC, &xfer));
    SIM_CHECK(r, w.since, "the MTU never dropped: the download was too short");
    TRY(r, expect_mtu(s, r, i, UDP_1280, 0));
    tern_conn_stats ss;
    tern_conn_get_stats(sim_server_conn(s), &ss);
    SIM_CHECK(r, ss.mtu_black_holes == 1, "%llu black holes",
              (unsigned long long)ss.mtu_black_holes);
    SIM_CHECK(r, lg.black_holes == 1 && lg.to_base >= 1,
              "server log: %llu black holes, %llu moves to the base size",
              (unsigned long long)lg.black_holes, (unsigned long long)lg.to_base);
    /* a PTO at the base size and its acknowledgement: well under a second at 40 ms */
    SIM_CHECK(r, w.max_gap <= 600 * SIM_MS, "data stalled %.3f s after the MTU dropped",
              secs(w.max_gap));
    char extra[96];
    snprintf(extra, sizeof(extra), "stall %.0f ms, mtu %llu", msecs(w.max_gap),
             (unsigned long long)ss.mtu);
    summarize(s, r, xfer, extra);
}

/* From a 1500-byte link to another of `to_mtu`, mid-download. */
static void migrate(sim *s, sim_result *r, size_t to_mtu)
{
    s->cfg_c.max_udp_payload = s->cfg_s.max_udp_payload = UDP_9000;
    int a = add_link(s, "eth", WIFI_ADDR, UDP_1500, 10 * SIM_MS);
    int b = add_link(s, "other", CELL_ADDR, to_mtu, 15 * SIM_MS);
    SIM_CHECK(r, a >= 0 && b >= 0, "interfaces");
    mtu_watch w = {.iface = b, .big = UDP_1500};
    s->ud = &w;
    s->on_client_recv = watch_recv;
    verb add = {.addr = iface_addr(s, b, 0)}, go = {.addr = iface_addr(s, b, 0)};
    sim_at(s, 500 * SIM_MS, act_add, &add, "client probes the other link");
    sim_at(s, 1000 * SIM_MS, act_set_active, &go, "client moves to the other link");
    TRY(r, start_download(s, r, 24 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 10 * SIM_SEC, &xfer));
    SIM_CHECK(r, go.done && go.rv >= 0, "the move failed: %d", go.rv);
    TRY(r, expect_mtu(s, r, b, to_mtu, 1));
    tern_conn_stats ss;
    tern_conn_get_stats(sim_server_conn(s), &ss);
    /* the new link dropped only probes for their size: no data was sent at the old path's MTU */
    tern_conn_stats cs;
    tern_conn_get_stats(s->client, &cs);
    uint64_t down = s->ifaces[b].link[SIM_DOWN]->mtu_dropped;
    uint64_t up = s->ifaces[b].link[SIM_UP]->mtu_dropped;
    SIM_CHECK(r, down <= ss.mtu_probes_lost && up <= cs.mtu_probes_lost,
              "datagrams dropped for their size on the new link: %llu (server's probes lost: "
              "%llu), %llu (client's: %llu)",
              (unsigned long long)down, (unsigned long long)ss.mtu_probes_lost,
              (unsigned long long)up, (unsigned long long)cs.mtu_probes_lost);
    SIM_CHECK(r, ss.mtu_black_holes == 0, "black holes");
    if (to_mtu > UDP_1500)
        SIM_CHECK(r, w.n_big > 100, "only %llu datagrams above 1472 bytes on the jumbo link",
                  (unsigned long long)w.n_big);
    else
        SIM_CHECK(r, w.n_big == 0, "datagrams above the link's size");
    char extra[96];
    snprintf(extra, sizeof(extra), "%llu of %llu datagrams above 1472 B on the new link",
             (unsigned long long)w.n_big, (unsigned long long)w.n);
    summarize(s, r, xfer, extra);
}

static void scn_migrate_to_1280(sim *s, sim_result *r)
{
    migrate(s, r, UDP_1280);
}
static void scn_migrate_to_9000(sim *s, sim_result *r)
{
    migrate(s, r, UDP_9000);
}

/* What the mtu_migrate_answer_lost scenario loses on the new link: on its uplink, the client's
 * datagrams of 1200 bytes or more (its padded PATH_CHALLENGE and PATH_RESPONSE frames, its PMTU
 * probes) after the first, until `until`; on its downlink, everything the server sends from 1 ms
 * after it validated the path for `tail_ns` (a receiver's socket buffer overflowing under a
 * burst). */
typedef struct answer_loss {
    uint64_t until, tail_ns;
    unsigned seen;
    uint64_t dropped, valid_at, tail_dropped;
    uint64_t cwnd_at_valid; /* the server's window when the new path validated */
} answer_loss;

static int answer_filter(sim *s, const sim_pkt *p, void *ud)
{
    answer_loss *al = ud;
    if (p->len < 1200 || sim_time(s) >= al->until || ++al->seen <= 1)
        return 0;
    al->dropped++;
    return 1;
}

static int tail_filter(sim *s, const sim_pkt *p, void *ud)
{
    (void)p;
    answer_loss *al = ud;
    int drop = al->valid_at && sim_time(s) >= al->valid_at + SIM_MS &&
               sim_time(s) < al->valid_at + SIM_MS + al->tail_ns;
    al->tail_dropped += (uint64_t)drop;
    return drop;
}

static void answer_on_event(sim *s, int who, const sim_path_ev *e)
{
    answer_loss *al = ((mtu_watch *)s->ud)->ud;
    if (who == SIM_SERVER && e->type == TERN_PATH_EV_VALIDATED && !al->valid_at && e->id != 0) {
        al->valid_at = sim_time(s);
        tern_conn_stats st;
        tern_conn_get_stats(sim_server_conn(s), &st);
        al->cwnd_at_valid = st.cwnd;
    }
}

/* A client on a jumbo LAN (0.1 ms RTT, 9000-byte links, as on loopback) moves to a second one in
 * the middle of a download, 30 ms in, while the server is still in slow start. Its own challenge
 * there gets through, but its answer to the server's challenge is lost: the server follows the
 * client at once and, amplification-limited until its challenge is answered (0.6 s later), sends
 * what three times the client's small acknowledgements allow. Those packets are acknowledged and
 * must not grow the window, which they do not fill (RFC 9002 §7.8). Once the path validates, the
 * server sends its window at the path's first size (1200 bytes), learns the link's jumbo size,
 * and the link loses everything for 20 ms from 1 ms on. The server's records of what is in flight
 * are bounded by its window in datagrams: counted in jumbo datagrams, the 1200-byte packets in
 * flight exceeded the bound, the PTO probe could not be recorded and so was never sent, and the
 * download stopped until the idle timeout. */
static void scn_migrate_jumbo_answer_lost(sim *s, sim_result *r)
{
    s->cfg_c.max_udp_payload = s->cfg_s.max_udp_payload = UDP_9000;
    sim_link_cfg la = {.rate_bps = 1000 * MBIT, .delay_ns = 50 * SIM_US,
                       .queue_bytes = 16 * MB, .mtu = UDP_9000};
    int a = sim_add_iface(s, "lo1", WIFI_ADDR, &la, NULL);
    int b = sim_add_iface(s, "lo2", CELL_ADDR, &la, NULL);
    SIM_CHECK(r, a >= 0 && b >= 0, "interfaces");
    s->ifaces[a].if_mtu = s->ifaces[b].if_mtu = UDP_9000;
    s->cfg_c.idle_timeout_ms = s->cfg_s.idle_timeout_ms = 5000;
    const uint64_t move_at = 30 * SIM_MS;
    answer_loss al = {.until = move_at + 600 * SIM_MS, .tail_ns = 20 * SIM_MS};
    mtu_watch w = {.iface = b, .big = UDP_1500, .ud = &al};
    s->ud = &w;
    s->on_client_recv = watch_recv;
    s->on_path_event = answer_on_event;
    sim_loss_cfg up = {.filter = answer_filter, .filter_ud = &al};
    sim_iface_append(s, b, SIM_UP, &sim_loss_new(s, b, SIM_UP, &up)->n);
    sim_loss_cfg down = {.filter = tail_filter, .filter_ud = &al};
    sim_iface_append(s, b, SIM_DOWN, &sim_loss_new(s, b, SIM_DOWN, &down)->n);
    verb go = {.addr = iface_addr(s, b, 0)};
    sim_at(s, move_at, act_set_active, &go, "client moves to the second link");
    TRY(r, start_download(s, r, 64 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 4 * SIM_SEC, &xfer));
    SIM_CHECK(r, go.done && go.rv >= 0, "the move failed: %d", go.rv);
    SIM_CHECK(r, al.dropped >= 1, "no answer lost");
    SIM_CHECK(r, al.valid_at > move_at + 500 * SIM_MS, "the server validated the path at %.3f s",
              secs(al.valid_at));
    SIM_CHECK(r, al.tail_dropped > 0, "nothing lost after the validation");
    /* the initial window, and what the few packets sent before the limit held grew it by */
    SIM_CHECK(r, al.cwnd_at_valid <= 48 * 1024,
              "the window grew to %llu B on packets the amplification limit held back",
              (unsigned long long)al.cwnd_at_valid);
    char extra[128];
    snprintf(extra, sizeof(extra),
             "%llu answers and %llu datagrams after validation lost, window %llu B then",
             (unsigned long long)al.dropped, (unsigned long long)al.tail_dropped,
             (unsigned long long)al.cwnd_at_valid);
    summarize(s, r, xfer, extra);
}

const sim_scenario sim_pmtud_scenarios[] = {
    {"mtu_1280", "pmtud", "8 MB over a 1280-byte link: 1252-byte datagrams found", 91,
     scn_mtu_1280},
    {"mtu_1500", "pmtud", "8 MB over a 1500-byte link: 1472-byte datagrams found", 92,
     scn_mtu_1500},
    {"mtu_9000", "pmtud", "8 MB over a 9000-byte link: 8972-byte datagrams found", 93,
     scn_mtu_9000},
    {"mtu_search", "pmtud",
     "8 MB, a 9000-byte interface in front of a 1500-byte path: the search finds 1472", 97,
     scn_mtu_search},
    {"mtu_blackhole", "pmtud",
     "the link's MTU drops from 1500 to 1280 mid-transfer: black hole found, short stall", 94,
     scn_mtu_blackhole},
    {"mtu_migrate_to_1280", "pmtud",
     "moving from a 1500-byte link to a 1280-byte one loses nothing to the old size", 95,
     scn_migrate_to_1280},
    {"mtu_migrate_to_9000", "pmtud",
     "moving from a 1500-byte link to a 9000-byte one: the new path finds jumbo datagrams", 96,
     scn_migrate_to_9000},
    {"mtu_migrate_answer_lost", "pmtud",
     "jumbo LAN, the answer to the server's challenge on the new link lost: no stall after", 98,
     scn_migrate_jumbo_answer_lost},
};
