/* The datagram suite: a phone-like client (wifi and cell, see sim_mig.h) sends a datagram
 * of 16..515 bytes every 10 ms, as a voice or game client would, and the server echoes each one
 * back, over lossy links, while the client moves from wifi to cell. Every scenario checks, per
 * datagram: its bytes (a pattern of its tag), that it arrived at most once and that its DATAGRAM
 * frame went on the wire exactly once (the client's qlog: never retransmitted), that it has exactly
 * one outcome (acknowledged or lost) and that every one that did not arrive was reported lost, and
 * that the datagrams around the switch were delivered as well as the loss rate allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dgramfx.h"
#include "sim_mig.h"

#define DG_MAX 2048 /* datagrams per run */
#define DG_EVERY (10 * SIM_MS)

typedef struct dg_run {
    uint64_t until;             /* run time the client stops sending at */
    uint64_t sent, echo_sent;   /* accepted by tern_conn_send_datagram */
    uint64_t sent_at[DG_MAX];   /* run time of each client datagram */
    uint8_t srv_seen[DG_MAX];   /* arrivals at the server per tag */
    uint8_t cli_seen[DG_MAX];   /* echoes arriving at the client per tag */
    uint8_t outcome[2][DG_MAX]; /* per side: 0 none, 1 acked, 2 lost, 3 more than one */
    uint64_t acked[2], lost[2];
    uint64_t bad; /* datagrams whose bytes did not match their tag */
    uint64_t send_errors;
    int last_error, last_error_who; /* what the latest refusal returned, and on which side */
    uint64_t qlog_frames;           /* DATAGRAM frames in the client's packet_sent records */
    uint64_t qlog_frames_sq;        /* the sum over those packets of (frames in it)^2 */
    tern_qlog_fn qlog_next;         /* the client's qlog sink before ours (tern-sim --qlog-dir) */
    void *qlog_next_ud;
} dg_run;

static size_t dg_len(uint64_t tag)
{
    return 16 + (size_t)(tag * 53 % 500);
}

static void dg_recv(sim *s, int who, tern_conn *c, const uint8_t *data, size_t len)
{
    dg_run *d = s->ud;
    uint64_t tag = 0;
    if (!dgramfx_parse(data, len, &tag) || tag >= DG_MAX || len != dg_len(tag)) {
        d->bad++;
        return;
    }
    if (who == SIM_CLIENT) {
        d->cli_seen[tag]++;
        return;
    }
    d->srv_seen[tag]++;
    int rv = tern_conn_send_datagram(c, data, len, tag);
    if (rv == 0) {
        d->echo_sent++;
    } else {
        d->send_errors++;
        d->last_error = rv;
        d->last_error_who = SIM_SERVER;
    }
}

static void dg_outcome(sim *s, int who, tern_conn *c, uint64_t tag, int acked)
{
    dg_run *d = s->ud;
    (void)c;
    if (tag >= DG_MAX)
        return;
    uint8_t *o = &d->outcome[who][tag];
    *o = *o ? 3 : acked ? 1 : 2;
    if (acked)
        d->acked[who]++;
    else
        d->lost[who]++;
}

static void dg_qlog(void *ud, tern_conn *c, const char *rec, size_t len)
{
    dg_run *d = ud;
    if (d->qlog_next)
        d->qlog_next(d->qlog_next_ud, c, rec, len);
    if (!strstr(rec, "\"name\":\"quic:packet_sent\""))
        return;
    uint64_t k = 0;
    for (const char *q = rec; (q = strstr(q, "\"frame_type\":\"datagram\"")) != NULL; q++)
        k++;
    d->qlog_frames += k;
    d->qlog_frames_sq += k * k;
}

static void act_send(sim *s, void *arg)
{
    dg_run *d = arg;
    if (sim_time(s) >= d->until || d->sent >= DG_MAX || s->client_done)
        return;
    uint8_t buf[2048];
    size_t len = dgramfx_make(d->sent, dg_len(d->sent), buf);
    int rv = tern_conn_send_datagram(s->client, buf, len, d->sent);
    if (rv == 0) {
        d->sent_at[d->sent] = sim_time(s);
        d->sent++;
    } else {
        d->send_errors++;
        d->last_error = rv;
        d->last_error_who = SIM_CLIENT;
    }
    sim_after(s, DG_EVERY, act_send, d, NULL);
}

static int cond_settled(sim *s)
{
    dg_run *d = s->ud;
    return sim_time(s) >= d->until && d->acked[0] + d->lost[0] == d->sent &&
           d->acked[1] + d->lost[1] == d->echo_sent;
}

