/* The ECN suite (RFC 9000 §13.4, RFC 9002 §7.1): a bottleneck whose queue marks CE above a
 * threshold, against the same queue without ECN; networks that bleach the marks, rewrite them to
 * ECT(1) or to CE; and a migration to a network that bleaches, where only that path gives ECN up.
 * Every scenario downloads and checks the bytes and their hash, and the server logs its verdicts
 * (a path validated or given up, and why) and each window reduction from CE. */
#include <stdio.h>
#include <string.h>

#include "conn_test.h"
#include "sim_mig.h"

/* Lines of the server's log that contain `want`, counted (its ECN verdicts and CE reactions are
 * logged as they happen). */
typedef struct log_count {
    const char *want[2];
    uint64_t n[2];
} log_count;

static void count_log(void *ud, const char *line)
{
    log_count *l = ud;
    for (int i = 0; i < 2; i++)
        if (l->want[i] && strstr(line, l->want[i]))
            l->n[i]++;
}

static void watch_server_log(sim *s, log_count *l)
{
    s->cfg_s.log = count_log;
    s->cfg_s.log_ud = l;
}

/* The path info of c's path whose client-side address has the IP of `client_ip` (for the server:
 * the client's public address through its NAT). Returns 0 or -1. */
static int path_of(sim *s, tern_conn *c, int who, const tern_addr *client_ip, tern_path_info *out)
{
    tern_path_info info[TERN_MAX_PATHS];
    size_t n = 0;
    tern_addr want = *client_ip;
    if (who == SIM_SERVER && public_of(s, client_ip, &want))
        return -1;
    if (!c || tern_conn_paths(c, info, TERN_MAX_PATHS, &n))
        return -1;
    int found = -1;
    for (size_t i = 0; i < n && i < TERN_MAX_PATHS; i++) {
        const tern_addr *a = who == SIM_CLIENT ? &info[i].addr.local : &info[i].addr.remote;
        if (!tern_addr_same_ip(a, &want))
            continue;
        /* the newest path to that address: a returning client may get a new one */
        if (found < 0 || info[i].id > info[found].id)
            found = (int)i;
    }
    if (found < 0)
        return -1;
    *out = info[found];
    return 0;
}

static tern_conn_stats server_stats(sim *s)
{
    tern_conn_stats st;
    memset(&st, 0, sizeof(st));
    if (sim_server_conn(s))
        tern_conn_get_stats(sim_server_conn(s), &st);
    return st;
}

/* ---- CE marking at a bottleneck ----------------------------------------------------------------
 */

#define Q_RATE (20 * MBIT)
#define Q_BYTES (64 * 1024)    /* drop-tail limit: about 26 ms of the link */
#define Q_CE_BYTES (32 * 1024) /* the marking threshold, half of it (13 ms) */
#define Q_DOWNLOAD (6 * MB)

typedef struct queue_run {
    uint64_t xfer_ns, queue_drops, ce_marked, max_qbytes;
    tern_conn_stats ss, cs;
    log_count log; /* [0]: window reductions from CE, [1]: ECN validated */
} queue_run;

/* A 20 Mbit/s, 30 ms RTT download through a drop-tail queue that marks CE from Q_CE_BYTES queued
 * on (which only ECN-capable packets can get), with ECN on or off at both ends. */
static void queue_download(sim *s, sim_result *r, int ecn, queue_run *q)
{
    sim_link_cfg up = {.rate_bps = 100 * MBIT, .delay_ns = 15 * SIM_MS};
    sim_link_cfg down = {.rate_bps = Q_RATE,
                         .delay_ns = 15 * SIM_MS,
                         .jitter_ns = 200 * SIM_US,
                         .queue_bytes = Q_BYTES,
                         .ce_bytes = Q_CE_BYTES};
    int i = sim_add_iface(s, "wifi", WIFI_ADDR, &up, &down);
    s->cfg_c.ecn = s->cfg_s.ecn = ecn;
    q->log.want[0] = "CE marks, window reduced to";
    q->log.want[1] = " -> capable";
    watch_server_log(s, &q->log);
    TRY(r, start_download(s, r, Q_DOWNLOAD));
    TRY(r, finish_download(s, r, 20 * SIM_SEC, &q->xfer_ns));
    sim_link *l = s->ifaces[i].link[SIM_DOWN];
    q->queue_drops = l->n.dropped;
    q->ce_marked = l->ce_marked;
    q->max_qbytes = l->max_qbytes;
    q->ss = server_stats(s);
    tern_conn_get_stats(s->client, &q->cs);
}

