/* Migration as the wire shows it, in the migration group: the packet-number length a client uses
 * while it sends on two paths and after it dropped one, and the late packets of a path the client
 * left, which arrive after its RETIRE_CONNECTION_ID for that path. The same phone network as
 * scenarios_migration.c (sim_mig.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "sim_mig.h"

/* ---- packet-number length ---------------------------------------------------------------------
 */

#define PNL_MAX 16384

typedef struct pnl_pkt {
    uint64_t t;
    uint8_t path, pn_len, retire;
} pnl_pkt;

static pnl_pkt pnl_buf[PNL_MAX]; /* one run at a time; too large for the stack */

typedef struct pnl_run {
    pnl_pkt *pkt;
    size_t n, dropped;
    tern_qlog_fn next; /* the client's qlog sink before ours (tern-sim --qlog-dir) */
    void *next_ud;
    sim *s;
    verb add, set, rm;
    size_t n_at_remove; /* packets recorded before the removal */
} pnl_run;

/* Every 1-RTT packet the client sends: when, on which path, its packet-number length, and
 * whether it carries a RETIRE_CONNECTION_ID. */
static void pnl_qlog(void *ud, tern_conn *c, const char *rec, size_t len)
{
    pnl_run *p = ud;
    if (p->next)
        p->next(p->next_ud, c, rec, len);
    if (!strstr(rec, "\"name\":\"quic:packet_sent\"") || !strstr(rec, "\"packet_type\":\"1RTT\""))
        return;
    const char *l = strstr(rec, "\"packet_number_length\":"), *tu = strstr(rec, "\"tuple\":\"");
    if (!l || !tu)
        return;
    if (p->n == PNL_MAX) {
        p->dropped++;
        return;
    }
    pnl_pkt *k = &p->pkt[p->n++];
    k->t = sim_time(p->s);
    k->pn_len = (uint8_t)atoi(l + strlen("\"packet_number_length\":"));
    k->path = (uint8_t)atoi(tu + strlen("\"tuple\":\""));
    k->retire = strstr(rec, "\"frame_type\":\"retire_connection_id\"") != NULL;
}

static void pnl_remove(sim *s, void *arg)
{
    pnl_run *p = arg;
    p->n_at_remove = p->n;
    act_remove(s, &p->rm);
}

static void pnl_on_event(sim *s, int who, const sim_path_ev *e)
{
    pnl_run *p = s->ud;
    if (who == SIM_CLIENT && e->type == TERN_PATH_EV_VALIDATED && !p->set.done &&
        tern_addr_equal(&e->addr.local, &p->set.addr)) {
        sim_after(s, 0, act_set_active, &p->set, "client switches to cell");
        sim_after(s, 30 * SIM_MS, pnl_remove, p, "client removes wifi");
    }
}

/* RFC 9000 §17.1 lets a sender shorten a packet number to twice its distance from the largest
 * acknowledged, which assumes packets arrive roughly in order. The client probes cell, moves
 * there once it answers and removes wifi 30 ms later. Its packets carry 4-byte numbers exactly
 * while it sends on both paths (from its first datagram on cell to its last on wifi: packets of
 * one path can arrive after many sent later on the other), short ones before, and short ones
 * again from the first packet after the removal, before or with its RETIRE_CONNECTION_ID for
 * wifi: what it sends then follows, on one path, everything older it sent there, and older
 * packets still in flight on wifi carried four bytes (docs/migration.md; the capture test checks
 * the same window on a real kernel). */
