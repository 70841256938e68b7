/* Running named scenarios, reporting failures with a reproduction line, and seed soaks (see
 * sim_scenario.h). The scenarios themselves are in scenarios.c. */
#include "sim_scenario.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
