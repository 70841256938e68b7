/* Shared pieces of the migration scenarios: see sim_mig.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migration.h"
#include "sim_mig.h"

double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

double msecs(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* ---- topology ----------------------------------------------------------------------------------
 */

/* wifi: a home network, 20 ms from the server, 50 Mbit/s, a queue of about one bandwidth-delay
 * product, behind a home NAT. cell: 80 ms away, 20 Mbit/s down and 5 up, behind a carrier NAT. */
void phone_net(sim *s, phone *ph)
{
    sim_link_cfg w = {.rate_bps = 50 * MBIT,
                      .delay_ns = 20 * SIM_MS,
                      .jitter_ns = 500 * SIM_US,
                      .queue_bytes = 256 * 1024};
    sim_link_cfg cu = {.rate_bps = 5 * MBIT,
                       .delay_ns = 80 * SIM_MS,
                       .jitter_ns = 2 * SIM_MS,
                       .queue_bytes = 64 * 1024};
    sim_link_cfg cd = {.rate_bps = 20 * MBIT,
                       .delay_ns = 80 * SIM_MS,
                       .jitter_ns = 2 * SIM_MS,
                       .queue_bytes = 256 * 1024};
    ph->wifi = sim_add_iface(s, "wifi", WIFI_ADDR, &w, NULL);
    ph->cell = sim_add_iface(s, "cell", CELL_ADDR, &cu, &cd);
    ph->wifi_nat = sim_nat_add(s, ph->wifi, "203.0.113.7:40000");
    ph->cell_nat = sim_nat_add(s, ph->cell, "198.51.100.9:50000");
    /* the idle timeout stays at its default: nothing here is about it */
}

uint16_t port_of(const tern_addr *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in.sin_port : a->u.in6.sin6_port);
}

/* Interface i's address with another port (0: its own). */
tern_addr iface_addr(const sim *s, int i, uint16_t port)
{
    tern_addr a = s->ifaces[i].addr;
    if (port)
        a.u.in.sin_port = htons(port);
    return a;
}

/* ---- path events -------------------------------------------------------------------------------
 */

void expect_events_at(sim *s, sim_result *r, int who, const char *pattern, const char *file,
                      int line)
{
    int m = sim_path_events_match(s, who, pattern);
    if (m == 1)
        return;
    char got[320];
    sim_path_events_text(s, who, got, sizeof(got));
    sim_note(s, "%s path events: %s", sim_host_name[who], got);
    sim_fail(r, file, line, "path events", "%s saw [%s], expected [%s]%s", sim_host_name[who], got,
             pattern, m < 0 ? " (pattern or log too long)" : "");
}

/* Events of side `who` of a type (0: any), a reason (-1: any) and on an interface (NULL: any). */
size_t count_events(const sim *s, int who, int type, int reason, const char *iface)
{
    size_t n = 0;
    for (size_t i = 0; i < s->npath_log[who]; i++) {
        const sim_path_ev *e = &s->path_log[who][i];
        sim_where w;
        sim_path_where(s, who, &e->addr, &w);
        n += (!type || e->type == type) && (reason < 0 || e->reason == reason) &&
             (!iface || strcmp(iface, w.iface) == 0);
    }
    return n;
}

/* The last event of a type reported by `who`, or NULL. */
const sim_path_ev *last_event(const sim *s, int who, int type)
{
    for (size_t i = s->npath_log[who]; i-- > 0;)
        if (s->path_log[who][i].type == type)
            return &s->path_log[who][i];
    return NULL;
}

/* ---- final state -------------------------------------------------------------------------------
 */

/* -1: no active path; else whether it is validated. */
int active_validated(tern_conn *c)
{
    tern_path_info info[TERN_MAX_PATHS];
    size_t n = 0;
    if (tern_conn_paths(c, info, TERN_MAX_PATHS, &n))
        return -1;
    for (size_t i = 0; i < n && i < TERN_MAX_PATHS; i++)
        if (info[i].state == TERN_PATH_STATE_ACTIVE)
            return info[i].validated;
    return -1;
}

/* The client's public address for its private address `local`: what its NAT maps it to now. */
int public_of(const sim *s, const tern_addr *local, tern_addr *pub)
{
    int i = sim_iface_by_ip(s, local);
    if (i < 0)
        return -1;
    if (!s->ifaces[i].nat) {
        *pub = *local;
        return 0;
    }
    return sim_nat_public(s->ifaces[i].nat, local, pub);
}