/* The same download with and without ECN, through the same queue: with CE marks the server backs
 * off before the queue overflows, so it loses (and resends) a fraction of what drop-tail costs it,
 * and the transfer takes no longer. */
static void scn_ce_queue(sim *s, sim_result *r)
{
    queue_run on = {0}, off = {0};
    TRY(r, queue_download(s, r, 1, &on));
    sim *o = sim_new(s->seed);
    SIM_CHECK(r, o != NULL, "second simulator");
    sim_result ro;
    memset(&ro, 0, sizeof(ro));
    ro.ok = 1;
    queue_download(o, &ro, 0, &off);
    sim_free(o);
    SIM_CHECK(r, ro.ok, "without ECN: %s", ro.why);
    snprintf(r->summary, sizeof(r->summary),
             "ECN: %.3f s, %llu CE marks, %llu reductions from CE, %llu queue drops, server lost "
             "%llu, resent %llu B; without: %.3f s, %llu drops, lost %llu, resent %llu B",
             secs(on.xfer_ns), (unsigned long long)on.ce_marked,
             (unsigned long long)on.ss.ecn_ce_reductions, (unsigned long long)on.queue_drops,
             (unsigned long long)on.ss.pkts_lost, (unsigned long long)on.ss.stream_bytes_resent,
             secs(off.xfer_ns), (unsigned long long)off.queue_drops,
             (unsigned long long)off.ss.pkts_lost, (unsigned long long)off.ss.stream_bytes_resent);
    /* the marks were made, counted by the client, reported and answered */
    SIM_CHECK(r, on.ce_marked > 0, "the queue marked nothing");
    SIM_CHECK(r, on.cs.ecn_recv_ce > 0 && on.cs.ecn_recv_ce <= on.ce_marked,
              "client counted %llu CE of %llu marked", (unsigned long long)on.cs.ecn_recv_ce,
              (unsigned long long)on.ce_marked);
    SIM_CHECK(r, on.ss.ecn_ce > 0, "server heard of no CE mark");
    SIM_CHECK(r, on.ss.ecn_ce_reductions > 0, "no window reduction from CE");
    /* and said so in the log, once per reduction, after the path validated */
    SIM_CHECK(r, on.log.n[0] == on.ss.ecn_ce_reductions, "%llu reductions logged of %llu",
              (unsigned long long)on.log.n[0], (unsigned long long)on.ss.ecn_ce_reductions);
    SIM_CHECK(r, on.log.n[1] == 1, "ECN validated %llu times in the log",
              (unsigned long long)on.log.n[1]);
    SIM_CHECK(r, off.log.n[0] == 0 && off.log.n[1] == 0, "ECN off, yet logged");
    SIM_CHECK(r, on.ss.ecn_state == TERN_ECN_STATE_CAPABLE, "server path ECN state %llu",
              (unsigned long long)on.ss.ecn_state);
    SIM_CHECK(r, on.ss.ecn_sent > 1000, "server marked %llu packets",
              (unsigned long long)on.ss.ecn_sent);
    /* without ECN nothing is marked, and only drops slow the sender */
    SIM_CHECK(r, off.ce_marked == 0 && off.ss.ecn_sent == 0 && off.ss.ecn_ce == 0,
              "ECN off: %llu marked, %llu sent ECT", (unsigned long long)off.ce_marked,
              (unsigned long long)off.ss.ecn_sent);
    SIM_CHECK(r, off.ss.ecn_state == TERN_ECN_STATE_OFF, "ECN off: state %llu",
              (unsigned long long)off.ss.ecn_state);
    SIM_CHECK(r, off.queue_drops > 0, "without ECN the queue never overflowed");
    /* a quarter fewer at least: what is left with ECN comes from slow start's overshoot before
     * the first CE mark returns */
    SIM_CHECK(r, on.queue_drops * 4 <= off.queue_drops * 3,
              "queue drops with ECN %llu, without %llu: not a quarter fewer",
              (unsigned long long)on.queue_drops, (unsigned long long)off.queue_drops);
    SIM_CHECK(r, on.ss.pkts_lost * 4 <= off.ss.pkts_lost * 3,
              "server losses with ECN %llu, without %llu: not a quarter fewer",
              (unsigned long long)on.ss.pkts_lost, (unsigned long long)off.ss.pkts_lost);
    SIM_CHECK(r, on.ss.stream_bytes_resent < off.ss.stream_bytes_resent,
              "resent with ECN %llu B, without %llu B",
              (unsigned long long)on.ss.stream_bytes_resent,
              (unsigned long long)off.ss.stream_bytes_resent);
    SIM_CHECK(r, on.xfer_ns <= off.xfer_ns * 11 / 10, "with ECN %.3f s, without %.3f s",
              secs(on.xfer_ns), secs(off.xfer_ns));
}

