/* The migration suite: a phone-like client with a "wifi" interface (20 ms each way, 50 Mbit/s) and
 * a "cell" interface (80 ms each way, 20 Mbit/s down, 5 Mbit/s up), each with its own link, queue
 * and NAT, moves its connection while it downloads: probing and switching, challenges lost,
 * validation timeouts and fallbacks, removal of the active and of the last path, fifty migrations,
 * eight paths, a loss burst, NAT rebinding, an off-path attacker, the server's preferred address,
 * a server that forbids migration or gives too few connection IDs, key updates, and an interface
 * that dies without warning. Every scenario checks the bytes and SHA-256 of its download, the path
 * events both cores reported (types, reasons and which interface), the active path of both sides
 * at the end, and a bound on virtual time, set from the spread over 200 seeds with room to spare. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "migration.h"
#include "packet.h"
#include "sim_mig.h"

/* ---- probe, switch ----------------------------------------------------------------------------
 */

/* The client probes cell while downloading over wifi; probing moves nothing. Once cell answers,
 * the application switches to it: the next packet goes there, and the server follows. */
static void scn_probe_then_switch(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), cell = iface_addr(s, ph.cell, 0);
    verb add = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_add, &add, "client probes cell");
    TRY(r, start_download(s, r, 8 * MB));
    SIM_CHECK(r, sim_run(s, cond_client_validated, 2 * SIM_SEC), "cell not validated by %.3f s",
              secs(sim_time(s)));
    SIM_CHECK(r, add.rv > 0, "path_add returned %d", add.rv);
    uint64_t took = sim_time(s) - add.at;
    /* probing moved neither side */
    tern_path_addr cp, sp;
    tern_conn_get_path(s->client, &cp);
    tern_conn_get_path(sim_server_conn(s), &sp);
    SIM_CHECK(r, tern_addr_equal(&cp.local, &wifi), "the client moved while probing");
    SIM_CHECK(r, sim_iface_for_dst(s, &sp.remote) == ph.wifi, "the server moved on a probe");
    /* cell is idle: its first challenge is answered one round trip later */
    SIM_CHECK(r, took >= 160 * SIM_MS && took <= 250 * SIM_MS,
              "validation took %.1f ms (cell RTT 160 ms)", msecs(took));
    int id = tern_conn_path_set_active(s->client, &cell, s->now);
    SIM_CHECK(r, id == add.rv, "set_active returned %d, path %d", id, add.rv);
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 5 * SIM_SEC, &xfer));
    summarize(s, r, xfer, NULL);
    TRY(r, expect_events(s, r, SIM_CLIENT, "probing:none@cell validated:none@cell active:app@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "validated:none@cell active:peer_migrated@cell peer:peer_migrated@cell"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* The application switches to cell without probing it first: the path is used at once and
 * validated while in use. */
static void scn_switch_without_probe(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    verb set = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_set_active, &set, "client switches to cell");
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 5 * SIM_SEC, &xfer));
    summarize(s, r, xfer, NULL);
    SIM_CHECK(r, set.rv > 0, "set_active returned %d", set.rv);
    TRY(r, expect_events(s, r, SIM_CLIENT, "probing:none@cell active:app@cell validated:none@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@cell peer:peer_migrated@cell validated:none@cell"));
    const sim_path_ev *v = last_event(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED);
    SIM_CHECK(r, v->t - set.at < 600 * SIM_MS, "validated %.1f ms after the switch",
              msecs(v->t - set.at));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* The first datagram the client sends on cell (its first PATH_CHALLENGE) is lost: the challenge
 * is sent again, with new bytes, and the path validates then; the application then switches. */
static void scn_first_challenge_lost(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    static const uint32_t first[] = {1};
    sim_loss_cfg lc = {.drop_nth = first, .drop_n = 1};
    sim_loss *loss = sim_loss_new(s, ph.cell, SIM_UP, &lc);
    sim_iface_prepend(s, ph.cell, SIM_UP, &loss->n);
    verb add = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_add, &add, "client probes cell");
    TRY(r, start_download(s, r, 8 * MB));
    SIM_CHECK(r, sim_run(s, cond_client_validated, 4 * SIM_SEC), "cell not validated by %.3f s",
              secs(sim_time(s)));
    uint64_t took = sim_time(s) - add.at;
    SIM_CHECK(r, loss->n.dropped == 1, "%llu datagrams dropped on cell",
              (unsigned long long)loss->n.dropped);
    /* the second challenge follows within a few of wifi's PTOs, not after the new path's own
     * initial PTO (no RTT sample yet: about 1 s) */
    SIM_CHECK(r, took >= 240 * SIM_MS && took < 1 * SIM_SEC,
              "validated %.3f s after the probe started", secs(took));
    uint64_t up = ph.cell_nat->out.in;
    SIM_CHECK(r, up >= 2 && up <= 3, "%llu datagrams sent on cell before validation",
              (unsigned long long)up);
    SIM_CHECK(r, tern_conn_path_set_active(s->client, &cell, s->now) == add.rv, "set_active");
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 5 * SIM_SEC, &xfer));
    char extra[64];
    snprintf(extra, sizeof(extra), "validated after %.3f s", secs(took));
    summarize(s, r, xfer, extra);
    TRY(r, expect_events(s, r, SIM_CLIENT, "probing:none@cell validated:none@cell active:app@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "validated:none@cell active:peer_migrated@cell peer:peer_migrated@cell"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* ---- validation failures -----------------------------------------------------------------------
 */

static void dead_cell(sim *s, const phone *ph)
{
    sim_iface_blackhole(s, ph->cell, SIM_UP, 0, SIM_INF);
    sim_iface_blackhole(s, ph->cell, SIM_DOWN, 0, SIM_INF);
}

/* cell is dead (blackholed both ways) when the client probes it: validation fails after three
 * times the larger PTO, the path is removed, and the download over wifi never notices. */
static void scn_validation_timeout(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    dead_cell(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), cell = iface_addr(s, ph.cell, 0);
    verb add = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_add, &add, "client probes cell (dead)");
    TRY(r, start_download(s, r, 16 * MB));
    SIM_CHECK(r, sim_run(s, cond_client_failed, 8 * SIM_SEC), "cell never failed");
    SIM_CHECK(r, add.rv > 0, "path_add returned %d", add.rv);
    uint64_t took = sim_time(s) - add.at;
    uint64_t challenges = ph.cell_nat->out.in; /* counted at the client's edge */
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 4 * SIM_SEC, &xfer));
    char extra[96];
    snprintf(extra, sizeof(extra), "failed after %.3f s, %llu challenges", secs(took),
             (unsigned long long)challenges);
    summarize(s, r, xfer, extra);
    /* 3 x max(PTO): the new path has no RTT sample, so its PTO is about a second */
    SIM_CHECK(r, took >= 2 * SIM_SEC && took <= 5 * SIM_SEC, "failed %.3f s after the probe",
              secs(took));
    SIM_CHECK(r, challenges >= 2 && challenges <= 8, "%llu datagrams sent into the dead path",
              (unsigned long long)challenges);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell failed:timeout@cell removed:timeout@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER, ""));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* The application switches to cell, unprobed and dead: traffic goes there at once, validation
 * fails, and the connection returns to wifi with TERN_PATH_WHY_VALIDATION_FAILED; what was sent
 * into the dead path is resent and the download completes. */