static void scn_pn_length_migration(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    pnl_run run = {.pkt = pnl_buf, .s = s}, *p = &run;
    /* the client's packets are mostly ACKs: RFC 9000's one per two packets keeps enough of them
     * in each phase to judge their packet number lengths by */
    s->cfg_c.ack_bulk_after = 0;
    s->cfg_s.ack_frequency = 0;
    sim_tap_client_qlog(s, pnl_qlog, p, &p->next, &p->next_ud);
    s->ud = p;
    s->on_path_event = pnl_on_event;
    p->add.addr = p->set.addr = iface_addr(s, ph.cell, 0);
    p->rm.addr = iface_addr(s, ph.wifi, 0);
    sim_at(s, 300 * SIM_MS, act_add, &p->add, "client probes cell");
    TRY(r, start_download(s, r, 4 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 5 * SIM_SEC, &xfer));
    SIM_CHECK(r, p->add.rv > 0 && p->set.rv >= 0 && p->rm.done && p->rm.rv == 0,
                   "add %d, set_active %d, remove %d (done %d)", p->add.rv, p->set.rv, p->rm.rv,
                   p->rm.done);
    SIM_CHECK(r, p->dropped == 0 && p->n > 0, "%zu packets recorded, %zu not", p->n,
                   p->dropped);
    uint8_t old = p->pkt[0].path, neu = (uint8_t)p->add.rv;
    uint64_t first_new = UINT64_MAX, last_old = 0;
    size_t first_retire = p->n;
    for (size_t i = 0; i < p->n; i++) {
        if (p->pkt[i].path == neu && first_new == UINT64_MAX)
            first_new = p->pkt[i].t;
        if (p->pkt[i].path == old)
            last_old = p->pkt[i].t;
        if (p->pkt[i].retire && first_retire == p->n)
            first_retire = i;
    }
    SIM_CHECK(r, first_new < last_old && last_old <= p->rm.at && first_retire >= p->n_at_remove &&
                     first_retire < p->n,
              "cell from %.3f s, wifi until %.3f s, removed at %.3f s (packet %zu), RETIRE in "
              "packet %zu", secs(first_new), secs(last_old), secs(p->rm.at), p->n_at_remove,
              first_retire);
    size_t before = 0, both = 0, after = 0, long_before = 0, short_both = 0, long_after = 0;
    for (size_t i = 0; i < p->n; i++) {
        const pnl_pkt *k = &p->pkt[i];
        if (i >= p->n_at_remove) {
            after++;
            long_after += k->pn_len == 4;
        } else if (k->t < first_new) {
            before++;
            long_before += k->pn_len == 4;
        } else if (k->t <= last_old) {
            both++;
            short_both += k->pn_len != 4;
        }
    }
    char extra[160];
    snprintf(extra, sizeof(extra),
             "client 1-RTT packets: %zu before cell (%zu long), %zu on both paths (%zu short), "
             "%zu after the removal (%zu long)",
             before, long_before, both, short_both, after, long_after);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, before > 100 && both > 10 && after > 100, "%s", extra);
    SIM_CHECK(r, short_both == 0, "%zu of %zu packets sent on both paths had short "
                   "packet numbers", short_both, both);
    SIM_CHECK(r, long_before == 0 && long_after == 0, "%s", extra);
    SIM_CHECK(r, p->pkt[p->n_at_remove].pn_len < 4,
              "the first packet after the removal (%zu, the RETIRE in %zu) had %u-byte numbers",
              p->n_at_remove, first_retire, p->pkt[p->n_at_remove].pn_len);
    TRY(r, expect_active(s, r, &p->set.addr, &s->server_addr));
}

/* ---- a retired CID's late packets ----------------------------------------------------------------
 */

/* Holds the client's datagrams from one (public) address back by `delay` while `on`: the path
 * being left becomes the slow one. */
typedef struct hold_node {
    sim_node n;
    tern_addr src;
    uint64_t delay;
    int on;
    uint64_t held;
} hold_node;

static void hold_forward(sim *s, sim_node *n, sim_pkt *p)
{
    hold_node *h = (hold_node *)n;
    if (h->on && tern_addr_equal(&p->src, &h->src)) {
        h->held++;
        sim_node_emit_at(s, n, p, s->now + h->delay);
        return;
    }
    sim_node_emit(s, n, p);
}