/* Both sides take datagrams; the client's qlog counts DATAGRAM frames. */
static dg_run *dg_setup(sim *s, uint64_t until)
{
    dg_run *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    d->until = until;
    s->ud = d;
    s->cfg_c.max_datagram_frame_size = s->cfg_s.max_datagram_frame_size = 1500;
    sim_tap_client_qlog(s, dg_qlog, d, &d->qlog_next, &d->qlog_next_ud);
    s->on_datagram = dg_recv;
    s->on_datagram_outcome = dg_outcome;
    return d;
}

/* The per-datagram checks of every scenario; `loss` is the links' loss rate each way. */
static void dg_check(sim *s, sim_result *r, dg_run *d, double loss)
{
    SIM_CHECK(r, d->sent > 100, "only %llu datagrams sent", (unsigned long long)d->sent);
    SIM_CHECK(r, d->send_errors == 0, "%llu sends refused, the latest by the %s: %s",
              (unsigned long long)d->send_errors, sim_host_name[d->last_error_who],
              tern_strerror(d->last_error));
    SIM_CHECK(r, d->bad == 0, "%llu datagrams arrived altered", (unsigned long long)d->bad);
    SIM_CHECK(r, d->qlog_frames == d->sent, "%llu DATAGRAM frames sent for %llu datagrams",
              (unsigned long long)d->qlog_frames, (unsigned long long)d->sent);
    uint64_t arrived = 0, missing = 0;
    for (uint64_t t = 0; t < d->sent; t++) {
        SIM_CHECK(r, d->srv_seen[t] <= 1, "datagram %llu arrived %u times", (unsigned long long)t,
                  d->srv_seen[t]);
        SIM_CHECK(r, d->outcome[SIM_CLIENT][t] == 1 || d->outcome[SIM_CLIENT][t] == 2,
                  "datagram %llu has outcome %u", (unsigned long long)t, d->outcome[SIM_CLIENT][t]);
        if (d->outcome[SIM_CLIENT][t] == 1)
            SIM_CHECK(r, d->srv_seen[t] == 1, "datagram %llu acknowledged, never arrived",
                      (unsigned long long)t);
        if (!d->srv_seen[t]) {
            SIM_CHECK(r, d->outcome[SIM_CLIENT][t] == 2, "datagram %llu vanished unreported",
                      (unsigned long long)t);
            missing++;
        }
        arrived += d->srv_seen[t];
    }
    SIM_CHECK(r, d->acked[0] + d->lost[0] == d->sent, "client: %llu acked + %llu lost of %llu",
              (unsigned long long)d->acked[0], (unsigned long long)d->lost[0],
              (unsigned long long)d->sent);
    SIM_CHECK(r, d->echo_sent == arrived, "server echoed %llu of %llu",
              (unsigned long long)d->echo_sent, (unsigned long long)arrived);
    SIM_CHECK(r, d->acked[1] + d->lost[1] == d->echo_sent, "server: %llu acked + %llu lost of %llu",
              (unsigned long long)d->acked[1], (unsigned long long)d->lost[1],
              (unsigned long long)d->echo_sent);
    /* the stats say the same */
    tern_conn_stats sc;
    SIM_CHECK(r, tern_conn_get_stats(s->client, &sc) == 0, "stats");
    SIM_CHECK(r,
              sc.datagrams_sent == d->sent && sc.datagrams_acked == d->acked[0] &&
                  sc.datagrams_lost == d->lost[0] && sc.datagrams_dropped == 0,
              "client stats: sent %llu acked %llu lost %llu dropped %llu",
              (unsigned long long)sc.datagrams_sent, (unsigned long long)sc.datagrams_acked,
              (unsigned long long)sc.datagrams_lost, (unsigned long long)sc.datagrams_dropped);
    /* What went missing is what the links lost, with room for bursts: 4 standard deviations. A
     * packet is lost whole: when the window holds datagrams back they leave several to a packet
     * (2% loss on the 160 ms cell path shrinks the client's window to a few packets), so the
     * variance is that of the packets, loss * sum(frames per packet ^ 2), not loss * sent: a seed
     * lost 24 of 396 datagrams in 16 packets. */
    double want = loss * (double)d->sent, var = loss * (double)d->qlog_frames_sq;
    double dev = 4.0 * __builtin_sqrt(var > 1 ? var : 1) + 3;
    SIM_CHECK(r, (double)missing <= want + dev, "%llu of %llu missing at %.0f%% loss",
              (unsigned long long)missing, (unsigned long long)d->sent, loss * 100);
    SIM_CHECK(r, loss == 0 || missing > 0, "nothing lost on a lossy link");
    snprintf(r->summary, sizeof(r->summary),
             "%llu datagrams, %llu arrived, %llu lost (client %llu acked / %llu lost), %llu echoes "
             "back, %llu DATAGRAM frames sent",
             (unsigned long long)d->sent, (unsigned long long)arrived, (unsigned long long)missing,
             (unsigned long long)d->acked[0], (unsigned long long)d->lost[0],
             (unsigned long long)d->echo_sent, (unsigned long long)d->qlog_frames);
}