/* ---- networks that interfere with the marks -------------------------------------------------- */

/* A 20 ms, 50 Mbit/s path whose server-to-client direction rewrites marks as `mode` says. The
 * server's path gives ECN up for `why`, marks nothing more, reacts to no CE, and the download
 * completes as fast as without ECN would allow (bound). */
static void interfered(sim *s, sim_result *r, int mode, int why)
{
    sim_link_cfg l = {.rate_bps = 50 * MBIT, .delay_ns = 10 * SIM_MS, .queue_bytes = 256 * 1024};
    int i = sim_add_iface(s, "wifi", WIFI_ADDR, &l, NULL);
    uint64_t changed = 0;
    sim_iface_append(s, i, SIM_DOWN, sim_ecn_new(s, i, SIM_DOWN, mode, &changed));
    /* the verdict as the log says it: the state it left, failed, and why */
    char verdict[64];
    snprintf(verdict, sizeof(verdict), " -> failed, %s", tern_ecn_failure_str(why));
    log_count lg = {{verdict, "CE marks, window reduced"}, {0, 0}};
    watch_server_log(s, &lg);
    TRY(r, start_download(s, r, 4 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 3 * SIM_SEC, &xfer));
    tern_conn_stats ss = server_stats(s);
    tern_conn_stats cs;
    tern_conn_get_stats(s->client, &cs);
    char extra[160];
    snprintf(extra, sizeof(extra), "%llu marks rewritten, server ECN %s (%s) after %llu marked",
             (unsigned long long)changed, tern_ecn_state_str((int)ss.ecn_state),
             tern_ecn_failure_str(why), (unsigned long long)ss.ecn_sent);
    summarize(s, r, xfer, extra);
    tern_path_info sp;
    SIM_CHECK(r, path_of(s, sim_server_conn(s), SIM_SERVER, &s->ifaces[i].addr, &sp) == 0,
              "no server path");
    SIM_CHECK(r, sp.ecn_state == TERN_ECN_STATE_FAILED && sp.ecn_failure == why,
              "server path ECN %s/%s, expected failed/%s", tern_ecn_state_str(sp.ecn_state),
              tern_ecn_failure_str(sp.ecn_failure), tern_ecn_failure_str(why));
    /* the test (at most 10 recorded packets, plus what shared their datagrams) is all it marked */
    SIM_CHECK(r, ss.ecn_sent > 0 && ss.ecn_sent <= 40, "server marked %llu packets",
              (unsigned long long)ss.ecn_sent);
    SIM_CHECK(r, ss.ecn_ce_reductions == 0, "%llu reductions from rewritten marks",
              (unsigned long long)ss.ecn_ce_reductions);
    SIM_CHECK(r, lg.n[0] == 1 && lg.n[1] == 0, "server log: %llu \"%s\", %llu CE reductions",
              (unsigned long long)lg.n[0], verdict, (unsigned long long)lg.n[1]);
    SIM_CHECK(r, changed > 0 && changed <= ss.ecn_sent, "%llu rewritten of %llu marked",
              (unsigned long long)changed, (unsigned long long)ss.ecn_sent);
    /* the other direction is untouched: the client's own marks validate */
    tern_path_info cp;
    SIM_CHECK(r, path_of(s, s->client, SIM_CLIENT, &s->ifaces[i].addr, &cp) == 0, "no client path");
    SIM_CHECK(r, cp.ecn_state == TERN_ECN_STATE_CAPABLE, "client path ECN %s",
              tern_ecn_state_str(cp.ecn_state));
}

static void scn_bleach(sim *s, sim_result *r)
{
    /* nothing arrives marked: the client acknowledges without ECN counts */
    interfered(s, r, SIM_ECN_BLEACH, TERN_ECN_FAIL_NO_COUNTS);
}

static void scn_to_ect1(sim *s, sim_result *r)
{
    interfered(s, r, SIM_ECN_TO_ECT1, TERN_ECN_FAIL_ECT1);
}

static void scn_to_ce(sim *s, sim_result *r)
{
    interfered(s, r, SIM_ECN_TO_CE, TERN_ECN_FAIL_REMARKED_CE);
}

