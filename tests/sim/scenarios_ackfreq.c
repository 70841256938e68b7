/* The ACK frequency suite (docs/ack-frequency.md): how many ACK frames a bulk receiver sends
 * under RFC 9000's rule, under its own bulk policy, and at the sender's request through
 * draft-ietf-quic-ack-frequency, with the transfer's virtual time compared in the same run; and
 * loss recovery with the extension on. Bytes and SHA-256 are checked in every transfer. */
#include <stdio.h>
#include <string.h>

#include "sim_node.h"
#include "sim_scenario.h"

#define MB (1024ull * 1024ull)
#define MBIT 1000000ull

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* 10 ms each way, `rate` bit/s, a queue of about two bandwidth-delay products at 50 Mbit/s. */
static int path(sim *s, uint64_t rate)
{
    sim_link_cfg l = {.rate_bps = rate, .delay_ns = 10 * SIM_MS, .jitter_ns = 500 * SIM_US,
                      .queue_bytes = 256 * 1024};
    return sim_add_iface(s, "wifi", "10.0.1.2:5000", &l, NULL);
}

enum { RFC, BULK, EXT };
static const char *const mode_name[] = {"RFC 9000 rule", "bulk policy", "ACK_FREQUENCY"};

static void set_mode(sim *s, int mode)
{
    tern_config *cf[2] = {&s->cfg_c, &s->cfg_s};
    for (int i = 0; i < 2; i++) {
        cf[i]->handshake_timeout_ms = 120000;
        cf[i]->idle_timeout_ms = 120000;
        cf[i]->ack_frequency = mode == EXT;
        if (mode == RFC)
            cf[i]->ack_bulk_after = 0;
    }
}

typedef struct xfer {
    uint64_t ns;                 /* request to the last byte */
    tern_conn_stats c, s;        /* client (the receiver), server */
} xfer;

/* Downloads `bytes` and checks them; the stats of both ends in *x. */
static void download(sim *s, sim_result *r, uint64_t bytes, xfer *x)
{
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 20 * SIM_SEC), "not connected");
    SIM_CHECK(r, sim_request(s, bytes) == 0, "request refused");
    uint64_t t0 = sim_time(s);
    int done = sim_run(s, sim_cond_all_done, 120 * SIM_SEC);
    x->ns = sim_time(s) - t0;
    char why[256];
    int ok = sim_verify(s, why, sizeof(why));
    SIM_CHECK(r, done && !s->client_done, "transfer unfinished after %.3f s", secs(x->ns));
    SIM_CHECK(r, ok, "%s", why);
    memset(&x->c, 0, sizeof(x->c));
    memset(&x->s, 0, sizeof(x->s));
    if (s->client)
        tern_conn_get_stats(s->client, &x->c);
    tern_conn *sc = sim_server_conn(s);
    if (sc)
        tern_conn_get_stats(sc, &x->s);
}

/* One transfer in a simulator of its own, same seed, same network. */
static void run_mode(sim *base, sim_result *r, int mode, uint64_t rate, uint64_t bytes, xfer *x)
{
    sim *s = sim_new(base->seed);
    SIM_CHECK(r, s != NULL, "simulator");
    path(s, rate);
    set_mode(s, mode);
    download(s, r, bytes, x);
    sim_free(s);
}

/* 16 MiB at 50 Mbit/s, 20 ms RTT, no loss, in the three modes. The receiver's ACK count must
 * fall by at least 3x with the bulk policy and the extension, and the transfer must not take
 * more than 3% longer (virtual time) than under RFC 9000's rule. */