static void scn_unvalidated_switch_fails(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    dead_cell(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), cell = iface_addr(s, ph.cell, 0);
    verb set = {.addr = cell};
    sim_at(s, 300 * SIM_MS, act_set_active, &set, "client switches to cell (dead)");
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 8 * SIM_SEC, &xfer));
    const sim_path_ev *back = last_event(s, SIM_CLIENT, TERN_PATH_EV_ACTIVE);
    char extra[64];
    snprintf(extra, sizeof(extra), "back on wifi after %.3f s",
             back ? secs(back->t - set.at) : 0.0);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, set.rv > 0, "set_active returned %d", set.rv);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell active:app@cell active:validation_failed@wifi "
                         "failed:timeout@cell removed:timeout@cell"));
    SIM_CHECK(r, back->t - set.at >= 2 * SIM_SEC && back->t - set.at <= 5 * SIM_SEC,
              "back on wifi %.3f s after the switch", secs(back->t - set.at));
    TRY(r, expect_events(s, r, SIM_SERVER, ""));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- removal ------------------------------------------------------------------------------------
 */

static int cond_two_validated(sim *s)
{
    return s->st.path_events[SIM_CLIENT][TERN_PATH_EV_VALIDATED] >= 2;
}

/* The client has three validated paths (wifi, a second port on wifi, cell) and removes the active
 * one: the connection moves to the best remaining one, the second wifi port (lowest RTT), not
 * cell. */
static void scn_remove_active_path(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), wifi2 = iface_addr(s, ph.wifi, 5001),
              cell = iface_addr(s, ph.cell, 0);
    verb a1 = {.addr = cell}, a2 = {.addr = wifi2};
    sim_at(s, 300 * SIM_MS, act_add, &a1, "client probes cell");
    sim_at(s, 300 * SIM_MS, act_add, &a2, "client probes wifi:5001");
    TRY(r, start_download(s, r, 8 * MB));
    SIM_CHECK(r, sim_run(s, cond_two_validated, 2 * SIM_SEC), "paths not validated by %.3f s",
              secs(sim_time(s)));
    SIM_CHECK(r, a1.rv > 0 && a2.rv > 0, "path_add returned %d, %d", a1.rv, a2.rv);
    int rv = tern_conn_path_remove(s->client, &wifi, s->now);
    SIM_CHECK(r, rv == 0, "remove(active) returned %s", tern_strerror(rv));
    tern_path_addr cp;
    tern_conn_get_path(s->client, &cp);
    if (!tern_addr_equal(&cp.local, &wifi2)) {
        /* name the estimates the choice was made on */
        tern_path_info info[TERN_MAX_PATHS];
        size_t n = 0;
        char a[64], what[160] = "";
        tern_conn_paths(s->client, info, TERN_MAX_PATHS, &n);
        for (size_t i = 0, off = 0; i < n && i < TERN_MAX_PATHS && off < sizeof(what); i++)
            off += (size_t)snprintf(what + off, sizeof(what) - off, " %s %.1f ms",
                                    tern_addr_format(&info[i].addr.local, a, sizeof(a)),
                                    msecs(info[i].srtt_ns));
        SIM_CHECK(r, 0, "moved to %s, not wifi:5001; smoothed RTTs:%s",
                  tern_addr_format(&cp.local, a, sizeof(a)), what);
    }
    rv = tern_conn_path_remove(s->client, &wifi, s->now);
    SIM_CHECK(r, rv == TERN_ERR_NOT_FOUND, "second remove returned %s", tern_strerror(rv));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2500 * SIM_MS, &xfer));
    summarize(s, r, xfer, NULL);
    /* the two validations may come in either order (a full wifi queue can drop an answer) */
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell probing:none@wifi:5001 validated:none validated:none "
                         "active:active_removed@wifi:5001 removed:app@wifi:5000"));
    SIM_CHECK(r,
              count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, "cell") == 1 &&
                  count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, "wifi") == 1,
              "validated twice the same interface");
    /* the server follows, validates, and gives up on the old path it re-challenged (§9.3.3),
     * which the client no longer answers */
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "* active:peer_migrated@wifi:5001 peer:peer_migrated@wifi:5001 * "));
    SIM_CHECK(r, count_events(s, SIM_SERVER, TERN_PATH_EV_ACTIVE, -1, NULL) == 1,
              "the server moved more than once");
    size_t n = 0;
    tern_conn_paths(s->client, NULL, 0, &n);
    SIM_CHECK(r, n == 2, "client has %zu paths", n);
    TRY(r, expect_active(s, r, &wifi2, &s->server_addr));
}

/* Removing the only path is refused with TERN_ERR_LAST_PATH, and so is removing it while the only
 * other path is still unvalidated (cell, dead): nothing changes, nothing is reported, the download
 * goes on. */
static void scn_remove_last_path(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    dead_cell(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), cell = iface_addr(s, ph.cell, 0);
    tern_addr other = iface_addr(s, ph.wifi, 5009);
    verb rm1 = {.addr = wifi}, add = {.addr = cell}, rm2 = {.addr = wifi}, rm3 = {.addr = other};
    sim_at(s, 300 * SIM_MS, act_remove, &rm1, "client removes its only path");
    sim_at(s, 400 * SIM_MS, act_add, &add, "client probes cell (dead)");
    sim_at(s, 500 * SIM_MS, act_remove, &rm2, "client removes wifi, cell unvalidated");
    sim_at(s, 500 * SIM_MS, act_remove, &rm3, "client removes an unknown address");
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2200 * SIM_MS, &xfer));
    SIM_CHECK(r, rm1.rv == TERN_ERR_LAST_PATH, "remove(only path) returned %s",
              tern_strerror(rm1.rv));
    SIM_CHECK(r, rm2.rv == TERN_ERR_LAST_PATH, "remove(wifi) beside unvalidated cell returned %s",
              tern_strerror(rm2.rv));
    SIM_CHECK(r, rm3.rv == TERN_ERR_NOT_FOUND, "remove(unknown) returned %s",
              tern_strerror(rm3.rv));
    SIM_CHECK(r, add.rv > 0, "path_add returned %d", add.rv);
    SIM_CHECK(r, sim_run(s, cond_client_failed, 6 * SIM_SEC), "cell never failed");
    summarize(s, r, xfer, NULL);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell failed:timeout@cell removed:timeout@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER, ""));
    size_t n = 0;
    tern_conn_paths(s->client, NULL, 0, &n);
    SIM_CHECK(r, n == 1, "client has %zu paths", n);
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- many migrations, many paths ---------------------------------------------------------------
 */

#define HOPS 50

/* Migration k goes to cell for even k and to wifi for odd k, each time on a new port, so that
 * every hop is a new path (and a new NAT mapping). */
static tern_addr hop_addr(const sim *s, const phone *ph, int k)
{
    int i = k % 2 == 0 ? ph->cell : ph->wifi;
    return iface_addr(s, i, (uint16_t)(port_of(&s->ifaces[i].addr) + 1 + k / 2));
}

typedef struct hops {
    const phone *ph;
    int n;          /* migrations made */
    tern_addr prev, cur;
    int waiting;    /* for the validation of cur */
    int errors;     /* verbs that failed */
    char err[96];
    uint64_t last_at, bytes_at_last;
} hops;

static void act_hop(sim *s, void *arg);

static void act_drop_prev(sim *s, void *arg)
{
    hops *h = arg;
    int rv = tern_conn_path_remove(s->client, &h->prev, s->now);
    if (rv && !h->errors++)
        snprintf(h->err, sizeof(h->err), "remove after hop %d: %s", h->n, tern_strerror(rv));
    if (h->n < HOPS)
        sim_after(s, 40 * SIM_MS, act_hop, h, NULL);
}

static void act_hop(sim *s, void *arg)
{
    hops *h = arg;
    tern_addr next = hop_addr(s, h->ph, h->n);
    int rv = tern_conn_path_set_active(s->client, &next, s->now);
    sim_note(s, "hop %d: set_active = %d", h->n + 1, rv);
    if (rv < 0 && !h->errors++)
        snprintf(h->err, sizeof(h->err), "hop %d: %s", h->n + 1, tern_strerror(rv));
    h->prev = h->cur;
    h->cur = next;
    h->waiting = 1;
    if (++h->n == HOPS) {
        h->last_at = sim_time(s);
        h->bytes_at_last = sim_bytes_received(s);
    }
}