/* Every validation round trip either side reported is physically possible: no shorter than the
 * propagation delay of the interface it crossed. */
void expect_plausible_rtts(sim *s, sim_result *r)
{
    for (int who = 0; who < 2; who++)
        for (size_t i = 0; i < s->npath_log[who]; i++) {
            const sim_path_ev *e = &s->path_log[who][i];
            if (e->type != TERN_PATH_EV_VALIDATED)
                continue;
            const tern_addr *client = who == SIM_CLIENT ? &e->addr.local : &e->addr.remote;
            int f = who == SIM_CLIENT ? sim_iface_by_ip(s, client) : sim_iface_for_dst(s, client);
            if (f < 0)
                continue;
            uint64_t base =
                s->ifaces[f].link[SIM_UP]->cfg.delay_ns + s->ifaces[f].link[SIM_DOWN]->cfg.delay_ns;
            char t[96];
            sim_path_ev_format(s, who, e, t, sizeof(t));
            SIM_CHECK(r, e->rtt_ns >= base,
                      "%s reported %s at %.3f s with a round trip of %.1f ms; the path's "
                      "propagation delay alone is %.0f ms",
                      sim_host_name[who], t, secs(e->t), msecs(e->rtt_ns), msecs(base));
        }
}

/* At the end both sides use the same, validated path: the client from `local` to `server` (the
 * server's address or its preferred one), the server from `server` to the client's public address
 * for `local`. Every scenario ends with this check, which also checks the validation round trips
 * (expect_plausible_rtts). */
void expect_active(sim *s, sim_result *r, const tern_addr *local, const tern_addr *server)
{
    TRY(r, expect_plausible_rtts(s, r));
    char a[64], b[64], c[64], d[64];
    SIM_CHECK(r, s->client && !s->client_done, "the client connection ended: %s",
              s->client_done ? tern_strerror(s->client_close.status) : "never created");
    tern_conn *sc = sim_server_conn(s);
    SIM_CHECK(r, sc && !s->server_closed, "the server connection ended: %s",
              s->server_closed ? s->server_close.reason : "never accepted");
    tern_path_addr cp, sp;
    tern_conn_get_path(s->client, &cp);
    tern_conn_get_path(sc, &sp);
    SIM_CHECK(r, tern_addr_equal(&cp.local, local) && tern_addr_equal(&cp.remote, server),
              "client's active path %s > %s, expected %s > %s",
              tern_addr_format(&cp.local, a, sizeof(a)), tern_addr_format(&cp.remote, b, sizeof(b)),
              tern_addr_format(local, c, sizeof(c)), tern_addr_format(server, d, sizeof(d)));
    tern_addr pub;
    SIM_CHECK(r, public_of(s, local, &pub) == 0, "no NAT mapping for %s",
              tern_addr_format(local, a, sizeof(a)));
    SIM_CHECK(r, tern_addr_equal(&sp.remote, &pub) && tern_addr_equal(&sp.local, server),
              "server's active path %s > %s, expected %s > %s",
              tern_addr_format(&sp.local, a, sizeof(a)), tern_addr_format(&sp.remote, b, sizeof(b)),
              tern_addr_format(server, c, sizeof(c)), tern_addr_format(&pub, d, sizeof(d)));
    int cv = active_validated(s->client), sv = active_validated(sc);
    SIM_CHECK(r, cv == 1 && sv == 1, "active path validated: client %d, server %d", cv, sv);
}

/* ---- the download -------------------------------------------------------------------------------
 */

/* Connects and asks for `bytes` on one stream; the transfer then runs with the scenario's actions.
 */
void start_download(sim *s, sim_result *r, uint64_t bytes)
{
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 3 * SIM_SEC), "not connected after 3 s");
    SIM_CHECK(r, sim_request(s, bytes) == 0, "request refused");
}

/* Runs the download to its end (if it has not ended yet): every byte and the SHA-256 must match,
 * neither side may have closed, and it must have taken at most `bound` of virtual time from the
 * request to the last byte. */