static void hold_free(sim_node *n)
{
    free(n);
}

static const sim_node_ops hold_ops = {"hold", hold_forward, hold_free};

typedef struct late_old {
    hold_node *hold;
    verb add, set, rm;
} late_old;

static void act_late_probe(sim *s, void *arg)
{
    late_old *l = arg;
    /* from now on what leaves the old port arrives 30 ms late (the node is past the NAT) */
    l->hold->on = public_of(s, &l->rm.addr, &l->hold->src) == 0;
    act_add(s, &l->add);
}

static void act_late_move(sim *s, void *arg)
{
    late_old *l = arg;
    act_set_active(s, &l->set);
    act_remove(s, &l->rm);
}

static void late_old_on_event(sim *s, int who, const sim_path_ev *e)
{
    late_old *l = s->ud;
    if (who == SIM_CLIENT && e->type == TERN_PATH_EV_VALIDATED && !l->rm.done &&
        tern_addr_equal(&e->addr.local, &l->set.addr))
        sim_after(s, 0, act_late_move, l, "client moves to the new port, removes the old one");
}

/* The client probes a new port on wifi, moves there and drops the old one as soon as it answers;
 * what it sent from the old port in its last round trip there arrives 30 ms late, after the
 * RETIRE_CONNECTION_ID it sent from the new port (two sockets of a busy host, or two paths of
 * different delay, reorder that easily). The server has retired that CID, but those packets were
 * sent before the RETIRE: they reach the connection, and no stateless reset answers them (one
 * closed a client that honours the token of a CID it retired). */
static void scn_retire_overtakes_old_path(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    hold_node *h = calloc(1, sizeof(*h));
    if (!h)
        abort();
    h->delay = 30 * SIM_MS;
    sim_node_register(s, &h->n, &hold_ops, "wifi.up.hold");
    sim_iface_prepend(s, ph.wifi, SIM_UP, &h->n);
    late_old l = {.hold = h, .add = {.addr = iface_addr(s, ph.wifi, 5001)},
                  .set = {.addr = iface_addr(s, ph.wifi, 5001)},
                  .rm = {.addr = iface_addr(s, ph.wifi, 0)}};
    s->ud = &l;
    s->on_path_event = late_old_on_event;
    sim_at(s, 300 * SIM_MS, act_late_probe, &l, "client probes wifi:5001");
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2500 * SIM_MS, &xfer));
    tern_conn *sc = sim_server_conn(s);
    char extra[120];
    snprintf(extra, sizeof(extra), "%llu datagrams held back, %llu stateless resets",
             (unsigned long long)h->held, (unsigned long long)s->front.disp.st.reset_sent);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, l.add.rv > 0 && l.set.rv >= 0 && l.rm.done && l.rm.rv == 0,
              "add %d, set_active %d, remove %d (done %d)", l.add.rv, l.set.rv, l.rm.rv, l.rm.done);
    SIM_CHECK(r, h->held >= 5, "%s", extra);
    SIM_CHECK(r, s->front.disp.st.reset_sent == 0, "%s", extra);
    SIM_CHECK(r, tern_conn_state(s->client) == TERN_CS_ESTABLISHED && sc &&
                     tern_conn_state(sc) == TERN_CS_ESTABLISHED,
              "client state %d, server state %d", tern_conn_state(s->client),
              sc ? tern_conn_state(sc) : -1);
    TRY(r, expect_active(s, r, &l.set.addr, &s->server_addr));
}

const sim_scenario sim_migration_wire_scenarios[] = {
    {"pn_length_migration", "migration",
     "4-byte packet numbers exactly while the client sends on both paths", 70,
     scn_pn_length_migration},
    {"retire_overtakes_old_path", "migration",
     "the client's last datagrams on the old path arrive after its RETIRE_CONNECTION_ID", 71,
     scn_retire_overtakes_old_path},
};