static void hop_on_event(sim *s, int who, const sim_path_ev *e)
{
    hops *h = s->ud;
    /* the previous path goes once the new one answered: a phone drops an interface it left */
    if (who == SIM_CLIENT && e->type == TERN_PATH_EV_VALIDATED && h->waiting &&
        tern_addr_equal(&e->addr.local, &h->cur)) {
        h->waiting = 0;
        sim_after(s, 10 * SIM_MS, act_drop_prev, h, NULL);
    }
}

/* Fifty migrations during one download, alternating between cell and wifi on a new port each
 * time; each previous path is removed as soon as the new one is validated. */
static void scn_fifty_migrations(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    hops h = {.ph = &ph, .cur = iface_addr(s, ph.wifi, 0)};
    s->ud = &h;
    s->on_path_event = hop_on_event;
    const uint64_t total = 24 * MB;
    sim_at(s, 300 * SIM_MS, act_hop, &h, "migrations start");
    TRY(r, start_download(s, r, total));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 14 * SIM_SEC, &xfer));
    char extra[96];
    snprintf(extra, sizeof(extra), "%d migrations in %.3f s", h.n, secs(h.last_at - 300 * SIM_MS));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, h.errors == 0, "%d verbs failed, first: %s", h.errors, h.err);
    SIM_CHECK(r, h.n == HOPS && h.bytes_at_last < total,
              "%d migrations, the last with %llu of %llu B received", h.n,
              (unsigned long long)h.bytes_at_last, (unsigned long long)total);
    SIM_CHECK(r, s->path_log_lost[0] == 0 && s->path_log_lost[1] == 0, "path event log overflow");
    /* every hop: probing, active (app), validated, and the previous path removed */
    size_t probing = count_events(s, SIM_CLIENT, TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, NULL),
           active = count_events(s, SIM_CLIENT, TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_APP, NULL),
           valid = count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, NULL),
           removed = count_events(s, SIM_CLIENT, TERN_PATH_EV_REMOVED, TERN_PATH_WHY_APP, NULL);
    SIM_CHECK(r,
              probing == HOPS && active == HOPS && valid == HOPS && removed == HOPS &&
                  s->npath_log[SIM_CLIENT] == 4 * HOPS,
              "client: %zu probing, %zu active, %zu validated, %zu removed of %zu events", probing,
              active, valid, removed, s->npath_log[SIM_CLIENT]);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell:6001 active:app@cell:6001 validated:none@cell:6001 "
                         "removed:app@wifi:5000 probing:none@wifi:5001 active:app@wifi:5001 "
                         "validated:none@wifi:5001 removed:app@cell:6001 * "
                         "probing:none@wifi:5025 active:app@wifi:5025 validated:none@wifi:5025 "
                         "removed:app@cell:6025"));
    /* the server followed every hop and validated every new path */
    size_t moved = count_events(s, SIM_SERVER, TERN_PATH_EV_PEER_ADDRESS_CHANGED,
                                TERN_PATH_WHY_PEER_MIGRATED, NULL),
           svalid = count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, NULL),
           sfail = count_events(s, SIM_SERVER, TERN_PATH_EV_FAILED, -1, NULL),
           sfail_timeout =
               count_events(s, SIM_SERVER, TERN_PATH_EV_FAILED, TERN_PATH_WHY_TIMEOUT, NULL);
    SIM_CHECK(r, moved == HOPS && svalid >= HOPS && sfail == sfail_timeout,
              "server: %zu moves, %zu validated, %zu failed (%zu timeouts)", moved, svalid, sfail,
              sfail_timeout);
    size_t n = 0;
    tern_conn_paths(s->client, NULL, 0, &n);
    SIM_CHECK(r, n == 1, "client has %zu paths", n);
    TRY(r, expect_active(s, r, &h.cur, &s->server_addr));
}

/* Seven paths probed at once beside the active one (the default max_paths, 8): three more ports on
 * wifi, four on cell. All validate with the round trip of their interface; nothing moves. */
static int cond_seven_validated(sim *s)
{
    return s->st.path_events[SIM_CLIENT][TERN_PATH_EV_VALIDATED] >= 7;
}

static void scn_eight_paths(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    verb add[7];
    for (int k = 0; k < 7; k++) {
        add[k].addr = k < 3 ? iface_addr(s, ph.wifi, (uint16_t)(5001 + k))
                            : iface_addr(s, ph.cell, (uint16_t)(6000 + k - 3));
        sim_at(s, 300 * SIM_MS, act_add, &add[k], k == 0 ? "client probes 7 paths" : NULL);
    }
    TRY(r, start_download(s, r, 8 * MB));
    SIM_CHECK(r, sim_run(s, cond_seven_validated, 2 * SIM_SEC),
              "%llu of 7 paths validated by %.3f s",
              (unsigned long long)s->st.path_events[SIM_CLIENT][TERN_PATH_EV_VALIDATED],
              secs(sim_time(s)));
    uint64_t all_at = sim_time(s) - 300 * SIM_MS;
    for (int k = 0; k < 7; k++)
        SIM_CHECK(r, add[k].rv > 0, "path_add %d returned %d", k, add[k].rv);
    /* Nothing is lost on cell (idle but for the probes): one round trip, no second challenge.
     * wifi's queue is full of the download and may drop an answer: a retransmission or two. */
    for (size_t i = 0; i < s->npath_log[SIM_CLIENT]; i++) {
        const sim_path_ev *e = &s->path_log[SIM_CLIENT][i];
        int cellp = sim_iface_by_ip(s, &e->addr.local) == ph.cell;
        uint64_t after = e->t - 300 * SIM_MS, most = cellp ? 250 * SIM_MS : 1000 * SIM_MS;
        SIM_CHECK(r, e->type != TERN_PATH_EV_VALIDATED || after <= most,
                  "%s port %u validated %.0f ms after the probes", cellp ? "cell" : "wifi",
                  port_of(&e->addr.local), msecs(after));
    }
    tern_path_info info[TERN_MAX_PATHS];
    size_t n = 0;
    tern_conn_paths(s->client, info, TERN_MAX_PATHS, &n);
    SIM_CHECK(r, n == 8, "client has %zu paths", n);
    int validated = 0, active = 0;
    for (size_t i = 0; i < n; i++) {
        validated += info[i].validated;
        active += info[i].state == TERN_PATH_STATE_ACTIVE;
    }
    SIM_CHECK(r, validated == 8 && active == 1, "%d validated, %d active", validated, active);
    /* each validation took the round trip of its own interface (plus queueing) */
    for (size_t i = 0; i < s->npath_log[SIM_CLIENT]; i++) {
        const sim_path_ev *e = &s->path_log[SIM_CLIENT][i];
        if (e->type != TERN_PATH_EV_VALIDATED)
            continue;
        int cellp = sim_iface_by_ip(s, &e->addr.local) == ph.cell;
        uint64_t lo = cellp ? 160 * SIM_MS : 40 * SIM_MS, hi = cellp ? 400 * SIM_MS : 120 * SIM_MS;
        SIM_CHECK(r, e->rtt_ns >= lo && e->rtt_ns <= hi, "%s port %u validated in %.1f ms",
                  cellp ? "cell" : "wifi", port_of(&e->addr.local), msecs(e->rtt_ns));
    }
    size_t sn = 0;
    tern_conn_paths(sim_server_conn(s), NULL, 0, &sn);
    SIM_CHECK(r, sn == 8, "server has %zu paths", sn);
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2200 * SIM_MS, &xfer));
    char extra[64];
    snprintf(extra, sizeof(extra), "all validated after %.3f s", secs(all_at));
    summarize(s, r, xfer, extra);
    /* answers come in any order (a full wifi queue can drop one); each path answers once */
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@wifi:5001 probing:none@wifi:5002 probing:none@wifi:5003 "
                         "probing:none@cell:6000 probing:none@cell:6001 probing:none@cell:6002 "
                         "probing:none@cell:6003 validated validated validated validated "
                         "validated validated validated"));
    SIM_CHECK(r,
              count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, "wifi") == 3 &&
                  count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, "cell") == 4,
              "validations by interface: wifi %zu, cell %zu",
              count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, "wifi"),
              count_events(s, SIM_CLIENT, TERN_PATH_EV_VALIDATED, -1, "cell"));
    /* probes never move a server */
    /* the server validates each probed path from its side too, and moves to none */
    SIM_CHECK(r,
              count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, NULL) == 7 &&
                  s->npath_log[SIM_SERVER] == 7,
              "server: %zu events, %zu validated", s->npath_log[SIM_SERVER],
              count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, NULL));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- loss burst ---------------------------------------------------------------------------------
 */

