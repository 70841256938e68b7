/* Running named scenarios, reporting failures with a reproduction line, and seed soaks (see
 * sim_scenario.h). The scenarios themselves are in scenarios.c. */
#include "sim_scenario.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qlog.h"
#include "sim_node.h"

void sim_fail(sim_result *r, const char *file, int line, const char *cond, const char *fmt, ...)
{
    if (!r->ok)
        return;
    r->ok = 0;
    const char *base = strrchr(file, '/');
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(r->why, sizeof(r->why), "%s:%d: %s%s%s", base ? base + 1 : file, line, cond,
             detail[0] ? ": " : "", detail);
}

const sim_scenario *sim_scenario_find(const char *name)
{
    size_t n;
    const sim_scenario *all = sim_scenarios(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, name) == 0)
            return &all[i];
    return NULL;
}

void (*sim_scenario_prepare)(sim *s);

int sim_scenario_run(const sim_scenario *sc, uint64_t seed, FILE *timeline, sim_result *r,
                     sim **keep)
{
    memset(r, 0, sizeof(*r));
    r->ok = 1;
    if (keep)
        *keep = NULL;
    sim *s = sim_new(seed);
    if (!s) {
        snprintf(r->why, sizeof(r->why), "the simulator could not be created");
        r->ok = 0;
        return 0;
    }
    s->tl.out = timeline;
    if (sim_scenario_prepare)
        sim_scenario_prepare(s);
    sc->run(s, r);
    if (s->stuck) {
        /* the check that failed afterwards is a consequence: lead with the cause */
        char then[sizeof(r->why)];
        snprintf(then, sizeof(then), "%s", r->ok ? "" : r->why);
        r->ok = 1;
        sim_fail(r, __FILE__, __LINE__, "!s->stuck", "%s%s%s", s->stuck_why,
                 then[0] ? "; then " : "", then);
    }
    r->vtime_ns = sim_time(s);
    r->digest = s->tl.digest;
    r->events = s->tl.total;
    if (keep)
        *keep = s;
    else
        sim_free(s);
    return r->ok;
}

void sim_scenario_report(FILE *f, const sim_scenario *sc, uint64_t seed, const sim_result *r,
                         const sim *s, size_t tail)
{
    fprintf(f, "FAIL %s seed %llu at t=%.6f s: %s\n", sc->name, (unsigned long long)seed,
            (double)r->vtime_ns / 1e9, r->why);
    if (r->summary[0])
        fprintf(f, "  %s\n", r->summary);
    fprintf(f, "  reproduce: tern-sim %s --seed %llu --timeline\n", sc->name,
            (unsigned long long)seed);
    if (s && tail) {
        fprintf(f, "  last %zu of %llu events:\n", tail < s->tl.total ? tail : (size_t)s->tl.total,
                (unsigned long long)s->tl.total);
        sim_tl_print_tail(&s->tl, f, tail);
    }
}

uint64_t sim_soak_seed(uint64_t base, unsigned k)
{
    /* spread the soak seeds so that scenarios do not share runs of neighbouring seeds */
    return k == 0 ? base : base * 1000003ull + k;
}

int sim_scenario_soak(const sim_scenario *sc)
{
    unsigned seeds = sc->ci_seeds ? sc->ci_seeds : 1;
    const char *env = getenv("TERN_SIM_SEEDS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v > (long)seeds && v < 100000000)
            seeds = (unsigned)v;
    }
    int failed = 0;
    for (unsigned k = 0; k < seeds; k++) {
        uint64_t seed = sim_soak_seed(sc->seed, k);
        sim_result r;
        sim *s = NULL;
        int ok = sim_scenario_run(sc, seed, NULL, &r, &s);
        if (ok && k == 0)
            printf("ok   %-24s seed %-6llu %s\n", sc->name, (unsigned long long)seed, r.summary);
        if (!ok) {
            failed++;
            sim_scenario_report(stdout, sc, seed, &r, s, 40);
        }
        sim_free(s);
        fflush(stdout);
    }
    if (seeds > 1)
        printf("%s: %u seeds from %llu, %d failed\n", sc->name, seeds, (unsigned long long)sc->seed,
               failed);
    return failed;
}

/* ---- path events -------------------------------------------------------------------------------
 */

static const char *const ev_names[] = {"?",      "probing", "validated", "failed",
                                       "active", "removed", "peer",      "refused"};
static const char *ev_name(int t)
{
    return t > 0 && t < (int)TERN_ARRAY_LEN(ev_names) ? ev_names[t] : "?";
}