static void scn_bulk_acks(sim *s, sim_result *r)
{
    xfer x[3];
    for (int m = RFC; m <= EXT; m++) {
        run_mode(s, r, m, 50 * MBIT, 16 * MB, &x[m]);
        if (!r->ok)
            return;
    }
    /* the simulator the harness made runs one more, unused */
    snprintf(r->summary, sizeof(r->summary),
             "16 MiB: ACKs %llu / %llu / %llu (RFC / bulk / extension), %.3f / %.3f / %.3f s, "
             "ACK_FREQUENCY %llu, IMMEDIATE_ACK %llu",
             (unsigned long long)x[RFC].c.acks_sent, (unsigned long long)x[BULK].c.acks_sent,
             (unsigned long long)x[EXT].c.acks_sent, secs(x[RFC].ns), secs(x[BULK].ns),
             secs(x[EXT].ns), (unsigned long long)x[EXT].s.ack_frequency_sent,
             (unsigned long long)x[EXT].s.immediate_ack_sent);
    for (int m = BULK; m <= EXT; m++) {
        SIM_CHECK(r, x[m].c.acks_sent * 3 <= x[RFC].c.acks_sent, "%s: %llu ACKs against %llu",
                  mode_name[m], (unsigned long long)x[m].c.acks_sent,
                  (unsigned long long)x[RFC].c.acks_sent);
        SIM_CHECK(r, x[m].ns <= x[RFC].ns + x[RFC].ns * 3 / 100, "%s: %.3f s against %.3f s",
                  mode_name[m], secs(x[m].ns), secs(x[RFC].ns));
    }
    SIM_CHECK(r, x[RFC].s.ack_frequency_sent == 0 && x[BULK].s.ack_frequency_sent == 0,
              "ACK_FREQUENCY without the extension");
    SIM_CHECK(r, x[EXT].s.ack_frequency_sent > 0, "no ACK_FREQUENCY sent");
    SIM_CHECK(r, x[EXT].c.ack_frequency_sent == 0, "the receiver asked for fewer ACKs");
    SIM_CHECK(r, x[RFC].c.acks_sent >= 16 * MB / 1500 / 2 - 100, "RFC: %llu ACKs",
              (unsigned long long)x[RFC].c.acks_sent);
}

/* 10 MB at 1% random loss each way with the extension on: complete and intact, in a time close
 * to RFC 9000's rule in the same run, and the sender's PTO probes ask for IMMEDIATE_ACKs. */
static void scn_loss_ext(sim *s, sim_result *r)
{
    xfer x[2];
    for (int k = 0; k < 2; k++) {
        sim *t = sim_new(s->seed);
        SIM_CHECK(r, t != NULL, "simulator");
        int i = path(t, 50 * MBIT);
        sim_loss_cfg c = {.rate = 0.01};
        for (int d = 0; d < 2; d++)
            sim_iface_append(t, i, d, &sim_loss_new(t, i, d, &c)->n);
        set_mode(t, k ? EXT : RFC);
        download(t, r, 10 * MB, &x[k]);
        sim_free(t);
        if (!r->ok)
            return;
    }
    snprintf(r->summary, sizeof(r->summary),
             "10 MB at 1%% loss: RFC %.3f s %llu ACKs %llu lost, extension %.3f s %llu ACKs %llu "
             "lost, ACK_FREQUENCY %llu, IMMEDIATE_ACK %llu",
             secs(x[0].ns), (unsigned long long)x[0].c.acks_sent,
             (unsigned long long)x[0].s.pkts_lost, secs(x[1].ns),
             (unsigned long long)x[1].c.acks_sent, (unsigned long long)x[1].s.pkts_lost,
             (unsigned long long)x[1].s.ack_frequency_sent,
             (unsigned long long)x[1].s.immediate_ack_sent);
    SIM_CHECK(r, x[1].s.ack_frequency_sent > 0, "no ACK_FREQUENCY sent");
    SIM_CHECK(r, x[1].ns <= x[0].ns + x[0].ns / 4, "extension %.3f s against %.3f s",
              secs(x[1].ns), secs(x[0].ns));
}

const sim_scenario sim_ackfreq_scenarios[] = {
    {"ackfreq_bulk", "ackfreq",
     "16 MiB: ACKs under RFC 9000's rule, the bulk policy and ACK_FREQUENCY; time within 3%", 81,
     scn_bulk_acks},
    {"ackfreq_loss", "ackfreq", "10 MB at 1% loss with ACK_FREQUENCY: intact, in time", 82,
     scn_loss_ext},
};