/* The client moves to cell just as cell is in a loss burst: Gilbert-Elliott in both directions
 * until 1.5 s, starting in the Bad state (80% loss, bursts of 10 datagrams on average, entered
 * again with p = 1%). The challenge or its answer may be lost and sent again, data lost on the new
 * path is resent, and the download completes over cell. */
static void scn_migrate_in_loss_burst(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    sim_loss_cfg ge = {.ge_p = 0.01,
                       .ge_r = 0.1,
                       .ge_loss_good = 0.0,
                       .ge_loss_bad = 0.8,
                       .ge_start_bad = 1,
                       .ge_until_ns = 1500 * SIM_MS};
    sim_loss *l[2];
    for (int d = 0; d < 2; d++) {
        l[d] = sim_loss_new(s, ph.cell, d, &ge);
        sim_iface_append(s, ph.cell, d, &l[d]->n);
    }
    verb set = {.addr = cell};
    sim_at(s, 500 * SIM_MS, act_set_active, &set, "client switches to cell, in a burst");
    TRY(r, start_download(s, r, 6 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 15 * SIM_SEC, &xfer));
    char extra[64];
    snprintf(extra, sizeof(extra), "burst dropped %llu up, %llu down",
             (unsigned long long)l[0]->n.dropped, (unsigned long long)l[1]->n.dropped);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, set.rv > 0, "set_active returned %d", set.rv);
    SIM_CHECK(r, l[0]->n.dropped + l[1]->n.dropped >= 3, "only %llu datagrams lost in the burst",
              (unsigned long long)(l[0]->n.dropped + l[1]->n.dropped));
    TRY(r, expect_events(s, r, SIM_CLIENT, "probing:none@cell active:app@cell validated:none@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@cell peer:peer_migrated@cell validated:none@cell"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* ---- NAT rebinding ------------------------------------------------------------------------------
 */

/* The server's view of a rebinding: it moved to the new public address (PEER_ADDRESS_CHANGED),
 * validated it, and the client saw nothing. */
static void check_rebinding(sim *s, sim_result *r, const tern_addr *old_pub, int port_only)
{
    char a[64], b[64];
    TRY(r, expect_events(s, r, SIM_CLIENT, ""));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@wifi:5000 peer:peer_migrated@wifi:5000 "
                         "validated:none@wifi:5000"));
    const sim_path_ev *e = last_event(s, SIM_SERVER, TERN_PATH_EV_PEER_ADDRESS_CHANGED);
    tern_addr pub, wifi = s->ifaces[0].addr;
    SIM_CHECK(r, public_of(s, &wifi, &pub) == 0, "no NAT mapping");
    SIM_CHECK(r, tern_addr_equal(&e->addr.remote, &pub) && tern_addr_equal(&e->from.remote, old_pub),
              "server moved from %s to %s", tern_addr_format(&e->from.remote, a, sizeof(a)),
              tern_addr_format(&e->addr.remote, b, sizeof(b)));
    const sim_path_ev *v = last_event(s, SIM_SERVER, TERN_PATH_EV_VALIDATED);
    SIM_CHECK(r, tern_addr_equal(&v->addr.remote, &pub), "the server validated %s",
              tern_addr_format(&v->addr.remote, a, sizeof(a)));
    /* RFC 9000 §9.4: a new port keeps what was learnt of the path, a new address starts over */
    const sim_path_ev *act = last_event(s, SIM_SERVER, TERN_PATH_EV_ACTIVE);
    if (port_only)
        SIM_CHECK(r, act->cwnd == act->from_cwnd && act->cwnd > 14720,
                  "window after a port change %llu (was %llu)", (unsigned long long)act->cwnd,
                  (unsigned long long)act->from_cwnd);
    else
        SIM_CHECK(r, act->cwnd <= 14720 && act->from_cwnd > act->cwnd,
                  "window after an address change %llu (was %llu)", (unsigned long long)act->cwnd,
                  (unsigned long long)act->from_cwnd);
}

/* The wifi NAT gives the client a new public port mid-transfer; replies to the old one still get
 * through for 1 s. The server follows (same connection, new address) before the old mapping
 * expires, keeping its congestion state. */
static void scn_nat_rebind(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    sim_nat_rebind_port_at(s, ph.wifi_nat, 300 * SIM_MS, 1 * SIM_SEC);
    TRY(r, start_download(s, r, 8 * MB));
    tern_addr old_pub;
    SIM_CHECK(r, public_of(s, &wifi, &old_pub) == 0, "no NAT mapping");
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2200 * SIM_MS, &xfer));
    summarize(s, r, xfer, NULL);
    TRY(r, check_rebinding(s, r, &old_pub, 1));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* Same with a new public address: the server validates the new path and starts it from the
 * initial window. */
static void scn_nat_rebind_address(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    sim_nat_rebind_addr_at(s, ph.wifi_nat, 300 * SIM_MS, "203.0.113.99:41000", 1 * SIM_SEC);
    TRY(r, start_download(s, r, 8 * MB));
    tern_addr old_pub;
    SIM_CHECK(r, public_of(s, &wifi, &old_pub) == 0, "no NAT mapping");
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2200 * SIM_MS, &xfer));
    summarize(s, r, xfer, NULL);
    TRY(r, check_rebinding(s, r, &old_pub, 0));
    tern_addr want = sim_addr("203.0.113.99:41000"), pub;
    public_of(s, &wifi, &pub);
    SIM_CHECK(r, tern_addr_equal(&pub, &want), "the NAT did not move");
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- off-path attacker --------------------------------------------------------------------------
 */

/* An attacker with a faster route: the first 1-RTT datagram from the client after `at` is copied,
 * the copy is sent on from the attacker's address at once, and the original (and what follows it,
 * in order) arrives `lead` later. The attacker cannot see what the server sends to it. */
typedef struct spoof_node {
    sim_node n;
    uint64_t at, lead;
    tern_addr from;
    uint64_t hold_until; /* absolute: datagrams behind the held original wait until then */
    int done;
    size_t copy_len; /* bytes the attacker sent, all copies together */
    /* more copies (0: one): `copies` in all, `every` apart, copy k from `from` with its last
     * address byte and port increased by k */
    int copies, made;
    uint64_t every;
} spoof_node;

