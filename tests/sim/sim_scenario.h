/* Named simulation scenarios: each builds a topology, drives the client and server cores, and
 * checks its assertions (delivered bytes and SHA-256, a bound on virtual completion time, and its
 * own specifics). The ctest suites (tests/sim/test_*.c) and the tern-sim command run them from this
 * one registry, so that a failing seed in CI is reproduced by `tern-sim NAME --seed N`. */
#ifndef TERN_SIM_SCENARIO_H
#define TERN_SIM_SCENARIO_H

#include "sim.h"

typedef struct sim_result {
    int ok;
    char why[512];     /* the first failed check (file:line: condition: detail) */
    char summary[256]; /* figures of the run */
    uint64_t vtime_ns; /* virtual time at the end */
    uint64_t digest;   /* timeline digest (equal runs have equal digests) */
    uint64_t events;   /* timeline events */
} sim_result;

typedef struct sim_scenario {
    const char *name;
    const char *group; /* test suite that runs it: handshake, transfer, failure, migration */
    const char *summary;
    uint64_t seed; /* the first seed CI uses */
    void (*run)(sim *s, sim_result *r);
    unsigned ci_seeds; /* seeds CI runs (0 = 1): seed, then the next soak seeds */
} sim_scenario;

/* Records a failed check (the first one wins). */
void sim_fail(sim_result *r, const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* In a scenario: stop it with a failure when `cond` is false. */
#define SIM_CHECK(r, cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            sim_fail((r), __FILE__, __LINE__, #cond, __VA_ARGS__);                                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* The registry, in a fixed order. */
const sim_scenario *sim_scenarios(size_t *n);
const sim_scenario *sim_scenario_find(const char *name);

/* Runs `sc` with `seed`. `timeline` (may be NULL) receives every event as it happens. When
 * `keep` is non-NULL the simulator is handed back (free it with sim_free) for inspection, else it
 * is freed. Returns r->ok. */
int sim_scenario_run(const sim_scenario *sc, uint64_t seed, FILE *timeline, sim_result *r,
                     sim **keep);

/* Prints a failure: the reason, a one-line reproduction command and the last `tail` events. */
void sim_scenario_report(FILE *f, const sim_scenario *sc, uint64_t seed, const sim_result *r,
                         const sim *s, size_t tail);

/* Runs `sc` with its CI seeds (ci_seeds of them), or, when the environment variable
 * TERN_SIM_SEEDS=N asks for more, with N seeds (a soak). Prints a line for the first seed and a
 * report per failure. Returns the number of failed runs. */
int sim_scenario_soak(const sim_scenario *sc);

/* The seed of soak run k of a scenario whose fixed seed is `base` (k = 0: base itself). */
uint64_t sim_soak_seed(uint64_t base, unsigned k);

#endif