void finish_download(sim *s, sim_result *r, uint64_t bound, uint64_t *xfer_ns)
{
    uint64_t opened = s->ncs ? s->cs[0].opened_at : sim_time(s);
    uint64_t deadline = opened + bound;
    int done = sim_cond_all_done(s);
    if (!done && sim_time(s) < deadline)
        done = sim_run(s, sim_cond_all_done, deadline - sim_time(s));
    char why[256];
    int ok = sim_verify(s, why, sizeof(why));
    uint64_t end = 0;
    for (int i = 0; i < s->ncs; i++)
        end = TERN_MAX(end, s->cs[i].fin ? s->cs[i].done_at : sim_time(s));
    *xfer_ns = end - opened;
    SIM_CHECK(r, done && !s->client_done && *xfer_ns <= bound,
              "download %s %.3f s after the request (bound %.3f s; %llu B received; client %s)",
              done ? "ended" : "unfinished", secs(*xfer_ns), secs(bound),
              (unsigned long long)sim_bytes_received(s),
              s->client_done ? tern_strerror(s->client_close.status) : "open");
    SIM_CHECK(r, ok, "%s", why);
    SIM_CHECK(r, !s->server_closed, "the server connection ended: %s", s->server_close.reason);
}

void summarize(sim *s, sim_result *r, uint64_t xfer_ns, const char *extra)
{
    tern_conn_stats ss;
    memset(&ss, 0, sizeof(ss));
    if (sim_server_conn(s))
        tern_conn_get_stats(sim_server_conn(s), &ss);
    uint64_t bytes = sim_bytes_received(s);
    snprintf(r->summary, sizeof(r->summary),
             "%llu B in %.3f s (%.1f Mbit/s), server lost %llu pkts, path events %zu/%zu%s%s",
             (unsigned long long)bytes, secs(xfer_ns),
             xfer_ns ? (double)bytes * 8 / secs(xfer_ns) / 1e6 : 0.0,
             (unsigned long long)ss.pkts_lost, s->npath_log[SIM_CLIENT], s->npath_log[SIM_SERVER],
             extra && extra[0] ? "; " : "", extra ? extra : "");
}

/* ---- actions ------------------------------------------------------------------------------------
 */

/* Records what a client verb returned, and when. */
void verb_done(sim *s, verb *v, int rv, const char *name)
{
    v->rv = rv;
    v->done = 1;
    v->at = sim_time(s);
    sim_note(s, "%s = %d", name, rv);
}

void act_add(sim *s, void *arg)
{
    verb *v = arg;
    verb_done(s, v, tern_conn_path_add(s->client, &v->addr, s->now), "path_add");
}

void act_set_active(sim *s, void *arg)
{
    verb *v = arg;
    verb_done(s, v, tern_conn_path_set_active(s->client, &v->addr, s->now), "path_set_active");
}

void act_remove(sim *s, void *arg)
{
    verb *v = arg;
    verb_done(s, v, tern_conn_path_remove(s->client, &v->addr, s->now), "path_remove");
}

int cond_client_validated(sim *s)
{
    return s->st.path_events[SIM_CLIENT][TERN_PATH_EV_VALIDATED] > 0;
}

int cond_client_failed(sim *s)
{
    return s->st.path_events[SIM_CLIENT][TERN_PATH_EV_FAILED] > 0;
}
/* ---- stall measurement --------------------------------------------------------------------------
 */

static void act_gap_watch(sim *s, void *arg)
{
    gap_watch *w = arg;
    uint64_t got = sim_bytes_received(s), now = sim_time(s);
    if (!w->armed || got > w->last_bytes) {
        if (w->armed && now - w->last_progress > w->max_gap) {
            w->max_gap = now - w->last_progress;
            w->gap_end = now;
        }
        w->armed = 1;
        w->last_bytes = got;
        w->last_progress = now;
    }
    if (!sim_cond_all_done(s))
        sim_after(s, 1 * SIM_MS, act_gap_watch, w, NULL);
}

void watch_gaps_from(sim *s, gap_watch *w, uint64_t at)
{
    memset(w, 0, sizeof(*w));
    w->from = at;
    sim_at(s, at, act_gap_watch, w, NULL);
}

uint64_t gap_of(sim *s, const gap_watch *w)
{
    uint64_t open = sim_cond_all_done(s) ? 0 : sim_time(s) - w->last_progress;
    return TERN_MAX(w->max_gap, open);
}