static void spoof_forward(sim *s, sim_node *n, sim_pkt *p)
{
    spoof_node *sp = (spoof_node *)n;
    if (!sp->done && sim_time(s) >= sp->at && (sim_pkt_types(p) & (1u << TERN_PKT_1RTT))) {
        sim_pkt *c = sim_pkt_clone(s, p);
        c->src = sp->from;
        c->src.u.in.sin_addr.s_addr =
            htonl(ntohl(c->src.u.in.sin_addr.s_addr) + (uint32_t)sp->made);
        c->src.u.in.sin_port = htons((uint16_t)(ntohs(c->src.u.in.sin_port) + sp->made));
        sp->copy_len += c->len;
        if (++sp->made >= (sp->copies ? sp->copies : 1))
            sp->done = 1;
        sp->at = sim_time(s) + sp->every;
        sp->hold_until = s->now + sp->lead;
        sim_note(s, "attacker forwards a copy of #%llu as #%llu", (unsigned long long)p->id,
                 (unsigned long long)c->id);
        sim_node_emit(s, n, c);
        sim_node_emit_at(s, n, p, sp->hold_until);
        return;
    }
    if (sp->hold_until > s->now)
        sim_node_emit_at(s, n, p, sp->hold_until);
    else
        sim_node_emit(s, n, p);
}

static void spoof_free(sim_node *n)
{
    free(n);
}

static const sim_node_ops spoof_ops = {"spoof", spoof_forward, spoof_free};

/* An attacker on interface `iface`'s way up, 20 ms ahead of the client's datagrams, copying the
 * first 1-RTT datagram after 500 ms, then `copies - 1` more, `every` apart. */
static spoof_node *attacker_on(sim *s, int iface, int copies, uint64_t every)
{
    spoof_node *sp = calloc(1, sizeof(*sp));
    if (!sp)
        abort();
    sp->at = 500 * SIM_MS;
    sp->lead = 20 * SIM_MS;
    sp->copies = copies;
    sp->every = every;
    sp->from = sim_addr(ATTACKER);
    sim_node_register(s, &sp->n, &spoof_ops, "attacker");
    sim_iface_append(s, iface, SIM_UP, &sp->n);
    return sp;
}

typedef struct attack_watch {
    tern_addr attacker;
    uint64_t sent_to; /* bytes the server sent to the attacker's address */
} attack_watch;

static void watch_server_send(sim *s, const sim_pkt *p)
{
    attack_watch *w = s->ud;
    if (tern_addr_equal(&p->dst, &w->attacker))
        w->sent_to += p->len;
}

/* The server moves to the attacker's address on the copy (it carries the largest packet number),
 * but validates it, re-challenges the genuine path and returns there with the client's next
 * packet; the attacker's path fails validation. The server sends the attacker no more than three
 * times what it received from it; the client notices nothing. */
static void scn_spoofed_source(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    spoof_node *sp = attacker_on(s, ph.wifi, 1, 0);
    attack_watch w = {.attacker = sp->from};
    s->ud = &w;
    s->on_server_send = watch_server_send;
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 3 * SIM_SEC, &xfer));
    /* the attacker's path fails validation after a while: wait for it */
    SIM_CHECK(r, sim_run(s, NULL, 5 * SIM_SEC), "run");
    char extra[96];
    snprintf(extra, sizeof(extra), "attacker sent %zu B, got %llu B", sp->copy_len,
             (unsigned long long)w.sent_to);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, sp->done, "the attacker never saw a datagram");
    SIM_CHECK(r, w.sent_to <= 3 * sp->copy_len, "server sent %llu B to the attacker, who sent %zu",
              (unsigned long long)w.sent_to, sp->copy_len);
    TRY(r, expect_events(s, r, SIM_CLIENT, ""));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@x peer:peer_migrated@x "
                         "active:peer_migrated@wifi peer:peer_migrated@wifi "
                         "failed:timeout@x removed:timeout@x"));
    /* back as soon as the genuine datagrams (held `lead` behind the copy) arrive */
    const sim_path_ev *away = &s->path_log[SIM_SERVER][0], *back = &s->path_log[SIM_SERVER][2];
    SIM_CHECK(r, back->t - away->t <= sp->lead + 5 * SIM_MS,
              "the server stayed %.1f ms on the attacker's address", msecs(back->t - away->t));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* What nine spoofed addresses cost the server, sampled every 5 ms: the paths it holds, whether
 * its active path still has a connection ID to send with, and what it sends off the client host. */
typedef struct flood_watch {
    uint64_t sent_off_host, max_paths, cid_gaps;
} flood_watch;

static void flood_server_send(sim *s, const sim_pkt *p)
{
    flood_watch *w = s->ud;
    if (sim_iface_for_dst(s, &p->dst) < 0)
        w->sent_off_host += p->len;
}

static void act_flood_sample(sim *s, void *arg)
{
    flood_watch *w = arg;
    tern_conn *c = sim_server_conn(s);
    if (c) {
        size_t n = tern_mig_paths_in_use(c);
        w->max_paths = TERN_MAX(w->max_paths, (uint64_t)n);
        w->cid_gaps +=
            !tern_peer_cids_for_path(tern_conn_peer_cids(c), (uint8_t)tern_conn_active_index(c));
    }
    if (!sim_cond_all_done(s))
        sim_after(s, 5 * SIM_MS, act_flood_sample, w, NULL);
}

/* An on-path attacker with a faster route races copies of nine client datagrams, 100 ms apart,
 * each from a new spoofed address that never answers (RFC 9000 §9.3.3). Each copy carries the
 * largest packet number, so the server may detour to it, but only until the genuine datagram
 * arrives: the download completes at close to its normal pace, the server never lacks a
 * connection ID for its active path, the copies (which carry the DCID of the genuine path) cost
 * no connection ID at all, the server holds a bounded number of paths, and it sends the
 * addresses no more than three times what they sent. */
static void scn_spoofed_flood(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0);
    spoof_node *sp = attacker_on(s, ph.wifi, 9, 100 * SIM_MS);
    flood_watch w = {0};
    s->ud = &w;
    s->on_server_send = flood_server_send;
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t issued =
        tern_conn_local_cids(s->client)->next_seq; /* connection IDs the client gave at the start */
    sim_after(s, 0, act_flood_sample, &w, NULL);
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 3 * SIM_SEC, &xfer));
    SIM_CHECK(r, sim_run(s, NULL, 3 * SIM_SEC), "run");
    char extra[160];
    snprintf(extra, sizeof(extra),
             "attacker sent %zu B, got %llu B; server held up to %llu paths; client issued %llu "
             "more CIDs",
             sp->copy_len, (unsigned long long)w.sent_off_host, (unsigned long long)w.max_paths,
             (unsigned long long)(tern_conn_local_cids(s->client)->next_seq - issued));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, sp->made == 9, "the attacker copied %d datagrams", sp->made);
    SIM_CHECK(r, w.cid_gaps == 0, "the server's active path had no connection ID in %llu samples",
              (unsigned long long)w.cid_gaps);
    SIM_CHECK(r, tern_conn_local_cids(s->client)->next_seq == issued,
              "the attack made the client issue %llu more connection IDs",
              (unsigned long long)(tern_conn_local_cids(s->client)->next_seq - issued));
    SIM_CHECK(r, w.max_paths <= 2 + TERN_MIG_MAX_PEER_PROBING, "the server held %llu paths",
              (unsigned long long)w.max_paths);
    SIM_CHECK(r, w.sent_off_host <= 3 * sp->copy_len,
              "server sent %llu B to the attacker's addresses, which sent %zu",
              (unsigned long long)w.sent_off_host, sp->copy_len);
    TRY(r, expect_events(s, r, SIM_CLIENT, ""));
    SIM_CHECK(r,
              count_events(s, SIM_SERVER, TERN_PATH_EV_PEER_ADDRESS_CHANGED, -1, "x") <= 9 &&
                  count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, "x") == 0,
              "the server moved to the attacker %zu times and validated it %zu times",
              count_events(s, SIM_SERVER, TERN_PATH_EV_PEER_ADDRESS_CHANGED, -1, "x"),
              count_events(s, SIM_SERVER, TERN_PATH_EV_VALIDATED, -1, "x"));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- server configuration -----------------------------------------------------------------------
 */

static int cond_on_preferred(sim *s)
{
    const sim_path_ev *e = last_event(s, SIM_CLIENT, TERN_PATH_EV_ACTIVE);
    return e && e->reason == TERN_PATH_WHY_PREFERRED_ADDRESS;
}