/* ---- migration ---------------------------------------------------------------------------------
 */

/* Downloading on wifi (capable), the client moves to cell, which bleaches both ways, then back to
 * wifi. Each new path validates ECN anew: cell fails (bleached) at both ends while wifi stays or
 * becomes capable again, and marks go out on wifi after the return. */
static void scn_migrate_bleach(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    uint64_t changed = 0;
    for (int d = 0; d < 2; d++)
        sim_iface_append(s, ph.cell, d, sim_ecn_new(s, ph.cell, d, SIM_ECN_BLEACH, &changed));
    tern_addr cell = iface_addr(s, ph.cell, 0), wifi = iface_addr(s, ph.wifi, 0);
    verb to_cell = {.addr = cell}, to_wifi = {.addr = wifi};
    sim_at(s, 1 * SIM_SEC, act_set_active, &to_cell, "client moves to cell");
    sim_at(s, 2500 * SIM_MS, act_set_active, &to_wifi, "client moves back to wifi");
    TRY(r, start_download(s, r, 24 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 12 * SIM_SEC, &xfer));
    SIM_CHECK(r, to_cell.rv >= 0 && to_wifi.rv >= 0, "set_active returned %d, %d", to_cell.rv,
              to_wifi.rv);
    tern_path_info sw, sc, cw, cc;
    tern_conn *srv = sim_server_conn(s);
    SIM_CHECK(r, path_of(s, srv, SIM_SERVER, &wifi, &sw) == 0, "no server path to wifi");
    SIM_CHECK(r, path_of(s, srv, SIM_SERVER, &cell, &sc) == 0, "no server path to cell");
    SIM_CHECK(r, path_of(s, s->client, SIM_CLIENT, &wifi, &cw) == 0, "no client wifi path");
    SIM_CHECK(r, path_of(s, s->client, SIM_CLIENT, &cell, &cc) == 0, "no client cell path");
    char extra[200];
    snprintf(extra, sizeof(extra),
             "server ECN wifi %s (%llu marked), cell %s/%s (%llu marked); client wifi %s, cell %s",
             tern_ecn_state_str(sw.ecn_state), (unsigned long long)sw.ecn_sent,
             tern_ecn_state_str(sc.ecn_state), tern_ecn_failure_str(sc.ecn_failure),
             (unsigned long long)sc.ecn_sent, tern_ecn_state_str(cw.ecn_state),
             tern_ecn_state_str(cc.ecn_state));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, sc.ecn_state == TERN_ECN_STATE_FAILED && sc.ecn_failure == TERN_ECN_FAIL_BLEACHED,
              "server cell path ECN %s/%s", tern_ecn_state_str(sc.ecn_state),
              tern_ecn_failure_str(sc.ecn_failure));
    SIM_CHECK(r, cc.ecn_state == TERN_ECN_STATE_FAILED, "client cell path ECN %s",
              tern_ecn_state_str(cc.ecn_state));
    SIM_CHECK(r, sw.ecn_state == TERN_ECN_STATE_CAPABLE, "server wifi path ECN %s",
              tern_ecn_state_str(sw.ecn_state));
    SIM_CHECK(r, cw.ecn_state == TERN_ECN_STATE_CAPABLE, "client wifi path ECN %s",
              tern_ecn_state_str(cw.ecn_state));
    SIM_CHECK(r, sc.ecn_sent <= 40, "server marked %llu packets on cell",
              (unsigned long long)sc.ecn_sent);
    SIM_CHECK(r, sw.ecn_sent > 1000, "server marked %llu packets on wifi",
              (unsigned long long)sw.ecn_sent);
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

const sim_scenario sim_ecn_scenarios[] = {
    {"ecn_ce_queue", "ecn",
     "6 MiB through a 20 Mbit/s queue marking CE: fewer drops and losses than without ECN", 71,
     scn_ce_queue},
    {"ecn_bleach", "ecn", "marks cleared on the way: the path gives ECN up (bleached)", 72,
     scn_bleach},
    {"ecn_to_ect1", "ecn", "ECT(0) rewritten to ECT(1): the path gives ECN up", 73, scn_to_ect1},
    {"ecn_to_ce", "ecn", "every mark rewritten to CE: the path gives ECN up, no window collapse",
     74, scn_to_ce},
    {"ecn_migrate_bleach", "ecn",
     "wifi to a bleaching cell and back: ECN off on cell only, wifi capable", 75,
     scn_migrate_bleach},
};