static void add_loss(sim *s, int iface, double rate)
{
    sim_loss_cfg lc = {.rate = rate};
    for (int dir = 0; dir < 2; dir++)
        sim_iface_append(s, iface, dir, &sim_loss_new(s, iface, dir, &lc)->n);
}

/* 2% loss each way on both networks; at 1.5 s the application switches to cell without probing
 * it first. Datagrams keep flowing on the active path: those sent in the second after the switch
 * are delivered as well as the loss allows, and none is lost to the switch itself. */
static void scn_datagram_migration(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    add_loss(s, ph.wifi, 0.02);
    add_loss(s, ph.cell, 0.02);
    dg_run *d = dg_setup(s, 4 * SIM_SEC);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    verb set = {.addr = cell};
    sim_at(s, 1500 * SIM_MS, act_set_active, &set, "client switches to cell");
    SIM_CHECK(r, sim_start(s) == 0, "start");
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 2 * SIM_SEC), "no handshake");
    sim_after(s, 0, act_send, d, "datagrams start");
    int settled = sim_run(s, cond_settled, 8 * SIM_SEC);
    TRY(r, dg_check(s, r, d, 0.02));
    SIM_CHECK(r, settled, "outcomes still pending at %.3f s", secs(sim_time(s)));
    SIM_CHECK(r, set.rv > 0, "set_active returned %d", set.rv);
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
    /* the second after the switch */
    uint64_t n = 0, got = 0;
    for (uint64_t t = 0; t < d->sent; t++)
        if (d->sent_at[t] >= set.at && d->sent_at[t] < set.at + SIM_SEC) {
            n++;
            got += d->srv_seen[t];
        }
    SIM_CHECK(r, n >= 90, "only %llu datagrams sent after the switch", (unsigned long long)n);
    SIM_CHECK(r, (double)got >= 0.93 * (double)n, "%llu of the %llu after the switch arrived",
              (unsigned long long)got, (unsigned long long)n);
    uint64_t echoes = 0;
    for (uint64_t t = 0; t < d->sent; t++)
        echoes += d->cli_seen[t];
    SIM_CHECK(r, (double)echoes >= 0.9 * (double)d->sent, "%llu echoes of %llu",
              (unsigned long long)echoes, (unsigned long long)d->sent);
    free(d);
    s->ud = NULL;
}

/* Lossless, no migration: every datagram and every echo arrives and is acknowledged. */
static void scn_datagram_clean(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    dg_run *d = dg_setup(s, 2 * SIM_SEC);
    SIM_CHECK(r, sim_start(s) == 0, "start");
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 2 * SIM_SEC), "no handshake");
    sim_after(s, 0, act_send, d, "datagrams start");
    int settled = sim_run(s, cond_settled, 4 * SIM_SEC);
    TRY(r, dg_check(s, r, d, 0));
    SIM_CHECK(r, settled, "outcomes still pending");
    SIM_CHECK(r, d->lost[0] == 0 && d->lost[1] == 0, "lost %llu / %llu on a clean path",
              (unsigned long long)d->lost[0], (unsigned long long)d->lost[1]);
    for (uint64_t t = 0; t < d->sent; t++)
        SIM_CHECK(r, d->cli_seen[t] == 1, "echo %llu arrived %u times", (unsigned long long)t,
                  d->cli_seen[t]);
    free(d);
    s->ud = NULL;
}

const sim_scenario sim_datagram_scenarios[SIM_DATAGRAM_SCENARIOS] = {
    {"datagram_clean", "datagram", "a datagram every 10 ms for 2 s, echoed, lossless", 81,
     scn_datagram_clean, 3},
    {"datagram_migration", "datagram",
     "a datagram every 10 ms, echoed, 2% loss, switch to cell at 1.5 s", 82, scn_datagram_migration,
     5},
};