/* The server advertises a preferred address: after the handshake is confirmed the client probes
 * it and moves there; the download runs there. */
static void scn_preferred_address(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), pref = sim_addr(PREFERRED);
    s->cfg_s.preferred_address = pref;
    TRY(r, start_download(s, r, 8 * MB));
    SIM_CHECK(r, sim_run(s, cond_on_preferred, 2 * SIM_SEC), "not on the preferred address by %.3f s",
              secs(sim_time(s)));
    uint64_t moved_at = sim_time(s);
    uint64_t xfer = 0;
    /* as fast as on the server's first address: nothing was learnt there before the move */
    TRY(r, finish_download(s, r, 2500 * SIM_MS, &xfer));
    char extra[64];
    snprintf(extra, sizeof(extra), "moved at %.3f s", secs(moved_at));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, moved_at < 500 * SIM_MS, "moved at %.3f s", secs(moved_at));
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@wifi>pref validated:none@wifi>pref "
                         "active:preferred_address@wifi>pref"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "* active:peer_migrated@wifi>pref peer:peer_migrated@wifi>pref *"));
    TRY(r, expect_active(s, r, &wifi, &pref));
}

/* The server sends disable_active_migration. A path the client added before the handshake was
 * confirmed fails at confirmation with TERN_PATH_WHY_MIGRATION_DISABLED, without a datagram on
 * cell; after that, add and set_active are refused. */
static void scn_peer_disables_migration(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), cell = iface_addr(s, ph.cell, 0),
              wifi2 = iface_addr(s, ph.wifi, 5001);
    s->cfg_s.disable_active_migration = 1;
    int rv = sim_start(s);
    SIM_CHECK(r, rv == 0, "sim_start: %s", tern_strerror(rv));
    int early = tern_conn_path_add(s->client, &cell, s->now);
    SIM_CHECK(r, early > 0, "path_add before the handshake returned %s", tern_strerror(early));
    TRY(r, start_download(s, r, 4 * MB));
    SIM_CHECK(r, sim_run(s, cond_client_failed, 1 * SIM_SEC), "the early path never failed");
    rv = tern_conn_path_add(s->client, &wifi2, s->now);
    SIM_CHECK(r, rv == TERN_ERR_MIGRATION_DISABLED, "path_add after confirmation returned %s",
              tern_strerror(rv));
    rv = tern_conn_path_set_active(s->client, &cell, s->now);
    SIM_CHECK(r, rv == TERN_ERR_MIGRATION_DISABLED, "set_active after confirmation returned %s",
              tern_strerror(rv));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 1200 * SIM_MS, &xfer));
    summarize(s, r, xfer, NULL);
    SIM_CHECK(r, ph.cell_nat->out.in == 0, "%llu datagrams left on cell",
              (unsigned long long)ph.cell_nat->out.in);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "failed:migration_disabled@cell removed:migration_disabled@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER, ""));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* The server issues one spare connection ID. The first path the client adds
 * takes it and validates; the second waits for a NEW_CONNECTION_ID that never comes and fails with
 * TERN_PATH_WHY_NO_CID, without a datagram sent on it. */
static int cond_server_has_tparams(sim *s)
{
    tern_conn *c = sim_server_conn(s);
    return c && tern_conn_peer_tparams_received(c);
}

static void scn_no_spare_cid(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr wifi = iface_addr(s, ph.wifi, 0), cell = iface_addr(s, ph.cell, 0),
              wifi2 = iface_addr(s, ph.wifi, 5001);
    verb a1 = {.addr = cell}, a2 = {.addr = wifi2};
    sim_at(s, 300 * SIM_MS, act_add, &a1, "client probes cell");
    sim_at(s, 300 * SIM_MS, act_add, &a2, "client probes wifi:5001");
    /* a stingy server: tern's issues what the client asks for, so make it believe the client
     * takes two connection IDs (before its handshake completes, when it issues them) */
    SIM_CHECK(r, sim_start(s) == 0, "sim_start");
    SIM_CHECK(r, sim_run(s, cond_server_has_tparams, 1 * SIM_SEC), "no server connection");
    tern_conn_test_peer_tparams(sim_server_conn(s))->active_connection_id_limit = 2;
    TRY(r, start_download(s, r, 8 * MB));
    SIM_CHECK(r, sim_run(s, cond_client_failed, 5 * SIM_SEC), "wifi:5001 never failed");
    uint64_t took = sim_time(s) - a2.at;
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 2200 * SIM_MS, &xfer));
    char extra[64];
    snprintf(extra, sizeof(extra), "no CID: failed after %.3f s", secs(took));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, a1.rv > 0 && a2.rv > 0, "path_add returned %d, %d", a1.rv, a2.rv);
    SIM_CHECK(r, took >= 300 * SIM_MS && took <= 5 * SIM_SEC, "failed %.3f s after it was added",
              secs(took));
    tern_addr pub;
    SIM_CHECK(r, sim_nat_public(ph.wifi_nat, &wifi2, &pub) != 0,
              "a datagram left from wifi:5001, which had no connection ID");
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell probing:no_cid@wifi:5001 validated:none@cell "
                         "failed:no_cid@wifi:5001 removed:no_cid@wifi:5001"));
    /* the server validates the path the client validated, from its side */
    TRY(r, expect_events(s, r, SIM_SERVER, "validated:none@cell"));
    TRY(r, expect_active(s, r, &wifi, &s->server_addr));
}

/* ---- key update ---------------------------------------------------------------------------------
 */

typedef struct ku_mig {
    verb set;
    int client_rv;
    int server_ok;
    uint64_t server_at;
} ku_mig;

static void act_switch_and_update(sim *s, void *arg)
{
    ku_mig *k = arg;
    act_set_active(s, &k->set);
    k->client_rv = tern_conn_key_update(s->client);
    sim_note(s, "client key update = %d", k->client_rv);
}

/* The server starts its own update once it has followed the client's (two updates started at
 * once from both ends would make one phase change); until a packet of the new phase is
 * acknowledged it is refused, so it tries every 10 ms. */
static void act_server_update(sim *s, void *arg)
{
    ku_mig *k = arg;
    tern_conn *c = sim_server_conn(s);
    tern_conn_stats ss;
    if (c)
        tern_conn_get_stats(c, &ss);
    if (c && ss.key_updates >= 1 && tern_conn_key_update(c) == 0) {
        k->server_ok = 1;
        k->server_at = sim_time(s);
        sim_note(s, "server starts a key update");
    } else if (!sim_cond_all_done(s)) {
        sim_after(s, 10 * SIM_MS, act_server_update, k, NULL);
    }
}

/* The client switches to cell and starts a key update in the same instant; the server starts one
 * of its own as soon as it may, while the migration is under way. Both phase changes go through
 * on both sides and the migration completes. */
