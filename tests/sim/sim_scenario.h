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

/* ---- path events ------------------------------------------------------------------------------
 * What the scenarios check of the path events in s->path_log, in the terms of the topology. */

/* Where a path goes. */
typedef struct sim_where {
    char iface[16]; /* the client interface it uses; "x" for an address off the client host */
    unsigned port;  /* the client's private port (behind its NAT) */
    int pref;       /* it leads to the server's preferred address */
} sim_where;

/* Fills `w` for path `pa` as side `who` sees it (a server sees the client's public address: the
 * NAT's mappings, current or former, tell which interface and port are behind it). */
void sim_path_where(const sim *s, int who, const tern_path_addr *pa, sim_where *w);

/* Formats one event as "active:app@cell:6000" (type:reason@iface:port, ">pref" appended for a path
 * to the preferred address). Type names: probing, validated, failed, active, removed, peer (peer
 * address changed), refused; reasons: none, app, timeout, socket_error, no_cid,
 * migration_disabled, validation_failed, active_removed, preferred_address, peer_migrated,
 * zero_len_cid, failover, degrading, interface_gone, address_gone, default_changed, migrated_back,
 * port_migration, keepalive_failed, new_network, limit, standby_unused (the order of
 * tern_path_reason). Returns what snprintf returns. */
int sim_path_ev_format(const sim *s, int who, const sim_path_ev *e, char *buf, size_t cap);

/* Every event of side `who`, formatted and separated by spaces ("(none)" when there is none). */
void sim_path_events_text(const sim *s, int who, char *buf, size_t cap);

/* Whether the events of side `who`, in order, match `pattern`: space-separated tokens
 * TYPE[:REASON][@IFACE[:PORT]][>pref], each matching one event, or "*" for any number of events;
 * a part left out matches anything, except that when a place is given ">pref" must be there
 * exactly when the path leads to the preferred address. "" matches no event at all. Returns 1 or
 * 0, and -1 when the pattern has more than 64 tokens or events were lost from the log. */
int sim_path_events_match(const sim *s, int who, const char *pattern);

/* The registry, in a fixed order: the scenarios of scenarios.c, then the migration, failover,
 * recovery, policy, ECN, datagram, version, ACK frequency and multipath suites. */
const sim_scenario *sim_scenarios(size_t *n);

/* The migration suite (scenarios_migration.c), a part of the registry. */
#define SIM_MIGRATION_SCENARIOS 23
extern const sim_scenario sim_migration_scenarios[SIM_MIGRATION_SCENARIOS];
/* Migration on the wire (scenarios_wire.c), in the migration group. */
#define SIM_MIGRATION_WIRE_SCENARIOS 2
extern const sim_scenario sim_migration_wire_scenarios[SIM_MIGRATION_WIRE_SCENARIOS];
/* The failover suite (scenarios_failover.c). */
#define SIM_FAILOVER_SCENARIOS 8
extern const sim_scenario sim_failover_scenarios[SIM_FAILOVER_SCENARIOS];
/* The recovery suite (scenarios_recovery.c), a part of the registry. */
#define SIM_RECOVERY_SCENARIOS 8
extern const sim_scenario sim_recovery_scenarios[SIM_RECOVERY_SCENARIOS];
/* The migration policy suite (scenarios_policy.c), a part of the registry. */
#define SIM_POLICY_SCENARIOS 17
extern const sim_scenario sim_policy_scenarios[SIM_POLICY_SCENARIOS];
/* The ECN suite (scenarios_ecn.c), a part of the registry. */
#define SIM_ECN_SCENARIOS 5
extern const sim_scenario sim_ecn_scenarios[SIM_ECN_SCENARIOS];
/* The datagram suite (scenarios_datagram.c), a part of the registry. */
#define SIM_DATAGRAM_SCENARIOS 2
extern const sim_scenario sim_datagram_scenarios[SIM_DATAGRAM_SCENARIOS];
/* The path MTU discovery suite (scenarios_pmtud.c). */
#define SIM_PMTUD_SCENARIOS 8
extern const sim_scenario sim_pmtud_scenarios[SIM_PMTUD_SCENARIOS];
/* The QUIC version suite (scenarios_versions.c), a part of the registry. */
#define SIM_VERSION_SCENARIOS 7
extern const sim_scenario sim_version_scenarios[SIM_VERSION_SCENARIOS];
/* The ACK frequency suite (scenarios_ackfreq.c). */
#define SIM_ACKFREQ_SCENARIOS 2
extern const sim_scenario sim_ackfreq_scenarios[SIM_ACKFREQ_SCENARIOS];
/* The multipath suite (scenarios_multipath.c). */
#define SIM_MULTIPATH_SCENARIOS 8
extern const sim_scenario sim_multipath_scenarios[SIM_MULTIPATH_SCENARIOS];
const sim_scenario *sim_scenario_find(const char *name);

/* Runs `sc` with `seed`. `timeline` (may be NULL) receives every event as it happens. When
 * `keep` is non-NULL the simulator is handed back (free it with sim_free) for inspection, else it
 * is freed. Returns r->ok. */
int sim_scenario_run(const sim_scenario *sc, uint64_t seed, FILE *timeline, sim_result *r,
                     sim **keep);
/* When set, called by sim_scenario_run on each new simulator before the scenario configures it
 * (tern-sim uses it to turn qlog on). */
extern void (*sim_scenario_prepare)(sim *s);

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