static const char *why_name(int w)
{
    return tern_qlog_reason_name((tern_path_reason)w);
}

static unsigned port_of(const tern_addr *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET6 ? a->u.in6.sin6_port : a->u.in.sin_port);
}

void sim_path_where(const sim *s, int who, const tern_path_addr *pa, sim_where *w)
{
    tern_addr client = who == SIM_CLIENT ? pa->local : pa->remote;
    const tern_addr *server = who == SIM_CLIENT ? &pa->remote : &pa->local;
    int i = who == SIM_CLIENT ? sim_iface_by_ip(s, &client) : sim_iface_for_dst(s, &client);
    if (i >= 0 && who == SIM_SERVER && s->ifaces[i].nat &&
        sim_nat_private(s->ifaces[i].nat, &pa->remote, &client))
        i = -1; /* a public address the NAT never handed out */
    snprintf(w->iface, sizeof(w->iface), "%s", i >= 0 ? s->ifaces[i].name : "x");
    w->port = port_of(&client);
    w->pref =
        s->cfg_s.preferred_address.len && tern_addr_equal(server, &s->cfg_s.preferred_address);
}

int sim_path_ev_format(const sim *s, int who, const sim_path_ev *e, char *buf, size_t cap)
{
    sim_where w;
    sim_path_where(s, who, &e->addr, &w);
    return snprintf(buf, cap, "%s:%s@%s:%u%s", ev_name(e->type), why_name(e->reason), w.iface,
                    w.port, w.pref ? ">pref" : "");
}

void sim_path_events_text(const sim *s, int who, char *buf, size_t cap)
{
    size_t off = 0;
    if (!cap)
        return;
    buf[0] = 0;
    if (s->npath_log[who] == 0) {
        snprintf(buf, cap, "(none)");
        return;
    }
    for (size_t i = 0; i < s->npath_log[who] && off + 1 < cap; i++) {
        char one[96];
        sim_path_ev_format(s, who, &s->path_log[who][i], one, sizeof(one));
        int n = snprintf(buf + off, cap - off, "%s%s", i ? " " : "", one);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static int tok_match(const sim *s, int who, const char *tok, size_t len, const sim_path_ev *e)
{
    char t[96];
    if (len >= sizeof(t))
        return 0;
    memcpy(t, tok, len);
    t[len] = 0;
    char *at = strchr(t, '@');
    if (at)
        *at++ = 0;
    char *why = strchr(t, ':');
    if (why)
        *why++ = 0;
    if (strcmp(t, ev_name(e->type)) != 0)
        return 0;
    if (why && strcmp(why, why_name(e->reason)) != 0)
        return 0;
    if (!at)
        return 1;
    sim_where w;
    sim_path_where(s, who, &e->addr, &w);
    char *pref = strstr(at, ">pref");
    if (pref)
        *pref = 0;
    if (!pref != !w.pref)
        return 0;
    char *port = strchr(at, ':');
    if (port)
        *port++ = 0;
    if (strcmp(at, w.iface) != 0)
        return 0;
    return !port || (unsigned)strtoul(port, NULL, 10) == w.port;
}

typedef struct span {
    const char *p;
    size_t n;
} span;

static int seq_match(const sim *s, int who, const span *tok, size_t nt, const sim_path_ev *ev,
                     size_t ne)
{
    if (nt == 0)
        return ne == 0;
    if (tok[0].n == 1 && tok[0].p[0] == '*') {
        /* consecutive stars are one: keeps the search linear in the events per star */
        while (nt > 1 && tok[1].n == 1 && tok[1].p[0] == '*') {
            tok++;
            nt--;
        }
        for (size_t k = 0; k <= ne; k++)
            if (seq_match(s, who, tok + 1, nt - 1, ev + k, ne - k))
                return 1;
        return 0;
    }
    return ne > 0 && tok_match(s, who, tok[0].p, tok[0].n, &ev[0]) &&
           seq_match(s, who, tok + 1, nt - 1, ev + 1, ne - 1);
}

int sim_path_events_match(const sim *s, int who, const char *pattern)
{
    span tok[64];
    size_t nt = 0;
    for (const char *p = pattern; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        if (nt == TERN_ARRAY_LEN(tok))
            return -1;
        tok[nt++] = (span){p, (size_t)(q - p)};
        p = q;
    }
    if (s->path_log_lost[who])
        return -1;
    static const sim_path_ev none[1];
    const sim_path_ev *ev = s->path_log[who] ? s->path_log[who] : none; /* no NULL arithmetic */
    return seq_match(s, who, tok, nt, ev, s->npath_log[who]);
}