static void scn_key_update_migration(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    const uint64_t at = 500 * SIM_MS;
    ku_mig k = {.set = {.addr = cell}};
    sim_at(s, at, act_switch_and_update, &k, "client switches to cell + key update");
    sim_at(s, at + 10 * SIM_MS, act_server_update, &k, NULL);
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 5 * SIM_SEC, &xfer));
    tern_conn_stats cs, ss;
    tern_conn_get_stats(s->client, &cs);
    tern_conn_get_stats(sim_server_conn(s), &ss);
    char extra[96];
    snprintf(extra, sizeof(extra), "key phases %llu/%llu, server update %.0f ms after the switch",
             (unsigned long long)cs.key_updates, (unsigned long long)ss.key_updates,
             msecs(k.server_at - at));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, k.set.rv > 0 && k.client_rv == 0, "set_active %d, key update %s", k.set.rv,
              tern_strerror(k.client_rv));
    SIM_CHECK(r, k.server_ok && k.server_at - at <= 500 * SIM_MS,
              "the server's key update started %.0f ms after the switch",
              k.server_ok ? msecs(k.server_at - at) : -1.0);
    SIM_CHECK(r, cs.key_updates == 2 && ss.key_updates == 2,
              "phase changes: client %llu, server %llu", (unsigned long long)cs.key_updates,
              (unsigned long long)ss.key_updates);
    TRY(r, expect_events(s, r, SIM_CLIENT, "probing:none@cell active:app@cell validated:none@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@cell peer:peer_migrated@cell validated:none@cell"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* ---- interfaces that die ------------------------------------------------------------------------
 */

/* The application's watchdog: no byte for `stall` means the interface is gone; it moves to cell,
 * and drops wifi once cell is validated. */
typedef struct watchdog {
    const phone *ph;
    uint64_t stall, cut_at;
    uint64_t last_bytes, last_progress;
    uint64_t moved_at, recovered_at, bytes_at_move;
    int moved, set_rv;
    verb rm;
} watchdog;

static void act_watch(sim *s, void *arg)
{
    watchdog *w = arg;
    uint64_t now = sim_time(s), got = sim_bytes_received(s);
    if (got > w->last_bytes) {
        w->last_bytes = got;
        w->last_progress = now;
        if (w->moved && !w->recovered_at)
            w->recovered_at = now;
    }
    if (!w->moved && now - w->last_progress >= w->stall) {
        tern_addr cell = s->ifaces[w->ph->cell].addr;
        w->moved = 1;
        w->moved_at = now;
        w->bytes_at_move = got;
        w->set_rv = tern_conn_path_set_active(s->client, &cell, s->now);
        sim_note(s, "watchdog: nothing for %.0f ms, set_active(cell) = %d", msecs(now - w->last_progress),
                 w->set_rv);
    }
    if (!sim_cond_all_done(s))
        sim_after(s, 10 * SIM_MS, act_watch, w, NULL);
}

static void watch_on_event(sim *s, int who, const sim_path_ev *e)
{
    watchdog *w = s->ud;
    if (who == SIM_CLIENT && e->type == TERN_PATH_EV_VALIDATED && w->moved && !w->rm.done &&
        sim_iface_by_ip(s, &e->addr.local) == w->ph->cell) {
        w->rm.addr = s->ifaces[w->ph->wifi].addr;
        sim_after(s, 0, act_remove, &w->rm, "client drops wifi");
    }
}

/* wifi dies at 1 s in both directions, without a word to anyone. The application notices that
 * nothing arrives for 200 ms, moves to cell (never probed), and drops wifi once cell is validated.
 * The download completes over cell; the stall from the cut to the first byte over cell is
 * bounded. */
static void scn_wifi_dies(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    const uint64_t cut = 1 * SIM_SEC;
    sim_iface_cut(s, ph.wifi, cut, SIM_INF);
    watchdog w = {.ph = &ph, .stall = 200 * SIM_MS, .cut_at = cut};
    s->ud = &w;
    s->on_path_event = watch_on_event;
    TRY(r, start_download(s, r, 16 * MB));
    w.last_progress = sim_time(s);
    sim_after(s, 10 * SIM_MS, act_watch, &w, NULL);
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 14 * SIM_SEC, &xfer));
    uint64_t stall = w.recovered_at ? w.recovered_at - cut : 0;
    char extra[128];
    snprintf(extra, sizeof(extra), "moved %.0f ms after the cut, data again after %.0f ms",
             msecs(w.moved_at - cut), msecs(stall));
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, w.moved && w.set_rv > 0, "the application never moved (set_active %d)", w.set_rv);
    SIM_CHECK(r, w.moved_at > cut && w.bytes_at_move < 16 * MB,
              "moved at %.3f s with %llu B (cut at %.3f s)", secs(w.moved_at),
              (unsigned long long)w.bytes_at_move, secs(cut));
    SIM_CHECK(r, w.recovered_at && stall <= 800 * SIM_MS,
              "data flowed again %.0f ms after the cut", msecs(stall));
    SIM_CHECK(r, w.rm.done && w.rm.rv == 0, "remove(wifi) returned %d", w.rm.rv);
    TRY(r, expect_events(s, r, SIM_CLIENT,
                         "probing:none@cell active:app@cell validated:none@cell removed:app@wifi"));
    /* the server follows and gives up on wifi, which it re-challenged (§9.3.3) */
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "validated:none@cell active:peer_migrated@cell peer:peer_migrated@cell "
                         "failed:timeout@wifi removed:timeout@wifi"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* At 1 s the client moves to cell (not probed before); at 1.2 s wifi goes dark for good. The
 * download completes over cell. */
static void scn_migrate_wifi_to_cell(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    verb set = {.addr = cell};
    sim_at(s, 1 * SIM_SEC, act_set_active, &set, "client moves to cell");
    sim_iface_cut(s, ph.wifi, 1200 * SIM_MS, SIM_INF);
    TRY(r, start_download(s, r, 16 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 8 * SIM_SEC, &xfer));
    summarize(s, r, xfer, NULL);
    SIM_CHECK(r, set.rv > 0, "set_active returned %d", set.rv);
    TRY(r, expect_events(s, r, SIM_CLIENT, "probing:none@cell active:app@cell validated:none@cell"));
    TRY(r, expect_events(s, r, SIM_SERVER,
                         "active:peer_migrated@cell peer:peer_migrated@cell validated:none@cell *"));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

/* ---- registry -----------------------------------------------------------------------------------
 */

/* ---- AEAD limits
 * ---------------------------------------------------------------------------------
 */

/* Confidentiality limits lowered through the test knob, one side at a time (an update from
 * either end starts a new phase on both, so the side that reaches its threshold first always
 * starts them): until after the migration the client's limit is low, then the server's. The
 * limits of the side not under test are far above the transfer. The migration and the swap are
 * placed by the bytes received, not by the clock: under 1% loss the same 4 MB took from 1.4 s
 * (before a switch at 1.5 s) to 38 s from seed to seed, and with a swap at 4 s the server's part
 * was sometimes a few hundred packets, too few for three of its updates. */
#define LIM_HIGH 1000000

typedef struct aead_lim {
    uint64_t low_c, low_s; /* the lowered limits of the client, then of the server */
    int stage; /* 0: nothing set, 1: the client's limit low, 2: the server's */
    uint64_t switch_bytes, swap_bytes; /* received: switch to `set`; swap the limits (0: never) */
    verb *set;
    uint64_t over; /* polls that saw a phase at or beyond the side's low limit */
    uint64_t max_phase[2];
    uint64_t initiated_before[2]; /* at the swap: updates the client and the server had started */
} aead_lim;

static void act_lower_limits(sim *s, void *arg)
{
    aead_lim *a = arg;
    tern_conn *sc = sim_server_conn(s);
    uint64_t got = sim_bytes_received(s);
    if (a->set && !a->set->done && got >= a->switch_bytes)
        act_set_active(s, a->set);
    if (a->stage == 0 && s->client && sc) {
        tern_conn_test_set_conf_limit(s->client, a->low_c);
        tern_conn_test_set_conf_limit(sc, LIM_HIGH);
        a->stage = 1;
    } else if (a->stage == 1 && a->swap_bytes && got >= a->swap_bytes) {
        a->initiated_before[0] = tern_conn_key_updates_initiated(s->client);
        a->initiated_before[1] = tern_conn_key_updates_initiated(sc);
        tern_conn_test_set_conf_limit(s->client, LIM_HIGH);
        tern_conn_test_set_conf_limit(sc, a->low_s);
        a->stage = 2;
    }
    if (a->stage == 1 || a->stage == 2) {
        int srv = a->stage == 2;
        uint64_t ph = tern_conn_tx_pkts_phase(srv ? sc : s->client);
        a->max_phase[srv] = TERN_MAX(a->max_phase[srv], ph);
        a->over += ph >= (srv ? a->low_s : a->low_c);
    }
    if (!sim_cond_all_done(s))
        sim_after(s, 1 * SIM_MS, act_lower_limits, a, NULL);
}

/* RFC 9001 §6.6 under 1% loss each way and a migration from wifi to cell (at 1 MB received):
 * each end updates its keys many times by itself when its limit nears (the client's updates span
 * the migration, the swap comes at 2 MB of 4), no phase reaches its limit, and the download
 * arrives whole (SHA-256). */
static void aead_limit_updates(sim *s, sim_result *r, uint64_t low_c, uint64_t low_s)
{
    phone ph;
    phone_net(s, &ph);
    sim_loss_cfg lc = {.rate = 0.01};
    int ifs[2] = {ph.wifi, ph.cell};
    for (int i = 0; i < 2; i++)
        for (int d = 0; d < 2; d++)
            sim_iface_append(s, ifs[i], d, &sim_loss_new(s, ifs[i], d, &lc)->n);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    verb set = {.addr = cell};
    aead_lim a = {.low_c = low_c, .low_s = low_s, .switch_bytes = 1 * MB, .swap_bytes = 2 * MB,
                  .set = &set};
    sim_at(s, 0, act_lower_limits, &a, NULL);
    TRY(r, start_download(s, r, 4 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 40 * SIM_SEC, &xfer));
    tern_conn *sc = sim_server_conn(s);
    uint64_t ic = a.initiated_before[0];
    uint64_t is = tern_conn_key_updates_initiated(sc) - a.initiated_before[1];
    char extra[160];
    snprintf(extra, sizeof(extra),
             "key updates started: client %llu (limit %llu), then server %llu (limit %llu); at "
             "most %llu/%llu packets per key",
             (unsigned long long)ic, (unsigned long long)low_c, (unsigned long long)is,
             (unsigned long long)low_s,
             (unsigned long long)a.max_phase[0], (unsigned long long)a.max_phase[1]);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, set.done && set.rv >= 0, "set_active %d (done %d)", set.rv, set.done);
    SIM_CHECK(r, a.stage == 2, "the download ended before the limits were swapped");
    SIM_CHECK(r, ic >= 3 && is >= 3, "key updates started: client %llu, server %llu",
              (unsigned long long)ic, (unsigned long long)is);
    SIM_CHECK(r, a.over == 0, "a phase reached its limit (%llu/%llu packets)",
              (unsigned long long)a.max_phase[0], (unsigned long long)a.max_phase[1]);
    SIM_CHECK(r, tern_conn_state(s->client) == TERN_CS_ESTABLISHED, "client state %d",
              tern_conn_state(s->client));
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
}

static void scn_aead_limit_updates(sim *s, sim_result *r)
{
    aead_limit_updates(s, r, 200, 400);
}

/* The same with half the limits: the receiver (the client) has 50 packets, not much more than a
 * round trip's worth of its ACKs, to see each update acknowledged; without the PING in the first
 * packet of a phase it waited for its periodic one and reached the limit (this seed did). */
static void scn_aead_limit_tight(sim *s, sim_result *r)
{
    aead_limit_updates(s, r, 100, 200);
}

/* A receiver with a 100-packet limit on wifi without loss: the server's window fills the 256 KB
 * queue (40 ms more), so the acknowledgement of each new phase comes back 80-90 ms after it left,
 * behind that queue. ACKs of every second packet spent 160-180 packets in that time, and the
 * client closed with AEAD_LIMIT_REACHED; past its update point it acknowledges once per
 * max_ack_delay, and the download completes with every phase below the limit. */
static void scn_aead_limit_full_queue(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    aead_lim a = {.low_c = 100};
    sim_at(s, 0, act_lower_limits, &a, NULL);
    TRY(r, start_download(s, r, 8 * MB));
    uint64_t xfer = 0;
    TRY(r, finish_download(s, r, 5 * SIM_SEC, &xfer));
    uint64_t ic = tern_conn_key_updates_initiated(s->client);
    char extra[120];
    snprintf(extra, sizeof(extra), "%llu key updates by the client, at most %llu packets per key",
             (unsigned long long)ic, (unsigned long long)a.max_phase[0]);
    summarize(s, r, xfer, extra);
    SIM_CHECK(r, ic >= 10, "key updates started by the client: %llu", (unsigned long long)ic);
    SIM_CHECK(r, a.over == 0, "a phase reached its limit (%llu packets)",
              (unsigned long long)a.max_phase[0]);
    SIM_CHECK(r, tern_conn_state(s->client) == TERN_CS_ESTABLISHED, "client state %d",
              tern_conn_state(s->client));
}

const sim_scenario sim_migration_scenarios[] = {
    {"probe_then_switch", "migration", "probe cell while downloading on wifi, then switch", 51,
     scn_probe_then_switch},
    {"switch_without_probe", "migration", "switch to cell unprobed: validated while in use", 52,
     scn_switch_without_probe},
    {"first_challenge_lost", "migration", "the first PATH_CHALLENGE on cell is lost", 53,
     scn_first_challenge_lost},
    {"validation_timeout", "migration", "probe a dead cell: fails after 3 PTOs, wifi unharmed", 54,
     scn_validation_timeout},
    {"unvalidated_switch_fails", "migration",
     "switch to a dead cell: back to wifi (validation failed)", 55, scn_unvalidated_switch_fails},
    {"remove_active_path", "migration", "remove the active path: moves to the best validated one",
     56, scn_remove_active_path},
    {"remove_last_path", "migration", "remove the last usable path: TERN_ERR_LAST_PATH", 57,
     scn_remove_last_path},
    {"fifty_migrations", "migration", "50 migrations in one download, alternating interfaces", 58,
     scn_fifty_migrations},
    {"eight_paths", "migration", "7 paths probed at once beside the active one", 59,
     scn_eight_paths},
    {"migrate_in_loss_burst", "migration", "switch to cell during a Gilbert-Elliott loss burst", 60,
     scn_migrate_in_loss_burst},
    {"nat_rebind", "migration", "NAT rebinds the client's port mid-transfer", 41, scn_nat_rebind},
    {"nat_rebind_address", "migration", "NAT moves the client to a new public address mid-transfer",
     43, scn_nat_rebind_address},
    {"spoofed_source", "migration", "off-path attacker forwards a copy from its own address", 61,
     scn_spoofed_source},
    {"spoofed_flood", "migration", "nine spoofed addresses race the client's datagrams", 67,
     scn_spoofed_flood},
    {"preferred_address", "migration", "server's preferred address: the client moves there", 62,
     scn_preferred_address},
    {"peer_disables_migration", "migration", "server sends disable_active_migration", 63,
     scn_peer_disables_migration},
    {"no_spare_cid", "migration", "server issues one spare CID: the second path fails (no CID)", 64,
     scn_no_spare_cid},
    {"key_update_migration", "migration", "key updates from both sides during a migration", 65,
     scn_key_update_migration},
    {"wifi_dies", "migration", "wifi dies silently: the app's watchdog moves to cell", 66,
     scn_wifi_dies},
    {"migrate_wifi_to_cell", "migration", "client moves from wifi to cell, then wifi dies", 42,
     scn_migrate_wifi_to_cell},
    {"aead_limit_updates", "migration",
     "AEAD limits lowered: automatic key updates from both sides, 1% loss and a migration", 68,
     scn_aead_limit_updates},
    {"aead_limit_tight", "migration", "the same with limits of 100 and 200 packets", 68000205,
     scn_aead_limit_tight},
    {"aead_limit_full_queue", "migration",
     "a 100-packet limit while the acknowledgement of each update waits behind a full queue", 69,
     scn_aead_limit_full_queue},
};
